"""README.md: the figures and outputs it quotes are what the commands print; its user block runs from a wheel."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bcastsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
FENCE = re.compile(r"```[a-z]*\n(.*?)```", re.DOTALL)


def _block_after(marker: str) -> list[str]:
    """The lines of the first fenced block after ``marker`` in the README."""
    at = README.index(marker)
    match = FENCE.search(README, at)
    assert match is not None, marker
    return match.group(1).splitlines()


def _output(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str) -> tuple[int, str]:
    monkeypatch.chdir(ROOT)
    status = main(list(argv))
    return status, capsys.readouterr().out


def _quoted_in(lines: list[str], output: str) -> None:
    """Each quoted output line is printed: its pieces around '...' appear, in order, on one line of the output."""
    printed = output.splitlines()
    for line in lines:
        if line.startswith("$ ") or not line.strip():
            continue
        pieces = [piece.strip() for piece in line.split("...") if piece.strip()]
        assert any(_in_order(pieces, candidate) for candidate in printed), line


def _in_order(pieces: list[str], line: str) -> bool:
    position = 0
    for piece in pieces:
        found = line.find(piece, position)
        if found < 0:
            return False
        position = found + len(piece)
    return True


def test_check_of_the_seed_prints_what_the_readme_quotes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bcastsim check sql/`: the exit status, counts, quoted lines and JSON summary the README shows."""
    status, text = _output(capsys, monkeypatch, "check", "sql/")
    claim = re.search(r"`bcastsim check sql/` exits (\d) with (\d+) errors, (\d+) warnings and (\d+) notes", README)
    assert claim is not None
    exit_status, errors, warnings, notes = map(int, claim.groups())
    assert status == exit_status
    assert text.splitlines()[-1] == f"{errors} errors, {warnings} warnings, {notes} notes; config pyproject.toml"
    _quoted_in(_block_after("exits 1 with"), text)
    _, document = _output(capsys, monkeypatch, "check", "sql/", "--format", "json")
    summary = json.loads(document)["summary"]
    shown = re.search(r'"summary": \{"command": "check", "inputs": \["sql/"\], "total": (\d+), "errors": (\d+), '
                      r'"warnings": (\d+),\s+"notes": (\d+)', README)  # fmt: skip
    assert shown is not None
    assert tuple(map(int, shown.groups())) == (summary["total"], errors, warnings, notes)
    assert (summary["errors"], summary["warnings"], summary["notes"]) == (errors, warnings, notes)


def test_inspect_counts_in_the_readme(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`bcastsim inspect sql/` finds the numbers of functions, triggers and notify sites the README names."""
    words = {"five": 5, "six": 6, "seven": 7, "eight": 8}
    claim = re.search(r"lists the (\w+) functions \(.*?\), (\w+) triggers and (\w+) notify sites", README, re.DOTALL)
    assert claim is not None
    _, document = _output(capsys, monkeypatch, "inspect", "sql/", "--format", "json")
    summary = json.loads(document)["summary"]
    assert (summary["functions"], summary["triggers"], summary["notify_sites"]) == tuple(
        words[w] for w in claim.groups()
    )


@pytest.mark.parametrize("profile", ["recommended", "seed"])
def test_client_profile_output_is_what_the_readme_quotes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, profile: str
) -> None:
    """`bcastsim check --client PROFILE` prints the README's quoted lines and its closing counts."""
    _, text = _output(capsys, monkeypatch, "check", "--client", profile)
    quoted = next(
        block.splitlines() for block in FENCE.findall(README) if f"$ bcastsim check --client {profile}" in block
    )
    assert text.splitlines()[-1] == quoted[-1]
    from bcastsim.client._node import default_seed_plan

    located = [line for line in quoted if line.startswith("../shared/")]
    if located and not default_seed_plan().is_file():
        quoted = [line for line in quoted if line not in located]
    _quoted_in(quoted, re.sub(r"^(\.\./)+shared/", "../shared/", text, flags=re.MULTILINE))  # wherever the checkout is


def _user_block() -> tuple[list[str], str]:
    """The README's user block: its shell lines and its pyproject.toml lines."""
    start = README.index("<!-- user-block")
    end = README.index("<!-- /user-block -->")
    blocks = FENCE.findall(README[start:end])
    commands = [line for line in blocks[0].splitlines() if line.strip()]
    return commands, blocks[1]


@pytest.mark.slow
def test_user_block_runs_from_a_built_wheel_outside_the_checkout(tmp_path: Path) -> None:
    """The user block, line by line, in a fresh venv holding the built wheel, in a project of its own."""
    commands, pyproject = _user_block()
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("bcastsim-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    # A project of the user's own: the quiz app's SQL under db/ (the block writes db/realtime.sql), its event,
    # one test using the plugin.
    project = tmp_path / "project"
    (project / "db").mkdir(parents=True)
    fixtures = ROOT / "tests" / "fixtures" / "sim"
    quiz = (fixtures / "quiz.sql").read_text()
    tables, _, triggers = quiz.partition("CREATE FUNCTION round_started()")
    (project / "db" / "schema.sql").write_text(tables)
    (project / "db" / "triggers.sql").write_text("CREATE FUNCTION round_started()" + triggers)
    event = (fixtures / "quiz.toml").read_text()
    own_sql = 'sql = ["db/realtime.sql", "db/schema.sql", "db/triggers.sql"]'
    event = event.replace('sql = ["../../../sql/realtime.sql", "quiz.sql"]', own_sql)
    event = event.replace("count = 3200", "count = 400").replace("count = 80", "count = 10")
    event = event.replace('plan = "team"', 'plan = "free"')  # 400 players on Free's 200 connections
    (project / "event.toml").write_text(event)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "quiz"\nversion = "0"\n\n[tool.bcastsim]\nhot-tables = ["answers"]\n\n' + pyproject
    )
    (project / "tests").mkdir()
    (project / "tests" / "test_rounds.py").write_text(
        "def test_a_round_start_is_broadcast_to_its_lobby(bcastsim_db):\n"
        "    '''The plugin loaded db/ into a throwaway PostgreSQL: a round start sends on its lobby.'''\n"
        "    bcastsim_db.execute(\"INSERT INTO lobbies VALUES ('00000000-0000-0000-0000-000000000001', 'a')\")\n"
        "    result = bcastsim_db.run_transaction([\n"
        "        \"INSERT INTO rounds (lobby_id, question) VALUES ('00000000-0000-0000-0000-000000000001', 'q')\"])\n"
        "    assert [m.topic for m in result.messages] == ['lobby:00000000-0000-0000-0000-000000000001']\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    for command in commands:
        line = command.split("#")[0].strip()
        if line.startswith("python -m pip install"):
            line = line.replace("git+https://github.com/bcastsim/bcastsim", wheel.as_uri())
        if line == "bcastsim client install" and shutil.which("npm") is None:
            continue  # needs npm; the README says so
        completed = subprocess.run(
            line, shell=True, cwd=project, env=env, capture_output=True, text=True, check=False, timeout=900
        )
        assert completed.returncode == 0, f"{line}\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
        if line.startswith("bcastsim check"):
            assert completed.stdout.splitlines()[-1].endswith("; config pyproject.toml")
        if line.startswith("bcastsim simulate"):
            assert completed.stdout.index("Caps this audience exceeds") < completed.stdout.index("On plan free")
            assert "Why (" in completed.stdout
        if line == "python -m pytest":
            assert "1 passed" in completed.stdout
    assert (project / "db" / "realtime.sql").read_text() == (ROOT / "sql" / "realtime.sql").read_text()
    assert not any(str(ROOT) in p.read_text() for p in project.rglob("*") if p.is_file() and p.suffix in {".toml"})


def test_the_one_line_error_is_what_the_readme_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A scenario key with a typo prints exactly the README's one-line error, with exit status 2."""
    quoted = next(line for line in README.splitlines() if line.startswith("bcastsim: error: mine.toml:"))
    (tmp_path / "mine.toml").write_text("[populations.audience]\ncuont = 5\n")
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", "mine.toml"]) == 2
    assert capsys.readouterr().err.strip() == quoted


def test_the_built_in_event_is_the_one_the_readme_describes() -> None:
    """`bcastsim simulate` with no scenario: 2,000 viewers, 20 artworks and three hours, as the README says."""
    from bcastsim.sim import load_scenario

    scenario = load_scenario("artbattle")
    assert "(2,000 viewers, 20 artworks, three voting" in " ".join(README.split())
    assert scenario.populations["audience"].count == 2000
    assert sum(scenario.entities["artwork"].per_phase.values()) == 20
    assert scenario.scenario.duration_s == 3 * 3600
    assert "three-hour Art Battle event" in README
