"""``bcastsim calibrate`` measures costs on a real PostgreSQL and writes a model the simulator reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from bcastsim.pg import Database
from bcastsim.sim import CostModel, load_costs


@pytest.mark.postgres
def test_calibration_writes_a_cost_model_the_simulator_reads(tmp_path: Path) -> None:
    """Every measured cost, the poll costs included, is positive and load_costs reads back what was written."""
    from bcastsim._commands.calibrate import measure, render_costs
    from bcastsim.pg import PgBinariesNotFound

    try:
        costs, notes = measure(n=50, runs=1)
    except PgBinariesNotFound as error:
        pytest.skip(f"no PostgreSQL binaries: {error}")
    assert notes["wal_level"] == "logical"
    assert all(value > 0 for value in costs.values())
    path = tmp_path / "costs.toml"
    text = render_costs(costs, notes)
    path.write_text(text, encoding="utf-8")
    model = load_costs(path)
    assert model.auth_read_ms == pytest.approx(costs["auth_read_ms"], abs=1e-5)
    assert model.wal_bytes_per_write == pytest.approx(costs["wal_bytes_per_write"], abs=0.1)
    assert model.poll_base_ms == pytest.approx(costs["poll_base_ms"], abs=1e-5)
    assert model.change_decode_ms == pytest.approx(costs["change_decode_ms"], abs=1e-5)
    assert "not measured" not in text
    assert "test_decoding" in text


@pytest.mark.postgres
def test_poll_measurement_leaves_no_replication_slot(
    bcastsim_database_factory: Callable[[Sequence[str | Path]], Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temporary slot is gone after a measurement, and after one that fails half-way."""
    from bcastsim._commands import calibrate
    from bcastsim._resources import builtin_sql_files

    db = bcastsim_database_factory(builtin_sql_files())
    db.execute(calibrate._FIXTURES)
    slots = "SELECT count(*) FROM pg_replication_slots"
    costs = calibrate._measure_polls(db, samples=3, empty_polls=6)
    assert costs["poll_base_ms"] > 0
    assert costs["change_decode_ms"] > 0
    assert db.execute(slots) == [(0,)]

    def fail(poller: object) -> tuple[float, int]:
        raise RuntimeError("poll failed")

    monkeypatch.setattr(calibrate, "_timed_poll", fail)
    with pytest.raises(RuntimeError, match="poll failed"):
        calibrate._measure_polls(db, samples=3, empty_polls=6)
    assert db.execute(slots) == [(0,)]


def test_without_logical_decoding_the_poll_costs_keep_the_estimates(tmp_path: Path) -> None:
    """A calibration on a server without wal_level = logical writes the built-in poll estimates, marked."""
    from bcastsim._commands.calibrate import render_costs

    costs = {
        key: 0.5
        for key in (
            "insert_row_ms",
            "trigger_lookup_ms",
            "pg_notify_ms",
            "realtime_send_ms",
            "pk_select_ms",
            "auth_read_ms",
            "client_query_ms",
            "wal_bytes_per_write",
            "wal_bytes_per_message",
        )
    }
    text = render_costs(costs, {"postgres": "15", "wal_level": "replica", "operations_per_run": "10", "runs": "1"})
    path = tmp_path / "costs.toml"
    path.write_text(text, encoding="utf-8")
    model = load_costs(path)
    assert model.poll_base_ms == CostModel().poll_base_ms
    assert model.change_decode_ms == CostModel().change_decode_ms
    assert model.insert_row_ms == 0.5
    assert "wal_level = replica" in text
    assert text.count("# not measured") == 2


def test_checked_in_costs_come_from_a_calibration() -> None:
    """models/costs.toml exists and the simulator uses it, poll costs included, instead of the built-in estimates."""
    model = load_costs()
    assert model.source.endswith("costs.toml")
    assert model != CostModel(source=model.source)
    assert model.poll_base_ms != CostModel().poll_base_ms
    assert model.change_decode_ms != CostModel().change_decode_ms
