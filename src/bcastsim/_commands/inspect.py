"""``bcastsim inspect PATH... [--format text|json]``: what the SQL can broadcast, read from the SQL alone."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from bcastsim._io import _finite

if TYPE_CHECKING:
    from bcastsim.contracts import Contract
    from bcastsim.sqlmodel import Catalog, Function, NotifySite, PayloadField, Table, Template, Trigger

__all__ = ["HELP", "SCHEMA_VERSION", "configure", "document", "render_text", "run", "write_json"]

HELP = "list the triggers, notify sites, payload lineage and message contracts defined by SQL files"

SCHEMA_VERSION = 1


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="SQL files or directories (their *.sql by name)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    parser.add_argument("--graph", action="store_true", help="include the delivery graph in the JSON document")


def run(args: argparse.Namespace) -> int:
    from bcastsim._gc import collection_paused

    # Loading keeps nearly all it makes, and writing drops each chunk as it goes: a collection
    # between the two would walk the whole catalog and free nothing. The catalog dies with
    # _inspect's frame, inside the pause.
    with collection_paused():
        _inspect(args.paths, args.format, bool(getattr(args, "graph", False)))
    return 0


def _inspect(paths: list[str], output_format: str, include_graph: bool) -> None:
    from bcastsim.sqlmodel import load_catalog

    catalog = load_catalog(paths)
    if output_format == "json":
        write_json(catalog, sys.stdout, include_graph=include_graph)
    else:
        sys.stdout.write(render_text(document(catalog, include_graph=include_graph)))


# -- the JSON document -------------------------------------------------------------------


def _template_json(template: Template) -> dict[str, Any]:
    return {
        "pattern": str(template),
        "regex": template.regex(),
        "max_bytes": template.max_bytes,
        "holes": [
            {
                "expression": hole.expression_sql,
                "sources": [str(ref) for ref in hole.sources],
                "sql_type": hole.sql_type,
                "nullable": hole.nullable,
                "max_bytes": hole.max_bytes,
            }
            for hole in template.holes
        ],
    }


def _field_json(field: PayloadField) -> dict[str, Any]:
    return {
        "key": field.key,
        "expression": field.expression_sql,
        "sources": [str(ref) for ref in field.sources],
        "sql_type": field.sql_type,
        "nullable": field.nullable,
        "nullable_reason": field.nullable_reason,
        "max_bytes": field.max_bytes,
        "unbounded_reason": field.unbounded_reason,
        "values": list(field.values) if field.values is not None else None,
    }


def _site_json(site: NotifySite) -> dict[str, Any]:
    return {
        "id": site.key,
        "function": site.function,
        "transport": site.transport,
        "path": site.location.path,
        "line": site.location.line,
        "channel": _template_json(site.channel),
        "event": _template_json(site.event) if site.event is not None else None,
        "private": site.private,
        "tables": list(site.tables),
        "operations": list(site.operations),
        "guards": list(site.guards),
        "emitted_when": {operation: list(conditions) for operation, conditions in site.emitted_when},
        "payload_builder": site.payload_builder,
        "payload_format": site.payload_format,
        "max_payload_bytes": site.max_payload_bytes,
        "unbounded_reason": site.unbounded_reason,
        "payload": [_field_json(f) for f in site.payload] if site.payload is not None else None,
    }


def _table_json(table: Table) -> dict[str, Any]:
    return {
        "name": table.name,
        "path": table.location.path,
        "line": table.location.line,
        "primary_key": list(table.primary_key),
        "columns": [
            {
                "name": column.name,
                "type": column.type_name,
                "modifiers": list(column.type_modifiers),
                "not_null": column.not_null,
                "default": column.default_sql,
                "references": (
                    {"table": column.references[0], "column": column.references[1]} if column.references else None
                ),
                "unique": column.unique,
            }
            for column in table.columns
        ],
    }


def _function_json(function: Function) -> dict[str, Any]:
    return {
        "name": function.name,
        "path": function.location.path,
        "line": function.location.line,
        "body_line": function.body_location.line,
        "language": function.language,
        "returns": function.returns,
        "security_definer": function.security_definer,
        "search_path": function.search_path,
        "parameters": [
            {"name": p.name, "type": p.type_name, "default": p.default_sql, "mode": p.mode} for p in function.parameters
        ],
    }


def _trigger_json(trigger: Trigger) -> dict[str, Any]:
    return {
        "name": trigger.name,
        "table": trigger.table,
        "path": trigger.location.path,
        "line": trigger.location.line,
        "timing": trigger.timing,
        "events": list(trigger.events),
        "update_columns": list(trigger.update_columns),
        "level": trigger.level,
        "when": trigger.when_sql,
        "function": trigger.function,
        "enabled": trigger.enabled,
    }


def _sections(
    catalog: Catalog, contracts: Sequence[Contract], *, include_graph: bool
) -> Iterator[tuple[str, Any, bool]]:
    """The document's keys in order: (key, value, whether the value is an iterable of list items)."""
    sites = catalog.notify_sites
    yield "schema_version", SCHEMA_VERSION, False
    yield "paths", list(catalog.paths), False
    summary = {
        "tables": len(catalog.tables),
        "functions": len(catalog.functions),
        "triggers": len(catalog.triggers),
        "notify_sites": len(sites),
        "contracts": len(contracts),
        "diagnostics": len(catalog.diagnostics),
    }
    yield "summary", summary, False
    yield "tables", (_table_json(table) for table in catalog.tables.values()), True
    yield "functions", (_function_json(function) for function in catalog.functions.values()), True
    yield "triggers", (_trigger_json(trigger) for trigger in catalog.triggers.values()), True
    yield "notify_sites", (_site_json(site) for site in sites), True
    yield "contracts", (contract.to_json() for contract in contracts), True
    yield "diagnostics", (d.to_json() for d in catalog.diagnostics), True
    if include_graph:
        from bcastsim.contracts import delivery_graph, graph_to_json

        yield "graph", graph_to_json(delivery_graph(catalog)), False


def document(catalog: Catalog, *, include_graph: bool = False) -> dict[str, Any]:
    """The stable JSON document ``bcastsim inspect --format json`` prints (see docs/inspect.md)."""
    from bcastsim.contracts import build_contracts

    contracts = build_contracts(catalog.notify_sites)
    return {
        key: list(value) if items else value
        for key, value, items in _sections(catalog, contracts, include_graph=include_graph)
    }


def _standard(value: object, indent: str) -> str:
    # What orjson's text is not trusted for (see below): the standard library's answer, or its TypeError.
    text = json.dumps(_finite(value), indent=2, ensure_ascii=False, allow_nan=False)
    return text.replace("\n", "\n" + indent)


# orjson writes what ``json.dumps(indent=2, ensure_ascii=False)`` writes (the same separators,
# escapes and key order; NaN and infinities as null, as ``_finite`` makes them) but for floats
# below 1e-4: ``0.00001`` and ``2e-9`` where the standard library writes ``1e-05`` and ``2e-09``.
# Output spelling either is written again by the standard library's rules (a string holding such
# text only costs that second pass). So is what orjson refuses or would write where the standard
# library refuses or writes otherwise: non-string keys, integers beyond 64 bits, lone surrogates,
# subclasses of the JSON types, dataclasses and dates. (orjson would also write an enum member or a
# UUID, which the standard library refuses: the document's builders make neither.)


def _spells_small_float(data: bytes) -> bool:
    """Whether orjson's text may hold a float below 1e-4: ``0.0000…`` or a digit, ``e-`` and a digit.

    Searched as literals: a pattern opening with a character class is tried at every byte.
    """
    if b"0.0000" in data:
        return True
    at = data.find(b"e-")
    while at >= 0:
        if at > 0 and at + 2 < len(data) and data[at - 1 : at].isdigit() and data[at + 2 : at + 3].isdigit():
            return True
        at = data.find(b"e-", at + 2)
    return False


@functools.cache
def _orjson_dumps() -> Callable[[Any], bytes]:
    # Imported by the first document written: every command's --help imports this module.
    import orjson

    options = (
        orjson.OPT_INDENT_2
        | orjson.OPT_PASSTHROUGH_SUBCLASS
        | orjson.OPT_PASSTHROUGH_DATACLASS
        | orjson.OPT_PASSTHROUGH_DATETIME
    )
    return functools.partial(orjson.dumps, default=_refuse, option=options)


def _refuse(value: object) -> object:
    raise TypeError(f"{type(value).__name__} is left to the standard library")


def _encoded(value: Any, depth: int) -> str:
    """``value`` as ``json.dumps(..., indent=2)`` writes it ``depth`` levels down a document."""
    indent = "  " * depth
    try:
        data = _orjson_dumps()(value)
    except TypeError:  # orjson.JSONEncodeError is one
        return _standard(value, indent)
    if _spells_small_float(data):
        return _standard(value, indent)
    text = data.decode()
    return text.replace("\n", "\n" + indent) if indent else text


def _chunks(sections: Iterable[tuple[str, Any, bool]]) -> Iterator[str]:
    yield "{"
    first = True
    for key, value, items in sections:
        yield ("\n" if first else ",\n") + "  " + json.dumps(key, ensure_ascii=False) + ": "
        first = False
        if not items:
            yield _encoded(value, 1)
            continue
        empty = True
        for item in value:
            yield ("[\n    " if empty else ",\n    ") + _encoded(item, 2)
            empty = False
        yield "[]" if empty else "\n  ]"
    yield "{}\n" if first else "\n}\n"


def write_json(catalog: Catalog, out: TextIO, *, include_graph: bool = False) -> None:
    """Write :func:`document` as JSON text to ``out`` as it is produced, one table, function, site, … at a time.

    The bytes are those of ``json_text(document(catalog))``; the whole document is never held.
    """
    from bcastsim._gc import collection_paused
    from bcastsim.contracts import build_contracts

    # What is built here is dropped by reference counting as each chunk is written; the collector's
    # full passes, triggered by those allocations, would walk the whole catalog again and again.
    with collection_paused():
        contracts = build_contracts(catalog.notify_sites)
        for chunk in _chunks(_sections(catalog, contracts, include_graph=include_graph)):
            out.write(chunk)


# -- text ----------------------------------------------------------------------------------


def _table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """Rows as left-aligned columns (the last column is not padded)."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(max(len(r) for r in rows))]
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


def _search_path(value: str | None) -> str:
    if value is None:
        return ""
    return f"search_path={value}" if value else "search_path=''"


def _bytes(size: int | None, reason: str | None) -> str:
    if size is not None:
        return f"≤ {size} bytes"
    return f"unbounded ({reason})" if reason else "unbounded"


def render_text(doc: dict[str, Any]) -> str:
    """An aligned, readable report of :func:`document`'s content."""
    out: list[str] = []
    summary = doc["summary"]
    out.append(
        f"bcastsim inspect {' '.join(doc['paths'])}: {summary['tables']} tables, {summary['functions']} functions, "
        f"{summary['triggers']} triggers, {summary['notify_sites']} notify sites, "
        f"{summary['contracts']} contracts, {summary['diagnostics']} diagnostics"
    )
    out.append("")
    out.append(f"Triggers ({len(doc['triggers'])})")
    out.extend(
        _table(
            [
                [
                    t["table"],
                    t["name"],
                    f"{t['timing']} {' OR '.join(t['events'])} FOR EACH {t['level']}",
                    f"→ {t['function']}()",
                    "" if t["enabled"] else "DISABLED",
                    f"{t['path']}:{t['line']}",
                ]
                for t in doc["triggers"]
            ]
        )
    )
    out.append("")
    out.append(f"Functions ({len(doc['functions'])})")
    out.extend(
        _table(
            [
                [
                    f["name"],
                    f["language"],
                    f"returns {f['returns']}",
                    "SECURITY DEFINER" if f["security_definer"] else "",
                    _search_path(f["search_path"]),
                    f"{f['path']}:{f['line']}",
                ]
                for f in doc["functions"]
            ]
        )
    )
    out.append("")
    out.append(f"Notify sites ({len(doc['notify_sites'])})")
    for site in doc["notify_sites"]:
        audience = {True: "private", False: "public", None: "private?"}[site["private"]]
        event = f" event {site['event']['pattern']}" if site["event"] else ""
        out.append(
            f"  {site['path']}:{site['line']}  {site['function']}  {site['transport']}  "
            f"{site['channel']['pattern']}{event}  [{audience}]"
        )
        details = [
            ["tables", ", ".join(site["tables"]) or "(no trigger)"],
            ["operations", ", ".join(site["operations"]) or "-"],
        ]
        details.extend(["guard", guard] for guard in site["guards"])
        details.extend(
            ["sent on", f"{op} when {' AND '.join(conds) or 'always'}"] for op, conds in site["emitted_when"].items()
        )
        details.append(
            [
                "payload",
                f"{site['payload_builder'] or '?'}, {_bytes(site['max_payload_bytes'], site['unbounded_reason'])}",
            ]
        )
        out.extend(_table(details, indent="      "))
        if site["payload"] is None:
            # A scalar or literal payload has no fields to list; anything else was not understood.
            if site["payload_builder"] not in ("scalar", "literal"):
                out.append("      (payload not understood: see diagnostics)")
            continue
        rows = []
        for field in site["payload"]:
            lineage = "← " + ", ".join(field["sources"]) if field["sources"] else ""
            if field["values"] is not None and not field["sources"]:
                lineage = "= " + " | ".join(repr(v) for v in field["values"])
            nullable = (
                f"NULL when {field['nullable_reason']}"
                if field["nullable"] and field["nullable_reason"]
                else ("nullable" if field["nullable"] else "")
            )
            rows.append(
                [
                    field["key"],
                    field["expression"],
                    lineage,
                    field["sql_type"] or "?",
                    f"≤{field['max_bytes']}B" if field["max_bytes"] is not None else "unbounded",
                    nullable,
                ]
            )
        out.extend(_table(rows, indent="        "))
    out.append("")
    out.append(f"Contracts ({len(doc['contracts'])})")
    out.extend(
        _table(
            [
                [
                    c["message_type"],
                    c["channel_pattern"],
                    c["transport"],
                    "public" if c["public"] else "private",
                    _bytes(c["max_payload_bytes"], None),
                    f"{len(c['keys'])} keys" + (": " + ", ".join(c["keys"]) if c["keys"] else ""),
                ]
                for c in doc["contracts"]
            ]
        )
    )
    out.append("")
    out.append(f"Diagnostics ({len(doc['diagnostics'])})")
    if not doc["diagnostics"]:
        out.append("  none: every construct was understood")
    out.extend(_table([[f"{d['path']}:{d['line']}", d["code"], d["message"]] for d in doc["diagnostics"]]))
    return "\n".join(out) + "\n"
