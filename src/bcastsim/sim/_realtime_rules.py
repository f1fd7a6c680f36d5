"""Supabase Realtime's server-side rules, one set per Realtime version that changed them.

The rules are data in ``models/realtime/<version>.toml``: how the per-project rate counters average
(``rate_counter.ex``), what happens over each limit per kind (broadcast messages, postgres_changes
changes, joins, presence, connections, channels per connection, payload size), and the file of
supabase/realtime each rule was read from at the set's ``read_at`` commit (``docs/realtime-rules.md``
quotes the lines). A scenario or a plan names the version (``realtime = "2025-08"``); the default is
the newest. The limits themselves (how many per second) are the plan's (:mod:`bcastsim._plans`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from bcastsim._errors import InputError
from bcastsim._resources import builtin_models_dir
from bcastsim._toml import line_of, read_toml

__all__ = [
    "CounterRule",
    "KindRule",
    "RealtimeRules",
    "load_realtime_rules",
    "newest_realtime_version",
    "realtime_versions",
]

# What each kind's rule may say, and what it means (the engine acts on these words).
JUDGES = {
    # checked at each use against the average of the last tick: over = avg > limit
    "average_over": "over when the average per second is above the limit",
    # admitted while avg < limit (joins at 2025-08)
    "average_below": "admitted while the average per second is below the limit",
    # BatchBroadcast.check_rate_limit: over when avg > limit or avg + the batch (one message) > limit
    "average_plus_batch_over": "over when the average per second plus the one message is above the limit",
    # RateCounter's limit flag: set at a tick when avg >= limit, cleared at a tick when avg < limit
    "triggered": "over from the tick whose average reaches the limit to the tick whose average is below it",
}
OVER_LIMIT = {
    "broadcast": ("close_channel",),
    "broadcast_from_database": ("drop_at_ingestion",),
    "joins": ("reject", "reject_and_disconnect"),
    "postgres_changes": ("none", "drop_at_poller"),
    "presence": ("close_channel",),
    "connections": ("refuse_join",),
    "channels_per_connection": ("refuse_join",),
    "payload": ("drop",),
}
_JUDGED = ("broadcast", "broadcast_from_database", "joins", "presence")


@attrs.frozen
class CounterRule:
    """How a per-project RateCounter averages: ``buckets`` counts of ``tick_s`` each, per second."""

    tick_s: float
    buckets: int
    idle_shutdown_s: float
    source: str

    @property
    def window_s(self) -> float:
        """The longest span the average covers."""
        return self.tick_s * self.buckets


@attrs.frozen
class KindRule:
    """What Realtime does over one kind's limit, and where that was read."""

    over_limit: str
    source: str
    judge: str = ""  # for the counted kinds: a key of JUDGES
    counts: str = ""  # postgres_changes: what one change adds to its counter ("fan_out": matching subscriptions)
    limit: str = ""  # postgres_changes: "none", "tenant" (the plan's messages per second) or a fixed number


@attrs.frozen
class RealtimeRules:
    """One Realtime version's rules: the counter, and one :class:`KindRule` per kind."""

    version: str
    read_at: str  # the supabase/realtime commit the rules were read at
    date: str
    counter: CounterRule
    kinds: Mapping[str, KindRule]

    def rule(self, kind: str) -> KindRule:
        return self.kinds[kind]

    @property
    def postgres_changes_limited(self) -> bool:
        return self.kinds["postgres_changes"].over_limit != "none"

    def postgres_changes_limit(self, messages_per_second: float) -> float:
        """The db-events counter's limit for a plan whose message limit is ``messages_per_second``."""
        limit = self.kinds["postgres_changes"].limit
        if limit in {"", "none"}:
            return float("inf")
        if limit == "tenant":
            return messages_per_second
        return float(limit)

    def describe(self) -> str:
        c = self.counter
        pc = self.kinds["postgres_changes"]
        joins = self.kinds["joins"]
        return (
            f"Realtime {self.version} (supabase/realtime {self.read_at[:8]}): rates averaged over "
            f"{c.buckets} × {c.tick_s:g} s; broadcasts from the database over the rate dropped at ingestion; "
            + (
                "postgres_changes not limited"
                if pc.over_limit == "none"
                else "postgres_changes over the rate dropped at the poller"
            )
            + "; joins over the rate "
            + ("rejected and the socket disconnected" if joins.over_limit == "reject_and_disconnect" else "rejected")
        )


def _directory() -> Path:
    return builtin_models_dir() / "realtime"


def realtime_versions() -> tuple[str, ...]:
    """The versions with a rule set, oldest first (the names sort by date)."""
    return tuple(sorted(p.stem for p in _directory().glob("*.toml")))


def newest_realtime_version() -> str:
    return realtime_versions()[-1]


_CACHE: dict[str, RealtimeRules] = {}


def load_realtime_rules(version: str = "", *, where: str = "realtime") -> RealtimeRules:
    """The rule set of ``version`` (``""``: the newest); an unknown version is an :class:`InputError`."""
    versions = realtime_versions()
    name = version or versions[-1]
    if name not in versions:
        raise InputError(
            f'unknown Realtime version "{version}" in {where}',
            fix=f"give one of {', '.join(versions)} (rule sets in models/realtime/), or leave it out for the newest",
        )
    if name not in _CACHE:
        _CACHE[name] = _parse(_directory() / f"{name}.toml")
    return _CACHE[name]


def _parse(path: Path) -> RealtimeRules:
    text, data = read_toml(path, "Realtime rules")

    def need(table: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
        value = table.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InputError(
                f"{where}.{key} is missing or not a {kind.__name__}",
                path=path,
                line=line_of(text, where if where != "rules" else None, key),
                fix="see the other rule sets in models/realtime/",
            )
        return value

    counter_table = data.get("counter", {})
    counter = CounterRule(
        tick_s=float(need(counter_table, "tick_s", int, "counter")),
        buckets=need(counter_table, "buckets", int, "counter"),
        idle_shutdown_s=float(need(counter_table, "idle_shutdown_s", int, "counter")),
        source=need(counter_table, "source", str, "counter"),
    )
    kinds: dict[str, KindRule] = {}
    for kind, allowed in OVER_LIMIT.items():
        table = data.get(kind)
        if not isinstance(table, Mapping):
            raise InputError(f"no [{kind}] table", path=path, fix=f"add [{kind}] with over_limit and source")
        over = need(table, "over_limit", str, kind)
        if over not in allowed:
            raise InputError(
                f"{kind}.over_limit: {over!r}",
                path=path,
                line=line_of(text, kind, "over_limit"),
                fix=f"one of {', '.join(allowed)}",
            )
        judge = str(table.get("judge", ""))
        if kind in _JUDGED and judge not in JUDGES:
            raise InputError(
                f"{kind}.judge: {judge!r}",
                path=path,
                line=line_of(text, kind, "judge"),
                fix=f"one of {', '.join(JUDGES)}",
            )
        kinds[kind] = KindRule(
            over_limit=over,
            source=need(table, "source", str, kind),
            judge=judge,
            counts=str(table.get("counts", "")),
            limit=str(table.get("limit", "")),
        )
    return RealtimeRules(
        version=need(data, "version", str, "rules"),
        read_at=need(data, "read_at", str, "rules"),
        date=need(data, "date", str, "rules"),
        counter=counter,
        kinds=kinds,
    )
