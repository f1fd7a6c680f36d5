"""Run transactions against a real database and capture, in order, what a listener observed.

``LISTEN`` needs exact channel names, but the seed's channels carry ids
(``broadcast:bid:<uuid>``). Two witnesses name the channels a transaction sends on, before it
commits, so that a second session can ``LISTEN`` on them first:

- PostgreSQL itself: with ``trace_notify`` on, the server tells the sending session of every
  notification it queues (``Async_Notify(<channel>)``, async.c) — ``pg_notify`` however it is
  named or found, ``NOTIFY`` statements, dynamic ``EXECUTE`` — and bcastsim keeps the names in its
  own memory, where no SQL reaches;
- a tap: ``bcastsim_tap.pg_notify``, first on the sender's search_path, calls the real
  ``pg_catalog.pg_notify`` (same errors, same queue, same duplicate collapse) and records the
  channel with the PL/pgSQL call stack that sent it.

After ``COMMIT`` the listener notifies itself on a fence channel and reads until the fence
arrives: commit order guarantees everything the transaction sent came before it, so nothing sleeps.

Rows that ``realtime.send`` inserts into ``realtime.messages`` are recorded whole by an AFTER
INSERT trigger, as Realtime reads them from the WAL: a row deleted later in its transaction was
still sent. Records go to ``bcastsim_tap.records`` through ``SECURITY DEFINER`` functions; for
untrusted SQL the superuser owns the schema, so the reviewed SQL can add records (widening what
is listened to) but never read another transaction's, alter or remove one. An event trigger of the
superuser records it when DDL leaves ``realtime.messages`` without the recording trigger, and a
transaction that switches the trace off is reported: either is a cut, never a clean result.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs
import psycopg
from psycopg import sql

from bcastsim._io import read_text
from bcastsim.db._coverage import current_coverage
from bcastsim.db._values import DatabaseError, reject_unencodable

__all__ = [
    "Database",
    "Notification",
    "PgError",
    "RealtimeMessage",
    "Release",
    "RollbackTo",
    "Savepoint",
    "Step",
    "TransactionResult",
]

# Added to a PostgreSQL error raised while a file was applied, followed by the file's path.
APPLYING_NOTE = "while applying "
# Added beside it: the file line of the statement that raised it, followed by the number.
STATEMENT_LINE_NOTE = "at the statement on line "
_TAP_SCHEMA = "bcastsim_tap"
_FENCE_CHANNEL = "bcastsim_fence"
_DRAIN_TIMEOUT_SECONDS = 30.0
_RELISTEN_THRESHOLD = 256
_MAX_STACK_CHARS = 1_000
# Distinct channels listened to per transaction, and tap records read back per transaction.
MAX_CAPTURED_CHANNELS = 4_096
_MAX_RECORDS = 20_000
# PostgreSQL's trace of NOTIFY (async.c, Async_Notify): "Async_Notify(<channel>)" at DEBUG1.
_TRACE_PREFIX = "Async_Notify("
_TRACE_SETTINGS = {"trace_notify": "on", "client_min_messages": "debug1"}
_TRACE_OFF = "capture: the transaction switched PostgreSQL's notify trace off"
# The DDL that makes or alters a function: the guard (an event trigger) records it inside a transaction.
_FUNCTION_DDL = ("CREATE FUNCTION", "ALTER FUNCTION", "CREATE PROCEDURE", "ALTER PROCEDURE")

# Written by the user (trusted SQL) or, before the SQL loads, by the superuser (TAP_OWNED_SQL).
# Every name is schema-qualified and no operator is used: the SECURITY DEFINER functions run with
# the caller's search_path (so the call stacks they record name functions as the caller sees them),
# and nothing the caller plants on that path may run with the owner's rights.
TAP_SQL = f"""
CREATE SCHEMA IF NOT EXISTS {_TAP_SCHEMA};
CREATE TABLE IF NOT EXISTS {_TAP_SCHEMA}.records (
  xid pg_catalog.xid8 NOT NULL,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  kind text NOT NULL,
  key text NOT NULL,
  body text,
  site text
);
CREATE INDEX IF NOT EXISTS records_xid ON {_TAP_SCHEMA}.records (xid, seq);
REVOKE ALL ON {_TAP_SCHEMA}.records FROM PUBLIC;
-- The one way in: append a record, with the PL/pgSQL call stack (GET DIAGNOSTICS … PG_CONTEXT) of its sender.
CREATE OR REPLACE FUNCTION {_TAP_SCHEMA}.record_entry(kind text, key text, body text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $tap$
DECLARE
  stack text;
BEGIN
  GET DIAGNOSTICS stack = PG_CONTEXT;
  INSERT INTO {_TAP_SCHEMA}.records (xid, kind, key, body, site)
  VALUES (pg_catalog.pg_current_xact_id(), kind, key, body, pg_catalog.left(stack, {_MAX_STACK_CHARS}));
END
$tap$;
-- The one way out: this transaction's records, in order; older transactions' records are removed.
CREATE OR REPLACE FUNCTION {_TAP_SCHEMA}.take(lim int)
RETURNS TABLE (seq bigint, kind text, key text, body text, site text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $tap$
BEGIN
  DELETE FROM {_TAP_SCHEMA}.records r WHERE r.xid OPERATOR(pg_catalog.<>) pg_catalog.pg_current_xact_id();
  RETURN QUERY SELECT r.seq, r.kind, r.key, r.body, r.site FROM {_TAP_SCHEMA}.records r
    WHERE r.xid OPERATOR(pg_catalog.=) pg_catalog.pg_current_xact_id() ORDER BY r.seq LIMIT lim;
END
$tap$;
CREATE OR REPLACE FUNCTION {_TAP_SCHEMA}.pg_notify(channel text, payload text) RETURNS void
LANGUAGE plpgsql AS $tap$
BEGIN
  PERFORM pg_catalog.pg_notify(channel, payload);
  -- A loop on one channel records it once (the setting only saves work: resetting it adds records).
  IF channel IS DISTINCT FROM pg_catalog.current_setting('bcastsim.last_channel', true) THEN
    PERFORM {_TAP_SCHEMA}.record_entry('channel', channel, NULL);
    PERFORM pg_catalog.set_config('bcastsim.last_channel', channel, true);
  END IF;
END
$tap$;
CREATE OR REPLACE FUNCTION {_TAP_SCHEMA}.record_message() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $tap$
BEGIN
  PERFORM {_TAP_SCHEMA}.record_entry('message', NEW.id::text, pg_catalog.to_jsonb(NEW)::text);
  RETURN NULL;
END
$tap$;
DO $tap$
BEGIN
  IF pg_catalog.to_regclass('realtime.messages') IS NOT NULL THEN
    CREATE OR REPLACE TRIGGER bcastsim_tap_record_message AFTER INSERT ON realtime.messages
      FOR EACH ROW EXECUTE FUNCTION {_TAP_SCHEMA}.record_message();
  END IF;
END
$tap$;
"""
# Run by the superuser on a database for untrusted SQL, before that SQL: the tap's schema is then
# not the reviewed role's, so the SQL can neither replace the tap nor plant functions or operators
# in the schema that comes first on the search path, nor touch the records. The guard, an event
# trigger (only a superuser may create one), fires after every DDL command of any role.
TAP_OWNED_SQL = (
    TAP_SQL.split("DO $tap$", 1)[0]
    + f"""REVOKE ALL ON SCHEMA {_TAP_SCHEMA} FROM PUBLIC;
GRANT USAGE ON SCHEMA {_TAP_SCHEMA} TO PUBLIC;
CREATE FUNCTION {_TAP_SCHEMA}.guard() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $tap$
DECLARE
  bare int;
BEGIN
  IF tg_tag OPERATOR(pg_catalog.=) ANY (ARRAY[{", ".join(f"'{tag}'" for tag in _FUNCTION_DDL)}]) THEN
    PERFORM {_TAP_SCHEMA}.record_entry('function', tg_tag, NULL);
  END IF;
  IF pg_catalog.to_regclass('realtime.messages') IS NULL THEN
    RETURN;
  END IF;
  -- realtime.messages and its partitions, each of which must keep an enabled recording trigger
  WITH RECURSIVE tables(oid) AS (
    SELECT 'realtime.messages'::regclass::oid
    UNION SELECT i.inhrelid FROM pg_inherits i JOIN tables t ON i.inhparent OPERATOR(pg_catalog.=) t.oid
  )
  SELECT pg_catalog.count(*) INTO bare FROM tables t WHERE NOT EXISTS (
    SELECT 1 FROM pg_trigger g
    WHERE g.tgrelid OPERATOR(pg_catalog.=) t.oid
      AND g.tgfoid OPERATOR(pg_catalog.=) '{_TAP_SCHEMA}.record_message'::regproc::oid
      AND g.tgenabled OPERATOR(pg_catalog.=) ANY (ARRAY['O', 'A']::"char"[]));
  IF bare OPERATOR(pg_catalog.>) 0 THEN
    PERFORM {_TAP_SCHEMA}.record_entry('tamper', tg_tag, NULL);
  END IF;
END
$tap$;
CREATE EVENT TRIGGER bcastsim_tap_guard ON ddl_command_end EXECUTE FUNCTION {_TAP_SCHEMA}.guard();
"""
)
# Functions that switch the trace off while they run: a SET clause that turns trace_notify off or
# client_min_messages above debug1, or a body that names trace_notify. The check at the end of a
# transaction cannot see a switch undone before it; that such a function ran is read from its calls
# (track_functions = all), pending in the backend until it is idle outside a transaction, so the
# difference between a transaction's start and end is that transaction's calls. Which functions
# qualify is read after loading and set-up, and again when the guard saw a function made or altered.
_TRACE_SWITCHER = f"""
p.pronamespace OPERATOR(pg_catalog.<>) ALL (ARRAY['pg_catalog', 'information_schema', '{_TAP_SCHEMA}']::regnamespace[])
AND (p.prosrc OPERATOR(pg_catalog.~*) 'trace_notify'
  OR EXISTS (SELECT FROM pg_catalog.unnest(p.proconfig) c
    WHERE c OPERATOR(pg_catalog.~*) '^(trace_notify=(?!on$)|client_min_messages=(?!debug))'))
"""
_TRACE_SWITCHERS_SQL = f"SELECT p.oid FROM pg_catalog.pg_proc p WHERE {_TRACE_SWITCHER}"
# Command tags (the server's CommandComplete) after which set-up has the functions read again.
_FUNCTION_DDL_TAGS = (*_FUNCTION_DDL, "DO")
_SWITCHER_CALLS_SQL = """
SELECT f::bigint, pg_catalog.pg_stat_get_xact_function_calls(f), f::pg_catalog.regprocedure::text
FROM pg_catalog.unnest(%s::pg_catalog.oid[]) AS f
"""
# This transaction's tap records and whether the trace is still on, in one round trip; names qualified,
# as the reviewed SQL may have changed the session's search_path.
_RECORDED_SQL = f"""
SELECT r.kind, r.key, r.body, r.site,
  pg_catalog.current_setting('trace_notify'), pg_catalog.current_setting('client_min_messages')
FROM (SELECT 1) AS one
LEFT JOIN {_TAP_SCHEMA}.take(%s) r ON true
ORDER BY r.seq
"""
_TAP_OWNER_SQL = f"""
SELECT n.nspowner <> r.oid FROM pg_catalog.pg_namespace n, pg_catalog.pg_roles r
WHERE n.nspname = '{_TAP_SCHEMA}' AND r.rolname = current_user
"""


@attrs.frozen
class Savepoint:
    name: str


@attrs.frozen
class RollbackTo:
    name: str


@attrs.frozen
class Release:
    name: str


Step = str | Savepoint | RollbackTo | Release


@attrs.frozen
class Notification:
    """One notification as the listener received it."""

    channel: str
    payload: str
    json: Any | None
    pid: int
    transaction: int
    # The PL/pgSQL call stack (PostgreSQL's CONTEXT, innermost first) of the first pg_notify on this
    # channel in its transaction, when the tap recorded it; "" for NOTIFY statements and past the tap's cap.
    context: str = ""


@attrs.frozen
class RealtimeMessage:
    """A row ``realtime.send`` inserted into ``realtime.messages``."""

    id: str
    topic: str
    extension: str
    event: str | None
    private: bool | None
    payload: Any | None
    # The PL/pgSQL call stack of the INSERT into realtime.messages (innermost first), or "".
    context: str = ""


# Per transaction: a trigger raising a warning per row, or notifying in a loop, cannot fill bcastsim's memory.
MAX_CAPTURED_NOTIFICATIONS = 10_000
MAX_CAPTURED_WARNINGS = 1_000
_MAX_WARNING_CHARS = 2_000
_MAX_CONTEXT_CHARS = 2_000


@attrs.frozen
class PgError:
    """An error the server raised: its SQLSTATE, primary message and the step that raised it."""

    sqlstate: str
    message: str
    step: int
    # PostgreSQL's CONTEXT: the PL/pgSQL call stack, innermost first
    # ("PL/pgSQL function item_audit() line 3 at EXECUTE"); empty for a statement of its own.
    context: str = ""


@attrs.frozen
class TransactionResult:
    transaction: int
    committed: bool
    notifications: tuple[Notification, ...]
    messages: tuple[RealtimeMessage, ...]
    error: PgError | None
    statement_errors: tuple[PgError, ...]
    warnings: tuple[str, ...]
    # What was not kept because the transaction sent more than the caps (MAX_CAPTURED_*), e.g.
    # "notifications: 1,000,000 sent, 10,000 captured": a result with a cut is incomplete, never clean.
    cut: tuple[str, ...] = ()


_TAP_FRAMES = 2  # record_entry, and the tap function that called it (pg_notify or record_message)


def _below_tap(stack: str) -> str:
    """A recorded call stack without the tap's own frames: the sender's frames, innermost first."""
    lines = stack.split("\n")
    frames = [number for number, line in enumerate(lines) if line.startswith("PL/pgSQL function ")]
    below_tap = frames[_TAP_FRAMES - 1] + 1 if len(frames) >= _TAP_FRAMES else len(lines)
    return "\n".join(lines[below_tap:])


def _traced_site(context: str) -> str:
    """The trace's CONTEXT without the tap's pg_notify frame, when the notification went through the tap."""
    lines = context.split("\n")
    for number, line in enumerate(lines):
        if line.startswith(f"PL/pgSQL function {_TAP_SCHEMA}.pg_notify(") or line.startswith(
            "PL/pgSQL function pg_notify("
        ):
            return "\n".join(lines[number + 1 :])
    return context


def _step_sql(step: Step) -> sql.SQL | sql.Composed:
    if isinstance(step, str):
        return sql.SQL(step)  # the caller's SQL, run as written
    if isinstance(step, Savepoint):
        return sql.SQL("SAVEPOINT {}").format(sql.Identifier(step.name))
    if isinstance(step, RollbackTo):
        return sql.SQL("ROLLBACK TO SAVEPOINT {}").format(sql.Identifier(step.name))
    return sql.SQL("RELEASE SAVEPOINT {}").format(sql.Identifier(step.name))


def _unencodable(step: str) -> psycopg.Error | None:
    """What the server says to bytes a UTF-8 database cannot hold; psycopg would refuse them before sending."""
    try:
        reject_unencodable(step)
    except DatabaseError as refused:
        error: psycopg.Error = psycopg.errors.lookup(refused.sqlstate)(refused.message)
        return error
    return None


def _pg_error(error: psycopg.Error, step: int) -> PgError:
    return PgError(
        sqlstate=error.sqlstate or "",
        message=error.diag.message_primary or str(error),
        step=step,
        context=(error.diag.context or "")[:_MAX_CONTEXT_CHARS],
    )


# Errors PostgreSQL raises when a bound the review set stopped the SQL (the role's settings in
# pg/_server.py, the server's address-space limit): what the SQL would have done next was not seen.
LIMIT_ERRORS = {
    "57014": "statement_timeout",  # query_canceled: the timeout, or the watchdog's pg_cancel_backend
    "55P03": "lock_timeout",  # lock_not_available
    "53200": "the server's memory limit",  # out_of_memory
    "53400": "temp_file_limit",  # configuration_limit_exceeded
    "25P03": "idle_in_transaction_session_timeout",
}


def limit_cut(error: PgError, what: str) -> str:
    """How a cut by a bound reads in a report: ``statement 2 stopped by statement_timeout (canceling …)``."""
    return f"{what} stopped by {LIMIT_ERRORS[error.sqlstate]} ({error.message})"


class Database:
    """A database on a real server, with a sending session and a listening session."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        # The SQL files loaded into this database, in order: coverage reads its notify sites from them.
        self.sql_files: list[Path] = []
        # Channels named by the caller stay listened; those the tap recorded are needed only until
        # their transaction is drained, and are dropped in bulk (the server scans its list of
        # listened channels for every notification, so it must not grow without bound).
        self._pinned: set[str] = set()
        self._listening: set[str] = set()
        self._fences = itertools.count(1)
        self._transactions = itertools.count(0)
        self._warnings: list[str] = []
        self._warnings_seen = 0
        self._notifications_seen = 0
        self._channel_sites: dict[str, str] = {}
        # The trace's channels of the running transaction, in order, with the CONTEXT of the first notification.
        self._traced: dict[str, str] = {}
        self._channels_over = False
        self._cuts: list[str] = []
        # Functions that switch the trace off (_TRACE_SWITCHER), and their calls when the transaction began.
        self._switchers: set[int] = set()
        self._switcher_baseline: dict[int, int] = {}
        self._listener = psycopg.connect(conninfo, autocommit=True)
        self._listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(_FENCE_CHANNEL)))
        self._sender = psycopg.connect(conninfo, autocommit=True)
        self._sender.add_notice_handler(self._on_notice)
        self._install_tap()

    @property
    def sender_pid(self) -> int:
        return self._sender.info.backend_pid

    def _on_notice(self, diagnostic: psycopg.errors.Diagnostic) -> None:
        severity = diagnostic.severity_nonlocalized
        if severity == "DEBUG":
            message = diagnostic.message_primary or ""
            if message.startswith(_TRACE_PREFIX) and message.endswith(")"):
                channel = message[len(_TRACE_PREFIX) : -1]
                if channel not in self._traced:
                    if len(self._traced) < MAX_CAPTURED_CHANNELS:
                        self._traced[channel] = (diagnostic.context or "")[:_MAX_CONTEXT_CHARS]
                    else:
                        self._channels_over = True
        elif severity == "WARNING":
            self._warnings_seen += 1
            if len(self._warnings) < MAX_CAPTURED_WARNINGS:
                self._warnings.append((diagnostic.message_primary or "")[:_MAX_WARNING_CHARS])

    def _cut(self, notifications_seen: int, errors: Sequence[PgError] = ()) -> tuple[str, ...]:
        cut = [limit_cut(error, f"statement {error.step + 1}") for error in errors if error.sqlstate in LIMIT_ERRORS]
        if notifications_seen > MAX_CAPTURED_NOTIFICATIONS:
            cut.append(f"notifications: {notifications_seen:,} sent, {MAX_CAPTURED_NOTIFICATIONS:,} captured")
        if self._channels_over:
            cut.append(
                f"channels: more than {MAX_CAPTURED_CHANNELS:,} distinct channels in one transaction; "
                "notifications on the others were not captured"
            )
        cut.extend(self._cuts)
        if self._warnings_seen > MAX_CAPTURED_WARNINGS:
            cut.append(f"warnings: {self._warnings_seen:,} raised, {MAX_CAPTURED_WARNINGS:,} captured")
        return tuple(cut)

    def _install_tap(self) -> None:
        row = self._sender.execute(_TAP_OWNER_SQL).fetchone()
        if row is not None and row[0]:
            # The superuser installed the tap (untrusted SQL): only the trigger on realtime.messages is ours.
            self._sender.execute("DO $tap$" + TAP_SQL.split("DO $tap$", 1)[1])
        else:
            self._sender.execute(TAP_SQL)
        self._sender.execute(
            sql.SQL('SET search_path = {}, pg_catalog, "$user", public').format(sql.Identifier(_TAP_SCHEMA))
        )
        self._arm_trace()
        self._find_switchers()

    def _find_switchers(self) -> None:
        self._switchers = {row[0] for row in self._sender.execute(_TRACE_SWITCHERS_SQL)}

    def _switcher_calls(self) -> list[tuple[int, int, str]]:
        """(oid, calls pending in this session, name) of each function that switches the trace off."""
        if not self._switchers:
            return []
        rows = self._sender.execute(_SWITCHER_CALLS_SQL, (sorted(self._switchers),)).fetchall()
        return [(oid, calls or 0, name) for oid, calls, name in rows]

    def _arm_trace(self) -> None:
        for name, value in _TRACE_SETTINGS.items():
            self._sender.execute(sql.SQL("SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))

    def close(self) -> None:
        self._sender.close()
        self._listener.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def apply_files(self, files: Iterable[str | Path]) -> None:
        """Run SQL files in order, each in its own transaction; the tap is reinstalled afterwards.

        A query's rows are never sent to bcastsim: each ``SELECT`` runs through a cursor moved to
        its end on the server (:func:`_without_rows`), so a file cannot make bcastsim buffer them.
        """
        for path in files:
            with psycopg.connect(self.conninfo) as connection:
                line = 1
                try:
                    for statement_line, statement in _without_rows(read_text(path, "SQL file")):
                        line = statement_line  # named in the error's notes
                        connection.execute(statement)
                except psycopg.Error as error:
                    error.add_note(f"{APPLYING_NOTE}{path}")
                    error.add_note(f"{STATEMENT_LINE_NOTE}{line}")
                    raise
            self.sql_files.append(Path(path))
        self._install_tap()

    def reset(self) -> None:
        """Empty every table the loaded SQL created and restart its sequences: call it at the start of an example."""
        rows = self._sender.execute(
            "SELECT format('%%I.%%I', n.nspname, c.relname)"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition"
            " AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', %s) ORDER BY 1",
            (_TAP_SCHEMA,),
        ).fetchall()
        if rows:
            self._sender.execute(f"TRUNCATE {', '.join(row[0] for row in rows)} RESTART IDENTITY")

    def execute(self, statement: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]] | None:
        """Run one statement in autocommit mode (for set-up); rows if it returns any."""
        cursor = self._sender.execute(statement, params)
        rows = cursor.fetchall() if cursor.description is not None else None
        if (cursor.statusmessage or "").startswith(_FUNCTION_DDL_TAGS):
            self._find_switchers()  # set-up made or altered a function, which may switch the trace off
        return rows

    def listen(self, channels: Iterable[str]) -> None:
        """Listen on channels the tap cannot see (``NOTIFY`` statements, pinned search_paths)."""
        channels = list(channels)
        self._pinned.update(channels)
        self._listen(channels)

    def _listen(self, channels: Iterable[str]) -> None:
        new = [channel for channel in dict.fromkeys(channels) if channel not in self._listening]
        if new:
            # One round trip for all of them.
            self._listener.execute(sql.SQL("; ").join(sql.SQL("LISTEN {}").format(sql.Identifier(c)) for c in new))
            self._listening.update(new)

    def _forget_recorded_channels(self) -> None:
        if len(self._listening) - len(self._pinned) < _RELISTEN_THRESHOLD:
            return
        keep = [_FENCE_CHANNEL, *sorted(self._pinned)]
        self._listener.execute(
            sql.SQL("; ").join([sql.SQL("UNLISTEN *"), *(sql.SQL("LISTEN {}").format(sql.Identifier(c)) for c in keep)])
        )
        self._listening = set(self._pinned)

    def run_transaction(
        self, steps: Sequence[Step], *, commit: bool = True, isolate_statements: bool = False
    ) -> TransactionResult:
        """Run ``steps`` as one transaction, then commit (or roll back) and drain the listener.

        With ``isolate_statements`` every SQL step runs under its own savepoint:
        an error rolls back that statement only and is reported in
        ``statement_errors`` while the transaction goes on.
        """
        index = next(self._transactions)
        self._channel_sites = {}
        self._traced = {}
        self._channels_over = False
        self._cuts = []
        self._warnings.clear()
        self._warnings_seen = 0
        statement_errors: list[PgError] = []
        error: PgError | None = None
        messages: tuple[RealtimeMessage, ...] = ()
        execute = self._sender.execute

        def run_step(step: Step) -> None:
            refused = _unencodable(step) if isinstance(step, str) else None
            if refused is not None:
                raise refused
            execute(_step_sql(step))

        execute("BEGIN")
        self._switcher_baseline = {oid: calls for oid, calls, _ in self._switcher_calls()}
        try:
            for number, step in enumerate(steps):
                if isolate_statements and isinstance(step, str):
                    execute("SAVEPOINT bcastsim_statement")
                    try:
                        run_step(step)
                    except psycopg.Error as statement_error:
                        statement_errors.append(_pg_error(statement_error, number))
                        execute("ROLLBACK TO SAVEPOINT bcastsim_statement")
                    execute("RELEASE SAVEPOINT bcastsim_statement")
                else:
                    run_step(step)
            channels, messages = self._recorded()
            # Listen before the transaction ends, so a rollback is observed too (as silence).
            self._listen(channels)
        except psycopg.Error as failure:
            error = _pg_error(failure, number)
        except BaseException:
            # Not a database error (a bug in the caller's step objects, an interrupt): end the
            # transaction so the session is clean for the next example, and let it propagate.
            self._abandon()
            raise
        committed = False
        fence = str(next(self._fences))
        # The fence rides in the same round trip as the transaction's end: sent by the same
        # session right after it, it reaches the listener after everything the transaction sent.
        fence_sql = sql.SQL("NOTIFY {}, {}").format(sql.Identifier(_FENCE_CHANNEL), sql.Literal(fence))
        if error is None and commit:
            try:
                execute(sql.SQL("COMMIT; {}").format(fence_sql))
                committed = True
            except psycopg.Error as failure:  # e.g. 54000: the NOTIFY queue is full
                error = _pg_error(failure, len(steps))
        if not committed:
            if self._sender.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                execute("ROLLBACK")
            execute(fence_sql)
        notifications = self._drain(index, fence)
        self._forget_recorded_channels()
        if any(cut.startswith(_TRACE_OFF) for cut in self._cuts):
            self._arm_trace()  # a session-level SET outlives its transaction
        result = TransactionResult(
            transaction=index,
            committed=committed,
            notifications=tuple(notifications),
            messages=messages if committed else (),
            error=error,
            statement_errors=tuple(statement_errors),
            warnings=tuple(self._warnings),
            cut=self._cut(self._notifications_seen, [*statement_errors, *([error] if error else [])]),
        )
        coverage = current_coverage()
        if coverage is not None:
            coverage.observe(steps, result, self.sql_files)
        return result

    def _abandon(self) -> None:
        """Roll back whatever is open and drain the listener, so the next transaction starts clean."""
        if self._sender.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self._sender.execute("ROLLBACK")
        fence = str(next(self._fences))
        self._sender.execute(sql.SQL("NOTIFY {}, {}").format(sql.Identifier(_FENCE_CHANNEL), sql.Literal(fence)))
        self._drain(-1, fence)

    def run_history(self, transactions: Iterable[Sequence[Step]]) -> list[TransactionResult]:
        return [self.run_transaction(steps) for steps in transactions]

    def _recorded(self) -> tuple[list[str], tuple[RealtimeMessage, ...]]:
        """The channels to listen to and the messages sent, read inside the transaction; what defeated the capture."""
        rows = self._sender.execute(_RECORDED_SQL, (_MAX_RECORDS + 1,)).fetchall()
        trace_notify, client_min_messages = rows[0][4], rows[0][5]
        records = [row[:4] for row in rows if row[0] is not None]
        if len(records) > _MAX_RECORDS:
            records = records[:_MAX_RECORDS]
            self._cuts.append(f"capture: more than {_MAX_RECORDS:,} records in one transaction; the first were read")
        if trace_notify != "on" or not str(client_min_messages).startswith("debug"):
            self._cuts.append(
                f"{_TRACE_OFF} (trace_notify = {trace_notify}, "
                f"client_min_messages = {client_min_messages}); channels only the trace names were not listened to"
            )
        if any(record[0] == "function" for record in records):
            self._find_switchers()
        for oid, calls, function in self._switcher_calls():
            if calls <= self._switcher_baseline.get(oid, 0):
                continue
            self._cuts.append(
                f"capture: {function} ran and switches PostgreSQL's notify trace off while it runs (a SET of "
                "trace_notify or client_min_messages); what it sent past the tap was not captured"
            )
        channels = dict.fromkeys(self._traced)
        messages: list[RealtimeMessage] = []
        for kind, key, body, site in records:
            if kind == "channel":
                channels.setdefault(key)
                self._channel_sites.setdefault(key, _below_tap(site or ""))
            elif kind == "message":
                message: Any = json.loads(body) if body else {}
                messages.append(
                    RealtimeMessage(
                        id=key,
                        topic=message.get("topic"),
                        extension=message.get("extension"),
                        event=message.get("event"),
                        private=message.get("private"),
                        payload=message.get("payload"),
                        context=_below_tap(site or ""),
                    )
                )
            elif kind == "tamper":
                self._cuts.append(
                    f"capture: {key} left realtime.messages without bcastsim's recording trigger; "
                    "messages sent after it were not captured"
                )
        for channel, context in self._traced.items():
            self._channel_sites.setdefault(channel, _traced_site(context))
        if len(channels) > MAX_CAPTURED_CHANNELS:
            self._channels_over = True
        return list(channels)[:MAX_CAPTURED_CHANNELS], tuple(messages)

    def _drain(self, transaction: int, fence: str) -> list[Notification]:
        observed: list[Notification] = []
        self._notifications_seen = 0
        for notify in self._listener.notifies(timeout=_DRAIN_TIMEOUT_SECONDS):
            if notify.channel == _FENCE_CHANNEL:
                if notify.payload == fence:
                    return observed
                continue
            self._notifications_seen += 1
            if len(observed) >= MAX_CAPTURED_NOTIFICATIONS:
                continue  # read to the fence, keep the first ones: the count says what was cut
            observed.append(
                Notification(
                    channel=notify.channel,
                    payload=notify.payload,
                    json=_maybe_json(notify.payload),
                    pid=notify.pid,
                    transaction=transaction,
                    context=self._channel_sites.get(notify.channel, ""),
                )
            )
        raise RuntimeError(f"fence notification {fence} did not arrive within {_DRAIN_TIMEOUT_SECONDS}s")


_DISCARD = "bcastsim_discard"


def _without_rows(text: str) -> list[tuple[int, str]]:
    """The file's statements with their lines, each plain ``SELECT`` run on the server without returning its rows.

    ``DECLARE … CURSOR FOR q; MOVE FORWARD ALL; CLOSE`` runs ``q`` to its end (functions it calls
    run as they would) and sends only a row count; an ``INSERT``, ``UPDATE`` or ``DELETE … RETURNING``
    runs inside ``WITH … SELECT count(*)``, which sends only the count; a ``SELECT`` over a
    data-modifying ``WITH`` (which must stay at the top level, so no cursor may hold it) becomes one
    more CTE of that ``WITH``, of which only the count is sent (as for ``RETURNING``, the planner
    skips only columns without side effects: volatile functions still run). ``SELECT … INTO`` runs
    as written, as does a file PostgreSQL's parser cannot split.
    """
    from pglast import ast, parse_sql, parser
    from pglast.stream import RawStream

    try:
        pieces = parser.split(text, with_parser=True)
    except parser.ParseError:
        return [(1, text)]  # the server reports the syntax error when the text runs
    out: list[tuple[int, str]] = []
    offset, line = 0, 1
    for piece in pieces:
        # The parser's pieces are slices of the text, in order: a piece's line is counted up to it.
        found = text.find(piece, offset)
        if found >= 0:
            line += text.count("\n", offset, found)
            offset = found
        try:
            statement = parse_sql(piece)[0].stmt
        except parser.ParseError:
            out.append((line, piece))
            continue
        plain = isinstance(statement, ast.SelectStmt) and statement.intoClause is None
        if isinstance(statement, ast.SelectStmt) and statement.withClause is not None:
            ctes = statement.withClause.ctes or ()
            plain = plain and all(isinstance(getattr(cte, "ctequery", None), ast.SelectStmt) for cte in ctes)
        modifying = (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt)
        if plain:
            cursor = f"DECLARE {_DISCARD} NO SCROLL CURSOR FOR {piece};\n"
            out.append((line, f"{cursor}MOVE FORWARD ALL IN {_DISCARD}; CLOSE {_DISCARD}"))
        elif isinstance(statement, modifying) and statement.returningClause and statement.withClause is None:
            # Its rows counted on the server, not sent: the write is the same top-level statement.
            out.append((line, f"WITH {_DISCARD} AS ({piece}) SELECT count(*) FROM {_DISCARD}"))
        elif (
            isinstance(statement, ast.SelectStmt) and statement.intoClause is None and statement.withClause is not None
        ):
            with_clause = statement.withClause
            statement.withClause = None
            kept = ", ".join(RawStream()(cte) for cte in with_clause.ctes or ())
            recursive = "RECURSIVE " if with_clause.recursive else ""
            hoisted = f"WITH {recursive}{kept}, {_DISCARD} AS ({RawStream()(statement)})"
            out.append((line, f"{hoisted} SELECT count(*) FROM {_DISCARD}"))
        else:
            out.append((line, piece))
    return out or [(1, text)]


def _maybe_json(payload: str) -> Any | None:
    try:
        return json.loads(payload)
    except ValueError:
        return None
