"""The plan's verification: every rule re-checked from the plan's tables and the inputs
alone, never the model (numpy and pandas only: this module imports neither Pyomo nor a
solver, a rule pyproject.toml's import contract keeps).

:func:`verify` checks whole modules, phasing, campus sizes, cooling, targets, draw, water,
shares, public interest, demand, caps, upgrades and, per year and snapshot, the DC flows
recomputed from the nodal injections (:func:`siting.network.dc_flow`), N-1 included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from siting.core.cells import as_float, as_int
from siting.core.errors import SitingError
from siting.model.data import (
    HOURS_PER_YEAR,
    ComputeData,
    ModelData,
    checked_outages,
    power_year_bounds,
    stress_hours_of,
)
from siting.network import require_network
from siting.results.compute_out import verify_schedule_compute

if TYPE_CHECKING:
    from siting.inputs import Layers
    from siting.results.plan import Plan

#: Columns of ``contingencies.csv``.
CONTINGENCY_COLUMNS = [
    "branch_id",
    "year",
    "snapshot",
    "outage_id",
    "post_flow_mw",
    "rating_emergency_mw",
    "loading_pct",
]

#: Absolute tolerance of the verification [MW, m3/day].
TOL_ABS = 1e-3
#: Relative tolerance of the verification [fraction].
TOL_REL = 1e-6


class VerificationError(SitingError):
    """The plan breaks a rule it must keep (a bug in the model, or solver trouble)."""


@dataclass
class Check:
    """One verification: its name, whether it held, the worst excess, and details.

    ``worst`` is the largest excess over the rule [``unit``] (at most 0 when it held);
    ``detail`` says where it failed; ``said`` says in words what was required and what the
    plan achieved (e.g. "campus water use within the cap: 41,200 of 50,000 m3/day in the
    worst year (2031)").
    """

    name: str
    ok: bool
    worst: float = 0.0
    unit: str = ""
    detail: str = ""
    said: str = ""


def _usd_off(said_usd: float, want_usd: float) -> float:
    """How far a money figure the plan states is from the one recomputed from its tables,
    beyond the tolerance (1 USD or 1e-6 of the figure, the larger) [USD]: <= 0 holds."""
    return abs(said_usd - want_usd) - max(1.0, 1e-6 * abs(want_usd))


def _n(v: float) -> str:
    """A figure for the check texts: thousands separated, no decimals below 1e6 [any unit]."""
    return f"{v:,.0f}" if abs(v) >= 10 or v == round(v) else f"{v:,.1f}"


def _pct(v: float) -> str:
    """A share [fraction] as a percentage for the check texts."""
    return f"{100 * v:.1f}%"


def added_by_year(upgrades: pd.DataFrame, d: ModelData, asset: str = "branch") -> np.ndarray:
    """Rating (``branch``) or headroom (``substation``) added per position and period [MW].

    Parameters
    ----------
    upgrades
        :attr:`Plan.upgrades` (or ``upgrades.csv``).
    d
        The model's data (for the network's order and the years).
    asset
        ``branch`` (rows: ``net.branch_ids``) or ``substation`` (rows: ``net.bus_ids``).

    Returns
    -------
    numpy.ndarray
        Shape (n, n_years) [MW].
    """
    net = require_network(d.grid.net, "the upgrades' added ratings")
    ids = net.branch_ids if asset == "branch" else net.bus_ids
    out = np.zeros((len(ids), d.horizon.n_years))
    pos = pd.Series(np.arange(len(ids)), index=ids.astype(str))
    years = np.asarray(d.horizon.years)
    for r in upgrades[upgrades["asset"] == asset].itertuples(index=False):
        i = pos.get(str(r.asset_id))
        if i is None:
            raise VerificationError(f"upgrades name {asset} {r.asset_id}, which is not in the grid")
        out[i, years >= as_int(r.year)] += as_float(r.added_mw)
    return out


def worst_contingencies(
    flows_all: pd.DataFrame, d: ModelData, added: np.ndarray, lodf_matrix: np.ndarray | None = None
) -> pd.DataFrame:
    """Per monitored branch and year, the worst checked outage (N-1) [MW, %].

    Post-contingency flows are ``f + LODF[:, k] f[k]`` (:func:`siting.network.lodf`) for
    the outages :func:`siting.model.data.checked_outages` selects, at the N-1 snapshots; the
    limit is the emergency rating plus upgrades in service.
    """
    from siting.network import lodf, post_outage_flows

    n1 = d.grid.n1
    if n1 is None:
        raise SitingError("the worst N-1 contingencies need the N-1 settings, and N-1 is off")
    net = require_network(d.grid.net, "the worst N-1 contingencies")
    nl = len(net.branch_ids)
    L = lodf_matrix if lodf_matrix is not None else lodf(net)

    by_period = {
        (d.horizon.years.index(as_int(y)), str(h)): g["flow_mw"].to_numpy()
        for (y, h), g in flows_all.groupby(["year", "snapshot"], sort=False)
    }
    ks = checked_outages(d, by_period)
    if not len(ks):
        return pd.DataFrame(columns=CONTINGENCY_COLUMNS)
    rows = []
    em = d.grid.rating_emergency_mw
    for (y, h), grp in flows_all.groupby(["year", "snapshot"], sort=False):
        t = d.horizon.years.index(as_int(y))
        if not n1.checks(t, str(h)):
            continue
        f = grp["flow_mw"].to_numpy()
        post = post_outage_flows(f, L, ks)  # the tripped branch carries 0
        lim = em + added[:, t]
        with np.errstate(divide="ignore", invalid="ignore"):
            load = np.where(np.isfinite(lim)[:, None], 100.0 * np.abs(post) / lim[:, None], 0.0)
        j = np.argmax(load, axis=1)
        br = np.arange(nl)
        rows.append(
            pd.DataFrame(
                {
                    "branch_id": net.branch_ids,
                    "year": as_int(y),
                    "snapshot": h,
                    "outage_id": net.branch_ids[ks[j]],
                    "post_flow_mw": post[br, j],
                    "rating_emergency_mw": lim,
                    "loading_pct": load[br, j],
                }
            )
        )
    out = pd.concat(rows, ignore_index=True)
    idx = out.groupby(["branch_id", "year"], sort=False)["loading_pct"].idxmax()
    return out.loc[idx].reset_index(drop=True)


# --------------------------------------------------------------------------- verification


def _excess(value: np.ndarray | float, limit: np.ndarray | float) -> np.ndarray:
    """How far ``value`` exceeds ``limit`` beyond the tolerance (0 where it holds); a
    number stands for the same value everywhere."""
    tol = TOL_ABS + TOL_REL * np.abs(limit)
    return np.maximum(np.asarray(value) - np.asarray(limit) - tol, 0.0)


def verify(
    plan: Plan, d: ModelData, layers: Layers, *, raise_on_failure: bool = True
) -> list[Check]:
    """Re-check the plan from its tables and the inputs alone (never the model).

    Checks: whole modules, phasing (new MW per period within the limit, none before the
    earliest year, cumulative), campus sizes, one cooling per site, national targets,
    facility draw = IT x PUE, water need = 24 h x u x IT x WUE met by the links, source
    capacities, the potable cap, region and zone shares, the public-interest share, demand
    regions within reach of enough MW, on-site output within availability x capacity,
    storage discharge paid for by charging, islanded campuses drawing nothing from the
    grid, accelerators (:func:`_verify_compute`), and, per year and snapshot, the
    DC flows recomputed from the nodal injections (dispatch - load - campus draw) with
    :func:`siting.network.dc_flow`: balanced islands, flows equal to the plan's, within
    ratings; substation headroom.

    Returns
    -------
    list of Check

    Raises
    ------
    VerificationError
        When a check fails and ``raise_on_failure``.
    """
    checks: list[Check] = []
    sc = plan.schedule

    def add(
        name: str, excess: np.ndarray | float, unit: str, detail: str = "", said: str = ""
    ) -> None:
        w = float(np.max(excess)) if np.size(excess) else 0.0
        checks.append(Check(name, w <= 0.0, w, unit, detail if w > 0 else "", said))

    total = np.zeros(len(d.horizon.years))
    if len(sc):
        cap, perf = _verify_schedule(sc, d, add)
        if d.water.enabled:
            _verify_water_need(plan, perf, d, add)
        total = cap.sum(axis=0)
    _verify_targets(plan, d, total, add)
    _verify_sources(plan, d, add)
    _verify_caps(plan, d, add)
    if len(sc):
        _verify_shares(sc, d, total, add)
    _verify_public(sc, d, total, add)
    _verify_demand(sc, d, add)
    if d.onsite.enabled:
        _verify_onsite(plan, d, add)
    if d.flex.enabled or len(plan.curtailment):
        _verify_curtailment(plan, d, add)
    _verify_before_connection(plan, d, add)
    if d.compute is not None:
        _verify_compute(plan, d, add)
        verify_schedule_compute(plan, d, add)
        _verify_energy_cost(plan, d, add)
    if d.pacts and d.compute is not None:
        _verify_pacts(plan, d, add)
    if d.policy.export_usd_per_mw_year is not None:
        _verify_export(plan, d, total, add)
    if d.grid.enabled:
        checks.extend(_verify_grid(plan, d))
    if raise_on_failure:
        _raise_failed(checks)
    return checks


def _verify_targets(plan: Plan, d: ModelData, total: np.ndarray, add: Callable[..., None]) -> None:
    """National targets: met each year (hard; the MW exported are checked by
    :func:`_verify_export`), or, soft (``shortfall_usd_per_mw_year``), the plan's ``delay``
    cost equal to ``sum_t op_weight[t] * penalty * max(target_t - IT MW_t + MW exported_t,
    0)`` [USD] recomputed from the schedule and the export, with the compute section the
    year's largest MW equivalent short of that, the accelerator and the compute targets
    (:func:`compute_delay_usd`, from ``compute.csv``), within 1e-6 of it, or 1 USD."""
    tgt = np.asarray(d.policy.targets_mw, dtype=float) * np.ones(len(d.horizon.years))
    t = int(np.argmax(tgt - total)) if len(tgt) else 0
    pen = d.policy.shortfall_usd_per_mw_year
    if pen is None:
        add(
            "national IT targets met",
            _excess(d.policy.targets_mw, total),
            "MW",
            said=(
                f"national IT capacity meets each year's target: {_n(total[t])} MW built for a "
                f"{_n(tgt[t])} MW target in the tightest year ({d.horizon.years[t]})"
                if len(tgt)
                else ""
            ),
        )
        return
    short = np.maximum(tgt - total + exported_mw(plan.export, d.horizon.years), 0.0)
    cost = float(np.sum(np.asarray(d.horizon.op_weight, dtype=float) * float(pen) * short))
    if d.compute is not None:
        cost = compute_delay_usd(
            plan.compute,
            d.compute,
            d.horizon.years,
            d.horizon.op_weight,
            float(pen),
            mw_short=short,
            exported=plan.export,
        )
    said_cost = float(plan.costs_usd.get("delay", 0.0))
    add(
        "cost of delay = penalty x MW-years short",
        _usd_off(said_cost, cost),
        "USD",
        detail=f"the plan says {_n(said_cost)} USD; its schedule gives {_n(cost)} USD",
        said=f"soft targets: {_n(float(short.sum()))} MW short summed over the years, costing "
        f"{_n(cost)} USD of delay (present value) as the plan says",
    )


def _verify_schedule(
    sc: pd.DataFrame, d: ModelData, add: Callable[..., None]
) -> tuple[np.ndarray, pd.DataFrame]:
    """Modules, phasing, sizes, cooling and peak draw of a non-empty schedule.

    Returns
    -------
    cap : numpy.ndarray
        IT capacity per site (rows, the schedule's sites) and year [MW].
    perf : pandas.DataFrame
        The cooling performance of each schedule row (PUE, WUE [L/kWh]).
    """
    mod = d.campus.module_mw
    frac = np.abs(sc["it_mw"] / mod - np.round(sc["it_mw"] / mod))
    add(
        "whole modules",
        frac * mod - TOL_ABS,
        "MW",
        said=f"every site's IT MW is a whole number of {_n(mod)} MW modules in every year",
    )
    piv = sc.pivot_table(index="site_id", columns="year", values="it_mw", aggfunc="sum")
    piv = piv.reindex(columns=d.horizon.years).fillna(0.0)
    cap = piv.to_numpy()
    new = np.diff(np.concatenate([np.zeros((len(cap), 1)), cap], axis=1), axis=1)
    add(
        "capacity never shrinks",
        -new.min(initial=0.0) - TOL_ABS,
        "MW",
        said="no site's IT MW falls from one year to the next",
    )
    lim = np.asarray(d.campus.max_modules_per_period * mod, dtype=float) * np.ones(cap.shape[1])
    i, t = (int(v) for v in np.unravel_index(int(np.argmax(new - lim[None, :])), new.shape))
    add(
        "build per period within the limit",
        _excess(new, lim[None, :]),
        "MW",
        said=f"the build closest to its limit: {_n(new[i, t])} MW at site {piv.index[i]} in "
        f"{d.horizon.years[t]}, of the {_n(lim[t])} MW allowed in one period",
    )
    max_mw = d.campus.site["max_it_mw"].reindex(piv.index).to_numpy(dtype=float)
    i = int(np.argmax(cap.max(axis=1) / np.maximum(max_mw, 1e-9)))
    add(
        "site size within its maximum",
        _excess(cap.max(axis=1), max_mw),
        "MW",
        said=f"the fullest site holds {_n(cap[i].max())} of the {_n(max_mw[i])} MW its "
        f"land allows (site {piv.index[i]})",
    )
    i = int(np.argmin(cap[:, -1]))
    add(
        "campus reaches its minimum size",
        _excess(d.campus.min_campus_mw, cap[:, -1]),
        "MW",
        said=f"the smallest campus reaches {_n(cap[i, -1])} MW (site {piv.index[i]}), the "
        f"minimum {_n(d.campus.min_campus_mw)} MW",
    )
    _verify_power_year(piv, d, add)
    n_cool = sc.groupby("site_id")["cooling"].nunique()
    add(
        "one cooling technology per site",
        n_cool.to_numpy() - 1.0,
        "technologies",
        said="each site keeps one cooling technology in every year",
    )
    perf = d.cooling.perf.loc[list(zip(sc["site_id"], sc["cooling"], strict=True))]
    if d.compute is None:
        add(
            "peak draw = IT x peak PUE",
            np.abs(
                sc["peak_draw_mw"].to_numpy() - sc["it_mw"].to_numpy() * perf["pue_peak"].to_numpy()
            )
            - TOL_ABS,
            "MW",
            said="each site's peak draw equals its IT MW x its cooling's peak PUE",
        )
    else:
        _verify_draws_in_use(sc, perf, d, add)
    return cap, perf


def _verify_draws_in_use(
    sc: pd.DataFrame, perf: pd.DataFrame, d: ModelData, add: Callable[..., None]
) -> None:
    """With a ``compute`` section: each schedule row's peak draw is its IT in use
    (``it_used_mw``) x its cooling's peak PUE and its typical draw (energy: 8,760 h x it)
    the IT in use x the utilisation x the annual PUE [MW]; the idle envelope draws
    nothing."""
    on = on_mw(sc, d)
    u = float(d.horizon.utilisation)
    peak = on * perf["pue_peak"].to_numpy(dtype=float)
    typ = on * u * perf["pue_annual"].to_numpy(dtype=float)
    diff = np.maximum(
        np.abs(sc["peak_draw_mw"].to_numpy(dtype=float) - peak),
        np.abs(sc["typical_draw_mw"].to_numpy(dtype=float) - typ),
    )
    last = sc["year"].astype(int) == max(d.horizon.years)
    add(
        "draws = IT in use x PUE",
        diff - TOL_ABS,
        "MW",
        detail=_row_at(sc, diff),
        said="each site's peak and typical draw (its energy: 8,760 h x the typical draw) are "
        "the IT its accelerators use x its cooling's PUE, the idle envelope drawing nothing: "
        f"{_n(float(on[last.to_numpy()].sum()))} of {_n(float(sc['it_mw'][last].sum()))} MW of "
        f"envelope in use in {max(d.horizon.years)}, {_n(float(HOURS_PER_YEAR * typ.sum()))} "
        "MWh over the site-years",
    )


def _verify_energy_cost(plan: Plan, d: ModelData, add: Callable[..., None]) -> None:
    """Without the grid model (and without on-site supply or pacts, which change its
    price): the plan's ``energy`` cost part is ``sum_t op_weight[t] x energy_usd_per_mwh x
    8,760 h x sum_s typical_draw_mw[s,t]`` [USD, present value], the energy of the draws
    the schedule says (with a ``compute`` section: of the IT in use)."""
    if d.grid.enabled or d.onsite.enabled or d.pacts or "energy" not in plan.costs_usd:
        return
    sc = plan.schedule
    weight = dict(zip(d.horizon.years, np.asarray(d.horizon.op_weight, dtype=float), strict=True))
    typ = sc["typical_draw_mw"].to_numpy(dtype=float) if len(sc) else np.zeros(0)
    w = sc["year"].astype(int).map(weight).fillna(0.0).to_numpy(dtype=float) if len(sc) else typ
    mwh = HOURS_PER_YEAR * typ
    want = float(d.grid.energy_usd_per_mwh * np.sum(w * mwh))
    said_usd = float(plan.costs_usd["energy"])
    add(
        "energy cost = price x the draws' energy",
        _usd_off(said_usd, want),
        "USD",
        detail=f"the plan says {_n(said_usd)} USD; its schedule gives {_n(want)} USD",
        said=f"the energy cost, {_n(want)} USD (present value), is {_n(float(mwh.sum()))} MWh "
        f"a year summed over the site-years at {_n(d.grid.energy_usd_per_mwh)} USD/MWh",
    )


def _row_at(sc: pd.DataFrame, excess: np.ndarray) -> str:
    """Where the largest ``excess`` of a per-row check of the schedule is (site, year)."""
    if not len(sc):
        return ""
    i = int(np.argmax(excess))
    return f"site {sc['site_id'].iloc[i]}, {int(sc['year'].iloc[i])}"


def on_mw(sc: pd.DataFrame, d: ModelData) -> np.ndarray:
    """The IT MW of each schedule row that draw power [MW IT]: ``it_mw``, or with a
    ``compute`` section the IT the accelerators use, ``it_used_mw`` (the idle envelope draws
    nothing, :mod:`siting.model.power`; the column is itself checked against
    ``compute.csv``, :func:`siting.results.compute_out.verify_schedule_compute`)."""
    col = "it_used_mw" if d.compute is not None and "it_used_mw" in sc else "it_mw"
    return sc[col].to_numpy(dtype=float) if len(sc) else np.zeros(0)


def _power_years(d: ModelData, sites: pd.Index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per site of ``sites``: the first year it may have MW, its grid connection's year
    (flexible, when the model has flexible MW) and its firm connection's year [calendar
    year], from the inputs (:func:`siting.model.data.power_year_bounds`)."""
    site = d.campus.site.reindex(sites)
    if "firm_connect_year" not in site:
        years = np.asarray(d.horizon.years)
        ep = site["earliest_period"].to_numpy(dtype=int)
        first = np.where(ep < len(years), years[np.minimum(ep, len(years) - 1)], np.inf)
        return first, first, first
    avail = d.onsite.availability
    onsite = set(avail.index.get_level_values(0).astype(str)) if len(avail) else set()
    return power_year_bounds(site, d.flex.enabled, onsite)


def _verify_power_year(piv: pd.DataFrame, d: ModelData, add: Callable[..., None]) -> None:
    """No site has MW in a year before its power allows (:func:`_power_years`: its firm
    connection, the latest of its bus's queue, a substation upgrade it needs and
    construction; its flexible connection with flexible MW; its construction with on-site
    options). ``piv``: IT MW per site (rows) and year (columns)."""
    years = np.asarray(d.horizon.years)
    allowed, _, _ = _power_years(d, piv.index)
    early = (years[None, :] < allowed[:, None]) * piv.to_numpy()
    worst = early.max(axis=1) if early.size else np.zeros(0)
    i = int(np.argmax(worst)) if len(worst) else 0
    add(
        "no MW before the year power allows",
        worst - TOL_ABS,
        "MW",
        detail=f"site {piv.index[i]} has {_n(worst[i])} MW before {_n(allowed[i])}"
        if len(worst)
        else "",
        said="no site has MW before its first year of power (its bus's queue, a substation "
        "upgrade it needs, its construction, campus.earliest_year; earlier with a flexible "
        "connection or on-site supply)",
    )


def _grid_draws(plan: Plan, d: ModelData) -> pd.DataFrame:
    """Each campus's draw from the grid per year and snapshot [MW]: its schedule row's
    ``peak_draw_mw`` (peak snapshots) or ``typical_draw_mw`` (the others) less its relief
    (:attr:`Plan.relief`). Columns ``site_id, year, snapshot, grid_mw``."""
    sc = plan.schedule
    peak = d.horizon.snapshots["peak"].astype(bool)
    snaps = pd.DataFrame({"snapshot": [str(h) for h in peak.index], "peak": peak.to_numpy()})
    rows = sc.assign(site_id=sc["site_id"].astype(str), year=sc["year"].astype(int)).merge(
        snaps, how="cross"
    )
    draw = np.where(rows["peak"], rows["peak_draw_mw"], rows["typical_draw_mw"]).astype(float)
    out = rows[["site_id", "year", "snapshot"]].assign(grid_mw=draw)
    rel = plan.relief
    if len(rel):
        got = (
            rel.assign(site_id=rel["site_id"].astype(str), year=rel["year"].astype(int))
            .assign(snapshot=rel["snapshot"].astype(str))
            .groupby(["site_id", "year", "snapshot"], as_index=False)["relief_mw"]
            .sum()
        )
        out = out.merge(got, on=["site_id", "year", "snapshot"], how="left")
        out["grid_mw"] = out["grid_mw"] - out.pop("relief_mw").fillna(0.0).astype(float)
    return out


def _worst(table: pd.DataFrame, value: np.ndarray) -> tuple[float, str]:
    """The largest ``value`` of ``table``'s rows (0 when none is positive) and where it is
    (site, year, snapshot)."""
    if not len(table) or float(np.max(value)) <= 0:
        return 0.0, ""
    i = int(np.argmax(value))
    r = table.iloc[i]
    return float(value[i]), f"site {r['site_id']}, {r['year']}, snapshot {r['snapshot']}"


def _verify_before_connection(plan: Plan, d: ModelData, add: Callable[..., None]) -> None:
    """Before a site's grid connection its campus draws nothing from the grid (on-site
    supply: its draw less its relief is 0 in every snapshot), and before its firm connection
    all its IT MW are flexible (``flexible_it_mw``); checked where a schedule row comes
    before either year."""
    sc = plan.schedule
    if not len(sc) or "firm_connect_year" not in d.campus.site:
        return
    sites = pd.Index(sc["site_id"].astype(str).unique())
    _, grid_y, firm_y = _power_years(d, sites)
    conn = pd.Series(grid_y, index=sites)
    firm = pd.Series(firm_y, index=sites)
    sid, year = sc["site_id"].astype(str), sc["year"].astype(float)
    pre = (year < sid.map(conn)).to_numpy()
    flex_only = ~pre & (year < sid.map(firm)).to_numpy()
    n_pre = int(pre.sum() + flex_only.sum())
    draws = _grid_draws(plan, d)
    early = draws[draws["year"] < draws["site_id"].map(conn)]
    worst_grid, where_grid = _worst(early, early["grid_mw"].to_numpy(dtype=float))
    flex = sc["flexible_it_mw"].astype(float) if "flexible_it_mw" in sc else 0.0 * sc["it_mw"]
    firm_mw = np.where(flex_only, on_mw(sc, d) - np.asarray(flex, dtype=float), 0.0)
    worst_flex, where_flex = 0.0, ""
    if len(firm_mw) and firm_mw.max() > 0:
        i = int(np.argmax(firm_mw))
        worst_flex, where_flex = float(firm_mw[i]), f"site {sid.iloc[i]}, {int(year.iloc[i])}"
    if not n_pre:
        return
    add(
        "nothing from the grid before its connection",
        worst_grid - TOL_ABS,
        "MW",
        where_grid,
        said="a campus running before its grid connection is supplied on site in every snapshot",
    )
    add(
        "only flexible MW before the firm connection",
        worst_flex - TOL_ABS,
        "MW",
        where_flex,
        said="between its flexible and its firm connection a campus's IT MW are all flexible",
    )


def _verify_water_need(
    plan: Plan, perf: pd.DataFrame, d: ModelData, add: Callable[..., None]
) -> None:
    """Each schedule row's water need, 24 h x u x IT x WUE [m3/day] (the IT in use with a
    ``compute`` section, :func:`on_mw`), met by its pipelines."""
    sc = plan.schedule
    need = 24.0 * d.horizon.utilisation * on_mw(sc, d) * perf["wue_annual_l_per_kwh"].to_numpy()
    supplied = np.zeros(len(sc))
    if len(plan.water_links):
        got = plan.water_links.groupby(["site_id", "year"])["m3_per_day"].sum()
        supplied = (
            got.reindex(list(zip(sc["site_id"], sc["year"], strict=True))).fillna(0.0).to_numpy()
        )
    add(
        "water need met by pipelines",
        np.abs(supplied - need) - (TOL_ABS + 1e-6 * need),
        "m3/day",
        said="each site's water need (24 h x utilisation x IT MW x WUE"
        + ("; the IT in use" if d.compute is not None else "")
        + ") is piped to it "
        f"in every year: {_n(float(need.sum()))} m3/day over all site-years",
    )


def _verify_sources(plan: Plan, d: ModelData, add: Callable[..., None]) -> None:
    """Water sources within their capacity of each year, and the potable cap [m3/day]."""
    if not (len(plan.water_links) and len(d.water.sources)):
        return
    use = plan.water_links.groupby(["source_id", "year"])["m3_per_day"].sum()
    caps = np.array([d.water.sources.at[w, f"cap_{y}"] for (w, y) in use.index], dtype=float)
    i = int(np.argmax(use.to_numpy() / np.maximum(caps, 1e-9)))
    w_id, w_y = use.index[i]
    add(
        "water sources within capacity",
        _excess(use.to_numpy(), caps),
        "m3/day",
        said=f"water drawn within each source's capacity: the fullest, source {w_id} in "
        f"{w_y}, gives {_n(float(use.iloc[i]))} of {_n(float(caps[i]))} m3/day",
    )
    if d.water.potable_cap_m3_per_day is not None:
        kinds = d.water.sources["kind"]
        pot = plan.water_links[plan.water_links["source_id"].map(kinds) == "potable"]
        by_year = pot.groupby("year")["m3_per_day"].sum().reindex(d.horizon.years).fillna(0.0)
        add(
            "potable water cap",
            _excess(by_year.to_numpy(), d.water.potable_cap_m3_per_day),
            "m3/day",
            said=_within_cap(
                "potable water use",
                by_year.to_numpy(),
                d.water.potable_cap_m3_per_day,
                "m3/day",
                d.horizon.years,
            ),
        )


def _verify_shares(
    sc: pd.DataFrame, d: ModelData, total: np.ndarray, add: Callable[..., None]
) -> None:
    """Region shares and the designated zones' share of the national ``total`` [MW]."""
    years = d.horizon.years
    if d.policy.region_shares:
        reg = sc["site_id"].map(d.campus.site["region_id"])
        for r, (lo, hi) in d.policy.region_shares.items():
            in_r = sc[reg == r].groupby("year")["it_mw"].sum().reindex(years).fillna(0.0).to_numpy()
            share = in_r / np.maximum(total, 1e-9)
            lo_t, hi_t = int(np.argmin(share)), int(np.argmax(share))
            add(
                f"region {r} share >= {lo:g}",
                _excess(lo * total, in_r),
                "MW",
                said=f"region {r} holds at least {_pct(lo)} of national IT MW each year: "
                f"{_pct(share[lo_t])} in its lowest year ({years[lo_t]})",
            )
            add(
                f"region {r} share <= {hi:g}",
                _excess(in_r, hi * total),
                "MW",
                said=f"region {r} holds at most {_pct(hi)} of national IT MW each year: "
                f"{_pct(share[hi_t])} in its highest year ({years[hi_t]})",
            )
    if d.policy.zone_mode == "require" and d.policy.zone_min_share > 0:
        zk = sc["site_id"].map(d.campus.site["zone_kind"])
        inz = sc[zk == "designated"].groupby("year")["it_mw"].sum().reindex(years).fillna(0.0)
        share = inz.to_numpy() / np.maximum(total, 1e-9)
        t = int(np.argmin(share))
        add(
            "share in designated zones",
            _excess(d.policy.zone_min_share * total, inz.to_numpy()),
            "MW",
            said=f"designated policy zones hold at least {_pct(d.policy.zone_min_share)} of "
            f"national IT MW each year: {_pct(share[t])} in the lowest year ({years[t]})",
        )


def _verify_public(
    sc: pd.DataFrame, d: ModelData, total: np.ndarray, add: Callable[..., None]
) -> None:
    """The public-interest reserved share of the national ``total`` [MW], from the
    schedule's ``public_it_mw``, and that it sits on eligible sites with an eligible cooling,
    within their IT MW."""
    if d.policy.public_share <= 0:
        return
    years = d.horizon.years
    if len(sc) and "public_it_mw" in sc:
        pub = sc.groupby("year")["public_it_mw"].sum().reindex(years).fillna(0.0).to_numpy()
        eligible = np.array(
            [
                s in d.policy.public_techs and k in d.policy.public_techs[s]
                for s, k in zip(sc["site_id"], sc["cooling"], strict=True)
            ],
            dtype=bool,
        )
        room = np.where(eligible, sc["it_mw"].to_numpy(dtype=float), 0.0)
        add(
            "public-interest MW on eligible sites, within their IT MW",
            _excess(sc["public_it_mw"].to_numpy(dtype=float), room),
            "MW",
            said="public-interest MW only on eligible sites and coolings, within each site's IT MW",
        )
    else:
        pub = np.zeros(len(years))
    share = pub / np.maximum(total, 1e-9)
    t = int(np.argmin(share)) if len(share) else 0
    add(
        f"public-interest share >= {d.policy.public_share:g}",
        _excess(d.policy.public_share * total, pub),
        "MW",
        said=f"public-interest MW at least {_pct(d.policy.public_share)} of national IT MW "
        f"each year: {_n(pub[t])} MW of {_n(total[t])} MW ({_pct(share[t])}) in the lowest "
        f"year ({years[t]})"
        if len(share)
        else "",
    )


def _verify_demand(sc: pd.DataFrame, d: ModelData, add: Callable[..., None]) -> None:
    """Each demand region's demand [MW] within the IT MW of the chosen sites within its
    latency reach, each year (necessary for it to be served: the tables hold no
    assignment, so a site counted for two regions is not caught here)."""
    if not len(d.policy.demand_mw):
        return
    years = d.horizon.years
    it = (
        sc.pivot_table(index="site_id", columns="year", values="it_mw", aggfunc="sum")
        .reindex(columns=years)
        .fillna(0.0)
        if len(sc)
        else pd.DataFrame(columns=years)
    )
    links = d.policy.demand_links
    worst = []
    for r in d.policy.demand_mw.index:
        near = [s for s in links.loc[links["region_id"] == r, "site_id"] if s in it.index]
        reach = it.loc[near].sum(axis=0).to_numpy() if near else np.zeros(len(years))
        need = d.policy.demand_mw.loc[r, years].astype(float).to_numpy()
        worst.append(_excess(need, reach).max(initial=0.0))
    add(
        "demand regions have the MW within latency reach",
        np.asarray(worst, dtype=float),
        "MW",
        said=f"each of the {len(d.policy.demand_mw)} demand regions has at least its demand "
        "in IT MW at chosen sites within latency reach, every year",
    )


def _verify_onsite(plan: Plan, d: ModelData, add: Callable[..., None]) -> None:
    """On-site generation and storage from the plan's ``onsite`` and ``relief`` tables:
    output (storage: discharge plus charging) within availability x capacity in every
    year and snapshot, storage discharge paid for by charging over the year, and islanded
    campuses drawing nothing from the grid."""
    out, chg = _onsite_relief(plan)
    cap = {
        (str(r.site_id), str(r.option), as_int(r.year)): as_float(r.capacity_mw)
        for r in plan.onsite.itertuples(index=False)
    }
    avail = d.onsite.availability
    worst, where = 0.0, ""
    for key in set(out) | set(chg):
        s, o, y, h = key
        mw = out.get(key, 0.0) + chg.get(key, 0.0)
        a = as_float(avail.at[(s, o), h]) if (s, o) in avail.index else 0.0
        limit = a * cap.get((s, o, y), 0.0)
        excess = mw - limit - TOL_ABS - TOL_REL * limit
        if excess > worst:
            worst = excess
            where = f"site {s}, option {o}, {y}, snapshot {h}: {mw:.6g} MW of {limit:.6g} MW"
    add(
        "on-site output within availability x capacity",
        worst,
        "MW",
        where,
        said="every on-site option's output (storage: discharge and charging) is within its "
        "availability x the MW in service, in every year and snapshot",
    )
    _verify_storage_balance(out, chg, d, add)
    _verify_islanded(plan, d, add)


def _onsite_relief(
    plan: Plan,
) -> tuple[dict[tuple[str, str, int, str], float], dict[tuple[str, str, int, str], float]]:
    """On-site output (storage: discharge) and storage charging from the plan's relief
    table, {(site, option, year, snapshot): MW} each (charging as a positive MW)."""
    out: dict[tuple[str, str, int, str], float] = {}
    chg: dict[tuple[str, str, int, str], float] = {}
    rel = plan.relief
    if not len(rel):
        return out, chg
    rel = rel[rel["source"].astype(str).str.startswith("onsite_")]
    for r in rel.itertuples(index=False):
        src = str(r.source)[len("onsite_") :]
        charging = src.endswith("_charge")
        o = src[: -len("_charge")] if charging else src
        key = (str(r.site_id), o, as_int(r.year), str(r.snapshot))
        mw = as_float(r.relief_mw)
        if charging:
            chg[key] = chg.get(key, 0.0) - mw
        else:
            out[key] = out.get(key, 0.0) + mw
    return out, chg


def _verify_storage_balance(
    out: dict[tuple[str, str, int, str], float],
    chg: dict[tuple[str, str, int, str], float],
    d: ModelData,
    add: Callable[..., None],
) -> None:
    """Each storage option's discharge over the year [MWh] within its charging x its
    round-trip efficiency (the 0-hour peak snapshots weigh nothing)."""
    opts = d.onsite.options
    hours = d.horizon.snapshots["hours"].astype(float).to_dict()
    store = {o for o in opts.index if as_float(opts.at[o, "storage_mwh_per_mw"]) > 0}
    energy: dict[tuple[str, str, int], float] = {}
    for (s, o, y, h), mw in out.items():
        if o in store:
            energy[s, o, y] = energy.get((s, o, y), 0.0) + hours[h] * mw
    for (s, o, y, h), mw in chg.items():
        eta = as_float(opts.at[o, "round_trip_efficiency"])
        energy[s, o, y] = energy.get((s, o, y), 0.0) - eta * hours[h] * mw
    worst, where = 0.0, ""
    for (s, o, y), net in energy.items():
        if net - TOL_ABS > worst:
            worst, where = net - TOL_ABS, f"site {s}, option {o}, {y}: {net:.6g} MWh short"
    add(
        "storage discharge paid for by charging",
        worst,
        "MWh/year",
        where,
        said="every storage option discharges over the year at most what it charged x its "
        "round-trip efficiency",
    )


def _verify_islanded(plan: Plan, d: ModelData, add: Callable[..., None]) -> None:
    """An islanded campus's draw from the grid (its facility draw less its relief) is 0 in
    every year and snapshot."""
    ons = plan.onsite
    islanded = sorted(set(ons.loc[ons["islanded"].astype(bool), "site_id"].astype(str)))
    if not islanded:
        return
    draws = _grid_draws(plan, d)
    mine = draws[draws["site_id"].isin(islanded)]
    worst, where = _worst(mine, np.abs(mine["grid_mw"].to_numpy(dtype=float)) - TOL_ABS)
    add(
        "islanded campuses draw nothing from the grid",
        worst,
        "MW",
        where,
        said=f"the islanded campuses ({', '.join(islanded)}) are supplied on site in every "
        "year and snapshot",
    )


def _verify_curtailment(plan: Plan, d: ModelData, add: Callable[..., None]) -> None:
    """Flexible MW and their curtailment (:mod:`siting.model.flex`), from the schedule's
    ``flexible_it_mw`` and the curtailment table: flexible MW within the site's share;
    each curtailment within the depth of the flexible draw of its snapshot (so firm MW are
    never curtailed); each site's curtailed energy per year within the budget (the
    snapshots' stress hours from the inputs, not the table); and the draw relief the flows
    were recomputed with (``draw_relief.csv``) equal to the curtailment."""
    sc = plan.schedule
    cu = plan.curtailment
    f = d.flex
    flex = sc["flexible_it_mw"].to_numpy(dtype=float) if "flexible_it_mw" in sc else np.zeros(0)
    it = on_mw(sc, d)
    add(
        "flexible MW within the site's share",
        _excess(flex, f.max_share * it) if len(sc) else 0.0,
        "MW",
        said=f"flexible IT MW at most {_pct(f.max_share)} of each site's IT MW"
        + (" in use" if d.compute is not None else "")
        + ": "
        f"{_n(float(flex.sum()) if len(flex) else 0.0)} MW-years flexible",
    )
    stress = stress_hours_of(d)
    room = _flexible_draw(sc, cu, d) * f.depth
    cmw = cu["curtailed_mw"].to_numpy(dtype=float)
    exc = _excess(cmw, room) if len(cu) else np.zeros(0)
    add(
        "curtailment within its depth",
        exc if len(cu) else 0.0,
        "MW",
        detail=_first_row(cu, exc),
        said=f"each curtailment at most {_pct(f.depth)} of the flexible MW's draw (firm MW "
        f"never curtailed): {len(cu)} curtailed site-year-snapshots, at most "
        f"{_n(float(cmw.max()) if len(cu) else 0.0)} MW",
    )
    _verify_budget(plan, d, stress, add)
    rel = plan.relief
    rel = rel[rel["source"] == "curtailment"] if len(rel) else rel
    a = cu.groupby(["site_id", "year", "snapshot"])["curtailed_mw"].sum() if len(cu) else None
    b = rel.groupby(["site_id", "year", "snapshot"])["relief_mw"].sum() if len(rel) else None
    if a is None or b is None:
        diff = np.asarray([0.0 if a is None and b is None else 1.0])
    else:
        j = a.index.union(b.index)
        diff = np.abs(a.reindex(j).fillna(0.0).to_numpy() - b.reindex(j).fillna(0.0).to_numpy())
    add(
        "curtailment equals the draw relief of the flows",
        _excess(diff, 0.0),
        "MW",
        said="the curtailment table and the relief the flows were recomputed with agree",
    )


def _verify_compute(plan: Plan, d: ModelData, add: Callable[..., None]) -> None:
    """Accelerators (:mod:`siting.model.compute`) from ``compute.csv``, the schedule and the
    generation table: each row's IT MW and compute equal to its accelerators x the table's
    kW and compute; accelerators in service within the cohorts installed in the last
    ``service_life_years``; each site's IT MW used within its envelope (the schedule's
    ``it_mw``); its racks within the positions built, and those within its land; and the
    targets in accelerators and compute met (hard targets)."""
    c = d.compute
    if c is None:
        return
    cp = plan.compute.copy()
    gen = c.generations
    years = d.horizon.years
    cp["site_id"] = cp["site_id"].astype(str)
    cp["year"] = cp["year"].astype(int)
    g = cp["generation"].astype(str)
    live = cp["accelerators_live"].to_numpy(dtype=float)
    kw = g.map(gen["kw_per_accelerator"].astype(float)).to_numpy(dtype=float)
    cu = g.map(gen["compute_per_accelerator"].astype(float)).to_numpy(dtype=float)
    conv = np.abs(cp["it_used_mw"].to_numpy(dtype=float) - kw * live / 1000.0)
    conv = np.maximum(conv, np.abs(cp["compute_units"].to_numpy(dtype=float) - cu * live) / 1e3)
    add(
        "IT MW and compute = accelerators x the generation table",
        _excess(np.nan_to_num(conv, nan=np.inf), 0.0) if len(cp) else 0.0,
        "MW",
        detail=_first_row(cp.assign(snapshot="-"), _excess(np.nan_to_num(conv, nan=np.inf), 0.0)),
        said=f"{_n(float(live.sum()))} accelerator-years in service, each at its generation's "
        "kW and compute",
    )
    exact = not c.early_retirement
    add(
        "accelerators within their service life",
        _cohort_excess(cp, gen, years, exact),
        "accelerators",
        said="each cohort in service for all of its life, no more"
        if exact
        else "no cohort in service beyond its life (early retirement allowed)",
    )
    per_site = cp.groupby(["site_id", "year"]).agg(
        it=("it_used_mw", "sum"), racks=("racks", "sum"), floor=("rack_positions", "max")
    )
    sc = plan.schedule
    env = (
        sc.assign(site_id=sc["site_id"].astype(str), year=sc["year"].astype(int))
        .set_index(["site_id", "year"])["it_mw"]
        .astype(float)
        if len(sc)
        else pd.Series(dtype=float)
    )
    envelope = env.reindex(per_site.index).fillna(0.0).to_numpy()
    add(
        "IT MW used within the shell's envelope",
        _excess(per_site["it"].to_numpy(), envelope) if len(per_site) else 0.0,
        "MW",
        said=f"accelerators use at most {_n(float(per_site['it'].max()) if len(per_site) else 0)}"
        " MW IT at a site, within its envelope (schedule it_mw)",
    )
    land = per_site.index.get_level_values(0).map(c.max_racks).to_numpy(dtype=float)
    floor = per_site["floor"].to_numpy(dtype=float)
    add(
        "racks within the floor built, the floor within the land",
        np.maximum(_excess(per_site["racks"].to_numpy(), floor), _excess(floor, land))
        if len(per_site)
        else 0.0,
        "racks",
        said="every rack in service has a position built, within the site's land",
    )
    soft = d.policy.shortfall_usd_per_mw_year is not None
    _verify_compute_targets(cp, c, years, soft, add)


def _verify_pacts(plan: Plan, d: ModelData, add: Callable[..., None]) -> None:
    """Compute pacts (:mod:`siting.model.pacts`) from ``pacts.csv``, ``compute.csv``, the
    schedule and the pacts' inputs: accelerators supplied within each pact's supply
    schedule; a licensed generation installed only under a pact and at its sites of at
    least its security tier; energy used within the contract and the pact campuses' energy
    (8,760 h x typical draw); the public-interest share of the pact's compute held."""
    pk = plan.pacts.copy()
    pk["generation"] = pk["generation"].fillna("").astype(str)
    pk["sites_used"] = pk["sites_used"].fillna("").astype(str)
    years = d.horizon.years
    by = {p.name: p for p in d.pacts}
    cap = np.array(
        [
            by[p].supply.get((g, years.index(int(y))), 0.0) if g else 0.0
            for p, y, g in zip(pk["pact"], pk["year"], pk["generation"], strict=True)
        ]
    )
    supplied = pk["accelerators_supplied"].to_numpy(dtype=float)
    add(
        "pact supply within its licence",
        _excess(supplied, cap) if len(pk) else 0.0,
        "accelerators",
        said=f"{len(d.pacts)} pacts supply at most their schedules' accelerators per period",
    )
    tier = d.campus.site.get("security_tier", pd.Series(0, index=d.campus.site.index))
    bad_site = np.array(
        [
            any(
                s not in by[p].sites or int(tier.get(s, 0)) < by[p].security_tier
                for s in used.split(";")
                if s
            )
            for p, used in zip(pk["pact"], pk["sites_used"], strict=True)
        ],
        dtype=bool,
    )
    cp = plan.compute
    lic: dict[str, set[str]] = {}
    for p in d.pacts:
        for g in p.generations:
            lic.setdefault(g, set()).update(p.sites)
    outside = np.array(
        [
            float(n) if g in lic and s not in lic[g] else 0.0
            for s, g, n in zip(
                cp["site_id"].astype(str),
                cp["generation"].astype(str),
                cp["accelerators_new"],
                strict=True,
            )
        ]
    )
    add(
        "licensed accelerators only under a pact, at sites of its security tier",
        np.concatenate([_excess(outside, 0.0), np.where(bad_site, supplied, 0.0)]),
        "accelerators",
        said=f"{len(lic)} licensed generations installed only at their pacts' sites",
    )
    units = cp.groupby([cp["site_id"].astype(str), cp["generation"].astype(str), "year"])[
        "compute_units"
    ].sum()
    gens_all = [str(g) for g in d.compute.generations.index] if d.compute is not None else []
    pk["pact_compute_units"] = [  # recomputed from compute.csv, not read from pacts.csv
        sum(
            float(units.get((s, g, int(y)), 0.0))
            for s in by[p].sites
            for g in (by[p].generations or gens_all)
        )
        for p, y in zip(pk["pact"], pk["year"], strict=True)
    ]
    _verify_pact_energy(pk, d, plan.schedule, add)
    _verify_pact_public_once(pk, d, units, add)


def _verify_pact_energy(
    pk: pd.DataFrame, d: ModelData, sc: pd.DataFrame, add: Callable[..., None]
) -> None:
    """The pacts' energy used within their contracts and the pact campuses' energy
    [MWh/year], and their public-interest shares held [compute units]."""
    typ = (
        sc.assign(site_id=sc["site_id"].astype(str), year=sc["year"].astype(int))
        .set_index(["site_id", "year"])["typical_draw_mw"]
        .astype(float)
        if len(sc)
        else pd.Series(dtype=float)
    )
    by = {p.name: p for p in d.pacts}
    campus = np.array(
        [
            HOURS_PER_YEAR * sum(float(typ.get((s, int(y)), 0.0)) for s in by[p].sites)
            for p, y in zip(pk["pact"], pk["year"], strict=True)
        ]
    )
    used = pk["energy_used_mwh"].to_numpy(dtype=float)
    limit = np.minimum(pk["energy_contracted_mwh"].to_numpy(dtype=float), campus)
    add(
        "pact energy within its contract and its campuses' use",
        _excess(used, limit) if len(pk) else 0.0,
        "MWh",
        said="each pact's contracted energy used is within its volume and its campuses' energy",
    )
    want = pk["public_share"].to_numpy(dtype=float) * pk["pact_compute_units"].to_numpy(dtype=float)
    add(
        "pact public-interest share held",
        _excess(want, pk["public_compute_units"].to_numpy(dtype=float)) if len(pk) else 0.0,
        "compute units",
        said="each pact reserves its public-interest share of its compute",
    )


def _verify_pact_public_once(
    pk: pd.DataFrame, d: ModelData, units: pd.Series, add: Callable[..., None]
) -> None:
    """Each unit of compute held public for at most one pact: per year, the pacts'
    ``public_compute_units`` (``pacts.csv``) must fit in the compute in service
    (``compute.csv``, per site and generation) at their public-eligible sites and licensed
    generations with no unit shared, that is, the largest flow from the pacts through the
    (site, generation) cells each may claim to the cells' compute (:func:`_max_flow`) must
    carry every pact's public compute [compute units]. Two pacts on one site asking 50 %
    each need all of its compute public, not the same half twice."""
    gens_all = [str(g) for g in d.compute.generations.index] if d.compute is not None else []
    by = {p.name: p for p in d.pacts}
    first = pk.drop_duplicates(["pact", "year"]) if len(pk) else pk
    excess = [0.0]
    worst_year = ""
    groups = list(first.groupby(first["year"].astype(int))) if len(first) else []
    for y, rows in groups:
        claims = {
            str(p): float(v)
            for p, v in zip(rows["pact"], rows["public_compute_units"].astype(float), strict=True)
            if float(v) > 0
        }
        if not claims:
            continue
        reach = {
            p: [(s, g) for s in by[p].public_sites for g in (by[p].generations or gens_all)]
            for p in claims
        }
        cells = {
            cell: float(units.get((cell[0], cell[1], int(y)), 0.0))
            for p in claims
            for cell in reach[p]
        }
        held = _max_flow(claims, cells, reach)
        over = float(_excess(sum(claims.values()), held))
        if over > max(excess):
            worst_year = str(y)
        excess.append(over)
    add(
        "pact public shares held by distinct compute",
        np.asarray(excess),
        "compute units",
        detail=f"worst in {worst_year}",
        said="the pacts' public-interest compute fits their sites' compute with no unit counted "
        "for two pacts",
    )


def _max_flow(
    claims: dict[str, float],
    cells: dict[tuple[str, str], float],
    reach: dict[str, list[tuple[str, str]]],
) -> float:
    """The largest flow from a source through each claim (capacity its amount) to the cells
    it reaches (unbounded) to a sink (capacity each cell's amount): the most of the claims
    the cells can hold with each cell's amount held once [the claims' unit]. Edmonds-Karp
    (shortest augmenting paths), on a graph of a few pacts and cells."""
    src, sink = "src", "sink"
    cap: dict[str, dict[str, float]] = {src: {}, sink: {}}

    def edge(a: str, b: str, c: float) -> None:
        cap.setdefault(a, {})[b] = cap.setdefault(a, {}).get(b, 0.0) + c
        cap.setdefault(b, {}).setdefault(a, 0.0)

    big = sum(claims.values()) + 1.0
    for p, v in claims.items():
        edge(src, "p:" + p, v)
        for s, g in reach.get(p, []):
            if (s, g) in cells:
                edge("p:" + p, f"c:{s}\x00{g}", big)
    for (s, g), v in cells.items():
        edge(f"c:{s}\x00{g}", sink, v)
    eps = 1e-12 * big
    flow = 0.0
    while True:
        prev = {src: src}
        queue = [src]
        for a in queue:  # breadth first; the list grows as it is read
            for b, c in cap[a].items():
                if c > eps and b not in prev:
                    prev[b] = a
                    queue.append(b)
        if sink not in prev:
            return flow
        path = [sink]
        while path[-1] != src:
            path.append(prev[path[-1]])
        path.reverse()
        f = min(cap[a][b] for a, b in zip(path, path[1:], strict=False))
        for a, b in zip(path, path[1:], strict=False):
            cap[a][b] -= f
            cap[b][a] += f
        flow += f


def _cohort_excess(
    cp: pd.DataFrame, gen: pd.DataFrame, years: list[int], exact: bool = False
) -> np.ndarray:
    """Accelerators in service beyond the cohorts alive (with ``exact``, also short of
    them: no early retirement), per row of ``compute.csv``."""
    out = np.zeros(len(cp))
    life = gen["service_life_years"].astype(float).to_dict()
    new: dict[tuple[str, str, int], float] = {}
    sites = cp["site_id"].astype(str).tolist()
    gens = cp["generation"].astype(str).tolist()
    yrs = [int(y) for y in cp["year"]]
    for s, g, y, n in zip(sites, gens, yrs, cp["accelerators_new"].astype(float), strict=True):
        new[s, g, y] = float(n)
    for i, live in enumerate(cp["accelerators_live"].astype(float)):
        s, g, yr = sites[i], gens[i], yrs[i]
        alive = sum(new.get((s, g, y), 0.0) for y in years if y <= yr and yr - y < life.get(g, 0.0))
        out[i] = float(_excess(float(live), alive))
        if exact:
            out[i] = max(out[i], float(_excess(alive, float(live))))
    return out


def exported_mw(export: pd.DataFrame, years: Sequence[int]) -> np.ndarray:
    """The IT MW sold to the export market per planning year [MW IT], from
    :attr:`siting.results.plan.Plan.export` (0 in a year it has no row)."""
    if not len(export):
        return np.zeros(len(years))
    by = export.groupby(export["year"].astype(int))["it_mw_exported"].sum()
    return np.array([float(by.get(int(y), 0.0)) for y in years])


def compute_short_mw(
    cp: pd.DataFrame,
    c: ComputeData,
    years: Sequence[int],
    exported: pd.DataFrame | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The MW equivalents short of the accelerator and of the compute targets per year
    [MW IT], recomputed from ``compute.csv`` net of the accelerators exported as
    :mod:`siting.model.compute` counts them: the accelerators of each generation short of
    its target x its kW / 1,000, summed over the generations (different generations are
    different asks), and the compute units short x the least kW per compute unit in the
    table / 1,000.

    Parameters
    ----------
    cp
        ``compute.csv``: ``year``, ``generation``, ``accelerators_live``, ``compute_units``.
    c
        The compute inputs (generation table and targets).
    years
        The planning years, aligned with ``c.compute_targets``.
    exported
        :attr:`siting.results.plan.Plan.export` (``year``, ``generation``,
        ``accelerators_exported``, ``compute_units_exported``), or None: nothing exported.

    Returns
    -------
    tuple of numpy.ndarray
        (accelerator targets, compute targets) short per year [MW IT].
    """
    gen = c.generations
    kw = gen["kw_per_accelerator"].astype(float)
    kw_per_unit = float((kw / gen["compute_per_accelerator"].astype(float)).min())
    cp = cp.assign(generation=cp["generation"].astype(str), year=cp["year"].astype(int))
    live = cp.groupby(["generation", "year"])["accelerators_live"].sum() if len(cp) else None
    units = cp.groupby("year")["compute_units"].sum() if len(cp) else None
    sold_acc: dict[tuple[str, int], float] = {}
    sold_units: dict[int, float] = {}
    if exported is not None and len(exported):
        for y, g, n, u in zip(
            exported["year"].astype(int),
            exported["generation"].astype(str),
            exported["accelerators_exported"].astype(float),
            exported["compute_units_exported"].astype(float),
            strict=True,
        ):
            sold_acc[g, int(y)] = sold_acc.get((g, int(y)), 0.0) + float(np.nan_to_num(n))
            sold_units[int(y)] = sold_units.get(int(y), 0.0) + float(np.nan_to_num(u))
    acc_mw = np.zeros(len(years))
    unit_mw = np.zeros(len(years))
    for (g, t), target in c.accelerator_targets.items():
        have = float(live.get((g, years[t]), 0.0)) if live is not None else 0.0
        have -= sold_acc.get((g, int(years[t])), 0.0)
        acc_mw[t] += max(float(target) - have, 0.0) * float(kw[g]) / 1e3
    for t, target in enumerate(np.asarray(c.compute_targets, dtype=float)[: len(years)]):
        have = float(units.get(years[t], 0.0)) if units is not None else 0.0
        have -= sold_units.get(int(years[t]), 0.0)
        unit_mw[t] = max(float(target) - have, 0.0) * kw_per_unit / 1e3
    return acc_mw, unit_mw


def compute_delay_usd(
    cp: pd.DataFrame,
    c: ComputeData,
    years: Sequence[int],
    op_weight: Sequence[float] | np.ndarray,
    pen_usd_per_mw_year: float,
    *,
    mw_short: np.ndarray | None = None,
    exported: pd.DataFrame | None = None,
) -> float:
    """The cost of delay of soft targets [USD, present value], recomputed as
    :mod:`siting.model.policy` prices it with the compute section: per year ``t``,
    ``op_weight[t] x penalty x`` the largest of the MW short of the MW target
    (``mw_short``), of the accelerator targets and of the compute targets
    (:func:`compute_short_mw`) [MW IT]: a year's shortfall priced once.

    Parameters
    ----------
    cp, c, years, exported
        As :func:`compute_short_mw`.
    op_weight
        Discounted years each planning period stands for [years].
    pen_usd_per_mw_year
        ``targets.shortfall_usd_per_mw_year`` [USD/(MW year)].
    mw_short
        The MW short of the MW target per year [MW IT] (None: 0).
    """
    acc_mw, unit_mw = compute_short_mw(cp, c, years, exported)
    worst = np.maximum(acc_mw, unit_mw)
    if mw_short is not None:
        worst = np.maximum(worst, np.asarray(mw_short, dtype=float))
    return float(np.sum(np.asarray(op_weight, dtype=float) * pen_usd_per_mw_year * worst))


def _verify_export(plan: Plan, d: ModelData, total: np.ndarray, add: Callable[..., None]) -> None:
    """The export market (``policy.export``) from :attr:`siting.results.plan.Plan.export`,
    ``compute.csv``, the schedule's IT MW and the inputs alone:

    - "export within the market's cap and the MW beyond the targets" [MW IT]: the MW sold
      each year within ``max_mw_by_year`` and, with hard targets, within the IT MW above
      the year's MW target;
    - with the compute section, "exported accelerators within the fleet beyond the
      targets" [accelerators]: the accelerators of each generation sold within those in
      service (``compute.csv``) and, with hard targets, within those beyond the
      generation's target; the compute sold within the compute in service beyond the
      compute target (its excess in accelerators of the most compute-dense generation);
      and each row's MW and compute equal to its accelerators x the generation table;
    - "export earnings = price x MW-years sold" [USD]: the cost part ``export`` equal to
      ``- sum_t op_weight[t] x price x MW sold_t`` within 1e-6, or 1 USD.
    """
    ex = plan.export
    years = d.horizon.years
    n = len(years)
    sold = exported_mw(ex, years)
    hard = d.policy.shortfall_usd_per_mw_year is None
    most = d.policy.export_max_mw if d.policy.export_max_mw is not None else np.full(n, np.inf)
    tgt = np.asarray(d.policy.targets_mw, dtype=float) * np.ones(n)
    mw_excess = _excess(sold, np.where(np.isfinite(most), most, np.inf))
    if hard:
        mw_excess = np.maximum(mw_excess, _excess(sold, np.maximum(total - tgt, 0.0)))
    t = int(np.argmax(sold)) if n else 0
    add(
        "export within the market's cap and the MW beyond the targets",
        mw_excess,
        "MW",
        detail=f"worst in {years[int(np.argmax(mw_excess))]}" if n else "",
        said=f"at most {_n(float(sold[t]) if n else 0.0)} MW IT sold in a year "
        f"({years[t] if n else ''})"
        + (", within the capacity above the targets" if hard else ", within the market's cap"),
    )
    if d.compute is not None:
        _verify_export_fleet(plan, d, hard, add)
    price = float(d.policy.export_usd_per_mw_year or 0.0)
    earned = float(np.sum(np.asarray(d.horizon.op_weight, dtype=float) * price * sold))
    said_usd = -float(plan.costs_usd.get("export", 0.0))
    add(
        "export earnings = price x MW-years sold",
        _usd_off(said_usd, earned),
        "USD",
        detail=f"the plan says {_n(said_usd)} USD earned; its export table gives {_n(earned)}",
        said=f"{_n(float(sold.sum()))} MW-years sold earn {_n(earned)} USD (present value)",
    )


def _verify_export_fleet(plan: Plan, d: ModelData, hard: bool, add: Callable[..., None]) -> None:
    """Exported accelerators within the fleet in service beyond the targets (see
    :func:`_verify_export`)."""
    c = d.compute
    if c is None:
        return
    gen = c.generations
    kw = gen["kw_per_accelerator"].astype(float).to_dict()
    cu = gen["compute_per_accelerator"].astype(float).to_dict()
    years = [int(y) for y in d.horizon.years]
    cp = plan.compute
    live = (
        cp.groupby([cp["generation"].astype(str), cp["year"].astype(int)])[
            "accelerators_live"
        ].sum()
        if len(cp)
        else pd.Series(dtype=float)
    )
    units = (
        cp.groupby(cp["year"].astype(int))["compute_units"].sum()
        if len(cp)
        else pd.Series(dtype=float)
    )
    ex = plan.export
    excess = [0.0]
    units_sold: dict[int, float] = {}
    for y, g, n, mw, u in zip(
        ex["year"].astype(int),
        ex["generation"].astype(str),
        ex["accelerators_exported"].astype(float),
        ex["it_mw_exported"].astype(float),
        ex["compute_units_exported"].astype(float),
        strict=True,
    ):
        if g not in kw:  # an export row that is not accelerators of the table
            excess.append(float(np.nan_to_num(mw, nan=np.inf)) * 1e3)
            continue
        have = float(live.get((g, int(y)), 0.0))
        spare = have
        if hard and (g, years.index(int(y))) in c.accelerator_targets:
            spare = max(have - float(c.accelerator_targets[g, years.index(int(y))]), 0.0)
        excess.append(float(_excess(n, spare)))
        excess.append(float(_excess(abs(mw - kw[g] * n / 1e3) * 1e3 / kw[g], 0.0)))  # MW
        excess.append(float(_excess(abs(u - cu[g] * n) / cu[g], 0.0)))  # compute units
        units_sold[int(y)] = units_sold.get(int(y), 0.0) + u
    dense = max(cu.values())
    for t, y in enumerate(years):
        target = float(c.compute_targets[t]) if t < len(c.compute_targets) else 0.0
        if hard and target > 0 and y in units_sold:
            spare = max(float(units.get(y, 0.0)) - target, 0.0)
            excess.append(float(_excess(units_sold[y], spare)) / dense)
    n_sold = float(ex["accelerators_exported"].astype(float).fillna(0.0).sum()) if len(ex) else 0.0
    add(
        "exported accelerators within the fleet beyond the targets",
        np.asarray(excess),
        "accelerators",
        said=f"{_n(n_sold)} accelerator-years sold abroad, each installed and in service"
        + (" beyond the year's accelerator and compute targets" if hard else ""),
    )


def _verify_compute_targets(
    cp: pd.DataFrame, c: ComputeData, years: list[int], c_soft: bool, add: Callable[..., None]
) -> None:
    """National targets in accelerators and compute met (hard targets only: soft ones may
    fall short at their price)."""
    if c_soft:
        return
    live = cp.groupby(["generation", "year"])["accelerators_live"].sum() if len(cp) else None
    units = cp.groupby("year")["compute_units"].sum() if len(cp) else None
    acc = [
        (n - (float(live.get((g, years[t]), 0.0)) if live is not None else 0.0))
        for (g, t), n in c.accelerator_targets.items()
    ]
    comp = [
        float(n) - (float(units.get(y, 0.0)) if units is not None else 0.0)
        for y, n in zip(years, c.compute_targets, strict=False)
    ]
    add(
        "accelerator and compute targets met",
        _excess(np.asarray(acc + [x / 1e3 for x in comp] or [0.0]), 0.0),
        "accelerators",
        said=f"{len(c.accelerator_targets)} accelerator targets and "
        f"{int(np.count_nonzero(c.compute_targets))} compute targets met",
    )


def _flexible_draw(sc: pd.DataFrame, cu: pd.DataFrame, d: ModelData) -> np.ndarray:
    """The flexible MW's draw at each curtailment row's site, year and snapshot [MW]: the
    schedule's draw (peak or typical) x ``flexible_it_mw`` / the IT drawing power
    (:func:`on_mw`) (0 where the schedule has no such row)."""
    if not len(cu) or not len(sc):
        return np.zeros(len(cu))
    s = sc.assign(site_id=sc["site_id"].astype(str), year=sc["year"].astype(int))
    share = s["flexible_it_mw"].astype(float) / pd.Series(on_mw(sc, d), index=s.index).clip(
        lower=1e-12
    )
    s = s.assign(flex_peak=share * s["peak_draw_mw"], flex_typ=share * s["typical_draw_mw"])
    j = cu.assign(site_id=cu["site_id"].astype(str), year=cu["year"].astype(int)).merge(
        s[["site_id", "year", "flex_peak", "flex_typ"]], on=["site_id", "year"], how="left"
    )
    peak = j["snapshot"].astype(str).map(d.horizon.snapshots["peak"].astype(bool)).fillna(False)
    draw = np.where(peak.to_numpy(dtype=bool), j["flex_peak"], j["flex_typ"])
    return np.nan_to_num(np.asarray(draw, dtype=float), nan=0.0)


def _first_row(table: pd.DataFrame, excess: np.ndarray) -> str:
    """Where the first positive excess of a per-row check is (site, year, snapshot)."""
    bad = np.flatnonzero(excess > 0)
    if not len(bad):
        return ""
    r = table.iloc[int(bad[0])]
    return f"site {r['site_id']}, year {r['year']}, snapshot {r['snapshot']}"


def _verify_budget(
    plan: Plan, d: ModelData, stress: dict[str, float], add: Callable[..., None]
) -> None:
    """Each site's curtailed energy per year within ``budget_share`` x 8,760 h x its
    flexible MW's peak draw [MWh]."""
    cu, sc, f = plan.curtailment, plan.schedule, d.flex
    if not len(cu):
        add("curtailment budget", 0.0, "MWh", said="no curtailment")
        return
    mwh = (
        (cu["curtailed_mw"].astype(float) * cu["snapshot"].astype(str).map(stress).astype(float))
        .groupby([cu["site_id"].astype(str), cu["year"].astype(int)])
        .sum()
    )
    s = sc.assign(site_id=sc["site_id"].astype(str), on_mw=on_mw(sc, d))
    s = s.set_index(["site_id", "year"])
    share = s["flexible_it_mw"].astype(float) / s["on_mw"].astype(float).clip(lower=1e-12)
    budget = (f.budget_share * HOURS_PER_YEAR * share * s["peak_draw_mw"].astype(float)).reindex(
        mwh.index
    )
    exc = _excess(mwh.to_numpy(), budget.fillna(0.0).to_numpy())
    worst = int(np.argmax(mwh.to_numpy() / budget.fillna(0.0).clip(lower=1e-12).to_numpy()))
    site, year = mwh.index[worst]
    bad_site, bad_year = mwh.index[int(np.argmax(exc))]
    add(
        "curtailment budget",
        exc,
        "MWh",
        detail=f"site {bad_site}, year {bad_year}",
        said=f"curtailed energy per site and year within {_pct(f.budget_share)} of the flexible "
        f"draw over 8,760 h: {_n(float(mwh.iloc[worst]))} of {_n(float(budget.iloc[worst]))} MWh "
        f"at the tightest ({site}, {year})",
    )


def _raise_failed(checks: list[Check]) -> None:
    """Raise :class:`VerificationError` listing the failed checks, if any."""
    bad = [c for c in checks if not c.ok]
    if bad:
        lines = "\n".join(f"  - {c.name}: off by {c.worst:.6g} {c.unit} {c.detail}" for c in bad)
        raise VerificationError(
            f"the plan fails {len(bad)} of {len(checks)} checks recomputed from its own "
            f"tables (a bug in the model or solver trouble; please report it):\n{lines}"
        )


def _verify_caps(plan: Plan, d: ModelData, add: Callable[..., None]) -> None:
    """The scenario's caps on campus water, campus CO2 and upgrade spend, from the tables."""
    sc = plan.schedule
    if d.caps.water_cap_m3_per_day is not None:
        use = (
            sc.groupby("year")["water_m3_per_day"]
            .sum()
            .reindex(d.horizon.years)
            .fillna(0.0)
            .to_numpy()
            if len(sc)
            else np.zeros(d.horizon.n_years)
        ) + _onsite_by_year(plan, d, "water_m3_per_day")
        add(
            "campus water cap",
            _excess(
                use, d.caps.water_cap_m3_per_day + TOL_ABS + 1e-6 * d.caps.water_cap_m3_per_day
            ),
            "m3/day",
            said=_within_cap(
                "campus water use", use, d.caps.water_cap_m3_per_day, "m3/day", d.horizon.years
            ),
        )
    if d.caps.upgrade_budget_usd is not None:
        ups = plan.upgrades
        year_df = dict(zip(d.horizon.years, d.horizon.capex_df, strict=True))
        spent = float(
            sum(as_float(r.cost_usd) * year_df[as_int(r.year)] for r in ups.itertuples(index=False))
        )
        add(
            "grid upgrade budget",
            spent - d.caps.upgrade_budget_usd - 1.0 - 1e-6 * d.caps.upgrade_budget_usd,
            "USD",
            said=f"grid upgrade spend within the budget: {spent / 1e6:,.1f} of "
            f"{d.caps.upgrade_budget_usd / 1e6:,.1f} M USD (present value)",
        )
    if d.caps.co2_cap_t is not None and d.grid.enabled and plan.metrics.get("co2_t") is not None:
        disp = plan.dispatch
        intensity = d.grid.gens.get("co2_t_per_mwh", pd.Series(0.0, index=d.grid.gens.index))
        co2 = disp["gen_id"].astype(str).map(intensity).fillna(0.0).to_numpy()
        hours = disp["snapshot"].map(d.horizon.snapshots["hours"]).astype(float).to_numpy()
        years = (
            disp["year"]
            .map(dict(zip(d.horizon.years, d.horizon.period_years, strict=True)))
            .to_numpy()
        )
        system = float(np.sum(disp["p_mw"].to_numpy() * co2 * hours * years))
        on_site = _onsite_by_year(plan, d, "co2_t_per_year") @ np.asarray(d.horizon.period_years)
        added = system - float(plan.metrics.get("baseline_co2_t") or 0.0) + float(on_site)
        add(
            "campus CO2 cap",
            added - d.caps.co2_cap_t - 1e-6 * max(1.0, abs(system)),
            "t CO2",
            said=f"CO2 the campuses add to the grid within the cap: {_n(added)} of "
            f"{_n(d.caps.co2_cap_t)} t CO2 over the horizon",
        )


def _onsite_by_year(plan: Plan, d: ModelData, col: str) -> np.ndarray:
    """Column ``col`` of the plan's on-site table summed per planning year (zeros without
    on-site generation) [the column's unit]."""
    ons = plan.onsite
    if not len(ons):
        return np.zeros(d.horizon.n_years)
    return ons.groupby("year")[col].sum().reindex(d.horizon.years).fillna(0.0).to_numpy(float)


def _within_cap(what: str, use: np.ndarray, cap: float, unit: str, years: list[int]) -> str:
    """``what`` within the cap, said with the worst year's figure [``unit``]."""
    if not len(use):
        return f"{what} within the cap of {_n(cap)} {unit}"
    t = int(np.argmax(use))
    if float(use[t]) <= 0:
        return f"{what} within the cap: none in any year (the cap {_n(cap)} {unit})"
    return (
        f"{what} within the cap: {_n(float(use[t]))} of {_n(cap)} {unit} in the worst year "
        f"({years[t]})"
    )


def _verify_upgrades(ups: pd.DataFrame, d: ModelData) -> list[Check]:
    """Each upgrade is an offered option, taken once, in service after its lead time."""
    if not len(ups):
        return []
    bad_once = int(ups.duplicated(["asset", "asset_id"]).sum())
    early = 0.0
    unknown = 0
    for asset, table, id_col in (
        ("branch", d.grid.branch_upgrades, "branch_id"),
        ("substation", d.grid.bus_upgrades, "bus_id"),
    ):
        opts = table.set_index(id_col)
        for r in ups[ups["asset"] == asset].itertuples(index=False):
            if str(r.asset_id) not in opts.index:
                unknown += 1
                continue
            ready = d.horizon.years[0] + as_float(opts.at[str(r.asset_id), "lead_time_years"])
            early = max(early, ready - as_float(r.year) - 1e-9)
    return [
        Check(
            "upgrades are offered options",
            unknown == 0,
            float(unknown),
            "upgrades",
            said=f"{len(ups) - unknown} of the {len(ups)} upgrades taken are options offered",
        ),
        Check(
            "each upgrade taken at most once",
            bad_once == 0,
            float(bad_once),
            "upgrades",
            said=f"{bad_once} upgrades taken twice",
        ),
        Check(
            "upgrades in service after their lead time",
            early <= 0,
            max(early, 0.0),
            "years",
            said="every upgrade enters service after its lead time"
            if early <= 0
            else f"an upgrade enters service {early:.1f} years before its lead time allows",
        ),
    ]


@dataclass
class _FlowRecheck:
    """The worst excesses found recomputing the DC flows, year by year and snapshot by
    snapshot [MW], where the worst overload is, and the recomputed flows."""

    over: float = 0.0
    peak_pct: float = 0.0
    peak_where: str = ""
    mis: float = 0.0
    bal: float = 0.0
    head: float = 0.0
    where: str = ""
    recomputed: list[pd.DataFrame] = field(default_factory=list)


def _verify_grid(plan: Plan, d: ModelData) -> list[Check]:
    """DC flows recomputed from nodal injections, per year and snapshot."""
    ups = plan.upgrades
    added = added_by_year(ups, d, "branch")
    added_head = added_by_year(ups, d, "substation")
    n1_on = d.grid.n1 is not None and d.grid.line_limits
    w = _recheck_flows(plan, d, added, added_head)
    checks = _verify_upgrades(ups, d)
    if n1_on and w.recomputed:
        checks.append(_verify_n1(pd.concat(w.recomputed, ignore_index=True), d, added))
    gen_out = _generator_excess(plan, d)
    return checks + [
        Check(
            "generators within their limits",
            bool(gen_out.max(initial=0.0) <= 0),
            float(gen_out.max(initial=0.0)),
            "MW",
            said="every generator dispatched between its minimum and maximum output",
        ),
        Check(
            "power balanced in every island",
            w.bal <= 0,
            max(w.bal, 0.0),
            "MW",
            said="generation equals load and campus draw in every island, year and snapshot",
        ),
        Check(
            "flows recomputed from injections equal the plan's",
            w.mis <= 0,
            w.mis,
            "MW",
            said="DC flows recomputed from the nodal injections equal the plan's flows",
        ),
        Check(
            "branch flows within ratings",
            w.over <= 0,
            w.over,
            "MW",
            w.where,
            said=f"the most loaded branch runs at {w.peak_pct:.1f}% of its rating "
            f"({w.peak_where}), at most 100% allowed"
            if w.peak_where
            else "no branch ratings enforced (grid.line_limits off)",
        ),
        Check(
            "substation headroom",
            w.head <= 0,
            w.head,
            "MW",
            said="campus peak draw at each substation within its headroom (upgrades included)",
        ),
    ]


def _recheck_flows(
    plan: Plan, d: ModelData, added: np.ndarray, added_head: np.ndarray
) -> _FlowRecheck:
    """Recompute the DC flows of every year and snapshot from the plan's injections and
    compare them with the plan's flows, the ratings and the substation headroom.

    ``added`` and ``added_head``: rating and headroom added by upgrades per branch (bus) and
    period [MW] (:func:`added_by_year`).
    """
    from siting.network import dc_flow

    net = require_network(d.grid.net, "the plan's flow check")
    bus_pos = pd.Series(np.arange(len(net.bus_ids)), index=net.bus_ids)
    sc = plan.schedule
    w = _FlowRecheck()
    # the plan's flows per (year, snapshot), found in one pass (a mask over every flow row
    # per case took 0.09 s of national-TX's check)
    flows_all = plan.flows_all
    at = flows_all.groupby(["year", "snapshot"], sort=False).indices
    model_flow = flows_all["flow_mw"].to_numpy()
    for t, y in enumerate(d.horizon.years):
        for h, row in d.horizon.snapshots.iterrows():
            inj = _injections(plan, d, bus_pos, y, str(h), row)
            camp = sc[sc["year"] == y]
            if len(camp) and row["peak"]:
                at_bus = _campus_draw(plan, bus_pos, y, str(h), "peak_draw_mw")
                head = np.where(
                    np.isfinite(d.grid.headroom_mw), d.grid.headroom_mw + added_head[:, t], np.inf
                )
                w.head = max(w.head, float(_excess(at_bus, head).max()))
            res = dc_flow(net, inj, balance=False)
            w.recomputed.append(pd.DataFrame({"year": y, "snapshot": h, "flow_mw": res.flow_mw}))
            bal = float(np.abs(res.slack_mw).max(initial=0.0))
            w.bal = max(w.bal, bal - (TOL_ABS + TOL_REL * float(np.abs(inj).sum())))
            f = res.flow_mw
            model_f = model_flow[at.get((y, h), np.empty(0, dtype=np.intp))]
            mis = float(np.max(np.abs(f - model_f) - (TOL_ABS + 1e-6 * np.abs(f)), initial=0.0))
            if mis > w.mis:
                w.mis = mis
            if d.grid.line_limits:
                rating = net.rating_mw + added[:, t]
                pct = 100 * np.abs(f) / np.where(rating > 0, rating, np.inf)
                if pct.max(initial=0.0) > w.peak_pct:
                    w.peak_pct = float(pct.max())
                    w.peak_where = f"branch {net.branch_ids[int(np.argmax(pct))]} in {y} ({h})"
                over = _excess(np.abs(f), rating)
                if over.max(initial=0.0) > w.over:
                    w.over = float(over.max())
                    w.where = f"branch {net.branch_ids[int(np.argmax(over))]} in {y} ({h})"
    return w


def _injections(
    plan: Plan, d: ModelData, bus_pos: pd.Series, y: int, h: str, row: pd.Series
) -> np.ndarray:
    """Net injection per bus in year ``y``, snapshot ``h`` [MW]: the plan's dispatch, less
    the base load (x the snapshot's ``row["load_factor"]``), the shunts and the campus draw
    from the grid (peak or typical, less its relief)."""
    nb = len(bus_pos)
    disp = plan.dispatch[(plan.dispatch["year"] == y) & (plan.dispatch["snapshot"] == h)]
    inj = np.bincount(
        bus_pos.loc[disp["bus_id"].astype(str)].to_numpy(),
        weights=disp["p_mw"].to_numpy(),
        minlength=nb,
    )
    inj -= row["load_factor"] * d.grid.base_load_mw[y].to_numpy() + d.grid.shunt_mw
    draw_col = "peak_draw_mw" if row["peak"] else "typical_draw_mw"
    return inj - _campus_draw(plan, bus_pos, y, h, draw_col)


def _campus_draw(plan: Plan, bus_pos: pd.Series, y: int, h: str, draw_col: str) -> np.ndarray:
    """The campuses' draw from the grid per bus in year ``y``, snapshot ``h`` [MW]: the
    schedule's ``draw_col`` less the plan's relief (:attr:`Plan.relief`)."""
    nb = len(bus_pos)
    camp = plan.schedule[plan.schedule["year"] == y]
    out = np.zeros(nb)
    if len(camp):
        out += np.bincount(
            bus_pos.loc[camp["bus_id"].astype(str)].to_numpy(),
            weights=camp[draw_col].to_numpy(dtype=float),
            minlength=nb,
        )
    rel = plan.relief
    if len(rel):
        rel = rel[(rel["year"] == y) & (rel["snapshot"].astype(str) == h)]
        out -= np.bincount(
            bus_pos.loc[rel["bus_id"].astype(str)].to_numpy(),
            weights=rel["relief_mw"].to_numpy(dtype=float),
            minlength=nb,
        )
    return out


def _verify_n1(recomputed: pd.DataFrame, d: ModelData, added: np.ndarray) -> Check:
    """Post-contingency flows of the recomputed flows within emergency ratings [MW]
    (:func:`worst_contingencies`)."""
    worst_n1 = 0.0
    where_n1 = ""
    n1 = worst_contingencies(recomputed, d, added)
    if len(n1):
        exc = _excess(
            np.abs(n1["post_flow_mw"].to_numpy(dtype=float)),
            n1["rating_emergency_mw"].to_numpy(dtype=float),
        )
        worst_n1 = float(exc.max(initial=0.0))
        if worst_n1 > 0:
            r = n1.iloc[int(np.argmax(exc))]
            where_n1 = (
                f"branch {r['branch_id']} after the outage of {r['outage_id']} in "
                f"{r['year']} ({r['snapshot']})"
            )
    return Check(
        "N-1: post-contingency flows within emergency ratings",
        worst_n1 <= 0,
        worst_n1,
        "MW",
        where_n1,
        said=f"after each of the {n1['outage_id'].nunique() if len(n1) else 0} checked "
        "outages, every monitored branch within its emergency rating",
    )


def _generator_excess(plan: Plan, d: ModelData) -> np.ndarray:
    """How far each dispatch row is outside its generator's limits [MW] (0 where within;
    below ``p_min_mw`` counts at the peak snapshots only)."""
    disp = plan.dispatch.merge(
        d.grid.gens[["p_min_mw", "p_max_mw"]], left_on="gen_id", right_index=True, how="left"
    )
    is_peak = disp["snapshot"].map(d.horizon.snapshots["peak"]).astype(bool).to_numpy()
    lo = np.where(is_peak, disp["p_min_mw"], np.minimum(disp["p_min_mw"], 0.0))
    return np.maximum(
        _excess(disp["p_mw"].to_numpy(), disp["p_max_mw"].to_numpy()),
        _excess(lo, disp["p_mw"].to_numpy()),
    )
