"""Owns a throwaway PostgreSQL server's directory from its first instant, and removes it with the server.

Started by :class:`bcastsim.pg.EphemeralPostgres` as a plain script (standard library only,
so it starts fast) in its own session. It creates the directory itself and prints its path
on stdout; only then does the owner run ``initdb`` (or node, for ``check --client``) in it. The
owner never writes anything but ``server <pid>`` and ``group <pgid>`` lines to stdin: end-of-file
means the owner stopped the server on purpose, exited, or was killed (even by SIGKILL, even
while ``initdb`` ran), and in every case the server, anything else running in the directory, and the directory must go.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
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


def _wait_gone(pids: list[int], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)


def _running_in(directory: str) -> list[int]:
    """Processes whose working directory is ``directory`` or below (initdb, postgres and its children)."""
    found = []
    root = os.path.realpath(directory)
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                cwd = os.readlink(f"/proc/{entry}/cwd")
            except OSError:
                continue
            cwd = cwd.removesuffix(" (deleted)")
            if (cwd == root or cwd.startswith(root + os.sep)) and _alive(int(entry)):
                found.append(int(entry))
    return found


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def reap(servers: list[int], directory: str, grace_seconds: float = 10.0, groups: tuple[int, ...] = ()) -> None:
    """Kill the groups, shut the servers down (fast, then SIGKILL), kill the rest there, remove the directory."""
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    live = [pid for pid in servers if _alive(pid)]
    for pid in live:
        _signal(pid, signal.SIGINT)  # "fast" shutdown: roll back sessions, exit cleanly
    _wait_gone(live, grace_seconds)
    for _ in range(50):
        stragglers = [pid for pid in servers if _alive(pid)] + _running_in(directory)
        if not stragglers:
            break
        for pid in stragglers:
            _signal(pid, signal.SIGKILL)
        _wait_gone(stragglers, grace_seconds)
    shutil.rmtree(directory, ignore_errors=True)


def main(argv: list[str]) -> int:
    # Ctrl-C in the terminal must not kill the reaper before it has cleaned up.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    directory = tempfile.mkdtemp(prefix=argv[1] if len(argv) > 1 else "bcastsim-pg-")
    try:
        sys.stdout.write(directory + "\n")
        sys.stdout.flush()
        sys.stdout.close()
    except OSError:
        pass  # the owner is gone already: clean up below
    servers: list[int] = []
    groups: list[int] = []
    for line in sys.stdin.buffer:
        kind, _, pid = line.decode("ascii", "replace").strip().partition(" ")
        if kind == "server" and pid.isdigit():
            servers.append(int(pid))
        elif kind == "group" and pid.isdigit():
            groups.append(int(pid))  # a node process group (check --client): killed outright
    reap(servers, directory, groups=tuple(groups))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
