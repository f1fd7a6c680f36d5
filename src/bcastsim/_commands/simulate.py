"""``bcastsim simulate``: run a live-event scenario over postgres_changes and broadcast, side by side."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bcastsim._errors import InputError
from bcastsim._io import make_directory, write_outputs
from bcastsim._toml import LIMIT_SCALE_ENV, Range, check_number, limit_scale

__all__ = ["HELP", "configure", "run"]

HELP = "simulate an app's event from its SQL and a scenario (default: the built-in artbattle) and compare architectures"

# Runs shorter than this much simulated client-time finish before a progress bar would be useful.
_LONG_RUN = 20_000.0
_SEED_RANGE = Range(0, 2**63 - 1)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "scenario",
        nargs="?",
        default="artbattle",
        help="built-in scenario name (artbattle, flash_sale, rollout, restart_storm, backtest) or a .toml file",
    )
    parser.add_argument(
        "--arch",
        action="append",
        metavar="ARCH",
        help="architectures to compare, comma-separated or repeated: postgres_changes, "
        "broadcast:pg_notify, broadcast:realtime.send (broadcast = realtime.send), broadcast:broadcast_changes, "
        "listen_notify",
    )
    parser.add_argument(
        "--sql",
        action="append",
        metavar="PATH",
        help="the app's SQL files in load order, repeated (default: the scenario's sql = [...])",
    )
    parser.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    parser.add_argument(
        "--clients", type=int, metavar="N", help="clients of the scenario's first population (default: the scenario's)"
    )
    parser.add_argument(
        "--plan", help="Realtime plan whose limits apply: free, pro, team, unlimited or one of your --plans file"
    )
    parser.add_argument(
        "--plans",
        metavar="FILE.toml",
        help="your plans file (e.g. an enterprise contract), beside the built-in plans; see docs/plans.md",
    )
    parser.add_argument(
        "--reference-plan", metavar="PLAN", help="also run every architecture under this plan ('none' to skip)"
    )
    parser.add_argument("--profile", help="client profile: seed, realtime_js or recommended")
    parser.add_argument(
        "--compare-profiles",
        metavar="P1,P2|none",
        help="run broadcast again under these client profiles (default: the scenario's; none: no extra runs)",
    )
    parser.add_argument(
        "--set",
        action="append",
        dest="settings",
        metavar="SECTION.KEY=VALUE",
        help="set one scalar key of the scenario, e.g. --set network.median_ms=80 (repeatable)",
    )
    parser.add_argument(
        "--sweep",
        action="append",
        metavar="KEY=VALUES",
        help="sweep KEY over a range a..b[:N points|:+STEP] or a list a,b,c; repeat for a grid. Keys: clients, "
        "seed, plan, profile, architectures or a scenario key SECTION.KEY",
    )
    parser.add_argument(
        "--seeds", metavar="A-B", help="sweep: run seeds A..B in parallel processes and print one summary line per run"
    )
    parser.add_argument("--jobs", type=int, metavar="N", help="sweep: N worker processes (default: one per CPU)")
    parser.add_argument(
        "--plot",
        type=_directory,
        metavar="DIR",
        help="sweep: write a PNG per headline metric, sweep.csv and sweep.json",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="report format")
    parser.add_argument("--out", type=_directory, metavar="DIR", help="also write report.txt and report.json here")


# Each seed of a sweep is a whole run: more than this is hours of work, not a typo away.
_MAX_SEEDS = 10_000


def _directory(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("needs a directory name")
    return Path(text)


def _seed_range(text: str) -> list[int]:
    seeds: Sequence[int]
    try:
        if "-" in text:
            first, last = text.split("-", 1)
            seeds = range(int(first), int(last) + 1)
        else:
            seeds = [int(x) for x in text.split(",")]
    except ValueError:
        raise InputError(f"--seeds {text!r} is not a seed range", fix="e.g. --seeds 1-8 or --seeds 3,5,9") from None
    if not seeds:
        raise InputError(f"--seeds {text!r} names no seed", fix="e.g. --seeds 1-8")
    limit = int(_MAX_SEEDS * limit_scale())
    if len(seeds) > limit:
        raise InputError(
            f"--seeds {text!r} asks for {len(seeds):,} runs, over the bound of {limit:,}",
            fix=f"sweep fewer seeds, or set {LIMIT_SCALE_ENV}=N to raise the bound",
        )
    for seed in (min(seeds), max(seeds)):
        check_number(seed, "--seeds", _SEED_RANGE)
    return list(seeds)


@contextmanager
def _progress(enabled: bool, what: str = "simulating") -> Iterator[Callable[[float], None] | None]:
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(what),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    ) as bar:
        task = bar.add_task("simulate", total=1.0)
        yield lambda fraction: bar.update(task, completed=fraction)


def _long(args: argparse.Namespace) -> bool:
    from bcastsim.sim import load_scenario

    scenario = load_scenario(args.scenario)
    audience = args.clients if args.clients is not None else scenario.audience
    runs = (
        len(scenario.scenario.architectures) * 2
        if scenario.scenario.mode == "compare"
        else len(scenario.rollout.stages)
    )
    return runs * scenario.scenario.duration_s * max(1.0, audience / 1000) >= _LONG_RUN


def _profiles(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    return () if names in ((), ("none",)) else names


def _settings(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    from bcastsim.sim._sweep_spec import parse_setting

    settings: dict[str, dict[str, Any]] = {}
    for text in args.settings or ():
        section, name, value = parse_setting(text)
        settings.setdefault(section, {})[name] = value
    return settings


def _grid(args: argparse.Namespace) -> dict[str, list[Any]]:
    from bcastsim.sim._sweep_spec import parse_sweep

    grid: dict[str, list[Any]] = {}
    for text in args.sweep or ():
        key, values = parse_sweep(text)
        if key in grid:
            raise InputError(f"--sweep {key} is given twice", fix=f"list every value of {key} in one --sweep")
        grid[key] = values
    if args.seeds:
        if "seed" in grid:
            raise InputError("seeds are swept twice, by --seeds and --sweep seed=", fix="keep one of them")
        grid["seed"] = _seed_range(args.seeds)
    return grid


def _sweep(args: argparse.Namespace) -> int:
    from bcastsim.sim import sweep, sweep_json, sweep_table

    if args.out is not None:
        raise InputError("--out writes one run's report", fix="a sweep writes its data and plots with --plot DIR")
    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs {args.jobs} is not a number of workers", fix="e.g. --jobs 2, or --jobs 1 for serial")
    grid = _grid(args)
    if args.plot is not None:
        from bcastsim._extras import require

        require("matplotlib", "plot", "--plot")  # before the runs, not after them
    options: dict[str, Any] = {
        k: v
        for k, v in (
            ("clients", args.clients),
            ("seed", args.seed),
            ("plan", args.plan),
            ("plans", args.plans),
            ("profile", args.profile),
            ("architectures", args.arch),
            ("reference_plan", args.reference_plan),
            ("compare_profiles", _profiles(args.compare_profiles)),
            ("settings", _settings(args)),
        )
        if v is not None and v != {}
    }
    with _progress(sys.stderr.isatty(), "sweeping") as progress:
        results = sweep(args.scenario, grid=grid, jobs=args.jobs, progress=progress, **options)
    if args.plot is not None:
        from bcastsim.sim import write_sweep

        written = write_sweep(results, args.plot)
    if args.format == "json":
        sys.stdout.write(sweep_json(results))
    else:
        sys.stdout.write(sweep_table(results))
        if args.plot is not None:
            print(f"wrote {len(written) - 2} plots, sweep.csv and sweep.json to {args.plot}")
    return 0


def run(args: argparse.Namespace) -> int:
    from bcastsim.sim import render_json, render_text, simulate

    if args.sweep or args.seeds:
        return _sweep(args)
    if args.plot is not None or args.jobs is not None:
        raise InputError(
            "--plot and --jobs belong to a sweep", fix="add --sweep KEY=VALUES, e.g. --sweep clients=500..10000:8"
        )
    show = sys.stderr.isatty() and _long(args)
    with _progress(show) as progress:
        report = simulate(
            args.scenario,
            architectures=args.arch,
            seed=args.seed,
            clients=args.clients,
            plan=args.plan,
            profile=args.profile,
            reference_plan=args.reference_plan,
            progress=progress,
            plans=args.plans,
            settings=_settings(args) or None,
            compare_profiles=_profiles(args.compare_profiles),
            sql=args.sql,
        )
    text = render_text(report)
    data = render_json(report)
    if args.out is not None:
        # Both files or neither, before anything is printed: a failure leaves no half-written result.
        make_directory(args.out, "--out")
        write_outputs({args.out / "report.txt": text, args.out / "report.json": data})
    sys.stdout.write(text if args.format == "text" else data)
    return 0
