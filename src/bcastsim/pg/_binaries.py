"""Finding PostgreSQL server binaries on this machine."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import attrs

__all__ = ["PgBinaries", "PgBinariesNotFound", "find_binaries"]

BINDIR_ENV = "BCASTSIM_PG_BINDIR"
_REQUIRED = ("initdb", "postgres")

INSTALL_HINT = (
    "install the PostgreSQL server (Debian/Ubuntu: apt-get install postgresql; "
    "macOS: brew install postgresql@15) or set BCASTSIM_PG_BINDIR to the directory holding initdb and postgres"
)


class PgBinariesNotFound(RuntimeError):
    """No directory with ``initdb`` and ``postgres`` was found."""


@attrs.frozen
class PgBinaries:
    bindir: Path

    def path(self, program: str) -> str:
        return str(self.bindir / program)

    @property
    def version(self) -> str:
        output = subprocess.run([self.path("postgres"), "--version"], capture_output=True, text=True, check=True).stdout
        match = re.search(r"(\d+(?:\.\d+)*)", output)
        return match.group(1) if match else output.strip()


def _is_server_dir(directory: Path) -> bool:
    return all(os.access(directory / name, os.X_OK) for name in _REQUIRED)


def _pg_config_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    try:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(result.stdout.strip()) if result.returncode == 0 and result.stdout.strip() else None


def _versioned_debian_dirs() -> list[Path]:
    def version_key(path: Path) -> tuple[int, ...]:
        digits = re.findall(r"\d+", path.parent.name)
        return tuple(int(d) for d in digits)

    return sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version_key, reverse=True)


def find_binaries() -> PgBinaries:
    """Look in ``$BCASTSIM_PG_BINDIR``, ``pg_config --bindir``, ``PATH``, then ``/usr/lib/postgresql/*/bin``."""
    override = os.environ.get(BINDIR_ENV)
    if override:
        if _is_server_dir(Path(override)):
            return PgBinaries(Path(override))
        raise PgBinariesNotFound(f"{BINDIR_ENV}={override} holds no initdb and postgres; {INSTALL_HINT}")
    candidates: list[Path] = []
    from_pg_config = _pg_config_bindir()
    if from_pg_config is not None:
        candidates.append(from_pg_config)
    on_path = shutil.which("initdb")
    if on_path is not None:
        candidates.append(Path(on_path).resolve().parent)
    candidates.extend(_versioned_debian_dirs())
    for candidate in candidates:
        if _is_server_dir(candidate):
            return PgBinaries(candidate)
    raise PgBinariesNotFound(f"no PostgreSQL server binaries found; {INSTALL_HINT}")
