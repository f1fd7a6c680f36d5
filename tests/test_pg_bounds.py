"""Hostile SQL cannot fill bcastsim's memory through what it captures, nor a server process's beyond its limit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bcastsim.pg import EphemeralPostgres, PgBinariesNotFound, find_binaries
from bcastsim.pg._capture import MAX_CAPTURED_CHANNELS, MAX_CAPTURED_NOTIFICATIONS, MAX_CAPTURED_WARNINGS

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def server() -> Iterator[EphemeralPostgres]:
    try:
        find_binaries()
    except PgBinariesNotFound as missing:
        pytest.skip(str(missing))
    with EphemeralPostgres.start() as started:
        yield started


def test_a_flood_of_notifications_and_warnings_is_capped_and_the_cut_reported(server: EphemeralPostgres) -> None:
    """A transaction sending more than the caps keeps the first ones and says how many it did not keep."""
    database = server.create_database([], untrusted=True)
    try:
        sent = MAX_CAPTURED_NOTIFICATIONS + 500
        raised = MAX_CAPTURED_WARNINGS + 50
        result = database.run_transaction(
            [
                f"DO $$ BEGIN FOR i IN 1..{sent} LOOP PERFORM pg_notify('flood', i::text); "
                f"IF i <= {raised} THEN RAISE WARNING 'w %', i; END IF; END LOOP; END $$"
            ]
        )
    finally:
        database.close()
    assert len(result.notifications) == MAX_CAPTURED_NOTIFICATIONS
    assert result.notifications[0].payload == "1"
    assert len(result.warnings) == MAX_CAPTURED_WARNINGS
    assert result.cut == (
        f"notifications: {sent:,} sent, {MAX_CAPTURED_NOTIFICATIONS:,} captured",
        f"warnings: {raised:,} raised, {MAX_CAPTURED_WARNINGS:,} captured",
    )


def test_a_transaction_under_the_caps_has_no_cut(server: EphemeralPostgres) -> None:
    """Nothing cut, nothing said."""
    database = server.create_database([], untrusted=True)
    try:
        result = database.run_transaction(["SELECT pg_notify('one', 'x')"])
    finally:
        database.close()
    assert [n.channel for n in result.notifications] == ["one"]
    assert result.cut == ()


def test_server_processes_have_a_bounded_address_space(server: EphemeralPostgres) -> None:
    """The postmaster (and so every backend it forks) runs under RLIMIT_AS, set in the child without privilege."""
    text = Path(f"/proc/{server.process.pid}/limits").read_text()
    limits = [line for line in text.splitlines() if "address" in line]
    assert limits
    assert limits[0].split()[3] == str(2048 * 1024 * 1024)


def test_a_files_select_runs_on_the_server_without_sending_its_rows(server: EphemeralPostgres, tmp_path: Path) -> None:
    """4 GB of SELECT, RETURNING or data-modifying WITH result in a migration stays on the server; its writes run."""
    sql = tmp_path / "migration.sql"
    sql.write_text(
        "CREATE TABLE log (a int);\n"
        "CREATE FUNCTION ins() RETURNS int LANGUAGE sql AS 'INSERT INTO log VALUES (1) RETURNING 1';\n"
        "SELECT ins() FROM generate_series(1, 3);\n"
        "SELECT repeat('x', 100000000) FROM generate_series(1, 40);\n"
        "INSERT INTO log SELECT 2 FROM generate_series(1, 40) RETURNING repeat('x', 100000000);\n"
        "WITH gone AS (DELETE FROM log WHERE a = 2 RETURNING a) SELECT repeat('x', 100000000) FROM gone;\n"
        "SELECT 1 AS one INTO copied;\n"
    )
    child = textwrap.dedent(
        f"""
        import resource
        from bcastsim.pg._capture import Database
        resource.setrlimit(resource.RLIMIT_AS, (1024 ** 3, 1024 ** 3))  # the rows would need 4 GB here
        database = Database({server.conninfo(_DBNAME)!r})
        database.apply_files([{str(sql)!r}])
        print(database.execute("SELECT (SELECT count(*) FROM log), (SELECT count(*) FROM copied)"))
        database.close()
        """
    )
    server.execute(f"CREATE DATABASE {_DBNAME}")
    try:
        done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=600, check=False)
    finally:
        server.drop_database(_DBNAME)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[(3, 1)]"


_DBNAME = "bcastsim_rows"


@pytest.mark.parametrize(
    "planted",
    [
        "CREATE OR REPLACE FUNCTION bcastsim_tap.pg_notify(channel text, payload text) RETURNS void "
        "LANGUAGE sql AS 'SELECT pg_catalog.pg_notify(channel, payload)';",
        "CREATE FUNCTION bcastsim_tap.concat(text, text) RETURNS text LANGUAGE sql AS 'SELECT $1';",
        "CREATE OPERATOR bcastsim_tap.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = pg_catalog.textcat);",
        "DROP SCHEMA bcastsim_tap CASCADE;",
    ],
)
def test_the_reviewed_sql_cannot_reach_the_capture(server: EphemeralPostgres, tmp_path: Path, planted: str) -> None:
    """The tap's schema belongs to the superuser: replacing it, planting in it or dropping it is refused."""
    sql_file = tmp_path / "plant.sql"
    sql_file.write_text(planted + "\n")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        server.create_database([sql_file], untrusted=True)


def test_the_capture_still_sees_every_channel_of_untrusted_sql(server: EphemeralPostgres) -> None:
    """With the tap owned by the superuser, a notification on a computed channel is still captured."""
    database = server.create_database([], untrusted=True)
    try:
        result = database.run_transaction(["SELECT pg_notify('room:' || 7, 'x')"])
    finally:
        database.close()
    assert [n.channel for n in result.notifications] == ["room:7"]


def test_a_suppression_in_the_reviewed_sql_cannot_silence_a_privilege_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-- bcastsim: ignore[pg-needs-superuser]` above COPY … TO PROGRAM leaves the error standing."""
    from bcastsim.cli import main

    try:
        find_binaries()
    except PgBinariesNotFound as missing:
        pytest.skip(str(missing))
    root = Path(__file__).resolve().parents[1]
    for name in ("schema.sql", "realtime.sql"):
        (tmp_path / name).write_text((root / "sql" / name).read_text())
    (tmp_path / "new.sql").write_text("-- bcastsim: ignore[pg-needs-superuser]\nCOPY (SELECT 1) TO PROGRAM 'true';\n")
    monkeypatch.chdir(tmp_path)
    status = main(["review", "--pg", "--schema", "schema.sql", "--schema", "realtime.sql", "none:", "new.sql"])
    out = capsys.readouterr().out
    assert "error[pg-needs-superuser]" in out
    assert "suppressed" not in out.splitlines()[-1]
    assert status == 1


def test_more_channels_than_are_listened_to_is_a_cut(server: EphemeralPostgres) -> None:
    """Past MAX_CAPTURED_CHANNELS distinct channels in a transaction the rest are not listened to, and it says so."""
    database = server.create_database([], untrusted=True)
    try:
        result = database.run_transaction(
            [f"DO $$ BEGIN FOR i IN 1..{MAX_CAPTURED_CHANNELS + 500} LOOP "
             "PERFORM pg_notify('room:' || lpad(i::text, 40, '0'), 'x'); END LOOP; END $$"]
        )  # fmt: skip
        again = database.run_transaction(
            ["DO $$ BEGIN FOR i IN 1..20000 LOOP PERFORM pg_notify('one', i::text); END LOOP; END $$"]
        )
    finally:
        database.close()
    assert result.notifications[0].channel == "room:" + "1".zfill(40)
    assert len(result.notifications) == MAX_CAPTURED_CHANNELS
    assert result.cut == (
        f"channels: more than {MAX_CAPTURED_CHANNELS:,} distinct channels in one transaction; "
        "notifications on the others were not captured",
    )
    assert len(again.notifications) == MAX_CAPTURED_NOTIFICATIONS
    assert again.cut == ("notifications: 20,000 sent, 10,000 captured",)
