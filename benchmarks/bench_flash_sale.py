"""Peak memory and CPU of ``bcastsim simulate flash_sale`` at many shoppers: the default run (three
architectures, Pro), where every shopper is a client group of one that follows its own order.

Run:  python benchmarks/bench_flash_sale.py [--clients 20000] [--runs 3] [--against DIR]

Each run is ``bcastsim simulate flash_sale --clients N --format json`` in its own process (the report is
discarded); ``--against DIR`` adds the same command run on another checkout's ``DIR/src`` (an older
commit, say), taking turns with this one. Peak memory is the process's peak resident set.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import Candidate, interleave, print_table

SRC = Path(__file__).resolve().parent.parent / "src"


def _simulate(label: str, src: Path, clients: int, floor: str = "") -> Candidate:
    code = (
        "import os, sys; from bcastsim.cli import main; sys.stdout = open(os.devnull, 'w'); "
        f"raise SystemExit(main(['simulate', 'flash_sale', '--clients', '{clients}', '--format', 'json']))"
    )
    return Candidate(label, [sys.executable, "-c", code], floor=floor, env={"PYTHONPATH": str(src)})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--against", type=Path, help="another checkout whose src/ to run beside this one")
    args = parser.parse_args()
    print(f"python {platform.python_version()} · {platform.machine()} · {os.cpu_count()} CPUs · {args.runs} runs each")
    print(f"\nflash_sale, {args.clients:,} shoppers, three architectures, Pro (the scenario's defaults)")
    candidates = [_simulate("this checkout", SRC, args.clients, floor="against" if args.against else "")]
    if args.against:
        candidates.append(_simulate("against", args.against.resolve() / "src", args.clients))
    print_table(interleave(candidates, runs=args.runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
