"""The database model against real PostgreSQL on generated histories.

Every example resets both sides (one TRUNCATE on the server), runs the same
transactions on each and requires identical observations: notifications byte
for byte and in order, errors by SQLSTATE and step, realtime.messages rows,
warnings. A failure shrinks to a minimal history, printed as a psql script.

``BCASTSIM_EXAMPLES=5000`` raises the example count for a long run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from bcastsim._resources import builtin_sql_files
from bcastsim.db import DatabaseModel, Differential
from bcastsim.pg import Database
from bcastsim.strategies import EDGES, VALID, History, histories

pytestmark = pytest.mark.postgres

EXAMPLES = max(200, int(os.environ.get("BCASTSIM_EXAMPLES", "0") or 0))
FIXTURES = Path(__file__).parent / "fixtures" / "db"
# Committing histories run every trigger; edge-heavy ones run every error path.
_HISTORIES = st.sampled_from([VALID, EDGES]).flatmap(lambda mix: histories(mix=mix))


@pytest.fixture(scope="module")
def differential(
    bcastsim_database_factory: Callable[[Sequence[str | Path]], Database],
) -> Iterator[Differential]:
    files = builtin_sql_files()
    pair = Differential.for_tables(bcastsim_database_factory(files), DatabaseModel.from_sql(files))
    yield pair
    pair.close()


@pytest.fixture(scope="module")
def realtime_differential(
    bcastsim_database_factory: Callable[[Sequence[str | Path]], Database],
) -> Iterator[Differential]:
    sql = builtin_sql_files()
    files = [sql[0], sql[1], FIXTURES / "realtime_send_triggers.sql"]
    pair = Differential.for_tables(bcastsim_database_factory(files), DatabaseModel.from_sql(files))
    yield pair
    pair.close()


def _check(differential: Differential, history: History, isolate: bool) -> None:
    note(f"-- isolate_statements={isolate}\n{history.to_sql(isolate_statements=isolate)}")
    mismatches = differential.run_history(
        [(spec.steps, spec.commit) for spec in history.transactions], isolate_statements=isolate
    )
    assert not mismatches, "\n".join(str(m) for m in mismatches)


@settings(max_examples=EXAMPLES)
@given(history=_HISTORIES, isolate=st.booleans())
def test_model_matches_postgres_on_generated_histories(
    differential: Differential, history: History, isolate: bool
) -> None:
    """Notifications, errors and commits of the model equal PostgreSQL's on any generated history."""
    _check(differential, history, isolate)


@settings(max_examples=max(50, EXAMPLES // 4))
@given(history=_HISTORIES, isolate=st.booleans())
def test_model_matches_postgres_through_realtime_send(
    realtime_differential: Differential, history: History, isolate: bool
) -> None:
    """With triggers that call realtime.send, messages rows, private flags and warnings match PostgreSQL's."""
    _check(realtime_differential, history, isolate)
