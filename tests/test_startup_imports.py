"""A command's help loads none of the libraries only its work needs: the parsers, the solver, the plots, JSON."""

from __future__ import annotations

import subprocess
import sys

from bcastsim._resources import builtin_sql_dir
from bcastsim.cli import build_parser

# What the work of some command needs and no --help does (each tens of milliseconds or more to import).
_WORK_ONLY = ("networkx", "matplotlib", "jsonschema", "hypothesis", "orjson", "z3", "psycopg", "sqlglot", "pglast")

_PROBE = """
import sys
from bcastsim.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(" ".join(name for name in {names!r} if name in sys.modules), file=sys.stderr)
"""


def _loaded_by(*args: str) -> list[str]:
    probe = _PROBE.format(names=_WORK_ONLY)
    done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, check=False)
    return done.stderr.strip().splitlines()[-1].split() if done.stderr.strip() else []


def test_help_of_every_command_loads_no_work_library() -> None:
    """`bcastsim --help` and every command's `--help` import none of the work's libraries."""
    parser = build_parser()
    commands = [action.dest for action in parser._subparsers._group_actions[0]._choices_actions]  # type: ignore[union-attr]
    assert {"simulate", "check", "inspect", "review"} <= set(commands)
    for command in ["", *commands]:
        assert _loaded_by(*([command] if command else []), "--help") == [], command


def test_the_probe_sees_a_library_a_command_loads() -> None:
    """The probe is not blind: `inspect --format json` on the seed's SQL loads the SQL parser and orjson."""
    loaded = _loaded_by("inspect", "--format", "json", str(builtin_sql_dir()))
    assert {"pglast", "orjson"} <= set(loaded)
