"""The plan's compute outputs (issue 22): per site and year in the schedule, national
totals per year for the manifest, and their check. Pandas only (no Pyomo), so the plan's
verification may use it.

From ``compute.csv`` (:attr:`siting.results.plan.Plan.compute`), the generation table and
the site's chosen cooling:

- ``accelerators`` in service, ``accelerators_new`` installed and ``accelerators_retired``
  taken out that year [accelerators]; ``generations`` running (``"B200+GB300"``, in the
  order of their first year); ``it_used_mw`` the IT MW they use [MW IT], within the
  shell's envelope ``it_mw``;
- ``hardware_capex_usd``: the accelerators installed that year x the table's
  ``capex_usd_per_accelerator`` [USD, at installation, not discounted; a refresh's capex
  is the installations after a site's first year];
- ``compute_units`` in service [compute units, H100 = 1] and the compute delivered,
  ``compute_unit_h = compute_units x 8,760 h x u`` [compute unit-hours a year: H100-hours],
  ``u`` the average utilisation (``grid.campus_utilisation``);
- ``compute_mwh``: the facility energy of the IT in use, ``it_used_mw x u x PUE_annual x
  8,760 h`` [MWh a year], the energy the plan pays for (8,760 h x the schedule's
  ``typical_draw_mw``): the envelope's idle MW run no accelerators and draw nothing
  (:func:`siting.model.compute.add_idle`);
- ``kwh_per_compute_unit_h = 1,000 x compute_mwh / compute_unit_h`` [facility kWh per
  compute unit-hour] (``u`` cancels: ``PUE_annual x it_used_mw x 1,000 / compute_units``);
- ``tokens_per_mwh``: tokens a year / ``compute_mwh`` [tokens per facility MWh], tokens a
  year ``= sum_g accelerators_g x tokens_per_s_g x 3,600 s/h x 8,760 h x u``, with the
  table's ``tokens_per_s_per_accelerator`` (MLPerf Inference Llama 2 70B offline
  throughput per accelerator, vendor submissions and claims; the table's ``source`` says
  which). ``u`` cancels again: tokens per MWh are those of the hardware while it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from siting.model.data import HOURS_PER_YEAR

if TYPE_CHECKING:
    from siting.model.data import ModelData
    from siting.results.plan import Plan

__all__ = [
    "SCHEDULE_COMPUTE_COLUMNS",
    "compute_summary",
    "schedule_with_compute",
    "verify_schedule_compute",
]

#: The schedule's compute columns (with a ``compute`` section; see the module docstring).
SCHEDULE_COMPUTE_COLUMNS = [
    "generations",
    "accelerators",
    "accelerators_new",
    "accelerators_retired",
    "it_used_mw",
    "hardware_capex_usd",
    "compute_units",
    "compute_unit_h",
    "compute_mwh",
    "kwh_per_compute_unit_h",
    "tokens_per_mwh",
]

#: Seconds in an hour [s/h].
SECONDS_PER_HOUR = 3600.0
#: Fewest accelerators of a generation in service for it to count as running [accelerators].
RUNNING_MIN = 0.5


def _order(gen: pd.DataFrame) -> dict[str, tuple[int, str]]:
    """Sort key of each generation: its first year, then its name."""
    return {str(g): (int(r["first_year"]), str(g)) for g, r in gen.iterrows()}


def _by_site_year(compute: pd.DataFrame, d: ModelData) -> pd.DataFrame:
    """``compute.csv`` summed per (site_id, year), with the generations running, the
    hardware capex and the tokens a second [tokens/s] of the accelerators in service."""
    c = d.compute
    if c is None or not len(compute):
        return pd.DataFrame(
            columns=["site_id", "year", *SCHEDULE_COMPUTE_COLUMNS, "tokens_per_s"]
        ).set_index(["site_id", "year"])
    gen = c.generations
    cp = compute.assign(site_id=compute["site_id"].astype(str), year=compute["year"].astype(int))
    g = cp["generation"].astype(str)
    live = cp["accelerators_live"].astype(float)
    cp = cp.assign(
        hardware_capex_usd=cp["accelerators_new"].astype(float)
        * g.map(gen["capex_usd_per_accelerator"].astype(float)),
        tokens_per_s=live * g.map(gen["tokens_per_s_per_accelerator"].astype(float)),
        running=np.where(live > RUNNING_MIN, g, ""),
    )
    key = _order(gen)
    grouped = cp.groupby(["site_id", "year"])
    out = grouped.agg(
        accelerators=("accelerators_live", "sum"),
        accelerators_new=("accelerators_new", "sum"),
        accelerators_retired=("accelerators_retired", "sum"),
        it_used_mw=("it_used_mw", "sum"),
        hardware_capex_usd=("hardware_capex_usd", "sum"),
        compute_units=("compute_units", "sum"),
        tokens_per_s=("tokens_per_s", "sum"),
    )
    out["generations"] = grouped["running"].agg(
        lambda v: "+".join(sorted({x for x in v if x}, key=lambda n: key.get(n, (0, n))))
    )
    return out


def schedule_with_compute(
    schedule: pd.DataFrame, compute: pd.DataFrame, d: ModelData
) -> pd.DataFrame:
    """The schedule with its compute columns (:data:`SCHEDULE_COMPUTE_COLUMNS`, see the
    module docstring); unchanged without a ``compute`` section.

    Parameters
    ----------
    schedule
        :attr:`siting.results.plan.Plan.schedule` (``site_id, year, it_mw, cooling``, ...).
    compute
        :attr:`siting.results.plan.Plan.compute` (``compute.csv``).
    d
        The model's data (generation table, cooling PUE, utilisation).

    Returns
    -------
    pandas.DataFrame
        A copy of ``schedule`` with the columns appended; a site-year with no accelerators
        has 0 of each, ``generations`` "" and no energy per compute or tokens per MWh (NaN).
    """
    if d.compute is None:
        return schedule
    per = _by_site_year(compute, d)
    keys = pd.MultiIndex.from_arrays(
        [schedule["site_id"].astype(str), schedule["year"].astype(int)]
    )
    got = per.reindex(keys)
    out = schedule.copy()
    out["generations"] = got["generations"].fillna("").to_numpy(dtype=object)
    for col in ("accelerators", "accelerators_new", "accelerators_retired", "it_used_mw"):
        out[col] = got[col].astype(float).fillna(0.0).to_numpy()
    out["hardware_capex_usd"] = got["hardware_capex_usd"].astype(float).fillna(0.0).to_numpy()
    out["compute_units"] = got["compute_units"].astype(float).fillna(0.0).to_numpy()
    u = float(d.horizon.utilisation)
    pue = _pue_annual(schedule, d)
    out["compute_unit_h"] = out["compute_units"] * HOURS_PER_YEAR * u
    out["compute_mwh"] = out["it_used_mw"] * u * pue * HOURS_PER_YEAR
    tokens = got["tokens_per_s"].astype(float).fillna(0.0).to_numpy() * SECONDS_PER_HOUR
    tokens = tokens * HOURS_PER_YEAR * u
    mwh = out["compute_mwh"].to_numpy(dtype=float)
    unit_h = out["compute_unit_h"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["kwh_per_compute_unit_h"] = np.where(unit_h > 0, 1000.0 * mwh / unit_h, np.nan)
        out["tokens_per_mwh"] = np.where(mwh > 0, tokens / mwh, np.nan)
    return out


def _pue_annual(schedule: pd.DataFrame, d: ModelData) -> np.ndarray:
    """The annual PUE of each schedule row's site and chosen cooling [-] (1 where the row
    has no cooling)."""
    perf = d.cooling.perf["pue_annual"]
    return np.array(
        [
            float(perf.get((str(s), str(k)), 1.0)) if str(k) else 1.0
            for s, k in zip(schedule["site_id"], schedule["cooling"], strict=True)
        ],
        dtype=float,
    )


def compute_summary(plan: Plan, d: ModelData) -> dict[str, Any] | None:
    """National compute per year for the manifest (``None`` without a ``compute`` section),
    so a target in IT MW, accelerators or compute is reported in all three.

    Returns
    -------
    dict or None
        ``utilisation`` [fraction]; ``years``: one entry per planning year with ``it_mw``
        (the shells' envelopes) and ``it_used_mw`` [MW IT], ``accelerators`` {generation:
        count} in service and ``accelerators_total`` [accelerators], ``compute_units``
        [H100 = 1], ``compute_unit_h`` [compute unit-hours a year], ``compute_mwh``
        [facility MWh a year], ``kwh_per_compute_unit_h``, ``tokens_per_mwh`` (None where
        nothing runs), ``hardware_capex_usd`` [USD, not discounted], ``accelerators_retired``
        and the year's targets: ``target_it_mw``, ``target_accelerators`` {generation:
        count}, ``target_compute_units`` (None or {} where none); what the export market
        bought (:attr:`siting.results.plan.Plan.export`): ``export_accelerators``
        {generation: count} [accelerators], ``export_it_mw`` [MW IT] and
        ``export_compute_units`` [compute units], counted in service above (installed at
        the plan's sites) but not toward the targets (0 and {} without exports).
    """
    c = d.compute
    if c is None:
        return None
    sc = plan.schedule
    cp = plan.compute
    years = [int(y) for y in d.horizon.years]
    ex = getattr(plan, "export", None)
    sold = ex if ex is not None and len(ex) else None
    rows = []
    for t, y in enumerate(years):
        s = sc[sc["year"].astype(int) == y] if len(sc) else sc
        one = cp[cp["year"].astype(int) == y] if len(cp) else cp

        def total(col: str, s: pd.DataFrame = s) -> float:
            return float(s[col].astype(float).sum()) if len(s) and col in s else 0.0

        by_gen = (
            one.groupby("generation")["accelerators_live"].sum().astype(float).to_dict()
            if len(one)
            else {}
        )
        mwh, unit_h = total("compute_mwh"), total("compute_unit_h")
        tokens = float((s["tokens_per_mwh"].fillna(0.0) * s["compute_mwh"]).sum()) if len(s) else 0
        target_mw = float(d.policy.targets_mw[t])
        rows.append(
            {
                "year": y,
                "it_mw": total("it_mw"),
                "it_used_mw": total("it_used_mw"),
                "accelerators": {str(g): n for g, n in by_gen.items() if n > RUNNING_MIN},
                "accelerators_total": total("accelerators"),
                "accelerators_retired": total("accelerators_retired"),
                "hardware_capex_usd": total("hardware_capex_usd"),
                "compute_units": total("compute_units"),
                "compute_unit_h": unit_h,
                "compute_mwh": mwh,
                "kwh_per_compute_unit_h": 1000.0 * mwh / unit_h if unit_h > 0 else None,
                "tokens_per_mwh": tokens / mwh if mwh > 0 else None,
                "target_it_mw": target_mw if target_mw > 0 else None,
                "target_accelerators": {
                    g: float(n) for (g, tt), n in c.accelerator_targets.items() if tt == t and n > 0
                },
                "target_compute_units": float(c.compute_targets[t])
                if t < len(c.compute_targets) and float(c.compute_targets[t]) > 0
                else None,
                **_exported(sold, y),
            }
        )
    return {"utilisation": float(d.horizon.utilisation), "years": rows}


def _exported(sold: pd.DataFrame | None, year: int) -> dict[str, Any]:
    """One year's exports for :func:`compute_summary`: ``export_accelerators`` {generation:
    count}, ``export_it_mw`` [MW IT], ``export_compute_units`` [compute units]."""
    if sold is None:
        return {"export_accelerators": {}, "export_it_mw": 0.0, "export_compute_units": 0.0}
    one = sold[sold["year"].astype(int) == year]
    acc = {
        str(g): float(n)
        for g, n in zip(one["generation"], one["accelerators_exported"], strict=True)
        if str(g) and float(np.nan_to_num(n)) > 0
    }
    return {
        "export_accelerators": acc,
        "export_it_mw": float(one["it_mw_exported"].astype(float).sum()),
        "export_compute_units": float(
            one["compute_units_exported"].astype(float).fillna(0.0).sum()
        ),
    }


def verify_schedule_compute(plan: Plan, d: ModelData, add: Callable[..., None]) -> None:
    """The schedule's compute columns recomputed from ``compute.csv``, the generation table,
    the PUE of each site's cooling and the utilisation (:func:`schedule_with_compute`): the
    largest difference, relative to the figure (accelerators, MW, compute, energy, tokens),
    must be within 1e-6; and every site-year with accelerators in ``compute.csv`` has a
    schedule row. ``add`` is :func:`siting.results.verify.verify`'s."""
    if d.compute is None:
        return
    sc = plan.schedule
    if not set(SCHEDULE_COMPUTE_COLUMNS) <= set(sc.columns):
        add("schedule's compute columns = compute.csv", np.inf, "relative", "columns missing")
        return
    want = schedule_with_compute(sc.drop(columns=SCHEDULE_COMPUTE_COLUMNS), plan.compute, d)
    worst = 0.0
    for col in SCHEDULE_COMPUTE_COLUMNS[1:]:
        a = sc[col].to_numpy(dtype=float)
        b = want[col].to_numpy(dtype=float)
        both = np.isnan(a) & np.isnan(b)
        diff = np.where(both, 0.0, np.abs(a - b) / np.maximum(np.abs(b), 1.0))
        worst = max(worst, float(np.nan_to_num(diff, nan=np.inf).max()) if len(diff) else 0.0)
    names = (sc["generations"].astype(str) != want["generations"].astype(str)).sum()
    cp = plan.compute
    held = set(zip(sc["site_id"].astype(str), sc["year"].astype(int), strict=True))
    live = cp[cp["accelerators_live"].astype(float) > RUNNING_MIN] if len(cp) else cp
    orphans = {
        (str(s), int(y))
        for s, y in zip(live["site_id"], live["year"], strict=True)
        if (str(s), int(y)) not in held
    }
    excess = max(worst - 1e-6, 0.0) + float(names) + float(len(orphans))
    add(
        "schedule's compute columns = compute.csv",
        excess,
        "relative",
        detail=f"{names} generation names differ; site-years without a schedule row: "
        f"{sorted(orphans)[:3]}; worst relative difference {worst:.3g}",
        said="accelerators, generations, compute, energy and tokens per MWh of each site and "
        "year agree with compute.csv and the generation table",
    )
