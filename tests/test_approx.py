"""Approximate network rows (siting.solve.approx): sparser line limits for the MILP, every
plan verified and repaired on the exact network, the gap measured to an exact bound.

The instance is the benchmarks' S size (pandapower's case118) cut to 30 candidate sites, in
the PTDF form. References come from outside the method: the PTDF matrix of
siting.network (the exact flow a row stands for), the exact LP relaxation solved by the
ordinary lazy loop (the bound), and the angle form solved at gap 0 (the optimum, every
limit in the model).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

import siting
from siting.config.scenario import load_scenario
from siting.model import build_model
from siting.model.grid import injection_maps, ptdf_flow_parts
from siting.model.state import model_state
from siting.pipeline import prepare
from siting.solve import approx
from siting.solve.highs import solve
from siting.solve.lazy import _relax, _restore, solve_lazy

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # benchmarks/ is not an installed package

from test_kernel import N_SITES, _with  # noqa: E402  (the same S instance, solver settings)

from benchmarks.instances import write_size  # noqa: E402


@pytest.fixture(scope="module")
def small_ptdf(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("approx")
    return write_size(
        folder, "S", formulation="ptdf", n_sites=N_SITES, mip_gap=0.0, time_limit_s=600.0
    )


@pytest.fixture(scope="module")
def prepared(small_ptdf):
    return prepare(small_ptdf)


def _build(prep):
    return build_model(
        prep.data, baseline_usd=prep.baseline_usd, baseline_co2_t=prep.baseline_co2_t
    )


def test_an_approximate_row_is_exact_at_its_anchor_and_off_by_the_dropped_terms(prepared):
    # A row's flow, evaluated at some dispatch p and campus capacities, against the exact
    # flow PTDF[l] @ injections (siting.network's PTDF, the reference): the approximate row
    # equals it when p is the anchor, and differs by sum_small PTDF[l,g] (anchor_g - p_g)
    # otherwise.
    d = prepared.data
    m = _build(prepared)
    mp = injection_maps(m)
    rng = np.random.default_rng(0)
    t, h = 0, d.horizon.snapshots.index[0]
    br = int(
        np.argmax(np.abs(model_state(m).ptdf_form.ptdf[:, mp["gen_bus"]]).sum(axis=1))
    )  # a busy branch
    exact = ptdf_flow_parts(m, br, t, h)
    g = model_state(m).ptdf_form.ptdf[br][mp["gen_bus"]]
    threshold = float(np.quantile(np.abs(g[np.abs(g) > 1e-9]), 0.5))  # drop half of them
    anchor = {
        (tt, hh): rng.uniform(0, 100, len(mp["gens"]))
        for tt in range(d.horizon.n_years)
        for hh in d.horizon.snapshots.index
    }
    model_state(m).row_approx = approx.RowApprox(threshold, anchor)
    appr = ptdf_flow_parts(m, br, t, h)
    assert len(appr[2]) < len(exact[2])  # sparser
    n_g = len(mp["gens"])

    def value(parts, x):
        const, _key, pos, coefs = parts
        return const + float(coefs @ x[pos])

    caps = rng.uniform(0, 50, len(mp["caps"]))
    for p in (anchor[t, h], rng.uniform(0, 100, n_g)):
        x = np.concatenate([p, caps])
        small = np.abs(g) <= threshold
        want = value(exact, x) + float(g[small] @ (anchor[t, h][small] - p[small]))
        assert value(appr, x) == pytest.approx(want, rel=1e-9, abs=1e-9)
    assert value(appr, np.concatenate([anchor[t, h], caps])) == pytest.approx(
        value(exact, np.concatenate([anchor[t, h], caps])), rel=1e-9, abs=1e-9
    )
    # a branch made exact is exact again
    model_state(m).row_approx.exact.add(br)
    again = ptdf_flow_parts(m, br, t, h)
    assert np.array_equal(again[2], exact[2]) and again[0] == pytest.approx(exact[0])


@pytest.fixture(scope="module")
def optimum(small_ptdf) -> float:
    """The optimum with every limit in the model: the angle form at gap 0."""
    sc = load_scenario(small_ptdf)
    sc = sc.model_copy(update={"grid": sc.grid.model_copy(update={"formulation": "angle"})})
    sc = sc.model_copy(
        update={"solver": sc.solver.model_copy(update={"approximate_network": "off"})}
    )
    p = siting.plan(sc, write=False)
    assert p.solve.status == "optimal" and p.solve.gap <= 1e-9
    return float(p.solve.objective)


def test_the_method_gives_a_verified_plan_and_an_honest_gap(small_ptdf, prepared, optimum):
    # The plan meets every exact limit (verify() recomputes its DC flows), costs at least the
    # optimum, and its bound is the exact LP relaxation's (solved here by the ordinary lazy
    # loop): never the approximate MILP's own, which is no bound.
    p = siting.plan(
        _with(small_ptdf, approximate_network="on", candidate_kernel="off", mip_gap=0.01),
        write=False,
    )
    r = p.solve
    assert r.has_solution and all(c.ok for c in p.checks), [c for c in p.checks if not c.ok]
    m = _build(prepared)
    saved = _relax(m)
    lp, _ = solve_lazy(m, prepared.data, lambda mm: solve(mm, mip_gap=0.0, threads=1))
    _restore(saved)
    assert r.bound == pytest.approx(lp.objective, rel=1e-6)
    assert lp.objective <= optimum * (1 + 1e-6)
    assert r.objective >= optimum * (1 - 1e-6)
    assert r.gap == pytest.approx((r.objective - r.bound) / r.objective, rel=1e-6)
    assert (r.status == "optimal") == (r.gap <= 0.01 + 1e-12)
    assert any(n.startswith("approximate network rows") for n in r.notes), r.notes
    info = p.manifest["approximate_network"]
    # the first verified plan is the rounded one (siting.solve.rounding); the MILP rounds
    # run only while it is not within the gap (they are tested below without it)
    assert info["repairs_feasible"] >= 1 and (info["rounds"] >= 1 or info["rounded_ok"])
    assert info["lp_bound_usd"] == pytest.approx(lp.objective, rel=1e-6)


def test_a_methods_model_builds_count_as_the_runs_build(small_ptdf, monkeypatch):
    # The approximate method builds its models inside its solve stage; their time is the
    # run's build_s (the benchmark's "model build s", which read 0 for a method before), and
    # solve_s is the rest of the stage. Reference: each build timed here, around it.
    import siting.pipeline as pl

    spent: list[float] = []
    real = pl.build_model

    def timed(*a, **k):
        t = time.perf_counter()
        m = real(*a, **k)
        spent.append(time.perf_counter() - t)
        return m

    monkeypatch.setattr(pl, "build_model", timed)
    p = siting.plan(
        _with(small_ptdf, approximate_network="on", candidate_kernel="off", mip_gap=0.01),
        write=False,
    )
    tm = p.manifest["timings"]
    assert spent and tm["build_s"] >= sum(spent) > 0
    assert tm["solve_s"] > 0 and tm["build_s"] + tm["solve_s"] <= tm["total_s"]


def _method(prep, mip_gap: float):
    from siting.pipeline import _highs_method

    settings = {"time_limit_s": 300.0, "mip_gap": mip_gap, "threads": 1}
    build, run, clock = _highs_method(prep.baseline_usd, prep.baseline_co2_t, settings, None)
    return build, run, clock


def test_the_milp_rounds_alone_give_a_verified_plan(prepared, optimum):
    # The rounds without the rounded plan (round_first=False): each round's plan verified on
    # the exact network; the plan kept costs at least the optimum, its gap to the exact LP
    # bound.
    build, run, clock = _method(prepared, 0.01)
    out = approx.solve_approximate(
        prepared.data, build, run, mip_gap=0.01, clock=clock, round_first=False
    )
    assert out is not None
    _m, _d, r, info = out
    assert info.rounds >= 1 and info.repairs_feasible >= 1 and info.rounding is None
    assert r.objective >= optimum * (1 - 1e-6)
    assert r.bound <= optimum * (1 + 1e-6)


def test_the_rounded_plan_is_whole_modules_meets_the_targets_and_is_verified(prepared, optimum):
    # siting.solve.rounding on the exact LP relaxation: every integer integral, each year's
    # IT capacity at or above its target in whole modules, no site above what the headroom
    # LP gave it, no site below the minimum campus; the exact network hosts it (the repair
    # LP, every violated limit added, is feasible) and it costs at least the optimum.
    from siting.solve import kernel, rounding
    from siting.solve.lazy import _integer_values

    d = prepared.data
    build, run, clock = _method(prepared, 0.0)
    m = build(d)
    saved = _relax(m)
    try:
        lp, _ = solve_lazy(m, d, run, clock=clock)
        assert lp.status == "optimal"
        info = rounding.round_with_headroom(m, d, run, clock=clock)
        assert info.found, info.stopped
        caps = {
            (s, t): d.campus.module_mw * sum(m.build[s, u].value for u in range(t + 1))
            for s in m.S
            for t in m.T
        }
    finally:
        _restore(saved)
    for v, x in _integer_values(m):
        assert v.value == pytest.approx(x, abs=1e-9)  # integral
    for t in m.T:
        assert sum(caps[s, t] for s in m.S) >= float(d.policy.targets_mw[t]) - 1e-6
    last = d.horizon.n_years - 1
    for s in m.S:
        assert caps[s, last] == 0 or caps[s, last] >= d.campus.min_campus_mw - 1e-6
        assert (m.open[s].value > 0.5) == (caps[s, last] > 0)
    mr = build(d)
    fixed = kernel._carry(kernel._decisions(m, d.campus.module_mw), mr)
    r1, _i, _b, _c = kernel._repair(
        mr, m, d, fixed, lambda mm, opts=None: run(mm, highs_options=opts), clock, conflicts=0
    )
    assert r1.status == "optimal"
    assert r1.objective >= optimum * (1 - 1e-6)
    assert r1.objective >= lp.objective * (1 - 1e-9)


def test_trim_delays_and_drops_modules_above_the_targets_by_hand():
    # Two sites, cumulative modules of 50 MW: a = [2, 5], b = [2, 4]; targets 150 and 400 MW.
    # Last year: 9 modules = 450 MW, one above 400: the module b's relaxation wanted least
    # (b holds 4 against a wanted 3.9 -> 0.1 over; a 5 against 5.0 -> 0 over) is dropped:
    # b = [2, 3]. First year: 4 modules = 200 MW, one above 150: delaying one of a's (a
    # has 2 against 1.2 wanted, 0.8 over; b 2 against 1.9, 0.1 over) keeps a's next year at
    # 5 - 1 = 4 modules built, within its limit of 4: a = [1, 5].
    from siting.solve.rounding import _trim

    n = {"a": [2, 5], "b": [2, 4]}
    wanted = {"a": [1.2, 5.0], "b": [1.9, 3.9]}
    ub = {("a", 0): 4, ("a", 1): 4, ("b", 0): 4, ("b", 1): 4}
    moved = _trim(n, [150.0, 400.0], 50.0, ub, 2, wanted, 2)
    assert moved == 2
    assert n == {"a": [1, 5], "b": [2, 3]}
    # a's next year cannot take one more module (limit 3): b's is delayed instead
    n = {"a": [2, 5], "b": [2, 4]}
    ub[("a", 1)] = 3
    _trim(n, [150.0, 400.0], 50.0, ub, 2, wanted, 2)
    assert n == {"a": [2, 5], "b": [1, 3]}


def test_exactify_swaps_a_branchs_approximate_rows_for_exact_ones(prepared):
    d = prepared.data
    m = _build(prepared)
    mp = injection_maps(m)
    anchor = {
        (t, h): np.zeros(len(mp["gens"]))
        for t in range(d.horizon.n_years)
        for h in d.horizon.snapshots.index
    }
    from siting.solve.lazy import _add_limits

    br = int(np.argmax(np.abs(model_state(m).ptdf_form.ptdf[:, mp["gen_bus"]]).sum(axis=1)))
    g = np.abs(model_state(m).ptdf_form.ptdf[br][mp["gen_bus"]])
    model_state(m).row_approx = approx.RowApprox(float(np.quantile(g[g > 1e-9], 0.5)), anchor)
    triples = [(br, t, h) for t in range(d.horizon.n_years) for h in d.horizon.snapshots.index]
    _add_limits(m, d, triples)
    rows = model_state(m).flat_rows
    before = {c: len(rows[c].pos) for c in m.lazy_limits.values()}
    assert approx._exactify(m, d, {br}) == 1
    assert approx._exactify(m, d, {br}) == 0  # already exact
    active = [c for c in m.lazy_limits.values() if c.active]
    assert len(active) == len(before)  # the same limits, two rows each
    assert all(not c.active for c in before)
    assert min(len(rows[c].pos) for c in active) > max(before.values())
    assert {(br, t, h) for (br, t, h) in triples} <= model_state(m).monitored


def _exact_lp_bound(prep) -> float:
    """The exact LP relaxation (every violated limit added by the ordinary lazy loop)."""
    m = _build(prep)
    saved = _relax(m)
    lp, _ = solve_lazy(m, prep.data, lambda mm: solve(mm, mip_gap=0.0, threads=1))
    _restore(saved)
    assert lp.status == "optimal"
    return float(lp.objective)


def test_the_quick_plan_is_verified_and_its_bound_is_a_relaxation(
    small_ptdf, prepared, optimum, monkeypatch
):
    # The quick plan (approx._quick: rounded from the LP without line limits, feasibility
    # cuts from each refusal) is used from QUICK_MIN_BUSES buses; set to 1 here so that
    # case118 takes it. Whatever it ends with, the plan meets every exact limit (verify()
    # recomputes the flows from the written tables), costs at least the optimum, and the
    # bound it reports is at most the exact LP relaxation's (the LP without limits, with
    # cuts every plan meets, is a relaxation of it) and at most the optimum.
    monkeypatch.setattr(approx, "QUICK_MIN_BUSES", 1)
    p = siting.plan(
        _with(small_ptdf, approximate_network="on", candidate_kernel="off", mip_gap=0.01),
        write=False,
    )
    r = p.solve
    assert r.has_solution and all(c.ok for c in p.checks), [c for c in p.checks if not c.ok]
    info = p.manifest["approximate_network"]
    assert info["quick"] is not None and info["quick_rounds"] >= 1
    assert r.objective >= optimum * (1 - 1e-6)
    assert r.bound <= optimum * (1 + 1e-6)
    assert r.bound <= _exact_lp_bound(prepared) * (1 + 1e-6)
    assert r.gap == pytest.approx((r.objective - r.bound) / r.objective, rel=1e-6)
    assert "rounding an LP without line limits" in r.notes[0]


def test_decisions_of_a_relaxed_model_are_its_integers_rounded(prepared):
    # kernel._decisions reads a relaxed model's integers from lazy._relax's list (its own
    # are continuous then): the same (variable, value) pairs as on the model restored.
    from siting.solve import kernel

    d = prepared.data
    build, run, clock = _method(prepared, 0.0)
    m = build(d)
    saved = _relax(m)
    lp, _ = solve_lazy(m, d, run, clock=clock)
    assert lp.status == "optimal"
    relaxed = kernel._decisions(m, d.campus.module_mw, [v for v, *_ in saved])
    # without the list, a relaxed model has no integers to pin (why the list is passed)
    plain = kernel._decisions(m, d.campus.module_mw)
    assert len(plain) == len(relaxed) - len(saved)
    _restore(saved)
    restored = kernel._decisions(m, d.campus.module_mw)
    assert [(id(v), x) for v, x in restored] == [(id(v), x) for v, x in relaxed]
    assert any(x != 0 for v, x in restored if v.is_integer())


def test_the_kernel_solves_its_milps_with_approximate_rows(small_ptdf, optimum):
    # The candidate kernel on a grid where approximate rows apply: each kernel MILP goes to
    # approx.solve_approximate (both methods' figures in the manifest); the plan meets every
    # exact limit, and the bound is the kernel's whole-model bound (min of the kernel's
    # exact LP bound and the left-out sites' exclusion bound), at most the optimum.
    p = siting.plan(
        _with(small_ptdf, approximate_network="on", candidate_kernel="on", mip_gap=0.01),
        write=False,
    )
    r = p.solve
    assert r.has_solution and all(c.ok for c in p.checks), [c for c in p.checks if not c.ok]
    kern, appr = p.manifest["kernel"], p.manifest["approximate_network"]
    assert appr["repairs_feasible"] >= 1
    assert r.bound == pytest.approx(kern["bound_usd"], rel=1e-9)
    assert r.bound <= optimum * (1 + 1e-6) and r.objective >= optimum * (1 - 1e-6)
    assert kern["lp_bound_usd"] <= r.bound * (1 + 1e-9)
    assert any(n.startswith("approximate network rows") for n in r.notes), r.notes
    assert any(n.startswith("candidate kernel") for n in r.notes), r.notes


def test_a_lazy_loop_out_of_rounds_gives_no_plan_that_breaks_a_limit(prepared):
    # One MIP round, no LP rounds first: its plan breaks line limits the model did not hold
    # yet (they are added after it), so the loop, out of rounds, must not return that plan.
    # Before, it returned it as a plan. With rounds enough, the same loop settles on a plan
    # that meets every limit.
    d = prepared.data
    build, run, clock = _method(prepared, 0.01)
    m = build(d)
    r, info = solve_lazy(m, d, run, lp_first=False, max_rounds=1, clock=clock)
    assert info.limits_added > 0  # the first plan did break limits (else no test)
    assert not r.has_solution and r.status == "no_solution"
    assert r.termination == "maxRounds" and r.objective is None
    assert any("stopped after 1 MIP rounds" in n for n in r.notes), r.notes
    r2, info2 = solve_lazy(m, d, run, lp_first=False, clock=clock)
    assert r2.has_solution and r2.status in ("optimal", "feasible")
    assert not approx._would_add(m, d)  # no limit broken
