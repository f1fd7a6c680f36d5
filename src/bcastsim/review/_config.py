"""``[tool.bcastsim]`` in ``pyproject.toml``: which rules run, what counts as sensitive, the transport.

Keys read here (other keys in the table belong to other parts of bcastsim and are left alone)::

    [tool.bcastsim]
    transport = "auto"                     # or "supabase-realtime", "postgres"
    disable = ["update-any-column"]        # rule ids to skip
    enable = []                            # when non-empty: only these rules run
    sensitive-columns = ["*.email", "people.*", "*.person_id"]   # table.column globs
    sensitive-keys = ["*bidder*", "*voter*"]                     # payload key globs
    restricted-topics = ["*admin*"]        # topic globs that only some roles may read
    restricted-tables = ["votes"]          # tables whose rows only some roles may read
    hot-tables = ["bids", "votes"]         # tables written in bursts by many users at once
    migrations = "goose"                   # force a migration convention (default: detected)
    severity = { "timestamp-semantics" = "note" }                # per-rule override
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from bcastsim._errors import InputError
from bcastsim.findings import Severity

__all__ = [
    "DEFAULT_HOT_TABLES",
    "DEFAULT_RESTRICTED_TABLES",
    "DEFAULT_RESTRICTED_TOPICS",
    "DEFAULT_SENSITIVE_COLUMNS",
    "DEFAULT_SENSITIVE_KEYS",
    "TRANSPORTS",
    "ReviewConfig",
    "find_pyproject",
    "load_config",
]

TRANSPORTS = ("auto", "supabase-realtime", "postgres")

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
    "people.*",
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
DEFAULT_RESTRICTED_TABLES: tuple[str, ...] = ("votes",)
DEFAULT_HOT_TABLES: tuple[str, ...] = ("bids", "votes")

_SEVERITIES = {s.value: s for s in Severity}


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
    source: str | None = None

    def rule_enabled(self, rule_id: str) -> bool:
        if rule_id in self.disable:
            return False
        return not self.enable or rule_id in self.enable

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

    def severity_for(self, rule_id: str, default: Severity) -> Severity:
        return self.severity.get(rule_id, default)


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start`` (a file or a directory)."""
    directory = start if start.is_dir() else start.parent
    for candidate in (directory, *directory.parents):
        path = candidate / "pyproject.toml"
        if path.is_file():
            return path
    return None


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


def load_config(pyproject: Path | None, known_rules: Iterable[str]) -> ReviewConfig:
    """Read ``[tool.bcastsim]`` from ``pyproject`` (``None``: defaults); unknown rule ids are input errors."""
    if pyproject is None:
        return ReviewConfig()
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read {pyproject}: {error}", path=pyproject) from None
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"not valid TOML: {error}", path=pyproject) from None
    table = data.get("tool", {}).get("bcastsim", {})
    if not isinstance(table, dict):
        raise InputError("[tool.bcastsim] must be a table", path=pyproject)
    known = set(known_rules)
    kwargs: dict[str, Any] = {"source": str(pyproject)}

    transport = table.get("transport", "auto")
    if transport not in TRANSPORTS:
        raise InputError(
            f"[tool.bcastsim] transport must be one of {', '.join(TRANSPORTS)}, got {transport!r}",
            path=pyproject,
        )
    kwargs["transport"] = transport

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
                fix="run `bcastsim check --list-rules` for the rule ids",
            )
        kwargs[key] = frozenset(ids)

    for key, attribute in (
        ("sensitive-columns", "sensitive_columns"),
        ("sensitive-keys", "sensitive_keys"),
        ("restricted-topics", "restricted_topics"),
        ("restricted-tables", "restricted_tables"),
        ("hot-tables", "hot_tables"),
    ):
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
    return ReviewConfig(**kwargs)
