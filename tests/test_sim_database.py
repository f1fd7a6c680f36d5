"""The database has a capacity: its cores serve the queries, the rest wait, beyond the pooler they are refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcastsim._errors import InputError
from bcastsim.sim import load_scenario, simulate
from bcastsim.sim._database import Compute, Database, compute_of, load_compute

TWO_CORES = Compute(name="test", cores=2.0, max_connections=60.0, pooler_max_clients=200.0)


def test_compute_sizes_carry_cores_and_connection_limits() -> None:
    """models/compute.toml gives every Supabase size its cores, max connections and pooler clients."""
    sizes = load_compute()
    assert sizes["micro"] == Compute("micro", 2.0, 60.0, 200.0)
    assert sizes["xl"].cores == 4.0
    assert sizes["16xl"].pooler_max_clients == 12_000.0
    assert compute_of(load_scenario("artbattle")).name == "micro"


def test_unknown_compute_size_is_an_input_error() -> None:
    """A misspelt compute size names the sizes there are."""
    scenario = load_scenario("artbattle").with_overrides(database={"compute": "mikro"})
    with pytest.raises(InputError, match="unknown compute size"):
        compute_of(scenario)


def test_work_under_capacity_never_waits() -> None:
    """1.5 s of work per second on 2 cores: nothing queues, nothing is refused."""
    db = Database(TWO_CORES)
    for second in range(10):
        db.charge(second * 1000.0, 150, 10.0)
    assert db.delay_ms(10_500.0) == 0.0
    db.finish(10_000.0)
    assert db.failed == 0.0
    assert db.peak_utilisation == pytest.approx(0.75)


def test_work_over_capacity_queues_by_the_excess() -> None:
    """3 s of work per second on 2 cores: the backlog grows 1 s a second, a query waits backlog / cores."""
    db = Database(TWO_CORES)
    for second in range(4):
        db.charge(second * 1000.0, 30, 100.0)
    # At 4 s: four seconds of 1 s excess queued, served by 2 cores: 2 s of waiting.
    assert db.delay_ms(4000.0) == pytest.approx(2000.0)
    assert db.busy_seconds == 4


def test_beyond_the_poolers_clients_requests_are_refused() -> None:
    """Little's law: queries per second x wait beyond pooler_max_clients waiting at once are refused."""
    db = Database(TWO_CORES)
    db.charge(0.0, 1000, 10.0)  # 10 s of work at once: 8 s of it waits, 4 s for a core
    db.delay_ms(1000.0)
    waiting = 1000 * (8000.0 / 2) / 1000.0  # 4,000 queries in the pooler at once
    assert db.failed == pytest.approx(1000 * (1 - 200 / waiting))


def test_saturation_shows_as_poller_lag_and_refused_requests() -> None:
    """The same event on a small and a large compute: the small one's poller waits for cores and refuses requests."""
    runs = {
        size: simulate(
            "artbattle",
            clients=1000,
            architectures=["postgres_changes"],
            plan="unlimited",
            reference_plan="none",
            compare_profiles=(),
            settings={"database": {"compute": size}},
        )
        .runs[0]
        .metrics["postgres_changes"]
        for size in ("micro", "16xl")
    }
    small, large = runs["micro"], runs["16xl"]
    assert small["database"]["capacity"]["peak_utilisation"] > 1.0
    assert small["database"]["capacity"]["failed_requests"] > 0
    assert large["database"]["capacity"]["failed_requests"] == 0
    assert small["peak_poller_lag_ms"] > large["peak_poller_lag_ms"]


_MS = st.floats(0.0, 5.0, allow_subnormal=False)


@given(st.lists(st.tuples(st.floats(0.0, 5_000.0), st.none() | _MS, st.integers(0, 3), _MS, st.integers(0, 3), _MS)))
def test_a_writes_charges_at_once_are_its_charges_one_by_one(
    writes: list[tuple[float, float | None, int, float, int, float]],
) -> None:
    """charge_write adds what the statement's, the lookups' and each send's charge would, bit for bit."""
    at_once, one_by_one = Database(TWO_CORES), Database(TWO_CORES)
    # In time order, as the clock moves (a statement's charge may be None: nothing to sort it by).
    for now, insert_ms, lookups, lookup_ms, sends, send_ms in sorted(writes, key=lambda write: write[0]):
        at_once.charge_write(now, insert_ms, lookups, lookup_ms, sends, send_ms)
        if insert_ms is not None:
            one_by_one.charge(now, 1, insert_ms)
        one_by_one.charge(now, lookups, lookup_ms)
        for _ in range(sends):
            one_by_one.charge(now, 1, send_ms)
    at_once.finish(6_000.0)
    one_by_one.finish(6_000.0)
    assert vars(at_once) == vars(one_by_one)
