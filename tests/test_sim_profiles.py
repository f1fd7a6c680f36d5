"""The simulator's client behaviour is read from bcastsim.client's profiles, not from a copy of them."""

from __future__ import annotations

import pytest

from bcastsim._errors import InputError
from bcastsim.client import PROFILES
from bcastsim.sim import behaviour, profile_names


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_behaviour_follows_the_client_profile(name: str) -> None:
    """Each profile's backoff policies and claims reach the simulator as they are in bcastsim.client."""
    profile = PROFILES[name]
    seen = behaviour(name)
    assert seen.socket_backoff is profile.socket_backoff
    assert seen.close_backoff is profile.backoff
    assert (seen.rejoins_after_error, seen.rejoins_after_close, seen.refetches_after_gap, seen.page_cleans_up) == (
        profile.rejoins_after_error,
        profile.rejoins_after_close,
        profile.refetches_after_gap,
        profile.page_cleans_up,
    )
    assert seen.allowed_anomalies == profile.allowed_anomalies
    assert seen.jittered == (profile.socket_backoff.jitter == "full")


def test_profile_names_are_the_client_profiles() -> None:
    """The simulator offers exactly the profiles bcastsim.client loads, sorted."""
    assert profile_names() == tuple(sorted(PROFILES))


def test_an_unknown_profile_is_an_input_error_with_a_suggestion() -> None:
    """A misspelt profile name is bad input and the fix names the closest profile."""
    with pytest.raises(InputError, match="unknown client profile") as caught:
        behaviour("recomended")
    assert caught.value.fix == 'use "recommended"'
