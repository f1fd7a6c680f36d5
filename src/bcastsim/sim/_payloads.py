"""Message shapes: which writes emit which messages on which topics, and how many bytes they carry.

Two sources sit behind one seam (:func:`message_shapes`): the contracts derived from the SQL
(``bcastsim.contracts``) when that module can read the built-in SQL, and otherwise a stand-in built
from the seed's ``json_build_object`` keys with realistic values. Either way the sizes are of real
JSON text, so "30-50 byte payloads" can be checked against what the triggers actually build.
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["MessageShape", "ShapeSet", "message_shapes", "pc_frame_bytes"]

_UUID = "6f1c2a9e-3b4d-4e8f-9a0b-1c2d3e4f5a6b"
_TS = "2025-08-17T20:15:31.123456+00:00"

# Realistic values for the seed's payload keys and the schema's columns.
_VALUES: dict[str, Any] = {
    "id": _UUID,
    "art_id": _UUID,
    "art_uuid": _UUID,
    "event_id": _UUID,
    "person_id": _UUID,
    "bidder_id": _UUID,
    "voter_id": _UUID,
    "media_id": _UUID,
    "artist_profile_id": _UUID,
    "art_code": "AB3012-2-14",
    "code": "AB3012-2-14",
    "artist_name": "Maria Fernandes",
    "amount": 275.00,
    "vote_factor": 1.250,
    "round": 2,
    "is_winner": True,
    "is_primary": True,
    "is_primary_image": True,
    "timestamp": _TS,
    "created_at": _TS,
    "auction_start": _TS,
    "auction_end": _TS,
    "auction_start_datetime": _TS,
    "auction_end_datetime": _TS,
    "url": "https://artbattle.com/images/AB3012/AB3012-2-14/b7e2c1d4-5f6a-4b8c-9d0e-1f2a3b4c5d6e.jpg",
    "image_url": "https://artbattle.com/images/AB3012/AB3012-2-14/b7e2c1d4-5f6a-4b8c-9d0e-1f2a3b4c5d6e.jpg",
    "operation": "added",
    "easel": 7,
    "easel_number": 7,
    "status": "active",
    "starting_bid": 50.00,
}

# Columns of the built-in schema (sql/schema.sql), for postgres_changes' full-record payloads.
_TABLE_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "bids": (
        ("id", "uuid"),
        ("art_id", "uuid"),
        ("person_id", "uuid"),
        ("amount", "numeric"),
        ("created_at", "timestamptz"),
    ),
    "votes": (
        ("id", "uuid"),
        ("art_uuid", "uuid"),
        ("event_id", "uuid"),
        ("person_id", "uuid"),
        ("round", "int4"),
        ("vote_factor", "numeric"),
        ("created_at", "timestamptz"),
    ),
    "art": (
        ("id", "uuid"),
        ("event_id", "uuid"),
        ("artist_profile_id", "uuid"),
        ("code", "varchar"),
        ("round", "int4"),
        ("easel", "int4"),
        ("is_winner", "bool"),
        ("status", "text"),
        ("starting_bid", "numeric"),
        ("auction_start_datetime", "timestamptz"),
        ("auction_end_datetime", "timestamptz"),
        ("created_at", "timestamptz"),
    ),
    "art_media": (
        ("id", "uuid"),
        ("art_id", "uuid"),
        ("image_url", "text"),
        ("is_primary_image", "bool"),
        ("created_at", "timestamptz"),
    ),
    "round_contestants": (
        ("id", "uuid"),
        ("event_id", "uuid"),
        ("round", "int4"),
        ("art_id", "uuid"),
        ("easel_number", "int4"),
        ("is_winner", "int4"),
        ("created_at", "timestamptz"),
    ),
}


@attrs.frozen
class MessageShape:
    """One message a trigger sends: its kind, topic template and sizes."""

    kind: str  # also the key of [reactions]
    event: str  # the payload's "type"
    table: str
    topic_template: str  # "broadcast:bid:{art_id}", "broadcast:admin:{event_id}", ...
    keys: tuple[str, ...]
    notify_bytes: int  # json_build_object(...)::text as pg_notify sends it
    wire_bytes: int  # the Realtime frame a subscriber receives for it (realtime.send path)


@attrs.frozen
class ShapeSet:
    by_write: Mapping[str, tuple[MessageShape, ...]]  # write kind -> messages its triggers send
    source: str


def _num(value: Any, key: str) -> str:
    if key in {"amount", "starting_bid"}:
        return f"{value:.2f}"
    if key == "vote_factor":
        return f"{value:.3f}"
    return json.dumps(value)


def _rendered(key: str, value: Any) -> str:
    return _num(value, key) if isinstance(value, float) else json.dumps(value)


def _json_build_object_text(keys: tuple[str, ...], event: str) -> str:
    # json_build_object(...)::text renders {"k" : v, "k2" : v2} (FACTS: the " : " spacing).
    parts = []
    for key in keys:
        rendered = _rendered(key, event if key == "type" else _VALUES[key])
        parts.append(f'"{key}" : {rendered}')
    return "{" + ", ".join(parts) + "}"


def _compact(keys: tuple[str, ...], event: str) -> str:
    parts = []
    for key in keys:
        rendered = _rendered(key, event if key == "type" else _VALUES[key])
        parts.append(f'"{key}":{rendered}')
    return "{" + ",".join(parts) + "}"


def _broadcast_frame_bytes(topic: str, event: str, payload_json: str) -> int:
    frame = (
        '{"topic":"realtime:'
        + topic
        + '","event":"broadcast","payload":{"type":"broadcast","event":"'
        + event
        + '","payload":'
        + payload_json
        + ',"meta":{"id":"'
        + _UUID
        + '"}},"ref":null}'
    )
    return len(frame.encode())


def pc_frame_bytes(table: str, operation: str = "INSERT") -> int:
    """Bytes of one postgres_changes frame: the full record plus column list and envelope."""
    columns = _TABLE_COLUMNS[table]
    record = _row_json(table)
    old = '{"id":"' + _UUID + '"}' if operation == "UPDATE" else "{}"
    cols = json.dumps([{"name": n, "type": t} for n, t in columns], separators=(",", ":"))
    frame = (
        '{"topic":"realtime:public:' + table + '","event":"postgres_changes","payload":{"ids":[48213377],'
        '"data":{"columns":' + cols + ',"commit_timestamp":"2025-08-17T20:15:31.123Z","errors":null,'
        '"old_record":'
        + old
        + ',"record":'
        + record
        + ',"schema":"public","table":"'
        + table
        + '","type":"'
        + operation
        + '"}},"ref":null}'
    )
    return len(frame.encode())


def row_json_bytes(table: str) -> int:
    """``row_to_json`` size of a typical row of ``table`` (FACTS: a bid row is ~208 bytes)."""
    return len(_row_json(table).encode())


def _row_json(table: str) -> str:
    """The typical row of ``table`` as compact JSON; a postgres_changes frame carries the same record."""
    return "{" + ",".join(f'"{name}":{_rendered(name, _VALUES[name])}' for name, _type in _TABLE_COLUMNS[table]) + "}"


# The seed's trigger functions (section 1.1), as (write kind, message kind, event, table, topic, keys).
_SEED_MESSAGES: tuple[tuple[str, str, str, str, str, tuple[str, ...]], ...] = (
    (
        "bid",
        "bid_update",
        "bid_update",
        "bids",
        "broadcast:bid:{art_id}",
        ("type", "art_id", "art_code", "artist_name", "amount", "event_id", "timestamp", "bidder_id"),
    ),
    (
        "bid",
        "admin_bid_update",
        "bid_update",
        "bids",
        "broadcast:admin:{event_id}",
        ("type", "art_id", "art_code", "amount", "timestamp"),
    ),
    (
        "vote",
        "vote_update",
        "vote_update",
        "votes",
        "broadcast:admin:{event_id}",
        ("type", "art_id", "art_code", "vote_factor", "round", "voter_id", "timestamp"),
    ),
    (
        "winner",
        "winner_update",
        "winner_update",
        "art",
        "broadcast:event:{event_id}",
        ("type", "art_id", "art_code", "is_winner", "round", "timestamp"),
    ),
    (
        "auction",
        "auction_update",
        "auction_update",
        "art",
        "broadcast:event:{event_id}",
        ("type", "art_id", "art_code", "auction_start", "auction_end", "timestamp"),
    ),
    (
        "media",
        "media_update",
        "media_update",
        "art_media",
        "broadcast:art_media:{art_id}",
        ("type", "art_id", "event_id", "media_id", "url", "is_primary", "timestamp"),
    ),
    (
        "contestant",
        "round_contestants_update",
        "round_contestants_update",
        "round_contestants",
        "broadcast:admin:{event_id}",
        ("type", "operation", "event_id", "round", "art_id", "timestamp"),
    ),
)

# Which table each write kind changes, and how (what postgres_changes subscribers see).
WRITE_TABLES: dict[str, tuple[str, str]] = {
    "bid": ("bids", "INSERT"),
    "vote": ("votes", "INSERT"),
    "winner": ("art", "UPDATE"),
    "auction": ("art", "UPDATE"),
    "media": ("art_media", "INSERT"),
    "contestant": ("round_contestants", "INSERT"),
    "art_insert": ("art", "INSERT"),
}


def _standin() -> ShapeSet:
    by_write: dict[str, list[MessageShape]] = {kind: [] for kind in WRITE_TABLES}
    for write, kind, event, table, topic, keys in _SEED_MESSAGES:
        notify = len(_json_build_object_text(keys, event).encode())
        sample_topic = topic.format(art_id=_UUID, event_id=_UUID)
        wire = _broadcast_frame_bytes(sample_topic, event, _compact(keys, event))
        by_write[write].append(MessageShape(kind, event, table, topic, keys, notify, wire))
    return ShapeSet({k: tuple(v) for k, v in by_write.items()}, "stand-in from the seed's json_build_object keys")


def _from_contracts(standin: ShapeSet) -> ShapeSet | None:
    """Re-key the stand-in's messages by the contracts' keys when the contracts module can read the SQL."""
    try:
        # Imported by name: the simulator must keep working on a tree where they are absent.
        contracts_module = importlib.import_module("bcastsim.contracts")
        sqlmodel = importlib.import_module("bcastsim.sqlmodel")
        from bcastsim._resources import builtin_sql_files

        contracts = contracts_module.build_contracts(sqlmodel.load_catalog(builtin_sql_files()))
    except Exception:  # the contracts are optional here: any failure keeps the stand-in
        return None
    by_pattern: dict[tuple[str, str], tuple[str, ...]] = {}
    for contract in contracts:
        pattern = str(getattr(contract, "channel_pattern", ""))
        keys = tuple(getattr(contract, "keys", ()))
        event = str(getattr(contract, "message_type", ""))
        by_pattern[(event, _normalise_pattern(pattern))] = keys
    changed: dict[str, tuple[MessageShape, ...]] = {}
    matched = 0
    for write, shapes in standin.by_write.items():
        out = []
        for shape in shapes:
            found = by_pattern.get((shape.event, _normalise_pattern(shape.topic_template)))
            if found and all(k in _VALUES or k == "type" for k in found):
                keys = found
                matched += 1
                notify = len(_json_build_object_text(keys, shape.event).encode())
                sample_topic = shape.topic_template.format(art_id=_UUID, event_id=_UUID)
                wire = _broadcast_frame_bytes(sample_topic, shape.event, _compact(keys, shape.event))
                out.append(attrs.evolve(shape, keys=keys, notify_bytes=notify, wire_bytes=wire))
            else:
                out.append(shape)
        changed[write] = tuple(out)
    if matched == 0:
        return None
    return ShapeSet(changed, f"contracts of the built-in SQL ({matched} message types matched)")


def _normalise_pattern(pattern: str) -> str:
    # "broadcast:bid:{bids.art_id}" and "broadcast:bid:{art_id}" name the same channel family.
    out, depth = [], 0
    for ch in pattern:
        if ch == "{":
            depth += 1
            out.append("{}")
        elif ch == "}":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


@functools.lru_cache(maxsize=4)
def message_shapes(source: str = "auto") -> ShapeSet:
    """Message shapes from ``"contracts"``, ``"standin"`` or ``"auto"`` (contracts when they load)."""
    standin = _standin()
    if source == "standin":
        return standin
    contracted = _from_contracts(standin)
    if contracted is None:
        if source == "contracts":
            raise RuntimeError("bcastsim.contracts could not build contracts from the built-in SQL")
        return standin
    return contracted
