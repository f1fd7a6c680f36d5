"""pglast's trees built without its per-attribute checks are the trees it builds with them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pglast
import pytest
from pglast import ast

from bcastsim.sqlmodel import parser_nodes_trusted

ROOT = Path(__file__).resolve().parents[1]
REALWORLD = ROOT.parent / "shared" / "realworld"


def _same(left: Any, right: Any) -> bool:
    """Equal types and values all the way down, locations included (pglast's own == ignores them)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, ast.Node):
        return all(_same(getattr(left, slot, None), getattr(right, slot, None)) for slot in left.__slots__)
    if isinstance(left, tuple | list):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


def _sql_files() -> list[Path]:
    files = sorted((ROOT / "sql").rglob("*.sql")) + sorted((ROOT / "tests" / "fixtures").rglob("*.sql"))
    return files + (sorted(REALWORLD.rglob("*.sql")) if REALWORLD.is_dir() else [])


def test_trees_match_pglast_on_every_sql_file() -> None:
    """Every fixture, seed and real-world file parses to the same tree, types and locations included."""
    compared = 0
    for path in _sql_files():
        text = path.read_text(encoding="utf-8")
        try:
            checked = pglast.parse_sql(text)
        except pglast.parser.ParseError:
            continue
        with parser_nodes_trusted():
            trusted = pglast.parse_sql(text)
        assert _same(checked, trusted), path
        compared += 1
    assert compared > 100


def test_boolean_constants_stay_booleans() -> None:
    """An A_Const's boolean, which pglast hands over as an int, is still made a bool."""
    with parser_nodes_trusted():
        tree = pglast.parse_sql("SELECT true, false")
    values = [target.val.val.boolval for target in tree[0].stmt.targetList]
    assert values == [True, False]
    assert all(type(value) is bool for value in values)


def _fail_inside_nested_blocks() -> None:
    with parser_nodes_trusted():
        with parser_nodes_trusted():
            pass
        assert ast.Node.__dict__["__setattr__"] is object.__setattr__
        raise RuntimeError


def test_checks_return_after_the_block_and_after_an_error_in_it() -> None:
    """Outside the block (also when it ended by an exception, or a nested block ended) pglast validates again."""
    with pytest.raises(RuntimeError):
        _fail_inside_nested_blocks()
    assert "__setattr__" not in ast.Boolean.__dict__
    with pytest.raises(ValueError, match="Bad value"):
        ast.String(sval=3)  # type: ignore[arg-type]
