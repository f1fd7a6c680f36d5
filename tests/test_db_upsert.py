"""INSERT … ON CONFLICT on the model against PostgreSQL: arbiters, EXCLUDED, WHERE, and the triggers fired."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from _differential import differential_of
from bcastsim.db import DatabaseModel, Differential
from bcastsim.pg import Database

pytestmark = pytest.mark.postgres

UPSERT = [Path(__file__).parent / "fixtures" / "db" / "upsert.sql"]


@pytest.fixture(scope="module")
def upsert(bcastsim_database_factory: Callable[[Sequence[str | Path]], Database]) -> Iterator[Differential]:
    with differential_of(bcastsim_database_factory, UPSERT) as differential:
        yield differential


HISTORIES = {
    "trigger upserts: insert, update, WHERE false": [
        ["INSERT INTO events VALUES (1, 'a', 'x'), (2, 'a', 'y'), (3, 'a', 'y'), (4, 'b', NULL)"],
        ["INSERT INTO events VALUES (5, 'a', 'z')", "INSERT INTO events VALUES (6, 'b', 'q')"],
    ],
    "DO UPDATE with EXCLUDED and a WHERE": [
        ["INSERT INTO counters (name, hits) VALUES ('a', 1), ('b', 2)"],
        [
            "INSERT INTO counters (name, hits, last) VALUES ('a', 5, 'n'), ('c', 1, 'm')"
            " ON CONFLICT (name) DO UPDATE SET hits = counters.hits + EXCLUDED.hits, last = EXCLUDED.last"
            " WHERE counters.hits < 3"
        ],
        ["INSERT INTO counters AS c (name, hits) VALUES ('b', 9) ON CONFLICT (name) DO UPDATE SET hits = DEFAULT"],
    ],
    "DO NOTHING, with and without a target": [
        ["INSERT INTO counters (name, code) VALUES ('a', 'k1')"],
        ["INSERT INTO counters (name, code) VALUES ('a', 'k2'), ('b', 'k1'), ('c', 'k3') ON CONFLICT DO NOTHING"],
        ["INSERT INTO counters (name) VALUES ('a'), ('a'), ('d') ON CONFLICT (name) DO NOTHING"],
    ],
    "a row hit twice, a missing arbiter, a conflict on another key, a CHECK": [
        ["INSERT INTO counters (name) VALUES ('a'), ('a') ON CONFLICT (name) DO UPDATE SET hits = 1"],
        ["INSERT INTO counters (name) VALUES ('a') ON CONFLICT (last) DO NOTHING"],
        ["INSERT INTO counters (name, code) VALUES ('a', 'k'), ('b', 'z')"],
        ["INSERT INTO counters (name, code) VALUES ('b', 'k') ON CONFLICT (name) DO UPDATE SET code = EXCLUDED.code"],
        ["INSERT INTO counters (name) VALUES ('a') ON CONFLICT (name) DO UPDATE SET hits = counters.hits - 5"],
        ["INSERT INTO counters VALUES ('e')"],
    ],
}


@pytest.mark.parametrize("name", sorted(HISTORIES))
def test_upserts_match_postgres(upsert: Differential, name: str) -> None:
    """Row and statement triggers (BEFORE INSERT, then UPDATE on a conflict), errors and rows match PostgreSQL."""
    history = HISTORIES[name]
    assert not upsert.run_history([(steps, True) for steps in history]), name
    assert not upsert.run_history([(steps, True) for steps in history], isolate_statements=True), name


def test_upsert_fires_update_triggers_on_the_existing_row() -> None:
    """On a conflict the proposed row's BEFORE INSERT trigger fires, then BEFORE/AFTER UPDATE with OLD."""
    model = DatabaseModel.from_sql(UPSERT)
    model.run_transaction(["INSERT INTO counters (name, hits) VALUES ('a', 1)"])
    outcome = model.run_transaction(
        ["INSERT INTO counters (name, hits) VALUES ('a', 7) ON CONFLICT (name) DO UPDATE SET hits = EXCLUDED.hits"]
    )
    rows = [n.payload for n in outcome.notifications if n.channel == "counters_row"]
    assert [(row.split('"op" : ')[1][:8], '"old" : 1' in row) for row in rows] == [
        ('"INSERT"', False),
        ('"UPDATE"', True),
        ('"UPDATE"', True),
    ]
    statements = [n.payload for n in outcome.notifications if n.channel == "counters_statement"]
    assert statements == ["BEFORE INSERT", "BEFORE UPDATE", "AFTER UPDATE", "AFTER INSERT"]
