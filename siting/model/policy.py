"""Policy: national targets, regional and zone shares, demand served within latency,
public-interest capacity, waste-heat sales, and the budget of a max-capacity plan.

- target: ``sum_s cap[s,t] >= target_t`` [MW IT];
- region share: ``min_r * total_t <= sum_{s in r} cap[s,t] <= max_r * total_t``;
- zones (require mode): ``sum_{s in a zone} cap[s,t] >= min_share * total_t``;
- demand: assignment ``a[r,s,t] >= 0`` [MW] on pairs within the latency reach,
  ``sum_s a[r,s,t] >= demand[r,t]`` and ``sum_r a[r,s,t] <= cap[s,t]``;
- public interest: ``q[s,t] >= 0`` on eligible sites, ``q[s,t] <= sum_{k eligible}
  capk[s,k,t]`` and ``sum_s q[s,t] >= share * total_t``;
- heat: ``z[j,s,t] >= 0`` [MW heat], ``sum_s z[j,s,t] <= demand_j`` and ``sum_j z[j,s,t] <=
  u * sum_k recovery_k * capk[s,k,t]`` (IT power becomes heat).
"""

from __future__ import annotations

import pyomo.environ as pyo

from siting.model import elastic
from siting.model.data import HOURS_PER_YEAR, ModelData


def add_policy(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Add the policy family (see the module docstring)."""
    short = elastic.slack(m, "target_short_mw", m.T, "MW", "national IT target not met")
    m.target = pyo.Constraint(
        m.T, rule=lambda m, t: m.total_cap[t] + short[t] >= float(d.targets_mw[t])
    )

    if d.region_shares:
        in_region = {
            r: [s for s in d.sites if d.site.at[s, "region_id"] == r] for r in d.region_shares
        }
        m.R = pyo.Set(initialize=list(d.region_shares), ordered=True)
        lo_s = elastic.slack(m, "region_min_mw", m.R * m.T, "MW", "region below its minimum share")
        hi_s = elastic.slack(m, "region_max_mw", m.R * m.T, "MW", "region above its maximum share")
        m.region_min = pyo.Constraint(
            m.R,
            m.T,
            rule=lambda m, r, t: (
                pyo.quicksum(m.cap[s, t] for s in in_region[r]) + lo_s[r, t]
                >= d.region_shares[r][0] * m.total_cap[t]
            ),
        )
        m.region_max = pyo.Constraint(
            m.R,
            m.T,
            rule=lambda m, r, t: (
                pyo.quicksum(m.cap[s, t] for s in in_region[r])
                <= d.region_shares[r][1] * m.total_cap[t] + hi_s[r, t]
            ),
        )

    if d.zone_mode == "require" and d.zone_min_share > 0:
        zoned = [s for s in d.sites if d.site.at[s, "zone_kind"] == "designated"]
        zs = elastic.slack(m, "zone_share_mw", m.T, "MW", "capacity outside designated zones")
        m.zone_share = pyo.Constraint(
            m.T,
            rule=lambda m, t: (
                pyo.quicksum(m.cap[s, t] for s in zoned) + zs[t]
                >= d.zone_min_share * m.total_cap[t]
            ),
        )

    m.demand_cost_npv = pyo.Expression(expr=0.0)
    if len(d.demand_mw):
        links = list(zip(d.demand_links["region_id"], d.demand_links["site_id"], strict=True))
        cost = dict(zip(links, d.demand_links["cost_usd_per_mw_year"].astype(float), strict=True))
        regions = list(d.demand_mw.index)
        m.DR = pyo.Set(initialize=regions, ordered=True)
        m.DRS = pyo.Set(dimen=2, initialize=links, ordered=True)
        m.assign = pyo.Var(m.DRS, m.T, domain=pyo.NonNegativeReals)
        of_region = {r: [s for rr, s in links if rr == r] for r in regions}
        of_site: dict[str, list[str]] = {s: [] for s in d.sites}
        for r, s in links:
            of_site[s].append(r)
        years = d.years
        ds = elastic.slack(m, "demand_short_mw", m.DR * m.T, "MW", "demand region not served")
        m.serve = pyo.Constraint(
            m.DR,
            m.T,
            rule=lambda m, r, t: (
                pyo.quicksum(m.assign[r, s, t] for s in of_region[r]) + ds[r, t]
                >= float(d.demand_mw.at[r, years[t]])
            ),
        )
        m.serve_cap = pyo.Constraint(
            m.S,
            m.T,
            rule=lambda m, s, t: pyo.quicksum(m.assign[r, s, t] for r in of_site[s]) <= m.cap[s, t],
        )
        m.demand_cost_npv = pyo.Expression(
            expr=pyo.quicksum(
                float(d.op_weight[t]) * cost[r, s] * m.assign[r, s, t]
                for (r, s) in links
                for t in m.T
            )
        )

    if d.public_share > 0:
        ps = d.public_sites
        m.PS = pyo.Set(initialize=ps, ordered=True)
        m.public = pyo.Var(m.PS, m.T, domain=pyo.NonNegativeReals)
        m.public_on_eligible = pyo.Constraint(
            m.PS,
            m.T,
            rule=lambda m, s, t: (
                m.public[s, t] <= pyo.quicksum(m.capk[s, k, t] for k in d.public_techs[s])
            ),
        )
        pshort = elastic.slack(m, "public_short_mw", m.T, "MW", "public-interest share not met")
        m.public_share = pyo.Constraint(
            m.T,
            rule=lambda m, t: (
                pyo.quicksum(m.public[s, t] for s in ps) + pshort[t]
                >= d.public_share * m.total_cap[t]
            ),
        )

    m.heat_value_npv = pyo.Expression(expr=0.0)
    if len(d.heat_links) and len(d.sinks):
        pairs = list(zip(d.heat_links["sink_id"], d.heat_links["site_id"], strict=True))
        m.JS = pyo.Set(dimen=2, initialize=pairs, ordered=True)
        m.heat = pyo.Var(m.JS, m.T, domain=pyo.NonNegativeReals)
        sinks = list(d.sinks.index)
        m.J = pyo.Set(initialize=sinks, ordered=True)
        rec = d.heat_recovery_share
        u = d.utilisation
        m.sink_cap = pyo.Constraint(
            m.J,
            m.T,
            rule=lambda m, j, t: (
                pyo.quicksum(m.heat[jj, s, t] for jj, s in pairs if jj == j)
                <= float(d.sinks.at[j, "demand_mw"])
            ),
        )
        site_pairs: dict[str, list[str]] = {s: [] for s in d.sites}
        for j, s in pairs:
            site_pairs[s].append(j)
        m.heat_avail = pyo.Constraint(
            m.S,
            m.T,
            rule=lambda m, s, t: (
                pyo.quicksum(m.heat[j, s, t] for j in site_pairs[s])
                <= u * pyo.quicksum(rec.get(k, 0.0) * m.capk[s, k, t] for k in m._techs_of[s])
            ),
        )
        price = d.sinks["price_usd_per_mwh"].to_dict()
        m.heat_value_npv = pyo.Expression(
            expr=pyo.quicksum(
                float(d.op_weight[t]) * HOURS_PER_YEAR * price[j] * m.heat[j, s, t]
                for (j, s) in pairs
                for t in m.T
            )
        )
