"""Database-side Hypothesis strategies: rows, statements and transaction histories.

Everything is derived from a :class:`bcastsim.db.Schema` (by default the
built-in ``sql/``): a column's type and simple CHECKs decide its values, keys are
small distinct values of their own type (``key_value``), a foreign key takes a
parent row the history has already inserted, and text comes in the shapes that
break broadcast payloads — control characters, quotes, multibyte and astral
characters and, among the edge cases, strings sized to land just under or over
PostgreSQL's 8000-byte NOTIFY limit.

Keys are explicit and deterministic, so a history runs the same on the model and
on a real server.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import uuid
from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import attrs
import networkx as nx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bcastsim._errors import InputError, UnsupportedError
from bcastsim.db import DatabaseModel, Differential, Schema, load_schema
from bcastsim.db._coverage import Coverage, current_coverage, recording
from bcastsim.db._schema import TableDef
from bcastsim.strategies._checks import repair, row_checks, unfollowed_checks
from bcastsim.strategies._domains import Domain, column_domain
from bcastsim.strategies._guards import guards, moved
from bcastsim.strategies._hooks import Hooks, load_seed_rows
from bcastsim.strategies._memo import choice, integers, pick, remembered
from bcastsim.strategies._solver import GuardPlan, reachability
from bcastsim.strategies._speed import DEFAULT_SPEED, FAST, Speed, speed_profile

__all__ = [
    "DEFAULT_SPEED",
    "EDGES",
    "FAST",
    "VALID",
    "History",
    "Hooks",
    "Mix",
    "Speed",
    "TransactionSpec",
    "column_values",
    "delete_statements",
    "histories",
    "insert_statements",
    "key_value",
    "load_seed_rows",
    "measure_coverage",
    "near_limit_text",
    "row_values",
    "seed_transactions",
    "speed_profile",
    "sql_literal",
    "statements",
    "steer",
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
    if isinstance(value, bytes):
        return "'\\x" + value.hex() + "'"
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


_RUNS = re.compile(r"(.)\1{19,}", re.DOTALL)


def _text_literal(text: str) -> str:
    """A string literal; long runs of one character become ``repeat(…)`` so examples stay readable."""
    parts: list[str] = []
    start = 0
    for run in _RUNS.finditer(text):
        if start < run.start():
            parts.append(_quote(text[start : run.start()]))
        parts.append(f"repeat({_quote(run.group(1))}, {run.end() - run.start()})")
        start = run.end()
    if start < len(text) or not parts:
        parts.append(_quote(text[start:]))
    return parts[0] if len(parts) == 1 else "(" + " || ".join(parts) + ")"


@st.composite
def _weighted(draw: st.DrawFn, *choices: tuple[int, st.SearchStrategy[Any]]) -> Any:
    """Pick a strategy with the given weights (``one_of`` would merge repeated branches)."""
    total = sum(weight for weight, _ in choices)
    ticket = draw(integers(0, total - 1))
    for weight, strategy in choices:
        if ticket < weight:
            return draw(strategy)
        ticket -= weight
    raise AssertionError("unreachable")


def _rarely(draw: st.DrawFn, per_mille: int) -> bool:
    """True ``per_mille`` times in a thousand.

    The draw is scattered before it is compared: Hypothesis draws the bounds of a range far
    more often than their share, and also the integer constants it finds in the code it runs
    (``500`` of a band ``500 <= x < 501`` among them), and shrinks towards 0, the usual case.
    """
    return (draw(integers(0, 999)) * 7919 + 383) % 1000 < per_mille


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


@attrs.frozen
class Mix:
    """How much of a history reaches for invalid input, per thousand.

    ``edges`` is the share of values drawn from the edge cases that make a statement
    fail (NULL into NOT NULL, values past a type's or a CHECK's limits, text near the
    NOTIFY limit, parents that do not exist); ``rollbacks`` the share of transactions
    that end in ROLLBACK. :data:`VALID` (the default) keeps nearly every transaction
    committing, so every trigger runs; :data:`EDGES` hunts for disagreements in error paths.
    """

    edges: int = 1
    rollbacks: int = 10


VALID = Mix()
EDGES = Mix(edges=200, rollbacks=100)


def _schema_or_default(schema: Schema | None) -> Schema:
    return schema if schema is not None else _default_schema()


_SEQUENCE_HEADROOM = 1000


def _table_number(schema: Schema, table: str) -> int:
    """1 for the first table by name, 2 for the next, …: the high bits of the table's uuid keys."""
    numbers = remembered(schema, "table_numbers", lambda: {t: n for n, t in enumerate(sorted(schema.tables), 1)})
    return numbers[table]


def _draws_from_sequence(schema: Schema, table: str, column: str) -> bool:
    """A serial or identity column: its default is ``nextval``."""
    return remembered(schema, ("sequence", table, column), lambda: _nextval_default(schema, table, column))


def _nextval_default(schema: Schema, table: str, column: str) -> bool:
    definition = schema.tables[table].column(column)
    default: Any = definition.default if definition is not None else None
    return type(default).__name__ == "FuncCall" and str(default.funcname[-1].sval) == "nextval"


def key_value(schema: Schema, table: str, column: str, number: int) -> Any:
    """The ``number``-th distinct value of a key or unique column: small, readable and valid for its type."""
    domain = column_domain(schema, table, column)
    kind = domain.type_name
    if domain.allowed:
        return domain.allowed[(number - 1) % len(domain.allowed)]
    if kind == "uuid":
        index = _table_number(schema, table)
        return uuid.UUID(int=(index << 8) | (number & 0xFF) | ((number >> 8) << 16))
    if kind in ("integer", "bigint", "smallint", "numeric", *_FLOAT_TYPES):
        low = domain.low if domain.low is not None else Decimal(0)
        if domain.high is None and _draws_from_sequence(schema, table, column):
            # Above what the sequence hands out to rows that triggers insert with the default.
            low = max(low, Decimal(_SEQUENCE_HEADROOM))
        value = max(low, Decimal(0)) + number
        return Decimal(int(value)) if kind == "numeric" or kind in _FLOAT_TYPES else int(value)
    if kind in ("timestamptz", "timestamp"):
        moment = _EPOCH + dt.timedelta(seconds=number)
        return moment if kind == "timestamptz" else moment.replace(tzinfo=None)
    if kind in ("text", "varchar"):
        limit = domain.max_length
        if kind == "varchar" and domain.modifiers:
            limit = domain.modifiers[0] if limit is None else min(limit, domain.modifiers[0])
        text = f"{column[:3]}-{number}"
        if limit is not None and len(text) > limit:
            text = str(number)[-limit:] if limit else ""
        return text + "x" * max(0, domain.min_length - len(text))
    if kind == "boolean":
        return number % 2 == 1
    return None


def uuid_pool(schema: Schema, table: str) -> list[uuid.UUID]:
    """The first uuid keys a history gives rows of ``table`` (for tables keyed by a uuid)."""
    index = _table_number(schema, table)
    return [uuid.UUID(int=(index << 8) | k) for k in range(1, _POOL_SIZE + 1)]


def _valid_values(domain: Domain) -> st.SearchStrategy[Any]:
    """Values of the column's type that its simple CHECKs accept."""
    if domain.allowed:
        return st.sampled_from([v for v in domain.allowed if v not in domain.excluded] or list(domain.allowed))
    kind = domain.type_name
    strategy: st.SearchStrategy[Any]
    if kind in ("integer", "bigint", "smallint"):
        low = int(domain.low) + domain.low_strict if domain.low is not None else 0
        high = int(domain.high) - domain.high_strict if domain.high is not None else low + 10
        if domain.low is None and domain.high is not None:
            low = min(0, high)
        strategy = st.integers(low, max(low, min(high, low + 1000)))
    elif kind == "numeric":
        scale = domain.modifiers[1] if len(domain.modifiers) > 1 else 2
        digits = domain.modifiers[0] - scale if domain.modifiers else 6
        top = min(10 ** min(digits, 5) - 1, int(domain.high) if domain.high is not None else 10**5)
        bottom = int(domain.low) + 1 if domain.low is not None else 0
        strategy = st.builds(
            lambda whole, cents: Decimal(whole) + Decimal(cents).scaleb(-min(scale, 2)),
            st.integers(bottom, max(bottom, top - 1)),
            st.integers(0, 99 if scale >= 2 else 9 if scale == 1 else 0),
        )
    elif kind in ("text", "varchar"):
        limit = domain.max_length
        if kind == "varchar" and domain.modifiers:
            limit = domain.modifiers[0] if limit is None else min(limit, domain.modifiers[0])
        top = 12 if limit is None else min(limit, 12)
        # A CHECK such as length(label) > 40 needs longer text than the usual dozen characters.
        top = max(top, domain.min_length if limit is None else min(domain.min_length, limit))
        low = min(domain.min_length, top)
        alphabet = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
        strategy = _weighted(
            (4, st.text(alphabet="abcdefgh-_ ", min_size=low, max_size=top)),
            (1, st.text(alphabet=_SPECIAL_CHARS, min_size=max(low, 1), max_size=max(low, min(top, 6)))),
            (1, st.text(alphabet=alphabet, min_size=low, max_size=top)),
        )
    elif kind in _FLOAT_TYPES:
        # Quarters are exact in binary floating point: both sides store and print the same number.
        bottom = math.ceil(domain.low * 4) + domain.low_strict if domain.low is not None else 0
        top = math.floor(domain.high * 4) - domain.high_strict if domain.high is not None else bottom + 400
        strategy = st.integers(bottom, max(bottom, min(top, bottom + 4000))).map(lambda q: Decimal(q) / 4)
    elif kind in ("jsonb", "json"):
        # Small documents as text: both sides parse them (jsonb normalises, json keeps the text).
        leaves = st.one_of(st.integers(-5, 100), st.text(alphabet="abc -", max_size=4), st.booleans(), st.none())
        strategy = st.dictionaries(st.sampled_from(["id", "kind", "n"]), leaves, max_size=3).map(json.dumps)
    elif kind == "bytea":
        strategy = st.binary(max_size=8)
    elif kind == "boolean":
        strategy = st.booleans()
    elif kind == "timestamptz":
        strategy = _timestamps()
    elif kind == "timestamp":
        strategy = _timestamps().map(lambda moment: moment.astimezone(dt.UTC).replace(tzinfo=None))
    elif kind == "uuid":
        strategy = st.integers(1, 6).map(lambda k: uuid.UUID(int=(0xBEEF << 16) | k))
    else:
        return st.none()
    if domain.excluded:
        strategy = strategy.filter(lambda value: value not in domain.excluded)
    return strategy


_FLOAT_TYPES = ("real", "double precision")
_GENERATED_TYPES = frozenset(
    {
        "integer",
        "bigint",
        "smallint",
        "numeric",
        "text",
        "varchar",
        "boolean",
        "timestamptz",
        "timestamp",
        "uuid",
        "jsonb",
        "json",
        "bytea",
        *_FLOAT_TYPES,
    }
)


def _generates(schema: Schema, table: str, column: str) -> bool:
    """Whether values of the column's type can be generated (else it is left to its default or NULL)."""
    domain = column_domain(schema, table, column)
    return bool(domain.allowed) or domain.type_name in _GENERATED_TYPES


def _edge_values(domain: Domain) -> st.SearchStrategy[Any]:
    """Values at and past the column's limits: what makes a statement fail, or a payload too big."""
    kind = domain.type_name
    if kind in ("integer", "bigint", "smallint"):
        return _weighted((3, st.integers(-(2**31), 2**31 - 1)), (1, st.integers(2**31, 2**33)))
    if kind == "numeric":
        return st.builds(
            lambda digits, exponent: Decimal(digits).scaleb(-exponent),
            st.integers(-(10**12), 10**12),
            st.integers(0, 5),
        )
    if kind in ("text", "varchar"):
        limit = domain.modifiers[0] if kind == "varchar" and domain.modifiers else None
        return _text(limit)
    return st.none()


def column_values(schema: Schema, table: str, column: str, *, mix: Mix = VALID) -> st.SearchStrategy[Any]:
    """Values for one column: valid for its type and CHECKs, and with ``mix.edges`` ‰, an edge case or NULL.

    One strategy object per schema, column and mix: a history draws from the same one each time.
    """
    return remembered(schema, ("values", table, column, mix), lambda: _column_values(schema, table, column, mix))


def _column_values(schema: Schema, table: str, column: str, mix: Mix) -> st.SearchStrategy[Any]:
    definition = schema.tables[table]
    col = definition.column(column)
    if col is None:
        raise KeyError(f"{table}.{column}")
    domain = column_domain(schema, table, column)
    edge = _weighted((3, _edge_values(domain)), (1, st.none()))
    # Values a notify site's condition turns on (``IF NEW.amount > 990``), so its branch is reached.
    hints = [value for value in guards(schema).values.get((table, column), ()) if value is not None or not col.not_null]
    # NULL one time in 7 where the column allows it; then a hint one time in 4.
    valid, null = (6, 1) if not col.not_null else (1, 0)
    scale = 3 if hints else 1
    weights = (valid * scale, null * scale, (valid + null) if hints else 0)
    return _column_draw(_valid_values(domain), tuple(hints), weights, edge, edges=max(mix.edges, 0))


@st.composite
def _column_draw(
    draw: st.DrawFn,
    valid: st.SearchStrategy[Any],
    hints: tuple[Any, ...],
    weights: tuple[int, int, int],
    edge: st.SearchStrategy[Any],
    *,
    edges: int,
) -> Any:
    """A column's value in one span: ``edges`` ‰ an edge case, else valid, NULL or a hint by ``weights``."""
    if edges and _rarely(draw, edges):
        return draw(edge)
    if weights[1] or weights[2]:
        ticket = draw(integers(0, sum(weights) - 1))
        if ticket >= weights[0] + weights[1]:
            return choice(draw, hints)
        if ticket >= weights[0]:
            return None
    return draw(valid)


def _tables(schema: Schema) -> tuple[str, ...]:
    """The public tables by name."""
    return remembered(schema, "tables", lambda: tuple(sorted(name for name in schema.tables if "." not in name)))


def _table_choice(schema: Schema, hooks: Hooks | None = None) -> tuple[tuple[int, str], ...]:
    """A public table, tables with triggers three times as often: that is where broadcasts start."""
    excluded = frozenset(hooks.exclude) if hooks is not None else frozenset()
    return remembered(schema, ("table_choice", excluded), lambda: _make_table_choice(schema, hooks))


def _make_table_choice(schema: Schema, hooks: Hooks | None) -> tuple[tuple[int, str], ...]:
    tables = [name for name in _tables(schema) if hooks is None or not hooks.excluded(name)]
    if not tables:
        raise InputError(
            "the SQL defines no table in the public schema to write to",
            fix="pass the files that create the tables, in load order",
        )
    return tuple((3 if schema.triggers_for(name) else 1, name) for name in tables)


def _parent_order(schema: Schema) -> list[str]:
    """Public tables, parents before children (self-references and cycles broken by name)."""
    return remembered(schema, "parent_order", lambda: _make_parent_order(schema))


def _make_parent_order(schema: Schema) -> list[str]:
    graph: nx.DiGraph[str] = nx.DiGraph()
    tables = _tables(schema)
    graph.add_nodes_from(tables)
    for table in tables:
        for fk in schema.tables[table].foreign_keys:
            if fk.ref_table in schema.tables and fk.ref_table != table and "." not in fk.ref_table:
                graph.add_edge(fk.ref_table, table)
    while not nx.is_directed_acyclic_graph(graph):
        cycle = nx.find_cycle(graph)
        graph.remove_edge(*min(cycle))
    return list(nx.lexicographical_topological_sort(graph))


@attrs.define
class _Rows:
    """What the drawn statements have put in the tables so far, assuming they all succeed.

    Keeping this while drawing is what lets an INSERT pick a fresh key and an existing
    parent, an UPDATE or DELETE hit a row that is there, and a DELETE avoid parents that
    still have children: statements that commit, so the triggers behind them run.
    """

    schema: Schema
    mix: Mix
    rows: dict[str, list[dict[str, Any]]] = attrs.Factory(dict)
    counters: dict[str, int] = attrs.Factory(dict)
    hooks: Hooks = attrs.Factory(Hooks)
    planned: int = 0  # UPDATEs drawn from the solver's plans so far

    def snapshot(self) -> tuple[dict[str, list[dict[str, Any]]], dict[str, int]]:
        return {t: [dict(r) for r in rows] for t, rows in self.rows.items()}, dict(self.counters)

    def restore(self, snapshot: tuple[dict[str, list[dict[str, Any]]], dict[str, int]]) -> None:
        rows, counters = snapshot
        self.rows = {t: [dict(r) for r in rs] for t, rs in rows.items()}
        # Counters never go back: a key used by a rolled-back row may be reused, but need not be.
        self.counters = {t: max(counters.get(t, 0), self.counters.get(t, 0)) for t in {*counters, *self.counters}}

    def present(self, table: str) -> list[dict[str, Any]]:
        return self.rows.setdefault(table, [])

    def referencing(self, table: str, row: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """The rows (with their tables) whose foreign keys point at ``row``."""
        found = []
        for child, fk in _children(self.schema, table):
            wanted = tuple(row.get(c) for c in fk.ref_columns)
            found += [
                (child, other)
                for other in self.present(child)
                if other is not row and tuple(other.get(c) for c in fk.columns) == wanted
            ]
        return found

    def referenced(self, table: str, row: dict[str, Any]) -> bool:
        return bool(self.referencing(table, row))

    def next_number(self, table: str) -> int:
        self.counters[table] = self.counters.get(table, 0) + 1
        return self.counters[table]


def _children(schema: Schema, table: str) -> list[tuple[str, Any]]:
    """The public tables with a foreign key to ``table``, with that key, children by name."""

    def make() -> list[tuple[str, Any]]:
        return [(child, fk) for child in _tables(schema) for fk in schema.tables[child].foreign_keys
                if fk.ref_table == table]  # fmt: skip

    return remembered(schema, ("children", table), make)


def _render_row(definition: TableDef, row: dict[str, Any], columns: list[str]) -> str:
    return "(" + ", ".join(sql_literal(row[name]) for name in columns) + ")"


def _overriding(definition: TableDef, columns: list[str]) -> str:
    """Explicit keys for GENERATED ALWAYS identity columns, so the history knows every row's key."""
    return " OVERRIDING SYSTEM VALUE" if set(columns) & set(definition.always_identity) else ""


def _unique_columns(definition: TableDef) -> frozenset[str]:
    return frozenset(name for key in definition.unique for name in key)


def _draw_row(
    draw: st.DrawFn, state: _Rows, table: str, steps: list[str], depth: int, *, preset: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """A new row for ``table``; parents it needs and lacks are inserted first (into ``steps``).

    Foreign keys are filled together: a key that shares columns with one already filled
    (``(lobby_id, round_id)`` and ``(lobby_id, player_id)``) takes a parent that agrees on
    them, and when no such parent exists one is inserted with the shared values. ``preset``
    fixes columns for a parent drawn that way.
    """
    schema = state.schema
    definition = schema.tables[table]
    number = state.next_number(table)
    unique = _unique_columns(definition)
    keys = [tuple(definition.primary_key), *definition.unique] if definition.primary_key else list(definition.unique)
    row: dict[str, Any] = dict(preset or {})
    for fk in definition.foreign_keys:
        pairs = list(zip(fk.columns, fk.ref_columns, strict=True))
        if all(c in row for c in fk.columns):
            continue
        shared = {remote: row[local] for local, remote in pairs if local in row}
        if any(value is None for value in shared.values()):
            for local in fk.columns:  # a NULL in the key: the database checks nothing
                row.setdefault(local, None)
            continue
        parent_rows = [
            r for r in state.present(fk.ref_table)
            if all(r.get(c) is not None for c in fk.ref_columns)
            and all(r.get(remote) == value for remote, value in shared.items())
        ] if fk.ref_table in schema.tables else []  # fmt: skip
        # A key or unique column set filled by this foreign key must not repeat one already taken.
        covered = [key for key in keys if set(key) <= set(row) | set(fk.columns) and set(key) & set(fk.columns)]
        if covered and parent_rows:
            remote_of = dict(pairs)
            taken = [{tuple(r.get(c) for c in key) for r in state.present(table)} for key in covered]
            parent_rows = [
                p for p in parent_rows
                if all(
                    tuple(p.get(remote_of[c]) if c in remote_of else row[c] for c in key) not in seen
                    for key, seen in zip(covered, taken, strict=True)
                )
            ]  # fmt: skip
        fk_defs = [definition.column(c) for c in fk.columns]
        required = any(c is not None and c.not_null for c in fk_defs) or any(
            c in definition.primary_key for c in fk.columns
        )
        if not shared and _rarely(draw, state.mix.edges):
            missing = choice(draw, ("null", "absent"))
            for local, remote in pairs:
                row[local] = None if missing == "null" else key_value(schema, fk.ref_table, remote, 10_000)
            continue
        if not parent_rows or (not required and not shared and _rarely(draw, 150)):
            if (
                (not required and not shared) or fk.ref_table == table or depth > 3
                or fk.ref_table not in schema.tables or state.hooks.excluded(fk.ref_table)
            ):  # fmt: skip
                if required and state.hooks.excluded(fk.ref_table):
                    return None  # its parent can come only from seed rows, and none fits
                for local in fk.columns:
                    row.setdefault(local, None)
                continue
            parent = _draw_row(draw, state, fk.ref_table, steps, depth + 1, preset=shared)
            if parent is None:
                return None
            parent_rows = [parent]
        parent = choice(draw, parent_rows)
        for local, remote in pairs:
            row[local] = parent.get(remote)
    hooked = state.hooks.columns
    for col in definition.columns:
        if col.name in row or state.hooks.excluded(table, col.name):
            continue
        if col.name in definition.primary_key or col.name in unique:
            row[col.name] = key_value(schema, table, col.name, number)
        elif f"{table}.{col.name}" in hooked:
            row[col.name] = draw(hooked[f"{table}.{col.name}"])
        elif col.default is not None and (not _generates(schema, table, col.name) or draw(integers(0, 2)) == 0):
            continue  # leave it to the column's DEFAULT
        elif (col.not_null and col.default is None) or draw(integers(0, 3)) > 0:
            row[col.name] = draw(column_values(schema, table, col.name, mix=state.mix))
    if table in state.hooks.rows:
        keyed = {*definition.primary_key, *unique, *(c for fk in definition.foreign_keys for c in fk.columns)}
        row.update({c: v for c, v in draw(state.hooks.rows[table]).items() if c not in keyed})
    _fresh_keys(state, table, row, number, keys)
    left = {c.name for c in definition.columns if state.hooks.excluded(table, c.name)}
    _satisfy_checks(draw, state, table, row, known=row, fixed={*definition.primary_key, *unique, *left})
    state.present(table).append(row)
    if depth > 0:  # a parent inserted on the way is a statement of its own
        columns = list(row)
        steps.append(
            f"INSERT INTO {table} ({', '.join(columns)}){_overriding(definition, columns)}"
            f" VALUES {_render_row(definition, row, columns)}"
        )
    return row


def _fresh_keys(state: _Rows, table: str, row: dict[str, Any], number: int, keys: list[tuple[str, ...]]) -> None:
    """Move the drawn key columns past a key another row (a seed row) already holds."""
    schema = state.schema
    fk_columns = {c for fk in schema.tables[table].foreign_keys for c in fk.columns}
    for _ in range(50):
        clash = [
            key for key in keys
            if all(c in row for c in key)
            and any(all(other.get(c) == row[c] for c in key) for other in state.present(table))
        ]  # fmt: skip
        movable = [c for key in clash for c in key if c not in fk_columns]
        if not movable:
            return
        number = state.next_number(table)
        for column in movable:
            row[column] = key_value(schema, table, column, number)


def _satisfy_checks(
    draw: st.DrawFn, state: _Rows, table: str, row: dict[str, Any], *, known: dict[str, Any], fixed: set[str]
) -> None:
    """Repair ``row`` (in place) so the table's CHECKs across columns hold, moving no ``fixed`` column.

    ``known`` is what the row holds as far as the history knows (a row being updated:
    the old values under the new ones). A column a check reads that the row leaves to its
    DEFAULT is drawn, so the check can be judged before the database does.
    """
    schema = state.schema
    checks = row_checks(schema, table)
    if not checks:
        return
    definition = schema.tables[table]
    single_fks = {fk.columns[0]: fk for fk in definition.foreign_keys if len(fk.columns) == 1}
    composite = {c for fk in definition.foreign_keys if len(fk.columns) > 1 for c in fk.columns}
    movable = {c.name for c in definition.columns if c.name not in fixed and c.name not in composite}
    for column in sorted({c for check in checks for c in check.columns} - set(known)):
        if column in movable and _generates(schema, table, column):
            row[column] = known[column] = draw(column_values(schema, table, column, mix=state.mix))

    def fresh(column: str) -> Any:
        fk = single_fks.get(column)
        if fk is not None:
            parents = [r.get(fk.ref_columns[0]) for r in state.present(fk.ref_table)]
            parents = [value for value in parents if value is not None]
            return choice(draw, parents) if parents else None
        domain = column_domain(schema, table, column)
        return draw(remembered(schema, ("valid", table, column), lambda: _valid_values(domain)))

    not_null = frozenset(c.name for c in definition.columns if c.not_null)
    before = dict(known)
    repair(known, checks, fresh, frozenset(movable), not_null)
    for column, value in known.items():
        if column in row or value != before.get(column):
            row[column] = value


def _insert(draw: st.DrawFn, state: _Rows, table: str) -> list[str]:
    steps: list[str] = []
    definition = state.schema.tables[table]
    rows = []
    for _ in range(draw(integers(1, 3))):
        row = _draw_row(draw, state, table, steps, 0)
        if row is not None:
            rows.append(row)
    if not rows:
        return steps
    columns = [c.name for c in definition.columns if any(c.name in r for r in rows)]
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(c for c in columns if c in row), []).append(row)
    for group_columns, group in groups.items():
        names = list(group_columns)
        values = ", ".join(_render_row(definition, row, names) for row in group)
        steps.append(f"INSERT INTO {table} ({', '.join(names)}){_overriding(definition, names)} VALUES {values}")
    return steps


def _watched_columns(schema: Schema, table: str) -> frozenset[str]:
    """Columns an UPDATE trigger names (``UPDATE OF``), whose change is what makes it fire."""
    return remembered(
        schema, ("watched", table),
        lambda: frozenset(c for trigger in schema.triggers_for(table) for c in trigger.update_columns),
    )  # fmt: skip


def _key_condition(definition: TableDef, row: dict[str, Any]) -> str:
    parts = []
    for name in definition.primary_key or definition.column_names:
        value = row.get(name)
        parts.append(f"{name} IS NULL" if value is None else f"{name} = {sql_literal(value)}")
    return " AND ".join(parts)


def _absent_row(schema: Schema, definition: TableDef) -> dict[str, Any]:
    return {name: key_value(schema, definition.name, name, 10_000) for name in definition.primary_key}


def _update(draw: st.DrawFn, state: _Rows, table: str) -> list[str]:
    schema = state.schema
    definition = schema.tables[table]
    unique = _unique_columns(definition)
    fk_columns = {c for fk in definition.foreign_keys for c in fk.columns}
    watched = _watched_columns(schema, table)
    settable = [
        c.name
        for c in definition.columns
        if c.name not in definition.primary_key
        and c.name not in unique
        and c.name not in fk_columns
        and not state.hooks.excluded(table, c.name)
        for _ in range(4 if c.name in watched else 2 if c.type_name in ("boolean", "timestamptz") else 1)
    ]
    present = state.present(table)
    if not settable or not definition.primary_key:
        return _insert(draw, state, table)
    plans = reachability(schema).plans.get(table, ())
    if plans and present and draw(integers(0, 1)) == 0:
        # Plans in turn (from a drawn start): each guard and each negation gets its UPDATEs.
        state.planned += 1
        plan = plans[(draw(integers(0, len(plans) - 1)) + state.planned) % len(plans)]
        return _planned_update(state, table, choice(draw, present), plan)
    chosen = draw(_column_sets(tuple(settable)))
    hooked = state.hooks.columns
    values = {
        c: draw(hooked[f"{table}.{c}"] if f"{table}.{c}" in hooked else column_values(schema, table, c, mix=state.mix))
        for c in chosen
    }
    sets = ", ".join(f"{c} = {sql_literal(v)}" for c, v in values.items())
    # One SET for every child of a parent cannot be repaired row by row against CHECKs across columns.
    tied = any(set(chosen) & check.columns for check in row_checks(schema, table))
    by_parent = [fk for fk in definition.foreign_keys if present and draw(integers(0, 3)) == 3 and not tied]
    if by_parent:
        fk = by_parent[0]
        target = choice(draw, present)
        match = [r for r in present if all(r.get(c) == target.get(c) for c in fk.columns)]
        condition = " AND ".join(
            f"{c} IS NULL" if target.get(c) is None else f"{c} = {sql_literal(target.get(c))}" for c in fk.columns
        )
    else:
        absent = not present or _rarely(draw, 100)
        target = _absent_row(schema, definition) if absent else choice(draw, present)
        match = [] if absent else [target]
        condition = _key_condition(definition, target)
        if match:
            # Conditions such as NEW.amount < OLD.amount: move the column from where it is.
            for (moved_table, column), ops in guards(schema).moves.items():
                if moved_table == table and column in values and draw(integers(0, 2)) == 0:
                    domain = column_domain(schema, table, column)
                    value = moved(domain, target.get(column), choice(draw, ops))
                    values[column] = value if value is not None else values[column]
            fixed = set(definition.column_names) - set(settable)
            _satisfy_checks(draw, state, table, values, known={**target, **values}, fixed=fixed)
            sets = ", ".join(f"{c} = {sql_literal(v)}" for c, v in values.items())
    for row in match:
        row.update(values)
    return [f"UPDATE {table} SET {sets} WHERE {condition}"]


def _planned_update(state: _Rows, table: str, target: dict[str, Any], plan: GuardPlan) -> list[str]:
    """UPDATEs that take ``target`` to the plan's OLD values (unless it holds them), then to its NEW ones."""
    definition = state.schema.tables[table]
    condition = _key_condition(definition, target)
    steps = []
    for final, values in ((False, dict(plan.old)), (True, dict(plan.new))):
        # The final UPDATE runs even when the row already holds its values: it still fires the trigger.
        if values and (final or any(target.get(c, _ABSENT) != v for c, v in values.items())):
            sets = ", ".join(f"{c} = {sql_literal(v)}" for c, v in values.items())
            steps.append(f"UPDATE {table} SET {sets} WHERE {condition}")
            target.update(values)
    return steps


_ABSENT = object()


def _delete(draw: st.DrawFn, state: _Rows, table: str) -> list[str]:
    definition = state.schema.tables[table]
    if not definition.primary_key:
        return _insert(draw, state, table)
    present = state.present(table)
    if not present or _rarely(draw, 100):
        return [f"DELETE FROM {table} WHERE {_key_condition(definition, _absent_row(state.schema, definition))}"]
    free = [row for row in present if not state.referenced(table, row)]
    target = choice(draw, free or present)
    return _delete_row(state, table, target, 0)


def _delete_row(state: _Rows, table: str, row: dict[str, Any], depth: int) -> list[str]:
    """DELETE one row, its children first (what ON DELETE CASCADE would do, written out)."""
    steps: list[str] = []
    for child, other in state.referencing(table, row):
        if depth < 4 and other in state.present(child) and state.schema.tables[child].primary_key:
            steps += _delete_row(state, child, other, depth + 1)
    if row in state.present(table):
        state.present(table).remove(row)
    return [*steps, f"DELETE FROM {table} WHERE {_key_condition(state.schema.tables[table], row)}"]


_ACTIONS = {"insert": _insert, "update": _update, "delete": _delete}
# What to do to a table that has rows (insert, update, delete as 2 : 3 : 1), and to one that has none.
_ANY_ACTION = tuple(zip((2, 3, 1), _ACTIONS, strict=True))
_INSERT_ONLY = ((1, "insert"),)
_BOOLEANS = st.booleans()


@lru_cache(maxsize=1024)
def _column_sets(settable: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    """One to three distinct columns of ``settable`` (a column listed more than once is drawn more often)."""
    return st.lists(st.sampled_from(settable), min_size=1, max_size=3, unique=True)


def _statement(draw: st.DrawFn, state: _Rows, table: str | None = None, action: str | None = None) -> list[str]:
    table = table or pick(draw, _table_choice(state.schema, state.hooks))
    if action is None:
        action = pick(draw, _ANY_ACTION if state.present(table) else _INSERT_ONLY)
    return _ACTIONS[action](draw, state, table)


@st.composite
def insert_statements(
    draw: st.DrawFn, schema: Schema | None = None, table: str | None = None, *, mix: Mix = VALID
) -> str:
    """``INSERT INTO t (cols) VALUES (…)`` with fresh keys (parents, when needed, come first, ``;``-joined)."""
    state = _Rows(_schema_or_default(schema), mix)
    return "; ".join(_statement(draw, state, table, "insert"))


@st.composite
def update_statements(
    draw: st.DrawFn, schema: Schema | None = None, table: str | None = None, *, mix: Mix = VALID
) -> str:
    """``UPDATE t SET … WHERE <key> = …`` (never a key or unique column)."""
    state = _Rows(_schema_or_default(schema), mix)
    chosen = table or pick(draw, _table_choice(state.schema))
    seeded = _statement(draw, state, chosen, "insert")
    del seeded  # a row to aim at; on its own the UPDATE may find nothing, which is fine
    return _statement(draw, state, chosen, "update")[-1]


@st.composite
def delete_statements(
    draw: st.DrawFn, schema: Schema | None = None, table: str | None = None, *, mix: Mix = VALID
) -> str:
    """``DELETE FROM t WHERE <key> = …``."""
    state = _Rows(_schema_or_default(schema), mix)
    return _statement(draw, state, table, "delete")[-1]


def statements(schema: Schema | None = None, *, mix: Mix = VALID) -> st.SearchStrategy[str]:
    """Any INSERT/UPDATE/DELETE on the schema's public tables (inserts most often)."""
    return _weighted(
        (3, insert_statements(schema, mix=mix)),
        (2, update_statements(schema, mix=mix)),
        (1, delete_statements(schema, mix=mix)),
    )


@st.composite
def row_values(
    draw: st.DrawFn, schema: Schema, table: str, columns: list[str] | None = None, *, mix: Mix = VALID
) -> dict[str, Any]:
    """One row's values (the given columns, or the key, required columns and some optional ones)."""
    definition = schema.tables[table]
    names = columns if columns is not None else [
        c.name for c in definition.columns
        if c.name in definition.primary_key or (c.not_null and c.default is None) or draw(_BOOLEANS)
    ]  # fmt: skip
    return {name: draw(column_values(schema, table, name, mix=mix)) for name in names}


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


def _update_trigger_tables(schema: Schema) -> list[str]:
    return remembered(schema, "update_trigger_tables", lambda: [
        name
        for name in _tables(schema)
        if any("UPDATE" in t.events and t.level == "ROW" for t in schema.triggers_for(name))
    ])  # fmt: skip


def _transaction(draw: st.DrawFn, state: _Rows, max_statements: int) -> TransactionSpec:
    schema = state.schema
    at_begin = state.snapshot()
    steps: list[str] = []
    savepoints: list[tuple[str, Any]] = []
    for _ in range(draw(integers(1, max_statements))):
        # Hypothesis favours small draws: 0-5 (the simplest) is a plain statement.
        action = draw(integers(0, 11)) - 6
        repeatable = [s for s in steps if s.startswith(("UPDATE", "DELETE"))]
        updated = [t for t in _update_trigger_tables(schema) if not state.hooks.excluded(t)]
        if action == 0 and updated:
            # The same UPDATE twice re-sends an identical payload: PostgreSQL drops the duplicate.
            table = choice(draw, updated)
            update = _statement(draw, state, table, "update" if state.present(table) else "insert")
            steps += update + update[-1:] if update[-1].startswith("UPDATE") else update
        elif action == 1 and repeatable:
            steps.append(choice(draw, repeatable))
        elif action in (2, 3):
            name = f"s{len(savepoints) + 1}"
            savepoints.append((name, state.snapshot()))
            steps.append(f"SAVEPOINT {name}")
        elif action in (4, 5) and savepoints:
            index = draw(integers(0, len(savepoints) - 1))
            name, snapshot = savepoints[index]
            if draw(_BOOLEANS):
                steps.append(f"ROLLBACK TO SAVEPOINT {name}")
                state.restore(snapshot)
                del savepoints[index + 1 :]
            else:
                steps.append(f"RELEASE SAVEPOINT {name}")
                del savepoints[index:]
        else:
            steps += _statement(draw, state)
    commit = not _rarely(draw, state.mix.rollbacks)
    if not commit:
        state.restore(at_begin)
    return TransactionSpec(tuple(steps), commit)


@st.composite
def transactions(
    draw: st.DrawFn,
    schema: Schema | None = None,
    max_statements: int = 8,
    *,
    mix: Mix = VALID,
    hooks: Hooks | None = None,
) -> TransactionSpec:
    """A transaction: statements, repeats of earlier ones, savepoints rolled back or released."""
    return _transaction(draw, _state(schema, mix, hooks), max_statements)


def _state(schema: Schema | None, mix: Mix, hooks: Hooks | None) -> _Rows:
    resolved = _schema_or_default(schema)
    if hooks is None:
        return _Rows(resolved, mix)
    hooks.validate(resolved)
    return _Rows(resolved, mix, hooks=hooks)


@st.composite
def histories(
    draw: st.DrawFn,
    schema: Schema | None = None,
    max_transactions: int | None = None,
    max_statements: int | None = None,
    *,
    mix: Mix = VALID,
    hooks: Hooks | None = None,
    speed: Speed | str = DEFAULT_SPEED,
) -> History:
    """Transactions that build on each other: fresh keys for inserts, existing rows for updates and deletes.

    Every statement is drawn against the rows earlier statements made (parents before
    children, no key twice, no parent deleted under its children), so with the default
    :data:`VALID` mix nearly every transaction commits and the triggers behind it run.
    ``hooks`` (:class:`Hooks`) gives strategies per table or column, exclusions and seed rows;
    the seed rows are the first transaction of every history. ``speed`` (a :class:`Speed` or
    its name, ``"default"`` or ``"fast"``) bounds the transactions and their statements where
    ``max_transactions`` and ``max_statements`` are not given.
    """
    profile = speed_profile(speed)
    max_transactions = profile.max_transactions if max_transactions is None else max_transactions
    max_statements = profile.max_statements if max_statements is None else max_statements
    state = _state(schema, mix, hooks)
    _note_unfollowed(state.schema)
    chosen: list[TransactionSpec] = []
    if state.hooks.seed_rows:
        chosen.append(_seed_rows(state))
    if draw(integers(0, 4)) < 4:
        chosen.append(_seed(draw, state))
    count = draw(integers(1, max_transactions))
    chosen += [_transaction(draw, state, max_statements) for _ in range(count)]
    return History(tuple(chosen))


def _note_unfollowed(schema: Schema) -> None:
    """Tell the coverage being recorded which CHECKs the generated rows do not try to satisfy."""
    coverage = current_coverage()
    if coverage is None:
        return
    for table in _tables(schema):
        for check in unfollowed_checks(schema, table):
            coverage.unfollowed.setdefault(f"{table}.{check.name}", check.sql)
    coverage.unreachable.update(reachability(schema).unreachable)


def _seed_rows(state: _Rows) -> TransactionSpec:
    """The hooks' seed rows, parents first, recorded so generated rows can reference them."""
    steps = []
    for table in _parent_order(state.schema):
        rows = [dict(row) for row in state.hooks.seed_rows.get(table, ())]
        definition = state.schema.tables[table]
        for row in rows:
            columns = list(row)
            steps.append(
                f"INSERT INTO {table} ({', '.join(columns)}){_overriding(definition, columns)}"
                f" VALUES {_render_row(definition, row, columns)}"
            )
            state.present(table).append(row)
    return TransactionSpec(tuple(steps), True)


def _seed(draw: st.DrawFn, state: _Rows) -> TransactionSpec:
    steps: list[str] = []
    valid = attrs.evolve(state, mix=attrs.evolve(state.mix, edges=0))
    for table in _parent_order(state.schema):
        if state.hooks.excluded(table):
            continue
        steps += _insert(draw, valid, table)
    state.rows, state.counters = valid.rows, valid.counters
    return TransactionSpec(tuple(steps), True)


@st.composite
def seed_transactions(draw: st.DrawFn, schema: Schema | None = None) -> TransactionSpec:
    """Parents first: valid rows for every table in foreign-key order, so later statements have targets."""
    return _seed(draw, _Rows(_schema_or_default(schema), VALID))


def steer() -> None:
    """Steer the running Hypothesis example towards notify sites and branches not fired yet.

    Call it at the end of a property test's body: it records ``target()`` on the number of
    distinct sites and branches the example fired (and on their rarity); each transaction
    already recorded an ``event()`` per site and branch it reached. ``Differential.run_history``
    calls it for you. Outside a recorded Hypothesis test it does nothing.
    """
    coverage = current_coverage()
    if coverage is not None:
        coverage.steer()


def measure_coverage(
    files: Sequence[str | Path],
    *,
    examples: int = 200,
    mix: Mix = VALID,
    model: DatabaseModel | None = None,
    differential: Differential | None = None,
    hooks: Hooks | None = None,
    speed: Speed | str = DEFAULT_SPEED,
) -> Coverage:
    """Run ``examples`` generated histories (derandomized) and say what they reached.

    On the model of ``files`` alone, or — given a :class:`~bcastsim.db.Differential` —
    on PostgreSQL and the model together, counting in ``mismatches`` the histories on
    which they disagreed.
    """
    if differential is not None:
        model = differential.model
    model = model or DatabaseModel.from_sql(files)
    schema = model.schema

    @settings(
        max_examples=examples, derandomize=True, database=None, deadline=None,
        suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
    )  # fmt: skip
    @given(history=histories(schema, mix=mix, hooks=hooks, speed=speed))
    def run(history: History) -> None:
        transactions = [(spec.steps, spec.commit) for spec in history.transactions]
        if differential is not None:
            coverage.mismatches += bool(differential.run_history(transactions))
            return
        model.reset()
        for steps, commit in transactions:
            try:
                model.run_transaction(steps, commit=commit)
            except UnsupportedError as error:
                # Valid SQL the model cannot follow is a finding of the run, not a crash of it.
                coverage.transactions += 1
                where = error.location()
                coverage.unsupported[f"{where}: {error}" if where else str(error)] += 1
        coverage.steer()

    with recording(Coverage(tuple(str(path) for path in files))) as coverage:
        run()
    return coverage
