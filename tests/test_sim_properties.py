"""Invariants of every simulated event, over random seeds, sizes, plans, profiles and faults."""

from __future__ import annotations

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from _sim_support import tiny
from bcastsim.sim import FaultConfig, simulate

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


@settings(max_examples=15)  # each example simulates a whole event three times
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    clients=st.integers(min_value=1, max_value=120),
    plan=st.sampled_from(["free", "pro", "team", "unlimited"]),
    profile=st.sampled_from(["seed", "realtime_js", "recommended"]),
    chosen=faults,
)
def test_no_leaks_duplicates_or_reordering(
    seed: int, clients: int, plan: str, profile: str, chosen: list[FaultConfig]
) -> None:
    """Whatever happens, no client gets a message twice, out of order, or on a topic it did not join."""
    scenario = attrs.evolve(tiny(), faults=tuple(sorted(chosen, key=lambda f: (f.at_s, f.kind))))
    report = simulate(scenario, seed=seed, clients=clients, plan=plan, profile=profile)
    for run in report.runs:
        metrics = run.metrics[run.architectures[0]]
        counts = metrics["delivery_check"]["counts"]
        assert counts["leaked"] == counts["duplicated"] == counts["reordered"] == counts["unauthorized"] == 0
        assert metrics["clients"] == clients + scenario.clients.admins
        assert 0 <= metrics["updates"]["lost"] <= metrics["updates"]["owed"]
        assert metrics["messages_sent"] <= metrics["messages_published"] * metrics["clients"]
        connected = metrics["series"]["connected_clients"]
        assert max(connected, default=0) <= min(metrics["clients"], report.plan.connections)
