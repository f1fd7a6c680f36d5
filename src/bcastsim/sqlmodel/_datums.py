"""The variables PL/pgSQL declares in every trigger function, decoded once and shared by every tree."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["TRIGGER_DATUMS", "TRIGGER_DATUMS_HEAD", "is_trigger_datum"]

# The variables PL/pgSQL declares in every trigger function, as ``parse_plpgsql`` writes them: most
# of a small function's tree. Decoded once and shared by every function that starts with them (the
# trees are read, never changed there: only RETURN statements get a ``retvar``).
_TRIGGER_DATUMS_TEXT = (
    '{"PLpgSQL_rec":{"refname":"new"}},{"PLpgSQL_rec":{"refname":"old","dno":1}},'
    + ",".join(
        f'{{"PLpgSQL_var":{{"refname":"{name}","datatype":{{"PLpgSQL_type":{{"typname":"{type_name}"}}}},'
        f'"promise":{promise}}}}}'
        for name, type_name, promise in (
            ("tg_name", "name", 1),
            ("tg_when", "text", 2),
            ("tg_level", "text", 3),
            ("tg_op", "text", 4),
            ("tg_relid", "oid", 5),
            ("tg_relname", "name", 6),
            ("tg_table_name", "name", 6),
            ("tg_table_schema", "name", 7),
            ("tg_nargs", "int4", 8),
            ("tg_argv", "_text", 9),
        )
    )
    + ',{"PLpgSQL_var":{"refname":"found","datatype":{"PLpgSQL_type":{"typname":"bool"}}}}'
)
TRIGGER_DATUMS_HEAD = '"datums":[' + _TRIGGER_DATUMS_TEXT
TRIGGER_DATUMS: list[dict[str, Any]] = json.loads("[" + _TRIGGER_DATUMS_TEXT + "]")


_SHARED = frozenset(id(datum) for datum in TRIGGER_DATUMS)


def is_trigger_datum(datum: object) -> bool:
    """Whether ``datum`` is one of the shared trigger variables (which hold no expression)."""
    return id(datum) in _SHARED
