"""The quiz schema (db/quiz/): generated histories fire every site a row can reach, and most commit."""

from __future__ import annotations

from bcastsim import realtime_sql_file
from bcastsim.strategies import measure_coverage
from conftest import ROOT

QUIZ = [realtime_sql_file(), ROOT / "db" / "quiz" / "schema.sql", ROOT / "db" / "quiz" / "triggers.sql"]


def test_every_reachable_quiz_site_fires() -> None:
    """Answers' two keys share lobby_id and still commit; guarded sites fire; points > 1000 is unreachable."""
    coverage = measure_coverage(QUIZ, examples=100)
    assert coverage.shortfall(1.0) is None, coverage.table()
    assert coverage.committed >= 0.9 * coverage.transactions, coverage.table()
    (unreachable,) = coverage.unreachable
    assert "triggers.sql:56" in unreachable
    assert "CHECK answers_points_check" in coverage.unreachable[unreachable]
