"""SQL change review: rules over the notify contracts, contract diffs, and CI reporters.

>>> report = check(["sql/"])                                        # doctest: +SKIP
>>> print(render(report, "text"))                                    # doctest: +SKIP
>>> report = review("git:main:sql/", "sql/", pg=True)               # doctest: +SKIP
>>> report.exit_status                                               # doctest: +SKIP

``check`` applies the rule registry (:data:`RULES`) to one version; ``review`` diffs two
versions (files, directories or ``git:REV:PATH``) and reports the contract changes plus
the rule findings the new version introduces or fixes. Reports render as ``text``,
``json``, ``sarif`` (2.1.0) or ``github`` workflow annotations.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bcastsim.review._config import ReviewConfig, find_config, find_pyproject, load_config
    from bcastsim.review._diff import DIFF_RULES, Version, diff_catalogs, expand_sql_paths, materialize
    from bcastsim.review._pgdiff import PG_RULES, PgCounts, Workload, generate_workload, pg_diff, pg_review
    from bcastsim.review._report import FORMATS, Entry, Report, RuleInfo, render
    from bcastsim.review._rules import RULES, Rule, RuleContext, run_rules
    from bcastsim.review._run import all_rules, check, config_for, review
    from bcastsim.review._suppress import Suppressions, apply_suppressions, read_suppressions

__all__ = [
    "DIFF_RULES",
    "FORMATS",
    "PG_RULES",
    "RULES",
    "Entry",
    "PgCounts",
    "Report",
    "ReviewConfig",
    "Rule",
    "RuleContext",
    "RuleInfo",
    "Suppressions",
    "Version",
    "Workload",
    "all_rules",
    "apply_suppressions",
    "check",
    "config_for",
    "diff_catalogs",
    "expand_sql_paths",
    "find_config",
    "find_pyproject",
    "generate_workload",
    "load_config",
    "materialize",
    "pg_diff",
    "pg_review",
    "read_suppressions",
    "render",
    "review",
    "run_rules",
]

# Where each public name lives: the package loads a module on first use, so that a command which
# needs a constant (the CLI's --help) does not import the rules, the differ and PostgreSQL's capture.
_HOME = {
    "DIFF_RULES": "bcastsim.review._diff",
    "Entry": "bcastsim.review._report",
    "FORMATS": "bcastsim.review._report",
    "PG_RULES": "bcastsim.review._pgdiff",
    "PgCounts": "bcastsim.review._pgdiff",
    "RULES": "bcastsim.review._rules",
    "Report": "bcastsim.review._report",
    "ReviewConfig": "bcastsim.review._config",
    "Rule": "bcastsim.review._rules",
    "RuleContext": "bcastsim.review._rules",
    "RuleInfo": "bcastsim.review._report",
    "Suppressions": "bcastsim.review._suppress",
    "Version": "bcastsim.review._diff",
    "Workload": "bcastsim.review._pgdiff",
    "all_rules": "bcastsim.review._run",
    "apply_suppressions": "bcastsim.review._suppress",
    "check": "bcastsim.review._run",
    "config_for": "bcastsim.review._run",
    "diff_catalogs": "bcastsim.review._diff",
    "expand_sql_paths": "bcastsim.review._diff",
    "find_config": "bcastsim.review._config",
    "find_pyproject": "bcastsim.review._config",
    "generate_workload": "bcastsim.review._pgdiff",
    "load_config": "bcastsim.review._config",
    "materialize": "bcastsim.review._diff",
    "pg_diff": "bcastsim.review._pgdiff",
    "pg_review": "bcastsim.review._pgdiff",
    "read_suppressions": "bcastsim.review._suppress",
    "render": "bcastsim.review._report",
    "review": "bcastsim.review._run",
    "run_rules": "bcastsim.review._rules",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'bcastsim.review' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
