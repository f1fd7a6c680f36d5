"""Transactions, constraints and trigger order in the database model."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcastsim.db import DatabaseError, DatabaseModel
from bcastsim.strategies import uuid_pool

EVENT = "00000000-0000-0000-0000-0000000000e1"
ART = "00000000-0000-0000-0000-0000000000a1"


@pytest.fixture
def model() -> DatabaseModel:
    built = DatabaseModel.from_sql()
    setup = [
        f"INSERT INTO events (id, eid, name) VALUES ('{EVENT}', 'e1', 'Final')",
        f"INSERT INTO art (id, event_id, code) VALUES ('{ART}', '{EVENT}', 'A-1')",
    ]
    assert built.run_transaction(setup).committed
    return built


def _error(model: DatabaseModel, sql: str) -> str | None:
    outcome = model.run_transaction([sql])
    return outcome.error.sqlstate if outcome.error else None


def test_constraint_errors_by_sqlstate(model: DatabaseModel) -> None:
    """NOT NULL 23502, FK 23503, unique 23505, CHECK 23514, varchar length 22001, numeric overflow 22003."""
    other = "00000000-0000-0000-0000-0000000000a2"
    assert _error(model, f"INSERT INTO events (id, name) VALUES ('{other}', 'x')") == "23502"
    assert _error(model, f"INSERT INTO art (id, event_id, code) VALUES ('{other}', '{other}', 'B')") == "23503"
    assert _error(model, f"INSERT INTO art (id, event_id, code) VALUES ('{other}', '{EVENT}', 'A-1')") == "23505"
    assert _error(model, f"UPDATE art SET round = 10 WHERE id = '{ART}'") == "23514"
    assert _error(model, f"UPDATE art SET code = repeat('x', 33) WHERE id = '{ART}'") == "22001"
    assert _error(model, f"UPDATE art SET starting_bid = 123456789 WHERE id = '{ART}'") == "22003"
    assert _error(model, f"DELETE FROM events WHERE id = '{EVENT}'") == "23503"


def test_constants_are_checked_before_any_row(model: DatabaseModel) -> None:
    """A bad literal fails at plan time even when no row matches (22P02), before row-level errors."""
    assert _error(model, "UPDATE art SET round = 1 WHERE id = 'not-a-uuid'") == "22P02"
    ids = ["00000000-0000-0000-0000-0000000000b1", "00000000-0000-0000-0000-0000000000b2"]
    sql = f"INSERT INTO events (id, eid, name) VALUES ('{ids[0]}', NULL, 'a'), ('{ids[1]}', repeat('y', 20), 'b')"
    assert _error(model, sql) == "22001"


def test_savepoint_rollback_restores_rows_and_physical_order(model: DatabaseModel) -> None:
    """ROLLBACK TO SAVEPOINT undoes inserts, updates and deletes; the old row version keeps its place."""
    second = "00000000-0000-0000-0000-0000000000a2"
    txn = model.begin()
    txn.execute(f"INSERT INTO art (id, event_id, code) VALUES ('{second}', '{EVENT}', 'A-2')")
    txn.savepoint("s")
    txn.execute(f"UPDATE art SET easel = 4 WHERE id = '{ART}'")
    txn.execute(f"DELETE FROM art WHERE id = '{second}'")
    assert [r["id"].hex[-2:] for r in model.rows("art")] == ["a1"]
    txn.rollback_to("s")
    assert [(r["id"].hex[-2:], r["easel"]) for r in model.rows("art")] == [("a1", None), ("a2", None)]
    txn.commit()


def test_unknown_savepoint_is_3b001(model: DatabaseModel) -> None:
    """ROLLBACK TO an unknown savepoint raises 3B001."""
    txn = model.begin()
    with pytest.raises(DatabaseError) as error:
        txn.rollback_to("nope")
    assert error.value.sqlstate == "3B001"
    txn.rollback()


def test_multi_row_update_fires_in_scan_order_after_all_rows(model: DatabaseModel) -> None:
    """One UPDATE over two rows fires AFTER ROW triggers per row in heap order, after both rows changed."""
    second = "00000000-0000-0000-0000-0000000000a2"
    assert model.run_transaction(
        [f"INSERT INTO art (id, event_id, code) VALUES ('{second}', '{EVENT}', 'A-2')"]
    ).committed
    outcome = model.run_transaction([f"UPDATE art SET is_winner = true WHERE event_id = '{EVENT}'"])
    codes = [n.payload.split('"art_code" : ')[1].split(",")[0] for n in outcome.notifications]
    assert codes == ['"A-1"', '"A-2"']


def test_now_comes_from_the_injected_clock(model: DatabaseModel) -> None:
    """NOW() and created_at defaults read the transaction's clock, so payloads are deterministic."""
    import datetime as dt

    moment = dt.datetime(2030, 1, 2, 3, 4, 5, 600000, tzinfo=dt.UTC)
    outcome = model.run_transaction([f"UPDATE art SET is_winner = true WHERE id = '{ART}'"], now=moment)
    assert '"timestamp" : "2030-01-02T03:04:05.6+00:00"' in outcome.notifications[0].payload


def test_missing_lookup_gives_null_fields(model: DatabaseModel) -> None:
    """A bid on art without an artist profile renders artist_name as null (LEFT JOIN miss)."""
    person = uuid_pool(model.schema, "people")[0]
    bid = uuid_pool(model.schema, "bids")[0]
    outcome = model.run_transaction(
        [
            f"INSERT INTO people (id) VALUES ('{person}')",
            f"INSERT INTO bids (id, art_id, person_id, amount) VALUES ('{bid}', '{ART}', '{person}', 7.5)",
        ]
    )
    assert '"artist_name" : null' in outcome.notifications[0].payload
    assert '"amount" : 7.50' in outcome.notifications[0].payload


def test_before_trigger_rewrites_new_and_when_clause_filters(tmp_path: Path) -> None:
    """A BEFORE ROW trigger's changes to NEW are stored; a WHEN clause decides whether a trigger fires."""
    from bcastsim._resources import builtin_sql_files

    extra = tmp_path / "extra.sql"
    extra.write_text(
        """
CREATE FUNCTION upper_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.name := upper(NEW.name);
  RETURN NEW;
END;
$$;
CREATE TRIGGER upper_name BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION upper_name();
CREATE FUNCTION say() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('events', NEW.name);
  RETURN NULL;
END;
$$;
CREATE TRIGGER say AFTER INSERT ON events FOR EACH ROW WHEN (NEW.venue IS NOT NULL) EXECUTE FUNCTION say();
"""
    )
    model = DatabaseModel.from_sql([*builtin_sql_files(), extra])
    outcome = model.run_transaction(
        [
            "INSERT INTO events (id, eid, name, venue) VALUES ('00000000-0000-0000-0000-000000000001', 'a', 'x', 'v'),"
            " ('00000000-0000-0000-0000-000000000002', 'b', 'y', NULL)"
        ]
    )
    assert [n.payload for n in outcome.notifications] == ["X"]
    assert [r["name"] for r in model.rows("events")] == ["X", "Y"]
