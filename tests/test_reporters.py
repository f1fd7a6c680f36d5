"""Reporters: text, JSON, SARIF 2.1.0 (validated against the official schema), GitHub annotations, Markdown."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bcastsim import Finding, Severity
from bcastsim.review import FORMATS, Entry, Report, all_rules, check, render, review
from bcastsim.review._report import GITHUB_ANNOTATIONS_PER_LEVEL, json_chunks

ROOT = Path(__file__).resolve().parents[1]
SARIF_SCHEMA = json.loads((ROOT / "tests" / "fixtures" / "sarif-schema-2.1.0.json").read_text())
DIFF_FIXTURES = ROOT / "tests" / "fixtures" / "sql" / "review" / "diff"
FIXTURE_SCHEMA = [ROOT / "sql" / "realtime.sql", ROOT / "tests" / "fixtures" / "sql" / "review" / "schema.sql"]
# RFC 3986 URI-reference characters: what jsonschema checks for "uri-reference" only with extras installed.
_URI_REFERENCE = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*$")


def _validate_sarif(text: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(text)
    validator = jsonschema.Draft4Validator(SARIF_SCHEMA)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert errors == [], errors[0].message if errors else ""
    for run in document["runs"]:
        for result in run["results"]:
            for location in result.get("locations", []):
                uri = location["physicalLocation"]["artifactLocation"]["uri"]
                assert _URI_REFERENCE.match(uri), uri
    return document


@pytest.fixture(scope="module")
def seed_report() -> Report:
    return check([ROOT / "sql"])


@pytest.fixture(scope="module")
def review_report() -> Report:
    pair = DIFF_FIXTURES / "introduces-and-fixes"
    return review(str(pair / "old.sql"), str(pair / "new.sql"), schema=FIXTURE_SCHEMA)


def test_json_written_in_pieces_is_the_indented_document(seed_report: Report, review_report: Report) -> None:
    """The JSON streamed one finding at a time is byte for byte json.dumps of the whole document."""
    empty = Report(command="check", inputs=("x",), entries=[], rules=all_rules())
    for report in (seed_report, review_report, _odd_report(), empty):
        document = json.loads(render(report, "json"))
        assert render(report, "json") == json.dumps(document, indent=2) + "\n"
        assert "".join(json_chunks(report)) == render(report, "json")
    assert len(list(json_chunks(seed_report))) == len(seed_report.entries) + 3


def _odd_report() -> Report:
    """Findings with awkward text: no location, spaces and commas in paths, newlines and percent signs."""
    return Report(
        command="check",
        inputs=("x",),
        entries=[
            Entry(
                finding=Finding(
                    rule="payload-too-large",
                    severity=Severity.ERROR,
                    message="100% of it\nand more: a, b",
                    path="dir with space/a,b:c.sql",
                    line=7,
                    function="f",
                    channel="c:{x}",
                    fix="fix it",
                )
            ),
            Entry(finding=Finding(rule="pg-message-added", severity=Severity.NOTE, message="no location")),
            Entry(finding=Finding(rule="client-only-rule", severity=Severity.WARNING, message="unknown id")),
        ],
        rules=all_rules(),
    )


def test_sarif_of_seed_check_validates(seed_report: Report) -> None:
    """The SARIF for the seed's check validates against the official 2.1.0 schema."""
    document = _validate_sarif(render(seed_report, "sarif"))
    results = document["runs"][0]["results"]
    assert len(results) == len(seed_report.findings)
    rules = document["runs"][0]["tool"]["driver"]["rules"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1


def test_sarif_of_review_carries_baseline_state(review_report: Report) -> None:
    """Review SARIF marks introduced findings 'new', fixed ones 'absent', contract changes 'updated'."""
    document = _validate_sarif(render(review_report, "sarif"))
    states = {(r["ruleId"], r.get("baselineState")) for r in document["runs"][0]["results"]}
    assert ("sensitive-on-public-topic", "new") in states
    assert ("timestamp-semantics", "absent") in states
    assert ("audience-widened", "updated") in states


def test_sarif_of_awkward_and_empty_reports_validates() -> None:
    """Paths needing escapes, findings without a location and empty reports still validate."""
    _validate_sarif(render(_odd_report(), "sarif"))
    _validate_sarif(render(Report(command="check", inputs=(), entries=[]), "sarif"))


@pytest.mark.parametrize("pair", sorted(path.name for path in DIFF_FIXTURES.iterdir() if path.is_dir()))
def test_sarif_of_every_review_pair_validates(pair: str) -> None:
    """Every fixture pair's review renders to valid SARIF."""
    report = review(str(DIFF_FIXTURES / pair / "old.sql"), str(DIFF_FIXTURES / pair / "new.sql"), schema=FIXTURE_SCHEMA)
    document = _validate_sarif(render(report, "sarif"))
    assert len(document["runs"][0]["results"]) == len(report.entries)


def test_schema_rejects_broken_sarif(seed_report: Report) -> None:
    """The vendored schema is really applied: a result with an invalid level fails validation."""
    document = json.loads(render(seed_report, "sarif"))
    broken = copy.deepcopy(document)
    broken["runs"][0]["results"][0]["level"] = "fatal"
    assert list(jsonschema.Draft4Validator(SARIF_SCHEMA).iter_errors(broken))


def test_json_shape(seed_report: Report) -> None:
    """JSON has findings with the documented fields and a summary whose counts add up."""
    document = json.loads(render(seed_report, "json"))
    assert set(document) == {"findings", "summary"}
    for finding in document["findings"]:
        assert {"rule", "severity", "message", "path", "line", "channel", "function", "fix"} <= set(finding)
        assert finding["severity"] in {"error", "warning", "note"}
    summary = document["summary"]
    assert summary["total"] == len(document["findings"]) == summary["errors"] + summary["warnings"] + summary["notes"]
    assert sum(summary["by_rule"].values()) == summary["total"]
    assert summary["exit_status"] == seed_report.exit_status == 1


def test_json_of_review_has_states(review_report: Report) -> None:
    """Review JSON tells each finding's state and counts introduced and fixed ones."""
    document = json.loads(render(review_report, "json"))
    states = {finding["state"] for finding in document["findings"]}
    assert states == {"changed", "introduced", "fixed"}
    summary = document["summary"]
    assert summary["introduced"] == sum(1 for f in document["findings"] if f["state"] == "introduced")
    assert summary["fixed"] == sum(1 for f in document["findings"] if f["state"] == "fixed")


def test_github_annotations_escape_and_levels() -> None:
    """GitHub lines use error/warning/notice and escape %, newlines, ':' and ',' as the runner expects."""
    lines = render(_odd_report(), "github").splitlines()
    assert lines[0] == (
        "::error file=dir with space/a%2Cb%3Ac.sql,line=7,title=bcastsim payload-too-large::"
        "100%25 of it%0Aand more: a, b%0AFix: fix it"
    )
    assert lines[1].startswith("::warning title=bcastsim client-only-rule::")
    assert lines[2].startswith("::notice title=bcastsim pg-message-added::")
    assert lines[-1].startswith("bcastsim check: 1 error, 1 warning, 1 note")


def test_github_annotates_errors_first_up_to_the_cap_and_lists_the_rest(seed_report: Report) -> None:
    """At most 10 annotations per level, errors first; every other finding is a plain log line, with a count."""
    text = render(seed_report, "github")
    annotations = [line for line in text.splitlines() if line.startswith("::")]
    levels = [line[2 : line.index(" ")] for line in annotations]
    assert levels == sorted(levels, key=["error", "warning", "notice"].index)
    assert max(levels.count(level) for level in set(levels)) == GITHUB_ANNOTATIONS_PER_LEVEL
    for finding in seed_report.findings:
        annotated = f"file={finding.path},line={finding.line},title=bcastsim {finding.rule}::" in text
        listed = f"{finding.path}:{finding.line}: {finding.severity.value}[{finding.rule}]" in text
        assert annotated or listed, finding
    hidden = len(seed_report.findings) - len(annotations)
    assert hidden > 0
    assert f"more not annotated (GitHub shows {GITHUB_ANNOTATIONS_PER_LEVEL} per level per step)" in text


def test_github_points_fixed_findings_at_the_checkout() -> None:
    """A finding shown as git:REV:path is annotated on the file in the checkout, naming the revision."""
    finding = Finding(
        rule="payload-too-large", severity=Severity.NOTE, message="fixed: x", path="git:HEAD:sql/a.sql", line=9
    )
    report = Report(command="review", inputs=("a", "b"), entries=[Entry(finding=finding, state="fixed")])
    line = render(report, "github").splitlines()[0]
    assert line.startswith("::notice file=sql/a.sql,title=")
    assert "In git:HEAD:sql/a.sql:9" in line


def test_markdown_summarises_counts_and_lists_findings(seed_report: Report) -> None:
    """Markdown: a verdict heading, a count table and one row per finding linking the rule's docs."""
    text = render(seed_report, "markdown")
    assert text.startswith("### bcastsim check: fails (fail on error)")
    counts = f"| {seed_report.count(Severity.ERROR)} | {seed_report.count(Severity.WARNING)} |"
    assert counts in text
    rows = [line for line in text.splitlines() if line.startswith(("| 🔴", "| 🟠", "| 🔵"))]
    assert len(rows) == len(seed_report.findings)
    assert "[`payload-too-large`](https://" in text


def test_markdown_escapes_table_cells() -> None:
    """A pipe or newline in a message cannot break the Markdown table."""
    text = render(_odd_report(), "markdown")
    row = next(line for line in text.splitlines() if "payload-too-large" in line and line.startswith("| "))
    assert row.count(" | ") == 3
    assert "100% of it and more: a, b" in row


def test_text_names_file_line_rule(seed_report: Report) -> None:
    """Text output has one `path:line: severity[rule] message` line per finding and a summary."""
    text = render(seed_report, "text")
    for finding in seed_report.findings:
        assert f"{finding.path}:{finding.line}: {finding.severity.value}[{finding.rule}]" in text
    assert text.rstrip().splitlines()[-1].startswith(f"{seed_report.count(Severity.ERROR)} errors")


def test_verbose_text_explains_why(seed_report: Report) -> None:
    """With verbose, each finding also says why it matters."""
    assert "    why: " in render(seed_report, "text", verbose=True)
    assert "    why: " not in render(seed_report, "text")


@pytest.mark.parametrize("fmt", FORMATS)
def test_rendering_is_deterministic(fmt: str, seed_report: Report) -> None:
    """The same findings in any order render to the same bytes."""
    shuffled = Report(
        command=seed_report.command,
        inputs=seed_report.inputs,
        entries=list(reversed(seed_report.entries)),
        rules=seed_report.rules,
        version=seed_report.version,
    )
    assert render(shuffled, fmt) == render(seed_report, fmt)


def test_order_is_severity_then_place(seed_report: Report) -> None:
    """Errors come first, then warnings, then notes; within each, by file and line."""
    keys = [(f.severity.rank, f.path or "", f.line or 0) for f in seed_report.findings]
    assert keys == sorted(keys)


def test_help_uris_derive_from_the_repository_url_and_reach_a_rule_section() -> None:
    """Every SARIF helpUri is [project.urls] Repository + /blob/main/docs/ + a page and an anchor the page has."""
    import tomllib

    repository = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    document = json.loads(render(check([ROOT / "sql"]), "sarif"))
    uris = {rule["helpUri"] for rule in document["runs"][0]["tool"]["driver"]["rules"]}
    assert uris
    for uri in uris:
        assert uri.startswith(f"{repository.rstrip('/')}/blob/main/docs/"), uri
        page, _, anchor = uri.removeprefix(f"{repository.rstrip('/')}/blob/main/docs/").partition("#")
        text = (ROOT / "docs" / page).read_text()
        assert f'<a id="{anchor}"></a>' in text, uri
