"""NEW/OLD reads are facts of the parse tree: literals, comments and assignment targets are no reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from _corpus import corpus_root
from bcastsim import InputError
from bcastsim.review import check
from bcastsim.sqlmodel import (
    ControlFlowGraph,
    RowRead,
    build_cfg,
    expression_reads,
    load_catalog,
    may_read,
    statement_reads,
)

ROOT = Path(__file__).resolve().parents[1]
READS = ROOT / "tests" / "fixtures" / "sql" / "cfg" / "reads.sql"
ALL = frozenset({"INSERT", "UPDATE", "DELETE", "TRUNCATE"})


def _mismatches() -> list[tuple[str | None, int | None, str]]:
    report = check([READS])
    return [
        (f.function, f.line, f.message.split(" is read")[0])
        for f in report.findings
        if f.rule == "trigger-event-mismatch" and " is read on " in f.message
    ]


def _reads(function: str) -> dict[int, tuple[RowRead, ...] | None]:
    """Per file line, the reads of the statement that starts there."""
    catalog = load_catalog([READS])
    defined = catalog.functions[function]
    graph = build_cfg(defined.plpgsql)
    assert isinstance(graph, ControlFlowGraph)
    return {defined.file_line(node.lineno).line: graph.row_reads(node.index) for node in graph.statements}


def test_only_the_unguarded_read_is_a_finding() -> None:
    """Of the four functions' reads, only the NEW read that DELETE reaches is reported: the rule reads the facts."""
    assert _mismatches() == [("no_early_return", 36, "NEW.status")]


def test_text_in_a_literal_is_not_a_read() -> None:
    """'NEW.status was ' is a quoted literal: the statement reads OLD.id only."""
    reads = _reads("quoted_and_commented")[9]
    assert reads is not None
    assert [(r.record, r.column) for r in reads] == [("OLD", "id")]


def test_a_comment_inside_a_condition_is_not_a_read() -> None:
    """The condition's comment names OLD.note; the condition reads NEW.status and NEW.id only."""
    reads = _reads("quoted_and_commented")[12]
    assert reads is not None
    assert sorted((r.record, r.column) for r in reads) == [("NEW", "id"), ("NEW", "status")]


def test_a_read_after_the_delete_branch_returns_is_not_reached_by_delete() -> None:
    """NEW.status after IF TG_OP = 'DELETE' THEN RETURN OLD; END IF is a read, but DELETE never reaches it."""
    reads = _reads("early_return")[27]
    assert reads is not None
    assert [(r.record, r.column) for r in reads] == [("NEW", "status")]
    assert ("early_return", 27, "NEW.status") not in _mismatches()


def test_an_assignment_target_is_written_not_read() -> None:
    """NEW.updated_at := now() reads nothing; the value side of an assignment is read."""
    assert expression_reads("NEW.updated_at := now()", assignment=True) == ()
    assert expression_reads('v := OLD."note"', assignment=True) == (RowRead("OLD", "note", False, ALL),)
    assert _reads("assigned")[45] == ()


def test_a_case_branch_is_read_only_where_tg_op_allows() -> None:
    """CASE WHEN TG_OP = 'DELETE' THEN OLD.note ELSE NEW.note END reads OLD on DELETE and NEW elsewhere."""
    (reads,) = [expression_reads("CASE WHEN TG_OP = 'DELETE' THEN OLD.note ELSE NEW.note END")]
    assert reads is not None
    by_record = {r.record: r.operations for r in reads}
    assert by_record == {"OLD": frozenset({"DELETE"}), "NEW": ALL - {"DELETE"}}


@pytest.mark.parametrize(
    ("sql", "paired"),
    [("COALESCE(NEW.note, OLD.note)", True), ("COALESCE(NEW.note, 'none')", False)],
)
def test_coalesce_over_both_records_is_paired(sql: str, paired: bool) -> None:
    """COALESCE(NEW.c, OLD.c) is a paired read (never silently NULL); COALESCE with a constant is not."""
    reads = expression_reads(sql)
    assert reads is not None
    assert {r.paired for r in reads if r.record == "NEW"} == {paired}


def test_an_expression_that_does_not_parse_is_unknown() -> None:
    """A PL/pgSQL-only text gives None (not known), never an empty set of reads."""
    assert expression_reads("NEW.id IS NULL )") is None


def _corpus_statements() -> list[tuple[str, tuple[str, ...]]]:
    """(kind, expressions) of every statement of every PL/pgSQL body in the fixtures and the real-world corpus."""
    corpus = corpus_root()
    files = sorted((ROOT / "tests" / "fixtures").rglob("*.sql"))
    files += sorted(corpus.rglob("*.sql")) if corpus is not None else []
    found: list[tuple[str, tuple[str, ...]]] = []
    for path in files:
        try:
            catalog = load_catalog([path])
        except InputError:  # a fixture of bad input: what is said about it is pinned elsewhere
            continue
        for function in catalog.functions.values():
            graph = build_cfg(function.plpgsql) if function.plpgsql is not None else None
            found += [(node.kind, node.sql) for node in graph.statements] if graph is not None else []
    return found


def test_a_statement_that_may_not_read_a_record_reads_none_of_its_fields() -> None:
    """may_read is False only where the parse finds no read of that record, on every statement of the corpus."""
    statements = _corpus_statements()
    # Without the corpus beside the checkout, the fixtures alone hold some eight hundred statements.
    assert len(statements) > (1000 if corpus_root() is not None else 500)
    for kind, sql in statements:
        reads = statement_reads(kind, sql) or ()
        for record in ("NEW", "OLD"):
            if any(read.record == record for read in reads):
                assert may_read(sql, {record}), (record, sql)


def test_a_record_spelt_with_unicode_escapes_may_be_read() -> None:
    """U&"\\006F\\006C\\0064".id reads OLD.id without the letters o, l, d in a row: may_read says it may."""
    sql = ('U&"\\006F\\006C\\0064".id = 1',)
    reads = statement_reads("PLpgSQL_stmt_if", sql)
    assert reads is not None
    assert [(r.record, r.column) for r in reads] == [("OLD", "id")]
    assert may_read(sql, {"OLD"})


def test_a_text_that_never_names_the_record_may_not_read_it() -> None:
    """NEW.id || 'x' cannot read OLD: may_read is False for OLD and True for NEW (any case)."""
    assert not may_read(("NEW.id || 'x'",), {"OLD"})
    assert may_read(("new.id || 'x'",), {"NEW"})
