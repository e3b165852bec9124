"""Names people understand (issue 20, "What was seen: Names").

Each test fails on the old text: "screened out by max_bus_distance_km", growth zones shown
as ``Z01`` beside policy zones ``Z2`` (now ``GZ01``), "viridis ramp, 1.0 to 7.0" for
land-class codes, "campus water cap passed 0.000 m3/day", sites by ID only on the
robustness page and
"nan -> evaporative" in ``siting grid stress``'s table. Reference values are worked out by
hand (in the comments) or read from the plan's own written tables, never from the code
under test.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from rich.console import Console

import siting
from siting.candidates.generate import RULES, screen_reasons
from siting.render.html import growth_zone_label, policy_zone_label
from siting.render.maps import class_label, class_names, render_map
from siting.render.report import render_report


def _scenario(**cand):
    """The two sections screen_reasons reads, as plain attributes."""
    c = dict(
        min_allowed_share=0.5,
        min_area_ha=20.0,
        max_bus_distance_km=50.0,
        max_land_cost_usd_per_ha=10_000.0,
    )
    c.update(cand)
    return SimpleNamespace(
        candidates=SimpleNamespace(**c),
        campus=SimpleNamespace(min_campus_mw=100.0, module_mw=50.0),
    )


def _row(rule: str, **kw) -> dict:
    base = dict(
        screened_out=rule,
        bus_id="12",
        bus_distance_km=10.0,
        allowed_share=0.9,
        area_ha=500.0,
        land_cost_usd_per_ha=3000.0,
        max_it_mw=1000.0,
    )
    base.update(kw)
    return base


def test_every_screening_rule_is_said_in_words_with_its_figures():
    c = pd.DataFrame(
        [
            _row(""),  # kept: no reason
            _row("max_bus_distance_km", bus_distance_km=58.2),
            _row("min_allowed_share", allowed_share=0.234),
            _row("min_area_ha", area_ha=12.5),
            _row("max_land_cost_usd_per_ha", land_cost_usd_per_ha=12_000.0),
            _row("too_small_for_min_campus", max_it_mw=40.0),
            _row("outside_region"),
            _row("excluded_land"),
            _row("no_climate_data"),
            _row("outside_designated_zones"),
        ]
    )
    got = list(screen_reasons(_scenario(), c))
    assert got[0] == ""
    # by hand: 58.2 km kept to one decimal (50.3 km must not read as "50 km, more than
    # the 50 km allowed"); the limit is the scenario's 50 km, a whole number
    assert got[1] == (
        "58.2 km from the nearest substation (bus 12), more than the 50 km allowed "
        "(candidates.max_bus_distance_km)"
    )
    # 0.234 of the cell = 23.4 %; the rule asks 0.5 = 50 %
    assert got[2] == (
        "only 23.4% of the cell is allowed land, less than the 50% required "
        "(candidates.min_allowed_share)"
    )
    assert got[3] == (
        "12.5 ha of allowed land, less than the 20 ha required (candidates.min_area_ha)"
    )
    assert got[4] == (
        "land at 12,000 USD/ha, more than the 10,000 USD/ha allowed "
        "(candidates.max_land_cost_usd_per_ha)"
    )
    assert got[5] == (
        "room for 40 MW IT, less than the smallest campus of 100 MW (campus.min_campus_mw)"
    )
    assert "outside the region" in got[6]
    assert "excluded land" in got[7]
    assert "no climate data" in got[8]
    assert "designated policy zone" in got[9]
    # no reason is the bare rule code, and every rule of RULES is covered above
    assert set(c["screened_out"]) - {""} == set(RULES)
    for text, rule in zip(got[1:], c["screened_out"][1:], strict=True):
        assert text != rule and not text.startswith("screened out by")


def test_a_site_big_enough_for_the_campus_but_not_a_module_names_the_module():
    c = pd.DataFrame([_row("too_small_for_min_campus", max_it_mw=120.0)])
    sc = _scenario()
    sc.campus.module_mw = 150.0  # 120 MW >= the 100 MW minimum, < one 150 MW module
    (text,) = screen_reasons(sc, c)
    assert text == "room for 120 MW IT, less than one 150 MW module (campus.module_mw)"


def test_growth_and_policy_zone_labels_cannot_be_mistaken():
    assert growth_zone_label("Z02") == "GZ02"
    assert growth_zone_label("GZ02") == "GZ02"
    assert growth_zone_label("") == "" and growth_zone_label(None) == ""
    assert policy_zone_label("Z2") == "policy zone Z2"
    assert policy_zone_label("") == ""
    assert growth_zone_label("Z2") != policy_zone_label("Z2")


def test_class_codes_read_with_their_names():
    names = class_names({"4": "urban", "x": "ignored", 1: "rangeland"})
    assert names == {4: "urban", 1: "rangeland"}
    assert class_label(4, names) == "4 urban"
    assert class_label(3, names) == "class 3"


# --------------------------------------------------------------------------- a whole plan


@pytest.fixture(scope="module")
def named_plan(tmp_path_factory):
    """The tiny region of tests/test_plan.py with a campus water cap, a land-class raster
    (1 km pixels: class 1, and class 4 "urban", excluded, in the 3 km x 3 km north-west
    corner, far from the sites) and a third site S9 on that corner (screened out)."""
    import rasterio
    import yaml
    from rasterio.transform import from_origin
    from test_plan import CRS, X0, Y0, at, write_region

    d = tmp_path_factory.mktemp("names")
    scenario = write_region(d)
    cls = np.ones((20, 60), dtype="uint8")
    cls[:3, :3] = 4
    with rasterio.open(
        d / "land_class.tif",
        "w",
        driver="GTiff",
        height=20,
        width=60,
        count=1,
        dtype="uint8",
        crs=CRS,
        transform=from_origin(X0, Y0 + 20_000, 1000, 1000),
        nodata=0,
    ) as ds:
        ds.write(cls, 1)
    sites = gpd.read_file(d / "tiny.gpkg", layer="sites")
    s9 = gpd.GeoDataFrame(
        {"site_id": ["S9"], "name": ["corner"], "area_ha": [500.0]}, geometry=[at(1, 19)], crs=CRS
    )
    pd.concat([sites, s9], ignore_index=True).to_file(d / "tiny.gpkg", layer="sites")
    sc = yaml.safe_load(scenario.read_text())
    sc["layers"]["land_class"] = {
        "path": "land_class.tif",
        "exclude_classes": [4],
        "class_names": {4: "urban"},
    }
    sc["water"] = {"cap_m3_per_day": 1_000_000}
    scenario.write_text(yaml.safe_dump(sc, sort_keys=False))
    out = d / "plan"
    siting.plan(scenario, out=out)
    return out


def test_the_water_cap_check_says_what_was_required_and_achieved(named_plan):
    man = json.loads((named_plan / "manifest.json").read_text())
    checks = {c["check"]: c for c in man["verification"]}
    cap = checks["campus water cap"]
    assert cap["ok"] is True
    # reference from the written table: the most water in any year, summed over sites
    sc = pd.read_csv(named_plan / "schedule.csv")
    by_year = sc.groupby("year")["water_m3_per_day"].sum()
    worst_year = int(by_year.idxmax())
    assert cap["said"] == (
        f"campus water use within the cap: {by_year.max():,.0f} of 1,000,000 m3/day in the "
        f"worst year ({worst_year})"
    )
    # every check says something in words
    assert all(c["said"] for c in man["verification"]), [
        c["check"] for c in man["verification"] if not c["said"]
    ]
    page = render_report(named_plan).read_text(encoding="utf-8")
    ver = page[page.index('id="verification"') :]
    ver = ver[: ver.index("</section>")]
    assert "worst excess" not in ver and "what was required and found" in ver
    assert f"{by_year.max():,.0f} of 1,000,000 m3/day" in ver


def test_a_failed_check_in_an_old_manifest_says_by_how_much(named_plan, tmp_path):
    import shutil

    plan = tmp_path / "plan"
    shutil.copytree(named_plan, plan)
    man = json.loads((plan / "manifest.json").read_text())
    man["verification"] = [
        {"check": "campus water cap", "ok": False, "worst": 3.25, "unit": "m3/day"},
        {"check": "whole modules", "ok": True, "worst": -0.001, "unit": "MW"},
    ]
    (plan / "manifest.json").write_text(json.dumps(man))
    page = render_report(plan).read_text(encoding="utf-8")
    assert "over the rule by 3.250 m3/day" in page  # 3 decimals, as before
    assert "within the rule everywhere" in page


def test_screened_candidates_carry_their_reason_in_words(named_plan):
    cands = gpd.read_file(named_plan / "plan.gpkg", layer="candidates")
    out = cands[cands["status"] == "screened_out"]
    assert "screen_reason" not in cands.columns  # said once, in `reason`
    assert not cands["reason"].str.startswith("screened out by").any()
    # S9 stands on the class-4 corner: excluded land, said so (the old text: "screened out
    # by excluded_land")
    assert out["site_id"].tolist() == ["S9"]
    (reason,) = out["reason"]
    assert reason.startswith("screened out: on excluded land") and "exclude_classes" in reason


def test_the_land_class_legend_lists_codes_with_names_not_a_ramp(named_plan):
    page = render_map(named_plan).read_text(encoding="utf-8")
    data = json.loads(re.search(r"var D = (\{.*?\});\n", page, re.S).group(1))
    (lc,) = [r for r in data["rasters"] if r["key"] == "land_class"]
    # the fixture's raster holds codes 1 (allowed, unnamed) and 4 (excluded, named "urban")
    assert [(c[0], c[1], c[3]) for c in lc["classes"]] == [
        (1, "class 1", False),
        (4, "4 urban", True),
    ]
    leg = data["legend"]
    entry = leg[leg.index("data-layer='Suitability: land class'") :]
    entry = entry[: entry.index("</div>")]
    assert "class 1" in entry and "4 urban (excluded)" in entry
    assert "ramp" not in entry and "1.0 to 4.0" not in entry


def test_growth_zones_are_gz_everywhere(named_plan):
    """One ID per growth zone, written and shown: ``GZ01``... in plan.gpkg, the report and
    the map, never to be confused with a policy zone such as ``Z2``."""
    from siting.render.html import growth_zone_label

    zones = gpd.read_file(named_plan / "plan.gpkg", layer="zones")
    assert len(zones) and zones["zone_id"].str.match(r"^GZ\d\d$").all()
    page = render_report(named_plan).read_text(encoding="utf-8")
    sec = page[page.index('<section id="zones">') :]
    sec = sec[: sec.index("</section>")]
    assert "<th>growth zone</th>" in sec or ">growth zone<" in sec
    for z in zones["zone_id"]:
        assert z in sec
    sites = page[page.index('<section id="sites">') :]
    assert "policy zone (scenario)" in sites[: sites.index("</section>")]
    mp = render_map(named_plan).read_text(encoding="utf-8")
    assert f"Growth zone {zones['zone_id'].iloc[0]}" in mp
    assert "Growth zones (GZ01 ...)" in mp
    assert "GGZ" not in page and "GGZ" not in mp
    # a plan folder written before (zone_id Z01) is shown the same way
    assert growth_zone_label("Z01") == "GZ01" and growth_zone_label("GZ01") == "GZ01"


# --------------------------------------------------------------------------- the stress table


def test_the_stress_site_table_says_not_built_never_nan():
    from siting.cli.grid_stress import _site_table

    ch = pd.DataFrame(
        [
            {
                "site_id": "S1",
                "change": "added",
                "what": "site",
                "base_first_year": None,
                "stressed_first_year": 2030,
                "base_cooling": None,
                "stressed_cooling": "evaporative",
                "base_it_mw_final": 0.0,
                "stressed_it_mw_final": 300.0,
            },
            {
                "site_id": "S2",
                "change": "dropped",
                "what": "site",
                "base_first_year": 2031,
                "stressed_first_year": None,
                "base_cooling": "air",
                "stressed_cooling": None,
                "base_it_mw_final": 200.0,
                "stressed_it_mw_final": 0.0,
            },
        ]
    )
    # a frame round-trip turns the None of a text or year column into NaN, as the real one does
    ch = ch.astype({"base_first_year": float, "stressed_first_year": float})
    assert isinstance(ch.at[0, "base_cooling"], type(None)) or pd.isna(ch.at[0, "base_cooling"])
    ch["base_cooling"] = ch["base_cooling"].astype(object).where(ch["base_cooling"].notna(), np.nan)
    con = Console(width=200, record=True)
    con.print(_site_table(SimpleNamespace(site_changes=ch)))
    text = con.export_text()
    assert "nan" not in text
    assert "not built -> evaporative" in text and "air -> not built" in text
    assert "not built -> 2030" in text and "2031 -> not built" in text


def test_the_stress_upgrade_table_says_not_taken_never_nan_or_dash():
    from siting.cli.grid_stress import _upgrade_table

    ups = pd.DataFrame(
        [
            {"asset": "branch", "asset_id": "16", "change": "added", "base_year": np.nan,
             "stressed_year": 2029, "added_mw": 400.0, "cost_usd": 12e6},
            {"asset": "substation", "asset_id": "7", "change": "dropped", "base_year": 2031,
             "stressed_year": None, "added_mw": 100.0, "cost_usd": 3e6},
        ]
    )  # fmt: skip
    con = Console(width=200, record=True)
    con.print(_upgrade_table(SimpleNamespace(upgrades=ups)))
    text = con.export_text()
    assert "nan" not in text
    assert "not taken -> 2029" in text and "2031 -> not taken" in text


def test_grid_check_year_table_leaves_a_missing_branch_blank_not_nan():
    from siting.cli.grid_check import _named

    assert not _named(np.nan) and not _named(None) and not _named(pd.NA) and not _named("")
    assert _named("16") and _named(0)


def test_a_cap_nothing_uses_says_none_not_a_worst_year():
    from siting.results.verify import _within_cap

    # by hand: no use in either year -> no "worst year" to name
    assert _within_cap("potable water use", np.zeros(2), 5000.0, "m3/day", [2030, 2031]) == (
        "potable water use within the cap: none in any year (the cap 5,000 m3/day)"
    )
    assert _within_cap("campus water use", np.array([10.0, 41_200.0]), 5e4, "m3/day", [1, 2]) == (
        "campus water use within the cap: 41,200 of 50,000 m3/day in the worst year (2)"
    )
