"""Temporary directories and child processes that outlive nothing: a reaper owns them from their first instant.

The reaper (``pg/_reaper.py``, standard library only) runs in its own session, creates the
directory and prints its path; it removes the directory, and kills the processes registered with
it, when its stdin reaches end of file: when the owner closes it, exits, or is killed (even by
SIGKILL). Throwaway PostgreSQL servers, the node processes of ``check --client`` and the work
folder of ``review`` are all owned this way.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["reaped_directory", "start_reaper"]

_SCRIPT = Path(__file__).parent / "pg" / "_reaper.py"


def start_reaper(prefix: str) -> tuple[subprocess.Popen[bytes], Path]:
    """The reaper, and the directory it created and owns (removed when our end of its pipe closes).

    Write ``server <pid>`` or ``group <pgid>`` lines to its stdin to hand it processes to end.
    """
    # A plain script without site packages: it starts in a few milliseconds and imports nothing of ours.
    reaper = subprocess.Popen(
        [sys.executable, "-I", "-S", str(_SCRIPT), prefix],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert reaper.stdout is not None
    line = reaper.stdout.readline().decode("utf-8", "replace").strip()
    reaper.stdout.close()
    if not line:
        if reaper.stdin is not None:
            reaper.stdin.close()
        reaper.wait()
        raise OSError(f"the clean-up process could not create a temporary directory (status {reaper.returncode})")
    return reaper, Path(line)


@contextlib.contextmanager
def reaped_directory(prefix: str) -> Iterator[Path]:
    """A temporary directory owned by a reaper: removed at the end, or when this process dies in any way."""
    reaper, directory = start_reaper(prefix)
    try:
        yield directory
    finally:
        if reaper.stdin is not None:
            reaper.stdin.close()
        reaper.wait()
        shutil.rmtree(directory, ignore_errors=True)
