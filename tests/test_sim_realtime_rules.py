"""Realtime's rules in the simulator: a steady rate under the average is served, a sustained overload is not."""

from __future__ import annotations

import pytest

from _sim_support import SEED_PAGE, one_topic_world
from bcastsim.sim import simulate
from bcastsim.sim._realtime_rules import realtime_versions

_VIEWERS = 3000


@pytest.mark.parametrize("realtime", realtime_versions())
def test_one_message_every_20_s_to_3000_viewers_on_team_closes_nothing(realtime: str) -> None:
    """3,000 deliveries every 20 s (150/s on average against Team's 2,500/s) close no channel and all arrive."""
    bids = [(20_000.0 * k, "bid") for k in range(1, 30)]
    sim = one_topic_world(
        arch="broadcast:realtime.send",
        audience=_VIEWERS,
        writes=bids,
        plan="team",
        page=SEED_PAGE[:1],
        duration_s=620.0,
        realtime=realtime,
    )
    metrics = sim.metrics["broadcast:realtime.send"]
    assert metrics.violations["channels_closed_over_message_rate"] == 0
    assert metrics.deliveries_by_kind["bid_update"] >= 0.99 * _VIEWERS * len(bids)
    assert metrics.updates_lost <= 0.01 * metrics.updates_owed


@pytest.mark.parametrize("realtime", realtime_versions())
def test_a_sustained_four_times_overload_on_team_fails(realtime: str) -> None:
    """10,000 deliveries a second for five minutes (4 × Team's 2,500/s): Realtime drops database broadcasts
    while the minute's average is over the limit, and about three quarters of the updates are lost."""
    bids = [(20_000.0 + 300.0 * k, "bid") for k in range(1000)]
    sim = one_topic_world(
        arch="broadcast:realtime.send",
        audience=_VIEWERS,
        writes=bids,
        plan="team",
        page=SEED_PAGE[:1],
        duration_s=400.0,
        realtime=realtime,
        profile="realtime_js",
    )
    metrics = sim.metrics["broadcast:realtime.send"]
    assert metrics.violations["broadcasts_dropped_over_message_rate"] > 500
    assert metrics.updates_lost > 0.5 * metrics.updates_owed


def test_flash_sale_low_stock_to_3000_shoppers_on_team() -> None:
    """The flash sale's stock alerts to 3,000 shoppers on Team: no channel closed by the rate, ≥ 99 % delivered."""
    report = simulate("flash_sale", clients=3000, plan="team", architectures=["broadcast"], reference_plan="")
    metrics = report.runs[0].metrics["broadcast:realtime.send"]
    assert metrics["limit_violations"]["channels_closed_over_message_rate"] == 0
    assert metrics["user_visible"]["share_of_owed"]["delivered_to_socket"] >= 0.99
