"""Scenarios: typed sections with defaults, loaded from TOML and validated with one-line errors.

Every number of the live event is a parameter. A scenario file may ``extends`` another (by
built-in name or path); tables merge key by key and arrays (``[[faults]]``) replace.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any

import attrs

from bcastsim._errors import InputError
from bcastsim._io import path_kind
from bcastsim._resources import builtin_models_dir
from bcastsim._toml import Range, line_of, read_toml
from bcastsim.sim._ranges import check_ranges, range_of

__all__ = [
    "ARCHITECTURE_NAMES",
    "AuctionConfig",
    "BacktestConfig",
    "BroadcastConfig",
    "ClientsConfig",
    "DatabaseConfig",
    "EventConfig",
    "FaultConfig",
    "MediaConfig",
    "NetworkConfig",
    "PostgresChangesConfig",
    "RolloutConfig",
    "Scenario",
    "ScenarioConfig",
    "VotesConfig",
    "builtin_scenarios",
    "load_scenario",
    "scenario_from_dict",
]

ARCHITECTURE_NAMES = ("postgres_changes", "broadcast:pg_notify", "broadcast:realtime.send")
FAULT_KINDS = ("disconnect", "restart", "partition")
PLAN_NAMES_HINT = "free, pro, team or unlimited"


@attrs.frozen
class ScenarioConfig:
    name: str = "scenario"
    description: str = ""
    mode: str = "compare"  # compare: one run per architecture; rollout: the seed's staged rollout
    duration_s: float = 10800.0
    architectures: tuple[str, ...] = ARCHITECTURE_NAMES
    plan: str = "team"
    plans: str = ""  # a plans file beside the built-ins, relative to this file (see bcastsim._plans.resolve_plans)
    reference_plan: str = ""  # compare mode: also run every architecture under this plan ("" = no)
    profile: str = "seed"
    # compare mode: run broadcast (realtime.send) again under these client profiles, for what users see
    compare_profiles: tuple[str, ...] = ()
    seed: int = 1
    sample_interval_s: float = 10.0
    latency_bound_ms: float = 5000.0


@attrs.frozen
class ClientsConfig:
    audience: int = 2000
    admins: int = 5
    arrival_ramp_s: float = 900.0
    arrival_waves: int = 20
    subscribe: str = "all_artworks"  # all_artworks (what the seed's component does) | viewing
    viewing_artworks: int = 4
    pc_tables: tuple[str, ...] = ("bids", "votes", "art", "art_media", "round_contestants")
    rerender_interval_s: float = 300.0
    queries_per_render: int = 3
    refetch_queries: int = 3
    jitter_groups: int = 8
    hidden_share: float = 0.0  # share of the audience whose tab is in the background (does not reconnect)
    hidden_for_s: float = 300.0  # mean time until a background tab is looked at again after its socket drops


@attrs.frozen
class EventConfig:
    painters: int = 16
    first_round_start_s: float = 900.0
    round_s: float = 1200.0
    break_s: float = 600.0
    finalists_per_round: int = 2
    final_round_s: float = 1200.0


@attrs.frozen
class VotesConfig:
    participation: float = 0.8
    early_fraction: float = 0.25
    burst_s: float = 90.0
    burst_skew: float = 3.0


@attrs.frozen
class AuctionConfig:
    open_s: float = 900.0
    close_s: float = 9900.0
    bidders: int = 400
    bids_per_artwork: int = 30
    close_window_s: float = 600.0
    close_fraction: float = 0.6
    close_skew: float = 3.0
    close_stagger_s: float = 30.0


@attrs.frozen
class MediaConfig:
    photos_per_artwork: int = 6


@attrs.frozen
class NetworkConfig:
    median_ms: float = 40.0
    sigma: float = 0.5
    join_rtt_ms: float = 80.0


@attrs.frozen
class DatabaseConfig:
    background_wal_bytes_per_s: float = 20000.0


@attrs.frozen
class PostgresChangesConfig:
    poll_interval_ms: float = 100.0
    max_changes_per_poll: int = 100
    idle_backoff_factor: float = 5.0
    rls: bool = True  # RLS on the published tables: one authorization query per matching subscriber per change
    authorization_ms: float = 0.0  # cost of one such query; 0 = the calibrated auth_read_ms of models/costs.toml


@attrs.frozen
class BroadcastConfig:
    replication_ms: float = 15.0
    private: bool = False


@attrs.frozen
class FaultConfig:
    kind: str = "disconnect"
    at_s: float = 0.0
    fraction: float = 1.0
    duration_s: float = 10.0


@attrs.frozen
class RolloutConfig:
    stages: tuple[int, ...] = (5, 25, 50, 75, 100)
    transport: str = "realtime.send"
    max_connection_failure_rate: float = 0.05
    lag_spike_s: float = 10.0
    wal_spike_bytes: float = 15_000_000.0


@attrs.frozen
class BacktestConfig:
    """Symptoms measured on the system as it ran, which the scenario must reproduce (0 = not measured)."""

    list_changes_calls: float = 0.0
    wal_spike_bytes: float = 0.0
    wal_spike_period_s: float = 0.0
    bid_delay_at_close_s: float = 0.0
    fails_at_users: float = 0.0
    failure_lag_s: float = 60.0  # "fails": the poller falls this far behind at some moment of the event
    audiences: tuple[int, ...] = (250, 375, 500, 750, 1000, 1500, 2000)  # searched for the failure point
    tolerance: float = 2.0  # reproduced when simulated / measured is within [1/tolerance, tolerance]

    @property
    def measured(self) -> bool:
        return any((self.list_changes_calls, self.wal_spike_bytes, self.bid_delay_at_close_s, self.fails_at_users))


def _default_reactions() -> dict[str, float]:
    # Queries the seed's EventDetailsBroadcast runs per delivered message (fetchBidHistory,
    # fetchRoundWinners, fetchAuctionTimerStatus, refreshVoteWeights, refreshEventDataSilently).
    return {
        "bid_update": 1.0,
        "winner_update": 1.0,
        "auction_update": 1.0,
        "media_update": 0.0,
        "vote_update": 1.0,
        "round_contestants_update": 1.0,
    }


@attrs.frozen
class Scenario:
    scenario: ScenarioConfig = ScenarioConfig()
    clients: ClientsConfig = ClientsConfig()
    event: EventConfig = EventConfig()
    votes: VotesConfig = VotesConfig()
    auction: AuctionConfig = AuctionConfig()
    media: MediaConfig = MediaConfig()
    network: NetworkConfig = NetworkConfig()
    database: DatabaseConfig = DatabaseConfig()
    postgres_changes: PostgresChangesConfig = PostgresChangesConfig()
    broadcast: BroadcastConfig = BroadcastConfig()
    reactions: dict[str, float] = attrs.field(factory=_default_reactions)
    faults: tuple[FaultConfig, ...] = ()
    rollout: RolloutConfig = RolloutConfig()
    backtest: BacktestConfig = BacktestConfig()
    source: str = "<built-in defaults>"

    def with_overrides(self, **sections: dict[str, Any]) -> Scenario:
        """A copy with some keys replaced, e.g. ``with_overrides(clients={"audience": 50})``."""
        changes: dict[str, Any] = {}
        for section, values in sections.items():
            changes[section] = attrs.evolve(getattr(self, section), **values)
        return attrs.evolve(self, **changes)


_SECTIONS: dict[str, type] = {
    "scenario": ScenarioConfig,
    "clients": ClientsConfig,
    "event": EventConfig,
    "votes": VotesConfig,
    "auction": AuctionConfig,
    "media": MediaConfig,
    "network": NetworkConfig,
    "database": DatabaseConfig,
    "postgres_changes": PostgresChangesConfig,
    "broadcast": BroadcastConfig,
    "rollout": RolloutConfig,
    "backtest": BacktestConfig,
}
_TOP_KEYS = (*_SECTIONS, "reactions", "faults", "extends")


def builtin_scenarios() -> dict[str, Path]:
    """Scenario files shipped in ``models/scenarios``, by name."""
    directory = builtin_models_dir() / "scenarios"
    return {path.stem: path for path in sorted(directory.glob("*.toml"))}


def _suggest(name: str, options: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if close:
        return f'use "{close[0]}"'
    return "use one of: " + ", ".join(options)


class _Reader:
    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text

    def fail(self, message: str, table: str | None, key: str, fix: str, occurrence: int = 0) -> InputError:
        return InputError(message, path=self.path, line=line_of(self.text, table, key, occurrence), fix=fix)

    def section(self, name: str, cls: type, values: Any, occurrence: int = 0) -> Any:
        if not isinstance(values, dict):
            raise self.fail(f'"{name}" must be a table', None, name, f"write it as [{name}]")
        fields = {f.name: f for f in attrs.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key in values:
            if key not in fields:
                raise self.fail(f'unknown key "{key}" in [{name}]', name, key, _suggest(key, list(fields)), occurrence)
            kwargs[key] = self.value(name, key, values[key], fields[key].default, occurrence)
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as error:  # pragma: no cover - guarded by value()
            raise self.fail(str(error), name, "", "check the section", occurrence) from error

    def check_range(self, table: str, key: str, value: float, default: float, occurrence: int) -> None:
        allowed = range_of(table, key) or Range(0, math.inf)
        problem = allowed.problem(value)
        if problem is not None:
            raise self.fail(f"{table}.{key} {problem}", table, key, allowed.fix(key, default), occurrence)

    def value(self, table: str, key: str, value: Any, default: Any, occurrence: int = 0) -> Any:
        where = f"{table}.{key}"
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise self.fail(f"{where} must be true or false", table, key, f"write {key} = true", occurrence)
            return value
        if isinstance(default, int) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(
                    f"{where} must be a whole number, got {value!r}",
                    table,
                    key,
                    f"e.g. {key} = {default}",
                    occurrence,
                )
            self.check_range(table, key, value, default, occurrence)
            return value
        if isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(
                    f"{where} must be a number, got {value!r}",
                    table,
                    key,
                    f"e.g. {key} = {default:g}",
                    occurrence,
                )
            self.check_range(table, key, value, default, occurrence)
            return float(value)
        if isinstance(default, str):
            if not isinstance(value, str):
                raise self.fail(f"{where} must be a string", table, key, f'e.g. {key} = "{default}"', occurrence)
            return value
        if isinstance(default, tuple):
            if not isinstance(value, list):
                raise self.fail(f"{where} must be an array", table, key, f"e.g. {key} = {list(default)!r}", occurrence)
            kind = type(default[0]) if default else str
            for item in value:
                if not isinstance(item, kind) or isinstance(item, bool):
                    raise self.fail(
                        f"{where} items must be {kind.__name__}s, got {item!r}",
                        table,
                        key,
                        f"e.g. {key} = {list(default)!r}",
                        occurrence,
                    )
            return tuple(value)
        return value  # pragma: no cover


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _resolve(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    candidate = Path(name_or_path)
    exists = path_kind(candidate, "scenario") != "missing"
    if candidate.suffix == ".toml" or exists:
        if not candidate.is_absolute() and relative_to is not None and not exists:
            candidate = relative_to / candidate
        return candidate
    scenarios = builtin_scenarios()
    if str(name_or_path) in scenarios:
        return scenarios[str(name_or_path)]
    raise InputError(
        f'no scenario "{name_or_path}"',
        fix=_suggest(str(name_or_path), list(scenarios)) + " or pass a .toml path",
    )


def load_scenario(name_or_path: str | Path = "artbattle") -> Scenario:
    """Load a built-in scenario by name (``artbattle``) or a TOML file, validating every key."""
    path = _resolve(name_or_path)
    text, data = read_toml(path, "scenario")
    seen = {path.resolve()}
    while isinstance(data.get("extends"), str):
        base_path = _resolve(data["extends"], path.parent)
        if base_path.resolve() in seen:
            raise InputError(
                "scenario extends itself",
                path=path,
                line=line_of(text, None, "extends"),
                fix="remove the cycle",
            )
        seen.add(base_path.resolve())
        _base_text, base = read_toml(base_path, "scenario")
        data = _merge({k: v for k, v in base.items()}, {k: v for k, v in data.items() if k != "extends"})
        if "extends" in _base_text and "extends" in base:
            data["extends"] = base["extends"]
    return scenario_from_dict(data, path=str(path), text=text)


def scenario_from_dict(data: dict[str, Any], *, path: str = "<scenario>", text: str = "") -> Scenario:
    """Validate a parsed scenario (a TOML document as a dict) into a :class:`Scenario`."""
    reader = _Reader(path, text)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key == "extends":
            continue
        if key not in _TOP_KEYS:
            raise reader.fail(f'unknown section "{key}"', key, "", _suggest(key, list(_TOP_KEYS)))
        if key in _SECTIONS:
            kwargs[key] = reader.section(key, _SECTIONS[key], value)
        elif key == "reactions":
            if not isinstance(value, dict):
                raise reader.fail('"reactions" must be a table', None, key, "write it as [reactions]")
            reactions = _default_reactions()
            for kind, count in value.items():
                if kind not in reactions:
                    raise reader.fail(
                        f'unknown message type "{kind}" in [reactions]',
                        "reactions",
                        kind,
                        _suggest(kind, list(reactions)),
                    )
                reactions[kind] = reader.value("reactions", kind, count, 1.0)
            kwargs["reactions"] = reactions
        elif key == "faults":
            if not isinstance(value, list):
                raise reader.fail('"faults" must be an array of tables', None, key, "write each as [[faults]]")
            faults = []
            for n, item in enumerate(value):
                fault = reader.section("faults", FaultConfig, item, n)
                if fault.kind not in FAULT_KINDS:
                    raise reader.fail(
                        f'unknown fault kind "{fault.kind}"',
                        "faults",
                        "kind",
                        _suggest(fault.kind, FAULT_KINDS),
                        n,
                    )
                if fault.fraction > 1:
                    raise reader.fail(
                        "faults.fraction must be at most 1",
                        "faults",
                        "fraction",
                        "a share of clients, e.g. 0.1",
                        n,
                    )
                faults.append(fault)
            kwargs["faults"] = tuple(sorted(faults, key=lambda f: (f.at_s, f.kind)))
    scenario = Scenario(**kwargs, source=path)
    _check(scenario, reader)
    check_ranges(scenario, path)
    return scenario


def _check(s: Scenario, reader: _Reader) -> None:
    for arch in s.scenario.architectures:
        if arch not in (*ARCHITECTURE_NAMES, "broadcast"):
            raise reader.fail(
                f'unknown architecture "{arch}"',
                "scenario",
                "architectures",
                _suggest(arch, ARCHITECTURE_NAMES),
            )
    if s.scenario.mode not in ("compare", "rollout"):
        raise reader.fail(f'unknown mode "{s.scenario.mode}"', "scenario", "mode", 'use "compare" or "rollout"')
    if s.clients.subscribe not in ("all_artworks", "viewing"):
        raise reader.fail(
            f'unknown subscribe mode "{s.clients.subscribe}"',
            "clients",
            "subscribe",
            'use "all_artworks" or "viewing"',
        )
    tables = ("bids", "votes", "art", "art_media", "round_contestants")
    for table in s.clients.pc_tables:
        if table not in tables:
            raise reader.fail(
                f'unknown table "{table}" in clients.pc_tables',
                "clients",
                "pc_tables",
                _suggest(table, tables),
            )
    for name in ("participation", "early_fraction"):
        if getattr(s.votes, name) > 1:
            raise reader.fail(f"votes.{name} must be at most 1", "votes", name, "a share, e.g. 0.8")
    if s.clients.hidden_share > 1:
        raise reader.fail("clients.hidden_share must be at most 1", "clients", "hidden_share", "a share, e.g. 0.1")
    if s.auction.close_fraction > 1:
        raise reader.fail("auction.close_fraction must be at most 1", "auction", "close_fraction", "e.g. 0.6")
    if s.event.painters < 2:
        raise reader.fail("event.painters must be at least 2", "event", "painters", "e.g. painters = 16")
    if s.scenario.duration_s <= 0:
        raise reader.fail("scenario.duration_s must be positive", "scenario", "duration_s", "e.g. 10800")
    if s.clients.arrival_waves < 1:
        raise reader.fail("clients.arrival_waves must be at least 1", "clients", "arrival_waves", "e.g. 20")
    if s.rollout.transport not in ("pg_notify", "realtime.send"):
        raise reader.fail(
            f'unknown transport "{s.rollout.transport}"',
            "rollout",
            "transport",
            'use "pg_notify" or "realtime.send"',
        )
    for stage in s.rollout.stages:
        if not 0 <= stage <= 100:
            raise reader.fail(f"rollout stage {stage} is not a percentage", "rollout", "stages", "use 0..100")
