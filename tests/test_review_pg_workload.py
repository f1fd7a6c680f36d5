"""`review --pg` runs histories drawn by bcastsim.strategies on both versions and counts what it compared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bcastsim.db import load_schema
from bcastsim.pg import EphemeralPostgres
from bcastsim.review import PG_RULES, Report, render, review
from bcastsim.review._pgdiff import schema_mapping, translate, with_renames

ROOT = Path(__file__).resolve().parents[1]
QUIZ = ROOT / "tests" / "fixtures" / "sql" / "review" / "pg" / "quiz"
SCHEMA = [ROOT / "sql" / "realtime.sql", QUIZ / "schema.sql"]


def _review(new: str, server: EphemeralPostgres, examples: int = 3) -> Report:
    return review(str(QUIZ / "old.sql"), str(QUIZ / new), schema=SCHEMA, pg=True, server=server, examples=examples)


def _pg_rules(report: Report) -> set[str]:
    return {entry.finding.rule for entry in report.entries if entry.finding.rule in PG_RULES}


def test_alter_rename_moves_the_column_in_the_drawn_schema() -> None:
    """ALTER TABLE … RENAME COLUMN in a version's files renames the column and its CHECKs for the generator."""
    files = [*SCHEMA, QUIZ / "column-renamed.sql"]
    schema = with_renames(load_schema(files), files)
    players = schema.tables["players"]
    assert "points" in players.column_names
    assert "score" not in players.column_names
    assert any("points >= 0" in check.sql for check in players.checks)


def test_renamed_column_is_translated_both_ways() -> None:
    """A column renamed between the versions is one column: statements drawn on either side are translated."""
    old_files, new_files = [*SCHEMA, QUIZ / "old.sql"], [*SCHEMA, QUIZ / "column-renamed.sql"]
    old = with_renames(load_schema(old_files), old_files)
    new = with_renames(load_schema(new_files), new_files)
    to_new, to_old, notes = schema_mapping(old, new)
    assert notes == ("column players.score is players.points in the new version: statements are translated",)
    insert = "INSERT INTO players (id, lobby_id, name, score) VALUES (1, 2, 'ab', 3), (4, 2, 'cd', 5)"
    assert translate(insert, to_new) == (
        "INSERT INTO players (id, lobby_id, name, points) VALUES (1, 2, 'ab', 3), (4, 2, 'cd', 5)"
    )
    update = "UPDATE players SET points = 4, streak = 1 WHERE id = 1 AND points > 2"
    assert translate(update, to_old) == "UPDATE players SET score = 4, streak = 1 WHERE id = 1 AND score > 2"
    assert translate("UPDATE lobbies SET code = 'abcd' WHERE id = 1", to_new) == (
        "UPDATE lobbies SET code = 'abcd' WHERE id = 1"
    )
    assert translate("SAVEPOINT s1", to_new) == "SAVEPOINT s1"


def test_a_column_one_version_lacks_is_left_out_of_its_writes(tmp_path: Path) -> None:
    """A column only the old version has is left out of the new version's INSERTs and UPDATEs, and noted."""
    dropped = tmp_path / "dropped.sql"
    dropped.write_text("ALTER TABLE players DROP COLUMN streak;\n", encoding="utf-8")
    old = load_schema(SCHEMA)
    new = load_schema([*SCHEMA, dropped])
    if new.tables["players"].column("streak") is not None:
        pytest.skip("the schema model keeps a dropped column")
    to_new, _, notes = schema_mapping(old, new)
    assert any("players.streak exists only in the old version" in note for note in notes)
    assert translate("INSERT INTO players (id, streak) VALUES (1, 2)", to_new) == "INSERT INTO players (id) VALUES (1)"
    assert translate("UPDATE players SET streak = 3 WHERE id = 1", to_new) == "SELECT 1"


@pytest.mark.postgres
def test_topic_and_key_rename_is_compared_and_found(bcastsim_server: EphemeralPostgres) -> None:
    """On a varchar/CHECK schema the histories commit in both versions, and the topic and key rename is found."""
    report = _review("topic-key-renamed.sql", bcastsim_server)
    assert _pg_rules(report) == {"pg-destination-changed", "pg-payload-changed"}
    pg = report.pg
    assert pg is not None
    assert pg["committed"]["old"] >= 0.9 * pg["transactions"]
    assert pg["committed"]["new"] >= 0.9 * pg["transactions"]
    assert pg["messages_compared"] > 0
    sites = {(site["version"], site["function"]): site for site in pg["sites"]}
    renamed = sites[("new", "player_send")]
    assert renamed["changed"]
    assert renamed["compared"] > 0
    assert renamed["differences"] == renamed["compared"]  # every player message moved
    assert sites[("new", "lobby_send")]["differences"] == 0
    assert pg["differences"] >= renamed["differences"]


@pytest.mark.postgres
def test_equivalent_rewrite_compares_and_finds_nothing(bcastsim_server: EphemeralPostgres) -> None:
    """An equivalent rewrite compares messages of every site and reports no difference, with its counts."""
    report = _review("equivalent.sql", bcastsim_server, examples=8)  # enough for the guarded lobby site
    assert _pg_rules(report) == set()
    pg = report.pg
    assert pg is not None
    assert pg["differences"] == 0
    assert pg["never_compared"] == []
    assert all(site["compared"] > 0 and site["status"] == "compared" for site in pg["sites"])
    assert "messages compared, 0 of them differing" in render(report, "text")


@pytest.mark.postgres
def test_column_rename_still_compares(bcastsim_server: EphemeralPostgres) -> None:
    """A migration that renames a column runs the same writes under the new name: compared, no difference."""
    report = _review("column-renamed.sql", bcastsim_server, examples=8)
    assert _pg_rules(report) == set()
    pg = report.pg
    assert pg is not None
    assert pg["committed"]["new"] == pg["committed"]["old"] == pg["committed"]["both"] >= 0.9 * pg["transactions"]
    assert pg["messages_compared"] > 0
    assert pg["schema_notes"] == [
        "column players.score is players.points in the new version: statements are translated"
    ]


@pytest.mark.postgres
def test_changed_site_never_compared_is_inconclusive(bcastsim_server: EphemeralPostgres) -> None:
    """A site the change adds that no generated write reaches (TRUNCATE only) makes the review inconclusive."""
    report = _review("truncate-site-added.sql", bcastsim_server)
    (found,) = [e.finding for e in report.entries if e.finding.rule == "pg-inconclusive"]
    assert found.function == "players_cleared"
    assert found.path is not None
    assert found.path.endswith("truncate-site-added.sql")
    assert "was never compared: no TRUNCATE on players ran" in found.message
    assert report.exit_status == 1
    assert report.pg is not None
    assert "new players_cleared" in [name.split("@")[0] for name in report.pg["never_compared"]]


@pytest.mark.postgres
def test_every_format_carries_the_counts(bcastsim_server: EphemeralPostgres) -> None:
    """Text, JSON, SARIF, GitHub and Markdown all state the transactions, commits and messages compared per site."""
    report = _review("topic-key-renamed.sql", bcastsim_server, examples=2)
    pg = report.pg
    assert pg is not None
    headline = (
        f"{pg['transactions']} transactions; committed: {pg['committed']['old']} old, {pg['committed']['new']} new"
    )
    text = render(report, "text")
    assert headline in text
    assert f"{pg['messages_compared']} messages compared" in text
    assert "player_send@" in text
    assert json.loads(render(report, "json"))["summary"]["pg"] == pg
    assert json.loads(render(report, "sarif"))["runs"][0]["properties"]["pg"] == pg
    github = render(report, "github")
    assert any(line.startswith("::notice title=bcastsim review --pg::") and headline in line
               for line in github.splitlines())  # fmt: skip
    assert headline in render(report, "markdown")


def test_cli_default_examples_is_the_library_default() -> None:
    """`review --examples` defaults to the library's DEFAULT_EXAMPLES."""
    import argparse

    from bcastsim._commands import review as command
    from bcastsim.review._pgdiff import DEFAULT_EXAMPLES

    parser = argparse.ArgumentParser()
    command.configure(parser)
    assert parser.parse_args(["a.sql", "b.sql"]).examples == DEFAULT_EXAMPLES


def test_examples_out_of_range_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`review --pg --examples 0` is one line and exit 2, before anything runs."""
    from bcastsim.cli import main

    sql = tmp_path / "a.sql"
    sql.write_text("CREATE TABLE t (id int PRIMARY KEY);\n", encoding="utf-8")
    assert main(["review", str(sql), str(sql), "--pg", "--examples", "0"]) == 2
    assert "--examples 0 is out of range" in capsys.readouterr().err


@pytest.mark.postgres
def test_seed_rows_from_the_config_start_every_history(bcastsim_server: EphemeralPostgres) -> None:
    """`seed-rows` in [tool.bcastsim] is the first transaction of every history: its messages are compared too."""
    from bcastsim.review import ReviewConfig

    config = ReviewConfig(seed_rows=(QUIZ / "seed.toml",))
    report = review(str(QUIZ / "old.sql"), str(QUIZ / "topic-key-renamed.sql"), schema=SCHEMA, pg=True,
                    server=bcastsim_server, examples=2, config=config)  # fmt: skip
    (moved,) = [e.finding for e in report.entries if e.finding.rule == "pg-destination-changed"]
    assert moved.example is not None
    assert moved.example.startswith("transaction 0: INSERT INTO lobbies")
    assert "'SEED1'" in moved.example
    assert report.pg is not None
    assert report.pg["schema_notes"] == []
