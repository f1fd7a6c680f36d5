"""The state shared by the walk, the evaluation and the site builder of one function."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import pglast
from pglast import ast

from bcastsim.sqlmodel._flow import Draft, Variable
from bcastsim.sqlmodel._lineage import (
    Lookup,
    RowContext,
    Value,
    arg_texts,
    call_arg_texts,
)
from bcastsim.sqlmodel._pgnodes import Expr, one_line
from bcastsim.sqlmodel._types import (
    Catalog,
    Column,
    Diagnostic,
    Function,
    SourceLocation,
    Table,
)

_T = TypeVar("_T")

# How an expression can tell one trigger operation from another: through TG_OP, or through OLD
# being NULL (INSERT) or not (UPDATE). A body that spells neither (a quoted or escaped spelling
# included, so a U& identifier counts as spelling anything) reads the operation only through NEW.
_READS_OPERATION = re.compile(r"\btg_op\b|u&", re.IGNORECASE)
_READS_OLD = re.compile(r"\bold\b|u&", re.IGNORECASE)


class FunctionContext:
    """One function being analysed: its state, diagnostics, parsed expressions and trigger contexts."""

    def __init__(
        self,
        catalog: Catalog,
        function: Function,
        diagnostics: list[Diagnostic],
        column_values: dict[tuple[int, int], tuple[Table, Column, Value]] | None = None,
    ) -> None:
        self.catalog = catalog
        # The value read from each (table, column) of a row that exists: the same for every function
        # and trigger operation, so the catalog's analysis passes one dict to all of its functions.
        # Keyed by identity, with the table and column kept, so that a key is never reused.
        self.column_values = {} if column_values is None else column_values
        self.function = function
        self.diagnostics = diagnostics
        self.variables: dict[str, Variable] = {}
        self.datums: list[dict[str, Any]] = []
        self.drafts: dict[tuple[int, int], Draft] = {}
        self.calls: set[str] = set()
        self.writes: set[str] = set()
        self._lookups: dict[str, Lookup] = {}
        self._parsed: dict[tuple[str, int], Any] = {}
        self._memo: dict[tuple[Any, RowContext, str | None], Value] = {}
        self._diagnosed: set[tuple[str, int, str]] = set()
        self._texts: dict[int, str] = {}
        self._exprs: dict[tuple[str, int, int], Expr] = {}
        self._split_body: list[str] | None = None
        self._arg_texts: dict[tuple[str, int], list[str] | None] = {}
        self._call_groups: dict[str, dict[int, list[str]]] = {}
        self.triggers = catalog.triggers_for(function.name)
        # (The patterns are case-blind and slow to try at every character: a body that does not
        # hold the words, lower-cased, is passed over without them.)
        lowered = function.body.lower()
        escaped = "u&" in lowered
        self._reads_operation = (escaped or "tg_op" in lowered) and _READS_OPERATION.search(function.body) is not None
        self._reads_old = (escaped or "old" in lowered) and _READS_OLD.search(function.body) is not None

    # diagnostics ------------------------------------------------------------------------

    def diagnose(self, code: str, message: str, line: int) -> None:
        key = (code, line, message)
        if key in self._diagnosed:
            return
        self._diagnosed.add(key)
        self.diagnostics.append(
            Diagnostic(code, message, SourceLocation(self.function.location.path, line), self.function.name)
        )

    def file_line(self, lineno: Any) -> int:
        number = lineno if isinstance(lineno, int) else 1
        return self.function.body_location.line + max(number, 1) - 1

    # parsing ----------------------------------------------------------------------------

    def parse(self, query: str, mode: int, line: int) -> Expr | None:
        """Parse a PL/pgSQL expression (mode 2), assignment (3) or statement (0)."""
        text = query
        if mode == 3:
            match = re.match(r'\s*(?:"[^"]*"|[\w$]+)(?:\s*\.\s*(?:"[^"]*"|[\w$]+))*(?:\s*\[[^\]]*\])*\s*:?=', text)
            if match is None:
                self.diagnose("unsupported-assignment", f"assignment not understood: {one_line(text)}", line)
                return None
            text = " " * match.end() + text[match.end() :]
            mode = 2
        if mode in (2, 1):
            text = "SELECT " + text
        key = (text, mode)
        if key in self._parsed:
            node = self._parsed[key]
        else:
            try:
                statements = pglast.parse_sql(text)
            except Exception as error:
                # PostgreSQL's PL/pgSQL parser accepted the function: what we cannot parse here
                # is our limit, not a fault in the SQL.
                message = str(error.args[0]) if error.args else str(error)
                self.diagnose(
                    "unparsed-expression",
                    f"expression not analysed ({message}): {one_line(query)[:80]}",
                    line,
                )
                self._parsed[key] = None
                return None
            node = statements[0].stmt if statements else None
            if mode == 2 and isinstance(node, ast.SelectStmt) and node.targetList:
                target = node.targetList[0]
                node = target.val if isinstance(target, ast.ResTarget) else None
            self._parsed[key] = node
        if node is None:
            return None
        # One Expr per statement, so a loop body walked twice finds the same notify calls.
        cached = self._exprs.get((text, mode, line))
        if cached is None:
            cached = self._exprs[(text, mode, line)] = Expr(node, text, line)
        return cached

    def remember_texts(self, call: ast.FuncCall, query: str) -> None:
        """Keep the source text of each argument of ``call`` (the parse tree has no end positions)."""
        if call.location is None:
            return
        texts = self.call_texts(query, call.location)
        args = list(call.args or ())
        if texts is None or len(texts) != len(args):
            return
        for arg, text in zip(args, texts, strict=True):
            if isinstance(arg, ast.NamedArgExpr):
                self._texts[id(arg.arg)] = re.sub(r"^[\w\"]+\s*(=>|:=)\s*", "", text)
            self._texts[id(arg)] = text

    def call_texts(self, query: str, location: int) -> list[str] | None:
        """``arg_texts(query, location)``, split once per call: the site reads a call's arguments
        for its texts and again under every trigger operation it evaluates the call for."""
        key = (query, location)
        if key not in self._arg_texts:
            groups = self._call_groups.get(query)
            if groups is None:
                groups = self._call_groups[query] = call_arg_texts(query)
            found = groups.get(query.find("(", location))
            self._arg_texts[key] = found if found is not None else arg_texts(query, location)
        return self._arg_texts[key]

    def per_context(self, evaluate: Callable[[RowContext], _T], contexts: list[RowContext]) -> list[_T]:
        """``[evaluate(ctx) for ctx in contexts]``, evaluated once for contexts the body cannot tell apart.

        An evaluation reads the operation of its context only as TG_OP's value and as whether NEW
        and OLD are NULL (``RowContext.record_is_null``); every other field of the context is read
        as it is. So where the body names neither TG_OP nor OLD, an INSERT and an UPDATE of one
        trigger evaluate alike, and the second takes the first's result (the same object: merging
        the list gives what it gave when both were evaluated).
        """
        if len(contexts) < 2:
            return [evaluate(ctx) for ctx in contexts]
        results: dict[Hashable, _T] = {}
        found = []
        for ctx in contexts:
            key = self._evaluation_key(ctx)
            if key not in results:
                results[key] = evaluate(ctx)
            found.append(results[key])
        return found

    def _evaluation_key(self, ctx: RowContext) -> Hashable:
        if self._reads_operation:
            return ctx
        return (
            id(ctx.table),
            ctx.table_name,
            ctx.timing,
            ctx.level,
            ctx.arguments,
            ctx.record_is_null("new"),
            ctx.record_is_null("old") if self._reads_old else None,
        )

    def contexts(self, operations: frozenset[str]) -> list[RowContext]:
        found: list[RowContext] = []
        for trigger in self.triggers:
            table = self.catalog.tables.get(trigger.table)
            if table is None:
                self.diagnose(
                    "unknown-table",
                    f"trigger {trigger.name} is on table {trigger.table}, which the given files do not define: "
                    "column types and nullability are unknown (pass the schema file too)",
                    trigger.location.line
                    if trigger.location.path == self.function.location.path
                    else self.function.location.line,
                )
            for operation in trigger.events:
                if operation in operations:
                    level = "STATEMENT" if operation == "TRUNCATE" else trigger.level
                    found.append(RowContext(table, operation, trigger.timing, level, trigger.table, trigger.arguments))
        return list(dict.fromkeys(found))
