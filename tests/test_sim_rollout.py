"""The seed's staged rollout: the population split by the rollout hash and the rollback triggers."""

from __future__ import annotations

import attrs
import pytest

from _sim_support import tiny
from bcastsim.sim import FaultConfig, Scenario, render_text, simulate


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


def test_rollout_column_is_the_rollback_triggers_measure() -> None:
    """The stage table's failure rate is the broadcast (re)connections the service failed, per client and drop."""
    restart = FaultConfig(kind="restart", at_s=1500.0, fraction=1.0, duration_s=15.0)
    report = simulate(attrs.evolve(_rollout(), faults=(restart,)), clients=200)
    for run in report.runs:
        assert run.rollback is not None
        bcast = run.metrics[run.architectures[1]]["connections"]
        assert run.rollback["connection_failure_rate"] == bcast["episode_failure_rate"]
        # Every retry of a 15 s outage is an attempt; the trigger counts each client's reconnection once.
        assert bcast["failed_episodes"] <= bcast["episodes"] <= bcast["attempts"]


def test_a_network_blip_on_the_client_side_is_not_a_service_failure() -> None:
    """10 % of browsers losing their network for 20 s fails no (re)connection at the service; a restart does."""
    blip = FaultConfig(kind="disconnect", at_s=1500.0, fraction=0.1, duration_s=20.0)
    restart = FaultConfig(kind="restart", at_s=1500.0, fraction=1.0, duration_s=15.0)
    rates = {}
    for fault in (blip, restart):
        report = simulate(attrs.evolve(_rollout(), faults=(fault,)), clients=200)
        final = report.runs[-1]
        rates[fault.kind] = final.rollback["connection_failure_rate"] if final.rollback else None
        affected = final.metrics[final.architectures[1]]["connections"]["clients_affected"]
        assert affected == (round(0.1 * 202) if fault is blip else 202)
    assert rates["disconnect"] == 0.0
    assert rates["restart"] is not None
    assert rates["restart"] > 0.05
