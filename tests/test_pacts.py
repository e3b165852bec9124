"""Compute pacts (:mod:`siting.model.pacts`, issue 22): chip supply under a licence, security
tiers, energy contracts and public-interest shares, hand-solved on test_model's tiny
instances (PUE 1, utilisation 1, one 8,760 h snapshot, rate 0, one year standing for one).

Units: the model counts accelerators in thousands; 1,000 accelerators x kW = MW.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from test_compute import _add, _gens, _scenario, _solved
from test_model import HOURS, tiny_data, tiny_grid

from siting.core.errors import InputError, ScenarioError
from siting.model.data import ComputeData, replaced
from siting.model.pactdata import PactData, pact_inputs, site_tiers
from siting.results.plan import PACT_COLUMNS, _compute, _pacts
from siting.results.verify import _verify_pacts


def _two_sites(pacts: list[PactData], grid: bool = False):
    """Sites A (land 1 M USD/MW on top of the 10 M USD/MW campus) and B (no land cost),
    both 10 M USD to open, 5 MW modules, no minimum campus; 2030 only, rate 0. OLD: 2.5 kW,
    1 compute unit; NEW: 4.5 kW, 3 units; both 10,000 USD with a 2-year life, so the
    1-year horizon pays half, 5,000 USD each. Target: 60,000 compute units in 2030.
    Energy 50 USD/MWh (no grid) or the grid's 10 USD/MWh generator at bus 1. Security
    tiers: A 2, B 0."""
    sites = {
        "A": {"bus_id": "2" if grid else "", "max_it_mw": 500.0, "land_usd_per_mw": 1e6},
        "B": {"bus_id": "3" if grid else "", "max_it_mw": 500.0},
    }
    perf = {("A", "air"): (1.0, 1.0, 0.0), ("B", "air"): (1.0, 1.0, 0.0)}
    d = tiny_data(
        sites=sites,
        perf=perf,
        years=(2030,),
        targets=(0.0,),
        rate=0.0,
        grid=tiny_grid(1000.0) if grid else None,
        campus={"module_mw": 5.0, "min_campus_mw": 0.0},
    )
    d.campus.site["security_tier"] = [2, 0]  # A meets tier 2, B none
    gens = _gens(OLD={}, NEW={"kw_per_accelerator": 4.5, "compute_per_accelerator": 3.0})
    return replaced(
        d,
        compute=ComputeData(
            generations=gens,
            max_racks={"A": 5000.0, "B": 5000.0},
            compute_targets=np.array([60_000.0]),
        ),
        pacts=pacts,
    )


def _live(m) -> dict:
    return {k: round(1000 * v.value) for k, v in m.acc_live.items() if v.value > 1e-6}


def test_a_pacts_supply_cap_and_security_tier_change_which_sites_get_which_generation():
    # Per compute unit: NEW 5,000 / 3 = 1,667 USD of hardware and 1.5 kW; OLD 5,000 USD
    # and 2.5 kW; a MW costs 10 M (+1 M land at A) and 8,760 x 50 = 0.438 M of energy.
    # Without a pact: 20,000 NEW at B (cheaper than A): 90 MW.
    #   Objective: 10 M + 90 x 10 M + 90 x 0.438 M + 20,000 x 5,000 = 1,049.42 M USD.
    m, r = _solved(_two_sites([]))
    assert _live(m) == {("B", "NEW", 0): 20_000}
    assert r.objective == pytest.approx(10e6 + 900e6 + 90 * HOURS * 50 + 100e6, rel=1e-9)

    # A licence of 10,000 NEW in 2030 (any tier): 10,000 NEW (30,000 units) and 30,000 OLD
    # for the other 30,000 units, all at B: 45 + 75 = 120 MW.
    #   Objective: 10 M + 1,200 M + 120 x 0.438 M + 40,000 x 5,000 = 1,462.56 M USD.
    cap_only = PactData("P", ["A", "B"], ["A", "B"], 0, {("NEW", 0): 10_000.0}, ["NEW"])
    m, r = _solved(_two_sites([cap_only]))
    assert _live(m) == {("B", "NEW", 0): 10_000, ("B", "OLD", 0): 30_000}
    assert r.objective == pytest.approx(10e6 + 1200e6 + 120 * HOURS * 50 + 200e6, rel=1e-9)

    # The same licence at security tier 2, which only A meets: the 10,000 NEW go to A
    # (45 MW, 9 modules); the 30,000 OLD stay at B (75 MW): A's land for them would cost
    # 75 M against B's 10 M to open. The pact's energy contract, 200,000 MWh/year at
    # 30 USD/MWh, replaces the 50 USD/MWh for 200,000 of A's 45 x 8,760 = 394,200 MWh:
    # -4 M USD. Its public share, 0.5 of its compute (30,000 units at A): 15,000 units.
    #   Objective: A 10 M + 45 x 11 M = 505 M; B 10 M + 750 M = 760 M; energy 120 x
    #   0.438 M = 52.56 M - 4 M; hardware 200 M; total 1,513.56 M USD.
    tiered = PactData(
        "P",
        ["A", "B"],
        ["A"],
        2,
        {("NEW", 0): 10_000.0},
        ["NEW"],
        energy_source="ppa",
        energy_usd_per_mwh=30.0,
        energy_mwh_per_year=200_000.0,
        public_share=0.5,
        public_sites=["A"],
    )
    d = _two_sites([tiered])
    m, r = _solved(d)
    assert _live(m) == {("A", "NEW", 0): 10_000, ("B", "OLD", 0): 30_000}
    assert [float(m.cap[s, 0]()) for s in "AB"] == pytest.approx([45.0, 75.0])
    assert sum(v.value for v in m.pact_mwh.values()) == pytest.approx(200_000.0)
    assert float(m.pact_public["P", "A", "NEW", 0].value) >= 15_000 - 1e-6
    assert r.objective == pytest.approx(
        505e6 + 760e6 + 120 * HOURS * 50 - 200_000 * 20 + 200e6, rel=1e-9
    )
    assert r.objective == pytest.approx(1513.56e6, rel=1e-9)

    # the plan's table, and its verification (all checks pass on the solved plan)
    table = _pacts(m, d)
    assert list(table.columns) == PACT_COLUMNS
    row = table.iloc[0]
    assert (row["accelerators_supplied"], row["accelerators_cap"]) == pytest.approx(
        (10_000, 10_000)
    )
    assert row["sites_used"] == "A" and row["energy_used_mwh"] == pytest.approx(200_000)
    assert row["pact_compute_units"] == pytest.approx(30_000)
    assert row["public_compute_units"] >= 15_000 - 1e-6
    compute = _compute(m, d, {"A", "B"})
    sched = pd.DataFrame(
        {"site_id": ["A", "B"], "year": [2030, 2030], "typical_draw_mw": [45.0, 75.0]}
    )
    checks = _pact_checks(d, table, compute, sched)
    assert checks and all(v <= 0 for v in checks.values()), checks


def _pact_checks(d, table, compute, sched):
    plan = SimpleNamespace(pacts=table, compute=compute, schedule=sched)
    out: list = []
    _verify_pacts(plan, d, _add(out))
    return {c[0]: c[1] for c in out}


def test_the_verification_catches_a_pact_broken():
    d = _two_sites(
        [
            PactData(
                "P",
                ["A", "B"],
                ["A"],
                2,
                {("NEW", 0): 10_000.0},
                ["NEW"],
                energy_source="ppa",
                energy_usd_per_mwh=30.0,
                energy_mwh_per_year=200_000.0,
                public_share=0.5,
                public_sites=["A"],
            )
        ]
    )
    row = ["P", 2030, "NEW", 10_000.0, 10_000.0, "A", "ppa", 2e5, 2e5, 30.0, 30_000.0, 0.5, 15e3]
    compute = pd.DataFrame(
        [("A", 2030, "NEW", 10_000.0, 10_000.0, 0.0, 45.0, 500.0, 30_000.0, 500.0)],
        columns=["site_id", "year", "generation", "accelerators_live", "accelerators_new"]
        + ["accelerators_retired", "it_used_mw", "racks", "compute_units", "rack_positions"],
    )
    sched = pd.DataFrame({"site_id": ["A"], "year": [2030], "typical_draw_mw": [45.0]})

    def checks(r=row, c=compute):
        return _pact_checks(d, pd.DataFrame([r], columns=PACT_COLUMNS), c, sched)

    assert all(v <= 0 for v in checks().values())
    # 12,000 supplied against a licence of 10,000
    over = checks([*row[:3], 12_000.0, *row[4:]])
    assert over["pact supply within its licence"] == pytest.approx(2000, rel=1e-3)
    # NEW at B, below the tier (and outside the pact's sites)
    at_b = pd.concat([compute, compute.assign(site_id="B")], ignore_index=True)
    name = "licensed accelerators only under a pact, at sites of its security tier"
    assert checks(c=at_b)[name] == pytest.approx(10_000, rel=1e-3)
    assert checks([*row[:5], "B", *row[6:]])[name] == pytest.approx(10_000, rel=1e-3)
    # more energy than A uses (45 MW x 8,760 h = 394,200 MWh) or the contract allows
    big = [*row[:7], 5e5, 5e5, *row[9:]]
    assert checks(big)["pact energy within its contract and its campuses' use"] > 1e5
    # public share short: 0.5 x 30,000 (recomputed from compute.csv) = 15,000 > 1,000
    short = [*row[:12], 1000.0]
    assert checks(short)["pact public-interest share held"] == pytest.approx(14_000, rel=1e-3)


def test_a_new_build_ppa_relieves_the_grid_at_its_price():
    # Grid: the 10 USD/MWh generator at bus 1; A (bus 2) and B (bus 3). Without a pact,
    # 20,000 NEW at B (90 MW). A pact on B alone (tier 0) with a new-build PPA of 100,000
    # MWh/year at 4 USD/MWh: a flat block of 100,000 / 8,760 = 11.416 MW relieves B's
    # draw in every snapshot; the grid supplies 100,000 MWh less (-1 M USD) and the PPA
    # costs 0.4 M USD: the objective falls by 0.6 M USD, the sites and generations stay.
    base = 50 * HOURS * 10  # the grid's dispatch without campuses (50 MW load at bus 3)
    m0, r0 = _solved(_two_sites([], grid=True), base)
    ppa = PactData(
        "G",
        ["B"],
        ["B"],
        0,
        energy_source="ppa",
        energy_usd_per_mwh=4.0,
        energy_mwh_per_year=100_000.0,
    )
    m, r = _solved(_two_sites([ppa], grid=True), base)
    assert _live(m) == _live(m0) == {("B", "NEW", 0): 20_000}
    assert float(m.pact_ppa_mw["B", 0, "peak"].value) == pytest.approx(100_000 / HOURS)
    assert r.objective == pytest.approx(r0.objective - 100_000 * (10 - 4), rel=1e-9)


def _overlapping(share: float) -> list[PactData]:
    """Two pacts, P1 and P2, on both sites (tier 0), licensing no generation (so all of a
    site's compute is theirs), each reserving ``share`` of it for public use at A only."""
    return [
        PactData(n, ["A", "B"], ["A", "B"], 0, public_share=share, public_sites=["A"])
        for n in ("P1", "P2")
    ]


def test_overlapping_pacts_do_not_count_the_same_public_compute_twice():
    # Both pacts cover A and B and all generations; each asks 50 % of the compute at A and
    # B to be held public at A. 60,000 units cheapest as 20,000 NEW (90 MW).
    # Before the fix each pact could count the same compute at A: A holding half was enough
    # (x_A >= 0.5 (x_A + x_B)), so 45 MW at A and 45 at B: A 10 M + 45 x 11 M = 505 M, B
    # 10 M + 45 x 10 M = 460 M, energy 90 x 0.438 M = 39.42 M, hardware 20,000 x 5,000 =
    # 100 M: 1,104.42 M USD.
    # Now each unit counts for one pact: 0.5 X + 0.5 X = X must be public at A, so all the
    # compute is at A: 10 M + 90 x 11 M = 1,000 M, + 39.42 M + 100 M = 1,139.42 M USD.
    d = _two_sites(_overlapping(0.5))
    m, r = _solved(d)
    assert _live(m) == {("A", "NEW", 0): 20_000}
    held = {p: sum(v.value for k, v in m.pact_public.items() if k[0] == p) for p in ("P1", "P2")}
    assert held == pytest.approx({"P1": 30_000.0, "P2": 30_000.0})
    assert r.objective == pytest.approx(1000e6 + 90 * HOURS * 50 + 100e6, rel=1e-9)
    assert r.objective == pytest.approx(1139.42e6, rel=1e-9)
    table = _pacts(m, d)
    assert table["public_compute_units"].tolist() == pytest.approx([30_000.0, 30_000.0])
    sched = pd.DataFrame({"site_id": ["A"], "year": [2030], "typical_draw_mw": [90.0]})
    checks = _pact_checks(d, table, _compute(m, d, {"A", "B"}), sched)
    assert checks["pact public shares held by distinct compute"] <= 0
    assert all(v <= 0 for v in checks.values()), checks


def test_the_verification_catches_two_pacts_holding_the_same_public_compute():
    # The plan of before the fix: 10,000 NEW (30,000 units) at A and at B; each pact says
    # it holds 30,000 units public at A (half of its 60,000), but A has 30,000 in all: the
    # two claims fit only by counting A's compute twice, 30,000 units over.
    d = _two_sites(_overlapping(0.5))
    compute = pd.DataFrame(
        [
            (s, 2030, "NEW", 10_000.0, 10_000.0, 0.0, 45.0, 500.0, 30_000.0, 500.0)
            for s in ("A", "B")
        ],
        columns=["site_id", "year", "generation", "accelerators_live", "accelerators_new"]
        + ["accelerators_retired", "it_used_mw", "racks", "compute_units", "rack_positions"],
    )
    rows = [[p, 2030, "", 0.0, 0.0, "", "", 0.0, 0.0, 0.0, 60e3, 0.5, 30e3] for p in ("P1", "P2")]
    sched = pd.DataFrame(
        {"site_id": ["A", "B"], "year": [2030, 2030], "typical_draw_mw": [45.0, 45.0]}
    )
    got = _pact_checks(d, pd.DataFrame(rows, columns=PACT_COLUMNS), compute, sched)
    assert got["pact public-interest share held"] <= 0  # each claim alone is its half
    assert got["pact public shares held by distinct compute"] == pytest.approx(30_000, rel=1e-3)
    # one pact at 30,000 and the other at 0 fits (the second one's share then fails)
    rows[1][-1] = 0.0
    got = _pact_checks(d, pd.DataFrame(rows, columns=PACT_COLUMNS), compute, sched)
    assert got["pact public shares held by distinct compute"] <= 0
    assert got["pact public-interest share held"] == pytest.approx(30_000, rel=1e-3)


def test_overlapping_pacts_asking_more_than_all_of_it_have_no_plan():
    # 60 % each of the same compute: 120 % of it public is impossible with any compute at
    # A or B, and the hard 60,000-unit target needs some: no plan. The elastic model names
    # the pacts' public share: with all 60,000 units (20,000 NEW) at A, 0.6 x 60,000 x 2 -
    # 60,000 = 12,000 units short between the two pacts (cheaper in its penalty than
    # leaving the 60,000-unit target short).
    from siting.model import build_model, elastic
    from siting.solve.highs import solve

    d = _two_sites(_overlapping(0.6))
    assert solve(build_model(d), mip_gap=0.0, time_limit_s=60).status == "infeasible"
    me = build_model(d, elastic=True)
    assert solve(me, mip_gap=0.0, time_limit_s=60).has_solution
    v = elastic.violations(me)
    assert {x["requirement"] for x in v} == {"pact public-interest share not met"}
    assert sum(x["amount"] for x in v) == pytest.approx(12_000.0, rel=1e-6)


# --------------------------------------------------------------------------- inputs


def _site() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "zone_id": ["Z1", "", ""],
            "region_id": ["R1", "R1", "R2"],
            "security_tier": [3, 1, 0],
        },
        index=pd.Index(["S1", "S2", "S3"], name="site_id"),
    )


def _inputs(tmp_path, pacts, tiers_given=True):
    sc = _scenario(tmp_path, compute={}, pacts=pacts)
    return pact_inputs(
        sc,
        _site(),
        [2030, 2031],
        generations=["H100", "GB300"],
        known={
            "sites": {"S1", "S2", "S3"},
            "zones": {"Z1", "Z2"},
            "regions": {"R1", "R2"},
            "generators": {"g1"},
        },
        tiers_given=tiers_given,
        public_sites=None,
    )


def test_pact_inputs_resolve_scope_tier_and_supply(tmp_path):
    # zone Z1 (S1) and region R2 (S3): scope S1, S3; tier 1 keeps S1 (tier 3), not S3 (0)
    (p,) = _inputs(
        tmp_path,
        [
            {
                "name": "P",
                "zones": ["Z1"],
                "regions": ["R2"],
                "security_tier": 1,
                "supply_by_year": {2031: {"GB300": 5000}},
                "energy": {"usd_per_mwh": 40, "mwh_per_year": 1e5, "source": "generators"}
                | {"generators": ["g1"]},
            }
        ],
    )
    assert p.scope == ["S1", "S3"] and p.sites == ["S1"]
    assert p.supply == {("GB300", 1): 5000.0} and p.generations == ["GB300"]
    assert p.energy_from == ["g1"] and p.public_sites == ["S1"]
    (everywhere,) = _inputs(tmp_path, [{"name": "Q"}])
    assert everywhere.sites == ["S1", "S2", "S3"]


@pytest.mark.parametrize(
    ("pact", "match"),
    [
        ({"sites": ["S9"]}, r"pacts\[0\] \(P\).sites.*unknown site ID\(s\) 'S9'"),
        ({"zones": ["Z7"]}, r"pacts\[0\] \(P\).zones.*unknown zone ID\(s\) 'Z7'"),
        ({"regions": ["R9"]}, r"pacts\[0\] \(P\).regions.*unknown region ID\(s\) 'R9'"),
        (
            {"supply_by_year": {2030: {"Z9": 1}}},
            r"pacts\[0\] \(P\).supply_by_year.2030.*unknown generation\(s\) 'Z9'",
        ),
        (
            {"energy": {"usd_per_mwh": 1, "mwh_per_year": 1, "source": "generators"}},
            r"source generators needs `generators`",
        ),
    ],
)
def test_a_pact_naming_what_is_not_there_is_refused_by_name(tmp_path, pact, match):
    with pytest.raises((InputError, ScenarioError), match=match):
        _inputs(tmp_path, [{"name": "P", **pact}])


def test_unknown_generators_and_a_tier_without_the_attribute_are_refused(tmp_path):
    energy = {"usd_per_mwh": 1, "mwh_per_year": 1, "source": "generators", "generators": ["gx"]}
    with pytest.raises(InputError, match=r"energy.generators.*unknown generator ID\(s\) 'gx'"):
        _inputs(tmp_path, [{"name": "P", "energy": energy}])
    with pytest.raises(InputError, match=r"security_tier.*requires security tier 2.*no site"):
        _inputs(tmp_path, [{"name": "P", "security_tier": 2}], tiers_given=False)
    # empty and absent tiers are 0; a generated cell (not in the layer) is 0
    layer = pd.DataFrame({"security_tier": [2.0, np.nan]}, index=["S1", "S2"])
    assert site_tiers(layer, ["S1", "S2", "c_1_1"]).tolist() == [2, 0, 0]
    assert site_tiers(None, ["S1"]).tolist() == [0]


def test_pacts_need_the_compute_section_unique_names_and_planning_years(tmp_path):
    with pytest.raises(ScenarioError, match="pacts need the compute section"):
        _scenario(tmp_path, pacts=[{"name": "P"}])
    with pytest.raises(ScenarioError, match=r"names \['P'\] are used more than once"):
        _scenario(tmp_path, compute={}, pacts=[{"name": "P"}, {"name": "P"}])
    with pytest.raises(ScenarioError, match=r"supply_by_year has years \[2040\]"):
        _scenario(tmp_path, compute={}, pacts=[{"name": "P", "supply_by_year": {2040: {}}}])
    with pytest.raises(ScenarioError, match=r"names generations \['GB300'\] that compute"):
        _scenario(
            tmp_path,
            compute={"generations": ["H100"]},
            pacts=[{"name": "P", "supply_by_year": {2030: {"GB300": 1}}}],
        )


# --------------------------------------------------------------------------- whole pipeline


@pytest.fixture(scope="module")
def pact_plan(tmp_path_factory):
    """test_plan's tiny region (targets 100 MW in 2030, 200 MW in 2031; sites S2 and S3,
    the grid's generator at 20 USD/MWh) with S2 at security tier 2, a compute section
    allowing H100 and B200, 40,000 B200 in service by 2031 (all S2's floor holds: 100 MW
    of land at 40 kW a rack, 2,500 racks of 16), and a pact licensing B200 at tier 2
    (25,000 a year in 2030 and 2031) with a new-build PPA of 100,000 MWh/year at
    10 USD/MWh and a public share of 0.25: the whole pipeline, verified and written."""
    import geopandas as gpd
    import yaml
    from test_plan import write_region

    import siting

    d = tmp_path_factory.mktemp("pacts")
    path = write_region(d)
    gpkg = d / "tiny.gpkg"
    sites = gpd.read_file(gpkg, layer="sites")
    sites["security_tier"] = [2, None]
    sites.to_file(gpkg, layer="sites")
    sc = yaml.safe_load(path.read_text())
    sc["compute"] = {"generations": ["H100", "B200"]}
    sc["targets"]["accelerators_by_year"] = {2031: {"B200": 40_000}}
    sc["pacts"] = [
        {
            "name": "licence",
            "security_tier": 2,
            "supply_by_year": {2030: {"B200": 25_000}, 2031: {"B200": 25_000}},
            "energy": {"usd_per_mwh": 10.0, "mwh_per_year": 100_000.0, "source": "ppa"},
            "public_interest_share": 0.25,
        }
    ]
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    out = d / "out"
    return siting.plan(path, out=out), out


def test_a_plan_with_a_pact_writes_and_verifies_its_use(pact_plan):
    # B200 only at S2 (the only tier-2 site); 40,000 in service in 2031 (78 MW at 1.95
    # kW) with at most 25,000 installed a year: at least 15,000 in 2030, and no more, as a
    # cohort installed in 2030 pays two years of its annuity against one; the PPA (10
    # USD/MWh, below the grid's 20) used in full at S2 each year, 100,000 / 8,760 = 11.42
    # MW off its draw in every snapshot
    p, out = pact_plan
    assert all(ch.ok for ch in p.checks), [c for c in p.checks if not c.ok]
    names = {c.name for c in p.checks}
    assert "pact supply within its licence" in names
    assert "licensed accelerators only under a pact, at sites of its security tier" in names
    cp = p.compute
    b200 = cp[cp["generation"] == "B200"]
    assert set(b200["site_id"]) == {"S2"}
    assert b200[b200["year"] == 2031]["accelerators_live"].sum() == pytest.approx(40_000)
    pk = p.pacts
    assert pk["accelerators_supplied"].tolist() == pytest.approx([15_000, 25_000])
    assert (pk["accelerators_supplied"] <= pk["accelerators_cap"] + 1e-6).all()
    assert pk["accelerators_supplied"].sum() == pytest.approx(b200["accelerators_new"].sum())
    assert pk["energy_used_mwh"].tolist() == pytest.approx([100_000.0, 100_000.0])
    assert (pk["public_compute_units"] >= 0.25 * pk["pact_compute_units"] - 1e-3).all()
    relief = p.relief[p.relief["source"] == "pact_ppa"]
    assert relief["relief_mw"].to_numpy() == pytest.approx(100_000 / HOURS)
    # the report's settings: one line per licensed generation and year, the energy and the
    # public share per year, each with the check that recomputes it
    lines = {(ln["key"], ln["year"]): ln for ln in p.settings if ln["key"].startswith("pacts.")}
    sup = lines["pacts.licence.supply_by_year", 2031]
    assert (sup["required"], sup["achieved"], sup["binding"]) == (
        25_000,
        pytest.approx(25_000),
        True,
    )
    en = lines["pacts.licence.energy.mwh_per_year", 2030]
    assert (en["required"], en["achieved"]) == (100_000, pytest.approx(100_000))
    pub = lines["pacts.licence.public_interest_share", 2031]
    assert pub["met"] and pub["required"] == pytest.approx(0.25 * 40_000 * 2.27)
    ok = {c.name: c.ok for c in p.checks}
    assert all(ok[ln["check"]] for ln in lines.values())
    written = pd.read_csv(out / "pacts.csv")
    assert list(written.columns) == PACT_COLUMNS and len(written) == len(pk)


def test_a_tier_on_a_sites_layer_without_tiers_stops_the_plan_by_name(tmp_path):
    # test_plan's sites layer has no security_tier column: a pact at tier 1 is refused
    # before the solve, naming the pact and its field
    import yaml
    from test_plan import write_region

    import siting

    path = write_region(tmp_path)
    sc = yaml.safe_load(path.read_text())
    sc["compute"] = {"generations": ["H100"]}
    sc["pacts"] = [{"name": "secure", "sites": ["S2"], "security_tier": 1}]
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    with pytest.raises(InputError, match=r"pacts\[0\] \(secure\).security_tier.*no site has"):
        siting.plan(path, out=tmp_path / "out")
    sc["pacts"] = [{"name": "secure", "sites": ["S9"]}]
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    with pytest.raises(InputError, match=r"pacts\[0\] \(secure\).sites.*unknown site.*'S9'"):
        siting.plan(path, out=tmp_path / "out")
