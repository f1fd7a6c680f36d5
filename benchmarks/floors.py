"""The floors a simulation run is measured against: the same fan-out with nothing else around it.

One run of one kind, in its own process (``benchmarks/_measure.py`` runs these interleaved):

    python benchmarks/floors.py KIND [--scenario NAME_OR_TOML] [--clients N]

KIND is one of
- ``bcastsim``: ``simulate`` of the scenario, broadcast over realtime.send, plan unlimited, no faults;
- ``heapq-group``: a bare ``heapq`` loop over the same messages, one latency draw and one counter
  per subscribed client group (the grouping bcastsim uses: same population, arrival wave and topics);
- ``heapq-client``: the same loop with one draw per subscribed client;
- ``simpy-group``: SimPy, one process and one ``Store`` per client group, one ``put``/``get`` per group;
- ``simpy-client``: SimPy the usual way, one process and one ``Store`` per client.

Every kind prints one JSON line: ``deliveries`` (client deliveries, a group counting its clients),
``core_cpu_s`` (CPU of the run itself, after imports and set-up) and ``groups``. The floors model
the fan-out only: no plan limits, no faults, no reconnects, no checker, so they bound from below
what any engine doing the same deliveries must spend.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import attrs

from bcastsim.sim import RandomTree, Scenario, app_model, build_workload, load_scenario, simulate
from bcastsim.sim._workload import follow_topics

__all__ = ["FanOut", "fan_out"]

ARCH = "broadcast:realtime.send"


@dataclass(frozen=True)
class Group:
    n: int
    arrival_ms: float
    topics: tuple[str, ...]  # subscribed from arrival
    late: tuple[tuple[float, str], ...]  # (appear_ms, topic): entities that appear during the event


@dataclass(frozen=True)
class FanOut:
    groups: tuple[Group, ...]
    messages: tuple[tuple[float, str], ...]  # (time the message reaches Realtime, topic), in time order
    mu: float
    sigma: float
    seed: int


def _chosen(entities: str, items: list[Any], client: int, sample: int, ids: tuple[int, ...]) -> list[Any]:
    if entities == "all":
        return items
    if entities == "own":
        return [items[client]] if client < len(items) else []
    if entities == "list":
        return [items[k] for k in ids]
    start = client % max(1, len(items))
    return [items[(start + k) % len(items)] for k in range(min(sample, len(items)))]


def fan_out(scenario: Scenario, seed: int = 1) -> FanOut:
    """Who receives which message: the scenario's workload and follow rules, clients grouped as bcastsim groups them."""
    app = app_model(scenario)
    tree = RandomTree(seed)
    workload = build_workload(scenario, app, tree.stream("workload"))
    groups: dict[tuple[str, int, tuple[str, ...], tuple[tuple[float, str], ...]], int] = {}
    arrivals: dict[tuple[str, int], float] = {}
    for name, pop in scenario.populations.items():
        follows = [
            (follow_topics(scenario, app, workload.instances, f, name, rule=n), f) for n, f in enumerate(pop.follow)
        ]
        waves = max(1, pop.waves)
        for client in range(pop.count):
            wave = client % waves
            arrivals[(name, wave)] = (pop.arrive_s + pop.ramp_s * wave / waves) * 1000.0
            now: list[str] = []
            late: list[tuple[float, str]] = []
            for followed, rule in follows:
                if not followed.entity:
                    now.append(followed.topic(0))
                    continue
                items = list(workload.instances[followed.entity])
                for item in _chosen(rule.entities, items, client, rule.sample, rule.ids):
                    if item.appear_ms > 0.0:
                        late.append((item.appear_ms, followed.topic(item.index)))
                    else:
                        now.append(followed.topic(item.index))
            key = (name, wave, tuple(dict.fromkeys(now)), tuple(sorted(set(late))))
            groups[key] = groups.get(key, 0) + 1
    replication = scenario.broadcast.replication_ms
    messages = tuple(sorted((w.time_ms + replication, topic) for w in workload.writes for _index, topic in w.sends))
    return FanOut(
        groups=tuple(Group(n, arrivals[(name, wave)], now, late) for (name, wave, now, late), n in groups.items()),
        messages=messages,
        mu=math.log(max(scenario.network.median_ms, 1e-3)),
        sigma=scenario.network.sigma,
        seed=seed,
    )


def _subscriptions(plan: FanOut, per_client: bool) -> list[tuple[float, str, int]]:
    """(from, topic, clients) for every subscription, one per group or one per client."""
    out = []
    for group in plan.groups:
        units = [1] * group.n if per_client else [group.n]
        for n in units:
            out.extend((group.arrival_ms, topic, n) for topic in group.topics)
            out.extend((max(at, group.arrival_ms), topic, n) for at, topic in group.late)
    return out


def heapq_floor(plan: FanOut, per_client: bool) -> int:
    """Subscriptions and messages as events of one heap; each delivery is a latency draw and a counter."""
    rng = random.Random(plan.seed)
    events: list[tuple[float, int, int, Any]] = []
    seq = 0
    for at, topic, n in _subscriptions(plan, per_client):
        events.append((at, 0, seq, (topic, n)))
        seq += 1
    for at, topic in plan.messages:
        events.append((at, 1, seq, topic))
        seq += 1
    heapq.heapify(events)
    subscribers: dict[str, list[list[float]]] = {}
    deliveries = 0
    draw = rng.lognormvariate
    mu, sigma = plan.mu, plan.sigma
    while events:
        _at, kind, _seq, what = heapq.heappop(events)
        if kind == 0:
            topic, n = what
            subscribers.setdefault(topic, []).append([n, 0.0, 0.0])
            continue
        for sub in subscribers.get(what, ()):
            sub[1] += sub[0]
            sub[2] += draw(mu, sigma)
            deliveries += int(sub[0])
    return deliveries


def simpy_floor(plan: FanOut, per_client: bool) -> int:
    """SimPy with one process and one inbox per subscriber unit (a group or a client)."""
    import simpy

    env = simpy.Environment()
    rng = random.Random(plan.seed)
    subscribers: dict[str, list[Any]] = {}
    totals = [0]

    def unit(inbox: simpy.Store, n: int) -> Any:
        while True:
            yield inbox.get()
            totals[0] += n

    def subscribe(at: float, topic: str, inbox: simpy.Store) -> Any:
        yield env.timeout(at)
        subscribers.setdefault(topic, []).append(inbox)

    def sender() -> Any:
        for at, topic in plan.messages:
            yield env.timeout(max(0.0, at - env.now))
            for inbox in subscribers.get(topic, ()):
                inbox.put(rng.lognormvariate(plan.mu, plan.sigma))

    for at, topic, n in _subscriptions(plan, per_client):
        inbox = simpy.Store(env)
        env.process(unit(inbox, n))
        env.process(subscribe(at, topic, inbox))
    env.process(sender())
    env.run()
    return totals[0]


def _bcastsim(scenario: Scenario) -> int:
    report = simulate(scenario=scenario, architectures=[ARCH], reference_plan="", plan="unlimited", compare_profiles=())
    return sum(run.metrics[a]["messages_sent"] for run in report.runs for a in run.architectures)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["bcastsim", "heapq-group", "heapq-client", "simpy-group", "simpy-client"])
    parser.add_argument("--scenario", default="artbattle")
    parser.add_argument("--clients", type=int, default=0)
    args = parser.parse_args()
    scenario = attrs.evolve(load_scenario(args.scenario), faults=())
    if args.clients:
        scenario = scenario.with_clients(args.clients)
    # The floors get their fan-out ready-made (outside the timed part); bcastsim's figure includes reading
    # the SQL and building the workload, a few hundredths of a second.
    plan = fan_out(scenario) if args.kind != "bcastsim" else None
    runners: dict[str, Callable[[], int]] = {
        "bcastsim": lambda: _bcastsim(scenario),
        "heapq-group": lambda: heapq_floor(plan, per_client=False),  # type: ignore[arg-type]
        "heapq-client": lambda: heapq_floor(plan, per_client=True),  # type: ignore[arg-type]
        "simpy-group": lambda: simpy_floor(plan, per_client=False),  # type: ignore[arg-type]
        "simpy-client": lambda: simpy_floor(plan, per_client=True),  # type: ignore[arg-type]
    }
    start = time.process_time()
    deliveries = runners[args.kind]()
    core = time.process_time() - start
    groups = len(plan.groups) if plan is not None else None
    print(json.dumps({"deliveries": deliveries, "core_cpu_s": round(core, 4), "groups": groups}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
