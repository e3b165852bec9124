"""A national-scale raster instance: six GeoTIFFs and ~100,000 candidate cells over them.

Seeded, so every run writes the same files (into a temporary folder; never committed):

- an irregular "country" of about 900,000 km2 (a star-shaped outline about 530 km in
  radius) in the US National Atlas Albers projection (EPSG:5070, metres);
- 3 km candidate cells anchored at multiples of 3 km, as
  :func:`siting.candidates.generate.build_candidates` lays them (``row = floor(y / 3 km)``), clipped
  to the outline and with 300 round exclusion areas (lakes, parks; 2 to 15 km across) cut
  out, in ``cells.gpkg`` (layer ``cells``: ``site_id, row, col, whole`` and the polygon);
- six 1,500 x 1,500 rasters of 1 km pixels (tiled, deflate-compressed): the four climate
  rasters ``dry_bulb_mean_c, dry_bulb_p99_c, wet_bulb_mean_c, wet_bulb_p99_c`` [C] and
  ``land_cost_usd_per_ha`` (float32, nodata -9999, a 40 km x 25 km hole of nodata inside
  the country, smaller on smaller rasters) and ``land_class`` (uint8 classes 1 to 8, no
  nodata; 4 and 7 excluded).

With ``offset_m = 0`` the pixel edges fall on the cell edges (3 x 3 pixels per whole
cell), so a whole cell's pixel-centre mean (siting) and coverage-fraction mean
(exactextract) must agree to rounding; ``offset_m = 100`` shifts the rasters so the two
rules weigh the border pixels differently.

:func:`siting_attributes` runs siting's own functions on the instance (those
:func:`~siting.candidates.generate.build_candidates`
calls); :func:`exactextract_attributes` computes
the same statistics with exactextract (the ``bench`` extra).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from pyproj import CRS
from rasterio.transform import from_origin
from scipy.ndimage import zoom

CRS_EPSG = "EPSG:5070"
#: Candidate cell side [m].
CELL_M = 3000.0
#: Raster pixel side [m].
PIXEL_M = 1000.0
#: Raster size [pixels per side].
PIXELS = 1500
#: The rasters' north-west corner [m] (a multiple of :data:`CELL_M`).
ORIGIN = (-750_000.0, 2_400_000.0)
#: Land classes counted as excluded land.
EXCLUDE_CLASSES = [4, 7]
#: Nodata value of the float rasters.
NODATA = -9999.0
CLIMATE = ("dry_bulb_mean_c", "dry_bulb_p99_c", "wet_bulb_mean_c", "wet_bulb_p99_c")
#: The mean rasters, in the order of the attribute table's columns.
MEAN_RASTERS = (*CLIMATE, "land_cost_usd_per_ha")


@dataclass(frozen=True)
class RasterInstance:
    """Paths and sizes of a written instance.

    Attributes
    ----------
    folder
        Where the files are.
    cells
        ``cells.gpkg`` (layer ``cells``).
    rasters
        Raster name -> GeoTIFF path (the five mean rasters and ``land_class``).
    n_cells, n_whole
        Candidate cells; those neither clipped nor cut.
    pixels
        Raster size (width = height) [pixels].
    offset_m
        Shift of the rasters against the cell grid [m].
    """

    folder: Path
    cells: Path
    rasters: dict[str, Path]
    n_cells: int
    n_whole: int
    pixels: int
    offset_m: float


def _smooth(rng: np.random.Generator, n: int, coarse: int = 30) -> np.ndarray:
    """A smooth random field in [0, 1] on an ``n`` x ``n`` grid (cubic zoom of noise)."""
    f = zoom(rng.random((coarse, coarse)), n / coarse, order=3)[:n, :n]
    return (f - f.min()) / (f.max() - f.min())


def _outline(cx: float, cy: float, radius_m: float) -> shapely.Polygon:
    """A star-shaped country outline around (cx, cy) [m]."""
    t = np.linspace(0.0, 2.0 * np.pi, 721)[:-1]
    r = radius_m * (1.0 + 0.12 * np.sin(3.0 * t) + 0.06 * np.cos(5.0 * t + 0.7))
    return shapely.Polygon(np.column_stack([cx + r * np.cos(t), cy + r * np.sin(t)]))


def make_cells(
    seed: int = 7,
    radius_m: float = 530_000.0,
    n_exclusions: int | None = None,
    pixels: int = PIXELS,
) -> gpd.GeoDataFrame:
    """Candidate cells over the outline: clipped to it, exclusion discs cut out.

    Parameters
    ----------
    seed
        Seed of the exclusion areas.
    radius_m
        The outline's mean radius [m] (530 km: about 100,000 cells of 3 km).
    n_exclusions
        Round exclusion areas (2 to 15 km across) cut out of the cells (default: 300 at
        530 km, as many per unit area at other radii).
    pixels
        The rasters' size [pixels per side]: the outline is centred on them.

    Returns
    -------
    geopandas.GeoDataFrame
        Index ``site_id``; ``row, col`` (grid row and column, as siting numbers them),
        ``whole`` (neither clipped nor cut) and the polygon, in :data:`CRS_EPSG`.
    """
    from siting.candidates.generate import _cut_exclusions  # the same cut as build_candidates

    rng = np.random.default_rng(seed)
    if n_exclusions is None:
        n_exclusions = max(1, round(300 * (radius_m / 530_000.0) ** 2))
    cx = ORIGIN[0] + pixels * PIXEL_M / 2.0
    cy = ORIGIN[1] - pixels * PIXEL_M / 2.0
    region = _outline(cx, cy, radius_m)
    xmin, ymin, xmax, ymax = region.bounds
    c0, c1 = int(np.floor(xmin / CELL_M)), int(np.ceil(xmax / CELL_M))
    r0, r1 = int(np.floor(ymin / CELL_M)), int(np.ceil(ymax / CELL_M))
    rr, cc = np.meshgrid(np.arange(r0, r1), np.arange(c0, c1), indexing="ij")
    rr, cc = rr.ravel(), cc.ravel()
    boxes = shapely.box(cc * CELL_M, rr * CELL_M, (cc + 1) * CELL_M, (rr + 1) * CELL_M)
    shapely.prepare(region)
    inside = shapely.contains_properly(region, boxes)
    edge = shapely.intersects(region, boxes) & ~inside
    geoms = boxes.copy()
    geoms[edge] = shapely.intersection(boxes[edge], region)
    keep = (inside | edge) & (shapely.area(geoms) > 0)
    rr, cc, geoms = rr[keep], cc[keep], geoms[keep]
    # exclusion discs, centres inside the outline's bounding box
    ex = shapely.buffer(
        shapely.points(
            cx + (rng.random(n_exclusions) - 0.5) * 2 * radius_m,
            cy + (rng.random(n_exclusions) - 0.5) * 2 * radius_m,
        ),
        rng.uniform(1000.0, 7500.0, n_exclusions),
        quad_segs=8,
    )
    cut = _cut_exclusions(geoms, gpd.GeoDataFrame(geometry=ex, crs=CRS_EPSG))
    ok = shapely.area(cut) > 0
    rr, cc, cut = rr[ok], cc[ok], cut[ok]
    whole = np.abs(shapely.area(cut) - CELL_M * CELL_M) < 1e-6
    ids = [f"c_{r:04d}_{c:04d}".replace("-", "m") for r, c in zip(rr, cc, strict=True)]
    gdf = gpd.GeoDataFrame(
        {"row": rr, "col": cc, "whole": whole},
        geometry=cut,
        crs=CRS_EPSG,
        index=pd.Index(ids, name="site_id"),
    )
    return gdf


def make_rasters(seed: int = 7, pixels: int = PIXELS) -> dict[str, np.ndarray]:
    """The six raster arrays (row 0 is the north edge).

    Parameters
    ----------
    seed
        Seed of the random fields.
    pixels
        Size [pixels per side].

    Returns
    -------
    dict
        ``dry_bulb_mean_c, dry_bulb_p99_c, wet_bulb_mean_c, wet_bulb_p99_c`` [C] and
        ``land_cost_usd_per_ha`` (float32, :data:`NODATA` in a hole) and ``land_class``
        (uint8, classes 1 to 8).
    """
    rng = np.random.default_rng(seed)
    n = pixels
    south = np.linspace(0.0, 1.0, n)[:, None] * np.ones((1, n))  # 0 north, 1 south
    dry = 4.0 + 18.0 * south + 6.0 * _smooth(rng, n) + rng.normal(0.0, 0.3, (n, n))
    dry_p99 = dry + 14.0 + 4.0 * _smooth(rng, n) + rng.normal(0.0, 0.3, (n, n))
    wet = dry - 2.0 - 5.0 * _smooth(rng, n)
    wet_p99 = np.minimum(dry_p99 - 4.0 - 6.0 * _smooth(rng, n), dry_p99)
    cost = 300.0 * np.exp(4.5 * _smooth(rng, n)) * rng.lognormal(0.0, 0.2, (n, n))
    out = {
        "dry_bulb_mean_c": dry,
        "dry_bulb_p99_c": dry_p99,
        "wet_bulb_mean_c": wet,
        "wet_bulb_p99_c": wet_p99,
        "land_cost_usd_per_ha": cost,
    }
    # a hole of nodata inside the country (40 x 25 pixels at full size) in every float raster
    hw, hh = min(40, n // 10), min(25, n // 16)
    r0, c0 = n // 2 - hh // 2, n // 2 + n // 15
    for k, a in out.items():
        a = a.astype(np.float32)
        a[r0 : r0 + hh, c0 : c0 + hw] = NODATA
        out[k] = a
    # land classes 1-8 in patches: quantiles of a smooth field, plus a little salt
    f = _smooth(rng, n, coarse=120) + 0.15 * rng.random((n, n))
    cls = np.digitize(f, np.quantile(f, np.linspace(0, 1, 9)[1:-1])) + 1
    out["land_class"] = cls.astype(np.uint8)
    return out


def write_raster_instance(
    d: str | Path,
    *,
    seed: int = 7,
    offset_m: float = 0.0,
    radius_m: float = 530_000.0,
    pixels: int = PIXELS,
) -> RasterInstance:
    """Write the instance into ``d``.

    Parameters
    ----------
    d
        Folder (made if missing).
    seed
        Seed of the rasters and the exclusion areas.
    offset_m
        Shift of the rasters east and south against the cell grid [m]; 0 aligns pixel
        edges with cell edges.
    radius_m
        The outline's mean radius [m]; 530 km gives about 100,000 cells, 75 km about 2,000.
    pixels
        Raster size [pixels per side]; at least ``2.5 * radius_m / PIXEL_M``.

    Returns
    -------
    RasterInstance
    """
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    cells = make_cells(seed, radius_m, pixels=pixels)
    cells_path = d / "cells.gpkg"
    cells.to_file(cells_path, layer="cells")
    arrays = make_rasters(seed, pixels)
    transform = from_origin(ORIGIN[0] + offset_m, ORIGIN[1] - offset_m, PIXEL_M, PIXEL_M)
    paths: dict[str, Path] = {}
    for name, a in arrays.items():
        p = d / f"{name}.tif"
        is_class = a.dtype == np.uint8
        with rasterio.open(
            p,
            "w",
            driver="GTiff",
            width=a.shape[1],
            height=a.shape[0],
            count=1,
            dtype=a.dtype,
            crs=CRS_EPSG,
            transform=transform,
            nodata=None if is_class else NODATA,
            tiled=True,
            blockxsize=256,
            blockysize=256,
            compress="deflate",
        ) as ds:
            ds.write(a, 1)
        paths[name] = p
    return RasterInstance(
        folder=d,
        cells=cells_path,
        rasters=paths,
        n_cells=len(cells),
        n_whole=int(cells["whole"].sum()),
        pixels=pixels,
        offset_m=offset_m,
    )


def load_inputs(inst: RasterInstance):
    """The cells and siting's :class:`~siting.inputs.raster.RasterLayer` of each raster.

    Reading and validating the rasters is :func:`siting.inputs.load_layers`'s work, so it
    is done here, before a benchmark's clock starts.

    Returns
    -------
    tuple
        (cells GeoDataFrame, {name: RasterLayer}).
    """
    from siting.core.errors import ProblemReport
    from siting.inputs.raster import read_raster

    cells = gpd.read_file(inst.cells, layer="cells").set_index("site_id")
    crs = CRS.from_user_input(CRS_EPSG)
    report = ProblemReport()
    layers = {
        name: read_raster(p, name, report, target_crs=crs, integer_classes=(name == "land_class"))
        for name, p in inst.rasters.items()
    }
    return cells, layers


def siting_attributes(cells: gpd.GeoDataFrame, layers: dict) -> pd.DataFrame:
    """The candidate attributes as
    :func:`~siting.candidates.generate.build_candidates` computes them.

    The same internal calls, in the same order: a ``_Zonal`` over the cells (grid rows and
    columns given, as for generated cells), the excluded-class share of ``land_class``
    (with the class at the representative point where a cell holds no pixel centre), then
    ``_zonal_or_sample`` of the land cost and the four climate rasters.

    Parameters
    ----------
    cells
        From :func:`load_inputs`.
    layers
        Raster name -> RasterLayer, from :func:`load_inputs`.

    Returns
    -------
    pandas.DataFrame
        Index ``site_id``; the five means [raster units] and ``excluded_share``
        [fraction; NaN: no land-class data].
    """
    from siting.candidates.generate import _Zonal, _zonal_or_sample

    crs = CRS.from_user_input(CRS_EPSG)
    polys = cells.geometry.to_numpy()
    rep = shapely.point_on_surface(polys)
    xy = np.column_stack([shapely.get_x(rep), shapely.get_y(rep)])
    use = shapely.area(polys) > 0
    zonal = _Zonal(polys, use, crs, 1.0, (cells["row"].to_numpy(), cells["col"].to_numpy(), CELL_M))
    out = pd.DataFrame(index=cells.index)
    lc = layers["land_class"]
    share = zonal.share(lc, EXCLUDE_CLASSES)
    at_point = lc.sample(xy[:, 0], xy[:, 1], crs)
    point_excl = np.where(np.isnan(at_point), np.nan, np.isin(at_point, EXCLUDE_CLASSES))
    out["excluded_share"] = np.where(np.isnan(share), point_excl, share)
    for name in ("land_cost_usd_per_ha", *CLIMATE):
        out[name] = _zonal_or_sample(zonal, layers[name], xy, crs)
    return out[[*MEAN_RASTERS, "excluded_share"]]


def exactextract_attributes(
    cells: gpd.GeoDataFrame,
    inst: RasterInstance,
    *,
    strategy: str = "raster-sequential",
    in_memory: bool = True,
) -> pd.DataFrame:
    """The same statistics with exactextract (pixels weighted by the covered fraction).

    One ``exact_extract`` call: ``mean`` of each of the five float rasters (nodata left
    out) and ``unique`` and ``frac`` of the land classes, whose fractions in
    :data:`EXCLUDE_CLASSES` are summed per cell.

    Parameters
    ----------
    cells
        The candidate cells.
    inst
        The instance (its raster paths).
    strategy
        exactextract's processing strategy (``raster-sequential``: the faster here).
    in_memory
        Read each raster whole with rasterio into a ``NumPyRasterSource`` (the read is part
        of the work measured); else exactextract reads windows through its
        ``RasterioRasterSource`` (this environment has no GDAL Python bindings, so that is
        the path a file name takes), several times slower.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`siting_attributes`.
    """
    from exactextract import Operation, exact_extract
    from exactextract.raster import NumPyRasterSource, RasterioRasterSource

    def source(name: str):
        p = inst.rasters[name]
        if not in_memory:
            return RasterioRasterSource(str(p), name=name)
        with rasterio.open(p) as ds:
            b = ds.bounds
            return NumPyRasterSource(
                ds.read(1),
                b.left,
                b.bottom,
                b.right,
                b.top,
                nodata=ds.nodata,
                name=name,
                srs_wkt=ds.crs.to_wkt(),
            )

    # the sources are kept referenced here: an Operation alone does not keep its raster alive
    src = {name: source(name) for name in (*MEAN_RASTERS, "land_class")}
    ops = [Operation("mean", name, src[name]) for name in MEAN_RASTERS]
    lc = src["land_class"]
    ops += [Operation("unique", "unique", lc), Operation("frac", "frac", lc)]
    vec = cells.reset_index()[["site_id", "geometry"]]
    res = exact_extract(
        list(src.values()), vec, ops, include_cols=["site_id"], strategy=strategy, output="pandas"
    ).set_index("site_id")
    n = np.array([len(u) for u in res["unique"]])
    uniq = np.concatenate(res["unique"].to_numpy()) if n.sum() else np.zeros(0)
    frac = np.concatenate(res["frac"].to_numpy()) if n.sum() else np.zeros(0)
    owner = np.repeat(np.arange(len(res)), n)
    share = np.bincount(owner, weights=frac * np.isin(uniq, EXCLUDE_CLASSES), minlength=len(res))
    out = res[list(MEAN_RASTERS)].astype(float)
    out["excluded_share"] = np.where(n > 0, share, np.nan)
    return out.loc[cells.index]


def cached_instance(seed: int = 7) -> RasterInstance:
    """The full-size instance in the system's temporary folder, written once per version.

    The folder's name carries a digest of this module's source, so a changed generator
    writes a fresh instance; it is written beside and renamed into place, so concurrent
    runs never see half an instance.

    Parameters
    ----------
    seed
        Seed of :func:`write_raster_instance`.

    Returns
    -------
    RasterInstance
    """
    import hashlib
    import os
    import shutil
    import tempfile

    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    final = Path(tempfile.gettempdir()) / f"siting-bench-rasters-{seed}-{digest}"
    names = (*MEAN_RASTERS, "land_class")
    if not (final / "done").exists():
        part = Path(tempfile.mkdtemp(prefix=final.name + "-part-"))
        write_raster_instance(part, seed=seed)
        (part / "done").write_text("")
        try:
            os.replace(part, final)
        except OSError:  # another run put it there first
            shutil.rmtree(part, ignore_errors=True)
    cells = gpd.read_file(final / "cells.gpkg", layer="cells", columns=["whole"])
    return RasterInstance(
        folder=final,
        cells=final / "cells.gpkg",
        rasters={n: final / f"{n}.tif" for n in names},
        n_cells=len(cells),
        n_whole=int(cells["whole"].sum()),
        pixels=PIXELS,
        offset_m=0.0,
    )


def agreement(cells: gpd.GeoDataFrame, a: pd.DataFrame, b: pd.DataFrame) -> dict:
    """How far two attribute tables differ, on whole cells and on clipped or cut ones.

    Parameters
    ----------
    cells
        The cells (``whole`` column).
    a, b
        Tables of :func:`siting_attributes` / :func:`exactextract_attributes` columns.

    Returns
    -------
    dict
        ``whole_cells, other_cells`` (counts), ``max_abs_whole`` and ``max_abs_other``
        (per column, raster units; NaN in both counts as equal), ``mean_abs_other`` (per
        column) and ``nan_mismatch`` (cells NaN in one table only, per column).
    """
    whole = cells["whole"].to_numpy(dtype=bool)
    b = b.loc[a.index, a.columns]
    d = (a - b).abs()
    both_nan = a.isna() & b.isna()
    d = d.mask(both_nan, 0.0)
    return {
        "whole_cells": int(whole.sum()),
        "other_cells": int((~whole).sum()),
        "max_abs_whole": {k: float(v) for k, v in d[whole].max().items()},
        "max_abs_other": {k: float(v) for k, v in d[~whole].max().items()},
        "mean_abs_other": {k: float(v) for k, v in d[~whole].mean().items()},
        "nan_mismatch": {k: int(v) for k, v in (a.isna() ^ b.isna()).sum().items()},
    }
