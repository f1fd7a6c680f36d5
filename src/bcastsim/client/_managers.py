"""Subscriber managers: the strategy objects a profile names.

``SeedManager`` is a line-by-line port of the seed's ``BroadcastManager`` (its
node conformance test runs both on the same operations). ``RealtimeJsManager``
is plain realtime-js usage, one channel per subscription. ``RecommendedManager``
is the design bcastsim recommends.

They run on the port of realtime-js (``client/_phoenix.py``): ``socket`` is a ``PhoenixClient``.
All three share one interface: ``subscribe(name, event, listener, restricted=)``
returns a handle, ``unsubscribe(handle)``, ``unsubscribe_all()``, ``stats()``.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from typing import Any, Protocol

import attrs

from bcastsim.client._backoff import BackoffPolicy
from bcastsim.client._clock import VirtualClock
from bcastsim.client._phoenix import PhoenixChannel, PhoenixClient, event_matches

__all__ = [
    "MANAGERS",
    "ManagerFactory",
    "RealtimeJsManager",
    "RecommendedManager",
    "SeedManager",
    "SubscriberManager",
]

Listener = Callable[[Any], None]


class SubscriberManager(Protocol):
    """What a page uses to share Realtime channels among its listeners.

    ``subscribe`` joins (or reuses) the channel ``name`` and calls ``listener`` with every
    broadcast whose event matches ``event`` (``"*"``: all); ``restricted`` asks for a private
    channel. It returns a handle for ``unsubscribe``. ``unsubscribe_all`` leaves every
    channel. ``stats`` counts open channels and registered listeners.
    """

    def subscribe(self, name: str, event: str, listener: Listener, *, restricted: bool = False) -> object: ...

    def unsubscribe(self, handle: object) -> None: ...

    def unsubscribe_all(self) -> None: ...

    def stats(self) -> tuple[int, int]:
        """``(activeChannels, totalListeners)`` as ``getStats`` reports them."""
        ...


class ManagerFactory(Protocol):
    """Builds a manager on a realtime-js client; ``backoff`` and ``rng`` drive its retries, ``on_resync`` is
    called with a channel name when the manager re-fetches state after a gap."""

    def __call__(
        self,
        socket: PhoenixClient,
        clock: VirtualClock,
        backoff: BackoffPolicy,
        rng: random.Random,
        on_resync: Callable[[str], None] | None = None,
    ) -> SubscriberManager: ...


class SeedManager:
    """``BroadcastManager`` from the seed, statement for statement (names kept for side-by-side reading)."""

    max_reconnect_attempts = 5

    def __init__(
        self,
        socket: PhoenixClient,
        clock: VirtualClock,
        backoff: BackoffPolicy | None = None,
        rng: random.Random | None = None,
        on_resync: Callable[[str], None] | None = None,
    ) -> None:
        # The seed computes its own delays and ignores any policy and resync hook.
        self.supabase = socket
        self.clock = clock
        self.channels: dict[str, PhoenixChannel] = {}
        self.listeners: dict[str, list[Listener]] = {}
        self.reconnect_attempts: dict[str, int] = {}
        self.reconnect_delays: list[float] = []

    def create_channel(self, channel_name: str, event: str, callback: Listener) -> PhoenixChannel:
        if channel_name in self.channels:
            # The second caller's event filter is never registered: it shares the first binding.
            listeners = self.listeners.get(channel_name) or []
            listeners.append(callback)
            self.listeners[channel_name] = listeners
            return self.channels[channel_name]

        channel = self.supabase.channel(channel_name)

        def on_broadcast(payload: Any) -> None:
            for listener in list(self.listeners.get(channel_name) or []):
                # The seed logs a throwing listener and carries on with the next one.
                with contextlib.suppress(Exception):
                    listener(payload)

        channel.on_broadcast(event, on_broadcast)

        def on_system(payload: Any) -> None:
            status = payload.get("status") if isinstance(payload, dict) else None
            if status == "SUBSCRIBED":
                self.reconnect_attempts[channel_name] = 0
            elif status == "CLOSED":
                self.handle_reconnect(channel_name, event, callback)

        channel.on_system(on_system)
        subscription = channel.subscribe()
        self.channels[channel_name] = subscription
        self.listeners[channel_name] = [callback]
        return subscription

    def handle_reconnect(self, channel_name: str, event: str, callback: Listener) -> None:
        attempts = self.reconnect_attempts.get(channel_name) or 0
        if attempts >= self.max_reconnect_attempts:
            return
        delay = float(min(1000 * 2**attempts, 30000))
        self.reconnect_delays.append(delay)

        def fire() -> None:
            self.reconnect_attempts[channel_name] = attempts + 1
            self.unsubscribe_name(channel_name)
            self.create_channel(channel_name, event, callback)

        self.clock.call_later(delay, fire, "app")

    def unsubscribe_name(self, channel_name: str) -> None:
        channel = self.channels.get(channel_name)
        if channel is not None:
            self.supabase.remove_channel(channel)
            del self.channels[channel_name]
            self.listeners.pop(channel_name, None)
            self.reconnect_attempts.pop(channel_name, None)

    def unsubscribe_all(self) -> None:
        for channel in list(self.channels.values()):
            self.supabase.remove_channel(channel)
        self.channels.clear()
        self.listeners.clear()
        self.reconnect_attempts.clear()

    def stats(self) -> tuple[int, int]:
        return len(self.channels), sum(len(v) for v in self.listeners.values())

    # The shared interface: the seed hands back the channel; its only way out is by channel name.
    def subscribe(self, name: str, event: str, listener: Listener, *, restricted: bool = False) -> object:
        self.create_channel(name, event, listener)
        return name

    def unsubscribe(self, handle: object) -> None:
        self.unsubscribe_name(str(handle))


class RealtimeJsManager:
    """Plain realtime-js: ``supabase.channel(name).on('broadcast', {event}, cb).subscribe()`` per subscription."""

    def __init__(
        self,
        socket: PhoenixClient,
        clock: VirtualClock,
        backoff: BackoffPolicy | None = None,
        rng: random.Random | None = None,
        on_resync: Callable[[str], None] | None = None,
    ) -> None:
        self.socket = socket
        self.handles: dict[int, PhoenixChannel] = {}
        self.next_handle = 0

    def subscribe(self, name: str, event: str, listener: Listener, *, restricted: bool = False) -> object:
        channel = self.socket.channel(name).on_broadcast(event, listener).subscribe()
        self.next_handle += 1
        self.handles[self.next_handle] = channel
        return self.next_handle

    def unsubscribe(self, handle: object) -> None:
        channel = self.handles.pop(handle, None)  # type: ignore[call-overload]
        if channel is not None:
            self.socket.remove_channel(channel)

    def unsubscribe_all(self) -> None:
        for handle in sorted(self.handles):
            self.unsubscribe(handle)

    def stats(self) -> tuple[int, int]:
        live = {id(c) for c in self.handles.values() if c in self.socket.channels}
        return len(live), len(self.handles)


@attrs.define(eq=False)
class _Entry:
    name: str
    private: bool
    channel: PhoenixChannel | None = None
    listeners: dict[int, tuple[str, Listener]] = attrs.field(factory=dict)
    attempts: int = 0
    leaving: bool = False


class RecommendedManager:
    """One channel per topic, each listener with its own event filter and its own handle.

    Statuses come from the ``subscribe`` callback (the only place realtime-js reports
    them). A ``CHANNEL_ERROR``/``TIMED_OUT`` opens a gap that realtime-js closes by
    rejoining; ``CLOSED`` from the server removes the channel, so the manager makes a
    new one after a jittered, capped delay and keeps trying. Every ``SUBSCRIBED``
    calls ``on_resync(name)`` so the page refetches what it may have missed.
    Listeners receive the payload, not the envelope.
    """

    def __init__(
        self,
        socket: PhoenixClient,
        clock: VirtualClock,
        backoff: BackoffPolicy | None = None,
        rng: random.Random | None = None,
        on_resync: Callable[[str], None] | None = None,
    ) -> None:
        if backoff is None:
            raise ValueError("the recommended manager needs a backoff policy")
        self.socket = socket
        self.clock = clock
        self.backoff = backoff
        self.rng = rng or random.Random(0)
        self.on_resync = on_resync
        self.entries: dict[tuple[str, bool], _Entry] = {}
        self.handles: dict[int, tuple[str, bool]] = {}
        self.next_handle = 0
        self.reconnect_delays: list[float] = []

    def subscribe(self, name: str, event: str, listener: Listener, *, restricted: bool = False) -> object:
        key = (name, restricted)
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = _Entry(name, restricted)
            self._open(entry)
        self.next_handle += 1
        entry.listeners[self.next_handle] = (event, listener)
        self.handles[self.next_handle] = key
        return self.next_handle

    def _open(self, entry: _Entry) -> None:
        channel = self.socket.channel(entry.name, private=entry.private)

        def dispatch(envelope: Any) -> None:
            for event, listener in list(entry.listeners.values()):
                if event_matches(event, str(envelope["event"])):
                    listener(envelope["payload"])

        def status(value: str) -> None:
            if value == "SUBSCRIBED":
                entry.attempts = 0
                # Refetch after every SUBSCRIBED, the first included: whatever was sent before the join
                # (or during a gap) is not coming, and a fetch before subscribing races with it.
                if self.on_resync is not None:
                    self.on_resync(entry.name)
            elif value == "CLOSED" and not entry.leaving:
                # CHANNEL_ERROR and TIMED_OUT need nothing here: realtime-js rejoins on its own timers.
                entry.channel = None
                self._retry(entry)

        channel.on_broadcast("*", dispatch)
        entry.channel = channel
        channel.subscribe(status)

    def _retry(self, entry: _Entry) -> None:
        entry.attempts += 1
        delay = self.backoff.delay_ms(entry.attempts, self.rng)
        if delay is None:
            return
        self.reconnect_delays.append(delay)

        def fire() -> None:
            if self.entries.get((entry.name, entry.private)) is entry and entry.channel is None:
                self._open(entry)

        self.clock.call_later(delay, fire, "app")

    def unsubscribe(self, handle: object) -> None:
        key = self.handles.pop(handle, None)  # type: ignore[call-overload]
        if key is None:
            return
        entry = self.entries[key]
        entry.listeners.pop(handle, None)  # type: ignore[call-overload]
        if not entry.listeners:
            entry.leaving = True
            del self.entries[key]
            if entry.channel is not None:
                self.socket.remove_channel(entry.channel)

    def unsubscribe_all(self) -> None:
        for handle in sorted(self.handles):
            self.unsubscribe(handle)

    def stats(self) -> tuple[int, int]:
        return len(self.entries), sum(len(e.listeners) for e in self.entries.values())


MANAGERS: dict[str, ManagerFactory] = {
    "seed": SeedManager,
    "realtime_js": RealtimeJsManager,
    "recommended": RecommendedManager,
}
