"""Statement-level reading of SQL files: tables, functions, triggers and migrations."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcastsim._errors import InputError
from bcastsim._resources import builtin_sql_files
from bcastsim.sqlmodel import Column, load_catalog, load_catalog_text

FIXTURES = Path(__file__).parent / "fixtures" / "sql" / "inspect"


def _line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line containing ``needle``."""
    seen = 0
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in {path}")


@pytest.fixture(scope="module")
def seed():
    return load_catalog(builtin_sql_files())


def test_seed_has_five_trigger_functions_and_five_triggers(seed) -> None:
    """The seed defines five broadcast functions, each run by one AFTER ROW trigger."""
    broadcast = sorted(name for name in seed.functions if name.startswith("broadcast_"))
    assert len(broadcast) == 5
    assert len(seed.triggers) == 5
    assert {t.function for t in seed.triggers.values()} == set(broadcast)
    assert all(t.timing == "AFTER" and t.level == "ROW" and t.enabled for t in seed.triggers.values())


def test_trigger_events_follow_create_trigger(seed) -> None:
    """Events come from the CREATE TRIGGER text, in INSERT/UPDATE/DELETE order."""
    assert seed.triggers[("round_contestants", "broadcast_round_contestants_trigger")].events == (
        "INSERT",
        "UPDATE",
        "DELETE",
    )
    assert seed.triggers[("art", "broadcast_art_trigger")].events == ("UPDATE",)
    assert seed.triggers[("art_media", "broadcast_art_media_trigger")].events == ("INSERT", "UPDATE")


def test_columns_carry_types_nullability_keys_and_references(seed) -> None:
    """Column types are normalized and NOT NULL, PRIMARY KEY, UNIQUE and REFERENCES are kept."""
    art = seed.tables["art"]
    assert art.primary_key == ("id",)
    assert art.column("code") == Column("code", "varchar", (32,), True, None, None, True)
    assert art.column("starting_bid").type_name == "numeric"
    assert art.column("starting_bid").type_modifiers == (10, 2)
    assert art.column("artist_profile_id").not_null is False
    assert art.column("artist_profile_id").references == ("artist_profiles", "id")
    assert art.column("event_id").not_null is True
    assert art.column("created_at").type_name == "timestamptz"
    assert art.column("created_at").default_sql == "now()"
    assert art.column("id").not_null is True
    assert art.column("missing") is None


def test_schema_qualified_and_partition_tables(seed) -> None:
    """Tables outside public keep their schema; a PARTITION OF table inherits the parent's columns."""
    messages = seed.tables["realtime.messages"]
    assert messages.primary_key == ("id", "inserted_at")
    partition = seed.tables["realtime.messages_default"]
    assert [c.name for c in partition.columns] == [c.name for c in messages.columns]
    assert messages.column("inserted_at").type_name == "timestamp"


def test_function_options_and_body_line() -> None:
    """SECURITY DEFINER, SET search_path, language and the body's first line are read."""
    path = FIXTURES / "rooms.sql"
    catalog = load_catalog(path)
    function = catalog.functions["notify_message"]
    assert function.security_definer is True
    assert function.search_path == "public, pg_temp"
    assert function.language == "plpgsql"
    assert function.returns == "trigger"
    assert function.location.line == _line_of(path, "CREATE OR REPLACE FUNCTION notify_message")
    assert function.body_location.line == _line_of(path, "SET search_path = public, pg_temp AS $$")
    assert function.plpgsql is not None
    assert "action" in function.plpgsql
    assert catalog.functions["room_changes"].security_definer is False


def test_plpgsql_lineno_maps_to_file_lines() -> None:
    """A PL/pgSQL statement's lineno plus the body line gives the real file line."""
    path = builtin_sql_files()[2]
    catalog = load_catalog(path)
    function = catalog.functions["broadcast_bid_realtime"]
    first = function.plpgsql["action"]["PLpgSQL_stmt_block"]["body"][0]  # type: ignore[index]
    lineno = first["PLpgSQL_stmt_execsql"]["lineno"]
    assert function.file_line(lineno).line == _line_of(path, "SELECT a.event_id, a.code, ap.name")


def test_realtime_functions_have_parameters(seed) -> None:
    """Parameters keep names, types and defaults (realtime.send's private defaults to true)."""
    send = seed.functions["realtime.send"]
    assert [(p.name, p.type_name) for p in send.parameters] == [
        ("payload", "jsonb"),
        ("event", "text"),
        ("topic", "text"),
        ("private", "boolean"),
    ]
    assert send.parameters[-1].default_sql is not None
    assert send.parameters[-1].default_sql.lower() == "true"


def test_trigger_when_and_update_columns() -> None:
    """WHEN (...) and UPDATE OF columns are kept on the trigger."""
    catalog = load_catalog(FIXTURES / "rooms.sql")
    trigger = catalog.triggers[("messages", "messages_broadcast")]
    assert trigger.update_columns == ("body",)
    assert trigger.when_sql is not None
    assert "pg_trigger_depth()" in trigger.when_sql
    assert catalog.tables["messages"].column("room_id").references == ("rooms", "id")


def test_migrations_apply_in_order() -> None:
    """OR REPLACE replaces a function, DROP TRIGGER removes, DISABLE TRIGGER disables, ADD COLUMN adds."""
    catalog = load_catalog(FIXTURES / "migrations")
    assert catalog.paths == tuple(str(p) for p in sorted((FIXTURES / "migrations").glob("*.sql")))
    assert ("items", "items_insert") not in catalog.triggers
    assert catalog.triggers[("items", "items_update")].enabled is False
    assert catalog.tables["items"].column("label").type_modifiers == (12,)
    (site,) = catalog.notify_sites
    assert site.payload_keys == ("id", "price", "label")
    assert site.location.path.endswith("003_changes.sql")


def test_drop_function_and_table() -> None:
    """DROP FUNCTION and DROP TABLE remove them (a dropped table takes its triggers)."""
    catalog = load_catalog_text(
        "CREATE TABLE t (id int);\n"
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n"
        "CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();\n"
        "DROP FUNCTION IF EXISTS f();\n"
        "DROP TABLE t;\n"
    )
    assert catalog.functions == {}
    assert catalog.tables == {}
    assert catalog.triggers == {}


def test_enable_trigger_all_reenables() -> None:
    """ALTER TABLE … ENABLE TRIGGER ALL turns every trigger of the table back on."""
    catalog = load_catalog_text(
        "CREATE TABLE t (id int);\n"
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n"
        "CREATE TRIGGER a AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();\n"
        "CREATE TRIGGER b AFTER INSERT ON t FOR EACH STATEMENT EXECUTE FUNCTION f();\n"
        "ALTER TABLE t DISABLE TRIGGER ALL;\n"
    )
    assert not any(t.enabled for t in catalog.triggers.values())
    assert catalog.triggers[("t", "b")].level == "STATEMENT"
    catalog = load_catalog_text(
        "CREATE TABLE t (id int);\n"
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n"
        "CREATE TRIGGER a AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();\n"
        "ALTER TABLE t DISABLE TRIGGER a;\nALTER TABLE t ENABLE TRIGGER ALL;\n"
    )
    assert catalog.triggers[("t", "a")].enabled is True


def test_triggers_on_table_fire_in_name_order() -> None:
    """triggers_on lists a table's triggers in PostgreSQL's firing order (byte order of names)."""
    catalog = load_catalog_text(
        "CREATE TABLE t (id int);\n"
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n"
        "CREATE TRIGGER b_second AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();\n"
        "CREATE TRIGGER Z_first AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();\n"
        'CREATE TRIGGER "A_upper" AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();\n'
    )
    assert [t.name for t in catalog.triggers_on("t")] == ["A_upper", "b_second", "z_first"]


def test_syntax_error_names_file_and_line() -> None:
    """Malformed SQL raises InputError with the file and the line of the error."""
    path = FIXTURES / "syntax_error.sql"
    with pytest.raises(InputError) as caught:
        load_catalog(path)
    assert caught.value.path == str(path)
    assert caught.value.line == _line_of(path, "name text text")
    assert "syntax error" in caught.value.one_line()


def test_plpgsql_error_names_the_function() -> None:
    """A PL/pgSQL body PostgreSQL would reject raises InputError at the line of the unknown variable."""
    path = FIXTURES / "plpgsql_error.sql"
    with pytest.raises(InputError) as caught:
        load_catalog(path)
    assert "function f" in caught.value.message
    assert caught.value.line == _line_of(path, "undeclared_variable := 1;")


def test_plpgsql_error_without_a_word_points_at_the_body() -> None:
    """A PL/pgSQL error quoting no locatable word is reported at the body's first line."""
    path = FIXTURES / "expression_error.sql"
    with pytest.raises(InputError) as caught:
        load_catalog(path)
    assert caught.value.line == _line_of(path, "LANGUAGE plpgsql AS $$")


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    """A missing path and a directory without .sql files are input errors, not tracebacks."""
    with pytest.raises(InputError, match="no such file"):
        load_catalog(tmp_path / "absent.sql")
    with pytest.raises(InputError, match=r"no \.sql files"):
        load_catalog(tmp_path)


def test_non_utf8_file_is_an_input_error(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are reported with the path."""
    path = tmp_path / "latin1.sql"
    path.write_bytes(b"CREATE TABLE caf\xe9 (id int);")
    with pytest.raises(InputError) as caught:
        load_catalog(path)
    assert caught.value.path == str(path)


def test_unmodelled_statements_become_diagnostics() -> None:
    """A DO block and a RULE may send notifications: reported, with their line."""
    catalog = load_catalog_text(
        "CREATE TABLE t (id int);\n\nDO $$ BEGIN PERFORM pg_notify('x', 'y'); END $$;\n"
        "CREATE RULE r AS ON INSERT TO t DO ALSO NOTIFY t_changed;\n",
        "m.sql",
    )
    codes = [(d.code, d.location.line) for d in catalog.diagnostics]
    assert ("do-block", 3) in codes
    assert ("rule", 4) in codes


def test_alter_trigger_rename() -> None:
    """ALTER TRIGGER … RENAME TO keeps the trigger under its new name."""
    catalog = load_catalog_text(
        "CREATE TABLE t (id int);\n"
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n"
        "CREATE TRIGGER old_name AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();\n"
        "ALTER TRIGGER old_name ON t RENAME TO new_name;\n"
    )
    assert list(catalog.triggers) == [("t", "new_name")]
    assert catalog.triggers[("t", "new_name")].name == "new_name"
