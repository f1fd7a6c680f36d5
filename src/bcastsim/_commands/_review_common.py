"""Options and output handling shared by ``bcastsim check`` and ``bcastsim review``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bcastsim._errors import InputError
from bcastsim._io import path_kind, write_output
from bcastsim.review import FORMATS, Report, ReviewConfig, config_for, render
from bcastsim.review._config import TRANSPORTS

__all__ = ["add_common_options", "config_from_args", "emit"]


def add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument("--output", "-o", type=Path, help="write the report to this file instead of standard output")
    parser.add_argument(
        "--schema",
        action="append",
        default=[],
        metavar="SQL",
        help="SQL file or directory loaded before the checked SQL (tables the triggers use); repeatable",
    )
    parser.add_argument("--config", type=Path, help="pyproject.toml to read [tool.bcastsim] from")
    parser.add_argument("--transport", choices=TRANSPORTS, help="target transport (overrides the config)")
    parser.add_argument("--disable", action="append", default=[], metavar="RULE", help="skip a rule; repeatable")
    parser.add_argument("--verbose", "-v", action="store_true", help="text format: also say why each finding matters")


def config_from_args(args: argparse.Namespace, start: Path) -> ReviewConfig:
    import attrs

    from bcastsim.review import all_rules

    if args.config is not None and path_kind(args.config, "--config") != "file":
        raise InputError("no such file", path=str(args.config), fix="name the pyproject.toml to read")
    config = config_for(start, args.config)
    known = all_rules()
    unknown = sorted(set(args.disable) - set(known))
    if unknown:
        raise InputError(
            f"--disable names unknown rule(s): {', '.join(unknown)}",
            fix="run `bcastsim check --list-rules` for the rule ids",
        )
    if args.transport:
        config = attrs.evolve(config, transport=args.transport)
    if args.disable:
        config = attrs.evolve(config, disable=config.disable | frozenset(args.disable))
    return config


def emit(report: Report, args: argparse.Namespace) -> int:
    """Render the whole report, then write it in one go (a file is replaced atomically)."""
    text = render(report, args.format, verbose=args.verbose)
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_output(args.output, text)
    return report.exit_status
