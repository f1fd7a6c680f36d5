"""`review --pg` on hostile SQL: every bound that stopped it is reported and inconclusive, every finding placed."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bcastsim.findings import Finding
from bcastsim.pg import EphemeralPostgres, PgBinariesNotFound, find_binaries
from bcastsim.pg._capture import MAX_CAPTURED_NOTIFICATIONS, MAX_CAPTURED_WARNINGS
from bcastsim.review import review

ROOT = Path(__file__).resolve().parents[1]
REVIEW = ROOT / "tests" / "fixtures" / "sql" / "review"
SCHEMA = [ROOT / "sql" / "realtime.sql", REVIEW / "schema.sql"]
OLD = REVIEW / "diff" / "channel-renamed" / "old.sql"
HOSTILE = ROOT / "tests" / "fixtures" / "sql" / "hostile"
# Each server process may use this much address space: a 1 GB string does not fit.
MEMORY_MB = "768"

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def server() -> Iterator[EphemeralPostgres]:
    """A server of this file's own, with a small memory limit and a one-second statement timeout."""
    try:
        find_binaries()
    except PgBinariesNotFound as missing:
        pytest.skip(str(missing))
    before = os.environ.get("BCASTSIM_PG_MEMORY_MB")
    os.environ["BCASTSIM_PG_MEMORY_MB"] = MEMORY_MB
    try:
        started = EphemeralPostgres.start()
    finally:
        if before is None:
            del os.environ["BCASTSIM_PG_MEMORY_MB"]
        else:
            os.environ["BCASTSIM_PG_MEMORY_MB"] = before
    with started:
        started.untrusted_settings["statement_timeout"] = "1s"
        yield started


@pytest.fixture
def outside() -> Iterator[Path]:
    """A directory the server's OS user could write to, had it the right to."""
    directory = Path(tempfile.mkdtemp(prefix="bcastsim-outside-"))
    directory.chmod(0o777)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _new_version(tmp_path: Path, fixture: str, **replace: str) -> Path:
    """The old triggers plus one hostile file (``b_change.sql``), its placeholders replaced."""
    new = tmp_path / "new"
    new.mkdir()
    shutil.copy(OLD, new / "a_triggers.sql")
    text = (HOSTILE / fixture).read_text()
    for placeholder, value in replace.items():
        text = text.replace(placeholder, value)
    (new / "b_change.sql").write_text(text)
    return new


def _line_of(path: Path, needle: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), start=1) if needle in line)


def _findings(new: Path, server: EphemeralPostgres, rule: str, **options: float) -> tuple[list[Finding], int]:
    report = review(str(OLD), str(new), schema=SCHEMA, pg=True, server=server, **options)  # type: ignore[arg-type]
    return [e.finding for e in report.entries if e.finding.rule == rule], report.exit_status


def _cuts(findings: list[Finding]) -> list[Finding]:
    """The findings of a cut (beside them, a run whose writes all failed is also "nothing compared")."""
    return [f for f in findings if "the workload was cut in" in f.message]


def test_an_endless_loop_in_a_trigger_is_cut_by_the_statement_timeout_and_inconclusive(
    server: EphemeralPostgres, tmp_path: Path
) -> None:
    """A trigger that loops is cancelled by the role's statement_timeout; the cut is named at the loop, exit 1."""
    new = _new_version(tmp_path, "trigger_loops.sql")
    found, status = _findings(new, server, "pg-inconclusive")
    cut = _cuts(found)
    assert status == 1
    assert len(cut) == 1, [f.message for f in cut]
    assert "stopped by statement_timeout (canceling statement due to statement timeout)" in cut[0].message
    assert (cut[0].path, cut[0].line) == (str(new / "b_change.sql"), _line_of(new / "b_change.sql", "LOOP"))


def test_a_trigger_that_sleeps_with_its_timeout_off_is_stopped_by_the_time_limit(
    server: EphemeralPostgres, tmp_path: Path
) -> None:
    """pg_sleep under `SET statement_timeout = 0` is stopped by the review's time limit: inconclusive, exit 1."""
    new = _new_version(tmp_path, "trigger_sleeps.sql")
    cut, status = _findings(new, server, "pg-inconclusive", pg_time_limit_s=4.0)
    assert status == 1
    assert [f.message for f in cut] == [
        f"the review stopped the SQL after 4 s (its time limit) while running the workload on {new}: a loop, "
        "a sleep or a lock in the migration or its triggers; nothing after that point was compared"
    ]


@pytest.fixture
def patient(server: EphemeralPostgres, monkeypatch: pytest.MonkeyPatch) -> EphemeralPostgres:
    """The server with the role's usual statement timeout: a flood is cut by the capture's caps, not by time."""
    monkeypatch.setitem(server.untrusted_settings, "statement_timeout", "120s")
    return server


def test_a_flood_of_warnings_is_cut_reported_and_inconclusive(patient: EphemeralPostgres, tmp_path: Path) -> None:
    """Five times the warning cap per write: the count raised and the count kept are in the finding."""
    server = patient
    raised = 5 * MAX_CAPTURED_WARNINGS
    new = _new_version(tmp_path, "trigger_warns.sql", WARNINGS=str(raised))
    found, status = _findings(new, server, "pg-inconclusive")
    cut = _cuts(found)
    assert status == 1
    assert len(cut) == 1
    assert f"warnings: {raised:,} raised, {MAX_CAPTURED_WARNINGS:,} captured" in cut[0].message
    assert cut[0].example is not None
    assert cut[0].example.startswith("transaction ")


def test_a_flood_of_notifications_is_cut_reported_and_inconclusive(patient: EphemeralPostgres, tmp_path: Path) -> None:
    """More notifications per write than the capture keeps: sent and captured counts in the finding."""
    server = patient
    new = _new_version(tmp_path, "trigger_floods.sql")
    found, status = _findings(new, server, "pg-inconclusive")
    cut = _cuts(found)
    assert status == 1
    assert len(cut) == 1
    assert f"notifications: 10,500 sent, {MAX_CAPTURED_NOTIFICATIONS:,} captured" in cut[0].message


def test_a_gigabyte_string_in_a_trigger_meets_the_memory_limit_and_is_inconclusive(
    server: EphemeralPostgres, tmp_path: Path
) -> None:
    """repeat('x', 1e9) in a trigger fails inside the server's address-space limit; the cut names it, exit 1."""
    new = _new_version(tmp_path, "trigger_huge_string.sql")
    found, status = _findings(new, server, "pg-inconclusive")
    cut = _cuts(found)
    assert status == 1
    assert len(cut) == 1
    assert "stopped by the server's memory limit (out of memory)" in cut[0].message
    assert (cut[0].path, cut[0].line) == (str(new / "b_change.sql"), _line_of(new / "b_change.sql", "PERFORM"))


def test_a_gigabyte_string_in_a_migration_is_inconclusive_at_its_line(
    server: EphemeralPostgres, tmp_path: Path
) -> None:
    """repeat('x', 1e9) in a file stops loading at the memory limit: inconclusive at that statement, not clean."""
    new = _new_version(tmp_path, "huge_string.sql")
    cut, status = _findings(new, server, "pg-inconclusive")
    assert status == 1
    assert len(cut) == 1
    assert "was stopped by the server's memory limit: out of memory" in cut[0].message
    assert (cut[0].path, cut[0].line) == (str(new / "b_change.sql"), 3)


def test_a_copy_to_program_is_placed_at_its_statement_and_no_comment_silences_it(
    server: EphemeralPostgres, tmp_path: Path, outside: Path
) -> None:
    """Suppressions on line 1, above and on the statement's line leave the refusal, at that line, standing."""
    new = _new_version(tmp_path, "copy_to_program_suppressed.sql", OUTSIDE=str(outside))
    report = review(str(OLD), str(new), schema=SCHEMA, pg=True, server=server)
    refused = [e.finding for e in report.entries if e.finding.rule == "pg-needs-superuser"]
    assert [(f.path, f.line) for f in refused] == [(str(new / "b_change.sql"), 3)]
    assert report.suppressed == 0
    assert report.exit_status == 1
    assert list(outside.iterdir()) == []


def test_a_refusal_in_a_trigger_is_placed_at_the_functions_statement(
    server: EphemeralPostgres, tmp_path: Path, outside: Path
) -> None:
    """A trigger running COPY … TO PROGRAM is reported on the EXECUTE line of its function."""
    new = _new_version(tmp_path, "trigger_runs_program.sql", OUTSIDE=str(outside))
    refused, status = _findings(new, server, "pg-needs-superuser")
    assert status == 1
    change = new / "b_change.sql"
    assert [(f.path, f.line) for f in refused] == [(str(change), _line_of(change, "EXECUTE"))]
    assert list(outside.iterdir()) == []


def test_an_observed_message_is_placed_at_the_call_that_sent_it(server: EphemeralPostgres, tmp_path: Path) -> None:
    """A changed destination sits on the new version's realtime.send call, found from PostgreSQL's call stack."""
    pair = REVIEW / "diff" / "channel-renamed"
    moved, _ = _findings(pair / "new.sql", server, "pg-destination-changed")
    assert moved
    assert {(f.path, f.line) for f in moved} == {(str(pair / "new.sql"), _line_of(pair / "new.sql", "realtime.send("))}


def test_pg_findings_advise_by_explanation_never_as_an_unpatched_fix(
    server: EphemeralPostgres, tmp_path: Path, outside: Path
) -> None:
    """A --pg finding carries no patch, so its advice is an explanation and never labelled a fix."""
    new = _new_version(tmp_path, "trigger_runs_program.sql", OUTSIDE=str(outside))
    refused, _ = _findings(new, server, "pg-needs-superuser")
    moved, _ = _findings(REVIEW / "diff" / "channel-renamed" / "new.sql", server, "pg-destination-changed")
    assert refused
    assert moved
    assert all(f.fix is None and f.patch is None and f.explanation for f in (*refused, *moved))


def test_the_reviewed_configuration_cannot_disable_a_containment_finding(
    server: EphemeralPostgres, tmp_path: Path, outside: Path
) -> None:
    """`disable = ["pg-needs-superuser", "pg-inconclusive"]` in the reviewed config leaves both findings standing."""
    from bcastsim.review import ReviewConfig

    config = ReviewConfig(disable=frozenset({"pg-needs-superuser", "pg-inconclusive", "pg-destination-changed"}))
    new = _new_version(tmp_path, "copy_to_program.sql", OUTSIDE=str(outside))
    report = review(str(OLD), str(new), schema=SCHEMA, pg=True, server=server, config=config)
    assert "pg-needs-superuser" in {e.finding.rule for e in report.entries}
    assert report.exit_status == 1


def test_no_cut_no_inconclusive_finding(server: EphemeralPostgres) -> None:
    """A change that stays within every bound is compared, not reported as cut."""
    pair = REVIEW / "diff" / "channel-renamed"
    found, _ = _findings(pair / "new.sql", server, "pg-inconclusive")
    assert found == []


def test_cli_pg_budget_bounds_the_review(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--pg-budget 3` stops a migration that sleeps with its timeout off: one inconclusive error, exit 1."""
    from bcastsim.cli import main

    try:
        find_binaries()
    except PgBinariesNotFound as missing:
        pytest.skip(str(missing))
    new = _new_version(tmp_path, "sleep_forever.sql")
    schema = [argument for path in SCHEMA for argument in ("--schema", str(path))]
    args = ["review", str(OLD), str(new), "--pg", "--pg-budget", "3", *schema]
    status = main(args)
    out = capsys.readouterr().out
    assert status == 1
    assert "error[pg-inconclusive] (changed) the review stopped the SQL after 3 s (its time limit) while loading" in out


def test_a_refusal_swallowed_by_an_exception_block_is_still_reported(
    server: EphemeralPostgres, tmp_path: Path, outside: Path
) -> None:
    """pg_read_file and COPY … TO PROGRAM caught by WHEN OTHERS in a trigger that ran: both reported at their lines."""
    (outside / "secret.txt").write_text("top secret\n")
    new = _new_version(tmp_path, "trigger_swallows_refusal.sql", OUTSIDE=str(outside))
    refused, status = _findings(new, server, "pg-needs-superuser")
    change = new / "b_change.sql"
    assert status == 1
    assert [(f.path, f.line) for f in refused] == [
        (str(change), _line_of(change, "pg_read_file")),
        (str(change), _line_of(change, "TO PROGRAM")),
    ]
    assert "pg_read_file() in item_peek is refused" in refused[0].message
    assert "swallowed by the exception block around it (WHEN others)" in refused[0].message
    assert "COPY … TO PROGRAM in item_peek" in refused[1].message
    assert "top secret" not in str(refused)
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_a_handled_refusal_in_a_function_that_never_ran_is_not_reported(
    server: EphemeralPostgres, tmp_path: Path
) -> None:
    """Only functions the workload ran are read: a refusal that never happened is not an observation."""
    new = _new_version(tmp_path, "function_never_runs.sql")
    refused, _ = _findings(new, server, "pg-needs-superuser")
    assert refused == []


def test_only_handlers_that_catch_a_refusal_guard_a_statement() -> None:
    """WHEN others / insufficient_privilege / 42501 guard their block; division_by_zero and handler bodies do not."""
    import pglast

    from bcastsim.review._pgcontain import _handled_statements

    body = """CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    PERFORM pg_read_file('a');
  EXCEPTION WHEN division_by_zero THEN NULL;
  END;
  BEGIN
    IF true THEN
      PERFORM pg_ls_dir('b');
    END IF;
  EXCEPTION WHEN SQLSTATE '42501' THEN
    PERFORM pg_read_file('c');
  END;
  PERFORM pg_read_file('d');
END $$;"""
    found = _handled_statements(pglast.parse_plpgsql(body))
    assert found == [(8, "true", "42501", False), (9, "SELECT pg_ls_dir('b')", "42501", False)]


def test_an_execute_of_a_constant_is_read_and_one_built_at_run_time_is_marked() -> None:
    """EXECUTE 'COPY …' is the COPY it runs; EXECUTE 'COPY …' || x is the expression, marked dynamic."""
    import pglast

    from bcastsim.review._pgcontain import _handled_statements

    body = (
        "CREATE FUNCTION f(x text) RETURNS void LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "  EXECUTE 'COPY (SELECT 1) TO PROGRAM ''id''';\n"
        "  EXECUTE 'SELECT ' || x USING pg_read_file('a');\n"
        "EXCEPTION WHEN others THEN NULL;\n"
        "END $$;"
    )
    found = _handled_statements(pglast.parse_plpgsql(body))
    assert found == [
        (3, "COPY (SELECT 1) TO PROGRAM 'id'", "others", False),
        (4, "'SELECT ' || x", "others", True),
        (4, "pg_read_file('a')", "others", False),
    ]


def test_a_refusal_swallowed_inside_execute_is_reported_or_named_unseen(
    server: EphemeralPostgres, tmp_path: Path, outside: Path
) -> None:
    """A constant EXECUTE's swallowed refusal is an error at its line; one built at run time is a note there."""
    new = _new_version(tmp_path, "trigger_swallows_dynamic_refusal.sql", OUTSIDE=str(outside))
    report = review(str(OLD), str(new), schema=SCHEMA, pg=True, server=server)
    found = {
        rule: [e.finding for e in report.entries if e.finding.rule == rule]
        for rule in ("pg-needs-superuser", "pg-refusal-unseen")
    }
    change = new / "b_change.sql"
    refused, unseen = found["pg-needs-superuser"], found["pg-refusal-unseen"]
    assert report.exit_status == 1
    assert [(f.line, f.severity.value) for f in refused] == [(_line_of(change, "''touch"), "error")]
    assert "COPY … TO PROGRAM in item_exec is refused" in refused[0].message
    assert [(f.line, f.severity.value) for f in unseen] == [(_line_of(change, "quote_literal"), "note")]
    assert "runs a statement built at run time" in unseen[0].message
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    ("query", "needs"),
    [
        ("SELECT pg_read_file('/etc/passwd')", [("function", "pg_catalog", "pg_read_file")]),
        ("secret := pg_catalog.lo_export(1, '/tmp/x')", [("function", "pg_catalog", "lo_export")]),
        ("COPY (SELECT 1) TO PROGRAM 'id'", [("role", "pg_execute_server_program", "COPY … TO PROGRAM")]),
        ("COPY t FROM '/etc/passwd'", [("role", "pg_read_server_files", "COPY … FROM a server file")]),
        ("COPY t TO '/tmp/out'", [("role", "pg_write_server_files", "COPY … TO a server file")]),
        ("not sql at all (", []),
    ],
)
def test_what_a_statement_runs_that_a_privilege_guards(query: str, needs: list[tuple[str, str, str]]) -> None:
    """Calls and COPY to or from programs and server files are read from PostgreSQL's own parse of the statement."""
    from bcastsim.review._pgcontain import _privileged

    assert _privileged(query) == needs


@pytest.mark.parametrize(
    ("context", "site"),
    [
        ("PL/pgSQL function item_audit() line 3 at EXECUTE", ("item_audit", 3)),
        (
            "PL/pgSQL function realtime.send(jsonb,text,text,boolean) line 6 at SQL statement\n"
            'SQL statement "SELECT realtime.send(x)"\nPL/pgSQL function item_send() line 3 at PERFORM',
            ("item_send", 3),
        ),
        ("PL/pgSQL function pg_notify(text,text) line 5 at PERFORM\nPL/pgSQL function f() line 2 at PERFORM", ("f", 2)),
        ("PL/pgSQL function inline_code_block line 4 at RAISE", None),
        ("", None),
    ],
)
def test_the_sql_s_own_frame_of_a_context_is_the_site(context: str, site: tuple[str, int] | None) -> None:
    """The innermost frame that is neither the capture's, Realtime's transport nor a DO block places a finding."""
    from bcastsim.review._pgcontain import context_site

    assert context_site(context) == site
