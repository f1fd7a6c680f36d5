"""Notify-site guards and CHECKs decided together by a solver (z3).

A site is sent under conditions on ``NEW``/``OLD`` (``NEW.streak >= 3 AND NEW.streak >
OLD.streak``); the rows it sees must pass the table's CHECKs, ``NOT NULL`` and the column
types. Both are read as formulas (:mod:`bcastsim.strategies._checks`) and handed to z3:

- a site whose conditions no row can meet is **unreachable**, and the unsatisfiable core names
  the CHECKs and conditions that exclude each other (``NEW.points > 1000`` against
  ``points BETWEEN 0 AND 1000``);
- for every UPDATE site, and for the negation of its conditions, the solver gives an OLD row and a
  NEW row over the columns the conditions read (closed over the CHECKs that tie them to other
  columns): the strategies set a row to the OLD values, then update it to the NEW ones.

SQL NULL is three-valued: a condition holds only when true, a CHECK passes unless false. A
condition or CHECK of a shape the solver does not read (a function call, a string ordering) is
left out, so a site is called unreachable only when what *is* read already rules it out.
Keys, unique and foreign-key columns are never set by an UPDATE: their NEW equals their OLD.
Solved once per schema; the solver is deterministic, so one schema gives one set of plans.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import attrs
import pglast
import z3

from bcastsim._sqllogic import (
    Operand,
    Tri,
    tri_and,
    tri_compare,
    tri_distinct,
    tri_in,
    tri_is_null,
    tri_not,
    tri_or,
    tri_relation,
)
from bcastsim.db import Schema
from bcastsim.strategies._checks import Formula, _columns, _formula, row_checks
from bcastsim.strategies._domains import Domain, column_domain

__all__ = ["GuardPlan", "Reachability", "reachability"]

_EPOCH = dt.datetime(2025, 8, 17, 19, 0, tzinfo=dt.UTC)
_INTS = ("integer", "bigint", "smallint")
_REALS = ("numeric", "real", "double precision")
_TIMES = ("timestamptz", "timestamp")
_TEXTS = ("text", "varchar")
_RECORD = re.compile(r"'(?:[^']|'')*'|\b(NEW|OLD)\.(\w+)\b|\b(TG_OP)\b", re.IGNORECASE)
_cache: dict[int, tuple[Schema, Reachability]] = {}


class _Unread(Exception):
    """A formula or constant the solver does not read: the condition is left out."""


@attrs.frozen
class GuardPlan:
    """An UPDATE of ``table`` that meets (or, with ``negated``, misses) a site's conditions.

    Set the row's ``old`` columns first (unless it already holds them), then update it to ``new``.
    """

    table: str
    site: str
    negated: bool
    old: tuple[tuple[str, Any], ...]
    new: tuple[tuple[str, Any], ...]


@attrs.frozen
class Reachability:
    """Per site: why no row can reach it (absent when one can); UPDATE plans per table."""

    unreachable: dict[str, str]
    plans: dict[str, tuple[GuardPlan, ...]]


def reachability(schema: Schema) -> Reachability:
    """Decide every site of ``schema`` (once per schema)."""
    cached = _cache.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    unreachable: dict[str, str] = {}
    plans: dict[str, list[GuardPlan]] = {}
    for site in schema.notify_sites:
        tables = [t for t in site.tables if t in schema.tables and "." not in t]
        if not tables:
            continue
        reasons: list[str] = []
        reached = False
        for table in tables:
            for operation, conditions in site.emitted_when:
                problem = _Problem(schema, table, operation)
                guard = problem.conditions(conditions)
                result, core = problem.decide(guard)
                if result != z3.unsat:
                    reached = True
                    if operation == "UPDATE" and guard:
                        plans.setdefault(table, []).extend(problem.plans(site.key, guard))
                else:
                    reasons.append(f"on {operation} of {table}: " + " contradicts ".join(_split(core)))
        if not reached and reasons:
            unreachable[site.key] = "; ".join(reasons)
    result = Reachability(unreachable, {table: tuple(found) for table, found in sorted(plans.items())})
    _cache[id(schema)] = (schema, result)
    return result


def _split(core: list[str]) -> list[str]:
    conditions = [c for c in core if not c.startswith("CHECK")]
    checks = list(dict.fromkeys(c for c in core if c.startswith("CHECK")))
    if conditions and checks:
        return [" AND ".join(conditions), " AND ".join(checks)]
    return [" AND ".join(core) or "the column types"]


def _named(text: str) -> str:
    """``NEW.col`` as one quoted identifier ``"new.col"`` (string literals left alone); TG_OP as a column."""

    def swap(match: re.Match[str]) -> str:
        if match.group(3):
            return '"tg_op"'
        if match.group(1):
            return f'"{match.group(1).lower()}.{match.group(2).lower()}"'
        return match.group(0)

    return _RECORD.sub(swap, text)


def _condition(text: str) -> Formula | None:
    if text.startswith(("UPDATE OF ", "EXCEPTION WHEN")) or "loop at line" in text:
        return None
    expression = text.removeprefix("CASE WHEN ").partition(" AND UPDATE OF ")[0]
    try:
        parsed: Any = pglast.parse_sql(f"SELECT {_named(expression)}")
    except Exception:  # a marker, not an expression
        return None
    return _formula(parsed[0].stmt.targetList[0].val)


class _Problem:
    """The rows one operation on one table sees, as z3 variables, with their CHECKs and types."""

    def __init__(self, schema: Schema, table: str, operation: str) -> None:
        self.schema = schema
        self.table = table
        self.operation = operation
        self.definition = schema.tables[table]
        self.records = {"INSERT": ("new",), "DELETE": ("old",)}.get(operation, ("old", "new"))
        self.domains = {c.name: column_domain(schema, table, c.name) for c in self.definition.columns}
        self.solver = z3.Solver()
        self.solver.set("random_seed", 0)
        self.values: dict[str, Any] = {}
        self.nulls: dict[str, Any] = {}
        self.labels: dict[str, str] = {}
        self.checks = row_checks(schema, table)
        fixed = {*self.definition.primary_key, *(c for key in self.definition.unique for c in key)}
        fixed |= {c for fk in self.definition.foreign_keys for c in fk.columns}
        self.fixed = fixed
        for record in self.records:
            for check in self.checks:
                try:
                    rule = z3.Not(self._false(check.formula, record))
                except _Unread:
                    continue
                self._track(rule, f"CHECK {check.name} ({check.sql})")
        if len(self.records) == 2:
            for column in sorted(fixed):
                if column in self.domains and self._sort(column) is not None:
                    self.solver.add(self._var("old." + column) == self._var("new." + column))
                    self.solver.add(self._null("old." + column) == self._null("new." + column))

    def _track(self, rule: Any, label: str) -> None:
        literal = z3.Bool(f"a{len(self.labels)}")
        self.labels[str(literal)] = label
        self.solver.assert_and_track(rule, literal)

    # variables -------------------------------------------------------------------------------

    def _split_name(self, name: str, record: str) -> tuple[str, str]:
        if "." in name:
            which, column = name.split(".", 1)
            if which in ("new", "old"):
                return which, column
            raise _Unread(name)
        return record, name

    def _sort(self, column: str) -> Any:
        kind = self.domains[column].type_name
        if kind in _INTS or kind in _TIMES:
            return z3.IntSort()
        if kind in _REALS:
            return z3.RealSort()
        if kind == "boolean":
            return z3.BoolSort()
        if kind in _TEXTS or self.domains[column].allowed:
            return z3.StringSort()
        return None

    def _var(self, name: str) -> Any:
        if name not in self.values:
            column = name.split(".", 1)[1]
            if column not in self.domains:
                raise _Unread(name)
            sort = self._sort(column)
            if sort is None:
                raise _Unread(name)
            self.values[name] = z3.Const(name, sort)
            self.nulls[name] = z3.Bool(f"{name}?null")
            if name.split(".", 1)[0] in self.records:
                self._constrain(name, column)
            else:  # OLD on INSERT, NEW on DELETE: every column reads NULL (PostgreSQL 11+)
                self.solver.add(self.nulls[name])
        return self.values[name]

    def _null(self, name: str) -> Any:
        self._var(name)
        return self.nulls[name]

    def _constrain(self, name: str, column: str) -> None:
        """The column's type, NOT NULL and single-column bounds, on one record's copy."""
        value, null = self.values[name], self.nulls[name]
        definition = self.definition.column(column)
        if definition is not None and definition.not_null:
            self.solver.add(z3.Not(null))
        domain: Domain = self.domains[column]
        rules = []
        if domain.allowed:
            rules.append(z3.Or(*[value == self._constant(v, column) for v in domain.allowed]))
        rules += [value != self._constant(v, column) for v in domain.excluded if _readable(v, domain)]
        kind = domain.type_name
        if kind in _INTS or kind in _REALS:

            def number(bound: Decimal) -> Any:
                return z3.IntVal(int(bound)) if kind in _INTS else z3.RealVal(str(bound))

            if domain.low is not None:
                rules.append(value > number(domain.low) if domain.low_strict else value >= number(domain.low))
            if domain.high is not None:
                rules.append(value < number(domain.high) if domain.high_strict else value <= number(domain.high))
            if kind == "smallint":
                rules.append(z3.And(value >= -(2**15), value < 2**15))
            elif kind == "integer":
                rules.append(z3.And(value >= -(2**31), value < 2**31))
        if z3.is_string(value):
            limit = domain.max_length
            if kind == "varchar" and domain.modifiers:
                limit = domain.modifiers[0] if limit is None else min(limit, domain.modifiers[0])
            if limit is not None:
                rules.append(z3.Length(value) <= limit)
            rules.append(z3.Length(value) >= domain.min_length)
        if rules:
            own = [f"CHECK {c.name} ({c.sql})" for c in self.checks if c.columns == {column}]
            label = " AND ".join(own) or f"CHECK the type of {self.table}.{column} ({domain.type_name})"
            self._track(z3.Or(null, z3.And(*rules)), label)

    def _constant(self, value: Any, column: str) -> Any:
        kind = self.domains[column].type_name
        if kind in _TIMES:
            if isinstance(value, dt.datetime):
                moment = value
            elif isinstance(value, str):
                try:
                    moment = dt.datetime.fromisoformat(value)
                except ValueError as error:
                    raise _Unread(value) from error
            else:
                raise _Unread(str(value))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
            return z3.IntVal(int((moment - _EPOCH).total_seconds()))
        if kind == "boolean":
            if isinstance(value, bool):
                return z3.BoolVal(value)
            if isinstance(value, str) and value.lower() in {"t", "f", "true", "false"}:
                return z3.BoolVal(value.lower().startswith("t"))
            raise _Unread(str(value))
        if kind in _INTS and isinstance(value, int) and not isinstance(value, bool):
            return z3.IntVal(value)
        if kind in _INTS and isinstance(value, Decimal):
            return z3.RealVal(str(value))
        if kind in _REALS and isinstance(value, int | Decimal) and not isinstance(value, bool):
            return z3.RealVal(str(value))
        if isinstance(value, str) and self._sort(column) == z3.StringSort():
            return z3.StringVal(value)
        raise _Unread(str(value))

    # three-valued formulas ------------------------------------------------------------------

    def _operand(self, operand: Formula, record: str, other: Formula) -> tuple[Any, Any]:
        """(value, is-null) of a side; a constant takes the type of the column on the other side."""
        if operand[0] == "col":
            name = ".".join(self._split_name(operand[1], record))
            return self._var(name), self._null(name)
        if other[0] != "col":
            raise _Unread(str(operand))
        column = self._split_name(other[1], record)[1]
        if column not in self.domains:
            raise _Unread(column)
        return self._constant(operand[1], column), z3.BoolVal(False)

    def _compare(self, op: str, a: Any, b: Any) -> Any:
        if (z3.is_string(a) or z3.is_bool(a)) and op not in ("=", "<>"):
            raise _Unread(op)
        return tri_relation(op, a, b)

    def _column(self, column: str, record: str) -> Operand:
        name = ".".join(self._split_name(column, record))
        return z3.Not(self._null(name)), self._var(name)

    def _tri(self, formula: Formula, record: str) -> Tri:
        """The formula as SQL judges it (``sqlmodel._z3``: true, false, or neither for NULL)."""
        kind = formula[0]
        if kind == "and":
            return tri_and([self._tri(part, record) for part in formula[1]])
        if kind == "or":
            return tri_or([self._tri(part, record) for part in formula[1]])
        if kind == "not":
            return tri_not(self._tri(formula[1], record))
        if kind == "null":
            return tri_is_null(self._column(formula[1], record))
        if kind == "in":
            column = self._split_name(formula[1], record)[1]
            return tri_in(self._column(formula[1], record), [self._constant(v, column) for v in formula[2]])
        if kind == "count":
            names = [".".join(self._split_name(c, record)) for c in formula[1]]
            total = z3.Sum(*[z3.If(self._null(n), 0, 1) for n in names]) if names else z3.IntVal(0)
            holds = self._compare(formula[2], total, z3.IntVal(formula[3]))
            return holds, z3.Not(holds)
        op, left, right = formula[1], formula[2], formula[3]
        (a, a_null), (b, b_null) = self._operand(left, record, right), self._operand(right, record, left)
        sides = (z3.Not(a_null), a), (z3.Not(b_null), b)
        if op in ("distinct", "same"):
            differ = tri_distinct(*sides)
            return differ if op == "distinct" else tri_not(differ)
        self._compare(op, a, b)  # refuses what the solver does not order
        return tri_compare(op, *sides)

    def _true(self, formula: Formula, record: str) -> Any:
        return self._tri(formula, record)[0]

    def _false(self, formula: Formula, record: str) -> Any:
        return self._tri(formula, record)[1]

    # decisions ------------------------------------------------------------------------------

    def conditions(self, texts: tuple[str, ...]) -> list[tuple[str, Formula]]:
        """The conditions the solver reads (TG_OP resolved), as (text, formula)."""
        found = []
        for text in texts:
            formula = _condition(text)
            if formula is None:
                continue
            found.append((text, formula))
        return found

    def _guard(self, formula: Formula) -> Any:
        """A guard holds when true; ``tg_op`` is the operation."""
        if "tg_op" in _columns(formula):
            resolved = _resolve_op(formula, self.operation)
            if resolved is None:
                raise _Unread("TG_OP")
            formula = resolved
        return self._true(formula, "new")

    def decide(self, guard: list[tuple[str, Formula]]) -> tuple[Any, list[str]]:
        assumptions = []
        for text, formula in guard:
            try:
                rule = self._guard(formula)
            except _Unread:
                continue
            literal = z3.Bool(f"g{len(self.labels)}")
            self.labels[str(literal)] = text
            self.solver.add(z3.Implies(literal, rule))
            assumptions.append(literal)
        result = self.solver.check(*assumptions)
        if result == z3.unsat:
            return result, [self.labels[str(literal)] for literal in self.solver.unsat_core()]
        return result, []

    def plans(self, site: str, guard: list[tuple[str, Formula]]) -> list[GuardPlan]:
        """An UPDATE plan meeting the guard, and one missing it (when the solver finds them)."""
        rules = []
        for _, formula in guard:
            try:
                rules.append(self._guard(formula))
            except _Unread:
                continue
        if not rules:
            return []
        found = []
        for negated, goal in ((False, z3.And(*rules)), (True, z3.Not(z3.And(*rules)))):
            self.solver.push()
            self.solver.add(goal)
            if self.solver.check() == z3.sat:
                plan = self._plan(site, negated, self.solver.model(), guard)
                if plan is not None:
                    found.append(plan)
            self.solver.pop()
        return found

    def _plan(self, site: str, negated: bool, model: Any, guard: list[tuple[str, Formula]]) -> GuardPlan | None:
        columns = {c.split(".", 1)[-1] for _, formula in guard for c in _columns(formula)} & set(self.domains)
        # Close over the CHECKs that tie a solved column to others: they move together.
        changed = True
        while changed:
            changed = False
            for check in self.checks:
                if check.columns & columns and not check.columns <= columns:
                    columns |= check.columns & set(self.domains)
                    changed = True
        columns -= self.fixed
        old: dict[str, Any] = {}
        new: dict[str, Any] = {}
        for column in sorted(columns):
            if self._sort(column) is None:
                return None
            for record, target in (("old", old), ("new", new)):
                name = f"{record}.{column}"
                self._var(name)
                value = self._value(model, name, column)
                if value is _NO_VALUE:
                    return None
                target[column] = value
        if not new:
            return None
        return GuardPlan(self.table, site, negated, tuple(old.items()), tuple(new.items()))

    def _value(self, model: Any, name: str, column: str) -> Any:
        if z3.is_true(model.eval(self.nulls[name], model_completion=True)):
            return None
        value = model.eval(self.values[name], model_completion=True)
        kind = self.domains[column].type_name
        if z3.is_string_value(value):
            text = value.as_string()
            return text if "\x00" not in text else _NO_VALUE
        if z3.is_true(value) or z3.is_false(value):
            return z3.is_true(value)
        if z3.is_int_value(value):
            number = value.as_long()
            if kind in _TIMES:
                moment = _EPOCH + dt.timedelta(seconds=number)
                return moment if kind == "timestamptz" else moment.replace(tzinfo=None)
            return Decimal(number) if kind in _REALS else number
        if z3.is_rational_value(value):
            fraction = Decimal(value.numerator_as_long()) / Decimal(value.denominator_as_long())
            return fraction.quantize(Decimal("0.01")) if kind == "numeric" else fraction
        return _NO_VALUE


_NO_VALUE: Any = object()


def _readable(value: Any, domain: Domain) -> bool:
    return not (domain.type_name in _TIMES and not isinstance(value, str | dt.datetime))


def _resolve_op(formula: Formula, operation: str) -> Formula | None:
    """Replace ``tg_op = 'X'`` by true or false for ``operation`` (None when TG_OP is used otherwise)."""
    kind = formula[0]
    if kind in ("and", "or"):
        parts = [_resolve_op(part, operation) for part in formula[1]]
        if any(part is None for part in parts):
            return None
        return (kind, tuple(p for p in parts if p is not None))
    if kind == "not":
        inner = _resolve_op(formula[1], operation)
        return None if inner is None else ("not", inner)
    if kind == "cmp" and formula[1] in ("=", "<>") and ("col", "tg_op") in formula[2:]:
        other = formula[3] if formula[2] == ("col", "tg_op") else formula[2]
        if other[0] != "const":
            return None
        equal = str(other[1]).upper() == operation
        return ("count", (), "=" if equal == (formula[1] == "=") else "<>", 0)
    if kind == "in" and formula[1] == "tg_op":
        return ("count", (), "=" if operation in {str(v).upper() for v in formula[2]} else "<>", 0)
    return None if "tg_op" in _columns(formula) else formula
