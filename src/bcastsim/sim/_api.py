"""Running scenarios: side-by-side comparisons, rollout stages and the report they produce."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from bcastsim._errors import InputError
from bcastsim._gc import collection_paused
from bcastsim._plans import PlanLimits, PlanSet, resolve_plans
from bcastsim.client import in_rollout
from bcastsim.sim._app import AppModel, app_model
from bcastsim.sim._architectures import ARCHITECTURES, Architecture, make_architecture
from bcastsim.sim._costs import CostModel, load_costs
from bcastsim.sim._database import compute_of
from bcastsim.sim._profiles import behaviour
from bcastsim.sim._ranges import check_ranges
from bcastsim.sim._realtime_rules import RealtimeRules, load_realtime_rules, realtime_versions
from bcastsim.sim._requirements import judge
from bcastsim.sim._rng import RandomTree
from bcastsim.sim._scenario import Scenario, _suggest, builtin_scenarios, load_scenario
from bcastsim.sim._sim import Simulation
from bcastsim.sim._sweep_spec import check_setting, toml_value
from bcastsim.sim._workload import Workload, build_workload, check_scenario

__all__ = ["RunSummary", "SimulationReport", "plan_set", "resolve_architectures", "run_scenario", "simulate"]

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
    profile: str = ""  # set when the run uses another client profile than the report's


@attrs.frozen
class SimulationReport:
    scenario_name: str
    scenario_ref: str
    title: str
    description: str
    mode: str
    seed: int
    plan: PlanLimits
    reference_plan: str
    profile: str
    profile_summary: str
    audience: int  # clients of the main population (what --clients sets)
    populations: dict[str, int]  # label -> clients
    duration_s: float
    entities: dict[str, int]  # label -> instances
    workload: dict[str, int]  # label -> writes
    phases: tuple[dict[str, Any], ...]
    headline: str  # the message type whose latency the report shows first
    claims: dict[str, str] | None
    payload_source: str
    cost_source: str
    faults: tuple[dict[str, Any], ...]
    rollout_transport: str
    runs: tuple[RunSummary, ...]
    backtest: dict[str, Any] | None = None
    plans_source: str = ""  # the plans file given beside the scenario ("" = built-ins or the scenario's own)
    realtime: str = ""  # the Realtime rules the plan's limits were judged by (RealtimeRules.describe())
    settings: tuple[tuple[str, Any], ...] = ()  # ("section.key", value) set over the scenario file's
    sql_override: tuple[str, ...] = ()  # --sql paths as given, which replace the scenario's sql = [...]
    delivered_share: float = 0.99  # the scenario's [requirements] delivered_share, which claims are judged by
    assumptions: tuple[str, ...] = ()  # what the run takes for Supabase's where no source says it

    @property
    def replay_command(self) -> str:
        archs = ",".join(dict.fromkeys(a for r in self.runs for a in r.architectures))
        parts = [
            "bcastsim simulate",
            self.scenario_ref,
            f"--seed {self.seed}",
            f"--clients {self.audience}",
            *([f"--plans {self.plans_source}"] if self.plans_source else []),
            f"--plan {self.plan.name}",
            f"--profile {self.profile}",
        ]
        if self.mode == "compare":
            parts.append(f"--reference-plan {self.reference_plan or 'none'}")
            parts.append(f"--arch {archs}")
            profiles = ",".join(dict.fromkeys(r.profile for r in self.runs if r.profile)) or "none"
            parts.append(f"--compare-profiles {profiles}")
        parts += [f"--sql {path}" for path in self.sql_override]
        parts += [f"--set {key}={toml_value(value)}" for key, value in self.settings]
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
    if names and not out:
        # `--arch ,` or `--arch ""`: asked for architectures and named none.
        raise InputError(
            f"--arch {','.join(names)!r} names no architecture",
            fix=f"name one or more, comma-separated: {', '.join(ARCHITECTURES)}",
        )
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
    app: AppModel,
    workload: Workload,
    seed: int,
    progress: Progress | None = None,
    rules: RealtimeRules | None = None,
) -> Simulation:
    sim = Simulation(
        scenario,
        architectures=architectures,
        population=population,
        plan=plan,
        costs=costs,
        app=app,
        behaviour=behaviour(scenario.scenario.profile),
        workload=workload,
        seed=seed,
        rules=rules,
    )
    sim.run(progress)
    sim.database.finish(sim.engine.now)
    return sim


def _judged(sim: Simulation, arch: Architecture, scenario: Scenario) -> dict[str, Any]:
    """The architecture's metrics, with the clients still refused at the end and the requirements' verdict."""
    metrics = sim.metrics[arch.name].to_json()
    metrics["connections"]["refused_at_end"] = sum(c.n for c in sim.cohorts if c.arch is arch and c.episode_failed)
    populations = _by_population(sim, arch, scenario) if scenario.requirements.population_share else None
    metrics["requirements"] = judge(
        metrics, scenario.requirements, profile=scenario.scenario.profile, populations=populations
    )
    return metrics


def check_requirements(scenario: Scenario) -> None:
    """Every population a requirement names is one of the scenario's (checked before any work)."""
    for name in scenario.requirements.population_share:
        if name not in scenario.populations:
            raise scenario.fail(
                f'requirements.population_share names "{name}", which is no population of the scenario',
                "requirements",
                "population_share",
                "use one of: " + ", ".join(scenario.populations),
            )


def _by_population(sim: Simulation, arch: Architecture, scenario: Scenario) -> dict[str, tuple[int, int, bool]]:
    """Per population a requirement names: updates owed and lost by the delivery checker on its clients alone."""
    from bcastsim.check.history import Anomaly, check_traces

    end = scenario.scenario.duration_s * 1000.0
    reads = arch.page_applies(sim.behaviour)
    out: dict[str, tuple[int, int, bool]] = {}
    for name in scenario.requirements.population_share:
        traces = (sim.trace(c, end) for c in sim.cohorts if c.arch is arch and c.role == name)
        bound = scenario.scenario.latency_bound_ms
        report = check_traces(sim.sent, traces, bound, sim.behaviour.allowed_anomalies)
        out[name] = (report.expected, report.counts[Anomaly.LOST], reads)
    return out


def _rollback(
    stage: int, *, sim: Simulation, bcast: str, pc: str, previous: dict[str, Any] | None, scenario: Scenario
) -> dict[str, Any]:
    cfg = scenario.rollout
    b = sim.metrics[bcast]
    p = sim.metrics[pc]
    # What an operator's dashboard sees: (re)connections the service refused or could not serve, one per
    # client and drop however often it retried; a browser's own network outage never reaches the service.
    failure = b.episode_failure_rate
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


# A report keeps what it is made from until it is built: the app, the workload (every write of the event) and
# each run until it is judged. Collections while they are held walk them all and free nothing (at Art Battle's
# 10,000 clients the collections during judging and after the workload is built cost about as much as a tenth
# of the run); each run's simulation is freed by reference counting when the next one starts.
@collection_paused()  # a context manager made by contextlib is also a decorator
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
    compare_profiles: Sequence[str] | None = None,
    plans: str | Path | Mapping[str, Any] | None = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    sql: Sequence[str | Path] | None = None,
) -> SimulationReport:
    """Run a scenario: one event per architecture (``compare``) or per rollout stage (``rollout``).

    ``clients`` sizes the scenario's first population; ``sql`` replaces its SQL files;
    ``reference_plan`` overrides the scenario's (``""`` turns the reference runs off);
    ``compare_profiles`` overrides ``scenario.compare_profiles`` (``()`` turns those runs off).
    ``plans`` (a plans file or a mapping, see :func:`~bcastsim._plans.resolve_plans`) replaces the
    scenario's ``[scenario] plans`` file; either adds its plans to the built-ins.
    ``settings`` sets scenario keys, ``{"network": {"median_ms": 80}}``, before the other overrides.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    overrides: dict[str, dict[str, Any]] = {}
    set_keys: list[tuple[str, Any]] = []
    for section, values in (settings or {}).items():
        for name, value in values.items():
            check_setting(scenario, section, name, value)
            overrides.setdefault(section, {})[name] = value
            set_keys.append((f"{section}.{name}", value))
    if seed is not None:
        overrides.setdefault("scenario", {})["seed"] = seed
    if plan is not None:
        overrides.setdefault("scenario", {})["plan"] = plan.lower()
    if profile is not None:
        overrides.setdefault("scenario", {})["profile"] = profile
    if clients is not None and clients < 1:
        raise InputError("--clients must be at least 1", fix="e.g. --clients 2000")
    if architectures:
        overrides.setdefault("scenario", {})["architectures"] = tuple(resolve_architectures(architectures))
    if compare_profiles is not None:
        overrides.setdefault("scenario", {})["compare_profiles"] = tuple(compare_profiles)
    if overrides or clients is not None:
        scenario = scenario.with_overrides(**overrides)
        if clients is not None:
            scenario = scenario.with_clients(clients)
        check_ranges(scenario, "the command line (--seed, --clients, --set)")
    cfg = scenario.scenario
    plans_of_run = plan_set(scenario, plans)
    plan_limits = plans_of_run.get_plan(cfg.plan)
    rules_of = _realtime_rules(scenario)
    behaviour(cfg.profile)  # validates the name before any work
    costs = costs if costs is not None else load_costs()
    app = app_model(scenario, sql)
    check_scenario(scenario, app)
    check_requirements(scenario)
    compute_of(scenario)  # an unknown compute size fails before any work
    tree = RandomTree(cfg.seed)
    workload = build_workload(scenario, app, tree.stream("workload"))
    names = resolve_architectures(list(cfg.architectures))

    reference = cfg.reference_plan.lower() if reference_plan is None else reference_plan.lower()
    reference = "" if reference == "none" else reference
    if reference:
        plans_of_run.get_plan(reference, option="--reference-plan")
    runs: list[RunSummary] = []
    jobs: list[tuple[str, list[str], int | None, PlanLimits, str]] = []
    if cfg.mode == "rollout":
        bcast = f"broadcast:{scenario.rollout.transport}"
        jobs = [
            (f"rollout {pct}%", ["postgres_changes", bcast], pct, plan_limits, "") for pct in scenario.rollout.stages
        ]
    else:
        own = plans_of_run.get_plan(scenario.listen_notify.plan, option="listen_notify.plan")

        def limits(name: str, supabase: PlanLimits) -> PlanLimits:
            # The app's own server enforces no Supabase plan: only the limits the scenario gives it.
            return own if make_architecture(name).own_server else supabase

        jobs = [(name, [name], None, limits(name, plan_limits), "") for name in names]
        if reference and reference != plan_limits.name:
            jobs += [
                (f"{name} @ {reference}", [name], None, plans_of_run[reference], "")
                for name in names
                if not make_architecture(name).own_server
            ]
        send = "broadcast:realtime.send"
        if send in names:
            for other in cfg.compare_profiles:
                behaviour(other)  # validates the name before any work
                if other != cfg.profile:
                    jobs.append((f"{send} · {other}", [send], None, plan_limits, other))
    previous: dict[str, Any] | None = None
    for k, (label, arch_names, pct, run_plan, other_profile) in enumerate(jobs):
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

        run_as = scenario.with_overrides(scenario={"profile": other_profile}) if other_profile else scenario
        sim = run_scenario(
            run_as,
            architectures=archs,
            population=population,
            plan=run_plan,
            costs=costs,
            app=app,
            workload=workload,
            seed=cfg.seed,
            progress=sub_progress if progress is not None else None,
            rules=rules_of(run_plan),
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
                metrics={a.name: _judged(sim, a, run_as) for a in archs},
                fingerprint=sim.engine.fingerprint(),
                events=sim.engine.events,
                cohorts=len(sim.cohorts),
                rollout_percentage=pct,
                rollback=rollback,
                profile=other_profile,
            )
        )
        del sim  # one run's groups at a time: the next run starts with this one's memory freed
    backtest = None
    if scenario.backtest.measured and "postgres_changes" in names and cfg.mode == "compare":
        baseline = next(
            r for r in runs if r.plan == plan_limits.name and r.architectures == ("postgres_changes",) and not r.profile
        )
        backtest = _backtest(
            scenario, baseline.metrics["postgres_changes"], plan=plan_limits, costs=costs, app=app, plans=plans_of_run
        )
    counts: dict[str, int] = {}
    for w in scenario.writes.values():
        label = w.label or f"{w.table} {w.op}"
        counts[label if label not in counts else f"{label} ({w.name})"] = workload.count(w.name)
    claims = None
    if scenario.claims.declared:
        claims = {k: v for k, v in attrs.asdict(scenario.claims).items() if v}
    return SimulationReport(
        scenario_name=cfg.name,
        scenario_ref=_scenario_ref(scenario),
        title=cfg.title or cfg.description,
        description=cfg.description,
        mode=cfg.mode,
        seed=cfg.seed,
        plan=plan_limits,
        reference_plan=reference if reference != plan_limits.name else "",
        profile=cfg.profile,
        profile_summary=behaviour(cfg.profile).describe(),
        audience=scenario.audience,
        populations={(p.label or p.name): p.count for p in scenario.populations.values()},
        duration_s=cfg.duration_s,
        entities={(e.label or e.name): len(workload.instances[e.name]) for e in scenario.entities.values()},
        workload=counts,
        phases=tuple(attrs.asdict(p) for p in scenario.phases),
        headline=_headline(scenario, app, workload),
        claims=claims,
        payload_source=f"the contracts of {', '.join(_display_sql(p) for p in app.sources)}",
        cost_source=_display_path(costs.source),
        faults=tuple(attrs.asdict(f) for f in scenario.faults),
        rollout_transport=scenario.rollout.transport,
        runs=tuple(runs),
        backtest=backtest,
        plans_source=str(plans) if isinstance(plans, str | Path) else ("<plans mapping>" if plans else ""),
        settings=tuple(set_keys),
        sql_override=tuple(str(p) for p in sql or ()),
        realtime=rules_of(plan_limits).describe(),
        delivered_share=scenario.requirements.delivered_share,
        assumptions=_assumptions(scenario),
    )


def _realtime_rules(scenario: Scenario) -> Callable[[PlanLimits], RealtimeRules]:
    """The Realtime rules of a run: the scenario's version, else its plan's, else the newest."""
    version = scenario.scenario.realtime
    if version and version not in realtime_versions():
        raise scenario.fail(
            f'unknown Realtime version "{version}"',
            "scenario",
            "realtime",
            f"give one of {', '.join(realtime_versions())} (models/realtime/), or leave it out for the newest",
        )

    def rules(plan: PlanLimits) -> RealtimeRules:
        return load_realtime_rules(version or plan.realtime, where=f"plan {plan.name}")

    return rules


def _assumptions(scenario: Scenario) -> tuple[str, ...]:
    """The settings the run takes for Supabase's without a source that says so (docs/simulate.md)."""
    db = scenario.database
    compute = compute_of(scenario)
    out = [
        f"WAL: a forced segment switch every archive_timeout = {db.archive_timeout_s:g} s (Supabase's is 120); "
        f"checkpoints every {db.checkpoint_timeout_s:g} s and wal_sender_timeout 60 s are PostgreSQL's defaults, "
        "assumed for Supabase",
        f"database: compute {compute.name}, {compute.cores:g} cores serving every query at its calibrated cost "
        f"and {compute.pooler_max_clients:,.0f} pooler clients (Supabase's table; shared cores taken at their "
        "nominal count)",
    ]
    tracking = [name for name, population in scenario.populations.items() if population.presence]
    if tracking:
        out.append(
            f"presence: {', '.join(tracking)} track presence, which is not simulated: no presence messages are "
            "sent, counted against the plan's presence messages per second or close a channel "
            "(docs/realtime-rules.md)"
        )
    if scenario.backtest.measured and scenario.backtest.failure_plan:
        out.append(
            f"backtest: the failure point is searched on plan {scenario.backtest.failure_plan}, an assumption "
            "(the seed names no plan)"
        )
    return tuple(out)


def plan_set(scenario: Scenario, plans: str | Path | Mapping[str, Any] | None) -> PlanSet:
    """The plans a run may name: ``plans`` if given, else the scenario's ``plans`` file, beside the built-ins."""
    if plans is not None:
        return resolve_plans(plans)
    own = getattr(scenario.scenario, "plans", "")
    if not own:
        return resolve_plans(None)
    return resolve_plans(own, relative_to=Path(scenario.source).parent)


def _display_sql(path: str) -> str:
    from bcastsim._resources import builtin_sql_dir, display_path

    try:
        return "sql/" + Path(path).resolve().relative_to(builtin_sql_dir().resolve()).as_posix()
    except ValueError:
        return display_path(path)  # as near the working directory as it is, never the machine's whole path


def _headline(scenario: Scenario, app: AppModel, workload: Workload) -> str:
    """The message type the report leads with: the scenario's, else the one most writes send."""
    if scenario.scenario.headline_message:
        return scenario.scenario.headline_message
    sent: dict[str, int] = {}
    for write in workload.writes:
        for index, _topic in write.sends:
            kind = app.messages[index].kind
            sent[kind] = sent.get(kind, 0) + 1
    return max(sent, key=lambda k: sent[k]) if sent else ""


def _backtest(
    scenario: Scenario,
    baseline: dict[str, Any],
    *,
    plan: PlanLimits,
    costs: CostModel,
    app: AppModel,
    plans: PlanSet | None = None,
) -> dict[str, Any]:
    """The measured symptoms beside the simulated ones, each judged within the scenario's tolerance.

    The failure point is searched over ``backtest.audiences`` on ``backtest.failure_plan``: the smallest
    audience at which the postgres_changes poller falls ``failure_lag_s`` behind, more than
    ``failure_lost_share`` of the updates owed are lost, or more than ``failure_refused_share`` of the
    clients are refused a connection, every other parameter unchanged. The search stops at the first audience
    that fails for a connection cap (a larger one only adds refusals).
    """
    cfg = scenario.backtest
    if cfg.failure_plan and plans is not None:
        plan = plans.get_plan(cfg.failure_plan, option="backtest.failure_plan")
    # The search judges the plan's limits by the same Realtime rules as the scenario's own runs.
    rules = _realtime_rules(scenario)(plan)
    lags: list[dict[str, Any]] = []
    fails_at: float | None = None
    for audience in cfg.audiences:
        sized = scenario.with_clients(audience)
        workload = build_workload(sized, app, RandomTree(sized.scenario.seed).stream("workload"))
        arch = make_architecture("postgres_changes")

        def only(identity: str, index: int, arch: Architecture = arch) -> Architecture:
            return arch

        sim = run_scenario(
            sized,
            architectures=[arch],
            population=only,
            plan=plan,
            costs=costs,
            app=app,
            workload=workload,
            seed=sized.scenario.seed,
            rules=rules,
        )
        m = sim.metrics["postgres_changes"]
        lag_s = m.peak_lag_ms / 1000.0
        # One per client and (re)connection the service refused: those that got in later, and those still out.
        refused = m.failed_episodes + sum(c.n for c in sim.cohorts if c.episode_failed)
        clients = max(1, m.clients)
        lost_share = m.updates_lost / m.updates_owed if m.updates_owed else 0.0
        reasons = []
        if lag_s > cfg.failure_lag_s:
            reasons.append("lag")
        if refused / clients > cfg.failure_refused_share:
            reasons.append("refused")
        if lost_share > cfg.failure_lost_share:
            reasons.append("lost")
        lags.append(
            {
                "audience": audience,
                "clients": m.clients,
                "peak_lag_s": round(lag_s, 3),
                "refused": refused,
                "connections_refused": m.violations["connections_refused"],
                "lost_share": round(lost_share, 6),
                "dropped_over_message_rate": m.violations["deliveries_dropped_over_message_rate"],
                "fails": reasons,
            }
        )
        if fails_at is None and reasons:
            fails_at = audience
            if "refused" in reasons:
                break
    spikes = baseline["wal_spikes"]
    close = baseline["latency_at_critical_ms"]["p95"]
    simulated = {
        "list_changes_calls": baseline["database"]["queries"]["list_changes_polls"],
        "wal_spike_bytes": spikes["height_bytes"],
        "wal_spike_period_s": spikes["period_s"],
        "bid_delay_at_close_s": None if close is None else close / 1000.0,
        "fails_at_users": fails_at,
    }
    symptoms = []
    for name, value in simulated.items():
        measured = getattr(cfg, name)
        if not measured:
            continue
        ratio = None if value is None or value == 0 else value / measured
        symptoms.append(
            {
                "symptom": name,
                "measured": measured,
                "simulated": value,
                "ratio": None if ratio is None else round(ratio, 3),
                "reproduced": ratio is not None and 1 / cfg.tolerance <= ratio <= cfg.tolerance,
            }
        )
    return {
        "tolerance": cfg.tolerance,
        "failure_lag_s": cfg.failure_lag_s,
        "failure_lost_share": cfg.failure_lost_share,
        "failure_refused_share": cfg.failure_refused_share,
        "failure_plan": plan.name,
        "connections_cap": None if plan.connections == float("inf") else plan.connections,
        "symptoms": symptoms,
        "failure_search": lags,
        "figures": _backtest_figures(scenario, baseline, costs, app),
    }


def _backtest_figures(
    scenario: Scenario, baseline: dict[str, Any], costs: CostModel, app: AppModel
) -> dict[str, float]:
    """The quantities the report's explanations quote, from the same scenario, costs and run."""
    pc = scenario.postgres_changes
    duration_s = scenario.scenario.duration_s
    main = scenario.populations[scenario.main_population]
    tables = {table for population in scenario.populations.values() for table in population.pc_tables}
    # Every other population that listens adds its clients to every table's listeners (the seed's admins).
    others = sum(p.count for p in scenario.populations.values() if p is not main and p.pc_tables)

    def changes(audience: int) -> list[float]:
        sized = scenario.with_clients(audience)
        workload = build_workload(sized, app, RandomTree(sized.scenario.seed).stream("workload"))
        return [w.time_ms for w in workload.writes if w.table in tables]

    def busiest_minute(times: list[float]) -> float:
        most, start = 0, 0
        for end, t in enumerate(times):
            while times[start] < t - 60_000.0:
                start += 1
            most = max(most, end - start + 1)
        return most / 60.0

    times = changes(scenario.audience)
    listeners = scenario.audience + others  # one per user and table

    def per_change(n: float) -> float:
        rls = costs.rls_change_ms + costs.auth_read_ms * n + costs.auth_pair_ms * n * n if pc.rls else 0.0
        return rls + costs.change_decode_ms

    at_failure = per_change(scenario.backtest.fails_at_users + others)
    wal_per_s = scenario.database.background_wal_bytes_per_s + len(times) * costs.wal_bytes_per_write / duration_s
    calls = baseline["database"]["queries"]["list_changes_polls"]
    return {
        "duration_h": duration_s / 3600.0,
        "idle_calls_per_s": 1000.0 / (pc.poll_interval_ms + costs.poll_base_ms),
        "calls_per_s": calls / duration_s,
        "changes": len(times),
        "busiest_minute_changes_per_s": busiest_minute(times),
        "busiest_minute_at_measured_failure": busiest_minute(changes(int(scenario.backtest.fails_at_users))),
        "poll_interval_ms": pc.poll_interval_ms,
        "listeners_per_table": listeners,
        "ms_per_change": per_change(listeners),
        "ms_per_change_at_measured_failure": at_failure,
        "capacity_at_measured_failure": 1000.0 / at_failure,
        "largest_audience_searched": max(scenario.backtest.audiences, default=0),
        "wal_bytes_per_s": wal_per_s,
        "archive_timeout_s": scenario.database.archive_timeout_s,
        "peak_poller_lag_s": baseline["peak_poller_lag_ms"] / 1000.0,
    }
