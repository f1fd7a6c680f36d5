"""Strategies derived from a schema nobody tuned them for: keys of any type, CHECKs, enums, every site fired."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings

from bcastsim import realtime_sql_file
from bcastsim.db import DatabaseModel, load_schema
from bcastsim.strategies import History, Mix, histories, key_value, measure_coverage
from bcastsim.strategies._domains import column_domain

OWN = Path(__file__).parent / "fixtures" / "own"
SHOP_DB = Path(__file__).parents[1] / "examples" / "shop" / "db"
SHOP = [realtime_sql_file(), SHOP_DB / "schema.sql", SHOP_DB / "triggers.sql"]
QUEUE = [OWN / "queue.sql"]
BOOKINGS = [OWN / "bookings.sql"]
_SHOP_SCHEMA = load_schema(SHOP)
_QUEUE_SCHEMA = load_schema(QUEUE)
_BOOKINGS_SCHEMA = load_schema(BOOKINGS)


def test_keys_take_the_column_type() -> None:
    """varchar(32), text and CHECK-bounded keys get small distinct values; serial keys start above the sequence."""
    assert key_value(_SHOP_SCHEMA, "customers", "id", 1) == "id-1"
    assert key_value(_SHOP_SCHEMA, "inventory", "store", 2) == "sto-2"
    assert key_value(_QUEUE_SCHEMA, "queues", "id", 3) == 1003
    assert key_value(_QUEUE_SCHEMA, "jobs", "seq", 1) == 1  # seq > 0


def test_simple_checks_and_enums_become_domains() -> None:
    """IN lists, comparisons, BETWEEN, length bounds, enum labels and domain CHECKs make each column's domain."""
    assert column_domain(_SHOP_SCHEMA, "orders", "status").allowed == ("new", "paid", "shipped", "cancelled")
    total = column_domain(_SHOP_SCHEMA, "orders", "total")
    assert (total.low, total.low_strict, total.modifiers) == (Decimal(0), False, (10, 2))
    attempts = column_domain(_QUEUE_SCHEMA, "jobs", "attempts")
    assert (attempts.low, attempts.high) == (Decimal(0), Decimal(5))
    assert column_domain(_QUEUE_SCHEMA, "queues", "name").min_length == 1
    assert column_domain(_QUEUE_SCHEMA, "jobs", "state").allowed == ("queued", "running", "done", "failed")
    job_events = load_schema([OWN / "job_events.sql"])
    queue = column_domain(job_events, "tasks", "queue")  # a domain: length(VALUE) BETWEEN 1 AND 16
    assert (queue.min_length, queue.max_length) == (1, 16)
    priority = column_domain(job_events, "tasks", "priority")  # a domain: VALUE >= 0 AND VALUE <= 9
    assert (priority.low, priority.high) == (Decimal(0), Decimal(9))


@pytest.mark.parametrize("files", [SHOP, QUEUE, BOOKINGS], ids=["shop", "queue", "bookings"])
def test_histories_commit_and_fire_every_site(files: list[Path]) -> None:
    """Within 100 examples at least 90 % of transactions commit and every notify site fires."""
    coverage = measure_coverage(files, examples=100)
    assert coverage.committed >= 0.9 * coverage.transactions, coverage.table()
    assert all(site.messages > 0 for site in coverage.sites()), coverage.table()
    assert coverage.vacuous() is None


_SHOP_MODEL = DatabaseModel.from_sql(SHOP)
_BOOKINGS_MODEL = DatabaseModel.from_sql(BOOKINGS)


def _runs_without_errors(model: DatabaseModel, history: History) -> None:
    model.reset()
    for spec in history.transactions:
        outcome = model.run_transaction(spec.steps, commit=spec.commit)
        assert outcome.error is None, (spec, outcome.error)


@settings(max_examples=50)
@given(history=histories(_SHOP_SCHEMA, mix=Mix(edges=0)))
def test_without_edge_values_every_statement_succeeds(history: History) -> None:
    """Parents come before children, keys never repeat, values fit types and CHECKs: no statement fails."""
    _runs_without_errors(_SHOP_MODEL, history)


@settings(max_examples=60)
@given(history=histories(_BOOKINGS_SCHEMA, mix=Mix(edges=0)))
def test_rows_satisfy_checks_across_columns(history: History) -> None:
    """Periods end after they start, a contact is given, a cancellation has its reason: no 23514 on INSERT or UPDATE."""
    _runs_without_errors(_BOOKINGS_MODEL, history)


def test_checks_the_rows_cannot_follow_are_named_in_coverage() -> None:
    """A CHECK of a shape the repair does not read is listed in the coverage table, not a crash."""
    coverage = measure_coverage(BOOKINGS, examples=20)
    assert list(coverage.unfollowed) == ["bookings.bookings_contact_size"]
    assert "the database alone judges it): bookings.bookings_contact_size" in coverage.table()


def test_followed_checks_cover_the_multi_column_shapes() -> None:
    """Comparisons of two columns, OR of IS NOT NULL, <> OR IS NOT NULL and num_nonnulls are read as formulas."""
    from bcastsim.strategies._checks import row_checks

    followed = {check.name for check in row_checks(_BOOKINGS_SCHEMA, "bookings")}
    assert {"bookings_period", "bookings_contact", "bookings_reason", "bookings_one_contact"} <= followed
    rooms = {check.name: check for check in row_checks(_BOOKINGS_SCHEMA, "rooms")}
    assert rooms["rooms_check"].holds({"min_guests": 3, "max_guests": 2}) is False
    assert rooms["rooms_check"].holds({"min_guests": 2, "max_guests": None}) is True  # NULL passes a CHECK
    assert rooms["rooms_check"].holds({"min_guests": 2}) is None  # left to its DEFAULT: not judged


def test_what_the_model_cannot_follow_is_a_coverage_finding_not_a_crash() -> None:
    """A trigger calling a function the model lacks stops its transactions and is named in the table, with its line."""
    sql = OWN / "unsupported_md5.sql"
    coverage = measure_coverage([sql], examples=20)
    ((construct, stopped),) = coverage.unsupported.items()
    assert construct == f"{sql}:5: unsupported: function md5()"
    assert stopped > 0
    assert f"not followed by the model, {stopped} transactions stopped: {construct}" in coverage.table()
    assert coverage.messages == 0
    assert f"the model stopped {stopped} transactions at {construct}" in (coverage.vacuous() or "")
