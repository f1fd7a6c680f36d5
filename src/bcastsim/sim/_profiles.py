"""The client side the simulator needs: what a :mod:`bcastsim.client` profile does after a failure.

The simulator moves groups of identical clients, not sockets and channels, so it reads only a
profile's reconnect policies and claims; the profiles themselves come from ``bcastsim.client.PROFILES``.
"""

from __future__ import annotations

import random

import attrs

from bcastsim._errors import InputError
from bcastsim.check.history import Anomaly
from bcastsim.client import PROFILES, BackoffPolicy, Profile
from bcastsim.sim._scenario import _suggest

__all__ = ["ClientBehaviour", "behaviour", "profile_names"]


@attrs.frozen
class ClientBehaviour:
    """What a profile does after a socket drop or a server-closed channel."""

    name: str
    socket_backoff: BackoffPolicy
    close_backoff: BackoffPolicy  # the manager's own reconnect, which is what recreates a CLOSED channel
    rejoin_backoff: BackoffPolicy  # Phoenix's channel rejoin timer: retries a join the server rejected
    rejoins_after_error: bool
    rejoins_after_close: bool
    refetches_after_gap: bool
    allowed_anomalies: frozenset[Anomaly]
    page_cleans_up: bool = True  # False: a re-run subscription effect adds listeners to live channels
    # False: realtime-js hands the callbacks its envelope {type, event, payload, meta} and they read
    # payload.art_id / payload.type off it, so a broadcast reaches the socket and changes nothing on the page.
    page_reads_broadcast: bool = True

    @classmethod
    def from_profile(cls, profile: Profile) -> ClientBehaviour:
        return cls(
            name=profile.name,
            socket_backoff=profile.socket_backoff,
            close_backoff=profile.backoff,
            rejoin_backoff=profile.rejoin_backoff,
            rejoins_after_error=profile.rejoins_after_error,
            rejoins_after_close=profile.rejoins_after_close,
            refetches_after_gap=profile.refetches_after_gap,
            allowed_anomalies=profile.allowed_anomalies,
            page_cleans_up=profile.page_cleans_up,
            page_reads_broadcast=profile.listener_receives == "payload" or profile.page_unwraps_envelope,
        )

    def describe(self) -> str:
        return ", ".join(
            (
                f"socket backoff {self.socket_backoff.name}" + (" (jittered)" if self.jittered else ""),
                "rejoins after CLOSED" if self.rejoins_after_close else "never rejoins after CLOSED",
                "refetches after a gap" if self.refetches_after_gap else "no refetch after a gap",
                "page reads broadcast payloads"
                if self.page_reads_broadcast
                else "page reads the envelope, not .payload",
            )
        )

    @property
    def jittered(self) -> bool:
        """True when two clients of this profile would wait different times (so groups must split)."""
        first = self.socket_backoff.delay_ms(1, random.Random(1))
        return first != self.socket_backoff.delay_ms(1, random.Random(2))


def profile_names() -> tuple[str, ...]:
    return tuple(sorted(PROFILES))


def behaviour(name: str) -> ClientBehaviour:
    if name not in PROFILES:
        raise InputError(f'unknown client profile "{name}"', fix=_suggest(name, sorted(PROFILES)))
    return ClientBehaviour.from_profile(PROFILES[name])
