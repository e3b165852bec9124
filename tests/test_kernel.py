"""The candidate kernel (siting.solve.kernel): a smaller MILP, and a bound that holds.

The instance is the benchmarks' S size (pandapower's case118, shipped with pandapower) cut
to 60 candidate sites. References come from outside the kernel code: the whole model
solved by HiGHS at gap 0 (its optimum), and the LP relaxation re-solved with an excluded
site forced open (what opening it costs at least).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import siting
from siting.config.scenario import load_scenario
from siting.model import build_model
from siting.model.data import replaced
from siting.model.state import model_state
from siting.pipeline import prepare
from siting.solve import kernel
from siting.solve.highs import solve
from siting.solve.lazy import _relax

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # benchmarks/ is not an installed package

from benchmarks.instances import write_size  # noqa: E402

N_SITES = 30


def _with(scenario, **solver):
    sc = load_scenario(scenario)
    return sc.model_copy(update={"solver": sc.solver.model_copy(update=solver)})


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("kernel")
    return write_size(
        folder, "S", formulation="angle", n_sites=N_SITES, mip_gap=0.0, time_limit_s=120.0
    )


@pytest.fixture(scope="module")
def optimum(small) -> float:
    """The whole model's optimum (HiGHS, gap 0, no kernel)."""
    p = siting.plan(_with(small, candidate_kernel="off"), write=False)
    assert p.solve.status == "optimal" and p.solve.gap <= 1e-9
    return float(p.solve.objective)


def test_exclusion_bounds_hold_when_a_left_out_site_is_forced_open(small):
    # The bound p_s claims: any point of the LP relaxation with open_s = 1 costs at least
    # z + p_s. Checked by re-solving the relaxation with the site forced open.
    prep = prepare(small)
    d = prep.data
    m = build_model(d, baseline_usd=prep.baseline_usd, baseline_co2_t=prep.baseline_co2_t)
    _relax(m)
    # dual simplex: the bound holds for any optimal basis; on this small, degenerate LP the
    # interior point's crossover (kernel.LP_OPTIONS) ends at a basis whose reduced costs on
    # the left-out sites are all 0 (a valid but empty bound), simplex at one that bounds some
    r = solve(m, mip_gap=0.0, time_limit_s=120)
    assert r.status == "optimal"
    z = r.objective / model_state(m).objective_unit
    pen, used = kernel.exclusion_bounds(m, d)
    assert 0 < used.sum() < len(d.campus.sites)
    assert (pen >= 0).all()
    left = np.flatnonzero(~used)
    assert pen[left].max() > 1.0  # bounds of real size are tested, not only zeros

    def forced_open(i: int) -> float | None:
        m2 = build_model(d, baseline_usd=prep.baseline_usd, baseline_co2_t=prep.baseline_co2_t)
        _relax(m2)
        m2.open[d.campus.sites[i]].fix(1)
        r2 = solve(m2, mip_gap=0.0, time_limit_s=120)
        if r2.status == "infeasible":  # no point with the site open: the bound holds
            return None
        assert r2.status == "optimal"
        return r2.objective / model_state(m2).objective_unit

    # the closest calls: the left-out sites with the smallest bounds, and the largest
    for order in (np.argsort(pen[left]), np.argsort(-pen[left])):
        checked = 0
        for i in left[order]:
            forced = forced_open(int(i))
            if forced is None:
                continue
            assert forced >= z + pen[i] - 1e-6 * max(1.0, abs(z)), (d.campus.sites[i], forced, z)
            checked += 1
            if checked == 3:
                break
        assert checked == 3


def test_kernel_plan_matches_the_whole_model(small, optimum):
    p = siting.plan(_with(small, candidate_kernel="on"), write=False)
    r = p.solve
    assert r.status == "optimal"
    # gap 0 asked: the kernel's plan is the whole model's optimum, and its bound (over
    # every plan, the left-out sites' included) does not exceed that optimum
    assert r.objective == pytest.approx(optimum, rel=1e-6)
    assert r.bound <= optimum * (1 + 1e-6)
    note = next(n for n in r.notes if n.startswith("candidate kernel"))
    assert f"of {N_SITES} sites" in note or "sites;" in note
    assert p.checks and all(c.ok for c in p.checks)


def test_a_kernel_too_small_grows_and_its_gap_is_honest(small, optimum, monkeypatch):
    # Only the sites the LP uses start in the kernel: a second round adds every site whose
    # bound says it could still improve the plan. Whatever the rounds end with, the bound
    # reported must not exceed the optimum, and the gap is measured against it.
    monkeypatch.setattr(kernel, "KERNEL_EXTRA", 0)
    monkeypatch.setattr(kernel, "KERNEL_EXTRA_MIN", 0)
    p = siting.plan(_with(small, candidate_kernel="on", mip_gap=0.0), write=False)
    r = p.solve
    assert r.bound <= optimum * (1 + 1e-6)
    assert r.objective >= optimum * (1 - 1e-6)
    assert r.gap == pytest.approx((r.objective - r.bound) / r.objective, abs=1e-9)
    if r.gap > 1e-9:
        assert r.status == "feasible" and r.termination == "kernelBound"
    note = next(n for n in r.notes if n.startswith("candidate kernel"))
    assert "kernels of" in note


def test_when_the_kernel_is_used(small):
    d = prepare(small).data
    assert kernel.wanted(d, "on") and not kernel.wanted(d, "off")
    assert not kernel.wanted(d, "auto")  # 60 sites, below AUTO_MIN_SITES
    assert not kernel.wanted(d, "on", elastic=True)

    assert not kernel.wanted(replaced(d, goal={"sense": "max_capacity"}), "on")


def test_candidate_kernel_setting_is_checked(small, tmp_path):
    text = small.read_text().replace("solver:", "solver:\n  candidate_kernel: maybe", 1)
    bad = small.parent / "bad_kernel.yaml"
    bad.write_text(text)
    with pytest.raises(siting.core.errors.InputError) as e:
        load_scenario(bad)
    assert "candidate_kernel" in str(e.value) and "bad_kernel.yaml" in str(e.value)


@pytest.fixture(scope="module")
def small_ptdf(tmp_path_factory) -> Path:
    """The same instance in the PTDF form (lazy line limits)."""
    folder = tmp_path_factory.mktemp("kernel_ptdf")
    return write_size(
        folder, "S", formulation="ptdf", n_sites=N_SITES, mip_gap=0.0, time_limit_s=600.0
    )


@pytest.mark.parametrize("gap", [0.0001, 0.01])
def test_relax_and_repair_meets_every_limit_within_the_gap(small_ptdf, optimum, gap):
    # The kernel MILP runs first without line limits, then its decisions are fixed and the
    # dispatch re-solved with every violated limit (siting.solve.kernel.relax_and_repair),
    # the feasibility cuts of each failed repair joining the MILP. At a 0.01 % gap the
    # repaired plan is not proven within it (limits bind on this case), so the lazy loop
    # finishes the job; at 1 % the repair is kept. Either way: the bound does not exceed the
    # optimum of the angle form (every limit in the model, solved at gap 0), the plan is
    # within the gap of it, and verify() recomputes its DC flows within ratings.
    p = siting.plan(_with(small_ptdf, candidate_kernel="on", mip_gap=gap), write=False)
    r = p.solve
    assert r.status == "optimal"
    assert r.bound <= optimum * (1 + 1e-6)
    assert optimum * (1 - 1e-6) <= r.objective <= optimum * (1 + gap + 1e-6)
    assert all(c.ok for c in p.checks)
    assert any(c.name.startswith("line") or "flow" in c.name for c in p.checks)
    repaired = any("met every limit" in n for n in r.notes)
    assert repaired == (gap > 0.001), r.notes


def _repair_setup(scenario):
    """The model data of ``scenario``, a model builder and a solve at gap 0 (for
    :func:`kernel.relax_and_repair`)."""
    prep = prepare(scenario)

    def build(dd):
        return build_model(dd, baseline_usd=prep.baseline_usd, baseline_co2_t=prep.baseline_co2_t)

    def run(mm, opts=None):
        return solve(mm, mip_gap=0.0, time_limit_s=300, highs_options=opts)

    return prep.data, build, run


def test_a_kernel_out_of_time_says_so_and_does_not_start_over(small_ptdf):
    # Time runs out in the kernel before any plan meets every line limit. The kernel stops
    # with "no plan" and its figures in the result's notes (which the run's message
    # carries), instead of going on to a plan found after the limit (the lazy loop on a
    # second's budget per MILP, or the whole model solved again with a fresh time limit,
    # which on the national L instance doubled the wall time to no avail).
    from siting.core.clock import Clock
    from siting.pipeline import solve_by_kernel
    from siting.solve.highs import NoPlanInTimeError

    prep = prepare(_with(small_ptdf, candidate_kernel="on"))
    settings = {"solver": "highs", "time_limit_s": 300.0, "mip_gap": 0.005, "threads": 1}
    # the run's deadline already passed when the kernel starts (every stage shares one)
    out = solve_by_kernel(
        prep.data, prep.baseline_usd, prep.baseline_co2_t, settings, clock=Clock(limit_s=0.0)
    )
    assert out is not None  # not None: that would solve the whole model instead
    _m, _d, r = out
    assert (r.status, r.termination, r.objective) == ("no_solution", "maxTimeLimit", None)
    assert any(n.startswith("candidate kernel: the LP relaxation (bound") for n in r.notes)
    # the whole run with a limit too short for anything: exit 4's error, naming the limit
    with pytest.raises(NoPlanInTimeError) as e:
        siting.plan(_with(small_ptdf, candidate_kernel="on", time_limit_s=0.001), write=False)
    msg = " ".join(str(e.value).split())
    assert "within the time limit" in msg and "(0.001 s" in msg, msg
    # the same when the time runs out at the start of the kernel MILP's rounds
    d, build, run = _repair_setup(small_ptdf)
    m = build(d)
    _mk, r, info = kernel.relax_and_repair(m, d, run, 0.01, build, clock=Clock(limit_s=0.0))
    assert (r.status, r.termination, r.objective) == ("no_solution", "maxTimeLimit", None)
    assert info.mip_rounds == 0


def test_a_row_budget_leaves_limits_out_and_the_lp_stays_a_bound(small_ptdf):
    # The kernel's LP stage adds line limits while their dense rows fit a nonzero budget
    # (kernel.LP_ROW_NONZEROS). With a budget of 1 nonzero none is added, the count left
    # out is reported, and the LP (fewer limits) bounds the one with every limit from below.
    from siting.solve.lazy import _restore, solve_lazy

    prep = prepare(small_ptdf)
    d = prep.data
    objectives, infos = [], []
    for budget in (1, None):
        m = build_model(d, baseline_usd=prep.baseline_usd, baseline_co2_t=prep.baseline_co2_t)
        saved = _relax(m)
        r, info = solve_lazy(m, d, lambda mm: solve(mm, mip_gap=0.0), row_nonzeros=budget)
        _restore(saved)
        assert r.status == "optimal"
        objectives.append(r.objective)
        infos.append(info)
    assert infos[0].limits_added == 0 and infos[0].limits_skipped > 0
    assert infos[1].limits_added > 0 and infos[1].limits_skipped == 0
    assert objectives[0] <= objectives[1] * (1 + 1e-9)


def test_a_feasibility_cut_is_what_the_network_can_host():
    # Two buses, one line rated 50 MW; a 20 MW generator at the campus's bus, a 100 MW one
    # across the line. By hand: the campus can draw at most 50 + 20 = 70 MW. With its draw
    # pinned at 80 MW the dispatch LP is infeasible, and the cut from HiGHS's dual ray must
    # say exactly draw <= 70 MW (siting.solve.kernel._cut_from_ray).
    import pyomo.environ as pyo

    m = pyo.ConcreteModel()
    m.p = pyo.Var(bounds=(0, 100))  # across the line [MW]
    m.q = pyo.Var(bounds=(0, 20))  # at the campus's bus [MW]
    m.draw = pyo.Var(bounds=(80, 80))
    m.balance = pyo.Constraint(expr=m.p + m.q - m.draw == 0)
    m.line = pyo.Constraint(expr=m.p <= 50)
    m.cost = pyo.Objective(expr=m.p + 2 * m.q)
    r = solve(m, mip_gap=0.0, highs_options={"presolve": "off"})
    assert r.status == "infeasible"
    _limits, cuts = kernel._farkas_proofs(m, [m.draw])
    assert len(cuts) == 1
    (c,) = cuts
    assert c.coefs.shape == (1,) and c.coefs[0] > 0
    # (the cut is tightened by kernel.CUT_MARGIN of its scale, about 70: 7e-5 MW)
    assert c.rhs / c.coefs[0] == pytest.approx(70.0, rel=1e-5)
    assert c.rhs / c.coefs[0] <= 70.0


def test_a_rays_rows_read_alone_give_the_whole_matrixs_products(small_ptdf):
    # _farkas_proofs reads from HiGHS only the rows a ray uses (getRowsEntries) and the
    # bounds as arrays (getRows, getCols), not the whole LP (getLp, whose fields come as
    # Python lists: 20 s a run on L). On the small grid's model as handed to HiGHS, for rays
    # on a few rows, A' y from those rows alone must equal A' y from getLp's whole matrix bit
    # for bit, and the bounds getLp's.
    import highspy
    import scipy.sparse as sp

    prep = prepare(small_ptdf)
    d = prep.data
    m = build_model(d, baseline_usd=prep.baseline_usd, baseline_co2_t=prep.baseline_co2_t)
    _relax(m)
    assert solve(m, mip_gap=0.0).status == "optimal"
    h = model_state(m).highs_solver._solver_model
    lp = h.getLp()
    mat = lp.a_matrix_
    parts = (np.asarray(mat.value_), np.asarray(mat.index_), np.asarray(mat.start_))
    shape = (lp.num_col_, lp.num_row_)
    whole = (
        sp.csc_matrix(parts, shape=shape)
        if mat.format_ == highspy.MatrixFormat.kRowwise
        else sp.csr_matrix(parts, shape=shape)
    )
    assert whole.nnz > 1000
    rng = np.random.default_rng(7)
    for k in (1, 5, 40, lp.num_row_):
        y = np.zeros(lp.num_row_)
        rows = rng.choice(lp.num_row_, size=k, replace=False)
        y[rows] = rng.normal(size=k) * 10.0 ** rng.integers(-6, 4, size=k)
        part = kernel._transposed_rows(h, kernel._ray_support(y), lp.num_col_, lp.num_row_)
        # (as _cut_from_ray scales and trims the ray before the product)
        ymax = np.abs(y).max()
        kept = np.where(np.abs(y) > kernel.RAY_TOL * ymax, y, 0.0) / ymax
        assert np.count_nonzero(kept) == len(kernel._ray_support(y))
        assert np.array_equal(part @ kept, whole @ kept)
    n_row, n_col = lp.num_row_, lp.num_col_
    _st, _n, lower, upper, _nz = h.getRows(n_row, np.arange(n_row, dtype=np.int32))
    assert np.array_equal(lower, lp.row_lower_) and np.array_equal(upper, lp.row_upper_)
    _st, _n, _c, lo, up, _nz = h.getCols(n_col, np.arange(n_col, dtype=np.int32))
    assert np.array_equal(lo, lp.col_lower_) and np.array_equal(up, lp.col_upper_)


def test_a_solutions_flows_split_by_what_changes_are_ptdf_times_its_injections(
    small_ptdf, monkeypatch
):
    # flows_numpy keeps the constant injections' flows and the generators' buses' PTDF
    # columns per model, and takes the draws through their buses' columns. Reference: the
    # whole PTDF times every bus's injection, summed here from the variables' values one by
    # one (the textbook DC flow, f = PTDF p + the phase shifts' flows).
    import pyomo.environ as pyo

    from siting.model.grid import injection_maps
    from siting.solve import lazy

    prep = prepare(small_ptdf)
    d = prep.data
    m = build_model(d, baseline_usd=prep.baseline_usd, baseline_co2_t=prep.baseline_co2_t)
    _relax(m)
    assert solve(m, mip_gap=0.0).status == "optimal"
    got = lazy.flows_numpy(m, d)
    tab = model_state(m).flow_tables
    nb = len(d.grid.network.bus_ids)
    assert tab is not None and tab["gen_ptdf"].shape[1] < nb / 2
    # (another model on the same PTDF shares those columns, not a copy of its own)
    m2 = build_model(d, baseline_usd=prep.baseline_usd, baseline_co2_t=prep.baseline_co2_t)
    assert lazy._flow_tables(m2, d)["gen_ptdf"] is tab["gen_ptdf"]
    pt, mp = model_state(m).ptdf_form, injection_maps(m)
    drawn = 0.0
    for (t, h), flows in got.items():
        inj = np.array(pt.const_inj[t, h], dtype=float)
        for g, b in zip(mp["gens"], mp["gen_bus"], strict=True):
            inj[b] += pyo.value(m.p[g, t, h])
        coefs = mp["coef_peak"] if pt.peak_h[h] else mp["coef_typ"]
        for (name, s, k), b, c in zip(mp["caps"], mp["cap_bus"], coefs, strict=True):
            mw = c * (m.component(name)[s, k, t].value or 0.0)
            inj[b] -= mw
            drawn += abs(mw)
        for (name, s), b, c in zip(mp["relief"], mp["relief_bus"], mp["relief_coef"], strict=True):
            inj[b] += c * (m.component(name)[s, t, h].value or 0.0)
        np.testing.assert_allclose(flows, pt.ptdf @ inj + pt.pfinj, rtol=1e-9, atol=1e-6)
    assert drawn > 100.0  # (the campuses draw: the draws' columns were used)
    # the draws through the whole PTDF (as when many buses draw) give the same flows
    monkeypatch.setattr(lazy, "DRAW_COLUMNS_MAX_SHARE", 0.0)
    for key, flows in lazy.flows_numpy(m, d).items():
        np.testing.assert_allclose(flows, got[key], rtol=1e-12, atol=1e-9)


@pytest.fixture(scope="module")
def optimum_capacities(small) -> tuple[float, dict]:
    """The angle form's optimum (every limit in the model, gap 0): objective, and the value
    of each variable by (component name, index)."""
    prep = prepare(small)
    m = build_model(prep.data, baseline_usd=prep.baseline_usd, baseline_co2_t=prep.baseline_co2_t)
    r = solve(m, mip_gap=0.0, time_limit_s=300)
    assert r.status == "optimal"
    values = {(v.parent_component().local_name, v.index()): v.value for v in m.capk.values()}
    values.update({(v.parent_component().local_name, v.index()): v.value for v in m.build.values()})
    return float(r.objective), values


def test_feasibility_cuts_hold_at_the_whole_models_optimum(small_ptdf, optimum_capacities):
    # A feasibility cut claims: no plan that violates it has a dispatch within the limits.
    # The angle form's optimum has one (every limit is in that model), so every cut the
    # repair rounds put into the MILP must hold at it. A cut with its sign or its right-hand
    # side wrong would cut that plan off.
    objective, values = optimum_capacities
    d, build, run = _repair_setup(small_ptdf)
    m = build(d)
    _mk, r, info = kernel.relax_and_repair(m, d, run, 0.01, build)
    assert r.has_solution and info.cuts_in_milp > 0
    assert info.cuts_in_milp == len(m.feasibility_cuts)
    assert r.bound <= objective * (1 + 1e-6) <= r.objective * (1 + 0.01 + 1e-6)
    for con in m.feasibility_cuts.values():
        body = con.body
        at = sum(
            c * values[(v.parent_component().local_name, v.index())]
            for c, v in zip(body.linear_coefs, body.linear_vars, strict=True)
        )
        # (each cut is tightened by kernel.CUT_MARGIN of its scale: the solvers' tolerance)
        scale = max(1.0, sum(abs(c) for c in body.linear_coefs), abs(con.upper))
        assert at <= con.upper + 2 * kernel.CUT_MARGIN * scale, con.name


def test_the_kernel_note_says_whether_sites_were_left_out():
    # Its note tells the three cases apart: a bound on the sites left out, no site left
    # out, and no such bound computed (no kernel plan; before, it said "no site was left
    # out of the kernel" there too).
    from siting.solve.kernel import KernelInfo

    info = KernelInfo(candidates=100, lp_bound_usd=1e9, kernel_sites=[40])
    assert "no bound on the sites left out" in info.note()
    info.excluded_bound_usd = float("inf")
    assert "no site was left out of the kernel" in info.note()
    info.excluded_bound_usd = 2e9
    assert "a plan opening any site left out costs at least 2.000 bn USD" in info.note()
