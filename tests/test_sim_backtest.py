"""The backtest: the system as it ran before the migration, against the symptoms the seed measured."""

from __future__ import annotations

import pytest

from _sim_support import one_topic_world
from bcastsim.sim import SimulationReport, load_costs, load_scenario, render_text, simulate
from bcastsim.sim._metrics import wal_spikes


@pytest.fixture(scope="module")
def report() -> SimulationReport:
    return simulate("backtest")


def test_backtest_is_the_pre_migration_system() -> None:
    """postgres_changes with five global subscriptions per user, RLS on, a plan the event never hit."""
    scenario = load_scenario("backtest")
    assert scenario.scenario.architectures[0] == "postgres_changes"
    assert len(scenario.populations["audience"].pc_tables) == 5
    assert scenario.postgres_changes.rls
    assert scenario.scenario.plan == "unlimited"
    assert scenario.faults == ()
    assert scenario.backtest.measured


def test_every_symptom_is_judged_by_its_ratio(report: SimulationReport) -> None:
    """'reproduced' is exactly 'simulated / measured within the tolerance', for each measured symptom."""
    assert report.backtest is not None
    tol = report.backtest["tolerance"]
    names = {row["symptom"] for row in report.backtest["symptoms"]}
    assert names == {
        "list_changes_calls",
        "wal_spike_bytes",
        "wal_spike_period_s",
        "bid_delay_at_close_s",
        "fails_at_users",
    }
    for row in report.backtest["symptoms"]:
        ratio = None if not row["simulated"] else row["simulated"] / row["measured"]
        assert row["reproduced"] == (ratio is not None and 1 / tol <= ratio <= tol)


def test_report_names_every_symptom_it_misses(report: SimulationReport) -> None:
    """A symptom outside the tolerance is listed with the reason no modelled mechanism produces it."""
    text = render_text(report)
    assert "Backtest: the seed's measured symptoms" in text
    assert "Judged against this backtest baseline" in text
    missed = [row for row in report.backtest["symptoms"] if not row["reproduced"]] if report.backtest else []
    if missed:
        tail = text.split("Not reproduced by any mechanism in the model:")[1]
        assert len([line for line in tail.splitlines() if line.startswith("  ")]) >= len(missed)


def test_failure_point_is_the_first_audience_that_fails_for_any_reason(report: SimulationReport) -> None:
    """Each searched audience fails for exactly the thresholds its figures pass (lag, refusals, losses), and the
    failure point is the first that fails (none if no audience does)."""
    bt = report.backtest
    assert bt is not None
    for row in bt["failure_search"]:
        expected = []
        if row["peak_lag_s"] > bt["failure_lag_s"]:
            expected.append("lag")
        if row["refused"] / row["clients"] > bt["failure_refused_share"]:
            expected.append("refused")
        if row["lost_share"] > bt["failure_lost_share"]:
            expected.append("lost")
        assert row["fails"] == expected
    over = [row["audience"] for row in bt["failure_search"] if row["fails"]]
    fails = next(row for row in bt["symptoms"] if row["symptom"] == "fails_at_users")
    assert fails["simulated"] == (over[0] if over else None)


def test_without_rls_the_poller_runs_no_authorization() -> None:
    """RLS off: a change is fanned out without apply_rls's work for each subscriber."""
    writes = [(1000.0, "bid")]
    on = one_topic_world(
        arch="postgres_changes", audience=50, writes=writes, postgres_changes={"authorization_ms": 2.0}
    )
    off = one_topic_world(arch="postgres_changes", audience=50, writes=writes, postgres_changes={"rls": False})
    costs = on.costs
    assert on.metrics["postgres_changes"].db_queries["authorization_reads"] == 50
    assert on.metrics["postgres_changes"].db_time_ms["authorization_reads"] == pytest.approx(
        costs.rls_change_ms + 50 * 2.0 + 50**2 * costs.auth_pair_ms
    )
    assert off.metrics["postgres_changes"].db_queries["authorization_reads"] == 0
    assert off.metrics["postgres_changes"].messages_sent == 50


def test_wal_spikes_rise_and_fall_back() -> None:
    """A spike is a peak of at least half the highest that falls back to half of itself."""
    times = [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0]
    spikes = wal_spikes(times, [0.0, 10.0, 2.0, 1.0, 9.0, 4.0, 3.0, 3.5])
    assert spikes == {"count": 2, "height_bytes": 10.0, "period_s": 30.0}
    assert wal_spikes(times, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])["count"] == 0


def test_explanations_quote_the_backtests_own_figures(report: SimulationReport) -> None:
    """The reasons a symptom is missed are computed from this run and its costs, not written in advance."""
    assert report.backtest is not None
    figures = report.backtest["figures"]
    costs = load_costs()
    n = figures["listeners_per_table"]
    expected = costs.rls_change_ms + costs.auth_read_ms * n + costs.auth_pair_ms * n * n + costs.change_decode_ms
    assert figures["ms_per_change"] == pytest.approx(expected)
    calls = next(row for row in report.backtest["symptoms"] if row["symptom"] == "list_changes_calls")
    assert figures["calls_per_s"] * figures["duration_h"] * 3600 == pytest.approx(calls["simulated"])
    text = render_text(report)
    if not calls["reproduced"]:
        assert f"{figures['idle_calls_per_s']:.1f} calls/s" in text
    close = next(row for row in report.backtest["symptoms"] if row["symptom"] == "bid_delay_at_close_s")
    if not close["reproduced"]:
        assert f"{figures['ms_per_change']:.1f} ms with {n:,.0f} listeners" in text
        assert f"never more than {figures['peak_poller_lag_s']:,.0f} s behind" in text


def test_failure_search_counts_refusals_on_the_connection_cap() -> None:
    """On a plan that caps connections only, the failure point is the first audience whose clients exceed the cap,
    and the search names refusals as the reason even where the poller keeps up."""
    plans = {"capped": {"extends": "pro", "messages_per_second": 10**9, "channel_joins_per_second": 10**9}}
    scenario = load_scenario("backtest").with_overrides(
        backtest={"failure_plan": "capped", "audiences": (250, 495, 500, 750)}
    )
    report = simulate(scenario, architectures=["postgres_changes"], plans=plans, compare_profiles=(), reference_plan="")
    assert report.backtest is not None
    search = report.backtest["failure_search"]
    assert report.backtest["connections_cap"] == 500
    assert [r["fails"] for r in search[:2]] == [[], []]  # 255 and 500 clients: all admitted, nothing lost
    assert "refused" in search[2]["fails"]  # 505 clients over a cap of 500
    assert search[2]["refused"] >= 5
    assert len(search) == 3  # a larger audience only adds refusals: the search stops
    fails = next(row for row in report.backtest["symptoms"] if row["symptom"] == "fails_at_users")
    assert fails["simulated"] == 500
    assert "allows 500 concurrent connections" in render_text(report)


def test_list_changes_count_is_explained_by_its_arithmetic(report: SimulationReport) -> None:
    """The calls the poller cannot make in the event are restated as hours of idle polling or as pollers at once,
    both computed from the backtest's figures, and the plan searched is named as an assumption."""
    assert report.backtest is not None
    figures = report.backtest["figures"]
    measured = next(r["measured"] for r in report.backtest["symptoms"] if r["symptom"] == "list_changes_calls")
    text = render_text(report)
    assert f"{measured / figures['idle_calls_per_s'] / 3600:,.1f} h of one idle poller" in text
    pollers = measured / (figures["idle_calls_per_s"] * figures["duration_h"] * 3600)
    assert f"{pollers:.1f} pollers idling" in text
    assert "Assumed: backtest: the failure point is searched on plan pro" in text


def test_on_the_seeds_realtime_pro_fails_at_500_for_its_connection_cap(report: SimulationReport) -> None:
    """The built-in backtest, on Pro under the Realtime of the seed's time, fails at 500 users: refused, not lost."""
    assert report.realtime.startswith("Realtime 2025-08")
    search = report.backtest["failure_search"]  # type: ignore[index]
    failing = next(row for row in search if row["fails"])
    assert (failing["audience"], failing["fails"]) == (500, ["refused"])
    fails = next(row for row in report.backtest["symptoms"] if row["symptom"] == "fails_at_users")  # type: ignore[index]
    assert fails["simulated"] == 500


def test_failure_search_judges_limits_by_the_scenarios_realtime_version() -> None:
    """Under today's rules the same search fails earlier, for changes dropped at the poller over Pro's rate."""
    scenario = load_scenario("backtest").with_overrides(
        scenario={"realtime": "2026-08"}, backtest={"audiences": (250,)}
    )
    report = simulate(scenario, architectures=["postgres_changes"], compare_profiles=(), reference_plan="")
    (row,) = report.backtest["failure_search"]  # type: ignore[index]
    assert row["fails"] == ["lost"]
    assert row["dropped_over_message_rate"] > 0
