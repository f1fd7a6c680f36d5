"""Per-operation database costs, read from ``models/costs.toml``.

``bcastsim calibrate`` writes the file; the checked-in copy comes from one calibration run on
PostgreSQL. Plan limits live in :mod:`bcastsim._plans`, shared with the realtime-js port's server.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from bcastsim._errors import InputError
from bcastsim._resources import builtin_models_dir
from bcastsim._toml import Range, check_number, line_of, read_toml

__all__ = ["DEFAULT_COSTS", "CostModel", "load_costs"]


@attrs.frozen
class CostModel:
    """Milliseconds of database time per operation, and WAL bytes per write."""

    insert_row_ms: float = 0.08
    trigger_lookup_ms: float = 0.03
    pg_notify_ms: float = 0.02
    realtime_send_ms: float = 0.09
    poll_base_ms: float = 0.6
    change_decode_ms: float = 0.05
    # Reading WAL again from the slot's restart point, per MB, on every poll (pg_logical_slot_get_changes).
    wal_read_ms_per_mb: float = 1.0
    # realtime.apply_rls per change with RLS on: rls_change_ms + auth_read_ms n + auth_pair_ms n^2 for n
    # subscribers of the changed table (each visible one is appended to an array the function copies).
    rls_change_ms: float = 0.0
    auth_read_ms: float = 0.04
    auth_pair_ms: float = 0.0
    pk_select_ms: float = 0.03
    client_query_ms: float = 0.3
    wal_bytes_per_write: float = 420.0
    wal_bytes_per_message: float = 520.0
    source: str = "built-in defaults"


DEFAULT_COSTS = CostModel()
# Milliseconds or bytes per operation: a day of database time per operation is already nonsense.
_COST_RANGE = Range(0, 86_400_000.0)


def load_costs(path: Path | None = None) -> CostModel:
    """Costs from ``models/costs.toml`` (``[costs]`` table); built-in defaults where a key is missing."""
    path = path if path is not None else builtin_models_dir() / "costs.toml"
    if not path.is_file():
        return DEFAULT_COSTS
    text, data = read_toml(path, "cost model")
    table = data.get("costs", {})
    if not isinstance(table, dict):
        raise InputError(
            "[costs] must be a table", path=path, line=line_of(text, None, "costs"), fix="re-run calibrate"
        )
    names = {f.name for f in attrs.fields(CostModel)} - {"source"}
    values = {k: float(v) for k, v in table.items() if k in names and isinstance(v, int | float)}
    for key, value in values.items():
        check_number(value, f"costs.{key}", _COST_RANGE, path=path, line=line_of(text, "costs", key), example=1.0)
    return attrs.evolve(DEFAULT_COSTS, **values, source=str(path))
