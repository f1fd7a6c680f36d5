"""Property tests on schemas bcastsim was not written for: do generated histories reach every trigger?

Run with::

    .venv/bin/python benchmarks/bench_own_schema.py [--examples 200] [--schema NAME]

For each schema it generates ``--examples`` histories with the library's default
strategies (derandomized) and runs them through :class:`bcastsim.db.Differential` on a
throwaway PostgreSQL and the model, then prints the share of notify sites that fired,
the share of generated transactions that committed, and the number of histories on
which the model and PostgreSQL disagreed. The goal: at least 95 % of sites, at least
90 % of transactions, 0 mismatches.

The schemas are listed in ``tests/fixtures/foreign/schemas.toml``: the shop and job-queue
fixtures written for bcastsim's tests, and SQL from public projects read from the
real-world corpus copies (``$BCASTSIM_REALWORLD``; a schema whose files are absent is
printed as not available; ``SOURCES.md`` says where they come from and what is patched).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import attrs

from bcastsim.db import DatabaseModel, Differential
from bcastsim.pg import EphemeralPostgres
from bcastsim.strategies import measure_coverage

# The manifest and the corpus lookup are shared with the goal test.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _corpus import own_schemas, schema_files

SCHEMAS = sorted(own_schemas())

GOAL_SITES = 0.95
GOAL_COMMITS = 0.90


@attrs.frozen
class Figures:
    """One schema's goal figures."""

    schema: str
    sites: int
    fired: int
    transactions: int
    committed: int
    mismatches: int
    examples: int

    @property
    def fired_share(self) -> float:
        return self.fired / self.sites if self.sites else 0.0

    @property
    def committed_share(self) -> float:
        return self.committed / self.transactions if self.transactions else 0.0

    @property
    def meets_goal(self) -> bool:
        return self.fired_share >= GOAL_SITES and self.committed_share >= GOAL_COMMITS and self.mismatches == 0


def measure(server: EphemeralPostgres, name: str, files: list[Path], examples: int) -> Figures:
    """Run ``examples`` histories of schema ``name`` on PostgreSQL and the model."""
    differential = Differential.for_tables(server.create_database(files), DatabaseModel.from_sql(files))
    try:
        coverage = measure_coverage(files, examples=examples, differential=differential)
    finally:
        differential.close()
        differential.database.close()
    sites = coverage.sites()
    return Figures(
        name, len(sites), sum(1 for s in sites if s.messages), coverage.transactions, coverage.committed,
        coverage.mismatches, examples,
    )  # fmt: skip


def render(rows: list[Figures], unavailable: dict[str, str]) -> str:
    lines = [f"{'schema':<16} {'sites fired':>14} {'committed':>16} {'mismatches':>11}  goal"]
    lines += [f"{name:<16} not available: {reason}" for name, reason in unavailable.items()]
    for row in rows:
        lines.append(
            f"{row.schema:<16} {row.fired:>3}/{row.sites:<3} {row.fired_share:>6.1%} "
            f"{row.committed:>4}/{row.transactions:<4} {row.committed_share:>6.1%} {row.mismatches:>11}  "
            + ("met" if row.meets_goal else "NOT met")
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--schema", action="append", choices=sorted(SCHEMAS))
    args = parser.parse_args()
    names = args.schema or SCHEMAS
    unavailable: dict[str, str] = {}
    rows: list[Figures] = []
    with EphemeralPostgres.start() as server, tempfile.TemporaryDirectory() as workdir:
        for name in names:
            files = schema_files(name, Path(workdir))
            if isinstance(files, str):
                unavailable[name] = files
            else:
                rows.append(measure(server, name, files, args.examples))
    print(f"goal per schema: >= {GOAL_SITES:.0%} of notify sites fired, >= {GOAL_COMMITS:.0%} of transactions "
          f"committed, 0 mismatches, within {args.examples} examples")  # fmt: skip
    print(render(rows, unavailable))
    return 0 if all(row.meets_goal for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
