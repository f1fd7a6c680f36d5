"""Job-queue trigger code on the model against PostgreSQL: RETURNING … INTO, WITH … INSERT, UPDATE OF, intervals."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from _differential import differential_of
from bcastsim.db import DatabaseModel, Differential
from bcastsim.pg import Database

pytestmark = pytest.mark.postgres

FILES = [Path(__file__).parent / "fixtures" / "db" / "returning_with.sql"]


@pytest.fixture(scope="module")
def queue(bcastsim_database_factory: Callable[[Sequence[str | Path]], Database]) -> Iterator[Differential]:
    with differential_of(bcastsim_database_factory, FILES) as differential:
        yield differential


HISTORIES = {
    "counts kept by upsert and UPDATE … RETURNING INTO": [
        ["INSERT INTO jobs (id, queue) VALUES (1, 'a'), (2, 'a'), (3, 'b')"],
        ["DELETE FROM jobs WHERE id = 3", "DELETE FROM jobs WHERE id = 1"],
        ["DELETE FROM jobs WHERE id = 2", "INSERT INTO jobs (id, queue) VALUES (4, 'a')"],
    ],
    "a BEFORE UPDATE OF trigger with WITH … INSERT … SELECT and interval arithmetic": [
        ["INSERT INTO jobs (id, queue) VALUES (1, 'a'), (2, 'b')"],
        ["UPDATE jobs SET status = 'doing' WHERE id = 1", "UPDATE jobs SET queue = 'c' WHERE id = 2"],
        ["UPDATE jobs SET status = 'done'", "UPDATE jobs SET status = 'done' WHERE id = 1"],
    ],
    "RETURNING INTO: one row, none, and more than one (P0003 without STRICT)": [
        ["INSERT INTO jobs (id, queue) VALUES (1, 'a'), (2, 'b'), (3, 'b')"],
        ["SELECT claim('a')", "SELECT claim('a')", "SELECT claim('z')"],
        ["SELECT claim('b')"],
    ],
}


@pytest.mark.parametrize("name", sorted(HISTORIES))
def test_queue_triggers_match_postgres(queue: Differential, name: str) -> None:
    """Notifications, errors and commits of the job-queue triggers match PostgreSQL, statement by statement too."""
    history = HISTORIES[name]
    assert not queue.run_history([(steps, True) for steps in history]), name
    assert not queue.run_history([(steps, True) for steps in history], isolate_statements=True), name


def test_update_of_triggers_fire_before_the_row_is_written() -> None:
    """A BEFORE UPDATE OF status trigger runs when status is SET, and not for other columns."""
    model = DatabaseModel.from_sql(FILES)
    model.run_transaction(["INSERT INTO jobs (id, queue) VALUES (1, 'a')"])
    outcome = model.run_transaction(["UPDATE jobs SET queue = 'b' WHERE id = 1", "UPDATE jobs SET status = 'doing'"])
    events = [n.payload for n in outcome.notifications if n.channel == "job_events"]
    assert events == ['{"job" : 1, "kind" : "started"}']


def test_more_than_one_row_returned_into_a_variable_is_an_error() -> None:
    """UPDATE … RETURNING … INTO that hits two rows fails with P0003, as PL/pgSQL does without STRICT."""
    model = DatabaseModel.from_sql(FILES)
    outcome = model.run_transaction(["INSERT INTO jobs (id, queue) VALUES (1, 'b'), (2, 'b')", "SELECT claim('b')"])
    assert outcome.error is not None
    assert (outcome.error.sqlstate, outcome.error.step) == ("P0003", 1)
