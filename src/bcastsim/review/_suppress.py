"""Inline suppression: ``-- bcastsim: ignore[rule-id]`` on the finding's line or the line above.

Several ids may be listed (``ignore[rule-a, rule-b]``). A suppression that names no
known rule is itself reported, so a typo does not silently hide nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from bcastsim.findings import Finding, Severity

__all__ = ["SUPPRESSION_RULE", "Suppressions", "apply_suppressions", "read_suppressions"]

SUPPRESSION_RULE = "unknown-suppression"

_COMMENT = re.compile(r"--\s*bcastsim:\s*ignore\[([^\]]*)\]", re.IGNORECASE)


@attrs.frozen
class Suppressions:
    """Rule ids suppressed per file and line (1-based)."""

    by_path: dict[str, dict[int, frozenset[str]]]
    unknown: tuple[Finding, ...] = ()

    def suppresses(self, finding: Finding) -> bool:
        if finding.path is None or finding.line is None:
            return False
        lines = self.by_path.get(_key(finding.path))
        if not lines:
            return False
        return any(finding.rule in lines.get(line, frozenset()) for line in (finding.line, finding.line - 1))


def _key(path: str | Path) -> str:
    return str(Path(path).resolve())


def read_suppressions(paths: Iterable[Path], known_rules: Iterable[str]) -> Suppressions:
    """Scan SQL files for suppression comments; unknown rule ids become findings."""
    known = set(known_rules)
    by_path: dict[str, dict[int, frozenset[str]]] = {}
    unknown: list[Finding] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        lines: dict[int, frozenset[str]] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            for match in _COMMENT.finditer(line):
                ids = frozenset(part.strip() for part in match.group(1).split(",") if part.strip())
                lines[number] = lines.get(number, frozenset()) | ids
                for rule_id in sorted(ids - known):
                    unknown.append(
                        Finding(
                            rule=SUPPRESSION_RULE,
                            severity=Severity.WARNING,
                            message=f"suppression names unknown rule {rule_id!r}; it suppresses nothing",
                            path=str(path),
                            line=number,
                            fix="use an id from `bcastsim check --list-rules`",
                        )
                    )
        if lines:
            by_path[_key(path)] = lines
    return Suppressions(by_path, tuple(unknown))


def apply_suppressions(findings: Sequence[Finding], suppressions: Suppressions) -> tuple[list[Finding], list[Finding]]:
    """Split ``findings`` into (kept, suppressed), keeping their order."""
    kept: list[Finding] = []
    suppressed: list[Finding] = []
    for finding in findings:
        (suppressed if suppressions.suppresses(finding) else kept).append(finding)
    return kept, suppressed
