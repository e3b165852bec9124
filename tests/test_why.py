"""Why here (siting.results.why): hand-worked figures on the tiny strip of test_plan.py and
on hand-made unit costs; the report's "Why these sites" section.

The strip (see test_plan.py): buses 1 - 2 - 3 in a row, the only generator at bus 1, line
a (1-2) rated 1,000 MW and line b (2-3) 160 MW. The plan opens S3 (bus 3) and S2 (bus 2),
100 MW each in 2031. The N-0 headroom of a bus, worked by hand on this radial grid with
the campus draw at that bus taken out and the extra load served from bus 1:

- bus 3: line b then carries nothing and line a carries S2's draw, so an extra load at
  bus 3 is stopped by line b first: 160 MW;
- bus 2: line a carries S3's draw (100 MW x its peak PUE), line b is not on the path: the
  headroom is 1,000 MW less S3's peak draw.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from test_plan import write_region

import siting
from siting.results.why import _Features, _scores, _why_here

#: A figure with its unit in a sentence (money, MW, km, PUE).
FIGURE = re.compile(r"\d[\d,]*(?:\.\d+)? (?:k USD|M USD|MW|km)|PUE \d\.\d+")


@pytest.fixture(scope="module")
def strip_plan(tmp_path_factory):
    d = tmp_path_factory.mktemp("why")
    out = d / "out"
    return siting.plan(write_region(d), out=out), out


def test_headroom_at_each_chosen_bus_is_the_hand_worked_one(strip_plan):
    p, _ = strip_plan
    s3_peak_draw_mw = float(
        p.schedule.set_index(["site_id", "year"]).at[("S3", 2031), "peak_draw_mw"]
    )
    assert 100.0 < s3_peak_draw_mw < 160.0  # the reference climate's peak PUE, > 1
    assert p.sites.at["S3", "grid_headroom_mw"] == pytest.approx(160.0, abs=1e-6)
    assert p.sites.at["S2", "grid_headroom_mw"] == pytest.approx(1000.0 - s3_peak_draw_mw, abs=1e-6)
    # S2's headroom is above the two sites' median, so its sentence names it
    assert (
        f"{1000.0 - s3_peak_draw_mw:,.0f} MW of grid headroom at bus 2"
        in p.sites.at["S2", "why_here"]
    )


def test_each_chosen_site_names_two_figures_and_the_layers_carry_them(strip_plan):
    import geopandas as gpd

    p, out = strip_plan
    assert set(p.sites.index) == {"S2", "S3"}
    for sid, text in p.sites["why_here"].items():
        assert text.startswith(f"{sid}: ")
        assert len(FIGURE.findall(text)) >= 2, text
    layer = gpd.read_file(out / "plan.gpkg", layer="sites")
    assert (layer["why_here"].str.len() > 0).all()
    cands = gpd.read_file(out / "plan.gpkg", layer="candidates")
    assert {"why_not", "unit_cost_usd_per_mw", "grid_headroom_mw"} <= set(cands.columns)
    assert (cands.loc[cands["status"] == "chosen", "why_not"].fillna("") == "").all()
    assert np.isfinite(p.sites["unit_cost_usd_per_mw"]).all()


def test_report_has_the_why_section_with_method_and_limits(strip_plan):
    _, out = strip_plan
    html = (out / "report.html").read_text()
    i = html.index('<section id="why">')
    part = html[i : html.index("</section>", i)]
    assert "Why these sites" in part and "Method" in part and "Limits" in part
    assert "S2" in part and "S3" in part
    assert 'href="#why"' in html


def _hand_features() -> _Features:
    """Three sites; unit cost a + b / MW, worked by hand in the test below."""
    table = pd.DataFrame(
        {
            "max_it_mw": [200.0, 200.0, 50.0],
            "bus_id": ["1", "2", "3"],
            "bus_km": [1.0, 5.0, 9.0],
            "land_usd_per_mw": [1e5, 2e5, 3e5],
            "zone_id": ["", "", ""],
            "zone_kind": ["", "", ""],
            "cooling": ["air", "air", "air"],
            "pue_annual": [1.2, 1.3, 1.4],
            "headroom_mw": [900.0, 100.0, 50.0],
            "water_source": ["", "", ""],
            "water_kind": ["", "", ""],
            "water_km": [np.nan, np.nan, np.nan],
            "energy_usd_per_mwh": [40.0, 40.0, 40.0],
        },
        index=pd.Index(["A", "B", "C"], name="site_id"),
    )
    return _Features(
        table=table,
        a_usd_per_mw={"A": 10e6, "B": 11e6, "C": 9e6},
        b_usd={"A": 100e6, "B": 50e6, "C": 0.0},
    )


def test_cost_difference_to_the_next_best_site_for_the_same_mw_by_hand():
    f = _hand_features()
    sc, med = _scores(f.table, f.table)
    text, gain = _why_here("A", 100.0, f, {"A"}, sc, med)
    # by hand at 100 MW: A = 10 + 100/100 = 11.0 M USD/MW; B = 11 + 50/100 = 11.5; C holds
    # only 50 MW, so it is no alternative for 100 MW. A is 0.5 M USD/MW cheaper, 50 M in all.
    assert gain == pytest.approx(0.5e6)
    assert text.startswith("A: 0.50 M USD/MW cheaper than the next-best site B for the same 100 MW")
    assert "50.00 M USD in all" in text
    # headroom 900 MW against a median of 100 (of 900, 100, 50): A's most decisive figure
    assert "900 MW of grid headroom at bus 1 against a median of 100" in text
    assert len(FIGURE.findall(text)) >= 2


def test_a_dearer_chosen_site_is_said_to_be_dearer():
    f = _hand_features()
    sc, med = _scores(f.table, f.table)
    text, gain = _why_here("B", 100.0, f, {"B"}, sc, med)
    # B = 11.5 M USD/MW, A = 11.0: B is 0.5 M USD/MW dearer than A
    assert gain == pytest.approx(-0.5e6)
    assert "0.50 M USD/MW dearer than the next-best site A" in text
