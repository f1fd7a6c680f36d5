"""``[tool.bcastsim]`` in ``pyproject.toml``, or ``bcastsim.toml``: what to check, which rules run, what is sensitive.

As ruff and sqlfluff do, the configuration of an input is the nearest one at or above it: in
each directory upward, a ``bcastsim.toml`` (the keys at its top level), else a ``pyproject.toml``
that has a ``[tool.bcastsim]`` table; ``--config FILE`` wins over both. A key not listed here
is an input error with the nearest known key as a suggestion::

    [tool.bcastsim]
    schema = ["db/schema.sql"]             # loaded before the checked SQL (relative to pyproject.toml)
    paths = ["db/migrations/"]             # what `bcastsim check` checks when given no PATH
    fail-on = "error"                      # error, warning, note or never
    transport = "auto"                     # or "supabase-realtime", "postgres"
    disable = ["update-any-column"]        # rule ids to skip
    enable = []                            # when non-empty: only these rules run
    sensitive-columns = ["*.email", "people.*", "*.person_id"]   # table.column globs
    sensitive-keys = ["*bidder*", "*voter*"]                     # payload key globs
    restricted-topics = ["*admin*"]        # topic globs that only some roles may read
    restricted-tables = ["grades"]         # tables whose rows only some roles may read (default: none)
    hot-tables = ["orders"]                # tables written in bursts by many users at once (default: none)
    migrations = "goose"                   # force a migration convention (default: detected)
    seed-rows = ["db/seed.toml"]           # rows every `review --pg` history starts with (TOML or SQL)
    severity = { "timestamp-semantics" = "note" }                # per-rule override

    [tool.bcastsim.sql-limits]             # bounds on each SQL file read (defaults shown)
    file-bytes = 33554432                  # 32 MiB
    line-bytes = 2097152                   # 2 MiB on one line
    statements = 100000
    function-bytes = 4194304               # one CREATE FUNCTION or DO statement: 4 MiB

    [tool.bcastsim.channels]               # who consumes each channel (globs; the first match wins)
    "jobs_*" = "listen"                    # the project's own worker LISTENs on it
    "room:*" = "supabase"                  # Supabase Realtime subscribers
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from bcastsim._errors import InputError
from bcastsim._toml import line_of, read_toml
from bcastsim.findings import Severity
from bcastsim.review._danger import UNSUPPRESSIBLE

if TYPE_CHECKING:
    from bcastsim.sqlmodel import SqlLimits

__all__ = [
    "CHANNEL_CONSUMERS",
    "CONFIG_FILE",
    "CONFIG_KEYS",
    "DEFAULT_HOT_TABLES",
    "DEFAULT_RESTRICTED_TABLES",
    "DEFAULT_RESTRICTED_TOPICS",
    "DEFAULT_SENSITIVE_COLUMNS",
    "DEFAULT_SENSITIVE_KEYS",
    "TRANSPORTS",
    "ReviewConfig",
    "find_config",
    "find_pyproject",
    "load_config",
]

TRANSPORTS = ("auto", "supabase-realtime", "postgres")
CONFIG_FILE = "bcastsim.toml"
_TOOL_TABLE = re.compile(r"^\s*\[\s*tool\s*\.\s*bcastsim\s*[\].]", re.MULTILINE)
# Consumers of a channel in [tool.bcastsim.channels], and the transport each means.
CHANNEL_CONSUMERS = {"supabase": "supabase-realtime", "listen": "postgres"}

# People's identities and contact details. Artists' stage names are public in the
# modelled event, so `artist_profiles.name` is deliberately not here.
DEFAULT_SENSITIVE_COLUMNS: tuple[str, ...] = (
    "*.person_id",
    "*.user_id",
    "*.voter_id",
    "*.bidder_id",
    "*.email",
    "*.phone",
    "*.phone_number",
    "*.first_name",
    "*.last_name",
    "*.full_name",
    "*.ip_address",
)
DEFAULT_SENSITIVE_KEYS: tuple[str, ...] = (
    "*bidder*",
    "*voter*",
    "person_id",
    "user_id",
    "*email*",
    "*phone*",
)
DEFAULT_RESTRICTED_TOPICS: tuple[str, ...] = ("*admin*", "*private*", "*staff*")
# Which tables are restricted or written in bursts is the app's to say: no defaults.
DEFAULT_RESTRICTED_TABLES: tuple[str, ...] = ()
DEFAULT_HOT_TABLES: tuple[str, ...] = ()

_SEVERITIES = {s.value: s for s in Severity}
_FAIL_ON = ("error", "warning", "note", "never")
_LIST_KEYS = {
    "sensitive-columns": "sensitive_columns",
    "sensitive-keys": "sensitive_keys",
    "restricted-topics": "restricted_topics",
    "restricted-tables": "restricted_tables",
    "hot-tables": "hot_tables",
}
CONFIG_KEYS: tuple[str, ...] = (
    "schema",
    "paths",
    "seed-rows",
    "fail-on",
    "transport",
    "migrations",
    "enable",
    "disable",
    *_LIST_KEYS,
    "severity",
    "channels",
    "sql-limits",
)


def _match_any(value: str, patterns: Iterable[str]) -> bool:
    lowered = value.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern.lower()) for pattern in patterns)


@attrs.frozen(kw_only=True)
class ReviewConfig:
    """Settings for ``bcastsim check`` and ``bcastsim review``; defaults apply when no pyproject sets them."""

    transport: str = "auto"
    enable: frozenset[str] = frozenset()
    disable: frozenset[str] = frozenset()
    sensitive_columns: tuple[str, ...] = DEFAULT_SENSITIVE_COLUMNS
    sensitive_keys: tuple[str, ...] = DEFAULT_SENSITIVE_KEYS
    restricted_topics: tuple[str, ...] = DEFAULT_RESTRICTED_TOPICS
    restricted_tables: tuple[str, ...] = DEFAULT_RESTRICTED_TABLES
    hot_tables: tuple[str, ...] = DEFAULT_HOT_TABLES
    migrations: str | None = None
    severity: Mapping[str, Severity] = attrs.field(factory=dict)
    schema: tuple[Path, ...] = ()
    paths: tuple[Path, ...] = ()
    #: seed rows (``load_seed_rows`` files) every ``review --pg`` history starts with
    seed_rows: tuple[Path, ...] = ()
    fail_on: str = "error"
    source: str | None = None
    #: channel glob → consumer ("supabase" or "listen"), in the order written
    channels: tuple[tuple[str, str], ...] = ()
    #: bounds on each SQL file read ([tool.bcastsim.sql-limits]); None: the defaults
    sql_limits: SqlLimits | None = None

    def rule_enabled(self, rule_id: str) -> bool:
        if rule_id in UNSUPPRESSIBLE:
            return True
        if rule_id in self.disable:
            return False
        return not self.enable or rule_id in self.enable

    def severity_of(self, rule_id: str, default: Severity) -> Severity:
        """The configured severity of a rule; a privilege or containment rule keeps its own."""
        if rule_id in UNSUPPRESSIBLE:
            return default
        return self.severity.get(rule_id, default)

    def is_sensitive_column(self, table: str, column: str) -> bool:
        return _match_any(f"{table}.{column}", self.sensitive_columns)

    def is_sensitive_key(self, key: str) -> bool:
        return _match_any(key, self.sensitive_keys)

    def is_restricted_topic(self, topic: str) -> bool:
        return _match_any(topic, self.restricted_topics)

    def is_restricted_table(self, table: str) -> bool:
        return _match_any(table, self.restricted_tables)

    def is_hot_table(self, table: str) -> bool:
        return _match_any(table, self.hot_tables)

    def channel_consumer(self, channel: str) -> tuple[str, str] | None:
        """The (glob, consumer) of the first ``[tool.bcastsim.channels]`` entry matching ``channel``."""
        for pattern, consumer in self.channels:
            if fnmatch.fnmatchcase(channel, pattern):
                return pattern, consumer
        return None

    def severity_for(self, rule_id: str, default: Severity) -> Severity:
        """The former name of :meth:`severity_of` (a privilege or containment rule keeps its own here too)."""
        return self.severity_of(rule_id, default)


def _has_tool_table(pyproject: Path) -> bool:
    try:
        return bool(_TOOL_TABLE.search(pyproject.read_text(encoding="utf-8", errors="replace")))
    except OSError:
        return False


def find_config(start: Path) -> Path | None:
    """The configuration nearest at or above ``start``; ``None`` when no directory up to the root has one.

    In each directory, ``bcastsim.toml`` comes first, then a ``pyproject.toml`` with a
    ``[tool.bcastsim]`` table (one without it belongs to something else, and the search goes on).
    """
    start = start.absolute()
    directory = start if start.is_dir() else start.parent
    for candidate in (directory, *directory.parents):
        own = candidate / CONFIG_FILE
        if _is_file(own):
            return own
        pyproject = candidate / "pyproject.toml"
        if _is_file(pyproject) and _has_tool_table(pyproject):
            return pyproject
    return None


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a file; a directory on the way that cannot be searched is an input error."""
    try:
        return path.is_file()
    except OSError as error:
        raise InputError(
            f"cannot look for a configuration here: {error.strerror or type(error).__name__}",
            path=path.parent,
            fix="check the directory's permissions, or name the configuration with --config",
        ) from None


def find_pyproject(start: Path) -> Path | None:
    """The former name of :func:`find_config`."""
    return find_config(start)


def _string_list(table: Mapping[str, Any], key: str, path: Path) -> tuple[str, ...] | None:
    if key not in table:
        return None
    value = table[key]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InputError(
            f"[tool.bcastsim] {key} must be a list of strings, got {value!r}",
            path=path,
            fix=f'write e.g. {key} = ["..."]',
        )
    return tuple(value)


def _section(path: Path) -> str | None:
    """The TOML table holding the settings: ``tool.bcastsim`` in a pyproject.toml, the top level elsewhere."""
    return "tool.bcastsim" if path.name == "pyproject.toml" else None


def _unknown_key(key: str, text: str, path: Path) -> InputError:
    close = difflib.get_close_matches(key, CONFIG_KEYS, n=1, cutoff=0.6)
    where = "[tool.bcastsim]" if _section(path) else path.name
    return InputError(
        f"unknown key {key!r} in {where}",
        path=path,
        line=line_of(text, _section(path), key),
        fix=f"use {close[0]!r}" if close else f"known keys: {', '.join(CONFIG_KEYS)}",
    )


def _relative_paths(table: Mapping[str, Any], key: str, path: Path) -> tuple[Path, ...]:
    values = _string_list(table, key, path) or ()
    return tuple(path.parent / value for value in values)


def load_config(pyproject: Path | None, known_rules: Iterable[str]) -> ReviewConfig:
    """Read ``[tool.bcastsim]`` from ``pyproject`` (``None``: defaults); unknown keys and rule ids are input errors."""
    if pyproject is None:
        return ReviewConfig()
    text, data = read_toml(pyproject, pyproject.name)
    table: object = data
    if _section(pyproject):
        tool = data.get("tool", {})
        if not isinstance(tool, dict):
            raise InputError(
                f"'tool' must be a table, got {type(tool).__name__}",
                path=pyproject,
                line=line_of(text, None, "tool"),
                fix="write [tool.bcastsim] and your settings below it",
            )
        table = tool.get("bcastsim", {})
    if not isinstance(table, dict):
        raise InputError("[tool.bcastsim] must be a table", path=pyproject)
    for key in table:
        if key not in CONFIG_KEYS:
            raise _unknown_key(key, text, pyproject)
    known = set(known_rules)
    kwargs: dict[str, Any] = {"source": str(pyproject)}

    for key, choices, default in (("transport", TRANSPORTS, "auto"), ("fail-on", _FAIL_ON, "error")):
        value = table.get(key, default)
        if value not in choices:
            raise InputError(
                f"[tool.bcastsim] {key} must be one of {', '.join(choices)}, got {value!r}",
                path=pyproject,
                line=line_of(text, _section(pyproject), key),
            )
        kwargs[key.replace("-", "_")] = value
    kwargs["schema"] = _relative_paths(table, "schema", pyproject)
    kwargs["paths"] = _relative_paths(table, "paths", pyproject)
    kwargs["seed_rows"] = _relative_paths(table, "seed-rows", pyproject)

    migrations = table.get("migrations")
    if migrations is not None:
        from bcastsim.sqlmodel import CONVENTIONS

        if migrations not in CONVENTIONS:
            raise InputError(
                f"[tool.bcastsim] migrations must be one of {', '.join(CONVENTIONS)}, got {migrations!r}",
                path=pyproject,
            )
        kwargs["migrations"] = migrations

    for key in ("enable", "disable"):
        ids = _string_list(table, key, pyproject)
        if ids is None:
            continue
        unknown = sorted(set(ids) - known)
        if unknown:
            raise InputError(
                f"[tool.bcastsim] {key} names unknown rule(s): {', '.join(unknown)}",
                path=pyproject,
                line=line_of(text, _section(pyproject), key),
                fix="run `bcastsim check --list-rules` for the rule ids",
            )
        kwargs[key] = frozenset(ids)

    for key, attribute in _LIST_KEYS.items():
        values = _string_list(table, key, pyproject)
        if values is not None:
            kwargs[attribute] = values

    overrides = table.get("severity", {})
    if not isinstance(overrides, dict):
        raise InputError("[tool.bcastsim] severity must be a table of rule id = level", path=pyproject)
    severity: dict[str, Severity] = {}
    for rule_id, level in sorted(overrides.items()):
        if rule_id not in known:
            raise InputError(f"[tool.bcastsim] severity names unknown rule {rule_id!r}", path=pyproject)
        if level not in _SEVERITIES:
            raise InputError(
                f"[tool.bcastsim] severity for {rule_id} must be error, warning or note, got {level!r}",
                path=pyproject,
            )
        severity[rule_id] = _SEVERITIES[level]
    kwargs["severity"] = severity

    channels = table.get("channels", {})
    if not isinstance(channels, dict):
        raise InputError(
            "[tool.bcastsim] channels must be a table of channel glob = consumer",
            path=pyproject,
            fix='write e.g. [tool.bcastsim.channels] then "jobs_*" = "listen"',
        )
    for pattern, consumer in channels.items():
        if consumer not in CHANNEL_CONSUMERS:
            raise InputError(
                f"[tool.bcastsim.channels] {pattern!r} must be one of {', '.join(CHANNEL_CONSUMERS)}, got {consumer!r}",
                path=pyproject,
                line=line_of(text, "tool.bcastsim.channels", pattern),
            )
    kwargs["channels"] = tuple(channels.items())
    if "sql-limits" in table:
        from bcastsim.sqlmodel import SqlLimits

        section = "tool.bcastsim.sql-limits" if _section(pyproject) else "sql-limits"
        kwargs["sql_limits"] = SqlLimits.from_table(
            table["sql-limits"], pyproject, lambda key: line_of(text, section, key)
        )
    return ReviewConfig(**kwargs)
