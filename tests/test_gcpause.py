"""Full garbage collections paused during a plan (:mod:`siting.core.gcpause`).

What it saves is measured in ``benchmarks`` (national-M); here: that full collections stop
inside the block and run outside it, that young collections still free reference cycles,
and that the thresholds found come back (nested blocks, errors, a collector turned off).
"""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref

import pytest

from siting.core.gcpause import full_collections_paused


def _grow(n: int) -> list[list[int]]:
    """``n`` long-lived container objects (kept alive: what a model build makes)."""
    return [[i] for i in range(n)]


#: Run in a fresh interpreter (a small heap, so that the growth below is many quarters of
#: it whatever the test session holds): full collections while 1,000,000 long-lived lists
#: are made inside the block, then the same outside it.
_COUNT_FULL = """
import gc, sys
from siting.core.gcpause import full_collections_paused
full = lambda: gc.get_stats()[2]["collections"]
with full_collections_paused():
    k = full()
    kept = [[i] for i in range(1_000_000)]
    inside = full() - k
del kept
k = full()
kept = [[i] for i in range(1_000_000)]
print(inside, full() - k)
"""


def test_full_collections_stop_inside_and_run_outside():
    before = gc.get_threshold()
    with full_collections_paused():
        assert gc.get_threshold()[:2] == before[:2]
        assert gc.get_threshold()[2] > 10**6
    assert gc.get_threshold() == before
    run = subprocess.run(
        [sys.executable, "-c", _COUNT_FULL], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    inside, outside = (int(x) for x in run.stdout.split())
    assert inside == 0  # none while the heap grew many times over
    assert outside > 0  # the same growth outside: CPython collects in full


def test_young_collections_still_free_cycles_inside():
    class Node:
        pass

    with full_collections_paused():
        a, b = Node(), Node()
        a.other, b.other = b, a  # a reference cycle: only the collector frees it
        gone = weakref.ref(a)
        del a, b
        for _ in range(20):  # enough allocations for young collections
            _grow(10_000)
        assert gone() is None


def test_nested_blocks_and_errors_put_the_thresholds_back():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError):
        with full_collections_paused():
            with full_collections_paused():
                pass
            assert gc.get_threshold()[2] > 10**6  # the inner block's end keeps the pause
            raise RuntimeError("a failed run")
    assert gc.get_threshold() == before


def test_a_collector_turned_off_is_left_off():
    before = gc.get_threshold()
    gc.disable()
    try:
        with full_collections_paused():
            assert not gc.isenabled()
            assert gc.get_threshold() == before
        assert not gc.isenabled()
    finally:
        gc.enable()
