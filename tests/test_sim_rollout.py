"""The seed's staged rollout: the population split by the rollout hash and the rollback triggers."""

from __future__ import annotations

import attrs
import pytest

from _sim_support import tiny
from bcastsim.sim import Scenario, render_text, simulate


def _rollout(**overrides: dict[str, object]) -> Scenario:
    """The tiny event as a rollout, without faults (each stage is a calm event)."""
    return attrs.evolve(tiny().with_overrides(scenario={"mode": "rollout"}, **overrides), faults=())


def test_stages_grow_the_broadcast_population() -> None:
    """Each stage runs both architectures side by side; broadcast's share grows to everyone at 100 %."""
    report = simulate(_rollout(), clients=200)
    counts = [(r.rollback["broadcast_clients"], r.rollback["postgres_changes_clients"]) for r in report.runs]
    assert [r.rollout_percentage for r in report.runs] == [5, 25, 50, 75, 100]
    assert all(b + p == 202 for b, p in counts)
    assert [b for b, _p in counts] == sorted(b for b, _p in counts)
    assert counts[-1] == (202, 0)
    assert 0 < counts[1][0] < 202


@pytest.mark.parametrize("transport", ["pg_notify", "realtime.send"])
def test_triggers_miss_updates_lost_to_pg_notify(transport: str) -> None:
    """The seed's triggers watch failures and lag, not losses: pg_notify loses everything and still 'continues'."""
    report = simulate(_rollout(rollout={"transport": transport}), clients=100, reference_plan="")
    final = report.runs[-1].rollback
    assert final is not None
    lost = final["broadcast_lost_per_client"]
    if transport == "pg_notify":
        assert lost > 0
    else:
        assert lost < 1
    assert all(not r.rollback["rollback"] for r in report.runs if r.rollback)
    assert "Rollout stages" in render_text(report)


def test_refused_connections_trigger_a_rollback() -> None:
    """On Free (200 connections) with 300 clients the failure-rate trigger fires."""
    report = simulate(_rollout(), clients=300, plan="free")
    first = report.runs[0].rollback
    assert first is not None
    assert first["rollback"]
    assert any("connection failure rate" in reason for reason in first["reasons"])
