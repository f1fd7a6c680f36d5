"""PostgreSQL NOTIFY facts, pinned on the seed's own triggers in a real server."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcastsim.pg import Database, Release, RollbackTo, Savepoint

pytestmark = pytest.mark.postgres

SEED_ROWS = Path(__file__).parent / "fixtures" / "sql" / "seed_rows.sql"
EVENT = "e0000000-0000-4000-8000-000000000001"
ADA = "a0000000-0000-4000-8000-000000000001"
ART = "c0000000-0000-4000-8000-000000000001"
ART_WITHOUT_ARTIST = "c0000000-0000-4000-8000-000000000002"

BID_KEYS = ["type", "art_id", "art_code", "artist_name", "amount", "event_id", "timestamp", "bidder_id"]
ADMIN_BID_KEYS = ["type", "art_id", "art_code", "amount", "timestamp"]


@pytest.fixture
def db(bcastsim_db: Database) -> Database:
    bcastsim_db.execute(SEED_ROWS.read_text())
    return bcastsim_db


def bid(amount: str = "100", art: str = ART, person: str = ADA) -> str:
    return f"INSERT INTO bids (art_id, person_id, amount) VALUES ('{art}', '{person}', {amount})"


def test_bid_trigger_sends_to_artwork_and_admin_channels(db: Database) -> None:
    """A bid notifies broadcast:bid:<art_id> then broadcast:admin:<event_id>, with the seed's keys in order."""
    result = db.run_transaction([bid("125.5")])
    assert result.committed
    assert [n.channel for n in result.notifications] == [f"broadcast:bid:{ART}", f"broadcast:admin:{EVENT}"]
    artwork, admin = result.notifications
    assert list(artwork.json) == BID_KEYS
    assert list(admin.json) == ADMIN_BID_KEYS
    assert artwork.json["artist_name"] == "Bo Painter"
    assert artwork.json["bidder_id"] == ADA
    assert '"amount" : 125.50' in artwork.payload  # json_build_object spacing, numeric(10,2) scale


def test_bid_on_art_without_artist_has_null_artist_name(db: Database) -> None:
    """The LEFT JOIN lookup leaves artist_name null when the artwork has no artist profile."""
    result = db.run_transaction([bid(art=ART_WITHOUT_ARTIST)])
    assert result.notifications[0].json["artist_name"] is None


def test_vote_trigger_sends_to_admin_channel(db: Database) -> None:
    """A vote notifies only broadcast:admin:<event_id> with the voter's id."""
    result = db.run_transaction(
        [f"INSERT INTO votes (art_uuid, event_id, person_id, round) VALUES ('{ART}', '{EVENT}', '{ADA}', 1)"]
    )
    assert [n.channel for n in result.notifications] == [f"broadcast:admin:{EVENT}"]
    assert list(result.notifications[0].json) == [
        "type", "art_id", "art_code", "vote_factor", "round", "voter_id", "timestamp",
    ]  # fmt: skip


def test_art_trigger_sends_winner_and_auction_updates(db: Database) -> None:
    """Changing is_winner and the auction end in one UPDATE sends winner_update then auction_update."""
    result = db.run_transaction(
        [f"UPDATE art SET is_winner = true, auction_end_datetime = '2025-08-17 22:00+00' WHERE id = '{ART}'"]
    )
    assert [n.json["type"] for n in result.notifications] == ["winner_update", "auction_update"]
    assert {n.channel for n in result.notifications} == {f"broadcast:event:{EVENT}"}


def test_art_update_of_other_columns_sends_nothing(db: Database) -> None:
    """An art UPDATE that touches neither the winner nor the auction times is silent."""
    result = db.run_transaction([f"UPDATE art SET status = 'sold' WHERE id = '{ART}'"])
    assert result.committed
    assert result.notifications == ()


def test_art_media_trigger_fires_on_insert_and_update(db: Database) -> None:
    """art_media INSERT and UPDATE both notify broadcast:art_media:<art_id>."""
    media = "f0000000-0000-4000-8000-000000000001"
    inserted = db.run_transaction(
        [f"INSERT INTO art_media (id, art_id, image_url) VALUES ('{media}', '{ART}', 'https://img/1.jpg')"]
    )
    updated = db.run_transaction([f"UPDATE art_media SET is_primary_image = true WHERE id = '{media}'"])
    for result in (inserted, updated):
        assert [n.channel for n in result.notifications] == [f"broadcast:art_media:{ART}"]
        assert list(result.notifications[0].json) == [
            "type", "art_id", "event_id", "media_id", "url", "is_primary", "timestamp",
        ]  # fmt: skip


def test_round_contestants_delete_reads_old_through_null_new(db: Database) -> None:
    """On DELETE, NEW is NULL, NEW.col yields NULL without error and COALESCE falls back to OLD."""
    contestant = "b0000000-0000-4000-8000-000000000001"
    db.execute(
        f"INSERT INTO round_contestants (id, event_id, round, art_id) VALUES ('{contestant}', '{EVENT}', 2, '{ART}')"
    )
    result = db.run_transaction([f"DELETE FROM round_contestants WHERE id = '{contestant}'"])
    assert result.committed
    (notification,) = result.notifications
    assert notification.channel == f"broadcast:admin:{EVENT}"
    assert notification.json["operation"] == "removed"
    assert notification.json["round"] == 2
    assert notification.json["art_id"] == ART


def test_notifications_are_delivered_only_on_commit(db: Database) -> None:
    """A rolled-back transaction delivers nothing, although its channel was listened on."""
    rolled_back = db.run_transaction([bid()], commit=False)
    assert not rolled_back.committed
    assert rolled_back.notifications == ()
    committed = db.run_transaction([bid()])
    assert len(committed.notifications) == 2


def test_rolled_back_savepoint_discards_its_notifications(db: Database) -> None:
    """Notifications sent under a savepoint that is rolled back are discarded; a released one keeps them."""
    result = db.run_transaction(
        [
            bid("100"),
            Savepoint("discarded"),
            bid("200"),
            RollbackTo("discarded"),
            Savepoint("kept"),
            bid("300"),
            Release("kept"),
        ]
    )
    amounts = [n.json["amount"] for n in result.notifications if n.channel.startswith("broadcast:bid:")]
    assert amounts == [100, 300]


def test_identical_notifications_collapse_within_a_transaction(db: Database) -> None:
    """PG 13+: a byte-identical channel and payload is sent once; the first keeps its position."""
    result = db.run_transaction(
        [
            "SELECT pg_notify('test:collapse', 'a')",
            "SELECT pg_notify('test:collapse', 'b')",
            "SELECT pg_notify('test:collapse', 'a')",
            "SELECT pg_notify('test:collapse', 'c')",
        ]
    )
    assert [n.payload for n in result.notifications] == ["a", "b", "c"]


def test_identical_notifications_in_separate_transactions_are_not_merged(db: Database) -> None:
    """Duplicate collapse never crosses a transaction boundary."""
    results = db.run_history([["SELECT pg_notify('test:separate', 'same')"]] * 2)
    assert [len(r.notifications) for r in results] == [1, 1]


def test_payload_limit_is_7999_bytes(db: Database) -> None:
    """7999 bytes are delivered; 8000 raise 22023 'payload string too long'."""
    accepted = db.run_transaction(["SELECT pg_notify('test:size', repeat('x', 7999))"])
    assert accepted.committed
    assert len(accepted.notifications[0].payload.encode()) == 7999
    rejected = db.run_transaction(["SELECT pg_notify('test:size', repeat('x', 8000))"])
    assert rejected.error is not None
    assert (rejected.error.sqlstate, rejected.error.message) == ("22023", "payload string too long")


def test_payload_limit_counts_bytes_not_characters(db: Database) -> None:
    """2,667 three-byte characters (8,001 bytes) exceed the limit although they are far fewer than 8000 characters."""
    rejected = db.run_transaction(["SELECT pg_notify('test:size', repeat('€', 2667))"])
    assert rejected.error is not None
    assert rejected.error.sqlstate == "22023"


def test_oversized_payload_aborts_the_business_write(db: Database) -> None:
    """A trigger payload over the limit aborts the INSERT that fired it: the bid row is lost too."""
    db.execute(f"UPDATE art SET code = repeat('C', 32) WHERE id = '{ART}'")
    db.execute("UPDATE artist_profiles SET name = repeat('n', 7900) WHERE id = 'd0000000-0000-4000-8000-000000000001'")
    result = db.run_transaction([bid()])
    assert result.error is not None
    assert result.error.sqlstate == "22023"
    assert result.notifications == ()
    assert db.execute("SELECT count(*) FROM bids") == [(0,)]


def test_channel_name_of_64_bytes_is_rejected(db: Database) -> None:
    """A 63-byte channel is accepted; 64 bytes raise 22023 'channel name too long'."""
    accepted = db.run_transaction([f"SELECT pg_notify('{'c' * 63}', 'ok')"])
    assert accepted.committed
    rejected = db.run_transaction([f"SELECT pg_notify('{'c' * 64}', 'no')"])
    assert rejected.error is not None
    assert (rejected.error.sqlstate, rejected.error.message) == ("22023", "channel name too long")


def test_empty_or_null_channel_is_rejected(db: Database) -> None:
    """An empty or NULL channel raises 22023 'channel name cannot be empty'."""
    for channel in ("''", "NULL"):
        result = db.run_transaction([f"SELECT pg_notify({channel}, 'x')"])
        assert result.error is not None
        assert (result.error.sqlstate, result.error.message) == ("22023", "channel name cannot be empty")


def test_realtime_send_inserts_a_message_row(db: Database) -> None:
    """realtime.send stores the broadcast as a realtime.messages row, private by default."""
    result = db.run_transaction(["SELECT realtime.send('{\"amount\": 5}'::jsonb, 'bid_update', 'bids:art:1')"])
    (message,) = result.messages
    assert (message.topic, message.event, message.private, message.extension) == (
        "bids:art:1", "bid_update", True, "broadcast",
    )  # fmt: skip
    assert message.payload == {"amount": 5}
    assert result.notifications == ()


def test_realtime_send_turns_errors_into_warnings(db: Database) -> None:
    """An error inside realtime.send becomes a WARNING: the caller commits and nothing is broadcast."""
    result = db.run_transaction(["SELECT realtime.send('{}'::jsonb, 'e', NULL)"])
    assert result.committed
    assert result.messages == ()
    assert any(w.startswith("ErrorSendingBroadcastMessage") for w in result.warnings)
