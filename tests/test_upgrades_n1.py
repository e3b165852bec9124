"""Grid upgrades (reconductoring, substations) and N-1 security, on hand-solved instances.

The instances are those of ``tests/test_model.py``: bus 1 has a 10 USD/MWh generator, site A
sits at bus 2 (no land cost), site B at bus 3 (1 M USD/MW land) beside a 50 MW base load;
targets 100 MW in 2030 and 200 MW in 2031, 10 % discount rate, modules of 50 MW, campuses
of at least 100 MW, capex 10 M USD/MW, fixed 10 M USD per site. Every optimum below is
worked out in the comments and asserted exactly.

Reference costs (present value, USD), with ``E`` the energy the campuses add
(100 MW in 2030, 200 MW in 2031, 8,760 h at 10 USD/MWh; the same in every plan below):

- "A takes all":    1,010 M + 100 MW x 10 M / 1.1                      + E
- "B opens in 2031": 1,010 M + (10 M + 100 MW x 11 M) / 1.1            + E
  (B's 100 MW cost 1,110 M / 1.1 against A's extra 100 MW at 1,000 M / 1.1: so an upgrade
  that lets A grow is worth taking when it costs less than 110 M USD, paid in 2031.)
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from test_model import HOURS, _line_case, cap

from siting.model import build_model
from siting.model.data import N1, replaced, upgrade_options
from siting.model.state import model_state
from siting.pipeline import solve_model

E = 100 * HOURS * 10 + 200 * HOURS * 10 / 1.1
BASELINE = 50 * HOURS * 10 * (1 + 1 / 1.1)
A_TAKES_ALL = 1_010e6 + 100 * 10e6 / 1.1 + E
B_OPENS = 1_010e6 + (10e6 + 100 * 11e6) / 1.1 + E


def _solve(d):
    m = build_model(d, baseline_usd=BASELINE)
    r = solve_model(m, d, mip_gap=0.0, time_limit_s=60)
    assert r.status == "optimal", r
    return m, r


def _branch_option(d, branch_id: str, added_mw: float, cost_usd: float, lead_years: float):
    table = pd.DataFrame(
        {
            "upgrade_added_mw": [added_mw],
            "upgrade_cost_usd": [cost_usd],
            "upgrade_lead_time_years": [lead_years],
        },
        index=[branch_id],
    )
    return upgrade_options(
        table,
        d.grid.net.branch_ids,
        "upgrade_",
        d.horizon.years,
        "branch_id",
        np.isfinite(d.grid.net.rating_mw),
    )


def _taken(m, var: str) -> list[tuple[int, int]]:
    v = getattr(m, var)
    return [k for k in v if (v[k].value or 0) > 0.5]


# --------------------------------------------------------------------------- upgrades


def test_a_cheap_line_upgrade_lets_the_cheap_site_grow():
    # Line a (bus 1-2) is rated 120 MW: A holds 100 MW and B must open in 2031. An option
    # adds 100 MW to line a for 50 M USD: A then takes 200 MW in 2031 (220 MW rating), and
    # the upgrade is bought in 2031 (paying a year later is cheaper: 50 M / 1.1).
    d = _line_case(rating_12_mw=120.0)
    d = replaced(d, grid={"branch_upgrades": _branch_option(d, "a", 100.0, 50e6, 0.0)})
    m, r = _solve(d)
    assert cap(m, "A", 1) == pytest.approx(200) and cap(m, "B", 1) == pytest.approx(0)
    assert _taken(m, "up_branch") == [(0, 1)]  # branch position 0 (a), period 1 (2031)
    assert r.objective == pytest.approx(A_TAKES_ALL + 50e6 / 1.1, rel=1e-9)
    assert float(m.cost_part["grid_upgrades"]()) == pytest.approx(50e6 / 1.1, rel=1e-9)


def test_an_upgrade_dearer_than_the_alternative_is_not_taken():
    # 200 M USD > 110 M USD (see the module docstring): B opens instead, nothing is bought.
    d = _line_case(rating_12_mw=120.0)
    d = replaced(d, grid={"branch_upgrades": _branch_option(d, "a", 100.0, 200e6, 0.0)})
    m, r = _solve(d)
    assert _taken(m, "up_branch") == []
    assert r.objective == pytest.approx(B_OPENS, rel=1e-9)


def test_an_upgrade_whose_lead_time_ends_after_the_plan_is_not_offered():
    # Lead time 2 years from 2030: in service from 2032, after the last planning year 2031.
    d = _line_case(rating_12_mw=120.0)
    opts = _branch_option(d, "a", 100.0, 1.0, 2.0)
    assert opts.empty
    # lead time 1 year: in service from 2031 at the earliest (period 1)
    opts = _branch_option(d, "a", 100.0, 1.0, 1.0)
    assert opts["first_period"].tolist() == [1]


def test_the_lead_time_decides_when_an_upgrade_can_help():
    # The need for 200 MW on line a comes only in 2031, so a 1-year lead time does not
    # change the plan of the first test; but a target of 200 MW already in 2030 needs it in
    # 2030, which a 1-year lead time forbids: then B must open in 2030.
    d = _line_case(rating_12_mw=120.0)
    d = replaced(
        d,
        policy={"targets_mw": np.array([200.0, 200.0])},
        grid={"branch_upgrades": _branch_option(d, "a", 100.0, 50e6, 1.0)},
    )
    m, _ = _solve(d)
    assert cap(m, "B", 0) == pytest.approx(100)  # B opens in 2030: no upgrade before 2031
    assert all(t == 1 for _, t in _taken(m, "up_branch"))


def test_a_substation_upgrade_raises_its_headroom():
    # Bus 2's substation takes 120 MW (so A holds 100 MW); an option adds 100 MW for 50 M
    # USD. Same arithmetic as the line upgrade: A takes 200 MW, bought in 2031.
    d = _line_case(rating_12_mw=1000.0)
    head = np.array([np.nan, 120.0, np.nan])
    table = pd.DataFrame(
        {
            "substation_upgrade_added_mw": [100.0],
            "substation_upgrade_cost_usd": [50e6],
        },
        index=["2"],
    )
    opts = upgrade_options(
        table,
        d.grid.net.bus_ids,
        "substation_upgrade_",
        d.horizon.years,
        "bus_id",
        np.isfinite(head),
    )
    d = replaced(d, grid={"headroom_mw": head, "bus_upgrades": opts})
    m, r = _solve(d)
    assert cap(m, "A", 1) == pytest.approx(200)
    assert _taken(m, "up_bus") == [(1, 1)]  # bus position 1 ("2"), period 1 (2031)
    assert r.objective == pytest.approx(A_TAKES_ALL + 50e6 / 1.1, rel=1e-9)


# --------------------------------------------------------------------------- N-1


def _mesh_n1(outages="all", emergency_c_mw: float = 160.0, formulation: str = "angle"):
    """The meshed case: lines a (1-2), b (1-3) rated 1,000 MW, c (2-3) 60 MW normal.

    Equal reactances, so with withdrawals d2 at bus 2 and d3 at bus 3 (PTDF, by hand):
    a = (2 d2 + d3) / 3, b = (d2 + 2 d3) / 3, c (2 -> 3) = (d3 - d2) / 3.
    After the outage of a: c = -d2 (all of d2 comes round through b and c).
    After the outage of b: c = d3. After the outage of c: a = d2, b = d3.
    """
    d = _line_case(rating_12_mw=1000.0, mesh=True)
    em = d.grid.net.rating_mw.copy()
    em[2] = emergency_c_mw
    n1 = N1(outages=outages, snapshots=["peak"], radial=[])
    return replaced(d, grid={"rating_emergency_mw": em, "n1": n1, "formulation": formulation})


def test_without_n1_the_cheap_site_takes_everything_on_the_mesh():
    # N-0: A = 200 MW in 2031 gives c = (50 - 200) / 3 = -50 MW, within 60 MW.
    d = replaced(_mesh_n1(), grid={"n1": None})
    m, r = _solve(d)
    assert cap(m, "A", 1) == pytest.approx(200)
    assert r.objective == pytest.approx(A_TAKES_ALL, rel=1e-9)


@pytest.mark.parametrize("formulation", ["angle", "ptdf"])
def test_n1_limits_the_cheap_site_to_what_line_c_survives(formulation):
    # N-1 with c's emergency rating 160 MW: the outage of a puts d2 on c, so A <= 160 MW
    # (150 MW in modules); the outage of b puts d3 = 50 + B on c, so B <= 110 MW.
    # 2031 needs 200 MW: A 150 + B 100 = 250 MW costs more than A 100 + B 100 (the
    # minimum campus is 100 MW), so the plan is "B opens in 2031". Check it survives:
    # outage of a: c = -100 (|100| <= 160); outage of b: c = 150 <= 160.
    d = _mesh_n1(formulation=formulation)
    m, r = _solve(d)
    assert cap(m, "A", 1) == pytest.approx(100) and cap(m, "B", 1) == pytest.approx(100)
    assert r.objective == pytest.approx(B_OPENS, rel=1e-9)
    info = model_state(m).lazy_info
    assert info.n1_added >= 1  # the N-0 solution broke one: (c after the outage of a)
    assert any(br == "c" and k == "a" for br, k, _y, _h in info.n1_monitored)
    # every MIP round after the first was offered the round before's decisions
    assert info.mip_starts == info.mip_rounds - 1
    assert 0 <= info.mip_starts_accepted <= info.mip_starts


def test_ptdf_n1_rows_sum_their_two_flows_without_rounding_noise():
    """In the PTDF form a post-outage row is ``f_br + LODF[br, k] f_k`` over one variable
    pool: the coefficients are summed before the row is made, and the sums that cancel to
    rounding noise are left out (HiGHS would drop them with a warning: "matrix contains ...
    |value| ... at/below tolerance"). By hand (``_mesh_n1``): c after the outage of a is
    ``(d3 - d2) / 3 - (2 d2 + d3) / 3 = -d2``, so that row has no bus-3 term left and
    bus 2's withdrawal enters with coefficient 1 (the row is |post| <= emergency rating)."""
    import pyomo.environ as pyo
    from pyomo.repn import generate_standard_repn

    from siting.model.grid import PTDF_DROP, post_outage_flow_expr, ptdf_flow_expr

    m, _ = _solve(_mesh_n1(formulation="ptdf"))
    rows = list(m.n1_limits.values())
    assert rows, "the N-0 plan broke an N-1 limit, so N-1 rows were added"
    for con in rows:
        repn = generate_standard_repn(con.body, compute_values=True)
        coefs = np.abs(np.asarray(repn.linear_coefs, dtype=float))
        assert (coefs > PTDF_DROP).all(), (con.name, coefs.min())
    # each summed row equals the two flows it sums, at the solution
    st = model_state(m)
    for br, k, t, h in st.n1_monitored:
        lodf_bk = float(st.n1_lodf[br, k])
        summed = pyo.value(post_outage_flow_expr(m, br, k, lodf_bk, t, h))
        apart = pyo.value(ptdf_flow_expr(m, br, t, h)) + lodf_bk * pyo.value(
            ptdf_flow_expr(m, k, t, h)
        )
        assert summed == pytest.approx(apart, abs=1e-6)
    # by hand: c (position 2) after the outage of a (position 0) has LODF -1
    assert float(st.n1_lodf[2, 0]) == pytest.approx(-1.0)


def test_n1_with_an_upgrade_on_c_lets_the_cheap_site_grow_again():
    # +100 MW on c (emergency 260 MW) for 50 M USD: A = 200 MW survives the outage of a
    # (c = -200), and the upgrade (50 M / 1.1) beats opening B (110 M / 1.1 more).
    d = _mesh_n1()
    d = replaced(d, grid={"branch_upgrades": _branch_option(d, "c", 100.0, 50e6, 0.0)})
    m, r = _solve(d)
    assert cap(m, "A", 1) == pytest.approx(200) and cap(m, "B", 1) == pytest.approx(0)
    assert _taken(m, "up_branch") == [(2, 1)]
    assert r.objective == pytest.approx(A_TAKES_ALL + 50e6 / 1.1, rel=1e-9)


def test_n1_on_the_k_most_loaded_checks_only_those_outages():
    # k = 1: in the N-0 solution (A = 200 MW) the most loaded branch is c (50 / 60 = 83 %;
    # a carries 150 / 1,000, b 100 / 1,000), and the outage of c leaves a = d2 = 200 and
    # b = d3 = 50, within 1,000 MW. So nothing is violated and the N-0 plan stands.
    m, r = _solve(_mesh_n1(outages=1))
    assert cap(m, "A", 1) == pytest.approx(200)
    assert r.objective == pytest.approx(A_TAKES_ALL, rel=1e-9)
    assert model_state(m).lazy_info.n1_added == 0
    # a listed outage of a (position 0) alone binds as in the "all" case
    m, r = _solve(_mesh_n1(outages=[0]))
    assert r.objective == pytest.approx(B_OPENS, rel=1e-9)


def test_an_n1_requirement_nothing_can_meet_is_explained():
    # c's emergency rating 60 MW: the outage of a puts all of d2 on c and the outage of b
    # all of d3 = 50 + B, so no campus of 100 MW fits anywhere. The elastic model (what
    # `siting plan` solves to explain an infeasible scenario) names branch c.
    from siting.model import elastic

    d = _mesh_n1(emergency_c_mw=60.0)
    m = build_model(d, baseline_usd=BASELINE)
    assert solve_model(m, d, mip_gap=0.0, time_limit_s=60).status == "infeasible"
    me = build_model(d, elastic=True, baseline_usd=BASELINE)
    assert solve_model(me, d, mip_gap=0.0, time_limit_s=60).has_solution
    viol = elastic.violations(me)
    n1 = [v for v in viol if v["slack"] == "n1_overload_mw"]
    assert n1 and {d.grid.net.branch_ids[v["index"][0]] for v in n1} == {"c"}


def test_n1_from_a_year_leaves_the_earlier_years_alone():
    # Required in 2031 only (emergency 160 MW): 2031 is where A would grow to 200 MW, so
    # the plan is still "B opens in 2031" (2030's A = 100 MW is not the binding year).
    d = _mesh_n1()
    d = replaced(d, grid={"n1": dataclasses.replace(d.grid.n1, periods=[1])})
    _, r = _solve(d)
    assert r.objective == pytest.approx(B_OPENS, rel=1e-9)
    # Required in 2030 only, with c's emergency rating at 110 MW: 2030's A = 100 MW gives
    # c = -100 after the outage of a (within 110), and 2031 is free of N-1, so A grows to
    # 200 MW as in the N-0 plan (which N-1 in 2031 would forbid: c = -200).
    d = _mesh_n1(emergency_c_mw=110.0)
    d = replaced(d, grid={"n1": dataclasses.replace(d.grid.n1, periods=[0])})
    m, r = _solve(d)
    assert cap(m, "A", 0) == pytest.approx(100)
    assert r.objective == pytest.approx(A_TAKES_ALL, rel=1e-9)


def test_lodf_post_contingency_flows_match_the_hand_values():
    # Withdrawals d2 = 100, d3 = 150 (A 100 MW, B 100 MW + 50 MW load), from the module
    # docstring of _mesh_n1: base a = 116.67, b = 133.33, c = 16.67; after the outage of a:
    # b = 250, c = -100; after b: a = 250, c = 150; after c: a = 100, b = 150.
    from siting.network import dc_flow, lodf, post_outage_flows

    d = _mesh_n1()
    inj = np.array([250.0, -100.0, -150.0])
    f = dc_flow(d.grid.net, inj).flow_mw
    assert f == pytest.approx([350 / 3, 400 / 3, 50 / 3])
    post = post_outage_flows(f, lodf(d.grid.net), [0, 1, 2])
    assert post[:, 0] == pytest.approx([0.0, 250.0, -100.0])
    assert post[:, 1] == pytest.approx([250.0, 0.0, 150.0])
    assert post[:, 2] == pytest.approx([100.0, 150.0, 0.0])


# --------------------------------------------------------------------------- end to end


def test_a_plan_buys_the_upgrade_it_needs_and_writes_it(tmp_path):
    # The tiny region of tests/test_plan.py with line b (bus 2-3) rated only 60 MW: site S3
    # behind it cannot reach its 100 MW minimum, and S2 holds at most 100 MW, so the
    # 200 MW target of 2031 needs the upgrade of b (+500 MW, 1 M USD, no lead time).
    import geopandas as gpd
    import yaml
    from test_plan import write_region

    import siting

    path = write_region(tmp_path, rating_23_mw=60.0)
    gpkg = tmp_path / "tiny.gpkg"
    br = gpd.read_file(gpkg, layer="branches")
    br["upgrade_added_mw"] = [np.nan, 500.0]
    br["upgrade_cost_usd"] = [np.nan, 1e6]
    br["upgrade_lead_time_years"] = [np.nan, 0.0]
    br.to_file(gpkg, layer="branches", driver="GPKG")
    p = siting.plan(path, out=tmp_path / "out")
    assert all(c.ok for c in p.checks)
    ups = pd.read_csv(tmp_path / "out" / "upgrades.csv", dtype={"asset_id": str})
    assert ups[["asset", "asset_id", "added_mw", "cost_usd"]].values.tolist() == [
        ["branch", "b", 500.0, 1e6]
    ]
    year = int(ups["year"].iloc[0])
    flows = pd.read_csv(tmp_path / "out" / "flows.csv", dtype={"branch_id": str})
    rating = flows.set_index(["branch_id", "year", "snapshot"])["rating_mw"].xs("peak", level=2)
    assert rating["b", year] == pytest.approx(560.0)
    assert all(rating["b", y] == pytest.approx(60.0) for y in (2030, 2031) if y < year)
    # replayed with its upgrade fixed, the plan costs what it cost; with no upgrade it
    # cannot be operated (S3's draw over b's 60 MW), which names branch b
    from siting.pipeline import replay

    again = replay(path, p.schedule, upgrades=p.upgrades)
    assert again.objective_usd == pytest.approx(p.solve.objective, rel=1e-6)
    none = replay(path, p.schedule, upgrades=p.upgrades.iloc[:0])
    assert none.status == "infeasible"
    assert any("branch b" in v["where"] for v in none.violations)
    # without the option the same scenario has no plan
    sc = yaml.safe_load(path.read_text())
    sc["grid"]["upgrades"] = False
    path.write_text(yaml.safe_dump(sc))
    with pytest.raises(siting.pipeline.InfeasibleError, match="branch b"):
        siting.plan(path, write=False)


def test_n1_on_a_radial_grid_says_no_outage_can_be_checked(tmp_path):
    # The tiny region is a chain 1 - 2 - 3: every outage splits it, so N-1 checks nothing
    # and says so; the plan is the N-0 plan.
    import yaml
    from test_plan import write_region

    import siting

    path = write_region(tmp_path)
    sc = yaml.safe_load(path.read_text())
    sc["grid"]["n_minus_1"] = {"enabled": True}
    path.write_text(yaml.safe_dump(sc))
    p = siting.plan(path, write=False)
    assert any("2 radial branches" in n for n in p.manifest["notes"]), p.manifest["notes"]
    assert all(c.ok for c in p.checks)


def test_an_n1_plan_on_a_meshed_grid_is_verified_and_lists_its_worst_outages(tmp_path):
    # The tiny region closed into a loop by a line c from bus 1 to bus 3 (x 0.02 pu, so
    # it carries a third of what bus 3 draws, by hand: paths 1-3 (0.02) and 1-2-3 (0.02)
    # split equally; it is rated 1,000 MW). Line b (2-3) keeps its 160 MW. After the outage
    # of c, all of bus 3's draw comes over a and b, so N-1 caps S3's peak draw at 160 MW.
    # Without N-1 the plan grows S3 to 200 MW IT (270.8 MW peak draw, measured): b carries
    # only part of it while c is in service. With N-1, S3 stays at 100 MW and S2 opens.
    import geopandas as gpd
    import yaml
    from shapely.geometry import LineString
    from test_plan import at, write_region

    import siting

    path = write_region(tmp_path)
    gpkg = tmp_path / "tiny.gpkg"
    br = gpd.read_file(gpkg, layer="branches")
    extra = gpd.GeoDataFrame(
        {
            "branch_id": ["c"],
            "from_bus": ["1"],
            "to_bus": ["3"],
            "x_pu": [0.02],
            "rating_mw": [1000.0],
        },
        geometry=[LineString([at(5, 10), at(55, 10)])],
        crs=br.crs,
    )
    pd.concat([br, extra], ignore_index=True).to_file(gpkg, layer="branches", driver="GPKG")
    sc = yaml.safe_load(path.read_text())
    sc["grid"]["n_minus_1"] = {"enabled": True}
    path.write_text(yaml.safe_dump(sc))
    p = siting.plan(path, out=tmp_path / "out")
    names = {c.name: c for c in p.checks}
    assert names["N-1: post-contingency flows within emergency ratings"].ok
    cont = pd.read_csv(tmp_path / "out" / "contingencies.csv", dtype=str)
    assert set(cont["branch_id"]) == {"a", "b", "c"}
    assert (cont["loading_pct"].astype(float) <= 100.0 + 1e-3).all()
    # independently: S3's peak draw in the last year is within what b carries after c trips
    last = p.schedule[p.schedule["year"] == 2031]
    s3 = float(last.loc[last["site_id"] == "S3", "peak_draw_mw"].sum())
    assert s3 <= 160.0 + 1e-6
    assert set(last["site_id"]) == {"S2", "S3"}


# --------------------------------------------------------------------------- what-if edits


@pytest.mark.parametrize("formulation", ["angle", "ptdf"])
def test_an_outage_that_cuts_off_a_load_names_the_bus(tmp_path, caplog, formulation):
    # Bus 3 of the tiny region hangs on line b alone; give it 10 MW of load and take b out:
    # nothing can serve it, and the error says which bus and why (not a solver message).
    # Issue 20: said before Pyomo builds the balance rows, so Pyomo logs nothing ("Rule
    # failed when generating expression for Constraint balance", at ERROR, it did).
    import logging

    import geopandas as gpd
    import yaml
    from test_plan import write_region

    import siting
    from siting.core.errors import SitingError

    path = write_region(tmp_path)
    gpkg = tmp_path / "tiny.gpkg"
    bus = gpd.read_file(gpkg, layer="buses")
    bus["load_mw"] = [0.0, 0.0, 10.0]
    bus.to_file(gpkg, layer="buses", driver="GPKG")
    sc = yaml.safe_load(path.read_text())
    sc["grid"]["outages"] = ["b"]
    sc["grid"]["formulation"] = formulation
    path.write_text(yaml.safe_dump(sc))
    caplog.set_level(logging.WARNING, logger="pyomo")
    with pytest.raises(SitingError, match=r"\['3'\] carry 10.0 MW of load.*grid.outages"):
        siting.plan(path, write=False)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("pyomo")] == []


def test_an_unknown_n1_outage_is_named_with_its_key(tmp_path):
    import yaml
    from test_plan import write_region

    import siting
    from siting.core.errors import InputError

    path = write_region(tmp_path)
    sc = yaml.safe_load(path.read_text())
    sc["grid"]["n_minus_1"] = {"enabled": True, "outages": ["a", "zz"]}
    path.write_text(yaml.safe_dump(sc))
    with pytest.raises(InputError, match=r"grid\.n_minus_1\.outages.*\['zz'\]") as e:
        siting.plan(path, write=False)
    assert str(path.resolve()) in str(e.value)


@pytest.mark.parametrize("formulation", ["angle", "ptdf"])
def test_a_load_only_branch_over_its_rating_is_explained_in_either_form(tmp_path, formulation):
    """The tiny line 1 - 2 - 3 with 200 MW of base load at bus 3, which has no generator:
    branch b (2-3, rated 160 MW) carries 200 MW whatever is decided. In the PTDF form that
    limit has no variable (Pyomo rejects it as a trivial constraint); either form must say the
    grid cannot serve its own load and name branch b."""
    import geopandas as gpd
    import yaml
    from test_plan import write_region

    import siting
    from siting.pipeline import GridBaseError

    scenario = write_region(tmp_path)
    buses = gpd.read_file(tmp_path / "tiny.gpkg", layer="buses")
    buses["load_mw"] = [0.0, 0.0, 200.0]
    buses.to_file(tmp_path / "tiny.gpkg", layer="buses")
    raw = yaml.safe_load(scenario.read_text())
    raw["grid"]["formulation"] = formulation
    scenario.write_text(yaml.safe_dump(raw))
    with pytest.raises(GridBaseError, match="own base load") as e:
        siting.plan(scenario, write=False)
    assert "branch b" in str(e.value)


@pytest.mark.parametrize(
    "block", [{"outages": 20}, {"from_year": 2029}, {"outages": "all", "snapshots": "all"}]
)
def test_n1_settings_without_enabled_are_refused_not_silently_off(tmp_path, block):
    # `n_minus_1: {outages: 20, from_year: 2029}` reads as N-1 on the 20 most loaded
    # branches, but enabled defaults to false: the plan was planned without N-1 and said
    # nothing (the national-TX-N1 benchmark instance was written so, and planned N-0).
    import yaml
    from test_plan import write_region

    import siting
    from siting.config.scenario import load_scenario
    from siting.core.errors import InputError

    path = write_region(tmp_path)
    sc = yaml.safe_load(path.read_text())
    sc["grid"]["n_minus_1"] = block
    path.write_text(yaml.safe_dump(sc))
    with pytest.raises(InputError, match=r"grid\.n_minus_1.*not enabled.*enabled: true") as e:
        siting.plan(path, write=False)
    assert str(path.resolve()) in str(e.value)
    # said either way, it loads: off with its settings kept, or on
    for enabled in (False, True):
        sc["grid"]["n_minus_1"] = {**block, "enabled": enabled}
        path.write_text(yaml.safe_dump(sc))
        assert load_scenario(path).grid.n_minus_1.enabled is enabled
