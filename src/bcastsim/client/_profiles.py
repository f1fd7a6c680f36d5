"""Profiles: a subscriber manager, its backoff policies, its rollout and the claims it makes, from TOML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from bcastsim._errors import InputError
from bcastsim._resources import builtin_models_dir
from bcastsim._toml import read_toml
from bcastsim.check.history import Anomaly
from bcastsim.client._backoff import BackoffPolicy, policy_from_table
from bcastsim.client._managers import MANAGERS, ManagerFactory
from bcastsim.client._rollout import RolloutStrategy, SeedRollout, StickyRollout

__all__ = ["Profile", "load_profiles"]

_ROLLOUTS: dict[str, RolloutStrategy] = {"seed": SeedRollout(), "recommended": StickyRollout()}


@attrs.frozen
class Profile:
    name: str
    description: str
    manager_name: str
    manager: ManagerFactory = attrs.field(repr=False)
    backoff: BackoffPolicy
    socket_backoff: BackoffPolicy
    rejoin_backoff: BackoffPolicy
    rollout: RolloutStrategy
    listener_receives: str  # "envelope" | "payload"
    page_unwraps_envelope: bool
    rejoins_after_error: bool
    rejoins_after_close: bool
    refetches_after_gap: bool
    private_restricted_topics: bool
    page_cleans_up: bool
    page_current_bid: str  # "latest" | "max"
    allowed_anomalies: frozenset[Anomaly]
    # The database side the profile is checked with: "builtin" (the seed's SQL), a path, or None (none).
    sql: str | None = None


def _flag(table: dict[str, Any], key: str, where: str, path: Path) -> bool:
    value = table.get(key)
    if not isinstance(value, bool):
        raise InputError(f"profile {where}: {key} must be true or false", path=path, fix=f"{key} = true")
    return value


def load_profiles(path: Path | None = None) -> tuple[dict[str, Profile], dict[str, BackoffPolicy]]:
    """Read ``[backoff.*]`` and ``[profile.*]`` tables from ``models/profiles.toml`` or ``path``."""
    path = path or builtin_models_dir() / "profiles.toml"
    _text, data = read_toml(path, "profiles")
    policies = {name: policy_from_table(name, table) for name, table in data.get("backoff", {}).items()}

    def policy(name: object, where: str) -> BackoffPolicy:
        if not isinstance(name, str) or name not in policies:
            raise InputError(
                f"profile {where}: unknown backoff {name!r}", path=path, fix=f"one of {', '.join(sorted(policies))}"
            )
        return policies[name]

    profiles: dict[str, Profile] = {}
    for name, table in data.get("profile", {}).items():
        manager = table.get("manager")
        if manager not in MANAGERS:
            raise InputError(
                f"profile {name}: unknown manager {manager!r}", path=path, fix=f"one of {', '.join(sorted(MANAGERS))}"
            )
        rollout = table.get("rollout", "seed")
        if rollout not in _ROLLOUTS:
            raise InputError(f"profile {name}: unknown rollout {rollout!r}", path=path, fix='"seed" or "recommended"')
        try:
            allowed = frozenset(Anomaly(a) for a in table.get("allowed_anomalies", []))
        except ValueError as error:
            raise InputError(
                f"profile {name}: {error}", path=path, fix=f"anomalies: {', '.join(a.value for a in Anomaly)}"
            ) from None
        profiles[name] = Profile(
            name=name,
            description=str(table.get("description", "")),
            manager_name=manager,
            manager=MANAGERS[manager],
            backoff=policy(table.get("backoff"), name),
            socket_backoff=policy(table.get("socket_backoff", "realtime_js"), name),
            rejoin_backoff=policy(table.get("rejoin_backoff", "realtime_js_rejoin"), name),
            rollout=_ROLLOUTS[rollout],
            listener_receives=str(table.get("listener_receives", "envelope")),
            page_unwraps_envelope=_flag(table, "page_unwraps_envelope", name, path),
            rejoins_after_error=_flag(table, "rejoins_after_error", name, path),
            rejoins_after_close=_flag(table, "rejoins_after_close", name, path),
            refetches_after_gap=_flag(table, "refetches_after_gap", name, path),
            private_restricted_topics=_flag(table, "private_restricted_topics", name, path),
            page_cleans_up=_flag(table, "page_cleans_up", name, path),
            page_current_bid=str(table.get("page_current_bid", "latest")),
            allowed_anomalies=allowed,
            sql=str(table["sql"]) if "sql" in table else None,
        )
    return profiles, policies
