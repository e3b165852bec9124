"""On-site availability sampled from a resource raster (``availability_raster``).

A solar-yield GeoTIFF [kWh/kWp/year] written over conftest's tiny region (0.01 degree
cells, origin lon -100.1, lat 32.3) with three user sites at points: A in cell (row 29,
col 10), B in cell (row 14, col 25), C on a nodata cell (row 5, col 35). Annual capacity
factor = yield / 8,760 h (e.g. 4,380 kWh/kWp/year -> 0.5).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml
from shapely.geometry import Point
from test_model import HOURS, _line_case, solved
from test_onsite import BASE

from siting.config.scenario import Scenario, load_scenario
from siting.core.errors import InputError
from siting.model.data import onsite_inputs, raster_availability

LON0, LAT0 = -100.0, 32.0
CELL = {"A": (29, 10), "B": (14, 25), "C": (5, 35)}  # (row, col) of each site's point


def _point(row: int, col: int) -> Point:
    """The centre of raster cell (row, col) of conftest's region rasters."""
    return Point(LON0 - 0.1 + (col + 0.5) * 0.01, LAT0 + 0.3 - (row + 0.5) * 0.01)


def _option(**kw) -> dict:
    o = {
        "name": "solar",
        "technology": "solar_pv",
        "capex_usd_per_mw": 0.0,
        "fixed_usd_per_mw_year": 60e3,
        "lifetime_years": 30,
        "max_mw_per_site": 200,
        "availability_raster": {"path": "pvout.tif", "unit": "kwh_per_kw_year"},
    }
    o.update(kw)
    return o


def _region(region, a_kwh: float, b_kwh: float, option: dict | None = None):
    """Write the region with the sites and a yield raster (A and B cells as given, C on
    nodata, 1,314 elsewhere); the scenario, its layers and candidates."""
    from siting.candidates.generate import build_candidates
    from siting.inputs import load_layers

    arr = np.full((40, 40), 1314.0, dtype="float32")
    arr[CELL["A"]], arr[CELL["B"]], arr[CELL["C"]] = a_kwh, b_kwh, -9999.0
    region.scenario["layers"]["sites"] = {"path": "region.gpkg"}
    region.scenario["onsite"] = {"options": [option or _option()]}
    path = region.write()
    region.write_raster("pvout", arr)
    gpd.GeoDataFrame(
        {"site_id": list(CELL), "area_ha": [500.0] * 3, "max_it_mw": [300.0] * 3},
        geometry=[_point(*rc) for rc in CELL.values()],
        crs="EPSG:4326",
    ).to_file(region.gpkg, layer="sites")
    sc = load_scenario(path)
    layers = load_layers(sc)
    return sc, layers, build_candidates(sc, layers)


def test_the_raster_is_sampled_at_each_site_and_shaped_by_the_snapshot_profile(region):
    from siting.candidates.cooling import cooling_table
    from siting.model import model_data

    # profile over the default snapshots (peak 0 h, high 2,190 h, mid 4,380 h, low 2,190 h):
    # 0.6, 0.4, 0.25, 0.1; its mean over the hours = (2,190 x 0.4 + 4,380 x 0.25 + 2,190 x
    # 0.1) / 8,760 = 0.25, so each snapshot gets CF x (2.4, 1.6, 1.0, 0.4)
    opt = _option(
        availability=0.25, availability_by_snapshot={"peak": 0.6, "high": 0.4, "low": 0.1}
    )
    sc, layers, c = _region(region, 1752.0, 2190.0, opt)
    # by hand: A 1,752 / 8,760 = 0.20, B 2,190 / 8,760 = 0.25, C nodata -> NaN
    assert c.resource.loc["A", "solar"] == pytest.approx(0.20)
    assert c.resource.loc["B", "solar"] == pytest.approx(0.25)
    assert np.isnan(c.resource.loc["C", "solar"])
    # the raster is an input of the run (hashed for the manifest)
    roles = {f.role: f for f in layers.inputs}
    assert roles["onsite.options[0].availability_raster"].sha256
    cols = ["dry_bulb_mean_c", "dry_bulb_p99_c", "wet_bulb_mean_c", "wet_bulb_p99_c"]
    d = model_data(sc, layers, c, cooling_table(c.sites[cols]))
    a = d.onsite.availability
    assert a.loc[("A", "solar")].tolist() == pytest.approx([0.48, 0.32, 0.20, 0.08])
    assert a.loc[("B", "solar")].tolist() == pytest.approx([0.60, 0.40, 0.25, 0.10])
    # C (nodata) does not get the option, and a note says so
    assert ("C", "solar") not in a.index
    assert "C" in c.sites.index
    assert any(
        n.startswith("on-site option solar: 1 candidate") and "(e.g. C)" in n for n in d.notes
    )


def test_the_combination_clips_to_one_and_a_flat_profile_gives_the_cf():
    # CF 0.5 with a profile 0.6 / 0.2 over 0 h and 8,760 h: mean 0.2 -> 1.5 (clipped to 1)
    # and 0.5; a flat profile gives the CF itself
    out = raster_availability(np.array([0.5]), [0.6, 0.2], np.array([0.0, 8760.0]))
    assert out.tolist() == [[1.0, 0.5]]
    flat = raster_availability(np.array([0.3, 0.1]), [1.0, 1.0], np.array([0.0, 8760.0]))
    assert flat.ravel().tolist() == pytest.approx([0.3, 0.3, 0.1, 0.1])
    with pytest.raises(ValueError, match="averages 0"):
        raster_availability(np.array([0.3]), [1.0, 0.0], np.array([0.0, 8760.0]))


def _plan_with(resource: pd.DataFrame):
    # test_onsite's case: line a 120 MW, A needs 80 MW of on-site output to reach 200 MW
    # in 2031, else B opens; solar 60,000 USD/MW-year, at most 200 MW per site, available
    # at A and B with the sampled annual capacity factor (one 8,760 h snapshot: flat)
    sc = Scenario.model_validate(
        {"name": "t", "years": [2030], "layers": {}, "onsite": {"options": [_option()]}}
    )
    d = _line_case(120.0)
    d.onsite = onsite_inputs(sc, ["A", "B"], ["peak"], resource=resource)
    return solved(d, BASE)


def test_the_better_resourced_site_builds_solar_and_grows(region):
    _, _, c = _region(region, 4380.0, 2628.0)  # CF A 0.5, B 0.3
    assert c.resource.loc[["A", "B"], "solar"].tolist() == pytest.approx([0.5, 0.3])
    m, r = _plan_with(c.resource)
    # A at 0.5: 80 MW of output is 160 MW of solar (within 200), cheaper than opening B
    # (over 1,000 M USD); B's solar at 0.3 saves 0.3 x 8,760 x 10 = 26,280 < 60,000 a year
    assert float(m.cap["A", 1]()) == pytest.approx(200.0)
    assert float(m.cap["B", 1]()) == pytest.approx(0.0)
    assert float(m.os_cap["A", "solar", 1]()) == pytest.approx(160.0)
    assert float(m.os_cap["B", "solar", 1]()) == pytest.approx(0.0, abs=1e-6)
    # objective as test_onsite's hand sum: A 10 M + 100 x 10 M + 100 x 10 M / 1.1, energy
    # 100 x 8,760 x 10 + 120 x 8,760 x 10 / 1.1, solar 160 x 60,000 / 1.1
    expected = (
        10e6 + 100 * 10e6 + 100 * 10e6 / 1.1 + 100 * HOURS * 10 + 120 * HOURS * 10 / 1.1
    ) + 160 * 60e3 / 1.1
    assert r.objective == pytest.approx(expected, rel=1e-9)


def test_with_a_poor_resource_at_a_site_b_opens_instead(region):
    _, _, c = _region(region, 2628.0, 4380.0)  # swapped: CF A 0.3, B 0.5
    m, r = _plan_with(c.resource)
    # A would need 80 / 0.3 = 267 MW of solar, over the 200 MW allowed: B opens with 100 MW
    # in 2031 (test_model's hand sum) and no solar pays at either site (B's line is free;
    # 0.5 x 8,760 x 10 = 43,800 < 60,000 USD a year)
    assert float(m.cap["A", 1]()) == pytest.approx(100.0)
    assert float(m.cap["B", 1]()) == pytest.approx(100.0)
    for s in ("A", "B"):
        assert float(m.os_cap[s, "solar", 1]()) == pytest.approx(0.0, abs=1e-6)
    expected = 1_010_000_000 + (10e6 + 100 * 11e6) / 1.1 + 100 * HOURS * 10 + 200 * HOURS * 10 / 1.1
    assert r.objective == pytest.approx(expected, rel=1e-9)


def test_bad_resource_input_says_which_option_file_and_site(region):
    # a site the option names explicitly on a nodata cell: an error naming option, file, site
    sc, layers, c = _region(region, 1752.0, 2190.0, _option(sites=["A", "C"]))
    with pytest.raises(InputError, match=r"availability_raster.*'solar'.*pvout.tif.*\['C'\]"):
        onsite_inputs(sc, list(c.sites.index), ["peak"], resource=c.resource)
    # cells above a capacity factor of 1 (here a yield over 8,760 kWh/kW/year) are refused
    text = yaml.safe_load((region.root / "scenario.yaml").read_text())
    text["onsite"]["options"][0]["availability_raster"]["unit"] = "fraction"
    (region.root / "scenario.yaml").write_text(yaml.safe_dump(text))
    with pytest.raises(InputError) as e:
        from siting.inputs import load_layers

        load_layers(load_scenario(region.root / "scenario.yaml"))
    msg = str(e.value)
    assert "pvout.tif" in msg and "onsite.options[0].availability_raster (solar)" in msg
    assert "out of range [0, 1]" in msg
    # a missing file names the scenario key
    text["onsite"]["options"][0]["availability_raster"]["path"] = "nope.tif"
    (region.root / "scenario.yaml").write_text(yaml.safe_dump(text))
    with pytest.raises(InputError, match="nope.tif"):
        load_layers(load_scenario(region.root / "scenario.yaml"))
    # storage cannot take a raster
    with pytest.raises(Exception, match="storage"):
        Scenario.model_validate(
            {
                "name": "t",
                "years": [2030],
                "layers": {},
                "onsite": {"options": [_option(storage_mwh_per_mw=4.0)]},
            }
        )
