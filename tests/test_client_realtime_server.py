"""The realtime-js port's server side: the envelope, at-most-once delivery, private-channel authorization,
one channel per topic, and a plan's limits under the Realtime version's rules (docs/realtime-rules.md)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from bcastsim._errors import InputError
from bcastsim._plans import UNLIMITED
from bcastsim._resources import builtin_models_dir
from bcastsim.client import PhoenixClient, PhoenixServer, PlanLimits, VirtualClock


def _world(plan: PlanLimits = UNLIMITED, **kw: Any) -> tuple[VirtualClock, PhoenixServer]:
    clock = VirtualClock()
    return clock, PhoenixServer(clock, plan, **kw)


def _subscribe(client: PhoenixClient, name: str, got: list[Any], statuses: list[str], *, private: bool = False) -> None:
    client.channel(name, private=private).on_broadcast("*", got.append).subscribe(statuses.append)
    client.clock.advance(0)


def test_listeners_receive_the_envelope_on_realtime_prefixed_topics() -> None:
    """A broadcast callback gets {type, event, payload, meta: {id}}; channel('x') joins realtime:x."""
    clock, server = _world()
    client = PhoenixClient(server)
    got: list[Any] = []
    channel = client.channel("room").on_broadcast("bid_update", got.append).subscribe()
    clock.advance(0)
    assert channel.topic == "realtime:room"
    message_id = server.broadcast("room", "BID_UPDATE", False, {"amount": 5})
    clock.advance(0)
    assert got == [
        {"type": "broadcast", "event": "BID_UPDATE", "payload": {"amount": 5}, "meta": {"id": str(message_id)}}
    ]


def test_messages_sent_while_disconnected_are_lost() -> None:
    """At most once: nothing sent during the outage arrives after the socket reconnects and rejoins."""
    clock, server = _world()
    client = PhoenixClient(server)
    got: list[Any] = []
    _subscribe(client, "room", got, [])
    server.drop()
    clock.advance(0)
    server.broadcast("room", "e", False, {"n": 1})
    clock.advance(1000)
    server.broadcast("room", "e", False, {"n": 2})
    clock.advance(0)
    assert [m["payload"]["n"] for m in got] == [2]
    assert [(i.start_ms, i.end_ms) for i in client.connected_intervals] == [(0.0, 0.0)]


def test_private_channels_are_authorized_once_per_connection() -> None:
    """A private join runs the policy once per topic and connection (rejoins use the cached answer); public never."""
    calls: list[tuple[str, str]] = []

    def authorize(user: str, topic: str) -> bool:
        calls.append((user, topic))
        return user == "admin"

    clock, server = _world(authorize=authorize)
    statuses: dict[str, list[str]] = {}
    for user, private in (("admin", True), ("guest", True), ("anon", False)):
        statuses[user] = []
        _subscribe(PhoenixClient(server, user=user), "admin:1", [], statuses[user], private=private)
    assert [s[0] for s in statuses.values()] == ["SUBSCRIBED", "CHANNEL_ERROR", "SUBSCRIBED"]
    server.channel_error("admin:1")
    clock.advance(1000)
    assert calls == [("admin", "admin:1"), ("guest", "admin:1")]
    assert statuses["admin"][-1] == "SUBSCRIBED"
    assert server.rejected_joins["unauthorized"] == 2


def test_a_new_connection_asks_the_policy_again() -> None:
    """The cached answer belongs to the connection: after a reconnect the private join is authorized anew."""
    calls: list[str] = []
    clock, server = _world(authorize=lambda user, topic: calls.append(user) is None)
    _subscribe(PhoenixClient(server, user="admin"), "admin:1", [], [], private=True)
    server.drop()
    clock.advance(5000)
    assert calls == ["admin", "admin"]


def test_one_client_holds_one_channel_per_topic() -> None:
    """channel(name) returns the open channel: a private one asked for under a public one's name comes back public."""
    clock, server = _world()
    client = PhoenixClient(server)
    public: list[Any] = []
    first = client.channel("t").on_broadcast("*", public.append).subscribe()
    second = client.channel("t", private=True)
    clock.advance(0)
    assert second is first
    assert not second.private
    server.broadcast("t", "e", True, {})
    server.broadcast("t", "e", False, {})
    other: list[Any] = []
    _subscribe(PhoenixClient(server, user="v"), "t", other, [], private=True)
    server.broadcast("t", "e", True, {})
    clock.advance(0)
    assert (len(public), len(other)) == (1, 1)


def test_joins_over_the_channels_per_connection_are_refused() -> None:
    """The 3rd join on a 2-channel plan gets CHANNEL_ERROR; another connection still joins."""
    plan = PlanLimits("tiny", 10, 1000, 100, 2, 1000)
    _, server = _world(plan)
    client = PhoenixClient(server)
    statuses: list[str] = []
    for name in ("a", "b", "c"):
        _subscribe(client, name, [], statuses)
    assert statuses == ["SUBSCRIBED", "SUBSCRIBED", "CHANNEL_ERROR"]
    assert server.rejected_joins == {"channels_per_connection": 1}
    other: list[str] = []
    _subscribe(PhoenixClient(server, user="v"), "c", [], other)
    assert other == ["SUBSCRIBED"]


def test_joins_over_the_connection_cap_are_refused() -> None:
    """With the project's users at the plan's connections, a new user's join fails; a counted user joins more."""
    plan = PlanLimits("two", 2, 1000, 100, 100, 1000)
    _, server = _world(plan)
    clients = [PhoenixClient(server, user=f"u{i}") for i in range(3)]
    statuses: list[list[str]] = [[], [], []]
    for client, seen in zip(clients, statuses, strict=True):
        _subscribe(client, "t", [], seen)
    _subscribe(clients[0], "u", [], statuses[0])
    assert statuses == [["SUBSCRIBED", "SUBSCRIBED"], ["SUBSCRIBED"], ["CHANNEL_ERROR"]]
    assert server.rejected_joins == {"connections": 1}


def _flood(server: PhoenixServer, clock: VirtualClock, seconds: int, per_second: int) -> None:
    for _ in range(seconds):
        for _ in range(per_second):
            server.broadcast("a", "e", False, {})
        clock.advance(1000)


@pytest.mark.parametrize("version", ["2025-08", "2026-08"])
def test_database_broadcasts_over_the_rate_are_dropped_whole_and_close_nothing(version: str) -> None:
    """Over the events counter's average a realtime.send is dropped before fan-out; no channel closes."""
    plan = PlanLimits("tiny", 100, 10, 100, 100, 1000)
    clock, server = _world(plan, realtime=version)
    got: list[Any] = []
    statuses: list[str] = []
    for i in range(5):
        _subscribe(PhoenixClient(server, user=f"u{i}"), "a", got if i == 0 else [], statuses)
    _flood(server, clock, 120, 4)  # 4 messages to 5 subscribers a second: 20 deliveries/s against 10
    assert server.dropped["message_rate"] + len(server.sent) == 480
    assert len(got) == len(server.sent)  # what was let through reached every subscriber
    assert 0 < len(got) <= 10 * 120 // 5  # no more than the limit's 10 deliveries a second allow
    assert set(statuses) == {"SUBSCRIBED"}


def test_a_burst_inside_one_second_is_not_over_the_average() -> None:
    """The counter averages up to a minute of buckets: one second at 3x the limit drops nothing."""
    plan = PlanLimits("tiny", 100, 10, 100, 100, 1000)
    clock, server = _world(plan, realtime="2025-08")
    got: list[Any] = []
    _subscribe(PhoenixClient(server), "a", got, [])
    clock.advance(2000)
    _flood(server, clock, 1, 30)
    assert (len(got), server.dropped) == (30, {})


def test_payload_over_the_plan_is_dropped() -> None:
    """A realtime.send over the plan's payload size reaches nobody and is counted."""
    plan = PlanLimits("tiny", 100, 1000, 100, 100, 1000)
    clock, server = _world(plan)
    got: list[Any] = []
    _subscribe(PhoenixClient(server), "a", got, [])
    assert server.broadcast("a", "e", False, {"x": "y" * 2000}) is None
    assert server.broadcast("a", "e", False, {"x": "y"}) is not None
    clock.advance(0)
    assert (len(got), server.dropped) == (1, {"payload_size": 1})


@pytest.mark.parametrize(("version", "disconnected"), [("2025-08", False), ("2026-08", True)])
def test_a_join_over_the_rate_disconnects_the_socket_from_2026(version: str, disconnected: bool) -> None:
    """Joins over the joins counter are refused; from Realtime 2026-02 (4ae5afb0) the socket is closed too."""
    plan = PlanLimits("tiny", 1000, 1000, 2, 1000, 1000)
    clock, server = _world(plan, realtime=version)
    client = PhoenixClient(server)
    clock.advance(0)
    for second in range(70):  # 3 joins a second against 2
        for prefix in "cde":
            client.channel(f"{prefix}{second}").subscribe()
        clock.advance(1000)
    assert server.rejected_joins["joins_per_second"] > 0
    assert bool(client.connected_intervals) is disconnected
    assert (server.log.count(("connect",)) > 1) is disconnected


def test_the_trace_records_intervals_and_receipts() -> None:
    """A client's trace has its connected and joined intervals and what it received, by message id."""
    clock, server = _world()
    client = PhoenixClient(server, user="u")
    _subscribe(client, "t", [], [])
    server.broadcast("t", "e", False, {})
    clock.advance(10)
    server.drop()
    clock.advance(2000)
    trace = client.trace()
    assert [(i.start_ms, i.end_ms) for i in trace.connected][:1] == [(0.0, 10.0)]
    assert trace.subscribed["t"][0].end_ms == 10.0
    assert trace.received["t"] == ((1, 0.0),)
    assert server.sent[0].topic == "t"


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
