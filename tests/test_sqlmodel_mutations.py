"""Mutated seed SQL (truncated, shuffled, garbage tokens) never produces a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bcastsim._commands.inspect import document, render_text
from bcastsim._errors import InputError
from bcastsim._resources import builtin_sql_files
from bcastsim.sqlmodel import Catalog, load_catalog_text

SEED_TEXT = "\n".join(path.read_text() for path in builtin_sql_files())
STATEMENTS = [part for part in SEED_TEXT.split(";\n") if part.strip()]
GARBAGE = [
    "(", ")", ";", "$$", "'", '"', ",", "::text", "::jsonb", "||", ":=", "=", "*", "--", "/*",
    "BEGIN", "END", "END IF;", "IF", "THEN", "ELSE", "LOOP", "FOR", "DECLARE", "RETURN", "NULL",
    "SELECT", "INTO", "FROM", "WHERE", "LEFT JOIN", "PERFORM", "EXECUTE", "NEW.", "OLD", "TG_OP",
    "pg_notify(", "json_build_object(", "CONCAT(", "realtime.send(", "format(", "$1", "é", "\n",
    "DROP TABLE art;", "ALTER TABLE art DISABLE TRIGGER ALL;", "%ROWTYPE", "CREATE TABLE", "v_event_id",
]  # fmt: skip


@st.composite
def mutated_sql(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["truncate", "shuffle", "tokens"]))
    if kind == "truncate":
        text = SEED_TEXT[: draw(st.integers(0, len(SEED_TEXT)))]
    elif kind == "shuffle":
        text = ";\n".join(draw(st.permutations(STATEMENTS)))
    else:
        text = SEED_TEXT
    for _ in range(draw(st.integers(0 if kind != "tokens" else 1, 4))):
        position = draw(st.integers(0, len(text)))
        text = text[:position] + " " + draw(st.sampled_from(GARBAGE)) + " " + text[position:]
    return text


def _load(text: str) -> tuple[Catalog | None, InputError | None]:
    try:
        return load_catalog_text(text, "mutated.sql"), None
    except InputError as error:
        return None, error


@given(mutated_sql())
def test_mutated_sql_raises_only_input_errors(text: str) -> None:
    """Loading, analysing and reporting mutated SQL either works or raises InputError with a location."""
    catalog, error = _load(text)
    if error is not None:
        assert error.path == "mutated.sql"
        assert "\n" not in error.one_line()
        return
    assert catalog is not None
    doc = document(catalog, include_graph=True)
    render_text(doc)
    assert all(d.code != "analysis-error" for d in catalog.diagnostics), catalog.diagnostics


@settings(max_examples=10)
@given(mutated_sql())
def test_cli_exits_0_or_2_with_one_line(tmp_path_factory, text: str) -> None:
    """The CLI on mutated SQL exits 0, or 2 with exactly one line on stderr."""
    path = Path(tmp_path_factory.mktemp("mutated")) / "mutated.sql"
    path.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "bcastsim.cli", "inspect", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 2), result.stderr
    if result.returncode == 2:
        assert len(result.stderr.strip().splitlines()) == 1
        assert str(path) in result.stderr
    else:
        assert result.stderr == ""
