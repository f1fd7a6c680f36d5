"""A Hypothesis state machine for testing a subscriber manager against the transport model.

Subclass :class:`SubscriberManagerMachine`, point ``manager_factory`` at your
manager (anything with ``subscribe(name, event, listener, restricted=)``,
``unsubscribe(handle)``, ``unsubscribe_all()`` and ``stats()``; its constructor
receives ``(socket, clock, backoff, rng, on_resync)``) or ``profile_name`` at a
built-in profile, and collect ``YourMachine.TestCase`` with pytest::

    class MyManagerMachine(SubscriberManagerMachine):
        manager_factory = MyManager

    TestMyManager = MyManagerMachine.TestCase

The machine subscribes and unsubscribes listeners, sends broadcasts, and breaks
channels and the socket. It checks that a listener only ever receives events it
asked for, never the same message twice, that every subscribed listener receives
what is sent while nothing has failed, that ``stats()`` counts the listeners it
holds, and that after any fault and enough time listeners receive again.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bcastsim.client import PROFILES
from bcastsim.client._managers import ManagerFactory
from bcastsim.client._ops import (
    Advance,
    Broadcast,
    ChannelClose,
    ChannelError,
    OpRunner,
    SocketDrop,
    Subscribe,
    Unsubscribe,
)

__all__ = ["SubscriberManagerMachine"]

_CHANNELS = st.sampled_from(["room:a", "room:b"])
_EVENTS = st.sampled_from(["bid_update", "winner_update"])
_FILTERS = st.sampled_from(["bid_update", "winner_update", "*"])
_LISTENERS = st.integers(1, 3)


def _matches(filter_event: str, event: str) -> bool:
    return filter_event == "*" or filter_event.lower() == event.lower()


class SubscriberManagerMachine(RuleBasedStateMachine):
    """Base machine; subclasses choose the manager under test."""

    profile_name: ClassVar[str] = "recommended"
    manager_factory: ClassVar[ManagerFactory | None] = None
    recovery_ms: ClassVar[int] = 120_000

    def __init__(self) -> None:
        super().__init__()
        profile = PROFILES[self.profile_name]
        factory = type(self).manager_factory
        if factory is not None:
            profile = attrs.evolve(profile, manager=factory, manager_name=getattr(factory, "__name__", "custom"))
        self.runner = OpRunner(profile)
        self.active: dict[int, list[tuple[str, str]]] = {}
        self.faulted = False

    def _apply(self, op: Any) -> list[tuple[int, Any]]:
        before = len(self.runner.deliveries)
        self.runner.apply(op)
        got = [(listener, value) for _, listener, value in self.runner.deliveries[before:]]
        if isinstance(op, Broadcast):
            for listener in {listener for listener, _ in got}:
                times = sum(1 for other, _ in got if other == listener)
                asked = sum(1 for c, e in self.active.get(listener, []) if c == op.channel and _matches(e, op.event))
                assert times <= max(asked, 1), (
                    f"listener {listener} received one {op.event!r} message {times} times "
                    f"with {asked} matching subscriptions"
                )
        return got

    @staticmethod
    def _event_of(value: Any) -> str:
        if isinstance(value, dict) and value.get("type") == "broadcast":
            return str(value.get("event"))
        return str(value.get("type")) if isinstance(value, dict) else ""

    @rule(channel=_CHANNELS, event=_FILTERS, listener=_LISTENERS)
    def subscribe(self, channel: str, event: str, listener: int) -> None:
        self._apply(Subscribe(channel, event, listener))
        self.active.setdefault(listener, []).append((channel, event))

    @precondition(lambda self: any(self.active.values()))
    @rule(listener=_LISTENERS)
    def unsubscribe(self, listener: int) -> None:
        if self.active.get(listener):
            self._apply(Unsubscribe(listener))
            self.active[listener].pop()

    @rule(channel=_CHANNELS, event=_EVENTS)
    def broadcast(self, channel: str, event: str) -> None:
        got = self._apply(Broadcast(channel, event))
        receivers = {listener for listener, _ in got}
        for listener, value in got:
            wanted = self.active.get(listener, [])
            assert any(c == channel and _matches(e, self._event_of(value)) for c, e in wanted), (
                f"listener {listener} received {event!r} on {channel} but asked for {wanted}"
            )
        if not self.faulted:
            for listener, wanted in sorted(self.active.items()):
                if any(c == channel and _matches(e, event) for c, e in wanted):
                    assert listener in receivers, f"listener {listener} ({wanted}) missed {event!r} on {channel}"

    @rule(channel=_CHANNELS)
    def channel_error(self, channel: str) -> None:
        self._apply(ChannelError(channel))
        self.faulted = True

    @rule(channel=_CHANNELS)
    def channel_close(self, channel: str) -> None:
        self._apply(ChannelClose(channel))
        self.faulted = True

    @rule()
    def socket_drop(self) -> None:
        self._apply(SocketDrop())
        self.faulted = True

    @precondition(lambda self: self.faulted)
    @rule()
    def recover(self) -> None:
        """After enough quiet time every subscribed listener receives again."""
        self._apply(Advance(self.recovery_ms))
        for channel in ("room:a", "room:b"):
            for event in ("bid_update", "winner_update"):
                got = {listener for listener, _ in self._apply(Broadcast(channel, event))}
                for listener, wanted in sorted(self.active.items()):
                    if any(c == channel and _matches(e, event) for c, e in wanted):
                        assert listener in got, (
                            f"listener {listener} ({wanted}) receives nothing on {channel} "
                            f"{self.recovery_ms} ms after a fault"
                        )

    @invariant()
    def stats_count_listeners(self) -> None:
        _, listeners = self.runner.manager.stats()
        expected = sum(len(v) for v in self.active.values())
        assert listeners == expected, f"stats() reports {listeners} listeners, {expected} are subscribed"
