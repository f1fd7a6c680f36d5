"""Speed profiles: ``fast`` draws shorter histories than ``default``, and both still fire the example's sites."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from bcastsim import InputError, realtime_sql_file
from bcastsim.db import load_schema
from bcastsim.strategies import DEFAULT_SPEED, FAST, History, histories, measure_coverage, speed_profile

SHOP = Path(__file__).parents[1] / "examples" / "shop" / "db"
FILES = [realtime_sql_file(), SHOP / "schema.sql", SHOP / "triggers.sql"]
SCHEMA = load_schema(FILES)
QUICK = settings(max_examples=30, derandomize=True, database=None, deadline=None,
                 suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])  # fmt: skip


def _drawn(**kwargs: object) -> list[History]:
    drawn: list[History] = []

    @QUICK
    @given(history=histories(SCHEMA, **kwargs))  # type: ignore[arg-type]
    def collect(history: History) -> None:
        drawn.append(history)

    collect()
    return drawn


def _most_transactions(drawn: list[History]) -> int:
    """The most transactions of one history, not counting the parents-first seed transaction (when drawn)."""
    return max(len(h.transactions) for h in drawn) - 1


def test_profiles_are_found_by_name_and_unknown_names_are_refused() -> None:
    """speed_profile('fast') is FAST, a Speed passes through, and an unknown name is an InputError listing both."""
    assert speed_profile("fast") is FAST
    assert speed_profile(DEFAULT_SPEED) is DEFAULT_SPEED
    with pytest.raises(InputError) as raised:
        speed_profile("quick")
    assert "default, fast" in raised.value.one_line()


def test_fast_histories_stay_within_the_profile_and_default_goes_deeper() -> None:
    """Under 'fast' no history has more than 2 transactions after its seed; the default draws longer ones."""
    fast = _drawn(speed="fast")
    default = _drawn()
    assert _most_transactions(fast) <= FAST.max_transactions
    assert _most_transactions(default) > FAST.max_transactions
    assert sum(len(t.steps) for h in fast for t in h.transactions) < sum(
        len(t.steps) for h in default for t in h.transactions
    )


def test_explicit_bounds_win_over_the_profile() -> None:
    """max_transactions given to histories() overrides the profile's own bound."""
    assert _most_transactions(_drawn(speed="fast", max_transactions=1)) <= 1


def test_the_fast_profile_still_fires_every_site_of_the_shop() -> None:
    """At the fast profile's own example count every notify site of the shop example fires."""
    coverage = measure_coverage(FILES, examples=FAST.examples, speed=FAST)
    sites = coverage.sites()
    assert len(sites) == 4
    assert all(site.messages for site in sites), coverage.table()
    assert coverage.committed >= 0.9 * coverage.transactions


def test_a_profile_gives_settings_with_its_example_count() -> None:
    """FAST.settings() asks Hypothesis for the profile's examples, derandomized; overrides win."""
    assert FAST.settings().max_examples == FAST.examples
    assert FAST.settings().derandomize
    assert FAST.settings(max_examples=5).max_examples == 5


def _sql(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bcastsim.cli", "sql", *args], capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip


def test_sql_coverage_runs_a_profile_and_refuses_an_unknown_one() -> None:
    """`sql coverage --speed fast` runs the fast profile's 100 examples; --speed quick is one line, exit 2."""
    files = ["bcastsim:realtime", str(SHOP / "schema.sql"), str(SHOP / "triggers.sql")]
    fast = _sql("coverage", *files, "--speed", "fast")
    assert fast.returncode == 0, fast.stdout + fast.stderr
    assert "4/4 notify sites fired" in fast.stdout
    unknown = _sql("coverage", *files, "--speed", "quick")
    assert unknown.returncode == 2
    assert len(unknown.stderr.strip().splitlines()) == 1
    assert "default, fast" in unknown.stderr
