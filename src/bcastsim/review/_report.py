"""Reporters: the same findings as text, JSON, SARIF 2.1.0, GitHub workflow annotations or Markdown.

Every reporter returns the whole output as one string, so a failure half-way never
leaves a half-written file or a truncated stream.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs

from bcastsim.findings import Finding, Severity
from bcastsim.review._danger import UNSUPPRESSIBLE
from bcastsim.review._fixes import hunks

__all__ = [
    "DEFAULT_FAIL_ON",
    "FAIL_ON",
    "FORMATS",
    "GITHUB_ANNOTATIONS_PER_LEVEL",
    "HELD_BY_BASELINE",
    "HELD_BY_CONFIG",
    "MARKDOWN_ROWS",
    "SARIF_SCHEMA_URI",
    "SECURITY_SEVERITY",
    "Entry",
    "Report",
    "RuleInfo",
    "checkout_path",
    "docs_url",
    "help_uri",
    "json_chunks",
    "pg_lines",
    "render",
]

SARIF_SCHEMA_URI = "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json"

_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}
_GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}
# How a review's finding relates to the old version, in SARIF's words.
_BASELINE = {"introduced": "new", "fixed": "absent", "changed": "updated"}


def _repository_url() -> str:
    """``[project.urls] Repository`` of bcastsim's ``pyproject.toml``: the one setting every help link derives from.

    Read from the installed package's metadata; in a source tree without an install, from the
    ``pyproject.toml`` beside ``src/``.
    """
    from importlib import metadata

    try:
        for entry in metadata.metadata("bcastsim").get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            if label.strip().lower() == "repository" and url.strip():
                return str(url).strip().rstrip("/")
    except metadata.PackageNotFoundError:
        pass
    import tomllib

    pyproject = Path(__file__).resolve().parents[3] / "pyproject.toml"
    if pyproject.is_file():
        url = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("urls", {}).get("Repository")
        if isinstance(url, str) and url:
            return url.rstrip("/")
    raise RuntimeError("bcastsim's [project.urls] Repository is not set")


@functools.cache
def docs_url() -> str:
    """Where each rule is documented: the docs/ of the repository's main branch (the same pages ship in the
    sdist); a rule's help link is this plus the page and the rule id as anchor. Read on first use: the
    package metadata costs start-up time a command that writes no SARIF need not pay."""
    return f"{_repository_url()}/blob/main/docs/"


# Code scanning's security score (0.0-10.0) for the rules that are about who can read or run what;
# GitHub ranks these alerts as critical/high/medium/low instead of error/warning/note.
SECURITY_SEVERITY: Mapping[str, float] = {
    "sensitive-on-public-topic": 8.0,
    "restricted-on-public-topic": 8.0,
    "client.restricted-data-public": 8.0,
    "security-definer-search-path": 7.5,
    "audience-widened": 7.0,
    # Statements that need a superuser (review/_danger.py): code or files of the server, then roles.
    "copy-program": 9.0,
    "untrusted-language": 9.0,
    "alter-system": 9.0,
    "copy-server-file": 8.5,
    "server-file-access": 8.0,
    "large-object-file": 8.0,
    "dangerous-extension": 8.0,
    "dblink": 7.5,
    "set-role": 7.5,
    "grant-privileged-role": 9.0,
    "privileged-role-attribute": 9.0,
    "event-trigger": 8.5,
}
# GitHub shows at most this many annotations of each level for one step.
GITHUB_ANNOTATIONS_PER_LEVEL = 10
# The lowest severity that makes the run fail; ``never`` keeps the exit status 0 on findings.
FAIL_ON: Mapping[str, int] = {"error": 0, "warning": 1, "note": 2, "never": -1}
DEFAULT_FAIL_ON = "error"
# Why a privilege or containment finding fails a run that the configuration's fail-on, or a baseline,
# would let pass: both are files of the reviewed repository, which a pull request can change with its SQL.
HELD_BY_CONFIG = (
    "fail-on cannot be lowered for privilege and containment findings by the reviewed repository's "
    "configuration (only --fail-on on the command line can)"
)
HELD_BY_BASELINE = "a baseline cannot hide privilege and containment findings, it is a file of the reviewed repository"


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
    baselined: int = 0
    version: str = "0"
    fail_on: str = DEFAULT_FAIL_ON
    #: ``fail_on`` is the reviewed repository's configuration's (no ``--fail-on`` on the command line): it
    #: cannot lower the threshold for privilege and containment findings below the default
    fail_on_from_config: bool = False
    config: str | None = None
    #: privilege and containment findings a baseline recorded, reported all the same
    baseline_refused: int = 0
    # ``review --pg``: what ran and was compared in PostgreSQL (``PgCounts.to_json()``), else None.
    pg: Mapping[str, Any] | None = None

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(entry.finding for entry in self.entries)

    def count(self, severity: Severity) -> int:
        return sum(1 for entry in self.entries if entry.finding.severity is severity)

    @property
    def held(self) -> tuple[Entry, ...]:
        """Privilege and containment findings that fail the run although the configuration's ``fail_on`` passes them.

        They are the findings at or above :data:`DEFAULT_FAIL_ON` and below ``fail_on``, when the
        threshold came from the reviewed repository's configuration; one given on the command line
        (or by a caller of the API) is the operator's, and is respected.
        """
        if not self.fail_on_from_config:
            return ()
        threshold, floor = FAIL_ON[self.fail_on], FAIL_ON[DEFAULT_FAIL_ON]
        return tuple(
            entry
            for entry in self.entries
            if entry.finding.rule in UNSUPPRESSIBLE and threshold < entry.finding.severity.rank <= floor
        )

    @property
    def exit_status(self) -> int:
        """1 when a finding is at or above ``fail_on`` (``never``: always 0), or one is :attr:`held`."""
        threshold = FAIL_ON[self.fail_on]
        failing = any(entry.finding.severity.rank <= threshold for entry in self.entries)
        return 1 if failing or self.held else 0

    def held_lines(self) -> list[str]:
        """Why the exit status is not what ``fail_on`` alone says, and what a baseline could not hide: one line each."""
        lines = []
        held = len(self.held)
        if held:
            verb = "fails" if held == 1 else "fail"
            lines.append(
                f"{_plural(held, 'privilege or containment finding')} at or above {DEFAULT_FAIL_ON} {verb} the "
                f"run although fail-on is {self.fail_on}: {HELD_BY_CONFIG}"
            )
        if self.baseline_refused:
            verb = "is" if self.baseline_refused == 1 else "are"
            lines.append(
                f"{_plural(self.baseline_refused, 'privilege or containment finding')} recorded in the baseline "
                f"{verb} still reported: {HELD_BY_BASELINE}"
            )
        return lines

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
            "baselined": self.baselined,
            "by_rule": dict(sorted(by_rule.items())),
            "fail_on": self.fail_on,
            "fail_on_from_config": self.fail_on_from_config,
            "held": len(self.held),
            "baseline_refused": self.baseline_refused,
            "exit_status": self.exit_status,
            "config": self.config,
        }
        if self.command == "review":
            states = Counter(entry.state for entry in self.entries)
            summary["introduced"] = states.get("introduced", 0)
            summary["fixed"] = states.get("fixed", 0)
            summary["changes"] = states.get("changed", 0)
        if self.pg is not None:
            summary["pg"] = dict(self.pg)
        return summary


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def pg_lines(pg: Mapping[str, Any]) -> list[str]:
    """``review --pg``'s counts as text: the totals, then one line per notify site and the sites never compared."""
    committed = pg["committed"]
    lines = [
        f"PostgreSQL (seed {pg['seed']}): {pg['histories']} histor{'y' if pg['histories'] == 1 else 'ies'}"
        f" drawn by {pg['workload']}, {_plural(pg['transactions'], 'transaction')};"
        f" committed: {committed['old']} old, {committed['new']} new, {committed['both']} in both"
        f" ({pg['transactions_compared']} compared: from the same rows in both);"
        f" {_plural(pg['messages_compared'], 'message')} compared, {pg['differences']} of them differing"
    ]
    for site in pg["sites"]:
        changed = ", changed" if site["changed"] else ""
        lines.append(
            f"  {site['version']} {site['site']} ({site['transport']} '{site['channel']}'{changed}):"
            f" {site['sent']} sent, {site['compared']} compared, {site['differences']} differing"
        )
    for site in pg["sites"]:
        if site["compared"] == 0:
            lines.append(f"  not compared: {site['version']} {site['site']}: {site['status']}")
    lines += [f"  schema: {note}" for note in pg["schema_notes"]]
    return lines


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
        if f.patch:
            # Indented as a whole: patch(1) takes a consistently indented diff as it is.
            lines.extend(f"      {line}" for line in f.patch.splitlines())
        if f.explanation:
            lines.append(f"    explanation (no patch): {f.explanation}")
        if f.example:
            lines.append(f"    reproduce: {f.example}")
    summary = report.summary()
    tail = (
        f"{_plural(summary['errors'], 'error')}, {_plural(summary['warnings'], 'warning')}, "
        f"{_plural(summary['notes'], 'note')}"
    )
    hidden = [f"{report.suppressed} suppressed"] if report.suppressed else []
    hidden += [f"{report.baselined} in the baseline"] if report.baselined else []
    if hidden:
        tail += f" ({', '.join(hidden)})"
    if report.command == "review":
        tail += f"; {summary['introduced']} introduced, {summary['fixed']} fixed, {summary['changes']} changes"
    if report.pg is not None:
        lines += ([""] if lines else []) + pg_lines(report.pg)
    if lines:
        lines.append("")
    if report.config:
        tail += f"; config {report.config}"
    lines.extend(report.held_lines())
    lines.append(tail)
    return "\n".join(lines) + "\n"


def _finding_json(entry: Entry, with_state: bool) -> dict[str, Any]:
    data = entry.finding.to_json()
    if with_state:
        data["state"] = entry.state
    return data


def json_chunks(report: Report) -> Iterator[str]:
    """The report's JSON text, one finding at a time: the bytes of ``json.dumps(document, indent=2)``.

    Each finding is encoded on its own and indented to its depth in the document (JSON escapes
    newlines inside strings, so every line break is the encoder's), so the whole document, as
    objects or as text, is never held.
    """
    with_state = report.command == "review"
    yield '{\n  "findings": ['
    for index, entry in enumerate(report.entries):
        text = json.dumps(_finding_json(entry, with_state), indent=2)
        yield ("\n    " if index == 0 else ",\n    ") + text.replace("\n", "\n    ")
    yield "\n  ]," if report.entries else "],"
    yield '\n  "summary": ' + json.dumps(report.summary(), indent=2).replace("\n", "\n  ") + "\n}\n"


def render_json(report: Report) -> str:
    return "".join(json_chunks(report))


def _rule_name(rule_id: str) -> str:
    return "".join(part.capitalize() for part in rule_id.replace("_", "-").replace(".", "-").split("-"))


def _fingerprint(f: Finding) -> str:
    # Line numbers move with unrelated edits; rule, function, channel and message do not.
    text = "\x1f".join((f.rule, f.path or "", f.function or "", f.channel or "", f.message))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def checkout_path(path: str) -> str:
    """The file in the checkout a shown path stands for: ``git:REV:sql/a.sql`` is ``sql/a.sql``."""
    if path.startswith("git:"):
        parts = path.split(":", 2)
        if len(parts) == 3:
            return parts[2]
    return path


def _uri(path: str) -> str | None:
    """The path relative to the working directory (the checkout's root in CI); ``None`` when outside it."""
    local = Path(checkout_path(path))
    if local.is_absolute():
        try:
            local = local.relative_to(Path.cwd())
        except ValueError:
            return None
    if local.parts[:1] == ("..",):
        return None
    return quote(local.as_posix(), safe="/:._-~")


def help_uri(rule_id: str) -> str:
    """The rule's entry in the docs: its row in docs/review.md, or the client properties' table."""
    if "." in rule_id:  # client properties (client.*, plan.*, backoff.*, rollout.*) share one table
        return f"{docs_url()}client.md#rules"
    return f"{docs_url()}review.md#{rule_id}"


def _rule_info(rule_id: str, report: Report) -> RuleInfo:
    """The rule's description; rules without a registered one (client properties) take it from a finding."""
    info = report.rules.get(rule_id)
    if info is not None:
        return info
    sample = next(entry.finding for entry in report.entries if entry.finding.rule == rule_id)
    return RuleInfo(
        id=rule_id,
        severity=sample.severity,
        title=rule_id.replace(".", ": ").replace("-", " "),
        why=sample.why or sample.message,
        fix=sample.fix or "see the rule's documentation",
    )


def _rule_descriptor(info: RuleInfo) -> dict[str, Any]:
    tags = ["bcastsim", "realtime"]
    properties: dict[str, Any] = {"precision": "high"}
    score = SECURITY_SEVERITY.get(info.id)
    if score is not None:
        tags.insert(0, "security")
        properties["security-severity"] = f"{score:.1f}"
    properties["tags"] = tags
    return {
        "id": info.id,
        "name": _rule_name(info.id),
        "shortDescription": {"text": info.title},
        "fullDescription": {"text": info.why},
        "help": {
            "text": f"{info.why}\nFix: {info.fix}",
            "markdown": (
                f"**{info.title}**\n\n{info.why}\n\n**Fix:** {info.fix}\n\n[Documentation]({help_uri(info.id)})"
            ),
        },
        "helpUri": help_uri(info.id),
        "defaultConfiguration": {"level": _SARIF_LEVEL[info.severity]},
        "properties": properties,
    }


def _sarif_location(f: Finding, state: str | None) -> dict[str, Any]:
    """A physical location in the checkout; code scanning rejects an upload with a result lacking one."""
    path = f.path if f.path not in (None, "-") else None
    uri = _uri(path) if path is not None else None
    region_line = f.line if f.line is not None and f.line >= 1 else 1
    if uri is None or (path is not None and path.startswith("git:") and state == "fixed"):
        # Outside the checkout, or the old version's line numbering: the message says where.
        region_line = 1
    physical: dict[str, Any] = {
        # No file of the checkout: the repository root, which code scanning accepts as a location.
        "artifactLocation": {"uri": uri if uri is not None else "."},
        "region": {"startLine": region_line},
    }
    location: dict[str, Any] = {"physicalLocation": physical}
    if f.function is not None:
        location["logicalLocations"] = [{"name": f.function, "kind": "function"}]
    return location


def _advice(f: Finding, separator: str) -> str:
    """The fix's summary, or the explanation labelled as such (never as a fix)."""
    if f.fix:
        return f"{separator}Fix: {f.fix}"
    if f.explanation:
        return f"{separator}Explanation (no patch): {f.explanation}"
    return ""


def _sarif_fixes(f: Finding) -> list[dict[str, Any]]:
    """The patch as SARIF ``fixes``: one artifact change whose replacements are the diff's hunks.

    Each replacement deletes whole lines (from column 1 of its first line to column 1 of the line
    after its last; an insertion deletes nothing) and inserts whole lines.
    """
    if not f.patch or not f.fix or f.path in (None, "-") or f.path.startswith("git:"):
        return []
    uri = _uri(f.path)
    if uri is None:
        return []
    replacements = []
    for hunk in hunks(f.patch):
        replacement: dict[str, Any] = {
            "deletedRegion": {
                "startLine": hunk.first,
                "startColumn": 1,
                "endLine": hunk.first + hunk.removed,
                "endColumn": 1,
            }
        }
        if hunk.inserted:
            replacement["insertedContent"] = {"text": "".join(line + "\n" for line in hunk.inserted)}
        replacements.append(replacement)
    if not replacements:
        return []
    return [
        {
            "description": {"text": f.fix},
            "artifactChanges": [{"artifactLocation": {"uri": uri}, "replacements": replacements}],
        }
    ]


def _sarif_message(f: Finding) -> str:
    text = f.message + _advice(f, " ")
    if f.path not in (None, "-") and (f.path.startswith("git:") or _uri(f.path) is None):
        text += f" (in {f.path}" + (f":{f.line})" if f.line is not None else ")")
    return text


def render_sarif(report: Report) -> str:
    used = sorted({entry.finding.rule for entry in report.entries} | set(report.rules))
    rule_index = {rule_id: index for index, rule_id in enumerate(used)}
    rules = [_rule_descriptor(_rule_info(rule_id, report)) for rule_id in used]
    results: list[dict[str, Any]] = []
    for entry in report.entries:
        f = entry.finding
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": rule_index[f.rule],
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": _sarif_message(f)},
            "locations": [_sarif_location(f, entry.state)],
            "partialFingerprints": {"bcastsimFinding/v1": _fingerprint(f)},
        }
        if entry.state in _BASELINE:
            result["baselineState"] = _BASELINE[entry.state]
        fixes = _sarif_fixes(f) if entry.state != "fixed" else []
        if fixes:
            result["fixes"] = fixes
        properties = {
            key: value for key, value in (("channel", f.channel), ("why", f.why), ("shownPath", f.path)) if value
        }
        if properties:
            result["properties"] = properties
        results.append(result)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "bcastsim",
                "version": report.version,
                "informationUri": docs_url() + "review.md",
                "rules": rules,
            }
        },
        "automationDetails": {"id": f"bcastsim/{report.command}/"},
        "results": results,
        "columnKind": "unicodeCodePoints",
    }
    run_properties: dict[str, Any] = {}
    if report.config:
        run_properties["config"] = report.config
    held = report.held_lines()
    if held:
        # SARIF has no exit status of its own: what makes the run's differ from fail-on's is said here.
        run_properties["failOn"] = report.fail_on
        run_properties["exitStatus"] = report.exit_status
        run_properties["held"] = held
    if report.pg is not None:
        run_properties["pg"] = dict(report.pg)
    if run_properties:
        run["properties"] = run_properties
    document = {"$schema": SARIF_SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(document, indent=2) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _plain_line(entry: Entry) -> str:
    f = entry.finding
    where = (f.path or "-") + (f":{f.line}" if f.line is not None else "")
    state = f" ({entry.state})" if entry.state else ""
    return f"{where}: {f.severity.value}[{f.rule}]{state} {f.message}"


def render_github(report: Report) -> str:
    """Workflow annotations, errors first; past GitHub's per-level cap, plain log lines and a count."""
    lines: list[str] = []
    overflow: list[Entry] = []
    shown: Counter[Severity] = Counter()
    for entry in report.entries:
        f = entry.finding
        if shown[f.severity] >= GITHUB_ANNOTATIONS_PER_LEVEL:
            overflow.append(entry)
            continue
        shown[f.severity] += 1
        properties = []
        if f.path not in (None, "-"):
            properties.append(f"file={_escape_property(checkout_path(f.path))}")
            if f.line is not None and not (f.path.startswith("git:") and entry.state == "fixed"):
                properties.append(f"line={f.line}")
        title = f"bcastsim {f.rule}" + (f" ({entry.state})" if entry.state else "")
        properties.append(f"title={_escape_property(title)}")
        message = f.message + _advice(f, "\n") + (f"\n{f.patch.rstrip()}" if f.patch else "")
        if f.path is not None and f.path.startswith("git:"):
            message += f"\nIn {f.path}" + (f":{f.line}" if f.line is not None else "")
        lines.append(f"::{_GITHUB_LEVEL[f.severity]} {','.join(properties)}::{_escape_data(message)}")
    summary = report.summary()
    if overflow:
        counts = Counter(entry.finding.severity for entry in overflow)
        more = ", ".join(_plural(counts[s], s.value) for s in Severity if counts[s])
        lines.append(
            f"bcastsim: {more} more not annotated (GitHub shows {GITHUB_ANNOTATIONS_PER_LEVEL} per level "
            "per step); all findings are listed below and in the Markdown summary (--format markdown)"
        )
        lines.extend(_plain_line(entry) for entry in overflow)
    if report.pg is not None:
        headline, *rest = pg_lines(report.pg)
        lines.append(f"::notice title={_escape_property('bcastsim review --pg')}::{_escape_data(headline)}")
        lines.extend(line.strip() for line in rest)
    lines.extend(f"bcastsim: {line}" for line in report.held_lines())
    lines.append(
        f"bcastsim {report.command}: {_plural(summary['errors'], 'error')}, "
        f"{_plural(summary['warnings'], 'warning')}, {_plural(summary['notes'], 'note')}"
    )
    return "\n".join(lines) + "\n"


# A PR comment holds at most 65,536 characters; the table stops well before that.
MARKDOWN_ROWS = 200
_STATE_LABEL = {"introduced": "introduced", "fixed": "fixed", "changed": "change"}
_SEVERITY_ICON = {Severity.ERROR: "🔴 error", Severity.WARNING: "🟠 warning", Severity.NOTE: "🔵 note"}


def _md_cell(text: str) -> str:
    return " ".join(text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "'").split())


def render_markdown(report: Report) -> str:
    """A Markdown summary for a pull-request comment or ``$GITHUB_STEP_SUMMARY``: counts, then a table."""
    summary = report.summary()
    verdict = "fails" if report.exit_status else "passes"
    review_columns = report.command == "review"
    lines = [
        f"### bcastsim {report.command}: {verdict} (fail on {report.fail_on})",
        "",
        f"Inputs: {', '.join(f'`{_md_cell(i)}`' for i in report.inputs) or 'none'}"
        + (f" · config `{_md_cell(report.config)}`" if report.config else " · no config (defaults)"),
        "",
        "| errors | warnings | notes | suppressed | baselined |"
        + (" introduced | fixed | changes |" if review_columns else ""),
        "| ---: | ---: | ---: | ---: | ---: |" + (" ---: | ---: | ---: |" if review_columns else ""),
        f"| {summary['errors']} | {summary['warnings']} | {summary['notes']} | {summary['suppressed']} "
        f"| {summary['baselined']} |"
        + (f" {summary['introduced']} | {summary['fixed']} | {summary['changes']} |" if review_columns else ""),
        "",
    ]
    held = report.held_lines()
    if held:
        lines += [f"**{_md_cell(line)}**" for line in held] + [""]
    if report.pg is not None:
        headline, *rest = pg_lines(report.pg)
        lines += [headline, ""] + [f"- {_md_cell(line.strip())}" for line in rest] + ([""] if rest else [])
    if report.entries:
        with_state = report.command == "review"
        lines.append("| severity | rule | where | " + ("state | " if with_state else "") + "message |")
        lines.append("| --- | --- | --- | " + ("--- | " if with_state else "") + "--- |")
        for entry in report.entries[:MARKDOWN_ROWS]:
            f = entry.finding
            where = (f.path or "-") + (f":{f.line}" if f.line is not None else "")
            rule = f"[`{f.rule}`]({help_uri(f.rule)})"
            state = f"{_STATE_LABEL.get(entry.state or '', '')} | " if with_state else ""
            message = _md_cell(f.message)
            if f.fix:
                message += f" — fix: {_md_cell(f.fix)}"
            elif f.explanation:
                message += f" — explanation: {_md_cell(f.explanation)}"
            lines.append(f"| {_SEVERITY_ICON[f.severity]} | {rule} | `{_md_cell(where)}` | {state}{message} |")
        hidden = len(report.entries) - MARKDOWN_ROWS
        if hidden > 0:
            lines += ["", f"…and {hidden} more; the full list: `--format text` or `--format json`."]
    else:
        lines.append("No findings.")
    return "\n".join(lines) + "\n"


_RENDERERS: dict[str, Callable[[Report], str]] = {
    "text": render_text,
    "json": render_json,
    "sarif": render_sarif,
    "github": render_github,
    "markdown": render_markdown,
}
FORMATS: tuple[str, ...] = tuple(_RENDERERS)


def render(report: Report, fmt: str, *, verbose: bool = False) -> str:
    """The whole report in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "text":
        return render_text(report, verbose=verbose)
    return _RENDERERS[fmt](report)
