"""The linopy baseline (benchmarks/linopy_baseline.py) is siting's MILP, written again.

On a tiny national instance (pandapower's case118 with synthetic ratings, 10 sites, 3
years; benchmarks/instances.py) solved to a zero MIP gap, the baseline (every line limit
as a full PTDF block) and siting's plan (PTDF form, lazy limits) reach the same objective,
and the same IT MW per site and year (the optimum is unique there: random site costs).
Timings live in ``python -m benchmarks --only national``, not here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip(
    "linopy", reason="linopy is not installed (pip install -e '.[bench]'): no baseline to test"
)
pytest.importorskip("pandapower", reason="the S instance is pandapower's case118")

import siting  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # benchmarks/ is not an installed package

from benchmarks.instances import write_size  # noqa: E402
from benchmarks.linopy_baseline import build_baseline, solve_baseline  # noqa: E402

TINY = {"n_sites": 10, "mip_gap": 0.0, "time_limit_s": 120.0}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_size(tmp_path_factory.mktemp("national") / "S", "S", **TINY)


def test_baseline_matches_siting_at_zero_gap(tiny):
    from siting.pipeline import prepare

    plan = siting.plan(tiny, write=False)
    assert plan.solve.has_solution, plan.solve.status
    prep = prepare(tiny)
    b = build_baseline(prep.data, prep.baseline_usd)
    r = solve_baseline(b, mip_gap=0.0, threads=2, time_limit_s=120.0)
    assert r.status == "Optimal", r.status
    assert r.ok, r.checks
    assert r.objective_usd == pytest.approx(plan.solve.objective, rel=1e-6)
    # the instance is non-trivial: some line limit binds in siting's plan
    assert (plan.flows_all["loading_pct"] >= 99.99).any()
    sched = plan.schedule
    ours = sched.pivot_table(index="site_id", columns="year", values="it_mw", aggfunc="sum")
    ours = ours.fillna(0.0)
    ours = ours[ours.iloc[:, -1] > 1e-6].sort_index()
    theirs = r.cap_mw.sort_index()
    assert list(ours.index) == list(theirs.index)
    assert (abs(ours.to_numpy() - theirs.to_numpy()) < 1e-6).all(), (ours, theirs)


def test_baseline_refuses_a_too_large_ptdf_block(tiny):
    from benchmarks.linopy_baseline import TooLargeError
    from siting.pipeline import prepare

    prep = prepare(tiny)
    with pytest.raises(TooLargeError, match="nonzeros"):
        build_baseline(prep.data, prep.baseline_usd, max_ptdf_nonzeros=10)
