"""Values of expressions: their type, nullability, worst-case width and source columns.

PL/pgSQL expressions are parsed with pglast (PostgreSQL's own grammar); ``SELECT … INTO``
lookups are read with sqlglot, which resolves table aliases and join sides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import sqlglot
from sqlglot import exp

from bcastsim.sqlmodel._sizes import Width, json_string_bytes, json_text_bytes, type_width
from bcastsim.sqlmodel._typenames import normalize_type
from bcastsim.sqlmodel._types import Catalog, Column, ColumnRef, PayloadField, Table

__all__ = [
    "Lookup",
    "RowContext",
    "Value",
    "arg_texts",
    "call_arg_texts",
    "column_parts",
    "fold",
    "object_bytes",
    "parse_lookup",
    "unique_refs",
]

_STRING_TYPES = {"text", "varchar", "char", "name"}


def unique_refs(refs: Iterable[ColumnRef]) -> tuple[ColumnRef, ...]:
    return tuple(dict.fromkeys(refs))


def _max_or_none(values: Iterable[int | None]) -> int | None:
    result = 0
    for value in values:
        if value is None:
            return None
        result = max(result, value)
    return result


def _sum_or_none(values: Iterable[int | None]) -> int | None:
    result = 0
    for value in values:
        if value is None:
            return None
        result += value
    return result


@attrs.frozen
class Value:
    """What the analysis knows about the value of one expression.

    ``json_bytes`` is the worst-case size of the value inside a JSON document;
    ``text_*`` describe its text form (``::text``, ``concat``) and ``text_json_bytes`` the
    size of that text as a JSON string. ``values`` lists the possible values when all are
    literals; ``fields`` is set for JSON objects built key by key.
    """

    sources: tuple[ColumnRef, ...] = ()
    sql_type: str | None = None
    modifiers: tuple[int, ...] = ()
    nullable: bool = True
    nullable_reason: str | None = None
    values: tuple[str, ...] | None = None
    text_bytes: int | None = None
    text_chars: int | None = None
    text_json_bytes: int | None = None
    json_bytes: int | None = None
    unbounded_reason: str | None = "value not understood"
    fields: tuple[PayloadField, ...] | None = None
    json_format: str | None = None
    is_null: bool = False
    # False when the analysis could not follow where the value comes from: what it says
    # about NULL and size is then a guess, not a finding.
    traced: bool = True
    # True when a guard on the path (IF NOT FOUND THEN RETURN, IF v IS NULL THEN RETURN, STRICT)
    # rather than the data keeps the value from being NULL.
    guarded: bool = False

    @classmethod
    def of_type(
        cls,
        sql_type: str | None,
        modifiers: tuple[int, ...] = (),
        *,
        nullable: bool = True,
        nullable_reason: str | None = None,
        sources: tuple[ColumnRef, ...] = (),
        values: tuple[str, ...] | None = None,
    ) -> Value:
        width: Width = type_width(sql_type, modifiers)
        return cls(
            sources=sources,
            sql_type=sql_type,
            modifiers=modifiers,
            nullable=nullable,
            nullable_reason=nullable_reason if nullable else None,
            values=values,
            text_bytes=width.text_bytes,
            text_chars=width.text_chars,
            text_json_bytes=json_string_bytes(width.text_chars, width.text_bytes, width.escape_safe),
            json_bytes=width.json_bytes,
            unbounded_reason=width.reason,
        )

    @classmethod
    def literal(cls, text: str) -> Value:
        size = len(text.encode())
        json_size = json_text_bytes(text)
        return cls(
            sql_type="text",
            nullable=False,
            values=(text,),
            text_bytes=size,
            text_chars=len(text),
            text_json_bytes=json_size,
            json_bytes=json_size,
            unbounded_reason=None,
        )

    @classmethod
    def number(cls, text: str, sql_type: str) -> Value:
        size = len(text)
        return cls(
            sql_type=sql_type,
            nullable=False,
            values=(text,),
            text_bytes=size,
            text_chars=size,
            text_json_bytes=size + 2,
            json_bytes=size,
            unbounded_reason=None,
        )

    @classmethod
    def null(cls, reason: str) -> Value:
        return cls(
            nullable=True,
            nullable_reason=reason,
            text_bytes=0,
            text_chars=0,
            text_json_bytes=4,
            json_bytes=4,
            unbounded_reason=None,
            is_null=True,
        )

    @classmethod
    def unknown(cls, reason: str, sources: tuple[ColumnRef, ...] = (), sql_type: str | None = None) -> Value:
        return cls(
            sources=sources,
            sql_type=sql_type,
            nullable=True,
            nullable_reason=reason,
            unbounded_reason=reason,
            traced=False,
        )

    @property
    def json_size(self) -> int | None:
        """Worst-case JSON size counting ``null`` when the value can be NULL."""
        if self.json_bytes is None:
            return None
        return max(self.json_bytes, 4) if self.nullable else self.json_bytes

    def as_text(self, sql_type: str = "text") -> Value:
        """The value after ``::text`` (or any cast to a string type)."""
        if self.is_null:
            return self
        # Every field named (attrs.evolve reads the class's fields on each call, and every cast to
        # text comes here); tests/test_sqlmodel_sites.py pins the list against the class.
        return Value(
            sources=self.sources,
            sql_type=sql_type,
            modifiers=(),
            nullable=self.nullable,
            nullable_reason=self.nullable_reason,
            values=self.values,
            text_bytes=self.text_bytes,
            text_chars=self.text_chars,
            text_json_bytes=self.text_json_bytes,
            json_bytes=self.text_json_bytes,
            unbounded_reason=self.unbounded_reason,
            fields=None,
            json_format=None,
            is_null=self.is_null,
            traced=self.traced,
            guarded=self.guarded,
        )

    def with_nullable(self, nullable: bool, reason: str | None = None) -> Value:
        if not nullable:
            return attrs.evolve(self, nullable=False, nullable_reason=None)
        return attrs.evolve(self, nullable=True, nullable_reason=self.nullable_reason or reason)


def merge_values(values: Sequence[Value]) -> Value:
    """The value of an expression that is one of ``values`` (branches, triggers, operations)."""
    if not values:
        return Value.unknown("no value")
    if len(values) == 1:
        return values[0]
    non_null = [value for value in values if not value.is_null] or list(values)
    sql_type = non_null[0].sql_type
    modifiers = non_null[0].modifiers
    if any(value.sql_type != sql_type or value.modifiers != modifiers for value in non_null):
        types = {value.sql_type for value in non_null}
        if types <= _STRING_TYPES | {None} and sql_type is not None:
            sql_type = "text" if len(types) > 1 else sql_type
            modifiers = ()
    nullable_values = [value for value in values if value.nullable]
    literal_values: tuple[str, ...] | None = None
    if all(value.values is not None or value.is_null for value in values):
        literal_values = tuple(dict.fromkeys(v for value in values for v in (value.values or ())))
    fields = non_null[0].fields
    if fields is not None and any(
        value.fields is None or [f.key for f in value.fields] != [f.key for f in fields] for value in non_null
    ):
        fields = None
    elif fields is not None:
        fields = tuple(merge_fields([value.fields or () for value in non_null]))
    return Value(
        sources=unique_refs(ref for value in values for ref in value.sources),
        sql_type=sql_type,
        modifiers=modifiers,
        nullable=bool(nullable_values),
        nullable_reason=next((v.nullable_reason for v in nullable_values if v.nullable_reason), None),
        values=literal_values,
        text_bytes=_max_or_none(value.text_bytes for value in values),
        text_chars=_max_or_none(value.text_chars for value in values),
        text_json_bytes=_max_or_none(value.text_json_bytes for value in values),
        json_bytes=_max_or_none(value.json_bytes for value in values),
        unbounded_reason=next((v.unbounded_reason for v in values if v.unbounded_reason), None),
        fields=fields,
        json_format=non_null[0].json_format,
        is_null=all(value.is_null for value in values),
        traced=all(value.traced for value in values),
        guarded=all(value.guarded for value in values),
    )


def merge_fields(groups: Sequence[Sequence[PayloadField]]) -> list[PayloadField]:
    """Fields with the same keys from several evaluations, combined field by field."""
    first = groups[0]
    if all(group is first for group in groups):
        # One evaluation standing for every trigger operation (``FunctionContext.per_context``).
        return [_merged_with_itself(field) for field in first]
    merged = []
    for index, field in enumerate(groups[0]):
        same = [group[index] for group in groups]
        nullable = [f for f in same if f.nullable]
        literal: tuple[str, ...] | None = None
        if all(f.values is not None for f in same):
            literal = tuple(dict.fromkeys(v for f in same for v in (f.values or ())))
        merged.append(
            _settled(
                field,
                sources=unique_refs(ref for f in same for ref in f.sources),
                nullable=bool(nullable),
                nullable_reason=next((f.nullable_reason for f in nullable if f.nullable_reason), None),
                max_bytes=_max_or_none(f.max_bytes for f in same),
                unbounded_reason=next((f.unbounded_reason for f in same if f.unbounded_reason), None),
                values=literal,
                sql_type=next((f.sql_type for f in same if f.sql_type), None),
                traced=all(f.traced for f in same),
            )
        )
    return merged


def _merged_with_itself(field: PayloadField) -> PayloadField:
    """What :func:`merge_fields` makes of ``field`` merged with itself, worked out for the one field."""
    values = field.values
    literal = values if values is None or len(set(values)) == len(values) else tuple(dict.fromkeys(values))
    sources = field.sources if len(set(field.sources)) == len(field.sources) else unique_refs(field.sources)
    nullable = bool(field.nullable)
    reason = field.nullable_reason if nullable and field.nullable_reason else None
    max_bytes = None if field.max_bytes is None else max(0, field.max_bytes)
    return _settled(
        field,
        sources=sources,
        nullable=nullable,
        nullable_reason=reason,
        max_bytes=max_bytes,
        unbounded_reason=field.unbounded_reason or None,
        values=literal,
        sql_type=field.sql_type or None,
        traced=bool(field.traced),
    )


def _settled(
    field: PayloadField,
    *,
    sources: tuple[ColumnRef, ...],
    nullable: bool,
    nullable_reason: str | None,
    max_bytes: int | None,
    unbounded_reason: str | None,
    values: tuple[str, ...] | None,
    sql_type: str | None,
    traced: bool,
) -> PayloadField:
    """``field`` with what a merge decided. The evaluations under each trigger operation mostly agree:
    the field then stands as it is (it is frozen), without attrs.evolve reading the class's fields again."""
    if (
        sources == field.sources
        and nullable is field.nullable
        and nullable_reason == field.nullable_reason
        and max_bytes == field.max_bytes
        and unbounded_reason == field.unbounded_reason
        and values == field.values
        and sql_type == field.sql_type
        and traced is field.traced
    ):
        return field
    return attrs.evolve(
        field,
        sources=sources,
        nullable=nullable,
        nullable_reason=nullable_reason,
        max_bytes=max_bytes,
        unbounded_reason=unbounded_reason,
        values=values,
        sql_type=sql_type,
        traced=traced,
    )


def object_bytes(fields: Sequence[PayloadField], json_format: str, *, unbounded_as: int | None = None) -> int | None:
    """Worst-case size of the rendered object: ``{"k" : v, …}`` (json) or ``{"k": v, …}`` (jsonb).

    ``unbounded_as``: the size to count for a field with no bound (None: the object has none either).
    """
    separator = 3 if json_format == "json" else 2
    sizes = _sum_or_none(
        None
        if (size := field.max_bytes if field.max_bytes is not None else unbounded_as) is None
        else json_text_bytes(field.key) + separator + size
        for field in fields
    )
    if sizes is None:
        return None
    return 2 + sizes + 2 * max(len(fields) - 1, 0)


def column_value(table: Table, column: Column, *, nullable_reason: str | None = None) -> Value:
    """The value of ``table.column`` read from a row that exists."""
    reason = nullable_reason
    nullable = reason is not None or not column.not_null
    if reason is None and nullable:
        reason = f"{table.name}.{column.name} can be NULL"
    value = Value.of_type(
        column.type_name,
        column.type_modifiers,
        nullable=nullable,
        nullable_reason=reason,
        sources=(ColumnRef(table.name, column.name),),
    )
    if column.max_chars is not None and (value.text_chars is None or value.text_chars > column.max_chars):
        bound = Value.of_type("varchar", (column.max_chars,))
        value = attrs.evolve(
            value,
            text_bytes=bound.text_bytes,
            text_chars=bound.text_chars,
            text_json_bytes=bound.text_json_bytes,
            json_bytes=bound.json_bytes if value.sql_type not in {"json", "jsonb"} else value.json_bytes,
            unbounded_reason=None if value.sql_type not in {"json", "jsonb"} else value.unbounded_reason,
        )
    return value


def record_fields(table: Table, json_format: str, nullable_reason: str | None) -> Value:
    """A whole row as a JSON object (``row_to_json(NEW)``, ``to_jsonb(NEW)``)."""
    fields = []
    for column in table.columns:
        value = column_value(table, column)
        fields.append(
            PayloadField(
                key=column.name,
                expression_sql=column.name,
                sources=value.sources,
                sql_type=value.sql_type,
                nullable=value.nullable,
                max_bytes=value.json_size,
                nullable_reason=value.nullable_reason,
                unbounded_reason=value.unbounded_reason if value.json_size is None else None,
                traced=value.traced,
            )
        )
    size = object_bytes(fields, json_format)
    return Value(
        sources=unique_refs(ref for field in fields for ref in field.sources),
        sql_type=json_format,
        nullable=nullable_reason is not None,
        nullable_reason=nullable_reason,
        text_bytes=size,
        text_chars=size,
        text_json_bytes=None,
        json_bytes=size,
        unbounded_reason=None if size is not None else f"a row of {table.name} has unbounded columns",
        fields=tuple(fields),
        json_format=json_format,
    )


# -- SELECT … INTO lookups (sqlglot) ------------------------------------------------------


@attrs.frozen(cache_hash=True)  # a key of every memo of an evaluation; its table's hash walks all columns
class RowContext:
    """The trigger row an expression sees: its table, the operation and the timing."""

    table: Table | None
    operation: str | None
    timing: str | None
    level: str | None = "ROW"
    table_name: str | None = None  # set even when the files do not define the table
    arguments: tuple[str, ...] | None = None  # the trigger's TG_ARGV

    def record_is_null(self, record: str) -> str | None:
        """Why ``NEW``/``OLD`` is NULL here, or None when it holds a row."""
        if self.table is None and self.table_name is None:
            return None
        if self.level == "STATEMENT":
            return f"{record.upper()} is NULL in a statement-level trigger"
        if record == "new" and self.operation == "DELETE":
            return "NEW is NULL in a DELETE trigger"
        if record == "old" and self.operation == "INSERT":
            return "OLD is NULL in an INSERT trigger"
        return None


@attrs.frozen
class _Source:
    alias: str
    table: str
    nullable_reason: str | None


@attrs.frozen
class Lookup:
    """A ``SELECT … INTO`` query: what each output column is computed from."""

    sql: str
    items: tuple[Any, ...]
    names: tuple[str | None, ...]
    star: bool
    sources: tuple[_Source, ...]
    conjuncts: tuple[Any, ...]
    inner_joins: tuple[tuple[str, Any], ...]
    error: str | None = None
    has_aggregate_only: bool = False

    def source(self, alias: str | None) -> _Source | None:
        for source in self.sources:
            if source.alias == alias:
                return source
        return None


def parse_lookup(sql: str, catalog: Catalog) -> Lookup:
    """Read a ``SELECT`` (``INTO`` already removed by the PL/pgSQL parser) with sqlglot."""
    try:
        tree = sqlglot.parse_one(sql, dialect="postgres")
    except Exception as error:  # sqlglot raises several error types; all mean "not understood"
        return Lookup(sql, (), (), False, (), (), (), error=f"query not understood: {error}")
    if not isinstance(tree, exp.Select):
        return Lookup(sql, (), (), False, (), (), (), error=f"{type(tree).__name__} … INTO is not modelled")
    if tree.args.get("group") is not None or tree.args.get("with_") is not None or tree.args.get("with"):
        return Lookup(sql, (), (), False, (), (), (), error="GROUP BY / WITH in a lookup is not modelled")
    sources: list[_Source] = []
    inner: list[tuple[str, Any]] = []
    from_clause = tree.args.get("from_") or tree.args.get("from")
    if from_clause is not None and isinstance(from_clause.this, exp.Table):
        sources.append(_Source(_alias(from_clause.this), _table_name(from_clause.this), None))
    elif from_clause is not None:
        return Lookup(sql, (), (), False, (), (), (), error="FROM a subquery or function is not modelled")
    for join in tree.args.get("joins") or ():
        target = join.this
        if not isinstance(target, exp.Table):
            return Lookup(sql, (), (), False, (), (), (), error="JOIN of a subquery is not modelled")
        alias = _alias(target)
        name = _table_name(target)
        side = (join.side or "").upper()
        condition = join.args.get("on")
        if side == "LEFT":
            reason = _join_reason(condition, alias, name, sources, catalog)
            sources.append(_Source(alias, name, reason))
        elif side == "RIGHT":
            sources = [attrs.evolve(s, nullable_reason=s.nullable_reason or f"RIGHT JOIN {name}") for s in sources]
            sources.append(_Source(alias, name, None))
        elif side == "FULL":
            sources = [attrs.evolve(s, nullable_reason=s.nullable_reason or f"FULL JOIN {name}") for s in sources]
            sources.append(_Source(alias, name, f"FULL JOIN {name} {alias}"))
        else:
            sources.append(_Source(alias, name, None))
            inner.append((alias, condition))
    where = tree.args.get("where")
    conjuncts: list[Any] = []
    if where is not None:
        conjuncts = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
    items = tuple(tree.selects)
    star = any(isinstance(item, exp.Star) for item in items)
    names = tuple(_output_name(item) for item in items)
    aggregate_only = bool(items) and all(isinstance(item.unalias(), exp.AggFunc) for item in items)
    return Lookup(sql, items, names, star, tuple(sources), tuple(conjuncts), tuple(inner), None, aggregate_only)


def fold(identifier: Any) -> str | None:
    """An identifier as PostgreSQL sees it: quoted keeps its case, unquoted folds to lower case."""
    if identifier is None:
        return None
    if isinstance(identifier, exp.Identifier):
        text = str(identifier.this)
        return text if identifier.quoted else text.lower()
    if isinstance(identifier, exp.TableAlias):
        return fold(identifier.this)
    return str(identifier).lower()


def column_parts(column: exp.Column) -> tuple[str | None, str]:
    """(table alias or None, column name) of a sqlglot column, folded."""
    return fold(column.args.get("table")), fold(column.this) or ""


def _output_name(item: Any) -> str | None:
    if isinstance(item, exp.Star):
        return None
    if isinstance(item, exp.Alias):
        return fold(item.args.get("alias"))
    if isinstance(item, exp.Column):
        return column_parts(item)[1]
    return str(item.alias_or_name).lower() or None


def _alias(table: exp.Table) -> str:
    return fold(table.args.get("alias")) or _table_name(table).rpartition(".")[2]


def _table_name(table: exp.Table) -> str:
    schema = fold(table.args.get("db"))
    name = fold(table.this) or ""
    if schema and schema not in {"public", "pg_catalog"}:
        return f"{schema}.{name}"
    return name


def _equalities(condition: Any) -> list[tuple[exp.Column, exp.Column]]:
    if condition is None:
        return []
    parts = list(condition.flatten()) if isinstance(condition, exp.And) else [condition]
    pairs = []
    for part in parts:
        if isinstance(part, exp.EQ) and isinstance(part.this, exp.Column) and isinstance(part.expression, exp.Column):
            pairs.append((part.this, part.expression))
    return pairs


def _is_key(table: Table | None, column: str) -> bool:
    if table is None:
        return False
    if table.primary_key == (column,):
        return True
    found = table.column(column)
    return found is not None and found.unique


def _join_reason(condition: Any, alias: str, name: str, sources: Sequence[_Source], catalog: Catalog) -> str | None:
    """Why a LEFT JOIN can find no row, or None when a NOT NULL foreign key guarantees one."""
    joined = catalog.tables.get(name)
    for left, right in _equalities(condition):
        for mine, other in ((left, right), (right, left)):
            mine_alias, mine_column = column_parts(mine)
            other_alias, other_column = column_parts(other)
            if mine_alias != alias:
                continue
            other_source = next((s for s in sources if s.alias == other_alias), None)
            if other_source is None or other_source.nullable_reason is not None:
                continue
            other_table = catalog.tables.get(other_source.table)
            fk = other_table.column(other_column) if other_table else None
            if fk is not None and fk.not_null and fk.references == (name, mine_column) and _is_key(joined, mine_column):
                return None
            if fk is not None and not fk.not_null:
                return f"LEFT JOIN {name} {alias}: {other_source.table}.{fk.name} can be NULL"
    return f"LEFT JOIN {name} {alias} can find no row"


# A quoted string or identifier (quotes doubled inside, or running to the end unclosed), a line
# comment, or what opens, closes or splits a nesting (captured): the scan jumps from one to the next.
_ARG_PIECES = re.compile(r"""'(?:[^']|'')*(?:'|\Z)|"(?:[^"]|"")*(?:"|\Z)|--[^\n]*|([()\[\],])""")


def call_arg_texts(query: str, start: int = 0, *, first_only: bool = False) -> dict[int, list[str]]:
    """:func:`arg_texts` of every bracketed group of ``query`` in one scan, by the offset of its opening bracket.

    A call's arguments hold the calls nested in it: read one by one, the inner ones' text is
    scanned again for each call around them. The scan starts at ``start``; ``first_only``: it
    ends when the group opening there closes. A group the scan never sees closed is left out.
    """
    groups: dict[int, list[str]] = {}
    # The groups open at the scan's position, innermost last: where each opens, where its current
    # argument starts, and the arguments before that one.
    open_groups: list[tuple[int, int, list[str]]] = []
    for piece in _ARG_PIECES.finditer(query, start):
        char = piece.group(1)
        if char is None:  # a string, a quoted name or a comment: nothing in it opens, closes or splits
            continue
        i = piece.start()
        if char in "([":
            open_groups.append((i, i + 1, []))
        elif char in ")]":
            if open_groups:
                opened, begun, parts = open_groups.pop()
                tail = query[begun:i].strip()
                if tail or parts:
                    parts.append(tail)
                groups[opened] = [" ".join(part.split()) for part in parts]
                if first_only and not open_groups:
                    return groups
        elif open_groups:  # a comma
            opened, begun, parts = open_groups[-1]
            parts.append(query[begun:i].strip())
            open_groups[-1] = (opened, i + 1, parts)
    return groups


def arg_texts(query: str, offset: int) -> list[str] | None:
    """The source text of each argument of the call whose name starts at ``offset``.

    Splits at top-level commas between the call's parentheses, honouring quotes, so the
    texts read as written (the parse tree keeps no end positions).
    """
    index = query.find("(", offset)
    if index < 0:
        return None
    return call_arg_texts(query, index, first_only=True).get(index)


def normalize_sqlglot_type(data_type: exp.DataType) -> tuple[str, tuple[int, ...]]:
    text = data_type.sql(dialect="postgres").lower()
    modifiers: tuple[int, ...] = ()
    if "(" in text:
        base, _, rest = text.partition("(")
        try:
            modifiers = tuple(int(part) for part in rest.rstrip(")").split(","))
        except ValueError:
            modifiers = ()
        text = base
    return normalize_type(text), modifiers
