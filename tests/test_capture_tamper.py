"""Reviewed SQL cannot hide what it sends from the capture: it is captured anyway, or the result says it was cut."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bcastsim.pg import Database, EphemeralPostgres

pytestmark = pytest.mark.postgres

REALTIME_SQL = Path(__file__).resolve().parents[1] / "sql" / "realtime.sql"
SEND = "PERFORM realtime.send('{\"n\": 1}'::jsonb, 'e', 'room:1', false);"


@pytest.fixture
def database(bcastsim_server: EphemeralPostgres) -> Iterator[Database]:
    """A database of the untrusted role with Supabase's realtime schema loaded, as review --pg makes them."""
    opened = bcastsim_server.create_database([REALTIME_SQL], untrusted=True)
    try:
        yield opened
    finally:
        opened.close()


def _do(body: str) -> str:
    return f"DO $body$ BEGIN {body} END $body$"


def test_a_notification_past_the_tap_is_still_captured(database: Database) -> None:
    """pg_catalog.pg_notify under a pinned search_path and a run-time NOTIFY skip the tap; the trace sees them."""
    database.execute(
        "CREATE FUNCTION public.hidden(n int) RETURNS void LANGUAGE plpgsql SET search_path = public AS $f$ "
        "BEGIN PERFORM pg_catalog.pg_notify('hidden:' || n, 'x'); EXECUTE format('NOTIFY %I', 'dyn:' || n); END $f$"
    )
    result = database.run_transaction(["SELECT hidden(7)"])
    assert [n.channel for n in result.notifications] == ["hidden:7", "dyn:7"]
    assert "PL/pgSQL function hidden(integer)" in result.notifications[0].context
    assert result.cut == ()


def test_a_message_deleted_in_its_transaction_was_still_sent(database: Database) -> None:
    """Realtime reads inserts from the WAL: a realtime.messages row deleted before COMMIT is still a message."""
    result = database.run_transaction([_do(SEND + " DELETE FROM realtime.messages;")])
    assert [(m.topic, m.event, m.payload) for m in result.messages] == [("room:1", "e", {"n": 1})]
    assert result.cut == ()


def test_disabling_the_recording_trigger_is_a_cut(database: Database) -> None:
    """A trigger switched off around realtime.send (and back on) makes the result incomplete, not empty and clean."""
    result = database.run_transaction(
        [
            _do(
                "ALTER TABLE realtime.messages DISABLE TRIGGER ALL; "
                + SEND
                + " ALTER TABLE realtime.messages ENABLE TRIGGER ALL;"
            )
        ]
    )
    assert result.messages == ()
    assert result.cut == (
        "capture: ALTER TABLE left realtime.messages without bcastsim's recording trigger; "
        "messages sent after it were not captured",
    )


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM bcastsim_tap.records",
        "UPDATE bcastsim_tap.records SET key = 'elsewhere'",
        "TRUNCATE bcastsim_tap.records",
        "ALTER EVENT TRIGGER bcastsim_tap_guard DISABLE",
        "CREATE OR REPLACE FUNCTION bcastsim_tap.take(lim int) RETURNS TABLE (seq bigint, kind text, key text, "
        "body text, site text) LANGUAGE sql AS 'SELECT NULL::bigint, NULL, NULL, NULL, NULL WHERE false'",
    ],
)
def test_the_records_cannot_be_removed_or_replaced(database: Database, statement: str) -> None:
    """The records, the reader and the guard belong to the superuser: the reviewed role is refused."""
    result = database.run_transaction(["SELECT pg_notify('kept', 'x')", statement])
    assert result.error is not None
    assert result.error.sqlstate == "42501"


def test_reading_the_records_does_not_consume_them(database: Database) -> None:
    """The reviewed SQL may call the reader: it removes only other transactions' records, so nothing is lost."""
    result = database.run_transaction(
        [_do("PERFORM pg_notify('kept', 'x'); " + SEND), "SELECT count(*) FROM bcastsim_tap.take(1000)"]
    )
    assert [n.channel for n in result.notifications] == ["kept"]
    assert [m.topic for m in result.messages] == ["room:1"]


def test_switching_the_trace_off_is_a_cut_and_it_comes_back(database: Database) -> None:
    """SET trace_notify = off before a notification past the tap is reported, and the next transaction is traced."""
    result = database.run_transaction(
        ["SET trace_notify = off", "SET search_path = public", "SELECT pg_catalog.pg_notify('unseen', 'x')"]
    )
    assert result.notifications == ()
    assert result.cut == (
        "capture: the transaction switched PostgreSQL's notify trace off (trace_notify = off, "
        "client_min_messages = debug1); channels only the trace names were not listened to",
    )
    again = database.run_transaction(["SELECT pg_catalog.pg_notify('seen', 'x')"])
    assert [n.channel for n in again.notifications] == ["seen"]
    assert again.cut == ()


def test_the_guard_is_the_superusers(database: Database) -> None:
    """Control: the event trigger exists and is enabled, so the cut above comes from it."""
    rows = database.execute("SELECT evtenabled FROM pg_event_trigger WHERE evtname = 'bcastsim_tap_guard'")
    assert rows == [("O",)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        database.execute("DROP EVENT TRIGGER bcastsim_tap_guard")


def test_a_function_that_switches_the_trace_off_while_it_runs_is_a_cut(database: Database) -> None:
    """A SET clause hides the trace only while its function runs; the function ran, so the result says so."""
    database.execute(
        "CREATE FUNCTION public.quiet() RETURNS void LANGUAGE plpgsql SET trace_notify = off SET search_path = public "
        "AS $f$ BEGIN PERFORM pg_catalog.pg_notify('unseen', 'x'); END $f$"
    )
    database.execute(
        "CREATE FUNCTION public.unused() RETURNS void LANGUAGE plpgsql SET client_min_messages = warning "
        "AS $f$ BEGIN NULL; END $f$"
    )
    result = database.run_transaction(["SELECT quiet()"])
    assert result.notifications == ()
    assert result.cut == (
        "capture: quiet() ran and switches PostgreSQL's notify trace off while it runs (a SET of trace_notify or "
        "client_min_messages); what it sent past the tap was not captured",
    )
    assert database.run_transaction(["SELECT pg_notify('seen', 'x')"]).cut == ()


def test_a_switching_function_made_inside_the_transaction_is_found(database: Database) -> None:
    """The guard sees CREATE FUNCTION in a workload transaction, so a function made and run there is a cut too."""
    result = database.run_transaction(
        [
            "CREATE FUNCTION public.made() RETURNS void LANGUAGE plpgsql SET trace_notify = off "
            "AS $f$ BEGIN PERFORM pg_catalog.pg_notify('unseen', 'x'); END $f$",
            "SET search_path = public",
            "SELECT made()",
        ]
    )
    assert result.cut == (
        "capture: made() ran and switches PostgreSQL's notify trace off while it runs (a SET of trace_notify or "
        "client_min_messages); what it sent past the tap was not captured",
    )
