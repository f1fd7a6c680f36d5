"""The event loop: a virtual clock, a heap of timed callbacks and a fingerprint of what ran.

Ties are broken by (time, priority, insertion order), never by object identity, so two runs with
one seed execute the same callbacks in the same order in any process.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["Engine"]

Callback = Callable[..., None]

# The format of a trace line per number of details: "%s" is str(), "%.3f" is f"{now:.3f}", so a line's bytes are
# f"{now:.3f}|{kind}|{'|'.join(map(str, detail))}\n". Lines wait as formats and values and are made in batches by
# one formatting call, which costs a third of formatting each line as it comes.
_LINE = tuple("%.3f|%s|" + "|".join(["%s"] * n) + "\n" for n in range(16))
_BATCH = 4096


class Engine:
    """Discrete-event loop over virtual milliseconds."""

    def __init__(self) -> None:
        self.now = 0.0
        self._queue: list[tuple[float, int, int, Callback, tuple[Any, ...]]] = []
        self._seq = 0
        self._trace = hashlib.sha256()
        # Trace lines not yet hashed, as their formats and the values they take, in order.
        self._formats: list[str] = []
        self._values: list[object] = []
        # Events scheduled in time order all at once (a workload's writes), kept apart from the heap as a sorted
        # list that run() reads in turn: tens of thousands of them would make every push and pop of the heap dearer.
        self._timeline: list[tuple[float, int, int, Callback, tuple[Any, ...]]] = []
        self.events = 0

    def at(self, time_ms: float, callback: Callback, *args: Any, priority: int = 5) -> None:
        """Run ``callback(*args)`` at ``time_ms`` (never in the past); lower priority runs first on ties."""
        when = time_ms if time_ms > self.now else self.now
        self._seq += 1
        heapq.heappush(self._queue, (when, priority, self._seq, callback, args))

    def at_each(self, timed: Iterable[tuple[float, Callback, tuple[Any, ...]]], *, priority: int = 5) -> None:
        """``at(time_ms, callback, *args, priority=priority)`` for each ``(time_ms, callback, args)`` in turn: the
        same order of execution, for less when the times do not decrease and follow what is already listed."""
        timeline = self._timeline
        for time_ms, callback, args in timed:
            when = time_ms if time_ms > self.now else self.now
            self._seq += 1
            event = (when, priority, self._seq, callback, args)
            if timeline and event < timeline[-1]:
                heapq.heappush(self._queue, event)  # out of order: the heap keeps it in its place
            else:
                timeline.append(event)

    def record(self, kind: str, *detail: object) -> None:
        """Add one line to the event trace that the report's fingerprint hashes."""
        formats = self._formats
        if len(detail) < len(_LINE):
            formats.append(_LINE[len(detail)])
            self._values += (self.now, kind, *detail)
        else:
            formats.append(f"{self.now:.3f}|{kind}|{'|'.join(map(str, detail))}\n".replace("%", "%%"))
        if len(formats) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        self._trace.update(("".join(self._formats) % tuple(self._values)).encode())
        self._formats.clear()
        self._values.clear()

    def run(self, until_ms: float, progress: Callable[[float], None] | None = None) -> None:
        queue = self._queue
        pop = heapq.heappop
        timeline = self._timeline
        k = 0
        next_report = 0.0
        step = until_ms / 100.0
        while True:
            # The earlier of the heap's first event and the timeline's next, by (time, priority, insertion order).
            if k < len(timeline) and (not queue or timeline[k] < queue[0]):
                event = timeline[k]
                if event[0] > until_ms:
                    break
                k += 1
            elif queue and queue[0][0] <= until_ms:
                event = pop(queue)
            else:
                break
            when, _priority, _seq, callback, args = event
            self.now = when
            self.events += 1
            callback(*args)
            if progress is not None and when >= next_report:
                progress(when / until_ms)
                next_report = when + step
        del timeline[:k]  # what ran is dropped; a later run() goes on from the rest
        self.now = until_ms
        if progress is not None:
            progress(1.0)

    def drop_pending(self) -> None:
        """Forget every event not yet run (after the last run(): they would run after the end)."""
        self._queue.clear()
        self._timeline.clear()

    def fingerprint(self) -> str:
        self._flush()
        return self._trace.hexdigest()
