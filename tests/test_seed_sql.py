"""sql/broadcast_triggers.sql is the seed's SQL, unchanged."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEED_PLAN = Path(os.environ.get("BCASTSIM_SEED_PLAN", ROOT.parent / "shared" / "seed" / "broadcast-migration-plan.md"))


def test_trigger_sql_is_the_seeds_code_blocks() -> None:
    """Every SQL block of the seed document appears verbatim, in order, in sql/broadcast_triggers.sql."""
    if not SEED_PLAN.exists():
        pytest.skip(f"seed document not found at {SEED_PLAN}; set BCASTSIM_SEED_PLAN")
    blocks = re.findall(r"```sql\n(.*?)```", SEED_PLAN.read_text(), re.S)
    assert len(blocks) == 6
    ours = (ROOT / "sql" / "broadcast_triggers.sql").read_text()
    position = 0
    for block in blocks:
        found = ours.find(block.rstrip(), position)
        assert found >= 0, block.splitlines()[0]
        position = found
