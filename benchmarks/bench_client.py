"""How many generated fault schedules per second the real-client harness runs.

Run with::

    .venv/bin/python benchmarks/bench_client.py [--schedules 1000] [--seed 0]

It draws ``--schedules`` fault schedules as the checker does (``draw_schedules``, from the
seed), runs them with a correct manager on the real @supabase/realtime-js
(two node processes, one per core), and prints schedules per second of wall time. It then
times a whole ``check --client`` run of 500 schedules (generation, both fault families
with their fault-free twins, shrinking, the backoff probe).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bcastsim.client._node import run_realtime
from bcastsim.client._realcheck import _FAULTS, DEFAULT_TOPICS, check_client_module, draw_schedules

MANAGER = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "client" / "good_manager.mjs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    schedules = draw_schedules(DEFAULT_TOPICS, _FAULTS, args.schedules, args.seed)
    ops = sum(len(s) for s in schedules)
    request = {"mode": "manager", "module": str(MANAGER)}
    start = time.perf_counter()
    run_realtime({**request, "schedules": [{"seed": k + 1, "ops": s} for k, s in enumerate(schedules)]})
    elapsed = time.perf_counter() - start
    rate = len(schedules) / elapsed
    print(f"{len(schedules)} schedules ({ops} operations) in {elapsed:.2f} s: {rate:.0f} schedules/s")
    start = time.perf_counter()
    findings = check_client_module(MANAGER, schedules=500, seed=args.seed)
    print(f"check --client of 500 schedules: {time.perf_counter() - start:.2f} s, {len(findings)} findings")


if __name__ == "__main__":
    main()
