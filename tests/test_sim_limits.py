"""Plan limits and their consequences: refused connections, closed channels, queued joins."""

from __future__ import annotations

import pytest

from _sim_support import one_topic_world
from bcastsim.sim import load_plans


def test_plans_follow_the_published_limits() -> None:
    """Free / Pro / Team carry the FACTS.md numbers; unlimited enforces nothing."""
    plans = load_plans(include_unlimited=True)
    assert (plans["free"].connections, plans["pro"].connections, plans["team"].connections) == (200, 500, 10_000)
    assert (plans["free"].messages_per_second, plans["team"].messages_per_second) == (100, 2_500)
    assert plans["pro"].channels_per_connection == 100
    assert plans["unlimited"].connections == float("inf")


def test_connections_over_the_plan_are_refused() -> None:
    """300 clients on Free (200 connections): 100 are refused and keep retrying; never more than 200 connect."""
    sim = one_topic_world(arch="broadcast:realtime.send", audience=300, writes=[], plan="free", duration_s=60.0)
    metrics = sim.metrics["broadcast:realtime.send"]
    assert metrics.violations["connections_refused"] >= 100
    assert max(metrics.series["connected_clients"]) == 200
    assert metrics.connection_failures == metrics.violations["connections_refused"]


def test_message_rate_closes_channels_and_seed_clients_stay_closed() -> None:
    """Fan-out counts per subscriber: a second bid in the same second exceeds Pro's 500/s and closes channels."""
    writes = [(30_000.0, "bid"), (30_100.0, "bid"), (50_000.0, "bid")]
    sim = one_topic_world(arch="broadcast:realtime.send", audience=400, writes=writes, plan="pro")
    metrics = sim.metrics["broadcast:realtime.send"]
    assert metrics.deliveries_by_kind["bid_update"] == 400
    assert metrics.violations["channels_closed_over_message_rate"] == 400
    assert metrics.updates_lost == 2 * 400  # the seed never rejoins after CLOSED


def test_recommended_profile_rejoins_after_close() -> None:
    """A profile that rejoins after CLOSED receives the next update once the rate allows it again."""
    writes = [(30_000.0, "bid"), (30_100.0, "bid"), (50_000.0, "bid")]
    sim = one_topic_world(
        arch="broadcast:realtime.send", audience=400, writes=writes, plan="pro", profile="recommended"
    )
    metrics = sim.metrics["broadcast:realtime.send"]
    assert metrics.deliveries_by_kind["bid_update"] == 2 * 400
    assert metrics.updates_lost == 400


def test_joins_over_the_rate_are_rejected_and_retried() -> None:
    """400 clients × 3 channels on Pro (500 joins/s): the server rejects what exceeds the second's budget
    (TooManyJoins) and Phoenix's rejoin timer (1 s, then 2 s) brings the rest in."""
    writes = [(500.0, "bid"), (3_000.0, "bid")]
    sim = one_topic_world(arch="broadcast:realtime.send", audience=400, writes=writes, plan="pro")
    metrics = sim.metrics["broadcast:realtime.send"]
    assert metrics.violations["channel_joins_rejected"] == 400 * 2 + 400
    rtt = sim.scenario.network.join_rtt_ms
    assert metrics.violations["max_join_queue_ms"] == pytest.approx(1000.0 + 2000.0 + rtt)
    assert metrics.messages_sent == 2 * 400  # the bid channel was the first join and got in at once


def test_channels_beyond_100_per_connection_are_refused() -> None:
    """With 60 artworks the seed's page wants 121 channels; 21 per client are refused."""
    sim = one_topic_world(arch="broadcast:realtime.send", audience=5, writes=[], plan="team", artworks=60)
    metrics = sim.metrics["broadcast:realtime.send"]
    assert metrics.violations["channels_refused_over_per_connection_limit"] == 5 * 21


def test_client_checks_read_the_simulators_audience_and_plans() -> None:
    """plan.fan-out speaks of the default event's audience and the plans' message rates, not numbers of its own."""
    from bcastsim.client import PROFILES
    from bcastsim.client._checks import _check_fan_out
    from bcastsim.sim import load_plans, load_scenario

    audience = load_scenario("artbattle").audience
    (finding,) = _check_fan_out(PROFILES["seed"], load_plans())
    assert f"with {audience} viewers each bid fans out to {audience} messages" in finding.message
    for name, plan in load_plans().items():
        assert f"{name} {plan.messages_per_second / audience:g}" in finding.message
