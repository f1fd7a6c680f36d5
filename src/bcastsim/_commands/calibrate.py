"""``bcastsim calibrate``: measure per-operation database costs on a real PostgreSQL for the simulator.

Each cost is timed inside the server (``clock_timestamp()`` around a PL/pgSQL loop), so client and
network overhead stay out; the median of several runs is written to ``models/costs.toml``.

The two postgres_changes poll costs are timed from the client instead, one
``pg_logical_slot_get_changes`` call at a time as Realtime's poller makes them, on a temporary
logical replication slot. Supabase decodes with wal2json (Debian's ``postgresql-15-wal2json``), asked
for what ``realtime.list_changes`` asks; where the server lacks it, the built-in ``test_decoding`` plugin
stands in and the cost model says so. A server without ``wal_level = logical`` keeps the built-in
estimates.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from bcastsim._commands._realtime_rls import (
    BIDS_POLICY,
    SUBSCRIPTION_SIZES,
    check_dsn,
    fit_quadratic,
    realtime_sql_files,
)
from bcastsim._errors import InputError
from bcastsim._io import check_output, write_output
from bcastsim._toml import Range, check_number

if TYPE_CHECKING:
    import psycopg

    from bcastsim.pg import Database

__all__ = ["HELP", "configure", "measure", "render_costs", "run"]

HELP = "measure per-operation database costs in a throwaway PostgreSQL and write models/costs.toml"

_FIXTURES = """
INSERT INTO events (id, eid, name) VALUES ('5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a', 'AB3012', 'Art Battle 3012');
INSERT INTO people (id, first_name) VALUES ('7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d', 'Bidder');
INSERT INTO artist_profiles (id, name) VALUES ('3c2b1a0f-9e8d-4c7b-a6f5-e4d3c2b1a0f9', 'Maria Fernandes');
INSERT INTO art (id, event_id, artist_profile_id, code, round)
VALUES ('0b9a4f8e-2c1d-4e3f-a5b6-c7d8e9f0a1b2', '5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a',
        '3c2b1a0f-9e8d-4c7b-a6f5-e4d3c2b1a0f9', 'AB3012-2-14', 2);
"""

_ART = "'0b9a4f8e-2c1d-4e3f-a5b6-c7d8e9f0a1b2'::uuid"
_PERSON = "'7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d'::uuid"
_ONE_BID = f"INSERT INTO bids (art_id, person_id, amount) VALUES ({_ART}, {_PERSON}, 120);"


def _loop(name: str, body: str, declare: str = "") -> str:
    """A function that runs ``body`` n times and returns milliseconds per iteration."""
    return f"""
CREATE OR REPLACE FUNCTION bcastsim_cal_{name}(n int) RETURNS double precision LANGUAGE plpgsql AS $cal$
DECLARE
  t0 timestamptz;
  i int;
  v_bid uuid;
  {declare}
BEGIN
  SELECT id INTO v_bid FROM bids LIMIT 1;
  t0 := clock_timestamp();
  FOR i IN 1..n LOOP
    {body}
  END LOOP;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1000.0 / n;
END
$cal$;
"""


_FUNCTIONS = [
    _loop("insert_bid", f"INSERT INTO bids (art_id, person_id, amount) VALUES ({_ART}, {_PERSON}, 100 + i);"),
    _loop(
        "trigger_lookup",
        f"SELECT a.event_id, a.code, ap.name INTO v_event, v_code, v_name FROM art a "
        f"LEFT JOIN artist_profiles ap ON a.artist_profile_id = ap.id WHERE a.id = {_ART};",
        "v_event uuid; v_code varchar; v_name varchar;",
    ),
    _loop(
        "realtime_send",
        f"PERFORM realtime.send(jsonb_build_object('type', 'bid_update', 'art_id', {_ART}, 'amount', 100 + i, "
        f"'created_at', now()), 'bid_update', 'broadcast:bid:' || {_ART}::text, false);",
    ),
    _loop("pk_select", "PERFORM 1 FROM bids WHERE id = v_bid;"),
    # What PostgREST runs for the seed's fetchBidHistory: claims, then a JSON-aggregated select.
    _loop(
        "client_query",
        "PERFORM set_config('request.jwt.claims', '{\"role\": \"anon\"}', true);"
        f" PERFORM coalesce(json_agg(t), '[]') FROM (SELECT * FROM bids WHERE art_id = {_ART} "
        "ORDER BY amount DESC LIMIT 20) t;",
    ),
]


# The poller's authorization work per change, as Realtime documents it: for one decoded change, every
# subscriber of the table in turn takes on its JWT claims and role, PostgreSQL evaluates the table's
# RLS policy on the changed row for that subscriber, and the ones who may see it are gathered into an
# array one element at a time. Written here from that description; bids gets a policy with a join (the
# bid's artwork must belong to an event) and a claims check (the audience), and every subscriber passes it.
_RLS_SETUP = (
    """
DO $rls$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN;
  END IF;
END $rls$;
GRANT USAGE ON SCHEMA public TO authenticated;
GRANT SELECT ON bids, art, events TO authenticated;
"""
    + BIDS_POLICY
    + """
CREATE TABLE bcastsim_cal_subscriber (id uuid PRIMARY KEY, watched regclass NOT NULL, claims jsonb NOT NULL);
-- The subscribers of bids who may see the bid in `change` (one decoded insert: table and row as JSON).
CREATE OR REPLACE FUNCTION bcastsim_cal_authorize(change jsonb) RETURNS uuid[] LANGUAGE plpgsql AS $cal$
DECLARE
  v_row bids := jsonb_populate_record(NULL::bids, change -> 'record');
  v_who record;
  v_role text := '';
  v_seen boolean;
  v_visible uuid[] := '{}';
BEGIN
  IF (change ->> 'table')::regclass <> 'bids'::regclass THEN
    RAISE EXCEPTION 'bcastsim_cal_authorize reads bids changes, not %', change ->> 'table';
  END IF;
  -- Ordered by role so the role is switched only when it changes; the claims change every time.
  FOR v_who IN
    SELECT s.id, s.claims, s.claims ->> 'role' AS role FROM bcastsim_cal_subscriber s
    WHERE s.watched = 'bids'::regclass ORDER BY role, s.id
  LOOP
    IF v_who.role IS DISTINCT FROM v_role THEN
      PERFORM set_config('role', v_who.role, true);
      v_role := v_who.role;
    END IF;
    PERFORM set_config('request.jwt.claims', v_who.claims::text, true);
    -- Read under the subscriber's RLS: the policy, join included, decides whether the row is there.
    SELECT EXISTS (SELECT 1 FROM bids b WHERE b.id = v_row.id) INTO v_seen;
    IF v_seen THEN
      v_visible := v_visible || v_who.id;
    END IF;
  END LOOP;
  RESET ROLE;
  PERFORM set_config('request.jwt.claims', '', true);
  RETURN v_visible;
END
$cal$;
CREATE OR REPLACE FUNCTION bcastsim_cal_authorization(n int) RETURNS double precision LANGUAGE plpgsql AS $cal$
DECLARE
  t0 timestamptz;
  v_change jsonb;
  v_seen int;
BEGIN
  SELECT jsonb_build_object('table', 'public.bids', 'action', 'INSERT', 'record', to_jsonb(b))
  INTO v_change FROM bids b LIMIT 1;
  t0 := clock_timestamp();
  FOR i IN 1..n LOOP
    v_seen := coalesce(cardinality(bcastsim_cal_authorize(v_change)), 0);
  END LOOP;
  IF v_seen <> (SELECT count(*) FROM bcastsim_cal_subscriber) THEN
    RAISE EXCEPTION 'authorization let % of the subscribers see the bid: the policy was not measured', v_seen;
  END IF;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1000.0 / n;
END
$cal$;
"""
)
_SUBSCRIBERS = """
TRUNCATE bcastsim_cal_subscriber;
INSERT INTO bcastsim_cal_subscriber (id, watched, claims)
SELECT md5('subscriber' || g)::uuid, 'public.bids'::regclass,
       jsonb_build_object('role', 'authenticated', 'sub', md5('person' || g)::uuid, 'aud', 'authenticated',
                          'exp', 1999999999, 'email', 'viewer' || g || '@example.com')
FROM generate_series(1, %d) g;
"""
# The authorization cost for n subscribers is a + b n + c n^2: a per change (decoding the row, finding the
# subscribers), b per subscriber (claims, role, the read under RLS), c per pair (the growing array).
_RLS_SIZES = (10, 1000, 2000)


def _measure_authorization(db: object, runs: int) -> dict[str, float]:
    db.execute(_RLS_SETUP)  # type: ignore[attr-defined]
    timings = []
    for size in _RLS_SIZES:
        db.execute(_SUBSCRIBERS % size)  # type: ignore[attr-defined]
        calls = max(3, 20_000 // size)
        _median_ms(db, "authorization", calls, 1)
        timings.append(_median_ms(db, "authorization", calls, runs))
    # Through three points the least-squares quadratic is the one through them.
    change, per, pair = fit_quadratic([(float(n), t) for n, t in zip(_RLS_SIZES, timings, strict=True)])
    return {
        "rls_change_ms": change,
        "auth_read_ms": per,
        "auth_pair_ms": pair,
        **{f"measured_authorize_{n}_subscribers_ms": t for n, t in zip(_RLS_SIZES, timings, strict=True)},
    }


def _median_ms(db: object, name: str, n: int, runs: int) -> float:
    values = []
    for _ in range(runs):
        rows = db.execute(f"SELECT bcastsim_cal_{name}({n})")  # type: ignore[attr-defined]
        values.append(float(rows[0][0]))
    return statistics.median(values)


def _wal_per(db: object, statement: str) -> float:
    before = db.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint")  # type: ignore[attr-defined]
    db.execute(statement)  # type: ignore[attr-defined]
    after = db.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint")  # type: ignore[attr-defined]
    return float(after[0][0] - before[0][0])


_SLOT = "bcastsim_calibrate"
# Realtime asks for at most 100 changes per poll.
_POLL_LIMIT = 100


@attrs.frozen
class Decoder:
    """A logical decoding output plugin and how a poll asks it for changes."""

    plugin: str
    options: str  # the pg_logical_slot_get_changes options after max_changes
    changes_per_full_poll: int  # changes one poll of _POLL_LIMIT rows returns when the slot holds more
    change_prefix: str  # how a row that is a change (not a BEGIN/COMMIT) starts, blanks removed

    @property
    def poll(self) -> str:
        return f"SELECT data FROM pg_logical_slot_get_changes('{_SLOT}', NULL, {_POLL_LIMIT}, {self.options})"


# What realtime.list_changes asks wal2json for (format-version 2: one row per change, no transaction rows).
WAL2JSON = Decoder(
    plugin="wal2json",
    options="'include-pk', 'true', 'include-transaction', 'false', 'include-timestamp', 'true', "
    "'include-type-oids', 'true', 'format-version', '2', 'actions', 'insert,update,delete', "
    "'add-tables', 'public.bids'",
    changes_per_full_poll=_POLL_LIMIT,
    change_prefix='{"action":"',
)
# test_decoding also emits a BEGIN and a COMMIT row per transaction and stops after the transaction that reaches
# the limit, so 100 rows hold 34 one-row transactions; include-xids/skip-empty-xacts keep it close to wal2json's.
TEST_DECODING = Decoder(
    plugin="test_decoding",
    options="'include-xids', '0', 'skip-empty-xacts', '1'",
    changes_per_full_poll=_POLL_LIMIT // 3 + 1,
    change_prefix="table",
)
_POLL_INTERVAL_S = 0.1
_INSERT_BIDS = f"""
CREATE OR REPLACE PROCEDURE bcastsim_cal_insert_bids(n int) LANGUAGE plpgsql AS $cal$
BEGIN
  FOR i IN 1..n LOOP
    INSERT INTO bids (art_id, person_id, amount) VALUES ({_ART}, {_PERSON}, 100 + i);
    COMMIT;
  END LOOP;
END
$cal$;
"""


def _timed_poll(poller: psycopg.Connection[tuple[Any, ...]], decoder: Decoder) -> tuple[float, int]:
    """Milliseconds for one poll as the client sees it, and the row changes it returned."""
    start = time.perf_counter()
    rows = poller.execute(decoder.poll).fetchall()
    elapsed = (time.perf_counter() - start) * 1000.0
    return elapsed, sum(1 for (data,) in rows if str(data).replace(" ", "").startswith(decoder.change_prefix))


def open_slot(poller: psycopg.Connection[tuple[Any, ...]], slot: str = _SLOT) -> tuple[Decoder, str]:
    """Create a temporary logical slot with wal2json, else test_decoding; the decoder, and why if it fell back."""
    import psycopg

    try:
        poller.execute("SELECT pg_create_logical_replication_slot(%s, 'wal2json', true)", (slot,))
        return WAL2JSON, ""
    except psycopg.errors.UndefinedFile as error:
        reason = (error.diag.message_primary or "wal2json is not installed").strip()
    poller.execute("SELECT pg_create_logical_replication_slot(%s, 'test_decoding', true)", (slot,))
    return TEST_DECODING, reason


def _drain(db: Database, poller: psycopg.Connection[tuple[Any, ...]], decoder: Decoder) -> None:
    """Consume everything pending and move the slot's restart point up to the present.

    ``pg_logical_slot_get_changes`` re-reads WAL from the slot's restart point on every call, and that
    point only moves when decoding passes a running-transactions record; a checkpoint writes one, so
    every timed poll starts from the same short stretch of WAL.
    """
    db.execute("CHECKPOINT")
    while poller.execute(decoder.poll).fetchall():
        pass


def _measure_polls(
    db: Database, samples: int, empty_polls: int, notes: dict[str, str] | None = None
) -> dict[str, float]:
    """Empty-poll time and per-change decode time from one temporary wal2json (else test_decoding) slot.

    ``notes`` gets the decoder used (``decoder``) and, when it fell back, why (``decoder_fallback``).
    """
    import psycopg

    with (
        psycopg.connect(db.conninfo, autocommit=True) as poller,
        psycopg.connect(db.conninfo, autocommit=True) as writer,
    ):
        # Decoding reads only flushed WAL, and the throwaway server defers flushes unless asked.
        writer.execute("SET synchronous_commit = on")
        writer.execute(_INSERT_BIDS)
        # Temporary, as Realtime's is: the server drops it with the session if the drop below never runs.
        decoder, fallback = open_slot(poller)
        if notes is not None:
            notes["decoder"] = decoder.plugin
            if fallback:
                notes["decoder_fallback"] = fallback
        full = decoder.changes_per_full_poll
        try:
            empty: list[float] = []
            by_changes: dict[int, list[float]] = {}
            for _ in range(samples):
                for size in (0, 1, full):
                    _drain(db, poller, decoder)
                    if size:
                        writer.execute("CALL bcastsim_cal_insert_bids(%s::int)", (size,))
                    elapsed, changes = _timed_poll(poller, decoder)
                    by_changes.setdefault(changes, []).append(elapsed)
                    if size == 0:
                        # An idle poller's steady state: empty polls one after another.
                        empty.extend(_timed_poll(poller, decoder)[0] for _ in range(max(1, empty_polls // samples)))
            roundtrip = []
            for _ in range(empty_polls):
                start = time.perf_counter()
                poller.execute("SELECT 1").fetchall()
                roundtrip.append((time.perf_counter() - start) * 1000.0)
            reread = _measure_reread(db, poller, writer, samples, decoder)
            # Realtime's idle poller waits between calls; a backend woken after a pause answers slower.
            idle = []
            for _ in range(max(3, min(samples, 10))):
                time.sleep(_POLL_INTERVAL_S)
                idle.append(_timed_poll(poller, decoder)[0])
        finally:
            with contextlib.suppress(psycopg.Error):
                poller.execute("SELECT pg_drop_replication_slot(%s)", (_SLOT,))
    if not by_changes.get(0) or not by_changes.get(1) or not by_changes.get(full):
        return {}  # decoding returned other changes than were written: no trustworthy difference
    after_checkpoint = statistics.median(by_changes[0])
    one = statistics.median(by_changes[1])
    full_poll = statistics.median(by_changes[full])
    return {
        "poll_base_ms": statistics.median(empty),
        # Against the empty poll taken in the same state (just after a checkpoint), so what the
        # checkpoint leaves behind cancels out; the full poll is what a burst produces.
        "change_decode_ms": max(0.00001, (full_poll - after_checkpoint) / full),
        "measured_poll_empty_after_checkpoint_ms": after_checkpoint,
        "measured_poll_1_change_ms": one,
        f"measured_poll_{full}_changes_ms": full_poll,
        "measured_client_roundtrip_ms": statistics.median(roundtrip),
        "measured_poll_empty_after_100ms_idle_ms": statistics.median(idle),
        **reread,
    }


# Bids written (and consumed) in one transaction before the timed re-reads: about 1.6 MB of WAL.
_REREAD_ROWS = 5000


def _measure_reread(
    db: Database,
    poller: psycopg.Connection[tuple[Any, ...]],
    writer: psycopg.Connection[tuple[Any, ...]],
    samples: int,
    decoder: Decoder,
) -> dict[str, float]:
    """Milliseconds per MB that an empty poll spends reading WAL it already returned.

    Every ``pg_logical_slot_get_changes`` call starts reading at the slot's restart point, which trails
    the confirmed position until decoding passes a running-transactions record; here the distance is
    the consumed bids, and the time is set against an empty poll straight after a checkpoint.
    """
    _drain(db, poller, decoder)
    after_checkpoint = statistics.median(_timed_poll(poller, decoder)[0] for _ in range(samples))
    writer.execute(
        "INSERT INTO bids (art_id, person_id, amount) "
        f"SELECT {_ART}, {_PERSON}, 100 + g FROM generate_series(1, {_REREAD_ROWS}) g"
    )
    while poller.execute(decoder.poll).fetchall():
        pass
    row = poller.execute(
        "SELECT pg_wal_lsn_diff(confirmed_flush_lsn, restart_lsn)::float8 FROM pg_replication_slots "
        "WHERE slot_name = %s",
        (_SLOT,),
    ).fetchone()
    behind_mb = float(row[0]) / 1e6 if row else 0.0
    reread = statistics.median(_timed_poll(poller, decoder)[0] for _ in range(samples))
    if behind_mb < 0.5:
        return {}  # the restart point moved on meanwhile: nothing re-read to time
    return {
        "wal_read_ms_per_mb": max(0.0, reread - after_checkpoint) / behind_mb,
        "measured_poll_empty_rereading_mb": behind_mb,
        "measured_poll_empty_rereading_ms": reread,
    }


def measure(
    n: int = 2000, runs: int = 5, realtime_sql: list[Path] | None = None, realtime_dsn: str | None = None
) -> tuple[dict[str, float], dict[str, str]]:
    """Start a throwaway PostgreSQL, load the built-in SQL and time each operation.

    The poll costs are measured only when the server runs with ``wal_level = logical``; otherwise
    they are left out and ``render_costs`` writes the built-in estimates. With ``realtime_sql``
    (the user's copy of Realtime's SQL) the authorization costs are its ``realtime.apply_rls``
    timed against the number of subscriptions, instead of the inline stand-in; with ``realtime_dsn``
    (a database with Realtime's schema, e.g. a Supabase project) it is timed there, in a transaction
    that is rolled back.
    """
    import psycopg

    from bcastsim._commands._realtime_rls import describe_dsn, measure_apply_rls, measure_apply_rls_at, sql_digest
    from bcastsim._resources import builtin_sql_dir, builtin_sql_files, display_path
    from bcastsim.pg import EphemeralPostgres

    costs: dict[str, float] = {}
    notes: dict[str, str] = {}
    with EphemeralPostgres.start() as server:
        notes["postgres"] = server.version
        db = server.create_database(builtin_sql_files())
        try:
            db.execute(_FIXTURES)
            for function in _FUNCTIONS:
                db.execute(function)
            _median_ms(db, "insert_bid", n, 1)  # warm caches and indexes before timing
            with_seed_trigger = _median_ms(db, "insert_bid", n, runs)
            db.execute("ALTER TABLE bids DISABLE TRIGGER USER")
            plain = _median_ms(db, "insert_bid", n, runs)
            lookup = _median_ms(db, "trigger_lookup", n, runs)
            costs["insert_row_ms"] = plain
            costs["trigger_lookup_ms"] = lookup
            # The seed's bid trigger: one lookup and two pg_notify calls on top of the plain insert.
            costs["pg_notify_ms"] = max(0.001, (with_seed_trigger - plain - lookup) / 2)
            costs["realtime_send_ms"] = _median_ms(db, "realtime_send", n, runs)
            costs["pk_select_ms"] = _median_ms(db, "pk_select", n, runs)
            costs.update(_measure_authorization(db, runs))
            costs["client_query_ms"] = _median_ms(db, "client_query", n, runs)
            db.execute("CHECKPOINT")
            _wal_per(db, f"SELECT bcastsim_cal_insert_bid({n})")  # first writes after a checkpoint log full pages
            costs["wal_bytes_per_write"] = _wal_per(db, f"SELECT bcastsim_cal_insert_bid({n})") / n
            costs["wal_bytes_per_message"] = _wal_per(db, f"SELECT bcastsim_cal_realtime_send({n})") / n
            level = db.execute("SHOW wal_level")
            notes["wal_level"] = str(level[0][0]) if level else "unknown"
            if notes["wal_level"] == "logical":
                samples = max(3, min(n // 100, 20))
                empty_polls = max(20, min(n // 4, 500))
                try:
                    polls = [_measure_polls(db, samples, empty_polls, notes) for _ in range(runs)]
                except psycopg.Error as error:
                    # e.g. no free replication slot (max_replication_slots) or no REPLICATION privilege
                    notes["poll_error"] = (error.diag.message_primary or type(error).__name__).strip()
                    polls = []
                if polls and all(polls):
                    for key in {k for p in polls for k in p}:
                        costs[key] = statistics.median(p[key] for p in polls if key in p)
                    notes["poll_samples"] = str(samples)
                    notes["empty_polls"] = str(empty_polls)
                elif polls:
                    notes["poll_error"] = "polls returned other changes than were committed"
            costs["measured_insert_bid_seed_trigger_ms"] = with_seed_trigger
            costs["measured_realtime_send_call_ms"] = costs["realtime_send_ms"]
        finally:
            db.close()
        variant = builtin_sql_dir() / "variants" / "recommended_triggers.sql"
        if variant.is_file():
            # The corrected triggers: the same bid insert, now sending twice with realtime.send.
            db = server.create_database([*builtin_sql_files(), variant])
            try:
                db.execute(_FIXTURES)
                for function in _FUNCTIONS:
                    db.execute(function)
                _median_ms(db, "insert_bid", n, 1)
                with_send_trigger = _median_ms(db, "insert_bid", n, runs)
                costs["measured_insert_bid_realtime_send_trigger_ms"] = with_send_trigger
                costs["realtime_send_ms"] = max(0.001, (with_send_trigger - plain - lookup) / 2)
                notes["realtime_send"] = "from the bid insert with sql/variants/recommended_triggers.sql"
            finally:
                db.close()
        if realtime_sql or realtime_dsn:
            inline = {k: costs[k] for k in ("rls_change_ms", "auth_read_ms", "auth_pair_ms")}
            schema, fixtures = builtin_sql_dir() / "schema.sql", _FIXTURES + _ONE_BID
            if realtime_dsn:
                costs.update(measure_apply_rls_at(realtime_dsn, schema=schema, fixtures=fixtures, runs=runs))
                notes["realtime_sql"] = f"the database given with --dsn ({describe_dsn(realtime_dsn)})"
            else:
                assert realtime_sql
                costs.update(measure_apply_rls(server, realtime_sql, schema=schema, fixtures=fixtures, runs=runs))
                if costs.get("measured_list_changes_wal2json"):
                    # The empty poll as the poller makes it: Realtime's list_changes on a wal2json slot.
                    costs["poll_base_ms"] = costs["measured_list_changes_empty_ms"]
                    notes["list_changes"] = "wal2json"
                notes["realtime_sql"] = ", ".join(display_path(p) for p in realtime_sql)
                notes["realtime_sql_sha256"] = sql_digest(realtime_sql)
            costs.update({f"measured_inline_{k}": v for k, v in inline.items()})
            notes["machine"] = f"{os.cpu_count()} CPUs ({platform.machine()}), shared with other work while measuring"
    notes["sql"] = str(builtin_sql_dir())
    notes["operations_per_run"] = str(n)
    notes["runs"] = str(runs)
    return costs, notes


def _poll_comment(notes: dict[str, str]) -> list[str]:
    if "poll_error" in notes:
        return [
            "# poll_base_ms and change_decode_ms keep the built-in estimates: logical decoding could not",
            f"# be timed ({notes['poll_error']}).",
        ]
    if "poll_samples" not in notes:
        return [
            "# poll_base_ms and change_decode_ms need logical decoding, which the throwaway server",
            f"# (wal_level = {notes.get('wal_level', '?')}) does not offer: they keep the built-in estimates.",
        ]
    decoder = WAL2JSON if notes.get("decoder") == "wal2json" else TEST_DECODING
    full = decoder.changes_per_full_poll
    if decoder is WAL2JSON:
        plugin = ["# wal2json, as Supabase decodes, with the options realtime.list_changes passes (format-version 2)."]
    else:
        why = notes.get("decoder_fallback", "wal2json is not installed")
        plugin = [
            "# wal2json; it could not be loaded here, so the built-in test_decoding plugin stands in",
            f"# ({why}; Debian: apt install postgresql-15-wal2json).",
        ]
    return [
        "# poll_base_ms and change_decode_ms are timed from the client (time.perf_counter around each",
        f"# pg_logical_slot_get_changes(slot, NULL, {_POLL_LIMIT}) call on a temporary logical replication slot,",
        "# one call per poll, as Realtime's postgres_changes poller makes them). Decoder: Supabase's,",
        *plugin,
        f"# poll_base_ms is an empty poll (median of {notes['empty_polls']} per run); change_decode_ms is a poll "
        f"returning {full} one-row bid",
        f"# transactions minus an empty poll in the same state, divided by {full} ({notes['poll_samples']} of each",
        f"# per run); both the median of {notes.get('runs', '?')} runs. wal_read_ms_per_mb: an empty poll after",
        f"# {_REREAD_ROWS:,} bids were committed and returned (the slot's restart point still before them, so the",
        "# call reads them again) minus an empty poll after a checkpoint, per MB between restart and confirmed.",
    ]


def _sql_identity(notes: dict[str, str]) -> str:
    digest = f"sha256 {notes['realtime_sql_sha256']}" if "realtime_sql_sha256" in notes else "its realtime schema"
    return digest + notes.get("realtime_commit", "")


def _authorization_comment(notes: dict[str, str]) -> list[str]:
    if "realtime_sql" in notes:
        sizes = ", ".join(f"{n:,}" for n in SUBSCRIPTION_SIZES)
        return [
            "# rls_change_ms, auth_read_ms and auth_pair_ms: Realtime's own realtime.apply_rls, loaded from",
            f"#   {notes['realtime_sql']}",
            f"#   ({_sql_identity(notes)}),",
            "# given one bid insert as wal2json (format-version 2) hands it over, with " + sizes + " rows in",
            "# realtime.subscription (5 per user: bids, votes, art, art_media, round_contestants; claims of an",
            "# authenticated user; bids under a policy with a join, which every listener passes). Timed inside the",
            "# server; its time for n listeners of the table is rls_change_ms + auth_read_ms n + auth_pair_ms n^2",
            "# (least squares over the fastest of the runs at each size, since other work on the machine only adds",
            "# time; where a term would fall below 0, the straight line). measured_inline_* are bcastsim's own",
            "# inline stand-in of the same work, for comparison.",
            *(
                [
                    "# list_changes_*: Realtime's own realtime.list_changes timed whole on a temporary wal2json slot",
                    "# (an empty call, and one returning 10 bids with 200 listeners of bids); poll_base_ms is its",
                    "# empty call, replacing the bare pg_logical_slot_get_changes timing above.",
                ]
                if notes.get("list_changes") == "wal2json"
                else []
            ),
        ]
    return [
        "# rls_change_ms, auth_read_ms and auth_pair_ms: bcastsim_cal_authorize, the poller's authorization as",
        "# Realtime documents it (per subscriber: its claims and role, a read of the changed row under RLS, an",
        "# append to the array of those who see it), on one bid insert with 10, 1,000 and 2,000 subscribers whose",
        "# role reads bids under a policy with a join; its time is rls_change_ms + auth_read_ms n + auth_pair_ms n^2",
        "# (the quadratic through the three medians, or the line where a term would fall below 0). `bcastsim calibrate",
        "# --realtime-sql` times Realtime's own realtime.apply_rls instead.",
    ]


def render_costs(costs: dict[str, float], notes: dict[str, str]) -> str:
    from bcastsim.sim import CostModel

    defaults = CostModel()
    lines = [
        "# Per-operation database costs read by `bcastsim simulate`, written by `bcastsim calibrate`.",
        f"# Measured on PostgreSQL {notes.get('postgres', '?')} inside the server (clock_timestamp() around",
        f"# PL/pgSQL loops of {notes.get('operations_per_run', '?')} operations), median of "
        f"{notes.get('runs', '?')} runs.",
        *([f"# Command: {notes['command']}"] if "command" in notes else []),
        *([f"# Machine: {notes['machine']}."] if "machine" in notes else []),
        *_poll_comment(notes),
        *_authorization_comment(notes),
        "",
        "[calibration]",
        f'postgres = "{notes.get("postgres", "")}"',
        f"operations_per_run = {notes.get('operations_per_run', 0)}",
        f"runs = {notes.get('runs', 0)}",
        *([f'decoder = "{notes["decoder"]}"'] if "decoder" in notes else []),
        *([f'realtime_sql_sha256 = "{notes["realtime_sql_sha256"]}"'] if "realtime_sql_sha256" in notes else []),
        "",
        "[costs]",
    ]
    for key in (
        "insert_row_ms",
        "trigger_lookup_ms",
        "pg_notify_ms",
        "realtime_send_ms",
        "pk_select_ms",
        "rls_change_ms",
        "auth_read_ms",
        "auth_pair_ms",
        "client_query_ms",
    ):
        value = costs[key]
        lines.append(f"{key} = {value:.5f}" if value >= 0.001 or value == 0 else f"{key} = {value:.4e}")
    for key in ("poll_base_ms", "change_decode_ms", "wal_read_ms_per_mb"):
        if key in costs:
            lines.append(f"{key} = {costs[key]:.5f}")
        else:
            lines.append(f"{key} = {getattr(defaults, key)}  # not measured")
    lines.append(f"wal_bytes_per_write = {costs['wal_bytes_per_write']:.1f}")
    lines.append(f"wal_bytes_per_message = {costs['wal_bytes_per_message']:.1f}")
    lines.append("")
    lines.append("# Raw timings behind the costs above (not read by the simulator).")
    lines.append("# pg_notify_ms = (seed-trigger insert - plain insert - lookup) / 2 notifies;")
    if "measured_insert_bid_realtime_send_trigger_ms" in costs:
        lines.append("# realtime_send_ms likewise from the insert with sql/variants/recommended_triggers.sql.")
    else:
        lines.append("# realtime_send_ms is a direct realtime.send call (no corrected trigger variant found).")
    if "poll_base_ms" in costs:
        lines.append("# poll_*: single polls timed from the client; the first change of a poll costs more than the")
        lines.append("# others (poll_1_change_ms), which the linear change_decode_ms does not charge. An idle poller")
        lines.append("# waits between polls (poll_empty_after_100ms_idle_ms); client_roundtrip_ms is a SELECT 1.")
    lines.append("[measured]")
    for key in sorted(k for k in costs if k.startswith("measured_")):
        lines.append(f"{key.removeprefix('measured_')} = {costs[key]:.5f}")
    return "\n".join(lines) + "\n"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=Path("models/costs.toml"), help="model file to write (default: models/costs.toml)"
    )
    parser.add_argument("--operations", type=int, default=2000, help="operations per timed run")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per operation (the median is kept)")
    parser.add_argument(
        "--realtime-sql",
        type=Path,
        metavar="FILE_OR_DIR",
        help="time Realtime's own realtime.apply_rls from this copy of its SQL (tenant_db_dump_15.sql, "
        "a supabase/realtime checkout, or a directory of *.sql) instead of the inline stand-in",
    )
    parser.add_argument(
        "--dsn",
        metavar="CONNINFO",
        help="time realtime.apply_rls on this database, which has Realtime's schema (a Supabase project); "
        "everything runs in one transaction that is rolled back",
    )
    parser.add_argument(
        "--realtime-commit", default="", metavar="TEXT", help="the Realtime version that SQL is from, for the record"
    )


_OPERATIONS = Range(1, 1_000_000, size=True)
_RUNS = Range(1, 1_000, size=True)


def _check_out(out: Path) -> None:
    """Fail before minutes of measuring when the result could not be written."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(
            f"cannot create the directory: {error.strerror}", path=out, fix="choose a writable --out"
        ) from None
    check_output(out)


def run(args: argparse.Namespace) -> int:
    from bcastsim._extras import require

    require("psycopg", "postgres", "bcastsim calibrate")
    from bcastsim.pg import PgBinariesNotFound, ServerStartError

    check_number(args.operations, "--operations", _OPERATIONS)
    check_number(args.runs, "--runs", _RUNS)
    if args.realtime_sql is not None and args.dsn is not None:
        raise InputError("--realtime-sql and --dsn both name the Realtime to time", fix="pass one of them")
    realtime_sql = None if args.realtime_sql is None else realtime_sql_files(args.realtime_sql)
    if args.dsn is not None:
        check_dsn(args.dsn)
    _check_out(args.out)
    try:
        costs, notes = measure(args.operations, args.runs, realtime_sql, args.dsn)
        if (realtime_sql or args.dsn) and args.realtime_commit:
            notes["realtime_commit"] = f", Realtime commit {args.realtime_commit}"
        if realtime_sql:
            words = ["bcastsim calibrate", "--realtime-sql", str(args.realtime_sql)]
            words += ["--realtime-commit", args.realtime_commit] if args.realtime_commit else []
            notes["command"] = " ".join(words)
    except PgBinariesNotFound as error:
        raise InputError(
            f"no PostgreSQL server binaries: {error}", fix="install PostgreSQL (initdb, postgres)"
        ) from None
    except ServerStartError as error:
        raise InputError(
            f"the throwaway PostgreSQL did not start: {error}", fix="check the PostgreSQL installation"
        ) from None
    text = render_costs(costs, notes)
    write_output(args.out, text)
    sys.stdout.write(text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0
