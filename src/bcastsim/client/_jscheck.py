"""The manager property checks, run against JavaScript under node instead of a Python model.

Sequences are generated with Hypothesis, run in batches in one node process each,
and a counterexample is shrunk by deleting operations (one node call per round).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from bcastsim.client._checks import _FAULT_FREE, _ONE_EVENT, judge_deliveries
from bcastsim.client._node import CLIENT_JS_ENV, default_seed_plan, load_client_code, run_harness
from bcastsim.client._ops import (
    Advance,
    Broadcast,
    ChannelClose,
    ChannelError,
    ClientOp,
    SocketDrop,
    Subscribe,
    System,
    describe_ops,
    op_to_json,
)
from bcastsim.findings import Finding, Severity

__all__ = ["Draws", "HypothesisDraws", "RandomDraws", "check_client_js", "generate_examples"]

Observed = list[dict[str, Any]]
T = TypeVar("T")


def generate_examples(strategy: st.SearchStrategy[T], count: int, seed: int) -> list[T]:
    """``count`` examples of ``strategy``, the same ones for the same seed (no example database)."""
    out: list[T] = []

    @settings(max_examples=count, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @hypothesis_seed(seed)
    @given(strategy)
    def collect(example: T) -> None:
        out.append(example)

    collect()
    return out


class Draws(Protocol):
    """Where a schedule's choices come from: a Hypothesis ``draw`` or a seeded ``random.Random``."""

    def integer(self, low: int, high: int) -> int: ...

    def pick(self, items: Sequence[T]) -> T: ...


class HypothesisDraws:
    """Choices drawn by Hypothesis (inside ``@st.composite``): shrinkable, small values first."""

    def __init__(self, draw: st.DrawFn) -> None:
        self._draw = draw

    def integer(self, low: int, high: int) -> int:
        return self._draw(st.integers(low, high))

    def pick(self, items: Sequence[T]) -> T:
        return self._draw(st.sampled_from(items))


class RandomDraws:
    """Choices drawn from one seeded ``random.Random``: the same ones for the same seed, at a few µs each.

    For inputs that are run far from Hypothesis (``check --client`` runs schedules in node and
    shrinks a failing one there, deleting operations), where Hypothesis' engine would cost more
    per example than running it.
    """

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def integer(self, low: int, high: int) -> int:
        return self._random.randint(low, high)

    def pick(self, items: Sequence[T]) -> T:
        return items[self._random.randrange(len(items))]


class _Node:
    def __init__(self, code: str) -> None:
        self.code = code

    def run(self, sequences: Sequence[Sequence[ClientOp]]) -> list[Observed]:
        if not sequences:
            return []
        request = {"mode": "ops", "code": self.code, "cases": [[op_to_json(o) for o in ops] for ops in sequences]}
        cases: list[Observed] = run_harness(request)["cases"]
        return cases


def _listeners(observed: Observed) -> list[list[int]]:
    return [[int(d[0]) for d in step["deliveries"]] for step in observed]


def _shrink(
    node: _Node, ops: list[ClientOp], fails: Callable[[list[ClientOp], Observed], str | None]
) -> tuple[list[ClientOp], str]:
    """Delete operations while the failure persists; each round is one node call."""
    message = fails(ops, node.run([ops])[0])
    assert message is not None
    while len(ops) > 1:
        candidates = [ops[:i] + ops[i + 1 :] for i in range(len(ops))]
        for candidate, observed in zip(candidates, node.run(candidates), strict=True):
            found = fails(candidate, observed)
            if found is not None:
                ops, message = candidate, found
                break
        else:
            break
    return ops, message


def _first_failure(
    node: _Node, sequences: list[list[ClientOp]], fails: Callable[[list[ClientOp], Observed], str | None]
) -> tuple[list[ClientOp], str] | None:
    failing = [ops for ops, observed in zip(sequences, node.run(sequences), strict=True) if fails(ops, observed)]
    if not failing:
        return None
    return _shrink(node, min(failing, key=len), fails)


def check_client_js(source: str | Path | None = None, *, seed: int = 0, examples: int = 200) -> list[Finding]:
    """Run the manager properties against a JavaScript ``BroadcastManager`` (a ``.js`` file or a plan's block).

    ``source`` defaults to ``$BCASTSIM_CLIENT_JS``, else the seed plan. The manager is built with
    ``new BroadcastManager(supabase)`` and driven through ``subscribe(name, event, cb)`` returning a
    handle if it has one, else the seed's ``createChannel``/``unsubscribe(channelName)``.
    """
    code = load_client_code(source)
    where = str(source or os.environ.get(CLIENT_JS_ENV) or default_seed_plan())
    node = _Node(code)
    findings: list[Finding] = []

    def finding(rule: str, message: str, ops: Sequence[ClientOp], **kw: Any) -> Finding:
        return Finding(
            rule=rule,
            severity=kw.pop("severity", Severity.ERROR),
            message=f"[{Path(where).name}] {message}",
            path=where,
            function="BroadcastManager",
            example=describe_ops(ops),
            **kw,
        )

    general = generate_examples(_FAULT_FREE, examples, seed)
    one_event = generate_examples(_ONE_EVENT, examples, seed)

    def wrong(ops: list[ClientOp], observed: Observed) -> str | None:
        return judge_deliveries(ops, _listeners(observed))[0]

    def missed(ops: list[ClientOp], observed: Observed) -> str | None:
        return judge_deliveries(ops, _listeners(observed))[1]

    def isolation(ops: list[ClientOp], observed: Observed) -> str | None:
        return judge_deliveries(ops, _listeners(observed), others_only=True)[1]

    result = _first_failure(node, general, wrong) or _first_failure(node, general, missed)
    if result is not None:
        findings.append(finding("client.event-filter", f"listeners and event filters disagree: {result[1]}", result[0]))
    result = _first_failure(node, one_event, isolation)
    if result is not None:
        findings.append(
            finding(
                "client.unsubscribe-isolation",
                f"unsubscribing one listener silences others on the channel: {result[1]}",
                result[0],
            )
        )

    probes: list[tuple[str, str, ClientOp]] = [
        ("client.recovers-after-error", "a channel error", ChannelError("c")),
        ("client.recovers-after-drop", "a dropped connection", SocketDrop()),
        ("client.recovers-after-close", "the server closing the channel", ChannelClose("c")),
    ]
    sequences: list[list[ClientOp]] = [
        [Subscribe("c", "e", 1), fault, Advance(120_000), Broadcast("c", "e")] for _, _, fault in probes
    ]
    for (rule, what, _), ops, observed in zip(probes, sequences, node.run(sequences), strict=True):
        if not observed[-1]["deliveries"]:
            findings.append(finding(rule, f"after {what} the listener never receives again", ops))

    realistic: list[list[ClientOp]] = [
        [Subscribe("c", "e", 1), fault, Advance(60_000)]
        for fault in (ChannelClose("c"), ChannelError("c"), SocketDrop(), System("c", "ok"), System("c", "error"))
    ]
    counterfactual: list[ClientOp] = [Subscribe("c", "e", 1), System("c", "CLOSED"), Advance(60_000)]
    runs = node.run([*realistic, counterfactual])

    def app_timers(observed: Observed) -> list[float]:
        return [float(t[1]) for step in observed for t in step["timers"] if t[0] == "app"]

    if app_timers(runs[-1]) and not any(app_timers(r) for r in runs[:-1]):
        findings.append(
            finding(
                "client.reconnect-unreachable",
                "the manager's reconnect timer only starts on a system status realtime-js never sends",
                counterfactual,
            )
        )
    return findings
