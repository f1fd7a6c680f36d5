"""Fixes as patches: edits of the user's file rendered as a unified diff, and read back as replacements.

A rule that knows the right change builds a :class:`Patch` here: lines replaced, lines inserted, or
a piece of text within lines replaced. The patch is the unified diff ``patch(1)`` applies; SARIF's
``fixes`` carry the same change as ``replacements`` (:func:`replacements`). A file that cannot be
read (a ``git:`` version, standard input) gets no patch. This module knows no rule: it is a leaf.
"""

from __future__ import annotations

import bisect
import difflib
import functools
import itertools
import re
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

__all__ = [
    "Hunk",
    "Patch",
    "call_close",
    "edit_span",
    "hunks",
    "indentation",
    "insert_after",
    "masked",
    "masked_source",
    "replace_lines",
    "replace_span",
    "replace_text",
    "source_lines",
    "statement_at",
]


@attrs.frozen
class Patch:
    """A unified diff of one file, with one line saying what it changes."""

    path: str
    summary: str
    diff: str


@attrs.frozen
class Hunk:
    """One change read back from a diff: old lines ``first``..``first + removed - 1`` become ``inserted``.

    ``removed`` is 0 for a pure insertion before line ``first``.
    """

    first: int
    removed: int
    inserted: tuple[str, ...]


def source_lines(path: str) -> list[str] | None:
    """The file's lines, each with its newline (one added to a last line without); None when unreadable."""
    source = _source(path)
    return None if source is None else list(source.lines)


@attrs.frozen
class _Source:
    """One version of a file: its text (ending in a newline), its lines and the offset each starts at."""

    text: str
    lines: tuple[str, ...]
    starts: tuple[int, ...]


def _source(path: str) -> _Source | None:
    if path.startswith(("git:", "<")):
        return None
    try:
        status = Path(path).stat()
    except OSError:
        return None
    if not stat.S_ISREG(status.st_mode):
        return None
    return _read_source(path, status.st_mtime_ns, status.st_size)


# Rules ask for a file's lines once per finding: read and split once per version of the file (its
# modification time and size name the version), so a file with a thousand findings is read once.
@functools.lru_cache(maxsize=8)
def _read_source(path: str, _mtime_ns: int, _size: int) -> _Source | None:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines(keepends=True)
    except (OSError, UnicodeDecodeError):
        return None
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    starts = tuple(itertools.accumulate((len(line) for line in lines), initial=0))
    return _Source("".join(lines), tuple(lines), starts)


def _diff(path: str, old: list[str], new: list[str], summary: str) -> Patch | None:
    if old == new:
        return None
    # Only the changed stretch and its context are handed to difflib: the rest of the file is the
    # same on both sides, and diffing all of it for every finding made patch building grow with
    # findings × file size. The hunks' line numbers are moved back to the whole file's.
    same_head = _common_length(old, new)
    same_tail = _common_length(old[::-1][: len(old) - same_head], new[::-1][: len(new) - same_head])
    start = max(0, same_head - _CONTEXT)
    return _hunks_text(
        path, old[start : len(old) - same_tail + _CONTEXT], new[start : len(new) - same_tail + _CONTEXT], start, summary
    )


def _hunks_text(path: str, old: list[str], new: list[str], start: int, summary: str) -> Patch:
    """The unified diff of a stretch of a file that starts at line index ``start``, in the whole file's numbers."""
    text = "".join(
        _moved(line, start)
        for line in difflib.unified_diff(old, new, fromfile=f"a/{path}", tofile=f"b/{path}", n=_CONTEXT)
    )
    return Patch(path=path, summary=summary, diff=text)


_CONTEXT = 2
_RANGES = re.compile(r"^@@ -(\d+)((?:,\d+)?) \+(\d+)((?:,\d+)?) @@")


def _moved(line: str, by: int) -> str:
    """A diff line, its hunk header's line numbers moved down by ``by`` lines."""
    if not by or not line.startswith("@@"):
        return line
    return _RANGES.sub(lambda m: f"@@ -{int(m[1]) + by}{m[2]} +{int(m[3]) + by}{m[4]} @@", line, count=1)


def _common_length(left: list[str], right: list[str]) -> int:
    """How many leading items the two lists share, by halving (list comparisons run in C)."""
    low, high = 0, min(len(left), len(right))
    while low < high:
        middle = (low + high + 1) // 2
        if left[low:middle] == right[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def insert_after(path: str, after_line: int, new_lines: Sequence[str], summary: str) -> Patch | None:
    """Insert ``new_lines`` after line ``after_line`` (0: at the top) of the file at ``path``."""
    old = source_lines(path)
    if old is None or not 0 <= after_line <= len(old):
        return None
    new = [*old[:after_line], *(line + "\n" for line in new_lines), *old[after_line:]]
    return _diff(path, old, new, summary)


def replace_lines(path: str, first: int, last: int, new_lines: Sequence[str], summary: str) -> Patch | None:
    """Replace lines ``first``..``last`` (1-based, inclusive) with ``new_lines``."""
    old = source_lines(path)
    if old is None or not 1 <= first <= last <= len(old):
        return None
    new = [*old[: first - 1], *(line + "\n" for line in new_lines), *old[last:]]
    return _diff(path, old, new, summary)


def replace_text(
    path: str,
    lines: tuple[int, int],
    pattern: re.Pattern[str],
    replacement: str | Callable[[re.Match[str]], str],
    summary: str,
    *,
    count: int = 0,
) -> Patch | None:
    """Replace matches of ``pattern`` within ``lines`` (first, last; outside ``--`` comments); None if none."""
    first, last = lines
    old = source_lines(path)
    if old is None or not 1 <= first <= last <= len(old):
        return None
    new = list(old)
    done = 0
    for index in range(first - 1, last):
        code, dashes, comment = _split_comment(old[index])
        left = count - done if count else 0
        changed, made = pattern.subn(replacement, code, count=left)
        if made:
            new[index] = changed + dashes + comment
            done += made
            if count and done >= count:
                break
    return _diff(path, old, new, summary) if done else None


def _split_comment(line: str) -> tuple[str, str, str]:
    """(code, '--', comment) of one line: the ``--`` outside a quoted literal starts the comment."""
    quoted = False
    for index, char in enumerate(line):
        if char == "'":
            quoted = not quoted
        elif not quoted and line.startswith("--", index):
            return line[:index], "--", line[index + 2 :]
    return line, "", ""


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def hunks(diff: str) -> tuple[Hunk, ...]:
    """The changes of a one-file unified diff, each a run of removed and inserted lines, in old-file lines."""
    found: list[Hunk] = []
    old_line = 0
    start: int | None = None
    removed = 0
    inserted: list[str] = []
    in_header = True

    def close() -> None:
        nonlocal start, removed, inserted
        if start is not None:
            found.append(Hunk(first=start, removed=removed, inserted=tuple(inserted)))
        start, removed, inserted = None, 0, []

    for line in diff.splitlines():
        header = _HUNK.match(line)
        if header:
            close()
            in_header = False
            old_line = int(header.group(1))
            if header.group(2) == "0":
                old_line += 1  # "-N,0": the insertion goes after line N
            continue
        if in_header or line.startswith("\\"):
            continue  # the file names; "\ No newline at end of file"
        if line.startswith("-"):
            if start is None:
                start = old_line
            removed += 1
            old_line += 1
        elif line.startswith("+"):
            if start is None:
                start = old_line
            inserted.append(line[1:])
        else:
            close()
            old_line += 1
    close()
    return tuple(found)


def _source_text(path: str) -> str | None:
    source = _source(path)
    return None if source is None else source.text


def statement_at(path: str, line: int) -> tuple[int, int] | None:
    """Character offsets ``[start, end)`` of the top-level statement whose text starts on ``line``
    (its leading comments and the closing ``;`` left out); None when the file does not parse."""
    original = _source_text(path)
    if original is None:
        return None
    spans = _statement_spans(original)
    return None if spans is None else spans.get(line)


# A rule asks for the statement of each of its findings in turn: the file is parsed and its spans
# worked out once per text, not once per finding (which made patch building grow with findings ×
# file size). Keyed by the text itself, so an edited file is read anew.
@functools.lru_cache(maxsize=4)
def _statement_spans(original: str) -> dict[int, tuple[int, int]] | None:
    """Each file line → the span (as :func:`statement_at` gives it) of the first statement covering it."""
    import pglast

    from bcastsim.sqlmodel import strip_psql

    # psql's meta-commands are blanked to empty lines: line numbers stay, offsets are mapped back by line.
    text = strip_psql(original)[0]
    try:
        raws = pglast.parse_sql(text)
    except Exception:  # syntax the catalog reported: no statement to patch
        return None
    starts = list(itertools.accumulate((len(line) + 1 for line in original.split("\n")[:-1]), initial=0))
    # Offsets are turned into lines by halving over where each line starts, never by counting the
    # newlines before them (that grew with statements × file size).
    text_starts = list(itertools.accumulate((len(line) + 1 for line in text.split("\n")[:-1]), initial=0))

    def line_index(offset: int) -> int:
        return bisect.bisect_right(text_starts, offset) - 1

    def mapped(offset: int) -> int:
        number = line_index(offset)
        return starts[number] + offset - text_starts[number]

    spans: dict[int, tuple[int, int]] = {}
    for raw in raws:
        # pglast gives character offsets into the text (libpg_query's byte offsets, converted).
        start = raw.stmt_location or 0
        end = start + (raw.stmt_len or (len(text) - start))
        while start < end:
            if text[start] in " \t\r\n;":
                start += 1
            elif text.startswith("--", start):
                start = text.find("\n", start, end) + 1 or end
            else:
                break
        span = (mapped(start), mapped(end))
        for number in range(line_index(start) + 1, line_index(end) + 2):
            spans.setdefault(number, span)
    return spans


def replace_span(path: str, start: int, end: int, new_text: str, summary: str) -> Patch | None:
    """Replace the characters ``[start, end)`` of the file at ``path`` with ``new_text``."""
    return edit_span(path, [(start, end, new_text)], summary)


def call_close(path: str, line: int, function: str) -> int | None:
    """The offset of the ``)`` closing the first call of ``function`` that starts on ``line``.

    Quoted literals, quoted identifiers and ``--`` comments inside the call are skipped over.
    """
    text = _source_text(path)
    if text is None:
        return None
    lines = text.splitlines(keepends=True)
    if not 1 <= line <= len(lines):
        return None
    line_start = sum(len(item) for item in lines[: line - 1])
    call = re.compile(re.escape(function) + r"\s*\(", re.IGNORECASE)
    found = call.search(text, line_start, line_start + len(lines[line - 1]))
    if found is None:
        return None
    depth = 0
    index = found.end() - 1
    while index < len(text):
        char = text[index]
        if char in "'\"":
            closing = text.find(char, index + 1)
            if closing < 0:
                return None
            index = closing + 1
            continue
        if text.startswith("--", index):
            index = text.find("\n", index)
            if index < 0:
                return None
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return None


def masked(text: str) -> str:
    """``text`` with ``--`` comments, quoted literals and quoted identifiers blanked (same length), so a
    keyword search finds only code."""
    return _QUOTED_OR_COMMENT.sub(_blanked, text)


# One scan left to right, in the regular expression engine (a loop over every character cost a fifth
# of a second per megabyte): a comment runs to the end of its line, a quoted text to its closing quote
# (a doubled quote closes one text and opens the next, blanked alike), an unclosed one to the end.
_QUOTED_OR_COMMENT = re.compile(r"--[^\n]*|'[^']*'?|\"[^\"]*\"?")
_NOT_NEWLINE = re.compile(r"[^\n]")


def _blanked(match: re.Match[str]) -> str:
    return _NOT_NEWLINE.sub(" ", match.group())


def masked_source(path: str) -> tuple[str, str] | None:
    """The file's text and :func:`masked` of it, each worked out once per version of the file; None when unreadable.

    For searches bounded by a statement's span, which need neither a copy of the text nor of its masking.
    """
    source = _source(path)
    return None if source is None else (source.text, _masked_whole(source.text))


@functools.lru_cache(maxsize=4)
def _masked_whole(text: str) -> str:
    return masked(text)


def edit_span(path: str, edits: Sequence[tuple[int, int, str]], summary: str) -> Patch | None:
    """Apply ``(start, end, new_text)`` edits (character offsets, not overlapping) to the file at ``path``."""
    source = _source(path)
    if source is None:
        return None
    if not edits:
        return None
    starts = source.starts
    size = starts[-1]
    if not all(0 <= start <= end <= size for start, end, _ in edits):
        return None
    # Only the lines the edits touch are rebuilt: splitting the whole file for each finding made
    # patch building grow with findings × file size.
    first = bisect.bisect_right(starts, min(start for start, _, _ in edits)) - 1
    # The stretch runs past the last edit's end, so an edit that takes a newline away joins lines
    # within it, as it would in the whole text.
    last = min(bisect.bisect_right(starts, max(end for _, end, _ in edits)), len(source.lines))
    stretch = "".join(source.lines[first:last])
    offset = starts[first]
    for start, end, replacement in sorted(edits, reverse=True):
        stretch = stretch[: start - offset] + replacement + stretch[end - offset :]
    return _diff_edit(path, source.lines, first, last, stretch=stretch.splitlines(keepends=True), summary=summary)


def _diff_edit(
    path: str, lines: Sequence[str], first: int, last: int, *, stretch: Sequence[str], summary: str
) -> Patch | None:
    """:func:`_diff` of ``lines`` and ``lines`` with ``lines[first:last]`` replaced by ``stretch``, the same bytes,
    without building either whole list: the lines outside the stretch are the same objects on both sides.

    Copying and comparing the whole file for each finding made patch building grow with findings × file size.
    """
    old_size = len(lines)
    new_size = first + len(stretch) + old_size - last

    def new_at(index: int) -> str:
        if index < first:
            return lines[index]
        if index < first + len(stretch):
            return stretch[index - first]
        return lines[index - first - len(stretch) + last]

    # The common head and tail as _diff finds them, starting past the lines known to be the same.
    shortest = min(old_size, new_size)
    head = first
    while head < shortest and lines[head] == new_at(head):
        head += 1
    if head == old_size == new_size:
        return None
    tail = min(old_size - last, shortest - head)
    while tail < shortest - head and lines[old_size - 1 - tail] == new_at(new_size - 1 - tail):
        tail += 1
    start = max(0, head - _CONTEXT)
    old = list(lines[start : old_size - tail + _CONTEXT])
    new = [new_at(index) for index in range(start, min(new_size, new_size - tail + _CONTEXT))]
    return _hunks_text(path, old, new, start, summary)
