"""The grid baseline: built with numpy (siting.solve.baseline) and solved beside the build.

The hand-checked grid: three buses in a line, 1 - 2 - 3 (branch a, 1-2, 1,000 MW; branch b,
2-3, 160 MW), 200 MW of load at bus 3, a cheap generator at bus 1 (g1: 20 USD/MWh, 1.0 t
CO2/MWh) and a dear one at bus 3 (g3: 50 USD/MWh, 0.5 t CO2/MWh). Two years (2030,
2031), no discounting, the last year standing for one year: each period weighs 1 year.
Snapshots: a 0-hour peak (its dispatch cost weighs 1 h, its CO2 nothing) and the year
(8,760 h), both at the full load.

- N-0: g1 would carry all 200 MW, but branch b takes 160 MW (a lazily added limit), so g3
  makes 40 MW: 160 x 20 + 40 x 50 = 5,200 USD/h; the baseline is 2 periods x 8,761 h x
  5,200 = 91,114,400 USD and 2 x 8,760 h x (160 x 1.0 + 40 x 0.5) = 3,153,600 t CO2.
- With an upgrade of b (+100 MW, 1 M USD, no lead time): it saves 40 MW x 30 USD/MWh x
  8,761 h = 10.5 M USD a year, so the baseline takes it in 2030: 200 x 20 = 4,000 USD/h,
  2 x 8,761 x 4,000 = 70,088,000 USD, 2 x 8,760 x 200 x 1.0 = 3,504,000 t (the upgrade's
  cost is not part of the dispatch cost).
- N-1 instead: b is two parallel branches b1 and b2 (100 MW each, 120 MW emergency, the
  same reactance). N-0 lets g1 carry 200 MW (100 on each). After the outage of either,
  the other carries all of it, at most 120 MW: g1 120 MW, g3 80 MW: 120 x 20 + 80 x 50 =
  6,400 USD/h, 2 x 8,761 x 6,400 = 112,140,800 USD, 2 x 8,760 x (120 + 40) = 2,803,200 t.
  (Branch a's outage splits the grid: never checked.)
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml
from test_plan import at, write_region

import siting
from siting.pipeline import GridBaseError, GridBaseline, _no_sites, prepare, pyomo_grid_baseline
from siting.solve import baseline as bl
from siting.solve.highs import use_threads

REPO = Path(__file__).resolve().parents[1]
HOURS = 8760.0


def write_grid(d: Path, *, upgrade_cost_usd: float | None = None, n1: bool = False) -> Path:
    """The hand-checked grid of the module docstring (with write_region's sites S2, S3)."""
    scenario = write_region(d)
    gpkg = d / "tiny.gpkg"
    buses = gpd.read_file(gpkg, layer="buses")
    buses["load_mw"] = [0.0, 0.0, 200.0]
    buses.to_file(gpkg, layer="buses")
    gens = gpd.read_file(gpkg, layer="generators")
    gens = gpd.GeoDataFrame(
        {
            "gen_id": ["g1", "g3"],
            "bus_id": ["1", "3"],
            "p_max_mw": [2000.0, 500.0],
            "marginal_cost_usd_per_mwh": [20.0, 50.0],
            "co2_t_per_mwh": [1.0, 0.5],
        },
        geometry=[at(5, 10), at(55, 10)],
        crs=gens.crs,
    )
    gens.to_file(gpkg, layer="generators")
    branches = gpd.read_file(gpkg, layer="branches")
    if n1:
        b = branches.iloc[[1, 1]].copy()
        b["branch_id"] = ["b1", "b2"]
        b["rating_mw"] = [100.0, 100.0]
        branches = pd.concat([branches.iloc[[0]], b], ignore_index=True)
        branches["rating_emergency_mw"] = [1000.0, 120.0, 120.0]
        branches = gpd.GeoDataFrame(branches, geometry="geometry", crs=gens.crs)
    if upgrade_cost_usd is not None:
        branches["upgrade_added_mw"] = [np.nan, 100.0]
        branches["upgrade_cost_usd"] = [np.nan, upgrade_cost_usd]
        branches["upgrade_lead_time_years"] = [np.nan, 0.0]
    branches.to_file(gpkg, layer="branches")
    raw = yaml.safe_load(scenario.read_text())
    raw["grid"]["formulation"] = "ptdf"
    raw["costs"] = {"discount_rate": 0.0, "final_period_years": 1}
    if n1:
        raw["grid"]["n_minus_1"] = {"enabled": True, "outages": "all", "snapshots": "all"}
    scenario.write_text(yaml.safe_dump(raw, sort_keys=False))
    return scenario


CASES = {
    # (usd, t CO2): the module docstring's sums
    "n0": ({}, 2 * (HOURS + 1) * (160 * 20 + 40 * 50), 2 * HOURS * (160 * 1.0 + 40 * 0.5)),
    "upgrade": ({"upgrade_cost_usd": 1e6}, 2 * (HOURS + 1) * 200 * 20, 2 * HOURS * 200 * 1.0),
    "n1": ({"n1": True}, 2 * (HOURS + 1) * (120 * 20 + 80 * 50), 2 * HOURS * (120 + 80 * 0.5)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_numpy_baseline_gives_the_hand_computed_dispatch(tmp_path, case):
    kw, usd, co2_t = CASES[case]
    assert (usd, co2_t) == {
        "n0": (91_114_400.0, 3_153_600.0),
        "upgrade": (70_088_000.0, 3_504_000.0),
        "n1": (112_140_800.0, 2_803_200.0),
    }[case]
    d = prepare(write_grid(tmp_path, **kw)).data
    base = _no_sites(d)
    assert bl.covered(base) == ""
    use_threads(1)  # (HiGHS's scheduler, sized for the solves to come)
    ans = bl.solve_baseline(base, 1)
    assert ans.status == "optimal", ans
    assert ans.usd == pytest.approx(usd, rel=1e-9)
    assert ans.co2_t == pytest.approx(co2_t, rel=1e-9)
    # the limits came lazily, in every (period, snapshot): b's (N-0: the first LP puts 200
    # MW on it), or, with N-1, b1's after b2's outage and b2's after b1's (N-0's 100 MW on
    # each is within their rating)
    assert (ans.limits_added, ans.n1_added) == ((0, 2 * 4) if case == "n1" else (4, 0))
    assert ans.mip_rounds == (1 if case == "upgrade" else 0)  # a MIP only with an upgrade
    # the Pyomo model of the same grid gives the same figures
    assert pyomo_grid_baseline(d, 1) == pytest.approx((ans.usd, ans.co2_t), rel=1e-12)


def _same_highs_model(d) -> None:
    """The numpy baseline hands HiGHS the model the Pyomo one does, array for array:
    columns (costs, bounds), rows (bounds, coefficients), before any lazy row."""
    import scipy.sparse as sp
    from pyomo.contrib.solver.solvers.highs import Highs

    from siting.model import build_model
    from siting.solve.highs import _highs_with_start

    base = _no_sites(d)
    opt = _highs_with_start(Highs)()
    opt.set_instance(build_model(base))
    want = opt._solver_model.getLp()
    h = bl.new_highs()
    bl._passed(h, bl._Lp(base))
    got = h.getLp()

    def matrix(lp):
        a = lp.a_matrix_
        parts = (np.asarray(a.value_), np.asarray(a.index_), np.asarray(a.start_))
        if len(parts[2]) == lp.num_row_ + 1:  # (row-wise after addRows)
            return sp.csr_matrix(parts, shape=(lp.num_row_, lp.num_col_))
        return sp.csc_matrix(parts, shape=(lp.num_row_, lp.num_col_)).tocsr()

    assert (got.num_col_, got.num_row_) == (want.num_col_, want.num_row_)
    for f in ("col_cost_", "col_lower_", "col_upper_", "row_lower_", "row_upper_"):
        np.testing.assert_array_equal(np.asarray(getattr(got, f)), np.asarray(getattr(want, f)))
    assert (matrix(got) != matrix(want)).nnz == 0


def test_the_demo_baseline_is_the_pyomo_models_to_the_last_bit():
    """The demo (PTDF form, upgrade options, CO2 figures): HiGHS gets the same model, so it
    finds the same dispatch, and the figures are summed in Pyomo's order: equal floats."""
    prep = prepare(REPO / "models" / "demo.yaml")
    d = prep.data
    _same_highs_model(d)
    ans = bl.solve_baseline(_no_sites(d), 2)
    assert ans.status == "optimal" and ans.co2_t > 0
    assert (ans.usd, ans.co2_t) == pyomo_grid_baseline(d, 2)
    assert (prep.baseline_usd, prep.baseline_co2_t) == (ans.usd, ans.co2_t)


@pytest.mark.slow
@pytest.mark.parametrize("n1", [False, True], ids=["n0", "n1"])
def test_case300_and_activsg2000_baselines_match_the_pyomo_model(pglib_dir, tmp_path, n1):
    """pglib's case300 (the benchmark instance, PTDF form) and ACTIVSg2000 (national-TX),
    without and with N-1 (case300: the 20 most loaded outages; national-TX-N1's 20 from
    2029). With N-1 case300 cannot serve its own load: both say so after the same lazy
    limits, and the run's error explains it."""
    import sys

    from test_deadline import _activsg2000

    sys.path.insert(0, str(REPO))
    from benchmarks.instances import write_instance, write_texas
    from siting.model import build_model
    from siting.model.state import model_state
    from siting.pipeline import _baseline_lp

    paths = [
        write_instance(
            tmp_path / "c300", case=pglib_dir / "pglib_opf_case300_ieee.m", formulation="ptdf",
            n_sites=24, seed=7,
        ),
        write_texas(tmp_path / "tx", n1=n1) if _activsg2000() else None,
    ]  # fmt: skip
    for path in paths:
        assert path is not None
        if n1 and "c300" in str(path):
            raw = yaml.safe_load(path.read_text())
            raw["grid"]["n_minus_1"] = {"enabled": True, "outages": 20}
            path.write_text(yaml.safe_dump(raw, sort_keys=False))
        prep = prepare(path, background_baseline=True)  # (its errors come when read)
        d = prep.data
        assert (d.grid.n1 is not None) == n1
        _same_highs_model(d)
        ans = bl.solve_baseline(_no_sites(d), 2)
        if n1 and "c300" in str(path):
            assert ans.status == "infeasible", ans
            base = _no_sites(d)
            m = build_model(base)
            r = _baseline_lp(m, base, 2, None)
            info = model_state(m).lazy_info
            assert r.status == "infeasible" and info is not None
            assert (ans.limits_added, ans.n1_added) == (info.limits_added, info.n1_added)
            with pytest.raises(GridBaseError, match="own base load"):
                prep.baseline.values()
            continue
        assert ans.status == "optimal", (path, ans)
        assert (ans.usd, ans.co2_t) == pyomo_grid_baseline(d, 2), path
        assert prep.baseline.values() == (ans.usd, ans.co2_t)


# --- the baseline beside the build (siting.pipeline.GridBaseline) -------------------------


def _baseline_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "siting-grid-baseline"]


def test_a_plan_solves_its_baseline_beside_the_build(tmp_path):
    """The PTDF form's baseline runs in a worker thread; the plan is costed against it (the
    hand-computed 91,114,400 USD) and says how long it took and how long the build waited."""
    path = write_grid(tmp_path)
    p = siting.plan(path, write=False)
    tm = p.manifest["timings"]
    assert tm["baseline_own_s"] > 0 and tm["baseline_wait_s"] >= 0
    assert p.manifest["grid_baseline_dispatch_usd"] == pytest.approx(91_114_400.0, rel=1e-9)
    assert p.metrics["baseline_co2_t"] == pytest.approx(3_153_600.0, rel=1e-9)
    assert not _baseline_threads()
    # the angle form's baseline goes through Pyomo, whose HiGHS interface redirects the
    # process's output while it solves: never beside other work
    raw = yaml.safe_load(path.read_text())
    raw["grid"]["formulation"] = "angle"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    d = prepare(path).data
    gb = GridBaseline(d, 1, background=True)
    assert not gb.background and gb.values() == pytest.approx((91_114_400.0, 3_153_600.0))


def _raise_at_build(exc: BaseException):
    def progress(stage: str) -> None:
        if stage == "build model":
            raise exc

    return progress


def test_an_error_while_the_model_is_built_waits_for_the_baseline(tmp_path):
    """An error in the build (here the progress callback's, at "build model") is raised as
    it is, once the baseline's worker has ended (nothing left running)."""
    path = write_grid(tmp_path)
    with pytest.raises(RuntimeError, match="stop at the build"):
        siting.plan(path, write=False, progress=_raise_at_build(RuntimeError("stop at the build")))
    assert not _baseline_threads()


def test_the_baselines_error_comes_before_an_error_of_the_build(tmp_path):
    """Branch b must carry bus 3's 200 MW (no generator there) on its 160 MW: the grid
    cannot serve its own load. That error came first when the baseline was solved before
    the build; it still does when the build fails too, and names the branch."""
    path = write_grid(tmp_path)
    gpkg = tmp_path / "tiny.gpkg"
    gens = gpd.read_file(gpkg, layer="generators")
    gens.iloc[[0]].to_file(gpkg, layer="generators")  # g1 alone
    with pytest.raises(GridBaseError, match="own base load") as e:
        siting.plan(path, write=False, progress=_raise_at_build(RuntimeError("the build")))
    assert "branch b" in str(e.value)
    assert not _baseline_threads()


def test_ctrl_c_while_the_model_is_built_stops_the_baseline(tmp_path):
    """Ctrl-C during the build: the plan stops with the stage's name; the baseline's worker
    starts no further HiGHS run (a worker stopped at once ran at most one of the demo
    baseline's three)."""
    path = write_grid(tmp_path)
    with pytest.raises(siting.pipeline.PlanInterrupted, match="during 'build model'"):
        siting.plan(path, write=False, progress=_raise_at_build(KeyboardInterrupt()))
    for t in _baseline_threads():
        t.join(30)
    assert not _baseline_threads()
    d = prepare(REPO / "models" / "demo.yaml").data
    gb = GridBaseline(d, 2, background=True)
    gb.abandon()
    deadline = time.monotonic() + 60
    while _baseline_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    ans = gb._answer
    assert ans is not None and ans.status == "stopped"
    assert ans.lp_rounds + ans.mip_rounds <= 1
    # read after all: solved then, in this thread, to the same figures
    assert gb.values() == pyomo_grid_baseline(d, 2)


def test_a_deadline_during_the_baseline_says_so_as_before(tmp_path):
    """A limit the run has used up before the baseline: exit 4's message names the grid's
    own dispatch, as when the baseline ran before the build."""
    path = write_grid(tmp_path)
    with pytest.raises(siting.solve.highs.NoPlanInTimeError) as e:
        siting.plan(path, write=False, time_limit_s=0.001)
    msg = " ".join(str(e.value).split())
    assert "ran out while solving the grid's own dispatch" in msg and "(0.001 s)" in msg, msg
    assert not _baseline_threads()


def test_a_model_handed_over_before_its_objective_is_the_same_to_highs(tmp_path):
    """While the baseline is still being solved, the campus model is handed to HiGHS before
    its metrics and objective (``meanwhile``), the objective set once the baseline is
    known. HiGHS then holds what a hand-over after the build gives it, array for array
    (the demo, relaxed as the approximate rows' first LP is), and the hand-checked grid's
    plan is the same: the same cost and the same sites."""
    from siting.model import build_model
    from siting.model.state import model_state
    from siting.pipeline import _early_hand_over, solve_model
    from siting.solve.highs import _persistent, hand_over, objective_added
    from siting.solve.lazy import _relax

    prep = prepare(REPO / "models" / "demo.yaml")
    d = prep.data
    usd, co2_t = prep.baseline.values()
    after = build_model(d, baseline_usd=usd, baseline_co2_t=co2_t)
    _relax(after)
    _persistent(after).set_instance(after)
    before = build_model(
        d, baseline_usd=lambda: usd, baseline_co2_t=lambda: co2_t, meanwhile=hand_over
    )
    objective_added(before)
    _relax(before)
    model_state(before).highs_solver.update()  # (what the first solve does first)
    want = model_state(after).highs_solver._solver_model.getLp()
    got = model_state(before).highs_solver._solver_model.getLp()
    for f in ("col_cost_", "col_lower_", "col_upper_", "row_lower_", "row_upper_"):
        np.testing.assert_array_equal(np.asarray(getattr(got, f)), np.asarray(getattr(want, f)))
    assert (got.num_row_, got.offset_) == (want.num_row_, want.offset_)
    assert want.offset_ == pytest.approx(-usd / 1e6, rel=1e-3)  # (the baseline is in it)

    grid = prepare(write_grid(tmp_path)).data
    plans = []
    for early in (False, True):
        m = build_model(
            grid,
            baseline_usd=lambda: 91_114_400.0,
            baseline_co2_t=lambda: 3_153_600.0,
            meanwhile=hand_over if early else None,
        )
        objective_added(m)
        r = solve_model(m, grid, mip_gap=0.0, threads=1, time_limit_s=60)
        plans.append((r.objective, sorted(s for s in m.S if m.open[s].value > 0.5)))
    assert plans[0] == plans[1] and plans[0][1]

    # not with a cap or a budget (their rows would come after the others)
    gb = GridBaseline(grid, 1, background=True)
    assert _early_hand_over(gb, grid) is not None
    capped = dataclasses.replace(grid, caps=dataclasses.replace(grid.caps, co2_cap_t=1e9))
    assert _early_hand_over(gb, capped) is None
    gb.values()


def _record_first_run_and_build(monkeypatch, setup_s: float) -> dict[str, float]:
    """Slow the baseline worker's setup (its rows) by ``setup_s`` and record when the
    worker's first HiGHS run and the model build start (``time.perf_counter``)."""
    import highspy

    seen: dict[str, float] = {}
    real_lp, real_run = bl._Lp.__init__, highspy.Highs.run
    real_build = siting.pipeline.build_model

    def slow_lp(self, *a, **k):
        time.sleep(setup_s)
        real_lp(self, *a, **k)

    def run(self, *a, **k):
        if threading.current_thread().name == "siting-grid-baseline":
            seen.setdefault("first_run", time.perf_counter())
        return real_run(self, *a, **k)

    def build(*a, **k):
        seen.setdefault("build", time.perf_counter())
        return real_build(*a, **k)

    monkeypatch.setattr(bl._Lp, "__init__", slow_lp)
    monkeypatch.setattr(highspy.Highs, "run", run)
    monkeypatch.setattr(siting.pipeline, "build_model", build)
    return seen


def test_the_build_lets_the_baselines_worker_start_its_first_run(tmp_path, monkeypatch):
    """The model build waits until the baseline's worker has started its first HiGHS run
    (on national-TX the baseline's LP is what the plan waits for, and a build beside the
    worker's setup puts it off): with the setup slowed by 0.4 s, the build still starts
    after that run. Before the wait it started at once, 0.4 s before the run."""
    seen = _record_first_run_and_build(monkeypatch, 0.4)
    p = siting.plan(write_grid(tmp_path), write=False)
    assert seen["build"] >= seen["first_run"]
    assert 0.3 <= p.manifest["timings"]["baseline_head_start_s"] <= 5.0
    assert p.manifest["grid_baseline_dispatch_usd"] == pytest.approx(91_114_400.0, rel=1e-9)


def test_the_builds_wait_for_the_baselines_worker_is_bounded(tmp_path, monkeypatch):
    """A worker whose setup is long (a large grid's PTDF) holds the build back at most
    BASELINE_HEAD_START_S (here 0.2 s against a 2 s setup): the build starts before the
    worker's first run, and the plan is costed against the same baseline."""
    monkeypatch.setattr(siting.pipeline, "BASELINE_HEAD_START_S", 0.2)
    seen = _record_first_run_and_build(monkeypatch, 2.0)
    p = siting.plan(write_grid(tmp_path), write=False)
    assert seen["build"] < seen["first_run"]
    assert 0.15 <= p.manifest["timings"]["baseline_head_start_s"] < 1.5
    assert p.manifest["grid_baseline_dispatch_usd"] == pytest.approx(91_114_400.0, rel=1e-9)
