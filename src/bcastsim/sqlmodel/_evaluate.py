"""Evaluation of expressions, variables and lookups to values under a trigger row context."""

from __future__ import annotations

from typing import Any

import attrs
from pglast import ast
from pglast.enums import A_Expr_Kind
from sqlglot import exp

from bcastsim.sqlmodel._flow import DefExpr, DefLookup, DefNotNull, DefNull, DefValue, Env
from bcastsim.sqlmodel._function import FunctionContext
from bcastsim.sqlmodel._lineage import (
    Lookup,
    RowContext,
    Value,
    column_parts,
    column_value,
    merge_values,
    normalize_sqlglot_type,
    record_fields,
)
from bcastsim.sqlmodel._pgnodes import (
    ALL_OPERATIONS,
    BOUNDED_FUNCTIONS,
    JSON_BUILDERS,
    MAX_DEPTH,
    NOW_FUNCTIONS,
    ROW_BUILDERS,
    Expr,
    flatten_and,
    func_name,
    render,
    string_const,
    type_of,
)
from bcastsim.sqlmodel._types import (
    ColumnRef,
    PayloadField,
    Table,
)
from bcastsim.sqlmodel._values import (
    cast_value,
    coalesce_values,
    coerce_value,
    concat_values,
    const_value,
    make_field,
    object_value,
    sources_of,
    sql_value_function,
)


class Evaluator(FunctionContext):
    """Evaluates expressions to values under one trigger row context."""

    def value(self, node: Any, env: Env, ctx: RowContext, depth: int = 0) -> Value:
        if depth > MAX_DEPTH:
            return Value.unknown("expression nests too deeply")
        depth += 1
        if isinstance(node, ast.A_Const):
            return const_value(node)
        if isinstance(node, ast.ColumnRef):
            return self._column_ref(node, env, ctx, depth)
        if isinstance(node, ast.ParamRef):
            return self.variable(f"${node.number}", env, ctx, depth)
        if isinstance(node, ast.NamedArgExpr):
            return self.value(node.arg, env, ctx, depth)
        if isinstance(node, ast.TypeCast):
            return self._cast(node, env, ctx, depth)
        if isinstance(node, ast.CoalesceExpr):
            args = [self.value(arg, env, ctx, depth) for arg in node.args or ()]
            return coalesce_values(args)
        if isinstance(node, ast.MinMaxExpr):
            args = [self.value(arg, env, ctx, depth) for arg in node.args or ()]
            return merge_values(args)
        if isinstance(node, ast.SQLValueFunction):
            return sql_value_function(node)
        if isinstance(node, ast.FuncCall):
            return self._call(node, env, ctx, depth)
        if isinstance(node, ast.A_Expr):
            return self._operator(node, env, ctx, depth)
        if isinstance(node, ast.BoolExpr):
            args = [self.value(arg, env, ctx, depth) for arg in node.args or ()]
            return Value.of_type("boolean", nullable=any(a.nullable for a in args), sources=sources_of(args))
        if isinstance(node, ast.NullTest | ast.BooleanTest):
            inner = self.value(node.arg, env, ctx, depth)
            return Value.of_type("boolean", nullable=False, sources=inner.sources)
        if isinstance(node, ast.CaseExpr):
            results = [self.value(w.result, env, ctx, depth) for w in node.args or () if isinstance(w, ast.CaseWhen)]
            if node.defresult is not None:
                results.append(self.value(node.defresult, env, ctx, depth))
            else:
                results.append(Value.null("CASE without ELSE"))
            return merge_values(results)
        if isinstance(node, ast.SubLink):
            return Value.unknown("a subquery's value is not traced")
        if isinstance(node, ast.A_Indirection):
            return self._indirection(node, env, ctx, depth)
        return Value.unknown(f"{type(node).__name__} not understood")

    def _indirection(self, node: ast.A_Indirection, env: Env, ctx: RowContext, depth: int) -> Value:
        """``TG_ARGV[i]`` resolves to the trigger's argument; other subscripts are untraced."""
        indices = list(node.indirection or ())
        base = node.arg
        if (
            isinstance(base, ast.ColumnRef)
            and len(base.fields or ()) == 1
            and isinstance(base.fields[0], ast.String)  # type: ignore[index]
            and (base.fields[0].sval or "").lower() == "tg_argv"  # type: ignore[index]
            and len(indices) == 1
            and isinstance(indices[0], ast.A_Indices)
            and not indices[0].is_slice
            and isinstance(indices[0].uidx, ast.A_Const)
            and isinstance(indices[0].uidx.val, ast.Integer)
            and ctx.arguments is not None
        ):
            index = indices[0].uidx.val.ival or 0
            if 0 <= index < len(ctx.arguments):
                return Value.literal(ctx.arguments[index])
            return Value.null(f"TG_ARGV[{index}] is beyond the trigger's arguments")
        inner = self.value(base, env, ctx, depth)
        return Value.unknown("a subscript's value is not traced", sources=inner.sources)

    def _column_ref(self, node: ast.ColumnRef, env: Env, ctx: RowContext, depth: int) -> Value:
        # The parser folds unquoted names to lower case and keeps quoted ones as written: a
        # column's name is compared as given, the record's and variables' names folded.
        raw = [f.sval if isinstance(f, ast.String) and f.sval else "*" for f in node.fields or ()]
        fields = [name.lower() for name in raw]
        if len(fields) == 1:
            name = fields[0]
            if name in {"new", "old"}:
                return self.record(name, ctx, "json")
            if name == "tg_op":
                values = (ctx.operation,) if ctx.operation else ALL_OPERATIONS
                return attrs.evolve(
                    Value.of_type("text", nullable=False),
                    values=values,
                    text_bytes=8,
                    text_chars=8,
                    text_json_bytes=10,
                    json_bytes=10,
                    unbounded_reason=None,
                )
            if name in {"tg_table_name", "tg_relname"} and ctx.table is not None:
                return Value.literal(ctx.table.name.rpartition(".")[2])
            if name == "tg_table_schema" and ctx.table is not None:
                schema = ctx.table.name.rpartition(".")[0] or "public"
                return Value.literal(schema)
            if name in {"tg_name", "tg_when", "tg_level", "tg_table_name", "tg_table_schema", "tg_relname"}:
                return Value.of_type("name", nullable=False)
            return self.variable(name, env, ctx, depth)
        if len(fields) == 2:
            record, column = fields[0], raw[1]
            if record in {"new", "old"}:
                return self.record_field(record, column, ctx)
            if record in self.variables:
                return self.record_variable_field(record, column, env, ctx, depth)
        return Value.unknown(f"{'.'.join(fields)} not understood")

    def record(self, record: str, ctx: RowContext, json_format: str) -> Value:
        if ctx.table is None:
            return Value.unknown(f"{record.upper()} outside a trigger")
        reason = ctx.record_is_null(record)
        if reason is not None:
            return Value.null(reason)
        return record_fields(ctx.table, json_format, None)

    def record_field(self, record: str, column_name: str, ctx: RowContext) -> Value:
        if ctx.table is None and ctx.table_name is not None:
            value = Value.unknown(
                f"table {ctx.table_name} is not defined", sources=(ColumnRef(ctx.table_name, column_name),)
            )
            reason = ctx.record_is_null(record)
            return attrs.evolve(value, nullable_reason=reason) if reason else value
        if ctx.table is None:
            return Value.unknown(f"{record.upper()}.{column_name} outside a trigger")
        reason = ctx.record_is_null(record)
        column = ctx.table.column(column_name)
        if column is None:
            return Value.unknown(f"{ctx.table.name} has no column {column_name}")
        known = self.column_values.get((id(ctx.table), id(column)))
        if known is None:
            known = self.column_values[(id(ctx.table), id(column))] = (
                ctx.table,
                column,
                column_value(ctx.table, column),
            )
        value = known[2]
        if reason is not None:
            return attrs.evolve(
                value,
                nullable=True,
                nullable_reason=reason,
            )
        return value

    def record_variable_field(self, record: str, column: str, env: Env, ctx: RowContext, depth: int) -> Value:
        values = []
        variable = self.variables[record]
        for definition in env.get(record, ()):
            if isinstance(definition, DefLookup) and definition.index is None:
                values.append(self.lookup_column(definition, column, ctx, depth))
            elif isinstance(definition, DefNull) and variable.row_table:
                table = self.catalog.tables.get(variable.row_table)
                if table is not None and table.column(column) is not None:
                    values.append(Value.null(definition.reason))
                else:
                    values.append(Value.unknown(f"{record}.{column} not understood"))
            else:
                values.append(Value.unknown(f"{record}.{column}: record not traced"))
        return merge_values(values) if values else Value.unknown(f"{record}.{column} not understood")

    def variable(self, name: str, env: Env, ctx: RowContext, depth: int) -> Value:
        definitions = env.get(name)
        variable = self.variables.get(name)
        if definitions is None or variable is None:
            return Value.unknown(f"{name} not understood")
        values = [self.definition(d, ctx, depth) for d in definitions]
        merged = merge_values(values)
        return coerce_value(merged, variable)

    def definition(self, definition: Any, ctx: RowContext, depth: int, column: str | None = None) -> Value:
        key = (definition, ctx, column)
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = Value.unknown("recursive definition")
        if isinstance(definition, DefExpr):
            result = self.value(definition.expr.node, definition.env, ctx, depth)
        elif isinstance(definition, DefLookup) and definition.index is None:
            result = self.lookup_record(definition, ctx, depth)
        elif isinstance(definition, DefLookup):
            result = self.lookup_item(definition, ctx, depth)
        elif isinstance(definition, DefNull):
            result = Value.null(definition.reason)
        elif isinstance(definition, DefValue):
            result = definition.value
        elif isinstance(definition, DefNotNull):
            inner = merge_values([self.definition(d, ctx, depth, column) for d in definition.inner])
            result = attrs.evolve(inner.with_nullable(False), guarded=True)
        else:
            result = Value.unknown(definition.reason)
        self._memo[key] = result
        return result

    # lookups ----------------------------------------------------------------------------

    def row_missing(self, definition: DefLookup, ctx: RowContext) -> str | None:
        """Why the lookup can find no row (its variables then become NULL), or None."""
        lookup = definition.lookup
        if lookup.error is not None:
            return "lookup not understood"
        if definition.strict or lookup.has_aggregate_only:
            return None
        if not lookup.sources:
            return None
        base = lookup.sources[0]
        base_table = self.catalog.tables.get(base.table)
        why = f"SELECT … INTO from {base.table} can find no row; its variables are then NULL"
        if ctx.table is None or base_table is None:
            return why
        matches = [c for c in lookup.conjuncts if self._fk_match(c, base.alias, base_table, ctx, lookup)]
        # Any other condition could filter the row out.
        if not matches or len(matches) != len(lookup.conjuncts):
            return why
        for alias, condition in lookup.inner_joins:
            source = lookup.source(alias)
            joined = self.catalog.tables.get(source.table) if source else None
            if joined is None or not any(
                self._fk_match(part, alias, joined, ctx, lookup) for part in flatten_and(condition)
            ):
                return f"JOIN {alias} can find no row; the lookup's variables are then NULL"
        return None

    def _fk_match(self, conjunct: Any, alias: str, table: Table, ctx: RowContext, lookup: Lookup | None = None) -> bool:
        """``alias.key = NEW.fk`` where a NOT NULL foreign key guarantees the row exists."""
        if not isinstance(conjunct, exp.EQ):
            return False
        for mine, other in ((conjunct.this, conjunct.expression), (conjunct.expression, conjunct.this)):
            if not isinstance(mine, exp.Column) or not isinstance(other, exp.Column):
                continue
            mine_alias, key = column_parts(mine)
            if mine_alias is None and table.column(key) is not None:
                mine_alias = alias
            if mine_alias != alias:
                continue
            key_column = table.column(key)
            if not (table.primary_key == (key,) or (key_column is not None and key_column.unique)):
                continue
            other_alias, other_column = column_parts(other)
            other_table: Table | None = None
            if other_alias in {"new", "old"}:
                if ctx.record_is_null(other_alias) is not None:
                    continue
                other_table = ctx.table
            elif lookup is not None:
                source = lookup.source(other_alias)
                if source is None or source.nullable_reason is not None:
                    continue
                other_table = self.catalog.tables.get(source.table)
            fk = other_table.column(other_column) if other_table else None
            if fk is not None and fk.not_null and fk.references == (table.name, key):
                return True
        return False

    def lookup_item(self, definition: DefLookup, ctx: RowContext, depth: int) -> Value:
        lookup = definition.lookup
        if lookup.error is not None or definition.index is None:
            return Value.unknown("lookup not understood")
        if lookup.star:
            return Value.unknown("SELECT * INTO separate variables is not traced")
        if definition.index >= len(lookup.items):
            return Value.null("SELECT … INTO has fewer columns than targets")
        value = self.sg_value(lookup.items[definition.index], lookup, definition.env, ctx, depth)
        missing = self.row_missing(definition, ctx)
        if definition.strict:
            value = attrs.evolve(value, guarded=True)
        return value.with_nullable(True, missing) if missing else value

    def lookup_record(self, definition: DefLookup, ctx: RowContext, depth: int) -> Value:
        """A whole row from a lookup (``SELECT * INTO rec``, ``FOR rec IN SELECT``) as a JSON object."""
        lookup = definition.lookup
        if lookup.error is not None:
            return Value.unknown("lookup not understood")
        missing = self.row_missing(definition, ctx)
        if lookup.star and len(lookup.sources) == 1 and len(lookup.items) == 1:
            table = self.catalog.tables.get(lookup.sources[0].table)
            if table is None:
                return Value.unknown(f"table {lookup.sources[0].table} is not defined")
            value = record_fields(table, "json", missing)
        elif not lookup.star and all(name is not None for name in lookup.names):
            fields = [
                make_field(
                    name or "?", item.sql(dialect="postgres"), self.sg_value(item, lookup, definition.env, ctx, depth)
                )
                for item, name in zip(lookup.items, lookup.names, strict=True)
            ]
            value = object_value(fields, "json")
        else:
            return Value.unknown("the columns of a SELECT * over several tables are not traced")
        return value.with_nullable(True, missing) if missing else value

    def lookup_column(self, definition: DefLookup, column: str, ctx: RowContext, depth: int) -> Value:
        lookup = definition.lookup
        if lookup.error is not None:
            return Value.unknown("lookup not understood")
        value: Value | None = None
        for item, name in zip(lookup.items, lookup.names, strict=False):
            if isinstance(item, exp.Star):
                for source in lookup.sources:
                    table = self.catalog.tables.get(source.table)
                    found = table.column(column) if table else None
                    if table is not None and found is not None:
                        value = column_value(table, found, nullable_reason=source.nullable_reason)
                        break
            elif name == column:
                value = self.sg_value(item, lookup, definition.env, ctx, depth)
            if value is not None:
                break
        if value is None:
            return Value.unknown(f"the lookup has no column {column}")
        missing = self.row_missing(definition, ctx)
        if definition.strict:
            value = attrs.evolve(value, guarded=True)
        return value.with_nullable(True, missing) if missing else value

    def sg_value(self, node: Any, lookup: Lookup, env: Env, ctx: RowContext, depth: int) -> Value:
        if isinstance(node, exp.Alias):
            return self.sg_value(node.this, lookup, env, ctx, depth)
        if isinstance(node, exp.Column):
            alias, column = column_parts(node)
            if alias in {"new", "old"}:
                return self.record_field(alias, column, ctx)
            if (
                alias is None
                and column in self.variables
                and not any(
                    (t := self.catalog.tables.get(s.table)) is not None and t.column(column) is not None
                    for s in lookup.sources
                )
            ):
                return self.variable(column, env, ctx, depth)
            for source in lookup.sources:
                if alias is not None and source.alias != alias:
                    continue
                table = self.catalog.tables.get(source.table)
                found = table.column(column) if table else None
                if table is not None and found is not None:
                    return column_value(table, found, nullable_reason=source.nullable_reason)
            return Value.unknown(f"{node.sql(dialect='postgres')} not found in the lookup's tables")
        if isinstance(node, exp.Cast):
            inner = self.sg_value(node.this, lookup, env, ctx, depth)
            type_name, modifiers = normalize_sqlglot_type(node.to)
            return cast_value(inner, type_name, modifiers)
        if isinstance(node, exp.Coalesce):
            args = [node.this, *node.expressions]
            return coalesce_values([self.sg_value(arg, lookup, env, ctx, depth) for arg in args])
        if isinstance(node, exp.Literal):
            return Value.literal(str(node.this)) if node.is_string else Value.number(str(node.this), "numeric")
        if isinstance(node, exp.Null):
            return Value.null("NULL literal")
        if isinstance(node, exp.Boolean):
            return Value.of_type("boolean", nullable=False)
        if isinstance(node, exp.Count):
            return Value.of_type("bigint", nullable=False)
        if isinstance(node, exp.Sum | exp.Avg | exp.Max | exp.Min):
            inner = self.sg_value(node.this, lookup, env, ctx, depth)
            if isinstance(node, exp.Sum | exp.Avg) and inner.sql_type not in {"numeric", "real", "double precision"}:
                kind = "numeric" if inner.sql_type in {"bigint", "numeric"} or isinstance(node, exp.Avg) else "bigint"
                inner = Value.of_type(kind, sources=inner.sources)
            elif isinstance(node, exp.Sum | exp.Avg):
                inner = Value.of_type(inner.sql_type, sources=inner.sources)
            return inner.with_nullable(True, f"{node.key.upper()}() over no rows is NULL")
        inner_values = [self.sg_value(column, lookup, env, ctx, depth) for column in node.find_all(exp.Column)]
        return Value.unknown(f"{node.sql(dialect='postgres')} not traced", sources=sources_of(inner_values))

    # casts, calls, operators ----------------------------------------------------------

    def _cast(self, node: ast.TypeCast, env: Env, ctx: RowContext, depth: int) -> Value:
        inner = self.value(node.arg, env, ctx, depth)
        if node.typeName is None:
            return inner
        type_name, modifiers = type_of(node.typeName)
        return cast_value(inner, type_name, modifiers)

    def _call(self, node: ast.FuncCall, env: Env, ctx: RowContext, depth: int) -> Value:
        name = func_name(node)
        args = list(node.args or ())
        if name in NOW_FUNCTIONS:
            return Value.of_type("timestamptz", nullable=False)
        if name in BOUNDED_FUNCTIONS:
            type_name, modifiers = BOUNDED_FUNCTIONS[name]
            nullable = name in {"currval", "txid_current_if_assigned", "array_length"}
            return Value.of_type(type_name, modifiers, nullable=nullable, nullable_reason=f"{name}() can be NULL")
        if name in {"concat", "concat_ws"}:
            values = [self.value(arg, env, ctx, depth).as_text() for arg in args]
            if name == "concat_ws" and values:
                separator, values = values[0], values[1:]
                joins = max(len(values) - 1, 0)
                values = values + [separator] * joins
            return concat_values(values, nullable=False)
        if name in JSON_BUILDERS:
            fields = self.object_fields(node, env, ctx, depth, None)
            return (
                object_value(fields, JSON_BUILDERS[name])
                if fields is not None
                else Value.unknown(f"{name} with computed keys")
            )
        if name in ROW_BUILDERS and len(args) == 1:
            inner = self.value(args[0], env, ctx, depth)
            fmt = ROW_BUILDERS[name]
            if inner.fields is not None:
                return object_value(inner.fields, fmt, inner)
            return inner
        if name in {"lower", "upper", "btrim", "trim", "ltrim", "rtrim", "initcap"} and args:
            return self.value(args[0], env, ctx, depth).as_text()
        if name in {"length", "char_length", "octet_length"}:
            inner = self.value(args[0], env, ctx, depth) if args else Value.unknown("?")
            return Value.of_type("integer", nullable=inner.nullable, sources=inner.sources)
        if name == "nullif" and args:
            inner = self.value(args[0], env, ctx, depth)
            return inner.with_nullable(True, "NULLIF can return NULL")
        if name in {"greatest", "least"}:
            return merge_values([self.value(arg, env, ctx, depth) for arg in args])
        values = [self.value(arg, env, ctx, depth) for arg in args]
        function = self.catalog.functions.get(name)
        if function is not None and function.returns not in {"void", "trigger", "record", "unknown"}:
            return Value.unknown(f"result of {name}()", sources=sources_of(values), sql_type=function.returns)
        return Value.unknown(f"result of {name}() not traced", sources=sources_of(values))

    def object_fields(
        self, call: ast.FuncCall, env: Env, ctx: RowContext, depth: int, expr: Expr | None
    ) -> list[PayloadField] | None:
        args = list(call.args or ())
        if len(args) % 2:
            return None
        texts = self.call_texts(expr.query, call.location) if expr is not None and call.location is not None else None
        if texts is not None and len(texts) != len(args):
            texts = None
        fields = []
        for index in range(0, len(args), 2):
            key = string_const(args[index])
            if key is None:
                key_value = self.value(args[index], env, ctx, depth)
                if key_value.values is not None and len(key_value.values) == 1 and not key_value.nullable:
                    key = key_value.values[0]
                else:
                    return None
            value = self.value(args[index + 1], env, ctx, depth)
            text = texts[index + 1] if texts else render(args[index + 1])
            fields.append(make_field(key, text, value))
        return fields

    def _operator(self, node: ast.A_Expr, env: Env, ctx: RowContext, depth: int) -> Value:
        names = [n.sval for n in node.name or () if isinstance(n, ast.String)]
        operator = names[-1] if names else ""
        left = self.value(node.lexpr, env, ctx, depth) if node.lexpr is not None else None
        right = self.value(node.rexpr, env, ctx, depth) if isinstance(node.rexpr, ast.Node) else None
        operands = [v for v in (left, right) if v is not None]
        sources = sources_of(operands)
        if node.kind in (A_Expr_Kind.AEXPR_DISTINCT, A_Expr_Kind.AEXPR_NOT_DISTINCT):
            return Value.of_type("boolean", nullable=False, sources=sources)
        if node.kind == A_Expr_Kind.AEXPR_NULLIF and left is not None:
            return left.with_nullable(True, "NULLIF can return NULL")
        if node.kind != A_Expr_Kind.AEXPR_OP:
            return Value.of_type("boolean", nullable=any(v.nullable for v in operands), sources=sources)
        if operator == "||" and left is not None and right is not None:
            if left.fields is not None and right.fields is not None:
                keys = {f.key for f in right.fields}
                fields = [f for f in left.fields if f.key not in keys] + list(right.fields)
                merged = object_value(fields, "jsonb")
                return merged.with_nullable(left.nullable or right.nullable, "an operand of || can be NULL")
            return concat_values([left.as_text(), right.as_text()], nullable=left.nullable or right.nullable)
        if operator in {"=", "<>", "!=", "<", ">", "<=", ">=", "~~", "!~~", "~", "~*"}:
            return Value.of_type("boolean", nullable=any(v.nullable for v in operands), sources=sources)
        if operator in {"+", "-", "*", "/", "%"}:
            types = {v.sql_type for v in operands}
            nullable = any(v.nullable for v in operands)
            if types <= {"integer", "smallint"}:
                return Value.of_type("integer", nullable=nullable, sources=sources)
            if types <= {"integer", "smallint", "bigint"}:
                return Value.of_type("bigint", nullable=nullable, sources=sources)
            if types & {"timestamptz"}:
                return Value.of_type("timestamptz", nullable=nullable, sources=sources)
            return Value.of_type("numeric", nullable=nullable, sources=sources)
        if operator in {"->>", "#>>"}:
            return Value.unknown("a JSON field's text is not traced", sources=sources, sql_type="text")
        return Value.unknown(f"operator {operator} not traced", sources=sources)
