"""Sweeps over scenarios × seeds through any concurrent.futures executor."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from _sim_support import TINY
from bcastsim.sim import simulate, sweep


def test_sweep_results_do_not_depend_on_the_executor() -> None:
    """Threads, processes and a plain call give the same fingerprints, in grid order."""
    seeds = [1, 2]
    with ThreadPoolExecutor(max_workers=2) as pool:
        threaded = sweep([TINY], seeds, executor=pool, clients=30, architectures=["broadcast"])
    with ProcessPoolExecutor(max_workers=2) as pool:
        processed = sweep([TINY], seeds, executor=pool, clients=30, architectures=["broadcast"])
    direct = [
        simulate(TINY, seed=s, clients=30, architectures=["broadcast"], compare_profiles=()).fingerprint for s in seeds
    ]
    assert [r.fingerprint for r in threaded] == direct
    assert [r.fingerprint for r in processed] == direct
    assert [r.seed for r in threaded] == seeds
    assert set(threaded[0].runs) == {"broadcast:realtime.send"}
    assert threaded[0].runs["broadcast:realtime.send"]["bytes_sent"] is not None
