"""The control-flow graph of a PL/pgSQL body: branches, early RETURN, CASE, loops, handlers, per-path operations."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcastsim.review import check
from bcastsim.sqlmodel import Catalog, ControlFlowGraph, PathFacts, build_cfg, load_catalog

ROOT = Path(__file__).resolve().parents[1]
PATHS = ROOT / "tests" / "fixtures" / "sql" / "cfg" / "paths.sql"
SHOP = ROOT / "examples" / "shop" / "db"
ROW_OPS = frozenset({"INSERT", "UPDATE", "DELETE"})


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog([PATHS])


def _facts_by_line(catalog: Catalog, name: str) -> dict[int, tuple[str, PathFacts]]:
    """Per file line, the statement kind there (the first one) and its facts."""
    function = catalog.functions[name]
    graph = build_cfg(function.plpgsql)
    assert isinstance(graph, ControlFlowGraph)
    facts = graph.facts(ROW_OPS)
    found: dict[int, tuple[str, PathFacts]] = {}
    for node in graph.statements:
        found.setdefault(function.file_line(node.lineno).line, (node.kind, facts[node.index]))
    return found


def test_early_return_removes_the_operation_from_what_follows(catalog: Catalog) -> None:
    """After IF TG_OP = 'DELETE' THEN … RETURN OLD; END IF, the rest runs on INSERT and UPDATE only."""
    facts = _facts_by_line(catalog, "early_return")
    assert facts[8][1].operations == {"DELETE"}
    assert facts[11][1].operations == {"INSERT", "UPDATE"}
    assert facts[11][1].new_is_null_on == frozenset()
    assert facts[8][1].new_is_null_on == {"DELETE"}


def test_final_return_is_reached_only_by_the_operations_no_branch_returned_for(catalog: Catalog) -> None:
    """The last RETURN OLD of a BEFORE trigger whose INSERT/UPDATE branch returned NEW runs on DELETE only."""
    facts = _facts_by_line(catalog, "before_branches")
    assert facts[20] == ("PLpgSQL_stmt_return", PathFacts(frozenset({"INSERT", "UPDATE"})))
    assert facts[22] == ("PLpgSQL_stmt_return", PathFacts(frozenset({"DELETE"})))


def test_simple_case_on_tg_op_narrows_like_if(catalog: Catalog) -> None:
    """CASE TG_OP WHEN 'DELETE' THEN RETURN OLD: the loop after it runs on INSERT and UPDATE only."""
    facts = _facts_by_line(catalog, "shapes")
    assert facts[32][1].operations == {"DELETE"}
    assert facts[36][1].operations == {"INSERT", "UPDATE"}


def test_loop_body_and_exit_and_continue_are_followed(catalog: Catalog) -> None:
    """The statement after EXIT WHEN/CONTINUE WHEN in a loop is reached, and so is the code after the loop."""
    facts = _facts_by_line(catalog, "shapes")
    assert facts[40][1].reachable
    assert facts[42][1].reachable


def test_statement_after_raise_exception_is_unreachable(catalog: Catalog) -> None:
    """RAISE EXCEPTION ends the path: the pg_notify after it is reached by no operation."""
    facts = _facts_by_line(catalog, "shapes")
    assert facts[43][0] == "PLpgSQL_stmt_raise"
    assert not facts[44][1].reachable


def test_dynamic_execute_is_marked_unknown(catalog: Catalog) -> None:
    """EXECUTE of a string built at run time is a node whose effect is unknown, not skipped."""
    function = catalog.functions["shapes"]
    graph = build_cfg(function.plpgsql)
    assert graph is not None
    unknown = [function.file_line(n.lineno).line for n in graph.statements if n.unknown]
    assert unknown == [46]


def test_exception_handler_is_reached_even_when_the_block_returns(catalog: Catalog) -> None:
    """A handler runs when any statement of its block fails, so it is reachable though the block ends in RETURN."""
    facts = _facts_by_line(catalog, "guarded")
    assert facts[57] == ("PLpgSQL_stmt_raise", PathFacts(ROW_OPS))
    assert facts[59][1].reachable


def test_no_event_mismatch_or_skipped_row_after_an_early_return() -> None:
    """Reads of NEW after the DELETE branch returned, and RETURN OLD reached on DELETE only, are not findings."""
    rules = {entry.finding.rule for entry in check([PATHS]).entries}
    assert "trigger-event-mismatch" not in rules
    assert "before-trigger-skips-row" not in rules


def test_event_mismatch_still_found_where_delete_reaches_the_read(tmp_path: Path) -> None:
    """Without the early RETURN, NEW.id is read on DELETE: the finding stays, at the read's line."""
    text = PATHS.read_text().replace(
        "    RETURN OLD;\n  END IF;\n  PERFORM pg_notify('items', NEW.id",
        "  END IF;\n  PERFORM pg_notify('items', NEW.id",
        1,
    )
    path = tmp_path / "paths.sql"
    path.write_text(text)
    findings = [e.finding for e in check([path]).entries if e.finding.rule == "trigger-event-mismatch"]
    assert [(f.function, f.line) for f in findings] == [("early_return", 10)]


def test_before_trigger_returning_null_on_a_reached_path_is_found(tmp_path: Path) -> None:
    """A BEFORE trigger whose last RETURN NULL is reached on DELETE skips the delete: reported for DELETE only."""
    path = tmp_path / "paths.sql"
    path.write_text(PATHS.read_text().replace("  RETURN OLD;\nEND $$;", "  RETURN NULL;\nEND $$;", 1))
    findings = [e.finding for e in check([path]).entries if e.finding.rule == "before-trigger-skips-row"]
    assert len(findings) == 1
    assert "on DELETE" in findings[0].message
    assert (findings[0].fix or "").startswith("RETURN OLD at line")
    assert "+  RETURN OLD;" in (findings[0].patch or "")
    assert "INSERT" not in findings[0].message


def test_shop_example_has_no_path_warnings() -> None:
    """The shop example's order trigger returns early on DELETE: none of its NEW reads is a finding."""
    report = check([SHOP / "schema.sql", SHOP / "triggers.sql"])
    assert "trigger-event-mismatch" not in {entry.finding.rule for entry in report.entries}
