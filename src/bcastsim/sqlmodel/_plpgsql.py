"""Notify sites in PL/pgSQL (and SQL) function bodies.

A flow-aware walk over the ``parse_plpgsql`` tree tracks, for every variable, the
definitions that can reach each statement (assignments, ``SELECT … INTO`` lookups,
declarations), the ``TG_OP`` values each branch can run under and the guarding
conditions. At each ``pg_notify``/``NOTIFY``/``realtime.send``/``realtime.broadcast_changes``
call the channel, event and payload expressions are evaluated once per (trigger table,
operation) the site can run under, and the results merged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import pglast
from pglast import ast
from pglast.enums import A_Expr_Kind, BoolExprType, NullTestType, SQLValueFunctionOp
from pglast.stream import RawStream
from sqlglot import exp

from bcastsim._errors import InputError
from bcastsim.sqlmodel._catalog import normalize_type
from bcastsim.sqlmodel._lineage import (
    Lookup,
    RowContext,
    Value,
    arg_texts,
    column_parts,
    column_value,
    merge_fields,
    merge_values,
    normalize_sqlglot_type,
    object_bytes,
    parse_lookup,
    record_fields,
    unique_refs,
)
from bcastsim.sqlmodel._types import (
    Catalog,
    ColumnRef,
    Diagnostic,
    Function,
    Hole,
    NotifySite,
    PayloadField,
    SourceLocation,
    Table,
    Template,
    Transport,
)

__all__ = ["analyze_catalog"]

ALL_OPERATIONS = ("INSERT", "UPDATE", "DELETE", "TRUNCATE")
_TRANSPORTS: dict[str, Transport] = {
    "pg_notify": "pg_notify",
    "pg_catalog.pg_notify": "pg_notify",
    "realtime.send": "realtime.send",
    "realtime.broadcast_changes": "realtime.broadcast_changes",
}
_STRING_TYPES = {"text", "varchar", "char", "name"}
_NOW_FUNCTIONS = {"now", "statement_timestamp", "clock_timestamp", "transaction_timestamp"}
_JSON_BUILDERS = {"json_build_object": "json", "jsonb_build_object": "jsonb"}
_ROW_BUILDERS = {"row_to_json": "json", "to_json": "json", "to_jsonb": "jsonb"}
_MAX_DEPTH = 12
_ERROR_LEVEL = 21  # elog.h ERROR: RAISE EXCEPTION (the default level) ends the function


# -- small helpers -----------------------------------------------------------------------


def _render(node: Any) -> str:
    try:
        return " ".join(str(RawStream()(node)).split())
    except Exception:  # the deparser does not know every node; the text is for people only
        return type(node).__name__


def _func_name(call: ast.FuncCall) -> str:
    names = [n.sval.lower() for n in call.funcname or () if isinstance(n, ast.String) and n.sval]
    if len(names) > 1 and names[0] == "pg_catalog":
        names = names[1:]
    return ".".join(names)


def _nodes(node: Any) -> Iterator[Any]:
    """``node`` and every pglast node below it, depth first, in source order."""
    if isinstance(node, ast.Node):
        yield node
        for name in getattr(type(node), "__slots__", ()):
            yield from _nodes(getattr(node, name, None))
    elif isinstance(node, tuple | list):
        for item in node:
            yield from _nodes(item)


def _string_const(node: Any) -> str | None:
    if isinstance(node, ast.A_Const) and not node.isnull and isinstance(node.val, ast.String):
        return node.val.sval or ""
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


@attrs.frozen(eq=False)
class _Expr:
    """A parsed expression and the text its character locations index into."""

    node: Any
    query: str
    line: int

    def line_of(self, node: Any) -> int:
        location = getattr(node, "location", None)
        if isinstance(location, int) and 0 <= location <= len(self.query):
            return self.line + self.query.count("\n", 0, location)
        return self.line


# -- definitions reaching a use ------------------------------------------------------------


@attrs.frozen(eq=False)
class _DefExpr:
    expr: _Expr
    env: dict[str, tuple[Any, ...]]
    in_loop: bool


@attrs.frozen(eq=False)
class _DefLookup:
    lookup: Lookup
    index: int | None  # None: the whole row goes into a record variable
    strict: bool
    in_loop: bool
    env: dict[str, tuple[Any, ...]]


@attrs.frozen(eq=False)
class _DefNull:
    reason: str


@attrs.frozen(eq=False)
class _DefNotNull:
    """Definitions known, on this path, not to give NULL (after ``IF x IS NULL THEN RETURN``)."""

    inner: tuple[Any, ...]


@attrs.frozen(eq=False)
class _DefValue:
    value: Value
    in_loop: bool = False


@attrs.frozen(eq=False)
class _DefUnknown:
    reason: str
    in_loop: bool = False


_Env = dict[str, tuple[Any, ...]]

# Pseudo-variables kept in an environment: the path ended (RETURN, RAISE EXCEPTION, EXIT),
# and the lookups the last SELECT … INTO made (what FOUND is about).
_UNREACHABLE = "\x00unreachable"
_FOUND = "\x00found"


@attrs.frozen
class _Facts:
    """What a condition being true (or false) says: variables that are not NULL, FOUND is true."""

    not_null: frozenset[str] = frozenset()
    found: bool = False

    def __or__(self, other: _Facts) -> _Facts:
        return _Facts(self.not_null | other.not_null, self.found or other.found)


@attrs.frozen
class _Scope:
    """Where a statement runs: the trigger operations that reach it, its guards, inside a loop or not."""

    operations: frozenset[str]
    guards: tuple[str, ...]
    in_loop: bool

    def add(self, guard: str) -> _Scope:
        return _Scope(self.operations, (*self.guards, guard), self.in_loop)


def _merge_envs(envs: Sequence[_Env]) -> _Env:
    live = [env for env in envs if _UNREACHABLE not in env]
    if not live:
        return {_UNREACHABLE: ()}
    merged: dict[str, dict[int, Any]] = {}
    for env in live:
        for name, defs in env.items():
            bucket = merged.setdefault(name, {})
            for definition in defs:
                bucket.setdefault(id(definition), definition)
    return {name: tuple(bucket.values()) for name, bucket in merged.items()}


@attrs.frozen
class _Variable:
    name: str
    type_name: str | None
    modifiers: tuple[int, ...]
    row_table: str | None  # %ROWTYPE / record variables filled from a table
    is_record: bool


@attrs.define
class _Draft:
    """A notify call found during the walk, evaluated once the walk is over."""

    call: Any
    expr: _Expr
    env: _Env
    operations: frozenset[str]
    guards: tuple[str, ...]
    in_loop: bool
    transport: Transport
    notify: Any = None  # ast.NotifyStmt for NOTIFY


# -- the analysis of one function --------------------------------------------------------


class _FunctionAnalysis:
    def __init__(self, catalog: Catalog, function: Function, diagnostics: list[Diagnostic]) -> None:
        self.catalog = catalog
        self.function = function
        self.diagnostics = diagnostics
        self.variables: dict[str, _Variable] = {}
        self.datums: list[dict[str, Any]] = []
        self.drafts: dict[tuple[int, int], _Draft] = {}
        self.calls: set[str] = set()
        self.writes: set[str] = set()
        self._lookups: dict[str, Lookup] = {}
        self._parsed: dict[tuple[str, int], Any] = {}
        self._memo: dict[tuple[Any, RowContext, str | None], Value] = {}
        self._diagnosed: set[tuple[str, int, str]] = set()
        self._texts: dict[int, str] = {}
        self._exprs: dict[tuple[str, int, int], _Expr] = {}
        self.triggers = catalog.triggers_for(function.name)

    # diagnostics ------------------------------------------------------------------------

    def diagnose(self, code: str, message: str, line: int) -> None:
        key = (code, line, message)
        if key in self._diagnosed:
            return
        self._diagnosed.add(key)
        self.diagnostics.append(
            Diagnostic(code, message, SourceLocation(self.function.location.path, line), self.function.name)
        )

    def file_line(self, lineno: Any) -> int:
        number = lineno if isinstance(lineno, int) else 1
        return self.function.body_location.line + max(number, 1) - 1

    # parsing ----------------------------------------------------------------------------

    def parse(self, query: str, mode: int, line: int) -> _Expr | None:
        """Parse a PL/pgSQL expression (mode 2), assignment (3) or statement (0)."""
        text = query
        if mode == 3:
            match = re.match(r'\s*(?:"[^"]*"|[\w$]+)(?:\s*\.\s*(?:"[^"]*"|[\w$]+))*(?:\s*\[[^\]]*\])*\s*:?=', text)
            if match is None:
                self.diagnose("unsupported-assignment", f"assignment not understood: {_one_line(text)}", line)
                return None
            text = " " * match.end() + text[match.end() :]
            mode = 2
        if mode in (2, 1):
            text = "SELECT " + text
        key = (text, mode)
        if key in self._parsed:
            node = self._parsed[key]
        else:
            try:
                statements = pglast.parse_sql(text)
            except pglast.parser.ParseError as error:
                message = str(error.args[0]) if error.args else str(error)
                offset = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], int) else 0
                raise InputError(
                    f"SQL syntax error in function {self.function.name}: {message}",
                    path=self.function.location.path,
                    line=line + text.count("\n", 0, max(offset, 0)),
                ) from None
            except Exception as error:
                raise InputError(
                    f"SQL in function {self.function.name} cannot be parsed: {error}",
                    path=self.function.location.path,
                    line=line,
                ) from None
            node = statements[0].stmt if statements else None
            if mode == 2 and isinstance(node, ast.SelectStmt) and node.targetList:
                target = node.targetList[0]
                node = target.val if isinstance(target, ast.ResTarget) else None
            self._parsed[key] = node
        if node is None:
            return None
        # One _Expr per statement, so a loop body walked twice finds the same notify calls.
        cached = self._exprs.get((text, mode, line))
        if cached is None:
            cached = self._exprs[(text, mode, line)] = _Expr(node, text, line)
        return cached

    # variables --------------------------------------------------------------------------

    def load_datums(self) -> _Env:
        plpgsql = self.function.plpgsql or {}
        datums = plpgsql.get("datums")
        self.datums = [d for d in datums if isinstance(d, dict)] if isinstance(datums, list) else []
        env: _Env = {}
        for datum in self.datums:
            kind, body = next(iter(datum.items()))
            if not isinstance(body, dict):
                continue
            name = str(body.get("refname", "")).lower()
            if kind == "PLpgSQL_var":
                type_info = body.get("datatype", {}).get("PLpgSQL_type", {})
                variable = self._declared(name, str(type_info.get("typname", "")), body.get("lineno"))
                self.variables[name] = variable
                line = self.file_line(body.get("lineno"))
                default = body.get("default_val")
                if isinstance(default, dict) and "PLpgSQL_expr" in default:
                    expr = self.parse(str(default["PLpgSQL_expr"].get("query", "")), 2, line)
                    env[name] = (_DefExpr(expr, {}, False),) if expr else (_DefUnknown("default not understood"),)
                elif name in {"found"}:
                    env[name] = (_DefUnknown("FOUND"),)
                elif body.get("promise"):
                    env[name] = (_DefUnknown("trigger variable"),)
                else:
                    env[name] = (_DefNull(f"{name} is never assigned"),)
            elif kind == "PLpgSQL_rec" and name not in {"new", "old"}:
                self.variables[name] = _Variable(name, "record", (), None, True)
                env[name] = (_DefNull(f"record {name} is never assigned"),)
        for index, parameter in enumerate(self.function.parameters, start=1):
            type_name = normalize_type(parameter.type_name)
            for name in filter(None, (parameter.name, f"${index}")):
                self.variables[name.lower()] = _Variable(name.lower(), type_name, (), None, type_name == "record")
                env[name.lower()] = (_DefUnknown(f"parameter {parameter.name or index}"),)
        return env

    def _declared(self, name: str, typname: str, lineno: Any) -> _Variable:
        lowered = typname.lower()
        if lowered.endswith("%rowtype"):
            return _Variable(name, "record", (), lowered.removesuffix("%rowtype"), True)
        if lowered.endswith("%type"):
            table_name, _, column_name = lowered.removesuffix("%type").rpartition(".")
            table = self.catalog.tables.get(table_name)
            column = table.column(column_name) if table else None
            if column is not None:
                return _Variable(name, column.type_name, column.type_modifiers, None, False)
            return _Variable(name, None, (), None, False)
        modifiers: tuple[int, ...] = ()
        # The PL/pgSQL tree drops type modifiers (varchar(32) → varchar): read them back
        # from the declaration line.
        body_lines = self.function.body.split("\n")
        if isinstance(lineno, int) and 1 <= lineno <= len(body_lines):
            pattern = rf"\b{re.escape(name)}\s+(?:constant\s+)?[\w\s.\"]+?\(\s*(\d+)\s*(?:,\s*(-?\d+)\s*)?\)"
            match = re.search(pattern, body_lines[lineno - 1], flags=re.IGNORECASE)
            if match:
                modifiers = tuple(int(g) for g in match.groups() if g is not None)
        type_name = normalize_type(typname) if typname else None
        if type_name == "record":
            return _Variable(name, "record", (), None, True)
        return _Variable(name, type_name, modifiers, None, False)

    # walking ----------------------------------------------------------------------------

    def run(self) -> None:
        env = self.load_datums()
        if self.function.plpgsql is not None:
            action = self.function.plpgsql.get("action")
            if isinstance(action, dict):
                self.walk([action], env, _Scope(frozenset(ALL_OPERATIONS), (), False))
        elif self.function.language == "sql":
            self._walk_sql_body(env)

    def _walk_sql_body(self, env: _Env) -> None:
        try:
            statements = pglast.parse_sql(self.function.body)
        except Exception:
            return  # an SQL body PostgreSQL accepts may still use syntax pglast does not
        for raw in statements:
            start = raw.stmt_location or 0
            line = self.function.body_location.line + self.function.body.count("\n", 0, start)
            expr = _Expr(raw.stmt, self.function.body, self.function.body_location.line)
            self.scan(expr, env, _Scope(frozenset(ALL_OPERATIONS), (), False), line)

    def walk(self, statements: Sequence[Any], env: _Env, scope: _Scope) -> _Env:
        for index, statement in enumerate(statements):
            if not isinstance(statement, dict) or not statement:
                continue
            kind, body = next(iter(statement.items()))
            if isinstance(body, dict):
                env = self.statement(kind, body, env, scope)
            if _UNREACHABLE in env:
                rest = [next(iter(s.values())) for s in statements[index + 1 :] if isinstance(s, dict) and s]
                if rest and isinstance(rest[0], dict):
                    self.diagnose(
                        "unreachable",
                        "statements after RETURN, RAISE EXCEPTION or EXIT never run: notify calls there are not sites",
                        self.file_line(rest[0].get("lineno")),
                    )
                break
        return env

    def _expr_of(self, body: dict[str, Any], key: str, mode: int, line: int) -> _Expr | None:
        value = body.get(key)
        if isinstance(value, dict) and "PLpgSQL_expr" in value:
            query = value["PLpgSQL_expr"].get("query")
            if isinstance(query, str):
                return self.parse(query, mode, line)
        return None

    def statement(self, kind: str, body: dict[str, Any], env: _Env, scope: _Scope) -> _Env:
        in_loop = scope.in_loop
        line = self.file_line(body.get("lineno"))
        if kind == "PLpgSQL_stmt_block":
            inner = self.walk(body.get("body") or [], env, scope)
            exceptions = body.get("exceptions")
            if isinstance(exceptions, dict):
                outs = [inner]
                handler_env = _merge_envs([env, inner])
                block = exceptions.get("PLpgSQL_exception_block", {})
                for handler in block.get("exc_list") or []:
                    handler_body = handler.get("PLpgSQL_exception", {}) if isinstance(handler, dict) else {}
                    names = [
                        c.get("PLpgSQL_condition", {}).get("condname", "?")
                        for c in handler_body.get("conditions") or []
                        if isinstance(c, dict)
                    ]
                    guard = "EXCEPTION WHEN " + " OR ".join(str(n).upper() for n in names)
                    outs.append(self.walk(handler_body.get("action") or [], handler_env, scope.add(guard)))
                return _merge_envs(outs)
            return inner
        if kind == "PLpgSQL_stmt_if":
            return self._if(body, env, scope, line)
        if kind == "PLpgSQL_stmt_case":
            return self._case(body, env, scope, line)
        if kind in {
            "PLpgSQL_stmt_loop",
            "PLpgSQL_stmt_while",
            "PLpgSQL_stmt_fori",
            "PLpgSQL_stmt_fors",
            "PLpgSQL_stmt_forc",
            "PLpgSQL_stmt_foreach_a",
            "PLpgSQL_stmt_dynfors",
        }:
            return self._loop(kind, body, env, scope, line)
        if kind == "PLpgSQL_stmt_assign":
            expr = self._expr_of(body, "expr", 3, line)
            varno = body.get("varno")
            target = self._datum_name(varno)
            if expr is not None:
                self.scan(expr, env, scope, line)
            if target is None:
                return env
            if expr is None:
                return {**env, target: (_DefUnknown("assignment not understood", in_loop),)}
            if "." in target or target not in self.variables:
                return env
            return {**env, target: (_DefExpr(expr, env, in_loop),)}
        if kind in {"PLpgSQL_stmt_perform", "PLpgSQL_stmt_call"}:
            expr = self._expr_of(body, "expr", 0, line)
            if expr is not None:
                self.scan(expr, env, scope, line)
            return {**env, _FOUND: ()} if kind == "PLpgSQL_stmt_perform" else env
        if kind == "PLpgSQL_stmt_execsql":
            return self._execsql(body, env, scope, line)
        if kind == "PLpgSQL_stmt_dynexecute":
            self.diagnose(
                "dynamic-sql",
                "EXECUTE runs SQL built at run time: notifications it sends and rows it reads are not analysed",
                line,
            )
            return self._assign_unknown(body, env, "EXECUTE … INTO", in_loop)
        if kind in {"PLpgSQL_stmt_return", "PLpgSQL_stmt_return_next", "PLpgSQL_stmt_raise", "PLpgSQL_stmt_assert"}:
            for key in ("expr", "cond"):
                expr = self._expr_of(body, key, 2, line)
                if expr is not None:
                    self.scan(expr, env, scope, line)
            level = body.get("elog_level")
            if kind == "PLpgSQL_stmt_return" or (
                kind == "PLpgSQL_stmt_raise" and (not isinstance(level, int) or level >= _ERROR_LEVEL)
            ):
                return {_UNREACHABLE: ()}
            return env
        if kind == "PLpgSQL_stmt_exit":
            if body.get("cond") is None:
                return {_UNREACHABLE: ()}
            return env
        if kind == "PLpgSQL_stmt_return_query":
            expr = self._expr_of(body, "query", 0, line)
            if expr is not None:
                self.scan(expr, env, scope, line)
            if body.get("dynquery"):
                self.diagnose("dynamic-sql", "RETURN QUERY EXECUTE: SQL built at run time is not analysed", line)
            return env
        if kind in {"PLpgSQL_stmt_getdiag", "PLpgSQL_stmt_fetch"}:
            return self._assign_unknown(body, env, kind.removeprefix("PLpgSQL_stmt_").upper(), in_loop)
        return env

    def _datum_name(self, varno: Any) -> str | None:
        if isinstance(varno, int) and 0 <= varno < len(self.datums):
            kind, body = next(iter(self.datums[varno].items()))
            if kind == "PLpgSQL_recfield":
                return "." + str(body.get("fieldname", ""))
            if isinstance(body, dict):
                return str(body.get("refname", "")).lower() or None
        return None

    def _targets(self, body: dict[str, Any]) -> list[str]:
        target = body.get("target")
        names: list[str] = []
        if isinstance(target, dict):
            for kind, value in target.items():
                if kind == "PLpgSQL_row" and isinstance(value, dict):
                    for field in value.get("fields") or []:
                        if isinstance(field, dict):
                            names.append(str(field.get("name", "")).lower())
                elif isinstance(value, dict):
                    names.append(str(value.get("refname", "")).lower())
        for item in body.get("diag_items") or []:
            if isinstance(item, dict):
                name = self._datum_name(item.get("PLpgSQL_diag_item", {}).get("target"))
                if name:
                    names.append(name)
        return names

    def _assign_unknown(self, body: dict[str, Any], env: _Env, what: str, in_loop: bool) -> _Env:
        targets = self._targets(body)
        if not targets:
            return env
        return {**env, **{name: (_DefUnknown(f"set by {what}", in_loop),) for name in targets}}

    def _condition(
        self, body: dict[str, Any], key: str, line: int, case_expression: str | None = None
    ) -> tuple[str, _Expr | None]:
        value = body.get(key)
        query = ""
        if isinstance(value, dict) and "PLpgSQL_expr" in value:
            query = str(value["PLpgSQL_expr"].get("query", ""))
        if case_expression is not None:
            # PL/pgSQL rewrites `CASE x WHEN v` as `"__Case__Variable_N__" IN (v)`: put x back.
            query = re.sub(r'"__Case__Variable_\d+__"', lambda _: f"({case_expression})", query)
        return _one_line(query), (self.parse(query, 2, line) if query else None)

    def _if(self, body: dict[str, Any], env: _Env, scope: _Scope, line: int) -> _Env:
        operations, guards, in_loop = scope.operations, scope.guards, scope.in_loop
        text, cond = self._condition(body, "cond", line)
        if cond is not None:
            self.scan(cond, env, scope, line)
        true_ops, false_ops = _tg_op_sets(cond.node if cond else None)
        when_true, when_false = _null_facts(cond.node if cond else None)
        then_env = self.refine(env, when_true)
        outs = [
            self.walk(body.get("then_body") or [], then_env, _Scope(operations & true_ops, (*guards, text), in_loop))
        ]
        remaining = operations & false_ops
        known = when_false
        negated = [f"NOT ({text})"]
        for item in body.get("elsif_list") or []:
            elsif = item.get("PLpgSQL_if_elsif", {}) if isinstance(item, dict) else {}
            elsif_line = self.file_line(elsif.get("lineno"))
            elsif_text, elsif_cond = self._condition(elsif, "cond", elsif_line)
            true_ops, false_ops = _tg_op_sets(elsif_cond.node if elsif_cond else None)
            when_true, when_false = _null_facts(elsif_cond.node if elsif_cond else None)
            outs.append(
                self.walk(
                    elsif.get("stmts") or [],
                    self.refine(env, known | when_true),
                    _Scope(remaining & true_ops, (*guards, *negated, elsif_text), in_loop),
                )
            )
            remaining = remaining & false_ops
            known = known | when_false
            negated.append(f"NOT ({elsif_text})")
        else_env = self.refine(env, known)
        if body.get("else_body"):
            outs.append(self.walk(body["else_body"], else_env, _Scope(remaining, (*guards, *negated), in_loop)))
        else:
            outs.append(else_env)
        return _merge_envs(outs)

    def refine(self, env: _Env, facts: _Facts) -> _Env:
        """The environment on a path where ``facts`` hold."""
        if not facts.not_null and not facts.found:
            return env
        refined = dict(env)
        if facts.found and env.get(_FOUND):
            # FOUND after SELECT … INTO: the lookup found its row, as if it were STRICT.
            strict = {id(d): attrs.evolve(d, strict=True) for d in env[_FOUND]}
            for name, definitions in env.items():
                if name != _FOUND and any(id(d) in strict for d in definitions):
                    refined[name] = tuple(strict.get(id(d), d) for d in definitions)
            refined[_FOUND] = tuple(strict.values())
        for name in sorted(facts.not_null):
            if name in refined and name in self.variables:
                refined[name] = (_DefNotNull(refined[name]),)
        return refined

    def _case(self, body: dict[str, Any], env: _Env, scope: _Scope, line: int) -> _Env:
        operations, guards, in_loop = scope.operations, scope.guards, scope.in_loop
        outs = []
        negated: list[str] = []
        case_expression: str | None = None
        t_expr = body.get("t_expr")
        if isinstance(t_expr, dict) and "PLpgSQL_expr" in t_expr:
            case_expression = str(t_expr["PLpgSQL_expr"].get("query", ""))
            expr = self.parse(case_expression, 2, line)
            if expr is not None:
                self.scan(expr, env, scope, line)
        for item in body.get("case_when_list") or []:
            when = item.get("PLpgSQL_case_when", {}) if isinstance(item, dict) else {}
            text, cond = self._condition(when, "expr", self.file_line(when.get("lineno")), case_expression)
            true_ops, _ = _tg_op_sets(cond.node if cond else None)
            guard = f"CASE WHEN {text}"
            when_scope = _Scope(operations & true_ops, (*guards, *negated, guard), in_loop)
            outs.append(self.walk(when.get("stmts") or [], env, when_scope))
            negated.append(f"NOT ({text})")
        if body.get("have_else"):
            outs.append(self.walk(body.get("else_stmts") or [], env, _Scope(operations, (*guards, *negated), in_loop)))
        return _merge_envs(outs or [env])

    def _loop(self, kind: str, body: dict[str, Any], env: _Env, scope: _Scope, line: int) -> _Env:
        operations, guards = scope.operations, scope.guards
        guard = f"{kind.removeprefix('PLpgSQL_stmt_').upper()} loop at line {line}"
        if kind == "PLpgSQL_stmt_dynfors":
            self.diagnose("dynamic-sql", "FOR … IN EXECUTE: SQL built at run time is not analysed", line)
        loop_env = dict(env)
        if kind == "PLpgSQL_stmt_fori":
            variable = body.get("var", {}).get("PLpgSQL_var", {}) if isinstance(body.get("var"), dict) else {}
            name = str(variable.get("refname", "")).lower()
            if name:
                self.variables.setdefault(name, _Variable(name, "integer", (), None, False))
                loop_env[name] = (_DefValue(Value.of_type("integer", nullable=False), True),)
        lookup: Lookup | None = None
        if kind == "PLpgSQL_stmt_fors":
            query_expr = body.get("query")
            if isinstance(query_expr, dict) and "PLpgSQL_expr" in query_expr:
                lookup = parse_lookup(str(query_expr["PLpgSQL_expr"].get("query", "")), self.catalog)
                if lookup.error is not None:
                    lookup = None
        for key in ("var", "target") if kind != "PLpgSQL_stmt_fori" else ():
            target = body.get(key)
            if isinstance(target, dict):
                for value in target.values():
                    if isinstance(value, dict):
                        name = str(value.get("refname", "")).lower()
                        fields = [f for f in value.get("fields") or [] if isinstance(f, dict)]
                        # Inside FOR … IN SELECT the row exists: the lookup is as good as STRICT.
                        if name and not fields:
                            loop_env[name] = (
                                (_DefLookup(lookup, None, True, True, env),)
                                if lookup is not None
                                else (_DefUnknown("loop variable", True),)
                            )
                        for index, field in enumerate(fields):
                            field_name = str(field.get("name", "")).lower()
                            loop_env[field_name] = (
                                (_DefLookup(lookup, index, True, True, env),)
                                if lookup is not None
                                else (_DefUnknown("loop variable", True),)
                            )
        for key in ("cond", "query", "lower", "upper", "expr"):
            expr = self._expr_of(body, key, 0 if key == "query" else 2, line)
            if expr is not None:
                self.scan(expr, env, _Scope(operations, guards, True), line)
        statements = body.get("body") or []
        # Two passes: the second sees definitions carried round the loop.
        first = self.walk(statements, loop_env, _Scope(operations, (*guards, guard), True))
        second = self.walk(statements, _merge_envs([loop_env, first]), _Scope(operations, (*guards, guard), True))
        return _merge_envs([env, first, second])

    def _execsql(self, body: dict[str, Any], env: _Env, scope: _Scope, line: int) -> _Env:
        operations, guards, in_loop = scope.operations, scope.guards, scope.in_loop
        value = body.get("sqlstmt")
        query = ""
        if isinstance(value, dict) and "PLpgSQL_expr" in value:
            query = str(value["PLpgSQL_expr"].get("query", ""))
        expr = self.parse(query, 0, line) if query else None
        if expr is not None:
            if isinstance(expr.node, ast.NotifyStmt):
                key = (id(body), 0)
                self.drafts[key] = _Draft(expr.node, expr, env, operations, guards, in_loop, "NOTIFY", expr.node)
            else:
                self.scan(expr, env, scope, line)
                self._writes(expr, line)
        if not body.get("into"):
            return {**env, _FOUND: ()}
        targets = self._targets(body)
        if expr is None or not isinstance(expr.node, ast.SelectStmt):
            return {**env, **{name: (_DefUnknown("set by a statement's RETURNING", in_loop),) for name in targets}}
        lookup = self._lookups.get(query)
        if lookup is None:
            lookup = parse_lookup(query, self.catalog)
            self._lookups[query] = lookup
            if lookup.error is not None:
                self.diagnose("unsupported-lookup", f"SELECT … INTO: {lookup.error}", line)
        target = body.get("target")
        strict = bool(body.get("strict"))
        is_record = isinstance(target, dict) and "PLpgSQL_rec" in target
        if is_record or (len(targets) == 1 and self.variables.get(targets[0], _NO_VAR).is_record):
            record = _DefLookup(lookup, None, strict, in_loop, env)
            return {**env, targets[0]: (record,), _FOUND: (record,)}
        new_env = dict(env)
        made = []
        for index, name in enumerate(targets):
            definition = _DefLookup(lookup, index, strict, in_loop, env)
            new_env[name] = (definition,)
            made.append(definition)
        new_env[_FOUND] = tuple(made)
        return new_env

    def _writes(self, expr: _Expr, line: int) -> None:
        node = expr.node
        if isinstance(node, ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt) and node.relation is not None:
            relation = node.relation
            name = relation.relname or ""
            if relation.schemaname and relation.schemaname not in {"public"}:
                name = f"{relation.schemaname}.{name}"
            self.writes.add(name)
            if name == "realtime.messages" and self.function.name != "realtime.send":
                self.diagnose(
                    "direct-realtime-insert",
                    "INSERT INTO realtime.messages broadcasts without realtime.send: not modelled as a notify site",
                    line,
                )

    # notify calls -------------------------------------------------------------------------

    def scan(self, expr: _Expr, env: _Env, scope: _Scope, line: int) -> None:
        operations, guards, in_loop = scope.operations, scope.guards, scope.in_loop
        has_from = isinstance(expr.node, ast.SelectStmt) and bool(expr.node.fromClause)
        for index, node in enumerate(_nodes(expr.node)):
            if isinstance(node, ast.FuncCall):
                name = _func_name(node)
                if name in self.catalog.functions and name not in _TRANSPORTS:
                    self.calls.add(name)
                transport = _TRANSPORTS.get(name)
                if transport is None or self.function.name in {"realtime.send", "realtime.broadcast_changes"}:
                    continue
                if has_from:
                    self.diagnose(
                        "notify-in-query",
                        f"{name} inside a query with FROM: values read from that query are not traced",
                        expr.line_of(node),
                    )
                self.drafts[(id(expr), index)] = _Draft(node, expr, env, operations, guards, in_loop, transport)

    # evaluation ---------------------------------------------------------------------------

    def remember_texts(self, call: ast.FuncCall, query: str) -> None:
        """Keep the source text of each argument of ``call`` (the parse tree has no end positions)."""
        if call.location is None:
            return
        texts = arg_texts(query, call.location)
        args = list(call.args or ())
        if texts is None or len(texts) != len(args):
            return
        for arg, text in zip(args, texts, strict=True):
            if isinstance(arg, ast.NamedArgExpr):
                self._texts[id(arg.arg)] = re.sub(r"^[\w\"]+\s*(=>|:=)\s*", "", text)
            self._texts[id(arg)] = text

    def contexts(self, operations: frozenset[str]) -> list[RowContext]:
        found: list[RowContext] = []
        for trigger in self.triggers:
            table = self.catalog.tables.get(trigger.table)
            if table is None:
                self.diagnose(
                    "unknown-table",
                    f"trigger {trigger.name} is on table {trigger.table}, which the given files do not define: "
                    "column types and nullability are unknown (pass the schema file too)",
                    trigger.location.line
                    if trigger.location.path == self.function.location.path
                    else self.function.location.line,
                )
            for operation in trigger.events:
                if operation in operations:
                    level = "STATEMENT" if operation == "TRUNCATE" else trigger.level
                    found.append(RowContext(table, operation, trigger.timing, level, trigger.table, trigger.arguments))
        return list(dict.fromkeys(found))

    def value(self, node: Any, env: _Env, ctx: RowContext, depth: int = 0) -> Value:
        if depth > _MAX_DEPTH:
            return Value.unknown("expression nests too deeply")
        depth += 1
        if isinstance(node, ast.A_Const):
            return _const_value(node)
        if isinstance(node, ast.ColumnRef):
            return self._column_ref(node, env, ctx, depth)
        if isinstance(node, ast.ParamRef):
            return self.variable(f"${node.number}", env, ctx, depth)
        if isinstance(node, ast.NamedArgExpr):
            return self.value(node.arg, env, ctx, depth)
        if isinstance(node, ast.TypeCast):
            return self._cast(node, env, ctx, depth)
        if isinstance(node, ast.CoalesceExpr):
            args = [self.value(arg, env, ctx, depth) for arg in node.args or ()]
            return _coalesce(args)
        if isinstance(node, ast.MinMaxExpr):
            args = [self.value(arg, env, ctx, depth) for arg in node.args or ()]
            return merge_values(args)
        if isinstance(node, ast.SQLValueFunction):
            return _sql_value_function(node)
        if isinstance(node, ast.FuncCall):
            return self._call(node, env, ctx, depth)
        if isinstance(node, ast.A_Expr):
            return self._operator(node, env, ctx, depth)
        if isinstance(node, ast.BoolExpr):
            args = [self.value(arg, env, ctx, depth) for arg in node.args or ()]
            return Value.of_type("boolean", nullable=any(a.nullable for a in args), sources=_sources(args))
        if isinstance(node, ast.NullTest | ast.BooleanTest):
            inner = self.value(node.arg, env, ctx, depth)
            return Value.of_type("boolean", nullable=False, sources=inner.sources)
        if isinstance(node, ast.CaseExpr):
            results = [self.value(w.result, env, ctx, depth) for w in node.args or () if isinstance(w, ast.CaseWhen)]
            if node.defresult is not None:
                results.append(self.value(node.defresult, env, ctx, depth))
            else:
                results.append(Value.null("CASE without ELSE"))
            return merge_values(results)
        if isinstance(node, ast.SubLink):
            return Value.unknown("a subquery's value is not traced")
        if isinstance(node, ast.A_Indirection):
            return self._indirection(node, env, ctx, depth)
        return Value.unknown(f"{type(node).__name__} not understood")

    def _indirection(self, node: ast.A_Indirection, env: _Env, ctx: RowContext, depth: int) -> Value:
        """``TG_ARGV[i]`` resolves to the trigger's argument; other subscripts are untraced."""
        indices = list(node.indirection or ())
        base = node.arg
        if (
            isinstance(base, ast.ColumnRef)
            and len(base.fields or ()) == 1
            and isinstance(base.fields[0], ast.String)  # type: ignore[index]
            and (base.fields[0].sval or "").lower() == "tg_argv"  # type: ignore[index]
            and len(indices) == 1
            and isinstance(indices[0], ast.A_Indices)
            and not indices[0].is_slice
            and isinstance(indices[0].uidx, ast.A_Const)
            and isinstance(indices[0].uidx.val, ast.Integer)
            and ctx.arguments is not None
        ):
            index = indices[0].uidx.val.ival or 0
            if 0 <= index < len(ctx.arguments):
                return Value.literal(ctx.arguments[index])
            return Value.null(f"TG_ARGV[{index}] is beyond the trigger's arguments")
        inner = self.value(base, env, ctx, depth)
        return Value.unknown("a subscript's value is not traced", sources=inner.sources)

    def _column_ref(self, node: ast.ColumnRef, env: _Env, ctx: RowContext, depth: int) -> Value:
        fields = [f.sval.lower() if isinstance(f, ast.String) and f.sval else "*" for f in node.fields or ()]
        if len(fields) == 1:
            name = fields[0]
            if name in {"new", "old"}:
                return self.record(name, ctx, "json")
            if name == "tg_op":
                values = (ctx.operation,) if ctx.operation else ALL_OPERATIONS
                return attrs.evolve(
                    Value.of_type("text", nullable=False),
                    values=values,
                    text_bytes=8,
                    text_chars=8,
                    text_json_bytes=10,
                    json_bytes=10,
                    unbounded_reason=None,
                )
            if name in {"tg_table_name", "tg_relname"} and ctx.table is not None:
                return Value.literal(ctx.table.name.rpartition(".")[2])
            if name == "tg_table_schema" and ctx.table is not None:
                schema = ctx.table.name.rpartition(".")[0] or "public"
                return Value.literal(schema)
            if name in {"tg_name", "tg_when", "tg_level", "tg_table_name", "tg_table_schema", "tg_relname"}:
                return Value.of_type("name", nullable=False)
            return self.variable(name, env, ctx, depth)
        if len(fields) == 2:
            record, column = fields
            if record in {"new", "old"}:
                return self.record_field(record, column, ctx)
            if record in self.variables:
                return self.record_variable_field(record, column, env, ctx, depth)
        return Value.unknown(f"{'.'.join(fields)} not understood")

    def record(self, record: str, ctx: RowContext, json_format: str) -> Value:
        if ctx.table is None:
            return Value.unknown(f"{record.upper()} outside a trigger")
        reason = ctx.record_is_null(record)
        if reason is not None:
            return Value.null(reason)
        return record_fields(ctx.table, json_format, None)

    def record_field(self, record: str, column_name: str, ctx: RowContext) -> Value:
        if ctx.table is None and ctx.table_name is not None:
            value = Value.unknown(
                f"table {ctx.table_name} is not defined", sources=(ColumnRef(ctx.table_name, column_name),)
            )
            reason = ctx.record_is_null(record)
            return attrs.evolve(value, nullable_reason=reason) if reason else value
        if ctx.table is None:
            return Value.unknown(f"{record.upper()}.{column_name} outside a trigger")
        reason = ctx.record_is_null(record)
        column = ctx.table.column(column_name)
        if column is None:
            return Value.unknown(f"{ctx.table.name} has no column {column_name}")
        value = column_value(ctx.table, column)
        if reason is not None:
            return attrs.evolve(
                value,
                nullable=True,
                nullable_reason=reason,
            )
        return value

    def record_variable_field(self, record: str, column: str, env: _Env, ctx: RowContext, depth: int) -> Value:
        values = []
        variable = self.variables[record]
        for definition in env.get(record, ()):
            if isinstance(definition, _DefLookup) and definition.index is None:
                values.append(self.lookup_column(definition, column, ctx, depth))
            elif isinstance(definition, _DefNull) and variable.row_table:
                table = self.catalog.tables.get(variable.row_table)
                if table is not None and table.column(column) is not None:
                    values.append(Value.null(definition.reason))
                else:
                    values.append(Value.unknown(f"{record}.{column} not understood"))
            else:
                values.append(Value.unknown(f"{record}.{column}: record not traced"))
        return merge_values(values) if values else Value.unknown(f"{record}.{column} not understood")

    def variable(self, name: str, env: _Env, ctx: RowContext, depth: int) -> Value:
        definitions = env.get(name)
        variable = self.variables.get(name)
        if definitions is None or variable is None:
            return Value.unknown(f"{name} not understood")
        values = [self.definition(d, ctx, depth) for d in definitions]
        merged = merge_values(values)
        return _coerce(merged, variable)

    def definition(self, definition: Any, ctx: RowContext, depth: int, column: str | None = None) -> Value:
        key = (definition, ctx, column)
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = Value.unknown("recursive definition")
        if isinstance(definition, _DefExpr):
            result = self.value(definition.expr.node, definition.env, ctx, depth)
        elif isinstance(definition, _DefLookup) and definition.index is None:
            result = self.lookup_record(definition, ctx, depth)
        elif isinstance(definition, _DefLookup):
            result = self.lookup_item(definition, ctx, depth)
        elif isinstance(definition, _DefNull):
            result = Value.null(definition.reason)
        elif isinstance(definition, _DefValue):
            result = definition.value
        elif isinstance(definition, _DefNotNull):
            inner = merge_values([self.definition(d, ctx, depth, column) for d in definition.inner])
            result = inner.with_nullable(False)
        else:
            result = Value.unknown(definition.reason)
        self._memo[key] = result
        return result

    # lookups ----------------------------------------------------------------------------

    def row_missing(self, definition: _DefLookup, ctx: RowContext) -> str | None:
        """Why the lookup can find no row (its variables then become NULL), or None."""
        lookup = definition.lookup
        if lookup.error is not None:
            return "lookup not understood"
        if definition.strict or lookup.has_aggregate_only:
            return None
        if not lookup.sources:
            return None
        base = lookup.sources[0]
        base_table = self.catalog.tables.get(base.table)
        why = f"SELECT … INTO from {base.table} can find no row; its variables are then NULL"
        if ctx.table is None or base_table is None:
            return why
        matches = [c for c in lookup.conjuncts if self._fk_match(c, base.alias, base_table, ctx, lookup)]
        # Any other condition could filter the row out.
        if not matches or len(matches) != len(lookup.conjuncts):
            return why
        for alias, condition in lookup.inner_joins:
            source = lookup.source(alias)
            joined = self.catalog.tables.get(source.table) if source else None
            if joined is None or not any(
                self._fk_match(part, alias, joined, ctx, lookup) for part in _flatten_and(condition)
            ):
                return f"JOIN {alias} can find no row; the lookup's variables are then NULL"
        return None

    def _fk_match(self, conjunct: Any, alias: str, table: Table, ctx: RowContext, lookup: Lookup | None = None) -> bool:
        """``alias.key = NEW.fk`` where a NOT NULL foreign key guarantees the row exists."""
        if not isinstance(conjunct, exp.EQ):
            return False
        for mine, other in ((conjunct.this, conjunct.expression), (conjunct.expression, conjunct.this)):
            if not isinstance(mine, exp.Column) or not isinstance(other, exp.Column):
                continue
            mine_alias, key = column_parts(mine)
            if mine_alias is None and table.column(key) is not None:
                mine_alias = alias
            if mine_alias != alias:
                continue
            key_column = table.column(key)
            if not (table.primary_key == (key,) or (key_column is not None and key_column.unique)):
                continue
            other_alias, other_column = column_parts(other)
            other_table: Table | None = None
            if other_alias in {"new", "old"}:
                if ctx.record_is_null(other_alias) is not None:
                    continue
                other_table = ctx.table
            elif lookup is not None:
                source = lookup.source(other_alias)
                if source is None or source.nullable_reason is not None:
                    continue
                other_table = self.catalog.tables.get(source.table)
            fk = other_table.column(other_column) if other_table else None
            if fk is not None and fk.not_null and fk.references == (table.name, key):
                return True
        return False

    def lookup_item(self, definition: _DefLookup, ctx: RowContext, depth: int) -> Value:
        lookup = definition.lookup
        if lookup.error is not None or definition.index is None:
            return Value.unknown("lookup not understood")
        if lookup.star:
            return Value.unknown("SELECT * INTO separate variables is not traced")
        if definition.index >= len(lookup.items):
            return Value.null("SELECT … INTO has fewer columns than targets")
        value = self.sg_value(lookup.items[definition.index], lookup, definition.env, ctx, depth)
        missing = self.row_missing(definition, ctx)
        return value.with_nullable(True, missing) if missing else value

    def lookup_record(self, definition: _DefLookup, ctx: RowContext, depth: int) -> Value:
        """A whole row from a lookup (``SELECT * INTO rec``, ``FOR rec IN SELECT``) as a JSON object."""
        lookup = definition.lookup
        if lookup.error is not None:
            return Value.unknown("lookup not understood")
        missing = self.row_missing(definition, ctx)
        if lookup.star and len(lookup.sources) == 1 and len(lookup.items) == 1:
            table = self.catalog.tables.get(lookup.sources[0].table)
            if table is None:
                return Value.unknown(f"table {lookup.sources[0].table} is not defined")
            value = record_fields(table, "json", missing)
        elif not lookup.star and all(name is not None for name in lookup.names):
            fields = [
                _field(
                    name or "?", item.sql(dialect="postgres"), self.sg_value(item, lookup, definition.env, ctx, depth)
                )
                for item, name in zip(lookup.items, lookup.names, strict=True)
            ]
            value = _object_value(fields, "json")
        else:
            return Value.unknown("the columns of a SELECT * over several tables are not traced")
        return value.with_nullable(True, missing) if missing else value

    def lookup_column(self, definition: _DefLookup, column: str, ctx: RowContext, depth: int) -> Value:
        lookup = definition.lookup
        if lookup.error is not None:
            return Value.unknown("lookup not understood")
        value: Value | None = None
        for item, name in zip(lookup.items, lookup.names, strict=False):
            if isinstance(item, exp.Star):
                for source in lookup.sources:
                    table = self.catalog.tables.get(source.table)
                    found = table.column(column) if table else None
                    if table is not None and found is not None:
                        value = column_value(table, found, nullable_reason=source.nullable_reason)
                        break
            elif name == column:
                value = self.sg_value(item, lookup, definition.env, ctx, depth)
            if value is not None:
                break
        if value is None:
            return Value.unknown(f"the lookup has no column {column}")
        missing = self.row_missing(definition, ctx)
        return value.with_nullable(True, missing) if missing else value

    def sg_value(self, node: Any, lookup: Lookup, env: _Env, ctx: RowContext, depth: int) -> Value:
        if isinstance(node, exp.Alias):
            return self.sg_value(node.this, lookup, env, ctx, depth)
        if isinstance(node, exp.Column):
            alias, column = column_parts(node)
            if alias in {"new", "old"}:
                return self.record_field(alias, column, ctx)
            if (
                alias is None
                and column in self.variables
                and not any(
                    (t := self.catalog.tables.get(s.table)) is not None and t.column(column) is not None
                    for s in lookup.sources
                )
            ):
                return self.variable(column, env, ctx, depth)
            for source in lookup.sources:
                if alias is not None and source.alias != alias:
                    continue
                table = self.catalog.tables.get(source.table)
                found = table.column(column) if table else None
                if table is not None and found is not None:
                    return column_value(table, found, nullable_reason=source.nullable_reason)
            return Value.unknown(f"{node.sql(dialect='postgres')} not found in the lookup's tables")
        if isinstance(node, exp.Cast):
            inner = self.sg_value(node.this, lookup, env, ctx, depth)
            type_name, modifiers = normalize_sqlglot_type(node.to)
            return _cast_value(inner, type_name, modifiers)
        if isinstance(node, exp.Coalesce):
            args = [node.this, *node.expressions]
            return _coalesce([self.sg_value(arg, lookup, env, ctx, depth) for arg in args])
        if isinstance(node, exp.Literal):
            return Value.literal(str(node.this)) if node.is_string else Value.number(str(node.this), "numeric")
        if isinstance(node, exp.Null):
            return Value.null("NULL literal")
        if isinstance(node, exp.Boolean):
            return Value.of_type("boolean", nullable=False)
        if isinstance(node, exp.Count):
            return Value.of_type("bigint", nullable=False)
        if isinstance(node, exp.Sum | exp.Avg | exp.Max | exp.Min):
            inner = self.sg_value(node.this, lookup, env, ctx, depth)
            if isinstance(node, exp.Sum | exp.Avg) and inner.sql_type not in {"numeric", "real", "double precision"}:
                kind = "numeric" if inner.sql_type in {"bigint", "numeric"} or isinstance(node, exp.Avg) else "bigint"
                inner = Value.of_type(kind, sources=inner.sources)
            elif isinstance(node, exp.Sum | exp.Avg):
                inner = Value.of_type(inner.sql_type, sources=inner.sources)
            return inner.with_nullable(True, f"{node.key.upper()}() over no rows is NULL")
        inner_values = [self.sg_value(column, lookup, env, ctx, depth) for column in node.find_all(exp.Column)]
        return Value.unknown(f"{node.sql(dialect='postgres')} not traced", sources=_sources(inner_values))

    # casts, calls, operators ----------------------------------------------------------

    def _cast(self, node: ast.TypeCast, env: _Env, ctx: RowContext, depth: int) -> Value:
        inner = self.value(node.arg, env, ctx, depth)
        if node.typeName is None:
            return inner
        type_name, modifiers = _type_name(node.typeName)
        return _cast_value(inner, type_name, modifiers)

    def _call(self, node: ast.FuncCall, env: _Env, ctx: RowContext, depth: int) -> Value:
        name = _func_name(node)
        args = list(node.args or ())
        if name in _NOW_FUNCTIONS:
            return Value.of_type("timestamptz", nullable=False)
        if name in {"gen_random_uuid", "uuid_generate_v4"}:
            return Value.of_type("uuid", nullable=False)
        if name in {"concat", "concat_ws"}:
            values = [self.value(arg, env, ctx, depth).as_text() for arg in args]
            if name == "concat_ws" and values:
                separator, values = values[0], values[1:]
                joins = max(len(values) - 1, 0)
                values = values + [separator] * joins
            return _concat(values, nullable=False)
        if name in _JSON_BUILDERS:
            fields = self.object_fields(node, env, ctx, depth, None)
            return (
                _object_value(fields, _JSON_BUILDERS[name])
                if fields is not None
                else Value.unknown(f"{name} with computed keys")
            )
        if name in _ROW_BUILDERS and len(args) == 1:
            inner = self.value(args[0], env, ctx, depth)
            fmt = _ROW_BUILDERS[name]
            if inner.fields is not None:
                return _object_value(inner.fields, fmt, inner)
            return inner
        if name in {"lower", "upper", "btrim", "trim", "ltrim", "rtrim", "initcap"} and args:
            return self.value(args[0], env, ctx, depth).as_text()
        if name in {"length", "char_length", "octet_length"}:
            inner = self.value(args[0], env, ctx, depth) if args else Value.unknown("?")
            return Value.of_type("integer", nullable=inner.nullable, sources=inner.sources)
        if name == "nullif" and args:
            inner = self.value(args[0], env, ctx, depth)
            return inner.with_nullable(True, "NULLIF can return NULL")
        if name in {"greatest", "least"}:
            return merge_values([self.value(arg, env, ctx, depth) for arg in args])
        values = [self.value(arg, env, ctx, depth) for arg in args]
        function = self.catalog.functions.get(name)
        if function is not None and function.returns not in {"void", "trigger", "record", "unknown"}:
            return Value.unknown(f"result of {name}()", sources=_sources(values), sql_type=function.returns)
        return Value.unknown(f"result of {name}() not traced", sources=_sources(values))

    def object_fields(
        self, call: ast.FuncCall, env: _Env, ctx: RowContext, depth: int, expr: _Expr | None
    ) -> list[PayloadField] | None:
        args = list(call.args or ())
        if len(args) % 2:
            return None
        texts = arg_texts(expr.query, call.location) if expr is not None and call.location is not None else None
        if texts is not None and len(texts) != len(args):
            texts = None
        fields = []
        for index in range(0, len(args), 2):
            key = _string_const(args[index])
            if key is None:
                key_value = self.value(args[index], env, ctx, depth)
                if key_value.values is not None and len(key_value.values) == 1 and not key_value.nullable:
                    key = key_value.values[0]
                else:
                    return None
            value = self.value(args[index + 1], env, ctx, depth)
            text = texts[index + 1] if texts else _render(args[index + 1])
            fields.append(_field(key, text, value))
        return fields

    def _operator(self, node: ast.A_Expr, env: _Env, ctx: RowContext, depth: int) -> Value:
        names = [n.sval for n in node.name or () if isinstance(n, ast.String)]
        operator = names[-1] if names else ""
        left = self.value(node.lexpr, env, ctx, depth) if node.lexpr is not None else None
        right = self.value(node.rexpr, env, ctx, depth) if isinstance(node.rexpr, ast.Node) else None
        operands = [v for v in (left, right) if v is not None]
        sources = _sources(operands)
        if node.kind in (A_Expr_Kind.AEXPR_DISTINCT, A_Expr_Kind.AEXPR_NOT_DISTINCT):
            return Value.of_type("boolean", nullable=False, sources=sources)
        if node.kind == A_Expr_Kind.AEXPR_NULLIF and left is not None:
            return left.with_nullable(True, "NULLIF can return NULL")
        if node.kind != A_Expr_Kind.AEXPR_OP:
            return Value.of_type("boolean", nullable=any(v.nullable for v in operands), sources=sources)
        if operator == "||" and left is not None and right is not None:
            if left.fields is not None and right.fields is not None:
                keys = {f.key for f in right.fields}
                fields = [f for f in left.fields if f.key not in keys] + list(right.fields)
                merged = _object_value(fields, "jsonb")
                return merged.with_nullable(left.nullable or right.nullable, "an operand of || can be NULL")
            return _concat([left.as_text(), right.as_text()], nullable=left.nullable or right.nullable)
        if operator in {"=", "<>", "!=", "<", ">", "<=", ">=", "~~", "!~~", "~", "~*"}:
            return Value.of_type("boolean", nullable=any(v.nullable for v in operands), sources=sources)
        if operator in {"+", "-", "*", "/", "%"}:
            types = {v.sql_type for v in operands}
            nullable = any(v.nullable for v in operands)
            if types <= {"integer", "smallint"}:
                return Value.of_type("integer", nullable=nullable, sources=sources)
            if types <= {"integer", "smallint", "bigint"}:
                return Value.of_type("bigint", nullable=nullable, sources=sources)
            if types & {"timestamptz"}:
                return Value.of_type("timestamptz", nullable=nullable, sources=sources)
            return Value.of_type("numeric", nullable=nullable, sources=sources)
        if operator in {"->>", "#>>"}:
            return Value.unknown("a JSON field's text is not traced", sources=sources, sql_type="text")
        return Value.unknown(f"operator {operator} not traced", sources=sources)

    # templates and payloads -------------------------------------------------------------

    def template(self, node: Any, expr: _Expr, env: _Env, contexts: list[RowContext], line: int) -> Template:
        parts: list[Any] = []
        self._template_parts(node, env, parts, line, depth=0, query=expr.query)
        result: list[str | Hole] = []
        for part, part_env in parts:
            if isinstance(part, str):
                piece: str | Hole = part
            else:
                values = [self.value(part, part_env, ctx) for ctx in contexts or [RowContext(None, None, None)]]
                value = merge_values(values)
                if value.values is not None and len(value.values) == 1 and not value.nullable:
                    piece = value.values[0]
                elif value.is_null:
                    piece = ""
                else:
                    piece = Hole(
                        expression_sql=self._texts.get(id(part)) or _render(part),
                        sources=value.sources,
                        sql_type=value.sql_type,
                        nullable=value.nullable,
                        max_bytes=value.text_bytes,
                    )
            if isinstance(piece, str) and result and isinstance(result[-1], str):
                result[-1] += piece
            elif piece != "":
                result.append(piece)
        return Template(tuple(result))

    def _template_parts(self, node: Any, env: _Env, out: list[Any], line: int, *, depth: int, query: str) -> None:
        if depth > _MAX_DEPTH:
            out.append((node, env))
            return
        constant = _string_const(node)
        if constant is not None:
            out.append((constant, env))
            return
        if isinstance(node, ast.FuncCall) and _func_name(node) == "concat":
            self.remember_texts(node, query)
            for arg in node.args or ():
                if isinstance(arg, ast.A_Const) and arg.isnull:
                    continue
                self._template_parts(arg, env, out, line, depth=depth + 1, query=query)
            return
        if isinstance(node, ast.A_Expr) and node.kind == A_Expr_Kind.AEXPR_OP:
            names = [n.sval for n in node.name or () if isinstance(n, ast.String)]
            if names and names[-1] == "||" and node.lexpr is not None and isinstance(node.rexpr, ast.Node):
                self._template_parts(node.lexpr, env, out, line, depth=depth + 1, query=query)
                self._template_parts(node.rexpr, env, out, line, depth=depth + 1, query=query)
                return
        if isinstance(node, ast.TypeCast) and node.typeName is not None:
            type_name, _ = _type_name(node.typeName)
            if type_name in _STRING_TYPES and _string_const(node.arg) is not None:
                self._template_parts(node.arg, env, out, line, depth=depth + 1, query=query)
                return
        if isinstance(node, ast.FuncCall) and _func_name(node) == "format":
            self.diagnose(
                "dynamic-channel",
                "channel built by format(): modelled as one opaque hole",
                line,
            )
        if isinstance(node, ast.ColumnRef):
            fields = [f.sval.lower() for f in node.fields or () if isinstance(f, ast.String) and f.sval]
            if len(fields) == 1 and fields[0] in self.variables:
                definitions = env.get(fields[0], ())
                if len(definitions) == 1 and isinstance(definitions[0], _DefExpr):
                    definition = definitions[0]
                    if definition.in_loop:
                        self.diagnose("loop-channel", f"channel variable {fields[0]} is built in a loop", line)
                    node = definition.expr.node
                    self._template_parts(node, definition.env, out, line, depth=depth + 1, query=definition.expr.query)
                    return
        out.append((node, env))

    def payload(
        self, node: Any, expr: _Expr, env: _Env, contexts: list[RowContext], line: int, *, depth: int = 0
    ) -> tuple[list[PayloadField] | None, str | None, str | None]:
        """(fields, builder, format) of a payload expression; fields None when not understood."""
        casts: list[str] = []
        while isinstance(node, ast.TypeCast) and node.typeName is not None:
            casts.append(_type_name(node.typeName)[0])
            node = node.arg
        ctxs = contexts or [RowContext(None, None, None)]
        target_format = "jsonb" if "jsonb" in casts else None
        if isinstance(node, ast.FuncCall):
            name = _func_name(node)
            if name in _JSON_BUILDERS:
                groups = [self.object_fields(node, env, ctx, 0, expr) for ctx in ctxs]
                if any(group is None for group in groups):
                    self.diagnose("dynamic-payload", f"{name} with keys computed at run time", line)
                    return None, name, None
                fields = merge_fields([group or [] for group in groups])
                return fields, name, target_format or _JSON_BUILDERS[name]
            if name in _ROW_BUILDERS and len(node.args or ()) == 1:
                values = [self.value(node.args[0], env, ctx) for ctx in ctxs]  # type: ignore[index]
                objects = [v for v in values if v.fields is not None]
                if objects:
                    fields = merge_fields([list(v.fields or ()) for v in objects])
                    if any(v.is_null for v in values):
                        # NEW/OLD is NULL under some operations: the whole payload is then 'null'
                        self.diagnose(
                            "null-payload",
                            f"{name}(…) is NULL under some trigger operations; the payload is then empty",
                            line,
                        )
                    return fields, name, target_format or _ROW_BUILDERS[name]
        if isinstance(node, ast.ColumnRef) and depth < _MAX_DEPTH:
            fields_names = [f.sval.lower() for f in node.fields or () if isinstance(f, ast.String) and f.sval]
            if len(fields_names) == 1 and fields_names[0] in self.variables:
                definitions = env.get(fields_names[0], ())
                if any(getattr(d, "in_loop", False) for d in definitions):
                    self.diagnose(
                        "loop-payload",
                        f"payload variable {fields_names[0]} is built in a loop: its keys are not known statically",
                        line,
                    )
                    return None, None, None
                if not any(isinstance(d, _DefExpr) for d in definitions):
                    self.diagnose(
                        "unknown-payload",
                        f"payload {fields_names[0]} is not a key/value object the analysis can read",
                        line,
                    )
                    return None, None, None
                results = [
                    self.payload(d.expr.node, d.expr, d.env, contexts, line, depth=depth + 1)
                    for d in definitions
                    if isinstance(d, _DefExpr)
                ]
                if len(results) == len(definitions) and results and all(r[0] is not None for r in results):
                    key_lists = [[f.key for f in r[0] or ()] for r in results]
                    if all(keys == key_lists[0] for keys in key_lists):
                        fields = merge_fields([r[0] or [] for r in results])
                        return fields, results[0][1], target_format or results[0][2]
                self.diagnose(
                    "dynamic-payload",
                    f"payload variable {fields_names[0]} has several possible shapes or an untraced one",
                    line,
                )
                return None, None, None
        if isinstance(node, ast.A_Expr) and depth < _MAX_DEPTH:
            names = [n.sval for n in node.name or () if isinstance(n, ast.String)]
            if names and names[-1] == "||" and node.lexpr is not None and isinstance(node.rexpr, ast.Node):
                left = self.payload(node.lexpr, expr, env, contexts, line, depth=depth + 1)
                right = self.payload(node.rexpr, expr, env, contexts, line, depth=depth + 1)
                if left[0] is not None and right[0] is not None:
                    keys = {f.key for f in right[0]}
                    return [f for f in left[0] if f.key not in keys] + right[0], "jsonb ||", "jsonb"
        constant = _string_const(node)
        if constant is not None:
            try:
                document = json.loads(constant)
            except ValueError:
                return [], "literal", None
            if isinstance(document, dict):
                fields = [_field(str(k), json.dumps(v), _json_literal_value(v)) for k, v in document.items()]
                return fields, "literal", "json"
            return [], "literal", None
        self.diagnose(
            "unknown-payload",
            f"payload {_render(node)} is not a key/value object the analysis can read",
            line,
        )
        return None, None, None

    # sites ------------------------------------------------------------------------------

    def sites(self) -> list[NotifySite]:
        found: list[tuple[int, int, NotifySite]] = []
        for order, draft in enumerate(self.drafts.values()):
            site = self.site(draft)
            if site is not None:
                found.append((site.location.line, order, site))
        found.sort(key=lambda item: (item[0], item[1]))
        return [site for _, _, site in found]

    def site(self, draft: _Draft) -> NotifySite | None:
        line = draft.expr.line_of(draft.call)
        contexts = self.contexts(draft.operations)
        tables = tuple(dict.fromkeys(t.table for t in self.triggers))
        operations = tuple(op for op in ALL_OPERATIONS if any(c.operation == op for c in contexts))
        guards = draft.guards
        event: Template | None = None
        private: bool | None = False
        payload: list[PayloadField] | None = None
        builder: str | None = None
        payload_format: str | None = None
        bound: dict[str, Any] = {}
        if draft.transport == "NOTIFY":
            notify = draft.notify
            channel = Template((notify.conditionname or "",))
            if notify.payload is not None:
                constant = ast.A_Const(val=ast.String(sval=notify.payload), isnull=False)
                payload, builder, payload_format = self.payload(constant, draft.expr, draft.env, contexts, line)
            else:
                payload, builder = [], None
        else:
            self.remember_texts(draft.call, draft.expr.query)
            args = list(draft.call.args or ())
            named = {a.name.lower(): a.arg for a in args if isinstance(a, ast.NamedArgExpr) and a.name}
            positional = [a for a in args if not isinstance(a, ast.NamedArgExpr)]
            if draft.transport == "pg_notify":
                parameters = ["channel", "payload"]
            elif draft.transport == "realtime.send":
                parameters = ["payload", "event", "topic", "private"]
            else:
                parameters = ["topic_name", "event_name", "operation", "table_name", "table_schema", "new", "old"]
            bound = dict(zip(parameters, positional, strict=False))
            bound.update(named)
            channel_node = bound.get("channel", bound.get("topic", bound.get("topic_name")))
            if channel_node is None:
                self.diagnose("unsupported-call", f"{draft.transport} call without a channel", line)
                return None
            channel = self.template(channel_node, draft.expr, draft.env, contexts, line)
            if draft.transport == "pg_notify":
                if "payload" in bound:
                    payload, builder, payload_format = self.payload(
                        bound["payload"], draft.expr, draft.env, contexts, line
                    )
                else:
                    payload = []
            elif draft.transport == "realtime.send":
                if "event" in bound:
                    event = self.template(bound["event"], draft.expr, draft.env, contexts, line)
                private = self._private(bound.get("private"), draft, contexts)
                if "payload" in bound:
                    payload, builder, payload_format = self.payload(
                        bound["payload"], draft.expr, draft.env, contexts, line
                    )
                    payload_format = "jsonb" if payload is not None else None
            else:
                private = True
                if "event_name" in bound:
                    event = self.template(bound["event_name"], draft.expr, draft.env, contexts, line)
                payload, builder, payload_format = self._broadcast_changes(bound, draft, contexts)
        size: int | None = None
        reason: str | None = None
        if builder == "literal":
            # A literal is sent as written: its own bytes, whatever its JSON spacing.
            literal = draft.notify.payload if draft.transport == "NOTIFY" else _literal(bound.get("payload"))
            size = len(literal.encode()) if literal is not None else None
            reason = None if size is not None else "payload is not a JSON object"
        elif payload is None:
            reason = "payload not understood"
        elif payload_format is not None:
            size = object_bytes(payload, payload_format)
            if size is None:
                unbounded = [f for f in payload if f.max_bytes is None]
                reason = "; ".join(f"{f.key}: {f.unbounded_reason or 'unbounded'}" for f in unbounded)
            untyped = [field for field in payload if field.sql_type is None]
            if untyped:
                keys = ", ".join(repr(field.key) for field in untyped)
                self.diagnose(
                    "untyped-field",
                    f"payload {'keys' if len(untyped) > 1 else 'key'} {keys}: type not understood "
                    f"({untyped[0].unbounded_reason or 'unknown'}); the schema accepts any JSON value there",
                    line,
                )
        elif not payload and builder is None:
            size = 0  # NOTIFY without a payload: an empty payload
        else:
            reason = "payload is not a JSON object"
        if draft.in_loop and not any("loop at line" in guard for guard in guards):
            guards = (*guards, "inside a loop")
        return NotifySite(
            function=self.function.name,
            transport=draft.transport,
            channel=channel,
            event=event,
            private=private,
            payload=tuple(payload) if payload is not None else None,
            payload_builder=builder,
            guards=guards,
            tables=tables,
            location=SourceLocation(self.function.location.path, line),
            operations=operations,
            payload_format=payload_format,
            max_payload_bytes=size,
            unbounded_reason=reason,
        )

    def _private(self, node: Any, draft: _Draft, contexts: list[RowContext]) -> bool | None:
        if node is None:
            return True  # realtime.send's default
        values = [self.value(node, draft.env, ctx) for ctx in contexts or [RowContext(None, None, None)]]
        merged = merge_values(values)
        if merged.values is not None and len(merged.values) == 1 and not merged.nullable:
            return merged.values[0] in {"true", "t"}
        return None

    def _broadcast_changes(
        self, bound: dict[str, Any], draft: _Draft, contexts: list[RowContext]
    ) -> tuple[list[PayloadField], str, str]:
        ctxs = contexts or [RowContext(None, None, None)]
        groups = []
        for ctx in ctxs:
            fields = []
            for key, parameter in (
                ("old_record", "old"),
                ("record", "new"),
                ("operation", "operation"),
                ("table", "table_name"),
                ("schema", "table_schema"),
            ):
                node = bound.get(parameter)
                value = self.value(node, draft.env, ctx) if node is not None else Value.null(f"{parameter} missing")
                if value.fields is not None:
                    value = _object_value(value.fields, "jsonb", value)
                fields.append(_field(key, _render(node) if node is not None else "NULL", value))
            groups.append(fields)
        return merge_fields(groups), "realtime.broadcast_changes", "jsonb"


_NO_VAR = _Variable("", None, (), None, False)


# -- value helpers -----------------------------------------------------------------------


def _literal(node: Any) -> str | None:
    while isinstance(node, ast.TypeCast):
        node = node.arg
    return _string_const(node)


def _sources(values: Sequence[Value]) -> tuple[ColumnRef, ...]:
    return unique_refs(ref for value in values for ref in value.sources)


def _type_name(type_name: ast.TypeName) -> tuple[str, tuple[int, ...]]:
    names = [n.sval for n in type_name.names or () if isinstance(n, ast.String) and n.sval]
    raw = names[-1] if names else "unknown"
    modifiers = tuple(
        m.val.ival or 0
        for m in type_name.typmods or ()
        if isinstance(m, ast.A_Const) and isinstance(m.val, ast.Integer)
    )
    normalized = normalize_type(raw)
    if type_name.arrayBounds:
        normalized += "[]"
    return normalized, modifiers


def _const_value(node: ast.A_Const) -> Value:
    if node.isnull or node.val is None:
        return Value.null("NULL literal")
    value = node.val
    if isinstance(value, ast.String):
        return Value.literal(value.sval or "")
    if isinstance(value, ast.Integer):
        return Value.number(str(value.ival or 0), "integer")
    if isinstance(value, ast.Float):
        return Value.number(str(value.fval), "numeric")
    if isinstance(value, ast.Boolean):
        text = "true" if value.boolval else "false"
        return attrs.evolve(Value.number(text, "boolean"), values=(text,))
    return Value.unknown("constant not understood")


def _coalesce(args: Sequence[Value]) -> Value:
    if not args:
        return Value.null("COALESCE()")
    used: list[Value] = []
    for arg in args:
        used.append(arg)
        if not arg.nullable:
            break
    merged = merge_values(used)
    nullable = all(arg.nullable for arg in used)
    return merged.with_nullable(nullable, "every COALESCE argument can be NULL")


def _concat(values: Sequence[Value], *, nullable: bool) -> Value:
    def total(items: Sequence[int | None]) -> int | None:
        if any(item is None for item in items):
            return None
        return sum(item or 0 for item in items)

    text_bytes = total([v.text_bytes for v in values])
    chars = total([v.text_chars for v in values])
    literal: tuple[str, ...] | None = None
    if all(v.values is not None and len(v.values) == 1 for v in values):
        literal = ("".join((v.values or ("",))[0] for v in values),)
    safe_json = total([None if v.text_json_bytes is None else v.text_json_bytes - 2 for v in values])
    text_json = None if safe_json is None else safe_json + 2
    reason = next((v.unbounded_reason for v in values if v.text_bytes is None), None)
    return Value(
        sources=_sources(values),
        sql_type="text",
        nullable=nullable,
        nullable_reason=next((v.nullable_reason for v in values if v.nullable), None) if nullable else None,
        values=literal,
        text_bytes=text_bytes,
        text_chars=chars,
        text_json_bytes=text_json,
        json_bytes=text_json,
        unbounded_reason=reason,
    )


def _cast_value(inner: Value, type_name: str, modifiers: tuple[int, ...]) -> Value:
    if inner.is_null:
        return attrs.evolve(inner, sql_type=type_name)
    if type_name in _STRING_TYPES:
        text = inner.as_text(type_name)
        if modifiers and type_name in {"varchar", "char"}:
            bound = Value.of_type(type_name, modifiers)
            if text.text_chars is None or text.text_chars > modifiers[0]:
                text = attrs.evolve(
                    text,
                    text_bytes=bound.text_bytes,
                    text_chars=bound.text_chars,
                    text_json_bytes=bound.text_json_bytes,
                    json_bytes=bound.json_bytes,
                    unbounded_reason=None,
                )
        return attrs.evolve(text, modifiers=modifiers)
    if type_name in {"json", "jsonb"}:
        if inner.fields is not None:
            return _object_value(inner.fields, type_name, inner)
        return attrs.evolve(inner, sql_type=type_name)
    if inner.sql_type == type_name:
        return inner
    cast = Value.of_type(type_name, modifiers, nullable=inner.nullable, sources=inner.sources)
    return attrs.evolve(cast, nullable_reason=inner.nullable_reason)


def _coerce(value: Value, variable: _Variable) -> Value:
    """A value stored into a variable of the declared type."""
    if variable.type_name is None or variable.is_record or value.is_null:
        return value
    if value.fields is not None and variable.type_name in {"json", "jsonb"}:
        return _object_value(value.fields, variable.type_name, value)
    if variable.type_name == value.sql_type and (not variable.modifiers or variable.modifiers == value.modifiers):
        return value
    return _cast_value(value, variable.type_name, variable.modifiers)


def _object_value(fields: Sequence[PayloadField], json_format: str, like: Value | None = None) -> Value:
    size = object_bytes(fields, json_format)
    return Value(
        sources=unique_refs(ref for f in fields for ref in f.sources),
        sql_type=json_format,
        nullable=like.nullable if like is not None else False,
        nullable_reason=like.nullable_reason if like is not None else None,
        text_bytes=size,
        text_chars=size,
        text_json_bytes=None,
        json_bytes=size,
        unbounded_reason=None if size is not None else "an object field is unbounded",
        fields=tuple(fields),
        json_format=json_format,
    )


def _sql_value_function(node: ast.SQLValueFunction) -> Value:
    op = node.op
    if op in (SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP, SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP_N):
        return Value.of_type("timestamptz", nullable=False)
    if op in (SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP, SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP_N):
        return Value.of_type("timestamp", nullable=False)
    if op == SQLValueFunctionOp.SVFOP_CURRENT_DATE:
        return Value.of_type("date", nullable=False)
    if op in (SQLValueFunctionOp.SVFOP_CURRENT_TIME, SQLValueFunctionOp.SVFOP_CURRENT_TIME_N):
        return Value.of_type("timetz", nullable=False)
    if op in (SQLValueFunctionOp.SVFOP_LOCALTIME, SQLValueFunctionOp.SVFOP_LOCALTIME_N):
        return Value.of_type("time", nullable=False)
    return Value.of_type("name", nullable=False)


def _json_literal_value(value: Any) -> Value:
    if value is None:
        return Value.null("null in a JSON literal")
    if isinstance(value, bool):
        text = "true" if value else "false"
        return attrs.evolve(Value.number(text, "boolean"), values=(text,))
    if isinstance(value, int | float):
        return Value.number(json.dumps(value), "numeric")
    if isinstance(value, str):
        return Value.literal(value)
    text = json.dumps(value, ensure_ascii=False)
    return attrs.evolve(Value.number(text, "jsonb"), json_bytes=len(text.encode()), values=None)


def _field(key: str, expression_sql: str, value: Value) -> PayloadField:
    max_bytes = value.json_size
    return PayloadField(
        key=key,
        expression_sql=expression_sql,
        sources=value.sources,
        sql_type=value.sql_type,
        nullable=value.nullable,
        max_bytes=max_bytes,
        nullable_reason=value.nullable_reason if value.nullable else None,
        unbounded_reason=(value.unbounded_reason or "unbounded") if max_bytes is None else None,
        values=value.values,
    )


def _flatten_and(condition: Any) -> list[Any]:
    if condition is None:
        return []
    return list(condition.flatten()) if isinstance(condition, exp.And) else [condition]


def _tg_op_sets(node: Any) -> tuple[frozenset[str], frozenset[str]]:
    """Operations under which a condition can be true, and under which it can be false."""
    everything = frozenset(ALL_OPERATIONS)
    if node is None:
        return everything, everything
    if isinstance(node, ast.BoolExpr):
        parts = [_tg_op_sets(arg) for arg in node.args or ()]
        if node.boolop == BoolExprType.NOT_EXPR and parts:
            return parts[0][1], parts[0][0]
        if node.boolop == BoolExprType.AND_EXPR:
            true = everything
            false: frozenset[str] = frozenset()
            for t, f in parts:
                true &= t
                false |= f
            return true, false
        if node.boolop == BoolExprType.OR_EXPR:
            true = frozenset()
            false = everything
            for t, f in parts:
                true |= t
                false &= f
            return true, false
    if isinstance(node, ast.A_Expr) and _is_tg_op(node.lexpr):
        names = [n.sval for n in node.name or () if isinstance(n, ast.String)]
        operator = names[-1] if names else ""
        if node.kind == A_Expr_Kind.AEXPR_OP and operator in {"=", "<>", "!="}:
            value = _string_const(node.rexpr)
            if value is not None:
                matched = frozenset({value.upper()}) & everything
                if operator == "=":
                    return matched, everything - matched
                return everything - matched, matched
        if node.kind == A_Expr_Kind.AEXPR_IN and isinstance(node.rexpr, tuple | list):
            values = [_string_const(item) for item in node.rexpr]
            if all(v is not None for v in values):
                matched = frozenset(v.upper() for v in values if v is not None) & everything
                if operator == "=":
                    return matched, everything - matched
                return everything - matched, matched
    return everything, everything


def _null_facts(node: Any) -> tuple[_Facts, _Facts]:
    """What a condition tells when true and when false: ``x IS [NOT] NULL``, ``[NOT] FOUND``."""
    nothing = _Facts()
    if isinstance(node, ast.NullTest) and isinstance(node.arg, ast.ColumnRef):
        fields = [f.sval.lower() for f in node.arg.fields or () if isinstance(f, ast.String) and f.sval]
        if len(fields) == 1:
            fact = _Facts(not_null=frozenset(fields))
            if node.nulltesttype == NullTestType.IS_NOT_NULL:
                return fact, nothing
            return nothing, fact
    if isinstance(node, ast.ColumnRef):
        fields = [f.sval.lower() for f in node.fields or () if isinstance(f, ast.String) and f.sval]
        if fields == ["found"]:
            return _Facts(found=True), nothing
    if isinstance(node, ast.BoolExpr):
        parts = [_null_facts(arg) for arg in node.args or ()]
        if node.boolop == BoolExprType.NOT_EXPR and parts:
            return parts[0][1], parts[0][0]
        if node.boolop == BoolExprType.AND_EXPR:
            true = nothing
            for part_true, _ in parts:
                true = true | part_true
            return true, nothing
        if node.boolop == BoolExprType.OR_EXPR:
            false = nothing
            for _, part_false in parts:
                false = false | part_false
            return nothing, false
    return nothing, nothing


def _is_tg_op(node: Any) -> bool:
    return (
        isinstance(node, ast.ColumnRef)
        and len(node.fields or ()) == 1
        and isinstance(node.fields[0], ast.String)  # type: ignore[index]
        and (node.fields[0].sval or "").lower() == "tg_op"  # type: ignore[index]
    )


# -- the catalog ---------------------------------------------------------------------------


def analyze_catalog(catalog: Catalog) -> tuple[NotifySite, ...]:
    """Every notify site of every function, in file order; appends to ``catalog.diagnostics``."""
    sites: list[NotifySite] = []
    calls: dict[str, set[str]] = {}
    writes: dict[str, set[str]] = {}
    for function in sorted(catalog.functions.values(), key=lambda f: (f.location.path, f.location.line)):
        if function.name in {"realtime.send", "realtime.broadcast_changes"}:
            continue
        analysis = _FunctionAnalysis(catalog, function, catalog.diagnostics)
        try:
            analysis.run()
            found = analysis.sites()
        except InputError:
            raise
        except Exception as error:  # a bug here must not hide the rest of the report
            catalog.diagnostics.append(
                Diagnostic(
                    "analysis-error",
                    f"function {function.name} could not be analysed ({type(error).__name__}: {error})",
                    function.location,
                    function.name,
                )
            )
            continue
        calls[function.name] = analysis.calls
        writes[function.name] = analysis.writes
        sites.extend(found)
    order = {path: index for index, path in enumerate(catalog.paths)}
    catalog.diagnostics.sort(key=lambda d: (order.get(d.location.path, len(order)), d.location.path, d.location.line))
    catalog.calls = {name: tuple(sorted(found)) for name, found in calls.items() if found}
    catalog.writes = {name: tuple(sorted(found)) for name, found in writes.items() if found}
    return tuple(_with_reaching_tables(sites, calls, writes, catalog))


def _with_reaching_tables(
    sites: list[NotifySite], calls: dict[str, set[str]], writes: dict[str, set[str]], catalog: Catalog
) -> list[NotifySite]:
    """Add the tables that reach a site indirectly.

    A helper function is reached from the tables whose trigger functions call it; a trigger
    function is reached from the tables whose trigger functions write into its table
    (cascading triggers).
    """
    reach: dict[str, set[str]] = {name: {t.table for t in catalog.triggers_for(name)} for name in catalog.functions}
    changed = True
    while changed:
        changed = False
        for name in sorted(reach):
            targets = set(calls.get(name, ()))
            for table in writes.get(name, ()):
                targets.update(t.function for t in catalog.triggers_on(table))
            for target in sorted(targets):
                if target in reach and not reach[name] <= reach[target]:
                    reach[target] |= reach[name]
                    changed = True
    result = []
    for site in sites:
        extra = sorted(reach.get(site.function, set()) - set(site.tables))
        result.append(attrs.evolve(site, tables=(*site.tables, *extra)) if extra else site)
    return result
