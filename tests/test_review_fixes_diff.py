"""Fixes printed as unified diffs: a test applies each with patch(1); the finding goes and the messages stay."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bcastsim.pg import EphemeralPostgres
from bcastsim.review import ReviewConfig, check

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "tests" / "fixtures" / "sql" / "review" / "rules"
SCHEMA = [ROOT / "sql" / "realtime.sql", ROOT / "tests" / "fixtures" / "sql" / "review" / "schema.sql"]
CASES = ["exception-swallowed", "security-definer-search-path"]
EVENT, PERSON, ITEM = (f"00000000-0000-4000-8000-00000000000{n}" for n in range(1, 4))
WRITES = [
    f"INSERT INTO events (id, name) VALUES ('{EVENT}', 'e')",
    f"INSERT INTO people (id) VALUES ('{PERSON}')",
    f"INSERT INTO items (id, event_id, person_id, code, amount) VALUES ('{ITEM}', '{EVENT}', '{PERSON}', 'c', 1)",
]


def _diff(fix: str) -> str:
    """The unified diff in a fix: from its '--- a/' line on."""
    start = fix.find("\n--- a/")
    assert start >= 0, fix
    return fix[start + 1 :]


def _patched(tmp_path: Path, rule: str) -> tuple[Path, Path]:
    """The unsafe fixture copied, and a copy with the rule's printed patch applied by patch(1)."""
    original = tmp_path / "original" / f"{rule}.sql"
    fixed = tmp_path / "fixed" / f"{rule}.sql"
    for path in (original, fixed):
        path.parent.mkdir()
        shutil.copy(RULES / f"{rule}.unsafe.sql", path)
    (finding,) = [f for f in check([fixed], config=ReviewConfig(), schema=SCHEMA).findings if f.rule == rule]
    assert finding.fix is not None
    diff = _diff(finding.fix)
    assert str(fixed) in diff.splitlines()[0]
    subprocess.run(["patch", "--quiet", str(fixed)], input=diff, text=True, check=True)
    return original, fixed


@pytest.mark.parametrize("rule", CASES)
def test_patch_applies_and_the_finding_is_gone(tmp_path: Path, rule: str) -> None:
    """patch(1) accepts the printed diff, the file changes, and check no longer reports the rule there."""
    original, fixed = _patched(tmp_path, rule)
    assert fixed.read_text() != original.read_text()
    assert rule not in {f.rule for f in check([fixed], config=ReviewConfig(), schema=SCHEMA).findings}


@pytest.mark.postgres
@pytest.mark.parametrize("rule", CASES)
def test_patched_sql_runs_and_sends_the_same_messages(
    tmp_path: Path, rule: str, bcastsim_server: EphemeralPostgres
) -> None:
    """PostgreSQL loads the patched file, and the same writes send the same notifications as before the fix."""
    original, fixed = _patched(tmp_path, rule)
    sent = []
    for path in (original, fixed):
        with bcastsim_server.create_database([*SCHEMA, path]) as database:
            result = database.run_transaction(WRITES)
        assert result.committed
        notified = [(n.channel, n.payload) for n in result.notifications]
        broadcast = [(m.topic, m.event, m.private, m.payload) for m in result.messages]
        sent.append((notified, broadcast))
    assert sent[0] == sent[1]
    assert sent[0][0] or sent[0][1]
