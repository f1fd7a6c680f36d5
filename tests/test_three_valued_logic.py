"""The one encoding of SQL's three-valued logic (bcastsim._sqllogic) that the analysis and the generator share."""

from __future__ import annotations

from typing import Any

import pytest
import z3

from bcastsim import _sqllogic as _z3
from bcastsim._sqllogic import (
    Tri,
    tri_and,
    tri_bool_test,
    tri_compare,
    tri_constant,
    tri_distinct,
    tri_in,
    tri_is_null,
    tri_not,
    tri_or,
)
from bcastsim.review import _logic
from bcastsim.strategies import _solver


def _value(condition: Tri) -> bool | None:
    """What the pair says once simplified: True, False or None (NULL)."""
    true, false = (z3.is_true(z3.simplify(part)) for part in condition)
    assert not (true and false)
    return True if true else False if false else None


def _num(value: int | None) -> tuple[Any, Any]:
    return (z3.BoolVal(value is not None), z3.RealVal(value if value is not None else 0))


T, F, N = tri_constant(True), tri_constant(False), tri_constant(None)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (tri_and([N, F]), False),
        (tri_and([N, T]), None),
        (tri_or([N, T]), True),
        (tri_or([N, F]), None),
        (tri_not(N), None),
        (tri_not(F), True),
        (tri_compare("=", _num(None), _num(None)), None),
        (tri_compare("<", _num(1), _num(2)), True),
        (tri_compare(">=", _num(1), _num(None)), None),
        (tri_distinct(_num(None), _num(None)), False),
        (tri_distinct(_num(None), _num(1)), True),
        (tri_distinct(_num(1), _num(1)), False),
        (tri_is_null(_num(None)), True),
        (tri_in(_num(None), [z3.RealVal(1)]), None),
        (tri_in(_num(3), [z3.RealVal(1), z3.RealVal(2)]), False),
        (tri_in(_num(2), [z3.RealVal(1), z3.RealVal(2)]), True),
        (tri_bool_test(N, "unknown"), True),
        (tri_bool_test(N, "not true"), True),
        (tri_bool_test(F, "not false"), False),
    ],
)
def test_conditions_are_judged_as_postgresql_judges_them(condition: Tri, expected: bool | None) -> None:
    """NULL AND FALSE is false, NULL OR TRUE true, comparisons with NULL NULL, DISTINCT and IS never NULL."""
    assert _value(condition) is expected


def test_an_integer_meets_a_real_as_a_real() -> None:
    """1 = 1.0 holds across z3's integer and real sorts."""
    assert _value(tri_compare("=", (z3.BoolVal(True), z3.IntVal(1)), (z3.BoolVal(True), z3.RealVal(1)))) is True


def test_the_analysis_and_the_generator_build_on_the_same_rules() -> None:
    """review._logic and strategies._solver take their three-valued rules from bcastsim._sqllogic, not a copy."""
    for name in ("tri_and", "tri_or", "tri_not", "tri_compare", "tri_distinct", "tri_is_null"):
        shared = getattr(_z3, name)
        assert getattr(_logic, name) is shared
        assert getattr(_solver, name) is shared
