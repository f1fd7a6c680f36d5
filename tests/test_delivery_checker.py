"""The Jepsen-style delivery checker over weighted per-client, per-topic histories."""

from __future__ import annotations

import math

import attrs
from hypothesis import given
from hypothesis import strategies as st

from bcastsim.check.history import (
    Anomaly,
    ClientTrace,
    DeliveryHistory,
    Interval,
    Receipts,
    Sent,
    check_delivery,
)
from bcastsim.strategies import delivery_histories

ALWAYS = (Interval(0, math.inf),)


def _trace(received: dict[str, list[tuple[int, float]]], **kw: object) -> ClientTrace:
    fields: dict[str, object] = {"connected": ALWAYS, "subscribed": {"t": ALWAYS}, "received": received}
    fields.update(kw)
    return ClientTrace("c", **fields)  # type: ignore[arg-type]


@st.composite
def perfect_histories(draw: st.DrawFn) -> DeliveryHistory:
    times = draw(st.lists(st.integers(0, 10_000), max_size=30))
    sent = tuple(Sent(i + 1, "t", float(t)) for i, t in enumerate(sorted(times)))
    start = draw(st.integers(0, 5_000))
    end = draw(st.integers(start + 1, 20_000))
    weight = draw(st.integers(1, 1000))
    window = (Interval(start, end),)
    latency = draw(st.sampled_from([0.0, 50.0]))
    received = [(m.message_id, m.time_ms + latency) for m in sent if start <= m.time_ms < end - latency]
    trace = ClientTrace("c", window, {"t": window}, frozenset(), {"t": received}, weight)
    return DeliveryHistory(sent, (trace,), latency)


@given(perfect_histories())
def test_a_history_that_delivers_everything_owed_is_clean(history: DeliveryHistory) -> None:
    """Every message sent inside the subscribed window and received in order yields no anomaly."""
    report = check_delivery(history)
    assert report.ok
    assert report.expected == report.delivered


@given(perfect_histories(), st.data())
def test_dropping_one_receipt_is_one_weighted_loss(history: DeliveryHistory, data: st.DataObject) -> None:
    """Removing one receipt from a clean history counts exactly one loss per client it stands for."""
    trace = history.clients[0]
    receipts = list(trace.received["t"])
    if not receipts:
        return
    index = data.draw(st.integers(0, len(receipts) - 1))
    dropped = receipts.pop(index)
    broken = DeliveryHistory(
        history.sent,
        (ClientTrace("c", trace.connected, trace.subscribed, frozenset(), {"t": receipts}, trace.weight),),
        history.latency_bound_ms,
    )
    report = check_delivery(broken)
    assert report.counts[Anomaly.LOST] == trace.weight
    assert report.examples[0].message_id == dropped[0]
    assert check_delivery(broken, frozenset({Anomaly.LOST})).ok


def test_messages_sent_while_disconnected_are_not_owed() -> None:
    """At most once: a message sent while the client was away is not a loss."""
    sent = (Sent(1, "t", 5.0), Sent(2, "t", 15.0))
    trace = ClientTrace("c", (Interval(0, 10), Interval(20, math.inf)), {"t": ALWAYS}, frozenset(), {"t": [(1, 5.0)]})
    report = check_delivery(DeliveryHistory(sent, (trace,), 0.0))
    assert report.ok
    assert report.expected == 1


def test_duplicates_reorders_and_leaks_are_classified() -> None:
    """A repeat is DUPLICATED, a late older message REORDERED, a receipt outside any subscription LEAKED."""
    sent = (Sent(1, "t", 0.0), Sent(2, "t", 1.0), Sent(3, "u", 2.0))
    trace = _trace({"t": [(2, 3.0), (1, 4.0), (1, 5.0)], "u": [(3, 6.0)]})
    report = check_delivery(DeliveryHistory(sent, (trace,), 0.0))
    assert report.counts[Anomaly.DUPLICATED] == 1
    assert report.counts[Anomaly.REORDERED] == 1
    assert report.counts[Anomaly.LEAKED] == 1
    assert report.counts[Anomaly.LOST] == 0
    assert not report.ok


def test_private_messages_need_authorization() -> None:
    """A private message at a client without authorization is UNAUTHORIZED and never owed to it."""
    sent = (Sent(1, "admin", 0.0, private=True),)
    intruder = _trace({"admin": [(1, 1.0)]}, subscribed={"admin": ALWAYS}, weight=7)
    member = ClientTrace("m", ALWAYS, {"admin": ALWAYS}, frozenset({"admin"}), {}, 3)
    report = check_delivery(DeliveryHistory(sent, (intruder, member), 0.0))
    assert report.counts[Anomaly.UNAUTHORIZED] == 7
    assert report.counts[Anomaly.LOST] == 3
    assert report.expected == 3


def test_weighted_traces_scale_counts_not_work() -> None:
    """One trace of weight N counts like N identical traces."""
    sent = tuple(Sent(i, "t", float(i)) for i in range(1, 101))
    half = [(i, float(i)) for i in range(1, 51)]
    one = check_delivery(DeliveryHistory(sent, (_trace({"t": half}, weight=5000),), 0.0))
    many = check_delivery(DeliveryHistory(sent, tuple(_trace({"t": half}) for _ in range(50)), 0.0))
    assert one.counts[Anomaly.LOST] == 5000 * 50
    assert many.counts[Anomaly.LOST] == 50 * 50
    assert one.examples[0] == many.examples[0]


def test_examples_are_deterministic_and_bounded() -> None:
    """Reports keep at most five examples per anomaly and list them the same way every time."""
    sent = tuple(Sent(i, "t", float(i)) for i in range(1, 21))
    traces = tuple(_trace({"t": []}, weight=1) for _ in range(10))
    first = check_delivery(DeliveryHistory(sent, traces, 0.0))
    second = check_delivery(DeliveryHistory(sent, traces, 0.0))
    assert first.examples == second.examples
    assert len(first.examples) == 5


def _reference(history: DeliveryHistory) -> dict[Anomaly, int]:
    """The definitions, checked one message and one receipt at a time."""
    counts = dict.fromkeys(Anomaly, 0)
    position = {m.message_id: i for i, m in enumerate(history.sent)}
    by_id = {m.message_id: m for m in history.sent}
    latency = history.latency_bound_ms
    for trace in history.clients:
        for topic in sorted(set(trace.subscribed) | set(trace.received)):
            subscribed = trace.subscribed.get(topic, ())
            receipts = trace.received.get(topic, ())
            got = [m for m, _ in receipts]
            for message in history.sent:
                if message.topic != topic or (message.private and topic not in trace.authorized):
                    continue
                owed = any(
                    s.start_ms <= message.time_ms
                    and message.time_ms + latency < s.end_ms
                    and c.start_ms <= message.time_ms
                    and message.time_ms + latency < c.end_ms
                    for s in subscribed
                    for c in trace.connected
                )
                if owed and message.message_id not in got:
                    counts[Anomaly.LOST] += trace.weight
            seen: set[int] = set()
            highest = -1
            for message_id, arrival in receipts:
                if message_id in seen:
                    counts[Anomaly.DUPLICATED] += trace.weight
                    continue
                seen.add(message_id)
                message = by_id.get(message_id)
                if (
                    message is None
                    or message.topic != topic
                    or not any(s.start_ms <= arrival and message.time_ms <= s.end_ms for s in subscribed)
                ):
                    counts[Anomaly.LEAKED] += trace.weight
                    if message is None:
                        continue
                if message.private and message.topic not in trace.authorized:
                    counts[Anomaly.UNAUTHORIZED] += trace.weight
                if position[message_id] < highest:
                    counts[Anomaly.REORDERED] += trace.weight
                highest = max(highest, position[message_id])
    return counts


@given(delivery_histories())
def test_checker_agrees_with_the_definitions(history: DeliveryHistory) -> None:
    """The indexed checker (fast path included) counts what a one-by-one reading of the definitions counts."""
    assert dict(check_delivery(history).counts) == _reference(history)


def test_a_wanted_topic_is_owed_everything_even_while_away() -> None:
    """A client that meant to follow a topic is owed what was sent while it was away or never joined."""
    sent = (Sent(1, "t", 5.0), Sent(2, "t", 15.0), Sent(3, "u", 15.0))
    wanted = {"t": (Interval(0, 100),), "u": (Interval(0, 100),)}
    trace = ClientTrace(
        "c", (Interval(0, 10), Interval(20, 100)), {"t": ALWAYS}, frozenset(), {"t": [(1, 5.0)]}, 3, wanted
    )
    report = check_delivery(DeliveryHistory(sent, (trace,), 0.0))
    assert report.counts[Anomaly.LOST] == 3 * 2  # message 2 (sent while away) and 3 (topic never joined)
    assert report.expected == 3 * 3
    assert report.lost_while_subscribed == 0
    assert report.lost_by_client == {"c": 2}
    assert not report.ok


def test_a_refetch_recovers_what_was_sent_before_it() -> None:
    """Losses sent before the client's last refetch count as recovered; later ones do not."""
    sent = (Sent(1, "t", 15.0), Sent(2, "t", 40.0))
    trace = ClientTrace(
        "c",
        (Interval(0, 10), Interval(20, 30)),
        {"t": (Interval(0, 10), Interval(20, 30))},
        frozenset(),
        {},
        1,
        {"t": (Interval(0, 100),)},
        (20.0,),
    )
    report = check_delivery(DeliveryHistory(sent, (trace,), 0.0))
    assert report.counts[Anomaly.LOST] == 2
    assert report.recovered == 1


def _subscribed_receipts(history: DeliveryHistory) -> DeliveryHistory:
    """The same history with only the receipts a simulator can record: of a sent message, while subscribed."""
    by_id = {m.message_id: m for m in history.sent}
    traces = []
    for trace in history.clients:
        kept = {
            topic: [
                (mid, arrival)
                for mid, arrival in receipts
                if (m := by_id.get(mid)) is not None
                and any(s.start_ms <= arrival and m.time_ms <= s.end_ms for s in trace.subscribed.get(topic, ()))
            ]
            for topic, receipts in trace.received.items()
        }
        traces.append(attrs.evolve(trace, received=kept))
    return attrs.evolve(history, clients=traces)


def _as_receipts(history: DeliveryHistory) -> DeliveryHistory:
    ids: dict[str, list[int]] = {}
    for message in sorted(history.sent, key=lambda m: m.message_id):
        ids.setdefault(message.topic, []).append(message.message_id)
    traces = []
    for trace in history.clients:
        compact = {}
        for topic, receipts in trace.received.items():
            compact[topic] = Receipts(ids.get(topic, []))
            for mid, arrival in receipts:
                compact[topic].add(mid, arrival)  # type: ignore[arg-type]
        traces.append(attrs.evolve(trace, received=compact))
    return attrs.evolve(history, clients=traces)


@given(delivery_histories())
def test_compact_receipts_give_the_same_report(history: DeliveryHistory) -> None:
    """Receipts kept as runs give the report that tuple lists give: counts, totals and examples."""
    history = _subscribed_receipts(history)
    assert check_delivery(_as_receipts(history)) == check_delivery(history)


@given(perfect_histories())
def test_receipts_in_send_order_are_one_run(history: DeliveryHistory) -> None:
    """Everything owed, received in order, is kept as one run whatever the number of deliveries."""
    compact = _as_receipts(history)
    (trace,) = compact.clients
    receipts = trace.received.get("t")
    assert receipts is None or (isinstance(receipts, Receipts) and receipts.segments <= 1)
    assert check_delivery(compact) == check_delivery(history)


def test_a_gap_a_duplicate_and_a_late_message_are_kept_apart() -> None:
    """A skipped message starts a new run; a repeat and an out-of-order arrival are kept whole, with their times."""
    receipts = Receipts([1, 2, 3, 4, 5])
    for mid, at in [(1, 10.0), (2, 11.0), (4, 13.0), (4, 14.0), (3, 15.0), (5, 16.0)]:
        receipts.add(mid, at)
    assert list(receipts) == [(1, None), (2, None), (4, None), (4, 14.0), (3, 15.0), (5, None)]
    assert len(receipts) == 6
    assert receipts.segments == 5


def test_a_copy_of_receipts_goes_on_apart() -> None:
    """A group split in two keeps what both received so far, and what each receives next is its own."""
    receipts = Receipts([1, 2, 3])
    receipts.add(1, 10.0)
    twin = receipts.copy()
    receipts.add(2, 11.0)
    twin.add(3, 12.0)
    assert [m for m, _ in receipts] == [1, 2]
    assert [m for m, _ in twin] == [1, 3]


@given(st.lists(st.tuples(st.integers(1, 12), st.sampled_from(["add", "add_at", "extend"])), max_size=40))
def test_extending_the_open_run_in_place_is_adding_the_message(steps: list[tuple[int, str]]) -> None:
    """A producer that extends ``open_run`` in place keeps what add and add_at keep: receipts, count, copies."""
    ids = list(range(1, 13))
    plain, fast = Receipts(ids), Receipts(ids)
    for k, (mid, how) in enumerate(steps):
        arrival = float(k)
        plain.add(mid, arrival)
        run = fast.open_run
        if how == "extend" and run is not None and run[1] == ids.index(mid):
            run[1] += 1
        elif how == "add_at":
            fast.add_at(ids.index(mid), mid, arrival)
        else:
            fast.add(mid, arrival)
        assert list(fast) == list(plain)
        assert (len(fast), bool(fast), fast.segments) == (len(plain), bool(plain), plain.segments)
        assert len(plain) == k + 1
    twin, plain_twin = fast.copy(), plain.copy()
    for mid in (3, 12, 12):
        twin.add(mid, 99.0)
        plain_twin.add(mid, 99.0)
    assert list(twin) == list(plain_twin)
    assert len(twin) == len(plain_twin) == len(steps) + 3
    assert list(fast) == list(plain)


def test_runs_are_ordinal_ranges_of_the_shared_id_list() -> None:
    """Runs read as merged ordinal ranges of the list they count in; a kept-whole receipt or another list gives None."""
    ids = [1, 2, 3, 4, 5]
    receipts = Receipts(ids)
    for mid in (1, 2, 4, 5):
        receipts.add(mid, 0.0)
    assert receipts.runs(ids) == [(0, 2), (3, 5)]
    assert receipts.runs(list(ids)) is None
    receipts.add(3, 9.0)  # out of order: kept whole
    assert receipts.runs(ids) is None


def test_as_many_receipts_as_owed_but_other_messages_is_a_loss() -> None:
    """A count equal to what was owed does not pass the run comparison when the runs differ from the owed ones."""
    ids = [1, 2, 3, 4]
    sent = tuple(Sent(i, "t", float(10 * i)) for i in ids)
    window = (Interval(0.0, 35.0),)  # owes messages 1, 2, 3
    receipts = Receipts(ids)
    for mid in (1, 2, 4):
        receipts.add(mid, 0.0)
    trace = ClientTrace("c", window, {"t": window}, frozenset(), {"t": receipts}, 7)
    report = check_delivery(DeliveryHistory(sent, (trace,), 0.0))
    assert report.counts[Anomaly.LOST] == 7
    assert report.expected == 21
    clean = Receipts(ids)
    for mid in (1, 2, 3):
        clean.add(mid, 0.0)
    ok = check_delivery(DeliveryHistory(sent, (attrs.evolve(trace, received={"t": clean}),), 0.0))
    assert ok.ok
    assert ok.expected == ok.delivered == 21


@st.composite
def gapped_histories(draw: st.DrawFn) -> DeliveryHistory:
    """One topic, a client away for a while, some messages missed while subscribed, a refetch: receipts in
    send order with gaps, as the simulator records them."""
    times = sorted(draw(st.lists(st.integers(0, 10_000), min_size=1, max_size=40)))
    private = draw(st.booleans())
    sent = tuple(Sent(i + 1, "t", float(t), private and i % 3 == 0) for i, t in enumerate(times))
    cut = sorted(draw(st.lists(st.integers(0, 12_000), min_size=4, max_size=4)))
    subscribed = (Interval(cut[0], cut[1] + 1), Interval(cut[2], cut[3] + 1))
    authorized = frozenset({"t"}) if draw(st.booleans()) else frozenset()
    kept = [
        m
        for m in sent
        if any(iv.contains(m.time_ms) for iv in subscribed) and (not m.private or authorized) and draw(st.booleans())
    ]
    wanted = {"t": (Interval(cut[0], 12_000),)} if draw(st.booleans()) else {}
    refetched = (float(draw(st.integers(0, 12_000))),) if draw(st.booleans()) else ()
    trace = ClientTrace(
        "c",
        (Interval(0, 12_000),),
        {"t": subscribed},
        authorized,
        {"t": [(m.message_id, m.time_ms) for m in kept]},
        draw(st.integers(1, 50)),
        wanted,
        refetched,
    )
    return DeliveryHistory(sent, (trace,), draw(st.sampled_from([0.0, 50.0])))


@given(gapped_histories())
def test_runs_with_gaps_give_the_report_of_the_receipts_one_by_one(history: DeliveryHistory) -> None:
    """Losses, losses while subscribed and recoveries counted on runs equal those counted receipt by receipt."""
    compact = _as_receipts(history)
    assert check_delivery(compact) == check_delivery(history)


def test_overlapping_subscriptions_owe_each_message_once() -> None:
    """Two subscribed intervals over the same instants owe a message sent then once, and one receipt settles it."""
    sent = (Sent(1, "t", 0.0),)
    doubled = (Interval(0, 1), Interval(0, 1))
    trace = ClientTrace("c", (Interval(0, 12_000),), {"t": doubled}, frozenset(), {"t": [(1, 0.0)]}, 1)
    report = check_delivery(DeliveryHistory(sent, (trace,), 0.0))
    assert report.ok
    assert report.expected == 1


def test_overlapping_wanted_intervals_owe_each_message_once() -> None:
    """Two wanted intervals over the same instants owe a message sent then once, and one receipt settles it."""
    sent = (Sent(1, "t", 0.0),)
    doubled = (Interval(0, 1), Interval(0, 1))
    trace = ClientTrace(
        "c", (Interval(0, 12_000),), {"t": (Interval(0, 1),)}, frozenset(), {"t": [(1, 0.0)]}, 1, wanted={"t": doubled}
    )
    report = check_delivery(DeliveryHistory(sent, (trace,), 0.0))
    assert report.ok
    assert report.expected == 1
