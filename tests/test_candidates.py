"""Candidate sites: generation, screening and links, checked against hand-computed figures.

The synthetic region is 30 km x 20 km in UTM zone 14N (EPSG:32614, metres), with its
south-west corner at (500 km, 3,500 km), so 10 km cells are six: rows 350-351, columns
50-52 (``c_350_050`` ... ``c_351_052``), and every whole cell's representative point is
its centre. Rasters have 1 km pixels aligned with the cells (pixel row 0 is the top,
y 3,519-3,520 km; column 0 is x 500-501 km).

- Exclusion X1 covers the west half of ``c_350_050`` (x 500-505 km, y 3,500-3,510 km).
- Land class 4 (excluded) fills 5 x 5 pixels of ``c_351_052`` (x 520-525, y 3,515-3,520).
- Land cost is 2,000 USD/ha, 9,000 in ``c_351_051``.
- Bus A (345 kV) at (512, 3,505) km; bus B (138 kV) at (527, 3,515) km.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
import yaml
from rasterio.transform import from_origin
from shapely.geometry import Point, box

from siting.candidates.generate import RULES, Candidates, build_candidates, reach_km
from siting.config.scenario import load_scenario
from siting.core.errors import InputError
from siting.inputs import load_layers

REPO = Path(__file__).resolve().parents[1]
CRS = "EPSG:32614"
KM = 1000.0
X0, Y0 = 500 * KM, 3500 * KM
CELLS = ["c_350_050", "c_350_051", "c_350_052", "c_351_050", "c_351_051", "c_351_052"]


@pytest.fixture
def reference_climate() -> dict[str, float]:
    """The climate candidates take when a scenario has no climate rasters."""
    from siting.candidates.cooling import REFERENCE_CLIMATE_C

    return REFERENCE_CLIMATE_C


def at(x_km: float, y_km: float) -> Point:
    """A point at (x, y) km from the region's south-west corner."""
    return Point(X0 + x_km * KM, Y0 + y_km * KM)


def rect(x0: float, y0: float, x1: float, y1: float):
    """A rectangle given in km from the region's south-west corner."""
    return box(X0 + x0 * KM, Y0 + y0 * KM, X0 + x1 * KM, Y0 + y1 * KM)


def gdf(data: dict, geometry: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(data, geometry=geometry, crs=CRS)


def merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


class Tiny:
    """The synthetic region, written into ``root``; edit attributes, then :meth:`build`."""

    def __init__(self, root: Path):
        self.root = root
        self.gpkg = root / "tiny.gpkg"
        self.vectors: dict[str, gpd.GeoDataFrame] = {
            "boundary": gdf({"name": ["tiny"]}, [rect(0, 0, 30, 20)]),
            "buses": gdf(
                {"bus_id": ["A", "B"], "voltage_kv": [345.0, 138.0], "bus_type": [3, 1]},
                [at(12, 5), at(27, 15)],
            ),
            "branches": gdf(
                {
                    "branch_id": ["L1"],
                    "from_bus": ["A"],
                    "to_bus": ["B"],
                    "x_pu": [0.01],
                    "rating_mw": [500.0],
                },
                [None],
            ),
            "generators": gdf(
                {
                    "gen_id": ["G1"],
                    "bus_id": ["A"],
                    "p_max_mw": [2000.0],
                    "marginal_cost_usd_per_mwh": [30.0],
                },
                [None],
            ),
            "exclusions": gdf({"exclusion_id": ["X1"], "kind": ["protected"]}, [rect(0, 0, 5, 10)]),
        }
        cls = np.ones((20, 30), dtype="uint8")
        cls[0:5, 20:25] = 4
        cost = np.full((20, 30), 2000.0, dtype="float32")
        cost[0:10, 10:20] = 9000.0
        self.rasters: dict[str, np.ndarray] = {"land_class": cls, "land_cost_usd_per_ha": cost}
        self.scenario: dict = {
            "name": "tiny",
            "crs": CRS,
            "years": [2030],
            "layers": {
                "grid": {"path": "tiny.gpkg"},
                "boundary": {"path": "tiny.gpkg"},
                "exclusions": [{"path": "tiny.gpkg"}],
                "land_class": {"path": "land_class.tif", "exclude_classes": [4]},
                "land_cost": {"path": "land_cost_usd_per_ha.tif"},
            },
            "candidates": {"cell_km": 10},
        }

    def add_layer(self, name: str, frame: gpd.GeoDataFrame, *, in_scenario: bool = True) -> None:
        self.vectors[name] = frame
        if in_scenario:
            self.scenario["layers"][name] = {"path": "tiny.gpkg"}

    def write_raster(self, name: str, arr: np.ndarray, *, crs=CRS, transform=None) -> None:
        nodata = 0 if arr.dtype == np.uint8 else -9999.0
        with rasterio.open(
            self.root / f"{name}.tif",
            "w",
            driver="GTiff",
            height=arr.shape[0],
            width=arr.shape[1],
            count=1,
            dtype=arr.dtype,
            crs=crs,
            nodata=nodata,
            transform=transform or from_origin(X0, Y0 + 20 * KM, KM, KM),
        ) as ds:
            ds.write(arr, 1)

    def write(self, **overrides) -> Path:
        self.gpkg.unlink(missing_ok=True)
        for name, frame in self.vectors.items():
            frame.to_file(self.gpkg, layer=name, driver="GPKG", engine="pyogrio")
        for name, arr in self.rasters.items():
            self.write_raster(name, arr)
        path = self.root / "scenario.yaml"
        path.write_text(yaml.safe_dump(merge(self.scenario, overrides), sort_keys=False))
        return path

    def build(self, **overrides) -> Candidates:
        scenario = load_scenario(self.write(**overrides))
        return build_candidates(scenario, load_layers(scenario))


@pytest.fixture
def tiny(tmp_path: Path) -> Tiny:
    return Tiny(tmp_path)


def removed(c: Candidates) -> dict[str, list[str]]:
    """Rule -> sorted IDs it removed (rules that removed none left out)."""
    out = c.all.loc[c.all["screened_out"] != ""]
    return {r: sorted(g.index) for r, g in out.groupby("screened_out")}


# --------------------------------------------------------------------------- generation


def test_cells_ids_area_and_allowed_share(tiny: Tiny) -> None:
    c = tiny.build()
    assert list(c.all.index) == CELLS
    assert c.all.index.name == "site_id"
    a = c.all
    # X1 covers exactly the west half of c_350_050: 50 of 100 km2 allowed
    assert a.loc["c_350_050", "area_ha"] == pytest.approx(5000.0)
    assert a.loc["c_350_050", "allowed_share"] == pytest.approx(0.5)
    assert a.loc["c_350_050", "geometry"].equals(rect(5, 0, 10, 10))
    # land class 4 on 25 of the 100 pixels of c_351_052: 75 km2 allowed
    assert a.loc["c_351_052", "area_ha"] == pytest.approx(7500.0)
    assert a.loc["c_351_052", "allowed_share"] == pytest.approx(0.75)
    for cid in ("c_350_051", "c_350_052", "c_351_050", "c_351_051"):
        assert a.loc[cid, "area_ha"] == pytest.approx(10_000.0)
    # representative points: the allowed half's centre, and whole cells' centres
    assert (a.loc["c_350_050", "x"], a.loc["c_350_050", "y"]) == (X0 + 7500, Y0 + 5000)
    assert (a.loc["c_351_052", "x"], a.loc["c_351_052", "y"]) == (X0 + 25_000, Y0 + 15_000)
    # lon/lat of the representative point
    lon, lat = gpd.GeoSeries([at(7.5, 5)], crs=CRS).to_crs("EPSG:4326").iloc[0].coords[0]
    assert a.loc["c_350_050", "lon"] == pytest.approx(lon)
    assert a.loc["c_350_050", "lat"] == pytest.approx(lat)
    # max IT: 5,000 ha / 0.45 ha/MW = 11,111 MW, capped at max_campus_mw 1,000
    assert (a["max_it_mw"] == 1000.0).all()
    assert (a["fixed_cost_usd"] == 25e6).all()
    assert c.all.crs.equals(c.sites.crs)
    assert "screened_out" not in c.sites.columns
    assert [r for r, _ in c.rules] == list(RULES)
    assert sum(n for _, n in c.rules) == 0 and len(c.sites) == 6


def test_land_cost_and_climate_defaults(tiny: Tiny, reference_climate) -> None:
    c = tiny.build()
    cost = c.sites["land_cost_usd_per_ha"]
    assert cost["c_351_051"] == pytest.approx(9000.0)
    assert cost.drop("c_351_051").to_numpy() == pytest.approx(2000.0)
    for name, value in reference_climate.items():
        if name in c.sites:
            assert (c.sites[name] == value).all()


def test_ids_stable_across_runs_and_anchored_to_the_grid(tiny: Tiny) -> None:
    first = tiny.build()
    second = tiny.build()
    pd.testing.assert_frame_equal(
        pd.DataFrame(first.all.drop(columns="geometry")),
        pd.DataFrame(second.all.drop(columns="geometry")),
    )
    assert first.all.geometry.geom_equals_exact(second.all.geometry, 0).all()
    # the region grows by a cell to the west: the old cells keep their IDs
    tiny.vectors["boundary"] = gdf({"name": ["wider"]}, [rect(-10, 0, 30, 20)])
    wider = tiny.build()
    assert set(CELLS) < set(wider.all.index)
    assert {"c_350_049", "c_351_049"} <= set(wider.all.index)
    assert wider.all.loc[CELLS, "area_ha"].to_numpy() == pytest.approx(
        first.all.loc[CELLS, "area_ha"].to_numpy()
    )


def test_cells_clipped_to_a_region_edge(tiny: Tiny) -> None:
    # the region stops 2 km into column 52: those cells are 2 km x 10 km slivers, share 0.2
    tiny.vectors["boundary"] = gdf({"name": ["tiny"]}, [rect(0, 0, 22, 20)])
    c = tiny.build()
    assert c.all.loc["c_350_052", "area_ha"] == pytest.approx(2000.0)
    assert c.all.loc["c_350_052", "allowed_share"] == pytest.approx(0.2)
    # c_351_052's sliver holds land-class 4 pixels in 2 of its 10 columns x 5 of 10 rows
    assert c.all.loc["c_351_052", "area_ha"] == pytest.approx(2000.0 * (1 - 10 / 20))
    assert removed(c) == {"min_allowed_share": ["c_350_052", "c_351_052"]}


# --------------------------------------------------------------------------- attributes


def test_nearest_eligible_bus(tiny: Tiny) -> None:
    c = tiny.build()
    s = c.sites
    # c_351_052's centre (525, 3515) km: B is 2 km east; A is sqrt(13^2 + 10^2) km away
    assert s.loc["c_351_052", "bus_id"] == "B"
    assert s.loc["c_351_052", "bus_distance_km"] == pytest.approx(2.0)
    assert s.loc["c_350_051", "bus_id"] == "A"
    assert s.loc["c_350_051", "bus_distance_km"] == pytest.approx(3.0)
    assert s.loc["c_350_052", "bus_id"] == "B"  # sqrt(2^2 + 10^2) = 10.198 < 13 to A
    assert s.loc["c_350_052", "bus_distance_km"] == pytest.approx(math.hypot(2, 10))
    # only 345 kV buses are eligible: everything attaches to A
    c = tiny.build(candidates={"min_bus_voltage_kv": 200})
    assert set(c.sites["bus_id"]) == {"A"}
    assert c.sites.loc["c_351_052", "bus_distance_km"] == pytest.approx(math.hypot(13, 10))


def test_no_eligible_bus_is_an_input_error(tiny: Tiny) -> None:
    with pytest.raises(InputError, match="min_bus_voltage_kv") as e:
        tiny.build(candidates={"min_bus_voltage_kv": 400})
    assert "345 kV" in str(e.value)


def test_zones_and_regions(tiny: Tiny) -> None:
    tiny.add_layer(
        "zones",
        gdf(
            {
                "zone_id": ["Z3", "Z1", "Z2"],
                "kind": ["preferred", "designated", "preferred"],
            },
            # Z3 (preferred) and Z1 (designated) both hold c_350_051's centre (515, 3505)
            [rect(10, 0, 20, 10), rect(12, 2, 18, 8), rect(22, 2, 28, 8)],
        ),
    )
    tiny.add_layer(
        "regions",
        gdf({"region_id": ["WEST", "EAST"]}, [rect(0, 0, 12, 20), rect(12, 0, 30, 20)]),
    )
    c = tiny.build()
    s = c.sites
    assert s.loc["c_350_051", ["zone_id", "zone_kind"]].tolist() == ["Z1", "designated"]
    assert s.loc["c_350_052", ["zone_id", "zone_kind"]].tolist() == ["Z2", "preferred"]
    assert s.loc["c_351_050", ["zone_id", "zone_kind"]].tolist() == ["", ""]
    assert s["region_id"].to_dict() == {
        "c_350_050": "WEST",
        "c_350_051": "EAST",
        "c_350_052": "EAST",
        "c_351_050": "WEST",
        "c_351_051": "EAST",
        "c_351_052": "EAST",
    }
    # require mode with min_share 1: only the designated zone's cell stays
    c = tiny.build(policy={"zones": {"mode": "require"}})
    assert list(c.sites.index) == ["c_350_051"]
    assert dict(c.rules)["outside_designated_zones"] == 5
    # min_share below 1 screens nothing (the model enforces the share)
    c = tiny.build(policy={"zones": {"mode": "require", "min_share": 0.5}})
    assert dict(c.rules)["outside_designated_zones"] == 0


def test_climate_zonal_mean_and_no_data(tiny: Tiny) -> None:
    cols = np.broadcast_to(np.arange(30, dtype="float32"), (20, 30)).copy()
    dry = cols.copy()
    dry[0:10, 0:10] = -9999.0  # c_351_050 has no climate data
    tiny.rasters.update(
        {
            "dry_bulb_mean_c": dry,
            "dry_bulb_p99_c": np.full((20, 30), 35.0, dtype="float32"),
            "wet_bulb_mean_c": np.full((20, 30), 5.0, dtype="float32"),
            "wet_bulb_p99_c": np.full((20, 30), 25.0, dtype="float32"),
        }
    )
    tiny.scenario["layers"]["climate"] = {
        k: {"path": f"{k}.tif"}
        for k in ("dry_bulb_mean_c", "dry_bulb_p99_c", "wet_bulb_mean_c", "wet_bulb_p99_c")
    }
    c = tiny.build()
    a = c.all
    # pixel value = its column; a cell's mean is the mean of its columns
    assert a.loc["c_350_051", "dry_bulb_mean_c"] == pytest.approx(14.5)  # columns 10-19
    assert a.loc["c_350_050", "dry_bulb_mean_c"] == pytest.approx(7.0)  # allowed half: 5-9
    assert a.loc["c_351_052", "dry_bulb_mean_c"] == pytest.approx(24.5)
    assert (c.sites["wet_bulb_p99_c"] == 25.0).all()
    assert np.isnan(a.loc["c_351_050", "dry_bulb_mean_c"])
    assert removed(c) == {"no_climate_data": ["c_351_050"]}


def test_a_warming_offset_shifts_the_climate_and_keeps_wet_bulb_below_dry_bulb(
    tiny: Tiny,
) -> None:
    """Rasters: dry-bulb mean 20, design 35; wet-bulb mean 12, design 25 [C] everywhere."""
    for k, v in (
        ("dry_bulb_mean_c", 20.0),
        ("dry_bulb_p99_c", 35.0),
        ("wet_bulb_mean_c", 12.0),
        ("wet_bulb_p99_c", 25.0),
    ):
        tiny.rasters[k] = np.full((20, 30), v, dtype="float32")
    files = {
        k: {"path": f"{k}.tif"}
        for k in ("dry_bulb_mean_c", "dry_bulb_p99_c", "wet_bulb_mean_c", "wet_bulb_p99_c")
    }
    tiny.scenario["layers"]["climate"] = {**files, "warming_c": 2.0}
    s = tiny.build().sites
    assert (s["dry_bulb_mean_c"] == 22.0).all() and (s["dry_bulb_p99_c"] == 37.0).all()
    assert (s["wet_bulb_mean_c"] == 14.0).all() and (s["wet_bulb_p99_c"] == 27.0).all()
    # wet-bulb warming set apart; one pushed above the dry-bulb is held at the dry-bulb
    tiny.scenario["layers"]["climate"] = {**files, "warming_c": 1.0, "wet_bulb_warming_c": 9.0}
    c = tiny.build()
    s = c.sites
    assert (s["dry_bulb_mean_c"] == 21.0).all() and (s["wet_bulb_mean_c"] == 21.0).all()
    assert (s["wet_bulb_p99_c"] == 34.0).all()  # 25 + 9, below the 36 C design dry-bulb
    assert any("climate warmed uniformly" in n for n in c.notes)


def test_rasters_in_another_crs_are_read_by_pixel_centre(tiny: Tiny) -> None:
    """A geographic land-cost raster, value = 1000 x longitude + 101,000: zonal mean ~ centre."""
    lon0, lat0, lon1, lat1 = (
        gpd.GeoSeries([rect(-2, -2, 32, 22)], crs=CRS).to_crs("EPSG:4326").total_bounds
    )
    res = 0.005
    w, h = math.ceil((lon1 - lon0) / res), math.ceil((lat1 - lat0) / res)
    lon = lon0 + (np.arange(w) + 0.5) * res
    arr = np.broadcast_to((1000.0 * lon + 101_000.0).astype("float32"), (h, w)).copy()
    tiny.rasters.pop("land_cost_usd_per_ha")
    tiny.write()
    tiny.write_raster(
        "land_cost_usd_per_ha", arr, crs="EPSG:4326", transform=from_origin(lon0, lat1, res, res)
    )
    scenario = load_scenario(tiny.root / "scenario.yaml")
    c = build_candidates(scenario, load_layers(scenario))
    expected = 1000.0 * c.all["lon"] + 101_000.0
    assert np.abs(c.all["land_cost_usd_per_ha"] - expected).max() < 3.0  # about 3 m of longitude


# --------------------------------------------------------------------------- screening


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"candidates": {"min_allowed_share": 0.6}}, {"min_allowed_share": ["c_350_050"]}),
        # areas 5,000 (c_350_050) and 7,500 ha (c_351_052) are below 7,600
        ({"candidates": {"min_area_ha": 7600}}, {"min_area_ha": ["c_350_050", "c_351_052"]}),
        # c_351_050's centre (505, 3515) is sqrt(7^2 + 10^2) = 12.2 km from A; others < 11
        ({"candidates": {"max_bus_distance_km": 11}}, {"max_bus_distance_km": ["c_351_050"]}),
        (
            {"candidates": {"max_land_cost_usd_per_ha": 5000}},
            {"max_land_cost_usd_per_ha": ["c_351_051"]},
        ),
        # 60 ha/MW: c_350_050 holds 5,000 / 60 = 83 MW < min_campus_mw 100; c_351_052 125 MW
        ({"candidates": {"land_ha_per_mw": 60}}, {"too_small_for_min_campus": ["c_350_050"]}),
        # a 150 MW module does not fit in c_351_052's 125 MW
        (
            {
                "candidates": {"land_ha_per_mw": 60},
                "campus": {"module_mw": 150, "min_campus_mw": 0},
            },
            {"too_small_for_min_campus": ["c_350_050", "c_351_052"]},
        ),
        # charged to the first rule: c_350_050 fails both share and size
        (
            {"candidates": {"min_allowed_share": 0.6, "land_ha_per_mw": 60}},
            {"min_allowed_share": ["c_350_050"]},
        ),
    ],
)
def test_each_rule_removes_a_known_count(tiny: Tiny, overrides: dict, expected: dict) -> None:
    c = tiny.build(**overrides)
    assert removed(c) == expected
    counts = dict(c.rules)
    assert [r for r, _ in c.rules] == list(RULES)
    for rule in RULES:
        assert counts[rule] == len(expected.get(rule, []))
    assert len(c.all) - len(c.sites) == sum(counts.values())


def test_no_survivor_names_the_rule(tiny: Tiny) -> None:
    with pytest.raises(InputError) as e:
        tiny.build(candidates={"max_bus_distance_km": 1})
    msg = str(e.value)
    assert "rule 'max_bus_distance_km' removed the last of the 6 candidates" in msg
    assert "max_bus_distance_km 6" in msg and "min_allowed_share 0" in msg


def test_wholly_excluded_cell_counts_under_min_allowed_share(tiny: Tiny) -> None:
    tiny.vectors["exclusions"] = gdf(
        {"exclusion_id": ["X1", "X2"], "kind": ["protected", "water"]},
        # X2 overlaps X1 and covers the rest of c_350_050
        [rect(0, 0, 5, 10), rect(4, 0, 10, 10)],
    )
    c = tiny.build(candidates={"min_allowed_share": 0})
    assert c.all.loc["c_350_050", "area_ha"] == 0.0
    assert removed(c) == {"min_allowed_share": ["c_350_050"]}


# --------------------------------------------------------------------------- user sites


def test_user_points_and_polygons(tiny: Tiny) -> None:
    nan = float("nan")
    tiny.add_layer(
        "sites",
        gdf(
            {
                "site_id": ["P1", "P2", "P3", "P4", "Q1", "Q2", "Q3", "Q4"],
                "name": ["Point one", "", "", "", "", "", "", ""],
                "area_ha": [nan, nan, nan, nan, nan, 50.0, nan, nan],
                "max_it_mw": [nan, nan, nan, nan, nan, 120.0, nan, nan],
                "land_cost_usd_per_ha": [nan, nan, nan, nan, nan, 777.0, nan, nan],
                "fixed_cost_usd": [nan, nan, nan, nan, nan, 1e6, nan, nan],
            },
            [
                at(15, 5),  # P1: c_350_051's centre
                at(2, 5),  # P2: inside exclusion X1
                at(100, 5),  # P3: outside the region
                at(22.5, 17.5),  # P4: on a land-class 4 pixel
                rect(3, 0, 7, 2),  # Q1: 800 ha, half of it in X1
                rect(12, 12, 14, 14),  # Q2: the user's area and limits
                rect(28, 0, 32, 1),  # Q3: half outside the region
                rect(20, 13, 25, 17),  # Q4: 2,000 ha, rows 3-6 of which 3-4 are class 4
            ],
        ),
    )
    c = tiny.build()
    a = c.all
    assert list(a.index) == ["P1", "P2", "P3", "P4", "Q1", "Q2", "Q3", "Q4"]
    assert a["kind"].tolist() == ["point"] * 4 + ["polygon"] * 4
    assert removed(c) == {"outside_region": ["P3"], "excluded_land": ["P2", "P4"]}
    s = c.sites
    # a point: enough land for max_campus_mw, 1,000 MW x 0.45 ha/MW
    assert s.loc["P1", "area_ha"] == pytest.approx(450.0)
    assert s.loc["P1", "max_it_mw"] == pytest.approx(1000.0)
    assert s.loc["P1", "name"] == "Point one"
    assert s.loc["Q1", "name"] == "Q1"
    assert s.loc["P1", "geometry"].equals(at(15, 5))
    assert (s.loc["P1", "x"], s.loc["P1", "y"]) == (X0 + 15_000, Y0 + 5_000)
    assert s.loc["P1", "land_cost_usd_per_ha"] == pytest.approx(2000.0)
    # Q1: 800 ha less the 400 ha inside X1
    assert s.loc["Q1", "area_ha"] == pytest.approx(400.0)
    assert s.loc["Q1", "allowed_share"] == pytest.approx(0.5)
    assert s.loc["Q1", "max_it_mw"] == pytest.approx(400.0 / 0.45)
    assert s.loc["Q1", "geometry"].equals(rect(5, 0, 7, 2))
    # Q2: the user's values win; max IT = min(1000, 50 / 0.45 = 111.1, 120)
    assert s.loc["Q2", "area_ha"] == 50.0
    assert s.loc["Q2", "max_it_mw"] == pytest.approx(50.0 / 0.45)
    assert s.loc["Q2", "land_cost_usd_per_ha"] == 777.0
    assert s.loc["Q2", "fixed_cost_usd"] == 1e6
    assert s.loc["Q1", "fixed_cost_usd"] == 25e6
    # Q3: clipped to the region, 2 km x 1 km
    assert s.loc["Q3", "area_ha"] == pytest.approx(200.0)
    # Q4: half its pixels are land class 4
    assert s.loc["Q4", "area_ha"] == pytest.approx(1000.0)
    assert [r for r, _ in c.rules] == list(RULES)


def test_user_polygon_wholly_excluded(tiny: Tiny) -> None:
    tiny.add_layer(
        "sites",
        gdf({"site_id": ["IN", "OK"]}, [rect(1, 1, 3, 3), rect(11, 1, 13, 3)]),
    )
    c = tiny.build()
    assert removed(c) == {"excluded_land": ["IN"]}
    assert list(c.sites.index) == ["OK"]


# --------------------------------------------------------------------------- links


def test_water_links_reach_and_cap(tiny: Tiny) -> None:
    tiny.add_layer(
        "water_sources",
        gdf(
            {
                "source_id": ["W1", "W2", "W3", "W4", "W5"],
                "kind": ["reclaimed"] * 5,
                "capacity_m3_per_day": [1000.0] * 5,
                "cost_usd_per_m3": [0.5] * 5,
                "max_pipeline_km": [5.0, 5.0, 5.0, 3.0, 50.0],
            },
            # distances from c_350_051's centre (515, 3505): 1, 2, 3 (north), 4 km; W5 far
            [at(16, 5), at(17, 5), at(15, 8), at(19, 5), at(90, 5)],
        ),
    )
    c = tiny.build(candidates={"max_water_links": 2})
    wl = c.water_links
    assert list(wl.columns) == ["site_id", "source_id", "distance_km"]
    # W4 is 4 km away but reaches only 3 km; the cap keeps the two nearest of W1-W3
    got = wl[wl["site_id"] == "c_350_051"]
    assert got["source_id"].tolist() == ["W1", "W2"]
    assert got["distance_km"].tolist() == pytest.approx([1.0, 2.0])
    # c_351_051's centre (515, 3515) is 7 km from W3; c_350_052's (525, 3505) 8 km from W2
    assert set(wl["site_id"]) == {"c_350_051"}
    # W5 reaches 50 km but lies 65+ km from every cell
    c = tiny.build(candidates={"max_water_links": 5})
    got = c.water_links
    assert got["source_id"].tolist() == ["W1", "W2", "W3"]
    c = tiny.build(candidates={"max_water_links": 0})
    assert c.water_links.empty and list(c.water_links.columns) == list(wl.columns)


def _demand_layer(tiny: Tiny) -> None:
    tiny.add_layer(
        "demand_regions",
        gdf(
            {"region_id": ["D1", "D2"], "demand_mw": [50.0, 20.0]},
            [at(15, 5), at(200, 5)],
        ),
    )


def test_demand_links_latency_reach(tiny: Tiny) -> None:
    _demand_layer(tiny)
    c = tiny.build(
        policy={"demand": {"max_latency_ms": 0.18, "fibre_km_per_ms": 200, "route_factor": 1.5}}
    )
    # reach = 0.18 ms x 200 km/ms / 2 (round trip) / 1.5 (route over straight line) = 12 km
    assert reach_km(load_scenario(tiny.root / "scenario.yaml").policy.demand) == pytest.approx(12.0)
    dl = c.demand_links
    assert list(dl.columns) == ["region_id", "site_id", "distance_km", "cost_usd_per_mw_year"]
    # from D1 (515, 3505): c_350_051 0 km, c_350_050 7.5, c_350_052 and c_351_051 10;
    # c_351_050 and c_351_052 sqrt(10^2 + 10^2) = 14.1 km are out of reach; D2 is far
    got = dict(zip(dl["site_id"], dl["distance_km"], strict=True))
    assert got == pytest.approx(
        {"c_350_051": 0.0, "c_350_050": 7.5, "c_350_052": 10.0, "c_351_051": 10.0}
    )
    assert set(dl["region_id"]) == {"D1"}
    # cost = 200 USD/(MW km year) x distance
    assert (dl["cost_usd_per_mw_year"] == 200.0 * dl["distance_km"]).all()


def test_demand_costs_csv_replaces_listed_pairs(tiny: Tiny) -> None:
    _demand_layer(tiny)
    (tiny.root / "costs.csv").write_text(
        "region_id,site_id,cost_usd_per_mw\nD1,c_350_050,999\nD2,c_350_051,5\n"
    )
    c = tiny.build(policy={"demand": {"max_latency_ms": 0.18, "costs_csv": "costs.csv"}})
    dl = c.demand_links.set_index("site_id")
    assert dl.loc["c_350_050", "cost_usd_per_mw_year"] == 999.0
    assert dl.loc["c_350_052", "cost_usd_per_mw_year"] == pytest.approx(2000.0)
    # D2-c_350_051 is out of reach: the CSV does not add a link
    assert set(c.demand_links["region_id"]) == {"D1"}
    assert any("1 listed pairs are out of reach" in n for n in c.notes)


def test_bad_demand_costs_csv_names_file_row_and_field(tiny: Tiny) -> None:
    _demand_layer(tiny)
    path = tiny.root / "costs.csv"
    path.write_text(
        "region_id,site_id,cost_usd_per_mw\n"
        "D9,c_350_050,5\n"  # row 1: unknown region
        "D1,c_999_999,5\n"  # row 2: unknown site
        "D1,c_350_051,abc\n"  # row 3: not a number
        "D1,c_350_052,-4\n"  # row 4: negative
        "D1,c_351_051,\n"  # row 5: empty
    )
    with pytest.raises(InputError) as e:
        tiny.build(policy={"demand": {"costs_csv": "costs.csv"}})
    problems = {(p.row, p.field) for p in e.value.problems}
    assert problems == {
        (1, "region_id"),
        (2, "site_id"),
        (3, "cost_usd_per_mw"),
        (4, "cost_usd_per_mw"),
        (5, "cost_usd_per_mw"),
    }
    assert all(p.file == str(path) for p in e.value.problems)
    msg = str(e.value)
    assert "row 1 (id 'D9/c_350_050'), field 'region_id'" in msg
    assert "'abc'" in msg and "-4" in msg


def test_demand_costs_csv_missing_column(tiny: Tiny) -> None:
    _demand_layer(tiny)
    (tiny.root / "costs.csv").write_text("region_id,site_id,cost\nD1,c_350_050,5\n")
    with pytest.raises(InputError, match="missing column.*cost_usd_per_mw"):
        tiny.build(policy={"demand": {"costs_csv": "costs.csv"}})


def test_no_demand_policy_gives_empty_links(tiny: Tiny) -> None:
    c = tiny.build()
    assert c.demand_links.empty
    assert list(c.demand_links.columns) == [
        "region_id",
        "site_id",
        "distance_km",
        "cost_usd_per_mw_year",
    ]
    assert c.heat_links.empty
    assert list(c.heat_links.columns) == ["sink_id", "site_id", "distance_km"]
    assert c.water_links.empty


def test_heat_links(tiny: Tiny) -> None:
    tiny.add_layer(
        "heat_sinks",
        gdf(
            {
                "sink_id": ["S1", "S2"],
                "demand_mw": [20.0, 5.0],
                "price_usd_per_mwh": [15.0, 20.0],
                "max_km": [5.0, 1.5],
            },
            # S1 4 km north of c_350_051's centre; S2 a polygon 1 km east of c_350_052's
            [at(15, 9), rect(26, 4, 28, 6)],
        ),
    )
    c = tiny.build()
    hl = c.heat_links
    assert list(hl.columns) == ["sink_id", "site_id", "distance_km"]
    assert hl[["sink_id", "site_id"]].values.tolist() == [
        ["S1", "c_350_051"],
        ["S2", "c_350_052"],
    ]
    assert hl["distance_km"].tolist() == pytest.approx([4.0, 1.0])


# --------------------------------------------------------------------------- the demo


@pytest.fixture(scope="module")
def demo() -> tuple:
    scenario = load_scenario(REPO / "models" / "demo.yaml")
    layers = load_layers(scenario)
    return scenario, layers


def test_demo_region(demo, reference_climate) -> None:
    scenario, layers = demo
    c = build_candidates(scenario, layers)
    assert len(c.all) > 0 and len(c.sites) > 0 and len(c.water_links) > 0
    assert [r for r, _ in c.rules] == list(RULES)
    assert len(c.all) - len(c.sites) == sum(n for _, n in c.rules)
    assert c.sites.index.is_unique
    # every kept site has an eligible bus within max_bus_distance_km, recomputed here
    s = c.sites
    limit = scenario.candidates.max_bus_distance_km
    assert (s["bus_distance_km"] <= limit).all()
    bus = layers.grid.buses.geometry.loc[s["bus_id"]]
    d_km = np.hypot(bus.x.to_numpy() - s["x"].to_numpy(), bus.y.to_numpy() - s["y"].to_numpy())
    assert d_km / 1000.0 == pytest.approx(s["bus_distance_km"].to_numpy())
    # no kept cell's representative point lies in an exclusion polygon
    pts = shapely.points(s[["x", "y"]].to_numpy())
    excl = shapely.union_all(layers.exclusions.geometry.to_numpy())
    assert not shapely.within(pts, excl).any()
    assert shapely.within(pts, layers.region).all()
    # water links are in reach, capped, sorted
    wl = c.water_links
    reach = layers.water_sources.loc[wl["source_id"], "max_pipeline_km"].to_numpy()
    assert (wl["distance_km"].to_numpy() <= reach + 1e-9).all()
    assert wl.groupby("site_id").size().max() <= scenario.candidates.max_water_links
    assert wl.equals(wl.sort_values(["site_id", "distance_km"]).reset_index(drop=True))
    assert s[["dry_bulb_mean_c", "wet_bulb_p99_c", "land_cost_usd_per_ha"]].notna().all().all()
    assert (s["area_ha"] > 0).all() and (s["allowed_share"] >= 0.5).all()
