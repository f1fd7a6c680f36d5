"""Whole rows as values on the model against PostgreSQL: OLD.*, NEW.*, a FROM item's row, ROW(…), their comparisons."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from _differential import differential_of
from bcastsim._errors import UnsupportedError
from bcastsim.db import DatabaseModel, Differential
from bcastsim.pg import Database
from bcastsim.strategies import EDGES, VALID, History, histories

ROWS = [Path(__file__).parent / "fixtures" / "db" / "rows.sql"]
SETUP = [
    "INSERT INTO owners VALUES (1, 'ann'), (2, NULL)",
    "INSERT INTO things VALUES (1, 1, 'x', 1), (2, NULL, 'y', NULL), (3, 5, NULL, 2), (4, NULL, NULL, NULL)",
]
# Updates that change nothing, change a value, make a field NULL or fill one, on rows with NULL fields.
HISTORIES = {
    "nothing changes, NULL fields included": [SETUP, ["UPDATE things SET a = a, b = b WHERE id = 1"]],
    "every row touched, none changed": [SETUP, ["UPDATE things SET a = a"]],
    "a value changes beside a NULL": [SETUP, ["UPDATE things SET b = 'z' WHERE id = 2"]],
    "a NULL field filled, another NULL kept": [SETUP, ["UPDATE things SET a = 0 WHERE id = 4"]],
    "a value made NULL": [SETUP, ["UPDATE things SET a = NULL WHERE id = 1", "UPDATE things SET b = NULL"]],
    "rows ordered by their first field that differs": [
        SETUP,
        ["UPDATE things SET a = a + 1 WHERE id = 3", "UPDATE things SET b = 'a' WHERE id = 1"],
    ],
    "another owner's row read whole": [SETUP, ["UPDATE things SET owner_id = 2 WHERE id = 1"]],
    "the IN list's second row matches": [SETUP, ["UPDATE things SET a = 1, b = 'x' WHERE id = 4"]],
    "a row's text quotes a field with a form feed or vertical tab": [
        SETUP,
        ["UPDATE things SET b = E'\\f' WHERE id = 1", "UPDATE things SET b = E'a\\x0bb' WHERE id = 1"],
    ],
}


@pytest.fixture(scope="module")
def rows(bcastsim_database_factory: Callable[[Sequence[str | Path]], Database]) -> Iterator[Differential]:
    with differential_of(bcastsim_database_factory, ROWS) as differential:
        yield differential


@pytest.mark.postgres
@pytest.mark.parametrize("name", sorted(HISTORIES))
def test_whole_rows_match_postgres(rows: Differential, name: str) -> None:
    """Trigger WHENs on whole rows fire, and every row comparison's result renders, as in PostgreSQL."""
    history = [(steps, True) for steps in HISTORIES[name]]
    mismatches = rows.run_history(history)
    assert not mismatches, "\n".join(str(m) for m in mismatches)


@pytest.mark.postgres
@settings(max_examples=40)
@given(data=st.data())
def test_whole_rows_match_postgres_on_generated_histories(rows: Differential, data: st.DataObject) -> None:
    """On histories drawn from the schema (NULLs, repeated and rolled-back updates), both sides agree."""
    history: History = data.draw(histories(rows.model.schema, mix=data.draw(st.sampled_from([VALID, EDGES]))))
    note(history.to_sql())
    mismatches = rows.run_history([(spec.steps, spec.commit) for spec in history.transactions])
    assert not mismatches, "\n".join(str(m) for m in mismatches)


def _update(sql: str) -> tuple[list[str], dict[str, object]]:
    model = DatabaseModel.from_sql(ROWS)
    model.run_transaction(SETUP)
    outcome = model.run_transaction([sql])
    assert outcome.committed, outcome.error
    fired = [n.payload for n in outcome.notifications if n.channel == "changed"]
    (compared,) = [json.loads(n.payload) for n in outcome.notifications if n.channel == "compare"]
    return fired, compared


def test_an_update_that_changes_nothing_skips_the_is_distinct_trigger() -> None:
    """SET a = a on a row with NULL fields: OLD.* IS DISTINCT FROM NEW.* is false, NULLs counting as equal."""
    fired, compared = _update("UPDATE things SET a = a WHERE id = 2")
    assert fired == ["changed_bare 2"]
    assert compared["composite_eq"] == "true"
    assert compared["row_eq"] == "null"  # ROW(NULL, 'y') = ROW(NULL, 'y') is unknown
    assert compared["row_star_distinct"] is False


def test_a_change_beside_a_null_is_decided_by_the_value_that_differs() -> None:
    """ROW(NULL, 'y') <> ROW(NULL, 'z') is true: a pair of values differs, so the NULL pair does not matter."""
    fired, compared = _update("UPDATE things SET b = 'z' WHERE id = 2")
    assert fired == ["changed_ne 2", "changed_row_ne 2", "changed_star 2"]
    assert (compared["row_ne"], compared["row_eq"], compared["composite_lt"]) == ("true", "false", "true")


def test_a_null_sorts_after_a_value_in_a_composite_and_is_unknown_in_a_row_constructor() -> None:
    """OLD.* < NEW.* with a = 1 → NULL: true (NULL is larger); ROW(1, …) < ROW(NULL, …) is NULL."""
    _fired, compared = _update("UPDATE things SET a = NULL WHERE id = 1")
    assert (compared["composite_lt"], compared["composite_ge"]) == ("true", "false")
    assert (compared["row_lt"], compared["row_le"]) == ("null", "null")
    assert compared["old_text"] == "(1,1,x,1)"


def test_a_star_spread_over_columns_is_reported_unsupported(tmp_path: Path) -> None:
    """INSERT … VALUES (NEW.*) spreads the row over columns in PostgreSQL: the model names it, never guesses."""
    audit = tmp_path / "audit.sql"
    audit.write_text(
        "CREATE TABLE thing_history (id integer, a integer, b text, owner_id integer);\n"
        "CREATE FUNCTION thing_audit() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "  INSERT INTO thing_history VALUES (NEW.*);\n"
        "  RETURN NULL;\n"
        "END;\n"
        "$$;\n"
        "CREATE TRIGGER thing_audit AFTER INSERT ON things FOR EACH ROW EXECUTE FUNCTION thing_audit();\n"
    )
    model = DatabaseModel.from_sql([*ROWS, audit])
    assert [error.construct for error in model.unsupported] == ["x.* in a VALUES list"]
    with pytest.raises(UnsupportedError, match=r"x\.\* in a VALUES list"):
        model.run_transaction(["INSERT INTO things VALUES (9, 1, 'x', NULL)"])
