"""Full garbage collections paused during a plan (:mod:`siting.core.gcpause`).

What it saves is measured in ``benchmarks`` (national-M); here: that full collections stop
inside the block and run outside it, that young collections still free reference cycles,
and that the thresholds found come back (nested blocks, errors, a collector turned off).
"""

from __future__ import annotations

import gc
import weakref

import pytest

from siting.core.gcpause import full_collections_paused


def _full_collections() -> int:
    return int(gc.get_stats()[2]["collections"])


def _grow(n: int) -> list[list[int]]:
    """``n`` long-lived container objects (kept alive: what a model build makes)."""
    return [[i] for i in range(n)]


def test_full_collections_stop_inside_and_run_outside():
    before = gc.get_threshold()
    n = max(2_000_000, 2 * len(gc.get_objects()))  # the heap grows well over a quarter
    with full_collections_paused():
        assert gc.get_threshold()[:2] == before[:2]
        assert gc.get_threshold()[2] > 10**6
        k = _full_collections()
        kept = _grow(n)
        assert _full_collections() == k  # none while the heap more than doubled
    del kept
    assert gc.get_threshold() == before
    k = _full_collections()
    kept = _grow(n)
    assert _full_collections() > k  # the same growth outside: CPython collects in full
    del kept


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
