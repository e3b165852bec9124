"""Operators' questions answered in full (issue 20, Build item 4).

- ``siting grid dispatch`` and ``siting grid hosting`` take ``--derate`` / ``--outage`` on a
  bare case (a MATPOWER file without a scenario), meaning what they mean in ``grid stress``;
- ``siting grid hosting`` says why each bus gets what it gets (the ``why`` / ``why_n1``
  columns), above all why a bus gets 0 MW, and which ``--dispatch`` mode re-dispatches;
- on pglib case118 under N-1 (the issue: 0 MW at 117 of 118 buses with no note why) every
  zero has its reason.

Reference figures are worked out by hand in each test's docstring.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siting.cli import app

runner = CliRunner()


def write_triangle(d: Path, rates_mw: tuple[float, float, float], pg_mw: float = 150.0) -> Path:
    """A 3-bus MATPOWER case: buses 1 (reference), 2, 3 (150 MW load); branches 1: 1-2,
    2: 1-3, 3: 2-3, all x = 0.1 pu on 100 MVA, RATE_A = RATE_C ``rates_mw`` (emergency ratings
    equal to the normal ones); generator 1 at bus 1 (PG ``pg_mw``, 300 MW, 10 USD/MWh),
    generator 2 at bus 2 (PG 0, 300 MW, 30 USD/MWh)."""
    a, b, c = rates_mw
    path = d / "tri3.m"
    path.write_text(
        "function mpc = tri3\nmpc.version = '2';\nmpc.baseMVA = 100;\n"
        "mpc.bus = [\n"
        " 1 3 0 0 0 0 1 1 0 345 1 1.1 0.9;\n"
        " 2 1 0 0 0 0 1 1 0 345 1 1.1 0.9;\n"
        " 3 1 150 0 0 0 1 1 0 345 1 1.1 0.9;\n];\n"
        "mpc.gen = [\n"
        f" 1 {pg_mw:g} 0 0 0 1 100 1 300 0;\n"
        " 2 0 0 0 0 1 100 1 300 0;\n];\n"
        "mpc.branch = [\n"
        f" 1 2 0 0.1 0 {a:g} {a:g} {a:g} 0 0 1 -360 360;\n"
        f" 1 3 0 0.1 0 {b:g} {b:g} {b:g} 0 0 1 -360 360;\n"
        f" 2 3 0 0.1 0 {c:g} {c:g} {c:g} 0 0 1 -360 360;\n];\n"
        "mpc.gencost = [\n 2 0 0 2 10 0;\n 2 0 0 2 30 0;\n];\n"
    )
    return path


def _json(args: list[str]) -> dict:
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


# --------------------------------------------------------------------------- --derate / --outage


def test_dispatch_derate_and_outage_on_a_bare_case(tmp_path: Path) -> None:
    """The DC OPF of the triangle with branch 2 (1-3) rated 80 MW, by hand.

    Equal reactances: from bus 1 to bus 3, 2/3 of the power goes direct and 1/3 through
    bus 2; from bus 2, 2/3 direct (2-3) and 1/3 through bus 1. So with gA + gB = 150,
    f13 = 2/3 gA + 1/3 gB = 50 + gA / 3.
    - as it is: 50 + gA / 3 <= 80: gA = 90, gB = 60: 900 + 1,800 = 2,700 USD/h;
    - ``--derate 2=0.75`` (rating 60 MW): gA = 30, gB = 120: 300 + 3,600 = 3,900 USD/h;
    - ``--outage 2``: no path is limited (1-2, 2-3 rated 1,000): A serves all 150 MW:
      1,500 USD/h, with 150 MW on 1-2 and on 2-3.
    """
    case = write_triangle(tmp_path, (1000.0, 80.0, 1000.0))
    base = _json(["grid", "dispatch", str(case), "--json"])
    assert base["objective_usd_per_h"] == pytest.approx(2700.0, rel=1e-9)
    der = _json(["grid", "dispatch", str(case), "--json", "--derate", "2=0.75"])
    assert der["objective_usd_per_h"] == pytest.approx(3900.0, rel=1e-9)
    flows = {f["branch_id"]: f for f in der["flows"]}
    assert flows["2"]["rating_mw"] == pytest.approx(60.0)
    assert flows["2"]["flow_mw"] == pytest.approx(60.0, abs=1e-6)
    assert any("branch 2 derated to 0.75" in n for n in der["notes"])
    out = _json(["grid", "dispatch", str(case), "--json", "--outage", "2"])
    assert out["objective_usd_per_h"] == pytest.approx(1500.0, rel=1e-9)
    flows = {f["branch_id"]: f for f in out["flows"]}
    assert flows["2"]["in_service"] is False
    assert flows["1"]["flow_mw"] == pytest.approx(150.0) and flows["3"]["flow_mw"] == pytest.approx(
        150.0
    )
    # the file is not touched: the same case again is the base
    assert _json(["grid", "dispatch", str(case), "--json"])["objective_usd_per_h"] == (
        pytest.approx(2700.0)
    )


def test_edit_errors_name_the_option_and_the_file(tmp_path: Path) -> None:
    case = write_triangle(tmp_path, (1000.0, 80.0, 1000.0))
    for cmd in ("dispatch", "hosting"):
        res = runner.invoke(
            app,
            ["grid", cmd, str(case), "--derate", "9=0.5", "--outage", "x"]
            + (["--out", str(tmp_path / "h.csv")] if cmd == "hosting" else []),
        )
        assert res.exit_code == 1, res.output
        assert "field '--derate'" in res.output and "branch '9' is not a branch" in res.output
        assert "field '--outage'" in res.output and str(case) in res.output
        res = runner.invoke(app, ["grid", cmd, str(case), "--derate", "2=0"])
        assert res.exit_code == 2 and "--derate" in res.output  # a usage error


def test_hosting_derate_and_outage_on_a_bare_case(tmp_path: Path) -> None:
    """Hosting capacity of the triangle at the case's PG (150 MW from bus 1 to the load at
    bus 3), branch 2 (1-3) rated 200 MW, the others 1,000; by hand.

    Flows: f13 = 100, f12 = 50, f23 = 50 MW. A load at bus 3 (served from bus 1) adds 2/3
    MW per MW to 1-3: (200 - 100) / (2/3) = 150 MW; at bus 2 it adds 1/3: 100 * 3 = 300 MW
    (1-2 would allow 950 / (2/3) = 1,425). Bus 1 is the slack: unlimited.
    - ``--derate 2=0.5`` (100 MW = its flow): 0 MW at buses 2 and 3, the branch at its rating;
    - ``--derate 2=0.4`` (80 MW < 100): 0 MW, the branch 20 MW above its rating;
    - ``--outage 1``: 1-3-2 is a chain, f13 = 150; a load at 2 or 3 adds 1 MW per MW to
      1-3: 50 MW at both.
    """

    def run(*extra: str) -> dict[str, dict]:
        data = _json(
            ["grid", "hosting", str(case), "--json", "--out", str(tmp_path / "h.csv"), *extra]
        )
        return {b["bus_id"]: b for b in data["buses"]} | {"_notes": data["notes"]}

    case = write_triangle(tmp_path, (1000.0, 200.0, 1000.0))
    b = run()
    assert [b[k]["hosting_mw"] for k in "123"] == [None, pytest.approx(300.0), pytest.approx(150.0)]
    assert b["3"]["why"] == (
        "branch 2 has 100.0 MW of headroom (flow 100.0 of 200.0 MW); a load here adds 0.667 MW "
        "to its flow per MW"
    )
    assert b["1"]["why"].startswith("unlimited")
    b = run("--derate", "2=0.5")
    assert b["2"]["hosting_mw"] == pytest.approx(0.0, abs=1e-9)
    assert b["3"]["hosting_mw"] == pytest.approx(0.0, abs=1e-9)
    assert b["3"]["why"].startswith("branch 2 is at its rating (100.0 MW) at the operating point")
    assert any("2 bus(es) get 0 MW (N-0)" in n for n in b["_notes"])
    assert any("--dispatch opf" in n for n in b["_notes"])  # the re-dispatch on offer
    b = run("--derate", "2=0.4")
    assert b["3"]["overloaded"] is True
    assert b["3"]["why"].startswith(
        "branch 2 already carries 100.0 MW, 20 MW above its rating 80.0 MW"
    )
    b = run("--outage", "1")
    assert b["2"]["hosting_mw"] == pytest.approx(50.0) and b["3"]["hosting_mw"] == pytest.approx(
        50.0
    )
    assert b["2"]["limiting_branch"] == "2"


def test_hosting_n1_zero_says_which_outage(tmp_path: Path) -> None:
    """The triangle of the test above with ``--n-1 --derate 2=0.7`` (1-3 rated 140 MW,
    emergency too), by hand.

    N-0: bus 3 (140 - 100) / (2/3) = 60 MW, bus 2 40 * 3 = 120 MW. After the outage of 1
    (1-2) the load at 3 all flows on 1-3: 150 MW > 140, so any load at bus 2 or 3 (which
    adds 1 MW per MW to it) gets 0 MW: the reason names the outage and the 10 MW excess.
    Without the derate (200 MW), after the outage of 1: 50 MW at both buses, which the
    outage of 3 ties at bus 3 (1-3 then carries 150 too); the first outage is kept.
    """
    case = write_triangle(tmp_path, (1000.0, 200.0, 1000.0))
    args = ["grid", "hosting", str(case), "--json", "--n-1", "--out", str(tmp_path / "h.csv")]
    data = _json([*args, "--derate", "2=0.7"])
    b = {x["bus_id"]: x for x in data["buses"]}
    assert b["2"]["hosting_mw"] == pytest.approx(120.0) and b["3"]["hosting_mw"] == pytest.approx(
        60.0
    )
    for k in "23":
        assert b[k]["hosting_n1_mw"] == 0.0 and b[k]["limiting_outage"] == "1"
        assert b[k]["why_n1"].startswith(
            "after the outage of branch 1, branch 2 already carries 150.0 MW, 10 MW above its "
            "emergency rating 140.0 MW"
        )
    assert any(
        "2 bus(es) get 0 MW (N-1)" in n and "after the outage of 1" in n for n in data["notes"]
    )
    b = {x["bus_id"]: x for x in _json(args)["buses"]}
    assert b["2"]["hosting_n1_mw"] == pytest.approx(50.0)
    assert b["3"]["why_n1"] == (
        "after the outage of branch 1, branch 2 has 50.0 MW of headroom (flow 150.0 of 200.0 "
        "MW); a load here adds 1.000 MW to its flow per MW"
    )


def test_case118_n1_every_zero_has_its_reason(pglib_dir: Path, tmp_path: Path) -> None:
    """pglib case118 under N-1 at the case's PG (the issue's run): 117 of 118 buses get 0 MW.

    The PG of the file leave 984.5 MW to the reference bus (noted), which overloads branch
    96 and others at the operating point; each zero's ``why_n1`` names the branch, says it
    is already above its rating, and a note groups the zeros and offers ``--dispatch opf``.
    With ``--dispatch opf`` the zeros stay, now after the outage of a branch (the OPF keeps
    the normal ratings, not N-1): the note says no mode re-dispatches for N-1 security.
    """
    case = pglib_dir / "pglib_opf_case118_ieee.m"
    args = ["grid", "hosting", str(case), "--json", "--n-1", "--out", str(tmp_path / "h.csv")]
    for dispatch in ("auto", "opf"):
        data = _json([*args, "--dispatch", dispatch])
        zeros = [b for b in data["buses"] if b["hosting_n1_mw"] == 0.0]
        assert len(zeros) == 117
        for b in zeros:
            why = b["why_n1"]
            assert f"branch {b['limiting_branch_n1']} " in why and "MW" in why
            assert "above its" in why or "at its" in why
            if b["limiting_outage"] is not None:
                assert why.startswith(f"after the outage of branch {b['limiting_outage']},")
        notes = " | ".join(data["notes"])
        assert "117 bus(es) get 0 MW (N-1)" in notes
        if dispatch == "auto":
            assert "re-dispatch: --dispatch opf" in notes
        else:
            assert "no mode re-dispatches for N-1 security" in notes


# --------------------------------------------------------------------------- grid check


def _derated_triangle(plan: Path) -> Path:
    """test_grid_check's triangle scenario with branch 23 derated to 0.7 (105 MW; no
    emergency rating: the normal one) and 13 to 0.3 (60 MW, emergency 320 x 0.3 = 96)."""
    derated = plan.parent / "derated.yaml"
    derated.write_text(
        json.dumps(
            {"extends": str(plan.parent / "tri.yaml"), "grid": {"derate": {"23": 0.7, "13": 0.3}}}
        )
    )
    return derated


def test_check_splits_the_grids_own_violations_from_the_plans(tmp_path: Path) -> None:
    """test_grid_check's 3-bus plan (campus at bus 3: peak draw 180 MW; load 120 MW at bus
    2; g1 300 MW at the peak, 210 in 'year') checked on a derated grid, by hand.

    Equal reactances: a transfer sends 2/3 over the direct branch, 1/3 round the other two;
    an outage moves the tripped branch's flow onto the other path.
    Plan at the peak: f12 = 140, f13 = 160, f23 = 20 ('year': 90, 120, 30).
    Baseline (no campus; g1 gives up the 180 MW: 300 x 120/300 = 120 MW; 'year' 60 MW):
    120 MW 1->2: f12 = 80, f13 = 40, f23 = -40 ('year' 40, 20, -20).

    - N-0 on 13 (60 MW): plan 160 (+100) and 120 (+60) in both years; baseline 40, 20:
      4 x caused.
    - N-1 (peak), out 12: plan f13 = 160 + 140 = 300 (> 96: +204), baseline 40 + 80 = 120
      (+24): worsened; plan f23 = 20 - 140 = -120 (> 105: +15), baseline -40 - 80 = -120
      (+15): the grid's own (baseline). Both years.
    - out 13: plan f12 = 300 > 250 in 2030 (+50; 2031 has the 60 MW upgrade: 310), f23 =
      180 (+75); baseline f12 = 120, f23 = 0: caused.
    - out 23: plan f13 = 160 + 20 = 180 (+84); baseline 40 - 40 = 0: caused.
    - substation 3 in 2030: 180 > 150: caused (2031: +50 MW upgrade).
    So 14 violations: 2 worsened, 2 baseline, 10 caused; exit 2 (the plan causes some).
    """
    from test_grid_check import write_triangle_plan

    from siting.grid_ops.check import check_plan

    plan = write_triangle_plan(tmp_path / "tri")
    derated = _derated_triangle(plan)
    r = check_plan(plan, derated)
    got = {
        (x.kind, x.id, x.year, x.outage_id): (x.origin, x.excess_mw, x.baseline_excess_mw)
        for x in r.violations.itertuples()
        if x.kind != "n0_overload"
    }
    nan = float("nan")
    want = {}
    for y in (2030, 2031):
        want[("n1_overload", "13", y, "12")] = ("worsened", 204.0, 24.0)
        want[("n1_overload", "23", y, "12")] = ("baseline", 15.0, 15.0)
        want[("n1_overload", "23", y, "13")] = ("caused", 75.0, nan)
        want[("n1_overload", "13", y, "23")] = ("caused", 84.0, nan)
    want[("n1_overload", "12", 2030, "13")] = ("caused", 50.0, nan)
    want[("substation_headroom", "3", 2030, "")] = ("caused", 30.0, nan)
    assert set(got) == set(want)
    for k, (origin, excess, base) in want.items():
        assert got[k][0] == origin, k
        assert got[k][1] == pytest.approx(excess, abs=1e-6), k
        assert got[k][2] == pytest.approx(base, abs=1e-6, nan_ok=True), k
    n0 = r.violations[r.violations["kind"] == "n0_overload"]
    assert len(n0) == 4 and set(n0["id"]) == {"13"} and (n0["origin"] == "caused").all()
    assert r.origin_counts() == {"caused": 10, "worsened": 2, "baseline": 2}
    assert not r.plan_ok and len(r.baseline) == 4 and r.resolved.empty

    res = runner.invoke(app, ["grid", "check", str(plan), "--scenario", str(derated), "--json"])
    assert res.exit_code == 2, res.output
    data = json.loads(res.stdout)
    assert data["plan_ok"] is False and data["ok"] is False
    assert data["origin_counts"] == {"caused": 10, "worsened": 2, "baseline": 2}
    assert "DC OPF" in data["baseline"]["method"] and len(data["baseline"]["violations"]) == 4
    res = runner.invoke(app, ["grid", "check", str(plan), "--scenario", str(derated)])
    assert "10 caused by the plan, 2 worsened by the plan, 2 the grid's own" in res.stdout


def test_check_of_a_plan_with_only_the_grids_own_violations_exits_0(tmp_path: Path) -> None:
    """The plan of the test above with its campus drawing nothing (g1 120 MW at the peak,
    60 in 'year'): its flows are the baseline's, so its only violations are the grid's own
    (out 12: 13 at 120 > 96 and 23 at -120 > 105, both years): 4 violations, all
    ``baseline``, exit 0 (``ok`` false: there are violations; ``plan_ok`` true)."""
    import pandas as pd
    from test_grid_check import write_triangle_plan

    plan = write_triangle_plan(tmp_path / "tri")
    sched = pd.read_csv(plan / "schedule.csv")
    sched[["peak_draw_mw", "typical_draw_mw"]] = 0.0
    sched.to_csv(plan / "schedule.csv", index=False)
    disp = pd.read_csv(plan / "dispatch.csv")
    disp["p_mw"] = disp["snapshot"].map({"peak": 120.0, "year": 60.0})
    disp.to_csv(plan / "dispatch.csv", index=False)
    flows = pd.read_csv(plan / "flows.csv")
    flows["flow_mw"] = [80.0, 40.0, -40.0] * 2
    flows.to_csv(plan / "flows.csv", index=False)
    res = runner.invoke(
        app, ["grid", "check", str(plan), "--scenario", str(_derated_triangle(plan)), "--json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["ok"] is False and data["plan_ok"] is True
    assert data["origin_counts"] == {"baseline": 4}
    assert {(v["id"], v["outage_id"]) for v in data["violations"]} == {("13", "12"), ("23", "12")}


def _two_generator_triangle(d: Path) -> Path:
    """test_grid_check's triangle plan with a second, dearer generator g2 at bus 2 (400 MW,
    30 USD/MWh; g1 at bus 1: 10 USD/MWh) and branch 13's emergency rating 100 MW. The plan's
    dispatch (hand-made): g1 200 + g2 100 MW at the peak, g1 150 + g2 60 in 'year'.

    Plan flows at the peak (transfers split 2/3 direct, 1/3 round): bus 1 +200, bus 2
    +100 - 120 = -20, bus 3 -180: 20 MW 1->2 gives f12 +13.33, f13 +6.67, f23 -6.67; 180 MW
    1->3 gives f13 +120, f12 +60, f23 +60. So f12 = 73.33, f13 = 126.67, f23 = 53.33;
    'year': bus 1 +150, bus 3 -150: f12 = 50, f13 = 100, f23 = 50."""
    import geopandas as gpd
    import pandas as pd
    from test_grid_check import write_triangle_plan

    plan = write_triangle_plan(d)
    gpkg = d / "tri.gpkg"
    gens = gpd.read_file(gpkg, layer="generators")
    two = pd.concat([gens, gens], ignore_index=True)
    two["gen_id"] = ["g1", "g2"]
    two["bus_id"] = ["1", "2"]
    two["marginal_cost_usd_per_mwh"] = [10.0, 30.0]
    two.geometry = list(gpd.read_file(gpkg, layer="buses").geometry[:2])
    gpd.GeoDataFrame(two, crs=gens.crs).to_file(gpkg, layer="generators", mode="w")
    br = gpd.read_file(gpkg, layer="branches")
    br["rating_emergency_mw"] = [250.0, 100.0, None]
    br.to_file(gpkg, layer="branches", mode="w")
    pd.DataFrame(
        {
            "gen_id": ["g1", "g2"] * 4,
            "bus_id": ["1", "2"] * 4,
            "year": [2030] * 4 + [2031] * 4,
            "snapshot": ["peak", "peak", "year", "year"] * 2,
            "p_mw": [200.0, 100.0, 150.0, 60.0] * 2,
        }
    ).to_csv(plan / "dispatch.csv", index=False)
    flows = pd.read_csv(plan / "flows.csv")
    flows["flow_mw"] = [220 / 3, 380 / 3, 160 / 3] * 2
    flows.to_csv(plan / "flows.csv", index=False)
    # the manifest names the grid file by its digest: the edited one's
    from siting.core.files import file_sha256

    man = json.loads((plan / "manifest.json").read_text())
    man["inputs"][0]["sha256"] = file_sha256(gpkg)
    (plan / "manifest.json").write_text(json.dumps(man))
    return plan


def test_check_baseline_is_a_redispatch_and_finds_the_grids_own_n1_overload(
    tmp_path: Path,
) -> None:
    """The campus-free baseline re-dispatched (DC OPF), against the old proportional one.

    Without the campus the load is 120 MW at bus 2 (peak; 60 in 'year'). The OPF serves it
    from the cheap g1 (10 < 30 USD/MWh; nothing binds: f12 = 80, f13 = 40, f23 = -40 MW at
    the peak). Outage of 12: all 120 MW go 1->3->2, f13 = 120 MW > its 100 MW emergency
    rating: the grid's own N-1 overload, +20 MW, before any campus. ('year': 60 MW, no
    overload.)
    Scaled down in proportion instead, the plan's 300 MW give up the campus's 180: g1 200 x
    0.4 = 80, g2 100 x 0.4 = 40, so 80 MW 1->2 and, out 12, f13 = 80 MW: no overload.
    The plan, out 12: f13 = 126.67 + 73.33 = 200 MW, +100 over 100: ``worsened`` against the
    OPF baseline's +20 (``caused`` against the proportional one).
    """

    from siting.grid_ops.check import (
        BASELINE_FALLBACK,
        BASELINE_METHOD,
        baseline_dispatch,
        check_plan,
        proportional_baseline,
    )

    plan = _two_generator_triangle(tmp_path / "tri")
    r = check_plan(plan)
    assert "DC OPF" in r.baseline_method and r.baseline_method == BASELINE_METHOD
    own = r.baseline[(r.baseline["kind"] == "n1_overload") & (r.baseline["snapshot"] == "peak")]
    assert {(x.id, x.outage_id, x.year) for x in own.itertuples()} == {
        ("13", "12", 2030),
        ("13", "12", 2031),
    }
    assert own["excess_mw"].to_numpy() == pytest.approx([20.0, 20.0], abs=1e-6)
    v = r.violations.set_index(["kind", "id", "year", "snapshot", "outage_id"])
    for y in (2030, 2031):
        row = v.loc[("n1_overload", "13", y, "peak", "12")]
        assert row["origin"] == "worsened"
        assert row["excess_mw"] == pytest.approx(100.0, abs=1e-3)
        assert row["baseline_excess_mw"] == pytest.approx(20.0, abs=1e-6)

    # the two baselines' dispatches, by hand
    from siting.grid_ops.check import _load_grid, _plan_scenario, _snapshot_table, read_plan

    tables = read_plan(plan)
    sc = _plan_scenario(tables)
    grid, _ = _load_grid(sc, origin="plan", manifest=tables.manifest)
    snaps = _snapshot_table(sc)
    opf, notes = baseline_dispatch(grid, tables.schedule, tables.dispatch, snaps)
    prop = proportional_baseline(grid, tables.schedule, tables.dispatch, snaps)
    key = ["year", "snapshot", "gen_id"]
    got = opf.set_index(key)["p_mw"]
    old = prop.set_index(key)["p_mw"]
    assert got[(2030, "peak", "g1")] == pytest.approx(120.0, abs=1e-6)
    assert got[(2030, "peak", "g2")] == pytest.approx(0.0, abs=1e-6)
    assert got[(2030, "year", "g1")] == pytest.approx(60.0, abs=1e-6)
    assert (old[(2030, "peak", "g1")], old[(2030, "peak", "g2")]) == pytest.approx((80.0, 40.0))
    assert notes == []
    assert "proportion" in BASELINE_FALLBACK


def test_check_baseline_falls_back_to_the_scale_down_when_the_opf_is_infeasible(
    tmp_path: Path,
) -> None:
    """Branches 12 and 13 derated to 0.1 (20 MW each) and g2 all but gone (1 kW): from bus
    1 at most 20 MW reach bus 2 directly and 20 round through bus 3, 40 MW in all, below
    bus 2's 120 MW peak and 60 MW 'year' load. The OPF without the campus is infeasible in
    all 4 (year, snapshot) pairs, so the baseline there is the proportional scale-down,
    with a note naming them."""
    import geopandas as gpd

    from siting.grid_ops.check import check_plan

    plan = _two_generator_triangle(tmp_path / "tri")
    gpkg = tmp_path / "tri" / "tri.gpkg"
    gens = gpd.read_file(gpkg, layer="generators")
    gens["p_max_mw"] = [400.0, 1e-3]
    gens.to_file(gpkg, layer="generators", mode="w")
    from siting.core.files import file_sha256

    man = json.loads((plan / "manifest.json").read_text())
    man["inputs"][0]["sha256"] = file_sha256(gpkg)
    (plan / "manifest.json").write_text(json.dumps(man))
    derated = plan.parent / "derated.yaml"
    derated.write_text(
        json.dumps(
            {"extends": str(plan.parent / "tri.yaml"), "grid": {"derate": {"12": 0.1, "13": 0.1}}}
        )
    )
    r = check_plan(plan, derated)
    said = [n for n in r.notes if n.startswith("campus-free baseline: the DC OPF")]
    assert len(said) == 1 and "in 4 (year, snapshot) pair(s)" in said[0], r.notes
    assert "2030 peak" in said[0] and "proportion" in said[0]


# --------------------------------------------------------------------------- grid stress


def _fake_stress(base_usd: float, unchanged_usd: float | None, replan_usd: float, bound_usd: float):
    """A re-plan result and a check of the unchanged plan, as :func:`_decide` reads them."""
    from types import SimpleNamespace

    import pandas as pd

    from siting.grid_ops.stress import SITE_COLUMNS

    changes = pd.DataFrame(
        [["S9", "added", "it_mw", None, 2030, None, "air", 0.0, 100.0]], columns=SITE_COLUMNS
    )
    unchanged = SimpleNamespace(
        costs_usd=pd.DataFrame([{"part": "total", "base_usd": base_usd}]),
        replay=SimpleNamespace(objective_usd=unchanged_usd),
        feasible=unchanged_usd is not None,
        explanation="" if unchanged_usd is not None else "branch b over",
        violations=[] if unchanged_usd is not None else [{"requirement": "x"}],
        notes=[],
        timings={"replay_s": 1.0},
        it_mw_by_year=pd.DataFrame({"year": [2030]}),
    )
    result = SimpleNamespace(
        stressed=SimpleNamespace(solve=SimpleNamespace(objective=replan_usd, bound=bound_usd)),
        site_changes=changes,
        moved_sites=pd.DataFrame({"site_id": ["S9"]}),
        branches=None,
        upgrades=None,
        costs_usd=None,
        it_mw_by_year=None,
        notes=[],
        timings={},
        decision={},
        replan_within_gap=None,
    )
    return result, unchanged


def test_stress_keeps_the_unchanged_plan_when_the_replan_gains_less_than_the_gap() -> None:
    """The issue's demo figures [M USD]: base objective 30,990; the unchanged plan under the
    stress 30,990 + 40.9 = 31,030.9; the re-plan 30,990 + 34.8 = 31,024.8 with a proven
    bound of 30,900. Gap's worth = max(31,024.8 - 30,900 = 124.8, 0.005 x 31,024.8 =
    155.124) = 155.124; the re-plan beats the unchanged plan by 6.1 < 155.124: kept, and its
    site change is not reported (only in replan_within_gap).

    A re-plan at 30,830.9 (bound 30,700) beats it by 200 > max(130.9, 154.1545): reported.
    """
    from siting.grid_ops.stress import _decide

    m = 1e6
    result, unchanged = _fake_stress(30_990 * m, 31_030.9 * m, 31_024.8 * m, 30_900 * m)
    _decide(result, unchanged, 0.005)
    d = result.decision
    assert d["verdict"] == "keep_unchanged"
    assert d["replan"]["gap_usd"] == pytest.approx(155.124 * m)
    assert d["replan"]["beats_unchanged_by_usd"] == pytest.approx(6.1 * m)
    assert d["unchanged"]["delta_usd"] == pytest.approx(40.9 * m)
    assert result.site_changes.empty and result.moved_sites.empty
    assert result.replan_within_gap["site_id"].tolist() == ["S9"]
    assert "+40.9 M USD" in d["text"] and "6.1 M USD" in d["text"] and "155.1 M USD" in d["text"]
    assert "kept" in d["text"]

    result, unchanged = _fake_stress(30_990 * m, 31_030.9 * m, 30_830.9 * m, 30_700 * m)
    _decide(result, unchanged, 0.005)
    assert result.decision["verdict"] == "replan"
    assert result.decision["replan"]["gap_usd"] == pytest.approx(0.005 * 30_830.9 * m)
    assert result.decision["replan"]["beats_unchanged_by_usd"] == pytest.approx(200 * m)
    assert result.site_changes["site_id"].tolist() == ["S9"] and result.replan_within_gap is None

    # the unchanged plan breaks limits: the re-plan is needed, whatever it gains
    result, unchanged = _fake_stress(30_990 * m, None, 31_024.8 * m, 30_900 * m)
    _decide(result, unchanged, 0.005)
    assert result.decision["verdict"] == "replan_needed"
    assert result.site_changes["site_id"].tolist() == ["S9"]


def test_stress_runs_the_check_first_on_the_tiny_region(tmp_path: Path) -> None:
    """test_stress's tight region (line a carries every campus MW, at most 257.4 MW at the
    2031 peak; line b carries S3's 135.4 MW peak draw, rated 160 MW).

    - ``--derate a=0.5`` (500 MW): harmless, so the unchanged plan runs at the same cost
      (delta 0) and the re-plan can do no better than the optimal base: it gains less than
      the gap's worth, max(|objective - bound|, mip_gap x |objective|): kept.
    - ``--derate b=0.8`` (128 MW < 135.4): the unchanged plan breaks line b: the re-plan
      is needed and its cooling change is reported.
    """
    from test_plan import write_region

    import siting

    scenario = write_region(tmp_path)
    plan_dir = tmp_path / "plan"
    siting.plan(scenario, out=plan_dir)
    args = ["grid", "stress", str(scenario), "--base", str(plan_dir), "--json"]
    kept_dir, needed_dir = tmp_path / "kept", tmp_path / "needed"
    data = _json([*args, "--derate", "a=0.5", "--out", str(kept_dir)])
    d = data["decision"]
    assert d["verdict"] == "keep_unchanged" and data["feasible"] is True
    assert d["unchanged"]["feasible"] is True
    assert d["unchanged"]["delta_usd"] == pytest.approx(0.0, abs=1.0)  # USD
    r = d["replan"]
    mip_gap = load_mip_gap(scenario)
    assert r["gap_usd"] == pytest.approx(
        max(abs(r["objective_usd"] - r["bound_usd"]), mip_gap * abs(r["objective_usd"]))
    )
    assert r["beats_unchanged_by_usd"] <= r["gap_usd"]
    assert data["site_changes"] == [] and data["moved_sites"] == []
    # the plan is kept: --out leaves no second plan folder that looks whole (the base was
    # given, so only stress.json), and stress.json keeps the re-plan's figures
    from siting.core.io import MARKER

    assert sorted(p.name for p in kept_dir.iterdir()) == sorted([MARKER, "stress.json"])
    written = json.loads((kept_dir / "stress.json").read_text())
    fig = written["replan_not_adopted"]
    assert fig["written"] is False and fig["total_cost_usd"] == pytest.approx(r["objective_usd"])
    assert fig["it_mw_by_year"] == {"2030": 100.0, "2031": 200.0}
    assert {x["site_id"] for x in fig["sites"]} == {"S2", "S3"}
    data = _json([*args, "--derate", "b=0.8", "--out", str(needed_dir)])
    assert data["decision"]["verdict"] == "replan_needed"
    assert data["decision"]["unchanged"]["feasible"] is False
    assert [s["what"] for s in data["site_changes"]] == ["cooling"]
    # the re-plan is adopted: its plan folder is written, and no replan_not_adopted
    assert (needed_dir / "schedule.csv").is_file() and (needed_dir / "manifest.json").is_file()
    assert data["replan_not_adopted"] is None


def load_mip_gap(scenario: Path) -> float:
    from siting.config.scenario import load_scenario

    return float(load_scenario(scenario).solver.mip_gap)
