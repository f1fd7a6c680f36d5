"""WAL as PostgreSQL writes it: archive_timeout segment switches, running-transactions records, logical slots."""

from __future__ import annotations

import pytest

from _sim_support import one_topic_world
from bcastsim.sim._engine import Engine
from bcastsim.sim._wal import RUNNING_XACTS_MS, SEGMENT_BYTES, Wal

RATE = 20_000.0  # bytes of background WAL per second


def idle_wal(archive_s: float, until_s: float, *, confirm_every_ms: float = 100.0) -> tuple[Wal, Engine]:
    """A database writing only background WAL, one slot whose reader confirms the insert position often."""
    engine = Engine()
    wal = Wal(background_bytes_per_s=RATE, archive_timeout_s=archive_s, checkpoint_timeout_s=300.0)
    wal.start(engine.at)
    slot = wal.open_slot("poller", 0.0)

    def reader() -> None:
        slot.confirm(wal.position(engine.now), engine.now)
        engine.at(engine.now + confirm_every_ms, reader, priority=7)

    engine.at(0.0, reader, priority=7)
    engine.run(until_s * 1000.0)
    return wal, engine


def test_archive_timeout_pads_the_segment_written_since_the_last_switch() -> None:
    """Each forced switch skips one segment minus what was written since the previous switch."""
    wal, _ = idle_wal(120.0, 600.0)
    assert [t for t, _ in wal.switches] == [120_000.0, 240_000.0, 360_000.0, 480_000.0, 600_000.0]
    first = SEGMENT_BYTES - 120 * RATE
    assert wal.switches[0][1] == pytest.approx(first)
    # After a switch the position is at a segment start, so the next pad is a segment minus 120 s of WAL again.
    assert all(pad == pytest.approx(SEGMENT_BYTES - 120 * RATE) for _, pad in wal.switches[1:])


def test_a_slot_retains_the_padded_segment_until_its_next_running_xacts_record() -> None:
    """The retained WAL jumps by about a segment at every switch and falls back at the next record confirmed."""
    wal, _ = idle_wal(120.0, 600.0)
    slot = wal.slots[0]
    spikes = [(t, v) for t, v in slot.log if v > SEGMENT_BYTES / 2]
    assert spikes
    jump = SEGMENT_BYTES - 120 * RATE
    assert slot.peak_bytes == pytest.approx(jump + RUNNING_XACTS_MS / 1000.0 * RATE, rel=0.02)
    # Each spike lasts no longer than one running-transactions interval.
    for switch_ms, _ in wal.switches[:-1]:
        after = [t for t, v in slot.log if switch_ms <= t <= switch_ms + 2 * RUNNING_XACTS_MS and v < RATE * 20]
        assert after, f"the spike at {switch_ms} ms never fell back"


def test_without_archive_timeout_a_slot_retains_at_most_a_record_interval() -> None:
    """archive_timeout = 0: no switch, the retained WAL stays within one 15 s record interval."""
    wal, _ = idle_wal(0.0, 600.0)
    assert wal.switches == []
    assert wal.slots[0].peak_bytes <= (RUNNING_XACTS_MS / 1000.0 + 0.2) * RATE


def test_the_poller_and_the_broadcast_slot_both_see_the_spikes() -> None:
    """postgres_changes' poller and realtime.send's replication connection each hold a slot and retain a segment."""
    for arch in ("postgres_changes", "broadcast:realtime.send"):
        sim = one_topic_world(arch=arch, audience=5, writes=[(1_000.0, "bid")], duration_s=400.0)
        metrics = sim.metrics[arch]
        assert len(metrics.slots) == 1
        spikes = metrics.wal_spikes()
        assert spikes["count"] == 3
        assert spikes["period_s"] == pytest.approx(120.0, abs=0.1)
        assert spikes["height_bytes"] == pytest.approx(SEGMENT_BYTES - 120 * RATE, rel=0.05)


def test_pg_notify_and_listen_notify_hold_no_slot() -> None:
    """Nothing streams the WAL for pg_notify or LISTEN/NOTIFY: no slot, nothing retained."""
    for arch in ("broadcast:pg_notify", "listen_notify"):
        sim = one_topic_world(arch=arch, audience=5, writes=[(1_000.0, "bid")], duration_s=400.0)
        assert sim.metrics[arch].slots == []
        assert sim.metrics[arch].peak_retained_wal_bytes == 0.0


def test_a_restart_drops_the_temporary_slot_and_opens_a_new_one() -> None:
    """Realtime's slots are temporary: a restart drops the slot and the new one starts at the restart's end."""
    from bcastsim.sim._scenario import FaultConfig

    fault = FaultConfig(kind="restart", at_s=60.0, fraction=1.0, duration_s=10.0)
    sim = one_topic_world(arch="postgres_changes", audience=5, writes=[], duration_s=100.0, faults=(fault,))
    slots = sim.metrics["postgres_changes"].slots
    assert len(slots) == 2
    assert slots[0].dropped
    assert slots[1].created_ms == pytest.approx(70_000.0)
