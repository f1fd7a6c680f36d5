"""The database as a machine with a capacity: its cores serve the queries, the rest wait, too many fail.

Every query the simulation charges (business writes, trigger work, the postgres_changes poller's
``list_changes`` and ``apply_rls``, page renders, client reactions, refetches) is work in milliseconds of
one core, at the cost ``bcastsim calibrate`` measured. The compute size (``[database] compute``,
``models/compute.toml``, from Supabase's Compute Add-ons page) gives the cores and the connection limits.

Work is served as a fluid, one-second bucket at a time: each second the cores serve ``cores × 1000`` ms
of it and the rest waits (a backlog), so a query arriving now waits ``backlog / cores`` ms. While
queries wait, ``rate × wait`` of them are in the pooler at once (Little's law); beyond the pooler's
``pooler_max_clients`` the excess is refused. Saturation therefore shows as lag (the poller's calls
wait like any other query) and as failed requests, never as nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from bcastsim._errors import InputError
from bcastsim._resources import builtin_models_dir
from bcastsim._toml import Range, check_number, line_of, read_toml

if TYPE_CHECKING:
    from bcastsim.sim._scenario import Scenario

__all__ = ["Compute", "Database", "compute_of", "load_compute"]

_BUCKET_MS = 1000.0


@attrs.frozen
class Compute:
    """One compute size: cores, and the database's and the pooler's connection limits."""

    name: str
    cores: float
    max_connections: float
    pooler_max_clients: float


def load_compute(path: Path | None = None) -> dict[str, Compute]:
    """Compute sizes by lower-case name from ``models/compute.toml``."""
    path = path if path is not None else builtin_models_dir() / "compute.toml"
    text, data = read_toml(path, "compute sizes")
    out: dict[str, Compute] = {}
    for name, table in data.items():
        if not isinstance(table, dict):
            raise InputError(f"[{name}] must be a table", path=path, line=line_of(text, None, name), fix="see docs")
        values = {}
        for key in ("cores", "max_connections", "pooler_max_clients"):
            value = table.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError(
                    f"[{name}] {key} must be a number", path=path, line=line_of(text, name, key), fix=f"{key} = 2"
                )
            check_number(value, f"{name}.{key}", Range(1, 1_000_000), path=path, line=line_of(text, name, key))
            values[key] = float(value)
        out[name.lower()] = Compute(name=name.lower(), **values)
    return out


def compute_of(scenario: Scenario) -> Compute:
    """The scenario's ``[database] compute`` size; an unknown name is an input error naming the choices."""
    sizes = load_compute()
    name = scenario.database.compute.lower()
    if name not in sizes:
        raise scenario.fail(
            f'unknown compute size "{scenario.database.compute}"',
            "database",
            "compute",
            "use one of: " + ", ".join(sizes),
        )
    return sizes[name]


class Database:
    """Queries charged over time against ``compute``'s cores; the wait they meet and the ones refused."""

    def __init__(self, compute: Compute) -> None:
        self.compute = compute
        self.capacity_ms = compute.cores * _BUCKET_MS  # core-milliseconds per bucket
        self.bucket = 0
        # Below this time a charge is inside the current bucket and rolls nothing (a margin under its end keeps
        # the test exact whatever the floor division does at the boundary; _roll itself decides there).
        self._roll_from = _BUCKET_MS - 1.0
        self.backlog_ms = 0.0  # work still waiting at the start of the current bucket
        self.work_ms = 0.0  # work arrived in the current bucket
        self.queries = 0.0  # queries arrived in the current bucket
        self.peak_delay_ms = 0.0
        self.peak_utilisation = 0.0
        self.busy_seconds = 0  # seconds in which the work offered exceeded what the cores serve
        self.failed = 0.0
        self.total_queries = 0.0
        self.total_work_ms = 0.0
        self.utilisation: list[tuple[float, float]] = []  # (second, work offered / capacity) while above 0.5

    def _roll(self, now_ms: float) -> None:
        bucket = int(now_ms // _BUCKET_MS)
        while self.bucket < bucket:
            offered = self.backlog_ms + self.work_ms
            share = self.work_ms / self.capacity_ms
            self.peak_utilisation = max(self.peak_utilisation, share)
            if share > 0.5:
                self.utilisation.append((float(self.bucket), round(share, 4)))
            if offered > self.capacity_ms:
                self.busy_seconds += 1
            delay = max(0.0, offered - self.capacity_ms) / self.compute.cores
            self.peak_delay_ms = max(self.peak_delay_ms, delay)
            if delay > 0 and self.queries:
                # Little's law: the queries of this second waiting at once; beyond the pooler's clients, refused.
                waiting = self.queries * delay / _BUCKET_MS
                if waiting > self.compute.pooler_max_clients:
                    refused = self.queries * (1.0 - self.compute.pooler_max_clients / waiting)
                    self.failed += refused
                    offered -= refused * (self.work_ms / self.queries)
            self.backlog_ms = max(0.0, offered - self.capacity_ms)
            self.work_ms = 0.0
            self.queries = 0.0
            self.bucket += 1
            if self.backlog_ms == 0.0 and bucket > self.bucket:
                self.bucket = bucket  # idle seconds change nothing
        self._roll_from = self.bucket * _BUCKET_MS + (_BUCKET_MS - 1.0)

    def charge(self, now_ms: float, count: float, ms_each: float) -> None:
        """``count`` queries of ``ms_each`` core-milliseconds arrive at ``now_ms``."""
        if count <= 0:
            return
        if now_ms >= self._roll_from:
            self._roll(now_ms)
        work = count * ms_each
        self.work_ms += work
        self.queries += count
        self.total_queries += count
        self.total_work_ms += work

    def charge_write(  # noqa: PLR0917 - a write's charges in the order they are made
        self, now_ms: float, insert_ms: float | None, lookups: float, lookup_ms: float, sends: int, send_ms: float
    ) -> None:
        """``charge(now_ms, 1, insert_ms)`` unless None, ``charge(now_ms, lookups, lookup_ms)``, then
        ``charge(now_ms, 1, send_ms)`` ``sends`` times: a write's charges, added in that order in one call (the
        same sums)."""
        if insert_ms is None and lookups <= 0 and sends <= 0:
            return
        if now_ms >= self._roll_from:
            self._roll(now_ms)
        work, queries, total_queries, total_work = self.work_ms, self.queries, self.total_queries, self.total_work_ms
        if insert_ms is not None:
            work += insert_ms  # 1 * insert_ms
            queries += 1
            total_queries += 1
            total_work += insert_ms
        if lookups > 0:
            each = lookups * lookup_ms
            work += each
            queries += lookups
            total_queries += lookups
            total_work += each
        for _ in range(sends):
            work += send_ms  # 1 * send_ms
            queries += 1
            total_queries += 1
            total_work += send_ms
        self.work_ms, self.queries, self.total_queries, self.total_work_ms = work, queries, total_queries, total_work

    def delay_ms(self, now_ms: float) -> float:
        """How long a query arriving at ``now_ms`` waits for a core."""
        self._roll(now_ms)
        served = self.capacity_ms * (now_ms / _BUCKET_MS - self.bucket)
        delay = max(0.0, self.backlog_ms + self.work_ms - served) / self.compute.cores
        self.peak_delay_ms = max(self.peak_delay_ms, delay)
        return delay

    def finish(self, end_ms: float) -> None:
        self._roll(end_ms + _BUCKET_MS)

    def to_json(self) -> dict[str, object]:
        return {
            "compute": self.compute.name,
            "cores": self.compute.cores,
            "pooler_max_clients": self.compute.pooler_max_clients,
            "queries": round(self.total_queries, 1),
            "work_ms": round(self.total_work_ms, 1),
            "peak_utilisation": round(self.peak_utilisation, 4),
            "seconds_over_capacity": self.busy_seconds,
            "peak_queue_delay_ms": round(self.peak_delay_ms, 1),
            "failed_requests": round(self.failed, 1),
        }
