"""Database-side Hypothesis strategies: rows, statements and transaction histories.

Everything is derived from a :class:`bcastsim.db.Schema` (by default the
built-in ``sql/``): a column's type decides its values, a foreign key draws from
the referenced table's id pool (or, now and then, an id that does not exist),
and text comes in the shapes that break broadcast payloads — control
characters, quotes, multibyte and astral characters, and strings sized to land
just under or over PostgreSQL's 8000-byte NOTIFY limit.

Ids are explicit and deterministic (``uuid_pool``), so a history runs the same
on the model and on a real server.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import strategies as st

from bcastsim.db import Schema, load_schema

__all__ = [
    "History",
    "TransactionSpec",
    "column_values",
    "delete_statements",
    "histories",
    "insert_statements",
    "near_limit_text",
    "row_values",
    "seed_transactions",
    "sql_literal",
    "statements",
    "transactions",
    "update_statements",
    "uuid_pool",
]

_POOL_SIZE = 3
_EPOCH = dt.datetime(2025, 8, 17, 19, 0, tzinfo=dt.UTC)

_schema_cache: dict[str, Schema] = {}


def _default_schema() -> Schema:
    if "builtin" not in _schema_cache:
        from bcastsim._resources import builtin_sql_files

        _schema_cache["builtin"] = load_schema(builtin_sql_files())
    return _schema_cache["builtin"]


def uuid_pool(schema: Schema, table: str) -> list[uuid.UUID]:
    """The ids a history may give rows of ``table``: a few per table, readable in a failing example."""
    index = sorted(schema.tables).index(table) + 1
    return [uuid.UUID(int=(index << 8) | k) for k in range(1, _POOL_SIZE + 1)]


def _missing_id(schema: Schema, table: str) -> uuid.UUID:
    index = sorted(schema.tables).index(table) + 1
    return uuid.UUID(int=(index << 8) | 0xFF)


def sql_literal(value: Any) -> str:
    """A SQL literal for a Python value (untyped string literals take the column's type)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        offset = value.utcoffset() or dt.timedelta(0)
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        zone = f"{sign}{abs(minutes) // 60:02d}" + (f":{abs(minutes) % 60:02d}" if minutes % 60 else "")
        text = value.replace(tzinfo=None).isoformat(sep=" ")
        return f"'{text}{zone}'"
    return _text_literal(str(value))


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _text_literal(text: str) -> str:
    """A string literal; long runs of one character become ``repeat(…)`` so examples stay readable."""
    parts: list[str] = []
    start = 0
    index = 0
    while index < len(text):
        end = index
        while end < len(text) and text[end] == text[index]:
            end += 1
        if end - index >= 20:
            if start < index:
                parts.append(_quote(text[start:index]))
            parts.append(f"repeat({_quote(text[index])}, {end - index})")
            start = end
        index = end
    if start < len(text) or not parts:
        parts.append(_quote(text[start:]))
    return parts[0] if len(parts) == 1 else "(" + " || ".join(parts) + ")"


@st.composite
def _weighted(draw: st.DrawFn, *choices: tuple[int, st.SearchStrategy[Any]]) -> Any:
    """Pick a strategy with the given weights (``one_of`` would merge repeated branches)."""
    total = sum(weight for weight, _ in choices)
    ticket = draw(st.integers(0, total - 1))
    for weight, strategy in choices:
        if ticket < weight:
            return draw(strategy)
        ticket -= weight
    raise AssertionError("unreachable")


_SPECIAL_CHARS = "\"\\\n\t\r\b\f\x01\x1f\x7f'é€😀 "


@st.composite
def near_limit_text(draw: st.DrawFn, low: int = 7600, high: int = 8100) -> str:
    """Text whose UTF-8 size lands near the NOTIFY limit once embedded in a JSON payload."""
    target = draw(st.integers(low, high))
    fill = draw(st.sampled_from(["a", "é", "€", "😀", '"', "\n"]))
    head = draw(st.text(alphabet=_SPECIAL_CHARS + "xyz", max_size=4))
    size = len(head.encode())
    unit = len(fill.encode())
    return head + fill * max(0, (target - size) // unit)


def _text(max_chars: int | None) -> st.SearchStrategy[str]:
    alphabet = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
    short = st.text(alphabet=alphabet, max_size=12)
    specials = st.text(alphabet=_SPECIAL_CHARS, min_size=1, max_size=6)
    options = [st.text(alphabet="abcdefgh-_ ", max_size=10), short, specials]
    if max_chars is not None:
        options.append(st.text(alphabet="abcé😀", min_size=max_chars - 1, max_size=max_chars + 2))
        return st.one_of(options)
    return _weighted(*[(1, o) for o in options], (2, near_limit_text()))


def _timestamps() -> st.SearchStrategy[dt.datetime]:
    offsets = st.sampled_from(
        [dt.timedelta(0), dt.timedelta(0), dt.timedelta(hours=5, minutes=30), dt.timedelta(hours=-8)]
    )
    moments = st.builds(
        lambda seconds, micro, zero: _EPOCH + dt.timedelta(seconds=seconds, microseconds=0 if zero else micro),
        st.integers(-86400 * 30, 86400 * 30),
        st.integers(0, 999_999),
        st.booleans(),
    )
    return st.builds(lambda moment, offset: moment.astimezone(dt.timezone(offset)), moments, offsets)


def column_values(schema: Schema, table: str, column: str) -> st.SearchStrategy[Any]:
    """Values for one column: of its type, NULL sometimes, foreign keys from the parent's id pool."""
    definition = schema.tables[table]
    col = definition.column(column)
    if col is None:
        raise KeyError(f"{table}.{column}")
    for fk in definition.foreign_keys:
        if fk.columns == (column,):
            pool = uuid_pool(schema, fk.ref_table)
            parent = st.sampled_from([pool[0], *pool])
            missing = st.just(_missing_id(schema, fk.ref_table))
            return _weighted((6, parent), (1, missing), (2 if not col.not_null else 1, st.none()))
    if definition.primary_key == (column,) and col.type_name == "uuid":
        return st.sampled_from(uuid_pool(schema, table))
    base: st.SearchStrategy[Any]
    kind = col.type_name
    if kind == "uuid":
        base = st.sampled_from(uuid_pool(schema, table))
    elif kind in ("text", "varchar"):
        base = _text(col.modifiers[0] if kind == "varchar" and col.modifiers else None)
    elif kind in ("integer", "bigint", "smallint"):
        # Small values (CHECK ranges), any int4, and now and then one past it (22003).
        base = _weighted((6, st.integers(0, 10)), (3, st.integers(-(2**31), 2**31 - 1)), (1, st.integers(2**31, 2**33)))
    elif kind == "numeric":
        scale = col.modifiers[1] if len(col.modifiers) > 1 else 2
        base = st.builds(
            lambda digits, exponent: Decimal(digits).scaleb(-exponent),
            st.one_of(st.integers(-10, 100_000), st.integers(-(10**12), 10**12)),
            st.integers(0, scale + 2),
        )
    elif kind == "boolean":
        base = st.booleans()
    elif kind == "timestamptz":
        base = _timestamps()
    else:
        return st.none()
    if col.not_null:
        return _weighted((15, base), (1, st.none()))
    return _weighted((3, base), (1, st.none()))


def _chosen_columns(draw: st.DrawFn, schema: Schema, table: str) -> list[str]:
    definition = schema.tables[table]
    chosen = []
    for col in definition.columns:
        needed = col.name in definition.primary_key or (col.not_null and col.default is None)
        if draw(st.integers(0, 39)) < (39 if needed else 20) or col.name in definition.primary_key:
            chosen.append(col.name)
    return chosen


@st.composite
def row_values(draw: st.DrawFn, schema: Schema, table: str, columns: list[str] | None = None) -> dict[str, Any]:
    """One row: the id always, required columns nearly always, optional ones sometimes."""
    chosen = columns if columns is not None else _chosen_columns(draw, schema, table)
    return {name: draw(column_values(schema, table, name)) for name in chosen}


def _tables(schema: Schema) -> list[str]:
    return sorted(name for name in schema.tables if "." not in name)


def _update_trigger_tables(schema: Schema) -> list[str]:
    return [
        name
        for name in _tables(schema)
        if any("UPDATE" in t.events and t.level == "ROW" for t in schema.triggers_for(name))
    ]


def _table_choice(schema: Schema) -> st.SearchStrategy[str]:
    """A public table, tables with triggers three times as often: that is where broadcasts start."""
    return _weighted(*[(3 if schema.triggers_for(name) else 1, st.just(name)) for name in _tables(schema)])


@st.composite
def insert_statements(draw: st.DrawFn, schema: Schema | None = None, table: str | None = None) -> str:
    """``INSERT INTO t (cols) VALUES (…), (…)`` with one to three rows over the same columns."""
    schema = schema or _default_schema()
    table = table or draw(_table_choice(schema))
    columns = _chosen_columns(draw, schema, table)
    rows = draw(st.lists(row_values(schema, table, columns), min_size=1, max_size=3))
    definition = schema.tables[table]
    values = []
    for row in rows:
        literals = []
        for name in columns:
            column = definition.column(name)
            # DEFAULT only where the default is deterministic: never for generated ids.
            use_default = (
                column is not None
                and column.default is not None
                and name not in definition.primary_key
                and draw(st.integers(0, 19)) == 19
            )
            literals.append("DEFAULT" if use_default else sql_literal(row[name]))
        values.append("(" + ", ".join(literals) + ")")
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join(values)}"


def _where(draw: st.DrawFn, schema: Schema, table: str) -> str:
    definition = schema.tables[table]
    fk_columns = [fk.columns[0] for fk in definition.foreign_keys if len(fk.columns) == 1]
    if fk_columns and draw(st.integers(0, 3)) == 3:
        column = draw(st.sampled_from(fk_columns))
        fk = next(fk for fk in definition.foreign_keys if fk.columns == (column,))
        pool = uuid_pool(schema, fk.ref_table)
        value = draw(st.sampled_from([pool[0], *pool]))
        return f"{column} = {sql_literal(value)}"
    key = definition.primary_key[0]
    pool = uuid_pool(schema, table)
    value = draw(st.sampled_from([pool[0], pool[0], pool[0], *pool, _missing_id(schema, table)]))
    return f"{key} = {sql_literal(value)}"


@st.composite
def update_statements(draw: st.DrawFn, schema: Schema | None = None, table: str | None = None) -> str:
    """``UPDATE t SET … WHERE <key or foreign key> = …`` (never the primary key itself)."""
    schema = schema or _default_schema()
    table = table or draw(_table_choice(schema))
    definition = schema.tables[table]
    # State flags and times (is_winner, auction_end, …) are what UPDATE triggers watch: pick them more often.
    settable = [
        c.name
        for c in definition.columns
        if c.name not in definition.primary_key
        for _ in range(3 if c.type_name in ("boolean", "timestamptz") else 1)
    ]
    chosen = draw(st.lists(st.sampled_from(settable), min_size=1, max_size=3, unique=True))
    sets = ", ".join(f"{c} = {sql_literal(draw(column_values(schema, table, c)))}" for c in chosen)
    return f"UPDATE {table} SET {sets} WHERE {_where(draw, schema, table)}"


@st.composite
def delete_statements(draw: st.DrawFn, schema: Schema | None = None, table: str | None = None) -> str:
    """``DELETE FROM t WHERE <key or foreign key> = …``."""
    schema = schema or _default_schema()
    table = table or draw(_table_choice(schema))
    return f"DELETE FROM {table} WHERE {_where(draw, schema, table)}"


def statements(schema: Schema | None = None) -> st.SearchStrategy[str]:
    """Any INSERT/UPDATE/DELETE on the schema's public tables (inserts most often)."""
    schema = schema or _default_schema()
    return _weighted((3, insert_statements(schema)), (2, update_statements(schema)), (1, delete_statements(schema)))


@attrs.frozen
class TransactionSpec:
    """One transaction of a history: its steps (SQL, savepoint commands included) and how it ends."""

    steps: tuple[str, ...]
    commit: bool = True

    def to_sql(self, *, isolate_statements: bool = False) -> str:
        """A psql script; with ``isolate_statements`` each statement runs under its own savepoint."""
        lines = ["BEGIN;"]
        for step in self.steps:
            if isolate_statements:
                lines += [
                    "SAVEPOINT bcastsim_statement;",
                    step + ";  -- on error: ROLLBACK TO SAVEPOINT bcastsim_statement;",
                    "RELEASE SAVEPOINT bcastsim_statement;",
                ]
            else:
                lines.append(step + ";")
        lines.append("COMMIT;" if self.commit else "ROLLBACK;")
        return "\n".join(lines)


@attrs.frozen
class History:
    """Transactions run one after another by one session."""

    transactions: tuple[TransactionSpec, ...]

    def to_sql(self, *, isolate_statements: bool = False) -> str:
        """The history as a runnable psql script."""
        return "\n\n".join(t.to_sql(isolate_statements=isolate_statements) for t in self.transactions)


@st.composite
def transactions(draw: st.DrawFn, schema: Schema | None = None, max_statements: int = 8) -> TransactionSpec:
    """A transaction: statements, repeats of earlier ones, savepoints rolled back or released."""
    schema = schema or _default_schema()
    steps: list[str] = []
    open_savepoints: list[str] = []
    count = draw(st.integers(1, max_statements))
    for _ in range(count):
        # Hypothesis favours small draws: 0-5 (the simplest) is a plain statement.
        action = draw(st.integers(0, 11)) - 6
        earlier = [s for s in steps if not s.startswith(("SAVEPOINT", "ROLLBACK", "RELEASE"))]
        if action == 0 and _update_trigger_tables(schema):
            # The same UPDATE twice re-sends an identical payload: PostgreSQL drops the duplicate.
            table = draw(st.sampled_from(_update_trigger_tables(schema)))
            statement = draw(update_statements(schema, table))
            steps += [statement, statement]
        elif action == 1 and earlier:
            steps.append(draw(st.sampled_from(earlier)))
        elif action in (2, 3):
            name = f"s{len(open_savepoints) + 1}"
            open_savepoints.append(name)
            steps.append(f"SAVEPOINT {name}")
        elif action in (4, 5) and open_savepoints:
            name = draw(st.sampled_from(open_savepoints))
            if draw(st.booleans()):
                steps.append(f"ROLLBACK TO SAVEPOINT {name}")
                del open_savepoints[open_savepoints.index(name) + 1 :]
            else:
                steps.append(f"RELEASE SAVEPOINT {name}")
                del open_savepoints[open_savepoints.index(name) :]
        else:
            steps.append(draw(statements(schema)))
    commit = draw(st.integers(0, 9)) < 9
    return TransactionSpec(tuple(steps), commit)


@st.composite
def histories(
    draw: st.DrawFn, schema: Schema | None = None, max_transactions: int = 4, max_statements: int = 8
) -> History:
    """A history that starts by inserting parents often enough for child rows to find them."""
    schema = schema or _default_schema()
    chosen: list[TransactionSpec] = []
    if draw(st.integers(0, 4)) < 4:
        chosen.append(draw(seed_transactions(schema)))
    chosen += draw(st.lists(transactions(schema, max_statements), min_size=1, max_size=max_transactions))
    return History(tuple(chosen))


@st.composite
def seed_transactions(draw: st.DrawFn, schema: Schema | None = None) -> TransactionSpec:
    """Parents first: one valid row per table in foreign-key order, so later statements have targets."""
    schema = schema or _default_schema()
    steps = []
    for table in _parent_order(schema):
        definition = schema.tables[table]
        row: dict[str, Any] = {definition.primary_key[0]: uuid_pool(schema, table)[0]}
        for col in definition.columns:
            if col.name in row:
                continue
            fk = next((fk for fk in definition.foreign_keys if fk.columns == (col.name,)), None)
            if fk is not None:
                if col.not_null or draw(st.booleans()):
                    row[col.name] = uuid_pool(schema, fk.ref_table)[0]
            elif col.not_null and col.default is None:
                row[col.name] = _valid_value(col.type_name, col.name, draw)
        columns = list(row)
        values = ", ".join(sql_literal(row[c]) for c in columns)
        steps.append(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})")
    return TransactionSpec(tuple(steps), True)


def _valid_value(type_name: str, column: str, draw: st.DrawFn) -> Any:
    if type_name == "text" and draw(st.integers(0, 7)) == 7:
        return draw(near_limit_text())
    if type_name in ("text", "varchar"):
        return draw(st.text(alphabet="abcdef", min_size=1, max_size=8))
    if type_name in ("integer", "bigint", "smallint"):
        return draw(st.integers(1, 9))
    if type_name == "numeric":
        return Decimal(draw(st.integers(1, 5000)))
    if type_name == "boolean":
        return draw(st.booleans())
    if type_name == "timestamptz":
        return draw(_timestamps())
    return None


def _parent_order(schema: Schema) -> list[str]:
    ordered: list[str] = []
    remaining = _tables(schema)
    while remaining:
        for table in remaining:
            parents = {fk.ref_table for fk in schema.tables[table].foreign_keys} - {table}
            if parents <= set(ordered) | ({p for p in parents if "." in p}):
                ordered.append(table)
                remaining.remove(table)
                break
        else:
            ordered += remaining
            break
    return ordered
