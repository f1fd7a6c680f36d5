"""A patch deep in a long file carries the whole file's line numbers, as a diff of all of it would."""

from __future__ import annotations

import difflib
import shutil
import subprocess
from pathlib import Path

import pytest

from bcastsim.review._fixes import _diff, edit_span, insert_after, replace_lines

LINES = [f"SELECT {n};\n" for n in range(1, 401)]


def _whole_file_diff(path: Path, new_text: str) -> str:
    old = path.read_text().splitlines(keepends=True)
    new = new_text.splitlines(keepends=True)
    return "".join(difflib.unified_diff(old, new, fromfile=f"a/{path}", tofile=f"b/{path}", n=2))


@pytest.mark.parametrize("line", [1, 2, 3, 200, 398, 399, 400])
def test_span_edit_matches_a_whole_file_diff(tmp_path: Path, line: int) -> None:
    """An edit of a span that takes a line's newline away is the diff of the whole edited file."""
    path = tmp_path / "f.sql"
    text = "".join(LINES)
    path.write_text(text)
    start = sum(len(item) for item in LINES[: line - 1]) + len("SELECT ")
    end = sum(len(item) for item in LINES[:line])  # through the newline: joins the next line
    patch = edit_span(str(path), [(start, end, "0; ")], "edit")
    assert patch is not None
    assert patch.diff == _whole_file_diff(path, text[:start] + "0; " + text[end:])


def test_inserted_and_replaced_lines_apply_with_patch(tmp_path: Path) -> None:
    """Inserting after line 300 and replacing lines 10–12 give diffs patch(1) applies to the intended text."""
    if shutil.which("patch") is None:
        pytest.skip("patch(1) is not installed: apt-get install patch")
    path = tmp_path / "f.sql"
    path.write_text("".join(LINES))
    for patch, expected in (
        (insert_after(str(path), 300, ["SELECT 'new';"], "insert"), [*LINES[:300], "SELECT 'new';\n", *LINES[300:]]),
        (replace_lines(str(path), 10, 12, ["SELECT 'x';"], "replace"), [*LINES[:9], "SELECT 'x';\n", *LINES[12:]]),
    ):
        assert patch is not None
        target = tmp_path / "copy.sql"
        target.write_text("".join(LINES))
        subprocess.run(["patch", "--quiet", str(target)], input=patch.diff, text=True, check=True)
        assert target.read_text() == "".join(expected)


REPEATED = ["x\n", *["a\n"] * 5, "y\n", *["a\n"] * 3, "z\n", "a\n"]


def test_span_edits_among_repeated_lines_give_the_whole_list_diff(tmp_path: Path) -> None:
    """Inserting, deleting or rewriting each line among repeated lines gives _diff's bytes of the whole lists."""
    path = tmp_path / "f.sql"
    text = "".join(REPEATED)
    path.write_text(text)
    starts = [sum(len(line) for line in REPEATED[:index]) for index in range(len(REPEATED) + 1)]
    checked = 0
    for index in range(len(REPEATED)):
        begin, end = starts[index], starts[index + 1]
        for start, stop, replacement in (
            (begin, begin, "a\n"),  # a line like its neighbours, inserted
            (begin, end, ""),  # the line deleted
            (begin, end, REPEATED[index]),  # rewritten as it was: no change
            (begin, begin + 1, "a"),  # one character rewritten
            (begin, end, "a\na\n"),  # one line become two
        ):
            edited = text[:start] + replacement + text[stop:]
            expected = _diff(str(path), list(REPEATED), edited.splitlines(keepends=True), "edit")
            patch = edit_span(str(path), [(start, stop, replacement)], "edit")
            assert (patch.diff if patch else None) == (expected.diff if expected else None), (index, replacement)
            checked += expected is not None
    assert checked > 3 * len(REPEATED)
