"""What ``siting plan`` says while it runs: each stage as it ends, and the solve's progress.

Stage lines (``done layers (0.2 s)``) and, at least every :data:`EVERY_S` seconds, one
line of the run's clock (:meth:`siting.core.clock.Clock.line`: the round, the best plan so far,
the bound, the gap, the time spent and left). On a terminal they show as rich's live
status line (refreshed every second); in a log (stderr not a terminal) as plain lines;
with ``--quiet``, not at all.

Pyomo captures the process's file descriptors 1 and 2 around each HiGHS solve (HiGHS
writes its log there). So that progress still reaches the user during a solve, it is
written to a duplicate of descriptor 2 taken before (:func:`progress_console`).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from siting.core.clock import Clock, Ticker

#: A progress line at least this often in a log [s].
EVERY_S = 10.0
#: ... and the live status line's refresh on a terminal [s].
LIVE_EVERY_S = 1.0


@contextmanager
def progress_console(fallback: Console) -> Iterator[Console]:
    """A console on a duplicate of stderr's file descriptor (closed on exit), so that what
    it prints is not captured with the solver's log; ``fallback`` when stderr has no
    descriptor (a test runner's buffer)."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield fallback
        return
    f = os.fdopen(os.dup(fd), "w", buffering=1, encoding="utf-8", errors="replace")
    try:
        yield Console(file=f, highlight=False, soft_wrap=True)
    finally:
        f.close()


class StagePrinter:
    """Prints ``done <stage> (<s> s)`` as each stage ends (a context manager: the live
    status line on a terminal runs inside it)."""

    def __init__(self, console: Console, quiet: bool = False):
        self.console, self.quiet = console, quiet
        self.live = console.is_terminal and not quiet
        self.status = Status("starting", console=console) if self.live else None
        self.name: str | None = None
        self.t = time.perf_counter()

    def stage(self, name: str) -> None:
        """A new stage starts (``name``); the one before is printed as done."""
        now = time.perf_counter()
        if self.name is not None and not self.quiet:
            self.console.print(f"  [green]done[/green] {escape(self.name)} ({now - self.t:.1f} s)")
        self.name, self.t = name, now
        if self.status is not None:
            self.status.update(f"{escape(name)} ...")

    def line(self, text: str) -> None:
        """A progress line: the live status on a terminal, else a plain line."""
        if self.quiet:
            return
        if self.status is not None:
            self.status.update(escape(text))
        else:
            self.console.print(f"  {escape(text)}")

    def __enter__(self) -> StagePrinter:
        if self.status is not None:
            self.status.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)


def ticker(clock: Clock, show: StagePrinter, quiet: bool = False) -> Any:
    """Progress lines from ``clock`` while the run goes on (none with ``quiet``)."""
    if quiet:
        return nullcontext()
    return Ticker(clock, show.line, every_s=LIVE_EVERY_S if show.live else EVERY_S)
