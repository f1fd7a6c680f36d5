"""The stateful base class users subclass: recommended passes, the seed's manager fails."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from bcastsim.client import SeedManager
from bcastsim.stateful import SubscriberManagerMachine


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
