"""Where the built-in SQL and models live, installed or in a source tree."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["builtin_models_dir", "builtin_sql_dir", "builtin_sql_files", "display_path", "realtime_sql_file"]

_PACKAGE_DIR = Path(__file__).resolve().parent

# Load order matters: triggers need their tables, and realtime.send must exist
# before a trigger function that calls it is used.
_SQL_LOAD_ORDER = ("schema.sql", "realtime.sql", "broadcast_triggers.sql")


def _first_existing(*candidates: Path) -> Path:
    unreadable: list[Path] = []
    for candidate in candidates:
        try:
            if candidate.is_dir():
                return candidate
        except PermissionError:
            # A run as another user than the installation's owner: a usage problem, not a bug.
            unreadable.append(candidate)
    if unreadable:
        from bcastsim._errors import InputError

        raise InputError(
            "bcastsim's own data is not readable by this user",
            path=unreadable[0],
            fix="install bcastsim where this user may read it, or run as the user who installed it",
        )
    raise FileNotFoundError(f"none of {', '.join(map(str, candidates))} exists")


def builtin_sql_dir() -> Path:
    """The ``sql/`` directory shipped with bcastsim (wheel) or at the top of a checkout."""
    return _first_existing(_PACKAGE_DIR / "_builtin" / "sql", _PACKAGE_DIR.parents[1] / "sql")


def builtin_models_dir() -> Path:
    """The ``models/`` directory shipped with bcastsim (wheel) or at the top of a checkout."""
    return _first_existing(_PACKAGE_DIR / "_builtin" / "models", _PACKAGE_DIR.parents[1] / "models")


def builtin_sql_files() -> list[Path]:
    """The seed's system under test, in the order PostgreSQL must load it."""
    directory = builtin_sql_dir()
    return [directory / name for name in _SQL_LOAD_ORDER]


def realtime_sql_file() -> Path:
    """The minimal Supabase ``realtime`` schema (``realtime.send``, ``realtime.messages``) shipped with bcastsim."""
    return builtin_sql_dir() / "realtime.sql"


def display_path(path: str | Path) -> str:
    """``path`` as a user reads it in a report: relative to the working directory when it is nearby."""
    relative = os.path.relpath(Path(path).resolve(), Path.cwd())
    return str(path) if relative.split(os.sep)[:3] == [os.pardir] * 3 else relative
