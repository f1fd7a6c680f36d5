"""Type names as people write them: ``int4`` → ``integer``; a leaf every reader of SQL types shares."""

from __future__ import annotations

import functools

__all__ = ["normalize_type"]

# PostgreSQL's internal type names → the names people write.
_TYPE_ALIASES = {
    "int4": "integer",
    "int": "integer",
    "int8": "bigint",
    "int2": "smallint",
    "serial": "integer",
    "serial4": "integer",
    "bigserial": "bigint",
    "serial8": "bigint",
    "smallserial": "smallint",
    "serial2": "smallint",
    "bool": "boolean",
    "float8": "double precision",
    "float4": "real",
    "float": "double precision",
    "bpchar": "char",
    "character": "char",
    "character varying": "varchar",
    "decimal": "numeric",
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
    "time with time zone": "timetz",
    "time without time zone": "time",
}


@functools.lru_cache(maxsize=4096)  # a handful of names, asked for by every declaration and column
def normalize_type(name: str) -> str:
    """``int4`` → ``integer``, ``timestamp with time zone`` → ``timestamptz``, …; lower case."""
    text = " ".join(name.strip().lower().split())
    array = ""
    while text.endswith("[]"):
        array += "[]"
        text = text[:-2].strip()
    if text.startswith("_"):  # PostgreSQL's internal array type names
        array += "[]"
        text = text[1:]
    text = text.removeprefix("pg_catalog.")
    return _TYPE_ALIASES.get(text, text) + array
