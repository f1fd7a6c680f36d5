"""Sweeps over scenarios × grid points (seeds, clients, plans, scenario keys) through any executor."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest

from _sim_support import TINY
from bcastsim._errors import InputError
from bcastsim.sim import simulate, sweep

JOBS = Path(__file__).parent / "fixtures" / "sim" / "jobs.toml"


def test_sweep_results_do_not_depend_on_the_executor() -> None:
    """Threads, processes and a plain call give the same fingerprints, in grid order."""
    seeds = [1, 2]
    with ThreadPoolExecutor(max_workers=2) as pool:
        threaded = sweep([TINY], seeds, executor=pool, clients=30, architectures=["broadcast"])
    with ProcessPoolExecutor(max_workers=2) as pool:
        processed = sweep([TINY], seeds, executor=pool, clients=30, architectures=["broadcast"])
    direct = [
        simulate(TINY, seed=s, clients=30, architectures=["broadcast"], compare_profiles=()).fingerprint for s in seeds
    ]
    assert [r.fingerprint for r in threaded] == direct
    assert [r.fingerprint for r in processed] == direct
    assert [r.seed for r in threaded] == seeds
    assert set(threaded[0].runs) == {"broadcast:realtime.send"}
    assert threaded[0].runs["broadcast:realtime.send"]["bytes_sent"] is not None


def test_the_grid_runs_every_point_in_order_on_any_executor() -> None:
    """sweep(grid=...) gives one result per point, first key slowest, the same on threads as serially."""
    grid = {"clients": [20, 40], "architectures": ["broadcast", "postgres_changes"]}
    with ThreadPoolExecutor(max_workers=2) as pool:
        threaded = sweep(TINY, grid=grid, executor=pool)
    serial = sweep(TINY, grid=grid, jobs=1)
    assert [r.point for r in threaded] == [
        {"clients": c, "architectures": a} for c in (20, 40) for a in grid["architectures"]
    ]
    assert [r.fingerprint for r in threaded] == [r.fingerprint for r in serial]
    assert list(threaded[1].runs) == ["postgres_changes"]
    direct = simulate(TINY, clients=40, architectures=["postgres_changes"], compare_profiles=())
    assert threaded[3].fingerprint == direct.fingerprint


def test_a_scenario_key_in_the_grid_changes_the_run() -> None:
    """grid={"network.median_ms": [20, 80]} runs the scenario with each latency, as simulate(settings=) does."""
    results = sweep(TINY, grid={"network.median_ms": [20, 80]}, jobs=1, clients=20, architectures=["broadcast"])
    direct = simulate(
        TINY, clients=20, architectures=["broadcast"], compare_profiles=(), settings={"network": {"median_ms": 80}}
    )
    send = "broadcast:realtime.send"
    p99 = direct.runs[0].metrics[send]["latency_ms"]["all"]["p99"]
    assert results[1].runs[send]["latency_p99_ms"] == p99 != results[0].runs[send]["latency_p99_ms"]
    assert results[1].replay.endswith("--set network.median_ms=80")


def test_seeds_and_a_seed_grid_are_one_thing() -> None:
    """sweep(scenario, seeds) is grid={"seed": seeds}; giving both is one error naming the fix."""
    old = sweep([TINY], [1, 2], jobs=1, clients=20, architectures=["broadcast"])
    new = sweep(TINY, grid={"seed": [1, 2]}, jobs=1, clients=20, architectures=["broadcast"])
    assert [r.fingerprint for r in old] == [r.fingerprint for r in new]
    assert [r.point for r in old] == [{"seed": 1}, {"seed": 2}]
    with pytest.raises(InputError, match="seeds given twice"):
        sweep(TINY, [1], grid={"seed": [2]})


def test_progress_hears_each_cell_in_grid_order() -> None:
    """progress is called once per cell with the share done, ending at 1."""
    shares: list[float] = []
    sweep(TINY, grid={"clients": [20, 30]}, jobs=1, architectures=["broadcast"], progress=shares.append)
    assert shares == [0.5, 1.0]


def test_the_headline_latency_is_the_scenarios_own_message() -> None:
    """A user's scenario sweeps the latency of the message its report leads with, not Art Battle's bids."""
    report = simulate(JOBS, clients=5, compare_profiles=())
    (result,) = sweep(JOBS, grid={"clients": [5]}, jobs=1)
    for run in report.runs:
        (name,) = run.architectures
        expected = run.metrics[name]["latency_ms"][report.headline]["p99"]
        assert result.runs[run.label]["headline_latency_p99_ms"] == expected is not None
