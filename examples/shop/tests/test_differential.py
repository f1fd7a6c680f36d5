"""bcastsim's model of the shop's triggers agrees with PostgreSQL on every generated history."""

from __future__ import annotations

from hypothesis import given, note, settings
from hypothesis import strategies as st

from bcastsim.db import Differential, load_schema
from bcastsim.strategies import EDGES, VALID, History, histories
from conftest import SQL_FILES

SCHEMA = load_schema(SQL_FILES)


# Deleting an order that has no items left is the rarest statement the order_deleted site needs.
@settings(max_examples=200)
@given(history=st.sampled_from([VALID, EDGES]).flatmap(lambda mix: histories(SCHEMA, mix=mix)))
def test_model_matches_postgres(bcastsim_differential: Differential, history: History) -> None:
    """Commits, errors, notifications and realtime messages are the same on both sides."""
    note(history.to_sql())
    mismatches = bcastsim_differential.run_history([(spec.steps, spec.commit) for spec in history.transactions])
    assert not mismatches, "\n".join(str(m) for m in mismatches)
