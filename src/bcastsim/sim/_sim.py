"""One simulated event: clients grouped into cohorts, the Realtime server's limits, faults.

Clients that behave identically (same architecture, role, topics and history) form a
:class:`Cohort` and every delivery, join or reconnect is handled once per cohort with the cohort's
size as its weight, so the cost grows with messages × cohorts, not with messages × clients. A
cohort splits only when its members start to differ (a fault hits some of them, the connection
limit admits some, jittered backoff sends them apart).
"""

from __future__ import annotations

import bisect
import functools
import math
import random
from collections.abc import Callable

from bcastsim._gc import collection_paused
from bcastsim._plans import PlanLimits
from bcastsim._realtime_js import RealtimeJs, load_realtime_js
from bcastsim.check.history import (
    Anomaly,
    ClientTrace,
    DeliveryReport,
    Interval,
    Receipts,
    Sent,
    check_traces,
)
from bcastsim.client import BackoffPolicy, TableBackoff
from bcastsim.sim._app import AppModel
from bcastsim.sim._architectures import PRIVATE, Architecture, PostgresChanges
from bcastsim.sim._costs import CostModel
from bcastsim.sim._database import Database, compute_of
from bcastsim.sim._engine import Engine
from bcastsim.sim._metrics import ArchMetrics
from bcastsim.sim._profiles import ClientBehaviour
from bcastsim.sim._rate_counter import RateCounter
from bcastsim.sim._realtime_rules import RealtimeRules, load_realtime_rules
from bcastsim.sim._rng import RandomTree
from bcastsim.sim._scenario import FaultConfig, PopulationConfig, Scenario
from bcastsim.sim._wal import Wal
from bcastsim.sim._workload import Followed, Instance, Workload, Write, follow_topics

__all__ = ["Cohort", "Simulation"]

_NONE: frozenset[str] = frozenset()

# What a group split off another does not inherit: its identity, size, random stream and constructor state.
_OWN = frozenset({"id", "n", "_rng", "_rng_source", "arch", "role", "topics", "arrival_ms", "own"})


def _copied(value: object) -> object:
    """A copy deep enough that the two groups' histories evolve apart (tuples and scalars are shared)."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return list(value)
    if isinstance(value, set):
        return set(value)
    if isinstance(value, Receipts):
        return value.copy()
    return value


class Cohort:
    """Identical clients, handled together; ``n`` is how many real clients it stands for."""

    __slots__ = (
        "_rng",
        "_rng_source",
        "affected",
        "arch",
        "arrival_ms",
        "attempt",
        "close_attempts",
        "closed",
        "conn_intervals",
        "conn_since",
        "connected",
        "down_since",
        "episode_failed",
        "epoch",
        "gave_up",
        "had_gap",
        "hidden",
        "id",
        "idle_closed",
        "jitter_split",
        "join_tries",
        "join_wait_from",
        "joined_during_drop",
        "last_arrival",
        "link",
        "listeners",
        "n",
        "offline_until",
        "own",
        "partitioned_until",
        "pending_joins",
        "received",
        "refetch_times",
        "resub_from",
        "role",
        "sub_at",
        "sub_intervals",
        "topics",
        "waiting_at",
        "want_from",
    )

    def __init__(
        self,
        cid: int,
        n: int,
        *,
        arch: Architecture,
        role: str,
        topics: list[str],
        arrival_ms: float,
        rng: random.Random | Callable[[], random.Random],
        own: int = -1,
    ) -> None:
        self.id = cid
        self.own = own  # the client's own instance of a per-client entity (a cohort of one), else -1
        self.n = n
        self.arch = arch
        self.role = role
        self.topics = topics
        self.arrival_ms = arrival_ms
        # A stream is made on first use: most groups never draw, and each Random holds 2.5 KB of state.
        self._rng: random.Random | None = rng if isinstance(rng, random.Random) else None
        self._rng_source: Callable[[], random.Random] | None = None if isinstance(rng, random.Random) else rng
        self.link = 1.0
        self.last_arrival = 0.0
        self.listeners: dict[str, int] = {}  # topic -> page callbacks per client, when more than one
        self.connected = False
        self.conn_since = 0.0
        self.conn_intervals: list[tuple[float, float]] = []
        self.sub_at: dict[str, float] = {}
        self.sub_intervals: dict[str, list[tuple[float, float]]] = {}
        self.received: dict[str, Receipts] = {}
        # The three sets below are empty for almost every group: they start as the shared empty frozenset and
        # are replaced (never changed in place) when they change, so a group of one costs no set of its own.
        self.closed: frozenset[str] = _NONE
        self.close_attempts: dict[str, int] = {}
        self.epoch = 0
        self.attempt = 0
        self.gave_up = False
        self.had_gap = False
        self.jitter_split = False
        self.offline_until = 0.0
        self.partitioned_until = -1.0
        self.refetch_times: list[float] = []
        # When the page first asked for each topic: from then on every message on it is owed.
        self.want_from: dict[str, float] = dict.fromkeys(topics, arrival_ms)
        self.affected = False  # lost its connection, or an attempt failed, at least once
        self.down_since = -1.0  # when the current reconnection began (-1: connected, or never yet)
        self.episode_failed = False  # the service refused or was down during the current (re)connection
        self.hidden = False  # a background tab: after a drop it reconnects only once looked at again
        self.idle_closed = False  # realtime-js closed the socket after its last channel was removed
        self.joined_during_drop: frozenset[str] = _NONE  # subscribed while the socket was down: joined twice
        self.pending_joins: frozenset[str] = _NONE  # rejected over the join rate, waiting for the rejoin timer
        self.join_wait_from: dict[str, float] = {}  # when a still-pending join was first sent
        self.join_tries = 0
        self.resub_from = -1.0  # the drop whose channels are still being joined again (-1: none)
        self.waiting_at = -1.0  # refused at the full connection cap at this time, waiting for room (-1: not)

    @property
    def name(self) -> str:
        return f"{self.arch.name}/{self.role}/g{self.id:04d}"

    @property
    def rng(self) -> random.Random:
        if self._rng is None:
            assert self._rng_source is not None
            self._rng = self._rng_source()
        return self._rng


class Simulation:
    """Runs one scenario with a given population of architectures."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        architectures: list[Architecture],
        population: Callable[[str, int], Architecture],
        plan: PlanLimits,
        costs: CostModel,
        app: AppModel,
        behaviour: ClientBehaviour,
        workload: Workload,
        seed: int,
        realtime_js: RealtimeJs | None = None,
        rules: RealtimeRules | None = None,
    ) -> None:
        self.scenario = scenario
        self.rules = rules if rules is not None else load_realtime_rules()
        self.rtjs = realtime_js if realtime_js is not None else load_realtime_js()
        self.architectures = architectures
        self.population = population
        self.plan = plan
        self.costs = costs
        self.app = app
        self.behaviour = behaviour
        self.workload = workload
        self.tree = RandomTree(seed).child("sim")
        self.engine = Engine()
        self.metrics = {a.name: ArchMetrics(a.name) for a in architectures}
        for arch in architectures:
            arch.configure(scenario, app)
        self.cohorts: list[Cohort] = []
        # The writes per second and [writes.NAME] explain a reader's lag (ArchMetrics.lag_context): counted only
        # for the architectures that can lag.
        self._lag_rates = [self.metrics[a.name].rate_writes for a in architectures if a.lags]
        # Per topic, the groups holding a channel on it: (group, when its join completes, what it received
        # there), by group id in the order they first joined; kept with the group's sub_at and received.
        self.topic_subs: dict[str, dict[int, tuple[Cohort, float, Receipts]]] = {}
        self.sent: list[Sent] = []
        self.topic_ids: dict[str, list[int]] = {}  # ascending: what a topic's Receipts count runs in
        self.connections = 0
        # Connected clients per architecture, kept as they connect and leave (a split moves clients between
        # two groups in the same state), so a sample reads a counter instead of scanning every group.
        self._connected_by_arch = {a.name: 0 for a in architectures}
        self.server_down_until = 0.0
        self._waiting: list[Cohort] = []  # groups refused at the full connection cap, in the order refused
        self._jittered = behaviour.jittered
        # The project's counters (rate_counter.ex): broadcast deliveries, channel joins, and the poller's
        # postgres_changes fan-out, each judged by the Realtime version's rule against the plan's limit.
        counter = self.rules.counter
        self.events = RateCounter(counter, plan.messages_per_second, self.rules.rule("broadcast").judge)
        self.joins = RateCounter(counter, plan.channel_joins_per_second, self.rules.rule("joins").judge)
        self.db_events = RateCounter(counter, self.rules.postgres_changes_limit(plan.messages_per_second), "triggered")
        self._ingest_judge = self.rules.rule("broadcast_from_database").judge
        self._events_limited = not self.events.unlimited  # the plan's limit is the run's
        db = scenario.database
        self.wal = Wal(
            background_bytes_per_s=db.background_wal_bytes_per_s,
            archive_timeout_s=db.archive_timeout_s,
            checkpoint_timeout_s=db.checkpoint_timeout_s,
        )
        # Every query any architecture charges runs on the one database (sim/_database.py).
        self.database = Database(compute_of(scenario))
        for metrics in self.metrics.values():
            metrics.attach(self.database, self.engine)
        self._net = self.tree.stream("network")
        self._net_mu = math.log(max(scenario.network.median_ms, 1e-3))
        # Half of the log-variance is per message (shared path), half per client group (its link).
        self._net_sigma = scenario.network.sigma / math.sqrt(2.0)
        self._links = self.tree.stream("links")
        self._fault_rng = self.tree.stream("faults")
        # The end of the latest partition: until then a fan-out asks each group whether it is cut off.
        self._cut_until = -1.0
        self._last_sample = {a.name: (0, 0.0) for a in architectures}
        self._critical = self._critical_moments()
        self._reactions = {name: {**scenario.reactions, **pop.reactions} for name, pop in scenario.populations.items()}
        # Per message kind, the populations whose page runs queries for it and how many (none: no entry's kind).
        self._reacting: dict[str, dict[str, float] | None] = {}
        self._fan_plans: dict[
            tuple[str, str, bool], tuple[dict[str, float] | None, tuple[dict[float, int], ...], dict[float, int]]
        ] = {}
        self._follows: dict[str, list[Followed]] = {
            name: [
                follow_topics(scenario, app, workload.instances, follow, f"populations.{name}", rule=n)
                for n, follow in enumerate(pop.follow)
            ]
            for name, pop in scenario.populations.items()
        }
        # The one entity each table's writes are about (the loader checks there is one for a filtered table).
        self._table_entity = {w.table: w.entity for w in scenario.writes.values()}
        for name, pop in scenario.populations.items():
            for table, selection in pop.pc_filter.items():
                entity = self._table_entity[table]
                if selection == "followed" and all(f.entity != entity for f in self._follows[name]):
                    where = f"populations.{name}"
                    raise scenario.fail(
                        f'{where}.pc_filter: "followed" needs a follow rule about {entity}, the entity {table} '
                        "rows are about, and there is none",
                        where,
                        "pc_filter",
                        f'add a follow of a topic about {entity}, or use "all"',
                    )

    def _critical_moments(self) -> dict[str, frozenset[float]]:
        """Commit times of the writes inside their window's critical_s, per message type they send."""
        out: dict[str, set[float]] = {}
        for write in self.workload.writes:
            if write.critical:
                kinds = {self.app.messages[i].kind for i, _ in write.sends} | {write.pc_kind}
                for kind in kinds:
                    out.setdefault(kind, set()).add(write.time_ms)
        return {k: frozenset(v) for k, v in out.items()}

    # ----------------------------------------------------------------- database side
    def wal_total(self) -> float:
        return self.wal.position(self.engine.now)

    def add_wal(self, nbytes: float) -> None:
        self.wal.add(nbytes)

    def publish(self, arch: Architecture, topic: str, time_ms: float, *, private: bool) -> int:
        sent = self.sent
        msg_id = len(sent) + 1
        sent.append(Sent(msg_id, topic, time_ms, private))
        ids = self.topic_ids.get(topic)
        if ids is None:
            ids = self.topic_ids[topic] = []
        ids.append(msg_id)
        self.metrics[arch.name].messages_published += 1
        return msg_id

    def _on_write(self, write: Write) -> None:
        engine = self.engine
        engine.record("write", write.seq, write.source, write.index)
        costs = self.costs
        self.wal.add(costs.wal_bytes_per_write)
        if self._lag_rates:
            commit_s = (int(engine.now // 1000.0), write.source)
            for rate in self._lag_rates:
                rate[commit_s] = rate.get(commit_s, 0) + 1
        # The write's own statement is charged once, to the first architecture, before any trigger's work.
        first, *others = self.architectures
        first.on_write(self, write, costs.insert_row_ms)
        for arch in others:
            arch.on_write(self, write)

    # ----------------------------------------------------------------- fan-out
    def drop_over_rate(self, metrics: ArchMetrics, topic: str, kind: str) -> int:
        """A message on ``topic`` dropped over the message rate: counted per population; the deliveries it owed."""
        now = self.engine.now
        owed = 0
        for cohort, start, _receipts in self.topic_subs.get(topic, {}).values():
            if start <= now:
                owed += cohort.n
                metrics.count_drop(now, kind, cohort.role, cohort.n)
        return owed

    def subscribed_count(self, topic: str, now: float) -> int:
        subs = self.topic_subs.get(topic)
        if not subs:
            return 0
        return sum(c.n for c, start, _receipts in subs.values() if start <= now)

    def fan_out(  # noqa: PLR0917 - the engine calls it with positional arguments
        self,
        arch: Architecture,
        msg_id: int,
        topic: str,
        kind: str,
        commit_ms: float,
        wire_bytes: int,
    ) -> None:
        subs = self.topic_subs.get(topic)
        if not subs:
            return
        now = self.engine.now
        metrics = self.metrics[arch.name]
        # Every broadcast delivery counts on the project's events counter, and its channel then closes
        # itself when the counter is over the limit (the delivery itself went out). The counter's
        # average moves only at ticks, so every channel of this fan-out reads the same verdict.
        # postgres_changes is judged at the poller, never by closing channels.
        counted = self._events_limited and arch.family != "postgres_changes"
        if counted:
            self.events.start(now)
            if arch.family == "broadcast":
                # Broadcast from the database: the replication connection checks the events counter before
                # the message goes anywhere; over it the message is dropped whole, else it counts one.
                if self.events.over(now, self._ingest_judge):
                    owed = self.drop_over_rate(metrics, topic, kind)
                    metrics.count_fan_out(now, kind, owed, self.events.avg)
                    metrics.violations["broadcasts_dropped_over_message_rate"] += 1
                    metrics.violations["deliveries_dropped_over_message_rate"] += owed
                    self.engine.record("dropped-over-rate", msg_id, owed)
                    return
                self.events.add(now, 1)
        over = counted and self.events.over(now)
        # One draw per message for the shared path, times each group's own link factor.
        shared = self._net.lognormvariate(self._net_mu, self._net_sigma)
        critical = self._critical.get(kind)
        at_critical = critical is not None and commit_ms in critical
        # What is the same for every message of this kind from this architecture, worked out at its first.
        plan = self._fan_plans.get((arch.name, kind, at_critical))
        if plan is None:
            plan = self._fan_plan(arch, kind, at_critical)
        react, tables, weighted = plan
        cut = 0  # clients partitioned away: the server sent to them, nothing arrived
        many = 0  # deliveries to groups of more than one
        reacting = 0.0
        ones: list[float] = []  # commit-to-socket latency of each group of one, rounded and counted after the loop
        ordinal = bisect.bisect_left(self.topic_ids[topic], msg_id)  # the message's place among the topic's
        after = ordinal + 1
        if not over and react is None and self._cut_until <= now:
            # The usual message: no channel closes, nobody is partitioned away, no page queries. The loop below
            # is the one after it with those branches taken out, since it runs once per delivery.
            append = ones.append
            for cohort, start, receipts in subs.values():
                if start > now:
                    continue  # the join has not completed yet
                # One WebSocket per client: frames arrive in the order they were sent.
                arrival = now + shared * cohort.link
                if arrival < cohort.last_arrival:  # noqa: PLR1730 - a comparison costs less than a call of max()
                    arrival = cohort.last_arrival
                cohort.last_arrival = arrival
                run = receipts.open_run
                if run is not None and run[1] == ordinal:
                    run[1] = after
                else:
                    receipts.add(msg_id, arrival)
                if cohort.n == 1:
                    append(arrival - commit_ms)
                else:
                    n = cohort.n
                    many += n
                    key = round(arrival - commit_ms, 1)
                    weighted[key] = weighted.get(key, 0) + n
        else:
            # Closing a channel changes the topic's groups: iterate over a copy only when channels may close.
            for cohort, start, receipts in list(subs.values()) if over else subs.values():
                if start > now:
                    continue  # the join has not completed yet
                if cohort.partitioned_until > now:
                    cut += cohort.n
                    metrics.lost_in_partition += cohort.n
                    if over:
                        self._close_channel(cohort, topic)
                    continue
                arrival = now + shared * cohort.link
                if arrival < cohort.last_arrival:  # noqa: PLR1730
                    arrival = cohort.last_arrival
                cohort.last_arrival = arrival
                receipts.add_at(ordinal, msg_id, arrival)
                n = cohort.n
                if n == 1:
                    ones.append(arrival - commit_ms)
                else:
                    many += n
                    key = round(arrival - commit_ms, 1)
                    weighted[key] = weighted.get(key, 0) + n
                if react is not None:
                    reaction = react.get(cohort.role)
                    if reaction:
                        reacting += n * cohort.listeners.get(topic, 1) * reaction
                if over:
                    self._close_channel(cohort, topic)
        delivered = len(ones) + many
        reached = delivered + cut  # deliveries the server made: what the events counter counts
        if reached:
            metrics.count_delivered(
                now, kind, tables, ones, delivered, reached, wire_bytes, self.events.avg if over else None
            )
            if counted:
                self.events.add(now, reached)  # one add for the fan-out: the average moves only at ticks
        if reacting:
            metrics.db("client_reaction_queries", reacting, self.costs.client_query_ms)
        self.engine.record("fanout", msg_id, delivered)

    def _fan_plan(
        self, arch: Architecture, kind: str, at_critical: bool
    ) -> tuple[dict[str, float] | None, tuple[dict[float, int], ...], dict[float, int]]:
        """For a fan-out of ``kind`` from ``arch``: the populations whose page queries for it, the latency tables
        it adds to (the kind's is made if new, as the first such message is delivered) and where its larger
        groups' rounded latencies are counted for them (rounded latency -> clients)."""
        # A page that cannot read the message neither shows it nor runs the queries its handler would.
        applies = arch.page_applies(self.behaviour)
        react = self._reacts_to(kind) if applies else None
        metrics = self.metrics[arch.name]
        tables = metrics.latency_tables(kind, critical=at_critical, page=applies)
        plan = self._fan_plans[arch.name, kind, at_critical] = (react, tables, metrics.latency_pending(tables))
        return plan

    def _reacts_to(self, kind: str) -> dict[str, float] | None:
        """The populations whose page runs queries for a message of ``kind``, and how many; None: no one."""
        if kind not in self._reacting:
            react = {role: r for role, table in self._reactions.items() if (r := table.get(kind, 0.0))}
            self._reacting[kind] = react or None
        return self._reacting[kind]

    def _close_channel(self, cohort: Cohort, topic: str) -> None:
        now = self.engine.now
        self._unsubscribe(cohort, topic, now)
        cohort.closed |= {topic}
        self.metrics[cohort.arch.name].violations["channels_closed_over_message_rate"] += cohort.n
        if self.behaviour.rejoins_after_close:
            attempt = cohort.close_attempts.get(topic, 0) + 1
            cohort.close_attempts[topic] = attempt
            delay = _delay(self.behaviour.close_backoff, attempt, cohort)
            if delay is not None:
                self.engine.at(now + delay, self._rejoin_closed, cohort, topic, cohort.epoch)
                return
        if not cohort.sub_at:
            # realtime-js removes a CLOSED channel; with the last one gone the socket closes 2 heartbeats later.
            self.engine.at(now + self.rtjs.empty_disconnect_ms, self._idle_close, cohort, cohort.epoch)

    def _idle_close(self, cohort: Cohort, epoch: int) -> None:
        if epoch != cohort.epoch or not cohort.connected or cohort.sub_at:
            return
        now = self.engine.now
        cohort.connected = False
        cohort.idle_closed = True
        self.connections -= cohort.n
        self._connected_by_arch[cohort.arch.name] -= cohort.n
        self._room()
        cohort.conn_intervals.append((cohort.conn_since, now))
        cohort.epoch += 1
        self.metrics[cohort.arch.name].sockets_closed_idle += cohort.n
        self.engine.record("idle-close", cohort.id, cohort.n)

    def _rejoin_closed(self, cohort: Cohort, topic: str, epoch: int) -> None:
        if epoch != cohort.epoch or not cohort.connected or topic not in cohort.closed:
            return
        cohort.closed -= {topic}
        self._join(cohort, [topic])

    # ----------------------------------------------------------------- subscriptions
    def _join(self, cohort: Cohort, topics: list[str]) -> None:
        """Send the joins; while the project's joins counter is over the plan's joins per second the server
        rejects them (TooManyJoins) and the channels retry on Phoenix's rejoin timer; from Realtime 2026-02
        the socket is disconnected too. The counter's verdict moves only at ticks: a group is judged whole."""
        now = self.engine.now
        metrics = self.metrics[cohort.arch.name]
        self.joins.start(now)
        if not self.events.unlimited:
            self.events.start(now)  # each channel's join starts the project's events counter
        over = self.joins.over(now)
        rtt = self.scenario.network.join_rtt_ms
        twice = cohort.joined_during_drop if self.rtjs.joins_during_drop_sent_twice else _NONE
        rejected: list[str] = []
        for topic in topics:
            joins = cohort.n * (2 if topic in twice else 1)
            if topic in twice:
                metrics.violations["joins_sent_twice"] += cohort.n
            if over:
                metrics.violations["channel_joins_rejected"] += cohort.n
                rejected.append(topic)
                cohort.join_wait_from.setdefault(topic, now)
                continue
            self.joins.add(now, joins)
            start = now + rtt
            waited = start - cohort.join_wait_from.pop(topic, now)
            metrics.violations["max_join_queue_ms"] = max(metrics.violations["max_join_queue_ms"], waited)
            cohort.sub_at[topic] = start
            receipts = cohort.received.get(topic)
            if receipts is None:
                receipts = cohort.received[topic] = Receipts(self.topic_ids.setdefault(topic, []))
            self.topic_subs.setdefault(topic, {})[cohort.id] = (cohort, start, receipts)
        if cohort.joined_during_drop:
            cohort.joined_during_drop -= set(topics)
        if not rejected:
            cohort.join_tries = 0
            self._resubscribed(cohort)
            return
        if self.rules.rule("joins").over_limit == "reject_and_disconnect":
            # The channel sends the transport a "disconnect": the socket closes and realtime-js reconnects.
            metrics.violations["sockets_closed_over_join_rate"] += cohort.n
            self._disconnect(cohort, 0.0)
            return
        cohort.pending_joins |= set(rejected)
        cohort.join_tries += 1
        delay = _delay(self.behaviour.rejoin_backoff, cohort.join_tries, cohort)
        if delay is not None:
            self.engine.at(now + delay, self._rejoin_rejected, cohort, rejected, cohort.epoch)

    def _rejoin_rejected(self, cohort: Cohort, topics: list[str], epoch: int) -> None:
        if epoch != cohort.epoch or not cohort.connected:
            return
        again = [t for t in topics if t in cohort.pending_joins and t not in cohort.closed]
        if cohort.pending_joins:
            cohort.pending_joins -= set(topics)
        if again:
            self._join(cohort, again)

    def _unsubscribe(self, cohort: Cohort, topic: str, now: float) -> None:
        start = cohort.sub_at.pop(topic, None)
        subs = self.topic_subs.get(topic)
        if subs is not None:
            subs.pop(cohort.id, None)
        if start is not None and start < now:
            cohort.sub_intervals.setdefault(topic, []).append((start, now))

    # ----------------------------------------------------------------- connections
    def _arrive(self, cohort: Cohort) -> None:
        self.engine.record("arrive", cohort.id, cohort.n)
        self._attempt(cohort, cohort.epoch)

    def _attempt(self, cohort: Cohort, epoch: int) -> None:
        if epoch != cohort.epoch or cohort.connected:
            return
        now = self.engine.now
        if now < cohort.partitioned_until:
            # Inside a partition the connection attempt neither opens nor fails: it completes when the
            # partition ends (realtime-js on @supabase/phoenix: the socket stays CONNECTING).
            self.engine.at(cohort.partitioned_until, self._attempt, cohort, epoch)
            return
        metrics = self.metrics[cohort.arch.name]
        metrics.connection_attempts += cohort.n
        self.engine.record("attempt", cohort.id, cohort.n)
        if now < cohort.offline_until:
            # The client's own network is down: only the browser sees this failure.
            metrics.connection_failures += cohort.n
            cohort.affected = True
            self._retry(cohort)
            return
        metrics.server_attempts += cohort.n
        if now < self.server_down_until:
            metrics.connection_failures += cohort.n
            metrics.server_failures += cohort.n
            cohort.affected = cohort.episode_failed = True
            self._retry(cohort)
            return
        free = self.plan.connections - self.connections
        if free < cohort.n:
            refused = cohort if free < 1 else self._split(cohort, cohort.n - int(free))
            metrics.connection_failures += refused.n
            metrics.server_failures += refused.n
            metrics.violations["connections_refused"] += refused.n
            refused.affected = refused.episode_failed = True
            self._retry(refused, park=True)
            if refused is cohort:
                return
        self._connect(cohort)

    def _retry(self, cohort: Cohort, wait_ms: float = 0.0, *, park: bool = False) -> None:
        """Schedule the next attempt on the socket backoff; ``park``: the group was refused at the full cap."""
        parts = [cohort]
        if self._jittered and not cohort.jitter_split and cohort.n > 1:
            groups = min(self.scenario.populations[cohort.role].jitter_groups, cohort.n)
            size = cohort.n // groups
            for _ in range(groups - 1):
                parts.append(self._split(cohort, size))
            for part in parts:
                part.jitter_split = True
        now = self.engine.now
        for part in parts:
            if park:
                # Until a connection closes the cap stays full and every attempt is refused: the group
                # waits, and the attempts it makes meanwhile are counted when it wakes (_room), not run.
                part.waiting_at = now
                self._waiting.append(part)
                continue
            part.attempt += 1
            delay = _delay(self.behaviour.socket_backoff, part.attempt, part)
            if delay is None:
                part.gave_up = True
                self.metrics[part.arch.name].gave_up += part.n
                continue
            self.engine.at(now + wait_ms + delay, self._attempt, part, part.epoch)

    def _room(self) -> None:
        """A connection closed: the waiting groups resume at their next attempt from now on."""
        if not self._waiting:
            return
        now = self.engine.now
        waiting, self._waiting = self._waiting, []
        for cohort in waiting:
            resume = self._catch_up(cohort, now)
            if resume is not None:
                self.engine.at(resume, self._attempt, cohort, cohort.epoch)

    def _catch_up(self, cohort: Cohort, until: float) -> float | None:
        """Count the attempts a waiting group made before ``until`` (each refused: the cap was full) and
        return when its next one falls (None: its backoff gave up). A constant tail of the backoff is
        counted in one step, so a group that waits an hour costs what one retry costs."""
        policy = self.behaviour.socket_backoff
        at = cohort.waiting_at
        cohort.waiting_at = -1.0
        attempt = cohort.attempt
        refused = 0
        resume: float | None = None
        while True:
            steady = _steady_delay(policy, attempt + 1)
            if steady is not None:
                k = max(0, math.ceil((until - at) / steady) - 1)  # attempts strictly before until
                refused += k
                attempt += k + 1
                resume = at + (k + 1) * steady
                break
            delay = _delay(policy, attempt + 1, cohort)
            attempt += 1
            if delay is None:
                cohort.gave_up = True
                self.metrics[cohort.arch.name].gave_up += cohort.n
                break
            at += delay
            if at >= until:
                resume = at
                break
            refused += 1
        cohort.attempt = attempt
        if refused:
            metrics = self.metrics[cohort.arch.name]
            n = refused * cohort.n
            metrics.connection_attempts += n
            metrics.server_attempts += n
            metrics.connection_failures += n
            metrics.server_failures += n
            metrics.violations["connections_refused"] += n
        self.engine.record("refused-while-full", cohort.id, cohort.n, refused)
        return resume

    def _connect(self, cohort: Cohort) -> None:
        now = self.engine.now
        cohort.connected = True
        cohort.conn_since = now
        cohort.attempt = 0
        self.connections += cohort.n
        self._connected_by_arch[cohort.arch.name] += cohort.n
        metrics = self.metrics[cohort.arch.name]
        if cohort.had_gap and self.behaviour.refetches_after_gap:
            queries = self.scenario.populations[cohort.role].refetch_queries
            metrics.db("refetch_queries", cohort.n * queries, self.costs.client_query_ms)
            cohort.refetch_times.append(now)
        first = not cohort.conn_intervals
        cohort.had_gap = False
        if first or self.behaviour.rejoins_after_error:
            self._join_all(cohort)
        self._episode_done(cohort, metrics, now, first)

    def _episode_done(self, cohort: Cohort, metrics: ArchMetrics, now: float, first: bool) -> None:
        """One (re)connection ends: count it, and time reconnection and resubscription after a drop."""
        metrics.episodes += cohort.n
        if cohort.episode_failed:
            metrics.failed_episodes += cohort.n
        cohort.episode_failed = False
        if first or cohort.down_since < 0:
            return
        key = round(now - cohort.down_since, -1)
        metrics.reconnect_ms[key] = metrics.reconnect_ms.get(key, 0) + cohort.n
        cohort.resub_from = cohort.down_since
        cohort.down_since = -1.0
        self._resubscribed(cohort)

    def _resubscribed(self, cohort: Cohort) -> None:
        """Time the resubscription once every channel the page still holds has joined again."""
        if cohort.resub_from < 0 or cohort.pending_joins or not cohort.connected:
            return
        held = [t for t in cohort.topics if t not in cohort.closed]
        if not all(t in cohort.sub_at for t in held):
            return
        done = max((cohort.sub_at[t] for t in held), default=self.engine.now)
        metrics = self.metrics[cohort.arch.name]
        key = round(done - cohort.resub_from, -1)
        metrics.resubscribe_ms[key] = metrics.resubscribe_ms.get(key, 0) + cohort.n
        cohort.resub_from = -1.0

    def _join_all(self, cohort: Cohort) -> None:
        busy = cohort.sub_at.keys() | cohort.pending_joins
        wanted = [t for t in cohort.topics if t not in cohort.closed and t not in busy]
        limit = self.plan.channels_per_connection
        already = len(cohort.sub_at)
        room = int(max(0.0, limit - already)) if not math.isinf(limit) else len(wanted)
        if len(wanted) > room:
            self.metrics[cohort.arch.name].violations["channels_refused_over_per_connection_limit"] += cohort.n * (
                len(wanted) - room
            )
            wanted = wanted[:room]
        if wanted:
            self._join(cohort, wanted)

    def _disconnect(self, cohort: Cohort, offline_until: float, wait_ms: float = 0.0) -> None:
        now = self.engine.now
        cohort.offline_until = max(cohort.offline_until, offline_until)
        if not cohort.connected:
            return
        cohort.connected = False
        self.connections -= cohort.n
        self._connected_by_arch[cohort.arch.name] -= cohort.n
        self._room()
        cohort.conn_intervals.append((cohort.conn_since, now))
        for topic in list(cohort.sub_at):
            self._unsubscribe(cohort, topic, now)
        cohort.epoch += 1
        cohort.attempt = 0
        cohort.had_gap = True
        cohort.affected = True
        cohort.pending_joins = _NONE
        cohort.join_wait_from.clear()
        cohort.join_tries = 0
        cohort.down_since = now
        self.engine.record("disconnect", cohort.id, cohort.n)
        if cohort.hidden and self.rtjs.hidden_tabs_wait_until_visible:
            # A background tab does not reconnect; it does as soon as someone looks at it again.
            hidden_for = self.scenario.populations[cohort.role].hidden_for_s
            looked_at = now + wait_ms + cohort.rng.expovariate(1.0) * hidden_for * 1000.0
            self.engine.at(looked_at, self._visible, cohort, cohort.epoch)
            return
        self._retry(cohort, wait_ms)

    def _visible(self, cohort: Cohort, epoch: int) -> None:
        cohort.hidden = False
        self._attempt(cohort, epoch)

    def _split(self, cohort: Cohort, k: int) -> Cohort:
        """Move ``k`` clients of ``cohort`` into a new cohort with the same history and state."""
        child = Cohort(
            len(self.cohorts),
            k,
            arch=cohort.arch,
            role=cohort.role,
            topics=list(cohort.topics),
            arrival_ms=cohort.arrival_ms,
            rng=functools.partial(self.tree.stream, f"cohort/{len(self.cohorts)}"),
            own=cohort.own,
        )
        cohort.n -= k
        for name in Cohort.__slots__:
            if name not in _OWN:
                setattr(child, name, _copied(getattr(cohort, name)))
        for topic, start in child.sub_at.items():
            self.topic_subs[topic][child.id] = (child, start, child.received[topic])
        self.cohorts.append(child)
        self.engine.record("split", cohort.id, child.id, k)
        return child

    # ----------------------------------------------------------------- faults
    def _pick(self, fraction: float) -> list[Cohort]:
        """``fraction`` of every architecture's connected clients, as whole groups where possible.

        Which clients a fault hits is random; taking whole groups in a random order (and splitting
        only the last one) hits the same number of clients without splitting every group.
        """
        picked = []
        rng = self._fault_rng
        for arch in self.architectures:
            pool = [c for c in self.cohorts if c.connected and c.arch is arch]
            want = round(sum(c.n for c in pool) * fraction)
            rng.shuffle(pool)
            for cohort in pool:
                if want <= 0:
                    break
                take = cohort if cohort.n <= want else self._split(cohort, want)
                want -= take.n
                picked.append(take)
        return picked

    def _fault(self, fault: FaultConfig) -> None:
        now = self.engine.now
        until = now + fault.duration_s * 1000.0
        self.engine.record("fault", fault.kind, fault.fraction, fault.duration_s)
        if fault.kind == "restart":
            self.server_down_until = max(self.server_down_until, until)
            for arch in self.architectures:
                arch.on_restart(self, until)
            for cohort in list(self.cohorts):
                self._disconnect(cohort, 0.0)
        elif fault.kind == "disconnect":
            for cohort in self._pick(fault.fraction):
                self._disconnect(cohort, until)
        elif fault.kind == "partition":
            rtt = self.scenario.network.join_rtt_ms
            for cohort in self._pick(fault.fraction):
                cohort.partitioned_until = until
                self._cut_until = max(self._cut_until, until)
                # Noticed only through a heartbeat sent inside the partition, one interval after it.
                dead = self.rtjs.detection_ms(cohort.conn_since, now, until, rtt)
                if dead is not None:
                    self.engine.at(dead, self._heartbeat_timeout, cohort, until, cohort.epoch)

    def _heartbeat_timeout(self, cohort: Cohort, until: float, epoch: int) -> None:
        if epoch != cohort.epoch:
            return
        metrics = self.metrics[cohort.arch.name]
        metrics.heartbeat_timeouts += cohort.n
        # realtime-js schedules the first reconnect once the socket has closed: one round trip of the close
        # handshake when the network is back, its whole close wait when the partition still swallows it.
        # An attempt made while the partition lasts does not fail: its socket opens when the partition ends
        # (_attempt), as the phoenix port, checked against the library under node, has it.
        still_cut = self.engine.now < until
        self._disconnect(cohort, 0.0, self.rtjs.close_wait_ms if still_cut else self.scenario.network.join_rtt_ms)

    # ----------------------------------------------------------------- periodic work
    def _render(self, population: PopulationConfig) -> None:
        for cohort in self.cohorts:
            if cohort.connected and cohort.role == population.name:
                self.metrics[cohort.arch.name].db(
                    "page_render_queries", cohort.n * population.queries_per_render, self.costs.client_query_ms
                )
        self.engine.at(self.engine.now + population.rerender_interval_s * 1000.0, self._render, population)

    def _entities_appear(self, entity: str, items: list[Instance]) -> None:
        # New instances change what the page lists: it re-renders and subscribes to their topics.
        for cohort in list(self.cohorts):
            follows = [f for f in self._follows[cohort.role] if f.entity == entity]
            if not follows:
                continue
            if cohort.arch.family == "broadcast" and not self.behaviour.page_cleans_up:
                # A page effect that re-runs without cleaning up: every live channel gets one more
                # listener, so each later message runs the page's handler (and its query) once more.
                for topic in cohort.topics:
                    cohort.listeners[topic] = cohort.listeners.get(topic, 1) + 1
            population = self.scenario.populations[cohort.role]
            followed = []
            for f in follows:
                chosen = {i.index for i in self._chosen(cohort, population, f.rule, entity)}
                followed += [(f.topic(i.index), f.private) for i in items if i.index in chosen]
            new = [
                t
                for t in cohort.arch.topics(population, followed, self._pc_rows(cohort, population))
                if t not in cohort.topics
            ]
            if not new:
                continue
            cohort.topics.extend(new)
            for topic_name in new:
                cohort.want_from.setdefault(topic_name, self.engine.now)
            if cohort.connected:
                self._join_all(cohort)
            elif cohort.idle_closed:
                # subscribe() on a closed socket opens it again.
                cohort.idle_closed = False
                self._attempt(cohort, cohort.epoch)
            else:
                cohort.joined_during_drop |= set(new)

    def _chosen(self, cohort: Cohort, population: PopulationConfig, n: int, entity: str) -> list[Instance]:
        """The instances of ``entity`` the page of ``cohort`` follows under the population's n-th follow rule."""
        follow = population.follow[n]
        items = self.workload.instances[entity]
        if follow.entities == "all":
            return list(items)
        if follow.entities == "own":
            return [items[cohort.own]] if 0 <= cohort.own < len(items) else []
        if follow.entities == "list":
            return [items[k] for k in follow.ids]
        # Which instances are on screen: by client for clients with an instance of their own, else by group.
        start = (cohort.own if cohort.own >= 0 else cohort.id) % max(1, len(items))
        return [items[(start + k) % len(items)] for k in range(min(follow.sample, len(items)))]

    def _pc_rows(self, cohort: Cohort, population: PopulationConfig) -> dict[str, list[int]]:
        """Per table the population filters under postgres_changes, the instances whose rows the client sees."""
        rows: dict[str, list[int]] = {}
        for table, selection in population.pc_filter.items():
            if selection == "own":
                rows[table] = [cohort.own] if cohort.own >= 0 else []
            elif selection == "followed":
                entity = self._table_entity[table]
                chosen = {
                    i.index
                    for f in self._follows[population.name]
                    if f.entity == entity
                    for i in self._chosen(cohort, population, f.rule, entity)
                }
                rows[table] = sorted(chosen)
        return rows

    def _followed(self, cohort: Cohort, population: PopulationConfig, now: float) -> list[tuple[str, bool]]:
        out: list[tuple[str, bool]] = []
        for follow in self._follows[population.name]:
            if not follow.entity:
                out.append((follow.topic(0), follow.private))
                continue
            chosen = sorted(self._chosen(cohort, population, follow.rule, follow.entity), key=lambda i: i.index)
            out.extend((follow.topic(i.index), follow.private) for i in chosen if i.appear_ms <= now)
        return list(dict.fromkeys(out))

    def _sample(self) -> None:
        now = self.engine.now
        for arch in self.architectures:
            metrics = self.metrics[arch.name]
            lag = arch.lag_ms(self)
            wal = arch.retained_wal_bytes(self)
            metrics.peak_retained_wal_bytes = max(metrics.peak_retained_wal_bytes, wal)
            metrics.peak_lag_ms = max(metrics.peak_lag_ms, lag)
            prev_sent, prev_db = self._last_sample[arch.name]
            interval = self.scenario.scenario.sample_interval_s
            series = metrics.series
            series["time_s"].append(now / 1000.0)
            series["poller_lag_ms"].append(lag)
            series["retained_wal_bytes"].append(wal)
            series["connected_clients"].append(self._connected_by_arch[arch.name])
            series["deliveries_per_s"].append((metrics.messages_sent - prev_sent) / interval)
            series["db_time_ms_per_s"].append((metrics.total_db_time_ms - prev_db) / interval)
            self._last_sample[arch.name] = (metrics.messages_sent, metrics.total_db_time_ms)
        self.engine.at(now + self.scenario.scenario.sample_interval_s * 1000.0, self._sample, priority=9)

    # ----------------------------------------------------------------- setup and run
    def _populate(self) -> None:
        ident = self.tree.stream("identities")
        # (arrival, population, architecture, clients, hidden tabs, own instance, channels when already known)
        groups: list[tuple[float, PopulationConfig, Architecture, int, bool, int, tuple[str, ...] | None]] = []
        index = 0
        for population in self.scenario.populations.values():
            own = any(f.entities == "own" for f in population.follow) or "own" in population.pc_filter.values()
            waves = max(1, population.waves)
            per_wave = [population.count // waves + (1 if w < population.count % waves else 0) for w in range(waves)]
            client = 0
            for w, size in enumerate(per_wave):
                arrival = (population.arrive_s + population.ramp_s * w / waves) * 1000.0
                counts: dict[str, int] = {}
                chosen: list[Architecture] = []
                if len(self.architectures) == 1:
                    # Every client is on the one architecture: nothing to ask per client, but each still draws
                    # its identity, so the stream goes on as it would.
                    only = self.architectures[0]
                    for _ in range(size):
                        ident.getrandbits(128)
                    counts[only.name] = size
                    chosen = [only] * size
                    index += size
                else:
                    for _ in range(size):
                        arch = self.population(_uuid(ident), index)
                        counts[arch.name] = counts.get(arch.name, 0) + 1
                        chosen.append(arch)
                        index += 1
                if own:
                    # Each client follows its own instance: clients whose channels still coincide (every
                    # postgres_changes page of the wave) form one group, the others a group of one each.
                    alike: dict[tuple[str, tuple[str, ...], bool], list[int]] = {}
                    archs: dict[str, Architecture] = {}
                    hidden_count = round(size * population.hidden_share)
                    for k, arch in enumerate(chosen):
                        probe = Cohort(
                            -1, 1, arch=arch, role=population.name, topics=[], arrival_ms=arrival, rng=ident, own=client
                        )
                        topics = tuple(
                            arch.topics(
                                population, self._followed(probe, population, 0.0), self._pc_rows(probe, population)
                            )
                        )
                        alike.setdefault((arch.name, topics, k < hidden_count), []).append(client)
                        archs[arch.name] = arch
                        client += 1
                    for (name, topics, hidden_tabs), members in alike.items():
                        # A group of one joins what its probe would (same client, same instance): not asked twice.
                        one = len(members) == 1
                        groups.append(
                            (
                                arrival,
                                population,
                                archs[name],
                                len(members),
                                hidden_tabs,
                                members[0] if one else -1,
                                topics if one else None,
                            )
                        )
                    continue
                for arch in self.architectures:
                    n = counts.get(arch.name, 0)
                    hidden = round(n * population.hidden_share)
                    if n - hidden:
                        groups.append((arrival, population, arch, n - hidden, False, -1, None))
                    if hidden:
                        groups.append((arrival, population, arch, hidden, True, -1, None))
        for arrival, population, arch, n, hidden, own_index, known in groups:
            cid = len(self.cohorts)
            cohort = Cohort(
                cid,
                n,
                arch=arch,
                role=population.name,
                topics=[],
                arrival_ms=arrival,
                rng=functools.partial(self.tree.stream, f"cohort/{cid}"),
                own=own_index,
            )
            cohort.topics = (
                list(known)
                if known is not None
                else arch.topics(population, self._followed(cohort, population, 0.0), self._pc_rows(cohort, population))
            )
            cohort.want_from = dict.fromkeys(cohort.topics, arrival)
            cohort.hidden = hidden
            # The group's link: the other half of the network's log-variance, median 1 (docs/simulate.md).
            cohort.link = self._links.lognormvariate(0.0, self._net_sigma)
            self.cohorts.append(cohort)
            self.metrics[arch.name].clients += n
            self.engine.at(arrival, self._arrive, cohort, priority=3)

    def run(self, progress: Callable[[float], None] | None = None) -> None:
        # A run keeps nearly all it allocates (messages, receipts, histograms) until it ends: each full
        # collection walks all of it, a tenth of a run's CPU, and frees nothing. Reference counting still
        # frees what is dropped; the run's own cycles wait for the collector after it.
        with collection_paused():
            self._run(progress)
        # What would run after the end holds the simulation's own callbacks, and the poller holds the
        # simulation: let both go, so that dropping the simulation frees it without waiting for a collection.
        self.engine.drop_pending()
        for arch in self.architectures:
            if isinstance(arch, PostgresChanges):
                arch.unbind()

    def _run(self, progress: Callable[[float], None] | None) -> None:
        duration_ms = self.scenario.scenario.duration_s * 1000.0
        self._populate()
        self.wal.start(self.engine.at)
        for arch in self.architectures:
            if isinstance(arch, PostgresChanges):
                arch.bind(self)
            arch.start(self)
        on_write = self._on_write
        self.engine.at_each(((write.time_ms, on_write, (write,)) for write in self.workload.writes), priority=4)
        for fault in self.scenario.faults:
            self.engine.at(fault.at_s * 1000.0, self._fault, fault, priority=2)
        for entity, items in self.workload.instances.items():
            for t in sorted({i.appear_ms for i in items if i.appear_ms > 0.0}):
                self.engine.at(t, self._entities_appear, entity, [i for i in items if i.appear_ms == t], priority=3)
        for population in self.scenario.populations.values():
            if population.queries_per_render:
                self.engine.at(population.rerender_interval_s * 1000.0, self._render, population)
        self.engine.at(self.scenario.scenario.sample_interval_s * 1000.0, self._sample, priority=9)
        self.engine.run(duration_ms, progress)
        self._finish(duration_ms)

    # ----------------------------------------------------------------- results
    def _finish(self, end: float) -> None:
        for cohort in self._waiting:
            self._catch_up(cohort, math.nextafter(end, math.inf))  # the engine runs events at the end too
        self._waiting = []
        for cohort in self.cohorts:
            if not cohort.connected and cohort.episode_failed:
                # Still refused (or the service still down) at the end: a (re)connection that failed.
                metrics = self.metrics[cohort.arch.name]
                metrics.episodes += cohort.n
                metrics.failed_episodes += cohort.n
            if cohort.connected:
                cohort.conn_intervals.append((cohort.conn_since, end))
                for topic in list(cohort.sub_at):
                    start = cohort.sub_at.pop(topic)
                    if start < end:
                        cohort.sub_intervals.setdefault(topic, []).append((start, end))
        bound = self.scenario.scenario.latency_bound_ms
        for arch in self.architectures:
            metrics = self.metrics[arch.name]
            cohorts = [c for c in self.cohorts if c.arch is arch]
            metrics.clients_affected = sum(c.n for c in cohorts if c.affected)
            metrics.never_reconnected = sum(c.n for c in cohorts if c.down_since >= 0 and not c.connected)
            metrics.never_connected = sum(c.n for c in cohorts if not c.conn_intervals)
            metrics.never_resubscribed = sum(c.n for c in cohorts if c.resub_from >= 0)
            # Each group's trace is made as the checker reaches it and dropped after: never all at once.
            traces = (self._trace(c, end) for c in cohorts)
            report = check_traces(self.sent, traces, bound, self.behaviour.allowed_anomalies)
            self._losses(metrics, cohorts, report)
            metrics.checker = {
                "ok": report.ok,
                "allowed": sorted(a.value for a in report.allowed),
                "expected": report.expected,
                "delivered": report.delivered,
                "counts": {a.value: n for a, n in report.counts.items()},
                "examples": [e.describe() for e in report.examples],
            }

    def trace(self, cohort: Cohort, end: float) -> ClientTrace:
        """The delivery history of one client group up to ``end`` (after the run: for per-population checks)."""
        return self._trace(cohort, end)

    def _trace(self, cohort: Cohort, end: float) -> ClientTrace:
        return ClientTrace(
            client=cohort.name,
            connected=tuple(Interval(a, b) for a, b in cohort.conn_intervals),
            subscribed={t: tuple(Interval(a, b) for a, b in v) for t, v in cohort.sub_intervals.items()},
            # A private channel is joined only by pages realtime.messages' policies authorise for it.
            authorized=frozenset(t for t in cohort.topics if t.startswith(PRIVATE)),
            received={t: v for t, v in cohort.received.items() if v},
            weight=cohort.n,
            wanted={t: (Interval(since, end),) for t, since in cohort.want_from.items() if since < end},
            refetched=tuple(cohort.refetch_times),
        )

    @staticmethod
    def _losses(metrics: ArchMetrics, cohorts: list[Cohort], report: DeliveryReport) -> None:
        """The loss table is the delivery checker's count: one truth for what was owed and lost."""
        clients = max(1, metrics.clients)
        lost = report.counts[Anomaly.LOST]
        metrics.updates_owed = report.expected
        metrics.updates_lost = lost
        metrics.updates_lost_while_subscribed = report.lost_while_subscribed
        metrics.updates_recovered = report.recovered
        metrics.lost_per_client_mean = lost / clients
        metrics.lost_per_client_max = max((report.lost_by_client.get(c.name, 0) for c in cohorts), default=0)
        metrics.unrecovered_per_client_mean = (lost - report.recovered) / clients


# Handed to a policy that draws nothing: a group's own stream is made only for a policy with jitter.
_NO_DRAW = random.Random(0)


def _delay(policy: BackoffPolicy, attempt: int, cohort: Cohort) -> float | None:
    """``policy``'s delay before ``attempt``, drawn from the group's stream only when the policy has jitter."""
    return policy.delay_ms(attempt, cohort.rng if policy.jitter != "none" else _NO_DRAW)


def _steady_delay(policy: BackoffPolicy, attempt: int) -> float | None:
    """The delay of every attempt from ``attempt`` on, when they are all the same and drawn from nothing."""
    if policy.max_attempts is not None:
        return None
    if isinstance(policy, TableBackoff):
        return policy.then_ms if attempt > len(policy.delays_ms) and policy.then_ms > 0.0 else None
    ceiling = policy.base_ms * policy.factor ** min(attempt - 1, 64)
    if policy.jitter == "none" and policy.factor >= 1.0 and ceiling >= policy.cap_ms > 0.0:
        return policy.cap_ms
    return None


def _uuid(rng: random.Random) -> str:
    value = f"{rng.getrandbits(128):032x}"
    return f"{value[:8]}-{value[8:12]}-4{value[13:16]}-a{value[17:20]}-{value[20:32]}"
