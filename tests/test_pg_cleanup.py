"""The throwaway server leaves nothing behind: not when its owner is killed at any moment, not when it cannot start."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bcastsim.pg import EphemeralPostgres, PgBinariesNotFound, ServerStartError, find_binaries

pytestmark = pytest.mark.postgres

# Seconds after the owner calls start(): before the reaper, during initdb, while the server comes up, after.
KILL_AFTER = (0.0, 0.03, 0.1, 0.25, 0.5, 0.8, 1.2, 2.0, 4.0)

_OWNER = textwrap.dedent(
    """
    import sys, time
    from bcastsim.pg import EphemeralPostgres
    print("starting", flush=True)
    server = EphemeralPostgres.start()
    print("ready", flush=True)
    time.sleep(600)
    """
)


@pytest.fixture
def private_tmp() -> Iterator[Path]:
    """A temporary directory of its own (readable by the server's user), so any leftover is seen."""
    try:
        find_binaries()
    except PgBinariesNotFound as missing:
        pytest.skip(str(missing))
    directory = Path(tempfile.mkdtemp(prefix="bcastsim-cleanup-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _running_under(root: Path) -> dict[int, str]:
    """Processes whose working directory is below ``root``, with their command names."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd").removesuffix(" (deleted)")
            name = Path(f"/proc/{entry}/comm").read_text().strip()
        except OSError:
            continue
        if cwd.startswith(str(root) + os.sep):
            found[int(entry)] = name
    return found


def _settled(root: Path, seconds: float = 30.0) -> tuple[list[str], dict[int, str]]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left, running = sorted(os.listdir(root)), _running_under(root)
        if not left and not running:
            break
        time.sleep(0.05)
    return sorted(os.listdir(root)), _running_under(root)


def test_sigkill_at_any_moment_leaves_nothing(private_tmp: Path) -> None:
    """SIGKILL of the owner before, during and after initdb and after start-up leaves no directory and no process."""
    seen: set[str] = set()
    for delay in KILL_AFTER:
        env = {**os.environ, "TMPDIR": str(private_tmp)}
        owner = subprocess.Popen(
            [sys.executable, "-c", _OWNER], stdout=subprocess.PIPE, text=True, env=env, start_new_session=True
        )
        assert owner.stdout is not None
        assert owner.stdout.readline().strip() == "starting"
        time.sleep(delay)
        seen.update(_running_under(private_tmp).values())
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        left, running = _settled(private_tmp)
        assert left == [], f"killed after {delay}s: left {left}"
        assert running == {}, f"killed after {delay}s: still running {running}"
    # The kills really did land while initdb ran and while the server ran.
    assert "initdb" in seen or "postgres" in seen
    assert "postgres" in seen


def test_missing_run_as_user_creates_nothing(private_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As root with a run-as user that does not exist, start() fails before creating any directory."""
    if os.geteuid() != 0:
        pytest.skip("the run-as user is only needed when running as root")
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setenv("BCASTSIM_PG_USER", "bcastsim-no-such-user")
    tempfile.tempdir = None  # re-read TMPDIR
    try:
        with pytest.raises(ServerStartError, match="bcastsim-no-such-user"):
            EphemeralPostgres.start()
    finally:
        tempfile.tempdir = None
    assert os.listdir(private_tmp) == []


def test_failed_initdb_leaves_nothing(private_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An initdb that fails is a ServerStartError naming its message, and its directory is gone."""
    binaries = Path(tempfile.mkdtemp(prefix="bcastsim-bin-"))
    binaries.chmod(0o755)
    real = find_binaries()
    (binaries / "initdb").write_text("#!/bin/sh\necho 'initdb: broken on purpose' >&2\nexit 1\n")
    (binaries / "initdb").chmod(0o755)
    (binaries / "postgres").symlink_to(real.path("postgres"))
    monkeypatch.setenv("BCASTSIM_PG_BINDIR", str(binaries))
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    tempfile.tempdir = None
    try:
        with pytest.raises(ServerStartError, match="broken on purpose"):
            EphemeralPostgres.start()
    finally:
        tempfile.tempdir = None
        shutil.rmtree(binaries)
    left, running = _settled(private_tmp)
    assert left == []
    assert running == {}


_REVIEWER = textwrap.dedent(
    """
    import sys, time
    from bcastsim._reaping import reaped_directory
    with reaped_directory("bcastsim-review-") as work:
        (work / "old.sql").write_text("SELECT 1;")
        print("working", flush=True)
        time.sleep(600)
    """
)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_review_leaves_no_work_directory(private_tmp: Path, signum: signal.Signals) -> None:
    """review's work folder is owned by the reaper: SIGTERM or SIGKILL mid-review leaves no directory."""
    env = {**os.environ, "TMPDIR": str(private_tmp)}
    owner = subprocess.Popen(
        [sys.executable, "-c", _REVIEWER], stdout=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    assert owner.stdout is not None
    assert owner.stdout.readline().strip() == "working"
    assert [name for name in os.listdir(private_tmp) if name.startswith("bcastsim-review-")]
    os.kill(owner.pid, signum)
    owner.wait()
    left, running = _settled(private_tmp)
    assert left == []
    assert running == {}


_REVIEW = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from bcastsim.cli import main; sys.exit(main(sys.argv[1:]))"
)


@pytest.mark.parametrize("delay", [0.0, 1.0, 3.0])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_signal_at_any_moment_of_review_pg_leaves_nothing(
    private_tmp: Path, tmp_path: Path, signum: signal.Signals, delay: float
) -> None:
    """review --pg signalled as it begins, while the server starts or while the SQL runs: nothing stays."""
    root = Path(__file__).resolve().parents[1]
    for name in ("schema.sql", "realtime.sql"):
        shutil.copy(root / "sql" / name, tmp_path / name)
    (tmp_path / "new.sql").write_text("SELECT pg_sleep(100);\n")
    argv = ["review", "--pg", "--schema", "schema.sql", "--schema", "realtime.sql", "none:", "new.sql"]
    env = {**os.environ, "TMPDIR": str(private_tmp), "PYTHONPATH": str(root / "src")}
    owner = subprocess.Popen(
        [sys.executable, "-c", _REVIEW, *argv],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    # Counted from the moment the review has begun (its work folder exists): before that, Python is importing.
    for _ in range(1200):
        if any(name.startswith("bcastsim-review-") for name in os.listdir(private_tmp)):
            break
        time.sleep(0.01)
    time.sleep(delay)
    os.killpg(owner.pid, signum)
    _, err = owner.communicate(timeout=120)
    if signum == signal.SIGINT:
        assert (owner.returncode, err.decode().strip()) == (130, "bcastsim: interrupted")
    left, running = _settled(private_tmp)
    assert left == []
    assert running == {}
