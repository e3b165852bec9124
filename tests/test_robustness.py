"""Robustness over a sweep (:mod:`siting.studies.robustness`).

(a) a sweep output folder written by hand, with figures computed by hand in the comments;
(b) a real sweep of the tiny region on a LocalCluster; (c) bad input; (d) the map in
Debian's headless chromium, offline (as tests/test_map_browser.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import yaml
from browser import open_offline
from shapely.geometry import Point
from typer.testing import CliRunner

import siting.cli.robustness  # noqa: F401  (registers `siting robustness` on the app)
from siting.cli import app
from siting.core.errors import InputError
from siting.core.io import MARKER
from siting.studies.robustness import FREQ_BINS, robustness, write_robustness

CRS = "EPSG:32614"
EVIL = "<script>window.__xss=1</script> & <img src=x onerror=window.__xss=2>"
YEARS = [2030, 2031, 2032]
#: candidates of the hand-made plans: id -> (x km, y km, name)
CANDS = {
    "A": (500.0, 3500.0, "alpha"),
    "B": (520.0, 3500.0, EVIL),
    "C": (540.0, 3510.0, "gamma"),
    "D": (560.0, 3520.0, "never"),
}


def _plan(d: Path, sched: list[tuple], cands: dict = CANDS) -> Path:
    """A plan folder: schedule.csv, plan.gpkg (candidates layer), manifest.json."""
    d.mkdir(parents=True)
    cols = ["site_id", "year", "it_mw", "new_it_mw", "peak_draw_mw", "typical_draw_mw"]
    cols += ["cooling", "bus_id", "water_m3_per_day"]
    rows = []
    for sid, year, mw, cooling in sched:
        rows.append([sid, year, mw, 0.0, mw * 1.3, mw * 1.1, cooling, f"bus-{sid}", 0.0])
    pd.DataFrame(rows, columns=cols).to_csv(d / "schedule.csv", index=False)
    chosen = {r[0] for r in sched}
    ids = list(cands)
    gpd.GeoDataFrame(
        {
            "site_id": ids,
            "name": [cands[i][2] for i in ids],
            "x": [cands[i][0] * 1000 for i in ids],
            "y": [cands[i][1] * 1000 for i in ids],
            "status": ["chosen" if i in chosen else "not_chosen" for i in ids],
        },
        geometry=[Point(cands[i][0] * 1000, cands[i][1] * 1000) for i in ids],
        crs=CRS,
    ).to_file(d / "plan.gpkg", layer="candidates")
    (d / "manifest.json").write_text(json.dumps({"scenario_as_run": {"years": YEARS}}))
    return d


def _done(out: Path, key: str, name: str, sched: list[tuple], *, plan_dir: str | None = None):
    d = out / key
    p = _plan(d / "plan", sched)
    doc = {"name": name, "key": key, "status": "optimal", "plan_dir": plan_dir or str(p)}
    (d / "result.json").write_text(json.dumps(doc))
    (d / "done.json").write_text(json.dumps({"key": key}))
    (d / "scenario.yaml").write_text(yaml.safe_dump({"name": name}))


def make_sweep(out: Path) -> Path:
    """Six scenarios: three with a plan, one infeasible, one not run, one unfinished.

    Plans (years 2030, 2031, 2032; IT MW in service by year):

    ====  ==============================  =======================  ===================
    key   A                               B                        C
    ====  ==============================  =======================  ===================
    k1    100, 100, 200 (air)             -, -, 100 (air)          -
    k2    -, 150, 150 (evaporative)       -                        50, 50, 50 (air)
    k3    100, 100, 300 (air)             -                        -, -, 60 (air)
    ====  ==============================  =======================  ===================

    k4: failed.json (infeasible); k5: in summary.csv as "not run", no folder;
    k6: a folder with scenario.yaml only, not in summary.csv (from an earlier version of the
    sweep file: every run of a sweep writes summary.csv with all of its scenarios first).
    k2's result.json names a plan_dir that no longer exists (the folder was moved): its
    plan is found in ``k2/plan``.
    """
    out.mkdir(parents=True)
    _done(
        out,
        "k1",
        "s-001",
        [
            ("A", 2030, 100, "air"),
            ("A", 2031, 100, "air"),
            ("A", 2032, 200, "air"),
            ("B", 2032, 100, "air"),
        ],
    )
    _done(
        out,
        "k2",
        "s-002",
        [
            ("A", 2031, 150, "evaporative"),
            ("A", 2032, 150, "evaporative"),
            ("C", 2030, 50, "air"),
            ("C", 2031, 50, "air"),
            ("C", 2032, 50, "air"),
        ],
        plan_dir="/nowhere/moved/plan",
    )
    _done(
        out,
        "k3",
        "s-003",
        [
            ("A", 2030, 100, "air"),
            ("A", 2031, 100, "air"),
            ("A", 2032, 300, "air"),
            ("C", 2031, 0, "air"),  # a zero row is not "in service"
            ("C", 2032, 60, "air"),
        ],
    )
    (out / "k4").mkdir()
    (out / "k4" / "failed.json").write_text(
        json.dumps({"name": "s-004", "status": "infeasible", "error": "no plan\nmeets it"})
    )
    (out / "k6").mkdir()
    (out / "k6" / "scenario.yaml").write_text(yaml.safe_dump({"name": "s-006"}))
    pd.DataFrame(
        {
            "name": ["s-001", "s-002", "s-003", "s-004", "s-005"],
            "key": ["k1", "k2", "k3", "k4", "k5"],
            "targets.it_mw_by_year.2032": [300, 200, 360, 9999, 100],
            "status": ["optimal", "optimal", "optimal", "infeasible", "not run"],
            "objective_usd": [1.0, 2.0, 3.0, None, None],
            "it_mw_final": [300, 200, 360, None, None],
            "time_s": [1, 1, 1, 1, None],
            "error": ["", "", "", "no plan", ""],
        }
    ).to_csv(out / "summary.csv", index=False)
    return out


@pytest.fixture()
def sweep_out(tmp_path) -> Path:
    return make_sweep(tmp_path / "out")


# --------------------------------------------------------------------------- (a) by hand


def test_hand_computed_frequencies_first_years_and_shares(sweep_out):
    rob = robustness(sweep_out)
    # 5 scenarios: 3 plans (k1, k2, k3), 1 failed (k4), 1 skipped (k5 not run); k6 is not
    # in summary.csv, so not part of this sweep: left out, with a note
    assert (rob.scenarios_total, rob.scenarios_with_plan, rob.failed, rob.skipped) == (5, 3, 1, 1)
    assert any("1 scenario folder(s)" in n and "left out" in n for n in rob.notes)
    assert rob.years == YEARS and rob.candidate_sets == 1
    outcome = dict(zip(rob.scenarios["key"], rob.scenarios["outcome"], strict=True))
    assert outcome == {
        "k1": "plan",
        "k2": "plan",
        "k3": "plan",
        "k4": "failed",
        "k5": "skipped",
    }
    t = rob.table().set_index("site_id")
    # D is never chosen: not a row; order by frequency: A (3/3), C (2/3), B (1/3)
    assert list(t.index) == ["A", "C", "B"]
    assert list(t["times_chosen"]) == [3, 2, 1]
    assert list(t["scenarios_with_plan"]) == [3, 3, 3]
    assert t["selection_frequency"].tolist() == pytest.approx([1.0, 2 / 3, 1 / 3])
    # first years: A 2030 (k1), 2031 (k2), 2030 (k3); C 2030 (k2), 2032 (k3; its 2031 row
    # is 0 MW); B 2032 (k1)
    fy = t[["first_year_2030", "first_year_2031", "first_year_2032"]]
    assert fy.loc["A"].tolist() == [2, 1, 0]
    assert fy.loc["C"].tolist() == [1, 0, 1]
    assert fy.loc["B"].tolist() == [0, 0, 1]
    # in service by year, over 3 plans: A 2/3, 3/3, 3/3; C 1/3, 1/3, 2/3; B 0, 0, 1/3
    bb = t[["built_by_2030", "built_by_2031", "built_by_2032"]]
    assert bb.loc["A"].tolist() == pytest.approx([2 / 3, 1, 1])
    assert bb.loc["C"].tolist() == pytest.approx([1 / 3, 1 / 3, 2 / 3])
    assert bb.loc["B"].tolist() == pytest.approx([0, 0, 1 / 3])
    # final IT MW when chosen: A 200, 150, 300 -> 150 / 200 / 300; C 50, 60 -> 50 / 55 / 60
    mw = t[["it_mw_final_min", "it_mw_final_median", "it_mw_final_max"]]
    assert mw.loc["A"].tolist() == [150, 200, 300]
    assert mw.loc["C"].tolist() == [50, 55, 60]
    assert mw.loc["B"].tolist() == [100, 100, 100]
    # cooling of A: air (k1), evaporative (k2), air (k3)
    assert t.loc["A", "cooling_most_common"] == "air"
    assert t.loc["A", "cooling_mix"] == "air 2, evaporative 1"
    assert t.loc["A", "bus_id"] == "bus-A" and t.loc["B", "name"] == EVIL
    # geometry from the candidates layer: A at (500 km, 3500 km) in UTM 14N
    a = rob.sites.set_index("site_id").loc["A"]
    want = gpd.GeoSeries([Point(500_000, 3_500_000)], crs=CRS).to_crs("EPSG:4326").iloc[0]
    assert a["lon_deg"] == pytest.approx(want.x, abs=1e-6)
    assert a["lat_deg"] == pytest.approx(want.y, abs=1e-6)
    assert list(rob.never_chosen["site_id"]) == ["D"]
    text = " ".join(rob.notes)
    assert "1 scenario(s) without a plan left out (infeasible 1)" in text
    assert "1 scenario(s) not run" in text


def test_write_robustness_writes_every_file(sweep_out):
    folder = write_robustness(sweep_out, tiles=False)
    assert folder == (sweep_out / "robustness").resolve()
    names = {p.name for p in folder.iterdir()}
    assert names == {
        "robustness.csv",
        "robustness.geojson",
        "robustness.svg",
        "robustness.html",
        "robustness.json",
        "scenarios.csv",
        MARKER,
    }
    csv = pd.read_csv(folder / "robustness.csv", dtype={"site_id": str})
    assert list(csv["site_id"]) == ["A", "C", "B"]
    assert {"selection_frequency", "first_year_2031", "built_by_2032", "lon_deg"} <= set(csv)
    assert csv.loc[1, "built_by_2032"] == pytest.approx(2 / 3, abs=1e-6)
    gj = json.loads((folder / "robustness.geojson").read_text())
    assert [f["properties"]["site_id"] for f in gj["features"]] == ["A", "C", "B"]
    assert gj["features"][0]["geometry"]["type"] == "Point"
    lon, lat = gj["features"][0]["geometry"]["coordinates"]
    assert (lon, lat) == pytest.approx((csv.loc[0, "lon_deg"], csv.loc[0, "lat_deg"]), abs=1e-6)
    assert -100 < lon < -98 and 31 < lat < 32  # EPSG:4326, not the plan's metres
    svg = (folder / "robustness.svg").read_text()
    assert svg.startswith("<svg") and "<script" not in svg and "&lt;script&gt;" in svg
    # A's bar: 2 of 3 plans first in 2030, 1 in 2031 -> two segments of 2/3 and 1/3 of 400 px
    assert svg.count('data-year="2030"') == 2  # A and C
    assert 'width="266.7"' in svg and 'width="133.3"' in svg
    doc = json.loads((folder / "robustness.json").read_text())
    assert doc["scenarios_with_plan"] == 3 and doc["failed"] == 1 and doc["skipped"] == 1
    sc = pd.read_csv(folder / "scenarios.csv")
    assert list(sc["outcome"]) == ["plan", "plan", "plan", "failed", "skipped"]
    page = (folder / "robustness.html").read_text()
    assert "<script src=" not in page and "tile.openstreetmap.org" not in page
    assert "<script>window.__xss" not in page


def test_differing_candidate_sets_are_counted_apart(sweep_out):
    # k3 planned over other candidates (e.g. another cell size): same IDs, other places
    moved = {k: (x + 1.0, y, n) for k, (x, y, n) in CANDS.items()}
    p = sweep_out / "k3" / "plan"
    sched = pd.read_csv(p / "schedule.csv")
    shutil.rmtree(p)
    _plan(p, list(sched[["site_id", "year", "it_mw", "cooling"]].itertuples(index=False)), moved)
    rob = robustness(sweep_out)
    assert rob.candidate_sets == 2
    assert any("candidates differ" in n and "never mixed" in n for n in rob.notes)
    t = rob.table()
    a = t[t["site_id"] == "A"].set_index("candidate_set")
    # set A: k1, k2 (A chosen in both, 2/2); set B: k3 alone (1/1)
    assert a.loc["A", "scenarios_with_plan"] == 2 and a.loc["A", "times_chosen"] == 2
    assert a.loc["B", "scenarios_with_plan"] == 1 and a.loc["B", "times_chosen"] == 1
    c = t[t["site_id"] == "C"].set_index("candidate_set")["selection_frequency"]
    assert c.to_dict() == pytest.approx({"A": 0.5, "B": 1.0})
    # the set B copy of A sits 1 km east of set A's
    s = rob.sites[rob.sites["site_id"] == "A"].set_index("candidate_set")
    assert s.loc["B", "lon_deg"] > s.loc["A", "lon_deg"]


def test_no_plan_at_all_writes_the_csv_with_a_note(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "k4").mkdir()
    (out / "k4" / "failed.json").write_text(json.dumps({"name": "x-1", "status": "infeasible"}))
    pd.DataFrame({"name": ["x-1"], "key": ["k4"], "status": ["infeasible"]}).to_csv(
        out / "summary.csv", index=False
    )
    folder = write_robustness(out, tiles=False)
    csv = pd.read_csv(folder / "robustness.csv")
    assert len(csv) == 0 and "selection_frequency" in csv.columns
    doc = json.loads((folder / "robustness.json").read_text())
    assert doc["notes"][0].startswith("no scenario of this sweep has a plan")
    assert "no scenario of this sweep has a plan" in (folder / "robustness.svg").read_text()
    assert "no scenario of this sweep has a plan" in (folder / "robustness.html").read_text()


def test_a_failed_write_leaves_the_previous_folder_whole(sweep_out, monkeypatch):
    import siting.studies.robustness as mod

    folder = write_robustness(sweep_out, tiles=False)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    (sweep_out / "k1" / "done.json").unlink()  # the next result would differ

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(mod, "_geojson", boom)
    with pytest.raises(OSError, match="disk full"):
        write_robustness(sweep_out, tiles=False)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in sweep_out.iterdir() if p.name.startswith(".robustness")] == []
    monkeypatch.undo()
    write_robustness(sweep_out, tiles=False)
    assert pd.read_csv(folder / "robustness.csv")["scenarios_with_plan"].max() == 2


def test_cli_on_a_folder_prints_the_top_sites(sweep_out):
    r = CliRunner().invoke(app, ["robustness", str(sweep_out), "--no-tiles"])
    assert r.exit_code == 0, r.output
    assert "A" in r.output and "100 %" in r.output and "3 with a plan" in r.output
    r = CliRunner().invoke(app, ["robustness", str(sweep_out), "--json", "--top", "2"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [s["site_id"] for s in doc["sites"]] == ["A", "C"]
    assert doc["folder"] == str((sweep_out / "robustness").resolve())


# --------------------------------------------------------------------------- (c) bad input


def test_bad_input_names_the_folder_or_file(tmp_path):
    with pytest.raises(InputError, match="nope: no such folder"):
        robustness(tmp_path / "nope")
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(InputError, match="file.txt: not a folder"):
        robustness(f)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="empty: not a sweep output folder"):
        robustness(empty)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "summary.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match=r"summary.csv: not a sweep summary \(no column name"):
        robustness(bad)


def test_a_broken_schedule_or_result_is_named(sweep_out):
    (sweep_out / "k2" / "plan" / "schedule.csv").write_text("site,yr\nA,2030\n")
    with pytest.raises(InputError, match=r"k2/plan/schedule.csv: not a plan schedule"):
        robustness(sweep_out)
    (sweep_out / "k1" / "result.json").write_text("{not json")
    with pytest.raises(InputError, match=r"k1/result.json: cannot read it as JSON"):
        robustness(sweep_out)


def test_cli_bad_path_exits_1_with_the_path(tmp_path):
    r = CliRunner().invoke(app, ["robustness", str(tmp_path / "missing")])
    assert r.exit_code == 1
    assert "missing" in r.output and "sweep" in r.output


def test_frequency_colours_follow_the_bins():
    from siting.studies.robustness import freq_colour

    assert freq_colour(0.05) == FREQ_BINS[0][1]
    assert freq_colour(0.2) == FREQ_BINS[0][1]
    assert freq_colour(0.21) == FREQ_BINS[1][1]
    assert freq_colour(1.0) == FREQ_BINS[-1][1]


# --------------------------------------------------------------------------- (b) a real sweep


@pytest.fixture(scope="module")
def real_sweep(tmp_path_factory):
    pytest.importorskip("distributed")
    from test_sweep import FOUR, write_sweep

    from siting.studies.sweep import run_sweep

    d = tmp_path_factory.mktemp("robust-sweep")
    f = write_sweep(d, "four", FOUR)
    return f, run_sweep(f, workers=2)


def test_a_real_sweep_counts_what_the_schedules_say(real_sweep):
    import time

    f, res = real_sweep
    started = time.perf_counter()
    folder = write_robustness(res.out, tiles=False)
    assert time.perf_counter() - started < 15
    csv = pd.read_csv(folder / "robustness.csv", dtype={"site_id": str}).set_index("site_id")
    # count by hand from each scenario's schedule.csv
    first: dict[str, list[int]] = {}
    for row in res.rows:
        s = pd.read_csv(res.out / row["key"] / "plan" / "schedule.csv", dtype={"site_id": str})
        s = s[s["it_mw"] > 0]
        for sid, y in s.groupby("site_id")["year"].min().items():
            first.setdefault(sid, []).append(int(y))
    assert set(csv.index) == set(first)
    for sid, ys in first.items():
        assert csv.loc[sid, "times_chosen"] == len(ys)
        assert csv.loc[sid, "selection_frequency"] == pytest.approx(len(ys) / 4)
        for y in (2030, 2031):
            assert csv.loc[sid, f"first_year_{y}"] == ys.count(y)
            assert csv.loc[sid, f"built_by_{y}"] == pytest.approx(sum(v <= y for v in ys) / 4)
    # S3 opens in 2030 in every scenario; S2 is needed only at 200 MW with line b at 1.0
    assert csv.loc["S3", "selection_frequency"] == 1.0
    assert csv.loc["S3", "first_year_2030"] == 4
    assert 0 < csv.loc["S2", "times_chosen"] < 4
    assert csv.index[0] == "S3"
    assert (csv["scenarios_with_plan"] == 4).all()
    # the sweep file works as the CLI's argument too
    r = CliRunner().invoke(app, ["robustness", str(f), "--json", "--no-tiles"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["scenarios_with_plan"] == 4 and doc["sites"][0]["site_id"] == "S3"
    page = (folder / "robustness.html").read_text()
    assert "siting-outline" in page and "Substation" in page


# --------------------------------------------------------------------------- (d) the browser


def test_the_map_in_a_browser_offline(sweep_out, browser, tmp_path):
    folder = write_robustness(sweep_out)  # with the (online) tiles offered: blocked here
    page, errors = open_offline(browser, folder / "robustness.html")
    labels = [
        t.strip() for t in page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    ]
    assert "Sites by selection frequency" in labels and "Candidates never chosen" in labels
    markers = page.locator(".leaflet-overlay-pane path.siting-robust")
    assert markers.count() == 3  # A, B, C (D never chosen)
    fills = sorted(markers.evaluate_all("els => els.map(e => e.getAttribute('fill'))"))
    # A 100 % -> top bin, C 67 % -> 60-80 %, B 33 % -> 20-40 %
    assert fills == sorted([FREQ_BINS[4][1], FREQ_BINS[3][1], FREQ_BINS[1][1]])
    legend = page.locator(".siting-legend").inner_text()
    assert "Selection frequency [% of 3 plans]" in legend and "80 to 100 %" in legend
    box = page.locator(".leaflet-control-layers-overlays label", has_text="Sites by selection")
    box.locator("input").uncheck()
    assert markers.count() == 0
    box.locator("input").check()
    assert markers.count() == 3
    page.evaluate(
        """() => { var hit = null;
        window.sitingMap.eachLayer(function (l) {
          if (l.getPopup && l.getPopup() && l.options.className === 'siting-robust' &&
              String(l.getPopup().getContent()).indexOf('Site B') >= 0) hit = l; });
        hit.fire('click', {latlng: hit.getLatLng()}); }"""
    )
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5_000)
    text = popup.inner_text()
    assert EVIL in text  # shown as text, not run
    assert "in 1 of 3 plans (33 %)" in text and "2032: 1" in text
    assert popup.locator("script").count() == 0 and popup.locator("img").count() == 0
    assert page.evaluate("window.__xss") is None
    page.screenshot(path=str(tmp_path / "robustness.png"), full_page=True)
    assert errors == []


def test_sites_are_shown_by_name_with_their_id(sweep_out):
    """Issue 20: the page showed sites by ID only; the candidates' ``name`` (the nearest
    place) comes with the ID in the bars, the tooltips and the never-chosen popups."""
    folder = write_robustness(sweep_out, tiles=False)
    svg = (folder / "robustness.svg").read_text()
    assert ">alpha (A)<" in svg and ">gamma (C)<" in svg  # CANDS: A alpha, C gamma
    page = (folder / "robustness.html").read_text()
    assert '"t":"alpha (A): ' in page.replace("\\u0026", "&")
    # D ("never") is chosen in no plan: its popup data carries the name
    assert '"i":"D","n":"never"' in page
