"""SQL values as Python objects, type input and assignment coercion.

A value's Python type is its SQL type: ``None`` is NULL, ``str`` text/varchar,
``bool`` boolean, ``int`` integer/bigint, ``Decimal`` numeric (the exponent is
the scale, as PostgreSQL keeps it), ``uuid.UUID`` uuid, an aware ``datetime``
timestamptz (always UTC: the model pins ``TimeZone=UTC``), a naive one
timestamp, :class:`Json` json (the exact text) and :class:`Jsonb` jsonb.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import struct
import uuid
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypeAlias

import attrs

__all__ = [
    "UTC",
    "DatabaseError",
    "Json",
    "Jsonb",
    "Record",
    "Value",
    "coerce_to_type",
    "enum_labels",
    "enum_type",
    "parse_json_document",
    "reject_unencodable",
]

UTC = dt.UTC

_INT4_MIN, _INT4_MAX = -(2**31), 2**31 - 1
_INT8_MIN, _INT8_MAX = -(2**63), 2**63 - 1


class DatabaseError(Exception):
    """An error PostgreSQL would raise, identified by its SQLSTATE."""

    def __init__(self, sqlstate: str, message: str) -> None:
        super().__init__(f"{sqlstate}: {message}")
        self.sqlstate = sqlstate
        self.message = message


@attrs.frozen
class Json:
    """A ``json`` value: PostgreSQL keeps json as the text it was built from."""

    text: str


@attrs.frozen
class Jsonb:
    """A ``jsonb`` value: a normalised document (objects are dicts in jsonb key order)."""

    doc: Any


@attrs.frozen
class Record:
    """A table row seen by a trigger (``NEW``/``OLD``) or a query: column order matters for rendering."""

    table: str
    columns: tuple[str, ...]
    values: tuple[Any, ...]

    def get(self, name: str) -> Any:
        try:
            return self.values[self.columns.index(name)]
        except ValueError:
            raise DatabaseError("42703", f'record "{self.table}" has no field "{name}"') from None

    def as_dict(self) -> dict[str, Any]:
        return dict(zip(self.columns, self.values, strict=True))


Value: TypeAlias = Any

_UUID_RE = re.compile(r"^\{?([0-9a-fA-F]{4}-?){7}[0-9a-fA-F]{4}\}?$")
_TS_RE = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?"
    r"\s*(Z|[+-]\d{1,2}(?::?\d{2})?)?\s*$"
)
_INT_RE = re.compile(r"^\s*[+-]?\d+\s*$")
_NUM_RE = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
_BOOL_TRUE = ("t", "tr", "tru", "true", "y", "ye", "yes", "on", "1")
_BOOL_FALSE = ("f", "fa", "fal", "fals", "false", "n", "no", "of", "off", "0")


def _invalid(type_label: str, text: str) -> DatabaseError:
    return DatabaseError("22P02", f'invalid input syntax for type {type_label}: "{text}"')


def parse_uuid(text: str) -> uuid.UUID:
    if not _UUID_RE.match(text):
        raise _invalid("uuid", text)
    return uuid.UUID(text.strip("{}").replace("-", ""))


def parse_timestamp(text: str, *, with_tz: bool) -> dt.datetime:
    match = _TS_RE.match(text)
    label = "timestamp with time zone" if with_tz else "timestamp without time zone"
    if not match:
        raise _invalid(label, text)
    year, month, day, hour, minute, second, frac, zone = match.groups()
    try:
        value = dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((frac or "0").ljust(6, "0")),
        )
    except ValueError:
        raise DatabaseError("22008", f'date/time field value out of range: "{text}"') from None
    offset = dt.timedelta(0)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        hours = int(digits[:-2]) if len(digits) > 2 else int(digits)
        minutes = int(digits[-2:]) if len(digits) > 2 else 0
        offset = sign * dt.timedelta(hours=hours, minutes=minutes)
    if with_tz:
        return (value - offset).replace(tzinfo=UTC)
    return value


def parse_bool(text: str) -> bool:
    folded = text.strip().lower()
    if folded in _BOOL_TRUE:
        return True
    if folded in _BOOL_FALSE:
        return False
    raise _invalid("boolean", text)


def parse_numeric(text: str) -> Decimal:
    if not _NUM_RE.match(text):
        raise _invalid("numeric", text)
    value = Decimal(text.strip())
    if value.as_tuple().exponent > 0:  # type: ignore[operator]
        value = value.quantize(Decimal(1))
    return value


_INT_RANGES = {
    "bigint": (_INT8_MIN, _INT8_MAX),
    "integer": (_INT4_MIN, _INT4_MAX),
    "smallint": (-(2**15), 2**15 - 1),
}
_INT_NAMES = {"int8": "bigint", "int4": "integer", "int": "integer", "int2": "smallint"}


def _check_int(value: int, type_name: str) -> int:
    name = _INT_NAMES.get(type_name, type_name)
    low, high = _INT_RANGES.get(name, _INT_RANGES["integer"])
    if not low <= value <= high:
        raise DatabaseError("22003", f"{name} out of range")
    return value


def apply_numeric_typmod(value: Decimal, modifiers: tuple[int, ...]) -> Decimal:
    """Round to the declared scale (half away from zero) and check the precision, as numeric(p, s) does."""
    if not modifiers:
        return value
    precision = modifiers[0]
    scale = modifiers[1] if len(modifiers) > 1 else 0
    rounded = value.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    if rounded != 0 and rounded.adjusted() >= precision - scale:
        raise DatabaseError(
            "22003",
            "numeric field overflow",
        )
    return rounded


def _pair_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return jsonb_object(pairs)


def jsonb_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A jsonb object: later duplicate keys win, keys ordered by length and then bytes."""
    merged: dict[str, Any] = {}
    for key, value in pairs:
        merged[key] = value
    return {key: merged[key] for key in sorted(merged, key=lambda k: (len(k.encode()), k.encode()))}


def parse_json_document(text: str, *, type_label: str = "json") -> Any:
    """Parse JSON text into a jsonb document; numbers keep their scale as numeric does."""
    try:
        return json.loads(
            text,
            parse_float=parse_numeric,
            parse_int=parse_numeric,
            parse_constant=_reject_constant,
            object_pairs_hook=_pair_hook,
        )
    except (ValueError, InvalidOperation, DatabaseError):
        raise _invalid(type_label, text) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _datatype_mismatch(type_name: str, value: Any) -> DatabaseError:
    return DatabaseError("42804", f"column is of type {type_name} but expression is of type {type(value).__name__}")


_FLOAT_TYPES = {"real": "real", "float4": "real", "double precision": "double precision", "float8": "double precision"}
_ENUM_PREFIX = "enum:"
_LABEL_SEPARATOR = "\x1f"


def enum_type(name: str, labels: Sequence[str]) -> str:
    """The model's type name for an enum: its name and labels travel with every column of that type."""
    return f"{_ENUM_PREFIX}{name}:" + _LABEL_SEPARATOR.join(labels)


def enum_labels(type_name: str) -> tuple[str, tuple[str, ...]] | None:
    """``(name, labels)`` of a type name made by :func:`enum_type`, else None."""
    if not type_name.startswith(_ENUM_PREFIX):
        return None
    name, _, labels = type_name[len(_ENUM_PREFIX) :].partition(":")
    return name, tuple(labels.split(_LABEL_SEPARATOR))


def parse_bytea(text: str) -> bytes:
    """bytea input: hex (``\\x0a0b``, whitespace between pairs) or escape format (``\\\\``, ``\\ooo``)."""
    if text.startswith("\\x"):
        digits = "".join(text[2:].split())
        if len(digits) % 2:
            raise DatabaseError("22023", "invalid hexadecimal data: odd number of digits")
        for digit in digits:
            if digit not in "0123456789abcdefABCDEF":
                raise DatabaseError("22023", f'invalid hexadecimal digit: "{digit}"')
        return bytes.fromhex(digits)
    out = bytearray()
    position = 0
    while position < len(text):
        character = text[position]
        if character != "\\":
            out += character.encode("utf-8")
            position += 1
        elif text[position + 1 : position + 2] == "\\":
            out.append(0x5C)
            position += 2
        elif re.fullmatch(r"[0-3][0-7][0-7]", text[position + 1 : position + 4]):
            out.append(int(text[position + 1 : position + 4], 8))
            position += 4
        else:
            raise DatabaseError("22P02", "invalid input syntax for type bytea")
    return bytes(out)


def reject_unencodable(text: str) -> None:
    """Refuse what a UTF-8 server cannot receive, as PostgreSQL does: NUL and lone surrogates are 22021."""
    for character in text:
        if character == "\x00" or "\ud800" <= character <= "\udfff":
            raise DatabaseError("22021", f'invalid byte sequence for encoding "UTF8": {_utf8_bytes(character)}')


def _utf8_bytes(character: str) -> str:
    raw = character.encode("utf-8", "surrogatepass")
    return " ".join(f"0x{byte:02x}" for byte in raw)


_INTERVAL_UNITS = {
    "microsecond": dt.timedelta(microseconds=1), "millisecond": dt.timedelta(milliseconds=1),
    "second": dt.timedelta(seconds=1), "sec": dt.timedelta(seconds=1), "minute": dt.timedelta(minutes=1),
    "min": dt.timedelta(minutes=1), "hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1),
    "week": dt.timedelta(weeks=1),
}  # fmt: skip
_INTERVAL_PART = re.compile(r"\s*([+-]?\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*(?=[+-]?\d|$)")


def parse_interval(text: str) -> dt.timedelta:
    """``'1 millisecond'``, ``'2 hours 30 minutes'``: fixed-length units (months and years vary: not modelled)."""
    from bcastsim._errors import UnsupportedError

    lowered = text.strip().lower()
    total = dt.timedelta(0)
    position = 0
    for match in _INTERVAL_PART.finditer(lowered):
        if match.start() != position:
            break
        unit = _INTERVAL_UNITS.get(match.group(2))
        if unit is None:
            if match.group(2) in {"mon", "month", "year", "decade", "century", "millennium"}:
                raise UnsupportedError(f"interval in {match.group(2)}s")
            break
        micros = (unit // dt.timedelta(microseconds=1)) * Decimal(match.group(1))
        total += dt.timedelta(microseconds=int(micros.to_integral_value(rounding=ROUND_HALF_UP)))
        position = match.end()
    if position != len(lowered) or not lowered:
        if re.fullmatch(r"[\d:.\s-]+", lowered):
            raise UnsupportedError("interval in hh:mm:ss form")
        raise DatabaseError("22007", f'invalid input syntax for type interval: "{text}"')
    return total


def coerce_to_type(value: Any, type_name: str, modifiers: tuple[int, ...] = (), *, explicit: bool = False) -> Any:
    """Convert a value to a column or variable type the way an assignment (or an explicit cast) does."""
    from bcastsim.db._render import cast_to_text

    if value is None:
        return None
    enum = enum_labels(type_name)
    if enum is not None:
        text = value if isinstance(value, str) else cast_to_text(value)
        if text not in enum[1]:
            raise DatabaseError("22P02", f'invalid input value for enum {enum[0]}: "{text}"')
        return text
    if type_name in ("text", "varchar", "character varying", "char", "bpchar", "name"):
        text = value if isinstance(value, str) else cast_to_text(value)
        if type_name in ("varchar", "character varying") and modifiers and len(text) > modifiers[0]:
            limit = modifiers[0]
            if explicit or text[limit:].strip(" ") == "":
                return text[:limit]
            raise DatabaseError("22001", f"value too long for type character varying({limit})")
        return text
    if type_name == "uuid":
        if isinstance(value, uuid.UUID):
            return value
        if isinstance(value, str):
            return parse_uuid(value)
        raise _datatype_mismatch(type_name, value)
    if type_name in ("integer", "int", "int4", "bigint", "int8", "smallint", "int2"):
        if isinstance(value, bool):
            raise _datatype_mismatch(type_name, value)
        name = _INT_NAMES.get(type_name, type_name)
        if isinstance(value, int):
            return _check_int(value, name)
        if isinstance(value, Decimal):
            return _check_int(int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP)), name)
        if isinstance(value, str):
            if not _INT_RE.match(value):
                raise _invalid(name, value)
            return _check_int(int(value), name)
        raise _datatype_mismatch(type_name, value)
    if type_name in _FLOAT_TYPES:
        if isinstance(value, bool):
            raise _datatype_mismatch(type_name, value)
        if isinstance(value, int | float | Decimal):
            floating = float(value)
        elif isinstance(value, str):
            try:
                floating = float(value.strip())
            except ValueError:
                raise DatabaseError(
                    "22P02", f'invalid input syntax for type {_FLOAT_TYPES[type_name]}: "{value}"'
                ) from None
        else:
            raise _datatype_mismatch(type_name, value)
        # real keeps single precision: round-trip through a 32-bit float
        return struct.unpack("f", struct.pack("f", floating))[0] if _FLOAT_TYPES[type_name] == "real" else floating
    if type_name in ("numeric", "decimal"):
        if isinstance(value, bool):
            raise _datatype_mismatch(type_name, value)
        if isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, Decimal):
            number = value
        elif isinstance(value, str):
            number = parse_numeric(value)
        else:
            raise _datatype_mismatch(type_name, value)
        return apply_numeric_typmod(number, modifiers)
    if type_name in ("boolean", "bool"):
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return parse_bool(value)
        raise _datatype_mismatch(type_name, value)
    if type_name == "interval":
        if isinstance(value, dt.timedelta):
            return value
        if isinstance(value, str):
            return parse_interval(value)
        raise _datatype_mismatch(type_name, value)
    if type_name in ("timestamptz", "timestamp with time zone"):
        if isinstance(value, dt.datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, str):
            return parse_timestamp(value, with_tz=True)
        raise _datatype_mismatch(type_name, value)
    if type_name in ("timestamp", "timestamp without time zone"):
        if isinstance(value, dt.datetime):
            return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        if isinstance(value, str):
            return parse_timestamp(value, with_tz=False)
        raise _datatype_mismatch(type_name, value)
    if type_name == "jsonb":
        if isinstance(value, Jsonb):
            return value
        if isinstance(value, Json):
            return Jsonb(parse_json_document(value.text))
        if isinstance(value, str):
            return Jsonb(parse_json_document(value))
        raise _datatype_mismatch(type_name, value)
    if type_name == "json":
        if isinstance(value, Json):
            return value
        if isinstance(value, Jsonb):
            from bcastsim.db._render import jsonb_text

            return Json(jsonb_text(value.doc))
        if isinstance(value, str):
            parse_json_document(value)
            return Json(value)
        raise _datatype_mismatch(type_name, value)
    if type_name == "bytea":
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return parse_bytea(value)
        raise _datatype_mismatch(type_name, value)
    if type_name in ("record", "trigger", "void"):
        return value
    from bcastsim._errors import UnsupportedError

    raise UnsupportedError(f"type {type_name}")


def record_from_mapping(table: str, row: Mapping[str, Any]) -> Record:
    return Record(table, tuple(row), tuple(row.values()))
