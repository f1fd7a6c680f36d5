"""SQL's three-valued logic in z3: one set of rules for the analysis and the generator.

A SQL condition is true, false or NULL (unknown). It is encoded as a pair of z3 booleans
``(true, false)`` that never hold together; neither holding is NULL. An operand is a pair
``(present, value)``: ``present`` is ``value IS NOT NULL``. Both readers of conditions build
their formulas from the functions here — ``review._logic`` (does a change alter when a site
sends) and ``strategies._solver`` (which rows reach a site) — so NULL is judged the same way
by both: a comparison with a NULL operand is NULL, ``NOT NULL`` is NULL, ``NULL AND false`` is
false, ``NULL OR true`` is true, ``IS [NOT] DISTINCT FROM`` and ``IS [NOT] NULL`` are never NULL,
and ``x IN (…)`` over constants is true when one equals, false when ``x`` is present and none
does. (PostgreSQL's documentation, "Comparison Functions and Operators" and "Logical
Operators".)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import z3

__all__ = [
    "Operand",
    "Tri",
    "tri_and",
    "tri_bool_test",
    "tri_boolean",
    "tri_compare",
    "tri_constant",
    "tri_distinct",
    "tri_in",
    "tri_is_null",
    "tri_not",
    "tri_or",
    "tri_relation",
]

Tri = tuple[Any, Any]  # (is true, is false); neither: NULL
Operand = tuple[Any, Any]  # (is not null, value)


def tri_constant(value: bool | None) -> Tri:
    """``TRUE``, ``FALSE`` or ``NULL`` as a condition."""
    return z3.BoolVal(value is True), z3.BoolVal(value is False)


def tri_not(condition: Tri) -> Tri:
    """``NOT c``: true and false swap; NULL stays NULL."""
    return condition[1], condition[0]


def tri_and(parts: Sequence[Tri]) -> Tri:
    """``a AND b AND …``: true when all are, false when one is."""
    return z3.And(*[p[0] for p in parts]), z3.Or(*[p[1] for p in parts])


def tri_or(parts: Sequence[Tri]) -> Tri:
    """``a OR b OR …``: true when one is, false when all are."""
    return z3.Or(*[p[0] for p in parts]), z3.And(*[p[1] for p in parts])


def tri_relation(operator: str, a: Any, b: Any) -> Any:
    """The z3 relation of two non-NULL values (an integer meets a real as a real)."""
    if z3.is_int(a) and z3.is_real(b):
        a = z3.ToReal(a)
    if z3.is_real(a) and z3.is_int(b):
        b = z3.ToReal(b)
    if operator == "=":
        return a == b
    if operator in ("<>", "!="):
        return a != b
    return {"<": lambda: a < b, "<=": lambda: a <= b, ">": lambda: a > b, ">=": lambda: a >= b}[operator]()


def tri_compare(operator: str, left: Operand, right: Operand) -> Tri:
    """``a <op> b``: NULL when either side is NULL, else the relation."""
    relation = tri_relation(operator, left[1], right[1])
    both = z3.And(left[0], right[0])
    return z3.And(both, relation), z3.And(both, z3.Not(relation))


def tri_distinct(left: Operand, right: Operand) -> Tri:
    """``a IS DISTINCT FROM b``: one NULL and not the other, or both present and unequal; never NULL."""
    differ = z3.Or(left[0] != right[0], z3.And(left[0], right[0], tri_relation("<>", left[1], right[1])))
    return differ, z3.Not(differ)


def tri_is_null(operand: Operand) -> Tri:
    """``a IS NULL``; never NULL."""
    return z3.Not(operand[0]), operand[0]


def tri_in(operand: Operand, constants: Sequence[Any]) -> Tri:
    """``a IN (c1, c2, …)`` over non-NULL constants: NULL when ``a`` is."""
    return tri_or([tri_compare("=", operand, (z3.BoolVal(True), c)) for c in constants])


def tri_boolean(operand: Operand) -> Tri:
    """A boolean column used as a condition: NULL when it is NULL."""
    return z3.And(operand[0], operand[1]), z3.And(operand[0], z3.Not(operand[1]))


_BOOL_TESTS = ("true", "not true", "false", "not false", "unknown", "not unknown")


def tri_bool_test(condition: Tri, test: str) -> Tri:
    """``c IS [NOT] TRUE / FALSE / UNKNOWN`` (``test`` as written, lower case); never NULL."""
    true, false = condition
    unknown = z3.And(z3.Not(true), z3.Not(false))
    holds = {"true": true, "false": false, "unknown": unknown}[test.removeprefix("not ")]
    if test.startswith("not "):
        holds = z3.Not(holds)
    return holds, z3.Not(holds)
