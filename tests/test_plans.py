"""Plan limits: one reader of models/plans.toml for the client model and the simulator, strict about input."""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path

import attrs
import pytest

import bcastsim.client
import bcastsim.sim
from bcastsim._errors import InputError
from bcastsim._plans import UNLIMITED, PlanLimits, load_plans, resolve_plans
from bcastsim._resources import builtin_models_dir

_GOOD = """\
[free]
connections = 200
messages_per_second = 100
channel_joins_per_second = 100
channels_per_connection = 100
payload_bytes = 262144
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plans.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_client_and_simulator_share_one_reader() -> None:
    """bcastsim.client and bcastsim.sim export the same PlanLimits and load_plans, and PLANS is what it reads."""
    assert bcastsim.client.PlanLimits is bcastsim.sim.PlanLimits is PlanLimits
    assert bcastsim.client.load_plans is bcastsim.sim.load_plans is load_plans
    assert load_plans() == bcastsim.client.PLANS


def test_the_toml_file_is_the_only_source_of_the_numbers() -> None:
    """Every limit of every built-in plan equals the value in models/plans.toml."""
    data = tomllib.loads((builtin_models_dir() / "plans.toml").read_text(encoding="utf-8"))
    plans = load_plans(include_templates=True)
    assert sorted(plans) == sorted(data)
    for name, table in data.items():
        numbers = {key: float(value) for key, value in table.items() if key != "template"}
        assert attrs.asdict(plans[name]) == {"name": name, **numbers, "realtime": ""}


def test_every_documented_tier_is_a_plan_and_enterprise_a_template() -> None:
    """Free, Pro, Pro without spend cap and Team run; Enterprise can only be extended."""
    plans = load_plans()
    assert sorted(plans) == ["free", "pro", "pro_no_spend_cap", "team"]
    assert plans["pro_no_spend_cap"].connections == plans["team"].connections == 10_000
    assert plans["pro"].presence_messages_per_second == 50
    assert all(p.postgres_changes_payload_bytes == 1_048_576 for p in plans.values())
    contract = resolve_plans({"acme": {"extends": "enterprise", "connections": 40_000}})
    assert contract["acme"].messages_per_second == 2_500
    assert "enterprise" not in contract


def test_a_plan_names_its_realtime_version() -> None:
    """realtime = "2025-08" in a plan is kept; an unknown version is an input error naming the key."""
    plans = resolve_plans({"old": {"extends": "team", "realtime": "2025-08"}})
    assert plans["old"].realtime == "2025-08"
    assert plans["team"].realtime == ""
    with pytest.raises(InputError, match="unknown Realtime version"):
        resolve_plans({"bad": {"extends": "team", "realtime": "1999-01"}})


def test_unlimited_is_added_only_on_request() -> None:
    """The unlimited pseudo-plan is not in the file; include_unlimited adds it with every limit infinite."""
    assert "unlimited" not in load_plans()
    plans = load_plans(include_unlimited=True)
    assert plans["unlimited"] is UNLIMITED
    limits = [key for key in attrs.asdict(UNLIMITED) if key not in {"name", "realtime"}]
    assert all(math.isinf(getattr(UNLIMITED, key)) for key in limits)
    assert UNLIMITED.describe() == "unlimited (no plan limits enforced)"


def test_describe_lists_every_limit() -> None:
    """describe() names the plan and its five limits, payload in KB."""
    plan = PlanLimits("free", 200, 100, 100, 100, 262_144)
    assert plan.describe() == (
        "free: 200 connections · 100 msg/s · 100 joins/s · 100 channels/connection · 262 KB payload"
    )


def test_a_custom_file_is_read_with_lower_case_names(tmp_path: Path) -> None:
    """A plan table named [Free] is found as "free"."""
    plans = load_plans(_write(tmp_path, _GOOD.replace("[free]", "[Free]")))
    assert plans == {"free": PlanLimits("free", 200, 100, 100, 100, 262_144)}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (_GOOD.replace("payload_bytes = 262144\n", ""), 1, "payload_bytes must be a positive integer (missing)"),
        (_GOOD.replace("= 262144", '= "256 KB"'), 6, "payload_bytes must be a positive integer"),
        (_GOOD.replace("connections = 200", "connections = true"), 2, "connections must be a positive integer"),
        (_GOOD.replace("messages_per_second = 100", "messages_per_second = 0"), 3, "messages_per_second"),
        (_GOOD.replace("= 100\nchannels", "= 1.5\nchannels"), 4, "channel_joins_per_second"),
        ("version = 1\n" + _GOOD, 1, "'version' is not a plan table"),
        (_GOOD.replace("[free]", "[unlimited]"), 1, "'unlimited' is reserved"),
        (_GOOD + _GOOD.replace("[free]", "[FREE]"), 7, "'free' is defined twice"),
        (_GOOD.replace("= 200", "= "), 2, "not valid TOML"),
    ],
)
def test_malformed_plans_are_input_errors_at_their_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    """A missing, non-integer or non-positive limit, a non-table entry or a name clash names the file and line."""
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match=re.escape(message)) as caught:
        load_plans(path)
    assert caught.value.path == str(path)
    assert caught.value.line == line


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    """Asking for a plan file that does not exist names the path instead of raising OSError."""
    with pytest.raises(InputError, match="cannot read plan limits") as caught:
        load_plans(tmp_path / "nope.toml")
    assert caught.value.path == str(tmp_path / "nope.toml")
