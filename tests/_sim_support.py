"""Small scenarios and single-write simulations shared by the simulator's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
from hypothesis import strategies as st

from bcastsim.sim import (
    FaultConfig,
    Scenario,
    Write,
    behaviour,
    load_costs,
    load_plans,
    load_scenario,
    make_architecture,
    message_shapes,
)
from bcastsim.sim._sim import Simulation
from bcastsim.sim._workload import Artwork, Workload

TINY = Path(__file__).parent / "data" / "sim_tiny.toml"

ART_ID = "0b9a4f8e-2c1d-4e3f-a5b6-c7d8e9f0a1b2"
EVENT_ID = "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"


def tiny() -> Scenario:
    return load_scenario(TINY)


def one_topic_world(
    *,
    arch: str,
    audience: int,
    writes: list[tuple[float, str]],
    plan: str = "unlimited",
    profile: str = "seed",
    duration_s: float = 120.0,
    faults: tuple[object, ...] = (),
    pc_tables: tuple[str, ...] = ("bids",),
    artworks: int = 1,
    postgres_changes: dict[str, object] | None = None,
) -> Simulation:
    """``audience`` identical clients of one architecture, one artwork, the given writes; run to the end."""
    scenario = Scenario().with_overrides(
        scenario={"duration_s": duration_s, "profile": profile, "sample_interval_s": 1.0},
        clients={
            "audience": audience,
            "admins": 0,
            "arrival_ramp_s": 0.0,
            "arrival_waves": 1,
            "pc_tables": pc_tables,
            "rerender_interval_s": 3600.0,
        },
        postgres_changes=postgres_changes or {},
    )
    if faults:
        import attrs

        scenario = attrs.evolve(scenario, faults=faults)
    workload = Workload(
        rounds=(),
        artworks=tuple(Artwork(i, 1, 0.0, ART_ID if i == 0 else f"{ART_ID[:-4]}{i:04d}") for i in range(artworks)),
        writes=tuple(Write(t, kind, 0, i) for i, (t, kind) in enumerate(writes)),
        event_id=EVENT_ID,
    )
    architecture = make_architecture(arch)
    sim = Simulation(
        scenario,
        architectures=[architecture],
        population=lambda identity, index: architecture,
        plan=load_plans(include_unlimited=True)[plan],
        costs=load_costs(),
        shapes=message_shapes("standin"),
        behaviour=behaviour(profile),
        workload=workload,
        seed=1,
    )
    sim.run()
    return sim


# Faults anywhere in the tiny scenario's hour, hitting any share of the clients.
faults = st.lists(
    st.builds(
        FaultConfig,
        kind=st.sampled_from(["disconnect", "partition", "restart"]),
        at_s=st.floats(min_value=0, max_value=3500, allow_nan=False),
        fraction=st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
        duration_s=st.floats(min_value=1, max_value=120, allow_nan=False),
    ),
    max_size=3,
)


@st.composite
def small_events(draw: st.DrawFn, max_clients: int = 120) -> tuple[Scenario, dict[str, Any]]:
    """The tiny scenario with random faults, and the seed, audience, plan and profile to simulate it with."""
    chosen = draw(faults)
    scenario = attrs.evolve(tiny(), faults=tuple(sorted(chosen, key=lambda f: (f.at_s, f.kind))))
    options: dict[str, Any] = {
        "seed": draw(st.integers(min_value=0, max_value=2**32)),
        "clients": draw(st.integers(min_value=1, max_value=max_clients)),
        "plan": draw(st.sampled_from(["free", "pro", "team", "unlimited"])),
        "profile": draw(st.sampled_from(["seed", "realtime_js", "recommended"])),
    }
    return scenario, options
