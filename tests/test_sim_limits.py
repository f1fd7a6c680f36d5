"""Plan limits and their consequences: refused connections, closed channels, queued joins."""

from __future__ import annotations

import pytest

from _sim_support import one_topic_world
from bcastsim.sim import FaultConfig, load_plans
from bcastsim.sim._realtime_rules import realtime_versions
from bcastsim.sim._sim import Cohort, Simulation


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


def _got_last_bid(sim: Simulation) -> int:
    """How many clients received the last bid update."""
    last = max(s.message_id for s in sim.sent if s.topic.startswith("broadcast:bid:"))
    return sum(c.n for c in sim.cohorts if any(m == last for got in c.received.values() for m, _ in got))


# Two bids a second from 10 s to 60 s to 400 subscribers: 800 deliveries/s, 1.6 times Pro's 500/s.
_SUSTAINED = [(10_000.0 + 500.0 * k, "bid") for k in range(100)]


@pytest.mark.parametrize("realtime", realtime_versions())
def test_a_burst_inside_a_second_closes_nothing(realtime: str) -> None:
    """Two bids 100 ms apart to 400 subscribers (800 in one second on Pro's 500/s): Realtime judges the
    minute's average, which stays far below the limit, so both arrive and no channel closes."""
    writes = [(30_000.0, "bid"), (30_100.0, "bid"), (50_000.0, "bid")]
    sim = one_topic_world(arch="broadcast:realtime.send", audience=400, writes=writes, plan="pro", realtime=realtime)
    metrics = sim.metrics["broadcast:realtime.send"]
    assert metrics.deliveries_by_kind["bid_update"] == 3 * 400
    assert metrics.violations["channels_closed_over_message_rate"] == 0
    assert metrics.updates_lost == 0


@pytest.mark.parametrize("realtime", realtime_versions())
def test_a_sustained_overload_drops_database_broadcasts_and_closes_no_channel(realtime: str) -> None:
    """1.6 times Pro's rate for 50 s: once the minute's average passes 500/s, Realtime's replication connection
    drops each database broadcast whole (every subscriber loses it) until the average falls again; no delivery
    reaches a channel while over, so no channel closes, and the rate that gets through is about the limit."""
    sim = one_topic_world(
        arch="broadcast:realtime.send", audience=400, writes=_SUSTAINED, plan="pro", duration_s=120.0, realtime=realtime
    )
    metrics = sim.metrics["broadcast:realtime.send"]
    dropped = metrics.violations["broadcasts_dropped_over_message_rate"]
    assert dropped > 0
    assert metrics.violations["channels_closed_over_message_rate"] == 0
    delivered = metrics.deliveries_by_kind["bid_update"]
    assert delivered == 400 * (100 - dropped)
    assert metrics.updates_lost == 400 * dropped
    assert delivered < 0.8 * 400 * 100  # the limit lets through 500 of the 802 counted per second, and a ramp


def test_after_an_overload_the_next_bid_reaches_every_profile() -> None:
    """Database broadcasts over the rate are dropped, not channels: once the minute's average is back below the
    limit, a later bid reaches every subscriber whether or not its profile rejoins after CLOSED."""
    writes = [*_SUSTAINED, (150_000.0, "bid")]
    for profile in ("seed", "recommended"):
        sim = one_topic_world(
            arch="broadcast:realtime.send", audience=400, writes=writes, plan="pro", profile=profile, duration_s=160.0
        )
        assert sim.metrics["broadcast:realtime.send"].violations["broadcasts_dropped_over_message_rate"] > 0
        assert _got_last_bid(sim) == 400


def test_postgres_changes_are_never_closed_and_dropped_at_the_poller_from_2025_11() -> None:
    """The same overload under postgres_changes: 2025-08 delivers everything; later versions drop whole polls
    at the poller while the db-events counter is over, and close no channel in either."""
    old = one_topic_world(arch="postgres_changes", audience=400, writes=_SUSTAINED, plan="pro", realtime="2025-08")
    new = one_topic_world(arch="postgres_changes", audience=400, writes=_SUSTAINED, plan="pro", realtime="2025-11")
    for sim in (old, new):
        assert sim.metrics["postgres_changes"].violations["channels_closed_over_message_rate"] == 0
    assert old.metrics["postgres_changes"].updates_lost == 0
    dropped = new.metrics["postgres_changes"].violations["changes_dropped_at_poller"]
    assert dropped > 0
    assert new.metrics["postgres_changes"].updates_lost == 400 * dropped


def test_joins_over_the_average_are_rejected_and_retried() -> None:
    """190 clients × 3 channels on Free (100 joins/s) join at once (a burst: admitted); after a restart at 2 s
    they join again while the minute's average is still over 100/s: rejected (TooManyJoins) and retried on
    Phoenix's rejoin timer until the average falls, then all get in."""
    restart = (FaultConfig(kind="restart", at_s=2.0, duration_s=1.0),)
    sim = one_topic_world(
        arch="broadcast:realtime.send",
        audience=190,
        writes=[(100_000.0, "bid")],
        plan="free",
        faults=restart,
        realtime="2025-08",
        duration_s=120.0,
    )
    metrics = sim.metrics["broadcast:realtime.send"]
    assert metrics.violations["channel_joins_rejected"] > 0
    assert metrics.violations["sockets_closed_over_join_rate"] == 0
    assert metrics.violations["max_join_queue_ms"] >= 1000.0
    assert _got_last_bid(sim) == 190


def test_from_2026_a_join_over_the_rate_closes_the_socket() -> None:
    """Realtime 2026-08 (5 s ticks) answers a join made while the joins counter is triggered by disconnecting
    the socket; the clients reconnect and get in once a tick clears the flag."""
    restart = (FaultConfig(kind="restart", at_s=6.0, duration_s=1.0),)
    sim = one_topic_world(
        arch="broadcast:realtime.send",
        audience=190,
        writes=[(100_000.0, "bid")],
        plan="free",
        faults=restart,
        realtime="2026-08",
        duration_s=120.0,
    )
    metrics = sim.metrics["broadcast:realtime.send"]
    assert metrics.violations["sockets_closed_over_join_rate"] > 0
    assert _got_last_bid(sim) == 190


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


class _RetryByRetry(Simulation):
    """The simulator without the waiting room: every refused retry is an event of its own."""

    def _retry(self, cohort: Cohort, wait_ms: float = 0.0, *, park: bool = False) -> None:
        super()._retry(cohort, wait_ms)


@pytest.mark.parametrize("profile", ["seed", "realtime_js", "recommended"])
def test_clients_refused_at_the_cap_are_counted_as_if_each_retry_ran(profile: str) -> None:
    """300 clients on Free (200 connections) with a drop of 30 % at 40 s and a restart at 90 s: counting the
    refused clients' retries while the cap is full gives the same attempts, failures, deliveries and losses
    as running every retry."""
    faults = (
        FaultConfig(kind="disconnect", at_s=40.0, fraction=0.3, duration_s=5.0),
        FaultConfig(kind="restart", at_s=90.0, duration_s=3.0),
    )
    writes = [(5_000.0 * k, "bid") for k in range(1, 40)]
    runs = [
        one_topic_world(
            arch="broadcast:realtime.send",
            audience=300,
            writes=writes,
            plan="free",
            profile=profile,
            faults=faults,
            duration_s=200.0,
            cls=cls,
        ).metrics["broadcast:realtime.send"]
        for cls in (Simulation, _RetryByRetry)
    ]
    counted, simulated = (m.to_json() for m in runs)
    assert counted["connections"]["attempts"] > 300
    assert counted["connections"] == simulated["connections"]
    assert counted["limit_violations"] == simulated["limit_violations"]
    assert (runs[0].updates_lost, runs[0].messages_sent) == (runs[1].updates_lost, runs[1].messages_sent)
