"""The NOTIFY queue of one transaction, and realtime.messages rows, as PostgreSQL 15 treats them.

Notifications are pending until commit. A rolled-back savepoint (or a PL/pgSQL
exception block that caught an error) drops what it queued; a released one
merges into its parent. At commit a notification whose channel and payload are
byte-identical to an earlier one is dropped, the first keeping its position:
PostgreSQL dedups within each (sub)transaction level and again when a level
merges into its parent, which comes to the same thing.
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["ModelMessage", "ModelNotification", "PendingQueue"]


@attrs.frozen
class ModelNotification:
    """A delivered notification: ``transaction`` is the index of its transaction in the history."""

    channel: str
    payload: str
    transaction: int


@attrs.frozen
class ModelMessage:
    """A committed row of ``realtime.messages`` (what Supabase Realtime would broadcast)."""

    topic: str | None
    event: str | None
    payload: str | None  # jsonb text rendering
    private: bool | None
    extension: str | None
    transaction: int
    row: dict[str, Any] = attrs.field(eq=False, repr=False, factory=dict)


@attrs.define
class PendingQueue:
    """Notifications queued by an open transaction, in send order."""

    entries: list[tuple[str, str]] = attrs.Factory(list)

    def add(self, channel: str, payload: str) -> None:
        self.entries.append((channel, payload))

    def mark(self) -> int:
        return len(self.entries)

    def rollback_to(self, mark: int) -> None:
        del self.entries[mark:]

    def deliver(self) -> list[tuple[str, str]]:
        seen: set[tuple[str, str]] = set()
        out = []
        for entry in self.entries:
            if entry not in seen:
                seen.add(entry)
                out.append(entry)
        return out
