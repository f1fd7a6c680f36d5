"""pytest plugin: a real, throwaway PostgreSQL with your SQL loaded, and property runs that must test something.

Registered through the ``pytest11`` entry point, so installing bcastsim is
enough. The server is started by bcastsim (as an unprivileged user when the
tests run as root) and handed to pytest-postgresql's ``postgresql_noproc``
factory, which loads the SQL files into a template database once per session
and clones a fresh database from it for every test.

Configuration (``[tool.pytest.ini_options]`` or ``pytest.ini``):

``bcastsim_sql``
    the SQL files loaded, in order, into every test database; paths relative to
    the ini file, plus the token ``bcastsim:realtime`` for the minimal Supabase
    ``realtime`` schema shipped with bcastsim (``realtime.send``). Required by the
    database fixtures; a path that does not exist stops the run with one line.
``bcastsim_require_pg`` / ``--bcastsim-require-pg``
    fail, instead of skipping, the database tests when the machine has no
    PostgreSQL server binaries. On by default when the ``CI`` variable is set.

Fixtures:

``bcastsim_server``
    session-scoped :class:`~bcastsim.pg.EphemeralPostgres`.
``bcastsim_db`` (and ``bcastsim_postgresql``, its psycopg connection)
    a fresh database per test, with the capture API. Function-scoped: not for ``@given``.
``bcastsim_shared_db``
    one database for the whole session, safe with ``@given``: call its
    ``reset()`` at the start of each example (it empties every table).
``bcastsim_differential``
    session-scoped :class:`~bcastsim.db.Differential` of that database and a model of
    the same SQL, safe with ``@given`` (``run_history`` resets both sides).
``bcastsim_database_factory``
    ``factory(files) -> Database``: a new database with other SQL loaded.

Never vacuous, never partial: every Hypothesis test that runs transactions
through bcastsim records which notify sites fired (``--bcastsim-coverage`` prints
the table per test). Such a test fails when none of its transactions committed,
when no notify site fired, or when fewer than ``bcastsim_min_site_share`` (ini,
default 1.0) of the sites a row can reach fired — a site the solver proves
unreachable is named in the table, not counted. Mark a test
``@pytest.mark.bcastsim_allow_vacuous`` when firing little or nothing is what it
means to test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pytest_postgresql import factories

from bcastsim._resources import realtime_sql_file
from bcastsim.db import DatabaseModel, Differential
from bcastsim.db._coverage import Coverage, recording
from bcastsim.pg._binaries import PgBinariesNotFound
from bcastsim.pg._capture import Database
from bcastsim.pg._server import EphemeralPostgres

__all__ = [
    "bcastsim_database_factory",
    "bcastsim_db",
    "bcastsim_differential",
    "bcastsim_noproc",
    "bcastsim_postgresql",
    "bcastsim_server",
    "bcastsim_shared_db",
    "bcastsim_sql_files",
    "pytest_addoption",
    "pytest_configure",
    "pytest_runtest_call",
    "pytest_terminal_summary",
]

_INI_SQL = "bcastsim_sql"
_INI_REQUIRE = "bcastsim_require_pg"
_INI_SHARE = "bcastsim_min_site_share"
_REALTIME_TOKEN = "bcastsim:realtime"
_ALLOW_VACUOUS = "bcastsim_allow_vacuous"
_HOW_TO_CONFIGURE = (
    "set bcastsim_sql under [tool.pytest.ini_options] to your SQL files in load order, e.g."
    f' bcastsim_sql = ["{_REALTIME_TOKEN}", "db/schema.sql", "db/triggers.sql"]'
)
# pytest-postgresql's loaders receive only connection arguments, so the files the
# session was configured with are kept here for the template loader.
_configured_sql: list[Path] = []
_coverage_key = pytest.StashKey[Coverage]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        _INI_SQL,
        type="linelist",
        help=f"SQL files loaded, in order, into bcastsim's test databases ({_REALTIME_TOKEN}: the realtime stub)",
    )
    parser.addini(_INI_REQUIRE, type="bool", default=None, help="fail instead of skip when PostgreSQL is missing")
    parser.addini(
        _INI_SHARE, type="string", default="1.0",
        help="share of reachable notify sites a property test must fire (0 to 1, default 1.0)",
    )  # fmt: skip
    group = parser.getgroup("bcastsim")
    group.addoption(
        "--bcastsim-require-pg", action="store_true", default=None,
        help="fail, instead of skipping, tests that need PostgreSQL when it is not installed (default when CI is set)",
    )  # fmt: skip
    group.addoption(
        "--bcastsim-coverage", action="store_true", default=False,
        help="print, per property test, which notify sites fired",
    )  # fmt: skip


def _resolve_sql(config: pytest.Config) -> list[Path]:
    base = Path(config.inipath).parent if config.inipath else Path(config.rootpath)
    where = config.inipath.name if config.inipath else "the ini file"
    resolved = []
    for entry in config.getini(_INI_SQL):
        path = realtime_sql_file() if entry.strip() == _REALTIME_TOKEN else base / entry.strip()
        if not path.is_file():
            raise pytest.UsageError(
                f"{where}: {_INI_SQL}: {entry.strip()} does not exist (looked for {path});"
                f" fix the path (relative to {base}) or use {_REALTIME_TOKEN} for the realtime schema"
            )
        resolved.append(path)
    return resolved


def _require_pg(config: pytest.Config) -> bool:
    option = config.getoption("--bcastsim-require-pg")
    if option is not None:
        return bool(option)
    ini = config.getini(_INI_REQUIRE)
    if ini is not None:
        return bool(ini)
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _min_share(config: pytest.Config) -> float:
    text = str(config.getini(_INI_SHARE)).strip()
    try:
        share = float(text)
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 1.0:
        where = config.inipath.name if config.inipath else "the ini file"
        raise pytest.UsageError(f"{where}: {_INI_SHARE} = {text!r} is not a share; fix: a number from 0 to 1")
    return share


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_ALLOW_VACUOUS}: a property test that may commit nothing or fire fewer sites than {_INI_SHARE}",
    )
    _configured_sql[:] = _resolve_sql(config)
    _min_share(config)


def _load_configured_sql(*, host: str, port: int, user: str, dbname: str, password: str | None, **_: Any) -> None:
    if not _configured_sql:
        pytest.fail(f"bcastsim: no SQL to load into the test database: {_HOW_TO_CONFIGURE}", pytrace=False)
    for path in _configured_sql:
        with psycopg.connect(host=host, port=port, user=user, dbname=dbname, password=password) as connection:
            connection.execute(path.read_text())


@pytest.fixture(scope="session")
def bcastsim_sql_files() -> list[Path]:
    """The SQL files every bcastsim test database starts from (``bcastsim_sql``)."""
    if not _configured_sql:
        pytest.fail(f"bcastsim: no SQL configured: {_HOW_TO_CONFIGURE}", pytrace=False)
    return list(_configured_sql)


@pytest.fixture(scope="session")
def bcastsim_server(request: pytest.FixtureRequest) -> Iterator[EphemeralPostgres]:
    """A throwaway PostgreSQL server for the whole session, removed at its end."""
    try:
        server = EphemeralPostgres.start()
    except PgBinariesNotFound as missing:
        if _require_pg(request.config):
            pytest.fail(f"bcastsim: PostgreSQL is required here (CI or --bcastsim-require-pg): {missing}",
                        pytrace=False)  # fmt: skip
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


@pytest.fixture(scope="session")
def bcastsim_shared_db(bcastsim_server: EphemeralPostgres, bcastsim_sql_files: list[Path]) -> Iterator[Database]:
    """One database with the configured SQL for the whole session: safe with ``@given``; ``reset()`` per example."""
    database = bcastsim_server.create_database(bcastsim_sql_files)
    with database:
        yield database


@pytest.fixture(scope="session")
def bcastsim_differential(bcastsim_shared_db: Database, bcastsim_sql_files: list[Path]) -> Iterator[Differential]:
    """The shared database and a model of the same SQL, fed the same histories (safe with ``@given``)."""
    model = DatabaseModel.from_sql(bcastsim_sql_files)
    pair = Differential.for_tables(bcastsim_shared_db, model)
    yield pair
    pair.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Record what a property test's transactions did; fail it when it tested nothing."""
    function = getattr(item, "obj", None)
    if not getattr(function, "is_hypothesis_test", False):
        return (yield)
    with recording() as coverage:
        result = yield
    item.stash[_coverage_key] = coverage
    if coverage.transactions:
        _note_unreachable(coverage)
        item.add_report_section("call", "bcastsim coverage", coverage.table())
        if item.get_closest_marker(_ALLOW_VACUOUS) is None:
            reason = coverage.vacuous()
            if reason is not None:
                pytest.fail(f"bcastsim: vacuous property test: {reason}", pytrace=False)
            reason = coverage.shortfall(_min_share(item.config))
            if reason is not None:
                pytest.fail(f"bcastsim: partial property test ({_INI_SHARE}): {reason}", pytrace=False)
    return result


_unreachable_cache: dict[tuple[str, ...], dict[str, str]] = {}


def _note_unreachable(coverage: Coverage) -> None:
    """Sites no row can reach, decided on the SQL the test ran (when its strategies did not say)."""
    if coverage.unreachable or not coverage.sql_files:
        return
    if coverage.sql_files not in _unreachable_cache:
        from bcastsim.db import load_schema
        from bcastsim.strategies._solver import reachability

        _unreachable_cache[coverage.sql_files] = reachability(load_schema(list(coverage.sql_files))).unreachable
    coverage.unreachable.update(_unreachable_cache[coverage.sql_files])


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not config.getoption("--bcastsim-coverage"):
        return
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for title, text in getattr(report, "sections", ()):
                if "bcastsim coverage" in title:
                    terminalreporter.write_sep("-", f"bcastsim coverage: {report.nodeid}")
                    terminalreporter.write_line(text)
