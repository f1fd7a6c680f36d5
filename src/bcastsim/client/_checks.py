"""The client property suites: run them against a profile, get one finding per violated property.

Each property searches for a counterexample with Hypothesis (seeded, no example
database) and reports the shrunk, minimal one; fixed probes cover properties
that one short operation sequence decides.
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import hypothesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bcastsim._errors import InputError
from bcastsim._plans import UNLIMITED, PlanLimits, load_plans
from bcastsim._resources import display_path
from bcastsim.check.backoff import herd_size, reconnect_after_outage, summarize
from bcastsim.check.convergence import view_differences
from bcastsim.check.history import Anomaly, check_delivery
from bcastsim.check.rollout import flips_on_login, monotone_violations, uniformity
from bcastsim.client._backoff import BackoffPolicy
from bcastsim.client._ops import (
    Advance,
    Broadcast,
    ChannelClose,
    ChannelError,
    ClientOp,
    OpRunner,
    SocketDrop,
    Subscribe,
    System,
    Unsubscribe,
    UnsubscribeAll,
    describe_ops,
)
from bcastsim.client._profiles import Profile
from bcastsim.client._rollout import STAGES, RolloutFlags, Visit
from bcastsim.client._scenario import (
    PageAdvance,
    PageAuction,
    PageBid,
    PageOp,
    PageVote,
    PageWinner,
    art_id,
    run_page_scenario,
)
from bcastsim.findings import Finding, Severity

if TYPE_CHECKING:
    from bcastsim.sqlmodel import NotifySite

__all__ = ["run_client_checks", "run_profile_checks"]

T = TypeVar("T")
Check = Callable[[Profile, int, int], list[Finding]]


class _Violation(Exception):
    pass


def _search(
    strategy: st.SearchStrategy[T], violation: Callable[[T], str | None], seed: int, max_examples: int
) -> tuple[T, str] | None:
    """The minimal value for which ``violation`` returns a message, or ``None``."""
    found: list[tuple[T, str]] = []

    @settings(
        database=None,
        max_examples=max_examples,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        verbosity=hypothesis.Verbosity.quiet,
        print_blob=False,
    )
    @hypothesis.seed(seed)
    @given(strategy)
    def probe(value: T) -> None:
        message = violation(value)
        if message is not None:
            found.append((value, message))
            raise _Violation(message)

    try:
        probe()
    except _Violation:
        return found[-1]
    return None


# --- where a seed finding points in the seed's plan -------------------------------------------------------


def _locate(profile: Profile, snippet: str) -> tuple[str | None, int | None]:
    if profile.manager_name != "seed":
        return None, None
    from bcastsim.client._node import default_seed_plan

    path = default_seed_plan()
    if not path.is_file():
        return None, None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if snippet in line:
            return display_path(path), number
    return display_path(path), None


def _finding(profile: Profile, rule: str, severity: Severity, message: str, *, snippet: str = "", **kw: Any) -> Finding:
    path, line = _locate(profile, snippet) if snippet else (None, None)
    return Finding(
        rule=rule,
        severity=severity,
        message=f"[{profile.name}] {message}",
        path=path,
        line=line,
        function=profile.manager_name,
        **kw,
    )


# --- manager properties -----------------------------------------------------------------------------------

# Listener bookkeeping bugs need two listeners on one channel; a second channel only checks isolation.
_CHANNELS = st.sampled_from(["c1", "c1", "c1", "c2"])


def _fault_free(events: list[str]) -> st.SearchStrategy[list[ClientOp]]:
    """Subscribe, mix, send: bookkeeping bugs need several listeners on one channel before a message."""
    subscribe = st.builds(Subscribe, _CHANNELS, st.sampled_from(events), st.integers(1, 2))
    send = st.builds(Broadcast, _CHANNELS, st.sampled_from([e for e in events if e != "*"]))
    return st.builds(
        lambda first, middle, last: [*first, *middle, *last],
        st.lists(subscribe, min_size=2, max_size=3),
        st.lists(
            st.one_of(subscribe, send, st.builds(Unsubscribe, st.integers(1, 2)), st.just(UnsubscribeAll())),
            max_size=4,
        ),
        st.lists(send, min_size=1, max_size=2),
    )


_FAULT_FREE = _fault_free(["a", "b", "a", "b", "*"])
# One event everywhere: filters cannot matter, so a miss is bookkeeping alone.
_ONE_EVENT = _fault_free(["a"])


def _matches(filter_event: str, event: str) -> bool:
    return filter_event == "*" or filter_event.lower() == event.lower()


def judge_deliveries(
    ops: Sequence[ClientOp], deliveries: Sequence[Sequence[int]], *, others_only: bool = False
) -> tuple[str | None, str | None]:
    """(wrong delivery, missed delivery) in a fault-free sequence, judged from each listener's own requests.

    ``deliveries[i]`` lists the listeners that received something during ``ops[i]``; ``others_only``
    counts a miss only for a listener that never unsubscribed anything itself.
    """
    active: dict[int, list[tuple[str, str]]] = {}
    unsubscribed: set[int] = set()
    for op, got in zip(ops, deliveries, strict=True):
        match op:
            case Subscribe(channel, event, listener):
                active.setdefault(listener, []).append((channel, event))
            case Unsubscribe(listener):
                unsubscribed.add(listener)
                if active.get(listener):
                    active[listener].pop()
            case UnsubscribeAll():
                active.clear()
            case Broadcast(channel, event):
                for listener in sorted(set(got)):
                    if not any(c == channel and _matches(e, event) for c, e in active.get(listener, [])):
                        return (
                            f"listener {listener} received a {event!r} message on {channel} "
                            f"although it asked for {active.get(listener, [])}",
                            None,
                        )
                for listener, wanted in sorted(active.items()):
                    if others_only and listener in unsubscribed:
                        continue
                    if any(c == channel and _matches(e, event) for c, e in wanted) and listener not in got:
                        return None, (
                            f"listener {listener} asked for {wanted} and was not unsubscribed, "
                            f"but missed a {event!r} message on {channel}"
                        )
    return None, None


def _delivery_errors(
    profile: Profile, ops: Sequence[ClientOp], *, others_only: bool = False
) -> tuple[str | None, str | None]:
    observations = OpRunner(profile).run(ops)
    got = [[listener for listener, _ in o.deliveries] for o in observations]
    return judge_deliveries(ops, got, others_only=others_only)


def _check_listener_bookkeeping(profile: Profile, seed: int, max_examples: int) -> list[Finding]:
    findings: list[Finding] = []
    wrong = _search(_FAULT_FREE, lambda ops: _delivery_errors(profile, ops)[0], seed, max_examples)
    if wrong is not None:
        ops, message = wrong
        findings.append(
            _finding(
                profile,
                "client.event-filter",
                Severity.ERROR,
                f"a listener receives events it did not subscribe to: {message}",
                snippet="if (this.channels.has(channelName)) {",
                why="a second subscription to a channel shares the first one's event filter, so callbacks run "
                "on messages of another type and read fields that are not there (any caller that reuses a "
                "channel name with another filter hits this)",
                fix="keep one broadcast binding per channel ('*') and dispatch to each listener by its own event",
                example=describe_ops(ops),
            )
        )
    filtered = _search(_FAULT_FREE, lambda ops: _delivery_errors(profile, ops)[1], seed, max_examples)
    if filtered is not None and wrong is None:
        ops, message = filtered
        findings.append(
            _finding(
                profile,
                "client.event-filter",
                Severity.ERROR,
                f"a listener misses events it subscribed to: {message}",
                snippet="if (this.channels.has(channelName)) {",
                why="a second subscription to a channel is not given its own event filter",
                fix="keep one broadcast binding per channel ('*') and dispatch to each listener by its own event",
                example=describe_ops(ops),
            )
        )
    missed = _search(_ONE_EVENT, lambda ops: _delivery_errors(profile, ops, others_only=True)[1], seed, max_examples)
    if missed is not None:
        ops, message = missed
        findings.append(
            _finding(
                profile,
                "client.unsubscribe-isolation",
                Severity.ERROR,
                f"unsubscribing one listener silences the others on the same channel: {message}",
                snippet="this.listeners.delete(channelName);",
                why="unsubscribe() works per channel name and drops every listener on it; callers get the shared "
                "channel back, so no caller can remove only its own callback",
                fix="return a handle per listener; remove only that listener; leave the channel when none is left",
                example=describe_ops(ops),
            )
        )
    return findings


def _probe(profile: Profile, ops: Sequence[ClientOp]) -> OpRunner:
    runner = OpRunner(profile)
    runner.run(ops)
    return runner


def _check_recovery(profile: Profile, seed: int, max_examples: int) -> list[Finding]:
    findings: list[Finding] = []
    cases: list[tuple[str, str, bool, ClientOp]] = [
        ("client.recovers-after-error", "a channel error", profile.rejoins_after_error, ChannelError("c")),
        ("client.recovers-after-drop", "a dropped connection", profile.rejoins_after_error, SocketDrop()),
        (
            "client.recovers-after-close",
            "the server closing the channel",
            profile.rejoins_after_close,
            ChannelClose("c"),
        ),
    ]
    for rule, what, claimed, fault in cases:
        ops: list[ClientOp] = [Subscribe("c", "e", 1), fault, Advance(120_000), Broadcast("c", "e")]
        runner = _probe(profile, ops)
        recovered = bool(runner.deliveries)
        if recovered != claimed:
            kind = "claims to recover but does not" if claimed else "recovers although the profile says it does not"
            findings.append(
                _finding(
                    profile,
                    "client.profile-claim",
                    Severity.ERROR,
                    f"after {what} the manager {kind}",
                    example=describe_ops(ops),
                )
            )
        if not recovered:
            findings.append(
                _finding(
                    profile,
                    rule,
                    Severity.ERROR,
                    f"after {what} the listener never receives again (checked 120 s later)",
                    snippet="} else if (payload.status === 'CLOSED') {",
                    why="realtime-js removes a channel after CLOSED and never rejoins it; only the app can make a "
                    "new one, and nothing in this manager does",
                    fix="watch the subscribe() status callback; on CLOSED create the channel again after a jittered "
                    "backoff and refetch",
                    example=describe_ops(ops),
                )
            )
    return findings


def _app_timers(runner: OpRunner) -> list[float]:
    return [t.delay_ms for t in runner.clock.scheduled if t.label == "app"]


def _check_reconnect_path(profile: Profile, seed: int, max_examples: int) -> list[Finding]:
    """Does the manager's own reconnect logic ever run, and how does it behave when it does?"""
    findings: list[Finding] = []
    realistic: list[list[ClientOp]] = [
        [Subscribe("c", "e", 1), fault, Advance(60_000)]
        for fault in (ChannelClose("c"), ChannelError("c"), SocketDrop(), System("c", "ok"), System("c", "error"))
    ]
    counterfactual: list[ClientOp] = [Subscribe("c", "e", 1), System("c", "CLOSED"), Advance(60_000)]
    reached = any(_app_timers(_probe(profile, ops)) for ops in realistic)
    would = bool(_app_timers(_probe(profile, counterfactual)))
    if would and not reached:
        findings.append(
            _finding(
                profile,
                "client.reconnect-unreachable",
                Severity.ERROR,
                "the manager's reconnect logic never runs: it waits for a 'system' message with status 'CLOSED' "
                "(or 'SUBSCRIBED'), but realtime-js system messages carry status 'ok' or 'error' only; channel "
                "statuses go to the subscribe() callback, which the manager does not pass",
                snippet="if (payload.status === 'SUBSCRIBED') {",
                why="the backoff, attempt limit and listener re-registration are dead code; recovery is whatever "
                "realtime-js does on its own",
                fix="channel.subscribe((status) => ...) and act on CHANNEL_ERROR, TIMED_OUT and CLOSED",
                example=f"realistic {describe_ops(realistic[0])} schedules no reconnect; only the counterfactual "
                f"{describe_ops(counterfactual)} does",
            )
        )
    if would:
        # What the reconnect path would do if it ran: repeated server-side closes, time to retry in between.
        ops: list[ClientOp] = [Subscribe("c", "e", 1), Subscribe("c", "e", 2)]
        for _ in range(8):
            ops += [System("c", "CLOSED"), Advance(60_000)]
        runner = _probe(profile, ops)
        delays = _app_timers(runner)
        limit = getattr(runner.manager, "max_reconnect_attempts", None)
        if len(delays) >= 3 and len(set(delays)) == 1:
            findings.append(
                _finding(
                    profile,
                    "backoff.no-growth",
                    Severity.WARNING,
                    f"the manager's own reconnect delays do not grow: {delays}"
                    + (f"; its limit of {limit} attempts is never reached" if limit and len(delays) > limit else ""),
                    snippet="this.reconnectAttempts.set(channelName, attempts + 1);",
                    why="the timer stores attempts + 1 and then calls unsubscribe(), which deletes the counter, "
                    "so every retry is attempt 1",
                    fix="keep the attempt counter outside unsubscribe(), or reset it only on SUBSCRIBED",
                    example=describe_ops(ops[:4]),
                )
            )
        short: list[ClientOp] = [
            Subscribe("c", "e", 1),
            Subscribe("c", "e", 2),
            System("c", "CLOSED"),
            Advance(60_000),
            Broadcast("c", "e"),
        ]
        runner = _probe(profile, short)
        listeners = {listener for _, listener, _ in runner.deliveries}
        if listeners != {1, 2}:
            findings.append(
                _finding(
                    profile,
                    "client.reconnect-drops-listeners",
                    Severity.WARNING,
                    f"after its own reconnect the manager delivers to listeners {sorted(listeners)} of [1, 2]",
                    snippet="this.createChannel(channelName, event, callback);",
                    why="the reconnect recreates the channel with the callback that first created it; every later "
                    "listener is gone",
                    fix="re-register every listener (with its own event) on the new channel",
                    example=describe_ops(short),
                )
            )
    return findings


def _check_gap_resync(profile: Profile, seed: int, max_examples: int) -> list[Finding]:
    ops: list[ClientOp] = [Subscribe("c", "e", 1), SocketDrop(), Broadcast("c", "e"), Advance(60_000)]
    runner = _probe(profile, ops)
    if not runner.deliveries and not runner.resyncs:
        return [
            _finding(
                profile,
                "client.no-resync-after-gap",
                Severity.ERROR,
                "a message sent while the connection was down is neither delivered (at most once) nor made up "
                "for: nothing signals the page to refetch after the channel is SUBSCRIBED again",
                why="broadcast keeps no backlog for public channels; without a refetch the page keeps a stale bid "
                "until the next message for that artwork",
                fix="on SUBSCRIBED after CHANNEL_ERROR/TIMED_OUT/CLOSED, refetch the state the channel carries",
                example=describe_ops(ops),
            )
        ]
    return []


# --- page-level properties: convergence, delivery history, restricted data ---------------------------------

# Each repair is a change to the page's claims that removes one known cause; used to attribute a divergence.
_REPAIRS: tuple[tuple[str, dict[str, Any], str, str, str], ...] = (
    (
        "client.envelope-not-payload",
        {"page_unwraps_envelope": True},
        "listener(payload);",
        "the page's callbacks get realtime-js's envelope {type, event, payload, meta} and read payload.art_id, "
        "payload.amount and payload.type off it: undefined, undefined and 'broadcast'",
        "hand listeners envelope.payload (or read .payload in every callback)",
    ),
    (
        "client.latest-bid-not-highest",
        {"page_current_bid": "max"},
        "[payload.art_id]: payload.amount",
        "the page shows the amount of the last bid message as the current bid; a lower bid committed after a "
        "higher one (two bidders racing against the same current bid; nothing in the schema orders amounts) "
        "replaces it, while the database's current bid is the highest",
        "keep max(current, amount), or refetch the highest bid",
    ),
)


def _page_strategy(max_size: int, *, faults: bool = True) -> st.SearchStrategy[list[PageOp]]:
    from bcastsim.strategies._client import page_ops

    return page_ops(max_size=max_size, faults=faults)


def _divergence(profile: Profile, ops: list[PageOp]) -> str | None:
    run = run_page_scenario(profile, ops)
    differences = view_differences(run.page_view, run.database_view)
    return "; ".join(differences[:3]) if differences else None


def _check_convergence(profile: Profile, seed: int, max_examples: int) -> list[Finding]:
    """Search without faults first (page logic alone), then with faults; attribute each divergence.

    A divergence that one repair of the page's claims removes is reported under that repair's rule,
    the repair is kept, and the search goes on; one that no repair explains ends its phase.
    """
    findings: list[Finding] = []
    current = profile
    for faults in (False, True):
        for _ in range(len(_REPAIRS) + 1):
            strategy = _page_strategy(8, faults=faults)
            result = _search(strategy, functools.partial(_divergence, current), seed, max_examples)
            if result is None:
                break
            ops, message = result
            cause = next((r for r in _REPAIRS if _divergence(attrs.evolve(current, **r[1]), ops) is None), None)
            if cause is None:
                repaired = [f.rule for f in findings]
                findings.append(
                    _finding(
                        profile,
                        "client.convergence",
                        Severity.ERROR,
                        f"after 300 s of quiet the page's view differs from the database: {message}"
                        + (f" (even with {', '.join(repaired)} repaired)" if repaired else ""),
                        why="messages lost while a channel was down, closed or never rejoined are not made up for"
                        if faults
                        else "the page's update logic does not reproduce the database state",
                        fix="refetch after every SUBSCRIBED and recreate closed channels",
                        example=describe_ops(ops),
                    )
                )
                break
            rule, changes, snippet, why, fix = cause
            findings.append(
                _finding(
                    profile,
                    rule,
                    Severity.ERROR,
                    f"the page's view never converges to the database: {message}",
                    snippet=snippet,
                    why=why,
                    fix=fix,
                    example=describe_ops(ops),
                )
            )
            current = attrs.evolve(current, **changes)
    return findings


def _check_delivery_history(profile: Profile, seed: int, max_examples: int) -> list[Finding]:
    findings: list[Finding] = []
    remaining = set(profile.allowed_anomalies)
    for _ in range(3):

        def violation(ops: list[PageOp], allowed: frozenset[Any] = frozenset(remaining)) -> str | None:
            report = check_delivery(run_page_scenario(profile, ops).history, allowed)
            if report.ok:
                return None
            first = next(e for e in report.examples if e.anomaly in report.violations)
            return (
                f"{first.anomaly.value}:client {first.client} topic {first.topic} "
                f"message {first.message_id}: {first.detail}"
            )

        result = _search(_page_strategy(8), violation, seed, max_examples)
        if result is None:
            break
        ops, message = result
        anomaly, detail = message.split(":", 1)
        findings.append(
            _finding(
                profile,
                f"client.delivery-{anomaly}",
                Severity.ERROR,
                f"the page's callbacks see a {anomaly} message, which the profile does not allow: {detail}",
                snippet="}, [eventId, artworks.length, isAdmin]);" if anomaly == "duplicated" else "",
                why="the subscription effect re-runs when its dependencies change but its cleanup unsubscribes "
                "nothing, so every re-run adds one more callback per channel"
                if anomaly == "duplicated"
                else "the delivery history breaks the profile's declared guarantees",
                fix="unsubscribe the effect's own handles in its cleanup" if anomaly == "duplicated" else None,
                example=describe_ops(ops),
            )
        )
        remaining.add(Anomaly(anomaly))
    return findings


def _check_restricted(profile: Profile, seed: int, max_examples: int) -> list[Finding]:
    ops: list[PageOp] = [PageVote(0), PageBid(0, 10), PageAdvance(100)]
    run = run_page_scenario(profile, ops)
    if run.intruder_received:
        sample = json.dumps(run.intruder_received[0], sort_keys=True)
        return [
            _finding(
                profile,
                "client.restricted-data-public",
                Severity.ERROR,
                "a client that is not an admin opens broadcast:admin:<event> by name and receives admin data "
                f"({len(run.intruder_received)} messages, e.g. {sample})",
                snippet="const channel = this.supabase.channel(channelName);",
                channel="broadcast:admin:{event_id}",
                why="public channels run no authorization: anyone with the anonymous key can join any topic; "
                "the isAdmin check runs in the browser only",
                fix="send restricted data with private => true and join with config: { private: true }; "
                "authorize with an RLS policy on realtime.messages using realtime.topic()",
                example=describe_ops(ops),
            )
        ]
    return []


def _check_payload_shapes(profile: Profile, seed: int, max_examples: int) -> list[Finding]:
    """What the page's callbacks read, against the JSON Schemas of the seed's message contracts."""
    from bcastsim._resources import builtin_sql_files
    from bcastsim.check.shapes import check_payload_shapes
    from bcastsim.contracts import build_contracts
    from bcastsim.sqlmodel import load_catalog

    try:
        contracts = build_contracts(load_catalog(builtin_sql_files()))
    except InputError:
        return []
    ops: list[PageOp] = [PageBid(0, 5), PageWinner(0, True), PageAuction(0, 1, 2), PageVote(0)]
    run = run_page_scenario(profile, ops)
    findings = check_payload_shapes(run.reads, contracts)
    if not findings:
        return []
    # One finding per profile: the cause is shared, the per-contract details go in the message.
    first = findings[0]
    return [
        attrs.evolve(
            first,
            message=f"[{profile.name}] {len(findings)} message contracts broken by what the callbacks read: "
            + "; ".join(f.message for f in findings),
            function=profile.manager_name,
            example=f"{describe_ops(ops)}: the callback got {first.example}",
        )
    ]


def _check_flash(profile: Profile, seed: int, max_examples: int) -> list[Finding]:
    ops: list[PageOp] = [PageBid(0, 10), PageWinner(0, True), PageVote(0)]
    run = run_page_scenario(profile, ops)
    art = art_id(0)
    expected = [f'[data-bid-art="{art}"]', f'[data-art-id="{art}"]', f'[data-vote-display="{art}"]']
    missing = [selector for selector in expected if selector not in run.flashes]
    if missing:
        return [
            _finding(
                profile,
                "client.flash-target",
                Severity.WARNING,
                f"the realtime flash animation misses its element: looked up {list(run.flashes)}, expected {expected}",
                snippet='const element = document.querySelector(`[data-bid-art="${payload.art_id}"]`);',
                why="the hook's wrappers read art_id and type off the envelope, so bids flash "
                '[data-bid-art="undefined"] and winner and vote updates never match their branch',
                fix="read envelope.payload before looking up the element",
                example=describe_ops(ops),
            )
        ]
    return []


# --- rollout, backoff and plan properties ----------------------------------------------------------------


def _sample_people(rng: random.Random, n: int) -> list[tuple[Visit, Visit]]:
    people = []
    for _ in range(n):
        user = "%08x-%04x-4%03x-%04x-%012x" % (  # noqa: UP031 - a UUID's layout
            rng.getrandbits(32),
            rng.getrandbits(16),
            rng.getrandbits(12),
            rng.getrandbits(16) | 0x8000,
            rng.getrandbits(48),
        )
        session = f"session_{rng.randrange(1_700_000_000_000, 1_800_000_000_000)}_{rng.getrandbits(46):x}"[:40]
        device = f"device_{rng.getrandbits(64):016x}"
        people.append((Visit(None, session, device), Visit(user, session, device)))
    return people


def _check_rollout(profile: Profile, seed: int, max_examples: int) -> list[Finding]:
    from bcastsim.strategies._client import visits

    findings: list[Finding] = []
    strategy = profile.rollout
    people = _sample_people(random.Random(seed), 10_000)
    flipped = _search(
        st.tuples(visits(), st.sampled_from(STAGES[:-1])),
        lambda case: (
            f"at {case[1]} % the anonymous visit gets broadcast={flips}"
            if (flips := strategy.decide(case[0][0], _flags(case[1]))) != strategy.decide(case[0][1], _flags(case[1]))
            else None
        ),
        seed,
        max_examples,
    )
    if flipped is not None:
        (anonymous, logged_in), stage = flipped[0]
        shares = ", ".join(f"{p} %: {flips_on_login(strategy, people, p):.1%}" for p in STAGES)
        findings.append(
            _finding(
                profile,
                "rollout.unstable-across-login",
                Severity.ERROR,
                f"one person switches between postgres_changes and broadcast when they log in; share of people "
                f"who switch per stage ({len(people)} sampled): {shares}",
                snippet="const userHash = userId ? hashCode(userId) : hashCode(getSessionId());",
                why="anonymous visits hash the session id and logged-in visits hash the user id; EventDetailsBroadcast "
                "returns before its hooks when the decision is false, so a decision that changes while the page is "
                "open changes the number of hooks React sees",
                fix="bucket by one id that survives login (a stored device id), and persist the decision",
                example=f"anonymous={anonymous!r} logged_in={logged_in!r} stage={stage}",
            )
        )
    bad = monotone_violations(strategy, [p for pair in people[:2000] for p in pair])
    if bad:
        findings.append(
            _finding(
                profile,
                "rollout.not-monotone",
                Severity.ERROR,
                f"{len(bad)} visits leave the rollout at a later stage",
                example=repr(bad[0]),
            )
        )
    # Each person counts once per distinct id (a sticky rollout gives both visits the same id).
    identities = list(dict.fromkeys(strategy.identity(v) for pair in people for v in pair))
    result = uniformity(identities)
    if not result.ok:
        findings.append(
            _finding(
                profile,
                "rollout.not-uniform",
                Severity.ERROR,
                f"rollout buckets are not uniform: chi-square {result.statistic:.1f} > {result.critical:.1f} "
                f"(99 dof, alpha 0.01, {result.samples} ids)",
                example=f"bucket counts {list(result.counts)}",
            )
        )
    again = [strategy.decide(v, _flags(50)) for pair in people[:500] for v in pair]
    if again != [strategy.decide(v, _flags(50)) for pair in people[:500] for v in pair]:
        findings.append(_finding(profile, "rollout.not-deterministic", Severity.ERROR, "decisions differ between runs"))
    return findings


def _flags(percentage: int) -> RolloutFlags:
    return RolloutFlags(percentage=percentage)


def _check_backoff(profile: Profile, seed: int, max_examples: int) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[str] = set()
    # The socket policy runs after every server restart: herd and growth matter there. The manager's own
    # policy is measured by driving the manager (see _check_reconnect_path); here only give-up and outage.
    roles = (("socket reconnect", profile.socket_backoff, True), ("manager reconnect", profile.backoff, False))
    for role, policy, primary in roles:
        if policy.name in seen:
            continue
        seen.add(policy.name)
        findings += _policy_findings(profile, role, policy, seed, primary=primary)
    return findings


def _policy_findings(profile: Profile, role: str, policy: BackoffPolicy, seed: int, *, primary: bool) -> list[Finding]:
    findings: list[Finding] = []
    summary = summarize(policy)
    clients = _event_audience()
    herd = herd_size(policy, clients, seed=seed)
    if primary and herd > clients // 2:
        findings.append(
            _finding(
                profile,
                "backoff.thundering-herd",
                Severity.WARNING,
                f"{role} policy {policy.name!r}: after a server restart {herd} of {clients} clients reconnect in "
                f"the same 100 ms (first delay {summary.delays_ms[0]:.0f} ms, no jitter), and each rejoins every "
                "channel at once",
                why="synchronized reconnects exceed the plan's channel joins per second; rejected joins retry on "
                "the same timers and collide again",
                fix="add full jitter (random delay up to the exponential ceiling)",
                example=f"policy {policy!r}",
            )
        )
    if summary.gives_up_after is not None:
        findings.append(
            _finding(
                profile,
                "backoff.gives-up",
                Severity.WARNING,
                f"{role} policy {policy.name!r} gives up after {summary.gives_up_after} attempts "
                f"({summary.total_wait_ms / 1000:.0f} s); an outage longer than that leaves the page without "
                "updates until reload",
                fix="retry forever with a cap, and say so",
                example=f"delays {list(summary.delays_ms)}",
            )
        )
    elif primary and not summary.grows:
        findings.append(
            _finding(
                profile,
                "backoff.no-growth",
                Severity.WARNING,
                f"{role} policy {policy.name!r} retries every {summary.delays_ms[0]:.0f} ms forever without growing",
                fix="grow exponentially to a cap",
                example=f"delays {list(summary.delays_ms[:6])}",
            )
        )
    wait = reconnect_after_outage(policy, 60_000.0, random.Random(seed))
    if wait is None:
        findings.append(
            _finding(
                profile,
                "backoff.outage-not-survived",
                Severity.ERROR,
                f"{role} policy {policy.name!r} has given up before a 60 s outage ends",
                fix="retry forever with a cap",
            )
        )
    return findings


def _event_audience() -> int:
    """The audience of the simulator's default event (models/scenarios/artbattle.toml): one number for both."""
    from bcastsim.sim._scenario import load_scenario  # here, not at import: bcastsim.sim imports bcastsim.client

    return load_scenario("artbattle").audience


def _check_fan_out(profile: Profile, plans: Mapping[str, PlanLimits]) -> list[Finding]:
    """Every viewer joins every artwork's bid channel, so one bid costs one message per viewer."""
    viewers = _event_audience()
    capacity = ", ".join(f"{name} {plans[name].messages_per_second / viewers:g}" for name in sorted(plans))
    probe: list[ClientOp] = [Subscribe("c", "e", 1), ChannelClose("c"), Advance(120_000), Broadcast("c", "e")]
    recovers = bool(_probe(profile, probe).deliveries)
    return [
        _finding(
            profile,
            "plan.fan-out",
            Severity.NOTE if recovers else Severity.WARNING,
            f"with {viewers} viewers each bid fans out to {viewers} messages; bids per second, sustained, before "
            f"the project's message rate (a one-minute average) is exceeded: {capacity}. Over it the server "
            "closes channels, and this "
            + ("manager opens them again" if recovers else "manager never opens them again"),
            why="messages per second count every subscriber a broadcast reaches",
            fix="send bids on one event-wide channel per viewer group, batch updates, or move to a larger plan; "
            "recreate channels after CLOSED",
            example=describe_ops(probe),
        )
    ]


def _check_plan(profile: Profile, plans: Mapping[str, PlanLimits]) -> list[Finding]:
    plan = plans["pro"]
    # The page subscribes a bid and a media channel per artwork, plus the event and admin channels.
    channels = int(plan.channels_per_connection)
    limit_arts = (channels - 2) // 2
    return [
        _finding(
            profile,
            "plan.channels-per-connection",
            Severity.NOTE,
            f"the event page opens 2 channels per artwork plus 2; an event with more than {limit_arts} artworks "
            f"exceeds {channels} channels per connection and later joins fail",
            snippet="const visibleArtIds = artworks.map(art => art.id);",
            why="the page subscribes every artwork, visible or not",
            fix="subscribe only visible artworks, or use one event-wide bid channel",
        )
    ]


def run_profile_checks(
    profile: Profile, *, seed: int = 0, max_examples: int = 100, plans: Mapping[str, PlanLimits] | None = None
) -> list[Finding]:
    """Every check on ``profile``; the plan checks read ``plans`` (default: the built-ins), as the simulator does."""
    limits = {name: p for name, p in (plans or load_plans()).items() if name != UNLIMITED.name}
    findings: list[Finding] = []
    for check in _CHECKS:
        findings += check(profile, seed, max_examples)
    for plan_check in _PLAN_CHECKS:
        findings += plan_check(profile, limits)
    return sorted(findings, key=Finding.sort_key)


def run_client_checks(
    profile_name: str, *, seed: int = 0, max_examples: int = 100, plans: Mapping[str, PlanLimits] | None = None
) -> list[Finding]:
    """Run every client property against the named profile from ``models/profiles.toml``."""
    from bcastsim.client import PROFILES

    profile = PROFILES.get(profile_name)
    if profile is None:
        raise InputError(
            f"unknown client profile {profile_name!r}",
            path=Path("models/profiles.toml"),
            fix=f"one of {', '.join(sorted(PROFILES))}",
        )
    return run_profile_checks(profile, seed=seed, max_examples=max_examples, plans=plans)


# --- does any database sender reach the topics the page joins? --------------------------------------------

_DELIVERING = {"realtime.send", "realtime.broadcast_changes"}


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^}]*\}", template)
    return re.compile("^" + "[^:]+".join(re.escape(p) for p in parts) + "$")


def _page_topics(profile: Profile) -> list[tuple[str, bool]]:
    """The topics (and privacy) an admin's event page joins, recorded from the page model itself."""
    from bcastsim.client._page import EventDatabase, EventPage

    joined: list[tuple[str, bool]] = []

    class _Recorder:
        def subscribe(self, name: str, event: str, listener: Any, *, restricted: bool = False) -> object:
            joined.append((name, restricted and profile.private_restricted_topics))
            return len(joined)

        def unsubscribe(self, handle: object) -> None:
            pass

        def unsubscribe_all(self) -> None:
            pass

        def stats(self) -> tuple[int, int]:
            return 0, 0

    page = EventPage(profile, _Recorder(), EventDatabase("E", ("A",)), is_admin=True)
    page.run_effect()
    return list(dict.fromkeys(joined))


def _reach_fix(site: NotifySite, private: bool) -> str:
    """How to make the page's join reach the sender, never by moving restricted or personal data to public."""
    from bcastsim.review import ReviewConfig

    config = ReviewConfig()
    fields = site.payload or ()
    exposed = (
        config.is_restricted_topic(str(site.channel))
        or any(config.is_restricted_table(table) for table in site.tables)
        or any(config.is_sensitive_key(field.key) for field in fields)
        or any(
            config.is_restricted_table(s.table) or config.is_sensitive_column(s.table, s.column)
            for field in fields
            for s in field.sources
        )
    )
    if private or not exposed:
        return f"PERFORM realtime.send(payload, event, '{site.channel}', private => {str(private).lower()})"
    return (
        f"PERFORM realtime.send(payload, event, '{site.channel}', private => true), guarded by an RLS policy on "
        "realtime.messages, and join the topic with config: { private: true }: it carries restricted or "
        "personal data, so it must not become public"
    )


def _check_topics(profile: Profile, seed: int, max_examples: int) -> list[Finding]:
    if profile.sql is None:
        return []
    from bcastsim._resources import builtin_sql_files
    from bcastsim.sqlmodel import load_catalog

    paths = builtin_sql_files() if profile.sql == "builtin" else [Path(profile.sql)]
    try:
        sites = load_catalog(paths).notify_sites
    except InputError as error:
        return [
            _finding(
                profile,
                "client.topic-unchecked",
                Severity.NOTE,
                f"the database side could not be read, so topic reachability was not checked: {error.one_line()}",
            )
        ]
    findings: list[Finding] = []
    for topic, private in _page_topics(profile):
        matching = [s for s in sites if _template_regex(str(s.channel)).match(topic)]
        reaching = [s for s in matching if s.transport in _DELIVERING and (s.private is None or s.private == private)]
        if matching and not reaching:
            site = matching[0]
            kinds = sorted(
                {
                    s.transport if s.transport not in _DELIVERING else f"{s.transport} (private={s.private})"
                    for s in matching
                }
            )
            findings.append(
                Finding(
                    rule="client.topic-unreachable",
                    severity=Severity.ERROR,
                    message=f"[{profile.name}] the page joins {'private' if private else 'public'} topic {topic} "
                    f"but every database sender for {site.channel} uses {', '.join(kinds)}, which never reaches it",
                    path=display_path(site.location.path),
                    line=site.location.line,
                    channel=str(site.channel),
                    function=site.function,
                    why="Supabase Realtime has no LISTEN path: pg_notify/NOTIFY is not delivered to Broadcast "
                    "channels; only realtime.send (a row in realtime.messages) is, and a public and a private "
                    "channel of one name are different channels",
                    fix=_reach_fix(site, private),
                    example=f"topic {topic}",
                )
            )
    return findings


_CHECKS: tuple[Check, ...] = (
    _check_listener_bookkeeping,
    _check_recovery,
    _check_reconnect_path,
    _check_gap_resync,
    _check_convergence,
    _check_delivery_history,
    _check_restricted,
    _check_flash,
    _check_payload_shapes,
    _check_rollout,
    _check_backoff,
    _check_topics,
)
_PLAN_CHECKS: tuple[Callable[[Profile, Mapping[str, PlanLimits]], list[Finding]], ...] = (_check_plan, _check_fan_out)
