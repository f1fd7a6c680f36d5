"""Rollout properties: deterministic, monotone across stages, stable across login, uniform."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import attrs

from bcastsim.client._rollout import STAGES, RolloutFlags, RolloutStrategy, Visit, hash_code

__all__ = [
    "UniformityResult",
    "bucket",
    "chi_square_critical",
    "flips_on_login",
    "monotone_violations",
    "uniformity",
]

# One-sided standard normal quantiles for the critical values we use.
_Z = {0.05: 1.6448536269514722, 0.01: 2.3263478740408408, 0.001: 3.090232306167813}


def chi_square_critical(dof: int, alpha: float = 0.01) -> float:
    """Upper ``alpha`` critical value of chi-square (Wilson–Hilferty; 134.64 for 99 dof at 0.01)."""
    if alpha not in _Z:
        raise ValueError(f"alpha must be one of {sorted(_Z)}")
    z = _Z[alpha]
    k = float(dof)
    return k * (1.0 - 2.0 / (9.0 * k) + z * math.sqrt(2.0 / (9.0 * k))) ** 3


def bucket(identity: str) -> int:
    """``Math.abs(hashCode(identity)) % 100``."""
    return abs(hash_code(identity)) % 100


@attrs.frozen
class UniformityResult:
    statistic: float
    critical: float
    samples: int
    counts: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return self.statistic <= self.critical


def uniformity(identities: Iterable[str], alpha: float = 0.01) -> UniformityResult:
    counts = [0] * 100
    for identity in identities:
        counts[bucket(identity)] += 1
    n = sum(counts)
    expected = n / 100
    statistic = sum((c - expected) ** 2 / expected for c in counts) if n else 0.0
    return UniformityResult(statistic, chi_square_critical(99, alpha), n, tuple(counts))


def monotone_violations(
    strategy: RolloutStrategy, visits: Iterable[Visit], stages: Sequence[int] = STAGES
) -> list[tuple[Visit, int, int]]:
    """Visits that were in at one stage and out at a later one."""
    bad: list[tuple[Visit, int, int]] = []
    for visit in visits:
        decisions = [strategy.decide(visit, RolloutFlags(percentage=p)) for p in stages]
        for i in range(len(stages) - 1):
            if decisions[i] and not decisions[i + 1]:
                bad.append((visit, stages[i], stages[i + 1]))
    return bad


def flips_on_login(strategy: RolloutStrategy, people: Iterable[tuple[Visit, Visit]], percentage: int) -> float:
    """Share of people whose anonymous and logged-in visits get different systems."""
    total = flipped = 0
    flags = RolloutFlags(percentage=percentage)
    for anonymous, logged_in in people:
        total += 1
        flipped += strategy.decide(anonymous, flags) != strategy.decide(logged_in, flags)
    return flipped / total if total else 0.0
