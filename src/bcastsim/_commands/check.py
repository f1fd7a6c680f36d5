"""``bcastsim check PATH...``: the review rules on one version of the SQL (or ``--client PROFILE``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bcastsim._commands._review_common import add_common_options, config_from_args, emit
from bcastsim._errors import InputError
from bcastsim._io import path_kind

__all__ = ["HELP", "configure", "run"]

HELP = "check SQL triggers for broadcast problems (payload size, audience, NULL channels, ...)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", help="SQL files or directories, loaded in order")
    parser.add_argument(
        "--client",
        metavar="PROFILE",
        help="also run the client property checks on a subscriber-manager profile (seed, realtime_js, ...)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for the client checks (default 0)")
    parser.add_argument("--list-rules", action="store_true", help="list the rule ids and exit")
    add_common_options(parser)


def _list_rules() -> int:
    from bcastsim.review import all_rules

    lines = [f"{info.id:32} {info.severity.value:8} {info.title}" for info in all_rules().values()]
    print("\n".join(lines))
    return 0


def run(args: argparse.Namespace) -> int:
    if args.list_rules:
        return _list_rules()
    if not args.paths and not args.client:
        raise InputError("give SQL paths to check, or --client PROFILE", fix="e.g. bcastsim check sql/")
    from bcastsim.review import Entry, Report, all_rules, check

    for given in args.paths:
        if not str(given).startswith("git:"):
            path_kind(given, "input path")  # a loop or an over-long name is one line, before anything else
    start = Path(args.paths[0]) if args.paths and not args.paths[0].startswith("git:") else Path.cwd()
    config = config_from_args(args, start.resolve())
    if args.paths:
        report = check(args.paths, config=config, schema=args.schema)
    else:
        from bcastsim import __version__

        report = Report(command="check", inputs=(), entries=[], rules=all_rules(), version=__version__)
    if args.client:
        from bcastsim.client import PROFILES, run_client_checks

        if args.client not in PROFILES:
            raise InputError(
                f"unknown client profile {args.client!r}",
                fix=f"use one of {', '.join(sorted(PROFILES))}",
            )
        client_findings = run_client_checks(args.client, seed=args.seed)
        report = Report(
            command="check",
            inputs=(*report.inputs, f"client:{args.client}"),
            entries=[*report.entries, *(Entry(finding=f) for f in client_findings if config.rule_enabled(f.rule))],
            rules=report.rules,
            suppressed=report.suppressed,
            version=report.version,
        )
    return emit(report, args)
