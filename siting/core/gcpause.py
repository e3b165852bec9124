"""Python's full garbage collections paused while a plan is built and solved.

CPython's collector runs a *full* collection (every tracked object of the process) each
time the objects that survived the young collections have grown by a quarter since the last
one. Building a model of 50,000 rows makes a few million long-lived objects (Pyomo
components, expressions, the hand-over's books), so the heap grows many quarters over and
each full collection rescans all of it: on national-M (2,000 sites, 56,000 rows) 12 full
collections took 2.37 s of a 22 s run, and found almost nothing to free (the model is alive
until the plan is done).

Within :func:`full_collections_paused`, only the young collections run (generations 0 and
1: they still free the short-lived reference cycles a run makes, as a pandas operation or a
caught exception leaves). Measured on national-M, one run each in one sitting: 21.84 s
with the default thresholds, 19.28 s with full collections paused (19.0 s with no collection
at all); peak RSS 826 MB and 843 MB. The thresholds in force before come back when the
outermost block ends (blocks nest; the grid baseline's worker thread runs inside the
plan's). A process that turned the collector off (``gc.disable()``, or a threshold of 0)
is left as it is.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["full_collections_paused"]

#: The full-collection threshold inside the block: more young collections than a run makes.
_PAUSED_THRESHOLD2 = 1_000_000_000

_LOCK = threading.Lock()
_DEPTH = [0]
_SAVED: list[tuple[int, int, int]] = []


@contextmanager
def full_collections_paused() -> Iterator[None]:
    """Run the block with CPython's full (generation 2) collections paused, young ones on.

    See the module docstring for why and what it saves. Thread-safe and nestable: the
    outermost block sets the thresholds and puts back those it found.
    """
    with _LOCK:
        _DEPTH[0] += 1
        if _DEPTH[0] == 1:
            t0, t1, t2 = gc.get_threshold()
            _SAVED[:] = [(t0, t1, t2)]
            if t0 > 0 and gc.isenabled():
                gc.set_threshold(t0, t1, _PAUSED_THRESHOLD2)
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH[0] -= 1
            if _DEPTH[0] == 0 and _SAVED:
                gc.set_threshold(*_SAVED.pop())
