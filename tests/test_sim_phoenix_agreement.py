"""The simulator's realtime-js agrees with the phoenix port that ``check --client`` runs (itself equal to the
library under node): for one client, a fault at any phase of the heartbeat drops and restores its connection
and its channel at the same virtual milliseconds in both, for the realtime_js profile and for the recommended
profile's own socket backoff (exponential, at both bounds of its jitter)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from _sim_support import SEED_PAGE, ServerShutsChannels, one_topic_world
from bcastsim.client import PROFILES, Profile, TableBackoff
from bcastsim.client._ops import profile_timings
from bcastsim.client._phoenix import run_schedule
from bcastsim.sim import FaultConfig
from bcastsim.sim._profiles import ClientBehaviour

_HORIZON_MS = 160_000
_STEP_MS = 100
_PHASES = (5_000, 12_300, 30_000, 47_900)  # before, inside and across the heartbeats at 25 s and 50 s
_DURATIONS = (500, 3_000, 10_000, 26_000, 70_000)

# The simulator's fault kinds as operations of the port's schedules (tests/test_phoenix_conformance.py).
_AS_OPS: dict[str, Any] = {
    "partition": lambda ms: [{"op": "partition", "ms": ms}],
    "restart": lambda ms: [{"op": "restart", "ms": ms}],
    "disconnect": lambda ms: [{"op": "drop"}, {"op": "refuse", "ms": ms}],  # dropped, the network away for ms
}


def _phoenix(
    kind: str, at_ms: int, duration_ms: int, profile: Profile | None = None, step_ms: int = _STEP_MS
) -> tuple[float | None, float | None]:
    """When the port's client lost its connection, and when its channel was joined again (seen every step_ms)."""
    ops = [
        {"op": "subscribe", "topic": "t", "event": "e", "listener": 0},
        {"op": "advance", "ms": at_ms},
        *_AS_OPS[kind](duration_ms),
    ]
    ops += [{"op": "advance", "ms": step_ms}] * ((_HORIZON_MS - at_ms) // step_ms)
    down = up = None
    for step in run_schedule(ops, *([profile_timings(profile)] if profile else [])):
        if down is None and not step["connected"]:
            down = step["t"]
        joined = step["connected"] and [state for _name, state in step["channels"]] == ["joined"]
        if down is not None and up is None and joined:
            up = step["t"]
    return down, up


def _simulated(
    kind: str, at_ms: int, duration_ms: int, profile: Profile | None = None
) -> tuple[float | None, float | None]:
    """The same for a group of one client in the simulator (frames as instant as the port's)."""
    fault = FaultConfig(kind=kind, at_s=at_ms / 1000, fraction=1.0, duration_s=duration_ms / 1000)
    sim = one_topic_world(
        arch="broadcast:realtime.send",
        audience=1,
        writes=[],
        profile="realtime_js",
        page=SEED_PAGE[:1],
        faults=(fault,),
        duration_s=_HORIZON_MS / 1000,
        join_rtt_ms=0.0,
        client=ClientBehaviour.from_profile(profile) if profile else None,
    )
    (cohort,) = sim.cohorts
    (joins,) = cohort.sub_intervals.values()
    down = cohort.conn_intervals[0][1] if len(cohort.conn_intervals) > 1 else None
    return down, (joins[1][0] if len(joins) > 1 else None)


@pytest.mark.parametrize("kind", sorted(_AS_OPS))
@pytest.mark.parametrize("at_ms", _PHASES)
def test_a_fault_drops_and_restores_the_client_when_the_port_does(kind: str, at_ms: int) -> None:
    """Heartbeat detection, close wait, reconnect table and rejoin: equal times for every duration."""
    for duration_ms in _DURATIONS:
        assert _simulated(kind, at_ms, duration_ms) == _phoenix(kind, at_ms, duration_ms), duration_ms


def _recommended_bounds() -> list[Profile]:
    """The recommended profile with its jittered socket backoff at its ceiling and at its floor: every draw of
    the jitter lies between the two, and neither needs the same random stream in both models."""
    profile = PROFILES["recommended"]
    policy = profile.socket_backoff
    assert policy.jitter == "full"
    floor = TableBackoff("recommended_floor", (), getattr(policy, "floor_ms", 0.0))
    return [
        attrs.evolve(profile, socket_backoff=attrs.evolve(policy, jitter="none")),
        attrs.evolve(profile, socket_backoff=floor),
    ]


@pytest.mark.parametrize("kind", sorted(_AS_OPS))
@pytest.mark.parametrize("bound", [0, 1], ids=["ceiling", "floor"])
def test_the_recommended_profile_drops_and_restores_the_client_when_the_port_does(kind: str, bound: int) -> None:
    """The recommended profile's exponential socket backoff, at either bound of its jitter: equal times in both."""
    profile = _recommended_bounds()[bound]
    for at_ms in _PHASES:
        for duration_ms in _DURATIONS:
            simulated = _simulated(kind, at_ms, duration_ms, profile)
            # The floor (250 ms) is not a multiple of the usual 100 ms step: look every 50 ms.
            assert simulated == _phoenix(kind, at_ms, duration_ms, profile, 50), (at_ms, duration_ms)


def test_a_partition_shorter_than_a_heartbeat_gap_goes_unnoticed_in_both() -> None:
    """A 3 s partition between heartbeats drops nothing, in the port and in the simulator."""
    assert _phoenix("partition", 5_000, 3_000) == _simulated("partition", 5_000, 3_000) == (None, None)


def test_a_channel_the_server_closes_ends_the_socket_50_s_later_in_both() -> None:
    """The server shuts the only channel at 10 s: realtime-js removes it and disconnects at 60 s, in both."""
    ops = [
        {"op": "subscribe", "topic": "t", "event": "e", "listener": 0},
        {"op": "advance", "ms": 10_000},
        {"op": "rate_limit", "topic": "t"},
    ]
    ops += [{"op": "advance", "ms": _STEP_MS}] * (80_000 // _STEP_MS)
    port_down = next(step["t"] for step in run_schedule(ops) if not step["connected"])
    sim = one_topic_world(
        arch="broadcast:realtime.send",
        audience=1,
        writes=[],
        profile="realtime_js",
        page=SEED_PAGE[:1],
        duration_s=90.0,
        join_rtt_ms=0.0,
        cls=ServerShutsChannels,
    )
    (cohort,) = sim.cohorts
    assert cohort.conn_intervals == [(0.0, port_down)]
    assert port_down == 60_000.0
