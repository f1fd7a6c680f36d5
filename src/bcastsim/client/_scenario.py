"""Event-page scenarios: database writes, faults and re-renders around one page, then quiet.

The run yields the page's view and the database's view after the quiet period
(for the convergence check) and a page-level delivery history: every time one of
the page's callbacks runs counts as one receipt (for the delivery checker). The page's client
is the port of realtime-js (``client/_phoenix.py``); every operation is followed by the 0 ms
its frames take.
"""

from __future__ import annotations

import json
import random
from typing import Any

import attrs

from bcastsim._plans import UNLIMITED
from bcastsim.check.history import DeliveryHistory
from bcastsim.client._clock import VirtualClock
from bcastsim.client._ops import profile_timings
from bcastsim.client._page import EventDatabase, EventPage, Message, PageView, entity_id, iso_time
from bcastsim.client._phoenix import REALTIME_JS, PhoenixClient, PhoenixServer
from bcastsim.client._profiles import Profile

__all__ = [
    "PageAdvance",
    "PageAuction",
    "PageBid",
    "PageClose",
    "PageDrop",
    "PageOp",
    "PageRerender",
    "PageRun",
    "PageVote",
    "PageWinner",
    "art_id",
    "run_page_scenario",
]

QUIET_MS = 300_000.0


def art_id(index: int) -> str:
    """The id of artwork ``index`` in page scenarios."""
    return entity_id(2, index)


@attrs.frozen
class PageBid:
    art: int
    amount: int


@attrs.frozen
class PageWinner:
    art: int
    is_winner: bool


@attrs.frozen
class PageAuction:
    art: int
    start: int
    end: int


@attrs.frozen
class PageVote:
    art: int


@attrs.frozen
class PageDrop:
    """The browser's WebSocket drops (network change, server restart)."""


@attrs.frozen
class PageClose:
    """The server closes one of the page's channels: ``bid`` of an artwork, or ``event``."""

    kind: str
    art: int = 0


@attrs.frozen
class PageRerender:
    """The subscription effect runs again (its dependencies changed, e.g. an artwork was added)."""


@attrs.frozen
class PageAdvance:
    ms: int


PageOp = PageBid | PageWinner | PageAuction | PageVote | PageDrop | PageClose | PageRerender | PageAdvance


@attrs.frozen
class PageRun:
    page_view: PageView
    database_view: PageView
    history: DeliveryHistory
    intruder_received: tuple[dict[str, Any], ...]
    flashes: tuple[str, ...] = ()
    # (topic, message type, the value the page's callback reads fields from), in handling order.
    reads: tuple[tuple[str, str, Any], ...] = ()


def run_page_scenario(
    profile: Profile, ops: list[PageOp] | tuple[PageOp, ...], *, arts: int = 2, is_admin: bool = True, seed: int = 0
) -> PageRun:
    clock = VirtualClock()
    event_id = entity_id(1, 1)
    admin_topic = f"broadcast:admin:{event_id}"
    server = PhoenixServer(clock, UNLIMITED, authorize=lambda user, topic: user == "admin")
    rng = random.Random(seed)
    database = EventDatabase(event_id, tuple(art_id(i) for i in range(arts)))

    ids: dict[str, int] = {}
    handled: dict[str, list[tuple[int, float]]] = {}
    events: dict[int, tuple[str, str]] = {}
    reads: list[tuple[str, str, Any]] = []

    def on_handled(kind: str, value: Any) -> None:
        payload = value.get("payload") if isinstance(value, dict) and value.get("type") == "broadcast" else value
        message_id = ids.get(json.dumps(payload, sort_keys=True), -1)
        topic, event = events.get(message_id, (kind, kind))
        handled.setdefault(topic, []).append((message_id, clock.now_ms))
        read = value.get("payload") if profile.page_unwraps_envelope and isinstance(value, dict) else value
        reads.append((topic, event, read))

    socket = PhoenixClient(server, profile_timings(profile), user="admin" if is_admin else "viewer", rng=rng)
    page_box: list[EventPage] = []

    def resync(name: str) -> None:
        page_box[0].refetch(name)

    manager = profile.manager(socket, clock, profile.backoff, rng, resync)
    page = EventPage(profile, manager, database, is_admin=is_admin, on_handled=on_handled)
    page_box.append(page)
    page.run_effect()

    # Anyone with the anonymous key can open the admin topic by name; this one is not an admin.
    intruder_socket = PhoenixClient(server, REALTIME_JS, user="intruder", rng=random.Random(seed + 1))
    intruder = profile.manager(intruder_socket, clock, profile.backoff, random.Random(seed + 2), None)
    intruder_received: list[dict[str, Any]] = []
    intruder.subscribe(admin_topic, "*", intruder_received.append, restricted=profile.private_restricted_topics)
    clock.advance(0)  # the joins' frames

    def publish(messages: list[Message]) -> None:
        for message in messages:
            private = message.restricted and profile.private_restricted_topics
            ids[json.dumps(message.payload, sort_keys=True)] = server.next_id
            events[server.next_id] = (message.topic, message.event)
            server.broadcast(message.topic, message.event, private, message.payload)

    art_name = database.art_ids
    for op in ops:
        match op:
            case PageBid(art, amount):
                publish(database.bid(art_name[art % arts], float(amount), entity_id(3, 1)))
            case PageWinner(art, value):
                publish(database.set_winner(art_name[art % arts], value))
            case PageAuction(art, start, end):
                publish(database.set_auction(art_name[art % arts], iso_time(start * 60), iso_time(end * 60)))
            case PageVote(art):
                publish(database.vote(art_name[art % arts], entity_id(3, 2), 1))
            case PageDrop():
                server.drop(socket)
            case PageClose(kind, art):
                topic = f"broadcast:bid:{art_name[art % arts]}" if kind == "bid" else f"broadcast:event:{event_id}"
                server.channel_close(topic)
            case PageRerender():
                page.run_effect()
        clock.advance(op.ms if isinstance(op, PageAdvance) else 0)
    clock.advance(QUIET_MS)

    trace = socket.trace(frozenset({admin_topic}) if is_admin else frozenset())
    page_trace = attrs.evolve(trace, client="page", received={k: tuple(v) for k, v in handled.items()})
    history = DeliveryHistory(tuple(server.sent), (page_trace,), 0.0)
    return PageRun(page.view(), database.view(), history, tuple(intruder_received), tuple(page.flashes), tuple(reads))
