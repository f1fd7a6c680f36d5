"""The wall clock in the model: clock_timestamp(), statement_timestamp(), timeofday() ordered as PostgreSQL's."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from _differential import differential_of
from bcastsim.db import DatabaseModel
from bcastsim.db._values import parse_timestamp
from bcastsim.pg import Database, EphemeralPostgres, RollbackTo, Savepoint

CLOCK = [Path(__file__).parent / "fixtures" / "db" / "clock.sql"]
STEPS: list[Any] = [
    "INSERT INTO ticks VALUES (1, 0), (2, 0)",
    Savepoint("s"),
    "UPDATE ticks SET v = 1",
    RollbackTo("s"),
    "UPDATE ticks SET v = 2 WHERE id = 1",
]
# pg_strftime's "%a %b %d %H:%M:%S.%%06d %Y %Z" (timestamp.c, timeofday()), TimeZone=UTC.
TIMEOFDAY = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d\.\d{6} \d{4} UTC")


def _readings(payloads: Sequence[str]) -> list[tuple[dt.datetime, dt.datetime, dt.datetime, dt.datetime, str]]:
    out = []
    for payload in payloads:
        now, statement, first, second, text = json.loads(payload)
        now, statement, first, second = (parse_timestamp(t, with_tz=True) for t in (now, statement, first, second))
        out.append((now, statement, first, second, text))
    return out


def _assert_ordered(payloads: Sequence[str], *, strict: bool) -> None:
    """now ≤ statement ≤ each reading, readings never going back (strictly forward when ``strict``)."""
    readings = _readings(payloads)
    assert len(readings) == 3  # two inserted rows, then the one update that was not rolled back
    (now,) = {r[0] for r in readings}
    (first_statement,) = {r[1] for r in readings[:2]}  # both rows of one INSERT: one statement time
    assert now <= first_statement < readings[2][1] if strict else now <= first_statement <= readings[2][1]
    clock = [moment for r in readings for moment in (r[2], r[3])]
    steps = list(itertools.pairwise(clock))
    assert all(a < b for a, b in steps) if strict else all(a <= b for a, b in steps)
    for _now, statement, first, _second, text in readings:
        assert statement <= first
        assert TIMEOFDAY.fullmatch(text), text


@pytest.mark.postgres
def test_postgres_clocks_are_ordered_as_the_model_assumes(bcastsim_server: EphemeralPostgres) -> None:
    """In PostgreSQL now() ≤ statement_timestamp() ≤ clock_timestamp(), the clock never goes back; timeofday()."""
    with bcastsim_server.create_database(CLOCK) as database:
        result = database.run_transaction(STEPS)
    assert result.committed, result.error
    _assert_ordered([n.payload for n in result.notifications], strict=False)


def test_the_model_clock_moves_forward_from_now_at_each_statement_and_reading() -> None:
    """The model's readings: after now(), one statement time per statement, each reading later than the last."""
    model = DatabaseModel.from_sql(CLOCK)
    start = dt.datetime(2025, 8, 17, 19, tzinfo=dt.UTC)
    outcome = model.run_transaction(STEPS, now=start)
    assert outcome.committed, outcome.error
    payloads = [n.payload for n in outcome.notifications]
    _assert_ordered(payloads, strict=True)
    # A rolled-back savepoint takes back rows and notifications, not time.
    assert [r[2] - start for r in _readings(payloads)] == [dt.timedelta(microseconds=us) for us in (2, 5, 16)]
    assert _readings(payloads)[0][4] == "Sun Aug 17 19:00:00.000004 2025 UTC"


def test_one_seed_one_run_and_the_assumption_is_said_only_when_the_clock_is_read() -> None:
    """Two models give the same readings; a transaction that reads no wall clock states no assumption."""
    runs = [DatabaseModel.from_sql(CLOCK).run_transaction(STEPS) for _ in range(2)]
    assert runs[0].notifications == runs[1].notifications
    (assumption,) = runs[0].assumptions
    assert "clock_timestamp()" in assumption
    assert "not the server's" in assumption
    quiet = DatabaseModel.from_sql(CLOCK).run_transaction(["SELECT now()"])
    assert quiet.assumptions == ()


@pytest.mark.postgres
def test_a_differential_mismatch_on_the_wall_clock_names_the_assumption(
    bcastsim_database_factory: Callable[[Sequence[str | Path]], Database],
) -> None:
    """The server's wall clock is not the model's: the mismatch says the model's clock is an assumption."""
    with differential_of(bcastsim_database_factory, CLOCK) as differential:
        (mismatch,) = differential.run_history([(["INSERT INTO ticks VALUES (1, 0)"], True)])
    assert mismatch.real["committed"]
    assert mismatch.model["committed"]
    assert mismatch.assumptions
    assert mismatch.assumptions[0] in str(mismatch)
    # Only the payload differs, and only in its clock readings: now() is the server's in both.
    (real,), (mine,) = (
        _readings([p for c, p in side["notifications"] if c == "clocks"]) for side in (mismatch.real, mismatch.model)
    )
    assert real[0] == mine[0]
    assert real[1:4] != mine[1:4]
