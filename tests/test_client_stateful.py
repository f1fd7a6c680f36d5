"""The stateful base class users subclass: recommended passes, the seed's manager fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from bcastsim.client import SeedManager
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
        run_state_machine_as_test(ShopSeedMachine, settings=settings(max_examples=200, stateful_step_count=30))
