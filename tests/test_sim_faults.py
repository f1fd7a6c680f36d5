"""Faults: server restarts, client disconnects and partitions, with reconnection per client profile."""

from __future__ import annotations

from _sim_support import one_topic_world
from bcastsim.sim import FaultConfig


def test_restart_drops_every_socket_and_clients_follow_the_backoff() -> None:
    """realtime-js retries after 1 s, 2 s, 5 s: a 6 s outage costs two failed attempts and ends at +8 s."""
    restart = FaultConfig(kind="restart", at_s=30.0, fraction=1.0, duration_s=6.0)
    sim = one_topic_world(arch="broadcast:realtime.send", audience=50, writes=[], faults=(restart,))
    metrics = sim.metrics["broadcast:realtime.send"]
    assert metrics.connection_failures == 2 * 50
    (cohort,) = sim.cohorts
    assert [start for start, _end in cohort.conn_intervals] == [0.0, 38_000.0]


def test_jittered_profile_spreads_reconnects() -> None:
    """With full jitter, one wave of clients reconnects at several different times."""
    restart = FaultConfig(kind="restart", at_s=30.0, fraction=1.0, duration_s=6.0)
    sim = one_topic_world(
        arch="broadcast:realtime.send", audience=80, writes=[], faults=(restart,), profile="recommended"
    )
    reconnects = {c.conn_intervals[1][0] for c in sim.cohorts if len(c.conn_intervals) > 1}
    assert len(reconnects) > 1
    assert sum(c.n for c in sim.cohorts) == 80


def test_updates_during_a_disconnect_are_lost_unless_refetched() -> None:
    """At most once: a bid sent while clients are away is lost; a refetching profile recovers it."""
    drop = FaultConfig(kind="disconnect", at_s=30.0, fraction=1.0, duration_s=20.0)
    writes = [(40_000.0, "bid"), (80_000.0, "bid")]
    seed = one_topic_world(arch="broadcast:realtime.send", audience=20, writes=writes, faults=(drop,))
    good = one_topic_world(
        arch="broadcast:realtime.send", audience=20, writes=writes, faults=(drop,), profile="recommended"
    )
    for sim in (seed, good):
        metrics = sim.metrics["broadcast:realtime.send"]
        assert metrics.deliveries_by_kind["bid_update"] == 20
        assert metrics.lost_per_client_mean == 1
        # Owed all the same: the clients meant to follow the topic; the checker and the table agree.
        assert metrics.checker["counts"]["lost"] == metrics.updates_lost == 20
        assert metrics.updates_lost_while_subscribed == 0  # lost while away, not in transit
    assert seed.metrics["broadcast:realtime.send"].unrecovered_per_client_mean == 1
    assert good.metrics["broadcast:realtime.send"].unrecovered_per_client_mean == 0
    assert good.metrics["broadcast:realtime.send"].updates_recovered == 20
    assert good.metrics["broadcast:realtime.send"].db_queries["refetch_queries"] > 0


def test_partition_loses_updates_silently() -> None:
    """A partitioned client still looks connected until its heartbeat fails: the update is LOST."""
    cut = FaultConfig(kind="partition", at_s=30.0, fraction=0.5, duration_s=90.0)
    sim = one_topic_world(
        arch="broadcast:realtime.send", audience=20, writes=[(35_000.0, "bid")], faults=(cut,), duration_s=200.0
    )
    metrics = sim.metrics["broadcast:realtime.send"]
    assert metrics.lost_in_partition == 10
    assert metrics.checker["counts"]["lost"] == 10
    assert metrics.deliveries_by_kind["bid_update"] == 10
    assert max(len(c.conn_intervals) for c in sim.cohorts) == 2  # detected, then reconnected after the heal


def test_restart_drops_the_temporary_slot() -> None:
    """postgres_changes' slot is temporary: a change committed while Realtime is down is never delivered."""
    restart = FaultConfig(kind="restart", at_s=30.0, fraction=1.0, duration_s=10.0)
    writes = [(20_000.0, "bid"), (35_000.0, "bid"), (60_000.0, "bid")]
    sim = one_topic_world(arch="postgres_changes", audience=10, writes=writes, faults=(restart,))
    metrics = sim.metrics["postgres_changes"]
    assert metrics.messages_sent == 2 * 10
    assert metrics.updates_lost == 10
