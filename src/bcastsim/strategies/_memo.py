"""What the strategies work out once per schema, and the Hypothesis strategies they draw from again and again.

A history draws a few hundred values; building a fresh strategy object for each draw
(``st.integers(0, 999)``, ``st.sampled_from(rows)``, a column's value strategy) costs more
than the draw itself, because Hypothesis validates and labels every new object. The
column domains, CHECK formulas, table orders and value strategies depend on the schema
alone, so they are kept per schema (by identity, like the solver's decisions), and the
small integer strategies are kept by their bounds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from hypothesis import strategies as st

from bcastsim.db import Schema

__all__ = ["choice", "integers", "per_schema", "pick", "remembered"]

T = TypeVar("T")

_memos: dict[int, tuple[Schema, dict[Hashable, Any]]] = {}


def per_schema(schema: Schema) -> dict[Hashable, Any]:
    """The memo of ``schema``: kept while the schema object lives in this process."""
    entry = _memos.get(id(schema))
    if entry is None or entry[0] is not schema:
        entry = (schema, {})
        _memos[id(schema)] = entry
    return entry[1]


def remembered(schema: Schema, key: Hashable, make: Callable[[], T]) -> T:
    """``make()`` the first time ``key`` is asked of ``schema``, the same object after that."""
    memo = per_schema(schema)
    try:
        return memo[key]  # type: ignore[no-any-return]
    except KeyError:
        value = memo[key] = make()
        return value


@lru_cache(maxsize=4096)
def integers(low: int, high: int) -> st.SearchStrategy[int]:
    """``st.integers(low, high)``, one object per pair of bounds."""
    return st.integers(low, high)


# The span label of a choice: Hypothesis' mutator copies choices between spans of one label, and a
# choice among rows is not an integer drawn for a count or a weight.
_CHOICE_LABEL = int.from_bytes(hashlib.sha256(b"bcastsim.strategies.choice").digest()[:8], "big")
_PICK_LABEL = int.from_bytes(hashlib.sha256(b"bcastsim.strategies.pick").digest()[:8], "big")


def choice(draw: st.DrawFn, items: Sequence[T]) -> T:
    """One of ``items`` (like ``st.sampled_from``, shrinking to the first, without a new strategy per call)."""
    return items[draw(integers(0, len(items) - 1), label=_CHOICE_LABEL)]


def pick(draw: st.DrawFn, weighted: Sequence[tuple[int, T]]) -> T:
    """One of the ``(weight, value)`` pairs' values, by weight, in one draw (shrinking to the first)."""
    ticket = draw(integers(0, sum(weight for weight, _ in weighted) - 1), label=_PICK_LABEL)
    for weight, value in weighted:
        if ticket < weight:
            return value
        ticket -= weight
    raise AssertionError("unreachable")
