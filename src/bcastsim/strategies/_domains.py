"""What a column accepts, read from its type and the table's simple CHECK constraints.

Only single-column checks of a few shapes are understood: comparisons with a
constant (``qty >= 0``, ``0 < price``), ``IN`` lists, ``BETWEEN`` and length
bounds (``length(code) <= 8``, ``char_length(name) > 0``). Anything else is left
to the database: the coverage report then names the constraint that failed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
from pglast import ast
from pglast.enums import A_Expr_Kind, BoolExprType

from bcastsim.db import Schema
from bcastsim.db._values import enum_labels
from bcastsim.strategies._memo import remembered

__all__ = ["Domain", "check_understood", "column_domain", "column_of", "constant_of"]

_LENGTH_FUNCTIONS = {"length", "char_length", "character_length", "octet_length"}
_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "<>": "<>", "!=": "!="}


@attrs.frozen
class Domain:
    """The valid values of one column: bounds, an allowed list, length limits (None: unbounded)."""

    type_name: str
    modifiers: tuple[int, ...] = ()
    low: Decimal | None = None
    high: Decimal | None = None
    low_strict: bool = False
    high_strict: bool = False
    allowed: tuple[Any, ...] | None = None
    excluded: tuple[Any, ...] = ()
    min_length: int = 0
    max_length: int | None = None

    def with_bound(self, op: str, value: Any) -> Domain:
        if isinstance(value, str):
            if op == "=":
                return attrs.evolve(self, allowed=(value,))
            if op in ("<>", "!="):
                return attrs.evolve(self, excluded=(*self.excluded, value))
            return self
        number = Decimal(value)
        if op in (">", ">="):
            if self.low is None or number >= self.low:
                return attrs.evolve(self, low=number, low_strict=op == ">")
        elif op in ("<", "<="):
            if self.high is None or number <= self.high:
                return attrs.evolve(self, high=number, high_strict=op == "<")
        elif op == "=":
            return attrs.evolve(self, allowed=(value,))
        elif op in ("<>", "!="):
            return attrs.evolve(self, excluded=(*self.excluded, value))
        return self

    def with_length(self, op: str, value: int) -> Domain:
        if op in (">", ">="):
            return attrs.evolve(self, min_length=max(self.min_length, value + (op == ">")))
        if op in ("<", "<="):
            limit = value - (op == "<")
            return attrs.evolve(self, max_length=limit if self.max_length is None else min(self.max_length, limit))
        if op == "=":
            return attrs.evolve(self, min_length=value, max_length=value)
        return self


def _constant(node: Any) -> Any:
    if isinstance(node, ast.TypeCast):
        return _constant(node.arg)
    if isinstance(node, ast.A_Const):
        value = node.val
        if isinstance(value, ast.Integer):
            return int(value.ival or 0)
        if isinstance(value, ast.Float):
            return Decimal(str(value.fval))
        if isinstance(value, ast.String):
            return str(value.sval)
    if isinstance(node, ast.A_Expr) and node.kind == A_Expr_Kind.AEXPR_OP and node.lexpr is None:
        inner = _constant(node.rexpr)
        if isinstance(inner, int | Decimal) and _op_name(node) == "-":
            return -inner
    return None


def _op_name(node: Any) -> str:
    return "".join(str(n.sval) for n in node.name or () if isinstance(n, ast.String))


def _column(node: Any) -> str | None:
    if isinstance(node, ast.TypeCast):
        return _column(node.arg)
    if isinstance(node, ast.ColumnRef):
        fields = [f for f in node.fields or () if isinstance(f, ast.String)]
        return str(fields[-1].sval) if fields else None
    return None


def _length_of(node: Any) -> str | None:
    if isinstance(node, ast.FuncCall) and len(node.args or ()) == 1:
        call: Any = node
        name = str(call.funcname[-1].sval)
        if name in _LENGTH_FUNCTIONS:
            inner: Any = call.args[0]
            trimmed: Any = inner
            if isinstance(inner, ast.FuncCall) and str(trimmed.funcname[-1].sval) in ("btrim", "trim"):
                inner = trimmed.args[0] if trimmed.args else None
            return _column(inner)
    return None


def _conjuncts(node: Any) -> list[Any]:
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
        args: Any = node.args
        return [part for arg in args for part in _conjuncts(arg)]
    return [node]


def _apply(domains: dict[str, Domain], expression: Any) -> bool:
    """Narrow a column's domain by one conjunct of a CHECK; False when its shape is not one read here."""
    if not isinstance(expression, ast.A_Expr):
        return False
    node: Any = expression
    kind = node.kind
    if kind == A_Expr_Kind.AEXPR_OP:
        op = _op_name(node)
        left, right = node.lexpr, node.rexpr
        if _constant(left) is not None:
            left, right, op = right, left, _FLIP.get(op, op)
        value = _constant(right)
        if value is None:
            return False
        column = _column(left)
        if column in domains:
            domains[column] = domains[column].with_bound(op, value)
            return True
        measured = _length_of(left)
        if measured in domains and isinstance(value, int):
            domains[measured] = domains[measured].with_length(op, value)
            return True
    elif kind == A_Expr_Kind.AEXPR_IN and _op_name(node) == "=":
        column = _column(node.lexpr)
        values = [_constant(item) for item in node.rexpr or ()]
        if column in domains and values and all(v is not None for v in values):
            domains[column] = attrs.evolve(domains[column], allowed=tuple(values))
            return True
    elif kind == A_Expr_Kind.AEXPR_BETWEEN:
        column = _column(node.lexpr)
        low, high = (_constant(item) for item in node.rexpr)
        if low is None or high is None:
            return False
        if column in domains:
            domains[column] = domains[column].with_bound(">=", low).with_bound("<=", high)
            return True
        measured = _length_of(node.lexpr)
        if measured in domains and isinstance(low, int) and isinstance(high, int):
            domains[measured] = domains[measured].with_length(">=", low).with_length("<=", high)
            return True
    return False


def check_understood(schema: Schema, table: str, expression: Any) -> bool:
    """Whether every conjunct of a CHECK is a single-column bound the domains follow."""
    domains = {c.name: Domain(c.type_name, c.modifiers) for c in schema.tables[table].columns}
    return all(_apply(domains, part) for part in _conjuncts(expression))


constant_of = _constant
column_of = _column


def column_domain(schema: Schema, table: str, column: str) -> Domain:
    """The values ``table.column`` accepts as far as its type and simple CHECKs say (worked out once per schema)."""
    return remembered(schema, ("domain", table, column), lambda: _column_domain(schema, table, column))


def _column_domain(schema: Schema, table: str, column: str) -> Domain:
    definition = schema.tables[table]
    domains = {c.name: Domain(c.type_name, c.modifiers) for c in definition.columns}
    for check in definition.checks:
        for part in _conjuncts(check.expr):
            _apply(domains, part)
    found = domains[column]
    enum = enum_labels(found.type_name)
    if enum is not None and found.allowed is None:
        found = attrs.evolve(found, allowed=enum[1])
    return found
