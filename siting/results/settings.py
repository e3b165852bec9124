"""Every setting accounted for: each policy, cap and target a scenario sets, with what the
plan achieves, whether it binds, and its shadow price where one is meaningful; the heat
the plan sells (and why none); and the net present cost split into real spend and policy
weights.

:func:`settings_lines` works from the plan's tables (``schedule``, ``water_links``,
``upgrades``, ``metrics``) and the inputs, as :func:`siting.results.verify.verify` does, so
what the report says is achieved is what the checks recompute. Shadow prices come from
the solved model (:func:`shadow_prices`) and only where an LP price means something (see
its docstring).

:func:`cost_split` names the parts of the net present cost: money spent (campus capital,
cooling, site opening and tie lines, pipelines, water, grid upgrades, energy, serving
demand), money earned (waste heat sold) and policy weights (the designated-zone bonus, which
the objective counts but nobody pays). Their sum is the net present cost. (It lives in
:mod:`siting.model.objective`, beside the parts, so the report can use it too.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from siting.core.cells import as_float, as_int
from siting.model.data import HOURS_PER_YEAR, ModelData

if TYPE_CHECKING:
    import pyomo.environ as pyo

    from siting.results.plan import Plan

#: Absolute tolerance of "binding" [in the line's unit].
BIND_ABS = 1e-3
#: Relative tolerance of "binding" [fraction of the limit].
BIND_REL = 1e-6

#: Most time the LP of :func:`shadow_prices` may take in HiGHS [s] (its duals are then
#: missing, and the lines say so).
LP_TIME_LIMIT_S = 60.0

#: Why a line has no shadow price when its requirement is met by integer decisions.
NO_PRICE_INTEGER = (
    "no shadow price: met by integer decisions (sites, modules, cooling, upgrades); an LP "
    "with them fixed prices only the continuous rest"
)


def _binding(sense: str, required: float, achieved: float) -> bool:
    """Whether ``achieved`` sits at the limit ``required`` (``>=`` or ``<=``)."""
    tol = BIND_ABS + BIND_REL * abs(required)
    return abs(achieved - required) <= tol if sense in (">=", "<=") else False


def _line(
    setting: str,
    key: str,
    year: int | None,
    sense: str,
    required: float,
    achieved: float,
    unit: str,
    *,
    share: float | None = None,
    total: float | None = None,
    price: tuple[float | None, str, str] | None = None,
    check: str = "",
) -> dict[str, Any]:
    """One setting line (see :func:`settings_lines`)."""
    met = (
        achieved >= required - (BIND_ABS + BIND_REL * abs(required))
        if sense == ">="
        else achieved <= required + (BIND_ABS + BIND_REL * abs(required))
    )
    value, p_unit, note = price if price is not None else (None, "", NO_PRICE_INTEGER)
    out: dict[str, Any] = {
        "setting": setting,
        "key": key,
        "year": year,
        "sense": sense,
        "required": float(required),
        "achieved": float(achieved),
        "unit": unit,
        "met": bool(met),
        "binding": _binding(sense, required, achieved),
        "shadow_price": value,
        "shadow_unit": p_unit,
        "shadow_note": note,
        "check": check,
    }
    if share is not None:
        out["required_share"] = float(share)
        out["achieved_share"] = float(achieved / total) if total else 0.0
    return out


def _by_year(sc: pd.DataFrame, mask: pd.Series | np.ndarray, col: str, years: list[int]) -> list:
    """``col`` of the schedule rows in ``mask`` summed per year (0 where none)."""
    if not len(sc):
        return [0.0] * len(years)
    s = sc[np.asarray(mask, dtype=bool)].groupby("year")[col].sum()
    return [float(v) for v in s.reindex(years).fillna(0.0)]


def settings_lines(
    plan: Plan,
    d: ModelData,
    prices: dict[tuple[str, Any], tuple[float | None, str, str]] | None = None,
) -> list[dict[str, Any]]:
    """One line per policy, cap and target the scenario sets, per year where it holds
    per year.

    Each line: ``setting`` (in words), ``key`` (the scenario's key), ``year`` (None for a
    horizon-wide cap), ``sense`` (``>=`` or ``<=``), ``required`` and ``achieved`` [``unit``],
    ``met``, ``binding`` (achieved within :data:`BIND_ABS` + :data:`BIND_REL` of the limit),
    ``shadow_price`` [``shadow_unit``] or None with ``shadow_note`` saying why; shares also
    carry ``required_share`` and ``achieved_share`` [fraction of the national IT MW];
    ``check`` names the check of :func:`siting.results.verify.verify` that recomputes it ("" for
    a line that requires nothing, such as the zone share in prefer mode).

    Achieved values come from the plan's tables (as :func:`siting.results.verify.verify`):
    IT MW and public-interest MW from ``schedule``, water from ``schedule`` and
    ``water_links``, upgrades from ``upgrades`` discounted, CO2 from ``metrics``; demand
    served [MW] from ``plan.demand_served``.

    Parameters
    ----------
    plan
        The plan.
    d
        The model's data (the requirements).
    prices
        Shadow prices by ``(key, year)`` (:func:`shadow_prices`; demand regions by
        ``("policy.demand.<region_id>", year)``); lines without one say
        :data:`NO_PRICE_INTEGER`.
    """
    given = prices or {}

    def price(key: str, y: Any) -> tuple[float | None, str, str] | None:
        return given.get((key, y))

    return (
        _share_lines(plan, d, price)
        + _water_lines(plan, d, price)
        + _grid_lines(plan, d, price)
        + _demand_lines(plan, d, price)
        + _pact_lines(plan, d)
    )


def _pact_lines(plan: Plan, d: ModelData) -> list[dict[str, Any]]:
    """Lines of the compute pacts, from ``pacts.csv``: each licensed generation's
    accelerators installed within the supply schedule per year, the energy used within the
    contract [MWh/year] and the public-interest compute reserved [compute units]."""
    pk = plan.pacts
    if not d.pacts or not len(pk):
        return []
    out = []
    for r in pk.itertuples(index=False):
        key = f"pacts.{r.pact}"
        if str(r.generation or "") not in ("", "nan"):
            out.append(
                _line(
                    f"pact {r.pact}: {r.generation} accelerators installed within its licence",
                    f"{key}.supply_by_year",
                    as_int(r.year),
                    "<=",
                    as_float(r.accelerators_cap),
                    as_float(r.accelerators_supplied),
                    "accelerators",
                    check="pact supply within its licence",
                )
            )
    per_year = pk.drop_duplicates(["pact", "year"])
    for r in per_year.itertuples(index=False):
        key = f"pacts.{r.pact}"
        if as_float(r.energy_contracted_mwh) > 0:
            out.append(
                _line(
                    f"pact {r.pact}: energy used within its contract ({r.energy_source})",
                    f"{key}.energy.mwh_per_year",
                    as_int(r.year),
                    "<=",
                    as_float(r.energy_contracted_mwh),
                    as_float(r.energy_used_mwh),
                    "MWh/year",
                    check="pact energy within its contract and its campuses' use",
                )
            )
        if as_float(r.public_share) > 0:
            out.append(
                _line(
                    f"pact {r.pact}: public-interest share of its compute",
                    f"{key}.public_interest_share",
                    as_int(r.year),
                    ">=",
                    as_float(r.public_share) * as_float(r.pact_compute_units),
                    as_float(r.public_compute_units),
                    "compute units",
                    check="pact public-interest share held",
                )
            )
    return out


def _share_lines(plan: Plan, d: ModelData, price: Any) -> list[dict[str, Any]]:
    """Lines of the national targets, region shares, the designated-zone share and the
    public-interest share [MW], per year (``price``: ``(key, year)`` -> shadow price)."""
    years = list(d.horizon.years)
    sc = plan.schedule
    every = pd.Series(True, index=sc.index)
    total = _by_year(sc, every, "it_mw", years)
    out: list[dict[str, Any]] = []
    for t, y in enumerate(years):
        req = float(d.policy.targets_mw[t])
        if req > 0:
            key = "targets.it_mw_by_year"
            line = _line(
                "national IT target",
                key,
                y,
                ">=",
                req,
                total[t],
                "MW",
                price=price(key, y),
                check="national IT targets met",
            )
            pen = d.policy.shortfall_usd_per_mw_year
            if pen is not None:  # soft: what is short, and what that costs
                short = max(req - total[t], 0.0)
                line["setting"] = "national IT target (soft)"
                line["short"] = short
                line["cost_usd"] = float(d.horizon.op_weight[t]) * float(pen) * short
                line["check"] = "cost of delay = penalty x MW-years short"
            out.append(line)
    if d.policy.region_shares:
        reg = sc["site_id"].map(d.campus.site["region_id"]) if len(sc) else pd.Series(dtype=str)
        for r, (lo, hi) in d.policy.region_shares.items():
            in_r = _by_year(sc, reg == r, "it_mw", years)
            for t, y in enumerate(years):
                for sense, share, word in ((">=", lo, "min"), ("<=", hi, "max")):
                    if (sense == ">=" and share <= 0) or (sense == "<=" and share >= 1):
                        continue
                    key = f"policy.region_shares.{r}.{word}_share"
                    out.append(
                        _line(
                            f"region {r} share ({word})",
                            key,
                            y,
                            sense,
                            share * total[t],
                            in_r[t],
                            "MW",
                            share=share,
                            total=total[t],
                            price=price(key, y),
                            check=f"region {r} share {sense} {share:g}",
                        )
                    )
    if d.policy.zone_mode in ("require", "prefer") and len(sc):
        zk = sc["site_id"].map(d.campus.site["zone_kind"])
        inz = _by_year(sc, zk == "designated", "it_mw", years)
        need = d.policy.zone_min_share if d.policy.zone_mode == "require" else 0.0
        if (d.policy.zone_mode == "require" and need > 0) or any(v > 0 for v in inz):
            key = "policy.zones.min_share"
            for t, y in enumerate(years):
                out.append(
                    _line(
                        "share in designated zones"
                        + ("" if d.policy.zone_mode == "require" else " (prefer mode: no minimum)"),
                        key,
                        y,
                        ">=",
                        need * total[t],
                        inz[t],
                        "MW",
                        share=need,
                        total=total[t],
                        price=price(key, y),
                        check="share in designated zones" if need > 0 else "",
                    )
                )
    if d.policy.public_share > 0:
        key = "policy.public_interest.share"
        pub = (
            _by_year(sc, every, "public_it_mw", years)
            if "public_it_mw" in sc
            else [0.0] * len(years)
        )
        for t, y in enumerate(years):
            out.append(
                _line(
                    "public-interest reserved share",
                    key,
                    y,
                    ">=",
                    d.policy.public_share * total[t],
                    pub[t],
                    "MW",
                    share=d.policy.public_share,
                    total=total[t],
                    price=price(key, y),
                    check=f"public-interest share >= {d.policy.public_share:g}",
                )
            )
    return out


def _water_lines(plan: Plan, d: ModelData, price: Any) -> list[dict[str, Any]]:
    """Lines of the campus water cap and the potable cap [m3/day], per year."""
    years = list(d.horizon.years)
    sc = plan.schedule
    caps: list[tuple[str, str, float, list[float]]] = []  # (name, key, cap, use by year)
    if d.caps.water_cap_m3_per_day is not None:
        use = _by_year(sc, pd.Series(True, index=sc.index), "water_m3_per_day", years)
        caps.append(("campus water cap", "water.cap_m3_per_day", d.caps.water_cap_m3_per_day, use))
    if d.water.potable_cap_m3_per_day is not None:
        wl = plan.water_links
        by = [0.0] * len(years)
        if len(wl) and len(d.water.sources):
            pot = wl[wl["source_id"].map(d.water.sources["kind"]) == "potable"]
            s = pot.groupby("year")["m3_per_day"].sum().reindex(years).fillna(0.0)
            by = [float(v) for v in s]
        caps.append(
            (
                "potable water cap",
                "water.potable_cap_m3_per_day",
                d.water.potable_cap_m3_per_day,
                by,
            )
        )
    return [
        _line(name, key, y, "<=", float(cap), by_year[t], "m3/day", price=price(key, y), check=name)
        for name, key, cap, by_year in caps
        for t, y in enumerate(years)
    ]


def _grid_lines(plan: Plan, d: ModelData, price: Any) -> list[dict[str, Any]]:
    """Lines of the campus CO2 cap [t CO2] and the grid upgrade budget [USD, present value]."""
    out = []
    if d.caps.co2_cap_t is not None and plan.metrics.get("co2_t") is not None:
        key = "policy.co2_cap_t"
        out.append(
            _line(
                "campus CO2 cap (over the horizon)",
                key,
                None,
                "<=",
                float(d.caps.co2_cap_t),
                float(plan.metrics["co2_t"]),
                "t CO2",
                price=price(key, None),
                check="campus CO2 cap",
            )
        )
    if d.caps.upgrade_budget_usd is not None:
        year_df = dict(zip(d.horizon.years, d.horizon.capex_df, strict=True))
        spent = float(
            sum(
                as_float(r.cost_usd) * float(year_df[as_int(r.year)])
                for r in plan.upgrades.itertuples(index=False)
            )
        )
        key = "grid.upgrade_budget_usd"
        out.append(
            _line(
                "grid upgrade budget (present value)",
                key,
                None,
                "<=",
                float(d.caps.upgrade_budget_usd),
                spent,
                "USD",
                price=price(key, None),
                check="grid upgrade budget",
            )
        )
    return out


def _demand_lines(plan: Plan, d: ModelData, price: Any) -> list[dict[str, Any]]:
    """Lines of the demand regions: demand [MW] and the MW assigned to it, per year."""
    served = plan.demand_served
    if not len(d.policy.demand_mw):
        return []
    out = []
    key = "policy.demand"
    got = (
        served.groupby(["region_id", "year"])["served_mw"].sum()
        if len(served)
        else pd.Series(dtype=float)
    )
    for r in d.policy.demand_mw.index:
        for y in d.horizon.years:
            need = as_float(d.policy.demand_mw.at[r, y])
            if need <= 0:
                continue
            out.append(
                _line(
                    f"demand region {r} served within latency",
                    key,
                    y,
                    ">=",
                    need,
                    float(got.get((str(r), y), 0.0)),
                    "MW",
                    price=price(f"{key}.{r}", y),
                    check="demand regions have the MW within latency reach",
                )
            )
    return out


def _priced_rows(m: pyo.ConcreteModel, d: ModelData) -> list[tuple[str, Any, Any, str, str]]:
    """The rows whose requirement continuous decisions meet: ``(key, year, row, sense,
    unit of the price)``."""
    rows: list[tuple[str, Any, Any, str, str]] = []
    years = list(d.horizon.years)
    pot = m.component("potable_cap")
    if pot is not None:
        for t, y in enumerate(years):
            if t in pot:
                rows.append(("water.potable_cap_m3_per_day", y, pot[t], "<=", "USD per m3/day"))
    co2 = m.component("co2_cap")
    if co2 is not None:
        rows.append(("policy.co2_cap_t", None, co2, "<=", "USD/t CO2"))
    serve = m.component("serve")
    if serve is not None:
        for r, t in serve:
            rows.append((f"policy.demand.{r}", years[t], serve[r, t], ">=", "USD/MW"))
    return rows


def shadow_prices(
    m: pyo.ConcreteModel, d: ModelData
) -> dict[tuple[str, Any], tuple[float | None, str, str]]:
    """Shadow prices of the settings whose requirement continuous decisions meet: the
    potable water cap (water routing), the campus CO2 cap (dispatch) and the demand regions
    (assignment), from an LP with the plan's integer decisions fixed.

    The price is what tightening the setting by one unit would add to the net present cost
    [USD per unit, present value], with sites, modules, cooling, pipelines and upgrades as
    the plan has them: one more MW of demand required, one m3/day or t CO2 less allowed. It
    is a local, marginal figure: a larger change may reopen the integer decisions.

    The settings that sites, modules, cooling and upgrades meet (targets, shares, the
    campus water cap, the upgrade budget) get no price (:data:`NO_PRICE_INTEGER`): with the
    integers fixed their rows are constants, and an LP price of them would be an artefact
    of the fixing, not what one more MW of requirement costs. A ``max_capacity`` plan gets
    none either (its objective is MW, not cost).

    The model is left as it was: the integer variables are fixed and made continuous for
    the LP only, then freed with their domains and values restored.

    Returns
    -------
    dict
        ``(key, year)`` -> (price [USD per unit] or None, unit, note), for the priced rows;
        other settings are absent (their line says :data:`NO_PRICE_INTEGER`).
    """
    import pyomo.environ as pyo

    rows = _priced_rows(m, d)
    if not rows:
        return {}
    if d.goal.sense != "min_cost":
        note = "no shadow price: the objective is IT capacity, not cost"
        return {(k, y): (None, "", note) for k, y, _, _, _ in rows}
    from siting.model.state import model_state

    unit_usd = float(model_state(m).objective_unit or 1.0)
    saved = []
    try:
        for v in m.component_data_objects(pyo.Var, descend_into=True):
            if v.fixed or v.is_continuous():
                continue
            if v.value is None:
                note = "no shadow price: an integer decision has no value to fix"
                return {(k, y): (None, "", note) for k, y, _, _, _ in rows}
            saved.append((v, v.domain, v.value))
            v.domain = pyo.Reals
            v.fix(round(float(v.value)))
        from pyomo.contrib.solver.common.results import TerminationCondition
        from pyomo.contrib.solver.solvers.highs import Highs

        res = Highs().solve(
            m,
            time_limit=LP_TIME_LIMIT_S,
            load_solutions=False,
            raise_exception_on_nonoptimal_result=False,
            solver_options={"random_seed": 0},
        )
        done = TerminationCondition.convergenceCriteriaSatisfied
        if res.termination_condition != done:
            note = (
                "no shadow price: the LP with the integers fixed ended with "
                f"{res.termination_condition.name} (time limit {LP_TIME_LIMIT_S:g} s)"
            )
            return {(k, y): (None, "", note) for k, y, _, _, _ in rows}
        duals = res.solution_loader.get_duals([row for _, _, row, _, _ in rows])
    except Exception as exc:  # noqa: BLE001  (a price must not cost the plan)
        note = f"no shadow price: the LP with the integers fixed failed ({type(exc).__name__})"
        return {(k, y): (None, "", note) for k, y, _, _, _ in rows}
    finally:
        for v, dom, val in saved:
            v.unfix()
            v.domain = dom
            v.set_value(val, skip_validation=True)
        from siting.solve import told

        # (as they were, but a domain set again may be another object: the model's own
        # HiGHS adapter, if it solves it again, hands them over again)
        told.variables_changed(m, [v for v, _d, _x in saved])
    out: dict[tuple[str, Any], tuple[float | None, str, str]] = {}
    for k, y, row, sense, unit in rows:
        dual = float(duals[row]) * unit_usd
        price = dual if sense == ">=" else -dual
        out[k, y] = (price + 0.0, unit, "LP with the integer decisions fixed")
    return out


def delay_summary(plan: Plan, d: ModelData) -> dict[str, Any]:
    """What soft targets' delay cost, per year, and the sites whose power came late.

    From the plan's ``schedule`` and sites (as :func:`settings_lines`): the shortfall of
    year ``t`` is ``max(target_t - IT MW in service, 0)`` [MW IT], its cost ``op_weight[t] *
    shortfall_usd_per_mw_year * short`` [USD, present value].

    Returns
    -------
    dict
        ``soft`` (whether the targets are soft), ``usd_per_mw_year`` [USD/(MW year)] (None
        when hard), ``years``: one entry per year with a target (``year, target_mw,
        achieved_mw, short_mw, cost_usd``), ``cost_usd`` [USD, present value] in all, and
        ``late_sites``: the chosen sites whose first year of firm power is after the first
        planning year (``site_id, power_year, power_why, first_year``).
    """
    pen = d.policy.shortfall_usd_per_mw_year
    years = list(d.horizon.years)
    sc = plan.schedule
    total = _by_year(sc, pd.Series(True, index=sc.index), "it_mw", years)
    rows = []
    for t, y in enumerate(years):
        req = float(d.policy.targets_mw[t])
        if req <= 0:
            continue
        short = max(req - total[t], 0.0)
        cost = float(d.horizon.op_weight[t]) * float(pen) * short if pen is not None else 0.0
        rows.append(
            {
                "year": y,
                "target_mw": req,
                "achieved_mw": total[t],
                "short_mw": short,
                "cost_usd": cost,
            }
        )
    late = []
    sites = plan.sites
    if len(sites) and "power_year" in sites:
        for sid, r in sites.iterrows():
            if pd.notna(r.get("power_year")) and as_int(r["power_year"]) > years[0]:
                first = r.get("first_year")
                late.append(
                    {
                        "site_id": str(sid),
                        "power_year": as_int(r["power_year"]),
                        "power_why": str(r.get("power_why") or ""),
                        "first_year": as_int(first) if pd.notna(first) else None,
                    }
                )
    return {
        "soft": pen is not None,
        "usd_per_mw_year": None if pen is None else float(pen),
        "years": rows,
        "cost_usd": float(sum(r["cost_usd"] for r in rows)),
        "late_sites": late,
    }


def heat_summary(plan: Plan, d: ModelData) -> dict[str, Any]:
    """The waste heat the plan sells, per site, and why none when it sells none.

    Returns
    -------
    dict
        ``sites``: one entry per selling site: ``site_id``, ``cooling``, ``heat_mw_by_year``
        [MW heat, average], ``mwh_by_year`` [MWh heat a year] and ``usd_by_year`` [USD a
        year, undiscounted], ``value_usd`` (present value, the ``heat`` cost part with its
        sign turned) [USD]; ``total_mwh_per_year_final`` [MWh] in the last year;
        ``value_usd`` [USD, present value]; ``why_none`` (words, "" when heat is sold);
        ``recovery_share`` by technology [fraction].
    """
    rec = {str(k): float(v) for k, v in d.cooling.heat_recovery_share.items()}
    share_words = ", ".join(f"{k} {v:g}" for k, v in sorted(rec.items(), key=lambda kv: -kv[1]))
    heat = plan.heat
    years = list(d.horizon.years)
    out: dict[str, Any] = {
        "sites": [],
        "value_usd": float(-plan.costs_usd.get("heat", 0.0)),
        "recovery_share": rec,
        "why_none": "",
    }
    sold = heat[heat["heat_mw"] > 1e-6] if len(heat) else heat
    if len(sold):
        wt = dict(zip(years, d.horizon.op_weight, strict=True))
        sold = sold.assign(
            mwh=sold["heat_mw"] * HOURS_PER_YEAR,
            usd=sold["heat_mw"] * HOURS_PER_YEAR * sold["price_usd_per_mwh"],
        )
        cool = (
            plan.schedule.groupby("site_id")["cooling"].first()
            if len(plan.schedule)
            else pd.Series(dtype=str)
        )
        for s, g in sold.groupby("site_id", sort=True):
            by = g.groupby("year")[["heat_mw", "mwh", "usd"]].sum()
            out["sites"].append(
                {
                    "site_id": str(s),
                    "cooling": str(cool.get(s, "")),
                    "sinks": sorted({str(j) for j in g["sink_id"]}),
                    "heat_mw_by_year": {str(y): float(v) for y, v in by["heat_mw"].items()},
                    "mwh_by_year": {str(y): float(v) for y, v in by["mwh"].items()},
                    "usd_by_year": {str(y): float(v) for y, v in by["usd"].items()},
                    "value_usd": float(
                        sum(float(v) * float(wt[as_int(y)]) for y, v in by["usd"].items())
                    ),
                }
            )
        return out
    if not len(d.policy.sinks):
        out["why_none"] = "the scenario has no heat sinks layer"
    elif not len(d.policy.heat_links):
        out["why_none"] = "no candidate site lies within a heat sink's reach (max_km)"
    elif not len(plan.schedule):
        out["why_none"] = "the plan builds no campus"
    else:
        chosen = plan.schedule.groupby("site_id")["cooling"].first()
        linked = set(d.policy.heat_links["site_id"].astype(str))
        near = [s for s in chosen.index if str(s) in linked]
        recovering = [s for s in chosen.index if rec.get(str(chosen[s]), 0.0) > 0]
        if not recovering:
            out["why_none"] = (
                "no chosen site uses a technology that recovers heat (heat_recovery_share: "
                f"{share_words})"
            )
        elif not near:
            out["why_none"] = (
                "no chosen site lies within a heat sink's reach (max_km); the sites that "
                f"recover heat: {', '.join(map(str, recovering))}"
            )
        else:
            out["why_none"] = (
                "the chosen sites near a heat sink do not recover heat (heat_recovery_share: "
                f"{share_words}), or the sinks pay nothing"
            )
    return out
