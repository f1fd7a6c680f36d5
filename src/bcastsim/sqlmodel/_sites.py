"""Notify sites: channel templates, payload shapes and sizes, transport call arguments."""

from __future__ import annotations

import functools
import json
from typing import Any

from pglast import ast
from pglast.enums import A_Expr_Kind

from bcastsim.sqlmodel._evaluate import Evaluator
from bcastsim.sqlmodel._flow import DefExpr, Draft, Env, decided_by_tg_op
from bcastsim.sqlmodel._lineage import (
    RowContext,
    Value,
    merge_fields,
    merge_values,
    object_bytes,
)
from bcastsim.sqlmodel._pgnodes import (
    ALL_OPERATIONS,
    JSON_BUILDERS,
    MAX_DEPTH,
    ROW_BUILDERS,
    STRING_TYPES,
    Expr,
    func_name,
    literal_text,
    render,
    string_const,
    type_of,
)
from bcastsim.sqlmodel._types import (
    Hole,
    NotifySite,
    PayloadField,
    SourceLocation,
    Template,
)
from bcastsim.sqlmodel._values import json_literal_value, make_field, object_value
from bcastsim.sqlmodel._walk import Walker


class FunctionAnalysis(Walker, Evaluator):
    """Builds the notify sites of one function from the drafts of the walk."""

    # templates and payloads -------------------------------------------------------------

    def template(self, node: Any, expr: Expr, env: Env, contexts: list[RowContext], line: int) -> Template:
        parts: list[Any] = []
        self._template_parts(node, env, parts, line, depth=0, query=expr.query)
        result: list[str | Hole] = []
        for part, part_env in parts:
            if isinstance(part, str):
                piece: str | Hole = part
            else:
                values = self.per_context(
                    functools.partial(self.value, part, part_env), contexts or [RowContext(None, None, None)]
                )
                value = merge_values(values)
                if value.values is not None and len(value.values) == 1 and not value.nullable:
                    piece = value.values[0]
                elif value.is_null:
                    piece = ""
                else:
                    piece = Hole(
                        expression_sql=self._texts.get(id(part)) or render(part),
                        sources=value.sources,
                        sql_type=value.sql_type,
                        nullable=value.nullable,
                        max_bytes=value.text_bytes,
                        nullable_reason=value.nullable_reason if value.nullable else None,
                        nullability_known=value.traced or not value.nullable,
                        traced=value.traced,
                        guarded=value.guarded,
                    )
            if isinstance(piece, str) and result and isinstance(result[-1], str):
                result[-1] += piece
            elif piece != "":
                result.append(piece)
        return Template(tuple(result))

    def _template_parts(self, node: Any, env: Env, out: list[Any], line: int, *, depth: int, query: str) -> None:
        if depth > MAX_DEPTH:
            out.append((node, env))
            return
        constant = string_const(node)
        if constant is not None:
            out.append((constant, env))
            return
        if isinstance(node, ast.FuncCall) and func_name(node) == "concat":
            self.remember_texts(node, query)
            for arg in node.args or ():
                if isinstance(arg, ast.A_Const) and arg.isnull:
                    continue
                self._template_parts(arg, env, out, line, depth=depth + 1, query=query)
            return
        if isinstance(node, ast.A_Expr) and node.kind == A_Expr_Kind.AEXPR_OP:
            names = [n.sval for n in node.name or () if isinstance(n, ast.String)]
            if names and names[-1] == "||" and node.lexpr is not None and isinstance(node.rexpr, ast.Node):
                self._template_parts(node.lexpr, env, out, line, depth=depth + 1, query=query)
                self._template_parts(node.rexpr, env, out, line, depth=depth + 1, query=query)
                return
        if isinstance(node, ast.TypeCast) and node.typeName is not None:
            type_name, _ = type_of(node.typeName)
            if type_name in STRING_TYPES and string_const(node.arg) is not None:
                self._template_parts(node.arg, env, out, line, depth=depth + 1, query=query)
                return
        if isinstance(node, ast.FuncCall) and func_name(node) == "format":
            self.diagnose(
                "dynamic-channel",
                "channel built by format(): modelled as one opaque hole",
                line,
            )
        if isinstance(node, ast.ColumnRef):
            fields = [f.sval.lower() for f in node.fields or () if isinstance(f, ast.String) and f.sval]
            if len(fields) == 1 and fields[0] in self.variables:
                definitions = env.get(fields[0], ())
                if len(definitions) == 1 and isinstance(definitions[0], DefExpr):
                    definition = definitions[0]
                    if definition.in_loop:
                        self.diagnose("loop-channel", f"channel variable {fields[0]} is built in a loop", line)
                    node = definition.expr.node
                    self._template_parts(node, definition.env, out, line, depth=depth + 1, query=definition.expr.query)
                    return
        out.append((node, env))

    def payload(
        self, node: Any, expr: Expr, env: Env, contexts: list[RowContext], line: int, *, depth: int = 0
    ) -> tuple[list[PayloadField] | None, str | None, str | None]:
        """(fields, builder, format) of a payload expression; fields None when not understood."""
        casts: list[str] = []
        while isinstance(node, ast.TypeCast) and node.typeName is not None:
            casts.append(type_of(node.typeName)[0])
            node = node.arg
        ctxs = contexts or [RowContext(None, None, None)]
        target_format = "jsonb" if "jsonb" in casts else None
        if isinstance(node, ast.FuncCall):
            name = func_name(node)
            if name in JSON_BUILDERS:
                groups = self.per_context(lambda ctx: self.object_fields(node, env, ctx, 0, expr), ctxs)
                if any(group is None for group in groups):
                    self.diagnose("dynamic-payload", f"{name} with keys computed at run time", line)
                    return None, name, None
                fields = merge_fields([group or [] for group in groups])
                return fields, name, target_format or JSON_BUILDERS[name]
            if name in ROW_BUILDERS and len(node.args or ()) == 1:
                values = self.per_context(lambda ctx: self.value(node.args[0], env, ctx), ctxs)  # type: ignore[index]
                objects = [v for v in values if v.fields is not None]
                if objects:
                    fields = merge_fields([list(v.fields or ()) for v in objects])
                    if any(v.is_null for v in values):
                        # NEW/OLD is NULL under some operations: the whole payload is then 'null'
                        self.diagnose(
                            "null-payload",
                            f"{name}(…) is NULL under some trigger operations; the payload is then empty",
                            line,
                        )
                    return fields, name, target_format or ROW_BUILDERS[name]
        if isinstance(node, ast.ColumnRef) and depth < MAX_DEPTH:
            fields_names = [f.sval.lower() for f in node.fields or () if isinstance(f, ast.String) and f.sval]
            if len(fields_names) == 1 and fields_names[0] in self.variables:
                definitions = env.get(fields_names[0], ())
                if any(getattr(d, "in_loop", False) for d in definitions):
                    self.diagnose(
                        "loop-payload",
                        f"payload variable {fields_names[0]} is built in a loop: its keys are not known statically",
                        line,
                    )
                    return None, None, None
                if not any(isinstance(d, DefExpr) for d in definitions):
                    self.diagnose(
                        "unknown-payload",
                        f"payload {fields_names[0]} is not a key/value object the analysis can read",
                        line,
                    )
                    return None, None, None
                results = [
                    self.payload(d.expr.node, d.expr, d.env, contexts, line, depth=depth + 1)
                    for d in definitions
                    if isinstance(d, DefExpr)
                ]
                if len(results) == len(definitions) and results and all(r[0] is not None for r in results):
                    key_lists = [[f.key for f in r[0] or ()] for r in results]
                    if all(keys == key_lists[0] for keys in key_lists):
                        fields = merge_fields([r[0] or [] for r in results])
                        return fields, results[0][1], target_format or results[0][2]
                self.diagnose(
                    "dynamic-payload",
                    f"payload variable {fields_names[0]} has several possible shapes or an untraced one",
                    line,
                )
                return None, None, None
        if isinstance(node, ast.A_Expr) and depth < MAX_DEPTH:
            names = [n.sval for n in node.name or () if isinstance(n, ast.String)]
            if names and names[-1] == "||" and node.lexpr is not None and isinstance(node.rexpr, ast.Node):
                left = self.payload(node.lexpr, expr, env, contexts, line, depth=depth + 1)
                right = self.payload(node.rexpr, expr, env, contexts, line, depth=depth + 1)
                if left[0] is not None and right[0] is not None:
                    keys = {f.key for f in right[0]}
                    return [f for f in left[0] if f.key not in keys] + right[0], "jsonb ||", "jsonb"
        constant = string_const(node)
        if constant is not None:
            try:
                document = json.loads(constant)
            except ValueError:
                return [], "literal", None
            if isinstance(document, dict):
                fields = [make_field(str(k), json.dumps(v), json_literal_value(v)) for k, v in document.items()]
                return fields, "literal", "json"
            return [], "literal", None
        scalar = self.scalar_payload(node, env, contexts)
        if scalar is not None:
            return None, "scalar", None
        self.diagnose(
            "unknown-payload",
            f"payload {render(node)} is not a key/value object the analysis can read",
            line,
        )
        return None, None, None

    def scalar_payload(self, node: Any, env: Env, contexts: list[RowContext]) -> Value | None:
        """The value of a payload that is one scalar (an id, a name), or None when it is not one."""
        ctxs = contexts or [RowContext(None, None, None)]
        value = merge_values(self.per_context(lambda ctx: self.value(node, env, ctx), ctxs))
        if value.sql_type is None or value.fields is not None or value.sql_type in {"json", "jsonb", "record"}:
            return None
        return value.as_text()

    # sites ------------------------------------------------------------------------------

    def sites(self) -> list[NotifySite]:
        found: list[tuple[int, int, NotifySite]] = []
        for order, draft in enumerate(self.drafts.values()):
            site = self.site(draft)
            if site is not None:
                found.append((site.location.line, order, site))
        found.sort(key=lambda item: (item[0], item[1]))
        return [site for _, _, site in found]

    def site(self, draft: Draft) -> NotifySite | None:
        line = draft.expr.line_of(draft.call)
        contexts = self.contexts(draft.operations)
        tables = tuple(dict.fromkeys(t.table for t in self.triggers))
        operations = tuple(op for op in ALL_OPERATIONS if any(c.operation == op for c in contexts))
        guards = draft.guards
        event: Template | None = None
        private: bool | None = False
        payload: list[PayloadField] | None = None
        builder: str | None = None
        payload_format: str | None = None
        bound: dict[str, Any] = {}
        channel_builder = "literal"
        private_given = False
        if draft.transport == "NOTIFY":
            notify = draft.notify
            channel = Template((notify.conditionname or "",))
            if notify.payload is not None:
                constant = ast.A_Const(val=ast.String(sval=notify.payload), isnull=False)
                payload, builder, payload_format = self.payload(constant, draft.expr, draft.env, contexts, line)
            else:
                payload, builder = [], None
        else:
            self.remember_texts(draft.call, draft.expr.query)
            args = list(draft.call.args or ())
            named = {a.name.lower(): a.arg for a in args if isinstance(a, ast.NamedArgExpr) and a.name}
            positional = [a for a in args if not isinstance(a, ast.NamedArgExpr)]
            if draft.transport == "pg_notify":
                parameters = ["channel", "payload"]
            elif draft.transport == "realtime.send":
                parameters = ["payload", "event", "topic", "private"]
            else:
                parameters = ["topic_name", "event_name", "operation", "table_name", "table_schema", "new", "old"]
            bound = dict(zip(parameters, positional, strict=False))
            bound.update(named)
            channel_node = bound.get("channel", bound.get("topic", bound.get("topic_name")))
            if channel_node is None:
                self.diagnose("unsupported-call", f"{draft.transport} call without a channel", line)
                return None
            channel = self.template(channel_node, draft.expr, draft.env, contexts, line)
            channel_builder = self.builder_of(channel_node, draft.env)
            if draft.transport == "pg_notify":
                if "payload" in bound:
                    payload, builder, payload_format = self.payload(
                        bound["payload"], draft.expr, draft.env, contexts, line
                    )
                else:
                    payload = []
            elif draft.transport == "realtime.send":
                if "event" in bound:
                    event = self.template(bound["event"], draft.expr, draft.env, contexts, line)
                private = self._private(bound.get("private"), draft, contexts)
                private_given = "private" in bound
                if "payload" in bound:
                    payload, builder, payload_format = self.payload(
                        bound["payload"], draft.expr, draft.env, contexts, line
                    )
                    payload_format = "jsonb" if payload is not None else None
            else:
                private = True
                private_given = True
                if "event_name" in bound:
                    event = self.template(bound["event_name"], draft.expr, draft.env, contexts, line)
                payload, builder, payload_format = self._broadcast_changes(bound, draft, contexts)
        size: int | None = None
        reason: str | None = None
        size_traced = True
        if builder == "literal":
            # A literal is sent as written: its own bytes, whatever its JSON spacing.
            literal = draft.notify.payload if draft.transport == "NOTIFY" else literal_text(bound.get("payload"))
            size = len(literal.encode()) if literal is not None else None
            reason = None if size is not None else "payload is not a JSON object"
        elif builder == "scalar":
            scalar = self.scalar_payload(bound.get("payload"), draft.env, contexts)
            size = scalar.text_bytes if scalar is not None else None
            size_traced = scalar is not None and scalar.traced
            reason = (scalar.unbounded_reason or "unbounded") if scalar is not None and size is None else None
        elif payload is None:
            reason = "payload not understood"
            size_traced = False
        elif payload_format is not None:
            size = object_bytes(payload, payload_format)
            if size is None:
                unbounded = [f for f in payload if f.max_bytes is None]
                reason = "; ".join(f"{f.key}: {f.unbounded_reason or 'unbounded'}" for f in unbounded)
                size_traced = any(f.traced for f in unbounded)
            untyped = [field for field in payload if field.sql_type is None]
            if untyped:
                keys = ", ".join(repr(field.key) for field in untyped)
                self.diagnose(
                    "untyped-field",
                    f"payload {'keys' if len(untyped) > 1 else 'key'} {keys}: type not understood "
                    f"({untyped[0].unbounded_reason or 'unknown'}); the schema accepts any JSON value there",
                    line,
                )
        elif not payload and builder is None:
            size = 0  # NOTIFY without a payload: an empty payload
        else:
            reason = "payload is not a JSON object"
        if draft.in_loop and not any("loop at line" in guard for guard in guards):
            guards = (*guards, "inside a loop")
        return NotifySite(
            function=self.function.name,
            transport=draft.transport,
            channel=channel,
            event=event,
            private=private,
            payload=tuple(payload) if payload is not None else None,
            payload_builder=builder,
            guards=guards,
            tables=tables,
            location=SourceLocation(self.function.location.path, line),
            operations=operations,
            payload_format=payload_format,
            max_payload_bytes=size,
            unbounded_reason=reason,
            channel_builder=channel_builder,
            private_given=private_given,
            size_traced=size_traced,
            emitted_when=self.emitted_when(operations, tables, guards),
        )

    def emitted_when(
        self, operations: tuple[str, ...], tables: tuple[str, ...], guards: tuple[str, ...]
    ) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """Per operation, what must hold for the message to be sent: trigger conditions, then guards."""
        result = []
        for operation in operations:
            clauses = []
            for trigger in self.triggers:
                if operation not in trigger.events or trigger.table not in tables or not trigger.enabled:
                    continue
                parts = [f"({trigger.when_sql})"] if trigger.when_sql else []
                if operation == "UPDATE" and trigger.update_columns:
                    parts.append("UPDATE OF " + ", ".join(trigger.update_columns))
                clauses.append(" AND ".join(parts))
            conditions: tuple[str, ...] = ()
            if clauses and all(clauses):
                conditions = (" OR ".join(dict.fromkeys(clauses)),) if len(set(clauses)) > 1 else (clauses[0],)
            # A guard TG_OP alone settles for this operation says nothing more about when it is sent.
            held = tuple(g for g in guards if not decided_by_tg_op(g, frozenset({operation})))
            result.append((operation, (*conditions, *held)))
        return tuple(result)

    def builder_of(self, node: Any, env: Env, depth: int = 0) -> str:
        """How a channel or topic expression is built: ``concat``, ``||``, ``format``, ``literal`` or ``other``."""
        while isinstance(node, ast.TypeCast):
            node = node.arg
        if string_const(node) is not None:
            return "literal"
        if isinstance(node, ast.FuncCall) and func_name(node) in {"concat", "format"}:
            return func_name(node)
        if isinstance(node, ast.A_Expr):
            names = [n.sval for n in node.name or () if isinstance(n, ast.String)]
            if names and names[-1] == "||":
                return "||"
        if isinstance(node, ast.ColumnRef) and depth < MAX_DEPTH:
            fields = [f.sval.lower() for f in node.fields or () if isinstance(f, ast.String) and f.sval]
            definitions = env.get(fields[0], ()) if len(fields) == 1 and fields[0] in self.variables else ()
            builders = {self.builder_of(d.expr.node, d.env, depth + 1) for d in definitions if isinstance(d, DefExpr)}
            if len(builders) == 1 and len(definitions) == len([d for d in definitions if isinstance(d, DefExpr)]):
                return builders.pop()
        return "other"

    def _private(self, node: Any, draft: Draft, contexts: list[RowContext]) -> bool | None:
        if node is None:
            return True  # realtime.send's default
        values = self.per_context(
            lambda ctx: self.value(node, draft.env, ctx), contexts or [RowContext(None, None, None)]
        )
        merged = merge_values(values)
        if merged.values is not None and len(merged.values) == 1 and not merged.nullable:
            return merged.values[0] in {"true", "t"}
        return None

    def _broadcast_changes(
        self, bound: dict[str, Any], draft: Draft, contexts: list[RowContext]
    ) -> tuple[list[PayloadField], str, str]:
        ctxs = contexts or [RowContext(None, None, None)]
        groups = []
        for ctx in ctxs:
            fields = []
            for key, parameter in (
                ("old_record", "old"),
                ("record", "new"),
                ("operation", "operation"),
                ("table", "table_name"),
                ("schema", "table_schema"),
            ):
                node = bound.get(parameter)
                value = self.value(node, draft.env, ctx) if node is not None else Value.null(f"{parameter} missing")
                if value.fields is not None:
                    value = object_value(value.fields, "jsonb", value)
                fields.append(make_field(key, render(node) if node is not None else "NULL", value))
            groups.append(fields)
        return merge_fields(groups), "realtime.broadcast_changes", "jsonb"
