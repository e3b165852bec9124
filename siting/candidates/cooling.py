"""Cooling performance: annual and design-hour PUE and WUE from climate statistics.

Three cooling technologies are modelled, each as a heat-rejection chain whose
electricity and water use depend on the outdoor temperature:

``air``
    Air-cooled racks served by fan walls / CRAH coils on a warm chilled-water loop
    (``SUPPLY_WATER_C`` = 22 C, which gives 24-27 C supply air, inside the ASHRAE TC9.9
    recommended envelope of 18-27 C). The loop rejects heat through **dry coolers**; when
    the dry bulb is above what they can do alone (``AIR_ECONOMISER_LIMIT_C`` = supply
    water - heat-exchanger approach - dry-cooler approach = 14 C), chillers trim, and their
    electricity grows with every degree above that limit. No water is evaporated.
``evaporative``
    The same loop rejecting heat through **cooling towers** (or evaporative-assisted
    coolers), with a waterside economiser and chiller trim. Electricity depends on the
    *wet* bulb: chillers trim above ``EVAP_ECONOMISER_LIMIT_C`` = supply water - HX
    approach - tower approach = 16 C wet bulb (Lei & Masanet 2022's economiser
    condition). Water: the share of heat rejected by evaporation (the *evaporative duty*)
    rises linearly with wet bulb from ``EVAP_DUTY_START_WB_C`` to ``EVAP_DUTY_FULL_WB_C``;
    at full duty the tower evaporates heat / latent heat and bleeds blowdown.
``liquid``
    Direct-to-chip warm-water liquid cooling (45 C supply, ``LIQUID_SUPPLY_C``); the
    facility loop (43 C after the coolant distribution unit's heat exchanger) rejects heat
    through dry coolers, whose fans speed up in the heat. Above
    ``LIQUID_DRY_LIMIT_C`` = 45 - 2 - 6 = 37 C dry bulb the dry coolers need an adiabatic
    (evaporative) trim, whose duty reaches 1 at 43 C, where dry cooling can no longer
    reject any heat into the air.

Annual and peak
---------------
Every per-hour quantity above is a non-decreasing, piecewise-linear function of one
temperature ``T`` (dry bulb for ``air`` and ``liquid``, wet bulb for ``evaporative``):
a *ramp* ``max(T - c, 0)`` ("degrees above threshold c") or a *duty*
``clip((T - c0) / (c1 - c0), 0, 1)`` (a difference of two ramps).

- **Peak** values evaluate it at the design temperature (``*_p99_c``: the ASHRAE 0.4 %
  design condition, exceeded in about 35 hours a year).
- **Annual** values are its expectation over a modelled distribution of the 8,760 hourly
  temperatures (degree-hours above the threshold, share of hours needing evaporation).
  The hours follow a *split normal* distribution with its median at the annual mean
  (``*_mean_c``): the upper half is a half-normal whose 99.6th percentile is the design
  value (spread ``(p99 - mean) / 2.652``), clipped there (the hottest 0.4 % of hours sit
  at the design value); the lower half is a half-normal with a fixed spread
  (``LOWER_SPREAD_DRY_C``, ``LOWER_SPREAD_WET_C``). The expectation has a closed form in
  the normal density and distribution function (no sampling, no loops).

This construction guarantees, for every technology and every climate:

- annual <= peak (no modelled hour is hotter than the design hour);
- every output is non-decreasing in each of the four inputs: raising the mean or the
  design value makes no hour colder (the lower half does not depend on the design
  value), and every per-hour function is non-decreasing in temperature.
- every output is continuous in its inputs (peak values have kinks at the thresholds;
  annual values are smooth).

The price: the annual mean is used as the *median* of the hours (they differ by well
under 1 C for the climates of interest [assumption]), and the lower spread is a constant
rather than a property of the climate.

Units
-----
Temperatures in degrees C. PUE is dimensionless (facility energy / IT energy, >= 1).
WUE is litres of water consumed on site per kWh of IT energy [L/kWh] (the Green Grid
definition); electricity-generation water is not included.

Sources
-------
- Hyperscaler fleet PUE: AWS 1.14-1.15, Google about 1.10, Meta about 1.08, Microsoft
  1.12 (newest designs) to 1.18 (fleet); company sustainability reports.
- Industry average PUE 1.56 (Uptime Institute 2024); up to 1.79 in hot regions (2020).
- Evaporative cooling WUE about 0.5-1.5 L/kWh at PUE 1.2-1.4; reported fleet WUE
  0.22 (Meta Prineville) to 0.30-0.49 L/kWh (Microsoft).
- Cooling-tower physics (Lei & Masanet 2022, Resources, Conservation & Recycling
  182:106323): evaporation = heat / latent heat (about 2.4 MJ/kg, so 3.6 MJ/kWh / 2.4 MJ/kg
  = 1.5 L per kWh of heat); blowdown = evaporation / (cycles - 1), cycles 3-15; drift
  0.005-0.5 % of circulating flow (neglected here: below 0.01 L/kWh with modern drift
  eliminators [assumption]); tower approach 2.8-6.7 C; heat-exchanger approach 1.7-2.8 C;
  the waterside economiser runs when wet bulb + approaches <= supply temperature.
- Warm-water (45 C) liquid cooling cuts about 1.1 L/kWh of evaporative use to about 0
  (NVIDIA, weak); immersion / liquid PUE 1.02-1.15 (vendors, arXiv 2205.04257, weak).
- ASHRAE TC9.9 (2021): recommended supply air 18-27 C; allowable A1 15-32 C.

Constants marked ``[assumption]`` are this module's choices, calibrated so that the
results land in the published ranges above; change them here, in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import ndtr, ndtri

__all__ = [
    "CLIMATE_FIELDS",
    "OUTPUT_FIELDS",
    "REFERENCE_CLIMATE_C",
    "TECHNOLOGIES",
    "CoolingPerformance",
    "cooling_table",
    "performance",
]

ArrayLike = npt.ArrayLike

#: Cooling technologies, in the order :func:`cooling_table` lists them.
TECHNOLOGIES: tuple[str, ...] = ("air", "evaporative", "liquid")

#: The four climate inputs [C], in the order :func:`performance` takes them.
CLIMATE_FIELDS: tuple[str, ...] = (
    "dry_bulb_mean_c",
    "dry_bulb_p99_c",
    "wet_bulb_mean_c",
    "wet_bulb_p99_c",
)

#: The four outputs, in the order :func:`cooling_table` lists them.
OUTPUT_FIELDS: tuple[str, ...] = (
    "pue_annual",
    "pue_peak",
    "wue_annual_l_per_kwh",
    "wue_peak_l_per_kwh",
)

#: Temperate reference climate [C], used when a scenario gives no climate rasters.
#: [assumption]: a generic humid mid-latitude climate (central Europe to the US
#: mid-Atlantic), not a specific station: annual mean dry bulb 12 C, 0.4 % design dry bulb
#: 32 C (the ASHRAE A1 allowable upper limit for supply air), annual mean wet bulb 9 C
#: (about 70 % mean relative humidity), 0.4 % design wet bulb 22 C.
REFERENCE_CLIMATE_C: dict[str, float] = {
    "dry_bulb_mean_c": 12.0,
    "dry_bulb_p99_c": 32.0,
    "wet_bulb_mean_c": 9.0,
    "wet_bulb_p99_c": 22.0,
}

# --- the hour distribution -------------------------------------------------------------

#: Share of the year's hours above the design value: ASHRAE 0.4 % design conditions
#: (scenario field descriptions: "0.4 % / 99.6th percentile hottest hours") [fraction].
DESIGN_EXCEEDANCE = 0.004
#: Standard-normal quantile of the design value: Phi^-1(0.996) = 2.652 [-].
Z_DESIGN = float(ndtri(1.0 - DESIGN_EXCEEDANCE))
#: Spread of the colder half of the hourly dry-bulb distribution [C]. [assumption]: typical
#: standard deviation of hourly dry bulb in mid-latitude climates is 6-10 C.
LOWER_SPREAD_DRY_C = 7.0
#: Spread of the colder half of the hourly wet-bulb distribution [C]. [assumption]: wet
#: bulb swings less than dry bulb (smaller diurnal range).
LOWER_SPREAD_WET_C = 5.0

# --- shared heat-rejection chain -------------------------------------------------------

#: Chilled (facility) water supply for air-cooled racks [C]. [assumption]: warm water that
#: gives 24-27 C supply air, inside ASHRAE TC9.9's recommended 18-27 C.
SUPPLY_WATER_C = 22.0
#: Heat-exchanger approach [C]: Lei & Masanet 2022 give 1.7-2.8 C.
HX_APPROACH_C = 2.0
#: Cooling-tower approach (leaving water - wet bulb) [C]: Lei & Masanet 2022 give 2.8-6.7 C.
TOWER_APPROACH_C = 4.0
#: Dry-cooler approach (leaving water - dry bulb) [C]. [assumption]: dry coils need more
#: approach than towers; 6 C is at the top of the tower range.
DRY_COOLER_APPROACH_C = 6.0
#: Water evaporated per kWh of heat rejected at full evaporative duty [L/kWh]:
#: 3.6 MJ/kWh / 2.4 MJ/kg latent heat = 1.5 kg = 1.5 L (Lei & Masanet 2022).
EVAPORATION_L_PER_KWH_HEAT = 3.6 / 2.4
#: Cycles of concentration of the tower water [-]: Lei & Masanet 2022 give 3-15; 5 is a
#: common operating value [assumption].
CYCLES_OF_CONCENTRATION = 5.0
#: Blowdown as a multiple of evaporation, 1 / (cycles - 1) = 0.25 (Lei & Masanet 2022).
BLOWDOWN_RATIO = 1.0 / (CYCLES_OF_CONCENTRATION - 1.0)
#: Heat rejected per kWh of IT energy [kWh/kWh]. [assumption]: IT heat plus the heat of
#: fans, pumps and compressors inside the loop (about the PUE of an efficient site).
HEAT_REJECTED_PER_KWH_IT = 1.1
#: Water consumed per kWh of IT at full evaporative duty [L/kWh]:
#: 1.5 * (1 + 0.25) * 1.1 = 2.0625, inside the 1.9-2.2 L/kWh with blowdown
#: inferred from Lei & Masanet (2022) above.
WUE_FULL_DUTY_L_PER_KWH = (
    EVAPORATION_L_PER_KWH_HEAT * (1.0 + BLOWDOWN_RATIO) * HEAT_REJECTED_PER_KWH_IT
)

# --- air -------------------------------------------------------------------------------

#: PUE with free (dry-cooler) cooling [-]: Microsoft's newest designs 1.12, inside the
#: hyperscaler fleet range 1.08-1.18.
PUE_BASE_AIR = 1.12
#: Dry bulb above which chillers trim [C]: 22 - 2 - 6 = 14.
AIR_ECONOMISER_LIMIT_C = SUPPLY_WATER_C - HX_APPROACH_C - DRY_COOLER_APPROACH_C
#: PUE added per degree of dry bulb above the economiser limit [1/C]. [assumption]:
#: calibrated so that a 40 C design hour gives 1.12 + 0.013 * 26 = 1.458 (between the
#: Uptime industry average 1.56 and efficient fleets; the brief's 1.35-1.6 range); the
#: linear term stands in for a growing chiller share and a falling chiller COP.
PUE_SLOPE_AIR_PER_C = 0.013

# --- evaporative -----------------------------------------------------------------------

#: PUE with free (tower-only) cooling [-]: Google's fleet about 1.10 (largely evaporative).
PUE_BASE_EVAPORATIVE = 1.10
#: Wet bulb above which chillers trim [C]: 22 - 2 - 4 = 16 (Lei & Masanet's economiser
#: condition: wet bulb + tower approach + HX approach <= supply temperature).
EVAP_ECONOMISER_LIMIT_C = SUPPLY_WATER_C - HX_APPROACH_C - TOWER_APPROACH_C
#: PUE added per degree of wet bulb above the economiser limit [1/C]. [assumption]: gives
#: 1.10 + 0.02 * 11 = 1.32 at a 27 C design wet bulb, inside the published "evaporative
#: cooling at PUE 1.2-1.4".
PUE_SLOPE_EVAPORATIVE_PER_C = 0.02
#: Wet bulb below which no heat is rejected by evaporation [C]. [assumption]: the coolers
#: run dry (sensible only) in cold air; calibrated so that a cool climate's annual WUE
#: (about 0.35 L/kWh) is near reported fleet values (Meta 0.22, Microsoft 0.30-0.49).
EVAP_DUTY_START_WB_C = 6.0
#: Wet bulb from which all heat is rejected by evaporation [C]. [assumption]: calibrated so
#: that hot-humid Texas (mean wet bulb 19-21 C) uses about 1.7-1.8 L/kWh a year, at the top
#: of the published evaporative range (0.5-1.5, weak) and below full duty (2.06).
EVAP_DUTY_FULL_WB_C = 20.0

# --- liquid ----------------------------------------------------------------------------

#: Technology-cooling-system supply temperature to the cold plates [C] (NVIDIA's warm-water
#: figure: 45 C).
LIQUID_SUPPLY_C = 45.0
#: PUE of warm-water liquid cooling with dry coolers at low fan speed [-]: Meta's fleet
#: about 1.08; liquid / immersion 1.02-1.15.
PUE_BASE_LIQUID = 1.08
#: Dry bulb above which dry-cooler fans speed up [C]. [assumption].
LIQUID_FAN_START_C = 20.0
#: PUE added per degree of dry bulb above ``LIQUID_FAN_START_C`` [1/C]. [assumption]:
#: gives 1.08 + 0.0025 * 20 = 1.13 at a 40 C design hour, inside the 1.08-1.15 range.
PUE_SLOPE_LIQUID_PER_C = 0.0025
#: Dry bulb above which the dry coolers need an evaporative trim [C]: 45 - 2 - 6 = 37.
LIQUID_DRY_LIMIT_C = LIQUID_SUPPLY_C - HX_APPROACH_C - DRY_COOLER_APPROACH_C
#: Dry bulb at which all heat needs evaporation [C]: 45 - 2 = 43, the facility water
#: temperature (air that warm cannot take heat from it).
LIQUID_FULL_TRIM_C = LIQUID_SUPPLY_C - HX_APPROACH_C


@dataclass(frozen=True)
class CoolingPerformance:
    """Annual and design-hour PUE and WUE of one cooling technology at one or more sites.

    Attributes
    ----------
    pue_annual
        Annual power usage effectiveness [-] (facility energy / IT energy, >= 1).
    pue_peak
        PUE at the design (0.4 %) hour [-], >= ``pue_annual``.
    wue_annual_l_per_kwh
        Annual water usage effectiveness [L/kWh of IT energy], >= 0.
    wue_peak_l_per_kwh
        WUE at the design hour [L/kWh of IT energy], >= ``wue_annual_l_per_kwh``.
    """

    pue_annual: np.ndarray
    pue_peak: np.ndarray
    wue_annual_l_per_kwh: np.ndarray
    wue_peak_l_per_kwh: np.ndarray


def _phi(x: np.ndarray) -> np.ndarray:
    """Standard normal density."""
    return np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)


def _partial_ramp(
    median: np.ndarray, spread: np.ndarray | float, c: float, lo: float, hi: float
) -> np.ndarray:
    """Integral over ``y`` in ``[lo, hi]`` of ``max(median + spread*y - c, 0) * phi(y) dy`` [C].

    ``spread >= 0``; ``lo``/``hi`` may be infinite. Closed form: with ``a`` the point
    where the ramp starts, clipped to ``[lo, hi]``,
    ``(median - c) * (Phi(hi) - Phi(a)) + spread * (phi(a) - phi(hi))``.
    """
    spread = np.asarray(spread, dtype=float)
    excess = median - c
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        y_start = np.where(spread > 0, -excess / spread, np.where(excess > 0, -np.inf, np.inf))
    a = np.clip(y_start, lo, hi)
    return excess * (ndtr(hi) - ndtr(a)) + spread * (_phi(a) - _phi(np.asarray(hi, dtype=float)))


def _annual_ramp(mean: np.ndarray, p99: np.ndarray, lower_spread: float, c: float) -> np.ndarray:
    """Expected ``max(T - c, 0)`` over the year's hours [C] (mean degrees above ``c``).

    Hours ``T`` follow the split normal of the module docstring: median ``mean``; upper
    half ``mean + s * min(|Z|, Z_DESIGN)`` with ``s = (p99 - mean) / Z_DESIGN``; lower half
    ``mean - lower_spread * |Z|``.
    """
    s = (p99 - mean) / Z_DESIGN
    upper = _partial_ramp(mean, s, c, 0.0, Z_DESIGN)
    design_hours = DESIGN_EXCEEDANCE * np.maximum(p99 - c, 0.0)
    lower = _partial_ramp(mean, lower_spread, c, -np.inf, 0.0)
    return upper + design_hours + lower


def _annual_duty(
    mean: np.ndarray, p99: np.ndarray, lower_spread: float, c0: float, c1: float
) -> np.ndarray:
    """Expected ``clip((T - c0) / (c1 - c0), 0, 1)`` over the year's hours [fraction]."""
    return (
        _annual_ramp(mean, p99, lower_spread, c0) - _annual_ramp(mean, p99, lower_spread, c1)
    ) / (c1 - c0)


def _ramp(t: np.ndarray, c: float) -> np.ndarray:
    return np.maximum(t - c, 0.0)


def _duty(t: np.ndarray, c0: float, c1: float) -> np.ndarray:
    return np.clip((t - c0) / (c1 - c0), 0.0, 1.0)


def _check_tech(tech: str) -> None:
    if tech not in TECHNOLOGIES:
        raise ValueError(
            f"unknown cooling technology {tech!r}; expected one of {', '.join(TECHNOLOGIES)}"
        )


def _check_climate(values: dict[str, np.ndarray]) -> None:
    """Raise ValueError naming every input with NaN / infinite values or p99 < mean."""
    problems = []
    for name, v in values.items():
        n_nan = int(np.isnan(v).sum())
        n_inf = int(np.isinf(v).sum())
        if n_nan:
            problems.append(f"{name} holds {n_nan} NaN value(s)")
        if n_inf:
            problems.append(f"{name} holds {n_inf} infinite value(s)")
    if not problems:
        for kind in ("dry_bulb", "wet_bulb"):
            mean, p99 = values[f"{kind}_mean_c"], values[f"{kind}_p99_c"]
            n_bad = int((p99 < mean).sum())
            if n_bad:
                problems.append(
                    f"{kind}_p99_c is below {kind}_mean_c at {n_bad} point(s); "
                    "the design temperature cannot be below the annual mean"
                )
    if problems:
        raise ValueError("cooling performance: " + "; ".join(problems))


def performance(
    tech: str,
    dry_bulb_mean_c: ArrayLike,
    dry_bulb_p99_c: ArrayLike,
    wet_bulb_mean_c: ArrayLike,
    wet_bulb_p99_c: ArrayLike,
) -> CoolingPerformance:
    """Annual and design-hour PUE and WUE of one cooling technology.

    Parameters
    ----------
    tech
        One of :data:`TECHNOLOGIES`: ``"air"``, ``"evaporative"`` or ``"liquid"``.
    dry_bulb_mean_c
        Annual mean dry-bulb temperature [C].
    dry_bulb_p99_c
        Design (0.4 %, 99.6th percentile of hours) dry-bulb temperature [C];
        must be >= ``dry_bulb_mean_c``.
    wet_bulb_mean_c
        Annual mean wet-bulb temperature [C].
    wet_bulb_p99_c
        Design (0.4 %) wet-bulb temperature [C]; must be >= ``wet_bulb_mean_c``.

    The four inputs are numbers or arrays broadcastable against each other.

    Returns
    -------
    CoolingPerformance
        Arrays of the broadcast shape (0-d for scalar inputs): ``pue_annual`` and
        ``pue_peak`` [-], ``wue_annual_l_per_kwh`` and ``wue_peak_l_per_kwh``
        [L per kWh of IT energy]. Annual <= peak, element by element.

    Raises
    ------
    ValueError
        For an unknown technology (named), for NaN or infinite inputs (naming each
        input and how many values), or for a design value below its annual mean.

    Notes
    -----
    With ``R(T, c) = max(T - c, 0)`` and ``D(T, c0, c1) = clip((T - c0)/(c1 - c0), 0, 1)``,
    per hour (``Tdb`` dry bulb, ``Twb`` wet bulb):

    - air: ``PUE = 1.12 + 0.013 R(Tdb, 14)``; ``WUE = 0``.
    - evaporative: ``PUE = 1.10 + 0.02 R(Twb, 16)``;
      ``WUE = 2.0625 D(Twb, 6, 20)`` (2.0625 = 1.5 * 1.25 * 1.1).
    - liquid: ``PUE = 1.08 + 0.0025 R(Tdb, 20)``; ``WUE = 2.0625 D(Tdb, 37, 43)``.

    Peak = the per-hour value at the design temperature; annual = its expectation over
    the hours (module docstring).
    """
    _check_tech(tech)
    arrays = np.broadcast_arrays(
        *(
            np.asarray(v, dtype=float)
            for v in (dry_bulb_mean_c, dry_bulb_p99_c, wet_bulb_mean_c, wet_bulb_p99_c)
        )
    )
    values = dict(zip(CLIMATE_FIELDS, arrays, strict=True))
    _check_climate(values)
    db_mean, db_p99, wb_mean, wb_p99 = arrays

    if tech == "air":
        pue_annual = PUE_BASE_AIR + PUE_SLOPE_AIR_PER_C * _annual_ramp(
            db_mean, db_p99, LOWER_SPREAD_DRY_C, AIR_ECONOMISER_LIMIT_C
        )
        pue_peak = PUE_BASE_AIR + PUE_SLOPE_AIR_PER_C * _ramp(db_p99, AIR_ECONOMISER_LIMIT_C)
        wue_annual = np.zeros_like(db_mean)
        wue_peak = np.zeros_like(db_mean)
    elif tech == "evaporative":
        pue_annual = PUE_BASE_EVAPORATIVE + PUE_SLOPE_EVAPORATIVE_PER_C * _annual_ramp(
            wb_mean, wb_p99, LOWER_SPREAD_WET_C, EVAP_ECONOMISER_LIMIT_C
        )
        pue_peak = PUE_BASE_EVAPORATIVE + PUE_SLOPE_EVAPORATIVE_PER_C * _ramp(
            wb_p99, EVAP_ECONOMISER_LIMIT_C
        )
        wue_annual = WUE_FULL_DUTY_L_PER_KWH * _annual_duty(
            wb_mean, wb_p99, LOWER_SPREAD_WET_C, EVAP_DUTY_START_WB_C, EVAP_DUTY_FULL_WB_C
        )
        wue_peak = WUE_FULL_DUTY_L_PER_KWH * _duty(
            wb_p99, EVAP_DUTY_START_WB_C, EVAP_DUTY_FULL_WB_C
        )
    else:  # liquid
        pue_annual = PUE_BASE_LIQUID + PUE_SLOPE_LIQUID_PER_C * _annual_ramp(
            db_mean, db_p99, LOWER_SPREAD_DRY_C, LIQUID_FAN_START_C
        )
        pue_peak = PUE_BASE_LIQUID + PUE_SLOPE_LIQUID_PER_C * _ramp(db_p99, LIQUID_FAN_START_C)
        wue_annual = WUE_FULL_DUTY_L_PER_KWH * _annual_duty(
            db_mean, db_p99, LOWER_SPREAD_DRY_C, LIQUID_DRY_LIMIT_C, LIQUID_FULL_TRIM_C
        )
        wue_peak = WUE_FULL_DUTY_L_PER_KWH * _duty(db_p99, LIQUID_DRY_LIMIT_C, LIQUID_FULL_TRIM_C)

    return CoolingPerformance(
        pue_annual=np.asarray(pue_annual, dtype=float),
        pue_peak=np.asarray(pue_peak, dtype=float),
        wue_annual_l_per_kwh=np.asarray(wue_annual, dtype=float),
        wue_peak_l_per_kwh=np.asarray(wue_peak, dtype=float),
    )


def cooling_table(
    climate: pd.DataFrame, technologies: Sequence[str] = TECHNOLOGIES
) -> pd.DataFrame:
    """PUE and WUE of every site for every technology, in one long table.

    Parameters
    ----------
    climate
        One row per site, indexed by site ID, with the columns ``dry_bulb_mean_c``,
        ``dry_bulb_p99_c``, ``wet_bulb_mean_c``, ``wet_bulb_p99_c`` [C]. Other columns
        are ignored.
    technologies
        Technologies to evaluate, each one of :data:`TECHNOLOGIES`, without repeats.

    Returns
    -------
    pandas.DataFrame
        Index: a MultiIndex ``(site_id, cooling)``, sites in ``climate``'s order and, for
        each site, technologies in the given order. Columns (float64): ``pue_annual``,
        ``pue_peak`` [-], ``wue_annual_l_per_kwh``, ``wue_peak_l_per_kwh`` [L/kWh of IT].

    Raises
    ------
    ValueError
        For an unknown or repeated technology, a missing column, missing (NaN) values
        (naming the column and the first site IDs), or a design value below its mean.
    """
    technologies = list(technologies)
    for tech in technologies:
        _check_tech(tech)
    repeated = sorted({t for t in technologies if technologies.count(t) > 1})
    if repeated:
        raise ValueError(f"cooling technologies repeated: {', '.join(repeated)}")
    missing = [c for c in CLIMATE_FIELDS if c not in climate.columns]
    if missing:
        raise ValueError(
            f"climate table lacks column(s) {', '.join(missing)}; "
            f"expected {', '.join(CLIMATE_FIELDS)} [C]"
        )
    inputs = {}
    for name in CLIMATE_FIELDS:
        try:
            v = climate[name].to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError) as err:
            raise ValueError(f"climate column {name} is not numeric: {err}") from None
        bad = ~np.isfinite(v)
        if bad.any():
            ids = [str(i) for i in climate.index[bad][:10]]
            more = f" and {int(bad.sum()) - len(ids)} more" if bad.sum() > len(ids) else ""
            raise ValueError(
                f"climate column {name} holds {int(bad.sum())} missing or infinite value(s), "
                f"at site(s) {', '.join(ids)}{more}"
            )
        inputs[name] = v

    n_sites, n_tech = len(climate), len(technologies)
    out = np.empty((len(OUTPUT_FIELDS), n_sites, n_tech))
    for j, tech in enumerate(technologies):
        perf = performance(tech, *(inputs[name] for name in CLIMATE_FIELDS))
        for k, field in enumerate(OUTPUT_FIELDS):
            out[k, :, j] = getattr(perf, field)

    index = pd.MultiIndex.from_product(
        [climate.index, pd.Index(technologies, dtype=object)], names=["site_id", "cooling"]
    )
    return pd.DataFrame(
        {field: out[k].reshape(-1) for k, field in enumerate(OUTPUT_FIELDS)}, index=index
    )
