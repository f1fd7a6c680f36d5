"""Reading TOML input files so that every error names the file and, where it can, the line."""

from __future__ import annotations

import math
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import attrs

from bcastsim._errors import InputError
from bcastsim._io import read_text

__all__ = ["LIMIT_SCALE_ENV", "Range", "check_number", "limit_scale", "line_of", "read_toml"]


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
