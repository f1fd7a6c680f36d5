"""Speed profiles: how deep each generated history goes, and how many of them a property test runs.

A property test's cost is examples × CPU per history, and a history's CPU grows with its
statements. ``default`` is what :func:`~bcastsim.strategies.histories` draws when asked
nothing; ``fast`` draws shorter histories (two transactions of up to four statements, after
the parents-first seed transaction) and suggests fewer examples: for a quick run on every
save, with the default kept for CI. The figures of each profile on the example project are in
``docs/own-project.md`` (speed profiles) and ``docs/benchmarks.md``.
"""

from __future__ import annotations

from typing import Any

import attrs

from bcastsim._errors import InputError

__all__ = ["DEFAULT_SPEED", "FAST", "SPEEDS", "Speed", "speed_profile"]


@attrs.frozen
class Speed:
    """A speed profile: the depth of each history and the examples a test runs.

    ``max_transactions`` and ``max_statements`` bound each history (after the seed
    transaction); ``examples`` is the ``max_examples`` the profile's :meth:`settings` ask of
    Hypothesis. Arguments given to ``histories()`` themselves win over the profile.
    """

    name: str
    max_transactions: int
    max_statements: int
    examples: int

    def history_options(self) -> dict[str, Any]:
        """The keyword arguments of ``histories()`` this profile stands for."""
        return {"max_transactions": self.max_transactions, "max_statements": self.max_statements}

    def settings(self, **overrides: Any) -> Any:
        """Hypothesis ``settings`` for a property test in this profile: its example count, derandomized."""
        from hypothesis import HealthCheck, settings

        options: dict[str, Any] = {
            "max_examples": self.examples, "derandomize": True, "database": None, "deadline": None,
            "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
        }  # fmt: skip
        return settings(**{**options, **overrides})


DEFAULT_SPEED = Speed("default", max_transactions=4, max_statements=8, examples=200)
FAST = Speed("fast", max_transactions=2, max_statements=4, examples=100)
SPEEDS = {profile.name: profile for profile in (DEFAULT_SPEED, FAST)}


def speed_profile(name: str | Speed) -> Speed:
    """The profile called ``name`` (``default`` or ``fast``); a :class:`Speed` is returned as it is."""
    if isinstance(name, Speed):
        return name
    try:
        return SPEEDS[name]
    except KeyError:
        raise InputError(
            f"no speed profile {name!r}", fix=f"use one of {', '.join(sorted(SPEEDS))}"
        ) from None
