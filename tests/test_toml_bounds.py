"""TOML inputs are read within bounds: depth and size are checked in one pass before tomllib sees the text."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcastsim._errors import InputError
from bcastsim._toml import MAX_TOML_DEPTH, line_of, read_toml, toml_depth


def test_depth_counts_arrays_inline_tables_and_dotted_keys() -> None:
    """[[1]] is 2 deep, {a = {b = 1}} is 2, a.b.c = 1 is 2; brackets in strings and comments do not count."""
    assert toml_depth("x = [[1]]\n")[0] == 2
    assert toml_depth("x = {a = {b = 1}}\n")[0] == 2
    assert toml_depth("a.b.c = 1\n")[0] == 2
    assert toml_depth('x = "[[[[[[" # {{{{{{\ny = \'[[[\'\nz = """\n[[[[\n"""\n')[0] == 0


def test_too_deep_is_one_input_error_with_its_line(tmp_path: Path) -> None:
    """An array nested 1,000 deep is refused before tomllib recurses, naming the line."""
    path = tmp_path / "deep.toml"
    path.write_text("ok = 1\nx = " + "[" * 1000 + "]" * 1000 + "\n")
    with pytest.raises(InputError, match=f"nested 1000 levels deep.*up to {MAX_TOML_DEPTH}") as error:
        read_toml(path, "scenario")
    assert error.value.line == 2


def test_line_of_finds_keys_and_headers_from_its_index() -> None:
    """Keys inside a table, headers, keys anywhere and missing tables, as the line-by-line scan found them."""
    text = "".join(f'[p{i}]\nextends = "p{i - 1}"\n' for i in range(3000))
    assert line_of(text, "p1500", "extends") == 3002
    assert line_of(text, "p7", "") == 15
    assert line_of(text, None, "extends") == 2
    assert line_of(text, "missing", "") is None
