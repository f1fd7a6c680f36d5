"""Hooks: strategies per column and table, exclusions and seed rows (TOML or SQL) steer generated histories."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bcastsim import InputError, realtime_sql_file
from bcastsim.db import DatabaseModel
from bcastsim.strategies import History, Hooks, Mix, histories, load_seed_rows

QUIZ = Path(__file__).parents[1] / "examples" / "shop" / "db" / "quiz"
FIXTURES = Path(__file__).parent / "fixtures" / "hooks"
MODEL = DatabaseModel.from_sql([realtime_sql_file(), QUIZ / "schema.sql", QUIZ / "triggers.sql"])
SCHEMA = MODEL.schema
SEEDED = uuid.UUID("00000000-0000-0000-0000-00000000feed")
CLEAN = Mix(edges=0, rollbacks=0)
QUICK = settings(max_examples=25, derandomize=True, database=None, deadline=None,
                 suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])  # fmt: skip


def _statements(history: History) -> list[str]:
    return [step for spec in history.transactions for step in spec.steps]


def test_seed_rows_read_alike_from_toml_and_sql() -> None:
    """The example's seed.toml and the fixture's seed.sql give the same typed lobby and host rows."""
    toml = load_seed_rows(QUIZ / "seed.toml", SCHEMA)
    sql = load_seed_rows(FIXTURES / "seed.sql", SCHEMA)
    assert toml["lobbies"] == sql["lobbies"] == ({"id": SEEDED, "code": "DEMO", "status": "open"},)
    assert toml["players"][0] == sql["players"][0] == {"lobby_id": SEEDED, "id": 1, "name": "host", "is_host": True}
    assert len(sql["players"]) == 2


def test_seed_sql_that_is_not_constant_is_one_error_with_its_line() -> None:
    """A function call in seed SQL is an InputError naming the file, the line and the column."""
    with pytest.raises(InputError) as raised:
        load_seed_rows(FIXTURES / "bad_seed.sql", SCHEMA)
    assert raised.value.line == 2
    assert "players.name is not a constant" in raised.value.one_line()


def test_hooks_naming_what_the_schema_lacks_are_refused() -> None:
    """A hook on a column the table does not have is an InputError listing the table's columns."""
    hooks = Hooks(columns={"players.nick": st.just("x")})
    with pytest.raises(InputError, match=r"players\.nick"):
        hooks.validate(SCHEMA)  # histories(SCHEMA, hooks=hooks) calls it before its first draw


_HOOKS = Hooks(
    columns={"players.name": st.sampled_from(["ana", "bo"])},
    exclude={"scores", "rounds.opens_at"},
    seed_rows=load_seed_rows(QUIZ / "seed.toml", SCHEMA),
)


# The hooks exclude scores, so its UPDATE sites cannot fire: leaving them unfired is what this pins.
@pytest.mark.bcastsim_allow_vacuous
@QUICK
@given(history=histories(SCHEMA, mix=CLEAN, hooks=_HOOKS))
def test_hooks_shape_every_history(history: History) -> None:
    """Seed rows come first and commit with the rest; hooked names only; no write to scores or rounds.opens_at."""
    first = history.transactions[0].steps
    assert first[0].startswith("INSERT INTO lobbies") and "'DEMO'" in first[0]  # noqa: PT018
    statements = _statements(history)
    assert not any(" scores " in f" {s} " for s in statements)
    assert not any("opens_at" in s for s in statements if s.startswith("INSERT INTO rounds"))
    for statement in statements:
        if statement.startswith("INSERT INTO players") and statement is not first[1]:
            assert "'ana'" in statement or "'bo'" in statement, statement
    MODEL.reset()
    for spec in history.transactions:
        result = MODEL.run_transaction(spec.steps, commit=spec.commit)
        assert result.committed, (result.error, spec.to_sql())


def test_generated_rows_reference_the_seed_rows() -> None:
    """Children of the seeded lobby are drawn: generated keys step past the seeded ones."""
    seen: list[bool] = []

    @QUICK
    @given(history=histories(SCHEMA, mix=CLEAN, hooks=_HOOKS))
    def run(history: History) -> None:
        seen.append(any(str(SEEDED) in s for s in _statements(history)[2:]))

    run()
    assert any(seen)
