"""Migration conventions: the Up part of a file is read, a directory in its tool's order."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcastsim.sqlmodel import load_catalog, order_directory

MIGRATIONS = Path(__file__).parent / "fixtures" / "sql" / "readable" / "migrations"


@pytest.mark.parametrize("tool", ["goose", "sql-migrate", "dbmate"])
def test_up_part_only(tool: str) -> None:
    """A file holding Up and Down is read for its Up part: the trigger and its site exist, and inspect says so."""
    catalog = load_catalog(MIGRATIONS / f"{tool}.sql")
    assert [str(site.channel) for site in catalog.notify_sites] == ["outbox_message"]
    assert ("outbox", "outbox_notify") in catalog.triggers
    notes = [d.message for d in catalog.diagnostics if d.code == "migration-format"]
    assert notes
    assert notes[0].startswith(tool)


def test_forced_plain_reads_the_whole_file() -> None:
    """The convention can be overridden: read as plain SQL the Down part drops the trigger again."""
    catalog = load_catalog(MIGRATIONS / "goose.sql", migrations="plain")
    assert catalog.notify_sites == ()


@pytest.mark.parametrize(
    ("directory", "convention", "channel"),
    [("golang", "golang-migrate", "jobs_v10"), ("flyway", "flyway", "jobs_v1_10"), ("sqitch", "sqitch", "jobs_sqitch")],
)
def test_directory_in_the_tool_order(directory: str, convention: str, channel: str) -> None:
    """golang-migrate and Flyway order numerically (10 after 2), skip down/undo files; Sqitch follows its plan."""
    ordered = order_directory(MIGRATIONS / directory)
    assert ordered.convention == convention
    assert not any("down" in p.name or p.name.startswith("U") or "revert" in p.parts for p in ordered.files)
    catalog = load_catalog(MIGRATIONS / directory)
    assert [str(site.channel) for site in catalog.notify_sites] == [channel]
