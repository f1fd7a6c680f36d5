"""PostgreSQL's text and JSON renderings, byte for byte (DateStyle ISO, TimeZone UTC)."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal
from typing import Any

from bcastsim.db._values import UTC, Json, Jsonb, Record, jsonb_object

__all__ = [
    "cast_to_text",
    "escape_json",
    "json_build_object_text",
    "json_value_text",
    "jsonb_doc",
    "jsonb_text",
    "output_text",
    "row_to_json_text",
]

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPE_TABLE = {ord(k): v for k, v in _ESCAPES.items()}
_ESCAPE_TABLE.update({c: f"\\u{c:04x}" for c in range(0x20) if chr(c) not in _ESCAPES})


def escape_json(text: str) -> str:
    """A JSON string literal as PostgreSQL writes it: control characters as \\u00xx, non-ASCII as is."""
    return '"' + text.translate(_ESCAPE_TABLE) + '"'


def numeric_text(value: Decimal) -> str:
    if value == 0:
        value = abs(value)
    return format(value, "f")


def _fraction(microsecond: int) -> str:
    return f".{microsecond:06d}".rstrip("0") if microsecond else ""


def timestamptz_text(value: dt.datetime) -> str:
    utc = value.astimezone(UTC)
    return f"{utc:%Y-%m-%d %H:%M:%S}{_fraction(utc.microsecond)}+00"


def timestamp_text(value: dt.datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}{_fraction(value.microsecond)}"


def output_text(value: Any) -> str:
    """The type's output function: what ``concat`` and ``format`` use (boolean is ``t``/``f``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "t" if value else "f"
    return _common_text(value)


def float_text(value: float) -> str:
    """real / double precision output: the shortest text that reads back exactly, as PostgreSQL 12+ prints it."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value)) if value or math.copysign(1, value) > 0 else "-0"
    return repr(value)


def cast_to_text(value: Any) -> str:
    """``value::text`` and the ``||`` operator (boolean is ``true``/``false``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return _common_text(value)


def _common_text(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return numeric_text(value)
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return "\\x" + value.hex()  # bytea_output = hex, the default
    if isinstance(value, dt.datetime):
        return timestamptz_text(value) if value.tzinfo else timestamp_text(value)
    if isinstance(value, Json):
        return value.text
    if isinstance(value, Jsonb):
        return jsonb_text(value.doc)
    if isinstance(value, Record):
        return record_text(value)
    raise TypeError(f"no text output for {type(value).__name__}")


def record_text(record: Record) -> str:
    """``record_out`` (rowtypes.c): a field is quoted when empty or holding ``" \\ ( ) ,`` or C's isspace."""
    parts = []
    for value in record.values:
        if value is None:
            parts.append("")
            continue
        text = output_text(value)
        if text == "" or any(c in text for c in '",()\\ \t\n\r\v\f'):
            text = '"' + text.replace("\\", "\\\\").replace('"', '""') + '"'
        parts.append(text)
    return "(" + ",".join(parts) + ")"


def _json_datetime(value: dt.datetime) -> str:
    if value.tzinfo:
        utc = value.astimezone(UTC)
        return f"{utc:%Y-%m-%dT%H:%M:%S}{_fraction(utc.microsecond)}+00:00"
    return f"{value:%Y-%m-%dT%H:%M:%S}{_fraction(value.microsecond)}"


def json_value_text(value: Any) -> str:
    """``to_json(value)::text`` as ``json_build_object`` embeds it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return numeric_text(value)
    if isinstance(value, dt.datetime):
        return '"' + _json_datetime(value) + '"'
    if isinstance(value, Json):
        return value.text
    if isinstance(value, Jsonb):
        return jsonb_text(value.doc)
    if isinstance(value, Record):
        return row_to_json_text(value)
    return escape_json(output_text(value))


def row_to_json_text(record: Record) -> str:
    inner = ",".join(
        escape_json(name) + ":" + json_value_text(value)
        for name, value in zip(record.columns, record.values, strict=True)
    )
    return "{" + inner + "}"


def json_build_object_text(pairs: list[tuple[str, Any]]) -> str:
    if not pairs:
        return "{}"
    return "{" + ", ".join(escape_json(k) + " : " + json_value_text(v) for k, v in pairs) + "}"


def jsonb_doc(value: Any) -> Any:
    """``to_jsonb(value)``: the document a value becomes inside jsonb."""
    from bcastsim.db._values import parse_json_document

    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, dt.datetime):
        return _json_datetime(value)
    if isinstance(value, Json):
        return parse_json_document(value.text)
    if isinstance(value, Jsonb):
        return value.doc
    if isinstance(value, Record):
        return jsonb_object([(k, jsonb_doc(v)) for k, v in zip(value.columns, value.values, strict=True)])
    return output_text(value)


def jsonb_text(doc: Any) -> str:
    """jsonb's output function: ``{"a": 1, "b": [1, 2]}``."""
    if doc is None:
        return "null"
    if isinstance(doc, bool):
        return "true" if doc else "false"
    if isinstance(doc, Decimal):
        return numeric_text(doc)
    if isinstance(doc, str):
        return escape_json(doc)
    if isinstance(doc, dict):
        return "{" + ", ".join(escape_json(k) + ": " + jsonb_text(v) for k, v in doc.items()) + "}"
    if isinstance(doc, list):
        return "[" + ", ".join(jsonb_text(v) for v in doc) + "]"
    raise TypeError(f"not a jsonb document: {type(doc).__name__}")
