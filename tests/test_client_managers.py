"""Subscriber managers under the same operations: seed port, plain realtime-js, recommended."""

from __future__ import annotations

import json

from hypothesis import given

from bcastsim.client import (
    PROFILES,
    Advance,
    Broadcast,
    ChannelClose,
    OpRunner,
    SocketDrop,
    Subscribe,
    System,
    Unsubscribe,
)
from bcastsim.client._ops import ClientOp
from bcastsim.strategies import client_ops


def _run(profile: str, ops: list[ClientOp]) -> OpRunner:
    runner = OpRunner(PROFILES[profile])
    runner.run(ops)
    return runner


def test_seed_listeners_get_the_envelope_and_recommended_ones_the_payload() -> None:
    """The seed passes realtime-js's envelope through; recommended hands over envelope.payload."""
    ops: list[ClientOp] = [Subscribe("c", "e", 1), Broadcast("c", "e")]
    assert _run("seed", ops).deliveries[0][2]["type"] == "broadcast"
    assert _run("recommended", ops).deliveries[0][2] == {"type": "e", "seq": 1}


def test_seed_second_subscription_shares_the_first_filter() -> None:
    """createChannel on an existing channel pushes the callback without its own event filter."""
    ops: list[ClientOp] = [Subscribe("c", "a", 1), Subscribe("c", "b", 2), Broadcast("c", "a"), Broadcast("c", "b")]
    seed = _run("seed", ops)
    assert [(listener, v["event"]) for _, listener, v in seed.deliveries] == [(1, "a"), (2, "a")]
    recommended = _run("recommended", ops)
    assert [(listener, v["type"]) for _, listener, v in recommended.deliveries] == [(1, "a"), (2, "b")]


def test_seed_unsubscribe_removes_every_listener_of_the_channel() -> None:
    """Unsubscribing one caller silences the others in the seed, not in recommended."""
    ops: list[ClientOp] = [Subscribe("c", "e", 1), Subscribe("c", "e", 2), Unsubscribe(1), Broadcast("c", "e")]
    assert _run("seed", ops).deliveries == []
    assert [listener for _, listener, _ in _run("recommended", ops).deliveries] == [2]


def test_seed_reconnect_waits_for_a_status_that_never_comes() -> None:
    """Real closes schedule no seed timer; a counterfactual system CLOSED schedules 1000 ms every time."""
    real = _run("seed", [Subscribe("c", "e", 1), ChannelClose("c"), Advance(60_000)])
    assert [t for t in real.clock.scheduled if t.label == "app"] == []
    ops: list[ClientOp] = [Subscribe("c", "e", 1)]
    for _ in range(7):
        ops += [System("c", "CLOSED"), Advance(60_000)]
    counterfactual = _run("seed", ops)
    assert [t.delay_ms for t in counterfactual.clock.scheduled if t.label == "app"] == [1000.0] * 7


def test_recommended_recreates_closed_channels_and_resyncs() -> None:
    """After CLOSED the recommended manager makes a new channel, and every SUBSCRIBED asks for a refetch."""
    runner = _run(
        "recommended",
        [
            Subscribe("c", "e", 1),
            ChannelClose("c"),
            Advance(60_000),
            SocketDrop(),
            Advance(60_000),
            Broadcast("c", "e"),
        ],
    )
    assert [listener for _, listener, _ in runner.deliveries] == [1]
    assert [name for _, name in runner.resyncs] == ["c", "c", "c"]


@given(client_ops())
def test_runs_are_deterministic(ops: list[ClientOp]) -> None:
    """The same operations give the same observations, for every profile."""
    for name in PROFILES:
        first = [json.dumps(o.to_json(), sort_keys=True) for o in OpRunner(PROFILES[name]).run(ops)]
        second = [json.dumps(o.to_json(), sort_keys=True) for o in OpRunner(PROFILES[name]).run(ops)]
        assert first == second


@given(client_ops())
def test_recommended_stats_count_live_subscriptions(ops: list[ClientOp]) -> None:
    """Recommended's listener count equals subscriptions minus unsubscriptions, whatever fails."""
    runner = OpRunner(PROFILES["recommended"])
    live: dict[int, int] = {}
    for op in ops:
        observation = runner.apply(op)
        if isinstance(op, Subscribe):
            live[op.listener] = live.get(op.listener, 0) + 1
        elif isinstance(op, Unsubscribe) and live.get(op.listener):
            live[op.listener] -= 1
        elif type(op).__name__ == "UnsubscribeAll":
            live.clear()
        assert observation.stats[1] == sum(live.values())
