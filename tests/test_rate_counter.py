"""Realtime's RateCounter on the virtual clock: buckets, the average per second, the limit flag, idle stop."""

from __future__ import annotations

from bcastsim.sim._rate_counter import RateCounter
from bcastsim.sim._realtime_rules import CounterRule

ONE_S = CounterRule(tick_s=1, buckets=60, idle_shutdown_s=900, source="")
FIVE_S = CounterRule(tick_s=5, buckets=12, idle_shutdown_s=300, source="")


def test_a_burst_inside_one_tick_is_not_over_until_the_tick() -> None:
    """Counts join the average only at the next tick: a burst of 10× the limit is admitted until then."""
    counter = RateCounter(ONE_S, 100, "triggered")
    counter.start(0.0)
    counter.add(10.0, 1000)
    assert not counter.over(999.0)
    assert counter.over(1000.0)  # tick at 1 s: avg = 1000 / 1 bucket


def test_the_average_spreads_over_the_buckets_kept() -> None:
    """After a minute of ticks one burst of 3,000 counts 3,000 / 60 = 50 per second."""
    counter = RateCounter(ONE_S, 2500, "average_over")
    counter.start(0.0)
    counter.add(59_500.0, 3000)
    counter.advance(60_000.0)
    assert counter.avg == 50.0
    assert not counter.over(60_000.0)


def test_the_average_is_per_second_with_five_second_ticks() -> None:
    """rate_counter.ex since 87d663dd: sum / buckets / tick_s, so 50 counts in one 5 s tick is 10 per second."""
    counter = RateCounter(FIVE_S, 10, "triggered")
    counter.start(0.0)
    counter.add(1.0, 50)
    counter.advance(5000.0)
    assert counter.avg == 10.0
    assert counter.triggered  # avg >= limit sets the flag


def test_the_flag_clears_only_at_a_tick_below_the_limit() -> None:
    """Once set, the flag holds until a tick's average is under the limit (hysteresis of maybe_trigger_limit)."""
    counter = RateCounter(ONE_S, 100, "triggered")
    counter.start(0.0)
    counter.add(1.0, 300)
    assert counter.over(1000.0)  # 300 / 1
    assert counter.over(2000.0)  # 300 / 2 = 150
    assert counter.over(3000.0)  # 300 / 3 = 100: not below the limit, the flag holds
    assert not counter.over(4000.0)  # 300 / 4 = 75: cleared


def test_sustained_overload_stays_over() -> None:
    """Four times the limit, every second, keeps the counter over it."""
    counter = RateCounter(ONE_S, 100, "average_over")
    counter.start(0.0)
    for second in range(120):
        counter.add(second * 1000.0 + 1.0, 400)
        if second > 0:
            assert counter.over(second * 1000.0 + 2.0)


def test_joins_are_admitted_while_the_average_is_below_the_limit() -> None:
    """2025-08's limit_joins admits while avg < limit: an average equal to the limit rejects."""
    counter = RateCounter(ONE_S, 100, "average_below")
    counter.start(0.0)
    counter.add(1.0, 100)
    assert counter.over(1000.0)
    assert not counter.over(2000.0)  # 100 / 2 = 50


def test_an_idle_counter_stops_and_starts_empty() -> None:
    """With every bucket zero at an idle check the counter stops; the next use starts it with no history."""
    counter = RateCounter(FIVE_S, 10, "triggered")
    counter.start(0.0)
    counter.add(1.0, 10)
    counter.advance(299_000.0)
    assert counter.running
    counter.advance(300_000.0)  # the count left the 12 buckets at 65 s: the check at 300 s stops it
    assert not counter.running
    counter.add(600_001.0, 60)
    assert counter.over(605_001.0)  # 60 / 1 bucket / 5 s = 12 >= 10


def test_an_idle_hour_costs_a_bounded_number_of_ticks() -> None:
    """Empty ticks are batched: reading the counter after an hour of silence does not tick 3,600 times."""
    counter = RateCounter(ONE_S, 10**9, "triggered")
    counter.start(0.0)
    counter.add(1.0, 5)
    counter.advance(3_600_000.0)
    assert counter.avg == 0.0
    assert counter.next_tick > 3_600_000.0
