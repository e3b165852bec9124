"""Ctrl-C and SIGTERM: stop the run within seconds, say what was kept, leave no half plan.

The command line runs each command inside :func:`stop_on_signals`. The first SIGINT or
SIGTERM raises an interrupt in the main thread (``KeyboardInterrupt``; :class:`Terminated`
for SIGTERM), which unwinds the run the ordinary way: HiGHS is told to stop
(:mod:`siting.solve.highs`), a staging folder is removed (:mod:`siting.core.io`), and the
command says at which stage it stopped and what it kept.

Python runs a signal handler only in the main thread, between bytecodes, so a long call
into C (a large GDAL read, a sparse factorisation, a BLAS product) holds that up. So a
watchdog thread waits, from the start, on the wakeup descriptor Python's own C-level
handler writes the signal's number to (``signal.set_wakeup_fd``) the moment it arrives. It
gives the main thread :data:`GRACE_S` to unwind, then removes the run's staging folders
itself (what :func:`on_hard_stop` registered: :func:`siting.core.io.abandon_stages`,
which waits for a swap already under way, so a plan folder is never swapped in
half-removed), prints the same message, and ends the process (``os._exit``) with the
signal's exit code. (A call into C that also holds Python's interpreter lock the whole
time would hold the watchdog up too; the long ones siting makes, HiGHS's solve included,
release it.)

A few statements must not be split by an interrupt: creating a temporary file or folder and
recording its name, so that whatever unwinds the run knows to remove it.
:func:`signals_held` holds SIGINT and SIGTERM back for such a block and delivers them as it
ends.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: Time the main thread gets to unwind after a signal before the watchdog ends the
#: process [s].
GRACE_S = 1.5

#: Exit codes: 128 + the signal's number, as shells report a process a signal ended.
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: raised in the main thread like Ctrl-C's ``KeyboardInterrupt``."""


def exit_code(e: BaseException) -> int:
    """The exit code of an interrupted run (143 for SIGTERM, 130 for Ctrl-C); ``e`` is the
    interrupt, or an exception that says ``terminated`` (``siting.pipeline.PlanInterrupted``)."""
    term = isinstance(e, Terminated) or bool(getattr(e, "terminated", False))
    return EXIT_SIGTERM if term else EXIT_SIGINT


_SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: What the watchdog runs before it ends the process (:func:`on_hard_stop`).
_HARD_STOP: list[Callable[[], object]] = []

#: The signal the running :func:`stop_on_signals` block has received, if any (:func:`received`;
#: a second signal while the first unwinds the run is ignored).
_RECEIVED: list[int] = []


def received() -> int | None:
    """The signal (``signal.SIGINT`` or ``signal.SIGTERM``) the running
    :func:`stop_on_signals` block has received, or ``None`` (also outside such a block)."""
    return _RECEIVED[-1] if _RECEIVED else None


def interrupt_behind(e: BaseException) -> int | None:
    """The signal behind the error ``e``, or ``None``.

    An interrupt raised inside a library can leave that library to raise an error of its own
    as it unwinds (seen once, under load: Pyomo's internal error after a SIGTERM during a
    re-solve, and the run ended "internal error", exit 3, instead of exit 143). Such an error
    is the interrupt's consequence, not a fault of the run. It is the signal the running
    :func:`stop_on_signals` block received, or, failing that, ``SIGTERM`` or ``SIGINT`` when
    an interrupt (:class:`Terminated`, ``KeyboardInterrupt``) is in ``e``'s chain of causes
    and contexts (``e`` was raised while that interrupt unwound).
    """
    got = received()
    if got is not None:
        return got
    seen: set[int] = set()
    x: BaseException | None = e
    while x is not None and id(x) not in seen:
        seen.add(id(x))
        if isinstance(x, Terminated):
            return int(signal.SIGTERM)
        if isinstance(x, KeyboardInterrupt):
            return int(signal.SIGINT)
        x = x.__cause__ or x.__context__
    return None


def as_interrupt(signum: int) -> KeyboardInterrupt:
    """The interrupt :func:`stop_on_signals` raises for ``signum``: :class:`Terminated` for
    SIGTERM, ``KeyboardInterrupt`` otherwise."""
    if signum == signal.SIGTERM:
        return Terminated("terminated (SIGTERM)")
    return KeyboardInterrupt()


def _forget_the_interrupt_as_unhandled() -> None:
    """Undo CPython's record that a ``KeyboardInterrupt`` went unhandled.

    CPython (3.11; ``run_eval_code_obj`` in ``Python/pythonrun.c``) records a
    ``KeyboardInterrupt`` that leaves code ``exec`` or ``eval`` ran from a string (the
    methods ``dataclasses`` and ``namedtuple`` generate, when a lazy import makes one) as
    unhandled, even when the run catches it later, and ``python -m siting`` then ends by
    killing itself with SIGINT (status -2), whatever exit code the command chose (seen
    once in CI: "interrupted ... kept as it was", then status -2 instead of 130). The same
    function clears that record each time it starts, so running an empty string clears it.
    The installed ``siting`` script is not affected (a script's exit skips that check).
    """
    exec("pass")  # a constant string (see the docstring)


def _quiet_after_a_signal(
    previous: Callable[[threading.ExceptHookArgs], object], signalled: list[int]
) -> Callable[[threading.ExceptHookArgs], object]:
    """A ``threading.excepthook`` that keeps quiet about an error a thread raises once its
    :func:`stop_on_signals` block has received a signal (``signalled`` not empty; the hook
    stays while the process ends), and hands any other to ``previous``.

    Unwinding a run closes what a library's helper thread may be reading: Pyomo's output
    capture (``pyomo.common.tee``) had its reader thread print "OSError: [Errno 9] Bad file
    descriptor" with a traceback under a SIGTERM during the why-here re-solves (seen in
    CI), beside the run's own message. Such an error is the interrupt's consequence, as
    :func:`interrupt_behind` treats one in the main thread; the run's message says what
    happened.
    """

    def hook(args: threading.ExceptHookArgs) -> object:
        if signalled and issubclass(args.exc_type, Exception):
            return None
        return previous(args)

    return hook


def on_hard_stop(fn: Callable[[], object]) -> None:
    """Have the watchdog call ``fn()`` just before it ends the process on a signal.

    :mod:`siting.core.io` registers :func:`siting.core.io.abandon_stages` here (so this module
    imports nothing of siting's). ``fn`` runs in the watchdog's thread; it must be quick.
    """
    if fn not in _HARD_STOP:
        _HARD_STOP.append(fn)


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for the block, and deliver the first that came as it ends.

    For a few statements that must run whole, such as creating a temporary folder and
    recording its name for removal: an interrupt between the two would leave a folder
    nobody removes. The signal is delivered again (``signal.raise_signal``) once the
    handlers in force before are back, so it does what it would have done (raise
    ``KeyboardInterrupt`` or :class:`Terminated`, or end the process), only a few
    statements later. Outside the main thread, or when a handler was not set from Python,
    the block runs unguarded.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.getsignal(s) for s in _SIGNALS}
    if any(h is None for h in old.values()):
        yield
        return
    pending: list[int] = []

    def hold(signum: int, frame: object) -> None:
        pending.append(signum)

    for s in _SIGNALS:
        signal.signal(s, hold)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if pending:
            signal.raise_signal(pending[0])


@contextmanager
def stop_on_signals(
    describe: Callable[[str], str],
    say: Callable[[str], None],
    *,
    hard_stop: bool = True,
    grace_s: float = GRACE_S,
) -> Iterator[None]:
    """Within this block SIGINT and SIGTERM interrupt the run (main thread only).

    An error that leaves the block after a signal arrived, or that was raised while an
    interrupt unwound (:func:`interrupt_behind`), leaves it as that interrupt (chained to the
    error): a library's own error on the way out is reported as the stop it is.

    Parameters
    ----------
    describe
        ``describe(signal_name) -> message``: what the run kept, for the watchdog's message
        (the ordinary path prints the interrupt's own message).
    say
        Prints a message (on stderr).
    hard_stop
        Start the watchdog (see the module docstring). Off for commands whose worker
        processes must be shut down in order (sweeps and fronts on a local Dask cluster):
        there the interrupt alone unwinds the run.
    grace_s
        The watchdog's wait [s].
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    done = threading.Event()
    wake_r = wake_w = -1
    old_wake = -1
    if hard_stop:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        old_wake = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)

    def watchdog() -> None:
        try:
            got = os.read(wake_r, 1)  # Python's C handler writes the signal's number
        except OSError:
            return
        if not got or done.wait(grace_s):
            return
        signum = got[0]
        for fn in list(_HARD_STOP):
            fn()
        name = signal.Signals(signum).name if signum in (2, 15) else "a signal"
        try:
            say(describe(name))
            sys.stderr.flush()
            sys.stdout.flush()
        finally:
            os._exit(EXIT_SIGTERM if signum == signal.SIGTERM else EXIT_SIGINT)

    def handler(signum: int, frame: object) -> None:
        if _RECEIVED:  # a second signal: the first is already unwinding the run
            return
        _RECEIVED.append(signum)
        signalled.append(signum)
        raise as_interrupt(signum)

    guard = None
    if hard_stop:
        guard = threading.Thread(target=watchdog, name="siting-watchdog", daemon=True)
        guard.start()
    old_hook = threading.excepthook
    signalled: list[int] = []  # (outlives the block's record: see _quiet_after_a_signal)
    threading.excepthook = _quiet_after_a_signal(old_hook, signalled)
    old = {s: signal.signal(s, handler) for s in _SIGNALS}
    outer = _RECEIVED[:]  # (a block within a block: the outer's record comes back)
    _RECEIVED.clear()
    try:
        yield
    except Exception as e:
        got = interrupt_behind(e)
        if got is None:
            raise
        raise as_interrupt(got) from e  # an error the interrupt caused as it unwound
    finally:
        if _RECEIVED:
            _forget_the_interrupt_as_unhandled()
        _RECEIVED[:] = outer
        done.set()
        for s, h in old.items():
            signal.signal(s, h)
        if not signalled:  # (after a signal the process is ending: helper threads stay quiet)
            threading.excepthook = old_hook
        if hard_stop:
            signal.set_wakeup_fd(old_wake)
            os.close(wake_w)  # the watchdog's read returns: it ends
            if guard is not None:
                guard.join(1.0)
            os.close(wake_r)
