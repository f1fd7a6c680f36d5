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

from bcastsim.review._config import ReviewConfig, find_config, find_pyproject, load_config
from bcastsim.review._diff import DIFF_RULES, Version, diff_catalogs, expand_sql_paths, materialize
from bcastsim.review._pgdiff import PG_RULES, Workload, generate_workload, pg_diff
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
    "read_suppressions",
    "render",
    "review",
    "run_rules",
]
