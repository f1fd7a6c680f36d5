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
    add_common_options(parser)


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
    report = review(
        args.old, args.new, config=config, schema=schema, pg=args.pg, seed=args.seed, examples=args.examples
    )
    return emit(report, args, config)
