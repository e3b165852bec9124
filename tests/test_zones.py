"""Growth zones (siting.results.zones): a hand-worked grouping, the polygons, and the written files.

The hand case, in UTM 14N with coordinates in km from an origin (all sites are points, so
each site's disc has the corridor radius, 2 km), planning years 2030, 2035, 2040:

======  =========  =====  ===========  =============================  ======
site    at (km)    bus    cooling      IT MW 2030 / 2035 / 2040       water
======  =========  =====  ===========  =============================  ======
A       (0, 0)     1      evaporative  100 / 200 / 200                W2
B       (30, 0)    2      air          0 / 100 / 300                  -
C       (100, 0)   7      liquid       0 / 0 / 50                     -
D       (200, 0)   7      evaporative  0 / 150 / 150                  W1
E       (320, 0)   8      evaporative  100 / 100 / 100                W1
F       (600, 0)   9      air          0 / 0 / 400                    -
======  =========  =====  ===========  =============================  ======

With ``distance_km = 30``:

- A and B are exactly 30 km apart: joined by distance (the rule is "within", inclusive).
- C and D are 100 km apart but both connect to bus 7: joined by the shared bus.
- D and E are 120 km apart, on different buses, but both draw on source W1: joined by
  the shared water source; so C, D and E form one zone (single linkage is transitive).
- F is 280 km from E, shares nothing: alone.

Final MW: {A, B} 200 + 300 = 500; {F} 400; {C, D, E} 50 + 150 + 100 = 300; so GZ01 =
{A, B}, GZ02 = {F}, GZ03 = {C, D, E}.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import yaml
from shapely.geometry import LineString, Point
from test_plan import at, write_region

import siting
from siting.config.scenario import GrowthZones, scenario_from_dict
from siting.results.plan import _write_geojson, gpkg_ready
from siting.results.zones import PLACE_NAME_KM, growth_zones, zone_columns

CRS = "EPSG:32614"
KM = 1000.0
X0, Y0 = 300 * KM, 3500 * KM
YEARS = [2030, 2035, 2040]
SCRIPT = "<script>alert(1)</script>"


def pt(x_km: float, y_km: float) -> Point:
    return Point(X0 + x_km * KM, Y0 + y_km * KM)


SITE_AT = {"A": (0, 0), "B": (30, 0), "C": (100, 0), "D": (200, 0), "E": (320, 0), "F": (600, 0)}
SITE_BUS = {"A": "1", "B": "2", "C": "7", "D": "7", "E": "8", "F": "9"}
COOLING = {"A": "evaporative", "B": "air", "C": "liquid", "D": "evaporative"}
COOLING |= {"E": "evaporative", "F": "air"}
IT_MW = {
    "A": (100, 200, 200),
    "B": (0, 100, 300),
    "C": (0, 0, 50),
    "D": (0, 150, 150),
    "E": (100, 100, 100),
    "F": (0, 0, 400),
}
BUS_AT = {"1": (0, 5), "2": (30, 5), "7": (150, 5), "8": (320, 5), "9": (600, 5)}
SOURCE_AT = {"W1": (260, 0), "W2": (0, -10)}
# (site, source): (m3/day in each year it is in service, pipeline cost [USD])
LINKS = {("A", "W2"): (1000.0, 2e6), ("D", "W1"): (600.0, 3e6), ("E", "W1"): (400.0, 4e6)}


def hand_case(order=None):
    ids = order or list(SITE_AT)
    sites = gpd.GeoDataFrame(
        {
            "x": [X0 + SITE_AT[s][0] * KM for s in ids],
            "y": [Y0 + SITE_AT[s][1] * KM for s in ids],
            "bus_id": [SITE_BUS[s] for s in ids],
            "fixed_cost_usd": [10e6] * len(ids),
        },
        geometry=[pt(*SITE_AT[s]) for s in ids],
        index=pd.Index(ids, name="site_id"),
        crs=CRS,
    )
    srows, wrows = [], []
    for s in ids:
        for t, y in enumerate(YEARS):
            mw = IT_MW[s][t]
            if mw <= 0 and (t == 0 or IT_MW[s][t - 1] <= 0):
                continue  # like extract: rows from the first year in service
            water = sum(v[0] for (ss, _), v in LINKS.items() if ss == s) if mw > 0 else 0.0
            srows.append(
                {
                    "site_id": s,
                    "year": y,
                    "it_mw": float(mw),
                    "cooling": COOLING[s],
                    "bus_id": SITE_BUS[s],
                    "water_m3_per_day": water,
                }
            )
            for (ss, w), (m3, usd) in LINKS.items():
                if ss == s and mw > 0:
                    wrows.append(
                        (s, w, y, m3, usd, LineString([pt(*SITE_AT[s]), pt(*SOURCE_AT[w])]))
                    )
    schedule = pd.DataFrame(srows)
    wl = gpd.GeoDataFrame(
        pd.DataFrame(
            [r[:5] for r in wrows],
            columns=["site_id", "source_id", "year", "m3_per_day", "pipeline_usd"],
        ),
        geometry=[r[5] for r in wrows],
        crs=CRS,
    )
    buses = gpd.GeoDataFrame(
        geometry=[pt(*v) for v in BUS_AT.values()],
        index=pd.Index(list(BUS_AT), name="bus_id"),
        crs=CRS,
    )
    branches = pd.DataFrame(
        {
            "branch_id": ["b12", "b89", "b34"],
            "from_bus": ["1", "8", "3"],
            "to_bus": ["2", "9", "4"],
        }
    )
    upgrades = pd.DataFrame(
        [
            ("branch", "b12", 2035, 200.0, 10e6, 3.0),
            ("substation", "7", 2040, 100.0, 5e6, 4.0),
            ("branch", "b89", 2040, 50.0, 1e6, 2.0),
            ("branch", "b34", 2030, 10.0, 1.0, 1.0),  # touches no zone bus
        ],
        columns=["asset", "asset_id", "year", "added_mw", "cost_usd", "lead_time_years"],
    )
    places = gpd.GeoDataFrame(
        {
            "name": ["Alphaville", "Betaburg", SCRIPT, "Farawayville"],
            "population": [1000, 90_000, 10, 5_000_000],
        },
        # Alphaville 25 km from A and B; Betaburg 29.2 km (farther, though larger);
        # SCRIPT 14.1 km from C; Farawayville 80 km from F (beyond 50 km)
        geometry=[pt(15, 20), pt(15, -25), pt(110, 10), pt(600, 80)],
        index=pd.Index(["p1", "p2", "p3", "p4"], name="place_id"),
        crs=CRS,
    )
    return sites, schedule, wl, buses, upgrades, branches, places


def zones_of(order=None, **kw):
    sites, schedule, wl, buses, upgrades, branches, places = hand_case(order)
    args = dict(
        distance_km=30.0,
        corridor_buffer_km=2.0,
        places=places,
        crs=CRS,
        years=YEARS,
        branches=branches,
        capex_usd_per_mw=1e6,
    )
    args.update(kw)
    return growth_zones(sites, schedule, wl, buses, upgrades, **args)


@pytest.fixture(scope="module")
def zones():
    return zones_of()


def test_hand_case_grouping_and_figures(zones):
    z = zones.set_index("zone_id")
    assert list(z.index) == ["GZ01", "GZ02", "GZ03"]
    assert list(zones.columns) == [*zone_columns(YEARS), "geometry"]
    assert z["site_ids"].to_dict() == {"GZ01": "A, B", "GZ02": "F", "GZ03": "C, D, E"}
    assert z["n_sites"].tolist() == [2, 1, 3]
    # MW per year, summed by hand from the table in the module docstring
    assert z.loc["GZ01", ["it_mw_2030", "it_mw_2035", "it_mw_2040"]].tolist() == [100, 300, 500]
    assert z.loc["GZ02", ["it_mw_2030", "it_mw_2035", "it_mw_2040"]].tolist() == [0, 0, 400]
    assert z.loc["GZ03", ["it_mw_2030", "it_mw_2035", "it_mw_2040"]].tolist() == [100, 250, 300]
    assert z["it_mw_final"].tolist() == [500, 400, 300]
    assert z["first_year"].tolist() == [2030, 2040, 2030]
    assert z["cooling_mix"].to_dict() == {
        "GZ01": "air 300 MW; evaporative 200 MW",
        "GZ02": "air 400 MW",
        "GZ03": "evaporative 250 MW; liquid 50 MW",
    }
    assert z["water_sources"].to_dict() == {"GZ01": "W2", "GZ02": "", "GZ03": "W1"}
    assert z["water_m3_per_day_final"].tolist() == [1000.0, 0.0, 1000.0]
    assert z["bus_ids"].to_dict() == {"GZ01": "1, 2", "GZ02": "9", "GZ03": "7, 8"}
    # b12 (1-2) is GZ01's; b89 (8-9) touches GZ02 and GZ03, so both list it; b34 no zone's
    assert z["upgrades"].to_dict() == {
        "GZ01": "branch b12 +200 MW (2035)",
        "GZ02": "branch b89 +50 MW (2040)",
        "GZ03": "branch b89 +50 MW (2040); substation 7 +100 MW (2040)",
    }
    assert z["upgrades_cost_usd"].tolist() == [10e6, 1e6, 6e6]
    # capex: final MW x 1 M USD/MW + 10 M USD per site + each pipeline once
    assert z["capex_usd"].tolist() == pytest.approx(
        [500e6 + 20e6 + 2e6, 400e6 + 10e6, 300e6 + 30e6 + 3e6 + 4e6]
    )


def test_names_come_from_the_nearest_place_in_reach(zones):
    assert PLACE_NAME_KM == 50.0
    # Alphaville is nearer than the larger Betaburg; the <script> name is kept verbatim
    # (escaping is the map's job); Farawayville is 80 km from F, so GZ02 is named by its bus
    assert zones["name"].tolist() == ["Alphaville", "Zone 2 (near bus 9)", SCRIPT]
    # without places every zone is named by the bus of its largest site
    bare = zones_of(places=None)
    assert bare["name"].tolist() == [
        "Zone 1 (near bus 2)",
        "Zone 2 (near bus 9)",
        "Zone 3 (near bus 7)",
    ]


def test_the_grouping_does_not_depend_on_the_order_of_the_sites(zones):
    shuffled = zones_of(order=["F", "E", "C", "B", "D", "A"])
    pd.testing.assert_frame_equal(shuffled.drop(columns="geometry"), zones.drop(columns="geometry"))
    assert all(shuffled.geometry.geom_equals_exact(zones.geometry, tolerance=1e-6))


def test_distance_rule_is_inclusive_and_follows_the_setting():
    # A-B are exactly 30 km apart: joined at 30 km, apart at 29.9 km; then F 400 MW, B and
    # {C, D, E} 300 MW each (the tie goes to the smaller first site_id), A 200 MW
    assert zones_of(distance_km=29.9)["site_ids"].tolist() == ["F", "B", "C, D, E", "A"]
    # at 150 km every gap from A to E (30, 70, 100, 120 km) is bridged, E-F (280 km) is not
    assert sorted(zones_of(distance_km=150)["site_ids"]) == ["A, B, C, D, E", "F"]


def test_polygons_are_valid_and_hold_their_sites_buses_and_water(zones):
    assert zones.crs == CRS
    assert zones.is_valid.all()
    assert (zones.geom_type == "Polygon").all()  # each zone is one connected piece
    for r in zones.itertuples():
        members = r.site_ids.split(", ")
        for s in members:
            assert r.geometry.contains(pt(*SITE_AT[s])), (r.zone_id, s)
            assert r.geometry.contains(pt(*BUS_AT[SITE_BUS[s]])), (r.zone_id, s)
        for w in filter(None, r.water_sources.split(", ")):
            assert r.geometry.contains(pt(*SOURCE_AT[w])), (r.zone_id, w)
        for s in set(SITE_AT) - set(members):
            assert not r.geometry.contains(pt(*SITE_AT[s])), (r.zone_id, s)
    # corridors are narrow: far from every site, bus and source the zone stays
    # within the 2 km corridor (smoothed) of the line it follows
    z3 = zones.set_index("zone_id").geometry["GZ03"]
    assert z3.contains(pt(260, 0))
    assert not z3.contains(pt(260, 5))


def test_empty_plan_gives_an_empty_layer_with_the_columns(tmp_path):
    sites, schedule, wl, buses, upgrades, branches, places = hand_case()
    z = growth_zones(
        sites.iloc[:0],
        schedule.iloc[:0],
        wl.iloc[:0],
        buses,
        upgrades.iloc[:0],
        distance_km=30,
        corridor_buffer_km=2,
        places=places,
        crs=CRS,
        years=YEARS,
    )
    assert len(z) == 0 and list(z.columns) == [*zone_columns(YEARS), "geometry"]
    gpkg_ready(z).to_file(tmp_path / "p.gpkg", layer="zones", driver="GPKG", engine="pyogrio")
    back = gpd.read_file(tmp_path / "p.gpkg", layer="zones")
    assert len(back) == 0 and list(back.columns) == list(z.columns)
    _write_geojson(z, tmp_path / "zones.geojson")
    doc = json.loads((tmp_path / "zones.geojson").read_text())
    assert doc["type"] == "FeatureCollection" and doc["features"] == []


def test_zones_geojson_is_epsg4326_and_round_trips(zones, tmp_path):
    path = tmp_path / "zones.geojson"
    _write_geojson(zones, path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection"
    assert "crs" not in doc  # RFC 7946: WGS 84 longitude, latitude; no crs member
    assert len(doc["features"]) == 3
    for f in doc["features"]:
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
        xy = np.array(
            [c for ring in f["geometry"]["coordinates"] for c in ring], dtype=float
        ).reshape(-1, 2)
        # UTM 14N: longitudes about -99 to -93, latitudes about 31.6
        assert (xy[:, 0] > -102).all() and (xy[:, 0] < -90).all()
        assert (xy[:, 1] > 31).all() and (xy[:, 1] < 32.5).all()
    assert doc["features"][2]["properties"]["name"] == SCRIPT
    back = gpd.read_file(path)
    assert back.crs.to_epsg() == 4326
    cols = [c for c in zones.columns if c != "geometry"]
    pd.testing.assert_frame_equal(back[cols], zones[cols].reset_index(drop=True), check_dtype=False)
    # 7 decimals (about 1 cm) survive the trip (RFC 7946 may turn the rings round)
    gap = shapely.hausdorff_distance(back.geometry.to_numpy(), zones.to_crs(4326).geometry)
    assert (gap < 1e-6).all()
    assert back.to_crs(CRS).is_valid.all()


def test_growth_zones_settings_are_validated():
    assert GrowthZones().distance_km == 30 and GrowthZones().corridor_buffer_km == 2
    base = {"name": "x", "years": [2030], "layers": {}}
    sc = scenario_from_dict({**base, "growth_zones": {"distance_km": 12.5}})
    assert sc.growth_zones.distance_km == 12.5
    for bad in ({"distance_km": 0}, {"corridor_buffer_km": -1}, {"distance_mi": 3}):
        with pytest.raises(siting.core.errors.ScenarioError):
            scenario_from_dict({**base, "growth_zones": bad})
    with pytest.raises(ValueError):
        zones_of(distance_km=0)


def _with_places(tmp_path, **growth):
    scenario = write_region(tmp_path)
    gpd.GeoDataFrame(
        {"place_id": ["p1", "p2"], "name": [SCRIPT, "Eastham"], "population": [100, 50]},
        geometry=[at(30, 12), at(58, 15)],
        crs=CRS,
    ).to_file(tmp_path / "tiny.gpkg", layer="places")
    text = yaml.safe_load(scenario.read_text())
    text["layers"]["places"] = {"path": "tiny.gpkg"}
    if growth:
        text["growth_zones"] = growth
    scenario.write_text(yaml.safe_dump(text))
    return scenario


def test_the_tiny_plan_writes_the_zones_layer_and_geojson(tmp_path):
    # tests/test_plan.py's strip: S2 (31, 11) on bus 2 with water W2, S3 (54, 11) on bus 3;
    # 2030: 100 MW at S3, 2031: + 100 MW at S2. They are 23 km apart: one zone at the
    # default 30 km, named after the place nearest either site (SCRIPT is 1.4 km from S2,
    # Eastham 5.7 km from S3).
    out = tmp_path / "out"
    p = siting.plan(_with_places(tmp_path), out=out)
    assert "zones" in set(gpd.list_layers(out / "plan.gpkg")["name"])
    z = gpd.read_file(out / "plan.gpkg", layer="zones")
    assert z["zone_id"].tolist() == ["GZ01"]
    assert z["site_ids"].tolist() == ["S2, S3"]
    assert z["name"].tolist() == [SCRIPT]
    assert (z["it_mw_2030"].tolist(), z["it_mw_2031"].tolist()) == ([100.0], [200.0])
    assert z["first_year"].tolist() == [2030]
    assert z["bus_ids"].tolist() == ["2, 3"] and z["water_sources"].tolist() == ["W2"]
    assert z["water_m3_per_day_final"].iloc[0] == pytest.approx(
        p.schedule.loc[p.schedule["year"] == 2031, "water_m3_per_day"].sum()
    )
    assert z["capex_usd"].iloc[0] > 200 * 11.7e6  # at least the campus capex
    assert z.crs == CRS and z.is_valid.all()
    for s in ("S2", "S3"):
        assert z.geometry.iloc[0].contains(p.sites.geometry[s])
    gj = gpd.read_file(out / "zones.geojson")
    assert gj.crs.to_epsg() == 4326 and gj["name"].tolist() == [SCRIPT]
    assert gj.geometry.iloc[0].contains(p.sites.to_crs(4326).geometry["S2"])

    # 10 km apart at most: two zones, S2 (with the water) and S3, each named by its place
    p10 = siting.plan(_with_places(tmp_path, distance_km=10), write=False)
    z10 = p10.zones.set_index("site_ids")
    assert z10["name"].to_dict() == {"S2": SCRIPT, "S3": "Eastham"}
    assert z10["water_sources"].to_dict() == {"S2": "W2", "S3": ""}
    # equal final MW (100 each): the tie goes to the smaller site_id
    assert p10.zones["zone_id"].tolist() == ["GZ01", "GZ02"]
    assert p10.zones["site_ids"].tolist() == ["S2", "S3"]


def test_zone_polygons_and_plan_tables_agree_on_a_real_run_without_places(tmp_path):
    p = siting.plan(write_region(tmp_path), write=False)
    assert p.zones is not None and len(p.zones) == 1
    z = p.zones.iloc[0]
    assert z["name"] == "Zone 1 (near bus 2)"  # equal MW: S2 (bus 2) before S3
    assert shapely.is_valid(z.geometry)
    assert z["it_mw_final"] == pytest.approx(p.it_mw_by_year().iloc[-1])
