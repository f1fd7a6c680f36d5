"""`review --pg` runs reviewed SQL as a role that cannot reach outside its database, and says so when refused."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bcastsim.cli import main
from bcastsim.pg import UNTRUSTED_ROLE, EphemeralPostgres
from bcastsim.review import review

ROOT = Path(__file__).resolve().parents[1]
REVIEW = ROOT / "tests" / "fixtures" / "sql" / "review"
SCHEMA = [ROOT / "sql" / "realtime.sql", REVIEW / "schema.sql"]
OLD = REVIEW / "diff" / "channel-renamed" / "old.sql"
HOSTILE = ROOT / "tests" / "fixtures" / "sql" / "hostile"

pytestmark = pytest.mark.postgres


@pytest.fixture
def outside() -> Iterator[Path]:
    """A directory the server's OS user could write to and read from, had it the right to."""
    directory = Path(tempfile.mkdtemp(prefix="bcastsim-outside-"))
    directory.chmod(0o777)
    (directory / "secret.txt").write_text("top secret\n")
    (directory / "secret.txt").chmod(0o644)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _new_version(tmp_path: Path, fixture: str, outside: Path) -> Path:
    """The old triggers plus one hostile file, with OUTSIDE replaced by the real directory."""
    new = tmp_path / "new"
    new.mkdir()
    shutil.copy(OLD, new / "a_triggers.sql")
    text = (HOSTILE / fixture).read_text().replace("OUTSIDE", str(outside))
    (new / "b_change.sql").write_text(text)
    return new


def _superuser_can(server: EphemeralPostgres, statement: str) -> None:
    """Run ``statement`` as the superuser in a scratch database: the attack works when privileges allow it."""
    database = server.create_database(name="bcastsim_control")
    database.close()
    try:
        server.execute(statement, "bcastsim_control")
    finally:
        server.drop_database("bcastsim_control")


@pytest.mark.parametrize(
    ("fixture", "refusal"),
    [
        ("copy_to_program.sql", "COPY to or from an external program"),
        ("read_server_file.sql", "pg_read_file"),
        ("alter_system.sql", "ALTER SYSTEM changes the server's configuration"),
        ("copy_from_server_file.sql", "COPY from a file"),
        ("trigger_runs_program.sql", "COPY to or from an external program"),
        ("lo_import.sql", "lo_import"),
        ("language_c.sql", "language c"),
    ],
)
def test_hostile_sql_does_nothing_outside_and_is_a_finding(
    bcastsim_server: EphemeralPostgres, tmp_path: Path, outside: Path, fixture: str, refusal: str
) -> None:
    """Programs, server files and server settings in reviewed SQL are refused and reported as needing superuser."""
    new = _new_version(tmp_path, fixture, outside)
    settings_before = (bcastsim_server.data_directory / "postgresql.auto.conf").read_text()
    report = review(str(OLD), str(new), schema=SCHEMA, pg=True, server=bcastsim_server)
    needs = [e.finding for e in report.entries if e.finding.rule == "pg-needs-superuser"]
    assert needs, [e.finding.message for e in report.entries]
    assert refusal in needs[0].message
    assert report.exit_status == 1
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (bcastsim_server.data_directory / "postgresql.auto.conf").read_text() == settings_before
    assert "top secret" not in str([e.finding for e in report.entries])


def test_the_same_program_runs_for_a_superuser(bcastsim_server: EphemeralPostgres, outside: Path) -> None:
    """Control: the server's OS user can write the marker, so the hostile test above would catch a leak."""
    # The program reads its input to the end: one that exits first can fail the server's write with EPIPE.
    _superuser_can(bcastsim_server, f"COPY (SELECT 1) TO PROGRAM 'touch {outside}/marker; cat >/dev/null'")
    assert (outside / "marker").exists()


def test_untrusted_role_has_no_outside_rights(bcastsim_server: EphemeralPostgres) -> None:
    """The role reviewed SQL runs as is no superuser and holds none of the server-file or program roles."""
    database = bcastsim_server.create_database(name="bcastsim_role_probe", untrusted=True)
    try:
        rows = database.execute(
            "SELECT current_user, r.rolsuper, pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER'),"
            " pg_has_role(current_user, 'pg_read_server_files', 'MEMBER'),"
            " pg_has_role(current_user, 'pg_write_server_files', 'MEMBER')"
            " FROM pg_roles r WHERE r.rolname = current_user"
        )
    finally:
        database.close()
        bcastsim_server.drop_database("bcastsim_role_probe")
    assert rows == [(UNTRUSTED_ROLE, False, False, False, False)]


def test_superuser_needed_by_old_version_is_a_finding_too(
    bcastsim_server: EphemeralPostgres, tmp_path: Path, outside: Path
) -> None:
    """An old version that needs superuser is reported, not a crash."""
    new = _new_version(tmp_path, "copy_to_program.sql", outside)
    report = review(str(new), str(OLD), schema=SCHEMA, pg=True, server=bcastsim_server)
    assert [e.finding.rule for e in report.entries if e.finding.rule.startswith("pg-")] == ["pg-needs-superuser"]
    assert not (outside / "pwned").exists()


def test_cli_review_pg_reports_hostile_sql(tmp_path: Path, outside: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`bcastsim review --pg` on a pull request running a program exits 1 with the finding, and runs nothing."""
    new = _new_version(tmp_path, "copy_to_program.sql", outside)
    args = ["review", str(OLD), str(new), "--pg", "--format", "json"]
    for schema in SCHEMA:
        args += ["--schema", str(schema)]
    status = main(args)
    out = capsys.readouterr().out
    assert status == 1
    assert "pg-needs-superuser" in out
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_role_bounds_statement_time_and_cannot_alter_system(bcastsim_server: EphemeralPostgres) -> None:
    """The role's statements are cut off after two minutes, and ALTER SYSTEM outside a transaction is refused."""
    database = bcastsim_server.create_database(name="bcastsim_timeout_probe", untrusted=True)
    settings_before = (bcastsim_server.data_directory / "postgresql.auto.conf").read_text()
    try:
        assert database.execute("SHOW statement_timeout") == [("2min",)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            database.execute("ALTER SYSTEM SET work_mem = '77MB'")
    finally:
        database.close()
        bcastsim_server.drop_database("bcastsim_timeout_probe")
    assert (bcastsim_server.data_directory / "postgresql.auto.conf").read_text() == settings_before


def test_sql_that_ends_the_review_sessions_is_a_finding(
    bcastsim_server: EphemeralPostgres, tmp_path: Path, outside: Path
) -> None:
    """A trigger terminating the role's other sessions stops the comparison with a finding, not a crash."""
    new = _new_version(tmp_path, "terminate_sessions.sql", outside)
    report = review(str(OLD), str(new), schema=SCHEMA, pg=True, server=bcastsim_server)
    broken = [e.finding for e in report.entries if e.finding.rule == "pg-load-failed"]
    assert broken, [e.finding.message for e in report.entries]
    assert "broke the review's sessions" in broken[0].message
    assert "\n" not in broken[0].message


def test_sql_that_never_finishes_is_stopped_and_reported(
    bcastsim_server: EphemeralPostgres, tmp_path: Path, outside: Path
) -> None:
    """SQL that turns off its statement timeout and sleeps is stopped at the time limit: inconclusive, never clean."""
    from bcastsim.review._pgdiff import pg_diff
    from bcastsim.sqlmodel import load_catalog

    new = _new_version(tmp_path, "sleep_forever.sql", outside)
    new_files = [*SCHEMA, *sorted(new.glob("*.sql"))]
    catalog = load_catalog([*SCHEMA, OLD])
    findings = pg_diff([*SCHEMA, OLD], new_files, catalog, server=bcastsim_server, time_limit_s=3.0)
    assert [f.rule for f in findings] == ["pg-inconclusive"]
    assert "stopped the SQL after 3 s (its time limit) while loading NEW" in findings[0].message
    rows = []
    database = bcastsim_server.create_database(name="bcastsim_after_watchdog")
    try:
        rows = (
            database.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(86400)%' AND pid <> pg_backend_pid()"
            )
            or []
        )
    finally:
        database.close()
        bcastsim_server.drop_database("bcastsim_after_watchdog")
    assert rows == [(0,)]
