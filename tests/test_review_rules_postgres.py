"""What the rules warn of happens in PostgreSQL (the fixes themselves are applied in test_review_fixes_diff)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcastsim.pg import EphemeralPostgres

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "tests" / "fixtures" / "sql" / "review" / "rules"
FIXTURE_SCHEMA = [ROOT / "sql" / "realtime.sql", ROOT / "tests" / "fixtures" / "sql" / "review" / "schema.sql"]

def test_caught_error_drops_the_notification_in_postgres(bcastsim_server: EphemeralPostgres) -> None:
    """What notify-rolled-back-with-block warns of happens: the caught error discards the block's NOTIFY."""
    path = RULES / "notify-rolled-back-with-block.unsafe.sql"
    person, other, event, first, second = (f"00000000-0000-4000-8000-00000000000{n}" for n in range(1, 6))
    insert = "INSERT INTO items (id, event_id, person_id, code, amount) VALUES ('{}', '{}', '{}', 'c', 1)"
    with bcastsim_server.create_database([*FIXTURE_SCHEMA, path]) as database:
        setup = [
            f"INSERT INTO people (id) VALUES ('{person}')",
            f"INSERT INTO events (id, name) VALUES ('{event}', 'e')",
        ]
        caught = database.run_transaction([*setup, insert.format(first, event, person)])
        # Control: without the clash the block commits and its notification is delivered.
        database.run_transaction(["ALTER TABLE items DROP CONSTRAINT items_person_id_fkey"])
        delivered = database.run_transaction([insert.format(second, event, other)])
    assert caught.committed
    assert caught.notifications == ()
    assert delivered.committed
    assert [n.channel for n in delivered.notifications] == ["items"]
