"""Resource limits for a child process, set in the child itself so that no privilege is needed.

``prlimit(2)`` on another process needs ``CAP_SYS_RESOURCE`` when that process runs as another
user (node as ``nobody``, PostgreSQL as ``postgres``), which containers often lack; a process may
always lower its own limits. So the command is run through util-linux ``prlimit`` (it sets the
limits on itself, then executes the command, after the switch of user), or, without it, the limits
are set between fork and exec.
"""

from __future__ import annotations

import resource
import shutil
from collections.abc import Callable, Mapping

__all__ = ["with_limits"]

_OPTIONS = {resource.RLIMIT_AS: "--as", resource.RLIMIT_CPU: "--cpu", resource.RLIMIT_FSIZE: "--fsize",
            resource.RLIMIT_CORE: "--core"}  # fmt: skip


def with_limits(
    command: list[str], limits: Mapping[int, tuple[int, int]]
) -> tuple[list[str], Callable[[], None] | None]:
    """``command`` with ``limits`` (``RLIMIT_*`` → (soft, hard)) applied to it: a new argv and a pre-exec hook."""
    tool = shutil.which("prlimit")
    if tool is not None:
        return [tool, *(f"{_OPTIONS[key]}={soft}:{hard}" for key, (soft, hard) in limits.items()), "--", *command], None

    def apply() -> None:  # pragma: no cover - runs in the child
        for key, value in limits.items():
            resource.setrlimit(key, value)

    return command, apply
