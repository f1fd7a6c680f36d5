"""Architectures as strategy objects: what a client subscribes to and what a write costs and sends.

``PostgresChanges`` models the wal2json poller of FACTS.md; ``Broadcast`` models the seed's
triggers over either transport. Add an architecture by subclassing :class:`Architecture` and
registering it in :data:`ARCHITECTURES`.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, ClassVar

import attrs

from bcastsim.sim._payloads import WRITE_TABLES, pc_frame_bytes
from bcastsim.sim._workload import Artwork, Write

if TYPE_CHECKING:
    from bcastsim.sim._profiles import ClientBehaviour
    from bcastsim.sim._scenario import Scenario
    from bcastsim.sim._sim import Simulation

__all__ = ["ARCHITECTURES", "Architecture", "Broadcast", "PostgresChanges", "make_architecture"]

# Which message kind a client reacts to for a postgres_changes change (same app logic as broadcast).
_PC_REACTION = {
    "bid": "bid_update",
    "vote": "vote_update",
    "winner": "winner_update",
    "auction": "auction_update",
    "media": "media_update",
    "contestant": "round_contestants_update",
    "art_insert": "",
}
# The seed's handlers for these run only on the admin page.
ADMIN_ONLY_REACTIONS = frozenset({"vote_update", "round_contestants_update"})
# SELECTs each seed trigger function runs before notifying.
_TRIGGER_LOOKUPS = {"bid": 1, "vote": 1, "media": 1}
# PostgreSQL's background writer logs the running transactions every 15 s while WAL is written
# (LOG_SNAPSHOT_INTERVAL_MS, src/backend/postmaster/bgwriter.c); a logical slot's restart point can
# only move to such a record once the slot has confirmed past it.
_RUNNING_XACTS_MS = 15_000.0


class Architecture:
    """One way of getting database changes to browsers."""

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    label: ClassVar[str] = ""

    def topics(self, role: str, visible: list[Artwork], event_id: str) -> list[str]:
        raise NotImplementedError

    def page_applies(self, behaviour: ClientBehaviour) -> bool:
        """True when the page's callbacks can read what this architecture delivers."""
        return True

    def configure(self, scenario: Scenario) -> None:
        """Called once with the scenario, before any client exists."""

    def start(self, sim: Simulation) -> None:
        """Called once before the clock starts, after the population is known."""

    def on_write(self, sim: Simulation, write: Write) -> None:
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
    msg_id: int
    topic: str
    wal_cum: float
    wire_bytes: int
    write: Write


class PostgresChanges(Architecture):
    """Global table subscriptions served by one polling, single-threaded wal2json reader."""

    name = "postgres_changes"
    family = "postgres_changes"
    label = "postgres_changes"

    def __init__(self) -> None:
        self.changes: list[_Change] = []
        self.head = 0  # next change to read
        self.delivered = 0  # changes already fanned out
        self.empty_polls = 0
        self.epoch = 0
        self.confirmed_wal = 0.0
        self.slot_from_ms = 0.0
        self.tables: tuple[str, ...] = ()
        self.frame_bytes: dict[tuple[str, str], int] = {}
        self.poll_log: list[tuple[float, int, float]] = []  # (start ms, rows, duration ms) per poll
        self.snapshots: list[float] = [0.0]  # WAL positions of the running-transactions records so far

    @staticmethod
    def topic_of(table: str) -> str:
        return f"postgres_changes:public:{table}"

    def topics(self, role: str, visible: list[Artwork], event_id: str) -> list[str]:
        return [self.topic_of(t) for t in self.tables]

    def configure(self, scenario: Scenario) -> None:
        self.tables = scenario.clients.pc_tables
        self.frame_bytes = {key: pc_frame_bytes(*key) for key in set(WRITE_TABLES.values())}

    def start(self, sim: Simulation) -> None:
        if sim.metrics[self.name].clients == 0:
            # Realtime creates the replication slot for the first subscriber; none means no poller.
            self.tables = ()
            return
        sim.engine.at(0.0, self.poll, self.epoch, priority=7)
        sim.engine.at(_RUNNING_XACTS_MS, self._log_running_xacts, priority=1)

    def _log_running_xacts(self) -> None:
        sim = self._sim
        self.snapshots.append(sim.wal_total())
        sim.engine.at(sim.engine.now + _RUNNING_XACTS_MS, self._log_running_xacts, priority=1)

    def restart_wal(self) -> float:
        """The slot's restart point: the last running-transactions record it has confirmed past."""
        return self.snapshots[bisect.bisect_right(self.snapshots, self.confirmed_wal) - 1]

    def on_write(self, sim: Simulation, write: Write) -> None:
        table, operation = WRITE_TABLES[write.kind]
        if table not in self.tables:
            return
        topic = self.topic_of(table)
        msg_id = sim.publish(self, topic, write.time_ms, private=False)
        kind = _PC_REACTION[write.kind] or "art_insert"
        self.changes.append(
            _Change(
                commit_ms=write.time_ms,
                table=table,
                kind=kind,
                msg_id=msg_id,
                topic=topic,
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
            # realtime.apply_rls per change: a fixed part, one read under RLS per subscriber of the table, and
            # an array of the visible subscribers copied on every append (calibrated; see models/costs.toml).
            counts = {table: sim.subscribed_count(self.topic_of(table), now) for table in self.tables}
            auth = sum(counts[c.table] for c in batch)
            pairs = sum(counts[c.table] ** 2 for c in batch)
            auth_ms = cfg.authorization_ms or costs.auth_read_ms
            rls_ms = len(batch) * costs.rls_change_ms + auth * auth_ms + pairs * costs.auth_pair_ms
        # pg_logical_slot_get_changes reads the WAL from the restart point on every call, all of it (every
        # table's, decoded, then skipped up to the confirmed position or filtered by the publication), up to
        # the transaction that fills max_changes or the end of the WAL.
        end = batch[-1].wal_cum if len(batch) == cfg.max_changes_per_poll else sim.wal_total()
        read_mb = max(0.0, end - self.restart_wal()) / 1e6
        decode_ms = costs.poll_base_ms + len(batch) * costs.change_decode_ms + read_mb * costs.wal_read_ms_per_mb
        duration = decode_ms + rls_ms
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
            self.confirmed_wal = sim.wal_total()
            # Back off while idle: doubling from the poll interval up to idle_backoff_factor times it.
            factor = min(2.0 ** min(self.empty_polls - 1, 16), cfg.idle_backoff_factor)
            sim.engine.at(done + cfg.poll_interval_ms * factor, self.poll, epoch, priority=7)

    def fan_out(self, batch: list[_Change], epoch: int) -> None:
        sim = self._sim
        if epoch != self.epoch:
            return
        now = sim.engine.now
        metrics = sim.metrics[self.name]
        for change in batch:
            lag = now - change.commit_ms
            metrics.peak_lag_ms = max(metrics.peak_lag_ms, lag)
            sim.fan_out(self, change.msg_id, change.topic, change.kind, change.commit_ms, change.wire_bytes)
        self.delivered = self.head
        self.confirmed_wal = batch[-1].wal_cum

    def on_restart(self, sim: Simulation, down_until_ms: float) -> None:
        if not self.tables:
            return
        # The wal2json slot is temporary: it dies with the server, and the new one starts at the new
        # server's first poll, so whatever was still unread (and whatever commits meanwhile) is gone.
        self.epoch += 1
        self.slot_from_ms = down_until_ms
        self.head = self.delivered = len(self.changes)
        sim.engine.at(down_until_ms, self._new_slot, priority=1)
        sim.engine.at(down_until_ms, self.poll, self.epoch, priority=7)

    def _new_slot(self) -> None:
        self.confirmed_wal = self._sim.wal_total()
        self.snapshots.append(self.confirmed_wal)  # a new slot starts from a fresh snapshot

    def lag_ms(self, sim: Simulation) -> float:
        if self.tables and self.delivered < len(self.changes):
            oldest = self.changes[self.delivered].commit_ms
            if oldest >= self.slot_from_ms:  # older ones died with the previous slot: lost, not late
                return sim.engine.now - oldest
        return 0.0

    def retained_wal_bytes(self, sim: Simulation) -> float:
        if not self.tables or sim.engine.now < sim.server_down_until:
            return 0.0  # no slot, nothing retained
        return max(0.0, sim.wal_total() - self.restart_wal())

    def bind(self, sim: Simulation) -> None:
        self._sim = sim


class Broadcast(Architecture):
    """The seed's per-topic triggers; ``transport`` is how the message leaves the database."""

    family = "broadcast"

    def __init__(self, transport: str) -> None:
        self.transport = transport
        self.name = f"broadcast:{transport}"  # type: ignore[misc]
        self.label = f"broadcast ({transport})"  # type: ignore[misc]

    def topics(self, role: str, visible: list[Artwork], event_id: str) -> list[str]:
        # The seed's EventDetailsBroadcast: bids for every visible artwork, the event channel, media for
        # every visible artwork, and the admin channel on the admin page.
        out = [f"broadcast:bid:{a.art_id}" for a in visible]
        out.append(f"broadcast:event:{event_id}")
        out.extend(f"broadcast:art_media:{a.art_id}" for a in visible)
        if role == "admin":
            out.append(f"broadcast:admin:{event_id}")
        return out

    def page_applies(self, behaviour: ClientBehaviour) -> bool:
        return behaviour.page_reads_broadcast

    def on_write(self, sim: Simulation, write: Write) -> None:
        costs = sim.costs
        metrics = sim.metrics[self.name]
        lookups = _TRIGGER_LOOKUPS.get(write.kind, 0)
        if lookups:
            metrics.db("trigger_lookups", lookups, costs.trigger_lookup_ms)
        art = sim.workload.artworks[write.art]
        for shape in sim.shapes.by_write.get(write.kind, ()):
            topic = shape.topic_template.format(art_id=art.art_id, event_id=sim.workload.event_id)
            if self.transport == "pg_notify":
                metrics.db("pg_notify_calls", 1, costs.pg_notify_ms)
                if shape.notify_bytes >= 8000:
                    # FACTS: the error aborts the statement that fired the trigger.
                    metrics.violations["business_writes_aborted_by_notify_payload"] += 1
                    return
                msg_id = sim.publish(self, topic, write.time_ms, private=False)
                # Realtime has no LISTEN path: the notification reaches no subscriber.
                metrics.undeliverable_notifications += sim.subscribed_count(topic, write.time_ms)
                continue
            metrics.db("realtime_send_calls", 1, costs.realtime_send_ms)
            sim.add_wal(costs.wal_bytes_per_message)
            private = sim.scenario.broadcast.private
            msg_id = sim.publish(self, topic, write.time_ms, private=private)
            if shape.wire_bytes > sim.plan.payload_bytes:
                metrics.violations["messages_dropped_over_payload_limit"] += 1
                continue
            if private:
                continue  # the seed's clients join public channels: a private message reaches none of them
            sim.engine.at(
                write.time_ms + sim.scenario.broadcast.replication_ms,
                sim.fan_out,
                self,
                msg_id,
                topic,
                shape.kind,
                write.time_ms,
                shape.wire_bytes,
                priority=6,
            )


ARCHITECTURES = ("postgres_changes", "broadcast:pg_notify", "broadcast:realtime.send")


def make_architecture(name: str) -> Architecture:
    if name == "postgres_changes":
        return PostgresChanges()
    if name == "broadcast":
        return Broadcast("realtime.send")
    if name.startswith("broadcast:"):
        return Broadcast(name.split(":", 1)[1])
    raise ValueError(name)
