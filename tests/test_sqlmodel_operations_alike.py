"""Trigger operations a body cannot tell apart are evaluated once, with what evaluating each gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcastsim import InputError
from bcastsim.sqlmodel import ColumnRef, PayloadField, load_catalog, load_catalog_text
from bcastsim.sqlmodel._evaluate import Evaluator
from bcastsim.sqlmodel._function import FunctionContext
from bcastsim.sqlmodel._lineage import RowContext, merge_fields

ROOT = Path(__file__).resolve().parents[1]
REALWORLD = ROOT.parent / "shared" / "realworld"

_TABLE = "CREATE TABLE items (id uuid PRIMARY KEY, code text NOT NULL);\n"


def _sql_files() -> list[Path]:
    files = sorted((ROOT / "sql").rglob("*.sql")) + sorted((ROOT / "tests" / "fixtures").rglob("*.sql"))
    return files + (sorted(REALWORLD.rglob("*.sql")) if REALWORLD.is_dir() else [])


def _each_operation_apart(self: FunctionContext, ctx: RowContext) -> RowContext:
    return ctx


def test_sites_match_evaluating_every_operation(monkeypatch: pytest.MonkeyPatch) -> None:
    """On every seed, fixture and real-world file, sites and diagnostics are those of one evaluation per operation."""
    compared = shared = 0
    for path in _sql_files():
        try:
            together = load_catalog(path)
        except InputError:
            continue
        with monkeypatch.context() as patch:
            patch.setattr(FunctionContext, "_evaluation_key", _each_operation_apart)
            apart = load_catalog(path)
        assert together.notify_sites == apart.notify_sites, path
        assert together.diagnostics == apart.diagnostics, path
        compared += 1
        shared += sum(1 for site in together.notify_sites if {"INSERT", "UPDATE"} <= set(site.operations))
    assert compared > 100
    assert shared > 20  # sites where the sharing could apply were among them


def _site_fields(body: str, events: str = "INSERT OR UPDATE") -> dict[str, PayloadField]:
    sql = (
        _TABLE
        + f"CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n{body}\nRETURN NEW;\nEND;\n$$;\n"
        + f"CREATE TRIGGER t AFTER {events} ON items FOR EACH ROW EXECUTE FUNCTION f();\n"
    )
    (site,) = load_catalog_text(sql).notify_sites
    return {field.key: field for field in site.payload or ()}


def test_evaluated_once_when_neither_old_nor_tg_op_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A payload of NEW's columns under INSERT OR UPDATE is built once; naming OLD or TG_OP builds it per operation."""
    evaluated: list[str | None] = []
    original = Evaluator.object_fields

    def counting(self: Evaluator, call: Any, env: Any, ctx: RowContext, *rest: Any) -> Any:
        evaluated.append(ctx.operation)
        return original(self, call, env, ctx, *rest)

    monkeypatch.setattr(Evaluator, "object_fields", counting)
    _site_fields("PERFORM pg_notify('c', json_build_object('id', NEW.id, 'code', NEW.code)::text);")
    assert evaluated == ["INSERT"]
    evaluated.clear()
    _site_fields("PERFORM pg_notify('c', json_build_object('id', NEW.id, 'op', TG_OP)::text);")
    assert evaluated == ["INSERT", "UPDATE"]
    evaluated.clear()
    _site_fields("PERFORM pg_notify('c', json_build_object('id', NEW.id, 'was', Old.code)::text);")
    assert evaluated == ["INSERT", "UPDATE"]


def test_old_and_tg_op_keep_their_operations() -> None:
    """OLD is NULL under INSERT and TG_OP takes each operation's name: both still show in the merged payload."""
    fields = _site_fields("PERFORM pg_notify('c', json_build_object('op', TG_OP, 'was', OLD.code)::text);")
    assert fields["op"].values == ("INSERT", "UPDATE")
    assert fields["was"].nullable
    assert fields["was"].nullable_reason == "OLD is NULL in an INSERT trigger"
    # OLD is NULL under INSERT and a row under UPDATE: the row's columns are the payload's keys.
    fields = _site_fields("PERFORM pg_notify('c', row_to_json(OLD)::text);")
    assert list(fields) == ["id", "code"]
    # Not naming them, the payload is the same under both: NEW.code is never NULL.
    fields = _site_fields("PERFORM pg_notify('c', json_build_object('code', NEW.code)::text);")
    assert not fields["code"].nullable


_TEXTS = st.sampled_from(["", "a", "b", "text", "reason"])
_REFS = st.builds(ColumnRef, st.sampled_from(["items", "orders"]), st.sampled_from(["id", "code"]))
_FIELDS = st.builds(
    PayloadField,
    key=st.sampled_from(["id", "code", "type"]),
    expression_sql=st.just("NEW.id"),
    sources=st.lists(_REFS, max_size=3).map(tuple),
    sql_type=st.none() | _TEXTS,
    nullable=st.booleans(),
    max_bytes=st.none() | st.integers(min_value=0, max_value=100),
    nullable_reason=st.none() | _TEXTS,
    unbounded_reason=st.none() | _TEXTS,
    values=st.none() | st.lists(_TEXTS, max_size=3).map(tuple),
    traced=st.booleans(),
)


@given(st.lists(_FIELDS, max_size=4))
def test_one_evaluation_merges_as_two_equal_ones(fields: list[PayloadField]) -> None:
    """One evaluation merged with itself is what it is merged with an equal copy, duplicates and blanks included."""
    assert merge_fields([fields, fields]) == merge_fields([fields, list(fields)])
    assert merge_fields([fields]) == merge_fields([fields, list(fields)])
