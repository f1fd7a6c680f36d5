"""A finished run lets go of itself: its simulation is freed when dropped, and the collector is left as found."""

from __future__ import annotations

import gc
import weakref

import pytest

from _sim_support import one_topic_world
from bcastsim.sim._sim import Simulation


@pytest.mark.parametrize("arch", ["postgres_changes", "broadcast:realtime.send", "listen_notify"])
def test_a_finished_simulation_is_freed_by_reference_counting(arch: str) -> None:
    """Dropping a finished simulation frees it at once, without a garbage collection (no cycle is left)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        sim = one_topic_world(arch=arch, audience=5, writes=[(1000.0, "bid"), (2000.0, "bid")])
        assert sim.metrics[arch].messages_published >= 2  # the run did its work
        ref = weakref.ref(sim)
        del sim
        assert ref() is None
    finally:
        if enabled:
            gc.enable()


@pytest.mark.parametrize("was_enabled", [True, False])
def test_a_run_pauses_the_collector_and_leaves_it_as_found(was_enabled: bool) -> None:
    """While the clock runs no cyclic collection happens; afterwards the collector is as it was before."""
    seen: list[bool] = []

    class Watched(Simulation):
        def _on_write(self, write: object) -> None:
            seen.append(gc.isenabled())
            super()._on_write(write)  # type: ignore[arg-type]

    enabled = gc.isenabled()
    (gc.enable if was_enabled else gc.disable)()
    try:
        one_topic_world(arch="broadcast:realtime.send", audience=3, writes=[(500.0, "bid")], cls=Watched)
        assert gc.isenabled() is was_enabled
    finally:
        (gc.enable if enabled else gc.disable)()
    assert seen == [False]
