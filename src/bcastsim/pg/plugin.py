"""pytest plugin entry point (``pytest11``): bcastsim's PostgreSQL fixtures, when their extra is installed.

A CLI-only install of bcastsim next to someone else's pytest must not break that
pytest, so without the ``[pytest]`` extra the plugin only says, in the test
session's header, what to install for the fixtures.
"""

from __future__ import annotations

import importlib.util

_NEEDED = ("psycopg", "pytest_postgresql")
_MISSING = [name for name in _NEEDED if importlib.util.find_spec(name) is None]

if not _MISSING:
    from bcastsim.pg._plugin import *  # noqa: F403 - the fixtures and hooks are the plugin
    from bcastsim.pg._plugin import __all__
else:
    __all__ = ["pytest_report_header"]

    def pytest_report_header() -> str:
        return (
            f"bcastsim: PostgreSQL fixtures off ({', '.join(_MISSING)} not installed; "
            "install the [pytest] extra for them)"
        )
