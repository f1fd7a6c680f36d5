"""One truth for loss: the delivery checker's verdict and the report's loss table never disagree."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings

from _sim_support import small_events
from bcastsim.sim import Scenario, builtin_scenarios, render_text, simulate
from bcastsim.sim._report import _checker, _verdict


def _agrees(metrics: dict[str, Any]) -> None:
    check, updates, seen = metrics["delivery_check"], metrics["updates"], metrics["user_visible"]
    lost = check["counts"]["lost"]
    assert lost == updates["lost"]
    assert check["expected"] == updates["owed"] == seen["owed"]
    assert 0 <= updates["lost_while_subscribed"] <= lost
    assert 0 <= updates["recovered_by_refetch"] <= lost
    assert round(lost / max(1, metrics["clients"]), 3) == updates["lost_per_client_mean"]
    # Every owed update either arrived or is lost.
    assert lost + min(check["delivered"], check["expected"]) >= check["expected"]
    assert (_checker(metrics) == "clean") == (not any(check["counts"].values()))
    # The verdict is the requirements': never ok beside a loss they forbid.
    req = metrics["requirements"]
    assert (_verdict(metrics) == "ok") == req["ok"]
    if _verdict(metrics) == "ok" and seen["owed"]:
        # No scenario here declares [requirements]: the defaults allow at most 1 % of the owed not applied.
        assert seen["applied_by_page"] >= 0.99 * seen["owed"] - 1e-6
        assert lost <= 0.01 * seen["owed"] + 1e-6
    # What users see is a share of what they were owed: never more than all of it.
    assert seen["delivered_to_socket"] == updates["owed"] - lost
    assert all(0 <= share <= 1 for share in seen["share_of_owed"].values())
    assert seen["applied_by_page"] <= seen["delivered_to_socket"]
    assert seen["shown_within_1s"] <= seen["shown_within_5s"] <= seen["applied_by_page"]


@pytest.mark.parametrize("name", sorted(builtin_scenarios()))
def test_builtin_scenarios_verdict_matches_loss_table(name: str) -> None:
    """On every built-in scenario the checker's lost count is the table's, and 'ok' means the requirements hold."""
    report = simulate(name, clients=150)
    for run in report.runs:
        for metrics in run.metrics.values():
            _agrees(metrics)
    verdicts = [line for line in render_text(report).splitlines() if line.strip().startswith("verdict")]
    assert verdicts  # the text report shows the verdict _agrees checked


def test_other_profiles_are_the_same_event_in_other_browsers() -> None:
    """The profile runs replay the report's broadcast event: same messages published, own client behaviour."""
    report = simulate("artbattle", clients=150, reference_plan="none")
    send = "broadcast:realtime.send"
    by = {run.profile: run.metrics[send] for run in report.runs if run.architectures == (send,)}
    assert set(by) == {"", "realtime_js", "recommended"}
    assert len({m["messages_published"] for m in by.values()}) == 1
    assert by[""]["user_visible"]["applied_by_page"] == 0
    assert by["realtime_js"]["user_visible"]["applied_by_page"] > 0
    assert "What users see by client profile" in render_text(report)


def test_restart_storm_does_not_call_a_loss_ok() -> None:
    """A restart that costs updates fails the check (seed profile) instead of printing 'ok, lost 0'."""
    report = simulate("restart_storm", clients=300, reference_plan="none", compare_profiles=())
    for run in report.runs:
        metrics = run.metrics[run.architectures[0]]
        assert metrics["updates"]["lost"] > 0
        assert _verdict(metrics).startswith("FAIL")


@settings(max_examples=12)  # each example simulates a small event three times
@given(small_events(max_clients=40))
def test_generated_scenarios_verdict_matches_loss_table(event: tuple[Scenario, dict[str, Any]]) -> None:
    """On generated events (any plan, profile and faults) the verdict and the loss table agree."""
    scenario, options = event
    report = simulate(scenario, **options)
    for run in report.runs:
        for metrics in run.metrics.values():
            _agrees(metrics)
