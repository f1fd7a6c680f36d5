"""Exit status: 0 clean, 1 error-level finding, 2 bad usage or input, 3 a bug in bcastsim (one line)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from bcastsim._commands import check as check_command
from bcastsim.cli import EXIT_INTERNAL_ERROR, main

ROOT = Path(__file__).resolve().parents[1]


def _crash(args: argparse.Namespace) -> int:
    raise ZeroDivisionError("a bug planted by the test")


@pytest.fixture
def crashing_check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """`check` raises an unexpected exception; crash files go to a private temporary directory."""
    monkeypatch.setattr(check_command, "run", _crash)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    return tmp_path


def test_internal_error_is_status_3_and_one_line(crashing_check: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bug exits 3 with one line that says it is a bug, names the exception and where the traceback is."""
    status = main(["check", str(ROOT / "sql")])
    err = capsys.readouterr().err
    assert status == EXIT_INTERNAL_ERROR == 3
    assert len(err.strip().splitlines()) == 1
    assert "internal error (a bug in bcastsim" in err
    assert "ZeroDivisionError: a bug planted by the test" in err
    assert "Traceback" not in err
    match = re.search(r"with (\S+bcastsim-crash-\S+\.txt)", err)
    assert match is not None, err
    saved = Path(match.group(1)).read_text()
    assert "Traceback" in saved
    assert "ZeroDivisionError" in saved
    assert Path(match.group(1)).parent == crashing_check


@pytest.mark.parametrize("argv", [["--debug", "check"], ["check", "--debug"]])
def test_debug_prints_the_traceback(crashing_check: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    """With --debug (before or after the command) the traceback goes to standard error and no file is written."""
    status = main([*argv, str(ROOT / "sql")])
    err = capsys.readouterr().err
    assert status == 3
    assert "Traceback (most recent call last)" in err
    assert "ZeroDivisionError" in err
    assert list(crashing_check.iterdir()) == []


def test_usage_error_is_status_2_and_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown option is bad usage: status 2 and a single line pointing at --help."""
    with pytest.raises(SystemExit) as exited:
        main(["check", "--no-such-option"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "--help" in err


def test_findings_are_status_1_not_3(capsys: pytest.CaptureFixture[str]) -> None:
    """The seed SQL's error-level findings give status 1, distinct from an internal error."""
    assert main(["check", str(ROOT / "sql")]) == 1
    assert capsys.readouterr().err == ""
