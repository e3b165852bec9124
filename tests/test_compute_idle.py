"""The idle envelope (:func:`siting.model.compute.add_idle`, issue 22): with a compute section a
shell's MW no accelerator uses draw nothing, so the draws, the energy, the line flows, the
water need and the flexible MW follow the IT in use, not the envelope; hand-solved on
test_model's tiny instances.

Common figures: one planning year (2030: discount factor 1, one year of operation), one peak
snapshot of 8,760 h, utilisation 1, 10 MW modules, no minimum campus; capex 10 M USD per MW
of envelope, 10 M USD to open a site; generation OLD (test_compute's table): 2.5 kW, 20 per
rack, 10,000 USD, 2-year life, so at a discount rate of 0 a cohort pays 1 of its 2 years
inside the horizon, 5,000 USD an accelerator. 20,000 OLD use 20,000 x 2.5 kW = 50 MW IT.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from test_compute import _add, _gens
from test_model import HOURS, tiny_data, tiny_grid

from siting.model import build_model
from siting.model.data import ComputeData, ModelData, replaced
from siting.pipeline import solve_model
from siting.results.verify import _verify_energy_cost, _verify_schedule
from siting.solve.lazy import solution_flows

#: The grid's dispatch without campuses: 50 MW of load at bus 3 x 8,760 h x 10 USD/MWh.
BASELINE = 50 * HOURS * 10


def _solved(d: ModelData, baseline_usd: float = 0.0):
    """Build and solve to optimality (the lazy loop with the PTDF form)."""
    m = build_model(d, baseline_usd=baseline_usd)
    r = solve_model(m, d, mip_gap=0.0, time_limit_s=60)
    assert r.status == "optimal", r
    return m, r


def _compute(old_k: float, sites=("A", "B")) -> ComputeData:
    """``old_k`` thousand OLD accelerators in service in 2030 (rate 0, no floor cost)."""
    return ComputeData(
        generations=_gens(OLD={}),
        max_racks=dict.fromkeys(sites, 5000.0),
        accelerator_targets={("OLD", 0): 1000.0 * old_k},
        compute_targets=np.zeros(1),
    )


def _line_case(
    rating_a_mw: float, old_k: float, pue: float = 1.2, pue_b: float = 1.5, **parts
) -> ModelData:
    """Site A at bus 2 behind line a (``rating_a_mw``), B at bus 3 (1 M USD/MW of land), both
    air-cooled, at PUE ``pue`` and ``pue_b`` (peak and annual); a 100 MW IT target (the
    envelope) and ``old_k`` thousand OLD accelerators."""
    sites = {
        "A": {"bus_id": "2", "max_it_mw": 200.0},
        "B": {"bus_id": "3", "max_it_mw": 200.0, "land_usd_per_mw": 1e6},
    }
    d = tiny_data(
        sites=sites,
        perf={("A", "air"): (pue, pue, 0.0), ("B", "air"): (pue_b, pue_b, 0.0)},
        years=(2030,),
        targets=(100.0,),
        grid=tiny_grid(rating_a_mw),
        campus={"module_mw": 10.0, "min_campus_mw": 0.0},
    )
    return replaced(d, compute=_compute(old_k), **parts)


def _flow_a(m, d) -> float:
    """Line a's flow in 2030's peak snapshot [MW] (either form)."""
    return float(solution_flows(m, d)[0, "peak"][0])


@pytest.mark.parametrize("formulation", ["angle", "ptdf"])
def test_a_shell_larger_than_its_accelerators_draws_and_pays_for_the_it_in_use(formulation):
    # 20,000 OLD = 50 MW IT in use at PUE 1.2: 60 MW of draw. The MW target asks for a
    # 100 MW envelope, whose draw (120 MW) would not pass line a (80 MW): counted on the
    # envelope, A could hold 60 MW of envelope only and B would open (main did so). The idle
    # 50 MW draw nothing, so A holds the whole envelope, its draw 60 MW, the line 60 of 80.
    # Objective: A fixed 10 M + 100 MW x 10 M = 1,010 M; hardware 20,000 x 5,000 = 100 M;
    # energy added (the grid's 10 USD/MWh generator) 60 MW x 8,760 h x 10 = 5.256 M (on the
    # envelope it would be 120 MW: 10.512 M); total 1,115.256 M USD.
    d = _line_case(80.0, 20.0, grid={"formulation": formulation})
    m, r = _solved(d, BASELINE)
    assert float(m.cap["A", 0]()) == pytest.approx(100.0)
    assert float(m.cap["B", 0]()) == pytest.approx(0.0, abs=1e-6)
    assert float(m.it_used_mw["A", 0]()) == pytest.approx(50.0)
    assert float(m.idle_mw["A", "air", 0].value) == pytest.approx(50.0)
    assert float(m.draw_peak["A", 0]()) == pytest.approx(60.0)
    assert float(m.energy_mwh["A", 0]()) == pytest.approx(60.0 * HOURS)
    assert _flow_a(m, d) == pytest.approx(60.0)
    assert float(m.cost_part["energy"]()) == pytest.approx(60 * HOURS * 10, rel=1e-9)
    assert r.objective == pytest.approx(1010e6 + 100e6 + 60 * HOURS * 10, rel=1e-9)


@pytest.mark.parametrize("formulation", ["angle", "ptdf"])
def test_the_line_limit_still_binds_on_the_it_in_use(formulation):
    # 30,000 OLD = 75 MW in use: 90 MW of draw at A would overload line a (80 MW), so A
    # takes 80 / 1.2 = 66.667 MW in use (26,666.7 OLD: B's PUE of 1.5 makes every MW in use
    # at A cheaper in energy) and B the other 8.333 MW (3,333.3 OLD) in one 10 MW module;
    # A's envelope is 90 MW (the target's 100 less B's 10). Objective: A 10 M + 90 x 10 M =
    # 910 M; B 10 M + 10 x 11 M = 120 M; hardware 30,000 x 5,000 = 150 M; energy (80 +
    # 8.333 x 1.5 = 92.5 MW) x 8,760 x 10 = 8.103 M; total 1,188.103 M USD.
    d = _line_case(80.0, 30.0, grid={"formulation": formulation})
    m, r = _solved(d, BASELINE)
    assert float(m.cap["A", 0]()) == pytest.approx(90.0)
    assert float(m.cap["B", 0]()) == pytest.approx(10.0)
    assert 1000 * m.acc_live["A", "OLD", 0].value == pytest.approx(80 / 1.2 / 2.5 * 1000)
    assert 1000 * m.acc_live["B", "OLD", 0].value == pytest.approx(10 / 1.2 / 2.5 * 1000)
    assert _flow_a(m, d) == pytest.approx(80.0)
    assert float(m.draw_peak["B", 0]()) == pytest.approx(12.5)
    assert r.objective == pytest.approx(910e6 + 120e6 + 150e6 + 92.5 * HOURS * 10, rel=1e-9)


def _two_tech(liquid_capex_usd_per_mw: float) -> ModelData:
    """Site A, no grid (energy at 50 USD/MWh), may choose air (PUE 1.5, no cooling capex)
    or liquid (PUE 1.1, ``liquid_capex_usd_per_mw``); a 100 MW envelope, 20,000 OLD."""
    d = tiny_data(
        sites={"A": {"bus_id": "", "max_it_mw": 200.0}},
        perf={("A", "air"): (1.5, 1.5, 0.0), ("A", "liquid"): (1.1, 1.1, 0.0)},
        years=(2030,),
        targets=(100.0,),
        campus={"module_mw": 10.0, "min_campus_mw": 0.0},
    )
    capex = {"air": 0.0, "evaporative": 0.0, "liquid": liquid_capex_usd_per_mw}
    return replaced(d, cooling={"capex_usd_per_mw": capex}, compute=_compute(20.0, ("A",)))


def test_the_idle_mw_sit_in_the_chosen_hall_and_the_in_use_mw_draw_at_its_pue():
    # A site keeps one cooling technology (siting.model.sites), so its in-use and idle MW
    # share a hall. Liquid cooling at 50,000 USD/MW: 100 MW x 50,000 = 5 M of plant on the
    # envelope, and the 50 MW in use draw 1.1 x 50 = 55 MW, 55 x 8,760 x 50 = 24.09 M USD of
    # energy a year; air: 1.5 x 50 = 75 MW, 32.85 M. Liquid wins: 1,010 M + 5 M + 100 M
    # hardware + 24.09 M = 1,139.09 M USD, against air's 1,142.85 M. The idle 50 MW are on
    # the liquid hall (idle <= capk): letting them sit in the unbuilt air hall would take
    # 1.5 x 50 = 75 MW off a draw of 110 (35 MW); on the envelope the draw is 110 MW.
    m, r = _solved(_two_tech(50_000.0))
    assert m.tech["A", "liquid"].value == pytest.approx(1.0)
    assert float(m.capk["A", "liquid", 0].value) == pytest.approx(100.0)
    assert float(m.draw_peak["A", 0]()) == pytest.approx(55.0)
    assert float(m.cost_part["energy"]()) == pytest.approx(55 * HOURS * 50, rel=1e-9)
    assert float(m.idle_mw["A", "liquid", 0].value) == pytest.approx(50.0)
    assert float(m.idle_mw["A", "air", 0].value) == pytest.approx(0.0, abs=1e-9)
    assert float(m.cost_part["cooling_capex"]()) == pytest.approx(5e6)  # on the envelope
    assert r.objective == pytest.approx(1010e6 + 5e6 + 100e6 + 55 * HOURS * 50, rel=1e-9)


def test_the_cooling_choice_weighs_the_energy_of_the_it_in_use_not_of_the_envelope():
    # Liquid cooling at 120,000 USD/MW (12 M for the 100 MW envelope) saves 0.4 x 50 MW x
    # 8,760 h x 50 USD/MWh = 8.76 M of energy on the 50 MW in use: air wins (1,010 M + 100 M
    # + 32.85 M = 1,142.85 M USD against liquid's 1,146.09 M). Counted on the envelope the
    # saving would be 17.52 M and liquid would win (main chose it).
    m, r = _solved(_two_tech(120_000.0))
    assert m.tech["A", "air"].value == pytest.approx(1.0)
    assert float(m.draw_peak["A", 0]()) == pytest.approx(75.0)
    assert r.objective == pytest.approx(1010e6 + 100e6 + 75 * HOURS * 50, rel=1e-9)


def test_idle_mw_are_neither_flexible_nor_curtailed():
    # PUE 1; 40,000 OLD = 100 MW in use; a 200 MW envelope (target); line a rated 40 MW;
    # flexible connection: depth 0.5, budget 1 % (87.6 stress hours: curtail <= the
    # flexible draw, so the depth binds), curtailment 2,000 USD/MWh, 1,000 USD per flexible
    # MW-year. A's draw from the grid is its in-use MW x less the curtailment, which is at
    # most half the flexible MW, themselves at most the MW in use (flexk + idle <= capk):
    # x - 0.5 x <= 40 gives x <= 80 MW in use at A (all flexible, 40 MW curtailed) and the
    # other 20 MW (8,000 OLD) at B in a 20 MW envelope; A's envelope is the other 180 MW,
    # 100 of them idle. Were idle MW flexible, A would curtail 60 MW of 120 "flexible" MW
    # and hold all 100 MW in use (B closed): idle MW curtailed as well as not drawn.
    # Objective: A 10 M + 180 x 10 M = 1,810 M; B 10 M + 20 x 11 M = 230 M; hardware
    # 40,000 x 5,000 = 200 M; energy (40 + 20) MW x 8,760 x 10 = 5.256 M; curtailment
    # 40 MW x 87.6 h x 2,000 = 7.008 M + 80 flexible MW x 1,000 = 0.08 M; total
    # 2,252.344 M USD. (Curtailing a MW costs 175,200 USD a year less the 87,600 of
    # energy it saves; a MW moved to B costs 1 M of land.)
    flex = {
        "enabled": True,
        "depth": 0.5,
        "budget_share": 0.01,
        "curtail_usd_per_mwh": 2000.0,
        "flexible_usd_per_mw_year": 1000.0,
        "stress_hours": {"peak": 87.6},
    }
    d = _line_case(
        40.0, 40.0, pue=1.0, pue_b=1.0, flex=flex, policy={"targets_mw": np.array([200.0])}
    )
    m, r = _solved(d, BASELINE)
    assert float(m.cap["A", 0]()) == pytest.approx(180.0)
    assert float(m.cap["B", 0]()) == pytest.approx(20.0)
    assert float(m.it_used_mw["A", 0]()) == pytest.approx(80.0)
    assert float(m.it_used_mw["B", 0]()) == pytest.approx(20.0)
    assert float(m.idle_mw["A", "air", 0].value) == pytest.approx(100.0)
    assert float(m.flex_it_mw["A", 0]()) == pytest.approx(80.0)
    assert float(m.firm_it_mw["A", 0]()) == pytest.approx(0.0, abs=1e-6)
    assert float(m.curtail_mw["A", 0, "peak"].value) == pytest.approx(40.0)
    assert _flow_a(m, d) == pytest.approx(40.0)
    expected = 1810e6 + 230e6 + 200e6 + 60 * HOURS * 10 + 40 * 87.6 * 2000 + 80 * 1000
    assert r.objective == pytest.approx(expected, rel=1e-9)


# --------------------------------------------------------------------------- verification


def _plan_tables(peak_mw: float, typ_mw: float, energy_usd: float):
    """One schedule row: a 100 MW envelope at PUE 1.2 with 50 MW in use (no grid, energy at
    50 USD/MWh, op weight 1); the draws and the energy cost part as given."""
    d = replaced(
        _two_tech(0.0),
        cooling={"perf": _two_tech(0.0).cooling.perf.assign(pue_peak=1.2, pue_annual=1.2)},
    )
    sc = pd.DataFrame(
        {
            "site_id": ["A"],
            "year": [2030],
            "it_mw": [100.0],
            "new_it_mw": [100.0],
            "peak_draw_mw": [peak_mw],
            "typical_draw_mw": [typ_mw],
            "cooling": ["air"],
            "it_used_mw": [50.0],
        }
    )
    return SimpleNamespace(schedule=sc, costs_usd={"energy": energy_usd}), d


def test_the_verification_recomputes_the_draws_and_energy_from_the_it_in_use():
    # 50 MW in use x 1.2 = 60 MW, peak and typical (utilisation 1); energy 60 MW x 8,760 h
    # x 50 USD/MWh = 26.28 M USD. A schedule drawing on its 100 MW envelope (120 MW) fails
    # the draws by 120 - 60 MW (less the 1e-3 MW tolerance); an energy cost on the envelope
    # (52.56 M USD) beside draws on the IT in use fails the energy by 26.28 M USD (less the
    # 1e-6 relative tolerance, 26.28 USD).
    def checks(peak, typ, usd):
        plan, d = _plan_tables(peak, typ, usd)
        out: list = []
        add = _add(out)
        _verify_schedule(plan.schedule, d, add)
        _verify_energy_cost(plan, d, add)
        return dict(out)

    good = checks(60.0, 60.0, 60 * HOURS * 50)
    assert good["draws = IT in use x PUE"] <= 0
    assert good["energy cost = price x the draws' energy"] <= 0
    assert checks(120.0, 120.0, 60 * HOURS * 50)["draws = IT in use x PUE"] == pytest.approx(
        60.0 - 1e-3
    )
    # the typical draw alone on the envelope is caught too
    assert checks(60.0, 120.0, 60 * HOURS * 50)["draws = IT in use x PUE"] == pytest.approx(
        60.0 - 1e-3
    )
    assert checks(60.0, 60.0, 120 * HOURS * 50)[
        "energy cost = price x the draws' energy"
    ] == pytest.approx(60 * HOURS * 50 - 1e-6 * 60 * HOURS * 50)
