"""Small scenarios and single-write simulations shared by the simulator's tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from hypothesis import strategies as st

from bcastsim.sim import (
    FaultConfig,
    Scenario,
    app_model,
    behaviour,
    load_costs,
    load_plans,
    load_scenario,
    make_architecture,
    scenario_from_dict,
)
from bcastsim.sim._profiles import ClientBehaviour
from bcastsim.sim._realtime_rules import load_realtime_rules
from bcastsim.sim._sim import Simulation
from bcastsim.sim._workload import Emitter, Workload, instances_of

TINY = Path(__file__).parent / "data" / "sim_tiny.toml"

# The seed's event page: bids and media of every artwork, and the event channel.
SEED_PAGE = [
    {"topic": "broadcast:bid:{bids.art_id}", "entities": "all"},
    {"topic": "broadcast:event:{art.event_id}"},
    {"topic": "broadcast:art_media:{art_media.art_id}", "entities": "all"},
]


def tiny() -> Scenario:
    return load_scenario(TINY)


def world_scenario(
    *,
    audience: int,
    artworks: int = 1,
    pc_tables: tuple[str, ...] = ("bids",),
    duration_s: float = 120.0,
    profile: str = "seed",
    postgres_changes: dict[str, object] | None = None,
    waves: int = 1,
    page: list[dict[str, str]] | None = None,
) -> Scenario:
    """The built-in SQL, one event with ``artworks`` artworks, ``audience`` clients on the seed's page."""
    return scenario_from_dict(
        {
            "scenario": {"name": "one topic", "duration_s": duration_s, "profile": profile, "sample_interval_s": 1.0},
            "entities": {
                "event": {"columns": ["art.event_id", "round_contestants.event_id"]},
                "artwork": {
                    "count": artworks,
                    "columns": ["bids.art_id", "art.id", "art_media.art_id", "votes.art_uuid"],
                    "parent": "event",
                },
            },
            "writes": {"bids": {"table": "bids", "op": "INSERT", "entity": "artwork", "count": 1}},
            "populations": {
                "audience": {
                    "count": audience,
                    "waves": waves,
                    "ramp_s": (waves - 1) * 0.1,
                    "follow": page or SEED_PAGE,
                    "pc_tables": list(pc_tables),
                    "rerender_interval_s": 3600.0,
                    "queries_per_render": 3,
                    "refetch_queries": 3,
                }
            },
            "reactions": {"bid_update": 1, "winner_update": 1, "auction_update": 1},
            "postgres_changes": postgres_changes or {},
        }
    )


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
    realtime: str = "",
    waves: int = 1,
    cls: type[Simulation] = Simulation,
    page: list[dict[str, str]] | None = None,
    join_rtt_ms: float | None = None,
    client: ClientBehaviour | None = None,
) -> Simulation:
    """``audience`` identical clients of one architecture, ``artworks`` artworks, bids on the first at the given
    times (``writes``: (time in ms, "bid")), judged by the Realtime rules of ``realtime`` ("" = the newest);
    run to the end."""
    scenario = world_scenario(
        audience=audience,
        artworks=artworks,
        pc_tables=pc_tables,
        duration_s=duration_s,
        profile=profile,
        postgres_changes=postgres_changes,
        waves=waves,
        page=page,
    )
    if faults:
        scenario = attrs.evolve(scenario, faults=faults)
    if join_rtt_ms is not None:
        scenario = attrs.evolve(scenario, network=attrs.evolve(scenario.network, join_rtt_ms=join_rtt_ms))
    app = app_model(scenario)
    instances = instances_of(scenario)
    emit = Emitter(scenario, app, instances)
    assert {kind for _t, kind in writes} <= {"bid"}
    made = tuple(emit.write("bids", 0, t, seq) for seq, (t, _kind) in enumerate(writes))
    workload = Workload(instances, made, {"bids": len(made)})
    architecture = make_architecture(arch)
    sim = cls(
        scenario,
        architectures=[architecture],
        population=lambda identity, index: architecture,
        plan=load_plans(include_unlimited=True)[plan],
        costs=load_costs(),
        app=app,
        behaviour=client or behaviour(profile),
        workload=workload,
        seed=1,
        rules=load_realtime_rules(realtime),
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


JOBS = Path(__file__).parent / "fixtures" / "sim" / "jobs.toml"


@st.composite
def job_queue_events(draw: st.DrawFn) -> Scenario:
    """The user's job-queue scenario with random queues, write amounts, shapes, phases and workers."""
    base = load_scenario(JOBS)
    duration = draw(st.integers(min_value=60, max_value=900))
    amount = draw(
        st.sampled_from(
            [
                {"rate_per_s": draw(st.floats(min_value=0.5, max_value=5, allow_nan=False))},
                {"count": draw(st.integers(min_value=1, max_value=400))},
                {"per_entity": draw(st.integers(min_value=1, max_value=100))},
                {"per_client": draw(st.floats(min_value=1, max_value=5, allow_nan=False)), "population": "workers"},
            ]
        )
    )
    write = {
        "table": "jobs",
        "op": draw(st.sampled_from(["INSERT", "UPDATE"])),
        "entity": "queue",
        "shape": draw(st.sampled_from(["uniform", "bunched"])),
        "phases": draw(st.sampled_from([[], ["rush"]])),
        **amount,
    }
    data = {
        "scenario": {
            **{k: list(v) if isinstance(v, tuple) else v for k, v in attrs.asdict(base.scenario).items()},
            "duration_s": duration,
            "seed": draw(st.integers(0, 2**32)),
        },
        "entities": {"queue": {"count": draw(st.integers(min_value=1, max_value=6)), "columns": ["jobs.queue"]}},
        "phases": [{"name": "rush", "start_s": draw(st.integers(0, duration - 1)), "duration_s": 30}],
        "writes": {"enqueue": write},
        "populations": {
            "workers": {
                "count": draw(st.integers(min_value=1, max_value=50)),
                "ramp_s": draw(st.sampled_from([0, 30])),
                "waves": draw(st.integers(min_value=1, max_value=4)),
                "follow": [
                    {"topic": "jobs:{jobs.queue}", "entities": draw(st.sampled_from(["all", "sample"])), "sample": 1}
                ],
            }
        },
    }
    return scenario_from_dict(data, path=str(JOBS))


class ServerShutsChannels(Simulation):
    """Realtime shuts every channel down at 10 s ("Too many messages per second", or any channel shutdown)."""

    def run(self, progress: Callable[[float], None] | None = None) -> None:
        self.engine.at(10_000.0, self._shut_down, priority=8)
        super().run(progress)

    def _shut_down(self) -> None:
        for cohort in self.cohorts:
            for topic in list(cohort.sub_at):
                self._close_channel(cohort, topic)
