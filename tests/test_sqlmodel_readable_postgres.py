"""What the analysis now reads, checked against PostgreSQL: unread WITH queries send nothing, RETURN OLD keeps rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcastsim.pg import EphemeralPostgres
from bcastsim.sqlmodel import load_catalog

pytestmark = pytest.mark.postgres

READABLE = Path(__file__).parent / "fixtures" / "sql" / "readable"


def test_unread_with_query_sends_nothing_in_postgres(bcastsim_server: EphemeralPostgres) -> None:
    """PostgreSQL never runs the pg_notify in the unread WITH query the model does not count as a site."""
    path = READABLE / "unread_cte.sql"
    with bcastsim_server.create_database([path]) as database:
        result = database.run_transaction(["INSERT INTO items (id, name) VALUES (1, 'a')"])
    assert result.committed
    assert result.notifications == ()
    assert load_catalog(path).notify_sites == ()


def test_return_old_keeps_the_delete_in_postgres(bcastsim_server: EphemeralPostgres) -> None:
    """RETURN OLD lets a BEFORE DELETE go through; RETURN NEW skips it, as the rule says."""
    with bcastsim_server.create_database([READABLE / "return_old.sql"]) as database:
        database.run_transaction(["DROP TRIGGER items_delete_wrong ON items", "INSERT INTO items VALUES (1, 'a')"])
        kept = database.run_transaction(["DELETE FROM items WHERE id = 1"])
        assert [n.channel for n in kept.notifications] == ["items_deleted"]
        database.run_transaction(
            [
                "DROP TRIGGER items_delete ON items",
                "CREATE TRIGGER items_delete_wrong BEFORE DELETE ON items FOR EACH ROW "
                "EXECUTE FUNCTION items_deleting_wrong()",
                "INSERT INTO items VALUES (2, 'b')",
                "DELETE FROM items WHERE id = 2",
            ]
        )
        # The row is still there: inserting its key again fails.
        again = database.run_transaction(["INSERT INTO items VALUES (2, 'b')"])
    assert not again.committed


def test_bounds_fixture_runs_in_postgres(bcastsim_server: EphemeralPostgres) -> None:
    """The domain, enum, CHECK and DO-block fixture is valid PostgreSQL and its payload stays under the bound."""
    path = READABLE / "bounds.sql"
    (site,) = load_catalog(path).notify_sites
    with bcastsim_server.create_database([path]) as database:
        result = database.run_transaction(
            ["INSERT INTO q (name, nick, m, code, body) VALUES (repeat('é', 127), 'nick', 'happy', 'c', 'b')"]
        )
    assert result.committed
    (notification,) = result.notifications
    assert site.max_payload_bytes is not None
    assert len(notification.payload.encode()) <= site.max_payload_bytes
