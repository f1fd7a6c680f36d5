"""Invariants of every simulated event, over random seeds, sizes, plans, profiles and faults."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from _sim_support import job_queue_events, small_events
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


@settings(max_examples=15)
@given(job_queue_events())
def test_generic_writes_all_commit_and_every_owed_message_is_accounted(scenario: Scenario) -> None:
    """Any amount and shape of writes commits inside the event, each write sends its one message, and the
    loss table is the delivery checker's count on every architecture."""
    report = simulate(scenario, compare_profiles=())
    (committed,) = report.workload.values()
    assert committed > 0
    for run in report.runs:
        metrics = run.metrics[run.architectures[0]]
        assert metrics["messages_published"] == committed  # one notify site, no condition: one message per write
        assert metrics["updates"]["lost"] == metrics["delivery_check"]["counts"]["lost"]
        assert 0 <= metrics["updates"]["lost"] <= metrics["updates"]["owed"]
        assert metrics["messages_sent"] <= committed * metrics["clients"]
