"""Reading TOML input files so that every error names the file and, where it can, the line."""

from __future__ import annotations

import bisect
import functools
import math
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import attrs

from bcastsim._errors import InputError
from bcastsim._io import read_text

__all__ = [
    "LIMIT_SCALE_ENV",
    "MAX_TOML_DEPTH",
    "Range",
    "check_number",
    "limit_scale",
    "line_of",
    "read_toml",
    "toml_depth",
]


# bcastsim's TOML inputs (scenarios, plans, costs, pyproject.toml) are a few tables deep; a file nested far
# deeper is hostile or broken, and tomllib would recurse through it (RecursionError).
MAX_TOML_DEPTH = 32
MAX_TOML_BYTES = 4 * 1024 * 1024


def toml_depth(text: str) -> tuple[int, int]:
    """The deepest nesting of arrays, inline tables and dotted keys in ``text``, and its line; one linear pass."""
    depth = deepest = dots = 0
    line = where = 1
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in "\n=,":
            dots = 0  # a dotted key ends at its '=' (or a table header at its line)
            line += char == "\n"
        elif char == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif char in "\"'":
            triple = text.startswith(char * 3, i)
            quote = char * 3 if triple else char
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if text[j] == "\\" and char == '"':
                    j += 1
                elif text[j] == "\n":
                    if not triple:
                        break
                    line += 1
                j += 1
            i = j + len(quote)
            continue
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth = max(0, depth - 1)
        elif char == ".":
            dots += 1
        if depth + dots > deepest:
            deepest, where = depth + dots, line
        i += 1
    return deepest, where


def read_toml(path: Path, what: str) -> tuple[str, dict[str, Any]]:
    """The text of ``path`` and its parsed tables; unreadable, malformed, too large or too deep files are errors."""
    text = read_text(path, what)
    if len(text) > MAX_TOML_BYTES:
        raise InputError(
            f"the {what} file has {len(text):,} characters; bcastsim reads TOML files up to {MAX_TOML_BYTES:,}",
            path=path,
            fix="split it, or keep only the tables bcastsim reads",
        )
    depth, line = toml_depth(text)
    if depth > MAX_TOML_DEPTH:
        raise InputError(
            f"TOML nested {depth} levels deep (arrays, inline tables or dotted keys); bcastsim reads up to "
            f"{MAX_TOML_DEPTH}",
            path=path,
            line=line,
            fix="flatten the value",
        )
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise InputError(
            "TOML nested too deeply to read", path=path, fix=f"keep nesting under {MAX_TOML_DEPTH} levels"
        ) from None
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"line (\d+)", str(error))
        raise InputError(
            f"not valid TOML: {error}",
            path=path,
            line=int(match.group(1)) if match else None,
            fix="see https://toml.io for the syntax",
        ) from error
    return text, data


_HEADER = re.compile(r"^\s*\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r'^\s*"?([^"=\s]+)"?\s*=')
_OPENS = re.compile(r"^\s*\[")


@functools.lru_cache(maxsize=8)
def _index(text: str) -> tuple[dict[str, list[int]], dict[str, list[int]], list[int]]:
    """Table headers and keys by name, and the lines that open a table: one pass, so lookups stay linear."""
    headers: dict[str, list[int]] = {}
    keys: dict[str, list[int]] = {}
    opens: list[int] = []
    for i, line in enumerate(text.splitlines()):
        if _OPENS.match(line):
            opens.append(i)
            header = _HEADER.match(line)
            if header:
                headers.setdefault(header.group(1), []).append(i)
        key = _KEY.match(line)
        if key:
            keys.setdefault(key.group(1), []).append(i)
    return headers, keys, opens


def line_of(text: str, table: str | None, key: str, occurrence: int = 0) -> int | None:
    """The line of ``key`` (inside ``[table]`` when given; the header itself when ``key`` is empty), 1-based."""
    headers, keys, opens = _index(text)
    start = 0
    if table is not None:
        hits = headers.get(table, [])
        if len(hits) > occurrence:
            start = hits[occurrence]
            if not key:
                return start + 1
        elif not key:
            return None
    found = keys.get(key, [])
    if table is not None:
        following = bisect.bisect_right(opens, start)
        end = opens[following] if following < len(opens) else None
        k = bisect.bisect_left(found, start)
        if k < len(found) and (end is None or found[k] < end):
            return found[k] + 1
    return found[0] + 1 if found else None


# -- numeric ranges ----------------------------------------------------------------------

LIMIT_SCALE_ENV = "BCASTSIM_LIMIT_SCALE"


def limit_scale() -> float:
    """The factor ``BCASTSIM_LIMIT_SCALE`` multiplies every size bound by (default 1)."""
    raw = os.environ.get(LIMIT_SCALE_ENV, "").strip()
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{LIMIT_SCALE_ENV}={raw!r} is not a positive number", fix=f"e.g. {LIMIT_SCALE_ENV}=10")
    return value


def _number(value: float) -> str:
    if isinstance(value, int):
        return f"{value:_}"
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}".replace(",", "_")
    return f"{value:g}"


@attrs.frozen
class Range:
    """Where a number must lie: finite, between ``low`` and ``high`` (each bound open or closed).

    A ``size`` bound keeps a run within memory and time rather than within meaning: it is
    multiplied by :func:`limit_scale`, and its error says how to raise it.
    """

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    size: bool = False

    def upper(self) -> float:
        return self.high * limit_scale() if self.size else self.high

    def describe(self) -> str:
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"{left}{_number(self.low)}, {_number(self.upper())}{right}"

    def problem(self, value: float) -> str | None:
        """Why ``value`` is out of range (with the range), or None when it is in range."""
        if not math.isfinite(value):
            return f"must be a finite number in {self.describe()}, got {value}"
        high = self.upper()
        if value < self.low or (self.low_open and value == self.low):
            return f"must be in {self.describe()}, got {_number(value)}"
        if value > high or (self.high_open and value == high):
            text = f"must be in {self.describe()}, got {_number(value)}"
            if self.size:
                text += f" (a bound on run size; set {LIMIT_SCALE_ENV}=N to multiply it by N)"
            return text
        return None

    def fix(self, key: str, example: float) -> str:
        return f"e.g. {key} = {_number(example)}"


def check_number(
    value: float,
    where: str,
    allowed: Range,
    *,
    path: str | Path | None = None,
    line: int | None = None,
    example: float | None = None,
) -> None:
    """Raise an input error naming ``where`` when ``value`` is outside ``allowed``."""
    problem = allowed.problem(value)
    if problem is not None:
        key = where.rsplit(".", 1)[-1]
        fix = allowed.fix(key, example) if example is not None else f"a value in {allowed.describe()}"
        raise InputError(f"{where} {problem}", path=path, line=line, fix=fix)
