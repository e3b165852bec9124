"""``siting plan`` end to end on a tiny region written as real files (GeoPackage, YAML).

The region is a 60 km x 20 km strip in UTM 14N. Three buses in a row: bus 1 (a 2 GW
generator at 20 USD/MWh) in the west, bus 2 in the middle, bus 3 in the east. Line 1-2 is
rated 1,000 MW, line 2-3 160 MW; the grid is radial, so line 2-3 carries what bus 3 draws
and line 1-2 what buses 2 and 3 draw together. Two user sites: S2 beside bus 2 with a
reclaimed-water plant, a 200 M USD opening cost and room for 100 MW; S3 beside bus 3 with
no water and the default opening cost (25 M USD). No climate rasters: the reference
climate, where every technology's peak PUE is above 1.1 (siting.candidates.cooling), so 150 MW of IT
draws more than 160 MW and 100 MW less.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml
from shapely.geometry import LineString, Point, box
from typer.testing import CliRunner

import siting
from siting.cli import app
from siting.model.data import replaced
from siting.results.verify import verify

CRS = "EPSG:32614"
KM = 1000.0
X0, Y0 = 500 * KM, 3500 * KM


def at(x_km: float, y_km: float) -> Point:
    return Point(X0 + x_km * KM, Y0 + y_km * KM)


def write_region(d: Path, *, rating_23_mw: float = 160.0) -> Path:
    gpkg = d / "tiny.gpkg"
    gpd.GeoDataFrame(
        {"name": ["strip"]}, geometry=[box(X0, Y0, X0 + 60 * KM, Y0 + 20 * KM)], crs=CRS
    ).to_file(gpkg, layer="boundary")
    gpd.GeoDataFrame(
        {
            "bus_id": ["1", "2", "3"],
            "voltage_kv": [345.0] * 3,
            "load_mw": [0.0, 0.0, 0.0],
            "bus_type": [3, 1, 1],
        },
        geometry=[at(5, 10), at(30, 10), at(55, 10)],
        crs=CRS,
    ).to_file(gpkg, layer="buses")
    gpd.GeoDataFrame(
        {
            "branch_id": ["a", "b"],
            "from_bus": ["1", "2"],
            "to_bus": ["2", "3"],
            "x_pu": [0.01, 0.01],
            "rating_mw": [1000.0, rating_23_mw],
        },
        geometry=[LineString([at(5, 10), at(30, 10)]), LineString([at(30, 10), at(55, 10)])],
        crs=CRS,
    ).to_file(gpkg, layer="branches")
    gpd.GeoDataFrame(
        {
            "gen_id": ["g1"],
            "bus_id": ["1"],
            "p_max_mw": [2000.0],
            "marginal_cost_usd_per_mwh": [20.0],
        },
        geometry=[at(5, 10)],
        crs=CRS,
    ).to_file(gpkg, layer="generators")
    gpd.GeoDataFrame(
        {
            "source_id": ["W2"],
            "name": ["<b>Middle</b> plant"],
            "kind": ["reclaimed"],
            "capacity_m3_per_day": [50_000.0],
            "cost_usd_per_m3": [0.5],
            "max_pipeline_km": [10.0],
        },
        geometry=[at(32, 10)],
        crs=CRS,
    ).to_file(gpkg, layer="water_sources")
    gpd.GeoDataFrame(
        {
            "site_id": ["S2", "S3"],
            "name": ["middle", "east"],
            "area_ha": [500.0, 500.0],
            "fixed_cost_usd": [200e6, None],
            "max_it_mw": [100.0, None],
        },
        geometry=[at(31, 11), at(54, 11)],
        crs=CRS,
    ).to_file(gpkg, layer="sites")
    scenario = {
        "name": "tiny",
        "crs": CRS,
        "years": [2030, 2031],
        "layers": {
            "grid": {"path": "tiny.gpkg"},
            "water_sources": {"path": "tiny.gpkg"},
            "boundary": {"path": "tiny.gpkg"},
            "sites": {"path": "tiny.gpkg"},
        },
        "campus": {"module_mw": 50, "min_campus_mw": 100, "max_campus_mw": 500},
        "targets": {"it_mw_by_year": {2030: 100, 2031: 200}},
        "grid": {
            "snapshots": [
                {"name": "peak", "load_factor": 1.0, "hours": 0, "peak": True},
                {"name": "year", "load_factor": 1.0, "hours": 8760},
            ]
        },
        "solver": {"time_limit_s": 60, "mip_gap": 0.0},
    }
    path = d / "tiny.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def tiny_plan(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    scenario = write_region(d)
    out = d / "out"
    return siting.plan(scenario, out=out), out, scenario


def _it(p, site: str, year: int) -> float:
    s = p.schedule[(p.schedule["site_id"] == site) & (p.schedule["year"] == year)]
    return float(s["it_mw"].sum())


def test_the_cheap_site_wins_until_its_line_saturates(tiny_plan):
    p, _, _ = tiny_plan
    # 2030: 100 MW at S3 (cheaper to open). 2031: S3 cannot grow to 150 MW (peak draw above
    # line 2-3's 160 MW), so the dear S2 opens with its 100 MW minimum.
    assert (_it(p, "S3", 2030), _it(p, "S3", 2031)) == (100.0, 100.0)
    assert (_it(p, "S2", 2030), _it(p, "S2", 2031)) == (0.0, 100.0)
    assert p.flows.set_index(["branch_id", "year"]).loc[("b", 2031), "loading_pct"] <= 100.0


def test_without_the_line_limit_one_site_takes_everything(tmp_path):
    p = siting.plan(write_region(tmp_path, rating_23_mw=1000.0), write=False)
    assert (_it(p, "S3", 2030), _it(p, "S3", 2031)) == (100.0, 200.0)
    assert "S2" not in set(p.schedule["site_id"])


def test_outputs_exist_and_are_complete(tiny_plan):
    p, out, _ = tiny_plan
    for f in (
        "plan.gpkg",
        "schedule.csv",
        "flows.csv",
        "dispatch.csv",
        "upgrades.csv",
        "manifest.json",
    ):
        assert (out / f).is_file(), f
    layers = set(gpd.list_layers(out / "plan.gpkg")["name"])
    assert {"sites", "candidates", "buses", "branches", "water_links"} <= layers
    sched = pd.read_csv(out / "schedule.csv")
    for col in (
        "site_id",
        "year",
        "it_mw",
        "new_it_mw",
        "peak_draw_mw",
        "cooling",
        "bus_id",
        "water_m3_per_day",
    ):
        assert col in sched.columns, col
    flows = pd.read_csv(out / "flows.csv")
    assert list(flows.columns[:8]) == [
        "branch_id",
        "from_bus",
        "to_bus",
        "year",
        "snapshot",
        "flow_mw",
        "rating_mw",
        "loading_pct",
    ]
    # two branches x two years x two snapshots (peak, year): every snapshot, not the peak only
    assert len(flows) == 2 * 2 * 2
    assert sorted(set(flows["snapshot"])) == ["peak", "year"]
    assert not flows.duplicated(["branch_id", "year", "snapshot"]).any()
    disp = pd.read_csv(out / "dispatch.csv")
    assert {"gen_id", "bus_id", "year", "p_mw"} <= set(disp.columns)
    man = json.loads((out / "manifest.json").read_text())
    roles = {i["role"] for i in man["inputs"]}
    assert {"scenario", "grid", "water_sources", "sites"} <= roles
    assert all(len(i["sha256"]) == 64 for i in man["inputs"])
    assert man["scenario_as_run"]["name"] == "tiny"
    assert man["status"] in ("optimal", "feasible")
    assert {"pyomo", "highspy", "siting"} <= set(man["versions"])
    assert man["solver"]["version"]
    assert all(c["ok"] for c in man["verification"])


def test_demand_is_met_and_flows_match_a_hand_count(tiny_plan):
    p, _, _ = tiny_plan
    # radial grid: line a (1-2) carries every campus MW; line b (2-3) what bus 3 draws
    f = p.flows.set_index(["branch_id", "year"])
    for y in (2030, 2031):
        s = p.schedule[p.schedule["year"] == y]
        total = s["peak_draw_mw"].sum()
        east = s.loc[s["bus_id"] == "3", "peak_draw_mw"].sum()
        assert f.loc[("a", y), "flow_mw"] == pytest.approx(total, abs=1e-6)
        assert f.loc[("b", y), "flow_mw"] == pytest.approx(east, abs=1e-6)
    # and the generator at bus 1 supplies exactly the campus draw at peak
    d = p.dispatch[p.dispatch["snapshot"] == "peak"].groupby("year")["p_mw"].sum()
    assert d.to_dict() == pytest.approx(p.schedule.groupby("year")["peak_draw_mw"].sum().to_dict())


def test_verification_catches_a_tampered_plan(tiny_plan, tmp_path):
    from siting.candidates.cooling import cooling_table
    from siting.candidates.generate import build_candidates
    from siting.config.scenario import load_scenario
    from siting.inputs import load_layers
    from siting.model import model_data
    from siting.results.verify import VerificationError

    p, _, scenario = tiny_plan
    sc = load_scenario(scenario)
    layers = load_layers(sc)
    c = build_candidates(sc, layers)
    cols = ["dry_bulb_mean_c", "dry_bulb_p99_c", "wet_bulb_mean_c", "wet_bulb_p99_c"]
    d = model_data(sc, layers, c, cooling_table(c.sites[cols]))
    assert all(ch.ok for ch in verify(p, d, layers))
    # one more module in the last year: flows no longer match the dispatch (imbalance)
    bad = p.schedule.copy()
    last = bad["year"] == bad["year"].max()
    i = bad.index[last][0]
    bad.loc[i, "it_mw"] += 50.0
    bad.loc[i, "peak_draw_mw"] += 50.0
    import dataclasses

    tampered = dataclasses.replace(p, schedule=bad)
    with pytest.raises(VerificationError) as e:
        verify(tampered, d, layers)
    assert "power balanced" in str(e.value) or "peak draw" in str(e.value)
    # a target the plan does not meet
    d2 = replaced(d, policy={"targets_mw": d.policy.targets_mw + 50.0})
    checks = verify(p, d2, layers, raise_on_failure=False)
    failed = {ch.name for ch in checks if not ch.ok}
    assert failed == {"national IT targets met"}


def test_cli_plan_writes_and_exits_0(tmp_path):
    scenario = write_region(tmp_path)
    out = tmp_path / "cli-out"
    r = CliRunner().invoke(app, ["plan", str(scenario), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["status"] in ("optimal", "feasible")
    assert {s["site_id"] for s in data["sites"]} <= {"S2", "S3"}
    assert (out / "manifest.json").is_file()


def test_cli_infeasible_scenario_exits_2_and_says_why(tmp_path):
    scenario = write_region(tmp_path)
    text = yaml.safe_load(scenario.read_text())
    text["targets"]["it_mw_by_year"] = {2030: 100, 2031: 2000}  # more than both sites hold
    scenario.write_text(yaml.safe_dump(text))
    out = tmp_path / "never"
    r = CliRunner().invoke(app, ["plan", str(scenario), "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert "infeasible" in r.output
    assert "national IT target not met" in r.output and "year 2031" in r.output
    assert not out.exists()


def test_cli_bad_input_exits_1_naming_the_field(tmp_path):
    scenario = write_region(tmp_path)
    text = yaml.safe_load(scenario.read_text())
    text["campus"]["modul_mw"] = 50
    scenario.write_text(yaml.safe_dump(text))
    r = CliRunner().invoke(app, ["plan", str(scenario)])
    assert r.exit_code == 1
    assert "campus.modul_mw" in r.output and "module_mw" in r.output


def test_cli_candidates_writes_the_screened_candidates(tmp_path):
    scenario = write_region(tmp_path)
    dest = tmp_path / "c.gpkg"
    r = CliRunner().invoke(app, ["candidates", str(scenario), "-o", str(dest)])
    assert r.exit_code == 0, r.output
    c = gpd.read_file(dest, layer="candidates")
    assert set(c["site_id"]) == {"S2", "S3"}
    assert "max_bus_distance_km" in r.output


def test_a_failed_write_leaves_the_previous_plan_whole(tiny_plan, tmp_path, monkeypatch):
    from siting.results.plan import Plan

    p, _, _ = tiny_plan
    out = tmp_path / "plan"
    p.write(out)
    before = {f.name: f.read_bytes() for f in out.iterdir()}

    def broken(self, d, **_kw):
        (d / "schedule.csv").write_text("half")
        raise OSError("disk full")

    monkeypatch.setattr(Plan, "_write_files", broken)
    with pytest.raises(OSError):
        p.write(out)
    after = {f.name: f.read_bytes() for f in out.iterdir()}
    assert after == before
    leftovers = [f for f in os.listdir(tmp_path) if f.startswith(".")]
    assert leftovers == []


def test_python_api_and_cli_give_the_same_plan(tiny_plan, tmp_path):
    p, _, scenario = tiny_plan
    out = tmp_path / "again"
    r = CliRunner().invoke(app, ["plan", str(scenario), "--out", str(out)])
    assert r.exit_code == 0, r.output
    cli_sched = pd.read_csv(out / "schedule.csv")
    api = p.schedule.reset_index(drop=True)
    assert cli_sched["site_id"].tolist() == api["site_id"].tolist()
    assert np.allclose(cli_sched["it_mw"], api["it_mw"])


def test_replay_shows_what_the_grid_changed(tiny_plan, tmp_path):
    from siting.pipeline import replay

    p, _, scenario = tiny_plan
    # the plan replayed on its own scenario costs what the plan cost
    same = replay(scenario, p.schedule)
    assert same.status == "optimal"
    assert same.objective_usd == pytest.approx(p.solve.objective, rel=1e-6)
    # a plan made without the line limit (S3 grows to 200 MW) cannot run on the real grid:
    # 200 MW IT at S3 draws more than line 2-3's 160 MW at peak
    loose = siting.plan(write_region(tmp_path, rating_23_mw=1000.0), write=False)
    r = replay(scenario, loose.schedule)
    assert r.status == "infeasible"
    assert {v["requirement"] for v in r.violations} == {"branch flow above its rating"}
    assert all(v["where"].startswith("branch b, year 2031") for v in r.violations)


def write_region_without_grid(d: Path) -> Path:
    """The tiny region's scenario with no `layers.grid` (sites, boundary, water sources)."""
    path = write_region(d)
    scenario = yaml.safe_load(path.read_text())
    del scenario["layers"]["grid"]
    scenario["name"] = "tiny-no-grid"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return path


def test_a_scenario_without_a_grid_plans_with_energy_at_the_flat_price(tmp_path):
    from siting.config.scenario import load_scenario
    from siting.model.data import HOURS_PER_YEAR, discounting

    scenario = write_region_without_grid(tmp_path)
    sc = load_scenario(scenario)
    assert sc.layers.grid is None and sc.grid.enabled  # enabled, but there is nothing to model
    out = tmp_path / "out"
    p = siting.plan(scenario, out=out, write=True)

    # the targets are met, with no bus and no network
    assert p.it_mw_by_year().to_dict() == {2030: 100.0, 2031: 200.0}
    assert set(p.schedule["bus_id"]) == {""}
    assert p.buses is None and p.branches is None
    assert p.flows.empty and p.dispatch.empty
    assert all(c.ok for c in p.checks)

    # outputs: no grid layers; flows and dispatch with their headers only
    for f in ("plan.gpkg", "schedule.csv", "flows.csv", "dispatch.csv", "manifest.json"):
        assert (out / f).is_file(), f
    layers = set(gpd.list_layers(out / "plan.gpkg")["name"])
    assert {"sites", "candidates", "water_links"} <= layers
    assert not {"buses", "branches"} & layers
    flows_lines = (out / "flows.csv").read_text().splitlines()
    assert len(flows_lines) == 1 and flows_lines[0].startswith("branch_id,from_bus,to_bus,year")
    dispatch_lines = (out / "dispatch.csv").read_text().splitlines()
    assert dispatch_lines == ["gen_id,bus_id,year,snapshot,p_mw"]

    # the manifest says the grid is off, and why
    man = json.loads((out / "manifest.json").read_text())
    assert man["grid_enabled"] is False
    assert man["grid_baseline_dispatch_usd"] == 0.0
    assert "grid" not in {i["role"] for i in man["inputs"]}
    assert any(n.startswith("no grid layer") for n in man["notes"])
    rules = {r["rule"]: r["removed"] for r in man["candidates"]["screening"]}
    assert rules["max_bus_distance_km"] == 0

    # energy = price x 8760 h x utilisation x IT MW x annual PUE, discounted per period
    _, op_weight, _ = discounting(sc.years, sc.costs.discount_rate, sc.costs.final_period_years)
    weight = dict(zip(sc.years, op_weight, strict=True))
    pue = p.schedule["site_id"].map(p.sites["pue_annual"]).to_numpy()
    mwh = HOURS_PER_YEAR * sc.grid.campus_utilisation * p.schedule["it_mw"].to_numpy() * pue
    expected = float(
        np.sum(sc.costs.energy_usd_per_mwh * mwh * p.schedule["year"].map(weight).to_numpy())
    )
    assert expected > 0
    assert p.costs_usd["energy"] == pytest.approx(expected, rel=1e-9)


def test_validate_a_scenario_without_a_grid_says_there_is_none(tmp_path):
    scenario = write_region_without_grid(tmp_path)
    r = CliRunner().invoke(app, ["validate", str(scenario)])
    assert r.exit_code == 0, r.output
    assert "grid: none (no network constraints)" in r.output
    assert "valid" in r.output
    r = CliRunner().invoke(app, ["validate", str(scenario), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["grid"] is None
    assert "grid" not in {i["role"] for i in data["inputs"]}


def test_without_boundary_or_grid_the_sites_give_the_region_and_crs(tmp_path):
    from siting.config.scenario import load_scenario
    from siting.core.errors import InputError
    from siting.inputs import load_layers

    scenario = write_region_without_grid(tmp_path)
    text = yaml.safe_load(scenario.read_text())
    del text["layers"]["boundary"], text["crs"]
    scenario.write_text(yaml.safe_dump(text))
    layers = load_layers(load_scenario(scenario))
    assert layers.crs.to_epsg() == 32614  # the UTM zone of the sites and water sources
    # the bounding box of S2 (31, 11), S3 (54, 11) and W2 (32, 10) [km]
    assert layers.region.bounds == pytest.approx(
        (X0 + 31 * KM, Y0 + 10 * KM, X0 + 54 * KM, Y0 + 11 * KM)
    )
    assert any("sites and water_sources layers" in n for n in layers.notes)
    # with no boundary, grid or sites, nothing gives an extent: the error says what is missing
    del text["layers"]["sites"]
    scenario.write_text(yaml.safe_dump(text))
    with pytest.raises(InputError) as e:
        load_layers(load_scenario(scenario))
    msg = str(e.value)
    assert "no CRS could be chosen" in msg
    assert "`layers.boundary`, `layers.grid` or `layers.sites`" in msg


def test_a_latency_limited_demand_region_opens_a_second_campus(tmp_path):
    # Line 2-3 rated 1,000 MW: alone, S3 would take all 200 MW in 2031 (see above). A demand
    # region "west" at (28, 11) km wants 50 MW in 2031 within 0.3 ms round trip:
    # reach = 0.3 ms * 200 km/ms / 2 / 1.5 = 20 km, so only S2 (3 km away) can serve it,
    # not S3 (26 km). S2 must open (its minimum is 100 MW): 2031 = S2 100 + S3 100.
    scenario = write_region(tmp_path, rating_23_mw=1000.0)
    gpd.GeoDataFrame(
        {"region_id": ["west"], "demand_mw": [0.0], "demand_mw_2031": [50.0]},
        geometry=[at(28, 11)],
        crs=CRS,
    ).to_file(tmp_path / "tiny.gpkg", layer="demand_regions")
    text = yaml.safe_load(scenario.read_text())
    text["layers"]["demand_regions"] = {"path": "tiny.gpkg"}
    text["policy"] = {"demand": {"max_latency_ms": 0.3}}
    scenario.write_text(yaml.safe_dump(text))
    p = siting.plan(scenario, write=False)
    assert (_it(p, "S2", 2030), _it(p, "S2", 2031)) == (0.0, 100.0)
    assert (_it(p, "S3", 2030), _it(p, "S3", 2031)) == (100.0, 100.0)
    assert all(c.ok for c in p.checks)


def test_heat_sinks_and_demand_regions_plan_without_a_pyomo_warning(tmp_path, caplog):
    """Issue 20: a heat-sinks layer made Pyomo warn "Implicitly replacing the Component
    attribute heat_value_npv" (the expression was added twice); the same was reported for
    ``demand_cost_npv`` with demand regions. Planning a scenario with both layers logs no
    Pyomo record at WARNING or above and raises no Python warning from Pyomo."""
    import logging
    import warnings

    from siting.pipeline import prepare

    scenario = write_region(tmp_path, rating_23_mw=1000.0)
    gpd.GeoDataFrame(
        {"region_id": ["west"], "demand_mw": [0.0], "demand_mw_2031": [50.0]},
        geometry=[at(28, 11)],
        crs=CRS,
    ).to_file(tmp_path / "tiny.gpkg", layer="demand_regions")
    # a heat sink 1 km north of S3 (54, 11) km, within its 5 km reach: one heat link
    gpd.GeoDataFrame(
        {"sink_id": ["H1"], "demand_mw": [20.0], "price_usd_per_mwh": [15.0], "max_km": [5.0]},
        geometry=[at(54, 12)],
        crs=CRS,
    ).to_file(tmp_path / "tiny.gpkg", layer="heat_sinks")
    text = yaml.safe_load(scenario.read_text())
    text["layers"]["demand_regions"] = {"path": "tiny.gpkg"}
    text["layers"]["heat_sinks"] = {"path": "tiny.gpkg"}
    text["policy"] = {"demand": {"max_latency_ms": 0.3}}
    scenario.write_text(yaml.safe_dump(text))
    caplog.set_level(logging.WARNING, logger="pyomo")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = siting.plan(scenario, write=False)
    assert p.solve.status == "optimal"
    # both families were in the model: one heat link (H1 - S3) and one demand region
    data = prepare(scenario).data
    assert len(data.policy.heat_links) == 1 and list(data.policy.demand_mw.index) == ["west"]
    pyomo_logs = [r.getMessage() for r in caplog.records if r.name.startswith("pyomo")]
    assert pyomo_logs == []
    assert [str(w.message) for w in caught if "pyomo" in w.filename] == []
