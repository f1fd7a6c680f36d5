"""A manager's JavaScript is untrusted: check --client contains it, bounds it and leaves nothing behind.

Each hostile manager is the good fixture manager with one hostile statement added at test time.
Skipped with the reason where node or the pinned packages are absent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bcastsim._errors import InputError
from bcastsim.client._node import realtime_js_missing
from bcastsim.client._realcheck import check_client_module

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(realtime_js_missing() is not None, reason=str(realtime_js_missing())),
]

ROOT = Path(__file__).resolve().parents[1]
GOOD = ROOT / "tests" / "fixtures" / "client" / "good_manager.mjs"
_ANCHOR = "export function createManager"
_IMPORTS = (
    "import * as fs from 'node:fs';\nimport * as cp from 'node:child_process';\nimport * as net from 'node:net';\n"
)


def _hostile(tmp_path: Path, statement: str, *, name: str = "manager.mjs") -> Path:
    text = GOOD.read_text(encoding="utf-8")
    assert text.count(_ANCHOR) == 1
    folder = tmp_path / "manager"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(_IMPORTS + text.replace(_ANCHOR, statement + "\n" + _ANCHOR), encoding="utf-8")
    return path


def _left_in(directory: Path) -> list[str]:
    """Processes whose working directory is under ``directory``, and what is left in it."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cwd = os.readlink(f"/proc/{entry}/cwd")
            except OSError:
                continue
            if cwd.startswith(str(directory)):
                found.append(f"process {entry} in {cwd}")
    return found + [f"file {p.name}" for p in directory.iterdir()]


def test_a_file_write_is_refused_with_one_line(tmp_path: Path) -> None:
    """fs.writeFileSync at import writes nothing and ends as one line naming the file it tried."""
    mark = tmp_path / "written"
    with pytest.raises(InputError, match="tried to write") as error:
        check_client_module(_hostile(tmp_path, f"fs.writeFileSync({str(mark)!r}, 'x');"), schedules=5)
    assert not mark.exists()
    assert "\n" not in error.value.one_line()


def test_a_child_process_is_refused(tmp_path: Path) -> None:
    """child_process at import starts nothing."""
    mark = tmp_path / "spawned"
    statement = f"cp.spawn('sh', ['-c', 'touch {mark}'], {{ detached: true }}).unref();"
    with pytest.raises(InputError, match="tried to start a process"):
        check_client_module(_hostile(tmp_path, statement), schedules=5)
    time.sleep(0.2)
    assert not mark.exists()


def test_network_and_signals_are_refused(tmp_path: Path) -> None:
    """net.connect and process.kill, which node 20's permission model leaves open, are closed before the load."""
    with pytest.raises(InputError, match=r"net\.connect"):
        check_client_module(_hostile(tmp_path, "net.connect(9, '127.0.0.1').on('error', () => {});"), schedules=5)
    with pytest.raises(InputError, match=r"process\.kill"):
        check_client_module(_hostile(tmp_path, "process.kill(process.ppid, 'SIGTERM');"), schedules=5)


def test_a_loop_stops_at_the_wall_budget(tmp_path: Path) -> None:
    """A manager looping at import is killed at the budget and named, not waited for."""
    with pytest.raises(InputError, match="wall budget of 3 s"):
        check_client_module(_hostile(tmp_path, "for (;;) {}"), schedules=5, budget_s=3)


def test_process_exit_at_import_is_named(tmp_path: Path) -> None:
    """process.exit before the harness answers is one line with the exit status and the console's last words."""
    statement = "console.log('giving up'); process.exit(7);"
    with pytest.raises(InputError, match=r"exit status 7.*giving up"):
        check_client_module(_hostile(tmp_path, statement), schedules=5)


def test_console_output_is_captured_not_parsed(tmp_path: Path) -> None:
    """console.log and process.stdout in a manager do not break the harness; the note counts the lines."""
    statement = "console.log('{\"schedules\": []}'); process.stdout.write('not json\\n');"
    findings = check_client_module(_hostile(tmp_path, statement), schedules=10)
    assert {f.rule for f in findings if f.severity.value == "error"} == set()
    note = next(f for f in findings if f.rule == "client.exercised")
    assert note.example is not None
    printed = int(note.example.rsplit("console lines printed by the manager: ", 1)[1].split()[0].replace(",", ""))
    assert printed >= 2  # two lines at import, once per node process


def test_a_symlink_leaving_the_managers_folder_is_refused(tmp_path: Path) -> None:
    """A link beside the manager that points outside its folder is refused before node reads anything."""
    manager = _hostile(tmp_path, "")
    (manager.parent / "secrets.js").symlink_to("/etc/passwd")
    with pytest.raises(InputError, match="symbolic link") as error:
        check_client_module(manager, schedules=5)
    assert "root:" not in error.value.one_line()


def _cli(tmp_path: Path, manager: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    return subprocess.Popen(
        # A background job starts with SIGINT ignored; Python's own handler is put back as a terminal would have it.
        [sys.executable, "-c", "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
         "from bcastsim.cli import main; sys.exit(main(sys.argv[1:]))",
         "check", "--client", str(manager), "--client-schedules", "20"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip


def _wait_for_node(tmp: Path) -> None:
    for _ in range(600):
        if any(line.startswith("process") for line in _left_in(tmp)):
            return
        time.sleep(0.05)
    raise AssertionError("node never started")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_signal_to_the_group_leaves_no_node_and_no_folder(tmp_path: Path, signum: signal.Signals) -> None:
    """SIGINT (exit 130, one line), SIGTERM or SIGKILL mid-run: no node process and no folder remain."""
    process = _cli(tmp_path, _hostile(tmp_path, "for (;;) {}"))
    tmp = tmp_path / "tmp"
    _wait_for_node(tmp)
    os.killpg(process.pid, signum)
    _, err = process.communicate(timeout=60)
    if signum == signal.SIGINT:
        assert process.returncode == 130
        assert err.decode().strip() == "bcastsim: interrupted"
    for _ in range(200):
        if not _left_in(tmp):
            break
        time.sleep(0.05)
    assert _left_in(tmp) == []
