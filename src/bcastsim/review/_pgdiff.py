"""``review --pg``: run both versions in a real PostgreSQL on one generated workload and diff what they send.

The workload comes from the catalog: rows for every table in foreign-key order (values
from column types, a seeded ``random.Random``), then updates of each column and deletes
of rows nothing references, one transaction each, plus one transaction writing two
equal rows. Both versions run the same transactions; messages are paired by message
type and destination, and volatile values (times the database chose) are masked.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import re
import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from bcastsim._errors import InputError
from bcastsim.findings import Finding, Severity
from bcastsim.review._pgcontain import cut_findings, load_site, placed, swallowed_refusals
from bcastsim.review._report import RuleInfo

if TYPE_CHECKING:
    from bcastsim.pg import Database, EphemeralPostgres, TransactionResult
    from bcastsim.sqlmodel import Catalog, Column, Table

__all__ = ["PG_RULES", "Workload", "generate_workload", "pg_diff"]

_BASE_TIME = datetime(2025, 8, 17, 19, 0, tzinfo=UTC)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}(:?\d{2})?|Z)?$")


def _info(rule_id: str, severity: Severity, title: str, why: str, fix: str) -> RuleInfo:
    return RuleInfo(id=rule_id, severity=severity, title=title, why=why, fix=fix)


PG_RULES: dict[str, RuleInfo] = {
    info.id: info
    for info in (
        _info(
            "pg-write-failed",
            Severity.ERROR,
            "A write that committed before now fails",
            "In the real database the new triggers abort a transaction the old ones let commit: the "
            "business row is lost.",
            "run the transaction shown in the example against the new SQL and fix the error it raises",
        ),
        _info(
            "pg-write-fixed",
            Severity.NOTE,
            "A write that failed before now commits",
            "The new version no longer aborts this transaction.",
            "none needed",
        ),
        _info(
            "pg-message-missing",
            Severity.ERROR,
            "A message the old version sent is no longer sent",
            "Observed in PostgreSQL: subscribers of this destination stop receiving this message.",
            "send it again, or move the subscribers in the same release",
        ),
        _info(
            "pg-destination-changed",
            Severity.ERROR,
            "The same message goes to a different topic",
            "Observed in PostgreSQL on the same writes: the message now goes to another channel or topic "
            "value, so subscribers of the old one miss it.",
            "build the topic from the same value as before, or move the subscribers",
        ),
        _info(
            "pg-message-added",
            Severity.NOTE,
            "A message the old version did not send",
            "Observed in PostgreSQL: a new message reaches this destination.",
            "check who receives it",
        ),
        _info(
            "pg-payload-changed",
            Severity.WARNING,
            "The payload actually sent changed",
            "Observed in PostgreSQL on the same writes: keys or values differ between the versions.",
            "check every subscriber reads the new shape",
        ),
        _info(
            "pg-delivery-changed",
            Severity.WARNING,
            "The same message travels differently",
            "Observed in PostgreSQL: the transport or the private flag of the message changed, so who "
            "receives it changed.",
            "move the subscribers (and RLS policies) with it",
        ),
        _info(
            "pg-needs-superuser",
            Severity.ERROR,
            "The SQL needs superuser rights",
            "Reviewed SQL runs as a role without superuser rights (and without the roles that run programs or "
            "read and write server files), so nothing in a change can reach outside its database. PostgreSQL "
            "refused this statement for lack of privilege: on a managed database it fails the same way, or it "
            "runs with rights nobody reviewed.",
            "do it without superuser rights (no COPY ... PROGRAM, server files or ALTER SYSTEM in a migration), "
            "or have an administrator do it outside the migration",
        ),
        _info(
            "pg-inconclusive",
            Severity.ERROR,
            "PostgreSQL compared nothing, or not all",
            "No transaction of the workload committed in both versions with a message sent, or a bound of the "
            "review (a cap on what is captured, a timeout, the memory or time limit) stopped the SQL, so what it "
            "sent past that point was not compared: a clean report here would say nothing about the change.",
            "pass the tables the triggers need with --schema, or check the constraints the workload broke "
            "(the most common error is named)",
        ),
        _info(
            "pg-load-failed",
            Severity.ERROR,
            "The new version does not load in PostgreSQL",
            "The migration fails to apply on a database where the old version applies.",
            "run the new SQL against a scratch database and fix the error",
        ),
    )
}


@attrs.frozen
class Workload:
    """Transactions (lists of SQL statements) and the literal times the workload itself wrote."""

    transactions: tuple[tuple[str, ...], ...]
    literal_times: frozenset[str]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _topological(tables: dict[str, Table]) -> list[str]:
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order or name in visiting:
            return
        visiting.add(name)
        for column in tables[name].columns:
            if column.references and column.references[0] in tables and column.references[0] != name:
                visit(column.references[0])
        visiting.discard(name)
        order.append(name)

    for name in sorted(tables):
        visit(name)
    return order


class _Values:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.counter = 0
        self.times: set[str] = set()

    def literal(self, column: Column, table_rows: dict[str, list[str]], unique_index: int) -> str | None:
        """A SQL literal for ``column`` or None when the type is not one the workload knows."""
        rng = self.rng
        self.counter += 1
        if column.references and column.references[0] in table_rows:
            parents = table_rows[column.references[0]]
            if not parents or (not column.not_null and rng.random() < 0.25):
                return "NULL" if not column.not_null else None
            return _quote(rng.choice(parents))
        if not column.not_null and column.default_sql is None and rng.random() < 0.2:
            return "NULL"
        kind = column.type_name
        if kind == "uuid":
            return _quote(str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        if kind in {"integer", "smallint", "bigint"}:
            return str(1 + rng.randrange(3))
        if kind == "numeric":
            scale = column.type_modifiers[1] if len(column.type_modifiers) > 1 else 2
            value = Decimal(rng.randrange(5000, 50000)) / 100
            return str(round(value, min(scale, 2)))
        if kind in {"real", "double precision"}:
            return str(rng.randrange(1, 1000) / 10)
        if kind == "boolean":
            return "true" if rng.random() < 0.5 else "false"
        if kind in {"text", "varchar", "character varying", "char", "character", "citext"}:
            text = f"{column.name}-{unique_index}-{rng.randrange(1000)}"
            if column.type_modifiers:
                text = text[: column.type_modifiers[0]]
            return _quote(text)
        if kind in {"timestamptz", "timestamp", "timestamp with time zone", "timestamp without time zone"}:
            moment = _BASE_TIME + timedelta(minutes=self.counter)
            self.times.add(moment.isoformat())
            return _quote(moment.isoformat())
        if kind == "date":
            return _quote((_BASE_TIME + timedelta(days=unique_index)).date().isoformat())
        if kind in {"json", "jsonb"}:
            return _quote("{}")
        return "NULL" if not column.not_null else None


def generate_workload(
    catalog: Catalog, seed: int = 0, rows_per_table: int = 3, also_triggered: Sequence[str] = ()
) -> Workload:
    """A deterministic workload exercising every trigger of ``catalog`` (same seed, same SQL).

    ``also_triggered`` names tables that get update and delete transactions even without
    a trigger in ``catalog`` (the other version's triggered tables).
    """
    rng = random.Random(seed)
    values = _Values(rng)
    tables = {name: table for name, table in catalog.tables.items() if "." not in name}
    order = _topological(tables)
    triggered = {trigger.table for trigger in catalog.triggers.values()} | set(also_triggered)
    referenced = {column.references[0] for table in tables.values() for column in table.columns if column.references}
    rows: dict[str, list[str]] = {name: [] for name in order}
    row_values: dict[str, list[dict[str, str]]] = {name: [] for name in order}
    transactions: list[tuple[str, ...]] = []
    skipped: set[str] = set()
    index = 0

    def insert(table: Table) -> tuple[str, dict[str, str]] | None:
        nonlocal index
        index += 1
        assigned: dict[str, str] = {}
        for column in table.columns:
            literal = values.literal(column, rows, index)
            if literal is None:
                if column.default_sql is not None:
                    continue
                return None
            assigned[column.name] = literal
        names = ", ".join(f'"{name}"' for name in assigned)
        statement = f"INSERT INTO {table.name} ({names}) VALUES ({', '.join(assigned.values())})"
        return statement, assigned

    for name in order:
        table = tables[name]
        if len(table.primary_key) != 1:
            skipped.add(name)
            continue
        for _ in range(rows_per_table):
            made = insert(table)
            if made is None:
                skipped.add(name)
                break
            statement, assigned = made
            key = assigned.get(table.primary_key[0])
            if key is None or key == "NULL":
                skipped.add(name)
                break
            rows[name].append(key.strip("'"))
            row_values[name].append(assigned)
            transactions.append((statement,))
        if name in triggered and name not in skipped:
            # Two rows differing only in their key (and in columns that must be unique), in one
            # transaction: shows duplicate collapse.
            made = insert(table)
            if made is not None:
                statement, assigned = made
                twin = dict(assigned)
                twin[table.primary_key[0]] = _quote(str(uuid.UUID(int=rng.getrandbits(128), version=4)))
                for column in table.columns:
                    if column.unique and column.name in twin and column.name != table.primary_key[0]:
                        index += 1
                        twin[column.name] = values.literal(column, rows, index) or twin[column.name]
                columns = ", ".join(f'"{column}"' for column in twin)
                twin_sql = f"INSERT INTO {table.name} ({columns}) VALUES ({', '.join(twin.values())})"
                transactions.append((statement, twin_sql))
                rows[name].append(assigned[table.primary_key[0]].strip("'"))
                rows[name].append(twin[table.primary_key[0]].strip("'"))

    for name in order:
        if name not in triggered or name in skipped or not rows[name]:
            continue
        table = tables[name]
        pk = table.primary_key[0]
        target = rows[name][0]
        for column in table.columns:
            if column.name == pk or (column.references and column.not_null):
                continue
            if column.unique:
                continue
            literal = values.literal(column, rows, index + 1000)
            if literal is None:
                continue
            transactions.append((f'UPDATE {name} SET "{column.name}" = {literal} WHERE "{pk}" = {_quote(target)}',))
        transactions.append((f'UPDATE {name} SET "{pk}" = "{pk}" WHERE "{pk}" = {_quote(target)}',))
        if name not in referenced:
            transactions.append((f'DELETE FROM {name} WHERE "{pk}" = {_quote(rows[name][-1])}',))
    return Workload(tuple(transactions), frozenset(values.times))


# -- comparing what was sent -------------------------------------------------------------


@attrs.frozen
class _Sent:
    transport: str
    destination: str
    event: str | None
    private: bool | None
    payload: Any
    # Who sent it (the tap's PG_CONTEXT): where an observation about it is placed; not part of what was sent.
    context: str = attrs.field(default="", eq=False)

    @property
    def kind(self) -> str:
        if isinstance(self.payload, dict) and isinstance(self.payload.get("type"), str):
            return str(self.payload["type"])
        return self.event or "(no type)"

    @property
    def pattern(self) -> str:
        return _UUID.sub("{uuid}", self.destination)


def _normalize_time(text: str) -> str | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _mask(value: Any, literal_times: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {key: _mask(item, literal_times) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask(item, literal_times) for item in value]
    if isinstance(value, str) and _ISO_TIME.match(value):
        normalized = _normalize_time(value)
        return normalized if normalized in literal_times else "<time chosen by the database>"
    return value


def _sent(result: TransactionResult, literal_times: frozenset[str]) -> list[_Sent]:
    times = frozenset(t for t in (_normalize_time(x) for x in literal_times) if t)
    sent = [
        _Sent("pg_notify", n.channel, None, None, _mask(n.json if n.json is not None else n.payload, times), n.context)
        for n in result.notifications
    ]
    sent += [
        _Sent("realtime.send", m.topic, m.event, m.private, _mask(m.payload, times), m.context) for m in result.messages
    ]
    return sent


def _pair_key(message: _Sent) -> tuple[str, str]:
    return (message.kind, message.destination)


@attrs.frozen
class _Observation:
    rule: str
    key: tuple[str, ...]
    message: str
    channel: str | None
    example: str
    # PostgreSQL's CONTEXT of the error or the sending (tap): it names the function statement that caused it.
    context: str = ""


def _compare(
    index: int, statements: Sequence[str], old: TransactionResult, new: TransactionResult, times: frozenset[str]
) -> Iterator[_Observation]:
    example = f"transaction {index}: " + "; ".join(statements)
    if new.error is not None and new.error.sqlstate == _INSUFFICIENT_PRIVILEGE:
        yield _Observation(
            "pg-needs-superuser",
            (new.error.message,),
            f"a trigger of the new version needs superuser: {new.error.message}",
            None,
            example,
            new.error.context,
        )
        return
    if old.committed and not new.committed:
        error = new.error.message if new.error else "rolled back"
        yield _Observation(
            "pg-write-failed",
            (statements[0].split(" (")[0],),
            f"new version aborts the write: {error}",
            None,
            example,
            new.error.context if new.error else "",
        )
        return
    if new.committed and not old.committed:
        yield _Observation(
            "pg-write-fixed",
            (statements[0].split(" (")[0],),
            "new version lets a formerly failing write commit",
            None,
            example,
        )
        return
    before = _sent(old, times)
    after = _sent(new, times)
    unmatched_after = list(after)
    for message in before:
        match = next((m for m in unmatched_after if _pair_key(m) == _pair_key(message)), None)
        if match is None:
            # The same kind of message to another destination is one move, not a loss plus a gain.
            match = next((m for m in unmatched_after if m.kind == message.kind), None)
            if match is None:
                yield _Observation(
                    "pg-message-missing",
                    (message.kind, message.pattern),
                    f"'{message.kind}' on '{message.pattern}' ({message.transport}) is no longer sent",
                    message.pattern,
                    example,
                    message.context,
                )
                continue
            where = (
                f"'{match.pattern}' instead of '{message.pattern}'"
                if match.pattern != message.pattern
                else f"another '{match.pattern}' value than before ({match.destination} instead of "
                f"{message.destination}): the topic is built from a different value"
            )
            yield _Observation(
                "pg-destination-changed",
                (message.kind, message.pattern, match.pattern),
                f"'{message.kind}' now goes to {where}",
                message.pattern,
                example,
                match.context,
            )
        unmatched_after.remove(match)
        if (match.transport, match.private) != (message.transport, message.private):
            yield _Observation(
                "pg-delivery-changed",
                (message.kind, message.pattern, match.transport, str(match.private)),
                f"'{message.kind}' on '{match.pattern}' now travels by {match.transport}"
                f"{'' if match.private is None else (' (private)' if match.private else ' (public)')} "
                f"instead of {message.transport}"
                f"{'' if message.private is None else (' (private)' if message.private else ' (public)')}",
                match.pattern,
                example,
                match.context,
            )
        if isinstance(message.payload, dict) and isinstance(match.payload, dict):
            removed = sorted(set(message.payload) - set(match.payload))
            added = sorted(set(match.payload) - set(message.payload))
            changed = sorted(
                key for key in set(message.payload) & set(match.payload) if message.payload[key] != match.payload[key]
            )
            if removed or added or changed:
                parts = []
                if removed:
                    parts.append(f"keys removed: {', '.join(removed)}")
                if added:
                    parts.append(f"keys added: {', '.join(added)}")
                if changed:
                    parts.append(f"values differ: {', '.join(changed)}")
                yield _Observation(
                    "pg-payload-changed",
                    (message.kind, match.pattern, *removed, "|", *added, "|", *changed),
                    f"'{message.kind}' on '{match.pattern}': {'; '.join(parts)}",
                    match.pattern,
                    example,
                    match.context,
                )
        elif message.payload != match.payload:
            yield _Observation(
                "pg-payload-changed",
                (message.kind, match.pattern, "text"),
                f"'{message.kind}' on '{match.pattern}': payload text differs",
                match.pattern,
                example,
                match.context,
            )
    for message in unmatched_after:
        yield _Observation(
            "pg-message-added",
            (message.kind, message.pattern),
            f"'{message.kind}' on '{message.pattern}' ({message.transport}) is new",
            message.pattern,
            example,
            message.context,
        )


def _run(database: Database, workload: Workload) -> list[TransactionResult]:
    return database.run_history([list(steps) for steps in workload.transactions])


_DATABASES = itertools.count(1)


_INSUFFICIENT_PRIVILEGE = "42501"
_CREATE_EXTENSION = re.compile(r"\bcreate\s+extension\s+(?:if\s+not\s+exists\s+)?\"?([\w-]+)", re.IGNORECASE)


def _extensions(files: Sequence[Path]) -> list[str]:
    """Extensions the files create, in order (the harness creates those only a superuser can)."""
    from bcastsim._io import read_text

    return [match.group(1).lower() for path in files for match in _CREATE_EXTENSION.finditer(read_text(path))]


def _load_failure(error: Exception, label: str) -> tuple[str, str]:
    """(rule, message) for a version that did not load: privilege refusals are their own finding."""
    from bcastsim.pg import APPLYING_NOTE
    from bcastsim.pg._capture import LIMIT_ERRORS

    primary = getattr(getattr(error, "diag", None), "message_primary", None) or str(error)
    where = next(
        (n.removeprefix(APPLYING_NOTE) for n in getattr(error, "__notes__", ()) if n.startswith(APPLYING_NOTE)), ""
    )
    where = f" ({where})" if where else ""
    if getattr(error, "sqlstate", None) in LIMIT_ERRORS:
        bound = LIMIT_ERRORS[str(getattr(error, "sqlstate", ""))]
        return "pg-inconclusive", f"loading {label} was stopped by {bound}: {primary}{where}; nothing was compared"
    if getattr(error, "sqlstate", None) == _INSUFFICIENT_PRIVILEGE:
        return "pg-needs-superuser", f"{label} needs superuser: {primary}{where}"
    if primary.startswith("ALTER SYSTEM"):
        # PostgreSQL refuses it inside the file's transaction before it checks privileges.
        return "pg-needs-superuser", (
            f"{label} needs superuser: ALTER SYSTEM changes the server's configuration for every database "
            f"({primary}){where}"
        )
    return "pg-load-failed", f"{label} does not load in PostgreSQL: {primary}{where}"


def _finding(rule: str, message: str, error: BaseException | None = None) -> Finding:
    """A finding of ``rule``; with the ``error`` a file raised while loading, at that file's statement."""
    info = PG_RULES[rule]
    site = load_site(error) if error is not None else None
    path, line = site if site is not None else (None, None)
    return Finding(
        rule=info.id, severity=info.severity, message=message, fix=info.fix, why=info.why, path=path, line=line
    )


# The whole comparison, both versions' SQL and workload, must finish within this many seconds: SQL
# under review can turn its own statement timeout off and sleep or loop.
TIME_LIMIT_S = 600.0


class _Watchdog:
    """Terminates the review databases' sessions (as the superuser) once the time limit has passed."""

    def __init__(self, server: EphemeralPostgres, names: Sequence[str], seconds: float) -> None:
        self.server, self.names, self.seconds = server, names, seconds
        self.expired = False
        self.phase = "loading the old version"
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        from psycopg import sql

        self.expired = True
        listed = sql.SQL(", ").join(sql.Literal(name) for name in self.names)
        with contextlib.suppress(Exception):  # the server may be gone already; nothing is left to stop then
            self.server.execute(
                sql.SQL("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN ({})").format(listed)
            )

    def finding(self) -> Finding:
        return _finding(
            "pg-inconclusive",
            f"the review stopped the SQL after {self.seconds:g} s (its time limit) while {self.phase}: a loop, "
            "a sleep or a lock in the migration or its triggers; nothing after that point was compared",
        )


def _run_both(
    server: EphemeralPostgres,
    old_files: Sequence[Path],
    new_files: Sequence[Path],
    workload: Workload,
    new_label: str,
    *,
    time_limit_s: float = TIME_LIMIT_S,
) -> tuple[list[TransactionResult], list[TransactionResult], list[Finding]] | Finding:
    import psycopg

    number = next(_DATABASES)
    names = (f"bcastsim_review_{os.getpid()}_{number}_old", f"bcastsim_review_{os.getpid()}_{number}_new")
    try:
        with _Watchdog(server, names, time_limit_s) as watchdog:
            try:
                old_db = server.create_database(
                    files=list(old_files), name=names[0], untrusted=True, extensions=_extensions(old_files)
                )
            except psycopg.Error as error:
                if watchdog.expired:
                    return watchdog.finding()
                rule, message = _load_failure(error, "the old version")
                if rule in ("pg-needs-superuser", "pg-inconclusive"):
                    return _finding(rule, message, error)
                raise InputError(f"{message}", fix="pass the tables it needs with --schema") from None
            watchdog.phase = f"loading {new_label}"
            try:
                new_db = server.create_database(
                    files=list(new_files), name=names[1], untrusted=True, extensions=_extensions(new_files)
                )
            except psycopg.Error as error:
                old_db.close()
                return watchdog.finding() if watchdog.expired else _finding(*_load_failure(error, new_label), error)
            with old_db, new_db:
                runs = []
                for label, database in (("the old version", old_db), (new_label, new_db)):
                    watchdog.phase = f"running the workload on {label}"
                    try:
                        runs.append(_run(database, workload))
                    except (psycopg.Error, RuntimeError) as error:
                        if watchdog.expired:
                            return watchdog.finding()
                        # E.g. the SQL terminated its own sessions or dropped what the capture needs.
                        detail = " ".join(str(error).split())
                        return _finding(
                            "pg-load-failed", f"{label} broke the review's sessions in PostgreSQL: {detail}"
                        )
                # Refusals the new version's own exception blocks caught: PostgreSQL reported none of them.
                try:
                    swallowed = swallowed_refusals(new_db, PG_RULES["pg-needs-superuser"], new_label)
                except psycopg.Error as error:
                    if watchdog.expired:
                        return watchdog.finding()
                    detail = " ".join(str(error).split())
                    message = f"{new_label} broke the review's sessions in PostgreSQL: {detail}"
                    return _finding("pg-load-failed", message)
                return runs[0], runs[1], swallowed
    finally:
        for name in names:
            server.drop_database(name)


def pg_diff(
    old_files: Sequence[Path],
    new_files: Sequence[Path],
    catalog: Catalog,
    *,
    seed: int = 0,
    new_label: str = "NEW",
    also_triggered: Sequence[str] = (),
    server: EphemeralPostgres | None = None,
    time_limit_s: float = TIME_LIMIT_S,
) -> list[Finding]:
    """Load both file lists into fresh databases, run one workload on both, report what differs.

    Everything the SQL runs must finish within ``time_limit_s``; after it the review stops it
    and reports it.

    ``server`` reuses a running :class:`~bcastsim.pg.EphemeralPostgres` (its two databases are
    dropped afterwards); without it a throwaway server is started and stopped.
    """
    from bcastsim.pg import EphemeralPostgres, PgBinariesNotFound, ServerStartError

    workload = generate_workload(catalog, seed=seed, also_triggered=also_triggered)
    if server is not None:
        results = _run_both(server, old_files, new_files, workload, new_label, time_limit_s=time_limit_s)
    else:
        try:
            started = EphemeralPostgres.start()
        except PgBinariesNotFound as error:
            raise InputError(f"--pg needs PostgreSQL server binaries: {error}", fix="install PostgreSQL") from None
        except ServerStartError as error:
            raise InputError(f"--pg could not start PostgreSQL: {error}") from None
        with started:
            results = _run_both(started, old_files, new_files, workload, new_label, time_limit_s=time_limit_s)
    if isinstance(results, Finding):
        return [results]
    old_results, new_results, swallowed = results
    findings: list[Finding] = list(swallowed)
    observations: dict[tuple[str, tuple[str, ...]], list[_Observation]] = {}
    failed_before = False
    for index, (statements, old, new) in enumerate(zip(workload.transactions, old_results, new_results, strict=True)):
        # Once a write failed in one version, later writes referencing its row fail there too
        # (foreign key violations): those are consequences, not further causes.
        consequence = failed_before and any(
            result.error is not None and result.error.sqlstate == "23503" for result in (old, new)
        )
        failed_before = failed_before or old.committed != new.committed
        if consequence:
            continue
        for observation in _compare(index, statements, old, new, workload.literal_times):
            observations.setdefault((observation.rule, observation.key), []).append(observation)
    inconclusive = _inconclusive(workload, old_results, new_results, seed)
    if inconclusive is not None:
        findings.append(inconclusive)
    findings += cut_findings(
        PG_RULES["pg-inconclusive"], workload.transactions, (("the old version", old_results), (new_label, new_results))
    )
    counts = Counter({key: len(items) for key, items in observations.items()})
    for key in sorted(observations):
        first = observations[key][0]
        info = PG_RULES[first.rule]
        times = counts[key]
        finding = Finding(
            rule=first.rule,
            severity=info.severity,
            message=f"{first.message} (seen in {times} of {len(workload.transactions)} transactions, seed {seed})",
            channel=first.channel,
            fix=info.fix,
            why=info.why,
            example=first.example,
        )
        findings.append(placed(finding, first.context))
    return findings


def _inconclusive(
    workload: Workload, old_results: Sequence[TransactionResult], new_results: Sequence[TransactionResult], seed: int
) -> Finding | None:
    """``pg-inconclusive`` when no transaction committed in both versions and sent a message there."""
    both = [(old, new) for old, new in zip(old_results, new_results, strict=True) if old.committed and new.committed]
    sent = sum(len(_sent(old, workload.literal_times)) + len(_sent(new, workload.literal_times)) for old, new in both)
    if both and sent:
        return None
    errors = Counter(
        f"{result.error.sqlstate} {result.error.message}"
        for result in (*old_results, *new_results)
        if result.error is not None
    )
    common = f"; most common error: {errors.most_common(1)[0][0]}" if errors else ""
    info = PG_RULES["pg-inconclusive"]
    total = len(workload.transactions)
    return Finding(
        rule="pg-inconclusive",
        severity=info.severity,
        message=(
            f"nothing compared: of {total} transactions (seed {seed}),"
            f" {sum(r.committed for r in old_results)} committed in the old version,"
            f" {sum(r.committed for r in new_results)} in the new, {len(both)} in both,"
            f" and those sent {sent} messages{common}"
        ),
        fix=info.fix,
        why=info.why,
    )
