"""Facts about PL/pgSQL trigger functions that the rules need beyond the catalog's notify sites.

Everything here reads ``Function.plpgsql`` (pglast's ``parse_plpgsql`` JSON): which
statements run under which ``TG_OP`` values and which ``NEW``/``OLD`` fields they read (the graph's facts),
what the exception handlers do and what the function returns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from bcastsim.sqlmodel import (
    ALL_OPERATIONS,
    RowRead,
    build_cfg,
    first_lineno,
    function_root,
    may_read,
    parse_condition,
    statement_reads,
    tg_op_truth,
)

__all__ = [
    "ALL_OPS",
    "Handler",
    "Statement",
    "decided_ops",
    "exception_handlers",
    "protected_linenos",
    "reads_of",
    "statements",
    "tg_op_literals",
    "truth_under",
]

ALL_OPS: frozenset[str] = ALL_OPERATIONS

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
    #: the NEW/OLD fields the statement's own expressions read (``statements(..., reads=True)``);
    #: None when not asked for, or when an expression does not parse
    reads: tuple[RowRead, ...] | None = None


@attrs.frozen
class Handler:
    """An ``EXCEPTION WHEN ...`` clause."""

    lineno: int
    conditions: tuple[str, ...]
    reraises: bool
    raise_levels: tuple[int, ...]
    #: body lines of the protected block (first statement to the line before the handler)
    block_lines: tuple[int, int] = (0, 0)
    #: the handler leaves a trace someone reads: RAISE LOG/WARNING, or an INSERT (an error table)
    logs: bool = False


_TG_OP_ANY = re.compile(r"TG_OP\s*(?:=|<>|!=)\s*'(\w+)'|TG_OP\s+(?:NOT\s+)?IN\s*\(([^)]*)\)", re.IGNORECASE)

# Three-valued truth of a condition under one TG_OP value: True, False or None (depends
# on something other than TG_OP).
Truth = bool | None


def truth_under(node: Any, op: str) -> bool | None:
    """Whether a condition is true under ``TG_OP = op`` from its TG_OP tests alone; None: it depends."""
    return tg_op_truth(node, op)


def decided_ops(cond: str) -> frozenset[str]:
    """Ops under which ``cond`` is decided by its TG_OP tests alone (other values cannot matter)."""
    node = parse_condition(cond)
    if node is None:
        return frozenset()
    return frozenset(op for op in ALL_OPS if tg_op_truth(node, op) is not None)


def statements(plpgsql: Any, trigger_ops: frozenset[str] = ALL_OPS, *, reads: bool = False) -> list[Statement]:
    """Every statement of the function, with the TG_OP values that reach it along some path.

    Read from the function's control-flow graph: a statement after a branch that returned for
    an operation is not reached on it, and a statement no path reaches has no operations.
    With ``reads``, each carries the NEW/OLD fields its expressions read (the graph's facts).
    """
    graph = build_cfg(plpgsql)
    if graph is None:
        return []
    facts = graph.facts(trigger_ops)
    return [
        Statement(
            node.kind,
            node.lineno,
            node.sql,
            facts[node.index].operations,
            node.in_handler,
            node.in_protected_block,
            graph.row_reads(node.index) if reads else None,
        )
        for node in graph.statements
    ]


def reads_of(stmt: Statement, records: frozenset[str]) -> tuple[RowRead, ...] | None:
    """The statement's NEW/OLD reads as :attr:`Statement.reads` has them, or () when it cannot read ``records``.

    For a rule that needs only the reads of some records: a statement whose text cannot name them
    is not parsed (the parse of every expression is most of what the reads cost).
    """
    if stmt.reads is not None:
        return stmt.reads
    if not records or not may_read(stmt.sql, records):
        return ()
    return statement_reads(stmt.kind, stmt.sql)


def protected_linenos(plpgsql: Any, body: str) -> frozenset[int]:
    """The body lines of the statements inside a ``BEGIN … EXCEPTION`` block (a savepoint).

    ``body`` is the function's source: a block with a handler spells ``EXCEPTION`` in it, so a
    body without the word has no such block and its graph is not needed.
    """
    if "exception" not in body.lower():
        return _NO_LINES
    graph = build_cfg(plpgsql)
    if graph is None:
        return _NO_LINES
    return frozenset(node.lineno for node in graph.statements if node.in_protected_block) or _NO_LINES


# One empty set for every function without protected statements (most), not one each.
_NO_LINES: frozenset[int] = frozenset()


def tg_op_literals(plpgsql: Any, body: str | None = None) -> list[tuple[str, int]]:
    """(op, lineno) for each operation name compared with ``TG_OP`` anywhere in the function.

    ``body``, the function's source, when known: a body that never spells ``TG_OP`` compares nothing with it.
    """
    found: list[tuple[str, int]] = []
    if body is not None and "tg_op" not in body.lower():
        return found
    graph = build_cfg(plpgsql)
    for stmt in graph.statements if graph is not None else ():
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
    root = function_root(plpgsql)
    if root is None:
        return []
    handlers: list[Handler] = []
    _collect_handlers(root.get("action"), handlers)
    return handlers


# Module functions, not closures: a nested walk refers to itself through its closure, a cycle only
# the cyclic collector frees, and it is paused while the rules run (the cycles of every call piled up).
def _raise_levels(body: Any) -> Iterator[int]:
    if isinstance(body, Mapping):
        if "PLpgSQL_stmt_raise" in body:
            level = body["PLpgSQL_stmt_raise"].get("elog_level", _ELOG_ERROR)
            yield int(level)
        for value in body.values():
            yield from _raise_levels(value)
    elif isinstance(body, list):
        for item in body:
            yield from _raise_levels(item)


def _collect_handlers(node: Any, handlers: list[Handler]) -> None:
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
                levels = tuple(_raise_levels(clause.get("action")))
                first_line = first_lineno(clause.get("action"))
                block_first = first_lineno(stmt.get("body")) or int(stmt.get("lineno", 0) or 0)
                handlers.append(
                    Handler(
                        lineno=first_line or int(stmt.get("lineno", 0) or 0),
                        conditions=conditions,
                        reraises=any(level >= _ELOG_ERROR for level in levels),
                        raise_levels=levels,
                        block_lines=(block_first, max(block_first, (first_line or block_first) - 1)),
                        logs=any(level in _LOGGED_LEVELS for level in levels) or _inserts(clause.get("action")),
                    )
                )
        for value in node.values():
            _collect_handlers(value, handlers)
    elif isinstance(node, list):
        for item in node:
            _collect_handlers(item, handlers)


# RAISE levels that reach the server log (elog.h): LOG and WARNING. NOTICE and INFO go to the
# client only, which for a trigger is the application's driver, where nobody reads them.
_LOGGED_LEVELS = frozenset({15, 19})


def _inserts(body: Any) -> bool:
    """Whether a handler's action writes a row (an error log table)."""
    if isinstance(body, Mapping):
        if "PLpgSQL_stmt_execsql" in body:
            query = body["PLpgSQL_stmt_execsql"].get("sqlstmt", {}).get("PLpgSQL_expr", {}).get("query", "")
            if str(query).lstrip().upper().startswith("INSERT"):
                return True
        return any(_inserts(value) for value in body.values())
    if isinstance(body, list):
        return any(_inserts(item) for item in body)
    return False
