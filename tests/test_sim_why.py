"""Reports that say why: caps the audience exceeds come first; each run's largest loss is attributed with arithmetic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bcastsim.sim import render_text, simulate
from bcastsim.sim._api import SimulationReport
from bcastsim.sim._report import loss_causes

QUIZ = Path(__file__).parent / "fixtures" / "sim" / "quiz.toml"
JOBS = Path(__file__).parent / "fixtures" / "sim" / "jobs.toml"
ARCH = "broadcast:realtime.send"


# Realtime judges the message rate by its average over up to a minute: Team's 2,500/s absorbs the quiz's
# round-start bursts (about 416 deliveries/s on average), a plan of 300/s does not.
BUSY = {"busy": {"extends": "team", "messages_per_second": 300}}


@pytest.fixture(scope="module")
def team() -> SimulationReport:
    return simulate(QUIZ, plans=BUSY, plan="busy")


@pytest.fixture(scope="module")
def pro() -> SimulationReport:
    return simulate(QUIZ, plan="pro")


def _metrics(report: SimulationReport) -> dict[str, Any]:
    return report.runs[0].metrics[ARCH]


def test_largest_loss_names_the_message_rate_second_and_its_arithmetic(team: SimulationReport) -> None:
    """A sustained rate over the plan's: the report names when the average went over, by how much, and the fan-out."""
    m = _metrics(team)
    rate = m["message_rate"]
    first = next(s for s in rate["busiest_seconds"] if s["second"] == rate["first_second_over_limit"])
    asked = sum(first["deliveries"].values())
    assert rate["average_at_first"] >= 300
    assert rate["deliveries_dropped"] > 0
    assert first["messages"]["answer_submitted"] * 40 == first["deliveries"]["answer_submitted"]
    text = render_text(team)
    why = text[text.index("Why (") :]
    assert "largest cause" in why
    at = f"{first['second'] // 3600}:{first['second'] // 60 % 60:02d}:{first['second'] % 60:02d}"
    assert f"its average over up to the last minute): from {at} the average stood at" in why
    assert f"against busy's 300 messages/s, when {sum(first['messages'].values()):,} messages (" in why
    assert "answer submitted message(s) × 40 subscribers" in why
    assert f"asked for {asked:,} deliveries in one second" in why
    assert "to players were dropped there" in why
    assert f"{rate['deliveries_dropped']:,} in all over the {rate['seconds_over_limit']:,} second(s)" in why


def test_a_burst_the_minute_average_absorbs_loses_nothing() -> None:
    """Eighty lobbies starting a round in one second on Team: over 2,500 deliveries that second, nothing lost."""
    report = simulate(QUIZ)
    m = _metrics(report)
    assert m["message_rate"]["peak_deliveries_per_s"] > 2500
    assert m["updates"]["lost"] == 0
    assert "Why (" not in render_text(report)


def test_causes_add_up_to_the_loss(team: SimulationReport, pro: SimulationReport) -> None:
    """The attributed causes sum to the updates lost: the explanation never contradicts the loss row."""
    for report in (team, pro):
        m = _metrics(report)
        causes = loss_causes(report, m)
        assert sum(n for n, _ in causes) == m["updates"]["lost"]
        assert [n for n, _ in causes] == sorted((n for n, _ in causes), reverse=True)


def test_caps_the_audience_exceeds_come_before_the_numbers(pro: SimulationReport) -> None:
    """3,200 clients on Pro's 500 connections: said above the table, with how many never connected."""
    text = render_text(pro)
    never = _metrics(pro)["connections"]["never_connected"]
    assert never > 0
    caps = text.index("Caps this audience exceeds")
    assert caps < text.index("On plan pro")
    assert "3,200 clients against pro's 500 concurrent connections: 2,700 cannot hold one" in text
    assert f"never connected: broadcast (realtime.send) {never:,}" in text


def test_connection_figures_count_clients_that_never_connected(pro: SimulationReport) -> None:
    """The failure line of the why section counts never-connected clients in both numerator and denominator."""
    c = _metrics(pro)["connections"]
    failed, total = c["failed_episodes"] + c["never_connected"], c["episodes"] + c["never_connected"]
    text = render_text(pro)
    assert f"{failed:,} of {total:,} (re)connections failed ({failed / total:.1%})" in text
    assert f"never connected {c['never_connected']:,} of 3,200" in " ".join(text.split())  # the table's row


def test_a_run_without_loss_or_failure_has_no_why_and_no_caps() -> None:
    """A job queue on an unlimited plan that delivers everything says nothing it cannot back with a number."""
    text = render_text(simulate(JOBS))
    assert "Why (" not in text
    assert "Caps this audience exceeds" not in text


def test_why_is_deterministic(team: SimulationReport) -> None:
    """One seed, one report: the why section renders the same bytes twice."""
    assert render_text(simulate(QUIZ, plans=BUSY, plan="busy")) == render_text(team)


def test_poller_lag_is_explained_by_the_writes_behind_it_and_the_poller_s_cost() -> None:
    """Under postgres_changes with RLS the lag line names the writes since the last calm sample and the drain rate."""
    report = simulate(QUIZ.with_name("quiz_pc.toml"))
    m = report.runs[0].metrics["postgres_changes"]
    context = m["lag_context"]
    written = sum(context["writes"].values())
    span = context["at_s"] - context["since_s"]
    drain = 1000 / (m["database"]["realtime_time_ms"] / m["messages_published"])
    assert written / span > drain  # the backlog the lag shows: more arrived than one poller drains
    text = " ".join(render_text(report).split())
    assert f"while {written:,} writes committed" in text
    assert f"{written / span:,.1f}/s over {span:,.0f} s" in text
    assert f"drains at most {drain:,.1f} changes/s" in text
    assert "the poller was still" in text  # the unattributed loss says what was still queued at the end
