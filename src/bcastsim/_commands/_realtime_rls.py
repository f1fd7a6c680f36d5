"""Time Realtime's own ``realtime.apply_rls`` against the number of postgres_changes subscriptions.

Realtime's poller calls ``realtime.list_changes`` (lib/extensions/postgres_cdc_rls/replications.ex),
which decodes the slot with wal2json and passes every decoded change of a published table to
``realtime.apply_rls``. That function gathers every row of ``realtime.subscription`` for the changed
table and, with RLS on, takes on each subscriber's role and JWT claims in turn and runs a prepared
SELECT of the changed row under the table's policies; one row per postgres_changes subscription and
client, so 5 per user of a page with five ``.on('postgres_changes', ...)`` listeners.

The SQL is the user's copy of Realtime's (its tenant schema dump, or a directory of SQL files), or a
database that already has it (``--dsn``, timed in a transaction that is rolled back); bcastsim
ships none of it. ``apply_rls`` is handed the change in wal2json's format-version 2 shape, which is
what ``list_changes`` passes it. Where the server has wal2json, Realtime's own ``realtime.list_changes``
is then timed whole on a temporary wal2json slot, as the poller calls it (:func:`measure_list_changes`):
decoding and ``apply_rls`` together, against the simulator's sum of the two.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bcastsim._errors import InputError
from bcastsim._io import read_text

if TYPE_CHECKING:
    import psycopg

    from bcastsim.pg import Database, EphemeralPostgres

__all__ = [
    "BIDS_POLICY",
    "LIST_CHANGES_BATCH",
    "LIST_CHANGES_USERS",
    "SUBSCRIPTION_SIZES",
    "TABLES",
    "check_dsn",
    "describe_dsn",
    "fit_quadratic",
    "measure_apply_rls",
    "measure_apply_rls_at",
    "measure_list_changes",
    "realtime_sql_files",
    "sql_digest",
]

# The seed's five postgres_changes listeners per user.
TABLES = ("bids", "votes", "art", "art_media", "round_contestants")
# Subscriptions in all (5 per user): 20 to 2,000 users, the seed's "1000-2000 users x 5".
SUBSCRIPTION_SIZES = (100, 500, 1000, 2500, 5000, 10000)
# Where a Realtime checkout keeps its tenant schema as one file.
_DUMP_PATHS = ("priv/repo/tenant_db_dump_15.sql", "tenant_db_dump_15.sql")
_FIX = "pass Realtime's tenant schema: priv/repo/tenant_db_dump_15.sql of a supabase/realtime checkout"

# The roles Realtime's SQL grants to and owns objects as; on Supabase they exist already.
_ROLES = """
DO $roles$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['supabase_admin', 'anon', 'authenticated', 'service_role', 'dashboard_user', 'postgres']
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
END
$roles$;
"""

# A bid visible to signed-in users of an event's artwork: the seed names no policies, so both
# measurements (Realtime's apply_rls and the inline one) time this one: a claims check and a join.
BIDS_POLICY = """
ALTER TABLE bids ENABLE ROW LEVEL SECURITY;
CREATE POLICY bcastsim_bids_of_events ON bids FOR SELECT TO authenticated USING (
  (current_setting('request.jwt.claims', true)::jsonb ->> 'aud') = 'authenticated'
  AND EXISTS (SELECT 1 FROM art a JOIN events e ON e.id = a.event_id WHERE a.id = bids.art_id));
"""
_POLICY = "GRANT SELECT ON bids, votes, art, art_media, round_contestants, events TO authenticated;" + BIDS_POLICY

# One row per listener, as Realtime's subscription insert writes them (Subscriptions.create/5):
# no filters, every action, the client's JWT claims.
_SUBSCRIBE = """
INSERT INTO realtime.subscription (subscription_id, entity, claims)
SELECT md5('listener' || u || t)::uuid, format('%%I.%%I', %s::text, t)::regclass,
       jsonb_build_object(
         'aud', 'authenticated', 'role', 'authenticated', 'sub', md5('person' || u)::uuid,
         'exp', 1999999999, 'iat', 1755400000, 'iss', 'https://example.supabase.co/auth/v1',
         'email', 'viewer' || u || '@example.com', 'phone', '', 'aal', 'aal1', 'is_anonymous', false,
         'session_id', md5('session' || u)::uuid, 'app_metadata', '{"provider": "email"}'::jsonb,
         'user_metadata', '{}'::jsonb, 'amr', '[{"method": "password", "timestamp": 1755400000}]'::jsonb)
FROM generate_series(1, %s) u, unnest(%s::text[]) t
"""
# Only the calibration's own listeners: on a live database Realtime's rows stay untouched (and unlocked).
_UNSUBSCRIBE = """
DELETE FROM realtime.subscription
WHERE entity IN (SELECT to_regclass(format('%%I.%%I', %s::text, t)) FROM unnest(%s::text[]) t)
"""

# The bid as wal2json (format-version 2, include-pk, include-type-oids, include-timestamp) decodes it.
_CHANGE = """
SELECT jsonb_build_object(
  'action', 'I', 'schema', %s::text, 'table', 'bids',
  'timestamp', to_char(b.created_at AT TIME ZONE 'utc', 'YYYY-MM-DD HH24:MI:SS.US+00'),
  'columns', (SELECT jsonb_agg(jsonb_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                                                  'typeoid', a.atttypid::int, 'value', to_jsonb(b) -> a.attname)
                               ORDER BY a.attnum)
              FROM pg_attribute a
              WHERE a.attrelid = to_regclass(format('%%I.bids', %s::text)) AND a.attnum > 0 AND NOT a.attisdropped),
  'pk', jsonb_build_array(jsonb_build_object('name', 'id', 'type', 'uuid', 'typeoid', 2950)))
FROM bids b ORDER BY b.created_at LIMIT 1
"""

_TIMER = """
CREATE OR REPLACE FUNCTION {schema}.bcastsim_cal_apply_rls(change jsonb, n int, expected int) RETURNS double precision
LANGUAGE plpgsql AS $cal$
DECLARE
  t0 timestamptz;
  v_seen int;
  v_errors text[];
BEGIN
  t0 := clock_timestamp();
  FOR i IN 1..n LOOP
    SELECT coalesce(sum(cardinality(r.subscription_ids)), 0)::int, max(r.errors)
    INTO v_seen, v_errors FROM realtime.apply_rls(change) r;
  END LOOP;
  IF v_seen <> expected OR coalesce(cardinality(v_errors), 0) > 0 THEN
    RAISE EXCEPTION 'realtime.apply_rls let % of the % listeners of bids see the bid (errors %): %',
      v_seen, expected, v_errors, 'the policy was not measured';
  END IF;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1000.0 / n;
END
$cal$;
"""


_MISSING = (
    "SELECT f FROM unnest(ARRAY['realtime.apply_rls(jsonb,integer)']) f WHERE to_regprocedure(f) IS NULL "
    "UNION ALL SELECT 'realtime.subscription' WHERE to_regclass('realtime.subscription') IS NULL"
)
_FIX_DSN = "pass the connection string of a database with Supabase Realtime's schema, or use --realtime-sql"


def realtime_sql_files(path: Path) -> list[Path]:
    """The SQL to load for ``--realtime-sql``, each file read once here so a bad one fails before measuring.

    ``path`` is the file, a Realtime checkout (its tenant schema dump), or a directory of ``*.sql``.
    """
    if path.is_dir():
        files = [path / relative for relative in _DUMP_PATHS if (path / relative).is_file()][:1]
        files = files or sorted(p for p in path.glob("*.sql") if p.is_file())
        if not files:
            raise InputError("no Realtime SQL here (no tenant_db_dump_15.sql, no *.sql)", path=path, fix=_FIX)
    elif path.is_file():
        files = [path]
    else:
        problem = "not a regular file or directory" if path.exists() else "no such file or directory"
        raise InputError(problem, path=path, fix=_FIX)
    for file in files:
        read_text(file, "Realtime SQL")
    return files


def describe_dsn(dsn: str) -> str:
    """Where a connection string points, without its password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(dsn)
    except Exception as error:  # psycopg raises ProgrammingError; the message says which part is wrong
        raise InputError(f"not a connection string: {error}", path="--dsn", fix=_FIX_DSN) from None
    return f"host {parts.get('host') or 'local socket'}, database {parts.get('dbname') or '(default)'}"


def sql_digest(files: list[Path]) -> str:
    """sha256 of the loaded SQL, so the cost model names exactly which Realtime it measured."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()


# What Realtime's SQL needs of the role that loads it, granted by bcastsim for the calibration only:
# the tenant dump makes supabase_realtime_admin (a NOLOGIN role in anon, authenticated and
# service_role) and supabase_admin own its objects (ALTER … OWNER TO needs membership in the new
# owner, and the owner CREATE on the database), apply_rls takes on each subscriber's role
# (membership in authenticated), and list_changes reads a logical slot (REPLICATION, which the
# poller's role has on Supabase). None of these roles can log in or reach outside the database.
# The ``realtime`` schema exists before the SQL runs (its ``CREATE SCHEMA IF NOT EXISTS`` keeps it).
_REALTIME_OWNERS = ("supabase_admin", "supabase_realtime_admin")
_REALTIME_MEMBERSHIPS = (*_REALTIME_OWNERS, "anon", "authenticated", "service_role", "dashboard_user")
_REALTIME_ADMIN = """
DO $admin$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'supabase_realtime_admin') THEN
    CREATE ROLE supabase_realtime_admin NOSUPERUSER NOINHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;
  END IF;
END
$admin$;
GRANT anon, authenticated, service_role TO supabase_realtime_admin;
-- As the dump's own block does: list_changes is created with SET log_min_messages (PostgreSQL 15+).
DO $parameter$
BEGIN
  IF current_setting('server_version_num')::int >= 150000 THEN
    EXECUTE 'GRANT SET ON PARAMETER log_min_messages TO supabase_realtime_admin';
  END IF;
END
$parameter$;
"""


@contextlib.contextmanager
def _realtime_rights(server: EphemeralPostgres, dbname: str) -> Iterator[None]:
    """The untrusted role holds what Realtime's SQL needs while it is loaded and timed, and no longer."""
    from psycopg import sql

    from bcastsim.pg import UNTRUSTED_ROLE

    role = sql.Identifier(UNTRUSTED_ROLE)
    memberships = sql.SQL(", ").join(sql.Identifier(name) for name in _REALTIME_MEMBERSHIPS)
    owners = sql.SQL(", ").join(sql.Identifier(name) for name in _REALTIME_OWNERS)
    server.execute(_REALTIME_ADMIN)
    server.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(sql.Identifier(dbname), owners))
    server.execute(sql.SQL("GRANT {} TO {}").format(memberships, role))
    server.execute(sql.SQL("ALTER ROLE {} REPLICATION").format(role))
    # The schema the SQL fills, the role's own; the owner of its types and functions may create in it.
    server.execute(
        sql.SQL("CREATE SCHEMA realtime AUTHORIZATION {}; GRANT USAGE, CREATE ON SCHEMA realtime TO {}").format(
            role, sql.Identifier("supabase_realtime_admin")
        ),
        dbname,
    )
    try:
        yield
    finally:
        server.execute(sql.SQL("ALTER ROLE {} NOREPLICATION").format(role))
        server.execute(sql.SQL("REVOKE {} FROM {}").format(memberships, role))


def _load(db: Database, files: list[Path]) -> None:
    """The user's Realtime SQL loaded into ``db`` as the untrusted role; refused SQL is an input error.

    Call it inside :func:`_realtime_rights`.
    """
    import psycopg

    for path in files:
        text = read_text(path, "Realtime SQL")
        try:
            # Its own connection: a schema dump changes session settings (search_path, row_security).
            with psycopg.connect(db.conninfo, autocommit=True) as connection:
                connection.execute(text)  # the user's SQL, run as written
        except psycopg.Error as error:
            message = " ".join((error.diag.message_primary or str(error)).split())
            raise InputError(f"PostgreSQL refused this Realtime SQL: {message}", path=path, fix=_FIX) from None
    missing = db.execute(_MISSING)
    if missing:
        names = ", ".join(str(row[0]) for row in missing)
        raise InputError(f"the Realtime SQL does not define {names}", path=files[-1], fix=_FIX)


_CALIBRATION_DB = "bcastsim_calibrate_realtime"


def _untrusted_database(server: EphemeralPostgres, schema: Path) -> Database:
    """The calibration's database, owned by the untrusted role, with the seed's tables loaded as that role."""
    server.drop_database(_CALIBRATION_DB)
    return server.create_database([schema], name=_CALIBRATION_DB, untrusted=True)


def _fit_line(points: list[tuple[float, float]]) -> tuple[float, float, float]:
    mean_n = sum(n for n, _ in points) / len(points)
    mean_t = sum(t for _, t in points) / len(points)
    spread = sum((n - mean_n) ** 2 for n, _ in points)
    if spread == 0:  # one size: all of it per listener
        return 0.0, mean_t / mean_n, 0.0
    # Times that fall with more listeners are noise: no listener makes the work cheaper.
    b = max(0.0, sum((n - mean_n) * (t - mean_t) for n, t in points) / spread)
    return max(0.0, mean_t - b * mean_n), b, 0.0


def fit_quadratic(points: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Least-squares a + b n + c n^2 through (n, ms); no term below 0 (a negative one takes the line instead)."""
    if len({n for n, _ in points}) < 3:
        return _fit_line(points)
    sums = [sum(n**k for n, _ in points) for k in range(5)]
    rhs = [sum(t * n**k for n, t in points) for k in range(3)]
    matrix = [[sums[i + j] for j in range(3)] for i in range(3)]

    def det(m: list[list[float]]) -> float:
        return (
            m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        )

    whole = det(matrix)
    a, b, c = (
        det([[rhs[i] if j == k else matrix[i][j] for j in range(3)] for i in range(3)]) / whole for k in range(3)
    )
    if c < 0 or b < 0:  # no measurable curvature, or a curve that falls at first: the straight line instead
        return _fit_line(points)
    return max(0.0, a), b, c


Execute = Callable[[str, Sequence[Any] | None], "list[tuple[Any, ...]] | None"]


def _time_sizes(execute: Execute, namespace: str, fixtures: str, runs: int, sizes: tuple[int, ...]) -> dict[str, float]:
    """The timings and their fit, in a database whose ``namespace`` holds the seed's tables."""
    from psycopg import sql
    from psycopg.types.json import Jsonb

    execute(fixtures, None)
    execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO authenticated").format(sql.Identifier(namespace)).as_string(), None)
    execute(_POLICY, None)
    # In the tables' schema: the first on a review database's search_path is the capture's, not writable.
    execute(sql.SQL(_TIMER).format(schema=sql.Identifier(namespace)).as_string(), None)
    rows = execute(_CHANGE, (namespace, namespace))
    assert rows, "the fixture bid is missing"
    change = Jsonb(rows[0][0])
    points: list[tuple[float, float]] = []
    out: dict[str, float] = {}
    for size in sizes:
        users = max(1, size // len(TABLES))
        execute(_UNSUBSCRIBE, (namespace, list(TABLES)))
        execute(_SUBSCRIBE, (namespace, users, list(TABLES)))
        execute("ANALYZE realtime.subscription", None)
        timer = (
            sql.SQL("SELECT {}.bcastsim_cal_apply_rls(%s::jsonb, %s, %s)").format(sql.Identifier(namespace)).as_string()
        )
        execute(timer, (change, 1, users))  # plans and caches warm
        values = []
        for _ in range(runs):
            result = execute(timer, (change, max(3, 8000 // users), users))
            assert result
            values.append(float(result[0][0]))
        # The fastest run: on a shared machine other work only ever adds time.
        fastest = min(values)
        points.append((float(users), fastest))
        out[f"measured_apply_rls_{users * len(TABLES)}_subscriptions_ms"] = fastest
    intercept, per, pair = fit_quadratic(points)
    return {"rls_change_ms": intercept, "auth_read_ms": per, "auth_pair_ms": pair, **out}


def measure_apply_rls(
    server: EphemeralPostgres,
    files: list[Path],
    *,
    schema: Path,
    fixtures: str,  # the rows the policy's join reads and one bid
    runs: int,
    sizes: tuple[int, ...] = SUBSCRIPTION_SIZES,
) -> dict[str, float]:
    """Milliseconds of ``realtime.apply_rls`` for one bid insert by subscriptions in all (5 per user).

    Returns the fit the simulator reads (``rls_change_ms`` + ``auth_read_ms`` n + ``auth_pair_ms`` n^2
    for n listeners of the changed table) and each size's fastest run as ``measured_apply_rls_*``.
    """
    server.execute(_ROLES)
    db = _untrusted_database(server, schema)
    try:
        with _realtime_rights(server, _CALIBRATION_DB):
            _load(db, files)
            out = _time_sizes(db.execute, "public", fixtures, runs, sizes)
            out.update(measure_list_changes(db, runs=runs))
            return out
    finally:
        db.close()
        server.drop_database(_CALIBRATION_DB)


# The poller's call (lib/extensions/postgres_cdc_rls/replications.ex): publication, slot, max_changes 100,
# max_record_bytes 1,048,576 (db_settings.ex defaults).
_LIST_CHANGES = (
    "SELECT coalesce(sum(cardinality(subscription_ids)), 0)::int, count(wal)::int, max(slot_changes_count)::int "
    "FROM realtime.list_changes('bcastsim_calibration', %s, 100, 1048576)"
)
_LIST_SLOT = "bcastsim_calibrate_list_changes"
# Listeners of bids when list_changes is timed whole (1,000 subscriptions), and bids per timed call.
LIST_CHANGES_USERS = 200
LIST_CHANGES_BATCH = 10


def measure_list_changes(
    db: Database, *, runs: int, users: int = LIST_CHANGES_USERS, batch: int = LIST_CHANGES_BATCH
) -> dict[str, float]:
    """Realtime's ``realtime.list_changes`` timed whole on a temporary wal2json slot, as the poller calls it.

    ``users`` listeners (5 subscriptions each) of the calibration's tables; an empty call, then a call that
    returns ``batch`` one-bid transactions, each fastest of ``runs``. Without logical decoding it returns
    nothing; without wal2json (``list_changes`` asks for wal2json's options) only
    ``measured_list_changes_wal2json = 0``.
    """
    import psycopg

    from bcastsim._commands.calibrate import open_slot

    if db.execute("SELECT to_regprocedure('realtime.list_changes(name,name,integer,integer)') IS NULL") != [(False,)]:
        return {}  # this Realtime SQL has no list_changes: apply_rls alone is what can be timed
    db.execute("CREATE PUBLICATION bcastsim_calibration FOR TABLE bids")
    db.execute(_UNSUBSCRIBE, ("public", list(TABLES)))
    db.execute(_SUBSCRIBE, ("public", users, list(TABLES)))
    db.execute("ANALYZE realtime.subscription")
    insert = (
        "INSERT INTO bids (art_id, person_id, amount) SELECT art_id, person_id, amount + 1 FROM bids "
        "ORDER BY created_at LIMIT 1"
    )
    with (
        psycopg.connect(db.conninfo, autocommit=True) as poller,
        psycopg.connect(db.conninfo, autocommit=True) as writer,
    ):
        writer.execute("SET synchronous_commit = on")  # decoding reads only flushed WAL
        try:
            decoder, _why = open_slot(poller, _LIST_SLOT)
        except psycopg.Error:
            return {}  # no logical decoding here (wal_level, max_replication_slots)
        try:
            if decoder.plugin != "wal2json":
                return {"measured_list_changes_wal2json": 0.0}

            def call() -> tuple[float, tuple[int, int, int]]:
                start = time.perf_counter()
                row = poller.execute(_LIST_CHANGES, (_LIST_SLOT,)).fetchone()
                elapsed = (time.perf_counter() - start) * 1000.0
                assert row is not None
                return elapsed, (int(row[0]), int(row[1]), int(row[2] or 0))

            call()  # plans and caches warm
            empty: list[float] = []
            full: list[float] = []
            for _ in range(max(1, runs)):
                while call()[1][2]:
                    pass  # drained
                empty.append(call()[0])
                for _ in range(batch):
                    writer.execute(insert)
                elapsed, (seen, rows, changes) = call()
                if changes != batch or rows != batch or seen != batch * users:
                    raise psycopg.DataError(
                        f"realtime.list_changes returned {rows} changes seen {seen} times for {batch} bids and "
                        f"{users} listeners: the policy was not measured"
                    )
                full.append(elapsed)
        finally:
            with contextlib.suppress(psycopg.Error):
                poller.execute("SELECT pg_drop_replication_slot(%s)", (_LIST_SLOT,))
    subs = users * len(TABLES)
    return {
        "measured_list_changes_wal2json": 1.0,
        "measured_list_changes_empty_ms": min(empty),
        f"measured_list_changes_{batch}_changes_{subs}_subscriptions_ms": min(full),
        f"measured_list_changes_per_change_{subs}_subscriptions_ms": (min(full) - min(empty)) / batch,
    }


# Where the calibration's tables live on a database it does not own; rolled back with everything else.
_SCRATCH = "bcastsim_calibration"


def _connect(dsn: str) -> psycopg.Connection[tuple[Any, ...]]:
    import psycopg

    try:
        return psycopg.connect(dsn)
    except psycopg.Error as error:
        message = " ".join(str(error).split())
        raise InputError(f"cannot connect: {message}", path="--dsn", fix="pass a libpq connection string") from None


def _require_realtime(connection: psycopg.Connection[tuple[Any, ...]]) -> None:
    missing = connection.execute(_MISSING).fetchall()
    if missing:
        names = ", ".join(str(row[0]) for row in missing)
        raise InputError(f"the database has no {names}", path="--dsn", fix=_FIX_DSN)


def check_dsn(dsn: str) -> str:
    """Fail before minutes of measuring when ``dsn`` is unreachable or lacks Realtime; where it points."""
    where = describe_dsn(dsn)
    with _connect(dsn) as connection:
        _require_realtime(connection)
    return where


def measure_apply_rls_at(
    dsn: str, *, schema: Path, fixtures: str, runs: int, sizes: tuple[int, ...] = SUBSCRIPTION_SIZES
) -> dict[str, float]:
    """:func:`measure_apply_rls` on a database that already has Realtime's schema (a Supabase project).

    Everything runs in one transaction that is rolled back: the seed's tables in a schema of their
    own, their policy, the calibration's rows in ``realtime.subscription`` (invisible to Realtime,
    which reads only committed rows) and the timing function. Nothing is left behind.
    """
    import psycopg

    with _connect(dsn) as connection:
        try:
            _require_realtime(connection)
            ident = psycopg.sql.Identifier(_SCRATCH)
            connection.execute(psycopg.sql.SQL("CREATE SCHEMA {}").format(ident))
            connection.execute(psycopg.sql.SQL("SET LOCAL search_path TO {}, public").format(ident))
            connection.execute(read_text(schema, "SQL file"))  # the built-in schema, run as written

            def execute(statement: str, params: Sequence[Any] | None) -> list[tuple[Any, ...]] | None:
                cursor = connection.execute(statement, params)
                return cursor.fetchall() if cursor.description is not None else None

            return _time_sizes(execute, _SCRATCH, fixtures, runs, sizes)
        finally:
            connection.rollback()
