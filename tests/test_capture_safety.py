"""A transaction that raises anything is rolled back; text PostgreSQL cannot hold fails alike on both sides."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bcastsim import realtime_sql_file
from bcastsim.db import DatabaseModel
from bcastsim.pg import Database

SHOP_DB = Path(__file__).parents[1] / "examples" / "shop" / "db"
SHOP = [realtime_sql_file(), SHOP_DB / "schema.sql", SHOP_DB / "triggers.sql"]
_INSERT = "INSERT INTO customers (id, email, name) VALUES ('c1', 'a@b', {})"


class _Exploding:
    """A step object the capture cannot run."""


@pytest.mark.postgres
def test_non_database_exception_rolls_back_and_propagates(
    bcastsim_database_factory: Callable[[Sequence[str | Path]], Database],
) -> None:
    """The error reaches the caller, the session is idle and nothing the transaction wrote is kept."""
    database = bcastsim_database_factory(SHOP)
    with pytest.raises(AttributeError):
        database.run_transaction([_INSERT.format("'x'"), _Exploding()])  # type: ignore[list-item]
    after = database.run_transaction(["SELECT count(*) FROM customers"])
    assert after.committed
    assert after.error is None
    assert database.execute("SELECT count(*) FROM customers") == [(0,)]


def test_model_rolls_back_on_non_database_exception() -> None:
    """The model ends the transaction too, so the next example can reset it."""
    model = DatabaseModel.from_sql(SHOP)
    with pytest.raises(TypeError):
        model.run_transaction([_INSERT.format("'x'"), _Exploding()])
    model.reset()
    assert model.run_transaction([_INSERT.format("'x'")]).committed


_UNENCODABLE = st.one_of(
    st.text(min_size=1, max_size=4).map(lambda text: text + "\x00"),
    st.sampled_from(["\ud800", "a\udfff", "\udbff\udc00"]),
)


@pytest.mark.postgres
@pytest.mark.bcastsim_allow_vacuous  # refusals are the point: nothing is meant to fire
@settings(max_examples=20)
@given(text=_UNENCODABLE, isolate=st.booleans())
def test_nul_and_surrogates_fail_with_postgres_sqlstate(bcastsim_shared_db: Database, text: str, isolate: bool) -> None:
    """NUL and lone surrogates are refused with 22021 by the capture and by the model, and nothing commits."""
    statement = f"SELECT length('{text}')"
    real = bcastsim_shared_db.run_transaction([statement], isolate_statements=isolate)
    model = DatabaseModel.from_sql([realtime_sql_file()])
    mine = model.run_transaction([statement], isolate_statements=isolate)
    real_errors = [e.sqlstate for e in (real.error, *real.statement_errors) if e is not None]
    model_errors = [e.sqlstate for e in (mine.error, *mine.statement_errors) if e is not None]
    assert real_errors == model_errors == ["22021"]
    assert real.committed == mine.committed
