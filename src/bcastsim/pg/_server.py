"""A throwaway PostgreSQL cluster: created in a temporary directory, removed on exit.

PostgreSQL refuses to run as root. When this process is root, only the server
processes (``initdb``, ``postgres``) run as an unprivileged system user, and the
cluster directory is handed to that user; everything else (the tests, the
clients) stays as it is, so one ``pytest`` command works for root in CI and for
a developer on a laptop.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import resource
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import attrs
import psycopg
from psycopg import sql

from bcastsim._limits import with_limits
from bcastsim._reaping import start_reaper
from bcastsim.pg._binaries import PgBinaries, find_binaries
from bcastsim.pg._capture import TAP_OWNED_SQL, Database

__all__ = ["HARNESS_EXTENSIONS", "UNTRUSTED_ROLE", "UNTRUSTED_SETTINGS", "EphemeralPostgres", "ServerStartError"]

RUN_AS_ENV = "BCASTSIM_PG_USER"
MEMORY_ENV = "BCASTSIM_PG_MEMORY_MB"
_DEFAULT_MEMORY_MB = 2048
_FALLBACK_USERS = ("postgres", "nobody")
_PORT = 5432  # the socket lives in a private directory, so the number cannot clash
_START_TIMEOUT_SECONDS = 60.0

# Settings for a disposable cluster: durability buys nothing here.
_SERVER_SETTINGS = {
    "listen_addresses": "",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "40",
    "shared_buffers": "64MB",
    "TimeZone": "UTC",
    # Logical decoding lets calibration measure what a postgres_changes poll costs.
    "wal_level": "logical",
    "log_min_messages": "warning",
    # Calls of PL/pgSQL and SQL functions are counted (pg_stat_user_functions): the review learns which
    # of the reviewed functions its workload ran, the capture which of them switched its trace off.
    "track_functions": "all",
    "logging_collector": "off",
}


# The role untrusted SQL runs as: no superuser, no role that reaches outside the database.
UNTRUSTED_ROLE = "bcastsim_untrusted"
_OUTSIDE_ROLES = ("pg_execute_server_program", "pg_read_server_files", "pg_write_server_files")
# Roles Supabase migrations grant to; they log in nowhere and own nothing.
_SUPABASE_ROLES = ("anon", "authenticated", "service_role")
# Extensions a migration may name that only a superuser can create: the harness creates them first.
HARNESS_EXTENSIONS = frozenset({"pg_stat_statements", "pg_buffercache", "pg_prewarm", "pgstattuple"})

_UNTRUSTED_ROLE_SQL = f"""
DO $role$
DECLARE
  name text;
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{UNTRUSTED_ROLE}') THEN
    CREATE ROLE {UNTRUSTED_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
  END IF;
  FOREACH name IN ARRAY ARRAY{list(_SUPABASE_ROLES)!r} LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', name);
    END IF;
  END LOOP;
END
$role$;
"""
# Hostile SQL can loop, sleep or spill; these bound each of the role's sessions unless the SQL
# raises them for itself (the review's time limit then stops it). A server's
# ``untrusted_settings`` may lower them (tests do, to stay fast).
UNTRUSTED_SETTINGS = {
    "statement_timeout": "120s",
    "temp_file_limit": "1GB",
    "lock_timeout": "30s",
    "idle_in_transaction_session_timeout": "300s",
    "work_mem": "32MB",
}
_UNTRUSTED_CHECK_SQL = f"""
SELECT r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls,
       {", ".join(f"pg_has_role(r.oid, '{name}', 'MEMBER')" for name in _OUTSIDE_ROLES)}
FROM pg_roles r WHERE r.rolname = %s
"""


class ServerStartError(RuntimeError):
    """The throwaway server could not be created or did not come up."""


def _unprivileged_user() -> pwd.struct_passwd:
    names = [os.environ[RUN_AS_ENV]] if os.environ.get(RUN_AS_ENV) else list(_FALLBACK_USERS)
    for name in names:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise ServerStartError(
        f"running as root and none of the users {', '.join(names)} exists to run PostgreSQL; "
        f"create one (useradd --system postgres) or set {RUN_AS_ENV}"
    )


@attrs.define
class EphemeralPostgres:
    """A running throwaway server. Use :meth:`start` as a context manager.

    Exposes the attributes pytest-postgresql's ``postgresql_noproc`` factory reads
    from the fixture it depends on (``host``, ``port``, ``user``, ...).
    """

    binaries: PgBinaries
    directory: Path
    process: subprocess.Popen[bytes]
    _reaper: subprocess.Popen[bytes]
    _reaper_pipe: IO[bytes] | None
    user: str = "postgres"
    password: str | None = None
    options: str = ""
    maintenance_dbname: str = "postgres"
    template_dbname: str | None = None
    _database_counter: Iterator[int] = attrs.field(factory=lambda: itertools.count(1))
    untrusted_settings: dict[str, str] = attrs.field(factory=lambda: dict(UNTRUSTED_SETTINGS))
    _untrusted_applied: dict[str, str] | None = None

    @property
    def host(self) -> str:
        return str(self.directory)

    @property
    def port(self) -> int:
        return _PORT

    @property
    def data_directory(self) -> Path:
        return self.directory / "data"

    @property
    def version(self) -> str:
        return self.binaries.version

    def conninfo(self, dbname: str = "postgres", user: str | None = None) -> str:
        return psycopg.conninfo.make_conninfo(host=self.host, port=self.port, user=user or self.user, dbname=dbname)

    @classmethod
    def start(cls, binaries: PgBinaries | None = None) -> Self:
        """Create a cluster in a new temporary directory and start a server on a private socket."""
        binaries = binaries or find_binaries()
        # Before anything exists: a missing run-as user leaves nothing behind.
        run_as: pwd.struct_passwd | None = _unprivileged_user() if os.geteuid() == 0 else None
        reaper, directory = _start_reaper()
        pipe = reaper.stdin
        assert pipe is not None
        try:
            if run_as is not None:
                os.chown(directory, run_as.pw_uid, run_as.pw_gid)
            _initdb(binaries, directory, run_as)
            process = _spawn_server(binaries, directory, run_as)
            pipe.write(f"server {process.pid}\n".encode())
            pipe.flush()
        except BaseException:
            pipe.close()
            reaper.wait()
            raise
        server = cls(binaries=binaries, directory=directory, process=process, reaper=reaper, reaper_pipe=pipe)
        try:
            server._wait_until_ready()
        except BaseException:
            server.stop()
            raise
        return server

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self._log_tail()
                raise ServerStartError(f"postgres exited with status {self.process.returncode}: {log}")
            try:
                with psycopg.connect(self.conninfo(), connect_timeout=2):
                    return
            except psycopg.OperationalError as error:
                last_error = error
                time.sleep(0.05)
        raise ServerStartError(f"postgres did not accept connections within {_START_TIMEOUT_SECONDS}s: {last_error}")

    def _log_tail(self) -> str:
        log = self.directory / "server.log"
        with contextlib.suppress(OSError):
            return " | ".join(log.read_text(errors="replace").strip().splitlines()[-5:])
        return "(no log)"

    def stop(self) -> None:
        """Shut the server down and remove its directory. Safe to call twice."""
        if self.process.poll() is None:
            self.process.send_signal(2)  # SIGINT: fast shutdown
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._reaper_pipe is not None:
            # End of file tells the reaper to finish: the server is gone, the directory goes.
            self._reaper_pipe.close()
            self._reaper_pipe = None
            self._reaper.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def execute(self, statement: str | sql.SQL | sql.Composed, dbname: str = "postgres") -> None:
        with psycopg.connect(self.conninfo(dbname), autocommit=True) as connection:
            connection.execute(statement)

    def create_database(
        self,
        files: Sequence[str | Path] = (),
        name: str | None = None,
        *,
        untrusted: bool = False,
        extensions: Sequence[str] = (),
    ) -> Database:
        """A new, empty database with ``files`` applied in order, as a :class:`Database`.

        ``untrusted``: the database belongs to :data:`UNTRUSTED_ROLE` and everything (the files,
        later transactions and the triggers they fire) runs as that role, which cannot run
        programs, read or write server files or change server settings. ``extensions`` from
        :data:`HARNESS_EXTENSIONS` are created first, as the superuser.
        """
        dbname = name or f"bcastsim_{os.getpid()}_{next(self._database_counter)}"
        create = sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(dbname))
        user = None
        if untrusted:
            self._ensure_untrusted_role()
            create = sql.SQL("{} OWNER {}").format(create, sql.Identifier(UNTRUSTED_ROLE))
            user = UNTRUSTED_ROLE
        self.execute(create)
        try:
            if untrusted:
                self.execute(TAP_OWNED_SQL, dbname)  # the capture, out of the reviewed SQL's reach
            for extension in dict.fromkeys(extensions):
                if extension in HARNESS_EXTENSIONS:
                    self.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension)), dbname)
            database = Database(self.conninfo(dbname, user))
        except BaseException:
            self.drop_database(dbname)
            raise
        try:
            database.apply_files(files)
        except BaseException:
            database.close()
            self.drop_database(dbname)
            raise
        return database

    def _ensure_untrusted_role(self) -> None:
        if self._untrusted_applied == self.untrusted_settings:
            return
        self.execute(_UNTRUSTED_ROLE_SQL)
        for name, value in sorted(self.untrusted_settings.items()):
            self.execute(
                sql.SQL("ALTER ROLE {} SET {} = {}").format(
                    sql.Identifier(UNTRUSTED_ROLE), sql.Identifier(name), sql.Literal(value)
                )
            )
        with psycopg.connect(self.conninfo(), autocommit=True) as connection:
            row = connection.execute(_UNTRUSTED_CHECK_SQL, (UNTRUSTED_ROLE,)).fetchone()
        if row is None or any(row):
            raise ServerStartError(f"the role {UNTRUSTED_ROLE} has rights it must not have: {row}")
        self._untrusted_applied = dict(self.untrusted_settings)

    def drop_database(self, dbname: str) -> None:
        self.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def _start_reaper() -> tuple[subprocess.Popen[bytes], Path]:
    try:
        return start_reaper("bcastsim-pg-")
    except OSError as error:
        raise ServerStartError(str(error)) from None


def _memory_limits() -> dict[int, tuple[int, int]]:
    """The address space of each server process (inherited by every backend the postmaster forks).

    An unprivileged role may still raise ``work_mem`` for itself; a hash or sort that grows past this
    limit fails with ``out of memory`` in that statement instead of taking the machine's memory.
    """
    raw = os.environ.get(MEMORY_ENV, "").strip()
    try:
        megabytes = int(raw) if raw else _DEFAULT_MEMORY_MB
    except ValueError:
        raise ServerStartError(f"{MEMORY_ENV}={raw!r} is not a whole number of megabytes") from None
    if megabytes <= 0:
        return {}  # 0: no limit
    return {resource.RLIMIT_AS: (megabytes * 1024 * 1024, megabytes * 1024 * 1024)}


def _as_user(run_as: pwd.struct_passwd | None) -> dict[str, object]:
    if run_as is None:
        return {}
    return {"user": run_as.pw_uid, "group": run_as.pw_gid, "extra_groups": []}


def _child_env(run_as: pwd.struct_passwd | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    if run_as is not None:
        env["HOME"] = run_as.pw_dir
        env["USER"] = env["LOGNAME"] = run_as.pw_name
    return env


def _initdb(binaries: PgBinaries, directory: Path, run_as: pwd.struct_passwd | None) -> None:
    command = [
        binaries.path("initdb"),
        "--pgdata", str(directory / "data"),
        "--username", "postgres",
        "--auth", "trust",
        "--encoding", "UTF8",
        "--no-locale",
        "--no-sync",
    ]  # fmt: skip
    try:
        result = subprocess.run(
            command,
            cwd=directory,
            env=_child_env(run_as),
            capture_output=True,
            text=True,
            check=False,
            **_as_user(run_as),  # type: ignore[call-overload]
        )
    except OSError as error:
        raise ServerStartError(f"cannot run {command[0]}: {error.strerror}") from None
    if result.returncode != 0:
        detail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        raise ServerStartError(f"initdb failed with status {result.returncode}: {detail}")


def _spawn_server(binaries: PgBinaries, directory: Path, run_as: pwd.struct_passwd | None) -> subprocess.Popen[bytes]:
    command = [binaries.path("postgres"), "-D", str(directory / "data"), "-p", str(_PORT)]
    command += ["-c", f"unix_socket_directories={directory}"]
    for name, value in _SERVER_SETTINGS.items():
        command += ["-c", f"{name}={value}"]
    command, before_exec = with_limits(command, _memory_limits())
    log = open(directory / "server.log", "ab")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
            command,
            preexec_fn=before_exec,  # noqa: PLW1509 - only without prlimit(1)
            cwd=directory,
            env=_child_env(run_as),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C in the terminal is for the tests, and shutdown is ours to order.
            start_new_session=True,
            **_as_user(run_as),
        )
    except OSError as error:
        raise ServerStartError(f"cannot run {command[0]}: {error.strerror}") from None
    finally:
        log.close()
