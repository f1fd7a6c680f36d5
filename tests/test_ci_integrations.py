"""The pre-commit hook and the GitHub action, run the way pre-commit and a GitHub runner run them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _sarif_github import github_upload_problems

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "sql" / "review"
PAIR = FIXTURES / "diff" / "payload-key-removed"
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(repo: Path, *args: str) -> None:
    subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True)


def _project(tmp_path: Path, config: str = "") -> Path:
    """A git project with its tables in db/ and [tool.bcastsim] naming them as schema."""
    repo = tmp_path / "project"
    (repo / "db").mkdir(parents=True)
    shutil.copy(FIXTURES / "schema.sql", repo / "db" / "schema.sql")
    shutil.copy(ROOT / "sql" / "realtime.sql", repo / "db" / "realtime.sql")
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "1"\n\n[tool.bcastsim]\nschema = ["db/schema.sql", "db/realtime.sql"]\n'
        + config
    )
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "tables")
    return repo


# -- pre-commit ------------------------------------------------------------------------------


def _try_repo(repo: Path, home: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PRE_COMMIT_HOME": str(home), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "bcastsim-check", "--verbose"],
        cwd=repo,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.slow
def test_pre_commit_hook_checks_staged_sql_with_the_project_schema(tmp_path: Path) -> None:
    """pre-commit's try-repo installs the hook; a trigger-only file passes with the config's schema, a bad one fails."""
    repo = _project(tmp_path)
    home = tmp_path / "pre-commit-home"
    shutil.copy(PAIR / "new.sql", repo / "db" / "triggers.sql")
    _git(repo, "add", "db/triggers.sql")
    passed = _try_repo(repo, home)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout
    assert "0 errors, 0 warnings" in passed.stdout

    unsafe = "CREATE FUNCTION leak() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN RETURN NULL; END $$;"
    (repo / "db" / "triggers.sql").write_text((PAIR / "new.sql").read_text() + "\n" + unsafe + "\n")
    _git(repo, "add", "db/triggers.sql")
    failed = _try_repo(repo, home)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Failed" in failed.stdout
    assert "error[security-definer-search-path]" in failed.stdout


# -- the GitHub action -----------------------------------------------------------------------


def _pull_request(tmp_path: Path, base_has_sql: bool) -> Path:
    """A checkout of a pull request: origin/main is the base, HEAD adds or changes db/triggers.sql."""
    repo = _project(tmp_path)
    if base_has_sql:
        shutil.copy(PAIR / "old.sql", repo / "db" / "triggers.sql")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "triggers")
    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(repo, "checkout", "-q", "-b", "feature")
    shutil.copy(PAIR / "new.sql", repo / "db" / "triggers.sql")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "change")
    return repo


def _run_action(repo: Path, tmp_path: Path, **inputs: str) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    summary = tmp_path / "step-summary.md"
    output = tmp_path / "github-output"
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(repo),
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_BASE_REF": "main",
        "GITHUB_HEAD_REF": "feature",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        "RUNNER_TEMP": str(runner_temp),
        "BCASTSIM_PATH": "db/",
        **{f"BCASTSIM_{key.upper()}": value for key, value in inputs.items()},
    }
    script = ROOT / "action" / "run.sh"
    completed = subprocess.run(
        ["bash", str(script)], cwd=repo, env=environment, capture_output=True, text=True, check=False
    )
    return completed, summary, output


def test_action_reviews_the_pull_request_against_its_base(tmp_path: Path) -> None:
    """On a PR removing a payload key: exit 1, error annotations first on the checkout's file, summary and SARIF."""
    repo = _pull_request(tmp_path, base_has_sql=True)
    completed, summary, output = _run_action(repo, tmp_path)
    assert completed.returncode == 1, completed.stderr
    annotations = [line for line in completed.stdout.splitlines() if line.startswith("::")]
    assert annotations[0].startswith("::error file=db/triggers.sql,line=")
    assert "payload-key-removed" in annotations[0]
    levels = [line[2 : line.index(" ")] for line in annotations]
    assert levels == sorted(levels, key=["error", "warning", "notice"].index)
    text = summary.read_text()
    assert text.startswith("### bcastsim review: fails")
    assert "payload-key-removed" in text
    sarif_line = next(line for line in output.read_text().splitlines() if line.startswith("sarif="))
    document = json.loads(Path(sarif_line.removeprefix("sarif=")).read_text())
    assert github_upload_problems(document, repo) == []


def test_action_on_a_first_pull_request_with_no_sql_in_the_base(tmp_path: Path) -> None:
    """When the base branch has no db/ yet, the review treats everything as new instead of failing with 2."""
    repo = _pull_request(tmp_path, base_has_sql=False)
    completed, summary, _ = _run_action(repo, tmp_path, fail_on="never")
    assert completed.returncode == 0, completed.stderr
    assert "introduced" in summary.read_text()
    assert "message-added" in summary.read_text()
