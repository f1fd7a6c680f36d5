"""Small helpers over pglast parse trees: names, constants, rendering, source lines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
from pglast import ast
from pglast.stream import RawStream
from sqlglot import exp

from bcastsim.sqlmodel._typenames import normalize_type
from bcastsim.sqlmodel._types import (
    Transport,
)

ALL_OPERATIONS = ("INSERT", "UPDATE", "DELETE", "TRUNCATE")
TRANSPORTS: dict[str, Transport] = {
    "pg_notify": "pg_notify",
    "pg_catalog.pg_notify": "pg_notify",
    "realtime.send": "realtime.send",
    "realtime.broadcast_changes": "realtime.broadcast_changes",
}
STRING_TYPES = {"text", "varchar", "char", "name"}
NOW_FUNCTIONS = {"now", "statement_timestamp", "clock_timestamp", "transaction_timestamp"}
JSON_BUILDERS = {"json_build_object": "json", "jsonb_build_object": "jsonb"}
ROW_BUILDERS = {"row_to_json": "json", "to_json": "json", "to_jsonb": "jsonb"}
MAX_DEPTH = 12
# Built-in functions whose results have a bounded width: (result type, type modifiers).
BOUNDED_FUNCTIONS: dict[str, tuple[str, tuple[int, ...]]] = {
    "gen_random_uuid": ("uuid", ()),
    "uuid_generate_v4": ("uuid", ()),
    "uuid_generate_v1": ("uuid", ()),
    "txid_current": ("bigint", ()),
    "txid_current_if_assigned": ("bigint", ()),
    "pg_current_xact_id": ("bigint", ()),
    "nextval": ("bigint", ()),
    "currval": ("bigint", ()),
    "lastval": ("bigint", ()),
    "pg_backend_pid": ("integer", ()),
    "inet_client_port": ("integer", ()),
    "array_length": ("integer", ()),
    "cardinality": ("integer", ()),
    "row_number": ("bigint", ()),
    "count": ("bigint", ()),
    "random": ("double precision", ()),
    "current_schema": ("name", ()),
    "current_database": ("name", ()),
    "current_user": ("name", ()),
    "session_user": ("name", ()),
    "md5": ("varchar", (32,)),
    "to_timestamp": ("timestamptz", ()),
    "date_trunc": ("timestamptz", ()),
}


def render(node: Any) -> str:
    try:
        return " ".join(str(RawStream()(node)).split())
    except Exception:  # the deparser does not know every node; the text is for people only
        return type(node).__name__


def func_name(call: ast.FuncCall) -> str:
    names = [n.sval.lower() for n in call.funcname or () if isinstance(n, ast.String) and n.sval]
    if len(names) > 1 and names[0] == "pg_catalog":
        names = names[1:]
    return ".".join(names)


def _child_slots(cls: type) -> tuple[str, ...]:
    """The slots of a node class that can hold nodes or lists of them, last first (pushed on a stack)."""
    names = []
    for name, info in getattr(cls, "__slots__", {}).items():
        py_type = getattr(info, "py_type", object)
        kinds = py_type if isinstance(py_type, tuple) else (py_type,)
        # pglast validates every value against these types: a slot of scalars or enums holds no node.
        if any(kind is object or issubclass(kind, ast.Node | tuple | list | set) for kind in kinds):
            names.append(name)
    return tuple(reversed(names))


_CHILD_SLOTS: dict[type, tuple[str, ...]] = {}


def iter_nodes(node: Any) -> Iterator[Any]:
    """``node`` and every pglast node below it, depth first, in source order."""
    return _walk_nodes(node, frozenset())


# Nodes that hold no call and no expression: constants (their values), names, column and parameter references.
_LEAVES = frozenset({ast.A_Const, ast.String, ast.Integer, ast.Float, ast.Boolean, ast.BitString, ast.A_Star})
_LEAVES |= {ast.ColumnRef, ast.ParamRef}


def iter_branch_nodes(node: Any) -> Iterator[Any]:
    """:func:`iter_nodes` without the constants and references, nor what they hold: every call, in the same order.

    A notify call's arguments are mostly constants and column references; the walk looking for
    calls passes them over instead of stepping through each and its name's parts.
    """
    return _walk_nodes(node, _LEAVES)


def _walk_nodes(node: Any, leaves: frozenset[type]) -> Iterator[Any]:
    # An explicit stack, children pushed last first: the order of a recursive walk, without a
    # generator per node or a look at the slots that hold only numbers, strings and enums.
    node_type = ast.Node
    stack = [node]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        if isinstance(item, node_type):
            cls = type(item)
            if cls in leaves:
                continue
            yield item
            slots = _CHILD_SLOTS.get(cls)
            if slots is None:
                slots = _CHILD_SLOTS[cls] = _child_slots(cls)
            for name in slots:
                child = getattr(item, name, None)
                if child is not None:
                    push(child)
        elif isinstance(item, tuple | list):
            stack.extend(reversed(item))


def string_const(node: Any) -> str | None:
    if isinstance(node, ast.A_Const) and not node.isnull and isinstance(node.val, ast.String):
        return node.val.sval or ""
    return None


def one_line(text: str) -> str:
    return " ".join(text.split())


@attrs.frozen(eq=False)
class Expr:
    """A parsed expression and the text its character locations index into."""

    node: Any
    query: str
    line: int

    def line_of(self, node: Any) -> int:
        location = getattr(node, "location", None)
        if isinstance(location, int) and 0 <= location <= len(self.query):
            return self.line + self.query.count("\n", 0, location)
        return self.line


def literal_text(node: Any) -> str | None:
    while isinstance(node, ast.TypeCast):
        node = node.arg
    return string_const(node)


def type_of(type_name: ast.TypeName) -> tuple[str, tuple[int, ...]]:
    names = [n.sval for n in type_name.names or () if isinstance(n, ast.String) and n.sval]
    raw = names[-1] if names else "unknown"
    modifiers = tuple(
        m.val.ival or 0
        for m in type_name.typmods or ()
        if isinstance(m, ast.A_Const) and isinstance(m.val, ast.Integer)
    )
    normalized = normalize_type(raw)
    if type_name.arrayBounds:
        normalized += "[]"
    return normalized, modifiers


def flatten_and(condition: Any) -> list[Any]:
    if condition is None:
        return []
    return list(condition.flatten()) if isinstance(condition, exp.And) else [condition]


def is_tg_op(node: Any) -> bool:
    return (
        isinstance(node, ast.ColumnRef)
        and len(node.fields or ()) == 1
        and isinstance(node.fields[0], ast.String)  # type: ignore[index]
        and (node.fields[0].sval or "").lower() == "tg_op"  # type: ignore[index]
    )
