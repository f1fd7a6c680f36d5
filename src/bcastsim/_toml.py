"""Reading TOML input files so that every error names the file and, where it can, the line."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from bcastsim._errors import InputError
from bcastsim._io import read_text

__all__ = ["line_of", "read_toml"]


def read_toml(path: Path, what: str) -> tuple[str, dict[str, Any]]:
    """The text of ``path`` and its parsed tables; unreadable or malformed files are input errors."""
    text = read_text(path, what)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"line (\d+)", str(error))
        raise InputError(
            f"not valid TOML: {error}",
            path=path,
            line=int(match.group(1)) if match else None,
            fix="see https://toml.io for the syntax",
        ) from error
    return text, data


def line_of(text: str, table: str | None, key: str, occurrence: int = 0) -> int | None:
    """The line of ``key`` (inside ``[table]`` when given; the header itself when ``key`` is empty), 1-based."""
    lines = text.splitlines()
    start = 0
    if table is not None:
        header = re.compile(rf"^\s*\[\[?\s*{re.escape(table)}\s*\]\]?\s*(#.*)?$")
        hits = [i for i, line in enumerate(lines) if header.match(line)]
        if len(hits) > occurrence:
            start = hits[occurrence]
            if not key:
                return start + 1
        elif not key:
            return None
    pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
    for i in range(start, len(lines)):
        if i > start and table is not None and re.match(r"^\s*\[", lines[i]):
            break
        if pattern.match(lines[i]):
            return i + 1
    for i, line in enumerate(lines):
        if pattern.match(line):
            return i + 1
    return None
