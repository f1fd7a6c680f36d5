"""Message contracts (JSON Schema, size, audience) and the delivery graph."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest

from bcastsim._resources import builtin_sql_files
from bcastsim.contracts import (
    build_contracts,
    channels_carrying,
    delivery_graph,
    field_schema,
    graph_to_json,
    what_feeds,
)
from bcastsim.sqlmodel import ColumnRef, PayloadField, load_catalog
from bcastsim.sqlmodel._lineage import object_bytes

FIXTURES = Path(__file__).parent / "fixtures" / "sql" / "inspect"


@pytest.fixture(scope="module")
def seed():
    return load_catalog(builtin_sql_files())


@pytest.fixture(scope="module")
def contracts(seed):
    return {(c.message_type, c.channel_pattern): c for c in build_contracts(seed)}


def test_one_contract_per_type_and_channel(contracts) -> None:
    """bid_update travels on two channels with different keys: two contracts."""
    assert sorted(contracts) == sorted(
        [
            ("bid_update", "broadcast:bid:{bids.art_id}"),
            ("bid_update", "broadcast:admin:{art.event_id}"),
            ("vote_update", "broadcast:admin:{art.event_id}"),
            ("winner_update", "broadcast:event:{art.event_id}"),
            ("auction_update", "broadcast:event:{art.event_id}"),
            ("media_update", "broadcast:art_media:{art_media.art_id}"),
            ("round_contestants_update", "broadcast:admin:{round_contestants.event_id}"),
        ]
    )
    assert all(c.public for c in contracts.values())  # pg_notify has no authorization


def test_schema_types_follow_column_types(contracts) -> None:
    """uuid → string/uuid, numeric → number, timestamptz → PostgreSQL's time pattern, boolean; nullable adds null."""
    bid = contracts[("bid_update", "broadcast:bid:{bids.art_id}")].schema
    assert bid["properties"]["bidder_id"] == {"type": "string", "format": "uuid"}
    assert bid["properties"]["amount"] == {"type": "number"}
    assert "format" not in bid["properties"]["timestamp"]  # RFC 3339 refuses BC years and second offsets
    assert re.fullmatch(bid["properties"]["timestamp"]["pattern"], "4713-01-01T00:00:00.123456-04:56:02 BC")
    assert bid["properties"]["artist_name"] == {"type": ["string", "null"]}
    assert bid["properties"]["type"] == {"const": "bid_update"}
    assert bid["additionalProperties"] is False
    assert bid["required"] == list(contracts[("bid_update", "broadcast:bid:{bids.art_id}")].keys)
    vote = contracts[("vote_update", "broadcast:admin:{art.event_id}")].schema
    assert vote["properties"]["round"] == {"type": "integer"}
    winner = contracts[("winner_update", "broadcast:event:{art.event_id}")].schema
    assert winner["properties"]["is_winner"] == {"type": "boolean"}
    rc = contracts[("round_contestants_update", "broadcast:admin:{round_contestants.event_id}")].schema
    assert rc["properties"]["operation"] == {"enum": ["added", "removed", "updated"]}
    jsonschema.Draft202012Validator.check_schema(bid)


def test_schema_accepts_a_real_payload_and_rejects_a_wrong_one(contracts) -> None:
    """A payload as PostgreSQL renders it validates; a missing key or a bad uuid does not."""
    schema = contracts[("bid_update", "broadcast:admin:{art.event_id}")].schema
    payload = {
        "type": "bid_update",
        "art_id": "5f0c0f5e-aaaa-bbbb-cccc-000000000001",
        "art_code": "A-1",
        "amount": 120.5,
        "timestamp": "2025-08-17T19:00:00.123456+00:00",
    }
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    assert list(validator.iter_errors(payload)) == []
    assert list(validator.iter_errors({**payload, "art_id": "not-a-uuid"}))
    assert list(validator.iter_errors({k: v for k, v in payload.items() if k != "amount"}))
    assert list(validator.iter_errors({**payload, "timestamp": "yesterday"}))


def test_worst_case_sizes(contracts) -> None:
    """Bounded payloads get a byte count; text columns make a payload unbounded, with the reason."""
    admin_bid = contracts[("bid_update", "broadcast:admin:{art.event_id}")]
    # {"type" : "bid_update", "art_id" : <uuid>, "art_code" : <varchar(32)>, "amount" : <numeric(10,2)>,
    #  "timestamp" : <timestamptz>} with json_build_object's "key" : value rendering
    expected = (
        2
        + (len('"type" : ') + len('"bid_update"'))
        + (len('"art_id" : ') + 38)
        + (len('"art_code" : ') + 6 * 32 + 2)
        + (len('"amount" : ') + len("-99999999.99"))
        + (len('"timestamp" : ') + 40)
        + 4 * len(", ")
    )
    assert admin_bid.max_payload_bytes == expected
    bid = contracts[("bid_update", "broadcast:bid:{bids.art_id}")]
    assert bid.max_payload_bytes is None
    assert bid.unbounded_reason is not None
    assert "artist_name" in bid.unbounded_reason


def test_jsonb_rendering_is_one_byte_shorter_per_key() -> None:
    """jsonb writes "k": v, json_build_object writes "k" : v."""
    fields = [
        PayloadField("a", "1", (), "integer", False, 1),
        PayloadField("bb", "2", (), "integer", False, 1),
    ]
    assert object_bytes(fields, "json") == len('{"a" : 1, "bb" : 1}')
    assert object_bytes(fields, "jsonb") == len('{"a": 1, "bb": 1}')


def test_private_realtime_topics_are_not_public() -> None:
    """realtime.send(private => false) is public; the default and broadcast_changes are private."""
    contracts = {c.message_type: c for c in build_contracts(load_catalog(FIXTURES / "rooms.sql"))}
    assert contracts["message_created"].public is True
    assert contracts["message_edited"].public is False
    changes = next(c for c in contracts.values() if c.transport == "realtime.broadcast_changes")
    assert changes.public is False
    assert changes.event == "{TG_OP}"


def test_field_schema_nullable_enum_and_unknown() -> None:
    """Literal values become enum (with null when nullable); an unknown type accepts anything."""
    nullable_enum = PayloadField("k", "v", (), "text", True, 9, values=("a", "b"))
    assert field_schema(nullable_enum) == {"enum": ["a", "b", None]}
    unknown = PayloadField("k", "f(x)", (ColumnRef("t", "x"),), None, True, None)
    assert field_schema(unknown) == {}


def test_channels_carrying_a_column(seed) -> None:
    """bids.person_id reaches only the bid channel; art.event_id also routes the admin and event channels."""
    graph = delivery_graph(seed)
    assert channels_carrying(graph, "bids.person_id") == ("broadcast:bid:{bids.art_id}",)
    assert "broadcast:admin:{art.event_id}" in channels_carrying(graph, "art.event_id")
    assert channels_carrying(graph, "people.email") == ()


def test_what_feeds_the_admin_channel(seed) -> None:
    """broadcast:admin:{…} is fed by the bid, vote and round_contestants triggers."""
    graph = delivery_graph(seed)
    feeders = what_feeds(graph, "broadcast:admin:{…}")
    assert feeders.tables == ("bids", "round_contestants", "votes")
    assert feeders.functions == (
        "broadcast_bid_realtime",
        "broadcast_round_contestants_realtime",
        "broadcast_vote_realtime",
    )
    assert "voter_id" in feeders.keys
    assert "bidder_id" not in feeders.keys
    assert "votes.person_id" in feeders.columns
    concrete = what_feeds(graph, "broadcast:bid:5f0c0f5e-aaaa-bbbb-cccc-000000000001")
    assert concrete.tables == ("bids",)
    assert what_feeds(graph, "nobody:listens").channels == ()


def test_graph_json_is_stable(seed) -> None:
    """The graph serializes in a stable order and every node has a kind."""
    first = graph_to_json(delivery_graph(seed))
    second = graph_to_json(delivery_graph(load_catalog(builtin_sql_files())))
    assert first == second
    kinds = {node["kind"] for node in first["nodes"]}
    assert kinds == {"table", "trigger", "function", "site", "channel", "field", "column"}
    assert {"source": "table:bids", "target": "trigger:bids.broadcast_bid_trigger", "enabled": True} in first["edges"]
