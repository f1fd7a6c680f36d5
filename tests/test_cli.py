"""The bcastsim entry point: version, help, and one-line errors."""

from __future__ import annotations

import subprocess
import sys

from bcastsim import __version__
from bcastsim.cli import build_parser, main


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bcastsim.cli", *args], capture_output=True, text=True, check=False)


def test_version_is_printed() -> None:
    """`bcastsim --version` prints the installed version and exits 0."""
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"bcastsim {__version__}"


def test_help_lists_only_commands_that_exist() -> None:
    """`--help` lists a sub-command exactly when its module is importable, and each one has its own help."""
    parser = build_parser()
    listed = {action.dest for action in parser._subparsers._group_actions[0]._choices_actions}  # type: ignore[union-attr]
    assert listed, "no sub-command is available"
    for name in listed:
        assert run_cli(name, "--help").returncode == 0


def test_no_command_prints_help_and_exits_2(capsys: object) -> None:
    """Running bcastsim without a sub-command is a usage error."""
    assert main([]) == 2


def test_schema_scenario_prints_the_shipped_json_schema(tmp_path: object) -> None:
    """`bcastsim schema scenario` prints models/scenario.schema.json byte for byte; -o writes the same."""
    from pathlib import Path

    from bcastsim._resources import builtin_models_dir

    shipped = (builtin_models_dir() / "scenario.schema.json").read_text()
    result = run_cli("schema", "scenario")
    assert result.returncode == 0, result.stderr
    assert result.stdout == shipped
    target = Path(str(tmp_path)) / "scenario.schema.json"
    assert run_cli("schema", "scenario", "-o", str(target)).returncode == 0
    assert target.read_text() == shipped
