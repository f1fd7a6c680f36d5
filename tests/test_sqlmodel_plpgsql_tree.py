"""The PL/pgSQL trees the catalog keeps: pglast's parse, with the trigger variables' datums shared."""

from __future__ import annotations

from pathlib import Path

import pglast

from bcastsim.sqlmodel import load_catalog
from bcastsim.sqlmodel._catalog import _parse_plpgsql_tree

SEED_TRIGGERS = Path(__file__).resolve().parents[1] / "sql" / "broadcast_triggers.sql"

_TRIGGER = """CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  label varchar(20) := 'x';
BEGIN
  PERFORM pg_notify('{name}', NEW.id::text);
  RETURN NEW;
END;
$$;"""


def test_tree_equals_pglasts_parse() -> None:
    """A trigger function with a declared variable parses to exactly what pglast.parse_plpgsql returns."""
    text = _TRIGGER.format(name="f")
    assert _parse_plpgsql_tree(text) == pglast.parse_plpgsql(text)


def test_plain_function_tree_equals_pglasts_parse() -> None:
    """A function that is not a trigger (no NEW/OLD datums) parses to pglast's own tree."""
    text = "CREATE FUNCTION g(a integer) RETURNS integer LANGUAGE plpgsql AS $$ BEGIN RETURN a + 1; END $$;"
    assert _parse_plpgsql_tree(text) == pglast.parse_plpgsql(text)


def test_trigger_datums_are_shared_between_functions() -> None:
    """Two trigger functions hold the same datum objects for NEW, OLD, the TG_ variables and FOUND."""
    first = _parse_plpgsql_tree(_TRIGGER.format(name="f"))[0]["PLpgSQL_function"]["datums"]
    second = _parse_plpgsql_tree(_TRIGGER.format(name="g"))[0]["PLpgSQL_function"]["datums"]
    assert first is not second
    assert all(a is b for a, b in zip(first[:13], second[:13], strict=True))
    assert first[13] is not second[13]  # the declared variable is each function's own
    assert first[13]["PLpgSQL_var"]["refname"] == "label"


def test_catalog_functions_equal_pglasts_trees() -> None:
    """Every function of the seed's triggers keeps pglast's tree (plus the RETURN targets read back)."""
    catalog = load_catalog([SEED_TRIGGERS])
    assert catalog.functions
    for function in catalog.functions.values():
        assert function.plpgsql is not None
        datums = pglast.parse_plpgsql(f"CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $b${function.body}$b$;")
        assert function.plpgsql["datums"] == datums[0]["PLpgSQL_function"]["datums"]
