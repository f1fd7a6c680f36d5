"""The app a scenario simulates, read from its SQL: which writes emit which messages, on which topics, of what size.

Everything comes from the notify sites and contracts ``bcastsim inspect`` prints (``bcastsim.sqlmodel``,
``bcastsim.contracts``): a site's channel pattern becomes a topic template whose placeholders the
scenario's entities fill, its ``sent on OP when ...`` conditions become the emission rules a
``[writes.*]`` entry must give a share for, and its payload fields, valued by their column types,
give the bytes a message carries. postgres_changes frames carry whole rows of the tables in the
same catalog.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from bcastsim._errors import InputError
from bcastsim._resources import builtin_sql_dir, builtin_sql_files
from bcastsim.contracts import build_contracts
from bcastsim.sim._scenario import Scenario, _suggest
from bcastsim.sqlmodel import Catalog, ColumnRef, Hole, NotifySite, PayloadField, Table, load_catalog

__all__ = ["AppModel", "MessageSpec", "app_model", "sql_files"]

_UUID = "6f1c2a9e-3b4d-4e8f-9a0b-1c2d3e4f5a6b"
# A realistic rendered value per column type: what a typical row holds, not a worst case.
_TYPE_VALUES = {
    "uuid": json.dumps(_UUID),
    "timestamptz": json.dumps("2025-08-17T20:15:31.123456+00:00"),
    "timestamp": json.dumps("2025-08-17T20:15:31.123456"),
    "date": json.dumps("2025-08-17"),
    "time": json.dumps("20:15:31.123456"),
    "numeric": "275.00",
    "smallint": "2",
    "integer": "7",
    "bigint": "48213377",
    "real": "1.25",
    "double precision": "1.25",
    "boolean": "true",
    "json": "{}",
    "jsonb": "{}",
}
# Realtime names column types as PostgreSQL's catalog does in a postgres_changes frame.
_PG_NAMES = {
    "integer": "int4",
    "smallint": "int2",
    "bigint": "int8",
    "boolean": "bool",
    "real": "float4",
    "double precision": "float8",
}
_TEXT_CHARS = 12  # a typical short text value (a code, a name, a status) when the scenario says nothing


def _shop_sql() -> list[Path]:
    return [builtin_sql_dir() / "shop" / "schema.sql", builtin_sql_dir() / "shop" / "triggers.sql"]


_BUILTIN_SQL: dict[str, Callable[[], list[Path]]] = {"builtin:artbattle": builtin_sql_files, "builtin:shop": _shop_sql}
# A condition on TG_OP alone holds for the operation it is listed under.
_TG_OP_ONLY = re.compile(r"^\s*\(?\s*TG_OP\s*(=|IN)\s*[^()]*\)?\s*$", re.IGNORECASE)


@attrs.frozen
class MessageSpec:
    """One notify site as the simulator sends it."""

    index: int
    kind: str  # the message type: the reaction key and the latency row of the report
    table: str
    function: str
    pattern: str  # the channel pattern as `bcastsim inspect` prints it
    parts: tuple[str | Hole, ...]
    conditions: dict[str, tuple[str, ...]]  # operation -> conditions that must hold (empty: always)
    notify_bytes: int  # the payload text as the SQL builds it (NOTIFY's 8000-byte limit applies to it)
    wire_bytes: int  # the Realtime broadcast frame a subscriber receives
    changes_bytes: int  # the frame realtime.broadcast_changes sends for it (the whole row)
    private: bool | None
    lookups: int  # SELECTs the trigger function runs before sending (payload values from other tables)


@attrs.frozen
class AppModel:
    """The app's SQL as the simulator needs it."""

    catalog: Catalog
    messages: tuple[MessageSpec, ...]
    sources: tuple[str, ...]
    text_lengths: dict[str, int] = attrs.field(factory=dict)

    @property
    def patterns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.pattern for m in self.messages))

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.kind for m in self.messages))

    def messages_for(self, table: str, operation: str) -> tuple[MessageSpec, ...]:
        return tuple(m for m in self.messages if m.table == table and operation in m.conditions)

    def watched(self, table: str) -> bool:
        return any(m.table == table for m in self.messages)

    def row_json(self, table: str) -> str:
        """A typical row of ``table`` as compact JSON (what postgres_changes and broadcast_changes carry)."""
        found = self.catalog.tables.get(table)
        if found is None:
            return "{}"
        return "{" + ",".join(f'"{c.name}":{self._column_value(found, c.name)}' for c in found.columns) + "}"

    def pc_frame_bytes(self, table: str, operation: str = "INSERT") -> int:
        """Bytes of one postgres_changes frame: the full record plus column list and envelope."""
        found = self.catalog.tables.get(table)
        columns = found.columns if found is not None else ()
        old = '{"id":"' + _UUID + '"}' if operation == "UPDATE" else "{}"
        cols = json.dumps([{"name": c.name, "type": _PG_NAMES.get(c.type_name, c.type_name)} for c in columns])
        frame = (
            '{"topic":"realtime:public:' + table + '","event":"postgres_changes","payload":{"ids":[48213377],'
            '"data":{"columns":' + cols.replace(", ", ",").replace(": ", ":") + ","
            '"commit_timestamp":"2025-08-17T20:15:31.123Z","errors":null,"old_record":'
            + old
            + ',"record":'
            + self.row_json(table)
            + ',"schema":"public","table":"'
            + table
            + '","type":"'
            + operation
            + '"}},"ref":null}'
        )
        return len(frame.encode())

    def _column_value(self, table: Table, column: str) -> str:
        found = table.column(column)
        if found is None:
            return '""'
        return self._typed(found.type_name, f"{table.name}.{column}", found.max_chars, found.type_modifiers)

    def _typed(self, sql_type: str | None, where: str, max_chars: int | None = None, mods: tuple[int, ...] = ()) -> str:
        if sql_type in _TYPE_VALUES:
            return _TYPE_VALUES[sql_type]
        chars = self.text_lengths.get(where, _TEXT_CHARS)
        limit = max_chars or (mods[0] if mods and sql_type in ("varchar", "char") else None)
        if limit is not None and where not in self.text_lengths:
            chars = min(chars, limit)
        return json.dumps("x" * chars)

    def field_value(self, field: PayloadField) -> str:
        if field.values:
            return json.dumps(max(field.values, key=len))
        where = str(field.sources[0]) if field.sources else ""
        column = self._column(field.sources[0]) if field.sources else None
        return self._typed(field.sql_type, where, column[0] if column else None, column[1] if column else ())

    def _column(self, ref: ColumnRef) -> tuple[int | None, tuple[int, ...]] | None:
        table = self.catalog.tables.get(ref.table)
        found = table.column(ref.column) if table is not None else None
        return None if found is None else (found.max_chars, found.type_modifiers)

    def hole_value(self, hole: Hole) -> str:
        rendered = self._typed(hole.sql_type, str(hole.sources[0]) if hole.sources else "")
        return rendered.strip('"')


def sql_files(scenario: Scenario, override: Sequence[str | Path] | None = None) -> list[Path]:
    """The scenario's SQL files in load order (``override``: the command line's ``--sql`` paths)."""
    entries = [str(p) for p in override] if override else list(scenario.scenario.sql)
    base = Path(scenario.source).parent if not override else Path.cwd()
    out: list[Path] = []
    for entry in entries:
        if entry.startswith("builtin:"):
            if entry not in _BUILTIN_SQL:
                raise scenario.fail(
                    f'no built-in SQL "{entry}"', "scenario", "sql", _suggest(entry, sorted(_BUILTIN_SQL))
                )
            out.extend(_BUILTIN_SQL[entry]())
            continue
        path = Path(entry)
        path = path if path.is_absolute() else base / path
        if not path.exists():
            if override:
                raise InputError("--sql names a file that does not exist", path=path, fix="pass the app's SQL files")
            raise scenario.fail(
                f"scenario.sql names {path}, which does not exist",
                "scenario",
                "sql",
                "paths are relative to the scenario file; or use builtin:artbattle / builtin:shop",
            )
        out.append(path)
    return out


def _message_kind(contract_type: str, site: NotifySite) -> str:
    # A site with no type or event name is named by its contract "function@file:line"; its function reads better.
    return site.function if "@" in contract_type else contract_type


def _payload_text(site: NotifySite, model: AppModel, *, compact: bool) -> str:
    if site.payload is None:
        return json.dumps("x" * (site.max_payload_bytes or 64))
    sep, colon = (",", ":") if compact else ((", ", ": ") if site.payload_format == "jsonb" else (", ", " : "))
    return "{" + sep.join(f'"{f.key}"{colon}{model.field_value(f)}' for f in site.payload) + "}"


def _frame(topic: str, event: str, payload: str) -> int:
    frame = (
        '{"topic":"realtime:'
        + topic
        + '","event":"broadcast","payload":{"type":"broadcast","event":"'
        + event
        + '","payload":'
        + payload
        + ',"meta":{"id":"'
        + _UUID
        + '"}},"ref":null}'
    )
    return len(frame.encode())


def _conditions(site: NotifySite) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for operation, conditions in site.emitted_when:
        out[operation] = tuple(c for c in conditions if not _TG_OP_ONLY.match(c))
    return out


def app_model(scenario: Scenario, sql: Sequence[str | Path] | None = None) -> AppModel:
    """Read the scenario's SQL (or ``sql``) into the messages each table's writes can send."""
    paths = sql_files(scenario, sql)
    catalog = load_catalog(paths)
    shell = AppModel(catalog, (), tuple(str(p) for p in paths), dict(scenario.text_lengths))
    messages: list[MessageSpec] = []
    for contract in build_contracts(catalog):
        for site in contract.sites:
            kind = _message_kind(contract.message_type, site)
            sample_topic = "".join(shell.hole_value(p) if isinstance(p, Hole) else p for p in site.channel.parts)
            compact = _payload_text(site, shell, compact=True)
            foreign = {s.table for f in site.payload or () for s in f.sources} - set(site.tables)
            for table in site.tables:
                row = shell.row_json(table)
                changes = '{"old_record":null,"operation":"UPDATE","record":' + row + ',"schema":"public","table":"'
                messages.append(
                    MessageSpec(
                        index=len(messages),
                        kind=kind,
                        table=table,
                        function=site.function,
                        pattern=str(site.channel),
                        parts=site.channel.parts,
                        conditions=_conditions(site),
                        notify_bytes=len(_payload_text(site, shell, compact=False).encode()),
                        wire_bytes=_frame(sample_topic, kind, compact),
                        changes_bytes=_frame(
                            sample_topic, site.operations[0] if site.operations else kind, changes + table + '"}'
                        ),
                        private=site.private,
                        lookups=1 if foreign else 0,
                    )
                )
    if not messages:
        raise InputError(
            "the scenario's SQL sends no message: no pg_notify, NOTIFY or realtime.send call in a trigger function",
            path=paths[0] if paths else scenario.source,
            fix="pass the SQL files that define the triggers (scenario.sql or --sql)",
        )
    return attrs.evolve(shell, messages=tuple(messages))
