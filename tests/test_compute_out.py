"""The plan's compute outputs (:mod:`siting.results.compute_out`, issue 22): the schedule's
compute columns, the national totals of the manifest, their verification, the report's
Compute section and the map popup, hand-checked.

Hand-worked tables use two made-up generations: OLD (from 2030, 2.0 kW, 1 compute unit,
1,000 tokens/s, 10,000 USD, 1-year life) and NEW (from 2031, 4.0 kW, 3 compute units,
5,000 tokens/s, 30,000 USD, 3-year life), 20 accelerators a rack.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from test_plan import write_region

import siting
from siting.results.compute_out import (
    SCHEDULE_COMPUTE_COLUMNS,
    compute_summary,
    schedule_with_compute,
    verify_schedule_compute,
)
from siting.results.plan import COMPUTE_COLUMNS

HOURS = 8760.0

TABLE = """generation,first_year,kw_per_accelerator,accelerators_per_rack,rack_kw,needs_liquid,\
compute_per_accelerator,service_life_years,capex_usd_per_accelerator,\
tokens_per_s_per_accelerator,source
OLD,2030,2.0,20,40,false,1.0,1,10000,1000,test
NEW,2031,4.0,20,80,false,3.0,3,30000,5000,test
"""


def _gens() -> pd.DataFrame:
    from siting.model.generations import load_generations

    return load_generations(_table_file())


def _table_file() -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp()) / "gens.csv"
    path.write_text(TABLE)
    return path


def _data(utilisation: float = 0.8, pue: float = 1.25):
    """Site A, air cooling at annual PUE ``pue``, years 2030-2031, targets 50 MW in 2031,
    20,000 OLD in 2030 and 60,000 compute units in 2031."""
    return SimpleNamespace(
        compute=SimpleNamespace(
            generations=_gens(),
            accelerator_targets={("OLD", 0): 20_000.0},
            compute_targets=np.array([0.0, 60_000.0]),
        ),
        horizon=SimpleNamespace(utilisation=utilisation, years=[2030, 2031]),
        cooling=SimpleNamespace(
            perf=pd.DataFrame(
                {"pue_annual": [pue]},
                index=pd.MultiIndex.from_tuples([("A", "air")], names=["site_id", "tech"]),
            )
        ),
        policy=SimpleNamespace(targets_mw=np.array([0.0, 50.0])),
    )


def _tables():
    """A's schedule (50 MW envelope both years) and compute.csv: 20,000 OLD in 2030 (40 MW);
    in 2031 5,000 OLD left (15,000 retired, 10 MW) and 10,000 NEW installed (40 MW)."""
    schedule = pd.DataFrame(
        {"site_id": ["A", "A"], "year": [2030, 2031], "it_mw": [50.0, 50.0], "cooling": "air"}
    )
    compute = pd.DataFrame(
        [
            ("A", 2030, "OLD", 20_000.0, 20_000.0, 0.0, 40.0, 1000.0, 20_000.0, 1000.0),
            ("A", 2031, "OLD", 5_000.0, 0.0, 15_000.0, 10.0, 250.0, 5_000.0, 1000.0),
            ("A", 2031, "NEW", 10_000.0, 10_000.0, 0.0, 40.0, 500.0, 30_000.0, 1000.0),
        ],
        columns=COMPUTE_COLUMNS,
    )
    return schedule, compute


def test_the_schedule_gets_accelerators_compute_energy_and_tokens_per_site_and_year():
    # utilisation 0.8, annual PUE 1.25:
    # 2030: OLD only; 20,000 x 10,000 USD = 200 M USD installed; compute 20,000 units,
    #   delivered 20,000 x 8,760 x 0.8 = 140,160,000 unit-h; energy 40 MW x 0.8 x 1.25 x
    #   8,760 h = 350,400 MWh; 350,400,000 kWh / 140,160,000 = 2.5 kWh per unit-h (= 2.0 kW x
    #   1.25); tokens 20,000 x 1,000 x 3,600 x 8,760 x 0.8 = 5.04576e14 / 350,400 MWh =
    #   1.44e9 tokens per MWh (= 1,000 x 3,600 / 0.0025 MWh)
    # 2031: "OLD+NEW"; 15,000 accelerators, 10,000 new, 15,000 retired; 10,000 x 30,000 =
    #   300 M USD; 50 MW in use; compute 5,000 + 30,000 = 35,000; energy 50 x 0.8 x 1.25 x
    #   8,760 = 438,000 MWh; 62,500 kW / 35,000 = 1.785714 kWh per unit-h; tokens/s
    #   5,000 x 1,000 + 10,000 x 5,000 = 55e6: 55e6 x 3,600 / 62.5 MWh = 3.168e9 per MWh
    schedule, compute = _tables()
    out = schedule_with_compute(schedule, compute, _data())
    assert list(out.columns) == [*schedule.columns, *SCHEDULE_COMPUTE_COLUMNS]
    a, b = out.iloc[0], out.iloc[1]
    assert a["generations"] == "OLD" and b["generations"] == "OLD+NEW"
    assert a["accelerators"] == pytest.approx(20_000) and b["accelerators"] == pytest.approx(15_000)
    assert b["accelerators_new"] == pytest.approx(10_000)
    assert b["accelerators_retired"] == pytest.approx(15_000)
    assert a["hardware_capex_usd"] == pytest.approx(200e6)
    assert b["hardware_capex_usd"] == pytest.approx(300e6)
    assert a["compute_unit_h"] == pytest.approx(140_160_000)
    assert a["compute_mwh"] == pytest.approx(350_400)
    assert a["kwh_per_compute_unit_h"] == pytest.approx(2.5)
    assert a["tokens_per_mwh"] == pytest.approx(1.44e9)
    assert b["it_used_mw"] == pytest.approx(50.0) and b["compute_units"] == pytest.approx(35_000)
    assert b["compute_mwh"] == pytest.approx(438_000)
    assert b["kwh_per_compute_unit_h"] == pytest.approx(1.785714, abs=1e-6)
    assert b["tokens_per_mwh"] == pytest.approx(3.168e9)
    # the utilisation cancels out of energy per compute and tokens per MWh
    half = schedule_with_compute(schedule, compute, _data(utilisation=0.4))
    assert half["tokens_per_mwh"].tolist() == pytest.approx(out["tokens_per_mwh"].tolist())
    assert half["compute_mwh"].tolist() == pytest.approx((out["compute_mwh"] / 2).tolist())


def test_a_site_year_without_accelerators_has_no_energy_per_compute():
    schedule, compute = _tables()
    out = schedule_with_compute(schedule, compute[compute["year"] == 2031], _data())
    a = out.iloc[0]
    assert a["generations"] == "" and a["accelerators"] == 0.0 and a["compute_mwh"] == 0.0
    assert np.isnan(a["tokens_per_mwh"]) and np.isnan(a["kwh_per_compute_unit_h"])
    # without a compute section the schedule is as before
    assert schedule_with_compute(schedule, compute, SimpleNamespace(compute=None)) is schedule


def test_the_national_totals_say_a_target_in_every_unit():
    # 2030: 20,000 OLD = 40 MW IT in use, 20,000 units (target 20,000 OLD);
    # 2031: 50 MW in use, 5,000 OLD + 10,000 NEW, 35,000 units (targets 50 MW, 60,000 units);
    # tokens per MWh nationally = the one site's 3.168e9
    schedule, compute = _tables()
    d = _data()
    plan = SimpleNamespace(schedule=schedule_with_compute(schedule, compute, d), compute=compute)
    s = compute_summary(plan, d)
    assert s is not None and s["utilisation"] == 0.8
    y0, y1 = s["years"]
    assert y0["accelerators"] == {"OLD": 20_000.0} and y0["target_accelerators"] == {"OLD": 20_000}
    assert y0["it_used_mw"] == pytest.approx(40.0) and y0["target_it_mw"] is None
    assert y1["accelerators"] == {"OLD": 5_000.0, "NEW": 10_000.0}
    assert y1["accelerators_total"] == pytest.approx(15_000)
    assert y1["compute_units"] == pytest.approx(35_000) and y1["target_compute_units"] == 60_000
    assert y1["target_it_mw"] == 50.0 and y1["it_mw"] == 50.0
    assert y1["tokens_per_mwh"] == pytest.approx(3.168e9)
    assert y1["hardware_capex_usd"] == pytest.approx(300e6)
    json.dumps(s)  # the manifest can hold it


def test_the_national_totals_and_the_report_say_what_was_exported():
    # The export market bought 2,000 of the 10,000 NEW in service in 2031: x 4.0 kW = 8 MW,
    # x 3 units = 6,000 compute units; in service here (counted in the 35,000 units), not
    # toward the 60,000-unit target. Nothing exported in 2030.
    from siting.render.report import _compute_national
    from siting.results.plan import EXPORT_COLUMNS

    schedule, compute = _tables()
    d = _data()
    sold = pd.DataFrame([(2031, "NEW", 2_000.0, 8.0, 6_000.0)], columns=EXPORT_COLUMNS)
    plan = SimpleNamespace(
        schedule=schedule_with_compute(schedule, compute, d), compute=compute, export=sold
    )
    s = compute_summary(plan, d)
    assert s is not None
    y0, y1 = s["years"]
    assert (y0["export_accelerators"], y0["export_it_mw"], y0["export_compute_units"]) == (
        {},
        0.0,
        0.0,
    )
    assert y1["export_accelerators"] == {"NEW": 2_000.0}
    assert (y1["export_it_mw"], y1["export_compute_units"]) == (8.0, 6_000.0)
    assert y1["compute_units"] == pytest.approx(35_000)  # the fleet in service, exports in it
    json.dumps(s)
    html = _compute_national(s["years"])
    assert "of which exported (in service here, compute sold abroad, not toward targets)" in html
    assert "NEW 2,000 (6,000 units, 8.0 MW)" in html
    # without exports the table has no such column
    plain = compute_summary(SimpleNamespace(**{**vars(plan), "export": sold.iloc[:0]}), d)
    assert plain is not None and "exported" not in _compute_national(plain["years"])


def test_the_verification_catches_a_schedule_that_disagrees_with_compute_csv():
    schedule, compute = _tables()
    d = _data()
    good = schedule_with_compute(schedule, compute, d)
    got: list = []
    for name, broken in (
        ("ok", good),
        ("tokens", good.assign(tokens_per_mwh=good["tokens_per_mwh"] * 1.01)),
        ("generations", good.assign(generations=["OLD", "NEW"])),
        ("orphan", good.iloc[:1]),
    ):
        got.clear()
        verify_schedule_compute(
            SimpleNamespace(schedule=broken, compute=compute),
            d,
            lambda n, excess, *a, **k: got.append(float(excess)),
        )
        assert len(got) == 1
        assert (got[0] <= 0) == (name == "ok"), (name, got)


# --------------------------------------------------------------------------- whole pipeline


@pytest.fixture(scope="module")
def refresh_plan(tmp_path_factory):
    """test_plan's tiny region (targets 100 MW in 2030, 200 MW in 2031) with the OLD/NEW
    table and 20,000 OLD in 2030, 20,000 NEW in 2031: OLD's 1-year life ends with 2030, and
    the 1,000 rack positions (20,000 / 20) built for it take the 20,000 NEW in 2031 at 80 kW
    a rack (no new floor). The plan (exact, gap 0) builds one site, S3: 100 MW in 2030,
    200 MW in 2031, a refresh from 40 to 80 MW IT in use. S3 (east, air-cooled: no water
    within its reach; the default 25 M USD to open against S2's 200 M) sits behind line b
    (160 MW): its 80 MW in use draw 80 x its peak PUE (1.354) = 108 MW, within it; the
    envelope's other 120 MW are idle and draw nothing (counted on the 200 MW envelope, 271
    MW, S3 could not, and S2 was built)."""
    d = tmp_path_factory.mktemp("compute_out")
    path = write_region(d)
    (d / "gens.csv").write_text(TABLE)
    sc = yaml.safe_load(path.read_text())
    sc["compute"] = {"generations_csv": "gens.csv"}
    sc["targets"]["accelerators_by_year"] = {2030: {"OLD": 20_000}, 2031: {"NEW": 20_000}}
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    out = d / "out"
    return siting.plan(path, out=out), out, path


def test_a_refresh_shows_in_the_schedule_the_manifest_and_the_report(refresh_plan):
    # S3 (air cooling, annual PUE from the plan's sites table, 1.147 here):
    #   2030: OLD, 20,000, 40 MW in use; tokens per MWh = 1,000 x 3,600 / (2.0 kW x PUE /
    #     1,000) = 1.8e9 / PUE; kWh per unit-h = 2.0 x PUE; 200 M USD installed
    #   2031: NEW, 20,000 (20,000 OLD retired), 80 MW in use; tokens per MWh = 5,000 x 3,600
    #     / (4.0 x PUE / 1,000) = 4.5e9 / PUE; kWh per unit-h = 4.0 x PUE / 3; 600 M USD
    p, out, _ = refresh_plan
    assert all(c.ok for c in p.checks), [c for c in p.checks if not c.ok]
    assert "schedule's compute columns = compute.csv" in {c.name for c in p.checks}
    assert list(p.sites.index) == ["S3"]
    pue = float(p.sites.at["S3", "pue_annual"])
    sc = pd.read_csv(out / "schedule.csv", keep_default_na=False).set_index(["site_id", "year"])
    a, b = sc.loc[("S3", 2030)], sc.loc[("S3", 2031)]
    assert (a["generations"], b["generations"]) == ("OLD", "NEW")
    assert a["accelerators"] == pytest.approx(20_000) and b["accelerators"] == pytest.approx(20_000)
    assert b["accelerators_retired"] == pytest.approx(20_000)
    assert (a["it_used_mw"], b["it_used_mw"]) == pytest.approx((40.0, 80.0))
    assert (a["it_mw"], b["it_mw"]) == (100.0, 200.0)
    # (schedule.csv holds 6 significant digits)
    assert a["tokens_per_mwh"] == pytest.approx(1.8e9 / pue, rel=1e-5)
    assert b["tokens_per_mwh"] == pytest.approx(4.5e9 / pue, rel=1e-5)
    assert b["kwh_per_compute_unit_h"] == pytest.approx(4.0 * pue / 3, rel=1e-5)
    assert (a["hardware_capex_usd"], b["hardware_capex_usd"]) == pytest.approx((200e6, 600e6))
    # the draws are the IT in use's (80 MW in 2031), the energy paid for is compute_mwh
    u = json.loads((out / "manifest.json").read_text())["compute"]["utilisation"]
    assert b["peak_draw_mw"] == pytest.approx(80 * float(p.sites.at["S3", "pue_peak"]), rel=1e-5)
    assert b["typical_draw_mw"] == pytest.approx(80 * u * pue, rel=1e-5)
    assert b["compute_mwh"] == pytest.approx(8760 * b["typical_draw_mw"], rel=1e-5)
    # the manifest's national totals: IT MW, accelerators by generation, compute
    years = json.loads((out / "manifest.json").read_text())["compute"]["years"]
    assert years[1]["accelerators"] == {"NEW": pytest.approx(20_000)}
    assert years[1]["compute_units"] == pytest.approx(60_000)
    assert years[1]["it_mw"] == 200.0 and years[1]["it_used_mw"] == pytest.approx(80.0)
    # the report: the Compute section with the refresh and the hand-checked figures
    page = (out / "report.html").read_text()
    i = page.index('<section id="compute">')
    section = page[i : page.index("</section>", i)]
    assert "refresh: + NEW, - OLD" in section and "first fit-out" in section
    assert "<td>NEW 20,000</td>" in section and "<td>OLD 20,000</td>" in section
    assert f"<td class=n>{4.5e9 / pue / 1e6:,.0f}</td>" in section  # tokens per MWh [M]
    assert f"<td class=n>{1.8e9 / pue / 1e6:,.0f}</td>" in section
    assert "<td class=n>600.0 M USD</td>" in section and "<td class=n>80.0</td>" in section
    assert "Llama 2 70B" in section
    assert 'data-figure="accelerators_final"' in page and "NEW 20,000" in page


def test_the_site_popup_shows_generations_and_tokens_per_mwh(refresh_plan, browser):
    from browser import open_offline

    _, out, _ = refresh_plan
    pue = float(refresh_plan[0].sites.at["S3", "pue_annual"])
    page, errors = open_offline(browser, out / "index.html")
    page.evaluate(
        """() => { var hit = null;
        window.sitingMap.eachLayer(function (l) {
          if (l.getPopup && l.getPopup() && l.options.className === 'siting-site' &&
              String(l.getPopup().getContent()).indexOf('S3') >= 0) hit = l; });
        hit.fire('click', {latlng: hit.getLatLng()}); }"""
    )
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5_000)
    text = " ".join(popup.inner_text().split())
    assert "generations running 2030: OLD, 2031: NEW" in text, text
    assert f"2031: {4.5e9 / pue / 1e6:,.0f}" in text, text
    assert "IT MW in use / envelope 2030: 40 / 100, 2031: 80 / 200" in text, text
    assert errors == []


def test_siting_plan_prints_the_national_compute_per_year(refresh_plan, tmp_path):
    # 2030: 40 MW of the 100 MW envelope in use, 20,000 OLD = 20,000 units; 2031: 80 of
    # 200 MW, 20,000 NEW x 3 = 60,000 units
    from typer.testing import CliRunner

    from siting.cli import app

    res = CliRunner().invoke(app, ["plan", str(refresh_plan[2]), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "2030: 40 of 100 MW IT in use, accelerators OLD 20,000, 20,000 compute units" in text
    assert "2031: 80 of 200 MW IT in use, accelerators NEW 20,000, 60,000 compute units" in text


def test_a_generation_name_from_the_table_is_escaped_in_the_report(refresh_plan, tmp_path):
    # the table is the scenario's own file: its names reach the page only escaped
    import shutil

    from siting.render.report import render_report

    _, out, _ = refresh_plan
    d = tmp_path / "plan"
    shutil.copytree(out, d)
    evil = "<b>NEW</b>&"
    for name in ("schedule.csv", "compute.csv"):
        (d / name).write_text((d / name).read_text().replace("NEW", evil))
    page = render_report(d).read_text()
    i = page.index('<section id="compute">')
    section = page[i : page.index("</section>", i)]
    assert "<b>NEW</b>" not in section and "&lt;b&gt;NEW&lt;/b&gt;&amp;" in section
