"""When a message is sent, compared between two versions: narrowing (lost sends) and widening.

A site's ``emitted_when`` lists, per trigger operation, conditions that must all hold. The
conditions are decided, not compared as text: :mod:`bcastsim.review._logic` encodes them over
the row in SQL's three-valued logic and asks a solver (z3) for a row that the old version sends
on and the new one does not (*narrowed*), and the converse (*widened*). The example printed is
that row, a concrete OLD/NEW pair; conditions that are equivalent (``a IS DISTINCT FROM b`` and
``NOT (a IS NOT DISTINCT FROM b)``) are no change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from bcastsim.review._logic import Witness

__all__ = ["Change", "emission_changes"]


@attrs.frozen
class Change:
    """One operation whose sending changed: ``narrowed`` (sends lost) or widened, with an example."""

    operation: str
    narrowed: bool
    old: str
    new: str
    example: str | None
    #: the row behind ``example``: values of the columns read, the truth of conditions not modelled
    witness: Witness | None = None


def _text(conditions: tuple[str, ...]) -> str:
    return " AND ".join(conditions) if conditions else "always"


def emission_changes(
    old: tuple[tuple[str, tuple[str, ...]], ...], new: tuple[tuple[str, tuple[str, ...]], ...]
) -> list[Change]:
    """How sending changed per operation between two sites' ``emitted_when``."""
    # The solver (z3, some 8 MiB) is imported by the first question asked of it, not with the rules.
    from bcastsim.review._logic import escape

    before, after = dict(old), dict(new)
    changes = []
    for operation in [op for op in before if op not in after]:
        changes.append(Change(operation, True, _text(before[operation]), "never", None))
    for operation in [op for op in after if op not in before]:
        changes.append(Change(operation, False, "never", _text(after[operation]), None))
    for operation in [op for op in before if op in after]:
        if before[operation] == after[operation]:
            continue
        lost = escape(before[operation], after[operation], operation)
        gained = escape(after[operation], before[operation], operation)
        old_text, new_text = _text(before[operation]), _text(after[operation])
        if lost is not None:
            changes.append(Change(operation, True, old_text, new_text, str(lost), lost))
        if gained is not None:
            changes.append(Change(operation, False, old_text, new_text, str(gained), gained))
    return changes
