"""A Hypothesis state machine for testing a subscriber manager on the port of realtime-js.

Subclass :class:`SubscriberManagerMachine`, point ``manager_factory`` at your
manager — a :class:`ManagerFactory` building a :class:`SubscriberManager` — or
``profile_name`` at a built-in profile, name the channels and events it serves
(``sql_files``: read from your triggers' notify sites; or ``channels`` and
``events`` directly), and collect ``YourMachine.TestCase`` with pytest::

    class MyManagerMachine(SubscriberManagerMachine):
        manager_factory = MyManager
        sql_files = ("db/schema.sql", "db/triggers.sql")

    TestMyManager = MyManagerMachine.TestCase

The machine subscribes and unsubscribes listeners, sends broadcasts, and breaks
channels and the socket. It checks that a listener only ever receives events it
asked for, never the same message twice, that every subscribed listener receives
what is sent while nothing has failed, that ``stats()`` counts the listeners it
holds, and that after any fault and enough time listeners receive again.

With payload contracts (``sql_files``: :func:`bcastsim.contracts.build_contracts` of the
same SQL; or ``contracts`` directly) it also broadcasts payloads drawn from each contract's
JSON Schema on the channels and events the contract covers, and checks every payload a
listener receives against that schema: a manager that drops, renames or rewraps fields fails.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
import jsonschema
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bcastsim.client import PROFILES
from bcastsim.client._managers import ManagerFactory, SubscriberManager
from bcastsim.client._ops import (
    Advance,
    Broadcast,
    ChannelClose,
    ChannelError,
    OpRunner,
    SocketDrop,
    Subscribe,
    Unsubscribe,
)
from bcastsim.contracts import Contract

__all__ = [
    "ManagerFactory",
    "SubscriberManager",
    "SubscriberManagerMachine",
    "channels_and_events",
    "contract_payloads",
]

# Rules draw an index into the machine's own channels and events, so subclasses choose them.
_PICK = st.integers(0, 15)
_LISTENERS = st.integers(1, 3)


def channels_and_events(files: Sequence[str | Path]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Two concrete channels per channel template of the SQL's notify sites, and every literal event name.

    A hole in a template (``order:{id}``) is filled with ``1`` and ``2``, so the machine
    checks that a message for one row never reaches a listener of another.
    """
    from bcastsim.sqlmodel import Hole, load_catalog

    channels: dict[str, None] = {}
    events: dict[str, None] = {}
    for site in load_catalog(list(files)).notify_sites:
        for fill in ("1", "2"):
            channels["".join(fill if isinstance(part, Hole) else part for part in site.channel.parts)] = None
        if site.event is not None and site.event.is_literal:
            events[str(site.event)] = None
    return tuple(channels), tuple(events) or ("message",)


def contract_payloads(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """JSON values a contract's schema accepts (the subset :mod:`bcastsim.contracts` writes)."""
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema:
        return st.one_of([contract_payloads(option) for option in schema["anyOf"]])
    kinds = schema.get("type")
    if isinstance(kinds, list):
        return st.one_of([contract_payloads({**schema, "type": kind}) for kind in kinds])
    if kinds == "object":
        properties: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {key: contract_payloads(sub) for key, sub in properties.items() if key in required},
            optional={key: contract_payloads(sub) for key, sub in properties.items() if key not in required},
        )
    if kinds == "string":
        if schema.get("format") == "uuid":
            return st.uuids().map(str)
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        return st.text(max_size=8)
    scalars: dict[str, st.SearchStrategy[Any]] = {
        "integer": st.integers(-(2**31), 2**31 - 1),
        "number": st.integers(-1000, 1000) | st.floats(-1e6, 1e6, allow_nan=False),
        "boolean": st.booleans(),
        "null": st.none(),
        "array": st.lists(st.integers(0, 9), max_size=3),
    }
    return scalars.get(str(kinds), st.none() if kinds is not None else st.integers(0, 9))


def _matches(filter_event: str, event: str) -> bool:
    return filter_event == "*" or filter_event.lower() == event.lower()


class SubscriberManagerMachine(RuleBasedStateMachine):
    """Base machine; subclasses choose the manager under test."""

    profile_name: ClassVar[str] = "recommended"
    manager_factory: ClassVar[ManagerFactory | None] = None
    recovery_ms: ClassVar[int] = 120_000
    #: SQL files whose notify sites name the channels and events (overrides the two below).
    sql_files: ClassVar[Sequence[str | Path]] = ()
    channels: ClassVar[Sequence[str]] = ("room:a", "room:b")
    events: ClassVar[Sequence[str]] = ("bid_update", "winner_update")
    #: Payload contracts to hold received payloads to (by default those of ``sql_files``).
    contracts: ClassVar[Sequence[Contract]] = ()
    _derived: ClassVar[dict[tuple[str, ...], tuple[tuple[str, ...], tuple[str, ...]]]] = {}
    _derived_contracts: ClassVar[dict[tuple[str, ...], tuple[Contract, ...]]] = {}

    def __init__(self) -> None:
        super().__init__()
        self._channels, self._events = self._channels_and_events()
        self._contracted = [
            (channel, event, contract)
            for contract in self._contracts()
            for channel in self._channels
            if re.fullmatch(contract.channel_regex, channel)
            for event in self._events
            if contract.event_regex is None or re.fullmatch(contract.event_regex, event)
        ]
        profile = PROFILES[self.profile_name]
        factory = type(self).manager_factory
        if factory is not None:
            profile = attrs.evolve(profile, manager=factory, manager_name=getattr(factory, "__name__", "custom"))
        self.runner = OpRunner(profile)
        self.active: dict[int, list[tuple[str, str]]] = {}
        self.faulted = False

    def _apply(self, op: Any) -> list[tuple[int, Any]]:
        before = len(self.runner.deliveries)
        self.runner.apply(op)
        got = [(listener, value) for _, listener, value in self.runner.deliveries[before:]]
        if isinstance(op, Broadcast):
            for listener in {listener for listener, _ in got}:
                times = sum(1 for other, _ in got if other == listener)
                asked = sum(1 for c, e in self.active.get(listener, []) if c == op.channel and _matches(e, op.event))
                assert times <= max(asked, 1), (
                    f"listener {listener} received one {op.event!r} message {times} times "
                    f"with {asked} matching subscriptions"
                )
        return got

    @classmethod
    def _channels_and_events(cls) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if not cls.sql_files:
            return tuple(cls.channels), tuple(cls.events)
        key = tuple(str(path) for path in cls.sql_files)
        if key not in cls._derived:
            cls._derived[key] = channels_and_events(cls.sql_files)
        return cls._derived[key]

    @classmethod
    def _contracts(cls) -> tuple[Contract, ...]:
        if cls.contracts or not cls.sql_files:
            return tuple(cls.contracts)
        key = tuple(str(path) for path in cls.sql_files)
        if key not in cls._derived_contracts:
            from bcastsim.contracts import build_contracts
            from bcastsim.sqlmodel import load_catalog

            cls._derived_contracts[key] = build_contracts(load_catalog(list(cls.sql_files)))
        return cls._derived_contracts[key]

    def _channel(self, pick: int) -> str:
        return self._channels[pick % len(self._channels)]

    def _event(self, pick: int) -> str:
        return self._events[pick % len(self._events)]

    def _filter(self, pick: int) -> str:
        options = [*self._events, "*"]
        return options[pick % len(options)]

    @staticmethod
    def _event_of(value: Any) -> str:
        if isinstance(value, dict) and value.get("type") == "broadcast":
            return str(value.get("event"))
        return str(value.get("type")) if isinstance(value, dict) else ""

    @rule(channel_pick=_PICK, event_pick=_PICK, listener=_LISTENERS)
    def subscribe(self, channel_pick: int, event_pick: int, listener: int) -> None:
        channel, event = self._channel(channel_pick), self._filter(event_pick)
        self._apply(Subscribe(channel, event, listener))
        self.active.setdefault(listener, []).append((channel, event))

    @precondition(lambda self: any(self.active.values()))
    @rule(listener=_LISTENERS)
    def unsubscribe(self, listener: int) -> None:
        if self.active.get(listener):
            self._apply(Unsubscribe(listener))
            self.active[listener].pop()

    @rule(channel_pick=_PICK, event_pick=_PICK)
    def broadcast(self, channel_pick: int, event_pick: int) -> None:
        channel, event = self._channel(channel_pick), self._event(event_pick)
        got = self._apply(Broadcast(channel, event))
        receivers = {listener for listener, _ in got}
        for listener, value in got:
            wanted = self.active.get(listener, [])
            assert any(c == channel and _matches(e, self._event_of(value)) for c, e in wanted), (
                f"listener {listener} received {event!r} on {channel} but asked for {wanted}"
            )
        if not self.faulted:
            for listener, wanted in sorted(self.active.items()):
                if any(c == channel and _matches(e, event) for c, e in wanted):
                    assert listener in receivers, f"listener {listener} ({wanted}) missed {event!r} on {channel}"

    @precondition(lambda self: bool(self._contracted))
    @rule(pick=_PICK, data=st.data())
    def broadcast_payload(self, pick: int, data: st.DataObject) -> None:
        """A payload the contract allows reaches listeners still within the contract."""
        channel, event, contract = self._contracted[pick % len(self._contracted)]
        payload = data.draw(contract_payloads(contract.schema), label=f"{contract.message_type} payload")
        for listener, value in self._apply(Broadcast(channel, event, payload)):
            wanted = self.active.get(listener, [])
            assert any(c == channel and _matches(e, event) for c, e in wanted), (
                f"listener {listener} received {event!r} on {channel} but asked for {wanted}"
            )
            problem = jsonschema.exceptions.best_match(
                jsonschema.Draft202012Validator(contract.schema).iter_errors(value)
            )
            assert problem is None, (
                f"listener {listener} received a {contract.message_type!r} payload on {channel} that breaks its "
                f"contract: {problem.message if problem else ''} (sent {payload!r}, received {value!r})"
            )

    @rule(channel_pick=_PICK)
    def channel_error(self, channel_pick: int) -> None:
        self._apply(ChannelError(self._channel(channel_pick)))
        self.faulted = True

    @rule(channel_pick=_PICK)
    def channel_close(self, channel_pick: int) -> None:
        self._apply(ChannelClose(self._channel(channel_pick)))
        self.faulted = True

    @rule()
    def socket_drop(self) -> None:
        self._apply(SocketDrop())
        self.faulted = True

    @precondition(lambda self: self.faulted)
    @rule()
    def recover(self) -> None:
        """After enough quiet time every subscribed listener receives again."""
        self._apply(Advance(self.recovery_ms))
        for channel in self._channels:
            for event in self._events:
                got = {listener for listener, _ in self._apply(Broadcast(channel, event))}
                for listener, wanted in sorted(self.active.items()):
                    if any(c == channel and _matches(e, event) for c, e in wanted):
                        assert listener in got, (
                            f"listener {listener} ({wanted}) receives nothing on {channel} "
                            f"{self.recovery_ms} ms after a fault"
                        )

    @invariant()
    def stats_count_listeners(self) -> None:
        _, listeners = self.runner.manager.stats()
        expected = sum(len(v) for v in self.active.values())
        assert listeners == expected, f"stats() reports {listeners} listeners, {expected} are subscribed"
