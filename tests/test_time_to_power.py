"""Time to power (issue 21, parts 2 and 3): energization lead times per bus, campus
construction lead time, and soft targets with a cost of delay. Hand-solved cases."""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml

import siting
from siting.results.verify import verify
from tests.test_model import solved, tiny_data
from tests.test_plan import write_region


def _it(p, site: str, year: int) -> float:
    s = p.schedule[(p.schedule["site_id"] == site) & (p.schedule["year"] == year)]
    return float(s["it_mw"].sum())


# --------------------------------------------------------------------------- soft targets


def _slow_or_fast(penalty_usd_per_mw_year: float | None):
    # Two sites, years 2030 and 2031, 10 % discount (capex_df = op_weight = 1, 1/1.1),
    # targets 100 MW in both years, 50 MW modules, a 100 MW minimum campus, campus capital
    # 1 M USD/MW, 10 M USD to open a site, no energy price. FAST has power in 2030 but pays
    # 3 M USD/MW of land; SLOW has power only from 2031.
    sites = {
        "FAST": {"land_usd_per_mw": 3e6, "earliest_period": 0},
        "SLOW": {"land_usd_per_mw": 0.0, "earliest_period": 1},
    }
    perf = {("FAST", "air"): (1.0, 1.0, 0.0), ("SLOW", "air"): (1.0, 1.0, 0.0)}
    d = tiny_data(sites=sites, perf=perf, targets=(100.0, 100.0), rate=0.1)
    return dataclasses.replace(
        d,
        campus=dataclasses.replace(d.campus, capex_usd_per_mw=1e6),
        grid=dataclasses.replace(d.grid, energy_usd_per_mwh=0.0),
        policy=dataclasses.replace(d.policy, shortfall_usd_per_mw_year=penalty_usd_per_mw_year),
        water=dataclasses.replace(d.water, enabled=False),
    )


# FAST, 100 MW in 2030: 100 x (1 + 3) M + 10 M opening = 410 M USD.
# SLOW, 100 MW in 2031: (100 x 1 M + 10 M) / 1.1 = 100 M USD, plus 100 MW short in 2030
# for one year (op_weight 1): 100 x penalty.
# Break-even penalty: (410 - 100) M / 100 MW = 3.1 M USD per MW-year.
# The other plans lose on both sides of it: nothing built, 100 x p x (1 + 1/1.1) = 190.9 p
# (above SLOW once p > 1.1 M); FAST 50 MW in 2030 and 50 more in 2031, 391.8 M + 50 p
# (above FAST once p > 0.37 M).
BREAK_EVEN = (410e6 - 110e6 / 1.1) / 100.0


def test_break_even_penalty_is_the_hand_figure():
    assert BREAK_EVEN == pytest.approx(3.1e6, rel=1e-12)


def test_a_penalty_below_break_even_waits_for_the_slow_cheap_site():
    pen = 3.0e6  # waiting costs 300 M of delay + 100 M = 400 M, FAST 410 M
    m, r = solved(_slow_or_fast(pen))
    assert float(m.cap["SLOW", 1]()) == pytest.approx(100.0)
    assert float(m.cap["FAST", 1]()) == pytest.approx(0.0)
    assert float(m.target_shortfall[0]()) == pytest.approx(100.0)
    assert float(m.target_shortfall[1]()) == pytest.approx(0.0)
    assert float(m.cost_part["delay"]()) == pytest.approx(100.0 * pen)
    assert r.objective == pytest.approx(400e6, rel=1e-7)


def test_a_penalty_above_break_even_takes_the_fast_dear_site():
    pen = 3.2e6  # waiting would cost 320 M + 100 M = 420 M, FAST 410 M
    m, r = solved(_slow_or_fast(pen))
    assert float(m.cap["FAST", 0]()) == pytest.approx(100.0)
    assert float(m.cap["SLOW", 1]()) == pytest.approx(0.0)
    assert float(m.cost_part["delay"]()) == pytest.approx(0.0, abs=1e-6)
    assert r.objective == pytest.approx(410e6, rel=1e-7)


def test_hard_targets_take_the_fast_site_whatever_it_costs():
    m, r = solved(_slow_or_fast(None))
    assert float(m.cap["FAST", 0]()) == pytest.approx(100.0)
    assert m.component("target_shortfall") is None
    assert r.objective == pytest.approx(410e6, rel=1e-7)


# --------------------------------------------------------------------------- lead times


@pytest.fixture(scope="module")
def queued_plan(tmp_path_factory):
    # write_region with line b at 1,000 MW: S3 (cheaper to open) takes all 200 MW, S2 none
    # (tests/test_plan.py). Bus 3's queue ends in 2031 (layers.grid.connections), so in
    # 2030 only S2 (bus 2, at most 100 MW) has power: S2 must give the 100 MW target of
    # 2030, and 2031's 200 MW are S2's 100 plus S3's 100 (its minimum campus).
    d = tmp_path_factory.mktemp("queued")
    path = write_region(d, rating_23_mw=1000.0)
    (d / "connections.csv").write_text("bus_id,firm_connect_year\n3,2031\n")
    sc = yaml.safe_load(path.read_text())
    sc["layers"]["grid"]["connections"] = {"path": "connections.csv"}
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    out = d / "out"
    return siting.plan(path, out=out), out, path


def test_a_queued_bus_switches_the_first_year_to_another_site(queued_plan):
    p, out, _ = queued_plan
    assert (_it(p, "S2", 2030), _it(p, "S2", 2031)) == (100.0, 100.0)
    assert (_it(p, "S3", 2030), _it(p, "S3", 2031)) == (0.0, 100.0)
    assert int(p.sites.loc["S3", "power_year"]) == 2031
    assert p.sites.loc["S3", "power_why"].startswith("queue for a firm connection at bus 3")
    assert int(p.sites.loc["S2", "power_year"]) == 2030 and p.sites.loc["S2", "power_why"] == ""
    assert all(c.ok for c in p.checks)
    man = json.loads((out / "manifest.json").read_text())
    late = man["delay"]["late_sites"]
    assert [(x["site_id"], x["power_year"]) for x in late] == [("S3", 2031)]
    report = (out / "report.html").read_text()
    assert "2031 (queue for a firm connection at bus 3)" in report
    assert "Firm power comes late at S3 from 2031" in report
    page = (out / "index.html").read_text()
    assert "first year of power" in page


def test_a_lead_time_by_voltage_class_moves_every_bus_and_a_bus_field_wins(tmp_path):
    # every bus is 345 kV: {0: 0, 300: 1} makes each wait until 2031; the connections CSV
    # gives bus 2 its own year, 2030, which wins over the class. Same plan as above.
    path = write_region(tmp_path, rating_23_mw=1000.0)
    (tmp_path / "connections.csv").write_text("bus_id,firm_connect_year\n2,2030\n")
    sc = yaml.safe_load(path.read_text())
    sc["layers"]["grid"]["connections"] = {"path": "connections.csv"}
    sc["grid"]["lead_time_years_by_kv"] = {0: 0, 300: 1}
    # a flexible connection at once: kept per site, not drawn on (flexibility is off)
    sc["grid"]["flexible_lead_time_years"] = 0
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    p = siting.plan(path, write=False)
    assert (_it(p, "S2", 2030), _it(p, "S3", 2030), _it(p, "S3", 2031)) == (100.0, 0.0, 100.0)
    assert int(p.sites.loc["S3", "power_year"]) == 2031
    assert p.sites.loc["S3", "power_why"] == (
        "queue for a firm connection at bus 3; a flexible connection could draw from 2030 "
        "(flexibility is off in this scenario)"
    )


def test_verification_catches_mw_before_the_year_power_allows(queued_plan):
    from siting.candidates.cooling import cooling_table
    from siting.candidates.generate import build_candidates
    from siting.config.scenario import load_scenario
    from siting.inputs import load_layers
    from siting.model import model_data

    p, _, path = queued_plan
    sc = load_scenario(path)
    layers = load_layers(sc)
    c = build_candidates(sc, layers)
    cols = ["dry_bulb_mean_c", "dry_bulb_p99_c", "wet_bulb_mean_c", "wet_bulb_p99_c"]
    d = model_data(sc, layers, c, cooling_table(c.sites[cols]))
    assert int(d.campus.site.at["S3", "firm_connect_year"]) == 2031
    assert int(d.campus.site.at["S3", "earliest_period"]) == 1
    ok = {ch.name: ch.ok for ch in verify(p, d, layers, raise_on_failure=False)}
    assert ok["no MW before the year power allows"]
    # move S2's 2030 module row to S3: 100 MW at S3 in 2030, a year before its bus allows
    bad = p.schedule.copy()
    bad.loc[(bad["site_id"] == "S2") & (bad["year"] == 2030), "site_id"] = "S3"
    bad.loc[(bad["site_id"] == "S3") & (bad["year"] == 2030), "bus_id"] = "3"
    checks = verify(dataclasses.replace(p, schedule=bad), d, layers, raise_on_failure=False)
    failed = {ch.name: ch for ch in checks if not ch.ok}
    assert "no MW before the year power allows" in failed
    # 100 MW early, less the 1e-3 MW tolerance of the checks
    assert failed["no MW before the year power allows"].worst == pytest.approx(100.0, abs=2e-3)


def test_construction_lead_time_with_a_soft_target_pays_for_the_delay(tmp_path):
    # campus.construction_years 1: no MW before 2031. The 2030 target (100 MW) cannot be met
    # and is soft at 50 M USD/MW-year (above the 11.7 M USD/MW of campus capital, so that in
    # this two-year plan building beats falling short): 100 MW short for one year
    # (op_weight 1 at 2030) costs 5,000 M USD of delay; 2031's 200 MW are met (S3 alone,
    # line b at 1,000 MW).
    path = write_region(tmp_path, rating_23_mw=1000.0)
    sc = yaml.safe_load(path.read_text())
    sc["campus"]["construction_years"] = 1
    sc["targets"]["shortfall_usd_per_mw_year"] = 50e6
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    out = tmp_path / "out"
    p = siting.plan(path, out=out)
    assert (_it(p, "S3", 2030), _it(p, "S3", 2031)) == (0.0, 200.0)
    assert p.costs_usd["delay"] == pytest.approx(5000e6, rel=1e-6)
    assert p.sites.loc["S3", "power_why"] == "campus construction lead time"
    assert all(c.ok for c in p.checks)
    man = json.loads((out / "manifest.json").read_text())
    by_year = {r["year"]: r for r in man["delay"]["years"]}
    assert by_year[2030]["short_mw"] == pytest.approx(100.0)
    assert by_year[2030]["cost_usd"] == pytest.approx(5000e6)
    assert by_year[2031]["short_mw"] == pytest.approx(0.0)
    line = next(
        x for x in man["settings"] if x["key"] == "targets.it_mw_by_year" and x["year"] == 2030
    )
    assert line["short"] == pytest.approx(100.0) and line["cost_usd"] == pytest.approx(5000e6)
    assert man["cost_split_usd"]["delay_usd"] == pytest.approx(5000e6, rel=1e-6)
    report = (out / "report.html").read_text()
    assert "cost of delay" in report
