"""Architectures as strategy objects: what a client subscribes to and what a write costs and sends.

``PostgresChanges`` models the wal2json poller of FACTS.md; ``Broadcast`` models the app's
triggers over a Realtime transport (``realtime.send``, ``pg_notify``, ``broadcast_changes``);
``ListenNotify`` models plain LISTEN/NOTIFY with the app's own server fanning out. Add an
architecture by subclassing :class:`Architecture` and registering it in :data:`_REGISTRY`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import attrs

from bcastsim.sim._workload import Write

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from bcastsim.sim._app import AppModel, MessageSpec
    from bcastsim.sim._metrics import ArchMetrics
    from bcastsim.sim._profiles import ClientBehaviour
    from bcastsim.sim._scenario import PopulationConfig, Scenario
    from bcastsim.sim._sim import Simulation
    from bcastsim.sim._wal import Slot

__all__ = ["ARCHITECTURES", "Architecture", "Broadcast", "ListenNotify", "PostgresChanges", "make_architecture"]

# A private channel is another channel than the public one of the same name: only private joins get its messages.
PRIVATE = "private:"
# A broadcast replication connection confirms what it streamed only when the walsender asks for a reply in a
# keepalive (replication_connection.ex, handle_data for a keepalive with reply :now), which PostgreSQL does once
# half of wal_sender_timeout (default 60 s) has passed without one (WalSndKeepaliveIfNecessary, walsender.c).
STATUS_INTERVAL_MS = 30_000.0


class Architecture:
    """One way of getting database changes to browsers."""

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    label: ClassVar[str] = ""

    # True when the run's limits are the app's own server's, not a Supabase plan's.
    own_server: ClassVar[bool] = False
    # True when lag_ms can be above 0 (a reader behind the commits): only then are the writes behind a lag read.
    lags: ClassVar[bool] = False

    def topics(
        self, population: PopulationConfig, followed: list[tuple[str, bool]], rows: Mapping[str, list[int]]
    ) -> list[str]:
        """The channels a client of ``population`` joins, given the topics its page follows (and which are private)
        and, per table it filters under postgres_changes, the entity instances whose rows it sees."""
        return [topic for topic, _private in followed]

    def page_applies(self, behaviour: ClientBehaviour) -> bool:
        """True when the page's callbacks can read what this architecture delivers."""
        return True

    def configure(self, scenario: Scenario, app: AppModel) -> None:
        """Called once with the scenario and its app, before any client exists."""

    def start(self, sim: Simulation) -> None:
        """Called once before the clock starts, after the population is known."""

    def on_write(self, sim: Simulation, write: Write, insert_ms: float | None = None) -> None:
        """``write`` commits now. ``insert_ms``: the cost of the write's own statement, charged to this
        architecture before what its triggers run (None: another's to charge)."""
        raise NotImplementedError

    def on_restart(self, sim: Simulation, down_until_ms: float) -> None:
        """The Realtime server restarts: every socket drops (the simulation handles clients)."""

    def lag_ms(self, sim: Simulation) -> float:
        return 0.0

    def retained_wal_bytes(self, sim: Simulation) -> float:
        return 0.0


@attrs.define(kw_only=True)
class _Change:
    commit_ms: float
    table: str
    kind: str
    sends: tuple[tuple[int, str], ...]  # (message, topic): the table's topic and/or the row's instance topic
    wal_cum: float
    wire_bytes: int
    write: Write


class PostgresChanges(Architecture):
    """Table subscriptions served by one polling, single-threaded wal2json reader.

    An unfiltered subscription joins the table's topic; one filtered (``pc_filter``) joins the topic of each
    entity instance whose rows it sees, so a change reaches, is owed to and is authorised for only the
    subscriptions whose filter it matches (Realtime checks the filters before the RLS query).
    """

    name = "postgres_changes"
    lags = True
    family = "postgres_changes"
    label = "postgres_changes"

    def __init__(self) -> None:
        self.changes: list[_Change] = []
        self.head = 0  # next change to read
        self.delivered = 0  # changes already fanned out
        self.empty_polls = 0
        self.epoch = 0
        self.slot: Slot | None = None  # the poller's temporary logical slot (sim/_wal.py)
        self.slot_from_ms = 0.0
        self.tables: tuple[str, ...] = ()
        self.unfiltered: frozenset[str] = frozenset()  # tables some population subscribes to without a filter
        self.filtered: frozenset[str] = frozenset()  # tables some population sees only some rows of
        self.frame_bytes: dict[tuple[str, str], int] = {}
        self.poll_log: list[tuple[float, int, float]] = []  # (start ms, rows, duration ms) per poll

    @staticmethod
    def topic_of(table: str, instance: int = -1) -> str:
        """The table's topic, or the topic of its rows about one entity instance."""
        return f"postgres_changes:public:{table}" + (f":{instance}" if instance >= 0 else "")

    def topics(
        self, population: PopulationConfig, followed: list[tuple[str, bool]], rows: Mapping[str, list[int]]
    ) -> list[str]:
        out: list[str] = []
        for table in population.pc_tables:
            if table in rows:
                out.extend(self.topic_of(table, i) for i in rows[table])
            else:
                out.append(self.topic_of(table))
        return out

    def configure(self, scenario: Scenario, app: AppModel) -> None:
        populations = scenario.populations.values()
        self.tables = tuple(dict.fromkeys(t for p in populations for t in p.pc_tables))
        self.filtered = frozenset(t for p in populations for t in p.pc_tables if p.pc_filter.get(t, "all") != "all")
        self.unfiltered = frozenset(t for p in populations for t in p.pc_tables if p.pc_filter.get(t, "all") == "all")
        self.frame_bytes = {(w.table, w.op): app.pc_frame_bytes(w.table, w.op) for w in scenario.writes.values()}

    def start(self, sim: Simulation) -> None:
        if sim.metrics[self.name].clients == 0:
            # Realtime creates the replication slot for the first subscriber; none means no poller.
            self.tables = ()
            return
        # One poller per project, on one temporary wal2json slot (replication_poller.ex).
        self.slot = sim.wal.open_slot(self.name, 0.0)
        sim.metrics[self.name].slots.append(self.slot)
        sim.engine.at(0.0, self.poll, self.epoch, priority=7)
        sim.db_events.start(sim.engine.now)  # the poller starts its db-events counter

    def restart_wal(self) -> float:
        """The slot's restart point: the last running-transactions record it has confirmed past."""
        return self.slot.restart_lsn() if self.slot is not None else 0.0

    def _confirm(self, position: float) -> None:
        if self.slot is not None:
            self.slot.confirm(position, self._sim.engine.now)

    def on_write(self, sim: Simulation, write: Write, insert_ms: float | None = None) -> None:
        if insert_ms is not None:
            sim.metrics[self.name].db("business_writes", 1, insert_ms)
        table, operation = write.table, write.operation
        if table not in self.tables:
            return
        topics = [self.topic_of(table)] if table in self.unfiltered else []
        if table in self.filtered:
            topics.append(self.topic_of(table, write.index))
        sends = tuple((sim.publish(self, topic, write.time_ms, private=False), topic) for topic in topics)
        kind = write.pc_kind
        self.changes.append(
            _Change(
                commit_ms=write.time_ms,
                table=table,
                kind=kind,
                sends=sends,
                wal_cum=sim.wal_total(),
                wire_bytes=self.frame_bytes[table, operation],
                write=write,
            )
        )

    def poll(self, epoch: int) -> None:
        sim = self._sim
        if epoch != self.epoch:
            return
        now = sim.engine.now
        if now < sim.server_down_until:
            sim.engine.at(sim.server_down_until, self.poll, epoch, priority=7)
            return
        cfg = sim.scenario.postgres_changes
        costs = sim.costs
        metrics = sim.metrics[self.name]
        while self.head < len(self.changes) and self.changes[self.head].commit_ms < self.slot_from_ms:
            self.head += 1  # committed before the current (temporary) slot existed: never seen
        self.delivered = max(self.delivered, self.head)
        batch = self.changes[self.head : self.head + cfg.max_changes_per_poll]
        self.head += len(batch)
        auth = 0
        rls_ms = 0.0
        if batch and cfg.rls:
            # realtime.apply_rls per change: a fixed part, one read under RLS per subscriber whose filter the
            # change matches, and an array of the visible subscribers copied on every append (calibrated; see
            # models/costs.toml).
            matched = _matched(sim, batch, now)
            auth = sum(matched)
            pairs = sum(m**2 for m in matched)
            auth_ms = cfg.authorization_ms or costs.auth_read_ms
            rls_ms = len(batch) * costs.rls_change_ms + auth * auth_ms + pairs * costs.auth_pair_ms
        # pg_logical_slot_get_changes reads the WAL from the restart point on every call, all of it (every
        # table's, decoded, then skipped up to the confirmed position or filtered by the publication), up to
        # the transaction that fills max_changes or the end of the WAL.
        end = batch[-1].wal_cum if len(batch) == cfg.max_changes_per_poll else sim.wal_total()
        read_mb = max(0.0, end - self.restart_wal()) / 1e6
        decode_ms = costs.poll_base_ms + len(batch) * costs.change_decode_ms + read_mb * costs.wal_read_ms_per_mb
        # The call waits for a core like every other query on the database (sim/_database.py).
        duration = sim.database.delay_ms(now) + decode_ms + rls_ms
        metrics.db("list_changes_polls", 1, decode_ms)
        metrics.db("authorization_reads", auth, rls_ms / auth if auth else 0.0)
        metrics.peak_retained_wal_bytes = max(metrics.peak_retained_wal_bytes, self.retained_wal_bytes(sim))
        done = now + duration
        self.poll_log.append((now, len(batch), duration))
        if batch:
            self.empty_polls = 0
            sim.engine.at(done, self.fan_out, batch, epoch, priority=6)
            sim.engine.at(done, self.poll, epoch, priority=7)
        else:
            self.empty_polls += 1
            self._confirm(sim.wal_total())
            # Back off while idle: doubling from the poll interval up to idle_backoff_factor times it.
            factor = min(2.0 ** min(self.empty_polls - 1, 16), cfg.idle_backoff_factor)
            sim.engine.at(done + cfg.poll_interval_ms * factor, self.poll, epoch, priority=7)

    def fan_out(self, batch: list[_Change], epoch: int) -> None:
        sim = self._sim
        if epoch != self.epoch:
            return
        now = sim.engine.now
        metrics = sim.metrics[self.name]
        counter = sim.db_events
        if not counter.unlimited:
            # Realtime from 2025-10 (replication_poller.ex, handle_list_changes_result): while the project's
            # db-events counter is triggered, the poll's rows are dropped (the slot has moved past them);
            # else each change counts its matching subscriptions, then goes out. No channel is closed.
            fan_out = _matched(sim, batch, now)
            if counter.over(now):
                for change, deliveries in zip(batch, fan_out, strict=True):
                    metrics.count_fan_out(now, change.kind, deliveries, counter.avg)
                    for _msg, topic in change.sends:
                        sim.drop_over_rate(metrics, topic, change.kind)
                metrics.violations["changes_dropped_at_poller"] += len(batch)
                metrics.violations["deliveries_dropped_over_message_rate"] += sum(fan_out)
                self.delivered = self.head
                self._confirm(batch[-1].wal_cum)
                return
            counter.add(now, sum(fan_out))
        for change in batch:
            lag = now - change.commit_ms
            metrics.peak_lag_ms = max(metrics.peak_lag_ms, lag)
            for msg_id, topic in change.sends:
                sim.fan_out(self, msg_id, topic, change.kind, change.commit_ms, change.wire_bytes)
        self.delivered = self.head
        self._confirm(batch[-1].wal_cum)

    def on_restart(self, sim: Simulation, down_until_ms: float) -> None:
        if not self.tables:
            return
        # The wal2json slot is temporary: it dies with the server, and the new one starts at the new
        # server's first poll, so whatever was still unread (and whatever commits meanwhile) is gone.
        self.epoch += 1
        self.slot_from_ms = down_until_ms
        self.head = self.delivered = len(self.changes)
        if self.slot is not None:
            self.slot.drop(sim.engine.now)
        sim.engine.at(down_until_ms, self._new_slot, priority=1)
        sim.engine.at(down_until_ms, self.poll, self.epoch, priority=7)

    def _new_slot(self) -> None:
        sim = self._sim
        self.slot = sim.wal.open_slot(self.name, sim.engine.now)  # a new slot starts from a fresh snapshot
        sim.metrics[self.name].slots.append(self.slot)

    def lag_ms(self, sim: Simulation) -> float:
        if self.tables and self.delivered < len(self.changes):
            oldest = self.changes[self.delivered].commit_ms
            if oldest >= self.slot_from_ms:  # older ones died with the previous slot: lost, not late
                return sim.engine.now - oldest
        return 0.0

    def retained_wal_bytes(self, sim: Simulation) -> float:
        if not self.tables or self.slot is None or sim.engine.now < sim.server_down_until:
            return 0.0  # no slot, nothing retained
        return self.slot.retained(sim.engine.now)

    def bind(self, sim: Simulation) -> None:
        self._sim = sim

    def unbind(self) -> None:
        """The run is over: the poller lets go of the simulation (its methods that take ``sim`` still answer)."""
        del self._sim


def _matched(sim: Simulation, batch: list[_Change], now: float) -> list[int]:
    """Per change of a poll, the subscriptions it matches (each topic counted once per poll)."""
    counts: dict[str, int] = {}
    for change in batch:
        for _msg, topic in change.sends:
            if topic not in counts:
                counts[topic] = sim.subscribed_count(topic, now)
    return [sum(counts[topic] for _msg, topic in c.sends) for c in batch]


def _lookups(messages: tuple[MessageSpec, ...], sends: tuple[tuple[int, str], ...]) -> int:
    """The SELECTs the trigger functions run before sending ``sends`` (once per function, not per message)."""
    if len(sends) == 1:  # most writes send one message: no function to count once
        return messages[sends[0][0]].lookups
    return sum({messages[i].function: messages[i].lookups for i, _ in sends}.values())


def _trigger_lookups(sim: Simulation, arch: Architecture, write: Write) -> None:
    """The SELECTs the write's trigger functions run before sending, charged to the database."""
    lookups = _lookups(sim.app.messages, write.sends)
    if lookups:
        sim.metrics[arch.name].db("trigger_lookups", lookups, sim.costs.trigger_lookup_ms)


def _notify(sim: Simulation, arch: Architecture, message: MessageSpec) -> bool:
    """One NOTIFY; False when its payload reaches 8000 bytes, whose error aborts the statement that fired the
    trigger (FACTS), so the write and the rest of its messages never happen."""
    metrics = sim.metrics[arch.name]
    metrics.db("pg_notify_calls", 1, sim.costs.pg_notify_ms)
    if message.notify_bytes >= 8000:
        metrics.violations["business_writes_aborted_by_notify_payload"] += 1
        return False
    return True


class Broadcast(Architecture):
    """The app's triggers; ``transport`` is how the message leaves the database for Realtime."""

    family = "broadcast"

    def __init__(self, transport: str) -> None:
        self.transport = transport
        self.name = f"broadcast:{transport}"  # type: ignore[misc]
        self.label = f"broadcast ({transport})"  # type: ignore[misc]
        self.slot: Slot | None = None
        # Per message of the app, for the run: its type, whether it is sent privately, its frame's bytes and
        # whether the plan lets that size through (the same for every write that sends it).
        self._sends: tuple[tuple[str, bool, int, bool], ...] | None = None

    @property
    def streams_wal(self) -> bool:
        """realtime.send (and broadcast_changes, which calls it) inserts into realtime.messages, which Realtime
        streams through a temporary logical slot of its own; pg_notify writes no WAL to stream."""
        return self.transport != "pg_notify"

    def start(self, sim: Simulation) -> None:
        self._sends = self._plan(sim)
        if self.streams_wal and sim.metrics[self.name].clients:
            self._open_slot(sim)

    def _plan(self, sim: Simulation) -> tuple[tuple[str, bool, int, bool], ...]:
        default = sim.scenario.broadcast.private
        limit = sim.plan.payload_bytes
        out = []
        for message in sim.app.messages:
            private = default if message.private is None else message.private
            size = message.changes_bytes if self.transport == "broadcast_changes" else message.wire_bytes
            out.append((message.kind, private, size, not size > limit))
        return tuple(out)

    def _open_slot(self, sim: Simulation) -> None:
        self.slot = sim.wal.open_slot(self.name, sim.engine.now)
        sim.metrics[self.name].slots.append(self.slot)
        self._keepalive(sim, self.slot)

    def _keepalive(self, sim: Simulation, slot: Slot) -> None:
        # The replication connection confirms what it has streamed when the walsender asks (STATUS_INTERVAL_MS),
        # so the slot's restart point follows the insert position that far behind.
        if slot.dropped:
            return
        slot.confirm(sim.wal_total(), sim.engine.now)
        sim.engine.at(sim.engine.now + STATUS_INTERVAL_MS, self._keepalive, sim, slot, priority=8)

    def on_restart(self, sim: Simulation, down_until_ms: float) -> None:
        if self.slot is not None:
            self.slot.drop(sim.engine.now)  # temporary: it dies with the connection
            sim.engine.at(down_until_ms, self._open_slot, sim, priority=1)
            self.slot = None

    def retained_wal_bytes(self, sim: Simulation) -> float:
        return self.slot.retained(sim.engine.now) if self.slot is not None else 0.0

    def page_applies(self, behaviour: ClientBehaviour) -> bool:
        return behaviour.page_reads_broadcast

    def topics(
        self, population: PopulationConfig, followed: list[tuple[str, bool]], rows: Mapping[str, list[int]]
    ) -> list[str]:
        # A topic whose trigger sends privately is joined privately (realtime.messages RLS authorises the client).
        return [PRIVATE + t if private or population.private else t for t, private in followed]

    def on_write(self, sim: Simulation, write: Write, insert_ms: float | None = None) -> None:
        metrics = sim.metrics[self.name]
        sends = write.sends
        lookups = _lookups(sim.app.messages, sends)
        costs = sim.costs
        if self.transport != "pg_notify":
            # Nothing between the write's statement and its calls of realtime.send reads the database: their
            # charges are made at once.
            metrics.db_write(insert_ms, lookups, costs.trigger_lookup_ms, len(sends), costs.realtime_send_ms)
            self._send(sim, metrics, sends, write.time_ms)
            return
        if insert_ms is not None:
            metrics.db("business_writes", 1, insert_ms)
        if lookups:
            metrics.db("trigger_lookups", lookups, costs.trigger_lookup_ms)
        messages = sim.app.messages
        for index, topic in sends:
            if not _notify(sim, self, messages[index]):
                return
            sim.publish(self, topic, write.time_ms, private=False)
            # Realtime has no LISTEN path: the notification reaches no subscriber.
            metrics.undeliverable_notifications += sim.subscribed_count(topic, write.time_ms)

    def _send(self, sim: Simulation, metrics: ArchMetrics, sends: tuple[tuple[int, str], ...], commit: float) -> None:
        """The messages of a write committed at ``commit``, each inserted into realtime.messages and streamed."""
        plan = self._sends if self._sends is not None else self._plan(sim)
        wal_bytes = sim.costs.wal_bytes_per_message
        wal = sim.wal
        at = sim.engine.at
        reaches = commit + sim.scenario.broadcast.replication_ms
        for index, topic in sends:
            kind, private, size, fits = plan[index]
            wal.add(wal_bytes)
            channel = PRIVATE + topic if private else topic
            msg_id = sim.publish(self, channel, commit, private=private)
            if not fits:
                metrics.violations["messages_dropped_over_payload_limit"] += 1
                continue
            at(reaches, sim.fan_out, self, msg_id, channel, kind, commit, size, priority=6)


class ListenNotify(Architecture):
    """Plain LISTEN/NOTIFY: the app's server holds one LISTEN connection and fans out to its own sockets.

    FACTS.md: NOTIFY is delivered at commit to every listening session, its payload must stay under
    8000 bytes (else the statement that fired the trigger fails), and notifications wait in one queue
    that the listener drains in commit order. The server handles one notification at a time
    (``listen_notify.app_ms`` each), so a burst queues; a notification sent while the server is
    down is never delivered (LISTEN is not durable).
    """

    name = "listen_notify"
    family = "listen_notify"
    label = "LISTEN/NOTIFY + app server"
    own_server = True

    def __init__(self) -> None:
        self.busy_until = 0.0

    def on_write(self, sim: Simulation, write: Write, insert_ms: float | None = None) -> None:
        metrics = sim.metrics[self.name]
        if insert_ms is not None:
            metrics.db("business_writes", 1, insert_ms)
        messages = sim.app.messages
        _trigger_lookups(sim, self, write)
        for index, topic in write.sends:
            message = messages[index]
            if not _notify(sim, self, message):
                return
            msg_id = sim.publish(self, topic, write.time_ms, private=False)
            if write.time_ms < sim.server_down_until:
                continue  # no listener: the notification is gone
            start = max(write.time_ms, self.busy_until)
            self.busy_until = start + sim.scenario.listen_notify.app_ms
            lag = self.busy_until - write.time_ms
            metrics.peak_lag_ms = max(metrics.peak_lag_ms, lag)
            sim.engine.at(
                self.busy_until,
                sim.fan_out,
                self,
                msg_id,
                topic,
                message.kind,
                write.time_ms,
                message.wire_bytes,
                priority=6,
            )

    def on_restart(self, sim: Simulation, down_until_ms: float) -> None:
        self.busy_until = max(self.busy_until, down_until_ms)


_REGISTRY: dict[str, Callable[[], Architecture]] = {
    "postgres_changes": PostgresChanges,
    "broadcast:pg_notify": lambda: Broadcast("pg_notify"),
    "broadcast:realtime.send": lambda: Broadcast("realtime.send"),
    "broadcast:broadcast_changes": lambda: Broadcast("broadcast_changes"),
    "listen_notify": ListenNotify,
}
ARCHITECTURES = tuple(_REGISTRY)


def make_architecture(name: str) -> Architecture:
    full = "broadcast:realtime.send" if name == "broadcast" else name
    if full not in _REGISTRY:
        raise ValueError(name)
    return _REGISTRY[full]()
