"""``inspect --format json`` is written as it is produced: the same bytes as the whole document, never held whole."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bcastsim._commands import inspect as inspect_command
from bcastsim._io import json_text
from bcastsim._resources import builtin_sql_dir
from bcastsim.sqlmodel import load_catalog

SHOP = Path(__file__).resolve().parents[1] / "examples" / "shop" / "db"
INSPECT_FIXTURES = Path(__file__).parent / "fixtures" / "sql" / "inspect"


@pytest.mark.parametrize(
    "paths",
    [[builtin_sql_dir()], [SHOP], [INSPECT_FIXTURES / "flow.sql"]],
    ids=["seed", "shop", "flow"],
)
@pytest.mark.parametrize("graph", [False, True], ids=["plain", "graph"])
def test_streamed_json_is_the_document(paths: list[Path], graph: bool) -> None:
    """The streamed text is byte for byte json_text of the whole document, with and without --graph."""
    catalog = load_catalog(paths)
    out = io.StringIO()
    inspect_command.write_json(catalog, out, include_graph=graph)
    assert out.getvalue() == json_text(inspect_command.document(catalog, include_graph=graph))


def test_empty_sections_stream_as_empty_lists() -> None:
    """A file with a table and nothing else streams `[]` for its empty sections, like the document."""
    catalog = load_catalog(INSPECT_FIXTURES / "table_only.sql")
    out = io.StringIO()
    inspect_command.write_json(catalog, out)
    assert '"notify_sites": []' in out.getvalue()
    assert '"diagnostics": []' in out.getvalue()
    assert out.getvalue() == json_text(inspect_command.document(catalog))


def test_sites_are_written_before_the_last_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the last notify site is turned into JSON, the earlier ones are already in the output."""
    catalog = load_catalog([builtin_sql_dir()])
    out = io.StringIO()
    written_before: list[int] = []
    site_json = inspect_command._site_json

    def spy(site: object) -> object:
        written_before.append(out.getvalue().count('"transport":'))
        return site_json(site)  # type: ignore[arg-type]

    monkeypatch.setattr(inspect_command, "_site_json", spy)
    inspect_command.write_json(catalog, out)
    assert len(written_before) == len(catalog.notify_sites) > 1
    assert written_before == list(range(len(written_before)))


_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text()
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_VALUES, st.integers(min_value=0, max_value=3))
@example([float("nan"), {"x": float("-inf"), "y": 1.5e300}, (), {}], 1)
@example([1e-05, 2.2e-09, -3.5e-7, 1e-10, 0.0001, 5e-324], 2)
@example({"big": 2**70, "text": "1e-5 and 0.00001", "lone": "\ud800", "nested": [{"a": -(2**64)}]}, 1)
def test_encoding_is_the_standard_librarys(value: object, depth: int) -> None:
    """Any JSON value is encoded as json_text encodes it (NaN and infinities as null), at any depth."""
    expected = json_text(value).removesuffix("\n").replace("\n", "\n" + "  " * depth)
    assert inspect_command._encoded(value, depth) == expected


def test_keys_that_are_not_strings_are_encoded_as_json_does() -> None:
    """A dict with an int, float, bool or None key is written as json.dumps writes it."""
    value = {1: "a", 2.5: [True], None: {}, False: []}
    assert inspect_command._encoded(value, 1) == json_text(value).removesuffix("\n").replace("\n", "\n  ")
