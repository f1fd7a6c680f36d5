"""Channels the project's own code LISTENs on: worker code beside the SQL says who consumes a pg_notify.

A bounded scan of the repository's source files (Python, JavaScript/TypeScript, Ruby, Go, Elixir,
Java, Rust, SQL) for the ways workers subscribe: a LISTEN statement inside a string literal (what
a worker passes to its driver's execute), a LISTEN statement on its own line of SQL, asyncpg's
add_listener with a literal channel, and a listen call with a literal channel (pg-listen, pgx's
Listen, Postgrex.Notifications).

Channels are returned with the first file and line that listens on them. Only literal names count: a
``LISTEN`` built at run time says nothing about which channel.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["MAX_FILES", "project_listens"]

MAX_FILES = 5000
_MAX_BYTES = 1 << 20
_SUFFIXES = frozenset({".py", ".js", ".mjs", ".cjs", ".ts", ".rb", ".go", ".ex", ".exs", ".java", ".kt", ".rs", ".sql"})
# Dependencies, build output, and tests: a listener in a test is not a consumer in production.
_SKIP_DIRS = frozenset(
    {
        ".git",
        "node_modules",
        ".venv",
        "venv",
        "__pycache__",
        "dist",
        "build",
        ".tox",
        ".mypy_cache",
        "target",
        "tests",
        "test",
        "spec",
        "__tests__",
        "fixtures",
    }
)
_PATTERNS = (
    # LISTEN inside a string literal: "LISTEN jobs", 'LISTEN "jobs"', `LISTEN jobs;`
    re.compile(r"""["'`]\s*LISTEN\s+"?([A-Za-z_][\w$:#.-]*)"?\s*;?\s*["'`]""", re.IGNORECASE),
    # a LISTEN statement on its own line of SQL (psql scripts, migrations)
    re.compile(r"""^\s*LISTEN\s+"?([A-Za-z_][\w$]*)"?\s*;""", re.IGNORECASE | re.MULTILINE),
    # asyncpg's add_listener("jobs", callback)
    re.compile(r"""\badd_listener\(\s*["']([^"']+)["']"""),
    # pg-listen / pgx / Postgrex: listen("jobs"), Listen(ctx, "jobs"), listen(pid, "jobs")
    re.compile(r"""\b(?:listen|Listen|listenTo)\(\s*(?:[\w.]+\s*,\s*)?["']([A-Za-z_][^"']*)["']\s*\)"""),
)


def _files(root: Path) -> list[Path]:
    found: list[Path] = []
    stack = [root]
    while stack and len(found) < MAX_FILES:
        directory = stack.pop()
        try:
            entries = sorted(directory.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if entry.name not in _SKIP_DIRS:
                    stack.append(entry)
            elif entry.suffix in _SUFFIXES:
                found.append(entry)
                if len(found) >= MAX_FILES:
                    break
    return sorted(found)


# Per file (path, mtime, size): the channels it listens on with their lines. A check reads the
# project once per run; the test suite and `review` (two versions) read the same files again.
_CACHE: dict[tuple[str, int, int], tuple[tuple[str, int], ...]] = {}


def _listens_in(path: Path) -> tuple[tuple[str, int], ...]:
    try:
        stat = path.stat()
    except OSError:
        return ()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _CACHE:
        found: list[tuple[str, int]] = []
        if stat.st_size <= _MAX_BYTES:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            for pattern in _PATTERNS:
                for match in pattern.finditer(text):
                    found.append((match.group(1), text.count("\n", 0, match.start()) + 1))
        _CACHE[key] = tuple(found)
    return _CACHE[key]


def project_listens(root: Path) -> dict[str, str]:
    """Channel → ``file:line`` of the first place under ``root`` that listens on it (files in name order)."""
    listens: dict[str, str] = {}
    for path in _files(root):
        for channel, line in _listens_in(path):
            try:
                shown = path.relative_to(root)
            except ValueError:
                shown = path
            listens.setdefault(channel, f"{shown}:{line}")
    return dict(sorted(listens.items()))
