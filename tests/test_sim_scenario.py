"""Scenario files: the built-in ones load, and bad input fails with one line naming file, line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcastsim import InputError
from bcastsim.sim import RandomTree, app_model, build_workload, builtin_scenarios, check_scenario, load_scenario


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _workload(name: str = "artbattle"):  # type: ignore[no-untyped-def]
    scenario = load_scenario(name)
    app = app_model(scenario)
    return scenario, build_workload(scenario, app, RandomTree(scenario.scenario.seed).stream("workload"))


def test_builtin_scenarios_load() -> None:
    """Every scenario shipped in models/scenarios validates, against its SQL too."""
    names = builtin_scenarios()
    assert {"artbattle", "rollout", "restart_storm", "backtest", "flash_sale"} <= set(names)
    for name in names:
        scenario = load_scenario(name)
        check_scenario(scenario, app_model(scenario))


def test_artbattle_matches_the_live_event() -> None:
    """The default scenario is the event the seed describes: 2,000 users, ~20 artworks, 3 rounds, 3 hours."""
    scenario, workload = _workload()
    assert scenario.audience == 2000
    assert 1 <= scenario.populations["admins"].count <= 10
    assert 16 <= len(workload.instances["artwork"]) <= 24
    assert [p.name for p in scenario.phases if p.name.startswith(("round", "final"))] == ["round 1", "round 2", "final"]
    assert scenario.scenario.duration_s == 3 * 3600
    assert {f.kind for f in scenario.faults} == {"disconnect", "partition", "restart"}
    assert tuple(scenario.rollout.stages) == (5, 25, 50, 75, 100)
    assert workload.count("bids") == 20 * 30
    assert workload.count("votes") == 3 * round(2000 * 0.8)


def test_votes_bunch_at_each_rounds_end() -> None:
    """Most votes of a round fall in its last burst_s seconds, and bids bunch before each artwork's close."""
    scenario, workload = _workload()
    votes_cfg = scenario.writes["votes"]
    for name in votes_cfg.phases:
        phase = scenario.phase(name)
        start, end = phase.start_s * 1000, (phase.start_s + phase.duration_s) * 1000
        votes = [w for w in workload.writes if w.source == "votes" and start <= w.time_ms <= end]
        late = [w for w in votes if w.time_ms >= end - votes_cfg.burst_s * 1000]
        assert len(late) > len(votes) / 2
    bids_cfg = scenario.writes["bids"]
    bids = [w for w in workload.writes if w.source == "bids"]
    near = [w for w in bids if w.critical]
    assert len(near) > len(bids) / 2
    for write in near:
        close = (bids_cfg.to_s + write.index * bids_cfg.stagger_s) * 1000
        assert close - bids_cfg.critical_s * 1000 <= write.time_ms <= close


def test_writes_send_the_sqls_messages_on_entity_topics() -> None:
    """A bid about artwork k sends the two bid_update messages of the SQL, on artwork k's and its event's topics."""
    _scenario, workload = _workload()
    bid = next(w for w in workload.writes if w.source == "bids")
    topics = sorted(topic for _index, topic in bid.sends)
    assert topics == sorted([f"broadcast:bid:artwork-{bid.index}", "broadcast:admin:event-0"])
    winner = next(w for w in workload.writes if w.source == "winners")
    assert [topic for _index, topic in winner.sends] == ["broadcast:event:event-0"]
    canvas = next(w for w in workload.writes if w.source == "canvases")
    assert canvas.sends == ()  # no trigger sends on art INSERT; postgres_changes still sees it
    assert canvas.pc_kind == "art_insert"


def test_final_canvases_appear_when_the_final_starts() -> None:
    """Instances of an appear_in phase appear at its start; the others exist from the beginning."""
    scenario, workload = _workload()
    final = scenario.phase("final").start_s * 1000
    appear = sorted({i.appear_ms for i in workload.instances["artwork"]})
    assert appear == [0.0, final]
    assert sum(1 for i in workload.instances["artwork"] if i.appear_ms == final) == 4


def test_extends_merges_tables(tmp_path: Path) -> None:
    """A scenario that extends another keeps the base's keys and replaces only what it sets."""
    path = _write(tmp_path, 'extends = "artbattle"\n[populations.audience]\ncount = 123\n')
    scenario = load_scenario(path)
    base = load_scenario("artbattle")
    assert scenario.audience == 123
    assert scenario.populations["audience"].follow == base.populations["audience"].follow
    assert scenario.populations["admins"] == base.populations["admins"]
    assert scenario.faults == base.faults


_BASE = 'extends = "artbattle"\n'


def _assert_one_line(error: InputError, path: Path, line: int, message: str, fix: str) -> None:
    assert error.path == str(path)
    assert error.line == line
    assert message in error.message
    assert error.fix is not None
    assert fix in error.fix
    assert "\n" not in error.one_line()


@pytest.mark.parametrize(
    ("text", "line", "message", "fix"),
    [
        (
            _BASE + "[scenario]\nname = 'x'\n\n[populatons.x]\ncount = 5\n",
            5,
            'unknown section "populatons"',
            "populations",
        ),
        (_BASE + "[populations.audience]\nwaves = 1\ncuont = 5\n", 4, 'unknown key "cuont"', 'use "count"'),
        (_BASE + "[populations.audience]\ncount = 'many'\n", 3, "count must be a whole number", "count = 1"),
        (_BASE + "[populations.audience]\ncount = 0\n", 3, "populations.audience.count must be in [1, ", "count"),
        (_BASE + "[writes.bids]\nper_entity = -3\n", 3, "writes.bids.per_entity must be in [0, ", "per_entity"),
        (_BASE + "[writes.votes]\n\nearly_fraction = 2.0\n", 4, "early_fraction must be in [0, 1], got 2", "= 0.25"),
        (_BASE + "[writes.bids]\nrate_per_s = nan\n", 3, "rate_per_s must be a finite number", "rate_per_s"),
        (_BASE + "[network]\nsigma = nan\n", 3, "network.sigma must be a finite number in [0, 5]", "sigma = 0.5"),
        (_BASE + "[scenario]\nduration_s = inf\n", 3, "scenario.duration_s must be a finite number", "10_800"),
        (_BASE + "[scenario]\nseed = 9223372036854775808\n", 3, "scenario.seed must be in [0, ", "seed = 1"),
        (_BASE + "[populations.admins]\nrerender_interval_s = 0\n", 3, "rerender_interval_s must be in [1, ", "= 300"),
        (_BASE + "[populations.audience]\ncount = 1000000000\n", 3, "BCASTSIM_LIMIT_SCALE", "count"),
        (
            _BASE + "[[faults]]\nkind = 'restart'\n[[faults]]\nkind = 'reboot'\n",
            5,
            'unknown fault kind "reboot"',
            "restart",
        ),
        (_BASE + "[scenario]\narchitectures = ['broadcats']\n", 3, 'unknown architecture "broadcats"', "broadcast"),
        (_BASE + "[scenario]\nduration_s = 'long'\n", 3, "scenario.duration_s must be a number", "duration_s = 10800"),
        (_BASE + "[writes.bids]\nentity = 'artwrk'\n", 3, 'unknown entity "artwrk"', 'use "artwork"'),
        (_BASE + "[writes.votes]\nphases = ['round 4']\n", 3, 'unknown phase "round 4"', "round"),
        (_BASE + "[writes.votes]\npopulation = 'audiense'\n", 3, 'unknown population "audiense"', 'use "audience"'),
        (_BASE + "[writes.bids]\nshape = 'burst'\n", 3, 'unknown shape "burst"', "bunched"),
        (_BASE + "[writes.bids]\ncount = 5\n", 2, "exactly one positive amount", "per_entity"),
        (_BASE + "[entities.artwork]\nparent = 'evnt'\n", 3, 'unknown entity "evnt"', 'use "event"'),
        (
            _BASE + "[writes.winners]\nemits = { winner_update = 1.5 }\n",
            3,
            "emits.winner_update must be in [0, 1]",
            "1",
        ),
    ],
)
def test_bad_input_names_file_line_and_fix(tmp_path: Path, text: str, line: int, message: str, fix: str) -> None:
    """Each mistake is reported with the file, the line of the key and a fix."""
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    _assert_one_line(caught.value, path, line, message, fix)


@pytest.mark.parametrize(
    ("text", "line", "message", "fix"),
    [
        (_BASE + "[writes.bids]\ntable = 'bid'\n", 3, 'writes to "bid", which the SQL does not define', 'use "bids"'),
        (_BASE + "[writes.people]\ntable = 'people'\nentity = 'event'\ncount = 3\n", 3, "no trigger", "trigger"),
        (
            _BASE + "[writes.more]\ntable = 'art'\nop = 'UPDATE'\nentity = 'artwork'\ncount = 3\n",
            2,
            "reaches winner_update, sent only when OLD.is_winner IS DISTINCT FROM NEW.is_winner",
            "emits = { winner_update = 0.3 }",
        ),
        (
            _BASE + "[writes.winners]\nemits = { winer_update = 1.0, auction_update = 0 }\n",
            3,
            '"winer_update"',
            "winner_update",
        ),
        (_BASE + "[writes.bids]\nentity = 'event'\n", 3, "cannot fill {bids.art_id}", "bids.art_id"),
        (
            _BASE + "[populations.audience]\nfollow = [{ topic = 'broadcast:bids:{bids.art_id}' }]\n",
            3,
            'unknown topic "broadcast:bids:{bids.art_id}"',
            "broadcast:bid:{bids.art_id}",
        ),
        (_BASE + "[populations.audience]\npc_tables = ['bid']\n", 3, 'unknown table "bid"', 'use "bids"'),
        (_BASE + "[populations.admins]\nreactions = { vote_updte = 1 }\n", 3, '"vote_updte"', "vote_update"),
        (_BASE + "[reactions]\nbid_updat = 1\n", 3, 'unknown message type "bid_updat"', "bid_update"),
        (_BASE + "[scenario]\nsql = ['builtin:shopp']\n", 3, 'no built-in SQL "builtin:shopp"', "builtin:shop"),
        (_BASE + "[scenario]\nsql = ['db/missing.sql']\n", 3, "missing.sql, which does not exist", "relative to"),
    ],
)
def test_input_the_sql_contradicts_names_file_line_and_fix(
    tmp_path: Path, text: str, line: int, message: str, fix: str
) -> None:
    """Tables, topics, message types and placeholders the app's SQL does not have: one line, file, line, fix."""
    path = _write(tmp_path, text)
    scenario = load_scenario(path)
    with pytest.raises(InputError) as caught:
        check_scenario(scenario, app_model(scenario))
    _assert_one_line(caught.value, path, line, message, fix)


def test_invalid_toml_reports_its_line(tmp_path: Path) -> None:
    """A TOML syntax error becomes an InputError with the parser's line."""
    path = _write(tmp_path, "[populations.audience]\ncount = = 3\n")
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
    """docs/scenarios.md lists every scenario key's range as the loader checks it."""
    from bcastsim.sim._ranges import RANGES

    monkeypatch.delenv("BCASTSIM_LIMIT_SCALE", raising=False)
    docs = (Path(__file__).resolve().parents[1] / "docs" / "scenarios.md").read_text()
    for (section, key), allowed in RANGES.items():
        assert f"| `{section}.{key}` | {allowed.describe()} |" in docs, (section, key)


def test_shipped_json_schema_is_the_loaders_and_accepts_every_scenario() -> None:
    """models/scenario.schema.json matches the loader's keys and validates every built-in and fixture scenario."""
    import json
    import tomllib

    import jsonschema

    from bcastsim._resources import builtin_models_dir
    from bcastsim.sim._scenario import scenario_json_schema

    shipped = json.loads((builtin_models_dir() / "scenario.schema.json").read_text())
    assert shipped == scenario_json_schema()
    validator = jsonschema.Draft202012Validator(shipped)
    fixtures = Path(__file__).parent
    paths = [
        *builtin_scenarios().values(),
        fixtures / "data" / "sim_tiny.toml",
        fixtures / "fixtures" / "sim" / "jobs.toml",
    ]
    for path in paths:
        errors = list(validator.iter_errors(tomllib.loads(path.read_text())))
        assert not errors, (path.name, [e.message for e in errors])
    assert list(validator.iter_errors({"populations": {"audience": {"cuont": 5}}}))
