"""``bcastsim review OLD NEW``: what a change to the SQL does to channels, payloads and audiences."""

from __future__ import annotations

import argparse

from bcastsim._commands._review_common import (
    add_common_options,
    check_input_paths,
    config_from_args,
    emit,
    schema_paths,
)
from bcastsim._errors import InputError

__all__ = ["HELP", "configure", "run"]

HELP = "diff two versions of the SQL (paths or git:REV:PATH) and report contract changes and rule changes"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "old",
        metavar="OLD",
        help="the version before: a file, a directory, git:REV:PATH (a path missing there counts as empty) or none:",
    )
    parser.add_argument("new", metavar="NEW", help="the version after: a file, a directory or git:REV:PATH")
    parser.add_argument(
        "--pg",
        action="store_true",
        help="also run both versions in a throwaway PostgreSQL on histories drawn by bcastsim.strategies and diff "
        "what they send",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the --pg workload (default 0)")
    # review._pgdiff.DEFAULT_EXAMPLES, written out so that --help does not import the review.
    parser.add_argument(
        "--examples", type=int, default=20, metavar="N",
        help="--pg: histories drawn on each version's schema (default 20)",
    )  # fmt: skip
    parser.add_argument(
        "--pg-budget",
        type=_budget,
        default=None,
        metavar="SECONDS",
        help="wall time for everything --pg runs, both versions and the workload; past it the review is "
        "inconclusive (default 600)",
    )
    add_common_options(parser)


_MAX_BUDGET_S = 86_400.0


def _budget(text: str) -> float:
    """A number of seconds in (0, one day]."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < seconds <= _MAX_BUDGET_S:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and {_MAX_BUDGET_S:g} seconds")
    return seconds


def run(args: argparse.Namespace) -> int:
    from bcastsim.review import review

    check_input_paths([args.old, args.new])
    config = config_from_args(args)
    schema = schema_paths(args, config, [args.old, args.new])
    if args.pg:
        from bcastsim._extras import require

        require("psycopg", "postgres", "review --pg")
        require("hypothesis", "postgres", "review --pg")
        if not 1 <= args.examples <= 10_000:
            raise InputError(f"--examples {args.examples} is out of range", fix="give a number from 1 to 10000")
    budget = {} if args.pg_budget is None else {"pg_time_limit_s": args.pg_budget}
    report = review(
        args.old, args.new, config=config, schema=schema, pg=args.pg, seed=args.seed, examples=args.examples,
        **budget,
    )  # fmt: skip
    return emit(report, args, config)
