"""Ctrl-C reaches the command even when it lands where Python discards exceptions."""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from bcastsim._interrupt import interruptible

pytestmark = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signal handlers are set on the main thread only"
)


@pytest.fixture
def interrupt_in_gc_callback() -> Iterator[None]:
    """A gc callback that sends this process SIGINT once, in the test's own ``gc.collect()``."""
    armed = [True]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and armed:
            armed.clear()
            os.kill(os.getpid(), signal.SIGINT)
            sum(range(1000))  # bytecode after the kill: where the handler runs

    # An automatic collection between this set-up and the test's own would spend the one interrupt
    # under Python's handler, outside the block being tested.
    automatic = gc.isenabled()
    gc.disable()
    gc.callbacks.append(callback)
    try:
        yield
    finally:
        gc.callbacks.remove(callback)
        if automatic:
            gc.enable()


@pytest.fixture
def python_interrupts() -> Iterator[None]:
    """Python's own SIGINT handler, as a command started from a terminal has it (pytest workers may ignore it)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_an_interrupt_inside_a_gc_callback_arrives_after_it(
    python_interrupts: None, interrupt_in_gc_callback: None
) -> None:
    """SIGINT during a gc callback is not swallowed: KeyboardInterrupt is raised once the callback is done."""

    def collect_then_wait() -> None:
        with interruptible():
            gc.collect()
            time.sleep(5)  # the deferred interrupt ends this sleep; without it the block would finish

    with pytest.raises(KeyboardInterrupt):
        collect_then_wait()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_without_the_guard_the_interrupt_is_lost(
    python_interrupts: None, interrupt_in_gc_callback: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control: Python's handler alone discards the same interrupt, so the test above can fail."""
    discarded: list[type[BaseException] | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: discarded.append(unraisable.exc_type))
    try:
        gc.collect()
        time.sleep(0.05)
    except KeyboardInterrupt:
        pytest.fail("the interrupt was delivered without the guard: the control no longer shows the loss")
    assert discarded == [KeyboardInterrupt]


def test_an_ignored_interrupt_stays_ignored() -> None:
    """Started under nohup (SIGINT ignored), the command stays uninterruptible by SIGINT."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interruptible():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
            sum(range(1000))
    finally:
        signal.signal(signal.SIGINT, previous)
