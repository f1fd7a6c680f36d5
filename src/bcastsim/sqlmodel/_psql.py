"""What psql reads that the SQL parser does not: meta-commands, ``COPY … FROM stdin`` data, variables.

``pg_dump`` output and hand-written scripts hold psql meta-commands (``\\connect``,
``\\set``) and data blocks after ``COPY … FROM stdin;`` ending in ``\\.``. Neither is SQL:
they are blanked (line numbers stay) and reported as notes. A psql variable (``:name``,
``:'name'``) — or a placeholder of the same form a project's own tool fills in, inside function
bodies too — has no value here: when the file does not parse as it stands, each is read as a
stand-in of the same length (``:name`` → the name ``name``, ``:'name'`` → the literal ``'name'``),
so line numbers stay, and reported as a note. Only when the file does not parse even then is it
an input error naming the variable.
"""

from __future__ import annotations

import re

import attrs

__all__ = ["PsqlNote", "find_psql_variable", "stand_in_psql_variables", "strip_psql"]

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
    # A meta-command starts with a backslash, and COPY reads from stdin: a file with neither
    # (most migrations) is SQL as it stands, found without stepping through its lines.
    if "\\" not in text and "stdin" not in text.lower():
        return text, []
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


# A cast to a type named by a variable: ``x:::schema.type`` is ``x::`` then ``:schema``.
_CAST_TO_VARIABLE = re.compile(r"(?<=[^:]::):(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1(?!:)")
_LITERALS = re.compile(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/|\"(?:[^\"]|\"\")*\"", re.DOTALL)


def stand_in_psql_variables(text: str) -> tuple[str, list[PsqlNote]]:
    """``text`` with every ``:name``/``:'name'``/``:"name"`` outside literals and comments replaced by a stand-in.

    The replacement keeps the length (the colon becomes a space), so offsets and lines stay. One
    note per variable, at its first line.
    """
    keep = [(m.start(), m.end()) for m in _LITERALS.finditer(text) if text[max(m.start() - 1, 0)] != ":"]
    out = []
    position = 0
    notes: dict[str, PsqlNote] = {}
    matches = sorted([*_VARIABLE.finditer(text), *_CAST_TO_VARIABLE.finditer(text)], key=lambda m: m.start())
    for match in matches:
        start = match.start()
        if any(a <= start < b for a, b in keep) or text[max(start - 1, 0) : start] == "[":
            continue
        out.append(text[position:start])
        out.append(" " + match.group(0)[1:])
        position = match.end()
        name = match.group(0)
        if name not in notes:
            line = text.count("\n", 0, start) + 1
            notes[name] = PsqlNote(
                line,
                "psql-variable",
                f"{name} is filled in before PostgreSQL reads the file (psql or the project's own tool): "
                f"read as {match.group(0)[1:]!s}; substitute it for exact names",
            )
    out.append(text[position:])
    return "".join(out), list(notes.values())
