"""A user's plans file (a contract): plans beside the built-ins, read alike by simulate, the CLI and check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from _sim_support import TINY
from bcastsim._errors import InputError
from bcastsim._plans import PlanLimits, load_plans, resolve_plans
from bcastsim.cli import main
from bcastsim.sim import simulate, sweep

_CONTRACT = Path(__file__).parent / "fixtures" / "plans" / "enterprise.toml"


def _write(tmp_path: Path, text: str, name: str = "contract.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_plan_extends_a_builtin_and_overrides_some_limits() -> None:
    """enterprise extends team: its own limits replace team's, the rest are team's."""
    plans = resolve_plans(_CONTRACT)
    team = load_plans()["team"]
    enterprise = plans.get_plan("enterprise")
    joins, payload = team.channel_joins_per_second, team.payload_bytes
    presence = team.presence_messages_per_second
    assert enterprise == PlanLimits(
        "enterprise",
        50_000,
        20_000,
        joins,
        500,
        payload,
        presence_messages_per_second=presence,
        presence_keys_per_object=team.presence_keys_per_object,
        postgres_changes_payload_bytes=team.postgres_changes_payload_bytes,
    )
    assert plans.own == ("enterprise", "enterprise_eu")
    assert plans["free"] == load_plans()["free"]
    assert plans["unlimited"].name == "unlimited"


def test_a_plan_extends_another_plan_of_the_same_file_whatever_the_order() -> None:
    """enterprise_eu, written after enterprise, takes enterprise's limits and lowers its connections."""
    plans = resolve_plans(_CONTRACT)
    eu = plans.get_plan("enterprise_eu")
    assert eu.connections == 20_000
    assert eu.messages_per_second == plans["enterprise"].messages_per_second


def test_a_file_plan_of_a_builtin_name_replaces_the_builtin(tmp_path: Path) -> None:
    """[team] in the user's file with extends = "team" raises team's connections for this run only."""
    plans = resolve_plans(_write(tmp_path, '[team]\nextends = "team"\nconnections = 12000\n'))
    assert plans["team"].connections == 12_000
    assert load_plans()["team"].connections == 10_000


def test_a_mapping_is_read_like_the_file() -> None:
    """simulate(plans={...}) takes PlanLimits or tables shaped like the file's, extends included."""
    plans = resolve_plans({"big": {"extends": "pro", "connections": 3000}, "own": PlanLimits("own", 1, 2, 3, 4, 5)})
    assert plans["big"].connections == 3000
    assert plans["big"].messages_per_second == load_plans()["pro"].messages_per_second
    assert plans["own"] == PlanLimits("own", 1, 2, 3, 4, 5)


@pytest.mark.parametrize(
    ("text", "line", "message", "fix"),
    [
        ("[gold]\nconnections = 10\n", 1, "messages_per_second must be a positive integer (missing)", "extends ="),
        ('[gold]\nextends = "team"\nconnections = 0\n', 3, "connections must be a positive integer", "e.g."),
        ('[gold]\nextends = "team"\nconnections = -5\n', 3, "connections must be a positive integer", "e.g."),
        ('[gold]\nextends = "team"\nconnections = inf\n', 3, "must be a positive integer, got inf", "not inf"),
        ('[gold]\nextends = "team"\nconnections = nan\n', 3, "must be a positive integer, got nan", "e.g."),
        ('[gold]\nextends = "tem"\n', 2, "extends unknown plan 'tem'", "extend one of"),
        ('[gold]\nextends = "gold"\n', 2, "plan 'gold' extends itself", "remove the cycle"),
        ('[a]\nextends = "b"\n[b]\nextends = "a"\n', 4, "plan 'b' extends 'a', which extends it back", "the cycle"),
        ('[gold]\nextends = "unlimited"\n', 2, "extends unknown plan 'unlimited'", "extend one of"),
        ('[gold]\nextends = "team"\nconections = 5\n', 3, "unknown key 'conections'", "the keys of a plan"),
        ("[gold]\nextends = 3\n", 2, "extends must be a plan name", 'extends = "team"'),
    ],
)
def test_bad_plans_are_one_line_naming_file_line_key_and_fix(
    tmp_path: Path, text: str, line: int, message: str, fix: str
) -> None:
    """Missing limits without extends, zero/negative/inf/NaN limits and bad extends name the file, line and fix."""
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match=re.escape(message)) as caught:
        resolve_plans(path)
    assert (caught.value.path, caught.value.line) == (str(path), line)
    assert fix in (caught.value.fix or "")


def test_an_unknown_plan_lists_the_plans_of_the_file_and_the_builtins() -> None:
    """--plan enterprize names the file's plans and the built-in ones in one line."""
    with pytest.raises(InputError) as caught:
        simulate(TINY, clients=20, plan="enterprize", plans=_CONTRACT)
    line = caught.value.one_line()
    assert f"in {_CONTRACT}: enterprise, enterprise_eu" in line
    assert "built in: free, pro, pro_no_spend_cap, team, unlimited" in line


def test_simulate_enforces_the_contracts_limits() -> None:
    """A plan admitting 30 connections refuses some of 60 clients that team admits."""
    plans = {"tiny_contract": {"extends": "team", "connections": 30}}
    report = simulate(TINY, architectures=["broadcast"], plan="tiny_contract", plans=plans, compare_profiles=())
    refused = report.runs[0].metrics["broadcast:realtime.send"]["limit_violations"]
    baseline = simulate(TINY, architectures=["broadcast"], plan="team", compare_profiles=())
    assert report.plan.connections == 30
    assert refused["connections_refused"] > 0
    assert baseline.runs[0].metrics["broadcast:realtime.send"]["limit_violations"]["connections_refused"] == 0


def test_the_scenario_names_its_plans_file_relative_to_itself(tmp_path: Path) -> None:
    """[scenario] plans = "contract.toml" is read beside the scenario file, and the replay needs no --plans."""
    _write(tmp_path, '[gold]\nextends = "team"\nconnections = 30\n')
    scenario = _write(
        tmp_path,
        f'extends = "{TINY.as_posix()}"\n[scenario]\nplans = "contract.toml"\nplan = "gold"\n',
        name="event.toml",
    )
    report = simulate(scenario, architectures=["broadcast"], compare_profiles=())
    assert report.plan.name == "gold"
    assert report.plan.connections == 30
    assert "--plans" not in report.replay_command


def test_a_sweep_over_plans_reads_the_scenarios_plans_file(tmp_path: Path) -> None:
    """--sweep plan=team,gold finds gold in the scenario's own plans file, and gold's limits apply."""
    _write(tmp_path, '[gold]\nextends = "team"\nconnections = 30\n')
    scenario = _write(tmp_path, f'extends = "{TINY.as_posix()}"\n[scenario]\nplans = "contract.toml"\n', "event.toml")
    team, gold = sweep(scenario, grid={"plan": ["team", "gold"]}, jobs=1, architectures=["broadcast"])
    assert (team.point, gold.point) == ({"plan": "team"}, {"plan": "gold"})
    assert "--plan gold" in gold.replay
    assert team.fingerprint != gold.fingerprint


def test_the_cli_runs_a_user_plan_and_its_replay_names_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    """bcastsim simulate --plans FILE --plan enterprise reports the plan and replays with the same file."""
    status = main(
        ["simulate", str(TINY), "--clients", "20", "--arch", "broadcast", "--plans", str(_CONTRACT), "--plan",
         "enterprise", "--format", "json"]
    )  # fmt: skip
    out, _err = capsys.readouterr()
    assert status == 0
    assert '"name": "enterprise"' in out
    assert f"--plans {_CONTRACT} --plan enterprise" in out


def test_the_cli_names_a_bad_plans_file_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A plan without a limit and without extends exits 2 with one line naming the file and the missing key."""
    path = _write(tmp_path, "[gold]\nconnections = 10\n")
    status = main(["simulate", str(TINY), "--plans", str(path), "--plan", "gold"])
    _out, err = capsys.readouterr()
    assert status == 2
    assert len(err.strip().splitlines()) == 1
    assert f"{path}:1:" in err
    assert "(missing)" in err


def test_check_reads_the_same_plans_file() -> None:
    """check --client seed --plans FILE speaks of the contract's message rate in plan.fan-out."""
    from bcastsim.client import run_client_checks

    findings = run_client_checks("seed", seed=0, max_examples=5, plans=resolve_plans(_CONTRACT))
    (fan_out,) = [f for f in findings if f.rule == "plan.fan-out"]
    assert "enterprise 10," in fan_out.message
    assert "unlimited" not in fan_out.message


def test_check_refuses_plans_without_client_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--plans on check without --client would be read by nothing: one line saying what to add."""
    status = main(["check", str(Path(__file__).parents[1] / "sql"), "--plans", str(_CONTRACT)])
    _out, err = capsys.readouterr()
    assert status == 2
    assert "--client" in err


def test_check_client_reads_the_plans_file_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    """bcastsim check --client seed --plans FILE reports plan.fan-out with the contract's plans."""
    status = main(["check", "--client", "seed", "--plans", str(_CONTRACT), "--format", "json", "--fail-on", "never"])
    out, _err = capsys.readouterr()
    assert status == 0
    assert "enterprise 10," in out
