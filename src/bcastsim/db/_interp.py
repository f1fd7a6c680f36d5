"""A PL/pgSQL interpreter over ``pglast.parse_plpgsql`` output.

Each function body compiles once into nested closures. Supported: blocks with
DECLARE defaults and EXCEPTION handlers (a handled error rolls back the block as
a subtransaction), assignment (to variables and record fields), IF/ELSIF/ELSE,
PERFORM, SELECT … INTO (with joins), INSERT/UPDATE/DELETE, RETURN and RAISE.
Anything else raises :class:`~bcastsim._errors.UnsupportedError` naming the
construct, file and line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

import attrs
import pglast
from pglast import ast

from bcastsim._errors import UnsupportedError
from bcastsim.db._eval import Compiled, Compiler, Context, Frame, Scope
from bcastsim.db._render import output_text
from bcastsim.db._schema import FunctionDef, TableDef, normalize_type
from bcastsim.db._values import DatabaseError, Record, coerce_to_type

__all__ = ["CompiledFunction", "ExecContext", "FunctionCompiler"]

_RETURN = re.compile(r"\bRETURN\b\s*([A-Za-z_][\w$]*)?\s*;", re.IGNORECASE)
_ASSIGN_TARGET = re.compile(r'^\s*(?:"[^"]*"|[\w$]+)(?:\s*\.\s*(?:"[^"]*"|[\w$]+))*\s*(?:\[[^\]]*\]\s*)?(?::=|=)')

# Condition names a handler may list (PostgreSQL's errcodes.txt, the ones the model can raise).
CONDITIONS = {
    "unique_violation": "23505",
    "foreign_key_violation": "23503",
    "not_null_violation": "23502",
    "check_violation": "23514",
    "integrity_constraint_violation": "23000",
    "invalid_parameter_value": "22023",
    "string_data_right_truncation": "22001",
    "numeric_value_out_of_range": "22003",
    "invalid_text_representation": "22P02",
    "division_by_zero": "22012",
    "datetime_field_overflow": "22008",
    "null_value_not_allowed": "22004",
    "raise_exception": "P0001",
    "no_data_found": "P0002",
    "too_many_rows": "P0003",
    "undefined_column": "42703",
    "undefined_table": "42P01",
}

_ELOG_LEVELS = {14: "DEBUG", 15: "LOG", 17: "INFO", 18: "NOTICE", 19: "WARNING", 21: "ERROR"}


class ExecContext(Context, Protocol):
    def mark(self) -> Any: ...
    def rollback_mark(self, mark: Any) -> None: ...
    def release_mark(self, mark: Any) -> None: ...
    def message(self, level: str, text: str) -> None: ...


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


Action = Callable[[Frame], None]


@attrs.frozen
class CompiledFunction:
    """A function ready to run: binds arguments, runs the body, returns its value."""

    definition: FunctionDef
    body: Action
    initial: tuple[tuple[str, str, Compiled | None], ...]  # (name, type, default)
    param_defaults: tuple[Compiled | None, ...]

    def invoke(self, ctx: ExecContext, variables: dict[str, Any]) -> Any:
        frame = Frame(ctx, variables)
        for name, type_name, default in self.initial:
            if name in variables:
                continue
            variables[name] = None if default is None else coerce_to_type(default(frame), type_name)
        try:
            self.body(frame)
        except _Return as returned:
            return returned.value
        if self.definition.returns not in ("void", "trigger"):
            raise DatabaseError("2F005", "control reached end of function without RETURN")
        return None


class FunctionCompiler:
    """Compiles one function definition; ``compile_dml`` turns INSERT/UPDATE/DELETE into actions."""

    def __init__(
        self,
        compiler: Compiler,
        tables: dict[str, TableDef],
        compile_dml: Callable[[Any, Scope], Callable[[Frame], int]],
    ) -> None:
        self.compiler = compiler
        self.tables = tables
        self.compile_dml = compile_dml

    # -- entry points ------------------------------------------------------------------------

    def compile(self, definition: FunctionDef) -> CompiledFunction:
        if definition.language == "sql":
            return self._compile_sql(definition)
        if definition.language != "plpgsql" or definition.plpgsql is None:
            raise UnsupportedError(
                f"function language {definition.language}", path=definition.path, line=definition.line
            )
        self.definition = definition
        self._returns_seen: dict[int, int] = {}
        datums = [_unwrap(d) for d in definition.plpgsql.get("datums", [])]
        self.datums = datums
        variables: set[str] = set()
        records: set[str] = set()
        initial: list[tuple[str, str, dict[str, Any] | None]] = []
        for kind, datum in datums:
            name = str(datum.get("refname"))
            if kind == "PLpgSQL_var":
                variables.add(name)
                type_name = normalize_type(datum["datatype"]["PLpgSQL_type"]["typname"])
                initial.append((name, type_name, datum.get("default_val")))
            elif kind == "PLpgSQL_rec":
                records.add(name)
                initial.append((name, "record", None))
        for index in range(1, len(definition.params) + 1):
            variables.add(f"${index}")
        self.scope = Scope(variables=frozenset(variables), records=frozenset(records), path=definition.path)
        compiled_initial: list[tuple[str, str, Compiled | None]] = []
        for name, type_name, default in initial:
            expr = None if default is None else self._expression(default["PLpgSQL_expr"], None)
            compiled_initial.append((name, type_name, expr))
        body = self._statement(definition.plpgsql["action"])
        defaults = tuple(
            self.compiler.expr(p.default, self.scope) if p.default is not None else None for p in definition.params
        )
        return CompiledFunction(definition, body, tuple(compiled_initial), defaults)

    def _compile_sql(self, definition: FunctionDef) -> CompiledFunction:
        """A SQL function whose body is one SELECT: the first column of its first row."""
        where = {"path": definition.path, "line": definition.body_line}
        try:
            statements = pglast.parse_sql(definition.body)
        except pglast.parser.ParseError:
            raise UnsupportedError("SQL function body that does not parse", **where) from None  # type: ignore[arg-type]
        if len(statements) != 1 or not isinstance(statements[0].stmt, ast.SelectStmt):
            raise UnsupportedError("SQL function body other than one SELECT", **where)  # type: ignore[arg-type]
        names = {p.name for p in definition.params if p.name}
        names |= {f"${i}" for i in range(1, len(definition.params) + 1)}
        scope = Scope(variables=frozenset(names), path=definition.path, line=definition.body_line)
        select = self.compiler.select(statements[0].stmt, scope, self.tables)

        def body(frame: Frame) -> None:
            rows = select(frame)
            raise _Return(rows[0][0] if rows else None)

        defaults = tuple(
            self.compiler.expr(p.default, scope) if p.default is not None else None for p in definition.params
        )
        return CompiledFunction(definition, body, (), defaults)

    # -- helpers -----------------------------------------------------------------------------

    def _line(self, lineno: int | None) -> int | None:
        if lineno is None:
            return None
        return self.definition.body_line + lineno - 1

    def _scope_at(self, lineno: int | None) -> Scope:
        return attrs.evolve(self.scope, line=self._line(lineno))

    def unsupported(self, construct: str, lineno: int | None) -> UnsupportedError:
        return UnsupportedError(construct, path=self.definition.path, line=self._line(lineno))

    def _parse(self, text: str, lineno: int | None) -> Any:
        try:
            return pglast.parse_sql(text)[0].stmt
        except pglast.parser.ParseError as error:
            raise self.unsupported(f"cannot parse {text!r}: {error}", lineno) from None

    def _expression(self, expr: dict[str, Any], lineno: int | None) -> Compiled:
        query = expr["query"]
        mode = expr.get("parseMode", 0)
        if mode in (3, 4, 5):
            match = _ASSIGN_TARGET.match(query)
            if match is None:
                raise self.unsupported(f"assignment {query!r}", lineno)
            query = query[match.end() :]
        if mode in (2, 3, 4, 5):
            stmt = self._parse("SELECT " + query, lineno)
            targets: tuple[Any, ...] = stmt.targetList or ()
            if stmt.fromClause or stmt.whereClause or len(targets) != 1:
                select = self.compiler.select(stmt, self._scope_at(lineno), self.tables)

                def first(frame: Frame) -> Any:
                    rows = select(frame)
                    return rows[0][0] if rows else None

                return first
            value: Any = targets[0].val
            if isinstance(value, ast.ColumnRef) and isinstance((value.fields or (None,))[-1], ast.A_Star):
                # SELECT x.* spreads x over columns; as a whole expression PL/pgSQL's rules differ.
                raise self.unsupported("x.* as a whole PL/pgSQL expression", lineno)
            return self.compiler.expr(value, self._scope_at(lineno))
        stmt = self._parse(query, lineno)
        select = self.compiler.select(stmt, self._scope_at(lineno), self.tables)

        def scalar(frame: Frame) -> Any:
            rows = select(frame)
            return rows[0][0] if rows else None

        return scalar

    def _assigner(self, varno: int, lineno: int | None) -> Callable[[Frame, Any], None]:
        kind, datum = self.datums[varno]
        if kind == "PLpgSQL_var":
            name = datum["refname"]
            type_name = normalize_type(datum["datatype"]["PLpgSQL_type"]["typname"])
            if datum.get("isconst"):
                raise self.unsupported(f"assignment to constant {name}", lineno)

            def assign_var(frame: Frame, value: Any) -> None:
                frame.variables[name] = coerce_to_type(value, type_name)

            return assign_var
        if kind == "PLpgSQL_rec":
            name = datum["refname"]

            def assign_rec(frame: Frame, value: Any) -> None:
                if value is not None and not isinstance(value, Record):
                    raise DatabaseError("42804", "cannot assign non-composite value to a record variable")
                frame.variables[name] = value

            return assign_rec
        if kind == "PLpgSQL_recfield":
            parent = self.datums[datum.get("recparentno", 0)][1]["refname"]
            field = datum["fieldname"]
            tables = self.tables

            def assign_field(frame: Frame, value: Any) -> None:
                record = frame.variables.get(parent)
                if not isinstance(record, Record):
                    raise DatabaseError("55000", f'record "{parent}" is not assigned yet')
                if field not in record.columns:
                    raise DatabaseError("42703", f'record "{parent}" has no field "{field}"')
                column = tables[record.table].column(field) if record.table in tables else None
                if column is not None:
                    value = coerce_to_type(value, column.type_name, column.modifiers)
                values = list(record.values)
                values[record.columns.index(field)] = value
                frame.variables[parent] = attrs.evolve(record, values=tuple(values))

            return assign_field
        raise self.unsupported(f"assignment target {kind}", lineno)

    # -- statements --------------------------------------------------------------------------

    def _body(self, statements: list[dict[str, Any]] | None) -> Action:
        actions = [self._statement(s) for s in statements or ()]

        def run(frame: Frame) -> None:
            for action in actions:
                action(frame)

        return run

    def _statement(self, wrapped: dict[str, Any]) -> Action:
        kind, stmt = _unwrap(wrapped)
        method = getattr(self, f"_stmt_{kind.removeprefix('PLpgSQL_stmt_')}", None)
        if method is None:
            construct = kind.removeprefix("PLpgSQL_stmt_").upper().replace("_", " ")
            raise self.unsupported(f"PL/pgSQL statement {construct}", stmt.get("lineno"))
        action: Action = method(stmt)
        return action

    def _stmt_block(self, stmt: dict[str, Any]) -> Action:
        body = self._body(stmt.get("body"))
        exceptions = stmt.get("exceptions")
        if not exceptions:
            return body
        handlers: list[tuple[list[str], Action]] = []
        for wrapped in exceptions["PLpgSQL_exception_block"].get("exc_list", []):
            exception = wrapped["PLpgSQL_exception"]
            codes = []
            for cond in exception.get("conditions", []):
                condition = cond["PLpgSQL_condition"]
                name = condition.get("condname", "")
                if name == "others":
                    codes.append("*")
                elif name in CONDITIONS:
                    codes.append(CONDITIONS[name])
                elif re.fullmatch(r"[0-9A-Z]{5}", name.upper()):
                    codes.append(name.upper())
                else:
                    raise self.unsupported(f"exception condition {name}", stmt.get("lineno"))
            handlers.append((codes, self._body(exception.get("action"))))

        def run(frame: Frame) -> None:
            ctx: ExecContext = frame.ctx  # type: ignore[assignment]
            mark = ctx.mark()
            try:
                body(frame)
            except DatabaseError as error:
                for codes, handler in handlers:
                    if "*" in codes or error.sqlstate in codes or (error.sqlstate[:2] + "000" in codes):
                        ctx.rollback_mark(mark)
                        saved = (frame.variables.get("sqlstate"), frame.variables.get("sqlerrm"))
                        frame.variables["sqlstate"] = error.sqlstate
                        frame.variables["sqlerrm"] = error.message
                        try:
                            handler(frame)
                        finally:
                            frame.variables["sqlstate"], frame.variables["sqlerrm"] = saved
                        return
                raise
            ctx.release_mark(mark)

        return run

    def _stmt_assign(self, stmt: dict[str, Any]) -> Action:
        lineno = stmt.get("lineno")
        value = self._expression(stmt["expr"]["PLpgSQL_expr"], lineno)
        assign = self._assigner(stmt.get("varno", 0), lineno)
        return lambda frame: assign(frame, value(frame))

    def _stmt_if(self, stmt: dict[str, Any]) -> Action:
        lineno = stmt.get("lineno")
        branches = [(self._expression(stmt["cond"]["PLpgSQL_expr"], lineno), self._body(stmt.get("then_body")))]
        for wrapped in stmt.get("elsif_list", []):
            elsif = wrapped["PLpgSQL_if_elsif"]
            branches.append(
                (self._expression(elsif["cond"]["PLpgSQL_expr"], elsif.get("lineno")), self._body(elsif.get("stmts")))
            )
        otherwise = self._body(stmt.get("else_body"))

        def run(frame: Frame) -> None:
            for condition, body in branches:
                if condition(frame) is True:
                    body(frame)
                    return
            otherwise(frame)

        return run

    def _stmt_perform(self, stmt: dict[str, Any]) -> Action:
        lineno = stmt.get("lineno")
        query = self._parse(stmt["expr"]["PLpgSQL_expr"]["query"], lineno)
        select = self.compiler.select(query, self._scope_at(lineno), self.tables)

        def run(frame: Frame) -> None:
            frame.variables["found"] = bool(select(frame))

        return run

    def _stmt_execsql(self, stmt: dict[str, Any]) -> Action:
        lineno = stmt.get("lineno")
        query = self._parse(stmt["sqlstmt"]["PLpgSQL_expr"]["query"], lineno)
        scope = self._scope_at(lineno)
        if isinstance(query, (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt)):
            dml = self.compile_dml(query, scope)
            if stmt.get("into"):
                return self._dml_into(stmt, dml, lineno)

            def run_dml(frame: Frame) -> None:
                frame.variables["found"] = dml(frame) > 0

            return run_dml
        if isinstance(query, ast.NotifyStmt):
            # NOTIFY channel [, 'payload'] is pg_notify with constants; FOUND is left as it was.
            notify = self.compiler.functions["pg_notify"]
            arguments = [query.conditionname, query.payload]
            return lambda frame: notify(frame, arguments)
        if not isinstance(query, ast.SelectStmt):
            raise self.unsupported(f"SQL statement {type(query).__name__} in PL/pgSQL", lineno)
        select = self.compiler.select(query, scope, self.tables)
        if not stmt.get("into"):

            def run_select(frame: Frame) -> None:
                frame.variables["found"] = bool(select(frame))

            return run_select
        strict = bool(stmt.get("strict"))
        assigners = self._into_assigners(stmt, lineno)

        def run_into(frame: Frame) -> None:
            _assign_into(frame, list(select(frame)), assigners, strict=strict, one_row=strict)

        return run_into

    def _dml_into(self, stmt: dict[str, Any], dml: Callable[[Frame], int], lineno: int | None) -> Action:
        """``INSERT/UPDATE/DELETE … RETURNING … INTO``: more than one row is an error even without STRICT."""
        strict = bool(stmt.get("strict"))
        assigners = self._into_assigners(stmt, lineno)

        def run(frame: Frame) -> None:
            frame.returning = None
            dml(frame)
            rows: list[tuple[Any, ...]] = frame.returning or []
            frame.returning = None
            _assign_into(frame, rows, assigners, strict=strict, one_row=True)

        return run

    def _into_assigners(self, stmt: dict[str, Any], lineno: int | None) -> list[Callable[[Frame, Any], None]]:
        target_kind, target = _unwrap(stmt["target"])
        if target_kind == "PLpgSQL_row":
            return [self._assigner(f["varno"], lineno) for f in target["fields"]]
        return [self._assigner(stmt["target"][target_kind].get("dno", 0), lineno)]

    def _return_variable(self, lineno: int | None) -> str | None:
        """The variable a ``RETURN name;`` returns: the JSON omits it, so read it from the body text."""
        if lineno is None:
            return None
        lines = self.definition.body.split("\n")
        if not 0 < lineno <= len(lines):
            raise self.unsupported("RETURN whose source line cannot be found", lineno)
        seen = self._returns_seen.get(lineno, 0)
        self._returns_seen[lineno] = seen + 1
        matches = _RETURN.findall(lines[lineno - 1])
        if seen >= len(matches):
            raise self.unsupported("RETURN split over several lines", lineno)
        name = matches[seen].lower()
        if name and name not in self.scope.variables and name not in self.scope.records:
            raise self.unsupported(f"RETURN {name}", lineno)
        return name or None

    def _stmt_return(self, stmt: dict[str, Any]) -> Action:
        expr = stmt.get("expr")
        if expr is None:
            name = self._return_variable(stmt.get("lineno"))
            if name is not None:

                def ret_var(frame: Frame) -> None:
                    raise _Return(frame.variables.get(name))

                return ret_var

            def ret_none(frame: Frame) -> None:
                raise _Return(None)

            return ret_none
        value = self._expression(expr["PLpgSQL_expr"], stmt.get("lineno"))

        def ret(frame: Frame) -> None:
            raise _Return(value(frame))

        return ret

    def _stmt_raise(self, stmt: dict[str, Any]) -> Action:
        lineno = stmt.get("lineno")
        level = _ELOG_LEVELS.get(stmt.get("elog_level", 21), "ERROR")
        message = stmt.get("message")
        params = [self._expression(p["PLpgSQL_expr"], lineno) for p in stmt.get("params", [])]
        sqlstate = "P0001"
        condname = stmt.get("condname")
        if condname:
            sqlstate = CONDITIONS.get(condname, condname.upper() if len(condname) == 5 else "P0001")
        option_exprs: list[tuple[str, Compiled]] = []
        for wrapped in stmt.get("options", []):
            option = wrapped["PLpgSQL_raise_option"]
            option_exprs.append(
                (str(option.get("opt_type", 0)), self._expression(option["expr"]["PLpgSQL_expr"], lineno))
            )
        if message is None and not option_exprs:
            raise self.unsupported("RAISE without a message (re-raise)", lineno)

        def run(frame: Frame) -> None:
            text = _format_message(message or "", [p(frame) for p in params])
            code = sqlstate
            for kind, expr in option_exprs:
                value = expr(frame)
                if kind in ("0", "RAISE_OPTION_ERRCODE"):
                    code = CONDITIONS.get(str(value), str(value))
                elif kind in ("1", "RAISE_OPTION_MESSAGE"):
                    text = output_text(value)
            if level == "ERROR":
                raise DatabaseError(code, text)
            ctx: ExecContext = frame.ctx  # type: ignore[assignment]
            ctx.message(level, text)

        return run


def _format_message(template: str, params: list[Any]) -> str:
    out = []
    values = iter(params)
    index = 0
    while index < len(template):
        char = template[index]
        if char == "%":
            if template[index + 1 : index + 2] == "%":
                out.append("%")
                index += 2
                continue
            value = next(values, None)
            out.append("<NULL>" if value is None else output_text(value))
        else:
            out.append(char)
        index += 1
    return "".join(out)


def _unwrap(wrapped: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((kind, body),) = wrapped.items()
    return kind, body


def _assign_into(
    frame: Frame, rows: list[Any], assigners: list[Callable[[Frame, Any], None]], *, strict: bool, one_row: bool
) -> None:
    """Store the first row in the INTO targets (NULLs when none); FOUND says whether there was one."""
    if one_row and len(rows) > 1:
        raise DatabaseError("P0003", "query returned more than one row")
    if strict and not rows:
        raise DatabaseError("P0002", "query returned no rows")
    row = rows[0] if rows else (None,) * len(assigners)
    if len(row) != len(assigners) and rows:
        raise DatabaseError("42601", "query returned a different number of columns than INTO targets")
    for assign, value in zip(assigners, row, strict=False):
        assign(frame, value)
    frame.variables["found"] = bool(rows)
