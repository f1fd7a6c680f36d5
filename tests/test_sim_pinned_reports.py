"""Every built-in scenario's report is pinned: a change to the simulator's speed or memory leaves its bytes alone.

A change that means to alter what a scenario reports updates the pins on purpose:
``python tests/test_sim_pinned_reports.py --update`` rewrites ``tests/fixtures/sim_reports.json``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from bcastsim.sim import builtin_scenarios, render_json, render_text, simulate

PINS = Path(__file__).parent / "fixtures" / "sim_reports.json"
SEED = 7
# Every scenario at a small audience; the two whose defaults are quick also as shipped.
CASES = [(name, 300) for name in sorted(builtin_scenarios())] + [("artbattle", None), ("flash_sale", None)]


def _digest(name: str, clients: int | None) -> dict[str, str]:
    report = simulate(name, clients=clients, seed=SEED)
    return {
        "fingerprint": report.fingerprint,
        "json_sha256": hashlib.sha256(render_json(report).encode()).hexdigest(),
        "text_sha256": hashlib.sha256(render_text(report).encode()).hexdigest(),
    }


def _key(name: str, clients: int | None) -> str:
    return f"{name}:{clients if clients is not None else 'default'}"


@pytest.mark.parametrize(("name", "clients"), CASES, ids=[_key(*case) for case in CASES])
def test_builtin_scenario_report_is_unchanged(name: str, clients: int | None) -> None:
    """The scenario's fingerprint, JSON report and text report are the pinned bytes for seed 7."""
    pinned = json.loads(PINS.read_text())
    assert _digest(name, clients) == pinned[_key(name, clients)], (
        f"{_key(name, clients)} reports differently; if that is intended, run "
        "`python tests/test_sim_pinned_reports.py --update`"
    )


def test_every_builtin_scenario_is_pinned() -> None:
    """A scenario added to the built-ins is pinned too."""
    pinned = json.loads(PINS.read_text())
    assert {_key(name, 300) for name in builtin_scenarios()} <= set(pinned)


if __name__ == "__main__" and sys.argv[1:] == ["--update"]:
    PINS.write_text(json.dumps({_key(*case): _digest(*case) for case in CASES}, indent=1, sort_keys=True) + "\n")
