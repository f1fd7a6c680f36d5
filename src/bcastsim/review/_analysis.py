"""Facts about PL/pgSQL trigger functions that the rules need beyond the catalog's notify sites.

Everything here reads ``Function.plpgsql`` (pglast's ``parse_plpgsql`` JSON): which
statements run under which ``TG_OP`` values, where ``NEW``/``OLD`` columns are read,
what the exception handlers do and what the function returns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import pglast
from pglast import ast
from pglast.enums import A_Expr_Kind, BoolExprType

__all__ = [
    "ALL_OPS",
    "Handler",
    "RowRef",
    "Statement",
    "decided_ops",
    "exception_handlers",
    "refs_read_on",
    "row_refs",
    "statements",
    "tg_op_literals",
    "truth_under",
]

ALL_OPS: frozenset[str] = frozenset({"INSERT", "UPDATE", "DELETE", "TRUNCATE"})

# PL/pgSQL elog levels as parse_plpgsql reports them (utils/elog.h).
_ELOG_ERROR = 21


@attrs.frozen
class Statement:
    """One PL/pgSQL statement: its kind, body line, SQL text and the TG_OP values it can run under."""

    kind: str
    lineno: int
    sql: tuple[str, ...]
    ops: frozenset[str]
    in_handler: bool = False
    in_protected_block: bool = False


@attrs.frozen
class Handler:
    """An ``EXCEPTION WHEN ...`` clause."""

    lineno: int
    conditions: tuple[str, ...]
    reraises: bool
    raise_levels: tuple[int, ...]


@attrs.frozen
class RowRef:
    """A read of ``NEW.col`` or ``OLD.col``; ``paired`` when it is ``COALESCE(NEW.c, OLD.c)``-style."""

    record: str
    column: str
    paired: bool


_TG_OP_ANY = re.compile(r"TG_OP\s*(?:=|<>|!=)\s*'(\w+)'|TG_OP\s+(?:NOT\s+)?IN\s*\(([^)]*)\)", re.IGNORECASE)

# Three-valued truth of a condition under one TG_OP value: True, False or None (depends
# on something other than TG_OP).
Truth = bool | None


def _const_text(node: Any) -> str | None:
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String):
        return str(node.val.sval).upper()
    if isinstance(node, ast.TypeCast):
        return _const_text(node.arg)
    return None


def _is_tg_op(node: Any) -> bool:
    if isinstance(node, ast.TypeCast):
        return _is_tg_op(node.arg)
    if not isinstance(node, ast.ColumnRef):
        return False
    fields: tuple[Any, ...] = node.fields or ()
    return len(fields) == 1 and isinstance(fields[0], ast.String) and str(fields[0].sval).lower() == "tg_op"


def _truth(node: Any, op: str) -> Truth:
    if isinstance(node, ast.BoolExpr):
        values = [_truth(arg, op) for arg in node.args or ()]
        if node.boolop == BoolExprType.AND_EXPR:
            if any(v is False for v in values):
                return False
            return True if all(v is True for v in values) else None
        if node.boolop == BoolExprType.OR_EXPR:
            if any(v is True for v in values):
                return True
            return False if all(v is False for v in values) else None
        inner = values[0] if values else None
        return None if inner is None else not inner
    if isinstance(node, ast.A_Expr):
        name = str(node.name[0].sval) if node.name else ""
        left: Any = node.lexpr
        right: Any = node.rexpr
        if _is_tg_op(right) and not _is_tg_op(left):
            left, right = right, left
        if not _is_tg_op(left):
            return None
        if node.kind == A_Expr_Kind.AEXPR_IN and isinstance(right, tuple | list):
            listed = {_const_text(item) for item in right}
            if None in listed:
                return None
            return (op in listed) if name == "=" else (op not in listed)
        if node.kind == A_Expr_Kind.AEXPR_OP:
            value = _const_text(right)
            if value is None:
                return None
            if name == "=":
                return op == value
            if name in {"<>", "!="}:
                return op != value
    return None


def truth_under(node: Any, op: str) -> bool | None:
    """Whether a condition is true under ``TG_OP = op`` from its TG_OP tests alone; None: it depends."""
    return _truth(node, op)


def _condition(cond: str) -> Any | None:
    try:
        parsed: Any = pglast.parse_sql(f"SELECT {cond}")
        return parsed[0].stmt.targetList[0].val
    except Exception:  # not plain SQL (e.g. a PL/pgSQL-only construct): no restriction known
        return None


def _guard_ops(cond: str) -> tuple[frozenset[str] | None, frozenset[str] | None]:
    """(ops under which the condition can be true, ops under which it can be false); None: all ops."""
    node = _condition(cond)
    if node is None:
        return None, None
    truths = {op: _truth(node, op) for op in ALL_OPS}
    when_true = frozenset(op for op, value in truths.items() if value is not False)
    when_false = frozenset(op for op, value in truths.items() if value is not True)
    return when_true, when_false


def decided_ops(cond: str) -> frozenset[str]:
    """Ops under which ``cond`` is decided by its TG_OP tests alone (other values cannot matter)."""
    node = _condition(cond)
    if node is None:
        return frozenset()
    return frozenset(op for op in ALL_OPS if _truth(node, op) is not None)


def _expr(node: Any) -> str | None:
    if isinstance(node, Mapping) and "PLpgSQL_expr" in node:
        query = node["PLpgSQL_expr"].get("query")
        return query if isinstance(query, str) else None
    return None


def _exprs(stmt: Mapping[str, Any]) -> list[str]:
    found: list[str] = []

    def visit(value: Any) -> None:
        text = _expr(value)
        if text is not None:
            found.append(text)
            return
        if isinstance(value, Mapping):
            for key, item in value.items():
                if key in {"then_body", "else_body", "elsif_list", "body", "exceptions", "stmts", "action"}:
                    continue
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    visit(stmt)
    return found


def _function_root(plpgsql: Mapping[str, Any] | list[Any] | None) -> Mapping[str, Any] | None:
    node: Any = plpgsql
    if isinstance(node, list):
        node = node[0] if node else None
    if isinstance(node, Mapping) and "PLpgSQL_function" in node:
        node = node["PLpgSQL_function"]
    return node if isinstance(node, Mapping) else None


def statements(plpgsql: Any, trigger_ops: frozenset[str] = ALL_OPS) -> list[Statement]:
    """Every statement of the function, with the TG_OP values under which it can run."""
    root = _function_root(plpgsql)
    if root is None:
        return []
    result: list[Statement] = []

    def walk(body: Any, ops: frozenset[str], in_handler: bool, protected: bool) -> None:
        if not isinstance(body, list):
            return
        for item in body:
            if not isinstance(item, Mapping) or not item:
                continue
            kind, stmt = next(iter(item.items()))
            if not isinstance(stmt, Mapping):
                continue
            lineno = int(stmt.get("lineno", 0) or 0)
            sql = _exprs(stmt)
            if kind == "PLpgSQL_stmt_return" and not sql:
                # RETURN of a record variable names a datum, not an expression; the catalog reads
                # which one from the source (``retvar``), as the parse tree drops it.
                target = stmt.get("retvar")
                sql = [str(target).upper()] if isinstance(target, str) else []
            result.append(Statement(kind, lineno, tuple(sql), ops, in_handler, protected))
            if kind == "PLpgSQL_stmt_if":
                cond = _expr(stmt.get("cond")) or ""
                when_true, when_false = _guard_ops(cond)
                walk(stmt.get("then_body"), ops & when_true if when_true is not None else ops, in_handler, protected)
                remaining = ops & when_false if when_false is not None else ops
                for elsif in stmt.get("elsif_list") or []:
                    branch = elsif.get("PLpgSQL_if_elsif", {}) if isinstance(elsif, Mapping) else {}
                    econd = _expr(branch.get("cond")) or ""
                    etrue, efalse = _guard_ops(econd)
                    walk(
                        branch.get("stmts"),
                        remaining & etrue if etrue is not None else remaining,
                        in_handler,
                        protected,
                    )
                    remaining = remaining & efalse if efalse is not None else remaining
                walk(stmt.get("else_body"), remaining, in_handler, protected)
            elif kind == "PLpgSQL_stmt_block":
                has_handlers = bool(stmt.get("exceptions"))
                walk(stmt.get("body"), ops, in_handler, protected or has_handlers)
                exceptions = stmt.get("exceptions") or {}
                block = exceptions.get("PLpgSQL_exception_block", {}) if isinstance(exceptions, Mapping) else {}
                for exc in block.get("exc_list") or []:
                    clause = exc.get("PLpgSQL_exception", {}) if isinstance(exc, Mapping) else {}
                    walk(clause.get("action"), ops, True, protected)
            else:
                for key in ("body", "stmts", "then_body", "else_body"):
                    walk(stmt.get(key), ops, in_handler, protected)
                for case in stmt.get("case_whens") or []:
                    when = case.get("PLpgSQL_case_when", {}) if isinstance(case, Mapping) else {}
                    walk(when.get("stmts"), ops, in_handler, protected)

    action = root.get("action")
    walk([action] if action else [], trigger_ops, False, False)
    return result


def tg_op_literals(plpgsql: Any) -> list[tuple[str, int]]:
    """(op, lineno) for each operation name compared with ``TG_OP`` anywhere in the function."""
    found: list[tuple[str, int]] = []
    for stmt in statements(plpgsql):
        for sql in stmt.sql:
            for match in _TG_OP_ANY.finditer(sql):
                if match.group(1):
                    found.append((match.group(1).upper(), stmt.lineno))
                else:
                    for item in match.group(2).split(","):
                        if item.strip():
                            found.append((item.strip().strip("'").upper(), stmt.lineno))
    return found


def exception_handlers(plpgsql: Any) -> list[Handler]:
    """Every ``EXCEPTION WHEN`` clause, with whether its action re-raises (RAISE at ERROR level)."""
    root = _function_root(plpgsql)
    if root is None:
        return []
    handlers: list[Handler] = []

    def raises(body: Any) -> Iterator[int]:
        if isinstance(body, Mapping):
            if "PLpgSQL_stmt_raise" in body:
                level = body["PLpgSQL_stmt_raise"].get("elog_level", _ELOG_ERROR)
                yield int(level)
            for value in body.values():
                yield from raises(value)
        elif isinstance(body, list):
            for item in body:
                yield from raises(item)

    def visit(node: Any) -> None:
        if isinstance(node, Mapping):
            if "PLpgSQL_stmt_block" in node:
                stmt = node["PLpgSQL_stmt_block"]
                exceptions = stmt.get("exceptions") or {}
                block = exceptions.get("PLpgSQL_exception_block", {}) if isinstance(exceptions, Mapping) else {}
                for exc in block.get("exc_list") or []:
                    clause = exc.get("PLpgSQL_exception", {}) if isinstance(exc, Mapping) else {}
                    conditions = tuple(
                        str(cond.get("PLpgSQL_condition", {}).get("condname", "")).lower()
                        for cond in clause.get("conditions") or []
                        if isinstance(cond, Mapping)
                    )
                    levels = tuple(raises(clause.get("action")))
                    first_line = _first_lineno(clause.get("action"))
                    handlers.append(
                        Handler(
                            lineno=first_line or int(stmt.get("lineno", 0) or 0),
                            conditions=conditions,
                            reraises=any(level >= _ELOG_ERROR for level in levels),
                            raise_levels=levels,
                        )
                    )
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(root.get("action"))
    return handlers


def _first_lineno(body: Any) -> int | None:
    if isinstance(body, list):
        for item in body:
            if isinstance(item, Mapping):
                for stmt in item.values():
                    if isinstance(stmt, Mapping) and stmt.get("lineno"):
                        return int(stmt["lineno"])
    return None


_ROW_REF = re.compile(r"(?<![\w.])(NEW|OLD)\s*\.\s*\"?(\w+)\"?", re.IGNORECASE)
_PAIRED = re.compile(r"COALESCE\s*\(\s*(NEW|OLD)\s*\.\s*\"?(\w+)\"?\s*,\s*(NEW|OLD)\s*\.\s*\"?(\w+)\"?", re.IGNORECASE)


def _strip_strings(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", "''", sql)


def row_refs(sql: str) -> list[RowRef]:
    """Every ``NEW.col``/``OLD.col`` read in ``sql``; COALESCE over both records marks them paired."""
    text = _strip_strings(sql)
    paired_spans: list[tuple[int, int]] = []
    for match in _PAIRED.finditer(text):
        if match.group(1).upper() != match.group(3).upper():
            paired_spans.append(match.span())
    refs: list[RowRef] = []
    for match in _ROW_REF.finditer(text):
        start = match.start()
        paired = any(a <= start < b for a, b in paired_spans)
        refs.append(RowRef(match.group(1).upper(), match.group(2).lower(), paired))
    return refs


def refs_read_on(sql: str, op: str) -> set[tuple[str, str]] | None:
    """``(NEW|OLD, column)`` reads that can happen under ``TG_OP = op``; None when ``sql`` does not parse.

    A read in a ``CASE`` branch whose ``WHEN`` is false under ``op`` (or in the ``ELSE`` after a
    ``WHEN`` that is true under ``op``) never happens under ``op``.
    """
    try:
        tree: Any = pglast.parse_sql(
            sql if re.match(r"\s*(select|insert|update|delete|with)\b", sql, re.I) else f"SELECT {sql}"
        )
    except Exception:  # PL/pgSQL-only syntax: the caller falls back to reading the text
        return None
    found: set[tuple[str, str]] = set()

    def visit(node: Any) -> None:
        if isinstance(node, ast.CaseExpr):
            visit(node.arg)
            decided = False
            for when in node.args or ():
                if not isinstance(when, ast.CaseWhen) or decided:
                    continue
                truth = _truth(when.expr, op)
                visit(when.expr)
                if truth is not False:
                    visit(when.result)
                decided = truth is True
            if not decided:
                visit(node.defresult)
            return
        if isinstance(node, ast.BoolExpr) and node.boolop != BoolExprType.NOT_EXPR:
            # An AND with a conjunct false under op (an OR with one true) does not depend on the rest.
            settled = node.boolop != BoolExprType.AND_EXPR
            args = list(node.args or ())
            if any(_truth(arg, op) is settled for arg in args):
                return
            for arg in args:
                visit(arg)
            return
        if isinstance(node, ast.ColumnRef):
            fields = [f.sval for f in node.fields or () if isinstance(f, ast.String)]
            if len(fields) >= 2 and str(fields[0]).lower() in {"new", "old"}:
                found.add((str(fields[0]).upper(), str(fields[1]).lower()))
            return
        if isinstance(node, ast.Node):
            for slot in getattr(type(node), "__slots__", ()):
                visit(getattr(node, slot, None))
        elif isinstance(node, tuple | list):
            for item in node:
                visit(item)

    visit(tree)
    return found
