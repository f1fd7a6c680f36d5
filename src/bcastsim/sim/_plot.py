"""Plots of a sweep: each headline metric against the swept key, one line per run label.

matplotlib is imported only here and only when a plot is drawn (the ``plot`` extra). Every PNG
is drawn by the Agg backend with its metadata fixed, so one sweep gives byte-identical files.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bcastsim._errors import InputError
from bcastsim._io import make_directory, write_outputs
from bcastsim.sim._sweep import HEADLINE, Headline, SweepResult, sweep_csv, sweep_grid, sweep_json

__all__ = ["plot_file_name", "plot_sweep", "write_sweep", "x_key"]

# No software name, no creation time: the bytes depend on the data and the matplotlib version only.
_METADATA: dict[str, str | None] = {"Software": None, "Creation Time": None}
_DPI = 100


def x_key(grid: Mapping[str, Sequence[Any]]) -> str:
    """The key the plots run along: the first key with numbers for values, else the first key."""
    for key, values in grid.items():
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            return key
    return next(iter(grid))


def _series(results: Sequence[SweepResult], x: str) -> dict[str, list[tuple[Any, dict[str, float | None]]]]:
    """Points per line: a run label, plus the other grid keys' values when the grid has more than one key.

    The architecture is in the run label already, so a swept ``architectures`` key adds nothing to it.
    """
    lines: dict[str, list[tuple[Any, dict[str, float | None]]]] = {}
    for result in results:
        others = " · ".join(f"{k}={v}" for k, v in result.point.items() if k not in (x, "architectures"))
        if len({r.scenario for r in results}) > 1:
            others = " · ".join(filter(None, [result.scenario, others]))
        for label, metrics in result.runs.items():
            name = f"{label} · {others}" if others else label
            lines.setdefault(name, []).append((result.point.get(x, result.seed), dict(metrics)))
    return lines


def _png(headline: Headline, x: str, values: Sequence[Any], lines: Mapping[str, list[tuple[Any, Any]]]) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    position = {v: (v if numeric else i) for i, v in enumerate(values)}
    figure = Figure(figsize=(8, 5), dpi=_DPI)
    axes = figure.add_subplot()
    plotted: list[float] = []
    for i, (name, points) in enumerate(lines.items()):
        shown = [(position[px], m[headline.name] / headline.scale) for px, m in points if m[headline.name] is not None]
        if shown:
            # A line keeps its colour and dash in every plot of the sweep, whichever lines a metric leaves out.
            xs, ys = [p[0] for p in shown], [p[1] for p in shown]
            dash = ("-", "--", ":", "-.")[i // 10 % 4]
            axes.plot(xs, ys, marker="o", label=name, color=f"C{i % 10}", linestyle=dash)
            plotted += [p[1] for p in shown]
    positive = [v for v in plotted if v > 0]
    if positive and max(positive) >= 100 * min(positive):
        # Lines orders of magnitude apart (a lagging poller beside broadcast) stay readable; zero stays on the axis.
        axes.set_yscale("symlog", linthresh=min(positive))
    if not numeric:
        axes.set_xticks(list(range(len(values))), [str(v) for v in values])
    axes.set_xlabel(x)
    axes.set_ylabel(f"{headline.title} ({headline.unit})" if headline.unit else headline.title)
    axes.set_title(f"{headline.title} by {x}")
    axes.grid(True, alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize="small")
    else:
        axes.text(0.5, 0.5, "not measured by these runs", transform=axes.transAxes, ha="center", va="center")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata=_METADATA)
    return out.getvalue()


# A metric's name ends in the unit it is recorded in; its plot's file name ends in the unit the plot shows.
_RECORDED_UNIT = re.compile(r"_(ms|s|bytes)$")


def plot_file_name(headline: Headline) -> str:
    """``<metric>_<plotted unit>.png`` (``realtime_db_time_s.png`` plots seconds), ``<metric>.png`` without a unit."""
    if not headline.unit:
        return f"{headline.name}.png"
    stem = _RECORDED_UNIT.sub("", headline.name)
    return f"{stem}_{headline.unit.lower().replace('/', '_per_')}.png"


def plot_sweep(results: Sequence[SweepResult]) -> dict[str, bytes]:
    """One PNG per plotted headline metric, by file name (:func:`plot_file_name`)."""
    from bcastsim._extras import require

    require("matplotlib", "plot", "--plot")
    grid = sweep_grid(results)
    if not grid:
        raise InputError("a plot needs a swept key", fix="sweep one, e.g. --sweep clients=500..10000:8")
    x = x_key(grid)
    lines = _series(results, x)
    return {plot_file_name(h): _png(h, x, list(grid[x]), lines) for h in HEADLINE if h.plot}


def write_sweep(results: Sequence[SweepResult], directory: str | Path) -> list[Path]:
    """Write the plots, ``sweep.csv`` and ``sweep.json`` into ``directory``: every file or, on error, none."""
    files: dict[str | Path, str | bytes] = {
        **{Path(directory) / name: data for name, data in plot_sweep(results).items()},
        Path(directory) / "sweep.csv": sweep_csv(results),
        Path(directory) / "sweep.json": sweep_json(results),
    }
    make_directory(directory, "--plot")
    write_outputs(files)
    return [Path(p) for p in files]
