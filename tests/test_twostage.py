"""Demand that may not come: the export market and the two-stage plan, solved by hand.

Every instance is one planning year (2030: discount factor 1, one year of operation), no
grid, PUE 1.0 and energy at 0 USD/MWh, so a plan's cost is its fixed site costs plus
10 M USD per MW IT built, plus the cost of delay of soft targets, minus export sales.
Modules of 50 MW, no minimum campus size. Real HiGHS solves (gap 0).
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pandas as pd
import pytest
from test_compute import _gens
from test_model import solved, tiny_data

from siting.core.errors import ScenarioError
from siting.model.data import ComputeData, replaced
from siting.model.objective import EARN_PARTS, cost_split
from siting.studies.twostage import (
    FirstStage,
    StageTask,
    mean_policy,
    run_tasks,
    scenario_data,
    two_stage,
)

SETTINGS = {"time_limit_s": 60, "mip_gap": 0.0, "threads": 1}
P_SHORT = 15e6  # cost of delay [USD/(MW year)], above the 10 M USD/MW capex


def _data(targets_mw: float = 100.0, **policy):
    # A holds 150 MW (3 modules) and costs 10 M USD to open; B holds 100 MW and costs 20 M.
    sites = {
        "A": {"max_it_mw": 150.0, "fixed_cost_usd": 10e6},
        "B": {"max_it_mw": 100.0, "fixed_cost_usd": 20e6},
    }
    perf = {("A", "air"): (1.0, 1.0, 0.0), ("B", "air"): (1.0, 1.0, 0.0)}
    d = tiny_data(sites=sites, perf=perf, years=(2030,), targets=(targets_mw,))
    return replaced(
        d,
        campus={"min_campus_mw": 0.0},
        grid={"energy_usd_per_mwh": 0.0},
        policy={"shortfall_usd_per_mw_year": P_SHORT, **policy},
    )


def _policy(target_mw: float) -> dict:
    return {"targets_mw": np.array([target_mw]), "shortfall_usd_per_mw_year": P_SHORT}


# --------------------------------------------------------------------------- export


def test_export_sells_capacity_above_the_target_at_its_price():
    # Target 100 MW; the market pays 12 M USD per MW-year, above the 10 M USD/MW capex, so
    # every MW that can be built is: A 150 and B 100 (opening B, 20 M, earns 100 x 2 M =
    # 200 M), 250 MW, 150 above the target sold. Cost 30 M + 250 x 10 M - 150 x 12 M =
    # 730 M USD; the export part is -1,800 M USD, an earning.
    d = _data(export_usd_per_mw_year=12e6, export_max_mw=np.array([np.inf]))
    m, r = solved(d)
    assert m.export_mw[0].value == pytest.approx(150.0)
    assert m.cost_part["export"]() == pytest.approx(-1800e6)
    assert r.objective == pytest.approx(730e6, rel=1e-9)
    assert "export" in EARN_PARTS
    assert cost_split({"export": -600e6})["earned_usd"] == pytest.approx(-600e6)


def test_export_cap_and_a_low_price_leave_the_surplus_unbuilt():
    # Capped at 25 MW: building a third module (50 MW, 500 M) to sell 25 MW (300 M) does
    # not pay, so A builds 100 MW and sells nothing: 10 M + 1,000 M = 1,010 M USD.
    d = _data(export_usd_per_mw_year=12e6, export_max_mw=np.array([25.0]))
    m, r = solved(d)
    assert m.export_mw[0].value == pytest.approx(0.0, abs=1e-6)
    assert r.objective == pytest.approx(1010e6, rel=1e-9)
    # at 8 M USD per MW-year (below capex) nothing is built for the market either
    m2, r2 = solved(_data(export_usd_per_mw_year=8e6, export_max_mw=np.array([np.inf])))
    assert r2.objective == pytest.approx(1010e6, rel=1e-9)


def test_without_the_market_the_model_has_no_export_part():
    m, _ = solved(_data())
    assert m.component("export_mw") is None
    assert "export" not in list(m.P)


# --------------------------------------------------------------------------- two-stage


def test_equal_scenarios_give_the_deterministic_plan():
    # Both scenarios ask 100 MW: every plan is the deterministic one, A with 100 MW for
    # 10 M + 1,000 M = 1,010 M USD; regret 0, VSS 0, the chosen cost equals WS.
    ts = two_stage(
        _data(), ["a", "b"], [_policy(100.0), _policy(100.0)], [0.5, 0.5], settings=SETTINGS
    )
    chosen = ts.candidates[ts.chosen]
    assert chosen["first_stage"] == ts.mean["first_stage"] == FirstStage(("A",), (("A", "air"),))
    assert ts.expected_usd == pytest.approx(1010e6, rel=1e-9)
    assert ts.eev_usd == pytest.approx(ts.expected_usd)
    assert ts.ws_usd == pytest.approx(ts.expected_usd)
    assert ts.vss_usd == pytest.approx(0.0, abs=1.0)
    assert ts.regret_usd() == pytest.approx([0.0, 0.0], abs=1.0)
    for r in chosen["results"]:  # the same schedule: 100 MW in 2030
        assert r["it_mw_by_year"] == {2030: pytest.approx(100.0)}


def _low_high():
    return two_stage(
        _data(), ["low", "high"], [_policy(100.0), _policy(200.0)], [0.5, 0.5], settings=SETTINGS
    )


def test_differing_scenarios_hedge_by_opening_the_extra_site_now():
    # Low 100 MW, high 200 MW, 50/50; mean 150 MW.
    # Own plans: low A 100 MW = 1,010 M; high A 150 + B 50 = 30 M + 2,000 M = 2,030 M
    # (A 150 + 50 MW short would be 10 M + 1,500 M + 750 M = 2,260 M). WS = 1,520 M.
    # Deterministic (150 MW): A alone, 10 M + 1,500 M = 1,510 M (A + B costs 20 M more).
    # EEV, first stage {A}: low 1,010 M; high A 150 + 50 short = 2,260 M; mean 1,635 M.
    # Hedge {A, B}: low 1,010 M + B's 20 M = 1,030 M; high 2,030 M; mean 1,530 M.
    # Chosen {A, B}: VSS = 1,635 - 1,530 = 105 M; gap to WS 10 M; regret low 20 M, high 0.
    ts = _low_high()
    assert ts.mean["first_stage"].sites == ("A",)
    assert ts.candidates[ts.chosen]["first_stage"].sites == ("A", "B")
    assert ts.ws_usd == pytest.approx(1520e6, rel=1e-9)
    assert ts.ws_bound_usd == pytest.approx(1520e6, rel=1e-6)  # at gap 0, the bound is WS
    assert ts.gap_to_ws == pytest.approx(10e6 / 1520e6, rel=1e-6)
    assert ts.eev_usd == pytest.approx(1635e6, rel=1e-9)
    assert ts.expected_usd == pytest.approx(1530e6, rel=1e-9)
    assert ts.expected_usd <= ts.eev_usd
    assert ts.vss_usd == pytest.approx(105e6, rel=1e-9)
    assert ts.regret_usd() == pytest.approx([20e6, 0.0], abs=1.0)


def test_the_chosen_first_stage_is_the_brute_force_optimum():
    # Every first stage of {A, B} evaluated exactly: {} 2,250 M (all short: 0.5 x 1,500 M
    # + 0.5 x 3,000 M), {A} 1,635 M, {B} 1,770 M (low 1,020 M; high 1,020 M + 1,500 M),
    # {A, B} 1,530 M: the least is {A, B}, the chosen one.
    ts = _low_high()
    want = {(): 2250e6, ("A",): 1635e6, ("B",): 1770e6, ("A", "B"): 1530e6}
    base = _data()
    for sites in itertools.chain.from_iterable(itertools.combinations("AB", n) for n in range(3)):
        fs = FirstStage(tuple(sites), tuple((s, "air") for s in sites))
        tasks = [
            StageTask(f"{sites}:{t}", _policy(t), ("sites", "cooling"), fs, settings=SETTINGS)
            for t in (100.0, 200.0)
        ]
        costs = [r["cost_usd"] for r in run_tasks(base, tasks)]
        assert 0.5 * sum(costs) == pytest.approx(want[tuple(sites)], rel=1e-9), sites
    assert min(want, key=want.__getitem__) == ts.candidates[ts.chosen]["first_stage"].sites


def test_the_scenarios_run_as_tasks_on_the_dask_engine():
    from siting.core.engine import dask_client

    with dask_client(workers=1) as client:
        ts = two_stage(
            _data(),
            ["low", "high"],
            [_policy(100.0), _policy(200.0)],
            [0.5, 0.5],
            settings=SETTINGS,
            client=client,
            hedging_rounds=1,
        )
    assert ts.expected_usd == pytest.approx(1530e6, rel=1e-9)


# --------------------------------------------------------------------------- bad input


def _scenario(tmp_path, demand: dict):
    import yaml
    from conftest import Region

    from siting.config.scenario import load_scenario

    path = Region(tmp_path).write()
    raw = yaml.safe_load(path.read_text())
    raw["demand_scenarios"] = demand
    path.write_text(yaml.safe_dump(raw))
    return load_scenario(path)


@pytest.mark.parametrize(
    ("demand", "said"),
    [
        (
            {
                "scenarios": [
                    {"name": "low", "probability": 0.5},
                    {"name": "high", "probability": 0.4},
                ]
            },
            "probabilities sum to 0.9, expected 1",
        ),
        (
            {"scenarios": [{"name": "x", "probability": 0.5}, {"name": "x", "probability": 0.5}]},
            "repeated: ['x']",
        ),
        (
            {"scenarios": [{"name": "x", "probability": 1.0, "targets": {"gw_by_year": {}}}]},
            "unknown target field(s) ['gw_by_year']",
        ),
        (
            {
                "scenarios": [
                    {"name": "x", "probability": 1.0, "targets": {"it_mw_by_year": {1999: 5}}}
                ]
            },
            "demand scenario 'x': targets.it_mw_by_year has years [1999]",
        ),
        (
            {"scenarios": [{"name": "x", "probability": 1.0}], "first_stage": ["sites", "shells"]},
            "first_stage `shells` (each site's floor of rack positions, decided now) needs "
            "the compute section",
        ),
        (
            {
                "scenarios": [
                    {
                        "name": "x",
                        "probability": 1.0,
                        "targets": {"accelerators_by_year": {2030: {"GB300": 1000}}},
                    }
                ]
            },
            "demand scenario 'x': targets in accelerators or compute need the compute section",
        ),
        (
            {"scenarios": [{"name": "x", "probability": 1.0}], "first_stage": ["shells"]},
            "first_stage `shells` needs `sites`",
        ),
    ],
)
def test_bad_demand_scenarios_are_named_errors(tmp_path, demand, said):
    with pytest.raises(ScenarioError) as e:
        _scenario(tmp_path, demand)
    assert said in str(e.value)
    assert "demand_scenarios" in str(e.value)


# --------------------------------------------------------------------------- the command


def test_siting_twostage_writes_the_study_and_each_scenarios_plan(tmp_path):
    # The tiny region (4 buses, targets 200 MW in 2030) with low 100 MW and high 300 MW
    # demand, 50/50, soft targets. The figures must satisfy WS <= chosen <= EEV, each
    # regret = cost under the chosen plan - own best, and every scenario's plan opens the
    # chosen first stage's sites (the same sites whatever demand comes).
    import json

    import yaml
    from conftest import Region
    from typer.testing import CliRunner

    from siting.cli import app

    region = Region(tmp_path / "region")
    region.root.mkdir()
    path = region.write()
    raw = yaml.safe_load(path.read_text())
    raw["targets"]["shortfall_usd_per_mw_year"] = 20e6
    raw["policy"] = {"export": {"usd_per_mw_year": 1e5, "max_mw_by_year": {2030: 50}}}
    raw["demand_scenarios"] = {
        "hedging_rounds": 1,
        "scenarios": [
            {"name": "low", "probability": 0.5, "targets": {"it_mw_by_year": {2030: 100}}},
            {"name": "high", "probability": 0.5, "targets": {"it_mw_by_year": {2030: 300}}},
        ],
    }
    path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "study"
    res = CliRunner().invoke(
        app, ["twostage", str(path), "--out", str(out), "--workers", "1", "--no-tiles", "-q"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "twostage.json").read_text())
    fig = doc["figures"]
    assert fig["ws_bound_usd"] <= fig["expected_cost_usd"] + 1.0
    assert fig["expected_cost_usd"] <= fig["eev_usd"] + 1.0
    assert doc["versions"] and doc["scenario_digest_sha256"]
    rows = pd.read_csv(out / "scenarios.csv").set_index("scenario")
    assert list(rows.index) == ["low", "high"]
    for n in rows.index:
        r = rows.loc[n]
        assert r.regret_usd == pytest.approx(r.cost_under_chosen_usd - r.own_best_cost_usd, abs=1.0)
        assert r.regret_usd >= -1.0
        assert r.it_mw_last_year > 0  # a shortfall at 20 M USD/MW-year is dearer than building
    chosen = next(c for c in fig["candidates"] if c["label"] == fig["chosen"])
    for n in ("low", "high"):
        sched = pd.read_csv(out / "plans" / n / "schedule.csv")
        man = json.loads((out / "plans" / n / "manifest.json").read_text())
        assert man["export"]["usd_per_mw_year"] == 1e5  # the market reached the model
        assert 0.0 <= man["export"]["export_mw_by_year"]["2030"] <= 50.0 + 1e-6
        assert any("two-stage plan" in note for note in man["notes"])
        opened = sorted(set(sched.loc[sched["it_mw"] > 0, "site_id"].astype(str)))
        assert set(opened) <= set(chosen["first_stage"]["sites"])
    assert "Two-stage plan" in (out / "index.html").read_text()


def test_with_hard_targets_a_first_stage_that_cannot_serve_a_scenario_costs_infinity():
    # Hard targets, low 100 MW / high 250 MW. Low's own first stage {A} cannot reach 250 MW
    # (A holds 150): no plan in high, expected cost infinite. {A, B} (the deterministic
    # plan's, for 175 MW) serves both: low 10 + 20 + 1,000 = 1,030 M, high 30 + 2,500 =
    # 2,530 M, expected 1,780 M = EEV; regret low 20 M (own 1,010 M), high 0.
    base = replaced(_data(), policy={"shortfall_usd_per_mw_year": None})
    hard = [{"targets_mw": np.array([t]), "shortfall_usd_per_mw_year": None} for t in (100, 250)]
    ts = two_stage(base, ["low", "high"], hard, [0.5, 0.5], settings=SETTINGS)
    by_sites = {c["first_stage"].sites: c for c in ts.candidates}
    assert by_sites[("A",)]["expected_usd"] == float("inf")
    assert by_sites[("A",)]["results"][1]["status"] == "infeasible"
    assert ts.candidates[ts.chosen]["first_stage"].sites == ("A", "B")
    assert ts.expected_usd == pytest.approx(1780e6, rel=1e-9)
    assert ts.eev_usd == pytest.approx(1780e6, rel=1e-9)
    assert ts.regret_usd() == pytest.approx([20e6, 0.0], abs=1.0)


def test_demand_scenarios_need_a_least_cost_objective(tmp_path):
    import yaml
    from conftest import Region

    from siting.config.scenario import load_scenario

    path = Region(tmp_path).write()
    raw = yaml.safe_load(path.read_text())
    raw["objective"] = {"sense": "max_capacity", "budget_usd": 1e9}
    raw["demand_scenarios"] = {"scenarios": [{"name": "only", "probability": 1.0}]}
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ScenarioError, match="need objective.sense min_cost"):
        load_scenario(path)


def test_sites_alone_as_the_first_stage_and_hedging_offers_candidates():
    # first_stage: [sites] (cooling decided per scenario): the same numbers as with cooling,
    # one technology per site; progressive hedging ran (the scenarios' own first stages
    # differ) and offered its rounded consensus as a candidate.
    ts = two_stage(
        _data(),
        ["low", "high"],
        [_policy(100.0), _policy(200.0)],
        [0.5, 0.5],
        decide=("sites",),
        settings=SETTINGS,
        hedging_rounds=2,
    )
    assert ts.candidates[ts.chosen]["first_stage"] == FirstStage(("A", "B"))
    assert ts.expected_usd == pytest.approx(1530e6, rel=1e-9)
    sources = [src for c in ts.candidates for src in c["sources"]]
    assert any(src.startswith("hedging round") for src in sources)


def test_a_network_with_its_factor_cached_pickles_for_the_workers():
    # The model's data go to Dask workers pickled; the DC network's cached SuperLU factor
    # cannot be pickled, so it is left out and rebuilt: the same flows after the round trip.
    import pickle

    from test_model import tiny_grid

    from siting.network import dc_flow, dc_network

    net = dc_network(tiny_grid())
    inj = np.zeros(net.n_bus)
    inj[0], inj[-1] = 100.0, -100.0
    before = dc_flow(net, inj).flow_mw  # builds the factor
    again = pickle.loads(pickle.dumps(net))
    np.testing.assert_allclose(dc_flow(again, inj).flow_mw, before)


# --------------------------------------------------------------------------- compute demand


def _compute_data():
    # The instances above with a compute part: one generation "X" of 2.5 kW per accelerator
    # (1,000 accelerators = 2.5 MW IT), 20 per rack, 10,000 USD each, a 2-year life; no IT MW
    # target, soft accelerator targets (the same cost of delay per MW they would take).
    gen = _gens(X={})  # test_compute's defaults: exactly the figures above
    comp = ComputeData(
        generations=gen,
        max_racks={"A": 10_000.0, "B": 10_000.0},
        building_usd_per_rack=0.0,
        disposal_usd_per_accelerator=0.0,
        discount_rate=0.0,
        accelerator_targets={},
        compute_targets=np.zeros(1),
    )
    return replaced(_data(targets_mw=0.0), compute=comp)


def _acc_policy(count: float) -> dict:
    return {
        **_policy(0.0),
        "accelerator_targets": {("X", 0): count},
        "compute_targets": np.zeros(1),
    }


def test_demand_scenarios_in_accelerators_replace_the_compute_targets():
    # Low asks 20,000 accelerators of X (20 x 2.5 = 50 MW IT: one 50 MW module), high 40,000
    # (100 MW: two modules); each scenario's own plan builds exactly that, so the demand
    # scenarios' accelerator targets reach the model (they live in the compute part, not
    # the policy part). Hardware: 10,000 USD over a 2-year life at rate 0, one year inside
    # the horizon: 5,000 USD each. High's second module: 500 M + 20,000 x 5,000 = 600 M
    # against 20,000 short = 50 MW x 15 M = 750 M: built. The expected-value problem asks
    # the probability-weighted mean, 0.5 x 20,000 + 0.5 x 40,000 = 30,000: a second module
    # (500 M + 10,000 x 5,000 = 550 M) costs more than 10,000 short (25 MW x 15 M = 375 M),
    # so it keeps one module, 50 MW.
    base = _compute_data()
    low, high = _acc_policy(20_000.0), _acc_policy(40_000.0)
    assert scenario_data(base, low).compute.accelerator_targets == {("X", 0): 20_000.0}
    assert scenario_data(base, low).policy.targets_mw.tolist() == [0.0]
    mean = mean_policy([low, high], [0.5, 0.5])
    assert mean["accelerator_targets"] == {("X", 0): pytest.approx(30_000.0)}
    ts = two_stage(base, ["low", "high"], [low, high], [0.5, 0.5], settings=SETTINGS)
    got = [r["it_mw_by_year"][2030] for r in ts.own]  # in the scenarios' order
    assert got == [pytest.approx(50.0), pytest.approx(100.0)]
    assert ts.mean["it_mw_by_year"][2030] == pytest.approx(50.0)


def test_shells_decided_now_hedge_by_building_the_larger_floor():
    # First stage: sites and shells (the floor, 20 accelerators per rack: 1,000 accelerators
    # take 50 rack positions at 10,000 USD each, 0.5 M USD). Low 20,000 accelerators (50 MW,
    # 1,000 racks), high 40,000 (100 MW, 2,000 racks), 50/50. Per 20,000 accelerators: a
    # 50 MW module 500 M, hardware 100 M (5,000 USD each), floor 10 M; short: 20,000 x 2.5 kW
    # = 50 MW x 15 M = 750 M. Site A (10 M) holds them all.
    # Own: low 10 + 500 + 100 + 10 = 620 M; high 10 + 1,000 + 200 + 20 = 1,230 M
    # (one module and 20,000 short would be 620 + 750 = 1,370 M). WS = 925 M.
    # Deterministic (mean 30,000): one module and 10,000 short, 620 + 375 = 995 M (a second
    # module, 500 + 50 + 5 = 555 M, costs more than the 375 M short): floor 1,000 racks.
    # EEV, floor 1,000 fixed: low 620 M; high holds only 20,000: 620 + 750 = 1,370 M; 995 M.
    # Hedge, floor 2,000 now (own:high's, and the union's): low 620 + 10 = 630 M; high
    # 1,230 M; expected 930 M. VSS = 65 M; regret low 10 M, high 0; gap to WS 5 M.
    base = _compute_data()
    base = replaced(base, compute=dataclasses.replace(base.compute, building_usd_per_rack=1e4))
    low, high = _acc_policy(20_000.0), _acc_policy(40_000.0)
    ts = two_stage(
        base,
        ["low", "high"],
        [low, high],
        [0.5, 0.5],
        decide=("sites", "shells"),
        settings=SETTINGS,
    )
    assert ts.mean["first_stage"].racks_by_site() == {"A": pytest.approx(1000.0)}
    chosen = ts.candidates[ts.chosen]["first_stage"]
    assert chosen.sites == ("A",)
    assert chosen.racks_by_site() == {"A": pytest.approx(2000.0)}
    assert ts.ws_usd == pytest.approx(925e6, rel=1e-9)
    assert ts.eev_usd == pytest.approx(995e6, rel=1e-9)
    assert ts.expected_usd == pytest.approx(930e6, rel=1e-9)
    assert ts.vss_usd == pytest.approx(65e6, rel=1e-9)
    assert ts.regret_usd() == pytest.approx([10e6, 0.0], abs=1.0)
    # with sites alone decided now, the floor follows each scenario: the WS plans, 925 M
    free = two_stage(
        base, ["low", "high"], [low, high], [0.5, 0.5], decide=("sites",), settings=SETTINGS
    )
    assert free.expected_usd == pytest.approx(925e6, rel=1e-9)
