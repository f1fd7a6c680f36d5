"""Sweeps: a grid of scenarios × seeds through any ``concurrent.futures.Executor``.

Each cell is one :func:`~bcastsim.sim.simulate` call in a worker, returning a small picklable
summary, so a ``ProcessPoolExecutor`` (the default), a thread pool or a Dask
``client.get_executor()`` all work unchanged.
"""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

__all__ = ["SweepCell", "SweepResult", "sweep"]


@attrs.frozen
class SweepCell:
    scenario: str
    seed: int
    options: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class SweepResult:
    """The headline metrics of one cell, per run label (architecture, plan or rollout stage)."""

    scenario: str
    seed: int
    fingerprint: str
    replay: str
    runs: Mapping[str, Mapping[str, float | None]]


def _headline(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    return {
        "realtime_db_time_ms": metrics["database"]["realtime_time_ms"],
        "bytes_sent": metrics["bytes_sent"],
        "bid_latency_p99_ms": metrics["latency_ms"].get("bid_update", {}).get("p99"),
        "latency_p99_ms": metrics["latency_ms"]["all"]["p99"],
        "peak_poller_lag_ms": metrics["peak_poller_lag_ms"],
        "peak_retained_wal_bytes": metrics["peak_retained_wal_bytes"],
        "lost_per_client": metrics["updates"]["lost_per_client_mean"],
        # The rollback trigger's measure: (re)connections the service refused, once per client and drop.
        "connection_failure_rate": metrics["connections"]["episode_failure_rate"],
        "channels_closed": metrics["limit_violations"]["channels_closed_over_message_rate"],
    }


def run_cell(cell: SweepCell) -> SweepResult:
    """Run one grid cell (module level, so process pools can pickle it)."""
    from bcastsim.sim._api import simulate

    options = dict(cell.options)
    options.setdefault("compare_profiles", ())  # a sweep compares seeds: the extra profile runs stay off
    report = simulate(cell.scenario, seed=cell.seed, **options)
    runs = {}
    for run in report.runs:
        for name in run.architectures:
            key = run.label if len(run.architectures) == 1 else f"{run.label} {name}"
            runs[key] = _headline(run.metrics[name])
    return SweepResult(cell.scenario, cell.seed, report.fingerprint, report.replay_command, runs)


def sweep(
    scenarios: Sequence[str | Path],
    seeds: Iterable[int],
    *,
    executor: concurrent.futures.Executor | None = None,
    **options: Any,
) -> list[SweepResult]:
    """Run every scenario with every seed; results come back in grid order whatever finishes first.

    ``options`` go to :func:`~bcastsim.sim.simulate` (``clients``, ``plan``, ``architectures``, ...).
    Without an executor a ``ProcessPoolExecutor`` with one worker per CPU runs the grid.
    """
    cells = [SweepCell(str(s), seed, dict(options)) for s in scenarios for seed in seeds]
    if executor is not None:
        return list(executor.map(run_cell, cells))
    workers = max(1, min(len(cells), os.cpu_count() or 1))
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run_cell, cells))
