"""Water: each campus's need met from sources in pipeline reach; shared capacities; caps.

Sets: sources ``W``; links ``SW`` (site, source) within reach (at most
``candidates.max_water_links`` nearest per site).

- need ``need[s,t] = 24 h * u * sum_k WUE_annual[s,k] * on[s,k,t]`` [m3/day]
  (IT MW x 1000 kW/MW x 24 h x WUE L/kWh / 1000 L/m3), with ``on[s,k,t]`` the IT MW that
  draw power (:func:`siting.model.power.it_on`: ``capk``, less the idle envelope
  ``idle_mw`` with the compute family);
- supply ``sum_w x[s,w,t] = need[s,t]`` with ``x >= 0`` [m3/day];
- a pipeline ``pipe[s,w]`` (binary) is built to use a link: ``x[s,w,t] <= M * pipe[s,w]``
  with ``M`` the smaller of the source's largest capacity and the site's largest need;
- each source's capacity is shared: ``sum_s x[s,w,t] <= capacity[w,t]``;
- potable use capped by policy: ``sum_{w potable} sum_s x[s,w,t] <= potable_cap``.

Costs: water ``365 * price_w * x`` per year; pipelines ``pipeline_usd[s,w] * pipe[s,w]``
charged in the first planning year (an upper bound on its discounted cost).
"""

from __future__ import annotations

import pyomo.environ as pyo

from siting.model import elastic
from siting.model.data import ModelData, partners
from siting.model.power import it_on
from siting.model.state import model_state


def add_water(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Add the water family (see the module docstring)."""
    wue = d.cooling.perf["wue_annual_l_per_kwh"].to_dict()
    u = d.horizon.utilisation
    techs_of = model_state(m).techs_of  # the technologies each site may choose
    m.need = pyo.Expression(
        m.S,
        m.T,
        rule=lambda m, s, t: 24.0 * u * sum(wue[s, k] * it_on(m, s, k, t) for k in techs_of[s]),
    )
    links = d.water.links
    if not len(links) or not len(d.water.sources):
        m.water_cost_npv = pyo.Expression(expr=0.0)
        m.pipeline_cost_npv = pyo.Expression(expr=0.0)
        return
    years = d.horizon.years
    m.W = pyo.Set(initialize=list(d.water.sources.index), ordered=True)
    pairs = list(zip(links["site_id"], links["source_id"], strict=True))
    m.SW = pyo.Set(within=m.S * m.W, initialize=pairs, ordered=True)
    cap_m3 = d.water.sources[[f"cap_{y}" for y in years]].to_numpy(dtype=float)  # [m3/day]
    cap = {
        (w, t): float(cap_m3[i, t])
        for i, w in enumerate(d.water.sources.index)
        for t in range(len(years))
    }
    max_it = d.campus.site["max_it_mw"].to_dict()
    max_need = {
        s: 24.0 * u * max_it[s] * max((wue[s, k] for k in techs_of[s]), default=0.0)
        for s in d.campus.sites
    }
    big_m = {(s, w): min(max(cap[w, t] for t in range(len(years))), max_need[s]) for s, w in pairs}
    m.x = pyo.Var(m.SW, m.T, domain=pyo.NonNegativeReals)
    m.pipe = pyo.Var(m.SW, domain=pyo.Binary)
    src_of, users = partners(pairs, d.campus.sites, list(d.water.sources.index))
    short = elastic.slack(m, "water_short_m3_per_day", m.S * m.T, "m3/day", "water need not met")
    m.supply = pyo.Constraint(
        m.S,
        m.T,
        rule=lambda m, s, t: (
            pyo.quicksum(m.x[s, w, t] for w in src_of[s]) + short[s, t] == m.need[s, t]
        ),
    )
    m.use_pipe = pyo.Constraint(
        m.SW, m.T, rule=lambda m, s, w, t: m.x[s, w, t] <= big_m[s, w] * m.pipe[s, w]
    )
    m.WU = pyo.Set(initialize=[w for w in d.water.sources.index if users[w]], ordered=True)
    over = elastic.slack(
        m, "source_over_m3_per_day", m.WU * m.T, "m3/day", "water source over capacity"
    )
    m.source_cap = pyo.Constraint(
        m.WU,
        m.T,
        rule=lambda m, w, t: pyo.quicksum(m.x[s, w, t] for s in users[w]) <= cap[w, t] + over[w, t],
    )
    if d.water.potable_cap_m3_per_day is not None:
        potable = [(s, w) for s, w in pairs if d.water.sources.at[w, "kind"] == "potable"]
        pover = elastic.slack(
            m, "potable_over_m3_per_day", m.T, "m3/day", "potable water cap exceeded"
        )
        m.potable_cap = pyo.Constraint(
            m.T,
            rule=lambda m, t: (
                pyo.quicksum(m.x[s, w, t] for s, w in potable)
                <= d.water.potable_cap_m3_per_day + pover[t]
            ),
        )
    price = d.water.sources["cost_usd_per_m3"].to_dict()
    m.water_cost_npv = pyo.Expression(
        expr=pyo.quicksum(
            float(d.horizon.op_weight[t]) * 365.0 * price[w] * m.x[s, w, t]
            for (s, w) in pairs
            for t in m.T
        )
    )
    pipe_usd = dict(zip(pairs, links["pipeline_usd"].astype(float), strict=True))
    m.pipeline_cost_npv = pyo.Expression(
        expr=float(d.horizon.capex_df[0]) * pyo.quicksum(pipe_usd[p] * m.pipe[p] for p in pairs)
    )
