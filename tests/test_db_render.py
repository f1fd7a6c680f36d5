"""PostgreSQL's text and JSON renderings as the database model produces them."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bcastsim.db import Json, Jsonb, cast_to_text, escape_json, json_value_text, jsonb_text, output_text
from bcastsim.db._eval import _fn_json_build_object, _fn_jsonb_build_object
from bcastsim.db._values import coerce_to_type, parse_json_document
from bcastsim.pg import Database

UTC = dt.UTC


def _json_object(*args: Any) -> str:
    result = _fn_json_build_object(None, list(args))  # type: ignore[arg-type]
    assert isinstance(result, Json)
    return result.text


def _jsonb_object(*args: Any) -> str:
    result = _fn_jsonb_build_object(None, list(args))  # type: ignore[arg-type]
    assert isinstance(result, Jsonb)
    return jsonb_text(result.doc)


def test_json_build_object_spacing_differs_from_jsonb() -> None:
    """json_build_object writes `{"a" : 1}`; jsonb writes `{"a": 1}` with keys by length then bytes."""
    assert _json_object("b", 1, "a", None) == '{"b" : 1, "a" : null}'
    assert _jsonb_object("bbb", 1, "a", 2, "cc", 3, "a", 4) == '{"a": 4, "cc": 3, "bbb": 1}'


def test_numeric_keeps_its_scale() -> None:
    """numeric(10,2) 5 renders as 5.00 in text and in JSON; -0 has no sign."""
    five = coerce_to_type(5, "numeric", (10, 2))
    assert cast_to_text(five) == "5.00"
    assert json_value_text(five) == "5.00"
    assert cast_to_text(Decimal("-0.00")) == "0.00"


def test_timestamptz_text_and_json_forms() -> None:
    """timestamptz is `2025-08-17 19:00:00.12+00` as text and `"2025-08-17T19:00:00.12+00:00"` in JSON."""
    moment = dt.datetime(2025, 8, 17, 19, 0, 0, 120000, tzinfo=UTC)
    assert cast_to_text(moment) == "2025-08-17 19:00:00.12+00"
    assert json_value_text(moment) == '"2025-08-17T19:00:00.12+00:00"'
    assert json_value_text(moment.replace(microsecond=0)) == '"2025-08-17T19:00:00+00:00"'


def test_boolean_output_versus_cast() -> None:
    """concat() uses boolean's output function (`t`), `::text` and `||` spell it out (`true`)."""
    assert output_text(True) == "t"
    assert cast_to_text(True) == "true"
    assert json_value_text(False) == "false"


def test_json_escaping_of_control_and_non_ascii_characters() -> None:
    """Control characters become \\u00xx (lower-case hex), quotes and backslashes are escaped, é and 😀 stay."""
    assert escape_json('q"\\\n\t\x01\x1fé😀\x7f') == '"q\\"\\\\\\n\\t\\u0001\\u001fé😀\x7f"'


def test_jsonb_parse_keeps_number_text_and_last_duplicate() -> None:
    """Casting json to jsonb keeps 2.50 as 2.50, turns 1e2 into 100 and keeps the last duplicate key."""
    doc = parse_json_document('{"b": 1, "a": 2.50, "n": 1e2, "b": [true, null]}')
    assert jsonb_text(doc) == '{"a": 2.50, "b": [true, null], "n": 100}'


_texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)
_numerics = st.decimals(min_value=-(10**7), max_value=10**7, places=3, allow_nan=False, allow_infinity=False)
_moments = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2090, 1, 1), timezones=st.just(UTC))
_values = st.one_of(
    _texts.map(lambda v: (v, "text")),
    _numerics.map(lambda v: (v, "numeric")),
    _moments.map(lambda v: (v, "timestamptz")),
    st.integers(-(2**31), 2**31 - 1).map(lambda v: (v, "integer")),
    st.booleans().map(lambda v: (v, "boolean")),
    st.uuids().map(lambda v: (v, "uuid")),
    st.none().map(lambda v: (v, "text")),
)


@pytest.mark.postgres
@settings(max_examples=60)
@given(pairs=st.lists(_values, min_size=1, max_size=4))
def test_rendering_matches_postgres(bcastsim_shared_db: Database, pairs: list[tuple[Any, str]]) -> None:
    """json_build_object, jsonb_build_object, concat and ::text render values byte for byte as PostgreSQL does."""
    params: list[Any] = []
    args = []
    for index, (value, type_name) in enumerate(pairs):
        args.append(f"'k{index}', %s::{type_name}")
        params.append(str(value) if isinstance(value, (uuid.UUID, Decimal)) else value)
    arg_sql = ", ".join(args)
    casts = ", ".join(f"%s::{t}::text" for _, t in pairs)
    rows = bcastsim_shared_db.execute(
        f"SELECT json_build_object({arg_sql})::text, jsonb_build_object({arg_sql})::text,"
        f" concat({', '.join(f'%s::{t}' for _, t in pairs)}), ARRAY[{casts}]",
        [*params, *params, *params, *params],
    )
    assert rows is not None
    json_text, jsonb_out, concat_text, texts = rows[0]
    values = [coerce_to_type(str(v) if isinstance(v, (uuid.UUID, Decimal)) else v, t) for v, t in pairs]
    flat: list[Any] = []
    for index, value in enumerate(values):
        flat += [f"k{index}", value]
    assert _json_object(*flat) == json_text
    assert _jsonb_object(*flat) == jsonb_out
    assert "".join(output_text(v) for v in values if v is not None) == concat_text
    assert [None if v is None else cast_to_text(v) for v in values] == texts
