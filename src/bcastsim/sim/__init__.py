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
from bcastsim.sim._app import AppModel, MessageSpec, app_model
from bcastsim.sim._architectures import (
    ARCHITECTURES,
    Architecture,
    Broadcast,
    ListenNotify,
    PostgresChanges,
    make_architecture,
)
from bcastsim.sim._costs import CostModel, load_costs
from bcastsim.sim._engine import Engine
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
from bcastsim.sim._workload import Workload, Write, build_workload, check_scenario

__all__ = [
    "ARCHITECTURES",
    "UNLIMITED",
    "AppModel",
    "Architecture",
    "Broadcast",
    "ClientBehaviour",
    "CostModel",
    "Engine",
    "FaultConfig",
    "ListenNotify",
    "MessageSpec",
    "PlanLimits",
    "PostgresChanges",
    "RandomTree",
    "RunSummary",
    "Scenario",
    "SimulationReport",
    "SweepCell",
    "SweepResult",
    "Workload",
    "Write",
    "app_model",
    "behaviour",
    "build_workload",
    "builtin_scenarios",
    "check_scenario",
    "load_costs",
    "load_plans",
    "load_scenario",
    "make_architecture",
    "plot_sweep",
    "profile_names",
    "render_json",
    "render_text",
    "report_to_dict",
    "resolve_architectures",
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
