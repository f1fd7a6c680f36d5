"""Loading a catalog and running the rules pause the cyclic garbage collector and leave it as they found it."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from bcastsim import InputError
from bcastsim.sqlmodel import load_catalog

SEED_TRIGGERS = Path(__file__).resolve().parents[1] / "sql" / "broadcast_triggers.sql"


def test_collector_enabled_again_after_loading() -> None:
    """An enabled collector is enabled again once the catalog is loaded."""
    assert gc.isenabled()
    load_catalog([SEED_TRIGGERS])
    assert gc.isenabled()


def test_collector_left_disabled_when_the_caller_disabled_it() -> None:
    """A caller's disabled collector stays disabled after loading."""
    gc.disable()
    try:
        load_catalog([SEED_TRIGGERS])
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_collector_enabled_again_after_bad_input(tmp_path: Path) -> None:
    """An InputError from the SQL does not leave the collector off."""
    bad = tmp_path / "bad.sql"
    bad.write_text("CREATE TABLE (;\n")
    with pytest.raises(InputError):
        load_catalog([bad])
    assert gc.isenabled()


def test_collector_enabled_again_after_the_rules() -> None:
    """`check` (loading, then every rule) leaves an enabled collector enabled."""
    from bcastsim.review import check

    assert check([SEED_TRIGGERS]).entries
    assert gc.isenabled()
