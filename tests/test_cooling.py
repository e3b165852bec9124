"""Cooling performance: hand-checked values, an independent quadrature, monotonicity,
annual <= peak, published ranges, errors, and the long table."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from siting.candidates.cooling import (
    REFERENCE_CLIMATE_C,
    TECHNOLOGIES,
    CoolingPerformance,
    cooling_table,
    performance,
)

N = NormalDist()
#: Phi^-1(0.996): the 0.4 % design value in standard deviations.
Z = N.inv_cdf(0.996)
FIELDS = ["pue_annual", "pue_peak", "wue_annual_l_per_kwh", "wue_peak_l_per_kwh"]
CLIMATE = ["dry_bulb_mean_c", "dry_bulb_p99_c", "wet_bulb_mean_c", "wet_bulb_p99_c"]

HOT_DRY = (22.0, 40.0, 12.0, 22.0)
HOT_HUMID = (21.0, 36.0, 19.0, 27.0)
COOL = (10.0, 28.0, 7.0, 19.0)

# Water at full evaporative duty: 3.6 MJ/kWh / 2.4 MJ/kg = 1.5 L per kWh of heat;
# blowdown at 5 cycles = 1/(5-1) = 0.25 of evaporation; 1.1 kWh heat per kWh IT:
# 1.5 * (1 + 0.25) * 1.1 = 2.0625 L/kWh.
FULL = 1.5 * (1 + 1 / (5 - 1)) * 1.1


def perf(tech: str, climate: tuple[float, ...]) -> dict[str, float]:
    p = performance(tech, *climate)
    return {f: float(getattr(p, f)) for f in FIELDS}


# --- an independent reference: the documented per-hour formulas, integrated numerically ---


def per_hour(tech: str, which: str, t: float) -> float:
    """The documented per-hour formulas (module docstring / performance Notes)."""

    def ramp(c: float) -> float:
        return max(t - c, 0.0)

    def duty(c0: float, c1: float) -> float:
        return min(max((t - c0) / (c1 - c0), 0.0), 1.0)

    table = {
        ("air", "pue"): lambda: 1.12 + 0.013 * ramp(14.0),  # 14 = 22 - 2 - 6
        ("air", "wue"): lambda: 0.0,
        ("evaporative", "pue"): lambda: 1.10 + 0.02 * ramp(16.0),  # 16 = 22 - 2 - 4
        ("evaporative", "wue"): lambda: FULL * duty(6.0, 20.0),
        ("liquid", "pue"): lambda: 1.08 + 0.0025 * ramp(20.0),
        ("liquid", "wue"): lambda: FULL * duty(37.0, 43.0),  # 37 = 45 - 2 - 6; 43 = 45 - 2
    }
    return table[(tech, which)]()


def annual_by_quadrature(tech: str, which: str, climate: tuple[float, ...]) -> float:
    """Expectation over the split-normal hours, by scipy quad (not the closed form)."""
    dry_mean, dry_p99, wet_mean, wet_p99 = climate
    uses_wet = tech == "evaporative"
    mean, p99 = (wet_mean, wet_p99) if uses_wet else (dry_mean, dry_p99)
    lower_spread = 5.0 if uses_wet else 7.0
    s = (p99 - mean) / Z

    def f(t: float) -> float:
        return per_hour(tech, which, t)

    kinks = [6.0, 14.0, 16.0, 20.0, 37.0, 43.0]
    upper_pts = [(k - mean) / s for k in kinks if s > 0 and 0 < (k - mean) / s < Z]
    lower_pts = [(k - mean) / lower_spread for k in kinks if -40 < (k - mean) / lower_spread < 0]
    tol = {"epsabs": 1e-13, "epsrel": 1e-13, "limit": 200}
    upper = quad(lambda y: f(mean + s * y) * N.pdf(y), 0.0, Z, points=upper_pts or None, **tol)[0]
    lower = quad(
        lambda y: f(mean + lower_spread * y) * N.pdf(y),
        -40.0,
        0.0,
        points=lower_pts or None,
        **tol,
    )[0]
    return upper + 0.004 * f(p99) + lower


# --- hand-checked values ---------------------------------------------------------------------


def test_peak_values_by_hand():
    hot_dry = {t: perf(t, HOT_DRY) for t in TECHNOLOGIES}
    # air at the 40 C design hour: 1.12 + 0.013 * (40 - 14) = 1.12 + 0.338 = 1.458
    assert hot_dry["air"]["pue_peak"] == pytest.approx(1.458, abs=1e-9)
    assert hot_dry["air"]["wue_peak_l_per_kwh"] == 0.0
    # evaporative at 22 C design wet bulb: 1.10 + 0.02 * (22 - 16) = 1.22;
    # duty (22 - 6) / 14 > 1 -> 1, so WUE = 2.0625
    assert hot_dry["evaporative"]["pue_peak"] == pytest.approx(1.22, abs=1e-9)
    assert hot_dry["evaporative"]["wue_peak_l_per_kwh"] == pytest.approx(2.0625, abs=1e-9)
    # liquid at 40 C: 1.08 + 0.0025 * (40 - 20) = 1.13; trim duty (40 - 37) / (43 - 37) = 0.5,
    # WUE = 0.5 * 2.0625 = 1.03125
    assert hot_dry["liquid"]["pue_peak"] == pytest.approx(1.13, abs=1e-9)
    assert hot_dry["liquid"]["wue_peak_l_per_kwh"] == pytest.approx(1.03125, abs=1e-9)

    cool = {t: perf(t, COOL) for t in TECHNOLOGIES}
    # air at 28 C: 1.12 + 0.013 * 14 = 1.302
    assert cool["air"]["pue_peak"] == pytest.approx(1.302, abs=1e-9)
    # evaporative at 19 C wet bulb: 1.10 + 0.02 * 3 = 1.16; duty (19 - 6) / 14 = 13/14,
    # WUE = 2.0625 * 13 / 14 = 1.915178571...
    assert cool["evaporative"]["pue_peak"] == pytest.approx(1.16, abs=1e-9)
    assert cool["evaporative"]["wue_peak_l_per_kwh"] == pytest.approx(2.0625 * 13 / 14, abs=1e-9)
    # liquid at 28 C: 1.08 + 0.0025 * 8 = 1.10; 28 < 37 so no trim water
    assert cool["liquid"]["pue_peak"] == pytest.approx(1.10, abs=1e-9)
    assert cool["liquid"]["wue_peak_l_per_kwh"] == 0.0


def test_full_duty_water_constant():
    # The constant behind every WUE: 1.5 L/kWh * (1 + 1/(5-1)) * 1.1 = 1.875 * 1.1 = 2.0625
    assert FULL == pytest.approx(2.0625, abs=1e-12)
    # a wet bulb design of 30 C saturates the duty: peak WUE is exactly that constant
    assert perf("evaporative", (25, 40, 20, 30))["wue_peak_l_per_kwh"] == pytest.approx(
        2.0625, abs=1e-12
    )


def test_cold_climate_sits_at_the_base_values():
    # Every hour is at or below every threshold (design dry bulb 13 < 14 C, design wet bulb
    # 6 <= 6 C), so annual = peak = base PUE and no water.
    cold = (5.0, 13.0, 2.0, 6.0)
    expected = {"air": 1.12, "evaporative": 1.10, "liquid": 1.08}
    for tech, base in expected.items():
        got = perf(tech, cold)
        assert got["pue_annual"] == pytest.approx(base, abs=1e-12)
        assert got["pue_peak"] == pytest.approx(base, abs=1e-12)
        assert got["wue_annual_l_per_kwh"] == 0.0
        assert got["wue_peak_l_per_kwh"] == 0.0


def test_annual_with_threshold_at_the_mean_by_hand():
    # Air, dry-bulb mean exactly at the 14 C economiser limit, upper spread s = 4 C, so the
    # design value is 14 + 4 * Z. The colder half contributes nothing; the warmer half
    # contributes s * (phi(0) - phi(Z)) (the half-normal ramp up to Z) plus the 0.4 % of
    # hours at the design value, 0.004 * s * Z. With Z = 2.65207, phi(0) = 0.398942,
    # phi(Z) = 0.011847, 0.004 * Z = 0.010608: degrees = 4 * 0.397704 = 1.590814
    s = 4.0
    degrees = s * (N.pdf(0) - N.pdf(Z) + 0.004 * Z)
    assert degrees == pytest.approx(4 * (0.398942 - 0.011847 + 0.010608), abs=1e-5)
    got = perf("air", (14.0, 14.0 + s * Z, 5.0, 10.0))
    assert got["pue_annual"] == pytest.approx(1.12 + 0.013 * degrees, abs=1e-9)
    assert got["pue_peak"] == pytest.approx(1.12 + 0.013 * s * Z, abs=1e-9)


def test_a_flat_climate_has_annual_equal_to_peak_above_the_thresholds():
    # Upper half has no spread (p99 = mean = 30 C wet bulb); the colder half with a 5 C spread
    # reaches below 20 C only beyond 2 standard deviations, and the duty is 1 above 20 C:
    # annual duty = 1 - (expected shortfall below 20 on the colder half) / 14.
    got = perf("evaporative", (35.0, 45.0, 30.0, 30.0))
    # expected shortfall: int_{-inf}^{-2} (20 - (30 + 5y)) phi(y) dy, ramp from 6 C negligible
    # (6 C is 4.8 sd below): = -10 * Phi(-2) + 5 * phi(-2) ... hand-evaluated below
    shortfall_20 = -10 * N.cdf(-2) + 5 * N.pdf(-2)
    shortfall_6 = -24 * N.cdf(-4.8) + 5 * N.pdf(-4.8)
    duty = 1 - (shortfall_20 - shortfall_6) / 14
    assert got["wue_annual_l_per_kwh"] == pytest.approx(FULL * duty, abs=1e-9)
    assert got["wue_peak_l_per_kwh"] == pytest.approx(FULL, abs=1e-12)
    # PUE: 1.10 + 0.02 * (expected degrees above 16 C); above 16 for every hour but a tail
    # at y < -2.8: E[T - 16] + shortfall below 16; E[T] over the split normal is
    # 30 + 0.5 * 0 - 5 * phi(0) (the colder half's mean is 30 - 5 * sqrt(2/pi)).
    mean_t = 30 - 5 * N.pdf(0)
    shortfall_16 = -14 * N.cdf(-2.8) + 5 * N.pdf(-2.8)
    assert got["pue_annual"] == pytest.approx(1.10 + 0.02 * (mean_t - 16 + shortfall_16), abs=1e-9)


@pytest.mark.parametrize("tech", TECHNOLOGIES)
@pytest.mark.parametrize(
    "climate",
    [HOT_DRY, HOT_HUMID, COOL, (27.0, 46.0, 22.0, 31.0), (17.0, 40.0, 6.5, 20.0), (0, 30, -3, 17)],
)
def test_annual_matches_numerical_integration(tech, climate):
    got = perf(tech, climate)
    assert got["pue_annual"] == pytest.approx(annual_by_quadrature(tech, "pue", climate), abs=1e-9)
    assert got["wue_annual_l_per_kwh"] == pytest.approx(
        annual_by_quadrature(tech, "wue", climate), abs=1e-9
    )
    dry_mean, dry_p99, wet_mean, wet_p99 = climate
    t = wet_p99 if tech == "evaporative" else dry_p99
    assert got["pue_peak"] == pytest.approx(per_hour(tech, "pue", t), abs=1e-12)
    assert got["wue_peak_l_per_kwh"] == pytest.approx(per_hour(tech, "wue", t), abs=1e-12)


# --- properties ------------------------------------------------------------------------------


def climate_grid() -> tuple[np.ndarray, ...]:
    """Every combination of means and design values, as 4-D arrays (p99 >= mean)."""
    means = np.linspace(-10.0, 32.0, 15)
    rises = np.linspace(0.0, 25.0, 11)
    dm, dr, wm, wr = np.meshgrid(means, rises, means, rises, indexing="ij")
    return dm, dm + dr, wm, wm + wr


@pytest.mark.parametrize("tech", TECHNOLOGIES)
def test_hotter_is_never_better_on_a_grid(tech):
    dm, dp, wm, wp = climate_grid()
    base = performance(tech, dm, dp, wm, wp)
    # raise each input in turn by 0.7 C (means stay <= p99 except where mean = p99; there
    # raise both), and every output must not fall
    bumps = [
        (dm + 0.7, np.maximum(dp, dm + 0.7), wm, wp),
        (dm, dp + 0.7, wm, wp),
        (dm, dp, wm + 0.7, np.maximum(wp, wm + 0.7)),
        (dm, dp, wm, wp + 0.7),
    ]
    for i, bumped in enumerate(bumps):
        hotter = performance(tech, *bumped)
        for f in FIELDS:
            drop = getattr(base, f) - getattr(hotter, f)
            assert drop.max() <= 1e-12, (tech, CLIMATE[i], f, drop.max())
    # and along each grid axis (mean up with the rise fixed: a uniform warming)
    for f in FIELDS:
        v = getattr(base, f)
        for axis in range(4):
            assert np.diff(v, axis=axis).min() >= -1e-12, (tech, f, axis)


temps = st.floats(-30.0, 45.0, allow_nan=False)
rises = st.floats(0.0, 30.0, allow_nan=False)
steps = st.floats(0.0, 10.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(
    tech=st.sampled_from(TECHNOLOGIES),
    dm=temps,
    dr=rises,
    wm=temps,
    wr=rises,
    which=st.integers(0, 3),
    step=steps,
)
def test_hotter_is_never_better_and_annual_never_exceeds_peak(tech, dm, dr, wm, wr, which, step):
    climate = [dm, dm + dr, wm, wm + wr]
    hotter = list(climate)
    hotter[which] += step
    if which in (0, 2):  # a mean pushes its design value up with it
        hotter[which + 1] = max(hotter[which + 1], hotter[which])
    a, b = performance(tech, *climate), performance(tech, *hotter)
    for f in FIELDS:
        assert float(getattr(b, f)) >= float(getattr(a, f)) - 1e-12, f
    for p in (a, b):
        assert float(p.pue_annual) <= float(p.pue_peak) + 1e-12
        assert float(p.wue_annual_l_per_kwh) <= float(p.wue_peak_l_per_kwh) + 1e-12
        assert float(p.pue_annual) >= 1.0
        assert float(p.wue_annual_l_per_kwh) >= 0.0


def test_annual_is_strictly_below_peak_in_hot_climates():
    for climate in (HOT_DRY, HOT_HUMID):
        for tech in TECHNOLOGIES:
            got = perf(tech, climate)
            assert got["pue_annual"] < got["pue_peak"] - 0.02, (tech, climate)


def test_continuous_across_thresholds():
    # the peak crosses the air economiser limit (14 C) and the liquid trim start (37 C)
    # without a jump
    eps = 1e-7
    for tech, t in (("air", 14.0), ("liquid", 37.0), ("liquid", 43.0), ("liquid", 20.0)):
        lo = performance(tech, 5.0, t - eps, 0.0, 5.0)
        hi = performance(tech, 5.0, t + eps, 0.0, 5.0)
        for f in FIELDS:
            assert abs(float(getattr(hi, f)) - float(getattr(lo, f))) < 1e-6
    for t in (6.0, 16.0, 20.0):
        lo = performance("evaporative", 25.0, 35.0, 2.0, t - eps)
        hi = performance("evaporative", 25.0, 35.0, 2.0, t + eps)
        for f in FIELDS:
            assert abs(float(getattr(hi, f)) - float(getattr(lo, f))) < 1e-6


# --- published ranges ------------------------------------------------------------------------


def texas_grid() -> tuple[np.ndarray, ...]:
    """Texas-like climates: dry bulb mean 12-24, p99 34-40; wet bulb mean 6-21, p99 20-28."""
    dm, dp, wm, wp = np.meshgrid(
        np.linspace(12, 24, 7),
        np.linspace(34, 40, 7),
        np.linspace(6, 21, 7),
        np.linspace(20, 28, 9),
        indexing="ij",
    )
    keep = (wm <= dm) & (wp >= wm)  # wet bulb never above dry bulb; design above mean
    return dm[keep], dp[keep], wm[keep], wp[keep]


def test_texas_ranges_and_trade_offs():
    climate = texas_grid()
    air, evap, liquid = (performance(t, *climate) for t in TECHNOLOGIES)
    # evaporative water 0.2-2.2 L/kWh (DOMAIN.md: 0.5-1.5 typical, 1.9-2.2 at full duty)
    for w in (evap.wue_annual_l_per_kwh, evap.wue_peak_l_per_kwh):
        assert w.min() >= 0.2 and w.max() <= 2.2
    assert evap.wue_peak_l_per_kwh.min() >= 1.0  # the design hour is hot and wet
    # air uses no water; its design hour costs PUE 1.35-1.6 at 34-40 C
    assert np.all(air.wue_annual_l_per_kwh == 0) and np.all(air.wue_peak_l_per_kwh == 0)
    assert air.pue_peak.min() >= 1.35 and air.pue_peak.max() <= 1.6
    # the trade-off: evaporation buys a lower design-hour PUE than air, everywhere
    assert np.all(evap.pue_peak < air.pue_peak)
    # liquid: low PUE nearly independent of climate, little water over the year
    for p in (liquid.pue_annual, liquid.pue_peak):
        assert p.min() >= 1.08 and p.max() <= 1.15
    assert liquid.wue_annual_l_per_kwh.max() <= 0.05
    assert np.all(liquid.pue_peak < evap.pue_peak) and np.all(liquid.pue_peak < air.pue_peak)
    # every annual PUE is better than the Uptime industry average of 1.56
    for p in (air, evap, liquid):
        assert p.pue_annual.max() < 1.56


def test_named_climates_land_in_published_ranges():
    # hot-dry (West Texas-like)
    hd = {t: perf(t, HOT_DRY) for t in TECHNOLOGIES}
    assert 1.35 <= hd["air"]["pue_peak"] <= 1.6
    assert hd["evaporative"]["pue_peak"] < hd["air"]["pue_peak"]
    assert 0.5 <= hd["evaporative"]["wue_annual_l_per_kwh"] <= 1.5
    # hot-humid (Gulf-coast-like): evaporation uses 1-2 L/kWh over the year
    hh = {t: perf(t, HOT_HUMID) for t in TECHNOLOGIES}
    assert 1.0 <= hh["evaporative"]["wue_annual_l_per_kwh"] <= 2.0
    assert hh["evaporative"]["pue_peak"] < hh["air"]["pue_peak"]
    assert hh["liquid"]["wue_peak_l_per_kwh"] == 0.0  # 36 C design dry bulb < 37 C
    # cool: fleet-style PUE (hyperscalers 1.08-1.18; test band 1.08-1.25) and fleet-like water
    cool = {t: perf(t, COOL) for t in TECHNOLOGIES}
    for tech in ("air", "liquid", "evaporative"):
        assert 1.08 <= cool[tech]["pue_annual"] <= 1.25, tech
    assert 0.2 <= cool["evaporative"]["wue_annual_l_per_kwh"] <= 0.5  # Meta 0.22, MS 0.30-0.49


def test_reference_climate():
    assert set(REFERENCE_CLIMATE_C) == set(CLIMATE)
    ref = REFERENCE_CLIMATE_C
    assert ref["wet_bulb_mean_c"] <= ref["dry_bulb_mean_c"]
    assert ref["wet_bulb_p99_c"] <= ref["dry_bulb_p99_c"]
    for tech in TECHNOLOGIES:
        got = perf(tech, tuple(ref[c] for c in CLIMATE))
        assert 1.08 <= got["pue_annual"] <= 1.2


# --- API: shapes, errors ---------------------------------------------------------------------


def test_broadcasting_and_types():
    p = performance("air", 20.0, 35.0, 15.0, 25.0)
    assert isinstance(p, CoolingPerformance)
    assert p.pue_annual.shape == () and p.wue_peak_l_per_kwh.shape == ()
    p = performance("evaporative", np.array([[10.0], [20.0]]), 35.0, [5.0, 8.0, 12.0], 25.0)
    for f in FIELDS:
        assert getattr(p, f).shape == (2, 3) and getattr(p, f).dtype == np.float64
    # the dry bulb does not change evaporative figures; the wet bulb mean does
    assert np.all(p.pue_annual[0] == p.pue_annual[1])
    assert np.all(np.diff(p.wue_annual_l_per_kwh, axis=1) > 0)
    with pytest.raises(AttributeError):
        p.pue_annual = np.zeros(3)  # frozen


def test_unknown_technology_is_named():
    with pytest.raises(ValueError, match=r"'immersion'.*air, evaporative, liquid"):
        performance("immersion", *HOT_DRY)
    climate = pd.DataFrame([HOT_DRY], columns=CLIMATE, index=["s1"])
    with pytest.raises(ValueError, match="'Air'"):
        cooling_table(climate, ["Air"])
    with pytest.raises(ValueError, match="repeated: air"):
        cooling_table(climate, ["air", "liquid", "air"])


def test_nan_and_bad_inputs_are_named_with_counts():
    with pytest.raises(ValueError, match=r"wet_bulb_mean_c holds 2 NaN") as err:
        performance("liquid", [20.0, 21.0, 22.0], 38.0, [10.0, np.nan, np.nan], 25.0)
    assert "dry_bulb" not in str(err.value)
    with pytest.raises(ValueError, match=r"dry_bulb_p99_c holds 1 infinite"):
        performance("air", 20.0, np.inf, 10.0, 25.0)
    with pytest.raises(ValueError, match=r"dry_bulb_p99_c is below dry_bulb_mean_c at 1 point"):
        performance("air", [20.0, 30.0], [35.0, 29.0], 10.0, 25.0)
    with pytest.raises(ValueError, match=r"wet_bulb_p99_c is below wet_bulb_mean_c"):
        performance("evaporative", 20.0, 35.0, 18.0, 17.0)


def test_cooling_table_rejects_missing_columns_and_values():
    climate = pd.DataFrame([HOT_DRY, COOL, HOT_HUMID], columns=CLIMATE, index=["a", "b", "c"])
    with pytest.raises(ValueError, match="lacks column.*wet_bulb_p99_c"):
        cooling_table(climate.drop(columns="wet_bulb_p99_c"))
    bad = climate.copy()
    bad.loc[["b", "c"], "dry_bulb_mean_c"] = np.nan
    with pytest.raises(ValueError, match=r"dry_bulb_mean_c holds 2 missing.*site\(s\) b, c"):
        cooling_table(bad)
    bad = climate.astype(object)
    bad.loc["a", "wet_bulb_mean_c"] = pd.NA
    with pytest.raises(ValueError, match=r"wet_bulb_mean_c holds 1 missing.*site\(s\) a"):
        cooling_table(bad)


def test_cooling_table_shape_order_and_values():
    sites = ["north", "west", "coast", "hill"]
    rows = [COOL, HOT_DRY, HOT_HUMID, (15.0, 33.0, 10.0, 21.0)]
    climate = pd.DataFrame(rows, columns=CLIMATE, index=pd.Index(sites, name="site_id"))
    climate["elevation_m"] = 100.0  # other columns are ignored
    table = cooling_table(climate)
    assert list(table.columns) == FIELDS
    assert all(table[c].dtype == np.float64 for c in FIELDS)
    assert table.index.names == ["site_id", "cooling"]
    assert list(table.index) == [(s, t) for s in sites for t in TECHNOLOGIES]
    for tech in TECHNOLOGIES:
        p = performance(tech, *(climate[c].to_numpy() for c in CLIMATE))
        part = table.xs(tech, level="cooling")
        assert list(part.index) == sites
        for f in FIELDS:
            np.testing.assert_array_equal(part[f].to_numpy(), getattr(p, f))
    # a chosen subset, in the chosen order, and integer site IDs
    climate.index = [7, 3, 9, 1]
    sub = cooling_table(climate, ("liquid", "air"))
    assert list(sub.index) == [(s, t) for s in [7, 3, 9, 1] for t in ("liquid", "air")]
    assert sub.loc[(3, "air"), "pue_peak"] == pytest.approx(1.458, abs=1e-9)  # HOT_DRY row
    assert sub.loc[(3, "liquid"), "wue_peak_l_per_kwh"] == pytest.approx(1.03125, abs=1e-9)


def test_cooling_table_is_vectorised_and_handles_empty():
    empty = pd.DataFrame(columns=CLIMATE, dtype=float)
    out = cooling_table(empty)
    assert out.shape == (0, 4) and list(out.columns) == FIELDS
    # 100,000 sites: one array call per technology, no loop over sites
    n = 100_000
    rng = np.random.default_rng(1)
    dm = rng.uniform(10, 25, n)
    wm = dm - rng.uniform(2, 8, n)
    big = pd.DataFrame(
        {
            "dry_bulb_mean_c": dm,
            "dry_bulb_p99_c": dm + rng.uniform(10, 20, n),
            "wet_bulb_mean_c": wm,
            "wet_bulb_p99_c": wm + rng.uniform(5, 12, n),
        }
    )
    out = cooling_table(big)
    assert out.shape == (3 * n, 4)
    assert np.isfinite(out.to_numpy()).all()
    assert math.isclose(
        out.loc[(n - 1, "air"), "pue_peak"],
        1.12 + 0.013 * max(big["dry_bulb_p99_c"].iloc[-1] - 14, 0),
        abs_tol=1e-12,
    )
