"""Presence is not simulated: a population that tracks presence says so, and the report states it as an assumption."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcastsim._errors import InputError
from bcastsim._resources import builtin_models_dir
from bcastsim.sim import load_scenario
from bcastsim.sim._api import _assumptions


def _with_presence(tmp_path: Path, value: str) -> Path:
    text = (builtin_models_dir() / "scenarios" / "artbattle.toml").read_text(encoding="utf-8")
    path = tmp_path / "presence.toml"
    declared = text.replace("[populations.admins]\n", f"[populations.admins]\npresence = {value}\n")
    path.write_text(declared, encoding="utf-8")
    return path


def test_no_built_in_scenario_tracks_presence() -> None:
    """Every built-in scenario runs without presence, so none of their reports carries the presence assumption."""
    for path in sorted((builtin_models_dir() / "scenarios").glob("*.toml")):
        scenario = load_scenario(path)
        assert not any(p.presence for p in scenario.populations.values()), path.name
        assert not any(line.startswith("presence") for line in _assumptions(scenario)), path.name


def test_a_population_that_tracks_presence_is_named_in_the_assumptions(tmp_path: Path) -> None:
    """`presence = true` in a population puts one assumption in the report: its presence traffic is not simulated."""
    scenario = load_scenario(_with_presence(tmp_path, "true"))
    (line,) = [line for line in _assumptions(scenario) if line.startswith("presence")]
    assert line.startswith("presence: admins track presence, which is not simulated")


def test_presence_must_be_a_boolean(tmp_path: Path) -> None:
    """A presence that is not true or false is an input error at its line."""
    with pytest.raises(InputError) as error:
        load_scenario(_with_presence(tmp_path, '"yes"'))
    assert error.value.line is not None
