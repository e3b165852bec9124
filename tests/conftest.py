"""Shared fixtures: a tiny, valid, hand-checkable region written to a temporary folder.

The region is four buses in a square near Abilene, Texas (lon -100, lat 32), with
two generators, two water sources, one exclusion, one zone, one region, four
rasters and a scenario file. Tests that need bad input take it and break one thing.
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import yaml
from rasterio.transform import from_origin
from shapely.geometry import LineString, Point, box

# Every test runs the HiGHS adapter's told changes strictly (siting.solve.told): a model
# changed between two solves without telling the adapter raises, and each told update is
# checked against Pyomo's own scan. The variable reaches the processes tests start too.
os.environ["SITING_TOLD_STRICT"] = "1"

import siting.solve.told  # noqa: E402  (after the variable: it is read at import)

siting.solve.told.STRICT = True

REPO = Path(__file__).resolve().parents[1]
PGLIB = (REPO / ".." / "shared" / "data" / "pglib").resolve()

LON0, LAT0 = -100.0, 32.0


class Region:
    """Writes a small region; each ``*_gdf`` attribute may be edited before ``write()``."""

    def __init__(self, root: Path):
        self.root = root
        self.gpkg = root / "region.gpkg"
        d = 0.2  # degrees between buses
        self.buses = gpd.GeoDataFrame(
            {
                "bus_id": ["A", "B", "C", "D"],
                "name": ["Alpha", "Bravo", "Charlie", "Delta"],
                "voltage_kv": [345.0, 345.0, 138.0, 138.0],
                "load_mw": [100.0, 50.0, 80.0, 20.0],
                "load_mw_2030": [120.0, 60.0, 90.0, 25.0],
                "bus_type": [3, 1, 1, 1],
            },
            geometry=[
                Point(LON0, LAT0),
                Point(LON0 + d, LAT0),
                Point(LON0 + d, LAT0 + d),
                Point(LON0, LAT0 + d),
            ],
            crs="EPSG:4326",
        )
        self.branches = gpd.GeoDataFrame(
            {
                "branch_id": ["L1", "L2", "L3", "L4"],
                "from_bus": ["A", "B", "C", "D"],
                "to_bus": ["B", "C", "D", "A"],
                "x_pu": [0.01, 0.02, 0.02, 0.01],
                "rating_mw": [500.0, 200.0, 200.0, 500.0],
            },
            geometry=[None, None, None, None],
            crs="EPSG:4326",
        )
        self.generators = gpd.GeoDataFrame(
            {
                "gen_id": ["G1", "G2"],
                "bus_id": ["A", "C"],
                "p_max_mw": [300.0, 150.0],
                "marginal_cost_usd_per_mwh": [20.0, 45.0],
                "fuel": ["wind", "gas_cc"],
            },
            geometry=[None, None],
            crs="EPSG:4326",
        )
        self.water_sources = gpd.GeoDataFrame(
            {
                "source_id": ["W1", "W2"],
                "name": ["Alpha WRF", "Charlie potable"],
                "kind": ["reclaimed", "potable"],
                "capacity_m3_per_day": [20000.0, 5000.0],
                "cost_usd_per_m3": [0.4, 1.2],
                "max_pipeline_km": [40.0, 20.0],
            },
            geometry=[Point(LON0 + 0.05, LAT0 + 0.05), Point(LON0 + 0.15, LAT0 + 0.15)],
            crs="EPSG:4326",
        )
        self.exclusions = gpd.GeoDataFrame(
            {"exclusion_id": ["X1"], "kind": ["protected"], "name": ["Park"]},
            geometry=[box(LON0 + 0.05, LAT0 + 0.05, LON0 + 0.1, LAT0 + 0.1)],
            crs="EPSG:4326",
        )
        self.zones = gpd.GeoDataFrame(
            {"zone_id": ["Z1"], "name": ["Growth zone"], "kind": ["designated"]},
            geometry=[box(LON0, LAT0, LON0 + 0.1, LAT0 + 0.1)],
            crs="EPSG:4326",
        )
        self.regions = gpd.GeoDataFrame(
            {"region_id": ["R1"], "name": ["All"]},
            geometry=[box(LON0 - 0.1, LAT0 - 0.1, LON0 + 0.3, LAT0 + 0.3)],
            crs="EPSG:4326",
        )
        self.boundary = gpd.GeoDataFrame(
            {"name": ["Square"]},
            geometry=[box(LON0 - 0.1, LAT0 - 0.1, LON0 + 0.3, LAT0 + 0.3)],
            crs="EPSG:4326",
        )
        self.places = gpd.GeoDataFrame(
            {"place_id": ["P1"], "name": ["Abilene"], "population": [125000]},
            geometry=[Point(LON0 + 0.1, LAT0 + 0.1)],
            crs="EPSG:4326",
        )
        # rasters: 0.01 degree cells over the boundary
        self.raster_origin = (LON0 - 0.1, LAT0 + 0.3)
        self.raster_res = 0.01
        n = 40
        yy, xx = np.mgrid[0:n, 0:n]
        self.rasters: dict[str, np.ndarray] = {
            "dry_bulb_mean_c": (18.0 + 0.05 * xx + 0.02 * yy).astype("float32"),
            "dry_bulb_p99_c": (38.0 + 0.05 * xx).astype("float32"),
            "wet_bulb_mean_c": (10.0 + 0.05 * xx).astype("float32"),
            "wet_bulb_p99_c": (22.0 + 0.05 * xx).astype("float32"),
            "land_cost_usd_per_ha": np.full((n, n), 5000.0, dtype="float32"),
        }
        cls = np.ones((n, n), dtype="uint8")
        cls[:10, :10] = 4  # urban corner: 100 of 1,600 cells
        self.land_class = cls
        self.raster_crs = "EPSG:4326"
        self.raster_nodata: float | None = -9999.0
        self.scenario: dict = {
            "name": "tiny",
            "years": [2027, 2030],
            "layers": {
                "grid": {"path": "region.gpkg"},
                "water_sources": {"path": "region.gpkg"},
                "exclusions": [{"path": "region.gpkg"}],
                "land_class": {"path": "land_class.tif", "exclude_classes": [4]},
                "land_cost": {"path": "land_cost_usd_per_ha.tif"},
                "zones": {"path": "region.gpkg"},
                "regions": {"path": "region.gpkg"},
                "boundary": {"path": "region.gpkg"},
                "places": {"path": "region.gpkg"},
                "climate": {
                    k: {"path": f"{k}.tif"}
                    for k in (
                        "dry_bulb_mean_c",
                        "dry_bulb_p99_c",
                        "wet_bulb_mean_c",
                        "wet_bulb_p99_c",
                    )
                },
            },
            "targets": {"it_mw_by_year": {2030: 200}},
        }

    LAYERS = (
        "buses",
        "branches",
        "generators",
        "water_sources",
        "exclusions",
        "zones",
        "regions",
        "boundary",
        "places",
    )

    def write_raster(
        self,
        name: str,
        arr: np.ndarray,
        *,
        crs: str | None = "default",
        nodata: float | None | str = "default",
        origin=None,
    ) -> Path:
        """Write one single-band GeoTIFF into the region folder."""
        path = self.root / f"{name}.tif"
        ox, oy = origin or self.raster_origin
        kw = dict(
            driver="GTiff",
            height=arr.shape[0],
            width=arr.shape[1],
            count=1,
            dtype=arr.dtype,
            transform=from_origin(ox, oy, self.raster_res, self.raster_res),
        )
        c = self.raster_crs if crs == "default" else crs
        if c is not None:
            kw["crs"] = c
        nd = (0 if arr.dtype == np.uint8 else self.raster_nodata) if nodata == "default" else nodata
        if nd is not None:
            kw["nodata"] = nd
        with rasterio.open(path, "w", **kw) as ds:
            ds.write(arr, 1)
        return path

    def write(self) -> Path:
        """Write every layer, raster and the scenario; return the scenario path."""
        self.gpkg.unlink(missing_ok=True)
        for name in self.LAYERS:
            gdf = getattr(self, name)
            if gdf is None:
                continue
            gdf.to_file(self.gpkg, layer=name, driver="GPKG", engine="pyogrio")
        for name, arr in self.rasters.items():
            self.write_raster(name, arr)
        self.write_raster("land_class", self.land_class)
        path = self.root / "scenario.yaml"
        path.write_text(yaml.safe_dump(self.scenario, sort_keys=False))
        return path


@pytest.fixture
def region(tmp_path: Path) -> Region:
    """A fresh, valid tiny region (call ``.write()`` after any edits)."""
    return Region(tmp_path)


@pytest.fixture(scope="session")
def pglib_dir() -> Path:
    """The shared pglib-opf cases, or skip with the reason."""
    if not PGLIB.is_dir():
        pytest.skip(
            f"{PGLIB} not found: the pglib cases are only beside the project checkout "
            "(../shared/data/pglib), not in a user's clone"
        )
    return PGLIB


def line(a: Point, b: Point) -> LineString:
    """A straight line between two points."""
    return LineString([a, b])


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium through playwright (one per test module); skips with the
    reason when either is missing (``.ci/run`` installs chromium)."""
    from browser import ARGS, CHROMIUM

    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is missing"
    )
    if not CHROMIUM.exists():  # pragma: no cover
        pytest.skip("no /usr/bin/chromium (apt-get install chromium; .ci/run does)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def pytest_collection_modifyitems(config, items):
    """Tests marked ``slow`` run after the others (the fast set first), in their order."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is not None)
