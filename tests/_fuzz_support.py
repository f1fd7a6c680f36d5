"""Running the CLI on hostile input inside bounds, and the strategies that make the input.

Each run forks: the child sets a memory limit, points ``TMPDIR`` at a private directory and
calls :func:`bcastsim.cli.main`; the parent kills it after a time limit. The result records
what a caller would see (status, standard output and error) and whether it ran out of
memory or time, so a test can assert on all of it.
"""

from __future__ import annotations

import math
import os
import resource
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import attrs
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "sim_tiny.toml"

TIME_LIMIT_S = 90.0
MEMORY_LIMIT_BYTES = 3 * 1024**3
# Exit status of the child when main() let something other than SystemExit escape: never expected.
_ESCAPED = 99
_OUT_OF_MEMORY = 98


def fuzz_examples(default: int) -> int:
    """Examples per fuzz test: ``default`` in CI, ``BCASTSIM_FUZZ_EXAMPLES`` for a longer run by hand."""
    raw = os.environ.get("BCASTSIM_FUZZ_EXAMPLES", "")
    return int(raw) if raw.strip() else default


@attrs.frozen
class Outcome:
    argv: tuple[str, ...]
    status: int
    out: str
    err: str
    seconds: float
    timed_out: bool
    out_of_memory: bool

    def problems(self) -> list[str]:
        """What is wrong with this run for a hostile-input test (empty: nothing)."""
        found = []
        if self.timed_out:
            found.append(f"did not finish within {TIME_LIMIT_S:.0f} s")
        if self.out_of_memory:
            found.append(f"ran out of its {MEMORY_LIMIT_BYTES >> 30} GiB of memory")
        if self.status not in (0, 1, 2) and not (self.timed_out or self.out_of_memory):
            found.append(f"exit status {self.status}")
        if "Traceback" in self.err:
            found.append("printed a traceback")
        if self.status == 2:
            lines = self.err.strip().splitlines()
            if len(lines) != 1 or not lines[0].startswith("bcastsim: error: "):
                found.append(f"error is not one line: {self.err[:500]!r}")
        return found


def _warm() -> None:
    """Import what the commands import, once, so that each forked child starts with it loaded.

    A child run as another user ('nobody') may not be able to read the interpreter's own library:
    the modules the commands load lazily are loaded here, before the fork.
    """
    import importlib

    from bcastsim import review, sim, sqlmodel  # noqa: F401
    from bcastsim.cli import build_parser

    build_parser()
    for name in (
        "bcastsim.review._run",
        "bcastsim.review._report",
        "bcastsim._commands.check",
        "bcastsim._commands.inspect",
        "bcastsim._commands.review",
        "bcastsim._commands.simulate",
        "bcastsim.sim._app",
        "importlib.metadata",
        "email.parser",
        "concurrent.futures.thread",
    ):
        importlib.import_module(name)


def run_bounded(
    argv: Sequence[str], cwd: Path, *, time_limit: float = TIME_LIMIT_S, run_as: tuple[int, int] | None = None
) -> Outcome:
    """Run ``bcastsim ARGV`` in a forked child within the time and memory limits (as ``run_as`` uid, gid)."""
    _warm()
    scratch = Path(tempfile.mkdtemp(prefix="bcastsim-fuzz-run-"))
    out_path, err_path, tmp = scratch / "out", scratch / "err", scratch / "tmp"
    tmp.mkdir()
    tmp.chmod(0o777)
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        _child(list(argv), cwd, out_path, err_path, tmp, run_as=run_as)
    timed_out = False
    while True:
        done, wait_status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - start > time_limit:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            timed_out = True
            wait_status = 0
            break
        time.sleep(0.005)
    seconds = time.monotonic() - start
    status = os.waitstatus_to_exitcode(wait_status) if not timed_out else -signal.SIGKILL
    out = out_path.read_text(errors="replace") if out_path.exists() else ""
    err = err_path.read_text(errors="replace") if err_path.exists() else ""
    leftovers = sorted(p.name for p in tmp.iterdir())
    _remove(scratch)
    if leftovers and status != 3:
        err += f"\n(left temporary files behind: {leftovers})"
    return Outcome(tuple(argv), status, out, err, seconds, timed_out, status == _OUT_OF_MEMORY)


def _remove(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _child(  # pragma: no cover
    argv: list[str], cwd: Path, out_path: Path, err_path: Path, tmp: Path, *, run_as: tuple[int, int] | None
) -> None:
    status = _ESCAPED
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
        sys.stdout = open(out_path, "w", encoding="utf-8")  # noqa: SIM115 - flushed before _exit below
        sys.stderr = open(err_path, "w", encoding="utf-8")  # noqa: SIM115
        sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115
        if run_as is not None:
            os.setgroups([])
            os.setgid(run_as[1])
            os.setuid(run_as[0])
        os.chdir(cwd)
        os.environ["TMPDIR"] = str(tmp)
        tempfile.tempdir = None
        from bcastsim.cli import main

        try:
            status = main(argv)
        except SystemExit as exited:
            status = exited.code if isinstance(exited.code, int) else 2
    except MemoryError:
        status = _OUT_OF_MEMORY
    except BaseException as error:
        print(f"escaped main(): {type(error).__name__}: {error}", file=sys.stderr)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path below ``root`` (not following links) with its type, size and modification time."""
    found: dict[str, tuple[int, int, int]] = {}
    for directory, names, files in os.walk(root, followlinks=False):
        for name in [*names, *files]:
            path = Path(directory) / name
            try:
                info = path.lstat()
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode):
                # A directory changes whenever an entry is added; its entries are compared instead.
                found[str(path.relative_to(root))] = (info.st_mode, 0, 0)
            else:
                found[str(path.relative_to(root))] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return found


def changed(before: dict[str, tuple[int, int, int]], after: dict[str, tuple[int, int, int]]) -> set[str]:
    return {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}


# -- strategies ----------------------------------------------------------------------------

NASTY_NUMBERS: tuple[object, ...] = (0, -1, math.nan, math.inf, -math.inf, 10**30, 2**63, 1e308, -(2**63))


def toml_value(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    return str(value)


ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32", "latin-1", "cp1252", "shift_jis")


@st.composite
def encoded_text(draw: st.DrawFn, text: st.SearchStrategy[str]) -> bytes:
    """``text`` in some encoding (errors replaced), sometimes cut mid-character or with a stray byte."""
    value = draw(text)
    encoding = draw(st.sampled_from(ENCODINGS))
    data = value.encode(encoding, errors="replace")
    cut = draw(st.sampled_from(("whole", "truncate", "stray")))
    if cut == "truncate" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif cut == "stray":
        position = draw(st.integers(0, len(data)))
        data = data[:position] + draw(st.binary(min_size=1, max_size=4)) + data[position:]
    return data


def mutated_lines(base: str) -> st.SearchStrategy[str]:
    """``base`` with lines dropped, duplicated or rewritten: still looks like the real thing."""
    lines = base.splitlines()

    @st.composite
    def build(draw: st.DrawFn) -> str:
        out = list(lines)
        for _ in range(draw(st.integers(1, 4))):
            if not out:
                break
            index = draw(st.integers(0, len(out) - 1))
            action = draw(st.sampled_from(("drop", "duplicate", "replace", "insert")))
            if action == "drop":
                del out[index]
            elif action == "duplicate":
                out.insert(index, out[index])
            else:
                junk = draw(
                    st.one_of(
                        st.text(max_size=40),
                        st.sampled_from(("[", "]]", "= =", "x = ", "'''", '"\\u00', "[scenario", "\x00", "\ufeff")),
                    )
                )
                if action == "replace":
                    out[index] = junk
                else:
                    out.insert(index, junk)
        return "\n".join(out) + "\n"

    return build()


FILE_NAME = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="/\x00"), min_size=1, max_size=60
).filter(lambda name: name not in {".", ".."})


# -- statements that need a superuser, wherever they sit ---------------------------------------------------

# kind → statements of that kind ({path} and {role} are drawn); "SELECT …" becomes PERFORM in PL/pgSQL.
PRIVILEGED_STATEMENTS: dict[str, tuple[str, ...]] = {
    "copy-program": ("COPY (SELECT 1) TO PROGRAM '{path}'", "COPY bcastsim_t FROM PROGRAM '{path}'"),
    "copy-server-file": ("COPY bcastsim_t FROM '{path}'", "COPY (SELECT 1) TO '{path}' WITH (FORMAT csv)"),
    "server-file-access": (
        "SELECT pg_read_file('{path}')",
        "SELECT pg_catalog.pg_read_binary_file('{path}')",
        "SELECT pg_ls_dir('{path}')",
        "SELECT (pg_stat_file('{path}')).size",
    ),
    "large-object-file": ("SELECT lo_import('{path}')", "SELECT lo_export(16400, '{path}')"),
    "alter-system": ("ALTER SYSTEM SET archive_command = '{path}'", "ALTER SYSTEM RESET ALL"),
    "dangerous-extension": ("CREATE EXTENSION IF NOT EXISTS dblink", "CREATE EXTENSION file_fdw"),
    "untrusted-language": ("CREATE EXTENSION plperlu", "CREATE LANGUAGE plpython3u"),
    "set-role": ("SET ROLE {role}", "SET SESSION AUTHORIZATION {role}", "SELECT set_config('role', '{role}', true)"),
    "dblink": ("SELECT dblink_exec('host={role}', 'SELECT 1')", "SELECT dblink_connect('dbname={role}')"),
}
PLACES = ("top", "do", "plpgsql", "sql", "execute-in-do", "execute-in-function")
HANDLERS = ("none", "others", "insufficient_privilege", "sqlstate", "reraised", "other-condition")
_SAFE_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_/.-0123456789", min_size=1, max_size=20)
_IDENTIFIER = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)


@attrs.frozen
class HostileSql:
    text: str
    kind: str
    #: whether the finding must say a refusal is swallowed by an EXCEPTION
    swallowed: bool


def _plpgsql(statement: str) -> str:
    return "PERFORM " + statement.removeprefix("SELECT ") if statement.startswith("SELECT ") else statement


@st.composite
def hostile_sql(draw: st.DrawFn) -> HostileSql:
    """A file with one statement that needs a superuser, at some place, maybe in an EXCEPTION block or suppressed."""
    kind = draw(st.sampled_from(sorted(PRIVILEGED_STATEMENTS)))
    statement = draw(st.sampled_from(PRIVILEGED_STATEMENTS[kind])).format(
        path=draw(_SAFE_WORD), role=draw(_IDENTIFIER)
    )
    place = draw(st.sampled_from(PLACES))
    if place == "sql" and not statement.startswith(("SELECT", "COPY", "SET")):
        place = "top"  # DDL in a SQL function's body would not be created when the function is
    handler = draw(st.sampled_from(HANDLERS)) if place not in ("top", "sql") else "none"
    inner = statement
    if place.startswith("execute"):
        inner = "EXECUTE '" + statement.replace("'", "''") + "'"
    elif place in ("do", "plpgsql"):
        inner = _plpgsql(statement)
    clause = {
        "none": None,
        "others": "WHEN OTHERS THEN NULL;",
        "insufficient_privilege": "WHEN insufficient_privilege THEN RAISE NOTICE 'refused';",
        "sqlstate": "WHEN SQLSTATE '42501' THEN NULL;",
        "reraised": "WHEN OTHERS THEN RAISE;",
        "other-condition": "WHEN division_by_zero THEN NULL;",
    }[handler]
    catches = handler in ("others", "insufficient_privilege", "sqlstate")
    if kind == "dblink":
        catches = handler == "others"  # dblink refuses with 2F003, which only OTHERS (of these) catches
    body = f"  {inner};" if clause is None else f"  BEGIN\n    {inner};\n  EXCEPTION {clause}\n  END;"
    prefix = "CREATE TABLE bcastsim_t (id int);\n"
    suppress = draw(st.sampled_from(["", f"-- bcastsim: ignore[{kind}]\n", f"-- bcastsim: ignore-file[{kind}]\n"]))
    if place == "top":
        text = f"{prefix}{suppress}{statement};\n"
    elif place == "sql":
        header = "CREATE FUNCTION bcastsim_f() RETURNS void LANGUAGE sql AS $f$"
        text = f"{prefix}{suppress}{header}\n  {statement};\n$f$;\n"
    elif place in ("do", "execute-in-do"):
        text = f"{prefix}{suppress}DO $d$\nBEGIN\n{body}\nEND $d$;\n"
    else:
        text = (
            f"{prefix}{suppress}CREATE FUNCTION bcastsim_f() RETURNS trigger LANGUAGE plpgsql AS $f$\nBEGIN\n{body}\n"
            "  RETURN NEW;\nEND $f$;\n"
        )
    return HostileSql(text, kind, catches)


# -- SQL over a bound (under BCASTSIM_LIMIT_SCALE=SCALE: bytes 3,355, line 209, statements 10, function 419) ---

BOUND_SCALE = "0.0001"


@st.composite
def oversized_sql(draw: st.DrawFn) -> tuple[str, str]:
    """(SQL over one bound at :data:`BOUND_SCALE`, the words its error names)."""
    bound = draw(st.sampled_from(["file", "line", "statements", "function", "do"]))
    word = draw(_SAFE_WORD)
    if bound == "file":
        line = f"-- {word}\n"
        return line * (3400 // len(line) + 1) + "SELECT 1;\n", "SQL file is"
    if bound == "line":
        return "SELECT 1;\nSELECT '" + word * (220 // len(word) + 1) + "';\n", "bytes long"
    if bound == "statements":
        return f"SELECT '{word}';\n" * draw(st.integers(11, 40)), "statements"
    body = "\n".join(f"  PERFORM '{word}{n}';" for n in range(draw(st.integers(30, 60))))
    if bound == "do":
        return f"DO $$\nBEGIN\n{body}\nEND $$;\n", "DO block is"
    return f"CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\n{body}\nEND $$;\n", "function f is"


# -- a configuration whose tool table is not a table ---------------------------------------------------------

_NOT_A_TABLE = st.sampled_from(["5", "-1", "1.5", "true", '"bcastsim"', "[1, 2]", "[]", "1979-05-27", "inf"])


@st.composite
def non_table_config(draw: st.DrawFn) -> str:
    """A pyproject.toml where `tool`, `tool.bcastsim` or `tool.bcastsim.sql-limits` is a number, string or array."""
    value = draw(_NOT_A_TABLE)
    where = draw(st.sampled_from(["tool", "bcastsim", "sql-limits", "sql-limit"]))
    head = '[project]\nname = "x"\n'
    if where == "tool":
        return f"tool = {value}\n{head}"
    if where == "bcastsim":
        return f"{head}[tool]\nbcastsim = {value}\n"
    if where == "sql-limits":
        return f"{head}[tool.bcastsim]\nsql-limits = {value}\n"
    return f"{head}[tool.bcastsim.sql-limits]\nline-bytes = {value}\n"


# -- expressions that are NULL, or may be -------------------------------------------------------------------


def null_expressions() -> st.SearchStrategy[str]:
    """SQL expressions built of NULL, COALESCE, NULLIF, CASE and casts, nested."""
    leaves = st.sampled_from(["NULL", "'a'", "''", "NEW.id::text", "1", "NULL::text", "NULLIF('a', 'a')"])
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(lambda p: f"COALESCE({p[0]}, {p[1]})"),
            st.tuples(inner, inner).map(lambda p: f"NULLIF({p[0]}, {p[1]})"),
            st.tuples(inner, inner).map(lambda p: f"CASE WHEN {p[0]} IS NULL THEN {p[1]} END"),
            st.tuples(inner, inner).map(lambda p: f"concat({p[0]}, {p[1]})"),
            st.tuples(inner, inner).map(lambda p: f"({p[0]} || {p[1]})"),
            inner.map(lambda e: f"({e})::text"),
        ),
        max_leaves=6,
    )
