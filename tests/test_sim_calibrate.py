"""``bcastsim calibrate`` measures costs on a real PostgreSQL and writes a model the simulator reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from bcastsim.pg import Database
from bcastsim.sim import CostModel, load_costs


@pytest.mark.postgres
def test_calibration_writes_a_cost_model_the_simulator_reads(tmp_path: Path) -> None:
    """Every measured cost is positive (the fitted authorization terms at least 0) and load_costs reads it back."""
    from bcastsim._commands.calibrate import measure, render_costs
    from bcastsim.pg import PgBinariesNotFound

    try:
        costs, notes = measure(n=50, runs=1)
    except PgBinariesNotFound as error:
        pytest.skip(f"no PostgreSQL binaries: {error}")
    assert notes["wal_level"] == "logical"
    fitted = {"rls_change_ms", "auth_pair_ms"}  # intercept and curvature of a fit: noise can put them at 0
    assert all(value > 0 for key, value in costs.items() if key not in fitted)
    assert all(costs[key] >= 0 for key in fitted)
    path = tmp_path / "costs.toml"
    text = render_costs(costs, notes)
    path.write_text(text, encoding="utf-8")
    model = load_costs(path)
    assert model.auth_read_ms == pytest.approx(costs["auth_read_ms"], abs=1e-5)
    assert model.auth_pair_ms == pytest.approx(costs["auth_pair_ms"], rel=1e-3)
    assert model.rls_change_ms == pytest.approx(costs["rls_change_ms"], abs=1e-5)
    assert model.wal_bytes_per_write == pytest.approx(costs["wal_bytes_per_write"], abs=0.1)
    assert model.poll_base_ms == pytest.approx(costs["poll_base_ms"], abs=1e-5)
    assert model.change_decode_ms == pytest.approx(costs["change_decode_ms"], abs=1e-5)
    assert model.wal_read_ms_per_mb == pytest.approx(costs["wal_read_ms_per_mb"], abs=1e-5)
    # What the re-read poll re-reads is bytes of WAL, not a time: comparing its time with the empty poll's
    # would be a timed assertion, at the mercy of the machine's load.
    assert costs["measured_poll_empty_rereading_mb"] > 0
    assert "not measured" not in text
    # The decoder is named: wal2json where the server has it, else test_decoding with the reason it stands in.
    assert f'decoder = "{notes["decoder"]}"' in text
    if notes["decoder"] == "test_decoding":
        assert "test_decoding plugin stands in" in text
        assert notes["decoder_fallback"] in text


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
    notes: dict[str, str] = {}
    costs = calibrate._measure_polls(db, samples=3, empty_polls=6, notes=notes)
    assert notes["decoder"] in ("wal2json", "test_decoding")
    assert costs["poll_base_ms"] > 0
    assert costs["change_decode_ms"] > 0
    assert db.execute(slots) == [(0,)]

    def fail(poller: object, decoder: object) -> tuple[float, int]:
        raise RuntimeError("poll failed")

    monkeypatch.setattr(calibrate, "_timed_poll", fail)
    with pytest.raises(RuntimeError, match="poll failed"):
        calibrate._measure_polls(db, samples=3, empty_polls=6)
    assert db.execute(slots) == [(0,)]


@pytest.fixture
def db_with_a_bid(bcastsim_database_factory: Callable[[Sequence[str | Path]], Database]) -> Database:
    """The built-in SQL with calibrate's fixtures and one bid."""
    from bcastsim._commands import calibrate
    from bcastsim._resources import builtin_sql_files

    db = bcastsim_database_factory(builtin_sql_files())
    db.execute(calibrate._FIXTURES)
    db.execute(f"INSERT INTO bids (art_id, person_id, amount) VALUES ({calibrate._ART}, {calibrate._PERSON}, 120)")
    return db


# Scans of a table in the running transaction, read before and after one authorization in one call.
_SCANS_OF_ONE_AUTHORIZATION = """
CREATE FUNCTION bcastsim_test_scans_of_authorize() RETURNS TABLE (seen int, bids_scans bigint, art_scans bigint)
LANGUAGE plpgsql AS $test$
DECLARE
  v_change jsonb;
  v_bids bigint;
  v_art bigint;
BEGIN
  SELECT jsonb_build_object('table', 'public.bids', 'record', to_jsonb(b)) INTO v_change FROM bids b LIMIT 1;
  SELECT seq_scan + coalesce(idx_scan, 0) INTO v_bids FROM pg_stat_xact_user_tables WHERE relname = 'bids';
  SELECT seq_scan + coalesce(idx_scan, 0) INTO v_art FROM pg_stat_xact_user_tables WHERE relname = 'art';
  seen := cardinality(bcastsim_cal_authorize(v_change));
  SELECT t.seq_scan + coalesce(t.idx_scan, 0) - v_bids INTO bids_scans
  FROM pg_stat_xact_user_tables t WHERE t.relname = 'bids';
  SELECT t.seq_scan + coalesce(t.idx_scan, 0) - v_art INTO art_scans
  FROM pg_stat_xact_user_tables t WHERE t.relname = 'art';
  RETURN NEXT;
END
$test$;
"""


@pytest.mark.postgres
def test_authorization_is_timed_with_every_subscriber_through_the_policy(db_with_a_bid: Database) -> None:
    """The timed authorization lets every subscriber see the row, reading it and the policy's join once each."""
    from bcastsim._commands import calibrate

    db = db_with_a_bid
    costs = calibrate._measure_authorization(db, runs=1)
    assert db.execute("SELECT count(*) FROM bcastsim_cal_subscriber") == [(2000,)]
    assert all(costs[key] >= 0 for key in ("rls_change_ms", "auth_read_ms", "auth_pair_ms"))
    # What the timed loop repeats, counted instead of timed: one read of the bid under each subscriber's
    # role and claims, and the policy's join to art evaluated for each of those reads.
    db.execute(_SCANS_OF_ONE_AUTHORIZATION)
    assert db.execute("SELECT seen, bids_scans, art_scans FROM bcastsim_test_scans_of_authorize()") == [
        (2000, 2000, 2000)
    ]


@pytest.mark.postgres
def test_authorization_evaluates_the_policy_for_each_subscriber(db_with_a_bid: Database) -> None:
    """Only the table's subscribers whose claims pass the policy and its join see the row; the role is restored."""
    from bcastsim._commands import calibrate

    db = db_with_a_bid
    db.execute(calibrate._RLS_SETUP)
    for number, watched, audience in (
        (3, "bids", "authenticated"),
        (2, "bids", "elsewhere"),
        (1, "bids", "authenticated"),
        (4, "art", "authenticated"),
    ):
        db.execute(
            "INSERT INTO bcastsim_cal_subscriber (id, watched, claims) VALUES (%s::uuid, %s::regclass, "
            "jsonb_build_object('role', 'authenticated', 'aud', %s::text))",
            (f"00000000-0000-0000-0000-00000000000{number}", watched, audience),
        )
    change = "(SELECT jsonb_build_object('table', 'public.bids', 'record', to_jsonb(b)) FROM bids b LIMIT 1)"
    visible = db.execute(f"SELECT bcastsim_cal_authorize({change})::text[]")
    assert visible == [(["00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000003"],)]
    # With no policy letting the subscriber read art, the join in the bids policy finds nothing.
    db.execute("ALTER TABLE art ENABLE ROW LEVEL SECURITY")
    assert db.execute(f"SELECT cardinality(bcastsim_cal_authorize({change}))") == [(0,)]
    assert db.execute("SELECT current_user = session_user") == [(True,)]


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
            "rls_change_ms",
            "auth_read_ms",
            "auth_pair_ms",
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
    assert model.wal_read_ms_per_mb == CostModel().wal_read_ms_per_mb
    assert model.insert_row_ms == 0.5
    assert "wal_level = replica" in text
    assert text.count("# not measured") == 3


def test_checked_in_costs_come_from_a_calibration() -> None:
    """models/costs.toml exists and the simulator uses it, poll costs included, instead of the built-in estimates."""
    model = load_costs()
    assert model.source.endswith("costs.toml")
    assert model != CostModel(source=model.source)
    assert model.poll_base_ms != CostModel().poll_base_ms
    assert model.change_decode_ms != CostModel().change_decode_ms
    assert model.wal_read_ms_per_mb != CostModel().wal_read_ms_per_mb


def test_checked_in_costs_were_decoded_by_wal2json_on_realtimes_own_sql() -> None:
    """models/costs.toml names its decoder (wal2json), the command, the Realtime commit and its SQL's sha256."""
    import tomllib

    from bcastsim._resources import builtin_models_dir

    path = builtin_models_dir() / "costs.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["calibration"]["decoder"] == "wal2json"
    assert len(data["calibration"]["realtime_sql_sha256"]) == 64
    header = path.read_text(encoding="utf-8").split("[calibration]")[0]
    assert "# Command: bcastsim calibrate --realtime-sql ../shared/realworld/supabase/realtime" in header
    assert "Realtime commit 833cf36c3a3603fff5ae5a8a0ce473a21d5fedd4" in header
    assert data["measured"]["list_changes_wal2json"] == 1.0  # poll_base_ms is Realtime's list_changes, whole


def _wal2json_installed() -> bool:
    import shutil
    import subprocess

    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return False
    libdir = subprocess.run([pg_config, "--pkglibdir"], capture_output=True, text=True, check=False).stdout.strip()
    return (Path(libdir) / "wal2json.so").is_file()


@pytest.mark.postgres
def test_polls_decode_with_wal2json_where_installed(
    bcastsim_database_factory: Callable[[Sequence[str | Path]], Database],
) -> None:
    """With wal2json installed the polls use it, as Supabase does; without it, test_decoding, and the notes say why."""
    from bcastsim._commands import calibrate
    from bcastsim._resources import builtin_sql_files

    db = bcastsim_database_factory(builtin_sql_files())
    db.execute(calibrate._FIXTURES)
    notes: dict[str, str] = {}
    costs = calibrate._measure_polls(db, samples=3, empty_polls=6, notes=notes)
    if _wal2json_installed():
        assert notes["decoder"] == "wal2json"
        assert "decoder_fallback" not in notes
        # format-version 2: one row per change, so a full poll holds 100 changes.
        assert costs["measured_poll_100_changes_ms"] > 0
    else:
        assert notes["decoder"] == "test_decoding", "fallback: wal2json is not installed on this machine"
        assert "wal2json" in notes["decoder_fallback"]
        assert costs["measured_poll_34_changes_ms"] > 0
        pytest.skip("wal2json is not installed here: checked that calibrate fell back to test_decoding and says so")
