"""Tests of ``siting grid check`` (siting.grid_ops.check, siting.cli.grid_check).

- a 3-bus triangle plan folder written by hand (GeoPackage grid, scenario, manifest,
  schedule, dispatch, flows, upgrades), its N-0 and N-1 flows worked out by hand;
- a plan of test_plan's tiny region, solved once by HiGHS, checks clean and its
  recomputed flows equal the plan's; under a derated grid (``--scenario``) or with a
  tampered dispatch it reports the violation and exits 2;
- a plan made with N-1 and upgrades checks clean, and fails without its upgrades.csv;
- bad plan folders (missing files, moved inputs, no grid, a bad upgrades.csv) give a
  clear error and exit 1.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import yaml
from shapely.geometry import LineString, Point
from test_plan import write_region
from typer.testing import CliRunner

import siting
from siting.cli import app
from siting.config.scenario import load_scenario
from siting.core.provenance import file_sha256
from siting.grid_ops.check import check_plan

runner = CliRunner()
CRS = "EPSG:32614"
KM = 1000.0


def _pt(x_km: float, y_km: float) -> Point:
    return Point(500 * KM + x_km * KM, 3500 * KM + y_km * KM)


def write_triangle_plan(d: Path) -> Path:
    """A hand-made plan folder on a 3-bus triangle; returns the folder.

    Buses 1 (reference, generator g1), 2 (base load 120 MW at peak), 3 (campus S3:
    peak draw 180 MW, typical 150 MW; substation headroom 150 MW). Branches 12 (1-2),
    13 (1-3), 23 (2-3), all x = 0.01 pu: ratings 200, 200, 150 MW; emergency 250,
    320 and (empty =) 150 MW. Snapshots ``peak`` (load factor 1) and ``year`` (0.5).
    Upgrades: branch 12 +60 MW and substation 3 +50 MW, both from 2031.

    Flows by hand (equal reactances: a transfer from bus i to bus j sends 2/3 over the
    direct branch and 1/3 round the other two):

    - peak: g1 = 300 MW. 120 MW 1->2: f12 +80, f13 +40, f23 -40; 180 MW 1->3: f13 +120,
      f12 +60, f23 +60. So f12 = 140, f13 = 160, f23 = 20 MW.
    - year: g1 = 0.5 x 120 + 150 = 210 MW. 60 MW 1->2: f12 +40, f13 +20, f23 -20; 150 MW
      1->3: f13 +100, f12 +50, f23 +50. So f12 = 90, f13 = 120, f23 = 30 MW.
    """
    d.mkdir(parents=True, exist_ok=True)
    gpkg = d / "tri.gpkg"
    p1, p2, p3 = _pt(0, 0), _pt(30, 0), _pt(15, 20)
    gpd.GeoDataFrame(
        {
            "bus_id": ["1", "2", "3"],
            "voltage_kv": [345.0] * 3,
            "load_mw": [0.0, 120.0, 0.0],
            "bus_type": [3, 1, 1],
            "substation_headroom_mw": [None, None, 150.0],
        },
        geometry=[p1, p2, p3],
        crs=CRS,
    ).to_file(gpkg, layer="buses")
    gpd.GeoDataFrame(
        {
            "branch_id": ["12", "13", "23"],
            "from_bus": ["1", "1", "2"],
            "to_bus": ["2", "3", "3"],
            "x_pu": [0.01, 0.01, 0.01],
            "rating_mw": [200.0, 200.0, 150.0],
            "rating_emergency_mw": [250.0, 320.0, None],
        },
        geometry=[LineString([p1, p2]), LineString([p1, p3]), LineString([p2, p3])],
        crs=CRS,
    ).to_file(gpkg, layer="branches")
    gpd.GeoDataFrame(
        {"gen_id": ["g1"], "bus_id": ["1"], "p_max_mw": [400.0], "marginal_cost_usd_per_mwh": [20]},
        geometry=[p1],
        crs=CRS,
    ).to_file(gpkg, layer="generators")
    scenario = {
        "name": "tri",
        "crs": CRS,
        "years": [2030, 2031],
        "layers": {"grid": {"path": "tri.gpkg"}},
        "grid": {
            "snapshots": [
                {"name": "peak", "load_factor": 1.0, "hours": 0, "peak": True},
                {"name": "year", "load_factor": 0.5, "hours": 8760},
            ]
        },
    }
    sc_path = d / "tri.yaml"
    sc_path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    plan = d / "plan"
    plan.mkdir()
    manifest = {
        "siting_manifest": 1,
        "scenario": "tri",
        "scenario_as_run": load_scenario(sc_path).model_dump(mode="json"),
        "grid_enabled": True,
        "inputs": [{"role": "grid", "path": str(gpkg.resolve()), "sha256": file_sha256(gpkg)}],
    }
    (plan / "manifest.json").write_text(json.dumps(manifest, indent=2))
    pd.DataFrame(
        {
            "site_id": ["S3", "S3"],
            "year": [2030, 2031],
            "it_mw": [150.0, 150.0],
            "new_it_mw": [150.0, 0.0],
            "peak_draw_mw": [180.0, 180.0],
            "typical_draw_mw": [150.0, 150.0],
            "cooling": ["air", "air"],
            "bus_id": ["3", "3"],
            "water_m3_per_day": [0.0, 0.0],
        }
    ).to_csv(plan / "schedule.csv", index=False)
    pd.DataFrame(
        {
            "gen_id": ["g1"] * 4,
            "bus_id": ["1"] * 4,
            "year": [2030, 2030, 2031, 2031],
            "snapshot": ["peak", "year"] * 2,
            "p_mw": [300.0, 210.0, 300.0, 210.0],
        }
    ).to_csv(plan / "dispatch.csv", index=False)
    pd.DataFrame(
        {
            "branch_id": ["12", "13", "23"] * 2,
            "from_bus": ["1", "1", "2"] * 2,
            "to_bus": ["2", "3", "3"] * 2,
            "year": [2030] * 3 + [2031] * 3,
            "flow_mw": [140.0, 160.0, 20.0] * 2,
            "rating_mw": [200.0, 200.0, 150.0, 260.0, 200.0, 150.0],
            "loading_pct": [70.0, 80.0, 20 / 1.5, 140 / 2.6, 80.0, 20 / 1.5],
        }
    ).to_csv(plan / "flows.csv", index=False)
    pd.DataFrame(
        {
            "asset": ["branch", "substation"],
            "asset_id": ["12", "3"],
            "year": [2031, 2031],
            "added_mw": [60.0, 50.0],
            "cost_usd": [30e6, 20e6],
            "lead_time_years": [3, 2],
        }
    ).to_csv(plan / "upgrades.csv", index=False)
    return plan


@pytest.fixture
def triangle_plan(tmp_path: Path) -> Path:
    return write_triangle_plan(tmp_path / "tri")


def _pairs(n_1: pd.DataFrame, year: int) -> dict[tuple[str, str], pd.Series]:
    return {(r.branch_id, r.outage_id): r for r in n_1[n_1["year"] == year].itertuples()}


def test_three_bus_n1_equals_the_hand_calculation(triangle_plan):
    r = check_plan(triangle_plan)
    f = r.flows.set_index(["year", "snapshot", "branch_id"])["flow_mw"]
    for y in (2030, 2031):
        # N-0 by hand (see write_triangle_plan)
        for b, v in {"12": 140.0, "13": 160.0, "23": 20.0}.items():
            assert f[(y, "peak", b)] == pytest.approx(v, abs=1e-6)
        for b, v in {"12": 90.0, "13": 120.0, "23": 30.0}.items():
            assert f[(y, "year", b)] == pytest.approx(v, abs=1e-6)
    # the plan's flows.csv holds the same peak flows
    assert r.years["plan_flow_max_diff_mw"].max() == pytest.approx(0.0, abs=1e-6)
    # ratings with upgrades: branch 12 gains 60 MW (normal and emergency) from 2031
    rat = r.flows.set_index(["year", "snapshot", "branch_id"])
    assert rat.loc[(2030, "peak", "12"), "rating_mw"] == 200.0
    assert rat.loc[(2031, "peak", "12"), "rating_mw"] == 260.0
    assert rat.loc[(2031, "peak", "12"), "rating_emergency_mw"] == 310.0
    assert rat.loc[(2030, "peak", "23"), "rating_emergency_mw"] == 150.0  # empty = rating
    assert rat.loc[(2031, "peak", "12"), "loading_pct"] == pytest.approx(100 * 140 / 260)

    # N-1 at the peak by hand: the tripped branch's flow goes round the other two.
    # out 12 (140 MW): f13 = 160 + 140 = 300, f23 = 20 - 140 = -120
    # out 13 (160 MW): f12 = 140 + 160 = 300, f23 = 20 + 160 = 180
    # out 23 (20 MW):  f12 = 140 - 20 = 120,  f13 = 160 + 20 = 180
    post = {
        ("13", "12"): 300.0,
        ("23", "12"): -120.0,
        ("12", "13"): 300.0,
        ("23", "13"): 180.0,
        ("12", "23"): 120.0,
        ("13", "23"): 180.0,
    }
    emergency = {2030: {"12": 250.0, "13": 320.0, "23": 150.0}}
    emergency[2031] = {**emergency[2030], "12": 310.0}
    assert r.skipped_outages == [] and r.outages_studied == 3
    assert r.n1_snapshots == ["peak"]
    for y in (2030, 2031):
        got = _pairs(r.n_1, y)
        assert set(got) == set(post)  # 6 pairs, all kept with --top 10
        for (b, k), v in post.items():
            assert got[(b, k)].post_flow_mw == pytest.approx(v, abs=1e-6)
            assert got[(b, k)].snapshot == "peak"
            assert got[(b, k)].loading_pct == pytest.approx(
                100 * abs(v) / emergency[y][b], abs=1e-6
            )
    # worst first: 2030 12|13 at 300/250 = 120 % (tie with 23|13 at 180/150 = 120 %)
    first = r.n_1[r.n_1["year"] == 2030].iloc[0]
    assert first.loading_pct == pytest.approx(120.0)
    assert r.years.set_index("year").loc[2031, "n1_max_loading_pct"] == pytest.approx(120.0)

    # violations: 2030 N-1 12|13 (+50) and 23|13 (+30), substation 3 (180 vs 150: +30);
    # 2031 only 23|13 (+30): the upgrades lift 12 to 310 MW and bus 3 to 200 MW
    v = r.violations
    got = {
        (x.kind, x.id, x.year, x.outage_id): (x.value_mw, x.limit_mw, x.excess_mw)
        for x in v.itertuples()
    }
    want = {
        ("n1_overload", "12", 2030, "13"): (300.0, 250.0, 50.0),
        ("n1_overload", "23", 2030, "13"): (180.0, 150.0, 30.0),
        ("n1_overload", "23", 2031, "13"): (180.0, 150.0, 30.0),
        ("substation_headroom", "3", 2030, ""): (180.0, 150.0, 30.0),
    }
    assert set(got) == set(want)
    for key, vals in want.items():
        assert got[key] == pytest.approx(vals, abs=1e-6)
    assert not r.ok
    assert r.years.set_index("year")["n1_violations"].to_dict() == {2030: 2, 2031: 1}


def test_three_bus_n1_at_every_snapshot(triangle_plan):
    r = check_plan(triangle_plan, n1_snapshots="all", top=3)
    assert r.n1_snapshots == ["peak", "year"]
    assert (r.n_1.groupby("year").size() == 3).all()  # --top 3 per year
    # at 'year', out 13 (120 MW): f23 = 30 + 120 = 150 MW, exactly its 150 MW rating: at
    # the limit is not a violation; so the violations are those of the peak alone
    assert set(r.violations.loc[r.violations["kind"] == "n1_overload", "snapshot"]) == {"peak"}
    # each pair once per year, at its worst snapshot (12|13: 300 MW at peak, 210 at 'year')
    assert not r.n_1.duplicated(["year", "branch_id", "outage_id"]).any()
    assert (r.n_1["snapshot"] == "peak").all()


def test_three_bus_cli_exit_2_names_violations_and_writes_csvs(triangle_plan, tmp_path):
    out = tmp_path / "check"
    res = runner.invoke(app, ["grid", "check", str(triangle_plan), "--out", str(out)])
    assert res.exit_code == 2, res.output
    text = res.stdout
    assert "4 violation(s)" in text and "N-1 overload" in text
    assert "branch 12" in text and "bus 3" in text
    for name in ("check_flows.csv", "check_n1.csv", "check_violations.csv"):
        assert (out / name).is_file(), name
    assert not list(out.glob(".*tmp"))  # no temporary file left behind
    viol = pd.read_csv(out / "check_violations.csv", dtype={"id": str, "outage_id": str})
    assert len(viol) == 4
    flows = pd.read_csv(out / "check_flows.csv", dtype={"branch_id": str})
    assert len(flows) == 3 * 2 * 2  # branches x years x snapshots


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """test_plan's tiny region planned once (real HiGHS): (Plan, plan folder, scenario)."""
    d = tmp_path_factory.mktemp("tiny_check")
    scenario = write_region(d)
    out = d / "out"
    return siting.plan(scenario, out=out), out, scenario


def test_tiny_plan_checks_clean_and_its_flows_equal_the_plans(tiny):
    p, out, _ = tiny
    res = runner.invoke(app, ["grid", "check", str(out)])
    assert res.exit_code == 0, res.output
    assert "ok" in res.stdout and "no violation" in res.stdout
    r = check_plan(out)
    assert r.ok
    # the grid is radial (1 - 2 - 3): both outages split it and are skipped
    assert r.skipped_outages == ["a", "b"] and r.outages_studied == 0 and r.n_1.empty
    # every year and snapshot: the flows recomputed from the tables equal the model's
    mine = r.flows.set_index(["branch_id", "year", "snapshot"])["flow_mw"]
    theirs = p.flows_all.set_index(["branch_id", "year", "snapshot"])["flow_mw"]
    assert len(mine) == len(theirs) == 2 * 2 * 2
    for key, v in theirs.items():
        # dispatch.csv and schedule.csv hold 6 significant digits
        assert mine[key] == pytest.approx(v, rel=1e-5, abs=1e-6), key
    # and the plan's flows.csv: a row for every branch, year and snapshot, each compared
    csv = pd.read_csv(out / "flows.csv", dtype={"branch_id": str})
    assert len(csv) == 2 * 2 * 2 and r.compared_snapshots == ["peak", "year"]
    for row in csv.itertuples():
        assert mine[(row.branch_id, row.year, row.snapshot)] == pytest.approx(row.flow_mw, rel=1e-5)
    assert r.flows["plan_flow_mw"].notna().all()
    assert (r.years["plan_flow_max_diff_mw"] < 1e-3).all()


def test_tiny_plan_json_has_the_keys(tiny):
    _, out, _ = tiny
    proc = subprocess.run(
        [sys.executable, "-m", "siting", "grid", "check", str(out), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # stdout is pure JSON
    assert {"ok", "years", "flows", "n_1", "skipped_outages", "violations"} <= set(data)
    assert data["ok"] is True and data["violations"] == []
    assert [y["year"] for y in data["years"]] == [2030, 2031]
    assert {"branch_id", "year", "snapshot", "flow_mw", "rating_mw", "loading_pct"} <= set(
        data["flows"][0]
    )
    assert data["skipped_outages"] == ["a", "b"]


def test_tiny_plan_under_a_derated_grid_reports_the_branch(tiny, tmp_path):
    p, out, scenario = tiny
    derated = tmp_path / "derated.yaml"
    derated.write_text(yaml.safe_dump({"extends": str(scenario), "grid": {"derate": {"b": 0.5}}}))
    res = runner.invoke(app, ["grid", "check", str(out), "--scenario", str(derated), "--json"])
    assert res.exit_code == 2, res.output
    data = json.loads(res.stdout)
    assert data["ok"] is False
    v = [x for x in data["violations"] if x["kind"] == "n0_overload"]
    # branch b (160 MW) at half its rating: 80 MW, against the 135.4 MW bus 3's campus
    # draws at every peak (100 MW IT x peak PUE; the plan's own flow)
    peak_b = p.flows.set_index(["branch_id", "year"])["flow_mw"]
    assert {(x["id"], x["year"], x["snapshot"]) for x in v} >= {
        ("b", 2030, "peak"),
        ("b", 2031, "peak"),
    }
    for x in v:
        if x["snapshot"] == "peak":
            assert x["limit_mw"] == pytest.approx(80.0)
            assert x["value_mw"] == pytest.approx(peak_b[("b", x["year"])], rel=1e-5)
            assert x["excess_mw"] == pytest.approx(peak_b[("b", x["year"])] - 80.0, rel=1e-5)
    assert any("derate" in n for n in data["notes"])


def test_tiny_plan_with_a_tampered_dispatch_reports_the_imbalance(tiny, tmp_path):
    _, out, _ = tiny
    bad = tmp_path / "tampered"
    shutil.copytree(out, bad)
    disp = pd.read_csv(bad / "dispatch.csv", dtype={"gen_id": str, "bus_id": str})
    i = disp.index[(disp["year"] == 2031) & (disp["snapshot"] == "peak")][0]
    disp.loc[i, "p_mw"] += 50.0  # g1 makes 50 MW nobody takes
    disp.to_csv(bad / "dispatch.csv", index=False)
    res = runner.invoke(app, ["grid", "check", str(bad)])
    assert res.exit_code == 2, res.output
    assert "island imbalance" in res.stdout
    r = check_plan(bad)
    (v,) = r.violations.itertuples()
    assert (v.kind, v.id, v.year, v.snapshot) == ("island_imbalance", "1", 2031, "peak")
    assert v.value_mw == pytest.approx(50.0, abs=1e-3)


def test_bad_plan_folders_give_a_clear_error(tiny, tmp_path):
    _, out, _ = tiny

    def copy(name: str) -> Path:
        d = tmp_path / name
        shutil.copytree(out, d)
        return d

    def fails(d: Path, *msgs: str) -> None:
        res = runner.invoke(app, ["grid", "check", str(d)])
        assert res.exit_code == 1, res.output
        for msg in msgs:
            assert msg in res.output, (msg, res.output)
        assert "Traceback" not in res.output

    fails(tmp_path / "nowhere", "no such folder")
    d = copy("no_manifest")
    (d / "manifest.json").unlink()
    fails(d, "manifest.json", "file not found")
    d = copy("no_dispatch")
    (d / "dispatch.csv").unlink()
    fails(d, "dispatch.csv", "file not found")
    d = copy("no_column")
    pd.read_csv(d / "schedule.csv").drop(columns="peak_draw_mw").to_csv(
        d / "schedule.csv", index=False
    )
    fails(d, "schedule.csv", "missing column(s) peak_draw_mw")
    # the grid moved away since the plan was made
    d = copy("moved")
    man = json.loads((d / "manifest.json").read_text())
    moved = str(tmp_path / "moved-away" / "tiny.gpkg")
    man["scenario_as_run"]["layers"]["grid"]["path"] = moved
    (d / "manifest.json").write_text(json.dumps(man))
    fails(d, moved, "file not found", "--scenario")
    # a plan made without a grid: nothing to check
    d = copy("no_grid")
    man = json.loads((d / "manifest.json").read_text())
    man["grid_enabled"] = False
    man["scenario_as_run"]["grid"]["enabled"] = False
    (d / "manifest.json").write_text(json.dumps(man))
    fails(d, "nothing to check")
    # an upgrade of a branch the grid does not have
    d = copy("bad_upgrade")
    (d / "upgrades.csv").write_text(
        "asset,asset_id,year,added_mw,cost_usd,lead_time_years\nbranch,zz,2031,100,1e6,2\n"
    )
    fails(d, "upgrades.csv", "'zz'")


@pytest.fixture(scope="module")
def meshed_n1(tmp_path_factory):
    """test_plan's region with a third line c (1-3) closing a loop, upgrade options on b and
    c (+100 MW each, no lead time), N-1 required, 250 MW by 2031; planned once by HiGHS."""
    d = tmp_path_factory.mktemp("meshed")
    scenario = write_region(d)
    w, m, e = _strip(5), _strip(30), _strip(55)
    gpd.GeoDataFrame(
        {
            "branch_id": ["a", "b", "c"],
            "from_bus": ["1", "2", "1"],
            "to_bus": ["2", "3", "3"],
            "x_pu": [0.01, 0.01, 0.02],
            "rating_mw": [1000.0, 160.0, 200.0],
            "rating_emergency_mw": [1000.0, 160.0, 220.0],
            "upgrade_added_mw": [None, 100.0, 100.0],
            "upgrade_cost_usd": [None, 5e6, 8e6],
            "upgrade_lead_time_years": [None, 0.0, 0.0],
        },
        geometry=[LineString([w, m]), LineString([m, e]), LineString([w, e])],
        crs=CRS,
    ).to_file(d / "tiny.gpkg", layer="branches", engine="pyogrio")
    sc = yaml.safe_load(scenario.read_text())
    sc["grid"]["n_minus_1"] = {"enabled": True}
    sc["targets"]["it_mw_by_year"] = {2030: 100, 2031: 250}
    scenario.write_text(yaml.safe_dump(sc, sort_keys=False))
    out = d / "out"
    return siting.plan(scenario, out=out), out


def _strip(x_km: float) -> Point:
    """A point on test_plan's strip (y = 10 km), as its buses."""
    return Point(500 * KM + x_km * KM, 3500 * KM + 10 * KM)


def test_n1_plan_with_upgrades_checks_clean_and_fails_without_them(meshed_n1, tmp_path):
    p, out = meshed_n1
    assert set(p.upgrades["asset_id"]) == {"b", "c"}  # the plan needs both in 2031
    r = check_plan(out)
    assert r.ok, r.violations
    assert r.skipped_outages == [] and r.outages_studied == 3
    rat = r.flows.set_index(["year", "snapshot", "branch_id"])
    assert rat.loc[(2031, "peak", "c"), "rating_emergency_mw"] == 320.0  # 220 + 100
    # the same plan without its upgrades.csv (as an older plan): after the outage of a
    # (1-2), line c (1-3) is bus 1's only link, so it carries every campus MW of 2031
    old = tmp_path / "old"
    shutil.copytree(out, old)
    (old / "upgrades.csv").unlink()
    r = check_plan(old)
    draw = p.schedule.loc[p.schedule["year"] == 2031, "peak_draw_mw"].sum()
    v = r.violations.set_index(["kind", "id", "year", "outage_id"])
    x = v.loc[("n1_overload", "c", 2031, "a")]
    assert abs(x["value_mw"]) == pytest.approx(draw, rel=1e-5)
    assert x["limit_mw"] == 220.0 and x["excess_mw"] == pytest.approx(draw - 220.0, rel=1e-5)
    assert any("no upgrades.csv" in n for n in r.notes)


def test_as_planned_counts_only_the_n1_the_plan_required(triangle_plan):
    # The triangle plan's scenario does not ask for N-1: by default the check counts its
    # N-1 overloads (the operator's view); --as-planned counts only the other violations.
    full = check_plan(triangle_plan)
    n1 = full.violations["kind"] == "n1_overload"
    assert n1.any() and (~n1).any()
    planned = check_plan(triangle_plan, as_planned=True)
    assert planned.violations.equals(full.violations[~n1].reset_index(drop=True))
    assert len(planned.n_1) == len(full.n_1)  # still studied and listed
    assert any("--as-planned" in n for n in planned.notes)
    # a scenario that required N-1 from 2031 keeps 2031's N-1 overloads and drops 2030's
    man_path = triangle_plan / "manifest.json"
    man = json.loads(man_path.read_text())
    man["scenario_as_run"]["grid"]["n_minus_1"] = {
        "enabled": True,
        "outages": "all",
        "snapshots": "peak",
        "from_year": 2031,
    }
    man_path.write_text(json.dumps(man))
    planned = check_plan(triangle_plan, as_planned=True)
    kept = planned.violations[planned.violations["kind"] == "n1_overload"]
    expected = full.violations[n1 & (full.violations["year"] == 2031)]
    assert len(expected) == 1  # 23 after the outage of 13 (2030 has two: 12 and 23)
    assert len(kept) == len(expected) and (kept["year"] == 2031).all()
    res = runner.invoke(app, ["grid", "check", str(triangle_plan), "--as-planned", "--json"])
    assert res.exit_code == (0 if planned.ok else 2)
    assert json.loads(res.stdout)["ok"] == planned.ok
