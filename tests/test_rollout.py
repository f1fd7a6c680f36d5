"""featureFlags.js rollout: hashCode bit for bit, shouldUseBroadcast precedence, rollout properties."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcastsim.check.rollout import chi_square_critical, flips_on_login, monotone_violations, uniformity
from bcastsim.client import (
    STAGES,
    RolloutFlags,
    SeedRollout,
    StickyRollout,
    Visit,
    hash_code,
    in_rollout,
    should_use_broadcast,
)
from bcastsim.strategies import js_strings, visits


def _reference_hash(text: str) -> int:
    """The same recurrence computed with unbounded integers and reduced once at the end."""
    units = text.encode("utf-16-le", "surrogatepass")
    value = 0
    for i in range(0, len(units), 2):
        value = value * 31 + int.from_bytes(units[i : i + 2], "little")
    value %= 2**32
    return value - 2**32 if value >= 2**31 else value


@given(js_strings())
def test_hash_code_is_the_int32_polynomial_over_utf16_units(text: str) -> None:
    """hashCode equals sum(unit * 31**k) mod 2**32 read as int32, for any string."""
    assert hash_code(text) == _reference_hash(text)
    assert -(2**31) <= hash_code(text) < 2**31


def test_astral_characters_count_as_two_code_units() -> None:
    """An astral character hashes like its surrogate pair, as charCodeAt sees it."""
    assert hash_code("😀") == 31 * 0xD83D + 0xDE00
    assert hash_code("😀") != ord("😀")


def test_math_abs_of_int32_min_stays_in_range() -> None:
    """A hash of -2**31 maps to bucket 48 (JS numbers do not overflow on Math.abs)."""
    # Base-31 digits of 2**31 give a string whose hash wraps to exactly -2**31.
    digits, value = [], 2**31
    while value:
        value, digit = divmod(value, 31)
        digits.append(digit)
    text = "".join(chr(d) for d in reversed(digits))
    assert hash_code(text) == -(2**31)
    assert in_rollout(text, 49)
    assert not in_rollout(text, 48)


@pytest.mark.parametrize(
    ("flags", "user", "expected"),
    [
        (RolloutFlags(url_broadcast="true"), None, True),
        (RolloutFlags(use_broadcast=True, url_broadcast="false"), None, False),
        (RolloutFlags(use_broadcast=True), None, True),
        (RolloutFlags(percentage=0), None, False),
        (RolloutFlags(percentage=100), None, True),
    ],
)
def test_should_use_broadcast_precedence(flags: RolloutFlags, user: str | None, expected: bool) -> None:
    """URL parameter beats the environment flag, which beats the percentage."""
    assert should_use_broadcast(user, "session_1_x", flags) is expected


@given(st.text(min_size=1), st.text(), st.integers(1, 99))
def test_percentage_uses_user_id_when_present(user: str, session: str, pct: int) -> None:
    """With a user id the session id plays no part; without one it decides."""
    flags = RolloutFlags(percentage=pct)
    assert should_use_broadcast(user, session, flags) == in_rollout(user, pct)
    assert should_use_broadcast(None, session, flags) == in_rollout(session, pct)


def test_chi_square_critical_value_for_99_dof() -> None:
    """The Wilson-Hilferty critical value for 99 dof at alpha 0.01 is within 0.1 of the table's 134.642."""
    assert chi_square_critical(99, 0.01) == pytest.approx(134.642, abs=0.1)


def test_uniform_ids_pass_and_skewed_ids_fail() -> None:
    """Random UUIDs spread evenly over 100 buckets; ids that all share one hash do not."""
    rng = random.Random(1)
    ids = [f"{rng.getrandbits(128):032x}" for _ in range(20_000)]
    assert uniformity(ids).ok
    assert not uniformity(["same"] * 5_000 + ids[:5_000]).ok


@given(st.lists(visits(), min_size=1, max_size=20))
def test_rollouts_are_monotone_across_stages(people: list[tuple[Visit, Visit]]) -> None:
    """Nobody in the rollout at one stage is out at a later one."""
    flat = [v for pair in people for v in pair]
    assert monotone_violations(SeedRollout(), flat, STAGES) == []
    assert monotone_violations(StickyRollout(), flat, STAGES) == []


def test_seed_rollout_moves_people_at_login_and_sticky_does_not() -> None:
    """Hashing the session id, then the user id, flips about 2p(1-p) of people; a device id flips none."""
    rng = random.Random(7)
    people = [(Visit(None, f"session_{rng.getrandbits(40)}", f"d{rng.getrandbits(64)}"), None) for _ in range(4000)]
    pairs = [(a, Visit(f"user-{rng.getrandbits(64)}", a.session_id, a.device_id)) for a, _ in people]
    flipped = flips_on_login(SeedRollout(), pairs, 50)
    assert 0.45 < flipped < 0.55
    assert flips_on_login(StickyRollout(), pairs, 50) == 0.0
