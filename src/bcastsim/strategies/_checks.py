"""CHECK constraints across columns, read as formulas a drawn row can be repaired to satisfy.

Single-column bounds are :mod:`bcastsim.strategies._domains`' business: they shape the values
before they are drawn. A check that ties columns together (``ends_at > starts_at``,
``a IS NOT NULL OR b IS NOT NULL``, ``status <> 'x' OR y IS NOT NULL``) is only known once the
row is there, so the row is drawn first and then repaired: the formula says which column to
move and where. The shapes read are ``AND``/``OR``/``NOT`` over comparisons of columns with
columns or constants, ``IN`` lists, ``BETWEEN``, ``IS [NOT] NULL``, ``IS [NOT] DISTINCT FROM``,
boolean columns and ``num_nonnulls``/``num_nulls``. A check of any other shape is not followed;
:func:`unfollowed_checks` names it so the coverage report can.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
from pglast import ast
from pglast.enums import A_Expr_Kind, BoolExprType, NullTestType

from bcastsim.db import Schema
from bcastsim.db._schema import CheckDef
from bcastsim.strategies._domains import check_understood, column_of, constant_of
from bcastsim.strategies._memo import remembered

__all__ = ["RowCheck", "repair", "row_checks", "unfollowed_checks"]

Formula = tuple[Any, ...]
# ("and"|"or", parts) | ("not", f) | ("null", column) | ("cmp", op, left, right) | ("in", column, values)
# | ("count", columns, op, n): num_nonnulls(columns) op n.  Operands: ("col", name) | ("const", value).

_NEGATE = {"=": "<>", "<>": "=", "<": ">=", ">=": "<", ">": "<=", "<=": ">", "distinct": "same", "same": "distinct"}
_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "<>": "<>", "distinct": "distinct", "same": "same"}
_ORDERED = (int, Decimal, dt.datetime)


class _Unknown(Exception):
    """A column the row leaves to its DEFAULT: the check cannot be judged here."""


@attrs.frozen
class RowCheck:
    """One CHECK read as a formula, and the columns it reads."""

    name: str
    sql: str
    formula: Formula
    columns: frozenset[str]

    def holds(self, row: dict[str, Any]) -> bool | None:
        """Whether the row passes (NULL passes, as in PostgreSQL); None when a column is left to its default."""
        try:
            return _value(self.formula, row) is not False
        except _Unknown:
            return None


def _operand(node: Any) -> Formula | None:
    column = column_of(node)
    if column is not None:
        return ("col", column)
    value = constant_of(node)
    if value is None and isinstance(node, ast.A_Const) and node.isnull:
        return None
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.Boolean):
        return ("const", bool(node.val.boolval))
    return ("const", value) if value is not None else None


def _formula(node: Any) -> Formula | None:
    if isinstance(node, ast.BoolExpr):
        node = _any(node)
        parts = [_formula(arg) for arg in node.args or ()]
        if any(part is None for part in parts):
            return None
        if node.boolop == BoolExprType.NOT_EXPR:
            return ("not", parts[0])
        return ("and" if node.boolop == BoolExprType.AND_EXPR else "or", tuple(parts))
    if isinstance(node, ast.NullTest):
        column = column_of(node.arg)
        if column is None:
            return None
        test: Formula = ("null", column)
        return test if node.nulltesttype == NullTestType.IS_NULL else ("not", test)
    if isinstance(node, ast.ColumnRef):
        column = column_of(node)
        return ("cmp", "=", ("col", column), ("const", True)) if column else None
    if not isinstance(node, ast.A_Expr):
        return None  # num_nonnulls(…) only as a side of a comparison, below
    node = _any(node)
    op = "".join(str(n.sval) for n in node.name or () if isinstance(n, ast.String))
    if node.kind == A_Expr_Kind.AEXPR_OP and op in {"=", "<>", "!=", "<", "<=", ">", ">="}:
        op = "<>" if op == "!=" else op
        counted = _count(node.lexpr, op, node.rexpr) or _count(node.rexpr, _FLIP[op], node.lexpr)
        if counted is not None:
            return counted
        left, right = _operand(node.lexpr), _operand(node.rexpr)
        if left is None or right is None or (left[0] == "const" and right[0] == "const"):
            return None
        return ("cmp", op, left, right)
    if node.kind in (A_Expr_Kind.AEXPR_DISTINCT, A_Expr_Kind.AEXPR_NOT_DISTINCT):
        left, right = _operand(node.lexpr), _operand(node.rexpr)
        if left is None or right is None:
            return None
        return ("cmp", "distinct" if node.kind == A_Expr_Kind.AEXPR_DISTINCT else "same", left, right)
    if node.kind == A_Expr_Kind.AEXPR_IN:
        column = column_of(node.lexpr)
        values = tuple(constant_of(item) for item in node.rexpr or ())
        if column is None or not values or any(v is None for v in values):
            return None
        member: Formula = ("in", column, values)
        return member if op == "=" else ("not", member)
    if node.kind == A_Expr_Kind.AEXPR_BETWEEN:
        column = column_of(node.lexpr)
        low, high = (constant_of(item) for item in node.rexpr)
        if column is None or low is None or high is None:
            return None
        target = ("col", column)
        return ("and", (("cmp", ">=", target, ("const", low)), ("cmp", "<=", target, ("const", high))))
    return None


def _any(node: Any) -> Any:
    """pglast's node attributes are loosely typed: read them without narrowing each one."""
    return node


def _count(node: Any, op: str, other: Any) -> Formula | None:
    if not (isinstance(node, ast.FuncCall) and str(_any(node).funcname[-1].sval) in {"num_nonnulls", "num_nulls"}):
        return None
    node = _any(node)
    columns = tuple(column_of(arg) for arg in node.args or ())
    bound = constant_of(other)
    if not columns or any(c is None for c in columns) or not isinstance(bound, int):
        return None
    if str(node.funcname[-1].sval) == "num_nulls":  # num_nulls(cols) op n  ⇔  num_nonnulls(cols) flip(op) len-n
        return ("count", columns, _FLIP[op], len(columns) - bound)
    return ("count", columns, op, bound)


def _columns(formula: Formula) -> frozenset[str]:
    kind = formula[0]
    if kind in {"and", "or"}:
        return frozenset().union(*(_columns(part) for part in formula[1]))
    if kind == "not":
        return _columns(formula[1])
    if kind in {"null", "in"}:
        return frozenset({formula[1]})
    if kind == "count":
        return frozenset(formula[1])
    return frozenset(side[1] for side in formula[2:] if side[0] == "col")


def row_checks(schema: Schema, table: str) -> list[RowCheck]:
    """The table's CHECKs that this module follows (single-column ones too: a repair costs nothing).

    Read once per schema: the list is shared, callers do not change it.
    """
    return remembered(schema, ("row_checks", table), lambda: _row_checks(schema, table))


def _row_checks(schema: Schema, table: str) -> list[RowCheck]:
    found = []
    for check in schema.tables[table].checks:
        formula = _formula(check.expr)
        if formula is not None:
            found.append(RowCheck(check.name, check.sql, formula, _columns(formula)))
    return found


def unfollowed_checks(schema: Schema, table: str) -> list[CheckDef]:
    """CHECKs neither the column domains nor the row repair understand: the database alone judges them."""
    return remembered(schema, ("unfollowed", table), lambda: _unfollowed_checks(schema, table))


def _unfollowed_checks(schema: Schema, table: str) -> list[CheckDef]:
    return [
        check
        for check in schema.tables[table].checks
        if _formula(check.expr) is None and not check_understood(schema, table, check.expr)
    ]


# evaluation (three-valued: None is SQL NULL) -------------------------------------------------


def _side(operand: Formula, row: dict[str, Any]) -> Any:
    if operand[0] == "const":
        return operand[1]
    if operand[1] not in row:
        raise _Unknown(operand[1])
    return row[operand[1]]


def _comparable(a: Any, b: Any) -> tuple[Any, Any] | None:
    if isinstance(a, bool) or isinstance(b, bool):
        return (a, b) if isinstance(a, bool) and isinstance(b, bool) else None
    if isinstance(a, int | Decimal) and isinstance(b, int | Decimal):
        return Decimal(a), Decimal(b)
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return (a, b) if (a.tzinfo is None) == (b.tzinfo is None) else None
    if type(a) is type(b):
        return a, b
    return None


def _compare(op: str, a: Any, b: Any) -> bool | None:
    if op in {"distinct", "same"}:
        if a is None or b is None:
            return (a is None) != (b is None) if op == "distinct" else (a is None) == (b is None)
        equal = _compare("=", a, b)
        if equal is None:
            raise _Unknown("incomparable")
        return not equal if op == "distinct" else equal
    if a is None or b is None:
        return None
    pair = _comparable(a, b)
    if pair is None:
        raise _Unknown("incomparable")
    a, b = pair
    if op == "=":
        return bool(a == b)
    if op == "<>":
        return bool(a != b)
    if not isinstance(a, _ORDERED):
        raise _Unknown("text order depends on the collation")
    return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])


def _value(formula: Formula, row: dict[str, Any]) -> bool | None:
    kind = formula[0]
    if kind == "and":
        values = [_value(part, row) for part in formula[1]]
        return False if False in values else None if None in values else True
    if kind == "or":
        values = [_value(part, row) for part in formula[1]]
        return True if True in values else None if None in values else False
    if kind == "not":
        inner = _value(formula[1], row)
        return None if inner is None else not inner
    if kind == "null":
        return _side(("col", formula[1]), row) is None
    if kind == "in":
        value = _side(("col", formula[1]), row)
        if value is None:
            return None
        results = [_compare("=", value, item) for item in formula[2]]
        return True if True in results else None if None in results else False
    if kind == "count":
        count = sum(_side(("col", c), row) is not None for c in formula[1])
        return _compare(formula[2], count, formula[3])
    return _compare(formula[1], _side(formula[2], row), _side(formula[3], row))


# repair ------------------------------------------------------------------------------------

# Draws a valid value for a column (None when it cannot), and whether a column may change.
Fresh = Callable[[str], Any]


@attrs.frozen
class _Repair:
    row: dict[str, Any]
    fresh: Fresh
    movable: frozenset[str]
    not_null: frozenset[str]

    def make(self, formula: Formula, truth: bool) -> bool:
        """Change movable columns so that ``formula`` is ``truth``; False when that is out of reach."""
        try:
            if _value(formula, self.row) is truth:
                return True
        except _Unknown:
            return False
        kind = formula[0]
        if kind == "not":
            return self.make(formula[1], not truth)
        if kind in {"and", "or"}:
            every = (kind == "and") == truth
            if every:
                return all(self.make(part, truth) for part in formula[1])
            return any(self.make(part, truth) for part in formula[1])
        if kind == "null":
            return self._set(formula[1], None) if truth else self._set(formula[1], self.fresh(formula[1]))
        if kind == "in":
            if truth:
                return self._set(formula[1], formula[2][0])
            return self._redraw(formula, truth)
        if kind == "count":
            return self._count(formula, truth)
        op = formula[1] if truth else _NEGATE[formula[1]]
        return self._compare(op, formula[2], formula[3])

    def _set(self, column: str, value: Any) -> bool:
        if column not in self.movable or (value is None and column in self.not_null):
            return False
        self.row[column] = value
        return True

    def _redraw(self, formula: Formula, truth: bool, tries: int = 4) -> bool:
        for column in sorted(_columns(formula) & self.movable):
            for _ in range(tries):
                self._set(column, self.fresh(column))
                try:
                    if _value(formula, self.row) is truth:
                        return True
                except _Unknown:
                    return False
        return False

    def _count(self, formula: Formula, truth: bool) -> bool:
        _, columns, op, bound = formula
        op = op if truth else _NEGATE[op]
        present = [c for c in columns if self.row.get(c) is not None]
        wanted = {"=": bound, "<>": bound + 1 if bound == 0 else bound - 1, "<": bound - 1, "<=": bound,
                  ">": bound + 1, ">=": bound}[op]  # fmt: skip
        wanted = max(0, min(len(columns), wanted))
        for column in columns:
            if len(present) > wanted and column in present and self._set(column, None):
                present.remove(column)
            elif len(present) < wanted and column not in present and self._set(column, self.fresh(column)):
                present.append(column)
        return _value(("count", columns, op, bound), self.row) is True

    def _compare(self, op: str, left: Formula, right: Formula) -> bool:
        if left[0] == "const" or (right[0] == "col" and right[1] in self.movable and left[1] not in self.movable):
            left, right, op = right, left, _FLIP[op]
        column = left[1]
        for side in (left, right):
            if side[0] == "col" and self.row.get(side[1]) is None and not self._set(side[1], self.fresh(side[1])):
                return False
        other = _side(right, self.row)
        if op in {"=", "same"}:
            return self._set(column, other)
        if right[0] == "col" and op in {"<", "<=", ">", ">="} and right[1] in self.movable:
            # Swapping keeps both values drawn from their columns' own ranges.
            mine = self.row[column]
            self.row[column], self.row[right[1]] = other, mine
            if _compare(op, self.row[column], self.row[right[1]]):
                return True
            self.row[column], self.row[right[1]] = mine, other
        step = _step(other)
        if step is None:
            return self._redraw(("cmp", op, left, right), True)
        target = {"<": other - step, "<=": other, ">": other + step, ">=": other,
                  "<>": other + step, "distinct": other + step}.get(op)  # fmt: skip
        return target is not None and self._set(column, target) and _compare(op, self.row[column], other) is True


def _step(value: Any) -> Any:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return type(value)(1)
    if isinstance(value, dt.datetime):
        return dt.timedelta(hours=1)
    return None


def repair(
    row: dict[str, Any], checks: list[RowCheck], fresh: Fresh, movable: frozenset[str], not_null: frozenset[str]
) -> list[RowCheck]:
    """Move ``movable`` columns of ``row`` (in place) until every check holds; the checks still failing."""
    fixer = _Repair(row, fresh, movable, not_null)
    for _ in range(3):
        failing = [check for check in checks if check.holds(row) is False]
        if not failing:
            return []
        for check in failing:
            fixer.make(check.formula, True)
    return [check for check in checks if check.holds(row) is False]
