"""Why here by re-solve (siting.results.counterfactual), on hand-checked small regions.

The region is test_plan.py's strip (buses 1 - 2 - 3, the only generator at bus 1), with
line 2-3 rated 1,000 MW so that it limits nothing, one planning year (2030) and a target of
100 MW. Three sites:

- S3 and S4 at bus 3, each sqrt(2) km from it (at (54, 11) and (56, 9) km; the bus at
  (55, 10)), with no water source in reach, the reference climate, no land price: alike in
  every cost but the opening cost, 30 M USD at S3 and 60 M USD at S4. S3 dominates S4, so
  the model holds the cut open[S4] <= open[S3];
- S2 at bus 2 (the strip's, 200 M USD to open).

By hand: the plan opens S3 with 100 MW. Without S3 the cheapest plan opens S4 instead,
with the same draw at the same bus, the same tie line and cooling: it costs exactly the
difference of the opening costs more, 60 - 30 = 30 M USD (2030 is the first year: a
discount factor of 1). Were the dominance cut left in place, forbidding S3 would close S4
too and S2 would open: 170 M USD more. The solver's gap is 0, so the gaps' worth is 0 and
the difference is clear.
"""

from __future__ import annotations

import re

import geopandas as gpd
import pandas as pd
import pytest
import yaml
from test_plan import CRS, at, write_region

import siting

#: A figure with its unit in a sentence (money, MW, km, PUE).
FIGURE = re.compile(r"\d[\d,]*(?:\.\d+)? (?:k USD|M USD|MW|km)|PUE \d\.\d+")


def _region(d, why_resolve: str = "auto"):
    path = write_region(d, rating_23_mw=1000.0)
    gpd.GeoDataFrame(
        {
            "site_id": ["S2", "S3", "S4"],
            "name": ["middle", "east", "east two"],
            "area_ha": [500.0, 500.0, 500.0],
            "fixed_cost_usd": [200e6, 30e6, 60e6],
            "max_it_mw": [100.0, 100.0, 100.0],
        },
        geometry=[at(31, 11), at(54, 11), at(56, 9)],
        crs=CRS,
    ).to_file(d / "tiny.gpkg", layer="sites")
    sc = yaml.safe_load(path.read_text())
    sc["years"] = [2030]
    sc["targets"] = {"it_mw_by_year": {2030: 100}}
    sc["solver"]["why_resolve"] = why_resolve
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    d = tmp_path_factory.mktemp("cf")
    out = d / "out"
    return siting.plan(_region(d), out=out), out


def test_without_the_chosen_site_the_plan_costs_the_hand_worked_difference(three):
    p, out = three
    assert list(p.sites.index) == ["S3"]
    why = pd.read_csv(out / "why_here.csv").set_index("site_id")
    r = why.loc["S3"]
    assert r["method"] == "re-solve" and r["status"] == "optimal"
    # 60 M USD (S4) - 30 M USD (S3): the dominance cut S4 <= S3 was set aside
    assert r["cost_without_usd"] == pytest.approx(30e6, abs=1.0)
    assert r["objective_without_usd"] - r["objective_usd"] == pytest.approx(30e6, abs=1.0)
    assert r["taken_by"] == "S4 +100 MW"
    assert r["gap_worth_usd"] == pytest.approx(0.0, abs=1.0) and bool(r["clear"])
    text = p.sites.at["S3", "why_here"]
    assert text.startswith("S3: without it the plan costs 30.00 M USD more (re-solved: S4 +100 MW")
    assert len(FIGURE.findall(text)) >= 2, text
    man = p.manifest
    assert man["why_here"]["method_used"] == "re-solve"
    assert "auto: 1 chosen sites" in man["why_here"]["resolve_note"]
    assert man["timings"]["why_resolve_s"] > 0
    # the model is left as it was: the plan's objective and schedule are the plan's
    assert man["objective_usd"] == pytest.approx(r["objective_usd"])
    html = (out / "report.html").read_text()
    assert "Without each site" in html and "S4 +100 MW" in html
    assert "without it the plan costs 30.00 M USD more" in html


def test_a_site_no_plan_can_do_without_is_said_so(tmp_path):
    # test_plan.py's strip as it is: 200 MW by 2031, S2 holds 100 MW and line 2-3 keeps S3
    # at 100 MW, so each site is needed: without either, no plan meets the target
    p = siting.plan(write_region(tmp_path), out=tmp_path / "out")
    why = pd.read_csv(tmp_path / "out" / "why_here.csv").set_index("site_id")
    assert set(why.index) == {"S2", "S3"} and (why["status"] == "infeasible").all()
    for sid, text in p.sites["why_here"].items():
        assert text.startswith(f"{sid}: without it no plan meets every requirement"), text
        assert len(FIGURE.findall(text)) >= 2, text


def test_off_keeps_the_unit_cost_comparison_and_says_so(tmp_path):
    p = siting.plan(_region(tmp_path, "off"), out=tmp_path / "out")
    why = pd.read_csv(tmp_path / "out" / "why_here.csv")
    assert list(why["method"]) == ["unit cost"] and why["cost_without_usd"].isna().all()
    assert p.manifest["why_here"]["method_used"] == "unit cost"
    assert p.manifest["why_here"]["resolve_note"] == "solver.why_resolve is off"
    assert "cheaper than the next-best site S4" in p.sites.at["S3", "why_here"]
    assert "why_resolve_s" in p.manifest["timings"]


def test_auto_thresholds():
    from siting.results.counterfactual import resolve_limit_s, wanted

    assert wanted("auto", 4, 2_000, by_method=False, sense="min_cost")[0]
    assert not wanted("auto", 13, 100, by_method=False, sense="min_cost")[0]
    assert not wanted("auto", 4, 2_001, by_method=False, sense="min_cost")[0]
    assert not wanted("auto", 4, 10, by_method=True, sense="min_cost")[0]
    assert wanted("on", 40, 90_000, by_method=True, sense="min_cost")[0]
    assert not wanted("on", 4, 10, by_method=False, sense="max_capacity")[0]
    # 2 x the base solve, within 10 and 120 s
    assert (resolve_limit_s(1.0), resolve_limit_s(30.0), resolve_limit_s(100.0)) == (10, 60, 120)
