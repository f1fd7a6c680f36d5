"""`git:REV:PATH` inputs: a revision can never reach git as an option, whatever the user writes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bcastsim.cli import main

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _archive_options() -> list[str]:
    """Every option `git archive -h` lists, long and short, as the installed git spells them."""
    usage = subprocess.run(["git", "archive", "-h"], capture_output=True, text=True, check=False)
    text = usage.stdout + usage.stderr
    options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text)) | set(
        re.findall(r"(?<![\w-])(-[a-zA-Z0-9])\b", text)
    )
    options.add("-9")  # -NUM, the compression level
    return sorted(options)


ARCHIVE_OPTIONS = _archive_options()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "repo"
    (work / "sql").mkdir(parents=True)
    for name in ("schema.sql", "realtime.sql", "broadcast_triggers.sql"):
        shutil.copy(ROOT / "sql" / name, work / "sql" / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=work, check=True)
    subprocess.run([*git, "add", "-A"], cwd=work, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], cwd=work, check=True)
    monkeypatch.chdir(work)
    return work


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_git_archive_lists_its_options() -> None:
    """The option list the injection test walks is read from git itself and holds --output and --exec."""
    assert {"--output", "-o", "--remote", "--exec", "--add-file"} <= set(ARCHIVE_OPTIONS)


@pytest.mark.parametrize("option", ARCHIVE_OPTIONS)
def test_no_archive_option_gets_through(repo: Path, option: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A revision spelled as any git archive option (bare, =value, glued value) is refused with status 2."""
    victim = repo.parent / "victim.txt"
    before = _tree(repo.parent)
    for rev in (option, f"{option}=../victim.txt", f"{option}../victim.txt", f"{option} x"):
        status = main(["review", f"git:{rev}:sql/", "sql/"])
        err = capsys.readouterr().err
        assert status == 2, rev
        assert len(err.strip().splitlines()) == 1
        assert "not a revision" in err
    assert not victim.exists()
    assert _tree(repo.parent) == before


def test_end_of_options_still_reads_real_revisions(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """HEAD, a branch name and HEAD^{tree} still read the SQL as it was committed."""
    branch = subprocess.run(
        ["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    for rev in ("HEAD", branch, "HEAD^{tree}"):
        assert main(["review", f"git:{rev}:sql/", "sql/"]) == 0, rev
        capsys.readouterr()


@pytest.mark.parametrize("rev", ["no-such-branch", "HEAD~9", "HEAD..HEAD", "a\tb", "x\x01"])
def test_unknown_or_malformed_revision_is_one_line(repo: Path, rev: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A revision the repository lacks or that is malformed exits 2 with one line naming it."""
    assert main(["review", f"git:{rev}:sql/", "sql/"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "revision" in err


def test_pathspec_magic_is_literal(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Pathspec magic is a literal name: as the new side it does not exist, so one line and status 2."""
    os.makedirs(repo / ":(glob)*", exist_ok=True)
    assert main(["review", "sql/", "git:HEAD::(glob)*"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "':(glob)*' did not match" in err


def test_pathspec_magic_on_the_old_side_is_an_empty_version(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """As the old side, a literal ':(glob)*' names nothing in HEAD: a first review, nothing fixed, nothing matched."""
    os.makedirs(repo / ":(glob)*", exist_ok=True)
    main(["review", "git:HEAD::(glob)*", "sql/", "--format", "json"])
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["fixed"] == 0
    assert summary["introduced"] > 0


def test_path_through_a_symlink_loop_is_one_line(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """git:HEAD:PATH where PATH loops through symlinks is an input error, not a crash."""
    (repo / "loop_a").symlink_to(repo / "loop_b")
    (repo / "loop_b").symlink_to(repo / "loop_a")
    assert main(["review", "git:HEAD:loop_a/x.sql", "sql/"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "loop_a" in err
