"""Every printed fix is a patch: applied with patch(1), the finding goes, and the messages stay but where meant.

Each case is a fixture whose finding comes with a unified diff. The test applies the diff to a
copy of the fixture, checks the copy again (the finding is gone and nothing new at warning or
error level appears), loads both versions in PostgreSQL and in the ``db`` model, and runs the same
history of writes on each: every transaction sends the same messages and leaves the same rows,
except in the steps the fix is meant to change.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import jsonschema
import pytest

from bcastsim.db import DatabaseModel
from bcastsim.findings import Finding, Severity
from bcastsim.pg import EphemeralPostgres
from bcastsim.review import ReviewConfig, check, render
from bcastsim.review._fixes import hunks

ROOT = Path(__file__).resolve().parents[1]
REVIEW = ROOT / "tests" / "fixtures" / "sql" / "review"
SCHEMA = [ROOT / "sql" / "realtime.sql", REVIEW / "schema.sql"]
EVENT, PERSON, ITEM, OTHER = (f"00000000-0000-4000-8000-00000000000{n}" for n in range(1, 5))
# One history over the fixtures' tables, step by step: (name, the transaction's statements).
HISTORY: list[tuple[str, list[str]]] = [
    (
        "insert",
        [
            f"INSERT INTO events (id, name) VALUES ('{EVENT}', 'e')",
            f"INSERT INTO people (id) VALUES ('{PERSON}')",
            f"INSERT INTO items (id, event_id, person_id, code, amount) "
            f"VALUES ('{ITEM}', '{EVENT}', '{PERSON}', 'c', 1)",
            f"INSERT INTO items (id, event_id, person_id, code, amount, status) "
            f"VALUES ('{OTHER}', '{EVENT}', '{PERSON}', 'd', 2, 'draft')",
        ],
    ),
    ("update status", [f"UPDATE items SET status = 'sold' WHERE id = '{ITEM}'"]),
    ("update note", [f"UPDATE items SET note = 'n' WHERE id = '{ITEM}'"]),
    ("update nothing", ["UPDATE items SET status = status"]),
    ("update two rows", ["UPDATE items SET amount = amount + 1, status = 'open'"]),
    ("delete", [f"DELETE FROM items WHERE id = '{OTHER}'"]),
]


@attrs.frozen
class Case:
    """A fixture, the rule whose patch is applied, the history steps it means to change, payload keys it changes."""

    rule: str
    path: Path
    changes: frozenset[str] = frozenset()
    masked: frozenset[str] = frozenset()


def _rules(name: str) -> Path:
    return REVIEW / "rules" / f"{name}.unsafe.sql"


CASES = [
    Case("exception-swallowed", _rules("exception-swallowed")),
    Case("security-definer-search-path", _rules("security-definer-search-path")),
    Case("security-definer-search-path", REVIEW / "fixes" / "security-definer-pg-temp.sql"),
    Case("security-definer-search-path", REVIEW / "fixes" / "security-definer-after-non-ascii.sql"),
    # BEFORE UPDATE OR DELETE returned NEW: the delete was skipped; RETURN COALESCE(NEW, OLD) lets it happen.
    Case("before-trigger-skips-row", _rules("before-trigger-skips-row"), changes=frozenset({"delete"})),
    Case("after-trigger-return-ignored", _rules("after-trigger-return-ignored")),
    Case("update-any-column", _rules("update-any-column")),
    # WHEN (OLD.* IS DISTINCT FROM NEW.*): the update that changes nothing no longer sends.
    Case(
        "update-any-column",
        REVIEW / "fixes" / "update-any-column-when.sql",
        changes=frozenset({"update nothing"}),
    ),
    Case("realtime-private-default", _rules("realtime-private-default")),
    # The primary key is a new key of the payload; every other key and every message stays.
    Case("duplicate-collapse", _rules("duplicate-collapse"), masked=frozenset({"id"})),
    Case(
        "timestamp-semantics",
        _rules("timestamp-semantics"),
        masked=frozenset({"timestamp"}),
    ),
    Case("unused-suppression", REVIEW / "fixes" / "unused-suppression.sql"),
]
IDS = [case.path.name for case in CASES]


def _findings(path: Path) -> list[Finding]:
    return list(check([path], config=ReviewConfig(), schema=SCHEMA).findings)


def _patched(tmp_path: Path, case: Case) -> tuple[Path, Path, Finding]:
    """The fixture copied, and a copy with the rule's printed patch applied by patch(1)."""
    original = tmp_path / "original" / case.path.name
    fixed = tmp_path / "fixed" / case.path.name
    for path in (original, fixed):
        path.parent.mkdir()
        shutil.copy(case.path, path)
    (finding,) = [f for f in _findings(fixed) if f.rule == case.rule]
    assert finding.patch is not None, finding
    assert finding.fix, finding
    # The diff names the file as the finding shows it (a note shows it relative to the working directory).
    assert Path(finding.path).resolve() == fixed.resolve()
    assert finding.patch.splitlines()[0] == f"--- a/{finding.path}"
    subprocess.run(["patch", "--quiet", str(fixed)], input=finding.patch, text=True, check=True)
    return original, fixed, finding


def _loud(findings: list[Finding]) -> set[tuple[str, str | None, str]]:
    return {(f.rule, f.function, f.message) for f in findings if f.severity is not Severity.NOTE}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_patch_applies_and_the_finding_is_gone(tmp_path: Path, case: Case) -> None:
    """patch(1) accepts the diff, the file changes, the rule is gone and nothing new is at warning or error."""
    original, fixed, finding = _patched(tmp_path, case)
    assert fixed.read_text() != original.read_text()
    after = _findings(fixed)
    assert (case.rule, finding.function) not in {(f.rule, f.function) for f in after}
    before = {(r, fn, m.replace(str(original), "")) for r, fn, m in _loud(_findings(original))}
    assert {(r, fn, m.replace(str(fixed), "")) for r, fn, m in _loud(after)} <= before


@pytest.mark.parametrize("case", CASES[:3], ids=IDS[:3])
def test_the_text_report_is_a_patch_too(tmp_path: Path, case: Case) -> None:
    """The indented diff in the text report is accepted by patch(1) as printed, and does what the JSON's does."""
    _original, fixed, _finding = _patched(tmp_path, case)
    text_target = tmp_path / "text" / case.path.name
    text_target.parent.mkdir()
    shutil.copy(case.path, text_target)
    report = check([text_target], config=ReviewConfig(), schema=SCHEMA)
    printed = render(report, "text")
    subprocess.run(["patch", "--quiet", str(text_target)], input=printed, text=True, check=True)
    assert text_target.read_text() == fixed.read_text()
    document = json.loads(render(report, "json"))
    assert any(f["rule"] == case.rule and f["patch"] and f["fix"] for f in document["findings"])


def test_a_psql_script_gets_its_patch_after_the_statement(tmp_path: Path) -> None:
    """In a file psql reads (an extension script opening with \\echo … \\quit) the ALTER lands after $…$;."""
    case = Case("security-definer-search-path", REVIEW / "fixes" / "security-definer-psql-script.sql")
    _original, fixed, finding = _patched(tmp_path, case)
    lines = fixed.read_text().splitlines()
    added = [line for line in (finding.patch or "").splitlines() if line.startswith("+ALTER")]
    assert len(added) == 1
    assert lines[lines.index(added[0][1:]) - 1].startswith("$EOFCODE$ LANGUAGE plpgsql SECURITY DEFINER;")
    assert case.rule not in {f.rule for f in _findings(fixed)}


def _payload(payload: Any, masked: frozenset[str]) -> Any:
    """A payload with the keys a fix means to change left out."""
    try:
        value = json.loads(payload) if isinstance(payload, str) else payload
    except ValueError:
        return payload
    if isinstance(value, dict):
        return {key: item for key, item in value.items() if key not in masked}
    return value


def _compare(case: Case, run: Callable[[Path], list[tuple[str, Any]]], original: Path, fixed: Path) -> None:
    before, after = run(original), run(fixed)
    assert [name for name, _ in before] == [name for name, _ in HISTORY]
    sent = False
    for (name, old), (_, new) in zip(before, after, strict=True):
        if name in case.changes:
            assert old != new, f"{name}: the fix was meant to change this step"
        else:
            assert old == new, name
        sent = sent or bool(old[1])
    assert sent or case.changes, "the history sends nothing: the comparison would show nothing"


@pytest.mark.postgres
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_patched_sql_runs_in_postgres_and_sends_the_same_messages(
    tmp_path: Path, case: Case, bcastsim_server: EphemeralPostgres
) -> None:
    """PostgreSQL loads the patched file and, step by step, sends and keeps the same as before but where meant."""
    original, fixed, _ = _patched(tmp_path, case)

    def run(path: Path) -> list[tuple[str, Any]]:
        outcomes = []
        with bcastsim_server.create_database([*SCHEMA, path]) as database:
            for name, steps in HISTORY:
                result = database.run_transaction(steps)
                sent = [(n.channel, _payload(n.payload, case.masked)) for n in result.notifications]
                sent += [(m.topic, m.event, m.private, _payload(m.payload, case.masked)) for m in result.messages]
                rows = database.execute("SELECT id::text FROM items ORDER BY id")
                outcomes.append((name, (result.committed, sent, rows)))
        return outcomes

    _compare(case, run, original, fixed)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_patched_sql_sends_the_same_messages_in_the_model(tmp_path: Path, case: Case) -> None:
    """The db model runs both versions on the same history: the same messages and rows but where the fix means."""
    original, fixed, _ = _patched(tmp_path, case)

    def run(path: Path) -> list[tuple[str, Any]]:
        model = DatabaseModel.from_sql([*SCHEMA, path])
        outcomes = []
        for name, steps in HISTORY:
            result = model.run_transaction(steps)
            sent = [(n.channel, _payload(n.payload, case.masked)) for n in result.notifications]
            sent += [(m.topic, m.event, m.private, _payload(m.payload, case.masked)) for m in result.messages]
            rows = sorted(str(row["id"]) for row in model.rows("items"))
            outcomes.append((name, (result.committed, sent, rows)))
        return outcomes

    _compare(case, run, original, fixed)


def test_sarif_carries_the_patch_as_replacements(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SARIF result's fixes replace the same lines with the same text as the diff's hunks."""
    target = tmp_path / "update-any-column.sql"
    shutil.copy(_rules("update-any-column"), target)
    monkeypatch.chdir(tmp_path)
    report = check([Path(target.name)], config=ReviewConfig(), schema=SCHEMA)
    document = json.loads(render(report, "sarif"))
    schema = json.loads((ROOT / "tests" / "fixtures" / "sarif-schema-2.1.0.json").read_text())
    assert list(jsonschema.Draft4Validator(schema).iter_errors(document)) == []
    (result,) = [r for r in document["runs"][0]["results"] if r["ruleId"] == "update-any-column"]
    (fix,) = result["fixes"]
    (change,) = fix["artifactChanges"]
    assert change["artifactLocation"]["uri"] == target.name
    (finding,) = [f for f in report.findings if f.rule == "update-any-column"]
    assert finding.patch is not None
    lines = target.read_text().splitlines(keepends=True)
    for replacement, hunk in zip(change["replacements"], hunks(finding.patch), strict=True):
        region = replacement["deletedRegion"]
        assert (region["startLine"], region["endLine"] - region["startLine"]) == (hunk.first, hunk.removed)
        assert replacement["insertedContent"]["text"] == "".join(line + "\n" for line in hunk.inserted)
        assert "".join(lines[hunk.first - 1 : hunk.first - 1 + hunk.removed]).strip()
    assert fix["description"]["text"] == finding.fix


def _all_findings() -> list[Finding]:
    paths = sorted((REVIEW / "rules").glob("*.sql")) + sorted((REVIEW / "fixes").glob("*.sql"))
    found = [f for path in paths for f in _findings(path)]
    found += check(
        [ROOT / "sql" / "broadcast_triggers.sql"], config=ReviewConfig(), schema=[ROOT / "sql" / "schema.sql"]
    ).findings
    return found


def test_a_fix_is_always_a_patch() -> None:
    """Over every rule fixture and the seed, a finding has a fix only with a patch, and otherwise an explanation."""
    findings = _all_findings()
    assert findings
    for finding in findings:
        if finding.fix is not None:
            assert (finding.patch or "").startswith("--- a/"), finding
        else:
            assert finding.patch is None, finding
            assert finding.explanation, finding
    with_patch = {f.rule for f in findings if f.patch}
    assert {case.rule for case in CASES} <= with_patch


def test_no_patch_returns_without_a_value_or_performs_in_sql() -> None:
    """None of the wrong fixes: a bare RETURN; in a trigger, PERFORM in LANGUAGE sql, UPDATE OF every column."""
    for finding in _all_findings():
        diff = (finding.patch or "").splitlines()
        for line in [line[1:] for line in diff[2:] if line.startswith("+")]:
            assert "RETURN;" not in line.replace(" ", "")
            assert "PERFORM" not in line or finding.rule not in {"send-never-runs"}
            assert "UPDATE OF id, event_id" not in line


def test_every_format_labels_a_patch_as_fix_and_advice_as_explanation(tmp_path: Path) -> None:
    """Text, JSON, GitHub and Markdown carry the patch under 'fix' and advice only as an explanation."""
    target = tmp_path / "exception-swallowed.sql"
    shutil.copy(_rules("exception-swallowed"), target)
    report = check([target], config=ReviewConfig(), schema=SCHEMA)
    patched = next(f for f in report.findings if f.patch)
    advised = next(f for f in report.findings if f.explanation)
    text = render(report, "text")
    assert f"    fix: {patched.fix}\n      --- a/{target}\n" in text
    assert f"    explanation (no patch): {advised.explanation}" in text
    assert "    fix: " + (advised.explanation or "") not in text
    github = render(report, "github")
    assert f"%0AFix: {patched.fix}%0A--- a/" in github
    assert "%0AExplanation (no patch): " in github
    markdown = render(report, "markdown")
    assert f"— fix: {patched.fix}" in markdown
    assert "— explanation: " in markdown
    findings = json.loads(render(report, "json"))["findings"]
    assert all((f["fix"] is None) == (f["patch"] is None) for f in findings)
    assert all(f["patch"] is not None or f["explanation"] for f in findings)
