"""Run one history on the model and on a real PostgreSQL and say where they differ.

Every transaction starts with a *clock step*, ``SELECT pg_notify('bcastsim:clock',
now()::text)``: the real server reports its transaction timestamp through it,
and the model runs the same transaction with that ``now()``, so payloads built
with ``NOW()`` compare byte for byte (the clock notification itself is compared
too). An aborted transaction delivers nothing, so its clock cannot be read; yet
its ``now()`` can still decide an error, since a timestamp's length in a payload
near the 8000-byte limit depends on how many microsecond digits it has. For such
a transaction the model is run with one clock per rendered length (no fraction,
then 1 to 6 digits) and agrees when any of them reproduces what the server did.

The rows one UPDATE or DELETE touches come in the order of the plan PostgreSQL chose
(heap order, with line pointers reused after pruning, or an index's order), which SQL
leaves unspecified and the model does not follow: in a transaction with a statement
whose WHERE does not pin the table's primary key, notifications and messages are
compared as multisets. Everywhere else their order is compared exactly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import attrs

from bcastsim.db._coverage import current_coverage, paused
from bcastsim.db._txn import DatabaseModel, TransactionOutcome
from bcastsim.db._values import UTC, parse_timestamp

if TYPE_CHECKING:
    from bcastsim.pg import Database, TransactionResult

__all__ = ["CLOCK_CHANNEL", "CLOCK_STEP", "Differential", "Mismatch", "observed"]

CLOCK_CHANNEL = "bcastsim:clock"
CLOCK_STEP = f"SELECT pg_notify('{CLOCK_CHANNEL}', now()::text)"


@attrs.frozen
class Mismatch:
    """Where the model and the server disagreed: the transaction's position and both observations."""

    transaction: int
    real: dict[str, Any]
    model: dict[str, Any]
    #: what the model's side rests on (its wall clock): a difference there is no bug of the model
    assumptions: tuple[str, ...] = ()

    def __str__(self) -> str:
        lines = [f"transaction {self.transaction}:"]
        for key in self.real:
            if self.real[key] != self.model[key]:
                lines.append(f"  {key}:\n    real : {self.real[key]!r}\n    model: {self.model[key]!r}")
        lines.extend(f"  the model assumed: {text}" for text in self.assumptions)
        return "\n".join(lines)


def observed(result: TransactionResult | TransactionOutcome) -> dict[str, Any]:
    """What is compared: commit, errors by SQLSTATE and step, notifications byte for byte, messages, warnings."""
    return {
        "committed": result.committed,
        "error": None if result.error is None else (result.error.sqlstate, result.error.step),
        "statement_errors": [(e.sqlstate, e.step) for e in result.statement_errors],
        "notifications": [(n.channel, n.payload) for n in result.notifications],
        "messages": [(m.topic, m.event, m.extension, m.private, _payload(m.payload)) for m in result.messages],
        "warnings": list(result.warnings),
    }


_WRITE = re.compile(r"^\s*(?:UPDATE\s+(\S+)\s+SET|DELETE\s+FROM\s+(\S+))\s.*?\bWHERE\b(.*)$", re.I | re.S)
_PINNED = re.compile(r"(\w+)\s*=\s*(?:'(?:[^']|'')*'|[\w.:+-]+)")


def _touches_several_rows(model: DatabaseModel, steps: Sequence[str]) -> bool:
    """Whether an UPDATE or DELETE may touch several rows: its WHERE does not fix every primary-key column."""
    for step in steps:
        match = _WRITE.match(step) if isinstance(step, str) else None
        if match is None:
            continue
        table = model.schema.tables.get((match.group(1) or match.group(2)).strip('"').removeprefix("public."))
        if table is None or not table.primary_key:
            return True
        pinned = {name.lower() for name in _PINNED.findall(match.group(3))}
        if " or " in match.group(3).lower() or not set(table.primary_key) <= pinned:
            return True
    return False


def _unordered(view: dict[str, Any]) -> dict[str, Any]:
    return {**view, **{key: sorted(map(repr, view[key])) for key in ("notifications", "messages")}}


def _payload(payload: Any) -> Any:
    # The harness hands back realtime.messages payloads parsed from jsonb text; parse the model's alike.
    return json.loads(payload) if isinstance(payload, str) else payload


@attrs.define
class Differential:
    """A real database and a model of it, reset together and fed the same transactions."""

    database: Database
    model: DatabaseModel
    reset_sql: str = ""
    _worker: ThreadPoolExecutor | None = attrs.field(default=None, init=False, repr=False)

    @classmethod
    def for_tables(cls, database: Database, model: DatabaseModel) -> Differential:
        tables = ", ".join(sorted(model.schema.tables))
        if model.sql_files:
            from bcastsim.sqlmodel import load_catalog

            # A NOTIFY statement bypasses the capture's pg_notify tap; its channel is a literal, so listen ahead.
            sites = load_catalog(list(model.sql_files)).notify_sites
            literal = [s.channel.parts[0] for s in sites if s.transport == "NOTIFY" and len(s.channel.parts) == 1]
            database.listen(channel for channel in literal if isinstance(channel, str))
        return cls(database, model, f"TRUNCATE {tables} RESTART IDENTITY")

    def reset(self) -> None:
        """Empty every table and restart every sequence on both sides (one TRUNCATE on the server)."""
        self._reset_database()
        self.model.reset()

    def _reset_database(self) -> None:
        if self.reset_sql:
            self.database.execute(self.reset_sql)

    def run_transaction(
        self, steps: Sequence[str], *, commit: bool = True, isolate_statements: bool = False, position: int = 0
    ) -> tuple[TransactionResult, TransactionOutcome, Mismatch | None]:
        real = self._run_real(steps, commit, isolate_statements)
        mine, mismatch = self._compare(real, steps, commit, isolate_statements, position)
        return real, mine, mismatch

    def _run_real(self, steps: Sequence[str], commit: bool, isolate_statements: bool) -> TransactionResult:
        return self.database.run_transaction([CLOCK_STEP, *steps], commit=commit, isolate_statements=isolate_statements)

    def _compare(
        self, real: TransactionResult, steps: Sequence[str], commit: bool, isolate_statements: bool, position: int
    ) -> tuple[TransactionOutcome, Mismatch | None]:
        full = [CLOCK_STEP, *steps]
        now = None
        for notification in real.notifications:
            if notification.channel == CLOCK_CHANNEL:
                now = parse_timestamp(notification.payload, with_tz=True)
                break
        real_view = observed(real)
        candidates = [now] if now is not None else _CANDIDATE_NOWS
        first: tuple[TransactionOutcome, dict[str, Any]] | None = None
        for candidate in candidates:
            counter = self.model._transactions
            with paused():  # counted once, on the server's side
                mine = self.model.run_transaction(
                    full, commit=commit, isolate_statements=isolate_statements, now=candidate
                )
            model_view = observed(mine)
            if model_view == real_view:
                return mine, None
            if _touches_several_rows(self.model, steps) and _unordered(model_view) == _unordered(real_view):
                return mine, None
            if first is None:
                first = (mine, model_view)
            if mine.committed:
                break  # a committed transaction changed the model: no second try
            self.model._transactions = counter
        assert first is not None
        return first[0], Mismatch(position, real_view, first[1], first[0].assumptions)

    def run_history(
        self, transactions: Sequence[tuple[Sequence[str], bool]], *, isolate_statements: bool = False
    ) -> list[Mismatch]:
        """Reset both sides, run ``(steps, commit)`` pairs in order; the first mismatch, if any.

        The server side runs on a worker thread, ahead of the model: the model needs
        only each transaction's result (for its clock), so the two overlap.
        """
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bcastsim-differential")
        worker = self._worker
        reset = worker.submit(self._reset_database)
        futures = [worker.submit(self._run_real, steps, commit, isolate_statements) for steps, commit in transactions]
        self.model.reset()
        reset.result()
        mismatch = None
        for position, ((steps, commit), future) in enumerate(zip(transactions, futures, strict=True)):
            real = future.result()
            coverage = current_coverage()
            if coverage is not None:
                coverage.observe([CLOCK_STEP, *steps], real, self.database.sql_files)
            if mismatch is None:
                _, mismatch = self._compare(real, steps, commit, isolate_statements, position)
        coverage = current_coverage()
        if coverage is not None:
            coverage.steer()  # a history is one example: steer towards sites and branches it left unfired
        return [] if mismatch is None else [mismatch]

    def close(self) -> None:
        if self._worker is not None:
            self._worker.shutdown()
            self._worker = None


_FALLBACK_NOW = parse_timestamp("2025-08-17 19:00:00+00", with_tz=True).astimezone(UTC)
# One clock per length of the rendered fraction: "", ".1", ".12", … ".123456".
_CANDIDATE_NOWS = [_FALLBACK_NOW.replace(microsecond=m) for m in (0, 100000, 120000, 123000, 123400, 123450, 123456)]
