"""Convergence: after the system goes quiet, a client's view equals the database."""

from __future__ import annotations

from bcastsim.client._page import PageView

__all__ = ["view_differences"]


def view_differences(page: PageView, database: PageView) -> list[str]:
    """Human-readable differences, in a deterministic order; empty when the views agree."""
    out: list[str] = []
    for label, mine, truth in (
        ("current bid", page.current_bids, database.current_bids),
        ("winner", page.winners, database.winners),
        ("auction times", page.auction_times, database.auction_times),
    ):
        keys = sorted({*mine, *truth}, key=repr)
        for key in keys:
            if mine.get(key) != truth.get(key):
                out.append(f"{label} of {key}: page shows {mine.get(key)!r}, database holds {truth.get(key)!r}")
    return out
