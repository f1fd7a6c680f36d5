"""``bcastsim calibrate --realtime-sql`` times Realtime's ``realtime.apply_rls`` against the number of subscriptions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests._corpus import CORPUS_MISSING, corpus_root

from bcastsim._commands import _realtime_rls as rls
from bcastsim._commands import calibrate
from bcastsim._errors import InputError
from bcastsim._resources import builtin_sql_dir
from bcastsim.pg import EphemeralPostgres
from bcastsim.sim import load_costs

STANDIN = Path(__file__).parent / "fixtures" / "db" / "realtime_apply_rls_standin.sql"
SCHEMA = builtin_sql_dir() / "schema.sql"
FIXTURES = calibrate._FIXTURES + calibrate._ONE_BID
_DUMP = "supabase/realtime/priv/repo/tenant_db_dump_15.sql"


def realtime_dump() -> Path | None:
    """Realtime's tenant schema: $BCASTSIM_REALTIME_SQL, else the real-world corpus copy."""
    given = os.environ.get("BCASTSIM_REALTIME_SQL")
    if given:
        return Path(given)
    root = corpus_root()
    return root / _DUMP if root is not None and (root / _DUMP).is_file() else None


@pytest.mark.postgres
def test_standin_is_timed_by_listeners_and_written_with_its_provenance(
    bcastsim_server: EphemeralPostgres, tmp_path: Path
) -> None:
    """Every size is timed with every listener passing the policy, and the model file names the SQL it timed."""
    costs = rls.measure_apply_rls(
        bcastsim_server, [STANDIN], schema=SCHEMA, fixtures=FIXTURES, runs=1, sizes=(50, 250, 500)
    )
    # measure_apply_rls raises unless every listener saw the change; how the times compare is a benchmark's question.
    assert all(costs[f"measured_apply_rls_{n}_subscriptions_ms"] > 0 for n in (50, 250, 500))
    assert all(costs[key] >= 0 for key in ("rls_change_ms", "auth_read_ms", "auth_pair_ms"))
    notes = {"realtime_sql": str(STANDIN), "realtime_sql_sha256": rls.sql_digest([STANDIN]), "runs": "1"}
    base = {k: 0.01 for k in ("insert_row_ms", "trigger_lookup_ms", "pg_notify_ms", "realtime_send_ms")}
    base |= {"pk_select_ms": 0.01, "client_query_ms": 0.01, "wal_bytes_per_write": 300, "wal_bytes_per_message": 400}
    text = calibrate.render_costs(base | costs, notes)
    assert rls.sql_digest([STANDIN]) in text
    assert "Realtime's own realtime.apply_rls" in text
    path = tmp_path / "costs.toml"
    path.write_text(text, encoding="utf-8")
    assert load_costs(path).auth_read_ms == pytest.approx(costs["auth_read_ms"], abs=1e-5)


@pytest.mark.postgres
def test_a_policy_no_listener_passes_is_not_measured(bcastsim_server: EphemeralPostgres, tmp_path: Path) -> None:
    """When apply_rls shows the change to fewer listeners than subscribed, the measurement refuses to report."""
    import psycopg

    hiding = tmp_path / "hiding.sql"
    hiding.write_text(STANDIN.read_text().replace("IF v_seen THEN", "IF false THEN"), encoding="utf-8")
    with pytest.raises(psycopg.Error, match="the policy was not measured"):
        rls.measure_apply_rls(bcastsim_server, [hiding], schema=SCHEMA, fixtures=FIXTURES, runs=1, sizes=(10,))


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "CREATE TABLE realtime.unrelated (a int);",
            r"does not define realtime\.apply_rls\(jsonb,integer\), realtime\.subscription",
        ),
        ("CREATE TABLE realtime.subscription (;", "PostgreSQL refused this Realtime SQL: syntax error"),
    ],
)
def test_sql_that_is_not_realtimes_is_an_input_error(
    bcastsim_server: EphemeralPostgres, tmp_path: Path, sql: str, message: str
) -> None:
    """SQL without apply_rls and subscription, or that PostgreSQL refuses, names the file and the fix."""
    path = tmp_path / "realtime.sql"
    path.write_text(sql, encoding="utf-8")
    with pytest.raises(InputError, match=message) as error:
        rls.measure_apply_rls(bcastsim_server, [path], schema=SCHEMA, fixtures=FIXTURES, runs=1, sizes=(10,))
    assert error.value.path == str(path)
    assert error.value.fix
    assert "tenant_db_dump_15.sql" in error.value.fix


def test_a_checkout_gives_its_tenant_dump_and_a_directory_its_sql_in_order(tmp_path: Path) -> None:
    """A Realtime checkout is read as its tenant schema dump; another directory as its *.sql sorted by name."""
    dump = tmp_path / "checkout" / "priv" / "repo" / "tenant_db_dump_15.sql"
    dump.parent.mkdir(parents=True)
    dump.write_text("SELECT 1;", encoding="utf-8")
    (tmp_path / "checkout" / "other.sql").write_text("SELECT 2;", encoding="utf-8")
    assert rls.realtime_sql_files(tmp_path / "checkout") == [dump]
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in ("b.sql", "a.sql"):
        (plain / name).write_text("SELECT 1;", encoding="utf-8")
    assert [p.name for p in rls.realtime_sql_files(plain)] == ["a.sql", "b.sql"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no Realtime SQL here"):
        rls.realtime_sql_files(empty)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--realtime-sql", "{tmp}/nowhere.sql"], "{tmp}/nowhere.sql: no such file or directory"),
        (["--dsn", "host={tmp}/no-server dbname=x"], "--dsn: cannot connect"),
        (["--dsn", "not a = conninfo ="], "--dsn: not a connection string"),
        (["--realtime-sql", "{tmp}", "--dsn", "dbname=x"], "--realtime-sql and --dsn both name"),
    ],
)
def test_a_realtime_that_cannot_be_timed_fails_in_one_line_before_measuring(
    tmp_path: Path, options: list[str], message: str
) -> None:
    """A missing --realtime-sql, an unreachable or malformed --dsn, or both: status 2, one line, no model."""
    out = tmp_path / "costs.toml"
    argv = [part.format(tmp=tmp_path) for part in options]
    result = subprocess.run(
        [sys.executable, "-m", "bcastsim.cli", "calibrate", *argv, "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert message.format(tmp=tmp_path) in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_the_fit_recovers_a_known_cost_curve() -> None:
    """Exact points of a + b n + c n^2 give back a, b, c; a concave set gives a line, a falling one no slope."""
    a, b, c = rls.fit_quadratic([(n, 0.5 + 0.03 * n + 4e-6 * n * n) for n in (20, 100, 200, 500, 1000, 2000)])
    assert (a, b, c) == (pytest.approx(0.5), pytest.approx(0.03), pytest.approx(4e-6))
    a, b, c = rls.fit_quadratic([(10, 1.0), (20, 1.8), (40, 3.0)])
    assert c == 0.0
    assert b == pytest.approx(2.0 / 30.0, rel=0.2)
    # Times that fall as listeners grow are noise, never a negative cost per listener.
    assert rls.fit_quadratic([(10, 3.0), (20, 2.0), (40, 2.5)]) == (pytest.approx(2.5), 0.0, 0.0)
    assert rls.fit_quadratic([(100, 5.0), (1000, 4.0)]) == (pytest.approx(4.5), 0.0, 0.0)


@pytest.mark.postgres
def test_realtimes_own_apply_rls_is_timed_with_every_listener_through_the_policy(
    bcastsim_server: EphemeralPostgres,
) -> None:
    """Realtime's real tenant schema loads, and every size is timed with every listener passing the policy."""
    dump = realtime_dump()
    if dump is None or not dump.is_file():
        pytest.skip(f"Realtime's SQL not found: $BCASTSIM_REALTIME_SQL unset and {CORPUS_MISSING}")
    costs = rls.measure_apply_rls(bcastsim_server, [dump], schema=SCHEMA, fixtures=FIXTURES, runs=1, sizes=(100, 1000))
    assert all(costs[f"measured_apply_rls_{n}_subscriptions_ms"] > 0 for n in (100, 1000))
    assert all(costs[key] >= 0 for key in ("rls_change_ms", "auth_read_ms", "auth_pair_ms"))


@pytest.mark.postgres
def test_realtimes_own_list_changes_is_timed_whole_with_wal2json(bcastsim_server: EphemeralPostgres) -> None:
    """Realtime's list_changes on a wal2json slot returns each bid to every listener; without wal2json it is
    not timed and the result says so."""
    dump = realtime_dump()
    if dump is None or not dump.is_file():
        pytest.skip(f"Realtime's SQL not found: $BCASTSIM_REALTIME_SQL unset and {CORPUS_MISSING}")
    costs = rls.measure_apply_rls(bcastsim_server, [dump], schema=SCHEMA, fixtures=FIXTURES, runs=1, sizes=(100,))
    if not costs.get("measured_list_changes_wal2json"):
        assert costs.get("measured_list_changes_wal2json") == 0.0
        pytest.skip("wal2json is not installed: list_changes was not timed (calibrate falls back to test_decoding)")
    subs = rls.LIST_CHANGES_USERS * len(rls.TABLES)
    # measure_list_changes raises unless every bid came back once, seen by every listener of bids.
    assert costs[f"measured_list_changes_{rls.LIST_CHANGES_BATCH}_changes_{subs}_subscriptions_ms"] > 0
    assert costs["measured_list_changes_empty_ms"] > 0


@pytest.mark.postgres
def test_a_live_database_is_timed_in_a_transaction_that_leaves_nothing(bcastsim_server: EphemeralPostgres) -> None:
    """--dsn: apply_rls is timed where Realtime's schema already is, and every object and row is rolled back."""
    bcastsim_server.execute(rls._ROLES)
    db = bcastsim_server.create_database([STANDIN])
    try:
        db.execute(
            "INSERT INTO realtime.subscription (subscription_id, entity, claims) VALUES "
            "('00000000-0000-0000-0000-00000000000a', 'realtime.subscription', '{\"role\": \"anon\"}')"
        )
        costs = rls.measure_apply_rls_at(db.conninfo, schema=SCHEMA, fixtures=FIXTURES, runs=1, sizes=(25, 100))
        assert costs["measured_apply_rls_100_subscriptions_ms"] > 0
        assert db.execute("SELECT to_regnamespace('bcastsim_calibration')") == [(None,)]
        assert db.execute("SELECT subscription_id::text FROM realtime.subscription") == [
            ("00000000-0000-0000-0000-00000000000a",)
        ]
        assert db.execute("SELECT count(*) FROM pg_proc WHERE proname = 'bcastsim_cal_apply_rls'") == [(0,)]
    finally:
        db.close()


@pytest.mark.postgres
def test_a_live_database_without_realtime_is_an_input_error(bcastsim_server: EphemeralPostgres) -> None:
    """--dsn of a database without Realtime's schema names what is missing and the fix."""
    db = bcastsim_server.create_database([])
    try:
        with pytest.raises(InputError, match=r"the database has no realtime\.apply_rls") as error:
            rls.measure_apply_rls_at(db.conninfo, schema=SCHEMA, fixtures=FIXTURES, runs=1, sizes=(10,))
        assert error.value.path == "--dsn"
    finally:
        db.close()


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("attack", "refusal"),
    [
        ("COPY (SELECT 1) TO PROGRAM 'touch {outside}/pwned';", "the pg_execute_server_program role to COPY"),
        (
            "CREATE TABLE realtime.stolen AS SELECT pg_read_file('{outside}/secret.txt') AS t;",
            "permission denied for function pg_read_file",
        ),
        ("ALTER ROLE bcastsim_untrusted SUPERUSER;", "must be superuser to alter superuser roles"),
    ],
)
def test_the_realtime_sql_runs_unprivileged(
    bcastsim_server: EphemeralPostgres, tmp_path: Path, attack: str, refusal: str
) -> None:
    """Realtime SQL that runs a program, reads a server file or raises its own role is refused, and runs nothing."""
    outside = tmp_path / "outside"
    outside.mkdir()
    outside.chmod(0o777)
    (outside / "secret.txt").write_text("top secret\n")
    path = tmp_path / "realtime.sql"
    path.write_text(STANDIN.read_text() + "\n" + attack.format(outside=outside) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=refusal) as error:
        rls.measure_apply_rls(bcastsim_server, [path], schema=SCHEMA, fixtures=FIXTURES, runs=1, sizes=(10,))
    assert "top secret" not in str(error.value)
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


@pytest.mark.postgres
def test_the_rights_realtime_needs_are_taken_back_after_timing(bcastsim_server: EphemeralPostgres) -> None:
    """After the calibration the untrusted role again has no REPLICATION and belongs to no Supabase role."""
    from bcastsim.pg import UNTRUSTED_ROLE

    rls.measure_apply_rls(bcastsim_server, [STANDIN], schema=SCHEMA, fixtures=FIXTURES, runs=1, sizes=(10,))
    database = bcastsim_server.create_database(name="bcastsim_role_after")
    try:
        rows = database.execute(
            "SELECT r.rolreplication, r.rolsuper, (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid)"
            " FROM pg_roles r WHERE r.rolname = %s",
            (UNTRUSTED_ROLE,),
        )
    finally:
        database.close()
        bcastsim_server.drop_database("bcastsim_role_after")
    assert rows == [(False, False, 0)]
