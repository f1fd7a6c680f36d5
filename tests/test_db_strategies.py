"""The database strategies: their SQL means what they generated, and it reaches the cases that matter."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bcastsim.db import DatabaseModel
from bcastsim.pg import Database
from bcastsim.strategies import History, histories, near_limit_text, sql_literal

_text = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40),
    near_limit_text(),
)
_MODEL = DatabaseModel.from_sql()


@given(text=_text)
def test_sql_literal_round_trips_through_the_model(text: str) -> None:
    """A text literal (long runs written as repeat(…)) evaluates back to the generated string."""
    txn = _MODEL.begin()
    try:
        assert txn.execute(f"SELECT {sql_literal(text)}") == [(text,)]
    finally:
        txn.rollback()


@pytest.mark.postgres
@settings(max_examples=30)
@given(text=_text)
def test_sql_literal_round_trips_through_postgres(bcastsim_shared_db: Database, text: str) -> None:
    """PostgreSQL reads the literal back as the same string, byte for byte."""
    assert bcastsim_shared_db.execute(f"SELECT {sql_literal(text)}") == [(text,)]


@settings(max_examples=60)
@given(history=histories())
def test_histories_are_replayable_sql(history: History) -> None:
    """Every generated step parses and runs on the model: errors are SQL errors, never unsupported constructs."""
    model = _MODEL
    model.reset()
    for spec in history.transactions:
        outcome = model.run_transaction(spec.steps, commit=spec.commit)
        assert outcome.error is None or outcome.error.sqlstate[:2] in ("22", "23", "3B")
