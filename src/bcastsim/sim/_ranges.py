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

__all__ = ["MAX_EVENTS", "RANGES", "check_ranges", "range_of"]

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
    ("clients", "audience"): Range(1, 100_000, size=True),
    ("clients", "admins"): Range(0, 1_000, size=True),
    ("clients", "arrival_ramp_s"): _SECONDS,
    ("clients", "arrival_waves"): Range(1, 10_000, size=True),
    ("clients", "viewing_artworks"): Range(1, 10_000),
    ("clients", "rerender_interval_s"): Range(1, 86_400.0),
    ("clients", "queries_per_render"): Range(0, 1_000),
    ("clients", "refetch_queries"): Range(0, 1_000),
    ("clients", "jitter_groups"): Range(1, 1_000, size=True),
    ("event", "painters"): Range(2, 1_000, size=True),
    ("event", "first_round_start_s"): _SECONDS,
    ("event", "round_s"): _POSITIVE_SECONDS,
    ("event", "break_s"): _SECONDS,
    ("event", "finalists_per_round"): Range(1, 1_000),
    ("event", "final_round_s"): _POSITIVE_SECONDS,
    ("votes", "participation"): _SHARE,
    ("votes", "early_fraction"): _SHARE,
    ("votes", "burst_s"): _SECONDS,
    ("votes", "burst_skew"): _SKEW,
    ("auction", "open_s"): _SECONDS,
    ("auction", "close_s"): _SECONDS,
    ("auction", "bidders"): Range(0, 1_000_000, size=True),
    ("auction", "bids_per_artwork"): Range(0, 10_000, size=True),
    ("auction", "close_window_s"): _SECONDS,
    ("auction", "close_fraction"): _SHARE,
    ("auction", "close_skew"): _SKEW,
    ("auction", "close_stagger_s"): Range(0, 86_400.0),
    ("media", "photos_per_artwork"): Range(0, 1_000, size=True),
    ("network", "median_ms"): _MS,
    ("network", "sigma"): Range(0, 5),
    ("network", "join_rtt_ms"): _MS,
    ("database", "background_wal_bytes_per_s"): Range(0, 1e12),
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
}

# Scheduled events one run may take (writes, renders, samples, client groups): about a minute of work.
MAX_EVENTS = 5_000_000


def range_of(section: str, key: str) -> Range | None:
    return RANGES.get((section, key)) or RANGES.get((section, "*"))


def _estimated_events(s: Scenario) -> float:
    """Scheduled events of one run, from the numbers that multiply into them."""
    artworks = s.event.painters + 2 * s.event.finalists_per_round
    writes = 3 * s.clients.audience * s.votes.participation
    writes += artworks * (s.media.photos_per_artwork + s.auction.bids_per_artwork + 4)
    duration = s.scenario.duration_s
    groups = s.clients.arrival_waves * max(1, s.clients.jitter_groups) + s.clients.admins
    renders = duration / s.clients.rerender_interval_s * groups
    samples = duration / s.scenario.sample_interval_s * 3
    polls = duration * 1000.0 / s.postgres_changes.poll_interval_ms
    return writes + renders + samples + polls + s.clients.audience


def check_ranges(scenario: Scenario, where: str) -> None:
    """Every number of ``scenario`` in its range and the run within :data:`MAX_EVENTS` (``where``: its source)."""
    for section in ("scenario", "clients", "event", "votes", "auction", "media", "network", "database"):
        _check_section(getattr(scenario, section), section, where)
    for section in ("postgres_changes", "broadcast", "rollout"):
        _check_section(getattr(scenario, section), section, where)
    for fault in scenario.faults:
        _check_section(fault, "faults", where)
    for kind, count in scenario.reactions.items():
        check_number(count, f"reactions.{kind}", RANGES[("reactions", "*")], path=where)
    estimate = _estimated_events(scenario)
    limit = MAX_EVENTS * limit_scale()
    if not math.isfinite(estimate) or estimate > limit:
        raise InputError(
            f"the scenario would schedule about {estimate:,.0f} events per run, over the bound of {limit:,.0f} "
            "(audience, duration over rerender/sample/poll intervals, and artworks times bids and photos multiply)",
            path=where,
            fix=f"make the event smaller or the intervals longer, or set {LIMIT_SCALE_ENV}=N to raise the bound",
        )


def _check_section(values: attrs.AttrsInstance, section: str, where: str) -> None:
    for field in attrs.fields(type(values)):
        value = getattr(values, field.name)
        allowed = range_of(section, field.name)
        if allowed is None or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        check_number(value, f"{section}.{field.name}", allowed, path=where, example=field.default)
