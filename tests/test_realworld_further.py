"""Further real-world files, from projects the corpus does not hold: sites found, every finding judged, precision."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bcastsim.findings import Severity
from bcastsim.review import ReviewConfig, check
from bcastsim.sqlmodel import load_catalog

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "tests" / "fixtures" / "realworld" / "corpus.toml"
_DATA: dict[str, Any] = tomllib.loads(MANIFEST.read_text())
FILES: list[dict[str, Any]] = _DATA["further_file"]
PROJECTS: list[dict[str, Any]] = _DATA["further_project"]
PERMISSIVE = {"MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "PostgreSQL"}
MISSING = (
    "further corpus copies not found "
    "($BCASTSIM_REALWORLD_FURTHER, tests/fixtures/realworld/extra, ../shared/realworld-further)"
)


def further_root() -> Path | None:
    """Where the further copies live: the environment, beside the manifest (git-ignored), or ../shared."""
    for candidate in (
        os.environ.get("BCASTSIM_REALWORLD_FURTHER"),
        str(MANIFEST.parent / "extra"),
        str(ROOT.parent / "shared" / "realworld-further"),
    ):
        if candidate and (Path(candidate) / FILES[0]["local_path"]).is_file():
            return Path(candidate)
    return None


def _root() -> Path:
    root = further_root()
    if root is None:
        pytest.skip(MISSING)
    return root


def test_at_least_fifteen_files_from_projects_not_in_the_corpus() -> None:
    """≥15 further files, all from permissively licensed projects the corpus's [[project]] list does not hold."""
    assert len(FILES) >= 15
    known = {project["project"] for project in _DATA["project"]}
    assert not {project["project"] for project in PROJECTS} & known
    assert {project["licence"] for project in PROJECTS} <= PERMISSIVE
    for entry in FILES:
        assert re.fullmatch(r"[0-9a-f]{40}", entry["commit"]), entry["local_path"]
        assert entry["local_path"] == f"{entry['project']}/{entry['upstream_path']}"


def test_every_expected_site_is_on_its_line() -> None:
    """The line of each expected site holds the call it names."""
    root = _root()
    for entry in FILES:
        lines = (root / entry["local_path"]).read_text(encoding="utf-8").split("\n")
        for site in entry["expected_sites"]:
            assert site["call"].lower() in lines[site["line"] - 1].lower(), (entry["local_path"], site)


@pytest.fixture(scope="module")
def measured() -> dict[str, tuple[set[int], list[tuple[str, int | None]]]]:
    """Per file: the lines of the sites inspect reports, and the (rule, line) of each error or warning."""
    root = _root()
    found = {}
    for entry in FILES:
        path = root / entry["local_path"]
        sites = {site.location.line for site in load_catalog([path]).notify_sites}
        report = check([path], config=ReviewConfig())
        findings = [(f.rule, f.line) for f in report.findings if f.severity in (Severity.ERROR, Severity.WARNING)]
        found[entry["local_path"]] = (sites, findings)
    return found


def test_every_site_that_runs_is_found_and_none_that_never_runs(
    measured: dict[str, tuple[set[int], list[tuple[str, int | None]]]],
) -> None:
    """Recall 1.0 on these files; a send PostgreSQL never evaluates (an unread WITH query) is not a site."""
    for entry in FILES:
        sites, _ = measured[entry["local_path"]]
        runs = {site["line"] for site in entry["expected_sites"] if site["runs"]}
        never = {site["line"] for site in entry["expected_sites"] if not site["runs"]}
        assert runs <= sites, (entry["local_path"], sorted(runs - sites))
        assert not never & sites, entry["local_path"]


def test_every_error_and_warning_is_judged_and_precision_holds(
    measured: dict[str, tuple[set[int], list[tuple[str, int | None]]]],
) -> None:
    """Each error/warning finding has a verdict in the manifest, and at least 80% of them are true problems."""
    true = false = 0
    for entry in FILES:
        verdicts = {(v["rule"], v["line"]): v["true_problem"] for v in entry.get("verdicts", [])}
        _, findings = measured[entry["local_path"]]
        for finding in findings:
            assert finding in verdicts, (entry["local_path"], finding)
            true += verdicts[finding]
            false += not verdicts[finding]
        assert set(verdicts) <= set(findings), (entry["local_path"], "verdict for a finding no longer reported")
    assert true + false > 0
    assert true / (true + false) >= 0.8
