"""Client operation sequences and a runner that applies them to one profile's manager.

The same operations drive the property suites, the stateful base class and the
node conformance test (where the seed's own JavaScript runs them), so every
observation here is JSON-shaped: listener counts, the manager's own timer delays, deliveries.
The client is the port of realtime-js (``client/_phoenix.py``); frames travel as 0 ms timers,
so every operation is followed by the 0 ms they take, as the node harnesses do.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Any

import attrs

from bcastsim._plans import UNLIMITED, PlanLimits
from bcastsim._realtime_js import RealtimeJs
from bcastsim.client._clock import VirtualClock
from bcastsim.client._managers import SubscriberManager
from bcastsim.client._phoenix import REALTIME_JS, PhoenixClient, PhoenixServer
from bcastsim.client._profiles import Profile

__all__ = [
    "Advance",
    "Broadcast",
    "ChannelClose",
    "ChannelError",
    "ClientOp",
    "Observation",
    "OpRunner",
    "SocketDrop",
    "Subscribe",
    "System",
    "Unsubscribe",
    "UnsubscribeAll",
    "op_to_json",
    "profile_timings",
]


@attrs.frozen
class Subscribe:
    channel: str
    event: str
    listener: int


@attrs.frozen
class Unsubscribe:
    listener: int


@attrs.frozen
class UnsubscribeAll:
    pass


@attrs.frozen
class Broadcast:
    """A database broadcast; without a payload, ``{"type": event, "seq": n}`` (its identity)."""

    channel: str
    event: str
    payload: Any = None


@attrs.frozen
class System:
    """A ``system`` message; realtime-js only ever carries ``ok``/``error`` (other statuses are counterfactual)."""

    channel: str
    status: str


@attrs.frozen
class ChannelError:
    channel: str


@attrs.frozen
class ChannelClose:
    channel: str


@attrs.frozen
class SocketDrop:
    pass


@attrs.frozen
class Advance:
    ms: int


ClientOp = (
    Subscribe | Unsubscribe | UnsubscribeAll | Broadcast | System | ChannelError | ChannelClose | SocketDrop | Advance
)


def op_to_json(op: ClientOp) -> dict[str, Any]:
    return {"op": type(op).__name__, **attrs.asdict(op)}


def describe_ops(ops: Sequence[object]) -> str:
    return "[" + ", ".join(repr(op) for op in ops) + "]"


@attrs.frozen
class Observation:
    """What one operation changed: ``getStats``, deliveries ``(listener, value)``, the manager's own timers
    ``("app", delay)`` (realtime-js's own timers are the port's, compared with the library elsewhere)."""

    stats: tuple[int, int]
    deliveries: tuple[tuple[int, str], ...]
    timers: tuple[tuple[str, float], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "stats": list(self.stats),
            "deliveries": [[listener, json.loads(value)] for listener, value in self.deliveries],
            "timers": [[label, delay] for label, delay in self.timers],
        }


class OpRunner:
    """One client with one manager of ``profile`` on a server of its own."""

    def __init__(self, profile: Profile, *, plan: PlanLimits | None = None, seed: int = 0) -> None:
        self.profile = profile
        self.clock = VirtualClock()
        self.server = PhoenixServer(self.clock, plan or UNLIMITED)
        self.rng = random.Random(seed)
        self.socket: PhoenixClient = PhoenixClient(
            self.server, profile_timings(profile), user="client", rng=random.Random(seed + 1)
        )
        self.resyncs: list[tuple[float, str]] = []
        self.manager: SubscriberManager = profile.manager(
            self.socket, self.clock, profile.backoff, self.rng, self._resync
        )
        self.handles: dict[int, list[object]] = {}
        self.subscriptions: dict[int, tuple[str, str]] = {}
        self._listeners: dict[int, Any] = {}
        self._pending: list[tuple[int, str]] = []
        self.deliveries: list[tuple[float, int, Any]] = []
        self.sent: list[tuple[int, str, str]] = []

    def _resync(self, name: str) -> None:
        self.resyncs.append((self.clock.now_ms, name))

    def _listener(self, listener: int) -> Any:
        # One function object per listener id, as in the JS harness: subscribing it twice passes the same function.
        if listener not in self._listeners:

            def record(value: Any) -> None:
                self._pending.append((listener, json.dumps(value, sort_keys=True)))
                self.deliveries.append((self.clock.now_ms, listener, value))

            self._listeners[listener] = record
        return self._listeners[listener]

    def apply(self, op: ClientOp) -> Observation:
        self._pending = []
        timers_before = len(self.clock.scheduled)
        match op:
            case Subscribe(channel, event, listener):
                handle = self.manager.subscribe(channel, event, self._listener(listener))
                self.handles.setdefault(listener, []).append(handle)
                self.subscriptions[listener] = (channel, event)
            case Unsubscribe(listener):
                handles = self.handles.get(listener)
                if handles:
                    self.manager.unsubscribe(handles.pop())
            case UnsubscribeAll():
                self.manager.unsubscribe_all()
                self.handles.clear()
            case Broadcast(channel, event, payload):
                body = payload if payload is not None else {"type": event, "seq": self.server.next_id}
                message_id = self.server.broadcast(channel, event, False, body)
                if message_id is not None:
                    self.sent.append((message_id, channel, event))
            case System(channel, status):
                self.server.system(channel, status)
            case ChannelError(channel):
                self.server.channel_error(channel)
            case ChannelClose(channel):
                self.server.channel_close(channel)
            case SocketDrop():
                self.server.drop()
        self.clock.advance(op.ms if isinstance(op, Advance) else 0)
        timers = tuple((t.label, t.delay_ms) for t in self.clock.scheduled[timers_before:] if t.label == "app")
        return Observation(self.manager.stats(), tuple(self._pending), timers)

    def run(self, ops: Sequence[ClientOp]) -> list[Observation]:
        return [self.apply(op) for op in ops]


def profile_timings(profile: Profile, timings: RealtimeJs = REALTIME_JS) -> RealtimeJs:
    """realtime-js's timings with the profile's socket reconnect and channel rejoin policies."""
    return attrs.evolve(timings, reconnect=profile.socket_backoff, rejoin=profile.rejoin_backoff)
