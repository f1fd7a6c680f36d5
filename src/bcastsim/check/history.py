"""Delivery histories and the Jepsen-style delivery checker.

A history records what the server sent (:class:`Sent`, in commit order) and, per
client, when it was connected, when each topic was joined and ``SUBSCRIBED``,
which private topics it may join, and what arrived. One :class:`ClientTrace` may
stand for many identical clients (``weight``): the simulator groups clients that
behaved alike, and every count in the :class:`DeliveryReport` is weighted.

Anomalies, per client and topic:

``LOST``
    a message owed to the client never arrived. What is owed depends on what the
    trace says the client *wanted*: a topic listed in ``ClientTrace.wanted`` is
    owed every message sent on it inside those intervals (the client meant to
    follow it then, whether or not its socket was up, its join had completed, the
    server had closed the channel or refused the join), early enough to arrive
    before the interval ends. A topic without a ``wanted`` entry is owed only what
    was sent while the client was connected and subscribed (and, for a private
    message, authorized) for the whole window ``[sent, sent + latency]``: at most
    once, a message sent while such a client was away is simply not owed.
    ``DeliveryReport.lost_while_subscribed`` is the part of ``LOST`` sent while
    the client was connected and subscribed; ``recovered`` the part sent before a
    later refetch of the client (``ClientTrace.refetched``), whose state the
    refetch restored.
``LEAKED``
    a message arrived on a topic the client was not subscribed to at any time
    between send and arrival, or arrived under a topic it was not sent to, or was
    never sent at all.
``UNAUTHORIZED``
    a private message arrived at a client not authorized for that topic.
``DUPLICATED``
    a message arrived more than once on one topic.
``REORDERED``
    a message arrived after one that was sent later on the same topic.
"""

from __future__ import annotations

import bisect
import enum
import itertools
import math
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence

import attrs

__all__ = [
    "Anomaly",
    "AnomalyExample",
    "ClientTrace",
    "DeliveryHistory",
    "DeliveryReport",
    "Interval",
    "Receipts",
    "Sent",
    "check_delivery",
    "check_traces",
]

_FIRST = operator.itemgetter(0)
# Enough to show the shape of a failure without flooding a report.
_MAX_EXAMPLES = 5


class Anomaly(enum.Enum):
    LOST = "lost"
    LEAKED = "leaked"
    UNAUTHORIZED = "unauthorized"
    DUPLICATED = "duplicated"
    REORDERED = "reordered"


@attrs.frozen
class Sent:
    message_id: int
    topic: str
    time_ms: float
    private: bool = False


@attrs.frozen
class Interval:
    """Half-open ``[start_ms, end_ms)``; ``end_ms`` may be ``math.inf``."""

    start_ms: float
    end_ms: float

    def contains(self, time_ms: float) -> bool:
        return self.start_ms <= time_ms < self.end_ms


def _intervals(value: Iterable[Interval]) -> tuple[Interval, ...]:
    return tuple(value)


def _names(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


def _times(value: Iterable[float]) -> tuple[float, ...]:
    return tuple(value)


def _sent(value: Iterable[Sent]) -> tuple[Sent, ...]:
    return tuple(value)


def _traces(value: Iterable[ClientTrace]) -> tuple[ClientTrace, ...]:
    return tuple(value)


def _freeze_mapping(value: Mapping[str, Iterable[object]]) -> Mapping[str, tuple[object, ...]]:
    # Sorted keys keep iteration (and therefore report examples) deterministic.
    return {key: tuple(value[key]) for key in sorted(value)}


class Receipts:
    """What one client (or group) received on one topic, in memory that grows with gaps, not deliveries.

    A simulator records hundreds of millions of deliveries; keeping each as a tuple until the run
    ends costs ~120 bytes a delivery. Here arrivals in send order extend a run of consecutive
    messages of the topic (two integers), a skipped message starts a new run, and only a receipt
    that comes again or out of order is kept whole. Iteration yields ``(message_id, arrival_ms)``
    in arrival order, as a tuple list would, with ``None`` for the arrival of a run member.

    ``topic_ids`` is the topic's message ids in send order, ascending, shared with the producer,
    which appends to it as it sends. The contract that makes run members' arrival times
    unnecessary: a receipt is recorded when the message is handed to a client that is subscribed
    at that moment (so it cannot have arrived outside a subscription, see ``LEAKED``).
    """

    __slots__ = ("_count", "_highest", "_ids", "_segments", "open_run")

    def __init__(self, topic_ids: Sequence[int]) -> None:
        self._ids = topic_ids
        # In arrival order: [first, end) ordinals of consecutive messages, or one (message_id, arrival) kept whole.
        self._segments: list[list[int] | tuple[int, float]] = []
        # The last segment when it is a run: the next message in send order extends it. A producer that knows
        # the message is the topic's ``end``-th (``open_run[1] == end``) may extend it in place
        # (``open_run[1] = end + 1``): the receipts' count and highest id count the open run from its ends, so
        # that one store is the whole receipt (a fan-out makes one per delivery).
        self.open_run: list[int] | None = None
        self._count = 0  # receipts outside the open run
        self._highest = -1  # the highest message id received outside the open run

    def _close_run(self) -> None:
        """Fold the open run into the count and highest id before the next segment starts."""
        run = self.open_run
        if run is not None:
            self._count += run[1] - run[0]
            self._highest = max(self._highest, self._ids[run[1] - 1])
            self.open_run = None

    def add(self, message_id: int, arrival_ms: float) -> None:
        ids = self._ids
        run = self.open_run
        highest = self._highest if run is None else max(self._highest, ids[run[1] - 1])
        if message_id > highest:
            if run is not None:
                end = run[1]
                if end < len(ids) and ids[end] == message_id:
                    run[1] = end + 1
                    return
            ordinal = bisect.bisect_left(ids, message_id)
            if ordinal < len(ids) and ids[ordinal] == message_id:
                self._close_run()
                self.open_run = [ordinal, ordinal + 1]
                self._segments.append(self.open_run)
                return
        self._close_run()
        self._count += 1
        self._highest = max(highest, message_id)
        self._segments.append((message_id, arrival_ms))

    def add_at(self, ordinal: int, message_id: int, arrival_ms: float) -> None:
        """:meth:`add` for a message known to be the topic's ``ordinal``-th: it extends the open run in one step."""
        run = self.open_run
        # An open run ends at the highest id received (anything after it would have closed the run), so a
        # message at the run's end is in send order.
        if run is not None and run[1] == ordinal:
            run[1] = ordinal + 1
            return
        self.add(message_id, arrival_ms)

    def copy(self) -> Receipts:
        """An independent copy (the topic's id list stays shared): a group split in two goes on apart."""
        twin = Receipts(self._ids)
        twin._segments = [list(s) if isinstance(s, list) else s for s in self._segments]
        last = twin._segments[-1] if twin._segments else None
        twin.open_run = last if isinstance(last, list) and self.open_run is not None else None
        twin._count = self._count
        twin._highest = self._highest
        return twin

    def __len__(self) -> int:
        run = self.open_run
        return self._count if run is None else self._count + run[1] - run[0]

    def __bool__(self) -> bool:
        return bool(self._segments)

    def __iter__(self) -> Iterator[tuple[int, float | None]]:
        ids = self._ids
        for segment in self._segments:
            if isinstance(segment, list):
                for ordinal in range(segment[0], segment[1]):
                    yield ids[ordinal], None
            else:
                yield segment

    def runs(self, ids: Sequence[int]) -> list[tuple[int, int]] | None:
        """The receipts as ordinal ranges ``[first, end)`` of ``ids``, adjacent ranges merged, when every
        receipt is a run member and ``ids`` is the list the runs count in (the same object); else None."""
        if ids is not self._ids:
            return None
        merged: list[tuple[int, int]] = []
        for segment in self._segments:
            if not isinstance(segment, list):
                return None
            first, end = segment
            if merged and merged[-1][1] == first:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((first, end))
        return merged

    @property
    def ids(self) -> Sequence[int]:
        """The topic's message ids in send order that the runs count in."""
        return self._ids

    @property
    def segments(self) -> int:
        """How many runs and whole receipts are kept: the memory this costs, in units of a small list."""
        return len(self._segments)


def _freeze_receipts(
    value: Mapping[str, Iterable[tuple[int, float]] | Receipts],
) -> Mapping[str, tuple[tuple[int, float], ...] | Receipts]:
    # Receipts are kept as they are: copying them into tuples is the memory they exist to save.
    return {key: v if isinstance(v := value[key], Receipts) else tuple(v) for key in sorted(value)}


@attrs.frozen
class ClientTrace:
    client: str
    connected: tuple[Interval, ...] = attrs.field(converter=_intervals)
    subscribed: Mapping[str, tuple[Interval, ...]] = attrs.field(converter=_freeze_mapping)
    authorized: frozenset[str] = attrs.field(converter=_names, factory=frozenset)
    received: Mapping[str, tuple[tuple[int, float], ...] | Receipts] = attrs.field(
        converter=_freeze_receipts,
        factory=dict,
    )
    weight: int = 1
    # Topic -> intervals during which the client meant to follow it (see LOST above).
    wanted: Mapping[str, tuple[Interval, ...]] = attrs.field(converter=_freeze_mapping, factory=dict)
    # Times at which the client re-read the current state (a refetch after a gap).
    refetched: tuple[float, ...] = attrs.field(converter=_times, factory=tuple)


@attrs.frozen
class DeliveryHistory:
    sent: tuple[Sent, ...] = attrs.field(converter=_sent)
    clients: tuple[ClientTrace, ...] = attrs.field(converter=_traces)
    latency_bound_ms: float = 0.0


@attrs.frozen
class AnomalyExample:
    anomaly: Anomaly
    client: str
    topic: str
    message_id: int
    detail: str

    def describe(self) -> str:
        return f"{self.anomaly.value}: client {self.client} topic {self.topic} message {self.message_id}: {self.detail}"


@attrs.frozen
class DeliveryReport:
    counts: Mapping[Anomaly, int]
    examples: tuple[AnomalyExample, ...]
    allowed: frozenset[Anomaly]
    expected: int
    delivered: int
    lost_while_subscribed: int = 0
    recovered: int = 0
    # Per trace name: messages lost by each one client the trace stands for (unweighted).
    lost_by_client: Mapping[str, int] = attrs.field(factory=dict)

    @property
    def violations(self) -> dict[Anomaly, int]:
        return {a: n for a, n in self.counts.items() if n and a not in self.allowed}

    @property
    def ok(self) -> bool:
        return not self.violations


@attrs.define
class _TopicIndex:
    """Send times per topic, sorted, for counting owed messages by bisection."""

    all_times: list[float]
    all_ids: list[int]
    public_times: list[float]
    public_ids: list[int]
    # True when time order is commit order on this topic: then "arrived exactly as owed" can be
    # decided by comparing id lists, without looking at receipts one by one.
    commit_ordered: bool = True


_TIME = operator.attrgetter("time_ms")


def _index(sent: Sequence[Sent]) -> tuple[dict[str, _TopicIndex], dict[int, tuple[Sent, int]]]:
    per_topic: dict[str, list[Sent]] = {}
    by_id: dict[int, tuple[Sent, int]] = {}
    for position, message in enumerate(sent):
        per_topic.setdefault(message.topic, []).append(message)
        by_id[message.message_id] = (message, position)
    index: dict[str, _TopicIndex] = {}
    for topic, messages in per_topic.items():
        # A topic's messages are listed in send order: ordered by time with ties in send order, they are in
        # send order exactly when their times never decrease (most topics: then nothing is sorted).
        times = [m.time_ms for m in messages]
        in_order = all(map(operator.le, times, itertools.islice(times, 1, None)))
        ordered = messages if in_order else sorted(messages, key=_TIME)
        public = [m for m in ordered if not m.private]
        index[topic] = _TopicIndex(
            times if in_order else [m.time_ms for m in ordered],
            [m.message_id for m in ordered],
            [m.time_ms for m in public],
            [m.message_id for m in public],
            in_order,
        )
    return index, by_id


def _disjoint(intervals: tuple[Interval, ...]) -> list[Interval]:
    """``intervals`` by start, those that overlap joined: each instant is covered once (touching ones stay apart)."""
    out: list[Interval] = []
    for iv in sorted(intervals, key=lambda i: i.start_ms):
        if out and iv.start_ms < out[-1].end_ms:
            if iv.end_ms > out[-1].end_ms:
                out[-1] = Interval(out[-1].start_ms, iv.end_ms)
        else:
            out.append(iv)
    return out


def _intersect(a: tuple[Interval, ...], b: tuple[Interval, ...]) -> list[Interval]:
    out: list[Interval] = []
    # The walk below takes each side as disjoint: overlapping intervals would owe a message once per interval.
    sa = _disjoint(a)
    sb = _disjoint(b)
    i = j = 0
    while i < len(sa) and j < len(sb):
        lo = max(sa[i].start_ms, sb[j].start_ms)
        hi = min(sa[i].end_ms, sb[j].end_ms)
        if lo < hi:
            out.append(Interval(lo, hi))
        if sa[i].end_ms < sb[j].end_ms:
            i += 1
        else:
            j += 1
    return out


def _overlaps(intervals: tuple[Interval, ...], lo: float, hi: float) -> bool:
    """True when some interval meets the closed window ``[lo, hi]`` (its end instant included)."""
    return any(iv.start_ms <= hi and lo <= iv.end_ms for iv in intervals)


class _Collector:
    def __init__(self) -> None:
        self.counts: dict[Anomaly, int] = dict.fromkeys(Anomaly, 0)
        self.examples: dict[Anomaly, list[AnomalyExample]] = {a: [] for a in Anomaly}

    def add(self, anomaly: Anomaly, weight: int, where: tuple[str, str, int], detail: str) -> None:
        self.counts[anomaly] += weight
        if len(self.examples[anomaly]) < _MAX_EXAMPLES:
            self.examples[anomaly].append(AnomalyExample(anomaly, *where, detail))

    def wants(self, anomaly: Anomaly) -> bool:
        return len(self.examples[anomaly]) < _MAX_EXAMPLES


def check_delivery(history: DeliveryHistory, allowed: frozenset[Anomaly] = frozenset()) -> DeliveryReport:
    """Classify every delivery in ``history``; weighted counts, a few deterministic examples.

    Cost per trace is O(received + windows * log(sent)): owed messages are counted by
    bisection, and only enumerated when a loss must be shown as an example.
    """
    return check_traces(history.sent, history.clients, history.latency_bound_ms, allowed)


def check_traces(
    sent: Sequence[Sent],
    traces: Iterable[ClientTrace],
    latency_bound_ms: float = 0.0,
    allowed: frozenset[Anomaly] = frozenset(),
) -> DeliveryReport:
    """:func:`check_delivery` over traces taken one at a time: a producer may make each trace as it is
    judged (a generator), so that the traces of every client never exist at once."""
    index, by_id = _index(sent)
    latency = latency_bound_ms
    # Per topic, the id list its Receipts share (one object) and whether it is the topic's ids in send order.
    send_order: dict[str, tuple[Sequence[int], bool]] = {}
    found = _Collector()
    expected_total = 0
    delivered_total = 0
    lost_subscribed_total = 0
    recovered_total = 0
    lost_by_client: dict[str, int] = {}

    for trace in traces:
        weight = trace.weight
        lost_here = 0
        last_refetch = max(trace.refetched, default=-math.inf)
        for topic in sorted(set(trace.subscribed) | set(trace.received) | set(trace.wanted)):
            intervals = trace.subscribed.get(topic, ())
            receipts = trace.received.get(topic, ())
            delivered_total += weight * len(receipts)

            # Owed messages: sent inside the wanted intervals (or, without them, connected ∩ subscribed),
            # early enough to arrive before the interval ended.
            authorized = topic in trace.authorized
            topic_index = index.get(topic)
            owed_windows = trace.wanted.get(topic)
            # Connected ∩ subscribed is what is owed without wanted intervals; with them it is needed only
            # to split a loss (most topics lose nothing).
            live = _intersect(intervals, trace.connected) if intervals and owed_windows is None else None
            owed_from = (live or []) if owed_windows is None else owed_windows
            windows, slices, owed_count = _owed(topic_index, authorized, owed_from, latency)
            expected_total += weight * owed_count

            runs = (
                _runs(receipts, topic=topic, topic_index=topic_index, authorized=authorized, seen=send_order)
                if isinstance(receipts, Receipts) and topic_index is not None
                else None
            )
            client = trace.client
            if runs is not None:
                # Runs of the topic's own messages in send order, recorded while subscribed: no duplicate, leak,
                # unauthorized or reordered receipt can be among them, and what was owed is counted against them
                # range by range, never message by message.
                owed_received = _covered(runs, _merged(slices))
            else:
                # Fast path: exactly the owed messages, once each, in commit order; no anomaly is possible.
                if topic_index is not None and topic_index.commit_ordered and len(receipts) == owed_count:
                    ids = topic_index.all_ids if authorized else topic_index.public_ids
                    owed_ids = (
                        [i for lo, hi in slices for i in ids[lo:hi]]
                        if len(slices) > 1
                        else (ids[slices[0][0] : slices[0][1]] if slices else [])
                    )
                    if list(map(_FIRST, receipts)) == owed_ids:
                        continue
                owed_received, seen = _classify(
                    found, receipts, trace, topic, authorized=authorized, windows=windows, by_id=by_id
                )
            lost = owed_count - owed_received
            if lost:
                lost_here += lost
                if live is None:
                    live = _intersect(intervals, trace.connected) if intervals else []
                before = (
                    [(lo, min(hi, last_refetch + 1e-9)) for lo, hi in windows if lo <= last_refetch]
                    if last_refetch > -math.inf
                    else []
                )
                if runs is not None:
                    assert topic_index is not None
                    _w, live_slices, live_count = _owed(topic_index, authorized, live, latency)
                    lost_subscribed_total += weight * (live_count - sum(_covered(runs, [s]) for s in live_slices))
                    times = topic_index.all_times if authorized else topic_index.public_times
                    for lo, hi in before:
                        a, b = bisect.bisect_left(times, lo), bisect.bisect_left(times, hi)
                        recovered_total += weight * ((b - a) - _covered(runs, [(a, b)]))
                    seen = {m for m, _a in receipts} if found.wants(Anomaly.LOST) else set()
                else:
                    lost_subscribed_total += weight * _missing(topic_index, authorized, live, latency, seen)
                    recovered_total += weight * _missing_in(topic_index, authorized, before, seen)
                if found.wants(Anomaly.LOST) and topic_index is not None:
                    times = topic_index.all_times if authorized else topic_index.public_times
                    ids = topic_index.all_ids if authorized else topic_index.public_ids
                    missing = next(
                        ids[k]
                        for lo, hi in windows
                        for k in range(bisect.bisect_left(times, lo), bisect.bisect_left(times, hi))
                        if ids[k] not in seen
                    )
                    sent_at = by_id[missing][0].time_ms
                    wanted = topic in trace.wanted
                    detail = f"sent at {sent_at} ms " + (
                        "on a topic the client meant to follow" if wanted else "while connected and subscribed"
                    )
                    detail += "; never arrived"
                    if lost > 1:
                        detail += f" ({lost} lost on this topic)"
                    found.add(Anomaly.LOST, weight * lost, (client, topic, missing), detail)
                else:
                    found.counts[Anomaly.LOST] += weight * lost
        lost_by_client[trace.client] = lost_here

    examples = tuple(e for a in Anomaly for e in found.examples[a])
    return DeliveryReport(
        counts={a: found.counts[a] for a in Anomaly},
        examples=examples,
        allowed=frozenset(allowed),
        expected=expected_total,
        delivered=delivered_total,
        lost_while_subscribed=lost_subscribed_total,
        recovered=recovered_total,
        lost_by_client=lost_by_client,
    )


def _classify(
    found: _Collector,
    receipts: Iterable[tuple[int, float | None]],
    trace: ClientTrace,
    topic: str,
    *,
    authorized: bool,
    windows: list[tuple[float, float]],
    by_id: Mapping[int, tuple[Sent, int]],
) -> tuple[int, set[int]]:
    """Every receipt of one client and topic judged one by one: anomalies into ``found``; the owed messages
    received and the ids received."""
    seen: set[int] = set()
    highest_position = -1
    highest_id = -1
    owed_received = 0
    client = trace.client
    intervals = trace.subscribed.get(topic, ())
    weight = trace.weight
    for message_id, arrival in receipts:
        if message_id in seen:
            found.add(Anomaly.DUPLICATED, weight, (client, topic, message_id), f"again at {arrival} ms")
            continue
        seen.add(message_id)
        entry = by_id.get(message_id)
        if entry is None:
            found.add(Anomaly.LEAKED, weight, (client, topic, message_id), "never sent")
            continue
        message, position = entry
        if message.topic != topic:
            found.add(Anomaly.LEAKED, weight, (client, topic, message_id), f"sent to topic {message.topic}")
        else:
            if (authorized or not message.private) and any(lo <= message.time_ms < hi for lo, hi in windows):
                owed_received += 1
            # A receipt without an arrival time was recorded while subscribed (see Receipts).
            if arrival is not None and not _overlaps(intervals, message.time_ms, arrival):
                found.add(
                    Anomaly.LEAKED,
                    weight,
                    (client, topic, message_id),
                    f"sent at {message.time_ms} ms, arrived at {arrival} ms while not subscribed",
                )
        if message.private and message.topic not in trace.authorized:
            found.add(
                Anomaly.UNAUTHORIZED,
                weight,
                (client, topic, message_id),
                "private message at a client not authorized for the topic",
            )
        if position < highest_position:
            found.add(
                Anomaly.REORDERED,
                weight,
                (client, topic, message_id),
                f"arrived after message {highest_id}, which was sent later",
            )
        elif position > highest_position:
            highest_position = position
            highest_id = message_id

    return owed_received, seen


def _runs(
    receipts: Receipts,
    *,
    topic: str,
    topic_index: _TopicIndex,
    authorized: bool,
    seen: dict[str, tuple[Sequence[int], bool]],
) -> list[tuple[int, int]] | None:
    """``receipts``' runs as merged ranges of ordinals of the topic's commit-ordered ids (the public ones
    when not ``authorized``), the ordinals the owed slices count in; None when they cannot be read so.

    They are the same ordinals when the topic is commit-ordered, the producer's id list is the topic's ids
    in send order (checked once per topic, kept in ``seen``) and the client may read every message of it.
    """
    if not topic_index.commit_ordered:
        return None
    if not authorized and len(topic_index.public_ids) != len(topic_index.all_ids):
        return None
    ids = receipts.ids
    known = seen.get(topic)
    if known is None or known[0] is not ids:
        known = seen[topic] = (ids, list(ids) == topic_index.all_ids)
    if not known[1]:
        return None
    return receipts.runs(ids)


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Ranges ``[lo, hi)`` sorted by ``lo`` as their union: sorted, disjoint, not touching."""
    out: list[tuple[int, int]] = []
    for lo, hi in ranges:
        if out and lo <= out[-1][1]:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _covered(runs: list[tuple[int, int]], ranges: list[tuple[int, int]]) -> int:
    """How many ordinals of the disjoint ``ranges`` the sorted, disjoint ``runs`` hold."""
    total = 0
    for lo, hi in ranges:
        k = bisect.bisect_right(runs, (lo, math.inf)) - 1  # the last run starting at or before lo
        k = max(k, 0)
        while k < len(runs) and runs[k][0] < hi:
            first, end = runs[k]
            total += max(0, min(end, hi) - max(first, lo))
            k += 1
    return total


def _owed(
    topic_index: _TopicIndex | None, authorized: bool, intervals: Iterable[Interval], latency: float
) -> tuple[list[tuple[float, float]], list[tuple[int, int]], int]:
    """Windows ``[start, end - latency)`` of ``intervals`` with their slices of the topic's send times."""
    windows: list[tuple[float, float]] = []
    slices: list[tuple[int, int]] = []
    count = 0
    if topic_index is None:
        return windows, slices, count
    times = topic_index.all_times if authorized else topic_index.public_times
    # Joined where they overlap: a message sent inside two of a client's windows is owed once.
    for window in _disjoint(tuple(intervals)):
        bound = window.end_ms - latency
        lo = bisect.bisect_left(times, window.start_ms)
        hi = bisect.bisect_left(times, bound)
        if hi > lo:
            windows.append((window.start_ms, bound))
            slices.append((lo, hi))
            count += hi - lo
    return windows, slices, count


def _missing(
    topic_index: _TopicIndex | None, authorized: bool, intervals: list[Interval], latency: float, got: set[int]
) -> int:
    windows, _slices, _count = _owed(topic_index, authorized, intervals, latency)
    return _missing_in(topic_index, authorized, windows, got)


def _missing_in(
    topic_index: _TopicIndex | None, authorized: bool, windows: list[tuple[float, float]], got: set[int]
) -> int:
    """Messages sent inside ``windows`` (start inclusive, end exclusive) that are not in ``got``."""
    if topic_index is None:
        return 0
    times = topic_index.all_times if authorized else topic_index.public_times
    ids = topic_index.all_ids if authorized else topic_index.public_ids
    missing = 0
    for lo, hi in windows:
        a, b = bisect.bisect_left(times, lo), bisect.bisect_left(times, hi)
        missing += sum(1 for k in range(a, b) if ids[k] not in got)
    return missing
