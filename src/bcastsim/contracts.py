"""Message contracts and the delivery graph, derived from the SQL model.

A :class:`Contract` describes one kind of message: the channel it travels on, its payload
keys and JSON Schema, its worst-case size and whether anyone may subscribe to it. The
delivery graph (networkx) links table → trigger → function → notify site → channel →
payload field → source column, so questions such as "which channels carry
``bids.person_id``?" become graph queries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from bcastsim.sqlmodel import Catalog, NotifySite, PayloadField, Template

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "Contract",
    "Feeders",
    "build_contracts",
    "channels_carrying",
    "delivery_graph",
    "field_schema",
    "graph_to_json",
    "matching_channels",
    "what_feeds",
]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# Text forms PostgreSQL's JSON output gives times: ISO 8601 with a "T", optional
# microseconds, and (timestamptz) an offset that may carry seconds; or ±infinity.
_DATE_TIME_PATTERN = r"^(-?infinity|\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:\d{2}){0,2}|Z)( BC)?)$"
_TIMESTAMP_PATTERN = r"^(-?infinity|\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?( BC)?)$"
_DATE_PATTERN = r"^(-?infinity|\d{4,}-\d{2}-\d{2}( BC)?)$"
# No "format": "date-time"/"date": RFC 3339 has no BC years, no infinity and no offsets with
# seconds, all of which PostgreSQL renders, so a format-checking validator would refuse real payloads.

_SCALAR_SCHEMAS: dict[str, dict[str, Any]] = {
    "uuid": {"type": "string", "format": "uuid"},
    "text": {"type": "string"},
    "varchar": {"type": "string"},
    "char": {"type": "string"},
    "name": {"type": "string"},
    "smallint": {"type": "integer"},
    "integer": {"type": "integer"},
    "bigint": {"type": "integer"},
    "oid": {"type": "integer"},
    "numeric": {"type": "number"},
    "real": {"type": "number"},
    "double precision": {"type": "number"},
    "boolean": {"type": "boolean"},
    "timestamptz": {"type": "string", "pattern": _DATE_TIME_PATTERN},
    "timestamp": {"type": "string", "pattern": _TIMESTAMP_PATTERN},
    "date": {"type": "string", "pattern": _DATE_PATTERN},
}


@attrs.frozen
class Contract:
    """One kind of message: where it goes, what it holds, how big it gets, who may hear it.

    ``message_type`` is the payload's literal ``type`` field when there is one, else the
    literal event name, else the site (``function@path:line``). ``public`` is True when no
    authorization stands between a subscriber and the channel (``pg_notify``/``NOTIFY``,
    ``realtime.send(..., private => false)``).
    """

    message_type: str
    channel_pattern: str
    transport: str
    function: str
    keys: tuple[str, ...]
    schema: dict[str, Any]
    max_payload_bytes: int | None
    unbounded_reason: str | None
    public: bool
    sites: tuple[NotifySite, ...]
    event: str | None = None

    @property
    def emitted_when(self) -> dict[str, list[str]]:
        """Per trigger operation, the conditions (one per site, any of them) under which the message is sent."""
        result: dict[str, list[str]] = {}
        for site in self.sites:
            for operation, conditions in site.emitted_when:
                text = " AND ".join(conditions) or "always"
                if text not in result.setdefault(operation, []):
                    result[operation].append(text)
        return result

    @property
    def channel(self) -> Template:
        return self.sites[0].channel

    @property
    def channel_regex(self) -> str:
        return self.sites[0].channel.regex()

    @property
    def event_regex(self) -> str | None:
        event = self.sites[0].event
        return event.regex() if event is not None else None

    def to_json(self) -> dict[str, Any]:
        return {
            "message_type": self.message_type,
            "channel_pattern": self.channel_pattern,
            "channel_regex": self.channel_regex,
            "transport": self.transport,
            "event": self.event,
            "event_regex": self.event_regex,
            "function": self.function,
            "public": self.public,
            "keys": list(self.keys),
            "max_payload_bytes": self.max_payload_bytes,
            "unbounded_reason": self.unbounded_reason,
            "sites": [site.key for site in self.sites],
            "emitted_when": self.emitted_when,
            "schema": self.schema,
        }


def _message_type(site: NotifySite) -> str:
    type_field = site.field("type")
    if type_field is not None and type_field.constant is not None:
        return type_field.constant
    if site.event is not None and site.event.is_literal:
        return str(site.event)
    return site.key


def _is_public(site: NotifySite) -> bool:
    if site.transport in {"pg_notify", "NOTIFY"}:
        return True
    # Unknown at analysis time (private computed at run time): assume the exposed case.
    return site.private is not True


def field_schema(field: PayloadField) -> dict[str, Any]:
    """The JSON Schema of one payload value, from its SQL type, literal values and nullability."""
    schema: dict[str, Any]
    if field.values is not None and field.sql_type not in {"json", "jsonb"}:
        values: list[Any] = list(field.values)
        if field.sql_type in {"integer", "bigint", "smallint", "numeric"}:
            values = [_number(v) for v in values]
        elif field.sql_type == "boolean":
            values = [v in {"true", "t"} for v in values]
        if field.nullable:
            values.append(None)
        return {"const": values[0]} if len(values) == 1 else {"enum": values}
    if field.sql_type is not None and field.sql_type in _SCALAR_SCHEMAS:
        schema = dict(_SCALAR_SCHEMAS[field.sql_type])
    elif field.sql_type is not None and field.sql_type.endswith("[]"):
        schema = {"type": "array"}
    elif field.sql_type in {"json", "jsonb", "record"}:
        schema = {"type": "object"}
    else:
        schema = {}
    if field.nullable and "type" in schema:
        schema["type"] = [schema["type"], "null"]
    return schema


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def _schema(message_type: str, sites: Sequence[NotifySite]) -> tuple[tuple[str, ...], dict[str, Any]]:
    keys: dict[str, list[PayloadField]] = {}
    for site in sites:
        for field in site.payload or ():
            keys.setdefault(field.key, []).append(field)
    required = [key for key in keys if all(site.field(key) is not None for site in sites)]
    properties = {}
    for key, fields in keys.items():
        schemas = [field_schema(field) for field in fields]
        unique = [s for i, s in enumerate(schemas) if s not in schemas[:i]]
        properties[key] = unique[0] if len(unique) == 1 else {"anyOf": unique}
    understood = all(site.payload is not None for site in sites)
    schema: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": message_type,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": not understood,
    }
    return tuple(keys), schema


def build_contracts(source: Catalog | Iterable[NotifySite]) -> tuple[Contract, ...]:
    """One contract per message type and channel shape (sites sending the same thing merge)."""
    sites = source.notify_sites if isinstance(source, Catalog) else tuple(source)
    groups: dict[tuple[str, str, str, str | None], list[NotifySite]] = {}
    for site in sites:
        event_shape = site.event.shape if site.event is not None else None
        key = (_message_type(site), site.transport, site.channel.shape, event_shape)
        groups.setdefault(key, []).append(site)
    contracts = []
    for (message_type, transport, _, _), members in groups.items():
        keys, schema = _schema(message_type, members)
        sizes = [site.max_payload_bytes for site in members]
        size = None if any(s is None for s in sizes) else max(s or 0 for s in sizes)
        reasons = [site.unbounded_reason for site in members if site.max_payload_bytes is None]
        first = members[0]
        contracts.append(
            Contract(
                message_type=message_type,
                channel_pattern=str(first.channel),
                transport=transport,
                function=first.function,
                keys=keys,
                schema=schema,
                max_payload_bytes=size,
                unbounded_reason=("; ".join(dict.fromkeys(r for r in reasons if r)) or None) if size is None else None,
                public=any(_is_public(site) for site in members),
                sites=tuple(members),
                event=str(first.event) if first.event is not None else None,
            )
        )
    return tuple(contracts)


# -- delivery graph ------------------------------------------------------------------------


def delivery_graph(catalog: Catalog) -> nx.DiGraph[str]:
    """table → trigger → function → site → channel → field → column, as a directed graph.

    Node ids are ``kind:name`` strings (``table:bids``, ``trigger:bids.broadcast_bid_trigger``,
    ``function:broadcast_bid_realtime``, ``site:<function>@<path>:<line>``,
    ``channel:broadcast:bid:{bids.art_id}``, ``field:<site>#<key>``, ``column:bids.person_id``);
    every node has ``kind`` and ``name`` attributes. Channels also link straight to the
    columns spliced into their names (edge ``role="topic"``; payload edges have
    ``role="payload"``).
    """
    # Imported here: networkx holds 24 MiB once imported, and inspect, check and the contracts
    # themselves need no graph.
    import networkx as nx

    graph: nx.DiGraph[str] = nx.DiGraph()

    def node(kind: str, name: str, **data: Any) -> str:
        node_id = f"{kind}:{name}"
        if node_id not in graph:
            graph.add_node(node_id, kind=kind, name=name, **data)
        else:
            graph.nodes[node_id].update(data)
        return node_id

    for trigger in sorted(catalog.triggers.values(), key=lambda t: (t.table, t.name)):
        table = node("table", trigger.table)
        trigger_id = node(
            "trigger",
            f"{trigger.table}.{trigger.name}",
            enabled=trigger.enabled,
            events=trigger.events,
            timing=trigger.timing,
        )
        graph.add_edge(table, trigger_id, enabled=trigger.enabled)
        function = node("function", trigger.function)
        graph.add_edge(trigger_id, function)
    sites = catalog.notify_sites
    for writer, tables in sorted(catalog.writes.items()):
        for table in tables:
            # Cascading triggers: rows this function writes fire the table's triggers.
            if any(t.table == table for t in catalog.triggers.values()):
                graph.add_edge(node("function", writer), node("table", table), role="writes")
    for caller, callees in sorted(catalog.calls.items()):
        for callee in callees:
            graph.add_edge(node("function", caller), node("function", callee), role="calls")
    for site in sites:
        function = node("function", site.function)
        site_id = node("site", site.key, transport=site.transport, line=site.location.line)
        graph.add_edge(function, site_id)
        pattern = str(site.channel)
        channel = node(
            "channel",
            pattern,
            shape=site.channel.shape,
            regex=site.channel.regex(),
            public=_is_public(site) or graph.nodes.get(f"channel:{pattern}", {}).get("public", False),
            transport=site.transport,
        )
        graph.add_edge(site_id, channel)
        for hole in site.channel.holes:
            for ref in hole.sources:
                graph.add_edge(channel, node("column", str(ref)), role="topic")
        for field in site.payload or ():
            field_id = node("field", f"{site.key}#{field.key}", key=field.key, site=site.key)
            graph.add_edge(channel, field_id)
            for ref in field.sources:
                graph.add_edge(field_id, node("column", str(ref)), role="payload")
    return graph


def _column_name(column: str) -> str:
    return column.removeprefix("column:")


def channels_carrying(graph: nx.DiGraph[str], column: str, *, include_topic: bool = True) -> tuple[str, ...]:
    """Channel patterns whose payload (or, with ``include_topic``, whose name) carries ``column``.

    ``column`` is ``table.column`` (e.g. ``"bids.person_id"``); sorted, deterministic.
    """
    node_id = f"column:{_column_name(column)}"
    if node_id not in graph:
        return ()
    found: set[str] = set()
    for predecessor in graph.predecessors(node_id):
        data = graph.nodes[predecessor]
        if data.get("kind") == "field":
            found.update(graph.nodes[c]["name"] for c in graph.predecessors(predecessor))
        elif data.get("kind") == "channel" and include_topic:
            found.add(data["name"])
    return tuple(sorted(found))


@attrs.frozen
class Feeders:
    """Everything upstream and downstream of a channel: who sends to it and what it carries."""

    channels: tuple[str, ...]
    sites: tuple[str, ...]
    functions: tuple[str, ...]
    triggers: tuple[str, ...]
    tables: tuple[str, ...]
    keys: tuple[str, ...]
    columns: tuple[str, ...]

    def to_json(self) -> dict[str, list[str]]:
        return {name: list(getattr(self, name)) for name in attrs.fields_dict(Feeders)}


_HOLE = re.compile(r"\{[^{}]*\}")


def _shape(pattern: str) -> str:
    return _HOLE.sub("{…}", pattern)


def matching_channels(graph: nx.DiGraph[str], query: str) -> tuple[str, ...]:
    """Channel nodes a query names: an exact pattern, a shape (``{…}`` holes) or a concrete name."""
    exact = f"channel:{query}"
    if exact in graph:
        return (exact,)
    shape = _shape(query)
    found = []
    for node_id, data in graph.nodes(data=True):
        if data.get("kind") != "channel":
            continue
        if data.get("shape") == shape or re.fullmatch(data.get("regex", "^$"), query, flags=re.DOTALL):
            found.append(node_id)
    return tuple(sorted(found))


def what_feeds(graph: nx.DiGraph[str], channel: str) -> Feeders:
    """Sites, functions, triggers and tables that send on ``channel``, and the keys and columns it carries.

    ``channel`` may be an exact pattern (``broadcast:admin:{art.event_id}``), a shape whose
    holes are written ``{…}`` or anything in braces, or a concrete channel name
    (``broadcast:admin:5f0c…``).
    """
    import networkx as nx  # see delivery_graph

    channels = matching_channels(graph, channel)
    upstream: set[str] = set()
    downstream: set[str] = set()
    for channel_id in channels:
        upstream |= nx.ancestors(graph, channel_id)
        downstream |= nx.descendants(graph, channel_id)

    def names(nodes: Iterable[str], kind: str, attribute: str = "name") -> tuple[str, ...]:
        return tuple(sorted({graph.nodes[n][attribute] for n in nodes if graph.nodes[n].get("kind") == kind}))

    return Feeders(
        channels=tuple(graph.nodes[c]["name"] for c in channels),
        sites=names(upstream, "site"),
        functions=names(upstream, "function"),
        triggers=names(upstream, "trigger"),
        tables=names(upstream, "table"),
        keys=names(downstream, "field", "key"),
        columns=names(downstream, "column"),
    )


def graph_to_json(graph: nx.DiGraph[str]) -> dict[str, Any]:
    """Nodes and edges in a stable order, JSON-ready."""
    nodes = []
    for node_id in sorted(graph.nodes):
        data = graph.nodes[node_id]
        nodes.append({"id": node_id, **{k: _jsonable(v) for k, v in sorted(data.items())}})
    edges = []
    for source, target in sorted(graph.edges):
        data = graph.edges[source, target]
        edges.append({"source": source, "target": target, **{k: _jsonable(v) for k, v in sorted(data.items())}})
    return {"nodes": nodes, "edges": edges}


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value
