"""Suppression comments and baselines: statement-wide, file-wide, unused or unknown ones reported once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bcastsim.cli import main
from bcastsim.review import Report, check, review
from bcastsim.review._suppress import SUPPRESSION_RULE, UNUSED_SUPPRESSION_RULE

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "tests" / "fixtures" / "sql" / "review" / "rules"
SCHEMA = [ROOT / "sql" / "realtime.sql", ROOT / "tests" / "fixtures" / "sql" / "review" / "schema.sql"]
DEFINER = (RULES / "security-definer-search-path.unsafe.sql").read_text()


def _write(tmp_path: Path, text: str, name: str = "triggers.sql") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _rules(report: Report) -> list[str]:
    return [entry.finding.rule for entry in report.entries]


def test_comment_on_the_security_definer_line_suppresses_the_function_finding(tmp_path: Path) -> None:
    """The finding sits on CREATE FUNCTION; a comment beside SECURITY DEFINER, lines below, still suppresses it."""
    text = DEFINER.replace(
        "SECURITY DEFINER AS $$", "SECURITY DEFINER AS $$ -- bcastsim: ignore[security-definer-search-path] reviewed"
    )
    report = check([_write(tmp_path, text)], schema=SCHEMA)
    assert "security-definer-search-path" not in _rules(report)
    assert report.suppressed == 1
    assert UNUSED_SUPPRESSION_RULE not in _rules(report)


def test_comment_in_the_function_body_suppresses_it_too(tmp_path: Path) -> None:
    """Anywhere inside the statement counts, including the dollar-quoted body."""
    text = DEFINER.replace("  RETURN NULL;", "  RETURN NULL; -- bcastsim: ignore[security-definer-search-path]")
    assert "security-definer-search-path" not in _rules(check([_write(tmp_path, text)], schema=SCHEMA))


def test_comment_on_another_statement_is_unused(tmp_path: Path) -> None:
    """A suppression on the trigger does not reach the function's finding and is reported as unused, at its line."""
    text = DEFINER.replace(
        "CREATE TRIGGER item_definer_trigger",
        "CREATE TRIGGER item_definer_trigger -- bcastsim: ignore[security-definer-search-path]",
    )
    report = check([_write(tmp_path, text)], schema=SCHEMA)
    assert "security-definer-search-path" in _rules(report)
    unused = [e.finding for e in report.entries if e.finding.rule == UNUSED_SUPPRESSION_RULE]
    assert len(unused) == 1
    assert unused[0].severity.value == "note"
    assert (
        unused[0].line
        == text.splitlines().index(
            "CREATE TRIGGER item_definer_trigger -- bcastsim: ignore[security-definer-search-path]"
        )
        + 1
    )


def test_ignore_file_suppresses_the_rule_in_the_whole_file(tmp_path: Path) -> None:
    """`ignore-file[rule]` anywhere in the file hides every finding of that rule there, and only there."""
    text = "-- bcastsim: ignore-file[security-definer-search-path] legacy functions\n" + DEFINER
    path = _write(tmp_path, text)
    other = _write(tmp_path, DEFINER.replace("item_definer", "other_definer"), "other.sql")
    report = check([path, other], schema=SCHEMA)
    hits = [e.finding for e in report.entries if e.finding.rule == "security-definer-search-path"]
    assert [Path(f.path or "").name for f in hits] == ["other.sql"]
    assert report.suppressed == 1


def test_unknown_id_is_one_note_in_a_review(tmp_path: Path) -> None:
    """A misspelt id is reported once in a review (not per side or per pass), as a note."""
    old = _write(tmp_path, DEFINER, "old.sql")
    new = _write(tmp_path, DEFINER.replace("RETURN NULL;", "RETURN NULL; -- bcastsim: ignore[no-such-rule]"), "new.sql")
    report = review(str(old), str(new), schema=SCHEMA)
    notes = [e.finding for e in report.entries if e.finding.rule == SUPPRESSION_RULE]
    assert len(notes) == 1
    assert notes[0].severity.value == "note"


def test_baseline_hides_recorded_findings_and_fails_on_new_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--baseline write` records today's findings; `use` reports only findings added since, with the count."""
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path, DEFINER)
    schema = [arg for file in SCHEMA for arg in ("--schema", str(file))]
    assert main(["check", path.name, *schema, "--baseline", "write", "base.json"]) == 0
    recorded = json.loads((tmp_path / "base.json").read_text())
    assert any(entry["rule"] == "security-definer-search-path" for entry in recorded["findings"])
    capsys.readouterr()

    path.write_text(DEFINER + "\n" + DEFINER.replace("item_definer", "second_definer"))
    status = main(["check", path.name, *schema, "--baseline", "use", "base.json", "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    assert status == 1
    assert [f["function"] for f in document["findings"] if f["rule"] == "security-definer-search-path"] == [
        "second_definer_send"
    ]
    assert document["summary"]["baselined"] == len(recorded["findings"])


def test_malformed_baseline_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A baseline that is not bcastsim's is one line naming the file, exit 2."""
    path = _write(tmp_path, DEFINER)
    (tmp_path / "base.json").write_text("[1, 2]")
    status = main(["check", str(path), "--baseline", "use", str(tmp_path / "base.json")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f"bcastsim: error: {tmp_path / 'base.json'}: not a bcastsim baseline")
    assert len(err.splitlines()) == 1


def test_unused_suppression_note_names_the_file_as_other_findings_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checked as db/triggers.sql, the unused-suppression note says db/triggers.sql, not an absolute path."""
    (tmp_path / "db").mkdir()
    _write(tmp_path / "db", "-- bcastsim: ignore-file[payload-too-large]\n" + DEFINER)
    monkeypatch.chdir(tmp_path)
    main(["check", "db/triggers.sql", *(f"--schema={p}" for p in SCHEMA), "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    paths = {f["rule"]: f["path"] for f in findings}
    assert paths[UNUSED_SUPPRESSION_RULE] == "db/triggers.sql"
    assert paths["security-definer-search-path"] == "db/triggers.sql"


@pytest.mark.parametrize(
    "before",
    [
        "",
        "SELECT 1;\n\n",
        "SELECT 1;\n",
        "SELECT 1; -- a comment on the previous statement\n",
    ],
    ids=["first-in-file", "after-a-blank-line", "right-after-a-statement", "after-a-commented-statement"],
)
def test_comment_on_the_line_above_the_statement_suppresses_it(tmp_path: Path, before: str) -> None:
    """A comment line directly above CREATE FUNCTION (the documented place) suppresses the function's finding."""
    text = before + "-- bcastsim: ignore[security-definer-search-path] reviewed\n" + DEFINER
    report = check([_write(tmp_path, text)], schema=SCHEMA)
    assert "security-definer-search-path" not in _rules(report)
    assert report.suppressed == 1
    assert UNUSED_SUPPRESSION_RULE not in _rules(report)


def test_comment_above_a_blank_line_does_not_reach_the_statement(tmp_path: Path) -> None:
    """A blank line ends the comment block: a comment separated from the statement by one suppresses nothing."""
    text = "SELECT 1;\n-- bcastsim: ignore[security-definer-search-path]\n\n" + DEFINER.split("\n", 1)[1]
    report = check([_write(tmp_path, text)], schema=SCHEMA)
    assert "security-definer-search-path" in _rules(report)
    assert UNUSED_SUPPRESSION_RULE in _rules(report)


def test_comment_block_above_the_trigger_does_not_reach_the_function(tmp_path: Path) -> None:
    """A comment block above CREATE TRIGGER belongs to the trigger, not to the function statement before it."""
    text = DEFINER.replace(
        "CREATE TRIGGER item_definer_trigger",
        "-- bcastsim: ignore[security-definer-search-path]\nCREATE TRIGGER item_definer_trigger",
    )
    report = check([_write(tmp_path, text)], schema=SCHEMA)
    assert "security-definer-search-path" in _rules(report)


def test_baseline_cannot_hide_a_privilege_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A COPY … PROGRAM recorded in the baseline is still reported and fails, counted apart with the reason."""
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path, (RULES / "copy-program.unsafe.sql").read_text())
    assert main(["check", path.name, "--baseline", "write", "base.json"]) == 1
    capsys.readouterr()
    status = main(["check", path.name, "--baseline", "use", "base.json", "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    summary = document["summary"]
    copies = [f for f in document["findings"] if f["rule"] == "copy-program"]
    assert status == 1
    assert len(copies) == summary["baseline_refused"] == 4
    recorded = json.loads((tmp_path / "base.json").read_text())["findings"]
    assert summary["total"] == len(copies)
    assert summary["baselined"] == len(recorded) - len(copies)
    assert main(["check", path.name, "--baseline", "use", "base.json"]) == 1
    assert "a baseline cannot hide privilege and containment findings" in capsys.readouterr().out
