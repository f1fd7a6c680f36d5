"""The event as a timeline of database writes, built from the scenario's ``[writes.*]`` and the app's SQL.

Each write is about one instance of an entity; the messages it sends are the notify sites of its
table and operation (those with a condition only as often as the scenario's ``emits`` share says),
on topics whose placeholders the instance and its parents fill. Everything random is drawn from
the ``workload`` stream, so every architecture of one run (and every rollout stage) sees the very
same writes at the very same times.
"""

from __future__ import annotations

import operator
import random
from collections.abc import Callable

import attrs

from bcastsim._gc import collection_paused
from bcastsim.sim._app import AppModel, MessageSpec
from bcastsim.sim._scenario import EntityConfig, FollowConfig, Scenario, WriteConfig, _suggest
from bcastsim.sqlmodel import Hole

__all__ = [
    "Emitter",
    "Followed",
    "Instance",
    "Workload",
    "Write",
    "build_workload",
    "check_scenario",
    "follow_topics",
    "instances_of",
]


@attrs.frozen
class Instance:
    entity: str
    index: int
    key: str  # the value its id columns hold in topics
    phase: str  # the phase it is active in ("" = all)
    appear_ms: float  # appears (its topics are followed) from then on


# Not frozen only because a run makes one per write of its event, tens of thousands, and a frozen class's
# __init__ sets each field through object.__setattr__ (1 µs a write against 0.2 µs): nothing changes a Write
# after the workload is built.
@attrs.define
class Write:
    time_ms: float
    seq: int
    source: str  # the [writes.NAME] entry
    table: str
    operation: str
    entity: str
    index: int  # the entity instance it is about
    sends: tuple[tuple[int, str], ...]  # (message index, topic)
    pc_kind: str  # the message type a postgres_changes subscriber's handler treats the change as
    critical: bool  # inside its window's critical_s: the moments the report looks at separately


@attrs.frozen
class Workload:
    instances: dict[str, tuple[Instance, ...]]
    writes: tuple[Write, ...]
    counts: dict[str, int]  # writes per [writes.NAME]

    def count(self, source: str) -> int:
        return self.counts.get(source, 0)


TopicOf = Callable[[int], str]


@attrs.frozen
class Followed:
    """A topic pattern a population follows: about which entity ("" = none) and how each instance's topic reads."""

    entity: str
    topic: TopicOf
    private: bool  # its trigger sends privately
    rule: int  # the index of the follow rule in the population


def _instances(scenario: Scenario) -> dict[str, tuple[Instance, ...]]:
    out: dict[str, tuple[Instance, ...]] = {}
    for entity in scenario.entities.values():
        groups: list[tuple[str, int]] = list(entity.per_phase.items())
        if entity.per_client:
            groups = [("", scenario.populations[entity.per_client].count)]
        elif not groups:
            groups = [("", entity.count)]
        items: list[Instance] = []
        for phase, count in groups:
            appear = scenario.phase(phase).start_s * 1000.0 if phase and phase in entity.appear_in else 0.0
            for _ in range(count):
                k = len(items)
                items.append(Instance(entity.name, k, f"{entity.name}-{k}", phase, appear))
        out[entity.name] = tuple(items)
    return out


def _lineage(scenario: Scenario, name: str) -> list[EntityConfig]:
    chain: list[EntityConfig] = []
    seen: set[str] = set()
    while name and name not in seen:
        seen.add(name)
        chain.append(scenario.entities[name])
        name = scenario.entities[name].parent
    return chain


def _owner(hole: Hole, candidates: list[EntityConfig]) -> EntityConfig | None:
    sources = {str(s) for s in hole.sources}
    return next((e for e in candidates if sources & set(e.columns)), None)


def _topic_maker(
    scenario: Scenario, instances: dict[str, tuple[Instance, ...]], entity: str, parts: tuple[str | Hole, ...]
) -> TopicOf | str:
    """A function from an instance of ``entity`` to its topic, or the placeholder it cannot fill."""
    chain = _lineage(scenario, entity)
    pieces: list[str | tuple[int, str]] = []  # literal, or (generations up, entity)
    for part in parts:
        if not isinstance(part, Hole) or not part.sources:
            # A value the analysis could not trace to a column is one topic for every write (see docs/scenarios.md).
            pieces.append(str(part))
            continue
        owner = _owner(part, chain)
        if owner is None:
            return str(part)
        pieces.append((chain.index(owner), owner.name))

    def topic(k: int) -> str:
        out = []
        for piece in pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            up, name = piece
            index = k
            for generation in chain[1 : up + 1]:
                index %= max(1, len(instances[generation.name]))
            out.append(instances[name][index].key)
        return "".join(out)

    return topic


def _sent_share(scenario: Scenario, write: WriteConfig, message: MessageSpec) -> float:
    # The scenario's share wins even for a site the analysis calls unconditional: the user knows their data.
    if message.kind in write.emits:
        return write.emits[message.kind]
    if not message.conditions.get(write.op, ()):
        return 1.0
    conditions = " AND ".join(message.conditions[write.op])
    raise scenario.fail(
        f"[writes.{write.name}] ({write.table} {write.op}) reaches {message.kind}, sent only when {conditions}: "
        "say how often that holds",
        f"writes.{write.name}",
        "emits" if write.emits else "",
        f"emits = {{ {message.kind} = 0.3 }} (a share in [0, 1])",
    )


def check_scenario(scenario: Scenario, app: AppModel) -> None:
    """Everything the scenario says that the SQL must bear out: tables, topics, message types, placeholders."""
    tables = sorted(app.catalog.tables)
    kinds = list(app.kinds)
    instances = _instances(scenario)
    for write in scenario.writes.values():
        where = f"writes.{write.name}"
        if write.table not in app.catalog.tables:
            raise scenario.fail(
                f'[{where}] writes to "{write.table}", which the SQL does not define',
                where,
                "table",
                _suggest(write.table, tables),
            )
        if not app.watched(write.table):
            raise scenario.fail(
                f'[{where}]: no trigger of the SQL sends a message for table "{write.table}"',
                where,
                "table",
                "write to a table a notify trigger watches, or add that trigger's SQL file",
            )
        messages = app.messages_for(write.table, write.op)
        for kind in write.emits:
            if kind not in {m.kind for m in messages}:
                raise scenario.fail(
                    f'[{where}] emits "{kind}", which no trigger sends on {write.table} {write.op}',
                    where,
                    "emits",
                    _suggest(kind, [m.kind for m in messages] or kinds),
                )
        for message in messages:
            _sent_share(scenario, write, message)
            made = _topic_maker(scenario, instances, write.entity, message.parts)
            if isinstance(made, str):
                raise scenario.fail(
                    f"[{where}] about {write.entity}: cannot fill {made} in {message.kind}'s topic {message.pattern}",
                    where,
                    "entity",
                    f'add "{made.strip("{}").split(",")[0]}" to [entities.{write.entity}].columns or a parent\'s',
                )
    for population in scenario.populations.values():
        where = f"populations.{population.name}"
        for table in population.pc_tables:
            if table not in app.catalog.tables:
                raise scenario.fail(
                    f'unknown table "{table}" in {where}.pc_tables', where, "pc_tables", _suggest(table, tables)
                )
        for follow in population.follow:
            follow_topics(scenario, app, instances, follow, where)
        for kind in population.reactions:
            if kind not in kinds:
                raise scenario.fail(
                    f'unknown message type "{kind}" in {where}.reactions', where, "reactions", _suggest(kind, kinds)
                )
    for kind in scenario.reactions:
        if kind not in kinds and not kind.endswith(("_insert", "_update", "_delete")):
            raise scenario.fail(
                f'unknown message type "{kind}" in [reactions]', "reactions", kind, _suggest(kind, kinds)
            )
    for key, value in (
        ("headline_message", scenario.scenario.headline_message),
        ("latency_message", scenario.claims.latency_message),
    ):
        if value and value not in kinds:
            table = "scenario" if key == "headline_message" else "claims"
            raise scenario.fail(f'unknown message type "{value}" in {table}.{key}', table, key, _suggest(value, kinds))


def follow_topics(
    scenario: Scenario,
    app: AppModel,
    instances: dict[str, tuple[Instance, ...]],
    follow: FollowConfig,
    where: str,
    *,
    rule: int = 0,
) -> Followed:
    """The entity a followed topic pattern is about ("" when it has no placeholder) and its topic per instance."""
    message = next((m for m in app.messages if m.pattern == follow.topic), None)
    if message is None:
        raise scenario.fail(
            f'unknown topic "{follow.topic}" in {where}.follow: no trigger of the SQL sends on it',
            where,
            "follow",
            _suggest(follow.topic, list(app.patterns)),
        )
    holes = [p for p in message.parts if isinstance(p, Hole) and p.sources]
    private = message.private is True
    if not holes:
        return Followed("", lambda k: follow.topic, private, rule)
    owner = _owner(holes[0], list(scenario.entities.values()))
    made = _topic_maker(scenario, instances, owner.name, message.parts) if owner is not None else str(holes[0])
    if owner is None or isinstance(made, str):
        raise scenario.fail(
            f"{where}.follow: no entity's columns fill {made if isinstance(made, str) else holes[0]} in {follow.topic}",
            where,
            "follow",
            "list that table.column in the columns of the entity it identifies",
        )
    if follow.entities == "own" and not scenario.entities[owner.name].per_client:
        raise scenario.fail(
            f'{where}.follow: "own" needs an entity with one instance per client, and {owner.name} has none',
            where,
            "follow",
            f'set per_client = "{where.split(".", 1)[1]}" in [entities.{owner.name}]',
        )
    count = len(instances[owner.name])
    for k in follow.ids:
        if not 0 <= k < count:
            raise scenario.fail(
                f"{where}.follow: {owner.name} {k} does not exist", where, "follow", f"use ids in 0..{count - 1}"
            )
    return Followed(owner.name, made, private, rule)


def _windows(scenario: Scenario, write: WriteConfig) -> list[tuple[str, float, float]]:
    if write.phases:
        return [
            (p.name, p.start_s * 1000.0, (p.start_s + p.duration_s) * 1000.0)
            for p in scenario.phases
            if p.name in write.phases
        ]
    end = scenario.scenario.duration_s if write.to_s < 0 else write.to_s
    return [("", write.from_s * 1000.0, end * 1000.0)]


def _drawer(write: WriteConfig, start: float, end: float, rng: random.Random) -> Callable[[], float]:
    """Draws of write times in ``[start, end)`` by the write's shape, with what is the same for every draw
    worked out once (most of an event's writes, votes and bids, are drawn by one drawer)."""
    draw = rng.random
    span = end - start
    if write.shape != "bunched":
        return lambda: start + draw() * span
    burst = min(write.burst_s * 1000.0, span)
    early_span = max(start, end - burst) - start
    early, skew = write.early_fraction, write.skew

    def bunched() -> float:
        if draw() < early:
            return start + draw() * early_span
        return end - burst * float(draw() ** skew)

    return bunched


_TIME = operator.itemgetter(0)


def build_workload(scenario: Scenario, app: AppModel, rng: random.Random) -> Workload:
    """Every write of the event, in commit order, with the messages it sends and their topics."""
    # Every write made is kept: a full collection in the middle would walk them all and free nothing.
    with collection_paused():
        return _build_workload(scenario, app, rng)


def _build_workload(scenario: Scenario, app: AppModel, rng: random.Random) -> Workload:
    instances = _instances(scenario)
    raw: list[tuple[float, int, int, str, int, bool]] = []  # time, entry order, draw order, entry, instance, critical
    for order, write in enumerate(scenario.writes.values()):
        pool = instances[write.entity]
        for phase, start, end in _windows(scenario, write):
            active = [i for i in pool if not phase or not i.phase or i.phase == phase]
            if write.first:
                active = active[: write.first]
            if not active:
                continue
            extended = end + write.extend_s * 1000.0
            if write.shape in ("start", "end"):
                for k, inst in enumerate(active):
                    base = (
                        max(start, inst.appear_ms)
                        if write.shape == "start"
                        else extended + k * write.stagger_s * 1000.0
                    )
                    for _ in range(write.per_entity or 1):
                        raw.append(
                            (
                                base + (write.offset_s + k * write.step_s) * 1000.0,
                                order,
                                len(raw),
                                write.name,
                                inst.index,
                                False,
                            )
                        )
                continue
            if write.per_entity:
                for k, inst in enumerate(active):
                    lo = max(start, inst.appear_ms)
                    hi = extended + k * write.stagger_s * 1000.0
                    draw_time = _drawer(write, lo, hi, rng)
                    for _ in range(write.per_entity):
                        t = draw_time()
                        critical = write.critical_s > 0 and t >= hi - write.critical_s * 1000.0
                        raw.append((t, order, len(raw), write.name, inst.index, critical))
                continue
            if write.per_client:
                n = round(scenario.populations[write.population].count * write.per_client)
            elif write.rate_per_s:
                n = round(write.rate_per_s * (extended - start) / 1000.0)
            else:
                n = write.count
            # The loop of most of an event's writes (votes, bids): what does not change from one write to the
            # next is read once.
            draw_time = _drawer(write, start, extended, rng)
            # rng.randrange(count), as random.Random draws it (_randbelow_with_getrandbits: count.bit_length()
            # bits, drawn again until below count), without its three calls per write.
            bits = rng.getrandbits
            count = len(active)
            width = count.bit_length()
            name = write.name
            critical_from = extended - write.critical_s * 1000.0 if write.critical_s > 0 else None
            for _ in range(n):
                t = draw_time()
                k = bits(width)
                while k >= count:
                    k = bits(width)
                inst = active[k]
                critical = critical_from is not None and t >= critical_from
                raw.append((t, order, len(raw), name, inst.index, critical))

    end_ms = scenario.scenario.duration_s * 1000.0
    # In time order, ties in the order drawn: raw is listed by entry and draw order, and the sort is stable (a
    # float key compares faster than the tuples).
    kept = [r for r in raw if 0.0 <= r[0] < end_ms]
    kept.sort(key=_TIME)
    emit = Emitter(scenario, app, instances, rng)
    writes = [
        emit.write(name, index, t, seq, critical=critical)
        for seq, (t, _o, _d, name, index, critical) in enumerate(kept)
    ]
    counts: dict[str, int] = dict.fromkeys(scenario.writes, 0)
    for made in writes:
        counts[made.source] += 1
    return Workload(instances, tuple(writes), counts)


class Emitter:
    """Turns "a write of [writes.NAME] about instance k at time t" into the messages it sends and their topics."""

    def __init__(
        self,
        scenario: Scenario,
        app: AppModel,
        instances: dict[str, tuple[Instance, ...]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.scenario = scenario
        self.app = app
        self.instances = instances if instances is not None else _instances(scenario)
        self.rng = rng if rng is not None else random.Random(0)
        self.makers: dict[tuple[str, int], TopicOf] = {}
        self.shares: dict[tuple[str, int], float] = {}
        # Per [writes.NAME]: its config, the kind a write sending nothing is treated as, and per message it can
        # send (in the app's order) the message, its share and the topics already made per instance. A run
        # has tens of thousands of writes about a few hundred instances: each topic is made once.
        self._plans: dict[str, tuple[WriteConfig, str, tuple[tuple[int, float, TopicOf, dict[int, str]], ...]]] = {}
        for write in scenario.writes.values():
            sites: list[tuple[int, float, TopicOf, dict[int, str]]] = []
            for message in app.messages_for(write.table, write.op):
                made = _topic_maker(scenario, self.instances, write.entity, message.parts)
                if isinstance(made, str):
                    check_scenario(scenario, app)  # raises the error that names the placeholder
                    raise AssertionError(made)  # pragma: no cover
                self.makers[write.name, message.index] = made
                self.shares[write.name, message.index] = _sent_share(scenario, write, message)
                sites.append((message.index, self.shares[write.name, message.index], made, {}))
            self._plans[write.name] = (write, f"{write.table}_{write.op.lower()}", tuple(sites))
        # The [writes.NAME] whose every message is sent always or never (no draw decides): their writes about one
        # instance send the same messages, made once per instance and shared.
        self._certain = {
            name
            for name, (_cfg, _nothing, sites) in self._plans.items()
            if all(s[1] >= 1.0 or s[1] <= 0.0 for s in sites)
        }
        self._fixed: dict[tuple[str, int], tuple[tuple[tuple[int, str], ...], str]] = {}

    def write(self, source: str, index: int, time_ms: float, seq: int, *, critical: bool = False) -> Write:
        cfg, nothing, sites = self._plans[source]
        fixed = self._fixed.get((source, index))
        if fixed is not None:
            sends_of, first_of = fixed
            return Write(
                round(time_ms, 3), seq, source, cfg.table, cfg.op, cfg.entity, index, sends_of, first_of, critical
            )
        sends = []
        for message, share, maker, made in sites:
            if share >= 1.0 or (share > 0.0 and self.rng.random() < share):
                topic = made.get(index)
                if topic is None:
                    topic = made[index] = maker(index)
                sends.append((message, topic))
        first = self.app.messages[sends[0][0]].kind if sends else nothing
        if source in self._certain:
            self._fixed[source, index] = (tuple(sends), first)
        return Write(
            round(time_ms, 3), seq, source, cfg.table, cfg.op, cfg.entity, index, tuple(sends), first, critical
        )


def instances_of(scenario: Scenario) -> dict[str, tuple[Instance, ...]]:
    """Every instance of every entity of ``scenario``."""
    return _instances(scenario)
