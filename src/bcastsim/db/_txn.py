"""The database model: statements, triggers, constraints and transactions.

PostgreSQL's order of events for one INSERT/UPDATE/DELETE, which decides which
error wins and in which order notifications are queued:

1. constants are coerced to column types while planning (``22001``, ``22P02``
   and ``22003`` come before any row is touched);
2. BEFORE STATEMENT triggers, then per row: BEFORE ROW triggers, NOT NULL, CHECK,
   the row is stored, unique indexes (``23505``);
3. after the last row, AFTER ROW triggers per row — the foreign-key checks are
   AFTER ROW triggers too (``RI_ConstraintTrigger_…``), fired in byte order of
   trigger name with the user's triggers — then AFTER STATEMENT triggers.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs
import pglast
from pglast import ast
from pglast.enums import OnConflictAction, OverridingKind, TransactionStmtKind

from bcastsim._errors import UnsupportedError
from bcastsim.db._coverage import current_coverage
from bcastsim.db._eval import Compiled, Compiler, Frame, Scope
from bcastsim.db._interp import CompiledFunction, FunctionCompiler
from bcastsim.db._notify import ModelMessage, ModelNotification, PendingQueue
from bcastsim.db._render import jsonb_text
from bcastsim.db._schema import ColumnDef, ForeignKeyDef, Schema, TableDef, TriggerDef, load_schema
from bcastsim.db._store import Store
from bcastsim.db._values import UTC, DatabaseError, Jsonb, Record, coerce_to_type, reject_unencodable

__all__ = [
    "DatabaseModel",
    "StepError",
    "SteppingClock",
    "Transaction",
    "TransactionOutcome",
]

MESSAGES_TABLE = "realtime.messages"
CLOCK_ASSUMPTION = (
    "the wall clock (clock_timestamp(), statement_timestamp(), timeofday()) is modelled as now()"
    " plus 1 microsecond per statement and per reading: its order is PostgreSQL's, its values are not the server's"
)


@attrs.define
class SteppingClock:
    """A deterministic transaction clock: ``start``, then one ``step`` later per transaction."""

    start: dt.datetime = dt.datetime(2025, 8, 17, 19, 0, tzinfo=UTC)
    step: dt.timedelta = dt.timedelta(seconds=1)
    _ticks: int = 0

    def __call__(self) -> dt.datetime:
        value = self.start + self._ticks * self.step
        self._ticks += 1
        return value


@attrs.frozen
class StepError:
    """An error the model raised: SQLSTATE, message and the index of the step that raised it."""

    sqlstate: str
    message: str
    step: int


@attrs.frozen
class TransactionOutcome:
    """What one transaction did, in the shape of :class:`bcastsim.pg.TransactionResult`."""

    transaction: int
    committed: bool
    notifications: tuple[ModelNotification, ...]
    messages: tuple[ModelMessage, ...]
    error: StepError | None
    statement_errors: tuple[StepError, ...]
    warnings: tuple[str, ...]
    now: dt.datetime
    #: what the transaction's values rest on that no source gives (a modelled wall clock), said once each
    assumptions: tuple[str, ...] = ()


@attrs.frozen
class _RICheck:
    """A foreign-key check, fired like PostgreSQL's RI_ConstraintTrigger_a_/c_ triggers."""

    name: str
    side: str  # "c": the referencing row must have a parent; "a": a deleted parent must have no children
    fk: ForeignKeyDef
    referencing_table: str


@attrs.frozen
class _Event:
    trigger: TriggerDef | _RICheck
    op: str
    new: Record | None
    old: Record | None


class DatabaseModel:
    """An executable model of the database side, built from SQL files.

    >>> model = DatabaseModel.from_sql()                                   # doctest: +SKIP
    >>> outcome = model.run_transaction(["INSERT INTO people (id) VALUES ('…')"])
    """

    def __init__(
        self,
        schema: Schema,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        uuid_seed: int = 0,
    ) -> None:
        self.schema = schema
        # The files the schema was read from: coverage resolves notify sites from them.
        self.sql_files: tuple[str, ...] = ()
        self.sequences: dict[str, int] = {}
        self.clock: Callable[[], dt.datetime] = clock or SteppingClock()
        self._uuid_seed = uuid_seed
        self._uuid_counter = 0
        self.store = Store(schema.tables)
        self.compiler = Compiler(lambda name: name in schema.functions, schema.enums)
        self._function_compiler = FunctionCompiler(self.compiler, schema.tables, self._compile_dml)
        self.unsupported: list[UnsupportedError] = []
        self._defaults: dict[tuple[str, str], Compiled] = {}
        self._checks: dict[str, list[tuple[str, Compiled, str]]] = {}
        for table_def in schema.tables.values():
            scope = Scope(path=table_def.path, line=table_def.line)
            for column in table_def.columns:
                if column.default is not None:
                    self._defaults[(table_def.name, column.name)] = self._deferred(column.default, scope)
            check_scope = scope.with_from([(table_def.name, table_def)])
            self._checks[table_def.name] = [
                (check.name, self._deferred(check.expr, check_scope), check.domain)
                # PostgreSQL checks a domain as the value is formed, so before the row's NOT NULL and CHECKs.
                for check in sorted(table_def.checks, key=lambda c: (not c.domain, c.name.encode()))
            ]
        self._triggers: dict[str, list[TriggerDef | _RICheck]] = {}
        self._when: dict[tuple[str, str], Compiled] = {}
        for table in schema.tables:
            entries: list[TriggerDef | _RICheck] = list(schema.triggers_for(table))
            for trigger in schema.triggers_for(table):
                if trigger.when is not None:
                    scope = Scope(records=frozenset({"new", "old"}), path=trigger.path, line=trigger.line)
                    self._when[(table, trigger.name)] = self._deferred(trigger.when, scope)
            for fk in schema.tables[table].foreign_keys:
                entries.append(_RICheck(f"RI_ConstraintTrigger_c_{fk.name}", "c", fk, table))
            for other in schema.tables.values():
                for fk in other.foreign_keys:
                    if fk.ref_table == table:
                        entries.append(_RICheck(f"RI_ConstraintTrigger_a_{fk.name}", "a", fk, other.name))
            self._triggers[table] = sorted(entries, key=lambda t: t.name.encode())
        self.functions: dict[str, CompiledFunction | UnsupportedError] = {}
        for name, definition in sorted(schema.functions.items()):
            try:
                self.functions[name] = self._function_compiler.compile(definition)
            except UnsupportedError as error:
                self.functions[name] = error
                self.unsupported.append(error)
        self._statements: dict[str, list[Callable[[Transaction], Any]]] = {}
        self._shapes: dict[str, list[Callable[[Transaction, dict[str, Any]], Any]]] = {}
        self.notifications: list[ModelNotification] = []
        self._transactions = 0
        self.open: Transaction | None = None

    def _deferred(self, node: Any, scope: Scope) -> Compiled:
        """Compile now; an unsupported construct is recorded and raised only when it is evaluated."""
        try:
            return self.compiler.expr(node, scope)
        except UnsupportedError as error:
            self.unsupported.append(error)
            return _raiser_of(error)

    @classmethod
    def from_sql(
        cls,
        paths: Sequence[str | Path] | None = None,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        uuid_seed: int = 0,
    ) -> DatabaseModel:
        """Build the model from SQL files in load order (default: the built-in system under test)."""
        if paths is None:
            from bcastsim._resources import builtin_sql_files

            paths = builtin_sql_files()
        model = cls(load_schema(paths), clock=clock, uuid_seed=uuid_seed)
        model.sql_files = tuple(str(path) for path in paths)
        return model

    # -- state -------------------------------------------------------------------------------

    def reset(self) -> None:
        """Empty every table and forget delivered notifications (like TRUNCATE of all tables)."""
        if self.open is not None:
            raise RuntimeError("a transaction is open")
        self.store.reset()
        self.notifications.clear()
        self.sequences.clear()  # TRUNCATE … RESTART IDENTITY

    def rows(self, table: str) -> list[dict[str, Any]]:
        return [record.as_dict() for record in self.store.scan(table)]

    def next_value(self, sequence: str) -> int:
        """``nextval``: sequences are not transactional, so a rolled-back insert still uses up its value."""
        self.sequences[sequence] = self.sequences.get(sequence, 0) + 1
        return self.sequences[sequence]

    def new_uuid(self) -> uuid.UUID:
        self._uuid_counter += 1
        return uuid.UUID(int=(self._uuid_seed << 64) | self._uuid_counter, version=4)

    # -- transactions ------------------------------------------------------------------------

    def begin(self, now: dt.datetime | None = None) -> Transaction:
        if self.open is not None:
            raise RuntimeError("a transaction is already open")
        index = self._transactions
        self._transactions += 1
        moment = now if now is not None else self.clock()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        self.open = Transaction(self, index, moment)
        return self.open

    def run_transaction(
        self,
        steps: Sequence[Any],
        *,
        commit: bool = True,
        isolate_statements: bool = False,
        now: dt.datetime | None = None,
    ) -> TransactionOutcome:
        """Run steps (SQL strings or ``bcastsim.pg`` Savepoint/RollbackTo/Release) like ``Database.run_transaction``."""
        txn = self.begin(now)
        try:
            return self._run_steps(txn, steps, commit, isolate_statements)
        except BaseException:
            # Not a database error (unsupported SQL, a bug in a step object): end the transaction
            # so the model is usable for the next example, and let it propagate.
            if not txn.finished:
                txn.rollback()
            raise

    def _run_steps(
        self, txn: Transaction, steps: Sequence[Any], commit: bool, isolate_statements: bool
    ) -> TransactionOutcome:
        error: StepError | None = None
        statement_errors: list[StepError] = []
        for number, step in enumerate(steps):
            try:
                if isinstance(step, str):
                    if isolate_statements:
                        txn.savepoint("bcastsim_statement")
                        try:
                            txn.execute(step)
                        except DatabaseError as failure:
                            statement_errors.append(StepError(failure.sqlstate, failure.message, number))
                            txn.rollback_to("bcastsim_statement")
                        txn.release("bcastsim_statement")
                    else:
                        txn.execute(step)
                else:
                    kind = type(step).__name__
                    if kind == "Savepoint":
                        txn.savepoint(step.name)
                    elif kind == "RollbackTo":
                        txn.rollback_to(step.name)
                    elif kind == "Release":
                        txn.release(step.name)
                    else:
                        raise TypeError(f"unknown step {step!r}")
            except DatabaseError as failure:
                error = StepError(failure.sqlstate, failure.message, number)
                break
        outcome = txn.commit(statement_errors) if error is None and commit else txn.rollback(error, statement_errors)
        coverage = current_coverage()
        if coverage is not None:
            coverage.observe(steps, outcome, self.sql_files)
        return outcome

    def run_history(self, transactions: Iterable[Sequence[Any]]) -> list[TransactionOutcome]:
        return [self.run_transaction(steps) for steps in transactions]

    # -- statements --------------------------------------------------------------------------

    def compile_statements(self, sql: str) -> list[Callable[[Transaction], Any]]:
        """Compiled statements for ``sql``; statements differing only in literals share one compilation.

        Parsing dominates the model's cost, and generated workloads repeat a few
        statement shapes with different values: the literals are lifted into
        parameters (``$1``…), the shape is parsed and compiled once, and each call
        binds its own values — the same values a literal would have produced.
        """
        cached = self._statements.get(sql)
        if cached is not None:
            return cached
        compiled: list[Callable[[Transaction], Any]] | None = None
        shaped = _lift_literals(sql)
        if shaped is not None:
            shape, params = shaped
            by_shape = self._shapes.get(shape)
            if by_shape is None:
                try:
                    by_shape = self._compile_text(shape, len(params))
                except (DatabaseError, UnsupportedError):
                    by_shape = None  # a literal where only a constant may stand: compile the text itself
                if by_shape is not None:
                    self._shapes[shape] = by_shape
            if by_shape is not None:
                compiled = [_bind(statement, params) for statement in by_shape]
        if compiled is None:
            compiled = [_bind(statement, []) for statement in self._compile_text(sql, 0)]
        if len(self._statements) > 50_000:
            self._statements.clear()
            self._shapes.clear()
        self._statements[sql] = compiled
        return compiled

    def _compile_text(self, sql: str, params: int) -> list[Callable[[Transaction, dict[str, Any]], Any]]:
        try:
            parsed = pglast.parse_sql(sql)
        except pglast.parser.ParseError as error:
            raise DatabaseError("42601", str(error)) from None
        scope = Scope(variables=frozenset(f"${i}" for i in range(1, params + 1)))
        return [self._compile_top(raw.stmt, scope) for raw in parsed]

    def _compile_top(self, stmt: Any, scope: Scope) -> Callable[[Transaction, dict[str, Any]], Any]:
        if type(stmt).__name__ == "TransactionStmt":
            name: str = stmt.savepoint_name
            if stmt.kind == TransactionStmtKind.TRANS_STMT_SAVEPOINT:
                return lambda txn, params: txn.savepoint(name)
            if stmt.kind == TransactionStmtKind.TRANS_STMT_ROLLBACK_TO:
                return lambda txn, params: txn.rollback_to(name)
            if stmt.kind == TransactionStmtKind.TRANS_STMT_RELEASE:
                return lambda txn, params: txn.release(name)
            raise UnsupportedError(f"{stmt.kind.name.removeprefix('TRANS_STMT_')} inside execute(); use the API")
        if type(stmt).__name__ == "SelectStmt":
            select = self.compiler.select(stmt, scope, self.schema.tables)
            return lambda txn, params: select(Frame(txn, dict(params)))
        if isinstance(stmt, (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt)):
            dml = self._compile_dml(stmt, scope)
            return lambda txn, params: dml(Frame(txn, dict(params)))
        raise UnsupportedError(f"statement {type(stmt).__name__}")

    def _table(self, relation: Any, scope: Scope) -> TableDef:
        name = relation.relname
        if relation.schemaname and relation.schemaname != "public":
            name = f"{relation.schemaname}.{name}"
        table = self.schema.tables.get(name)
        if table is None:
            raise UnsupportedError(f"statement on unknown table {name}", path=scope.path, line=scope.line)
        return table

    def _compile_dml(self, stmt: Any, scope: Scope) -> Callable[[Frame], int]:
        for clause in ("withClause", "onConflictClause"):
            if isinstance(stmt, ast.InsertStmt):
                continue  # the WITH of an INSERT … SELECT belongs to its SELECT; ON CONFLICT is the INSERT's
            if getattr(stmt, clause, None):
                raise UnsupportedError(
                    f"{clause.removesuffix('Clause').removesuffix('List')} in DML", path=scope.path, line=scope.line
                )
        run: Callable[[Frame], int]
        if isinstance(stmt, ast.InsertStmt):
            run = self._compile_insert(stmt, scope)
        elif isinstance(stmt, ast.UpdateStmt):
            run = self._compile_update(stmt, scope)
        else:
            run = self._compile_delete(stmt, scope)
        targets = _returning_targets(stmt)
        if not targets:
            return run
        return self._returning(stmt, targets, scope, run)

    def _returning(
        self, stmt: Any, targets: Sequence[Any], scope: Scope, run: Callable[[Frame], int]
    ) -> Callable[[Frame], int]:
        """``… RETURNING exprs``: the statement's rows as written (after BEFORE triggers; DELETE: the old row)."""
        table = self._table(stmt.relation, scope)
        alias = stmt.relation.alias.aliasname if stmt.relation.alias is not None else stmt.relation.relname
        inner = scope.with_from([(alias, table)])
        expressions = []
        for target in targets:
            value: Any = target.val
            if _is_star(value):
                raise UnsupportedError("RETURNING *", path=scope.path, line=scope.line)
            expressions.append(self.compiler.expr(value, inner))

        def returning(frame: Frame) -> int:
            outer = frame.written
            frame.written = []
            try:
                count = run(frame)
                written = frame.written
            finally:
                frame.written = outer
            rows = []
            for record in written:
                frame.rows[alias] = record
                rows.append(tuple(expression(frame) for expression in expressions))
            frame.rows.pop(alias, None)
            frame.returning = rows
            return count

        return returning

    def _compile_insert(self, stmt: Any, scope: Scope) -> Callable[[Frame], int]:
        table = self._table(stmt.relation, scope)
        if stmt.cols:
            names = [target.name for target in stmt.cols]
            if any(target.indirection for target in stmt.cols):
                raise UnsupportedError("INSERT into a field or element", path=scope.path, line=scope.line)
        else:
            # Without a column list, the values fill the first columns in order; the rest take defaults.
            names = list(table.column_names)
            source: Any = stmt.selectStmt
            if isinstance(source, ast.SelectStmt):
                widths = {len(v) for v in source.valuesLists or ()} | {len(source.targetList or ())}
                widths.discard(0)
                if len(widths) == 1:
                    names = names[: min(widths.pop(), len(names))]
        for name in names:
            if table.column(name) is None:
                return _fail(DatabaseError("42703", f'column "{name}" of relation "{table.name}" does not exist'))
        if len(set(names)) != len(names):
            return _fail(DatabaseError("42701", "column specified more than once"))
        overriding = stmt.override == OverridingKind.OVERRIDING_SYSTEM_VALUE
        select = stmt.selectStmt
        if not isinstance(select, ast.SelectStmt):
            raise UnsupportedError("INSERT without VALUES or SELECT", path=scope.path, line=scope.line)
        columns = [table.column(n) for n in names]
        rows: list[list[Compiled | None]] = []
        query: Callable[[Frame], list[tuple[Any, ...]]] | None = None
        if select.valuesLists:
            for values in select.valuesLists:
                if any(_is_star(value) for value in values):
                    # PostgreSQL spreads x.* over the columns here; the model does not.
                    raise UnsupportedError("x.* in a VALUES list", path=scope.path, line=scope.line)
                if len(values) != len(names):
                    return _fail(DatabaseError("42601", "INSERT has more expressions than target columns"))
                for name, value in zip(names, values, strict=True):
                    if name in table.always_identity and not overriding and not isinstance(value, ast.SetToDefault):
                        return _fail(DatabaseError("428C9", f'cannot insert a non-DEFAULT value into column "{name}"'))
                rows.append([None if isinstance(v, ast.SetToDefault) else self.compiler.expr(v, scope) for v in values])
        else:
            if len(select.targetList or ()) > len(names):
                return _fail(DatabaseError("42601", "INSERT has more expressions than target columns"))
            if len(select.targetList or ()) < len(names):
                return _fail(DatabaseError("42601", "INSERT has more target columns than expressions"))
            always = [n for n in names if n in table.always_identity]
            if always and not overriding:
                return _fail(DatabaseError("428C9", f'cannot insert a non-DEFAULT value into column "{always[0]}"'))
            query = self.compiler.select(select, scope, self.schema.tables, with_clause=stmt.withClause)
        positions = [table.column_names.index(n) for n in names]
        defaults = [self._defaults.get((table.name, c.name)) for c in table.columns]
        conflict = self._on_conflict(stmt, table, scope)
        if isinstance(conflict, DatabaseError):
            return _fail(conflict)

        def run(frame: Frame) -> int:
            txn: Transaction = frame.ctx  # type: ignore[assignment]
            # Constants are coerced while planning: every row's, before the first row is stored.
            provided: list[list[Any]] = []
            for values in rows if query is None else [[lambda _, v=v: v for v in row] for row in query(frame)]:
                row_values: list[Any] = []
                for column, value in zip(columns, values, strict=True):
                    assert column is not None
                    if value is None:
                        row_values.append(_DEFAULT)
                    else:
                        row_values.append(coerce_to_type(value(frame), column.type_name, column.modifiers))
                provided.append(row_values)
            txn.fire_statement(table.name, "BEFORE", "INSERT")
            if conflict is not None and conflict.update:
                txn.fire_statement(table.name, "BEFORE", "UPDATE", conflict.columns)
            events: list[_Event] = []
            count = 0
            touched: set[int] = set()  # rows this statement inserted or updated: ON CONFLICT may not hit them twice
            for row_values in provided:
                full: list[Any] = [_DEFAULT] * len(table.columns)
                for position, value in zip(positions, row_values, strict=True):
                    full[position] = value
                for index, column in enumerate(table.columns):
                    if full[index] is _DEFAULT:
                        default = defaults[index]
                        full[index] = (
                            None
                            if default is None
                            else coerce_to_type(default(frame), column.type_name, column.modifiers)
                        )
                record = Record(table.name, table.column_names, tuple(full))
                record_or_none = txn.fire_before_row(table.name, "INSERT", record, None)
                if record_or_none is None:
                    continue
                txn.check_row(table, record_or_none)
                if conflict is not None:
                    existing = txn.store.conflicting(table.name, record_or_none, conflict.arbiters)
                    if existing is not None:
                        if conflict.update:
                            updated = conflict.apply(txn, frame, existing, record_or_none, touched)
                            if updated is not None:
                                count += 1
                                events += updated[1]
                                _wrote(frame, updated[0])
                        continue
                touched.add(txn.store.insert(table.name, record_or_none))
                _wrote(frame, record_or_none)
                count += 1
                events += txn.after_row_events(table.name, "INSERT", record_or_none, None, ())
            txn.fire_events(events)
            if conflict is not None and conflict.update:
                txn.fire_statement(table.name, "AFTER", "UPDATE", conflict.columns)
            txn.fire_statement(table.name, "AFTER", "INSERT")
            return count

        return run

    def _on_conflict(self, stmt: Any, table: TableDef, scope: Scope) -> _OnConflict | DatabaseError | None:
        """``ON CONFLICT [(cols)] DO NOTHING | DO UPDATE SET … [WHERE …]``, planned against the table."""
        clause = stmt.onConflictClause
        if clause is None:
            return None
        keys = [table.primary_key] if table.primary_key else []
        keys += [key for key in table.unique if key != table.primary_key]
        infer = clause.infer
        if infer is not None and infer.conname:
            raise UnsupportedError("ON CONFLICT ON CONSTRAINT", path=scope.path, line=scope.line)
        if infer is not None and infer.whereClause is not None:
            raise UnsupportedError("ON CONFLICT with a partial-index predicate", path=scope.path, line=scope.line)
        if infer is not None:
            wanted = set()
            for element in infer.indexElems or ():
                if not isinstance(element, ast.IndexElem) or element.name is None:
                    raise UnsupportedError("ON CONFLICT on an expression", path=scope.path, line=scope.line)
                wanted.add(element.name)
            keys = [key for key in keys if set(key) == wanted]
            if not keys:
                return DatabaseError(
                    "42P10", "there is no unique or exclusion constraint matching the ON CONFLICT specification"
                )
        elif clause.action == OnConflictAction.ONCONFLICT_UPDATE:
            return DatabaseError("42601", "ON CONFLICT DO UPDATE requires inference specification or constraint name")
        arbiters = tuple(tuple(table.column_names.index(c) for c in key) for key in keys)
        if clause.action != OnConflictAction.ONCONFLICT_UPDATE:
            return _OnConflict(self, table, arbiters, False, (), None)
        alias = stmt.relation.alias.aliasname if stmt.relation.alias is not None else stmt.relation.relname
        inner = scope.with_from([(alias, table), ("excluded", table)])
        assignments: list[tuple[int, ColumnDef, Compiled | None]] = []
        for target in clause.targetList or ():
            if target.indirection:
                raise UnsupportedError("ON CONFLICT DO UPDATE of a field or element", path=scope.path, line=scope.line)
            column = table.column(target.name)
            if column is None:
                return DatabaseError("42703", f'column "{target.name}" of relation "{table.name}" does not exist')
            value = None if isinstance(target.val, ast.SetToDefault) else self.compiler.expr(target.val, inner)
            assignments.append((table.column_names.index(target.name), column, value))
        where = self.compiler.expr(clause.whereClause, inner) if clause.whereClause is not None else None
        return _OnConflict(self, table, arbiters, True, tuple(assignments), where, alias)

    def _where(
        self, stmt: Any, table: TableDef, alias: str, scope: Scope
    ) -> tuple[Compiled | None, list[Callable[[Frame], None]]]:
        inner = scope.with_from([(alias, table)])
        where = self.compiler.expr(stmt.whereClause, inner) if stmt.whereClause is not None else None
        # Literals compared with a column are coerced to its type at plan time, even when no row matches.
        prechecks: list[Callable[[Frame], None]] = []
        for node in _walk(stmt.whereClause):
            if type(node).__name__ == "A_Expr" and node.lexpr is not None and node.rexpr is not None:
                sides = [node.lexpr, *(node.rexpr if isinstance(node.rexpr, tuple) else (node.rexpr,))]
                columns = [s for s in sides if type(s).__name__ == "ColumnRef"]
                constants = [s for s in sides if _is_literal(s)]
                if len(columns) == 1 and constants:
                    names = [str(f.sval) for f in columns[0].fields if isinstance(f, ast.String)]
                    if len(names) == 1 or (len(names) == 2 and names[0] == alias):
                        column = table.column(names[-1])
                        if column is not None:
                            for constant in constants:
                                prechecks.append(_precheck(self.compiler.expr(constant, scope), column.type_name))
        return where, prechecks

    def _compile_update(self, stmt: Any, scope: Scope) -> Callable[[Frame], int]:
        table = self._table(stmt.relation, scope)
        if stmt.fromClause:
            raise UnsupportedError("UPDATE … FROM", path=scope.path, line=scope.line)
        alias = stmt.relation.alias.aliasname if stmt.relation.alias is not None else stmt.relation.relname
        inner = scope.with_from([(alias, table)])
        assignments: list[tuple[int, Any, Compiled | None]] = []
        set_columns: list[str] = []
        for target in stmt.targetList:
            if target.indirection:
                raise UnsupportedError("UPDATE of a field or element", path=scope.path, line=scope.line)
            column = table.column(target.name)
            if column is None:
                missing = f'column "{target.name}" of relation "{table.name}" does not exist'
                return _fail(DatabaseError("42703", missing))
            if target.name in set_columns:
                return _fail(DatabaseError("42601", f'multiple assignments to same column "{target.name}"'))
            set_columns.append(target.name)
            value = None if isinstance(target.val, ast.SetToDefault) else self.compiler.expr(target.val, inner)
            assignments.append((table.column_names.index(target.name), column, value))
        constant = [_is_constant(t.val) for t in stmt.targetList]
        where, prechecks = self._where(stmt, table, alias, scope)
        columns_set = tuple(set_columns)

        def run(frame: Frame) -> int:
            txn: Transaction = frame.ctx  # type: ignore[assignment]
            planned: dict[int, Any] = {}
            for (index, column, value), is_const in zip(assignments, constant, strict=True):
                if is_const and value is not None:
                    planned[index] = coerce_to_type(value(frame), column.type_name, column.modifiers)
            for check in prechecks:
                check(frame)
            txn.fire_statement(table.name, "BEFORE", "UPDATE", columns_set)
            matches = txn.matching(table, alias, where, frame)
            events: list[_Event] = []
            count = 0
            for position, old in matches:
                frame.rows[alias] = old
                values = list(old.values)
                for index, column, value in assignments:
                    if index in planned:
                        values[index] = planned[index]
                    elif value is None:
                        default = self._defaults.get((table.name, column.name))
                        values[index] = (
                            None
                            if default is None
                            else coerce_to_type(default(frame), column.type_name, column.modifiers)
                        )
                    else:
                        values[index] = coerce_to_type(value(frame), column.type_name, column.modifiers)
                frame.rows.pop(alias, None)
                new = Record(table.name, table.column_names, tuple(values))
                new_or_none = txn.fire_before_row(table.name, "UPDATE", new, old, columns_set)
                if new_or_none is None:
                    continue
                txn.check_row(table, new_or_none)
                txn.store.update(table.name, position, new_or_none)
                _wrote(frame, new_or_none)
                count += 1
                events += txn.after_row_events(table.name, "UPDATE", new_or_none, old, columns_set)
            txn.fire_events(events)
            txn.fire_statement(table.name, "AFTER", "UPDATE", columns_set)
            return count

        return run

    def _compile_delete(self, stmt: Any, scope: Scope) -> Callable[[Frame], int]:
        table = self._table(stmt.relation, scope)
        if stmt.usingClause:
            raise UnsupportedError("DELETE … USING", path=scope.path, line=scope.line)
        alias = stmt.relation.alias.aliasname if stmt.relation.alias is not None else stmt.relation.relname
        where, prechecks = self._where(stmt, table, alias, scope)

        def run(frame: Frame) -> int:
            txn: Transaction = frame.ctx  # type: ignore[assignment]
            for check in prechecks:
                check(frame)
            txn.fire_statement(table.name, "BEFORE", "DELETE")
            matches = txn.matching(table, alias, where, frame)
            events: list[_Event] = []
            count = 0
            for position, old in matches:
                if txn.fire_before_row(table.name, "DELETE", None, old) is None:
                    continue
                txn.store.delete(table.name, position)
                _wrote(frame, old)
                count += 1
                events += txn.after_row_events(table.name, "DELETE", None, old, ())
            txn.fire_events(events)
            txn.fire_statement(table.name, "AFTER", "DELETE")
            return count

        return run


_DEFAULT: Any = object()


@attrs.frozen
class _OnConflict:
    """A planned ON CONFLICT clause: the unique keys it arbitrates on, and its DO UPDATE."""

    model: Any
    table: TableDef
    arbiters: tuple[tuple[int, ...], ...]
    update: bool
    assignments: tuple[tuple[int, ColumnDef, Compiled | None], ...]
    where: Compiled | None
    alias: str = ""

    def apply(
        self, txn: Transaction, frame: Frame, existing: int, proposed: Record, touched: set[int]
    ) -> tuple[Record, list[_Event]] | None:
        """DO UPDATE of the conflicting row, as an UPDATE: BEFORE UPDATE triggers, checks, AFTER UPDATE events."""
        if existing in touched:
            raise DatabaseError("21000", "ON CONFLICT DO UPDATE command cannot affect row a second time")
        table = self.table
        old = txn.store.table(table.name).rows[existing]
        frame.rows[self.alias] = old
        frame.rows["excluded"] = proposed
        try:
            if self.where is not None and self.where(frame) is not True:
                return None
            values = list(old.values)
            for index, column, value in self.assignments:
                if value is None:
                    default = self.model._defaults.get((table.name, column.name))
                    values[index] = (
                        None if default is None else coerce_to_type(default(frame), column.type_name, column.modifiers)
                    )
                else:
                    values[index] = coerce_to_type(value(frame), column.type_name, column.modifiers)
        finally:
            frame.rows.pop(self.alias, None)
            frame.rows.pop("excluded", None)
        new = Record(table.name, table.column_names, tuple(values))
        new_or_none = txn.fire_before_row(table.name, "UPDATE", new, old, self.columns)
        if new_or_none is None:
            return None
        txn.check_row(table, new_or_none)
        touched.add(txn.store.update(table.name, existing, new_or_none))
        return new_or_none, txn.after_row_events(table.name, "UPDATE", new_or_none, old, self.columns)

    @property
    def columns(self) -> tuple[str, ...]:
        """The DO UPDATE SET columns: what ``UPDATE OF`` triggers look at."""
        return tuple(self.table.column_names[index] for index, _, _ in self.assignments)


def _returning_targets(stmt: Any) -> tuple[Any, ...]:
    """The RETURNING list: ``returningList`` in older pglast trees, ``returningClause.exprs`` in newer ones."""
    clause = getattr(stmt, "returningClause", None)
    if clause is not None:
        if clause.options:
            raise UnsupportedError("RETURNING WITH (OLD/NEW AS …)")
        return tuple(clause.exprs or ())
    return tuple(getattr(stmt, "returningList", None) or ())


def _is_star(node: Any) -> bool:
    """``*`` or ``x.*`` standing alone, where PostgreSQL spreads it over columns (a list, not a value)."""
    return isinstance(node, ast.ColumnRef) and isinstance(list(node.fields or ())[-1], ast.A_Star)


def _wrote(frame: Frame, record: Record) -> None:
    if frame.written is not None:
        frame.written.append(record)


# A quoted string, or a number that is not part of a name; anything unusual skips the lifting.
_LITERAL = re.compile(r"'(?:[^']|'')*'|(?<![\w$.])(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![\w$])")
_UNLIFTABLE = re.compile(r"\$|[eEbBxXuUnN]'|--|/\*|\"")


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lift_literals(sql: str) -> tuple[str, list[Any]] | None:
    """``sql`` with its literals as ``$n`` and their values, or None when that would not be faithful."""
    if _UNLIFTABLE.search(sql.replace("''", "")):
        return None
    params: list[Any] = []

    def lift(match: re.Match[str]) -> str:
        text = match.group(0)
        if text.startswith("'"):
            params.append(text[1:-1].replace("''", "'"))
        elif text.isdigit() and len(text) < 19:
            params.append(int(text))
        else:
            params.append(coerce_to_type(text, "numeric"))
        return f"${len(params)}"

    shape = _LITERAL.sub(lift, sql)
    return shape, params


def _bind(statement: Callable[[Transaction, dict[str, Any]], Any], params: list[Any]) -> Callable[[Transaction], Any]:
    values = {f"${index}": value for index, value in enumerate(params, start=1)}
    return lambda txn: statement(txn, values)


def _precheck(constant: Compiled, type_name: str) -> Callable[[Frame], None]:
    def check(frame: Frame) -> None:
        value = constant(frame)
        if isinstance(value, str):
            coerce_to_type(value, type_name)

    return check


def _is_literal(node: Any) -> bool:
    kind = type(node).__name__
    return kind == "ParamRef" or (kind == "A_Const" and isinstance(node.val, ast.String))


def _raiser_of(error: Exception) -> Compiled:
    def fail(frame: Frame) -> Any:
        raise error

    return fail


def _fail(error: DatabaseError) -> Callable[[Frame], int]:
    def run(frame: Frame) -> int:
        raise error

    return run


def _is_constant(node: Any) -> bool:
    if type(node).__name__ in ("A_Const", "ParamRef"):
        return True
    if isinstance(node, ast.TypeCast):
        return _is_constant(node.arg)
    if type(node).__name__ == "A_Expr" and node.lexpr is None and node.name[-1].sval == "-":
        return _is_constant(node.rexpr)
    return False


def _walk(node: Any) -> Iterable[Any]:
    if isinstance(node, ast.Node):
        yield node
        for attr in node:
            yield from _walk(getattr(node, attr))
    elif isinstance(node, tuple):
        for child in node:
            yield from _walk(child)


class Transaction:
    """An open transaction on a :class:`DatabaseModel` (one at a time, like one session)."""

    def __init__(self, model: DatabaseModel, index: int, now: dt.datetime) -> None:
        self.model = model
        self.index = index
        self._now = now
        self.store = model.store
        self.queue = PendingQueue()
        self.savepoints: list[tuple[str, Any]] = []
        self.aborted = False
        self.finished = False
        self.messages_log: list[tuple[str, str]] = []
        self.settings: dict[str, str | None] = {}
        self._depth = 0
        # The modelled wall clock, in microseconds after now(): see clock_time().
        self._ticks = 0
        self._statement_ticks = 0
        self.assumptions: list[str] = []

    # -- Context protocol --------------------------------------------------------------------

    def now(self) -> dt.datetime:
        return self._now

    def clock_time(self) -> dt.datetime:
        """``clock_timestamp()``: the model has no wall clock, so each reading is 1 µs after the last.

        PostgreSQL reads the wall clock (``GetCurrentTimestamp()``): later than the transaction's
        start and than the statement's, and later at each call. The model keeps that order with
        a clock that starts at ``now()`` and moves 1 µs per statement and per reading; the
        values themselves are an assumption, recorded in the outcome.
        """
        self._ticks += 1
        self._assume(CLOCK_ASSUMPTION)
        return self._now + dt.timedelta(microseconds=self._ticks)

    def statement_time(self) -> dt.datetime:
        """``statement_timestamp()``: when the current top-level statement started, on the same clock."""
        self._assume(CLOCK_ASSUMPTION)
        return self._now + dt.timedelta(microseconds=self._statement_ticks)

    def _assume(self, text: str) -> None:
        if text not in self.assumptions:
            self.assumptions.append(text)

    def notify(self, channel: str, payload: str) -> None:
        self.queue.add(channel, payload)

    def new_uuid(self) -> uuid.UUID:
        return self.model.new_uuid()

    def next_value(self, sequence: str) -> int:
        return self.model.next_value(sequence)

    def scan(self, table: str) -> Sequence[Record]:
        return self.store.scan(table)

    def lookup(self, table: str, column: str, value: Any) -> Sequence[Record]:
        return self.store.lookup(table, column, value)

    def has_function(self, name: str) -> bool:
        return name in self.model.functions

    def set_config(self, name: str, value: str | None, is_local: bool) -> str | None:
        self.settings[name] = "" if value is None else value
        return self.settings[name]

    def get_config(self, name: str, missing_ok: bool) -> str | None:
        if name in self.settings:
            return self.settings[name]
        if name.lower() == "timezone":
            return "UTC"
        if missing_ok:
            return None
        raise DatabaseError("42704", f'unrecognized configuration parameter "{name}"')

    def call(self, name: str, args: list[Any], named: dict[str, Any]) -> Any:
        function = self.model.functions[name]
        if isinstance(function, UnsupportedError):
            raise function
        definition = function.definition
        params = definition.params
        if len(args) > len(params):
            raise DatabaseError("42883", f"function {name} does not exist")
        variables: dict[str, Any] = {}
        frame = Frame(self, variables)
        for index, param in enumerate(params):
            if index < len(args):
                value = args[index]
            elif param.name in named:
                value = named[param.name]
            elif function.param_defaults[index] is not None:
                value = function.param_defaults[index](frame)  # type: ignore[misc]
            else:
                raise DatabaseError("42883", f"function {name} does not exist")
            value = coerce_to_type(value, param.type_name)
            variables[f"${index + 1}"] = value
            if param.name:
                variables[param.name] = value
        return self._invoke(function, variables)

    def _invoke(self, function: CompiledFunction, variables: dict[str, Any]) -> Any:
        self._depth += 1
        try:
            if self._depth > 100:
                raise DatabaseError("54001", "stack depth limit exceeded")
            return function.invoke(self, variables)
        finally:
            self._depth -= 1

    def mark(self) -> Any:
        return (self.store.mark(), self.queue.mark(), dict(self.settings))

    def rollback_mark(self, mark: Any) -> None:
        store_mark, queue_mark, settings = mark
        self.store.rollback_to(store_mark)
        self.queue.rollback_to(queue_mark)
        self.settings = dict(settings)

    def release_mark(self, mark: Any) -> None:
        return None

    def message(self, level: str, text: str) -> None:
        self.messages_log.append((level, text))

    # -- triggers and constraints ------------------------------------------------------------

    def check_row(self, table: TableDef, record: Record) -> None:
        relation = self.model.schema.partitions.get(table.name, table.name.split(".")[-1])
        checks = self.model._checks.get(table.name) or []
        frame = Frame(self, {}, {table.name: record})
        for name, check, domain in checks:
            if domain and check(frame) is False:
                raise DatabaseError("23514", f'value for domain {domain} violates check constraint "{name}"')
        for column, value in zip(table.columns, record.values, strict=True):
            if column.not_null and value is None:
                raise DatabaseError(
                    "23502",
                    f'null value in column "{column.name}" of relation "{relation}" violates not-null constraint',
                )
        for name, check, domain in checks:
            if not domain and check(frame) is False:
                raise DatabaseError(
                    "23514",
                    f'new row for relation "{relation}" violates check constraint "{name}"',
                )

    def matching(self, table: TableDef, alias: str, where: Compiled | None, frame: Frame) -> list[tuple[int, Record]]:
        data = self.store.table(table.name)
        rows = sorted(data.rows.items())
        found = []
        for position, record in rows:
            frame.rows[alias] = record
            if where is None or where(frame) is True:
                found.append((position, record))
        frame.rows.pop(alias, None)
        return found

    def _trigger_vars(self, trigger: TriggerDef, op: str, new: Record | None, old: Record | None) -> dict[str, Any]:
        schema, _, relname = trigger.table.rpartition(".")
        return {
            "new": new,
            "old": old,
            "tg_name": trigger.name,
            "tg_when": trigger.timing,
            "tg_level": trigger.level,
            "tg_op": op,
            "tg_relid": None,
            "tg_relname": relname,
            "tg_table_name": relname,
            "tg_table_schema": schema or "public",
            "tg_nargs": 0,
            "tg_argv": None,
            "found": False,
        }

    def _run_trigger(self, trigger: TriggerDef, op: str, new: Record | None, old: Record | None) -> Any:
        function = self.model.functions.get(trigger.function)
        if function is None:
            raise UnsupportedError(
                f"trigger function {trigger.function} is not defined", path=trigger.path, line=trigger.line
            )
        if isinstance(function, UnsupportedError):
            raise function
        return self._invoke(function, self._trigger_vars(trigger, op, new, old))

    def _applies(
        self,
        trigger: TriggerDef,
        timing: str,
        level: str,
        op: str,
        rows: tuple[Record | None, Record | None],
        *,
        columns: tuple[str, ...] = (),
    ) -> bool:
        new, old = rows
        if not trigger.enabled or trigger.timing != timing or trigger.level != level or op not in trigger.events:
            return False
        if op == "UPDATE" and trigger.update_columns and not set(trigger.update_columns) & set(columns):
            return False
        when = self.model._when.get((trigger.table, trigger.name))
        if when is not None and level == "ROW":
            return when(Frame(self, {"new": new, "old": old})) is True
        return True

    def fire_statement(self, table: str, timing: str, op: str, columns: tuple[str, ...] = ()) -> None:
        """Statement triggers; ``columns`` are an UPDATE's SET columns (``UPDATE OF`` triggers need one)."""
        for trigger in self.model._triggers.get(table, ()):
            if isinstance(trigger, TriggerDef) and self._applies(
                trigger, timing, "STATEMENT", op, (None, None), columns=columns
            ):
                self._run_trigger(trigger, op, None, None)

    def fire_before_row(
        self, table: str, op: str, new: Record | None, old: Record | None, columns: tuple[str, ...] = ()
    ) -> Record | None:
        current = new if op != "DELETE" else old
        for trigger in self.model._triggers.get(table, ()):
            if not isinstance(trigger, TriggerDef) or not self._applies(
                trigger, "BEFORE", "ROW", op, (new, old), columns=columns
            ):
                continue
            result = self._run_trigger(trigger, op, new if op != "DELETE" else None, old)
            if result is None:
                return None
            if op != "DELETE":
                if not isinstance(result, Record):
                    raise DatabaseError(
                        "42804", "returned row structure does not match the structure of the triggering table"
                    )
                new = Record(table, result.columns, result.values)
                current = new
        return current

    def after_row_events(
        self, table: str, op: str, new: Record | None, old: Record | None, columns: tuple[str, ...]
    ) -> list[_Event]:
        events = []
        for trigger in self.model._triggers.get(table, ()):
            if isinstance(trigger, _RICheck):
                if self._ri_applies(trigger, op, new, old):
                    events.append(_Event(trigger, op, new, old))
            elif self._applies(trigger, "AFTER", "ROW", op, (new, old), columns=columns):
                events.append(_Event(trigger, op, new, old))
        return events

    def _ri_applies(self, check: _RICheck, op: str, new: Record | None, old: Record | None) -> bool:
        if check.side == "c":
            if op == "INSERT":
                return True
            if op == "UPDATE" and new is not None and old is not None:
                return any(new.get(c) != old.get(c) for c in check.fk.columns)
            return False
        if op == "DELETE":
            return True
        if op == "UPDATE" and new is not None and old is not None:
            return any(new.get(c) != old.get(c) for c in check.fk.ref_columns)
        return False

    def fire_events(self, events: list[_Event]) -> None:
        for event in events:
            if isinstance(event.trigger, _RICheck):
                self._ri_check(event.trigger, event.op, event.new, event.old)
            else:
                self._run_trigger(event.trigger, event.op, event.new, event.old)

    def _ri_check(self, check: _RICheck, op: str, new: Record | None, old: Record | None) -> None:
        fk = check.fk
        if check.side == "c":
            assert new is not None
            key = [new.get(c) for c in fk.columns]
            if any(v is None for v in key):
                return
            if not self._exists(fk.ref_table, fk.ref_columns, key):
                raise DatabaseError(
                    "23503",
                    f'insert or update on table "{check.referencing_table}" violates foreign key constraint',
                )
            return
        assert old is not None
        key = [old.get(c) for c in fk.ref_columns]
        if any(v is None for v in key):
            return
        if op == "DELETE" and fk.on_delete == "c":
            self._cascade_delete(check.referencing_table, fk.columns, key)
            return
        if self._exists(fk.ref_table, fk.ref_columns, key):
            return  # NO ACTION: fine when another row now has the key
        if self._exists(check.referencing_table, fk.columns, key):
            action = fk.on_delete if op == "DELETE" else fk.on_update
            if action not in ("a", "r"):
                # Valid SQL the model does not follow yet: say so rather than answer wrongly.
                name = {"c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}.get(action, action)
                raise UnsupportedError(f"ON {op} {name} on a referenced row of {fk.ref_table}")
            raise DatabaseError(
                "23503",
                f'update or delete on table "{fk.ref_table}" violates foreign key constraint'
                f' on table "{check.referencing_table}"',
            )

    def _cascade_delete(self, table: str, columns: tuple[str, ...], key: list[Any]) -> None:
        """ON DELETE CASCADE: a DELETE of the referencing rows, with their own triggers, as PostgreSQL runs it."""
        where = " AND ".join(f"{_quote_ident(c)} = ${i}" for i, c in enumerate(columns, start=1))
        name = ".".join(_quote_ident(part) for part in table.split("."))
        (statement,) = self.model._compile_text(f"DELETE FROM ONLY {name} WHERE {where}", len(columns))
        statement(self, {f"${i}": value for i, value in enumerate(key, start=1)})

    def _exists(self, table: str, columns: tuple[str, ...], key: list[Any]) -> bool:
        candidates = self.store.lookup(table, columns[0], key[0])
        return any(all(r.get(c) == v for c, v in zip(columns, key, strict=True)) for r in candidates)

    # -- transaction control -----------------------------------------------------------------

    def _check_open(self) -> None:
        if self.finished:
            raise RuntimeError("the transaction has ended")

    def execute(self, sql: str) -> Any:
        """Run one or more SQL statements; an error aborts the transaction, as in PostgreSQL."""
        self._check_open()
        if self.aborted:
            raise DatabaseError(
                "25P02", "current transaction is aborted, commands ignored until end of transaction block"
            )
        result = None
        # A statement starts after BEGIN and after every earlier reading of the clock.
        self._ticks += 1
        self._statement_ticks = self._ticks
        try:
            reject_unencodable(sql)
            for statement in self.model.compile_statements(sql):
                result = statement(self)
        except DatabaseError:
            self.aborted = True
            raise
        return result

    def savepoint(self, name: str) -> None:
        self._check_open()
        if self.aborted:
            raise DatabaseError(
                "25P02", "current transaction is aborted, commands ignored until end of transaction block"
            )
        self.savepoints.append((name, self.mark()))

    def _find(self, name: str) -> int:
        for index in range(len(self.savepoints) - 1, -1, -1):
            if self.savepoints[index][0] == name:
                return index
        self.aborted = True
        raise DatabaseError("3B001", f'savepoint "{name}" does not exist')

    def rollback_to(self, name: str) -> None:
        self._check_open()
        index = self._find(name)
        self.rollback_mark(self.savepoints[index][1])
        del self.savepoints[index + 1 :]
        self.aborted = False

    def release(self, name: str) -> None:
        self._check_open()
        if self.aborted:
            raise DatabaseError(
                "25P02", "current transaction is aborted, commands ignored until end of transaction block"
            )
        index = self._find(name)
        del self.savepoints[index:]

    def _warnings(self) -> tuple[str, ...]:
        return tuple(text for level, text in self.messages_log if level == "WARNING")

    def commit(self, statement_errors: Sequence[StepError] = ()) -> TransactionOutcome:
        """Commit (an aborted transaction rolls back instead, as PostgreSQL's COMMIT does)."""
        self._check_open()
        if self.aborted:
            return self.rollback(None, statement_errors)
        messages = []
        table = self.store.tables.get(MESSAGES_TABLE)
        if table is not None:
            inserted = [entry[2] for entry in self.store.undo if entry[0] == "insert" and entry[1] == MESSAGES_TABLE]
            inserted += [entry[4] for entry in self.store.undo if entry[0] == "update" and entry[1] == MESSAGES_TABLE]
            for position in sorted(inserted):
                record = table.rows.get(position)
                if record is not None:
                    messages.append(_message(record, self.index))
        delivered = tuple(ModelNotification(c, p, self.index) for c, p in self.queue.deliver())
        self.store.commit()
        self.model.notifications.extend(delivered)
        return self._finish(True, delivered, tuple(messages), None, statement_errors)

    def rollback(
        self, error: StepError | None = None, statement_errors: Sequence[StepError] = ()
    ) -> TransactionOutcome:
        self._check_open()
        self.store.rollback_to(0)
        self.queue.rollback_to(0)
        return self._finish(False, (), (), error, statement_errors)

    def _finish(
        self,
        committed: bool,
        notifications: tuple[ModelNotification, ...],
        messages: tuple[ModelMessage, ...],
        error: StepError | None,
        statement_errors: Sequence[StepError],
    ) -> TransactionOutcome:
        self.finished = True
        self.model.open = None
        return TransactionOutcome(
            transaction=self.index,
            committed=committed,
            notifications=notifications,
            messages=messages,
            error=error,
            statement_errors=tuple(statement_errors),
            warnings=self._warnings(),
            now=self._now,
            assumptions=tuple(self.assumptions),
        )


def _message(record: Record, index: int) -> ModelMessage:
    row = record.as_dict()
    payload = row.get("payload")
    return ModelMessage(
        topic=row.get("topic"),
        event=row.get("event"),
        payload=jsonb_text(payload.doc) if isinstance(payload, Jsonb) else None,
        private=row.get("private"),
        extension=row.get("extension"),
        transaction=index,
        row=row,
    )
