"""Backoff properties: growth, cap, give-up or retry-forever, total wait, reconnect herds."""

from __future__ import annotations

import math
import random

import attrs

from bcastsim.client._backoff import BackoffPolicy

__all__ = ["BackoffSummary", "herd_size", "reconnect_after_outage", "summarize"]


@attrs.frozen
class BackoffSummary:
    delays_ms: tuple[float, ...]  # ceilings for jittered policies (the rng draws the largest possible)
    grows: bool
    capped_at_ms: float | None
    gives_up_after: int | None
    total_wait_ms: float  # until giving up, or over the attempts inspected


class _Top(random.Random):
    """An rng whose ``uniform`` always returns the top of the range, to read a jittered policy's ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b


def summarize(policy: BackoffPolicy, attempts: int = 30) -> BackoffSummary:
    delays: list[float] = []
    gives_up: int | None = None
    for attempt in range(1, attempts + 1):
        delay = policy.delay_ms(attempt, _Top(0))
        if delay is None:
            gives_up = attempt - 1
            break
        delays.append(delay)
    grows = len(delays) >= 2 and delays[-1] > delays[0]
    capped = max(delays) if delays and len(delays) == attempts and delays[-1] == delays[-2] else None
    return BackoffSummary(tuple(delays), grows, capped, gives_up, float(sum(delays)))


def reconnect_after_outage(policy: BackoffPolicy, outage_ms: float, rng: random.Random) -> float | None:
    """When a client that lost the server at 0 gets back, if the server returns at ``outage_ms``."""
    now = 0.0
    attempt = 0
    while True:
        attempt += 1
        delay = policy.delay_ms(attempt, rng)
        if delay is None:
            return None
        now += delay
        if now >= outage_ms:
            return now
        if attempt > 10_000:
            return math.inf


def herd_size(policy: BackoffPolicy, clients: int, *, window_ms: float = 100.0, seed: int = 0) -> int:
    """Most clients whose first reconnect attempt after a restart falls in one ``window_ms`` window."""
    rng = random.Random(seed)
    times = sorted(d for d in (policy.delay_ms(1, rng) for _ in range(clients)) if d is not None)
    best = 0
    lo = 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window_ms:
            lo += 1
        best = max(best, hi - lo + 1)
    return best
