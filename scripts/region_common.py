"""Helpers shared by the embedded-region scripts (``make_demo_region.py``, ``make_uk_region.py``).

Only code that is the same for every region lives here: seeded random streams, geodesic
distances, ellipses drawn in a projected CRS, geometry clean-up, the Delaunay line planner,
per-unit line parameters, the DC power flow with the proportional-dispatch rule, the
global-land-mask reader, Stull's wet bulb and the byte-reproducible GeoPackage and GeoTIFF
writers. Each region script keeps its own geography, grid rules and rasters.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import shapely
from pyproj import Geod, Transformer
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


def dc_angles(
    n_bus: int,
    f: np.ndarray,
    t: np.ndarray,
    x_pu: np.ndarray,
    p_mw: np.ndarray,
    slack: int,
    base_mva: float = 100.0,
) -> np.ndarray:
    """Bus voltage angles of a DC power flow [rad], 0 at ``slack`` (arguments as dc_flows;
    ``p_mw`` may be (n_bus, k) for k cases at once)."""
    bvec = 1.0 / x_pu
    rows = np.concatenate([f, t, f, t])
    cols = np.concatenate([f, t, t, f])
    vals = np.concatenate([bvec, bvec, -bvec, -bvec])
    bmat = coo_matrix((vals, (rows, cols)), shape=(n_bus, n_bus)).tocsr()
    keep = np.flatnonzero(np.arange(n_bus) != slack)
    lu = splu(bmat[keep][:, keep].tocsc())
    p = np.asarray(p_mw, float)
    theta = np.zeros(p.shape)
    theta[keep] = lu.solve(p[keep] / base_mva)
    return theta


def dc_flows(
    n_bus: int,
    f: np.ndarray,
    t: np.ndarray,
    x_pu: np.ndarray,
    p_mw: np.ndarray,
    slack: int,
    base_mva: float = 100.0,
) -> np.ndarray:
    """Branch flows of a DC power flow [MW] (from -> to), angles 0 at ``slack``.

    Parameters
    ----------
    n_bus
        Number of buses.
    f, t
        From and to bus index per branch.
    x_pu
        Series reactance per branch [pu on ``base_mva``].
    p_mw
        Net injection per bus [MW] (generation - load); should sum to about 0.
    slack
        Reference bus index.
    """
    theta = dc_angles(n_bus, f, t, x_pu, p_mw, slack, base_mva)
    if theta.ndim == 2:
        return (theta[f] - theta[t]) / x_pu[:, None] * base_mva
    return (theta[f] - theta[t]) / x_pu * base_mva


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
    fl = dc_flows(
        len(buses),
        branches["from_bus"].map(idx).to_numpy(),
        branches["to_bus"].map(idx).to_numpy(),
        branches["x_pu"].to_numpy(float),
        inj,
        slack,
    )
    return np.abs(fl) / branches["rating_mw"].to_numpy(float)


# ------------------------------------------------------------------------------------------
# climate, regions, writing
# ------------------------------------------------------------------------------------------
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
