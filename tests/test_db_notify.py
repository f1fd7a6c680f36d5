"""NOTIFY semantics of the database model: commit-only delivery, savepoints, duplicates, limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcastsim.db import DatabaseError, DatabaseModel
from bcastsim.pg import Release, RollbackTo, Savepoint


@pytest.fixture
def model() -> DatabaseModel:
    return DatabaseModel.from_sql()


def _notify(channel: str, payload: str) -> str:
    return "SELECT pg_notify('{}', '{}')".format(channel.replace("'", "''"), payload.replace("'", "''"))


def _sent(model: DatabaseModel, steps: list[object]) -> list[tuple[str, str]]:
    outcome = model.run_transaction(steps)
    return [(n.channel, n.payload) for n in outcome.notifications]


def test_duplicates_collapse_keeping_the_first_position(model: DatabaseModel) -> None:
    """a, b, a, c in one transaction arrives as a, b, c; the same payload on another channel is kept."""
    steps = [_notify("x", "a"), _notify("x", "b"), _notify("x", "a"), _notify("y", "a"), _notify("x", "c")]
    assert _sent(model, steps) == [("x", "a"), ("x", "b"), ("y", "a"), ("x", "c")]


def test_different_transactions_are_never_merged(model: DatabaseModel) -> None:
    """The same notification in two transactions is delivered twice, each tagged with its transaction."""
    first = model.run_transaction([_notify("x", "a")])
    second = model.run_transaction([_notify("x", "a")])
    assert [(n.payload, n.transaction) for n in (*first.notifications, *second.notifications)] == [
        ("a", 0),
        ("a", 1),
    ]


def test_rolled_back_savepoint_discards_and_released_one_merges(model: DatabaseModel) -> None:
    """ROLLBACK TO drops what the savepoint queued; RELEASE keeps it, deduplicated against the parent."""
    steps = [
        _notify("x", "1"),
        Savepoint("a"),
        _notify("x", "2"),
        RollbackTo("a"),
        Savepoint("b"),
        _notify("x", "1"),
        _notify("x", "3"),
        Release("b"),
        Release("a"),
    ]
    assert _sent(model, steps) == [("x", "1"), ("x", "3")]


def test_aborted_or_rolled_back_transactions_deliver_nothing(model: DatabaseModel) -> None:
    """A transaction that fails or rolls back delivers none of its notifications."""
    failed = model.run_transaction([_notify("x", "1"), "SELECT pg_notify('', 'p')"])
    assert failed.notifications == ()
    assert not failed.committed
    assert failed.error is not None
    assert failed.error.sqlstate == "22023"
    rolled_back = model.run_transaction([_notify("x", "1")], commit=False)
    assert rolled_back.notifications == ()
    assert not rolled_back.committed
    assert model.notifications == []


@pytest.mark.parametrize(("size", "sqlstate"), [(7999, None), (8000, "22023")])
def test_payload_limit_is_8000_utf8_bytes(model: DatabaseModel, size: int, sqlstate: str | None) -> None:
    """7999 bytes are accepted, 8000 raise 22023; multibyte characters count by their UTF-8 bytes."""
    payload = "é" * (size // 2) + "a" * (size % 2)
    outcome = model.run_transaction([_notify("x", payload)])
    assert (outcome.error.sqlstate if outcome.error else None) == sqlstate


@pytest.mark.parametrize(("channel", "sqlstate"), [("c" * 63, None), ("c" * 64, "22023"), ("", "22023")])
def test_channel_limits(model: DatabaseModel, channel: str, sqlstate: str | None) -> None:
    """Channels of 63 bytes pass; 64 bytes or an empty channel raise 22023."""
    outcome = model.run_transaction([_notify(channel, "p")])
    assert (outcome.error.sqlstate if outcome.error else None) == sqlstate


def test_null_payload_is_empty_string(model: DatabaseModel) -> None:
    """pg_notify(channel, NULL) sends an empty payload."""
    assert _sent(model, ["SELECT pg_notify('x', NULL)"]) == [("x", "")]


def test_oversized_trigger_payload_aborts_the_business_write(model: DatabaseModel, tmp_path: Path) -> None:
    """A trigger's 22023 aborts the INSERT that fired it: the row is gone with the notification."""
    ids = ["00000000-0000-0000-0000-00000000000" + str(i) for i in range(1, 4)]
    setup = [
        f"INSERT INTO events (id, eid, name) VALUES ('{ids[0]}', 'e', 'n')",
        f"INSERT INTO art (id, event_id, code) VALUES ('{ids[1]}', '{ids[0]}', 'c')",
    ]
    assert model.run_transaction(setup).committed
    outcome = model.run_transaction(
        [f"INSERT INTO art_media (id, art_id, image_url) VALUES ('{ids[2]}', '{ids[1]}', repeat('u', 7900))"]
    )
    assert outcome.error is not None
    assert outcome.error.sqlstate == "22023"
    assert model.rows("art_media") == []


def test_statement_error_inside_execute_aborts_transaction(model: DatabaseModel) -> None:
    """After an error every statement fails with 25P02 until the transaction ends."""
    txn = model.begin()
    with pytest.raises(DatabaseError) as first:
        txn.execute("SELECT pg_notify('', 'x')")
    assert first.value.sqlstate == "22023"
    with pytest.raises(DatabaseError) as second:
        txn.execute(_notify("x", "y"))
    assert second.value.sqlstate == "25P02"
    assert not txn.commit().committed
