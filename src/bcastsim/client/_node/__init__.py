"""Run a subscriber manager's JavaScript under node against bcastsim's fake Realtime client.

The seed's code blocks are taken from its markdown at run time (never copied by
hand): the block after a ``**File**: `.../broadcastManager.js``` line, with
``import`` lines dropped and ``export`` keywords removed. A user can point the
same harness at their own ``.js`` file exposing ``class BroadcastManager``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from bcastsim._errors import InputError
from bcastsim._io import read_text
from bcastsim.client._node._sandbox import Limits, Sandbox, node_version

__all__ = [
    "CLIENT_JS_ENV",
    "HARNESS",
    "HARNESS_DIR",
    "NODE_MODULES_ENV",
    "REALTIME_HARNESS",
    "SEED_PLAN_ENV",
    "Limits",
    "Sandbox",
    "default_seed_plan",
    "extract_js_blocks",
    "install_client",
    "load_client_code",
    "node_binary",
    "node_modules_dir",
    "realtime_js_missing",
    "run_harness",
    "run_realtime",
    "strip_modules",
]

HARNESS = Path(__file__).with_name("harness.js")
HARNESS_DIR = Path(__file__).parent
REALTIME_HARNESS = HARNESS_DIR / "realtime.js"
NODE_MODULES_ENV = "BCASTSIM_NODE_MODULES"
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
    text = read_text(path, "client code")
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


def run_harness(
    request: dict[str, Any], *, budget_s: float | None = None, subject: str = "the seed's code"
) -> dict[str, Any]:
    """Send one JSON request to the node harness (contained, see ``_sandbox``) and return its JSON answer."""
    node = node_binary()
    if node is None:
        raise InputError("node is not installed", fix="install node 20 or skip the node conformance check")
    with Sandbox.open(node, Limits.from_budget(budget_s), subject) as sandbox:
        answer = sandbox.run(HARNESS, [request], ())[0]
    if "error" in answer:
        raise InputError(f"{subject}: {_first_line(answer['error'])}", path=request.get("path"))
    return answer


def _first_line(text: object) -> str:
    lines = str(text).strip().splitlines()
    return lines[0][:500] if lines else "(no message)"


def _cache_dir() -> Path:
    """Where ``bcastsim client install`` puts the pinned packages: one directory per lockfile version."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    lock = (HARNESS_DIR / "package-lock.json").read_bytes()
    return base / "bcastsim" / "node" / hashlib.sha256(lock).hexdigest()[:16]


def node_modules_dir() -> Path:
    """``$BCASTSIM_NODE_MODULES``, else ``node_modules`` beside the harness (a checkout), else the user cache."""
    override = os.environ.get(NODE_MODULES_ENV)
    if override:
        return Path(override)
    local = HARNESS_DIR / "node_modules"
    if (local / "@supabase" / "realtime-js").is_dir():
        return local
    return _cache_dir() / "node_modules"


def realtime_js_missing() -> str | None:
    """Why the real-client harness cannot run here (None when it can)."""
    node = node_binary()
    if node is None:
        return "node is not installed"
    if node_version(node) < (20, 0):
        return "node 20 or newer is needed (its permission model contains the manager's code)"
    if not (node_modules_dir() / "@supabase" / "realtime-js").is_dir():
        return "@supabase/realtime-js is not installed: run `bcastsim client install` (npm ci of the pinned lockfile)"
    return None


def install_client(target: Path | None = None) -> Path:
    """``npm ci`` the pinned ``package-lock.json`` into ``target`` (default: the user cache); returns node_modules."""
    npm = shutil.which("npm")
    if npm is None:
        raise InputError("npm is not installed", fix="install node 18 or newer with npm")
    target = target or _cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(HARNESS_DIR / name, target / name)
    completed = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=target,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise InputError(f"npm ci failed: {completed.stderr.strip()[-500:]}", path=target / "package-lock.json")
    return target / "node_modules"


def run_realtime(
    request: dict[str, Any],
    *,
    workers: int = 2,
    sandbox: Sandbox | None = None,
    budget_s: float | None = None,
) -> list[list[dict[str, Any]]]:
    """Run ``request['schedules']`` on the real client, split over ``workers`` contained node processes.

    A manager ``module`` runs from a private copy of its folder; ``sandbox`` (else a new one with
    ``budget_s``) bounds and cleans up every process.
    """
    missing = realtime_js_missing()
    if missing is not None:
        raise InputError(missing, fix="bcastsim client install")
    node = node_binary()
    assert node is not None
    schedules: list[Any] = request["schedules"]
    if not schedules:
        return []
    if sandbox is None:
        subject = f"the manager {Path(request['module']).name}" if request.get("module") else "the manager"
        with Sandbox.open(node, Limits.from_budget(budget_s), subject) as own:
            return run_realtime(request, workers=workers, sandbox=own)
    count = max(1, min(workers, len(schedules) // 20 or 1))
    size = -(-len(schedules) // count)
    readable: list[Path] = [node_modules_dir()]
    if request.get("module"):
        module = sandbox.manager_copy(Path(request["module"]))
        request = {**request, "module": str(module)}
        readable.append(module.parent)
    parts = [{**request, "schedules": schedules[k * size : (k + 1) * size]} for k in range(count)]
    answers = sandbox.run(REALTIME_HARNESS, parts, readable)
    results: list[list[dict[str, Any]]] = []
    for answer in answers:
        if "error" in answer:
            raise InputError(
                _first_line(answer["error"]),
                path=request.get("source") or request.get("module") or REALTIME_HARNESS,
                fix="export createManager(client, options) returning {subscribe, unsubscribe} (docs/client.md)"
                if "denied" not in answer
                else "docs/client.md (trust model) lists what a manager may do under check --client",
            )
        results += answer["schedules"]
    return results
