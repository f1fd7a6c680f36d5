"""Rows of every table, unique indexes and an undo log for (sub)transaction rollback.

Rows are kept by *position*, a counter that grows with every new row version, so
a sequential scan returns rows in the order PostgreSQL's heap does for small
tables (a new version of an updated row goes after the existing ones; a
rolled-back update leaves the old version where it was).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from bcastsim.db._schema import TableDef
from bcastsim.db._values import DatabaseError, Record

__all__ = ["Store", "TableData"]


@attrs.define
class TableData:
    definition: TableDef
    rows: dict[int, Record] = attrs.Factory(dict)
    # One dict per unique key (primary key first): key values -> position.
    indexes: list[tuple[tuple[int, ...], dict[tuple[Any, ...], int]]] = attrs.Factory(list)
    _ordered: list[Record] | None = None

    def __attrs_post_init__(self) -> None:
        names = self.definition.column_names
        keys = [self.definition.primary_key] if self.definition.primary_key else []
        keys += [key for key in self.definition.unique if key != self.definition.primary_key]
        self.indexes = [(tuple(names.index(c) for c in key), {}) for key in keys]

    def scan(self) -> list[Record]:
        if self._ordered is None:
            self._ordered = [self.rows[p] for p in sorted(self.rows)]
        return self._ordered


def _key(record: Record, columns: tuple[int, ...]) -> tuple[Any, ...] | None:
    values = tuple(record.values[i] for i in columns)
    if any(v is None for v in values):
        return None  # NULLs never conflict in a unique index
    return tuple(_normal(v) for v in values)


def _normal(value: Any) -> Any:
    # numeric equality ignores scale (5.0 = 5.00): normalise for hashing.
    from decimal import Decimal

    if isinstance(value, Decimal):
        return value.normalize()
    return value


class Store:
    """All tables' rows, with an undo log so savepoints and exception blocks can roll back."""

    def __init__(self, tables: dict[str, TableDef]) -> None:
        self.tables = {name: TableData(definition) for name, definition in tables.items()}
        self._next_position = 1
        self.undo: list[tuple[Any, ...]] = []

    def reset(self) -> None:
        for data in self.tables.values():
            data.rows.clear()
            data._ordered = None
            for _, index in data.indexes:
                index.clear()
        self.undo.clear()

    def table(self, name: str) -> TableData:
        try:
            return self.tables[name]
        except KeyError:
            raise DatabaseError("42P01", f'relation "{name}" does not exist') from None

    def scan(self, name: str) -> Sequence[Record]:
        return self.table(name).scan()

    def lookup(self, name: str, column: str, value: Any) -> Sequence[Record]:
        data = self.table(name)
        if value is None:
            return ()
        position = data.definition.column_names.index(column)
        for columns, index in data.indexes:
            if columns == (position,):
                try:
                    found = index.get((_normal(value),))
                except TypeError:
                    found = None
                return () if found is None else (data.rows[found],)
        from bcastsim.db._eval import sql_equal

        return [row for row in data.scan() if sql_equal(row.values[position], value) is True]

    def _check_unique(self, data: TableData, record: Record, ignore: int | None) -> None:
        for columns, index in data.indexes:
            key = _key(record, columns)
            if key is None:
                continue
            existing = index.get(key)
            if existing is not None and existing != ignore:
                names = ", ".join(data.definition.column_names[i] for i in columns)
                raise DatabaseError(
                    "23505", f'duplicate key value violates unique constraint on "{data.definition.name}" ({names})'
                )

    def conflicting(self, name: str, record: Record, arbiters: tuple[tuple[int, ...], ...]) -> int | None:
        """The position of a row that ``record`` would collide with on one of the ``arbiters`` keys."""
        data = self.table(name)
        for columns, index in data.indexes:
            if columns not in arbiters:
                continue
            key = _key(record, columns)
            if key is not None and key in index:
                return index[key]
        return None

    def insert(self, name: str, record: Record) -> int:
        data = self.table(name)
        self._check_unique(data, record, None)
        position = self._next_position
        self._next_position += 1
        self._place(data, position, record)
        self.undo.append(("insert", name, position))
        return position

    def _place(self, data: TableData, position: int, record: Record) -> None:
        data.rows[position] = record
        data._ordered = None
        for columns, index in data.indexes:
            key = _key(record, columns)
            if key is not None:
                index[key] = position

    def _remove(self, data: TableData, position: int) -> Record:
        record = data.rows.pop(position)
        data._ordered = None
        for columns, index in data.indexes:
            key = _key(record, columns)
            if key is not None and index.get(key) == position:
                del index[key]
        return record

    def update(self, name: str, old_position: int, record: Record) -> int:
        data = self.table(name)
        self._check_unique(data, record, old_position)
        old = self._remove(data, old_position)
        position = self._next_position
        self._next_position += 1
        self._place(data, position, record)
        self.undo.append(("update", name, old_position, old, position))
        return position

    def delete(self, name: str, position: int) -> Record:
        data = self.table(name)
        record = self._remove(data, position)
        self.undo.append(("delete", name, position, record))
        return record

    def mark(self) -> int:
        return len(self.undo)

    def rollback_to(self, mark: int) -> None:
        while len(self.undo) > mark:
            entry = self.undo.pop()
            data = self.tables[entry[1]]
            if entry[0] == "insert":
                self._remove(data, entry[2])
            elif entry[0] == "update":
                self._remove(data, entry[4])
                self._place(data, entry[2], entry[3])
            else:
                self._place(data, entry[2], entry[3])

    def commit(self) -> None:
        self.undo.clear()
