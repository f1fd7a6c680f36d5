"""``bcastsim check PATH...``: the review rules on one version of the SQL (or ``--client PROFILE``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bcastsim._commands._review_common import add_common_options, config_from_args, emit
from bcastsim._errors import InputError

__all__ = ["HELP", "configure", "run"]

HELP = "check SQL triggers for broadcast problems (payload size, audience, NULL channels, ...)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", help="SQL files or directories, loaded in order")
    parser.add_argument(
        "--client",
        metavar="PROFILE|PATH.js",
        help="also run the client property checks: on a profile (seed, realtime_js, ...), or on your own manager "
        "(.js/.mjs/.cjs, or a plan's .md) running on the real realtime-js under faults (see docs/client.md)",
    )
    parser.add_argument(
        "--client-schedules", type=int, default=500, metavar="N", help="fault schedules for --client PATH.js"
    )
    parser.add_argument(
        "--client-replay",
        type=Path,
        metavar="DIR",
        help="write each failing schedule as DIR/<property>.json and a standalone node script DIR/<property>.js",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for the client checks (default 0)")
    parser.add_argument("--list-rules", action="store_true", help="list the rule ids and exit")
    add_common_options(parser)


def _list_rules() -> int:
    from bcastsim.review import all_rules

    lines = [f"{info.id:32} {info.severity.value:8} {info.title}" for info in all_rules().values()]
    print("\n".join(lines))
    return 0


def _is_client_file(client: str) -> bool:
    return Path(client).suffix.lower() in (".js", ".mjs", ".cjs", ".md") or "/" in client


def run(args: argparse.Namespace) -> int:
    if args.list_rules:
        return _list_rules()
    if not args.paths and not args.client:
        raise InputError("give SQL paths to check, or --client PROFILE", fix="e.g. bcastsim check sql/")
    from bcastsim.review import Entry, Report, all_rules, check

    start = Path(args.paths[0]) if args.paths else Path.cwd()
    config = config_from_args(args, start.resolve())
    if args.paths:
        report = check(args.paths, config=config, schema=args.schema)
    else:
        from bcastsim import __version__

        report = Report(command="check", inputs=(), entries=[], rules=all_rules(), version=__version__)
    if args.client and _is_client_file(args.client):
        from bcastsim.client._realcheck import check_client_module

        findings = check_client_module(
            args.client, args.paths, seed=args.seed, schedules=args.client_schedules, replay_dir=args.client_replay
        )
    elif args.client:
        from bcastsim.client import PROFILES, run_client_checks

        if args.client not in PROFILES:
            raise InputError(
                f"unknown client profile {args.client!r}",
                fix=f"use one of {', '.join(sorted(PROFILES))}, or the path of your manager's .js file",
            )
        findings = run_client_checks(args.client, seed=args.seed)
    if args.client:
        report = Report(
            command="check",
            inputs=(*report.inputs, f"client:{args.client}"),
            entries=[*report.entries, *(Entry(finding=f) for f in findings if config.rule_enabled(f.rule))],
            rules=report.rules,
            suppressed=report.suppressed,
            version=report.version,
        )
    return emit(report, args)
