"""The contracts read from the SQL match what a real PostgreSQL sends, branch by branch."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bcastsim._resources import builtin_sql_dir, builtin_sql_files
from bcastsim.contracts import Contract, build_contracts
from bcastsim.sqlmodel import load_catalog

pytestmark = pytest.mark.postgres

E1 = "00000000-0000-4000-8000-0000000000e1"
E2 = "00000000-0000-4000-8000-0000000000e2"
P1 = "00000000-0000-4000-8000-0000000000a1"
AP1 = "00000000-0000-4000-8000-0000000000b1"
ART1 = "00000000-0000-4000-8000-0000000000c1"
ART2 = "00000000-0000-4000-8000-0000000000c2"
MEDIA = "00000000-0000-4000-8000-0000000000d1"
RC1 = "00000000-0000-4000-8000-0000000000f1"
RC2 = "00000000-0000-4000-8000-0000000000f2"

SETUP = [
    f"INSERT INTO events (id, eid, name) VALUES ('{E1}', 'E1', 'Final'), ('{E2}', 'E2', 'Semi')",
    f"INSERT INTO people (id, first_name) VALUES ('{P1}', 'Ada')",
    f"INSERT INTO artist_profiles (id, person_id, name) VALUES ('{AP1}', '{P1}', 'Ada Painter')",
    f"INSERT INTO art (id, event_id, artist_profile_id, code) VALUES ('{ART1}', '{E1}', '{AP1}', 'E1-1-1')",
    f"INSERT INTO art (id, event_id, code) VALUES ('{ART2}', '{E1}', 'E1-1-2')",
]

# Every branch of every notify site: bids (with and without an artist), votes, the art
# trigger's winner branch, auction branch and both at once, art_media INSERT and UPDATE,
# round_contestants INSERT (with and without art), UPDATE (same and other event), DELETE.
WORKLOAD: list[list[str]] = [
    [
        f"INSERT INTO bids (art_id, person_id, amount) VALUES ('{ART1}', '{P1}', 120.50)",
        f"INSERT INTO bids (art_id, person_id, amount) VALUES ('{ART2}', '{P1}', 75)",
    ],
    [f"INSERT INTO votes (art_uuid, event_id, person_id, round) VALUES ('{ART1}', '{E1}', '{P1}', 1)"],
    [f"UPDATE art SET is_winner = true WHERE id = '{ART1}'"],
    [f"UPDATE art SET auction_end_datetime = '2025-08-17 21:00:00+00' WHERE id = '{ART1}'"],
    [f"UPDATE art SET is_winner = true, auction_start_datetime = '2025-08-17 19:00:00+00' WHERE id = '{ART2}'"],
    [f"INSERT INTO art_media (id, art_id, image_url) VALUES ('{MEDIA}', '{ART1}', 'https://img/1.jpg')"],
    [f"UPDATE art_media SET is_primary_image = true WHERE id = '{MEDIA}'"],
    [
        f"INSERT INTO round_contestants (id, event_id, round, art_id) VALUES ('{RC1}', '{E1}', 1, '{ART1}')",
        f"INSERT INTO round_contestants (id, event_id, round) VALUES ('{RC2}', '{E1}', 2)",
    ],
    [f"UPDATE round_contestants SET easel_number = 3 WHERE id = '{RC1}'"],
    [f"UPDATE round_contestants SET event_id = '{E2}' WHERE id = '{RC2}'"],
    [f"DELETE FROM round_contestants WHERE id IN ('{RC1}', '{RC2}')"],
]


def _validator(contract: Contract) -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(contract.schema, format_checker=jsonschema.FormatChecker())


def _contract_for(
    contracts: Sequence[Contract], channel: str, payload: dict[str, Any], event: str | None = None
) -> Contract:
    candidates = [
        c
        for c in contracts
        if re.fullmatch(c.channel_regex, channel)
        and (payload.get("type") is None or payload.get("type") == c.message_type)
        and (event is None or c.event_regex is None or re.fullmatch(c.event_regex, event))
    ]
    assert len(candidates) == 1, (channel, payload, [c.channel_pattern for c in candidates])
    return candidates[0]


def test_seed_notifications_match_their_contracts(bcastsim_db) -> None:
    """Every pg_notify the seed sends matches a channel template, its keys and its JSON Schema."""
    contracts = build_contracts(load_catalog(builtin_sql_files()))
    assert bcastsim_db.run_transaction(SETUP).committed
    seen: set[tuple[str, str]] = set()
    count = 0
    for steps in WORKLOAD:
        result = bcastsim_db.run_transaction(steps)
        assert result.committed, result.error
        assert result.notifications, steps
        for notification in result.notifications:
            payload = json.loads(notification.payload)
            contract = _contract_for(contracts, notification.channel, payload)
            # json_build_object keeps the order the SQL writes the keys in.
            assert tuple(payload) == contract.keys
            errors = [e.message for e in _validator(contract).iter_errors(payload)]
            assert errors == [], (contract.message_type, payload)
            if contract.max_payload_bytes is not None:
                assert len(notification.payload.encode()) <= contract.max_payload_bytes
            seen.add((contract.message_type, contract.channel_pattern))
            count += 1
    assert seen == {(c.message_type, c.channel_pattern) for c in contracts}
    assert count >= len(contracts)


def test_nullable_fields_really_are_null(bcastsim_db) -> None:
    """The LEFT JOIN makes artist_name null for art without an artist; the schema allows exactly that."""
    contracts = build_contracts(load_catalog(builtin_sql_files()))
    assert bcastsim_db.run_transaction(SETUP).committed
    result = bcastsim_db.run_transaction(WORKLOAD[0])
    bid_payloads = [json.loads(n.payload) for n in result.notifications if n.channel.startswith("broadcast:bid:")]
    assert sorted(str(p["artist_name"]) for p in bid_payloads) == ["Ada Painter", "None"]
    contract = _contract_for(contracts, f"broadcast:bid:{ART1}", bid_payloads[0])
    field = contract.sites[0].field("artist_name")
    assert field is not None
    assert field.nullable
    # A payload with a null in a non-nullable field is rejected by the same schema.
    assert list(_validator(contract).iter_errors({**bid_payloads[0], "bidder_id": None}))


def test_worst_case_payload_reaches_the_computed_bound(bcastsim_db) -> None:
    """A row built to the worst case renders within one byte of max_payload_bytes (amount > 0 saves the sign)."""
    contracts = build_contracts(load_catalog(builtin_sql_files()))
    admin_bid = next(
        c for c in contracts if c.message_type == "bid_update" and c.channel_pattern.startswith("broadcast:admin:")
    )
    assert admin_bid.max_payload_bytes is not None
    worst_code = "repeat(chr(1), 32)"  # 32 control characters: 6 bytes each once JSON-escaped
    steps = [
        "SET LOCAL timezone = 'America/New_York'",  # LMT offsets carry seconds: -04:56:02
        f"INSERT INTO events (id, eid, name) VALUES ('{E1}', 'E1', 'Final')",
        f"INSERT INTO people (id) VALUES ('{P1}')",
        f"INSERT INTO art (id, event_id, code) VALUES ('{ART1}', '{E1}', {worst_code})",
        f"INSERT INTO bids (art_id, person_id, amount, created_at) "
        f"VALUES ('{ART1}', '{P1}', 99999999.99, '4713-01-01 00:00:00.123456 BC')",
    ]
    result = bcastsim_db.run_transaction(steps)
    assert result.committed, result.error
    (admin,) = [n for n in result.notifications if n.channel.startswith("broadcast:admin:")]
    observed = len(admin.payload.encode())
    assert observed == admin_bid.max_payload_bytes - 1
    assert not list(_validator(admin_bid).iter_errors(json.loads(admin.payload)))


def test_recommended_variant_messages_match_their_contracts(bcastsim_database_factory) -> None:
    """realtime.send messages of the recommended variant match topic, event, privacy, keys and schema."""
    variant = builtin_sql_dir() / "variants" / "recommended_triggers.sql"
    if not variant.exists():
        pytest.skip("no recommended variant in sql/variants")
    files = [builtin_sql_dir() / "schema.sql", builtin_sql_dir() / "realtime.sql", variant]
    contracts = build_contracts(load_catalog(files))
    database = bcastsim_database_factory(files)
    assert database.run_transaction(SETUP).committed
    seen: set[tuple[str, str]] = set()
    for steps in WORKLOAD:
        result = database.run_transaction(steps)
        assert result.committed, result.error
        for message in result.messages:
            payload = message.payload
            assert isinstance(payload, dict)
            contract = _contract_for(contracts, message.topic, payload, message.event)
            site_private = {site.private for site in contract.sites}
            assert site_private == {message.private}
            assert contract.public is (message.private is False)
            # jsonb does not keep key order: compare as sets (every contract key is required here).
            assert set(payload) == set(contract.keys)
            errors = [e.message for e in _validator(contract).iter_errors(payload)]
            assert errors == [], (contract.message_type, payload)
            if contract.max_payload_bytes is not None:
                assert len(json.dumps(payload, ensure_ascii=False).encode()) <= contract.max_payload_bytes
            seen.add((contract.message_type, contract.channel_pattern))
    assert seen == {(c.message_type, c.channel_pattern) for c in contracts}


ROOM = 7
MEMBER = "00000000-0000-4000-8000-00000000aa01"
MSG1 = "00000000-0000-4000-8000-00000000bb01"
MSG2 = "00000000-0000-4000-8000-00000000bb02"

ROOMS_WORKLOAD: list[list[str]] = [
    [
        f"INSERT INTO rooms (id, slug, title) OVERRIDING SYSTEM VALUE VALUES ({ROOM}, 'lobby', NULL)",
        f"INSERT INTO members (id, handle) VALUES ('{MEMBER}', 'ada')",
    ],
    [
        f"INSERT INTO messages (id, room_id, author_id, body, score) VALUES ('{MSG1}', {ROOM}, '{MEMBER}', 'hi', 4.5)",
        f"INSERT INTO messages (id, room_id, body) VALUES ('{MSG2}', {ROOM}, E'line\\nbreak')",
    ],
    [f"UPDATE messages SET body = 'edited' WHERE id = '{MSG1}'"],
    [f"DELETE FROM messages WHERE room_id = {ROOM}"],
    [f"DELETE FROM rooms WHERE id = {ROOM}"],
]


def test_realtime_send_broadcast_changes_and_notify_match_contracts(bcastsim_database_factory) -> None:
    """realtime.send (named args), broadcast_changes and NOTIFY in the rooms fixture match their contracts."""
    fixture = Path(__file__).parent / "fixtures" / "sql" / "inspect" / "rooms.sql"
    files = [builtin_sql_dir() / "realtime.sql", fixture]
    contracts = build_contracts(load_catalog(files))
    database = bcastsim_database_factory(files)
    # The capture taps pg_notify(); a NOTIFY statement is heard by listening on its channel.
    database.listen([str(c.channel) for c in contracts if c.transport == "NOTIFY"])
    seen: set[str] = set()
    for steps in ROOMS_WORKLOAD:
        result = database.run_transaction(steps)
        assert result.committed, result.error
        for message in result.messages:
            assert isinstance(message.payload, dict)
            contract = _contract_for(contracts, message.topic, message.payload, message.event)
            assert {site.private for site in contract.sites} == {message.private}
            assert set(message.payload) == set(contract.keys)
            errors = [e.message for e in _validator(contract).iter_errors(message.payload)]
            assert errors == [], (contract.message_type, message.payload)
            seen.add(contract.message_type)
        for notification in result.notifications:
            payload = json.loads(notification.payload)
            contract = _contract_for(contracts, notification.channel, payload)
            assert tuple(payload) == contract.keys
            assert len(notification.payload.encode()) == contract.max_payload_bytes
            seen.add(contract.message_type)
    assert seen == {c.message_type for c in contracts}
