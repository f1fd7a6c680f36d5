"""Worst-case widths of PostgreSQL values as text and JSON."""

from __future__ import annotations

import contextlib
import json

from hypothesis import given
from hypothesis import strategies as st

from bcastsim.sqlmodel._sizes import json_string_bytes, json_text_bytes, type_width


def test_uuid_and_times_are_fixed_width() -> None:
    """uuid renders in 36 characters, quoted in JSON; timestamptz at most 38 (BC year, LMT offset, µs)."""
    assert type_width("uuid").json_bytes == 38
    assert type_width("uuid").text_bytes == 36
    # "4713-01-01T00:00:00.123456-04:56:02 BC" as PostgreSQL 15 writes it in JSON
    assert type_width("timestamptz").text_bytes == len("4713-01-01T00:00:00.123456-04:56:02 BC")
    assert type_width("timestamptz").json_bytes == type_width("timestamptz").text_bytes + 2  # type: ignore[operator]


def test_numeric_width_follows_precision_and_scale() -> None:
    """numeric(p, s) is bounded by sign, digits and point; unconstrained numeric is unbounded."""
    assert type_width("numeric", (10, 2)).json_bytes == len("-99999999.99")
    assert type_width("numeric", (2, 2)).json_bytes == len("-0.99")
    # NaN is allowed in numeric(p, s) and renders as the JSON string "NaN"
    assert type_width("numeric", (3,)).json_bytes == max(len("-999"), len('"NaN"'))
    assert type_width("numeric", (1,)).json_bytes == len('"NaN"')
    width = type_width("numeric")
    assert width.json_bytes is None
    assert width.reason
    assert "precision" in width.reason


def test_varchar_worst_case_is_escaped_control_characters() -> None:
    """varchar(n): up to 4n bytes stored, 6n + 2 in JSON (each control character becomes \\u00XX)."""
    width = type_width("varchar", (32,))
    assert width.text_bytes == 4 * 32
    assert width.json_bytes == 6 * 32 + 2
    assert type_width("varchar").json_bytes is None
    assert type_width("text").reason == "text has no length limit"


def test_integers_and_booleans() -> None:
    """Integer widths are their most negative values; boolean at most `false`."""
    assert type_width("integer").json_bytes == len(str(-(2**31)))
    assert type_width("bigint").json_bytes == len(str(-(2**63)))
    assert type_width("smallint").json_bytes == len(str(-(2**15)))
    assert type_width("boolean").json_bytes == len("false")


@given(st.text())
def test_json_text_bytes_matches_escaping(text: str) -> None:
    """json_text_bytes equals the size of the JSON string PostgreSQL writes (same escapes as json.dumps)."""
    rendered = json.dumps(text, ensure_ascii=False)
    # PostgreSQL never writes \u escapes for characters json.dumps leaves raw; surrogates aside
    try:
        expected = len(rendered.encode())
    except UnicodeEncodeError:
        return
    assert json_text_bytes(text) == expected


@given(st.text(max_size=40), st.integers(min_value=40, max_value=100))
def test_string_bound_covers_any_string_of_that_length(text: str, chars: int) -> None:
    """Any string of at most n characters fits in json_string_bytes(n, ...)."""
    bound = json_string_bytes(chars, 4 * chars, escape_safe=False)
    assert bound is not None
    with contextlib.suppress(UnicodeEncodeError):
        assert json_text_bytes(text) <= bound


def test_bounds_from_checks_domains_enums_and_builtins() -> None:
    """CHECK (char_length), domains, enums, varchar through casts and ||, txid_current() and names bound sizes."""
    from pathlib import Path

    from bcastsim.sqlmodel import load_catalog

    catalog = load_catalog(Path(__file__).parent / "fixtures" / "sql" / "readable" / "bounds.sql")
    (site,) = catalog.notify_sites
    sizes = {field.key: field.max_bytes for field in site.payload or ()}
    assert sizes == {
        "name": 6 * 127 + 2,
        "nick": 6 * 20 + 2,
        "mood": 6 * 5 + 2,
        "tx": 20,
        "schema": 6 * 63 + 2,
        "body": 6 * 100 + 2,
    }
    assert site.max_payload_bytes is not None
    assert site.channel.max_bytes == 2 + 4 * 30
    body = catalog.tables["q"].column("body")
    assert body is not None
    assert body.not_null
