"""realtime-js 2.119.1 on @supabase/phoenix 0.4.5, as the client behaves, with the fault-injecting server.

A port of what shows on the wire and in ``subscribe()`` statuses: the client's one channel
per topic, the phoenix ``Push``/``Timer``/``Channel``/``Socket`` state machines (join and
leave pushes with their 10 s timeouts, the send buffer flushed before rejoins, the 25 s
heartbeat and its timeout, the 1.5 s close wait, reconnect and rejoin tables, hidden tabs,
disconnect 50 s after the last channel). Frames travel as 0 ms timers, as they do in the
node harness (``_node/realtime.js``); ``tests/test_phoenix_conformance.py`` runs both on
the same generated fault schedules and requires equal observations.

The server side answers joins and fans out database broadcasts as Realtime does, under a
plan's limits and the Realtime version's rules (``models/realtime/<version>.toml``, cited in
``docs/realtime-rules.md``): joins over the joins counter, over the channels per connection or
over the connection cap are refused, a private join runs the project's authorization once per
topic and connection, and a database broadcast over the payload limit or the events counter is
dropped whole. Without a plan (``UNLIMITED``) nothing is limited, as in the node harness.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from bcastsim._plans import UNLIMITED, PlanLimits
from bcastsim._realtime_js import RealtimeJs, load_realtime_js
from bcastsim.check.history import ClientTrace, Interval, Sent
from bcastsim.client._backoff import BackoffPolicy
from bcastsim.client._clock import Timer, VirtualClock

if TYPE_CHECKING:
    from bcastsim.sim._rate_counter import RateCounter

__all__ = [
    "REALTIME_JS",
    "PhoenixChannel",
    "PhoenixClient",
    "PhoenixServer",
    "RealtimeJsTimings",
    "event_matches",
    "run_schedule",
]

CONNECTING, OPEN, CLOSING, CLOSED = 0, 1, 2, 3
Frame = tuple[Any, Any, str, str, Any]  # join_ref, ref, topic, event, payload
Callback = Callable[..., None]


# The library's timings and tables: [timings.realtime_js] in models/profiles.toml, as the simulator reads them.
RealtimeJsTimings = RealtimeJs
REALTIME_JS = load_realtime_js()


def event_matches(binding_event: str, event: str) -> bool:
    """realtime-js matches a broadcast binding on ``'*'`` or the event name, ignoring case (``_trigger``)."""
    want = binding_event.lower()
    return want == "*" or want == event.lower()


def _noop(*_: Any) -> None:
    return None


class _Conn:
    """The fake WebSocket both ends share; its handlers are the client's."""

    def __init__(self, server: PhoenixServer, user: str = "client") -> None:
        self.server = server
        self.user = user
        self.ready_state = CONNECTING
        self.subs: dict[str, tuple[Any, bool]] = {}
        self.authorized: dict[str, bool] = {}  # Realtime caches a private topic's policy answer per connection
        self.onopen: Callback = _noop
        self.onerror: Callback = _noop
        self.onclose: Callback = _noop
        self.onmessage: Callback = _noop

    def open(self) -> None:
        if self.ready_state != CONNECTING:
            return
        self.ready_state = OPEN
        self.server.conns.append(self)
        self.onopen()

    def fail(self) -> None:
        if self.ready_state == CLOSED:
            return
        self.ready_state = CLOSED
        self.onerror()
        self.onclose()

    def forget(self) -> None:
        if self in self.server.conns:
            self.server.conns.remove(self)
        self.subs.clear()

    def server_close(self) -> None:
        if self.ready_state == CLOSED:
            return
        self.ready_state = CLOSED
        self.forget()
        self.server.clock.call_later(0, lambda: self.onclose(), "net")  # noqa: PLW0108 (the handler at fire time)

    def send(self, frame: Frame) -> None:
        if self.ready_state == OPEN:
            self.server.receive(self, frame)

    def close(self) -> None:
        if self.ready_state in (CLOSED, CLOSING):
            return
        was_pending = self.ready_state == CONNECTING
        self.ready_state = CLOSING
        self.forget()
        if self.server.partitioned and not was_pending:
            return  # the closing handshake vanishes with the packets
        self.ready_state = CLOSED
        self.server.clock.call_later(0, lambda: self.onclose(), "net")  # noqa: PLW0108 (the handler at fire time)


def _allow_all(user: str, name: str) -> bool:
    return True


@attrs.define(eq=False)
class PhoenixServer:
    """The Realtime server the harness runs, with its faults; ``log`` records joins and connects.

    ``plan`` and ``realtime`` (a rules version, "" for the plan's or the newest) set the limits;
    ``authorize(user, name)`` is the project's RLS policy on ``realtime.messages`` for private joins.
    """

    clock: VirtualClock
    plan: PlanLimits = UNLIMITED
    authorize: Callable[[str, str], bool] = _allow_all
    realtime: str = ""
    conns: list[_Conn] = attrs.field(factory=list)
    down_until: float = -1.0
    refuse_until: float = -1.0
    partitioned: bool = False
    pending: list[_Conn] = attrs.field(factory=list)
    join_faults: dict[str, list[str]] = attrs.field(factory=dict)
    next_id: int = 1
    log: list[tuple[Any, ...]] = attrs.field(factory=list)
    # What the database sent and the server let through (for delivery histories), and what it refused.
    sent: list[Sent] = attrs.field(factory=list)
    dropped: dict[str, int] = attrs.field(factory=dict)
    rejected_joins: dict[str, int] = attrs.field(factory=dict)
    _counters: tuple[RateCounter, RateCounter, str, str, str] | None = None

    def accepting(self) -> bool:
        return self.clock.now_ms >= self.down_until and self.clock.now_ms >= self.refuse_until

    def connect(self, conn: _Conn) -> None:
        if not self.accepting():
            self.clock.call_later(0, conn.fail, "net")
        elif self.partitioned:
            self.pending.append(conn)
        else:
            self.clock.call_later(0, conn.open, "net")

    def heal(self) -> None:
        self.partitioned = False
        pending, self.pending = self.pending, []
        for conn in pending:
            if conn.ready_state == CONNECTING:
                self.connect(conn)

    def push(self, conn: _Conn, frame: Frame) -> None:
        if self.partitioned or conn.ready_state != OPEN:
            return

        def deliver() -> None:
            if conn.ready_state == OPEN:
                conn.onmessage(frame)

        self.clock.call_later(0, deliver, "net")

    # --- the plan's limits under the version's rules (docs/realtime-rules.md) -----------------------------

    def _rules(self) -> tuple[RateCounter, RateCounter, str, str, str]:
        """The project's events and joins counters (``rate_counter.ex``) and the judges and join outcome."""
        if self._counters is None:
            # Imported here: bcastsim.sim imports bcastsim.client.
            from bcastsim.sim._rate_counter import RateCounter
            from bcastsim.sim._realtime_rules import load_realtime_rules

            rules = load_realtime_rules(self.realtime or self.plan.realtime)
            self._counters = (
                RateCounter(rules.counter, self.plan.messages_per_second, rules.rule("broadcast").judge),
                RateCounter(rules.counter, self.plan.channel_joins_per_second, rules.rule("joins").judge),
                rules.rule("broadcast_from_database").judge,
                rules.rule("joins").over_limit,
                rules.rule("broadcast").over_limit,
            )
        return self._counters

    def _refuse_join(self, conn: _Conn, topic: str) -> tuple[str, str] | None:
        """Which limit refuses this join and Realtime's reason (``realtime_channel.ex`` ``join/3``), or ``None``."""
        if self.plan.name == UNLIMITED.name:
            return None
        events, joins, *_ = self._rules()
        now = self.clock.now_ms
        joins.start(now)
        if not events.unlimited:
            events.start(now)  # a channel's join starts the project's events counter
        if joins.over(now):
            return "joins_per_second", "ClientJoinRateLimitReached: Too many joins per second"
        joins.add(now, 1)
        if topic not in conn.subs and len(conn.subs) >= self.plan.channels_per_connection:
            return "channels_per_connection", "Too many channels"
        users = {c.user for c in self.conns if c.subs and c.ready_state == OPEN}
        if conn.user not in users and len(users) >= self.plan.connections:
            return "connections", "Too many connected users"
        return None

    def _admit_private(self, conn: _Conn, topic: str) -> bool:
        name = topic[len("realtime:") :]
        if name not in conn.authorized:
            conn.authorized[name] = self.authorize(conn.user, name)
        return conn.authorized[name]

    def receive(self, conn: _Conn, frame: Frame) -> None:
        if self.partitioned:
            return
        join_ref, ref, topic, event, payload = frame

        def reply(status: str, response: dict[str, Any]) -> None:
            self.push(conn, (join_ref, ref, topic, "phx_reply", {"status": status, "response": response}))

        if topic == "phoenix" and event == "heartbeat":
            reply("ok", {})
        elif event == "phx_join":
            private = bool(payload.get("config", {}).get("private"))
            self.log.append(("join", topic, private, self.clock.now_ms))
            faults = self.join_faults.get(topic, [])
            fault = faults.pop(0) if faults else None
            if fault == "timeout":
                return
            if fault == "error":
                reply("error", {"reason": "join refused by the fault schedule"})
                return
            refused = self._refuse_join(conn, topic)
            if refused is None and private and not self._admit_private(conn, topic):
                refused = "unauthorized", "You do not have permissions to read from this Channel topic"
            if refused is not None:
                key, reason = refused
                self.rejected_joins[key] = self.rejected_joins.get(key, 0) + 1
                reply("error", {"reason": reason})
                if key == "joins_per_second" and self._rules()[3] == "reject_and_disconnect":
                    conn.server_close()  # from Realtime 2026-02 the transport is told to disconnect
                return
            conn.subs[topic] = (join_ref, private)
            reply("ok", {"postgres_changes": []})
            if fault == "close":
                self._close_one(conn, topic, None)
        elif event == "phx_leave":
            conn.subs.pop(topic, None)
            reply("ok", {})

    def _each(self, topic: str) -> list[tuple[_Conn, tuple[Any, bool]]]:
        return [(c, c.subs[topic]) for c in list(self.conns) if c.ready_state == OPEN and topic in c.subs]

    def broadcast(self, name: str, event: str, private: bool, payload: dict[str, Any]) -> int | None:
        """``realtime.send(payload, event, name, private)``: fan out now; ``None`` when Realtime drops it."""
        message_id = self.next_id
        self.next_id += 1
        topic = f"realtime:{name}"
        now = self.clock.now_ms
        targets = [conn for conn, (_, sub_private) in self._each(topic) if sub_private == private]
        over = False
        if self.plan.name != UNLIMITED.name:
            if len(json.dumps(payload, separators=(",", ":")).encode()) > self.plan.payload_bytes:
                self.dropped["payload_size"] = self.dropped.get("payload_size", 0) + 1
                return None
            events, _, ingest_judge, _, broadcast_over = self._rules()
            if not events.unlimited:
                # The replication connection judges the events counter before the message goes anywhere;
                # over it the message is dropped whole, else it counts one and every delivery counts one.
                events.start(now)
                if events.over(now, ingest_judge):
                    self.dropped["message_rate"] = self.dropped.get("message_rate", 0) + 1
                    return None
                events.add(now, 1)
                over = broadcast_over == "close_channel" and events.over(now)
                events.add(now, len(targets))
        self.sent.append(Sent(message_id, name, now, private))
        envelope = {"type": "broadcast", "event": event, "payload": payload, "meta": {"id": str(message_id)}}
        for conn in targets:
            self.push(conn, (None, None, topic, "broadcast", envelope))
            if over:
                # The channel shuts itself down after the delivery (realtime_channel.ex, :update_rate_counter).
                self._close_one(conn, topic, "Too many messages per second")
        return message_id

    def system(self, name: str, status: str, message: str = "") -> None:
        """A ``system`` message on every joined channel of the topic (realtime-js carries status ``ok``/``error``)."""
        topic = f"realtime:{name}"
        system = {"extension": "broadcast", "status": status, "message": message, "channel": name}
        for conn, _ in self._each(topic):
            self.push(conn, (None, None, topic, "system", system))

    def channel_error(self, name: str) -> None:
        topic = f"realtime:{name}"
        for conn, (join_ref, _) in self._each(topic):
            del conn.subs[topic]
            self.push(conn, (join_ref, None, topic, "phx_error", {}))

    def _close_one(self, conn: _Conn, topic: str, reason: str | None) -> None:
        sub = conn.subs.get(topic)
        if sub is None:
            return
        if reason:
            system = {"extension": "system", "status": "error", "message": reason, "channel": topic[9:]}
            self.push(conn, (None, None, topic, "system", system))
        del conn.subs[topic]
        self.push(conn, (sub[0], None, topic, "phx_close", {}))

    def channel_close(self, name: str, reason: str | None = None) -> None:
        topic = f"realtime:{name}"
        for conn, _ in self._each(topic):
            self._close_one(conn, topic, reason)

    def add_join_fault(self, name: str, fault: str, count: int = 1) -> None:
        self.join_faults.setdefault(f"realtime:{name}", []).extend([fault] * count)

    def drop(self, client: PhoenixClient | None = None) -> None:
        """Every connection (or only ``client``'s) fails."""
        for conn in list(self.conns):
            if client is None or conn is client.conn:
                conn.server_close()

    def restart(self, downtime_ms: float) -> None:
        self.down_until = self.clock.now_ms + downtime_ms
        self.drop()

    def partition(self, duration_ms: float) -> None:
        self.partitioned = True
        self.clock.call_later(duration_ms, self.heal, "fault")

    def refuse(self, duration_ms: float) -> None:
        self.refuse_until = self.clock.now_ms + duration_ms


class _PhxTimer:
    """phoenix ``Timer``: ``tries`` counts fired attempts; ``reset`` only on success."""

    def __init__(
        self, clock: VirtualClock, callback: Callable[[], None], policy: BackoffPolicy, label: str, rng: random.Random
    ) -> None:
        self.clock, self.callback, self.policy, self.label, self.rng = clock, callback, policy, label, rng
        self.timer: Timer | None = None
        self.tries = 0

    def reset(self) -> None:
        self.tries = 0
        if self.timer is not None:
            self.timer.cancel()

    def schedule_timeout(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        delay = self.policy.delay_ms(self.tries + 1, self.rng)

        def fire() -> None:
            self.tries += 1
            self.callback()

        self.timer = self.clock.call_later(delay if delay is not None else 0.0, fire, self.label)


class _Push:
    def __init__(self, channel: PhoenixChannel, event: str, payload: Callable[[], dict[str, Any]]) -> None:
        self.channel = channel
        self.event = event
        self.payload = payload
        self.received: dict[str, Any] | None = None
        self.timer: Timer | None = None
        self.hooks: list[tuple[str, Callable[[Any], None]]] = []
        self.ref: str | None = None
        self.ref_event: str | None = None

    def resend(self) -> None:
        self.reset()
        self.send()

    def send(self) -> None:
        if self.received is not None and self.received.get("status") == "timeout":
            return
        self.start_timeout()
        ch = self.channel
        ch.client.push((ch.join_ref(), self.ref, ch.topic, self.event, self.payload()))

    def receive(self, status: str, callback: Callable[[Any], None]) -> _Push:
        self.hooks.append((status, callback))
        return self

    def reset(self) -> None:
        self.cancel_ref_event()
        self.ref = None
        self.ref_event = None
        self.received = None

    def destroy(self) -> None:
        self.cancel_ref_event()
        self.cancel_timeout()

    def cancel_ref_event(self) -> None:
        if self.ref_event:
            self.channel.off(self.ref_event)

    def cancel_timeout(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = None

    def start_timeout(self) -> None:
        if self.timer is not None:
            self.cancel_timeout()
        self.ref = self.channel.client.make_ref()
        self.ref_event = f"chan_reply_{self.ref}"

        def on_reply(payload: Any, *_: Any) -> None:
            self.cancel_ref_event()
            self.cancel_timeout()
            self.received = payload
            for status, callback in list(self.hooks):
                if status == payload["status"]:
                    callback(payload["response"])

        self.channel.on(self.ref_event, on_reply)
        clock = self.channel.client.clock
        self.timer = clock.call_later(self.channel.client.timings.push_timeout_ms, self._timeout, "push-timeout")

    def _timeout(self) -> None:
        self.trigger("timeout", {})

    def trigger(self, status: str, response: Any) -> None:
        if self.ref_event:
            self.channel.trigger(self.ref_event, {"status": status, "response": response})


@attrs.define(eq=False)
class _Binding:
    event: str
    ref: int
    callback: Callback
    filter_event: str | None = None  # realtime-js broadcast bindings


class PhoenixChannel:
    """``RealtimeChannel`` over its phoenix ``Channel``."""

    def __init__(self, client: PhoenixClient, name: str, private: bool) -> None:
        self.client = client
        self.name = name
        self.topic = f"realtime:{name}"
        self.private = private
        self._state = "closed"
        self._joined_since: float | None = None
        self.bindings: list[_Binding] = []
        self.binding_ref = 0
        self.joined_once = False
        self.join_push = _Push(self, "phx_join", lambda: {"config": {"private": self.private}})
        self.rejoin_timer = _PhxTimer(client.clock, self._rejoin_fired, client.timings.rejoin, "rejoin", client.rng)
        self.state_refs = [
            client.on_state("error", lambda *_: self.rejoin_timer.reset()),
            client.on_state("open", lambda *_: self._on_socket_open()),
        ]
        self.join_push.receive("ok", lambda _: self._joined())
        self.join_push.receive("error", lambda _: self._join_error())
        self.on("phx_close", lambda *_: self._closed())
        self.on("phx_error", lambda *_: self._errored())
        self.join_push.receive("timeout", lambda _: self._join_timeout())
        self.on("phx_reply", lambda payload, ref=None, *_: self.trigger(f"chan_reply_{ref}", payload))
        # realtime-js: a closed channel leaves the client's list.
        self.on("phx_close", lambda *_: client._remove(self))

    @property
    def state(self) -> str:
        return self._state

    @state.setter
    def state(self, value: str) -> None:
        # The client's record of when it was joined, for delivery histories.
        now = self.client.clock.now_ms
        if value == "joined" and self._state != "joined":
            self._joined_since = now
        elif value != "joined" and self._joined_since is not None:
            self.client.subscribed.setdefault(self.name, []).append(Interval(self._joined_since, now))
            self._joined_since = None
        self._state = value

    # --- phoenix Channel ------------------------------------------------------------------------------

    def _rejoin_fired(self) -> None:
        if self.client.is_connected():
            self.rejoin()

    def _on_socket_open(self) -> None:
        self.rejoin_timer.reset()
        if self.state == "errored":
            self.rejoin()

    def _joined(self) -> None:
        self.state = "joined"
        self.rejoin_timer.reset()

    def _join_error(self) -> None:
        self.state = "errored"
        if self.client.is_connected():
            self.rejoin_timer.schedule_timeout()

    def _closed(self) -> None:
        self.rejoin_timer.reset()
        self.state = "closed"
        self.client.remove_phx(self)

    def _errored(self) -> None:
        if self.state == "joining":
            self.join_push.reset()
        self.state = "errored"
        if self.client.is_connected():
            self.rejoin_timer.schedule_timeout()

    def _join_timeout(self) -> None:
        _Push(self, "phx_leave", dict).send()
        self.state = "errored"
        self.join_push.reset()
        if self.client.is_connected():
            self.rejoin_timer.schedule_timeout()

    def on(self, event: str, callback: Callback, filter_event: str | None = None) -> int:
        ref = self.binding_ref
        self.binding_ref += 1
        self.bindings.append(_Binding(event, ref, callback, filter_event))
        return ref

    def off(self, event: str) -> None:
        self.bindings = [b for b in self.bindings if b.event != event]

    def join_ref(self) -> str | None:
        return self.join_push.ref

    def rejoin(self) -> None:
        if self.state == "leaving":
            return
        self.client.leave_open_topic(self.topic)
        self.state = "joining"
        self.join_push.resend()

    def leave(self) -> None:
        self.rejoin_timer.reset()
        self.join_push.cancel_timeout()
        self.state = "leaving"
        leave_push = _Push(self, "phx_leave", dict)
        leave_push.receive("ok", lambda _: self.trigger("phx_close", "leave"))
        leave_push.receive("timeout", lambda _: self.trigger("phx_close", "leave"))
        leave_push.send()
        if not (self.client.is_connected() and self.state == "joined"):
            leave_push.trigger("ok", {})

    def teardown(self) -> None:
        self.rejoin_timer.reset()
        self.join_push.destroy()
        self.state = "closed"
        self.bindings = []

    def is_member(self, topic: str, join_ref: Any) -> bool:
        return topic == self.topic and not (join_ref and join_ref != self.join_ref())

    def trigger(self, event: str, payload: Any, ref: Any = None, join_ref: Any = None) -> None:
        for binding in [b for b in self.bindings if b.event == event and self._filter(b, payload, ref)]:
            binding.callback(payload, ref, join_ref or self.join_ref())

    def _filter(self, binding: _Binding, payload: Any, ref: Any) -> bool:
        event = binding.event.lower()
        if ref and event in ("phx_close", "phx_error", "phx_leave", "phx_join") and ref != self.join_push.ref:
            return False
        if binding.filter_event is None:
            return True
        return event_matches(binding.filter_event, str(payload.get("event", "")))

    # --- RealtimeChannel ------------------------------------------------------------------------------

    def on_broadcast(self, event: str, callback: Callable[[Any], None]) -> PhoenixChannel:
        """``.on('broadcast', {event}, callback)``: the callback gets the envelope ``{type, event, payload, meta}``."""
        self.on("broadcast", lambda payload, *_: callback(payload), filter_event=event)
        return self

    def on_system(self, callback: Callable[[Any], None]) -> PhoenixChannel:
        """``.on('system', {}, callback)``: ``{extension, status: 'ok' | 'error', message, channel}``."""
        self.on("system", lambda payload, *_: callback(dict(payload)))
        return self

    def subscribe(self, callback: Callable[[str], None] | None = None) -> PhoenixChannel:
        if not self.client.is_connected():
            self.client.connect()
        if self.state == "closed":
            status = callback or _noop
            self.on("phx_error", lambda *_: status("CHANNEL_ERROR"))
            self.on("phx_close", lambda *_: status("CLOSED"))
            if self.joined_once:
                raise RuntimeError("tried to join multiple times")
            self.joined_once = True
            self.rejoin()
            self.join_push.receive("ok", lambda _: status("SUBSCRIBED"))
            self.join_push.receive("error", lambda _: self._subscribe_error(status))
            self.join_push.receive("timeout", lambda _: status("TIMED_OUT"))
        return self

    def _subscribe_error(self, status: Callable[[str], None]) -> None:
        self.state = "errored"
        status("CHANNEL_ERROR")


class PhoenixClient:
    """``RealtimeClient`` over its phoenix ``Socket``: one connection, one channel per topic."""

    def __init__(
        self,
        server: PhoenixServer,
        timings: RealtimeJsTimings = REALTIME_JS,
        *,
        user: str = "client",
        rng: random.Random | None = None,
    ) -> None:
        self.server = server
        self.clock = server.clock
        self.timings = timings
        self.user = user
        # realtime-js tables have no jitter; a policy with jitter (a profile's own) draws from this stream.
        self.rng = rng or random.Random(0)
        # Observations for delivery histories: when the socket was open, each topic joined, each broadcast got.
        self.connected_intervals: list[Interval] = []
        self._connected_since: float | None = None
        self.subscribed: dict[str, list[Interval]] = {}
        self.received: dict[str, list[tuple[int, float]]] = {}
        self.channels: list[PhoenixChannel] = []
        self.phx_channels: list[PhoenixChannel] = []
        self.conn: _Conn | None = None
        self.close_was_clean = True
        self.disconnecting = False
        self.page_hidden = False
        self.ref = 0
        self.send_buffer: list[Frame] = []
        self.state_callbacks: dict[str, list[tuple[int, Callback]]] = {"open": [], "error": [], "close": []}
        self.state_ref = 0
        self.heartbeat_timer: Timer | None = None
        self.heartbeat_timeout_timer: Timer | None = None
        self.pending_heartbeat: str | None = None
        self.pending_disconnect: Timer | None = None
        self.reconnect_timer = _PhxTimer(self.clock, self._reconnect_fired, timings.reconnect, "reconnect", self.rng)

    # --- phoenix Socket -------------------------------------------------------------------------------

    def make_ref(self) -> str:
        self.ref += 1
        return str(self.ref)

    def on_state(self, kind: str, callback: Callback) -> int:
        self.state_ref += 1
        self.state_callbacks[kind].append((self.state_ref, callback))
        return self.state_ref

    def _trigger_state(self, kind: str) -> None:
        for _, callback in list(self.state_callbacks[kind]):
            callback()

    def connection_state(self) -> int:
        return self.conn.ready_state if self.conn is not None else CLOSED

    def is_connected(self) -> bool:
        return self.connection_state() == OPEN

    def connect(self) -> None:
        # RealtimeClient.connect, then Socket.connect.
        if self.connection_state() in (CONNECTING, CLOSING, OPEN) and self.conn is not None:
            return
        if self.conn is not None and not self.disconnecting:
            return
        self.close_was_clean = False
        conn = self.conn = _Conn(self.server, self.user)
        conn.onopen = self._on_conn_open
        conn.onerror = self._on_conn_error
        conn.onmessage = self._on_conn_message
        conn.onclose = self._on_conn_close
        self.server.log.append(("connect",))
        self.server.connect(conn)

    def _reconnect_fired(self) -> None:
        if self.page_hidden:
            self.teardown(None)
            return
        self.teardown(self.connect)

    def _on_conn_open(self) -> None:
        self._connected_since = self.clock.now_ms
        self.close_was_clean = False
        self.disconnecting = False
        self._flush_send_buffer()
        self.reconnect_timer.reset()
        self._reset_heartbeat()
        self._trigger_state("open")

    def _clear_heartbeats(self) -> None:
        for timer in (self.heartbeat_timer, self.heartbeat_timeout_timer):
            if timer is not None:
                timer.cancel()

    def _reset_heartbeat(self) -> None:
        self.pending_heartbeat = None
        self._clear_heartbeats()
        self.heartbeat_timer = self.clock.call_later(self.timings.heartbeat_ms, self._send_heartbeat, "heartbeat")

    def _send_heartbeat(self) -> None:
        if not self.is_connected():
            return
        if self.pending_heartbeat is not None:
            self._heartbeat_timeout()
            return
        self.pending_heartbeat = self.make_ref()
        self.push((None, self.pending_heartbeat, "phoenix", "heartbeat", {}))
        self.heartbeat_timeout_timer = self.clock.call_later(
            self.timings.heartbeat_ms, self._heartbeat_timeout, "heartbeat"
        )

    def _heartbeat_timeout(self) -> None:
        if self.pending_heartbeat is not None:
            self.pending_heartbeat = None
            self._trigger_chan_error()
            self.close_was_clean = False
            self.teardown(self.reconnect_timer.schedule_timeout)

    def teardown(self, callback: Callable[[], None] | None) -> None:
        conn = self.conn
        if conn is None:
            if callback is not None:
                callback()
            return
        conn.close()
        self._note_closed()
        self._wait_for_closed(conn, callback, 1)

    def _wait_for_closed(self, conn: _Conn, callback: Callable[[], None] | None, tries: int) -> None:
        if tries == 5 or conn.ready_state == CLOSED:
            if self.conn is conn:
                conn.onopen = conn.onerror = conn.onmessage = conn.onclose = _noop
                self.conn = None
            if callback is not None:
                callback()
            return
        self.clock.call_later(
            self.timings.close_poll_ms * tries, lambda: self._wait_for_closed(conn, callback, tries + 1), "close-wait"
        )

    def _note_closed(self) -> None:
        if self._connected_since is not None and not self.is_connected():
            self.connected_intervals.append(Interval(self._connected_since, self.clock.now_ms))
            self._connected_since = None

    def _on_conn_close(self, *_: Any) -> None:
        self._note_closed()
        if self.conn is not None:
            self.conn.onclose = _noop
        self._trigger_chan_error()
        self._clear_heartbeats()
        if not self.close_was_clean:
            self.reconnect_timer.schedule_timeout()
        self._trigger_state("close")

    def _on_conn_error(self, *_: Any) -> None:
        self._note_closed()
        self._trigger_state("error")
        self._trigger_chan_error()

    def _trigger_chan_error(self) -> None:
        for channel in list(self.phx_channels):
            if channel.state not in ("errored", "leaving", "closed"):
                channel.trigger("phx_error", None)

    def push(self, frame: Frame) -> None:
        if self.is_connected() and self.conn is not None:
            self.conn.send(frame)
        else:
            self.send_buffer.append(frame)

    def _flush_send_buffer(self) -> None:
        if self.is_connected() and self.conn is not None and self.send_buffer:
            buffered, self.send_buffer = self.send_buffer, []
            for frame in buffered:
                self.conn.send(frame)

    def _on_conn_message(self, frame: Frame) -> None:
        join_ref, ref, topic, event, payload = frame
        if ref and ref == self.pending_heartbeat:
            self._clear_heartbeats()
            self.pending_heartbeat = None
            self.heartbeat_timer = self.clock.call_later(self.timings.heartbeat_ms, self._send_heartbeat, "heartbeat")
        for channel in list(self.phx_channels):
            if channel.is_member(topic, join_ref):
                if event == "broadcast":
                    message_id = int(payload["meta"]["id"])
                    self.received.setdefault(channel.name, []).append((message_id, self.clock.now_ms))
                channel.trigger(event, payload, ref, join_ref)

    def leave_open_topic(self, topic: str) -> None:
        for channel in self.phx_channels:
            if channel.topic == topic and channel.state in ("joined", "joining"):
                channel.leave()
                return

    def remove_phx(self, channel: PhoenixChannel) -> None:
        for kind in self.state_callbacks:
            self.state_callbacks[kind] = [(r, c) for r, c in self.state_callbacks[kind] if r not in channel.state_refs]
        self.phx_channels = [c for c in self.phx_channels if c is not channel]

    def trace(self, authorized: frozenset[str] = frozenset(), weight: int = 1) -> ClientTrace:
        """This client's delivery trace up to now (open intervals end at infinity)."""
        connected = list(self.connected_intervals)
        if self._connected_since is not None:
            connected.append(Interval(self._connected_since, math.inf))
        subscribed = {name: list(intervals) for name, intervals in self.subscribed.items()}
        for channel in self.phx_channels:
            if channel._joined_since is not None:
                subscribed.setdefault(channel.name, []).append(Interval(channel._joined_since, math.inf))
        return ClientTrace(
            client=self.user,
            connected=tuple(connected),
            subscribed={k: tuple(v) for k, v in subscribed.items()},
            authorized=authorized,
            received={k: tuple(v) for k, v in self.received.items()},
            weight=weight,
        )

    def set_hidden(self, hidden: bool) -> None:
        self.page_hidden = hidden
        if not hidden and not self.is_connected() and not self.close_was_clean:
            self.teardown(self.connect)

    # --- RealtimeClient -------------------------------------------------------------------------------

    def channel(self, name: str, *, private: bool = False) -> PhoenixChannel:
        for existing in self.channels:
            if existing.topic == f"realtime:{name}":
                return existing
        channel = PhoenixChannel(self, name, private)
        self.phx_channels.append(channel)
        self._cancel_pending_disconnect()
        self.channels.append(channel)
        return channel

    def remove_channel(self, channel: PhoenixChannel) -> None:
        channel.leave()
        channel.teardown()

    def _remove(self, channel: PhoenixChannel) -> None:
        self.channels = [c for c in self.channels if c.topic != channel.topic]
        if not self.channels:
            self._cancel_pending_disconnect()
            self.pending_disconnect = self.clock.call_later(
                self.timings.empty_disconnect_ms, self._disconnect_if_empty, "disconnect"
            )

    def _cancel_pending_disconnect(self) -> None:
        if self.pending_disconnect is not None:
            self.pending_disconnect.cancel()
            self.pending_disconnect = None

    def _disconnect_if_empty(self) -> None:
        self.pending_disconnect = None
        if not self.channels:
            self.disconnect()

    def disconnect(self) -> None:
        self._cancel_pending_disconnect()
        if self.connection_state() == CLOSING:
            return
        self.clock.call_later(10_000, _noop, "disconnect-timeout")
        self.disconnecting = True
        self.close_was_clean = True
        self.reconnect_timer.reset()

        def done() -> None:
            self.disconnecting = False

        self.teardown(done)


def run_schedule(ops: list[dict[str, Any]], timings: RealtimeJsTimings = REALTIME_JS) -> list[dict[str, Any]]:
    """Run a raw schedule (the harness's ``raw`` mode) on the model; observations as the harness reports them."""
    clock = VirtualClock()
    server = PhoenixServer(clock)
    client = PhoenixClient(server, timings)
    handles: dict[int, list[PhoenixChannel]] = {}
    pending: dict[str, list[Any]] = {"statuses": [], "deliveries": []}
    out: list[dict[str, Any]] = []

    def listener(n: int) -> Callable[[Any], None]:
        def deliver(envelope: Any) -> None:
            pending["deliveries"].append([n, envelope["payload"].get("seq")])

        return deliver

    def status(n: int) -> Callable[[str], None]:
        return lambda value: pending["statuses"].append([n, value])

    for op in ops:
        pending = {"statuses": [], "deliveries": []}
        log_start = len(server.log)
        sent = None
        kind = op["op"]
        if kind == "subscribe":
            channel = client.channel(op["topic"], private=bool(op.get("private")))
            channel.on_broadcast(op["event"], listener(op["listener"]))
            channel.subscribe(status(op["listener"]))
            handles.setdefault(op["listener"], []).append(channel)
        elif kind == "unsubscribe":
            if handles.get(op["listener"]):
                client.remove_channel(handles[op["listener"]].pop())
        elif kind == "broadcast":
            sent = server.next_id
            server.broadcast(op["topic"], op["event"], bool(op.get("private")), {"seq": sent, **op.get("payload", {})})
        elif kind == "drop":
            server.drop()
        elif kind == "partition":
            server.partition(op["ms"])
        elif kind == "restart":
            server.restart(op["ms"])
        elif kind == "refuse":
            server.refuse(op["ms"])
        elif kind in ("join_error", "join_timeout"):
            server.add_join_fault(op["topic"], kind[5:])
        elif kind == "flap":
            server.add_join_fault(op["topic"], "close", op["n"])
        elif kind == "channel_error":
            server.channel_error(op["topic"])
        elif kind == "channel_close":
            server.channel_close(op["topic"])
        elif kind == "rate_limit":
            server.channel_close(op["topic"], "Too many messages per second")
        elif kind == "hidden":
            client.set_hidden(bool(op["hidden"]))
        clock.advance(op["ms"] if kind == "advance" else 0)
        log = server.log[log_start:]
        out.append(
            {
                "t": clock.now_ms,
                "connected": client.is_connected(),
                "channels": sorted([c.name, c.state] for c in client.channels),
                "statuses": pending["statuses"],
                "deliveries": pending["deliveries"],
                "joins": [[e[1][9:], e[2], e[3]] for e in log if e[0] == "join"],
                "connects": sum(1 for e in log if e[0] == "connect"),
                "sent": sent,
            }
        )
    return out
