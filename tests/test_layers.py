"""Layer readers on valid input: values, units, CRS handling, per-year fields, shares."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from siting.config.scenario import load_scenario
from siting.core.errors import ProblemReport
from siting.inputs import load_layers
from siting.inputs.crs import choose_crs, utm_crs
from siting.inputs.fields import BUSES, LAYERS, markdown_all
from siting.inputs.land import excluded_share
from siting.inputs.summary import summarise
from siting.inputs.vector import normalise_ids, per_year_table, read_vector


def test_tiny_region_reads_with_hand_checked_figures(region):
    scenario = load_scenario(region.write())
    layers = load_layers(scenario)
    g = layers.grid
    assert list(g.buses.index) == ["A", "B", "C", "D"]
    assert g.total_generation_mw() == 450.0  # 300 + 150
    assert g.total_load_mw() == 250.0  # 100 + 50 + 80 + 20
    loads = g.load_mw([2027, 2029, 2030, 2031])
    # 2027 and 2029 have no column of their own: the plain load_mw; 2030 on: load_mw_2030
    assert loads.sum().tolist() == [250.0, 250.0, 295.0, 295.0]
    # defaults filled from the field table
    assert (g.branches["tap_ratio"] == 1.0).all() and g.branches["in_service"].all()
    assert (g.branches["rating_emergency_mw"] == g.branches["rating_mw"]).all()
    assert g.branches.loc["L2", "voltage_kv"] == 345.0  # from its from_bus B
    # L1 runs 0.2 degrees of longitude along 32 N. On WGS84 one degree of longitude there is
    # (pi/180) a cos(phi) / sqrt(1 - e^2 sin^2 phi) = 94.494 km (a = 6378.137 km,
    # e^2 = 0.00669438), so 18.899 km.
    assert g.branches.loc["L1", "length_km"] == pytest.approx(18.899, rel=1e-3)
    # geometries drawn between the buses and reprojected into the chosen CRS
    assert layers.crs.to_epsg() == 32614
    assert g.buses.crs.to_epsg() == 32614 and g.branches.crs.to_epsg() == 32614
    assert g.branches.geometry.length.loc["L1"] == pytest.approx(18_899, rel=2e-3)  # UTM ~ true
    assert layers.water_sources.crs.to_epsg() == 32614
    assert layers.exclusions["source"].iloc[0].endswith("region.gpkg")
    # every input hashed once per role
    roles = {f.role for f in layers.inputs}
    assert {"scenario", "grid", "water_sources", "climate.wet_bulb_p99_c", "land_class"} <= roles


def test_excluded_share_by_hand(region):
    layers = load_layers(load_scenario(region.write()))
    share = excluded_share(layers)
    # exclusion polygon: 0.05 x 0.05 degrees in a 0.4 x 0.4 degree boundary -> 1/64
    # (in UTM the ratio holds to about 0.5 %, the cos(latitude) change over 0.4 degrees)
    assert share.polygons == pytest.approx(1 / 64, rel=0.01)
    # urban class 4 on 10 x 10 of the 40 x 40 cells -> 1/16, a corner away from the polygon
    assert share.classes == pytest.approx(1 / 16, rel=0.01)
    assert share.total == pytest.approx(1 / 64 + 1 / 16, rel=0.01)


def test_summary_figures(region):
    scenario = load_scenario(region.write())
    s = summarise(load_layers(scenario), scenario)
    assert s["crs"] == "EPSG:32614"
    assert s["grid"]["generation_mw_by_fuel"] == {"wind": 300.0, "gas_cc": 150.0}
    assert s["grid"]["load_mw_by_year"] == {2027: 250.0, 2030: 295.0}
    assert s["water"]["reclaimed_m3_per_day"] == 20000.0
    assert s["water"]["capacity_m3_per_day_by_kind"] == {"potable": 5000.0, "reclaimed": 20000.0}
    assert s["land"]["zones"] == 1
    # the region is 0.4 x 0.4 degrees at 32 N: 0.4 * 94.494 km wide (see above) by
    # 0.4 * 110.86 km tall (one degree of latitude at 32 N on WGS84), about 1,676 km2
    assert s["extent"]["area_km2"] == pytest.approx(0.4 * 94.494 * 0.4 * 110.86, rel=0.01)
    assert any("chosen automatically" in n for n in s["notes"])


def test_scenario_crs_is_used_and_said(region):
    region.scenario["crs"] = "EPSG:3083"
    layers = load_layers(load_scenario(region.write()))
    assert layers.crs.to_epsg() == 3083
    assert layers.grid.buses.crs.to_epsg() == 3083
    assert any("from the scenario" in n for n in layers.notes)


@pytest.mark.parametrize(
    "lon, lat, epsg",
    [
        (-99.9, 32.1, 32614),
        (-106.0, 31.8, 32613),
        (46.7, 24.7, 32638),
        (-0.1, 51.5, 32630),
        (151.2, -33.9, 32756),
        (179.99, 0.0, 32660),
        (-180.0, 10.0, 32601),
    ],
)
def test_utm_zone(lon, lat, epsg):
    # zone = floor((lon + 180) / 6) + 1; EPSG 326zz north of the equator, 327zz south
    assert utm_crs(lon, lat).to_epsg() == epsg


def test_auto_crs_warns_on_wide_regions():
    report = ProblemReport()
    crs = choose_crs(None, (-106.6, 25.8, -93.5, 36.5), report)
    assert crs.to_epsg() == 32614  # centre -100.05: zone 14
    assert "national projection may suit it better" in report.notes[0]


def test_ids_are_text_whatever_the_file_stores():
    s = pd.Series([7, 7.0, " B12 ", None, 3.5, np.int64(9)])
    assert normalise_ids(s).tolist() == ["7", "7", "B12", pd.NA, "3.5", "9"]


def test_per_year_table_carries_forward():
    df = pd.DataFrame({"x": [1.0, 2.0], "x_2028": [10.0, 20.0], "x_2030": [100.0, 200.0]})
    t = per_year_table(df, "x", [2026, 2028, 2029, 2030, 2035])
    assert t[2026].tolist() == [1.0, 2.0]
    assert t[2029].tolist() == [10.0, 20.0]
    assert t[2035].tolist() == [100.0, 200.0]


def test_per_year_columns_are_validated(region):
    region.buses["load_mw_2030"] = [1.0, -2.0, 3.0, 4.0]
    path = region.write()
    from siting.core.errors import InputError

    with pytest.raises(InputError) as e:
        load_layers(load_scenario(path))
    assert "row 2 (id 'B'), field 'load_mw_2030': out of range" in str(e.value)


def test_geojson_layers_and_3d_points(tmp_path):
    buses = gpd.GeoDataFrame(
        {"bus_id": [1, 2], "voltage_kv": [138, 138], "in_service": ["yes", "no"]},
        geometry=[Point(-100, 32, 500), Point(-99.9, 32, 510)],
        crs="EPSG:4326",
    )
    path = tmp_path / "buses.geojson"
    buses.to_file(path, driver="GeoJSON")
    report = ProblemReport()
    gdf = read_vector(path, BUSES, report)
    assert not report.problems
    assert list(gdf.index) == ["1", "2"]  # integer IDs become text
    assert not gdf.geometry.has_z.any()
    assert any("3-D coordinates flattened" in n for n in report.notes)
    assert (gdf["load_mw"] == 0.0).all()  # default


def test_field_table_documents_units_and_is_in_the_reference():
    from pathlib import Path

    for spec in LAYERS.values():
        for f in spec.fields:
            assert f.description, f"{spec.name}.{f.name}"
            if f.kind == "float":
                assert f.unit or f.name in ("b_pu", "tap_ratio"), (
                    f"{spec.name}.{f.name} has no unit"
                )
    reference = (Path(__file__).resolve().parents[1] / "docs" / "reference.md").read_text()
    # the reference's layer tables are generated from the field table: they must not drift
    assert markdown_all() in reference, (
        "docs/reference.md layer tables are stale: paste `siting fields` "
        "(or run scripts/update_reference_fields.py)"
    )


def test_cost_curves():
    from siting.inputs.grids.grid import CostCurve

    lin = CostCurve.linear(25.0)
    assert lin.cost_usd_per_h(100.0) == pytest.approx(2500.0)  # 25 USD/MWh * 100 MW
    pwl = CostCurve("pwl", points=np.array([[0.0, 0.0], [100.0, 1000.0], [200.0, 3000.0]]))
    # 150 MW is halfway along the second segment: 1000 + 0.5 * 2000
    assert pwl.cost_usd_per_h(np.array([50.0, 150.0, 250.0])).tolist() == [500.0, 2000.0, 4000.0]
    quad = CostCurve("polynomial", coefficients=(0.01, 20.0, 100.0))
    assert quad.cost_usd_per_h(100.0) == pytest.approx(0.01 * 100**2 + 20 * 100 + 100)
    assert math.isfinite(float(quad.cost_usd_per_h(0.0)))


def test_raster_sample_in_the_common_crs(region):
    layers = load_layers(load_scenario(region.write()))
    db = layers.climate["dry_bulb_mean_c"]
    # cell (row i, col j) holds 18 + 0.05 j + 0.02 i; the raster's origin is (-100.1, 32.3) and
    # its cells are 0.01 degrees, so (-99.955, 32.245) is in row 5, col 14: 18.7 + 0.1 = 18.8
    pts = gpd.GeoSeries([Point(-99.955, 32.245), Point(-99.0, 32.0)], crs=4326).to_crs(layers.crs)
    vals = db.sample(pts.x.to_numpy(), pts.y.to_numpy(), crs=layers.crs)
    assert vals[0] == pytest.approx(18.8, abs=1e-5)
    assert np.isnan(vals[1])  # outside the raster


def test_raster_sample_honours_nodata(region):
    region.rasters["wet_bulb_mean_c"][0, 0] = -9999.0
    layers = load_layers(load_scenario(region.write()))
    v = layers.climate["wet_bulb_mean_c"].sample(
        np.array([-100.095, -100.085]), np.array([32.295, 32.295])
    )
    assert np.isnan(v[0]) and v[1] == pytest.approx(10.05)


def test_grid_from_geojson_files(region, tmp_path):
    # one GeoJSON file per layer, named through the scenario's overrides
    for name in ("buses", "branches", "generators"):
        gdf = getattr(region, name)
        if name != "buses":
            gdf = gdf.drop(columns="geometry")
            gdf = gpd.GeoDataFrame(gdf, geometry=gpd.GeoSeries([None] * len(gdf)), crs=4326)
        gdf.to_file(tmp_path / f"{name}.geojson", driver="GeoJSON")
    region.scenario["layers"]["grid"] = {
        "path": "buses.geojson",
        "branches": {"path": "branches.geojson"},
        "generators": {"path": "generators.geojson"},
    }
    layers = load_layers(load_scenario(region.write()))
    assert len(layers.grid.branches) == 4 and layers.grid.total_generation_mw() == 450.0
    assert layers.grid.branches.loc["L1", "length_km"] == pytest.approx(18.899, rel=1e-3)


def test_a_vrt_under_a_tif_name_is_not_opened(tmp_path):
    # GDAL chooses its driver by content: a VRT (XML) named .tif could make it read other
    # local files (or URLs); raster layers are opened as GeoTIFF only
    import rasterio
    from rasterio.transform import from_origin

    from siting.inputs.raster import read_raster

    real = tmp_path / "real.tif"
    with rasterio.open(
        real, "w", driver="GTiff", height=4, width=4, count=1, dtype="float32",
        crs="EPSG:4326", transform=from_origin(0, 4, 1, 1),
    ) as ds:  # fmt: skip
        ds.write(np.ones((1, 4, 4), dtype="float32"))
    evil = tmp_path / "evil.tif"
    evil.write_text(
        '<VRTDataset rasterXSize="4" rasterYSize="4"><SRS>EPSG:4326</SRS>'
        "<GeoTransform>0,1,0,4,0,-1</GeoTransform>"
        '<VRTRasterBand dataType="Float32" band="1"><SimpleSource>'
        f'<SourceFilename relativeToVRT="0">{real}</SourceFilename><SourceBand>1</SourceBand>'
        "</SimpleSource></VRTRasterBand></VRTDataset>"
    )
    with rasterio.open(evil) as ds:  # GDAL itself would read it through the VRT driver
        assert ds.driver == "VRT" and ds.read(1).sum() == 16
    report = ProblemReport()
    assert read_raster(evil, "climate", report) is None
    (p,) = report.problems
    assert p.file == str(evil) and p.layer == "climate" and "not a readable GeoTIFF" in p.message
    ok = ProblemReport()
    assert read_raster(real, "climate", ok) is not None and not ok.problems
