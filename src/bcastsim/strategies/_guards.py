"""Values the notify sites' emission conditions ask for, so generated rows reach every branch.

A site behind ``IF NEW.amount > 990`` or ``WHEN (NEW.status = 'shipped')`` fires only for
values a column's ordinary draws rarely hit. Each condition a site is sent under (trigger
``WHEN`` clauses and the guards of the branches around it) is read for comparisons of a
``NEW``/``OLD`` column with a constant, ``IN`` lists and ``IS [NOT] NULL`` tests; the constant
and its neighbours (``990``, ``991``, ``989``) become hints the column draws now and then;
``NEW.col < OLD.col`` makes UPDATEs move the column down. Hints a column's type or CHECKs
would refuse are dropped: steering never makes a statement fail.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import attrs
import pglast
from pglast import ast
from pglast.enums import A_Expr_Kind

from bcastsim.db import Schema
from bcastsim.strategies._domains import Domain, column_domain, constant_of

__all__ = ["Guards", "guards", "moved"]

_NUMBERS = ("integer", "bigint", "smallint", "numeric", "real", "double precision")
_cache: dict[int, tuple[Schema, Guards]] = {}


@attrs.frozen
class _Move:
    """``NEW.col <op> OLD.col``: an UPDATE that moves the column up (``>``) or down (``<``)."""

    op: str


@attrs.frozen
class Guards:
    """What the sites' conditions ask of rows: values per column, and directions UPDATEs should move them."""

    values: dict[tuple[str, str], tuple[Any, ...]]
    moves: dict[tuple[str, str], tuple[str, ...]]


def guards(schema: Schema) -> Guards:
    """Read every emission condition of the schema's notify sites (once per schema)."""
    cached = _cache.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    found: dict[tuple[str, str], dict[Any, None]] = {}
    moves: dict[tuple[str, str], dict[str, None]] = {}
    for site in schema.notify_sites:
        tables = [t for t in site.tables if t in schema.tables]
        for _, conditions in site.emitted_when:
            for condition in conditions:
                for column, value in _comparisons(condition):
                    for table in tables:
                        if schema.tables[table].column(column) is None:
                            continue
                        if isinstance(value, _Move):
                            moves.setdefault((table, column), {})[value.op] = None
                            continue
                        domain = column_domain(schema, table, column)
                        for candidate in _candidates(domain, value):
                            found.setdefault((table, column), {})[candidate] = None
    result = Guards(
        {key: tuple(values) for key, values in found.items() if values},
        {key: tuple(ops) for key, ops in moves.items()},
    )
    _cache[id(schema)] = (schema, result)
    return result


def _comparisons(condition: str) -> list[tuple[str, Any]]:
    """(column, constant) pairs a condition compares; ``None`` for ``IS [NOT] NULL``."""
    if condition.startswith(("UPDATE OF ", "EXCEPTION WHEN")) or "loop at line" in condition:
        return []
    # A trigger's WHEN comes joined with its column list: "(NEW.a > 1) AND UPDATE OF a".
    expression = condition.removeprefix("CASE WHEN ").partition(" AND UPDATE OF ")[0]
    try:
        parsed: Any = pglast.parse_sql(f"SELECT {expression}")
    except Exception:  # a guard that is not an expression (a marker such as "inside a loop")
        return []
    pairs: list[tuple[str, Any]] = []
    pending = [parsed[0].stmt.targetList[0].val]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.BoolExpr):
            pending.extend(node.args or ())
        elif isinstance(node, ast.NullTest):
            column = _row_column(node.arg)
            if column is not None:
                pairs.append((column, None))
        elif isinstance(node, ast.A_Expr):
            pairs += _expr_pairs(node)
    return pairs


def _expr_pairs(node: Any) -> list[tuple[str, Any]]:
    if node.kind == A_Expr_Kind.AEXPR_IN:
        column = _row_column(node.lexpr)
        values = [constant_of(item) for item in node.rexpr or ()]
        return [(column, v) for v in values if v is not None] if column is not None else []
    if node.kind in (A_Expr_Kind.AEXPR_OP, A_Expr_Kind.AEXPR_DISTINCT, A_Expr_Kind.AEXPR_NOT_DISTINCT):
        op = "".join(str(n.sval) for n in node.name or () if isinstance(n, ast.String))
        new, old = _row_column(node.lexpr, "new"), _row_column(node.rexpr, "old")
        if new is not None and new == old and op in {"<", "<=", ">", ">="}:
            return [(new, _Move(op[0]))]
        new, old = _row_column(node.rexpr, "new"), _row_column(node.lexpr, "old")
        if new is not None and new == old and op in {"<", "<=", ">", ">="}:
            return [(new, _Move(">" if op[0] == "<" else "<"))]
        for side, other in ((node.lexpr, node.rexpr), (node.rexpr, node.lexpr)):
            column = _row_column(side)
            value = constant_of(other)
            if column is not None and value is not None:
                return [(column, value)]
    return []


def _row_column(node: Any, record: str | None = None) -> str | None:
    """The column of ``NEW.col``/``OLD.col`` (of ``record`` only, when given)."""
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if not isinstance(node, ast.ColumnRef):
        return None
    fields = [str(f.sval).lower() for f in node.fields or () if isinstance(f, ast.String)]
    if len(fields) == 2 and fields[0] in ({record} if record else {"new", "old"}):
        return fields[1]
    return None


def moved(domain: Domain, old: Any, op: str) -> Any:
    """A value one step below (``<``) or above (``>``) ``old`` that the column accepts, or None."""
    if isinstance(old, bool) or not isinstance(old, int | Decimal | dt.datetime):
        return None
    step: Any = dt.timedelta(seconds=1) if isinstance(old, dt.datetime) else type(old)(1)
    value = old - step if op == "<" else old + step
    return value if _accepts(domain, value) else None


def _candidates(domain: Domain, value: Any) -> list[Any]:
    kind = domain.type_name
    if value is None:
        return [None]
    values: list[Any]
    if kind in _NUMBERS and isinstance(value, int | Decimal):
        values = [value, value + 1, value - 1]
        if kind in ("integer", "bigint", "smallint"):
            values = [int(v) for v in values if v == int(v)]
        else:
            values = [Decimal(v) for v in values]
    elif kind in ("text", "varchar") and isinstance(value, str):
        values = [value]
    elif kind == "boolean" and isinstance(value, str) and value.lower() in {"true", "false", "t", "f"}:
        values = [value.lower().startswith("t")]
    elif kind in ("timestamptz", "timestamp") and isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return []
        values = [moment, moment + dt.timedelta(seconds=1), moment - dt.timedelta(seconds=1)]
        if kind == "timestamptz":
            values = [m if m.tzinfo else m.replace(tzinfo=dt.UTC) for m in values]
    else:
        return []
    return [v for v in values if _accepts(domain, v)]


def _accepts(domain: Domain, value: Any) -> bool:
    if domain.allowed is not None and value not in domain.allowed:
        return False
    if value in domain.excluded:
        return False
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        if domain.low is not None and (value < domain.low or (domain.low_strict and value == domain.low)):
            return False
        if domain.high is not None and (value > domain.high or (domain.high_strict and value == domain.high)):
            return False
        if domain.type_name == "smallint":
            return bool(-(2**15) <= value < 2**15)
        if domain.type_name == "integer":
            return bool(-(2**31) <= value < 2**31)
    if isinstance(value, str):
        limit = domain.modifiers[0] if domain.type_name == "varchar" and domain.modifiers else None
        if limit is not None and len(value) > limit:
            return False
        if domain.max_length is not None and len(value) > domain.max_length:
            return False
        if len(value) < domain.min_length:
            return False
    return True
