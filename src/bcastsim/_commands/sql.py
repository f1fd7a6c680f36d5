"""``bcastsim sql realtime [-o FILE]`` and ``bcastsim sql coverage PATH...``: SQL for your project, and what it fires.

``realtime`` prints (or writes) the minimal Supabase ``realtime`` schema every
``realtime.send`` trigger needs in a test database. ``coverage`` runs generated
histories on the model of your SQL and prints, per notify site, whether it fired, is
unreachable (the solver's reason) or was not reached (the statements that ran and the
error that stopped them most often); it exits 1 when fewer than ``--min-site-share``
(default: all) of the reachable sites fired, or nothing committed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bcastsim._errors import InputError
from bcastsim._resources import realtime_sql_file

__all__ = ["HELP", "configure", "run"]

HELP = "print the realtime schema stub (sql realtime) or the notify-site coverage of generated histories (sql coverage)"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="sql_command", metavar="WHAT", required=True)
    realtime = sub.add_parser("realtime", help="the minimal Supabase realtime schema (realtime.send, messages)")
    realtime.add_argument("-o", "--output", metavar="FILE", help="write it to FILE instead of standard output")
    coverage = sub.add_parser("coverage", help="notify sites fired by generated histories on the model")
    coverage.add_argument(
        "paths", nargs="+", metavar="PATH", help="SQL files or directories in load order (or bcastsim:realtime)"
    )
    coverage.add_argument(
        "--examples", type=int, default=None, help="histories to generate (default: the speed profile's, 200)"
    )
    coverage.add_argument(
        "--speed", default="default", metavar="PROFILE",
        help="how deep each history goes: default, or fast (shorter histories, 100 examples)",
    )  # fmt: skip
    coverage.add_argument(
        "--min-site-share", type=float, default=1.0, metavar="SHARE",
        help="exit 1 when fewer than SHARE of the reachable notify sites fired (default 1.0: all of them)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    if args.sql_command == "realtime":
        return _realtime(args.output)
    if not 0.0 <= args.min_site_share <= 1.0:
        raise InputError(f"--min-site-share {args.min_site_share} is not a share", fix="give a number from 0 to 1")
    return _coverage(args.paths, args.examples, args.min_site_share, args.speed)


def _realtime(output: str | None) -> int:
    text = realtime_sql_file().read_text(encoding="utf-8")
    if output is None:
        sys.stdout.write(text)
        return 0
    from bcastsim._io import write_output

    # Atomic, never through a symlink or over a device; a directory that cannot be written is one line.
    write_output(output, text)
    return 0


def _coverage(paths: list[str], examples: int | None, min_share: float, speed: str = "default") -> int:
    from bcastsim._extras import require
    from bcastsim.review._diff import expand_sql_paths

    require("hypothesis", "pytest", "sql coverage")
    from bcastsim.strategies import measure_coverage, speed_profile

    profile = speed_profile(speed)

    files: list[Path] = []
    for spec in paths:  # a directory is its .sql files in its migration tool's order, as everywhere else
        files.extend([realtime_sql_file()] if spec == "bcastsim:realtime" else expand_sql_paths([Path(spec)]))
    coverage = measure_coverage(files, examples=profile.examples if examples is None else examples, speed=profile)
    sys.stdout.write(coverage.table() + "\n")
    reason = coverage.vacuous() or coverage.shortfall(min_share)
    if reason is not None:
        sys.stdout.write(f"FAIL: {reason}\n")
        return 1
    return 0
