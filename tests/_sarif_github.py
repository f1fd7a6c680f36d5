"""GitHub code scanning's documented rules for an uploaded SARIF file, as a checker for the tests.

From "SARIF support for code scanning" (docs.github.com, code-security/code-scanning/
integrating-with-code-scanning/sarif-support-for-code-scanning) and its upload limits:

- ``version`` is ``2.1.0``; ``runs`` is an array (at most 20 runs per file);
- each run has ``tool.driver.name``; at most 25,000 results and 25,000 rules per run;
- each result has ``ruleId``, ``message.text`` and ``locations``: code scanning needs at
  least one location (at most 1,000) with ``physicalLocation.artifactLocation.uri`` and
  ``region.startLine``, the path relative to the repository root and stable across runs;
- each rule (``reportingDescriptor``) has ``id``, ``shortDescription``, ``fullDescription``
  and ``help``; ``properties.tags`` at most 20; ``security-severity`` is a string holding a
  score from 0.0 to 10.0, used for rules tagged ``security``;
- ``partialFingerprints`` keep alerts from being duplicated across runs;
- the file is at most 10 MB gzip-compressed.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

__all__ = ["github_upload_problems"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _location_problems(where: str, location: dict[str, Any], checkout: Path | None) -> list[str]:
    physical = location.get("physicalLocation")
    if not isinstance(physical, dict):
        return [f"{where}: no physicalLocation"]
    uri = physical.get("artifactLocation", {}).get("uri")
    problems = []
    if not isinstance(uri, str) or not uri:
        problems.append(f"{where}: no artifactLocation.uri")
    elif _SCHEME.match(uri) or uri.startswith("/") or ".." in uri.split("/"):
        problems.append(f"{where}: uri {uri!r} is not a path relative to the repository root")
    elif checkout is not None and not (checkout / uri).is_file():
        problems.append(f"{where}: uri {uri!r} is not a file in the checkout")
    start = physical.get("region", {}).get("startLine")
    if not isinstance(start, int) or start < 1:
        problems.append(f"{where}: no region.startLine >= 1")
    return problems


def _rule_problems(rule: dict[str, Any]) -> list[str]:
    where = f"rule {rule.get('id')!r}"
    problems = [
        f"{where}: no {key}"
        for key in ("shortDescription", "fullDescription", "help")
        if not isinstance(rule.get(key), dict) or not rule[key].get("text")
    ]
    if not str(rule.get("helpUri", "")).startswith("https://"):
        problems.append(f"{where}: no absolute helpUri")
    properties = rule.get("properties", {})
    tags = properties.get("tags", [])
    if len(tags) > 20:
        problems.append(f"{where}: more than 20 tags")
    score = properties.get("security-severity")
    if score is not None:
        if not isinstance(score, str) or not re.fullmatch(r"\d+(\.\d+)?", score) or not 0 <= float(score) <= 10:
            problems.append(f"{where}: security-severity {score!r} is not a score string from 0.0 to 10.0")
        if "security" not in tags:
            problems.append(f"{where}: security-severity without the 'security' tag")
    return problems


def github_upload_problems(document: dict[str, Any], checkout: Path | None = None) -> list[str]:
    """Every way ``document`` breaks GitHub's upload rules (``checkout``: also require the files to exist)."""
    problems: list[str] = []
    if document.get("version") != "2.1.0":
        problems.append("version is not 2.1.0")
    runs = document.get("runs")
    if not isinstance(runs, list) or len(runs) > 20:
        return [*problems, "runs is not an array of at most 20 runs"]
    if len(gzip.compress(json.dumps(document).encode())) > 10 * 1024 * 1024:
        problems.append("larger than 10 MB gzip-compressed")
    for run in runs:
        driver = run.get("tool", {}).get("driver", {})
        if not driver.get("name"):
            problems.append("run without tool.driver.name")
        rules = driver.get("rules", [])
        results = run.get("results", [])
        if len(rules) > 25_000 or len(results) > 25_000:
            problems.append("more than 25,000 rules or results in a run")
        for rule in rules:
            problems += _rule_problems(rule)
        rule_ids = {rule.get("id") for rule in rules}
        for number, result in enumerate(results):
            where = f"result {number} ({result.get('ruleId')})"
            if result.get("ruleId") not in rule_ids:
                problems.append(f"{where}: ruleId not among the driver's rules")
            if not result.get("message", {}).get("text"):
                problems.append(f"{where}: no message.text")
            if not result.get("partialFingerprints"):
                problems.append(f"{where}: no partialFingerprints")
            locations = result.get("locations")
            if not isinstance(locations, list) or not 1 <= len(locations) <= 1000:
                problems.append(f"{where}: needs 1 to 1,000 locations")
                continue
            for location in locations:
                problems += _location_problems(where, location, checkout)
    return problems
