"""The demo plan: complete, verified outputs, and proof that grid, water and cooling each
change a decision.

How "changes a decision" is shown: plan the demo once ignoring a layer (no grid; no water;
no climate rasters, so every site gets the reference climate's cooling performance), then
*replay* that plan's decisions (sites, years, cooling, modules) on the real demo with
:func:`siting.pipeline.replay`. If the replay cannot be operated (infeasible), the layer
ruled those decisions out, so it changed the plan. The README quotes these results.

Slow (four MILP solves of the demo, about three minutes on two cores).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import yaml

import siting
from siting.pipeline import replay

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "models" / "demo.yaml"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo"
    return siting.plan(DEMO, out=out), out


def variant(tmp_path: Path, name: str, override: dict) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"extends": str(DEMO), "name": name, **override}))
    return path


def test_demo_plan_meets_targets_and_passes_verification(base):
    p, _ = base
    targets = {2027: 300, 2028: 800, 2029: 1500, 2030: 2200, 2031: 3000}
    by_year = p.it_mw_by_year()
    for y, t in targets.items():
        assert by_year[y] >= t - 1e-6
    assert p.checks and all(c.ok for c in p.checks)
    assert p.solve.status == "optimal" and p.solve.gap <= 0.005
    names = {c.name for c in p.checks}
    assert {"branch flows within ratings", "water need met by pipelines"} <= names


def test_demo_outputs_are_complete(base):
    p, out = base
    assert {f.name for f in out.iterdir()} >= {
        "plan.gpkg",
        "schedule.csv",
        "flows.csv",
        "dispatch.csv",
        "upgrades.csv",
        "zones.geojson",
        "index.html",
        "report.html",
        "manifest.json",
    }
    layers = set(gpd.list_layers(out / "plan.gpkg")["name"])
    assert layers == {"sites", "candidates", "buses", "branches", "water_links", "zones"}
    zones = gpd.read_file(out / "plan.gpkg", layer="zones")
    assert zones["it_mw_final"].sum() == pytest.approx(p.it_mw_by_year().iloc[-1])
    assert not any("was not written" in n for n in p.manifest["notes"])
    sites = gpd.read_file(out / "plan.gpkg", layer="sites")
    assert len(sites) == len(p.sites) >= 2
    cands = gpd.read_file(out / "plan.gpkg", layer="candidates")
    assert set(cands["status"]) == {"chosen", "not_chosen", "screened_out"}
    assert (cands["reason"] != "").all()
    flows = pd.read_csv(out / "flows.csv")
    n_branches = len(gpd.read_file(out / "plan.gpkg", layer="branches"))
    n_snapshots = len(p.manifest["scenario_as_run"]["grid"]["snapshots"])
    assert n_snapshots > 1
    assert len(flows) == n_branches * 5 * n_snapshots  # one row per branch, year and snapshot
    sched = pd.read_csv(out / "schedule.csv")
    assert set(sched["site_id"]) == set(sites["site_id"])
    man = json.loads((out / "manifest.json").read_text())
    assert len(man["inputs"]) >= 10 and man["scenario_as_run"]["name"] == "demo"


def test_the_grid_changes_a_decision(base, tmp_path):
    blind = siting.plan(
        variant(tmp_path, "demo-gridoff", {"grid": {"enabled": False}}), write=False
    )
    r = replay(DEMO, blind.schedule)
    assert r.status == "infeasible"
    kinds = {v["requirement"] for v in r.violations}
    assert kinds & {"substation headroom exceeded", "branch flow above its rating"}, kinds


def test_water_changes_a_decision(base, tmp_path):
    blind = siting.plan(
        variant(tmp_path, "demo-nowater", {"water": {"enabled": False}}), write=False
    )
    r = replay(DEMO, blind.schedule)
    assert r.status == "infeasible"
    assert {v["requirement"] for v in r.violations} == {"water need not met"}


def test_cooling_climate_changes_a_decision(base, tmp_path):
    # without climate rasters every site takes the reference climate's PUE and WUE
    blind = siting.plan(
        variant(tmp_path, "demo-noclimate", {"layers": {"climate": None}}), write=False
    )
    r = replay(DEMO, blind.schedule)
    assert r.status == "infeasible"
    assert {v["requirement"] for v in r.violations} <= {
        "water need not met",
        "branch flow above its rating",
        "substation headroom exceeded",
    }


def test_ptdf_with_lazy_limits_gives_the_angle_plan_on_the_demo(base, tmp_path):
    # the demo's 141 buses take the PTDF form by default (grid.formulation auto)
    q, _ = base
    assert any("lazy line limits" in n for n in q.manifest["notes"])
    assert any(n.startswith("grid.formulation auto: ptdf (141 buses") for n in q.manifest["notes"])
    p = siting.plan(
        variant(tmp_path, "demo-angle", {"grid": {"formulation": "angle"}}), write=False
    )
    assert p.solve.status == "optimal" and all(c.ok for c in p.checks)
    assert not any("lazy line limits" in n for n in p.manifest["notes"])
    # both are within the 0.5 % MIP gap of the same optimum
    gap = 0.005
    assert abs(q.solve.objective - p.solve.objective) <= gap * abs(p.solve.objective)
    assert q.it_mw_by_year().to_dict() == p.it_mw_by_year().to_dict()


def test_demo_why_here_names_two_figures_per_site_and_every_loser_has_a_why_not(base):
    import re

    p, out = base
    figure = re.compile(r"\d[\d,]*(?:\.\d+)? (?:k USD|M USD|MW|km)|PUE \d\.\d+")
    assert len(p.sites)
    for sid, text in p.sites["why_here"].items():
        assert text.startswith(f"{sid}: ") and len(figure.findall(text)) >= 2, text
    lost = p.candidates[p.candidates["status"] != "chosen"]
    assert (lost["why_not"].astype(str).str.len() > 0).all()
    out_ = lost[lost["status"] == "screened_out"]
    # a screened-out candidate's why_not is its screening rule in words (its reason)
    assert len(out_) and (out_["why_not"] == out_["reason"]).all()
    assert out_["why_not"].str.startswith("screened out: ").all()
    assert p.manifest["why_here"]["method"] and p.manifest["timings"]["why_s"] >= 0
    assert '<section id="why">' in (out / "report.html").read_text()
    # solver.why_resolve auto: the demo's model has about 11,400 integer columns, more than
    # the 2,000 auto re-solves, so the unit-cost comparison, and the note says why
    why = p.manifest["why_here"]
    assert why["method_used"] == "unit cost"
    assert "integer columns, more than 2,000" in why["resolve_note"]


def test_demo_why_resolve_gives_every_chosen_site_a_counterfactual(tmp_path):
    """The demo with ``solver.why_resolve: on``: each chosen site is forbidden in turn and
    the plan solved again; every one gets a figure, in why_here.csv and in its sentence
    (with at least two figures), and the report's table."""
    import re

    out = tmp_path / "out"
    p = siting.plan(variant(tmp_path, "demo_why", {"solver": {"why_resolve": "on"}}), out=out)
    figure = re.compile(r"\d[\d,]*(?:\.\d+)? (?:k USD|M USD|MW|km)|PUE \d\.\d+")
    why = pd.read_csv(out / "why_here.csv").set_index("site_id")
    assert set(why.index) == set(p.sites.index) and len(why)
    assert p.manifest["why_here"]["method_used"] == "re-solve"
    assert (why["method"] == "re-solve").all() and why["status"].isin(["optimal", "feasible"]).all()
    assert why["cost_without_usd"].notna().all() and (why["gap_worth_usd"] > 0).all()
    for text in p.sites["why_here"]:
        assert "without it the plan costs" in text and len(figure.findall(text)) >= 2, text
    assert p.manifest["timings"]["why_resolve_s"] > 0
    assert "Without each site" in (out / "report.html").read_text()


def test_a_candidate_popup_on_the_demo_map_says_why_not(base, browser):
    """A candidate not chosen shows its ``why_not`` (the plan's ``candidates`` layer) in its
    popup on the map."""
    import geopandas as gpd
    from test_map_layout import SCREENS, open_page

    _, out = base
    cands = gpd.read_file(out / "plan.gpkg", layer="candidates")
    lost = cands[(cands["status"] != "chosen") & (cands["why_not"].fillna("") != "")]
    assert len(lost), "the demo plan leaves candidates unchosen"
    cid, why_not = str(lost.iloc[0]["site_id"]), str(lost.iloc[0]["why_not"])
    page, requests, errors = open_page(browser, out / "index.html", SCREENS["laptop"])
    page.evaluate(
        """(cid) => { window.sitingMap.eachLayer(function (l) {
          if (l.feature && l.feature.properties && l.feature.properties.i === cid) {
            l.openPopup(); } }); }""",
        cid,
    )
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5_000)
    text = " ".join(popup.inner_text().split())
    assert f"Candidate {cid}" in text and " ".join(why_not.split()) in text, text
    assert [u for u in requests if not u.startswith("file:")] == []
    assert errors == []
