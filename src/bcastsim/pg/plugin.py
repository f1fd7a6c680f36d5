"""pytest plugin: a real, throwaway PostgreSQL with the system under test loaded.

Registered through the ``pytest11`` entry point, so installing bcastsim is
enough. The server is started by bcastsim (as an unprivileged user when the
tests run as root) and handed to pytest-postgresql's ``postgresql_noproc``
factory, which loads the SQL files into a template database once per session
and clones a fresh database from it for every test.

Fixtures:

``bcastsim_server``
    session-scoped :class:`~bcastsim.pg.EphemeralPostgres`; the test is skipped,
    with what to install, when the machine has no PostgreSQL server binaries.
``bcastsim_postgresql``
    a psycopg connection to a fresh database with the SQL files loaded.
``bcastsim_db``
    the same fresh database as a :class:`~bcastsim.pg.Database` (capture API).
``bcastsim_database_factory``
    ``factory(files) -> Database``: a new database with other SQL loaded
    (a migration under review, a variant of the triggers).

The SQL files come from the ``bcastsim_sql`` ini option (paths relative to the
ini file), defaulting to the SQL shipped with bcastsim.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pytest_postgresql import factories

from bcastsim._resources import builtin_sql_files
from bcastsim.pg._binaries import PgBinariesNotFound
from bcastsim.pg._capture import Database
from bcastsim.pg._server import EphemeralPostgres

__all__ = [
    "bcastsim_database_factory",
    "bcastsim_db",
    "bcastsim_noproc",
    "bcastsim_postgresql",
    "bcastsim_server",
    "bcastsim_sql_files",
]

_INI_SQL = "bcastsim_sql"
# pytest-postgresql's loaders receive only connection arguments, so the files the
# session was configured with are kept here for the template loader.
_configured_sql: list[Path] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(_INI_SQL, type="paths", help="SQL files loaded, in order, into bcastsim's test databases")


def pytest_configure(config: pytest.Config) -> None:
    configured = [Path(p) for p in config.getini(_INI_SQL)]
    _configured_sql[:] = configured or builtin_sql_files()


def _load_configured_sql(*, host: str, port: int, user: str, dbname: str, password: str | None, **_: Any) -> None:
    for path in _configured_sql:
        with psycopg.connect(host=host, port=port, user=user, dbname=dbname, password=password) as connection:
            connection.execute(path.read_text())


@pytest.fixture(scope="session")
def bcastsim_sql_files() -> list[Path]:
    """The SQL files every bcastsim test database starts from."""
    return list(_configured_sql)


@pytest.fixture(scope="session")
def bcastsim_server() -> Iterator[EphemeralPostgres]:
    """A throwaway PostgreSQL server for the whole session, removed at its end."""
    try:
        server = EphemeralPostgres.start()
    except PgBinariesNotFound as missing:
        pytest.skip(str(missing))
    with server:
        yield server


bcastsim_noproc = factories.postgresql_noproc(
    dbname="bcastsim", depends_on="bcastsim_server", load=[_load_configured_sql]
)
bcastsim_postgresql = factories.postgresql("bcastsim_noproc")


@pytest.fixture
def bcastsim_db(bcastsim_postgresql: psycopg.Connection[Any]) -> Iterator[Database]:
    """A fresh database with the configured SQL loaded, with the capture API."""
    info = bcastsim_postgresql.info
    conninfo = psycopg.conninfo.make_conninfo(host=info.host, port=info.port, user=info.user, dbname=info.dbname)
    with Database(conninfo) as database:
        yield database


@pytest.fixture(scope="session")
def bcastsim_database_factory(
    bcastsim_server: EphemeralPostgres,
) -> Iterator[Callable[[Sequence[str | Path]], Database]]:
    """``factory(files)``: a new database on the session's server with ``files`` loaded in order."""
    created: list[Database] = []

    def factory(files: Sequence[str | Path]) -> Database:
        database = bcastsim_server.create_database(files)
        created.append(database)
        return database

    yield factory
    for database in created:
        database.close()
