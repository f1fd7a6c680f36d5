"""The simulator's realtime-js timings agree with the real @supabase/realtime-js run under node.

Each test plays one connection story on the real library (``client/_node/realtime.js``, a
fault-injecting server on a virtual clock, frames with no network delay) and compares what it
does with what the simulator does or reads from ``[timings.realtime_js]``: heartbeat detection
by phase, short partitions, the close wait before the first reconnect, hidden tabs, the idle
disconnect, one channel per topic and the double join after a subscribe during a drop.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from _sim_support import one_topic_world
from bcastsim._realtime_js import load_realtime_js
from bcastsim.client._node import realtime_js_missing, run_realtime
from bcastsim.sim import FaultConfig

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(realtime_js_missing() is not None, reason=str(realtime_js_missing())),
]

RTJS = load_realtime_js()
ARCH = "broadcast:realtime.send"
STEP_MS = 100
SUBSCRIBE = [{"op": "subscribe", "topic": "t", "event": "e", "listener": 1, "private": False}]


def _steps(count: int, ms: int = STEP_MS) -> list[dict[str, Any]]:
    return [{"op": "advance", "ms": ms}] * count


def _real(*schedules: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return run_realtime({"mode": "raw", "schedules": [{"seed": 1, "ops": ops} for ops in schedules]})


def _partition_run(start_ms: int, duration_ms: int, watch_ms: int = 90_000) -> list[dict[str, Any]]:
    ops = [*SUBSCRIBE, {"op": "advance", "ms": start_ms}, {"op": "partition", "ms": duration_ms}]
    return ops + _steps(watch_ms // STEP_MS)


def _detected_ms(run: list[dict[str, Any]]) -> float | None:
    """When the real client first stopped counting its socket as connected."""
    return next((float(step["t"]) for step in run if not step["connected"]), None)


def _simulated_drop_s(start_s: float, duration_s: float) -> tuple[float | None, int, dict[float, int]]:
    """The simulator on the same story: when its clients dropped (1 s samples), timeouts, reconnect times."""
    partition = FaultConfig(kind="partition", at_s=start_s, fraction=1.0, duration_s=duration_s)
    sim = one_topic_world(arch=ARCH, audience=3, writes=[(500_000.0, "bid")], duration_s=200.0, faults=(partition,))
    metrics = sim.metrics[ARCH]
    series = zip(metrics.series["time_s"], metrics.series["connected_clients"], strict=True)
    dropped = next((t for t, connected in series if t > start_s and connected < 3), None)
    return dropped, metrics.heartbeat_timeouts, dict(metrics.reconnect_ms)


PHASES_S = (26, 30, 40, 49, 60, 73)


@pytest.fixture(scope="module")
def phase_runs() -> dict[int, list[dict[str, Any]]]:
    runs = _real(*(_partition_run(start * 1000, 200_000) for start in PHASES_S))
    return dict(zip(PHASES_S, runs, strict=True))


@pytest.mark.parametrize("start_s", PHASES_S)
def test_heartbeat_detection_by_phase_matches_the_library(
    phase_runs: dict[int, list[dict[str, Any]]], start_s: int
) -> None:
    """A lasting partition is noticed when realtime-js notices it: 25-50 s later, by heartbeat phase."""
    real = _detected_ms(phase_runs[start_s])
    assert real is not None
    assert 25_000 <= real - start_s * 1000 <= 50_000
    assert RTJS.detection_ms(0.0, start_s * 1000.0, float("inf"), rtt_ms=0.0) == real
    dropped_s, timeouts, _ = _simulated_drop_s(float(start_s), 150.0)
    assert timeouts == 3
    assert dropped_s is not None
    # The simulator samples each second and its beats carry an 80 ms round trip each.
    assert 0 < dropped_s * 1000 - real <= 1_000 + 3 * 80


@pytest.mark.parametrize(("start_s", "caught"), [(23, True), (30, False), (48, True), (52, False)])
def test_short_partitions_are_caught_only_around_a_beat(start_s: int, caught: bool) -> None:
    """A 5 s partition is noticed by the library and by the simulator exactly when a heartbeat falls in it."""
    (run,) = _real(_partition_run(start_s * 1000, 5_000))
    real = _detected_ms(run)
    assert (real is not None) is caught
    assert RTJS.detection_ms(0.0, start_s * 1000.0, start_s * 1000.0 + 5_000, rtt_ms=0.0) == real
    _, timeouts, _ = _simulated_drop_s(float(start_s), 5.0)
    assert timeouts == (3 if caught else 0)


@pytest.mark.parametrize(("duration_s", "wait_ms"), [(46, RTJS.close_wait_ms), (25, 0.0)])
def test_first_reconnect_follows_the_close_and_first_backoff(duration_s: int, wait_ms: float) -> None:
    """After a heartbeat timeout realtime-js reconnects once the socket closed (at once if the network is back,
    after the 1.5 s close wait if the partition still holds) plus the 1 s backoff, and so does the simulator."""
    (run,) = _real(_partition_run(30_000, duration_s * 1000))
    detected = _detected_ms(run)
    assert detected is not None
    reconnect = next(float(step["t"]) for step in run if step["t"] > detected and step["connects"])
    first_backoff = RTJS.reconnect.delay_ms(1, random.Random(0))
    assert reconnect - detected == wait_ms + first_backoff
    _, _, simulated = _simulated_drop_s(30.0, float(duration_s))
    (gap,) = simulated
    # The simulator's close handshake takes its 80 ms round trip; the harness's frames take none.
    assert 0 <= gap - (reconnect - detected) <= 80
    assert simulated[gap] == 3


def test_a_hidden_tab_reconnects_only_when_visible() -> None:
    """Dropped while hidden, the library makes no attempt for a minute and connects as soon as it is shown."""
    ops = [*SUBSCRIBE, {"op": "hidden", "hidden": True}, {"op": "drop"}, *_steps(60, 1000)]
    (run,) = _real([*ops, {"op": "hidden", "hidden": False}])
    attempts_hidden = sum(step["connects"] for step in run[len(SUBSCRIBE) : -1])
    assert (attempts_hidden == 0) is RTJS.hidden_tabs_wait_until_visible
    shown = run[-1]
    assert shown["connects"] == 1
    assert [topic for topic, _, _ in shown["joins"]] == ["t"]


def test_the_socket_closes_two_heartbeats_after_its_last_channel() -> None:
    """Removing the last channel at 1 s disconnects the socket at 51 s, the simulator's idle close."""
    (run,) = _real([*SUBSCRIBE, {"op": "advance", "ms": 1000}, {"op": "unsubscribe", "listener": 1}, *_steps(600)])
    assert _detected_ms(run) == 1000 + RTJS.empty_disconnect_ms
    assert not any(step["connects"] for step in run[1:])


def test_two_subscriptions_to_one_topic_share_one_channel() -> None:
    """channel(topic) returns the existing channel: one join, and one unsubscribe removes both listeners."""
    second = {**SUBSCRIBE[0], "listener": 2}
    (run,) = _real([*SUBSCRIBE, second, {"op": "advance", "ms": 10}, {"op": "unsubscribe", "listener": 1}])
    joins = [join for step in run for join in step["joins"]]
    assert (len(joins) == 1) is RTJS.one_channel_per_topic
    assert run[2]["channels"] == [["t", "joined"]]
    assert run[3]["channels"] == []


def test_a_subscribe_during_a_drop_errors_then_joins_twice() -> None:
    """Subscribed while the server restarts: CHANNEL_ERROR at the next failed connect, two joins on reconnect."""
    late = {"op": "subscribe", "topic": "u", "event": "e", "listener": 2, "private": False}
    ops = [*SUBSCRIBE, {"op": "advance", "ms": 1000}, {"op": "restart", "ms": 5000}, {"op": "advance", "ms": 100}]
    (run,) = _real([*ops, late, *_steps(200)])
    statuses = [(step["t"], status) for step in run for status in step["statuses"]]
    assert (2000, [2, "CHANNEL_ERROR"]) in statuses  # the first reconnect, 1 s after the drop
    joins = [topic for step in run[len(ops) :] for topic, _, _ in step["joins"]]
    assert (joins.count("u") == 2) is RTJS.joins_during_drop_sent_twice
    assert joins.count("t") == 1
