"""The simulator against its floors: the same fan-out as a bare heapq loop and as SimPy, grouped and per client.

Run:  python benchmarks/bench_engine.py [--runs 3] [--quick] [--case artbattle:10000] [--against DIR]
      (needs the [bench] extra)

Each row is a separate process; rows take turns (``benchmarks/_measure.py``), and each figure is the
minimum and the median of ``--runs`` runs. "CPU" is user + sys of the whole process (start-up and
imports included); "core CPU" is the run alone, which is what the ratio compares: bcastsim's core
includes reading the SQL and building the workload, the floors get their fan-out ready-made. "ns per
delivery" divides core CPU by the deliveries, which every row reports and which agree (same fan-out).

``--against DIR`` adds bcastsim run on another checkout's ``DIR/src`` (an older commit, say) to the same
turns, so a change is measured beside what it changes under the same load; "bcastsim" is always this
checkout's ``src``. Where SimPy's grouped model runs, each bcastsim row's core CPU is also divided by it.

Scenarios: Art Battle (clients in few large groups: the grouped floor is the peer) and the flash
sale (shoppers following their own order, groups of one: the per-client floor is the peer).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import Candidate, interleave, print_table, python_candidate

SRC = Path(__file__).resolve().parent.parent / "src"


def _bcastsim(label: str, src: Path, scenario: str, clients: int, floor: str) -> Candidate:
    argv = [sys.executable, str(Path(__file__).resolve().parent / "floors.py"), "bcastsim"]
    argv += ["--scenario", scenario, "--clients", str(clients)]
    return Candidate(label, argv, floor=floor, env={"PYTHONPATH": str(src)})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller populations")
    parser.add_argument(
        "--case",
        action="append",
        default=[],
        metavar="SCENARIO:CLIENTS",
        help="run only this case (repeatable), e.g. flash_sale:5000",
    )
    parser.add_argument("--against", type=Path, help="another checkout whose src/ bcastsim to run beside this one")
    args = parser.parse_args()
    print(f"python {platform.python_version()} · {platform.machine()} · {os.cpu_count()} CPUs · {args.runs} runs each")
    cases = [
        ("artbattle", 500 if args.quick else 2_000, ("heapq-group", "simpy-group", "heapq-client", "simpy-client")),
        ("artbattle", 2_000 if args.quick else 10_000, ("heapq-group", "simpy-group")),
        ("flash_sale", 1_000 if args.quick else 5_000, ("heapq-client", "simpy-client")),
    ]
    if args.case:
        wanted = {tuple(c.split(":", 1)) for c in args.case}
        cases = [c for c in cases if (c[0], str(c[1])) in wanted]
        if not cases:
            print(f"no case matches {args.case}")
            return 2
    for scenario, clients, floors in cases:
        print(f"\n{scenario}, {clients:,} clients, broadcast over realtime.send, plan unlimited, no faults")
        peer = f"{floors[0]}"
        candidates = [_bcastsim("bcastsim", SRC, scenario, clients, peer)]
        if args.against:
            candidates.append(_bcastsim("bcastsim against", args.against.resolve() / "src", scenario, clients, peer))
        candidates += [
            python_candidate(
                kind,
                "floors.py",
                kind,
                "--scenario",
                scenario,
                "--clients",
                str(clients),
                floor="" if kind == peer else peer,
            )
            for kind in floors
        ]
        summaries = interleave(candidates, runs=args.runs)
        print_table(summaries, per="deliveries", per_unit="ns/delivery")
        simpy = next((x for x in summaries if x.candidate.label == "simpy-group"), None)
        for row in summaries if simpy is not None else ():
            if row.candidate.label.startswith("bcastsim") and simpy is not None:
                mins = (row.core("min") or 0.0) / (simpy.core("min") or 1.0)
                meds = (row.core("median") or 0.0) / (simpy.core("median") or 1.0)
                print(f"   {row.candidate.label} ÷ simpy-group, core CPU: {mins:.2f}× (min), {meds:.2f}× (median)")
        deliveries = {s.candidate.label: s.extra("deliveries") for s in summaries}
        if len(set(deliveries.values())) != 1:
            print(f"   deliveries differ: {deliveries} (the floors no longer model the same fan-out)")
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
