"""Supabase Realtime plan limits (Free / Pro / Team), read from ``models/plans.toml``.

The TOML file is the only copy of the published numbers. The client transport model enforces
them per connection and channel; the simulator enforces them per client group and adds the
``unlimited`` pseudo-plan, which separates what an architecture asks of Realtime from what a
plan lets through.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import attrs

from bcastsim._errors import InputError
from bcastsim._resources import builtin_models_dir
from bcastsim._toml import Range, check_number, line_of, read_toml

__all__ = ["UNLIMITED", "PlanLimits", "load_plans"]


@attrs.frozen
class PlanLimits:
    """One plan's limits; ``math.inf`` where a limit does not apply."""

    name: str
    connections: float
    messages_per_second: float  # fan-out counts: one broadcast to N subscribers is N messages
    channel_joins_per_second: float
    channels_per_connection: float
    payload_bytes: float

    def describe(self) -> str:
        if self.name == UNLIMITED.name:
            return "unlimited (no plan limits enforced)"

        def n(value: float) -> str:
            return "∞" if math.isinf(value) else f"{value:,.0f}"

        return (
            f"{self.name}: {n(self.connections)} connections · {n(self.messages_per_second)} msg/s · "
            f"{n(self.channel_joins_per_second)} joins/s · {n(self.channels_per_connection)} channels/connection · "
            f"{n(self.payload_bytes / 1000)} KB payload"
        )


UNLIMITED = PlanLimits("unlimited", math.inf, math.inf, math.inf, math.inf, math.inf)

# Published limits are far below this; beyond it a float no longer holds every integer.
_LIMIT_RANGE = Range(1, 2**53)
_PLAN_KEYS = tuple(field.name for field in attrs.fields(PlanLimits) if field.name != "name")


def load_plans(path: Path | None = None, *, include_unlimited: bool = False) -> dict[str, PlanLimits]:
    """Plans by lower-case name, one ``[plan]`` table each, from ``models/plans.toml`` or ``path``.

    Every top-level table is a plan and must give all five limits as positive integers.
    ``include_unlimited`` adds :data:`UNLIMITED` under its name.
    """
    path = path if path is not None else builtin_models_dir() / "plans.toml"
    text, data = read_toml(path, "plan limits")
    plans: dict[str, PlanLimits] = {}
    for name, table in data.items():
        line = line_of(text, name, "")
        if not isinstance(table, dict):
            raise InputError(
                f"{name!r} is not a plan table", path=path, line=line_of(text, None, name), fix=f"write it as [{name}]"
            )
        key = name.lower()
        if key == UNLIMITED.name or key in plans:
            why = "is reserved for the unlimited pseudo-plan" if key == UNLIMITED.name else "is defined twice"
            raise InputError(f"plan name {key!r} {why}", path=path, line=line, fix="rename the plan")
        plans[key] = PlanLimits(key, *(_limit(table, limit, name, path, text) for limit in _PLAN_KEYS))
    if include_unlimited:
        plans[UNLIMITED.name] = UNLIMITED
    return plans


def _limit(table: dict[str, Any], key: str, plan: str, path: Path, text: str) -> float:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        line = line_of(text, plan, key if key in table else "")
        raise InputError(
            f"plan {plan!r}: {key} must be a positive integer" + ("" if key in table else " (missing)"),
            path=path,
            line=line,
            fix=f"give every plan all five limits: {', '.join(_PLAN_KEYS)}",
        )
    check_number(value, f"{plan}.{key}", _LIMIT_RANGE, path=path, line=line_of(text, plan, key))
    # Floats throughout, so the unlimited plan's infinities and the published limits compare and print alike.
    return float(value)
