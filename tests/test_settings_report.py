"""Every setting accounted for (issue 20): each policy, cap and target a scenario sets has a
line in the manifest and the report (required, achieved, binding, shadow price) and a
verification check; ``schedule.csv`` carries the public-interest MW; the heat sold (or why
none); the headline separates real spend from policy weights.

The scenarios are test_plan's tiny region (two sites: S2 "middle" and S3 "east"; line 2-3
limits S3 to 100 MW, so the plan is S3 100 MW from 2030 and S2 100 MW from 2031, as
test_plan's first test works out by hand) with:

- a designated zone around S3, in ``require`` mode with ``min_share`` 0.5;
- a public-interest share of 0.2 on sites in a designated zone (S3 only);
- a campus water cap of 100,000 m3/day (not binding);
- a heat sink ``H1`` 1 km from S3: 10 MW heat at 2,000 USD/MWh (a price high enough that
  liquid cooling, the one technology that recovers heat by default, pays at S3).

The reference values below are worked out by hand from these inputs (see each test).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import yaml
from pages import parse_page
from shapely.geometry import box
from test_plan import CRS, KM, X0, Y0, at, write_region

import siting
from siting.model.objective import COST_PARTS, cost_split

#: The tiny region's discounting: 7 % a year to 2030, the last period standing for one
#: year (costs.final_period_years 1 in the defaults): op_weight = (1, 1/1.07).
OP_WEIGHT = {2030: 1.0, 2031: 1 / 1.07}


def _scenario(d: Path, *, zone_mode: str, heat_price: float) -> Path:
    path = write_region(d)
    gpkg = d / "tiny.gpkg"
    gpd.GeoDataFrame(
        {"zone_id": ["Z1"], "name": ["east zone"], "kind": ["designated"]},
        geometry=[box(X0 + 50 * KM, Y0 + 8 * KM, X0 + 58 * KM, Y0 + 14 * KM)],  # around S3
        crs=CRS,
    ).to_file(gpkg, layer="zones")
    gpd.GeoDataFrame(
        {
            "sink_id": ["H1"],
            "name": ["greenhouses"],
            "demand_mw": [10.0],
            "price_usd_per_mwh": [heat_price],
            "max_km": [5.0],
        },
        geometry=[at(55, 12)],  # 1.4 km from S3, 24 km from S2
        crs=CRS,
    ).to_file(gpkg, layer="heat_sinks")
    sc = yaml.safe_load(path.read_text())
    sc["layers"]["zones"] = {"path": "tiny.gpkg"}
    sc["layers"]["heat_sinks"] = {"path": "tiny.gpkg"}
    zones = {"mode": "require", "min_share": 0.5} if zone_mode == "require" else {"mode": "prefer"}
    sc["policy"] = {"zones": zones, "public_interest": {"share": 0.2, "in_zone": True}}
    sc["water"] = {"cap_m3_per_day": 100_000.0}
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def required_plan(tmp_path_factory):
    """Zone share required, public share, water cap and a heat sink that pays."""
    d = tmp_path_factory.mktemp("settings")
    out = d / "out"
    p = siting.plan(_scenario(d, zone_mode="require", heat_price=2000.0), out=out)
    man = json.loads((out / "manifest.json").read_text())
    return p, out, man, (out / "report.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def preferred_plan(tmp_path_factory):
    """Zones preferred (a bonus), public share, and a heat sink that pays too little."""
    d = tmp_path_factory.mktemp("settings_prefer")
    out = d / "out"
    p = siting.plan(_scenario(d, zone_mode="prefer", heat_price=100.0), out=out)
    man = json.loads((out / "manifest.json").read_text())
    return p, out, man, (out / "report.html").read_text(encoding="utf-8")


def _lines(man: dict, key: str) -> dict:
    return {line["year"]: line for line in man["settings"] if line["key"] == key}


def _checks(man: dict) -> dict[str, bool]:
    return {c["check"]: c["ok"] for c in man["verification"]}


def _text(page: str) -> str:
    return " ".join(" ".join(parse_page(page).text).split())


def test_schedule_has_the_public_interest_mw_by_site_and_year(required_plan):
    _, out, _, _ = required_plan
    sc = pd.read_csv(out / "schedule.csv").set_index(["site_id", "year"])
    # by hand: 0.2 of the national 100 MW (2030) and 200 MW (2031), all at S3 (the only
    # site in a designated zone); none at S2
    assert sc.loc[("S3", 2030), "public_it_mw"] == pytest.approx(20.0)
    assert sc.loc[("S3", 2031), "public_it_mw"] == pytest.approx(40.0)
    assert sc.loc[("S2", 2031), "public_it_mw"] == 0.0


def test_each_setting_has_its_line_and_check(required_plan):
    p, _, man, _ = required_plan
    checks = _checks(man)
    assert all(checks.values())
    # zone share: S3's 100 MW of 100 MW (2030) and of 200 MW (2031); 0.5 binds in 2031
    z = _lines(man, "policy.zones.min_share")
    assert (z[2030]["required"], z[2030]["achieved"], z[2030]["binding"]) == (50.0, 100.0, False)
    assert (z[2031]["required"], z[2031]["achieved"], z[2031]["binding"]) == (100.0, 100.0, True)
    assert z[2031]["achieved_share"] == pytest.approx(0.5)
    assert checks[z[2031]["check"]] and z[2031]["check"] == "share in designated zones"
    # public interest: 20 and 40 MW required, reserved exactly
    pi = _lines(man, "policy.public_interest.share")
    assert [(pi[y]["required"], pi[y]["achieved"]) for y in (2030, 2031)] == [
        pytest.approx((20.0, 20.0)),
        pytest.approx((40.0, 40.0)),
    ]
    assert pi[2031]["check"] == "public-interest share >= 0.2" and checks[pi[2031]["check"]]
    assert checks["public-interest MW on eligible sites, within their IT MW"]
    # water cap: none in 2030 (S3 is liquid-cooled and has no source: dry), 2031 is S2's
    # evaporative need: 24 h x utilisation 0.85 x 100 MW x its WUE [L/kWh] = m3/day
    w = _lines(man, "water.cap_m3_per_day")
    wue = float(p.sites.loc["S2", "wue_annual_l_per_kwh"])
    assert w[2030]["achieved"] == 0.0
    assert w[2031]["achieved"] == pytest.approx(24 * 0.85 * 100 * wue, rel=1e-6)
    assert (w[2031]["required"], w[2031]["binding"]) == (100_000.0, False)
    assert checks["campus water cap"]
    # targets (100, 200 MW) bind; none of these has an LP shadow price, and says why
    t = _lines(man, "targets.it_mw_by_year")
    assert [t[y]["binding"] for y in (2030, 2031)] == [True, True]
    assert all(
        line["shadow_price"] is None and "integer decisions" in line["shadow_note"]
        for line in man["settings"]
    )


def test_the_report_shows_each_setting_with_its_achieved_value(required_plan):
    _, _, _, page = required_plan
    text = _text(page)
    assert 'id="settings"' in page
    assert "8 of 8 requirements are met; 5 bind" in text  # targets 2, zone 1, public 2
    assert "share in designated zones policy.zones.min_share 2031 ≥ 100 MW (50.0 %" in text
    assert "100 MW (50.0 %) met yes" in text
    assert "public-interest reserved share policy.public_interest.share 2030 ≥ 20 MW" in text
    assert "passed: public-interest share >= 0.2" in text
    assert "campus water cap water.cap_m3_per_day 2031 ≤ 100,000 m3/day" in text
    # the assumptions name the water cap (it showed as "potable water cap –" before)
    assert "campus water cap, all sources [m3/day] 100,000" in text
    assert "public-interest reserved share 20.0 % of national IT MW; eligible sites: in a " in text


def test_heat_sold_per_site(required_plan):
    p, _, man, page = required_plan
    h = man["heat"]
    assert h["why_none"] == ""
    (s3,) = h["sites"]
    # by hand: the sink takes 10 MW (S3 recovers 0.6 x 0.85 x 100 MW = 51 MW, more than
    # that): 10 MW x 8,760 h = 87,600 MWh a year, x 2,000 USD/MWh = 175.2 M USD a year
    assert (s3["site_id"], s3["cooling"], s3["sinks"]) == ("S3", "liquid", ["H1"])
    assert s3["mwh_by_year"] == pytest.approx({"2030": 87_600.0, "2031": 87_600.0})
    assert s3["usd_by_year"] == pytest.approx({"2030": 175.2e6, "2031": 175.2e6})
    value = 175.2e6 * (OP_WEIGHT[2030] + OP_WEIGHT[2031])
    assert s3["value_usd"] == pytest.approx(value, rel=1e-9)
    assert -p.costs_usd["heat"] == pytest.approx(value, rel=1e-6)  # the model's credit
    text = _text(page)
    assert "S3 liquid H1 2031 10.0 87,600 175.2 M USD" in text


def test_no_heat_sold_says_why(preferred_plan):
    _, _, man, page = preferred_plan
    # at 100 USD/MWh S3 keeps air cooling, which recovers no heat
    assert man["heat"]["sites"] == []
    why = man["heat"]["why_none"]
    assert why.startswith("no chosen site uses a technology that recovers heat")
    assert "liquid 0.6" in why
    assert "The plan sells no waste heat: no chosen site uses a technology" in _text(page)


def test_headline_separates_spend_from_the_zone_weight(preferred_plan):
    p, _, man, page = preferred_plan
    # by hand: 0.5 M USD/MW (the default bonus) x 100 MW built at S3 in 2030 (discount 1)
    assert p.costs_usd["zone_bonus"] == pytest.approx(-50e6, rel=1e-9)
    split = man["cost_split_usd"]
    assert split["policy_weight_usd"] == pytest.approx(-50e6, rel=1e-9)
    assert split["earned_usd"] == 0.0
    # the parts sum to the net present cost, which is the objective
    assert split["spent_usd"] + split["policy_weight_usd"] == pytest.approx(
        man["total_cost_usd"], rel=1e-12
    )
    assert man["total_cost_usd"] == pytest.approx(man["objective_usd"], rel=1e-6)
    figs = {
        a["data-figure"]: float(a["data-value"])
        for _, a in parse_page(page).tags
        if "data-figure" in a
    }
    assert figs["spent_usd"] == pytest.approx(split["spent_usd"], rel=1e-12)
    assert figs["policy_weight_usd"] == pytest.approx(-50e6, rel=1e-9)
    assert figs["total_cost_usd"] == pytest.approx(figs["spent_usd"] - 50e6, rel=1e-12)
    text = _text(page)
    assert "-50.0 M USD designated-zone bonus (a policy weight, not money)" in text
    # the zone share is shown although prefer mode requires none
    z = _lines(man, "policy.zones.min_share")
    assert z[2031]["achieved_share"] == pytest.approx(0.5) and z[2031]["required"] == 0.0
    assert z[2031]["check"] == ""


def test_cost_split_names_every_part_and_sums_to_the_total():
    costs = {k: float(i + 1) for i, k in enumerate(COST_PARTS)}
    costs["zone_bonus"] = -7.0
    costs["heat"] = -3.0
    s = cost_split(costs)
    assert s["policy_weight_usd"] == -7.0 and s["earned_usd"] == -3.0 and s["other_usd"] == 0.0
    # spent: the eight money parts 1 + 2 + 3 + 5 + 6 + 7 + 8 + 9 (zone_bonus is the 4th,
    # heat the 10th); compute not delivered: delay (11th) + curtailment (12th) = 23
    assert s["spent_usd"] == 41.0 and s["delay_usd"] == 23.0
    assert s["net_present_cost_usd"] == pytest.approx(sum(costs.values()))
    assert cost_split({**costs, "new_part": 2.0})["other_usd"] == 2.0


def test_potable_cap_shadow_price_from_the_lp_with_integers_fixed(tmp_path):
    # a potable source W1 at S2 itself (no pipeline) at 0.1 USD/m3 beside the reclaimed W2
    # at 0.5 USD/m3; potable capped at 500 m3/day. S2 takes 500 from W1, the rest from W2,
    # so one m3/day less of potable in 2031 costs (0.5 - 0.1) x 365 days x op_weight 1/1.07
    path = write_region(tmp_path)
    gpkg = tmp_path / "tiny.gpkg"
    w = gpd.read_file(gpkg, layer="water_sources")
    tap = gpd.GeoDataFrame(
        {
            "source_id": ["W1"],
            "name": ["tap"],
            "kind": ["potable"],
            "capacity_m3_per_day": [50_000.0],
            "cost_usd_per_m3": [0.1],
            "max_pipeline_km": [10.0],
        },
        geometry=[at(31, 11)],
        crs=CRS,
    )
    both = gpd.GeoDataFrame(pd.concat([w, tap], ignore_index=True), crs=CRS)
    both.to_file(gpkg, layer="water_sources", driver="GPKG")
    sc = yaml.safe_load(path.read_text())
    sc["water"] = {"potable_cap_m3_per_day": 500.0}
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    p = siting.plan(path, write=False)
    lines = {line["year"]: line for line in p.settings if line["key"].startswith("water.pot")}
    assert lines[2031]["achieved"] == pytest.approx(500.0) and lines[2031]["binding"]
    assert lines[2031]["shadow_price"] == pytest.approx(0.4 * 365 / 1.07, rel=1e-6)
    assert lines[2031]["shadow_unit"] == "USD per m3/day"
    assert lines[2030]["shadow_price"] == pytest.approx(0.0, abs=1e-6)  # no campus drinks
    assert not lines[2030]["binding"]
    assert all(c.ok for c in p.checks)


def test_demand_region_line_check_and_shadow_price(tmp_path):
    # test_plan's latency case: region "west" at (28, 11) km wants 50 MW in 2031 within
    # 0.3 ms (reach 20 km): only S2, 3 km away, serves it, at 200 USD/(MW km year) x 3 km =
    # 600 USD per MW a year. One more MW of demand in 2031, S2 open with room to spare,
    # costs 600 x op_weight 1/1.07 USD (present value)
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
    (line,) = [ln for ln in p.settings if ln["key"] == "policy.demand"]
    assert (line["setting"], line["year"]) == ("demand region west served within latency", 2031)
    assert (line["required"], line["achieved"], line["binding"]) == (50.0, 50.0, True)
    assert line["shadow_price"] == pytest.approx(600 / 1.07, rel=1e-6)
    checks = {c.name: c.ok for c in p.checks}
    assert checks[line["check"]] is True
    assert p.demand_served.to_dict("records") == [
        {"region_id": "west", "site_id": "S2", "year": 2031, "served_mw": pytest.approx(50.0)}
    ]


def test_a_broken_settings_field_is_named_not_fatal(required_plan, tmp_path):
    from siting.render.report import render_report

    _, out, man, _ = required_plan
    plan = tmp_path / "plan"
    shutil.copytree(out, plan)
    (plan / "manifest.json").write_text(json.dumps({**man, "settings": "oops", "heat": [1]}))
    text = _text(render_report(plan).read_text(encoding="utf-8"))
    assert "manifest.json: field settings is not a list of setting lines" in text
    assert "manifest.json: field heat is not an object with a list of sites" in text


def test_co2_cap_and_upgrade_budget_lines(tmp_path):
    # g1 emits 0.4 t CO2/MWh and serves everything; the grid has no other load, so the
    # campuses add all of it: sum over years of 8,760 h x 0.4 t/MWh x their typical draw
    # [MW] (each planning year stands for one year). Cap 10 Mt: not binding. Upgrade budget
    # 1 bn USD: the plan buys none (0 USD spent)
    path = write_region(tmp_path)
    gpkg = tmp_path / "tiny.gpkg"
    gens = gpd.read_file(gpkg, layer="generators")
    gens["co2_t_per_mwh"] = [0.4]
    gens.to_file(gpkg, layer="generators", driver="GPKG")
    sc = yaml.safe_load(path.read_text())
    sc["policy"] = {"co2_cap_t": 10e6}
    sc["grid"]["upgrade_budget_usd"] = 1e9
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    p = siting.plan(path, write=False)
    lines = {ln["key"]: ln for ln in p.settings}
    co2 = lines["policy.co2_cap_t"]
    hand = float((8760 * 0.4 * p.schedule["typical_draw_mw"]).sum())
    assert hand > 0
    assert co2["achieved"] == pytest.approx(hand, rel=1e-6)
    assert (co2["year"], co2["required"], co2["binding"], co2["met"]) == (None, 10e6, False, True)
    assert co2["shadow_price"] == pytest.approx(0.0, abs=1e-6)  # slack: worth nothing
    assert co2["shadow_unit"] == "USD/t CO2"
    up = lines["grid.upgrade_budget_usd"]
    assert (up["required"], up["achieved"], up["binding"]) == (1e9, 0.0, False)
    assert up["shadow_price"] is None and "integer decisions" in up["shadow_note"]
    checks = {c.name: c.ok for c in p.checks}
    assert checks[co2["check"]] is True and checks[up["check"]] is True
