"""Candidate attributes from rasters, checked against independent computations.

The instance is :mod:`benchmarks.raster_instance` at a small size: about 2,000 cells of
3 km (clipped to a star-shaped outline, round exclusion areas cut out) over 200 x 200
rasters of 1 km pixels (EPSG:5070), with a hole of nodata.

- Pixel edges on cell edges: a whole cell holds 3 x 3 pixels, so its mean is the plain mean
  of that block (numpy by hand) and exactextract's coverage-weighted mean (every pixel
  covered wholly) must give the same to 1e-9.
- Every cell, clipped and cut ones too, and rasters shifted 100 m off the cells: siting
  counts a pixel when its centre lies in the polygon, on a grid refined by nearest
  neighbour so that a cell is at least ``PIXELS_PER_SIDE`` pixels across (here 2 x 2
  sub-pixels of 500 m per pixel); the same rule computed with an STR tree of the sub-pixel
  centres must give the same to 1e-9.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import rasterio.windows
import shapely

from siting.candidates.generate import PIXELS_PER_SIDE, _covering_window

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # benchmarks/ is not an installed package

from benchmarks.raster_instance import (  # noqa: E402
    CELL_M,
    EXCLUDE_CLASSES,
    MEAN_RASTERS,
    NODATA,
    PIXEL_M,
    RasterInstance,
    exactextract_attributes,
    load_inputs,
    siting_attributes,
    write_raster_instance,
)

PIXELS = 200
RADIUS_M = 75_000.0
TOL = 1e-9


@pytest.fixture(scope="module")
def aligned(tmp_path_factory) -> RasterInstance:
    """Rasters with pixel edges on the cell edges."""
    return write_raster_instance(
        tmp_path_factory.mktemp("aligned"), radius_m=RADIUS_M, pixels=PIXELS
    )


@pytest.fixture(scope="module")
def shifted(tmp_path_factory) -> RasterInstance:
    """Rasters shifted 100 m east and south of the cell grid (no centre on a cell edge)."""
    return write_raster_instance(
        tmp_path_factory.mktemp("shifted"), radius_m=RADIUS_M, pixels=PIXELS, offset_m=100.0
    )


def _read(path: Path) -> tuple[np.ndarray, rasterio.Affine]:
    """The raster as float64 (NaN at nodata) and its transform."""
    with rasterio.open(path) as ds:
        a = ds.read(1).astype(float)
        if ds.nodata is not None:
            a[a == ds.nodata] = np.nan
        return a, ds.transform


def _by_centre(inst: RasterInstance, cells) -> pd.DataFrame:
    """Pixel-centre means and excluded share on a sub-pixel grid, with an STR tree."""
    up = math.ceil(PIXELS_PER_SIDE / (CELL_M / PIXEL_M))  # sub-pixels per pixel side
    polys = cells.geometry.to_numpy()
    lc, t = _read(inst.rasters["land_class"])
    n = lc.shape[0] * up
    sub = np.arange(n)
    xs = t.c + (sub + 0.5) * t.a / up
    ys = t.f + (sub + 0.5) * t.e / up
    px, py = np.meshgrid(xs, ys)
    pt, poly = shapely.STRtree(polys).query(
        shapely.points(px.ravel(), py.ravel()), predicate="within"
    )
    # the pixel each sub-pixel centre lies in
    pix_r, pix_c = (pt // n) // up, (pt % n) // up
    out = pd.DataFrame(index=cells.index)
    for name in MEAN_RASTERS:
        a, _ = _read(inst.rasters[name])
        v = a[pix_r, pix_c]
        ok = ~np.isnan(v)
        num = np.bincount(poly[ok], weights=v[ok], minlength=len(polys))
        den = np.bincount(poly[ok], minlength=len(polys))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[name] = np.where(den > 0, num / den, np.nan)
    excl = np.isin(lc[pix_r, pix_c], EXCLUDE_CLASSES).astype(float)
    num = np.bincount(poly, weights=excl, minlength=len(polys))
    den = np.bincount(poly, minlength=len(polys))
    with np.errstate(invalid="ignore", divide="ignore"):
        out["excluded_share"] = np.where(den > 0, num / den, np.nan)
    return out


def _assert_close(got: pd.DataFrame, want: pd.DataFrame, mask: np.ndarray) -> None:
    for col in want.columns:
        w = want[col].to_numpy()[mask]
        g = got[col].to_numpy()[mask]
        have = ~np.isnan(w)
        assert have.sum() > 0.9 * mask.sum(), col
        np.testing.assert_allclose(g[have], w[have], rtol=0, atol=TOL * max(1, abs(w).max()))


def test_instance_size(aligned: RasterInstance) -> None:
    assert 1_800 <= aligned.n_cells <= 2_500
    assert 0.6 * aligned.n_cells < aligned.n_whole < aligned.n_cells


def test_whole_cells_equal_the_block_mean_by_hand(aligned: RasterInstance) -> None:
    cells, layers = load_inputs(aligned)
    got = siting_attributes(cells, layers)
    whole = cells["whole"].to_numpy()
    r, c = cells["row"].to_numpy()[whole], cells["col"].to_numpy()[whole]
    want = pd.DataFrame(index=cells.index[whole])
    lc, t = _read(aligned.rasters["land_class"])
    # the pixel row and column of each whole cell's north-west pixel
    pc = np.rint((c * CELL_M - t.c) / PIXEL_M).astype(int)
    pr = np.rint((t.f - (r + 1) * CELL_M) / PIXEL_M).astype(int)

    def block(a: np.ndarray) -> np.ndarray:
        return np.stack([a[pr + i, pc + j] for i in range(3) for j in range(3)], axis=1)

    for name in MEAN_RASTERS:
        a, _ = _read(aligned.rasters[name])
        b = block(a)
        n = (~np.isnan(b)).sum(axis=1)
        want[name] = np.where(n > 0, np.nansum(b, axis=1) / np.maximum(n, 1), np.nan)
    want["excluded_share"] = np.isin(block(lc), EXCLUDE_CLASSES).mean(axis=1)
    _assert_close(got.loc[whole], want, np.ones(whole.sum(), bool))
    # some whole cells touch the nodata hole: their means leave the hole's pixels out
    a, _ = _read(aligned.rasters["dry_bulb_mean_c"])
    partly = np.isnan(block(a)).any(axis=1) & ~np.isnan(block(a)).all(axis=1)
    assert partly.any()
    assert (NODATA < got["dry_bulb_mean_c"].min()) and got["dry_bulb_mean_c"].isna().any()


@pytest.mark.parametrize("which", ["aligned", "shifted"])
def test_every_cell_equals_the_pixel_centre_rule(which: str, request) -> None:
    inst = request.getfixturevalue(which)
    cells, layers = load_inputs(inst)
    got = siting_attributes(cells, layers)
    want = _by_centre(inst, cells)
    _assert_close(got, want, np.ones(len(cells), bool))


def test_whole_cells_equal_exactextract_on_aligned_pixels(aligned: RasterInstance) -> None:
    pytest.importorskip("exactextract", reason="exactextract is in the bench extra")
    cells, layers = load_inputs(aligned)
    got = siting_attributes(cells, layers)
    ee = exactextract_attributes(cells, aligned)
    whole = cells["whole"].to_numpy()
    _assert_close(got, ee, whole)
    # elsewhere the rules differ (centre in polygon vs covered fraction), but not by much
    diff = (got - ee).abs()[~whole]
    assert (diff["excluded_share"] <= 1.0).all()
    assert diff["dry_bulb_mean_c"].median() < 0.2


def test_covering_window_keeps_the_last_row_and_column() -> None:
    w = _covering_window(rasterio.windows.Window(10.4, 20.6, 5.0, 3.0))
    assert (w.col_off, w.row_off, w.width, w.height) == (10, 20, 6, 4)
    # bounds on pixel edges, up to rounding noise: no extra pixel
    w = _covering_window(rasterio.windows.Window(9.9999999999, 20.0000000001, 5.0, 3.0))
    assert (w.col_off, w.row_off, w.width, w.height) == (10, 20, 5, 3)
