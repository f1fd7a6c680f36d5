"""The Realtime transport model: envelope, at-most-once delivery, authorization, statuses, plan limits."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from bcastsim._errors import InputError
from bcastsim._resources import builtin_models_dir
from bcastsim.client import PLANS, PlanLimits, RealtimeServer, VirtualClock, load_plans


def _server(plan: PlanLimits | None = None, **kw: Any) -> tuple[VirtualClock, RealtimeServer]:
    clock = VirtualClock()
    return clock, RealtimeServer(clock, plan or PLANS["team"], **kw)


def test_plans_follow_the_published_limits() -> None:
    """Free/Pro/Team limits are read from models/plans.toml."""
    plans = load_plans()
    assert [plans[p].connections for p in ("free", "pro", "team")] == [200, 500, 10_000]
    assert [plans[p].messages_per_second for p in ("free", "pro", "team")] == [100, 500, 2_500]
    assert {plans[p].channels_per_connection for p in plans} == {100}


def test_listeners_receive_the_envelope_on_realtime_prefixed_topics() -> None:
    """A broadcast callback gets {type, event, payload, meta: {id}}; channel('x') joins realtime:x."""
    _, server = _server()
    socket = server.connect("u")
    got: list[Any] = []
    channel = socket.channel("room").on("broadcast", "bid_update", got.append).subscribe()
    assert channel.topic == "realtime:room"
    message_id = server.send("room", "BID_UPDATE", {"amount": 5})
    assert got == [{"type": "broadcast", "event": "BID_UPDATE", "payload": {"amount": 5}, "meta": {"id": message_id}}]


def test_messages_sent_while_disconnected_are_lost() -> None:
    """At most once: nothing sent during the outage arrives after the socket reconnects."""
    clock, server = _server()
    socket = server.connect("u")
    got: list[Any] = []
    socket.channel("room").on("broadcast", "*", got.append).subscribe()
    socket.drop()
    server.send("room", "e", {"n": 1})
    clock.advance(1000)
    server.send("room", "e", {"n": 2})
    assert [m["payload"]["n"] for m in got] == [2]
    assert socket.reconnects == [1000]


def test_private_channels_are_authorized_once_per_connection() -> None:
    """A private join runs the policy once per topic and connection (rejoins use the cached answer); public never."""
    calls: list[tuple[str, str]] = []

    def authorize(user: str, topic: str) -> bool:
        calls.append((user, topic))
        return user == "admin"

    clock, server = _server(authorize=authorize)
    statuses: list[str] = []
    for user in ("admin", "guest"):
        server.connect(user).channel("admin:1", private=True).subscribe(statuses.append)
    server.connect("anon").channel("admin:1").subscribe(statuses.append)
    assert statuses == ["SUBSCRIBED", "CHANNEL_ERROR", "SUBSCRIBED"]
    server.channel_error("admin:1")
    clock.advance(1000)
    assert calls == [("admin", "admin:1"), ("guest", "admin:1")]
    assert sorted(statuses[3:]) == ["CHANNEL_ERROR"] * 3 + ["SUBSCRIBED"] * 2
    assert server.rejected_joins["unauthorized"] == 2


def test_one_client_holds_one_channel_per_topic() -> None:
    """channel(name) returns the open channel: a private one asked for under a public one's name comes back public."""
    _, server = _server(authorize=lambda user, topic: True)
    socket = server.connect("u")
    public: list[Any] = []
    first = socket.channel("t").on("broadcast", "*", public.append).subscribe()
    second = socket.channel("t", private=True)
    assert second is first
    assert not second.private
    server.send("t", "e", {}, private=True)
    server.send("t", "e", {})
    assert len(public) == 1
    other: list[Any] = []
    server.connect("v").channel("t", private=True).on("broadcast", "*", other.append).subscribe()
    server.send("t", "e", {}, private=True)
    assert (len(public), len(other)) == (1, 1)


def test_channel_error_rejoins_on_phoenix_timers_and_closed_removes() -> None:
    """CHANNEL_ERROR rejoins after 1000, 2000, 5000 ms; CLOSED removes the channel for good."""
    clock, server = _server()
    socket = server.connect("u")
    statuses: list[str] = []
    channel = socket.channel("t").subscribe(statuses.append)
    server.unresponsive = True
    server.channel_error("t")
    clock.advance(1000 + 10_000)
    assert statuses == ["SUBSCRIBED", "CHANNEL_ERROR", "TIMED_OUT"]
    server.unresponsive = False
    clock.advance(2000)
    assert statuses[-1] == "SUBSCRIBED"
    assert [t.delay_ms for t in clock.scheduled if t.label == "rejoin"] == [1000, 2000]
    server.close_channel("t")
    clock.advance(60_000)
    assert statuses[-1] == "CLOSED"
    assert channel not in socket.channels


def test_channels_per_connection_and_message_rate_with_fan_out() -> None:
    """The 3rd join on a 2-channel plan fails; a send to N subscribers costs N of the per-second budget."""
    plan = PlanLimits("tiny", 10, 5, 100, 2, 1000)
    clock, server = _server(plan)
    sockets = [server.connect(f"u{i}") for i in range(3)]
    statuses: list[str] = []
    for name in ("a", "b", "c"):
        sockets[0].channel(name).subscribe(statuses.append)
    assert statuses == ["SUBSCRIBED", "SUBSCRIBED", "CHANNEL_ERROR"]
    for socket in sockets[1:]:
        socket.channel("a").subscribe(statuses.append)
    assert server.send("a", "e", {}) is not None  # 3 of 5
    assert server.send("a", "e", {}) is None  # 6 > 5: dropped, and the server closes the channels
    assert statuses[-3:] == ["CLOSED", "CLOSED", "CLOSED"]
    assert server.dropped_rate == 1
    got: list[Any] = []
    sockets[1].channel("a").on("broadcast", "*", got.append).subscribe()
    clock.advance(1000)
    assert server.send("a", "e", {}) is not None
    assert len(got) == 1
    assert server.send("a", "e", {"x": "y" * 2000}) is None
    assert server.dropped_size == 1


def test_history_records_intervals_and_receipts() -> None:
    """The server's history has each client's connected and subscribed intervals and its receipts."""
    clock, server = _server()
    socket = server.connect("u")
    socket.channel("t").subscribe()
    server.send("t", "e", {})
    clock.advance(10)
    socket.drop()
    clock.advance(2000)
    history = server.history()
    trace = history.clients[0]
    assert [(i.start_ms, i.end_ms) for i in trace.connected][:1] == [(0.0, 10.0)]
    assert trace.subscribed["t"][0].end_ms == 10.0
    assert trace.received["t"] == ((1, 0.0),)


def test_realtime_js_timings_come_from_the_profiles_data(tmp_path: Path) -> None:
    """[timings.realtime_js] gives the heartbeat and its tables; a bad value is an input error naming the key."""
    from bcastsim._realtime_js import load_realtime_js
    from bcastsim.client._phoenix import REALTIME_JS

    assert (REALTIME_JS.heartbeat_ms, REALTIME_JS.empty_disconnect_ms) == (25_000.0, 50_000.0)
    assert REALTIME_JS.reconnect.delay_ms(3, random.Random(0)) == 5000.0
    bad = tmp_path / "profiles.toml"
    text = (builtin_models_dir() / "profiles.toml").read_text(encoding="utf-8")
    bad.write_text(text.replace("heartbeat_ms = 25000", "heartbeat_ms = -1"), encoding="utf-8")
    with pytest.raises(InputError, match="heartbeat_ms must be a positive number"):
        load_realtime_js(bad)
