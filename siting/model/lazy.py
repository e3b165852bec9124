"""Lazy line limits for the PTDF form: solve, find violated limits with numpy, add, repeat.

The PTDF form (``grid.formulation: ptdf``) starts with no line limit at all. Each round
solves the model, recomputes every branch flow of every (period, snapshot) from the
solution's nodal injections with the PTDF matrix (numpy, one matrix product per
snapshot), adds ``-rating <= f <= rating`` for the triples that exceed their rating, and
solves again, until no limit is violated. Rounds run first on the LP relaxation (cheap:
most binding limits show up there) and then on the MIP, which confirms them; the MIP's
last solution violates no limit, so it is optimal for the full model (the limits left out
are not binding), within the MIP gap.

DESIGN.md measured the idea: on a 1,354-bus, 2,000-site case only 1 to 6 of 1,496 monitored
lines bind, and an LP-first loop was 1.6x faster than the full model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo

from siting.model.data import ModelData
from siting.solve import SolveResult

#: A flow counts as violating its limit above ``rating * (1 + REL) + ABS`` [MW].
TOL_REL = 1e-6
TOL_ABS_MW = 1e-4


@dataclass
class LazyInfo:
    """What the lazy loop did: rounds, limits added, time per phase."""

    lp_rounds: int = 0
    mip_rounds: int = 0
    limits_added: int = 0
    monitored: list[tuple[str, int, str]] = field(default_factory=list)
    time_s: float = 0.0


def _value(e) -> float:
    v = pyo.value(e, exception=False)
    return 0.0 if v is None else float(v)


def flows_numpy(m: pyo.ConcreteModel, d: ModelData) -> dict[tuple[int, str], np.ndarray]:
    """Branch flows [MW] per (period, snapshot) from the loaded solution (PTDF form)."""
    nb = len(d.net.bus_ids)
    out = {}
    for t in range(d.n_years):
        for h in d.snapshots.index:
            inj = np.array(m._const_inj[t, h], dtype=float, copy=True)
            var = np.zeros(nb)
            for b in m._active_buses:
                var[b] = sum(_value(m.p[g, t, h]) for g in m._gens_at[b]) - sum(
                    _value(m.draw[s, t, h]) for s in m._sites_at[b]
                )
            out[t, h] = m._ptdf @ (inj + var) + m._pfinj
    return out


def _violations(m, d: ModelData) -> list[tuple[int, int, str]]:
    rating = d.net.rating_mw
    over_slack = getattr(m, "_overload", None)
    found = []
    for (t, h), f in flows_numpy(m, d).items():
        lim = rating * (1 + TOL_REL) + TOL_ABS_MW
        if m._elastic and over_slack is not None:
            extra = np.zeros(len(f))
            for br in np.flatnonzero(np.isfinite(rating)):
                if (br, t, h) in over_slack:
                    extra[br] = _value(over_slack[br, t, h])
            lim = lim + extra
        bad = np.flatnonzero(np.abs(f) > lim)
        found.extend((int(br), t, h) for br in bad if (int(br), t, h) not in m._monitored)
    return found


def _add_limits(m, d: ModelData, triples) -> None:
    from siting.model.grid import ptdf_flow_expr

    rating = d.net.rating_mw
    over = getattr(m, "_overload", None)
    for br, t, h in triples:
        f = ptdf_flow_expr(m, br, t, h)
        slack = over[br, t, h] if (m._elastic and over is not None) else 0.0
        m.lazy_limits.add(f <= float(rating[br]) + slack)
        m.lazy_limits.add(-f <= float(rating[br]) + slack)
        m._monitored.add((br, t, h))


def _relax(m) -> list:
    """Make every integer variable continuous within its bounds; return how to undo it."""
    saved = []
    for v in m.component_data_objects(pyo.Var):
        if v.is_integer() and not v.fixed:
            saved.append((v, v.domain, v.lb, v.ub))
            lb, ub = v.lb, v.ub
            v.domain = pyo.Reals
            v.setlb(lb)
            v.setub(ub)
    return saved


def _restore(saved) -> None:
    for v, dom, lb, ub in saved:
        v.domain = dom
        v.setlb(lb)
        v.setub(ub)


def solve_lazy(
    m: pyo.ConcreteModel,
    d: ModelData,
    solve_fn,
    *,
    lp_first: bool = True,
    max_rounds: int = 100,
) -> tuple[SolveResult, LazyInfo]:
    """Solve a PTDF-form model, adding violated line limits until none is violated.

    Parameters
    ----------
    m, d
        The model (built with ``grid_formulation == "ptdf"``) and its data.
    solve_fn
        ``solve_fn(m) -> SolveResult`` (time limit, gap, threads bound in).
    lp_first
        Find limits on the LP relaxation before the MIP rounds.
    max_rounds
        Most rounds per phase.

    Returns
    -------
    (SolveResult, LazyInfo)
        The last solve's result (with its time being the sum over rounds) and the loop's
        figures.
    """
    info = LazyInfo()
    t0 = time.perf_counter()
    if not d.line_limits or not hasattr(m, "lazy_limits"):
        r = solve_fn(m)
        info.time_s = time.perf_counter() - t0
        return r, info
    total_solver_s = 0.0
    if lp_first:
        saved = _relax(m)
        try:
            for _ in range(max_rounds):
                r = solve_fn(m)
                total_solver_s += r.time_s
                info.lp_rounds += 1
                if not r.has_solution:
                    break
                viol = _violations(m, d)
                if not viol:
                    break
                _add_limits(m, d, viol)
                info.limits_added += len(viol)
        finally:
            _restore(saved)
    r = None
    for _ in range(max_rounds):
        r = solve_fn(m)
        total_solver_s += r.time_s
        info.mip_rounds += 1
        if not r.has_solution:
            break
        viol = _violations(m, d)
        if not viol:
            break
        _add_limits(m, d, viol)
        info.limits_added += len(viol)
    assert r is not None
    r.time_s = total_solver_s
    info.monitored = sorted((str(d.net.branch_ids[br]), d.years[t], h) for br, t, h in m._monitored)
    info.time_s = time.perf_counter() - t0
    return r, info
