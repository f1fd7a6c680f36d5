"""One simulated event: clients grouped into cohorts, the Realtime server's limits, faults.

Clients that behave identically (same architecture, role, topics and history) form a
:class:`Cohort` and every delivery, join or reconnect is handled once per cohort with the cohort's
size as its weight, so the cost grows with messages × cohorts, not with messages × clients. A
cohort splits only when its members start to differ (a fault hits some of them, the connection
limit admits some, jittered backoff sends them apart).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from bcastsim._plans import PlanLimits
from bcastsim.check.history import ClientTrace, DeliveryHistory, Interval, Sent, check_delivery
from bcastsim.sim._architectures import ADMIN_ONLY_REACTIONS, Architecture, PostgresChanges
from bcastsim.sim._costs import CostModel
from bcastsim.sim._engine import Engine
from bcastsim.sim._metrics import ArchMetrics
from bcastsim.sim._payloads import ShapeSet
from bcastsim.sim._profiles import ClientBehaviour
from bcastsim.sim._rng import RandomTree
from bcastsim.sim._scenario import FaultConfig, Scenario
from bcastsim.sim._workload import Artwork, Workload

__all__ = ["Cohort", "Simulation"]

# realtime-js notices a dead socket when a heartbeat (every 25 s) goes unanswered until the next one.
_PARTITION_DETECT_MS = 25_000.0 * 1.5


class Cohort:
    """Identical clients, handled together; ``n`` is how many real clients it stands for."""

    __slots__ = (
        "arch",
        "arrival_ms",
        "attempt",
        "close_attempts",
        "closed",
        "conn_intervals",
        "conn_since",
        "connected",
        "epoch",
        "gave_up",
        "had_gap",
        "id",
        "jitter_split",
        "last_arrival",
        "link",
        "listeners",
        "n",
        "offline_until",
        "partitioned_until",
        "received",
        "refetch_times",
        "rng",
        "role",
        "sub_at",
        "sub_intervals",
        "topics",
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
        rng: random.Random,
    ) -> None:
        self.id = cid
        self.n = n
        self.arch = arch
        self.role = role
        self.topics = topics
        self.arrival_ms = arrival_ms
        self.rng = rng
        self.link = 1.0
        self.last_arrival = 0.0
        self.listeners: dict[str, int] = {}  # topic -> page callbacks per client, when more than one
        self.connected = False
        self.conn_since = 0.0
        self.conn_intervals: list[tuple[float, float]] = []
        self.sub_at: dict[str, float] = {}
        self.sub_intervals: dict[str, list[tuple[float, float]]] = {}
        self.received: dict[str, list[tuple[int, float]]] = {}
        self.closed: set[str] = set()
        self.close_attempts: dict[str, int] = {}
        self.epoch = 0
        self.attempt = 0
        self.gave_up = False
        self.had_gap = False
        self.jitter_split = False
        self.offline_until = 0.0
        self.partitioned_until = -1.0
        self.refetch_times: list[float] = []

    @property
    def name(self) -> str:
        return f"{self.arch.name}/{self.role}/g{self.id:04d}"


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
        shapes: ShapeSet,
        behaviour: ClientBehaviour,
        workload: Workload,
        seed: int,
    ) -> None:
        self.scenario = scenario
        self.architectures = architectures
        self.population = population
        self.plan = plan
        self.costs = costs
        self.shapes = shapes
        self.behaviour = behaviour
        self.workload = workload
        self.tree = RandomTree(seed).child("sim")
        self.engine = Engine()
        self.metrics = {a.name: ArchMetrics(a.name) for a in architectures}
        for arch in architectures:
            arch.configure(scenario)
        self.cohorts: list[Cohort] = []
        self.topic_subs: dict[str, dict[int, Cohort]] = {}
        self.sent: list[Sent] = []
        self.topic_sent: dict[str, list[tuple[float, int]]] = {}
        self.connections = 0
        self.server_down_until = 0.0
        self.join_clock = 0.0
        self.rate_window = -1
        self.rate_used = 0
        self._wal_writes = 0.0
        self._net = self.tree.stream("network")
        self._net_mu = math.log(max(scenario.network.median_ms, 1e-3))
        # Half of the log-variance is per message (shared path), half per client group (its link).
        self._net_sigma = scenario.network.sigma / math.sqrt(2.0)
        self._links = self.tree.stream("links")
        self._fault_rng = self.tree.stream("faults")
        self._visible_cache: dict[int, list[Artwork]] = {}
        self._last_sample = {a.name: (0, 0.0) for a in architectures}

    # ----------------------------------------------------------------- database side
    def wal_total(self) -> float:
        return self.scenario.database.background_wal_bytes_per_s * self.engine.now / 1000.0 + self._wal_writes

    def add_wal(self, nbytes: float) -> None:
        self._wal_writes += nbytes

    def publish(self, arch: Architecture, topic: str, time_ms: float, *, private: bool) -> int:
        msg_id = len(self.sent) + 1
        self.sent.append(Sent(msg_id, topic, time_ms, private))
        self.topic_sent.setdefault(topic, []).append((time_ms, msg_id))
        self.metrics[arch.name].messages_published += 1
        return msg_id

    def _on_write(self, index: int) -> None:
        write = self.workload.writes[index]
        self.engine.record("write", write.seq, write.kind, write.art)
        self._wal_writes += self.costs.wal_bytes_per_write
        first = self.architectures[0].name
        self.metrics[first].db("business_writes", 1, self.costs.insert_row_ms)
        for arch in self.architectures:
            arch.on_write(self, write)

    # ----------------------------------------------------------------- fan-out
    def subscribed_count(self, topic: str, now: float) -> int:
        subs = self.topic_subs.get(topic)
        if not subs:
            return 0
        return sum(c.n for c in subs.values() if c.sub_at.get(topic, math.inf) <= now)

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
        limit = self.plan.messages_per_second
        window = int(now // 1000.0)
        if window != self.rate_window:
            self.rate_window = window
            self.rate_used = 0
        # One draw per message for the shared path, times each group's own link factor.
        shared = self._net.lognormvariate(self._net_mu, self._net_sigma)
        histogram = metrics.latency.get(kind)
        if histogram is None:
            histogram = metrics.latency[kind] = {}
        delivered = 0
        reacting = 0
        admin_only = kind in ADMIN_ONLY_REACTIONS
        for cohort in list(subs.values()):
            if cohort.sub_at.get(topic, math.inf) > now:
                continue  # the join has not completed yet
            n = cohort.n
            if self.rate_used + n > limit:
                metrics.violations["deliveries_dropped_over_message_rate"] += n
                self._close_channel(cohort, topic)
                continue
            self.rate_used += n
            if cohort.partitioned_until > now:
                metrics.lost_in_partition += n
                continue
            # One WebSocket per client: frames arrive in the order they were sent.
            arrival = max(now + shared * cohort.link, cohort.last_arrival)
            cohort.last_arrival = arrival
            cohort.received[topic].append((msg_id, arrival))
            key = round(arrival - commit_ms, 1)
            histogram[key] = histogram.get(key, 0) + n
            delivered += n
            if not admin_only or cohort.role == "admin":
                reacting += n * cohort.listeners.get(topic, 1)
        if delivered:
            metrics.messages_sent += delivered
            metrics.bytes_sent += delivered * wire_bytes
            metrics.deliveries_by_kind[kind] = metrics.deliveries_by_kind.get(kind, 0) + delivered
        reaction = self.scenario.reactions.get(kind, 0.0)
        if reacting and reaction:
            metrics.db("client_reaction_queries", reacting * reaction, self.costs.client_query_ms)
        self.engine.record("fanout", msg_id, delivered)

    def _close_channel(self, cohort: Cohort, topic: str) -> None:
        now = self.engine.now
        self._unsubscribe(cohort, topic, now)
        cohort.closed.add(topic)
        self.metrics[cohort.arch.name].violations["channels_closed_over_message_rate"] += cohort.n
        if self.behaviour.rejoins_after_close:
            attempt = cohort.close_attempts.get(topic, 0) + 1
            cohort.close_attempts[topic] = attempt
            delay = self.behaviour.close_backoff.delay_ms(attempt, cohort.rng)
            if delay is not None:
                self.engine.at(now + delay, self._rejoin_closed, cohort, topic, cohort.epoch)

    def _rejoin_closed(self, cohort: Cohort, topic: str, epoch: int) -> None:
        if epoch != cohort.epoch or not cohort.connected or topic not in cohort.closed:
            return
        cohort.closed.discard(topic)
        self._join(cohort, [topic])

    # ----------------------------------------------------------------- subscriptions
    def _join(self, cohort: Cohort, topics: list[str]) -> None:
        now = self.engine.now
        metrics = self.metrics[cohort.arch.name]
        rate = self.plan.channel_joins_per_second
        clock = max(self.join_clock, now)
        rtt = self.scenario.network.join_rtt_ms
        for topic in topics:
            clock += 1000.0 * cohort.n / rate
            if clock - now > 1000.0:
                metrics.violations["channel_joins_queued"] += cohort.n
            start = clock + rtt
            cohort.sub_at[topic] = start
            cohort.received.setdefault(topic, [])
            self.topic_subs.setdefault(topic, {})[cohort.id] = cohort
        self.join_clock = clock
        metrics.violations["max_join_queue_ms"] = max(metrics.violations["max_join_queue_ms"], clock - now)

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
        metrics = self.metrics[cohort.arch.name]
        metrics.connection_attempts += cohort.n
        self.engine.record("attempt", cohort.id, cohort.n)
        if now < cohort.offline_until:
            # The client's own network is down: only the browser sees this failure.
            metrics.connection_failures += cohort.n
            self._retry(cohort)
            return
        metrics.server_attempts += cohort.n
        if now < self.server_down_until:
            metrics.connection_failures += cohort.n
            metrics.server_failures += cohort.n
            self._retry(cohort)
            return
        free = self.plan.connections - self.connections
        if free < cohort.n:
            refused = cohort if free < 1 else self._split(cohort, cohort.n - int(free))
            metrics.connection_failures += refused.n
            metrics.server_failures += refused.n
            metrics.violations["connections_refused"] += refused.n
            self._retry(refused)
            if refused is cohort:
                return
        self._connect(cohort)

    def _retry(self, cohort: Cohort) -> None:
        parts = [cohort]
        if self.behaviour.jittered and not cohort.jitter_split and cohort.n > 1:
            groups = min(self.scenario.clients.jitter_groups, cohort.n)
            size = cohort.n // groups
            for _ in range(groups - 1):
                parts.append(self._split(cohort, size))
            for part in parts:
                part.jitter_split = True
        now = self.engine.now
        for part in parts:
            part.attempt += 1
            delay = self.behaviour.socket_backoff.delay_ms(part.attempt, part.rng)
            if delay is None:
                part.gave_up = True
                self.metrics[part.arch.name].gave_up += part.n
                continue
            self.engine.at(now + delay, self._attempt, part, part.epoch)

    def _connect(self, cohort: Cohort) -> None:
        now = self.engine.now
        cohort.connected = True
        cohort.conn_since = now
        cohort.attempt = 0
        self.connections += cohort.n
        metrics = self.metrics[cohort.arch.name]
        if cohort.had_gap and self.behaviour.refetches_after_gap:
            metrics.db("refetch_queries", cohort.n * self.scenario.clients.refetch_queries, self.costs.client_query_ms)
            cohort.refetch_times.append(now)
        first = not cohort.conn_intervals
        cohort.had_gap = False
        if first or self.behaviour.rejoins_after_error:
            self._join_all(cohort)

    def _join_all(self, cohort: Cohort) -> None:
        wanted = [t for t in cohort.topics if t not in cohort.closed and t not in cohort.sub_at]
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

    def _disconnect(self, cohort: Cohort, offline_until: float) -> None:
        now = self.engine.now
        cohort.offline_until = max(cohort.offline_until, offline_until)
        if not cohort.connected:
            return
        cohort.connected = False
        self.connections -= cohort.n
        cohort.conn_intervals.append((cohort.conn_since, now))
        for topic in list(cohort.sub_at):
            self._unsubscribe(cohort, topic, now)
        cohort.epoch += 1
        cohort.attempt = 0
        cohort.had_gap = True
        self.engine.record("disconnect", cohort.id, cohort.n)
        self._retry(cohort)

    def _split(self, cohort: Cohort, k: int) -> Cohort:
        """Move ``k`` clients of ``cohort`` into a new cohort with the same history and state."""
        child = Cohort(
            len(self.cohorts),
            k,
            arch=cohort.arch,
            role=cohort.role,
            topics=list(cohort.topics),
            arrival_ms=cohort.arrival_ms,
            rng=self.tree.stream(f"cohort/{len(self.cohorts)}"),
        )
        cohort.n -= k
        child.link = cohort.link
        child.last_arrival = cohort.last_arrival
        child.listeners = dict(cohort.listeners)
        child.connected = cohort.connected
        child.conn_since = cohort.conn_since
        child.conn_intervals = list(cohort.conn_intervals)
        child.sub_at = dict(cohort.sub_at)
        child.sub_intervals = {t: list(v) for t, v in cohort.sub_intervals.items()}
        child.received = {t: list(v) for t, v in cohort.received.items()}
        child.closed = set(cohort.closed)
        child.close_attempts = dict(cohort.close_attempts)
        child.attempt = cohort.attempt
        child.gave_up = cohort.gave_up
        child.had_gap = cohort.had_gap
        child.jitter_split = cohort.jitter_split
        child.offline_until = cohort.offline_until
        child.partitioned_until = cohort.partitioned_until
        child.refetch_times = list(cohort.refetch_times)
        for topic in child.sub_at:
            self.topic_subs[topic][child.id] = child
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
            self.join_clock = max(self.join_clock, until)
            for arch in self.architectures:
                arch.on_restart(self, until)
            for cohort in list(self.cohorts):
                self._disconnect(cohort, 0.0)
        elif fault.kind == "disconnect":
            for cohort in self._pick(fault.fraction):
                self._disconnect(cohort, until)
        elif fault.kind == "partition":
            for cohort in self._pick(fault.fraction):
                cohort.partitioned_until = until
                if fault.duration_s * 1000.0 > _PARTITION_DETECT_MS:
                    self.engine.at(now + _PARTITION_DETECT_MS, self._disconnect, cohort, until)

    # ----------------------------------------------------------------- periodic work
    def _render(self) -> None:
        cfg = self.scenario.clients
        for cohort in self.cohorts:
            if cohort.connected:
                self.metrics[cohort.arch.name].db(
                    "page_render_queries", cohort.n * cfg.queries_per_render, self.costs.client_query_ms
                )
        self.engine.at(self.engine.now + cfg.rerender_interval_s * 1000.0, self._render)

    def _artworks_appear(self, arts: list[Artwork]) -> None:
        # New canvases change artworks.length: the page re-renders and subscribes to the new topics.
        event_id = self.workload.event_id
        for cohort in list(self.cohorts):
            if cohort.arch.family == "broadcast" and not self.behaviour.page_cleans_up:
                # The seed's effect re-runs without cleaning up: every live channel gets one more
                # listener, so each later message runs the page's handler (and its query) once more.
                for topic in cohort.topics:
                    cohort.listeners[topic] = cohort.listeners.get(topic, 1) + 1
            visible = [a for a in arts if self._sees(cohort, a)]
            new = [t for t in cohort.arch.topics(cohort.role, visible, event_id) if t not in cohort.topics]
            if not new:
                continue
            cohort.topics.extend(new)
            if cohort.connected:
                self._join_all(cohort)

    def _sees(self, cohort: Cohort, art: Artwork) -> bool:
        cfg = self.scenario.clients
        if cfg.subscribe == "all_artworks" or cohort.role == "admin":
            return True
        start = cohort.id % max(1, len(self.workload.artworks))
        count = len(self.workload.artworks)
        return (art.index - start) % count < cfg.viewing_artworks

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
            series["connected_clients"].append(sum(c.n for c in self.cohorts if c.connected and c.arch is arch))
            series["deliveries_per_s"].append((metrics.messages_sent - prev_sent) / interval)
            series["db_time_ms_per_s"].append((metrics.total_db_time_ms - prev_db) / interval)
            self._last_sample[arch.name] = (metrics.messages_sent, metrics.total_db_time_ms)
        self.engine.at(now + self.scenario.scenario.sample_interval_s * 1000.0, self._sample, priority=9)

    # ----------------------------------------------------------------- setup and run
    def _populate(self) -> None:
        cfg = self.scenario.clients
        ident = self.tree.stream("identities")
        event_id = self.workload.event_id
        initial = [a for a in self.workload.artworks if a.created_ms <= 0.0]
        waves = max(1, cfg.arrival_waves)
        groups: list[tuple[float, str, Architecture, int]] = []
        admin_counts: dict[str, int] = {}
        for i in range(cfg.admins):
            arch = self.population(f"admin-{_uuid(ident)}", i)
            admin_counts[arch.name] = admin_counts.get(arch.name, 0) + 1
        for arch in self.architectures:
            if admin_counts.get(arch.name):
                groups.append((0.0, "admin", arch, admin_counts[arch.name]))
        per_wave = [cfg.audience // waves + (1 if w < cfg.audience % waves else 0) for w in range(waves)]
        index = 0
        for w, size in enumerate(per_wave):
            arrival = cfg.arrival_ramp_s * 1000.0 * w / waves
            counts: dict[str, int] = {}
            for _ in range(size):
                arch = self.population(_uuid(ident), index)
                counts[arch.name] = counts.get(arch.name, 0) + 1
                index += 1
            for arch in self.architectures:
                if counts.get(arch.name):
                    groups.append((arrival, "audience", arch, counts[arch.name]))
        for arrival, role, arch, n in groups:
            cid = len(self.cohorts)
            cohort = Cohort(
                cid, n, arch=arch, role=role, topics=[], arrival_ms=arrival, rng=self.tree.stream(f"cohort/{cid}")
            )
            visible = [a for a in initial if self._sees(cohort, a)]
            cohort.topics = arch.topics(role, visible, event_id)
            self.cohorts.append(cohort)
            self.metrics[arch.name].clients += n
            self.engine.at(arrival, self._arrive, cohort, priority=3)

    def run(self, progress: Callable[[float], None] | None = None) -> None:
        duration_ms = self.scenario.scenario.duration_s * 1000.0
        self._populate()
        for arch in self.architectures:
            if isinstance(arch, PostgresChanges):
                arch.bind(self)
            arch.start(self)
        for i, write in enumerate(self.workload.writes):
            self.engine.at(write.time_ms, self._on_write, i, priority=4)
        for fault in self.scenario.faults:
            self.engine.at(fault.at_s * 1000.0, self._fault, fault, priority=2)
        late = sorted({a.created_ms for a in self.workload.artworks if a.created_ms > 0.0})
        for t in late:
            arts = [a for a in self.workload.artworks if a.created_ms == t]
            self.engine.at(t, self._artworks_appear, arts, priority=3)
        self.engine.at(self.scenario.clients.rerender_interval_s * 1000.0, self._render)
        self.engine.at(self.scenario.scenario.sample_interval_s * 1000.0, self._sample, priority=9)
        self.engine.run(duration_ms, progress)
        self._finish(duration_ms)

    # ----------------------------------------------------------------- results
    def _finish(self, end: float) -> None:
        for cohort in self.cohorts:
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
            self._losses(metrics, cohorts, end - bound)
            history = DeliveryHistory(
                sent=tuple(self.sent),
                clients=tuple(self._trace(c) for c in cohorts),
                latency_bound_ms=bound,
            )
            report = check_delivery(history, self.behaviour.allowed_anomalies)
            metrics.checker = {
                "ok": report.ok,
                "allowed": sorted(a.value for a in report.allowed),
                "expected": report.expected,
                "delivered": report.delivered,
                "counts": {a.value: n for a, n in report.counts.items()},
                "examples": [e.describe() for e in report.examples],
            }

    def _trace(self, cohort: Cohort) -> ClientTrace:
        return ClientTrace(
            client=cohort.name,
            connected=tuple(Interval(a, b) for a, b in cohort.conn_intervals),
            subscribed={t: tuple(Interval(a, b) for a, b in v) for t, v in cohort.sub_intervals.items()},
            authorized=frozenset(),
            received={t: tuple(v) for t, v in cohort.received.items() if v},
            weight=cohort.n,
        )

    def _losses(self, metrics: ArchMetrics, cohorts: list[Cohort], horizon: float) -> None:
        """Updates a client wanted (sent on its topics after it first subscribed) and never got."""
        owed_total = lost_total = unrecovered_total = 0
        worst = 0
        for cohort in cohorts:
            lost_here = 0
            for topic in cohort.topics:
                intervals = cohort.sub_intervals.get(topic)
                if not intervals:
                    continue
                first = intervals[0][0]
                got = {m for m, _t in cohort.received.get(topic, ())}
                last_refetch = cohort.refetch_times[-1] if cohort.refetch_times else -1.0
                for sent_ms, msg_id in self.topic_sent.get(topic, ()):
                    if sent_ms < first or sent_ms >= horizon:
                        continue
                    owed_total += cohort.n
                    if msg_id not in got:
                        lost_here += 1
                        if sent_ms > last_refetch:
                            unrecovered_total += cohort.n
            lost_total += lost_here * cohort.n
            worst = max(worst, lost_here)
        clients = max(1, metrics.clients)
        metrics.updates_owed = owed_total
        metrics.updates_lost = lost_total
        metrics.lost_per_client_mean = lost_total / clients
        metrics.lost_per_client_max = worst
        metrics.unrecovered_per_client_mean = unrecovered_total / clients


def _uuid(rng: random.Random) -> str:
    value = f"{rng.getrandbits(128):032x}"
    return f"{value[:8]}-{value[8:12]}-4{value[13:16]}-a{value[17:20]}-{value[20:32]}"
