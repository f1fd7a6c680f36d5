"""``bcastsim simulate``: run a live-event scenario over postgres_changes and broadcast, side by side."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bcastsim._errors import InputError
from bcastsim._io import json_text, write_outputs
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
    parser.add_argument("--plan", help="Realtime plan whose limits apply: free, pro, team or unlimited")
    parser.add_argument(
        "--reference-plan", metavar="PLAN", help="also run every architecture under this plan ('none' to skip)"
    )
    parser.add_argument("--profile", help="client profile: seed, realtime_js or recommended")
    parser.add_argument(
        "--seeds", metavar="A-B", help="sweep: run seeds A..B in parallel processes and print one summary line per run"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="report format")
    parser.add_argument("--out", type=_directory, metavar="DIR", help="also write report.txt and report.json here")


# Each seed of a sweep is a whole run: more than this is hours of work, not a typo away.
_MAX_SEEDS = 10_000


def _directory(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("--out needs a directory name")
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
def _progress(enabled: bool) -> Iterator[Callable[[float], None] | None]:
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("simulating"),
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


def _sweep(args: argparse.Namespace) -> int:
    from bcastsim.sim import sweep

    options = {
        k: v
        for k, v in (
            ("clients", args.clients),
            ("plan", args.plan),
            ("profile", args.profile),
            ("architectures", args.arch),
            ("reference_plan", args.reference_plan),
        )
        if v
    }
    results = sweep([args.scenario], _seed_range(args.seeds), **options)
    if args.format == "json":
        import attrs

        sys.stdout.write(json_text([attrs.asdict(r) for r in results]))
        return 0
    print(f"{'seed':>6}  {'run':<34} {'DB time':>10} {'bid p99':>10} {'peak lag':>10} {'lost/client':>12}  fingerprint")
    for result in results:
        for label, m in result.runs.items():
            p99 = m["bid_latency_p99_ms"]
            print(
                f"{result.seed:>6}  {label:<34} {m['realtime_db_time_ms'] or 0:>8,.0f}ms "
                f"{'–' if p99 is None else f'{p99:,.0f}ms':>10} {m['peak_poller_lag_ms'] or 0:>8,.0f}ms "
                f"{m['lost_per_client'] or 0:>12,.1f}  {result.fingerprint[:16]}"
            )
    return 0


def run(args: argparse.Namespace) -> int:
    from bcastsim.sim import render_json, render_text, simulate

    if args.seeds:
        return _sweep(args)
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
            sql=args.sql,
        )
    text = render_text(report)
    data = render_json(report)
    if args.out is not None:
        # Both files or neither, before anything is printed: a failure leaves no half-written result.
        _make_directory(args.out)
        write_outputs({args.out / "report.txt": text, args.out / "report.json": data})
    sys.stdout.write(text if args.format == "text" else data)
    return 0


def _make_directory(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(
            f"cannot create the output directory: {error.strerror}",
            path=directory,
            fix="choose a writable --out directory",
        ) from None
    if not directory.is_dir():
        raise InputError("--out is not a directory", path=directory, fix="name a directory")
