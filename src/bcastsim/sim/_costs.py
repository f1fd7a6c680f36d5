"""Per-operation database costs, read from ``models/costs.toml``.

``bcastsim calibrate`` writes the file; the checked-in copy comes from one calibration run on
PostgreSQL. Plan limits live in :mod:`bcastsim._plans`, shared with the client transport model.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import attrs

from bcastsim._errors import InputError
from bcastsim._resources import builtin_models_dir

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
    auth_read_ms: float = 0.04
    pk_select_ms: float = 0.03
    client_query_ms: float = 0.3
    wal_bytes_per_write: float = 420.0
    wal_bytes_per_message: float = 520.0
    source: str = "built-in defaults"


DEFAULT_COSTS = CostModel()


def load_costs(path: Path | None = None) -> CostModel:
    """Costs from ``models/costs.toml`` (``[costs]`` table); built-in defaults where a key is missing."""
    path = path if path is not None else builtin_models_dir() / "costs.toml"
    if not path.is_file():
        return DEFAULT_COSTS
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"not valid TOML: {error}", path=path, fix="re-run bcastsim calibrate") from error
    table = data.get("costs", {})
    names = {f.name for f in attrs.fields(CostModel)} - {"source"}
    values = {k: float(v) for k, v in table.items() if k in names and isinstance(v, int | float)}
    return attrs.evolve(DEFAULT_COSTS, **values, source=str(path))
