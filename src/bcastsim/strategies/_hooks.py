"""What a project tells the generator about its own data: strategies, exclusions and seed rows.

:class:`Hooks` is passed to :func:`~bcastsim.strategies.histories` (and the other statement
strategies) as ``hooks=``:

- ``columns``: ``{"players.name": st.sampled_from(["ana", "bo"])}`` — the values of one column;
- ``rows``: ``{"lobbies": st.fixed_dictionaries({...})}`` — a strategy of dicts whose entries
  override the drawn row of a table (several columns that belong together);
- ``exclude``: ``{"audit_log", "lobbies.code"}`` — a table no statement writes to, or a column
  left to its DEFAULT (or NULL);
- ``seed_rows``: rows every history starts with (the first transaction), which generated rows can
  reference — read with :func:`load_seed_rows` from a TOML file (``[[players]]`` tables of
  ``column = value``) or a SQL file of ``INSERT … VALUES`` statements with constant values.

The solver still repairs what the hooks give against CHECKs across columns, and a hook's value
that the database refuses fails its statement as any other would: the coverage table shows it.
"""

from __future__ import annotations

import datetime as dt
import tomllib
import uuid
from collections.abc import Collection, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pglast
from hypothesis import strategies as st
from pglast import ast

from bcastsim._errors import InputError
from bcastsim.db import Schema
from bcastsim.strategies._domains import column_domain, constant_of

__all__ = ["Hooks", "load_seed_rows"]


@attrs.frozen
class Hooks:
    """Per-column and per-table strategies, exclusions and seed rows (see the module docstring)."""

    columns: Mapping[str, st.SearchStrategy[Any]] = attrs.field(factory=dict)
    rows: Mapping[str, st.SearchStrategy[Mapping[str, Any]]] = attrs.field(factory=dict)
    exclude: Collection[str] = attrs.field(factory=frozenset)
    seed_rows: Mapping[str, tuple[Mapping[str, Any], ...]] = attrs.field(factory=dict)

    def validate(self, schema: Schema) -> None:
        """Every table and column the hooks name exists (else an :class:`InputError` naming it)."""
        names = [*self.columns, *self.exclude, *(f"{t}." for t in self.rows), *(f"{t}." for t in self.seed_rows)]
        for name in names:
            table, _, column = name.partition(".")
            if table not in schema.tables:
                raise InputError(f"hooks name table {table!r}, which the SQL does not create",
                                 fix="name a table of the schema (public tables by their bare name)")  # fmt: skip
            if column and schema.tables[table].column(column) is None:
                raise InputError(f"hooks name column {table}.{column}, which the table does not have",
                                 fix=f"name one of {', '.join(schema.tables[table].column_names)}")  # fmt: skip

    def excluded(self, table: str, column: str | None = None) -> bool:
        return table in self.exclude or (column is not None and f"{table}.{column}" in self.exclude)


def load_seed_rows(path: str | Path, schema: Schema) -> dict[str, tuple[dict[str, Any], ...]]:
    """Seed rows from a TOML file (``[[table]]`` entries) or a SQL file of ``INSERT … VALUES`` with constants."""
    from bcastsim._io import read_text

    source = Path(path)
    text = read_text(source)
    rows: dict[str, list[dict[str, Any]]] = {}
    if source.suffix == ".toml":
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise InputError(
                f"not TOML: {error}", path=source, fix="write [[table]] entries of column = value"
            ) from None
        for table, entries in document.items():
            if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
                raise InputError(f"{table} is not a list of rows", path=source, fix=f"write [[{table}]] entries")
            rows[table] = [dict(entry) for entry in entries]
    else:
        for table, row, line in _sql_rows(text, source):
            rows.setdefault(table, []).append(row)
            _check_row(schema, table, row, source, line)
    for table, entries in rows.items():
        for entry in entries:
            _check_row(schema, table, entry, source, None)
    return {table: tuple(_typed(schema, table, r) for r in entries) for table, entries in rows.items()}


def _check_row(schema: Schema, table: str, row: Mapping[str, Any], source: Path, line: int | None) -> None:
    if table not in schema.tables:
        raise InputError(f"seed rows for {table!r}, which the SQL does not create", path=source, line=line,
                         fix="name a table of the schema")  # fmt: skip
    for column in row:
        if schema.tables[table].column(column) is None:
            raise InputError(f"seed row names {table}.{column}, which the table does not have", path=source,
                             line=line, fix=f"use one of {', '.join(schema.tables[table].column_names)}")  # fmt: skip


def _sql_rows(text: str, source: Path) -> list[tuple[str, dict[str, Any], int]]:
    try:
        statements: Any = pglast.parse_sql(text)
    except pglast.parser.ParseError as error:
        raise InputError(
            f"not SQL: {error}", path=source, fix="write INSERT INTO t (cols) VALUES (…) statements"
        ) from None
    found = []
    for raw in statements:
        line = text.count("\n", 0, raw.stmt_location or 0) + 1
        stmt: Any = raw.stmt
        select: Any = stmt.selectStmt if isinstance(stmt, ast.InsertStmt) else None
        if select is None or not select.valuesLists or not stmt.cols:
            raise InputError("seed SQL holds only INSERT INTO t (columns) VALUES (…) statements", path=source,
                             line=line, fix="give the column list and constant values")  # fmt: skip
        table = str(stmt.relation.relname)
        columns = [str(col.name) for col in stmt.cols]
        for values in select.valuesLists:
            row = {}
            for column, node in zip(columns, values, strict=True):
                is_null = isinstance(node, ast.A_Const) and node.isnull
                value = None if is_null else constant_of(node)
                if value is None and not is_null:
                    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.Boolean):
                        value = bool(node.val.boolval)
                    else:
                        raise InputError(f"seed value for {table}.{column} is not a constant", path=source,
                                         line=line, fix="write the value itself (no function calls)")  # fmt: skip
                row[column] = value
            found.append((table, row, line))
    return found


def _typed(schema: Schema, table: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """Seed values in the types the generator draws, so keys compare equal with generated references."""
    typed: dict[str, Any] = {}
    for column, value in row.items():
        kind = column_domain(schema, table, column).type_name
        if value is None:
            typed[column] = None
        elif kind == "uuid":
            typed[column] = uuid.UUID(str(value))
        elif kind in ("timestamptz", "timestamp") and isinstance(value, str):
            typed[column] = dt.datetime.fromisoformat(value)
        elif kind == "numeric" and isinstance(value, int | float | str) and not isinstance(value, bool):
            typed[column] = Decimal(str(value))
        else:
            typed[column] = value
    return typed
