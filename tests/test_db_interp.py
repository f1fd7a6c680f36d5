"""The PL/pgSQL interpreter: it runs what the SQL says, and says what it cannot run."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcastsim._errors import UnsupportedError
from bcastsim._resources import builtin_sql_files
from bcastsim.db import DatabaseModel

IDS = [f"00000000-0000-0000-0000-00000000000{i}" for i in range(1, 6)]
BID_SETUP = [
    f"INSERT INTO events (id, eid, name) VALUES ('{IDS[0]}', 'e', 'n')",
    f"INSERT INTO people (id) VALUES ('{IDS[1]}')",
    f"INSERT INTO art (id, event_id, code) VALUES ('{IDS[2]}', '{IDS[0]}', 'c')",
    f"INSERT INTO bids (id, art_id, person_id, amount) VALUES ('{IDS[3]}', '{IDS[2]}', '{IDS[1]}', 9)",
]


def _copy_sql(tmp_path: Path, replace: tuple[str, str] | None = None) -> list[Path]:
    copies = []
    for source in builtin_sql_files():
        text = source.read_text()
        if replace is not None and source.name == "broadcast_triggers.sql":
            assert replace[0] in text
            text = text.replace(replace[0], replace[1])
        target = tmp_path / source.name
        target.write_text(text)
        copies.append(target)
    return copies


def test_changing_a_payload_key_in_the_sql_changes_the_model(tmp_path: Path) -> None:
    """Renaming 'bidder_id' in a copy of the trigger SQL renames it in the model's payload, no code change."""
    (tmp_path / "original").mkdir()
    (tmp_path / "renamed").mkdir()
    original = DatabaseModel.from_sql(_copy_sql(tmp_path / "original"))
    renamed = DatabaseModel.from_sql(_copy_sql(tmp_path / "renamed", ("'bidder_id'", "'buyer'")))
    before = original.run_transaction(BID_SETUP).notifications[0].payload
    after = renamed.run_transaction(BID_SETUP).notifications[0].payload
    assert '"bidder_id" : ' in before
    assert '"buyer"' not in before
    assert after == before.replace('"bidder_id"', '"buyer"')


def test_unsupported_construct_names_construct_file_and_line(tmp_path: Path) -> None:
    """A LOOP in a trigger function is reported as unsupported with its file and line when the trigger fires."""
    extra = tmp_path / "loop.sql"
    extra.write_text(
        "CREATE FUNCTION looping() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "  LOOP\n"
        "    EXIT;\n"
        "  END LOOP;\n"
        "  RETURN NEW;\n"
        "END;\n"
        "$$;\n"
        "CREATE TRIGGER looping AFTER INSERT ON people FOR EACH ROW EXECUTE FUNCTION looping();\n"
    )
    model = DatabaseModel.from_sql([*builtin_sql_files(), extra])
    assert [error.construct for error in model.unsupported] == ["PL/pgSQL statement LOOP"]
    with pytest.raises(UnsupportedError) as raised:
        model.run_transaction([f"INSERT INTO people (id) VALUES ('{IDS[0]}')"])
    assert raised.value.path == str(extra)
    assert raised.value.line == 3
    assert "unsupported: PL/pgSQL statement LOOP" in raised.value.one_line()


def test_realtime_send_inserts_messages_and_turns_errors_into_warnings() -> None:
    """realtime.send (interpreted from sql/realtime.sql) adds a private row; a NULL topic becomes a WARNING."""
    model = DatabaseModel.from_sql()
    outcome = model.run_transaction(
        [
            "SELECT realtime.send(jsonb_build_object('b', 1.50, 'a', 'x'), 'ev', 'room')",
            "SELECT realtime.send(jsonb_build_object('a', 1), 'ev', NULL, false)",
        ]
    )
    assert outcome.committed
    assert [(m.topic, m.event, m.private, m.payload) for m in outcome.messages] == [
        ("room", "ev", True, '{"a": "x", "b": 1.50}')
    ]
    assert outcome.warnings == (
        'ErrorSendingBroadcastMessage: null value in column "topic" of relation "messages_default"'
        " violates not-null constraint",
    )


def test_tg_op_branches_and_coalesce_of_new_and_old() -> None:
    """round_contestants' trigger reports added / updated / removed and reads OLD when NEW is NULL."""
    model = DatabaseModel.from_sql()
    steps = [
        f"INSERT INTO events (id, eid, name) VALUES ('{IDS[0]}', 'e', 'n')",
        f"INSERT INTO round_contestants (id, event_id, round) VALUES ('{IDS[1]}', '{IDS[0]}', 2)",
        f"UPDATE round_contestants SET round = 3 WHERE id = '{IDS[1]}'",
        f"DELETE FROM round_contestants WHERE id = '{IDS[1]}'",
    ]
    payloads = [n.payload for n in model.run_transaction(steps).notifications]
    operations = [p.split('"operation" : "')[1].split('"')[0] for p in payloads]
    rounds = [p.split('"round" : ')[1].split(",")[0] for p in payloads]
    assert operations == ["added", "updated", "removed"]
    assert rounds == ["2", "3", "3"]
