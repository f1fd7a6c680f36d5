"""Every fix that is SQL runs in PostgreSQL on the SQL that produced it, and makes its finding go away."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bcastsim.pg import EphemeralPostgres
from bcastsim.review import ReviewConfig, check

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "tests" / "fixtures" / "sql" / "review" / "rules"
FIXTURE_SCHEMA = [ROOT / "sql" / "realtime.sql", ROOT / "tests" / "fixtures" / "sql" / "review" / "schema.sql"]
SEED = ([ROOT / "sql" / "schema.sql", ROOT / "sql" / "realtime.sql"], ROOT / "sql" / "broadcast_triggers.sql")
CASES = [SEED] + [(FIXTURE_SCHEMA, path) for path in sorted(RULES.glob("*.unsafe.sql"))]
_SQL_FIX = re.compile(r"^(CREATE|ALTER|DROP|COMMENT|GRANT|REVOKE)\b")


def _sql_fixes(schema: list[Path], path: Path) -> list[tuple[str, str]]:
    report = check([path], config=ReviewConfig(), schema=schema)
    return [(f.rule, f.fix) for f in report.findings if f.fix and _SQL_FIX.match(f.fix)]


def test_some_fixes_are_sql() -> None:
    """The seed's update-any-column findings come with a CREATE OR REPLACE TRIGGER that PostgreSQL can run."""
    fixes = _sql_fixes(*SEED)
    assert any(rule == "update-any-column" for rule, _ in fixes)


@pytest.mark.parametrize(("schema", "path"), CASES, ids=[case[1].name for case in CASES])
def test_sql_fixes_run_and_remove_the_finding(
    schema: list[Path], path: Path, bcastsim_server: EphemeralPostgres, tmp_path: Path
) -> None:
    """Applied after the SQL it was printed for, each SQL fix is accepted and its finding is gone."""
    fixes = _sql_fixes(schema, path)
    for index, (rule, fix) in enumerate(fixes):
        fix_file = tmp_path / f"fix{index}.sql"
        fix_file.write_text(fix + "\n")
        database = bcastsim_server.create_database([*schema, path, fix_file])
        database.close()
        after = check([path, fix_file], config=ReviewConfig(), schema=schema)
        assert fix not in [f.fix for f in after.findings if f.rule == rule]


def test_caught_error_drops_the_notification_in_postgres(bcastsim_server: EphemeralPostgres) -> None:
    """What notify-rolled-back-with-block warns of happens: the caught error discards the block's NOTIFY."""
    path = RULES / "notify-rolled-back-with-block.unsafe.sql"
    person, other, event, first, second = (f"00000000-0000-4000-8000-00000000000{n}" for n in range(1, 6))
    insert = "INSERT INTO items (id, event_id, person_id, code, amount) VALUES ('{}', '{}', '{}', 'c', 1)"
    with bcastsim_server.create_database([*FIXTURE_SCHEMA, path]) as database:
        setup = [
            f"INSERT INTO people (id) VALUES ('{person}')",
            f"INSERT INTO events (id, name) VALUES ('{event}', 'e')",
        ]
        caught = database.run_transaction([*setup, insert.format(first, event, person)])
        # Control: without the clash the block commits and its notification is delivered.
        database.run_transaction(["ALTER TABLE items DROP CONSTRAINT items_person_id_fkey"])
        delivered = database.run_transaction([insert.format(second, event, other)])
    assert caught.committed
    assert caught.notifications == ()
    assert delivered.committed
    assert [n.channel for n in delivered.notifications] == ["items"]
