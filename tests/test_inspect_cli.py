"""``bcastsim inspect``: text and JSON reports, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bcastsim._resources import builtin_sql_dir
from bcastsim.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "sql" / "inspect"
SQL = str(builtin_sql_dir())


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["inspect", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_text_report_lists_functions_triggers_and_sites(capsys: pytest.CaptureFixture[str]) -> None:
    """The text report names the 5 triggers, every channel template and the lineage of bidder_id."""
    status, out, err = _run(capsys, SQL)
    assert status == 0
    assert err == ""
    assert "5 triggers" in out
    assert "7 notify sites" in out
    for name in ("broadcast_bid_realtime", "broadcast_vote_realtime", "broadcast_art_realtime"):
        assert f"→ {name}()" in out
    assert "broadcast:bid:{bids.art_id}" in out
    assert "broadcast:admin:{round_contestants.event_id}" in out
    bidder_line = next(line for line in out.splitlines() if line.strip().startswith("bidder_id "))
    assert "← bids.person_id" in bidder_line
    artist_line = next(line for line in out.splitlines() if line.strip().startswith("artist_name "))
    assert "← artist_profiles.name" in artist_line
    assert "LEFT JOIN" in artist_line


def test_json_document_shape(capsys: pytest.CaptureFixture[str]) -> None:
    """The JSON document has the documented top-level keys and per-site fields."""
    status, out, _ = _run(capsys, SQL, "--format", "json")
    assert status == 0
    doc = json.loads(out)
    assert set(doc) == {
        "schema_version",
        "paths",
        "summary",
        "tables",
        "functions",
        "triggers",
        "notify_sites",
        "contracts",
        "diagnostics",
    }
    assert doc["summary"]["triggers"] == 5
    assert len([f for f in doc["functions"] if f["name"].startswith("broadcast_")]) == 5
    bid = next(s for s in doc["notify_sites"] if s["channel"]["pattern"] == "broadcast:bid:{bids.art_id}")
    assert bid["channel"]["holes"][0]["sources"] == ["bids.art_id"]
    bidder = next(f for f in bid["payload"] if f["key"] == "bidder_id")
    assert bidder["sources"] == ["bids.person_id"]
    assert {c["message_type"] for c in doc["contracts"]} >= {"bid_update", "vote_update", "media_update"}


def test_json_is_byte_stable(capsys: pytest.CaptureFixture[str]) -> None:
    """Two runs on the same input print the same bytes."""
    first = _run(capsys, SQL, "--format", "json", "--graph")[1]
    second = _run(capsys, SQL, "--format", "json", "--graph")[1]
    assert first == second
    assert "graph" in json.loads(first)


def test_diagnostics_are_reported_not_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    """Unsupported constructs appear in the report with file:line and the command still succeeds."""
    status, out, _ = _run(capsys, str(FIXTURES / "dynamic.sql"))
    assert status == 0
    assert "dynamic-channel" in out
    assert "dynamic-sql" in out
    assert "loop-payload" in out
    assert f"{FIXTURES / 'dynamic.sql'}:" in out


@pytest.mark.parametrize("name", ["syntax_error.sql", "plpgsql_error.sql", "expression_error.sql"])
def test_malformed_sql_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], name: str) -> None:
    """Malformed SQL prints one line naming file and line on stderr, and exits 2."""
    status, out, err = _run(capsys, str(FIXTURES / name))
    assert status == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert f"{FIXTURES / name}:" in err


def test_console_script_runs() -> None:
    """`python -m bcastsim.cli inspect` works as a separate process and exits 0."""
    result = subprocess.run(
        [sys.executable, "-m", "bcastsim.cli", "inspect", SQL, "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["summary"]["notify_sites"] == 7


def test_json_does_not_depend_on_hash_seed() -> None:
    """Processes with different PYTHONHASHSEED print the same JSON (no set order reaches the output)."""
    import os

    outputs = set()
    for seed in ("1", "2"):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "bcastsim.cli",
                "inspect",
                SQL,
                str(FIXTURES / "rooms.sql"),
                "--format",
                "json",
                "--graph",
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outputs.add(result.stdout)
    assert len(outputs) == 1


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_smallest_trigger_inspects_in_every_format(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    """A trigger whose payload is one scalar (PERFORM pg_notify(ch, NEW.id::text)) inspects with exit 0."""
    status, out, err = _run(capsys, str(FIXTURES / "smallest_trigger.sql"), "--format", fmt)
    assert (status, err) == (0, "")
    assert "jobs_done" in out
    if fmt == "text":
        assert "payload     scalar, ≤ 20 bytes" in out
    else:
        (site,) = json.loads(out)["notify_sites"]
        assert (site["payload_builder"], site["payload"], site["max_payload_bytes"]) == ("scalar", None, 20)
