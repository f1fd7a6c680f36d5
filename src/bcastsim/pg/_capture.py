"""Run transactions against a real database and capture, in order, what a listener observed.

``LISTEN`` needs exact channel names, but the seed's channels carry ids
(``broadcast:bid:<uuid>``). The capture therefore shadows ``pg_notify`` for the
sending session only: a ``bcastsim_tap.pg_notify`` earlier on its search_path
calls the real ``pg_catalog.pg_notify`` first (same errors, same queue, same
duplicate collapse) and then records the channel in a transaction-local
setting, which savepoint rollbacks undo like the notification itself. Before
``COMMIT`` the listener ``LISTEN``s on every recorded channel; after it, the
listener notifies itself on a fence channel and reads until the fence arrives:
commit order guarantees everything the transaction sent came before it, so
nothing sleeps.

Rows that ``realtime.send`` inserts into ``realtime.messages`` are recorded the
same way (an AFTER INSERT trigger writing the row id to a transaction-local
setting) and read back before commit.
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
_MAX_SITES_BYTES = 65_536
_MAX_CHANNELS_BYTES = 65_536
_MAX_STACK_CHARS = 1_000

TAP_SQL = f"""
CREATE SCHEMA IF NOT EXISTS {_TAP_SCHEMA};
-- Who sent it: the PL/pgSQL call stack (GET DIAGNOSTICS … PG_CONTEXT) beside a key, length-prefixed,
-- the first {_MAX_SITES_BYTES} bytes of them per transaction (a flood keeps its first senders).
CREATE OR REPLACE FUNCTION {_TAP_SCHEMA}.record_site(setting text, key text) RETURNS void
LANGUAGE plpgsql AS $tap$
DECLARE
  stack text;
  entry text;
  -- a short counter, so a flood past the cap does not copy the recorded text again per call
  used int := coalesce(nullif(pg_catalog.current_setting(setting || '_bytes', true), ''), '0')::int;
BEGIN
  IF used < {_MAX_SITES_BYTES} THEN
    GET DIAGNOSTICS stack = PG_CONTEXT;
    stack := pg_catalog.left(stack, {_MAX_STACK_CHARS});
    entry := pg_catalog.octet_length(key)::text || ':' || key || pg_catalog.octet_length(stack)::text || ':' || stack;
    PERFORM pg_catalog.set_config(setting, coalesce(pg_catalog.current_setting(setting, true), '') || entry, true);
    PERFORM pg_catalog.set_config(setting || '_bytes', (used + pg_catalog.octet_length(entry))::text, true);
  END IF;
END
$tap$;
CREATE OR REPLACE FUNCTION {_TAP_SCHEMA}.pg_notify(channel text, payload text) RETURNS void
LANGUAGE plpgsql AS $tap$
DECLARE
  used int;
BEGIN
  PERFORM pg_catalog.pg_notify(channel, payload);
  PERFORM {_TAP_SCHEMA}.record_site('bcastsim.channel_sites', channel);
  -- A loop on one channel records it once; past {_MAX_CHANNELS_BYTES} bytes of names the record
  -- stops growing (each call would copy it) and says so: the capture is then cut.
  IF channel IS DISTINCT FROM pg_catalog.current_setting('bcastsim.last_channel', true) THEN
    used := coalesce(nullif(pg_catalog.current_setting('bcastsim.channels_bytes', true), ''), '0')::int;
    IF used < {_MAX_CHANNELS_BYTES} THEN
      -- length-prefixed, so any character may appear in a channel name
      PERFORM pg_catalog.set_config('bcastsim.channels',
        coalesce(pg_catalog.current_setting('bcastsim.channels', true), '')
          || pg_catalog.octet_length(channel)::text || ':' || channel, true);
      PERFORM pg_catalog.set_config('bcastsim.channels_bytes', (used + pg_catalog.octet_length(channel))::text, true);
      PERFORM pg_catalog.set_config('bcastsim.last_channel', channel, true);
    ELSE
      PERFORM pg_catalog.set_config('bcastsim.channels_cut', '1', true);
    END IF;
  END IF;
END
$tap$;
CREATE OR REPLACE FUNCTION {_TAP_SCHEMA}.record_message() RETURNS trigger
LANGUAGE plpgsql AS $tap$
BEGIN
  PERFORM pg_catalog.set_config('bcastsim.messages',
    coalesce(pg_catalog.current_setting('bcastsim.messages', true), '') || NEW.id::text || ',', true);
  PERFORM {_TAP_SCHEMA}.record_site('bcastsim.message_sites', NEW.id::text);
  RETURN NULL;
END
$tap$;
DO $tap$
BEGIN
  IF to_regclass('realtime.messages') IS NOT NULL THEN
    DROP TRIGGER IF EXISTS bcastsim_tap_record_message ON realtime.messages;
    CREATE TRIGGER bcastsim_tap_record_message AFTER INSERT ON realtime.messages
      FOR EACH ROW EXECUTE FUNCTION {_TAP_SCHEMA}.record_message();
  END IF;
END
$tap$;
"""
# Run by the superuser on a database for untrusted SQL, before that SQL: the tap's schema is then
# not the reviewed role's, so the SQL can neither replace the tap nor plant functions or operators
# in the schema that comes first on the search path.
TAP_OWNED_SQL = (
    TAP_SQL.split("DO $tap$", 1)[0]
    + f"REVOKE ALL ON SCHEMA {_TAP_SCHEMA} FROM PUBLIC;\nGRANT USAGE ON SCHEMA {_TAP_SCHEMA} TO PUBLIC;\n"
)
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


def _parse_channels(recorded: str | None) -> list[str]:
    channels: list[str] = []
    text = (recorded or "").encode()
    position = 0
    while position < len(text):
        colon = text.index(b":", position)
        length = int(text[position:colon])
        channels.append(text[colon + 1 : colon + 1 + length].decode(errors="replace"))
        position = colon + 1 + length
    return channels


_TAP_FRAMES = 2  # record_site, and the tap function that called it (pg_notify or record_message)


def _parse_sites(recorded: str | None) -> dict[str, str]:
    """key → the call stack recorded with it first (``record_site``'s pairs), the tap's own frames removed."""
    items = _parse_channels(recorded)
    sites: dict[str, str] = {}
    for key, stack in zip(items[::2], items[1::2], strict=False):
        lines = stack.split("\n")
        frames = [number for number, line in enumerate(lines) if line.startswith("PL/pgSQL function ")]
        below_tap = frames[_TAP_FRAMES - 1] + 1 if len(frames) >= _TAP_FRAMES else len(lines)
        sites.setdefault(key, "\n".join(lines[below_tap:]))
    return sites


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
        self._channels_cut = False
        self._listener = psycopg.connect(conninfo, autocommit=True)
        self._listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(_FENCE_CHANNEL)))
        self._sender = psycopg.connect(conninfo, autocommit=True)
        self._sender.add_notice_handler(self._on_notice)
        self._install_tap()

    @property
    def sender_pid(self) -> int:
        return self._sender.info.backend_pid

    def _on_notice(self, diagnostic: psycopg.errors.Diagnostic) -> None:
        if diagnostic.severity_nonlocalized == "WARNING":
            self._warnings_seen += 1
            if len(self._warnings) < MAX_CAPTURED_WARNINGS:
                self._warnings.append((diagnostic.message_primary or "")[:_MAX_WARNING_CHARS])

    def _cut(self, notifications_seen: int, errors: Sequence[PgError] = ()) -> tuple[str, ...]:
        cut = [limit_cut(error, f"statement {error.step + 1}") for error in errors if error.sqlstate in LIMIT_ERRORS]
        if notifications_seen > MAX_CAPTURED_NOTIFICATIONS:
            cut.append(f"notifications: {notifications_seen:,} sent, {MAX_CAPTURED_NOTIFICATIONS:,} captured")
        if self._channels_cut:
            cut.append(
                f"channels: names past the first {_MAX_CHANNELS_BYTES:,} bytes were not recorded, "
                "so notifications on them were not captured"
            )
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
        return cursor.fetchall() if cursor.description is not None else None

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
        self._channels_cut = False
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
        row = self._sender.execute(
            "SELECT current_setting('bcastsim.channels', true), current_setting('bcastsim.messages', true),"
            " current_setting('bcastsim.channel_sites', true), current_setting('bcastsim.message_sites', true),"
            " current_setting('bcastsim.channels_cut', true)"
        ).fetchone()
        assert row is not None
        channels = _parse_channels(row[0])
        self._channels_cut = row[4] == "1"
        self._channel_sites = _parse_sites(row[2])
        message_sites = _parse_sites(row[3])
        message_ids = [item for item in (row[1] or "").split(",") if item]
        if not message_ids:
            return channels, ()
        rows = self._sender.execute(
            "SELECT m.id::text, m.topic, m.extension, m.event, m.private, m.payload::text"
            " FROM unnest(%s::uuid[]) WITH ORDINALITY AS recorded(id, position)"
            " JOIN realtime.messages m ON m.id = recorded.id ORDER BY recorded.position",
            (message_ids,),
        ).fetchall()
        messages = tuple(
            RealtimeMessage(
                id=r[0], topic=r[1], extension=r[2], event=r[3], private=r[4],
                payload=json.loads(r[5]) if r[5] is not None else None,
                context=message_sites.get(r[0], ""),
            )
            for r in rows
        )  # fmt: skip
        return channels, messages

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
    runs inside ``WITH … SELECT count(*)``, which sends only the count. ``SELECT … INTO`` and a
    ``SELECT`` with a data-modifying ``WITH`` run as written, as does a file PostgreSQL's parser
    cannot split.
    """
    from pglast import ast, parse_sql, parser

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
        else:
            out.append((line, piece))
    return out or [(1, text)]


def _maybe_json(payload: str) -> Any | None:
    try:
        return json.loads(payload)
    except ValueError:
        return None
