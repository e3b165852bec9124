"""Tests of the PyPSA reader (siting.inputs.grids.pypsa_io) and ``siting export``
(siting.grid_ops.export).

A small PyPSA network is built here (not downloaded): four buses in test_plan's tiny strip
(UTM 14N), three 345 kV lines in a mesh, a 345/138 kV transformer with an off-nominal tap
and a phase shift, a link (HVDC) taken as a fixed transfer, a gas and a wind generator with
carriers, loads with a time series, and one extendable line. References:

- per-unit values by hand: a line's ``x_pu = x / v_nom**2 * 100`` (PyPSA's 1 MVA base to
  siting's 100 MVA), a transformer's ``x_pu = x / s_nom * 100``;
- PyPSA's own linear power flow (``n.lpf()``) on the network read, and on the export of a
  plan made on it (real HiGHS);
- pandapower's ``rundcpp`` on the pandapower export, and siting's MATPOWER reader on the
  MATPOWER export.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from pyproj import Transformer
from test_plan import at, write_region
from typer.testing import CliRunner

import siting
from siting.cli import app
from siting.core.errors import InputError, ProblemReport
from siting.grid_ops.check import check_plan
from siting.grid_ops.export import export_case, to_matpower, to_pandapower, to_pypsa
from siting.inputs.grids.matpower import read_matpower
from siting.network import dc_flow, dc_network, injections_from_grid

pypsa = pytest.importorskip("pypsa")

from siting.inputs.grids.pypsa_io import read_pypsa  # noqa: E402

logging.getLogger("pypsa").setLevel(logging.ERROR)
runner = CliRunner()
SNAPS = ["peak", "year"]
TO_LONLAT = Transformer.from_crs("EPSG:32614", "EPSG:4326", always_xy=True)


def small_network() -> pypsa.Network:
    """The test network (see the module docstring); at 'peak' the loads are 450 MW."""
    n = pypsa.Network()
    n.set_snapshots(pd.Index(SNAPS, name="snapshot"))
    n.add("Carrier", "gas", co2_emissions=0.2)  # t/MWh of fuel
    n.add("Carrier", "wind", co2_emissions=0.0)
    for name, kv, (x, y) in (
        ("1", 345.0, (5, 10)),
        ("2", 345.0, (30, 10)),
        ("3", 345.0, (55, 10)),
        ("4", 138.0, (30, 15)),
    ):
        lon, lat = TO_LONLAT.transform(at(x, y).x, at(x, y).y)
        n.add("Bus", name, v_nom=kv, x=lon, y=lat)
    n.add("Line", "a", bus0="1", bus1="2", x=11.9025, r=1.0, s_nom=1000.0, length=25.0)
    n.add(
        "Line", "b", bus0="2", bus1="3", x=11.9025, s_nom=400.0, s_max_pu=0.9,
        s_nom_extendable=True, s_nom_max=600.0, overnight_cost=100_000.0,
    )  # fmt: skip
    n.add("Line", "c", bus0="1", bus1="3", x=23.805, s_nom=500.0)
    n.add(
        "Transformer", "t", bus0="2", bus1="4", x=0.04, s_nom=400.0, tap_ratio=1.02,
        phase_shift=3.0,
    )  # fmt: skip
    n.add("Generator", "g1", bus="1", p_nom=2000.0, marginal_cost=20.0, carrier="gas",
          efficiency=0.5, p_set=pd.Series([400.0, 300.0], index=n.snapshots))  # fmt: skip
    n.add("Generator", "w", bus="4", p_nom=100.0, marginal_cost=0.0, carrier="wind",
          p_max_pu=pd.Series([0.5, 0.9], index=n.snapshots),
          p_set=pd.Series([50.0, 90.0], index=n.snapshots))  # fmt: skip
    n.add("Load", "l2", bus="2", p_set=pd.Series([250.0, 200.0], index=n.snapshots))
    n.add("Load", "l4", bus="4", p_set=pd.Series([200.0, 190.0], index=n.snapshots))
    n.add("Link", "hvdc", bus0="1", bus1="3", p_nom=100.0, p_set=40.0, efficiency=1.0)
    return n


def _read(n, **kw):
    report = ProblemReport()
    grid = read_pypsa(n, report, **kw)
    report.raise_if_any()
    assert grid is not None
    return grid, report


def test_per_unit_values_ratings_costs_and_upgrades():
    g, report = _read(small_network(), links="fixed")
    br = g.branches
    # x_pu by hand: 11.9025 Ohm / 345**2 kV**2 * 100 MVA = 0.01; 23.805 -> 0.02; 0.04 / 400 * 100
    assert br.loc["a", "x_pu"] == pytest.approx(0.01, rel=1e-12)
    assert br.loc["c", "x_pu"] == pytest.approx(0.02, rel=1e-12)
    assert br.loc["t", "x_pu"] == pytest.approx(0.01, rel=1e-12)
    assert br.loc["t", "tap_ratio"] == 1.02 and br.loc["t", "shift_deg"] == 3.0
    assert br.loc["b", "rating_mw"] == pytest.approx(360.0)  # 400 MVA x s_max_pu 0.9
    assert br.loc["a", "length_km"] == 25.0
    # line b: (600 - 400) MVA x 0.9 = 180 MW for 100,000 x 200 = 20 M
    assert br.loc["b", "upgrade_added_mw"] == pytest.approx(180.0)
    assert br.loc["b", "upgrade_cost_usd"] == pytest.approx(20e6)
    gen = g.generators
    assert gen.loc["g1", "co2_t_per_mwh"] == pytest.approx(0.4)  # 0.2 t/MWh fuel / 0.5
    assert gen.loc["w", "p_max_mw"] == pytest.approx(50.0)  # 100 x 0.5 at the peak snapshot
    assert gen.loc["g1", "fuel"] == "gas"
    assert g.costs["g1"].cost_usd_per_h(10.0) == pytest.approx(200.0)
    # loads at the peak snapshot (450 MW in all), the link's 40 MW from bus 1 to bus 3
    assert g.buses["load_mw"].to_dict() == pytest.approx(
        {"1": 40.0, "2": 250.0, "3": -40.0, "4": 200.0}
    )
    assert g.crs.to_epsg() == 4326  # the network's own CRS (PyPSA's default)
    assert g.buses.geometry.to_crs(32614)["2"].x == pytest.approx(at(30, 10).x, abs=1e-3)
    assert any("peak snapshot 'peak'" in n for n in report.notes)


def test_flows_of_the_network_read_equal_pypsa_lpf():
    n = small_network()
    g, _ = _read(n, links="fixed")
    net = dc_network(g)
    inj = injections_from_grid(g, net, gen_mw=pd.Series({"g1": 400.0, "w": 50.0}))
    flow = pd.Series(dc_flow(net, inj).flow_mw, index=net.branch_ids)
    n.lpf()
    ref = pd.concat([n.c.lines.dynamic.p0.loc["peak"], n.c.transformers.dynamic.p0.loc["peak"]])
    np.testing.assert_allclose(flow.reindex(ref.index).to_numpy(), ref.to_numpy(), rtol=1e-9)
    assert abs(ref["t"]) > 1.0  # the transformer carries flow (its tap and shift count)


@pytest.mark.parametrize(
    "breakage, layer, field, words",
    [
        (lambda n: n.c.lines.static.loc.__setitem__(("a", "x"), 0.0), "lines", "x", "no reactance"),
        (
            lambda n: n.c.lines.static.loc.__setitem__(("c", "s_nom"), 0.0),
            "lines",
            "s_nom",
            "s_nom is 0",
        ),
        (
            lambda n: n.c.generators.static.loc.__setitem__(("w", "carrier"), "offshore"),
            "generators",
            "carrier",
            "carrier 'offshore' is not in the network's carriers",
        ),
        (
            lambda n: n.c.buses.static.loc.__setitem__(("3", "x"), math.nan),
            "buses",
            "x",
            "no coordinates",
        ),
        (lambda n: None, "links", "p_nom", "siting's DC model has no controllable flows"),
    ],
)
def test_bad_networks_get_named_errors(breakage, layer, field, words):
    n = small_network()
    breakage(n)
    report = ProblemReport()
    assert read_pypsa(n, report) is None
    msgs = [p for p in report.problems if p.layer == layer and p.field == field]
    assert msgs, [str(p) for p in report.problems]
    assert words in str(msgs[0])


def test_a_line_type_gives_the_reactance():
    """Line 'c' as 60 km of PyPSA's standard type 'Al/St 240/40 4-bundle 380.0' (x 0.246
    Ohm/km in PyPSA's table) with x left 0: x_pu = 0.246 x 60 / 345**2 x 100 MVA."""
    n = small_network()
    n.c.lines.static.loc["c", ["x", "type", "length"]] = [0.0, "Al/St 240/40 4-bundle 380.0", 60.0]
    x_per_km = float(n.c.line_types.static.loc["Al/St 240/40 4-bundle 380.0", "x_per_length"])
    assert x_per_km == pytest.approx(0.246)
    g, _ = _read(n, links="fixed")
    assert g.branches.loc["c", "x_pu"] == pytest.approx(x_per_km * 60 / 345**2 * 100, rel=1e-12)
    n.c.lines.static.loc["c", "type"] = "no such type"
    report = ProblemReport()
    assert read_pypsa(n, report, links="fixed") is None
    assert "type 'no such type' is not one of PyPSA's standard line types" in str(
        report.problems[0]
    )


def test_clear_error_without_pypsa(monkeypatch):
    import sys

    from siting.core.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "pypsa", None)
    with pytest.raises(MissingDependencyError, match=r"siting\[pypsa\]"):
        read_pypsa("x.nc", ProblemReport())


# --- a plan on the PyPSA network, exported back -------------------------------------------------


@pytest.fixture(scope="module")
def pypsa_plan(tmp_path_factory):
    """test_plan's tiny region on the PyPSA network (as .nc), planned once by HiGHS."""
    d = tmp_path_factory.mktemp("pypsa_plan")
    scenario = write_region(d)
    small_network().export_to_netcdf(d / "grid.nc")
    sc = yaml.safe_load(scenario.read_text())
    sc["layers"]["grid"] = {"path": "grid.nc", "links": "fixed"}
    scenario.write_text(yaml.safe_dump(sc, sort_keys=False))
    out = d / "out"
    return siting.plan(scenario, out=out), out, scenario


def _plan_flows(out: Path, year: int) -> pd.DataFrame:
    f = pd.read_csv(out / "flows.csv", dtype={"branch_id": str})
    f = f[f["year"] == year]
    return f.pivot(index="snapshot", columns="branch_id", values="flow_mw")


def test_round_trip_pypsa_plan_export_lpf_equals_the_plans_flows(pypsa_plan, tmp_path):
    p, out, _ = pypsa_plan
    assert len(p.sites)  # the plan builds campuses on the PyPSA grid
    case = export_case(out)
    assert case.year == 2031
    n = to_pypsa(case)
    # named by siting's IDs: buses, branches, generators, the campuses' loads
    assert set(n.c.buses.static.index) == {"1", "2", "3", "4"}
    assert set(n.c.lines.static.index) == {"a", "b", "c"} and list(
        n.c.transformers.static.index
    ) == ["t"]
    assert set(p.sites.index) <= set(n.c.loads.static.index)
    assert list(n.snapshots) == SNAPS
    n.lpf()
    ours = check_plan(out).flows
    ours = ours[ours["year"] == 2031].pivot(index="snapshot", columns="branch_id", values="flow_mw")
    got = pd.concat([n.c.lines.dynamic.p0, n.c.transformers.dynamic.p0], axis=1)
    got = got.reindex(index=ours.index, columns=ours.columns)
    # the plan's flows recomputed from its tables, to 1e-6 relative
    np.testing.assert_allclose(got.to_numpy(), ours.to_numpy(), rtol=1e-6, atol=1e-9)
    # and the plan's flows.csv itself (written with 10 significant digits), to 1e-6 relative
    # (atol 1e-3 MW: the plan's flows and its dispatch agree only to the solver's primal
    # feasibility tolerance on the scaled balance rows, measured 1.6e-4 MW on a 22 MW flow;
    # the export itself matches the plan's tables to 1e-9 above)
    csv = _plan_flows(out, 2031).reindex(index=ours.index, columns=ours.columns)
    np.testing.assert_allclose(got.to_numpy(), csv.to_numpy(), rtol=1e-6, atol=1e-3)


def test_the_export_has_the_years_upgrades_in_its_ratings(pypsa_plan, tmp_path):
    """A copy of the plan with line b upgraded by 100 MW from 2031 (upgrades.csv): the
    export's s_nom of b is 360 + 100 = 460 MW in 2031 and 360 MW in 2030."""
    import shutil

    _, out, _ = pypsa_plan
    copy = tmp_path / "plan"
    shutil.copytree(out, copy)
    pd.DataFrame(
        {
            "asset": ["branch"],
            "asset_id": ["b"],
            "year": [2031],
            "added_mw": [100.0],
            "cost_usd": [2e7],
            "lead_time_years": [0],
        }
    ).to_csv(copy / "upgrades.csv", index=False)
    assert to_pypsa(export_case(copy)).c.lines.static.loc["b", "s_nom"] == pytest.approx(460.0)
    assert to_pypsa(export_case(copy, year=2030)).c.lines.static.loc["b", "s_nom"] == (
        pytest.approx(360.0)
    )


def test_pandapower_and_matpower_exports_reproduce_the_plans_flows(pypsa_plan, tmp_path):
    pp = pytest.importorskip("pandapower")
    _, out, _ = pypsa_plan
    case = export_case(out, year=2030)
    ours = check_plan(out).flows
    ours = ours[(ours["year"] == 2030) & (ours["snapshot"] == "peak")].set_index("branch_id")[
        "flow_mw"
    ]
    net = to_pandapower(case)
    pp.rundcpp(net)
    got = pd.concat(
        [
            pd.Series(net.res_line.p_from_mw.to_numpy(), index=net.line.name.to_numpy()),
            pd.Series(net.res_trafo.p_hv_mw.to_numpy(), index=net.trafo.name.to_numpy()),
        ]
    )
    np.testing.assert_allclose(got.reindex(ours.index).to_numpy(), ours.to_numpy(), rtol=1e-6)
    assert set(case.loads.index[case.loads["kind"] != "grid"]) <= set(net.load.name)
    # MATPOWER: re-read by siting's own reader, its flows are the plan's
    m = tmp_path / "case.m"
    m.write_text(to_matpower(case))
    report = ProblemReport()
    g = read_matpower(m, report)
    report.raise_if_any()
    assert g is not None
    # the reader names branches by row; the export's branch_name cell keeps siting's IDs
    g_net = dc_network(g)
    pg = case.gen_p_mw.loc["peak"]
    inj = injections_from_grid(
        g, g_net, gen_mw=pd.Series(pg.to_numpy(), index=[str(i + 1) for i in range(len(pg))])
    )
    flow = dc_flow(g_net, inj).flow_mw
    np.testing.assert_allclose(flow, ours.reindex(case.branches.index).to_numpy(), rtol=1e-6)


def test_export_cli_writes_each_format(pypsa_plan, tmp_path):
    _, out, _ = pypsa_plan
    for fmt, suffix in (("pypsa", ".nc"), ("pandapower", ".json"), ("matpower", ".m")):
        target = tmp_path / f"e{suffix}"
        res = runner.invoke(
            app, ["export", str(out), "--to", fmt, "--year", "2030", "--out", str(target)]
        )
        assert res.exit_code == 0, res.output
        assert target.is_file() and target.stat().st_size > 0
    again = runner.invoke(
        app, ["export", str(out), "--to", "matpower", "--out", str(tmp_path / "e.m")]
    )
    assert again.exit_code == 1 and "exists; pass --force" in again.output
    forced = ["export", str(out), "--to", "matpower", "--out", str(tmp_path / "e.m"), "--force"]
    assert runner.invoke(app, forced).exit_code == 0
    n = pypsa.Network(str(tmp_path / "e.nc"))
    assert list(n.snapshots) == SNAPS
    res = runner.invoke(app, ["export", str(out), "--to", "pypsa", "--year", "1999"])
    assert res.exit_code == 1 and "1999 is not a planning year" in res.output
    res = runner.invoke(app, ["export", str(out), "--to", "matpower", "--out", str(out / "x.m")])
    assert res.exit_code == 1 and "inside the plan folder" in res.output
    assert not (out / "x.m").exists()
    # a name too long for the file system, and a folder, are refused by name (no traceback)
    for bad in (tmp_path / ("a" * 300 + ".m"), tmp_path):
        res = runner.invoke(app, ["export", str(out), "--to", "matpower", "--out", str(bad)])
        assert res.exit_code == 1 and "output refused" in res.output, res.output
        assert "internal error" not in res.output
    grid_file = out.parent / "grid.nc"
    before = grid_file.read_bytes()
    res = runner.invoke(
        app, ["export", str(out), "--to", "pypsa", "--out", str(grid_file), "--force"]
    )
    assert res.exit_code == 1 and "is an input" in res.output
    assert grid_file.read_bytes() == before
    res = runner.invoke(app, ["export", str(out), "--to", "matpower", "--snapshot", "noon"])
    assert res.exit_code == 1 and "snapshot 'noon' is not one of the plan's" in res.output


def test_export_year_must_be_a_planning_year(pypsa_plan):
    _, out, _ = pypsa_plan
    with pytest.raises(InputError, match="not a planning year"):
        export_case(out, year=2040)


def test_grid_check_ac_is_a_screening_labelled_apart_from_the_dc_plan(pypsa_plan):
    pytest.importorskip("pandapower")
    _, out, _ = pypsa_plan
    dc_only = runner.invoke(app, ["grid", "check", str(out)])
    res = runner.invoke(app, ["grid", "check", str(out), "--ac"])
    assert res.exit_code == dc_only.exit_code, res.output  # the screening never sets it
    assert "AC screening" in res.stdout and "not part of the DC plan" in res.stdout
    res = runner.invoke(app, ["grid", "check", str(out), "--ac", "--json"])
    data = json.loads(res.stdout)
    ac = data["ac_screening"]
    assert ac["label"].endswith("not part of the DC plan") and ac["snapshot"] == "peak"
    assert ac["year"] == 2031
    if ac["converged"]:
        # lines carry r: an AC flow has losses the DC plan does not (line a: r = 1 Ohm)
        assert ac["losses_mw"] > 0
        for v in ac["voltage_violations"]:
            assert not 0.95 <= v["vm_pu"] <= 1.05


def test_a_csv_folder_reads_like_the_network_and_auto_detects(tmp_path):
    from siting.config.scenario import GridLayers
    from siting.inputs.grids.layer import grid_format, read_grid

    n = small_network()
    n.export_to_csv_folder(str(tmp_path / "net"))
    assert grid_format(tmp_path / "net") == "pypsa"
    assert grid_format(tmp_path / "grid.nc") == "pypsa"
    report = ProblemReport()
    g = read_grid(GridLayers(path=tmp_path / "net", links="fixed"), report)
    report.raise_if_any()
    assert g is not None and g.source_format == "pypsa"
    ref, _ = _read(n, links="fixed")
    cols = ["from_bus", "to_bus", "x_pu", "tap_ratio", "shift_deg", "rating_mw"]
    pd.testing.assert_frame_equal(
        pd.DataFrame(g.branches[cols]),
        pd.DataFrame(ref.branches[cols]),
        check_exact=False,
        rtol=1e-12,
    )
    # a folder that is not a PyPSA export is named
    (tmp_path / "empty").mkdir()
    report = ProblemReport()
    assert read_grid(GridLayers(path=tmp_path / "empty", format="pypsa"), report) is None
    assert "without buses.csv" in str(report.problems[0])


def test_campus_loads_split_firm_and_flexible_and_onsite_supply_is_a_generator():
    """A campus of 60 MW firm and 40 MW flexible IT with a peak draw of 120 MW (typical 100):
    firm load 120 x 0.6 = 72 MW, flexible 120 x 0.4 = 48 MW less 10 MW curtailed = 38 MW at the
    peak; typical: 60 and 40 MW. On-site gas of 5 MW at the peak is generator 'S:onsite_gas'."""
    from siting.grid_ops.check import _layout
    from siting.grid_ops.export import _campus_loads

    lay = _layout(
        [2030],
        pd.DataFrame({"load_factor": [1.0, 0.7], "peak": [True, False]}, index=["peak", "year"]),
    )
    schedule = pd.DataFrame(
        {
            "site_id": ["S"],
            "year": [2030],
            "bus_id": ["2"],
            "peak_draw_mw": [120.0],
            "typical_draw_mw": [100.0],
            "firm_it_mw": [60.0],
            "flexible_it_mw": [40.0],
        }
    )
    relief = pd.DataFrame(
        {
            "site_id": ["S", "S"],
            "bus_id": ["2", "2"],
            "year": [2030, 2030],
            "snapshot": ["peak", "peak"],
            "source": ["curtailment", "onsite_gas"],
            "relief_mw": [10.0, 5.0],
        }
    )
    loads, load_p, onsite, onsite_p = _campus_loads(schedule, relief, 2030, lay, Path("x"))
    assert list(loads.index) == ["S", "S:flexible"]
    assert load_p.loc["peak"].to_dict() == pytest.approx({"S": 72.0, "S:flexible": 38.0})
    assert load_p.loc["year"].to_dict() == pytest.approx({"S": 60.0, "S:flexible": 40.0})
    assert list(onsite.index) == ["S:onsite_gas"] and onsite.loc["S:onsite_gas", "bus_id"] == "2"
    assert (
        onsite_p.loc["peak", "S:onsite_gas"] == 5.0 and onsite_p.loc["year", "S:onsite_gas"] == 0.0
    )


def test_a_scenario_on_a_csv_folder_grid_loads_and_hashes_each_file(tmp_path):
    from siting.config.scenario import load_scenario
    from siting.core.provenance import hash_inputs
    from siting.inputs import input_paths, load_layers

    scenario = write_region(tmp_path)
    small_network().export_to_csv_folder(str(tmp_path / "net"))
    sc = yaml.safe_load(scenario.read_text())
    sc["layers"]["grid"] = {"path": "net", "links": "fixed"}
    scenario.write_text(yaml.safe_dump(sc, sort_keys=False))
    s = load_scenario(scenario)
    layers = load_layers(s)
    assert layers.grid is not None and set(layers.grid.branches.index) == {"a", "b", "c", "t"}
    hashed = {Path(f.path).name for f in hash_inputs(input_paths(s))}
    assert {"buses.csv", "lines.csv", "transformers.csv"} <= hashed
