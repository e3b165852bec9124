"""DC economic dispatch (siting.grid_ops.dispatch, ``siting grid dispatch``) and the cost secants.

Groups:

- the secant error bound of polynomial costs (siting.model.data), against a dense
  evaluation of the secants minus the curve;
- every pglib-opf case beside the checkout against pandapower's DC OPF (``rundcopp`` on
  ``from_mpc`` of the same file, its own converter, matrices and interior-point solver):
  the case's own costs, the costs made piecewise linear (gencost model 1: equal to 1e-6
  relative), and quadratic (within the stated secant bound); rateA = 0 (unlimited)
  handled alike;
- a 3-bus DC OPF worked out by hand; what an infeasible grid is told;
- the CLI's JSON: shape and IDs (MATPOWER bus numbers, 1-based gen and branch rows).

The pglib cases of ``../shared/data/pglib`` all have linear costs (gencost model 2 with
c2 = 0), so the piecewise-linear and quadratic variants are written here: c2 is set to
``QUAD_C2[i % 4]`` for generator row i (c1, c0 kept), and the pwl points are that
quadratic sampled at ``PWL_POINTS`` equally spaced outputs on [PMIN, PMAX].
"""

from __future__ import annotations

import json
import logging
import math
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from siting.cli import app
from siting.core.errors import ProblemReport
from siting.grid_ops.dispatch import DispatchInfeasibleError, dc_opf
from siting.inputs import load_grid_case
from siting.inputs.grids.grid import CostCurve, Grid
from siting.inputs.grids.matpower import MatpowerCase, parse_matpower
from siting.model.data import gen_cost_lines, secant_error_bound_usd_per_h
from siting.network import dc_flow, dc_network, injections_from_grid

PGLIB = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "pglib").resolve()
PGLIB_MISSING = (
    "../shared/data/pglib not found: the pglib cases are only beside the project checkout, "
    "not in a user's clone"
)


def _pglib_params() -> list:
    cases = sorted(PGLIB.glob("*.m")) if PGLIB.is_dir() else []
    if not cases:
        skip = pytest.mark.skip(reason=PGLIB_MISSING)
        return [pytest.param(None, id="pglib-missing", marks=skip)]
    return [pytest.param(p, id=p.stem) for p in cases]


PGLIB_CASES = _pglib_params()

#: Quadratic coefficients given to generator rows i % 4 [USD/MW^2h].
QUAD_C2 = (0.01, 0.02, 0.005, 0.04)
#: Points of the piecewise-linear variant (so PWL_POINTS - 1 segments).
PWL_POINTS = 6
#: pandapower's interior-point OPF stops at a relative cost change of about 1e-6 of its
#: own scaling; our LP (HiGHS simplex) is exact to 1e-9. Objectives agree to 1e-6.
REL = 1e-6

pytestmark = pytest.mark.filterwarnings(
    "ignore:Setting an item of incompatible dtype:FutureWarning",
    "ignore::DeprecationWarning",
)

runner = CliRunner()


# --------------------------------------------------------------------------- secant bound


@pytest.mark.parametrize("segments", [1, 2, 4, 7, 16])
@pytest.mark.parametrize(
    ("coef", "p_min", "p_max"),
    [((0.01, 10.0, 0.0), 0.0, 400.0), ((0.5, -3.0, 120.0), 20.0, 95.0), ((2e-4, 0, 5), 0, 3e3)],
)
def test_secant_bound_is_the_largest_gap_on_a_dense_grid(coef, p_min, p_max, segments):
    # quadratic: the gap on a segment [x, x + h] is c2 (p - x)(x + h - p), largest at the
    # middle, c2 h^2 / 4; e.g. 0.01 * (400 / 4)^2 / 4 = 25 USD/h for the first curve
    curve = CostCurve("polynomial", coefficients=coef)
    lines = gen_cost_lines(curve, np.nan, p_min, p_max, segments)
    p = np.linspace(p_min, p_max, 200 * segments + 1)  # holds every segment's middle
    model = (lines.intercepts_usd_per_h[:, None] + lines.slopes_usd_per_mwh[:, None] * p).max(0)
    gap = model - curve.cost_usd_per_h(p)
    bound = secant_error_bound_usd_per_h(curve, p_min, p_max, segments)
    assert bound == pytest.approx(coef[0] * ((p_max - p_min) / segments) ** 2 / 4, rel=1e-12)
    assert gap.min() >= -1e-9 * max(1.0, np.abs(curve.cost_usd_per_h(p)).max())
    assert gap.max() == pytest.approx(bound, rel=1e-9)
    assert len(lines.slopes_usd_per_mwh) == segments


def test_secant_bound_of_a_cubic_holds_and_exact_curves_have_none():
    # C = 1e-5 p^3 + 0.01 p^2 + 20 p on [0, 300], 3 secants (h = 100): C'' = 6e-5 p + 0.02
    # is largest at 300 (0.038), so the bound is 100^2 / 8 * 0.038 = 47.5 USD/h
    curve = CostCurve("polynomial", coefficients=(1e-5, 0.01, 20.0, 0.0))
    bound = secant_error_bound_usd_per_h(curve, 0.0, 300.0, 3)
    assert bound == pytest.approx(47.5)
    lines = gen_cost_lines(curve, np.nan, 0.0, 300.0, 3)
    p = np.linspace(0, 300, 3001)
    gap = (lines.intercepts_usd_per_h[:, None] + lines.slopes_usd_per_mwh[:, None] * p).max(0)
    gap -= curve.cost_usd_per_h(p)
    assert 0.5 * bound < gap.max() <= bound
    # linear, piecewise linear, no curve, fixed output: exact
    assert secant_error_bound_usd_per_h(CostCurve.linear(30.0), 0, 100, 4) == 0.0
    pwl = CostCurve("pwl", points=np.array([[0.0, 0.0], [10.0, 100.0], [20.0, 300.0]]))
    assert secant_error_bound_usd_per_h(pwl, 0, 20, 4) == 0.0
    assert secant_error_bound_usd_per_h(None, 0, 20, 4) == 0.0
    assert (
        secant_error_bound_usd_per_h(CostCurve("polynomial", coefficients=(1.0, 0, 0)), 5, 5, 4)
        == 0.0
    )
    # a concave quadratic has no bound (the largest secant is not an interpolant)
    assert math.isinf(
        secant_error_bound_usd_per_h(CostCurve("polynomial", coefficients=(-1.0, 0, 0)), 0, 1)
    )
    with pytest.raises(ValueError, match="segments"):
        gen_cost_lines(curve, np.nan, 0, 300, 0)


def test_default_segments_keep_the_old_secants():
    # the model's default (4) is what tests/test_model.py checks: slopes 11, 13, 15, 17
    c = gen_cost_lines(CostCurve("polynomial", coefficients=(0.01, 10.0, 0.0)), np.nan, 0, 400)
    assert c.slopes_usd_per_mwh == pytest.approx([11.0, 13.0, 15.0, 17.0])
    c8 = gen_cost_lines(CostCurve("polynomial", coefficients=(0.01, 10.0, 0.0)), np.nan, 0, 400, 8)
    assert c8.slopes_usd_per_mwh == pytest.approx([10.5 + 1.0 * k for k in range(8)])


def test_scenario_cost_segments_reaches_the_model_data(region):
    from siting.config.scenario import load_scenario

    path = region.write()
    sc = load_scenario(path)
    assert sc.grid.cost_segments == 4
    sc2 = sc.model_copy(update={"grid": sc.grid.model_copy(update={"cost_segments": 9})})
    assert sc2.grid.cost_segments == 9
    from pydantic import ValidationError

    from siting.config.scenario import GridSettings

    with pytest.raises(ValidationError):
        GridSettings(cost_segments=0)


# --------------------------------------------------------------------------- case files


def _fmt(v: float) -> str:
    v = float(v)
    if math.isinf(v):
        return "Inf" if v > 0 else "-Inf"
    return repr(v) if v != int(v) or abs(v) >= 1e15 else str(int(v))


def _matrix(name: str, a: np.ndarray) -> str:
    rows = "\n".join("\t" + "\t".join(_fmt(v) for v in row) + ";" for row in a)
    return f"mpc.{name} = [\n{rows}\n];\n"


def _write_case(path: Path, case: MatpowerCase, gencost: np.ndarray | None = None, **arrays):
    """Write ``case`` as a MATPOWER version-2 file (``arrays`` replace bus/gen/branch)."""
    bus = arrays.get("bus", case.bus)
    gen = arrays.get("gen", case.gen)
    branch = arrays.get("branch", case.branch)
    gc = case.gencost if gencost is None else gencost
    text = (
        f"function mpc = {path.stem}\nmpc.version = '2';\nmpc.baseMVA = {_fmt(case.base_mva)};\n"
        + _matrix("bus", bus)
        + _matrix("gen", gen[:, :10])
        + _matrix("branch", branch)
        + _matrix("gencost", gc)
    )
    path.write_text(text)
    return path


def _parse(path: Path) -> MatpowerCase:
    report = ProblemReport()
    case = parse_matpower(path, report)
    report.raise_if_any()
    assert case is not None
    return case


def _quad_coefficients(case: MatpowerCase) -> np.ndarray:
    """(c2, c1, c0) per generator row: the case's c1 and c0, c2 from QUAD_C2."""
    gc = case.gencost
    assert gc is not None and (gc[:, 0] == 2).all()
    out = np.zeros((len(case.gen), 3))
    for i, row in enumerate(gc[: len(case.gen)]):
        n = int(row[3])
        c = np.trim_zeros(row[4 : 4 + n], "f")
        c = np.concatenate([np.zeros(3 - len(c)), c]) if len(c) <= 3 else c[-3:]
        out[i] = (QUAD_C2[i % 4], c[1], c[2])
    return out


def _quadratic_gencost(case: MatpowerCase) -> np.ndarray:
    q = _quad_coefficients(case)
    return np.column_stack(
        [np.full(len(q), 2.0), np.zeros(len(q)), np.zeros(len(q)), 3 + 0 * q[:, 0], q]
    )


def _pwl_gencost(case: MatpowerCase) -> np.ndarray:
    """The quadratic sampled at PWL_POINTS outputs on [PMIN, PMAX] (one MW wide if equal)."""
    q = _quad_coefficients(case)
    rows = []
    for i, g in enumerate(case.gen):
        lo, hi = g[9], g[8]
        hi = hi if hi > lo else lo + 1.0
        x = np.linspace(lo, hi, PWL_POINTS)
        y = np.polyval(q[i], x)
        rows.append([1.0, 0.0, 0.0, float(PWL_POINTS), *np.column_stack([x, y]).ravel()])
    return np.array(rows)


@cache
def _variants(path: Path, tmp: Path) -> dict[str, Path]:
    case = _parse(path)
    tmp.mkdir(parents=True, exist_ok=True)
    return {
        "original": path,
        "pwl": _write_case(tmp / f"{path.stem}_pwl.m", case, _pwl_gencost(case)),
        "quadratic": _write_case(tmp / f"{path.stem}_quad.m", case, _quadratic_gencost(case)),
    }


def _pandapower_opf(path: Path) -> float:
    """pandapower's DC OPF cost [USD/h] for a case file (``rundcopp`` on ``from_mpc``).

    pandapower turns MATPOWER pwl points ``(x_k, y_k)`` into slopes per range
    (``net.pwl_cost``) and rebuilds the cost as ``y(x_1) = x_1 * slope_1``: it drops each
    curve's offset ``y_1 - x_1 * slope_1``. That constant is added back here.
    """
    pytest.importorskip("pandapower")
    pytest.importorskip(
        "matpowercaseframes", reason="pandapower.converter.from_mpc needs matpowercaseframes"
    )
    import pandapower as pp
    from pandapower.converter.matpower import from_mpc

    logging.getLogger("pandapower").setLevel(logging.ERROR)
    net = from_mpc(str(path), f_hz=60)
    pp.rundcopp(net)
    assert net.OPF_converged
    offset = 0.0
    gc = _parse(path).gencost
    if (gc[:, 0] == 1).all():  # every cost went to net.pwl_cost, none to poly_cost
        assert len(net.pwl_cost) == len(gc) and len(net.poly_cost) == 0
    for row in gc:
        if row[0] == 1:
            x, y = row[4::2][: int(row[3])], row[5::2][: int(row[3])]
            offset += y[0] - x[0] * (y[1] - y[0]) / (x[1] - x[0])
    return float(net.res_cost) + offset


# --------------------------------------------------------------------------- pglib vs pandapower


@pytest.mark.parametrize("path", PGLIB_CASES)
def test_pglib_objective_matches_pandapower_dc_opf(path: Path, tmp_path_factory, record_property):
    """Ours equals pandapower's DC OPF to 1e-6 for the case's own and for pwl costs;
    with quadratic costs ours lies in [theirs - tol, theirs + sum of secant bounds]."""
    files = _variants(path, tmp_path_factory.getbasetemp() / "dispatch_cases")
    figures = {}
    for kind in ("original", "pwl"):
        grid = load_grid_case(files[kind]).grid
        ours = dc_opf(grid)
        theirs = _pandapower_opf(files[kind])
        rel = abs(ours.objective_usd_per_h - theirs) / abs(theirs)
        figures[kind] = (ours.objective_usd_per_h, theirs, rel, ours.timings["total_s"])
        record_property(f"{kind}_ours_usd_per_h", ours.objective_usd_per_h)
        record_property(f"{kind}_pandapower_usd_per_h", theirs)
        record_property(f"{kind}_rel_diff", rel)
        assert ours.objective_usd_per_h == pytest.approx(theirs, rel=REL), kind
        # pwl and linear: the LP is exact, so its optimum is the curves' cost
        assert ours.model_objective_usd_per_h == pytest.approx(ours.objective_usd_per_h, rel=1e-9)
        assert ours.approximation_bound_usd_per_h == 0.0
        _check_consistent(grid, ours)

    grid = load_grid_case(files["quadratic"]).grid
    theirs = _pandapower_opf(files["quadratic"])
    tol = REL * abs(theirs)
    for segments in (4, 16):
        ours = dc_opf(grid, segments=segments)
        bound = ours.approximation_bound_usd_per_h
        assert bound > 0
        # exact optimum C* <= cost of our dispatch <= secant optimum <= C* + bound
        assert theirs - tol <= ours.objective_usd_per_h <= ours.model_objective_usd_per_h + 1e-6
        assert ours.model_objective_usd_per_h <= theirs + bound + tol
        figures[f"quadratic/{segments}"] = (
            ours.objective_usd_per_h,
            theirs,
            (ours.objective_usd_per_h - theirs) / abs(theirs),
            ours.timings["total_s"],
            ours.model_objective_usd_per_h,
            bound,
        )
        record_property(f"quadratic{segments}_ours_usd_per_h", ours.objective_usd_per_h)
        record_property(f"quadratic{segments}_model_usd_per_h", ours.model_objective_usd_per_h)
        record_property(f"quadratic{segments}_pandapower_usd_per_h", theirs)
        record_property(f"quadratic{segments}_bound_usd_per_h", bound)
        _check_consistent(grid, ours)
    for k, v in figures.items():
        print(f"{path.stem} {k}: " + ", ".join(f"{x:.10g}" for x in v))


def _check_consistent(grid: Grid, r) -> None:
    """Balance, limits and flows recomputed with numpy (siting.network) from the dispatch."""
    assert r.generation_mw == pytest.approx(r.load_mw, rel=1e-9, abs=1e-6)
    d = r.dispatch
    on = d["in_service"].to_numpy()
    assert (d["p_mw"] >= d["p_min_mw"] - 1e-6)[on].all() and (d["p_mw"] <= d["p_max_mw"] + 1e-6)[
        on
    ].all()
    net = dc_network(grid)
    gen = pd.Series(d["p_mw"].to_numpy(), index=d["gen_id"])[on]
    flow = dc_flow(net, injections_from_grid(grid, net, gen_mw=gen)).flow_mw
    f = r.flows.set_index("branch_id").loc[list(net.branch_ids)]
    np.testing.assert_allclose(f["flow_mw"].to_numpy(), flow, rtol=1e-6, atol=1e-5)
    assert (np.abs(flow) <= net.rating_mw + 1e-5).all()


@pytest.mark.parametrize("path", PGLIB_CASES)
def test_pglib_unlimited_rate_a_is_unlimited_in_both(path: Path, tmp_path):
    """rateA = 0 means unlimited: MATPOWER, ours (inf) and pandapower (MAX_VAL) agree.

    The most loaded limited branch of the case's dispatch gets rateA = 0; the optimum of
    both models moves the same way (or stays, when that branch did not bind).
    """
    case = _parse(path)
    before = dc_opf(load_grid_case(path).grid)
    row = int(before.most_loaded(1)["branch_id"].iloc[0]) - 1
    branch = case.branch.copy()
    branch[row, 5] = 0.0
    edited = _write_case(tmp_path / f"{path.stem}_rate0.m", case, branch=branch)
    grid = load_grid_case(edited).grid
    assert math.isinf(grid.branches["rating_mw"].iloc[row])
    ours = dc_opf(grid)
    theirs = _pandapower_opf(edited)
    assert ours.objective_usd_per_h == pytest.approx(theirs, rel=REL)
    assert ours.objective_usd_per_h <= before.objective_usd_per_h + 1e-6
    assert math.isnan(ours.flows["loading_pct"].iloc[row])
    assert ours.as_dict()["flows"][row]["rating_mw"] is None


# --------------------------------------------------------------------------- by hand


def triangle(load_mw: float = 150.0, b_pmax: float = 300.0, rating_13: float = 80.0) -> Grid:
    """Buses 1, 2, 3 in a triangle, x = 0.1 pu on 100 MVA (b = 1,000 MW/rad) each.

    Generator A at bus 1 (10 USD/MWh), B at bus 2 (30 USD/MWh), both 0..300 MW (B: 0..
    ``b_pmax``); the load at bus 3; branch 2 (1 -> 3) rated ``rating_13``, the others
    1,000 MW. A fourth branch (2 -> 3, a second circuit) is out of service.
    """
    buses = gpd.GeoDataFrame(
        {
            "name": ["", "", ""],
            "voltage_kv": [230.0] * 3,
            "load_mw": [0.0, 0.0, load_mw],
            "shunt_mw": [0.0] * 3,
            "bus_type": [3, 2, 1],
            "area": ["1"] * 3,
            "substation_headroom_mw": [np.nan] * 3,
        },
        geometry=[None] * 3,
        index=pd.Index(["1", "2", "3"], name="bus_id"),
    )
    branches = gpd.GeoDataFrame(
        {
            "from_bus": ["1", "1", "2", "2"],
            "to_bus": ["2", "3", "3", "3"],
            "x_pu": [0.1, 0.1, 0.1, 0.1],
            "r_pu": [0.0] * 4,
            "b_pu": [0.0] * 4,
            "rating_mw": [1000.0, rating_13, 1000.0, 1000.0],
            "rating_emergency_mw": [np.inf] * 4,
            "tap_ratio": [1.0] * 4,
            "shift_deg": [0.0] * 4,
            "in_service": [True, True, True, False],
        },
        geometry=[None] * 4,
        index=pd.Index(["1", "2", "3", "4"], name="branch_id"),
    )
    gens = pd.DataFrame(
        {
            "bus_id": ["1", "2"],
            "p_max_mw": [300.0, b_pmax],
            "p_min_mw": [0.0, 0.0],
            "marginal_cost_usd_per_mwh": [10.0, 30.0],
            "co2_t_per_mwh": [0.0, 0.0],
            "fuel": ["", ""],
            "in_service": [True, True],
        },
        index=pd.Index(["1", "2"], name="gen_id"),
    )
    costs = {"1": CostCurve.linear(10.0), "2": CostCurve.linear(30.0)}
    return Grid(buses, branches, gens, costs=costs, base_mva=100.0, source="triangle")


def test_three_bus_dc_opf_by_hand():
    # Equal reactances: power from bus 1 to bus 3 splits 2/3 on the direct branch and 1/3
    # through bus 2; from bus 2 to bus 3, 2/3 direct and 1/3 through bus 1. So
    #   f13 = 2/3 gA + 1/3 gB, with gA + gB = 150  =>  f13 = 50 + gA / 3.
    # Unlimited, A (10 USD/MWh) would serve all 150 MW and f13 = 100 > 80. With the limit,
    # 50 + gA / 3 <= 80 gives gA = 90, gB = 60:
    #   cost = 90 * 10 + 60 * 30 = 2,700 USD/h
    #   f13 = 80 (binding), f12 = gA / 3 - gB / 3 = 30 - 20 = 10, f23 = 30 + 40 = 70
    #   angles (theta1 = 0): theta2 = -f12 / 1000 = -0.01, theta3 = -0.08 rad.
    r = dc_opf(triangle())
    assert r.status == "optimal"
    assert r.objective_usd_per_h == pytest.approx(2700.0, rel=1e-9)
    assert r.model_objective_usd_per_h == pytest.approx(2700.0, rel=1e-9)
    assert r.dispatch["p_mw"].tolist() == pytest.approx([90.0, 60.0])
    assert r.dispatch["cost_usd_per_h"].tolist() == pytest.approx([900.0, 1800.0])
    assert r.flows["flow_mw"].tolist() == pytest.approx([10.0, 80.0, 70.0, 0.0], abs=1e-7)
    assert r.flows["in_service"].tolist() == [True, True, True, False]
    assert r.flows["loading_pct"].tolist()[:3] == pytest.approx([1.0, 100.0, 7.0])
    assert r.load_mw == pytest.approx(150.0) and r.generation_mw == pytest.approx(150.0)
    assert r.most_loaded(1)["branch_id"].tolist() == ["2"]
    # without the limit A serves everything: 150 * 10 = 1,500 USD/h, f13 = 100
    u = dc_opf(triangle(), line_limits=False)
    assert u.objective_usd_per_h == pytest.approx(1500.0)
    assert u.flows["flow_mw"].iloc[1] == pytest.approx(100.0)
    # load x 1.2 = 180 MW: 50 -> 60 + gA / 3 <= 80, gA = 60, gB = 120: 600 + 3,600
    s = dc_opf(triangle(), load_scale=1.2)
    assert s.objective_usd_per_h == pytest.approx(4200.0)


def test_three_bus_quadratic_costs_by_hand():
    # A: 0.05 p^2 + 10 p on [0, 300]; 2 secants (h = 150): slopes 17.5 and 32.5 USD/MWh,
    # bound 0.05 * 150^2 / 4 = 281.25 USD/h. B: 30 p. Unlimited lines, 150 MW load.
    # Exact optimum: A's marginal cost 0.1 p + 10 = 30 at p = 200 > 150, so A serves all:
    # C* = 0.05 * 150^2 + 10 * 150 = 2,625 USD/h. The secants also give A all 150 MW
    # (slope 17.5 < 30 up to 150), priced 150 * 17.5 = 2,625: 150 is a breakpoint.
    g = triangle()
    g.costs["1"] = CostCurve("polynomial", coefficients=(0.05, 10.0, 0.0))
    r = dc_opf(g, segments=2, line_limits=False)
    assert r.objective_usd_per_h == pytest.approx(2625.0)
    assert r.model_objective_usd_per_h == pytest.approx(2625.0)
    assert r.approximation_bound_usd_per_h == pytest.approx(281.25)
    # 3 secants (h = 100, breakpoints 0, 100, 200): the secant 100..200 has slope
    # (0.05 * 4e4 + 2000 - 1500) / 100 = 25 < 30, so A still serves 150, priced on that
    # secant at 1,500 + 50 * 25 = 2,750 (exact 2,625: 125 above, within 0.05 * 100^2 / 4)
    r3 = dc_opf(g, segments=3, line_limits=False)
    assert r3.dispatch["p_mw"].iloc[0] == pytest.approx(150.0)
    assert r3.objective_usd_per_h == pytest.approx(2625.0)
    assert r3.model_objective_usd_per_h == pytest.approx(2750.0)
    assert r3.model_objective_usd_per_h - 2625.0 <= r3.approximation_bound_usd_per_h


def test_a_grid_short_of_capacity_is_told_where():
    # 700 MW of load and 600 MW of generation: 100 MW not served at bus 3
    with pytest.raises(DispatchInfeasibleError, match="cannot serve its load") as e:
        dc_opf(triangle(load_mw=700.0))
    assert "load not served: 100.0 MW" in str(e.value) and "bus 3 100.0 MW" in str(e.value)


def test_a_binding_line_that_cannot_hold_is_named():
    # B capped at 50 MW: gA = 100, f13 = 50 + 100 / 3 = 83.3 > 80. Overloading the branch
    # by 3.3 MW costs less in the elastic form than shedding load, so it is named.
    with pytest.raises(DispatchInfeasibleError) as e:
        dc_opf(triangle(b_pmax=50.0))
    msg = str(e.value)
    assert "branch 2 (bus 1 -> bus 3, rating 80.0 MW): 3.3 MW over" in msg


def test_generator_minimums_above_the_load_are_named():
    g = triangle(load_mw=50.0)
    g.generators.loc["2", "p_min_mw"] = 80.0
    with pytest.raises(DispatchInfeasibleError, match=r"minimum output 80\.0 MW exceeds"):
        dc_opf(g)


def test_missing_costs_and_bad_arguments_are_input_errors():
    from siting.core.errors import InputError

    g = triangle()
    g.costs.pop("2")
    g.generators.loc["2", "marginal_cost_usd_per_mwh"] = np.nan
    with pytest.raises(InputError, match="no cost"):
        dc_opf(g)
    with pytest.raises(InputError, match="load_scale"):
        dc_opf(triangle(), load_scale=-1.0)
    with pytest.raises(InputError, match="segments"):
        dc_opf(triangle(), segments=0)


# --------------------------------------------------------------------------- CLI


def _case14() -> Path:
    path = PGLIB / "pglib_opf_case14_ieee.m"
    if not path.is_file():
        pytest.skip(PGLIB_MISSING)
    return path


def test_cli_json_shape_and_matpower_ids():
    path = _case14()
    res = runner.invoke(app, ["grid", "dispatch", str(path), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    case = _parse(path)
    assert data["status"] == "optimal"
    assert data["objective_usd_per_h"] == pytest.approx(
        dc_opf(load_grid_case(path)).objective_usd_per_h
    )
    # one entry per gen / branch row, in row order, IDs 1-based rows as text
    assert [g["gen_id"] for g in data["dispatch"]] == [str(i + 1) for i in range(len(case.gen))]
    assert [b["branch_id"] for b in data["flows"]] == [str(i + 1) for i in range(len(case.branch))]
    # bus IDs are MATPOWER's bus numbers
    assert [g["bus_id"] for g in data["dispatch"]] == [str(int(b)) for b in case.gen[:, 0]]
    assert [b["from_bus"] for b in data["flows"]] == [str(int(b)) for b in case.branch[:, 0]]
    assert [b["to_bus"] for b in data["flows"]] == [str(int(b)) for b in case.branch[:, 1]]
    assert [b["rating_mw"] for b in data["flows"]] == pytest.approx(list(case.branch[:, 5]))
    for g in data["dispatch"]:
        assert {"gen_id", "bus_id", "p_mw"} <= set(g) and isinstance(g["p_mw"], float)
    for b in data["flows"]:
        assert {"branch_id", "from_bus", "to_bus", "flow_mw", "rating_mw"} <= set(b)
    assert sum(g["p_mw"] for g in data["dispatch"]) == pytest.approx(case.bus[:, 2].sum())
    assert data["load_mw"] == pytest.approx(259.0)


def test_cli_human_summary_and_segments():
    path = _case14()
    res = runner.invoke(app, ["grid", "dispatch", str(path), "--segments", "8"])
    assert res.exit_code == 0, res.output
    assert "2,051.53 USD/h" in res.stdout and "most loaded branches" in res.stdout
    assert "generation 259.0 MW" in res.stdout
    res = runner.invoke(app, ["grid", "dispatch", str(path), "--segments", "0"])
    assert res.exit_code == 2  # a usage error


def test_cli_on_a_scenario_uses_its_first_year(region):
    # the tiny region: loads 100 + 50 + 80 + 20 = 250 MW (2027, base), 295 MW in 2030;
    # generators 300 MW at 20 USD/MWh and 150 MW at 45
    path = region.write()
    res = runner.invoke(app, ["grid", "dispatch", str(path), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["year"] == 2027 and data["load_mw"] == pytest.approx(250.0)
    res = runner.invoke(app, ["grid", "dispatch", str(path), "--json", "--year", "2030"])
    assert json.loads(res.stdout)["load_mw"] == pytest.approx(295.0)


def test_cli_infeasible_exits_2_with_the_reason():
    path = _case14()
    res = runner.invoke(app, ["grid", "dispatch", str(path), "--load-scale", "3"])
    assert res.exit_code == 2
    assert "cannot serve its load" in res.output and "Traceback" not in res.output
