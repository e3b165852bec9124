"""The plan's map (``index.html``) in a real headless browser: Debian's chromium driven by
the ``playwright`` package (no browser download; ``.ci/run`` installs chromium).

Every request that is not ``file://`` is blocked, so the map is tested as it works offline:
no JavaScript errors, the layer control lists the overlays and they toggle, the year slider
changes what is shown, a popup shows an escaped name and no injected script runs, and a
screenshot is saved (in the test's temporary folder) for a person to look at.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from browser import open_offline
from shapely.geometry import Point
from test_plan import CRS, at, write_region
from typer.testing import CliRunner

import siting
from siting.cli import app

EVIL = "<script>window.__xss=1</script> & <img src=x onerror=window.__xss=2>"


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory) -> Path:
    """The tiny region with hostile names and a third site that is not economic."""
    d = tmp_path_factory.mktemp("map")
    scenario = write_region(d)
    gpkg = d / "tiny.gpkg"
    sites = gpd.read_file(gpkg, layer="sites")
    sites.loc[sites["site_id"] == "S3", "name"] = EVIL
    extra = gpd.GeoDataFrame(
        {
            "site_id": ["S9"],
            "name": ["far & dear"],
            "area_ha": [500.0],
            "fixed_cost_usd": [5e9],
            "max_it_mw": [None],
        },
        geometry=[at(15, 15)],
        crs=CRS,
    )
    gpd.GeoDataFrame(
        pd.concat([sites, extra.astype({"max_it_mw": float})], ignore_index=True), crs=CRS
    ).to_file(gpkg, layer="sites", mode="w")
    ws = gpd.read_file(gpkg, layer="water_sources")
    ws["name"] = EVIL
    ws.to_file(gpkg, layer="water_sources", mode="w")
    out = d / "out"
    siting.plan(scenario, out=out)
    return out


def count(page, cls: str) -> int:
    return page.locator(f".leaflet-overlay-pane path.{cls}").count()


def overlay_names(page) -> list[str]:
    return [
        t.strip() for t in page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    ]


def test_the_plan_writes_the_map_offline(plan_dir):
    html = (plan_dir / "index.html").read_text(encoding="utf-8")
    assert (
        "cdn." not in html and "<script src=" not in html and '<link rel="stylesheet"' not in html
    )
    assert "<script>window.__xss" not in html and "<img src=x" not in html
    assert "&lt;script&gt;window.__xss=1" in html.replace("\\u0026", "&")


def test_map_loads_lists_layers_and_they_toggle(plan_dir, browser, tmp_path):
    page, errors = open_offline(browser, plan_dir / "index.html")
    names = overlay_names(page)
    for expected in (
        "Region outline",
        "Growth zones",
        "Candidates not chosen",
        "Branches (peak loading)",
        "Substations",
        "Water sources",
        "Water pipelines",
        "Chosen sites",
    ):
        assert expected in names, (expected, names)
    assert page.locator(".leaflet-control-scale").count() == 1
    assert page.locator(".siting-fullscreen").count() == 1
    assert page.locator(".siting-minimap").count() == 1
    assert "IT MW" in page.locator(".siting-legend").inner_text()
    for label, cls in (
        ("Chosen sites", "siting-site"),
        ("Branches (peak loading)", "siting-branch"),
    ):
        before = count(page, cls)
        assert before > 0, label
        box = page.locator(".leaflet-control-layers-overlays label", has_text=label)
        box.locator("input").uncheck()
        assert count(page, cls) == 0, label
        box.locator("input").check()
        assert count(page, cls) == before, label
    page.screenshot(path=str(tmp_path / "map.png"), full_page=True)
    assert (tmp_path / "map.png").stat().st_size > 10_000
    assert errors == []


def test_the_year_slider_changes_what_is_shown(plan_dir, browser):
    page, errors = open_offline(browser, plan_dir / "index.html")
    # the plan: S3 from 2030, S2 from 2031 (tests/test_plan.py)
    assert page.evaluate("window.sitingYear") == 2031
    assert count(page, "siting-site") == 2
    slider = page.locator("#siting-year")
    slider.fill("0")  # dispatches 'input'
    assert page.evaluate("window.sitingYear") == 2030
    assert page.locator("#siting-year-label").inner_text() == "2030"
    assert count(page, "siting-site") == 1
    slider.fill("1")
    assert count(page, "siting-site") == 2
    assert errors == []


def test_a_site_popup_shows_escaped_text_and_runs_no_script(plan_dir, browser):
    page, errors = open_offline(browser, plan_dir / "index.html")
    page.evaluate(
        """() => { var hit = null;
        window.sitingMap.eachLayer(function (l) {
          if (l.getPopup && l.getPopup() && l.options.className === 'siting-site' &&
              String(l.getPopup().getContent()).indexOf('S3') >= 0) hit = l; });
        hit.fire('click', {latlng: hit.getLatLng()}); }"""
    )
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5_000)
    text = popup.inner_text()
    assert "<script>window.__xss=1</script> & <img" in text  # shown as text
    assert "IT MW by year" in text and "cooling" in text and "PUE" in text and "bus" in text
    assert popup.locator("script").count() == 0 and popup.locator("img").count() == 0
    # the water source's hostile name too, inside the site S2's popup and its own
    assert page.evaluate("window.__xss") is None
    assert errors == []


def test_a_candidate_not_chosen_says_why(plan_dir, browser):
    page, errors = open_offline(browser, plan_dir / "index.html")
    text = page.evaluate(
        """() => { var out = null;
        window.sitingMap.eachLayer(function (l) {
          if (l.feature && l.feature.properties && l.feature.properties.i === 'S9') {
            l.fire('click', {latlng: l.getLatLng()}); out = true; } });
        return out; }"""
    )
    assert text
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5_000)
    # the popup says why not in words with figures: the candidates layer's why_not
    # (siting.results.why), e.g. its cost per MW against the dearest chosen site
    cands = gpd.read_file(plan_dir / "plan.gpkg", layer="candidates").set_index("site_id")
    why_not = str(cands.at["S9", "why_not"])
    assert cands.at["S9", "status"] == "not_chosen" and why_not
    assert " ".join(why_not.split()) in " ".join(popup.inner_text().split())
    assert errors == []


def test_siting_map_rerenders_a_saved_plan(plan_dir, tmp_path):
    copy = tmp_path / "plan"
    shutil.copytree(plan_dir, copy)
    (copy / "index.html").unlink()
    started = time.perf_counter()
    r = CliRunner().invoke(app, ["map", str(copy)])
    assert r.exit_code == 0, r.output
    assert (copy / "index.html").is_file()
    assert time.perf_counter() - started < 30
    other = tmp_path / "elsewhere.html"
    r = CliRunner().invoke(app, ["map", str(copy), "--out", str(other), "--no-tiles"])
    assert r.exit_code == 0, r.output
    assert "tile.openstreetmap.org" not in other.read_text(encoding="utf-8")
    r = CliRunner().invoke(app, ["map", str(tmp_path / "nope")])
    assert r.exit_code == 1
    assert "not a plan folder" in r.output


def test_missing_scenario_layers_are_skipped_with_a_note(plan_dir, tmp_path):
    import json

    copy = tmp_path / "plan"
    shutil.copytree(plan_dir, copy)
    m = json.loads((copy / "manifest.json").read_text())
    m["scenario_as_run"]["layers"]["boundary"] = {"path": str(tmp_path / "gone.gpkg")}
    m["scenario_as_run"]["layers"]["places"] = {"path": str(tmp_path / "gone2.gpkg")}
    (copy / "manifest.json").write_text(json.dumps(m))
    from siting.render.maps import render_map

    html = render_map(copy).read_text(encoding="utf-8")
    assert "is no longer there" in html
    _ = Point  # (shapely imported for the fixture's geometry helpers)


def test_sites_that_are_grid_cells_are_drawn_at_a_point(plan_dir, browser, tmp_path):
    # Cell candidates (the demo's) are polygons; the map draws each chosen site as a circle
    # at a point inside its cell. (A polygon handed to a circle marker once broke the page.)
    from siting.render.maps import render_map

    copy = tmp_path / "cells"
    shutil.copytree(plan_dir, copy)
    sites = gpd.read_file(copy / "plan.gpkg", layer="sites")
    sites = sites.set_geometry(sites.geometry.buffer(2_000, cap_style="square"))
    sites.to_file(copy / "plan.gpkg", layer="sites", driver="GPKG")
    render_map(copy)
    page, errors = open_offline(browser, copy / "index.html")
    assert count(page, "siting-site") == 2  # both sites in service in 2031
    assert errors == []
