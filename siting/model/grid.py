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

Limits: ``|f[l,t,h]| <= rating_l + added_l * U[l,t]`` (finite ratings; elastic: plus an
overload slack); substation headroom ``sum_{s at b} draw_peak[s,t] <= headroom_b +
added_b * V[b,t]`` where given.

Upgrades (``grid.upgrades``; options from the grid layer, see
:func:`siting.model.data.upgrade_options`): ``up_branch[l,t]`` binary, the upgrade of branch
l enters service in period t (0 before its first period = first year + lead time), at most
once: ``sum_t up_branch[l,t] <= 1``; ``U[l,t] = sum_{t' <= t} up_branch[l,t']``. Likewise
``up_bus[b,t]`` and ``V[b,t]`` for substations. A branch upgrade adds ``added_l`` to the
normal and to the emergency rating. Cost (present value) ``sum df_t * cost * up[., t]``:
paid in the year the upgrade enters service.

N-1 (``grid.n_minus_1``, lazily, :mod:`siting.solve.lazy`): after the outage of branch k,
``|f[l,t,h] + LODF[l,k] * f[k,t,h]| <= emergency_l + added_l * U[l,t]`` for the
(l, k, t, h) a solution violates.

Cost per hour: ``sum_g cost_g(p)`` [USD/h], linear or an epigraph over the cost lines of
:func:`siting.model.data.gen_cost_lines`. Energy cost of period t: ``sum_h w_h *
cost[t,h]`` with ``w_h`` the snapshot's hours (a 0-hour peak snapshot weighs 1 h so its
dispatch is economic rather than arbitrary; 1 h is 0.01 % of a year).
"""

from __future__ import annotations

import threading
import weakref
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np
import pyomo.environ as pyo

from siting.model import elastic
from siting.model.data import ModelData
from siting.model.power import grid_draw, relief_at
from siting.model.state import PtdfTables, model_state

if TYPE_CHECKING:
    from pyomo.core.expr.numeric_expr import LinearExpression, NumericValue
    from pyomo.core.expr.relational_expr import RelationalExpression

    from siting.network import DCNetwork


def add_grid(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Add the network family (see the module docstring); no-op when the grid is disabled."""
    if not d.grid.enabled:
        m.dispatch_cost = pyo.Expression(m.T, m.H, rule=lambda m, t, h: 0.0)
        m.upgrade_cost_npv = pyo.Expression(expr=0.0)
        return
    net = d.grid.network
    m.B = pyo.Set(initialize=range(len(net.bus_ids)), ordered=True)
    m.L = pyo.Set(initialize=range(len(net.branch_ids)), ordered=True)
    m.G = pyo.Set(initialize=list(d.grid.gens.index), ordered=True)
    lf = d.horizon.snapshots["load_factor"].to_dict()
    ptdf_form = d.grid.formulation == "ptdf"
    if not ptdf_form:
        refs = set(int(r) for r in np.atleast_1d(net.ref_idx))
        m.theta = pyo.Var(
            m.B, m.T, m.H, bounds=lambda _m, b, t, h: (0.0, 0.0) if b in refs else (None, None)
        )
    _add_dispatch_vars(m, d)
    if not ptdf_form:
        _add_angle_flows(m, d)
    out_of, into, gens_at, sites_at = _incidence(d)
    # weighted 10x: where a limit binds, the explanation names the line, not a blackout
    shed = elastic.slack(m, "unserved_mw", m.B * m.T * m.H, "MW", "load not served", weight=10.0)
    if ptdf_form:
        _add_ptdf_network(m, d, gens_at, sites_at, shed, lf)
    else:
        _add_angle_balance(m, d, (out_of, into, gens_at, sites_at), shed, lf)
    _add_upgrades(m, d)
    if d.grid.line_limits:
        _add_line_limits(m, d, ptdf_form)
    _add_headroom(m, d, sites_at)
    if d.grid.line_limits and d.grid.n1 is not None:
        _add_n1_family(m, d)
    _add_dispatch_cost(m, d)


def _add_dispatch_vars(m: pyo.ConcreteModel, d: ModelData) -> None:
    """``p[g,t,h]`` [MW]: ``p_min <= p <= p_max`` in peak snapshots, ``min(0, p_min) <= p
    <= p_max`` in the others (no unit commitment)."""
    peak = d.horizon.snapshots["peak"].to_dict()
    pmin = d.grid.gens["p_min_mw"].to_dict()
    pmax = d.grid.gens["p_max_mw"].to_dict()

    def p_bounds(_m: pyo.ConcreteModel, g: str, t: int, h: str) -> tuple[float, float]:
        lo = pmin[g] if peak[h] else min(0.0, pmin[g])
        return (lo, pmax[g])

    m.p = pyo.Var(m.G, m.T, m.H, bounds=p_bounds)


def _add_angle_flows(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Angle form: ``flow[l,t,h] = b_l (theta_from - theta_to - shift_l)`` [MW]."""
    net = d.grid.network
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


def _incidence(d: ModelData) -> tuple[dict, dict, dict, dict]:
    """Per bus position: the branches leaving it and entering it, its generators and its
    candidate sites (``defaultdict(list)`` each, in model order)."""
    net = d.grid.network
    fr = net.from_idx.astype(int)
    to = net.to_idx.astype(int)
    out_of = defaultdict(list)
    into = defaultdict(list)
    for br in range(len(net.branch_ids)):
        out_of[fr[br]].append(br)
        into[to[br]].append(br)
    gens_at = defaultdict(list)
    for g, b in d.grid.gens["bus_pos"].items():
        gens_at[int(b)].append(g)
    bus_pos = {b: i for i, b in enumerate(net.bus_ids)}
    sites_at = defaultdict(list)
    for s, b in d.campus.site["bus_id"].items():
        sites_at[bus_pos[b]].append(s)
    return out_of, into, gens_at, sites_at


def _add_angle_balance(
    m: pyo.ConcreteModel, d: ModelData, at: tuple[dict, dict, dict, dict], shed: Any, lf: dict
) -> None:
    """Angle form: the power balance of every bus, period and snapshot [MW].

    ``at``: :func:`_incidence`'s (out_of, into, gens_at, sites_at); ``shed``: the unserved
    load slack [MW]; ``lf``: load factor per snapshot.
    """
    out_of, into, gens_at, sites_at = at
    load = d.grid.base_load_mw.to_numpy()
    shunt = d.grid.shunt_mw
    is_elastic = model_state(m).elastic
    relief = relief_at(m)

    def balance(m: pyo.ConcreteModel, b: int, t: int, h: str) -> RelationalExpression | type:
        gen = pyo.quicksum(m.p[g, t, h] for g in gens_at[b])
        draw = pyo.quicksum(grid_draw(m, s, t, h, relief) for s in sites_at[b])
        net_out = pyo.quicksum(m.flow[br, t, h] for br in out_of[b]) - pyo.quicksum(
            m.flow[br, t, h] for br in into[b]
        )
        demand = lf[h] * load[b, t] + shunt[b]
        if not (gens_at[b] or sites_at[b] or out_of[b] or into[b] or is_elastic):
            return _isolated(d, [b], demand)
        return gen + shed[b, t, h] - draw - demand == net_out

    if not is_elastic:  # a load nothing serves is said before Pyomo builds (and logs) a row
        for b in m.B:
            if not (gens_at[b] or sites_at[b] or out_of[b] or into[b]):
                for t in m.T:
                    for h in m.H:
                        _isolated(d, [b], lf[h] * load[b, t] + shunt[b])
    m.balance = pyo.Constraint(m.B, m.T, m.H, rule=balance)


def _add_line_limits(m: pyo.ConcreteModel, d: ModelData, ptdf_form: bool) -> None:
    """``|flow| <= rating + added rating + overload`` [MW] for the branches with a finite
    rating: in the model (angle form), or lazily (PTDF form: only the slack here)."""
    net = d.grid.network
    limited = [br for br in range(len(net.branch_ids)) if np.isfinite(net.rating_mw[br])]
    rating = net.rating_mw
    m.LL = pyo.Set(initialize=limited, ordered=True)
    over = elastic.slack(m, "overload_mw", m.LL * m.T * m.H, "MW", "branch flow above its rating")
    if ptdf_form:
        # limits are added lazily (siting.solve.lazy), which read the slack here
        model_state(m).overload = over
        return
    m.limit_up = pyo.Constraint(
        m.LL,
        m.T,
        m.H,
        rule=lambda m, br, t, h: (
            m.flow[br, t, h] <= rating[br] + added_rating(m, br, t) + over[br, t, h]
        ),
    )
    m.limit_dn = pyo.Constraint(
        m.LL,
        m.T,
        m.H,
        rule=lambda m, br, t, h: (
            -m.flow[br, t, h] <= rating[br] + added_rating(m, br, t) + over[br, t, h]
        ),
    )


def _add_headroom(m: pyo.ConcreteModel, d: ModelData, sites_at: dict) -> None:
    """Substation headroom at buses with a finite headroom and a candidate site:
    ``sum draw_peak <= headroom + added headroom + slack`` [MW]; at a bus where a site has
    relief (:func:`siting.model.power.register_relief`), its draw from the grid in each
    peak snapshot instead (``headroom_relief[b,t,h]``)."""
    nb = len(d.grid.network.bus_ids)
    capped = [i for i in range(nb) if np.isfinite(d.grid.headroom_mw[i]) and sites_at[i]]
    relief = relief_at(m)
    eased = [b for b in capped if any(s in relief for s in sites_at[b])]
    capped = [b for b in capped if b not in eased]
    if capped:
        m.HB = pyo.Set(initialize=capped, ordered=True)
        hover = elastic.slack(m, "headroom_mw", m.HB * m.T, "MW", "substation headroom exceeded")
        m.headroom = pyo.Constraint(
            m.HB,
            m.T,
            rule=lambda m, b, t: (
                pyo.quicksum(m.draw_peak[s, t] for s in sites_at[b])
                <= d.grid.headroom_mw[b] + added_headroom(m, b, t) + hover[b, t]
            ),
        )
    peaks = [str(h) for h, v in d.horizon.snapshots["peak"].items() if v]
    if eased and peaks:
        m.HBR = pyo.Set(initialize=eased, ordered=True)
        m.HP = pyo.Set(initialize=peaks, ordered=True)
        rover = elastic.slack(
            m, "headroom_relief_mw", m.HBR * m.T * m.HP, "MW", "substation headroom exceeded"
        )
        m.headroom_relief = pyo.Constraint(
            m.HBR,
            m.T,
            m.HP,
            rule=lambda m, b, t, h: (
                pyo.quicksum(grid_draw(m, s, t, h, relief) for s in sites_at[b])
                <= d.grid.headroom_mw[b] + added_headroom(m, b, t) + rover[b, t, h]
            ),
        )


def _add_n1_family(m: pyo.ConcreteModel, d: ModelData) -> None:
    """What the lazy N-1 limits need (:mod:`siting.solve.lazy`): the LODF, the branches
    with a finite emergency rating, their slack [MW] and an empty list of limits."""
    net = d.grid.network
    st = model_state(m)
    st.lodf = lodf_of(net)
    em = d.grid.rating_emergency_mw
    m.LE = pyo.Set(
        initialize=[br for br in range(len(net.branch_ids)) if np.isfinite(em[br])], ordered=True
    )
    n1_over = elastic.slack(
        m,
        "n1_overload_mw",
        m.LE * m.T * m.H,
        "MW",
        "post-contingency flow above emergency rating",
    )
    st.n1_over = n1_over
    m.n1_limits = pyo.ConstraintList()
    st.n1_monitored = set()
    st.n1_outages_seen = set()


def _add_dispatch_cost(m: pyo.ConcreteModel, d: ModelData) -> None:
    """The dispatch cost per (t, h) [USD/h] (linear, or an epigraph over cost lines) and
    its present value over the periods and snapshots [USD]."""
    hours = {h: (w if w > 0 else 1.0) for h, w in d.horizon.snapshots["hours"].items()}
    linear = {g: c for g, c in d.grid.gen_costs.items() if c.linear}
    curved = [g for g in d.grid.gens.index if g not in linear]
    if curved:
        m.GC = pyo.Set(initialize=curved, ordered=True)
        m.gcost = pyo.Var(m.GC, m.T, m.H, domain=pyo.Reals)
        m.GCL = pyo.Set(
            dimen=2,
            initialize=[
                (g, i) for g in curved for i in range(len(d.grid.gen_costs[g].slopes_usd_per_mwh))
            ],
            ordered=True,
        )
        # Python floats: a numpy float times a Pyomo variable goes through numpy's ufunc
        # machinery (2.8 of 4.7 s of building these rows on national-TX, profiled)
        lines = {
            g: (
                [float(x) for x in d.grid.gen_costs[g].intercepts_usd_per_h],
                [float(x) for x in d.grid.gen_costs[g].slopes_usd_per_mwh],
            )
            for g in curved
        }
        m.gcost_line = pyo.Constraint(
            m.GCL,
            m.T,
            m.H,
            rule=lambda m, g, i, t, h: (
                m.gcost[g, t, h] >= lines[g][0][i] + lines[g][1][i] * m.p[g, t, h]
            ),
        )

    def cost(m: pyo.ConcreteModel, t: int, h: str) -> NumericValue | float:
        lin = pyo.quicksum(float(linear[g].slopes_usd_per_mwh[0]) * m.p[g, t, h] for g in linear)
        cur = pyo.quicksum(m.gcost[g, t, h] for g in curved) if curved else 0.0
        return lin + cur

    m.dispatch_cost = pyo.Expression(m.T, m.H, rule=cost)  # [USD/h]
    m.energy_cost_npv = pyo.Expression(
        expr=pyo.quicksum(
            float(d.horizon.op_weight[t]) * hours[h] * m.dispatch_cost[t, h]
            for t in m.T
            for h in m.H
        )
    )


def _isolated(d: ModelData, buses: list[int], demand_mw: float) -> type:
    """Skip the balance of buses with nothing to balance (``pyo.Constraint.Skip``, a class);
    a load nothing can serve is an error. Called for every such row before the balance is
    built, so the error is raised there, not inside a Pyomo rule (where Pyomo would log
    "Rule failed ..." at ERROR on the console before siting's message).

    Raises
    ------
    siting.core.errors.SitingError
        When the buses have load but no generator, campus or branch in service.
    """
    if abs(demand_mw) <= 1e-9:
        return pyo.Constraint.Skip
    from siting.core.errors import SitingError

    ids = [str(d.grid.network.bus_ids[b]) for b in buses]
    raise SitingError(
        f"bus(es) {ids[:5]} carry {demand_mw:,.1f} MW of load but no generator and no "
        "in-service branch reaches them (a branch taken out by grid.outages, or out of "
        "service in the grid layer, may have cut them off); expected every bus with load to "
        "be connected to generation"
    )


def _add_upgrades(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Upgrade decisions and their cost (see the module docstring)."""
    bu, su = d.grid.branch_upgrades, d.grid.bus_upgrades
    m.BU = pyo.Set(initialize=[int(i) for i in bu.index], ordered=True)
    m.SU = pyo.Set(initialize=[int(i) for i in su.index], ordered=True)
    first_b = bu["first_period"].astype(int).to_dict()
    first_s = su["first_period"].astype(int).to_dict()
    m.up_branch = pyo.Var(
        m.BU, m.T, domain=pyo.Binary, bounds=lambda _m, b, t: (0, 0 if t < first_b[b] else 1)
    )
    m.up_bus = pyo.Var(
        m.SU, m.T, domain=pyo.Binary, bounds=lambda _m, b, t: (0, 0 if t < first_s[b] else 1)
    )
    m.up_branch_once = pyo.Constraint(
        m.BU, rule=lambda m, b: pyo.quicksum(m.up_branch[b, t] for t in m.T) <= 1
    )
    m.up_bus_once = pyo.Constraint(
        m.SU, rule=lambda m, b: pyo.quicksum(m.up_bus[b, t] for t in m.T) <= 1
    )
    st = model_state(m)
    st.branch_added = {int(i): float(v) for i, v in zip(bu.index, bu["added_mw"], strict=True)}
    st.bus_added = {int(i): float(v) for i, v in zip(su.index, su["added_mw"], strict=True)}
    df = [float(v) for v in d.horizon.capex_df]
    cost_b = bu["cost_usd"].astype(float).to_dict()
    cost_s = su["cost_usd"].astype(float).to_dict()
    m.upgrade_cost_npv = pyo.Expression(
        expr=pyo.quicksum(df[t] * cost_b[b] * m.up_branch[b, t] for b in m.BU for t in m.T)
        + pyo.quicksum(df[t] * cost_s[b] * m.up_bus[b, t] for b in m.SU for t in m.T)
    )


def added_rating(m: pyo.ConcreteModel, br: int, t: int) -> NumericValue | float:
    """Rating added to branch ``br`` by its upgrade in service by period ``t`` [MW] (expr)."""
    add = model_state(m).branch_added.get(br)
    if add is None:
        return 0.0
    return add * pyo.quicksum(m.up_branch[br, u] for u in range(t + 1))


def added_headroom(m: pyo.ConcreteModel, b: int, t: int) -> NumericValue | float:
    """Headroom added at bus ``b`` by its substation upgrade by period ``t`` [MW] (expr)."""
    add = model_state(m).bus_added.get(b)
    if add is None:
        return 0.0
    return add * pyo.quicksum(m.up_bus[b, u] for u in range(t + 1))


def flow_expr(m: pyo.ConcreteModel, br: int, t: int, h: str) -> NumericValue:
    """The flow of branch ``br`` in (t, h) as a linear expression, either form [MW]."""
    if m.component("flow") is not None:
        return m.flow[br, t, h]
    return ptdf_flow_expr(m, br, t, h)


def _add_ptdf_network(
    m: pyo.ConcreteModel, d: ModelData, gens_at: dict, sites_at: dict, shed: Any, lf: dict
) -> None:
    """PTDF form: one balance per island; flows are linear in the injections.

    ``inj[b] = sum_{g at b} p - lf * load[b] - shunt[b] - sum_{s at b} draw[s]`` [MW];
    per island and (t, h): ``sum_b inj[b] = 0``. A branch's flow is
    ``f_l = sum_b PTDF[l, b] * (inj_b - Pbusinj_b) + Pfinj_l`` (phase shifts as injections,
    MATPOWER's convention), with PTDF for each island's reference bus. No line limit is
    in the model at first: :func:`siting.solve.lazy.solve_lazy` adds ``|f_l| <= rating_l``
    for the (branch, period, snapshot) triples a solution violates, and solves again.
    """

    net = d.grid.network
    nb = len(net.bus_ids)
    load = d.grid.base_load_mw.to_numpy()
    shunt = d.grid.shunt_mw
    island = np.asarray(net.island)
    m.ISL = pyo.Set(initialize=sorted(set(island.tolist())), ordered=True)
    members = {i: np.flatnonzero(island == i).tolist() for i in m.ISL}
    st = model_state(m)
    relief = relief_at(m)

    def balance(m: pyo.ConcreteModel, i: int, t: int, h: str) -> RelationalExpression | type:
        gen = pyo.quicksum(m.p[g, t, h] for b in members[i] for g in gens_at[b])
        draw = pyo.quicksum(grid_draw(m, s, t, h, relief) for b in members[i] for s in sites_at[b])
        unserved = pyo.quicksum(shed[b, t, h] for b in members[i]) if st.elastic else 0.0
        demand = float(sum(lf[h] * load[b, t] + shunt[b] for b in members[i]))
        if not st.elastic and not any(gens_at[b] or sites_at[b] for b in members[i]):
            return _isolated(d, members[i], demand)
        return gen + unserved - draw == demand

    if not st.elastic:  # a load nothing serves is said before Pyomo builds (and logs) a row
        for i in m.ISL:
            if not any(gens_at[b] or sites_at[b] for b in members[i]):
                for t in m.T:
                    for h in m.H:
                        demand = float(sum(lf[h] * load[b, t] + shunt[b] for b in members[i]))
                        _isolated(d, members[i], demand)
    m.island_balance = pyo.Constraint(m.ISL, m.T, m.H, rule=balance)
    ptdf = ptdf_of(net)  # each island's reference bus as the slack
    active_buses = [b for b in range(nb) if gens_at[b] or sites_at[b]]
    # a campus's draw as coefficients on its cooling capacities (see siting.model.power;
    # with the compute family also on their idle envelopes, at the opposite sign, in
    # injection_maps): peak snapshots: PUE_peak; the others: utilisation x PUE_annual
    u = d.horizon.utilisation
    pue_peak = d.cooling.perf["pue_peak"].astype(float).to_dict()
    pue_ann = d.cooling.perf["pue_annual"].astype(float).to_dict()
    draw_coefs = {
        s: [(k, pue_peak[s, k], u * pue_ann[s, k]) for k in st.techs_of[s]]
        for b in active_buses
        for s in sites_at[b]
    }
    # constant part of each bus's injection, per (t, h), and the phase-shift offsets
    const_inj = {
        (t, h): -(lf[h] * load[:, t] + shunt) - np.asarray(net.p_shift_bus_mw)
        for t in range(d.horizon.n_years)
        for h in d.horizon.snapshots.index
    }
    st.ptdf_tables = PtdfTables(
        ptdf=ptdf,
        pfinj=np.asarray(net.p_shift_branch_mw, dtype=float),
        gens_at=gens_at,
        sites_at=sites_at,
        active_buses=active_buses,
        draw_coefs=draw_coefs,
        peak_h={str(h): bool(v) for h, v in d.horizon.snapshots["peak"].items()},
        const_inj=const_inj,
    )
    m.lazy_limits = pyo.ConstraintList()
    st.monitored = set()


#: The PTDF of each network a model was built on (the grid baseline and the plan share one).
_PTDF_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: ... and the LODF of each network an N-1 family was built on.
_LODF_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: Held while either is computed: the grid baseline may be solved in a worker thread while
#: the campus model is built (:class:`siting.pipeline.GridBaseline`); the second to ask
#: waits for the first's matrix rather than computing its own.
_MATRIX_LOCK = threading.Lock()


def ptdf_of(net: DCNetwork) -> np.ndarray:
    """``siting.network.ptdf(net)`` (reference-bus slack), computed once per network and
    shared read-only by the models built on it (minutes and GB on a 10,000-bus grid)."""
    from siting.network import ptdf

    with _MATRIX_LOCK:
        out = _PTDF_CACHE.get(net)
        if out is None:
            out = ptdf(net)
            out.setflags(write=False)
            _PTDF_CACHE[net] = out
    return out


def ptdf_if_computed(net: DCNetwork) -> np.ndarray | None:
    """:func:`ptdf_of`'s PTDF of ``net`` if a model has already had it computed, else
    ``None`` (never computed here: the full matrix is minutes and GB on a large grid)."""
    with _MATRIX_LOCK:
        return _PTDF_CACHE.get(net)


def lodf_of(net: DCNetwork) -> np.ndarray:
    """``siting.network.lodf(net, ptdf)`` on :func:`ptdf_of`'s PTDF, computed once per
    network and shared read-only (the N-1 family of each model built on it, and the grid
    baseline's N-1 rows)."""
    from siting.network import lodf

    h = ptdf_of(net)
    with _MATRIX_LOCK:
        out = _LODF_CACHE.get(net)
        if out is None:
            out = lodf(net, h)
            out.setflags(write=False)
            _LODF_CACHE[net] = out
    return out


#: PTDF entries at or below this are left out of flow rows (HiGHS's small-matrix-value bound).
PTDF_DROP = 1e-9


def ptdf_flow_parts(
    m: pyo.ConcreteModel, br: int, t: int, h: str
) -> tuple[float, tuple, np.ndarray, np.ndarray]:
    """The flow of branch ``br`` in (t, h) as ``const + coefs @ pool[pos]`` (PTDF form) [MW].

    ``pool`` is the (t, h) pool of variables (dispatch ``p`` of every generator at an active
    bus, then the cooling capacities ``capk`` of every site and, with the compute family,
    their idle envelopes ``idle_mw`` (at the opposite sign: idle MW draw nothing), the
    draw's PUE coefficients multiplied in, then the relief variables of
    :func:`siting.model.power.register_relief`, with their sign), registered under ``key``
    with :func:`siting.model.rows.register_pool`, so a row can be handed to HiGHS as column
    positions (:class:`siting.model.rows.FlatRow`). The coefficients are one numpy gather of
    the PTDF row (no Python loop over buses).

    On a model with approximate rows (:class:`siting.solve.approx.RowApprox` as
    ``model_state(m).row_approx``), a branch not made exact drops the generators whose PTDF
    entry is at most the approximation's threshold, their part of the flow fixed at the anchor
    dispatch: ``const += sum_small PTDF[br, g] * p_anchor[g, t, h]``.

    Returns
    -------
    (const, key, pos, coefs)
    """

    mp = injection_maps(m)
    st = model_state(m)
    pt = st.ptdf_form
    row = pt.ptdf[br]
    const = float(row @ pt.const_inj[t, h]) + float(pt.pfinj[br])
    key = _pool(m, mp, t, h)
    # HiGHS drops matrix entries of 1e-9 and below (with a warning): leave them out here,
    # where they would only cost time (over a million of them on a 9,241-bus case)
    g = row[mp["gen_bus"]]
    drop = PTDF_DROP
    approx = st.row_approx
    if approx is not None and br not in approx.exact:
        # approximate rows (siting.solve.approx): generators the branch hardly feels
        # are held at their anchor dispatch, their part of the flow a constant
        drop = approx.threshold
        small = np.abs(g) <= drop
        const += float(g[small] @ approx.anchor[t, h][small])
    keep_g = np.flatnonzero(np.abs(g) > drop)
    draw = mp["coef_peak"] if pt.peak_h[h] else mp["coef_typ"]
    c = -row[mp["cap_bus"]] * draw  # (a campus draws: PTDF x PUE, utilisation)
    keep_c = np.flatnonzero(np.abs(c) > PTDF_DROP)
    r = row[mp["relief_bus"]] * mp["relief_coef"]  # (relief lowers the draw)
    keep_r = np.flatnonzero(np.abs(r) > PTDF_DROP)
    pos = np.concatenate([keep_g, len(g) + keep_c, len(g) + len(c) + keep_r])
    coefs = np.concatenate([g[keep_g], c[keep_c], r[keep_r]])
    return const, key, pos, coefs


def ptdf_flow_expr(m: pyo.ConcreteModel, br: int, t: int, h: str) -> LinearExpression:
    """The flow of branch ``br`` in (t, h) as one flat ``LinearExpression`` (PTDF form) [MW]
    (:func:`ptdf_flow_parts`): Pyomo hands it over without walking nested draw sums."""
    from pyomo.core.expr.numeric_expr import LinearExpression

    const, key, pos, coefs = ptdf_flow_parts(m, br, t, h)
    pool = model_state(m).flat_pools[key]
    return LinearExpression(
        constant=const, linear_coefs=coefs.tolist(), linear_vars=pool[pos].tolist()
    )


def post_outage_flow_expr(
    m: pyo.ConcreteModel, br: int, k: int, lodf_bk: float, t: int, h: str
) -> NumericValue:
    """The flow of branch ``br`` after the outage of branch ``k`` in (t, h),
    ``f_br + LODF[br, k] f_k``, as a linear expression, either form [MW].

    In the PTDF form the two flows share one variable pool, so their coefficients are
    summed here, with numpy, and the sums that cancel to rounding noise (at or below
    :data:`PTDF_DROP`, which HiGHS would drop with a warning) left out.
    """
    from pyomo.core.expr.numeric_expr import LinearExpression

    if m.component("flow") is not None:
        return m.flow[br, t, h] + lodf_bk * m.flow[k, t, h]
    c1, key, pos1, coefs1 = ptdf_flow_parts(m, br, t, h)
    c2, key2, pos2, coefs2 = ptdf_flow_parts(m, k, t, h)
    assert key == key2  # one pool per (t, h)
    pos, inv = np.unique(np.concatenate([pos1, pos2]), return_inverse=True)
    coefs = np.zeros(len(pos))
    np.add.at(coefs, inv, np.concatenate([coefs1, lodf_bk * coefs2]))
    keep = np.abs(coefs) > PTDF_DROP
    pool = model_state(m).flat_pools[key]
    return LinearExpression(
        constant=c1 + lodf_bk * c2,
        linear_coefs=coefs[keep].tolist(),
        linear_vars=pool[pos[keep]].tolist(),
    )


def _pool(m: pyo.ConcreteModel, mp: dict, t: int, h: str) -> tuple:
    """Register (once) the variable pool of (t, h): dispatch (``mp['gens']`` order), then
    the draw's variables, cooling capacities and idle envelopes (``mp['caps']`` order), then
    relief (``mp['relief']`` order); return its key."""
    from siting.model.rows import register_pool

    key = ("ptdf", t, h)
    if key not in model_state(m).flat_pools:
        draw_var = {name: m.component(name) for name in ("capk", "idle_mw")}
        pool = np.empty(len(mp["gens"]) + len(mp["caps"]) + len(mp["relief"]), dtype=object)
        pool[:] = (
            [m.p[g, t, h] for g in mp["gens"]]
            + [draw_var[name][s, k, t] for name, s, k in mp["caps"]]
            + [m.component(name)[s, t, h] for name, s in mp["relief"]]
        )
        register_pool(m, key, pool)
    return key


def injection_maps(m: pyo.ConcreteModel) -> dict:
    """Where each dispatch, draw (cooling capacity ``capk`` and, with the compute family,
    idle envelope ``idle_mw``, keyed ``(component name, site, technology)`` in ``caps``,
    with the draw's coefficients ``coef_peak``, ``coef_typ`` signed) and relief variable
    injects (cached in the model's state, :attr:`siting.model.state.ModelState.inj_maps`)."""
    st = model_state(m)
    maps = st.inj_maps
    if maps is not None:
        return maps
    pt = st.ptdf_form
    gens = [(g, b) for b in pt.active_buses for g in pt.gens_at[b]]
    # the draw's variables: each cooling capacity ``capk`` and, with the compute family, its
    # idle envelope ``idle_mw`` at the opposite sign (idle MW draw nothing, siting.model.power)
    parts = [("capk", 1.0)] + ([("idle_mw", -1.0)] if m.component("idle_mw") is not None else [])
    caps = [
        (name, s, k, b, sign * pue_peak, sign * typ)
        for b in pt.active_buses
        for s in pt.sites_at[b]
        for k, pue_peak, typ in pt.draw_coefs[s]
        for name, sign in parts
    ]
    bus_of = {s: b for b in pt.active_buses for s in pt.sites_at[b]}
    relief = [(r.name, s, bus_of[s], r.coef) for r in st.relief for s in r.sites]
    maps = {
        "relief": [(name, s) for name, s, _, _ in relief],
        "relief_bus": np.array([b for _, _, b, _ in relief], dtype=np.int64),
        "relief_coef": np.array([c for *_, c in relief], dtype=float),
        "gens": [g for g, _ in gens],
        "gen_bus": np.array([b for _, b in gens], dtype=np.int64),
        "caps": [(name, s, k) for name, s, k, *_ in caps],
        "cap_bus": np.array([c[3] for c in caps], dtype=np.int64),
        "coef_peak": np.array([c[4] for c in caps], dtype=float),
        "coef_typ": np.array([c[5] for c in caps], dtype=float),
    }
    st.inj_maps = maps
    return maps
