"""A call's arguments are read as written, every call of an expression in one scan, as one call at a time reads them."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from bcastsim.sqlmodel._lineage import arg_texts, call_arg_texts

# What the scan reacts to, and enough else to make names, spaces and lines between them.
_QUERY_CHARS = st.sampled_from(list("'\"()[],-\n ab"))


@given(st.text(_QUERY_CHARS, max_size=40))
@example("SELECT pg_notify('c', json_build_object('k', f(1, 'a,b'), 'x', NEW.x)::text)")
@example("f('it''s', \"a\"\"b\", g(x -- a ) comment\n, y), [1, 2])")
@example("f(a, ) ) g(")
def test_one_scan_reads_every_call_as_one_call_at_a_time(query: str) -> None:
    """For every opening bracket the one scan found closed, its arguments are those ``arg_texts`` reads from there."""
    groups = call_arg_texts(query)
    for offset, char in enumerate(query):
        if char == "(" and offset in groups:
            assert groups[offset] == arg_texts(query, offset)


def test_nested_calls_and_quoted_commas() -> None:
    """The outer call's arguments hold the inner call whole; a comma in a string or comment splits nothing."""
    query = "SELECT pg_notify('c,d', json_build_object('k', f(1, 2), 'v', NEW.v -- x, y\n)::text)"
    groups = call_arg_texts(query)
    assert groups[query.index("(")] == [
        "'c,d'",
        "json_build_object('k', f(1, 2), 'v', NEW.v -- x, y )::text",
    ]
    assert groups[query.index("(", query.index("json"))] == ["'k'", "f(1, 2)", "'v'", "NEW.v -- x, y"]
    assert groups[query.index("f(") + 1] == ["1", "2"]
