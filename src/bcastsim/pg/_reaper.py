"""Stops a throwaway PostgreSQL server and removes its directory once its owner goes away.

Started by :class:`bcastsim.pg.EphemeralPostgres` with a pipe on stdin. The
owner never writes to it: end-of-file means the owner stopped the server on
purpose, exited, or was killed (even by SIGKILL), and in every case the
server and its directory must go.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited; only its parent's wait() is missing.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def reap(pid: int, directory: str, grace_seconds: float = 10.0) -> None:
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)  # "fast" shutdown: roll back sessions, exit cleanly
        deadline = time.monotonic() + grace_seconds
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + grace_seconds
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
    shutil.rmtree(directory, ignore_errors=True)


def main(argv: list[str]) -> int:
    pid, directory = int(argv[1]), argv[2]
    # Ctrl-C in the terminal must not kill the reaper before it has cleaned up.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stdin.buffer.read()
    reap(pid, directory)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
