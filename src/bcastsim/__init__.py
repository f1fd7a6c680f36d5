"""bcastsim: deterministic simulation and verification of database-driven realtime broadcast systems."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bcastsim._errors import InputError, UnsupportedError

if TYPE_CHECKING:
    from bcastsim._resources import realtime_sql_file
    from bcastsim.findings import Finding, Severity

    __version__: str

__all__ = ["Finding", "InputError", "Severity", "UnsupportedError", "__version__", "realtime_sql_file"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: a command that needs none of them (`bcastsim --help`) does not pay for
    # importlib.metadata and attrs at start-up.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value: Any = version("bcastsim")
        except PackageNotFoundError:  # running from a source tree that was never installed
            value = "0+unknown"
    elif name in {"Finding", "Severity"}:
        from bcastsim import findings

        value = getattr(findings, name)
    elif name == "realtime_sql_file":
        from bcastsim._resources import realtime_sql_file as value
    else:
        raise AttributeError(f"module 'bcastsim' has no attribute {name!r}")
    globals()[name] = value
    return value
