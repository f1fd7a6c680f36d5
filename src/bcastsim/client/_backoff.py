"""Reconnect backoff policies as data: a delay table or capped exponential, with optional jitter."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from bcastsim._errors import InputError

__all__ = ["BackoffPolicy", "ExponentialBackoff", "TableBackoff", "policy_from_table"]


@attrs.frozen
class TableBackoff:
    """``delays_ms[attempt - 1]``, then ``then_ms``; realtime-js writes its timers this way."""

    name: str
    delays_ms: tuple[float, ...]
    then_ms: float
    max_attempts: int | None = None  # None: retry forever
    jitter: Literal["none"] = "none"

    def delay_ms(self, attempt: int, rng: random.Random) -> float | None:
        if attempt < 1:
            raise ValueError("attempts are counted from 1")
        if self.max_attempts is not None and attempt > self.max_attempts:
            return None
        if attempt <= len(self.delays_ms):
            return self.delays_ms[attempt - 1]
        return self.then_ms

    @property
    def cap_ms(self) -> float:
        return max((*self.delays_ms, self.then_ms))

    @property
    def retries_forever(self) -> bool:
        return self.max_attempts is None


@attrs.frozen
class ExponentialBackoff:
    """``base_ms * factor ** (attempt - 1)`` capped at ``cap_ms``; full jitter draws from [floor, delay]."""

    name: str
    base_ms: float
    factor: float
    cap_ms: float
    jitter: Literal["none", "full"] = "none"
    floor_ms: float = 0.0
    max_attempts: int | None = None

    def delay_ms(self, attempt: int, rng: random.Random) -> float | None:
        if attempt < 1:
            raise ValueError("attempts are counted from 1")
        if self.max_attempts is not None and attempt > self.max_attempts:
            return None
        # Bound the exponent before it overflows a float; the cap applies long before.
        ceiling = min(self.cap_ms, self.base_ms * self.factor ** min(attempt - 1, 64))
        if self.jitter == "full":
            return rng.uniform(min(self.floor_ms, ceiling), ceiling)
        return ceiling

    @property
    def retries_forever(self) -> bool:
        return self.max_attempts is None


BackoffPolicy = TableBackoff | ExponentialBackoff


def _number(table: Mapping[str, Any], key: str, where: str, default: float | None = None) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"backoff {where}: {key} must be a number", fix=f"set {key} = <milliseconds>")
    return float(value)


def policy_from_table(name: str, table: Mapping[str, Any]) -> BackoffPolicy:
    """Build a policy from one ``[backoff.NAME]`` TOML table."""
    kind = table.get("kind")
    attempts = int(table.get("max_attempts", 0))
    max_attempts = None if attempts == 0 else attempts
    if kind == "table":
        delays = table.get("delays_ms", [])
        if not isinstance(delays, list):
            raise InputError(f"backoff {name}: delays_ms must be a list", fix="delays_ms = [1000, 2000]")
        return TableBackoff(
            name=name,
            delays_ms=tuple(float(d) for d in delays),
            then_ms=_number(table, "then_ms", name),
            max_attempts=max_attempts,
        )
    if kind == "exponential":
        jitter = table.get("jitter", "none")
        if jitter not in ("none", "full"):
            raise InputError(f"backoff {name}: unknown jitter {jitter!r}", fix='jitter = "none" or "full"')
        return ExponentialBackoff(
            name=name,
            base_ms=_number(table, "base_ms", name),
            factor=_number(table, "factor", name, 2.0),
            cap_ms=_number(table, "cap_ms", name),
            jitter=jitter,
            floor_ms=_number(table, "floor_ms", name, 0.0),
            max_attempts=max_attempts,
        )
    raise InputError(f"backoff {name}: unknown kind {kind!r}", fix='kind = "table" or "exponential"')
