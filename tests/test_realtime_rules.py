"""Realtime's server rules as versioned data: models/realtime/<version>.toml."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from _sim_support import TINY
from bcastsim._errors import InputError
from bcastsim.sim import load_scenario, render_json, render_text, simulate
from bcastsim.sim._realtime_rules import (
    OVER_LIMIT,
    load_realtime_rules,
    newest_realtime_version,
    realtime_versions,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "realtime-rules.md"


def test_versions_cover_the_seed_and_today() -> None:
    """There is a rule set for mid-2025 (the seed's time) and the newest one is the default."""
    versions = realtime_versions()
    assert "2025-08" in versions
    assert newest_realtime_version() == versions[-1] == load_realtime_rules().version


def test_postgres_changes_were_unlimited_until_late_2025() -> None:
    """2025-08 never limits postgres_changes; the later sets drop changes over the limit at the poller."""
    assert load_realtime_rules("2025-08").rule("postgres_changes").over_limit == "none"
    assert not load_realtime_rules("2025-08").postgres_changes_limited
    later = [v for v in realtime_versions() if v > "2025-10"]
    assert later
    for version in later:
        rules = load_realtime_rules(version)
        assert rules.rule("postgres_changes").over_limit == "drop_at_poller"
        assert rules.postgres_changes_limit(2500.0) == 2500.0


def test_counter_window_is_a_minute_in_every_version() -> None:
    """Every version averages over up to 60 s: 60 one-second buckets, later 12 five-second ones."""
    assert (load_realtime_rules("2025-08").counter.tick_s, load_realtime_rules("2025-08").counter.buckets) == (1, 60)
    assert (load_realtime_rules("2026-08").counter.tick_s, load_realtime_rules("2026-08").counter.buckets) == (5, 12)
    for version in realtime_versions():
        assert load_realtime_rules(version).counter.window_s == 60


def test_unknown_version_is_an_input_error() -> None:
    """A version without a rule set is one line naming the versions there are."""
    with pytest.raises(InputError, match="unknown Realtime version") as info:
        load_realtime_rules("2024-01", where="[scenario] realtime")
    assert "2025-08" in (info.value.fix or "")


def test_every_rule_is_cited_in_the_docs() -> None:
    """docs/realtime-rules.md names, for every version, the commit read and each kind's source file."""
    text = DOC.read_text(encoding="utf-8")
    for version in realtime_versions():
        rules = load_realtime_rules(version)
        assert rules.read_at[:8] in text, version
        for kind in OVER_LIMIT:
            assert rules.rule(kind).source in text, (version, kind)
    assert re.search(r"rate_counter\.ex", text)


def test_a_scenario_names_its_version_and_the_report_says_which(tmp_path: Path) -> None:
    """[scenario] realtime = "2025-08" runs under those rules, and the text and JSON reports name them."""
    scenario = load_scenario(TINY).with_overrides(scenario={"realtime": "2025-08"})
    report = simulate(scenario, clients=20, architectures=["broadcast"], reference_plan="")
    assert "Rules   Realtime 2025-08 (supabase/realtime f3e4cfc7)" in render_text(report)
    assert json.loads(render_json(report))["plan"]["realtime_rules"].startswith("Realtime 2025-08")
    newest = simulate(TINY, clients=20, architectures=["broadcast"], reference_plan="")
    assert newest.realtime.startswith(f"Realtime {newest_realtime_version()}")


def test_a_plan_names_the_version_unless_the_scenario_does() -> None:
    """A plan's realtime applies when the scenario names none; the scenario's wins when it does."""
    plans = {"old": {"extends": "team", "realtime": "2025-08"}}
    by_plan = simulate(TINY, clients=20, architectures=["broadcast"], reference_plan="", plan="old", plans=plans)
    assert by_plan.realtime.startswith("Realtime 2025-08")
    scenario = load_scenario(TINY).with_overrides(scenario={"realtime": "2025-11"})
    both = simulate(scenario, clients=20, architectures=["broadcast"], reference_plan="", plan="old", plans=plans)
    assert both.realtime.startswith("Realtime 2025-11")


def test_an_unknown_version_in_a_scenario_file_names_its_line(tmp_path: Path) -> None:
    """realtime = "2024-01" in a scenario file is an input error at that line, before any run."""
    text = TINY.read_text(encoding="utf-8").replace("[scenario]\n", '[scenario]\nrealtime = "2024-01"\n', 1)
    path = tmp_path / "old.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="unknown Realtime version") as info:
        simulate(path, clients=5)
    assert info.value.line == text.splitlines().index('realtime = "2024-01"') + 1
