"""Flexible connection (:mod:`siting.model.flex`): firm and flexible MW, curtailment within a
depth and a yearly budget, hand-solved on test_model's radial 3-bus case.

The instance: site A at bus 2 behind line a (120 MW), site B at bus 3 (1 M USD/MW of land);
one peak snapshot of 8,760 h (energy) that stands for 87.6 stress hours (curtailment), PUE 1,
utilisation 1, targets 100 MW (2030) and 200 MW (2031), discount 10 %. Without flexibility
line a lets A hold 100 MW and B opens in 2031 with 100 MW (test_model's hand calculation).
Curtailed compute costs 2,000 USD/MWh, a flexible MW 1,000 USD/year.
"""

from __future__ import annotations

import pandas as pd
import pytest
from test_model import HOURS, _line_case

from siting.model import build_model
from siting.model.data import ModelData, replaced
from siting.pipeline import solve_model

BASE = 50 * HOURS * 10 * (1 + 1 / 1.1)
STRESS_H = 87.6


def _flex_case(depth: float, budget_share: float, formulation: str = "angle") -> ModelData:
    d = _line_case(120.0)
    return replaced(
        d,
        grid={"formulation": formulation},
        flex={
            "enabled": True,
            "depth": depth,
            "budget_share": budget_share,
            "curtail_usd_per_mwh": 2000.0,
            "flexible_usd_per_mw_year": 1000.0,
            "stress_hours": {"peak": STRESS_H},
        },
    )


def solved(d: ModelData, baseline_usd: float):
    """Build and solve to optimality (the lazy loop with the PTDF form)."""
    m = build_model(d, baseline_usd=baseline_usd)
    r = solve_model(m, d, mip_gap=0.0, time_limit_s=60)
    assert r.status == "optimal", r
    return m, r


def test_flexibility_off_keeps_the_firm_plan():
    m, _ = solved(_line_case(120.0), BASE)
    assert m.component("curtail_mw") is None
    assert float(m.cap["B", 1]()) == pytest.approx(100.0)


@pytest.mark.parametrize("formulation", ["angle", "ptdf"])
def test_a_flexible_connection_lets_the_cheap_site_grow_instead_of_opening_another(formulation):
    # depth 0.5, budget 1 % (87.6 h x curtail <= 0.01 x 8,760 h x flexible draw: curtail <=
    # the flexible draw, so the depth binds). A at 200 MW in 2031 must draw at most 120 MW
    # from line a: curtail 80 MW at the peak, so at least 80 / 0.5 = 160 MW flexible, 40 firm.
    # Curtailing costs 2,000 x 87.6 = 175,200 USD per MW-year and saves 10 x 8,760 = 87,600
    # of energy, so the plan curtails no more than it must (and nothing in 2030, where A's
    # 100 MW fit). Growing A: 100 MW x 10 M / 1.1 + (80 x 87.6 x 2,000 - 80 x 8,760 x 10 +
    # 160 x 1,000) / 1.1 = 915.6 M USD, against B: (10 M + 100 x 11 M) / 1.1 = 1,009.1 M.
    d = _flex_case(depth=0.5, budget_share=0.01, formulation=formulation)
    m, r = solved(d, BASE)
    assert float(m.cap["A", 1]()) == pytest.approx(200.0)
    assert float(m.cap["B", 1]()) == pytest.approx(0.0)
    assert float(m.curtail_mw["A", 1, "peak"].value) == pytest.approx(80.0)
    assert float(m.curtail_mw["A", 0, "peak"].value) == pytest.approx(0.0, abs=1e-7)
    assert float(m.flex_it_mw["A", 1]()) == pytest.approx(160.0)
    assert float(m.firm_it_mw["A", 1]()) == pytest.approx(40.0)
    expected = (
        10e6
        + 100 * 10e6
        + 100 * 10e6 / 1.1
        + 100 * HOURS * 10
        + 120 * HOURS * 10 / 1.1
        + (80 * STRESS_H * 2000 + 160 * 1000) / 1.1
    )
    assert r.objective == pytest.approx(expected, rel=1e-9)
    assert float(m.cost_part["curtailment"]()) == pytest.approx(
        (80 * STRESS_H * 2000 + 160 * 1000) / 1.1, rel=1e-9
    )


def test_a_binding_budget_sets_the_flexible_mw():
    # budget 0.45 %: 87.6 h x curtail <= 0.0045 x 8,760 h x flexible draw, so curtail <= 0.45
    # x flexible (tighter than the 0.5 depth): 80 MW curtailed needs 80 / 0.45 = 177.78 MW
    # flexible; the budget holds with equality (7,008 MWh = 0.0045 x 8,760 x 177.78).
    d = _flex_case(depth=0.5, budget_share=0.0045)
    m, _ = solved(d, BASE)
    assert float(m.cap["A", 1]()) == pytest.approx(200.0)
    assert float(m.flex_it_mw["A", 1]()) == pytest.approx(80 / 0.45, rel=1e-7)
    assert STRESS_H * float(m.curtail_mw["A", 1, "peak"].value) == pytest.approx(
        0.0045 * HOURS * float(m.flex_it_mw["A", 1]()), rel=1e-7
    )


def test_a_budget_too_small_for_the_curtailment_opens_the_dear_site():
    # budget 0.35 %: curtail <= 0.35 x flexible <= 0.35 x 200 = 70 MW < the 80 MW that A's
    # 200 MW need, so A stays at 100 MW and B opens, as without flexibility
    d = _flex_case(depth=0.5, budget_share=0.0035)
    m, _ = solved(d, BASE)
    assert float(m.cap["A", 1]()) == pytest.approx(100.0)
    assert float(m.cap["B", 1]()) == pytest.approx(100.0)
    assert float(m.curtail_mw["A", 1, "peak"].value) == pytest.approx(0.0, abs=1e-6)


def test_a_shallow_depth_keeps_the_firm_plan():
    # depth 0.3: curtail <= 0.3 x 200 = 60 MW < 80, so flexibility cannot help A
    d = _flex_case(depth=0.3, budget_share=0.01)
    m, _ = solved(d, BASE)
    assert float(m.cap["B", 1]()) == pytest.approx(100.0)


# --------------------------------------------------------------------------- plans


@pytest.fixture(scope="module")
def flex_plan(tmp_path_factory):
    """test_plan's tiny region with line b at 200 MW (S3, air cooled at PUE 1.354 peak and
    1.147 typical x 0.85, sits behind it; S2 costs 200 M USD to open), flexibility on with
    its defaults: the whole pipeline, verified and written."""
    import yaml
    from test_plan import write_region

    import siting

    d = tmp_path_factory.mktemp("flex")
    path = write_region(d, rating_23_mw=200.0)
    sc = yaml.safe_load(path.read_text())
    sc["flexibility"] = {"enabled": True}
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    out = d / "out"
    return siting.plan(path, out=out), out, path


def test_flexibility_saves_opening_a_second_site(flex_plan):
    # without flexibility S3 stops at 100 MW (150 MW would draw 150 x 1.354 = 203.1 MW at
    # the peak, over line b's 200 MW) and S2 opens in 2031 with 100 MW. Flexible, S3 grows
    # to 200 MW: its typical draw 195 MW fits, and it curtails its peak draw of 270.8 MW to
    # 200 MW, 70.8 MW (at most 30 % of the flexible draw, so at least 70.8 / 0.3 = 236 MW
    # of draw, 174.3 MW IT, flexible) for 87.6 h a year: 70.8 x 87.6 x 6,350 = 39.4 M USD
    # a year, less than S2's 200 M USD to open.
    p, out, _ = flex_plan
    sched = p.schedule.set_index(["site_id", "year"])
    assert set(p.schedule["site_id"]) == {"S3"}
    assert sched.at[("S3", 2031), "it_mw"] == pytest.approx(200.0)
    peak_draw = sched.at[("S3", 2031), "peak_draw_mw"]
    cu = p.curtailment.set_index(["site_id", "year", "snapshot"])
    curtailed = cu.at[("S3", 2031, "peak"), "curtailed_mw"]
    assert peak_draw == pytest.approx(270.8)
    assert curtailed == pytest.approx(70.8, abs=1e-4)
    assert cu.at[("S3", 2031, "peak"), "hours"] == pytest.approx(87.6)
    flex = sched.at[("S3", 2031), "flexible_it_mw"]
    # the depth binds (the budget, 0.5 % x 8,760 h = 43.8 h of the flexible draw, allows
    # 43.8 / 87.6 = 50 % at the peak): flexible draw = curtailed / 0.3
    assert flex / 200.0 * peak_draw == pytest.approx(70.8 / 0.3, rel=1e-6)
    assert flex == pytest.approx(70.8 / 0.3 / 1.354, rel=1e-6)
    assert sched.at[("S3", 2031), "firm_it_mw"] == pytest.approx(200.0 - flex)
    assert all(ch.ok for ch in p.checks)
    written = pd.read_csv(out / "curtailment.csv")
    assert list(written.columns) == [
        "site_id",
        "bus_id",
        "year",
        "snapshot",
        "curtailed_mw",
        "hours",
        "curtailed_mwh",
        "cost_usd",
    ]
    assert written["cost_usd"].sum() == pytest.approx(curtailed * 87.6 * 6350.0, rel=1e-6)
    assert {"firm_it_mw", "flexible_it_mw"} <= set(pd.read_csv(out / "schedule.csv").columns)


def test_verification_catches_a_curtailment_budget_exceeded(flex_plan):
    import dataclasses

    from siting.candidates.cooling import cooling_table
    from siting.candidates.generate import build_candidates
    from siting.config.scenario import load_scenario
    from siting.inputs import load_layers
    from siting.model import model_data
    from siting.results.verify import verify

    p, _, path = flex_plan
    sc = load_scenario(path)
    layers = load_layers(sc)
    c = build_candidates(sc, layers)
    cols = ["dry_bulb_mean_c", "dry_bulb_p99_c", "wet_bulb_mean_c", "wet_bulb_p99_c"]
    d = model_data(sc, layers, c, cooling_table(c.sites[cols]))
    assert all(ch.ok for ch in verify(p, d, layers))
    # a tampered table: S3 also curtailed 5 MW in the 8,760 h snapshot of 2031, 43,800 MWh,
    # far above its budget of 0.5 % x 8,760 h x its flexible peak draw (236 MW: 10,337
    # MWh); 5 MW is within the depth (30 % of the flexible typical draw, about 51 MW)
    extra = pd.DataFrame(
        [("S3", "3", 2031, "year", 5.0, 8760.0, 43_800.0, 43_800.0 * 6350.0)],
        columns=p.curtailment.columns,
    )
    rel = pd.DataFrame([("S3", "3", 2031, "year", "curtailment", 5.0)], columns=p.relief.columns)
    bad = dataclasses.replace(
        p,
        curtailment=pd.concat([p.curtailment, extra], ignore_index=True),
        relief=pd.concat([p.relief, rel], ignore_index=True),
    )
    checks = {ch.name: ch for ch in verify(bad, d, layers, raise_on_failure=False)}
    assert not checks["curtailment budget"].ok
    assert "S3" in checks["curtailment budget"].detail
    assert checks["curtailment within its depth"].ok
    # and a curtailment deeper than the flexible MW allow: the flexible MW halved
    sched = p.schedule.copy()
    sched["flexible_it_mw"] = sched["flexible_it_mw"] / 2
    sched["firm_it_mw"] = sched["it_mw"] - sched["flexible_it_mw"]
    checks = {
        ch.name: ch
        for ch in verify(dataclasses.replace(p, schedule=sched), d, layers, raise_on_failure=False)
    }
    assert not checks["curtailment within its depth"].ok


def test_grid_check_counts_the_curtailed_draws(flex_plan, tmp_path):
    import shutil

    from siting.grid_ops.check import check_plan

    _, out, _ = flex_plan
    r = check_plan(out)
    # with the relief: line b carries 270.8 - 70.8 = 200 MW at the 2031 peak, its rating
    assert len(r.violations) == 0, r.violations
    f = r.flows.set_index(["branch_id", "year", "snapshot"])
    assert abs(f.at[("b", 2031, "peak"), "flow_mw"]) == pytest.approx(200.0, abs=1e-2)
    assert any("draw_relief.csv" in n for n in r.notes)
    # the same plan without its relief table: the whole 270.8 MW overload line b
    bare = tmp_path / "bare"
    shutil.copytree(out, bare)
    (bare / "draw_relief.csv").unlink()
    r2 = check_plan(bare)
    over = r2.violations[r2.violations["id"].astype(str) == "b"]
    assert len(over) and over["value_mw"].max() == pytest.approx(270.8, abs=1e-2)


def test_the_report_and_the_map_show_firm_and_flexible_mw(flex_plan):
    _, out, _ = flex_plan
    report = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="flexibility"' in report and "firm IT [MW]" in report
    assert "Curtailed compute and flexible MW held" in report
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "IT MW firm / flexible" in page and "curtailed (grid stress)" in page
