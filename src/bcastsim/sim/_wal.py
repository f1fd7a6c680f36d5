"""PostgreSQL's write-ahead log as the simulation sees it: one insert position, segment switches, logical slots.

The insert position grows with the event's writes and the database's background WAL. Three things PostgreSQL
does on its own clock shape what a logical slot retains (``pg_current_wal_lsn() - restart_lsn``), each cited in
docs/simulate.md#wal:

- ``archive_timeout``: the checkpointer forces a segment switch when WAL was written since the last switch and
  that long has passed (``CheckArchiveTimeout``, src/backend/postmaster/checkpointer.c). The switch pads the rest
  of the 16 MB segment, so the position jumps by one segment minus what was written since the last switch.
- running-transactions records: the background writer logs one every 15 s while WAL is written
  (``LOG_SNAPSHOT_INTERVAL_MS``, src/backend/postmaster/bgwriter.c), and every checkpoint logs one
  (``CreateCheckPoint`` → ``LogStandbySnapshot``, src/backend/access/transam/xlog.c).
- a logical slot's restart point moves only to such a record the slot has confirmed past
  (``LogicalIncreaseRestartDecodingForSlot``, src/backend/replication/logical/logical.c).

So after each switch every slot retains about a segment until the next record it confirms: the seed's
"15 MB spikes every 2 minutes". Each slot keeps the exact retained WAL at every change (not only at the
report's samples), so spikes are measured, not sampled.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

__all__ = ["RUNNING_XACTS_MS", "SEGMENT_BYTES", "Slot", "Wal"]

# PostgreSQL's default (and Supabase's) WAL segment: 16 MiB (wal_segment_size, set at initdb).
SEGMENT_BYTES = 16 * 1024 * 1024
RUNNING_XACTS_MS = 15_000.0


class Slot:
    """One logical replication slot: what its reader confirmed, and the restart point PostgreSQL derives."""

    def __init__(self, wal: Wal, name: str, now_ms: float) -> None:
        self.wal = wal
        self.name = name
        self.created_ms = now_ms
        self.confirmed = wal.position(now_ms)
        # A new slot starts from a fresh running-transactions record at its creation point.
        self.start = self.confirmed
        self.dropped = False
        self.peak_bytes = 0.0
        self.log: list[tuple[float, float]] = []  # (ms, retained bytes) at every change

    def restart_lsn(self) -> float:
        """The last running-transactions record at or before the confirmed position (never before creation)."""
        records = self.wal.records
        k = bisect.bisect_right(records, self.confirmed) - 1
        return max(self.start, records[k]) if k >= 0 else self.start

    def retained(self, now_ms: float) -> float:
        if self.dropped:
            return 0.0
        return max(0.0, self.wal.position(now_ms) - self.restart_lsn())

    def confirm(self, position: float, now_ms: float) -> None:
        """The reader has processed the WAL up to ``position``."""
        if position > self.confirmed:
            self.confirmed = position
            self.note(now_ms)

    def note(self, now_ms: float) -> None:
        value = self.retained(now_ms)
        self.peak_bytes = max(self.peak_bytes, value)
        if self.log and self.log[-1][0] == now_ms:
            self.log[-1] = (now_ms, value)
        else:
            self.log.append((now_ms, value))

    def drop(self, now_ms: float) -> None:
        self.note(now_ms)
        self.dropped = True
        self.log.append((now_ms, 0.0))


class Wal:
    """The insert position of one database's WAL, with PostgreSQL's periodic records and segment switches."""

    def __init__(
        self,
        *,
        background_bytes_per_s: float,
        archive_timeout_s: float,
        checkpoint_timeout_s: float,
    ) -> None:
        self.background = background_bytes_per_s
        self.archive_timeout_ms = archive_timeout_s * 1000.0
        self.checkpoint_timeout_ms = checkpoint_timeout_s * 1000.0
        self.written = 0.0  # bytes of the event's own writes and messages
        self.padding = 0.0  # bytes skipped by segment switches
        self.records: list[float] = [0.0]  # positions of running-transactions records
        self.slots: list[Slot] = []
        self.switches: list[tuple[float, float]] = []  # (ms, bytes padded) per forced switch
        self.checkpoints = 0
        self._last_switch_position = 0.0

    def position(self, now_ms: float) -> float:
        """``pg_current_wal_lsn()`` at ``now_ms``, in bytes since the start."""
        return self.background * now_ms / 1000.0 + self.written + self.padding

    def add(self, nbytes: float) -> None:
        self.written += nbytes

    def open_slot(self, name: str, now_ms: float) -> Slot:
        slot = Slot(self, name, now_ms)
        self.slots.append(slot)
        slot.note(now_ms)
        return slot

    def start(self, at: Callable[..., object]) -> None:
        """Schedule PostgreSQL's own clocks on the engine (``at(time, callback, *args, priority=)``)."""
        self._at = at
        at(RUNNING_XACTS_MS, self._running_xacts, RUNNING_XACTS_MS, priority=1)
        if self.archive_timeout_ms > 0:
            at(self.archive_timeout_ms, self._archive_timeout, self.archive_timeout_ms, priority=1)
        if self.checkpoint_timeout_ms > 0:
            at(self.checkpoint_timeout_ms, self._checkpoint, self.checkpoint_timeout_ms, priority=1)

    def _live(self) -> list[Slot]:
        return [s for s in self.slots if not s.dropped]

    def _log_record(self, now_ms: float) -> None:
        position = self.position(now_ms)
        if position > self.records[-1]:
            self.records.append(position)
        for slot in self._live():
            slot.note(now_ms)

    def _running_xacts(self, now_ms: float) -> None:
        # bgwriter logs one only when WAL was written since the last; the background WAL always writes some.
        self._log_record(now_ms)
        self._at(now_ms + RUNNING_XACTS_MS, self._running_xacts, now_ms + RUNNING_XACTS_MS, priority=1)

    def _checkpoint(self, now_ms: float) -> None:
        self.checkpoints += 1
        self._log_record(now_ms)
        self._at(now_ms + self.checkpoint_timeout_ms, self._checkpoint, now_ms + self.checkpoint_timeout_ms, priority=1)

    def _archive_timeout(self, now_ms: float) -> None:
        position = self.position(now_ms)
        offset = position % SEGMENT_BYTES
        if position > self._last_switch_position and offset:
            # The switch record ends the segment: the rest of it is skipped, the next record starts a new one.
            pad = SEGMENT_BYTES - offset
            for slot in self._live():
                slot.note(now_ms)  # just before the jump
            self.padding += pad
            self.switches.append((now_ms, pad))
            for slot in self._live():
                slot.note(now_ms + 1e-3)
        self._last_switch_position = self.position(now_ms)
        after = now_ms + self.archive_timeout_ms
        self._at(after, self._archive_timeout, after, priority=1)
