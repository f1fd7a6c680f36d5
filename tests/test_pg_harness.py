"""The throwaway PostgreSQL harness: it starts as root or not, and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bcastsim.pg import Database, EphemeralPostgres, PgBinariesNotFound, find_binaries

pytestmark = pytest.mark.postgres


def _postgres_pids_under(directory: Path) -> list[int]:
    """Pids of processes whose command line names the directory."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(directory) in cmdline and "postgres" in cmdline:
            pids.append(int(proc.name))
    return pids


def test_server_runs_and_serves_queries(bcastsim_server: EphemeralPostgres) -> None:
    """The session server answers SQL and reports a PostgreSQL version."""
    database = bcastsim_server.create_database([])
    try:
        assert database.execute("SELECT 1 + 1") == [(2,)]
    finally:
        database.close()
    assert bcastsim_server.version.split(".")[0].isdigit()


def test_server_process_runs_unprivileged(bcastsim_server: EphemeralPostgres) -> None:
    """The postmaster never runs as root, even when the tests do."""
    status = Path(f"/proc/{bcastsim_server.process.pid}/status").read_text()
    uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
    assert uid != 0


def test_stop_removes_processes_and_directory() -> None:
    """Stopping a server leaves no process and no cluster directory."""
    try:
        server = EphemeralPostgres.start()
    except PgBinariesNotFound as missing:
        pytest.skip(str(missing))
    directory = server.directory
    assert directory.exists()
    server.stop()
    assert not directory.exists()
    assert _postgres_pids_under(directory) == []


def test_killed_owner_leaves_nothing_behind(tmp_path: Path) -> None:
    """SIGKILL of the process that started the server still removes the server and its directory."""
    script = textwrap.dedent(
        """
        import sys, time
        from bcastsim.pg import EphemeralPostgres
        server = EphemeralPostgres.start()
        print(server.directory, flush=True)
        time.sleep(600)
        """
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    directory = Path(owner.stdout.readline().strip())
    assert directory.exists()
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait()
    # The reaper notices end-of-file on its pipe; give it bounded time to finish.
    reaper_done = subprocess.run(
        [sys.executable, "-c", f"import os, time\nfor _ in range(600):\n    time.sleep(0.05)\n"
         f"    if not os.path.exists({str(directory)!r}): break"],
        check=True,
    )  # fmt: skip
    assert reaper_done.returncode == 0
    assert not directory.exists()
    assert _postgres_pids_under(directory) == []


def test_missing_binaries_are_reported_with_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An override pointing at a directory without a server names what to install."""
    monkeypatch.setenv("BCASTSIM_PG_BINDIR", str(tmp_path))
    with pytest.raises(PgBinariesNotFound, match="apt-get install postgresql"):
        find_binaries()


def test_database_fixture_has_the_seed_loaded(bcastsim_db: Database) -> None:
    """The per-test database holds the seed's tables, the realtime schema and the five triggers."""
    rows = bcastsim_db.execute(
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'broadcast_%' ORDER BY tgname"
    )
    assert rows == [
        ("broadcast_art_media_trigger",),
        ("broadcast_art_trigger",),
        ("broadcast_bid_trigger",),
        ("broadcast_round_contestants_trigger",),
        ("broadcast_vote_trigger",),
    ]
    assert bcastsim_db.execute("SELECT to_regprocedure('realtime.send(jsonb,text,text,boolean)') IS NOT NULL") == [
        (True,)
    ]


@pytest.mark.parametrize("attempt", [1, 2])
def test_each_test_gets_a_fresh_database(bcastsim_db: Database, attempt: int) -> None:
    """Rows written by one test are not seen by the next (pytest-postgresql clones the template)."""
    assert bcastsim_db.execute("SELECT count(*) FROM events") == [(0,)]
    bcastsim_db.execute("INSERT INTO events (eid, name) VALUES ('E1', 'leaks if reused')")


def test_without_binaries_database_tests_skip_with_install_hint(tmp_path: Path) -> None:
    """On a machine without PostgreSQL, a test using the fixtures is skipped with one line saying what to install."""
    (tmp_path / "test_needs_db.py").write_text("def test_uses_db(bcastsim_db):\n    pass\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"BCASTSIM_PG_BINDIR": str(tmp_path / "no-such-dir")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-rs", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    skip_lines = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skip_lines) == 1
    assert "apt-get install postgresql" in skip_lines[0]


def test_shared_database_reset_empties_tables_and_restarts_sequences(bcastsim_shared_db: Database) -> None:
    """reset() leaves every table empty and serial keys starting again, as a fresh database would."""
    bcastsim_shared_db.execute("INSERT INTO events (eid, name) VALUES ('E1', 'kept until reset')")
    bcastsim_shared_db.reset()
    assert bcastsim_shared_db.execute("SELECT count(*) FROM events") == [(0,)]
    bcastsim_shared_db.execute("CREATE TABLE IF NOT EXISTS public.reset_probe (id serial PRIMARY KEY)")
    bcastsim_shared_db.execute("INSERT INTO public.reset_probe DEFAULT VALUES")
    bcastsim_shared_db.reset()
    assert bcastsim_shared_db.execute("INSERT INTO public.reset_probe DEFAULT VALUES RETURNING id") == [(1,)]
    bcastsim_shared_db.execute("DROP TABLE public.reset_probe")
