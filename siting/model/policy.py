"""Policy: national targets, regional and zone shares, demand served within latency,
public-interest capacity, waste-heat sales, and the budget of a max-capacity plan.

- target: ``sum_s cap[s,t] >= target_t`` [MW IT]; soft (:func:`add_shortfall`, with
  ``targets.shortfall_usd_per_mw_year`` = ``p``): ``sum_s cap[s,t] + short[t] >= target_t``
  with ``0 <= short[t] <= target_t`` [MW IT] and the cost of delay ``delay_cost_npv =
  sum_t op_weight[t] * p * short[t]`` [USD] (``op_weight``: the discounted years period t
  stands for, so ``short[t]`` MW short for those years costs ``p`` per MW-year);
- region share: ``min_r * total_t <= sum_{s in r} cap[s,t] <= max_r * total_t``;
- zones (require mode): ``sum_{s in a zone} cap[s,t] >= min_share * total_t``;
- demand (:func:`add_demand`, a capacitated facility location): assignment ``0 <= a[r,s,t]
  <= u[r,s,t]`` [MW] on pairs within the latency reach, ``sum_s a[r,s,t] >= demand[r,t]``,
  ``sum_r a[r,s,t] <= cap[s,t]`` and the linking rows ``a[r,s,t] <= u[r,s,t] * opened[s,t]``,
  with ``u`` the smaller of the demand and the most the site can hold by ``t``;
- public interest: ``q[s,t] >= 0`` on eligible sites, ``q[s,t] <= sum_{k eligible}
  capk[s,k,t]`` and ``sum_s q[s,t] >= share * total_t``;
- heat: ``z[j,s,t] >= 0`` [MW heat], ``sum_s z[j,s,t] <= demand_j`` and ``sum_j z[j,s,t] <=
  u * sum_k recovery_k * on[s,k,t]`` (IT power becomes heat; ``on[s,k,t]`` the IT MW that
  draw power, :func:`siting.model.power.it_on`: ``capk``, less the idle envelope
  ``idle_mw`` with the compute family);
- export (:func:`add_export`, with ``policy.export``): ``0 <= export_mw[t] <= max_mw_t``
  [MW IT], taken out of the target row: ``sum_s cap[s,t] - export_mw[t] (+ short[t]) >=
  target_t``, so with hard targets ``export_mw[t] <= total_cap[t] - target_t`` (only
  capacity above the year's target is sold); it earns ``export_value_npv = sum_t
  op_weight[t] * price * export_mw[t]`` [USD] (the cost part ``export`` is its negative).
  With soft targets a MW sold while short pays the cost of delay: the plan sells it only
  when the export price is above that cost. With the compute family the MW sold are
  installed accelerators beyond the targets in accelerators and compute:
  ``export_mw[t] = sum_g kw_g * export_acc[g,t]`` (``export_of_accelerators``; the rows in
  :mod:`siting.model.compute`), also taken out of those targets;
- soft targets with the compute family (:func:`add_shortfall`): a year's shortfall is
  priced once, as the largest of its MW equivalents (``shortfall_once``): ``z[t] >=
  short[t]``, ``z[t] >= sum_g kw_g * acc_short[g,t]``, ``z[t] >= mw_per_unit *
  compute_short[t]``, ``delay_cost_npv = sum_t op_weight[t] * p * z[t]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from siting.model import elastic
from siting.model.data import HOURS_PER_YEAR, ModelData, partners
from siting.model.power import it_on
from siting.model.sites import build_bounds, modules_held, opened
from siting.model.state import model_state


def add_policy(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Add the policy family (see the module docstring)."""
    short = elastic.slack(m, "target_short_mw", m.T, "MW", "national IT target not met")
    soft = add_shortfall(m, d)
    sold = add_export(m, d)
    m.target = pyo.Constraint(
        m.T,
        rule=lambda m, t: (
            (m.total_cap[t] - sold[t] if m.component("export_mw") is not None else m.total_cap[t])
            + short[t]
            + soft[t]
            >= float(d.policy.targets_mw[t])
        ),
    )

    if d.policy.region_shares:
        in_region: dict[str, list[str]] = {r: [] for r in d.policy.region_shares}
        for s, r in zip(d.campus.sites, d.campus.site["region_id"], strict=True):
            if r in in_region:
                in_region[r].append(s)
        m.R = pyo.Set(initialize=list(d.policy.region_shares), ordered=True)
        lo_s = elastic.slack(m, "region_min_mw", m.R * m.T, "MW", "region below its minimum share")
        hi_s = elastic.slack(m, "region_max_mw", m.R * m.T, "MW", "region above its maximum share")
        m.region_min = pyo.Constraint(
            m.R,
            m.T,
            rule=lambda m, r, t: (
                pyo.quicksum(m.cap[s, t] for s in in_region[r]) + lo_s[r, t]
                >= d.policy.region_shares[r][0] * m.total_cap[t]
            ),
        )
        m.region_max = pyo.Constraint(
            m.R,
            m.T,
            rule=lambda m, r, t: (
                pyo.quicksum(m.cap[s, t] for s in in_region[r])
                <= d.policy.region_shares[r][1] * m.total_cap[t] + hi_s[r, t]
            ),
        )

    if d.policy.zone_mode == "require" and d.policy.zone_min_share > 0:
        kinds = d.campus.site["zone_kind"].to_numpy()
        zoned = [s for s, kind in zip(d.campus.sites, kinds, strict=True) if kind == "designated"]
        zs = elastic.slack(m, "zone_share_mw", m.T, "MW", "capacity outside designated zones")
        m.zone_share = pyo.Constraint(
            m.T,
            rule=lambda m, t: (
                pyo.quicksum(m.cap[s, t] for s in zoned) + zs[t]
                >= d.policy.zone_min_share * m.total_cap[t]
            ),
        )

    add_demand(m, d)

    if d.policy.public_share > 0:
        ps = d.policy.public_sites
        m.PS = pyo.Set(initialize=ps, ordered=True)
        m.public = pyo.Var(m.PS, m.T, domain=pyo.NonNegativeReals)
        m.public_on_eligible = pyo.Constraint(
            m.PS,
            m.T,
            rule=lambda m, s, t: (
                m.public[s, t] <= pyo.quicksum(m.capk[s, k, t] for k in d.policy.public_techs[s])
            ),
        )
        pshort = elastic.slack(m, "public_short_mw", m.T, "MW", "public-interest share not met")
        m.public_share = pyo.Constraint(
            m.T,
            rule=lambda m, t: (
                pyo.quicksum(m.public[s, t] for s in ps) + pshort[t]
                >= d.policy.public_share * m.total_cap[t]
            ),
        )

    add_heat(m, d)


def add_export(m: pyo.ConcreteModel, d: ModelData) -> dict[int, Any]:
    """The export market (see the module docstring): ``export_mw[t]`` [MW IT] and
    ``export_value_npv`` [USD, present value]; nothing without ``policy.export``.

    Returns
    -------
    dict
        Period -> the MW sold, to take out of the target row (the variable, or 0.0).
    """
    price = d.policy.export_usd_per_mw_year
    n = d.horizon.n_years
    if price is None:
        return {t: 0.0 for t in range(n)}
    most = d.policy.export_max_mw if d.policy.export_max_mw is not None else np.full(n, np.inf)
    m.export_mw = pyo.Var(
        m.T,
        domain=pyo.NonNegativeReals,
        bounds=lambda _m, t: (0.0, float(most[t]) if np.isfinite(most[t]) else None),
    )
    sold_acc = m.component("export_acc_mw")  # the compute family's accelerators exported
    if sold_acc is not None:
        m.export_of_accelerators = pyo.Constraint(
            m.T, rule=lambda m, t: m.export_mw[t] == sold_acc[t]
        )
    m.export_value_npv = pyo.Expression(
        expr=pyo.quicksum(
            float(d.horizon.op_weight[t]) * float(price) * m.export_mw[t] for t in m.T
        )
    )
    return {t: m.export_mw[t] for t in range(n)}


def add_shortfall(m: pyo.ConcreteModel, d: ModelData) -> dict[int, Any]:
    """Soft targets: the MW short of each year's target and their cost of delay.

    With ``d.policy.shortfall_usd_per_mw_year`` set, adds ``target_shortfall[t]`` [MW IT] in
    ``[0, target_t]`` and ``delay_cost_npv`` = ``sum_t op_weight[t] * penalty *
    target_shortfall[t]`` [USD, present value]; without it, ``delay_cost_npv`` is 0 and the
    targets are hard. With the compute family's shortfalls (``compute_short_mw[k,t]``, MW
    equivalents of the accelerators and compute short, :mod:`siting.model.compute`), the
    year's shortfall is priced once, as the largest of them: ``shortfall_mw[t] >=
    target_shortfall[t]`` and ``shortfall_mw[t] >= compute_short_mw[k,t]``
    (``shortfall_once``) [MW IT], ``delay_cost_npv = sum_t op_weight[t] * penalty *
    shortfall_mw[t]``.

    Returns
    -------
    dict
        Period -> the shortfall term of the target row (the variable, or 0.0).
    """
    pen = d.policy.shortfall_usd_per_mw_year
    if pen is None:
        m.delay_cost_npv = pyo.Expression(expr=0.0)
        return {t: 0.0 for t in range(d.horizon.n_years)}
    tgt = [float(v) for v in d.policy.targets_mw]
    m.target_shortfall = pyo.Var(
        m.T, domain=pyo.NonNegativeReals, bounds=lambda _m, t: (0.0, tgt[t])
    )
    short = m.target_shortfall
    other = m.component("compute_short_mw")
    if other is not None:
        m.shortfall_mw = pyo.Var(m.T, domain=pyo.NonNegativeReals)
        rows = [("mw", t) for t in range(d.horizon.n_years)] + list(other)
        m.shortfall_once = pyo.Constraint(
            rows,
            rule=lambda m, k, t: (
                m.shortfall_mw[t] >= (m.target_shortfall[t] if k == "mw" else other[k, t])
            ),
        )
        short = m.shortfall_mw
    m.delay_cost_npv = pyo.Expression(
        expr=pyo.quicksum(float(d.horizon.op_weight[t]) * float(pen) * short[t] for t in m.T)
    )
    return {t: m.target_shortfall[t] for t in range(d.horizon.n_years)}


def add_heat(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Waste heat sold to sinks (see the module docstring): ``heat_value_npv`` [USD], the
    discounted value of the heat sold, 0 without sinks or links. Added once: a second
    assignment would make Pyomo warn that it implicitly replaces the component."""
    if not (len(d.policy.heat_links) and len(d.policy.sinks)):
        m.heat_value_npv = pyo.Expression(expr=0.0)
        return
    pairs = list(zip(d.policy.heat_links["sink_id"], d.policy.heat_links["site_id"], strict=True))
    m.JS = pyo.Set(dimen=2, initialize=pairs, ordered=True)
    m.heat = pyo.Var(m.JS, m.T, domain=pyo.NonNegativeReals)
    sinks = list(d.policy.sinks.index)
    m.J = pyo.Set(initialize=sinks, ordered=True)
    rec = d.cooling.heat_recovery_share
    u = d.horizon.utilisation
    sink_mw = d.policy.sinks["demand_mw"].astype(float).to_dict()
    sink_pairs, site_pairs = partners(pairs, sinks, d.campus.sites)
    m.sink_cap = pyo.Constraint(
        m.J,
        m.T,
        rule=lambda m, j, t: pyo.quicksum(m.heat[j, s, t] for s in sink_pairs[j]) <= sink_mw[j],
    )
    techs_of = model_state(m).techs_of  # the technologies each site may choose
    m.heat_avail = pyo.Constraint(
        m.S,
        m.T,
        rule=lambda m, s, t: (
            pyo.quicksum(m.heat[j, s, t] for j in site_pairs[s])
            <= u * pyo.quicksum(rec.get(k, 0.0) * it_on(m, s, k, t) for k in techs_of[s])
        ),
    )
    price = d.policy.sinks["price_usd_per_mwh"].to_dict()
    m.heat_value_npv = pyo.Expression(
        expr=pyo.quicksum(
            float(d.horizon.op_weight[t]) * HOURS_PER_YEAR * price[j] * m.heat[j, s, t]
            for (j, s) in pairs
            for t in m.T
        )
    )


def _demand_mw(d: ModelData) -> dict[tuple[str, int], float]:
    """Demand of region ``r`` in period ``t`` [MW], keyed ``(r, t)``."""
    return {
        (str(r), t): float(v)
        for t, y in enumerate(d.horizon.years)
        for r, v in d.policy.demand_mw[y].astype(float).items()
    }


def demand_link_mw(d: ModelData) -> dict[tuple[str, str, int], float]:
    """The most region ``r`` can take from site ``s`` in period ``t`` [MW]: the smaller of
    the region's demand and the most IT capacity the site can have by then (modules it
    may build up to ``t``, within ``max_it_mw``). The coefficient of the linking row."""
    ub = build_bounds(d)
    holds = modules_held(d)
    most_mw = {}  # modules up to t, each period within its bound and the site's size
    for s in d.campus.sites:
        total = 0
        for t in range(d.horizon.n_years):
            total += ub[s, t]
            most_mw[s, t] = d.campus.module_mw * min(total, holds[s])
    demand = _demand_mw(d)
    out = {}
    for r, s in zip(
        d.policy.demand_links["region_id"], d.policy.demand_links["site_id"], strict=True
    ):
        for t in range(d.horizon.n_years):
            out[r, s, t] = max(min(demand[r, t], most_mw[s, t]), 0.0)
    return out


def add_demand(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Demand regions served within latency reach: a capacitated facility location.

    ``a[r,s,t]`` [MW] in ``[0, u[r,s,t]]`` with ``u = min(demand[r,t], the most IT MW site s
    can have by t)`` (:func:`demand_link_mw`);

    - ``serve``: ``sum_s a[r,s,t] + short[r,t] >= demand[r,t]`` (``short`` only in the
      elastic model);
    - ``serve_cap``: ``sum_r a[r,s,t] <= cap[s,t]``;
    - ``serve_link``: ``a[r,s,t] <= u[r,s,t] * opened[s,t]`` (``opened`` from
      :func:`siting.model.sites.opened`: the site is open by ``t``), the per-pair linking
      rows of the strong facility-location formulation. They are implied by ``serve_cap``
      for integer ``opened`` (a closed site has no capacity; more than the demand is never
      needed, as costs are >= 0), but tighten the LP relaxation: with ``serve_cap`` alone
      an LP may open a site by ``sum_r a / max_it_mw`` and spread it thin.

    Cost ``sum op_weight[t] * cost[r,s] * a[r,s,t]`` [USD] (``demand_cost_npv``).
    """
    if not len(d.policy.demand_mw):
        m.demand_cost_npv = pyo.Expression(expr=0.0)
        return
    regions = list(d.policy.demand_mw.index)
    dl = d.policy.demand_links
    # columns and rows region by region, sites in model order (not by distance, as the
    # candidates list them): HiGHS's root LP on a 1,000 x 100 instance took 43-53 s in
    # distance order and 30 s in this one (the direct highspy model's order)
    order = np.lexsort(
        (
            pd.Index(d.campus.sites).get_indexer(pd.Index(dl["site_id"])),
            pd.Index(regions).get_indexer(pd.Index(dl["region_id"])),
        )
    )
    dl = dl.iloc[order]
    links = list(zip(dl["region_id"], dl["site_id"], strict=True))
    cost = dict(zip(links, dl["cost_usd_per_mw_year"].astype(float), strict=True))
    link_mw = demand_link_mw(d)
    m.DR = pyo.Set(initialize=regions, ordered=True)
    m.DRS = pyo.Set(dimen=2, initialize=links, ordered=True)
    m.assign = pyo.Var(
        m.DRS, m.T, domain=pyo.NonNegativeReals, bounds=lambda _m, r, s, t: (0, link_mw[r, s, t])
    )
    of_region, of_site = partners(links, regions, d.campus.sites)
    demand = _demand_mw(d)
    ds = elastic.slack(m, "demand_short_mw", m.DR * m.T, "MW", "demand region not served")
    m.serve = pyo.Constraint(
        m.DR,
        m.T,
        rule=lambda m, r, t: (
            pyo.quicksum(m.assign[r, s, t] for s in of_region[r]) + ds[r, t] >= demand[r, t]
        ),
    )
    m.serve_cap = pyo.Constraint(
        m.S,
        m.T,
        rule=lambda m, s, t: pyo.quicksum(m.assign[r, s, t] for r in of_site[s]) <= m.cap[s, t],
    )
    m.serve_link = pyo.Constraint(
        [(r, s, t) for (r, s) in links for t in range(d.horizon.n_years) if link_mw[r, s, t] > 0],
        rule=lambda m, r, s, t: m.assign[r, s, t] <= link_mw[r, s, t] * opened(m, s, t),
    )
    m.demand_cost_npv = pyo.Expression(
        expr=pyo.quicksum(
            float(d.horizon.op_weight[t]) * cost[r, s] * m.assign[r, s, t]
            for (r, s) in links
            for t in m.T
        )
    )
