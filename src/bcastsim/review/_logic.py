"""Conditions over a row, decided with a solver (z3) in SQL's three-valued logic.

A condition (an ``IF`` guard, a trigger's ``WHEN``, ``UPDATE OF``) is encoded as two
propositions, *is true* and *is false*; NULL is neither. ``AND``/``OR``/``NOT`` follow SQL's
truth tables; ``=``, ``<>``, ``<``, ``<=``, ``>``, ``>=`` and ``IN`` are NULL when an operand is
NULL; ``IS [NOT] DISTINCT FROM``, ``IS [NOT] NULL`` and ``IS [NOT] TRUE/FALSE`` are never NULL;
``TG_OP`` tests are decided by the operation; on ``INSERT`` every ``OLD.col`` is NULL and on
``DELETE`` every ``NEW.col`` (PostgreSQL 11+ passes a NULL record). Each column is a value of
one sort, inferred from what it is compared with (numbers, strings, booleans); an expression
the encoder does not model (a function call, a sub-select) is an opaque condition of its own,
the same text the same condition.

A message is sent when its condition *is true*. The new version narrows an operation when the
solver finds a row under which the old condition is true and the new one is not; the model it
returns is the witness: a concrete OLD/NEW pair (and the truth of any opaque condition).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import attrs
import pglast
import z3
from pglast import ast
from pglast.enums import A_Expr_Kind, BoolExprType, BoolTestType, NullTestType
from pglast.stream import RawStream

from bcastsim._sqllogic import (
    tri_and,
    tri_bool_test,
    tri_boolean,
    tri_compare,
    tri_constant,
    tri_distinct,
    tri_is_null,
    tri_not,
    tri_or,
)
from bcastsim.sqlmodel import tg_op_truth

__all__ = ["Witness", "absent_read_matters", "equivalent", "escape"]

_UPDATE_OF = re.compile(r"^UPDATE OF (.+)$")
_COMPARISONS = {"=", "<>", "!=", "<", "<=", ">", ">="}
# Seconds the solver may spend on one question; a timeout is "unknown", never a finding.
_TIMEOUT_MS = 2000

Tri = tuple[Any, Any]  # (is true, is false) as z3 booleans


@attrs.frozen
class Witness:
    """A concrete row (values of the columns the conditions read) and the truth of opaque conditions."""

    values: tuple[tuple[str, str | None], ...]
    opaque: tuple[tuple[str, bool | None], ...] = ()

    def record(self, name: str) -> dict[str, str | None]:
        """The witness's values of one record (``"OLD"`` or ``"NEW"``): column → SQL literal (None: NULL).

        What a test needs to write the row: the columns the conditions read, each as a literal
        PostgreSQL (and the ``db`` model) can insert.
        """
        prefix = f"{name.upper()}."
        return {column[len(prefix) :]: value for column, value in self.values if column.startswith(prefix)}

    def __str__(self) -> str:
        parts = [f"{name} = {'NULL' if value is None else value}" for name, value in self.values]
        parts += [f"({text}) is {'NULL' if truth is None else str(truth).lower()}" for text, truth in self.opaque]
        return ", ".join(parts) if parts else "any row"


def _deparse(node: Any) -> str:
    try:
        return str(RawStream()(node))
    except Exception:  # the deparser does not know every node: name it by its type
        return type(node).__name__


def _ref_name(node: Any) -> str | None:
    """``NEW.col``, ``OLD.col`` or a variable, upper-cased record and lower-cased column; None otherwise."""
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if not isinstance(node, ast.ColumnRef):
        return None
    fields = [str(f.sval or "") for f in node.fields or () if isinstance(f, ast.String)]
    if len(fields) != len(node.fields or ()) or not fields:
        return None
    if len(fields) == 2 and fields[0].lower() in {"new", "old"}:
        return f"{fields[0].upper()}.{fields[1].lower()}"
    if len(fields) == 1 and fields[0].lower() != "tg_op":
        return fields[0].lower()
    return None


def _const(node: Any) -> tuple[str, Any] | None:
    """A literal as (sort, value): ("num", Fraction), ("str", text), ("bool", bool), ("null", None)."""
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if not isinstance(node, ast.A_Const):
        return None
    if node.isnull:
        return ("null", None)
    value = node.val
    if isinstance(value, ast.Integer):
        return ("num", Fraction(value.ival or 0))
    if isinstance(value, ast.Float):
        return ("num", Fraction(str(value.fval)))
    if isinstance(value, ast.String):
        return ("str", str(value.sval))
    if isinstance(value, ast.Boolean):
        return ("bool", bool(value.boolval))
    return None


class _Sorts:
    """Union-find over column names: columns compared with each other share a sort."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.hints: dict[str, set[str]] = {}

    def find(self, name: str) -> str:
        self.parent.setdefault(name, name)
        while self.parent[name] != name:
            name = self.parent[name]
        return name

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra
            self.hints.setdefault(ra, set()).update(self.hints.pop(rb, set()))

    def hint(self, name: str, sort: str) -> None:
        self.hints.setdefault(self.find(name), set()).add(sort)

    def sort(self, name: str) -> str | None:
        """The column's sort, or None when it is compared with values of different sorts."""
        hints = self.hints.get(self.find(name), set()) - {"null"}
        if len(hints) > 1:
            return None
        return next(iter(hints), "str")

    def learn(self, node: Any) -> None:
        """Collect sort hints from every comparison in ``node``."""
        for child in _walk(node):
            operands: list[Any] = []
            if isinstance(child, ast.A_Expr):
                operands = [child.lexpr]
                operands += list(child.rexpr) if isinstance(child.rexpr, tuple | list) else [child.rexpr]
            elif isinstance(child, ast.BooleanTest) or (isinstance(child, ast.BoolExpr) and child.boolop is not None):
                for arg in [child.arg] if isinstance(child, ast.BooleanTest) else list(child.args or ()):
                    name = _ref_name(arg)
                    if name is not None:
                        self.hint(name, "bool")
                continue
            names = [n for n in (_ref_name(o) for o in operands) if n is not None]
            for other in names[1:]:
                self.union(names[0], other)
            for operand in operands:
                const = _const(operand)
                if const is not None and names:
                    self.hint(names[0], const[0])


def _walk(node: Any) -> Iterable[Any]:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Node):
            yield current
            for slot in getattr(type(current), "__slots__", ()):
                stack.append(getattr(current, slot, None))
        elif isinstance(current, tuple | list):
            stack.extend(current)


def _parse(text: str) -> Any | None:
    try:
        parsed: Any = pglast.parse_sql(f"SELECT {text}")
        return parsed[0].stmt.targetList[0].val
    except Exception:  # not SQL (a loop or handler guard): an opaque condition
        return None


class _Encoder:
    """Encodes conditions of one operation; shared between the two versions compared."""

    def __init__(self, operation: str, sorts: _Sorts, *, null_safe_absent: bool = False) -> None:
        self.operation = operation
        self.sorts = sorts
        # Read a comparison with a column of the absent record (OLD on INSERT, NEW on DELETE) as the
        # author plausibly meant it: = as IS NOT DISTINCT FROM, <> as IS DISTINCT FROM.
        self.null_safe_absent = null_safe_absent
        self.unnatural_on_absent = False
        self.columns: dict[str, tuple[Any, Any, str]] = {}  # name → (is not null, value, sort)
        self.opaque: dict[str, Tri] = {}
        self.facts: list[Any] = []

    def column(self, name: str) -> tuple[Any, Any, str] | None:
        sort = self.sorts.sort(name)
        if sort is None:
            return None
        if name not in self.columns:
            present = z3.Bool(f"present {name}")
            value = {"num": z3.Real, "str": z3.String, "bool": z3.Bool}[sort](f"value {name}")
            self.columns[name] = (present, value, sort)
            absent_record = (name.startswith("OLD.") and self.operation == "INSERT") or (
                name.startswith("NEW.") and self.operation == "DELETE"
            )
            if absent_record:
                self.facts.append(z3.Not(present))
        return self.columns[name]

    def atom(self, text: str, two_valued: bool = False) -> Tri:
        key = " ".join(text.split())
        if key not in self.opaque:
            true, false = z3.Bool(f"true {key}"), z3.Bool(f"false {key}")
            self.opaque[key] = (true, false)
            self.facts.append(z3.Not(z3.And(true, false)))
            if two_valued:
                self.facts.append(z3.Or(true, false))
        return self.opaque[key]

    def term(self, node: Any, sort: str) -> tuple[Any, Any] | None:
        """(is not null, value) of an operand of ``sort``; None when it is not a column or a literal of it."""
        name = _ref_name(node)
        if name is not None:
            column = self.column(name)
            if column is None or column[2] != sort:
                return None
            return column[0], column[1]
        const = _const(node)
        if const is None:
            return None
        if const[0] == "null":
            return z3.BoolVal(False), {"num": z3.RealVal(0), "str": z3.StringVal(""), "bool": z3.BoolVal(False)}[sort]
        if const[0] != sort:
            return None
        if sort == "num":
            return z3.BoolVal(True), z3.RealVal(str(const[1]))
        if sort == "str":
            return z3.BoolVal(True), z3.StringVal(const[1])
        return z3.BoolVal(True), z3.BoolVal(const[1])

    def _operand_sort(self, *nodes: Any) -> str | None:
        for node in nodes:
            name = _ref_name(node)
            if name is not None:
                return self.sorts.sort(name)
        for node in nodes:
            const = _const(node)
            if const is not None and const[0] != "null":
                return str(const[0])
        return None

    def _absent(self, node: Any) -> bool:
        name = _ref_name(node)
        return name is not None and (
            (name.startswith("OLD.") and self.operation == "INSERT")
            or (name.startswith("NEW.") and self.operation == "DELETE")
        )

    def compare(self, operator: str, left: Any, right: Any, node: Any) -> Tri:
        if self._absent(left) or self._absent(right):
            if operator not in {"=", "<>", "!="}:
                self.unnatural_on_absent = True
            elif self.null_safe_absent:
                flagged = self.unnatural_on_absent
                differ, same = self.distinct(left, right, node)
                self.unnatural_on_absent = flagged
                return (same, differ) if operator == "=" else (differ, same)
        sort = self._operand_sort(left, right)
        a = self.term(left, sort) if sort else None
        b = self.term(right, sort) if sort else None
        if a is None or b is None or (sort != "num" and operator not in {"=", "<>", "!="}):
            return self.atom(_deparse(node))
        return tri_compare(operator, a, b)

    def distinct(self, left: Any, right: Any, node: Any) -> Tri:
        if self._absent(left) or self._absent(right):
            # IS DISTINCT FROM the absent record holds for any non-NULL value: an INSERT counts as a
            # change of every column. Whether that is meant is the author's call, so it matters.
            self.unnatural_on_absent = True
        sort = self._operand_sort(left, right)
        a = self.term(left, sort) if sort else None
        b = self.term(right, sort) if sort else None
        if a is None or b is None:
            return self.atom(_deparse(node), two_valued=True)
        return tri_distinct(a, b)

    def condition(self, node: Any) -> Tri:
        decided = tg_op_truth(node, self.operation)
        if decided is not None:
            return tri_constant(decided)
        if isinstance(node, ast.BoolExpr):
            parts = [self.condition(arg) for arg in node.args or ()]
            if node.boolop == BoolExprType.NOT_EXPR:
                return tri_not(parts[0])
            if node.boolop == BoolExprType.AND_EXPR:
                return tri_and(parts)
            return tri_or(parts)
        if isinstance(node, ast.A_Expr):
            names = [n.sval for n in node.name or () if isinstance(n, ast.String)]
            operator = str(names[-1]) if names else ""
            if node.kind == A_Expr_Kind.AEXPR_OP and operator in _COMPARISONS:
                return self.compare(operator, node.lexpr, node.rexpr, node)
            if node.kind == A_Expr_Kind.AEXPR_DISTINCT:
                return self.distinct(node.lexpr, node.rexpr, node)
            if node.kind == A_Expr_Kind.AEXPR_NOT_DISTINCT:
                return tri_not(self.distinct(node.lexpr, node.rexpr, node))
            if node.kind == A_Expr_Kind.AEXPR_IN and isinstance(node.rexpr, tuple | list):
                found = tri_or([self.compare("=", node.lexpr, item, node) for item in node.rexpr])
                return found if operator == "=" else tri_not(found)
            return self.atom(_deparse(node))
        if isinstance(node, ast.NullTest):
            present = self._present(node.arg, node)
            if present is None:
                return self.atom(_deparse(node), two_valued=True)
            is_null = tri_is_null((present, None))
            return is_null if node.nulltesttype == NullTestType.IS_NULL else tri_not(is_null)
        if isinstance(node, ast.BooleanTest):
            test = {
                BoolTestType.IS_TRUE: "true",
                BoolTestType.IS_NOT_TRUE: "not true",
                BoolTestType.IS_FALSE: "false",
                BoolTestType.IS_NOT_FALSE: "not false",
                BoolTestType.IS_UNKNOWN: "unknown",
                BoolTestType.IS_NOT_UNKNOWN: "not unknown",
            }.get(node.booltesttype or BoolTestType.IS_TRUE, "true")
            return tri_bool_test(self.condition(node.arg), test)
        const = _const(node)
        if const is not None and const[0] in {"bool", "null"}:
            return tri_constant(bool(const[1]) if const[0] == "bool" else None)
        name = _ref_name(node)
        if name is not None:
            column = self.column(name)
            if column is not None and column[2] == "bool":
                return tri_boolean((column[0], column[1]))
        return self.atom(_deparse(node))

    def _present(self, node: Any, whole: Any) -> Any | None:
        name = _ref_name(node)
        if name is not None:
            column = self.column(name)
            return column[0] if column is not None else None
        const = _const(node)
        if const is not None:
            return z3.BoolVal(const[0] != "null")
        return None

    def text(self, text: str) -> Tri:
        """A condition as ``emitted_when`` writes it (SQL, ``UPDATE OF a, b``, or a guard of its own)."""
        update_of = _UPDATE_OF.match(text)
        if update_of:
            columns = [
                self.atom(f"updated({c.strip().lower()})", two_valued=True) for c in update_of.group(1).split(",")
            ]
            return z3.Or(*[c[0] for c in columns]), z3.And(*[c[1] for c in columns])
        node = _parse(text.removeprefix("CASE WHEN "))
        if node is None:
            return self.atom(text, two_valued=True)
        return self.condition(node)

    def conjunction(self, conditions: tuple[str, ...]) -> Any:
        """Whether a message with these conditions (all must be true) is sent."""
        parts: list[Any] = []
        for condition in conditions:
            if " OR " in condition and condition.startswith("(") and "UPDATE OF" in condition:
                alternatives = [a.strip().removeprefix("(").removesuffix(")") for a in condition.split(" OR ")]
                parts.append(z3.Or(*[self.conjunction(tuple(a.split(" AND "))) for a in alternatives]))
            elif " AND UPDATE OF " in condition:
                when, _, columns = condition.partition(" AND UPDATE OF ")
                parts.append(z3.And(self.text(when)[0], self.text(f"UPDATE OF {columns}")[0]))
            else:
                parts.append(self.text(condition)[0])
        return z3.And(*parts) if parts else z3.BoolVal(True)


def _sorts(conditions: Iterable[str]) -> _Sorts:
    sorts = _Sorts()
    for condition in conditions:
        for piece in re.split(r" AND UPDATE OF | OR ", condition):
            node = _parse(piece.strip().removeprefix("(").removesuffix(")").removeprefix("CASE WHEN "))
            if node is not None:
                sorts.learn(node)
    return sorts


def _render(value: Any, sort: str) -> str:
    if sort == "str":
        text = value.as_string() if hasattr(value, "as_string") else str(value)
        return "'" + text.replace("'", "''") + "'"
    if sort == "bool":
        return "true" if z3.is_true(value) else "false"
    if z3.is_rational_value(value):
        fraction = Fraction(value.numerator_as_long(), value.denominator_as_long())
        return str(fraction.numerator) if fraction.denominator == 1 else str(float(fraction))
    return str(value)


def escape(first: tuple[str, ...], second: tuple[str, ...], operation: str) -> Witness | None:
    """A row under which ``first``'s conditions all hold and ``second``'s do not; None: there is none.

    None also when the solver gives up (a time-out): an undecided question is never a finding.
    """
    if set(second) <= set(first):
        # Each condition is encoded from its text alone, so ``first`` holding all of ``second``'s
        # conditions word for word implies them: no row escapes, and the solver need not be asked
        # (``NEW.c IS DISTINCT FROM OLD.c`` as a site's guard and as the change asked about).
        return None
    encoder = _Encoder(operation, _sorts((*first, *second)))
    sends_first = encoder.conjunction(first)
    sends_second = encoder.conjunction(second)
    solver = z3.Solver()
    solver.set("timeout", _TIMEOUT_MS)
    solver.add(*encoder.facts)
    solver.add(sends_first, z3.Not(sends_second))
    if solver.check() != z3.sat:
        return None
    model = solver.model()
    values: list[tuple[str, str | None]] = []
    for name, (present, value, sort) in sorted(encoder.columns.items()):
        if z3.is_true(model.eval(present, model_completion=True)):
            values.append((name, _render(model.eval(value, model_completion=True), sort)))
        else:
            values.append((name, None))
    opaque: list[tuple[str, bool | None]] = []
    for text, (true, false) in sorted(encoder.opaque.items()):
        if z3.is_true(model.eval(true, model_completion=True)):
            opaque.append((text, True))
        elif z3.is_true(model.eval(false, model_completion=True)):
            opaque.append((text, False))
        else:
            opaque.append((text, None))
    return Witness(tuple(values), tuple(opaque))


def equivalent(first: tuple[str, ...], second: tuple[str, ...], operation: str) -> bool:
    """Whether two condition lists send on exactly the same rows under ``operation``."""
    return escape(first, second, operation) is None and escape(second, first, operation) is None


def absent_read_matters(condition: str, operation: str) -> bool:
    """Whether reading the absent record (OLD on INSERT, NEW on DELETE) changes when ``condition`` holds.

    The condition as PostgreSQL evaluates it (the absent columns NULL) is compared with the condition
    read null-safely (``=`` as IS NOT DISTINCT FROM, ``<>`` as IS DISTINCT FROM on absent columns). When
    both hold on exactly the same rows, the NULL changes nothing (``NEW.s = 'x' OR OLD.s = 'x'`` on
    INSERT); when they differ (``NEW.s <> OLD.s`` never holds on INSERT), it does. An ordering test
    (``<``, ``>``) on an absent column has no null-safe reading: it matters. Undecided: it matters.
    """
    sorts = _sorts((condition,))
    actual = _Encoder(operation, sorts)
    meant = _Encoder(operation, sorts, null_safe_absent=True)
    holds = actual.conjunction((condition,))
    holds_meant = meant.conjunction((condition,))
    if actual.unnatural_on_absent or meant.unnatural_on_absent:
        return True
    solver = z3.Solver()
    solver.set("timeout", _TIMEOUT_MS)
    solver.add(*actual.facts, *meant.facts)
    solver.add(holds != holds_meant)
    return bool(solver.check() != z3.unsat)
