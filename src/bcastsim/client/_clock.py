"""A virtual clock: timers run in (due time, creation order); nothing reads the wall clock."""

from __future__ import annotations

import heapq
from collections.abc import Callable

import attrs

__all__ = ["Timer", "VirtualClock"]


@attrs.define(eq=False)
class Timer:
    due_ms: float
    delay_ms: float
    label: str
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@attrs.define
class VirtualClock:
    now_ms: float = 0.0
    _queue: list[tuple[float, int, Timer]] = attrs.field(factory=list)
    _seq: int = 0
    # Every timer ever scheduled, in order: conformance compares these delays with node's setTimeout calls.
    scheduled: list[Timer] = attrs.field(factory=list)

    def call_later(self, delay_ms: float, callback: Callable[[], None], label: str = "") -> Timer:
        timer = Timer(self.now_ms + max(0.0, delay_ms), delay_ms, label, callback)
        heapq.heappush(self._queue, (timer.due_ms, self._seq, timer))
        self._seq += 1
        self.scheduled.append(timer)
        return timer

    def advance(self, delta_ms: float) -> None:
        """Move time forward, running every timer that falls due on the way (timers may add timers)."""
        target = self.now_ms + delta_ms
        while self._queue and self._queue[0][0] <= target:
            due, _, timer = heapq.heappop(self._queue)
            self.now_ms = max(self.now_ms, due)
            if not timer.cancelled:
                timer.callback()
        self.now_ms = target

    def pending(self) -> int:
        return sum(1 for _, _, timer in self._queue if not timer.cancelled)
