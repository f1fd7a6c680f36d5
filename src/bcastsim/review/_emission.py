"""When a message is sent, compared between two versions: narrowing (lost sends) and widening.

A site's ``emitted_when`` lists, per trigger operation, conditions that must all hold. Each
condition is read as a propositional formula: ``AND``/``OR``/``NOT`` over atoms (any other
sub-expression, e.g. ``NEW.status IS DISTINCT FROM OLD.status``, compared by its text);
``TG_OP`` tests are decided by the operation; ``UPDATE OF a, b`` is "a or b was updated".
The new version *narrows* an operation when some assignment of the atoms makes the old
condition true and the new one false: a write that used to send the message no longer does.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import attrs
import pglast
from pglast import ast
from pglast.enums import BoolExprType
from pglast.stream import RawStream

from bcastsim.review._analysis import truth_under

__all__ = ["Change", "emission_changes"]

Formula = tuple[Any, ...]  # ("atom", text) | ("const", bool) | ("and"|"or", (..)) | ("not", f)

_MAX_ATOMS = 14
_UPDATE_OF = re.compile(r"^UPDATE OF (.+)$")


@attrs.frozen
class Change:
    """One operation whose sending changed: ``narrowed`` (sends lost) or widened, with an example."""

    operation: str
    narrowed: bool
    old: str
    new: str
    example: str | None


def _atom(text: str) -> Formula:
    return ("atom", " ".join(re.sub(r"\d+", "#", text).lower().split()))


def _formula(node: Any, operation: str) -> Formula:
    if isinstance(node, ast.BoolExpr):
        parts = tuple(_formula(arg, operation) for arg in node.args or ())
        if node.boolop == BoolExprType.NOT_EXPR and parts:
            return ("not", parts[0])
        return ("and" if node.boolop == BoolExprType.AND_EXPR else "or", parts)
    decided = truth_under(node, operation)
    if decided is not None:
        return ("const", decided)
    try:
        text = str(RawStream()(node))
    except Exception:  # the deparser does not know every node: compare by type then
        text = type(node).__name__
    return _atom(text)


def _condition(text: str, operation: str) -> Formula:
    update_of = _UPDATE_OF.match(text)
    if update_of:
        return ("or", tuple(_atom(f"updated({c.strip()})") for c in update_of.group(1).split(",")))
    body = text.removeprefix("CASE WHEN ")
    try:
        parsed: Any = pglast.parse_sql(f"SELECT {body}")
        return _formula(parsed[0].stmt.targetList[0].val, operation)
    except Exception:  # loop and exception-handler guards are not SQL: an atom of their own
        return _atom(text)


def _conjunction(conditions: tuple[str, ...], operation: str) -> Formula:
    parts: list[Formula] = []
    for condition in conditions:
        if " OR " in condition and condition.startswith("(") and "UPDATE OF" in condition:
            alternatives = condition.split(" OR ")
            parts.append(("or", tuple(_conjunction(tuple(a.split(" AND ")), operation) for a in alternatives)))
        elif " AND UPDATE OF " in condition:
            when, _, columns = condition.partition(" AND UPDATE OF ")
            parts.append(("and", (_condition(when, operation), _condition(f"UPDATE OF {columns}", operation))))
        else:
            parts.append(_condition(condition, operation))
    return ("and", tuple(parts))


def _atoms(formula: Formula) -> Iterator[str]:
    kind = formula[0]
    if kind == "atom":
        yield formula[1]
    elif kind == "not":
        yield from _atoms(formula[1])
    elif kind in {"and", "or"}:
        for part in formula[1]:
            yield from _atoms(part)


def _value(formula: Formula, assignment: dict[str, bool]) -> bool:
    kind = formula[0]
    if kind == "atom":
        return assignment[formula[1]]
    if kind == "const":
        return bool(formula[1])
    if kind == "not":
        return not _value(formula[1], assignment)
    values = (_value(part, assignment) for part in formula[1])
    return all(values) if kind == "and" else any(values)


def _escapes(first: Formula, second: Formula) -> dict[str, bool] | None:
    """An assignment under which ``first`` holds and ``second`` does not, or None."""
    atoms = sorted(set(_atoms(first)) | set(_atoms(second)))
    if len(atoms) > _MAX_ATOMS:
        return None
    for values in itertools.product((True, False), repeat=len(atoms)):
        assignment = dict(zip(atoms, values, strict=True))
        if _value(first, assignment) and not _value(second, assignment):
            return assignment
    return None


def _text(conditions: tuple[str, ...]) -> str:
    return " AND ".join(conditions) if conditions else "always"


def _example(assignment: dict[str, bool]) -> str:
    return ", ".join(f"{atom} is {'true' if value else 'false'}" for atom, value in sorted(assignment.items()))


def emission_changes(
    old: tuple[tuple[str, tuple[str, ...]], ...], new: tuple[tuple[str, tuple[str, ...]], ...]
) -> list[Change]:
    """How sending changed per operation between two sites' ``emitted_when``."""
    before, after = dict(old), dict(new)
    changes = []
    for operation in [op for op in before if op not in after]:
        changes.append(Change(operation, True, _text(before[operation]), "never", None))
    for operation in [op for op in after if op not in before]:
        changes.append(Change(operation, False, "never", _text(after[operation]), None))
    for operation in [op for op in before if op in after]:
        if before[operation] == after[operation]:
            continue
        was = _conjunction(before[operation], operation)
        now = _conjunction(after[operation], operation)
        lost = _escapes(was, now)
        gained = _escapes(now, was)
        old_text, new_text = _text(before[operation]), _text(after[operation])
        if lost is not None:
            changes.append(Change(operation, True, old_text, new_text, _example(lost)))
        if gained is not None:
            changes.append(Change(operation, False, old_text, new_text, _example(gained)))
    return changes
