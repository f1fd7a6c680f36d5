"""realtime-js as it behaves around a connection, read from ``[timings.realtime_js]`` in ``models/profiles.toml``.

One source for the simulator and the phoenix port (which the client checks run on): heartbeat
detection, the close wait before the first reconnect, hidden tabs, the idle-socket disconnect,
one channel per topic, joins sent twice after a subscribe during a drop, and the reconnect and
rejoin backoff tables (by name, from the same file's ``[backoff.*]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from bcastsim._errors import InputError
from bcastsim._resources import builtin_models_dir
from bcastsim._toml import line_of, read_toml

if TYPE_CHECKING:
    from bcastsim.client._backoff import BackoffPolicy

__all__ = ["RealtimeJs", "load_realtime_js"]

# phoenix's socket.js waitForSocketClosed polls close_poll_ms × 1, 2, 3, 4 before giving up.
_CLOSE_POLLS = 1 + 2 + 3 + 4


@attrs.frozen
class RealtimeJs:
    heartbeat_ms: float
    push_timeout_ms: float
    close_poll_ms: float
    reconnect: BackoffPolicy
    rejoin: BackoffPolicy
    hidden_tabs_wait_until_visible: bool
    one_channel_per_topic: bool
    joins_during_drop_sent_twice: bool
    source: str = ""

    @property
    def empty_disconnect_ms(self) -> float:
        """The socket disconnects two heartbeats after its last channel is removed."""
        return 2 * self.heartbeat_ms

    @property
    def close_wait_ms(self) -> float:
        """The longest wait for a dead socket to close before the first reconnect is scheduled."""
        return self.close_poll_ms * _CLOSE_POLLS

    def detection_ms(self, connected_since_ms: float, start_ms: float, end_ms: float, rtt_ms: float) -> float | None:
        """When a connection cut off during ``[start_ms, end_ms)`` is declared dead, or None if it never is.

        The first heartbeat goes out one interval after the socket opens and every later one an interval
        after the previous reply (so every interval plus a round trip); the first beat sent inside the
        outage gets no reply, and the connection is declared dead one interval after that beat.
        """
        period = self.heartbeat_ms + rtt_ms
        first = connected_since_ms + self.heartbeat_ms
        beats = max(0.0, -(-(start_ms - first) // period))
        beat = first + beats * period
        if beat < start_ms:  # pragma: no cover - float rounding at the boundary
            beat += period
        if beat >= end_ms:
            return None
        return beat + self.heartbeat_ms


_NUMBERS = ("heartbeat_ms", "push_timeout_ms", "close_poll_ms")
_FLAGS = ("hidden_tabs_wait_until_visible", "one_channel_per_topic", "joins_during_drop_sent_twice")


def load_realtime_js(path: Path | None = None, name: str = "realtime_js") -> RealtimeJs:
    """``[timings.<name>]`` of ``models/profiles.toml`` (or ``path``) with its backoff tables; every key is required."""
    from bcastsim.client._backoff import policy_from_table  # the client package imports this module

    path = path or builtin_models_dir() / "profiles.toml"
    text, data = read_toml(path, "profiles")
    header = f"timings.{name}"
    table = data.get("timings", {}).get(name)
    if not isinstance(table, dict):
        raise InputError(f"no [{header}] table", path=path, fix=f"add [{header}] with heartbeat_ms = 25000")
    values: dict[str, Any] = {}
    for key in _NUMBERS:
        value = table.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise InputError(f"[{header}] {key} must be a positive number of milliseconds", path=path,
                             line=line_of(text, header, key), fix=f"{key} = 1000")  # fmt: skip
        values[key] = float(value)
    for key in _FLAGS:
        if not isinstance(table.get(key), bool):
            raise InputError(f"[{header}] {key} must be true or false", path=path,
                             line=line_of(text, header, key), fix=f"{key} = true")  # fmt: skip
        values[key] = table[key]
    backoff = data.get("backoff", {})
    for key in ("reconnect", "rejoin"):
        policy = table.get(key)
        if policy not in backoff:
            raise InputError(f"[{header}] {key}: unknown backoff {policy!r}", path=path,
                             line=line_of(text, header, key), fix=f"one of {', '.join(sorted(backoff))}")  # fmt: skip
        values[key] = policy_from_table(str(policy), backoff[str(policy)])
    return RealtimeJs(**values, source=str(path))
