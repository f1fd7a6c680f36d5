"""``bcastsim sql realtime [-o FILE]`` and ``bcastsim sql coverage PATH...``: SQL for your project, and what it fires.

``realtime`` prints (or writes) the minimal Supabase ``realtime`` schema every
``realtime.send`` trigger needs in a test database. ``coverage`` runs generated
histories on the model of your SQL and prints which notify sites fired, how many
transactions committed and why a site was never reached.
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
    coverage.add_argument("--examples", type=int, default=200, help="histories to generate (default 200)")


def run(args: argparse.Namespace) -> int:
    if args.sql_command == "realtime":
        return _realtime(args.output)
    return _coverage(args.paths, args.examples)


def _realtime(output: str | None) -> int:
    text = realtime_sql_file().read_text(encoding="utf-8")
    if output is None:
        sys.stdout.write(text)
        return 0
    target = Path(output)
    if not target.parent.is_dir():
        raise InputError("directory does not exist", path=target.parent, fix="create it or choose another -o path")
    target.write_text(text, encoding="utf-8")
    return 0


def _coverage(paths: list[str], examples: int) -> int:
    from bcastsim.review._diff import expand_sql_paths
    from bcastsim.strategies import measure_coverage

    files: list[Path] = []
    for spec in paths:  # a directory is its .sql files in its migration tool's order, as everywhere else
        files.extend([realtime_sql_file()] if spec == "bcastsim:realtime" else expand_sql_paths([Path(spec)]))
    coverage = measure_coverage(files, examples=examples)
    sys.stdout.write(coverage.table() + "\n")
    return 0 if coverage.vacuous() is None else 1
