"""Counters, weighted latency histograms and time series, one set per architecture in a run."""

from __future__ import annotations

import heapq
import itertools
import operator
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bcastsim.sim._database import Database
    from bcastsim.sim._engine import Engine
    from bcastsim.sim._wal import Slot

__all__ = ["ArchMetrics", "percentile"]

PERCENTILES = (50.0, 95.0, 99.0)

# Database work is tallied per kind so the report can say which part of the load a claim is about.
DB_KINDS = (
    "business_writes",
    "trigger_lookups",
    "pg_notify_calls",
    "realtime_send_calls",
    "list_changes_polls",
    "authorization_reads",
    "client_reaction_queries",
    "page_render_queries",
    "refetch_queries",
)
REALTIME_DB_KINDS = (
    "trigger_lookups",
    "pg_notify_calls",
    "realtime_send_calls",
    "list_changes_polls",
    "authorization_reads",
    "client_reaction_queries",
    "refetch_queries",
)


def percentile(histogram: Mapping[float, int], q: float) -> float | None:
    """The weighted ``q``-th percentile (nearest rank) of a value -> weight histogram."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, -(-total * q // 100))  # ceil(total * q / 100)
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram)  # pragma: no cover


# Below 2**24 (latencies under 28 minutes) ten times a value is off by at most half its last bit, 2**-29, from
# the exact product; one further than 2**-26 from a half is rounded to the same integer as the exact product.
# (A batch falls back for a value that close to a tie: about one in thirty million.)
_ROUNDS_BY_TENTHS = 2.0**24
_TIE_MARGIN = 0.5 - 2.0**-26
_BATCH = 16


def _tenths(values: list[float]) -> list[int] | None:
    """``k`` per value such that ``k / 10`` is ``round(value, 1)``, or None when that cannot be taken this way.

    ``round(x, 1)`` is the double nearest to ``k / 10``, ``k`` the integer nearest to ``x * 10`` in exact
    arithmetic (ties to even), and so is ``round(x * 10) / 10`` whenever the float ``x * 10`` is not within
    its rounding error of a half. Rounding to tenths builds a decimal string per value, ten times the cost
    of the products rounded to integers; a fan-out makes one value per delivery. None for a batch with a
    value near a tie, negative (``-0.0`` would lose its sign) or too large: then round each to tenths.
    """
    tenths = list(map(operator.mul, values, itertools.repeat(10.0)))
    if not tenths or not (min(tenths) >= 0.0 and max(tenths) < _ROUNDS_BY_TENTHS):
        return None
    try:
        ks = list(map(round, tenths))
    except ValueError:  # a NaN, which min and max may pass over
        return None
    off = list(map(operator.sub, tenths, ks))
    if min(off) > -_TIE_MARGIN and max(off) < _TIE_MARGIN:
        return ks
    return None


def owed_percentile(histogram: Mapping[float, int], q: float, arrived_share: float) -> float | None:
    """The ``q``-th percentile latency of the updates owed, the ones that never arrived counted as later than any:
    the ``q / arrived_share``-th percentile of those that arrived, or None when more than ``100 - q`` % of the
    owed never arrived (no latency bounds them)."""
    if arrived_share <= 0.0:
        return None
    within = q / min(1.0, arrived_share)
    if within > 100.0 + 1e-9:
        return None
    return percentile(histogram, min(100.0, within))


def wal_spikes(times: list[float], wal: list[float]) -> dict[str, float | int | None]:
    """Spikes of retained WAL: a local maximum, at least half the event's highest, that falls back to half of
    itself or less. ``height_bytes`` is the median spike, ``period_s`` the median time between consecutive ones.
    """
    peaks: list[int] = []
    i = 1
    while i < len(wal):
        if wal[i] > 0 and wal[i] >= wal[i - 1] and (i + 1 == len(wal) or wal[i + 1] < wal[i]):
            j = i + 1
            while j < len(wal) and wal[j] > wal[i] / 2 and wal[j] <= wal[i]:
                j += 1
            if j < len(wal) and wal[j] <= wal[i] / 2:
                peaks.append(i)
            i = j
        else:
            i += 1
    top = max(wal, default=0.0)
    peaks = [k for k in peaks if wal[k] >= top / 2]
    heights = sorted(wal[k] for k in peaks)
    gaps = sorted(times[b] - times[a] for a, b in itertools.pairwise(peaks))
    return {
        "count": len(peaks),
        "height_bytes": heights[len(heights) // 2] if heights else None,
        "period_s": gaps[len(gaps) // 2] if gaps else None,
    }


class ArchMetrics:
    """Everything measured for the clients of one architecture."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.clients = 0
        self.db_queries: dict[str, float] = dict.fromkeys(DB_KINDS, 0.0)
        self.db_time_ms: dict[str, float] = dict.fromkeys(DB_KINDS, 0.0)
        self.messages_sent = 0  # deliveries to clients, fan-out counted per subscriber
        self.bytes_sent = 0
        self.messages_published = 0  # messages the database produced (before fan-out)
        self.deliveries_by_kind: dict[str, int] = {}
        # Commit-to-socket latency (rounded to 0.1 ms) -> deliveries, per message kind.
        self._latency: dict[str, dict[float, int]] = {}
        # Commit-to-socket latency of the messages of writes inside their window's critical_s (an auction's close).
        self._latency_at_critical: dict[float, int] = {}
        # Commit-to-socket latency of the deliveries the page's callbacks could read (applied).
        self._page_latency: dict[float, int] = {}
        # Latencies of groups of one not yet in the tables above: per set of tables a fan-out adds to, how
        # often each latency in tenths of a millisecond occurred. Counting integers as they come costs one C
        # loop per fan-out; each distinct value is turned into its key and added to the tables once, when
        # the tables are read (a histogram is a multiset: the order of its keys is no part of it).
        self._pending: dict[tuple[int, ...], tuple[tuple[dict[float, int], ...], Counter[int]]] = {}
        # Likewise the latencies of larger groups, rounded to 0.1 ms -> clients, per set of tables (see
        # latency_pending): a fan-out adds each group's to one dict instead of to each of its tables.
        self._pending_weighted: dict[tuple[int, ...], tuple[tuple[dict[float, int], ...], dict[float, int]]] = {}
        self.violations: dict[str, float] = {
            "connections_refused": 0,
            "channels_closed_over_message_rate": 0,
            "deliveries_dropped_over_message_rate": 0,
            "changes_dropped_at_poller": 0,
            "broadcasts_dropped_over_message_rate": 0,
            "sockets_closed_over_join_rate": 0,
            "channel_joins_rejected": 0,
            "max_join_queue_ms": 0.0,
            "channels_refused_over_per_connection_limit": 0,
            "messages_dropped_over_payload_limit": 0,
            "business_writes_aborted_by_notify_payload": 0,
            "joins_sent_twice": 0,
        }
        self.connection_attempts = 0
        self.connection_failures = 0
        self.server_attempts = 0  # attempts that reached the service (not blocked by the client's network)
        self.server_failures = 0
        self.gave_up = 0
        self.heartbeat_timeouts = 0  # connections realtime-js declared dead after a missed heartbeat reply
        self.sockets_closed_idle = 0  # sockets closed 50 s after their last channel was removed
        # One episode per client per (re)connection: its first attempt until it is connected again.
        self.episodes = 0
        self.failed_episodes = 0  # episodes in which the service refused the client or was down
        self.clients_affected = 0  # clients that lost their connection, or failed an attempt, at least once
        self.never_reconnected = 0
        self.never_connected = 0  # clients with no connection at all in the whole event
        self.never_resubscribed = 0  # reconnected, but some channel the page holds never joined again
        # Per second of the event and message type: messages fanned out and the deliveries they asked for;
        # per second, type and population: deliveries dropped over the plan's message rate; per second in
        # which the rate counter was over the limit, its average then. Reports read these to say which
        # writes, at which second, went over the limit.
        # (second, type) -> [messages, deliveries asked for]: one cell per key, read as rate_messages, rate_demand.
        self._rates: dict[tuple[int, str], list[int]] = {}
        self.rate_drops: dict[tuple[int, str, str], int] = {}
        self.rate_over_avg: dict[int, float] = {}
        # (second, [writes.NAME]) -> writes committed; counted for an architecture that can lag (Architecture.lags)
        self.rate_writes: dict[tuple[int, str], int] = {}
        self.reconnect_ms: dict[float, int] = {}  # from the drop to connected again
        self.resubscribe_ms: dict[float, int] = {}  # from the drop to every held channel joined again
        self.lost_in_partition = 0
        self.undeliverable_notifications = 0
        self.peak_lag_ms = 0.0
        self.peak_retained_wal_bytes = 0.0
        self._database: Database | None = None
        self._clock: Engine | None = None
        self.slots: list[Slot] = []  # the logical slots this architecture's readers held (sim/_wal.py)
        self.series: dict[str, list[float]] = {
            "time_s": [],
            "poller_lag_ms": [],
            "retained_wal_bytes": [],
            "connected_clients": [],
            "deliveries_per_s": [],
            "db_time_ms_per_s": [],
        }
        self.lost_per_client_mean = 0.0
        self.lost_per_client_max = 0
        self.unrecovered_per_client_mean = 0.0
        self.updates_owed = 0
        self.updates_lost = 0
        self.updates_lost_while_subscribed = 0
        self.updates_recovered = 0
        self.checker: dict[str, Any] = {}

    @property
    def rate_messages(self) -> dict[tuple[int, str], int]:
        """(second, message type) -> messages fanned out (or dropped whole) then."""
        return {key: cell[0] for key, cell in self._rates.items()}

    @property
    def rate_demand(self) -> dict[tuple[int, str], int]:
        """(second, message type) -> deliveries those messages asked for."""
        return {key: cell[1] for key, cell in self._rates.items()}

    @property
    def latency(self) -> dict[str, dict[float, int]]:
        self._settle()
        return self._latency

    @property
    def latency_at_critical(self) -> dict[float, int]:
        self._settle()
        return self._latency_at_critical

    @property
    def page_latency(self) -> dict[float, int]:
        self._settle()
        return self._page_latency

    def latency_tables(self, kind: str, *, critical: bool, page: bool) -> tuple[dict[float, int], ...]:
        """The latency tables a fan-out of a message of ``kind`` adds to (the kind's is made if new): for
        :meth:`count_latencies`, which may keep what it counts apart until the tables are read."""
        histogram = self._latency.get(kind)
        if histogram is None:
            histogram = self._latency[kind] = {}
        tables: tuple[dict[float, int], ...] = (histogram,)
        if critical:
            tables += (self._latency_at_critical,)
        if page:
            tables += (self._page_latency,)
        return tables

    def latency_pending(self, tables: tuple[dict[float, int], ...]) -> dict[float, int]:
        """Where fan-outs that add to ``tables`` (from :meth:`latency_tables`) may count the latencies of their
        larger groups, rounded to 0.1 ms -> clients: kept apart and added to the tables when they are read."""
        ident = tuple(map(id, tables))
        pending = self._pending_weighted.get(ident)
        if pending is None:
            pending = self._pending_weighted[ident] = (tables, {})
        return pending[1]

    def count_latencies(
        self,
        tables: tuple[dict[float, int], ...],
        ones: Iterable[float],
        weighted: Mapping[float, int],
    ) -> None:
        """One fan-out's commit-to-socket latencies into ``tables`` (from :meth:`latency_tables`): ``ones`` of
        one client each, rounded here to 0.1 ms, and ``weighted``, rounded latency -> clients."""
        values = list(ones)
        # Below a few values the batch's passes and a counter's set-up cost more than rounding each.
        ks = _tenths(values) if len(values) >= _BATCH else None
        if ks is None:
            for value in values:
                key = round(value, 1)
                for table in tables:
                    table[key] = table.get(key, 0) + 1
        else:
            ident = tuple(map(id, tables))
            pending = self._pending.get(ident)
            if pending is None:
                pending = self._pending[ident] = (tables, Counter())
            pending[1].update(ks)
        for key, n in weighted.items():
            for table in tables:
                table[key] = table.get(key, 0) + n

    def _settle(self) -> None:
        """Add the latencies still counted in tenths, and those kept apart per set of tables, to their tables."""
        for tables, counts in self._pending.values():
            for k, n in counts.items():
                key = k / 10.0
                for table in tables:
                    table[key] = table.get(key, 0) + n
        self._pending.clear()
        # The dicts stay (fan-outs hold them, from latency_pending): emptied, they go on counting.
        for tables, weighted in self._pending_weighted.values():
            for key, n in weighted.items():
                for table in tables:
                    table[key] = table.get(key, 0) + n
            weighted.clear()

    def wal_spikes(self) -> dict[str, float | int | None]:
        """Spikes of the WAL the slots retained, from every change of it (exact), else from the samples."""
        if not self.slots:
            return wal_spikes(self.series["time_s"], self.series["retained_wal_bytes"])
        log = sorted(point for slot in self.slots for point in slot.log)
        self.peak_retained_wal_bytes = max(self.peak_retained_wal_bytes, *(s.peak_bytes for s in self.slots))
        return wal_spikes([t / 1000.0 for t, _ in log], [v for _, v in log])

    def attach(self, database: Database, clock: Engine) -> None:
        """Charge every query to ``database`` at ``clock``'s time as well."""
        self._database = database
        self._clock = clock

    def db(self, kind: str, count: float, ms_each: float) -> None:
        self.db_queries[kind] += count
        self.db_time_ms[kind] += count * ms_each
        if self._database is not None and self._clock is not None:
            self._database.charge(self._clock.now, count, ms_each)

    def db_write(self, insert_ms: float | None, lookups: int, lookup_ms: float, sends: int, send_ms: float) -> None:
        """A write's charges in the order they run: ``db("business_writes", 1, insert_ms)`` unless None, then
        ``db("trigger_lookups", lookups, lookup_ms)`` when its triggers look anything up, then
        ``db("realtime_send_calls", 1, send_ms)`` per message they send."""
        queries, time_ms = self.db_queries, self.db_time_ms
        if insert_ms is not None:
            queries["business_writes"] += 1
            time_ms["business_writes"] += insert_ms  # 1 * insert_ms
        if lookups:
            queries["trigger_lookups"] += lookups
            time_ms["trigger_lookups"] += lookups * lookup_ms
        for _ in range(sends):
            queries["realtime_send_calls"] += 1
            time_ms["realtime_send_calls"] += send_ms  # 1 * send_ms
        if self._database is not None and self._clock is not None:
            self._database.charge_write(self._clock.now, insert_ms, lookups, lookup_ms, sends, send_ms)

    def latency_percentiles(self, kind: str | None = None) -> dict[str, float | None]:
        if kind is None:
            merged: dict[float, int] = {}
            for hist in self.latency.values():
                for value, weight in hist.items():
                    merged[value] = merged.get(value, 0) + weight
            hist = merged
        else:
            hist = self.latency.get(kind, {})
        return {f"p{q:g}": percentile(hist, q) for q in PERCENTILES}

    @property
    def total_db_time_ms(self) -> float:
        return sum(self.db_time_ms.values())

    @property
    def realtime_db_time_ms(self) -> float:
        return sum(self.db_time_ms[k] for k in REALTIME_DB_KINDS)

    @property
    def realtime_db_queries(self) -> float:
        return sum(self.db_queries[k] for k in REALTIME_DB_KINDS)

    @property
    def connection_failure_rate(self) -> float:
        """Failed attempts over all attempts, as the browsers see them."""
        return self.connection_failures / self.connection_attempts if self.connection_attempts else 0.0

    @property
    def episode_failure_rate(self) -> float:
        """(Re)connections the service refused or could not serve, over all (re)connections: one per client
        and drop, however often the client retried. This is the rollback trigger's measure."""
        return self.failed_episodes / self.episodes if self.episodes else 0.0

    @property
    def server_failure_rate(self) -> float:
        """Refused or unanswered attempts over attempts that reached the service, as monitoring sees them."""
        return self.server_failures / self.server_attempts if self.server_attempts else 0.0

    def latency_of_owed(self) -> dict[str, Any]:
        """Latency percentiles over the updates owed, not only over those that arrived (see owed_percentile).

        Losses are known per event, not per message type or moment: each type and the critical moments are
        taken to lose the event's share (an assumption the report states)."""
        owed = self.updates_owed
        arrived = (owed - self.updates_lost) / owed if owed else 1.0
        merged: dict[float, int] = {}
        for hist in self.latency.values():
            for value, weight in hist.items():
                merged[value] = merged.get(value, 0) + weight

        def trio(hist: Mapping[float, int]) -> dict[str, float | None]:
            return {f"p{q:g}": owed_percentile(hist, q, arrived) for q in PERCENTILES}

        return {
            "arrived_share": round(arrived, 6),
            "all": trio(merged),
            "critical": trio(self.latency_at_critical),
            "by_kind": {kind: trio(self.latency[kind]) for kind in sorted(self.latency)},
        }

    def user_visible(self) -> dict[str, Any]:
        """What reached the socket against what the page applied and showed in time, over what was owed."""
        owed = self.updates_owed
        # The socket also gets messages nobody was owed (sent in the last moments before a client left or the
        # event ended): of the owed ones, those the checker did not count lost arrived; the page applied and
        # showed them in the same proportion as all it received.
        reached = max(0, owed - self.updates_lost)
        scale = reached / self.messages_sent if self.messages_sent else 0.0
        applied = round(sum(self.page_latency.values()) * scale, 1)
        within = {
            f"shown_within_{s}s": round(sum(w for v, w in self.page_latency.items() if v <= s * 1000.0) * scale, 1)
            for s in (1, 5)
        }
        counts = {
            "owed": owed,
            "delivered_to_socket": reached,
            "applied_by_page": applied,
            **within,
            "recovered_by_refetch": self.updates_recovered,
        }
        shares = {k: round(v / owed, 6) if owed else 0.0 for k, v in counts.items() if k != "owed"}
        return {**counts, "share_of_owed": shares}

    def count_fan_out(self, now_ms: float, kind: str, deliveries: int, over_average: float | None) -> None:
        """One message of ``kind`` fanned out (or dropped whole) to ``deliveries`` subscribers at ``now_ms``;
        ``over_average`` is the rate counter's average when it was over the limit then, else None."""
        second = int(now_ms // 1000.0)
        cell = self._rates.get((second, kind))
        if cell is None:
            self._rates[second, kind] = [1, deliveries]
        else:
            cell[0] += 1
            cell[1] += deliveries
        if over_average is not None:
            self.rate_over_avg.setdefault(second, over_average)

    def count_delivered(  # noqa: PLR0917 - one call per fan-out, in place of three
        self,
        now_ms: float,
        kind: str,
        tables: tuple[dict[float, int], ...],
        ones: list[float],
        delivered: int,
        reached: int,
        wire_bytes: int,
        over_average: float | None,
    ) -> None:
        """A fan-out that reached ``reached`` subscribers, ``delivered`` of them (the rest were cut off): the
        latencies of its groups of one (:meth:`count_latencies`; the larger groups' went to
        :meth:`latency_pending`), its place in the second's counts (:meth:`count_fan_out`) and the totals."""
        if delivered:
            if ones:
                self.count_latencies(tables, ones, {})
            self.messages_sent += delivered
            self.bytes_sent += delivered * wire_bytes
            by_kind = self.deliveries_by_kind
            by_kind[kind] = by_kind.get(kind, 0) + delivered
        self.count_fan_out(now_ms, kind, reached, over_average)

    def count_drop(self, now_ms: float, kind: str, population: str, deliveries: int) -> None:
        """``deliveries`` to clients of ``population`` dropped over the message rate at ``now_ms``."""
        key = (int(now_ms // 1000.0), kind, population)
        self.rate_drops[key] = self.rate_drops.get(key, 0) + deliveries

    def message_rate(self, seconds: int = 5) -> dict[str, Any]:
        """The busiest seconds of fan-out: those with the most deliveries dropped over the message rate
        (else the most deliveries asked for) and the first second with a drop, each with its messages,
        deliveries and drops by type and population."""
        rates = self._rates
        demand: dict[int, int] = {}
        for (second, _kind), cell in rates.items():
            demand[second] = demand.get(second, 0) + cell[1]
        dropped: dict[int, int] = {}
        for (second, _kind, _population), n in self.rate_drops.items():
            dropped[second] = dropped.get(second, 0) + n
        over = set(dropped) | set(self.rate_over_avg)
        ranked = heapq.nsmallest(seconds, demand, key=lambda s: (-dropped.get(s, 0), -demand[s], s))
        first = min(over, default=None)
        if first is not None and first not in ranked:
            ranked.append(first)

        def of(table: Mapping[tuple[Any, ...], int], second: int, index: int) -> dict[str, int]:
            out: dict[str, int] = {}
            for key, n in table.items():
                if key[0] == second:
                    out[key[index]] = out.get(key[index], 0) + n
            return dict(sorted(out.items()))

        def of_rates(second: int, column: int) -> dict[str, int]:
            out: dict[str, int] = {}
            for (at, kind), cell in rates.items():
                if at == second:
                    out[kind] = out.get(kind, 0) + cell[column]
            return dict(sorted(out.items()))

        return {
            "seconds_over_limit": len(over),
            "first_second_over_limit": first,
            "average_at_first": round(self.rate_over_avg.get(first, 0.0), 1) if first is not None else None,
            "peak_average": round(max(self.rate_over_avg.values(), default=0.0), 1),
            "deliveries_dropped": sum(dropped.values()),
            "peak_deliveries_per_s": max(demand.values(), default=0),
            "busiest_seconds": [
                {
                    "second": second,
                    "messages": of_rates(second, 0),
                    "deliveries": of_rates(second, 1),
                    "dropped": of(self.rate_drops, second, 1),
                    "dropped_by_population": of(self.rate_drops, second, 2),
                }
                for second in ranked
            ],
        }

    def lag_context(self, calm_ms: float = 1000.0) -> dict[str, Any] | None:
        """The backlog behind the sample with the highest lag: from the last earlier sample under ``calm_ms``
        (or the start) to it, the writes committed by [writes.NAME] and the busiest second; None without a lag."""
        lags, times = self.series["poller_lag_ms"], self.series["time_s"]
        if not lags or max(lags) <= 0:
            return None
        peak = lags.index(max(lags))
        calm = next((i for i in range(peak - 1, -1, -1) if lags[i] < calm_ms), None)
        since = times[calm] if calm is not None else 0.0
        at = times[peak]
        writes: dict[str, int] = {}
        per_second: dict[int, int] = {}
        for (second, source), n in self.rate_writes.items():
            if since <= second < at:
                writes[source] = writes.get(source, 0) + n
                per_second[second] = per_second.get(second, 0) + n
        busiest = min(per_second, key=lambda s: (-per_second[s], s), default=None)
        return {
            "sampled_peak_lag_ms": round(max(lags), 3),
            "since_s": since,
            "at_s": at,
            "lag_at_end_ms": round(lags[-1], 3),
            "writes": dict(sorted(writes.items())),
            "busiest_second": busiest,
            "busiest_second_writes": per_second.get(busiest, 0) if busiest is not None else 0,
        }

    def to_json(self) -> dict[str, Any]:
        kinds = sorted(self.latency)
        return {
            "architecture": self.name,
            "clients": self.clients,
            "database": {
                "queries": {k: round(v, 3) for k, v in self.db_queries.items()},
                "time_ms": {k: round(v, 3) for k, v in self.db_time_ms.items()},
                "total_time_ms": round(self.total_db_time_ms, 3),
                "realtime_time_ms": round(self.realtime_db_time_ms, 3),
                "realtime_queries": round(self.realtime_db_queries, 3),
                "capacity": self._database.to_json() if self._database is not None else None,
            },
            "messages_published": self.messages_published,
            "messages_sent": self.messages_sent,
            "bytes_sent": self.bytes_sent,
            "deliveries_per_client": round(self.messages_sent / self.clients, 3) if self.clients else 0.0,
            "deliveries_by_kind": dict(sorted(self.deliveries_by_kind.items())),
            "latency_ms": {
                "all": self.latency_percentiles(),
                **{kind: self.latency_percentiles(kind) for kind in kinds},
            },
            "latency_at_critical_ms": {f"p{q:g}": percentile(self.latency_at_critical, q) for q in PERCENTILES},
            "latency_of_owed_ms": self.latency_of_owed(),
            "peak_poller_lag_ms": round(self.peak_lag_ms, 3),
            "wal_spikes": self.wal_spikes(),
            "replication_slots": len(self.slots),
            "peak_retained_wal_bytes": round(self.peak_retained_wal_bytes, 1),
            "limit_violations": {k: round(v, 3) for k, v in self.violations.items()},
            "connections": {
                "attempts": self.connection_attempts,
                "failures": self.connection_failures,
                "failure_rate": round(self.connection_failure_rate, 6),
                "reached_service": self.server_attempts,
                "service_failures": self.server_failures,
                "service_failure_rate": round(self.server_failure_rate, 6),
                "gave_up": self.gave_up,
                "clients_affected": self.clients_affected,
                "heartbeat_timeouts": self.heartbeat_timeouts,
                "sockets_closed_idle": self.sockets_closed_idle,
                "episodes": self.episodes,
                "failed_episodes": self.failed_episodes,
                "episode_failure_rate": round(self.episode_failure_rate, 6),
                "never_reconnected": self.never_reconnected,
                "never_connected": self.never_connected,
                "never_resubscribed": self.never_resubscribed,
                "reconnect_ms": {f"p{q:g}": percentile(self.reconnect_ms, q) for q in PERCENTILES},
                "resubscribe_ms": {f"p{q:g}": percentile(self.resubscribe_ms, q) for q in PERCENTILES},
            },
            "updates": {
                "owed": self.updates_owed,
                "lost": self.updates_lost,
                "lost_while_subscribed": self.updates_lost_while_subscribed,
                "recovered_by_refetch": self.updates_recovered,
                "lost_per_client_mean": round(self.lost_per_client_mean, 3),
                "lost_per_client_max": self.lost_per_client_max,
                "unrecovered_per_client_mean": round(self.unrecovered_per_client_mean, 3),
                "lost_in_partitions": self.lost_in_partition,
                "undeliverable_notifications": self.undeliverable_notifications,
            },
            "message_rate": self.message_rate(),
            "lag_context": self.lag_context(),
            "user_visible": self.user_visible(),
            "delivery_check": self.checker,
            "series": {k: [round(x, 3) for x in v] for k, v in self.series.items()},
        }
