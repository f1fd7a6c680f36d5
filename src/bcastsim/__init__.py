"""bcastsim: deterministic simulation and verification of database-driven realtime broadcast systems."""

from importlib.metadata import PackageNotFoundError, version

from bcastsim._errors import InputError, UnsupportedError
from bcastsim._resources import realtime_sql_file
from bcastsim.findings import Finding, Severity

try:
    __version__ = version("bcastsim")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["Finding", "InputError", "Severity", "UnsupportedError", "__version__", "realtime_sql_file"]
