"""Compile pglast expression and SELECT trees into Python closures.

An expression compiles once (when the model loads) into a function of a
:class:`Frame`; names resolve at compile time the way PL/pgSQL resolves them
(FROM-clause columns, then variables, with the ``variable_conflict = error``
rule). Scalar functions live in the class-level :attr:`Compiler.functions`
table: extend the model by subclassing and adding entries.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar, Protocol

import attrs
from pglast import ast
from pglast.enums import A_Expr_Kind, BoolExprType, JoinType, MinMaxOp, NullTestType, SQLValueFunctionOp

from bcastsim._errors import UnsupportedError
from bcastsim.db._render import (
    cast_to_text,
    json_build_object_text,
    json_value_text,
    jsonb_doc,
    output_text,
)
from bcastsim.db._schema import ColumnDef, TableDef, normalize_type
from bcastsim.db._values import UTC, DatabaseError, Json, Jsonb, Record, coerce_to_type, enum_type, jsonb_object

__all__ = ["Compiled", "Compiler", "Context", "Frame", "Scope", "sql_equal"]


class Context(Protocol):
    """What a running expression may ask of the transaction executing it."""

    def now(self) -> dt.datetime: ...
    def clock_time(self) -> dt.datetime: ...
    def statement_time(self) -> dt.datetime: ...
    def notify(self, channel: str, payload: str) -> None: ...
    def new_uuid(self) -> uuid.UUID: ...
    def next_value(self, sequence: str) -> int: ...
    def scan(self, table: str) -> Sequence[Record]: ...
    def lookup(self, table: str, column: str, value: Any) -> Sequence[Record]: ...
    def call(self, name: str, args: list[Any], named: dict[str, Any]) -> Any: ...
    def set_config(self, name: str, value: str | None, is_local: bool) -> str | None: ...
    def get_config(self, name: str, missing_ok: bool) -> str | None: ...
    def has_function(self, name: str) -> bool: ...


@attrs.define(slots=True)
class Frame:
    """Run-time state of one expression evaluation: variables, bound rows, the transaction."""

    ctx: Context
    variables: dict[str, Any]
    rows: dict[str, Record | None] = attrs.Factory(dict)
    # While a DML statement with RETURNING runs: the rows it wrote (its RETURNING list then reads them).
    written: list[Record] | None = None
    # After it ran: the RETURNING list's values, row by row.
    returning: list[tuple[Any, ...]] | None = None


Compiled = Callable[[Frame], Any]


@attrs.frozen
class Scope:
    """Names visible at compile time."""

    variables: frozenset[str] = frozenset()
    records: frozenset[str] = frozenset()
    record_tables: dict[str, TableDef | None] = attrs.Factory(dict)
    from_items: tuple[tuple[str, TableDef], ...] = ()
    path: str | None = None
    line: int | None = None

    def with_from(self, items: Iterable[tuple[str, TableDef]]) -> Scope:
        return attrs.evolve(self, from_items=(*self.from_items, *items))


def _null_safe_types(a: Any, b: Any) -> tuple[Any, Any]:
    """Give an untyped literal (a Python str) the other operand's type, as PostgreSQL's parser does."""
    if isinstance(a, str) and not isinstance(b, str):
        a = _coerce_like(a, b)
    elif isinstance(b, str) and not isinstance(a, str):
        b = _coerce_like(b, a)
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime) and (a.tzinfo is None) != (b.tzinfo is None):
        a = a if a.tzinfo else a.replace(tzinfo=UTC)
        b = b if b.tzinfo else b.replace(tzinfo=UTC)
    return a, b


def _coerce_like(text: str, other: Any) -> Any:
    if isinstance(other, bool):
        return coerce_to_type(text, "boolean")
    if isinstance(other, int):
        return coerce_to_type(text, "bigint")
    if isinstance(other, Decimal):
        return coerce_to_type(text, "numeric")
    if isinstance(other, uuid.UUID):
        return coerce_to_type(text, "uuid")
    if isinstance(other, dt.datetime):
        return coerce_to_type(text, "timestamptz" if other.tzinfo else "timestamp")
    if isinstance(other, Jsonb):
        return coerce_to_type(text, "jsonb")
    return text


def _compare_key(value: Any) -> Any:
    if isinstance(value, str):
        # The model compares text bytewise (C collation); equality is collation-independent.
        return value.encode()
    if isinstance(value, Jsonb):
        return json_value_text(value)
    if isinstance(value, Json):
        raise DatabaseError("42883", "operator does not exist: json = json")
    return value


def sql_equal(a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    if isinstance(a, Record) or isinstance(b, Record):
        if not (isinstance(a, Record) and isinstance(b, Record)):
            return False
        return _record_order(a, b) == 0
    a, b = _null_safe_types(a, b)
    return bool(_compare_key(a) == _compare_key(b))


def _record_order(a: Record, b: Record) -> int:
    """Composite-type comparison (``record_cmp``): field by field, two NULLs equal, NULL after any value.

    PostgreSQL compares two composite values this way in every context but between two row
    constructors (docs, functions-comparisons, "Composite Type Comparison"), so ``OLD = NEW``
    is never NULL: it is the total order that sorting and indexes need.
    """
    if len(a.values) != len(b.values):
        raise DatabaseError("42804", "cannot compare record types with different numbers of columns")
    for x, y in zip(a.values, b.values, strict=True):
        if x is None or y is None:
            if x is None and y is None:
                continue
            return 1 if x is None else -1
        if sql_equal(x, y):
            continue
        return -1 if _ordering("<")(x, y) else 1
    return 0


def _row_constructor_compare(op: str, left: Sequence[Any], right: Sequence[Any]) -> bool | None:
    """Row-constructor comparison: SQL's three-valued rule, pair by pair (functions-comparisons, 9.24.5).

    ``=`` is true when every pair is equal, false when a pair of values differs, else NULL;
    ``<>`` the opposite; ``< <= > >=`` decide at the first pair that is not equal, NULL when
    that pair holds a NULL.
    """
    if len(left) != len(right):
        raise DatabaseError("42601", "unequal number of entries in row expressions")
    if op == "=":
        return _and([sql_equal(x, y) for x, y in zip(left, right, strict=True)])
    if op in ("<>", "!="):
        return _or([_not_equal(x, y) for x, y in zip(left, right, strict=True)])
    for x, y in zip(left, right, strict=True):
        equal = sql_equal(x, y)
        if equal is None:
            return None
        if not equal:
            return _ordering(op)(x, y)
    return op in ("<=", ">=")


def _distinct(a: Any, b: Any) -> bool:
    if a is None and b is None:
        return False
    if a is None or b is None:
        return True
    return not sql_equal(a, b)


def _ordering(op: str) -> Callable[[Any, Any], bool | None]:
    def compare(a: Any, b: Any) -> bool | None:
        if a is None or b is None:
            return None
        if isinstance(a, Record) and isinstance(b, Record):
            order = _record_order(a, b)
            return {"<": order < 0, ">": order > 0, "<=": order <= 0}.get(op, order >= 0)
        a, b = _null_safe_types(a, b)
        ka, kb = _compare_key(a), _compare_key(b)
        try:
            if op == "<":
                return bool(ka < kb)
            if op == ">":
                return bool(ka > kb)
            if op == "<=":
                return bool(ka <= kb)
            return bool(ka >= kb)
        except TypeError:
            raise DatabaseError("42883", f"operator does not exist: {op}") from None

    return compare


def _not_equal(a: Any, b: Any) -> bool | None:
    result = sql_equal(a, b)
    return None if result is None else not result


_ROW_OPERATORS = frozenset({"=", "<>", "!=", "<", ">", "<=", ">="})


def _is_row(node: Any) -> bool:
    """A row constructor as written, ``ROW(…)`` or ``(a, b)``: the parser compares those pair by pair."""
    return type(node).__name__ == "RowExpr"


def _rows_distinct(left: Sequence[Any], right: Sequence[Any]) -> bool:
    """``ROW(…) IS DISTINCT FROM ROW(…)``: some pair is distinct, NULLs counting as equal."""
    if len(left) != len(right):
        raise DatabaseError("42601", "unequal number of entries in row expressions")
    return any(_distinct(x, y) for x, y in zip(left, right, strict=True))


def _interval_arith(op: str, a: Any, b: Any) -> Any:
    """timestamp ± interval, interval ± interval, timestamp - timestamp; None when neither side is one."""
    if op not in {"+", "-"}:
        return None
    if isinstance(a, str) and isinstance(b, dt.timedelta):
        a = coerce_to_type(a, "timestamptz")
    if isinstance(b, str) and isinstance(a, dt.timedelta | dt.datetime):
        b = coerce_to_type(b, "interval" if isinstance(a, dt.datetime) and op == "+" else "timestamptz")
    if isinstance(a, dt.datetime | dt.timedelta) and isinstance(b, dt.timedelta):
        return a + b if op == "+" else a - b
    if op == "+" and isinstance(a, dt.timedelta) and isinstance(b, dt.datetime):
        return b + a
    if op == "-" and isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        if (a.tzinfo is None) != (b.tzinfo is None):
            raise UnsupportedError("subtracting timestamps with and without time zone")
        return a - b
    return None


def _arith(op: str) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
        moment = _interval_arith(op, a, b)
        if moment is not None:
            return moment
        if isinstance(a, str):
            a = coerce_to_type(a, "numeric")
        if isinstance(b, str):
            b = coerce_to_type(b, "numeric")
        if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, Decimal)):
            raise UnsupportedError(f"operator {op} on {type(a).__name__}")
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/" and isinstance(a, int) and isinstance(b, int):
            if b == 0:
                raise DatabaseError("22012", "division by zero")
            quotient = abs(a) // abs(b)
            return quotient if (a >= 0) == (b >= 0) else -quotient
        raise UnsupportedError(f"operator {op} on numeric")

    return apply


def _concat_op(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if isinstance(a, Jsonb) and isinstance(b, Jsonb):
        if isinstance(a.doc, dict) and isinstance(b.doc, dict):
            return Jsonb(jsonb_object([*a.doc.items(), *b.doc.items()]))
        raise UnsupportedError("jsonb || on non-objects")
    return cast_to_text(a) + cast_to_text(b)


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "=": sql_equal,
    "<>": _not_equal,
    "!=": _not_equal,
    "<": _ordering("<"),
    ">": _ordering(">"),
    "<=": _ordering("<="),
    ">=": _ordering(">="),
    "||": _concat_op,
    "+": _arith("+"),
    "-": _arith("-"),
    "*": _arith("*"),
    "/": _arith("/"),
}


def _truthy(value: Any) -> bool:
    return value is True


# Scalar functions: name -> (function of evaluated args, strict).
def _fn_concat(frame: Frame, args: list[Any]) -> Any:
    return "".join(output_text(a) for a in args if a is not None)


_FORMAT_SPEC = re.compile(r"%(?:(\d+)\$)?([sIL%])")


def _quote_ident(text: str) -> str:
    plain = re.fullmatch(r"[a-z_][a-z0-9_$]*", text) is not None
    return text if plain else '"' + text.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    quoted = "'" + text.replace("'", "''").replace("\\", "\\\\") + "'"
    return ("E" + quoted) if "\\" in text else quoted


def _fn_format(frame: Frame, args: list[Any]) -> Any:
    """``format(fmt, …)`` with ``%s``, ``%I``, ``%L``, ``%%`` and ``n$`` positions (no widths)."""
    if not args or args[0] is None:
        return None
    template = cast_to_text(args[0])
    values = args[1:]
    out: list[str] = []
    position = 0
    next_arg = 0
    for match in re.finditer(r"%", template):
        if match.start() < position:
            continue
        spec = _FORMAT_SPEC.match(template, match.start())
        if spec is None:
            raise DatabaseError("22023", "unrecognized format() type specifier")
        out.append(template[position : match.start()])
        position = spec.end()
        if spec.group(2) == "%":
            out.append("%")
            continue
        index = int(spec.group(1)) - 1 if spec.group(1) else next_arg
        next_arg = index + 1
        if index >= len(values):
            raise DatabaseError("22023", "too few arguments for format()")
        value = values[index]
        if spec.group(2) == "s":
            out.append("" if value is None else cast_to_text(value))
        elif spec.group(2) == "I":
            if value is None:
                raise DatabaseError("22004", "null values cannot be formatted as an SQL identifier")
            out.append(_quote_ident(cast_to_text(value)))
        else:
            out.append("NULL" if value is None else _quote_literal(cast_to_text(value)))
    out.append(template[position:])
    return "".join(out)


def _fn_concat_ws(frame: Frame, args: list[Any]) -> Any:
    if not args or args[0] is None:
        return None
    return output_text(args[0]).join(output_text(a) for a in args[1:] if a is not None)


def _pairs(args: list[Any], name: str) -> list[tuple[str, Any]]:
    if len(args) % 2:
        raise DatabaseError("22023", "argument list must have even number of elements")
    pairs = []
    for index in range(0, len(args), 2):
        key = args[index]
        if key is None:
            raise DatabaseError("22023", f"argument {index + 1} cannot be null")
        pairs.append((cast_to_text(key), args[index + 1]))
    return pairs


def _fn_json_build_object(frame: Frame, args: list[Any]) -> Any:
    return Json(json_build_object_text(_pairs(args, "json_build_object")))


def _fn_jsonb_build_object(frame: Frame, args: list[Any]) -> Any:
    return Jsonb(jsonb_object([(k, jsonb_doc(v)) for k, v in _pairs(args, "jsonb_build_object")]))


def _fn_json_build_array(frame: Frame, args: list[Any]) -> Any:
    return Json("[" + ", ".join(json_value_text(a) for a in args) + "]")


def _fn_jsonb_build_array(frame: Frame, args: list[Any]) -> Any:
    return Jsonb([jsonb_doc(a) for a in args])


def _fn_to_json(frame: Frame, args: list[Any]) -> Any:
    return Json(json_value_text(args[0]))


def _fn_to_jsonb(frame: Frame, args: list[Any]) -> Any:
    return Jsonb(jsonb_doc(args[0]))


def _fn_now(frame: Frame, args: list[Any]) -> Any:
    return frame.ctx.now()


def _fn_clock_timestamp(frame: Frame, args: list[Any]) -> Any:
    return frame.ctx.clock_time()


def _fn_statement_timestamp(frame: Frame, args: list[Any]) -> Any:
    return frame.ctx.statement_time()


def _fn_timeofday(frame: Frame, args: list[Any]) -> Any:
    """``timeofday()``: the clock as text, ``Sun Aug 17 19:00:00.000001 2025 UTC`` (timestamp.c's format)."""
    m = frame.ctx.clock_time().astimezone(UTC)
    day, month = _WEEKDAYS[m.weekday()], _MONTHS[m.month - 1]
    return f"{day} {month} {m.day:02d} {m:%H:%M:%S}.{m.microsecond:06d} {m.year} UTC"


# pg_strftime's %a and %b, in English whatever the process's locale.
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _fn_gen_random_uuid(frame: Frame, args: list[Any]) -> Any:
    return frame.ctx.new_uuid()


NOTIFY_PAYLOAD_MAX_BYTES = 8000
NAMEDATALEN = 64


_MISSING_REALTIME = (
    'schema "realtime" does not exist: load the realtime stub before your triggers'
    " (`bcastsim sql realtime -o realtime.sql`, bcastsim.realtime_sql_file(), or bcastsim:realtime in bcastsim_sql)"
)


def _fn_pg_notify(frame: Frame, args: list[Any]) -> Any:
    channel = "" if args[0] is None else cast_to_text(args[0])
    payload = "" if len(args) < 2 or args[1] is None else cast_to_text(args[1])
    if channel == "":
        raise DatabaseError("22023", "channel name cannot be empty")
    if len(channel.encode("utf-8")) >= NAMEDATALEN:
        raise DatabaseError("22023", "channel name too long")
    if len(payload.encode("utf-8")) >= NOTIFY_PAYLOAD_MAX_BYTES:
        raise DatabaseError("22023", "payload string too long")
    frame.ctx.notify(channel, payload)
    return None


def _fn_nextval(frame: Frame, args: list[Any]) -> Any:
    if args[0] is None:
        return None
    return frame.ctx.next_value(cast_to_text(args[0]))


def _fn_set_config(frame: Frame, args: list[Any]) -> Any:
    name, value, is_local = args
    if name is None:
        raise DatabaseError("22023", "SET requires parameter name")
    return frame.ctx.set_config(name, value, bool(is_local))


def _fn_current_setting(frame: Frame, args: list[Any]) -> Any:
    missing_ok = bool(args[1]) if len(args) > 1 else False
    return frame.ctx.get_config(args[0], missing_ok)


def _strict(fn: Callable[[Frame, list[Any]], Any]) -> Callable[[Frame, list[Any]], Any]:
    def call(frame: Frame, args: list[Any]) -> Any:
        if any(a is None for a in args):
            return None
        return fn(frame, args)

    return call


def _text_fn(fn: Callable[[str], Any]) -> Callable[[Frame, list[Any]], Any]:
    return _strict(lambda frame, args: fn(cast_to_text(args[0])))


class Compiler:
    """Turns expression trees into closures; one instance per model."""

    functions: ClassVar[dict[str, Callable[[Frame, list[Any]], Any]]] = {
        "concat": _fn_concat,
        "format": _fn_format,
        "nextval": _fn_nextval,
        "concat_ws": _fn_concat_ws,
        "json_build_object": _fn_json_build_object,
        "jsonb_build_object": _fn_jsonb_build_object,
        "json_build_array": _fn_json_build_array,
        "jsonb_build_array": _fn_jsonb_build_array,
        "to_json": _fn_to_json,
        "to_jsonb": _fn_to_jsonb,
        "row_to_json": _strict(_fn_to_json),
        "now": _fn_now,
        "transaction_timestamp": _fn_now,
        "clock_timestamp": _fn_clock_timestamp,
        "statement_timestamp": _fn_statement_timestamp,
        "timeofday": _fn_timeofday,
        "gen_random_uuid": _fn_gen_random_uuid,
        "pg_notify": _fn_pg_notify,
        "set_config": _fn_set_config,
        "current_setting": _fn_current_setting,
        "repeat": _strict(lambda frame, args: cast_to_text(args[0]) * max(0, int(args[1]))),
        "lower": _text_fn(str.lower),
        "upper": _text_fn(str.upper),
        "length": _text_fn(len),
        "char_length": _text_fn(len),
        "octet_length": _text_fn(lambda s: len(s.encode("utf-8"))),
        # Not strict: they count the NULLs (CHECK (num_nonnulls(email, phone) >= 1)).
        "num_nonnulls": lambda frame, args: sum(arg is not None for arg in args),
        "num_nulls": lambda frame, args: sum(arg is None for arg in args),
    }

    def __init__(self, has_function: Callable[[str], bool], enums: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self._has_function = has_function
        # A cast to an enum names the type; the model's values carry its labels (see enum_type).
        self._enums = dict(enums or {})

    def unsupported(self, construct: str, scope: Scope) -> UnsupportedError:
        return UnsupportedError(construct, path=scope.path, line=scope.line)

    # -- expressions -------------------------------------------------------------------------

    def expr(self, node: Any, scope: Scope) -> Compiled:
        method = getattr(self, f"_expr_{type(node).__name__}", None)
        if method is None:
            raise self.unsupported(f"expression {type(node).__name__}", scope)
        result: Compiled = method(node, scope)
        return result

    def _expr_A_Const(self, node: Any, scope: Scope) -> Compiled:
        value: Any
        if node.isnull:
            value = None
        elif isinstance(node.val, ast.Integer):
            value = node.val.ival
        elif isinstance(node.val, ast.Float):
            value = coerce_to_type(node.val.fval, "numeric")
        elif isinstance(node.val, ast.Boolean):
            value = bool(node.val.boolval)
        elif isinstance(node.val, ast.String):
            value = node.val.sval
        else:
            raise self.unsupported(f"constant {type(node.val).__name__}", scope)
        return lambda frame: value

    def _expr_TypeCast(self, node: Any, scope: Scope) -> Compiled:
        inner = self.expr(node.arg, scope)
        names = [n.sval for n in node.typeName.names if n.sval != "pg_catalog"]
        type_name = normalize_type(".".join(names))
        typmods = node.typeName.typmods or ()
        if any(type(m).__name__ != "A_Const" for m in typmods):
            raise self.unsupported("type modifier that is not a constant", scope)
        modifiers = tuple(int(m.val.ival) for m in typmods)
        if node.typeName.arrayBounds:
            raise self.unsupported(f"cast to {type_name}[]", scope)
        if type_name in ("text", "varchar"):
            return lambda frame: _text_cast(inner(frame), type_name, modifiers)
        bare = type_name.removeprefix("public.")
        if bare in self._enums:
            type_name = enum_type(bare, self._enums[bare])
        return lambda frame: coerce_to_type(inner(frame), type_name, modifiers, explicit=True)

    def _expr_ColumnRef(self, node: Any, scope: Scope) -> Compiled:
        fields = node.fields
        if len(fields) == 2 and isinstance(fields[1], ast.A_Star) and isinstance(fields[0], ast.String):
            # ``x.*`` outside a SELECT list or ROW(): the whole row, one composite value (rowtypes, 8.16.5).
            return self._whole_row(str(fields[0].sval), scope)
        if any(isinstance(f, ast.A_Star) for f in fields):
            raise self.unsupported("* in an expression", scope)
        names = [f.sval for f in fields]
        if len(names) == 1:
            name = names[0]
            owners = [(alias, table) for alias, table in scope.from_items if table.column(name) is not None]
            is_var = name in scope.variables or name in scope.records
            if owners and is_var:
                message = f'column reference "{name}" is ambiguous'
                return _raiser(DatabaseError("42702", message))
            if len(owners) > 1:
                return _raiser(DatabaseError("42702", f'column reference "{name}" is ambiguous'))
            if owners:
                alias, table = owners[0]
                return _column_getter(alias, table.column_names.index(name))
            if name in scope.records:
                return lambda frame: frame.variables.get(name)
            if name in scope.variables:
                return lambda frame: frame.variables[name]
            if any(alias == name for alias, _ in scope.from_items):
                # A name that is no column but a FROM item's is that item's whole row.
                return self._whole_row(name, scope)
            return _raiser(DatabaseError("42703", f'column "{name}" does not exist'))
        if len(names) == 2:
            first, second = names
            for alias, table in scope.from_items:
                if alias == first:
                    if table.column(second) is None:
                        return _raiser(DatabaseError("42703", f"column {first}.{second} does not exist"))
                    return _column_getter(alias, table.column_names.index(second))
            if first in scope.records:
                return _record_field(first, second)
            return _raiser(DatabaseError("42P01", f'missing FROM-clause entry for table "{first}"'))
        raise self.unsupported("qualified name " + ".".join(names), scope)

    def _whole_row(self, name: str, scope: Scope) -> Compiled:
        """The whole row of a FROM item (NULL on the missing side of an outer join), or a record variable."""
        for alias, _table in scope.from_items:
            if alias == name:
                return lambda frame: frame.rows.get(alias)
        if name in scope.records:
            return lambda frame: frame.variables.get(name)
        return _raiser(DatabaseError("42P01", f'missing FROM-clause entry for table "{name}"'))

    def _row_fields(self, node: Any, scope: Scope) -> Callable[[Frame], list[Any]]:
        """A ROW(…) constructor's fields: ``x.*`` inside it stands for x's fields, one by one."""
        parts: list[tuple[bool, Compiled]] = []
        for arg in node.args or ():
            star = type(arg).__name__ == "ColumnRef" and len(arg.fields) == 2 and isinstance(arg.fields[1], ast.A_Star)
            parts.append((star, self.expr(arg, scope)))

        def fields(frame: Frame) -> list[Any]:
            values: list[Any] = []
            for star, part in parts:
                value = part(frame)
                if not star:
                    values.append(value)
                elif isinstance(value, Record):
                    values.extend(value.values)
                else:
                    raise UnsupportedError(
                        "ROW(x.*) of a record whose fields are not known", path=scope.path, line=scope.line
                    )
            return values

        return fields

    def _expr_ParamRef(self, node: Any, scope: Scope) -> Compiled:
        name = f"${node.number}"
        if name not in scope.variables:
            raise self.unsupported(f"parameter ${node.number}", scope)
        return lambda frame: frame.variables[name]

    def _expr_A_Expr(self, node: Any, scope: Scope) -> Compiled:
        kind = node.kind
        op = node.name[-1].sval if node.name else ""
        if kind == A_Expr_Kind.AEXPR_OP:
            right = self.expr(node.rexpr, scope)
            if node.lexpr is None:
                if op == "-":
                    return lambda frame: _negate(right(frame))
                if op == "+":
                    return right
                raise self.unsupported(f"prefix operator {op}", scope)
            if _is_row(node.lexpr) and _is_row(node.rexpr):
                # ROW(…) op ROW(…) is decided pair by pair, as PostgreSQL's parser rewrites it.
                if op not in _ROW_OPERATORS:
                    raise self.unsupported(f"operator {op} between row constructors", scope)
                left_row, right_row = self._row_fields(node.lexpr, scope), self._row_fields(node.rexpr, scope)
                return lambda frame: _row_constructor_compare(op, left_row(frame), right_row(frame))
            left = self.expr(node.lexpr, scope)
            function = _BINARY.get(op)
            if function is None:
                raise self.unsupported(f"operator {op}", scope)
            return lambda frame: function(left(frame), right(frame))
        if kind in (A_Expr_Kind.AEXPR_DISTINCT, A_Expr_Kind.AEXPR_NOT_DISTINCT):
            if _is_row(node.lexpr) and _is_row(node.rexpr):
                left_row, right_row = self._row_fields(node.lexpr, scope), self._row_fields(node.rexpr, scope)
                same = kind == A_Expr_Kind.AEXPR_NOT_DISTINCT
                return lambda frame: _rows_distinct(left_row(frame), right_row(frame)) is not same
            left = self.expr(node.lexpr, scope)
            right = self.expr(node.rexpr, scope)
            if kind == A_Expr_Kind.AEXPR_DISTINCT:
                return lambda frame: _distinct(left(frame), right(frame))
            return lambda frame: not _distinct(left(frame), right(frame))
        if kind == A_Expr_Kind.AEXPR_NULLIF:
            left = self.expr(node.lexpr, scope)
            right = self.expr(node.rexpr, scope)

            def nullif(frame: Frame) -> Any:
                value = left(frame)
                return None if sql_equal(value, right(frame)) is True else value

            return nullif
        if kind in (A_Expr_Kind.AEXPR_BETWEEN, A_Expr_Kind.AEXPR_NOT_BETWEEN):
            value = self.expr(node.lexpr, scope)
            low, high = (self.expr(n, scope) for n in node.rexpr)
            ge, le = _ordering(">="), _ordering("<=")
            negate = kind == A_Expr_Kind.AEXPR_NOT_BETWEEN

            def between(frame: Frame) -> Any:
                v = value(frame)
                result = _and([ge(v, low(frame)), le(v, high(frame))])
                return result if result is None or not negate else not result

            return between
        if kind == A_Expr_Kind.AEXPR_IN:
            negate = op == "<>"
            if _is_row(node.lexpr) and all(_is_row(n) for n in node.rexpr):
                # (a, b) IN ((…), (…)): one row-constructor = per option, OR-ed.
                row = self._row_fields(node.lexpr, scope)
                rows = [self._row_fields(n, scope) for n in node.rexpr]

                def within_rows(frame: Frame) -> Any:
                    v = row(frame)
                    result = _or([_row_constructor_compare("=", v, r(frame)) for r in rows])
                    return result if result is None or not negate else not result

                return within_rows
            value = self.expr(node.lexpr, scope)
            options = [self.expr(n, scope) for n in node.rexpr]

            def within(frame: Frame) -> Any:
                v = value(frame)
                result = _or([sql_equal(v, o(frame)) for o in options])
                return result if result is None or not negate else not result

            return within
        raise self.unsupported(f"operator kind {kind.name}", scope)

    def _expr_BoolExpr(self, node: Any, scope: Scope) -> Compiled:
        args = [self.expr(a, scope) for a in node.args]
        if node.boolop == BoolExprType.AND_EXPR:
            return lambda frame: _and_lazy(args, frame)
        if node.boolop == BoolExprType.OR_EXPR:
            return lambda frame: _or_lazy(args, frame)
        inner = args[0]

        def negate(frame: Frame) -> Any:
            value = inner(frame)
            return None if value is None else not value

        return negate

    def _expr_NullTest(self, node: Any, scope: Scope) -> Compiled:
        inner = self.expr(node.arg, scope)
        is_null = node.nulltesttype == NullTestType.IS_NULL

        def test(frame: Frame) -> bool:
            value = inner(frame)
            if isinstance(value, Record):
                # A row IS NULL when every field is; IS NOT NULL when none is.
                if is_null:
                    return all(v is None for v in value.values)
                return all(v is not None for v in value.values)
            return bool((value is None) == is_null)

        return test

    def _expr_BooleanTest(self, node: Any, scope: Scope) -> Compiled:
        inner = self.expr(node.arg, scope)
        kind = node.booltesttype.name

        def test(frame: Frame) -> bool:
            value = inner(frame)
            return {
                "IS_TRUE": value is True,
                "IS_NOT_TRUE": value is not True,
                "IS_FALSE": value is False,
                "IS_NOT_FALSE": value is not False,
                "IS_UNKNOWN": value is None,
                "IS_NOT_UNKNOWN": value is not None,
            }[kind]

        return test

    def _expr_CoalesceExpr(self, node: Any, scope: Scope) -> Compiled:
        args = [self.expr(a, scope) for a in node.args]

        def coalesce(frame: Frame) -> Any:
            for arg in args:
                value = arg(frame)
                if value is not None:
                    return value
            return None

        return coalesce

    def _expr_MinMaxExpr(self, node: Any, scope: Scope) -> Compiled:
        """GREATEST/LEAST: NULLs are skipped; NULL only when every argument is."""
        args = [self.expr(a, scope) for a in node.args]
        wanted = ">" if node.op == MinMaxOp.IS_GREATEST else "<"
        better = _ordering(wanted)

        def pick(frame: Frame) -> Any:
            values = [value for value in (arg(frame) for arg in args) if value is not None]
            typed = [v for v in values if not isinstance(v, str)]
            if typed:  # untyped literals take the type of the others
                values = [_null_safe_types(v, typed[0])[0] if isinstance(v, str) else v for v in values]
            found = None
            for value in values:
                if found is None or better(value, found) is True:
                    found = value
            return found

        return pick

    def _expr_CaseExpr(self, node: Any, scope: Scope) -> Compiled:
        subject = self.expr(node.arg, scope) if node.arg is not None else None
        branches = [(self.expr(w.expr, scope), self.expr(w.result, scope)) for w in node.args]
        default = self.expr(node.defresult, scope) if node.defresult is not None else (lambda frame: None)

        def case(frame: Frame) -> Any:
            value = subject(frame) if subject is not None else None
            for condition, result in branches:
                test = condition(frame)
                if (sql_equal(value, test) if subject is not None else test) is True:
                    return result(frame)
            return default(frame)

        return case

    def _expr_SQLValueFunction(self, node: Any, scope: Scope) -> Compiled:
        if node.op == SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP:
            return lambda frame: frame.ctx.now()
        raise self.unsupported(f"SQL value function {node.op.name}", scope)

    def _expr_FuncCall(self, node: Any, scope: Scope) -> Compiled:
        names = [n.sval for n in node.funcname]
        if names[0] == "pg_catalog":
            names = names[1:]
        name = ".".join(names).lower().removeprefix("public.")
        if node.agg_star or node.agg_distinct or node.over is not None or node.agg_order or node.agg_filter:
            raise self.unsupported(f"aggregate or window call {name}", scope)
        if node.func_variadic:
            raise self.unsupported(f"VARIADIC call of {name}", scope)
        positional: list[Compiled] = []
        named: dict[str, Compiled] = {}
        for arg in node.args or ():
            if isinstance(arg, ast.NamedArgExpr):
                named_arg: Any = arg
                named[named_arg.name] = self.expr(named_arg.arg, scope)
            else:
                positional.append(self.expr(arg, scope))
        if self._has_function(name):

            def call_user(frame: Frame) -> Any:
                args = [a(frame) for a in positional]
                kwargs = {k: v(frame) for k, v in named.items()}
                return frame.ctx.call(name, args, kwargs)

            return call_user
        builtin = self.functions.get(name)
        if builtin is None and name.startswith("realtime."):
            # PostgreSQL fails the call at run time: the schema is missing, not the construct.
            def missing_schema(frame: Frame) -> Any:
                raise DatabaseError("3F000", _MISSING_REALTIME)

            return missing_schema
        if builtin is None:
            raise self.unsupported(f"function {name}()", scope)
        if named:
            raise self.unsupported(f"named arguments to {name}()", scope)

        def call_builtin(frame: Frame) -> Any:
            return builtin(frame, [a(frame) for a in positional])

        return call_builtin

    def _expr_RowExpr(self, node: Any, scope: Scope) -> Compiled:
        """ROW(…) or (a, b) as a value: an anonymous record with fields f1, f2, … (x.* expanded)."""
        fields = self._row_fields(node, scope)

        def row(frame: Frame) -> Record:
            values = tuple(fields(frame))
            return Record("record", tuple(f"f{n}" for n in range(1, len(values) + 1)), values)

        return row

    def _expr_SubLink(self, node: Any, scope: Scope) -> Compiled:
        if node.subLinkType.name != "EXPR_SUBLINK":
            raise self.unsupported(f"subquery {node.subLinkType.name}", scope)
        query = self.select(node.subselect, scope)

        def scalar(frame: Frame) -> Any:
            rows = query(frame)
            if len(rows) > 1:
                raise DatabaseError("21000", "more than one row returned by a subquery used as an expression")
            return rows[0][0] if rows else None

        return scalar

    # -- SELECT ------------------------------------------------------------------------------

    def select(
        self,
        node: Any,
        scope: Scope,
        tables: dict[str, TableDef] | None = None,
        ctes: Mapping[str, _Cte] | None = None,
        with_clause: Any = None,
    ) -> Callable[[Frame], list[tuple[Any, ...]]]:
        """A SELECT with joins as nested loops; equality on a key column probes the table's index.

        ``with_clause`` is the WITH of the INSERT this SELECT feeds: its queries are the SELECT's.
        """
        if type(node).__name__ != "SelectStmt":
            raise self.unsupported(f"query {type(node).__name__}", scope)
        if node.valuesLists or node.op.name != "SETOP_NONE":
            raise self.unsupported("VALUES / set operation in a query", scope)
        for clause in (
            "groupClause",
            "havingClause",
            "sortClause",
            "distinctClause",
            "windowClause",
            "lockingClause",
            "limitOffset",
        ):
            if getattr(node, clause, None):
                raise self.unsupported(f"{clause.removesuffix('Clause')} in a query", scope)
        visible = dict(ctes or {})
        own_ctes = self._ctes(node.withClause or with_clause, scope, tables or {}, visible)
        items: list[_FromItem] = []
        for entry in node.fromClause or ():
            self._flatten_from(entry, scope, tables or {}, items, left=False, on=None, ctes=visible)
        inner_scope = scope.with_from((item.alias, item.table) for item in items)
        where = self.expr(node.whereClause, inner_scope) if node.whereClause is not None else None
        where_conjuncts = _conjuncts(node.whereClause)
        for position, item in enumerate(items):
            if item.on_node is not None:
                item.on = self.expr(item.on_node, inner_scope)
            sources = list(_conjuncts(item.on_node))
            if not item.left:
                sources += where_conjuncts
            item.probe = self._probe(item, position, items, sources, inner_scope)
        targets: list[Compiled] = []
        for target in node.targetList or ():
            value: Any = target.val
            if type(value).__name__ == "ColumnRef" and type(value.fields[-1]).__name__ == "A_Star":
                raise self.unsupported("SELECT *", scope)
            targets.append(self.expr(value, inner_scope))
        limit = None
        if node.limitCount is not None:
            count = node.limitCount
            if not (isinstance(count, ast.A_Const) and isinstance(count.val, ast.Integer)):
                raise self.unsupported("non-constant LIMIT", scope)
            limit = count.val.ival

        def run(frame: Frame) -> list[tuple[Any, ...]]:
            results: list[tuple[Any, ...]] = []
            saved = dict(frame.rows)

            def bind(index: int) -> None:
                if limit is not None and len(results) >= limit:
                    return
                if index == len(items):
                    if where is None or where(frame) is True:
                        results.append(tuple(t(frame) for t in targets))
                    return
                item = items[index]
                candidates: Sequence[Record]
                if item.cte is not None:
                    candidates = item.cte.rows
                elif item.probe is not None:
                    column, key = item.probe
                    candidates = frame.ctx.lookup(item.table.name, column, key(frame))
                else:
                    candidates = frame.ctx.scan(item.table.name)
                matched = False
                for row in candidates:
                    frame.rows[item.alias] = row
                    if item.on is None or item.on(frame) is True:
                        matched = True
                        bind(index + 1)
                if item.left and not matched:
                    frame.rows[item.alias] = None
                    bind(index + 1)

            # A WITH query runs once per statement, before the rows that read it.
            for cte in own_ctes:
                cte.rows = [Record(cte.table.name, cte.table.column_names, row) for row in cte.query(frame)]
            try:
                bind(0)
            finally:
                frame.rows.clear()
                frame.rows.update(saved)
            return results

        return run

    def _ctes(self, clause: Any, scope: Scope, tables: dict[str, TableDef], visible: dict[str, _Cte]) -> list[_Cte]:
        """The WITH queries in order, each visible to the ones after it and to the main query."""
        if clause is None:
            return []
        if clause.recursive:
            raise self.unsupported("WITH RECURSIVE", scope)
        compiled: list[_Cte] = []
        for cte in clause.ctes:
            query = cte.ctequery
            if type(query).__name__ != "SelectStmt":
                raise self.unsupported("data-modifying WITH query", scope)
            names = [str(n.sval) for n in cte.aliascolnames or ()] or [_output_name(t) for t in query.targetList or ()]
            columns = tuple(ColumnDef(name, "unknown", (), False, None) for name in names)
            table = TableDef(cte.ctename, columns, (), (), (), (), scope.path or "", scope.line or 0)
            entry = _Cte(table, self.select(query, scope, tables, visible))
            visible[cte.ctename] = entry
            compiled.append(entry)
        return compiled

    def _flatten_from(
        self,
        node: Any,
        scope: Scope,
        tables: dict[str, TableDef],
        items: list[_FromItem],
        *,
        left: bool,
        on: Any,
        ctes: Mapping[str, _Cte],
    ) -> None:
        if type(node).__name__ == "RangeVar":
            alias = node.alias.aliasname if node.alias is not None else node.relname
            if not node.schemaname and node.relname in ctes:
                cte = ctes[node.relname]
                items.append(_FromItem(alias, cte.table, left, on, cte=cte))
                return
            name = (
                node.relname
                if not node.schemaname or node.schemaname == "public"
                else (f"{node.schemaname}.{node.relname}")
            )
            table = tables.get(name)
            if table is None:
                raise self.unsupported(f"query on unknown table {name}", scope)
            alias = node.alias.aliasname if node.alias is not None else node.relname
            items.append(_FromItem(alias, table, left, on))
            return
        if type(node).__name__ == "JoinExpr":
            if node.isNatural or node.usingClause:
                raise self.unsupported("NATURAL / USING join", scope)
            if node.jointype not in (JoinType.JOIN_INNER, JoinType.JOIN_LEFT):
                raise self.unsupported(f"{node.jointype.name} join", scope)
            if isinstance(node.rarg, ast.JoinExpr):
                raise self.unsupported("right-nested join", scope)
            self._flatten_from(node.larg, scope, tables, items, left=left, on=on, ctes=ctes)
            self._flatten_from(
                node.rarg, scope, tables, items, left=node.jointype == JoinType.JOIN_LEFT, on=node.quals, ctes=ctes
            )
            return
        raise self.unsupported(f"FROM item {type(node).__name__}", scope)

    def _probe(
        self,
        item: _FromItem,
        position: int,
        items: list[_FromItem],
        conjuncts: list[Any],
        scope: Scope,
    ) -> tuple[str, Compiled] | None:
        bound_before = {other.alias for other in items[:position]}
        later = {other.alias for other in items[position:]}
        for conjunct in conjuncts:
            if not (
                type(conjunct).__name__ == "A_Expr"
                and conjunct.kind == A_Expr_Kind.AEXPR_OP
                and conjunct.name[-1].sval == "="
            ):
                continue
            for mine, other in ((conjunct.lexpr, conjunct.rexpr), (conjunct.rexpr, conjunct.lexpr)):
                column = _own_column(mine, item, items)
                if column is None:
                    continue
                referenced = _aliases_in(other, {i.alias for i in items})
                if referenced & later or not referenced <= bound_before:
                    continue
                return column, self.expr(other, scope)
        return None


@attrs.define
class _FromItem:
    alias: str
    table: TableDef
    left: bool
    on_node: Any
    on: Compiled | None = None
    probe: tuple[str, Compiled] | None = None
    cte: _Cte | None = None


@attrs.define
class _Cte:
    """A WITH query: its output columns as a table, and its rows for the statement being run."""

    table: TableDef
    query: Callable[[Frame], list[tuple[Any, ...]]]
    rows: list[Record] = attrs.Factory(list)


def _output_name(target: Any) -> str:
    """The name PostgreSQL gives a SELECT output column: its alias, else the column it reads."""
    if target.name:
        return str(target.name)
    value = target.val
    if type(value).__name__ == "ColumnRef" and isinstance(value.fields[-1], ast.String):
        return str(value.fields[-1].sval)
    return "?column?"


def _own_column(node: Any, item: _FromItem, items: list[_FromItem]) -> str | None:
    if type(node).__name__ != "ColumnRef" or not all(isinstance(f, ast.String) for f in node.fields):
        return None
    names: list[str] = [str(f.sval) for f in node.fields]
    if len(names) == 2 and names[0] == item.alias and item.table.column(names[1]) is not None:
        return names[1]
    if len(names) == 1 and item.table.column(names[0]) is not None:
        owners = [i for i in items if i.table.column(names[0]) is not None]
        if owners == [item]:
            return names[0]
    return None


def _aliases_in(node: Any, aliases: set[str]) -> set[str]:
    found: set[str] = set()
    if type(node).__name__ == "ColumnRef":
        names = [str(f.sval) for f in node.fields if isinstance(f, ast.String)]
        if len(names) >= 2 and names[0] in aliases:
            found.add(names[0])
        elif len(names) == 1:
            found.add("\0unqualified")
        return found
    if isinstance(node, ast.Node):
        for attr in node:
            found |= _aliases_in(getattr(node, attr), aliases)
    elif isinstance(node, tuple):
        for child in node:
            found |= _aliases_in(child, aliases)
    return found


def _conjuncts(node: Any) -> list[Any]:
    if node is None:
        return []
    if type(node).__name__ == "BoolExpr" and node.boolop == BoolExprType.AND_EXPR:
        out: list[Any] = []
        for arg in node.args:
            out += _conjuncts(arg)
        return out
    return [node]


def _column_getter(alias: str, index: int) -> Compiled:
    def get(frame: Frame) -> Any:
        row = frame.rows[alias]
        return None if row is None else row.values[index]

    return get


def _record_field(name: str, field: str) -> Compiled:
    def get(frame: Frame) -> Any:
        record = frame.variables.get(name)
        if record is None:
            # PostgreSQL 11+: NEW on DELETE (OLD on INSERT) is NULL and its fields read as NULL.
            return None
        if not isinstance(record, Record):
            raise DatabaseError("42809", f'"{name}" is not a record')
        return record.get(field)

    return get


def _raiser(error: Exception) -> Compiled:
    def fail(frame: Frame) -> Any:
        raise error

    return fail


def _negate(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        value = coerce_to_type(value, "numeric")
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise DatabaseError("42883", "operator does not exist: - " + type(value).__name__)
    return -value


def _text_cast(value: Any, type_name: str, modifiers: tuple[int, ...]) -> Any:
    if value is None:
        return None
    text = cast_to_text(value)
    if type_name == "varchar" and modifiers:
        return text[: modifiers[0]]
    return text


def _and(values: list[Any]) -> bool | None:
    if any(v is False for v in values):
        return False
    if any(v is None for v in values):
        return None
    return True


def _or(values: list[Any]) -> bool | None:
    if any(v is True for v in values):
        return True
    if any(v is None for v in values):
        return None
    return False


def _and_lazy(args: list[Compiled], frame: Frame) -> Any:
    unknown = False
    for arg in args:
        value = arg(frame)
        if value is False:
            return False
        if value is None:
            unknown = True
    return None if unknown else True


def _or_lazy(args: list[Compiled], frame: Frame) -> Any:
    unknown = False
    for arg in args:
        value = arg(frame)
        if value is True:
            return True
        if value is None:
            unknown = True
    return None if unknown else False
