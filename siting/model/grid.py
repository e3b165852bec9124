"""Grid: DC power flow (angle form) per period and snapshot, with thermal limits.

Index sets: buses ``B`` (positions in ``net.bus_ids``), in-service branches ``L``,
in-service generators ``G``, periods ``T``, snapshots ``H``.

Variables: ``theta[b,t,h]`` [rad] (0 at each island's reference bus), ``p[g,t,h]`` [MW]
with ``p_min <= p <= p_max`` in peak snapshots and ``min(0, p_min) <= p <= p_max`` in the
others (no unit commitment: a unit may be off outside the peak).

Flow (MATPOWER's DC convention, ``makeBdc``): ``f[l,t,h] = b_l * (theta_from - theta_to -
shift_l)`` with ``b_l = base_mva / (x_l * tap_l)`` [MW/rad].

Balance at every bus: ``sum_{g at b} p - lf_h * load[b,t] - shunt_b - sum_{s at b}
draw[s,t,h] = sum_{l from b} f - sum_{l to b} f`` (plus unserved load in the elastic form).

Limits: ``|f[l,t,h]| <= rating_l`` (finite ratings; elastic: plus an overload slack);
substation headroom ``sum_{s at b} draw_peak[s,t] <= headroom_b`` where given.

Cost per hour: ``sum_g cost_g(p)`` [USD/h], linear or an epigraph over the cost lines of
:func:`siting.model.data.gen_cost_lines`. Energy cost of period t: ``sum_h w_h *
cost[t,h]`` with ``w_h`` the snapshot's hours (a 0-hour peak snapshot weighs 1 h so its
dispatch is economic rather than arbitrary; 1 h is 0.01 % of a year).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pyomo.environ as pyo

from siting.model import elastic
from siting.model.data import ModelData


def add_grid(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Add the network family (see the module docstring); no-op when the grid is disabled."""
    if not d.grid_enabled:
        m.dispatch_cost = pyo.Expression(m.T, m.H, rule=lambda m, t, h: 0.0)
        return
    net = d.net
    nb = len(net.bus_ids)
    nl = len(net.branch_ids)
    m.B = pyo.Set(initialize=range(nb), ordered=True)
    m.L = pyo.Set(initialize=range(nl), ordered=True)
    m.G = pyo.Set(initialize=list(d.gens.index), ordered=True)
    peak = d.snapshots["peak"].to_dict()
    lf = d.snapshots["load_factor"].to_dict()
    hours = {h: (w if w > 0 else 1.0) for h, w in d.snapshots["hours"].items()}
    refs = set(int(r) for r in np.atleast_1d(net.ref_idx))

    m.theta = pyo.Var(
        m.B, m.T, m.H, bounds=lambda _m, b, t, h: (0.0, 0.0) if b in refs else (None, None)
    )
    pmin = d.gens["p_min_mw"].to_dict()
    pmax = d.gens["p_max_mw"].to_dict()

    def p_bounds(_m, g, t, h):
        lo = pmin[g] if peak[h] else min(0.0, pmin[g])
        return (lo, pmax[g])

    m.p = pyo.Var(m.G, m.T, m.H, bounds=p_bounds)

    fr = net.from_idx.astype(int)
    to = net.to_idx.astype(int)
    bl = net.b_mw_per_rad.astype(float)
    sh = net.shift_rad.astype(float)
    m.flow = pyo.Expression(
        m.L,
        m.T,
        m.H,
        rule=lambda m, br, t, h: bl[br] * (m.theta[fr[br], t, h] - m.theta[to[br], t, h] - sh[br]),
    )

    out_of = defaultdict(list)
    into = defaultdict(list)
    for br in range(nl):
        out_of[fr[br]].append(br)
        into[to[br]].append(br)
    gens_at = defaultdict(list)
    for g, b in d.gens["bus_pos"].items():
        gens_at[int(b)].append(g)
    bus_pos = {b: i for i, b in enumerate(net.bus_ids)}
    sites_at = defaultdict(list)
    for s, b in d.site["bus_id"].items():
        sites_at[bus_pos[b]].append(s)
    load = d.base_load_mw.to_numpy()
    shunt = d.shunt_mw
    # weighted 10x: where a limit binds, the explanation names the line, not a blackout
    shed = elastic.slack(m, "unserved_mw", m.B * m.T * m.H, "MW", "load not served", weight=10.0)

    def balance(m, b, t, h):
        gen = pyo.quicksum(m.p[g, t, h] for g in gens_at[b])
        draw = pyo.quicksum(m.draw[s, t, h] for s in sites_at[b])
        net_out = pyo.quicksum(m.flow[br, t, h] for br in out_of[b]) - pyo.quicksum(
            m.flow[br, t, h] for br in into[b]
        )
        demand = lf[h] * load[b, t] + shunt[b]
        return gen + shed[b, t, h] - draw - demand == net_out

    m.balance = pyo.Constraint(m.B, m.T, m.H, rule=balance)

    if d.line_limits:
        limited = [br for br in range(nl) if np.isfinite(net.rating_mw[br])]
        rating = net.rating_mw
        m.LL = pyo.Set(initialize=limited, ordered=True)
        over = elastic.slack(
            m, "overload_mw", m.LL * m.T * m.H, "MW", "branch flow above its rating"
        )
        m.limit_up = pyo.Constraint(
            m.LL, m.T, m.H, rule=lambda m, br, t, h: m.flow[br, t, h] <= rating[br] + over[br, t, h]
        )
        m.limit_dn = pyo.Constraint(
            m.LL,
            m.T,
            m.H,
            rule=lambda m, br, t, h: -m.flow[br, t, h] <= rating[br] + over[br, t, h],
        )

    capped = [i for i in range(nb) if np.isfinite(d.headroom_mw[i]) and sites_at[i]]
    if capped:
        m.HB = pyo.Set(initialize=capped, ordered=True)
        hover = elastic.slack(m, "headroom_mw", m.HB * m.T, "MW", "substation headroom exceeded")
        m.headroom = pyo.Constraint(
            m.HB,
            m.T,
            rule=lambda m, b, t: (
                pyo.quicksum(m.draw_peak[s, t] for s in sites_at[b])
                <= d.headroom_mw[b] + hover[b, t]
            ),
        )

    linear = {g: c for g, c in d.gen_costs.items() if c.linear}
    curved = [g for g in d.gens.index if g not in linear]
    if curved:
        m.GC = pyo.Set(initialize=curved, ordered=True)
        m.gcost = pyo.Var(m.GC, m.T, m.H, domain=pyo.Reals)
        m.GCL = pyo.Set(
            dimen=2,
            initialize=[
                (g, i) for g in curved for i in range(len(d.gen_costs[g].slopes_usd_per_mwh))
            ],
            ordered=True,
        )
        m.gcost_line = pyo.Constraint(
            m.GCL,
            m.T,
            m.H,
            rule=lambda m, g, i, t, h: (
                m.gcost[g, t, h]
                >= d.gen_costs[g].intercepts_usd_per_h[i]
                + d.gen_costs[g].slopes_usd_per_mwh[i] * m.p[g, t, h]
            ),
        )

    def cost(m, t, h):
        lin = pyo.quicksum(float(linear[g].slopes_usd_per_mwh[0]) * m.p[g, t, h] for g in linear)
        cur = pyo.quicksum(m.gcost[g, t, h] for g in curved) if curved else 0.0
        return lin + cur

    m.dispatch_cost = pyo.Expression(m.T, m.H, rule=cost)  # [USD/h]
    m.energy_cost_npv = pyo.Expression(
        expr=pyo.quicksum(
            float(d.op_weight[t]) * hours[h] * m.dispatch_cost[t, h] for t in m.T for h in m.H
        )
    )
