"""A model of Realtime's ``RateCounter`` (``lib/realtime/rate_counter/rate_counter.ex``) on the virtual clock.

Counts are added between ticks. At each tick the count joins the buckets (newest first, at most
``buckets`` kept) and the average becomes ``sum / len(buckets) / tick_s``: events per second over up
to a minute. A limit is judged by the version's rule (``docs/realtime-rules.md``): ``average_over``
(over while avg > limit), ``average_below`` (admitted while avg < limit) or ``triggered`` (the flag
set at the tick whose average reaches the limit, cleared at the tick whose average falls below it).
A counter whose buckets are all zero at an idle check stops; the next use starts it empty.

Ticks are computed lazily when the counter is read, and a run of empty ticks costs at most one
pass over the buckets, so an idle hour costs nothing.
"""

from __future__ import annotations

import math
from collections import deque

from bcastsim.sim._realtime_rules import CounterRule

__all__ = ["RateCounter"]


class RateCounter:
    """One project-wide counter with a limit (``math.inf``: never over)."""

    __slots__ = (
        "avg",
        "buckets",
        "idle_ms",
        "judge",
        "limit",
        "next_idle",
        "next_tick",
        "pending",
        "running",
        "sum",
        "tick_ms",
        "triggered",
    )

    def __init__(self, rule: CounterRule, limit: float, judge: str) -> None:
        self.tick_ms = rule.tick_s * 1000.0
        self.idle_ms = rule.idle_shutdown_s * 1000.0
        self.buckets: deque[float] = deque(maxlen=rule.buckets)
        self.limit = limit
        self.judge = judge
        self.running = False
        self.next_tick = math.inf
        self.next_idle = math.inf
        self.pending = 0.0
        self.sum = 0.0
        self.avg = 0.0
        self.triggered = False

    @property
    def unlimited(self) -> bool:
        return math.isinf(self.limit)

    def start(self, now: float) -> None:
        """``RateCounter.new``: a counter not running starts empty (its init resets the count)."""
        self.advance(now)
        if self.running:
            return
        self.running = True
        self.buckets.clear()
        self.pending = self.sum = self.avg = 0.0
        self.triggered = False
        self.next_tick = now + self.tick_ms
        self.next_idle = now + self.idle_ms

    def add(self, now: float, n: float) -> None:
        """``GenCounter.add``: count ``n`` at ``now`` (starting the counter if it is not running)."""
        if self.unlimited:
            return
        self.start(now)
        self.pending += n

    def over(self, now: float, judge: str = "") -> bool:
        """Whether a use at ``now`` is over the limit under ``judge`` (default: the counter's own)."""
        if self.unlimited:
            return False
        self.advance(now)
        if not self.running:
            return False  # a fresh counter has no average yet
        judge = judge or self.judge
        if judge == "triggered":
            return self.triggered
        if judge == "average_below":
            return not self.avg < self.limit
        if judge == "average_plus_batch_over":
            return self.avg + 1 > self.limit
        return self.avg > self.limit

    def advance(self, now: float) -> None:
        """Run the ticks and idle checks due by ``now``, in time order (a tick first when they coincide)."""
        while self.running and min(self.next_tick, self.next_idle) <= now:
            if self.next_tick <= self.next_idle:
                self._tick()
                self.next_tick += self.tick_ms
                if self.pending == 0.0:
                    self._empty_ticks(min(now, self.next_idle))
            elif any(self.buckets):
                self.next_idle += self.idle_ms
            else:
                self.running = False  # idle shutdown: the next use starts it again, empty
                self.next_tick = self.next_idle = math.inf

    def _tick(self) -> None:
        buckets = self.buckets
        if len(buckets) == buckets.maxlen:
            self.sum -= buckets[-1]
        buckets.appendleft(self.pending)
        self.sum += self.pending
        self.pending = 0.0
        self.avg = self.sum / len(buckets) / (self.tick_ms / 1000.0)
        self._judge()

    def _empty_ticks(self, until: float) -> None:
        """Every tick due by ``until`` adds an empty bucket: at most ``maxlen`` of them change anything."""
        if self.next_tick > until:
            return
        k = math.floor((until - self.next_tick) / self.tick_ms) + 1
        for _ in range(min(k, self.buckets.maxlen or 0)):
            self._tick()
        if k > (self.buckets.maxlen or 0):
            self.sum = 0.0  # the buckets are all empty: drop what float error is left
            self.avg = 0.0
            self._judge()
        self.next_tick += k * self.tick_ms

    def _judge(self) -> None:
        # rate_counter.ex maybe_trigger_limit/1: cleared below the limit, set at or above it.
        if self.triggered:
            self.triggered = not self.avg < self.limit
        else:
            self.triggered = self.avg >= self.limit
