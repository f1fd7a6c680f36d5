"""What ``review --pg``'s workload commits and compares on the example project and the own-schema cases.

Run with::

    .venv/bin/python benchmarks/bench_review_pg.py [--examples 20] [--seed 0]

Each case is reviewed against itself (the same files as old and new version) on one throwaway
PostgreSQL, so every figure is about the workload: the transactions the strategies drew, the share
that committed, and how many of the notify sites a row can reach had messages compared. The
own-schema cases are those of ``tests/fixtures/foreign/schemas.toml``; the ones whose files live in
the real-world corpus are skipped, with the reason, when the corpus copies are not there.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bcastsim import realtime_sql_file
from bcastsim.pg import EphemeralPostgres
from bcastsim.review._pgdiff import pg_review

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from _corpus import own_schemas, schema_files  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20, help="histories per version (default 20)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    shop = ROOT / "examples" / "shop" / "db"
    cases: dict[str, list[Path]] = {
        "examples/shop": [realtime_sql_file(), shop / "schema.sql", shop / "triggers.sql"],
        "examples/shop quiz": [realtime_sql_file(), shop / "quiz" / "schema.sql", shop / "quiz" / "triggers.sql"],
    }
    work = Path(tempfile.mkdtemp(prefix="bcastsim-bench-review-pg-"))
    for name in own_schemas():
        files = schema_files(name, work)
        if isinstance(files, str):
            print(f"{name}: skipped ({files})")
            continue
        cases[name] = files
    with EphemeralPostgres.start() as server:
        for name, files in cases.items():
            start = time.perf_counter()
            outcome = pg_review(files, files, seed=args.seed, examples=args.examples, server=server)
            counts = outcome.counts
            if counts is None:
                print(f"{name}: {'; '.join(f.message for f in outcome.findings)}")
                continue
            sites = [site for site in counts.sites if site.version == "old"]
            reachable = [site for site in sites if not site.status.startswith("unreachable")]
            compared = sum(1 for site in reachable if site.compared)
            share = counts.committed_old / max(1, counts.transactions)
            print(
                f"{name}: {counts.transactions} transactions, {counts.committed_old} committed ({share:.1%});"
                f" sites compared {compared}/{len(reachable)} reachable ({len(sites)} in all);"
                f" {counts.compared} messages compared; {time.perf_counter() - start:.1f} s"
            )
            for site in sites:
                if not site.compared:
                    print(f"    {site.key}: {site.status}")


if __name__ == "__main__":
    main()
