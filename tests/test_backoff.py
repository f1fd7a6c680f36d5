"""Backoff policies as data, and the properties the backoff checks compute."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcastsim._errors import InputError
from bcastsim.check.backoff import herd_size, reconnect_after_outage, summarize
from bcastsim.client import BACKOFF_POLICIES, ExponentialBackoff, load_profiles


def test_realtime_js_timers_match_the_client_source() -> None:
    """Socket reconnect [1000, 2000, 5000, 10000] then 10000; channel rejoin [1000, 2000, 5000] then 10000."""
    rng = random.Random(0)
    socket = [BACKOFF_POLICIES["realtime_js"].delay_ms(n, rng) for n in range(1, 7)]
    rejoin = [BACKOFF_POLICIES["realtime_js_rejoin"].delay_ms(n, rng) for n in range(1, 6)]
    assert socket == [1000, 2000, 5000, 10000, 10000, 10000]
    assert rejoin == [1000, 2000, 5000, 10000, 10000]


@given(st.integers(1, 200), st.integers(0, 2**32))
def test_recommended_backoff_is_jittered_below_a_growing_cap(attempt: int, seed: int) -> None:
    """Every recommended delay lies between the floor and min(cap, base * 2**(attempt-1))."""
    policy = BACKOFF_POLICIES["recommended"]
    assert isinstance(policy, ExponentialBackoff)
    delay = policy.delay_ms(attempt, random.Random(seed))
    assert delay is not None
    ceiling = min(policy.cap_ms, policy.base_ms * 2 ** min(attempt - 1, 64))
    assert min(policy.floor_ms, ceiling) <= delay <= ceiling


def test_summaries_tell_growth_cap_and_giving_up_apart() -> None:
    """The seed as written gives up after 5; the seed as run never grows; recommended grows to its cap."""
    written = summarize(BACKOFF_POLICIES["seed_as_written"])
    assert written.gives_up_after == 5
    assert written.delays_ms == (1000, 2000, 4000, 8000, 16000)
    assert written.total_wait_ms == 31000
    run = summarize(BACKOFF_POLICIES["seed"])
    assert not run.grows
    assert run.gives_up_after is None
    recommended = summarize(BACKOFF_POLICIES["recommended"])
    assert recommended.grows
    assert recommended.capped_at_ms == 30000


def test_a_policy_that_gives_up_does_not_survive_a_long_outage() -> None:
    """Giving up after 31 s of retries leaves a client offline after a 60 s outage; retrying forever does not."""
    rng = random.Random(0)
    assert reconnect_after_outage(BACKOFF_POLICIES["seed_as_written"], 60_000, rng) is None
    back = reconnect_after_outage(BACKOFF_POLICIES["realtime_js"], 60_000, rng)
    assert back is not None
    assert 60_000 <= back <= 70_000


def test_without_jitter_every_client_reconnects_in_the_same_100_ms() -> None:
    """No jitter: all clients collide; full jitter spreads them over the first delay's range."""
    assert herd_size(BACKOFF_POLICIES["realtime_js"], 2000) == 2000
    assert herd_size(BACKOFF_POLICIES["seed"], 2000) == 2000
    assert herd_size(BACKOFF_POLICIES["recommended"], 2000) < 2000 // 4


def test_unknown_backoff_kind_is_an_input_error(tmp_path: Path) -> None:
    """A profiles file with an unknown backoff kind is reported as bad input, not a traceback."""
    path = tmp_path / "profiles.toml"
    path.write_text('[backoff.x]\nkind = "fibonacci"\n', encoding="utf-8")
    with pytest.raises(InputError, match="unknown kind"):
        load_profiles(path)
