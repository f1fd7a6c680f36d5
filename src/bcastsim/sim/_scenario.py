"""Scenarios: the user's app (SQL files), its entities, phases, writes and client populations.

A scenario is data: which SQL the app runs (topics, message types and payload sizes come from its
notify sites), which key spaces (``[entities.*]``) its writes and topics draw from, named
``[[phases]]``, ``[writes.*]`` per table and operation, ``[populations.*]`` of clients and what
they follow. ``docs/scenarios.md`` documents every key; ``models/scenario.schema.json`` is the
same for editors. A file may ``extends`` another (by built-in name or path); tables merge key by
key (so ``[populations.audience] count = 1000`` changes one number) and arrays replace.
"""

from __future__ import annotations

import collections
import difflib
import math
from pathlib import Path
from typing import Any

import attrs

from bcastsim._errors import InputError
from bcastsim._io import path_kind
from bcastsim._resources import builtin_models_dir
from bcastsim._toml import Range, line_of, read_toml
from bcastsim.sim._ranges import MAX_ARRAY_ITEMS, check_ranges, range_of

__all__ = [
    "ARCHITECTURE_NAMES",
    "BacktestConfig",
    "BroadcastConfig",
    "ClaimsConfig",
    "DatabaseConfig",
    "EntityConfig",
    "FaultConfig",
    "FollowConfig",
    "ListenNotifyConfig",
    "NetworkConfig",
    "PhaseConfig",
    "PopulationConfig",
    "PostgresChangesConfig",
    "RequirementsConfig",
    "RolloutConfig",
    "Scenario",
    "ScenarioConfig",
    "WriteConfig",
    "builtin_scenarios",
    "load_scenario",
    "scenario_from_dict",
    "scenario_json_schema",
]

ARCHITECTURE_NAMES = (
    "postgres_changes",
    "broadcast:pg_notify",
    "broadcast:realtime.send",
    "broadcast:broadcast_changes",
    "listen_notify",
)
FAULT_KINDS = ("disconnect", "restart", "partition")
_SELECTIONS = ("all", "sample", "own", "list")
# Which rows of a table a postgres_changes subscription sees: "own" = those about the client's own instance
# (a `filter: 'id=eq.…'` or RLS `user_id = auth.uid()`), "followed" = those about the instances its follow
# rules choose (a filter per instance on screen), "all" = every row (no filter).
PC_FILTERS = ("own", "followed", "all")
_SHAPES = ("uniform", "bunched", "start", "end")
_OPERATIONS = ("INSERT", "UPDATE", "DELETE")
PLAN_NAMES_HINT = "free, pro, team or unlimited"


@attrs.frozen
class ScenarioConfig:
    name: str = "scenario"
    title: str = ""  # the report's heading ("" = the description)
    description: str = ""
    # The app's SQL, in load order: paths relative to the scenario file, or "builtin:artbattle" / "builtin:shop".
    sql: tuple[str, ...] = ("builtin:artbattle",)
    mode: str = "compare"  # compare: one run per architecture; rollout: the seed's staged rollout
    duration_s: float = 10800.0
    architectures: tuple[str, ...] = ARCHITECTURE_NAMES
    plan: str = "team"
    plans: str = ""  # a plans file beside the built-ins, relative to this file (see bcastsim._plans.resolve_plans)
    reference_plan: str = ""  # compare mode: also run every architecture under this plan ("" = no)
    # The Realtime version whose rules judge the plan's limits (models/realtime/; "" = the plan's, else the newest).
    realtime: str = ""
    profile: str = "realtime_js"  # the page reads what realtime-js hands it; Art Battle sets "seed"
    # compare mode: run broadcast (realtime.send) again under these client profiles, for what users see
    compare_profiles: tuple[str, ...] = ()
    seed: int = 1
    sample_interval_s: float = 10.0
    latency_bound_ms: float = 5000.0
    headline_message: str = ""  # the message type whose latency the report shows first ("" = the most written)


@attrs.frozen
class EntityConfig:
    """A key space writes are about and topic placeholders draw from (artworks, stores, orders)."""

    name: str = ""
    label: str = ""  # plural word for the report ("" = the name)
    count: int = 1
    # Instances active in each phase, in order (their sum replaces count): {"round 1" = 8, "final" = 4}.
    per_phase: dict[str, int] = attrs.field(factory=dict)
    columns: tuple[str, ...] = ()  # table.column values that hold this entity's id
    parent: str = ""  # e.g. artwork -> event: {art.event_id} resolves for a write about an artwork
    appear_in: tuple[str, ...] = ()  # instances of these phases appear when the phase starts
    per_client: str = ""  # one instance per client of this population (their own order)


@attrs.frozen
class PhaseConfig:
    name: str = ""
    start_s: float = 0.0
    duration_s: float = 60.0


@attrs.frozen
class WriteConfig:
    """Writes to one table with one operation, about one entity: how many, when, and what they emit."""

    name: str = ""
    label: str = ""  # for the report ("" = the name)
    table: str = ""
    op: str = "INSERT"
    entity: str = ""
    phases: tuple[str, ...] = ()  # once per phase, over the phase; none: over [from_s, to_s)
    from_s: float = 0.0
    to_s: float = -1.0  # -1 = the end of the scenario
    extend_s: float = 0.0  # the window ends this much later
    stagger_s: float = 0.0  # the k-th entity's window ends k * stagger_s later
    first: int = 0  # only the first N entities active in the window (0 = all)
    per_entity: int = 0  # writes per entity per window
    count: int = 0  # writes per window, each about a random active entity
    per_client: float = 0.0  # writes per client of `population` per window
    population: str = ""
    rate_per_s: float = 0.0  # writes per second over the window
    shape: str = "uniform"  # uniform | bunched (towards the window's end) | start | end
    early_fraction: float = 0.25  # bunched: share spread over the window before the burst
    burst_s: float = 60.0  # bunched: the burst's length at the window's end
    skew: float = 3.0  # bunched: >1 bunches towards the very end
    offset_s: float = 0.0  # start/end: seconds after the window's start/end
    step_s: float = 0.0  # start/end: the k-th entity this much later
    emits: dict[str, float] = attrs.field(factory=dict)  # message type -> share of writes whose condition holds
    critical_s: float = 0.0  # writes in the window's last critical_s are its critical moments


@attrs.frozen
class FollowConfig:
    topic: str = ""  # a channel pattern of the SQL, as `bcastsim inspect` prints it
    entities: str = "all"  # all | sample | own | list
    sample: int = 4  # sample: this many entities on screen
    ids: tuple[int, ...] = ()  # list: these instances


@attrs.frozen
class PopulationConfig:
    name: str = ""
    label: str = ""
    count: int = 1
    arrive_s: float = 0.0
    ramp_s: float = 0.0  # arrivals spread over this long after arrive_s
    waves: int = 1
    follow: tuple[FollowConfig, ...] = ()
    pc_tables: tuple[str, ...] = ()  # tables it subscribes to under postgres_changes
    pc_filter: dict[str, str] = attrs.field(factory=dict)  # table -> the rows its subscription sees
    private: bool = False  # joins private channels (realtime.messages RLS authorises it)
    reactions: dict[str, float] = attrs.field(factory=dict)  # queries per delivered message type
    rerender_interval_s: float = 300.0
    queries_per_render: int = 0
    refetch_queries: int = 0
    jitter_groups: int = 8
    hidden_share: float = 0.0  # background tabs: after a drop realtime-js reconnects them only once visible
    hidden_for_s: float = 300.0
    # Tracks presence on its channels. Presence traffic is not simulated: the report says so as an assumption.
    presence: bool = False


@attrs.frozen
class ClaimsConfig:
    """Claims to compare the old architecture with the new one against, row by row (empty = none)."""

    title: str = ""
    latency_message: str = ""
    users: str = ""
    latency: str = ""
    wal: str = ""
    db: str = ""
    bandwidth: str = ""
    polls: str = ""

    @property
    def declared(self) -> bool:
        return any((self.users, self.latency, self.wal, self.db, self.bandwidth, self.polls))


@attrs.frozen
class NetworkConfig:
    median_ms: float = 40.0
    sigma: float = 0.5
    join_rtt_ms: float = 80.0


@attrs.frozen
class DatabaseConfig:
    background_wal_bytes_per_s: float = 20000.0
    # A forced WAL segment switch this often while WAL is written (PostgreSQL's archive_timeout; Supabase archives
    # with 120, docs/simulate.md#wal); 0 = never.
    archive_timeout_s: float = 120.0
    checkpoint_timeout_s: float = 300.0  # PostgreSQL's default; each checkpoint logs a running-transactions record
    # The compute size (models/compute.toml): its cores serve every query, its pooler refuses beyond its clients.
    compute: str = "micro"


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
class ListenNotifyConfig:
    """Plain LISTEN/NOTIFY: one listening connection of the app's own server, which fans out itself."""

    app_ms: float = 0.5  # the app server's work per notification before it writes to its sockets
    plan: str = "unlimited"  # the limits the app's own server enforces ("unlimited" = none)


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
    failure_lag_s: float = 60.0  # "fails": the poller falls this far behind at some moment of the event,
    failure_lost_share: float = 0.01  # or more than this share of the updates owed is lost,
    failure_refused_share: float = 0.0  # or more than this share of the clients is refused a connection
    failure_plan: str = ""  # the plan the failure point is searched on ("" = the scenario's)
    audiences: tuple[int, ...] = (250, 375, 500, 750, 1000, 1500, 2000)  # searched for the failure point
    tolerance: float = 2.0  # reproduced when simulated / measured is within [1/tolerance, tolerance]

    @property
    def measured(self) -> bool:
        return any((self.list_changes_calls, self.wal_spike_bytes, self.bid_delay_at_close_s, self.fails_at_users))


@attrs.frozen
class RequirementsConfig:
    """What the app's users need; the report's verdict is these, met or not (docs/simulate.md#requirements)."""

    # Of the updates owed to the clients, the share their pages must apply (what users see).
    delivered_share: float = 0.99
    # p95 commit-to-socket latency of the updates owed at critical moments (an auction's close), counting the
    # ones that never arrived as later than any bound.
    critical_p95_ms: float = 1000.0
    # Per message type, p95 commit-to-socket latency of the updates owed ({bid_update = 500}).
    p95_ms: dict[str, float] = attrs.field(factory=dict)
    # The share of (re)connections the service may refuse or fail to serve.
    connection_failure_share: float = 0.01
    # Per population, the share of the updates owed to its clients that their pages must apply ({admins = 1.0}).
    population_share: dict[str, float] = attrs.field(factory=dict)


@attrs.frozen
class Scenario:
    scenario: ScenarioConfig = ScenarioConfig()
    entities: dict[str, EntityConfig] = attrs.field(factory=dict)
    phases: tuple[PhaseConfig, ...] = ()
    writes: dict[str, WriteConfig] = attrs.field(factory=dict)
    populations: dict[str, PopulationConfig] = attrs.field(factory=dict)
    reactions: dict[str, float] = attrs.field(factory=dict)
    text_lengths: dict[str, int] = attrs.field(factory=dict)  # typical characters of text columns
    claims: ClaimsConfig = ClaimsConfig()
    network: NetworkConfig = NetworkConfig()
    database: DatabaseConfig = DatabaseConfig()
    postgres_changes: PostgresChangesConfig = PostgresChangesConfig()
    broadcast: BroadcastConfig = BroadcastConfig()
    listen_notify: ListenNotifyConfig = ListenNotifyConfig()
    faults: tuple[FaultConfig, ...] = ()
    rollout: RolloutConfig = RolloutConfig()
    backtest: BacktestConfig = BacktestConfig()
    requirements: RequirementsConfig = RequirementsConfig()
    source: str = "<built-in defaults>"

    def with_overrides(self, **sections: dict[str, Any]) -> Scenario:
        """A copy with some keys replaced, e.g. ``with_overrides(scenario={"seed": 2})``."""
        changes: dict[str, Any] = {}
        for section, values in sections.items():
            changes[section] = attrs.evolve(getattr(self, section), **values)
        return attrs.evolve(self, **changes)

    def with_population(self, name: str = "", **values: Any) -> Scenario:
        """A copy with some keys of one population replaced (default: the main one), e.g. ``count=500``."""
        name = name or self.main_population
        populations = dict(self.populations)
        populations[name] = attrs.evolve(populations[name], **values)
        return attrs.evolve(self, populations=populations)

    @property
    def main_population(self) -> str:
        """The population ``--clients`` sizes: the first one declared."""
        return next(iter(self.populations), "")

    def with_clients(self, count: int) -> Scenario:
        """A copy whose main population has ``count`` clients."""
        return self.with_population(count=count) if self.populations else self

    @property
    def audience(self) -> int:
        return self.populations[self.main_population].count if self.populations else 0

    def phase(self, name: str) -> PhaseConfig:
        return next(p for p in self.phases if p.name == name)

    def fail(self, message: str, table: str | None, key: str, fix: str) -> InputError:
        """An input error pointing at ``[table] key`` in the scenario file (its line when the file has it)."""
        text = ""
        if path_kind(Path(self.source), "scenario") == "file":
            text = Path(self.source).read_text(encoding="utf-8", errors="replace")
        line = line_of(text, table, key) if text else None
        return InputError(message, path=self.source, line=line, fix=fix)


_SECTIONS: dict[str, type] = {
    "scenario": ScenarioConfig,
    "claims": ClaimsConfig,
    "network": NetworkConfig,
    "database": DatabaseConfig,
    "postgres_changes": PostgresChangesConfig,
    "broadcast": BroadcastConfig,
    "listen_notify": ListenNotifyConfig,
    "rollout": RolloutConfig,
    "backtest": BacktestConfig,
    "requirements": RequirementsConfig,
}
# Tables of named tables: each entry is one typed section.
_NAMED: dict[str, type] = {"entities": EntityConfig, "writes": WriteConfig, "populations": PopulationConfig}
_TOP_KEYS = (*_SECTIONS, *_NAMED, "phases", "reactions", "text_lengths", "faults", "extends")


def _field_schema(cls: type, field: attrs.Attribute[Any]) -> dict[str, Any]:
    if field.name == "follow":
        return {"type": "array", "items": _object_schema(FollowConfig)}
    if field.name == "pc_filter":
        return {"type": "object", "additionalProperties": {"type": "string", "enum": list(PC_FILTERS)}}
    default = field.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        return {"type": "object", "additionalProperties": {"type": "number"}}
    if isinstance(default, bool):
        return {"type": "boolean"}
    if isinstance(default, int):
        return {"type": "integer"}
    if isinstance(default, float):
        return {"type": "number"}
    if isinstance(default, tuple):
        # Every item of a default tells the item type; an empty default holds names.
        whole = bool(default) and all(isinstance(v, int) and not isinstance(v, bool) for v in default)
        item = "integer" if whole or cls is RolloutConfig or field.name == "ids" else "string"
        return {"type": "array", "items": {"type": item}}
    return {"type": "string"}


def _object_schema(cls: type, *, named: bool = False) -> dict[str, Any]:
    fields = [f for f in attrs.fields(cls) if not (named and f.name == "name")]
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {f.name: _field_schema(cls, f) for f in fields},
    }


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file (``models/scenario.schema.json`` is this, for editors)."""
    properties: dict[str, Any] = {"extends": {"type": "string"}}
    properties.update({name: _object_schema(cls) for name, cls in _SECTIONS.items()})
    properties.update(
        {
            name: {"type": "object", "additionalProperties": _object_schema(cls, named=True)}
            for name, cls in _NAMED.items()
        }
    )
    properties["phases"] = {"type": "array", "items": _object_schema(PhaseConfig)}
    properties["faults"] = {"type": "array", "items": _object_schema(FaultConfig)}
    for name in ("reactions", "text_lengths"):
        properties[name] = {"type": "object", "additionalProperties": {"type": "number"}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "bcastsim scenario",
        "description": "A bcastsim simulate scenario; docs/scenarios.md documents every key.",
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }


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
            if key not in fields or (key == "name" and cls in _NAMED.values()):
                raise self.fail(f'unknown key "{key}" in [{name}]', name, key, _suggest(key, list(fields)), occurrence)
            default = fields[key].default
            if key == "follow":
                kwargs[key] = self.follows(name, values[key])
            elif key == "pc_filter":
                kwargs[key] = self.pc_filter(name, values[key])
            elif isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                kwargs[key] = self.numbers(name, key, values[key], occurrence)
            else:
                kwargs[key] = self.value(name, key, values[key], default, occurrence)
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as error:  # pragma: no cover - guarded by value()
            raise self.fail(str(error), name, "", "check the section", occurrence) from error

    def follows(self, table: str, value: Any) -> tuple[FollowConfig, ...]:
        example = 'follow = [{ topic = "item:{items.id}", entities = "sample", sample = 4 }]'
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.fail(f"{table}.follow must be an array of tables", table, "follow", example)
        out = []
        for item in value:
            for key in item:
                if key not in {f.name for f in attrs.fields(FollowConfig)}:
                    raise self.fail(
                        f'unknown key "{key}" in {table}.follow',
                        table,
                        "follow",
                        _suggest(key, ["topic", "entities", "sample", "ids"]),
                    )
            defaults = FollowConfig()
            follow = FollowConfig(
                topic=self.value(table, "follow", item.get("topic", ""), ""),
                entities=self.value(table, "follow", item.get("entities", "all"), "all"),
                sample=self.value(table, "sample", item.get("sample", defaults.sample), defaults.sample),
                ids=self.value(table, "follow", item.get("ids", []), (0,)),
            )
            if follow.entities not in _SELECTIONS:
                raise self.fail(
                    f'unknown entity selection "{follow.entities}" in {table}.follow',
                    table,
                    "follow",
                    _suggest(follow.entities, _SELECTIONS),
                )
            out.append(follow)
        return tuple(out)

    def pc_filter(self, table: str, value: Any) -> dict[str, str]:
        """``pc_filter``: a table of table names to row selections."""
        if not isinstance(value, dict):
            raise self.fail(
                f"{table}.pc_filter must be a table", table, "pc_filter", 'e.g. pc_filter = { orders = "own" }'
            )
        for name, selection in value.items():
            if selection not in PC_FILTERS:
                raise self.fail(
                    f"unknown row selection {selection!r} for {name} in {table}.pc_filter",
                    table,
                    "pc_filter",
                    _suggest(str(selection), PC_FILTERS),
                )
        return dict(value)

    def numbers(self, table: str, key: str, value: Any, occurrence: int = 0) -> dict[str, Any]:
        """A table of names to numbers (``per_phase``, ``emits``, ``reactions``), each finite and in range."""
        if not isinstance(value, dict):
            raise self.fail(f"{table}.{key} must be a table", table, key, f"e.g. {key} = {{ name = 1 }}", occurrence)
        out: dict[str, Any] = {}
        for name, number in value.items():
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise self.fail(
                    f"{table}.{key}.{name} must be a number, got {number!r}", table, key, f"e.g. {name} = 1", occurrence
                )
            self.check_range(f"{table}.{key}", name, number, 1, occurrence, anchor=(table, key))
            out[name] = number
        return out

    def check_range(
        self,
        table: str,
        key: str,
        value: float,
        default: float,
        occurrence: int = 0,
        *,
        anchor: tuple[str, str] | None = None,
    ) -> None:
        section = table.split(".", 1)[0]
        allowed = range_of(section, key) or range_of(table, "*") or Range(0, math.inf)
        problem = allowed.problem(value)
        if problem is not None:
            line_table, line_key = anchor or (table, key)
            raise self.fail(f"{table}.{key} {problem}", line_table, line_key, allowed.fix(key, default), occurrence)

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
            if kind in (int, float):
                if len(value) > MAX_ARRAY_ITEMS:
                    raise self.fail(
                        f"{where} has {len(value):,} items, over the bound of {MAX_ARRAY_ITEMS}",
                        table,
                        key,
                        f"list at most {MAX_ARRAY_ITEMS}",
                        occurrence,
                    )
                for item in value:
                    self.check_range(table, key, item, default[0], occurrence)
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
    """Validate a parsed scenario (a TOML document as a dict) into a :class:`Scenario`.

    This checks the scenario on its own; what needs the SQL (tables, topics, message types,
    placeholders) is checked when the app model is built from it (``bcastsim.sim.app_model``).
    """
    reader = _Reader(path, text)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key == "extends":
            continue
        if key not in _TOP_KEYS:
            line = next(
                (
                    n
                    for n, row in enumerate(text.splitlines(), 1)
                    if row.lstrip("[ ").startswith((f"{key}]", f"{key}."))
                ),
                line_of(text, None, key),
            )
            raise InputError(f'unknown section "{key}"', path=path, line=line, fix=_suggest(key, list(_TOP_KEYS)))
        if key in _SECTIONS:
            kwargs[key] = reader.section(key, _SECTIONS[key], value)
        elif key in _NAMED:
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                raise reader.fail(f'"{key}" must hold named tables', None, key, f"write each as [{key}.NAME]")
            kwargs[key] = {
                name: attrs.evolve(reader.section(f"{key}.{name}", _NAMED[key], item), name=name)
                for name, item in value.items()
            }
        elif key == "phases":
            if not isinstance(value, list):
                raise reader.fail('"phases" must be an array of tables', None, key, "write each as [[phases]]")
            kwargs[key] = tuple(reader.section("phases", PhaseConfig, item, n) for n, item in enumerate(value))
        elif key in ("reactions", "text_lengths"):
            kwargs[key] = _table_of_numbers(reader, key, value)
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


def _table_of_numbers(reader: _Reader, key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise reader.fail(f'"{key}" must be a table', None, key, f"write it as [{key}]")
    out: dict[str, Any] = {}
    for name, number in value.items():
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise reader.fail(f"{key}.{name} must be a number, got {number!r}", key, name, f"e.g. {name} = 1")
        reader.check_range(key, name, number, 1, 0)
        out[name] = number
    return out


def _check_pc_filter(s: Scenario, reader: _Reader, population: PopulationConfig, table: str) -> None:
    """Each filtered table is one the population subscribes to, and "own" names rows of an entity it owns."""
    for name, selection in population.pc_filter.items():
        if name not in population.pc_tables:
            raise reader.fail(
                f'{table}.pc_filter names "{name}", which is not in {table}.pc_tables',
                table,
                "pc_filter",
                _suggest(name, list(population.pc_tables) or ["(none)"]) + " or add it to pc_tables",
            )
        entities = sorted({w.entity for w in s.writes.values() if w.table == name})
        about = ", ".join(entities) or "no entity"
        if selection != "all" and len(entities) != 1:
            raise reader.fail(
                f"{table}.pc_filter: the writes to {name} must be about one entity to filter its rows, "
                f"and they are about {about}",
                table,
                "pc_filter",
                f'write to {name} about one entity, or use "all"',
            )
        if selection == "own" and s.entities[entities[0]].per_client != population.name:
            raise reader.fail(
                f'{table}.pc_filter: "own" needs {about}, which {name} rows are about, to have one instance '
                f"per {population.name} client",
                table,
                "pc_filter",
                f'set per_client = "{population.name}" in [entities.{about}], or use "followed" or "all"',
            )


def _check(s: Scenario, reader: _Reader) -> None:
    cfg = s.scenario
    if not cfg.architectures:
        raise reader.fail(
            "scenario.architectures names no architecture",
            "scenario",
            "architectures",
            f"name one or more: {', '.join(ARCHITECTURE_NAMES)}",
        )
    for arch in cfg.architectures:
        if arch not in (*ARCHITECTURE_NAMES, "broadcast"):
            raise reader.fail(
                f'unknown architecture "{arch}"', "scenario", "architectures", _suggest(arch, ARCHITECTURE_NAMES)
            )
    if cfg.mode not in ("compare", "rollout"):
        raise reader.fail(f'unknown mode "{cfg.mode}"', "scenario", "mode", 'use "compare" or "rollout"')
    if not cfg.sql:
        raise reader.fail("scenario.sql names no SQL file", "scenario", "sql", 'e.g. sql = ["db/schema.sql"]')
    if not s.populations:
        raise reader.fail(
            "the scenario has no client population", None, "populations", "add a [populations.NAME] table"
        )
    phases = [p.name for p in s.phases]
    counts = collections.Counter(phases)  # one count per name: linear in the phases
    for n, phase in enumerate(s.phases):
        if not phase.name or counts[phase.name] > 1:
            raise reader.fail(
                f'phase {n + 1} needs a name of its own, got "{phase.name}"',
                "phases",
                "name",
                'e.g. name = "doors open"',
                n,
            )

    def known(kind: str, name: str, options: list[str], table: str, key: str) -> None:
        if name not in options:
            raise reader.fail(
                f'unknown {kind} "{name}" in [{table}]', table, key, _suggest(name, options or ["(none)"])
            )

    for entity in s.entities.values():
        table = f"entities.{entity.name}"
        for phase_name in (*entity.per_phase, *entity.appear_in):
            known("phase", phase_name, phases, table, "per_phase" if phase_name in entity.per_phase else "appear_in")
        if entity.parent:
            known("entity", entity.parent, list(s.entities), table, "parent")
        if entity.per_client:
            known("population", entity.per_client, list(s.populations), table, "per_client")
        for column in entity.columns:
            if column.count(".") != 1:
                raise reader.fail(
                    f'"{column}" in {table}.columns is not table.column', table, "columns", 'e.g. "orders.id"'
                )
    for write in s.writes.values():
        table = f"writes.{write.name}"
        if not write.table:
            raise reader.fail(f"[{table}] names no table", table, "", 'e.g. table = "orders"')
        if write.op not in _OPERATIONS:
            raise reader.fail(
                f'unknown operation "{write.op}" in [{table}]', table, "op", _suggest(write.op, _OPERATIONS)
            )
        if write.shape not in _SHAPES:
            raise reader.fail(
                f'unknown shape "{write.shape}" in [{table}]', table, "shape", _suggest(write.shape, _SHAPES)
            )
        known("entity", write.entity, list(s.entities), table, "entity")
        for phase_name in write.phases:
            known("phase", phase_name, phases, table, "phases")
        if write.population or write.per_client:
            known("population", write.population, list(s.populations), table, "population")
        amounts = [write.per_entity, write.count, write.per_client, write.rate_per_s]
        if write.shape in ("start", "end"):
            amounts = [write.per_entity or 1]
        if sum(1 for a in amounts if a) != 1:
            names = ", ".join(f"{table}.{k}" for k in ("per_entity", "count", "per_client", "rate_per_s"))
            raise reader.fail(
                f"[{table}] needs exactly one positive amount of {names}", table, "", "e.g. per_entity = 30"
            )
        for kind, share in write.emits.items():
            if share > 1:
                raise reader.fail(
                    f"{table}.emits.{kind} must be a share in [0, 1]", table, "emits", f"e.g. {kind} = 0.3"
                )
        if not write.phases and write.to_s >= 0 and write.to_s < write.from_s:
            raise reader.fail(
                f"{table}.to_s ({write.to_s:g}) is before {table}.from_s ({write.from_s:g})",
                table,
                "to_s",
                "make to_s at least from_s, or -1 for the scenario's end",
            )
    for population in s.populations.values():
        table = f"populations.{population.name}"
        if population.hidden_share > 1:
            raise reader.fail(f"{table}.hidden_share must be at most 1", table, "hidden_share", "a share, e.g. 0.1")
        if not population.follow and not population.pc_tables:
            raise reader.fail(
                f"[{table}] follows nothing", table, "", 'add follow = [{ topic = "..." }] or pc_tables = ["..."]'
            )
        _check_pc_filter(s, reader, population, table)
    if cfg.duration_s <= 0:
        raise reader.fail("scenario.duration_s must be positive", "scenario", "duration_s", "e.g. 10800")
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
