"""Every string from the input data reaches the HTML and SVG outputs escaped, and the pages
load no script from elsewhere (they work offline).

Hostile text goes into every name a page can show: site, bus, branch, generator and water
source IDs and names (and so the growth zones' names), the scenario's title and
description, every string of a saved plan's ``manifest.json`` (re-rendered by
``siting map``), a plan folder's and a sweep folder's own names, a trade-off front's
notes, statuses and plan folders (a folder named ``javascript:...``), a sweep's site IDs,
names, buses and failure reasons. The payloads: a ``<script>`` element, an attribute
break-out with an ``onerror`` handler, a ``</script>`` that would close the element the
map's data lives in, quotes, U+2028 (a line break inside a JavaScript string before
ES2019) and a character XML forbids. Each output is checked as text (the payload only
escaped), and where cheap in Debian's headless chromium (as tests/test_map_browser.py;
skipped without it): ``window.__xss`` stays undefined and the text is shown literally.

Also: a path the operating system refuses to look up (a 300-character file name) is a
named input error (exit 1), not an internal error.
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import yaml
from browser import open_offline
from pages import PageTags, parse_page
from test_plan import write_region
from typer.testing import CliRunner

import siting
import siting.cli.grid_check  # noqa: F401  (registers the commands on the app)
import siting.cli.map  # noqa: F401
import siting.cli.robustness  # noqa: F401
from siting.cli import app
from siting.studies.pareto import Front, write_front
from siting.studies.robustness import robustness, write_robustness

P_SCRIPT = "<script>window.__xss=1</script>"
P_IMG = '"><img src=x onerror=window.__xss=2>'
P_CLOSE = "</script><script>window.__xss=3</script>"
P_QUOTES = 'it\'s "quoted"'
LS = "\u2028"
#: All of them in one string (for the fields that take any text).
EVIL = f"{P_SCRIPT}{P_IMG}{P_CLOSE}{P_QUOTES}{LS}end"
#: What must never appear as it is in an output.
RAW = ("<script>window.__xss", "<img src=x", "onerror=window.__xss=2>", "</script><script>")
#: A folder name that is a URL scheme when written as a link as it is.
JS_DIR = "javascript:window.__xss=4;0"


def assert_escaped(text: str, what: str) -> None:
    for raw in RAW:
        assert raw not in text, f"{what}: {raw!r} unescaped"


def assert_offline_and_inert(page: str, what: str, n_scripts: int | None = None) -> PageTags:
    """No script from elsewhere, no event handler attribute, no ``javascript:`` link, and
    (when given) exactly the page's own number of script elements."""
    t = parse_page(page)
    for tag, attrs in t.tags:
        assert not (tag == "script" and attrs.get("src")), f"{what}: <script src={attrs['src']}>"
        if tag == "link":
            assert not re.match(r"(https?:)?//", attrs.get("href") or ""), f"{what}: {attrs}"
        for k, v in attrs.items():
            assert not k.startswith("on"), f"{what}: <{tag} {k}={v!r}>"
            if k in ("href", "src", "xlink:href", "action"):
                assert not (v or "").strip().lower().startswith("javascript:"), f"{what}: {v!r}"
    if n_scripts is not None:
        assert sum(1 for tag, _ in t.tags if tag == "script") == n_scripts, what
    for s in t.scripts:  # a raw U+2028 would end a JavaScript string before ES2019
        assert LS not in s and "\u2029" not in s, what
    return t


def _set(gpkg: Path, layer: str, **cols) -> None:
    df = gpd.read_file(gpkg, layer=layer)
    for c, f in cols.items():
        df[c] = [f(v) for v in df[c]]
    df.to_file(gpkg, layer=layer, mode="w")


@pytest.fixture(scope="module")
def hostile_plan(tmp_path_factory) -> Path:
    """The tiny region of tests/test_plan.py with a payload in every name and ID."""
    d = tmp_path_factory.mktemp("escaping")
    scenario = write_region(d)
    gpkg = d / "tiny.gpkg"
    bus = {"1": "1" + P_IMG, "2": "2" + P_SCRIPT, "3": "3" + P_CLOSE + P_QUOTES}
    _set(gpkg, "buses", bus_id=bus.get)
    _set(gpkg, "branches", branch_id=lambda v: v + P_SCRIPT, from_bus=bus.get, to_bus=bus.get)
    _set(gpkg, "generators", gen_id=lambda v: v + P_CLOSE, bus_id=bus.get)
    _set(gpkg, "water_sources", source_id=lambda v: v + P_IMG, name=lambda v: P_CLOSE + LS)
    _set(gpkg, "sites", site_id=lambda v: v + P_CLOSE, name=lambda v: P_SCRIPT + P_QUOTES + LS)
    sc = yaml.safe_load(scenario.read_text())
    sc["title"] = "Title " + EVIL
    sc["description"] = "Description " + EVIL + " javascript:window.__xss=5"
    scenario.write_text(yaml.safe_dump(sc, sort_keys=False))
    out = d / "plan"
    siting.plan(scenario, out=out)
    return out


# --------------------------------------------------------------------------- plan pages


def test_the_plan_pages_show_every_name_only_escaped(hostile_plan):
    page = (hostile_plan / "report.html").read_text(encoding="utf-8")
    assert_escaped(page, "report.html")
    t = assert_offline_and_inert(page, "report.html", n_scripts=0)
    text = "".join(t.text)
    # parsed back, the text is the payload itself: shown literally
    assert "Title " + EVIL in text and "Description " + EVIL in text
    assert "S3" + P_CLOSE in text and "W2" + P_IMG in text
    assert "1" + P_IMG in text or "2" + P_SCRIPT in text  # buses named in the grid part
    assert "a" + P_SCRIPT in text  # a branch ID
    assert f"<title>Title {P_SCRIPT}" not in page
    assert "<h1>Title &lt;script&gt;window.__xss=1&lt;/script&gt;&quot;&gt;&lt;img" in page

    page = (hostile_plan / "index.html").read_text(encoding="utf-8")
    assert_escaped(page, "index.html")
    t = assert_offline_and_inert(page, "index.html", n_scripts=3)  # Leaflet, folium, ours
    assert "".join(t.text).count("Title " + EVIL) == 1  # the <title>, escaped in the source


def test_the_map_data_cannot_close_its_script_and_decodes_to_escaped_html(hostile_plan):
    page = (hostile_plan / "index.html").read_text(encoding="utf-8")
    ours = [s for s in parse_page(page).scripts if "var D = " in s]
    assert len(ours) == 1
    m = re.search(r"var D = (\{.*?\});\n", ours[0])
    assert m, "the map's data"
    raw = m.group(1)
    for ch in "<>&" + LS + "\u2029":
        assert ch not in raw, f"{ch!r} left as it is in the JSON"
    data = json.loads(raw)
    popups = [f["properties"]["p"] for k in ("sites", "branches", "buses", "sources", "links")
              for f in data[k]["features"]]  # fmt: skip
    tips = [f["properties"]["t"] for k in ("sites", "branches", "buses", "sources")
            for f in data[k]["features"]]  # fmt: skip
    blob = "".join(popups + tips + [data["legend"]] + [f["properties"]["p"] for f in
                                                       data["zones"]["features"]])  # fmt: skip
    assert_escaped(blob, "the map's popups")  # the HTML Leaflet sets as innerHTML
    assert "&lt;/script&gt;&lt;script&gt;window.__xss=3" in blob  # site and bus IDs
    assert "&quot;&gt;&lt;img src=x onerror=window.__xss=2&gt;" in blob  # bus 1, W2
    assert "it&#x27;s &quot;quoted&quot;" in blob
    assert any("Growth zone" in p for p in popups) or data["zones"]["features"]


def test_siting_map_rerenders_a_hostile_saved_plan(hostile_plan, tmp_path):
    """Every string of manifest.json carries the payload, so do the coolings and snapshots
    of the plan's tables, and the folder's name; a plan without a title is named by its
    folder."""

    def poison(o, key=None):
        if key in ("scenario_as_run", "output_dir"):
            return o
        if isinstance(o, dict):
            return {k: poison(v, k) for k, v in o.items()}
        if isinstance(o, list):
            return [poison(v) for v in o]
        return o + EVIL if isinstance(o, str) else o

    folder = tmp_path / ("plan" + P_IMG.replace("/", "") + "'")
    shutil.copytree(hostile_plan, folder)
    mf = folder / "manifest.json"
    mf.write_text(json.dumps(poison(json.loads(mf.read_text(encoding="utf-8")))))
    for name, cols in (
        ("schedule.csv", ["cooling"]),
        ("dispatch.csv", ["snapshot"]),
        ("flows.csv", ["snapshot"]),
    ):
        t = pd.read_csv(folder / name, dtype=str, keep_default_na=False)
        for c in cols:
            t[c] = t[c] + EVIL
        t.to_csv(folder / name, index=False)
    r = CliRunner().invoke(app, ["map", str(folder), "--out", str(folder / "m.html")])
    assert r.exit_code == 0, r.output
    for name in ("m.html", "report.html"):
        page = (folder / name).read_text(encoding="utf-8")
        assert_escaped(page, name)
        assert_offline_and_inert(page, name)

    doc = json.loads(mf.read_text(encoding="utf-8"))
    doc.pop("title")
    doc["scenario_as_run"].pop("title", None)
    doc["scenario_as_run"].pop("name", None)
    mf.write_text(json.dumps(doc))
    r = CliRunner().invoke(app, ["map", str(folder), "--no-tiles"])
    assert r.exit_code == 0, r.output
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert_escaped(page, "index.html named by its folder")
    assert_offline_and_inert(page, "index.html", n_scripts=3)
    assert "<title>plan&quot;&gt;&lt;img src=x onerror=window.__xss=2&gt;&#x27;" in page
    assert "tile.openstreetmap.org" not in page


# --------------------------------------------------------------------------- the front


@pytest.fixture()
def hostile_front(tmp_path) -> Front:
    """A front written by hand: hostile notes, statuses and plan folders."""
    out = tmp_path / "front"
    dirs = [
        out / "points" / "k1" / "plan",
        out / JS_DIR / "plan",
        tmp_path / 'x" onmouseover="window.__xss=5' / "plan",
        out / "a#b?c%d e'f",
    ]
    rows = [
        {
            "point": i,
            "name": f"p-{i}",
            "cap": None if i == 0 else 1000.0 - 100 * i,
            "total_cost_usd": 1e9 + 1e8 * i,
            "water": 1000.0 - 100 * i,
            "status": "optimal" if i < 3 else "infeasible " + EVIL,
            "gap": 0.0,
            "sites_chosen": 2,
            "it_mw_final": 200.0,
            "plan_dir": str(p),
            "key": "k" + EVIL,
            "error": EVIL,
            "dominated": False,
            "extra_cost_usd": 1e8 * i,
            "marginal_usd_per_unit": float("nan"),
        }
        for i, p in enumerate(dirs)
    ]
    anchor = {"value": 700.0, "status": "optimal " + EVIL}
    front = Front("water", "m3/day", pd.DataFrame(rows), out, anchor, ["a note " + EVIL])
    out.mkdir(parents=True)
    write_front(front)
    return front


def test_the_front_page_and_plot_escape_and_link_only_to_files(hostile_front):
    page = (hostile_front.out / "front.html").read_text(encoding="utf-8")
    assert_escaped(page, "front.html")
    t = assert_offline_and_inert(page, "front.html", n_scripts=0)
    text = "".join(t.text)
    assert "a note " + EVIL in text and "optimal " + EVIL in text
    hrefs = [a["href"] for tag, a in t.tags if tag == "a" and "href" in a]
    assert len(hrefs) == 8
    # every link a relative path: no scheme, no query, no fragment, nothing unencoded
    for h in hrefs:
        assert re.fullmatch(r"[A-Za-z0-9._~%/-]+/(report|index)\.html", h), h
    assert "javascript%3Awindow.__xss%3D4%3B0/plan/report.html" in hrefs
    assert "a%23b%3Fc%25d%20e%27f/index.html" in hrefs
    assert "points/k1/plan/report.html" in hrefs  # the ordinary case reads as before

    svg = (hostile_front.out / "front.svg").read_text(encoding="utf-8")
    ET.fromstring(svg)  # a well-formed document
    assert "<script" not in svg


# --------------------------------------------------------------------------- robustness


def _sweep(out: Path) -> Path:
    """Two plans of a sweep by hand (see tests/test_robustness.py), with hostile site IDs,
    names, buses, cooling, scenario names and a failure reason."""
    from test_robustness import _plan

    cands = {
        "A" + P_CLOSE: (500.0, 3500.0, "alpha " + EVIL),
        "B\x01" + P_IMG: (520.0, 3500.0, P_SCRIPT),  # U+0001: no XML allows it
    }
    a, b = list(cands)
    out.mkdir(parents=True)
    for key, sched in (
        ("k1", [(a, 2030, 100, "air" + P_SCRIPT), (b, 2031, 50, "air")]),
        ("k2", [(a, 2031, 100, "air")]),
    ):
        p = _plan(out / key / "plan", sched, cands)
        doc = {"name": "s-" + key + EVIL, "key": key, "status": "optimal", "plan_dir": str(p)}
        (out / key / "result.json").write_text(json.dumps(doc))
        (out / key / "done.json").write_text(json.dumps({"key": key}))
        (out / key / "scenario.yaml").write_text(yaml.safe_dump({"name": "s-" + key}))
    (out / "k3").mkdir()
    (out / "k3" / "failed.json").write_text(
        json.dumps({"name": "s-k3" + EVIL, "status": "infeasible", "error": "bad " + EVIL})
    )
    return out


def test_robustness_outputs_escape_ids_names_buses_and_the_folder(tmp_path):
    out = _sweep(tmp_path / ("sweep" + P_IMG.replace("/", "")))
    rob = robustness(out)
    folder = write_robustness(out, tiles=False, result=rob)
    svg = (folder / "robustness.svg").read_text(encoding="utf-8")
    ET.fromstring(svg)  # well-formed, though an ID held U+0001
    assert_escaped(svg, "robustness.svg")
    assert "A&lt;/script&gt;&lt;script&gt;window.__xss=3" in svg
    page = (folder / "robustness.html").read_text(encoding="utf-8")
    assert_escaped(page, "robustness.html")
    assert_offline_and_inert(page, "robustness.html", n_scripts=3)
    assert "<title>sweep&quot;&gt;&lt;img src=x onerror=window.__xss=2&gt;" in page


# --------------------------------------------------------------------------- in a browser


def test_every_popup_and_tooltip_of_the_map_shows_the_names_as_text(hostile_plan, browser):
    page, errors = open_offline(browser, hostile_plan / "index.html")
    texts = page.evaluate(
        """() => { var out = [];
        window.sitingMap.eachLayer(function (l) {
          var ll = l.getLatLng ? l.getLatLng() : (l.getBounds ? l.getBounds().getCenter() : null);
          if (!ll) return;
          if (l.getPopup && l.getPopup()) {
            l.openPopup(ll); var e = l.getPopup().getElement();
            if (e) out.push(e.innerText); l.closePopup(); }
          if (l.getTooltip && l.getTooltip()) {
            l.openTooltip(ll); var t = l.getTooltip().getElement();
            if (t) out.push(t.innerText); l.closeTooltip(); }
        });
        return out; }"""
    )
    page.wait_for_timeout(300)  # an injected <img onerror> would have fired by now
    blob = "\n".join(texts)
    assert "S3" + P_CLOSE in blob  # a site ID, literally
    assert P_SCRIPT + P_QUOTES in blob  # a site name
    assert "Substation 1" + P_IMG in blob and "branch a" + P_SCRIPT in blob
    assert "W2" + P_IMG in blob
    assert page.evaluate("window.__xss") is None
    assert page.locator(".leaflet-container img[src='x']").count() == 0
    assert page.title() == "Title " + EVIL + ": siting map"
    assert errors == []


def test_the_report_and_the_front_in_a_browser(hostile_plan, hostile_front, browser):
    page, errors = open_offline(browser, hostile_plan / "report.html", ready=None)
    page.wait_for_timeout(200)
    assert page.evaluate("window.__xss") is None
    assert page.locator("h1").inner_text() == "Title " + EVIL
    assert page.locator("script").count() == 0 and page.locator("img").count() == 0
    assert errors == []

    page, errors = open_offline(browser, hostile_front.out / "front.html", ready=None)
    page.wait_for_timeout(200)
    assert page.evaluate("window.__xss") is None
    protocols = page.evaluate("() => Array.from(document.links).map(a => a.protocol)")
    assert protocols and set(protocols) == {"file:"}
    assert page.locator("a", has_text="report").first.get_attribute("href").startswith("points/")
    assert errors == []


# --------------------------------------------------------------------------- bad paths

LONG = "a" * 300  # longer than any file name the system takes (255 bytes)


@pytest.mark.parametrize("suffix", [".m", ".json", ".gpkg", ".yaml"])
def test_validate_on_a_name_too_long_is_a_named_input_error(tmp_path, suffix):
    path = tmp_path / (LONG + suffix)
    r = CliRunner().invoke(app, ["validate", str(path)])
    assert r.exit_code == 1, r.output
    assert "File name too long" in r.output and "internal error" not in r.output


def test_the_layer_and_raster_readers_name_a_path_too_long(tmp_path):
    """(The scenario's own validation refuses such a path first; the readers are also
    called on paths from elsewhere: plan folders, grid cases, the API.)"""
    from siting.core.errors import InputError, ProblemReport
    from siting.inputs import load_grid_case
    from siting.inputs.fields import BUSES
    from siting.inputs.raster import read_raster
    from siting.inputs.vector import read_vector

    report = ProblemReport()
    assert read_vector(tmp_path / (LONG + ".gpkg"), BUSES, report) is None
    assert read_raster(tmp_path / (LONG + ".tif"), "dry_bulb_mean_c", report) is None
    assert read_vector(tmp_path / "missing.gpkg", BUSES, report) is None
    msgs = [(p.message, p.layer, p.field) for p in report.problems]
    assert msgs == [
        ("cannot be read: File name too long", "buses", "path"),
        ("cannot be read: File name too long", "dry_bulb_mean_c", "path"),
        ("file not found", "buses", "path"),  # as before
    ]
    with pytest.raises(InputError, match="File name too long"):
        load_grid_case(tmp_path / (LONG + ".m"))


@pytest.mark.parametrize(
    "args",
    [["map", "{p}"], ["robustness", "{p}"], ["grid", "check", "{p}"]],
    ids=["map", "robustness", "grid-check"],
)
def test_commands_on_a_folder_named_too_long_exit_1(tmp_path, args):
    p = str(tmp_path / LONG)
    r = CliRunner().invoke(app, [a.format(p=p) for a in args])
    assert r.exit_code == 1, r.output
    assert "File name too long" in r.output and "internal error" not in r.output


def test_a_grid_case_with_bus_coordinates_named_too_long(tmp_path):
    case = tmp_path / "case.m"
    case.write_text("function mpc = case\nmpc.baseMVA = 100;\n")
    coords = tmp_path / (LONG + ".csv")
    r = CliRunner().invoke(app, ["validate", str(case), "--bus-coordinates", str(coords)])
    assert r.exit_code == 1, r.output
    assert "File name too long" in r.output and "internal error" not in r.output
