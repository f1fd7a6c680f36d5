"""Sweeps: a grid of scenarios × parameter values through any ``concurrent.futures.Executor``.

Each cell is one :func:`~bcastsim.sim.simulate` call in a worker, returning a small picklable
summary, so a ``ProcessPoolExecutor`` (the default), a thread pool or a Dask
``client.get_executor()`` all work unchanged. Every value of the grid is checked in the calling
process before any cell runs, so a bad value is one line, not a failure in a worker.
"""

from __future__ import annotations

import concurrent.futures
import csv
import io
import itertools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from bcastsim._errors import InputError
from bcastsim._io import json_text
from bcastsim._toml import LIMIT_SCALE_ENV, limit_scale

__all__ = [
    "HEADLINE",
    "SWEEP_KEYS",
    "Headline",
    "SweepCell",
    "SweepResult",
    "run_cell",
    "sweep",
    "sweep_csv",
    "sweep_grid",
    "sweep_json",
    "sweep_table",
]

# The grid keys simulate() takes directly; any other key is a scenario key written section.key.
SWEEP_KEYS = ("clients", "seed", "plan", "profile", "architectures")
# Each cell is a whole run: more than this is hours of work, not a typo away.
MAX_CELLS = 10_000


@attrs.frozen
class Headline:
    """One metric a sweep reports per run: where it is in the run's metrics, and how a plot labels it."""

    name: str
    title: str
    # keys into a run's metrics; "" before a key divides by the event's duration, HEADLINE_MESSAGE stands for
    # the message type the scenario's report leads with
    path: tuple[str, ...]
    plot: bool = True
    scale: float = 1.0  # plotted value = value / scale
    unit: str = ""

    def value(self, metrics: Mapping[str, Any], duration_s: float, headline: str = "") -> float | None:
        found: Any = metrics
        per_second = False
        for key in (headline if key == HEADLINE_MESSAGE else key for key in self.path):
            if key == "":
                per_second = True
                continue
            if not isinstance(found, Mapping) or key not in found:
                return None  # a metric this run does not measure (e.g. a message type the scenario lacks)
            found = found[key]
        if found is None or isinstance(found, bool) or not isinstance(found, int | float):
            return None
        return round(found / duration_s, 3) if per_second else float(found)


HEADLINE_MESSAGE = "<headline message>"

HEADLINE: tuple[Headline, ...] = (
    Headline("lost_per_client", "updates lost per client", ("updates", "lost_per_client_mean")),
    Headline("latency_p99_ms", "latency p99", ("latency_ms", "all", "p99"), unit="ms"),
    Headline("realtime_db_time_ms", "Realtime database time", ("database", "realtime_time_ms"), scale=1000, unit="s"),
    Headline("peak_retained_wal_bytes", "peak retained WAL", ("peak_retained_wal_bytes",), scale=1e6, unit="MB"),
    # The rollback trigger's measure: (re)connections the service refused, once per client and drop.
    Headline("connection_failure_rate", "connection failure rate", ("connections", "episode_failure_rate")),
    Headline("messages_per_s", "messages sent per second", ("", "messages_sent")),
    Headline("bytes_sent", "bytes sent", ("bytes_sent",), plot=False),
    Headline(
        "headline_latency_p99_ms", "latency p99 of the report's headline message",
        ("latency_ms", HEADLINE_MESSAGE, "p99"), plot=False, unit="ms",
    ),
    Headline("peak_poller_lag_ms", "peak poller lag", ("peak_poller_lag_ms",), plot=False, unit="ms"),
    Headline(
        "channels_closed", "channels closed over the message rate",
        ("limit_violations", "channels_closed_over_message_rate"), plot=False,
    ),
)  # fmt: skip


@attrs.frozen
class SweepCell:
    """One run of the grid: a scenario, the simulate() options, and the grid values that chose them."""

    scenario: str
    seed: int | None
    options: Mapping[str, Any] = attrs.field(factory=dict)
    point: Mapping[str, Any] = attrs.field(factory=dict)
    overrides: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)  # section -> key -> value


@attrs.frozen
class SweepResult:
    """The headline metrics of one cell, per run label (architecture, plan or rollout stage)."""

    scenario: str
    seed: int
    fingerprint: str
    replay: str
    runs: Mapping[str, Mapping[str, float | None]]
    point: Mapping[str, Any] = attrs.field(factory=dict)


def run_cell(cell: SweepCell) -> SweepResult:
    """Run one grid cell (module level, so process pools can pickle it)."""
    from bcastsim.sim._api import simulate

    options = dict(cell.options)
    options.setdefault("compare_profiles", ())  # a sweep compares its grid: the extra profile runs stay off
    settings = {section: dict(values) for section, values in options.pop("settings", {}).items()}
    for section, values in cell.overrides.items():
        settings.setdefault(section, {}).update(values)
    report = simulate(cell.scenario, seed=cell.seed, settings=settings or None, **options)
    runs = {}
    for run in report.runs:
        for name in run.architectures:
            key = run.label if len(run.architectures) == 1 else f"{run.label} {name}"
            runs[key] = {h.name: h.value(run.metrics[name], report.duration_s, report.headline) for h in HEADLINE}
    return SweepResult(cell.scenario, report.seed, report.fingerprint, report.replay_command, runs, dict(cell.point))


def sweep(
    scenarios: str | Path | Sequence[str | Path] = "artbattle",
    seeds: Iterable[int] | None = None,
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    executor: concurrent.futures.Executor | None = None,
    jobs: int | None = None,
    progress: Callable[[float], None] | None = None,
    **options: Any,
) -> list[SweepResult]:
    """Run every scenario at every point of ``grid``; results come back in grid order whatever finishes first.

    ``grid`` maps a key to its values: ``clients``, ``seed``, ``plan``, ``profile``,
    ``architectures`` (one architecture per value) or a scenario key ``section.key``; the points
    are every combination, the first key varying slowest. ``seeds`` is the older spelling of
    ``grid={"seed": seeds}``. ``options`` go to every :func:`~bcastsim.sim.simulate` call
    (``clients``, ``plan``, ``plans``, ``architectures``, ...); a grid key overrides them.
    Without an executor a ``ProcessPoolExecutor`` with ``jobs`` workers (default: one per CPU)
    runs the grid; ``jobs=1`` runs it in this process. ``progress`` hears the share of cells done.
    """
    names = [str(scenarios)] if isinstance(scenarios, str | Path) else [str(s) for s in scenarios]
    cells = grid_cells(names, _with_seeds(grid, seeds), options)
    if executor is not None:
        return _collect(executor.map(run_cell, cells), len(cells), progress)
    workers = max(1, min(len(cells), jobs if jobs is not None else os.cpu_count() or 1))
    if workers == 1:
        return _collect(map(run_cell, cells), len(cells), progress)
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        return _collect(pool.map(run_cell, cells), len(cells), progress)


def _collect(results: Iterable[SweepResult], total: int, progress: Callable[[float], None] | None) -> list[SweepResult]:
    out = []
    for result in results:  # in grid order, so the share counts the cells done from the first on
        out.append(result)
        if progress is not None:
            progress(len(out) / total)
    return out


def _with_seeds(grid: Mapping[str, Sequence[Any]] | None, seeds: Iterable[int] | None) -> dict[str, list[Any]]:
    out = {key: list(values) for key, values in (grid or {}).items()}
    if seeds is not None:
        if "seed" in out:
            raise InputError("seeds given twice: as seeds and as grid['seed']", fix="give them once, in the grid")
        out = {"seed": list(seeds), **out}
    return out


def grid_cells(
    scenarios: Sequence[str], grid: Mapping[str, Sequence[Any]], options: Mapping[str, Any]
) -> list[SweepCell]:
    """The cells of the grid in order, every value checked here before any cell runs."""
    for key, values in grid.items():
        if not values:
            raise InputError(f"sweep key {key!r} has no values", fix=f"e.g. {key}=a,b or {key}=a..b")
    count = len(scenarios) * _product_size(grid)
    limit = int(MAX_CELLS * limit_scale())
    if count > limit:
        raise InputError(
            f"the sweep asks for {count:,} runs, over the bound of {limit:,}",
            fix=f"sweep fewer values, or set {LIMIT_SCALE_ENV}=N to raise the bound",
        )
    checkers = {key: _checker(key) for key in grid}
    for key, values in grid.items():
        for value in values:
            checkers[key](value, scenarios, options)
    cells = []
    keys = list(grid)
    for scenario in scenarios:
        for combination in itertools.product(*(grid[key] for key in keys)):
            point = dict(zip(keys, combination, strict=True))
            cell_options = dict(options)
            overrides: dict[str, dict[str, Any]] = {}
            seed = cell_options.pop("seed", None)
            for key, value in point.items():
                if key == "seed":
                    seed = value
                elif key == "architectures":
                    cell_options[key] = [value]
                elif "." in key:
                    section, name = key.split(".", 1)
                    overrides.setdefault(section, {})[name] = value
                else:
                    cell_options[key] = value
            cells.append(SweepCell(scenario, seed, cell_options, point, overrides))
    return cells


def _product_size(grid: Mapping[str, Sequence[Any]]) -> int:
    size = 1
    for values in grid.values():
        size *= len(values)
    return size


Checker = Callable[[Any, Sequence[str], Mapping[str, Any]], None]


def _checker(key: str) -> Checker:
    """How one grid key's values are checked: the same checks simulate() applies, made before the sweep starts."""
    if key in _CHECKS:
        return _CHECKS[key]
    if "." in key:
        return _check_scenario_key(key)
    raise InputError(
        f"unknown sweep key {key!r}",
        fix=f"use one of {', '.join(SWEEP_KEYS)}, or a scenario key written section.key (e.g. network.median_ms)",
    )


def _check_clients(value: Any, scenarios: Sequence[str], options: Mapping[str, Any]) -> None:
    from bcastsim._toml import check_number
    from bcastsim.sim._ranges import RANGES

    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"sweep clients={value!r} is not a whole number", fix="e.g. clients=500..10000:8")
    check_number(value, "sweep clients", RANGES[("populations", "count")], example=2000)


def _check_seed(value: Any, scenarios: Sequence[str], options: Mapping[str, Any]) -> None:
    from bcastsim._toml import check_number
    from bcastsim.sim._ranges import RANGES

    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"sweep seed={value!r} is not a whole number", fix="e.g. seed=1..8")
    check_number(value, "sweep seed", RANGES[("scenario", "seed")], example=1)


def _check_plan(value: Any, scenarios: Sequence[str], options: Mapping[str, Any]) -> None:
    from bcastsim.sim._api import plan_set
    from bcastsim.sim._scenario import load_scenario

    for ref in scenarios:  # each scenario may name its own plans file
        plan_set(load_scenario(ref), options.get("plans")).get_plan(str(value), option="--sweep plan=")


def _check_profile(value: Any, scenarios: Sequence[str], options: Mapping[str, Any]) -> None:
    from bcastsim.sim._profiles import behaviour

    behaviour(str(value))


def _check_architecture(value: Any, scenarios: Sequence[str], options: Mapping[str, Any]) -> None:
    from bcastsim.sim._api import resolve_architectures

    if len(resolve_architectures([str(value)])) != 1:
        raise InputError(f"sweep architectures={value!r} names more than one", fix="one architecture per value")


_CHECKS: dict[str, Checker] = {
    "clients": _check_clients,
    "seed": _check_seed,
    "plan": _check_plan,
    "profile": _check_profile,
    "architectures": _check_architecture,
}


def _check_scenario_key(key: str) -> Checker:
    section, name = key.split(".", 1)

    def check(value: Any, scenarios: Sequence[str], options: Mapping[str, Any]) -> None:
        from bcastsim.sim._ranges import check_ranges
        from bcastsim.sim._scenario import load_scenario
        from bcastsim.sim._sweep_spec import check_setting

        for ref in scenarios:
            scenario = load_scenario(ref)
            check_setting(scenario, section, name, value, option="--sweep")
            check_ranges(scenario.with_overrides(**{section: {name: value}}), f"the sweep ({key}={value})")

    return check


# --- the results as rows, CSV, JSON and a table ---------------------------------------------------------------


def _rows(results: Sequence[SweepResult]) -> list[dict[str, Any]]:
    rows = []
    for result in results:
        for label, metrics in result.runs.items():
            rows.append(
                {
                    **{key: _cell_text(value) for key, value in result.point.items()},
                    "scenario": result.scenario,
                    "seed": result.seed,
                    "run": label,
                    **metrics,
                    "fingerprint": result.fingerprint,
                }
            )
    return rows


def _cell_text(value: Any) -> Any:
    return value if isinstance(value, int | float | str) else str(value)


def sweep_csv(results: Sequence[SweepResult]) -> str:
    """One row per cell and run label: the grid values, the seed, every headline metric, the fingerprint."""
    keys = list(results[0].point) if results else []
    columns = [*keys, "scenario", "seed", "run", *(h.name for h in HEADLINE), "fingerprint"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in _rows(results):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def sweep_grid(results: Sequence[SweepResult]) -> dict[str, list[Any]]:
    """The grid the results were run on: each key's values in the order the cells met them."""
    grid: dict[str, dict[Any, None]] = {}
    for result in results:
        for key, value in result.point.items():
            grid.setdefault(key, {})[value] = None
    return {key: list(values) for key, values in grid.items()}


def sweep_json(results: Sequence[SweepResult]) -> str:
    """The sweep as JSON: the grid, the metrics' titles and each cell with its replay command and fingerprint."""
    return json_text(
        {
            "grid": {key: [_cell_text(v) for v in values] for key, values in sweep_grid(results).items()},
            "metrics": {h.name: {"title": h.title, "unit": h.unit or None} for h in HEADLINE},
            "cells": [
                {
                    "point": {key: _cell_text(value) for key, value in r.point.items()},
                    "scenario": r.scenario,
                    "seed": r.seed,
                    "fingerprint": r.fingerprint,
                    "replay": r.replay,
                    "runs": dict(r.runs),
                }
                for r in results
            ],
        }
    )


def sweep_table(results: Sequence[SweepResult]) -> str:
    """A compact fixed-width table: one line per cell and run label."""
    keys = list(results[0].point) if results else []
    if "seed" not in keys:
        keys.append("seed")
    header = [*keys, "run", "lost/client", "p99", "DB time", "peak WAL", "conn fail", "msg/s", "fingerprint"]
    lines = [header]
    for result in results:
        for label, m in result.runs.items():
            values = {**result.point, "seed": result.seed}
            lines.append(
                [
                    *(str(_cell_text(values[k])) for k in keys),
                    label,
                    _fmt(m["lost_per_client"], "{:,.2f}"),
                    _fmt(m["latency_p99_ms"], "{:,.0f}ms"),
                    _fmt(None if m["realtime_db_time_ms"] is None else m["realtime_db_time_ms"] / 1000, "{:,.1f}s"),
                    _fmt(
                        None if m["peak_retained_wal_bytes"] is None else m["peak_retained_wal_bytes"] / 1e6,
                        "{:,.1f}MB",
                    ),
                    _fmt(m["connection_failure_rate"], "{:.1%}"),
                    _fmt(m["messages_per_s"], "{:,.1f}"),
                    result.fingerprint[:16],
                ]
            )
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    text_columns = {len(keys)}  # the run label reads left to right; numbers line up on the right
    return "".join(
        "  ".join(
            cell.ljust(w) if i in text_columns else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        + "\n"
        for row in lines
    )


def _fmt(value: float | None, pattern: str, scale: float = 1.0) -> str:
    return "–" if value is None else pattern.format(value / scale)
