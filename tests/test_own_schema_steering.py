"""Steering generated histories towards every notify site and branch: guard values, event() and target()."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis.control import current_build_context

from bcastsim.db import DatabaseModel, load_schema
from bcastsim.db._coverage import Coverage, current_coverage, recording
from bcastsim.strategies import History, histories, measure_coverage, steer
from bcastsim.strategies._guards import guards

RARE = [Path(__file__).parent / "fixtures" / "own" / "rare_guard.sql"]
_SCHEMA = load_schema(RARE)


def test_emission_conditions_give_values_and_moves() -> None:
    """`NEW.amount > 990`, `NEW.currency = 'XAU'`, `NEW.note IS NULL`, `NEW.amount < OLD.amount` become hints."""
    found = guards(_SCHEMA)
    assert found.values[("payments", "amount")] == (990, 991, 989)
    assert set(found.values[("payments", "currency")]) == {"XAU", "CHF"}
    assert found.values[("payments", "note")] == (None,)
    assert found.moves == {("payments", "amount"): ("<",)}


def test_hints_a_column_refuses_are_dropped() -> None:
    """A guard value outside the column's CHECK (amount >= 0) is never drawn."""
    schema = load_schema([RARE[0]])
    schema.notify_sites = tuple(
        _with_condition(site, "NEW.amount < 0 OR NEW.amount = 0") for site in schema.notify_sites
    )
    assert guards(schema).values[("payments", "amount")] == (0, 1)


def _with_condition(site: Any, condition: str) -> Any:
    import attrs

    return attrs.evolve(site, emitted_when=tuple((op, (condition,)) for op, _ in site.emitted_when))


def test_rarely_true_guards_are_reached_within_the_budget() -> None:
    """Sites behind `amount > 990`, `currency = 'XAU' AND note IS NULL` and `NEW.amount < OLD.amount` all fire."""
    coverage = measure_coverage(RARE, examples=100)
    assert all(site.messages > 0 for site in coverage.sites()), coverage.table()
    assert coverage.committed >= 0.9 * coverage.transactions, coverage.table()


def test_each_example_records_events_and_targets_for_sites_and_branches() -> None:
    """Per example: the sites and (site, operation) branches it fired, target() on their number, once."""
    model = DatabaseModel.from_sql(RARE)
    seen: list[tuple[set[str], set[tuple[str, str]], dict[str, float]]] = []

    @settings(max_examples=40, database=None, derandomize=True, deadline=None)
    @given(history=histories(_SCHEMA))
    def run(history: History) -> None:
        model.reset()
        for spec in history.transactions:
            model.run_transaction(spec.steps, commit=spec.commit)
        coverage = current_coverage()
        assert coverage is not None
        steer()
        steer()  # again in the same example: target() would refuse a repeated label, so nothing happens
        observations = dict(current_build_context().data.target_observations)
        seen.append((set(coverage.example_sites), set(coverage.example_branches), observations))

    with recording(Coverage(tuple(str(path) for path in RARE))):
        run()
    sites = {key.split("@")[0] + ":" + key.rsplit(":", 1)[1] for got, _, _ in seen for key in got}
    assert sites == {"payment_alert:16", "payment_alert:18", "payment_refund:30"}
    branches = {(key.rsplit(":", 1)[1], op) for _, got, _ in seen for key, op in got}
    assert {("16", "INSERT"), ("30", "UPDATE")} <= branches
    for fired, branched, observations in seen:
        assert observations["notify sites and branches fired"] == len(fired) + len(branched)
    assert Decimal(max(o["rarely fired notify sites reached"] for _, _, o in seen)) > 0
