"""Time to power across the families: a flexible connection or on-site supply lets a campus
run before its firm grid connection (siting.model.data.first_power,
siting.model.power.add_power_years), hand-solved on test_model's radial 3-bus case.

The instance: site A at bus 2 (no land cost), site B at bus 3 (1 M USD/MW of land), both at
most 1,000 MW, line a rated 1,000 MW (it never binds), one 8,760 h snapshot, PUE 1,
utilisation 1, a 10 USD/MWh generator, targets 100 MW (2030) and 200 MW (2031), discount
10 %. Bus 2 waits in the queue: A's firm connection is 2031.

Without any way round the queue, only B can serve 2030, so B opens then with 100 MW (its
minimum); in 2031 A opens with 100 MW, since (10 M + 100 x 10 M) / 1.1 < B's 100 x 11 M /
1.1. With a flexible connection in 2030 or on-site supply, A serves 2030 itself and B never
opens: A's 2030 build (1,010 M USD) is 100 M cheaper than B's (1,110 M), far more than the
flexible MW-year (1,000 USD) or the on-site plant (below) cost.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest
from test_model import HOURS, _line_case, solved
from test_onsite import _plan, onsite

from siting.model.data import ModelData, first_power, replaced
from siting.model.power import grid_draw
from siting.results.verify import verify

BASE = 50 * HOURS * 10 * (1 + 1 / 1.1)


def _queued(flex_year: int = 2031, flex_on: bool = False, onsite_sites=()) -> ModelData:
    """The case with bus 2's firm connection in 2031 and A's flexible one in ``flex_year``."""
    d = _line_case(1000.0)
    site = d.campus.site.copy()
    site["max_it_mw"] = 1000.0
    site["firm_connect_year"] = [2031, 2030]  # A, B
    site["flex_connect_year"] = [flex_year, 2030]
    site["build_year"] = [2030, 2030]
    site["earliest_period"] = [1, 0]
    site["firm_period"] = [1, 0]
    site["flex_period"] = [1, 0]
    site["power_why"] = ["queue", ""]
    first_power(site, [2030, 2031], flex_on, list(onsite_sites))
    d = replaced(d, campus={"site": site})
    if flex_on:
        d = replaced(d, flex={"enabled": True, "flexible_usd_per_mw_year": 1000.0})
    return d


def test_without_a_way_round_the_queue_the_dear_site_serves_the_first_year():
    d = _queued()
    assert d.campus.site["earliest_period"].tolist() == [1, 0]
    m, _ = solved(d, BASE)
    assert float(m.cap["A", 0]()) == pytest.approx(0.0)
    assert float(m.cap["B", 0]()) == pytest.approx(100.0)
    assert float(m.cap["A", 1]()) == pytest.approx(100.0)
    assert m.component("no_grid_yet") is None and m.component("flexible_only") is None


def test_a_flexible_connection_builds_the_cheap_site_a_year_earlier():
    d = _queued(flex_year=2030, flex_on=True)
    assert d.campus.site["earliest_period"].tolist() == [0, 0]
    assert d.campus.site["power_via"].tolist() == ["flexible", "firm"]
    m, _ = solved(d, BASE)
    assert float(m.cap["A", 0]()) == pytest.approx(100.0)
    assert float(m.cap["B", 1]()) == pytest.approx(0.0)
    # before its firm connection every MW of A is flexible, after it none needs to be
    assert float(m.flex_it_mw["A", 0]()) == pytest.approx(100.0)
    assert float(m.firm_it_mw["A", 0]()) == pytest.approx(0.0, abs=1e-6)
    assert float(m.flex_it_mw["A", 1]()) == pytest.approx(0.0, abs=1e-6)


def test_on_site_supply_bridges_the_queue():
    # A may build a plant available in full at 20,000 USD per MW-year (round numbers): in
    # 2030 it must supply A's whole 100 MW (nothing from the grid before the connection);
    # in 2031 a MW of it costs 20,000 USD and saves 8,760 h x 10 USD/MWh = 87,600 USD of
    # grid energy, so A keeps it and builds more: at most its load (no export), 200 MW.
    d = _queued(onsite_sites=["A"])
    d.onsite = onsite("plant", ["A"], ["peak"], annual_usd_per_mw=20e3)
    assert d.campus.site["power_via"].tolist() == ["on-site", "firm"]
    m, _ = solved(d, BASE)
    assert float(m.cap["A", 0]()) == pytest.approx(100.0)
    assert float(m.cap["B", 1]()) == pytest.approx(0.0)
    assert float(pyo.value(grid_draw(m, "A", 0, "peak"))) == pytest.approx(0.0, abs=1e-6)
    assert float(m.os_cap["A", "plant", 0]()) == pytest.approx(100.0)


def test_the_verification_catches_grid_power_before_the_connection():
    d = _queued(onsite_sites=["A"])
    d.onsite = onsite("plant", ["A"], ["peak"], annual_usd_per_mw=20e3)
    m, r = solved(d, BASE)
    plan = _plan(m, d, r)
    d = replaced(d, grid={"enabled": False})  # the flows are test_relief's; here the years
    ok = {c.name: c.ok for c in verify(plan, d, None)}
    assert ok["nothing from the grid before its connection"]
    assert ok["no MW before the year power allows"]
    # tampered: the 2030 on-site output halved, so 50 MW would come from the grid a year
    # before bus 2 is connected
    rel = plan.relief.copy()
    rel.loc[rel["year"] == 2030, "relief_mw"] *= 0.5
    plan.relief = rel
    checks = {c.name: c for c in verify(plan, d, None, raise_on_failure=False)}
    bad = checks["nothing from the grid before its connection"]
    assert not bad.ok and bad.worst == pytest.approx(50.0, abs=1e-3)
    assert "site A, 2030" in bad.detail


def test_first_power_by_hand():
    site = pd.DataFrame(
        {
            "firm_connect_year": [2031, 2030, 2033],
            "flex_connect_year": [2029, 2030, 2031],
            "build_year": [2028, 2028, 2028],
        },
        index=pd.Index(["X", "Y", "Z"], name="site_id"),
    )
    years = [2028, 2029, 2030, 2031]
    s = site.copy()
    first_power(s, years, flex_on=False, onsite=[])
    assert s["earliest_period"].tolist() == [3, 2, 4]  # firm years; Z after the horizon
    assert np.array_equal(s["flex_period"], s["earliest_period"])
    s = site.copy()
    first_power(s, years, flex_on=True, onsite=["Z"])
    assert s["earliest_period"].tolist() == [1, 2, 0]
    assert s["flex_period"].tolist() == [1, 2, 3]
    assert s["power_via"].tolist() == ["flexible", "firm", "on-site"]
