"""Hypothesis profiles: deterministic in CI, more examples on demand.

``BCASTSIM_EXAMPLES=5000 python -m pytest ...`` raises the example count for long runs.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

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
