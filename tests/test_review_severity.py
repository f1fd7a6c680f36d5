"""Severity that earns its place: exception-swallowed only where a send failure leaves no trace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bcastsim.pg import EphemeralPostgres
from bcastsim.review import ReviewConfig, check

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = [ROOT / "sql" / "realtime.sql", ROOT / "tests" / "fixtures" / "sql" / "review" / "schema.sql"]
UNSAFE = (ROOT / "tests" / "fixtures" / "sql" / "review" / "rules" / "exception-swallowed.unsafe.sql").read_text()
HANDLER = "    RAISE NOTICE 'notify failed: %', SQLERRM; -- expect: exception-swallowed"


def _swallowed(tmp_path: Path, text: str) -> list[int | None]:
    path = tmp_path / "f.sql"
    path.write_text(text)
    report = check([path], config=ReviewConfig(), schema=SCHEMA)
    return [e.finding.line for e in report.entries if e.finding.rule == "exception-swallowed"]


@pytest.mark.parametrize(
    "handler",
    [
        "    RAISE WARNING 'notify failed: %', SQLERRM;",
        "    RAISE LOG 'notify failed: %', SQLERRM;",
        "    INSERT INTO failed_notifications (message) VALUES (SQLERRM);",
    ],
    ids=["warning", "log", "insert"],
)
def test_a_handler_that_logs_is_not_reported(tmp_path: Path, handler: str) -> None:
    """A broadcast that must not abort the write, with the failure logged, is intended: no finding."""
    assert _swallowed(tmp_path, UNSAFE.replace(HANDLER, handler)) == []


def test_a_handler_that_only_notices_is_reported(tmp_path: Path) -> None:
    """RAISE NOTICE reaches only the client driver: the failed send leaves no trace, reported at the handler."""
    line = UNSAFE.splitlines().index(HANDLER) + 1
    assert _swallowed(tmp_path, UNSAFE) == [line]


NO_SEND_IN_BLOCK = """\
CREATE OR REPLACE FUNCTION item_guarded_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    PERFORM 1;
  EXCEPTION WHEN OTHERS THEN
    NULL;
  END;
  PERFORM pg_notify('item:' || NEW.id::text, json_build_object('id', NEW.id)::text);
  RETURN NULL;
END;
$$;
CREATE TRIGGER item_guarded_trigger AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION item_guarded_notify();
"""


def test_a_handler_around_no_send_is_not_reported(tmp_path: Path) -> None:
    """WHEN OTHERS around a statement that sends nothing cannot lose a message: not this rule's finding."""
    assert _swallowed(tmp_path, NO_SEND_IN_BLOCK) == []
    with_send = NO_SEND_IN_BLOCK.replace("    PERFORM 1;\n", "    PERFORM pg_notify('x', NEW.id::text);\n")
    assert len(_swallowed(tmp_path, with_send)) == 1


SIZES = ROOT / "tests" / "fixtures" / "sql" / "sizes" / "unbounded_jsonb.sql"


def _headroom() -> tuple[int, int]:
    """(rest, room) as the payload-too-large finding states them."""
    report = check([SIZES], config=ReviewConfig())
    (finding,) = [e.finding for e in report.entries if e.finding.rule == "payload-too-large"]
    assert finding.severity.value == "error"
    match = re.search(r"takes up to (\d+) bytes, so 'meta' rendered in more than (\d+) bytes", finding.message)
    assert match is not None, finding.message
    return int(match.group(1)), int(match.group(2))


def test_unbounded_jsonb_states_the_byte_arithmetic() -> None:
    """The finding says how many bytes the rest takes and how large the jsonb value may grow: 7999 − rest."""
    rest, room = _headroom()
    assert rest + room == 7999


@pytest.mark.postgres
def test_byte_arithmetic_holds_in_postgres(bcastsim_server: EphemeralPostgres) -> None:
    """With the rest at its worst case, meta rendered in `room` bytes commits and one byte more aborts the insert."""
    _, room = _headroom()
    # Worst case of the rest: the smallest bigint (20 bytes) and 100 control characters (\\u0001, 6 bytes each).
    insert = (
        "INSERT INTO docs (id, title, meta) VALUES "
        "(-9223372036854775808 + {n}, repeat(chr(1), 100), to_jsonb(repeat('a', {chars})))"
    )
    with bcastsim_server.create_database([SIZES]) as database:
        database.execute(insert.format(n=0, chars=room - 2))  # a JSON string renders with its two quotes
        with pytest.raises(Exception, match="payload string too long"):
            database.execute(insert.format(n=1, chars=room - 1))


ZONE = ROOT / "tests" / "fixtures" / "sql" / "review" / "rules" / "timestamp-session-zone.unsafe.sql"


@pytest.mark.postgres
def test_the_session_time_zone_decides_the_send_in_postgres(bcastsim_server: EphemeralPostgres) -> None:
    """The same row, due in three hours UTC, notifies when written from a UTC+9 session and not from UTC."""
    insert = "INSERT INTO reminders (id, due_at) VALUES ({id}, (now() AT TIME ZONE 'UTC') + interval '3 hours')"
    channels = []
    with bcastsim_server.create_database([ZONE]) as database:
        for number, zone in enumerate(("UTC", "Asia/Tokyo"), start=1):
            result = database.run_transaction([f"SET LOCAL TimeZone = '{zone}'", insert.format(id=number)])
            assert result.committed
            channels.append([n.channel for n in result.notifications])
    assert channels == [[], ["reminders"]]
