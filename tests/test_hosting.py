"""Tests of hosting capacity (siting.grid_ops.hosting) and ``siting grid hosting``.

- the triangle of test_ptdf worked out by hand under N-0 and N-1, with a distributed
  and a moved slack, an overloaded branch and a radial spur;
- a brute force independent of PTDF and LODF: the largest load found by bisection
  with :func:`siting.network.dc_flow`, for N-1 on networks rebuilt with the branch
  removed (:func:`siting.network.dc_network`), on the triangle and on pglib case300;
- the command on case300 under N-1 (one row per bus, N-1 never above N-0) and on the
  demo scenario (CSV and GeoPackage of points).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from siting.cli import app
from siting.grid_ops.hosting import (
    base_flows,
    case_dispatch,
    grid_hosting,
    hosting_capacity,
    proportional_dispatch,
)
from siting.inputs import load_grid_case
from siting.inputs.grids.grid import Grid
from siting.network import DCNetwork, dc_flow, dc_network, injections_from_grid, slack_weights

REPO = Path(__file__).resolve().parents[1]
CASE300 = (REPO / ".." / "shared" / "data" / "pglib" / "pglib_opf_case300_ieee.m").resolve()
needs_case300 = pytest.mark.skipif(
    not CASE300.is_file(),
    reason="../shared/data/pglib not found: the pglib cases are only beside the project "
    "checkout, not in a user's clone",
)
runner = CliRunner()


def triangle(spur: bool = False) -> Grid:
    """The triangle of test_ptdf (same numbers; its PTDF and LODF are worked out there).

    Buses 1 (reference, a 500 MW generator), 2 (30 MW load), 3 (60 MW load); branches
    a 1-2 (x 0.1), b 1-3 (x 0.2), c 2-3 (x 0.2) on 100 MVA; ratings a 100, b 84, c 50
    MW, emergency ratings a 100, b 110, c 65 MW. With ``spur``, also bus 4 (no load)
    hanging off bus 3 by branch d (x 0.1, 40 MW, emergency 40): a radial branch.
    PTDF (reference bus 1) = [[0, -0.8, -0.4], [0, -0.2, -0.6], [0, 0.2, -0.4]];
    LODF = [[-1, 1, -1], [1, -1, 1], [-1, 1, -1]].
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
    b = pd.DataFrame(buses, columns=["bus_id", "bus_type", "load_mw"]).assign(shunt_mw=0.0)
    br = pd.DataFrame(
        branches,
        columns=["branch_id", "from_bus", "to_bus", "x_pu", "rating_mw", "rating_emergency_mw"],
    ).assign(tap_ratio=1.0, shift_deg=0.0, in_service=True)
    g = pd.DataFrame(
        {"bus_id": ["1"], "p_max_mw": [500.0], "in_service": [True]},
        index=pd.Index(["g1"], name="gen_id"),
    )
    return Grid(buses=b.set_index("bus_id"), branches=br.set_index("branch_id"), generators=g)


# --- brute force: bisection on DC flows of rebuilt networks --------------------------------


class BruteForce:
    """The largest new load at a bus by bisection on DC power flows (no PTDF, no LODF).

    A load ``P`` at bus ``b`` served by the slack weights ``w`` changes the injections
    by ``P (w - e_b)``. The N-0 check solves :func:`dc_flow` on ``net``; the N-1 check
    also on one network per outage, rebuilt by :func:`dc_network` from the grid with
    that branch out of service (an outage that leaves more islands is skipped, and
    listed in ``radial``). A flow must stay within ``[-max(R, -f0), max(R, f0)]`` with
    ``f0`` its flow at ``P = 0`` on the same network (the rule of siting.grid_ops.hosting: an
    overload may not get worse), ``R`` the normal rating for N-0 and the emergency
    rating after an outage.
    """

    TOL_MW = 1e-8

    def __init__(self, grid: Grid, p0: np.ndarray, slack=None, n_1: bool = True) -> None:
        self.net = dc_network(grid)
        self.p0 = p0
        self.w = slack_weights(self.net, slack)
        emergency = grid.branches["rating_emergency_mw"].fillna(grid.branches["rating_mw"])
        emergency.index = emergency.index.astype(str)
        self.checks: list[tuple[str | None, DCNetwork, np.ndarray, np.ndarray]] = []
        self._add(None, self.net, self.net.rating_mw)
        self.radial: list[str] = []
        if n_1:
            for k in self.net.branch_ids:
                g = Grid(
                    buses=grid.buses,
                    branches=grid.branches.copy(),
                    generators=grid.generators,
                    base_mva=grid.base_mva,
                )
                g.branches.loc[k, "in_service"] = False
                net_k = dc_network(g)
                if net_k.n_islands > self.net.n_islands:
                    self.radial.append(str(k))
                    continue
                self._add(str(k), net_k, emergency.reindex(net_k.branch_ids).to_numpy())

    def _add(self, outage: str | None, net: DCNetwork, rating: np.ndarray) -> None:
        f0 = dc_flow(net, self.p0).flow_mw
        self.checks.append((outage, net, np.maximum(rating, f0), -np.maximum(rating, -f0)))

    def violated(self, bus: str, p_mw: float, stop: bool = True) -> list[tuple[str | None, str]]:
        """(outage, branch) pairs out of bounds with ``p_mw`` at ``bus`` (the first only
        when ``stop``)."""
        d = self.w.copy()
        d[self.net.bus_ids.get_loc(bus)] -= 1.0
        bad = []
        for i, (outage, net, hi, lo) in enumerate(self.checks):
            f = dc_flow(net, self.p0 + p_mw * d).flow_mw
            over = (f > hi + self.TOL_MW) | (f < lo - self.TOL_MW)
            if over.any():
                bad += [(outage, str(b)) for b in net.branch_ids[over]]
                if stop:  # look here first next time
                    self.checks.insert(0, self.checks.pop(i))
                    return bad
        return bad

    def largest(self, bus: str, n_1: bool = True, rel: float = 1e-11) -> float:
        """The largest load at ``bus`` [MW] (``inf`` past 1e7 MW), by doubling and bisection."""
        checks = self.checks
        if not n_1:
            self.checks = [c for c in checks if c[0] is None]
        try:
            lo, hi = 0.0, 1.0
            while not self.violated(bus, hi):
                lo, hi = hi, 2 * hi
                if hi > 1e7:
                    return np.inf
            while hi - lo > rel * hi + 1e-12:
                mid = 0.5 * (lo + hi)
                lo, hi = (lo, mid) if self.violated(bus, mid) else (mid, hi)
            return lo
        finally:
            self.checks = checks


# --- the triangle by hand ---------------------------------------------------------------


def _triangle_result(slack=None, n_1: bool = True, spur: bool = False, rating_a: float = 100.0):
    g = triangle(spur=spur)
    g.branches.loc["a", "rating_mw"] = rating_a
    net = dc_network(g)
    f, pick_up = base_flows(g, net, pd.Series({"g1": 90.0}), slack)
    np.testing.assert_allclose(pick_up, [0.0], atol=1e-12)
    emergency = g.branches["rating_emergency_mw"].to_numpy()
    return g, net, f, hosting_capacity(net, f, slack=slack, n_1=n_1, rating_emergency_mw=emergency)


def test_triangle_hosting_by_hand() -> None:
    """Hosting capacity of the triangle (test_ptdf.triangle), worked out by hand.

    Base flows [48, 42, 18] MW on a, b, c (test_triangle_lodf_by_hand); ratings
    R = [100, 84, 50], emergency E = [100, 110, 65]. A load P at bus b served from bus 1
    changes the flows by -PTDF[:, b] P.

    N-0. Bus 2: -PTDF[:, 2] = [0.8, 0.2, -0.2]: a (100 - 48)/0.8 = 65, b (84 - 42)/0.2
    = 210, c (50 + 18)/0.2 = 340 -> 65 MW on a. Bus 3: [0.4, 0.6, 0.4]: a 52/0.4 =
    130, b 42/0.6 = 70, c 32/0.4 = 80 -> 70 MW on b. Bus 1 is the slack: unlimited.

    N-1 (post-outage flows and sensitivities s_l = -(PTDF[l, b] + LODF[l, k] PTDF[k, b])):
    - a out: flows [0, 90, -30]; bus 2: s = [0, 1, -1]: b (110 - 90) = 20,
      c (65 - 30) = 35; bus 3: s = [0, 1, 0]: b 20.
    - b out: flows [90, 0, 60]; bus 2: s = [1, 0, 0]: a (100 - 90) = 10; bus 3:
      s = [1, 0, 1]: a 10, c (65 - 60) = 5.
    - c out: flows [30, 60, 0]; bus 2: s = [1, 0, 0]: a 70; bus 3: s = [0, 1, 0]:
      b (110 - 60) = 50.
    So bus 2: min(65, 20, 35, 10, 70) = 10 MW on a after the outage of b; bus 3:
    min(70, 20, 10, 5, 50) = 5 MW on c after the outage of b.
    """
    _, _, f, r = _triangle_result()
    np.testing.assert_allclose(f, [48.0, 42.0, 18.0], rtol=1e-12)
    t = r.table.set_index("bus_id")
    np.testing.assert_allclose(t["hosting_mw"], [np.inf, 65.0, 70.0], rtol=1e-12)
    assert t["limiting_branch"].tolist() == [None, "a", "b"]
    np.testing.assert_allclose(t["hosting_n1_mw"], [np.inf, 10.0, 5.0], rtol=1e-12)
    assert t["limiting_branch_n1"].tolist() == [None, "a", "c"]
    assert t["limiting_outage"].tolist() == [None, "b", "b"]
    assert not t["overloaded"].any() and not t["overloaded_n1"].any()
    assert r.skipped_outages == [] and r.n1_violations == 0
    assert len(r.overloaded_branches) == 0

    # N-0 only: no N-1 columns
    _, _, _, r0 = _triangle_result(n_1=False)
    assert list(r0.table.columns) == [
        "bus_id",
        "hosting_mw",
        "limiting_branch",
        "overloaded",
        "why",
    ]
    pd.testing.assert_frame_equal(r0.table, r.table[r0.table.columns])

    # the same through grid_hosting: proportional dispatch puts the 90 MW on g1
    gh = grid_hosting(triangle(), n_1=True)
    pd.testing.assert_frame_equal(gh.table, r.table)
    assert "proportion to p_max" in gh.dispatch


def test_triangle_hosting_distributed_and_moved_slack() -> None:
    """Slack shared by buses 1 and 2 (equal weights): a load at bus 3 comes half over b
    and half over c (test_triangle_ptdf_by_hand: PTDF[:, 3] = [0, -0.5, -0.5]); the base
    flows are balanced already (90 MW = 30 + 60), so [48, 42, 18]. N-0: b (84 - 42)/0.5
    = 84, c (50 - 18)/0.5 = 64 -> 64 MW on c.

    Slack at bus 2 with branch a rated 40 MW (below its 48 MW flow). Bus 3 served from
    bus 2: PTDF = [0.4, -0.4, -0.6], the load changes flows by [-0.4, 0.4, 0.6]: it
    relieves a, which may then fall to -40: (48 + 40)/0.4 = 220; b (84 - 42)/0.4 = 105;
    c (50 - 18)/0.6 = 53.33 -> 53.33 MW on c. Bus 1: PTDF[:, 1] - PTDF[:, 2] = [0.8,
    0.2, -0.2], change [-0.8, -0.2, 0.2]: a 88/0.8 = 110, b (42 + 84)/0.2 = 630,
    c 32/0.2 = 160 -> 110 MW on a. Bus 2 is the slack: unlimited.
    With the reference slack instead, every load loads a further: 0 MW and flagged.
    """
    _, _, f, r = _triangle_result(slack=["1", "2"], n_1=False)
    np.testing.assert_allclose(f, [48.0, 42.0, 18.0], rtol=1e-12)
    row = r.table.set_index("bus_id").loc["3"]
    assert row["hosting_mw"] == pytest.approx(64.0, rel=1e-12)
    assert row["limiting_branch"] == "c"

    _, _, _, r = _triangle_result(slack="2", n_1=False, rating_a=40.0)
    t = r.table.set_index("bus_id")
    np.testing.assert_allclose(t["hosting_mw"], [110.0, np.inf, 160 / 3], rtol=1e-12)
    assert t["limiting_branch"].tolist() == ["a", None, "c"]
    assert not t["overloaded"].any()
    assert r.overloaded_branches["branch_id"].tolist() == ["a"]

    _, _, _, r = _triangle_result(n_1=True, rating_a=40.0)
    t = r.table.set_index("bus_id")
    np.testing.assert_allclose(t["hosting_mw"], [np.inf, 0.0, 0.0])
    assert t["overloaded"].tolist() == [False, True, True]
    assert t["limiting_branch"].tolist() == [None, "a", "a"]
    np.testing.assert_allclose(t["hosting_n1_mw"], [np.inf, 0.0, 0.0])
    assert t["overloaded_n1"].tolist() == [False, True, True]


def test_triangle_with_spur_skips_its_outage() -> None:
    """Bus 4 hangs off bus 3 by d (40 MW, emergency 40). Its outage splits the network:
    skipped and listed. A load at bus 4 is a load at bus 3 plus 1 MW/MW on d: N-0
    min(70, (40 - 0)/1) = 40 MW on d; N-1 min(40, bus 3's 5) = 5 MW on c after b.
    """
    _, _, _, r = _triangle_result(spur=True)
    assert r.skipped_outages == ["d"]
    t = r.table.set_index("bus_id")
    np.testing.assert_allclose(t["hosting_mw"], [np.inf, 65.0, 70.0, 40.0], rtol=1e-12)
    np.testing.assert_allclose(t["hosting_n1_mw"], [np.inf, 10.0, 5.0, 5.0], rtol=1e-12)
    assert t.loc["4", "limiting_branch"] == "d"
    assert (t.loc["4", "limiting_branch_n1"], t.loc["4", "limiting_outage"]) == ("c", "b")


@pytest.mark.parametrize("slack", [None, "2", {"1": 2.0, "2": 1.0}])
@pytest.mark.parametrize("spur", [False, True])
def test_triangle_matches_brute_force(slack, spur: bool) -> None:
    """N-0 and N-1 hosting of every bus equal the bisection's, to 1e-7 relative (the
    bisection's own tolerance is 1e-8 MW on each flow)."""
    g, net, _, r = _triangle_result(slack=slack, spur=spur)
    p0 = injections_from_grid(g, net, gen_mw=pd.Series({"g1": 90.0}))
    bf = BruteForce(g, p0, slack=slack)
    assert bf.radial == r.skipped_outages
    for _, row in r.table.iterrows():
        for col, n_1 in (("hosting_mw", False), ("hosting_n1_mw", True)):
            expected = bf.largest(row["bus_id"], n_1=n_1)
            assert row[col] == pytest.approx(expected, rel=1e-7, abs=1e-7), (row["bus_id"], col)


# --- case300 ----------------------------------------------------------------------------


@needs_case300
def test_case300_hosting_matches_brute_force(record_property) -> None:
    """case300 at a light operating point: N-0 and N-1 of a few buses by bisection, 1e-6.

    The file's own PG leave 42 branches above their rating (the worst at 886 %), where
    every bus's N-0 capacity is 0 (see test_cli_case300_n1); 5 % of the file's
    injections (PG minus load minus shunt, the imbalance on the reference bus) leave
    every branch within its rating and every post-outage flow within its emergency
    rating, so the capacities are all above 0. Buses checked: the weakest under N-1, one
    where the N-0 limit binds N-1 too, and quartiles of N-1. The brute force also finds
    the same 89 radial branches, and the branch (and outage) reported as limiting is
    over its bound just above the capacity.
    """
    grid = load_grid_case(CASE300).grid
    net = dc_network(grid)
    p = injections_from_grid(grid, net, gen_mw=case_dispatch(grid))
    p[net.ref_idx[0]] -= p.sum()
    p0 = 0.05 * p
    emergency = grid.branches["rating_emergency_mw"].reindex(net.branch_ids).to_numpy()
    t0 = time.perf_counter()
    r = hosting_capacity(net, dc_flow(net, p0).flow_mw, n_1=True, rating_emergency_mw=emergency)
    record_property("hosting_n1_case300_s", time.perf_counter() - t0)
    t = r.table
    assert r.n1_violations == 0 and len(r.overloaded_branches) == 0
    assert (t["hosting_n1_mw"] <= t["hosting_mw"]).all()
    bf = BruteForce(grid, p0)
    assert sorted(bf.radial) == sorted(r.skipped_outages) and len(bf.radial) == 89

    finite = t[np.isfinite(t["hosting_n1_mw"]) & (t["hosting_n1_mw"] > 0)]
    order = finite.sort_values("hosting_n1_mw")
    picks = {order.index[0], order.index[len(order) // 4], order.index[len(order) // 2]}
    n0_binds = finite.index[finite["limiting_outage"].isna()]
    picks = sorted(int(i) for i in picks | set(n0_binds[:1]))
    worst = 0.0
    for i in picks:
        row = t.loc[i]
        bus = row["bus_id"]
        for col, n_1, branch, outage in (
            ("hosting_mw", False, row["limiting_branch"], None),
            ("hosting_n1_mw", True, row["limiting_branch_n1"], row["limiting_outage"]),
        ):
            expected = bf.largest(bus, n_1=n_1)
            assert row[col] == pytest.approx(expected, rel=1e-6), (bus, col)
            worst = max(worst, abs(row[col] - expected) / expected)
            over = bf.violated(bus, row[col] * (1 + 1e-5) + 1e-6, stop=False)
            assert (outage, branch) in over, (bus, col, over[:5])
    record_property("hosting_max_rel_err_vs_bisection", worst)
    buses = t.loc[picks, "bus_id"].tolist()
    print(f"case300 hosting vs bisection, buses {buses}: max rel err {worst:.2e}")


@needs_case300
def test_cli_case300_n1(tmp_path: Path) -> None:
    """``siting grid hosting case300.m --n-1 --json``: one row per bus, N-1 <= N-0, the
    CSV beside it (no GeoPackage: the case has no coordinates), 89 radial outages
    skipped, and a few buses checked by bisection at the file's own dispatch (where
    overloaded branches hold most buses at 0 MW)."""
    out = tmp_path / "h.csv"
    t0 = time.perf_counter()
    res = runner.invoke(
        app, ["grid", "hosting", str(CASE300), "--n-1", "--json", "--out", str(out)]
    )
    elapsed = time.perf_counter() - t0
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    print(f"siting grid hosting case300 --n-1 (in-process): {elapsed:.2f} s")
    assert data["n_1"] is True
    assert len(data["skipped_outages"]) == 89
    assert data["gpkg"] is None and not (tmp_path / "h.gpkg").exists()
    buses = pd.DataFrame(data["buses"])
    assert len(buses) == 300 and buses["bus_id"].is_unique
    n0 = buses["hosting_mw"].astype(float).fillna(np.inf)  # null = unlimited
    n1 = buses["hosting_n1_mw"].astype(float).fillna(np.inf)
    assert (n1 <= n0).all()
    csv = pd.read_csv(out, dtype={"bus_id": str})
    assert csv["bus_id"].tolist() == buses["bus_id"].tolist()
    np.testing.assert_allclose(csv["hosting_n1_mw"], n1, rtol=1e-6)

    # bisection at the same operating point (the file's PG, the rest on the reference)
    grid = load_grid_case(CASE300).grid
    net = dc_network(grid)
    p = injections_from_grid(grid, net, gen_mw=case_dispatch(grid))
    p[net.ref_idx[0]] -= p.sum()
    bf = BruteForce(grid, p)
    ref = str(net.bus_ids[net.ref_idx[0]])
    picks = [ref, *buses["bus_id"][n1 == 0].head(2)]
    for bus in picks:
        row = buses.set_index("bus_id").loc[bus]
        for col, n_1 in (("hosting_mw", False), ("hosting_n1_mw", True)):
            got = np.inf if row[col] is None or pd.isna(row[col]) else row[col]
            assert got == pytest.approx(bf.largest(bus, n_1=n_1), rel=1e-6, abs=1e-6)


def test_cli_demo_writes_csv_and_gpkg(tmp_path: Path) -> None:
    """On the demo scenario (buses with coordinates): the CSV and the GeoPackage layer
    ``hosting`` (points, one per bus, in the scenario's CRS; unlimited = empty); the
    human output lists the weakest buses."""
    out = tmp_path / "sub" / "demo_hosting.csv"
    res = runner.invoke(
        app,
        ["grid", "hosting", str(REPO / "models" / "demo.yaml"), "--out", str(out)],
    )
    assert res.exit_code == 0, res.output
    assert "the 10 weakest buses" in res.stdout
    csv = pd.read_csv(out, dtype={"bus_id": str})
    gdf = gpd.read_file(out.with_suffix(".gpkg"), layer="hosting")
    assert len(gdf) == len(csv) > 0
    assert (gdf.geometry.geom_type == "Point").all() and gdf.crs is not None
    assert "hosting_n1_mw" not in csv.columns
    np.testing.assert_allclose(
        gdf["hosting_mw"].fillna(np.inf), csv["hosting_mw"].astype(float), rtol=1e-6
    )


def test_cli_errors(tmp_path: Path) -> None:
    """Unknown slack bus, unknown dispatch mode, unreadable suffix: exit 1 with a message;
    --dispatch case on a grid not read from a MATPOWER file too."""
    case = REPO / "models" / "demo.yaml"
    for args, msg in (
        (["--slack", "nope"], "--slack 'nope'"),
        (["--dispatch", "bogus"], "--dispatch 'bogus'"),
        (["--dispatch", "case"], "--dispatch case needs a MATPOWER case file"),
    ):
        res = runner.invoke(
            app, ["grid", "hosting", str(case), "--out", str(tmp_path / "h.csv"), *args]
        )
        assert res.exit_code == 1 and msg in res.output, res.output
    res = runner.invoke(app, ["grid", "hosting", str(tmp_path / "x.txt")])
    assert res.exit_code == 1 and "don't know how to read" in res.output


def test_proportional_dispatch_by_hand() -> None:
    """Two generators 300 and 100 MW at bus 1 of the triangle (load 90): 67.5 and 22.5 MW."""
    g = triangle()
    g.generators = pd.DataFrame(
        {"bus_id": ["1", "1"], "p_max_mw": [300.0, 100.0], "in_service": [True, True]},
        index=pd.Index(["g1", "g2"], name="gen_id"),
    )
    mw, notes = proportional_dispatch(g, dc_network(g))
    np.testing.assert_allclose(mw.loc[["g1", "g2"]], [67.5, 22.5])
    assert notes == []
