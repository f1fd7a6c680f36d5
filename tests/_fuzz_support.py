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
    """Import what the commands import, once, so that each forked child starts with it loaded."""
    from bcastsim import review, sim, sqlmodel  # noqa: F401
    from bcastsim.cli import build_parser

    build_parser()


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
