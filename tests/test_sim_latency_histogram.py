"""A fan-out's latencies are counted as ``round(latency, 1)`` exactly, however they are batched and whenever read."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from bcastsim.sim._metrics import ArchMetrics

_LATENCY = st.one_of(
    st.floats(0.0, 10_000.0),
    # exact ties (k + 0.5) / 10 in binary and the floats next to them: where rounding tenths is delicate
    st.integers(0, 200_000).map(lambda k: (k + 0.5) / 10.0),
    st.integers(0, 200_000).map(lambda k: math.nextafter((k + 0.5) / 10.0, math.inf)),
    st.integers(0, 200_000).map(lambda k: math.nextafter((k + 0.5) / 10.0, 0.0)),
    st.integers(0, 40).map(lambda k: k / 4.0),  # 0.25, 0.75, …: ties exactly representable
    st.floats(-1.0, 0.0),
    st.floats(1e9, 1e15),
)


def _expected(batches: list[list[float]]) -> Counter[float]:
    return Counter(round(x, 1) for batch in batches for x in batch)


@given(st.lists(st.lists(_LATENCY, max_size=60), max_size=8))
def test_histogram_is_the_count_of_values_rounded_to_tenths(batches: list[list[float]]) -> None:
    """Every table a fan-out adds to holds the count of round(latency, 1), keys equal and spelled the same."""
    metrics = ArchMetrics("a")
    for batch in batches:
        metrics.count_latencies(metrics.latency_tables("k", critical=True, page=True), batch, {})
    want = _expected(batches)
    for table in (metrics.latency.get("k", {}), metrics.latency_at_critical, metrics.page_latency):
        assert Counter(table) == want
        assert sorted(map(repr, table)) == sorted(map(repr, want))


def test_a_large_batch_of_ordinary_latencies_is_counted_exactly() -> None:
    """A fan-out to thousands of groups of one (the batched path) counts what rounding each value counts."""
    draw = random.Random(7).lognormvariate
    values = [30.0 + 40.0 * draw(0.0, 0.6) for _ in range(5_000)]
    metrics = ArchMetrics("a")
    metrics.count_latencies(metrics.latency_tables("k", critical=False, page=False), values, {3.0: 2})
    want = _expected([values])
    want[3.0] += 2
    assert metrics.latency["k"] == dict(want)
    assert metrics.page_latency == {}


def test_tables_read_between_fan_outs_see_every_fan_out_so_far() -> None:
    """Reading a table settles what was counted apart: a later fan-out adds to it, nothing is counted twice."""
    metrics = ArchMetrics("a")
    tables = metrics.latency_tables("k", critical=False, page=True)
    first = [10.04 + k / 1000.0 for k in range(100)]
    metrics.count_latencies(tables, first, {})
    assert sum(metrics.page_latency.values()) == 100
    metrics.count_latencies(tables, first, {})
    assert dict(metrics.latency["k"]) == {k: 2 * n for k, n in _expected([first]).items()}
    assert sum(itertools.chain(metrics.page_latency.values())) == 200


def test_a_large_batch_of_ties_is_counted_exactly() -> None:
    """Values whose tenfold float lands on a half (0.15 is 0.1499…, ten times it is 1.5) round as round(x, 1) does."""
    values = [(k + 0.5) / 10.0 for k in range(200)]
    metrics = ArchMetrics("a")
    metrics.count_latencies(metrics.latency_tables("k", critical=False, page=False), values, {})
    assert metrics.latency["k"] == dict(_expected([values]))


def test_group_latencies_kept_apart_reach_every_table_once_however_often_read() -> None:
    """Larger groups' latencies counted through latency_pending reach each of their tables once, before and after
    a read."""
    metrics = ArchMetrics("a")
    tables = metrics.latency_tables("k", critical=True, page=False)
    pending = metrics.latency_pending(tables)
    assert metrics.latency_pending(tables) is pending  # one place per set of tables
    pending[12.3] = pending.get(12.3, 0) + 40
    assert metrics.latency["k"] == {12.3: 40}
    assert metrics.latency_at_critical == {12.3: 40}
    pending[12.3] = pending.get(12.3, 0) + 2  # the same dict goes on counting after the read
    pending[7.0] = pending.get(7.0, 0) + 5
    assert metrics.latency["k"] == {12.3: 42, 7.0: 5}
    assert metrics.latency_at_critical == {12.3: 42, 7.0: 5}
    assert metrics.page_latency == {}
