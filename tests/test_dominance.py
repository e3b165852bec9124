"""Dominance screening (siting.model.dominance) on instances worked out by hand.

The grid is test_model's radial 3-bus grid: bus 1 holds the only generator (2,000 MW),
line a (1-2) carries exactly what bus 2 draws, line b (1-3, 1,000 MW) what bus 3 draws
plus bus 3's 50 MW load. PUE 1.0, so a campus draws its IT MW.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_model import cap, solved, tiny_data, tiny_grid

from siting.model import build_model
from siting.model.data import replaced
from siting.model.dominance import bus_capacity_mw, screen
from siting.solve.highs import solve

AIR = (1.0, 1.0, 0.0)


def _bus2_case(rating_a_mw: float, targets=(100.0, 300.0)):
    # Three sites at bus 2, each at most 100 MW, dearer in turn: S1 < S2 < S3 on land and
    # fixed cost, so S1 dominates S2 and S3, S2 dominates S3. T at bus 3 pays 2 M USD/MW
    # of land (dearer than any bus-2 site).
    sites = {
        "S1": {"bus_id": "2", "max_it_mw": 100.0, "land_usd_per_mw": 0.0, "fixed_cost_usd": 10e6},
        "S2": {"bus_id": "2", "max_it_mw": 100.0, "land_usd_per_mw": 1e5, "fixed_cost_usd": 11e6},
        "S3": {"bus_id": "2", "max_it_mw": 100.0, "land_usd_per_mw": 2e5, "fixed_cost_usd": 12e6},
        "T": {"bus_id": "3", "max_it_mw": 1000.0, "land_usd_per_mw": 2e6},
    }
    perf = {(s, "air"): AIR for s in sites}
    return tiny_data(sites=sites, perf=perf, targets=targets, grid=tiny_grid(rating_a_mw))


def test_bus_capacity_is_its_branch_ratings_plus_generation():
    d = _bus2_case(rating_a_mw=220.0)
    cap_mw, head = bus_capacity_mw(d)
    # bus 1: lines a and b (220 + 1,000) + its 2,000 MW generator; bus 2: line a only;
    # bus 3: line b only (its 50 MW load is positive, so it gives no extra room)
    assert cap_mw == pytest.approx([3220.0, 220.0, 1000.0])
    assert np.isinf(head).all()  # no substation headroom given


def test_a_site_whose_dominators_would_overfill_its_bus_is_left_out():
    d = _bus2_case(rating_a_mw=220.0)
    d2, info = screen(d)
    # S2 has 1 dominator: S2 open needs S1 open too, 2 x 100 MW = 200 <= 220: kept.
    # S3 has 2: 3 x 100 = 300 MW > 220 MW line a can carry: left out.
    assert info.removed == ["S3"]
    assert info.dominated == 2
    assert info.cuts == [("S2", "S1")]
    assert d2.campus.sites == ["S1", "S2", "T"] and "S3" not in d2.campus.site.index
    assert all(s != "S3" for s, _ in d2.cooling.allowed)
    assert "S3" not in d2.cooling.perf.index.get_level_values(0)
    assert any("dominance screening: 2 of 4 candidate sites are dominated" in n for n in d2.notes)


def test_screening_keeps_the_optimum():
    # By hand: 2030 target 100 -> S1 100 MW. 2031 target 300: bus 2 takes at most 220 MW,
    # so S1 100 + S2 100 there and T 100 at bus 3 (S3 would be a third 100 MW campus on
    # line a: 300 > 220). The screened model (S3 gone, open[S2] <= open[S1]) finds the same
    # plan and objective as the full one, both at gap 0.
    d = _bus2_case(rating_a_mw=220.0)
    m_full, r_full = solved(d)
    m_scr, r_scr = solved(screen(d)[0])
    assert r_scr.objective == pytest.approx(r_full.objective, rel=1e-9)
    for s in ("S1", "S2", "T"):
        assert cap(m_scr, s, 1) == pytest.approx(cap(m_full, s, 1))
    assert cap(m_full, "S3", 1) == pytest.approx(0)
    assert cap(m_scr, "S1", 1) == pytest.approx(100) and cap(m_scr, "S2", 1) == pytest.approx(100)
    # and the removed site cannot do better: forced open in the full model, dearer
    m = build_model(d)
    m.open["S3"].fix(1)
    r = solve(m, mip_gap=0.0, time_limit_s=60)
    assert r.objective > r_full.objective


def test_with_room_for_all_three_nothing_is_left_out_and_only_cuts_are_added():
    d = _bus2_case(rating_a_mw=1000.0)
    d2, info = screen(d)
    assert info.removed == []
    # each dominated site gets a cut to each dominator, nearest first (S3: S2 then S1)
    assert info.cuts == [("S2", "S1"), ("S3", "S2"), ("S3", "S1")]
    m, r = solved(d2)
    _, r_full = solved(d)
    assert r.objective == pytest.approx(r_full.objective, rel=1e-9)
    assert len(m.dominance) == 3


def test_identical_sites_are_ordered_by_position_not_both_ways():
    sites = {"A": {"bus_id": "2"}, "B": {"bus_id": "2"}}
    perf = {(s, "air"): AIR for s in sites}
    d = tiny_data(sites=sites, perf=perf, grid=tiny_grid(1000.0))
    _, info = screen(d)
    assert info.cuts == [("B", "A")]  # open[B] <= open[A] only; never A <= B as well


@pytest.mark.parametrize(
    "b_over",
    [
        {"max_it_mw": 2000.0},  # B may grow larger: A cannot take every schedule of B
        {"bus_id": "3"},  # another bus: another grid effect
        {"region_id": "south"},  # region shares could tell them apart
        {"zone_id": "z1", "zone_kind": "designated"},
    ],
)
def test_a_cheaper_site_does_not_dominate_one_it_cannot_replace(b_over):
    sites = {"A": {"bus_id": "2"}, "B": {"bus_id": "2", "land_usd_per_mw": 1e6, **b_over}}
    perf = {(s, "air"): AIR for s in sites}
    d = tiny_data(sites=sites, perf=perf, grid=tiny_grid(1000.0))
    _, info = screen(d)
    assert info.dominated == 0 and info.cuts == []


def test_a_site_with_another_climate_or_cooling_choice_is_not_compared():
    sites = {"A": {"bus_id": "2"}, "B": {"bus_id": "2", "land_usd_per_mw": 1e6}}
    # B's PUE is lower: it draws less for the same IT, so A cannot stand in for it
    perf = {("A", "air"): (1.3, 1.4, 0.0), ("B", "air"): (1.2, 1.3, 0.0)}
    d = tiny_data(sites=sites, perf=perf, grid=tiny_grid(1000.0))
    assert screen(d)[1].dominated == 0
    # the same climate, but B may also use liquid cooling and A may not
    perf = {("A", "air"): AIR, ("B", "air"): AIR, ("B", "liquid"): AIR, ("A", "liquid"): AIR}
    d = tiny_data(sites=sites, perf=perf, grid=tiny_grid(1000.0))
    d = replaced(d, cooling={"allowed": [("A", "air"), ("B", "air"), ("B", "liquid")]})
    assert screen(d)[1].dominated == 0


def test_water_reach_counts():
    sites = {"A": {"bus_id": "2"}, "B": {"bus_id": "2", "land_usd_per_mw": 1e6}}
    perf = {(s, "air"): AIR for s in sites}
    d = tiny_data(sites=sites, perf=perf, grid=tiny_grid(1000.0))
    links = pd.DataFrame(
        {
            "site_id": ["A", "B"],
            "source_id": ["w1", "w1"],
            "distance_km": [5.0, 3.0],
            "pipeline_usd": [5e6, 3e6],
        }
    )
    # B reaches the water source by a shorter pipeline: not dominated
    assert screen(replaced(d, water={"links": links}))[1].dominated == 0
    # A's pipeline no longer than B's: dominated
    links.loc[0, ["distance_km", "pipeline_usd"]] = [3.0, 3e6]
    assert screen(replaced(d, water={"links": links}))[1].cuts == [("B", "A")]


def test_substation_headroom_bounds_the_peak_draw():
    # line a rated 1,000 MW, but bus 2's substation takes 250 MW (no upgrade offered):
    # S3 open would need S1, S2, S3 at 100 MW each = 300 MW > 250: left out.
    d = _bus2_case(rating_a_mw=1000.0)
    d = replaced(d, grid={"headroom_mw": np.array([np.nan, 250.0, np.nan])})
    d2, info = screen(d)
    assert info.removed == ["S3"]
    _, r_full = solved(d)
    _, r = solved(d2)
    assert r.objective == pytest.approx(r_full.objective, rel=1e-9)


def _with_solar(d, sites):
    """``d`` with an on-site solar option (availability 0.5 in the one snapshot) at
    ``sites`` (siting.model.onsite)."""

    opts = pd.DataFrame(
        {
            "technology": ["solar_pv"],
            "annual_usd_per_mw": [1e5],
            "variable_usd_per_mwh": [0.0],
            "co2_t_per_mwh": [0.0],
            "water_m3_per_mwh": [0.0],
            "storage_mwh_per_mw": [0.0],
            "round_trip_efficiency": [1.0],
            "max_mw_per_site": [500.0],
        },
        index=pd.Index(["solar"], name="option"),
    )
    avail = pd.DataFrame(
        {"peak": [0.5] * len(sites)},
        index=pd.MultiIndex.from_tuples([(s, "solar") for s in sites], names=["site_id", "option"]),
    )
    return replaced(d, onsite={"options": opts, "availability": avail})


def test_on_site_options_keep_a_site_from_being_dominated_by_one_without():
    # S3 alone may build solar: S1 and S2 no longer dominate it (solar lets it take what
    # they cannot), and it is never removed for the bus's lack of room (its output, or
    # islanding, serves it without line a); S1 still dominates S2 as before
    d = _with_solar(_bus2_case(rating_a_mw=220.0), ["S3"])
    _, info = screen(d)
    assert info.removed == [] and info.dominated == 1 and info.cuts == [("S2", "S1")]
    # the same options at S2 and S3: S2 dominates S3 again (cheaper, equal otherwise), but
    # S3 is kept, not removed: 2 x 100 MW of campuses with solar need not pass line a
    d = _with_solar(_bus2_case(rating_a_mw=220.0), ["S2", "S3"])
    _, info = screen(d)
    assert info.removed == [] and ("S3", "S2") in info.cuts
