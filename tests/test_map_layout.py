"""The map page on three screens and offline (issue 20): headless Debian chromium through
``playwright`` (see tests/browser.py), at 1280x800, 1366x768 and 390x844 (a phone).

Checked: the legend and the layer control never overlap (their bounding boxes), every
overlay switch is visible and takes a click (playwright's actionability check: nothing
covers it), place labels are drawn, and nothing but ``file://`` is requested on load; the
web tiles are a base the reader switches on, and only then are tiles requested (answered
here by a stub, so nothing leaves the machine). Also: substations by voltage and thinned at
low zoom on a large grid, place labels sized by population, and the links between a site's
popup and its section of the report.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml
from shapely.geometry import box
from test_plan import CRS, KM, X0, Y0, at, write_region

import siting

SCREENS = {"laptop": (1280, 800), "desktop": (1366, 768), "phone": (390, 844)}
#: A short window: the legend needs more columns to fit below the layer control.
SHORT = (1366, 560)
#: A 1x1 transparent PNG: the stub answer to a tile request.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
#: The places of the fixture: name, population [people], where [km from the corner].
PLACES = [
    ("Bigcity", 2_500_000, (20, 16)),
    ("Midtown", 150_000, (40, 4)),
    ("Smallville", 20_000, (8, 16)),
    ("Hamlet", 800, (50, 17)),
]


def write_region_with_places(d: Path) -> Path:
    """The tiny region (tests/test_plan.py) with a places layer and two exclusions, one of
    them open water (away from the sites, so the plan is the same)."""
    scenario = write_region(d)
    gpkg = d / "tiny.gpkg"
    gpd.GeoDataFrame(
        {
            "place_id": [f"P{i}" for i in range(len(PLACES))],
            "name": [n for n, _, _ in PLACES],
            "population": [p for _, p, _ in PLACES],
        },
        geometry=[at(*xy) for _, _, xy in PLACES],
        crs=CRS,
    ).to_file(gpkg, layer="places")
    gpd.GeoDataFrame(
        {"exclusion_id": ["E1", "E2"], "kind": ["water", "protected"], "name": ["Lake", "Park"]},
        geometry=[
            box(X0 + 10 * KM, Y0 + 2 * KM, X0 + 18 * KM, Y0 + 6 * KM),
            box(X0 + 42 * KM, Y0 + 14 * KM, X0 + 46 * KM, Y0 + 18 * KM),
        ],
        crs=CRS,
    ).to_file(gpkg, layer="exclusions")
    sc = yaml.safe_load(scenario.read_text())
    sc["layers"]["places"] = {"path": "tiny.gpkg", "layer": "places"}
    sc["layers"]["exclusions"] = [{"path": "tiny.gpkg", "layer": "exclusions"}]
    scenario.write_text(yaml.safe_dump(sc, sort_keys=False))
    return scenario


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("layout")
    out = d / "out"
    siting.plan(write_region_with_places(d), out=out)
    return out


def open_page(browser, path: Path, size: tuple[int, int], *, phone: bool = False):
    """Open ``path`` at ``size`` [px]; every request is recorded, tile requests answered by
    a stub PNG, anything else not ``file://`` aborted. Returns (page, requests, errors)."""
    ctx = browser.new_context(
        viewport={"width": size[0], "height": size[1]}, is_mobile=phone, has_touch=phone
    )
    page = ctx.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))

    def route(r):
        url = r.request.url
        if url.startswith("file:"):
            r.continue_()
        elif url.startswith("https://tile.openstreetmap.org/"):
            r.fulfill(status=200, content_type="image/png", body=PNG)
        else:
            r.abort()

    page.route("**/*", route)
    page.goto(path.as_uri())
    page.wait_for_function("window.sitingReady === true", timeout=10_000)
    return page, requests, errors


def box_of(page, selector: str) -> dict:
    b = page.locator(selector).first.bounding_box()
    assert b is not None, f"{selector} is not drawn"
    return b


def overlap(a: dict, b: dict) -> bool:
    """Whether two bounding boxes intersect (touching edges do not)."""
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def toggle_legend(page) -> None:
    """Click the legend's summary and wait until the page has handled the ``toggle`` event
    that this queues (HTML dispatches it as a task, after the click has returned; a box
    measured before it was seen overlapping in CI). The map's own handler, added when the
    page loaded, runs before the listener added here, so what is measured after this is
    the layout the map settles on."""
    page.evaluate(
        "() => { window.__sitingToggled = false; document.querySelector("
        "'details.siting-legend').addEventListener('toggle', () => { "
        "window.__sitingToggled = true; }, {once: true}); }"
    )
    page.locator(".siting-legend summary").click()
    page.wait_for_function("() => window.__sitingToggled === true", timeout=10_000)


def test_overlap_of_boxes_by_hand():
    # reference values by hand: [0,10]x[0,10] and [10,20]x[0,10] touch, do not overlap
    a = {"x": 0, "y": 0, "width": 10, "height": 10}
    assert not overlap(a, {"x": 10, "y": 0, "width": 10, "height": 10})
    assert overlap(a, {"x": 9, "y": 9, "width": 10, "height": 10})


def check_controls(page) -> None:
    """Legend and layer control apart; every overlay switch visible, on screen and
    clickable (a trial click fails when something covers it)."""
    ctl = box_of(page, ".leaflet-control-layers")
    lg = box_of(page, ".siting-legend")
    assert not overlap(ctl, lg), (ctl, lg)
    vw = page.viewport_size
    boxes = page.locator(".leaflet-control-layers-overlays input")
    assert boxes.count() >= 8
    for i in range(boxes.count()):
        b = boxes.nth(i)
        assert b.is_visible()
        bb = b.bounding_box()
        assert bb is not None
        assert 0 <= bb["x"] and bb["x"] + bb["width"] <= vw["width"]
        assert 0 <= bb["y"] and bb["y"] + bb["height"] <= vw["height"]
        b.click(trial=True, timeout=2_000)


@pytest.mark.parametrize("screen", ["laptop", "desktop", "short"])
def test_wide_screens_legend_and_layer_control_apart(plan_dir, browser, screen, tmp_path):
    size = SHORT if screen == "short" else SCREENS[screen]
    page, requests, errors = open_page(browser, plan_dir / "index.html", size)
    assert page.locator("details.siting-legend").get_attribute("open") is not None
    check_controls(page)
    # the legend's last entry is in sight (not scrolled out of its box, nor spilled sideways)
    body = page.locator(".siting-legend-body")
    assert body.evaluate("e => e.scrollHeight <= e.clientHeight + 1")
    assert body.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    for i in range(page.locator(".siting-legend-body .lg").count()):
        sec = page.locator(".siting-legend-body .lg").nth(i)
        bb = sec.bounding_box()
        assert bb is not None and bb["x"] >= 0 and bb["x"] + bb["width"] <= size[0]
    # folding the legend and opening it again keeps them apart
    toggle_legend(page)
    toggle_legend(page)
    check_controls(page)
    if screen == "short":  # five sections side by side, not one scrolling column
        assert body.evaluate("e => getComputedStyle(e).columnCount") != "1"
    # a section is shown while its overlay is on: Places off hides the places' section
    places = page.locator(".siting-legend-body .lg[data-layer='Places']")
    assert places.is_visible()
    page.locator(".leaflet-control-layers-overlays label", has_text="Places").locator(
        "input"
    ).uncheck()
    assert not places.is_visible()
    check_controls(page)
    page.screenshot(path=str(tmp_path / f"{screen}.png"))
    assert [u for u in requests if not u.startswith("file:")] == []
    assert errors == []


def test_phone_controls_fold_and_never_overlap(plan_dir, browser, tmp_path):
    page, requests, errors = open_page(
        browser, plan_dir / "index.html", SCREENS["phone"], phone=True
    )
    # folded on load: the layer control is its button, the legend its title; no minimap
    assert page.locator(".leaflet-control-layers-expanded").count() == 0
    assert page.locator("details.siting-legend").get_attribute("open") is None
    assert page.locator(".siting-minimap").count() == 0
    ctl = box_of(page, ".leaflet-control-layers")
    lg = box_of(page, ".siting-legend")
    assert not overlap(ctl, lg)
    # together they cover less than a tenth of the map (390 x 844 px)
    assert ctl["width"] * ctl["height"] + lg["width"] * lg["height"] < 0.1 * 390 * 844
    page.screenshot(path=str(tmp_path / "phone-folded.png"))
    # open the layer control: every switch reachable, the legend stays apart
    page.locator(".leaflet-control-layers-toggle").tap()
    assert page.locator(".leaflet-control-layers-expanded").count() == 1
    check_controls(page)
    page.screenshot(path=str(tmp_path / "phone-layers.png"))
    # open the legend: the layer control folds, the legend sits above the year control
    toggle_legend(page)
    assert page.locator("details.siting-legend").get_attribute("open") is not None
    assert page.locator(".leaflet-control-layers-expanded").count() == 0
    lg = box_of(page, ".siting-legend")
    assert not overlap(box_of(page, ".leaflet-control-layers"), lg)
    assert not overlap(box_of(page, ".siting-yearbox"), lg)
    page.screenshot(path=str(tmp_path / "phone-legend.png"))
    assert [u for u in requests if not u.startswith("file:")] == []
    assert errors == []


@pytest.mark.parametrize("screen", list(SCREENS))
def test_place_labels_are_drawn_and_sized_by_population(plan_dir, browser, screen):
    page, _, errors = open_page(browser, plan_dir / "index.html", SCREENS[screen])
    labels = page.locator(".siting-place-label")
    assert sorted(labels.all_inner_texts()) == sorted(n for n, _, _ in PLACES)
    for i in range(labels.count()):
        assert labels.nth(i).is_visible()
    # label sizes [px] by hand from PLACES: 2.5 M -> 16, 150 k -> 14, 20 k -> 12, 800 -> 10
    size = {
        t: page.locator(".siting-place-label", has_text=t).evaluate(
            "e => getComputedStyle(e).fontSize"
        )
        for t in ("Bigcity", "Midtown", "Smallville", "Hamlet")
    }
    assert size == {"Bigcity": "16px", "Midtown": "14px", "Smallville": "12px", "Hamlet": "10px"}
    # the open water is on the offline base
    assert page.locator(".leaflet-overlay-pane path.siting-water").count() == 1
    assert errors == []


def test_tiles_are_requested_only_when_switched_on(plan_dir, browser):
    page, requests, errors = open_page(browser, plan_dir / "index.html", SCREENS["laptop"])
    assert [u for u in requests if not u.startswith("file:")] == []
    assert page.locator(".siting-tiles").count() == 0
    page.locator(".leaflet-control-layers-base label", has_text="OpenStreetMap").locator(
        "input"
    ).check()
    page.wait_for_function("document.querySelectorAll('img.leaflet-tile-loaded').length > 0")
    online = [u for u in requests if not u.startswith("file:")]
    assert online and all(u.startswith("https://tile.openstreetmap.org/") for u in online)
    # back to the drawn base: the tiles leave the page
    page.locator(".leaflet-control-layers-base label", has_text="offline").locator("input").check()
    assert page.locator(".siting-tiles").count() == 0
    assert errors == []


def test_no_tiles_leaves_the_tile_base_out(plan_dir, browser, tmp_path):
    from siting.render.maps import render_map

    page_file = render_map(plan_dir, tmp_path / "no-tiles.html", tiles=False)
    assert "tile.openstreetmap.org" not in page_file.read_text(encoding="utf-8")
    page, requests, errors = open_page(browser, page_file, SCREENS["laptop"])
    bases = page.locator(".leaflet-control-layers-base label").all_inner_texts()
    assert [b.strip() for b in bases] == ["Drawn from the layers (offline)"]
    assert [u for u in requests if not u.startswith("file:")] == []
    assert errors == []


# --------------------------------------------------------------------------- substations


def test_bus_detail_levels_by_hand():
    from siting.render.maps import BUS_DETAIL_0, BUS_DETAIL_1, bus_detail_levels

    assert (BUS_DETAIL_0, BUS_DETAIL_1) == (300, 1000)
    # a small grid is drawn whole
    assert bus_detail_levels(np.array([110.0, np.nan, 400.0]), np.zeros(3, bool)) == [0, 0, 0]
    # 100 x 400 kV (100 <= 300: level 0), 300 x 220 kV (400 in all > 300, <= 1000: level 1),
    # 700 x 110 kV (1,100 > 1,000: level 2), 5 without voltage (level 2); the campus bus
    # (a 110 kV one) is always level 0
    kv = np.array([400.0] * 100 + [220.0] * 300 + [110.0] * 700 + [np.nan] * 5)
    campus = np.zeros(len(kv), bool)
    campus[500] = True
    got = bus_detail_levels(kv, campus)
    assert got[:100] == [0] * 100 and got[100:400] == [1] * 300
    assert got[400:500] == [2] * 100 and got[500] == 0 and got[501:] == [2] * 604
    # the highest class is drawn even when it alone has more than 300 buses
    assert set(bus_detail_levels(np.full(400, 380.0), np.zeros(400, bool))) == {0}


def test_kv_colours_and_place_sizes_by_hand():
    from siting.render.maps import KV_CLASSES, NO_KV_COLOUR, kv_colour, place_size

    assert kv_colour(380) == kv_colour(300) == KV_CLASSES[0][1]
    assert kv_colour(299.9) == KV_CLASSES[1][1] and kv_colour(132) == KV_CLASSES[2][1]
    assert kv_colour(33) == KV_CLASSES[3][1]
    assert kv_colour(None) == kv_colour("n/a") == kv_colour(float("nan")) == NO_KV_COLOUR
    # log10 classes: < 10 k -> 0, 10 k -> 1, 100 k -> 2, 1 M and more -> 3
    sizes = [place_size(v) for v in (None, 0, 9_999, 10_000, 99_999, 100_000, 1e6, 3e7)]
    assert sizes == [0, 0, 0, 1, 1, 2, 3, 3]


def test_place_detail_levels_by_hand():
    from siting.render.maps import place_detail_levels

    # 200 places, population 200 .. 1 in reverse order: ranks 0-39 -> 0, 40-149 -> 1, else 2
    got = place_detail_levels(np.arange(1, 201, dtype=float))
    assert got[::-1][:40] == [0] * 40 and got[::-1][40:150] == [1] * 110
    assert got[::-1][150:] == [2] * 50


def test_a_large_grid_is_thinned_at_low_zoom(plan_dir, browser, tmp_path):
    from siting.render.maps import render_map

    copy = tmp_path / "big"
    shutil.copytree(plan_dir, copy)
    buses = gpd.read_file(copy / "plan.gpkg", layer="buses")
    # 1,100 buses spread over the strip: 100 at 400 kV, 300 at 220 kV, 700 at 110 kV
    kv = [400.0] * 100 + [220.0] * 300 + [110.0] * 700
    rng = np.random.default_rng(1)
    xs = rng.uniform(1, 59, len(kv))
    ys = rng.uniform(1, 19, len(kv))
    big = gpd.GeoDataFrame(
        {"bus_id": [f"B{i}" for i in range(len(kv))], "voltage_kv": kv},
        geometry=[at(x, y) for x, y in zip(xs, ys, strict=True)],
        crs=buses.crs,
    )
    for c in buses.columns:
        if c.startswith("campus_peak_mw_"):
            big[c] = 0.0
    big.to_file(copy / "plan.gpkg", layer="buses", driver="GPKG")
    render_map(copy)
    page, requests, errors = open_page(browser, copy / "index.html", SCREENS["laptop"])

    def n_buses() -> int:
        return page.locator(".leaflet-overlay-pane path.siting-bus").count()

    # by hand (test_bus_detail_levels_by_hand): 100 at the opening zoom, 400 one level in,
    # all 1,100 two levels in
    assert n_buses() == 100
    z0 = page.evaluate("window.sitingMap.getZoom()")
    for dz, want in ((1, 400), (2, 1100), (0, 100)):
        page.evaluate(f"window.sitingMap.setZoom({z0 + dz}, {{animate: false}})")
        page.wait_for_function(f"window.sitingMap.getZoom() === {z0 + dz}")
        assert n_buses() == want, dz
    # coloured by voltage: the 400 kV ones in the first class's colour
    colours = page.evaluate(
        "Array.from(document.querySelectorAll('path.siting-bus')).map(p => p.getAttribute('fill'))"
    )
    assert set(colours) == {"#54278f"}
    assert [u for u in requests if not u.startswith("file:")] == []
    assert errors == []


# --------------------------------------------------------------------------- report links


def test_a_site_popup_links_to_the_report_and_back(plan_dir, browser):
    report = (plan_dir / "report.html").read_text(encoding="utf-8")
    # the plan (tests/test_plan.py) chooses S2 and S3
    for sid in ("S2", "S3"):
        assert f'id="site-{sid}"' in report
        assert f'href="index.html#site-{sid}"' in report
    page, requests, errors = open_page(browser, plan_dir / "index.html", SCREENS["laptop"])
    page.evaluate(
        """() => { window.sitingMap.eachLayer(function (l) {
          if (l.getPopup && l.getPopup() && l.options.className === 'siting-site' &&
              String(l.getPopup().getContent()).indexOf('Site S3') >= 0) l.openPopup(); }); }"""
    )
    link = page.locator(".leaflet-popup-content a.siting-report-link")
    assert link.get_attribute("href") == "report.html#site-S3"
    # the popup may still be moving clear of the controls (the map pans it): click once the
    # map has come to rest, so the click lands on the link, not where it was a frame before
    page.evaluate(
        """() => new Promise(done => {
          const m = window.sitingMap, rest = () => requestAnimationFrame(
            () => requestAnimationFrame(done));
          if (m._panAnim && m._panAnim._inProgress) m.once('moveend', rest); else rest(); })"""
    )
    link.click()
    page.wait_for_url("**/report.html#site-S3")
    assert page.evaluate("document.getElementById('site-S3') !== null")
    # and back: the site's ID in the report opens the map on that site's popup
    page.locator("a#site-S2").click()
    page.wait_for_url("**/index.html#site-S2")
    page.wait_for_function("window.sitingReady === true")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5_000)
    assert "Site S2" in popup.inner_text()
    assert [u for u in requests if not u.startswith("file:")] == []
    assert errors == []


def test_a_site_popup_says_why_here(plan_dir, browser):
    """A chosen site's popup carries its ``why_here`` sentence (the plan's ``sites`` layer,
    without the leading ID); the candidates' ``why_not``: tests/test_why.py."""
    sites = gpd.read_file(plan_dir / "plan.gpkg", layer="sites").set_index("site_id")
    why = str(sites.at["S2", "why_here"])
    assert why.startswith("S2: ")
    page, requests, errors = open_page(browser, plan_dir / "index.html", SCREENS["laptop"])
    page.evaluate(
        """() => { window.sitingMap.eachLayer(function (l) {
          if (l.getPopup && l.getPopup() && l.options.className === 'siting-site' &&
              String(l.getPopup().getContent()).indexOf('Site S2') >= 0) l.openPopup(); }); }"""
    )
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5_000)
    text = " ".join(popup.inner_text().split())
    assert "why here" in text and " ".join(why[len("S2: ") :].split()) in text, text
    assert [u for u in requests if not u.startswith("file:")] == []
    assert errors == []


# --------------------------------------------------------------------------- robustness


def test_the_robustness_map_requests_no_tiles_until_switched_on(browser, tmp_path):
    from test_robustness import make_sweep

    from siting.studies.robustness import write_robustness

    folder = write_robustness(make_sweep(tmp_path / "sweep"), tiles=True)
    page, requests, errors = open_page(browser, folder / "robustness.html", SCREENS["desktop"])
    assert [u for u in requests if not u.startswith("file:")] == []
    page.locator(".leaflet-control-layers-base label", has_text="OpenStreetMap").locator(
        "input"
    ).check()
    page.wait_for_function("document.querySelectorAll('img.leaflet-tile-loaded').length > 0")
    online = [u for u in requests if not u.startswith("file:")]
    assert online and all(u.startswith("https://tile.openstreetmap.org/") for u in online)
    assert errors == []


# --------------------------------------------------------------------------- --tiles/--no-tiles


TILE_HOST = "tile.openstreetmap.org"


@pytest.mark.parametrize("command", ["plan", "map", "sweep", "pareto", "robustness", "grid stress"])
def test_every_command_that_writes_pages_has_the_tiles_option(command):
    from typer.testing import CliRunner

    from siting.cli import app

    r = CliRunner().invoke(app, [*command.split(), "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "--tiles" in r.output and "--no-tiles" in r.output


def test_siting_plan_no_tiles_writes_a_map_without_the_tile_base(plan_dir, tmp_path):
    from typer.testing import CliRunner

    from siting.cli import app

    # the default (the module's plan): the tile base offered, never loaded on open
    assert TILE_HOST in (plan_dir / "index.html").read_text(encoding="utf-8")
    scenario = write_region_with_places(tmp_path)
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["plan", str(scenario), "--out", str(out), "--no-tiles", "-q"])
    assert r.exit_code == 0, r.output
    assert TILE_HOST not in (out / "index.html").read_text(encoding="utf-8")
    assert "Drawn from the layers (offline)" in (out / "index.html").read_text(encoding="utf-8")


def test_a_sweep_task_passes_no_tiles_to_its_plan(tmp_path):
    from siting.studies.sweep import SCENARIO_FILE, solve_one

    scenario = write_region(tmp_path)
    shutil.copy(scenario, tmp_path / SCENARIO_FILE)
    doc = solve_one({"name": "tiny", "key": "k", "dir": str(tmp_path), "tiles": False})
    assert doc["status"] == "optimal", doc
    assert TILE_HOST not in (tmp_path / "plan" / "index.html").read_text(encoding="utf-8")


def test_pareto_and_sweep_pass_tiles_on(monkeypatch, tmp_path):
    import siting.studies.pareto as pareto
    import siting.studies.sweep as sweep

    seen: list[dict] = []
    monkeypatch.setattr(sweep, "run_sweep", lambda *a, **k: seen.append(k))
    run = pareto._FrontRun(
        scenario_file=tmp_path / "s.yaml",
        metric="water",
        dest=tmp_path,
        name="s-water",
        points_file=tmp_path / "points.yaml",
        key="k",
        threads=1,
        say=lambda _s: None,
        tiles=False,
    )
    pareto._capped_points(run, None, 1.0, 2.0, 3)  # type: ignore[arg-type]
    assert seen and seen[0]["tiles"] is False
    # the sweep hands it to each task and to the robustness map
    tasks: list[dict] = []
    monkeypatch.setattr(sweep, "_submit_and_wait", lambda c, t, *a: tasks.extend(t))

    class FakeSweep:
        out = tmp_path

    class Scen:
        name, key, raw, varied = "a", "ka", {"name": "a"}, {}

    import contextlib

    monkeypatch.setattr(
        "siting.core.engine.dask_client", lambda *a, **k: contextlib.nullcontext(None)
    )
    sweep._run_tasks(FakeSweep(), [Scen()], None, 1, None, None, None, tiles=False)  # type: ignore[arg-type]
    assert tasks and tasks[0]["tiles"] is False
    written: list[bool] = []
    monkeypatch.setattr(
        "siting.studies.robustness.write_robustness",
        lambda out, tiles=True: written.append(tiles),
    )
    sweep._robustness(tmp_path, tiles=False)
    assert written == [False]


def test_grid_stress_passes_no_tiles_to_both_plans(tmp_path):
    from siting.grid_ops.stress import stress

    # tests/test_stress.py's case: a line c beside b, then c out, re-planned (feasible): the
    # stressed plan in the folder, the base planned here in base/, both with maps
    scenario = write_region(tmp_path)
    gpkg = tmp_path / "tiny.gpkg"
    br = gpd.read_file(gpkg, layer="branches")
    c = br[br["branch_id"] == "b"].assign(branch_id="c")
    gpd.GeoDataFrame(pd.concat([br, c], ignore_index=True), crs=br.crs).to_file(
        gpkg, layer="branches"
    )
    r = stress(scenario, outages=["c"])
    out = r.write(tmp_path / "stress-out", tiles=False)
    pages = [out / "index.html", out / "base" / "index.html"]
    assert all(p.is_file() for p in pages)
    assert not any(TILE_HOST in p.read_text(encoding="utf-8") for p in pages)
