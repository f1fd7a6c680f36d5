"""The seed's own JavaScript, run under node, agrees with the seed profile.

The code blocks are taken from the seed plan at test time (``BCASTSIM_SEED_PLAN``
overrides the path); ``BCASTSIM_CLIENT_JS`` points the manager comparison at
another ``.js`` file with the same ``BroadcastManager`` API.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bcastsim.client import PROFILES, OpRunner, check_client_js, hash_code, should_use_broadcast
from bcastsim.client._node import default_seed_plan, load_client_code, node_binary, run_harness
from bcastsim.client._ops import ClientOp, op_to_json
from bcastsim.client._rollout import RolloutFlags
from bcastsim.strategies import client_ops, js_strings, session_ids, user_ids

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(node_binary() is None, reason="node is not installed"),
    pytest.mark.skipif(not default_seed_plan().is_file(), reason=f"seed plan not found at {default_seed_plan()}"),
]


# BCASTSIM_CLIENT_JS=your.js compares your manager with the profile named by BCASTSIM_CLIENT_PROFILE.
_PROFILE = os.environ.get("BCASTSIM_CLIENT_PROFILE", "seed")


def _observations(ops: list[ClientOp]) -> list[dict[str, object]]:
    # Round-trip through JSON so Python floats and JS numbers compare alike.
    return json.loads(json.dumps([o.to_json() for o in OpRunner(PROFILES[_PROFILE]).run(ops)]))


def test_hash_code_matches_node_on_10000_strings() -> None:
    """hashCode from featureFlags.js and bcastsim's hash_code agree on 10,000 strings, astral ones included."""
    strings: list[str] = []

    # Batches of 100 keep generation cheap; all strings go to node in one process.
    @settings(max_examples=110, database=None)
    @given(st.lists(js_strings(), min_size=100, max_size=100))
    def collect(batch: list[str]) -> None:
        strings.extend(batch)

    collect()
    strings += ["", "😀", "\U0010ffff" * 7, "session_1700000000000_k3j4h5g6f"]
    assert len(strings) >= 10_000
    assert sum(any(ord(c) > 0xFFFF for c in s) for s in strings) > 100
    code = load_client_code(block="featureFlags.js")
    result = run_harness({"mode": "hash", "code": code, "strings": strings})
    mismatches = [(s, h, hash_code(s)) for s, h in zip(strings, result["hashes"], strict=True) if h != hash_code(s)]
    assert mismatches == []


@st.composite
def _rollout_cases(draw: st.DrawFn) -> dict[str, object]:
    return {
        "user": draw(st.none() | user_ids()),
        "session": draw(session_ids()),
        "search": draw(st.sampled_from(["", "?broadcast=true", "?broadcast=false", "?broadcast=1"])),
        "env": {
            "REACT_APP_USE_BROADCAST": draw(st.sampled_from(["true", "false", ""])),
            "REACT_APP_BROADCAST_PERCENTAGE": draw(st.sampled_from(["", "0", "5", "25", "50", "75", "100", "x"])),
        },
    }


def test_should_use_broadcast_matches_node() -> None:
    """shouldUseBroadcast's precedence and percentage decision agree with featureFlags.js."""
    cases: list[dict[str, object]] = []

    @settings(max_examples=300, database=None)
    @given(_rollout_cases())
    def collect(case: dict[str, object]) -> None:
        cases.append(case)

    collect()
    code = load_client_code(block="featureFlags.js")
    decisions = run_harness({"mode": "rollout", "code": code, "cases": cases})["decisions"]
    for case, decision in zip(cases, decisions, strict=True):
        env = case["env"]
        assert isinstance(env, dict)
        search = str(case["search"])
        percentage = env["REACT_APP_BROADCAST_PERCENTAGE"]
        flags = RolloutFlags(
            use_broadcast=env["REACT_APP_USE_BROADCAST"] == "true",
            percentage=int(percentage) if percentage.isdigit() else 0,
            url_broadcast=search.split("=", 1)[1] if "=" in search else None,
        )
        user = case["user"]
        assert should_use_broadcast(user if isinstance(user, str) else None, str(case["session"]), flags) is decision


def test_operation_sequences_match_node() -> None:
    """Listener counts, timer delays and deliveries agree with BroadcastManager under node, op by op."""
    sequences: list[list[ClientOp]] = []

    @settings(max_examples=300, database=None)
    @given(client_ops(counterfactual=True, max_size=14))
    def collect(ops: list[ClientOp]) -> None:
        sequences.append(ops)

    collect()
    code = load_client_code()
    result = run_harness({"mode": "ops", "code": code, "cases": [[op_to_json(o) for o in ops] for ops in sequences]})
    for ops, observed in zip(sequences, result["cases"], strict=True):
        expected = _observations(ops)
        for index, (mine, theirs) in enumerate(zip(expected, observed, strict=True)):
            assert mine == theirs, f"after {ops[: index + 1]}: model {mine} != node {theirs}"


_HOOK_MESSAGES = st.lists(
    st.sampled_from(
        [
            ("broadcast:bid:A", "bid_update", {"type": "bid_update", "art_id": "A", "amount": 5}),
            ("broadcast:event:E", "winner_update", {"type": "winner_update", "art_id": "A", "is_winner": True}),
            ("broadcast:event:E", "auction_update", {"type": "auction_update", "art_id": "A", "auction_end": 9}),
            ("broadcast:admin:E", "vote_update", {"type": "vote_update", "art_id": "A", "round": 1}),
            ("broadcast:admin:E", "round_contestants_update", {"type": "round_contestants_update", "round": 1}),
        ]
    ),
    max_size=6,
)


def test_hook_flash_wiring_matches_node() -> None:
    """useBroadcastRealtime's flash lookups and what the page callbacks get agree with the seed page model."""
    from bcastsim.client import EventDatabase, EventPage, PhoenixClient, PhoenixServer, SeedManager, VirtualClock

    cases: list[list[tuple[str, str, dict[str, object]]]] = []

    @settings(max_examples=40, database=None)
    @given(_HOOK_MESSAGES)
    def collect(messages: list[tuple[str, str, dict[str, object]]]) -> None:
        cases.append(messages)

    collect()
    code = load_client_code() + "\n" + load_client_code(block="useBroadcastRealtime.js")
    answers = run_harness({"mode": "hooks", "code": code, "cases": [[list(m) for m in c] for c in cases]})["cases"]
    for messages, node in zip(cases, answers, strict=True):
        clock = VirtualClock()
        server = PhoenixServer(clock)
        handled: dict[str, list[object]] = {"bid": [], "event": [], "admin": []}
        page = EventPage(
            PROFILES["seed"],
            SeedManager(PhoenixClient(server, user="admin"), clock),
            EventDatabase("E", ("A",)),
            is_admin=True,
            on_handled=lambda kind, value, seen=handled: seen.setdefault(kind, []).append(value),
        )
        page.run_effect()
        clock.advance(0)
        for topic, event, payload in messages:
            server.broadcast(topic, event, False, payload)
            clock.advance(0)
        assert page.flashes == node["selectors"]
        received = json.loads(
            json.dumps({"bids": handled["bid"], "event": handled["event"], "admin": handled["admin"]})
        )
        assert received == node["received"]


_GOOD_MANAGER = """
class BroadcastManager {
  constructor(supabase) { this.supabase = supabase; this.entries = new Map(); this.handles = new Map(); this.next = 0; }
  subscribe(name, event, cb) {
    let entry = this.entries.get(name);
    if (!entry) {
      entry = { listeners: new Map(), channel: null };
      this.entries.set(name, entry);
      this.open(name, entry);
    }
    const handle = ++this.next;
    entry.listeners.set(handle, { event, cb });
    this.handles.set(handle, name);
    return handle;
  }
  open(name, entry) {
    const channel = this.supabase.channel(name);
    channel.on('broadcast', { event: '*' }, (msg) => {
      for (const { event, cb } of Array.from(entry.listeners.values())) {
        if (event === '*' || event.toLowerCase() === msg.event.toLowerCase()) cb(msg.payload);
      }
    });
    entry.channel = channel;
    channel.subscribe((status) => {
      if (status === 'CLOSED' && !entry.leaving) {
        const retry = () => { if (this.entries.get(name) === entry) this.open(name, entry); };
        setTimeout(retry, 1000 + Math.random() * 1000);
      }
    });
  }
  unsubscribe(handle) {
    const name = this.handles.get(handle);
    if (name === undefined) return;
    this.handles.delete(handle);
    const entry = this.entries.get(name);
    entry.listeners.delete(handle);
    if (entry.listeners.size === 0) {
      entry.leaving = true;
      this.entries.delete(name);
      this.supabase.removeChannel(entry.channel);
    }
  }
  unsubscribeAll() { for (const h of Array.from(this.handles.keys())) this.unsubscribe(h); }
}
"""


def test_client_js_check_finds_the_seed_manager_defects() -> None:
    """The manager properties, run on the seed's own JavaScript, report its bookkeeping and recovery defects."""
    rules = {f.rule for f in check_client_js(default_seed_plan(), examples=150)}
    assert {
        "client.event-filter",
        "client.unsubscribe-isolation",
        "client.recovers-after-close",
        "client.reconnect-unreachable",
    } <= rules


def test_client_js_check_passes_a_correct_manager(tmp_path: Path) -> None:
    """A handle-based manager that re-creates closed channels passes every manager property under node."""
    path = tmp_path / "manager.js"
    path.write_text(_GOOD_MANAGER, encoding="utf-8")
    assert check_client_js(path, examples=150) == []
