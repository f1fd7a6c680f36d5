"""Options and output handling shared by ``bcastsim check`` and ``bcastsim review``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bcastsim._errors import InputError
from bcastsim._io import path_kind, write_output
from bcastsim.review._config import TRANSPORTS
from bcastsim.review._report import FAIL_ON, FORMATS

if TYPE_CHECKING:
    from collections.abc import Iterable

    from bcastsim.review import Report, ReviewConfig

__all__ = ["add_common_options", "check_input_paths", "config_from_args", "emit", "schema_paths", "write_output"]


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
    parser.add_argument(
        "--config",
        type=Path,
        help="bcastsim.toml, or pyproject.toml with [tool.bcastsim], to read (default: the nearest one at or above "
        "each input, else above the working directory)",
    )
    parser.add_argument(
        "--fail-on",
        choices=tuple(FAIL_ON),
        help="lowest severity that makes the exit status 1 (default: the config's fail-on, else error)",
    )
    parser.add_argument("--transport", choices=TRANSPORTS, help="target transport (overrides the config)")
    parser.add_argument("--disable", action="append", default=[], metavar="RULE", help="skip a rule; repeatable")
    parser.add_argument("--verbose", "-v", action="store_true", help="text format: also say why each finding matters")


def config_from_args(args: argparse.Namespace) -> ReviewConfig:
    """The project's config (or ``--config``), with the command line's overrides applied."""
    import attrs

    from bcastsim.review import all_rules, config_for

    if args.config is not None and path_kind(args.config, "--config") != "file":
        raise InputError(
            "no such file", path=str(args.config), fix="give --config the path of a bcastsim.toml or pyproject.toml"
        )
    config = config_for(_config_start(args), args.config)
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
    if args.fail_on:
        config = attrs.evolve(config, fail_on=args.fail_on)
    return config


# Inputs that name a git revision or the empty version rather than a path on disk.
_NOT_ON_DISK = ("git:", "none:")


def _config_start(args: argparse.Namespace) -> Path:
    """Where the configuration search starts: the inputs on disk (all in one project), else the working directory.

    Inputs whose nearest configurations differ belong to different projects: one run cannot apply both.
    An input with no configuration above it (a copy in a temporary folder, a file outside any project)
    takes the one the other inputs have; under review the new version's is looked at first.
    """
    from bcastsim._resources import display_path
    from bcastsim.review import find_config

    named = [getattr(args, "new", None), getattr(args, "old", None)]
    inputs: list[str | None] = [*named, *(getattr(args, "paths", None) or ())]
    on_disk = [Path(spec) for spec in inputs if spec and not spec.startswith(_NOT_ON_DISK) and Path(spec).exists()]
    if args.config is not None or not on_disk:
        return Path.cwd()
    found = {spec: config for spec in on_disk if (config := find_config(spec)) is not None}
    distinct = sorted({display_path(config) for config in found.values()})
    if len(distinct) > 1:
        raise InputError(
            f"the inputs have different configurations ({', '.join(distinct)})",
            fix="check each project in its own run, or choose one with --config",
        )
    return next(iter(found), on_disk[0])


def check_input_paths(specs: list[str]) -> None:
    """Each input on disk is usable: a loop or an over-long name is one line, before anything else runs."""
    for spec in specs:
        if not spec.startswith(_NOT_ON_DISK):
            path_kind(spec, "input path")


def schema_paths(args: argparse.Namespace, config: ReviewConfig, checked: list[str]) -> list[Path]:
    """``--schema`` when given, else the config's ``schema``; a schema file that is itself checked is not schema."""
    schema = [Path(p) for p in args.schema] or list(config.schema)
    for path in schema:
        path_kind(path, "--schema")  # a loop or an over-long name is one line, before resolve() meets it
    checked_files = {Path(p).resolve() for p in checked if not p.startswith(_NOT_ON_DISK)}
    if all(path.resolve() in checked_files for path in schema) and schema and len(checked_files) == len(checked):
        # Only schema files are checked (a hook run on a change to them): check them as they are.
        return []
    return schema


def emit(report: Report, args: argparse.Namespace, config: ReviewConfig) -> int:
    """Render the report and write it (JSON as it is produced); the exit status follows ``fail-on``.

    A ``fail-on`` that comes from the configuration file, not from ``--fail-on``, is the reviewed
    repository's: it cannot let a privilege or containment error pass (``Report.held``).
    """
    import attrs

    from bcastsim._resources import display_path

    shown_config = display_path(config.source) if config.source else None
    from_config = args.fail_on is None and config.source is not None
    report = attrs.evolve(report, fail_on=config.fail_on, fail_on_from_config=from_config, config=shown_config)
    from bcastsim.review import render
    from bcastsim.review._report import json_chunks

    # JSON is written as it is produced (the document of 20,000 findings is tens of MiB as text);
    # to a file, aside and then renamed into place, so a failure leaves nothing half-written.
    text: Iterable[str] = (
        json_chunks(report) if args.format == "json" else (render(report, args.format, verbose=args.verbose),)
    )
    if args.output is None:
        for piece in text:
            sys.stdout.write(piece)
        sys.stdout.flush()
    else:
        write_output(args.output, text)
    return report.exit_status
