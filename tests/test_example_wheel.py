"""The shop example's README commands, run as written against a wheel of bcastsim built from this checkout."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "shop"

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _readme_commands() -> list[str]:
    """The commands of the README's "Use it in your project" block, comments dropped."""
    text = (EXAMPLE / "README.md").read_text()
    block = re.search(r"## Use it in your project\s+```sh\n(.*?)```", text, re.S)
    assert block is not None, "the README opens with a 'Use it in your project' sh block"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_commands_run_from_a_built_wheel(tmp_path: Path) -> None:
    """Install (the wheel instead of the repository URL), the example's tests and the quiz coverage all pass."""
    commands = _readme_commands()
    assert commands[0].startswith('python -m pip install "bcastsim[pytest] @ ')
    assert commands[1] == "bcastsim client install"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(ROOT)],
                   check=True, capture_output=True)  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("bcastsim-*.whl")
    site = tmp_path / "site"
    # No index here: the extra's dependencies are those of the running environment.
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)  # fmt: skip
    project = tmp_path / "project" / "examples" / "shop"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"PYTHONPATH": str(site)}
    cwd = tmp_path / "project"
    for command in commands[2:]:
        for part in command.split(" && "):
            words = part.split()
            if words[0] == "cd":
                cwd = cwd / words[1]
                continue
            argv = [sys.executable, *words[1:]] if words[0] == "python" else [
                sys.executable, "-m", "bcastsim.cli", *words[1:]]  # fmt: skip
            done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
            assert done.returncode == 0, f"{part}\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
            if words[0] == "python":
                assert " passed" in done.stdout
                assert str(site) in subprocess.run(
                    [sys.executable, "-c", "import bcastsim; print(bcastsim.__file__)"],
                    env=env, capture_output=True, text=True, check=True).stdout  # fmt: skip
            else:
                assert "(9/9 reachable)" in done.stdout
