"""The realtime-js port agrees with the real @supabase/realtime-js on generated fault schedules.

Both run the same schedules (subscribe/unsubscribe, broadcasts, drops, partitions, restarts,
refused connections, join errors and timeouts, channel errors and closes, rate-limit closes,
hidden tabs, time); every observation after every operation must be equal: connection and
channel states, statuses, joins the server received (with privacy and time), connects and
deliveries. The real side runs in node through ``_node/realtime.js`` on a virtual clock. The
realtime_js and seed profiles, which run on the port, deliver what the library (with the seed's own
BroadcastManager for the seed) delivers on the same operations.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from bcastsim.client import PROFILES, OpRunner
from bcastsim.client._jscheck import generate_examples
from bcastsim.client._node import default_seed_plan, load_client_code, realtime_js_missing, run_realtime
from bcastsim.client._ops import (
    Advance,
    Broadcast,
    ChannelClose,
    ChannelError,
    ClientOp,
    SocketDrop,
    Subscribe,
    Unsubscribe,
)
from bcastsim.client._phoenix import REALTIME_JS, RealtimeJsTimings, run_schedule
from bcastsim.strategies import realtime_schedules

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(realtime_js_missing() is not None, reason=str(realtime_js_missing())),
]

SCHEDULES = 1500


def _schedules(count: int, seed: int) -> list[list[dict[str, Any]]]:
    return generate_examples(realtime_schedules(), count, seed)


@pytest.fixture(scope="module")
def real_runs() -> list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    schedules = _schedules(SCHEDULES, 0)
    observed = run_realtime({"mode": "raw", "schedules": [{"seed": 1, "ops": ops} for ops in schedules]})
    trimmed = [[{k: v for k, v in step.items() if k not in ("errors", "resyncs")} for step in run] for run in observed]
    return list(zip(schedules, trimmed, strict=True))


def _differences(
    runs: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]], timings: RealtimeJsTimings
) -> list[str]:
    found = []
    for ops, real in runs:
        model = json.loads(json.dumps(run_schedule(ops, timings)))
        for index, (mine, theirs) in enumerate(zip(model, real, strict=True)):
            if mine != theirs:
                found.append(f"after {ops[: index + 1]}: model {mine} != realtime-js {theirs}")
                break
    return found


def test_model_matches_realtime_js_on_generated_fault_schedules(
    real_runs: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]],
) -> None:
    """0 differences on 1,500 generated schedules, observation by observation."""
    differences = _differences(real_runs, REALTIME_JS)
    assert differences == [], f"{len(differences)} differences; first: {differences[0]}"


def test_the_comparison_sees_a_wrong_heartbeat(
    real_runs: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]],
) -> None:
    """A model with a 30 s heartbeat instead of 25 s disagrees with the library on some schedules."""
    assert len(_differences(real_runs, attrs.evolve(REALTIME_JS, heartbeat_ms=30_000.0))) > 5


def test_the_schedules_exercise_the_failure_paths(
    real_runs: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]],
) -> None:
    """The generated schedules reach every status, rejoins, reconnects and deliveries."""
    statuses = {status for _, real in real_runs for step in real for _, status in step["statuses"]}
    assert statuses == {"SUBSCRIBED", "CHANNEL_ERROR", "TIMED_OUT", "CLOSED"}
    assert sum(step["connects"] for _, real in real_runs for step in real) > SCHEDULES
    assert sum(len(step["deliveries"]) for _, real in real_runs for step in real) > 100


def _client_op(raw: dict[str, Any]) -> ClientOp | None:
    match raw["op"]:
        case "subscribe":
            return Subscribe(raw["topic"], raw["event"], raw["listener"])
        case "unsubscribe":
            return Unsubscribe(raw["listener"])
        case "broadcast":
            return Broadcast(raw["topic"], raw["event"])
        case "channel_error":
            return ChannelError(raw["topic"])
        case "channel_close":
            return ChannelClose(raw["topic"])
        case "drop":
            return SocketDrop()
        case "advance":
            return Advance(raw["ms"])
    return None  # faults the profile's operations do not have


def test_realtime_js_profile_delivers_what_the_library_delivers() -> None:
    """The realtime_js profile (one channel() call per subscription) and realtime-js deliver alike, op by op."""
    raws = []
    for schedule in _schedules(1000, 1):
        # Public channels only: the profile's operations carry no privacy.
        raw = [{**op, "private": False} if "private" in op else op for op in schedule]
        raws.append([op for op in raw if _client_op(op) is not None])
    sequences = [[op for op in map(_client_op, raw) if op is not None] for raw in raws]
    real = run_realtime({"mode": "raw", "schedules": [{"seed": 1, "ops": raw} for raw in raws]})
    differences = []
    for ops, observed in zip(sequences, real, strict=True):
        runner = OpRunner(PROFILES["realtime_js"])
        for index, (op, theirs) in enumerate(zip(ops, observed, strict=True)):
            mine = [[listener, json.loads(value)["payload"]["seq"]] for listener, value in runner.apply(op).deliveries]
            if mine != theirs["deliveries"]:
                differences.append(f"after {ops[: index + 1]}: profile {mine} != realtime-js {theirs['deliveries']}")
                break
    assert differences == [], f"{len(differences)} differences; first: {differences[0]}"


@pytest.mark.skipif(not default_seed_plan().is_file(), reason=f"seed plan not found at {default_seed_plan()}")
def test_seed_profile_delivers_what_the_seeds_manager_delivers_on_realtime_js() -> None:
    """The seed's BroadcastManager on the real realtime-js and the seed profile on the port deliver alike, op by op."""
    raws = []
    for schedule in _schedules(500, 2):
        raw = [{**op, "private": False} if "private" in op else op for op in schedule]
        raws.append([op for op in raw if _client_op(op) is not None])
    sequences = [[op for op in map(_client_op, raw) if op is not None] for raw in raws]
    request = {"mode": "manager", "code": load_client_code(), "schedules": [{"seed": 1, "ops": raw} for raw in raws]}
    real = run_realtime(request)
    differences = []
    delivered = 0
    for ops, observed in zip(sequences, real, strict=True):
        runner = OpRunner(PROFILES["seed"])
        for index, (op, theirs) in enumerate(zip(ops, observed, strict=True)):
            mine = [[listener, json.loads(value)["payload"]["seq"]] for listener, value in runner.apply(op).deliveries]
            delivered += len(mine)
            if mine != theirs["deliveries"]:
                differences.append(f"after {ops[: index + 1]}: profile {mine} != realtime-js {theirs['deliveries']}")
                break
    assert differences == [], f"{len(differences)} differences; first: {differences[0]}"
    assert delivered > 100
