"""Valid PostgreSQL is read, not refused: what the analysis cannot follow becomes a diagnostic."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcastsim import InputError
from bcastsim.review import ReviewConfig, check
from bcastsim.sqlmodel import load_catalog

FIXTURES = Path(__file__).parent / "fixtures" / "sql" / "readable"


def _codes(path: Path) -> set[str]:
    return {d.code for d in load_catalog(path).diagnostics}


def test_types_from_other_schemas_and_arrays_of_composites_are_read() -> None:
    """Variables, SETOF results and array parameters of non-public composite types do not stop the analysis."""
    catalog = load_catalog(FIXTURES / "other_schema_types.sql")
    assert [str(site.channel) for site in catalog.notify_sites] == ["queue_jobs"]
    assert "plpgsql-types" in {d.code for d in catalog.diagnostics}


def test_pg_dump_copy_data_and_meta_commands_are_skipped_as_notes() -> None:
    """COPY … FROM stdin rows and psql meta-commands are notes; the dump's functions are analysed."""
    path = FIXTURES / "pg_dump.sql"
    catalog = load_catalog(path)
    assert [site.location.line for site in catalog.notify_sites] == [15]
    assert {"copy-data", "psql-meta-command"} <= _codes(path)
    report = check([path], config=ReviewConfig())
    assert not any(f.rule == "unsupported-sql" and f.severity.value != "note" for f in report.findings)


def test_psql_variable_is_read_as_a_stand_in_with_a_note() -> None:
    """A psql variable (:SCHEMA) is read as the name SCHEMA with a note at its line; the site is still found."""
    catalog = load_catalog(FIXTURES / "psql_variable.sql")
    assert [(site.function, site.location.line) for site in catalog.notify_sites] == [("schema.notify_job", 5)]
    notes = [d for d in catalog.diagnostics if d.code == "psql-variable"]
    assert [(d.location.line, ":SCHEMA" in d.message) for d in notes] == [(3, True)]


def test_psql_variable_that_cannot_stand_in_is_named_as_the_reason(tmp_path: Path) -> None:
    """Where no stand-in parses (a table named by a :'literal'), the input error names the variable and its line."""
    path = tmp_path / "v.sql"
    path.write_text("SELECT 1;\nCREATE TABLE :'name' (id int);\n")
    with pytest.raises(InputError) as caught:
        load_catalog(path)
    assert ":'name'" in caught.value.message
    assert caught.value.line == 2
    assert "substitute" in caught.value.one_line()


def test_return_old_in_before_delete_is_read_as_old() -> None:
    """RETURN OLD in a BEFORE DELETE trigger keeps the row; RETURN NEW there skips the delete."""
    report = check([FIXTURES / "return_old.sql"], config=ReviewConfig())
    skipped = [f for f in report.findings if f.rule == "before-trigger-skips-row"]
    assert [f.function for f in skipped] == ["items_deleting_wrong"]


def test_send_in_unread_with_query_is_not_a_site() -> None:
    """A pg_notify in a WITH query the statement never reads is not a site and is reported as never running."""
    path = FIXTURES / "unread_cte.sql"
    assert load_catalog(path).notify_sites == ()
    report = check([path], config=ReviewConfig())
    assert [(f.rule, f.severity.value, f.line) for f in report.findings if f.rule == "send-never-runs"] == [
        ("send-never-runs", "error", 6)
    ]


def test_functions_a_script_runs_and_sql_bodies_notify() -> None:
    """A helper the migration calls then drops, and NOTIFY in an SQL-language body, are sites."""
    catalog = load_catalog(FIXTURES / "script_functions.sql")
    assert sorted((site.function, str(site.channel)) for site in catalog.notify_sites) == [
        ("migrate", "app_startup"),
        ("reload", "pgrst"),
    ]
    assert "migrate" not in catalog.functions


def test_quoted_mixed_case_columns_and_other_trigger_kinds() -> None:
    """Quoted mixed-case columns resolve; transition-table, event and constraint triggers load."""
    catalog = load_catalog(FIXTURES / "trigger_kinds.sql")
    by_function = {site.function: site for site in catalog.notify_sites}
    assert set(by_function) == {"Notify_Items", "ddl_notify", "c_notify"}
    named = by_function["c_notify"]
    assert named.payload_builder == "scalar"
    assert named.unbounded_reason == "text has no length limit"
    assert "constraint-trigger" in {d.code for d in catalog.diagnostics}
