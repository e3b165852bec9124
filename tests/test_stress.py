"""``siting grid stress`` on the tiny strip of ``tests/test_plan.py`` (real HiGHS, no mocks).

Hand facts the assertions rest on (see test_plan.py's docstring): a radial grid
bus 1 -a- bus 2 -b- bus 3, the only generator at bus 1, so line a carries every campus MW and
line b what bus 3 draws. S2 (bus 2) costs 200 M USD to open and holds at most 100 MW; S3
(bus 3, behind line b) is cheap to open and has no water. Campuses are 100 MW at least, in
50 MW modules; targets 100 MW in 2030 and 200 MW in 2031. Every cooling's peak PUE is above
1.1, so 150 MW of IT at S3 draws more than 165 MW through line b. The tight region (line b
160 MW) plans S3 100 MW from 2030 on air (peak draw 135.4 MW) and S2 100 MW in 2031; with
line b at 1,000 MW, S3 takes all 200 MW alone.
"""

from __future__ import annotations

import json
import shutil

import geopandas as gpd
import pandas as pd
import pytest
import yaml
from test_plan import write_region
from typer.testing import CliRunner

import siting
from siting.cli import app
from siting.config.scenario import load_scenario
from siting.core.errors import ScenarioError
from siting.core.io import MARKER
from siting.grid_ops.stress import SUMMARY_FILE, stress, stressed_scenario

runner = CliRunner()


@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    """The tiny region as it is (line b 160 MW), planned once and written by ``siting plan``."""
    d = tmp_path_factory.mktemp("tight")
    scenario = write_region(d)
    plan_dir = d / "plan"
    p = siting.plan(scenario, out=plan_dir)
    # the base these tests reason from (test_plan.py checks it too)
    s3 = p.schedule[p.schedule["site_id"] == "S3"].set_index("year")
    assert s3["it_mw"].to_dict() == {2030: 100.0, 2031: 100.0}
    assert set(s3["cooling"]) == {"air"}
    return scenario, p, plan_dir


@pytest.fixture(scope="module")
def loose(tmp_path_factory):
    """Line b at 1,000 MW: the cheap S3 takes all 200 MW by 2031."""
    d = tmp_path_factory.mktemp("loose")
    scenario = write_region(d, rating_23_mw=1000.0)
    return scenario, siting.plan(scenario, write=False)


def _s3_peak_draw_mw(p, year: int) -> float:
    s = p.schedule
    return float(s[(s["site_id"] == "S3") & (s["year"] == year)]["peak_draw_mw"].sum())


def test_a_derate_moves_mw_off_the_weak_lines_site(loose):
    scenario, base = loose
    r = stress(scenario, derate={"b": 0.16}, base=base)
    # line b: 1,000 MW x 0.16 = 160 MW, on both ratings
    e = r.edits.set_index("branch_id").loc["b"]
    assert (e["rating_mw_base"], e["rating_mw_stressed"]) == pytest.approx((1000.0, 160.0))
    assert e["rating_emergency_mw_stressed"] == pytest.approx(160.0)
    assert r.feasible and r.stressed is not None
    # 160 MW cannot carry 150 MW of IT at S3 (> 165 MW drawn), so S3 stays at its 100 MW
    # minimum and the 2031 target (200 MW) needs S2's 100 MW: MW moves from S3 to S2 in 2031
    moved = r.moved_sites.set_index(["site_id", "year"])
    assert sorted(moved.index) == [("S2", 2031), ("S3", 2031)]
    assert moved.loc[("S3", 2031), "change"] == "shrunk"
    assert (moved.loc[("S3", 2031), "base_it_mw"], moved.loc[("S3", 2031), "stressed_it_mw"]) == (
        200.0,
        100.0,
    )
    assert moved.loc[("S2", 2031), "change"] == "added"
    assert moved.loc[("S2", 2031), "stressed_it_mw"] == 100.0
    sites = r.site_changes.set_index("site_id")
    assert sites.at["S2", "change"] == "added" and sites.at["S2", "stressed_first_year"] == 2031
    # the totals still meet the targets in every year: MW moved, none was lost
    y = r.it_mw_by_year.set_index("year")
    assert y["stressed_it_mw"].to_dict() == {2030: 100.0, 2031: 200.0}
    assert (y["stressed_it_mw"] >= y["target_it_mw"]).all()
    assert (y["delta_it_mw"] == 0).all()
    # a tighter limit cannot make the optimum cheaper; here S2's 200 M USD opening cost
    assert r.delta_cost_usd > 100e6
    costs = r.costs_usd.set_index("part")
    assert costs.at["site_fixed", "delta_usd"] > 100e6
    # line b's peak loading changed most: 1,000 MW rating before, 160 after, within 100 %
    top = r.branches.iloc[0]
    assert top["branch_id"] == "b" and top["stressed_rating_mw"] == pytest.approx(160.0)
    assert top["base_peak_loading_pct"] < top["stressed_peak_loading_pct"] <= 100.0 + 1e-6


def test_an_outage_of_a_parallel_line_moves_mw_and_writes_the_folder(tmp_path):
    # a second line c, identical to b, beside it: the two share bus 3's draw equally, so S3's
    # 200 MW on air (270.8 MW at peak) puts 135.4 MW on each, within 160 MW. With c out, b
    # alone is the 160 MW of the tight region: S3 back to 100 MW, S2 opens in 2031.
    scenario = write_region(tmp_path)
    gpkg = tmp_path / "tiny.gpkg"
    br = gpd.read_file(gpkg, layer="branches")
    c = br[br["branch_id"] == "b"].assign(branch_id="c")
    gpd.GeoDataFrame(pd.concat([br, c], ignore_index=True), crs=br.crs).to_file(
        gpkg, layer="branches"
    )
    r = stress(scenario, outages=["c"])  # the base planned here
    assert r.base.source == "planned in-process"
    assert r.base.schedule.groupby("site_id")["it_mw"].max().to_dict() == {"S3": 200.0}
    assert r.edits.set_index("branch_id").at["c", "in_service_stressed"] == False  # noqa: E712
    moved = r.moved_sites.set_index(["site_id", "year"])
    assert moved.loc[("S3", 2031), ["base_it_mw", "stressed_it_mw"]].tolist() == [200.0, 100.0]
    assert moved.loc[("S2", 2031), ["base_it_mw", "stressed_it_mw"]].tolist() == [0.0, 100.0]
    assert r.it_mw_by_year["stressed_it_mw"].tolist() == [100.0, 200.0]
    # the branch that is out leads the branch table (its loading is gone, not just changed)
    assert r.branches.iloc[0]["branch_id"] == "c"
    assert not r.branches.iloc[0]["stressed_in_service"]
    # --out's folder: the stressed plan, the base planned here in base/, and stress.json
    out = r.write(tmp_path / "stress-out")
    for f in ("schedule.csv", "manifest.json", "flows.csv", "plan.gpkg", SUMMARY_FILE):
        assert (out / f).is_file(), f
    assert (out / "base" / "schedule.csv").is_file()
    man = json.loads((out / "manifest.json").read_text())
    assert man["scenario_as_run"]["grid"]["outages"] == ["c"]  # the stressed plan, not the base
    assert "c" not in set(pd.read_csv(out / "flows.csv", dtype={"branch_id": str})["branch_id"])
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["feasible"] is True and summary["output_dir"] == str(out)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_cli_replan_json_and_out_show_a_cooling_change(tight, tmp_path):
    scenario, base, plan_dir = tight
    out = tmp_path / "out"
    r = runner.invoke(
        app,
        ["grid", "stress", str(scenario), "--derate", "b=0.8", "--base", str(plan_dir)]
        + ["--json", "--out", str(out)],
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["mode"] == "replan" and data["feasible"] is True
    assert data["base"] == str(plan_dir)
    assert data["edits"][0]["factor"] == 0.8
    assert data["edits"][0]["rating_mw_stressed"] == pytest.approx(128.0)
    # 160 x 0.8 = 128 MW < S3's 135.4 MW on air; S3 cannot shrink below its 100 MW minimum
    # nor close (S2 holds only 100 of 2031's 200 MW), so it keeps its MW and changes cooling
    assert data["moved_sites"] == []
    (s3,) = data["site_changes"]
    assert (s3["site_id"], s3["what"], s3["base_cooling"]) == ("S3", "cooling", "air")
    assert s3["stressed_cooling"] != "air"
    assert data["it_mw_by_year"]["base"] == data["it_mw_by_year"]["stressed"]
    assert data["it_mw_by_year"]["stressed"] == {"2030": 100.0, "2031": 200.0}
    cost = data["cost_usd"]
    assert cost["delta"] == pytest.approx(cost["stressed"] - cost["base"])
    assert cost["base"] == pytest.approx(base.total_cost_usd, rel=1e-9)  # read from the folder
    assert cost["delta"] > 0  # tighter limits cannot make the optimum cheaper
    assert data["violations"] == []
    assert data["notes"] == []  # the base folder was planned from this very scenario
    # the folder holds the stressed plan, whose draw at S3 fits the derated line
    sched = pd.read_csv(out / "schedule.csv", dtype={"site_id": str})
    s3_peak = sched[sched["site_id"] == "S3"]["peak_draw_mw"]
    assert (s3_peak <= 128.0 + 1e-6).all()
    assert json.loads((out / "manifest.json").read_text())["scenario_as_run"]["grid"]["derate"] == {
        "b": 0.8
    }
    assert json.loads((out / SUMMARY_FILE).read_text()) == data
    assert not (out / "base").exists()  # the base came from a folder: not copied


def test_cli_replan_infeasible_stress_is_a_report_with_exit_0(tight):
    scenario, _, plan_dir = tight
    # b at 80 MW: S3's 100 MW minimum draws more than 110 MW, and S2 alone holds only 100 of
    # 2031's 200 MW: no plan. The answer to "what if" is that, with exit 0 (not an error).
    r = runner.invoke(
        app,
        ["grid", "stress", str(scenario), "--derate", "b=0.5", "--base", str(plan_dir), "--json"],
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["feasible"] is False
    assert data["violations"]
    # the least-violating plan overloads line b (cheaper in slack than 100 MW of target)
    assert "branch flow above its rating" in data["explanation"]
    assert "branch b, year 2031" in data["explanation"]
    assert data["moved_sites"] == [] and data["cost_usd"]["stressed"] is None
    assert data["it_mw_by_year"]["stressed"] == {"2030": None, "2031": None}


def test_cli_check_lists_the_branch_the_base_plan_overloads(tight):
    scenario, base, plan_dir = tight
    r = runner.invoke(
        app,
        ["grid", "stress", str(scenario), "--derate", "b=0.5", "--check", "--base", str(plan_dir)],
    )
    assert r.exit_code == 0, r.output
    # the base keeps S3's 100 MW on air: its peak draw all goes through b, now 80 MW
    draw = _s3_peak_draw_mw(base, 2031)
    assert draw == pytest.approx(135.4)
    assert "breaks limits" in r.stdout
    assert "branch b, year 2031, snapshot peak" in r.stdout
    assert f"{draw - 80.0:,.1f}" in r.stdout  # the overload [MW]
    assert "branch overloads" in r.stdout  # the table with the loading [% of 80 MW]


def test_check_mode_overloads_by_api(tight):
    scenario, base, _ = tight
    r = stress(scenario, derate={"b": 0.5}, mode="check", base=base)
    assert not r.feasible and r.replay.status == "infeasible"
    peak = r.overloads[r.overloads["snapshot"] == "peak"].set_index("year")
    # the same draw in both years (S3 100 MW on air), over an 80 MW rating
    for year in (2030, 2031):
        draw = _s3_peak_draw_mw(base, year)
        assert peak.at[year, "branch_id"] == "b"
        assert peak.at[year, "rating_mw"] == pytest.approx(80.0)
        assert peak.at[year, "overload_mw"] == pytest.approx(draw - 80.0, abs=1e-6)
        assert peak.at[year, "loading_pct"] == pytest.approx(100.0 * draw / 80.0, abs=1e-6)
    assert set(r.overloads["branch_id"]) == {"b"}  # line a (1,000 MW) is not overloaded


def test_cli_check_a_harmless_derate_keeps_the_plan(tight, tmp_path):
    scenario, base, plan_dir = tight
    out = tmp_path / "check-out"
    r = runner.invoke(
        app,
        ["grid", "stress", str(scenario), "--derate", "a=0.5", "--check", "--base", str(plan_dir)]
        + ["--json", "--out", str(out)],
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    # line a carries every campus MW: at most 257.4 MW at the 2031 peak, within 500 MW
    assert base.flows["flow_mw"].abs().max() < 500.0
    assert data["mode"] == "check" and data["feasible"] is True
    assert data["violations"] == [] and data["overloads"] == []
    # the same decisions and the only generator's dispatch: the cost does not move
    assert data["cost_usd"]["stressed"] == pytest.approx(data["cost_usd"]["base"], rel=1e-9)
    assert data["it_mw_by_year"]["stressed"] == data["it_mw_by_year"]["base"]
    # check mode writes the summary only (no new plan; the base is already on disk), and
    # the marker that makes the folder siting's
    assert sorted(p.name for p in out.iterdir()) == [MARKER, SUMMARY_FILE]


def test_a_base_folder_from_another_scenario_is_flagged(tight, tmp_path):
    scenario, _, plan_dir = tight
    other = tmp_path / "other-plan"
    shutil.copytree(plan_dir, other)
    man = json.loads((other / "manifest.json").read_text())
    man["scenario_as_run"]["costs"]["discount_rate"] = 0.123  # planned with another rate
    (other / "manifest.json").write_text(json.dumps(man))
    r = stress(scenario, derate={"a": 0.5}, mode="check", base=other)
    assert r.feasible  # line a at 500 MW still carries the plan
    # the comparison would mix two changes: the note says so and names the section
    assert any("differs" in n and "costs" in n for n in r.notes), r.notes


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--derate", "b"], "expected BRANCH=FACTOR"),
        (["--derate", "b=abc"], "must be a number > 0"),
        (["--derate", "b=0"], "must be a number > 0"),
        (["--derate", "b=-0.5"], "must be a number > 0"),
        (["--derate", "=0.5"], "expected BRANCH=FACTOR"),
        (["--derate", "b=0.5", "--derate", "b=0.6"], "given twice"),
        ([], "nothing to stress"),
    ],
)
def test_cli_bad_derate_syntax_is_a_usage_error(tmp_path, args, said):
    scenario = write_region(tmp_path)
    r = runner.invoke(app, ["grid", "stress", str(scenario), *args])
    assert r.exit_code == 2, r.output  # click's usage error, before anything is read
    assert "--derate" in r.output and said in " ".join(r.output.split())


def test_cli_unknown_branches_and_a_bad_base_are_input_errors(tmp_path):
    scenario = write_region(tmp_path)
    r = runner.invoke(
        app, ["grid", "stress", str(scenario), "--derate", "zz=0.5", "--outage", "yy"]
    )
    assert r.exit_code == 1, r.output
    # the layer check names the scenario keys and the IDs it does not know
    assert "grid.derate" in r.output and "zz" in r.output
    assert "grid.outages" in r.output and "yy" in r.output
    assert "Traceback" not in r.output
    r = runner.invoke(
        app, ["grid", "stress", str(scenario), "--derate", "b=0.5", "--base", str(tmp_path)]
    )
    assert r.exit_code == 1, r.output  # tmp_path holds no schedule.csv or manifest.json
    assert "schedule.csv" in r.output and "missing" in r.output


def test_cli_a_base_scenario_without_a_plan_exits_2(tmp_path):
    scenario = write_region(tmp_path)
    text = yaml.safe_load(scenario.read_text())
    text["targets"]["it_mw_by_year"] = {2030: 100, 2031: 2000}  # more than both sites hold
    scenario.write_text(yaml.safe_dump(text))
    r = runner.invoke(app, ["grid", "stress", str(scenario), "--derate", "a=0.9"])
    assert r.exit_code == 2, r.output  # as `siting plan`: nothing to stress
    assert "before the stress" in r.output and "national IT target not met" in r.output


def test_stressed_scenario_merges_edits_onto_the_scenarios_own(tmp_path):
    sc = load_scenario(write_region(tmp_path))
    sc.grid.derate = {"b": 0.9}
    sc.grid.outages = ["a"]
    st = stressed_scenario(sc, {"b": 0.5, "a": 2.0}, ["a", "b"])
    # factors multiply on a branch already derated: 0.9 x 0.5 of the layer's rating
    assert st.grid.derate == pytest.approx({"b": 0.45, "a": 2.0})
    assert st.grid.outages == ["a", "b"]  # added once each
    assert sc.grid.derate == {"b": 0.9} and sc.grid.outages == ["a"]  # the input is unchanged
    assert st.source_file == sc.source_file  # problems still name the scenario file
    with pytest.raises(ScenarioError) as e:
        stressed_scenario(sc, {"b": 0.0})
    assert "grid.derate.b" in str(e.value)
    with pytest.raises(ScenarioError) as e:  # 0.9 x 20 = 18 is above the schema's 10
        stressed_scenario(sc, {"b": 20.0})
    assert "grid.derate" in str(e.value)
