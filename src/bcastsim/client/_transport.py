"""Supabase Realtime broadcast as the client sees it: server, socket, channels.

The server fans a message out to the channels joined on its topic at that moment
(at most once: nothing is buffered for a client that is away), authorizes private
channels at join time (cached for the connection) and enforces the plan limits in
``models/plans.toml``. The socket and channel objects follow realtime-js: statuses
``SUBSCRIBED``/``TIMED_OUT``/``CLOSED``/``CHANNEL_ERROR``, rejoin and reconnect
timers from the backoff policies, the ``{type, event, payload, meta: {id}}``
envelope, and removal of a channel after ``CLOSED``.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from bcastsim._plans import PlanLimits
from bcastsim._realtime_js import load_realtime_js
from bcastsim.check.history import ClientTrace, DeliveryHistory, Interval, Sent
from bcastsim.client._backoff import BackoffPolicy
from bcastsim.client._clock import VirtualClock

__all__ = ["Channel", "RealtimeServer", "RealtimeSocket"]

Callback = Callable[[Any], None]

_REALTIME_JS = load_realtime_js()  # [timings.realtime_js] in models/profiles.toml, shared with the simulator
REALTIME_JS_SOCKET = _REALTIME_JS.reconnect
REALTIME_JS_REJOIN = _REALTIME_JS.rejoin
PUSH_TIMEOUT_MS = _REALTIME_JS.push_timeout_ms
EMPTY_DISCONNECT_MS = _REALTIME_JS.empty_disconnect_ms


def event_matches(binding_event: str, event: str) -> bool:
    """realtime-js matches a broadcast binding on ``'*'`` or the event name, ignoring case."""
    return binding_event == "*" or binding_event.lower() == event.lower()


@attrs.define(eq=False)
class _Binding:
    type: str
    event: str
    callback: Callback


@attrs.define(eq=False)
class Channel:
    """A realtime-js ``RealtimeChannel``: joins ``realtime:<name>``, public unless ``private``."""

    socket: RealtimeSocket
    name: str
    private: bool
    bindings: list[_Binding] = attrs.field(factory=list)
    state: str = "closed"  # closed | joining | joined | errored | leaving
    status_callback: Callable[[str], None] | None = None
    rejoin_tries: int = 0
    _rejoin_timer: Any = None
    _subscribed_since: float | None = None

    @property
    def topic(self) -> str:
        return f"realtime:{self.name}"

    def on(self, type_: str, event: str, callback: Callback) -> Channel:
        self.bindings.append(_Binding(type_, event, callback))
        return self

    def subscribe(self, callback: Callable[[str], None] | None = None) -> Channel:
        if self.state != "closed":
            return self  # realtime-js: a second subscribe() on a live channel does nothing
        self.socket.opened = True
        self.status_callback = callback
        self.state = "joining"
        if self.socket.connected:
            self._join()
        return self

    def unsubscribe(self) -> None:
        if self._rejoin_timer is not None:
            self._rejoin_timer.cancel()
        if self.state in ("joined", "joining", "errored"):
            self.state = "leaving"
            self._end_subscription()
            self.state = "closed"
            self._status("CLOSED")
        self.state = "closed"

    # --- driven by the socket and the server ---------------------------------------------

    def _status(self, status: str) -> None:
        self.socket.statuses.append((self.socket.clock.now_ms, self.name, status))
        if self.status_callback is not None:
            self.status_callback(status)

    def _join(self) -> None:
        error = self.socket.server.authorize_join(self)
        if error is None:
            self.state = "joined"
            self.rejoin_tries = 0
            self._subscribed_since = self.socket.clock.now_ms
            self._status("SUBSCRIBED")
        elif error == "timeout":
            self.state = "errored"
            self.socket.clock.call_later(PUSH_TIMEOUT_MS, self._timed_out, "push-timeout")
        else:
            self.state = "errored"
            self._status("CHANNEL_ERROR")
            self._schedule_rejoin()

    def _timed_out(self) -> None:
        if self.state == "errored":
            self._status("TIMED_OUT")
            self._schedule_rejoin()

    def _schedule_rejoin(self) -> None:
        if not self.socket.connected:
            return  # Phoenix rejoins on socket open instead.
        self.rejoin_tries += 1
        delay = self.socket.rejoin_policy.delay_ms(self.rejoin_tries, self.socket.rng)
        if delay is not None:
            self._rejoin_timer = self.socket.clock.call_later(delay, self._rejoin, "rejoin")

    def _rejoin(self) -> None:
        self._rejoin_timer = None
        if self.state == "errored" and self.socket.connected:
            self._join()

    def _end_subscription(self) -> None:
        if self._subscribed_since is not None:
            self.socket.subscribed.setdefault(self.name, []).append(
                Interval(self._subscribed_since, self.socket.clock.now_ms)
            )
            self._subscribed_since = None

    def _error(self) -> None:
        if self.state in ("joined", "joining"):
            self._end_subscription()
            self.state = "errored"
            self._status("CHANNEL_ERROR")
            self._schedule_rejoin()

    def _server_close(self) -> None:
        if self.state in ("joined", "joining", "errored"):
            self._end_subscription()
            self.state = "closed"
            if self._rejoin_timer is not None:
                self._rejoin_timer.cancel()
            self._status("CLOSED")
            # realtime-js removes a channel after CLOSED; it never rejoins.
            self.socket._forget(self)

    def _deliver(self, envelope: Mapping[str, Any], message_id: int) -> None:
        if self.state != "joined":
            return
        self.socket.received.setdefault(self.name, []).append((message_id, self.socket.clock.now_ms))
        for binding in list(self.bindings):
            if binding.type == "broadcast" and event_matches(binding.event, str(envelope["event"])):
                binding.callback(envelope)

    def _system(self, payload: Mapping[str, Any]) -> None:
        if self.state != "joined":
            return
        for binding in list(self.bindings):
            if binding.type == "system":
                binding.callback(dict(payload))


@attrs.define(eq=False)
class RealtimeSocket:
    """A realtime-js ``RealtimeClient``: one WebSocket, its channels and reconnect timer."""

    server: RealtimeServer
    user: str
    clock: VirtualClock
    reconnect_policy: BackoffPolicy = REALTIME_JS_SOCKET
    rejoin_policy: BackoffPolicy = REALTIME_JS_REJOIN
    rng: random.Random = attrs.field(factory=lambda: random.Random(0))
    connected: bool = True
    channels: list[Channel] = attrs.field(factory=list)
    reconnect_tries: int = 0
    auth_cache: dict[str, bool] = attrs.field(factory=dict)
    joins: int = 0
    # Observations for histories.
    connected_intervals: list[Interval] = attrs.field(factory=list)
    subscribed: dict[str, list[Interval]] = attrs.field(factory=dict)
    received: dict[str, list[tuple[int, float]]] = attrs.field(factory=dict)
    statuses: list[tuple[float, str, str]] = attrs.field(factory=list)
    reconnects: list[float] = attrs.field(factory=list)
    _connected_since: float | None = 0.0
    # realtime-js opens its connection at the first subscribe() and closes it 50 s after the last channel.
    opened: bool = False
    _idle_since: float = 0.0

    def channel(self, name: str, *, private: bool = False) -> Channel:
        # realtime-js hands back the channel it already has for the topic, public or private as it was made.
        for existing in self.channels:
            if existing.name == name:
                return existing
        channel = Channel(self, name, private)
        self.channels.append(channel)
        return channel

    def remove_channel(self, channel: Channel) -> None:
        channel.unsubscribe()
        self._forget(channel)

    def _forget(self, channel: Channel) -> None:
        if channel in self.channels:
            self.channels.remove(channel)
            if not self.channels:
                self._idle_since = self.clock.now_ms

    def _socket_open(self) -> bool:
        """Whether realtime-js would have a connection: opened by a subscribe, not yet closed for idleness."""
        if self.channels:
            return self.opened
        return self.opened and self.clock.now_ms - self._idle_since < EMPTY_DISCONNECT_MS

    def drop(self) -> None:
        """The WebSocket fails: joined channels error out, the socket retries on its reconnect timer."""
        if not self.connected or not self._socket_open():
            return
        self.connected = False
        if self._connected_since is not None:
            self.connected_intervals.append(Interval(self._connected_since, self.clock.now_ms))
            self._connected_since = None
        self.auth_cache.clear()
        for channel in list(self.channels):
            channel._error()
        self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        self.reconnect_tries += 1
        delay = self.reconnect_policy.delay_ms(self.reconnect_tries, self.rng)
        if delay is not None:
            self.clock.call_later(delay, self._reconnect, "reconnect")

    def _reconnect(self) -> None:
        if self.connected:
            return
        if not self.server.accepting():
            self._schedule_reconnect()
            return
        self.connected = True
        self.reconnect_tries = 0
        self._connected_since = self.clock.now_ms
        self.reconnects.append(self.clock.now_ms)
        for channel in list(self.channels):
            if channel.state in ("errored", "joining"):
                if channel._rejoin_timer is not None:
                    channel._rejoin_timer.cancel()
                channel.rejoin_tries = 0
                channel._join()

    def trace(self, authorized: frozenset[str] = frozenset(), weight: int = 1) -> ClientTrace:
        """This client's delivery trace up to now (open intervals end at infinity)."""
        connected = list(self.connected_intervals)
        if self._connected_since is not None:
            connected.append(Interval(self._connected_since, math.inf))
        subscribed = {name: list(intervals) for name, intervals in self.subscribed.items()}
        for channel in self.channels:
            if channel._subscribed_since is not None:
                subscribed.setdefault(channel.name, []).append(Interval(channel._subscribed_since, math.inf))
        return ClientTrace(
            client=self.user,
            connected=tuple(connected),
            subscribed={k: tuple(v) for k, v in subscribed.items()},
            authorized=authorized,
            received={k: tuple(v) for k, v in self.received.items()},
            weight=weight,
        )


def _deny(user: str, topic: str) -> bool:
    return False


@attrs.define(eq=False)
class RealtimeServer:
    """One Realtime project: the sockets connected to it, its plan and its authorization policy."""

    clock: VirtualClock
    plan: PlanLimits
    authorize: Callable[[str, str], bool] = _deny
    sockets: list[RealtimeSocket] = attrs.field(factory=list)
    sent: list[Sent] = attrs.field(factory=list)
    next_id: int = 1
    down_until_ms: float = -math.inf
    unresponsive: bool = False
    # Over the message rate the server closes the channels it would have fanned out to.
    close_over_rate: bool = True
    dropped_rate: int = 0
    dropped_size: int = 0
    rejected_joins: dict[str, int] = attrs.field(factory=dict)
    _message_window: dict[int, int] = attrs.field(factory=dict)
    _join_window: dict[int, int] = attrs.field(factory=dict)

    def connect(
        self,
        user: str,
        *,
        reconnect_policy: BackoffPolicy = REALTIME_JS_SOCKET,
        rejoin_policy: BackoffPolicy = REALTIME_JS_REJOIN,
        rng: random.Random | None = None,
    ) -> RealtimeSocket:
        socket = RealtimeSocket(
            self,
            user,
            self.clock,
            reconnect_policy,
            rejoin_policy,
            rng or random.Random(0),
            connected_intervals=[],
        )
        socket._connected_since = self.clock.now_ms
        self.sockets.append(socket)
        return socket

    def accepting(self) -> bool:
        return self.clock.now_ms >= self.down_until_ms

    def authorize_join(self, channel: Channel) -> str | None:
        """``None`` when the join succeeds, else why it failed (``'timeout'`` when the server does not answer)."""
        if self.unresponsive:
            return "timeout"
        socket = channel.socket
        joined = sum(1 for c in socket.channels if c.state == "joined")
        if joined >= self.plan.channels_per_connection:
            return self._reject("channels_per_connection")
        second = int(self.clock.now_ms // 1000)
        if self._join_window.get(second, 0) >= self.plan.channel_joins_per_second:
            return self._reject("channel_joins_per_second")
        self._join_window[second] = self._join_window.get(second, 0) + 1
        socket.joins += 1
        if channel.private:
            # Authorization runs once per topic and connection; the answer is cached until reconnect.
            if channel.name not in socket.auth_cache:
                socket.auth_cache[channel.name] = self.authorize(socket.user, channel.name)
            if not socket.auth_cache[channel.name]:
                return self._reject("unauthorized")
        return None

    def _reject(self, reason: str) -> str:
        self.rejected_joins[reason] = self.rejected_joins.get(reason, 0) + 1
        return reason

    def send(self, topic: str, event: str, payload: Mapping[str, Any], *, private: bool = False) -> int | None:
        """``realtime.send(payload, event, topic, private)``: fan out now; ``None`` when dropped."""
        message_id = self.next_id
        self.next_id += 1
        if len(json.dumps(payload, separators=(",", ":")).encode()) > self.plan.payload_bytes:
            self.dropped_size += 1
            return None
        targets = [
            channel
            for socket in self.sockets
            if socket.connected
            for channel in socket.channels
            if channel.name == topic and channel.private == private and channel.state == "joined"
        ]
        second = int(self.clock.now_ms // 1000)
        used = self._message_window.get(second, 0)
        if used + len(targets) > self.plan.messages_per_second:
            self.dropped_rate += 1
            if self.close_over_rate:
                for channel in targets:
                    channel._server_close()
            return None
        self._message_window[second] = used + len(targets)
        self.sent.append(Sent(message_id, topic, self.clock.now_ms, private))
        envelope = {"type": "broadcast", "event": event, "payload": dict(payload), "meta": {"id": message_id}}
        for channel in targets:
            channel._deliver(envelope, message_id)
        return message_id

    def system(self, topic: str, status: str, message: str = "") -> None:
        for socket in self.sockets:
            for channel in list(socket.channels):
                if channel.name == topic:
                    channel._system({"extension": "broadcast", "status": status, "message": message, "channel": topic})

    def channel_error(self, topic: str) -> None:
        for socket in self.sockets:
            for channel in list(socket.channels):
                if channel.name == topic:
                    channel._error()

    def close_channel(self, topic: str) -> None:
        for socket in self.sockets:
            for channel in list(socket.channels):
                if channel.name == topic:
                    channel._server_close()

    def restart(self, downtime_ms: float = 0.0) -> None:
        """Every socket drops at once; the server accepts connections again after ``downtime_ms``."""
        self.down_until_ms = self.clock.now_ms + downtime_ms
        for socket in self.sockets:
            socket.drop()

    def history(
        self, latency_bound_ms: float = 0.0, authorized: Callable[[str], frozenset[str]] | None = None
    ) -> DeliveryHistory:
        traces = tuple(socket.trace(authorized(socket.user) if authorized else frozenset()) for socket in self.sockets)
        return DeliveryHistory(tuple(self.sent), traces, latency_bound_ms)
