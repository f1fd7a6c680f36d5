"""A call's arguments are read as written, every call of an expression in one scan, as one call at a time reads them."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from bcastsim.sqlmodel._lineage import arg_texts, call_arg_texts

# What the scan reacts to, and enough else to make names, spaces and lines between them.
_QUERY_CHARS = st.sampled_from(list("'\"()[],-\n ab"))


def _read_a_character_at_a_time(query: str, offset: int) -> list[str] | None:
    """The oracle: the arguments of the call at ``offset``, stepping through every character.

    A quote doubled inside a string stays in it, a string left open runs to the end, ``--`` to the
    end of its line; a group never closed has no arguments.
    """
    index = query.find("(", offset)
    if index < 0:
        return None
    depth, begun, parts, i = 0, index + 1, [], index
    while i < len(query):
        char = query[i]
        if char in "'\"":
            i += 1
            while i < len(query) and not (query[i] == char and query[i + 1 : i + 2] != char):
                i += 2 if query[i] == char else 1
        elif query.startswith("--", i):
            newline = query.find("\n", i)
            i = len(query) if newline < 0 else newline
            continue
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
            if depth == 0:
                tail = query[begun:i].strip()
                return [" ".join(part.split()) for part in [*parts, tail]] if tail or parts else []
        elif char == "," and depth == 1:
            parts.append(query[begun:i].strip())
            begun = i + 1
        i += 1
    return None


@given(st.text(_QUERY_CHARS, max_size=40))
@example("f('it''s', 'a'''), g(x)")
@example("f(a, 'open")
@example('f("a""b", c -- d, e\n, g)')
def test_a_call_reads_as_stepping_through_every_character(query: str) -> None:
    """Every call's arguments are what stepping through the text a character at a time gives."""
    for offset in range(len(query) + 1):
        assert arg_texts(query, offset) == _read_a_character_at_a_time(query, offset), offset


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
