"""Which files a run opens, and which it records (issue 17, "Nothing lost, ever").

Finding 1: a FIFO (named pipe) as an input path hung ``siting validate`` and ``siting
plan`` forever: opening one blocks until another process writes to it. Every path a run
reads (vector layers, rasters, the grid case, bus coordinates, the demand cost CSV) and
the hashing of inputs for the manifest go through :mod:`siting.core.files`, which refuses a
FIFO, device or socket before any read, naming the path and the scenario key. Each case
runs under :func:`fuzzing.no_hang`, so a regression fails instead of hanging CI.

Finding 4: GDAL reads sidecar files beside a dataset (a GeoTIFF's ``.aux.xml`` can set
another nodata value) that the manifest left out. Every file of a dataset is now hashed:
for rasters GDAL's own file list, for vector layers the parts OGR reads.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
import yaml
from fuzzing import no_fifo_hang, no_hang
from shapely.geometry import Point
from test_matpower import TINY

from siting.config.scenario import load_scenario
from siting.core.errors import InputError
from siting.core.files import NotRegularFileError, dataset_files, file_sha256
from siting.core.provenance import hash_inputs
from siting.inputs import load_grid_case, load_layers
from siting.studies.sweep import scenario_key

#: Longest a refusal may take [s]: it must not read anything (a hang fails at once).
QUICK_S = 10


def _fifo(path: Path) -> Path:
    path.unlink(missing_ok=True)
    os.mkfifo(path)
    return path


def _siting(*args: str | Path, timeout_s: float = 120) -> subprocess.CompletedProcess:
    """``python -m siting ...`` in a real process (a hang fails by ``timeout_s``)."""
    return subprocess.run(
        [sys.executable, "-m", "siting", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def _set_path(scenario: dict, key: str, value: str) -> None:
    """Set the dotted key ``layers.x.path`` (list items by index) in a scenario mapping."""
    node = scenario
    parts = key.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    node[parts[-1]] = value


# (dotted scenario key, file name of the FIFO)
LAYER_PATHS = [
    ("layers.water_sources.path", "water.gpkg"),
    ("layers.exclusions.0.path", "exclusions.geojson"),
    ("layers.grid.path", "grid.gpkg"),
    ("layers.land_cost.path", "cost.tif"),
    ("layers.climate.wet_bulb_p99_c.path", "wet.tif"),
]


@pytest.mark.parametrize(("key", "name"), LAYER_PATHS)
def test_fifo_at_a_layer_path_is_refused_before_any_read(region, key, name):
    """Finding 1: a FIFO at each kind of layer path (vector, grid GeoPackage, raster) is a
    named error (path and dotted key) at once; on dda1b6a ``load_layers`` blocked in GDAL."""
    fifo = _fifo(region.root / name)
    _set_path(region.scenario, key, name)
    scenario = load_scenario(region.write())
    with no_fifo_hang(QUICK_S, fifo), pytest.raises(InputError) as e:
        load_layers(scenario)
    msg = str(e.value)
    assert f"{fifo}, field '{key}': is a named pipe (FIFO), not a regular file" in msg


def test_fifo_beside_a_raster_is_refused(region):
    """Finding 1: GDAL opens ``x.tif.aux.xml`` with ``x.tif``; a FIFO there hung the open."""
    region.write()
    aux = _fifo(region.root / "land_class.tif.aux.xml")
    with no_fifo_hang(QUICK_S, aux), pytest.raises(InputError) as e:
        load_layers(load_scenario(region.root / "scenario.yaml"))
    msg = str(e.value)
    assert "field 'layers.land_class.path'" in msg
    assert f"{aux.name} beside it is a named pipe" in msg


def test_fifo_as_a_shapefile_part_is_refused(region):
    """Finding 1: a shapefile's ``.cpg`` (read by OGR with the ``.shp``) as a FIFO."""
    short = region.water_sources[["source_id", "kind", "geometry"]]  # shapefile: 10 chars
    short.to_file(region.root / "water.shp", engine="pyogrio")
    cpg = _fifo(region.root / "water.cpg")
    region.scenario["layers"]["water_sources"] = {"path": "water.shp"}
    with no_fifo_hang(QUICK_S, cpg), pytest.raises(InputError) as e:
        load_layers(load_scenario(region.write()))
    assert "field 'layers.water_sources.path': water.cpg beside it is a named pipe" in str(e.value)


def test_fifo_as_matpower_case_or_bus_coordinates(tmp_path):
    """Finding 1: the grid case ``.m`` and its ``bus_coordinates`` CSV, through the API
    (``load_grid_case``, what ``siting validate CASE.m --bus-coordinates`` runs)."""
    case = tmp_path / "case.m"
    case.write_text(TINY)
    coords = _fifo(tmp_path / "coords.csv")
    with no_fifo_hang(QUICK_S, coords), pytest.raises(InputError) as e:
        load_grid_case(case, coords)
    assert f"{coords}, field 'bus_coordinates': is a named pipe (FIFO)" in str(e.value)
    fifo_case = _fifo(tmp_path / "fifo.m")
    with no_fifo_hang(QUICK_S, fifo_case), pytest.raises(InputError) as e:
        load_grid_case(fifo_case)
    assert f"{fifo_case}, field 'path': is a named pipe (FIFO)" in str(e.value)


def test_fifo_as_matpower_grid_of_a_scenario_and_its_coordinates(region):
    """Finding 1: ``layers.grid.path`` naming a ``.m`` case and ``layers.grid.bus_coordinates``."""
    (region.root / "case.m").write_text(TINY)
    coords = _fifo(region.root / "coords.csv")
    region.scenario["layers"]["grid"] = {
        "path": "case.m",
        "bus_coordinates": {"path": "coords.csv"},
    }
    with no_fifo_hang(QUICK_S, coords), pytest.raises(InputError) as e:
        load_layers(load_scenario(region.write()))
    assert "field 'layers.grid.bus_coordinates.path': is a named pipe" in str(e.value)


def test_fifo_as_demand_costs_csv(region):
    """Finding 1: ``policy.demand.costs_csv``, read by siting's own CSV reader."""
    region.regions.assign(demand_mw=100.0).to_file(
        region.root / "demand.gpkg", layer="demand_regions", engine="pyogrio"
    )
    costs = _fifo(region.root / "costs.csv")
    region.scenario["layers"]["demand_regions"] = {"path": "demand.gpkg"}
    region.scenario["policy"] = {"demand": {"costs_csv": "costs.csv"}}
    with no_fifo_hang(QUICK_S, costs), pytest.raises(InputError) as e:
        load_layers(load_scenario(region.write()))
    assert "field 'policy.demand.costs_csv': is a named pipe" in str(e.value)


def test_hashing_a_fifo_is_refused_without_blocking(tmp_path):
    """Finding 1: the manifest's hashing (``file_sha256``, ``hash_inputs``) never opens a
    FIFO for reading; on dda1b6a ``file_sha256`` blocked in ``open``."""
    fifo = _fifo(tmp_path / "grid.m")
    with no_fifo_hang(QUICK_S, fifo):
        with pytest.raises(NotRegularFileError, match="named pipe"):
            file_sha256(fifo)
        with pytest.raises(InputError) as e:
            hash_inputs([("grid", fifo, "file")])
    assert f"{fifo}, field 'grid': cannot be hashed" in str(e.value)
    with no_hang(QUICK_S), pytest.raises(NotRegularFileError, match="character device"):
        file_sha256("/dev/zero")  # would never end


def test_cli_validate_and_plan_refuse_a_fifo_layer(region, tmp_path):
    """Finding 1 through the command line, in real processes: ``siting validate`` and
    ``siting plan`` exit 1 (not 3, no traceback) naming the FIFO and its key; on dda1b6a
    both hung until the timeout."""
    fifo = _fifo(region.root / "water.gpkg")
    region.scenario["layers"]["water_sources"] = {"path": "water.gpkg"}
    scenario = region.write()
    for args in (("validate", scenario), ("plan", scenario, "--out", tmp_path / "out")):
        proc = _siting(*args)
        assert proc.returncode == 1, proc.stderr
        assert f"{fifo}, field 'layers.water_sources.path': is a named pipe" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_cli_validate_case_with_fifo_coordinates(tmp_path):
    """Finding 1: ``siting validate CASE.m --bus-coordinates FIFO`` exits 1 naming it."""
    case = tmp_path / "case.m"
    case.write_text(TINY)
    fifo = _fifo(tmp_path / "coords.csv")
    proc = _siting("validate", case, "--bus-coordinates", fifo)
    assert proc.returncode == 1, proc.stderr
    assert f"{fifo}, field 'bus_coordinates': is a named pipe (FIFO)" in proc.stderr


# --------------------------------------------------------------------------- finding 4

AUX_NODATA_4 = (
    '<PAMDataset><PAMRasterBand band="1"><NoDataValue>4</NoDataValue></PAMRasterBand>'
    "</PAMDataset>\n"
)


def test_raster_sidecar_is_recorded_and_changes_what_is_read(region):
    """Finding 4: a ``.aux.xml`` beside ``land_class.tif`` that declares nodata 4 turns
    the urban corner (class 4, 100 of 1,600 cells: conftest) into nodata, so 1,500 / 1,600
    = 0.9375 of the cells hold data and no land is excluded by class any more. The
    manifest's inputs now list the sidecar with its SHA-256 (dda1b6a left it out, so the
    two runs had the same input hashes), and a sweep's key changes with it."""
    scenario = load_scenario(region.write())
    before = load_layers(scenario)
    key_before = scenario_key(scenario)
    assert before.land_class.nodata == 0 and before.land_class.valid_fraction == 1.0
    aux = region.root / "land_class.tif.aux.xml"
    aux.write_text(AUX_NODATA_4)
    after = load_layers(scenario)
    assert after.land_class.nodata == 4.0
    assert after.land_class.valid_fraction == pytest.approx(1500 / 1600)
    recorded = {f.path: f for f in after.inputs}
    assert str(aux) in recorded
    side = recorded[str(aux)]
    assert side.role == "land_class" and side.part_of == str(region.root / "land_class.tif")
    assert side.sha256 == file_sha256(aux) and side.size_bytes == len(AUX_NODATA_4)
    assert str(aux) not in {f.path for f in before.inputs}
    assert scenario_key(scenario) != key_before


def test_cli_validate_lists_the_sidecar(region):
    """Finding 4 through ``siting validate --json``: the sidecar is in ``inputs`` and the
    land class raster's valid share is 0.9375 (as in the test above)."""
    import json

    path = region.write()
    (region.root / "land_class.tif.aux.xml").write_text(AUX_NODATA_4)
    proc = _siting("validate", path, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    paths = {i["path"] for i in doc["inputs"]}
    assert str(region.root / "land_class.tif.aux.xml") in paths
    land = next(r for r in doc["rasters"] if r["name"] == "land_class")
    assert land["valid_share"] == pytest.approx(0.9375, abs=1e-4)


def test_vector_parts_are_recorded(tmp_path):
    """Finding 4: a shapefile's parts (``.shx``, ``.dbf``, ``.prj``, ``.cpg``: the list
    GDAL's shapefile driver gives for its file list) and nothing else beside it."""
    g = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(0, 0)], crs="EPSG:4326")
    g.to_file(tmp_path / "w.shp", engine="pyogrio")
    (tmp_path / "w_other.txt").write_text("not a part")
    files = [p.name for p in dataset_files(tmp_path / "w.shp", "vector")]
    assert files == ["w.shp", "w.cpg", "w.dbf", "w.prj", "w.shx"]


def test_geopackage_wal_is_recorded(tmp_path):
    """Finding 4: rows committed into a GeoPackage's write-ahead log (``-wal``, not yet
    copied into the file) are read by OGR, so the ``-wal`` is a file of the dataset and is
    hashed with it (a sweep keys its tasks by these hashes before anything reads the
    layer). OGR folds the log into the file when it closes the dataset, after which the
    file's own hash holds the row."""
    path = tmp_path / "water.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[Point(0, 0)], crs="EPSG:4326").to_file(
        path,
        layer="w",
        engine="pyogrio",
        SPATIAL_INDEX="NO",  # no triggers calling ST_ ...
    )
    con = sqlite3.connect(path)  # held open: its last close would fold the log back in
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA wal_autocheckpoint=0")
        con.execute("INSERT INTO w (a) VALUES (2)")
        con.commit()
        wal = Path(f"{path}-wal")
        main_before = file_sha256(path)
        refs = hash_inputs([("water_sources", path, "vector")])
        assert [Path(r.path).name for r in refs] == ["water.gpkg", "water.gpkg-wal"]
        assert refs[1].part_of == str(path) and refs[1].sha256 == file_sha256(wal)
        assert len(gpd.read_file(path, layer="w", engine="pyogrio")) == 2  # the logged row
    finally:
        con.close()
    assert file_sha256(path) != main_before  # folded in: the file alone now holds 2 rows


def test_scenario_yaml_is_still_read_through_the_same_check(tmp_path):
    """Finding 1: the scenario reader uses the same check (it refused FIFOs before)."""
    fifo = _fifo(tmp_path / "s.yaml")
    with no_fifo_hang(QUICK_S, fifo), pytest.raises(InputError, match="named pipe"):
        load_scenario(fifo)
    ok = tmp_path / "ok.yaml"
    ok.write_text(yaml.safe_dump({"name": "x", "years": [2030], "layers": {}}))
    assert load_scenario(ok).name == "x"


# --------------------------------------------------------------------------- finding 5c


def test_gdal_warnings_while_reading_a_layer_become_notes(region):
    """Finding 5c: GDAL's warnings reached the console as raw pyogrio ``RuntimeWarning``
    lines (``.../pyogrio/core.py:169: RuntimeWarning: ...``). Here GDAL warns that a
    GeoPackage is named ``.data`` (``has GPKG application_id, but non conformant file
    extension``, a real GDAL warning, once per open); ``siting validate`` now says it once,
    as a note naming the file and the first layer it was read for."""
    region.write()
    data = region.root / "region.data"
    shutil.copy(region.gpkg, data)
    region.scenario["layers"]["places"] = {"path": "region.data"}
    proc = _siting("validate", region.write())
    assert proc.returncode == 0, proc.stderr
    assert "RuntimeWarning" not in proc.stderr + proc.stdout
    assert "pyogrio" not in proc.stderr + proc.stdout
    said = f"{data} layer 'places': GDAL says: File {data} has GPKG application_id"
    assert (proc.stdout + proc.stderr).count(said) == 1
