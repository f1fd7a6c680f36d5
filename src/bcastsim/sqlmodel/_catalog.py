"""Statement-level reading of SQL files into a :class:`Catalog` (pglast).

Files are applied in order, the way PostgreSQL would run them as migrations: a later
``CREATE OR REPLACE FUNCTION`` replaces an earlier one, ``DROP`` removes, ``ALTER TABLE …
ENABLE/DISABLE TRIGGER`` flips a trigger. Statements that cannot change what a trigger
sends (indexes, grants, policies, data) are skipped; statements that could but are not
modelled become diagnostics.
"""

from __future__ import annotations

import bisect
import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import orjson
import pglast
from pglast import ast
from pglast.enums import (
    A_Expr_Kind,
    AlterTableType,
    BoolExprType,
    BoolTestType,
    ConstrType,
    FunctionParameterMode,
    NullTestType,
    ObjectType,
)
from pglast.stream import RawStream

from bcastsim._errors import InputError
from bcastsim._gc import collection_paused
from bcastsim._io import path_kind, read_text
from bcastsim.sqlmodel._bounds import SqlLimits
from bcastsim.sqlmodel._cfg import build_cfg
from bcastsim.sqlmodel._datums import TRIGGER_DATUMS, TRIGGER_DATUMS_HEAD
from bcastsim.sqlmodel._migrations import is_down_file, order_directory, up_part
from bcastsim.sqlmodel._plpgsql import analyze_catalog
from bcastsim.sqlmodel._privileged import privileged_in_statement
from bcastsim.sqlmodel._psql import find_psql_variable, stand_in_psql_variables, strip_psql
from bcastsim.sqlmodel._typenames import normalize_type
from bcastsim.sqlmodel._types import (
    Catalog,
    Column,
    Diagnostic,
    Function,
    Parameter,
    SourceLocation,
    Table,
    Trigger,
)

__all__ = ["LineIndex", "load_catalog", "load_catalog_text", "normalize_type", "qualified_name"]

_SERIALS = {"serial", "serial4", "bigserial", "serial8", "smallserial", "serial2"}

# Trigger bit flags from PostgreSQL's pg_trigger.h.
_TRIGGER_BEFORE = 1 << 1
_TRIGGER_INSTEAD = 1 << 6
_TRIGGER_EVENTS = ((1 << 2, "INSERT"), (1 << 4, "UPDATE"), (1 << 3, "DELETE"), (1 << 5, "TRUNCATE"))

# Statements that never change which messages triggers send.
_IGNORED_STATEMENTS = (
    ast.CreateExtensionStmt,
    ast.CreateSchemaStmt,
    ast.IndexStmt,
    ast.CommentStmt,
    ast.GrantStmt,
    ast.GrantRoleStmt,
    ast.CreatePolicyStmt,
    ast.AlterPolicyStmt,
    ast.InsertStmt,
    ast.UpdateStmt,
    ast.DeleteStmt,
    ast.SelectStmt,
    ast.VariableSetStmt,
    ast.TransactionStmt,
    ast.ViewStmt,
    ast.CreateRoleStmt,
    ast.AlterRoleStmt,
    ast.CreateSeqStmt,
    ast.AlterSeqStmt,
    ast.CreatePublicationStmt,
    ast.AlterPublicationStmt,
    ast.CreateEnumStmt,
    ast.CompositeTypeStmt,
    ast.CreateDomainStmt,
    ast.AlterDefaultPrivilegesStmt,
    ast.AlterOwnerStmt,
    ast.AlterFunctionStmt,
    ast.NotifyStmt,
    ast.ListenStmt,
    ast.UnlistenStmt,
    ast.TruncateStmt,
    ast.VacuumStmt,
    ast.AnalyzeStmt if hasattr(ast, "AnalyzeStmt") else ast.VacuumStmt,
)


class LineIndex:
    """Converts character offsets in a text to 1-based line numbers."""

    def __init__(self, text: str) -> None:
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, max(offset, 0))


class _ShiftedLines(LineIndex):
    """Line numbers of a text that starts ``shift`` lines into the file (a statement inside a DO body)."""

    def __init__(self, text: str, shift: int) -> None:
        super().__init__(text)
        self._shift = shift

    def line(self, offset: int) -> int:
        return super().line(offset) + self._shift


# Statements of a DO block that change what the catalog holds.
_DO_APPLIED = (
    ast.CreateStmt,
    ast.AlterTableStmt,
    ast.CreateTrigStmt,
    ast.DropStmt,
    ast.CreateFunctionStmt,
    ast.AlterFunctionStmt,
    ast.RenameStmt,
)


def qualified_name(schema: str | None, name: str) -> str:
    """``name`` in ``public`` (or unqualified), ``schema.name`` elsewhere."""
    if schema is None or schema in {"public", "pg_catalog"}:
        return name
    return f"{schema}.{name}"


def _strings(nodes: Iterable[Any] | None) -> list[str]:
    return [node.sval or "" for node in nodes or () if isinstance(node, ast.String)]


def _type_of(type_name: ast.TypeName) -> tuple[str, tuple[int, ...]]:
    names = _strings(type_name.names)
    raw = names[-1] if names else "unknown"
    if len(names) > 1 and names[0] not in {"pg_catalog", "public"}:
        raw = f"{names[0]}.{raw}"
    modifiers: list[int] = []
    for modifier in type_name.typmods or ():
        if isinstance(modifier, ast.A_Const) and isinstance(modifier.val, ast.Integer):
            modifiers.append(modifier.val.ival or 0)
    # `timestamp(3)` and `interval` carry precision the JSON width does not depend on;
    # keep the modifiers anyway, consumers decide.
    normalized = normalize_type(raw)
    if type_name.arrayBounds:
        normalized += "[]" * len(type_name.arrayBounds)
    if type_name.pct_type:
        normalized = ".".join(names).lower() + "%type"
    return normalized, tuple(modifiers)


def _render(node: Any) -> str:
    try:
        return str(RawStream()(node))
    except Exception:  # the deparser does not know every node; the text is for people only
        return type(node).__name__


def _range_name(relation: ast.RangeVar) -> str:
    return qualified_name(relation.schemaname, relation.relname or "")


_SQL_FIX = "correct the statement at that line: it must parse as PostgreSQL 15 (psql shows the server's own message)"
_PLPGSQL_FIX = "correct the function body at that line: CREATE FUNCTION in psql shows PostgreSQL's own message"


class _Loader:
    def __init__(self, migrations: str | None = None, limits: SqlLimits | None = None) -> None:
        self.catalog = Catalog(analyzer=analyze_catalog)
        self._migrations = migrations
        self._limits = limits or SqlLimits()
        # Foreign keys given without columns point at the referenced table's primary key,
        # which may be defined later in the files: resolve at the end.
        self._pending_references: list[tuple[str, str, str]] = []
        # Domains and enums: what a column of that type is underneath.
        self._types: dict[str, Column] = {}
        self._called: set[str] = set()
        # Functions are identified by name and argument types: every overload of a name, oldest
        # first. ``catalog.functions`` shows the latest one standing (triggers name no arguments).
        self._overloads: dict[str, dict[tuple[str, ...], Function]] = {}
        self._superuser_roles: frozenset[str] = frozenset()
        self._superusers_read = 0

    # -- files -------------------------------------------------------------------------

    def load_file(self, path: Path, shown: str) -> None:
        try:
            text = read_text(path, "SQL file")
        except InputError as error:
            raise InputError(error.message, path=shown, line=error.line, fix=error.fix) from None
        self.load_text(text, shown)

    def load_text(self, text: str, shown: str) -> None:
        self._limits.check_text(text, shown)
        if is_down_file(shown) and self._migrations != "plain":
            self._diagnose(
                "migration-format",
                "a Down migration (it undoes its Up part): not read, so nothing in it counts as sent",
                SourceLocation(shown, 1),
            )
            self._privileged_only(text, shown, "in a Down migration")
            return
        original = text
        text, convention, skipped = up_part(text, self._migrations)
        if convention != "plain":
            what = f"; lines {skipped[0]}-{skipped[1]} (Down) are not read" if skipped else ""
            self._diagnose(
                "migration-format", f"{convention} migration: the Up part is read{what}", SourceLocation(shown, 1)
            )
        if skipped:
            # The Down part, on its own lines: what is not read as sent is still read for what needs a superuser.
            kept = text.split("\n")
            down = "\n".join(line if not up else "" for line, up in zip(original.split("\n"), kept, strict=True))
            self._privileged_only(down, shown, "in a Down migration")
        text, notes = strip_psql(text)
        for note in notes:
            self._diagnose(note.code, note.message, SourceLocation(shown, note.line))
        lines = LineIndex(text)
        try:
            statements = pglast.parse_sql(text)
        except pglast.parser.ParseError as error:
            variable = find_psql_variable(text)
            stand_in, variable_notes = stand_in_psql_variables(text) if variable is not None else (text, [])
            substituted: Any = None
            try:
                substituted = pglast.parse_sql(stand_in) if variable is not None else None
            except Exception:  # not even with stand-ins: the variable is the reason to name
                substituted = None
            if substituted is not None:
                statements = substituted
                text = stand_in
                for note in variable_notes:
                    self._diagnose(note.code, note.message, SourceLocation(shown, note.line))
            elif variable is not None:
                raise InputError(
                    f"psql variable {variable[0]}: psql substitutes it before PostgreSQL reads the file",
                    path=shown,
                    line=variable[1],
                    fix=f"substitute {variable[0]} first (e.g. with sed, or psql -v and pg_dump of the result)",
                ) from None
            else:
                message = str(error.args[0]) if error.args else str(error)
                offset = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], int) else None
                line = lines.line(offset) if offset is not None else None
                raise InputError(f"SQL syntax error: {message}", path=shown, line=line, fix=_SQL_FIX) from None
        except Exception as error:  # pglast raises a few other kinds on odd bytes (e.g. NUL)
            raise InputError(f"SQL cannot be parsed: {error}", path=shown, fix=_SQL_FIX) from None
        self._limits.check_statements(
            len(statements), shown, lambda index: lines.line(statements[index].stmt_location or 0)
        )
        function_bound = self._limits.function_bound()
        for raw in statements:
            start = raw.stmt_location or 0
            length = raw.stmt_len or (len(text) - start)
            # stmt_location points at the end of the previous statement's ';': the first
            # token (and its line) comes after leading whitespace and comments.
            statement_text = text[start : start + length]
            first = start + _leading_noise(statement_text)
            location = SourceLocation(shown, lines.line(first))
            if isinstance(raw.stmt, ast.CreateFunctionStmt | ast.DoStmt):
                self._limits.check_function(
                    _routine_name(raw.stmt), len(statement_text.encode()), shown, location.line, function_bound
                )
            self.apply(raw.stmt, statement_text, start, location, lines)
            parsed_body = self._parsed_body(raw.stmt, location)
            superusers = self._superusers()
            self.catalog.privileged.extend(
                privileged_in_statement(raw.stmt, statement_text, location, lines, parsed_body, superusers)
            )

    def load_left_out(self, path: Path, shown: str, context: str) -> None:
        """A file the migration tool does not run on the way up, read for what needs a superuser only."""
        try:
            text = read_text(path, "SQL file")
        except InputError as error:
            raise InputError(error.message, path=shown, line=error.line, fix=error.fix) from None
        self._limits.check_text(text, shown)
        self._privileged_only(text, shown, context)

    def _privileged_only(self, text: str, shown: str, context: str) -> None:
        """The statements that need a superuser in SQL that is not read as sent: a Down migration, or part.

        A migration tool runs a Down migration when it rolls back, as the role it migrates with; its
        markers and names are the reviewed change's own. So what is left out of the catalog is
        still read for the privilege rules, each use placed by ``context`` ("in a Down migration").
        """
        text, _ = strip_psql(text)
        try:
            statements = pglast.parse_sql(text)
        except Exception:  # a Down part that does not parse on its own: the note above says it is not read
            self._diagnose(
                "migration-format",
                f"SQL {context} does not parse on its own: what in it needs a superuser is not looked for",
                SourceLocation(shown, 1),
            )
            return
        lines = LineIndex(text)
        for raw in statements:
            start = raw.stmt_location or 0
            statement_text = text[start : start + (raw.stmt_len or (len(text) - start))]
            location = SourceLocation(shown, lines.line(start + _leading_noise(statement_text)))
            superusers = self._superusers()
            for use in privileged_in_statement(raw.stmt, statement_text, location, lines, None, superusers):
                where = ", ".join(part for part in (context, use.context) if part)
                self.catalog.privileged.append(attrs_evolve(use, context=where))

    def _superusers(self) -> frozenset[str]:
        """The roles earlier statements made superusers (``privileged`` only grows: read once per new use)."""
        uses = self.catalog.privileged
        if self._superusers_read < len(uses):
            found = {use.superuser_role for use in uses[self._superusers_read :] if use.superuser_role}
            if found:
                self._superuser_roles = self._superuser_roles | found
            self._superusers_read = len(uses)
        return self._superuser_roles

    def _parsed_body(self, stmt: Any, location: SourceLocation) -> dict[str, object] | None:
        """The PL/pgSQL parse of the function ``stmt`` just created at ``location``, if it has one."""
        if not isinstance(stmt, ast.CreateFunctionStmt):
            return None
        names = _strings(stmt.funcname)
        function = self.catalog.functions.get(qualified_name(names[0] if len(names) > 1 else None, names[-1]))
        return function.plpgsql if function is not None and function.location == location else None

    # -- statements --------------------------------------------------------------------

    def apply(self, stmt: Any, statement_text: str, start: int, location: SourceLocation, lines: LineIndex) -> None:
        if isinstance(stmt, ast.CreateStmt):
            self._create_table(stmt, location)
        elif isinstance(stmt, ast.CreateFunctionStmt):
            self._create_function(stmt, statement_text, start, location, lines)
        elif isinstance(stmt, ast.CreateTrigStmt):
            self._create_trigger(stmt, location)
        elif isinstance(stmt, ast.DropStmt):
            self._drop(stmt, location)
        elif isinstance(stmt, ast.AlterTableStmt):
            self._alter_table(stmt, location)
        elif isinstance(stmt, ast.RenameStmt):
            self._rename(stmt, location)
        elif isinstance(stmt, ast.DoStmt):
            self._do_block(stmt, location, lines, start, statement_text)
        elif isinstance(stmt, ast.AlterFunctionStmt):
            self._alter_function(stmt, location)
        elif isinstance(stmt, ast.CreateTableAsStmt):
            self._diagnose("create-table-as", "CREATE TABLE … AS: column types not modelled", location)
        elif isinstance(stmt, ast.CreateDomainStmt):
            self._create_domain(stmt)
        elif isinstance(stmt, ast.CreateEnumStmt):
            labels = _strings(stmt.vals)
            names = _strings(stmt.typeName)
            if names:
                name = qualified_name(names[0] if len(names) > 1 else None, names[-1])
                self._types[name] = Column(name, "text", max_chars=max((len(x) for x in labels), default=0))
        elif isinstance(stmt, ast.SelectStmt | ast.CallStmt):
            self._called.update(_called_functions(stmt))
        elif isinstance(stmt, ast.CreateSchemaStmt) and stmt.schemaname:
            self.catalog.schemas.add(stmt.schemaname)
        elif isinstance(stmt, ast.ListenStmt) and stmt.conditionname:
            self.catalog.listens.add(stmt.conditionname)
        elif isinstance(stmt, _IGNORED_STATEMENTS):
            return
        # Anything else (CREATE TYPE, CREATE RULE, …) cannot add a notification the model
        # knows of; rules could, so say so.
        elif isinstance(stmt, ast.RuleStmt):
            self._diagnose("rule", "CREATE RULE not analysed: rewrite rules may send NOTIFY", location)

    def _do_block(
        self, stmt: ast.DoStmt, location: SourceLocation, lines: LineIndex, start: int, statement_text: str
    ) -> None:
        """Apply the DDL a PL/pgSQL DO block runs (``ALTER TABLE … SET NOT NULL`` inside an IF, …)."""
        body = ""
        language = "plpgsql"
        body_offset = 0
        for option in stmt.args or ():
            if isinstance(option, ast.DefElem) and option.defname == "as" and isinstance(option.arg, ast.String):
                body = option.arg.sval or ""
                body_offset = option.arg_location if isinstance(option.arg_location, int) else 0
            elif (
                isinstance(option, ast.DefElem) and option.defname == "language" and isinstance(option.arg, ast.String)
            ):
                language = (option.arg.sval or "").lower()
        lost = "DO block not analysed: notifications or DDL it runs are not modelled"
        if language != "plpgsql":
            self._diagnose("do-block", lost, location)
            return
        try:
            parsed = _parse_plpgsql_tree(
                f"CREATE FUNCTION bcastsim_do() RETURNS void LANGUAGE plpgsql AS $bcastsim_do${body}$bcastsim_do$;"
            )
        except Exception:  # what the PL/pgSQL parser cannot read here is not modelled
            self._diagnose("do-block", lost, location)
            return
        # pglast locations are offsets into the whole text parsed, not into the statement.
        first_line = lines.line(body_offset) if body_offset else location.line
        dynamic = False
        # What the block itself runs, once; bodies of functions it creates run later, in triggers.
        runs_once = body
        for loop in _catalog_loops(parsed):
            here = SourceLocation(location.path, first_line + max(loop["lineno"], 1) - 1)
            self._set_search_path_by_loop(loop, here)
        # The block's own control flow: a statement no path reaches (after an unconditional RETURN or
        # RAISE EXCEPTION) is never run, so what it would create is not applied.
        graph = build_cfg(parsed)
        facts = graph.facts() if graph is not None else ()
        reached = {node.lineno for node in graph.statements if facts[node.index].reachable} if graph else set()
        never = {node.lineno for node in graph.statements if not facts[node.index].reachable} if graph else set()
        for query, lineno, constant in _do_statements(parsed):
            if lineno in never - reached:
                self._diagnose("unreachable", "statement of a DO block that no path reaches: not applied", location)
                continue
            if not constant:
                dynamic = dynamic or not _is_catalog_loop_statement(query)
                continue
            try:
                inner = pglast.parse_sql(query)
            except Exception:
                dynamic = True
                continue
            query_lines = LineIndex(query)
            for raw in inner:
                offset = raw.stmt_location or 0
                length = raw.stmt_len or (len(query) - offset)
                text = query[offset : offset + length]
                first = offset + _leading_noise(text)
                # The statement's lines in the file: the DO body's line of the statement, then its own.
                base = first_line + max(lineno, 1) - 1
                here = SourceLocation(location.path, base + query_lines.line(first) - 1)
                if isinstance(raw.stmt, _DO_APPLIED):
                    self.apply(raw.stmt, query, 0, here, _ShiftedLines(query, base - 1))
                if isinstance(raw.stmt, ast.CreateFunctionStmt):
                    runs_once = runs_once.replace(text, "")
        if re.search(r"\b(pg_notify|notify|realtime\s*\.\s*send|broadcast_changes)\b", runs_once, re.I):
            self._diagnose(
                "do-block", "DO block sends when the script runs, once: not modelled as a trigger's site", location
            )
        elif dynamic:
            self._diagnose(
                "do-block", "DO block runs SQL built at run time: DDL or notifications in it are not modelled", location
            )

    def _diagnose(self, code: str, message: str, location: SourceLocation, function: str | None = None) -> None:
        self.catalog.diagnostics.append(Diagnostic(code, message, location, function))

    # CREATE TABLE ------------------------------------------------------------------------

    def _create_table(self, stmt: ast.CreateStmt, location: SourceLocation) -> None:
        if stmt.relation is None:
            return
        name = _range_name(stmt.relation)
        if stmt.if_not_exists and name in self.catalog.tables:
            return
        columns: dict[str, Column] = {}
        primary_key: list[str] = []
        # PARTITION OF / INHERITS take the parent's columns.
        for parent in stmt.inhRelations or ():
            if isinstance(parent, ast.RangeVar):
                parent_table = self.catalog.tables.get(_range_name(parent))
                if parent_table is not None:
                    for column in parent_table.columns:
                        columns[column.name] = column
                    if stmt.partbound is not None:
                        primary_key = list(parent_table.primary_key)
        for element in stmt.tableElts or ():
            if isinstance(element, ast.ColumnDef):
                column, is_pk = self._column(name, element)
                columns[column.name] = column
                if is_pk:
                    primary_key = [column.name]
            elif isinstance(element, ast.Constraint):
                primary_key = self._table_constraint(name, element, columns, primary_key)
            elif isinstance(element, ast.TableLikeClause):
                source = self.catalog.tables.get(_range_name(element.relation)) if element.relation else None
                if source is None:
                    self._diagnose("like-unknown", "LIKE of an unknown table: columns missing", location)
                else:
                    for column in source.columns:
                        columns[column.name] = attrs_evolve(column, references=None, unique=False)
        for key in primary_key:
            if key in columns:
                columns[key] = attrs_evolve(columns[key], not_null=True)
        self.catalog.tables[name] = Table(name, tuple(columns.values()), tuple(primary_key), location)

    def _create_domain(self, stmt: ast.CreateDomainStmt) -> None:
        names = _strings(stmt.domainname)
        if not names or stmt.typeName is None:
            return
        name = qualified_name(names[0] if len(names) > 1 else None, names[-1])
        type_name, modifiers = _type_of(stmt.typeName)
        base = self._types.get(type_name, Column(name, type_name, modifiers))
        not_null = base.not_null
        max_chars = base.max_chars
        for constraint in stmt.constraints or ():
            if isinstance(constraint, ast.Constraint):
                if constraint.contype == ConstrType.CONSTR_NOTNULL:
                    not_null = True
                elif constraint.contype == ConstrType.CONSTR_CHECK:
                    facts = _check_facts(constraint.raw_expr)
                    max_chars = _tighter(max_chars, facts.get("value", (None, False))[0])
                    not_null = not_null or facts.get("value", (None, False))[1]
        self._types[name] = Column(name, base.type_name, base.type_modifiers, not_null=not_null, max_chars=max_chars)

    def _column(self, table: str, element: ast.ColumnDef) -> tuple[Column, bool]:
        raw_names = _strings(element.typeName.names) if element.typeName else []
        type_name, modifiers = _type_of(element.typeName) if element.typeName else ("unknown", ())
        max_chars: int | None = None
        not_null = bool(element.is_not_null)
        underlying = self._types.get(type_name)
        if underlying is not None:
            type_name, modifiers = underlying.type_name, underlying.type_modifiers
            max_chars, not_null = underlying.max_chars, not_null or underlying.not_null
        default_sql: str | None = None
        references: tuple[str, str] | None = None
        unique = False
        is_pk = False
        if raw_names and raw_names[-1] in _SERIALS:
            not_null = True
            default_sql = "nextval(…)"
        if element.raw_default is not None:
            default_sql = _render(element.raw_default)
        for constraint in element.constraints or ():
            if not isinstance(constraint, ast.Constraint):
                continue
            kind = constraint.contype
            if kind == ConstrType.CONSTR_NOTNULL:
                not_null = True
            elif kind == ConstrType.CONSTR_NULL:
                not_null = False
            elif kind == ConstrType.CONSTR_DEFAULT and constraint.raw_expr is not None:
                default_sql = _render(constraint.raw_expr)
            elif kind == ConstrType.CONSTR_PRIMARY:
                is_pk = True
                not_null = True
                unique = True
            elif kind == ConstrType.CONSTR_UNIQUE:
                unique = True
            elif kind == ConstrType.CONSTR_IDENTITY:
                not_null = True
                default_sql = "identity"
            elif kind == ConstrType.CONSTR_CHECK and constraint.raw_expr is not None:
                chars, required = _check_facts(constraint.raw_expr).get(element.colname or "", (None, False))
                max_chars = _tighter(max_chars, chars)
                not_null = not_null or required
            elif kind == ConstrType.CONSTR_GENERATED and constraint.raw_expr is not None:
                default_sql = "generated: " + _render(constraint.raw_expr)
            elif kind == ConstrType.CONSTR_FOREIGN and constraint.pktable is not None:
                target = _range_name(constraint.pktable)
                target_columns = _strings(constraint.pk_attrs)
                if target_columns:
                    references = (target, target_columns[0])
                else:
                    references = (target, "")
                    self._pending_references.append((table, element.colname or "", target))
        column = Column(
            name=element.colname or "",
            type_name=type_name,
            type_modifiers=modifiers,
            not_null=not_null,
            default_sql=default_sql,
            references=references,
            unique=unique,
            max_chars=max_chars,
        )
        return column, is_pk

    def _table_constraint(
        self, table: str, constraint: ast.Constraint, columns: dict[str, Column], primary_key: list[str]
    ) -> list[str]:
        kind = constraint.contype
        keys = _strings(constraint.keys)
        if kind == ConstrType.CONSTR_PRIMARY:
            for key in keys:
                if key in columns:
                    columns[key] = attrs_evolve(columns[key], not_null=True, unique=len(keys) == 1)
            return keys
        if kind == ConstrType.CONSTR_CHECK and constraint.raw_expr is not None:
            for name, (chars, required) in _check_facts(constraint.raw_expr).items():
                if name in columns:
                    column = columns[name]
                    columns[name] = attrs_evolve(
                        column, max_chars=_tighter(column.max_chars, chars), not_null=column.not_null or required
                    )
        if kind == ConstrType.CONSTR_UNIQUE and len(keys) == 1 and keys[0] in columns:
            columns[keys[0]] = attrs_evolve(columns[keys[0]], unique=True)
        elif kind == ConstrType.CONSTR_FOREIGN and constraint.pktable is not None:
            target = _range_name(constraint.pktable)
            fk = _strings(constraint.fk_attrs)
            pk = _strings(constraint.pk_attrs)
            # Only single-column keys say something about one column's lineage.
            if len(fk) == 1 and fk[0] in columns:
                columns[fk[0]] = attrs_evolve(columns[fk[0]], references=(target, pk[0] if pk else ""))
                if not pk:
                    self._pending_references.append((table, fk[0], target))
        return primary_key

    # CREATE FUNCTION -----------------------------------------------------------------

    def _create_function(
        self,
        stmt: ast.CreateFunctionStmt,
        statement_text: str,
        start: int,
        location: SourceLocation,
        lines: LineIndex,
    ) -> None:
        names = _strings(stmt.funcname)
        name = qualified_name(names[0] if len(names) > 1 else None, names[-1])
        language = "sql"
        security_definer = False
        search_path: str | None = None
        body = ""
        body_offset: int | None = None
        for option in stmt.options or ():
            if not isinstance(option, ast.DefElem):
                continue
            if option.defname == "language" and isinstance(option.arg, ast.String):
                language = (option.arg.sval or "").lower()
            elif option.defname == "security" and isinstance(option.arg, ast.Boolean):
                security_definer = bool(option.arg.boolval)
            elif option.defname == "set" and isinstance(option.arg, ast.VariableSetStmt):
                if (option.arg.name or "").lower() == "search_path":
                    search_path = ", ".join(_set_values(option.arg))
            elif option.defname == "as":
                parts = _strings(option.arg if isinstance(option.arg, tuple) else (option.arg,))
                body = parts[0] if parts else ""
                body_offset = option.arg_location if isinstance(option.arg_location, int) else None
        if stmt.sql_body is not None:
            body = _render(stmt.sql_body)
        body_line = lines.line(body_offset) if body_offset is not None else location.line
        body_location = SourceLocation(location.path, body_line)
        returns = "void" if stmt.is_procedure else "unknown"
        parameters: list[Parameter] = []
        table_columns = []
        for parameter in stmt.parameters or ():
            if not isinstance(parameter, ast.FunctionParameter):
                continue
            type_name = _type_of(parameter.argType)[0] if parameter.argType else "unknown"
            mode = _PARAMETER_MODES.get(parameter.mode, "in") if parameter.mode else "in"
            if mode == "table":
                table_columns.append(f"{parameter.name} {type_name}")
                continue
            default = _render(parameter.defexpr) if parameter.defexpr is not None else None
            parameters.append(Parameter(parameter.name, type_name, default, mode))
        if stmt.returnType is not None:
            returns = _type_of(stmt.returnType)[0]
            if stmt.returnType.setof:
                returns = "setof " + returns
        if table_columns:
            returns = "table(" + ", ".join(table_columns) + ")"
        plpgsql: dict[str, object] | None = None
        if language == "plpgsql":
            plpgsql = self._parse_plpgsql(statement_text, name, body_location, body, stmt)
        signature = tuple(p.type_name for p in parameters if p.mode not in ("out", "table"))
        existing = self._overloads.get(name, {}).get(signature)
        if existing is not None and not stmt.replace:
            self._diagnose(
                "function-redefined",
                f"CREATE FUNCTION {name} without OR REPLACE over an earlier definition "
                f"({existing.location}) with the same argument types: PostgreSQL fails; "
                "the model keeps the later one",
                location,
                name,
            )
        overloads = self._overloads.setdefault(name, {})
        overloads.pop(signature, None)
        overloads[signature] = self.catalog.functions[name] = Function(
            name=name,
            language=language,
            security_definer=security_definer,
            search_path=search_path,
            returns=returns,
            body=body,
            body_location=body_location,
            plpgsql=plpgsql,
            location=location,
            parameters=tuple(parameters),
        )

    def _parse_plpgsql(
        self,
        statement_text: str,
        name: str,
        body_location: SourceLocation,
        body: str,
        stmt: ast.CreateFunctionStmt | None = None,
    ) -> dict[str, object] | None:
        try:
            parsed = _parse_plpgsql_tree(statement_text.strip().rstrip(";") + ";")
        except pglast.parser.ParseError as error:
            message = str(error.args[0]) if error.args else str(error)
            if _OUR_LIMIT.search(message) and stmt is not None:
                # The PL/pgSQL parser runs without a catalog: types it cannot look up are a limit
                # of ours, not an error in the SQL. Parse again with stand-in types.
                parsed = None
                for declared_as in ("record", "text"):
                    try:
                        parsed = _parse_plpgsql_tree(_stand_in_function(stmt, body, declared_as))
                        break
                    except Exception:  # the next stand-in may do
                        continue
                if parsed is None:
                    self._diagnose(
                        "plpgsql-not-parsed",
                        f"PL/pgSQL body of {name} not analysed ({message}): notify calls in it are not seen",
                        body_location,
                        name,
                    )
                    return None
                self._diagnose(
                    "plpgsql-types",
                    f"{name}: types the analysis cannot look up ({message}) are read as record/text",
                    body_location,
                    name,
                )
                return _annotated(parsed, body)
            raise InputError(
                f"PL/pgSQL error in function {name}: {message}",
                path=body_location.path,
                line=body_location.line + _body_error_line(body, message) - 1,
                fix=_PLPGSQL_FIX,
            ) from None
        except Exception as error:
            raise InputError(
                f"PL/pgSQL body of {name} cannot be parsed: {error}",
                path=body_location.path,
                line=body_location.line,
                fix=_PLPGSQL_FIX,
            ) from None
        function = _annotated(parsed, body)
        if function is not None:
            return function
        raise InputError(f"PL/pgSQL body of {name} parsed to nothing", path=body_location.path, line=body_location.line)

    # CREATE TRIGGER ------------------------------------------------------------------

    def _create_trigger(self, stmt: ast.CreateTrigStmt, location: SourceLocation) -> None:
        if stmt.relation is None or not stmt.trigname:
            return
        table = _range_name(stmt.relation)
        trigger_name: str = stmt.trigname
        timing_bits = stmt.timing or 0
        event_bits = stmt.events or 0
        names = _strings(stmt.funcname)
        function = qualified_name(names[0] if len(names) > 1 else None, names[-1]) if names else "?"
        timing: Literal["BEFORE", "AFTER", "INSTEAD OF"] = "AFTER"
        if timing_bits & _TRIGGER_BEFORE:
            timing = "BEFORE"
        elif timing_bits & _TRIGGER_INSTEAD:
            timing = "INSTEAD OF"
        events = tuple(event for bit, event in _TRIGGER_EVENTS if event_bits & bit)
        key = (table, trigger_name)
        if key in self.catalog.triggers and not stmt.replace:
            self._diagnose(
                "trigger-redefined",
                f"CREATE TRIGGER {stmt.trigname} on {table} over an existing trigger of that name: "
                "PostgreSQL fails; the model keeps the later one",
                location,
            )
        self.catalog.triggers[key] = Trigger(
            name=trigger_name,
            table=table,
            timing=timing,
            events=events,
            update_columns=tuple(_strings(stmt.columns)),
            level="ROW" if stmt.row else "STATEMENT",
            when_sql=_render(stmt.whenClause) if stmt.whenClause is not None else None,
            function=function,
            enabled=True,
            location=location,
            arguments=tuple(_strings(stmt.args)),
        )
        if stmt.isconstraint:
            self._diagnose(
                "constraint-trigger",
                f"constraint trigger {stmt.trigname}: DEFERRABLE/INITIALLY DEFERRED is not modelled",
                location,
            )

    # DROP ----------------------------------------------------------------------------

    def _drop(self, stmt: ast.DropStmt, location: SourceLocation) -> None:
        kind = stmt.removeType
        for obj in stmt.objects or ():
            if kind == ObjectType.OBJECT_TRIGGER and isinstance(obj, tuple):
                names = _strings(obj)
                if len(names) >= 2:
                    table = qualified_name(names[-3] if len(names) > 2 else None, names[-2])
                    self.catalog.triggers.pop((table, names[-1]), None)
            elif kind in (ObjectType.OBJECT_FUNCTION, ObjectType.OBJECT_ROUTINE, ObjectType.OBJECT_PROCEDURE):
                if isinstance(obj, ast.ObjectWithArgs):
                    names = _strings(obj.objname)
                    if names:
                        name = qualified_name(names[0] if len(names) > 1 else None, names[-1])
                        overloads = self._overloads.get(name, {})
                        signature = self._signature(obj)
                        if signature is not None and signature in overloads:
                            del overloads[signature]
                            if overloads:
                                # Another overload of the name stands: only the one named goes.
                                self.catalog.functions[name] = list(overloads.values())[-1]
                                continue
                        elif signature is not None and overloads:
                            continue  # no function with these argument types: PostgreSQL fails, nothing goes
                        else:
                            overloads.clear()
                        dropped = self.catalog.functions.pop(name, None)
                        if dropped is not None and name in self._called:
                            self.catalog.ran_functions[name] = dropped
                        if stmt.behavior is not None and int(stmt.behavior) == 1:  # CASCADE
                            for key in [k for k, t in self.catalog.triggers.items() if t.function == name]:
                                del self.catalog.triggers[key]
            elif kind == ObjectType.OBJECT_TABLE and isinstance(obj, tuple):
                names = _strings(obj)
                if names:
                    table = qualified_name(names[-2] if len(names) > 1 else None, names[-1])
                    self.catalog.tables.pop(table, None)
                    for key in [k for k in self.catalog.triggers if k[0] == table]:
                        del self.catalog.triggers[key]

    @staticmethod
    def _signature(obj: ast.ObjectWithArgs) -> tuple[str, ...] | None:
        """The argument types an ``ObjectWithArgs`` names; None when it names none (``DROP FUNCTION f``)."""
        if obj.args_unspecified:
            return None
        types: list[str] = []
        for parameter in obj.objfuncargs or ():
            if isinstance(parameter, ast.FunctionParameter) and parameter.argType is not None:
                mode = _PARAMETER_MODES.get(parameter.mode, "in") if parameter.mode else "in"
                if mode not in ("out", "table"):
                    types.append(_type_of(parameter.argType)[0])
        if not obj.objfuncargs:
            types = [_type_of(t)[0] for t in obj.objargs or () if isinstance(t, ast.TypeName)]
        return tuple(types)

    def _functions_named(self, obj: ast.ObjectWithArgs) -> list[Function]:
        names = _strings(obj.objname)
        if not names:
            return []
        overloads = self._overloads.get(qualified_name(names[0] if len(names) > 1 else None, names[-1]), {})
        signature = self._signature(obj)
        if signature is None:
            return list(overloads.values())
        return [overloads[signature]] if signature in overloads else []

    def _replace_function(self, old: Function, new: Function) -> None:
        overloads = self._overloads.setdefault(old.name, {})
        overloads[old.signature] = new
        if self.catalog.functions.get(old.name) is old:
            self.catalog.functions[old.name] = new

    def _alter_function(self, stmt: ast.AlterFunctionStmt, location: SourceLocation) -> None:
        """``ALTER FUNCTION f(args) SET search_path … | RESET … | SECURITY DEFINER/INVOKER``."""
        if not isinstance(stmt.func, ast.ObjectWithArgs):
            return
        for function in self._functions_named(stmt.func):
            changed = function
            for action in stmt.actions or ():
                if not isinstance(action, ast.DefElem):
                    continue
                if action.defname == "security" and isinstance(action.arg, ast.Boolean):
                    changed = attrs_evolve(changed, security_definer=bool(action.arg.boolval))
                elif action.defname in ("set", "reset") and isinstance(action.arg, ast.VariableSetStmt):
                    setting = action.arg
                    if (setting.name or "").lower() in ("search_path", "all") or setting.name is None:
                        value = ", ".join(_set_values(setting)) if action.defname == "set" else None
                        if int(setting.kind or 0) != 0:  # RESET, SET … FROM CURRENT, SET DEFAULT
                            value = None
                        changed = attrs_evolve(changed, search_path=value, search_path_unknown=None)
            self._replace_function(function, changed)

    def _set_search_path_by_loop(self, paths: dict[str, Any], location: SourceLocation) -> None:
        """A DO loop over the catalog running ``ALTER FUNCTION … SET search_path`` for each row it finds."""
        query = paths.get("query", "")
        value = paths.get("value")
        resolved = _catalog_loop_filter(query)
        for name in list(self.catalog.functions):
            for function in list(self._overloads.get(name, {}).values()):
                if resolved is None:
                    if function.search_path is None:
                        self._replace_function(
                            function,
                            attrs_evolve(
                                function,
                                search_path_unknown=f"the DO loop at {location} may set it (its query is not "
                                "resolved over the catalog)",
                            ),
                        )
                elif resolved(function):
                    self._replace_function(
                        function, attrs_evolve(function, search_path=value, search_path_unknown=None)
                    )

    # ALTER TABLE ---------------------------------------------------------------------

    def _alter_table(self, stmt: ast.AlterTableStmt, location: SourceLocation) -> None:
        if stmt.relation is None or stmt.objtype not in (ObjectType.OBJECT_TABLE, None):
            return
        table = _range_name(stmt.relation)
        for command in stmt.cmds or ():
            if isinstance(command, ast.AlterTableCmd):
                self._alter_table_command(table, command, location)

    def _alter_table_command(self, table: str, command: ast.AlterTableCmd, location: SourceLocation) -> None:
        subtype = command.subtype
        trigger_switches = {
            AlterTableType.AT_EnableTrig: True,
            AlterTableType.AT_EnableAlwaysTrig: True,
            AlterTableType.AT_EnableReplicaTrig: False,
            AlterTableType.AT_DisableTrig: False,
        }
        all_switches = {
            AlterTableType.AT_EnableTrigAll: True,
            AlterTableType.AT_DisableTrigAll: False,
            AlterTableType.AT_EnableTrigUser: True,
            AlterTableType.AT_DisableTrigUser: False,
        }
        name = command.name or ""
        if subtype in trigger_switches:
            trigger_key = (table, name)
            if trigger_key in self.catalog.triggers:
                self.catalog.triggers[trigger_key] = attrs_evolve(
                    self.catalog.triggers[trigger_key], enabled=trigger_switches[subtype]
                )
            else:
                self._diagnose("unknown-trigger", f"ALTER TABLE {table}: no trigger {command.name}", location)
            if subtype == AlterTableType.AT_EnableReplicaTrig:
                self._diagnose(
                    "replica-trigger",
                    f"trigger {command.name} fires only with session_replication_role = replica; modelled as disabled",
                    location,
                )
            return
        if subtype in all_switches:
            for key, trigger in list(self.catalog.triggers.items()):
                if key[0] == table:
                    self.catalog.triggers[key] = attrs_evolve(trigger, enabled=all_switches[subtype])
            return
        current = self.catalog.tables.get(table)
        if current is None:
            return
        columns = {column.name: column for column in current.columns}
        primary_key = list(current.primary_key)
        if subtype == AlterTableType.AT_AddColumn and isinstance(command.def_, ast.ColumnDef):
            column, is_pk = self._column(table, command.def_)
            columns[column.name] = column
            if is_pk:
                primary_key = [column.name]
        elif subtype == AlterTableType.AT_DropColumn and name:
            columns.pop(name, None)
        elif subtype == AlterTableType.AT_SetNotNull and name in columns:
            columns[name] = attrs_evolve(columns[name], not_null=True)
        elif subtype == AlterTableType.AT_DropNotNull and name in columns:
            columns[name] = attrs_evolve(columns[name], not_null=False)
        elif subtype == AlterTableType.AT_ColumnDefault and name in columns:
            default = _render(command.def_) if command.def_ is not None else None
            columns[name] = attrs_evolve(columns[name], default_sql=default)
        elif subtype == AlterTableType.AT_AlterColumnType and name in columns:
            if isinstance(command.def_, ast.ColumnDef) and command.def_.typeName is not None:
                type_name, modifiers = _type_of(command.def_.typeName)
                columns[name] = attrs_evolve(columns[name], type_name=type_name, type_modifiers=modifiers)
        elif subtype == AlterTableType.AT_AddConstraint and isinstance(command.def_, ast.Constraint):
            primary_key = self._table_constraint(table, command.def_, columns, primary_key)
            for pk_column in primary_key:
                if pk_column in columns:
                    columns[pk_column] = attrs_evolve(columns[pk_column], not_null=True)
        else:
            return
        self.catalog.tables[table] = Table(table, tuple(columns.values()), tuple(primary_key), current.location)

    def _rename(self, stmt: ast.RenameStmt, location: SourceLocation) -> None:
        kind = stmt.renameType
        if kind == ObjectType.OBJECT_TRIGGER and stmt.relation is not None and stmt.subname:
            table = _range_name(stmt.relation)
            trigger = self.catalog.triggers.pop((table, stmt.subname), None)
            if trigger is not None:
                new_name = stmt.newname or ""
                self.catalog.triggers[(table, new_name)] = attrs_evolve(trigger, name=new_name)
        elif kind == ObjectType.OBJECT_FUNCTION and isinstance(stmt.object, ast.ObjectWithArgs) and stmt.newname:
            self._rename_function(stmt.object, stmt.newname)
        elif kind in (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_COLUMN):
            self._diagnose(
                "rename",
                f"ALTER … RENAME of a {kind.name.removeprefix('OBJECT_').lower()} is not modelled",
                location,
            )

    def _rename_function(self, obj: ast.ObjectWithArgs, new_name: str) -> None:
        """ALTER FUNCTION f(args) RENAME TO g: the overload moves; triggers (bound to the function) follow it."""
        found = self._functions_named(obj)
        if len(found) != 1:
            return  # none, or an ambiguous name without argument types: PostgreSQL fails, nothing moves
        (function,) = found
        names = _strings(obj.objname)
        renamed_name = qualified_name(names[0] if len(names) > 1 else None, new_name)
        overloads = self._overloads.get(function.name, {})
        overloads.pop(function.signature, None)
        if self.catalog.functions.get(function.name) is function:
            if overloads:
                self.catalog.functions[function.name] = list(overloads.values())[-1]
            else:
                del self.catalog.functions[function.name]
        renamed = attrs_evolve(function, name=renamed_name)
        self._overloads.setdefault(renamed_name, {})[renamed.signature] = renamed
        self.catalog.functions[renamed_name] = renamed
        if not renamed.signature:  # a trigger function: its triggers now name it by the new name
            for key, trigger in list(self.catalog.triggers.items()):
                if trigger.function == function.name:
                    self.catalog.triggers[key] = attrs_evolve(trigger, function=renamed_name)

    # end -----------------------------------------------------------------------------

    def finish(self) -> Catalog:
        for table_name, column_name, target in self._pending_references:
            table = self.catalog.tables.get(table_name)
            target_table = self.catalog.tables.get(target)
            if table is None:
                continue
            target_key = "id"
            if target_table is not None and len(target_table.primary_key) == 1:
                target_key = target_table.primary_key[0]
            columns = tuple(
                attrs_evolve(column, references=(target, target_key))
                if column.name == column_name and column.references == (target, "")
                else column
                for column in table.columns
            )
            self.catalog.tables[table_name] = Table(table.name, columns, table.primary_key, table.location)
        return self.catalog


_PARAMETER_MODES = {
    FunctionParameterMode.FUNC_PARAM_IN: "in",
    FunctionParameterMode.FUNC_PARAM_DEFAULT: "in",
    FunctionParameterMode.FUNC_PARAM_OUT: "out",
    FunctionParameterMode.FUNC_PARAM_INOUT: "inout",
    FunctionParameterMode.FUNC_PARAM_VARIADIC: "variadic",
    FunctionParameterMode.FUNC_PARAM_TABLE: "table",
}


def _set_values(stmt: ast.VariableSetStmt) -> list[str]:
    values: list[str] = []
    for arg in stmt.args or ():
        if isinstance(arg, ast.A_Const) and arg.val is not None:
            value = arg.val
            if isinstance(value, ast.String):
                values.append(value.sval or "")
            elif isinstance(value, ast.Integer):
                values.append(str(value.ival))
            else:
                values.append(_render(arg))
        else:
            values.append(_render(arg))
    return values


def _body_error_line(body: str, message: str) -> int:
    """The body line (1-based) a PL/pgSQL error without a position most likely points at.

    PostgreSQL's PL/pgSQL parser reports some errors without a position; when the message
    quotes a word that occurs on exactly one body line, that line is the culprit.
    """
    match = re.search(r'"([A-Za-z_][A-Za-z0-9_$.]*)"', message)
    if match is None:
        return 1
    word = re.compile(rf"(?<![\w$.]){re.escape(match.group(1))}(?![\w$])", re.IGNORECASE)
    lines = [number for number, text in enumerate(body.split("\n"), start=1) if word.search(text.split("--")[0])]
    return lines[0] if len(lines) == 1 else 1


_NOISE = re.compile(r"(?:\s+|--[^\n]*|/\*.*?\*/)*", re.DOTALL)


def _leading_noise(text: str) -> int:
    match = _NOISE.match(text)
    return match.end() if match else 0


def attrs_evolve(obj: Any, **changes: Any) -> Any:
    import attrs

    return attrs.evolve(obj, **changes)


def _expand(
    paths: Sequence[str | Path], migrations: str | None = None
) -> tuple[list[tuple[Path, str]], list[tuple[Path, str, str]]]:
    """The files to read, in order, and those a directory's tool leaves out (with how a use there is placed)."""
    files: list[tuple[Path, str]] = []
    skipped: list[tuple[Path, str, str]] = []
    for given in paths:
        path = Path(given)
        kind = path_kind(given, "SQL path")
        if kind == "directory":
            ordered = order_directory(path, migrations)
            found = [p for p in ordered.files if path_kind(p) == "file"]
            if not found:
                raise InputError("directory holds no .sql files", path=str(given))
            files.extend((p, str(p)) for p in found)
            skipped.extend((p, str(p), ordered.left_out_context) for p in ordered.left_out if path_kind(p) == "file")
        elif kind == "file":
            files.append((path, str(given)))
        elif kind == "other":
            raise InputError("not a regular file (a device, FIFO or socket)", path=str(given), fix="name a .sql file")
        else:
            raise InputError("no such file or directory", path=str(given))
    return files, skipped


def _routine_name(stmt: ast.CreateFunctionStmt | ast.DoStmt) -> str:
    if isinstance(stmt, ast.DoStmt):
        return "DO block"
    names = _strings(stmt.funcname)
    return f"function {'.'.join(names)}"


def load_catalog(
    paths: Sequence[str | Path] | str | Path,
    *,
    migrations: str | None = None,
    limits: SqlLimits | None = None,
    left_out: Sequence[tuple[str | Path, str]] = (),
) -> Catalog:
    """Read SQL files in order into a :class:`Catalog`.

    A directory stands for its ``*.sql`` files in the order its migration tool runs them
    (name order unless a convention is recognised, see ``_migrations``); ``migrations``
    forces a convention (``plain``, ``goose``, ``flyway``, …). ``limits`` bound each file's size,
    line length, statements and function size (:class:`SqlLimits`; the defaults when None).
    The files a directory's tool does not run on the way up, and ``left_out`` (file, how a use in
    it is placed), are read for the statements that need a superuser only (``privileged``).

    Raises :class:`~bcastsim.InputError` for missing files and malformed SQL (with the
    file and line); constructs that parse but are not modelled become ``diagnostics``.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    with collection_paused(), parser_nodes_trusted():
        loader = _Loader(migrations, limits)
        files, skipped = _expand(paths, migrations)
        for path, shown in files:
            loader.load_file(path, shown)
        for path, shown, context in [*skipped, *((Path(file), str(file), context) for file, context in left_out)]:
            loader.load_left_out(path, shown, context)
        catalog = loader.finish()
        catalog.paths = tuple(shown for _, shown in files)
        # Analyse now so that expression errors surface here and diagnostics are complete.
        catalog.notify_sites  # noqa: B018
    return catalog


@contextlib.contextmanager
def parser_nodes_trusted() -> Iterator[None]:
    """Inside the block pglast's node classes store attributes as given, without re-validating them.

    pglast's parser builds every node through the class's constructor, whose ``__setattr__``
    checks and coerces each attribute in Python; the values its C code hands over are already of
    the attribute's type (enums, tuples, nodes), so the check changes nothing and cost 80 % of
    building the trees: as much as the whole parse of the file and its bodies. The loader and
    the rules parse thousands of expressions; inside this block each costs a quarter (the one
    class whose values pglast converts keeps its check, see ``_COERCED``). Only
    bcastsim's own code runs in it, and the nodes it builds by hand are given typed values too.
    It is process-wide while it lasts: another thread building nodes from dicts meanwhile would
    get them unconverted (the analysis runs in one thread).
    """
    if _TRUSTED:  # inside an outer block, which puts the checks back when it ends
        yield
        return
    previous = ast.Node.__dict__["__setattr__"]
    own = {cls: cls.__dict__.get("__setattr__") for cls in _COERCED}
    type.__setattr__(ast.Node, "__setattr__", object.__setattr__)
    for cls in _COERCED:
        type.__setattr__(cls, "__setattr__", previous)
    _TRUSTED.append(True)
    try:
        yield
    finally:
        _TRUSTED.pop()
        type.__setattr__(ast.Node, "__setattr__", previous)
        for cls, setter in own.items():
            if setter is None:
                type.__delattr__(cls, "__setattr__")
            else:
                type.__setattr__(cls, "__setattr__", setter)


# The one node pglast's parser hands a value that its class converts: an ``A_Const``'s boolean is
# built from the C int (ast.pyx, ``create_A_Const``), and ``Boolean.boolval`` makes it a bool.
_COERCED: tuple[type[Any], ...] = (ast.Boolean,)
_TRUSTED: list[bool] = []


def load_catalog_text(text: str, path: str = "<sql>") -> Catalog:
    """Like :func:`load_catalog` for SQL held in a string (``path`` names it in messages)."""
    loader = _Loader()
    loader.load_text(text, path)
    catalog = loader.finish()
    catalog.paths = (path,)
    catalog.notify_sites  # noqa: B018
    return catalog


# What the catalog-less PL/pgSQL parser says about types it cannot look up: our limit, not the SQL's.
_OUR_LIMIT = re.compile(
    r"Not implemented|cannot accept type|type \S+ does not exist|LookupExplicitNamespace|"
    r"record variable cannot be part of multiple-item INTO list",
    re.I,
)

# Types the catalog-less PL/pgSQL parser knows; any other type is replaced by a stand-in.
_PARSER_TYPES = frozenset(
    {
        "text",
        "varchar",
        "char",
        "name",
        "integer",
        "bigint",
        "smallint",
        "numeric",
        "real",
        "double precision",
        "boolean",
        "uuid",
        "json",
        "jsonb",
        "bytea",
        "date",
        "time",
        "timetz",
        "timestamp",
        "timestamptz",
        "interval",
        "oid",
        "inet",
        "cidr",
        "trigger",
        "event_trigger",
        "void",
        "record",
        "regclass",
        "xml",
        "money",
        "tsvector",
        "tsquery",
        "int",
        "bool",
    }
)
_DECLARE = re.compile(r"\bdeclare\b(.*?)\bbegin\b", re.IGNORECASE | re.DOTALL)
_QUALIFIED_DECLARATION = re.compile(
    r"(?P<head>^|;|\n)(?P<space>\s*)(?P<name>[A-Za-z_]\w*|\"[^\"]+\")(?P<gap>\s+(?:constant\s+)?)"
    r"(?P<type>(?:(?:[A-Za-z_]\w*|\"[^\"]+\")\.)?(?:[A-Za-z_]\w*|\"[^\"]+\"))(?P<array>(?:\s*\[\s*\])*)"
    r"(?=\s*(?:;|:=|=|default\b|not\s+null\b))",
    re.IGNORECASE,
)


def _stand_in_type(type_name: ast.TypeName | None, *, result: bool = False) -> str:
    if type_name is None:
        return "text"
    names = [n.lower() for n in _strings(type_name.names)]
    array = "[]" if type_name.arrayBounds else ""
    qualified = len(names) > 1 and names[0] not in {"pg_catalog", "public"}
    normalized = normalize_type(names[-1]) if names else "text"
    if type_name.pct_type:
        return "text"
    if not qualified and normalized in _PARSER_TYPES:
        return normalized + array
    if result and not array:
        return "record"
    return "text" + array


def _stand_in_function(stmt: ast.CreateFunctionStmt, body: str, declared_as: str = "record") -> str:
    """The function with types only the catalog knows replaced: what a catalog-less parser accepts."""
    parameters = []
    table_columns = []
    for parameter in stmt.parameters or ():
        if not isinstance(parameter, ast.FunctionParameter):
            continue
        mode = _PARAMETER_MODES.get(parameter.mode, "in") if parameter.mode else "in"
        type_text = _stand_in_type(parameter.argType)
        name = f'"{parameter.name}"' if parameter.name else ""
        if mode == "table":
            table_columns.append(f"{name} {type_text}")
        else:
            parameters.append(f"{mode} {name} {type_text}")
    if table_columns:
        returns = "TABLE(" + ", ".join(table_columns) + ")"
    elif stmt.returnType is not None:
        returns = _stand_in_type(stmt.returnType, result=True)
        if stmt.returnType.setof:
            returns = "SETOF " + returns
    else:
        returns = "void"
    declared = _DECLARE.sub(
        lambda block: block.group(0).replace(block.group(1), _stand_in_declarations(block.group(1), declared_as)),
        body,
    )
    kind = "PROCEDURE" if stmt.is_procedure else "FUNCTION"
    returns_clause = "" if stmt.is_procedure else f" RETURNS {returns}"
    return (
        f"CREATE {kind} bcastsim_stand_in({', '.join(parameters)}){returns_clause} LANGUAGE plpgsql "
        f"AS $bcastsim_body${declared}$bcastsim_body$;"
    )


def _stand_in_declarations(section: str, declared_as: str) -> str:
    def replace(match: re.Match[str]) -> str:
        schema, _, type_name = match.group("type").lower().rpartition(".")
        if schema in {"", "pg_catalog", "public"} and normalize_type(type_name) in _PARSER_TYPES:
            return match.group(0)
        stand_in = "text[]" if match.group("array").strip() else declared_as
        return f"{match.group('head')}{match.group('space')}{match.group('name')}{match.group('gap')}{stand_in}"

    return _QUALIFIED_DECLARATION.sub(replace, section)


_RETURN_TARGET = re.compile(r"\breturn\s+([A-Za-z_]\w*|\"[^\"]+\")\s*;", re.IGNORECASE)


_SHARED_MARK = "bcastsim:trigger-datums"


def _parse_plpgsql_tree(text: str) -> Any:
    """``pglast.parse_plpgsql(text)``, with the trigger variables' datums shared between functions."""
    raw = pglast.parser.parse_plpgsql_json(text)
    at = raw.find(TRIGGER_DATUMS_HEAD)
    if at < 0:
        return orjson.loads(raw)
    # Inside the tree's JSON a '"' of the source is escaped: the head can only be the datums list.
    parsed = orjson.loads(f'{raw[:at]}"datums":["{_SHARED_MARK}"{raw[at + len(TRIGGER_DATUMS_HEAD) :]}')
    function = parsed[0]["PLpgSQL_function"]
    datums = function["datums"]
    if datums[0] != _SHARED_MARK:  # pragma: no cover - the head is the datums list, see above
        return orjson.loads(raw)
    function["datums"] = [*TRIGGER_DATUMS, *datums[1:]]
    return parsed


def _annotated(parsed: Any, body: str) -> dict[str, object] | None:
    """The ``PLpgSQL_function`` of a parse, with ``retvar`` on each ``RETURN variable``.

    pglast's JSON drops the number of the variable a bare ``RETURN NEW``/``RETURN OLD``/
    ``RETURN rec`` returns, so read it back from the body line the statement sits on.
    """
    if not (isinstance(parsed, list) and parsed and isinstance(parsed[0], dict)):
        return None
    function = parsed[0].get("PLpgSQL_function")
    if not isinstance(function, dict):
        return None
    # Depth first in document order (RETURNs sharing a line take its targets in turn); statements
    # sit under the function's action, its datums (variables) hold none.
    _annotate_returns({key: value for key, value in function.items() if key != "datums"}, body.split("\n"), {})
    return function


# Module functions, not closures: a nested walk refers to itself through its closure, a cycle only
# the cyclic collector frees, and it is paused while a catalog loads (the cycles of every call piled up).
def _annotate_returns(node: dict[str, Any], body_lines: list[str], taken: dict[int, int]) -> None:
    """Give each bare ``RETURN`` under ``node`` its ``retvar``; the scalars of the tree are not visited."""
    statement = node.get("PLpgSQL_stmt_return")
    if isinstance(statement, dict) and "expr" not in statement:
        lineno = statement.get("lineno")
        if isinstance(lineno, int) and 1 <= lineno <= len(body_lines):
            text = body_lines[lineno - 1].split("--")[0]
            targets = _RETURN_TARGET.findall(text)
            index = taken.get(lineno, 0)
            if index < len(targets):
                statement["retvar"] = targets[index].strip('"').lower()
            taken[lineno] = index + 1
    for value in node.values():
        # (An expression holds a query's text, never a statement: it is not entered.)
        if type(value) is dict and "PLpgSQL_expr" not in value:
            _annotate_returns(value, body_lines, taken)
        elif type(value) is list:
            _annotate_returns_in(value, body_lines, taken)


def _annotate_returns_in(items: list[Any], body_lines: list[str], taken: dict[int, int]) -> None:
    for item in items:
        if type(item) is dict:
            _annotate_returns(item, body_lines, taken)
        elif type(item) is list:
            _annotate_returns_in(item, body_lines, taken)


_LENGTH_FUNCTIONS = {"char_length", "character_length", "length", "octet_length"}


def _tighter(current: int | None, new: int | None) -> int | None:
    if new is None:
        return current
    return new if current is None else min(current, new)


def _check_facts(expr: Any) -> dict[str, tuple[int | None, bool]]:
    """What a CHECK says per column (``value`` for a domain): (at most n characters, never NULL).

    Only conjuncts count: ``char_length(c) <= n`` (or ``<``, ``length``, ``octet_length``),
    ``c IN ('a', 'b')`` and ``c IS NOT NULL``. (A CHECK passes on NULL, so a length check
    bounds the column but does not make it NOT NULL.)
    """
    facts: dict[str, tuple[int | None, bool]] = {}

    def column_of(node: Any) -> str | None:
        if isinstance(node, ast.ColumnRef):
            fields = _strings(node.fields)
            return fields[-1] if fields else None
        if isinstance(node, ast.TypeCast):
            return column_of(node.arg)
        return None

    def note(name: str | None, chars: int | None, required: bool) -> None:
        if name is None:
            return
        old_chars, old_required = facts.get(name, (None, False))
        facts[name] = (_tighter(old_chars, chars), old_required or required)

    def integer(node: Any) -> int | None:
        if isinstance(node, ast.A_Const) and isinstance(node.val, ast.Integer):
            return node.val.ival or 0
        return None

    def visit(node: Any) -> None:
        if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
            for arg in node.args or ():
                visit(arg)
        elif isinstance(node, ast.NullTest) and node.nulltesttype == NullTestType.IS_NOT_NULL:
            note(column_of(node.arg), None, True)
        elif isinstance(node, ast.A_Expr) and node.kind == A_Expr_Kind.AEXPR_IN and isinstance(node.rexpr, tuple):
            texts = [
                item.val.sval
                for item in node.rexpr
                if isinstance(item, ast.A_Const) and isinstance(item.val, ast.String)
            ]
            if len(texts) == len(node.rexpr):
                note(column_of(node.lexpr), max((len(t or "") for t in texts), default=0), False)
        elif isinstance(node, ast.A_Expr) and node.kind == A_Expr_Kind.AEXPR_OP:
            operator = _strings(node.name)[-1] if node.name else ""
            left: Any = node.lexpr
            right: Any = node.rexpr
            if operator in {">", ">="}:
                left, right = right, left
                operator = "<" if operator == ">" else "<="
            if operator in {"<", "<="} and isinstance(left, ast.FuncCall):
                name = ".".join(_strings(left.funcname)).removeprefix("pg_catalog.")
                limit = integer(right)
                if name in _LENGTH_FUNCTIONS and limit is not None and len(left.args or ()) == 1:
                    note(column_of(left.args[0]), limit - 1 if operator == "<" else limit, False)  # type: ignore[index]
            elif operator == "=" and isinstance(node.rexpr, ast.A_Const) and isinstance(node.rexpr.val, ast.String):
                note(column_of(node.lexpr), len(node.rexpr.val.sval or ""), False)

    visit(expr)
    return {name.lower(): fact for name, fact in facts.items()}


def _called_functions(node: Any) -> Iterator[str]:
    """Names of the functions a statement calls (schema-qualified outside public)."""
    if isinstance(node, ast.FuncCall):
        names = _strings(node.funcname)
        if names:
            yield qualified_name(names[0] if len(names) > 1 else None, names[-1])
    if isinstance(node, ast.Node):
        for slot in getattr(type(node), "__slots__", ()):
            yield from _called_functions(getattr(node, slot, None))
    elif isinstance(node, tuple | list):
        for item in node:
            yield from _called_functions(item)


def _do_statements(parsed: Any) -> Iterator[tuple[str, int, bool]]:
    """(SQL, body line, known) for each statement a DO block runs; EXECUTE of a literal counts as known."""
    if isinstance(parsed, dict):
        for kind, body in parsed.items():
            if kind == "PLpgSQL_stmt_execsql" and isinstance(body, dict):
                query = body.get("sqlstmt", {}).get("PLpgSQL_expr", {}).get("query", "")
                yield str(query), int(body.get("lineno", 1) or 1), True
            elif kind == "PLpgSQL_stmt_dynexecute" and isinstance(body, dict):
                query = str(body.get("query", {}).get("PLpgSQL_expr", {}).get("query", ""))
                literal = re.fullmatch(r"\s*'((?:[^']|'')*)'\s*", query)
                yield (
                    (literal.group(1).replace("''", "'") if literal else query),
                    int(body.get("lineno", 1) or 1),
                    bool(literal),
                )
            else:
                yield from _do_statements(body)
    elif isinstance(parsed, list):
        for item in parsed:
            yield from _do_statements(item)


_ALTER_SEARCH_PATH = re.compile(
    r"ALTER\s+(?:FUNCTION|ROUTINE|PROCEDURE)\b.*?\bSET\s+search_path\s*(?:=|\bTO\b)\s*(.*)$", re.I | re.S
)
_LITERAL = re.compile(r"'((?:[^']|'')*)'")
_CATALOG_TABLES = {"pg_proc", "routines"}


def _search_path_of_dynamic(query: str) -> str | bool | None:
    """The search_path an ``EXECUTE`` of ``ALTER FUNCTION … SET search_path`` sets; False: not such a statement.

    None when the value is built at run time.
    """
    literals = [m.group(1).replace("''", "'") for m in _LITERAL.finditer(query)]
    text = "\x00".join(literals)
    match = _ALTER_SEARCH_PATH.search(text)
    if match is None:
        return False
    value = match.group(1).split("\x00")[0].strip().rstrip(";").strip()
    if not value:
        return None
    try:
        parsed: Any = pglast.parse_sql(f"SET search_path = {value}")
    except Exception:  # a value PostgreSQL would not read either: say it is not known
        return None
    stmt = parsed[0].stmt
    return ", ".join(_set_values(stmt)) if isinstance(stmt, ast.VariableSetStmt) else None


def _is_catalog_loop_statement(query: str) -> bool:
    return _search_path_of_dynamic(query) is not False


def _catalog_loops(parsed: Any) -> Iterator[dict[str, Any]]:
    """``FOR r IN <query> LOOP … EXECUTE 'ALTER FUNCTION … SET search_path …' … END LOOP`` in a DO body."""
    if isinstance(parsed, dict):
        for kind, body in parsed.items():
            if kind == "PLpgSQL_stmt_fors" and isinstance(body, dict):
                query = str(body.get("query", {}).get("PLpgSQL_expr", {}).get("query", ""))
                for inner, _, constant in _do_statements(body.get("body")):
                    value = _search_path_of_dynamic(inner) if not constant else False
                    if value is not False:
                        yield {"query": query, "value": value, "lineno": int(body.get("lineno", 1) or 1)}
                        break
            else:
                yield from _catalog_loops(body)
    elif isinstance(parsed, list):
        for item in parsed:
            yield from _catalog_loops(item)


def _catalog_loop_filter(query: str) -> Callable[[Function], bool] | None:
    """Which functions a loop's query over the catalog returns, as a predicate; None when not resolved.

    Resolved: a SELECT from ``pg_proc`` (joined to ``pg_namespace``) or ``information_schema.routines``
    whose WHERE is a conjunction of tests on the schema name, the function name (``=``, ``IN``, ``LIKE``),
    ``prosecdef``, ``prokind`` and the join itself. Anything else is not resolved.
    """
    try:
        parsed: Any = pglast.parse_sql(query)
    except Exception:  # not a query the loader reads
        return None
    if len(parsed) != 1 or not isinstance(parsed[0].stmt, ast.SelectStmt):
        return None
    select = parsed[0].stmt
    tables = {str(node.relname).lower() for node in _nodes(select.fromClause) if isinstance(node, ast.RangeVar)}
    if not tables & _CATALOG_TABLES or select.op is None or int(select.op) != 0:
        return None
    tests: list[_Predicate] = []
    for conjunct in _conjuncts(select.whereClause):
        test = _catalog_test(conjunct)
        if test is None:
            return None
        tests.append(test)

    def returns(function: Function) -> bool:
        return all(test(function) for test in tests)

    return returns


def _nodes(node: Any) -> Iterator[Any]:
    if isinstance(node, ast.Node):
        yield node
        for slot in getattr(type(node), "__slots__", ()):
            yield from _nodes(getattr(node, slot, None))
    elif isinstance(node, tuple | list):
        for item in node:
            yield from _nodes(item)


def _conjuncts(node: Any) -> Iterator[Any]:
    if node is None:
        return
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
        for arg in node.args or ():
            yield from _conjuncts(arg)
    else:
        yield node


def _column_name(node: Any) -> str | None:
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.ColumnRef):
        fields = _strings(node.fields)
        return fields[-1].lower() if fields else None
    return None


def _literals(node: Any) -> list[str] | None:
    items = list(node) if isinstance(node, tuple | list) else [node]
    values = []
    for item in items:
        value = item
        while isinstance(value, ast.TypeCast):
            value = value.arg
        if not (isinstance(value, ast.A_Const) and isinstance(value.val, ast.String)):
            return None
        values.append(value.val.sval or "")
    return values


def _schema_of(function: Function) -> str:
    return function.name.rsplit(".", 1)[0] if "." in function.name else "public"


_Predicate = Callable[[Function], bool]


def _catalog_test(node: Any) -> _Predicate | None:
    """One conjunct of a catalog loop's WHERE as a predicate on a Function; None when not understood."""
    if isinstance(node, ast.ColumnRef) and _column_name(node) == "prosecdef":
        return lambda f: f.security_definer
    if isinstance(node, ast.BooleanTest) and _column_name(node.arg) == "prosecdef":
        wanted = node.booltesttype in (BoolTestType.IS_TRUE, BoolTestType.IS_NOT_FALSE)
        return lambda f: f.security_definer == wanted
    if not isinstance(node, ast.A_Expr):
        return None
    operator = "".join(_strings(node.name)).lower()
    left, right = _column_name(node.lexpr), _column_name(node.rexpr)
    if left is not None and right is not None:
        # the join of pg_proc to pg_namespace (p.pronamespace = n.oid): no filter of its own
        return (lambda f: True) if operator == "=" and {left, right} <= {"pronamespace", "oid"} else None
    values = _literals(node.rexpr)
    if left is None or values is None:
        return None
    if left == "prosecdef" and operator == "=" and values in (["t"], ["true"]):
        return lambda f: f.security_definer
    if left == "prokind":
        return lambda f: True
    key: Callable[[Function], str]
    if left in ("nspname", "routine_schema", "pronamespace"):
        key = _schema_of
    elif left in ("proname", "routine_name"):
        key = lambda f: f.name.rsplit(".", 1)[-1]  # noqa: E731
    else:
        return None
    if node.kind == A_Expr_Kind.AEXPR_OP and operator == "=":
        return lambda f: key(f) == values[0]
    if node.kind == A_Expr_Kind.AEXPR_OP and operator in ("<>", "!="):
        return lambda f: key(f) != values[0]
    if node.kind == A_Expr_Kind.AEXPR_IN:
        return (lambda f: key(f) in values) if operator == "=" else (lambda f: key(f) not in values)
    if node.kind == A_Expr_Kind.AEXPR_LIKE and len(values) == 1:
        pattern = re.compile("".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in values[0]), re.S)
        matches: _Predicate = lambda f: pattern.fullmatch(key(f)) is not None  # noqa: E731
        return matches if operator == "~~" else (lambda f: not matches(f))
    return None
