"""The walk for notify calls skips constants and references, and still meets every call, in source order."""

from __future__ import annotations

from pathlib import Path

import pglast
from pglast import ast

from _corpus import corpus_root
from bcastsim.sqlmodel._pgnodes import iter_branch_nodes, iter_nodes

ROOT = Path(__file__).resolve().parents[1]


def _statements() -> list[object]:
    paths = sorted((ROOT / "tests" / "fixtures").rglob("*.sql")) + sorted((ROOT / "sql").rglob("*.sql"))
    corpus = corpus_root()
    paths += sorted(corpus.rglob("*.sql")) if corpus is not None else []
    found: list[object] = []
    for path in paths:
        try:
            found.extend(raw.stmt for raw in pglast.parse_sql(path.read_text()))
        except Exception:  # a fixture that is not SQL on its own (psql, broken on purpose)
            continue
    return found


def test_every_call_is_met_in_the_same_order() -> None:
    """On every statement of the fixtures, the seed and the corpus, both walks meet the same calls in the same order."""
    statements = _statements()
    calls = 0
    for statement in statements:
        every = [node for node in iter_nodes(statement) if isinstance(node, ast.FuncCall)]
        branches = [node for node in iter_branch_nodes(statement) if isinstance(node, ast.FuncCall)]
        assert [id(node) for node in branches] == [id(node) for node in every]
        calls += len(every)
    # Without the corpus beside the checkout, the fixtures and the seed alone hold some sixty calls.
    assert calls > (100 if corpus_root() is not None else 50)


def test_constants_and_references_are_passed_over() -> None:
    """A call's constant and column arguments, and their names, are not met."""
    statement = pglast.parse_sql("SELECT pg_notify('c', json_build_object('id', NEW.id)::text)")[0].stmt
    met = {type(node).__name__ for node in iter_branch_nodes(statement)}
    assert met == {"SelectStmt", "ResTarget", "FuncCall", "TypeCast", "TypeName"}
