"""On-site generation and storage (:mod:`siting.model.onsite`) on hand-solved cases.

The instance is test_model's radial 3-bus grid (``_line_case``): site A at bus 2 behind
line a, site B at bus 3 (1 M USD/MW of land), one 8,760 h snapshot, PUE 1, utilisation 1,
a 10 USD/MWh generator at bus 1, targets 100 MW (2030) and 200 MW (2031), discount 10 %
(2031 weighs 1/1.1). Without on-site options and line a at 120 MW, A holds 100 MW and B
opens in 2031 with 100 MW (test_model's hand calculation). The option costs below are
round numbers given as the annual cost per MW (``annual_usd_per_mw``, capex already
annualised), so the hand sums stay short.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest
from test_model import HOURS, _line_case, solved

from siting.model.data import (
    ModelData,
    OnsiteData,
    capital_recovery_factor,
    onsite_inputs,
    replaced,
)
from siting.model.power import grid_draw
from siting.results.plan import Plan, _onsite, _relief, _schedule
from siting.results.verify import verify

BASE = 50 * HOURS * 10 * (1 + 1 / 1.1)  # the grid's own dispatch cost (test_model)


def onsite(
    name: str,
    sites: list[str],
    snapshots: list[str],
    *,
    annual_usd_per_mw: float,
    availability: float = 1.0,
    variable_usd_per_mwh: float = 0.0,
    co2_t_per_mwh: float = 0.0,
    storage_mwh_per_mw: float = 0.0,
    round_trip_efficiency: float = 1.0,
    islanding: bool = False,
) -> OnsiteData:
    """One option at ``sites``, available ``availability`` in every snapshot."""
    opts = pd.DataFrame(
        {
            "technology": ["other"],
            "capex_usd_per_mw": [0.0],
            "fixed_usd_per_mw_year": [annual_usd_per_mw],
            "annual_usd_per_mw": [annual_usd_per_mw],
            "variable_usd_per_mwh": [variable_usd_per_mwh],
            "lifetime_years": [20.0],
            "co2_t_per_mwh": [co2_t_per_mwh],
            "water_m3_per_mwh": [0.0],
            "storage_mwh_per_mw": [storage_mwh_per_mw],
            "round_trip_efficiency": [round_trip_efficiency],
            "max_mw_per_site": [1000.0],
        },
        index=pd.Index([name], name="option"),
    )
    avail = pd.DataFrame(
        [[availability] * len(snapshots) for _ in sites],
        index=pd.MultiIndex.from_tuples([(s, name) for s in sites], names=["site_id", "option"]),
        columns=snapshots,
    )
    return OnsiteData(options=opts, availability=avail, islanding=islanding)


def _plan(m: pyo.ConcreteModel, d: ModelData, r) -> Plan:
    """The plan's tables the on-site checks read (schedule, relief, onsite)."""
    sc = _schedule(m, d)
    chosen = set(sc["site_id"])
    empty = pd.DataFrame()
    return Plan(
        name="t",
        sites=gpd.GeoDataFrame(),
        candidates=gpd.GeoDataFrame(),
        schedule=sc,
        flows=empty,
        flows_all=empty,
        dispatch=empty,
        water_links=gpd.GeoDataFrame(columns=["site_id", "source_id", "year", "m3_per_day"]),
        buses=None,
        branches=None,
        costs_usd={},
        solve=r,
        relief=_relief(m, d, chosen),
        onsite=_onsite(m, d, chosen),
    )


def _solar_onsite() -> OnsiteData:
    return onsite("solar", ["A"], ["peak"], annual_usd_per_mw=60e3, availability=0.5)


def test_onsite_output_lets_the_site_behind_a_full_line_grow():
    d = _line_case(120.0)
    d.onsite = _solar_onsite()
    m, r = solved(d, BASE)
    # A reaches 200 MW in 2031 and B stays shut: line a carries at most 120 MW, so A needs
    # 80 MW of on-site output; at availability 0.5 that is 160 MW of solar, built in 2031.
    # More solar does not pay: one MW costs 60,000 USD a year and saves 0.5 x 8,760 h x
    # 10 USD/MWh = 43,800 USD of grid energy.
    assert float(m.cap["A", 1]()) == pytest.approx(200.0)
    assert float(m.cap["B", 1]()) == pytest.approx(0.0)
    assert float(m.os_cap["A", "solar", 0]()) == pytest.approx(0.0, abs=1e-6)
    assert float(m.os_cap["A", "solar", 1]()) == pytest.approx(160.0)
    assert float(pyo.value(grid_draw(m, "A", 1, "peak"))) == pytest.approx(120.0)
    # By hand, USD present value:
    #   A: fixed 10 M + 100 MW x 10 M (2030) + 100 MW x 10 M / 1.1 (2031)
    #   energy the campuses add: 100 MW x 8,760 h x 10 USD/MWh (2030)
    #                            + (200 - 80) MW x 8,760 x 10 / 1.1 (2031)
    #   solar: 160 MW x 60,000 USD/MW-year / 1.1 (2031)
    # (B instead would have cost its fixed 10 M + 100 MW x 11 M, over 1,000 M more.)
    expected = (
        10e6
        + 100 * 10e6
        + 100 * 10e6 / 1.1
        + 100 * HOURS * 10
        + 120 * HOURS * 10 / 1.1
        + 160 * 60e3 / 1.1
    )
    assert r.objective == pytest.approx(expected, rel=1e-9)
    assert float(m.cost_part["onsite"]()) == pytest.approx(160 * 60e3 / 1.1, rel=1e-9)
    # the plan's on-site table and the verification from the tables
    p = _plan(m, d, r)
    row = p.onsite[p.onsite["year"] == 2031].iloc[0]
    assert row["capacity_mw"] == pytest.approx(160.0) and row["built_mw"] == pytest.approx(160.0)
    assert row["mwh_per_year"] == pytest.approx(80 * HOURS)
    assert row["cost_usd"] == pytest.approx(160 * 60e3 / 1.1)
    checks = verify(p, replaced(d, grid={"enabled": False}), None)
    names = {c.name for c in checks}
    assert "on-site output within availability x capacity" in names
    assert all(c.ok for c in checks)


def test_the_verification_catches_onsite_output_above_its_availability():
    d = _line_case(120.0)
    d.onsite = _solar_onsite()
    m, r = solved(d, BASE)
    p = _plan(m, d, r)
    tampered = p.relief.copy()
    # 80 MW x 1.25 = 100 MW from 160 MW of solar at availability 0.5 (80 MW at most)
    tampered["relief_mw"] *= 1.25
    p.relief = tampered
    checks = verify(p, replaced(d, grid={"enabled": False}), None, raise_on_failure=False)
    bad = [c for c in checks if not c.ok]
    assert [c.name for c in bad] == ["on-site output within availability x capacity"]
    assert bad[0].worst == pytest.approx(20.0, abs=2e-3)
    assert "site A, option solar, 2031" in bad[0].detail


def test_an_islanded_campus_where_the_grid_cannot_host_it():
    # Line a is rated 10 MW: A cannot be hosted by the grid. Connecting costs 0.2 M USD/MW
    # and a 30 M USD tie line at A; A may run islanded on gas (1 available, 100,000 USD/MW
    # a year, 20 USD/MWh, 0.5 t CO2/MWh). B (land 1 M USD/MW) stays shut: islanded A
    # growing by 100 MW in 2031 costs 100 x (10 M + 100,000 + 20 x 8,760) / 1.1, B's 100 MW
    # cost 10 M + 100 x (11 M + 0.2 M) / 1.1 less 100 MW of gas.
    d = _line_case(10.0)
    d = replaced(d, campus={"interconnection_usd_per_mw": 0.2e6})
    d.campus.site["interconnect_usd"] = [30e6, 0.0]
    d.onsite = onsite(
        "gas",
        ["A"],
        ["peak"],
        annual_usd_per_mw=100e3,
        variable_usd_per_mwh=20.0,
        co2_t_per_mwh=0.5,
        islanding=True,
    )
    m, r = solved(d, BASE)
    assert float(m.island["A"]()) == pytest.approx(1.0)
    assert float(m.cap["A", 0]()) == pytest.approx(100.0)
    assert float(m.cap["A", 1]()) == pytest.approx(200.0)
    assert float(m.cap["B", 1]()) == pytest.approx(0.0)
    for t in (0, 1):
        assert float(pyo.value(grid_draw(m, "A", t, "peak"))) == pytest.approx(0.0, abs=1e-6)
    # By hand, USD present value: the islanded campus pays neither the 0.2 M USD/MW nor the
    # 30 M tie line; gas matches the draw (100 MW, then 200 MW), the grid adds nothing.
    #   A: 10 M + 100 MW x 10 M + 100 MW x 10 M / 1.1
    #   gas: 100 MW x (100,000 + 20 x 8,760) + 200 MW x (100,000 + 20 x 8,760) / 1.1
    gas = 100e3 + 20 * HOURS
    expected = 10e6 + 100 * 10e6 + 100 * 10e6 / 1.1 + 100 * gas + 200 * gas / 1.1
    assert r.objective == pytest.approx(expected, rel=1e-9)
    # CO2: 0.5 t/MWh x (100 + 200) MW x 8,760 h (one year per period), the grid adds none
    assert float(pyo.value(m.co2_t)) == pytest.approx(0.5 * 300 * HOURS, rel=1e-9)
    p = _plan(m, d, r)
    assert p.onsite["islanded"].all()
    checks = verify(p, replaced(d, grid={"enabled": False}), None)
    assert "islanded campuses draw nothing from the grid" in {c.name for c in checks}
    # tampered: 1 MW less on-site output in 2031 is 1 MW drawn from the grid
    rel = p.relief.copy()
    rel.loc[rel["year"] == 2031, "relief_mw"] -= 1.0
    p.relief = rel
    checks = verify(p, replaced(d, grid={"enabled": False}), None, raise_on_failure=False)
    bad = {c.name: c for c in checks if not c.ok}
    assert set(bad) == {"islanded campuses draw nothing from the grid"}
    assert bad["islanded campuses draw nothing from the grid"].worst == pytest.approx(1.0, abs=2e-3)


def test_without_islanding_the_same_campus_pays_its_connection():
    # The same case with islanding off: A stays connected (it draws the 10 MW line a
    # allows, saving 10 x 8,760 x (20 - 10) USD a year of gas) and pays the tie line and
    # the 0.2 M USD/MW: the islanded plan above is cheaper by those, less that saving.
    d = _line_case(10.0)
    d = replaced(d, campus={"interconnection_usd_per_mw": 0.2e6})
    d.campus.site["interconnect_usd"] = [30e6, 0.0]
    gas = 100e3 + 20 * HOURS
    d.onsite = onsite("gas", ["A"], ["peak"], annual_usd_per_mw=100e3, variable_usd_per_mwh=20.0)
    m, r = solved(d, BASE)
    assert m.component("island") is None
    assert float(m.cap["A", 1]()) == pytest.approx(200.0)
    # A: 10 M + 30 M tie + 100 MW x 10.2 M + 100 MW x 10.2 M / 1.1; gas 90 MW then 190 MW
    # (capacity and output, 100,000 + 20 x 8,760 per MW); grid: 10 MW x 8,760 x 10 a year
    expected = (
        40e6
        + 100 * 10.2e6
        + 100 * 10.2e6 / 1.1
        + 90 * gas
        + 190 * gas / 1.1
        + 10 * HOURS * 10 * (1 + 1 / 1.1)
    )
    assert r.objective == pytest.approx(expected, rel=1e-9)


def test_storage_pays_for_its_peak_discharge_by_charging_in_other_snapshots():
    # Two snapshots: "hot" (2,190 h, campuses at peak draw) and "rest" (6,570 h, at the
    # typical draw, utilisation 0.5); line a rated 150 MW. In 2031 A holds 200 MW: it
    # draws 200 MW when hot (50 MW over the line) and 100 MW otherwise (50 MW spare).
    # A 4 h store (E = 4 MWh/MW, efficiency 0.8, 100,000 USD/MW a year) bridges it:
    #   discharge 50 MW x 2,190 h = 109,500 MWh a year;
    #   charging c over 6,570 h: 0.8 x 6,570 x c >= 109,500  ->  c = 20.8333 MW;
    #   one cycle a day: 109,500 <= 365 x 4 x P  ->  P = 75 MW (binds: it is 6 h a day of
    #   50 MW, i.e. 300 MWh a day, one full cycle of a 75 MW, 300 MWh store);
    #   power: 50 MW and 20.83 MW within 75 MW.
    snaps = pd.DataFrame(
        {"load_factor": [1.0, 1.0], "hours": [2190.0, 6570.0], "peak": [True, False]},
        index=pd.Index(["hot", "rest"], name="name"),
    )
    d = replaced(_line_case(150.0), horizon={"snapshots": snaps, "utilisation": 0.5})
    d.onsite = onsite(
        "battery",
        ["A"],
        ["hot", "rest"],
        annual_usd_per_mw=100e3,
        storage_mwh_per_mw=4.0,
        round_trip_efficiency=0.8,
    )
    m, r = solved(d, BASE)
    assert float(m.cap["A", 1]()) == pytest.approx(200.0)
    assert float(m.cap["B", 1]()) == pytest.approx(0.0)
    dis, chg = m.component("os_dis_battery"), m.component("os_chg_battery")
    assert float(dis["A", 1, "hot"]()) == pytest.approx(50.0)
    assert float(chg["A", 1, "rest"]()) == pytest.approx(109_500 / (0.8 * 6570))
    assert float(m.os_cap["A", "battery", 1]()) == pytest.approx(75.0)
    # energy balance: what it discharged = 0.8 x what it charged, over the year's hours
    out = 2190 * float(dis["A", 1, "hot"]()) + 6570 * float(dis["A", 1, "rest"]())
    back = 2190 * float(chg["A", 1, "hot"]()) + 6570 * float(chg["A", 1, "rest"]())
    assert out == pytest.approx(0.8 * back, rel=1e-9)
    # By hand, USD present value: A as in test_model's line case (no B), the store's
    # 75 MW x 100,000 / 1.1, and the grid energy campuses add:
    #   2030: 100 MW x 2,190 h + 50 MW x 6,570 h; 2031: 150 MW x 2,190 + 120.8333 x 6,570
    c = 109_500 / (0.8 * 6570)
    energy = 10 * (100 * 2190 + 50 * 6570) + 10 / 1.1 * (150 * 2190 + (100 + c) * 6570)
    expected = 10e6 + 100 * 10e6 + 100 * 10e6 / 1.1 + 75 * 100e3 / 1.1 + energy
    assert r.objective == pytest.approx(expected, rel=1e-9)
    p = _plan(m, d, r)
    checks = verify(p, replaced(d, grid={"enabled": False}), None)
    assert "storage discharge paid for by charging" in {c.name for c in checks}


def test_onsite_inputs_annualise_the_capex_and_refuse_unknown_sites(tmp_path):
    from siting.config.scenario import Scenario
    from siting.core.errors import InputError

    # 1.0 M USD/MW over 20 years at 7 %: capital recovery factor 0.07 / (1 - 1.07^-20)
    # = 0.0943929, so 94,392.9 USD/MW-year, plus 20,000 fixed
    crf = capital_recovery_factor(0.07, 20.0)
    assert crf == pytest.approx(0.0943929, rel=1e-6)
    assert capital_recovery_factor(0.0, 20.0) == pytest.approx(0.05)
    raw = {
        "name": "t",
        "years": [2030],
        "layers": {},
        "costs": {"discount_rate": 0.07},
        "onsite": {
            "options": [
                {
                    "name": "solar",
                    "technology": "solar_pv",
                    "capex_usd_per_mw": 1.0e6,
                    "fixed_usd_per_mw_year": 20e3,
                    "lifetime_years": 20,
                    "max_mw_per_site": 300,
                    "availability": 0.25,
                    "availability_by_snapshot": {"peak": 0.6},
                }
            ]
        },
    }
    sc = Scenario.model_validate(raw)
    od = onsite_inputs(sc, ["A", "B"], ["peak", "high", "mid", "low"])
    assert od.options.at["solar", "annual_usd_per_mw"] == pytest.approx(1e6 * crf + 20e3)
    assert od.availability.loc[("B", "solar")].tolist() == [0.6, 0.25, 0.25, 0.25]
    raw["onsite"]["options"][0]["sites"] = ["A", "Z9"]
    with pytest.raises(InputError, match=r"onsite.options\[0\].sites.*Z9"):
        onsite_inputs(Scenario.model_validate(raw), ["A", "B"], ["peak"])
    raw["onsite"]["options"][0]["availability_by_snapshot"] = {"noon": 0.6}
    with pytest.raises(Exception, match="noon"):
        Scenario.model_validate(raw)


def test_no_options_no_family():
    d = _line_case(120.0)
    assert not d.onsite.enabled
    m, _ = solved(d, BASE)
    assert m.component("os_new") is None and "onsite" not in list(m.P)
    assert np.isclose(float(m.cap["B", 1]()), 100.0)


def test_the_pages_say_what_onsite_generation_bought():
    from siting.render.report import onsite_words

    ons = pd.DataFrame(
        {
            "site_id": ["A", "B"],
            "option": ["solar", "gas"],
            "technology": ["solar_pv", "gas_turbine"],
            "year": [2031, 2031],
            "capacity_mw": [160.0, 250.0],
            "islanded": [False, True],
        }
    )
    sched = pd.DataFrame(
        {"site_id": ["A", "B"], "year": [2031, 2031], "peak_draw_mw": [200.0, 245.0]}
    )
    relief = pd.DataFrame(
        {
            "site_id": ["A", "B"],
            "year": [2031, 2031],
            "snapshot": ["peak", "peak"],
            "relief_mw": [80.0, 245.0],
        }
    )
    words = onsite_words(ons, sched, relief)
    assert words["A"] == (
        "160 MW solar pv on site in 2031: it takes up to 80 MW off the campus's draw from "
        "the grid (200 MW at peak), MW its bus and lines need not carry"
    )
    assert words["B"].startswith("250 MW gas turbine on site in 2031: the campus runs islanded")
    assert "245 MW peak draw" in words["B"]
