"""Client-side Hypothesis strategies: ids, bids, votes, visits, client and page operation sequences."""

from __future__ import annotations

import math
import uuid
from typing import Any

from hypothesis import strategies as st

from bcastsim.check.history import ClientTrace, DeliveryHistory, Interval, Sent
from bcastsim.client._ops import (
    Advance,
    Broadcast,
    ChannelClose,
    ChannelError,
    ClientOp,
    SocketDrop,
    Subscribe,
    System,
    Unsubscribe,
    UnsubscribeAll,
)
from bcastsim.client._rollout import Visit
from bcastsim.client._scenario import (
    PageAdvance,
    PageAuction,
    PageBid,
    PageClose,
    PageDrop,
    PageOp,
    PageRerender,
    PageVote,
    PageWinner,
)

__all__ = [
    "bids",
    "channel_names",
    "client_ops",
    "delivery_histories",
    "event_names",
    "ids",
    "js_strings",
    "page_ops",
    "realtime_schedules",
    "session_ids",
    "user_ids",
    "visits",
    "votes",
]


def ids() -> st.SearchStrategy[str]:
    """UUID strings, as the schema's primary keys (deterministic: drawn from 128 random bits)."""
    return st.integers(min_value=0, max_value=2**128 - 1).map(lambda n: str(uuid.UUID(int=n)))


def user_ids() -> st.SearchStrategy[str]:
    """Logged-in user ids (Supabase auth ids are UUIDs)."""
    return ids()


def session_ids() -> st.SearchStrategy[str]:
    """``'session_' + Date.now() + '_' + Math.random().toString(36).substr(2, 9)`` from featureFlags.js."""
    return st.builds(
        lambda ms, suffix: f"session_{ms}_{suffix}",
        st.integers(min_value=1_600_000_000_000, max_value=1_900_000_000_000),
        st.text(alphabet="0123456789abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=9),
    )


def js_strings() -> st.SearchStrategy[str]:
    """Any string JavaScript can hold, astral-plane characters included."""
    return st.text(st.characters(codec="utf-8"), max_size=40) | st.text(
        st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF), max_size=8
    )


def visits() -> st.SearchStrategy[tuple[Visit, Visit]]:
    """One person's anonymous visit and their logged-in visit from the same browser."""
    return st.builds(
        lambda user, session, device: (Visit(None, session, device), Visit(user, session, device)),
        user_ids(),
        session_ids(),
        ids(),
    )


def bids() -> st.SearchStrategy[PageBid]:
    return st.builds(PageBid, st.integers(0, 3), st.integers(min_value=1, max_value=10_000))


def votes() -> st.SearchStrategy[PageVote]:
    return st.builds(PageVote, st.integers(0, 3))


def channel_names() -> st.SearchStrategy[str]:
    return st.sampled_from(["broadcast:bid:a", "broadcast:bid:b", "broadcast:event:e"])


def event_names() -> st.SearchStrategy[str]:
    return st.sampled_from(["bid_update", "winner_update", "*"])


def client_ops(*, counterfactual: bool = False, max_size: int = 12) -> st.SearchStrategy[list[ClientOp]]:
    """Manager operation sequences; ``counterfactual`` adds ``system`` statuses realtime-js never sends."""
    statuses = ["ok", "error", "SUBSCRIBED", "CLOSED"] if counterfactual else ["ok", "error"]
    listener = st.integers(1, 3)
    concrete_events = st.sampled_from(["bid_update", "winner_update"])
    op: st.SearchStrategy[ClientOp] = st.one_of(
        st.builds(Subscribe, channel_names(), event_names(), listener),
        st.builds(Unsubscribe, listener),
        st.just(UnsubscribeAll()),
        st.builds(Broadcast, channel_names(), concrete_events),
        st.builds(System, channel_names(), st.sampled_from(statuses)),
        st.builds(ChannelError, channel_names()),
        st.builds(ChannelClose, channel_names()),
        st.just(SocketDrop()),
        st.builds(Advance, st.sampled_from([0, 500, 1000, 2000, 5000, 30000])),
    )
    return st.lists(op, max_size=max_size)


def page_ops(*, max_size: int = 10, faults: bool = True) -> st.SearchStrategy[list[PageOp]]:
    """Database writes, faults, re-renders and time for one event page."""
    writes: list[st.SearchStrategy[PageOp]] = [
        bids(),
        st.builds(PageWinner, st.integers(0, 3), st.booleans()),
        st.builds(PageAuction, st.integers(0, 3), st.integers(0, 100), st.integers(100, 200)),
        votes(),
        st.builds(PageAdvance, st.sampled_from([100, 1000, 5000, 60000])),
    ]
    if faults:
        writes += [
            st.just(PageDrop()),
            st.builds(PageClose, st.sampled_from(["bid", "event"]), st.integers(0, 3)),
            st.just(PageRerender()),
        ]
    return st.lists(st.one_of(*writes), max_size=max_size)


@st.composite
def delivery_histories(
    draw: st.DrawFn, *, topics: tuple[str, ...] = ("t", "u"), max_messages: int = 12, max_clients: int = 3
) -> DeliveryHistory:
    """Delivery histories, clean or not: half the traces receive exactly what they are owed."""
    times = sorted(draw(st.lists(st.integers(0, 100), max_size=max_messages)))
    sent = tuple(Sent(i + 1, draw(st.sampled_from(topics)), float(t), draw(st.booleans())) for i, t in enumerate(times))
    interval = st.builds(lambda a, d: Interval(float(a), float(a + d)), st.integers(0, 100), st.integers(1, 60))
    traces = []
    for name in range(draw(st.integers(1, max_clients))):
        connected = tuple(sorted(draw(st.lists(interval, min_size=1, max_size=2)), key=lambda i: i.start_ms))
        if connected[1:] and connected[1].start_ms < connected[0].end_ms:
            connected = connected[:1]
        subscribed = {t: connected if draw(st.booleans()) else (Interval(0, math.inf),) for t in topics}
        authorized = frozenset(t for t in topics if draw(st.booleans()))
        if draw(st.booleans()):
            received = {
                t: [
                    (m.message_id, m.time_ms)
                    for m in sent
                    if m.topic == t
                    and (t in authorized or not m.private)
                    and any(c.start_ms <= m.time_ms < c.end_ms for c in connected)
                ]
                for t in topics
            }
        else:
            received = {
                t: [
                    (draw(st.integers(1, len(sent) + 1)), float(draw(st.integers(0, 150))))
                    for _ in range(draw(st.integers(0, 5)))
                ]
                for t in topics
            }
        weight = draw(st.integers(1, 9))
        traces.append(ClientTrace(f"client-{name}", connected, subscribed, authorized, received, weight))
    return DeliveryHistory(sent, tuple(traces), 0.0)


_FAULT_KINDS = (
    "drop", "partition", "restart", "refuse", "join_error", "join_timeout",
    "channel_error", "channel_close", "rate_limit", "hidden", "flap",
)  # fmt: skip
_STEPS = ("subscribe", "subscribe", "unsubscribe", "broadcast", "broadcast", "advance", "advance", "advance", "fault",
          "fault")  # fmt: skip
# Around the heartbeat (25 s), the close wait (150 ms steps), and the reconnect and rejoin tables.
_ADVANCES = (0, 150, 1000, 1500, 2500, 5000, 10_000, 20_000, 25_000, 30_000, 50_000)


@st.composite
def realtime_schedules(draw: st.DrawFn, max_steps: int = 20) -> list[dict[str, Any]]:
    """Raw realtime-js schedules (the node harness's ``raw`` mode): calls, broadcasts, faults and time."""
    ops: list[dict[str, Any]] = []
    active: list[int] = []
    hidden = False
    for _ in range(draw(st.integers(1, max_steps))):
        step = draw(st.sampled_from(_STEPS))
        topic = draw(st.sampled_from(("a", "b")))
        if step == "subscribe":
            listener = len(ops) + 1
            event = draw(st.sampled_from(("*", "e", "f")))
            ops.append({"op": "subscribe", "listener": listener, "topic": topic, "event": event,
                        "private": draw(st.booleans())})  # fmt: skip
            active.append(listener)
        elif step == "unsubscribe" and active:
            listener = draw(st.sampled_from(active))
            active.remove(listener)
            ops.append({"op": "unsubscribe", "listener": listener})
        elif step == "broadcast":
            ops.append({"op": "broadcast", "topic": topic, "event": draw(st.sampled_from(("e", "f", "E"))),
                        "private": draw(st.booleans())})  # fmt: skip
        elif step == "advance":
            ops.append({"op": "advance", "ms": draw(st.sampled_from(_ADVANCES))})
        elif step == "fault":
            fault = draw(st.sampled_from(_FAULT_KINDS))
            if fault in ("partition", "restart", "refuse"):
                ops.append({"op": fault, "ms": draw(st.sampled_from((1000, 2000, 20_000, 30_000, 70_000)))})
            elif fault == "hidden":
                hidden = not hidden
                ops.append({"op": "hidden", "hidden": hidden})
            elif fault == "flap":
                ops.append({"op": "flap", "topic": topic, "n": draw(st.integers(1, 3))})
            elif fault == "drop":
                ops.append({"op": "drop"})
            else:
                ops.append({"op": fault, "topic": topic})
    return ops
