"""Shared by the fuzzing tests (tests/test_fuzz_*.py)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def no_hang(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging CI) when the body runs longer than ``seconds`` (POSIX
    ``SIGALRM``; without it the body runs unguarded)."""
    if not hasattr(signal, "SIGALRM"):  # pragma: no cover
        yield
        return

    def fire(signum, frame):
        raise TimeoutError(f"still running after {seconds:g} s: a hang")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@contextmanager
def no_fifo_hang(seconds: float, *fifos: Path) -> Iterator[None]:
    """Fail (instead of hanging CI) when the body is still blocked on one of ``fifos``
    after ``seconds``.

    A reader blocked opening a FIFO inside C code (GDAL) never returns to Python, so
    :func:`no_hang`'s ``SIGALRM`` alone cannot stop it. After ``seconds`` a thread opens
    each FIFO for writing (which succeeds only while a reader waits) and closes it at
    once, so the blocked reader sees an empty file and returns; the body then fails with
    ``TimeoutError`` naming the FIFO. A reader that never opens a FIFO is not affected.
    """
    blocked: list[Path] = []
    done = threading.Event()

    def unblock() -> None:
        if done.wait(seconds):
            return
        while not done.is_set():
            for f in fifos:
                try:
                    fd = os.open(f, os.O_WRONLY | os.O_NONBLOCK)
                except OSError:  # no reader waits on it (ENXIO), or it is gone
                    continue
                os.close(fd)
                if f not in blocked:
                    blocked.append(f)
            done.wait(0.05)

    t = threading.Thread(target=unblock, daemon=True)
    t.start()
    try:
        with no_hang(seconds + 30):
            yield
    finally:
        done.set()
        t.join()
    if blocked:
        raise TimeoutError(f"blocked reading {', '.join(map(str, blocked))} for {seconds:g} s")
