"""Run untrusted JavaScript (a subscriber manager) in node, contained, and leave nothing behind.

Containment, in layers (docs/client.md, "Trust model"):

- node's permission model (``--experimental-permission``, node 20): reads only the harness folder,
  the pinned packages and a private copy of the manager's folder; no file writes, child processes,
  workers, native addons, inspector or WASI. ``contain.js`` closes what node 20's model leaves open
  (sockets, DNS, fetch, signals to other processes) before the manager loads.
- a network namespace of its own (``unshare -rn``) where the system allows one;
- an unprivileged user (``nobody``, or ``$BCASTSIM_NODE_USER``) when bcastsim runs as root;
- its own process group, ``RLIMIT_CPU``, ``RLIMIT_FSIZE`` = 0, ``RLIMIT_AS``, ``--max-old-space-size``, and a wall
  budget for the whole check: past it the group is killed and the check ends with one line;
- a reaper (``pg/_reaper.py``) started first, in its own session, that owns the private folder and
  kills every process group registered with it when bcastsim ends in any way (even SIGKILL).

The harness reads its request on stdin and answers on file descriptor 3 after a nonce the manager
never sees; whatever the manager prints is captured (bounded) and shown, never parsed.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pwd
import resource
import secrets
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import attrs

from bcastsim._errors import InputError
from bcastsim._limits import with_limits
from bcastsim._reaping import start_reaper

__all__ = ["BUDGET_ENV", "NODE_USER_ENV", "Limits", "Sandbox", "copy_manager_folder"]

BUDGET_ENV = "BCASTSIM_CLIENT_BUDGET"
NODE_USER_ENV = "BCASTSIM_NODE_USER"
_CONSOLE_BYTES = 64 * 1024
_ANSWER_BYTES = 1024 * 1024 * 1024
# The manager's folder is copied, not read in place: bounded, regular files only, no symlink followed.
_COPY_SUFFIXES = (".js", ".mjs", ".cjs", ".json")
_COPY_MAX_FILES = 400
_COPY_MAX_BYTES = 16 * 1024 * 1024
_COPY_MAX_DEPTH = 6


@attrs.frozen
class Limits:
    """What one check may spend: wall seconds for all its node runs, CPU seconds and heap per node process."""

    wall_s: float = 600.0
    cpu_s: int = 600
    heap_mb: int = 512

    @classmethod
    def from_budget(cls, budget_s: float | None) -> Limits:
        """``budget_s`` (else ``$BCASTSIM_CLIENT_BUDGET``, else 600 s) for the wall and for each process's CPU."""
        if budget_s is None:
            raw = os.environ.get(BUDGET_ENV, "").strip()
            try:
                budget_s = float(raw) if raw else 600.0
            except ValueError:
                raise InputError(f"{BUDGET_ENV}={raw!r} is not a number of seconds", fix="e.g. 300") from None
        if not 1.0 <= budget_s <= 86_400.0:
            raise InputError(f"a client budget of {budget_s:g} s is outside 1..86400 s", fix="e.g. --client-budget 300")
        return cls(wall_s=budget_s, cpu_s=max(1, int(budget_s) + 1))


def copy_manager_folder(source: Path, target: Path) -> Path:
    """Copy the manager's folder (its ``.js/.mjs/.cjs/.json`` files, bounded) into ``target``; the manager's copy.

    Symbolic links are not followed: one leaving the folder is refused, so node never reads outside it.
    """
    source = source.resolve()
    folder = source.parent
    copied = 0
    size = 0
    for root, dirs, files in os.walk(folder, followlinks=False):
        depth = len(Path(root).relative_to(folder).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "node_modules" and depth < _COPY_MAX_DEPTH)
        for name in sorted(files):
            path = Path(root) / name
            if path.suffix.lower() not in _COPY_SUFFIXES and path != source:
                continue
            if path.is_symlink():
                real = path.resolve()
                if folder not in real.parents:
                    raise InputError(
                        "a symbolic link beside the manager leaves its folder",
                        path=path,
                        fix="replace the link with the file, or move the manager to a folder of its own",
                    )
                continue
            if not path.is_file():
                continue
            copied += 1
            size += path.stat().st_size
            if copied > _COPY_MAX_FILES or size > _COPY_MAX_BYTES:
                raise InputError(
                    f"the manager's folder holds more than {_COPY_MAX_FILES} script files or "
                    f"{_COPY_MAX_BYTES // (1024 * 1024)} MiB",
                    path=folder,
                    fix="move the manager to a folder of its own",
                )
            destination = target / path.relative_to(folder)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination, follow_symlinks=False)
    return target / source.relative_to(folder)


@functools.cache
def node_version(node: str) -> tuple[int, int]:
    """(major, minor) of ``node``, (0, 0) when it does not answer."""
    try:
        text = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return (0, 0)
    parts = text.strip().lstrip("v").split(".")
    try:
        return (int(parts[0]), int(parts[1]))
    except (IndexError, ValueError):
        return (0, 0)


def _run_as() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    name = os.environ.get(NODE_USER_ENV) or "nobody"
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def _user_args(user: pwd.struct_passwd | None) -> dict[str, Any]:
    return {} if user is None else {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


@functools.cache
def _isolation(node: str, readable: tuple[str, ...]) -> tuple[tuple[str, ...], pwd.struct_passwd | None]:
    """The strongest prefix and user that work here: ``unshare -rn`` and an unprivileged user, if possible."""
    user = _run_as()
    unshare = shutil.which("unshare")
    probe = "for (const p of process.argv.slice(1)) require('fs').accessSync(p)"
    for prefix in ([unshare, "-rn"] if unshare else None, None):
        for who in (user, None) if user is not None else (None,):
            command = [*(prefix or []), node, "-e", probe, *readable]
            try:
                done = subprocess.run(command, capture_output=True, timeout=30, check=False, **_user_args(who))
            except (OSError, subprocess.SubprocessError):
                continue
            if done.returncode == 0:
                return tuple(prefix or ()), who
    return (), None


def _describe(status: int, console: str, limits: Limits) -> str:
    if "heap out of memory" in console or "Reached heap limit" in console:
        return f"used more than its heap limit of {limits.heap_mb} MB"
    if status == -signal.SIGXCPU or (status == -signal.SIGKILL and "CPU" in console):
        return f"used more than {limits.cpu_s} s of CPU"
    if status < 0:
        return f"was killed by signal {signal.Signals(-status).name}"
    return f"ended node (exit status {status}) before the harness answered"


def _tail(console: str, lines: int = 3) -> str:
    text = " | ".join(line.strip() for line in console.strip().splitlines()[-lines:] if line.strip())
    return text[-300:]


@attrs.define
class _Run:
    process: subprocess.Popen[bytes]
    answer_pipe: IO[bytes]
    nonce: str
    answer: bytearray = attrs.field(factory=bytearray)
    console: bytearray = attrs.field(factory=bytearray)
    console_dropped: int = 0
    open_pipes: int = 2


@attrs.define
class Sandbox:
    """A private folder owned by a reaper, and the node processes run in it. Use as a context manager."""

    node: str
    limits: Limits
    subject: str
    directory: Path
    _reaper: subprocess.Popen[bytes]
    _reaper_pipe: IO[bytes] | None
    _deadline: float
    _runs: list[_Run] = attrs.field(factory=list)
    _copies: dict[Path, Path] = attrs.field(factory=dict)

    def manager_copy(self, module: Path) -> Path:
        """The private copy of ``module`` (its folder's scripts), made once per sandbox."""
        module = module.resolve()
        if module not in self._copies:
            target = self.directory / f"manager-{len(self._copies)}"
            target.mkdir(mode=0o755)
            self._copies[module] = copy_manager_folder(module, target)
        return self._copies[module]

    @classmethod
    @contextlib.contextmanager
    def open(cls, node: str, limits: Limits, subject: str) -> Iterator[Sandbox]:
        if node_version(node) < (20, 0):
            raise InputError(
                f"node {'.'.join(map(str, node_version(node)))} has no permission model to run untrusted code in",
                fix="install node 20 or newer",
            )
        try:
            reaper, directory = start_reaper("bcastsim-node-")
        except OSError as error:
            raise InputError(f"cannot start node contained: {error}", fix="check the temporary directory") from None
        directory.chmod(0o755)  # an unprivileged node may enter and read, never write
        sandbox = cls(node, limits, subject, directory, reaper, reaper.stdin, time.monotonic() + limits.wall_s)
        try:
            yield sandbox
        finally:
            sandbox.close()

    def close(self) -> None:
        """Kill every process group started here, then let the reaper remove the folder. Safe to call twice."""
        for run in self._runs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(run.process.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                run.process.wait(timeout=5)
            with contextlib.suppress(OSError):
                run.answer_pipe.close()
            if run.process.stdout is not None:
                with contextlib.suppress(OSError):
                    run.process.stdout.close()
        self._runs.clear()
        if self._reaper_pipe is not None:
            with contextlib.suppress(OSError):
                self._reaper_pipe.close()
            self._reaper_pipe = None
            self._reaper.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

    def run(self, script: Path, requests: Sequence[dict[str, Any]], readable: Sequence[Path]) -> list[dict[str, Any]]:
        """Run ``script`` once per request, in parallel, contained; each answer, or one InputError."""
        runs = [self._start(script, request, readable) for request in requests]
        try:
            self._collect(runs)
        finally:
            for run in runs:
                self._end(run)
        answers = []
        for run in runs:
            answers.append(self._answer(run))
        return answers

    def _start(self, script: Path, request: dict[str, Any], readable: Sequence[Path]) -> _Run:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise self._over_budget("")
        nonce = secrets.token_hex(16)
        answer_read, answer_write = os.pipe()
        request_file = self.directory / f"request-{len(self._runs)}.json"
        request_file.write_text(json.dumps({**request, "nonce": nonce, "answer_fd": answer_write}), encoding="utf-8")
        allowed = tuple(dict.fromkeys(str(Path(p).resolve()) for p in (script.parent, *readable)))
        prefix, user = _isolation(self.node, allowed)
        cpu = max(1, min(self.limits.cpu_s, int(remaining) + 1))
        space = (self.limits.heap_mb + 1536) * 1024 * 1024  # Buffers live outside the V8 heap
        limits = {
            resource.RLIMIT_CPU: (cpu, cpu + 1),
            resource.RLIMIT_FSIZE: (0, 0),
            resource.RLIMIT_CORE: (0, 0),
            resource.RLIMIT_AS: (space, space),
        }
        command = [
            *prefix,
            self.node,
            "--experimental-permission",
            *(f"--allow-fs-read={path}" for path in allowed),
            # node 20.11 names the warning to silence; before it, all warnings go.
            "--disable-warning=ExperimentalWarning" if node_version(self.node) >= (20, 11) else "--no-warnings",
            f"--max-old-space-size={self.limits.heap_mb}",
            "--stack-size=984",
            str(script),
        ]
        command, before_exec = with_limits(command, limits)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(self.directory),
            "BCASTSIM_NODE_MODULES": os.environ.get("BCASTSIM_NODE_MODULES", ""),
        }
        env = {k: v for k, v in env.items() if v}
        try:
            with request_file.open("rb") as stdin:
                process = subprocess.Popen(
                    command,
                    stdin=stdin,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    pass_fds=(answer_write,),
                    cwd=self.directory,
                    env=env,
                    process_group=0,
                    preexec_fn=before_exec,  # noqa: PLW1509 - only without prlimit(1); bcastsim starts no threads here
                    **_user_args(user),
                )
        finally:
            os.close(answer_write)
        if self._reaper_pipe is not None:
            self._reaper_pipe.write(f"group {process.pid}\n".encode())
            self._reaper_pipe.flush()
        run = _Run(process, os.fdopen(answer_read, "rb", buffering=0), nonce)
        self._runs.append(run)
        return run

    def _collect(self, runs: Sequence[_Run]) -> None:
        with selectors.DefaultSelector() as selector:
            for run in runs:
                assert run.process.stdout is not None
                selector.register(run.process.stdout, selectors.EVENT_READ, (run, "console"))
                selector.register(run.answer_pipe, selectors.EVENT_READ, (run, "answer"))
            while selector.get_map():
                remaining = self._deadline - time.monotonic()
                if remaining <= 0:
                    console = "\n".join(r.console.decode("utf-8", "replace") for r in runs)
                    raise self._over_budget(console)
                for key, _ in selector.select(timeout=min(remaining, 1.0)):
                    run, kind = key.data
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        continue
                    if kind == "answer":
                        if len(run.answer) + len(chunk) > _ANSWER_BYTES:
                            raise InputError(
                                f"{self.subject}: the harness answer grew past {_ANSWER_BYTES >> 20} MiB",
                                fix="run fewer schedules (--client-schedules)",
                            )
                        run.answer += chunk
                    elif len(run.console) < _CONSOLE_BYTES:
                        run.console += chunk[: _CONSOLE_BYTES - len(run.console)]
                    else:
                        run.console_dropped += len(chunk)

    def _end(self, run: _Run) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(run.process.pid, signal.SIGKILL)
        run.process.wait()

    def _answer(self, run: _Run) -> dict[str, Any]:
        console = run.console.decode("utf-8", "replace")
        data = bytes(run.answer)
        if not data.startswith(run.nonce.encode()):
            status = run.process.returncode
            why = _describe(status, console, self.limits)
            said = "" if "limit" in why else _tail(console)  # past a limit, the tail is V8's own trace
            raise InputError(
                f"{self.subject} {why}" + (f"; console: {said}" if said else ""),
                fix="docs/client.md (trust model) lists what a manager may do under check --client",
            )
        answer: dict[str, Any] = json.loads(data[len(run.nonce) :].decode("utf-8"))
        answer["console"] = console
        return answer

    def _over_budget(self, console: str) -> InputError:
        said = _tail(console)
        return InputError(
            f"{self.subject} ran past the wall budget of {self.limits.wall_s:g} s and was stopped"
            + (f"; console: {said}" if said else ""),
            fix=f"raise it with --client-budget SECONDS (or {BUDGET_ENV}), or fix a loop in the manager",
        )
