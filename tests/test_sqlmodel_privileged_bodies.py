"""A PL/pgSQL body whose source shows no privileged keyword or name is not walked for privileged uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from _corpus import CORPUS_MISSING, corpus_root
from bcastsim import InputError
from bcastsim.sqlmodel import _privileged, load_catalog, load_catalog_text

ROOT = Path(__file__).resolve().parents[1]


def _sql_files() -> list[Path]:
    found = sorted((ROOT / "tests" / "fixtures").rglob("*.sql")) + sorted((ROOT / "sql").rglob("*.sql"))
    corpus = corpus_root()
    return found + (sorted(corpus.rglob("*.sql")) if corpus is not None else [])


def _uses(path: Path) -> list[object] | None:
    try:
        return list(load_catalog(path).privileged)
    except InputError:
        return None


def test_every_file_finds_the_uses_of_a_full_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """On every fixture, seed and real-world file the privileged uses are those found by walking every body."""
    if corpus_root() is None:
        pytest.skip(CORPUS_MISSING)
    paths = _sql_files()
    skipped = [_uses(path) for path in paths]
    monkeypatch.setattr(_privileged, "_body_may_hold_privileged", lambda body: True)
    walked = [_uses(path) for path in paths]
    assert skipped == walked
    assert sum(len(uses or ()) for uses in walked) > 0


@pytest.mark.parametrize(
    "body",
    [
        "BEGIN COPY t TO '/tmp/x'; END",
        "begin set role admin; end",
        "BEGIN RESET ROLE; END",
        "BEGIN PERFORM 1do; END",
        "BEGIN PERFORM PG_READ_FILE('/etc/passwd'); END",
        "BEGIN PERFORM \"pg_read_file\"('/x'); END",
        "BEGIN PERFORM U&\"pg_re\\0061d_file\"('/x'); END",
        "BEGIN EXECUTE 'CO' || 'PY t TO ''/x'''; END",
        "BEGIN CREATE ROLE r SUPERUSER; END",
        "BEGIN ALTER SYSTEM SET work_mem = '1MB'; END",
        "BEGIN GRANT pg_read_server_files TO app; END",
        "BEGIN DO $d$ BEGIN NULL; END $d$; END",
        "BEGIN PERFORM set_config('role', 'admin', true); END",
        "BEGIN PERFORM dblink_exec('x', 'y'); END",
    ],
)
def test_keywords_and_names_keep_the_walk(body: str) -> None:
    """Each statement keyword, EXECUTE, U& escapes and the functions' names, in any case, keep the body walked."""
    assert _privileged._body_may_hold_privileged(body)


@pytest.mark.parametrize(
    "body",
    [
        "BEGIN PERFORM pg_notify('items', json_build_object('id', NEW.id)::text); RETURN NEW; END",
        "DECLARE dosage int; BEGIN IF NEW.offset_x > 0 THEN RAISE NOTICE 'done'; END IF; RETURN NEW; END",
        "BEGIN PERFORM realtime.send(to_jsonb(NEW), 'created_at', 'asset:' || NEW.id, false); RETURN NEW; END",
    ],
)
def test_bodies_that_read_and_send_are_passed_over(body: str) -> None:
    """Words that only contain a keyword (dosage, offset_x, done, created_at, asset) do not make a body walked."""
    assert not _privileged._body_may_hold_privileged(body)


def test_a_use_in_a_walked_body_is_still_found() -> None:
    """A SET ROLE inside a trigger function is found with the pre-filter in place."""
    catalog = load_catalog_text(
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n  SET ROLE postgres;\n  RETURN NEW;\nEND;\n$$;\n"
    )
    assert [(use.kind, use.location.line) for use in catalog.privileged] == [("set-role", 3)]
