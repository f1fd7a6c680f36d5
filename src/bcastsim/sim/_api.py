"""Running scenarios: side-by-side comparisons, rollout stages and the report they produce."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from bcastsim._errors import InputError
from bcastsim._plans import PlanLimits, load_plans
from bcastsim.client import in_rollout
from bcastsim.sim._architectures import ARCHITECTURES, Architecture, make_architecture
from bcastsim.sim._costs import CostModel, load_costs
from bcastsim.sim._payloads import ShapeSet, message_shapes
from bcastsim.sim._profiles import behaviour
from bcastsim.sim._ranges import check_ranges
from bcastsim.sim._rng import RandomTree
from bcastsim.sim._scenario import Scenario, _suggest, builtin_scenarios, load_scenario
from bcastsim.sim._sim import Simulation
from bcastsim.sim._workload import Workload, build_workload

__all__ = ["RunSummary", "SimulationReport", "resolve_architectures", "run_scenario", "simulate"]

Progress = Callable[[float], None]


@attrs.frozen
class RunSummary:
    """One simulated event: its architectures' metrics and the fingerprint of its event trace."""

    label: str
    plan: str
    architectures: tuple[str, ...]
    metrics: dict[str, dict[str, Any]]
    fingerprint: str
    events: int
    cohorts: int
    rollout_percentage: int | None = None
    rollback: dict[str, Any] | None = None


@attrs.frozen
class SimulationReport:
    scenario_name: str
    scenario_ref: str
    description: str
    mode: str
    seed: int
    plan: PlanLimits
    reference_plan: str
    profile: str
    profile_summary: str
    audience: int
    admins: int
    duration_s: float
    workload: dict[str, int]
    artworks: int
    payload_source: str
    cost_source: str
    faults: tuple[dict[str, Any], ...]
    rollout_transport: str
    runs: tuple[RunSummary, ...]

    @property
    def replay_command(self) -> str:
        archs = ",".join(dict.fromkeys(a for r in self.runs for a in r.architectures))
        parts = [
            "bcastsim simulate",
            self.scenario_ref,
            f"--seed {self.seed}",
            f"--clients {self.audience}",
            f"--plan {self.plan.name}",
            f"--profile {self.profile}",
        ]
        if self.mode == "compare":
            parts.append(f"--reference-plan {self.reference_plan or 'none'}")
            parts.append(f"--arch {archs}")
        return " ".join(parts)

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for run in self.runs:
            digest.update(f"{run.label}:{run.fingerprint}\n".encode())
        return digest.hexdigest()


def resolve_architectures(names: Sequence[str]) -> list[str]:
    out = []
    for name in names:
        for raw in name.split(","):
            part = raw.strip()
            if not part:
                continue
            full = "broadcast:realtime.send" if part == "broadcast" else part
            if full not in ARCHITECTURES:
                raise InputError(f'unknown architecture "{part}"', fix=_suggest(part, [*ARCHITECTURES, "broadcast"]))
            if full not in out:
                out.append(full)
    return out


def _display_path(source: str) -> str:
    """Paths inside the built-in models directory print as ``models/...`` wherever bcastsim is installed."""
    from bcastsim._resources import builtin_models_dir

    try:
        return "models/" + Path(source).resolve().relative_to(builtin_models_dir().resolve()).as_posix()
    except ValueError:
        return source


def _scenario_ref(scenario: Scenario) -> str:
    for name, path in builtin_scenarios().items():
        if Path(scenario.source).resolve() == path.resolve():
            return name
    return scenario.source


def run_scenario(
    scenario: Scenario,
    *,
    architectures: list[Architecture],
    population: Callable[[str, int], Architecture],
    plan: PlanLimits,
    costs: CostModel,
    shapes: ShapeSet,
    workload: Workload,
    seed: int,
    progress: Progress | None = None,
) -> Simulation:
    sim = Simulation(
        scenario,
        architectures=architectures,
        population=population,
        plan=plan,
        costs=costs,
        shapes=shapes,
        behaviour=behaviour(scenario.scenario.profile),
        workload=workload,
        seed=seed,
    )
    sim.run(progress)
    return sim


def _rollback(
    stage: int, *, sim: Simulation, bcast: str, pc: str, previous: dict[str, Any] | None, scenario: Scenario
) -> dict[str, Any]:
    cfg = scenario.rollout
    b = sim.metrics[bcast]
    p = sim.metrics[pc]
    # What an operator's dashboard sees: attempts blocked by a browser's own network never arrive.
    failure = b.server_failure_rate
    spikes = p.peak_lag_ms > cfg.lag_spike_s * 1000.0 or p.peak_retained_wal_bytes > cfg.wal_spike_bytes
    returning = spikes and (
        previous is None or not previous["lag_spikes"] or p.peak_lag_ms >= previous["peak_lag_ms"] or stage == 100
    )
    reasons = []
    if failure > cfg.max_connection_failure_rate:
        reasons.append(f"broadcast connection failure rate {failure:.1%} > {cfg.max_connection_failure_rate:.0%}")
    if returning:
        reasons.append(
            f"lag spikes: peak poller lag {p.peak_lag_ms / 1000:.1f} s, "
            f"retained WAL {p.peak_retained_wal_bytes / 1e6:.1f} MB"
        )
    return {
        "stage": stage,
        "broadcast_clients": b.clients,
        "postgres_changes_clients": p.clients,
        "connection_failure_rate": round(failure, 6),
        "lag_spikes": spikes,
        "peak_lag_ms": round(p.peak_lag_ms, 3),
        "peak_retained_wal_bytes": round(p.peak_retained_wal_bytes, 1),
        "rollback": bool(reasons),
        "reasons": reasons,
        "broadcast_lost_per_client": round(b.lost_per_client_mean, 3),
        "postgres_changes_lost_per_client": round(p.lost_per_client_mean, 3),
    }


def simulate(
    scenario: Scenario | str | Path = "artbattle",
    *,
    architectures: Sequence[str] | None = None,
    seed: int | None = None,
    clients: int | None = None,
    plan: str | None = None,
    profile: str | None = None,
    reference_plan: str | None = None,
    progress: Progress | None = None,
    costs: CostModel | None = None,
    payloads: str = "auto",
) -> SimulationReport:
    """Run a scenario: one event per architecture (``compare``) or per rollout stage (``rollout``).

    ``reference_plan`` overrides the scenario's (``""`` turns the reference runs off).
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    overrides: dict[str, dict[str, Any]] = {}
    if seed is not None:
        overrides.setdefault("scenario", {})["seed"] = seed
    if plan is not None:
        overrides.setdefault("scenario", {})["plan"] = plan.lower()
    if profile is not None:
        overrides.setdefault("scenario", {})["profile"] = profile
    if clients is not None:
        if clients < 1:
            raise InputError("--clients must be at least 1", fix="e.g. --clients 2000")
        overrides["clients"] = {"audience": clients}
    if architectures:
        overrides.setdefault("scenario", {})["architectures"] = tuple(resolve_architectures(architectures))
    if overrides:
        scenario = scenario.with_overrides(**overrides)
        check_ranges(scenario, "the command line (--seed, --clients)")
    cfg = scenario.scenario
    plans = load_plans(include_unlimited=True)
    if cfg.plan not in plans:
        raise InputError(f'unknown plan "{cfg.plan}"', fix=_suggest(cfg.plan, sorted(plans)))
    plan_limits = plans[cfg.plan]
    behaviour(cfg.profile)  # validates the name before any work
    costs = costs if costs is not None else load_costs()
    shapes = message_shapes(payloads)
    tree = RandomTree(cfg.seed)
    workload = build_workload(scenario, tree.stream("workload"))
    names = resolve_architectures(list(cfg.architectures))

    reference = cfg.reference_plan.lower() if reference_plan is None else reference_plan.lower()
    reference = "" if reference == "none" else reference
    if reference and reference not in plans:
        raise InputError(f'unknown reference plan "{reference}"', fix=_suggest(reference, sorted(plans)))
    runs: list[RunSummary] = []
    jobs: list[tuple[str, list[str], int | None, PlanLimits]] = []
    if cfg.mode == "rollout":
        bcast = f"broadcast:{scenario.rollout.transport}"
        jobs = [(f"rollout {pct}%", ["postgres_changes", bcast], pct, plan_limits) for pct in scenario.rollout.stages]
    else:
        jobs = [(name, [name], None, plan_limits) for name in names]
        if reference and reference != plan_limits.name:
            jobs += [(f"{name} @ {reference}", [name], None, plans[reference]) for name in names]
    previous: dict[str, Any] | None = None
    for k, (label, arch_names, pct, run_plan) in enumerate(jobs):
        archs = [make_architecture(n) for n in arch_names]

        def population(
            identity: str, index: int, archs: list[Architecture] = archs, pct: int | None = pct
        ) -> Architecture:
            if pct is None:
                return archs[0]
            return archs[1] if in_rollout(identity, pct) else archs[0]

        def sub_progress(fraction: float, k: int = k) -> None:
            if progress is not None:
                progress((k + fraction) / len(jobs))

        sim = run_scenario(
            scenario,
            architectures=archs,
            population=population,
            plan=run_plan,
            costs=costs,
            shapes=shapes,
            workload=workload,
            seed=cfg.seed,
            progress=sub_progress if progress is not None else None,
        )
        rollback = None
        if pct is not None:
            rollback = _rollback(
                pct, sim=sim, bcast=arch_names[1], pc=arch_names[0], previous=previous, scenario=scenario
            )
            previous = rollback
        runs.append(
            RunSummary(
                label=label,
                plan=run_plan.name,
                architectures=tuple(arch_names),
                metrics={a.name: sim.metrics[a.name].to_json() for a in archs},
                fingerprint=sim.engine.fingerprint(),
                events=sim.engine.events,
                cohorts=len(sim.cohorts),
                rollout_percentage=pct,
                rollback=rollback,
            )
        )
    counts = {
        kind: workload.count(kind) for kind in ("bid", "vote", "media", "winner", "auction", "contestant", "art_insert")
    }
    return SimulationReport(
        scenario_name=cfg.name,
        scenario_ref=_scenario_ref(scenario),
        description=cfg.description,
        mode=cfg.mode,
        seed=cfg.seed,
        plan=plan_limits,
        reference_plan=reference if reference != plan_limits.name else "",
        profile=cfg.profile,
        profile_summary=behaviour(cfg.profile).describe(),
        audience=scenario.clients.audience,
        admins=scenario.clients.admins,
        duration_s=cfg.duration_s,
        workload=counts,
        artworks=len(workload.artworks),
        payload_source=shapes.source,
        cost_source=_display_path(costs.source),
        faults=tuple(attrs.asdict(f) for f in scenario.faults),
        rollout_transport=scenario.rollout.transport,
        runs=tuple(runs),
    )
