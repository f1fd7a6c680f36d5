"""The migration history as PostgreSQL applies it: overloads, CREATE in DO, ALTER FUNCTION SET, catalog loops."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcastsim import Severity
from bcastsim.pg import EphemeralPostgres
from bcastsim.review import check
from bcastsim.sqlmodel import load_catalog

HISTORY = Path(__file__).resolve().parent / "fixtures" / "sql" / "history"
SEARCH_PATH = HISTORY / "search_path.sql"


def test_dropping_one_overload_keeps_the_other() -> None:
    """DROP FUNCTION enqueue(text, integer) after adding enqueue(text, integer, integer) leaves the 3-argument one."""
    catalog = load_catalog([HISTORY / "overloads.sql"])
    assert catalog.functions["enqueue"].signature == ("text", "integer", "integer")


def test_dropping_by_name_alone_drops_every_overload(tmp_path: Path) -> None:
    """DROP FUNCTION enqueue without argument types removes the name."""
    path = tmp_path / "drop.sql"
    path.write_text((HISTORY / "overloads.sql").read_text() + "DROP FUNCTION enqueue;\n")
    assert "enqueue" not in load_catalog([path]).functions


def test_function_created_inside_do_is_a_site_at_its_file_line() -> None:
    """CREATE FUNCTION inside DO … IF NOT EXISTS defines the trigger function: its pg_notify is a site, line 9."""
    catalog = load_catalog([HISTORY / "do_create.sql"])
    assert catalog.functions["job_created"].location.line == 7
    assert [(site.function, site.location.line) for site in catalog.notify_sites] == [("job_created", 9)]
    assert not [d for d in catalog.diagnostics if d.code == "do-block"]


def test_alter_function_set_search_path_pins_it() -> None:
    """ALTER FUNCTION f() SET search_path = … is read, and a later catalog loop matching it overrides it."""
    catalog = load_catalog([SEARCH_PATH])
    assert catalog.functions["pinned"].search_path == "public, pg_temp"


def test_catalog_loop_sets_search_path_of_the_functions_its_query_returns() -> None:
    """A DO loop over pg_proc WHERE nspname = 'public' AND prosecdef pins public definers, not app's."""
    catalog = load_catalog([SEARCH_PATH])
    assert catalog.functions["definer_a"].search_path == "public, pg_temp"
    assert catalog.functions["definer_b"].search_path == "public, pg_temp"
    assert catalog.functions["app.owner_only"].search_path is None
    findings = [e.finding for e in check([SEARCH_PATH]).entries if e.finding.rule == "security-definer-search-path"]
    assert [(f.function, f.severity) for f in findings] == [("app.owner_only", Severity.ERROR)]


def test_unresolved_catalog_loop_makes_search_path_unknown_not_an_error(tmp_path: Path) -> None:
    """A loop whose query the loader cannot resolve turns the error into a note saying the value is unknown."""
    path = tmp_path / "loop.sql"
    path.write_text(SEARCH_PATH.read_text().replace("AND p.prosecdef", "AND p.proowner = current_user::regrole"))
    findings = [e.finding for e in check([path]).entries if e.finding.rule == "security-definer-search-path"]
    assert {f.severity for f in findings} == {Severity.NOTE}
    assert all("not known" in f.message for f in findings)


@pytest.mark.postgres
def test_postgres_agrees_on_search_paths(bcastsim_server: EphemeralPostgres) -> None:
    """After running the file, pg_proc holds the search_path the catalog computed for each function."""
    catalog = load_catalog([SEARCH_PATH])
    with bcastsim_server.create_database([SEARCH_PATH]) as database:
        rows = database.execute(
            "SELECT CASE WHEN n.nspname = 'public' THEN p.proname ELSE n.nspname || '.' || p.proname END, "
            "array_to_string(p.proconfig, ',') FROM pg_proc p JOIN pg_namespace n ON p.pronamespace = n.oid "
            "WHERE n.nspname IN ('public', 'app')"
        )
    assert rows is not None
    measured = {name: (config.removeprefix("search_path=") if config else None) for name, config in rows}
    computed = {name: function.search_path for name, function in catalog.functions.items()}
    assert {k: (v.replace(" ", "") if v else v) for k, v in computed.items()} == {
        k: (v.replace(" ", "") if v else v) for k, v in measured.items()
    }


@pytest.mark.postgres
def test_postgres_agrees_on_overloads(bcastsim_server: EphemeralPostgres) -> None:
    """PostgreSQL keeps exactly the overload the catalog keeps."""
    with bcastsim_server.create_database([HISTORY / "overloads.sql"]) as database:
        rows = database.execute("SELECT pg_get_function_identity_arguments('enqueue'::regproc)")
    assert load_catalog([HISTORY / "overloads.sql"]).functions["enqueue"].signature == ("text", "integer", "integer")
    assert rows == [("q text, n integer, priority integer",)]


def test_renamed_trigger_function_keeps_its_trigger_and_site() -> None:
    """ALTER FUNCTION … RENAME TO: the function and its site move to the new name; the trigger follows it."""
    catalog = load_catalog([HISTORY / "rename.sql"])
    assert "notify_job" not in catalog.functions
    assert catalog.triggers[("jobs", "job_created")].function == "job_created_notify"
    assert [(site.function, site.tables) for site in catalog.notify_sites] == [("job_created_notify", ("jobs",))]
    assert not [d for d in catalog.diagnostics if d.code == "rename"]


@pytest.mark.postgres
def test_postgres_agrees_on_the_rename(bcastsim_server: EphemeralPostgres) -> None:
    """In PostgreSQL the trigger still fires after the rename and the notification is sent."""
    with bcastsim_server.create_database([HISTORY / "rename.sql"]) as database:
        result = database.run_transaction(["INSERT INTO jobs (id) VALUES (1)"])
        rows = database.execute("SELECT tgfoid::regproc::text FROM pg_trigger WHERE tgname = 'job_created'")
    assert [n.channel for n in result.notifications] == ["jobs"]
    assert rows == [("job_created_notify",)]


def test_do_block_applies_what_its_paths_reach() -> None:
    """In a DO block, the trigger after an early conditional RETURN is created; the one after RETURN is not."""
    catalog = load_catalog([HISTORY / "do_unreachable.sql"])
    assert sorted(name for _, name in catalog.triggers) == ["job_created"]
    assert [d.location.line for d in catalog.diagnostics if d.code == "unreachable"] == [9]
