"""postgres_changes and broadcast as the simulator models them, against FACTS.md."""

from __future__ import annotations

import itertools

import pytest

from _sim_support import one_topic_world
from bcastsim.sim import PostgresChanges, app_model, load_costs, load_scenario


def _seed_app():  # type: ignore[no-untyped-def]
    return app_model(load_scenario("artbattle"))


def _poller(sim: object) -> PostgresChanges:
    arch = sim.architectures[0]  # type: ignore[attr-defined]
    assert isinstance(arch, PostgresChanges)
    return arch


def test_one_insert_costs_one_authorization_read_per_subscriber() -> None:
    """FACTS: 100 subscribers, one insert -> 100 reads, and each subscriber gets the change."""
    sim = one_topic_world(arch="postgres_changes", audience=100, writes=[(30_000.0, "bid")])
    metrics = sim.metrics["postgres_changes"]
    assert metrics.db_queries["authorization_reads"] == 100
    assert metrics.messages_sent == 100


def test_poller_reads_at_most_100_changes_and_repolls_at_once() -> None:
    """A burst of 250 changes comes back as 100, 100, 50, each poll starting when the previous one ends."""
    sim = one_topic_world(arch="postgres_changes", audience=10, writes=[(30_000.0, "bid")] * 250)
    busy = [entry for entry in _poller(sim).poll_log if entry[1]]
    assert [rows for _start, rows, _duration in busy] == [100, 100, 50]
    for (start, _rows, duration), (next_start, _r, _d) in itertools.pairwise(busy):
        assert next_start == start + duration


def test_idle_poller_backs_off_to_five_intervals() -> None:
    """With nothing to read, polls space out from 100 ms up to 5x that and no further."""
    sim = one_topic_world(arch="postgres_changes", audience=1, writes=[], duration_s=30.0)
    log = _poller(sim).poll_log
    gaps = [b[0] - (a[0] + a[2]) for a, b in itertools.pairwise(log)]
    assert gaps[0] == pytest.approx(100.0)
    assert max(gaps) == pytest.approx(500.0)
    assert all(later >= earlier - 1e-6 for earlier, later in itertools.pairwise(gaps))


def test_bursts_build_lag_and_retained_wal() -> None:
    """One thread authorizes every change for every subscriber: a burst's last change waits for all of it."""
    costs = load_costs()
    sim = one_topic_world(arch="postgres_changes", audience=2000, writes=[(30_000.0, "bid")] * 300)
    metrics = sim.metrics["postgres_changes"]
    assert metrics.peak_lag_ms >= 300 * 2000 * costs.auth_read_ms
    assert metrics.peak_retained_wal_bytes >= 200 * costs.wal_bytes_per_write
    assert max(metrics.series["poller_lag_ms"]) > 0


def test_pg_notify_reaches_no_subscriber() -> None:
    """FACTS: Realtime never delivers plain pg_notify, so every subscriber misses every update."""
    sim = one_topic_world(arch="broadcast:pg_notify", audience=50, writes=[(30_000.0, "bid"), (40_000.0, "bid")])
    metrics = sim.metrics["broadcast:pg_notify"]
    assert metrics.messages_sent == 0
    assert metrics.updates_lost == 2 * 50
    assert metrics.checker["counts"]["lost"] == 2 * 50
    assert not metrics.checker["ok"]


def test_realtime_send_reaches_every_subscriber_once() -> None:
    """realtime.send delivers each message to every subscriber of its topic, after replication."""
    sim = one_topic_world(arch="broadcast:realtime.send", audience=50, writes=[(30_000.0, "bid"), (40_000.0, "bid")])
    metrics = sim.metrics["broadcast:realtime.send"]
    assert metrics.deliveries_by_kind == {"bid_update": 100}
    assert metrics.checker["ok"]
    assert metrics.updates_lost == 0
    p50 = metrics.latency_percentiles("bid_update")["p50"]
    assert p50 is not None
    assert p50 >= sim.scenario.broadcast.replication_ms


def test_identical_clients_are_handled_as_one_group() -> None:
    """2,000 identical clients are one group: deliveries are counted per client, work is done per group."""
    sim = one_topic_world(arch="broadcast:realtime.send", audience=2000, writes=[(30_000.0, "bid")] * 20)
    assert len(sim.cohorts) == 1
    assert sim.metrics["broadcast:realtime.send"].messages_sent == 20 * 2000


def test_full_records_outweigh_custom_payloads() -> None:
    """A postgres_changes bid frame carries the whole row; the broadcast bid frame only the seed's keys."""
    pc = one_topic_world(arch="postgres_changes", audience=10, writes=[(30_000.0, "bid")])
    bc = one_topic_world(arch="broadcast:realtime.send", audience=10, writes=[(30_000.0, "bid")])
    per_pc = pc.metrics["postgres_changes"].bytes_sent / 10
    per_bc = bc.metrics["broadcast:realtime.send"].bytes_sent / 10
    assert per_pc > per_bc > 0
    assert len(_seed_app().row_json("bids").encode()) == 208  # FACTS: the bid row as row_to_json


def test_seed_bid_payload_size_matches_postgres() -> None:
    """The bid payload valued from the contracts' column types is about the ~305 bytes FACTS measured."""
    bid = next(m for m in _seed_app().messages if m.kind == "bid_update" and m.pattern.startswith("broadcast:bid:"))
    assert abs(bid.notify_bytes - 305) <= 20
    assert bid.pattern == "broadcast:bid:{bids.art_id}"


def test_seed_page_adds_listeners_when_artworks_appear(monkeypatch: pytest.MonkeyPatch) -> None:
    """The seed's effect re-runs without cleanup when the final's canvases appear: later messages query twice."""
    import attrs

    from _sim_support import tiny
    from bcastsim.sim import _api, simulate

    real = _api.behaviour
    # The listener pile-up shows only where the page can read a message, so read the payload here.
    monkeypatch.setattr(_api, "behaviour", lambda name: attrs.evolve(real(name), page_reads_broadcast=True))
    runs = {
        profile: simulate(tiny(), profile=profile, architectures=["broadcast"])
        .runs[0]
        .metrics["broadcast:realtime.send"]
        for profile in ("seed", "realtime_js")
    }
    seed, plain = runs["seed"], runs["realtime_js"]
    assert seed["messages_sent"] == plain["messages_sent"]
    extra = seed["database"]["queries"]["client_reaction_queries"]
    base = plain["database"]["queries"]["client_reaction_queries"]
    assert base < extra <= 2 * base


def test_seed_page_gets_updates_on_the_socket_and_shows_none() -> None:
    """The seed's callbacks read the envelope: broadcasts reach the socket, never the page, and query nothing."""
    from _sim_support import tiny
    from bcastsim.sim import simulate

    seed = simulate(tiny(), profile="seed", architectures=["broadcast"]).runs[0].metrics["broadcast:realtime.send"]
    plain = (
        simulate(tiny(), profile="realtime_js", architectures=["broadcast"]).runs[0].metrics["broadcast:realtime.send"]
    )
    assert seed["user_visible"]["delivered_to_socket"] > 0
    assert seed["user_visible"]["applied_by_page"] == 0
    assert seed["user_visible"]["shown_within_5s"] == 0
    assert seed["database"]["queries"]["client_reaction_queries"] == 0
    assert plain["user_visible"]["applied_by_page"] == plain["user_visible"]["delivered_to_socket"]
    assert 0 < plain["user_visible"]["shown_within_1s"] <= plain["user_visible"]["shown_within_5s"]
    assert plain["database"]["queries"]["client_reaction_queries"] > 0


def test_postgres_changes_pages_apply_what_they_receive() -> None:
    """Today's page reads postgres_changes records, whatever the profile's broadcast callbacks do."""
    from _sim_support import tiny
    from bcastsim.sim import simulate

    m = simulate(tiny(), profile="seed", architectures=["postgres_changes"]).runs[0].metrics["postgres_changes"]
    assert m["user_visible"]["applied_by_page"] == m["user_visible"]["delivered_to_socket"] > 0


def test_broadcast_changes_sends_the_whole_row() -> None:
    """realtime.broadcast_changes carries the whole row: each delivery holds the row JSON and its envelope."""
    send = one_topic_world(arch="broadcast:realtime.send", audience=10, writes=[(30_000.0, "bid")])
    changes = one_topic_world(arch="broadcast:broadcast_changes", audience=10, writes=[(30_000.0, "bid")])
    sent = send.metrics["broadcast:realtime.send"]
    whole = changes.metrics["broadcast:broadcast_changes"]
    assert whole.messages_sent == sent.messages_sent == 10
    row = len(_seed_app().row_json("bids").encode())
    assert row < whole.bytes_sent / 10 < row + 400
    assert whole.bytes_sent != sent.bytes_sent  # another frame than the trigger's own payload
