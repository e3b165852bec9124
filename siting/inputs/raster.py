"""Read and validate single-band rasters (GeoTIFF via rasterio).

A :class:`RasterLayer` describes a raster on disk (CRS, grid, nodata, value
statistics) without keeping its pixels: candidates sample it later with
windowed reads. Validation checks that the file opens, has a CRS and the band,
that nodata is declared or absent and honoured (NaN counts as nodata too), that
some cells hold data, that values lie in the expected range, and that the
raster overlaps the study region.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.warp import transform_bounds

from siting.core.errors import ProblemReport
from siting.core.files import RASTER_DRIVER, dataset_problem

#: Statistics are computed on at most this many pixels (a decimated read beyond it).
STATS_MAX_PIXELS = 4_000_000

#: Largest raster opened [pixels]: 10^11, e.g. 316,000 x 316,000 (the 30 m land cover of the
#: conterminous US has 1.7e10). A header declaring more is refused before any read, which
#: would take hours (or fill memory) on such a grid.
MAX_RASTER_PIXELS = 100_000_000_000


@dataclass(frozen=True)
class RasterLayer:
    """A validated raster on disk.

    Attributes
    ----------
    name
        Its role in the scenario (``climate.dry_bulb_mean_c``).
    path, band
        File and 1-based band.
    crs
        The raster's own CRS.
    width, height
        Size [pixels].
    res
        Pixel size (x, y) in the raster CRS's units.
    bounds
        (left, bottom, right, top) in the raster's CRS.
    bounds_target
        The same bounds in the layers' common CRS, if one was given.
    nodata
        The declared nodata value (``None``: none declared; NaN cells are nodata anyway).
    valid_fraction
        Share of cells holding data [fraction].
    min, max, mean
        Statistics of the valid cells [the raster's unit].
    """

    name: str
    path: Path
    band: int
    crs: CRS
    width: int
    height: int
    res: tuple[float, float]
    bounds: tuple[float, float, float, float]
    bounds_target: tuple[float, float, float, float] | None
    nodata: float | None
    valid_fraction: float
    min: float
    max: float
    mean: float

    def open(self) -> rasterio.io.DatasetReader:
        """Open the file (use as a context manager)."""
        return rasterio.open(self.path)

    def sample(self, x: np.ndarray, y: np.ndarray, crs: CRS | None = None) -> np.ndarray:
        """Values at points, read in one window covering them all (no per-point reads).

        The points are transformed into the raster's CRS, so pixels are never resampled.

        Parameters
        ----------
        x, y
            Point coordinates in ``crs`` (default: the raster's own CRS).
        crs
            CRS of the points, e.g. the layers' common CRS.

        Returns
        -------
        numpy.ndarray
            float64 values [the raster's unit]; NaN at nodata cells and outside the raster.
        """
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        if crs is not None and not CRS.from_user_input(crs).equals(self.crs):
            from pyproj import Transformer

            x, y = Transformer.from_crs(crs, self.crs, always_xy=True).transform(x, y)
        out = np.full(x.shape, np.nan)
        if x.size == 0:
            return out
        with rasterio.open(self.path) as ds:
            rows, cols = rasterio.transform.rowcol(ds.transform, x, y, op=np.floor)
            rows = np.asarray(rows, dtype=np.int64)
            cols = np.asarray(cols, dtype=np.int64)
            inside = (rows >= 0) & (rows < ds.height) & (cols >= 0) & (cols < ds.width)
            if not inside.any():
                return out
            out[inside] = _read_cells(ds, self.band, rows[inside], cols[inside])
        return out


def _read_cells(
    ds: rasterio.io.DatasetReader, band: int, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """Values of the cells at (``rows``, ``cols``), NaN at nodata, in bounded memory.

    One window covers the cells when it holds at most :data:`STATS_MAX_PIXELS` pixels;
    otherwise the cells are split in two along the window's longer side, and so on, so
    that points spread over a huge raster never read (or allocate) all of it.
    """
    r0, r1 = int(rows.min()), int(rows.max()) + 1
    c0, c1 = int(cols.min()), int(cols.max()) + 1
    if (r1 - r0) * (c1 - c0) > STATS_MAX_PIXELS and len(rows) > 1:
        key = rows if r1 - r0 >= c1 - c0 else cols
        order = np.argsort(key, kind="stable")
        half = len(order) // 2
        out = np.empty(len(rows))
        for part in (order[:half], order[half:]):
            out[part] = _read_cells(ds, band, rows[part], cols[part])
        return out
    window = rasterio.windows.Window(c0, r0, c1 - c0, r1 - r0)
    data = ds.read(band, window=window, masked=True).astype("float64")
    block = np.ma.masked_invalid(data).filled(np.nan)
    return block[rows - r0, cols - c0]


def _open_raster(path: Path, name: str, report: ProblemReport) -> rasterio.io.DatasetReader | None:
    """The raster opened as a GeoTIFF; ``None`` when it is not one (or is, or has beside
    it, a FIFO or device), the report saying why."""
    why = dataset_problem(path)  # a FIFO (or one beside it, .aux.xml ...) would hang GDAL
    if why is not None:
        report.add(why, file=path, layer=name, field="path")
        return None
    try:
        # GeoTIFF only: GDAL picks a driver by the file's content, and a VRT (XML) under a
        # .tif name could make it read other local files or URLs
        ds = rasterio.open(path, driver=RASTER_DRIVER)
    except Exception as e:
        report.add(
            f"not a readable GeoTIFF ({str(e).splitlines()[0][:200]})", file=path, layer=name
        )
        return None
    return ds


def _header_ok(
    ds: rasterio.io.DatasetReader, band: int, path: Path, name: str, report: ProblemReport
) -> bool:
    """Whether the raster has the band, a CRS, a north-up grid, at most
    :data:`MAX_RASTER_PIXELS` pixels and real-number values (else a problem says which)."""
    if band < 1 or band > ds.count:
        report.add(
            f"no band {band}; the raster has {ds.count} band(s)",
            file=path,
            layer=name,
            field="band",
        )
        return False
    if ds.crs is None:
        report.add(
            "raster has no CRS; expected one (e.g. EPSG:4326); set it with "
            "`gdal_edit.py -a_srs` or rasterio",
            file=path,
            layer=name,
            field="crs",
        )
        return False
    if not ds.transform.is_rectilinear or ds.transform.is_identity:
        report.add(
            "raster has no usable georeferencing (identity or rotated transform); "
            "expected a north-up grid",
            file=path,
            layer=name,
            field="transform",
        )
        return False
    if ds.transform.a <= 0 or ds.transform.e >= 0:
        report.add(
            f"raster is not north-up (pixel size {ds.transform.a:g} x {ds.transform.e:g}); "
            "expected a positive pixel width and a negative pixel height (row 0 at the top); "
            "warp it, e.g. with gdalwarp",
            file=path,
            layer=name,
            field="transform",
        )
        return False
    if ds.width * ds.height > MAX_RASTER_PIXELS:
        report.add(
            f"raster is {ds.width:,} x {ds.height:,} = {ds.width * ds.height:,} pixels; at "
            f"most {MAX_RASTER_PIXELS:,} are read; clip it to the study region or coarsen it "
            "(e.g. gdalwarp -te ... -tr ...)",
            file=path,
            layer=name,
        )
        return False
    dtype = np.dtype(ds.dtypes[band - 1])
    if dtype.kind not in "biuf":
        report.add(
            f"band {band} holds {dtype.name} values; expected real numbers (integer or float)",
            file=path,
            layer=name,
            field="band",
        )
        return False
    return True


def _sample_band(
    ds: rasterio.io.DatasetReader, band: int, path: Path, name: str, report: ProblemReport
) -> tuple[np.ma.MaskedArray, float] | None:
    """The band read on at most :data:`STATS_MAX_PIXELS` pixels (nearest neighbour), and the
    decimation factor [source pixels per sample, per axis]; ``None`` when it cannot be read."""
    # statistics on at most STATS_MAX_PIXELS pixels
    scale = max(1.0, float(np.sqrt(ds.width * ds.height / STATS_MAX_PIXELS)))
    shape = (max(1, int(ds.height / scale)), max(1, int(ds.width / scale)))
    try:
        data = ds.read(band, masked=True, out_shape=shape, resampling=Resampling.nearest)
    except Exception as e:
        report.add(
            f"could not read band {band} ({str(e).splitlines()[0][:200]})",
            file=path,
            layer=name,
        )
        return None
    return data, scale


def _bounds_in(
    ds: rasterio.io.DatasetReader,
    crs: CRS,
    target_crs: CRS | None,
    path: Path,
    name: str,
    report: ProblemReport,
) -> tuple[float, float, float, float] | None:
    """The raster's bounds in ``target_crs`` (``None`` without one, or when the transform
    fails: a problem)."""
    bounds_target = None
    if target_crs is not None:
        try:
            w, s, e_, n = transform_bounds(ds.crs, target_crs, *ds.bounds, densify_pts=21)
            bounds_target = (float(w), float(s), float(e_), float(n))
        except Exception as e:
            report.add(
                f"cannot transform the raster's extent from {crs.to_string()} into "
                f"{target_crs.to_string()} ({str(e).splitlines()[0][:120]})",
                file=path,
                layer=name,
                field="crs",
            )
    return bounds_target


def _check_values(
    arr: np.ma.MaskedArray,
    valid: np.ndarray,
    scale: float,
    nodata: float | None,
    value_range: tuple[float, float] | None,
    integer_classes: bool,
    path: Path,
    name: str,
    report: ProblemReport,
) -> np.ndarray:
    """The valid sampled values; those out of ``value_range`` [raster units] or (for class
    codes) not whole numbers are problems."""
    vals = arr.compressed()
    if value_range is not None:
        lo, hi = value_range
        bad = (vals < lo) | (vals > hi)
        if bad.any():
            rows, cols = np.nonzero(valid & ((arr.filled(lo) < lo) | (arr.filled(lo) > hi)))
            report.add(
                f"{int(bad.sum())} cells out of range [{lo:g}, {hi:g}] (min {vals.min():g}, "
                f"max {vals.max():g}; first at pixel row {int(rows[0] * scale)}, col "
                f"{int(cols[0] * scale)}); is nodata declared (it is {nodata})?",
                file=path,
                layer=name,
            )
    if integer_classes and (vals != np.round(vals)).any():
        report.add(
            "class raster holds non-integer values; expected class codes", file=path, layer=name
        )
    return vals


def _check_overlap(
    bounds_target: tuple[float, ...],
    region_bounds: tuple[float, float, float, float],
    target_crs: CRS | None,
    crs: CRS,
    path: Path,
    name: str,
    report: ProblemReport,
) -> None:
    """The raster must overlap the study region (a problem), and should cover it (a note
    when it covers less than 99 % of the region's bounding box)."""
    if not _overlaps(bounds_target, region_bounds):
        report.add(
            f"raster does not overlap the study region: raster extent "
            f"{_fmt(bounds_target)} vs region {_fmt(region_bounds)} in "
            f"{target_crs.to_string() if target_crs else ''}; is its CRS "
            f"({crs.to_string()}) right?",
            file=path,
            layer=name,
        )
    else:
        cover = _coverage(bounds_target, region_bounds)
        if cover < 0.99:
            report.note(f"{name}: raster covers {cover:.0%} of the study region's bounding box")


def read_raster(
    path: str | Path,
    name: str,
    report: ProblemReport,
    *,
    band: int = 1,
    target_crs: CRS | None = None,
    region_bounds: tuple[float, float, float, float] | None = None,
    value_range: tuple[float, float] | None = None,
    integer_classes: bool = False,
) -> RasterLayer | None:
    """Open and validate one raster band.

    Parameters
    ----------
    path
        GeoTIFF (or any GDAL raster) file.
    name
        Its role, used as the "layer" in problems (``climate.wet_bulb_p99_c``).
    report
        Problems are added here.
    band
        1-based band number.
    target_crs
        The layers' common CRS; ``region_bounds`` are in it.
    region_bounds
        (minx, miny, maxx, maxy) of the study region in ``target_crs``; the raster
        must overlap it.
    value_range
        Inclusive (low, high) range every valid value must lie in [raster units].
    integer_classes
        The raster holds class codes: values must be whole numbers.

    Returns
    -------
    RasterLayer or None
        ``None`` when the file cannot be used at all.
    """
    path = Path(path)
    ds = _open_raster(path, name, report)
    if ds is None:
        return None
    with ds:
        if not _header_ok(ds, band, path, name, report):
            return None
        crs = CRS.from_user_input(ds.crs.to_wkt())
        nodata = ds.nodatavals[band - 1]
        sampled = _sample_band(ds, band, path, name, report)
        if sampled is None:
            return None
        data, scale = sampled
        arr = np.ma.masked_invalid(data.astype("float64"), copy=False)
        valid = ~np.ma.getmaskarray(arr)
        n_valid = int(valid.sum())
        left, bottom, right, top = (float(b) for b in ds.bounds)
        bounds = (left, bottom, right, top)
        bounds_target = _bounds_in(ds, crs, target_crs, path, name, report)
        if np.isinf(data.filled(0)).any():
            report.add(
                "raster holds infinite values; expected finite numbers or nodata",
                file=path,
                layer=name,
            )
        if n_valid == 0:
            report.add(
                f"every cell is nodata (nodata value = {nodata}); expected some data",
                file=path,
                layer=name,
            )
            return None
        vals = _check_values(
            arr, valid, scale, nodata, value_range, integer_classes, path, name, report
        )
        if region_bounds is not None and bounds_target is not None:
            _check_overlap(bounds_target, region_bounds, target_crs, crs, path, name, report)
        return RasterLayer(
            name=name,
            path=path,
            band=band,
            crs=crs,
            width=ds.width,
            height=ds.height,
            res=(float(ds.res[0]), float(ds.res[1])),
            bounds=bounds,
            bounds_target=bounds_target,
            nodata=None if nodata is None else float(nodata),
            valid_fraction=n_valid / valid.size,
            min=float(vals.min()),
            max=float(vals.max()),
            mean=float(vals.mean()),
        )


def _fmt(b: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:,.0f}" if abs(v) > 1000 else f"{v:.3f}" for v in b) + ")"


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _coverage(r: tuple[float, ...], region: tuple[float, ...]) -> float:
    w = max(0.0, min(r[2], region[2]) - max(r[0], region[0]))
    h = max(0.0, min(r[3], region[3]) - max(r[1], region[1]))
    area = (region[2] - region[0]) * (region[3] - region[1])
    return 1.0 if area <= 0 else (w * h) / area
