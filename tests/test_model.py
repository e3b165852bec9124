"""The siting MILP on tiny instances whose optimum is worked out by hand.

Each instance is built as :class:`siting.model.ModelData` directly (no geometry), with
round numbers, so the optimal decisions and objective can be computed in the comments
and asserted exactly. Then the plan is read out and verified independently
(:func:`siting.results.verify.verify`), which recomputes DC flows with numpy.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from siting.inputs.grids.grid import Grid
from siting.model import build_model
from siting.model.data import (
    CampusData,
    Caps,
    CoolingData,
    Goal,
    GridData,
    Horizon,
    ModelData,
    PolicyData,
    WaterData,
    discounting,
    replaced,
)
from siting.model.state import model_state
from siting.network import dc_network
from siting.solve.highs import solve

HOURS = 8760.0


def tiny_grid(rating_12_mw: float = 120.0, mesh: bool = False) -> Grid:
    """Radial 3-bus grid: bus 1 (cheap generator) feeds bus 2 and bus 3 by one line each.

    Radial, so each line carries exactly the load beyond it (no loop flows): line 1-2
    carries what bus 2 draws, line 1-3 what bus 3 draws.
    """
    buses = gpd.GeoDataFrame(
        {
            "name": ["one", "two", "three"],
            "voltage_kv": [345.0] * 3,
            "load_mw": [0.0, 0.0, 50.0],
            "shunt_mw": [0.0] * 3,
            "bus_type": [3, 1, 1],
            "area": [""] * 3,
            "substation_headroom_mw": [np.nan] * 3,
        },
        geometry=[shapely.Point(0, 0), shapely.Point(10_000, 0), shapely.Point(0, 10_000)],
        index=pd.Index(["1", "2", "3"], name="bus_id"),
        crs="EPSG:3083",
    )
    branches = gpd.GeoDataFrame(
        {
            "from_bus": ["1", "1"],
            "to_bus": ["2", "3"],
            "x_pu": [0.01, 0.01],
            "r_pu": [0.0, 0.0],
            "b_pu": [0.0, 0.0],
            "rating_mw": [rating_12_mw, 1000.0],
            "rating_emergency_mw": [np.nan, np.nan],
            "tap_ratio": [1.0, 1.0],
            "shift_deg": [0.0, 0.0],
            "in_service": [True, True],
        },
        geometry=[None, None],
        index=pd.Index(["a", "b"], name="branch_id"),
        crs="EPSG:3083",
    )
    if mesh:  # close the loop with a line 2-3: flows now split by reactance
        extra = branches.iloc[[1]].copy()
        extra.index = pd.Index(["c"], name="branch_id")
        extra["from_bus"], extra["to_bus"], extra["rating_mw"] = "2", "3", 60.0
        branches = pd.concat([branches, extra])
    gens = pd.DataFrame(
        {
            "bus_id": ["1"],
            "p_max_mw": [2000.0],
            "p_min_mw": [0.0],
            "marginal_cost_usd_per_mwh": [10.0],
            "co2_t_per_mwh": [0.0],
            "fuel": ["gas_cc"],
            "in_service": [True],
        },
        index=pd.Index(["g1"], name="gen_id"),
    )
    return Grid(buses=buses, branches=branches, generators=gens, base_mva=100.0)


def tiny_data(
    *,
    sites: dict[str, dict],
    perf: dict[tuple[str, str], tuple[float, float, float]],
    years=(2030, 2031),
    targets=(100.0, 200.0),
    rate=0.1,
    grid: Grid | None = None,
    **parts: dict,
) -> ModelData:
    """A ModelData with round numbers; ``perf[(site, tech)] = (pue_annual, pue_peak, wue)``."""
    years = list(years)
    capex_df, op_weight, period_years = discounting(years, rate, 1.0)
    site = pd.DataFrame.from_dict(sites, orient="index")
    site.index.name = "site_id"
    defaults = {
        "max_it_mw": 1000.0,
        "fixed_cost_usd": 10e6,
        "land_usd_per_mw": 0.0,
        "bus_distance_km": 0.0,
        "interconnect_usd": 0.0,
        "zone_id": "",
        "zone_kind": "",
        "region_id": "",
        "earliest_period": 0,
    }
    for k, v in defaults.items():
        if k not in site:
            site[k] = v
        site[k] = site[k].fillna(v)
    techs = sorted({k for _, k in perf}, key=["evaporative", "air", "liquid"].index)
    p = pd.DataFrame(
        [(s, k, a, b, w, w) for (s, k), (a, b, w) in perf.items()],
        columns=[
            "site_id",
            "cooling",
            "pue_annual",
            "pue_peak",
            "wue_annual_l_per_kwh",
            "wue_peak_l_per_kwh",
        ],
    ).set_index(["site_id", "cooling"])
    net = dc_network(grid) if grid is not None else None
    d = ModelData(
        horizon=Horizon(
            years=years,
            capex_df=capex_df,
            op_weight=op_weight,
            period_years=period_years,
            snapshots=pd.DataFrame(
                {"load_factor": [1.0], "hours": [HOURS], "peak": [True]},
                index=pd.Index(["peak"], name="name"),
            ),
            utilisation=1.0,
        ),
        campus=CampusData(
            sites=list(site.index),
            site=site,
            module_mw=50.0,
            min_campus_mw=100.0,
            max_modules_per_period=np.full(len(years), 100.0),
            capex_usd_per_mw=10e6,
            interconnection_usd_per_mw=0.0,
            zone_bonus_usd_per_mw=0.0,
        ),
        cooling=CoolingData(
            techs=techs,
            allowed=list(p.index),
            perf=p,
            capex_usd_per_mw={"air": 0.0, "evaporative": 0.0, "liquid": 0.0},
            heat_recovery_share={},
        ),
        grid=GridData(
            enabled=grid is not None,
            line_limits=True,
            energy_usd_per_mwh=50.0,
            voll_usd_per_mwh=10_000.0,
            net=net,
            gens=pd.DataFrame(),
            gen_costs={},
            base_load_mw=pd.DataFrame(),
            shunt_mw=np.zeros(0),
            headroom_mw=np.zeros(0),
        ),
        water=WaterData(
            enabled=True,
            sources=pd.DataFrame(),
            links=pd.DataFrame(columns=["site_id", "source_id", "distance_km", "pipeline_usd"]),
            potable_cap_m3_per_day=None,
        ),
        policy=PolicyData(
            targets_mw=np.asarray(targets, dtype=float),
            region_shares={},
            zone_mode="ignore",
            zone_min_share=0.0,
            demand_links=pd.DataFrame(columns=["region_id", "site_id", "cost_usd_per_mw_year"]),
            demand_mw=pd.DataFrame(),
            public_share=0.0,
            public_sites=[],
            public_techs={},
            heat_links=pd.DataFrame(columns=["sink_id", "site_id"]),
            sinks=pd.DataFrame(),
        ),
        caps=Caps(),
        goal=Goal(sense="min_cost", budget_usd=None),
    )
    if grid is not None:
        from siting.model.data import gen_cost_lines

        g = grid.generators
        d.grid.gens = pd.DataFrame(
            {
                "bus_id": g["bus_id"].to_numpy(),
                "bus_pos": [list(net.bus_ids).index(b) for b in g["bus_id"]],
                "p_min_mw": g["p_min_mw"].to_numpy(),
                "p_max_mw": g["p_max_mw"].to_numpy(),
            },
            index=g.index,
        )
        d.grid.gen_costs = {
            gid: gen_cost_lines(None, r.marginal_cost_usd_per_mwh, r.p_min_mw, r.p_max_mw)
            for gid, r in g.iterrows()
        }
        d.grid.base_load_mw = grid.load_mw(years).reindex(net.bus_ids)
        d.grid.shunt_mw = np.zeros(len(net.bus_ids))
        d.grid.headroom_mw = np.full(len(net.bus_ids), np.nan)
    return replaced(d, **parts)


def solved(d: ModelData, baseline_usd: float = 0.0):
    m = build_model(d, baseline_usd=baseline_usd)
    r = solve(m, mip_gap=0.0, time_limit_s=60)
    assert r.status == "optimal", r
    return m, r


def cap(m, s, t) -> float:
    return float(m.cap[s, t]())


# --------------------------------------------------------------------------- grid


def _line_case(rating_12_mw: float, mesh: bool = False):
    # Site A sits at bus 2 behind line a (1-2); site B at bus 3 behind line b (1-3).
    # A has no land cost, B pays 1 M USD/MW of land. PUE 1.0, no water.
    sites = {
        "A": {"bus_id": "2", "land_usd_per_mw": 0.0},
        "B": {"bus_id": "3", "land_usd_per_mw": 1e6},
    }
    perf = {("A", "air"): (1.0, 1.0, 0.0), ("B", "air"): (1.0, 1.0, 0.0)}
    return tiny_data(sites=sites, perf=perf, grid=tiny_grid(rating_12_mw, mesh))


def test_cheap_site_wins_until_its_line_saturates_then_a_second_site_opens():
    d = _line_case(rating_12_mw=120.0)
    # Baseline (no campus): 50 MW at bus 3 all year at 10 USD/MWh, discounted 10 %:
    # 50 * 8760 * 10 * (1 + 1/1.1) = 4,380,000 * 1.909090... = 8,361,818.18
    baseline = 50 * HOURS * 10 * (1 + 1 / 1.1)
    m, r = solved(d, baseline)
    # Line a (rating 120 MW) lets A hold 100 MW (two 50 MW modules), not 150.
    # 2030: target 100 -> A builds 100 (cheapest: no land cost).
    # 2031: target 200 -> A cannot grow past 100, so B opens with 100 MW (its minimum).
    assert cap(m, "A", 0) == pytest.approx(100) and cap(m, "A", 1) == pytest.approx(100)
    assert cap(m, "B", 0) == pytest.approx(0) and cap(m, "B", 1) == pytest.approx(100)
    # Objective by hand, USD present value (discount 1/1.1 for 2031):
    #   A: fixed 10 M + 100 MW * 10 M/MW                        = 1,010,000,000
    #   B: (fixed 10 M + 100 MW * (10 M + 1 M land)) / 1.1       = 1,009,090,909.09
    #   energy added: 100 MW * 8760 h * 10 USD/MWh (2030)        =     8,760,000
    #                 200 MW * 8760 * 10 / 1.1 (2031)            =    15,927,272.73
    expected = 1_010_000_000 + (10e6 + 100 * 11e6) / 1.1 + 100 * HOURS * 10 + 200 * HOURS * 10 / 1.1
    assert r.objective == pytest.approx(expected, rel=1e-9)
    # the line binds: flow on line a is A's 100 MW draw, on line b B's draw + 50 MW load
    assert float(m.flow[0, 1, "peak"]()) == pytest.approx(100.0)
    assert float(m.flow[1, 1, "peak"]()) == pytest.approx(150.0)


def test_without_the_line_limit_the_cheap_site_takes_everything():
    # Same case with line a rated 1000 MW: A grows to 200 MW in 2031 and B never opens;
    # objective 1,010 M + 100 MW * 10 M / 1.1 + energy as above.
    d = _line_case(rating_12_mw=1000.0)
    baseline = 50 * HOURS * 10 * (1 + 1 / 1.1)
    m, r = solved(d, baseline)
    assert cap(m, "A", 1) == pytest.approx(200) and cap(m, "B", 1) == pytest.approx(0)
    expected = 1_010_000_000 + 100 * 10e6 / 1.1 + 100 * HOURS * 10 + 200 * HOURS * 10 / 1.1
    assert r.objective == pytest.approx(expected, rel=1e-9)


# --------------------------------------------------------------------------- water


def _water_case(capacity_m3_per_day: float):
    # One site, 100 MW in both years (targets 100, 100), no grid: energy at 50 USD/MWh.
    # Evaporative: PUE 1.1, WUE 1.5 L/kWh; air: PUE 1.3, WUE 0, and 0.4 M USD/MW more capex.
    # Water: one source in reach, 1 USD/m3, pipeline 2 M USD.
    sites = {"S": {"bus_id": ""}}
    perf = {("S", "evaporative"): (1.1, 1.1, 1.5), ("S", "air"): (1.3, 1.3, 0.0)}
    d = tiny_data(sites=sites, perf=perf, targets=(100.0, 100.0))
    src = pd.DataFrame(
        {
            "kind": ["reclaimed"],
            "cost_usd_per_m3": [1.0],
            "pipeline_cost_usd_per_km": [1e6],
            "cap_2030": [capacity_m3_per_day],
            "cap_2031": [capacity_m3_per_day],
        },
        index=pd.Index(["W"], name="source_id"),
    )
    links = pd.DataFrame(
        {"site_id": ["S"], "source_id": ["W"], "distance_km": [2.0], "pipeline_usd": [2e6]}
    )
    return replaced(
        d,
        water={"sources": src, "links": links},
        cooling={"capex_usd_per_mw": {"air": 0.4e6, "evaporative": 0.0, "liquid": 0.0}},
    )


def test_evaporative_cooling_wins_when_water_is_plentiful():
    d = _water_case(capacity_m3_per_day=10_000)
    m, r = solved(d)
    assert m.tech["S", "evaporative"]() > 0.5
    # need = 24 h * 100 MW * 1.5 L/kWh = 3,600 m3/day
    assert float(m.need["S", 0]()) == pytest.approx(3600.0)
    # by hand: fixed 10 M + capex 1,000 M + pipeline 2 M
    #   energy 100 * 1.1 * 8760 * 50 = 48,180,000 per year, water 3600 * 365 * 1 = 1,314,000
    #   per year; years weigh 1 and 1/1.1
    per_year = 100 * 1.1 * HOURS * 50 + 3600 * 365 * 1.0
    expected = 10e6 + 1_000e6 + 2e6 + per_year * (1 + 1 / 1.1)
    assert r.objective == pytest.approx(expected, rel=1e-9)


def test_a_water_cap_forces_dry_cooling():
    d = _water_case(capacity_m3_per_day=1_000)  # < the 3,600 m3/day evaporation needs
    m, r = solved(d)
    assert m.tech["S", "air"]() > 0.5 and m.tech["S", "evaporative"]() < 0.5
    # by hand: fixed 10 M + capex 100 * (10 M + 0.4 M) + energy 100 * 1.3 * 8760 * 50 a year
    expected = 10e6 + 100 * 10.4e6 + 100 * 1.3 * HOURS * 50 * (1 + 1 / 1.1)
    assert r.objective == pytest.approx(expected, rel=1e-9)


def test_a_potable_cap_forces_dry_cooling_too():
    d = _water_case(capacity_m3_per_day=10_000)
    d.water.sources.loc["W", "kind"] = "potable"
    d = replaced(d, water={"potable_cap_m3_per_day": 500.0})
    m, _ = solved(d)
    assert m.tech["S", "air"]() > 0.5


# --------------------------------------------------------------------------- latency


def _demand_case(with_demand: bool):
    # Two sites; A cheap, B pays 1 M USD/MW of land. Targets 200 MW in 2030 (one year).
    # Demand regions R1 (reach: A only) and R2 (reach: B only) want 100 MW each.
    sites = {"A": {"bus_id": ""}, "B": {"bus_id": "", "land_usd_per_mw": 1e6}}
    perf = {("A", "air"): (1.0, 1.0, 0.0), ("B", "air"): (1.0, 1.0, 0.0)}
    d = tiny_data(sites=sites, perf=perf, years=(2030,), targets=(200.0,), rate=0.0)
    if not with_demand:
        return d
    return replaced(
        d,
        policy={
            "demand_links": pd.DataFrame(
                {
                    "region_id": ["R1", "R2"],
                    "site_id": ["A", "B"],
                    "cost_usd_per_mw_year": [0.0, 0.0],
                }
            ),
            "demand_mw": pd.DataFrame({2030: [100.0, 100.0]}, index=["R1", "R2"]),
        },
    )


def test_without_a_latency_limit_one_campus_serves_all():
    m, r = solved(_demand_case(False))
    assert cap(m, "A", 0) == pytest.approx(200) and cap(m, "B", 0) == pytest.approx(0)
    # 10 M fixed + 200 MW * 10 M + energy 200 * 8760 * 50 (one year, no discounting)
    assert r.objective == pytest.approx(10e6 + 2_000e6 + 200 * HOURS * 50, rel=1e-9)


def test_a_latency_limit_forces_a_second_campus():
    m, r = solved(_demand_case(True))
    assert cap(m, "A", 0) == pytest.approx(100) and cap(m, "B", 0) == pytest.approx(100)
    # A: 10 M + 100 * 10 M; B: 10 M + 100 * 11 M; energy 200 * 8760 * 50
    assert r.objective == pytest.approx(20e6 + 1_000e6 + 1_100e6 + 200 * HOURS * 50, rel=1e-9)


# --------------------------------------------------------------------------- phasing


def test_build_limit_per_year_and_earliest_year_phase_the_build():
    # One site may add at most 100 MW per year (2 modules) and may not build in 2030:
    # targets 0, 100, 200 over 2030-2032 -> builds 0, 100, 100.
    sites = {"A": {"bus_id": "", "earliest_period": 1}}
    perf = {("A", "air"): (1.0, 1.0, 0.0)}
    d = tiny_data(
        sites=sites,
        perf=perf,
        years=(2030, 2031, 2032),
        targets=(0.0, 100.0, 200.0),
        campus={"max_modules_per_period": np.array([2.0, 2.0, 2.0])},
    )
    m, _ = solved(d)
    assert [cap(m, "A", t) for t in range(3)] == pytest.approx([0, 100, 200])
    assert m.opens["A", 1]() > 0.5


def test_an_impossible_target_is_explained_by_the_elastic_model():
    from siting.model import elastic

    # 300 MW per year at most (6 modules) cannot reach a 1,000 MW target in one year.
    sites = {"A": {"bus_id": ""}}
    perf = {("A", "air"): (1.0, 1.0, 0.0)}
    d = tiny_data(sites=sites, perf=perf, years=(2030,), targets=(1000.0,), rate=0.0)
    d = replaced(d, campus={"max_modules_per_period": np.array([6.0])})
    r = solve(build_model(d), mip_gap=0.0)
    assert r.status == "infeasible"
    me = build_model(d, elastic=True)
    assert solve(me, mip_gap=0.0).has_solution
    v = elastic.violations(me)
    assert len(v) == 1 and v[0]["slack"] == "target_short_mw"
    assert v[0]["amount"] == pytest.approx(700.0)  # 1,000 - 300


# --------------------------------------------------------------------------- policy


def _two_sites(**site_over):
    sites = {
        "A": {"bus_id": "", "region_id": "north", **site_over.get("A", {})},
        "B": {"bus_id": "", "region_id": "south", "land_usd_per_mw": 1e6, **site_over.get("B", {})},
    }
    perf = {("A", "air"): (1.0, 1.0, 0.0), ("B", "air"): (1.0, 1.0, 0.0)}
    return tiny_data(sites=sites, perf=perf, years=(2030,), targets=(200.0,), rate=0.0)


def test_a_minimum_regional_share_moves_capacity_south():
    # south must hold at least 40 % of 200 MW = 80 MW -> B opens with its minimum 100 MW
    # (modules of 50 and a 100 MW minimum campus), A keeps 100 MW.
    d = replaced(_two_sites(), policy={"region_shares": {"south": (0.4, 1.0)}})
    m, r = solved(d)
    assert cap(m, "A", 0) == pytest.approx(100) and cap(m, "B", 0) == pytest.approx(100)
    assert r.objective == pytest.approx(20e6 + 100 * 10e6 + 100 * 11e6 + 200 * HOURS * 50)


def test_a_maximum_regional_share_caps_the_cheap_region():
    # north may hold at most 50 %: A 100, B 100
    d = replaced(_two_sites(), policy={"region_shares": {"north": (0.0, 0.5)}})
    m, _ = solved(d)
    assert cap(m, "A", 0) == pytest.approx(100) and cap(m, "B", 0) == pytest.approx(100)


def test_required_designated_zones_exclude_sites_outside_them():
    d = _two_sites(B={"zone_id": "z1", "zone_kind": "designated"})
    d = replaced(d, policy={"zone_mode": "require", "zone_min_share": 1.0})
    m, _ = solved(d)
    assert cap(m, "A", 0) == pytest.approx(0) and cap(m, "B", 0) == pytest.approx(200)


def test_a_zone_bonus_large_enough_tips_the_choice():
    # B costs 1 M USD/MW more; a 1.5 M USD/MW zone credit makes it 0.5 M/MW cheaper
    d = _two_sites(B={"zone_id": "z1", "zone_kind": "preferred"})
    d = replaced(d, campus={"zone_bonus_usd_per_mw": 1.5e6})
    m, r = solved(d)
    assert cap(m, "B", 0) == pytest.approx(200)
    assert r.objective == pytest.approx(10e6 + 200 * (11e6 - 1.5e6) + 200 * HOURS * 50)


def test_public_interest_capacity_must_sit_on_eligible_sites():
    # 30 % of 200 MW = 60 MW reserved on eligible site B only -> B opens (100 MW minimum)
    d = replaced(
        _two_sites(),
        policy={"public_share": 0.3, "public_sites": ["B"], "public_techs": {"B": ["air"]}},
    )
    m, _ = solved(d)
    assert cap(m, "B", 0) == pytest.approx(100)
    assert sum(m.public[s, 0]() for s in ["B"]) >= 60 - 1e-6


def test_max_capacity_under_a_budget():
    # One year, no discounting: each MW at A costs 10 M capex + 8760 * 50 = 438,000 energy;
    # A opens for 10 M. Budget 1,000 M: (1,000 M - 10 M) / 10.438 M = 94.8 MW -> 50 MW
    # would not reach the 100 MW minimum campus, so no site... unless the budget allows
    # 100 MW: 10 M + 100 * 10.438 M = 1,053.8 M. With a 1,100 M budget: 100 MW.
    d = replaced(
        _two_sites(),
        policy={"targets_mw": np.array([0.0])},
        goal={"sense": "max_capacity", "budget_usd": 1_100e6},
    )
    m, r = solved(d)
    assert cap(m, "A", 0) + cap(m, "B", 0) == pytest.approx(100)
    assert r.objective == pytest.approx(100)


def test_substation_headroom_limits_what_a_bus_takes():
    d = _line_case(rating_12_mw=1000.0)
    head = np.array([np.nan, 120.0, np.nan])  # bus 2 substation takes at most 120 MW
    m, _ = solved(replaced(d, grid={"headroom_mw": head}), 50 * HOURS * 10 * (1 + 1 / 1.1))
    assert cap(m, "A", 1) == pytest.approx(100) and cap(m, "B", 1) == pytest.approx(100)


def test_waste_heat_sold_lowers_the_cost_by_its_value():
    # Site A on liquid cooling recovers 60 % of 100 MW IT = 60 MW of heat; the sink takes
    # 40 MW at 20 USD/MWh: value 40 * 8760 * 20 = 7,008,000 USD (one year, no discounting)
    sites = {"A": {"bus_id": ""}}
    perf = {("A", "liquid"): (1.0, 1.0, 0.0)}
    d = tiny_data(sites=sites, perf=perf, years=(2030,), targets=(100.0,), rate=0.0)
    base = solved(d)[1].objective
    d = replaced(
        d,
        cooling={"heat_recovery_share": {"liquid": 0.6}},
        policy={
            "heat_links": pd.DataFrame({"sink_id": ["H"], "site_id": ["A"]}),
            "sinks": pd.DataFrame(
                {"demand_mw": [40.0], "price_usd_per_mwh": [20.0]}, index=pd.Index(["H"])
            ),
        },
    )
    _, r = solved(d)
    assert base - r.objective == pytest.approx(40 * HOURS * 20, rel=1e-9)


def test_quadratic_generator_costs_are_approximated_by_secants():
    from siting.inputs.grids.grid import CostCurve
    from siting.model.data import gen_cost_lines

    # cost = 0.01 p^2 + 10 p on [0, 400] in 4 secants: breakpoints 0, 100, 200, 300, 400
    c = gen_cost_lines(CostCurve("polynomial", coefficients=(0.01, 10.0, 0.0)), np.nan, 0, 400)
    assert c.slopes_usd_per_mwh == pytest.approx([11.0, 13.0, 15.0, 17.0])
    # at p = 100 the max of the lines equals the exact 0.01*100^2 + 10*100 = 1,100
    p = 100.0
    assert max(c.intercepts_usd_per_h + c.slopes_usd_per_mwh * p) == pytest.approx(1100.0)
    # MATPOWER piecewise-linear costs are taken exactly: points (0,0), (50,500), (100,1500)
    pw = gen_cost_lines(
        CostCurve("pwl", points=np.array([[0, 0], [50, 500], [100, 1500.0]])), np.nan, 0, 100
    )
    assert pw.slopes_usd_per_mwh == pytest.approx([10.0, 20.0])
    assert pw.intercepts_usd_per_h == pytest.approx([0.0, -500.0])


# --------------------------------------------------------------------------- PTDF form


@pytest.mark.parametrize(
    ("rating", "mesh"), [(120.0, False), (1000.0, False), (120.0, True), (1000.0, True)]
)
def test_ptdf_with_lazy_limits_gives_the_angle_optimum(rating, mesh):
    from siting.pipeline import solve_model

    d = _line_case(rating, mesh)
    base = 50 * HOURS * 10 * (1 + 1 / 1.1)
    ma, ra = solved(d, base)
    dp = replaced(d, grid={"formulation": "ptdf"})
    mp = build_model(dp, baseline_usd=base)
    assert not hasattr(mp, "theta") and len(mp.lazy_limits) == 0
    rp = solve_model(mp, dp, mip_gap=0.0, time_limit_s=60)
    assert rp.status == "optimal"
    assert rp.objective == pytest.approx(ra.objective, rel=1e-9)
    for s in ("A", "B"):
        assert [cap(mp, s, t) for t in (0, 1)] == pytest.approx([cap(ma, s, t) for t in (0, 1)])
    # the flows the PTDF form implies equal the angle form's
    from siting.solve.lazy import flows_numpy

    f = flows_numpy(mp, dp)
    for t in (0, 1):
        angle = [float(ma.flow[br, t, "peak"]()) for br in range(len(d.grid.net.branch_ids))]
        assert f[t, "peak"] == pytest.approx(angle, abs=1e-6)
    # a limit is added only where the unconstrained solution broke one
    info = model_state(mp).lazy_info
    if not mesh:  # radial: line a binds at 120 MW (see above), nothing binds at 1,000 MW
        assert (info.limits_added >= 1) == (rating < 1000.0)


def test_formulation_auto_takes_ptdf_from_100_buses():
    from siting.model.data import AUTO_PTDF_MIN_BUSES, resolve_formulation

    assert AUTO_PTDF_MIN_BUSES == 100
    assert resolve_formulation("auto", 3) == "angle"
    assert resolve_formulation("auto", 99) == "angle"
    assert resolve_formulation("auto", 100) == "ptdf"
    assert resolve_formulation("angle", 10_000) == "angle"
    assert resolve_formulation("ptdf", 3) == "ptdf"
