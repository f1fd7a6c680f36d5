"""Verdicts are the scenario's [requirements], met or not: the client profile explains losses, never excuses them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcastsim.sim import load_scenario, render_text, simulate
from bcastsim.sim._metrics import owed_percentile
from bcastsim.sim._report import _checker, _verdict
from bcastsim.sim._requirements import judge
from bcastsim.sim._scenario import RequirementsConfig

SEND = "broadcast:realtime.send"


def test_owed_percentile_counts_the_lost_as_late() -> None:
    """With 10 % lost, the p50 of the owed is the p55.6 of the arrived, and the p95 exists only if ≤ 5 % are lost."""
    hist = {float(v): 1 for v in range(1, 101)}  # 100 arrived, latencies 1..100 ms
    assert owed_percentile(hist, 50.0, 1.0) == 50.0
    assert owed_percentile(hist, 50.0, 0.9) == 56.0  # rank ceil(100 * 50 / 90)
    assert owed_percentile(hist, 95.0, 0.96) == 99.0
    assert owed_percentile(hist, 95.0, 0.9) is None
    assert owed_percentile(hist, 50.0, 0.0) is None


def test_a_profile_that_accepts_losses_still_fails_the_requirement() -> None:
    """restart_storm under the seed profile: the checker's profile allows losses, the verdict still fails on them."""
    report = simulate("restart_storm", clients=300, reference_plan="none", compare_profiles=())
    for run in report.runs:
        metrics = run.metrics[run.architectures[0]]
        assert metrics["updates"]["lost"] > 0
        assert _verdict(metrics).startswith("FAIL")
        failed = [c["requirement"] for c in metrics["requirements"]["checks"] if not c["ok"]]
        assert "updates applied by the page" in failed


def test_page_that_cannot_read_fails_and_says_why() -> None:
    """The seed profile's page reads none of what reached the socket: the verdict fails and names the profile."""
    report = simulate("artbattle", clients=100, architectures=[SEND], reference_plan="none", compare_profiles=())
    metrics = report.runs[0].metrics[SEND]
    check = next(c for c in metrics["requirements"]["checks"] if c["requirement"] == "updates applied by the page")
    assert not check["ok"]
    assert "profile seed" in check["why"]
    assert "FAIL updates applied by the page" in render_text(report)


def test_declared_requirements_decide_the_verdict() -> None:
    """A [requirements] table replaces the defaults: a lenient share passes a run that the default fails."""
    base = load_scenario("restart_storm")
    strict = simulate(base, clients=200, architectures=[SEND], reference_plan="none", compare_profiles=())
    lenient_scenario = base.with_overrides(
        requirements={"delivered_share": 0.0, "critical_p95_ms": 3_600_000.0, "connection_failure_share": 1.0}
    )
    lenient = simulate(lenient_scenario, clients=200, architectures=[SEND], reference_plan="none", compare_profiles=())
    m_strict, m_lenient = strict.runs[0].metrics[SEND], lenient.runs[0].metrics[SEND]
    assert m_strict["updates"]["lost"] == m_lenient["updates"]["lost"] > 0
    assert not m_strict["requirements"]["ok"]
    # Latency at critical moments is judged over the owed: with losses it can be "never" and still fail.
    critical = [c for c in m_lenient["requirements"]["checks"] if c["requirement"].startswith("p95 latency at")]
    assert all(c["ok"] == (c["actual"] != "never (too many lost)") for c in critical)


def test_requirements_load_from_toml_with_ranges(tmp_path: Path) -> None:
    """[requirements] keys are read, typed and range-checked like every other section."""
    from bcastsim._errors import InputError

    path = tmp_path / "mine.toml"
    path.write_text('extends = "artbattle"\n[requirements]\ndelivered_share = 0.9\np95_ms = { bid_update = 500 }\n')
    assert load_scenario(path).requirements == RequirementsConfig(delivered_share=0.9, p95_ms={"bid_update": 500})
    path.write_text('extends = "artbattle"\n[requirements]\ndelivered_share = 1.5\n')
    with pytest.raises(InputError, match="delivered_share"):
        load_scenario(path)
    path.write_text('extends = "artbattle"\n[requirements]\npopulation_share = { audience = 1.5 }\n')
    with pytest.raises(InputError, match="population_share"):
        load_scenario(path)


def test_per_kind_latency_requirement_counts_what_never_arrived() -> None:
    """A p95 bound per message type is judged over the owed: with more than 5 % lost it cannot hold."""
    metrics = {
        "user_visible": {"owed": 100, "share_of_owed": {"applied_by_page": 0.9, "delivered_to_socket": 0.9}},
        "latency_of_owed_ms": {
            "arrived_share": 0.9,
            "all": {"p95": None},
            "critical": {"p95": None},
            "by_kind": {"bid_update": {"p50": 40.0, "p95": None, "p99": None}},
        },
        "latency_at_critical_ms": {"p95": None},
        "connections": {"episodes": 10, "failed_episodes": 0, "refused_at_end": 0},
    }
    verdict = judge(metrics, RequirementsConfig(delivered_share=0.5, p95_ms={"bid_update": 1000.0}))
    by = {c["requirement"]: c for c in verdict["checks"]}
    assert by["updates applied by the page"]["ok"]
    assert not by["p95 latency of bid_update"]["ok"]
    assert "never arrived" in by["p95 latency of bid_update"]["why"]
    assert not verdict["ok"]


def test_connection_refusals_count_clients_still_out_at_the_end() -> None:
    """Clients the cap refused to the end count as failed (re)connections, not as no connection at all."""
    metrics = {
        "user_visible": {"owed": 0, "share_of_owed": {"applied_by_page": 0.0, "delivered_to_socket": 0.0}},
        "latency_of_owed_ms": {"arrived_share": 1.0, "all": {}, "critical": {"p95": None}, "by_kind": {}},
        "latency_at_critical_ms": {"p95": None},
        "connections": {"episodes": 500, "failed_episodes": 0, "refused_at_end": 505},
    }
    verdict = judge(metrics, RequirementsConfig())
    conn = next(c for c in verdict["checks"] if c["requirement"].startswith("(re)connections"))
    assert conn["actual"] == f"{505 / 1005:.1%}"
    assert not conn["ok"]


def test_checker_row_keeps_the_profile_view() -> None:
    """The checker row still says what the profile allows; the verdict row is the requirements'."""
    metrics = {
        "delivery_check": {"ok": True, "counts": {"lost": 3}},
        "requirements": {"ok": False, "checks": [{"ok": False}]},
    }
    assert _checker(metrics) == "lost (profile allows)"
    assert _verdict(metrics) == "FAIL (1 of 1 unmet)"


def test_bandwidth_note_splits_bytes_per_delivery_from_deliveries() -> None:
    """The table 4.2 bandwidth row is explained by bytes per delivery × deliveries, whose product is the bytes."""
    report = simulate("artbattle", clients=100, reference_plan="none", compare_profiles=())
    text = render_text(report)
    line = next(line for line in text.splitlines() if line.startswith("Bandwidth, where the difference comes from"))
    by = {r.architectures[0]: r.metrics[r.architectures[0]] for r in report.runs}
    a, b = by["postgres_changes"], by[SEND]
    assert f"{a['bytes_sent'] / a['messages_sent']:,.0f} B per delivery" in line
    assert f"{a['messages_sent']:,} → {b['messages_sent']:,}" in line


def test_population_requirements_judge_each_population_on_its_own_clients() -> None:
    """population_share is judged on each population's own owed and lost updates, which add up to the run's."""
    scenario = load_scenario("restart_storm").with_overrides(
        requirements={"population_share": {"audience": 0.5, "admins": 1.0}}
    )
    report = simulate(scenario, clients=200, architectures=[SEND], reference_plan="none", compare_profiles=())
    metrics = report.runs[0].metrics[SEND]
    pops = metrics["requirements"]["populations"]
    assert set(pops) == {"audience", "admins"}
    assert sum(p["owed"] for p in pops.values()) == metrics["updates"]["owed"]
    assert sum(p["lost"] for p in pops.values()) == metrics["updates"]["lost"]
    names = [c["requirement"] for c in metrics["requirements"]["checks"]]
    assert "updates applied by the page (admins)" in names


def test_a_requirement_for_an_unknown_population_fails_before_the_run() -> None:
    """A misspelt population in population_share is an input error naming the populations."""
    from bcastsim._errors import InputError

    scenario = load_scenario("artbattle").with_overrides(requirements={"population_share": {"audiense": 0.9}})
    with pytest.raises(InputError, match="no population of the scenario"):
        simulate(scenario, clients=10)
