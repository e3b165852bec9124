"""``layers.sites.mode``: a sites layer's sites replace the generated cells, or join them.

The region, case and sites are those of ``tests/test_grid_attachments.py``: the 60 km x
20 km strip, buses 1, 2, 3 at x = 5, 30, 55 km, S1 on bus 1 (300 M USD to open) and S3 on
bus 3 (the default 25 M USD).
"""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import box
from test_grid_attachments import CRS, KM, X0, Y0, opened, write_region
from typer.testing import CliRunner

import siting
from siting.candidates.generate import build_candidates
from siting.cli import app
from siting.config.scenario import load_scenario
from siting.core.errors import InputError
from siting.inputs import load_layers

runner = CliRunner()


def test_sites_mode_add_keeps_the_cells_and_the_sites(tmp_path):
    """The 60 km x 20 km strip in 20 km cells anchored at multiples of 20 km is three
    cells, c_175_025 to c_175_027; the sites layer adds S1 and S3 (points) with ``add``
    and replaces the cells with ``replace``; a site polygon is cut out of its cell."""
    path = write_region(tmp_path, sites={"mode": "add"}, candidates={"cell_km": 20})
    cells = ["c_175_025", "c_175_026", "c_175_027"]
    sc = load_scenario(path)
    c = build_candidates(sc, load_layers(sc))
    assert sorted(c.all.index) == sorted(["S1", "S3", *cells])
    assert c.all.loc[cells, "kind"].tolist() == ["cell"] * 3
    assert c.all.loc[["S1", "S3"], "kind"].tolist() == ["point"] * 2
    assert c.all.loc["S1", "bus_id"] == "1" and c.all.loc["S3", "bus_id"] == "3"
    assert c.all.loc[cells, "area_ha"].tolist() == pytest.approx([40_000.0] * 3)

    path = write_region(tmp_path, sites={"mode": "replace"}, candidates={"cell_km": 20})
    sc = load_scenario(path)
    assert sorted(build_candidates(sc, load_layers(sc)).all.index) == ["S1", "S3"]

    # a 2 km x 2 km parcel inside the middle cell: the cell keeps 400 - 4 = 396 km2
    parcel = box(X0 + 29 * KM, Y0 + 9 * KM, X0 + 31 * KM, Y0 + 11 * KM)
    path = write_region(tmp_path / "p", sites={"mode": "add"}, candidates={"cell_km": 20})
    gpd.GeoDataFrame({"site_id": ["P2"]}, geometry=[parcel], crs=CRS).to_file(
        tmp_path / "p" / "region.gpkg", layer="sites", mode="w"
    )
    sc = load_scenario(path)
    c = build_candidates(sc, load_layers(sc))
    assert c.all.at["P2", "area_ha"] == pytest.approx(400.0)
    assert c.all.at["c_175_026", "area_ha"] == pytest.approx(39_600.0)
    assert c.all.at["c_175_025", "area_ha"] == pytest.approx(40_000.0)

    # and a plan weighs both: S3, opened for nothing here, beats S1 (300 M) and every
    # cell (25 M to open, and a tie line unless it lies on a bus); no line limit binds
    path = write_region(
        tmp_path / "plan",
        branches=[(1, 2, 1000.0, 0.0), (2, 3, 1000.0, 0.0)],
        sites={"mode": "add"},
        fixed_costs_usd=(300e6, 0.0),
        candidates={"cell_km": 20},
    )
    p = siting.plan(path, write=False)
    assert opened(p) == ["S3"]
    assert set(p.candidates.index) == {"S1", "S3", *cells}


def test_sites_mode_add_refuses_a_site_id_a_cell_has(tmp_path):
    path = write_region(
        tmp_path,
        sites={"mode": "add"},
        candidates={"cell_km": 20},
        site_ids=("S1", "c_175_027"),
    )
    sc = load_scenario(path)
    with pytest.raises(InputError) as e:
        build_candidates(sc, load_layers(sc))
    assert str(e.value.problems[0]).startswith(
        f"{tmp_path / 'region.gpkg'}, layer 'sites', row 2 (id 'c_175_027'), field 'site_id': "
        "site_id 'c_175_027' is also the ID of a generated candidate cell"
    )
    res = runner.invoke(app, ["plan", str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 1, res.output
    assert "is also the ID of a generated candidate cell" in res.output
    # with mode replace (the default) there are no cells, and no clash
    path = write_region(tmp_path, candidates={"cell_km": 20}, site_ids=("S1", "c_175_027"))
    sc = load_scenario(path)
    assert sorted(build_candidates(sc, load_layers(sc)).all.index) == ["S1", "c_175_027"]
