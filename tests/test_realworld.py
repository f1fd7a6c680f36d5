"""On trigger SQL from public projects: no valid file refused, the notify sites found, the findings true.

Each corpus file is read on its own with the transport detected (``auto``), as a new user would run
``bcastsim inspect FILE`` and ``bcastsim check FILE``. The manifest (``fixtures/realworld/corpus.toml``)
lists the sites a careful reader finds and a verdict for every error and warning finding.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import attrs

from _corpus import require_corpus_root
from bcastsim import InputError
from bcastsim.findings import Finding, Severity
from bcastsim.review import ReviewConfig, check
from bcastsim.sqlmodel import load_catalog

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "tests" / "fixtures" / "realworld" / "corpus.toml"
FILES: list[dict[str, Any]] = tomllib.loads(MANIFEST.read_text())["file"]


@attrs.frozen
class Outcome:
    """What the tool did with one corpus file: refused (with the message), sites found, findings."""

    entry: dict[str, Any]
    refusal: str | None
    site_lines: frozenset[int]
    findings: tuple[Finding, ...]
    diagnostics: frozenset[str] = frozenset()


@cache
def _outcomes() -> tuple[Outcome, ...]:
    root = require_corpus_root()
    outcomes = []
    for entry in FILES:
        path = root / entry["local_path"]
        try:
            catalog = load_catalog(path)
            report = check([path], config=ReviewConfig())
        except InputError as error:
            outcomes.append(Outcome(entry, error.one_line(), frozenset(), ()))
            continue
        lines = frozenset(site.location.line for site in catalog.notify_sites)
        serious = tuple(f for f in report.findings if f.severity in (Severity.ERROR, Severity.WARNING))
        codes = frozenset(d.code for d in catalog.diagnostics)
        outcomes.append(Outcome(entry, None, lines, serious, codes))
    return tuple(outcomes)


def _valid(outcome: Outcome) -> bool:
    return bool(outcome.entry.get("valid_sql", True))


def test_no_valid_file_is_refused() -> None:
    """Every file PostgreSQL would run is read; one it would not is refused, or read with its variables noted."""
    refused = [(o.entry["local_path"], o.refusal) for o in _outcomes() if _valid(o) and o.refusal]
    assert refused == []
    for outcome in _outcomes():
        if not _valid(outcome):
            noted = "psql-variable" in outcome.diagnostics
            assert outcome.refusal is not None or noted, outcome.entry["local_path"]


def test_site_recall() -> None:
    """At least 95 % of the notify sites PostgreSQL runs in the valid files are found at their lines."""
    expected = found = 0
    missed = []
    for outcome in _outcomes():
        if not _valid(outcome):
            continue
        for site in outcome.entry.get("expected_sites", []):
            if site["runs"]:
                expected += 1
                if site["line"] in outcome.site_lines:
                    found += 1
                else:
                    missed.append(f"{outcome.entry['local_path']}:{site['line']}")
    assert expected >= 50
    assert found / expected >= 0.95, missed


def test_sites_that_never_run_are_not_sites() -> None:
    """A send PostgreSQL never runs (a Down part, a Down file) is not reported as a notify site."""
    reported = [
        f"{o.entry['local_path']}:{site['line']}"
        for o in _outcomes()
        for site in o.entry.get("expected_sites", [])
        if not site["runs"] and site["line"] in o.site_lines
    ]
    assert reported == []


def test_every_error_and_warning_has_a_verdict() -> None:
    """Each error or warning finding on the corpus is judged in the manifest (true problem or not, and why)."""
    unjudged = []
    for outcome in _outcomes():
        judged = {(v["rule"], v["line"]) for v in outcome.entry.get("verdicts", [])}
        unjudged += [
            f"{outcome.entry['local_path']}:{f.line} {f.rule}: {f.message}"
            for f in outcome.findings
            if (f.rule, f.line) not in judged
        ]
    assert unjudged == []


def test_error_and_warning_precision() -> None:
    """At least 80 % of the error and warning findings of the defect rules on the corpus are true problems.

    The privilege rules say what a statement needs (measured in PostgreSQL by test_review_privileged.py);
    whether that is a problem depends on who runs the SQL: on the corpus it is the platforms' own set-up,
    run by their administrators, and judged so in the manifest, but a claim of a defect it is not.
    """
    from bcastsim.review._danger import PRIVILEGE_RULE_IDS

    true = total = 0
    for outcome in _outcomes():
        verdicts = {(v["rule"], v["line"]): v["true_problem"] for v in outcome.entry.get("verdicts", [])}
        for finding in outcome.findings:
            if finding.rule in PRIVILEGE_RULE_IDS:
                continue
            total += 1
            true += bool(verdicts.get((finding.rule, finding.line), False))
    assert total > 0
    assert true / total >= 0.8
