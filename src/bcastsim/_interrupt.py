"""Ctrl-C that is never lost: an interrupt that lands where Python would discard it is delivered just after.

Python prints and discards an exception raised inside a garbage-collector callback or a ``__del__``
method ("Exception ignored in …"). Python's own SIGINT handler raises ``KeyboardInterrupt`` in whatever
frame runs when the signal arrives, so a Ctrl-C that lands in such a frame vanishes and the command runs
on to the end. Hypothesis, which ``review --pg`` uses to draw histories, keeps a gc callback installed
for the life of the process, so the window is open during every long wait on PostgreSQL.

Here the handler looks at the frames it would raise in; inside one whose exception would be discarded,
it raises nothing and re-sends itself the interrupt 10 ms later with a one-shot timer (SIGALRM).
"""

from __future__ import annotations

import contextlib
import gc
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["interruptible"]

_RETRY_SECONDS = 0.01


def _discarding(frame: FrameType | None) -> bool:
    """Whether an exception raised in ``frame`` would be discarded: it runs under a gc callback or ``__del__``."""
    callbacks = {getattr(callback, "__code__", None) for callback in gc.callbacks}
    while frame is not None:
        if frame.f_code in callbacks or frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


def _on_interrupt(signum: int, frame: FrameType | None) -> None:
    if _discarding(frame):
        signal.setitimer(signal.ITIMER_REAL, _RETRY_SECONDS)
        return
    raise KeyboardInterrupt


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, SIGINT raises ``KeyboardInterrupt`` in a frame that will not discard it.

    Where SIGINT is ignored (started under ``nohup`` or as a background job) it stays ignored; off the main
    thread, where signal handlers cannot be set, nothing changes.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) in (
        signal.SIG_IGN,
        None,
    ):
        yield
        return
    previous_interrupt = signal.signal(signal.SIGINT, _on_interrupt)
    previous_alarm = signal.signal(signal.SIGALRM, _on_interrupt)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_alarm)
        signal.signal(signal.SIGINT, previous_interrupt)
