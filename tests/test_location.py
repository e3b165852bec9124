"""Demand regions as a capacitated facility location (issue 18), on a hand-sized instance.

Four sites and six customers (demand regions), written as real files by
:func:`benchmarks.location.write_scenario` (one year, one cooling technology, no grid,
every cost but the fixed and assignment costs 0, so a plan's cost is the facility-location
objective). The reference optimum comes from outside siting's model: every one of the
2^4 = 16 sets of open sites is enumerated, each with its transportation problem (the
cheapest fractional assignment within the open sites' capacities) solved by scipy's
``linprog``; the cheapest set is the optimum.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest
import yaml
from scipy.optimize import linprog

import siting
from siting.model import build_model
from siting.model import sites as site_family
from siting.model.state import model_state
from siting.pipeline import InfeasibleError, fix_decisions, prepare, replay
from siting.solve import kernel
from siting.solve.highs import model_size, solve
from siting.solve.lazy import _relax

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # benchmarks/ is not an installed package

from benchmarks.location import USD_PER_UNIT, CflInstance, write_scenario  # noqa: E402

#: Capacity [MW] and fixed cost [M USD] of sites F001..F004.
CAPACITY_MW = np.array([50.0, 40.0, 30.0, 60.0])
FIXED_MUSD = np.array([300.0, 200.0, 150.0, 400.0])
#: Demand of customers C0001..C0006 [MW] (90 in all).
DEMAND_MW = np.array([10.0, 15.0, 20.0, 10.0, 15.0, 20.0])
#: Cost of one MW of customer i served from site j [M USD per MW and year].
COST_MUSD = np.array(
    [
        [1.0, 4.0, 6.0, 3.0],
        [2.0, 3.0, 5.0, 4.0],
        [5.0, 1.0, 4.0, 2.0],
        [6.0, 5.0, 1.0, 3.0],
        [4.0, 6.0, 2.0, 1.0],
        [3.0, 2.0, 6.0, 5.0],
    ]
)


def _instance(demand_mw: np.ndarray = DEMAND_MW, capacity_mw: np.ndarray = CAPACITY_MW):
    rng = np.random.default_rng(3)  # positions only: every pair is within reach anyway
    return CflInstance(
        site_xy=rng.uniform(0, 1, (4, 2)),
        customer_xy=rng.uniform(0, 1, (len(demand_mw), 2)),
        demand_mw=demand_mw,
        capacity_mw=capacity_mw,
        fixed_cost_usd=FIXED_MUSD * USD_PER_UNIT,
        cost_usd_per_mw=COST_MUSD * USD_PER_UNIT,
        name="cfl-hand",
    )


def enumerate_optimum(capacity_mw: np.ndarray) -> list[tuple[float, tuple[int, ...]]]:
    """Cost [M USD] of every feasible set of open sites (cheapest first): fixed costs plus
    the transportation LP over the open sites (scipy ``linprog``)."""
    n_c, n_s = COST_MUSD.shape
    out = []
    for k in range(1, n_s + 1):
        for open_ in itertools.combinations(range(n_s), k):
            if capacity_mw[list(open_)].sum() < DEMAND_MW.sum():
                continue
            cols = [(i, j) for i in range(n_c) for j in open_]
            c = [COST_MUSD[i, j] for i, j in cols]
            a_eq = np.array([[1.0 if i == r else 0.0 for i, _ in cols] for r in range(n_c)])
            a_ub = np.array([[1.0 if j == s else 0.0 for _, j in cols] for s in open_])
            lp = linprog(c, A_ub=a_ub, b_ub=capacity_mw[list(open_)], A_eq=a_eq, b_eq=DEMAND_MW)
            assert lp.status == 0
            out.append((FIXED_MUSD[list(open_)].sum() + lp.fun, open_))
    return sorted(out)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Path:
    return write_scenario(_instance(), tmp_path_factory.mktemp("cfl"), mip_gap=0.0)


def _open_sites(p) -> tuple[int, ...]:
    chosen = sorted(p.schedule["site_id"].unique())
    return tuple(int(s[1:]) - 1 for s in chosen)


def test_the_plan_reaches_the_enumerated_optimum(scenario):
    ranked = enumerate_optimum(CAPACITY_MW)
    (best, best_open), (second, _) = ranked[0], ranked[1]
    assert second > best + 1.0  # a unique optimum: the open set is pinned down too
    p = siting.plan(scenario, write=False)
    assert p.solve.status == "optimal"
    assert p.solve.objective == pytest.approx(best * USD_PER_UNIT, rel=1e-9)
    assert _open_sites(p) == best_open
    assert p.manifest["costs_usd"]["site_fixed"] == pytest.approx(
        FIXED_MUSD[list(best_open)].sum() * USD_PER_UNIT, rel=1e-9
    )
    assert all(c.ok for c in p.checks)


def _lp_bound(m) -> float:
    _relax(m)
    r = solve(m, mip_gap=0.0, time_limit_s=60)
    assert r.status == "optimal"
    return r.objective / USD_PER_UNIT


def test_linking_rows_are_valid_and_tighten_the_lp_bound(scenario):
    prep = prepare(scenario)
    d = prep.data
    m = build_model(d)
    # one row per (region, site) pair, coefficient min(demand, capacity)
    assert len(m.serve_link) == 6 * 4
    for i, j in itertools.product(range(6), range(4)):
        row = m.serve_link[f"C{i + 1:04d}", f"F{j + 1:03d}", 0]
        want = min(DEMAND_MW[i], CAPACITY_MW[j])
        assert row.body.polynomial_degree() == 1
        assert pyo.value(row.upper) == 0.0
        coef = {v.name: c for v, c in zip(*_linear(row.body), strict=True)}
        assert coef[f"open[F{j + 1:03d}]"] == pytest.approx(-want)
    # the optimum: no region served by a closed site, and the enumerated cost
    r = solve(m, mip_gap=0.0, time_limit_s=60)
    best, best_open = enumerate_optimum(CAPACITY_MW)[0]
    assert r.objective == pytest.approx(best * USD_PER_UNIT, rel=1e-9)
    for (reg, s, _t), a in m.assign.items():
        if m.open[s].value < 0.5:
            assert a.value == pytest.approx(0.0, abs=1e-9), (reg, s)
    # the enumerated optimum stays feasible with the rows: fix its open set, same cost
    m2 = build_model(d)
    for j, s in enumerate(d.campus.sites):
        m2.open[s].fix(1 if j in best_open else 0)
    r2 = solve(m2, mip_gap=0.0, time_limit_s=60)
    assert r2.objective == pytest.approx(best * USD_PER_UNIT, rel=1e-9)
    # LP bounds: with the rows, and as before them (no rows, no bound on a[r,s,t])
    with_rows = _lp_bound(build_model(d))
    before = build_model(d)
    before.serve_link.deactivate()
    for a in before.assign.values():
        a.setub(None)
    without = _lp_bound(before)
    assert without <= with_rows <= best + 1e-6
    assert with_rows - without > 0.05 * best  # on this instance the rows add a lot


def _linear(expr):
    from pyomo.repn import generate_standard_repn

    repn = generate_standard_repn(expr)
    return repn.linear_vars, repn.linear_coefs


def _no_pinning(_d):
    return {"opens": set(), "tech": set(), "build": set()}


def test_one_integer_per_site_gives_the_full_models_optimum(scenario, monkeypatch):
    # 30 MW modules and a 30 MW minimum campus: F001 (50 MW), F002 (40) and F003 (30) hold
    # one module each, so their build is their opening; F004 (60 MW) holds two.
    text = yaml.safe_load(scenario.read_text())
    text["campus"].update({"module_mw": 30.0, "min_campus_mw": 30.0})
    path = scenario.with_name("modules.yaml")
    path.write_text(yaml.safe_dump(text))
    d = prepare(path).data
    pinned = site_family.pinned_to_open(d)
    assert pinned["opens"] == {(s, 0) for s in d.campus.sites}
    assert pinned["tech"] == {(s, "air") for s in d.campus.sites}
    assert pinned["build"] == {("F001", 0), ("F002", 0), ("F003", 0)}

    reduced = build_model(d)
    monkeypatch.setattr(site_family, "pinned_to_open", _no_pinning)
    full = build_model(d)
    monkeypatch.undo()
    # full: open, opens, tech and build per site; reduced: open, and build at F004
    assert model_size(full)[2] == 16 and model_size(reduced)[2] == 5
    assert reduced.tech["F001", "air"] is reduced.open["F001"]
    assert reduced.build["F004", 0] is not reduced.open["F004"]

    rf = solve(full, mip_gap=0.0, time_limit_s=60)
    rr = solve(reduced, mip_gap=0.0, time_limit_s=60)
    assert rf.status == rr.status == "optimal"
    assert rr.objective == pytest.approx(rf.objective, rel=1e-9)
    # the reference, by enumeration with the module-rounded capacities (30, 30, 30, 60)
    best, best_open = enumerate_optimum(np.array([30.0, 30.0, 30.0, 60.0]))[0]
    assert rr.objective == pytest.approx(best * USD_PER_UNIT, rel=1e-9)
    assert 3 in best_open and full.build["F004", 0].value == pytest.approx(2)  # two modules
    built = {s: round(reduced.build[s, 0].value) for s in d.campus.sites}
    assert built == {s: round(full.build[s, 0].value) for s in d.campus.sites}


def test_replaying_a_plan_fixes_pinned_decisions_and_names_what_it_cannot(scenario):
    text = yaml.safe_load(scenario.read_text())
    text["campus"].update({"module_mw": 30.0, "min_campus_mw": 30.0})
    path = scenario.with_name("replay.yaml")
    path.write_text(yaml.safe_dump(text))
    p = siting.plan(path, write=False)
    again = replay(path, p.schedule)
    assert again.missing_sites == []
    assert again.objective_usd == pytest.approx(p.solve.objective, rel=1e-9)
    # two modules at a site that holds one (its build is its opening): named, left out
    bad = pd.concat(
        [
            p.schedule,
            pd.DataFrame(
                [
                    {
                        "site_id": "F003",
                        "year": 2030,
                        "it_mw": 60.0,
                        "new_it_mw": 60.0,
                        "cooling": "air",
                    }
                ]
            ),
        ]
    ).drop_duplicates("site_id", keep="last")
    d = prepare(path).data
    m = build_model(d)
    missing = fix_decisions(m, d, bad)
    assert missing == ["F003 (2 modules in 2030; the site holds one)"]
    assert m.open["F003"].value == 1 and m.open["F003"].fixed


def test_the_elastic_model_explains_demand_beyond_every_capacity(tmp_path):
    # 200 MW of demand against 180 MW of capacity in all: 20 MW cannot be served
    demand = DEMAND_MW.copy()
    demand[-1] += 110.0
    sc = write_scenario(_instance(demand_mw=demand), tmp_path, mip_gap=0.0)
    with pytest.raises(InfeasibleError) as e:
        siting.plan(sc, write=False)
    short = [v for v in e.value.violations if v["slack"] == "demand_short_mw"]
    assert short and {v["slack"] for v in e.value.violations} == {"demand_short_mw"}
    assert sum(v["amount"] for v in short) == pytest.approx(20.0, abs=1e-6)


def test_kernel_bounds_count_a_pinned_column_once(scenario):
    # One year and one technology: opens[s,0] and tech[s,air] are the column open[s]. The
    # exclusion bound p_s claims any point of the LP relaxation with open_s = 1 costs at
    # least z + p_s; counting that column's reduced cost three times would overstate it.
    d = prepare(scenario).data
    m = build_model(d)
    z = _lp_bound(m)
    pen, used = kernel.exclusion_bounds(m, d)
    left = np.flatnonzero(~used)
    assert len(left) and pen[left].max() > 0.0
    for i in left:
        m2 = build_model(d)
        m2.open[d.campus.sites[i]].fix(1)
        forced = _lp_bound(m2)
        assert forced >= z + pen[i] * model_state(m).objective_unit / USD_PER_UNIT - 1e-6, (
            d.campus.sites[i]
        )
