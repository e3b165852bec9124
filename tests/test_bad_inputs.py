"""Bad inputs: each gives one clear problem naming the file, layer, row/ID and field.

Every case starts from the valid tiny region of ``conftest.Region``, breaks one
thing, and asserts the exact culprit appears in the report. A last test breaks
several layers at once and checks that all are reported together.
"""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Point, Polygon, box

from siting.config.scenario import load_scenario
from siting.core.errors import InputError
from siting.inputs import load_layers


def run(region) -> InputError:
    path = region.write()
    with pytest.raises(InputError) as e:
        load_layers(load_scenario(path))
    return e.value


def only(err: InputError, *needles: str) -> str:
    """The one problem that contains every needle (and say what the report was otherwise)."""
    hits = [str(p) for p in err.problems if all(n in str(p) for n in needles)]
    assert hits, f"no problem contains {needles}; report was:\n{err}"
    return hits[0]


def gpkg(region) -> str:
    return str(region.gpkg)


# --- vector layers ---------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:'crs' was not provided")  # the missing CRS is the point
def test_missing_crs(region):
    region.buses = region.buses.set_crs(None, allow_override=True)
    err = run(region)
    only(err, gpkg(region), "layer 'buses'", "field 'geometry'", "layer has no CRS")


def test_projected_coordinates_labelled_lonlat(region):
    # UTM metres written with a lon/lat CRS: coordinates far outside [-180, 180]
    region.water_sources = region.water_sources.to_crs(32614).set_crs(4326, allow_override=True)
    err = run(region)
    msg = only(err, "layer 'water_sources'", "row 1 (id 'W1')", "field 'geometry'")
    assert "outside longitude [-180, 180]" in msg and "is the CRS right?" in msg


def test_lonlat_coordinates_labelled_web_mercator(region):
    # lon/lat numbers under EPSG:3857 land in the Gulf of Guinea, not in Texas
    region.zones = region.zones.set_crs(3857, allow_override=True)
    err = run(region)
    msg = only(err, "layer 'zones'", "wholly outside the study region")
    assert "is the layer's CRS right?" in msg


def test_invalid_geometry(region):
    bowtie = Polygon([(-99.95, 32.05), (-99.9, 32.1), (-99.9, 32.05), (-99.95, 32.1)])
    region.exclusions.loc[0, "geometry"] = bowtie
    err = run(region)
    msg = only(err, "layer 'exclusions'", "row 1 (id 'X1')", "field 'geometry'", "invalid geometry")
    assert "Self-intersection" in msg


def test_wrong_geometry_type(region):
    region.water_sources["geometry"] = [box(-100, 32, -99.99, 32.01), Point(-99.9, 32.1)]
    err = run(region)
    msg = only(err, "layer 'water_sources'", "row 1 (id 'W1')", "wrong geometry type")
    assert "expected Point" in msg and "Polygon" in msg


def test_missing_geometry(region):
    region.buses.loc[2, "geometry"] = None
    err = run(region)
    only(err, "layer 'buses'", "row 3 (id 'C')", "field 'geometry'", "geometry is missing")


def test_duplicate_ids(region):
    region.water_sources.loc[1, "source_id"] = "W1"
    err = run(region)
    msg = only(err, "layer 'water_sources'", "field 'source_id'", "duplicate IDs")
    assert "'W1' is on rows [1, 2]" in msg


def test_branch_to_unknown_bus(region):
    region.branches.loc[2, "to_bus"] = "NOWHERE"
    err = run(region)
    msg = only(err, "layer 'branches'", "row 3 (id 'L3')", "field 'to_bus'")
    assert "refers to bus 'NOWHERE', which does not exist" in msg


def test_generator_at_unknown_bus(region):
    region.generators.loc[1, "bus_id"] = "Z9"
    err = run(region)
    only(err, "layer 'generators'", "row 2 (id 'G2')", "field 'bus_id'", "'Z9'")


def test_negative_capacity(region):
    region.water_sources.loc[0, "capacity_m3_per_day"] = -5.0
    err = run(region)
    msg = only(err, "layer 'water_sources'", "row 1 (id 'W1')", "field 'capacity_m3_per_day'")
    assert "out of range; expected a finite number >= 0 [m3/day], got -5.0" in msg


def test_nan_where_a_number_is_needed(region):
    region.generators.loc[0, "p_max_mw"] = np.nan
    err = run(region)
    msg = only(err, "layer 'generators'", "row 1 (id 'G1')", "field 'p_max_mw'")
    assert "empty or NaN" in msg


def test_infinite_rating(region):
    region.branches.loc[1, "rating_mw"] = np.inf
    err = run(region)
    only(err, "layer 'branches'", "row 2 (id 'L2')", "field 'rating_mw'", "infinite")


def test_non_numeric_value(region):
    region.buses["voltage_kv"] = region.buses["voltage_kv"].astype(object)
    region.buses.loc[1, "voltage_kv"] = "high"
    err = run(region)
    msg = only(err, "layer 'buses'", "row 2 (id 'B')", "field 'voltage_kv'", "not a number")
    assert "got 'high'" in msg


def test_zero_reactance(region):
    region.branches.loc[0, "x_pu"] = 0.0
    err = run(region)
    only(err, "layer 'branches'", "row 1 (id 'L1')", "field 'x_pu'", "reactance is 0")


def test_pmin_above_pmax(region):
    region.generators["p_min_mw"] = [400.0, 0.0]
    err = run(region)
    only(err, "layer 'generators'", "row 1 (id 'G1')", "field 'p_min_mw'", "above p_max_mw 300")


def test_missing_required_column(region):
    region.branches = region.branches.drop(columns="rating_mw")
    err = run(region)
    msg = only(err, "layer 'branches'", "field 'rating_mw'", "required column is missing")
    assert "expected a finite number > 0 [MW]" in msg and "x_pu" in msg  # lists what is there


def test_value_not_among_choices(region):
    region.water_sources.loc[1, "kind"] = "magic"
    err = run(region)
    msg = only(err, "layer 'water_sources'", "row 2 (id 'W2')", "field 'kind'")
    assert "'magic'" in msg and "'reclaimed'" in msg


def test_empty_layer(region):
    region.zones = region.zones.iloc[0:0]
    err = run(region)
    only(err, gpkg(region), "layer 'zones'", "layer is empty")


def test_layer_not_in_file(region):
    region.scenario["layers"]["regions"] = {"path": "region.gpkg", "layer": "provinces"}
    err = run(region)
    msg = only(err, "layer 'provinces'", "no layer 'provinces' in the file")
    assert "buses" in msg and "regions" in msg  # lists the layers there are


def test_missing_file(region):
    region.scenario["layers"]["water_sources"] = {"path": "nowhere.gpkg"}
    err = run(region)
    only(err, str(region.root / "nowhere.gpkg"), "layer 'water_sources'", "file not found")


def test_not_a_vector_file(region):
    (region.root / "notes.gpkg").write_text("these are not features")
    region.scenario["layers"]["places"] = {"path": "notes.gpkg"}
    err = run(region)
    only(err, str(region.root / "notes.gpkg"), "not a readable vector file")


# --- rasters ---------------------------------------------------------------------------


def test_all_nodata_raster(region):
    region.rasters["wet_bulb_p99_c"][:] = -9999.0
    err = run(region)
    msg = only(err, "wet_bulb_p99_c.tif", "layer 'climate.wet_bulb_p99_c'")
    assert "every cell is nodata (nodata value = -9999.0)" in msg


def test_raster_that_does_not_overlap_the_region(region):
    region.write()
    # the land-cost raster over Europe instead of Texas
    region.write_raster(
        "land_cost_usd_per_ha", region.rasters["land_cost_usd_per_ha"], origin=(10.0, 50.0)
    )
    with pytest.raises(InputError) as e:
        load_layers(load_scenario(region.root / "scenario.yaml"))
    msg = only(
        e.value,
        "land_cost_usd_per_ha.tif",
        "layer 'land_cost'",
        "does not overlap the study region",
    )
    assert "is its CRS (EPSG:4326) right?" in msg


def test_raster_without_crs(region):
    region.write()
    region.write_raster("dry_bulb_mean_c", region.rasters["dry_bulb_mean_c"], crs=None)
    with pytest.raises(InputError) as e:
        load_layers(load_scenario(region.root / "scenario.yaml"))
    only(e.value, "dry_bulb_mean_c.tif", "layer 'climate.dry_bulb_mean_c'", "field 'crs'", "no CRS")


def test_raster_in_kelvin_is_out_of_range(region):
    region.rasters["dry_bulb_p99_c"] = region.rasters["dry_bulb_p99_c"] + 273.15
    err = run(region)
    msg = only(err, "layer 'climate.dry_bulb_p99_c'", "1600 cells out of range [-70, 60]")
    assert "is nodata declared" in msg


def test_undeclared_nodata_is_caught_by_range(region):
    # -9999 cells with no nodata declared: not honoured as nodata, so out of range
    arr = region.rasters["wet_bulb_mean_c"].copy()
    arr[:5, :] = -9999.0
    region.write()
    region.write_raster("wet_bulb_mean_c", arr, nodata=None)
    with pytest.raises(InputError) as e:
        load_layers(load_scenario(region.root / "scenario.yaml"))
    only(e.value, "layer 'climate.wet_bulb_mean_c'", "200 cells out of range", "it is None")


def test_declared_nodata_is_honoured(region):
    arr = region.rasters["wet_bulb_mean_c"]
    arr[:5, :] = -9999.0  # declared nodata: must not count as data nor as out of range
    layers = load_layers(load_scenario(region.write()))
    wb = layers.climate["wet_bulb_mean_c"]
    assert wb.valid_fraction == pytest.approx(1 - 200 / 1600)
    assert wb.min == pytest.approx(10.0)  # the -9999 cells are not in the statistics


def test_swapped_wet_and_dry_bulb(region):
    region.rasters["wet_bulb_mean_c"], region.rasters["dry_bulb_mean_c"] = (
        region.rasters["dry_bulb_mean_c"],
        region.rasters["wet_bulb_mean_c"],
    )
    err = run(region)
    only(err, "wet_bulb_mean_c.tif", "above the mean dry-bulb", "swapped")


def test_geographic_scenario_crs_is_refused(region):
    region.scenario["crs"] = "EPSG:4326"
    err = run(region)
    only(err, "scenario.yaml", "field 'crs'", "not a projected CRS")


def test_every_problem_in_one_report(region):
    region.branches.loc[0, "to_bus"] = "NOWHERE"
    region.water_sources.loc[0, "cost_usd_per_m3"] = -1.0
    region.zones = region.zones.iloc[0:0]
    region.rasters["wet_bulb_p99_c"][:] = -9999.0
    err = run(region)
    text = str(err)
    for needle in ("'NOWHERE'", "cost_usd_per_m3", "layer 'zones'", "every cell is nodata"):
        assert needle in text
    assert text.startswith(f"{len(err.problems)} problems in the inputs:")
    assert len(err.problems) == 4
