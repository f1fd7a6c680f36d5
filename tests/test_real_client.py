"""Subscription managers on the real @supabase/realtime-js under node, against the fault-injecting server.

The seed's manager is taken from the plan at test time; the other managers are fixture files
under ``tests/fixtures/client/`` (the broken ones are the good one with one defect each, made at test time).
Skipped with the reason where node or the pinned packages
(``npm ci`` in ``src/bcastsim/client/_node``, or ``bcastsim client install``) are absent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from bcastsim._errors import InputError
from bcastsim.cli import main
from bcastsim.client._node import default_seed_plan, node_binary, realtime_js_missing, run_realtime
from bcastsim.client._realcheck import check_client_module, topics_from_sql

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(realtime_js_missing() is not None, reason=str(realtime_js_missing())),
]

FIXTURES = Path(__file__).parent / "fixtures" / "client"
GOOD = FIXTURES / "good_manager.mjs"

# Each broken manager is the good one with one deliberate defect: (file name, [(text, replacement), ...]).
_VARIANTS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "listeners_lost": (
        "broken_listeners_lost.mjs",
        [("        entry.channel = null;\n", "        entry.channel = null;\n        entry.listeners = new Map();\n")],
    ),
    "no_rejoin": (
        "broken_no_rejoin.mjs",
        [("      } else if (status === 'CLOSED' && !entry.leaving) {\n        entry.channel = null;\n"
          "        retry(entry);\n", "")],
    ),
    "no_jitter": ("broken_no_jitter.mjs", [("const delay = 250 + Math.random() * ceiling;", "const delay = ceiling;")]),
    "envelope": ("broken_envelope.mjs", [("callback(message.payload)", "callback(message)")]),
    "no_resync": ("broken_no_resync.mjs", [("if (options.resync) options.resync(entry.topic);", "")]),
    # CommonJS, and every topic joined public whatever the SQL says.
    "public_only": (
        "public_only_manager.cjs",
        [
            ("export function createManager", "function createManager"),
            ("client.channel(entry.topic, { config: { private: entry.private } })", "client.channel(entry.topic)"),
            ("\n  };\n}\n", "\n  };\n}\nmodule.exports = { createManager };\n"),
        ],
    ),
}  # fmt: skip


def _variant(tmp_path: Path, name: str) -> Path:
    file_name, edits = _VARIANTS[name]
    text = GOOD.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, f"{name}: {old!r} is not in the good manager exactly once"
        text = text.replace(old, new)
    path = tmp_path / file_name
    path.write_text(text, encoding="utf-8")
    return path


def _rules(path: Path) -> set[str]:
    return {f.rule for f in check_client_module(path, schedules=300) if f.severity.value == "error"}


def _raw(ops: list[dict[str, object]]) -> list[dict[str, object]]:
    return run_realtime({"mode": "raw", "schedules": [{"seed": 1, "ops": ops}]})[0]


def test_two_subscriptions_to_one_topic_share_the_real_channel() -> None:
    """realtime-js returns the existing channel for a topic: removing one subscription closes both."""
    steps = _raw(
        [
            {"op": "subscribe", "listener": 1, "topic": "a", "event": "*"},
            {"op": "subscribe", "listener": 2, "topic": "a", "event": "*"},
            {"op": "unsubscribe", "listener": 2},
            {"op": "broadcast", "topic": "a", "event": "e"},
        ]
    )
    assert steps[0]["joins"] == [["a", False, 0]]
    assert steps[1]["joins"] == []
    assert steps[2]["channels"] == []
    assert steps[3]["deliveries"] == []


def test_a_short_partition_between_heartbeats_goes_unnoticed_and_a_long_one_is_caught() -> None:
    """The 25 s heartbeat notices a dead connection only when a beat falls inside the partition."""
    short = _raw(
        [
            {"op": "subscribe", "listener": 1, "topic": "a", "event": "*"},
            {"op": "partition", "ms": 20_000},
            {"op": "advance", "ms": 120_000},
        ]
    )
    long = _raw(
        [
            {"op": "subscribe", "listener": 1, "topic": "a", "event": "*"},
            {"op": "partition", "ms": 70_000},
            {"op": "advance", "ms": 120_000},
        ]
    )
    assert short[-1]["connects"] == 0
    assert long[-1]["connects"] >= 1
    assert long[-1]["connected"] is True


def test_socket_disconnects_fifty_seconds_after_its_last_channel() -> None:
    """With no channel left, the socket closes 2 × heartbeat later."""
    steps = _raw(
        [
            {"op": "subscribe", "listener": 1, "topic": "a", "event": "*"},
            {"op": "unsubscribe", "listener": 1},
            {"op": "advance", "ms": 49_000},
            {"op": "advance", "ms": 2_000},
        ]
    )
    assert steps[2]["connected"] is True
    assert steps[3]["connected"] is False


def test_hidden_tab_does_not_reconnect_until_visible() -> None:
    """A dropped socket in a hidden tab stays down; showing the tab reconnects it."""
    steps = _raw(
        [
            {"op": "subscribe", "listener": 1, "topic": "a", "event": "*"},
            {"op": "hidden", "hidden": True},
            {"op": "drop"},
            {"op": "advance", "ms": 60_000},
            {"op": "hidden", "hidden": False},
            {"op": "advance", "ms": 1_000},
        ]
    )
    assert steps[3]["connected"] is False
    assert steps[4]["connected"] or steps[5]["connected"]


def test_seed_manager_from_the_plan_fails_its_known_properties_on_the_real_client() -> None:
    """The seed's BroadcastManager, extracted from the plan, breaks filters, isolation and rejoin after CLOSED."""
    plan = default_seed_plan()
    if not plan.is_file():
        pytest.skip(f"seed plan not found at {plan}")
    rules = {f.rule for f in check_client_module(plan, schedules=500)}
    assert {
        "client.event-filter",
        "client.unsubscribe-isolation",
        "client.rejoin-after-closed",
        "client.resync-after-gap",
    } <= rules


def test_seed_hook_under_react_test_renderer_leaks_subscriptions_across_renders() -> None:
    """useBroadcastRealtime re-rendered with new props keeps the old event and admin messages coming."""
    plan = default_seed_plan()
    if not plan.is_file():
        pytest.skip(f"seed plan not found at {plan}")
    findings = {f.rule: f for f in check_client_module(plan, schedules=50)}
    assert "client.hook-stale-subscription" in findings
    assert "admin" in findings["client.hook-stale-subscription"].message
    assert "client.hook-duplicate-listener" in findings
    assert "client.hook-unmount-leak" not in findings


def test_correct_manager_has_no_error() -> None:
    """A manager written against realtime-js passes every property at error level."""
    assert _rules(GOOD) == set()


def test_listeners_lost_on_reconnect_are_found(tmp_path: Path) -> None:
    """Re-creating a closed channel without its listeners is reported with a shrunk timeline."""
    findings = check_client_module(_variant(tmp_path, "listeners_lost"), schedules=300)
    found = [f for f in findings if f.rule == "client.listeners-survive"]
    assert found
    assert found[0].example is not None
    assert found[0].example.count("\n  t=") <= 6


def test_no_rejoin_after_closed_is_found(tmp_path: Path) -> None:
    """A manager that ignores CLOSED is reported as never rejoining."""
    assert "client.rejoin-after-closed" in _rules(_variant(tmp_path, "no_rejoin"))


def test_backoff_without_jitter_is_found(tmp_path: Path) -> None:
    """Twenty clients closed together retry at the same instant: the herd is reported."""
    assert _rules(_variant(tmp_path, "no_jitter")) == {"client.backoff-jitter"}


def test_replay_script_reproduces_without_bcastsim(tmp_path: Path) -> None:
    """The written node script replays the failing schedule with plain node and shows the missed message."""
    check_client_module(_variant(tmp_path, "no_rejoin"), schedules=200, replay_dir=tmp_path)
    script = tmp_path / "rejoin-after-closed.js"
    replay = json.loads((tmp_path / "rejoin-after-closed.json").read_text())
    node = node_binary()
    assert node is not None
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = json.loads(
        subprocess.run([node, str(script)], capture_output=True, text=True, check=True, cwd=elsewhere).stdout
    )
    for written in (script, tmp_path / "rejoin-after-closed.json"):  # no path of this machine in either file
        assert str(tmp_path) not in written.read_text()
    assert not replay["module"].startswith("/")
    header = script.read_text().split("\n", 6)[:6]
    assert not any('resolve(__dirname, "/' in line for line in header)
    steps = out["schedules"][0]
    assert len(steps) == len(replay["schedules"][0]["ops"])
    assert steps[-1]["sent"] is not None
    assert steps[-1]["deliveries"] == []


def test_topics_come_from_the_users_sql(tmp_path: Path) -> None:
    """--client with SQL drives the SQL's own topics, events and privacy, and names the SQL file."""
    sql = tmp_path / "room.sql"
    sql.write_text(
        "CREATE TABLE msgs (id int, room int, body text);\n"
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN\n"
        "  PERFORM realtime.send(jsonb_build_object('body', NEW.body), 'new_message', 'room:' || NEW.room, true);\n"
        "  RETURN NEW; END $$;\n"
        "CREATE TRIGGER t AFTER INSERT ON msgs FOR EACH ROW EXECUTE FUNCTION f();\n",
        encoding="utf-8",
    )
    topics = topics_from_sql([sql])
    assert [(t.name, t.events, t.private) for t in topics] == [("room:1", ("new_message",), True)]
    findings = check_client_module(GOOD, [sql], schedules=100)
    assert [f.rule for f in findings] == ["client.exercised"]
    seed_like = check_client_module(_variant(tmp_path, "public_only"), [sql], schedules=100)
    private = [f for f in seed_like if f.rule == "client.private-topics"]
    assert private
    assert "room.sql" in private[0].message


def test_a_module_without_the_adapter_exports_is_one_line(tmp_path: Path) -> None:
    """A module exporting neither createManager nor BroadcastManager is an input error saying so."""
    path = tmp_path / "manager.mjs"
    path.write_text("export const version = 1;\n", encoding="utf-8")
    with pytest.raises(InputError, match="exports neither createManager") as error:
        check_client_module(path, schedules=10)
    assert "\n" not in str(error.value)


def test_client_install_puts_the_pinned_library_in_a_directory(tmp_path: Path) -> None:
    """`bcastsim client install --target DIR` runs npm ci of the lockfile: the pinned realtime-js lands there."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    assert main(["client", "install", "--target", str(tmp_path)]) == 0
    package = json.loads((tmp_path / "node_modules" / "@supabase" / "realtime-js" / "package.json").read_text())
    assert package["version"] == "2.119.1"


_ROOM_SQL = (
    "CREATE TABLE msgs (id int, room int, body text);\n"
    "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN\n"
    "  PERFORM realtime.send(jsonb_build_object('body', NEW.body, 'id', NEW.id), 'message',\n"
    "    'room:' || NEW.room, true);\n"
    "  RETURN NEW; END $$;\n"
    "CREATE TRIGGER t AFTER INSERT {update}ON msgs FOR EACH ROW EXECUTE FUNCTION f();\n"
)


def _room_sql(tmp_path: Path, *, update: bool) -> Path:
    sql = tmp_path / "room.sql"
    sql.write_text(_ROOM_SQL.format(update="OR UPDATE " if update else ""), encoding="utf-8")
    return sql


def test_a_callback_handed_the_envelope_is_found_against_the_sql_contract(tmp_path: Path) -> None:
    """Given SQL, a manager passing {type, event, payload, meta} to callbacks fails envelope-not-payload."""
    sql = _room_sql(tmp_path, update=False)
    findings = {f.rule: f for f in check_client_module(_variant(tmp_path, "envelope"), [sql], schedules=60)}
    assert "client.envelope-not-payload" in findings
    assert "message.body gets undefined" in findings["client.envelope-not-payload"].message
    assert "client.envelope-not-payload" not in {f.rule for f in check_client_module(GOOD, [sql], schedules=60)}


def test_no_resync_fails_where_the_sql_sends_row_state(tmp_path: Path) -> None:
    """A manager that never resyncs is an error on a topic sent on UPDATE, a warning on an insert-only one."""
    broken = _variant(tmp_path, "no_resync")
    stateful = {f.rule: f for f in check_client_module(broken, [_room_sql(tmp_path, update=True)], schedules=150)}
    assert stateful["client.resync-after-gap"].severity.value == "error"
    inserts = {f.rule: f for f in check_client_module(broken, [_room_sql(tmp_path, update=False)], schedules=150)}
    assert inserts["client.resync-after-gap"].severity.value == "warning"


def test_the_check_reports_what_it_exercised(tmp_path: Path) -> None:
    """A note lists schedules, faults by kind, topics and events sent, deliveries and the properties checked."""
    sql = _room_sql(tmp_path, update=True)
    note = next(f for f in check_client_module(GOOD, [sql], schedules=60) if f.rule == "client.exercised")
    assert note.severity.value == "note"
    assert note.example is not None
    assert "room:1/message" in note.example
    assert "faults injected:" in note.example
    assert "topics carrying row state (resync required): room:1" in note.example
    assert "client.envelope-not-payload" in note.example
