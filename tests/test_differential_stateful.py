"""The database model against real PostgreSQL, driven as a state machine.

Each step runs one generated transaction on both sides; after every step the
rows of every table must be the same, in the same physical order (the order a
sequential scan, and so a multi-row UPDATE's triggers, sees them).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from bcastsim._resources import builtin_sql_files
from bcastsim.db import DatabaseModel, Differential
from bcastsim.pg import Database
from bcastsim.strategies import TransactionSpec, seed_transactions, transactions

pytestmark = pytest.mark.postgres

# A long run (BCASTSIM_EXAMPLES=5000) runs a tenth as many state machines, each of several transactions.
MACHINES = max(25, int(os.environ.get("BCASTSIM_EXAMPLES", "0") or 0) // 10)


class ModelVersusPostgres(RuleBasedStateMachine):
    """Transactions one after another; the model and the server must never disagree."""

    differential: Differential

    def __init__(self) -> None:
        super().__init__()
        self.differential.reset()
        self.position = 0

    def _run(self, spec: TransactionSpec, isolate: bool) -> None:
        note(f"-- transaction {self.position}\n{spec.to_sql(isolate_statements=isolate)}")
        _, _, mismatch = self.differential.run_transaction(
            spec.steps, commit=spec.commit, isolate_statements=isolate, position=self.position
        )
        self.position += 1
        assert mismatch is None, str(mismatch)

    @rule(spec=seed_transactions())
    def insert_parents(self, spec: TransactionSpec) -> None:
        self._run(spec, isolate=True)

    @rule(spec=transactions(), isolate=st.booleans())
    def run_transaction(self, spec: TransactionSpec, isolate: bool) -> None:
        self._run(spec, isolate)

    @invariant()
    def same_rows_in_same_order(self) -> None:
        model = self.differential.model
        for table in sorted(model.schema.tables):
            key = model.schema.tables[table].primary_key[0]
            real = self.differential.database.execute(f"SELECT {key}::text FROM {table} ORDER BY ctid")
            mine = [str(row[key]) for row in model.rows(table)]
            assert [r[0] for r in real or []] == mine, table


def test_model_matches_postgres_step_by_step(
    bcastsim_database_factory: Callable[[Sequence[str | Path]], Database],
) -> None:
    """After every transaction of a generated sequence the model's rows and notifications equal PostgreSQL's."""
    files = builtin_sql_files()
    ModelVersusPostgres.differential = Differential.for_tables(
        bcastsim_database_factory(files), DatabaseModel.from_sql(files)
    )
    run_state_machine_as_test(ModelVersusPostgres, settings=settings(max_examples=MACHINES, stateful_step_count=8))
