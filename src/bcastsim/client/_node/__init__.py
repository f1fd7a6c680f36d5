"""Run a subscriber manager's JavaScript under node against bcastsim's fake Realtime client.

The seed's code blocks are taken from its markdown at run time (never copied by
hand): the block after a ``**File**: `.../broadcastManager.js``` line, with
``import`` lines dropped and ``export`` keywords removed. A user can point the
same harness at their own ``.js`` file exposing ``class BroadcastManager``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from bcastsim._errors import InputError

__all__ = [
    "CLIENT_JS_ENV",
    "HARNESS",
    "SEED_PLAN_ENV",
    "default_seed_plan",
    "extract_js_blocks",
    "load_client_code",
    "node_binary",
    "run_harness",
    "strip_modules",
]

HARNESS = Path(__file__).with_name("harness.js")
SEED_PLAN_ENV = "BCASTSIM_SEED_PLAN"
CLIENT_JS_ENV = "BCASTSIM_CLIENT_JS"

_FENCE = re.compile(r"^```(\w*)\s*$")
_FILE = re.compile(r"\*\*File\*\*:\s*`([^`]+)`")


def default_seed_plan() -> Path:
    """``$BCASTSIM_SEED_PLAN``, else ``../shared/seed/broadcast-migration-plan.md`` beside the checkout."""
    override = os.environ.get(SEED_PLAN_ENV)
    if override:
        return Path(override)
    repo_root = Path(__file__).resolve().parents[4]
    return repo_root.parent / "shared" / "seed" / "broadcast-migration-plan.md"


def node_binary() -> str | None:
    return shutil.which("node")


def extract_js_blocks(markdown: str) -> dict[str, str]:
    """Map each ``**File**:`` name (its basename) to the JavaScript block that follows it."""
    blocks: dict[str, str] = {}
    current_file: str | None = None
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        named = _FILE.search(line)
        if named:
            current_file = Path(named.group(1)).name
        fence = _FENCE.match(line.strip())
        if fence and fence.group(1) in ("javascript", "js", "jsx"):
            body: list[str] = []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            if current_file is not None and current_file not in blocks:
                blocks[current_file] = "\n".join(body)
            current_file = None
        i += 1
    return blocks


def strip_modules(code: str) -> str:
    """Drop ``import`` lines and ``export default X;`` lines; turn ``export const`` into ``const``."""
    out: list[str] = []
    for line in code.splitlines():
        stripped = line.strip()
        if stripped.startswith("import "):
            continue
        if re.match(r"export\s+default\s+\w+\s*;?\s*$", stripped):
            continue
        out.append(re.sub(r"^(\s*)export\s+(default\s+)?", r"\1", line))
    return "\n".join(out)


def load_client_code(source: str | Path | None = None, *, block: str = "broadcastManager.js") -> str:
    """The manager code to run: a ``.js`` file, or ``block`` from a markdown plan (the seed by default)."""
    path = Path(source) if source is not None else None
    if path is None and block == "broadcastManager.js" and os.environ.get(CLIENT_JS_ENV):
        path = Path(os.environ[CLIENT_JS_ENV])
    if path is None:
        path = default_seed_plan()
    if not path.is_file():
        raise InputError(f"no such file: {path}", path=path, fix=f"set {SEED_PLAN_ENV} or {CLIENT_JS_ENV}")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".md", ".markdown"):
        blocks = extract_js_blocks(text)
        if block not in blocks:
            raise InputError(
                f"no JavaScript block for {block}",
                path=path,
                fix="the plan must name the file in a **File**: line before its code block",
            )
        text = blocks[block]
    return strip_modules(text)


def run_harness(request: dict[str, Any], *, timeout_s: float = 120.0) -> dict[str, Any]:
    """Send one JSON request to the node harness and return its JSON answer."""
    node = node_binary()
    if node is None:
        raise InputError("node is not installed", fix="install node 20 or skip the node conformance check")
    completed = subprocess.run(
        [node, str(HARNESS)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if completed.returncode != 0:
        raise InputError(f"node harness failed: {completed.stderr.strip()[-2000:]}", path=HARNESS)
    result: dict[str, Any] = json.loads(completed.stdout)
    return result
