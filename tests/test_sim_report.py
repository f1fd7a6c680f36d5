"""Reports: the side-by-side text and the JSON with every metric and time series."""

from __future__ import annotations

import json

from _sim_support import tiny
from bcastsim.sim import render_json, render_text, simulate


def test_json_carries_every_metric_and_series() -> None:
    """Each run's JSON has database, delivery, latency, limits, updates, the checker and aligned series."""
    report = simulate(tiny(), seed=2)
    data = json.loads(render_json(report))
    assert data["seed"] == 2
    assert data["replay"] == report.replay_command
    assert data["fingerprint"] == report.fingerprint
    labels = [run["label"] for run in data["runs"]]
    assert labels == [
        "postgres_changes",
        "broadcast:pg_notify",
        "broadcast:realtime.send",
        "broadcast:realtime.send · realtime_js",
        "broadcast:realtime.send · recommended",
    ]
    for run in data["runs"]:
        metrics = run["metrics"][run["architectures"][0]]
        for key in (
            "database",
            "messages_sent",
            "bytes_sent",
            "latency_ms",
            "limit_violations",
            "updates",
            "delivery_check",
            "connections",
            "peak_poller_lag_ms",
            "peak_retained_wal_bytes",
        ):
            assert key in metrics
        series = metrics["series"]
        lengths = {len(values) for values in series.values()}
        assert len(lengths) == 1
        assert lengths.pop() == int(3600 / 10)


def test_text_sets_architectures_side_by_side() -> None:
    """The text report opens with seed and replay, shows one column per architecture and ends with the fingerprint."""
    report = simulate(tiny(), seed=2)
    text = render_text(report)
    lines = text.splitlines()
    assert lines[0] == "bcastsim simulate · scenario tiny · seed 2"
    assert lines[1] == f"replay: {report.replay_command}"
    header = next(line for line in lines if line.startswith("On plan team"))
    for label in ("postgres_changes", "broadcast (pg_notify)", "broadcast (realtime.send)"):
        assert label in header
    assert "The seed's table 4.2, simulated" in text
    assert "Limit violations" in text
    assert lines[-1] == f"fingerprint: sha256:{report.fingerprint}"


def test_report_says_pg_notify_reaches_no_one() -> None:
    """With the seed's pg_notify triggers the report states that every update was lost."""
    report = simulate(tiny(), seed=2)
    metrics = next(r.metrics["broadcast:pg_notify"] for r in report.runs if r.label == "broadcast:pg_notify")
    assert metrics["messages_sent"] == 0
    assert metrics["updates"]["lost"] == metrics["updates"]["owed"] > 0
    assert "reached no one" in render_text(report)


def test_reference_plan_runs_each_architecture_again() -> None:
    """A reference plan adds one run per architecture and a second table."""
    report = simulate(
        tiny(), seed=2, architectures=["postgres_changes", "broadcast"], reference_plan="unlimited", compare_profiles=()
    )
    assert [(r.label, r.plan) for r in report.runs] == [
        ("postgres_changes", "team"),
        ("broadcast:realtime.send", "team"),
        ("postgres_changes @ unlimited", "unlimited"),
        ("broadcast:realtime.send @ unlimited", "unlimited"),
    ]
    assert "Same event, plan unlimited" in render_text(report)
