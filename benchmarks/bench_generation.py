"""What generating test input costs, beside running it: histories per schema, and client fault schedules.

Run with::

    python benchmarks/bench_generation.py [--runs 3] [--examples 200] [--schedules 300] [--quick]

Every candidate is its own process (``benchmarks/_measure.py``), candidates take turns, and the
figure is the CPU of the measured phase alone (``core CPU``: the generation loop, not the imports,
the schema's parse or the server's start), fastest of ``--runs``, divided by what it made:

* ``histories <schema>``: ``--examples`` derandomized examples of :func:`bcastsim.strategies.histories`
  in one ``@given`` loop whose body does nothing, after one warm loop (the solver's per-schema work
  is done then), on the shop example (``examples/shop/db``), the quiz (``examples/shop/db/quiz``)
  and the built-in seed schema; ``… fast`` is the same with the ``fast`` speed profile;
* ``hypothesis trivial``: the same loop over ``lists(integers(), max_size=8)``: Hypothesis' own
  cost per example, what no strategy can go below;
* ``psycopg shop``: the floor beside it: a bare psycopg loop running the shop histories' SQL in a
  throwaway PostgreSQL (reset, then BEGIN, the steps, COMMIT/ROLLBACK per transaction); its core
  CPU is the loop's own plus the server backend's (read from ``/proc``);
* ``schedules``: ``check --client``'s fault schedules (the schedule strategy, ``--schedules``
  of them) beside ``node schedules``: the realtime-js harness running the same schedules, node's
  CPU included.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent
SCHEMAS = {
    "shop": [ROOT / "examples/shop/db/schema.sql", ROOT / "examples/shop/db/triggers.sql"],
    "quiz": [ROOT / "examples/shop/db/quiz/schema.sql", ROOT / "examples/shop/db/quiz/triggers.sql"],
}


def _files(schema: str) -> list[Path]:
    if schema == "seed":
        from bcastsim._resources import builtin_sql_files

        return [Path(p) for p in builtin_sql_files()]
    return SCHEMAS[schema]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _loop(strategy: Any, examples: int) -> tuple[float, list[Any]]:
    """CPU seconds of one derandomized ``@given`` loop over ``strategy``, and what it drew."""
    from hypothesis import HealthCheck, Phase, given, settings

    drawn: list[Any] = []

    @settings(
        max_examples=examples, derandomize=True, database=None, deadline=None,
        suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
    )  # fmt: skip
    @given(value=strategy)
    def run(value: Any) -> None:
        drawn.append(value)

    started = _cpu()
    run()
    return _cpu() - started, drawn


def role_histories(schema: str, examples: int, profile: str) -> dict[str, Any]:
    from bcastsim.db import load_schema
    from bcastsim.strategies import histories, speed_profile

    loaded = load_schema(_files(schema))
    kwargs = speed_profile(profile).history_options() if profile else {}
    strategy = histories(loaded, **kwargs)
    _loop(strategy, 20)  # warm: the solver and the per-schema tables are built once per schema
    cpu, drawn = _loop(strategy, examples)
    statements = sum(len(t.steps) for h in drawn for t in h.transactions)
    return {"core_cpu_s": cpu, "items": len(drawn), "statements": statements}


def role_trivial(examples: int) -> dict[str, Any]:
    from hypothesis import strategies as st

    strategy = st.lists(st.integers(), max_size=8)
    _loop(strategy, 20)
    cpu, drawn = _loop(strategy, examples)
    return {"core_cpu_s": cpu, "items": len(drawn)}


def _backend_cpu(pid: int) -> float:
    """CPU seconds a PostgreSQL backend has used (utime + stime from ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def role_psycopg(schema: str, examples: int) -> dict[str, Any]:
    import psycopg

    from bcastsim.db import CLOCK_STEP, DatabaseModel, Differential
    from bcastsim.pg import EphemeralPostgres
    from bcastsim.strategies import histories

    files = _files(schema)
    model = DatabaseModel.from_sql(files)
    _, drawn = _loop(histories(model.schema), examples)
    with EphemeralPostgres.start() as server:
        database = server.create_database(files)
        reset_sql = Differential.for_tables(database, model).reset_sql
        conninfo = database.conninfo
        database.close()
        with psycopg.connect(conninfo, autocommit=True) as connection:
            execute = connection.execute
            backend = int(execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
            wall, cpu, server_cpu = time.perf_counter(), _cpu(), _backend_cpu(backend)
            for history in drawn:
                execute(reset_sql)
                for spec in history.transactions:
                    execute("BEGIN")
                    failed = False
                    for step in (CLOCK_STEP, *spec.steps):
                        try:
                            execute(step)
                        except psycopg.Error:
                            failed = True
                            break
                    execute("COMMIT" if spec.commit and not failed else "ROLLBACK")
            loop_cpu = _cpu() - cpu + _backend_cpu(backend) - server_cpu
            wall = time.perf_counter() - wall
    return {"core_cpu_s": loop_cpu, "items": len(drawn), "loop_wall_s": wall}


def _schedules(count: int, seed: int) -> tuple[float, list[Any]]:
    from bcastsim.client._realcheck import _FAULTS, DEFAULT_TOPICS, draw_schedules

    started = _cpu()
    drawn = draw_schedules(DEFAULT_TOPICS, _FAULTS, count, seed)
    return _cpu() - started, drawn


def role_schedules(count: int, hypothesis: bool) -> dict[str, Any]:
    if hypothesis:  # the same schedules drawn through Hypothesis, as check --client did before
        from bcastsim.client._jscheck import generate_examples
        from bcastsim.client._realcheck import _FAULTS, DEFAULT_TOPICS, _schedule

        started = _cpu()
        drawn = generate_examples(_schedule(DEFAULT_TOPICS, _FAULTS), count, 0)
        return {"core_cpu_s": _cpu() - started, "items": len(drawn), "ops": sum(len(s) for s in drawn)}
    _schedules(20, 1)
    cpu, drawn = _schedules(count, 0)
    return {"core_cpu_s": cpu, "items": len(drawn), "ops": sum(len(s) for s in drawn)}


def role_node_schedules(count: int) -> dict[str, Any]:
    """node running the same schedules on the fixture manager (node's CPU counted once it is reaped)."""
    from bcastsim.client._node import run_realtime

    _, drawn = _schedules(count, 0)
    manager = ROOT / "tests" / "fixtures" / "client" / "good_manager.mjs"
    request = {"mode": "manager", "module": str(manager)}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = _cpu() + children.ru_utime + children.ru_stime
    run_realtime({**request, "schedules": [{"seed": k + 1, "ops": s} for k, s in enumerate(drawn)]})
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"core_cpu_s": _cpu() + children.ru_utime + children.ru_stime - started, "items": len(drawn)}


def _table(title: str, candidates: list[Any], runs: int) -> None:
    from _measure import interleave, print_table

    print(f"\n{title}")
    summaries = interleave(candidates, runs)
    print_table(summaries)
    for summary in summaries:
        items = summary.extra("items")
        core = summary.core()
        if isinstance(items, int) and items and core is not None:
            median = summary.core("median") or core
            print(f"   {summary.candidate.label:<40} {1000 * core / items:8.3f} ms CPU per item "
                  f"(median {1000 * median / items:.3f}; {items} items)")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--schedules", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="shop histories and schedules only, no PostgreSQL")
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("--schema", default="shop", help=argparse.SUPPRESS)
    parser.add_argument("--profile", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        sys.path.insert(0, str(BENCHMARKS))
        roles = {
            "histories": lambda: role_histories(args.schema, args.examples, args.profile),
            "trivial": lambda: role_trivial(args.examples),
            "psycopg": lambda: role_psycopg(args.schema, args.examples),
            "schedules": lambda: role_schedules(args.schedules, hypothesis=False),
            "hypothesis-schedules": lambda: role_schedules(args.schedules, hypothesis=True),
            "node-schedules": lambda: role_node_schedules(args.schedules),
        }
        print(json.dumps(roles[args.role]()))
        return 0

    sys.path.insert(0, str(BENCHMARKS))
    from _measure import python_candidate

    def candidate(label: str, *extra: str, floor: str = "") -> Any:
        return python_candidate(label, "bench_generation.py", "--examples", str(args.examples),
                                "--schedules", str(args.schedules), *extra, floor=floor)  # fmt: skip

    import platform

    print(f"python {platform.python_version()} · {platform.machine()} · {os.cpu_count()} CPUs · {args.runs} runs each")
    histories = [
        candidate("histories shop", "--role", "histories", "--schema", "shop", floor="hypothesis trivial"),
        candidate(
            "histories shop fast", "--role", "histories", "--schema", "shop", "--profile", "fast",
            floor="hypothesis trivial",
        ),
        candidate("hypothesis trivial", "--role", "trivial"),
    ]
    if not args.quick:
        histories += [
            candidate("psycopg shop", "--role", "psycopg", "--schema", "shop"),
            candidate("histories quiz", "--role", "histories", "--schema", "quiz", floor="hypothesis trivial"),
            candidate("histories seed", "--role", "histories", "--schema", "seed", floor="hypothesis trivial"),
        ]
    _table(f"histories, {args.examples} derandomized examples", histories, args.runs)
    schedules = [
        candidate("schedules", "--role", "schedules", floor="node schedules"),
        candidate("schedules through hypothesis", "--role", "hypothesis-schedules", floor="node schedules"),
    ]
    if not args.quick:
        schedules.append(candidate("node schedules", "--role", "node-schedules"))
    _table(f"check --client fault schedules, {args.schedules} of them", schedules, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
