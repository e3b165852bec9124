"""Tests of the DC network model and power flow (siting.network).

Two groups:

- every pglib-opf case beside the checkout, solved by us and by pandapower's
  ``rundcpp`` (its own conversion of the file, its own matrices and solver), branch
  flows compared row by row;
- small grids written here, whose flows, angles and matrices are worked out by hand
  in the comments (triangle, phase shifter, tap ratio, islands, errors).
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from siting.core.errors import InputError, ProblemReport
from siting.inputs import load_grid_case
from siting.inputs.grids.grid import Grid
from siting.inputs.grids.matpower import parse_matpower
from siting.network import (
    DCFlowError,
    dc_flow,
    dc_network,
    injections_from_grid,
    loading_pct,
)

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

# pandapower's from_ppc trips a pandas FutureWarning of its own on cases without transformers
pytestmark = pytest.mark.filterwarnings(
    "ignore:Setting an item of incompatible dtype:FutureWarning"
)


# --- pglib cases against pandapower ---------------------------------------------------


@cache
def _pandapower(path: Path):
    """pandapower's net for ``path`` after ``rundcpp`` with MATPOWER's (pi) transformer model.

    ``from_mpc`` reads the file with matpowercaseframes (not our parser), turns each
    branch row into a line, transformer or impedance, and each gen row into an
    ext_grid (the reference bus) or a gen with ``p_mw = PG``. The ext_grid takes
    whatever the other injections leave unbalanced.
    """
    pytest.importorskip("pandapower")
    pytest.importorskip(
        "matpowercaseframes", reason="pandapower.converter.from_mpc needs matpowercaseframes"
    )
    import pandapower as pp
    from pandapower.converter.matpower import from_mpc

    logging.getLogger("pandapower").setLevel(logging.ERROR)
    net = from_mpc(str(path), f_hz=60)
    pp.rundcpp(net, trafo_model="pi")
    return net


def _pandapower_flows(net, grid: Grid) -> np.ndarray:
    """pandapower's from -> to flow of every MATPOWER branch row, in MATPOWER row order [MW].

    ``net._from_ppc_lookups["branch"]`` says which element each MATPOWER row became
    (pandapower lists lines, then transformers, then impedances). A line or an
    impedance keeps MATPOWER's from/to ends (``p_from_mw``); a transformer's first
    end is its high-voltage bus (``p_hv_mw``), which may be MATPOWER's to bus: then
    the sign flips (a DC flow is lossless). from_mpc numbers buses ``BUS_I - 1``.
    """
    lookup = net._from_ppc_lookups["branch"]
    ends = {"line": ("from_bus", "to_bus"), "impedance": ("from_bus", "to_bus")}
    ends["trafo"] = ("hv_bus", "lv_bus")
    flow = {"line": "p_from_mw", "impedance": "p_from_mw", "trafo": "p_hv_mw"}
    out = np.full(len(lookup), np.nan)
    ours_f = grid.branches["from_bus"].to_numpy()
    ours_t = grid.branches["to_bus"].to_numpy()
    for et in lookup["element_type"].unique():
        rows = np.flatnonzero((lookup["element_type"] == et).to_numpy())
        el = lookup["element"].to_numpy()[rows].astype(np.int64)
        a, b = ends[et]
        pp_f = (net[et].loc[el, a].to_numpy() + 1).astype(str)
        pp_t = (net[et].loc[el, b].to_numpy() + 1).astype(str)
        same = (pp_f == ours_f[rows]) & (pp_t == ours_t[rows])
        swapped = (pp_f == ours_t[rows]) & (pp_t == ours_f[rows])
        assert (same | swapped).all(), f"{et} rows {rows[~(same | swapped)][:5]} ends differ"
        out[rows] = np.where(same, 1.0, -1.0) * net[f"res_{et}"].loc[el, flow[et]].to_numpy()
    return out


def _case_dispatch(path: Path, grid: Grid) -> pd.Series:
    """The PG column of the case file [MW] by gen_id (the Grid keeps no dispatch)."""
    report = ProblemReport()
    case = parse_matpower(path, report)
    report.raise_if_any()
    return pd.Series(case.gen[:, 1], index=grid.generators.index)


@pytest.mark.parametrize("path", PGLIB_CASES)
def test_pglib_flows_match_pandapower(path: Path, record_property) -> None:
    """Branch flows of every in-service branch equal pandapower's, to 1e-6 relative.

    Reference: ``pandapower.rundcpp`` on ``from_mpc(path)`` (res_line.p_from_mw,
    res_trafo.p_hv_mw, res_impedance.p_from_mw, mapped to MATPOWER rows by the
    converter's lookup and the branch ends). Injections are the file's PG minus PD
    minus GS, as pandapower sets them; the file's PG do not balance the load, and
    pandapower's ext_grid at the reference bus absorbs the rest, so ours runs with
    ``balance=False`` (imbalance on the same reference bus), and a second time with
    the imbalance added to that bus's injection and ``balance=True``.
    """
    grid = load_grid_case(path).grid
    net = _pandapower(path)
    dcn = dc_network(grid)
    p = injections_from_grid(grid, dcn, gen_mw=_case_dispatch(path, grid))

    # pandapower's reference is MATPOWER's bus_type 3, and so is ours
    assert dcn.n_islands == 1
    ref_pp = net.ext_grid.bus.to_numpy() + 1
    assert [dcn.bus_ids[dcn.ref_idx[0]]] == [str(b) for b in ref_pp]

    res = dc_flow(dcn, p, balance=False)
    expected_all = _pandapower_flows(net, grid)
    on = grid.branches["in_service"].to_numpy(dtype=bool)
    expected = expected_all[on]
    assert dcn.branch_ids.tolist() == grid.branches.index[on].tolist()

    err = np.abs(res.flow_mw - expected)
    big = np.abs(expected) > 1e-3
    rel = float((err[big] / np.abs(expected[big])).max()) if big.any() else 0.0
    record_property("max_rel_err_vs_pandapower", rel)
    record_property("max_abs_err_mw_vs_pandapower", float(err.max()))
    print(f"{path.stem}: max rel err {rel:.2e}, max abs err {err.max():.2e} MW")
    np.testing.assert_allclose(res.flow_mw, expected, rtol=1e-6, atol=1e-7)

    # the slack our reference took is what pandapower's ext_grid produced beyond the
    # PG of the gen rows it replaced
    gen_lookup = net._from_ppc_lookups["gen"]
    ext_rows = (gen_lookup["element_type"] == "ext_grid").to_numpy()
    pg = _case_dispatch(path, grid).to_numpy()
    ext_extra = net.res_ext_grid.p_mw.sum() - pg[ext_rows].sum()
    assert res.slack_mw[0] == pytest.approx(ext_extra, rel=1e-9, abs=1e-6)

    # balanced by hand on the reference bus: same flows, no slack
    p_bal = p.copy()
    p_bal[dcn.ref_idx[0]] += res.slack_mw[0]
    res_bal = dc_flow(dcn, p_bal)
    np.testing.assert_allclose(res_bal.flow_mw, expected, rtol=1e-6, atol=1e-7)
    assert (res_bal.slack_mw == 0).all()
    # and without balancing, ours refuses
    if abs(res.slack_mw[0]) > 1e-3:
        with pytest.raises(DCFlowError, match="unbalanced injections"):
            dc_flow(dcn, p)


@pytest.mark.parametrize("path", PGLIB_CASES)
def test_pglib_angles_match_pandapower(path: Path) -> None:
    """Bus angles equal pandapower's (both 0 at the reference bus).

    Reference: ``net.res_bus.va_degree`` of pandapower's ``rundcpp``.
    """
    grid = load_grid_case(path).grid
    net = _pandapower(path)
    dcn = dc_network(grid)
    p = injections_from_grid(grid, dcn, gen_mw=_case_dispatch(path, grid))
    res = dc_flow(dcn, p, balance=False)
    va = net.res_bus.va_degree.rename(index={b: str(b + 1) for b in net.bus.index})
    va = va.reindex(dcn.bus_ids).to_numpy()
    va = va - va[dcn.ref_idx[0]]
    np.testing.assert_allclose(np.rad2deg(res.theta_rad), va, rtol=0, atol=1e-8)


@pytest.mark.parametrize("path", PGLIB_CASES)
def test_pglib_many_columns_equal_single_solves(path: Path) -> None:
    """k injection vectors at once give the k single solves (reference: our own 1-D solve)."""
    grid = load_grid_case(path).grid
    dcn = dc_network(grid)
    rng = np.random.default_rng(7)
    p = rng.normal(0.0, 50.0, size=(dcn.n_bus, 4))
    p -= p.mean(axis=0)  # one island: balanced when each column sums to 0
    many = dc_flow(dcn, p)
    assert many.flow_mw.shape == (dcn.n_branch, 4)
    for c in range(4):
        single = dc_flow(dcn, p[:, c])
        np.testing.assert_allclose(many.flow_mw[:, c], single.flow_mw, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(many.theta_rad[:, c], single.theta_rad, rtol=1e-12, atol=1e-12)


# --- hand-made grids -----------------------------------------------------------------


def _grid(
    buses: list[tuple],
    branches: list[tuple],
    generators: list[tuple] = (),
    base_mva: float = 100.0,
) -> Grid:
    """A Grid from rows.

    buses: ``(bus_id, bus_type, load_mw, shunt_mw)``; branches: ``(branch_id, from,
    to, x_pu, tap_ratio, shift_deg, rating_mw, in_service)``; generators: ``(gen_id,
    bus_id, p_max_mw, in_service)``.
    """
    b = pd.DataFrame(buses, columns=["bus_id", "bus_type", "load_mw", "shunt_mw"])
    br = pd.DataFrame(
        branches,
        columns=[
            "branch_id",
            "from_bus",
            "to_bus",
            "x_pu",
            "tap_ratio",
            "shift_deg",
            "rating_mw",
            "in_service",
        ],
    )
    g = pd.DataFrame(list(generators), columns=["gen_id", "bus_id", "p_max_mw", "in_service"])
    return Grid(
        buses=b.set_index("bus_id"),
        branches=br.set_index("branch_id"),
        generators=g.set_index("gen_id"),
        base_mva=base_mva,
    )


def _triangle() -> Grid:
    return _grid(
        buses=[("1", 3, 0.0, 0.0), ("2", 1, 0.0, 0.0), ("3", 1, 0.0, 0.0)],
        branches=[
            ("a", "1", "2", 0.1, 1.0, 0.0, 50.0, True),
            ("b", "1", "3", 0.2, 1.0, 0.0, 100.0, True),
            ("c", "2", "3", 0.2, 1.0, 0.0, np.inf, True),
        ],
    )


def test_triangle_by_hand() -> None:
    """Three buses in a triangle, 100 MW from bus 1 to bus 3 (100 MVA base).

    By hand: b = 100/x = 1000, 500, 500 MW/rad for a (1-2), b (1-3), c (2-3).
    Two paths from 1 to 3: b directly (x = 0.2) and a + c (x = 0.1 + 0.2 = 0.3); the
    flow divides inversely to reactance: b carries 100 * 0.3/0.5 = 60 MW, a and c
    carry 100 * 0.2/0.5 = 40 MW. Angles (bus 1 the reference, theta = 0):
    theta2 = -40/1000 = -0.04 rad, theta3 = -60/500 = -0.12 rad; check on c:
    500 * (-0.04 + 0.12) = 40 MW.
    Bbus = [[1500, -1000, -500], [-1000, 1500, -500], [-500, -500, 1000]].
    """
    dcn = dc_network(_triangle())
    np.testing.assert_allclose(dcn.b_mw_per_rad, [1000.0, 500.0, 500.0])
    np.testing.assert_allclose(
        dcn.Bbus.toarray(), [[1500, -1000, -500], [-1000, 1500, -500], [-500, -500, 1000]]
    )
    np.testing.assert_allclose(dcn.Bf.toarray(), [[1000, -1000, 0], [500, 0, -500], [0, 500, -500]])
    res = dc_flow(dcn, np.array([100.0, 0.0, -100.0]))
    np.testing.assert_allclose(res.flow_mw, [40.0, 60.0, 40.0], rtol=1e-12)
    np.testing.assert_allclose(res.theta_rad, [0.0, -0.04, -0.12], atol=1e-15)
    np.testing.assert_allclose(res.slack_mw, [0.0])
    # loading: a 40/50 = 80 %, b 60/100 = 60 %, c unlimited -> 0
    np.testing.assert_allclose(loading_pct(dcn, res.flow_mw), [80.0, 60.0, 0.0])
    np.testing.assert_allclose(loading_pct(dcn, -res.flow_mw), [80.0, 60.0, 0.0])


def test_phase_shifter_by_hand() -> None:
    """A line and a phase shifter in parallel between buses 1 and 2.

    Both x = 0.1 pu on 100 MVA, so b = 1000 MW/rad each; the shifter has
    shift = 0.1 rad (5.7296 degrees). MATPOWER: P_ft = b (theta1 - theta2 - shift),
    so Pfinj = -b * shift = [0, -100] MW and Pbusinj = Cft' Pfinj = [-100, +100] MW.
    No injections: the two flows cancel at bus 1: 1000 d + 1000 (d - 0.1) = 0, so
    d = theta1 - theta2 = 0.05 rad, line +50 MW, shifter -50 MW (a loop flow).
    With 100 MW from 1 to 2: 2000 d - 100 = 100, d = 0.1 rad, line 100, shifter 0.
    """
    grid = _grid(
        buses=[("1", 3, 0.0, 0.0), ("2", 1, 0.0, 0.0)],
        branches=[
            ("line", "1", "2", 0.1, 1.0, 0.0, 200.0, True),
            ("ps", "1", "2", 0.1, 1.0, float(np.rad2deg(0.1)), 200.0, True),
        ],
    )
    dcn = dc_network(grid)
    np.testing.assert_allclose(dcn.shift_rad, [0.0, 0.1], rtol=1e-15)
    np.testing.assert_allclose(dcn.p_shift_branch_mw, [0.0, -100.0], atol=1e-12)
    np.testing.assert_allclose(dcn.p_shift_bus_mw, [-100.0, 100.0], atol=1e-12)
    loop = dc_flow(dcn, np.zeros(2))
    np.testing.assert_allclose(loop.flow_mw, [50.0, -50.0], rtol=1e-12)
    np.testing.assert_allclose(loop.theta_rad, [0.0, -0.05], rtol=1e-12)
    both = dc_flow(dcn, np.array([100.0, -100.0]))
    np.testing.assert_allclose(both.flow_mw, [100.0, 0.0], atol=1e-9)


def test_tap_ratio_by_hand() -> None:
    """A line (x = 0.1) and a transformer (x = 0.1, tap 1.25) in parallel; then one
    transformer with both a tap and a shift on its own.

    Parallel: b_line = 100/0.1 = 1000, b_trafo = 100/(0.1 * 1.25) = 800 MW/rad;
    180 MW from 1 to 2: d = 180/1800 = 0.1 rad, line 100 MW, transformer 80 MW.
    Radial (tap 0.8, x = 0.2, shift -0.05 rad): b = 100/(0.2 * 0.8) = 625 MW/rad;
    50 MW from bus 2 to bus 1 is a from -> to flow of -50 MW whatever b is, and
    -50 = 625 (0 - theta2 + 0.05) gives theta2 = 0.05 + 0.08 = 0.13 rad.
    """
    grid = _grid(
        buses=[("1", 3, 0.0, 0.0), ("2", 1, 0.0, 0.0)],
        branches=[
            ("line", "1", "2", 0.1, 1.0, 0.0, 200.0, True),
            ("tx", "1", "2", 0.1, 1.25, 0.0, 200.0, True),
        ],
    )
    dcn = dc_network(grid)
    np.testing.assert_allclose(dcn.b_mw_per_rad, [1000.0, 800.0])
    np.testing.assert_allclose(dcn.Bbus.toarray(), [[1800.0, -1800.0], [-1800.0, 1800.0]])
    res = dc_flow(dcn, np.array([180.0, -180.0]))
    np.testing.assert_allclose(res.flow_mw, [100.0, 80.0], rtol=1e-12)
    np.testing.assert_allclose(res.theta_rad, [0.0, -0.1], rtol=1e-12)

    radial = _grid(
        buses=[("1", 3, 0.0, 0.0), ("2", 1, 0.0, 0.0)],
        branches=[("tx", "1", "2", 0.2, 0.8, float(np.rad2deg(-0.05)), 100.0, True)],
    )
    dcn = dc_network(radial)
    np.testing.assert_allclose(dcn.b_mw_per_rad, [625.0])
    res = dc_flow(dcn, np.array([-50.0, 50.0]))
    np.testing.assert_allclose(res.flow_mw, [-50.0], rtol=1e-12)
    np.testing.assert_allclose(res.theta_rad, [0.0, 0.13], rtol=1e-12)
    np.testing.assert_allclose(loading_pct(dcn, res.flow_mw), [50.0])


def _islands() -> Grid:
    """Triangle 1-2-3 (bus 1 type 3), a pair 4-5 without a type-3 bus, a lone bus 6.

    Branch "x" (3-4) would join the first two, but is out of service. Generators:
    "g4" at bus 4 (100 MW, out of service), "g5" at bus 5 (50 MW): the pair's
    reference is bus 5, the largest in-service capacity. Bus 6 has no generation:
    it is its own reference.
    """
    return _grid(
        buses=[
            ("1", 3, 0.0, 0.0),
            ("2", 1, 0.0, 0.0),
            ("3", 1, 0.0, 0.0),
            ("4", 1, 0.0, 0.0),
            ("5", 2, 0.0, 0.0),
            ("6", 1, 0.0, 0.0),
        ],
        branches=[
            ("a", "1", "2", 0.1, 1.0, 0.0, 100.0, True),
            ("b", "1", "3", 0.2, 1.0, 0.0, 100.0, True),
            ("x", "3", "4", 0.1, 1.0, 0.0, 100.0, False),
            ("c", "2", "3", 0.2, 1.0, 0.0, 100.0, True),
            ("d", "4", "5", 0.05, 1.0, 0.0, 100.0, True),
        ],
        generators=[("g4", "4", 100.0, False), ("g5", "5", 50.0, True)],
    )


def test_islands_and_out_of_service_branch() -> None:
    """Islands, references and dropped branch as worked out in :func:`_islands`."""
    dcn = dc_network(_islands())
    assert dcn.bus_ids.tolist() == ["1", "2", "3", "4", "5", "6"]
    assert dcn.branch_ids.tolist() == ["a", "b", "c", "d"]  # "x" dropped, order kept
    assert dcn.from_idx.tolist() == [0, 0, 1, 3]
    assert dcn.to_idx.tolist() == [1, 2, 2, 4]
    assert dcn.island.tolist() == [0, 0, 0, 1, 1, 2]
    assert dcn.ref_idx.tolist() == [0, 4, 5]
    notes = "\n".join(dcn.notes)
    assert "1 of 5 branches out of service" in notes and "'x'" in notes
    assert "3 islands" in notes
    assert "'5' for island 1 (largest generation capacity, 50 MW)" in notes
    assert "'6' for island 2 (no generation; its first bus)" in notes

    # triangle as in test_triangle_by_hand; 30 MW from 4 to 5 on x = 0.05 (b = 2000):
    # theta4 = 30/2000 = 0.015 rad against the reference bus 5
    p = np.array([100.0, 0.0, -100.0, 30.0, -30.0, 0.0])
    res = dc_flow(dcn, p)
    np.testing.assert_allclose(res.flow_mw, [40.0, 60.0, 40.0, 30.0], rtol=1e-12)
    np.testing.assert_allclose(res.theta_rad, [0, -0.04, -0.12, 0.015, 0, 0], atol=1e-15)
    np.testing.assert_allclose(res.slack_mw, [0.0, 0.0, 0.0])


def test_unbalanced_island_raises_naming_buses() -> None:
    """Island 1 (buses 4, 5) has +30 MW and nothing taking it: an error naming both
    buses and the 30 MW; with balance=False the reference (bus 5) takes it: slack -30.
    """
    dcn = dc_network(_islands())
    p = np.array([100.0, 0.0, -100.0, 30.0, 0.0, 0.0])
    with pytest.raises(DCFlowError) as info:
        dc_flow(dcn, p)
    msg = str(info.value)
    assert "island 1 (2 buses: '4', '5')" in msg
    assert "+30 MW" in msg
    assert "island 0" not in msg and "island 2" not in msg
    res = dc_flow(dcn, p, balance=False)
    np.testing.assert_allclose(res.slack_mw, [0.0, -30.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(res.flow_mw, [40.0, 60.0, 40.0, 30.0], rtol=1e-12)
    # tolerance for island 1: 1e-6 * (30 + 30) + 1e-6 = 6.1e-5 MW; 5e-5 passes, 1e-4 not
    dc_flow(dcn, np.array([100.0, 0.0, -100.0, 30.0, -30.0 + 5e-5, 0.0]))
    with pytest.raises(DCFlowError, match=r"island 1 .*\+0\.0001 MW"):
        dc_flow(dcn, np.array([100.0, 0.0, -100.0, 30.0, -30.0 + 1e-4, 0.0]))
    # a lone bus with a load is an island of its own, named as such
    with pytest.raises(DCFlowError, match=r"island 2 \(1 bus: '6'\).*-7 MW"):
        dc_flow(dcn, np.array([0, 0, 0, 0, 0, -7.0]))
    # with k columns, the column is named
    two = np.column_stack([np.zeros(6), p])
    with pytest.raises(DCFlowError, match=r"island 1 \(2 buses: '4', '5', column 1\)"):
        dc_flow(dcn, two)


def test_many_columns_equal_single_solves() -> None:
    """k columns at once equal k single solves (reference: the 1-D solves), with islands
    and balance=False (per-column slack)."""
    dcn = dc_network(_islands())
    rng = np.random.default_rng(3)
    p = rng.normal(0.0, 20.0, size=(6, 5))
    many = dc_flow(dcn, p, balance=False)
    assert many.theta_rad.shape == (6, 5) and many.slack_mw.shape == (3, 5)
    for c in range(5):
        single = dc_flow(dcn, p[:, c], balance=False)
        np.testing.assert_allclose(many.flow_mw[:, c], single.flow_mw, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(many.theta_rad[:, c], single.theta_rad, atol=1e-15)
        np.testing.assert_allclose(many.slack_mw[:, c], single.slack_mw, atol=1e-12)
        # the slack is minus each island's sum
        sums = [p[:3, c].sum(), p[3:5, c].sum(), p[5, c]]
        np.testing.assert_allclose(single.slack_mw, -np.array(sums), atol=1e-12)


def test_injections_from_grid_by_hand() -> None:
    """Bus 1: gen 120 MW; bus 2: load 50 MW scaled by 1.2 = 60, shunt 10; bus 3: load 50,
    scaled 60. So P = [120, -70, -60] - and it sums to -10, the slack on bus 1 is +10.
    """
    grid = _grid(
        buses=[("1", 3, 0.0, 0.0), ("2", 1, 50.0, 10.0), ("3", 1, 50.0, 0.0)],
        branches=[
            ("a", "1", "2", 0.1, 1.0, 0.0, 100.0, True),
            ("b", "2", "3", 0.1, 1.0, 0.0, 100.0, True),
        ],
        generators=[("g1", "1", 200.0, True), ("g2", "3", 80.0, False)],
    )
    dcn = dc_network(grid)
    p = injections_from_grid(grid, dcn, load_scale=1.2, gen_mw=pd.Series({"g1": 120.0}))
    np.testing.assert_allclose(p, [120.0, -70.0, -60.0])
    # no generation: minus the loads and shunts
    np.testing.assert_allclose(injections_from_grid(grid, dcn), [0.0, -60.0, -50.0])
    res = dc_flow(dcn, p, balance=False)
    # radial: a carries what buses 2 and 3 take (130 MW) from the reference, b 60 MW
    np.testing.assert_allclose(res.slack_mw, [10.0])
    np.testing.assert_allclose(res.flow_mw, [130.0, 60.0])
    with pytest.raises(InputError, match=r"id 'g2'\), field 'in_service'.*out of service"):
        injections_from_grid(grid, dcn, gen_mw=pd.Series({"g1": 10.0, "g2": 5.0}))
    with pytest.raises(InputError, match=r"not in the grid: 'g9'"):
        injections_from_grid(grid, dcn, gen_mw=pd.Series({"g9": 10.0}))


# --- errors ----------------------------------------------------------------------------


def test_zero_reactance_named() -> None:
    grid = _triangle()
    grid.branches.loc["b", "x_pu"] = 0.0
    with pytest.raises(InputError) as info:
        dc_network(grid)
    msg = str(info.value)
    assert "layer 'branches', row 2 (id 'b'), field 'x_pu'" in msg
    assert "x_pu * tap_ratio" in msg and msg.endswith("got 0")
    # an out-of-service branch with x = 0 is not in the network: no error
    grid.branches.loc["b", "in_service"] = False
    assert dc_network(grid).branch_ids.tolist() == ["a", "c"]


def test_zero_tap_named() -> None:
    grid = _triangle()
    grid.branches.loc["c", "tap_ratio"] = 0.0
    with pytest.raises(InputError, match=r"id 'c'\), field 'tap_ratio'"):
        dc_network(grid)


def test_error_rows_are_the_grids_rows() -> None:
    """An error after an out-of-service branch names the grid's row, not the in-service one:
    "d" is row 5 of the branches table (row 4 among in-service branches)."""
    grid = _islands()
    grid.branches.loc["d", "x_pu"] = float("nan")
    with pytest.raises(InputError, match=r"row 5 \(id 'd'\), field 'x_pu'.*got nan"):
        dc_network(grid)


def test_unknown_bus_and_self_loop_named() -> None:
    grid = _triangle()
    grid.branches.loc["a", "to_bus"] = "99"
    grid.branches.loc["c", "to_bus"] = "2"
    with pytest.raises(InputError) as info:
        dc_network(grid)
    msg = str(info.value)
    assert "id 'a'), field 'to_bus': bus '99' is not a bus of the grid" in msg
    assert "id 'c'), field 'to_bus': the branch connects bus '2' to itself" in msg


def test_bad_injection_shape_and_values() -> None:
    dcn = dc_network(_triangle())
    with pytest.raises(DCFlowError, match=r"shape \(2,\); expected \(3,\) or \(3, k\)"):
        dc_flow(dcn, np.zeros(2))
    with pytest.raises(DCFlowError, match=r"not finite at 1 bus\(es\): '2'"):
        dc_flow(dcn, np.array([0.0, np.nan, 0.0]))
    with pytest.raises(DCFlowError, match="flow_mw has shape"):
        loading_pct(dcn, np.zeros(4))


def test_singular_matrix_is_reported() -> None:
    """Two parallel branches with x = +0.1 and -0.1 cancel: b = 1000 - 1000 = 0."""
    grid = _grid(
        buses=[("1", 3, 0.0, 0.0), ("2", 1, 0.0, 0.0)],
        branches=[
            ("p", "1", "2", 0.1, 1.0, 0.0, 100.0, True),
            ("n", "1", "2", -0.1, 1.0, 0.0, 100.0, True),
        ],
    )
    dcn = dc_network(grid)
    with pytest.raises(DCFlowError, match="singular"):
        dc_flow(dcn, np.zeros(2))
