"""Reporters: the same findings as text, JSON, SARIF 2.1.0 or GitHub workflow annotations.

Every reporter returns the whole output as one string, so a failure half-way never
leaves a half-written file or a truncated stream.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

import attrs

from bcastsim.findings import Finding, Severity

__all__ = [
    "FORMATS",
    "SARIF_SCHEMA_URI",
    "Entry",
    "Report",
    "RuleInfo",
    "render",
]

SARIF_SCHEMA_URI = "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json"

_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}
_GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}
# How a review's finding relates to the old version, in SARIF's words.
_BASELINE = {"introduced": "new", "fixed": "absent", "changed": "updated"}


@attrs.frozen(kw_only=True)
class RuleInfo:
    """What a rule id means: its default severity, a title, why it matters and how to fix it."""

    id: str
    severity: Severity
    title: str
    why: str
    fix: str


@attrs.frozen(kw_only=True)
class Entry:
    """A finding in a report; ``state`` tells, in a review, whether NEW introduced or fixed it."""

    finding: Finding
    state: str | None = None


def _entry_key(entry: Entry) -> tuple[int, str, int, str, str, str]:
    f = entry.finding
    return (f.severity.rank, f.path or "", f.line or 0, f.rule, f.function or "", f.message)


def _sorted_entries(entries: Iterable[Entry]) -> tuple[Entry, ...]:
    return tuple(sorted(entries, key=_entry_key))


@attrs.frozen(kw_only=True)
class Report:
    """The outcome of one ``check`` or ``review`` run, in a deterministic order."""

    command: str
    inputs: tuple[str, ...]
    entries: tuple[Entry, ...] = attrs.field(converter=_sorted_entries)
    rules: Mapping[str, RuleInfo] = attrs.field(factory=dict)
    suppressed: int = 0
    version: str = "0"

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(entry.finding for entry in self.entries)

    def count(self, severity: Severity) -> int:
        return sum(1 for entry in self.entries if entry.finding.severity is severity)

    @property
    def exit_status(self) -> int:
        return 1 if self.count(Severity.ERROR) else 0

    def summary(self) -> dict[str, Any]:
        by_rule = Counter(entry.finding.rule for entry in self.entries)
        summary: dict[str, Any] = {
            "command": self.command,
            "inputs": list(self.inputs),
            "total": len(self.entries),
            "errors": self.count(Severity.ERROR),
            "warnings": self.count(Severity.WARNING),
            "notes": self.count(Severity.NOTE),
            "suppressed": self.suppressed,
            "by_rule": dict(sorted(by_rule.items())),
            "exit_status": self.exit_status,
        }
        if self.command == "review":
            states = Counter(entry.state for entry in self.entries)
            summary["introduced"] = states.get("introduced", 0)
            summary["fixed"] = states.get("fixed", 0)
            summary["changes"] = states.get("changed", 0)
        return summary


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def render_text(report: Report, *, verbose: bool = False) -> str:
    lines: list[str] = []
    for entry in report.entries:
        f = entry.finding
        where = f.path or "-"
        if f.line is not None:
            where += f":{f.line}"
        state = f" ({entry.state})" if entry.state else ""
        lines.append(f"{where}: {f.severity.value}[{f.rule}]{state} {f.message}")
        context = []
        if f.function:
            context.append(f"function {f.function}")
        if f.channel:
            context.append(f"channel {f.channel}")
        if context:
            lines.append("    " + ", ".join(context))
        if verbose and f.why:
            lines.append(f"    why: {f.why}")
        if f.fix:
            lines.append(f"    fix: {f.fix}")
        if f.example:
            lines.append(f"    reproduce: {f.example}")
    summary = report.summary()
    tail = (
        f"{_plural(summary['errors'], 'error')}, {_plural(summary['warnings'], 'warning')}, "
        f"{_plural(summary['notes'], 'note')}"
    )
    if report.suppressed:
        tail += f" ({report.suppressed} suppressed)"
    if report.command == "review":
        tail += f"; {summary['introduced']} introduced, {summary['fixed']} fixed, {summary['changes']} changes"
    if lines:
        lines.append("")
    lines.append(tail)
    return "\n".join(lines) + "\n"


def _finding_json(entry: Entry, with_state: bool) -> dict[str, Any]:
    data = entry.finding.to_json()
    if with_state:
        data["state"] = entry.state
    return data


def render_json(report: Report) -> str:
    with_state = report.command == "review"
    document = {
        "findings": [_finding_json(entry, with_state) for entry in report.entries],
        "summary": report.summary(),
    }
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def _rule_name(rule_id: str) -> str:
    return "".join(part.capitalize() for part in rule_id.replace("_", "-").split("-"))


def _fingerprint(f: Finding) -> str:
    # Line numbers move with unrelated edits; rule, function, channel and message do not.
    text = "\x1f".join((f.rule, f.path or "", f.function or "", f.channel or "", f.message))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _uri(path: str) -> str:
    return quote(path.replace("\\", "/"), safe="/:._-~")


def render_sarif(report: Report) -> str:
    used = sorted({entry.finding.rule for entry in report.entries} | set(report.rules))
    rule_index = {rule_id: index for index, rule_id in enumerate(used)}
    rules: list[dict[str, Any]] = []
    for rule_id in used:
        info = report.rules.get(rule_id)
        descriptor: dict[str, Any] = {"id": rule_id, "name": _rule_name(rule_id)}
        if info is not None:
            descriptor["shortDescription"] = {"text": info.title}
            descriptor["fullDescription"] = {"text": info.why}
            descriptor["help"] = {"text": f"{info.why} Fix: {info.fix}"}
            descriptor["defaultConfiguration"] = {"level": _SARIF_LEVEL[info.severity]}
        rules.append(descriptor)
    results: list[dict[str, Any]] = []
    for entry in report.entries:
        f = entry.finding
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": rule_index[f.rule],
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f.message + (f" Fix: {f.fix}" if f.fix else "")},
            "partialFingerprints": {"bcastsimFinding/v1": _fingerprint(f)},
        }
        location: dict[str, Any] = {}
        if f.path is not None:
            physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(f.path)}}
            if f.line is not None and f.line >= 1:
                physical["region"] = {"startLine": f.line}
            location["physicalLocation"] = physical
        if f.function is not None:
            location["logicalLocations"] = [{"name": f.function, "kind": "function"}]
        if location:
            result["locations"] = [location]
        if entry.state in _BASELINE:
            result["baselineState"] = _BASELINE[entry.state]
        properties = {key: value for key, value in (("channel", f.channel), ("why", f.why)) if value}
        if properties:
            result["properties"] = properties
        results.append(result)
    document = {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "bcastsim",
                        "version": report.version,
                        "rules": rules,
                    }
                },
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(report: Report) -> str:
    lines: list[str] = []
    for entry in report.entries:
        f = entry.finding
        properties = []
        if f.path is not None:
            properties.append(f"file={_escape_property(f.path)}")
            if f.line is not None:
                properties.append(f"line={f.line}")
        title = f"bcastsim {f.rule}" + (f" ({entry.state})" if entry.state else "")
        properties.append(f"title={_escape_property(title)}")
        message = f.message + (f"\nFix: {f.fix}" if f.fix else "")
        lines.append(f"::{_GITHUB_LEVEL[f.severity]} {','.join(properties)}::{_escape_data(message)}")
    summary = report.summary()
    lines.append(
        f"bcastsim {report.command}: {_plural(summary['errors'], 'error')}, "
        f"{_plural(summary['warnings'], 'warning')}, {_plural(summary['notes'], 'note')}"
    )
    return "\n".join(lines) + "\n"


_RENDERERS: dict[str, Callable[[Report], str]] = {
    "text": render_text,
    "json": render_json,
    "sarif": render_sarif,
    "github": render_github,
}
FORMATS: tuple[str, ...] = tuple(_RENDERERS)


def render(report: Report, fmt: str, *, verbose: bool = False) -> str:
    """The whole report in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "text":
        return render_text(report, verbose=verbose)
    return _RENDERERS[fmt](report)
