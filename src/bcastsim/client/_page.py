"""The seed's event page (EventDetailsBroadcast) and the rows it mirrors, as small models.

``EventDatabase`` holds what the database holds for one event and emits the
messages the seed's triggers build (same payload keys), sent with
``realtime.send`` semantics. ``EventPage`` keeps the state the seed's page keeps
(current bid per artwork, winners, auction times) and updates it the way the
page's callbacks do, reading fields off whatever its manager hands over.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from typing import Any

import attrs

from bcastsim.client._managers import SubscriberManager
from bcastsim.client._profiles import Profile

__all__ = ["EventDatabase", "EventPage", "Message", "PageView", "entity_id", "iso_time"]


@attrs.frozen
class Message:
    topic: str
    event: str
    payload: dict[str, Any]
    restricted: bool  # admin-only data: votes, voter and round management


@attrs.frozen
class PageView:
    current_bids: dict[str, float | None]
    winners: dict[str, bool]
    auction_times: dict[str, tuple[str, str] | None]


@attrs.define
class _Art:
    bids: list[float] = attrs.field(factory=list)
    is_winner: bool = False
    auction: tuple[str, str] | None = None


_EPOCH = datetime.datetime(2025, 8, 17, 19, 0, tzinfo=datetime.UTC)


def iso_time(seconds: int) -> str:
    """A timestamptz as json_build_object renders it, ``seconds`` after the event's start."""
    return (_EPOCH + datetime.timedelta(seconds=seconds)).isoformat()


def entity_id(kind: int, number: int) -> str:
    """A deterministic UUID for test rows (``kind`` keeps events, artworks and people apart)."""
    return str(uuid.UUID(int=(kind << 64) | number))


@attrs.define
class EventDatabase:
    event_id: str
    art_ids: tuple[str, ...]
    arts: dict[str, _Art] = attrs.field(init=False)
    stamp: int = 0

    def __attrs_post_init__(self) -> None:
        self.arts = {art: _Art() for art in self.art_ids}

    def _tick(self) -> str:
        # Stands for created_at / now(): distinct per message, so equal payloads mean a repeat.
        self.stamp += 1
        return iso_time(self.stamp)

    def _code(self, art: str) -> str:
        return f"AB-{self.art_ids.index(art) + 1}"

    def bid(self, art: str, amount: float, person: str) -> list[Message]:
        self.arts[art].bids.append(amount)
        stamp = self._tick()
        return [
            Message(
                f"broadcast:bid:{art}",
                "bid_update",
                {
                    "type": "bid_update",
                    "art_id": art,
                    "art_code": self._code(art),
                    "artist_name": None,
                    "amount": amount,
                    "event_id": self.event_id,
                    "timestamp": stamp,
                    "bidder_id": person,
                },
                False,
            ),
            Message(
                f"broadcast:admin:{self.event_id}",
                "bid_update",
                {
                    "type": "bid_update",
                    "art_id": art,
                    "art_code": self._code(art),
                    "amount": amount,
                    "timestamp": stamp,
                },
                True,
            ),
        ]

    def set_winner(self, art: str, value: bool) -> list[Message]:
        if self.arts[art].is_winner == value:
            return []  # the trigger fires only when is_winner IS DISTINCT FROM the old value
        self.arts[art].is_winner = value
        return [
            Message(
                f"broadcast:event:{self.event_id}",
                "winner_update",
                {
                    "type": "winner_update",
                    "art_id": art,
                    "art_code": self._code(art),
                    "is_winner": value,
                    "round": 1,
                    "timestamp": self._tick(),
                },
                False,
            )
        ]

    def set_auction(self, art: str, start: str, end: str) -> list[Message]:
        if self.arts[art].auction == (start, end):
            return []
        self.arts[art].auction = (start, end)
        return [
            Message(
                f"broadcast:event:{self.event_id}",
                "auction_update",
                {
                    "type": "auction_update",
                    "art_id": art,
                    "art_code": self._code(art),
                    "auction_start": start,
                    "auction_end": end,
                    "timestamp": self._tick(),
                },
                False,
            )
        ]

    def vote(self, art: str, person: str, round_: int) -> list[Message]:
        return [
            Message(
                f"broadcast:admin:{self.event_id}",
                "vote_update",
                {
                    "type": "vote_update",
                    "art_id": art,
                    "art_code": self._code(art),
                    "vote_factor": 1,
                    "round": round_,
                    "voter_id": person,
                    "timestamp": self._tick(),
                },
                True,
            )
        ]

    def view(self) -> PageView:
        return PageView(
            current_bids={a: (max(s.bids) if s.bids else None) for a, s in self.arts.items()},
            winners={a: s.is_winner for a, s in self.arts.items()},
            auction_times={a: s.auction for a, s in self.arts.items()},
        )


def _read(value: Any, key: str) -> Any:
    """JS property access: a missing key (or a non-object) reads as ``undefined``."""
    return value.get(key) if isinstance(value, dict) else None


def _js(value: Any) -> str:
    """A value inside a JS template literal."""
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class EventPage:
    """One browser tab on the event page, subscribed through ``manager`` as the seed's page subscribes."""

    def __init__(
        self,
        profile: Profile,
        manager: SubscriberManager,
        database: EventDatabase,
        *,
        is_admin: bool = False,
        on_handled: Callable[[str, Any], None] | None = None,
    ) -> None:
        self.profile = profile
        self.manager = manager
        self.database = database
        self.is_admin = is_admin
        self.on_handled = on_handled
        self.handles: list[object] = []
        self.effect_runs = 0
        # CSS selectors the hook's flash animation looks up (useBroadcastRealtime's wrappers).
        self.flashes: list[str] = []
        # Initial fetch on mount.
        initial = database.view()
        self.current_bids: dict[str, float | None] = dict(initial.current_bids)
        self.winners = dict(initial.winners)
        self.auction_times = dict(initial.auction_times)

    # --- the subscription effect ----------------------------------------------------------

    def run_effect(self) -> None:
        """Run (or re-run, after a dependency changed) the page's subscription effect."""
        if self.effect_runs and self.profile.page_cleans_up:
            for handle in self.handles:
                self.manager.unsubscribe(handle)
            self.handles = []
        self.effect_runs += 1
        restricted = self.profile.private_restricted_topics
        for art in self.database.art_ids:
            self.handles.append(self.manager.subscribe(f"broadcast:bid:{art}", "bid_update", self._on_bid))
        self.handles.append(self.manager.subscribe(f"broadcast:event:{self.database.event_id}", "*", self._on_event))
        for art in self.database.art_ids:
            self.handles.append(self.manager.subscribe(f"broadcast:art_media:{art}", "media_update", self._noop))
        if self.is_admin:
            self.handles.append(
                self.manager.subscribe(
                    f"broadcast:admin:{self.database.event_id}", "*", self._on_admin, restricted=restricted
                )
            )

    def refetch(self, name: str = "") -> None:
        """What the recommended page does after a gap: read the rows again."""
        fresh = self.database.view()
        self.current_bids = dict(fresh.current_bids)
        self.winners = dict(fresh.winners)
        self.auction_times = dict(fresh.auction_times)

    # --- the page's callbacks --------------------------------------------------------------

    def _data(self, value: Any, kind: str) -> Any:
        if self.on_handled is not None:
            self.on_handled(kind, value)
        return _read(value, "payload") if self.profile.page_unwraps_envelope else value

    def _on_bid(self, value: Any) -> None:
        data = self._data(value, "bid")
        self.flashes.append(f'[data-bid-art="{_js(_read(data, "art_id"))}"]')
        art, amount = _read(data, "art_id"), _read(data, "amount")
        previous = self.current_bids.get(art)
        if self.profile.page_current_bid == "max" and previous is not None and amount is not None:
            amount = max(previous, amount)
        self.current_bids[art] = amount

    def _on_event(self, value: Any) -> None:
        data = self._data(value, "event")
        kind = _read(data, "type")
        if kind == "winner_update":
            self.flashes.append(f'[data-art-id="{_js(_read(data, "art_id"))}"]')
        elif kind == "auction_update":
            self.flashes.append("[data-auction-timer]")
        if kind == "winner_update":
            self.winners[_read(data, "art_id")] = _read(data, "is_winner")
            self.winners = dict(self.database.view().winners)  # fetchRoundWinners()
        elif kind == "auction_update":
            self.auction_times = dict(self.database.view().auction_times)  # fetchAuctionTimerStatus()

    def _on_admin(self, value: Any) -> None:
        data = self._data(value, "admin")
        kind = _read(data, "type")
        if kind == "vote_update":
            self.flashes.append(f'[data-vote-display="{_js(_read(data, "art_id"))}"]')
        elif kind == "round_contestants_update":
            self.flashes.append('[data-tab="info"]')

    def _noop(self, value: Any) -> None:
        self._data(value, "media")

    def view(self) -> PageView:
        return PageView(dict(self.current_bids), dict(self.winners), dict(self.auction_times))
