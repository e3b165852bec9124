"""``siting pareto``: epsilon-constraint fronts on a real ``dask.distributed`` LocalCluster.

The CO2 front is checked against a hand calculation. The tiny region of ``test_plan`` (a
3-bus line 1 - 2 - 3; campus targets 100 MW in 2030 and 200 MW in 2031; no base load) gets
two generators: ``g1`` at bus 1, 20 USD/MWh, 1 t CO2/MWh, and ``g2`` at bus 3, 30 USD/MWh,
no CO2; line 2-3 is rated 1,000 MW so nothing is congested. Without a cap every campus MWh
comes from g1; a cap on the CO2 the campuses add is met most cheaply by moving MWh to g2 at
10 USD/MWh = 10 USD/t, in 2031 first (its cost is discounted by 1/1.07 at the 7 % rate,
2030's is not), then in 2030. So with ``E_y`` the campus energy of year y [MWh] (= t CO2 at
the least-cost point) and ``R = E_2030 + E_2031 - cap`` the reduction:

    cost(cap) = cost(no cap) + 10 * (min(R, E_2031) / 1.07 + max(0, R - E_2031))   [USD]

and the least CO2 is 0 (everything from g2). Changing the cooling to save energy costs
about 1,000 USD/t here (0.8 M USD/MW of liquid cooling for a PUE 0.1 lower), so it never
pays before redispatch.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml
from test_plan import CRS, at, write_region
from typer.testing import CliRunner

import siting
from siting.cli import app
from siting.core.errors import InputError, ScenarioError
from siting.studies.pareto import pareto, parse_between

distributed = pytest.importorskip("distributed")

HOURS = 8760.0


def write_two_gen_region(d: Path) -> Path:
    """The tiny region with a dirty cheap generator at bus 1 and a clean dear one at bus 3."""
    path = write_region(d, rating_23_mw=1000.0)
    gpd.GeoDataFrame(
        {
            "gen_id": ["g1", "g2"],
            "bus_id": ["1", "3"],
            "p_max_mw": [2000.0, 2000.0],
            "marginal_cost_usd_per_mwh": [20.0, 30.0],
            "co2_t_per_mwh": [1.0, 0.0],
        },
        geometry=[at(5, 10), at(55, 10)],
        crs=CRS,
    ).to_file(d / "tiny.gpkg", layer="generators")
    return path


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def co2_front(tmp_path_factory, client):
    d = tmp_path_factory.mktemp("co2")
    scenario = write_two_gen_region(d)
    front = pareto(scenario, "co2", points=4, out=d / "front", client=client)
    return d, scenario, front


def test_the_co2_front_matches_the_hand_calculation(co2_front):
    _d, _scenario, front = co2_front
    t = front.table
    assert list(t["status"]) == ["optimal"] * 4
    assert not t["dominated"].any()
    # the least-cost point: every campus MWh from g1 at 1 t/MWh
    least = t.iloc[0]
    sched = pd.read_csv(Path(least["plan_dir"]) / "schedule.csv")
    energy = sched.groupby("year")["typical_draw_mw"].sum() * HOURS  # [MWh/year]
    e30, e31 = float(energy[2030]), float(energy[2031])
    # (schedule.csv keeps 6 significant digits)
    assert least["co2"] == pytest.approx(e30 + e31, rel=1e-5)
    assert pd.isna(least["cap"])
    # the least CO2 any plan reaches: 0 (all from g2)
    assert front.anchor["value"] == pytest.approx(0.0, abs=1e-6)
    # caps evenly spaced from the least CO2 up to the least-cost plan's, loosest first
    total = float(least["co2"])
    caps = t["cap"].iloc[1:].to_numpy(dtype=float)
    assert caps == pytest.approx([2 / 3 * total, 1 / 3 * total, 0.0], rel=1e-8, abs=1e-5)
    cost0 = float(least["total_cost_usd"])
    for r in t.iloc[1:].itertuples():
        reduction = total - r.cap
        expected = cost0 + 10.0 * (min(reduction, e31) / 1.07 + max(0.0, reduction - e31))
        assert r.total_cost_usd == pytest.approx(expected, rel=1e-7), r.point
        assert r.co2 <= r.cap + 1e-6 * max(1.0, r.cap)
    # the marginal cost of each step: 10 USD/t discounted one year while 2031's energy
    # moves (both steps: each is a third of the total, 2031 holds two thirds), then 10 USD/t
    assert np.isnan(t["marginal_usd_per_unit"].iloc[0])
    assert t["marginal_usd_per_unit"].iloc[1:].to_numpy(dtype=float) == pytest.approx(
        [10 / 1.07, 10 / 1.07, 10.0], rel=1e-6
    )


def test_each_point_is_a_plan_one_can_open_and_the_outputs_are_written(co2_front):
    d, _scenario, front = co2_front
    out = d / "front"
    for f in ("front.csv", "front.json", "front.svg", "front.html", "points.yaml", "anchor.json"):
        assert (out / f).is_file(), f
    table = pd.read_csv(out / "front.csv")
    assert len(table) == 4 and list(table["point"]) == [0, 1, 2, 3]
    html = (out / "front.html").read_text()
    svg = (out / "front.svg").read_text()
    assert svg.count('class="point"') == 4
    for r in front.table.itertuples():
        plan_dir = Path(r.plan_dir)
        man = json.loads((plan_dir / "manifest.json").read_text())
        # the plan's own manifest says what cap it was made under and what it reached
        assert man["scenario_as_run"]["policy"]["co2_cap_t"] == (
            None if pd.isna(r.cap) else pytest.approx(r.cap)
        )
        assert man["metrics"]["co2_t"] == pytest.approx(r.co2, rel=1e-9, abs=1e-6)
        checks = {c["check"]: c["ok"] for c in man["verification"]}
        assert checks.get("campus CO2 cap", True) is True
        if not pd.isna(r.cap):
            assert "campus CO2 cap" in checks
        for page in ("report.html", "index.html"):
            assert (plan_dir / page).is_file()
            rel = Path(plan_dir).relative_to(out).as_posix()
            assert f'href="{rel}/{page}"' in html


def test_a_capped_point_equals_planning_that_scenario_on_its_own(co2_front, tmp_path):
    d, scenario, front = co2_front
    r = front.table.iloc[2]
    raw = yaml.safe_load(Path(scenario).read_text())
    raw.setdefault("policy", {})["co2_cap_t"] = float(r["cap"])
    raw["name"] = "alone"
    f = Path(scenario).parent / "alone.yaml"
    f.write_text(yaml.safe_dump(raw, sort_keys=False))
    p = siting.plan(f, write=False)
    assert p.total_cost_usd == pytest.approx(float(r["total_cost_usd"]), rel=1e-9)
    assert p.metrics["co2_t"] == pytest.approx(float(r["co2"]), rel=1e-9, abs=1e-6)


def test_a_rerun_solves_nothing_again(co2_front, client):
    d, scenario, front = co2_front
    out = d / "front"
    marks = {p: p.stat().st_mtime_ns for p in (out / "points").glob("*/done.json")}
    anchor = (out / "anchor.json").stat().st_mtime_ns
    assert len(marks) == 4
    again = pareto(scenario, "co2", points=4, out=out, client=client)
    assert {p: p.stat().st_mtime_ns for p in (out / "points").glob("*/done.json")} == marks
    assert (out / "anchor.json").stat().st_mtime_ns == anchor
    pd.testing.assert_frame_equal(again.table, front.table)


def write_wet_region(d: Path) -> Path:
    """The tiny region with a second water source in reach of the east site S3."""
    path = write_region(d)
    gpd.GeoDataFrame(
        {
            "source_id": ["W2", "W3"],
            "name": ["middle", "east"],
            "kind": ["reclaimed", "reclaimed"],
            "capacity_m3_per_day": [50_000.0, 50_000.0],
            "cost_usd_per_m3": [0.5, 0.5],
            "max_pipeline_km": [10.0, 10.0],
        },
        geometry=[at(32, 10), at(54, 12)],
        crs=CRS,
    ).to_file(d / "tiny.gpkg", layer="water_sources")
    return path


def test_water_front_points_respect_their_caps_and_cost_more_as_caps_tighten(tmp_path, client):
    """With water in reach, evaporative cooling (no extra capex) beats dry cooling (+0.4 M
    USD/MW) at least cost; capping water pushes the plan to dry or liquid cooling (WUE 0)."""
    scenario = write_wet_region(tmp_path)
    front = pareto(scenario, "water", points=3, out=tmp_path / "wf", client=client)
    t = front.table
    assert (t["status"] == "optimal").all()
    capped = t.iloc[1:]
    assert (capped["water"] <= capped["cap"] * (1 + 1e-6) + 1e-6).all()
    # caps tighten down the table; least cost can only rise (gap 0 in this scenario)
    costs = t["total_cost_usd"].to_numpy(dtype=float)
    assert np.all(np.diff(costs) >= -1e-6 * costs[:-1])
    assert costs[-1] > costs[0] + 1e6  # the trade-off is real
    # dry and liquid cooling use no water on site, so the least water is 0 ...
    assert front.anchor["value"] == pytest.approx(0.0, abs=1e-6)
    assert t.iloc[-1]["water"] == pytest.approx(0.0, abs=1e-3)
    # ... and the least-cost plan's water is the water model's formula for its schedule:
    # 24 h x utilisation 0.85 x IT MW x WUE [L/kWh] = m3/day, in its largest year
    from siting.pipeline import prepare

    perf = prepare(scenario).data.cooling.perf
    sched = pd.read_csv(Path(t.iloc[0]["plan_dir"]) / "schedule.csv")
    wue = perf.loc[list(zip(sched["site_id"], sched["cooling"], strict=True))]
    by_year = (
        (24 * 0.85 * sched["it_mw"] * wue["wue_annual_l_per_kwh"].to_numpy())
        .groupby(sched["year"])
        .sum()
    )
    assert t.iloc[0]["water"] == pytest.approx(by_year.max(), rel=1e-9)
    assert t.iloc[0]["water"] > 1000.0


def test_parse_between_and_bad_requests(tmp_path, client):
    assert parse_between("cost,water") == "water"
    assert parse_between(" co2 , cost ") == "co2"
    for bad in ("cost", "water,co2", "cost,land", ""):
        with pytest.raises(InputError, match="expected 'cost,<metric>'"):
            parse_between(bad)
    scenario = write_region(tmp_path)
    raw = yaml.safe_load(Path(scenario).read_text())
    del raw["layers"]["grid"]
    raw["name"] = "nogrid"
    nogrid = tmp_path / "nogrid.yaml"
    nogrid.write_text(yaml.safe_dump(raw))
    with pytest.raises(InputError, match="needs the grid model"):
        pareto(nogrid, "co2", out=tmp_path / "x", client=client)
    raw = yaml.safe_load(Path(scenario).read_text())
    raw["water"] = {"cap_m3_per_day": 100.0}
    capped = tmp_path / "capped.yaml"
    capped.write_text(yaml.safe_dump(raw))
    with pytest.raises(InputError, match="already set"):
        pareto(capped, "water", out=tmp_path / "y", client=client)
    raw = yaml.safe_load(Path(scenario).read_text())
    raw["objective"] = {"sense": "max_capacity", "budget_usd": 3e9}
    maxcap = tmp_path / "maxcap.yaml"
    maxcap.write_text(yaml.safe_dump(raw))
    with pytest.raises(InputError, match="needs objective.sense min_cost"):
        pareto(maxcap, "water", out=tmp_path / "w", client=client)
    with pytest.raises(InputError, match="points must be between"):
        pareto(scenario, "water", points=1, out=tmp_path / "z", client=client)


def test_caps_in_a_scenario_are_validated_and_explained_when_impossible(tmp_path):
    scenario = write_two_gen_region(tmp_path)
    raw = yaml.safe_load(Path(scenario).read_text())
    raw["water"] = {"enabled": False, "cap_m3_per_day": 10.0}
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(raw))
    from siting.config.scenario import load_scenario

    with pytest.raises(ScenarioError, match="water.enabled is false"):
        load_scenario(f)
    # a CO2 cap no plan can meet (below zero: campuses only add load here) is explained
    raw = yaml.safe_load(Path(scenario).read_text())
    raw.setdefault("policy", {})["co2_cap_t"] = -1000.0
    f.write_text(yaml.safe_dump(raw))
    from siting.pipeline import InfeasibleError

    with pytest.raises(InfeasibleError, match="campus CO2 cap exceeded") as e:
        siting.plan(f, write=False)
    over = [v for v in e.value.violations if v["slack"] == "co2_over_t"]
    assert over and over[0]["amount"] == pytest.approx(1000.0, rel=1e-6)


def test_the_upgrade_budget_caps_upgrade_spend(tmp_path):
    """Line 2-3 (160 MW) cannot carry a 200 MW campus at bus 3 (peak draw about 270 MW with
    dry cooling) unless reconductored (+200 MW for 30 M USD, no lead time). Free to, the plan
    buys it in 2031, worth 30 M / 1.07 at the 7 % rate; with no upgrade budget it must split
    the campus and open the dearer middle site S2 (200 M USD fixed cost) too."""
    scenario = write_region(tmp_path)
    gpkg = tmp_path / "tiny.gpkg"
    br = gpd.read_file(gpkg, layer="branches")
    br["upgrade_added_mw"] = [0.0, 200.0]
    br["upgrade_cost_usd"] = [0.0, 30e6]
    br["upgrade_lead_time_years"] = [0.0, 0.0]
    br.to_file(gpkg, layer="branches")
    free = siting.plan(scenario, write=False)
    assert free.metrics["grid_upgrades_usd"] == pytest.approx(30e6 / 1.07, rel=1e-9)
    assert set(free.sites.index) == {"S3"}
    raw = yaml.safe_load(Path(scenario).read_text())
    raw["grid"]["upgrade_budget_usd"] = 0.0
    f = tmp_path / "nobudget.yaml"
    f.write_text(yaml.safe_dump(raw))
    p = siting.plan(f, write=False)
    assert p.upgrades.empty
    assert p.metrics["grid_upgrades_usd"] == pytest.approx(0.0, abs=1e-6)
    assert set(p.sites.index) == {"S2", "S3"}
    assert p.total_cost_usd > free.total_cost_usd + 100e6
    assert {c.name: c.ok for c in p.checks}["grid upgrade budget"]


def test_the_cli_writes_the_front_and_prints_json(co2_front):
    d, scenario, _front = co2_front
    r = CliRunner().invoke(
        app,
        [
            "pareto",
            str(scenario),
            "--between",
            "cost,co2",
            "--points",
            "4",
            "--out",
            str(d / "front"),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["metric"] == "co2" and len(doc["points"]) == 4
    bad = CliRunner().invoke(app, ["pareto", str(scenario), "--between", "cost,land"])
    assert bad.exit_code == 1 and "expected 'cost,<metric>'" in bad.output
