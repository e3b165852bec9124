"""Relief: variable families that lower a campus's draw from the grid
(:func:`siting.model.power.register_relief`), the common ground of curtailment, on-site
generation and storage.

The instance is test_model's radial 3-bus grid: site A at bus 2 behind line a (120 MW), site
B at bus 3 (1 M USD/MW of land); one snapshot of 8,760 h, PUE 1, utilisation 1. Without
relief line a lets A hold 100 MW and B opens in 2031 with 100 MW (test_model's hand
calculation). Here A gets a free relief of up to ``R`` MW in every year and snapshot
(think of on-site output at no cost): its draw from the grid is its IT MW less the relief.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from test_model import HOURS, _line_case

from siting.model import elastic
from siting.model.data import ModelData, replaced
from siting.model.grid import add_grid
from siting.model.metrics import add_metrics
from siting.model.objective import add_objective
from siting.model.policy import add_policy
from siting.model.power import grid_draw, register_relief
from siting.model.sites import add_sites
from siting.model.state import model_state
from siting.model.water import add_water
from siting.pipeline import solve_model

BASE = 50 * HOURS * 10 * (1 + 1 / 1.1)


def _build(d: ModelData, relief_mw: float) -> pyo.ConcreteModel:
    """build_model's families, with a free relief of at most ``relief_mw`` at site A."""
    m = pyo.ConcreteModel()
    elastic.enable(m, False)
    add_sites(m, d)
    from siting.model.power import add_power

    add_power(m, d)
    m.onsite = pyo.Var(["A"], m.T, m.H, bounds=(0.0, relief_mw))
    register_relief(m, m.onsite, 1.0, ["A"], "onsite_test")
    add_grid(m, d)
    add_water(m, d)
    add_policy(m, d)
    add_metrics(m, d, 0.0)
    add_objective(m, d, BASE)
    return m


@pytest.mark.parametrize("formulation", ["angle", "ptdf"])
def test_relief_lets_the_cheap_site_take_everything(formulation):
    d = replaced(_line_case(120.0), grid={"formulation": formulation})
    m = _build(d, relief_mw=100.0)
    r = solve_model(m, d, mip_gap=0.0, time_limit_s=60)
    assert r.status == "optimal"
    # A grows to 200 MW in 2031: its draw from the grid, 200 - 100 = 100 MW, fits line a
    # (120 MW); 250 MW would not be needed (target 200). B never opens.
    assert float(m.cap["A", 1]()) == pytest.approx(200.0)
    assert float(m.cap["B", 1]()) == pytest.approx(0.0)
    # By hand, USD present value (discount 1/1.1 for 2031), relief used in full since the
    # energy it saves is worth 10 USD/MWh:
    #   A: fixed 10 M + 100 MW x 10 M/MW (2030), + 100 MW x 10 M / 1.1 (2031)
    #   energy added: (100 - 100) MW in 2030, (200 - 100) MW x 8760 h x 10 USD/MWh / 1.1
    expected = 10e6 + 100 * 10e6 + 100 * 10e6 / 1.1 + 100 * HOURS * 10 / 1.1
    assert r.objective == pytest.approx(expected, rel=1e-9)
    assert float(pyo.value(grid_draw(m, "A", 1, "peak"))) == pytest.approx(100.0)


def test_the_ptdf_rows_and_flows_see_the_relief_as_the_angle_form_does():
    d = _line_case(120.0, mesh=True)  # loop flows: every line feels bus 2's injection
    ma = _build(d, relief_mw=40.0)
    ra = solve_model(ma, d, mip_gap=0.0, time_limit_s=60)
    dp = replaced(d, grid={"formulation": "ptdf"})
    mp = _build(dp, relief_mw=40.0)
    rp = solve_model(mp, dp, mip_gap=0.0, time_limit_s=60)
    assert ra.status == rp.status == "optimal"
    assert rp.objective == pytest.approx(ra.objective, rel=1e-9)
    from siting.solve.lazy import flows_numpy

    f = flows_numpy(mp, dp)
    for t in (0, 1):
        angle = [float(ma.flow[br, t, "peak"]()) for br in range(len(d.grid.net.branch_ids))]
        assert f[t, "peak"] == pytest.approx(angle, abs=1e-6)
    # the relief is in the rows' variable pools with its sign (+PTDF: it injects)
    mp_maps = model_state(mp).inj_maps
    assert mp_maps is not None and mp_maps["relief"] == [("onsite", "A")]
    assert np.array_equal(mp_maps["relief_coef"], [1.0])


def test_relief_eases_the_substation_headroom_in_peak_snapshots():
    # bus 2 takes at most 120 MW (test_model: without relief A stops at 100 MW and B opens);
    # with 100 MW of relief A's 200 MW draws 100 MW from the grid and B stays shut
    d = replaced(_line_case(1000.0), grid={"headroom_mw": np.array([np.nan, 120.0, np.nan])})
    m = _build(d, relief_mw=100.0)
    r = solve_model(m, d, mip_gap=0.0, time_limit_s=60)
    assert r.status == "optimal"
    assert m.component("headroom") is None and len(m.headroom_relief) == 2
    assert float(m.cap["A", 1]()) == pytest.approx(200.0)
    assert float(m.cap["B", 1]()) == pytest.approx(0.0)


def test_relief_registered_after_the_grid_is_refused():
    d = _line_case(120.0)
    m = _build(d, relief_mw=10.0)
    m.late = pyo.Var(["A"], m.T, m.H)
    with pytest.raises(ValueError, match="after the grid family was built"):
        register_relief(m, m.late, 1.0, ["A"], "late")
