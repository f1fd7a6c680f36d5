"""The model against PostgreSQL on schemas the strategies were not written for."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from _differential import differential_of
from bcastsim import realtime_sql_file
from bcastsim.db import Differential
from bcastsim.pg import Database
from bcastsim.strategies import EDGES, VALID, History, histories

pytestmark = pytest.mark.postgres

OWN = Path(__file__).parent / "fixtures" / "own"
SHOP_DB = Path(__file__).parents[1] / "examples" / "shop" / "db"
SCHEMAS = {
    "shop": [realtime_sql_file(), SHOP_DB / "schema.sql", SHOP_DB / "triggers.sql"],
    "queue": [OWN / "queue.sql"],
    "job_events": [OWN / "job_events.sql"],
    "bookings": [OWN / "bookings.sql"],
}
EXAMPLES = max(60, int(os.environ.get("BCASTSIM_EXAMPLES", "0") or 0) // 4)


@pytest.fixture(scope="module", params=sorted(SCHEMAS))
def pair(
    request: pytest.FixtureRequest, bcastsim_database_factory: Callable[[Sequence[str | Path]], Database]
) -> Iterator[tuple[Differential, str]]:
    files = SCHEMAS[request.param]
    with differential_of(bcastsim_database_factory, files) as differential:
        yield differential, request.param


@settings(max_examples=EXAMPLES)
@given(data=st.data(), isolate=st.booleans())
def test_model_matches_postgres_on_own_schemas(pair: tuple[Differential, str], data: st.DataObject,
                                               isolate: bool) -> None:  # fmt: skip
    """Messages, errors, commits match PostgreSQL: own keys, enums, domains, WITH, CASCADE, DO DDL, bytea, NOTIFY."""
    differential, name = pair
    mix = data.draw(st.sampled_from([VALID, EDGES]))
    history: History = data.draw(histories(differential.model.schema, mix=mix))
    note(f"-- {name}, isolate_statements={isolate}\n{history.to_sql(isolate_statements=isolate)}")
    mismatches = differential.run_history(
        [(spec.steps, spec.commit) for spec in history.transactions], isolate_statements=isolate
    )
    assert not mismatches, "\n".join(str(m) for m in mismatches)


def test_missing_realtime_schema_fails_alike(
    bcastsim_database_factory: Callable[[Sequence[str | Path]], Database],
) -> None:
    """Without the realtime stub both sides fail the call with 3F000; the model's message says how to load it."""
    files = [SHOP_DB / "schema.sql", SHOP_DB / "triggers.sql"]
    steps = ["INSERT INTO inventory (store, sku, quantity) VALUES ('s1', 'k1', 1)"]
    with differential_of(bcastsim_database_factory, files) as differential:
        real, mine, mismatch = differential.run_transaction(steps)
    assert mismatch is None, str(mismatch)
    assert real.error is not None
    assert real.error.sqlstate == "3F000"
    assert mine.error is not None
    assert "bcastsim sql realtime" in mine.error.message


def test_generated_always_identity_refuses_explicit_values_alike(
    bcastsim_database_factory: Callable[[Sequence[str | Path]], Database],
) -> None:
    """An explicit value for a GENERATED ALWAYS column is 428C9 on both sides; OVERRIDING SYSTEM VALUE allows it."""
    files = SCHEMAS["queue"]
    queue = "INSERT INTO queues (id, name) VALUES (1, 'q')"
    with differential_of(bcastsim_database_factory, files) as differential:
        for steps, sqlstate in (
            ([queue, "INSERT INTO job_events (id, queue_id) VALUES (7, 1)"], "428C9"),
            ([queue, "INSERT INTO job_events (id, queue_id) OVERRIDING SYSTEM VALUE VALUES (7, 1)"], None),
            ([queue, "INSERT INTO job_events (queue_id) VALUES (1), (1)"], None),
        ):
            differential.reset()
            real, _, mismatch = differential.run_transaction(steps)
            assert mismatch is None, str(mismatch)
            assert (real.error.sqlstate if real.error else None) == sqlstate


def test_a_domain_check_fails_before_not_null_alike(
    bcastsim_database_factory: Callable[[Sequence[str | Path]], Database],
) -> None:
    """A value breaking its domain's CHECK is 23514 with the domain's message, even if the row also breaks NOT NULL."""
    files = SCHEMAS["job_events"]
    steps = ["INSERT INTO tasks (id, queue, args) VALUES (1, '', NULL)"]
    with differential_of(bcastsim_database_factory, files) as differential:
        real, mine, mismatch = differential.run_transaction(steps)
    assert mismatch is None, str(mismatch)
    assert real.error is not None
    assert mine.error is not None
    assert (mine.error.sqlstate, mine.error.message) == ("23514", real.error.message)


_BYTEA_LITERALS = [
    r"'\x0aff'",
    r"'\x0A ff'",
    "'plain é'",
    r"'a\\b'",
    r"'\001\377'",
    "''",
    r"'\x0'",
    r"'\xzz'",
    r"'bad\q'",
]


def test_bytea_input_and_output_agree(bcastsim_database_factory: Callable[[Sequence[str | Path]], Database]) -> None:
    """bytea literals in hex and escape format store, print (in a NOTIFY payload) and fail as in PostgreSQL."""
    files = SCHEMAS["job_events"]
    history = [
        ([f"INSERT INTO tasks (id, queue) VALUES ({n}, 'q')", f"INSERT INTO task_blobs VALUES ({n}, {v})"], True)
        for n, v in enumerate(_BYTEA_LITERALS, start=1)
    ]
    with differential_of(bcastsim_database_factory, files) as differential:
        mismatches = differential.run_history(history)
    assert not mismatches, "\n".join(str(m) for m in mismatches)


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO rooms VALUES ('r2', 3, 2)",
        "INSERT INTO rooms VALUES ('r2', 0, 2)",
        "UPDATE rooms SET max_guests = 0 WHERE code = 'r1'",
        "INSERT INTO bookings (room, starts_at, ends_at, email) VALUES ('r1', '2025-01-02', '2025-01-01', 'a@b')",
        "INSERT INTO bookings (room, starts_at, ends_at) VALUES ('r1', '2025-01-01', '2025-01-02')",
        "UPDATE bookings SET status = 'cancelled' WHERE id = 1",
        "UPDATE bookings SET email = NULL WHERE id = 1",
        "UPDATE bookings SET ends_at = starts_at WHERE id = 1",
    ],
)
def test_checks_across_columns_fail_alike(bookings: Differential, statement: str) -> None:
    """A row breaking a CHECK across columns is 23514 naming the same constraint (unnamed ones too) on both sides."""
    seed = (
        "INSERT INTO rooms VALUES ('r1', 1, 4)",
        "INSERT INTO bookings (id, room, starts_at, ends_at, email)"
        " VALUES (1, 'r1', '2025-01-01', '2025-01-02', 'a@b')",
    )
    assert not bookings.run_history([(seed, True)])
    real, mine, mismatch = bookings.run_transaction((statement,))
    assert mismatch is None, mismatch
    assert mine.error is not None, mine
    assert real.error is not None, real
    assert (mine.error.sqlstate, mine.error.message) == ("23514", real.error.message)


@pytest.fixture(scope="module")
def bookings(bcastsim_database_factory: Callable[[Sequence[str | Path]], Database]) -> Iterator[Differential]:
    files = SCHEMAS["bookings"]
    with differential_of(bcastsim_database_factory, files) as differential:
        yield differential
