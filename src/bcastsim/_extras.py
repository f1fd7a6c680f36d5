"""Optional dependencies: a missing extra is one line saying what to install, not a traceback."""

from __future__ import annotations

import importlib.util

from bcastsim._errors import InputError

__all__ = ["require"]


def require(module: str, extra: str, what: str) -> None:
    """Raise an :class:`InputError` naming ``extra`` when ``module`` cannot be imported."""
    if importlib.util.find_spec(module) is None:
        raise InputError(
            f"{what} needs {module}, which is not installed",
            fix=f"install the [{extra}] extra: pip install 'bcastsim[{extra}] @ <repository URL or checkout>'",
        )
