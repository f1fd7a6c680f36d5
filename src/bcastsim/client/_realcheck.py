"""A user's subscription manager on the real realtime-js, against a Realtime server that misbehaves on purpose.

Schedules (client calls, broadcasts, faults, time) are drawn from the seed (``draw_schedules``;
``_schedule`` is the same schedules as a Hypothesis strategy) and run in batches in node
(``_node/realtime.js``); the checker reads what the application saw. A failing schedule is
shrunk by deleting operations (one node call per round) and printed as a timeline; it can be
written as replayable JSON and as a standalone node script.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
from hypothesis import strategies as st

from bcastsim._errors import InputError
from bcastsim._io import read_text
from bcastsim.client._jscheck import Draws, HypothesisDraws, RandomDraws
from bcastsim.client._node import (
    REALTIME_HARNESS,
    Limits,
    Sandbox,
    extract_js_blocks,
    load_client_code,
    node_binary,
    node_modules_dir,
    realtime_js_missing,
    run_realtime,
)
from bcastsim.findings import Finding, Severity

__all__ = ["SETTLE_MS", "Topic", "check_client_module", "render_timeline", "topics_from_sql"]

Op = dict[str, Any]
Observed = list[dict[str, Any]]

# Longer than heartbeat detection (≤ 50 s), the close wait and any sane capped retry: after this long with no
# fault, a correct manager delivers again.
SETTLE_MS = 120_000
_CAP_LIMIT_MS = 120_000
_CLOSING = ("channel_close", "rate_limit", "flap")
_FAULTS = ("drop", "partition", "restart", "refuse", "hidden", "channel_error", "join_error", "join_timeout", *_CLOSING)


@attrs.frozen
class Topic:
    """A topic the manager is driven on: its events, privacy and payload keys, and where the SQL sends it."""

    name: str
    events: tuple[str, ...]
    private: bool = False
    keys: tuple[str, ...] = ()
    source: str | None = None
    # A message sent on UPDATE or DELETE carries a row's state: missing one leaves the page's copy stale.
    stateful: bool = False
    # A payload drawn from the contracts' JSON Schemas (key -> value of the schema's type).
    sample: dict[str, Any] = attrs.field(factory=dict, eq=False, hash=False)


DEFAULT_TOPICS = (Topic("room:1", ("update", "delete")), Topic("room:2", ("update",)))


def topics_from_sql(paths: Sequence[str | Path]) -> tuple[Topic, ...]:
    """One topic per ``realtime.send`` contract of the user's SQL (``{…}`` parts become a sample value)."""
    from bcastsim.contracts import build_contracts
    from bcastsim.sqlmodel import load_catalog

    found: dict[str, Topic] = {}
    for contract in build_contracts(load_catalog(list(paths))):
        if contract.transport == "pg_notify" or contract.event is None or "{" in contract.event:
            continue  # pg_notify never reaches Broadcast; a computed event name has no literal to send
        name = re.sub(r"\{[^}]*\}", "1", contract.channel_pattern)
        site = contract.sites[0]
        old = found.get(name)
        events = (*old.events, contract.event) if old else (contract.event,)
        keys = tuple(dict.fromkeys((*(old.keys if old else ()), *contract.keys)))
        stateful = bool(old and old.stateful) or bool({"UPDATE", "DELETE"} & set(contract.emitted_when))
        sample = {**(old.sample if old else {}), **_sample_payload(contract.schema)}
        found[name] = Topic(
            name, tuple(dict.fromkeys(events)), not contract.public, keys, str(site.location), stateful, sample
        )
    return tuple(found.values())


_SAMPLES: dict[str, Any] = {"string": "s", "integer": 7, "number": 7.5, "boolean": True, "object": {}, "array": []}


def _sample_payload(schema: dict[str, Any]) -> dict[str, Any]:
    """One value per property of a contract's JSON Schema: its const or first enum value, else one of its type."""
    out: dict[str, Any] = {}
    for key, spec in (schema.get("properties") or {}).items():
        if key == "seq" or not isinstance(spec, dict):
            continue
        if "const" in spec:
            out[key] = spec["const"]
        elif spec.get("enum"):
            out[key] = spec["enum"][0]
        else:
            kinds = spec.get("type")
            kinds = [kinds] if isinstance(kinds, str) else [k for k in (kinds or []) if k != "null"]
            out[key] = _SAMPLES.get(kinds[0], f"<{key}>") if kinds else f"<{key}>"
            if out[key] == "s":
                out[key] = f"<{key}>"
    return out


# --- schedules -------------------------------------------------------------------------------------


@st.composite
def _schedule(draw: st.DrawFn, topics: tuple[Topic, ...], faults: tuple[str, ...]) -> list[Op]:
    """A schedule as a Hypothesis strategy (the same operations :func:`draw_schedules` makes)."""
    return _schedule_ops(HypothesisDraws(draw), topics, faults)


def draw_schedules(topics: tuple[Topic, ...], faults: tuple[str, ...], count: int, seed: int) -> list[list[Op]]:
    """``count`` schedules from ``seed``: the same ones for the same seed, each far cheaper to make than to run."""
    draws = RandomDraws(seed)
    return [_schedule_ops(draws, topics, faults) for _ in range(count)]


def _schedule_ops(draw: Draws, topics: tuple[Topic, ...], faults: tuple[str, ...]) -> list[Op]:
    ops: list[Op] = []
    active: list[int] = []
    next_listener = 1
    hidden = False
    for _ in range(draw.integer(1, 12)):
        kinds = ["subscribe", "subscribe", "unsubscribe", "broadcast", "broadcast", "advance"]
        if faults:
            kinds += ["fault", "fault"]
        kind = draw.pick(kinds)
        topic = draw.pick(topics)
        if kind == "subscribe":
            event = draw.pick(("*", *topic.events))
            ops.append(
                {
                    "op": "subscribe",
                    "listener": next_listener,
                    "topic": topic.name,
                    "event": event,
                    "private": topic.private,
                }
            )
            active.append(next_listener)
            next_listener += 1
        elif kind == "unsubscribe" and active:
            listener = draw.pick(active)
            active.remove(listener)
            ops.append({"op": "unsubscribe", "listener": listener})
        elif kind == "broadcast":
            ops.append(_broadcast(topic, draw.pick(topic.events)))
        elif kind == "advance":
            ops.append({"op": "advance", "ms": draw.pick((0, 500, 1000, 5000, 30_000))})
        elif kind == "fault":
            fault = draw.pick(faults)
            if fault in ("partition", "restart", "refuse"):
                ops.append({"op": fault, "ms": draw.pick((2000, 20_000, 70_000))})
            elif fault == "hidden":
                hidden = not hidden
                ops.append({"op": "hidden", "hidden": hidden})
            elif fault == "flap":
                ops.append({"op": "flap", "topic": topic.name, "n": draw.integer(1, 3)})
            elif fault == "drop":
                ops.append({"op": "drop"})
            else:
                ops.append({"op": fault, "topic": topic.name})
    if faults:
        # Heal, settle, then every (topic, event) pair is probed once.
        if hidden:
            ops.append({"op": "hidden", "hidden": False})
        ops.append({"op": "advance", "ms": SETTLE_MS})
        for topic in topics:
            for event in topic.events:
                ops.append(_broadcast(topic, event))
    return ops


def _broadcast(topic: Topic, event: str) -> Op:
    payload = {key: topic.sample.get(key, f"<{key}>") for key in topic.keys if key != "seq"}
    return {"op": "broadcast", "topic": topic.name, "event": event, "private": topic.private, "payload": payload}


# --- judging -------------------------------------------------------------------------------------------


_Window = tuple[float, float, str, "str | None", int]


def _fault_windows(ops: Sequence[Op]) -> list[_Window]:
    """``(start, end, kind, topic, op index)`` of every fault, on the schedule's own clock."""
    t = 0.0
    windows: list[_Window] = []
    hidden_since: tuple[float, int] | None = None
    for index, op in enumerate(ops):
        kind = op["op"]
        if kind == "advance":
            t += op["ms"]
        elif kind == "hidden":
            if op["hidden"] and hidden_since is None:
                hidden_since = (t, index)
            elif not op["hidden"] and hidden_since is not None:
                windows.append((hidden_since[0], t, "hidden", None, hidden_since[1]))
                hidden_since = None
        elif kind in ("partition", "restart", "refuse"):
            windows.append((t, t + op["ms"], kind, None, index))
        elif kind in _FAULTS:
            windows.append((t, t, kind, op.get("topic"), index))
    if hidden_since is not None:
        windows.append((hidden_since[0], float("inf"), "hidden", None, hidden_since[1]))
    return windows


def _rejoined(ops: Sequence[Op], joins: Sequence[tuple[str, int]], fault: _Window, topic: str, before: int) -> bool:
    """A join on ``topic`` after ``fault`` took effect (a flap or join fault uses up the joins it names)."""
    consumed = int(ops[fault[4]].get("n", 1)) if fault[2] in ("flap", "join_error", "join_timeout") else 0
    return sum(1 for name, at in joins if name == topic and fault[4] < at < before) > consumed


def _active_at_end(ops: Sequence[Op]) -> set[int]:
    active: set[int] = set()
    for op in ops:
        if op["op"] == "subscribe":
            active.add(op["listener"])
        elif op["op"] == "unsubscribe":
            active.discard(op["listener"])
    return active


def _without_faults(ops: Sequence[Op]) -> list[Op]:
    return [op for op in ops if op["op"] not in _FAULTS]


_FAULT_RULES = frozenset(
    {"client.listeners-survive", "client.rejoin-after-closed", "client.rejoin-after-error", "client.resync-after-gap"}
)


def _matches(want: str, event: str) -> bool:
    return want == "*" or want.lower() == event.lower()


def judge(
    ops: Sequence[Op], observed: Observed, *, payloads: bool = False, stateful: frozenset[str] = frozenset()
) -> dict[str, str]:
    """Each violated property, by rule id, with what went wrong.

    ``payloads``: the topics come from the user's SQL, whose contracts say what a callback reads; a callback
    handed anything but that payload (the envelope, or the payload without some of its keys) is a finding.
    ``stateful``: topics whose messages carry row state (sent on UPDATE or DELETE).
    """
    problems: dict[str, str] = {}
    if payloads:
        _judge_payloads(ops, observed, problems)
    windows = _fault_windows(ops)
    active: dict[int, Op] = {}
    unsubscribed_topics: set[str] = set()
    unsubscribed_at: dict[str, list[int]] = {}
    joins: list[tuple[str, int]] = [(j[0], index) for index, step in enumerate(observed) for j in step["joins"]]
    end = float(observed[-1]["t"]) if observed else 0.0
    final_active = _active_at_end(ops)
    resyncs: list[tuple[str, float]] = [(r[0], float(r[1])) for step in observed for r in step.get("resyncs", [])]
    seen: set[tuple[int, int]] = set()
    for index, (op, step) in enumerate(zip(ops, observed, strict=True)):
        t = float(step["t"])
        if op["op"] == "subscribe":
            active[op["listener"]] = op
        elif op["op"] == "unsubscribe":
            gone = active.pop(op["listener"], None)
            if gone is not None:
                unsubscribed_topics.add(gone["topic"])
                unsubscribed_at.setdefault(gone["topic"], []).append(index)
        for listener, seq in step["deliveries"]:
            if (listener, seq) in seen:
                problems.setdefault("client.duplicate-delivery", f"listener {listener} got message #{seq} twice")
            seen.add((listener, seq))
        if op["op"] != "broadcast":
            continue
        seq = step["sent"]
        got = {int(listener) for listener, s in step["deliveries"] if s == seq}
        expected = {
            listener
            for listener, sub in active.items()
            if sub["topic"] == op["topic"] and _matches(sub["event"], op["event"])
        }
        for listener in sorted(got - expected):
            sub = active.get(listener)
            why = "after it unsubscribed" if sub is None else f"though it filters on {sub['event']!r}"
            problems.setdefault(
                "client.event-filter", f"listener {listener} got #{seq} ({op['topic']}/{op['event']}) {why}"
            )
        missing = sorted(expected - got)
        past = [w for w in windows if w[4] < index]
        healthy = all(w[1] <= t - SETTLE_MS for w in past)
        if missing and healthy:
            listener = missing[0]
            what = f"listener {listener} on {op['topic']} (event {active[listener]['event']!r}) missed #{seq}"
            relevant = [w for w in past if w[3] in (None, op["topic"])]
            if not relevant:
                rule = "client.unsubscribe-isolation" if op["topic"] in unsubscribed_topics else "client.delivery"
                problems.setdefault(rule, f"{what}, sent while healthy")
                continue
            last = relevant[-1]
            closing = [w for w in relevant if w[2] in _CLOSING]
            if closing and not _rejoined(ops, joins, closing[-1], op["topic"], index):
                problems.setdefault(
                    "client.rejoin-after-closed",
                    f"{what}: nothing rejoined {op['topic']} after "
                    f"the server closed it ({closing[-1][2]} at {closing[-1][0] / 1000:g} s)",
                )
            elif any(i > last[4] for i in unsubscribed_at.get(op["topic"], [])):
                problems.setdefault("client.unsubscribe-isolation", f"{what}, after another listener unsubscribed")
            elif _rejoined(ops, joins, last, op["topic"], index):
                problems.setdefault(
                    "client.listeners-survive",
                    f"{what}: the channel rejoined after {last[2]} but the listener was not on it",
                )
            else:
                problems.setdefault(
                    "client.rejoin-after-error",
                    f"{what}: nothing rejoined {op['topic']} after {last[2]} at {last[0] / 1000:g} s",
                )
        elif missing and end - t >= SETTLE_MS:
            for listener in [n for n in missing if n in final_active]:
                topic = op["topic"]
                if not any(name == topic and when >= t for name, when in resyncs):
                    state = f"; {topic} {_CARRIES_STATE}" if topic in stateful else ""
                    problems.setdefault(
                        "client.resync-after-gap",
                        f"listener {listener} missed #{seq} on {topic} during a fault and nothing refetched "
                        f"{topic} afterwards (no resync({topic!r}) call){state}",
                    )
    return problems


_CARRIES_STATE = "carries row state (the SQL sends it on UPDATE/DELETE), so the page keeps a stale row"


def _judge_payloads(ops: Sequence[Op], observed: Observed, problems: dict[str, str]) -> None:
    """What reached the callbacks, against what the database sent (the contract's payload)."""
    for op, step in zip(ops, observed, strict=True):
        for listener, shape in step.get("received", []):
            where = f"listener {listener}'s callback"
            topic = f" on {op['topic']}" if op["op"] == "broadcast" else ""
            keys = ", ".join(k for k in (op.get("payload") or {}) if k != "seq")
            if shape == "envelope":
                readable = [k for k in (op.get("payload") or {}) if k not in ("seq", "type")]
                reads = f"message.{readable[0] if readable else 'seq'}"
                problems.setdefault(
                    "client.envelope-not-payload",
                    f"{where}{topic} was handed realtime-js's envelope {{type, event, payload, meta}} instead of the "
                    f"payload the SQL sends: its keys ({keys or 'seq'}) are under .payload, so a callback reading "
                    f"{reads} gets undefined",
                )
            elif str(shape).startswith("missing:"):
                problems.setdefault(
                    "client.envelope-not-payload",
                    f"{where}{topic} was handed the payload without {str(shape)[8:].replace(',', ', ')}, "
                    "keys the SQL sends",
                )
            else:
                problems.setdefault(
                    "client.envelope-not-payload", f"{where}{topic} was handed a {shape}, not the payload the SQL sends"
                )


# --- timelines ----------------------------------------------------------------------------------------


def _describe(op: Op) -> str:
    kind = op["op"]
    if kind == "subscribe":
        privacy = " (private)" if op.get("private") else ""
        return f"listener {op['listener']} subscribes to {op['topic']}{privacy}, event {op['event']!r}"
    if kind == "unsubscribe":
        return f"listener {op['listener']} unsubscribes"
    if kind == "broadcast":
        return f"server broadcasts {op['topic']}/{op['event']}"
    if kind == "advance":
        return f"{op['ms'] / 1000:g} s pass"
    if kind in ("partition", "restart", "refuse"):
        what = {
            "partition": "network partition (packets vanish)",
            "restart": "server restarts, down",
            "refuse": "server refuses connections",
        }[kind]
        return f"{what} for {op['ms'] / 1000:g} s"
    if kind == "hidden":
        return "tab hidden" if op["hidden"] else "tab visible again"
    if kind == "flap":
        return f"server closes the next {op['n']} joins of {op['topic']} at once"
    if kind == "drop":
        return "server drops the WebSocket"
    return f"{kind.replace('_', ' ')} on {op.get('topic')}"


def render_timeline(ops: Sequence[Op], observed: Observed) -> str:
    """One line per operation: its time, what happened, and what the client and server did."""
    lines = []
    t = 0.0
    for op, step in zip(ops, observed, strict=True):
        notes = []
        if op["op"] == "broadcast":
            notes.append(f"#{step['sent']}")
        if step["joins"]:
            notes.append("joins " + ", ".join(f"{j[0]}@{float(j[2]) / 1000:.3f}s" for j in step["joins"]))
        if step["deliveries"]:
            notes.append("delivered " + ", ".join(f"#{s}→listener {n}" for n, s in step["deliveries"]))
        if step.get("resyncs"):
            notes.append("resync " + ", ".join(r[0] for r in step["resyncs"]))
        if step.get("errors"):
            notes.append("threw: " + "; ".join(step["errors"]))
        if step.get("console"):
            shown = [" ".join(str(line).split())[:160] for line in step["console"][:5]]
            notes.append("console: " + " / ".join(shown) + (" / …" if len(step["console"]) > 5 else ""))
        note = f"  [{'; '.join(notes)}]" if notes else ""
        lines.append(f"  t={t / 1000:9.3f}s  {_describe(op)}{note}")
        t = float(step["t"])
    return "\n".join(lines)


# --- the run ------------------------------------------------------------------------------------------


@attrs.define
class _Runner:
    request: dict[str, Any]
    seed: int
    sandbox: Sandbox
    payloads: bool = False
    stateful: frozenset[str] = frozenset()

    def run(self, schedules: Sequence[Sequence[Op]], seeds: Sequence[int] | None = None) -> list[Observed]:
        items = [{"seed": (seeds[i] if seeds else self.seed + 1), "ops": list(ops)} for i, ops in enumerate(schedules)]
        return run_realtime({**self.request, "schedules": items}, sandbox=self.sandbox)


def _failures(runner: _Runner, schedules: Sequence[list[Op]]) -> list[tuple[Observed, dict[str, str]]]:
    """Run each schedule with its fault-free twin: a fault rule counts only when the twin passes."""
    twins = [_without_faults(ops) for ops in schedules]
    observed = runner.run([*schedules, *twins])
    out = []
    options: dict[str, Any] = {"payloads": runner.payloads, "stateful": runner.stateful}
    for k, ops in enumerate(schedules):
        problems = judge(ops, observed[k], **options)
        if problems.keys() & _FAULT_RULES and judge(twins[k], observed[len(schedules) + k], **options):
            problems = {rule: why for rule, why in problems.items() if rule not in _FAULT_RULES}
        out.append((observed[k], problems))
    return out


def _shrink(runner: _Runner, ops: list[Op], rule: str) -> tuple[list[Op], Observed, str]:
    """Delete operations while ``rule`` still fails; each round is one node call."""
    observed, problems = _failures(runner, [ops])[0]
    message = problems[rule]
    while len(ops) > 1:
        candidates = [ops[:i] + ops[i + 1 :] for i in range(len(ops))]
        for candidate, (seen, found) in zip(candidates, _failures(runner, candidates), strict=True):
            if rule in found:
                ops, observed, message = candidate, seen, found[rule]
                break
        else:
            break
    return ops, observed, message


_SEVERITY = {"client.resync-after-gap": Severity.WARNING}
_FIX = {
    "client.event-filter": "keep each listener's own event filter; dispatch on message.event per listener",
    "client.duplicate-delivery": "register one broadcast binding per channel and dispatch to listeners yourself",
    "client.delivery": "keep one channel per topic and a listener set per channel",
    "client.unsubscribe-isolation": "remove the channel only when its last listener unsubscribes "
    "(realtime-js returns the same channel for a topic)",
    "client.listeners-survive": "keep listeners in the manager, not on the channel object, and re-attach them "
    "to every new channel",
    "client.rejoin-after-closed": "on CLOSED from subscribe(), create the channel again after a jittered, capped "
    "delay (realtime-js removes it and never rejoins)",
    "client.rejoin-after-error": "leave CHANNEL_ERROR/TIMED_OUT to realtime-js's own rejoin; do not remove the channel",
    "client.resync-after-gap": "refetch (or replay) the topic's state after every SUBSCRIBED",
    "client.envelope-not-payload": "hand each callback message.payload (what the SQL sends), not the envelope",
    "client.backoff-growth": "grow the retry delay after each CLOSED that follows a short-lived join",
    "client.backoff-cap": f"cap the retry delay (≤ {_CAP_LIMIT_MS // 1000} s)",
    "client.backoff-jitter": "add random jitter to the retry delay so clients do not come back together",
    "client.private-topics": "subscribe with { config: { private: true } } where the SQL sends privately",
    "client.hook-stale-subscription": "return a cleanup from the effect that unsubscribes the handles it created",
    "client.hook-duplicate-listener": "unsubscribe in the effect's cleanup, so a re-run does not add a listener",
    "client.hook-unmount-leak": "remove every channel the hook created when the component unmounts",
}


def check_client_module(
    source: str | Path,
    sql_paths: Sequence[str | Path] = (),
    *,
    seed: int = 0,
    schedules: int = 500,
    replay_dir: Path | None = None,
    budget_s: float | None = None,
) -> list[Finding]:
    """Run the property suites on a manager module (``.js``/``.mjs``/``.cjs``) or a plan's manager block.

    The manager's code is untrusted: it runs contained (``_node/_sandbox.py``), and the whole check
    stops with one line past ``budget_s`` wall seconds (default 600, or ``$BCASTSIM_CLIENT_BUDGET``).
    """
    missing = realtime_js_missing()
    if missing is not None:
        raise InputError(missing, fix="bcastsim client install")
    node = node_binary()
    assert node is not None
    with Sandbox.open(node, Limits.from_budget(budget_s), f"the manager {Path(source).name}") as sandbox:
        return _check_client_module(
            source, sql_paths, seed=seed, schedules=schedules, replay_dir=replay_dir, sandbox=sandbox
        )


def _check_client_module(
    source: str | Path,
    sql_paths: Sequence[str | Path],
    *,
    seed: int,
    schedules: int,
    replay_dir: Path | None,
    sandbox: Sandbox,
) -> list[Finding]:
    path = Path(source)
    if not path.is_file():
        raise InputError(f"no such file: {path}", path=path, fix="give the manager's .js file")
    # Read like every input: a regular file, bounded, UTF-8, not through a link leaving the repository.
    text = read_text(path, "manager")
    hook_code: str | None = None
    if path.suffix.lower() in (".md", ".markdown"):
        request: dict[str, Any] = {"mode": "manager", "code": load_client_code(path)}
        if "useBroadcastRealtime.js" in extract_js_blocks(text):
            hook_code = request["code"] + "\n" + load_client_code(path, block="useBroadcastRealtime.js")
    elif re.search(r"^\s*(export\s|module\.exports|exports\.)", text, re.M):
        request = {"mode": "manager", "module": str(path.resolve())}
    else:
        request = {"mode": "manager", "code": text}
    topics = topics_from_sql(sql_paths) if sql_paths else DEFAULT_TOPICS
    if not topics:
        raise InputError(
            "the SQL sends no realtime.send broadcast with a literal event",
            path=Path(sql_paths[0]),
            fix="give the SQL that calls realtime.send(payload, event, topic, private)",
        )
    request["source"] = str(path)
    runner = _Runner(request, seed, sandbox, bool(sql_paths), frozenset(t.name for t in topics if t.stateful))
    where = str(path)
    sql_note = "; topics from " + ", ".join(sorted({t.source for t in topics if t.source})) if sql_paths else ""
    findings: list[Finding] = []
    written: dict[str, Any] = {}

    def report(rule: str, message: str, ops: Sequence[Op] | None, observed: Observed | None, extra: str = "") -> None:
        example = extra
        if ops is not None and observed is not None:
            example = "shortest schedule found:\n" + render_timeline(ops, observed) + (f"\n{extra}" if extra else "")
            written[rule] = {"ops": list(ops), "message": message}
        findings.append(
            Finding(
                rule=rule,
                severity=Severity.ERROR if _CARRIES_STATE in message else _SEVERITY.get(rule, Severity.ERROR),
                message=f"[{path.name}] {message}{sql_note}",
                path=where,
                function="manager",
                fix=_FIX.get(rule),
                example=example,
            )
        )

    quiet = draw_schedules(topics, (), max(1, schedules * 2 // 5), seed)
    faulty = draw_schedules(topics, _FAULTS, max(1, schedules - len(quiet)), seed + 1)
    failing: dict[str, list[Op]] = {}
    exercised = _Exercised()
    for family in (quiet, faulty):
        for ops, (observed, problems) in zip(family, _failures(runner, family), strict=True):
            exercised.add(ops, observed)
            for rule in problems:
                if rule not in failing or len(ops) < len(failing[rule]):
                    failing[rule] = ops
    for rule in sorted(failing):
        ops, observed, message = _shrink(runner, failing[rule], rule)
        report(rule, message, ops, observed)
    findings.append(exercised.finding(where, topics, quiet=len(quiet), faulty=len(faulty), payloads=runner.payloads))

    if hook_code is not None:
        _check_hook(hook_code, seed, report, sandbox)
    _check_backoff(runner, topics[0], report)
    _check_private(runner, topics, report)
    if replay_dir is not None and written:
        write_replays(replay_dir, request, seed, written)
    return findings


@attrs.define
class _Exercised:
    """What the generated schedules did: faults by kind, messages sent and delivered, per topic and event."""

    faults: dict[str, int] = attrs.field(factory=dict)
    sent: dict[str, int] = attrs.field(factory=dict)
    delivered: int = 0
    console: int = 0

    def add(self, ops: Sequence[Op], observed: Observed) -> None:
        for op in ops:
            if op["op"] in _FAULTS:
                self.faults[op["op"]] = self.faults.get(op["op"], 0) + 1
            elif op["op"] == "broadcast":
                key = f"{op['topic']}/{op['event']}"
                self.sent[key] = self.sent.get(key, 0) + 1
        self.delivered += sum(len(step["deliveries"]) for step in observed)
        self.console += sum(len(step.get("console", [])) for step in observed)

    def finding(self, where: str, topics: Sequence[Topic], *, quiet: int, faulty: int, payloads: bool) -> Finding:
        checked = sorted(rule for rule in _FIX if not rule.startswith("client.hook-"))
        if not payloads:
            checked.remove("client.envelope-not-payload")
        faults = ", ".join(f"{kind} ×{n}" for kind, n in sorted(self.faults.items())) or "none"
        sent = ", ".join(f"{key} ×{n}" for key, n in sorted(self.sent.items()))
        stateful = [t.name for t in topics if t.stateful]
        lines = [
            f"schedules: {quiet + faulty} ({quiet} fault-free, {faulty} with faults), each with faults also run "
            "without them",
            f"faults injected: {faults}",
            f"topics: {'; '.join(_topic_line(t) for t in topics)}",
            f"broadcasts sent: {sent}; deliveries to callbacks: {self.delivered:,}",
            f"topics carrying row state (resync required): {', '.join(stateful) or 'none'}",
            f"properties checked: {', '.join(checked)}",
            f"console lines printed by the manager: {self.console:,}",
        ]
        return Finding(
            rule="client.exercised",
            severity=Severity.NOTE,
            message=f"[{Path(where).name}] exercised {quiet + faulty} schedules, {sum(self.faults.values()):,} "
            f"faults, {sum(self.sent.values()):,} broadcasts on {len(topics)} topics, "
            f"{self.delivered:,} deliveries; {len(checked)} properties checked",
            path=where,
            function="manager",
            example="\n  ".join(lines),
        )


def _topic_line(topic: Topic) -> str:
    privacy = "private" if topic.private else "public"
    keys = f", keys {', '.join(topic.keys)}" if topic.keys else ""
    return f"{topic.name} ({', '.join(topic.events)}; {privacy}{keys})"


_Report = Callable[[str, str, "Sequence[Op] | None", "Observed | None", str], None]


def _check_backoff(runner: _Runner, topic: Topic, report: _Report) -> None:
    """Twenty clients whose channel the server closes at once, then after each of eight rejoins."""
    ops: list[Op] = [
        {"op": "subscribe", "listener": 1, "topic": topic.name, "event": "*", "private": topic.private},
        {"op": "flap", "topic": topic.name, "n": 8},
        {"op": "channel_close", "topic": topic.name},
        {"op": "advance", "ms": 1_800_000},
    ]
    clients = 20
    runs = runner.run([ops] * clients, seeds=[runner.seed * 1000 + k + 1 for k in range(clients)])
    series: list[list[float]] = []
    for observed in runs:
        times = [float(j[2]) for step in observed[2:] for j in step["joins"] if j[0] == topic.name]
        series.append([b - a for a, b in zip([0.0, *times], times, strict=False)])
    if any(len(delays) < 3 for delays in series):
        return  # no retries to measure; rejoin-after-closed reports it
    firsts = [d[0] for d in series]
    spread = max(firsts) - min(firsts)
    shown = ", ".join(f"{d / 1000:.3f}" for d in series[0])
    if spread < 1.0:
        report(
            "client.backoff-jitter",
            f"{clients} clients closed at the same moment all retried after exactly "
            f"{firsts[0] / 1000:.3f} s (spread {spread:.0f} ms): the herd comes back together",
            ops,
            runs[0],
            f"retry delays of one client (s): {shown}",
        )
    depth = min(len(d) for d in series)
    first_mean = sum(d[0] for d in series) / clients
    last_mean = sum(d[depth - 1] for d in series) / clients
    if last_mean < 1.5 * first_mean:
        report(
            "client.backoff-growth",
            f"retry delays after repeated CLOSED do not grow: mean first "
            f"{first_mean / 1000:.3f} s, mean retry {depth} {last_mean / 1000:.3f} s",
            ops,
            runs[0],
            f"retry delays of one client (s): {shown}",
        )
    worst = max(max(d) for d in series)
    if worst > _CAP_LIMIT_MS:
        report(
            "client.backoff-cap",
            f"a retry after CLOSED waited {worst / 1000:.1f} s (uncapped)",
            ops,
            runs[0],
            f"retry delays of one client (s): {shown}",
        )


_HOOK_STEPS: list[Op] = [
    {"op": "render", "props": {"eventId": "E1", "isAdmin": True, "artIds": ["A"]}},
    {"op": "broadcast", "topic": "broadcast:event:E1", "event": "winner_update"},
    {"op": "render", "props": {"eventId": "E2", "isAdmin": False, "artIds": ["A"]}},
    {"op": "broadcast", "topic": "broadcast:event:E1", "event": "winner_update"},
    {"op": "broadcast", "topic": "broadcast:admin:E1", "event": "vote_update"},
    {"op": "broadcast", "topic": "broadcast:bid:A", "event": "bid_update"},
    {"op": "unmount"},
    {"op": "advance", "ms": 1000},
]


def _describe_hook(step: Op) -> str:
    if step["op"] == "render":
        props = step["props"]
        return f"render the page: eventId={props['eventId']!r}, isAdmin={props['isAdmin']}, artIds={props['artIds']}"
    if step["op"] == "unmount":
        return "unmount the page"
    return _describe(step)


def _check_hook(code: str, seed: int, report: _Report, sandbox: Sandbox) -> None:
    """The hook under React's test renderer: re-rendered with new props, then unmounted."""
    request = {"mode": "hook", "code": code, "schedules": [{"seed": seed + 1, "ops": _HOOK_STEPS}]}
    observed = run_realtime(request, sandbox=sandbox)[0]
    lines = []
    for step, seen in zip(_HOOK_STEPS, observed, strict=True):
        got = ", ".join(f"{kind} #{seq}" for kind, seq in seen["received"])
        note = f"  [page got {got}]" if got else ""
        lines.append(f"  t={float(seen['t']) / 1000:9.3f}s  {_describe_hook(step)}{note}")
    timeline = "React test renderer, the page subscribing in an effect on [eventId, artIds.length, isAdmin]:\n"
    timeline += "\n".join(lines)
    stale = [kind for kind, _ in observed[3]["received"] + observed[4]["received"]]
    if stale:
        report("client.hook-stale-subscription", "after the page re-rendered for eventId E2 as a non-admin, it still "
               f"received {', '.join(stale)} messages for E1 (the effect's subscriptions are never cleaned up)",
               None, None, timeline)  # fmt: skip
    if len(observed[5]["received"]) > 1:
        copies = len(observed[5]["received"])
        report("client.hook-duplicate-listener", f"after a re-render the page got one bid {copies} times: every "
               "effect run adds another listener", None, None, timeline)  # fmt: skip
    if observed[6]["channels"]:
        report("client.hook-unmount-leak", f"after unmount {len(observed[6]['channels'])} channels stay open: "
               f"{', '.join(observed[6]['channels'])}", None, None, timeline)  # fmt: skip


def _check_private(runner: _Runner, topics: Sequence[Topic], report: _Report) -> None:
    private = [t for t in topics if t.private]
    if not private:
        return
    ops: list[Op] = [
        {"op": "subscribe", "listener": k + 1, "topic": t.name, "event": "*", "private": True}
        for k, t in enumerate(private)
    ]
    observed = runner.run([ops])[0]
    public = sorted({j[0] for step in observed for j in step["joins"] if not j[1]} & {t.name for t in private})
    if public:
        sources = ", ".join(t.source or t.name for t in private if t.name in public)
        report(
            "client.private-topics",
            f"restricted topics joined as public channels: {', '.join(public)} "
            f"(sent privately at {sources}); anyone with the anon key can join a public topic by name",
            ops,
            observed,
            "",
        )


def write_replays(directory: Path, request: dict[str, Any], seed: int, written: dict[str, Any]) -> list[Path]:
    """``<rule>.json`` (replay with bcastsim) and ``<rule>.js`` (plain node, no bcastsim) per failing property."""
    directory.mkdir(parents=True, exist_ok=True)
    harness = REALTIME_HARNESS.read_text(encoding="utf-8")
    contain = (REALTIME_HARNESS.parent / "contain.js").read_text(encoding="utf-8")
    inlined = (
        "globalThis.__BCASTSIM_CONTAIN = (function () {\nconst module = { exports: {} };\n"
        + contain
        + "\nreturn module.exports;\n})();\n"
    )
    out: list[Path] = []
    for rule, entry in written.items():
        name = rule.replace("client.", "")
        replay = {
            **request,
            "rule": rule,
            "message": entry["message"],
            "schedules": [{"seed": seed + 1, "ops": entry["ops"]}],
        }
        for key in ("module", "source"):  # relative to the replay's own directory: no path of this machine
            if key in replay:
                replay[key] = Path(os.path.relpath(replay[key], directory.resolve())).as_posix()
        modules = Path(os.path.relpath(node_modules_dir().resolve(), directory.resolve())).as_posix()
        json_path = directory / f"{name}.json"
        json_path.write_text(json.dumps(replay, indent=2) + "\n", encoding="utf-8")
        script = (
            f"// Replays {rule} on the real @supabase/realtime-js: `node {name}.js` prints each step's observation.\n"
            "// Needs @supabase/realtime-js 2.119.1 under $BCASTSIM_NODE_MODULES (default: where bcastsim found it\n"
            "// when it wrote this file, relative to this directory). Paths below are relative to this directory.\n"
            "process.chdir(__dirname);\n"
            f"globalThis.__BCASTSIM_INPUT = {json.dumps(replay)};\n"
            "process.env.BCASTSIM_NODE_MODULES = process.env.BCASTSIM_NODE_MODULES || "
            f"require('path').resolve(__dirname, {json.dumps(modules)});\n" + inlined + harness
        )
        js_path = directory / f"{name}.js"
        js_path.write_text(script, encoding="utf-8")
        out += [json_path, js_path]
    return out
