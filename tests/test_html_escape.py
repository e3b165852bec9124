"""The one escaper of every page siting writes (siting.render.html.esc).

Expected strings are written out from html.escape's documented mapping (quote=True):
``&`` -> ``&amp;``, ``<`` -> ``&lt;``, ``>`` -> ``&gt;``, ``"`` -> ``&quot;``,
``'`` -> ``&#x27;``; a character XML 1.0 forbids (C0 controls but tab, newline and
carriage return; surrogates; U+FFFE, U+FFFF) -> U+FFFD.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point

import siting.render.html
import siting.render.maps
import siting.render.report
import siting.studies.robustness
from siting.render.html import esc


def test_none_and_nan_are_blank():
    assert esc(None) == ""
    assert esc(float("nan")) == ""
    assert esc(np.float64("nan")) == ""  # a numpy float is a float too


def test_a_script_element_is_text():
    assert esc("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_quotes_cannot_leave_an_attribute():
    assert esc('" onmouseover="x') == "&quot; onmouseover=&quot;x"
    assert esc("' onerror='x") == "&#x27; onerror=&#x27;x"
    assert esc("a & b") == "a &amp; b"
    assert f'<a title="{esc(chr(34) + "><img src=x>")}">' == (
        '<a title="&quot;&gt;&lt;img src=x&gt;">'
    )


@pytest.mark.parametrize("ch", ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\ufffe"])
def test_characters_xml_forbids_become_the_replacement_character(ch):
    assert esc(f"a{ch}b") == "a\ufffdb"


def test_tab_newline_and_carriage_return_stay():
    assert esc("a\tb\nc\rd") == "a\tb\nc\rd"


def test_other_values_by_their_text():
    assert esc(0) == "0"
    assert esc(1.5) == "1.5"
    assert esc(float("inf")) == "inf"
    assert esc("") == ""


def test_the_pages_use_this_one_escaper():
    assert siting.render.maps.esc is siting.render.html.esc
    assert siting.render.report.esc is siting.render.html.esc
    assert siting.studies.robustness.esc is siting.render.html.esc


def _plan_folder(d: Path) -> Path:
    """A plan folder by hand: one site whose name holds U+000B and whose region is NaN."""
    d.mkdir()
    (d / "manifest.json").write_text(json.dumps({"scenario_as_run": {"years": [2030]}}))
    (d / "schedule.csv").write_text(
        "site_id,year,it_mw,cooling,bus_id,water_m3_per_day\nS1,2030,100,air,b1,0\n"
    )
    gpd.GeoDataFrame(
        {
            "site_id": ["S1"],
            "name": ["north\x0bend"],
            "first_year": [2030],
            "pue_annual": [1.2],
            "region_id": [float("nan")],
        },
        geometry=[Point(-100.0, 32.0)],
        crs="EPSG:4326",
    ).to_file(d / "plan.gpkg", layer="sites")
    return d


def test_the_map_and_the_report_apply_the_same_rules(tmp_path):
    d = _plan_folder(tmp_path / "plan")
    page = siting.render.maps.build_html(d, tiles=False)
    # the map's data: U+000B replaced (it was kept as \u000b before the escapers were one)
    assert "north\\ufffdend" in page and "\\u000b" not in page
    report = siting.render.report.build_html(d)
    # (the site's ID links back to the map: issue 20)
    (row,) = re.findall(
        r'<tr><td><a id="site-S1" href="index.html#site-S1"[^>]*>S1</a></td>.*?</tr>', report
    )
    assert "<td>north\ufffdend</td>" in row
    # the NaN region: blank (it read "nan" before the escapers were one)
    assert row.endswith("<td></td><td></td></tr>") and "nan" not in row


def test_the_report_summary_without_a_pue_column_says_the_mix_and_no_pue():
    """A plan's sites layer without ``pue_annual`` (an older or hand-edited plan): the cooling
    sentence names the mix and leaves the PUE out (before: AttributeError from pandas)."""
    import pandas as pd

    from siting.render.report import _summary_cooling

    sites = pd.DataFrame(
        {"site_id": ["a", "b"], "cooling": ["liquid", "liquid"], "it_mw_final": [50.0, 100.0]}
    )
    s = _summary_cooling(sites)
    assert s.startswith("The campuses use liquid cooling at 2 sites (150"), s
    assert "PUE" not in s
