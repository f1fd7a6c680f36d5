"""Worst-case widths of PostgreSQL values as text and as JSON.

JSON escaping is the worst case for strings: ``json_build_object`` writes a control
character (1 byte in the column) as ``\\u00XX`` (6 bytes), more than any UTF-8 character
(at most 4 bytes), so a string of at most *n* characters renders in at most ``6n + 2``
bytes. Strings PostgreSQL renders from numbers, uuids and times never need escaping.
"""

from __future__ import annotations

import attrs

__all__ = ["Width", "json_string_bytes", "json_text_bytes", "type_width"]


@attrs.frozen
class Width:
    """Worst-case rendering of one type.

    ``text_bytes``/``text_chars``: the text form (``::text``, ``concat``); ``json_bytes``:
    the value inside a JSON document; ``escape_safe``: the text form never needs JSON
    escaping. None means unbounded, with ``reason``.
    """

    text_bytes: int | None
    text_chars: int | None
    json_bytes: int | None
    escape_safe: bool
    reason: str | None = None


def json_text_bytes(text: str) -> int:
    """Bytes of ``text`` as a JSON string, escaped the way PostgreSQL's ``escape_json`` does."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return len(text) + 2  # nothing to escape, one byte a character
    size = 2
    for char in text:
        if char in '"\\\b\f\n\r\t':
            size += 2
        elif ord(char) < 0x20:
            size += 6
        else:
            size += len(char.encode())
    return size


def json_string_bytes(chars: int | None, text_bytes: int | None, escape_safe: bool) -> int | None:
    """Worst-case JSON size of a string of at most ``chars`` characters / ``text_bytes`` bytes."""
    if escape_safe:
        return None if text_bytes is None else text_bytes + 2
    if chars is None:
        return None
    return 6 * chars + 2


def _fixed(text: int, json: int | None = None, *, quoted: bool = False) -> Width:
    if json is None:
        json = text + 2 if quoted else text
    return Width(text, text, json, True)


def _string(chars: int | None, reason: str | None) -> Width:
    if chars is None:
        return Width(None, None, None, False, reason)
    return Width(4 * chars, chars, 6 * chars + 2, False)


# year (6 digits AD, or 4 digits + " BC") + "-MM-DD HH:MM:SS.ffffff" + zone "+HH:MM:SS"
_TIMESTAMP = max(6 + 22, 4 + 22 + 3)
_TIMESTAMPTZ = _TIMESTAMP + 9
_DATE = 13  # "5874897-12-31" or "4713-01-01 BC"
_TIME = 15  # "24:00:00.000000"

_FIXED: dict[str, Width] = {
    "uuid": _fixed(36, quoted=True),
    "boolean": _fixed(5),  # `false`; `::text` also gives "false"
    "smallint": _fixed(6),
    "integer": _fixed(11),
    "bigint": _fixed(20),
    "oid": _fixed(10),
    "real": _fixed(15, 17),  # "-1.17549435e-38"; NaN/Infinity are quoted in JSON
    "double precision": _fixed(24, 26),
    "timestamptz": _fixed(_TIMESTAMPTZ, quoted=True),
    "timestamp": _fixed(_TIMESTAMP, quoted=True),
    "date": _fixed(_DATE, quoted=True),
    "time": _fixed(_TIME, quoted=True),
    "timetz": _fixed(_TIME + 9, quoted=True),
    "name": Width(63, 63, 6 * 63 + 2, False),
}

_UNBOUNDED_REASONS = {
    "text": "text has no length limit",
    "json": "a json value has no size limit",
    "jsonb": "a jsonb value has no size limit",
    "bytea": "bytea has no length limit",
    "record": "a whole row has no size limit when it has unbounded columns",
    "interval": "interval width is not modelled",
}


def type_width(type_name: str | None, modifiers: tuple[int, ...] = ()) -> Width:
    """The worst-case :class:`Width` of a value of ``type_name`` (normalized) with ``modifiers``."""
    if type_name is None:
        return Width(None, None, None, False, "type unknown")
    if type_name.endswith("[]"):
        return Width(None, None, None, False, f"{type_name}: arrays have no length limit")
    fixed = _FIXED.get(type_name)
    if fixed is not None:
        return fixed
    if type_name in {"varchar", "char"}:
        if modifiers:
            return _string(modifiers[0], None)
        if type_name == "char":
            return _string(1, None)
        return _string(None, "varchar without a length has no limit")
    if type_name == "numeric":
        if not modifiers:
            return Width(None, None, None, True, "numeric without precision has no practical bound")
        precision = modifiers[0]
        scale = modifiers[1] if len(modifiers) > 1 else 0
        integer_digits = max(precision - scale, 1)
        fraction = 1 + scale if scale > 0 else 0
        # sign + digits + point and fraction; NaN renders as "NaN" (quoted in JSON)
        width = max(1 + integer_digits + fraction, 3)
        return Width(width, width, max(width, 5), True)
    reason = _UNBOUNDED_REASONS.get(type_name, f"width of type {type_name} is not modelled")
    return Width(None, None, None, False, reason)
