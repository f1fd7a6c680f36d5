"""``bcastsim schema scenario [-o FILE]``: the JSON Schema of a scenario file, for an editor's ``#:schema``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["HELP", "configure", "run"]

HELP = "print the JSON Schema of an input file (schema scenario), e.g. for an editor's #:schema line"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="schema_of", metavar="WHAT", required=True)
    scenario = sub.add_parser("scenario", help="the JSON Schema of a simulate scenario TOML")
    scenario.add_argument("-o", "--output", type=Path, metavar="FILE", help="write it to FILE, not standard output")


def run(args: argparse.Namespace) -> int:
    from bcastsim._io import write_output
    from bcastsim.sim._scenario import scenario_json_schema

    text = json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        write_output(args.output, text)
    return 0
