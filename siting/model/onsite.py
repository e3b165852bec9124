"""On-site generation and storage: what a campus builds behind its meter, and islanding.

Sets: ``OS`` the (site, option) pairs that may be built (``data.onsite.availability``);
an option is *storage* when ``storage_mwh_per_mw > 0``, else a *generator*.

Variables [MW]:

- ``os_new[s,o,t] >= 0`` built in period t and kept; ``os_cap[s,o,t] = sum_{t' <= t}
  os_new[s,o,t']`` in service, ``os_cap[s,o,T-1] <= max_mw_per_site[o]``;
- generator ``o``: output ``os_gen_<o>[s,t,h] <= a[s,o,h] * os_cap[s,o,t]`` (``a`` the
  availability, a capacity factor per snapshot);
- storage ``o``: discharge ``os_dis_<o>[s,t,h]`` and charging ``os_chg_<o>[s,t,h]`` with
  ``dis + chg <= a[s,o,h] * os_cap[s,o,t]`` (power).

Storage over representative snapshots (the snapshots are not a chronological day, so no
state of charge is tracked; the approximation is documented in docs/planners-guide.md,
"On-site generation and storage"):

- energy balance per site, option and period: ``sum_h hours_h * (eta * chg[h] - dis[h]) >=
  0``: what is discharged over the year is paid for by charging, at the round-trip
  efficiency ``eta``, in the snapshots the model chooses (``hours_h`` the hours each
  snapshot stands for);
- one cycle a day at most: ``sum_h hours_h * dis[h] <= 365 * E * os_cap`` with ``E`` the
  energy per MW [MWh/MW];
- a 0-hour (peak) snapshot stands for a stress event of ``peak_event_hours`` ``L``: the
  store holds its output that long from its energy, ``L * dis[h] <= E * os_cap`` (it is
  assumed full when the event starts; the few MWh of that one charge are not priced).

The draw from the grid (:func:`siting.model.power.grid_draw`) is lowered by the output and
the discharge and raised by the charging: each is a relief family
(:func:`siting.model.power.register_relief`, source ``onsite_<o>`` and
``onsite_<o>_charge``), so the grid family, the lazy flows, the plan's ``draw_relief``
table and the verification see it. ``os_net[s,t,h]`` is the campus's net on-site supply.

- No export: ``os_net[s,t,h] <= draw[s,t,h]`` (behind the meter).
- Islanding (``onsite.islanding``): binary ``island[s] <= open[s]``; ``draw[s,t,h] -
  os_net[s,t,h] <= M_s * (1 - island[s])`` (``M_s`` the site's largest draw), so an islanded
  campus draws nothing from the grid in any snapshot; it saves the interconnection cost:
  ``island_new[s,t] <= new[s,t]``, ``island_new[s,t] <= max_it_mw[s] * island[s]`` and
  ``island_opens[s,t] <= opens[s,t]``, ``<= island[s]``, credited at
  ``interconnection_usd_per_mw`` and the site's tie-line cost (minimising cost pushes them
  to ``new[s,t] * island[s]`` and ``opens[s,t] * island[s]``).

Cost ``onsite_cost_npv`` [USD, present value]: ``sum op_weight[t] * (annual_usd_per_mw[o] *
os_cap[s,o,t] + variable_usd_per_mwh[o] * sum_h hours_h * out[s,o,t,h])`` less the
islanding credits ``sum capex_df[t] * (interconnection_usd_per_mw * island_new[s,t] +
interconnect_usd[s] * island_opens[s,t])``. ``onsite_mwh[s,t] = sum_h hours_h *
os_net[s,t,h]`` [MWh/year] (the energy not bought: without a grid the objective's energy
part is priced net of it; with a grid the dispatch sees the lower draws).

Metrics (read by :mod:`siting.model.metrics`): ``onsite_co2_t_per_year[t] = sum hours_h *
co2_t_per_mwh[o] * out`` [t CO2/year], ``onsite_co2_t = sum_t period_years[t] *
onsite_co2_t_per_year[t]`` [t CO2], ``onsite_water_m3_per_day[t] = sum hours_h *
water_m3_per_mwh[o] * out / 365`` [m3/day].
"""

from __future__ import annotations

import pandas as pd
import pyomo.environ as pyo

from siting.model.data import HOURS_PER_YEAR, ModelData
from siting.model.power import register_relief
from siting.model.state import model_state

#: Days per year the storage's one-cycle-a-day cap counts [days].
DAYS_PER_YEAR = HOURS_PER_YEAR / 24.0


def availability(d: ModelData) -> pd.DataFrame:
    """``d.onsite.availability`` of the model's sites (screening, dominance and the kernel
    may leave out some candidates the scenario's options name)."""
    tab = d.onsite.availability
    if not len(tab):
        return tab
    return tab[tab.index.get_level_values("site_id").isin(set(d.campus.sites))]


def onsite_sites(d: ModelData) -> list[str]:
    """The model's sites that may build any on-site option, in the availability table's
    order."""
    return list(dict.fromkeys(availability(d).index.get_level_values("site_id")))


def option_sites(d: ModelData, o: str) -> list[str]:
    """The model's sites that may build option ``o``."""
    return [s for s, oo in availability(d).index if oo == o]


def is_storage(d: ModelData, o: str) -> bool:
    """Whether option ``o`` is storage (energy per MW above 0)."""
    return bool(d.onsite.options["storage_mwh_per_mw"].astype(float).to_dict()[o] > 0)


def add_onsite(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Add the on-site family (see the module docstring); nothing without options."""
    od = d.onsite
    tab = availability(d)
    if not len(tab):
        return
    opts = od.options
    max_mw = opts["max_mw_per_site"].astype(float).to_dict()
    m.OS = pyo.Set(initialize=list(tab.index), dimen=2, ordered=True)
    m.os_new = pyo.Var(
        m.OS, m.T, domain=pyo.NonNegativeReals, bounds=lambda _m, s, o, t: (0.0, max_mw[o])
    )
    m.os_cap = pyo.Expression(
        m.OS, m.T, rule=lambda m, s, o, t: pyo.quicksum(m.os_new[s, o, u] for u in range(t + 1))
    )
    last = d.horizon.n_years - 1
    m.os_max = pyo.Constraint(m.OS, rule=lambda m, s, o: m.os_cap[s, o, last] <= max_mw[o])
    out, chg = _output_vars(m, d)
    avail = {k: row.to_dict() for k, row in tab.iterrows()}

    def power_rule(m: pyo.ConcreteModel, s: str, o: str, t: int, h: str) -> object:
        used = out[o][s, t, h] + (chg[o][s, t, h] if o in chg else 0.0)
        return used <= avail[s, o][h] * m.os_cap[s, o, t]

    m.os_power = pyo.Constraint(m.OS, m.T, m.H, rule=power_rule)
    _storage_rows(m, d, out, chg)
    by_site: dict[str, list[str]] = {}
    for s, o in tab.index:
        by_site.setdefault(s, []).append(o)
    sites = onsite_sites(d)
    m.OSS = pyo.Set(initialize=sites, ordered=True)
    m.os_net = pyo.Expression(
        m.OSS,
        m.T,
        m.H,
        rule=lambda m, s, t, h: pyo.quicksum(
            out[o][s, t, h] - (chg[o][s, t, h] if o in chg else 0.0) for o in by_site[s]
        ),
    )
    m.os_no_export = pyo.Constraint(
        m.OSS, m.T, m.H, rule=lambda m, s, t, h: m.os_net[s, t, h] <= m.draw[s, t, h]
    )
    hours = d.horizon.snapshots["hours"].astype(float).to_dict()
    m.onsite_mwh = pyo.Expression(
        m.OSS, m.T, rule=lambda m, s, t: pyo.quicksum(hours[h] * m.os_net[s, t, h] for h in m.H)
    )
    if od.islanding:
        _islanding(m, d, sites)
    _cost_and_metrics(m, d, out)


def _output_vars(m: pyo.ConcreteModel, d: ModelData) -> tuple[dict, dict]:
    """One output (generator) or discharge (storage) variable per option, and one charging
    variable per storage option, each registered as relief: ({option: Var}, {option: Var})."""
    out: dict[str, pyo.Var] = {}
    chg: dict[str, pyo.Var] = {}
    for o in d.onsite.options.index:
        o_sites = option_sites(d, o)
        if not o_sites:
            continue
        kind = "dis" if is_storage(d, o) else "gen"
        v = pyo.Var(o_sites, m.T, m.H, domain=pyo.NonNegativeReals)
        m.add_component(f"os_{kind}_{o}", v)
        register_relief(m, v, 1.0, o_sites, f"onsite_{o}")
        out[o] = v
        if kind == "dis":
            c = pyo.Var(o_sites, m.T, m.H, domain=pyo.NonNegativeReals)
            m.add_component(f"os_chg_{o}", c)
            register_relief(m, c, -1.0, o_sites, f"onsite_{o}_charge")
            chg[o] = c
    return out, chg


def _storage_rows(m: pyo.ConcreteModel, d: ModelData, out: dict, chg: dict) -> None:
    """Energy balance, one cycle a day and the peak event's energy of each storage option
    (see the module docstring)."""
    od = d.onsite
    store = [(s, o) for s, o in availability(d).index if o in chg]
    if not store:
        return
    hours = d.horizon.snapshots["hours"].astype(float).to_dict()
    e = od.options["storage_mwh_per_mw"].astype(float).to_dict()
    eta = od.options["round_trip_efficiency"].astype(float).to_dict()
    events = [h for h in d.horizon.snapshots.index if hours[h] <= 0]
    m.OST = pyo.Set(initialize=store, dimen=2, ordered=True)
    m.os_energy_balance = pyo.Constraint(
        m.OST,
        m.T,
        rule=lambda m, s, o, t: (
            pyo.quicksum(
                hours[h] * (eta[o] * chg[o][s, t, h] - out[o][s, t, h]) for h in m.H if hours[h] > 0
            )
            >= 0
        ),
    )
    m.os_cycle = pyo.Constraint(
        m.OST,
        m.T,
        rule=lambda m, s, o, t: (
            pyo.quicksum(hours[h] * out[o][s, t, h] for h in m.H)
            <= DAYS_PER_YEAR * e[o] * m.os_cap[s, o, t]
        ),
    )
    if events:
        ev = od.peak_event_hours
        m.os_event = pyo.Constraint(
            m.OST,
            m.T,
            events,
            rule=lambda m, s, o, t, h: ev * out[o][s, t, h] <= e[o] * m.os_cap[s, o, t],
        )


def _islanding(m: pyo.ConcreteModel, d: ModelData, sites: list[str]) -> None:
    """The islanding binary, the zero grid draw it forces and the credit variables it
    allows (see the module docstring)."""
    pue_peak = d.cooling.perf["pue_peak"].to_dict()
    techs_of = model_state(m).techs_of
    max_it = d.campus.site["max_it_mw"].astype(float).to_dict()
    big = {s: max_it[s] * max([pue_peak[s, k] for k in techs_of[s]] + [1.0]) for s in sites}
    m.island = pyo.Var(m.OSS, domain=pyo.Binary)
    m.island_open = pyo.Constraint(m.OSS, rule=lambda m, s: m.island[s] <= m.open[s])
    m.island_draw = pyo.Constraint(
        m.OSS,
        m.T,
        m.H,
        rule=lambda m, s, t, h: m.draw[s, t, h] - m.os_net[s, t, h] <= big[s] * (1 - m.island[s]),
    )
    m.island_new = pyo.Var(m.OSS, m.T, domain=pyo.NonNegativeReals)
    m.island_new_le = pyo.Constraint(
        m.OSS, m.T, rule=lambda m, s, t: m.island_new[s, t] <= m.new[s, t]
    )
    m.island_new_on = pyo.Constraint(
        m.OSS, m.T, rule=lambda m, s, t: m.island_new[s, t] <= max_it[s] * m.island[s]
    )
    m.island_opens = pyo.Var(m.OSS, m.T, domain=pyo.NonNegativeReals)
    m.island_opens_le = pyo.Constraint(
        m.OSS, m.T, rule=lambda m, s, t: m.island_opens[s, t] <= m.opens[s, t]
    )
    m.island_opens_on = pyo.Constraint(
        m.OSS, m.T, rule=lambda m, s, t: m.island_opens[s, t] <= m.island[s]
    )


def _cost_and_metrics(m: pyo.ConcreteModel, d: ModelData, out: dict) -> None:
    """``onsite_cost_npv`` and the CO2 and water metrics (see the module docstring)."""
    opts = d.onsite.options
    annual = opts["annual_usd_per_mw"].astype(float).to_dict()
    var = opts["variable_usd_per_mwh"].astype(float).to_dict()
    co2 = opts["co2_t_per_mwh"].astype(float).to_dict()
    water = opts["water_m3_per_mwh"].astype(float).to_dict()
    hours = d.horizon.snapshots["hours"].astype(float).to_dict()
    w = [float(v) for v in d.horizon.op_weight]
    df = [float(v) for v in d.horizon.capex_df]
    years = [float(v) for v in d.horizon.period_years]

    def mwh(s: str, o: str, t: int) -> object:
        return pyo.quicksum(hours[h] * out[o][s, t, h] for h in m.H if hours[h] > 0)

    m.os_out_mwh = pyo.Expression(m.OS, m.T, rule=lambda m, s, o, t: mwh(s, o, t))
    cost = pyo.quicksum(
        w[t] * (annual[o] * m.os_cap[s, o, t] + var[o] * m.os_out_mwh[s, o, t])
        for s, o in m.OS
        for t in m.T
    )
    if m.component("island") is not None:
        ic = d.campus.interconnection_usd_per_mw
        tie = d.campus.site["interconnect_usd"].astype(float).to_dict()
        cost -= pyo.quicksum(
            df[t] * (ic * m.island_new[s, t] + tie[s] * m.island_opens[s, t])
            for s in m.OSS
            for t in m.T
        )
    m.onsite_cost_npv = pyo.Expression(expr=cost)
    m.onsite_co2_t_per_year = pyo.Expression(
        m.T,
        rule=lambda m, t: pyo.quicksum(co2[o] * m.os_out_mwh[s, o, t] for s, o in m.OS if co2[o]),
    )
    m.onsite_co2_t = pyo.Expression(
        expr=pyo.quicksum(years[t] * m.onsite_co2_t_per_year[t] for t in m.T)
    )
    m.onsite_water_m3_per_day = pyo.Expression(
        m.T,
        rule=lambda m, t: pyo.quicksum(
            water[o] * m.os_out_mwh[s, o, t] / DAYS_PER_YEAR for s, o in m.OS if water[o]
        ),
    )
