"""Errors that reach the user as one line and exit status 2."""

from __future__ import annotations

from pathlib import Path

__all__ = ["InputError", "UnsupportedError"]


class InputError(Exception):
    """Bad input from the user: names the file, the line and how to fix it.

    The CLI prints :meth:`one_line` and exits with status 2; library callers can
    catch it and read the attributes.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.fix = fix

    def location(self) -> str:
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}" if self.line is not None else self.path

    def one_line(self) -> str:
        where = self.location()
        text = f"{where}: {self.message}" if where else self.message
        if self.fix:
            text += f" (fix: {self.fix})"
        return " ".join(text.split())


class UnsupportedError(InputError):
    """A SQL or PL/pgSQL construct the analysis or the model cannot handle."""

    def __init__(
        self,
        construct: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(f"unsupported: {construct}", path=path, line=line, fix=fix)
        self.construct = construct
