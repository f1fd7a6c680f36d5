"""The solver behind the strategies: unreachable sites named with their CHECKs, UPDATEs planned to meet guards."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings

from bcastsim import realtime_sql_file
from bcastsim.db import DatabaseModel, load_schema
from bcastsim.strategies import Mix, histories
from bcastsim.strategies._checks import row_checks
from bcastsim.strategies._solver import _Problem, reachability

FIXTURES = Path(__file__).parent / "fixtures" / "solver"
QUIZ = Path(__file__).parents[1] / "examples" / "shop" / "db" / "quiz"
QUIZ_FILES = [realtime_sql_file(), QUIZ / "schema.sql", QUIZ / "triggers.sql"]
GUARDS = load_schema([FIXTURES / "guards.sql"])


def _site(schema_key_suffix: str) -> str:
    (key,) = [site.key for site in GUARDS.notify_sites if site.key.endswith(schema_key_suffix)]
    return key


def test_a_site_no_row_can_reach_is_named_with_the_checks_it_contradicts() -> None:
    """NEW.level > 10 OR NEW.peak < NEW.level is unreachable: the reason names both CHECKs and the condition."""
    unreachable = reachability(GUARDS).unreachable
    reason = unreachable[_site("guards.sql:19")]
    assert "NEW.level > 10 OR NEW.peak < NEW.level" in reason
    assert "CHECK meters_level_check (level BETWEEN 0 AND 10)" in reason
    assert "CHECK peak_is_peak (peak >= level)" in reason
    assert _site("guards.sql:16") not in unreachable


def test_update_plans_meet_the_guard_and_its_negation() -> None:
    """For a guard over NEW and OLD the plan's rows meet it and pass the CHECKs; the negated plan misses it."""
    site = _site("guards.sql:16")
    plans = {plan.negated: plan for plan in reachability(GUARDS).plans["meters"] if plan.site == site}
    assert set(plans) == {False, True}
    checks = row_checks(GUARDS, "meters")
    for plan in plans.values():
        old, new = dict(plan.old), dict(plan.new)
        assert set(old) == set(new) == {"level", "peak", "label"}
        for row in (old, new):
            assert all(check.holds(row) for check in checks), row
    meets = {
        negated: new["level"] >= 8 and new["level"] > old["level"] and old["label"] == "low"
        for negated, (old, new) in ((n, (dict(p.old), dict(p.new))) for n, p in plans.items())
    }
    assert meets == {False: True, True: False}


def test_tg_op_is_decided_per_operation() -> None:
    """TG_OP = 'UPDATE' makes a site's conditions unsatisfiable on INSERT and satisfiable on UPDATE."""
    (site,) = [s for s in GUARDS.notify_sites if s.key == _site("guards.sql:16")]
    (conditions,) = {c for _, c in site.emitted_when}
    verdicts = {}
    for operation in ("INSERT", "UPDATE"):
        problem = _Problem(GUARDS, "meters", operation)
        verdicts[operation] = str(problem.decide(problem.conditions(conditions))[0])
    assert verdicts == {"INSERT": "unsat", "UPDATE": "sat"}


_QUIZ = DatabaseModel.from_sql(QUIZ_FILES)


@settings(max_examples=30, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=histories(_QUIZ.schema, mix=Mix(edges=0, rollbacks=0)))
def test_overlapping_composite_keys_are_filled_jointly(history) -> None:  # type: ignore[no-untyped-def]
    """With no edge cases, every generated history on the quiz commits: answers' two keys agree on lobby_id."""
    _QUIZ.reset()
    for spec in history.transactions:
        result = _QUIZ.run_transaction(spec.steps, commit=spec.commit)
        assert result.committed, (result.error, spec.to_sql())
