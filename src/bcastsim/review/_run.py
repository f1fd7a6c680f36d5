"""``check`` (rules on one version) and ``review`` (contract diff plus the rules' changes) as functions."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from bcastsim import __version__
from bcastsim.findings import Finding, Severity
from bcastsim.review._config import ReviewConfig, find_pyproject, load_config
from bcastsim.review._diff import DIFF_RULES, Version, diff_catalogs, expand_sql_paths, load_version, materialize
from bcastsim.review._pgdiff import PG_RULES, pg_diff
from bcastsim.review._report import Entry, Report, RuleInfo
from bcastsim.review._rules import RULES, run_rules
from bcastsim.review._suppress import SUPPRESSION_RULE, apply_suppressions, read_suppressions

if TYPE_CHECKING:
    from bcastsim.pg import EphemeralPostgres

__all__ = ["all_rules", "check", "config_for", "review"]

_SUPPRESSION_INFO = RuleInfo(
    id=SUPPRESSION_RULE,
    severity=Severity.WARNING,
    title="Suppression comment names an unknown rule",
    why="A misspelt rule id in '-- bcastsim: ignore[...]' suppresses nothing.",
    fix="use an id from `bcastsim check --list-rules`",
)


def all_rules() -> dict[str, RuleInfo]:
    """Every rule id bcastsim can report, with its description, in id order."""
    infos = {rule.id: rule.info for rule in RULES}
    infos.update(DIFF_RULES)
    infos.update(PG_RULES)
    infos[SUPPRESSION_RULE] = _SUPPRESSION_INFO
    return dict(sorted(infos.items()))


def config_for(start: Path, explicit: Path | None = None) -> ReviewConfig:
    """The configuration from ``explicit`` or the nearest pyproject.toml above ``start``."""
    pyproject = explicit if explicit is not None else find_pyproject(start)
    return load_config(pyproject, all_rules())


def _suppressed(findings: list[Finding], files: Sequence[Path], config: ReviewConfig) -> tuple[list[Finding], int]:
    suppressions = read_suppressions(files, all_rules())
    kept, dropped = apply_suppressions(findings, suppressions)
    if config.rule_enabled(SUPPRESSION_RULE):
        kept.extend(suppressions.unknown)
    return kept, len(dropped)


def check(
    paths: Sequence[str | Path],
    *,
    config: ReviewConfig | None = None,
    schema: Sequence[str | Path] = (),
) -> Report:
    """Apply every enabled rule to the SQL in ``paths`` (directories: their own ``*.sql``, schema first).

    A path may also be ``git:REV:PATH``: the SQL as it was at that revision.
    """
    config = config or ReviewConfig()
    schema_files = expand_sql_paths([Path(p) for p in schema])
    with tempfile.TemporaryDirectory(prefix="bcastsim-check-") as work:
        versions = [materialize(str(p), Path(work)) for p in paths]
        files = [file for version in versions for file in version.files]
        shown: dict[str, str] = {}
        for version in versions:
            shown.update(version.shown)
        combined = Version("check", tuple(files), shown)
        catalog = load_version(combined, schema_files, config.migrations)
        findings, suppressed = _suppressed(run_rules(catalog, config), [*schema_files, *files], config)
        findings = [_shown(f, combined) for f in findings]
    return Report(
        command="check",
        inputs=tuple(str(p) for p in paths),
        entries=[Entry(finding=f) for f in findings],
        rules=all_rules(),
        suppressed=suppressed,
        version=__version__,
    )


_NUMBER = re.compile(r"\b\d+\b")


def _identity(finding: Finding) -> tuple[str, str, str, str]:
    # Line numbers and sizes move with unrelated edits; what the finding is about does not.
    return (finding.rule, finding.function or "", finding.channel or "", _NUMBER.sub("#", finding.message))


def _rule_changes(old: list[Finding], new: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """(introduced, fixed): findings of one rule in one function are matched exactly first, then by count.

    A finding whose wording changed with the code it points at (a renamed channel, a new
    size) but that is still there is neither introduced nor fixed.
    """
    introduced: list[Finding] = []
    fixed: list[Finding] = []
    groups: dict[tuple[str, str], tuple[list[Finding], list[Finding]]] = {}
    for finding in old:
        groups.setdefault((finding.rule, finding.function or ""), ([], []))[0].append(finding)
    for finding in new:
        groups.setdefault((finding.rule, finding.function or ""), ([], []))[1].append(finding)
    for key in sorted(groups):
        before, after = groups[key]
        after_ids = [_identity(f) for f in after]
        before_ids = [_identity(f) for f in before]
        unmatched_before = [f for f in before if _identity(f) not in after_ids]
        unmatched_after = [f for f in after if _identity(f) not in before_ids]
        paired = min(len(unmatched_before), len(unmatched_after))
        fixed.extend(unmatched_before[paired:])
        introduced.extend(unmatched_after[paired:])
    return introduced, fixed


def _shown(finding: Finding, version: Version) -> Finding:
    return attrs.evolve(finding, path=version.display(finding.path))


def review(
    old: str,
    new: str,
    *,
    config: ReviewConfig | None = None,
    schema: Sequence[str | Path] = (),
    pg: bool = False,
    seed: int = 0,
    cwd: Path | None = None,
    server: EphemeralPostgres | None = None,
) -> Report:
    """Diff the contracts of ``old`` and ``new`` and report what ``new`` introduces or fixes."""
    config = config or ReviewConfig()
    schema_files = expand_sql_paths([Path(p) for p in schema])
    with tempfile.TemporaryDirectory(prefix="bcastsim-review-") as work:
        workdir = Path(work)
        old_version = materialize(old, workdir, cwd)
        new_version = materialize(new, workdir, cwd)
        old_catalog = load_version(old_version, schema_files, config.migrations)
        new_catalog = load_version(new_version, schema_files, config.migrations)

        old_rules, _ = _suppressed(run_rules(old_catalog, config), [*schema_files, *old_version.files], config)
        new_rules, suppressed = _suppressed(run_rules(new_catalog, config), [*schema_files, *new_version.files], config)
        changes, suppressed_changes = _suppressed(
            diff_catalogs(old_catalog, new_catalog, old_version, new_version, config),
            [*schema_files, *new_version.files],
            config,
        )
        introduced, fixed = _rule_changes(old_rules, new_rules)
        entries = [Entry(finding=f, state="changed") for f in changes]
        entries += [Entry(finding=_shown(f, new_version), state="introduced") for f in introduced]
        entries += [
            Entry(
                finding=attrs.evolve(_shown(f, old_version), severity=Severity.NOTE, message=f"fixed: {f.message}"),
                state="fixed",
            )
            for f in fixed
        ]
        if pg:
            also = sorted({t.table for t in new_catalog.triggers.values()})
            observed = pg_diff(
                [*schema_files, *old_version.files],
                [*schema_files, *new_version.files],
                old_catalog,
                seed=seed,
                new_label=new,
                also_triggered=also,
                server=server,
            )
            entries += [Entry(finding=f, state="changed") for f in observed if config.rule_enabled(f.rule)]
    return Report(
        command="review",
        inputs=(old, new),
        entries=entries,
        rules=all_rules(),
        suppressed=suppressed + suppressed_changes,
        version=__version__,
    )
