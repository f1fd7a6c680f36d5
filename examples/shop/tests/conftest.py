"""Hypothesis in CI: derandomized, no example database; the shop's SQL, for strategies built at import."""

from __future__ import annotations

from pathlib import Path

from hypothesis import settings

from bcastsim import realtime_sql_file

settings.register_profile("ci", derandomize=True, database=None, deadline=None, max_examples=40)
settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
# The same files, in the same order, as bcastsim_sql in pyproject.toml.
SQL_FILES = [realtime_sql_file(), ROOT / "db" / "schema.sql", ROOT / "db" / "triggers.sql"]
