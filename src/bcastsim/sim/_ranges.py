"""The documented range of every number a scenario holds, and a bound on the work a run may take.

Ranges are data: ``RANGES[(section, key)]``. Size bounds (audience, durations, counts that
multiply into events or memory) can be raised with ``BCASTSIM_LIMIT_SCALE``; the rest are
what the number means (a share is in [0, 1]). ``docs/scenarios.md`` lists the same table.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import attrs

from bcastsim._errors import InputError
from bcastsim._toml import LIMIT_SCALE_ENV, Range, check_number, limit_scale

if TYPE_CHECKING:
    from bcastsim.sim._scenario import Scenario

__all__ = ["MAX_ARRAY_ITEMS", "MAX_EVENTS", "RANGES", "check_ranges", "range_of"]

_WEEK_S = 7 * 86_400.0
_SEED = Range(0, 2**63 - 1)
_SHARE = Range(0, 1)
_SECONDS = Range(0, _WEEK_S, size=True)
_POSITIVE_SECONDS = Range(0, _WEEK_S, low_open=True, size=True)
_MS = Range(0, 3_600_000.0)
_SKEW = Range(0, 100, low_open=True)

RANGES: dict[tuple[str, str], Range] = {
    ("scenario", "duration_s"): _POSITIVE_SECONDS,
    ("scenario", "seed"): _SEED,
    ("scenario", "sample_interval_s"): Range(0.1, 86_400.0),
    ("scenario", "latency_bound_ms"): Range(0, 86_400_000.0, low_open=True),
    ("entities", "count"): Range(1, 1_000_000, size=True),
    ("entities", "*"): Range(0, 1_000_000, size=True),  # per_phase counts
    ("phases", "start_s"): _SECONDS,
    ("phases", "duration_s"): _POSITIVE_SECONDS,
    ("writes", "from_s"): _SECONDS,
    ("writes", "to_s"): Range(-1, _WEEK_S, size=True),
    ("writes", "extend_s"): _SECONDS,
    ("writes", "stagger_s"): Range(0, 86_400.0),
    ("writes", "first"): Range(0, 1_000_000),
    ("writes", "per_entity"): Range(0, 100_000, size=True),
    ("writes", "count"): Range(0, 10_000_000, size=True),
    ("writes", "per_client"): Range(0, 1_000, size=True),
    ("writes", "rate_per_s"): Range(0, 100_000, size=True),
    ("writes", "early_fraction"): _SHARE,
    ("writes", "burst_s"): _SECONDS,
    ("writes", "skew"): _SKEW,
    ("writes", "offset_s"): Range(-_WEEK_S, _WEEK_S),
    ("writes", "step_s"): Range(0, 86_400.0),
    ("writes", "critical_s"): _SECONDS,
    ("writes", "*"): _SHARE,  # emits shares
    ("populations", "count"): Range(1, 100_000, size=True),
    ("populations", "arrive_s"): _SECONDS,
    ("populations", "ramp_s"): _SECONDS,
    ("populations", "waves"): Range(1, 10_000, size=True),
    ("populations", "sample"): Range(1, 10_000),
    ("populations", "rerender_interval_s"): Range(1, 86_400.0),
    ("populations", "queries_per_render"): Range(0, 1_000),
    ("populations", "refetch_queries"): Range(0, 1_000),
    ("populations", "jitter_groups"): Range(1, 1_000, size=True),
    ("populations", "hidden_share"): _SHARE,
    ("populations", "hidden_for_s"): _SECONDS,
    ("populations", "*"): Range(0, 100),  # reactions
    ("text_lengths", "*"): Range(0, 1_000_000),
    ("listen_notify", "app_ms"): _MS,
    ("network", "median_ms"): _MS,
    ("network", "sigma"): Range(0, 5),
    ("network", "join_rtt_ms"): _MS,
    ("database", "background_wal_bytes_per_s"): Range(0, 1e12),
    ("database", "archive_timeout_s"): Range(0, 86_400.0),
    ("database", "checkpoint_timeout_s"): Range(0, 86_400.0),
    ("postgres_changes", "poll_interval_ms"): Range(1, 3_600_000.0),
    ("postgres_changes", "max_changes_per_poll"): Range(1, 1_000_000),
    ("postgres_changes", "idle_backoff_factor"): Range(1, 1_000),
    ("broadcast", "replication_ms"): _MS,
    ("faults", "at_s"): _SECONDS,
    ("faults", "fraction"): _SHARE,
    ("faults", "duration_s"): _SECONDS,
    ("rollout", "max_connection_failure_rate"): _SHARE,
    ("rollout", "lag_spike_s"): Range(0, 86_400.0),
    ("rollout", "wal_spike_bytes"): Range(0, 1e15),
    ("reactions", "*"): Range(0, 100),
    ("requirements", "delivered_share"): _SHARE,
    ("requirements", "critical_p95_ms"): _MS,
    ("requirements", "connection_failure_share"): _SHARE,
    ("requirements.p95_ms", "*"): _MS,  # per message type
    ("requirements.population_share", "*"): _SHARE,  # per population
    ("postgres_changes", "authorization_ms"): _MS,
    ("rollout", "stages"): Range(0, 100),  # percent of clients, each stage
    ("backtest", "list_changes_calls"): Range(0, 1e12),
    ("backtest", "wal_spike_bytes"): Range(0, 1e15),
    ("backtest", "wal_spike_period_s"): _SECONDS,
    ("backtest", "bid_delay_at_close_s"): _SECONDS,
    # Audiences are simulated (the failure point, the busiest minute at it): bounded as populations are.
    ("backtest", "fails_at_users"): Range(0, 100_000, size=True),
    ("backtest", "audiences"): Range(1, 100_000, size=True),
    ("backtest", "tolerance"): Range(1, 1_000),
    ("backtest", "failure_lag_s"): Range(0, 86_400.0),
    ("backtest", "failure_lost_share"): _SHARE,
    ("backtest", "failure_refused_share"): _SHARE,
}

# Items in a scenario's array of numbers (rollout stages, backtest audiences): each may be a run of its own.
MAX_ARRAY_ITEMS = 100

# Scheduled events one run may take (writes, renders, samples, client groups): about a minute of work.
MAX_EVENTS = 5_000_000


def range_of(section: str, key: str) -> Range | None:
    return RANGES.get((section, key)) or RANGES.get((section, "*"))


def _window_s(s: Scenario, phases: tuple[str, ...], from_s: float, to_s: float) -> list[float]:
    if phases:
        return [p.duration_s for p in s.phases if p.name in phases]
    return [max(0.0, (s.scenario.duration_s if to_s < 0 else to_s) - from_s)]


def _estimated_events(s: Scenario) -> float:
    """Scheduled events of one run, from the numbers that multiply into them."""
    entities = {e.name: (sum(e.per_phase.values()) or e.count) for e in s.entities.values()}
    for e in s.entities.values():
        if e.per_client and e.per_client in s.populations:
            entities[e.name] = s.populations[e.per_client].count
    writes = 0.0
    for w in s.writes.values():
        for window in _window_s(s, w.phases, w.from_s, w.to_s):
            clients = s.populations[w.population].count if w.population in s.populations else 0
            writes += w.per_entity * entities.get(w.entity, 1) + w.count + w.per_client * clients
            writes += w.rate_per_s * window
            if w.shape in ("start", "end"):
                writes += entities.get(w.entity, 1)
    duration = s.scenario.duration_s
    clients = sum(p.count for p in s.populations.values())
    groups = sum(p.waves * max(1, p.jitter_groups) for p in s.populations.values())
    renders = sum(duration / p.rerender_interval_s * p.waves * max(1, p.jitter_groups) for p in s.populations.values())
    samples = duration / s.scenario.sample_interval_s * 3
    polls = duration * 1000.0 / s.postgres_changes.poll_interval_ms
    return writes + renders + samples + polls + clients + groups


def check_ranges(scenario: Scenario, where: str) -> None:
    """Every number of ``scenario`` in its range and the run within :data:`MAX_EVENTS` (``where``: its source)."""
    sections = ("scenario", "network", "database", "postgres_changes", "broadcast", "listen_notify", "rollout")
    for section in (*sections, "backtest", "requirements"):
        _check_section(getattr(scenario, section), section, where)
    for named in ("entities", "writes", "populations"):
        for item in getattr(scenario, named).values():
            _check_section(item, named, where)
    for phase in scenario.phases:
        _check_section(phase, "phases", where)
    for fault in scenario.faults:
        _check_section(fault, "faults", where)
    for kind, count in scenario.reactions.items():
        check_number(count, f"reactions.{kind}", RANGES[("reactions", "*")], path=where)
    estimate = _estimated_events(scenario)
    limit = MAX_EVENTS * limit_scale()
    if not math.isfinite(estimate) or estimate > limit:
        raise InputError(
            f"the scenario would schedule about {estimate:,.0f} events per run, over the bound of {limit:,.0f} "
            "(clients, writes, and the duration over rerender/sample/poll intervals multiply)",
            path=where,
            fix=f"make the event smaller or the intervals longer, or set {LIMIT_SCALE_ENV}=N to raise the bound",
        )


def _check_section(values: attrs.AttrsInstance, section: str, where: str) -> None:
    for field in attrs.fields(type(values)):
        value = getattr(values, field.name)
        allowed = RANGES.get((section, field.name))
        if allowed is None or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        check_number(value, f"{section}.{field.name}", allowed, path=where, example=field.default)
