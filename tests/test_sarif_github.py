"""SARIF from every command passes the 2.1.0 schema and GitHub code scanning's upload rules."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import attrs
import jsonschema
import pytest

from _sarif_github import github_upload_problems
from bcastsim import Finding, Severity
from bcastsim.review import Entry, Report, all_rules, check, render, review
from bcastsim.review._report import SECURITY_SEVERITY, help_uri

ROOT = Path(__file__).resolve().parents[1]
SARIF_SCHEMA = json.loads((ROOT / "tests" / "fixtures" / "sarif-schema-2.1.0.json").read_text())
FIXTURES = ROOT / "tests" / "fixtures" / "sql" / "review"
SCHEMA = [ROOT / "sql" / "realtime.sql", FIXTURES / "schema.sql"]


def _accepted(report: Report, checkout: Path | None = None) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(render(report, "sarif"))
    errors = list(jsonschema.Draft4Validator(SARIF_SCHEMA).iter_errors(document))
    assert errors == [], errors[0].message if errors else ""
    assert github_upload_problems(document, checkout) == []
    return document


def test_checker_rejects_what_github_rejects() -> None:
    """The GitHub checker is really applied: a result without a location or with a git: URI is refused."""
    document = json.loads(render(check([ROOT / "sql"]), "sarif"))
    result = document["runs"][0]["results"][0]
    del result["locations"]
    assert any("locations" in problem for problem in github_upload_problems(document))
    result["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": "git:HEAD:sql/a.sql"}}}]
    problems = github_upload_problems(document)
    assert any("not a path relative" in problem for problem in problems)
    assert any("startLine" in problem for problem in problems)


def test_seed_check_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """`check sql/` run from the repository root: every result points at a file of the checkout."""
    monkeypatch.chdir(ROOT)
    _accepted(check(["sql"]), ROOT)


def test_rules_carry_help_links_and_security_scores() -> None:
    """Every rule links its docs anchor; the security rules carry a security-severity and the security tag."""
    document = _accepted(check([ROOT / "sql" / "broadcast_triggers.sql"], schema=[ROOT / "sql" / "schema.sql"]))
    rules = {rule["id"]: rule for rule in document["runs"][0]["tool"]["driver"]["rules"]}
    assert set(rules) == set(all_rules())
    for rule_id, rule in rules.items():
        assert rule["helpUri"] == help_uri(rule_id)
        assert ("security-severity" in rule["properties"]) is (rule_id in SECURITY_SEVERITY)
    docs = (ROOT / "docs" / "review.md").read_text()
    assert [rule_id for rule_id in rules if f'<a id="{rule_id}"></a>' not in docs] == []


def test_findings_without_a_place_get_one() -> None:
    """A finding with no path (an observation in PostgreSQL, a client property) still has a physical location."""
    report = Report(
        command="check",
        inputs=("x",),
        entries=[
            Entry(finding=Finding(rule="pg-message-added", severity=Severity.NOTE, message="no location")),
            Entry(finding=Finding(rule="client.event-filter", severity=Severity.ERROR, message="client", path="-")),
        ],
        rules=all_rules(),
    )
    _accepted(report)


@pytest.mark.parametrize("pair", sorted(p.name for p in (FIXTURES / "diff").iterdir() if p.is_dir()))
def test_every_review_pair_is_accepted(pair: str) -> None:
    """Each contract-diff fixture's review uploads cleanly."""
    directory = FIXTURES / "diff" / pair
    _accepted(review(str(directory / "old.sql"), str(directory / "new.sql"), schema=SCHEMA))


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_review_of_revisions_points_at_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Findings shown as git:REV:path (the fixed ones) are uploaded against the file in the checkout."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    pair = FIXTURES / "diff" / "introduces-and-fixes"
    (tmp_path / "sql").mkdir()
    shutil.copy(pair / "old.sql", tmp_path / "sql" / "triggers.sql")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "old"]):
        subprocess.run([*git, *args], cwd=tmp_path, check=True, capture_output=True)
    shutil.copy(pair / "new.sql", tmp_path / "sql" / "triggers.sql")
    monkeypatch.chdir(tmp_path)
    report = review("git:HEAD:sql/triggers.sql", "sql/triggers.sql", schema=SCHEMA, cwd=tmp_path)
    assert any(entry.state == "fixed" for entry in report.entries)
    assert any((entry.finding.path or "").startswith("git:") for entry in report.entries)
    _accepted(report, tmp_path)


@pytest.mark.slow
def test_client_check_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """`check --client seed` findings (client code, files outside the checkout) upload, with full rule metadata."""
    from bcastsim.client import run_client_checks

    monkeypatch.chdir(ROOT)
    findings = run_client_checks("seed", seed=0, max_examples=20)
    report = Report(command="check", inputs=("client:seed",), entries=[Entry(finding=f) for f in findings])
    document = _accepted(report)
    results = document["runs"][0]["results"]
    assert len(results) == len(findings) > 0
    outside = [f for f in findings if f.path and f.path.startswith("..")]
    assert all(f"(in {f.path}" in json.dumps(results) for f in outside)
    for rule in document["runs"][0]["tool"]["driver"]["rules"]:
        assert rule["fullDescription"]["text"]
        assert rule["help"]["text"]


@pytest.mark.postgres
def test_pg_review_results_are_placed_and_suppressible(
    bcastsim_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`review --pg` observations sit in the new version's file, upload cleanly, and a comment there hides them."""
    pair = FIXTURES / "diff" / "channel-renamed"
    shutil.copy(pair / "old.sql", tmp_path / "old.sql")
    shutil.copy(pair / "new.sql", tmp_path / "new.sql")
    monkeypatch.chdir(tmp_path)
    report = review("old.sql", "new.sql", schema=SCHEMA, pg=True, server=bcastsim_server)
    observed = [e.finding for e in report.entries if e.finding.rule == "pg-destination-changed"]
    assert observed
    assert {f.path for f in observed} == {"new.sql"}
    _accepted(report, tmp_path)

    text = (tmp_path / "new.sql").read_text()
    (tmp_path / "new.sql").write_text("-- bcastsim: ignore-file[pg-destination-changed] moved on purpose\n" + text)
    quiet = review("old.sql", "new.sql", schema=SCHEMA, pg=True, server=bcastsim_server)
    assert "pg-destination-changed" not in {e.finding.rule for e in quiet.entries}
    assert quiet.suppressed >= len(observed)


def test_a_run_held_by_a_privilege_error_is_accepted() -> None:
    """fail-on never from the configuration, held by a COPY … PROGRAM: the run's properties say so, and upload."""
    report = check([FIXTURES / "rules" / "copy-program.unsafe.sql"])
    held = attrs.evolve(report, fail_on="never", fail_on_from_config=True)
    properties = _accepted(held)["runs"][0]["properties"]
    assert (properties["failOn"], properties["exitStatus"]) == ("never", 1)
    assert "reviewed repository's configuration" in properties["held"][0]
