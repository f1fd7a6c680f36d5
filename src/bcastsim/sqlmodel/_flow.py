"""What reaches a statement in a PL/pgSQL body: definitions of variables, scopes, facts from conditions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import pglast
from pglast import ast
from pglast.enums import A_Expr_Kind, BoolExprType, NullTestType

from bcastsim.sqlmodel._lineage import (
    Lookup,
    Value,
)
from bcastsim.sqlmodel._pgnodes import ALL_OPERATIONS, Expr, is_tg_op, string_const
from bcastsim.sqlmodel._types import (
    Transport,
)


@attrs.frozen(eq=False)
class DefExpr:
    expr: Expr
    env: dict[str, tuple[Any, ...]]
    in_loop: bool


@attrs.frozen(eq=False)
class DefLookup:
    lookup: Lookup
    index: int | None  # None: the whole row goes into a record variable
    strict: bool
    in_loop: bool
    env: dict[str, tuple[Any, ...]]


@attrs.frozen(eq=False)
class DefNull:
    reason: str


@attrs.frozen(eq=False)
class DefNotNull:
    """Definitions known, on this path, not to give NULL (after ``IF x IS NULL THEN RETURN``)."""

    inner: tuple[Any, ...]


@attrs.frozen(eq=False)
class DefValue:
    value: Value
    in_loop: bool = False


@attrs.frozen(eq=False)
class DefUnknown:
    reason: str
    in_loop: bool = False


Env = dict[str, tuple[Any, ...]]

# Pseudo-variables kept in an environment: the path ended (RETURN, RAISE EXCEPTION, EXIT),
# and the lookups the last SELECT … INTO made (what FOUND is about).
UNREACHABLE = "\x00unreachable"
FOUND = "\x00found"
# The scope a walk ended in: operations and guards narrowed by branches that returned early
# (after ``IF TG_OP = 'DELETE' THEN … RETURN OLD; END IF`` the rest runs only on INSERT/UPDATE).
SCOPE = "\x00scope"


@attrs.frozen
class Facts:
    """What a condition being true (or false) says: variables that are not NULL, FOUND is true."""

    not_null: frozenset[str] = frozenset()
    found: bool = False

    def __or__(self, other: Facts) -> Facts:
        return Facts(self.not_null | other.not_null, self.found or other.found)


@attrs.frozen
class Scope:
    """Where a statement runs: the trigger operations that reach it, its guards, inside a loop or not."""

    operations: frozenset[str]
    guards: tuple[str, ...]
    in_loop: bool

    def add(self, guard: str) -> Scope:
        return Scope(self.operations, (*self.guards, guard), self.in_loop)


def scope_after(env: Env, scope: Scope) -> Scope:
    """The scope a statement leaves behind: the one its walk narrowed to, else the one it ran in."""
    recorded = env.get(SCOPE)
    return recorded[0] if recorded else scope


def join_scopes(outer: Scope, branches: Sequence[tuple[Env, Scope]]) -> Scope:
    """The scope after a branching statement, given each branch's end environment and start scope.

    Operations are those of the branches that fall through. When a branch returned early (or
    narrowed inside), what follows runs only where a live branch's path condition held: that
    condition becomes a guard, leaving out parts decided by TG_OP alone (the operations say those).
    """
    live = [(scope_after(env, start), start) for env, start in branches if UNREACHABLE not in env]
    if not live:
        return outer
    operations = frozenset().union(*(end.operations for end, _ in live))
    narrowed = len(live) < len(branches) or any(end.guards != start.guards for end, start in live)
    if not narrowed:
        return Scope(outer.operations & operations, outer.guards, outer.in_loop)
    paths = []
    for end, _ in live:
        extra = tuple(g for g in end.guards[len(outer.guards) :] if not decided_by_tg_op(g, operations))
        paths.append(extra)
    if any(not path for path in paths):
        return Scope(outer.operations & operations, outer.guards, outer.in_loop)
    if len(paths) == 1:
        return Scope(outer.operations & operations, (*outer.guards, *paths[0]), outer.in_loop)
    either = " OR ".join("(" + " AND ".join(path) + ")" for path in dict.fromkeys(paths))
    return Scope(outer.operations & operations, (*outer.guards, either), outer.in_loop)


def decided_by_tg_op(guard: str, operations: frozenset[str]) -> bool:
    """Whether TG_OP alone makes a guard hold under every one of ``operations``, whatever else it tests."""
    try:
        parsed: Any = pglast.parse_sql(f"SELECT {guard}")
        node = parsed[0].stmt.targetList[0].val
    except Exception:  # guards such as loop markers are not SQL
        return False
    true, false = tg_op_sets(node)
    return operations <= true and not (operations & false)


def merge_envs(envs: Sequence[Env]) -> Env:
    """The definitions reaching a join point; the narrowed scope is the caller's to merge."""
    live = [env for env in envs if UNREACHABLE not in env]
    if not live:
        return {UNREACHABLE: ()}
    merged: dict[str, dict[int, Any]] = {}
    for env in live:
        for name, defs in env.items():
            if name == SCOPE:
                continue
            bucket = merged.setdefault(name, {})
            for definition in defs:
                bucket.setdefault(id(definition), definition)
    return {name: tuple(bucket.values()) for name, bucket in merged.items()}


@attrs.frozen
class Variable:
    name: str
    type_name: str | None
    modifiers: tuple[int, ...]
    row_table: str | None  # %ROWTYPE / record variables filled from a table
    is_record: bool


@attrs.define
class Draft:
    """A notify call found during the walk, evaluated once the walk is over."""

    call: Any
    expr: Expr
    env: Env
    operations: frozenset[str]
    guards: tuple[str, ...]
    in_loop: bool
    transport: Transport
    notify: Any = None  # ast.NotifyStmt for NOTIFY


NO_VAR = Variable("", None, (), None, False)


def tg_op_sets(node: Any) -> tuple[frozenset[str], frozenset[str]]:
    """Operations under which a condition can be true, and under which it can be false."""
    everything = frozenset(ALL_OPERATIONS)
    if node is None:
        return everything, everything
    if isinstance(node, ast.BoolExpr):
        parts = [tg_op_sets(arg) for arg in node.args or ()]
        if node.boolop == BoolExprType.NOT_EXPR and parts:
            return parts[0][1], parts[0][0]
        if node.boolop == BoolExprType.AND_EXPR:
            true = everything
            false: frozenset[str] = frozenset()
            for t, f in parts:
                true &= t
                false |= f
            return true, false
        if node.boolop == BoolExprType.OR_EXPR:
            true = frozenset()
            false = everything
            for t, f in parts:
                true |= t
                false &= f
            return true, false
    if isinstance(node, ast.A_Expr) and is_tg_op(node.lexpr):
        names = [n.sval for n in node.name or () if isinstance(n, ast.String)]
        operator = names[-1] if names else ""
        if node.kind == A_Expr_Kind.AEXPR_OP and operator in {"=", "<>", "!="}:
            value = string_const(node.rexpr)
            if value is not None:
                matched = frozenset({value.upper()}) & everything
                if operator == "=":
                    return matched, everything - matched
                return everything - matched, matched
        if node.kind == A_Expr_Kind.AEXPR_IN and isinstance(node.rexpr, tuple | list):
            values = [string_const(item) for item in node.rexpr]
            if all(v is not None for v in values):
                matched = frozenset(v.upper() for v in values if v is not None) & everything
                if operator == "=":
                    return matched, everything - matched
                return everything - matched, matched
    return everything, everything


def null_facts(node: Any) -> tuple[Facts, Facts]:
    """What a condition tells when true and when false: ``x IS [NOT] NULL``, ``[NOT] FOUND``."""
    nothing = Facts()
    if isinstance(node, ast.NullTest) and isinstance(node.arg, ast.ColumnRef):
        fields = [f.sval.lower() for f in node.arg.fields or () if isinstance(f, ast.String) and f.sval]
        if len(fields) == 1:
            fact = Facts(not_null=frozenset(fields))
            if node.nulltesttype == NullTestType.IS_NOT_NULL:
                return fact, nothing
            return nothing, fact
    if isinstance(node, ast.ColumnRef):
        fields = [f.sval.lower() for f in node.fields or () if isinstance(f, ast.String) and f.sval]
        if fields == ["found"]:
            return Facts(found=True), nothing
    if isinstance(node, ast.BoolExpr):
        parts = [null_facts(arg) for arg in node.args or ()]
        if node.boolop == BoolExprType.NOT_EXPR and parts:
            return parts[0][1], parts[0][0]
        if node.boolop == BoolExprType.AND_EXPR:
            true = nothing
            for part_true, _ in parts:
                true = true | part_true
            return true, nothing
        if node.boolop == BoolExprType.OR_EXPR:
            false = nothing
            for _, part_false in parts:
                false = false | part_false
            return nothing, false
    return nothing, nothing
