"""A control-flow graph of a PL/pgSQL body, and the facts that hold on the paths through it.

The graph is built from PostgreSQL's own parse (``pglast.parse_plpgsql``): one node per
statement, edges labelled with the branch conditions that must hold along them. It follows
``IF``/``ELSIF``/``ELSE``, ``CASE`` (searched and simple; a ``CASE`` without ``ELSE`` raises
``case_not_found`` when nothing matches), loops with ``EXIT``/``CONTINUE`` (labels included),
blocks with ``EXCEPTION`` handlers (a handler is reachable from its block's entry, since any
statement of the block may fail), ``RETURN`` (to the exit), ``RAISE`` at ``ERROR`` level (the
path ends), and marks ``EXECUTE`` of a dynamic string as *unknown*: what it does is not read.

Facts are computed by a forward fixpoint over the graph: *which trigger operations reach a
statement*: ``TG_OP`` tests on the edges narrow the set, and a statement after
``IF TG_OP = 'DELETE' THEN RETURN OLD; END IF`` is not reached on ``DELETE``. ``NEW`` is NULL
exactly where ``DELETE`` reaches (and ``TRUNCATE``), ``OLD`` where ``INSERT`` does. And per
statement, *which ``NEW``/``OLD`` fields its expressions read* (:func:`expression_reads`,
``ControlFlowGraph.row_reads``), from PostgreSQL's parse of each expression: text in a quoted
literal or a comment is not a read, an assignment's target is a write, and a read in a ``CASE``
branch (or past an ``AND``/``OR`` operand) that ``TG_OP`` rules out is not made on that operation.

This module reads nothing but the parse tree: it sits at the bottom of the package
(parse → graph → facts → sites and contracts → rules).
"""

from __future__ import annotations

import collections
import contextlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import pglast
from pglast import ast
from pglast.enums import A_Expr_Kind, BoolExprType

__all__ = [
    "ALL_OPERATIONS",
    "CfgNode",
    "ControlFlowGraph",
    "PathFacts",
    "RowRead",
    "build_cfg",
    "expression_reads",
    "first_lineno",
    "function_root",
    "graphs_kept",
    "may_read",
    "operations_where",
    "parse_condition",
    "statement_reads",
    "tg_op_truth",
]

ALL_OPERATIONS: frozenset[str] = frozenset({"INSERT", "UPDATE", "DELETE", "TRUNCATE"})


def first_lineno(body: Any) -> int | None:
    """The line of the first statement of a PL/pgSQL statement list (pglast's JSON), if it has one."""
    if isinstance(body, list):
        for item in body:
            if isinstance(item, Mapping):
                for stmt in item.values():
                    if isinstance(stmt, Mapping) and stmt.get("lineno"):
                        return int(stmt["lineno"])
    return None


# PL/pgSQL elog levels as parse_plpgsql reports them (utils/elog.h): ERROR and above end the path.
_ELOG_ERROR = 21

# Every PL/pgSQL loop statement (pl/plpgsql/src/plpgsql.h): its body may run any number of times.
LOOP_STATEMENTS = frozenset(
    {
        "PLpgSQL_stmt_loop",
        "PLpgSQL_stmt_while",
        "PLpgSQL_stmt_fori",
        "PLpgSQL_stmt_fors",
        "PLpgSQL_stmt_forc",
        "PLpgSQL_stmt_foreach_a",
        "PLpgSQL_stmt_dynfors",
    }
)

# Keys of a statement that hold nested statements, not expressions of the statement itself.
_NESTED = frozenset(
    {"then_body", "else_body", "elsif_list", "body", "exceptions", "stmts", "action", "case_when_list", "else_stmts"}
)

# A literal on an edge: (condition text, the truth value it has along the edge).
Literal = tuple[str, bool]


# -- TG_OP conditions -------------------------------------------------------------------------


def _const_text(node: Any) -> str | None:
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String):
        return str(node.val.sval).upper()
    if isinstance(node, ast.TypeCast):
        return _const_text(node.arg)
    return None


def _is_tg_op(node: Any) -> bool:
    if isinstance(node, ast.TypeCast):
        return _is_tg_op(node.arg)
    if not isinstance(node, ast.ColumnRef):
        return False
    fields: tuple[Any, ...] = node.fields or ()
    return len(fields) == 1 and isinstance(fields[0], ast.String) and str(fields[0].sval).lower() == "tg_op"


def tg_op_truth(node: Any, op: str) -> bool | None:
    """Whether a parsed condition is true under ``TG_OP = op`` from its TG_OP tests alone; None: it depends."""
    if isinstance(node, ast.BoolExpr):
        values = [tg_op_truth(arg, op) for arg in node.args or ()]
        if node.boolop == BoolExprType.AND_EXPR:
            if any(v is False for v in values):
                return False
            return True if all(v is True for v in values) else None
        if node.boolop == BoolExprType.OR_EXPR:
            if any(v is True for v in values):
                return True
            return False if all(v is False for v in values) else None
        inner = values[0] if values else None
        return None if inner is None else not inner
    if isinstance(node, ast.A_Expr):
        name = str(node.name[0].sval) if node.name else ""
        left: Any = node.lexpr
        right: Any = node.rexpr
        if _is_tg_op(right) and not _is_tg_op(left):
            left, right = right, left
        if not _is_tg_op(left):
            return None
        if node.kind == A_Expr_Kind.AEXPR_IN and isinstance(right, tuple | list):
            listed = {_const_text(item) for item in right}
            if None in listed:
                return None
            return (op in listed) if name == "=" else (op not in listed)
        if node.kind == A_Expr_Kind.AEXPR_OP:
            value = _const_text(right)
            if value is None:
                return None
            if name == "=":
                return op == value
            if name in {"<>", "!="}:
                return op != value
    return None


def parse_condition(cond: str) -> Any | None:
    """A PL/pgSQL condition as a parsed SQL expression; None when it is not plain SQL."""
    try:
        parsed: Any = pglast.parse_sql(f"SELECT {cond}")
        return parsed[0].stmt.targetList[0].val
    except Exception:  # a PL/pgSQL-only construct: nothing is known about it
        return None


@attrs.frozen
class RowRead:
    """A read of ``NEW.column`` or ``OLD.column`` in one expression, as PostgreSQL parses it."""

    record: str
    column: str
    #: an operand of a ``COALESCE`` that also reads the other record (``COALESCE(NEW.c, OLD.c)``)
    paired: bool
    #: the trigger operations under which evaluating the expression reads it
    operations: frozenset[str]


# PL/pgSQL assignment (``target := expr`` / ``target = expr``; PostgreSQL 14+ keeps the target in the
# expression's text): the target, possibly subscripted or a field, is written, not read.
_NAME = r'(?:"[^"]+"|[A-Za-z_][\w$]*)'
_ASSIGNMENT = re.compile(rf"^\s*{_NAME}(?:\s*\.\s*{_NAME}|\[[^\]]*\])*\s*:?=(?!=)")
_STATEMENT_START = re.compile(r"\s*(select|insert|update|delete|with|values|table)\b", re.IGNORECASE)


def _parse_expression(sql: str, assignment: bool) -> Any | None:
    """PostgreSQL's parse of the expression as pglast's JSON, decoded to plain dicts and lists.

    The JSON is read, not pglast's node classes: building those validates every attribute in
    Python and cost as much as the rest of the walk (half of a rule pass at 10,000 functions).
    """
    text = sql
    if assignment:
        target = _ASSIGNMENT.match(text)
        if target is None:
            return None
        text = text[target.end() :]
    try:
        parsed: Any = pglast.parser.parse_sql_json(text if _STATEMENT_START.match(text) else f"SELECT {text}")
    except Exception:  # not plain SQL: nothing is known to be read
        return None
    return json.loads(parsed).get("stmts", [])


# In pglast's JSON a node is ``{"TypeName": {fields}}``; a field whose C type is one struct holds its
# fields bare. Node names start with a capital letter, field names never do.
def _json_node(value: Any) -> tuple[str, dict[str, Any]] | None:
    if type(value) is dict and len(value) == 1:
        kind, body = next(iter(value.items()))
        if kind[:1].isupper() and type(body) is dict:
            return kind, body
    return None


# Nodes that hold no column reference below them: a name's or a constant's text.
_LEAVES = frozenset({"String", "A_Const", "Integer", "Float", "Boolean", "BitString", "A_Star", "ParamRef"})


def _json_items(value: Any) -> list[Any]:
    """The items of a JSON list field (pglast's node classes read a ``List`` node as a tuple too)."""
    if type(value) is list:
        return value
    node = _json_node(value)
    if node is not None and node[0] == "List":
        items = node[1].get("items", [])
        return items if type(items) is list else []
    return []


def _json_fields(body: dict[str, Any]) -> tuple[list[str | None], int]:
    """A ColumnRef's ``fields``: each String's text (None for anything else), and how many there are."""
    fields = _json_items(body.get("fields"))
    texts: list[str | None] = []
    for field in fields:
        node = _json_node(field)
        texts.append(str(node[1].get("sval", "")) if node is not None and node[0] == "String" else None)
    return texts, len(fields)


def _json_const_text(value: Any) -> str | None:
    node = _json_node(value)
    if node is None:
        return None
    kind, body = node
    if kind == "A_Const":
        string = body.get("sval")
        return str(string.get("sval", "")).upper() if type(string) is dict else None
    if kind == "TypeCast":
        return _json_const_text(body.get("arg"))
    return None


def _json_is_tg_op(value: Any) -> bool:
    node = _json_node(value)
    if node is None:
        return False
    if node[0] == "TypeCast":
        return _json_is_tg_op(node[1].get("arg"))
    if node[0] != "ColumnRef":
        return False
    texts, count = _json_fields(node[1])
    return count == 1 and texts[0] is not None and texts[0].lower() == "tg_op"


def _json_tg_op_truth(value: Any, op: str) -> bool | None:
    """:func:`tg_op_truth` of a condition in pglast's JSON form."""
    node = _json_node(value)
    if node is None:
        return None
    kind, body = node
    if kind == "BoolExpr":
        values = [_json_tg_op_truth(arg, op) for arg in _json_items(body.get("args"))]
        boolop = body.get("boolop", "AND_EXPR")
        if boolop == "AND_EXPR":
            if any(v is False for v in values):
                return False
            return True if all(v is True for v in values) else None
        if boolop == "OR_EXPR":
            if any(v is True for v in values):
                return True
            return False if all(v is False for v in values) else None
        inner = values[0] if values else None
        return None if inner is None else not inner
    if kind == "A_Expr":
        names = _json_items(body.get("name"))
        first = _json_node(names[0]) if names else None
        name = str(first[1].get("sval", "")) if first is not None and first[0] == "String" else ""
        left: Any = body.get("lexpr")
        right: Any = body.get("rexpr")
        if _json_is_tg_op(right) and not _json_is_tg_op(left):
            left, right = right, left
        if not _json_is_tg_op(left):
            return None
        expr_kind = body.get("kind", "AEXPR_OP")
        listed_node = _json_node(right)
        if expr_kind == "AEXPR_IN" and (type(right) is list or (listed_node is not None and listed_node[0] == "List")):
            listed = {_json_const_text(item) for item in _json_items(right)}
            if None in listed:
                return None
            return (op in listed) if name == "=" else (op not in listed)
        if expr_kind == "AEXPR_OP":
            constant = _json_const_text(right)
            if constant is None:
                return None
            if name == "=":
                return op == constant
            if name in {"<>", "!="}:
                return op != constant
    return None


def expression_reads(
    sql: str, assignment: bool = False, operations: frozenset[str] = ALL_OPERATIONS
) -> tuple[RowRead, ...] | None:
    """The ``NEW``/``OLD`` fields one PL/pgSQL expression reads; None when it does not parse.

    ``assignment``: the expression is an assignment's ``target := value`` (only the value is read).
    """
    key = (sql, assignment, operations)
    if key in _READS:
        return _READS[key]
    tree = _parse_expression(sql, assignment)
    found: _Reads = {}
    result: tuple[RowRead, ...] | None = None
    if tree is not None:
        _visit_reads(tree, operations, found)
        result = tuple(
            RowRead(record, column, paired, frozenset(ops)) for (record, column, paired), ops in found.items()
        )
    if len(_READS) >= _READS_SIZE:
        _READS.pop(next(iter(_READS)))
    _READS[key] = result
    return result


# (record, column, paired) → the operations under which it is read.
_Reads = dict[tuple[str, str, bool], set[str]]


# Module functions, not closures: a nested walk refers to itself through its closure, a cycle only
# the cyclic collector frees, and it is paused while the rules run (the cycles of every call piled up).
def _record_of(body: dict[str, Any]) -> str | None:
    texts = [text for text in _json_fields(body)[0] if text is not None]
    if len(texts) >= 2 and texts[0].lower() in {"new", "old"}:
        return texts[0].lower()
    return None


def _add_read(body: dict[str, Any], ops: frozenset[str], paired: bool, found: _Reads) -> None:
    texts, count = _json_fields(body)
    if len(texts) >= 2 and None not in texts and len(texts) == count and str(texts[0]).lower() in {"new", "old"}:
        found.setdefault((str(texts[0]).upper(), str(texts[1]).lower(), paired), set()).update(ops)


def _visit_reads(value: Any, ops: frozenset[str], found: _Reads) -> None:
    # Only dicts and lists can hold a ColumnRef: scalars (most values) are passed over without a call.
    if not ops:
        return
    if type(value) is list:
        for item in value:
            if type(item) is dict or type(item) is list:
                _visit_reads(item, ops, found)
        return
    if type(value) is not dict:
        return
    node = _json_node(value)
    if node is None:  # a struct's fields held bare, or the document's top level
        for item in value.values():
            if type(item) is dict or type(item) is list:
                _visit_reads(item, ops, found)
        return
    kind, body = node
    if kind in _LEAVES:
        return
    if kind == "CaseExpr":
        _visit_reads(body.get("arg"), ops, found)
        remaining = ops
        for when in _json_items(body.get("args")):
            case_when = _json_node(when)
            if case_when is None or case_when[0] != "CaseWhen":
                continue
            condition = case_when[1].get("expr")
            _visit_reads(condition, remaining, found)
            _visit_reads(
                case_when[1].get("result"),
                frozenset(op for op in remaining if _json_tg_op_truth(condition, op) is not False),
                found,
            )
            remaining = frozenset(op for op in remaining if _json_tg_op_truth(condition, op) is not True)
        _visit_reads(body.get("defresult"), remaining, found)
        return
    if kind == "BoolExpr" and body.get("boolop", "AND_EXPR") != "NOT_EXPR":
        # An AND with an operand false under op (an OR with one true) does not need the rest.
        settled = body.get("boolop", "AND_EXPR") != "AND_EXPR"
        args = _json_items(body.get("args"))
        kept = frozenset(op for op in ops if not any(_json_tg_op_truth(arg, op) is settled for arg in args))
        for arg in args:
            _visit_reads(arg, kept, found)
        return
    if kind == "CoalesceExpr":
        args = _json_items(body.get("args"))
        columns = [_json_node(arg) for arg in args]
        records = {_record_of(c[1]) for c in columns if c is not None and c[0] == "ColumnRef"} - {None}
        for arg, column in zip(args, columns, strict=True):
            if column is not None and column[0] == "ColumnRef":
                _add_read(column[1], ops, len(records) == 2, found)
            else:
                _visit_reads(arg, ops, found)
        return
    if kind == "ColumnRef":
        _add_read(body, ops, False, found)
        return
    for item in body.values():
        if type(item) is dict or type(item) is list:
            _visit_reads(item, ops, found)


def statement_reads(kind: str, sql: Sequence[str]) -> tuple[RowRead, ...] | None:
    """The ``NEW``/``OLD`` fields a statement's own expressions read; None when one does not parse."""
    found: list[RowRead] = []
    assignment = kind == "PLpgSQL_stmt_assign"
    for text in sql:
        if kind == "PLpgSQL_stmt_return" and text.strip().upper() in {"NEW", "OLD"}:
            continue  # RETURN of the record itself reads no field
        reads = expression_reads(text, assignment)
        if reads is None:
            return None
        found.extend(reads)
    return tuple(found)


def may_read(sql: Sequence[str], records: Iterable[str]) -> bool:
    """Whether any of the texts can read a field of one of ``records`` (``NEW``, ``OLD``); False is certain.

    A read of ``old.c`` names the record as an identifier: plainly (ASCII letters in any case, which
    PostgreSQL folds) or quoted, so its letters stand in the text; only a ``U&"…"`` identifier can spell
    them with escapes. Anything else is decided by the parse.
    """
    for text in sql:
        lowered = text.lower()
        if "u&" in lowered or any(record.lower() in lowered for record in records):
            return True
    return False


# Reads of the expressions asked for lately: rules ask about the same statements in turn.
_READS: dict[tuple[str, bool, frozenset[str]], tuple[RowRead, ...] | None] = {}
_READS_SIZE = 4096


def operations_where(
    cond: str, polarity: bool, operations: frozenset[str] = ALL_OPERATIONS, cache: dict[str, Any] | None = None
) -> frozenset[str]:
    """The operations under which ``cond`` can have the truth value ``polarity`` (false includes NULL)."""
    cache = {} if cache is None else cache
    if cond not in cache:
        cache[cond] = parse_condition(cond)
    node = cache[cond]
    if node is None:
        return operations
    kept = set()
    for op in operations:
        truth = tg_op_truth(node, op)
        # NULL is not true: a condition false or NULL takes the "false" edge, so only a
        # decided truth value of the opposite polarity rules the edge out.
        if truth is None or truth == polarity:
            kept.add(op)
    return frozenset(kept)


# -- the graph --------------------------------------------------------------------------------


@attrs.frozen
class CfgNode:
    """One statement of the body (or the entry/exit of the function)."""

    index: int
    kind: str
    lineno: int
    #: the statement's own expressions (not those of nested statements); ``RETURN var`` gives the variable
    sql: tuple[str, ...]
    in_handler: bool = False
    in_protected_block: bool = False
    #: ``EXECUTE`` of a string built at run time: what it does is not known
    unknown: bool = False
    #: ``RETURN`` ends the path; ``RAISE`` at ERROR level too
    ends_path: bool = False


@attrs.frozen
class Edge:
    source: int
    target: int
    literals: tuple[Literal, ...] = ()


@attrs.frozen
class PathFacts:
    """What holds when a statement runs, over every path reaching it."""

    operations: frozenset[str]

    @property
    def reachable(self) -> bool:
        return bool(self.operations)

    @property
    def new_is_null_on(self) -> frozenset[str]:
        """Operations reaching the statement on which ``NEW`` is NULL."""
        return self.operations & {"DELETE", "TRUNCATE"}

    @property
    def old_is_null_on(self) -> frozenset[str]:
        """Operations reaching the statement on which ``OLD`` is NULL."""
        return self.operations & {"INSERT", "TRUNCATE"}


@attrs.frozen
class ControlFlowGraph:
    """Statements in source (pre-)order, index 0 the entry, the last the exit."""

    nodes: tuple[CfgNode, ...]
    edges: tuple[Edge, ...]
    # facts() per set of trigger operations: rules ask again for the same sets.
    _facts: dict[frozenset[str], tuple[PathFacts, ...]] = attrs.field(
        factory=dict, init=False, eq=False, repr=False, hash=False
    )

    @property
    def entry(self) -> int:
        return 0

    @property
    def exit(self) -> int:
        return len(self.nodes) - 1

    @property
    def statements(self) -> tuple[CfgNode, ...]:
        """The body's statements, without the entry and exit nodes."""
        return self.nodes[1:-1]

    def row_reads(self, index: int) -> tuple[RowRead, ...] | None:
        """The ``NEW``/``OLD`` fields the statement's own expressions read; None when one does not parse."""
        node = self.nodes[index]
        return statement_reads(node.kind, node.sql)

    def successors(self, index: int) -> Iterator[Edge]:
        return (edge for edge in self.edges if edge.source == index)

    def facts(self, trigger_operations: frozenset[str] = ALL_OPERATIONS) -> tuple[PathFacts, ...]:
        """Per node, the facts over all paths from the entry (run under ``trigger_operations``)."""
        key = frozenset(trigger_operations)
        known = self._facts.get(key)
        if known is None:
            known = self._facts[key] = self._path_facts(key)
        return known

    def _path_facts(self, trigger_operations: frozenset[str]) -> tuple[PathFacts, ...]:
        reach: list[frozenset[str]] = [frozenset()] * len(self.nodes)
        reach[self.entry] = frozenset(trigger_operations)
        outgoing: dict[int, list[Edge]] = {}
        for edge in self.edges:
            outgoing.setdefault(edge.source, []).append(edge)
        cache: dict[str, Any] = {}
        work = [self.entry]
        while work:
            index = work.pop()
            for edge in outgoing.get(index, ()):
                carried = reach[index]
                for cond, polarity in edge.literals:
                    carried = operations_where(cond, polarity, carried, cache)
                if not carried <= reach[edge.target]:
                    reach[edge.target] = reach[edge.target] | carried
                    work.append(edge.target)
        # At most 16 sets of operations: one shared object per set, not one per statement of every
        # function (the graphs of all functions are held while the rules run).
        return tuple(_shared_facts(ops) for ops in reach)


_SHARED_FACTS: dict[frozenset[str], PathFacts] = {}


def _shared_facts(operations: frozenset[str]) -> PathFacts:
    facts = _SHARED_FACTS.get(operations)
    if facts is None:
        facts = _SHARED_FACTS[frozenset(operations)] = PathFacts(frozenset(operations))
    return facts


def _expr(node: Any) -> str | None:
    if isinstance(node, Mapping) and "PLpgSQL_expr" in node:
        query = node["PLpgSQL_expr"].get("query")
        return query if isinstance(query, str) else None
    return None


def statement_exprs(stmt: Mapping[str, Any]) -> list[str]:
    """The expressions of one statement, not of the statements nested in it."""
    found: list[str] = []
    _statement_exprs(stmt, found)
    return found


# A module function, not a closure: a nested walk refers to itself through its closure, a cycle only
# the cyclic collector frees, and it is paused while the rules run (the cycles of every call piled up).
def _statement_exprs(value: Any, found: list[str]) -> None:
    text = _expr(value)
    if text is not None:
        found.append(text)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key not in _NESTED:
                _statement_exprs(item, found)
    elif isinstance(value, list):
        for item in value:
            _statement_exprs(item, found)


def function_root(plpgsql: Any) -> Mapping[str, Any] | None:
    """The ``PLpgSQL_function`` object of a parse."""
    node: Any = plpgsql
    if isinstance(node, list):
        node = node[0] if node else None
    if isinstance(node, Mapping) and "PLpgSQL_function" in node:
        node = node["PLpgSQL_function"]
    return node if isinstance(node, Mapping) else None


Pending = list[tuple[int, tuple[Literal, ...]]]


@attrs.define
class _Target:
    """A block or loop that EXIT (and, for loops, CONTINUE) can name."""

    label: str | None
    head: int
    is_loop: bool
    breaks: Pending = attrs.field(factory=list)


_CASE_VARIABLE = re.compile(r'"?__Case__Variable_\d+__"?')


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[CfgNode] = []
        self.edges: list[Edge] = []
        self.targets: list[_Target] = []
        self.returns: list[int] = []

    def node(self, kind: str, lineno: int, sql: Sequence[str] = (), **flags: bool) -> int:
        index = len(self.nodes)
        self.nodes.append(CfgNode(index, kind, lineno, tuple(sql), **flags))
        return index

    def connect(self, pending: Pending, target: int) -> None:
        for source, literals in pending:
            self.edges.append(Edge(source, target, literals))

    def body(self, body: Any, pending: Pending, handler: bool, protected: bool) -> Pending:
        for item in body if isinstance(body, list) else ():
            if isinstance(item, Mapping) and item:
                kind, stmt = next(iter(item.items()))
                if isinstance(stmt, Mapping):
                    pending = self.statement(kind, stmt, pending, handler, protected)
        return pending

    def statement(
        self, kind: str, stmt: Mapping[str, Any], pending: Pending, handler: bool, protected: bool
    ) -> Pending:
        lineno = int(stmt.get("lineno", 0) or 0)
        sql = statement_exprs(stmt)
        if kind == "PLpgSQL_stmt_return" and not sql:
            # RETURN of a record variable names a datum, not an expression; the catalog adds
            # which one (``retvar``) from the source, as the parse tree drops it.
            target = stmt.get("retvar")
            sql = [str(target).upper()] if isinstance(target, str) else []
        ends = kind == "PLpgSQL_stmt_return" or (
            kind == "PLpgSQL_stmt_raise" and int(stmt.get("elog_level", _ELOG_ERROR) or _ELOG_ERROR) >= _ELOG_ERROR
        )
        index = self.node(
            kind,
            lineno,
            sql,
            in_handler=handler,
            in_protected_block=protected,
            unknown=kind in {"PLpgSQL_stmt_dynexecute", "PLpgSQL_stmt_dynfors"},
            ends_path=ends,
        )
        self.connect(pending, index)
        here: Pending = [(index, ())]
        if kind == "PLpgSQL_stmt_return":
            self.returns.append(index)
            return []
        if ends:
            return []  # RAISE EXCEPTION: the block's handlers are reached from its entry
        if kind == "PLpgSQL_stmt_if":
            return self._if(stmt, index, handler, protected)
        if kind == "PLpgSQL_stmt_case":
            return self._case(stmt, index, handler, protected)
        if kind == "PLpgSQL_stmt_block":
            return self._block(stmt, index, handler, protected)
        if kind in LOOP_STATEMENTS:
            return self._loop(kind, stmt, index, handler, protected)
        if kind == "PLpgSQL_stmt_exit":
            return self._exit(stmt, index)
        return here

    def _if(self, stmt: Mapping[str, Any], index: int, handler: bool, protected: bool) -> Pending:
        cond = _expr(stmt.get("cond")) or "NULL"
        out = self.body(stmt.get("then_body"), [(index, ((cond, True),))], handler, protected)
        rest: tuple[Literal, ...] = ((cond, False),)
        for elsif in stmt.get("elsif_list") or []:
            branch = elsif.get("PLpgSQL_if_elsif", {}) if isinstance(elsif, Mapping) else {}
            econd = _expr(branch.get("cond")) or "NULL"
            out += self.body(branch.get("stmts"), [(index, (*rest, (econd, True)))], handler, protected)
            rest = (*rest, (econd, False))
        out += self.body(stmt.get("else_body"), [(index, rest)], handler, protected)
        return out

    def _case(self, stmt: Mapping[str, Any], index: int, handler: bool, protected: bool) -> Pending:
        subject = _expr(stmt.get("t_expr"))
        out: Pending = []
        rest: tuple[Literal, ...] = ()
        for when in stmt.get("case_when_list") or []:
            branch = when.get("PLpgSQL_case_when", {}) if isinstance(when, Mapping) else {}
            cond = _expr(branch.get("expr")) or "NULL"
            if subject is not None:
                # A simple CASE compares a hidden variable holding the subject: read it as the subject.
                cond = _CASE_VARIABLE.sub(lambda _: f"({subject})", cond)
            out += self.body(branch.get("stmts"), [(index, (*rest, (cond, True)))], handler, protected)
            rest = (*rest, (cond, False))
        if stmt.get("have_else"):
            out += self.body(stmt.get("else_stmts"), [(index, rest)], handler, protected)
        # Without ELSE, no matching WHEN raises case_not_found: that path ends here.
        return out

    def _block(self, stmt: Mapping[str, Any], index: int, handler: bool, protected: bool) -> Pending:
        exceptions = stmt.get("exceptions") or {}
        block = exceptions.get("PLpgSQL_exception_block", {}) if isinstance(exceptions, Mapping) else {}
        clauses = block.get("exc_list") or []
        label = stmt.get("label")
        target = _Target(str(label) if label else None, index, is_loop=False)
        self.targets.append(target)
        out = self.body(stmt.get("body"), [(index, ())], handler, protected or bool(clauses))
        self.targets.pop()
        for exc in clauses:
            clause = exc.get("PLpgSQL_exception", {}) if isinstance(exc, Mapping) else {}
            out += self.body(clause.get("action"), [(index, ())], True, protected)
        return out + target.breaks

    def _loop(self, kind: str, stmt: Mapping[str, Any], index: int, handler: bool, protected: bool) -> Pending:
        label = stmt.get("label")
        target = _Target(str(label) if label else None, index, is_loop=True)
        self.targets.append(target)
        if kind == "PLpgSQL_stmt_while":
            cond = _expr(stmt.get("cond")) or "NULL"
            enter: Pending = [(index, ((cond, True),))]
            leave: Pending = [(index, ((cond, False),))]
        elif kind == "PLpgSQL_stmt_loop":
            enter, leave = [(index, ())], []  # only EXIT leaves a bare LOOP
        else:
            enter, leave = [(index, ())], [(index, ())]  # a FOR loop may run zero times
        end = self.body(stmt.get("body"), enter, handler, protected)
        self.connect(end, index)
        self.targets.pop()
        return leave + target.breaks

    def _exit(self, stmt: Mapping[str, Any], index: int) -> Pending:
        is_exit = bool(stmt.get("is_exit"))
        label = stmt.get("label")
        cond = _expr(stmt.get("cond"))
        taken: tuple[Literal, ...] = ((cond, True),) if cond else ()
        stays: Pending = [(index, ((cond, False),))] if cond else []
        for target in reversed(self.targets):
            if label is not None and target.label != str(label):
                continue
            if label is None and not target.is_loop:
                continue
            if not is_exit and not target.is_loop:
                continue
            if is_exit:
                target.breaks.append((index, taken))
            else:
                self.edges.append(Edge(index, target.head, taken))
            break
        return stays


# The graphs of the last few bodies asked for: every rule reads the graph of the function it looks at,
# one function after another. The body is kept with its graph, so its id cannot be reused meanwhile.
_RECENT: collections.OrderedDict[int, tuple[Any, ControlFlowGraph | None]] = collections.OrderedDict()
_RECENT_SIZE = 32
# Inside ``graphs_kept()``: every graph built, since each rule reads every function's graph in turn.
_KEPT: list[dict[int, tuple[Any, ControlFlowGraph | None]]] = []


@contextlib.contextmanager
def graphs_kept() -> Iterator[None]:
    """Keep every graph built inside the block (one per body, however many rules read it); freed at the end."""
    if _KEPT:
        yield
        return
    _KEPT.append({})
    try:
        yield
    finally:
        _KEPT.clear()


def build_cfg(plpgsql: Any) -> ControlFlowGraph | None:
    """The graph of a function's body (``Function.plpgsql``); None when there is no body to read."""
    key = id(plpgsql)
    kept = _KEPT[0] if _KEPT else None
    hit = kept.get(key) if kept is not None else _RECENT.get(key)
    if hit is not None and hit[0] is plpgsql:
        if kept is None:
            _RECENT.move_to_end(key)
        return hit[1]
    graph = _build_cfg(plpgsql)
    if kept is not None:
        kept[key] = (plpgsql, graph)
        return graph
    _RECENT[key] = (plpgsql, graph)
    if len(_RECENT) > _RECENT_SIZE:
        _RECENT.popitem(last=False)
    return graph


def _build_cfg(plpgsql: Any) -> ControlFlowGraph | None:
    root = function_root(plpgsql)
    if root is None:
        return None
    builder = _Builder()
    entry = builder.node("entry", 0)
    action = root.get("action")
    end = builder.body([action] if action else [], [(entry, ())], False, False)
    exit_index = builder.node("exit", 0)
    # Falling off the end of a trigger function is an error at run time; the path still ends.
    builder.connect(end, exit_index)
    for index in builder.returns:
        builder.edges.append(Edge(index, exit_index, ()))
    return ControlFlowGraph(tuple(builder.nodes), tuple(builder.edges))
