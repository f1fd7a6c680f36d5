"""Hypothesis profiles: deterministic in CI, more examples on demand.

``BCASTSIM_EXAMPLES=5000 python -m pytest ...`` raises the example count for long runs.
"""

from __future__ import annotations

import importlib
import os
import pkgutil

from hypothesis import HealthCheck, settings

import bcastsim

_examples = os.environ.get("BCASTSIM_EXAMPLES")

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    parent=settings.get_profile("ci"),
    max_examples=int(_examples) if _examples else 5000,
)
settings.register_profile(
    "dev",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("BCASTSIM_HYPOTHESIS_PROFILE", "long" if _examples else "ci"))

# Hypothesis draws some integers from the literals of every local module loaded so far (its "local
# constants"), so a module one test imports lazily would change what a later derandomized test in the
# same worker generates. Loading all of bcastsim first gives every worker, in any order, the same pool.
for _module in pkgutil.walk_packages(bcastsim.__path__, "bcastsim."):
    importlib.import_module(_module.name)
