"""Values of constants, casts, concatenation and JSON objects."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs
from pglast import ast
from pglast.enums import SQLValueFunctionOp

from bcastsim.sqlmodel._flow import Variable
from bcastsim.sqlmodel._lineage import (
    Value,
    merge_values,
    object_bytes,
    unique_refs,
)
from bcastsim.sqlmodel._pgnodes import STRING_TYPES
from bcastsim.sqlmodel._types import (
    ColumnRef,
    PayloadField,
)


def sources_of(values: Sequence[Value]) -> tuple[ColumnRef, ...]:
    return unique_refs(ref for value in values for ref in value.sources)


def const_value(node: ast.A_Const) -> Value:
    if node.isnull or node.val is None:
        return Value.null("NULL literal")
    value = node.val
    if isinstance(value, ast.String):
        return Value.literal(value.sval or "")
    if isinstance(value, ast.Integer):
        return Value.number(str(value.ival or 0), "integer")
    if isinstance(value, ast.Float):
        return Value.number(str(value.fval), "numeric")
    if isinstance(value, ast.Boolean):
        text = "true" if value.boolval else "false"
        return attrs.evolve(Value.number(text, "boolean"), values=(text,))
    return Value.unknown("constant not understood")


def coalesce_values(args: Sequence[Value]) -> Value:
    if not args:
        return Value.null("COALESCE()")
    used: list[Value] = []
    for arg in args:
        used.append(arg)
        if not arg.nullable:
            break
    merged = merge_values(used)
    nullable = all(arg.nullable for arg in used)
    return merged.with_nullable(nullable, "every COALESCE argument can be NULL")


def concat_values(values: Sequence[Value], *, nullable: bool) -> Value:
    def total(items: Sequence[int | None]) -> int | None:
        if any(item is None for item in items):
            return None
        return sum(item or 0 for item in items)

    text_bytes = total([v.text_bytes for v in values])
    chars = total([v.text_chars for v in values])
    literal: tuple[str, ...] | None = None
    if all(v.values is not None and len(v.values) == 1 for v in values):
        literal = ("".join((v.values or ("",))[0] for v in values),)
    safe_json = total([None if v.text_json_bytes is None else v.text_json_bytes - 2 for v in values])
    text_json = None if safe_json is None else safe_json + 2
    reason = next((v.unbounded_reason for v in values if v.text_bytes is None), None)
    return Value(
        sources=sources_of(values),
        sql_type="text",
        nullable=nullable,
        nullable_reason=next((v.nullable_reason for v in values if v.nullable), None) if nullable else None,
        values=literal,
        text_bytes=text_bytes,
        text_chars=chars,
        text_json_bytes=text_json,
        json_bytes=text_json,
        unbounded_reason=reason,
        traced=all(v.traced for v in values),
    )


def cast_value(inner: Value, type_name: str, modifiers: tuple[int, ...]) -> Value:
    if inner.is_null:
        return attrs.evolve(inner, sql_type=type_name)
    if type_name in STRING_TYPES:
        text = inner.as_text(type_name)
        if modifiers and type_name in {"varchar", "char"}:
            bound = Value.of_type(type_name, modifiers)
            if text.text_chars is None or text.text_chars > modifiers[0]:
                text = attrs.evolve(
                    text,
                    text_bytes=bound.text_bytes,
                    text_chars=bound.text_chars,
                    text_json_bytes=bound.text_json_bytes,
                    json_bytes=bound.json_bytes,
                    unbounded_reason=None,
                )
        return attrs.evolve(text, modifiers=modifiers)
    if type_name in {"json", "jsonb"}:
        if inner.fields is not None:
            return object_value(inner.fields, type_name, inner)
        return attrs.evolve(inner, sql_type=type_name)
    if inner.sql_type == type_name:
        return inner
    cast = Value.of_type(type_name, modifiers, nullable=inner.nullable, sources=inner.sources)
    return attrs.evolve(cast, nullable_reason=inner.nullable_reason, traced=inner.traced, guarded=inner.guarded)


def coerce_value(value: Value, variable: Variable) -> Value:
    """A value stored into a variable of the declared type."""
    if variable.type_name is None or variable.is_record or value.is_null:
        return value
    if value.fields is not None and variable.type_name in {"json", "jsonb"}:
        return object_value(value.fields, variable.type_name, value)
    if variable.type_name == value.sql_type and (not variable.modifiers or variable.modifiers == value.modifiers):
        return value
    return cast_value(value, variable.type_name, variable.modifiers)


def object_value(fields: Sequence[PayloadField], json_format: str, like: Value | None = None) -> Value:
    size = object_bytes(fields, json_format)
    return Value(
        sources=unique_refs(ref for f in fields for ref in f.sources),
        sql_type=json_format,
        nullable=like.nullable if like is not None else False,
        nullable_reason=like.nullable_reason if like is not None else None,
        text_bytes=size,
        text_chars=size,
        text_json_bytes=None,
        json_bytes=size,
        unbounded_reason=None if size is not None else "an object field is unbounded",
        fields=tuple(fields),
        json_format=json_format,
        traced=all(f.traced for f in fields) and (like.traced if like is not None else True),
    )


def sql_value_function(node: ast.SQLValueFunction) -> Value:
    op = node.op
    if op in (SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP, SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP_N):
        return Value.of_type("timestamptz", nullable=False)
    if op in (SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP, SQLValueFunctionOp.SVFOP_LOCALTIMESTAMP_N):
        return Value.of_type("timestamp", nullable=False)
    if op == SQLValueFunctionOp.SVFOP_CURRENT_DATE:
        return Value.of_type("date", nullable=False)
    if op in (SQLValueFunctionOp.SVFOP_CURRENT_TIME, SQLValueFunctionOp.SVFOP_CURRENT_TIME_N):
        return Value.of_type("timetz", nullable=False)
    if op in (SQLValueFunctionOp.SVFOP_LOCALTIME, SQLValueFunctionOp.SVFOP_LOCALTIME_N):
        return Value.of_type("time", nullable=False)
    return Value.of_type("name", nullable=False)


def json_literal_value(value: Any) -> Value:
    if value is None:
        return Value.null("null in a JSON literal")
    if isinstance(value, bool):
        text = "true" if value else "false"
        return attrs.evolve(Value.number(text, "boolean"), values=(text,))
    if isinstance(value, int | float):
        return Value.number(json.dumps(value), "numeric")
    if isinstance(value, str):
        return Value.literal(value)
    text = json.dumps(value, ensure_ascii=False)
    return attrs.evolve(Value.number(text, "jsonb"), json_bytes=len(text.encode()), values=None)


def make_field(key: str, expression_sql: str, value: Value) -> PayloadField:
    max_bytes = value.json_size
    return PayloadField(
        key=key,
        expression_sql=expression_sql,
        sources=value.sources,
        sql_type=value.sql_type,
        nullable=value.nullable,
        max_bytes=max_bytes,
        nullable_reason=value.nullable_reason if value.nullable else None,
        unbounded_reason=(value.unbounded_reason or "unbounded") if max_bytes is None else None,
        values=value.values,
        traced=value.traced,
    )
