"""``bcastsim simulate`` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _sim_support import TINY
from bcastsim.cli import main


def test_json_output_and_out_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--format json prints the JSON report; --out writes both renderings; no progress bar off a TTY."""
    status = main(
        ["simulate", str(TINY), "--clients", "20", "--arch", "broadcast", "--format", "json", "--out", str(tmp_path)]
    )
    out, err = capsys.readouterr()
    assert status == 0
    assert err == ""
    data = json.loads(out)
    assert data["scenario"]["audience"] == 20
    assert (tmp_path / "report.json").read_text() == out
    assert (tmp_path / "report.txt").read_text().startswith("bcastsim simulate · scenario tiny")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arch", "broadcats"], 'unknown architecture "broadcats"'),
        (["--plan", "teem"], 'unknown plan "teem"'),
        (["--profile", "sed"], 'unknown client profile "sed"'),
        (["--clients", "0"], "--clients must be at least 1"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Bad options are one line on stderr and exit status 2, never a traceback."""
    status = main(["simulate", str(TINY), *args])
    _out, err = capsys.readouterr()
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_seed_sweep_prints_one_line_per_run(capsys: pytest.CaptureFixture[str]) -> None:
    """--seeds runs a sweep and prints each seed's runs with their fingerprints."""
    status = main(["simulate", str(TINY), "--clients", "20", "--arch", "broadcast", "--seeds", "1-2"])
    out, _err = capsys.readouterr()
    assert status == 0
    rows = [line for line in out.splitlines()[1:] if line.strip()]
    assert [row.split()[0] for row in rows] == ["1", "2"]


def test_sql_directory_is_replayed_and_shown_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--sql db/` takes a directory; the replay command repeats it and no line holds the machine's absolute path."""
    import shutil

    root = Path(__file__).resolve().parents[1]
    (tmp_path / "db").mkdir()
    shutil.copy(root / "tests" / "fixtures" / "sim" / "jobs.sql", tmp_path / "db" / "jobs.sql")
    shutil.copy(root / "tests" / "fixtures" / "sim" / "jobs.toml", tmp_path / "jobs.toml")
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", "jobs.toml", "--sql", "db/", "--arch", "listen_notify"]) == 0
    text = capsys.readouterr().out
    replay = text.splitlines()[1]
    assert replay.endswith("--sql db/")
    assert "the contracts of db;" in text
    assert str(tmp_path) not in text
    assert main(replay.removeprefix("replay: bcastsim ").split()) == 0
    assert capsys.readouterr().out == text
