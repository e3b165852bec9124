"""Shared by the fuzzing tests (tests/test_fuzz_*.py)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


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
