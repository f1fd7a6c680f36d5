"""The postgres_changes poller reads the WAL again from its slot's restart point, and the slot retains it from there."""

from __future__ import annotations

import pytest

from _sim_support import one_topic_world
from bcastsim.sim._architectures import PostgresChanges
from bcastsim.sim._sim import Simulation


def idle_poller(duration_s: float = 60.0) -> tuple[PostgresChanges, Simulation, float, float]:
    """The poller of an event without writes, its run, its background WAL in bytes/s, and its read cost per MB."""
    sim = one_topic_world(arch="postgres_changes", audience=5, writes=[], duration_s=duration_s)
    arch = sim.architectures[0]
    assert isinstance(arch, PostgresChanges)
    return arch, sim, sim.scenario.database.background_wal_bytes_per_s, sim.costs.wal_read_ms_per_mb


def test_every_poll_reads_again_the_wal_since_the_restart_point() -> None:
    """An empty poll costs the read of every byte since the last running-transactions record it confirmed past."""
    arch, sim, rate, per_mb = idle_poller()
    base = sim.costs.poll_base_ms
    before = [d for t, rows, d in arch.poll_log if 14_000.0 <= t < 15_000.0 and rows == 0]
    (confirming, _), (t, after), *_ = [(t, d) for t, rows, d in arch.poll_log if t >= 15_000.0 and rows == 0]
    assert before

    def read_ms(seconds: float) -> float:
        return seconds * rate / 1e6 * per_mb

    # Within one (backed-off, 500 ms) poll interval before the record at 15 s the slot reads ~15 s of WAL
    # again. The first poll after the record still reads from the restart point before it (confirming past the
    # record is what moves it); the next one reads only the WAL since the record, well under a second's.
    assert max(before) - base == pytest.approx(read_ms(15.0), rel=0.035)
    assert t - confirming < 1_000.0
    assert after - base == pytest.approx(read_ms((t - 15_000.0) / 1000), rel=1e-6)
    assert after - base < read_ms(1.0)


def test_retained_wal_counts_from_the_restart_point() -> None:
    """An idle slot retains up to one running-transactions interval of WAL, then falls back."""
    _arch, sim, rate, _ = idle_poller()
    peak = sim.metrics["postgres_changes"].peak_retained_wal_bytes
    assert 14.5 * rate <= peak <= 15.5 * rate
    records = sim.wal.records
    assert records == sorted(records)
    assert len(records) == 1 + 60 // 15
