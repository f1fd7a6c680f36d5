"""``OrderFeed``: one Realtime channel per topic, shared by every listener on the page.

A listener asks for a topic and an event (``"*"`` for all). The feed joins the channel
once, dispatches each broadcast's payload to the listeners whose event matches, leaves
the channel with its last listener, and when the server closes the channel opens a new
one after a backoff delay. After every join it asks the page to refetch (``on_resync``),
since anything sent while it was away is not coming back.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

Listener = Callable[[Any], None]


class _Topic:
    def __init__(self, name: str, private: bool) -> None:
        self.name = name
        self.private = private
        self.listeners: dict[int, tuple[str, Listener]] = {}
        self.channel: Any = None
        self.attempts = 0
        self.leaving = False


class OrderFeed:
    """Implements ``bcastsim.stateful.SubscriberManager``; built by the ``ManagerFactory`` signature."""

    def __init__(self, socket: Any, clock: Any, backoff: Any, rng: random.Random,
                 on_resync: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.socket = socket
        self.clock = clock
        self.backoff = backoff
        self.rng = rng
        self.on_resync = on_resync
        self.topics: dict[tuple[str, bool], _Topic] = {}
        self.handles: dict[int, tuple[str, bool]] = {}
        self.next_handle = 0

    def subscribe(self, name: str, event: str, listener: Listener, *, restricted: bool = False) -> object:
        key = (name, restricted)
        topic = self.topics.get(key)
        if topic is None:
            topic = self.topics[key] = _Topic(name, restricted)
            self._join(topic)
        self.next_handle += 1
        topic.listeners[self.next_handle] = (event, listener)
        self.handles[self.next_handle] = key
        return self.next_handle

    def _join(self, topic: _Topic) -> None:
        channel = self.socket.channel(topic.name, private=topic.private)

        def dispatch(envelope: Any) -> None:
            for event, listener in list(topic.listeners.values()):
                if event == "*" or event.lower() == str(envelope["event"]).lower():
                    listener(envelope["payload"])

        def status(value: str) -> None:
            if value == "SUBSCRIBED":
                topic.attempts = 0
                if self.on_resync is not None:
                    self.on_resync(topic.name)
            elif value == "CLOSED" and not topic.leaving:
                topic.channel = None
                self._retry(topic)

        channel.on_broadcast("*", dispatch)
        topic.channel = channel
        channel.subscribe(status)

    def _retry(self, topic: _Topic) -> None:
        topic.attempts += 1
        delay = self.backoff.delay_ms(topic.attempts, self.rng)
        if delay is None:
            return

        def again() -> None:
            if self.topics.get((topic.name, topic.private)) is topic and topic.channel is None:
                self._join(topic)

        self.clock.call_later(delay, again, "app")

    def unsubscribe(self, handle: object) -> None:
        key = self.handles.pop(handle, None)  # type: ignore[call-overload]
        if key is None:
            return
        topic = self.topics[key]
        topic.listeners.pop(handle, None)  # type: ignore[call-overload]
        if not topic.listeners:
            topic.leaving = True
            del self.topics[key]
            if topic.channel is not None:
                self.socket.remove_channel(topic.channel)

    def unsubscribe_all(self) -> None:
        for handle in list(self.handles):
            self.unsubscribe(handle)

    def stats(self) -> tuple[int, int]:
        return len(self.topics), sum(len(t.listeners) for t in self.topics.values())
