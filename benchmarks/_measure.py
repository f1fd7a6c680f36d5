"""Interleaved measurements of whole processes: CPU (user + sys of the process tree), wall and peak memory.

A shared, loaded machine makes one wall-clock figure meaningless. Each candidate runs as its own
process, candidates take turns (run 1 of every candidate, then run 2, …) so that a burst of load
falls on all of them alike, and each figure is the minimum and the median of its runs. CPU is what
``wait4`` reports for the process, which includes every descendant it reaped (node, PostgreSQL's
client tools); wall is the monotonic clock around the process; memory is the peak resident set.

A candidate may also print one JSON object as its last line of output; its keys (for example
``deliveries`` or the ``core_cpu_s`` of the measured phase alone, without start-up) are kept with
the run, so that a table can set the work done beside what it cost.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Candidate", "Run", "Summary", "interleave", "print_table", "python_candidate"]

BENCHMARKS = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Candidate:
    """One command to measure; ``floor`` names the candidate its ratio is taken against."""

    label: str
    argv: Sequence[str]
    floor: str = ""
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    cpu_s: float
    wall_s: float
    max_rss_mib: float
    extra: Mapping[str, object]


@dataclass(frozen=True)
class Summary:
    candidate: Candidate
    runs: tuple[Run, ...]

    def cpu(self, how: str = "min") -> float:
        return _pick([r.cpu_s for r in self.runs], how)

    def wall(self, how: str = "min") -> float:
        return _pick([r.wall_s for r in self.runs], how)

    def core(self, how: str = "min") -> float | None:
        values = [float(r.extra["core_cpu_s"]) for r in self.runs if "core_cpu_s" in r.extra]  # type: ignore[arg-type]
        return _pick(values, how) if values else None

    @property
    def max_rss_mib(self) -> float:
        return max(r.max_rss_mib for r in self.runs)

    def extra(self, key: str) -> object:
        return self.runs[-1].extra.get(key)


def _pick(values: list[float], how: str) -> float:
    return min(values) if how == "min" else statistics.median(values)


def python_candidate(label: str, script: str, *args: str, floor: str = "") -> Candidate:
    """A benchmark script of this folder run by the interpreter that runs the harness."""
    return Candidate(label, [sys.executable, str(BENCHMARKS / script), *args], floor=floor)


def _run_once(candidate: Candidate) -> Run:
    env = {**os.environ, **candidate.env}
    with tempfile.TemporaryFile("w+") as out_file, tempfile.TemporaryFile("w+") as err_file:
        start = time.perf_counter()
        proc = subprocess.Popen(candidate.argv, stdout=out_file, stderr=err_file, env=env, text=True)
        # wait4 rather than wait(): it returns the exit status and the tree's resource usage together.
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{candidate.label}: exit {proc.returncode}\n{err.strip()[-2000:]}")
    extra: dict[str, object] = {}
    lines = [line for line in out.splitlines() if line.strip()]
    if lines and lines[-1].lstrip().startswith("{"):
        extra = json.loads(lines[-1])
    # Linux reports ru_maxrss in KiB.
    return Run(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024.0, extra)


def interleave(candidates: Sequence[Candidate], runs: int = 3, *, progress: bool = True) -> list[Summary]:
    """Run every candidate ``runs`` times, taking turns; a summary per candidate in the given order."""
    collected: dict[str, list[Run]] = {c.label: [] for c in candidates}
    for round_ in range(runs):
        for candidate in candidates:
            if progress:
                print(f"   … run {round_ + 1}/{runs}: {candidate.label}", file=sys.stderr, flush=True)
            collected[candidate.label].append(_run_once(candidate))
    return [Summary(c, tuple(collected[c.label])) for c in candidates]


def print_table(summaries: Sequence[Summary], *, per: str = "", per_unit: str = "") -> None:
    """CPU and wall (min / median), peak memory, the measured phase alone, and the ratio to each floor."""
    by_label = {s.candidate.label: s for s in summaries}
    head = f"   {'candidate':<40} {'CPU min':>8} {'CPU med':>8} {'wall min':>8} {'wall med':>8} {'MiB':>7}"
    head += f" {'core CPU':>9} {'vs floor':>22}"
    if per:
        head += f" {per_unit:>12}"
    print(head)
    for s in summaries:
        core = s.core()
        line = (
            f"   {s.candidate.label:<40} {s.cpu():8.2f} {s.cpu('median'):8.2f} {s.wall():8.2f}"
            f" {s.wall('median'):8.2f} {s.max_rss_mib:7.0f} {'' if core is None else f'{core:9.2f}':>9}"
        )
        floor = by_label.get(s.candidate.floor)
        ratio = ""
        if floor is not None:
            floor_core = floor.core()
            mine, theirs = (core, floor_core) if core is not None and floor_core is not None else (s.cpu(), floor.cpu())
            ratio = f"{mine / theirs:6.2f}× {s.candidate.floor}" if theirs else ""
        line += f" {ratio:>22}"
        if per:
            amount = s.extra(per)
            if isinstance(amount, int | float) and amount:
                basis = core if core is not None else s.cpu()
                line += f" {1e9 * basis / float(amount):12.1f}"
        print(line)
