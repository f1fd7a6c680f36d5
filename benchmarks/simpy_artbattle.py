"""The Art Battle scenario written the usual SimPy way, as a speed baseline for ``bcastsim.sim``.

One SimPy process per client with an inbox (``simpy.Store``); the database writes, the
postgres_changes poller and the broadcast fan-out are processes too, and every delivery is one
``put``/``get`` pair. Same workload, same poller rules, same costs as the bcastsim model, without
plan limits and faults (compare with ``bcastsim simulate --plan unlimited`` on a fault-free scenario).
Benchmark-only: SimPy is not a dependency of bcastsim.
"""

from __future__ import annotations

import math
import random
from typing import Any

import simpy

from bcastsim.sim import RandomTree, Scenario, app_model, build_workload, load_costs
from bcastsim.sim._workload import follow_topics

__all__ = ["run_simpy"]


class _Client:
    def __init__(self, env: simpy.Environment, index: int, arrival_ms: float, topics: list[str]) -> None:
        self.env = env
        self.index = index
        self.inbox: simpy.Store = simpy.Store(env)
        self.topics = topics
        self.arrival_ms = arrival_ms
        self.received = 0
        self.latencies: list[float] = []


def run_simpy(scenario: Scenario, arch: str, seed: int) -> dict[str, Any]:
    """Simulate ``arch`` ("postgres_changes" or "broadcast:realtime.send"); deliveries and latencies."""
    env = simpy.Environment()
    costs = load_costs()
    app = app_model(scenario)
    tree = RandomTree(seed)
    workload = build_workload(scenario, app, tree.stream("workload"))
    net = random.Random(tree.stream("network").random())
    mu = math.log(scenario.network.median_ms)
    sigma = scenario.network.sigma
    follows = {
        name: [follow_topics(scenario, app, workload.instances, f, name, rule=n) for n, f in enumerate(pop.follow)]
        for name, pop in scenario.populations.items()
    }
    pc_tables = {t for pop in scenario.populations.values() for t in pop.pc_tables}

    def topics_for(population: str, created_ms: float = 0.0) -> list[str]:
        if arch == "postgres_changes":
            return [f"pc:{t}" for t in scenario.populations[population].pc_tables] if created_ms == 0.0 else []
        out = []
        for follow in follows[population]:
            if not follow.entity:
                if created_ms == 0.0:
                    out.append(follow.topic(0))
                continue
            out.extend(follow.topic(i.index) for i in workload.instances[follow.entity] if i.appear_ms == created_ms)
        return out

    subscribers: dict[str, list[_Client]] = {}
    clients: list[_Client] = []
    roles: list[str] = []
    for name, pop in scenario.populations.items():
        waves = max(1, pop.waves)
        for i in range(pop.count):
            arrival = (pop.arrive_s + pop.ramp_s * (i % waves) / waves) * 1000.0
            clients.append(_Client(env, len(clients), arrival, topics_for(name)))
            roles.append(name)

    def client_process(client: _Client) -> Any:
        yield env.timeout(client.arrival_ms + scenario.network.join_rtt_ms)
        for topic in client.topics:
            subscribers.setdefault(topic, []).append(client)
        while True:
            commit_ms, _msg = yield client.inbox.get()
            client.received += 1
            client.latencies.append(env.now - commit_ms)

    def deliver(topic: str, commit_ms: float, msg: object) -> None:
        for client in subscribers.get(topic, ()):
            client.inbox.put((commit_ms - net.lognormvariate(mu, sigma), msg))

    changes: list[tuple[float, str]] = []
    wake = env.event()

    def writer() -> Any:
        nonlocal wake
        for write in workload.writes:
            yield env.timeout(max(0.0, write.time_ms - env.now))
            if arch == "postgres_changes":
                if write.table in pc_tables:
                    changes.append((write.time_ms, write.table))
            else:
                for _index, topic in write.sends:
                    env.process(broadcast(topic, write.time_ms))

    def broadcast(topic: str, commit_ms: float) -> Any:
        yield env.timeout(scenario.broadcast.replication_ms)
        deliver(topic, commit_ms, topic)

    def poller() -> Any:
        pc = scenario.postgres_changes
        head = 0
        empty = 0
        while True:
            batch = changes[head : head + pc.max_changes_per_poll]
            head += len(batch)
            auth = sum(len(subscribers.get(f"pc:{table}", ())) for _t, table in batch)
            duration = costs.poll_base_ms + len(batch) * costs.change_decode_ms + auth * costs.auth_read_ms
            yield env.timeout(duration)
            for commit_ms, table in batch:
                deliver(f"pc:{table}", commit_ms, table)
            if batch:
                empty = 0
                continue
            empty += 1
            yield env.timeout(pc.poll_interval_ms * min(2.0 ** min(empty - 1, 16), pc.idle_backoff_factor))

    def appear(created_ms: float) -> Any:
        # Instances appear (the final round's canvases): every page subscribes to their topics.
        yield env.timeout(created_ms + scenario.network.join_rtt_ms)
        for client, role in zip(clients, roles, strict=True):
            if client.arrival_ms <= created_ms:
                for topic in topics_for(role, created_ms):
                    subscribers.setdefault(topic, []).append(client)

    late = sorted({i.appear_ms for items in workload.instances.values() for i in items if i.appear_ms > 0.0})
    for created in late:
        env.process(appear(created))
    for client in clients:
        env.process(client_process(client))
    env.process(writer())
    if arch == "postgres_changes":
        env.process(poller())
    env.run(until=scenario.scenario.duration_s * 1000.0)
    del wake
    deliveries = sum(c.received for c in clients)
    latencies = sorted(x for c in clients for x in c.latencies)
    p99 = latencies[int(0.99 * (len(latencies) - 1))] if latencies else None
    return {"deliveries": deliveries, "latency_p99_ms": p99}
