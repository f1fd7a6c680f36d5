"""``bcastsim check PATH...``: the review rules on one version of the SQL (or ``--client PROFILE``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from bcastsim._commands._review_common import (
    add_common_options,
    check_input_paths,
    config_from_args,
    emit,
    schema_paths,
)
from bcastsim._errors import InputError

if TYPE_CHECKING:
    from bcastsim.findings import Finding
    from bcastsim.review import Report

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
    parser.add_argument(
        "--client-budget",
        type=float,
        metavar="SECONDS",
        help="wall-clock budget for running the manager's JavaScript (default 600, or $BCASTSIM_CLIENT_BUDGET); "
        "past it node is killed and the check ends with one line",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for the client checks (default 0)")
    parser.add_argument(
        "--plans",
        metavar="FILE.toml",
        help="your plans file beside the built-in plans, for the client plan checks (the same file simulate reads)",
    )
    parser.add_argument("--list-rules", action="store_true", help="list the rule ids and exit")
    parser.add_argument(
        "--baseline",
        nargs=2,
        metavar=("write|use", "FILE"),
        help="write: record today's findings in FILE; use: report only findings FILE does not hold",
    )
    add_common_options(parser)


def _list_rules() -> int:
    from bcastsim.review import all_rules

    lines = [f"{info.id:32} {info.severity.value:8} {info.title}" for info in all_rules().values()]
    print("\n".join(lines))
    return 0


def _is_client_file(client: str) -> bool:
    return Path(client).suffix.lower() in (".js", ".mjs", ".cjs", ".md") or "/" in client


def _client_findings(args: argparse.Namespace) -> list[Finding]:
    from bcastsim._extras import require

    require("hypothesis", "pytest", "check --client")
    if _is_client_file(args.client):
        from bcastsim.client._realcheck import check_client_module

        return list(
            check_client_module(
                args.client,
                args.paths,
                seed=args.seed,
                schedules=args.client_schedules,
                replay_dir=args.client_replay,
                budget_s=args.client_budget,
            )
        )
    from bcastsim.client import PROFILES, run_client_checks

    if args.client not in PROFILES:
        raise InputError(
            f"unknown client profile {args.client!r}",
            fix=f"use one of {', '.join(sorted(PROFILES))}, or the path of your manager's .js file",
        )
    from bcastsim._plans import resolve_plans

    return list(run_client_checks(args.client, seed=args.seed, plans=resolve_plans(args.plans)))


def run(args: argparse.Namespace) -> int:
    if args.list_rules:
        return _list_rules()
    from bcastsim.review import Entry, Report, all_rules, check

    check_input_paths([str(given) for given in args.paths])
    if args.plans and (not args.client or _is_client_file(args.client)):
        raise InputError(
            "--plans is read by the client plan checks only", fix="add --client PROFILE (e.g. --client seed)"
        )
    config = config_from_args(args)
    paths = list(args.paths) or ([str(p) for p in config.paths] if not args.client else [])
    if not paths and not args.client:
        raise InputError(
            "give SQL paths to check, or --client PROFILE",
            fix='e.g. bcastsim check sql/, or set paths = ["sql/"] in [tool.bcastsim]',
        )
    if paths:
        report = check(paths, config=config, schema=schema_paths(args, config, paths))
    else:
        from bcastsim import __version__

        report = Report(command="check", inputs=(), entries=[], rules=all_rules(), version=__version__)
    if args.client:
        findings = _client_findings(args)
        report = Report(
            command="check",
            inputs=(*report.inputs, f"client:{args.client}"),
            entries=[*report.entries, *(Entry(finding=f) for f in findings if config.rule_enabled(f.rule))],
            rules=report.rules,
            suppressed=report.suppressed,
            version=report.version,
        )
    if args.baseline:
        report = _baselined(report, args.baseline[0], Path(args.baseline[1]))
    return emit(report, args, config)


def _baselined(report: Report, mode: str, path: Path) -> Report:
    """The report without the findings the baseline file holds (after writing it, with ``write``).

    Privilege and containment findings stay, counted apart: the baseline is a file of the reviewed
    repository, which a pull request can change along with its SQL.
    """
    from collections import Counter

    import attrs

    from bcastsim._commands._review_common import write_output
    from bcastsim.review._suppress import UNSUPPRESSIBLE, baseline_identity, read_baseline, render_baseline

    if mode not in ("write", "use"):
        raise InputError(
            f"--baseline takes write or use, got {mode!r}", fix="e.g. --baseline use bcastsim-baseline.json"
        )
    if mode == "write":
        write_output(path, render_baseline(report.findings))
    recorded: Counter[str] = read_baseline(path)
    kept = []
    refused = 0
    for entry in report.entries:
        identity = baseline_identity(entry.finding)
        if recorded[identity] > 0:
            recorded[identity] -= 1
            if entry.finding.rule not in UNSUPPRESSIBLE:
                continue
            refused += 1
        kept.append(entry)
    return attrs.evolve(report, entries=kept, baselined=len(report.entries) - len(kept), baseline_refused=refused)
