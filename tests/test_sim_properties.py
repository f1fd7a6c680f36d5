"""Invariants of every simulated event, over random seeds, sizes, plans, profiles and faults."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from _sim_support import small_events
from bcastsim.sim import Scenario, simulate


@settings(max_examples=15)  # each example simulates a whole event three times
@given(small_events())
def test_no_leaks_duplicates_or_reordering(event: tuple[Scenario, dict[str, Any]]) -> None:
    """Whatever happens, no client gets a message twice, out of order, or on a topic it did not join."""
    scenario, options = event
    clients = options["clients"]
    report = simulate(scenario, **options)
    for run in report.runs:
        metrics = run.metrics[run.architectures[0]]
        counts = metrics["delivery_check"]["counts"]
        assert counts["leaked"] == counts["duplicated"] == counts["reordered"] == counts["unauthorized"] == 0
        assert metrics["clients"] == clients + scenario.populations["admins"].count
        assert 0 <= metrics["updates"]["lost"] <= metrics["updates"]["owed"]
        assert metrics["messages_sent"] <= metrics["messages_published"] * metrics["clients"]
        connected = metrics["series"]["connected_clients"]
        assert max(connected, default=0) <= min(metrics["clients"], report.plan.connections)
