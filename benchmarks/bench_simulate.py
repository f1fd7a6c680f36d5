"""Speed of ``bcastsim simulate``: the Art Battle scenario, 10,000 clients, the cost curve, and SimPy.

Run:  .venv/bin/python benchmarks/bench_simulate.py            (about two minutes on 2 cores)
      .venv/bin/python benchmarks/bench_simulate.py --quick    (smaller SimPy comparison)

Targets: the 3-hour 2,000-client scenario in 5 s or less per architecture, 10,000 clients in 25 s or
less, at least 5x faster than the SimPy model of the same scenario, cost linear in deliveries, and a
scenario with thousands of clients over the connection cap in 30 s or less.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bcastsim.sim import load_scenario, simulate
from simpy_artbattle import run_simpy

ARCHS = ("postgres_changes", "broadcast:pg_notify", "broadcast:realtime.send")


def _timed(**kwargs: object) -> tuple[float, int]:
    elapsed, deliveries, _runs = _timed_runs(compare_profiles=(), **kwargs)
    return elapsed, deliveries


def _timed_runs(**kwargs: object) -> tuple[float, int, int]:
    start = time.perf_counter()
    report = simulate(**kwargs)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - start
    deliveries = sum(run.metrics[a]["messages_sent"] for run in report.runs for a in run.architectures)
    return elapsed, deliveries, len(report.runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller SimPy comparison")
    args = parser.parse_args()
    print(f"python {platform.python_version()} · {platform.machine()} · {os.cpu_count()} CPUs")
    artbattle = load_scenario("artbattle")
    status = 0

    print("\n1. artbattle, 3 hours, 2,000 clients, plan team, faults on (one run per architecture)")
    for arch in ARCHS:
        elapsed, deliveries = _timed(scenario=artbattle, architectures=[arch], reference_plan="")
        ok = elapsed <= 5.0
        status |= not ok
        verdict = "ok" if ok else "MISSED"
        print(f"   {arch:<34} {elapsed:6.2f} s  {deliveries:>12,} deliveries  target ≤ 5 s: {verdict}")
    elapsed, deliveries, runs = _timed_runs(scenario=artbattle)
    print(f"   {f'bcastsim simulate ({runs} runs)':<34} {elapsed:6.2f} s  {deliveries:>12,} deliveries")
    elapsed, deliveries, runs = _timed_runs(scenario="backtest")
    label = f"bcastsim simulate backtest ({runs} runs + failure search)"
    print(f"   {label:<34} {elapsed:6.2f} s  {deliveries:>12,} deliveries")

    print("\n2. 10,000 clients (one run per architecture and plan)")
    for arch in ARCHS:
        for plan in ("team", "unlimited"):
            label = f"{arch} @ {plan}"
            elapsed, deliveries = _timed(
                scenario=artbattle, architectures=[arch], reference_plan="", clients=10_000, plan=plan
            )
            ok = elapsed <= 25.0
            status |= not ok
            verdict = "ok" if ok else "MISSED"
            print(f"   {label:<34} {elapsed:6.2f} s  {deliveries:>12,} deliveries  target ≤ 25 s: {verdict}")

    print("\n3. cost against deliveries (postgres_changes, plan unlimited, no faults)")
    calm = attrs.evolve(artbattle, faults=())
    print(f"   {'clients':>8} {'deliveries':>14} {'seconds':>9} {'µs/1k deliveries':>18}")
    for clients in (250, 500, 1_000, 2_000, 5_000, 10_000, 20_000):
        elapsed, deliveries = _timed(
            scenario=calm, architectures=["postgres_changes"], reference_plan="", plan="unlimited", clients=clients
        )
        print(f"   {clients:>8,} {deliveries:>14,} {elapsed:>9.2f} {1e9 * elapsed / max(deliveries, 1):>18.1f}")
    print("   (client groups make the cost grow with messages × groups, so time per delivery falls as clients grow)")

    print("\n4. against a SimPy model of the same scenario (plan unlimited, no faults)")
    sizes = {
        "broadcast:realtime.send": 2_000 if not args.quick else 500,
        "postgres_changes": 500 if not args.quick else 200,
    }
    for arch, clients in sizes.items():
        scenario = calm.with_clients(clients)
        start = time.perf_counter()
        simpy_result = run_simpy(scenario, arch, seed=1)
        simpy_s = time.perf_counter() - start
        ours_s, ours_deliveries = _timed(scenario=scenario, architectures=[arch], reference_plan="", plan="unlimited")
        ratio = simpy_s / ours_s
        ok = ratio >= 5.0
        status |= not ok
        print(
            f"   {arch:<26} {clients:>6,} clients  SimPy {simpy_s:7.2f} s ({simpy_result['deliveries']:,} deliveries)"
            f"  bcastsim {ours_s:6.2f} s ({ours_deliveries:,})  {ratio:5.1f}x  target ≥ 5x: {'ok' if ok else 'MISSED'}"
        )

    print("\n5. clients beyond the connection cap (flash_sale on Pro: 500 connections, every built-in run)")
    for clients in (3_000, 10_000):
        elapsed, deliveries, runs = _timed_runs(scenario="flash_sale", clients=clients, plan="pro")
        ok = elapsed <= 30.0
        status |= not ok
        label = f"{clients:,} shoppers ({runs} runs)"
        verdict = "ok" if ok else "MISSED"
        print(f"   {label:<34} {elapsed:6.2f} s  {deliveries:>12,} deliveries  target ≤ 30 s: {verdict}")
    print("   (refused clients wait for room; their retries are counted from the backoff, not run one by one)")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
