"""Migration-tool conventions: which part of a file runs, and in which order a directory runs.

A file holding both directions (sql-migrate ``-- +migrate Up/Down``, goose ``-- +goose Up/Down``,
dbmate ``-- migrate:up/down``) is read for its Up part only: the Down part is blanked, so line
numbers stay. A directory is ordered the way its tool orders it: golang-migrate
``N_name.up.sql`` (numerically, ``.down.sql`` skipped), Flyway ``V1.2__name.sql`` (by version,
``U…`` undo scripts skipped, repeatable ``R__`` scripts last), Sqitch ``deploy/`` (in
``sqitch.plan`` order; ``revert/`` and ``verify/`` skipped); anything else by file name.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs

from bcastsim._errors import InputError

__all__ = ["CONVENTIONS", "Directory", "is_down_file", "order_directory", "up_part"]

CONVENTIONS = ("plain", "sql-migrate", "goose", "dbmate", "golang-migrate", "flyway", "sqitch")

_MARKERS: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = (
    ("sql-migrate", re.compile(r"^\s*--\s*\+migrate\s+up\b", re.I), re.compile(r"^\s*--\s*\+migrate\s+down\b", re.I)),
    ("goose", re.compile(r"^\s*--\s*\+goose\s+up\b", re.I), re.compile(r"^\s*--\s*\+goose\s+down\b", re.I)),
    ("dbmate", re.compile(r"^\s*--\s*migrate:up\b", re.I), re.compile(r"^\s*--\s*migrate:down\b", re.I)),
)
# Either marker of a convention anywhere in a text: a line holding one is a match here too, so a
# text with none is passed over without a look at each of its lines.
_ANYWHERE = {name: re.compile(f"(?:{up.pattern})|(?:{down.pattern})", re.I | re.M) for name, up, down in _MARKERS}
_GOLANG_MIGRATE = re.compile(r"^(\d+)_.*\.(up|down)\.sql$")
_FLYWAY = re.compile(r"^([VUR])([0-9._]*)__.*\.sql$")


_DOWN_FILE = re.compile(r"(?:^|[/\\._])down\.sql$", re.I)


def is_down_file(path: str) -> bool:
    """``N_name.down.sql`` (golang-migrate) or ``N/down.sql`` (que): a rollback, not a migration."""
    return _DOWN_FILE.search(path) is not None


# What each convention's markers spell, lower-cased.
_SPELLED = {"sql-migrate": "+migrate", "goose": "+goose", "dbmate": "migrate:"}


def _may_hold_marker(text: str, lowered: str | None, name: str) -> bool:
    """Whether a marker of convention ``name`` may be in ``text`` (False: certainly none is).

    ``lowered``: the text lower-cased when it is ASCII, else None. The patterns match case-blind,
    and in Unicode that lets a few other letters stand for ASCII ones (``ſ`` for ``s``, ``ı`` for
    ``i``): only an ASCII text is settled by the markers' lower-cased spelling; another is searched.
    """
    if lowered is None:
        return _ANYWHERE[name].search(text) is not None
    return _SPELLED[name] in lowered


def up_part(text: str, convention: str | None = None) -> tuple[str, str, tuple[int, int] | None]:
    """(text with Down parts blanked, convention detected, first and last line blanked or None).

    ``convention`` forces one (``plain`` reads the file whole).
    """
    lowered = text.lower() if text.isascii() else None
    lines: list[str] | None = None
    for name, up, down in _MARKERS:
        if convention not in (None, name) or not _may_hold_marker(text, lowered, name):
            continue
        if lines is None:
            lines = text.split("\n")
        if not any(down.match(line) or up.match(line) for line in lines):
            continue
        out: list[str] = []
        skipping = False
        skipped: list[int] = []
        for number, line in enumerate(lines, start=1):
            if up.match(line):
                skipping = False
            elif down.match(line):
                skipping = True
            if skipping:
                skipped.append(number)
                out.append("")
            else:
                out.append(line)
        return "\n".join(out), name, (skipped[0], skipped[-1]) if skipped else None
    return text, "plain", None


@attrs.frozen
class Directory:
    """A directory's files in the order its migration tool runs them."""

    files: tuple[Path, ...]
    convention: str
    #: its other ``*.sql`` files, which the tool does not run on the way up (Down and undo scripts, revert/)
    left_out: tuple[Path, ...] = ()

    @property
    def left_out_context(self) -> str:
        """How a use in a left-out file is placed: ``in a file golang-migrate does not run on the way up``."""
        return f"in a file {self.convention} does not run on the way up"


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.split(r"[._]", version) if part.isdigit())


def _sqitch(directory: Path) -> Directory | None:
    deploy = directory / "deploy"
    if not deploy.is_dir():
        return None
    plan = directory / "sqitch.plan"
    ordered: list[Path] = []
    if plan.is_file():
        for raw in plan.read_text(encoding="utf-8", errors="replace").splitlines():
            entry = raw.strip()
            if not entry or entry.startswith(("%", "#", "@")):
                continue
            candidate = deploy / f"{entry.split()[0]}.sql"
            if candidate.is_file() and candidate not in ordered:
                ordered.append(candidate)
    rest = sorted(p for p in deploy.rglob("*.sql") if p.is_file() and p not in ordered)
    run = set(ordered + rest)
    left_out = sorted(p for p in directory.rglob("*.sql") if p.is_file() and p not in run)
    return Directory(tuple(ordered + rest), "sqitch", tuple(left_out))


def order_directory(directory: Path, convention: str | None = None) -> Directory:
    """The ``*.sql`` files of ``directory`` in the order its migration tool runs them.

    A directory below it that cannot be listed or searched (``deploy/``) is an input error.
    """
    try:
        return _order_directory(directory, convention)
    except OSError as error:
        raise InputError(
            f"cannot read the directory: {error.strerror or type(error).__name__}",
            path=error.filename or directory,
            fix="check the directory's permissions",
        ) from None


def _order_directory(directory: Path, convention: str | None) -> Directory:
    if convention in (None, "sqitch"):
        sqitch = _sqitch(directory)
        if sqitch is not None:
            return sqitch
    found = sorted(p for p in directory.glob("*.sql") if p.is_file())
    names = [p.name for p in found]
    if convention in (None, "golang-migrate") and names and any(_GOLANG_MIGRATE.match(n) for n in names):
        ups = [p for p in found if (m := _GOLANG_MIGRATE.match(p.name)) and m.group(2) == "up"]
        ups.sort(key=lambda p: (int(_GOLANG_MIGRATE.match(p.name).group(1)), p.name))  # type: ignore[union-attr]
        return Directory(tuple(ups), "golang-migrate", tuple(p for p in found if p not in ups))
    if convention in (None, "flyway") and names and any(_FLYWAY.match(n) for n in names):
        versioned = [p for p in found if (m := _FLYWAY.match(p.name)) and m.group(1) == "V"]
        versioned.sort(key=lambda p: _version_key(_FLYWAY.match(p.name).group(2)))  # type: ignore[union-attr]
        repeatable = [p for p in found if (m := _FLYWAY.match(p.name)) and m.group(1) == "R"]
        others = [p for p in found if not _FLYWAY.match(p.name)]
        run = versioned + repeatable + others
        return Directory(tuple(run), "flyway", tuple(p for p in found if p not in run))
    return Directory(tuple(found), "plain")
