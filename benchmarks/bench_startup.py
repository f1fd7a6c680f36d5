"""Start-up: what ``bcastsim --help`` and ``bcastsim simulate --help`` cost beside a bare interpreter.

Run:  python benchmarks/bench_startup.py [--runs 10]

Each row is its own process, rows take turns (``benchmarks/_measure.py``); CPU is user + sys of the
process. The floor is ``python -c pass`` with the same interpreter. The goal: either help in 0.15 s of
CPU or less, which a command gets by importing only what it runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import Candidate, interleave, print_table

CLI = [sys.executable, "-m", "bcastsim.cli"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    candidates = [
        Candidate("python -c pass", [sys.executable, "-c", "pass"]),
        Candidate("bcastsim --help", [*CLI, "--help"], floor="python -c pass"),
        Candidate("bcastsim simulate --help", [*CLI, "simulate", "--help"], floor="python -c pass"),
        Candidate("bcastsim check --help", [*CLI, "check", "--help"], floor="python -c pass"),
    ]
    summaries = interleave(candidates, runs=args.runs)
    print_table(summaries)
    worst = max(s.cpu() for s in summaries[1:])
    print(f"\nslowest help, fastest of {args.runs} runs: {worst:.3f} s CPU (goal ≤ 0.15 s)")
    return 0 if worst <= 0.15 else 1


if __name__ == "__main__":
    raise SystemExit(main())
