"""What psql reads that the SQL parser does not: meta-commands, ``COPY … FROM stdin`` data, variables.

``pg_dump`` output and hand-written scripts hold psql meta-commands (``\\connect``,
``\\set``) and data blocks after ``COPY … FROM stdin;`` ending in ``\\.``. Neither is SQL:
they are blanked (line numbers stay) and reported as notes. A psql variable (``:name``,
``:'name'``) is text psql substitutes before PostgreSQL sees the file; without its value the
file cannot be read, so it is an input error naming the variable.
"""

from __future__ import annotations

import re

import attrs

__all__ = ["PsqlNote", "find_psql_variable", "strip_psql"]

_COPY_STDIN = re.compile(r"^\s*COPY\b[^;]*\bFROM\s+stdin\b[^;]*;\s*$", re.IGNORECASE)
_META = re.compile(r"^\s*\\([a-zA-Z!?]+|\.)")
_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_VARIABLE = re.compile(r"(?<![:\w]):(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1(?!:)")


@attrs.frozen
class PsqlNote:
    """A part of the file that is psql's, not SQL: its 1-based line and what was skipped."""

    line: int
    code: str
    message: str


def strip_psql(text: str) -> tuple[str, list[PsqlNote]]:
    """``text`` with meta-command lines and COPY data blanked, and a note for each skipped part."""
    lines = text.split("\n")
    notes: list[PsqlNote] = []
    out: list[str] = []
    in_copy = False
    dollar: str | None = None
    for number, line in enumerate(lines, start=1):
        if in_copy:
            if line.strip() == "\\.":
                in_copy = False
            out.append("")
            continue
        if dollar is None and _META.match(line):
            command = _META.match(line)
            name = command.group(1) if command else "?"
            notes.append(PsqlNote(number, "psql-meta-command", f"psql meta-command \\{name} is not SQL: skipped"))
            out.append("")
            continue
        out.append(line)
        for match in _DOLLAR.finditer(line):
            tag = match.group(0)
            if dollar is None:
                dollar = tag
            elif tag == dollar:
                dollar = None
        if dollar is None and _COPY_STDIN.match(line):
            in_copy = True
            notes.append(
                PsqlNote(number, "copy-data", "COPY … FROM stdin data is skipped: rows loaded there are not modelled")
            )
    return "\n".join(out), notes


def _code_only(text: str) -> str:
    """``text`` with string literals, quoted identifiers, comments and dollar-quoted bodies blanked."""
    pattern = re.compile(
        r"(?<![:\w]):(?:'\w+'|\"\w+\")|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|(\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$).*?\1",
        re.DOTALL,
    )

    def keep_lines(match: re.Match[str]) -> str:
        chunk = match.group(0)
        if chunk.startswith(":"):
            return chunk  # :'name' and :"name" are psql variables: keep them visible
        return re.sub(r"[^\n]", " ", chunk)

    return pattern.sub(keep_lines, text)


def find_psql_variable(text: str) -> tuple[str, int] | None:
    """The first psql variable (``:name``) outside strings and bodies, with its line, or None."""
    code = _code_only(text)
    for match in _VARIABLE.finditer(code):
        before = code[max(match.start() - 1, 0) : match.start()]
        if before in {"["}:
            continue
        return match.group(0), code.count("\n", 0, match.start()) + 1
    return None
