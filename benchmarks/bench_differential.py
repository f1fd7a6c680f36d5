"""How fast the differential check runs, compared with just executing its SQL.

Run with::

    .venv/bin/python benchmarks/bench_differential.py [--examples 300] [--seed 0]

It starts its own throwaway PostgreSQL, generates ``--examples`` histories with
the library's Hypothesis strategies (deterministically), then times, in one
run and on the same server:

* **bare loop** — a plain psycopg connection executes exactly the SQL the
  differential sends per history (TRUNCATE, then per transaction BEGIN, the
  clock step and the steps, each statement under a savepoint when the history
  runs with isolated statements, COMMIT or ROLLBACK);
* **differential** — :class:`bcastsim.db.Differential`: the same SQL through the
  capturing harness (``bcastsim.pg``), the model run on the same transactions,
  and the comparison;
* **model** — the model alone, statements per second.

The figure of merit is differential examples per second as a share of the bare
loop's examples per second (target: at least 70 %).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bcastsim._resources import builtin_sql_files
from bcastsim.db import CLOCK_STEP, DatabaseModel, Differential
from bcastsim.pg import EphemeralPostgres
from bcastsim.strategies import History, histories

Example = tuple[History, bool]
_CHUNK = 25


def generate(count: int, seed: int) -> list[Example]:
    """``count`` (history, isolate_statements) pairs, the same ones for the same seed."""
    examples: list[Example] = []

    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[__import__("hypothesis").Phase.generate],
    )
    @given(history=histories(), isolate=st.booleans(), salt=st.just(seed))
    def collect(history: History, isolate: bool, salt: int) -> None:
        examples.append((history, isolate))

    collect()
    return examples[:count]


def bare_loop(conninfo: str, reset_sql: str, examples: Sequence[Example]) -> float:
    """Seconds to execute every example's SQL with plain psycopg."""
    with psycopg.connect(conninfo, autocommit=True) as connection:
        execute = connection.execute
        started = time.perf_counter()
        for history, isolate in examples:
            execute(reset_sql)
            for spec in history.transactions:
                execute("BEGIN")
                failed = False
                for step in (CLOCK_STEP, *spec.steps):
                    try:
                        if isolate:
                            execute("SAVEPOINT bcastsim_statement")
                            try:
                                execute(step)
                            except psycopg.Error:
                                execute("ROLLBACK TO SAVEPOINT bcastsim_statement")
                            execute("RELEASE SAVEPOINT bcastsim_statement")
                        else:
                            execute(step)
                    except psycopg.Error:
                        failed = True
                        break
                execute("COMMIT" if spec.commit and not failed else "ROLLBACK")
        return time.perf_counter() - started


def differential_loop(differential: Differential, examples: Sequence[Example]) -> tuple[float, list[str]]:
    """Seconds to check every example on server and model; and the mismatches found, as reports."""
    reports: list[str] = []
    started = time.perf_counter()
    for history, isolate in examples:
        found = differential.run_history(
            [(s.steps, s.commit) for s in history.transactions], isolate_statements=isolate
        )
        reports += [f"-- isolate_statements={isolate}\n{history.to_sql()}\n{m}" for m in found]
    return time.perf_counter() - started, reports


def model_loop(model: DatabaseModel, examples: Sequence[Example], repeat: int) -> list[tuple[float, int]]:
    """Per pass over every example: seconds for the model alone, and the statements it ran."""
    passes = []
    for _ in range(repeat):
        statements = 0
        started = time.perf_counter()
        for history, isolate in examples:
            model.reset()
            for spec in history.transactions:
                steps = [CLOCK_STEP, *spec.steps]
                statements += len(steps)
                model.run_transaction(steps, commit=spec.commit, isolate_statements=isolate)
        passes.append((time.perf_counter() - started, statements))
    return passes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300, help="histories to time (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="changes which histories are generated")
    parser.add_argument("--model-repeat", type=int, default=5, help="model-only passes over the histories")
    args = parser.parse_args(argv)

    examples = generate(args.examples, args.seed)
    transactions = sum(len(h.transactions) for h, _ in examples)
    print(f"histories: {len(examples)}  transactions: {transactions}")
    files = builtin_sql_files()
    with EphemeralPostgres.start() as server:
        # Two databases: NOTIFY is per database, so the bare loop cannot reach the capture's listener.
        bare_database = server.create_database(files)
        database = server.create_database(files)
        model = DatabaseModel.from_sql(files)
        differential = Differential.for_tables(database, model)
        conninfo = bare_database.conninfo
        bare_database.close()
        # Warm both paths once (plan caches, LISTENs, imports) so neither pays a one-off cost.
        warm = examples[: min(20, len(examples))]
        bare_loop(conninfo, differential.reset_sql, warm)
        differential_loop(differential, warm)
        # Alternate in chunks, so a busy moment on the machine hits both loops alike.
        bare_seconds = diff_seconds = 0.0
        mismatches: list[str] = []
        for start in range(0, len(examples), _CHUNK):
            chunk = examples[start : start + _CHUNK]
            bare_seconds += bare_loop(conninfo, differential.reset_sql, chunk)
            seconds, found = differential_loop(differential, chunk)
            diff_seconds += seconds
            mismatches += found
        for report in mismatches[:1]:
            print("first mismatch:\n" + report)
        differential.close()
        database.close()
    passes = model_loop(DatabaseModel.from_sql(files), examples, max(2, args.model_repeat))
    bare_rate = len(examples) / bare_seconds
    diff_rate = len(examples) / diff_seconds
    print(f"bare psycopg loop : {bare_rate:8.1f} examples/s ({bare_seconds:.2f} s)")
    print(f"differential      : {diff_rate:8.1f} examples/s ({diff_seconds:.2f} s), mismatches: {len(mismatches)}")
    print(f"ratio             : {diff_rate / bare_rate:8.1%} of the bare loop (target >= 70%)")
    cold_seconds, statements = passes[0]
    warm_seconds = sum(p[0] for p in passes[1:]) / (len(passes) - 1)
    print(f"model alone, cold : {statements / cold_seconds:8.0f} statements/s (first pass: parses and compiles)")
    print(f"model alone, warm : {statements / warm_seconds:8.0f} statements/s ({statements} statements per pass)")
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
