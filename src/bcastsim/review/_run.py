"""``check`` (rules on one version) and ``review`` (contract diff plus the rules' changes) as functions."""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from bcastsim import __version__
from bcastsim._gc import collection_paused
from bcastsim._reaping import reaped_directory
from bcastsim.findings import Finding, Severity
from bcastsim.review._config import ReviewConfig, find_pyproject, load_config
from bcastsim.review._diff import (
    DIFF_RULES,
    Version,
    diff_catalogs,
    expand_sql_paths,
    load_version,
    materialize,
    schema_at,
)
from bcastsim.review._pgdiff import DEFAULT_EXAMPLES, PG_RULES, TIME_LIMIT_S, pg_review
from bcastsim.review._report import Entry, Report, RuleInfo, checkout_path
from bcastsim.review._rules import RULES, run_rules
from bcastsim.review._suppress import (
    SUPPRESSION_RULE,
    UNSUPPRESSIBLE,
    UNUSED_SUPPRESSION_RULE,
    SuppressionComment,
    Suppressions,
    apply_suppressions,
    read_suppressions,
)

if TYPE_CHECKING:
    from bcastsim.pg import EphemeralPostgres
    from bcastsim.sqlmodel import Catalog

__all__ = ["EMPTY_VERSION", "all_rules", "check", "config_for", "review"]

# The old side of a first-time review: no SQL yet.
EMPTY_VERSION = "none:"

_SUPPRESSION_INFOS = (
    RuleInfo(
        id=SUPPRESSION_RULE,
        severity=Severity.NOTE,
        title="Suppression comment names an unknown rule",
        why="A misspelt rule id in '-- bcastsim: ignore[...]' suppresses nothing.",
        fix="use an id from `bcastsim check --list-rules`",
    ),
    RuleInfo(
        id=UNUSED_SUPPRESSION_RULE,
        severity=Severity.NOTE,
        title="Suppression comment that suppresses nothing",
        why="A suppression whose finding is gone (fixed, or moved to another statement) would silently hide "
        "the next, unrelated finding of that rule there.",
        fix="remove the comment, or move it onto the statement the finding is about",
    ),
)


def all_rules() -> dict[str, RuleInfo]:
    """Every rule id bcastsim can report, with its description, in id order."""
    infos = {rule.id: rule.info for rule in RULES}
    infos.update(DIFF_RULES)
    infos.update(PG_RULES)
    infos.update({info.id: info for info in _SUPPRESSION_INFOS})
    return dict(sorted(infos.items()))


def config_for(start: Path, explicit: Path | None = None) -> ReviewConfig:
    """The configuration from ``explicit`` or the nearest pyproject.toml above ``start``."""
    pyproject = explicit if explicit is not None else find_pyproject(start)
    return load_config(pyproject, all_rules())


def _suppression_notes(
    suppressions: Suppressions, used: Sequence[SuppressionComment], config: ReviewConfig
) -> list[Finding]:
    return [note for note in suppressions.notes(used) if config.rule_enabled(note.rule)]


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
    # The catalog and the findings are kept until the report is made: a collection between the
    # loader's and the rules' pauses, or while the report's entries are made and sorted, would walk
    # them all and free nothing. The catalog is dropped inside the pause (it dies with _checked's
    # frame), so the collection that follows walks only what the report keeps.
    with collection_paused():
        return _checked(paths, config, schema_files)


def _checked(paths: Sequence[str | Path], config: ReviewConfig, schema_files: Sequence[Path]) -> Report:
    with tempfile.TemporaryDirectory(prefix="bcastsim-check-") as work:
        versions = [materialize(str(p), Path(work)) for p in paths]
        files = [file for version in versions for file in version.files]
        shown: dict[str, str] = {}
        for version in versions:
            shown.update(version.shown)
        left_out = tuple(entry for version in versions for entry in version.left_out)
        combined = _without_schema(Version("check", tuple(files), shown, left_out), schema_files, None)
        catalog = load_version(combined, schema_files, config.migrations, config.sql_limits)
        suppressions = read_suppressions([*schema_files, *files], all_rules())
        findings, dropped, used = apply_suppressions(run_rules(catalog, config), suppressions)
        findings += _suppression_notes(suppressions, used, config)
        suppressed = len(dropped)
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
        if key[0] in UNSUPPRESSIBLE:
            # Each copy counts: a second COPY … PROGRAM word for word like the old version's is a new statement.
            unmatched_before, unmatched_after = _unmatched(before, after), _unmatched(after, before)
        else:
            after_ids = [_identity(f) for f in after]
            before_ids = [_identity(f) for f in before]
            unmatched_before = [f for f in before if _identity(f) not in after_ids]
            unmatched_after = [f for f in after if _identity(f) not in before_ids]
        # A statement that needs a superuser whose text changed is a new one (COPY … PROGRAM 'gzip' become
        # 'curl …'): never paired away with the old one.
        paired = 0 if key[0] in UNSUPPRESSIBLE else min(len(unmatched_before), len(unmatched_after))
        fixed.extend(unmatched_before[paired:])
        introduced.extend(unmatched_after[paired:])
    return introduced, fixed


def _unmatched(findings: list[Finding], others: list[Finding]) -> list[Finding]:
    """The findings of ``findings`` left once each of ``others`` has taken away one of the same identity."""
    remaining = Counter(_identity(f) for f in others)
    left: list[Finding] = []
    for finding in findings:
        identity = _identity(finding)
        if remaining[identity] > 0:
            remaining[identity] -= 1
        else:
            left.append(finding)
    return left


def _without_schema(version: Version, schema_files: Sequence[Path], cwd: Path | None) -> Version:
    """The version minus the files also loaded as schema (``sql/`` holding ``sql/schema.sql``), matched by path."""
    base = cwd or Path.cwd()
    schema = {path.resolve() for path in schema_files}
    kept = tuple(
        file
        for file in version.files
        if (base / checkout_path(version.display(str(file)) or str(file))).resolve() not in schema
    )
    return attrs.evolve(version, files=kept)


def _located(finding: Finding, sides: Sequence[tuple[Catalog, Version]]) -> Finding:
    """A finding observed in PostgreSQL, placed at the statement that caused it (``sides``: new, then old).

    A file's statement comes with its path and line; one inside a function with the function and
    the line in its body (PostgreSQL's CONTEXT), placed on its file line; one at neither (what a
    transaction sent) names its channel and has no file line, so no comment in a file can match it.
    """
    if finding.path is not None:
        for _, version in sides:
            if finding.path in {str(file) for file in version.files}:
                return attrs.evolve(finding, path=version.display(finding.path))
        return finding
    for catalog, _ in sides:
        function = catalog.functions.get(finding.function or "")
        if function is not None:
            # A line of the old version's body that the new one does not have: the function, not a line in it.
            inside = finding.line is not None and 1 <= finding.line <= function.body.count("\n") + 1
            where = function.file_line(finding.line or 1) if inside else function.location
            return attrs.evolve(finding, path=where.path, line=where.line)
    return attrs.evolve(finding, line=None)


def _shown(finding: Finding, version: Version) -> Finding:
    shown = version.display(finding.path)
    # Most findings already carry the path they are shown under: the frozen finding is kept, not copied.
    return finding if shown == finding.path else attrs.evolve(finding, path=shown)


def review(
    old: str,
    new: str,
    *,
    config: ReviewConfig | None = None,
    schema: Sequence[str | Path] = (),
    pg: bool = False,
    seed: int = 0,
    examples: int = DEFAULT_EXAMPLES,
    cwd: Path | None = None,
    server: EphemeralPostgres | None = None,
    pg_time_limit_s: float = TIME_LIMIT_S,
) -> Report:
    """Diff the contracts of ``old`` and ``new`` and report what ``new`` introduces or fixes.

    With ``pg``, both versions also run ``examples`` generated histories per version (``seed``)
    in PostgreSQL; the report carries what was compared (:attr:`Report.pg`). ``pg_time_limit_s``
    bounds everything ``--pg`` runs (default ten minutes).
    """
    config = config or ReviewConfig()
    schema_files = expand_sql_paths([Path(p) for p in schema])
    # Owned by a reaper: a SIGTERM or SIGKILL of the review leaves no directory behind.
    with reaped_directory("bcastsim-review-") as workdir:
        # A first review has nothing before it: `none:`, or a path the base revision does not have yet.
        old_version = Version(old, ()) if old == EMPTY_VERSION else materialize(old, workdir, cwd, missing_ok=True)
        new_version = materialize(new, workdir, cwd)
        old_version = _without_schema(old_version, schema_files, cwd)
        new_version = _without_schema(new_version, schema_files, cwd)
        # The old side's schema is the base revision's: a statement the change adds to a schema file is introduced.
        old_schema = schema_at(old, schema_files, workdir, cwd)
        old_version = attrs.evolve(old_version, shown={**old_schema.shown, **old_version.shown})
        old_catalog = load_version(old_version, old_schema.files, config.migrations, config.sql_limits)
        new_catalog = load_version(new_version, schema_files, config.migrations, config.sql_limits)

        old_suppressions = read_suppressions([*old_schema.files, *old_version.files], all_rules())
        old_rules, _, _ = apply_suppressions(run_rules(old_catalog, config), old_suppressions)
        suppressions = read_suppressions([*schema_files, *new_version.files], all_rules())
        new_rules, dropped, used = apply_suppressions(run_rules(new_catalog, config), suppressions)
        observed = diff_catalogs(old_catalog, new_catalog, old_version, new_version, config)
        pg_counts = None
        if pg:
            outcome = pg_review(
                [*old_schema.files, *old_version.files],
                [*schema_files, *new_version.files],
                seed=seed,
                examples=examples,
                new_label=new,
                server=server,
                time_limit_s=pg_time_limit_s,
                seed_rows=config.seed_rows,
                show=(lambda p: old_version.display(p) or p, lambda p: new_version.display(p) or p),
            )
            observed += [
                _located(f, ((new_catalog, new_version), (old_catalog, old_version)))
                for f in outcome.findings
                # The reviewed repository's configuration cannot turn off what its SQL tried on the machine.
                if config.rule_enabled(f.rule) or f.rule in UNSUPPRESSIBLE
            ]
            pg_counts = outcome.counts.to_json() if outcome.counts is not None else None
        keys = {shown: file for file, shown in new_version.shown.items()}
        changes, dropped_changes, used_by_changes = apply_suppressions(observed, suppressions, keys)
        notes = _suppression_notes(suppressions, [*used, *used_by_changes], config)
        introduced, fixed = _rule_changes(old_rules, new_rules)
        entries = [Entry(finding=f, state="changed") for f in changes]
        entries += [Entry(finding=_shown(f, new_version), state="introduced") for f in introduced]
        entries += [Entry(finding=_shown(f, new_version)) for f in notes]
        entries += [
            Entry(
                finding=attrs.evolve(_shown(f, old_version), severity=Severity.NOTE, message=f"fixed: {f.message}"),
                state="fixed",
            )
            for f in fixed
        ]
        suppressed = len(dropped) + len(dropped_changes)
    return Report(
        command="review",
        inputs=(old, new),
        entries=entries,
        rules=all_rules(),
        suppressed=suppressed,
        version=__version__,
        pg=pg_counts,
    )
