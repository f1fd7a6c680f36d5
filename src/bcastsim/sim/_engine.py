"""The event loop: a virtual clock, a heap of timed callbacks and a fingerprint of what ran.

Ties are broken by (time, priority, insertion order), never by object identity, so two runs with
one seed execute the same callbacks in the same order in any process.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable
from typing import Any

__all__ = ["Engine"]

Callback = Callable[..., None]


class Engine:
    """Discrete-event loop over virtual milliseconds."""

    def __init__(self) -> None:
        self.now = 0.0
        self._queue: list[tuple[float, int, int, Callback, tuple[Any, ...]]] = []
        self._seq = 0
        self._trace = hashlib.sha256()
        self._lines: list[str] = []  # trace lines not yet hashed: hashed in batches, the same bytes in order
        self.events = 0

    def at(self, time_ms: float, callback: Callback, *args: Any, priority: int = 5) -> None:
        """Run ``callback(*args)`` at ``time_ms`` (never in the past); lower priority runs first on ties."""
        when = time_ms if time_ms > self.now else self.now
        self._seq += 1
        heapq.heappush(self._queue, (when, priority, self._seq, callback, args))

    def record(self, kind: str, *detail: object) -> None:
        """Add one line to the event trace that the report's fingerprint hashes."""
        lines = self._lines
        lines.append(f"{self.now:.3f}|{kind}|{'|'.join(map(str, detail))}\n")
        if len(lines) >= 4096:
            self._flush()

    def _flush(self) -> None:
        self._trace.update("".join(self._lines).encode())
        self._lines.clear()

    def run(self, until_ms: float, progress: Callable[[float], None] | None = None) -> None:
        queue = self._queue
        pop = heapq.heappop
        next_report = 0.0
        step = until_ms / 100.0
        while queue and queue[0][0] <= until_ms:
            when, _priority, _seq, callback, args = pop(queue)
            self.now = when
            self.events += 1
            callback(*args)
            if progress is not None and when >= next_report:
                progress(when / until_ms)
                next_report = when + step
        self.now = until_ms
        if progress is not None:
            progress(1.0)

    def fingerprint(self) -> str:
        self._flush()
        return self._trace.hexdigest()
