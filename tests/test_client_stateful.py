"""The stateful base class users subclass: recommended passes, the seed's manager fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from bcastsim.client import PROFILES, SeedManager
from bcastsim.contracts import build_contracts
from bcastsim.sqlmodel import load_catalog
from bcastsim.stateful import SubscriberManagerMachine, channels_and_events


class RecommendedMachine(SubscriberManagerMachine):
    profile_name = "recommended"


TestRecommended = RecommendedMachine.TestCase
TestRecommended.settings = settings(max_examples=50, stateful_step_count=20)


class SeedMachine(SubscriberManagerMachine):
    profile_name = "seed"


class CustomSeedMachine(SubscriberManagerMachine):
    manager_factory = SeedManager


@pytest.mark.parametrize("machine", [SeedMachine, CustomSeedMachine])
def test_the_seed_manager_fails_the_machine(machine: type[SubscriberManagerMachine]) -> None:
    """The seed's manager, by profile name or by factory, violates the machine's properties."""
    with pytest.raises(AssertionError):
        run_state_machine_as_test(
            machine, settings=settings(max_examples=200, stateful_step_count=20, report_multiple_bugs=False)
        )


_SHOP_DB = Path(__file__).parents[1] / "examples" / "shop" / "db"
_SHOP = (_SHOP_DB / "schema.sql", _SHOP_DB / "triggers.sql")


def test_channels_and_events_come_from_the_sql() -> None:
    """Each channel template gives two concrete channels; literal event names become the machine's events."""
    channels, events = channels_and_events(_SHOP)
    assert channels == ("order:1", "order:2", "stock:1", "stock:2", "fulfilment_jobs")
    assert events == ("order_deleted", "order_status", "low_stock")


class ShopRecommendedMachine(SubscriberManagerMachine):
    sql_files = _SHOP


TestShopRecommended = ShopRecommendedMachine.TestCase
TestShopRecommended.settings = settings(max_examples=30, stateful_step_count=20)


class ShopSeedMachine(SubscriberManagerMachine):
    manager_factory = SeedManager
    channels = ("order:1", "order:2")
    events = ("order_status",)


def test_the_seed_manager_fails_on_channels_set_by_class_attributes() -> None:
    """Channels and events given as class attributes drive the rules; the seed's manager still fails."""
    with pytest.raises(AssertionError):
        run_state_machine_as_test(
            ShopSeedMachine,
            settings=settings(max_examples=200, stateful_step_count=30, report_multiple_bugs=False),
        )


class _RenamingFeed:
    """The recommended manager, but listeners get ``status`` renamed to ``state``: a broken payload contract."""

    def __init__(self, socket: Any, clock: Any, backoff: Any, rng: Any, on_resync: Any = None) -> None:
        self.inner = PROFILES["recommended"].manager(socket, clock, backoff, rng, on_resync)
        self.wrapped: dict[int, Any] = {}

    def subscribe(self, name: str, event: str, listener: Any, *, restricted: bool = False) -> object:
        def renamed(value: Any) -> None:
            if isinstance(value, dict) and "status" in value:
                value = {("state" if key == "status" else key): item for key, item in value.items()}
            listener(value)

        wrapped = self.wrapped.setdefault(id(listener), renamed)
        return self.inner.subscribe(name, event, wrapped, restricted=restricted)

    def unsubscribe(self, handle: object) -> None:
        self.inner.unsubscribe(handle)

    def unsubscribe_all(self) -> None:
        self.inner.unsubscribe_all()

    def stats(self) -> tuple[int, int]:
        return self.inner.stats()  # type: ignore[no-any-return]


class ShopRenamingMachine(SubscriberManagerMachine):
    manager_factory = _RenamingFeed
    sql_files = _SHOP


def test_a_manager_that_breaks_payload_contracts_fails_the_machine() -> None:
    """Payloads drawn from the SQL's contracts must reach listeners still valid against the contract's JSON Schema."""
    with pytest.raises(AssertionError, match=r"'order_status' payload on order:[12] that breaks its contract"):
        run_state_machine_as_test(
            ShopRenamingMachine,
            settings=settings(max_examples=200, stateful_step_count=20, report_multiple_bugs=False),
        )


class ShopContractsByAttribute(SubscriberManagerMachine):
    channels = ("order:1", "order:2")
    events = ("order_status",)
    contracts = tuple(c for c in build_contracts(load_catalog(list(_SHOP))) if c.message_type == "order_status")


def test_contracts_given_as_class_attributes_drive_payload_broadcasts() -> None:
    """A machine with only class attributes pairs each channel and event with the contract that covers them."""
    machine = ShopContractsByAttribute()
    assert [(c, e, k.message_type) for c, e, k in machine._contracted] == [
        ("order:1", "order_status", "order_status"),
        ("order:2", "order_status", "order_status"),
    ]
    run_state_machine_as_test(ShopContractsByAttribute, settings=settings(max_examples=30, stateful_step_count=20))
