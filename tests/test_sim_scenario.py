"""Scenario files: the built-in ones load, and bad input fails with one line naming file, line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcastsim import InputError
from bcastsim.sim import RandomTree, build_workload, builtin_scenarios, load_scenario


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_scenarios_load() -> None:
    """Every scenario shipped in models/scenarios validates."""
    names = builtin_scenarios()
    assert {"artbattle", "rollout", "restart_storm"} <= set(names)
    for name in names:
        load_scenario(name)


def test_artbattle_matches_the_live_event() -> None:
    """The default scenario is the event the seed describes: 2,000 users, ~20 artworks, 3 rounds, 3 hours."""
    scenario = load_scenario("artbattle")
    workload = build_workload(scenario, RandomTree(scenario.scenario.seed).stream("workload"))
    assert scenario.clients.audience == 2000
    assert 1 <= scenario.clients.admins <= 10
    assert 16 <= len(workload.artworks) <= 24
    assert len(workload.rounds) == 3
    assert scenario.scenario.duration_s == 3 * 3600
    assert {f.kind for f in scenario.faults} == {"disconnect", "partition", "restart"}
    assert tuple(scenario.rollout.stages) == (5, 25, 50, 75, 100)


def test_votes_bunch_at_each_rounds_end() -> None:
    """Most votes of a round fall in its last burst_s seconds, and bids bunch before the auction closes."""
    scenario = load_scenario("artbattle")
    workload = build_workload(scenario, RandomTree(1).stream("workload"))
    burst = scenario.votes.burst_s * 1000
    for rnd in workload.rounds:
        votes = [w for w in workload.writes if w.kind == "vote" and rnd.start_ms <= w.time_ms <= rnd.end_ms]
        late = [w for w in votes if w.time_ms >= rnd.end_ms - burst]
        assert len(late) > len(votes) / 2
    bids = [w for w in workload.writes if w.kind == "bid"]
    close = scenario.auction.close_s * 1000
    near = [w for w in bids if w.time_ms >= close - scenario.auction.close_window_s * 1000]
    assert len(near) > len(bids) / 2


def test_extends_merges_tables(tmp_path: Path) -> None:
    """A scenario that extends another keeps the base's keys and replaces only what it sets."""
    path = _write(tmp_path, 'extends = "artbattle"\n[clients]\naudience = 123\n')
    scenario = load_scenario(path)
    assert scenario.clients.audience == 123
    assert scenario.clients.admins == load_scenario("artbattle").clients.admins
    assert scenario.faults == load_scenario("artbattle").faults


@pytest.mark.parametrize(
    ("text", "line", "message", "fix"),
    [
        ("[scenario]\nname = 'x'\n\n[clinets]\naudience = 5\n", 4, 'unknown section "clinets"', 'use "clients"'),
        ("[clients]\nadmins = 1\naudeince = 5\n", 3, 'unknown key "audeince" in [clients]', 'use "audience"'),
        ("[clients]\naudience = 'many'\n", 2, "clients.audience must be a whole number", "audience = 2000"),
        ("[votes]\n\nparticipation = 2.0\n", 3, "votes.participation must be in [0, 1], got 2", "participation = 0.8"),
        ("[network]\nsigma = nan\n", 2, "network.sigma must be a finite number in [0, 5]", "sigma = 0.5"),
        ("[scenario]\nduration_s = inf\n", 2, "scenario.duration_s must be a finite number", "duration_s = 10_800"),
        ("[scenario]\nseed = 9223372036854775808\n", 2, "scenario.seed must be in [0, ", "seed = 1"),
        ("[clients]\nrerender_interval_s = 0\n", 2, "clients.rerender_interval_s must be in [1, ", "= 300"),
        ("[event]\nfinalists_per_round = 0\n", 2, "event.finalists_per_round must be in [1, 1_000]", "= 2"),
        ("[clients]\naudience = 1000000000\n", 2, "BCASTSIM_LIMIT_SCALE", "audience = 2_000"),
        ("[[faults]]\nkind = 'restart'\n[[faults]]\nkind = 'reboot'\n", 4, 'unknown fault kind "reboot"', "restart"),
        ("[scenario]\narchitectures = ['broadcats']\n", 2, 'unknown architecture "broadcats"', "broadcast"),
        ("[scenario]\nduration_s = 'long'\n", 2, "scenario.duration_s must be a number", "duration_s = 10800"),
        ("[clients]\npc_tables = ['bid']\n", 2, 'unknown table "bid"', 'use "bids"'),
    ],
)
def test_bad_input_names_file_line_and_fix(tmp_path: Path, text: str, line: int, message: str, fix: str) -> None:
    """Each mistake is reported with the file, the line of the key and a fix."""
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    error = caught.value
    assert error.path == str(path)
    assert error.line == line
    assert message in error.message
    assert error.fix is not None
    assert fix in error.fix
    assert "\n" not in error.one_line()


def test_invalid_toml_reports_its_line(tmp_path: Path) -> None:
    """A TOML syntax error becomes an InputError with the parser's line."""
    path = _write(tmp_path, "[clients]\naudience = = 3\n")
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    assert caught.value.line == 2


def test_unknown_builtin_name_suggests_the_closest() -> None:
    """A misspelt built-in scenario name suggests the right one."""
    with pytest.raises(InputError) as caught:
        load_scenario("artbatle")
    assert caught.value.fix is not None
    assert "artbattle" in caught.value.fix


def test_docs_list_every_range(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/simulate.md lists every scenario key's range as the loader checks it."""
    from bcastsim.sim._ranges import RANGES

    monkeypatch.delenv("BCASTSIM_LIMIT_SCALE", raising=False)
    docs = (Path(__file__).resolve().parents[1] / "docs" / "simulate.md").read_text()
    for (section, key), allowed in RANGES.items():
        assert f"| `{section}.{key}` | {allowed.describe()} |" in docs, (section, key)
