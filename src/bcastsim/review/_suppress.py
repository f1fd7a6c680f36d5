"""Suppression comments and baselines: findings a project has decided to live with.

``-- bcastsim: ignore[rule-id]`` anywhere in a statement (a function's header or body,
a trigger, or the comment lines just above it) suppresses that rule's findings on the
whole statement; ``-- bcastsim: ignore-file[rule-id]`` does so for the whole file.
Several ids may be listed (``ignore[rule-a, rule-b]``). An id no rule has, and an id
that suppressed nothing, are reported once as notes, so a stale or misspelt comment is
seen. A baseline file records the findings of an existing schema, so that only new
ones are reported.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import attrs

from bcastsim._errors import InputError
from bcastsim._resources import display_path
from bcastsim.findings import Finding, Severity
from bcastsim.review._danger import UNSUPPRESSIBLE
from bcastsim.review._fixes import Patch, replace_lines, source_lines

__all__ = [
    "SUPPRESSION_RULE",
    "UNSUPPRESSIBLE",
    "UNUSED_SUPPRESSION_RULE",
    "SuppressionComment",
    "Suppressions",
    "apply_suppressions",
    "baseline_identity",
    "read_baseline",
    "read_suppressions",
    "render_baseline",
    "statement_spans",
]

SUPPRESSION_RULE = "unknown-suppression"
UNUSED_SUPPRESSION_RULE = "unused-suppression"

_COMMENT = re.compile(r"--\s*bcastsim:\s*ignore(-file)?\[([^\]]*)\]", re.IGNORECASE)
_NUMBER = re.compile(r"\b\d+\b")
BASELINE_VERSION = 1


@attrs.frozen
class SuppressionComment:
    path: str
    line: int
    rule: str
    whole_file: bool


@attrs.frozen
class Suppressions:
    """The suppression comments of a set of files, and each file's statements as line ranges."""

    comments: tuple[SuppressionComment, ...]
    statements: Mapping[str, tuple[tuple[int, int], ...]]
    known: frozenset[str]
    #: per file, the numbers of the lines that hold only a ``--`` comment
    comment_lines: Mapping[str, frozenset[int]] = attrs.field(factory=dict)

    def matching(self, finding: Finding, key: str | None = None) -> list[SuppressionComment]:
        """The comments that suppress ``finding`` (``key``: its file, when its path is shown differently)."""
        if finding.path is None or not self.comments:
            return []  # (most projects have no comment: no path to resolve per finding)
        path = key or _key(finding.path)
        found = []
        span = self._statement(path, finding.line) if finding.line is not None else None
        for comment in self.comments:
            if comment.path != path or comment.rule != finding.rule:
                continue
            in_statement = span is not None and span[0] <= comment.line <= span[1]
            near_line = finding.line is not None and (
                comment.line == finding.line or self._just_above(path, comment.line, finding.line)
            )
            if comment.whole_file or in_statement or near_line:
                found.append(comment)
        return found

    def _just_above(self, path: str, comment_line: int, line: int) -> bool:
        """Whether ``comment_line`` is in the block of comment lines that ends right above ``line``."""
        if not comment_line < line:
            return False
        above = self.comment_lines.get(path, frozenset())
        return all(number in above for number in range(comment_line, line))

    def _statement(self, path: str, line: int) -> tuple[int, int] | None:
        for first, last in self.statements.get(path, ()):
            if first <= line <= last:
                return (first, last)
        return None

    def notes(self, used: Iterable[SuppressionComment]) -> list[Finding]:
        """One note per comment id that names no rule, or that suppressed nothing."""
        used_set = set(used)
        notes: list[Finding] = []
        for comment in self.comments:
            # The comment's path is resolved to match findings by file; the note shows it as other findings do.
            shown = display_path(comment.path)
            patch = None
            if comment.rule not in self.known:
                rule = SUPPRESSION_RULE
                message = f"suppression names unknown rule {comment.rule!r}; it suppresses nothing"
                explanation = "use an id from `bcastsim check --list-rules` (which one was meant is not known)"
            elif comment.rule in UNSUPPRESSIBLE:
                rule = UNUSED_SUPPRESSION_RULE
                message = f"{comment.rule!r} cannot be suppressed by a comment in the reviewed files"
                explanation = "remove the comment, and the statement it was meant to hide"
            elif comment not in used_set:
                rule = UNUSED_SUPPRESSION_RULE
                scope = "file" if comment.whole_file else "statement"
                message = f"suppression of {comment.rule!r} matches no finding in its {scope}"
                explanation = "remove the comment, or move it onto the statement the finding is about"
                patch = _removal(shown, comment.line)
            else:
                continue
            notes.append(
                Finding(
                    rule=rule,
                    severity=Severity.NOTE,
                    message=message,
                    path=shown,
                    line=comment.line,
                    fix=patch.summary if patch else None,
                    patch=patch.diff if patch else None,
                    explanation=None if patch else explanation,
                )
            )
        return notes


def _removal(path: str, line: int) -> Patch | None:
    """The unused suppression's line deleted, when the comment is all the line holds."""
    lines = source_lines(path)
    if lines is None or not 1 <= line <= len(lines) or not lines[line - 1].lstrip().startswith("--"):
        return None
    return replace_lines(path, line, line, [], f"remove the unused suppression comment at line {line}")


def _key(path: str | Path) -> str:
    return str(Path(path).resolve())


@functools.lru_cache(maxsize=16)  # rules ask again for the spans of the file each finding sits in
def statement_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Each statement's first and last line, its leading comments included; none when it does not parse."""
    import pglast

    from bcastsim.sqlmodel import strip_psql

    # psql's meta-commands (``\\echo … \\quit`` atop an extension script) are blanked, lines kept.
    text = strip_psql(text)[0]
    try:
        statements = pglast.parse_sql(text)
    except Exception:  # the catalog reports the syntax error; here it only means "no spans"
        return ()
    lines = text.splitlines()
    spans = []
    for raw in statements:
        # pglast's locations are character offsets into the text (it converts libpg_query's byte
        # offsets): counting them in the UTF-8 bytes put a statement's end lines early after a "—".
        start = raw.stmt_location or 0
        end = start + (raw.stmt_len or (len(text) - start))
        # A statement's text starts right after the previous ';': the rest of that line is not its own.
        offset = start
        while offset < end and text[offset : offset + 1] in (" ", "\t", "\r", ";"):
            offset += 1
        if start and text[offset : offset + 1] == "\n":
            offset += 1
        first = text.count("\n", 0, offset) + 1
        last = text.count("\n", 0, end) + 1
        spans.append((_comment_block_start(lines, first), last))
    return tuple(spans)


def _comment_block_start(lines: Sequence[str], first: int) -> int:
    """``first`` (1-based), moved up over the ``--`` comment lines directly above it (no blank line between)."""
    while first > 1 and lines[first - 2].lstrip().startswith("--"):
        first -= 1
    return first


def read_suppressions(paths: Iterable[Path], known_rules: Iterable[str]) -> Suppressions:
    """Scan SQL files for suppression comments and their statements' line ranges."""
    comments: list[SuppressionComment] = []
    statements: dict[str, tuple[tuple[int, int], ...]] = {}
    comment_lines: dict[str, frozenset[int]] = {}
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        key = _key(path)
        found = False
        lines = text.splitlines()
        for number, line in enumerate(lines, start=1):
            for match in _COMMENT.finditer(line):
                ids = sorted({part.strip() for part in match.group(2).split(",") if part.strip()})
                comments.extend(SuppressionComment(key, number, rule, bool(match.group(1))) for rule in ids)
                found = True
        if found:
            statements[key] = statement_spans(text)
            comment_lines[key] = frozenset(n for n, line in enumerate(lines, start=1) if line.lstrip().startswith("--"))
    return Suppressions(tuple(comments), statements, frozenset(known_rules), comment_lines)


def apply_suppressions(
    findings: Sequence[Finding], suppressions: Suppressions, keys: Mapping[str, str] | None = None
) -> tuple[list[Finding], list[Finding], list[SuppressionComment]]:
    """Split ``findings`` into (kept, suppressed) in order, and the comments that did the suppressing.

    ``keys`` maps a finding's shown path (``git:REV:path``) to the file it was read from.
    """
    kept: list[Finding] = []
    suppressed: list[Finding] = []
    used: list[SuppressionComment] = []
    for finding in findings:
        key = (keys or {}).get(finding.path or "")
        # What the reviewed SQL tried against the machine is never silenced by a comment in that SQL.
        if finding.rule in UNSUPPRESSIBLE:
            kept.append(finding)
            continue
        matches = suppressions.matching(finding, _key(key) if key else None)
        (suppressed if matches else kept).append(finding)
        used.extend(matches)
    return kept, suppressed, used


def baseline_identity(finding: Finding) -> str:
    """What a finding is about, without line numbers or sizes that move with unrelated edits."""
    return "\x1f".join(
        (
            finding.rule,
            (finding.path or "").replace("\\", "/"),
            finding.function or "",
            finding.channel or "",
            _NUMBER.sub("#", finding.message),
        )
    )


def render_baseline(findings: Iterable[Finding]) -> str:
    """The baseline file for ``findings``: sorted, one object per finding, stable across runs."""
    entries = sorted(
        ({"rule": f.rule, "path": f.path, "function": f.function, "identity": baseline_identity(f)} for f in findings),
        key=lambda entry: str(entry["identity"]),
    )
    return json.dumps({"bcastsim_baseline": BASELINE_VERSION, "findings": entries}, indent=2) + "\n"


def read_baseline(path: Path) -> Counter[str]:
    """The identities recorded in a baseline file, with how often each was recorded."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(
            f"cannot read baseline: {error.strerror}", path=path, fix="write one with --baseline write"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(
            f"baseline is not JSON: {error}", path=path, fix="write it again with --baseline write"
        ) from None
    if not isinstance(document, dict) or document.get("bcastsim_baseline") != BASELINE_VERSION:
        raise InputError(
            f"not a bcastsim baseline (version {BASELINE_VERSION})", path=path, fix="write it with --baseline write"
        )
    findings = document.get("findings")
    if not isinstance(findings, list) or not all(
        isinstance(entry, dict) and isinstance(entry.get("identity"), str) for entry in findings
    ):
        raise InputError("baseline findings must be objects with an 'identity'", path=path)
    return Counter(entry["identity"] for entry in findings)
