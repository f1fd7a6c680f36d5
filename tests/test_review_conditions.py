"""Emission conditions are decided by a solver in three-valued logic; PostgreSQL and the db model agree on witnesses."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcastsim.db import DatabaseModel
from bcastsim.pg import EphemeralPostgres
from bcastsim.review import review
from bcastsim.review._emission import emission_changes
from bcastsim.review._logic import Witness, equivalent, escape

ROOT = Path(__file__).resolve().parents[1]
CONDITIONS = ROOT / "tests" / "fixtures" / "sql" / "conditions"
# The version before: the same as message-narrowed-if's, which this rewrites without changing what it sends.
BEFORE = ROOT / "tests" / "fixtures" / "sql" / "review" / "diff" / "message-narrowed-if" / "old.sql"
FIXTURE_SCHEMA = [ROOT / "sql" / "realtime.sql", ROOT / "tests" / "fixtures" / "sql" / "review" / "schema.sql"]

EQUIVALENT = [
    ("OLD.status IS DISTINCT FROM NEW.status", "NOT (OLD.status IS NOT DISTINCT FROM NEW.status)"),
    (
        "NEW.a IS DISTINCT FROM OLD.a OR NEW.b IS DISTINCT FROM OLD.b",
        "NOT (NEW.b IS NOT DISTINCT FROM OLD.b AND NEW.a IS NOT DISTINCT FROM OLD.a)",
    ),
    ("NEW.status IN ('done', 'shipped')", "NEW.status = 'shipped' OR NEW.status = 'done'"),
    ("NEW.qty < 5", "NOT (NEW.qty >= 5)"),
    ("NEW.qty >= 3 AND NEW.qty <= 3", "NEW.qty = 3"),
    ("NEW.flag", "NEW.flag IS TRUE"),
    # NOT of NULL is NULL, and NULL does not send: the IS NOT NULL adds nothing.
    ("NOT (NEW.qty >= 5)", "NEW.qty < 5 AND NEW.qty IS NOT NULL"),
    ("TG_OP = 'UPDATE' AND OLD.status <> NEW.status", "OLD.status <> NEW.status"),
]

# (old, new, operation, narrowed): the new condition sends on fewer (True) or more (False) rows.
CHANGED = [
    ("OLD.status IS DISTINCT FROM NEW.status", "OLD.status <> NEW.status", "UPDATE", True),
    ("NEW.status = 'done'", "NEW.status IN ('done', 'shipped')", "UPDATE", False),
    ("NEW.qty < 5", "NEW.qty <= 5", "INSERT", False),
    ("NEW.qty IS NULL OR NEW.qty < 5", "NOT (NEW.qty >= 5)", "INSERT", True),
    ("NEW.note IS NULL OR NEW.qty > 1", "NEW.qty > 1", "INSERT", True),
    ("NEW.flag IS NOT FALSE", "NEW.flag", "UPDATE", True),
]
TYPES = {"status": "text", "note": "text", "qty": "integer", "flag": "boolean", "a": "text", "b": "text"}


@pytest.mark.parametrize(("first", "second"), EQUIVALENT)
def test_equivalent_conditions_are_no_change(first: str, second: str) -> None:
    """Two ways of writing one condition send on the same rows: no narrowing, no widening."""
    assert equivalent((first,), (second,), "UPDATE")
    assert emission_changes((("UPDATE", (first,)),), (("UPDATE", (second,)),)) == []


@pytest.mark.parametrize("condition", sorted({c for pair in EQUIVALENT for c in pair} | {c[0] for c in CHANGED}))
def test_conditions_held_word_for_word_imply_themselves(condition: str) -> None:
    """No row escapes conditions that include the asked ones verbatim, as the solver finds for them reworded."""
    for operation in ("INSERT", "UPDATE"):
        assert escape((condition, "NEW.qty > 1"), (condition,), operation) is None
        assert escape((condition, "NEW.qty > 1"), (f"({condition})",), operation) is None


@pytest.mark.parametrize(("old", "new", "operation", "narrowed"), CHANGED)
def test_changed_conditions_give_a_row_as_witness(old: str, new: str, operation: str, narrowed: bool) -> None:
    """A real narrowing or widening is found in one direction only, with the row that shows it."""
    (change,) = emission_changes(((operation, (old,)),), ((operation, (new,)),))
    assert change.narrowed is narrowed
    assert change.witness is not None
    assert change.witness.opaque == ()
    assert change.example == str(change.witness)


def test_the_equivalent_rewrite_is_not_reported_by_review() -> None:
    """review of NOT (a IS NOT DISTINCT FROM b AND …) against a IS DISTINCT FROM b OR …: nothing changed."""
    report = review(str(BEFORE), str(CONDITIONS / "new.sql"), schema=FIXTURE_SCHEMA)
    rules = {entry.finding.rule for entry in report.entries if entry.state == "changed"}
    assert not rules & {"message-narrowed", "message-widened"}


def test_old_record_is_null_on_insert() -> None:
    """On INSERT every OLD column is NULL: OLD.a IS NULL always holds, so it widens NEW.a IS NOT NULL."""
    assert escape(("NEW.a IS NOT NULL",), ("OLD.a IS NULL",), "INSERT") is None
    witness = escape(("OLD.a IS NULL",), ("NEW.a IS NOT NULL",), "INSERT")
    assert witness is not None
    assert dict(witness.values) == {"NEW.a": None, "OLD.a": None}


def test_a_condition_the_encoder_does_not_model_is_named_in_the_witness() -> None:
    """lower(NEW.x) = 'a' is an opaque condition: the witness gives its truth value, not a made-up row."""
    witness = escape(("lower(NEW.x) = 'a'",), ("lower(NEW.x) = 'a'", "NEW.y > 2"), "UPDATE")
    assert witness is not None
    assert witness.opaque == (("lower(new.x) = 'a'", True),)
    assert "NEW.y = NULL" in str(witness) or "NEW.y = " in str(witness)


def _row(witness: Witness, record: str) -> str:
    columns = [
        f"{'NULL' if value is None else value}::{TYPES[name.split('.')[1]]} AS {name.split('.')[1]}"
        for name, value in witness.values
        if name.startswith(record + ".")
    ]
    return "(SELECT " + (", ".join(columns) or "1 AS unused") + f") AS {record.lower()}"


@pytest.mark.postgres
@pytest.mark.parametrize(("old", "new", "operation", "narrowed"), CHANGED)
def test_witnesses_hold_in_postgres(
    old: str, new: str, operation: str, narrowed: bool, bcastsim_server: EphemeralPostgres
) -> None:
    """PostgreSQL evaluates both conditions on the witness row: the one that sends is true, the other is not."""
    (change,) = emission_changes(((operation, (old,)),), ((operation, (new,)),))
    assert change.witness is not None
    sends, silent = (old, new) if narrowed else (new, old)
    query = (
        f"SELECT ({sends}) IS TRUE, ({silent}) IS TRUE "
        f"FROM {_row(change.witness, 'OLD')}, {_row(change.witness, 'NEW')}"
    )
    with bcastsim_server.create_database([]) as database:
        assert database.execute(query) == [(True, False)]


# One table with every column CHANGED reads, and a trigger per version of the condition, each on its own channel.
WITNESS_SCHEMA = """\
CREATE TABLE t (id integer PRIMARY KEY, status text, note text, qty integer, flag boolean, a text, b text);
CREATE FUNCTION sends_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF {old} THEN
    PERFORM pg_notify('old', TG_OP);
  END IF;
  RETURN NULL;
END $$;
CREATE FUNCTION sends_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF {new} THEN
    PERFORM pg_notify('new', TG_OP);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER sends_old AFTER INSERT OR UPDATE OR DELETE ON t FOR EACH ROW EXECUTE FUNCTION sends_old();
CREATE TRIGGER sends_new AFTER INSERT OR UPDATE OR DELETE ON t FOR EACH ROW EXECUTE FUNCTION sends_new();
"""


def _witness_writes(witness: Witness, operation: str) -> tuple[list[str], list[str]]:
    """(set-up, the write): the OLD row put in place, then the operation that turns it into the NEW row."""
    old, new = witness.record("OLD"), witness.record("NEW")

    def values(row: dict[str, str | None]) -> tuple[str, str]:
        columns = ["id", *row]
        return ", ".join(columns), ", ".join(["1", *("NULL" if v is None else v for v in row.values())])

    if operation == "INSERT":
        columns, literals = values(new)
        return [], [f"INSERT INTO t ({columns}) VALUES ({literals})"]
    columns, literals = values(old)
    setup = [f"INSERT INTO t ({columns}) VALUES ({literals})"]
    if operation == "DELETE":
        return setup, ["DELETE FROM t WHERE id = 1"]
    assignments = ", ".join(f"{c} = {'NULL' if v is None else v}" for c, v in {**dict.fromkeys(old), **new}.items())
    return setup, [f"UPDATE t SET {assignments or 'id = 1'} WHERE id = 1"]


@pytest.mark.parametrize(("old", "new", "operation", "narrowed"), CHANGED)
def test_witnesses_hold_in_the_db_model(old: str, new: str, operation: str, narrowed: bool, tmp_path: Path) -> None:
    """Written in the db model, the witness row makes the version that sends send and the other stay silent."""
    (change,) = emission_changes(((operation, (old,)),), ((operation, (new,)),))
    assert change.witness is not None
    path = tmp_path / "witness.sql"
    path.write_text(WITNESS_SCHEMA.format(old=old, new=new))
    model = DatabaseModel.from_sql([path])
    setup, write = _witness_writes(change.witness, operation)
    if setup:
        assert model.run_transaction(setup).committed
    outcome = model.run_transaction(write)
    assert outcome.committed, outcome.error
    channels = [n.channel for n in outcome.notifications]
    assert channels == (["old"] if narrowed else ["new"]), (change.witness, write)


@pytest.mark.postgres
@pytest.mark.parametrize("case", CHANGED)
def test_witness_writes_send_the_same_in_postgres(
    case: tuple[str, str, str, bool], tmp_path: Path, bcastsim_server: EphemeralPostgres
) -> None:
    """The same witness writes through real triggers in PostgreSQL send on the same channel as in the model."""
    old, new, operation, narrowed = case
    (change,) = emission_changes(((operation, (old,)),), ((operation, (new,)),))
    assert change.witness is not None
    path = tmp_path / "witness.sql"
    path.write_text(WITNESS_SCHEMA.format(old=old, new=new))
    setup, write = _witness_writes(change.witness, operation)
    with bcastsim_server.create_database([path]) as database:
        if setup:
            assert database.run_transaction(setup).committed
        result = database.run_transaction(write)
    assert result.committed
    assert [n.channel for n in result.notifications] == (["old"] if narrowed else ["new"])


GUARDED = """\
CREATE TABLE tasks (id bigint PRIMARY KEY, status text, note text, priority integer);
CREATE FUNCTION task_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF {guard} THEN
    PERFORM pg_notify('tasks', NEW.id::text);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER task_changed AFTER UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION task_changed();
"""


@pytest.mark.parametrize(
    ("guard", "columns"),
    [
        ("NOT (OLD.status IS NOT DISTINCT FROM NEW.status)", "status"),
        ("OLD.status <> NEW.status AND NEW.priority > 2", "status"),
        ("NEW.status IS DISTINCT FROM OLD.status OR NEW.note IS DISTINCT FROM OLD.note", "status, note"),
        ("NEW.status IS DISTINCT FROM OLD.status OR NEW.priority > 5", None),
        ("NEW.status IS DISTINCT FROM OLD.status", "status"),
    ],
    ids=["negated-not-distinct", "ne-and-more", "either-column", "or-an-unchanged-test", "the-change-itself"],
)
def test_update_any_column_reads_guards_as_logic(tmp_path: Path, guard: str, columns: str | None) -> None:
    """The columns a guard needs changed are decided by the solver, however the guard is written."""
    from bcastsim.review import ReviewConfig, check

    path = tmp_path / "tasks.sql"
    path.write_text(GUARDED.format(guard=guard))
    (finding,) = [f for f in check([path], config=ReviewConfig()).findings if f.rule == "update-any-column"]
    if columns is None:
        assert "every UPDATE" in finding.message
        assert "only" not in finding.message
    else:
        assert finding.message.endswith(f"only changes of {columns} send anything")
        assert f"UPDATE OF {columns}" in (finding.patch or "")


@pytest.mark.parametrize(
    ("condition", "matters"),
    [
        ("NEW.status = 'streaming' OR OLD.status = 'streaming'", False),
        ("NEW.x IS DISTINCT FROM OLD.x", True),
        ("NEW.x <> OLD.x", True),
        ("NEW.due > OLD.due", True),
    ],
)
def test_reading_old_on_insert_matters_only_when_it_changes_the_outcome(condition: str, matters: bool) -> None:
    """OLD is NULL on INSERT: a finding only where that NULL changes when the condition holds."""
    from bcastsim.review._logic import absent_read_matters

    assert absent_read_matters(condition, "INSERT") is matters


def test_brainshare_style_or_is_not_an_event_mismatch(tmp_path: Path) -> None:
    """IF NEW.s = 'x' OR OLD.s = 'x' on an INSERT OR UPDATE trigger reads OLD harmlessly; NEW.s <> OLD.s does not."""
    from bcastsim.review import ReviewConfig, check

    path = tmp_path / "tasks.sql"
    for guard, reported in (("NEW.status = 'done' OR OLD.status = 'done'", False), ("NEW.status <> OLD.status", True)):
        path.write_text(GUARDED.format(guard=guard).replace("AFTER UPDATE ON", "AFTER INSERT OR UPDATE ON"))
        rules = {f.rule for f in check([path], config=ReviewConfig()).findings}
        assert ("trigger-event-mismatch" in rules) is reported, guard
