"""``review --pg``: run both versions in a real PostgreSQL on the same generated writes and diff what they send.

The workload is drawn by :func:`bcastsim.strategies.histories`, the generator of the property
tests (joint foreign keys, CHECKs and guards decided by z3, UPDATEs planned to meet each guard
and miss it): a fixed number of histories on each version's schema, with Hypothesis' ``seed``,
so one seed gives one workload. Every history runs on both versions, from empty tables,
translated into the other version's names where a table or column was renamed. Messages are
paired by message type and destination, volatile values (times the database chose) are
masked, and each message is counted against the notify site that sent it: the report states
the transactions run and committed per version, the messages compared per site, and the
differences, and is ``pg-inconclusive`` when nothing, or no message of a changed site, was compared.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import pglast
from pglast import ast
from pglast.stream import RawStream

from bcastsim._errors import InputError
from bcastsim.findings import Finding, Severity
from bcastsim.review._pgcontain import cut_findings, load_site, placed, swallowed_refusals
from bcastsim.review._report import RuleInfo

if TYPE_CHECKING:
    from bcastsim.db import Schema
    from bcastsim.db._coverage import Coverage
    from bcastsim.db._schema import TableDef
    from bcastsim.pg import Database, EphemeralPostgres, TransactionResult
    from bcastsim.sqlmodel import Catalog
    from bcastsim.strategies import History, Hooks

__all__ = [
    "DEFAULT_EXAMPLES",
    "PG_RULES",
    "PgCounts",
    "PgOutcome",
    "SiteCount",
    "Transaction",
    "Workload",
    "changed_functions",
    "generate_workload",
    "pg_diff",
    "pg_review",
    "schema_mapping",
    "translate",
    "with_renames",
]

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}(:?\d{2})?|Z)?$")


def _info(rule_id: str, severity: Severity, title: str, why: str, fix: str) -> RuleInfo:
    return RuleInfo(id=rule_id, severity=severity, title=title, why=why, fix=fix)


PG_RULES: dict[str, RuleInfo] = {
    info.id: info
    for info in (
        _info(
            "pg-write-failed",
            Severity.ERROR,
            "A write that committed before now fails",
            "In the real database the new triggers abort a transaction the old ones let commit: the "
            "business row is lost.",
            "run the transaction shown in the example against the new SQL and fix the error it raises",
        ),
        _info(
            "pg-write-fixed",
            Severity.NOTE,
            "A write that failed before now commits",
            "The new version no longer aborts this transaction.",
            "none needed",
        ),
        _info(
            "pg-message-missing",
            Severity.ERROR,
            "A message the old version sent is no longer sent",
            "Observed in PostgreSQL: subscribers of this destination stop receiving this message.",
            "send it again, or move the subscribers in the same release",
        ),
        _info(
            "pg-destination-changed",
            Severity.ERROR,
            "The same message goes to a different topic",
            "Observed in PostgreSQL on the same writes: the message now goes to another channel or topic "
            "value, so subscribers of the old one miss it.",
            "build the topic from the same value as before, or move the subscribers",
        ),
        _info(
            "pg-message-added",
            Severity.NOTE,
            "A message the old version did not send",
            "Observed in PostgreSQL: a new message reaches this destination.",
            "check who receives it",
        ),
        _info(
            "pg-payload-changed",
            Severity.WARNING,
            "The payload actually sent changed",
            "Observed in PostgreSQL on the same writes: keys or values differ between the versions.",
            "check every subscriber reads the new shape",
        ),
        _info(
            "pg-delivery-changed",
            Severity.WARNING,
            "The same message travels differently",
            "Observed in PostgreSQL: the transport or the private flag of the message changed, so who "
            "receives it changed.",
            "move the subscribers (and RLS policies) with it",
        ),
        _info(
            "pg-needs-superuser",
            Severity.ERROR,
            "The SQL needs superuser rights",
            "Reviewed SQL runs as a role without superuser rights (and without the roles that run programs or "
            "read and write server files), so nothing in a change can reach outside its database. PostgreSQL "
            "refused this statement for lack of privilege: on a managed database it fails the same way, or it "
            "runs with rights nobody reviewed.",
            "do it without superuser rights (no COPY ... PROGRAM, server files or ALTER SYSTEM in a migration), "
            "or have an administrator do it outside the migration",
        ),
        _info(
            "pg-refusal-unseen",
            Severity.NOTE,
            "A refusal the review cannot see",
            "An EXECUTE whose statement is built at run time sits in an exception block that catches a "
            "privilege error, in a function the workload ran. PostgreSQL reports an error a handler caught to "
            "nobody (pl_exec.c, exec_stmt_block), and the statement's text is not known before it runs, so the "
            "review cannot say whether PostgreSQL refused it.",
            "catch only the errors the block expects (not WHEN others), or build the statement from constants "
            "so that it can be read",
        ),
        _info(
            "pg-inconclusive",
            Severity.ERROR,
            "PostgreSQL compared nothing, not all, or nothing of what changed",
            "No transaction of the workload committed in both versions with a message sent, no message of a "
            "notify site the change touches was compared, or a bound of the review (a cap on what is captured, a "
            "timeout, the memory or time limit) stopped the SQL, so what it sent past that point was not "
            "compared: a clean report here would say nothing about the change.",
            "pass the tables the triggers need with --schema, check the constraints the workload broke (the most "
            "common error is named), or raise --examples until the changed site fires",
        ),
        _info(
            "pg-load-failed",
            Severity.ERROR,
            "The new version does not load in PostgreSQL",
            "The migration fails to apply on a database where the old version applies.",
            "run the new SQL against a scratch database and fix the error",
        ),
    )
}


# -- the workload: histories drawn by bcastsim.strategies, the same writes on both versions --

# Histories drawn on each version's schema (so twice this many in all); ``--examples`` changes it.
DEFAULT_EXAMPLES = 20


@attrs.frozen
class Transaction:
    """One transaction of the workload, as each version runs it, and the history it belongs to.

    ``old`` and ``new`` are the same writes; they differ only where the versions name a table
    or column differently (a rename) or one of them lacks a column (see :class:`Workload`).
    """

    old: tuple[str, ...]
    new: tuple[str, ...]
    commit: bool
    history: int
    drawn_on: str  # "old" or "new": the schema the history was drawn on


@attrs.frozen
class Workload:
    """The transactions both versions run, the literal times they write, and what was bridged between them.

    Each history starts on empty tables. ``schema_notes`` say where the versions' tables
    differ and what the translation did about it (renamed tables and columns are translated;
    a column only one version has is left out of the other's statements).
    """

    transactions: tuple[Transaction, ...]
    literal_times: frozenset[str]
    histories: int
    schema_notes: tuple[str, ...] = ()
    seed: int = 0
    # Channels of plain NOTIFY statements (of either version), which the capture must LISTEN on.
    listen: tuple[str, ...] = ()


@attrs.frozen
class _Mapping:
    """How one version's statements read in the other: renamed tables and columns, columns it lacks."""

    tables: Mapping[str, str] = attrs.field(factory=dict)
    columns: Mapping[tuple[str, str], str] = attrs.field(factory=dict)
    dropped: frozenset[tuple[str, str]] = frozenset()

    def touches(self, table: str) -> bool:
        return table in self.tables or any(t == table for t, _ in (*self.columns, *self.dropped))


def _public_tables(schema: Schema) -> dict[str, TableDef]:
    return {name: table for name, table in schema.tables.items() if "." not in name}


def _column_types(table: TableDef) -> tuple[tuple[str, str], ...]:
    return tuple((column.name, column.type_name) for column in table.columns)


def _paired_columns(old: TableDef, new: TableDef) -> dict[str, str]:
    """Old column → new column for a rename: the only column of its type gone and the only one of it new."""
    gone = [c for c in old.columns if new.column(c.name) is None]
    added = [c for c in new.columns if old.column(c.name) is None]
    pairs = {}
    for column in gone:
        same_old = [c for c in gone if c.type_name == column.type_name]
        same_new = [c for c in added if c.type_name == column.type_name]
        if len(same_old) == 1 and len(same_new) == 1:
            pairs[column.name] = same_new[0].name
    return pairs


def schema_mapping(old: Schema, new: Schema) -> tuple[_Mapping, _Mapping, tuple[str, ...]]:
    """(old → new, new → old, notes): how each version's statements read in the other.

    A table only one version has, whose columns (names and types) are exactly those of a table
    only the other has, is that table renamed; within a table, a column of a type only one
    column of the old version loses and only one column of the new version gains is that
    column renamed. Anything else only one version has is left out of the other's statements
    and named in the notes.
    """
    olds, news = _public_tables(old), _public_tables(new)
    notes: list[str] = []
    renamed: dict[str, str] = {}
    only_new = sorted(set(news) - set(olds))
    for name in sorted(set(olds) - set(news)):
        same = [n for n in only_new if _column_types(news[n]) == _column_types(olds[name])]
        if len(same) == 1 and same[0] not in renamed.values():
            renamed[name] = same[0]
            notes.append(f"table {name} is {same[0]} in the new version (same columns): statements are translated")
        else:
            notes.append(f"table {name} exists only in the old version: the new version's writes to it fail")
    for name in only_new:
        if name not in renamed.values():
            notes.append(f"table {name} exists only in the new version: histories drawn on it fail in the old")
    forward: dict[tuple[str, str], str] = {}
    backward: dict[tuple[str, str], str] = {}
    old_only: set[tuple[str, str]] = set()
    new_only: set[tuple[str, str]] = set()
    for name, target in sorted([*((n, n) for n in olds if n in news), *renamed.items()]):
        before, after = olds[name], news[target]
        pairs = _paired_columns(before, after)
        for was, renamed_to in sorted(pairs.items()):
            forward[(name, was)] = renamed_to
            backward[(target, renamed_to)] = was
            notes.append(f"column {name}.{was} is {target}.{renamed_to} in the new version: statements are translated")
        for column in before.columns:
            if after.column(column.name) is None and column.name not in pairs:
                old_only.add((name, column.name))
                notes.append(
                    f"column {name}.{column.name} exists only in the old version: left out of the new's writes"
                )
        for column in after.columns:
            if before.column(column.name) is None and column.name not in pairs.values():
                new_only.add((target, column.name))
                filled = (
                    "inserts into it fail there (NOT NULL, no DEFAULT)"
                    if column.not_null and column.default is None
                    else "its DEFAULT fills it there"
                )
                notes.append(
                    f"column {target}.{column.name} exists only in the new version: left out of the old's writes;"
                    f" in histories drawn on the old version {filled}"
                )
    to_new = _Mapping(renamed, forward, frozenset(old_only))
    to_old = _Mapping({new: old for old, new in renamed.items()}, backward, frozenset(new_only))
    return to_new, to_old, tuple(notes)


def _rename_columns(node: Any, columns: Mapping[str, str]) -> None:
    """Rename the column references under ``node`` (in place)."""
    if isinstance(node, ast.ColumnRef):
        fields = list(node.fields or ())
        last = fields[-1] if fields else None
        if isinstance(last, ast.String) and str(last.sval) in columns:
            fields[-1] = ast.String(sval=columns[str(last.sval)])
            node.fields = tuple(fields)
        return
    if isinstance(node, tuple | list):
        for item in node:
            _rename_columns(item, columns)
        return
    if isinstance(node, ast.Node):
        for name in node:
            _rename_columns(getattr(node, name), columns)


def translate(statement: str, mapping: _Mapping) -> str:
    """``statement`` as it reads in the other version: tables and columns renamed, missing columns left out.

    An UPDATE left with nothing to set becomes ``SELECT 1`` (the transaction keeps its steps);
    a statement that does not parse, or touches nothing the mapping names, is returned as it is.
    """
    if not (mapping.tables or mapping.columns or mapping.dropped):
        return statement
    if not statement.lstrip()[:6].upper().startswith(("INSERT", "UPDATE", "DELETE")):
        return statement
    try:
        parsed = pglast.parse_sql(statement)
    except pglast.parser.ParseError:
        return statement
    if len(parsed) != 1:
        return statement
    stmt: Any = parsed[0].stmt
    relation = getattr(stmt, "relation", None)
    if relation is None or relation.schemaname not in (None, "public") or not mapping.touches(relation.relname):
        return statement
    table = str(relation.relname)
    renamed = {column: new for (t, column), new in mapping.columns.items() if t == table}
    dropped = {column for t, column in mapping.dropped if t == table}
    relation.relname = mapping.tables.get(table, table)
    select: Any = getattr(stmt, "selectStmt", None)
    if isinstance(stmt, ast.InsertStmt) and stmt.cols and select is not None and select.valuesLists:
        names = [str(column.name) for column in stmt.cols]
        keep = [index for index, name in enumerate(names) if name not in dropped]
        if not keep:
            return f"INSERT INTO {RawStream()(relation)} DEFAULT VALUES"
        stmt.cols = tuple(ast.ResTarget(name=renamed.get(names[index], names[index])) for index in keep)
        select.valuesLists = tuple(tuple(values[index] for index in keep) for values in select.valuesLists)
    elif isinstance(stmt, ast.UpdateStmt):
        targets = [target for target in stmt.targetList or () if target.name not in dropped]
        if not targets:
            return "SELECT 1"
        for target in targets:
            target.name = renamed.get(target.name, target.name)
            _rename_columns(target.val, renamed)
        stmt.targetList = tuple(targets)
        _rename_columns(stmt.whereClause, renamed)
    elif isinstance(stmt, ast.DeleteStmt):
        _rename_columns(stmt.whereClause, renamed)
    return str(RawStream()(stmt))


def _renames(files: Sequence[Path]) -> list[tuple[str, str | None, str]]:
    """``ALTER TABLE t RENAME [COLUMN] a TO b`` in the files, in order: (table, column or None, new name)."""
    from bcastsim._io import read_text

    found: list[tuple[str, str | None, str]] = []
    for path in files:
        text = read_text(path)
        if "rename" not in text.lower():
            continue
        try:
            statements: Any = pglast.parse_sql(text)
        except pglast.parser.ParseError:
            continue
        for raw in statements:
            stmt = raw.stmt
            if not isinstance(stmt, ast.RenameStmt) or stmt.relation is None or not stmt.newname:
                continue
            if stmt.relation.schemaname not in (None, "public"):
                continue
            kind = stmt.renameType
            if kind == pglast.enums.ObjectType.OBJECT_COLUMN and stmt.subname:
                found.append((str(stmt.relation.relname), str(stmt.subname), str(stmt.newname)))
            elif kind == pglast.enums.ObjectType.OBJECT_TABLE:
                found.append((str(stmt.relation.relname), None, str(stmt.newname)))
    return found


def _renamed(names: tuple[str, ...], old: str, new: str) -> tuple[str, ...]:
    return tuple(new if name == old else name for name in names)


def with_renames(schema: Schema, files: Sequence[Path]) -> Schema:
    """``schema`` with the files' ``ALTER TABLE … RENAME`` applied (the model of the schema reads them as notes only).

    Tables, columns, keys, foreign keys on both ends and CHECKs follow the new names, so the
    histories drawn on the version write to the columns its database has.
    """
    renames = _renames(files)
    if not renames:
        return schema
    tables = dict(schema.tables)
    triggers = dict(schema.triggers)
    for table, column, new in renames:
        if table not in tables:
            continue
        if column is None:
            tables[new] = attrs.evolve(tables.pop(table), name=new)
            for name, other in list(tables.items()):
                moved = tuple(
                    attrs.evolve(fk, ref_table=new) if fk.ref_table == table else fk for fk in other.foreign_keys
                )
                tables[name] = attrs.evolve(other, foreign_keys=moved)
            for key, trigger in list(triggers.items()):
                if trigger.table == table:
                    del triggers[key]
                    triggers[(new, key[1])] = attrs.evolve(trigger, table=new)
            continue
        definition = tables[table]
        checks = []
        for check in definition.checks:
            expr = copy.deepcopy(check.expr)
            _rename_columns(expr, {column: new})
            checks.append(attrs.evolve(check, expr=expr, sql=re.sub(rf"\b{re.escape(column)}\b", new, check.sql)))
        tables[table] = attrs.evolve(
            definition,
            columns=tuple(attrs.evolve(c, name=new) if c.name == column else c for c in definition.columns),
            primary_key=_renamed(definition.primary_key, column, new),
            unique=tuple(_renamed(key, column, new) for key in definition.unique),
            checks=tuple(checks),
            foreign_keys=tuple(
                attrs.evolve(fk, columns=_renamed(fk.columns, column, new)) for fk in definition.foreign_keys
            ),
            always_identity=_renamed(definition.always_identity, column, new),
        )
        for name, other in list(tables.items()):
            keys = tuple(
                attrs.evolve(fk, ref_columns=_renamed(fk.ref_columns, column, new)) if fk.ref_table == table else fk
                for fk in other.foreign_keys
            )
            tables[name] = attrs.evolve(other, foreign_keys=keys)
    return attrs.evolve(schema, tables=tables, triggers=triggers)


_TIME_LITERAL = re.compile(r"'(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}(?::\d{2})?)?)'")


def _draw(schema: Schema, seed: int, examples: int, hooks: Hooks | None) -> list[History]:
    """``examples`` histories of :func:`bcastsim.strategies.histories` on ``schema``, the same for the same seed."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fixed_seed

    from bcastsim.strategies import histories

    drawn: list[History] = []

    @fixed_seed(seed)
    @settings(
        max_examples=examples, derandomize=False, database=None, deadline=None,
        suppress_health_check=list(HealthCheck), phases=[Phase.generate],
    )  # fmt: skip
    @given(history=histories(schema, hooks=hooks))
    def collect(history: History) -> None:
        drawn.append(history)

    try:
        collect()
    except InputError:
        return []  # no public table to write to: nothing to draw, and the review says so
    return drawn


def generate_workload(
    old: Schema,
    new: Schema,
    *,
    seed: int = 0,
    examples: int = DEFAULT_EXAMPLES,
    hooks: tuple[Hooks | None, Hooks | None] = (None, None),
) -> Workload:
    """Histories drawn by :func:`bcastsim.strategies.histories` on each version's schema, run on both.

    ``examples`` histories are drawn on the old version's schema and as many on the new one's
    (same seed; Hypothesis' ``seed`` with no example database, so the same SQL and seed give
    the same workload). Each history is translated into the other version's names
    (:func:`schema_mapping`), so both run the same writes even across a renamed column.
    ``hooks`` are the :class:`~bcastsim.strategies.Hooks` for each version.
    """
    to_new, to_old, notes = schema_mapping(old, new)
    transactions: list[Transaction] = []
    count = 0
    for side, schema, mapping, side_hooks in (("old", old, to_new, hooks[0]), ("new", new, to_old, hooks[1])):
        for history in _draw(schema, seed, examples, side_hooks):
            for spec in history.transactions:
                steps = tuple(spec.steps)
                translated = tuple(translate(step, mapping) for step in steps)
                old_steps, new_steps = (steps, translated) if side == "old" else (translated, steps)
                transactions.append(Transaction(old_steps, new_steps, spec.commit, count, side))
            count += 1
    times = {
        moment
        for transaction in transactions
        for step in transaction.old
        for match in _TIME_LITERAL.finditer(step)
        if (moment := _normalize_time(match.group(1))) is not None
    }
    listen = sorted(
        {
            "".join(str(part) for part in site.channel.parts)
            for schema in (old, new)
            for site in schema.notify_sites
            if site.transport == "NOTIFY" and all(isinstance(part, str) for part in site.channel.parts)
        }
    )
    return Workload(tuple(transactions), frozenset(times), count, notes, seed, tuple(listen))


# -- comparing what was sent -------------------------------------------------------------


@attrs.frozen
class _Sent:
    transport: str
    destination: str
    event: str | None
    private: bool | None
    payload: Any
    # Who sent it (the tap's PG_CONTEXT): where an observation about it is placed; not part of what was sent.
    context: str = attrs.field(default="", eq=False)

    @property
    def kind(self) -> str:
        if isinstance(self.payload, dict) and isinstance(self.payload.get("type"), str):
            return str(self.payload["type"])
        return self.event or "(no type)"

    @property
    def pattern(self) -> str:
        return _UUID.sub("{uuid}", self.destination)


def _normalize_time(text: str) -> str | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _mask(value: Any, literal_times: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {key: _mask(item, literal_times) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask(item, literal_times) for item in value]
    if isinstance(value, str) and _ISO_TIME.match(value):
        normalized = _normalize_time(value)
        return normalized if normalized in literal_times else "<time chosen by the database>"
    return value


def _sent(result: TransactionResult, literal_times: frozenset[str]) -> list[_Sent]:
    times = frozenset(t for t in (_normalize_time(x) for x in literal_times) if t)
    sent = [
        _Sent("pg_notify", n.channel, None, None, _mask(n.json if n.json is not None else n.payload, times), n.context)
        for n in result.notifications
    ]
    sent += [
        _Sent("realtime.send", m.topic, m.event, m.private, _mask(m.payload, times), m.context) for m in result.messages
    ]
    return sent


def _pair_key(message: _Sent) -> tuple[str, str]:
    return (message.kind, message.destination)


@attrs.frozen
class _Observation:
    rule: str
    key: tuple[str, ...]
    message: str
    channel: str | None
    example: str
    # PostgreSQL's CONTEXT of the error or the sending (tap): it names the function statement that caused it.
    context: str = ""
    # The messages it is about (the old version's, the new version's): their sites count it.
    before: _Sent | None = None
    after: _Sent | None = None


def _example(index: int, transaction: Transaction) -> str:
    example = f"transaction {index}: " + "; ".join(transaction.old)
    if transaction.new != transaction.old:
        example += " -- in the new version's names: " + "; ".join(transaction.new)
    return example


_HEAD = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+[^\s(]+", re.IGNORECASE)


def _statement_head(steps: Sequence[str], result: TransactionResult) -> str:
    """``INSERT INTO t`` for the statement that stopped the transaction (its step), else its first."""
    step = result.error.step if result.error is not None and 0 <= result.error.step < len(steps) else 0
    match = _HEAD.match(steps[step]) if steps else None
    return match.group(0).strip() if match else (steps[step][:40] if steps else "no statement")


def _compare(
    index: int, transaction: Transaction, old: TransactionResult, new: TransactionResult, times: frozenset[str]
) -> Iterator[_Observation]:
    example = _example(index, transaction)
    statements = transaction.old
    if new.error is not None and new.error.sqlstate == _INSUFFICIENT_PRIVILEGE:
        yield _Observation(
            "pg-needs-superuser",
            (new.error.message,),
            f"a trigger of the new version needs superuser: {new.error.message}",
            None,
            example,
            new.error.context,
        )
        return
    if old.committed and not new.committed:
        error = new.error.message if new.error else "rolled back"
        yield _Observation(
            "pg-write-failed",
            (new.error.sqlstate, new.error.message) if new.error else ("rolled back",),
            f"new version aborts the write ({_statement_head(transaction.new, new)}): {error}",
            None,
            example,
            new.error.context if new.error else "",
        )
        return
    if new.committed and not old.committed:
        yield _Observation(
            "pg-write-fixed",
            (old.error.sqlstate, old.error.message) if old.error else ("rolled back",),
            f"new version lets a formerly failing write commit ({_statement_head(statements, old)})",
            None,
            example,
        )
        return
    before = _sent(old, times)
    after = _sent(new, times)
    unmatched_after = list(after)
    for message in before:
        match = next((m for m in unmatched_after if _pair_key(m) == _pair_key(message)), None)
        if match is None:
            # The same kind of message to another destination is one move, not a loss plus a gain.
            match = next((m for m in unmatched_after if m.kind == message.kind), None)
            if match is None:
                yield _Observation(
                    "pg-message-missing",
                    (message.kind, message.pattern),
                    f"'{message.kind}' on '{message.pattern}' ({message.transport}) is no longer sent",
                    message.pattern,
                    example,
                    message.context,
                    before=message,
                )
                continue
            where = (
                f"'{match.pattern}' instead of '{message.pattern}'"
                if match.pattern != message.pattern
                else f"another '{match.pattern}' value than before ({match.destination} instead of "
                f"{message.destination}): the topic is built from a different value"
            )
            yield _Observation(
                "pg-destination-changed",
                (message.kind, message.pattern, match.pattern),
                f"'{message.kind}' now goes to {where}",
                message.pattern,
                example,
                match.context,
                before=message,
                after=match,
            )
        unmatched_after.remove(match)
        if (match.transport, match.private) != (message.transport, message.private):
            yield _Observation(
                "pg-delivery-changed",
                (message.kind, message.pattern, match.transport, str(match.private)),
                f"'{message.kind}' on '{match.pattern}' now travels by {match.transport}"
                f"{'' if match.private is None else (' (private)' if match.private else ' (public)')} "
                f"instead of {message.transport}"
                f"{'' if message.private is None else (' (private)' if message.private else ' (public)')}",
                match.pattern,
                example,
                match.context,
                before=message,
                after=match,
            )
        if isinstance(message.payload, dict) and isinstance(match.payload, dict):
            removed = sorted(set(message.payload) - set(match.payload))
            added = sorted(set(match.payload) - set(message.payload))
            changed = sorted(
                key for key in set(message.payload) & set(match.payload) if message.payload[key] != match.payload[key]
            )
            if removed or added or changed:
                parts = []
                if removed:
                    parts.append(f"keys removed: {', '.join(removed)}")
                if added:
                    parts.append(f"keys added: {', '.join(added)}")
                if changed:
                    parts.append(f"values differ: {', '.join(changed)}")
                yield _Observation(
                    "pg-payload-changed",
                    (message.kind, match.pattern, *removed, "|", *added, "|", *changed),
                    f"'{message.kind}' on '{match.pattern}': {'; '.join(parts)}",
                    match.pattern,
                    example,
                    match.context,
                    before=message,
                    after=match,
                )
        elif message.payload != match.payload:
            yield _Observation(
                "pg-payload-changed",
                (message.kind, match.pattern, "text"),
                f"'{message.kind}' on '{match.pattern}': payload text differs",
                match.pattern,
                example,
                match.context,
                before=message,
                after=match,
            )
    for message in unmatched_after:
        yield _Observation(
            "pg-message-added",
            (message.kind, message.pattern),
            f"'{message.kind}' on '{message.pattern}' ({message.transport}) is new",
            message.pattern,
            example,
            message.context,
            after=message,
        )


def _run(database: Database, workload: Workload, side: str) -> list[TransactionResult]:
    """Run the workload's transactions as ``side`` reads them, each history from empty tables."""
    from bcastsim.db._coverage import paused

    results = []
    history = -1
    if workload.listen:
        database.listen(workload.listen)  # NOTIFY statements bypass the capture's tap
    with paused():  # a review inside a property test is not that test's coverage
        for transaction in workload.transactions:
            if transaction.history != history:
                history = transaction.history
                database.reset()
            steps = transaction.old if side == "old" else transaction.new
            results.append(database.run_transaction(list(steps), commit=transaction.commit))
    return results


_DATABASES = itertools.count(1)


_INSUFFICIENT_PRIVILEGE = "42501"
_CREATE_EXTENSION = re.compile(r"\bcreate\s+extension\s+(?:if\s+not\s+exists\s+)?\"?([\w-]+)", re.IGNORECASE)


def _extensions(files: Sequence[Path]) -> list[str]:
    """Extensions the files create, in order (the harness creates those only a superuser can)."""
    from bcastsim._io import read_text

    return [match.group(1).lower() for path in files for match in _CREATE_EXTENSION.finditer(read_text(path))]


def _load_failure(error: Exception, label: str) -> tuple[str, str]:
    """(rule, message) for a version that did not load: privilege refusals are their own finding."""
    from bcastsim.pg import APPLYING_NOTE
    from bcastsim.pg._capture import LIMIT_ERRORS

    primary = getattr(getattr(error, "diag", None), "message_primary", None) or str(error)
    where = next(
        (n.removeprefix(APPLYING_NOTE) for n in getattr(error, "__notes__", ()) if n.startswith(APPLYING_NOTE)), ""
    )
    where = f" ({where})" if where else ""
    if getattr(error, "sqlstate", None) in LIMIT_ERRORS:
        bound = LIMIT_ERRORS[str(getattr(error, "sqlstate", ""))]
        return "pg-inconclusive", f"loading {label} was stopped by {bound}: {primary}{where}; nothing was compared"
    if getattr(error, "sqlstate", None) == _INSUFFICIENT_PRIVILEGE:
        return "pg-needs-superuser", f"{label} needs superuser: {primary}{where}"
    if primary.startswith("ALTER SYSTEM"):
        # PostgreSQL refuses it inside the file's transaction before it checks privileges.
        return "pg-needs-superuser", (
            f"{label} needs superuser: ALTER SYSTEM changes the server's configuration for every database "
            f"({primary}){where}"
        )
    return "pg-load-failed", f"{label} does not load in PostgreSQL: {primary}{where}"


def _finding(rule: str, message: str, error: BaseException | None = None) -> Finding:
    """A finding of ``rule``; with the ``error`` a file raised while loading, at that file's statement."""
    info = PG_RULES[rule]
    site = load_site(error) if error is not None else None
    path, line = site if site is not None else (None, None)
    return Finding(
        rule=info.id, severity=info.severity, message=message, explanation=info.fix, why=info.why, path=path, line=line
    )


# The whole comparison, both versions' SQL and workload, must finish within this many seconds: SQL
# under review can turn its own statement timeout off and sleep or loop.
TIME_LIMIT_S = 600.0


class _Watchdog:
    """Terminates the review databases' sessions (as the superuser) once the time limit has passed."""

    def __init__(self, server: EphemeralPostgres, names: Sequence[str], seconds: float) -> None:
        self.server, self.names, self.seconds = server, names, seconds
        self.expired = False
        self.phase = "loading the old version"
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        from psycopg import sql

        self.expired = True
        listed = sql.SQL(", ").join(sql.Literal(name) for name in self.names)
        with contextlib.suppress(Exception):  # the server may be gone already; nothing is left to stop then
            self.server.execute(
                sql.SQL("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN ({})").format(listed)
            )

    def finding(self) -> Finding:
        return _finding(
            "pg-inconclusive",
            f"the review stopped the SQL after {self.seconds:g} s (its time limit) while {self.phase}: a loop, "
            "a sleep or a lock in the migration or its triggers; nothing after that point was compared",
        )


def _run_both(
    server: EphemeralPostgres,
    old_files: Sequence[Path],
    new_files: Sequence[Path],
    workload: Workload,
    new_label: str,
    *,
    time_limit_s: float = TIME_LIMIT_S,
) -> tuple[list[TransactionResult], list[TransactionResult], list[Finding]] | Finding:
    import psycopg

    number = next(_DATABASES)
    names = (f"bcastsim_review_{os.getpid()}_{number}_old", f"bcastsim_review_{os.getpid()}_{number}_new")
    try:
        with _Watchdog(server, names, time_limit_s) as watchdog:
            try:
                old_db = server.create_database(
                    files=list(old_files), name=names[0], untrusted=True, extensions=_extensions(old_files)
                )
            except psycopg.Error as error:
                if watchdog.expired:
                    return watchdog.finding()
                rule, message = _load_failure(error, "the old version")
                if rule in ("pg-needs-superuser", "pg-inconclusive"):
                    return _finding(rule, message, error)
                raise InputError(f"{message}", fix="pass the tables it needs with --schema") from None
            watchdog.phase = f"loading {new_label}"
            try:
                new_db = server.create_database(
                    files=list(new_files), name=names[1], untrusted=True, extensions=_extensions(new_files)
                )
            except psycopg.Error as error:
                old_db.close()
                return watchdog.finding() if watchdog.expired else _finding(*_load_failure(error, new_label), error)
            with old_db, new_db:
                runs = []
                for side, label, database in (("old", "the old version", old_db), ("new", new_label, new_db)):
                    watchdog.phase = f"running the workload on {label}"
                    try:
                        runs.append(_run(database, workload, side))
                    except (psycopg.Error, RuntimeError) as error:
                        if watchdog.expired:
                            return watchdog.finding()
                        # E.g. the SQL terminated its own sessions or dropped what the capture needs.
                        detail = " ".join(str(error).split())
                        return _finding(
                            "pg-load-failed", f"{label} broke the review's sessions in PostgreSQL: {detail}"
                        )
                # Refusals the new version's own exception blocks caught: PostgreSQL reported none of them.
                try:
                    swallowed = swallowed_refusals(
                        new_db, PG_RULES["pg-needs-superuser"], new_label, PG_RULES["pg-refusal-unseen"]
                    )
                except psycopg.Error as error:
                    if watchdog.expired:
                        return watchdog.finding()
                    detail = " ".join(str(error).split())
                    message = f"{new_label} broke the review's sessions in PostgreSQL: {detail}"
                    return _finding("pg-load-failed", message)
                return runs[0], runs[1], swallowed
    finally:
        for name in names:
            server.drop_database(name)


# -- what was compared, per notify site --------------------------------------------------


@attrs.frozen
class SiteCount:
    """One notify site of one version: the messages it sent, how many were compared, how many differed.

    A message is compared when its transaction committed in both versions. ``status`` is
    ``compared``, ``unreachable: why`` (no row can reach the site, decided by the solver) or
    ``never compared: why``. ``changed``: the site's function or the triggers calling it differ
    between the versions (or exist in one only).
    """

    version: str
    function: str
    path: str
    line: int
    transport: str
    channel: str
    sent: int
    compared: int
    differences: int
    changed: bool
    status: str

    @property
    def key(self) -> str:
        """``function@path:line``, as ``sql coverage`` names the site."""
        return f"{self.function}@{self.path}:{self.line}"

    def to_json(self) -> dict[str, Any]:
        return {
            "site": self.key,
            "version": self.version,
            "function": self.function,
            "path": self.path,
            "line": self.line,
            "transport": self.transport,
            "channel": self.channel,
            "sent": self.sent,
            "compared": self.compared,
            "differences": self.differences,
            "changed": self.changed,
            "status": self.status,
        }


@attrs.frozen
class PgCounts:
    """What ``review --pg`` ran and compared: the figures every report format carries."""

    seed: int
    histories: int
    transactions: int
    committed_old: int
    committed_new: int
    committed_both: int
    compared_transactions: int
    compared: int
    differences: int
    sites: tuple[SiteCount, ...]
    schema_notes: tuple[str, ...] = ()

    @property
    def never_compared(self) -> tuple[SiteCount, ...]:
        return tuple(site for site in self.sites if site.compared == 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "workload": "bcastsim.strategies.histories",
            "histories": self.histories,
            "transactions": self.transactions,
            "committed": {"old": self.committed_old, "new": self.committed_new, "both": self.committed_both},
            "transactions_compared": self.compared_transactions,
            "messages_compared": self.compared,
            "differences": self.differences,
            "sites": [site.to_json() for site in self.sites],
            "never_compared": [f"{site.version} {site.key}" for site in self.never_compared],
            "schema_notes": list(self.schema_notes),
        }


@attrs.frozen
class PgOutcome:
    """The findings of ``review --pg`` and its counts (None when the run stopped before comparing)."""

    findings: tuple[Finding, ...]
    counts: PgCounts | None = None


@attrs.frozen
class _SiteMatcher:
    site: Any  # bcastsim.sqlmodel.NotifySite
    transport: str
    channel: re.Pattern[str]
    event: re.Pattern[str] | None
    payload_keys: frozenset[str] | None

    @classmethod
    def of(cls, site: Any) -> _SiteMatcher:
        return cls(
            site,
            "pg_notify" if site.transport in ("pg_notify", "NOTIFY") else "realtime.send",
            re.compile(site.channel.regex()),
            re.compile(site.event.regex()) if site.event is not None else None,
            frozenset(site.payload_keys) if site.payload is not None else None,
        )

    def matches(self, message: _Sent) -> bool:
        """The message fits the site: transport, channel and event templates, payload keys (as coverage matches)."""
        payload = message.payload
        if isinstance(payload, str):
            try:
                payload = json.loads(payload)
            except ValueError:
                payload = None
        keys = frozenset(payload) if isinstance(payload, dict) else None
        return (
            message.transport == self.transport
            and self.channel.fullmatch(message.destination) is not None
            and (self.event is None or message.event is None or self.event.fullmatch(message.event) is not None)
            and (self.payload_keys is None or keys is None or self.payload_keys == keys)
        )


def _function_view(schema: Schema, name: str) -> tuple[Any, ...]:
    """What decides a function's messages: its body and the triggers that call it."""
    from pglast.stream import RawStream

    function = schema.functions.get(name)
    body = " ".join(function.body.split()) if function is not None else None
    triggers = sorted(
        (
            t.table, t.timing, t.events, t.update_columns, t.level, t.enabled,
            RawStream()(t.when) if t.when is not None else "",
        )
        for t in schema.triggers.values()
        if t.function == name
    )  # fmt: skip
    return (body, tuple(triggers))


def changed_functions(old: Schema, new: Schema) -> frozenset[str]:
    """Functions with a notify site whose body, or the set of triggers calling them, differ between the versions."""
    names = {site.function for schema in (old, new) for site in schema.notify_sites}
    return frozenset(name for name in names if _function_view(old, name) != _function_view(new, name))


def _why_never(site: Any, sent: int, coverage: Coverage) -> str:
    if sent:
        return (
            f"never compared: its {sent} messages were sent in transactions the other version did not commit"
            " (or after an earlier transaction of their history committed in one version only)"
        )
    found = [s for s in coverage.sites() if s.key == site.key]
    return "never compared: " + (coverage.why(found[0]) if found else "it never fired")


def _site_counts(
    version: str,
    *,
    schema: Schema,
    results: Sequence[TransactionResult],
    steps: Sequence[Sequence[str]],
    both: Sequence[bool],
    differences: Counter[str],
    changed: frozenset[str],
    times: frozenset[str],
    sql_files: Sequence[Path],
) -> list[SiteCount]:
    from bcastsim.db._coverage import Coverage
    from bcastsim.strategies._solver import reachability

    matchers = [_SiteMatcher.of(site) for site in schema.notify_sites]
    sent: Counter[str] = Counter()
    compared: Counter[str] = Counter()
    coverage = Coverage(tuple(str(path) for path in sql_files))
    for result, transaction_steps, in_both in zip(results, steps, both, strict=True):
        coverage.observe(list(transaction_steps), result)
        if not result.committed:
            continue
        for message in _sent(result, times):
            for matcher in matchers:
                if matcher.matches(message):
                    sent[matcher.site.key] += 1
                    compared[matcher.site.key] += in_both
    unreachable = reachability(schema).unreachable
    counts = []
    for matcher in matchers:
        site = matcher.site
        if compared[site.key]:
            status = "compared"
        elif not site.tables or not site.operations:
            status = "unreachable: no trigger runs its function"
        elif site.key in unreachable:
            status = f"unreachable: {unreachable[site.key]}"
        else:
            status = _why_never(site, sent[site.key], coverage)
        counts.append(
            SiteCount(
                version=version,
                function=site.function,
                path=str(site.location.path),
                line=site.location.line,
                transport=matcher.transport,
                channel=site.channel.shape,
                sent=sent[site.key],
                compared=compared[site.key],
                differences=differences[site.key],
                changed=site.function in changed,
                status=status,
            )
        )
    return counts


def _attribute(message: _Sent | None, matchers: Sequence[_SiteMatcher]) -> list[str]:
    if message is None:
        return []
    return [matcher.site.key for matcher in matchers if matcher.matches(message)]


def _seed_hooks(
    hooks: Hooks | None, files: Sequence[Path], schema: Schema, side: str, notes: list[str]
) -> Hooks | None:
    """``hooks`` with the seed rows of ``files`` added, when they fit this version's tables (else a note)."""
    from bcastsim.strategies import Hooks, load_seed_rows

    rows: dict[str, tuple[Any, ...]] = {}
    for path in files:
        try:
            loaded = load_seed_rows(path, schema)
        except InputError as error:
            if "which the SQL does not create" not in str(error) and "which the table does not have" not in str(error):
                raise  # not a file of seed rows at all: the user's to fix
            notes.append(f"seed rows of {path} not used for the {side} version: {error.one_line()}")
            return hooks
        for table, entries in loaded.items():
            rows[table] = (*rows.get(table, ()), *entries)
    base = hooks if hooks is not None else Hooks()
    return attrs.evolve(base, seed_rows={**base.seed_rows, **rows})


def pg_diff(
    old_files: Sequence[Path],
    new_files: Sequence[Path],
    catalog: Catalog | None = None,
    *,
    seed: int = 0,
    examples: int = DEFAULT_EXAMPLES,
    new_label: str = "NEW",
    server: EphemeralPostgres | None = None,
    time_limit_s: float = TIME_LIMIT_S,
    hooks: tuple[Hooks | None, Hooks | None] = (None, None),
) -> list[Finding]:
    """The findings of :func:`pg_review` (``catalog`` is not needed any more and is ignored)."""
    del catalog
    outcome = pg_review(
        old_files, new_files, seed=seed, examples=examples, new_label=new_label, server=server,
        time_limit_s=time_limit_s, hooks=hooks,
    )  # fmt: skip
    return list(outcome.findings)


def pg_review(
    old_files: Sequence[Path],
    new_files: Sequence[Path],
    *,
    seed: int = 0,
    examples: int = DEFAULT_EXAMPLES,
    new_label: str = "NEW",
    server: EphemeralPostgres | None = None,
    time_limit_s: float = TIME_LIMIT_S,
    hooks: tuple[Hooks | None, Hooks | None] = (None, None),
    seed_rows: Sequence[Path] = (),
    show: tuple[Callable[[str], str], Callable[[str], str]] = (str, str),
) -> PgOutcome:
    """Load both file lists into fresh databases, run one workload on both, report what differs and what was compared.

    The workload is :func:`generate_workload`: ``examples`` histories of the strategies drawn on
    each version's schema with ``seed``, every one run on both versions. Everything the SQL runs
    must finish within ``time_limit_s``; after it the review stops it and reports it.
    ``show`` turns each version's file paths into the paths the report shows. ``seed_rows``
    files (:func:`~bcastsim.strategies.load_seed_rows`, ``seed-rows`` in ``[tool.bcastsim]``)
    start every history of each version they fit.

    ``server`` reuses a running :class:`~bcastsim.pg.EphemeralPostgres` (its two databases are
    dropped afterwards); without it a throwaway server is started and stopped.
    """
    from bcastsim.db import load_schema
    from bcastsim.pg import EphemeralPostgres, PgBinariesNotFound, ServerStartError

    old_schema = with_renames(load_schema(list(old_files)), old_files)
    new_schema = with_renames(load_schema(list(new_files)), new_files)
    notes: list[str] = []
    if seed_rows:
        hooks = (
            _seed_hooks(hooks[0], seed_rows, old_schema, "old", notes),
            _seed_hooks(hooks[1], seed_rows, new_schema, "new", notes),
        )
    workload = generate_workload(old_schema, new_schema, seed=seed, examples=examples, hooks=hooks)
    workload = attrs.evolve(workload, schema_notes=(*workload.schema_notes, *notes))
    if server is not None:
        results = _run_both(server, old_files, new_files, workload, new_label, time_limit_s=time_limit_s)
    else:
        try:
            started = EphemeralPostgres.start()
        except PgBinariesNotFound as error:
            raise InputError(f"--pg needs PostgreSQL server binaries: {error}", fix="install PostgreSQL") from None
        except ServerStartError as error:
            raise InputError(f"--pg could not start PostgreSQL: {error}") from None
        with started:
            results = _run_both(started, old_files, new_files, workload, new_label, time_limit_s=time_limit_s)
    if isinstance(results, Finding):
        return PgOutcome((results,))
    old_results, new_results, swallowed = results
    times = workload.literal_times
    old_matchers = [_SiteMatcher.of(site) for site in old_schema.notify_sites]
    new_matchers = [_SiteMatcher.of(site) for site in new_schema.notify_sites]
    observations: dict[tuple[str, tuple[str, ...]], list[_Observation]] = {}
    seen_in: dict[tuple[str, tuple[str, ...]], set[int]] = {}
    differences: dict[str, Counter[str]] = {"old": Counter(), "new": Counter()}
    diverged = False
    history = -1
    differing_messages = 0
    # A transaction is compared when it starts from the same rows in both versions and commits in both.
    comparable: list[bool] = []
    for index, (transaction, old, new) in enumerate(zip(workload.transactions, old_results, new_results, strict=True)):
        if transaction.history != history:
            history, diverged = transaction.history, False
        # Once a transaction committed in one version only, the two databases hold different rows
        # for the rest of its history: later differences are consequences, not further causes.
        comparable.append(not diverged and old.committed and new.committed)
        if diverged:
            continue
        diverged = old.committed != new.committed
        # A message counts once however many ways it differs (its topic and its payload, say).
        differing: dict[tuple[str, str], set[int]] = {}
        for observation in _compare(index, transaction, old, new, times):
            observations.setdefault((observation.rule, observation.key), []).append(observation)
            seen_in.setdefault((observation.rule, observation.key), set()).add(index)
            one = observation.before if observation.before is not None else observation.after
            if one is not None:  # a write that failed in one version is a finding, not a message compared
                differing.setdefault(("", ""), set()).add(id(one))
            for key in _attribute(observation.before, old_matchers):
                differing.setdefault(("old", key), set()).add(id(observation.before))
            for key in _attribute(observation.after, new_matchers):
                differing.setdefault(("new", key), set()).add(id(observation.after))
        for (side, key), messages in differing.items():
            if side:
                differences[side][key] += len(messages)
            else:
                differing_messages += len(messages)
    both = comparable
    changed = changed_functions(old_schema, new_schema)
    sites: list[SiteCount] = []
    for side, schema, side_results, files, display in (
        ("old", old_schema, old_results, old_files, show[0]),
        ("new", new_schema, new_results, new_files, show[1]),
    ):
        steps = [t.old if side == "old" else t.new for t in workload.transactions]
        counted = _site_counts(
            side, schema=schema, results=side_results, steps=steps, both=both, differences=differences[side],
            changed=changed, times=times, sql_files=files,
        )  # fmt: skip
        sites += [attrs.evolve(site, path=display(site.path)) for site in counted]
    compared_messages = sum(
        len(_sent(old, times)) + len(_sent(new, times))
        for old, new, in_both in zip(old_results, new_results, both, strict=True)
        if in_both
    )
    counts = PgCounts(
        seed=seed,
        histories=workload.histories,
        transactions=len(workload.transactions),
        committed_old=sum(r.committed for r in old_results),
        committed_new=sum(r.committed for r in new_results),
        committed_both=sum(old.committed and new.committed for old, new in zip(old_results, new_results, strict=True)),
        compared_transactions=sum(both),
        compared=compared_messages,
        differences=differing_messages,
        sites=tuple(sites),
        schema_notes=workload.schema_notes,
    )
    findings: list[Finding] = [*swallowed, *_inconclusive(workload, old_results, new_results, counts)]
    findings += cut_findings(
        PG_RULES["pg-inconclusive"],
        [t.old for t in workload.transactions],
        (("the old version", old_results), (new_label, new_results)),
    )
    total = len(workload.transactions)
    for observed in sorted(observations):
        first = observations[observed][0]
        info = PG_RULES[first.rule]
        finding = Finding(
            rule=first.rule,
            severity=info.severity,
            message=f"{first.message} (seen in {len(seen_in[observed])} of {total} transactions, seed {seed})",
            channel=first.channel,
            explanation=info.fix,
            why=info.why,
            example=first.example,
        )
        findings.append(placed(finding, first.context))
    return PgOutcome(tuple(findings), counts)


def _inconclusive(
    workload: Workload,
    old_results: Sequence[TransactionResult],
    new_results: Sequence[TransactionResult],
    counts: PgCounts,
) -> Iterator[Finding]:
    """``pg-inconclusive`` when no message was compared, or a site the change touches was never compared."""
    info = PG_RULES["pg-inconclusive"]
    figures = (
        f"of {counts.transactions} transactions ({counts.histories} histories, seed {counts.seed}),"
        f" {counts.committed_old} committed in the old version, {counts.committed_new} in the new,"
        f" {counts.committed_both} in both ({counts.compared_transactions} from the same rows)"
    )
    if counts.compared == 0:
        errors = Counter(
            f"{result.error.sqlstate} {result.error.message}"
            for result in (*old_results, *new_results)
            if result.error is not None
        )
        common = f"; most common error: {errors.most_common(1)[0][0]}" if errors else ""
        yield Finding(
            rule="pg-inconclusive",
            severity=info.severity,
            message=f"nothing compared: {figures}, and those sent 0 messages{common}",
            explanation=info.fix,
            why=info.why,
        )
        return
    for site in counts.sites:
        if site.changed and site.compared == 0 and not site.status.startswith("unreachable"):
            yield Finding(
                rule="pg-inconclusive",
                severity=info.severity,
                message=(
                    f"the changed site {site.key} ({site.version} version, '{site.channel}') was"
                    f" {site.status}; {figures}: the review says nothing about its messages"
                ),
                path=site.path,
                line=site.line,
                function=site.function,
                channel=site.channel,
                explanation=info.fix,
                why=info.why,
            )
