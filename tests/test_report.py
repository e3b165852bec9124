"""``report.html`` from a written plan folder (siting.render.report), on test_plan's tiny region.

The tiny region is planned once per module with hostile names: the east site is called
``<script>alert(1)</script> & "east"`` and the water source's ID is ``W<2>&``. The report
must show them escaped, never raw, hold no script and no reference outside the page, and
its figures must be the plan's own (schedule.csv, manifest.json).
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
from pages import parse_page
from shapely.geometry import Point
from test_plan import write_region

import siting
from siting.render.report import render_report

EVIL_SITE = '<script>alert(1)</script> & "east"'
EVIL_SOURCE = "W<2>&"


def _hostile_region(d: Path, **scenario_edits) -> Path:
    scenario = write_region(d)
    gpkg = d / "tiny.gpkg"
    sites = gpd.read_file(gpkg, layer="sites")
    sites.loc[sites["site_id"] == "S3", "name"] = EVIL_SITE
    sites.to_file(gpkg, layer="sites", driver="GPKG")
    water = gpd.read_file(gpkg, layer="water_sources")
    water["source_id"] = [EVIL_SOURCE]
    water.to_file(gpkg, layer="water_sources", driver="GPKG")
    if scenario_edits:
        sc = yaml.safe_load(scenario.read_text())
        sc.update(scenario_edits)
        scenario.write_text(yaml.safe_dump(sc, sort_keys=False))
    return scenario


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    out = d / "plan"
    siting.plan(_hostile_region(d), out=out)
    path = render_report(out)
    return out, path, path.read_text(encoding="utf-8")


def _figures(page: str) -> dict[str, float]:
    return {
        a["data-figure"]: float(a["data-value"])
        for t, a in parse_page(page).tags
        if "data-figure" in a
    }


def _svgs(page: str) -> list[ET.Element]:
    return [ET.fromstring(s) for s in re.findall(r"<svg\b.*?</svg>", page, flags=re.S)]


def test_report_is_written_beside_the_plan_and_parses(tiny_report):
    out, path, page = tiny_report
    assert path == out / "report.html" and path.is_file()
    assert not [f for f in out.iterdir() if f.name.endswith(".tmp")]
    p = parse_page(page)
    tags = [t for t, _ in p.tags]
    assert tags[:1] == ["html"] and "body" in tags and "table" in tags
    for s in _svgs(page):  # each plot is well-formed XML
        assert s.tag.endswith("svg")


def test_report_is_self_contained(tiny_report):
    _, _, page = tiny_report
    assert "<script" not in page.lower()
    assert not re.search(r"\bsrc\s*=", page, flags=re.I)
    for tag, attrs in parse_page(page).tags:
        assert tag not in ("script", "img", "iframe", "link", "object", "embed"), tag
        href = attrs.get("href")
        if href is not None:
            # in-page anchors, and a site's link back to the map beside it (issue 20)
            assert href.startswith("#") or re.fullmatch(r"index\.html#site-[\w%.-]+", href), href
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
    assert "@import" not in page and "url(" not in page


def test_names_from_the_data_are_escaped(tiny_report):
    _, _, page = tiny_report
    assert "alert(1)" in page  # the site is shown ...
    assert EVIL_SITE not in page  # ... never raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;east&quot;" in page
    assert "W&lt;2&gt;&amp;" in page and "W<2>&" not in page
    # the SVG text too: the water plot's legend carries the source's ID
    labels = [t.text or "" for s in _svgs(page) for t in s.iter() if t.tag.endswith("text")]
    assert EVIL_SOURCE in labels  # parsed back from the escaped text


def test_summary_figures_are_the_plans_own(tiny_report):
    out, _, page = tiny_report
    sched = pd.read_csv(out / "schedule.csv")
    man = json.loads((out / "manifest.json").read_text())
    by_year = sched.groupby("year")["it_mw"].sum()
    last = max(man["scenario_as_run"]["years"])
    fig = _figures(page)
    assert fig["it_mw_final"] == pytest.approx(float(by_year[last]))
    assert fig["total_cost_usd"] == pytest.approx(float(man["total_cost_usd"]), rel=1e-12)
    assert fig["sites"] == sched["site_id"].nunique()
    ups = pd.read_csv(out / "upgrades.csv")
    assert fig["upgrades"] == len(ups)
    assert fig["checks_passed"] == sum(bool(c["ok"]) for c in man["verification"])
    # the words say the same
    assert f"{by_year[last]:,.0f} MW" in page
    # MW by year as the table shows it
    shown = {
        int(a["data-year"]): float(a["data-value"])
        for _, a in parse_page(page).tags
        if "data-year" in a
    }
    assert shown == {int(y): float(v) for y, v in by_year.items()}
    assert shown == {int(k): v for k, v in man["it_mw_by_year"].items()}


def test_one_svg_per_plot(tiny_report):
    _, _, page = tiny_report
    names = [s.get("data-plot") for s in _svgs(page)]
    assert names == ["it_mw_by_year", "costs", "water_by_source", "branch_loading", "pue_wue"]
    # the loading plot draws the 100 % line and at most 15 branches
    (load,) = [s for s in _svgs(page) if s.get("data-plot") == "branch_loading"]
    texts = [t.text or "" for t in load.iter() if t.tag.endswith("text")]
    assert any("100 %" in t for t in texts)
    for section in ("summary", "sites", "costs", "verification", "assumptions", "provenance"):
        assert f'id="{section}"' in page


def test_growth_zones_layer_gives_a_table_and_the_plot_by_zone(tiny_report, tmp_path):
    out, _, _ = tiny_report
    plan = tmp_path / "plan"
    shutil.copytree(out, plan)
    years = [2030, 2031]
    zones = gpd.GeoDataFrame(
        {
            "zone_id": ["Z01"],
            "name": ["<i>Strip</i> & co"],
            "n_sites": [2],
            "site_ids": ["S2, S3"],
            **{f"it_mw_{y}": [v] for y, v in zip(years, [100.0, 200.0], strict=True)},
            "it_mw_final": [200.0],
            "first_year": [2030],
            "cooling_mix": ["air 200 MW"],
            "water_sources": [EVIL_SOURCE],
            "water_m3_per_day_final": [0.0],
            "bus_ids": ["2, 3"],
            "upgrades": [""],
            "upgrades_cost_usd": [0.0],
            "capex_usd": [2.5e9],
        },
        geometry=[Point(500_000, 3_500_000).buffer(1000)],
        crs="EPSG:32614",
    )
    zones.to_file(plan / "plan.gpkg", layer="zones", driver="GPKG")
    page = render_report(plan).read_text(encoding="utf-8")
    assert 'id="zones"' in page and "&lt;i&gt;Strip&lt;/i&gt; &amp; co" in page
    assert "<i>Strip</i>" not in page
    (mw,) = [s for s in _svgs(page) if s.get("data-plot") == "it_mw_by_year"]
    assert "by year and growth zone" in (mw.findtext("{http://www.w3.org/2000/svg}title") or "")


def test_plan_without_grid_or_water_renders(tmp_path):
    scenario = _hostile_region(tmp_path, grid={"enabled": False}, water={"enabled": False})
    out = tmp_path / "plan"
    siting.plan(scenario, out=out)
    page = render_report(out, out=tmp_path / "elsewhere" / "r.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert "The transmission grid was not modelled" in page
    assert "Water was not modelled" in page
    names = [s.get("data-plot") for s in _svgs(page)]
    assert names == ["it_mw_by_year", "costs", "pue_wue"]
    man = json.loads((out / "manifest.json").read_text())
    assert _figures(page)["total_cost_usd"] == pytest.approx(man["total_cost_usd"], rel=1e-12)
    # siting plan wrote its own report.html beside the plan; the one asked for went
    # elsewhere and is the same page
    assert (out / "report.html").read_text(encoding="utf-8") == page


def test_not_a_plan_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        render_report(tmp_path)


def test_a_page_that_fails_to_render_does_not_cost_the_plan(tmp_path, monkeypatch):
    # A bug in the report must not lose a solved plan: the tables and the map are written,
    # a warning is given and the manifest says which page is missing and why.
    import siting.render.report

    def broken(plan_dir, out=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(siting.render.report, "render_report", broken)
    out = tmp_path / "plan"
    with pytest.warns(RuntimeWarning, match="report.html was not written"):
        siting.plan(write_region(tmp_path), out=out)
    assert (out / "schedule.csv").is_file() and (out / "index.html").is_file()
    assert not (out / "report.html").exists()
    man = json.loads((out / "manifest.json").read_text())
    assert any("report.html was not written: RuntimeError: boom" in n for n in man["notes"])


def test_local_currency_beside_usd_by_hand():
    """fmt_usd adds the local amount inside showing_currency, by hand: 1.2 bn USD x 3.75
    SAR/USD = 4.5 bn SAR; 2.0 M USD x 0.782 = 1.564 M GBP, shown 1.6 M GBP; 12,000 USD x
    3.75 = 45,000 SAR; outside the block USD only."""
    from siting.render.html import LocalCurrency, fmt_usd, showing_currency

    with showing_currency(LocalCurrency("SAR", 3.75)):
        assert fmt_usd(1.2e9) == "1.20 bn USD (4.50 bn SAR)"
        assert fmt_usd(12_000) == "12,000 USD (45,000 SAR)"
    with showing_currency(LocalCurrency("GBP", 0.782)):
        assert fmt_usd(2.0e6) == "2.0 M USD (1.6 M GBP)"
    assert fmt_usd(1.2e9) == "1.20 bn USD"


def test_report_and_map_show_the_scenarios_currency(tiny_report, tmp_path):
    """With report.currency in the scenario as run, the report shows the local
    amount beside each USD figure (the net present cost converted by hand: total x 3.75)
    and says the rate; the map's popups show it too; the plan's files stay in USD."""
    from siting.render.maps import render_map

    out, _, page_usd = tiny_report
    plan = tmp_path / "plan"
    shutil.copytree(out, plan)
    man = json.loads((plan / "manifest.json").read_text())
    man["scenario_as_run"].setdefault("report", {})["currency"] = {
        "code": "SAR",
        "per_usd": 3.75,
        "as_of": "peg since 1986",
        "source": "Saudi Central Bank",
    }
    (plan / "manifest.json").write_text(json.dumps(man))
    page = render_report(plan).read_text(encoding="utf-8")
    total = float(man["total_cost_usd"])
    sar = total * 3.75  # by hand: USD x 3.75 SAR per USD
    unit = (1e9, "bn", 2) if abs(sar) >= 1e9 else (1e6, "M", 1)
    usd_unit = (1e9, "bn", 2) if abs(total) >= 1e9 else (1e6, "M", 1)
    expect = (
        f"{total / usd_unit[0]:,.{usd_unit[2]}f} {usd_unit[1]} USD "
        f"({sar / unit[0]:,.{unit[2]}f} {unit[1]} SAR)"
    )
    assert expect in page
    assert "SAR beside them at 3.75 SAR per USD (peg since 1986, Saudi Central Bank)" in page
    assert " SAR" not in page_usd  # without the setting: USD only
    m = render_map(plan).read_text(encoding="utf-8")
    assert re.search(r"USD \([\d.,]+ (bn |M )?SAR\)", m)
