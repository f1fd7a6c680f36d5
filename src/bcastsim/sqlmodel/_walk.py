"""The walk over a PL/pgSQL body: declarations, control flow, SELECT … INTO, notify calls found."""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from typing import Any

import attrs
import pglast
from pglast import ast
from pglast.enums import SetOperation

from bcastsim.sqlmodel._cfg import LOOP_STATEMENTS
from bcastsim.sqlmodel._datums import TRIGGER_DATUMS
from bcastsim.sqlmodel._flow import (
    FOUND,
    NO_VAR,
    SCOPE,
    UNREACHABLE,
    DefExpr,
    DefLookup,
    DefNotNull,
    DefNull,
    DefUnknown,
    DefValue,
    Draft,
    Env,
    Facts,
    Scope,
    Variable,
    join_scopes,
    merge_envs,
    null_facts,
    scope_after,
    tg_op_sets,
)
from bcastsim.sqlmodel._function import FunctionContext
from bcastsim.sqlmodel._lineage import (
    Lookup,
    Value,
    parse_lookup,
)
from bcastsim.sqlmodel._pgnodes import (
    ALL_OPERATIONS,
    TRANSPORTS,
    Expr,
    func_name,
    iter_branch_nodes,
    iter_nodes,
    one_line,
)
from bcastsim.sqlmodel._typenames import normalize_type

_ERROR_LEVEL = 21  # elog.h ERROR: RAISE EXCEPTION (the default level) ends the function


def _trigger_variable(datum: dict[str, Any]) -> tuple[str, Variable | None, str | None]:
    """What :meth:`Walker.load_datums` makes of one of the trigger variables every trigger function declares.

    (name, variable, reason of its unknown value): ``NEW`` and ``OLD`` are records read through
    the trigger's table, the ``TG_`` variables are set by PL/pgSQL when it is called, ``FOUND``
    by the statements. Worked out once: they are shared by every function's tree (``_datums``).
    """
    kind, body = next(iter(datum.items()))
    name = str(body.get("refname", "")).lower()
    if kind != "PLpgSQL_var" or "default_val" in body or "lineno" in body:
        raise AssertionError(f"not a trigger variable: {datum}")  # pragma: no cover - _datums lists them
    typname = str(body.get("datatype", {}).get("PLpgSQL_type", {}).get("typname", ""))
    variable = Variable(name, normalize_type(typname) if typname else None, (), None, False)
    return name, variable, "FOUND" if name == "found" else "trigger variable"


_TRIGGER_VARIABLES: dict[int, tuple[str, Variable | None, str | None]] = {
    id(datum): (
        (str(next(iter(datum.values())).get("refname", "")).lower(), None, None)
        if "PLpgSQL_rec" in datum
        else _trigger_variable(datum)
    )
    for datum in TRIGGER_DATUMS
}


# The trigger variables come first in every trigger function's datums, the same objects each time
# (``_datums``): the variables and unknown values they give are read off them once, here.
_SHARED_VARIABLES: dict[str, Variable] = {}
_SHARED_REASONS: dict[str, str] = {}
for _name, _variable, _reason in (_TRIGGER_VARIABLES[id(datum)] for datum in TRIGGER_DATUMS):
    if _variable is not None:
        _SHARED_VARIABLES[_name] = _variable
    if _reason is not None:
        _SHARED_REASONS[_name] = _reason
del _name, _variable, _reason


def _starts_with_trigger_datums(datums: list[dict[str, Any]]) -> bool:
    return len(datums) >= len(TRIGGER_DATUMS) and all(map(operator.is_, datums, TRIGGER_DATUMS))


class Walker(FunctionContext):
    """The flow-aware walk over the PL/pgSQL tree that records notify calls as drafts."""

    # variables --------------------------------------------------------------------------

    def load_datums(self) -> Env:
        plpgsql = self.function.plpgsql or {}
        datums = plpgsql.get("datums")
        self.datums = [d for d in datums if isinstance(d, dict)] if isinstance(datums, list) else []
        env: Env = {}
        own = self.datums
        if _starts_with_trigger_datums(self.datums):
            self.variables.update(_SHARED_VARIABLES)
            # A definition is compared by identity: each function gets its own.
            env.update({name: (DefUnknown(reason),) for name, reason in _SHARED_REASONS.items()})
            own = self.datums[len(TRIGGER_DATUMS) :]
        for datum in own:
            shared = _TRIGGER_VARIABLES.get(id(datum))
            if shared is not None:
                name, variable, reason = shared
                if variable is not None:
                    self.variables[name] = variable
                if reason is not None:
                    env[name] = (DefUnknown(reason),)
                continue
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
                    env[name] = (DefExpr(expr, {}, False),) if expr else (DefUnknown("default not understood"),)
                elif name in {"found"}:
                    env[name] = (DefUnknown("FOUND"),)
                elif body.get("promise"):
                    env[name] = (DefUnknown("trigger variable"),)
                else:
                    env[name] = (DefNull(f"{name} is never assigned"),)
            elif kind == "PLpgSQL_rec" and name not in {"new", "old"}:
                self.variables[name] = Variable(name, "record", (), None, True)
                env[name] = (DefNull(f"record {name} is never assigned"),)
        for index, parameter in enumerate(self.function.parameters, start=1):
            type_name = normalize_type(parameter.type_name)
            for name in filter(None, (parameter.name, f"${index}")):
                self.variables[name.lower()] = Variable(name.lower(), type_name, (), None, type_name == "record")
                env[name.lower()] = (DefUnknown(f"parameter {parameter.name or index}"),)
        return env

    def _declared(self, name: str, typname: str, lineno: Any) -> Variable:
        lowered = typname.lower()
        if lowered.endswith("%rowtype"):
            return Variable(name, "record", (), lowered.removesuffix("%rowtype"), True)
        if lowered.endswith("%type"):
            table_name, _, column_name = lowered.removesuffix("%type").rpartition(".")
            table = self.catalog.tables.get(table_name)
            column = table.column(column_name) if table else None
            if column is not None:
                return Variable(name, column.type_name, column.type_modifiers, None, False)
            return Variable(name, None, (), None, False)
        modifiers: tuple[int, ...] = ()
        # The PL/pgSQL tree drops type modifiers (varchar(32) → varchar): read them back
        # from the declaration line (trigger variables, declared by PL/pgSQL itself, have none).
        body_lines = self._body_lines() if isinstance(lineno, int) and lineno >= 1 else ()
        # (Only a line with a parenthesis can hold one: most declarations compile no pattern.)
        if isinstance(lineno, int) and 1 <= lineno <= len(body_lines) and "(" in body_lines[lineno - 1]:
            pattern = rf"\b{re.escape(name)}\s+(?:constant\s+)?[\w\s.\"]+?\(\s*(\d+)\s*(?:,\s*(-?\d+)\s*)?\)"
            match = re.search(pattern, body_lines[lineno - 1], flags=re.IGNORECASE)
            if match:
                modifiers = tuple(int(g) for g in match.groups() if g is not None)
        type_name = normalize_type(typname) if typname else None
        if type_name == "record":
            return Variable(name, "record", (), None, True)
        return Variable(name, type_name, modifiers, None, False)

    def _body_lines(self) -> list[str]:
        if self._split_body is None:
            self._split_body = self.function.body.split("\n")
        return self._split_body

    # walking ----------------------------------------------------------------------------

    def run(self) -> None:
        env = self.load_datums()
        if self.function.plpgsql is not None:
            action = self.function.plpgsql.get("action")
            if isinstance(action, dict):
                self.walk([action], env, Scope(frozenset(ALL_OPERATIONS), (), False))
        elif self.function.language == "sql":
            self._walk_sql_body(env)

    def _walk_sql_body(self, env: Env) -> None:
        try:
            statements = pglast.parse_sql(self.function.body)
        except Exception:
            return  # an SQL body PostgreSQL accepts may still use syntax pglast does not
        scope = Scope(frozenset(ALL_OPERATIONS), (), False)
        for raw in statements:
            start = raw.stmt_location or 0
            if isinstance(raw.stmt, ast.NotifyStmt):
                text = self.function.body[start:]
                first = start + len(text) - len(re.sub(r"^(?:\s+|--[^\n]*)*", "", text))
                line = self.function.body_location.line + self.function.body.count("\n", 0, first)
                notify = Expr(raw.stmt, "", line)
                self.drafts[(id(raw), 0)] = Draft(
                    raw.stmt, notify, env, scope.operations, (), False, "NOTIFY", raw.stmt
                )
                continue
            line = self.function.body_location.line + self.function.body.count("\n", 0, start)
            expr = Expr(raw.stmt, self.function.body, self.function.body_location.line)
            self.scan(expr, env, scope, line)

    def walk(self, statements: Sequence[Any], env: Env, scope: Scope) -> Env:
        for index, statement in enumerate(statements):
            if not isinstance(statement, dict) or not statement:
                continue
            kind, body = next(iter(statement.items()))
            if isinstance(body, dict):
                env = self.statement(kind, body, env, scope)
            if SCOPE in env:
                scope = scope_after(env, scope)
                env = {name: defs for name, defs in env.items() if name != SCOPE}
            if UNREACHABLE in env:
                rest = [next(iter(s.values())) for s in statements[index + 1 :] if isinstance(s, dict) and s]
                if rest and isinstance(rest[0], dict):
                    self.diagnose(
                        "unreachable",
                        "statements after RETURN, RAISE EXCEPTION or EXIT never run: notify calls there are not sites",
                        self.file_line(rest[0].get("lineno")),
                    )
                break
        if UNREACHABLE not in env:
            env = {**env, SCOPE: (scope,)}
        return env

    def _expr_of(self, body: dict[str, Any], key: str, mode: int, line: int) -> Expr | None:
        value = body.get(key)
        if isinstance(value, dict) and "PLpgSQL_expr" in value:
            query = value["PLpgSQL_expr"].get("query")
            if isinstance(query, str):
                return self.parse(query, mode, line)
        return None

    def statement(self, kind: str, body: dict[str, Any], env: Env, scope: Scope) -> Env:
        in_loop = scope.in_loop
        line = self.file_line(body.get("lineno"))
        if kind == "PLpgSQL_stmt_block":
            inner = self.walk(body.get("body") or [], env, scope)
            exceptions = body.get("exceptions")
            if isinstance(exceptions, dict):
                outs = [inner]
                handler_env = merge_envs([env, inner])
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
                return merge_envs(outs)
            return inner
        if kind == "PLpgSQL_stmt_if":
            return self._if(body, env, scope, line)
        if kind == "PLpgSQL_stmt_case":
            return self._case(body, env, scope, line)
        if kind in LOOP_STATEMENTS:
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
                return {**env, target: (DefUnknown("assignment not understood", in_loop),)}
            if "." in target or target not in self.variables:
                return env
            return {**env, target: (DefExpr(expr, env, in_loop),)}
        if kind in {"PLpgSQL_stmt_perform", "PLpgSQL_stmt_call"}:
            expr = self._expr_of(body, "expr", 0, line)
            if expr is not None:
                self.scan(expr, env, scope, line)
            return {**env, FOUND: ()} if kind == "PLpgSQL_stmt_perform" else env
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
                return {UNREACHABLE: ()}
            return env
        if kind == "PLpgSQL_stmt_exit":
            if body.get("cond") is None:
                return {UNREACHABLE: ()}
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

    def _assign_unknown(self, body: dict[str, Any], env: Env, what: str, in_loop: bool) -> Env:
        targets = self._targets(body)
        if not targets:
            return env
        return {**env, **{name: (DefUnknown(f"set by {what}", in_loop),) for name in targets}}

    def _condition(
        self, body: dict[str, Any], key: str, line: int, case_expression: str | None = None
    ) -> tuple[str, Expr | None]:
        value = body.get(key)
        query = ""
        if isinstance(value, dict) and "PLpgSQL_expr" in value:
            query = str(value["PLpgSQL_expr"].get("query", ""))
        if case_expression is not None:
            # PL/pgSQL rewrites `CASE x WHEN v` as `"__Case__Variable_N__" IN (v)`: put x back.
            query = re.sub(r'"__Case__Variable_\d+__"', lambda _: f"({case_expression})", query)
        return one_line(query), (self.parse(query, 2, line) if query else None)

    def _if(self, body: dict[str, Any], env: Env, scope: Scope, line: int) -> Env:
        operations, guards, in_loop = scope.operations, scope.guards, scope.in_loop
        text, cond = self._condition(body, "cond", line)
        if cond is not None:
            self.scan(cond, env, scope, line)
        true_ops, false_ops = tg_op_sets(cond.node if cond else None)
        when_true, when_false = null_facts(cond.node if cond else None)
        then_env = self.refine(env, when_true)
        then_scope = Scope(operations & true_ops, (*guards, text), in_loop)
        outs = [self.walk(body.get("then_body") or [], then_env, then_scope)]
        starts = [then_scope]
        remaining = operations & false_ops
        known = when_false
        negated = [f"NOT ({text})"]
        for item in body.get("elsif_list") or []:
            elsif = item.get("PLpgSQL_if_elsif", {}) if isinstance(item, dict) else {}
            elsif_line = self.file_line(elsif.get("lineno"))
            elsif_text, elsif_cond = self._condition(elsif, "cond", elsif_line)
            true_ops, false_ops = tg_op_sets(elsif_cond.node if elsif_cond else None)
            when_true, when_false = null_facts(elsif_cond.node if elsif_cond else None)
            elsif_scope = Scope(remaining & true_ops, (*guards, *negated, elsif_text), in_loop)
            outs.append(self.walk(elsif.get("stmts") or [], self.refine(env, known | when_true), elsif_scope))
            starts.append(elsif_scope)
            remaining = remaining & false_ops
            known = known | when_false
            negated.append(f"NOT ({elsif_text})")
        else_env = self.refine(env, known)
        else_scope = Scope(remaining, (*guards, *negated), in_loop)
        if body.get("else_body"):
            outs.append(self.walk(body["else_body"], else_env, else_scope))
        else:
            outs.append(else_env)
        starts.append(else_scope)
        return self._joined(outs, starts, scope)

    def _joined(self, outs: list[Env], starts: list[Scope], scope: Scope) -> Env:
        merged = merge_envs(outs)
        if UNREACHABLE in merged:
            return merged
        return {**merged, SCOPE: (join_scopes(scope, list(zip(outs, starts, strict=True))),)}

    def refine(self, env: Env, facts: Facts) -> Env:
        """The environment on a path where ``facts`` hold."""
        if not facts.not_null and not facts.found:
            return env
        refined = dict(env)
        if facts.found and env.get(FOUND):
            # FOUND after SELECT … INTO: the lookup found its row, as if it were STRICT.
            strict = {id(d): attrs.evolve(d, strict=True) for d in env[FOUND]}
            for name, definitions in env.items():
                if name != FOUND and any(id(d) in strict for d in definitions):
                    refined[name] = tuple(strict.get(id(d), d) for d in definitions)
            refined[FOUND] = tuple(strict.values())
        for name in sorted(facts.not_null):
            if name in refined and name in self.variables:
                refined[name] = (DefNotNull(refined[name]),)
        return refined

    def _case(self, body: dict[str, Any], env: Env, scope: Scope, line: int) -> Env:
        operations, guards, in_loop = scope.operations, scope.guards, scope.in_loop
        outs: list[Env] = []
        starts: list[Scope] = []
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
            true_ops, _ = tg_op_sets(cond.node if cond else None)
            guard = f"CASE WHEN {text}"
            when_scope = Scope(operations & true_ops, (*guards, *negated, guard), in_loop)
            outs.append(self.walk(when.get("stmts") or [], env, when_scope))
            starts.append(when_scope)
            negated.append(f"NOT ({text})")
        if body.get("have_else"):
            else_scope = Scope(operations, (*guards, *negated), in_loop)
            outs.append(self.walk(body.get("else_stmts") or [], env, else_scope))
            starts.append(else_scope)
        if not outs:
            return env
        return self._joined(outs, starts, scope)

    def _loop(self, kind: str, body: dict[str, Any], env: Env, scope: Scope, line: int) -> Env:
        operations, guards = scope.operations, scope.guards
        guard = f"{kind.removeprefix('PLpgSQL_stmt_').upper()} loop at line {line}"
        if kind == "PLpgSQL_stmt_dynfors":
            self.diagnose("dynamic-sql", "FOR … IN EXECUTE: SQL built at run time is not analysed", line)
        loop_env = dict(env)
        if kind == "PLpgSQL_stmt_fori":
            variable = body.get("var", {}).get("PLpgSQL_var", {}) if isinstance(body.get("var"), dict) else {}
            name = str(variable.get("refname", "")).lower()
            if name:
                self.variables.setdefault(name, Variable(name, "integer", (), None, False))
                loop_env[name] = (DefValue(Value.of_type("integer", nullable=False), True),)
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
                                (DefLookup(lookup, None, True, True, env),)
                                if lookup is not None
                                else (DefUnknown("loop variable", True),)
                            )
                        for index, field in enumerate(fields):
                            field_name = str(field.get("name", "")).lower()
                            loop_env[field_name] = (
                                (DefLookup(lookup, index, True, True, env),)
                                if lookup is not None
                                else (DefUnknown("loop variable", True),)
                            )
        for key in ("cond", "query", "lower", "upper", "expr"):
            expr = self._expr_of(body, key, 0 if key == "query" else 2, line)
            if expr is not None:
                self.scan(expr, env, Scope(operations, guards, True), line)
        statements = body.get("body") or []
        # Two passes: the second sees definitions carried round the loop.
        first = self.walk(statements, loop_env, Scope(operations, (*guards, guard), True))
        second = self.walk(statements, merge_envs([loop_env, first]), Scope(operations, (*guards, guard), True))
        return merge_envs([env, first, second])

    def _execsql(self, body: dict[str, Any], env: Env, scope: Scope, line: int) -> Env:
        operations, guards, in_loop = scope.operations, scope.guards, scope.in_loop
        value = body.get("sqlstmt")
        query = ""
        if isinstance(value, dict) and "PLpgSQL_expr" in value:
            query = str(value["PLpgSQL_expr"].get("query", ""))
        expr = self.parse(query, 0, line) if query else None
        if expr is not None:
            if isinstance(expr.node, ast.NotifyStmt):
                key = (id(body), 0)
                self.drafts[key] = Draft(expr.node, expr, env, operations, guards, in_loop, "NOTIFY", expr.node)
            else:
                self.scan(expr, env, scope, line)
                self._writes(expr, line)
        if not body.get("into"):
            return {**env, FOUND: ()}
        targets = self._targets(body)
        if expr is None or not isinstance(expr.node, ast.SelectStmt):
            return {**env, **{name: (DefUnknown("set by a statement's RETURNING", in_loop),) for name in targets}}
        select = expr.node
        items = [t.val for t in select.targetList or () if isinstance(t, ast.ResTarget)]
        plain = not (select.fromClause or select.whereClause or select.groupClause or select.withClause)
        if plain and select.op == SetOperation.SETOP_NONE and len(items) == len(targets) and targets:
            # SELECT expr INTO v without FROM is an assignment.
            assigned = {
                name: (DefExpr(Expr(item, expr.query, expr.line), env, in_loop),)
                for name, item in zip(targets, items, strict=True)
                if name in self.variables and not self.variables[name].is_record
            }
            if len(assigned) == len(targets):
                return {**env, **assigned, FOUND: ()}
        lookup = self._lookups.get(query)
        if lookup is None:
            lookup = parse_lookup(query, self.catalog)
            self._lookups[query] = lookup
            if lookup.error is not None:
                self.diagnose("unsupported-lookup", f"SELECT … INTO: {lookup.error}", line)
        target = body.get("target")
        strict = bool(body.get("strict"))
        is_record = isinstance(target, dict) and "PLpgSQL_rec" in target
        if is_record or (len(targets) == 1 and self.variables.get(targets[0], NO_VAR).is_record):
            record = DefLookup(lookup, None, strict, in_loop, env)
            return {**env, targets[0]: (record,), FOUND: (record,)}
        new_env = dict(env)
        made = []
        for index, name in enumerate(targets):
            definition = DefLookup(lookup, index, strict, in_loop, env)
            new_env[name] = (definition,)
            made.append(definition)
        new_env[FOUND] = tuple(made)
        return new_env

    def _writes(self, expr: Expr, line: int) -> None:
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

    def scan(self, expr: Expr, env: Env, scope: Scope, line: int) -> None:
        operations, guards, in_loop = scope.operations, scope.guards, scope.in_loop
        has_from = isinstance(expr.node, ast.SelectStmt) and bool(expr.node.fromClause)
        never_run = _unexecuted_cte_nodes(expr.node)
        # (The index names a call within its statement, the same on every walk of a loop body.)
        for index, node in enumerate(iter_branch_nodes(expr.node)):
            if isinstance(node, ast.FuncCall):
                name = func_name(node)
                if name in self.catalog.functions and name not in TRANSPORTS:
                    self.calls.add(name)
                transport = TRANSPORTS.get(name)
                if transport is None or self.function.name in {"realtime.send", "realtime.broadcast_changes"}:
                    continue
                if id(node) in never_run:
                    self.diagnose(
                        "send-never-runs",
                        f"{name} sits in a WITH query the statement never reads: PostgreSQL does not run it, "
                        "so nothing is sent",
                        expr.line_of(node),
                    )
                    continue
                if has_from:
                    self.diagnose(
                        "notify-in-query",
                        f"{name} inside a query with FROM: values read from that query are not traced",
                        expr.line_of(node),
                    )
                self.drafts[(id(expr), index)] = Draft(node, expr, env, operations, guards, in_loop, transport)


def _unexecuted_cte_nodes(statement: Any) -> set[int]:
    """Ids of the nodes inside ``SELECT`` CTEs that nothing reads: PostgreSQL never evaluates them.

    Data-modifying CTEs (INSERT/UPDATE/DELETE) always run to completion, read or not.
    """
    with_clause = getattr(statement, "withClause", None)
    if not isinstance(with_clause, ast.WithClause) or not with_clause.ctes:
        return set()
    ctes = {cte.ctename: cte for cte in with_clause.ctes if isinstance(cte, ast.CommonTableExpr) and cte.ctename}

    def names_read(node: Any, skip: Any) -> set[str]:
        found = set()
        for inner in iter_nodes(node):
            if inner is skip:
                continue
            if isinstance(inner, ast.RangeVar) and not inner.schemaname and inner.relname in ctes:
                found.add(inner.relname)
        return found

    main = {slot: getattr(statement, slot) for slot in type(statement).__slots__ if slot != "withClause"}
    read = names_read(tuple(main.values()), with_clause)
    pending = list(read)
    while pending:
        cte = ctes[pending.pop()]
        for name in names_read(cte.ctequery, None) - read:
            read.add(name)
            pending.append(name)
    dead: set[int] = set()
    for name, cte in ctes.items():
        if name not in read and isinstance(cte.ctequery, ast.SelectStmt):
            dead.update(id(node) for node in iter_nodes(cte.ctequery))
    return dead
