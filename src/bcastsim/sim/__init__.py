"""Deterministic simulation of a live event over database-driven realtime architectures.

>>> from bcastsim.sim import simulate, render_text
>>> report = simulate("artbattle", clients=200, seed=7)       # doctest: +SKIP
>>> print(render_text(report))                                # doctest: +SKIP

One seed gives one run: every random draw comes from a named stream of one seeded tree, the event
loop breaks ties by insertion order, and every report carries a replay command and the sha256
fingerprint of its event trace.
"""

from bcastsim._plans import UNLIMITED, PlanLimits, load_plans
from bcastsim.sim._api import RunSummary, SimulationReport, resolve_architectures, simulate
from bcastsim.sim._architectures import ARCHITECTURES, Architecture, Broadcast, PostgresChanges, make_architecture
from bcastsim.sim._costs import CostModel, load_costs
from bcastsim.sim._engine import Engine
from bcastsim.sim._payloads import MessageShape, ShapeSet, message_shapes, pc_frame_bytes, row_json_bytes
from bcastsim.sim._plot import plot_sweep, write_sweep
from bcastsim.sim._profiles import ClientBehaviour, behaviour, profile_names
from bcastsim.sim._report import render_json, render_text, report_to_dict
from bcastsim.sim._rng import RandomTree, sub_seed
from bcastsim.sim._scenario import (
    FaultConfig,
    Scenario,
    builtin_scenarios,
    load_scenario,
    scenario_from_dict,
)
from bcastsim.sim._sweep import SweepCell, SweepResult, run_cell, sweep, sweep_csv, sweep_json, sweep_table
from bcastsim.sim._workload import Workload, Write, build_workload

__all__ = [
    "ARCHITECTURES",
    "UNLIMITED",
    "Architecture",
    "Broadcast",
    "ClientBehaviour",
    "CostModel",
    "Engine",
    "FaultConfig",
    "MessageShape",
    "PlanLimits",
    "PostgresChanges",
    "RandomTree",
    "RunSummary",
    "Scenario",
    "ShapeSet",
    "SimulationReport",
    "SweepCell",
    "SweepResult",
    "Workload",
    "Write",
    "behaviour",
    "build_workload",
    "builtin_scenarios",
    "load_costs",
    "load_plans",
    "load_scenario",
    "make_architecture",
    "message_shapes",
    "pc_frame_bytes",
    "plot_sweep",
    "profile_names",
    "render_json",
    "render_text",
    "report_to_dict",
    "resolve_architectures",
    "row_json_bytes",
    "run_cell",
    "scenario_from_dict",
    "simulate",
    "sub_seed",
    "sweep",
    "sweep_csv",
    "sweep_json",
    "sweep_table",
    "write_sweep",
]
