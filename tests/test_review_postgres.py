"""`review --pg` and the recommended variant in a real PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from bcastsim._resources import builtin_sql_files
from bcastsim.db import load_schema
from bcastsim.pg import Database, EphemeralPostgres
from bcastsim.review import PG_RULES, generate_workload, review

ROOT = Path(__file__).resolve().parents[1]
REVIEW = ROOT / "tests" / "fixtures" / "sql" / "review"
FIXTURE_SCHEMA = [ROOT / "sql" / "realtime.sql", REVIEW / "schema.sql"]
SQL = ROOT / "sql"
VARIANT = SQL / "variants" / "recommended_triggers.sql"

Factory = Callable[[Sequence[str | Path]], Database]


def _pg_rules(old: Path, new: Path, server: EphemeralPostgres, schema: Sequence[Path] = FIXTURE_SCHEMA) -> set[str]:
    report = review(str(old), str(new), schema=schema, pg=True, server=server)
    return {e.finding.rule for e in report.entries if e.finding.rule in PG_RULES}


def test_workload_is_deterministic_per_seed() -> None:
    """One seed gives one workload drawn by the strategies on both versions; another seed gives another."""
    pair = REVIEW / "diff" / "channel-renamed"
    old, new = (load_schema([*FIXTURE_SCHEMA, pair / name]) for name in ("old.sql", "new.sql"))
    first = generate_workload(old, new, seed=3, examples=4)
    assert first == generate_workload(old, new, seed=3, examples=4)
    assert first != generate_workload(old, new, seed=4, examples=4)
    assert first.histories == 8
    assert {t.drawn_on for t in first.transactions} == {"old", "new"}
    assert any(step.startswith("INSERT INTO items") for t in first.transactions for step in t.old)
    assert all(t.old == t.new for t in first.transactions)  # the same tables and columns: nothing to translate


@pytest.mark.postgres
def test_pg_sees_renamed_channel(bcastsim_server: EphemeralPostgres) -> None:
    """A renamed channel shows as messages going to another destination."""
    pair = REVIEW / "diff" / "channel-renamed"
    assert _pg_rules(pair / "old.sql", pair / "new.sql", bcastsim_server) == {"pg-destination-changed"}


@pytest.mark.postgres
def test_pg_sees_removed_key(bcastsim_server: EphemeralPostgres) -> None:
    """A removed payload key shows in the payloads actually sent."""
    pair = REVIEW / "diff" / "payload-key-removed"
    assert _pg_rules(pair / "old.sql", pair / "new.sql", bcastsim_server) == {"pg-payload-changed"}


@pytest.mark.postgres
def test_pg_sees_transport_change(bcastsim_server: EphemeralPostgres) -> None:
    """pg_notify → realtime.send shows as the same message travelling differently."""
    pair = REVIEW / "diff" / "transport-changed"
    assert _pg_rules(pair / "old.sql", pair / "new.sql", bcastsim_server) == {"pg-delivery-changed"}


@pytest.mark.postgres
def test_pg_sees_dropped_trigger(bcastsim_server: EphemeralPostgres) -> None:
    """A dropped trigger shows as messages no longer sent."""
    pair = REVIEW / "diff" / "trigger-dropped"
    assert _pg_rules(pair / "old.sql", pair / "new.sql", bcastsim_server) == {"pg-message-missing"}


@pytest.mark.postgres
def test_pg_sees_lost_writes(bcastsim_server: EphemeralPostgres) -> None:
    """A NULL channel makes pg_notify raise: the write that committed before now fails."""
    pair = REVIEW / "pg" / "write-fails"
    report = review(
        str(pair / "old.sql"), str(pair / "new.sql"), schema=FIXTURE_SCHEMA, pg=True, server=bcastsim_server
    )
    failed = [e.finding for e in report.entries if e.finding.rule == "pg-write-failed"]
    assert len(failed) == 1
    assert "channel name cannot be empty" in failed[0].message
    assert failed[0].example is not None
    assert "INSERT INTO items" in failed[0].example
    assert report.exit_status == 1


@pytest.mark.postgres
def test_pg_identical_versions_send_the_same(bcastsim_server: EphemeralPostgres) -> None:
    """Identical versions send identical messages on the same workload (times chosen by the database masked)."""
    pair = REVIEW / "diff" / "unchanged"
    assert _pg_rules(pair / "old.sql", pair / "new.sql", bcastsim_server) == set()


@pytest.mark.postgres
def test_pg_seed_to_variant(bcastsim_server: EphemeralPostgres) -> None:
    """Seed → variant in PostgreSQL: every message moves to realtime.send, no write is lost."""
    rules = _pg_rules(
        SQL / "broadcast_triggers.sql", VARIANT, bcastsim_server, [SQL / "schema.sql", SQL / "realtime.sql"]
    )
    assert "pg-delivery-changed" in rules
    assert "pg-write-failed" not in rules


@pytest.mark.postgres
@pytest.mark.parametrize("with_seed", [False, True], ids=["alone", "over-seed"])
def test_variant_runs_in_postgres(bcastsim_database_factory: Factory, with_seed: bool) -> None:
    """The variant loads after schema and realtime (alone or over the seed) and broadcasts as it promises."""
    files = [SQL / "schema.sql", SQL / "realtime.sql"]
    if with_seed:
        files.append(SQL / "broadcast_triggers.sql")
    db = bcastsim_database_factory([*files, VARIANT])
    event, person, art = (f"00000000-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))
    db.execute(f"INSERT INTO events (id, eid, name) VALUES ('{event}', 'E1', 'event')")
    db.execute(f"INSERT INTO people (id, email) VALUES ('{person}', 'p@example.invalid')")
    db.execute(f"INSERT INTO art (id, event_id, code) VALUES ('{art}', '{event}', 'A-1')")
    result = db.run_transaction(
        [
            f"INSERT INTO bids (art_id, person_id, amount) VALUES ('{art}', '{person}', 75)",
            f"UPDATE art SET is_winner = true WHERE id = '{art}'",
            f"UPDATE art SET easel = 4 WHERE id = '{art}'",
        ]
    )
    assert result.committed
    assert result.notifications == ()
    by_topic = {(m.topic, m.event): m for m in result.messages}
    public_bid = by_topic[(f"broadcast:bid:{art}", "bid_update")]
    admin_bid = by_topic[(f"broadcast:admin:{event}", "bid_update")]
    winner = by_topic[(f"broadcast:event:{event}", "winner_update")]
    assert public_bid.private is False
    assert winner.private is False
    assert admin_bid.private is True
    for message in (public_bid, winner):
        assert person not in str(message.payload)
    # The easel change is not a column the art trigger reports: it sends nothing.
    assert len(result.messages) == 3


@pytest.mark.postgres
def test_generated_workload_commits_on_the_seed(bcastsim_db: Database) -> None:
    """At least 90 % of the workload's transactions commit on the seed's SQL (the strategies' rows fit its schema)."""
    schema = load_schema(builtin_sql_files())
    workload = generate_workload(schema, schema, seed=0, examples=5)
    committed = 0
    history = -1
    for transaction in workload.transactions:
        if transaction.history != history:
            history = transaction.history
            bcastsim_db.reset()
        committed += bcastsim_db.run_transaction(list(transaction.old), commit=transaction.commit).committed
    assert committed >= 0.9 * len(workload.transactions), (committed, len(workload.transactions))


@pytest.mark.postgres
def test_pg_that_compared_nothing_is_inconclusive(bcastsim_server: EphemeralPostgres) -> None:
    """A change that makes every sending write fail compares nothing: pg-inconclusive, an error, with its counts."""
    pair = REVIEW / "pg" / "inconclusive"
    old, new = str(pair / "old.sql"), str(pair / "new.sql")
    report = review(old, new, schema=FIXTURE_SCHEMA, pg=True, server=bcastsim_server, examples=4)
    (found,) = [e.finding for e in report.entries if e.finding.rule == "pg-inconclusive"]
    assert report.exit_status == 1
    assert re.search(r"nothing compared: of \d+ transactions \(8 histories, seed 0\), \d+ committed in the old"
                     r" version, \d+ in the new, \d+ in both \(\d+ from the same rows\), and those sent 0"
                     r" messages", found.message)  # fmt: skip
    assert "most common error: P0001 tags are read-only during the migration" in found.message
    assert {e.finding.rule for e in report.entries if e.finding.rule in PG_RULES} == {
        "pg-inconclusive", "pg-write-failed"
    }  # fmt: skip
    assert report.pg is not None
    assert report.pg["committed"]["old"] > report.pg["committed"]["both"]
    assert report.pg["messages_compared"] == 0
