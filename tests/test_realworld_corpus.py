"""The real-world corpus manifest is complete, permissively licensed and agrees with the files it lists."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from _corpus import require_corpus_root

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "tests" / "fixtures" / "realworld" / "corpus.toml"

PERMISSIVE = {"MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "PostgreSQL"}
MIGRATION_FORMATS = {"sql-migrate", "goose", "dbmate", "flyway", "sqitch", "golang-migrate"}
FORMATS = MIGRATION_FORMATS | {"plain", "pg_dump"}
KINDS = {"job-queue", "event-store", "supabase-app", "graphql-subscriptions", "outbox", "postgrest", "other"}
TRANSPORTS = {"supabase-realtime", "listen", "postgrest", "none"}
CALLS = {"pg_notify", "NOTIFY", "realtime.send", "realtime.broadcast_changes"}

_DATA: dict[str, Any] = tomllib.loads(MANIFEST.read_text())
FILES: list[dict[str, Any]] = _DATA["file"]
PROJECTS: list[dict[str, Any]] = _DATA["project"]


def test_corpus_is_large_and_varied_enough() -> None:
    """At least 30 files from 15 projects, in at least four migration-tool formats."""
    assert len(FILES) >= 30
    assert len({f["project"] for f in FILES}) >= 15
    assert len({f["format"] for f in FILES} & MIGRATION_FORMATS) >= 4


def test_every_licence_is_permissive() -> None:
    """Each project and each file carries a licence from the permissive allow-list."""
    assert {p["licence"] for p in PROJECTS} <= PERMISSIVE
    by_project = {p["project"]: p for p in PROJECTS}
    for entry in FILES:
        assert entry["licence"] == by_project[entry["project"]]["licence"], entry["local_path"]


def test_entries_use_known_values() -> None:
    """Kinds, formats, transports, calls, commits and verdicts follow the documented vocabularies."""
    paths = [f["local_path"] for f in FILES]
    assert len(paths) == len(set(paths))
    for entry in FILES:
        where = entry["local_path"]
        assert entry["kind"] in KINDS, where
        assert entry["format"] in FORMATS, where
        assert entry["transport"] in TRANSPORTS, where
        assert re.fullmatch(r"[0-9a-f]{40}", entry["commit"]), where
        assert entry["local_path"].startswith(entry["project"] + "/"), where
        assert entry["local_path"].endswith(entry["upstream_path"]), where
        for site in entry["expected_sites"]:
            assert site["call"] in CALLS, (where, site)
            assert site["line"] >= 1, (where, site)
            assert isinstance(site["runs"], bool), (where, site)
            assert site["channel"], (where, site)
        for verdict in entry.get("verdicts", []):
            assert verdict["rule"], (where, verdict)
            assert verdict["line"] >= 1, (where, verdict)
            assert isinstance(verdict["true_problem"], bool), (where, verdict)
            assert verdict["why"].strip(), (where, verdict)
        assert (entry["transport"] == "none") == (not entry["expected_sites"]), where
        assert isinstance(entry["valid_sql"], bool), where
        if not entry["valid_sql"]:
            assert entry.get("note"), where


def test_every_listed_file_is_present_nonempty_utf8() -> None:
    """Each listed copy and each project's licence text exist; the copies are non-empty UTF-8."""
    root = require_corpus_root()
    for project in PROJECTS:
        for name in [project["licence_file"], *project.get("other_files", [])]:
            assert (root / name).is_file(), name
    for entry in FILES:
        data = (root / entry["local_path"]).read_bytes()
        assert data.strip(), entry["local_path"]
        data.decode("utf-8")


def test_every_expected_site_is_on_its_line() -> None:
    """The line of each expected site holds the call it names (case-insensitive)."""
    root = require_corpus_root()
    for entry in FILES:
        lines = (root / entry["local_path"]).read_text(encoding="utf-8").split("\n")
        for site in entry["expected_sites"]:
            assert site["line"] <= len(lines), (entry["local_path"], site)
            text = lines[site["line"] - 1].lower()
            assert site["call"].lower() in text, (entry["local_path"], site)
