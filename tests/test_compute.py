"""Accelerators, generations and refresh in a shell (:mod:`siting.model.compute`, issue 22),
hand-solved on test_model's tiny instances (PUE 1, utilisation 1, one 8,760 h snapshot).

Units: the model counts accelerators in thousands; 1,000 accelerators x kW = MW.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_model import HOURS, tiny_data, tiny_grid

from siting.core.errors import InputError, ScenarioError, SitingError
from siting.model import build_model
from siting.model.compute import cohort_cost_factor, load_generations
from siting.model.data import ComputeData, ModelData, compute_inputs, replaced
from siting.model.generations import SHIPPED_GENERATIONS
from siting.results.plan import COMPUTE_COLUMNS
from siting.results.verify import _verify_compute, compute_delay_usd
from siting.solve.highs import solve


def _gens(**rows: dict) -> pd.DataFrame:
    """A generation table: name -> the row's figures (other columns at round defaults)."""
    base = {
        "first_year": 2030,
        "kw_per_accelerator": 2.5,
        "accelerators_per_rack": 20,
        "rack_kw": 50.0,
        "needs_liquid": False,
        "compute_per_accelerator": 1.0,
        "service_life_years": 2.0,
        "capex_usd_per_accelerator": 10_000.0,
        "tokens_per_s_per_accelerator": 0.0,
        "source": "test",
    }
    t = pd.DataFrame([{**base, **r} for r in rows.values()], index=list(rows))
    t.index.name = "generation"
    return t


def _solved(d, baseline_usd: float = 0.0):
    m = build_model(d, baseline_usd=baseline_usd)
    r = solve(m, mip_gap=0.0, time_limit_s=60)
    assert r.status == "optimal", r
    return m, r


def _one_site(tech: str = "liquid", years=(2030,), rate: float = 0.1):
    sites = {"A": {"bus_id": "", "max_it_mw": 200.0}}
    return tiny_data(
        sites=sites,
        perf={("A", tech): (1.0, 1.0, 0.0)},
        years=years,
        targets=(0.0,) * len(years),
        rate=rate,
        campus={"module_mw": 10.0, "min_campus_mw": 0.0},
    )


# --------------------------------------------------------------------------- conversion


def test_a_target_in_accelerators_is_converted_exactly():
    # 18,000 GB300 (shipped table: 2.1 kW each incl. network and storage, 72 per rack,
    # 2.53 compute units, 5-year life, 55,000 USD) in 2030, one liquid-cooled site, 10 MW
    # modules, discount 10 %, the last year standing for 1 year:
    #   IT MW used: 18,000 x 2.1 kW = 37.8 MW -> an envelope of 4 modules = 40 MW
    #   racks: 18,000 / 72 = 250; compute: 18,000 x 2.53 = 45,540 units
    #   hardware: (55,000 + 500 disposal x d^5) x (1 - d) / (1 - d^5), d = 1/1.1:
    #     d^5 = 0.620921, 500 d^5 = 310.46; (1 - d) / (1 - d^5) = 0.0909091 / 0.379079
    #     = 0.239816 (one year of a 5-year annuity); 55,310.46 x 0.239816 = 13,264.3 USD
    #     per accelerator, x 18,000 = 238.76 M USD; building 250 x 25,000 = 6.25 M USD
    #   objective: fixed 10 M + 40 MW x 10 M + energy of the 37.8 MW in use (the envelope's
    #     other 2.2 MW are idle and draw nothing) 37.8 x 8,760 x 50 = 16.5564 M + 238.76 M
    #     + 6.25 M = 671.56 M USD
    gen = load_generations().loc[["GB300"]]
    d = replaced(
        _one_site(),
        compute=ComputeData(
            generations=gen,
            max_racks={"A": 1000.0},
            building_usd_per_rack=25_000.0,
            disposal_usd_per_accelerator=500.0,
            discount_rate=0.1,
            accelerator_targets={("GB300", 0): 18_000.0},
            compute_targets=np.zeros(1),
        ),
    )
    m, r = _solved(d)
    assert 1000 * m.acc_live["A", "GB300", 0].value == pytest.approx(18_000.0)
    assert float(m.it_used_mw["A", 0]()) == pytest.approx(37.8)
    assert float(m.cap["A", 0]()) == pytest.approx(40.0)
    assert float(m.racks["A", 0]()) == pytest.approx(250.0)
    assert float(m.compute_units["A", 0]()) == pytest.approx(45_540.0)
    dd = 1 / 1.1
    per_acc = (55_000 + 500 * dd**5) * (1 - dd) / (1 - dd**5)
    assert per_acc == pytest.approx(13_264.3, abs=0.1)
    assert float(m.cost_part["compute"]()) == pytest.approx(
        18_000 * per_acc + 250 * 25_000, rel=1e-9
    )
    expected = 10e6 + 40 * 10e6 + 37.8 * HOURS * 50 + 18_000 * per_acc + 250 * 25_000
    assert expected == pytest.approx(671.56e6, rel=1e-5)
    assert r.objective == pytest.approx(expected, rel=1e-9)


def test_the_cohort_cost_factor_is_the_share_of_the_annuity_inside_the_horizon():
    # rate 0: 2 of 5 years inside -> 2/5; a life ending inside -> all of it (1);
    # rate 10 %, 1 of 5 years: (1 - 1/1.1) / (1 - 1.1^-5) = 0.0909091 / 0.379079 = 0.239816
    assert cohort_cost_factor(0.0, 5.0, 2.0) == pytest.approx(0.4)
    assert cohort_cost_factor(0.0, 2.0, 4.0) == pytest.approx(1.0)
    assert cohort_cost_factor(0.1, 5.0, 1.0) == pytest.approx(0.239816, abs=1e-6)
    assert cohort_cost_factor(0.1, 5.0, 9.0) == pytest.approx(1.0)


def test_a_liquid_only_generation_at_an_air_cooled_site_is_refused_by_name():
    d = replaced(
        _one_site(tech="air"),
        compute=ComputeData(
            generations=load_generations().loc[["GB300"]],
            max_racks={"A": 1000.0},
            accelerator_targets={("GB300", 0): 18_000.0},
            compute_targets=np.zeros(1),
        ),
    )
    with pytest.raises(SitingError, match=r"no site can host GB300 in 2030.*needs liquid"):
        build_model(d)
    m = build_model(d, elastic=True)  # the elastic model explains it instead
    assert m.component("slack_accelerator_short_k") is not None


def test_a_liquid_only_generation_makes_the_site_choose_liquid_cooling():
    # A may choose air (PUE 1.0) or liquid (PUE 1.1, so dearer in energy): with H100
    # (air-coolable) it stays on air; with GB300 (needs_liquid) its 37.8 MW must sit on
    # liquid-cooled MW, so it chooses liquid (40 MW of it)
    d = tiny_data(
        sites={"A": {"bus_id": "", "max_it_mw": 200.0}},
        perf={("A", "air"): (1.0, 1.0, 0.0), ("A", "liquid"): (1.1, 1.1, 0.0)},
        years=(2030,),
        targets=(0.0,),
        campus={"module_mw": 10.0, "min_campus_mw": 0.0},
    )
    gens = load_generations().loc[["H100", "GB300"]]
    for g, tech in (("H100", "air"), ("GB300", "liquid")):
        dd = replaced(
            d,
            compute=ComputeData(
                generations=gens,
                max_racks={"A": 5000.0},
                accelerator_targets={(g, 0): 18_000.0},
                compute_targets=np.zeros(1),
            ),
        )
        m, _ = _solved(dd)
        assert m.tech["A", tech].value == pytest.approx(1.0), g
    assert float(m.capk["A", "liquid", 0].value) == pytest.approx(40.0)
    assert float(m.it_used_mw["A", 0]()) == pytest.approx(37.8)


def test_a_compute_target_takes_the_cheapest_compute():
    # 60,000 compute units in 2032; OLD: 1 unit, 2.5 kW, 10,000 USD; NEW: 3 units, 4.5 kW,
    # 10,000 USD (both 2-year life, rate 0, horizon 1 year: half the annuity, 5,000 USD):
    # NEW costs 5,000 / 3 = 1,667 USD per unit-year against OLD's 5,000, and 4.5 / 3 = 1.5
    # kW per unit against 2.5: 20,000 NEW, 90 MW, no OLD.
    d = _one_site(years=(2032,), rate=0.0)
    d = replaced(
        d,
        compute=ComputeData(
            generations=_gens(
                OLD={}, NEW={"kw_per_accelerator": 4.5, "compute_per_accelerator": 3.0}
            ),
            max_racks={"A": 5000.0},
            compute_targets=np.array([60_000.0]),
        ),
    )
    m, _ = _solved(d)
    assert 1000 * m.acc_live["A", "NEW", 0].value == pytest.approx(20_000.0)
    assert m.acc_live["A", "OLD", 0].value == pytest.approx(0.0, abs=1e-9)
    assert float(m.it_used_mw["A", 0]()) == pytest.approx(90.0)
    assert float(m.cost_part["compute"]()) == pytest.approx(20_000 * 10_000 * 0.5)


def _short_of_old(d: ModelData, max_racks: float, **policy: Any) -> ModelData:
    """``d`` (site A, one year) asked for 20,000 OLD (1,000 USD each) in its year, a soft
    target at 20 M USD per MW-year short (``policy`` adds to it), 5 MW modules, at most
    ``max_racks`` racks at A."""
    return replaced(
        d,
        policy={"shortfall_usd_per_mw_year": 20e6, **policy},
        campus={"module_mw": 5.0},
        compute=ComputeData(
            generations=_gens(OLD={"capex_usd_per_accelerator": 1000.0}),
            max_racks={"A": max_racks},
            accelerator_targets={("OLD", 0): 20_000.0},
            compute_targets=np.zeros(1),
        ),
    )


def test_a_soft_accelerator_target_prices_what_the_floor_cannot_hold():
    # the floor holds 500 racks x 20 = 10,000 OLD; the target is 20,000: 10,000 short,
    # x 2.5 kW = 25 MW short for one year at 20 M USD per MW-year = 500 M USD of delay.
    # (The 10,000 that fit are worth installing: each 5 MW module holds 2,000 for 50 M USD
    # + 2.19 M energy + 1 M hardware, against 5 MW x 20 M = 100 M of delay.)
    d = _short_of_old(_one_site(years=(2030,), rate=0.0), max_racks=500.0)
    m, _ = _solved(d)
    assert 1000 * m.acc_live["A", "OLD", 0].value == pytest.approx(10_000.0)
    assert 1000 * m.acc_short["OLD", 0].value == pytest.approx(10_000.0)
    assert float(m.cost_part["delay"]()) == pytest.approx(500e6)


def test_the_verification_recomputes_the_delay_of_soft_compute_targets():
    # The plan's `delay` part holds the accelerator and compute shortfall too; the
    # verification recomputes it from compute.csv (it compared the MW targets alone, and a
    # plan short of a compute target failed "cost of delay = penalty x MW-years short").
    # OLD 2.5 kW, 1 unit; NEW 4.5 kW, 3 units: the least kW per unit is NEW's 1.5.
    # 2030: target 20,000 OLD, 10,000 in service: 10,000 x 2.5 kW = 25 MW short x 20 M USD
    #   per MW-year x weight 1.0 = 500 M USD;
    # 2031: target 60,000 units, 15,000 NEW = 45,000 in service: 15,000 units x 1.5 kW =
    #   22.5 MW short x 20 M x weight 0.9 = 405 M USD; in all 905 M USD.
    c = ComputeData(
        generations=_gens(OLD={}, NEW={"kw_per_accelerator": 4.5, "compute_per_accelerator": 3.0}),
        max_racks={"A": 5000.0},
        accelerator_targets={("OLD", 0): 20_000.0},
        compute_targets=np.array([0.0, 60_000.0]),
    )
    cp = pd.DataFrame(
        {
            "site_id": ["A", "A"],
            "year": [2030, 2031],
            "generation": ["OLD", "NEW"],
            "accelerators_live": [10_000.0, 15_000.0],
            "compute_units": [10_000.0, 45_000.0],
        }
    )
    usd = compute_delay_usd(cp, c, [2030, 2031], [1.0, 0.9], 20e6)
    assert usd == pytest.approx(905e6)
    met = cp.assign(accelerators_live=[20_000.0, 20_000.0], compute_units=[20_000.0, 60_000.0])
    assert compute_delay_usd(met, c, [2030, 2031], [1.0, 0.9], 20e6) == 0.0


# --------------------------------------------------------------------------- export


def _export_case(price_usd: float, most_mw: float = np.inf, **targets):
    """One site A (10 MW modules, 200 MW, 10 M USD to open, 10 M USD/MW), 2030 only, rate 0
    (one year standing for one: capex and operating weights 1), energy 50 USD/MWh, PUE 1:
    a MW of envelope costs 10 M + 8,760 x 50 = 0.438 M USD a year. OLD: 2.5 kW, 1 compute
    unit, 10,000 USD with a 2-year life, half of it inside the 1-year horizon (5,000 USD);
    20 a rack, 5,000 rack positions. No MW target; the export market pays ``price_usd``
    per MW-year, at most ``most_mw``."""
    d = replaced(
        _one_site(tech="air", rate=0.0),
        policy={"export_usd_per_mw_year": price_usd, "export_max_mw": np.array([most_mw])},
        compute=ComputeData(
            generations=_gens(OLD={}),
            max_racks={"A": 5000.0},
            accelerator_targets=targets.get("acc", {}),
            compute_targets=np.array([targets.get("units", 0.0)]),
        ),
    )
    return d


def test_exports_do_not_sell_the_mw_the_accelerator_target_occupies():
    # Target 20,000 OLD in 2030 (50 MW: 5 modules) and no MW target; the market pays 1 M
    # USD per MW-year. Selling more accelerators does not pay: 1,000 more OLD are 2.5 MW
    # of envelope (25 M + 1.095 M of energy) and 5 M of hardware for 2.5 M of sales. So the
    # plan sells nothing: 10 M + 50 x 10 M + 50 x 0.438 M + 20,000 x 5,000 = 631.9 M USD.
    # (Before the fix the only row on exports was the MW target's, sum cap - export_mw >=
    # 0, so the plan sold the 50 MW its 20,000 OLD occupy, for 50 M USD, while counting
    # them for the accelerator target: 581.9 M USD, and the verification passed.)
    d = _export_case(1e6, acc={("OLD", 0): 20_000.0})
    m, r = _solved(d)
    assert float(m.cap["A", 0]()) == pytest.approx(50.0)
    assert 1000 * m.acc_live["A", "OLD", 0].value == pytest.approx(20_000.0)
    assert m.export_mw[0].value == pytest.approx(0.0, abs=1e-6)
    assert m.export_acc["OLD", 0].value == pytest.approx(0.0, abs=1e-9)
    assert r.objective == pytest.approx(10e6 + 500e6 + 50 * HOURS * 50 + 100e6, rel=1e-9)
    assert r.objective == pytest.approx(631.9e6, rel=1e-9)


def test_exports_are_accelerators_beyond_the_compute_target():
    # Target 20,000 compute units (20,000 OLD, 50 MW); the market pays 30 M USD per
    # MW-year for at most 100 MW. A MW of OLD beyond the target costs 10 M of envelope +
    # 0.438 M of energy + 400 OLD x 5,000 = 2 M of hardware = 12.438 M and sells for 30 M:
    # the plan fills the cap with accelerators beyond the target, 100 MW = 40,000 OLD
    # (40,000 compute units), on top of the 20,000 the target keeps: 60,000 OLD, 150 MW
    # (15 modules), 3,000 racks. Objective 10 M + 1,500 M + 150 x 0.438 M + 60,000 x 5,000
    # - 100 x 30 M = -1,124.3 M USD. (Before the fix: 100 MW of envelope, 20,000 OLD in
    # 50 of them, and all 100 MW sold, the compute target counting the sold accelerators.)
    from siting.results.plan import EXPORT_COLUMNS, _compute, _export
    from siting.results.verify import _verify_export

    d = _export_case(30e6, 100.0, units=20_000.0)
    m, r = _solved(d)
    assert float(m.cap["A", 0]()) == pytest.approx(150.0)
    assert 1000 * m.acc_live["A", "OLD", 0].value == pytest.approx(60_000.0)
    assert 1000 * m.export_acc["OLD", 0].value == pytest.approx(40_000.0)
    assert m.export_mw[0].value == pytest.approx(100.0)
    assert float(m.cost_part["export"]()) == pytest.approx(-3000e6)
    assert r.objective == pytest.approx(
        10e6 + 1500e6 + 150 * HOURS * 50 + 60_000 * 5_000 - 3000e6, rel=1e-9
    )
    # the plan's export table and its verification: the solved plan passes
    table = _export(m, d)
    assert list(table.columns) == EXPORT_COLUMNS
    row = table.iloc[0]
    assert (row["year"], row["generation"]) == (2030, "OLD")
    assert row.iloc[2:].tolist() == pytest.approx([40_000.0, 100.0, 40_000.0])
    compute = _compute(m, d, {"A"})
    plan = SimpleNamespace(
        export=table, compute=compute, costs_usd={"export": float(m.cost_part["export"]())}
    )

    def checks(p=plan):
        out: list = []
        _verify_export(p, d, np.array([150.0]), _add(out))
        return {c[0]: c[1] for c in out}

    assert all(v <= 0 for v in checks().values()), checks()
    # a doctored plan: 10,000 fewer OLD in service (50,000: 30,000 beyond the target's
    # 20,000 compute units) still selling 40,000: 10,000 units over, in OLD accelerators
    fewer = compute.assign(accelerators_live=50_000.0, compute_units=50_000.0)
    got = checks(SimpleNamespace(**{**vars(plan), "compute": fewer}))
    assert got["exported accelerators within the fleet beyond the targets"] == pytest.approx(
        10_000, rel=1e-3
    )
    # selling 120 MW (48,000 OLD) breaks the market's 100 MW cap too; the earnings then
    # disagree with the cost part (120 x 30 M against the 3,000 M the plan says)
    more = table.assign(
        accelerators_exported=48_000.0, it_mw_exported=120.0, compute_units_exported=48_000.0
    )
    got = checks(SimpleNamespace(**{**vars(plan), "export": more}))
    assert got["export within the market's cap and the MW beyond the targets"] == pytest.approx(
        20.0, rel=1e-3
    )
    assert got["export earnings = price x MW-years sold"] == pytest.approx(600e6, rel=1e-3)


def test_the_verification_fails_a_plan_that_sells_the_accelerators_its_target_counts():
    # The plan the model made before the fix (test above, first case): 20,000 OLD in
    # service for a target of 20,000 OLD, and 20,000 OLD (50 MW) sold: no accelerator
    # beyond the target, so 20,000 too many sold (hard targets).
    from siting.results.verify import _verify_export

    d = _export_case(1e6, acc={("OLD", 0): 20_000.0})
    compute = pd.DataFrame(
        [("A", 2030, "OLD", 20_000.0, 20_000.0, 0.0, 50.0, 1000.0, 20_000.0, 1000.0)],
        columns=COMPUTE_COLUMNS,
    )
    sold = pd.DataFrame(
        [(2030, "OLD", 20_000.0, 50.0, 20_000.0)],
        columns=["year", "generation", "accelerators_exported", "it_mw_exported"]
        + ["compute_units_exported"],
    )
    out: list = []
    plan = SimpleNamespace(export=sold, compute=compute, costs_usd={"export": -50e6})
    _verify_export(plan, d, np.array([50.0]), _add(out))
    got = {c[0]: c[1] for c in out}
    assert got["exported accelerators within the fleet beyond the targets"] == pytest.approx(
        20_000, rel=1e-3
    )
    assert got["export earnings = price x MW-years sold"] <= 0  # 50 MW x 1 M, as said


# --------------------------------------------------------------------------- shortfall once


def test_a_mw_short_of_the_mw_and_the_accelerator_target_is_priced_once():
    # Site A holds 25 MW (5 modules of 5 MW); targets 50 MW and 20,000 OLD (2.5 kW: 50 MW)
    # in 2030, soft at 20 M USD per MW-year. Each module (50 M + 2.19 M energy + 2,000 OLD
    # x 500 = 1 M) saves 5 MW x 20 M = 100 M of delay, so all 25 MW are built with 10,000
    # OLD: 25 MW short of the MW target and 10,000 x 2.5 kW = 25 MW short of the accelerator
    # target, one shortfall: 25 x 20 M = 500 M USD of delay (before the fix 1,000 M).
    # Objective 10 M + 250 M + 25 x 0.438 M + 10,000 x 500 + 500 M = 775.95 M USD.
    d = _one_site(tech="air", years=(2030,), rate=0.0)
    d.campus.site.loc["A", "max_it_mw"] = 25.0
    d = _short_of_old(d, max_racks=5000.0, targets_mw=np.array([50.0]))
    m, r = _solved(d)
    assert float(m.cap["A", 0]()) == pytest.approx(25.0)
    assert 1000 * m.acc_live["A", "OLD", 0].value == pytest.approx(10_000.0)
    assert float(m.cost_part["delay"]()) == pytest.approx(500e6)
    assert r.objective == pytest.approx(10e6 + 250e6 + 25 * HOURS * 50 + 5e6 + 500e6, rel=1e-9)
    assert r.objective == pytest.approx(775.95e6, rel=1e-9)


def test_a_years_shortfall_is_its_largest_mw_equivalent_and_generations_add_up():
    # No rack position can be built (max_racks 0), so no accelerator runs. Targets in 2030:
    # 60 MW, 10,000 OLD (2.5 kW) and 10,000 NEW (4.5 kW, 3 units), 30,000 compute units;
    # soft at 20 M USD per MW-year. MW equivalents short: the accelerator targets 25 + 45 =
    # 70 MW (different generations, different asks: they add up), the compute target
    # 30,000 x 1.5 kW (NEW's kW per unit, the least) = 45 MW, the MW target 60 MW if no
    # shell is built. The year is priced at the largest, 70 MW: 1,400 M USD; building the
    # 60 MW of empty shells would not lower it, so nothing is built: objective 1,400 M USD.
    # (Before the fix each was priced: 1,400 + 900 M, plus 60 MW of shells (10 M to open,
    # 600 M, 26.28 M of energy) to avoid 1,200 M: 2,936.28 M USD.)
    d = replaced(
        _one_site(tech="air", years=(2030,), rate=0.0),
        policy={"shortfall_usd_per_mw_year": 20e6, "targets_mw": np.array([60.0])},
        compute=ComputeData(
            generations=_gens(
                OLD={}, NEW={"kw_per_accelerator": 4.5, "compute_per_accelerator": 3.0}
            ),
            max_racks={"A": 0.0},
            accelerator_targets={("OLD", 0): 10_000.0, ("NEW", 0): 10_000.0},
            compute_targets=np.array([30_000.0]),
        ),
    )
    m, r = _solved(d)
    assert float(m.cap["A", 0]()) == pytest.approx(0.0, abs=1e-6)
    assert m.shortfall_mw[0].value == pytest.approx(70.0)
    assert float(m.cost_part["delay"]()) == pytest.approx(1400e6)
    assert r.objective == pytest.approx(1400e6, rel=1e-9)
    # the verification's recomputation from the tables: nothing in compute.csv
    empty = pd.DataFrame(columns=COMPUTE_COLUMNS)
    usd = compute_delay_usd(empty, d.compute, [2030], [1.0], 20e6, mw_short=np.array([60.0]))
    assert usd == pytest.approx(1400e6)
    # with the MW target 80 MW short instead, the year costs 80 x 20 M
    usd = compute_delay_usd(empty, d.compute, [2030], [1.0], 20e6, mw_short=np.array([80.0]))
    assert usd == pytest.approx(1600e6)


# --------------------------------------------------------------------------- refresh


def _refresh_case(rating_a_mw: float):
    """Site A at bus 2 behind line a, B at bus 3 (1 M USD/MW of land); years 2030-2033,
    rate 0, 10 MW modules, no minimum campus. OLD: from 2030, 2.5 kW, 20 per rack (50 kW
    racks), 2-year life; NEW: from 2032, 4.5 kW, 20 per rack (90 kW racks), 2-year life;
    both 10,000 USD + 100 USD disposal. Targets: 20,000 OLD in 2030 and 2031, 20,000 NEW in
    2032 and 2033. A's land holds 1,000 racks (50 MW counted at 50 kW/rack), envelope 200 MW;
    the floor costs 1,000 USD per rack position. B may open from 2032 only (so A alone
    holds the OLD generation)."""
    years = (2030, 2031, 2032, 2033)
    sites = {
        "A": {"bus_id": "2", "max_it_mw": 200.0},
        "B": {"bus_id": "3", "max_it_mw": 200.0, "land_usd_per_mw": 1e6, "earliest_period": 2},
    }
    perf = {("A", "air"): (1.0, 1.0, 0.0), ("B", "air"): (1.0, 1.0, 0.0)}
    d = tiny_data(
        sites=sites,
        perf=perf,
        years=years,
        targets=(0.0,) * 4,
        rate=0.0,
        grid=tiny_grid(rating_a_mw),
        campus={"module_mw": 10.0, "min_campus_mw": 0.0},
    )
    gens = _gens(
        OLD={},
        NEW={"first_year": 2032, "kw_per_accelerator": 4.5, "rack_kw": 90.0},
    )
    targets = {("OLD", 0): 20_000.0, ("OLD", 1): 20_000.0}
    targets |= {("NEW", 2): 20_000.0, ("NEW", 3): 20_000.0}
    return replaced(
        d,
        compute=ComputeData(
            generations=gens,
            max_racks={"A": 1000.0, "B": 5000.0},
            land_rack_kw=50.0,
            building_usd_per_rack=1000.0,
            disposal_usd_per_accelerator=100.0,
            accelerator_targets=targets,
            compute_targets=np.zeros(4),
        ),
    )


#: The grid's dispatch without campuses: 50 MW at bus 3 x 8,760 h x 10 USD/MWh x 4 years.
BASELINE = 50 * HOURS * 10 * 4


def test_a_refresh_raises_the_shells_it_mw_in_the_year_the_denser_generation_arrives():
    # A's floor (1,000 racks) holds 20,000 OLD at 50 kW a rack: 50 MW in 2030 and 2031.
    # The OLD cohort's 2-year life ends with 2031 (2032 - 2030 = 2, not < 2); in 2032 the
    # same 1,000 positions take 20,000 NEW at 90 kW a rack: 90 MW, no new floor, no land.
    # Objective (rate 0): A fixed 10 M + 90 MW x 10 M = 910 M; hardware 2 cohorts x 20,000
    # x (10,000 + 100), each life ending inside the horizon = 404 M; floor 1,000 x 1,000 =
    # 1 M; energy added (50 + 50 + 90 + 90) MW x 8,760 h x 10 USD/MWh = 24.528 M;
    # total 1,339.528 M USD.
    m, r = _solved(_refresh_case(1000.0), BASELINE)
    assert [float(m.cap["A", t]()) for t in range(4)] == pytest.approx([50, 50, 90, 90])
    assert [float(m.it_used_mw["A", t]()) for t in range(4)] == pytest.approx([50, 50, 90, 90])
    assert [1000 * m.acc_live["A", "OLD", t].value for t in (0, 1)] == pytest.approx(
        [20_000, 20_000]
    )
    assert [1000 * m.acc_live["A", "NEW", t].value for t in (2, 3)] == pytest.approx(
        [20_000, 20_000]
    )
    assert 1000 * m.acc_new["A", "NEW", 2].value == pytest.approx(20_000)
    assert [float(m.racks["A", t]()) for t in range(4)] == pytest.approx([1000] * 4)
    assert float(m.cap["B", 3]()) == pytest.approx(0.0)
    assert r.objective == pytest.approx(
        10e6 + 90 * 10e6 + 2 * 20_000 * 10_100 + 1000 * 1000 + 280 * HOURS * 10, rel=1e-9
    )


def test_early_retirement_frees_the_floor_only_when_allowed():
    # The refresh case with OLD serving 3 years (2030-2032): in 2032 the OLD cohort is still
    # in its life and fills A's whole floor (20,000 / 20 per rack = 1,000 positions, all A's
    # land holds). Without early retirement (the default) it stays in service, so the 20,000
    # NEW of 2032 go to B (opening from 2032). With `compute.early_retirement` the OLD
    # cohort leaves in 2032 (paid for its whole life all the same) and NEW takes A's floor:
    # cheaper than opening B (10 M fixed, 90 MW of envelope at 10 M plus 1 M of land each,
    # against 40 MW more envelope at A, 400 M).
    base = _refresh_case(1000.0)
    gens = base.compute.generations.copy()
    gens.loc["OLD", "service_life_years"] = 3.0
    kept = replaced(base, compute=dataclasses.replace(base.compute, generations=gens))
    m, _ = _solved(kept, BASELINE)
    assert 1000 * m.acc_live["A", "OLD", 2].value == pytest.approx(20_000)
    assert 1000 * (m.acc_live["A", "NEW", 2].value or 0.0) == pytest.approx(0.0, abs=1e-6)
    assert 1000 * m.acc_live["B", "NEW", 2].value == pytest.approx(20_000)
    early = replaced(kept, compute=dataclasses.replace(kept.compute, early_retirement=True))
    m2, _ = _solved(early, BASELINE)
    assert 1000 * (m2.acc_live["A", "OLD", 2].value or 0.0) == pytest.approx(0.0, abs=1e-6)
    assert 1000 * m2.acc_live["A", "NEW", 2].value == pytest.approx(20_000)
    assert float(m2.cap["B", 3]()) == pytest.approx(0.0)


def test_a_refresh_stops_at_the_connection_and_the_rest_goes_elsewhere():
    # Line a rated 80 MW: A's envelope stops at 80 MW (PUE 1: its draw is its IT MW), so
    # in 2032 A holds 80 / 4.5 = 17,777.8 NEW (888.9 of its 1,000 racks) and B opens with
    # one 10 MW module for the other 2,222.2 (10 / 4.5 thousand, 111.1 racks). 2030-2031
    # are as before (50 MW at A). Objective: A 10 M + 80 x 10 M = 810 M; B 10 M + 10 x
    # (10 M + 1 M land) = 120 M; hardware 404 M; floor (1,000 + 111.1) x 1,000 = 1.111 M;
    # energy 24.528 M; total 1,359.639 M USD.
    m, r = _solved(_refresh_case(80.0), BASELINE)
    assert [float(m.cap["A", t]()) for t in range(4)] == pytest.approx([50, 50, 80, 80])
    assert float(m.it_used_mw["A", 2]()) == pytest.approx(80.0)
    assert 1000 * m.acc_live["A", "NEW", 2].value == pytest.approx(80 / 4.5 * 1000)
    assert 1000 * m.acc_live["B", "NEW", 2].value == pytest.approx(10 / 4.5 * 1000)
    assert float(m.cap["B", 2]()) == pytest.approx(10.0)
    assert float(m.racks["B", 3]()) == pytest.approx(10 / 4.5 * 1000 / 20)
    floor = 1000 + 10 / 4.5 * 1000 / 20
    assert r.objective == pytest.approx(
        810e6 + 120e6 + 2 * 20_000 * 10_100 + floor * 1000 + 280 * HOURS * 10, rel=1e-9
    )


# --------------------------------------------------------------------------- data


def test_without_a_compute_part_the_family_adds_nothing():
    d = _one_site()
    assert d.compute is None
    m = build_model(d)
    assert m.component("acc_live") is None and "compute" not in list(m.P)
    with pytest.raises(SitingError, match="no compute part"):
        replaced(d, compute={"land_rack_kw": 30.0})


def test_the_shipped_table_holds_the_named_generations_with_sources():
    t = load_generations()
    assert {"H100", "H200", "B200", "GB200", "GB300"} <= set(t.index)
    # GB300 at about 2.1 kW per accelerator (2.0-2.2 with network and storage), liquid only
    assert t.at["GB300", "kw_per_accelerator"] == pytest.approx(2.1)
    assert bool(t.at["GB300", "needs_liquid"]) and not bool(t.at["H100", "needs_liquid"])
    assert t.at["H100", "compute_per_accelerator"] == 1.0
    assert (t["service_life_years"].between(3, 5)).all()
    assert (t["source"].str.len() > 20).all()


def test_a_bad_generation_table_names_file_row_column_and_what_was_expected(tmp_path):
    good = pd.read_csv(SHIPPED_GENERATIONS, dtype=str)
    bad = good.copy()
    bad.loc[1, "kw_per_accelerator"] = "-1"
    bad.loc[2, "needs_liquid"] = "maybe"
    bad.loc[3, "generation"] = "H100"
    bad.loc[4, "accelerators_per_rack"] = "7.5"
    path = tmp_path / "gens.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(InputError) as e:
        load_generations(path)
    msg = str(e.value)
    assert "row 2 (id 'H200'), field 'kw_per_accelerator'" in msg
    assert "expected a finite number > 0 [kW IT per accelerator], got '-1'" in msg
    assert "field 'needs_liquid': (line 4) expected true or false, got 'maybe'" in msg
    assert "generation 'H100' is listed twice" in msg
    assert "field 'accelerators_per_rack'" in msg and "expected a whole number" in msg
    assert str(path) in msg
    good.drop(columns=["rack_kw"]).to_csv(path, index=False)
    with pytest.raises(InputError, match="missing column.*rack_kw"):
        load_generations(path)


def _scenario(tmp_path, **over):
    from siting.config.scenario import scenario_from_dict

    data = {"name": "c", "years": [2030, 2031], "layers": {}, **over}
    return scenario_from_dict(data, base_dir=tmp_path)


def test_targets_in_accelerators_need_the_compute_section_and_planning_years(tmp_path):
    with pytest.raises(ScenarioError, match="accelerators_by_year needs the compute section"):
        _scenario(tmp_path, targets={"accelerators_by_year": {2030: {"GB300": 18000}}})
    with pytest.raises(ScenarioError, match="compute_by_year has years .2035."):
        _scenario(tmp_path, compute={}, targets={"compute_by_year": {2035: 5}})
    with pytest.raises(ScenarioError, match=r"names generations \['GB300'\] that compute"):
        _scenario(
            tmp_path,
            compute={"generations": ["H100"]},
            targets={"accelerators_by_year": {2030: {"GB300": 18000}}},
        )
    with pytest.raises(ScenarioError, match="compute.generations.*at least 1 item"):
        _scenario(tmp_path, compute={"generations": []})
    with pytest.raises(ScenarioError, match="greater than or equal to 0"):
        _scenario(tmp_path, compute={}, targets={"accelerators_by_year": {2030: {"H100": -1}}})


def test_targets_in_accelerators_or_compute_alone_may_be_soft(tmp_path):
    # the penalty prices accelerators and compute short too (siting.model.compute), so it
    # was wrongly refused without an IT MW target; with no target at all it still is
    pen = {"shortfall_usd_per_mw_year": 12e6}
    for t in ({"accelerators_by_year": {2030: {"GB300": 18000}}}, {"compute_by_year": {2031: 5}}):
        sc = _scenario(tmp_path, compute={}, targets={**t, **pen})
        assert sc.targets.shortfall_usd_per_mw_year == 12e6
    with pytest.raises(ScenarioError, match="compute_by_year set none; set targets or drop"):
        _scenario(tmp_path, compute={}, targets=pen)


def test_compute_inputs_lift_the_envelope_and_refuse_unknown_generations(tmp_path):
    # land 50 MW counted at 40 kW/rack: 1,250 racks; the densest allowed generation, GB300,
    # puts 2.1 x 72 = 151.2 kW on a position: 50 x 151.2 / 40 = 189 MW, within the
    # default max_campus_mw 1,000 -> envelope 189 MW
    sc = _scenario(
        tmp_path,
        compute={"generations": ["H100", "GB300"]},
        targets={"accelerators_by_year": {2031: {"GB300": 18000}}},
    )
    site = pd.DataFrame({"max_it_mw": [50.0]}, index=pd.Index(["S1"], name="site_id"))
    c = compute_inputs(sc, site, [2030, 2031])
    assert c is not None and list(c.generations.index) == ["H100", "GB300"]
    assert c.max_racks == {"S1": pytest.approx(1250.0)}
    assert site.at["S1", "max_it_mw"] == pytest.approx(189.0)
    assert site.at["S1", "land_it_mw"] == pytest.approx(50.0)
    assert c.accelerator_targets == {("GB300", 1): 18000.0}
    sc = _scenario(tmp_path, compute={"generations": ["H100", "Z9"]})
    with pytest.raises(InputError, match=r"field 'compute.generations'.*unknown generation.*'Z9'"):
        compute_inputs(sc, site, [2030, 2031])
    sc = _scenario(tmp_path, compute={}, targets={"accelerators_by_year": {2030: {"Z9": 1}}})
    with pytest.raises(InputError, match=r"targets.accelerators_by_year.2030.*'Z9'"):
        compute_inputs(sc, site, [2030, 2031])


def test_a_generations_csv_is_read_relative_to_the_scenario_file(tmp_path):
    from siting.config.scenario import load_scenario

    sub = tmp_path / "tables"
    sub.mkdir()
    load_generations().loc[["H100"]].reset_index().to_csv(sub / "g.csv", index=False)
    (tmp_path / "s.yaml").write_text(
        "name: s\nyears: [2030]\nlayers: {}\ncompute:\n  generations_csv: tables/g.csv\n"
    )
    sc = load_scenario(tmp_path / "s.yaml")
    assert sc.compute is not None and sc.compute.generations_csv == (sub / "g.csv").resolve()
    site = pd.DataFrame({"max_it_mw": [50.0]}, index=pd.Index(["S1"], name="site_id"))
    c = compute_inputs(sc, site, [2030])
    assert c is not None and list(c.generations.index) == ["H100"]


# --------------------------------------------------------------------------- verification


def test_the_verification_catches_a_broken_compute_table():
    d = _refresh_case(1000.0)
    gen = d.compute.generations
    rows = [  # A: 20,000 OLD in 2030 on 1,000 positions, retired at the end of 2031
        ("A", 2030, "OLD", 20_000.0, 20_000.0, 0.0, 50.0, 1000.0, 20_000.0, 1000.0),
        ("A", 2031, "OLD", 20_000.0, 0.0, 0.0, 50.0, 1000.0, 20_000.0, 1000.0),
        ("A", 2032, "NEW", 20_000.0, 20_000.0, 0.0, 90.0, 1000.0, 20_000.0, 1000.0),
    ]
    sched = pd.DataFrame(
        {"site_id": ["A"] * 3, "year": [2030, 2031, 2032], "it_mw": [50.0, 50.0, 90.0]}
    )

    def checks(table_rows, schedule=sched):
        plan = SimpleNamespace(compute=pd.DataFrame(table_rows, columns=COMPUTE_COLUMNS))
        plan.schedule = schedule
        out = []
        _verify_compute(plan, replaced(d, compute={"accelerator_targets": {}}), _add(out))
        return {c[0]: c[1] for c in out}

    assert all(v <= 0 for v in checks(rows).values())
    # OLD still live in 2032: its 2030 cohort has retired
    late = [*rows, ("A", 2032, "OLD", 5000.0, 0.0, 0.0, 12.5, 250.0, 5000.0, 1000.0)]
    assert checks(late)["accelerators within their service life"] == pytest.approx(5000, rel=1e-3)
    # OLD retired early in 2031 (its cohort's life runs to the end of 2031): without
    # compute.early_retirement the 20,000 alive but not in service are caught
    gone = [rows[0], ("A", 2031, "OLD", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1000.0), rows[2]]
    assert checks(gone)["accelerators within their service life"] == pytest.approx(20_000)
    # more IT MW than the envelope (schedule 80 MW in 2032)
    small = sched.assign(it_mw=[50.0, 50.0, 80.0])
    assert checks(rows, small)["IT MW used within the shell's envelope"] > 9.9
    # a wrong conversion (NEW at 2.5 kW)
    wrong = [*rows[:2], ("A", 2032, "NEW", 20_000.0, 20_000.0, 0.0, 50.0, 1000.0, 20_000.0, 1e3)]
    assert checks(wrong)["IT MW and compute = accelerators x the generation table"] > 39
    assert gen.at["NEW", "kw_per_accelerator"] == 4.5


def _add(out: list):
    def add(name, excess, unit, detail="", said=""):
        out.append((name, float(np.max(excess)) if np.size(excess) else 0.0))

    return add


# --------------------------------------------------------------------------- whole pipeline


@pytest.fixture(scope="module")
def compute_plan(tmp_path_factory):
    """test_plan's tiny region (targets 100 MW in 2030, 200 MW in 2031) with a compute
    section allowing H100 and B200 (both air-coolable) and 60,000 B200 in service by 2031:
    the whole pipeline, verified and written."""
    import yaml
    from test_plan import write_region

    import siting

    d = tmp_path_factory.mktemp("compute")
    path = write_region(d)
    sc = yaml.safe_load(path.read_text())
    sc["compute"] = {"generations": ["H100", "B200"]}
    sc["targets"]["accelerators_by_year"] = {2031: {"B200": 60_000}}
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    out = d / "out"
    return siting.plan(path, out=out), out


def test_a_plan_with_compute_writes_and_verifies_its_accelerators(compute_plan):
    # 60,000 B200 x 1.95 kW = 117 MW IT in service in 2031, within the 200 MW of IT the
    # MW targets ask for; the table's rows are what the verification re-checks
    p, out = compute_plan
    assert all(ch.ok for ch in p.checks), [c for c in p.checks if not c.ok]
    names = {c.name for c in p.checks}
    assert "accelerators within their service life" in names
    assert "accelerator and compute targets met" in names
    cp = p.compute
    b200 = cp[(cp["generation"] == "B200") & (cp["year"] == 2031)]
    assert b200["accelerators_live"].sum() == pytest.approx(60_000, rel=1e-6)
    assert b200["it_used_mw"].sum() == pytest.approx(117.0, rel=1e-6)
    assert (b200["racks"] <= b200["rack_positions"] + 1e-6).all()
    written = pd.read_csv(out / "compute.csv")
    assert list(written.columns) == COMPUTE_COLUMNS
    assert written["accelerators_live"].sum() == pytest.approx(cp["accelerators_live"].sum())
    assert p.costs_usd["compute"] > 60_000 * 60_000 * 0.2  # at least a part of the hardware
