"""The network latency the simulator draws: log-normal, half its log-variance per message, half per group link."""

from __future__ import annotations

import math
import statistics

from _sim_support import one_topic_world

_GROUPS = 300
_BIDS = [(20_000.0 + 1000.0 * k, "bid") for k in range(40)]


def _log_spread(histogram: dict[float, int], offset: float) -> tuple[float, float]:
    """Median and standard deviation of log(latency - offset) over a weighted latency histogram."""
    values = [math.log(key - offset) for key, n in histogram.items() for _ in range(n) if key > offset]
    return math.exp(statistics.median(values)), statistics.pstdev(values)


def test_every_group_draws_its_own_link_factor() -> None:
    """Each client group's link factor is drawn (median 1, log-sd sigma/√2), not left at 1.0."""
    sim = one_topic_world(arch="broadcast:realtime.send", audience=_GROUPS, writes=[], waves=_GROUPS)
    links = [c.link for c in sim.cohorts]
    assert len(links) == _GROUPS
    logs = [math.log(link) for link in links]
    sigma = sim.scenario.network.sigma
    assert abs(statistics.median(logs)) < 0.1
    assert 0.8 * sigma / math.sqrt(2) < statistics.pstdev(logs) < 1.2 * sigma / math.sqrt(2)


def test_latency_has_the_networks_whole_variance() -> None:
    """Over many messages and groups the commit-to-socket latency has the scenario's median and log-sd sigma."""
    sim = one_topic_world(arch="broadcast:realtime.send", audience=_GROUPS, writes=_BIDS, waves=_GROUPS)
    # realtime.send reaches Realtime replication_ms after the commit; the network's part follows.
    histogram = sim.metrics["broadcast:realtime.send"].latency["bid_update"]
    median, spread = _log_spread(histogram, sim.scenario.broadcast.replication_ms)
    network = sim.scenario.network
    assert 0.8 * network.median_ms < median < 1.25 * network.median_ms
    assert 0.85 * network.sigma < spread < 1.15 * network.sigma
