"""How large a SQL file may be before it is read: bytes, line length, statements, one function's size.

The bounds are far above what migrations reach (a 25,000-line Supabase baseline is about 1 MB in
some 5,000 statements, its longest line a few kilobytes) and keep a hostile file from driving the
parser and the analyses into minutes or gigabytes. Each is checked where it is cheap: bytes and
lines before PostgreSQL's parser sees the text, statements and function sizes right after. A file
over a bound is an input error naming the file, the line, the bound and how to raise it:
``[tool.bcastsim.sql-limits]`` for ``check`` and ``review``, ``BCASTSIM_LIMIT_SCALE`` for every
command (it multiplies every size bound, as it does a scenario's).
"""

from __future__ import annotations

from typing import Any

import attrs

from bcastsim._errors import InputError
from bcastsim._toml import LIMIT_SCALE_ENV, limit_scale

__all__ = ["SQL_LIMIT_KEYS", "SqlLimits"]

_MIB = 1024 * 1024

#: ``[tool.bcastsim.sql-limits]`` key → attribute
SQL_LIMIT_KEYS = {
    "file-bytes": "file_bytes",
    "line-bytes": "line_bytes",
    "statements": "statements",
    "function-bytes": "function_bytes",
}


@attrs.frozen
class SqlLimits:
    """The bounds on one SQL file (see the module's docstring); each is multiplied by ``BCASTSIM_LIMIT_SCALE``."""

    file_bytes: int = 32 * _MIB
    line_bytes: int = 2 * _MIB
    statements: int = 100_000
    function_bytes: int = 4 * _MIB

    def _bound(self, attribute: str) -> int:
        return int(getattr(self, attribute) * limit_scale())

    def _error(self, what: str, attribute: str, path: str, line: int | None) -> InputError:
        key = next(key for key, name in SQL_LIMIT_KEYS.items() if name == attribute)
        return InputError(
            f"{what}, over the bound of {self._bound(attribute):,}",
            path=path,
            line=line,
            fix=f"raise it with [tool.bcastsim.sql-limits] {key} = N (check, review) or {LIMIT_SCALE_ENV}=N",
        )

    def check_text(self, text: str, path: str) -> None:
        """The file's size and its longest line, before it is parsed."""
        size = len(text.encode("utf-8"))
        if size > self._bound("file_bytes"):
            raise self._error(f"SQL file is {size:,} bytes", "file_bytes", path, None)
        bound = self._bound("line_bytes")
        if size <= bound or max(map(len, text.split("\n"))) <= bound // 4:
            return  # no line can be longer than the file, nor (at 4 bytes a character at most) than the bound
        start = 0
        number = 1
        while start <= len(text):
            end = text.find("\n", start)
            end = len(text) if end < 0 else end
            # Characters are at most 4 bytes: only a line that might be over the bound is encoded.
            if end - start > bound // 4 and len(text[start:end].encode("utf-8")) > bound:
                length = len(text[start:end].encode("utf-8"))
                raise self._error(f"line {number} is {length:,} bytes long", "line_bytes", path, number)
            start = end + 1
            number += 1

    def check_statements(self, count: int, path: str, line_of: Any) -> None:
        """The number of statements in one file (``line_of(index)``: the line of statement ``index``)."""
        bound = self._bound("statements")
        if count > bound:
            raise self._error(f"SQL file holds {count:,} statements", "statements", path, line_of(bound))

    def check_function(self, name: str, size: int, path: str, line: int, bound: int) -> None:
        """One CREATE FUNCTION or DO statement's size in bytes (``bound``: :meth:`function_bound`, read once a file)."""
        if size > bound:
            raise self._error(f"{name} is {size:,} bytes", "function_bytes", path, line)

    def function_bound(self) -> int:
        """The largest CREATE FUNCTION or DO statement allowed, in bytes (the environment's scale applied)."""
        return self._bound("function_bytes")

    @classmethod
    def from_table(cls, table: Any, path: Any, line_of: Any) -> SqlLimits:
        """``[tool.bcastsim.sql-limits]``: each key a whole number of at least 1 (``line_of(key)``: its line)."""
        if not isinstance(table, dict):
            raise InputError(
                "[tool.bcastsim] sql-limits must be a table of bound = number",
                path=path,
                fix="write e.g. [tool.bcastsim.sql-limits] then file-bytes = 67108864",
            )
        values: dict[str, int] = {}
        for key, value in table.items():
            if key not in SQL_LIMIT_KEYS:
                raise InputError(
                    f"unknown key {key!r} in [tool.bcastsim.sql-limits]",
                    path=path,
                    line=line_of(key),
                    fix=f"known keys: {', '.join(SQL_LIMIT_KEYS)}",
                )
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**40:
                raise InputError(
                    f"[tool.bcastsim.sql-limits] {key} must be a whole number from 1 to {2**40:,}, got {value!r}",
                    path=path,
                    line=line_of(key),
                    fix=f"e.g. {key} = {getattr(cls(), SQL_LIMIT_KEYS[key]) * 2}",
                )
            values[SQL_LIMIT_KEYS[key]] = value
        return cls(**values)
