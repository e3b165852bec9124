"""Lazy line limits for the PTDF form: solve, find violated limits with numpy, add, repeat.

The PTDF form (``grid.formulation: ptdf``) starts with no line limit at all. Each round
solves the model, recomputes every branch flow of every (period, snapshot) from the
solution's nodal injections with the PTDF matrix (numpy, one matrix product per
snapshot), adds ``-rating <= f <= rating`` for the triples that exceed their rating, and
solves again, until no limit is violated. Rounds run first on the LP relaxation (cheap:
most binding limits show up there) and then on the MIP, which confirms them; the MIP's
last solution violates no limit, so it is optimal for the full model (the limits left out
are not binding), within the MIP gap.

N-1 security (``grid.n_minus_1``) is added the same way, in either formulation: each round
also computes, for every checked outage k and (period, snapshot), the post-contingency flows
``f + LODF[:, k] * f[k]`` (one matrix product) and adds ``|f_l + LODF[l,k] f_k| <=
emergency_l + added_l U[l,t]`` for the worst violated outages of each (l, t, h)
(:data:`N1_PER_ROUND`). With ``outages: k`` the checked set is the k most loaded branches
of each round's solution, growing across rounds.

The project's design notes measured the idea before it was built: on a 1,354-bus,
2,000-site case only 1 to 6 of 1,496 monitored lines bind, and an LP-first loop was 1.6x
faster than the full model.
"""

from __future__ import annotations

import math
import operator
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyomo.environ as pyo

from siting.core.clock import Clock
from siting.model.data import ModelData, checked_outages
from siting.model.evaluate import value_of
from siting.model.grid import injection_maps
from siting.model.state import model_state
from siting.network import kept_columns, post_outage_flows
from siting.solve import told
from siting.solve.highs import SolveResult, has_free_integers, set_mip_start

#: A flow counts as violating its limit above ``rating * (1 + REL) + ABS`` [MW].
TOL_REL = 1e-6
TOL_ABS_MW = 1e-4
#: Most outages whose post-contingency limit on one (branch, period, snapshot) is added
#: per round (the worst ones).
N1_PER_ROUND = 2


@dataclass
class LazyInfo:
    """What the lazy loop did: rounds, limits added, time per phase."""

    lp_rounds: int = 0
    mip_rounds: int = 0
    limits_added: int = 0
    n1_added: int = 0
    n1_outages_checked: int = 0
    monitored: list[tuple[str, int, str]] = field(default_factory=list)
    n1_monitored: list[tuple[str, str, int, str]] = field(default_factory=list)
    time_s: float = 0.0
    #: MIP rounds offered the previous round's integer decisions as a start
    mip_starts: int = 0
    #: ... and how many of those HiGHS could complete into a feasible plan
    mip_starts_accepted: int = 0
    #: the status of an LP round that ended without a solution (the MIP rounds then find
    #: the remaining limits; slower, not wrong), else ""
    lp_failed: str = ""
    #: violated line limits left out by a nonzero budget (``row_nonzeros``)
    limits_skipped: int = 0
    #: limits the repair rounds of :func:`siting.solve.kernel.relax_and_repair` put into
    #: the MILP itself (the rest only in the dispatch)
    limits_in_milp: int = 0
    #: feasibility cuts (in the siting decisions alone) those repair rounds put into the MILP
    cuts_in_milp: int = 0


def _integer_values(m: pyo.ConcreteModel) -> list[tuple[object, float]]:
    """(variable, rounded value) of every free integer variable with a value.

    Variable families are integer or not as a whole in this model, so each family is
    judged by its first member and continuous ones are skipped without visiting them.
    """
    out = []
    for comp in m.component_objects(pyo.Var, active=True, descend_into=True):
        if comp.is_reference():  # its members are other families' (siting.model.sites)
            continue
        first = next(iter(comp.values()), None)
        if first is None or not first.is_integer():
            continue
        for v in comp.values():
            if v.is_integer() and not v.fixed and v.value is not None:
                out.append((v, float(round(v.value))))
    return out


def _value(e: object) -> float:
    """The value of a Pyomo expression or number (0 where it has none)."""
    v = value_of(e)
    return 0.0 if v is None else float(v)


def _has_integers(m: pyo.ConcreteModel) -> bool:
    """Whether ``m`` has a free integer variable."""
    return has_free_integers(m)


def _values(vs: list) -> np.ndarray:
    """Values of the variables ``vs`` (0 where a variable has none)."""
    return np.array([0.0 if v.value is None else v.value for v in vs], dtype=float)


_VALUE = operator.attrgetter("_value")


def bulk_values(vs: list) -> np.ndarray:
    """Values of the Pyomo variables ``vs`` read in one pass (``VarData``'s value slot;
    0 where a variable has none), as :func:`_values` reads them one by one."""
    out = np.array(list(map(_VALUE, vs)), dtype=float)  # (None: NaN)
    out[np.isnan(out)] = 0.0
    return out


def flow_variables(m: pyo.ConcreteModel, d: ModelData) -> dict[str, list]:
    """The variables the branch flows are computed from, in the order of the injection
    maps (:func:`siting.model.grid.injection_maps`), made once per model
    (``model_state(m).bulk_vars``): ``p`` the dispatch per (period, snapshot, generator),
    ``cap`` the draw's variables per (period, entry of the maps' ``caps``: the cooling
    capacities and, with the compute family, the idle envelopes), ``relief`` the relief per
    (period, snapshot, entry)."""
    st = model_state(m)
    out = st.bulk_vars.get("flows")
    if out is not None:
        return out
    mp = injection_maps(m)
    snaps = list(d.horizon.snapshots.index)
    years = range(d.horizon.n_years)
    draw = {name: m.component(name) for name in {name for name, _s, _k in mp["caps"]}}
    out = {
        "p": [m.p[g, t, h] for t in years for h in snaps for g in mp["gens"]],
        "cap": [draw[name][s, k, t] for t in years for name, s, k in mp["caps"]],
        "relief": [m.component(n)[s, t, h] for t in years for h in snaps for n, s in mp["relief"]],
    }
    st.bulk_vars["flows"] = out
    return out


#: The generators' buses' PTDF columns are kept per model (:func:`_flow_tables`) when they
#: are at most this share of the buses (else the whole PTDF is used, as is).
GEN_COLUMNS_MAX_SHARE = 0.5
#: A solution's other injections (campus draws, relief) go through the PTDF's columns at
#: their buses when they are at most this share of the buses (else the whole PTDF).
DRAW_COLUMNS_MAX_SHARE = 0.25


def _flow_tables(m: pyo.ConcreteModel, d: ModelData) -> dict[str, Any]:
    """What :func:`flows_numpy` keeps per model (``model_state(m).flow_tables``): ``keys``
    the (period, snapshot) pairs in order, ``base`` the flows of the constant injections and
    the phase shifts (n_branch x len(keys)) [MW], and, where the generators sit at few of
    the buses, ``gen_ptdf`` the PTDF's columns at their buses (n_branch x n_gen_bus)
    [MW/MW] (:func:`siting.network.kept_columns`, shared by the models on one PTDF), else
    the whole PTDF, with ``gen_slot`` each generator's column."""
    st = model_state(m)
    pt = st.ptdf_form
    got = st.flow_tables
    if got is not None and got["tables"] is pt:
        return got
    mp = injection_maps(m)
    snaps = list(d.horizon.snapshots.index)
    keys = [(t, h) for t in range(d.horizon.n_years) for h in snaps]
    nb = pt.ptdf.shape[1]
    const = np.column_stack([pt.const_inj[k] for k in keys]) if keys else np.zeros((nb, 0))
    gen_buses, gen_slot = np.unique(mp["gen_bus"], return_inverse=True)
    few = len(gen_buses) <= GEN_COLUMNS_MAX_SHARE * nb
    got = {
        "tables": pt,
        "keys": keys,
        "base": pt.ptdf @ const + pt.pfinj[:, None],
        # (else the whole PTDF, each generator at its bus's column)
        "gen_ptdf": kept_columns(d.grid.network, pt.ptdf, gen_buses) if few else pt.ptdf,
        "gen_slot": gen_slot.astype(np.int64) if few else mp["gen_bus"],
    }
    st.flow_tables = got
    return got


def flows_numpy(m: pyo.ConcreteModel, d: ModelData) -> dict[tuple[int, str], np.ndarray]:
    """Branch flows [MW] per (period, snapshot) from the loaded solution (PTDF form).

    ``PTDF @ injections`` split by what changes from one solution to the next: the flows of
    the constant injections (loads, shunts, phase shifts) are kept per model; the dispatch
    goes through the PTDF's columns at the generators' buses (kept per model: on
    case9241pegase 1,445 of 9,241 buses), and the campus draws and relief through the
    columns of the buses where they are not zero. So a lazy round reads a small part of a
    large grid's PTDF instead of all of it (about 0.15 s a round on case9241pegase). The
    variables' values are read in bulk (:func:`flow_variables`, :func:`bulk_values`).
    """
    nb = len(d.grid.network.bus_ids)
    mp = injection_maps(m)
    pt = model_state(m).ptdf_form
    tab = _flow_tables(m, d)
    snaps = list(d.horizon.snapshots.index)
    n_t, n_h = d.horizon.n_years, len(snaps)
    keys = tab["keys"]
    fv = flow_variables(m, d)
    pv_all = bulk_values(fv["p"]).reshape(n_t, n_h, len(mp["gens"]))
    cap_all = bulk_values(fv["cap"]).reshape(n_t, len(mp["caps"]))
    rv_all = bulk_values(fv["relief"]).reshape(n_t, n_h, len(mp["relief"]))
    gen_ptdf, gen_slot = tab["gen_ptdf"], tab["gen_slot"]
    n_gen_cols = gen_ptdf.shape[1]
    gen_inj = np.empty((n_gen_cols, len(keys)))
    other = np.empty((nb, len(keys)))
    for t in range(n_t):
        capv = cap_all[t]
        for i, h in enumerate(snaps):
            j = t * n_h + i
            draw = capv * (mp["coef_peak"] if pt.peak_h[h] else mp["coef_typ"])
            gen_inj[:, j] = np.bincount(gen_slot, pv_all[t, i], minlength=n_gen_cols)
            other[:, j] = np.bincount(
                mp["relief_bus"], rv_all[t, i] * mp["relief_coef"], minlength=nb
            ) - np.bincount(mp["cap_bus"], draw, minlength=nb)
    flows = tab["base"] + gen_ptdf @ gen_inj
    at = np.flatnonzero(np.any(other != 0.0, axis=1))
    if len(at) > DRAW_COLUMNS_MAX_SHARE * nb:
        flows += pt.ptdf @ other
    elif len(at):
        flows += pt.ptdf[:, at] @ other[at]
    return {key: flows[:, j] for j, key in enumerate(keys)}


def solution_flows(m: pyo.ConcreteModel, d: ModelData) -> dict[tuple[int, str], np.ndarray]:
    """Branch flows [MW] per (period, snapshot) of the loaded solution, either form."""
    if m.component("flow") is None:
        return flows_numpy(m, d)
    nl = len(d.grid.network.branch_ids)
    return {
        (t, h): np.array([_value(m.flow[br, t, h]) for br in range(nl)])
        for t in range(d.horizon.n_years)
        for h in d.horizon.snapshots.index
    }


def added_rating_values(m: pyo.ConcreteModel, d: ModelData) -> np.ndarray:
    """Rating added by upgrades in service, per branch and period [MW] (solution values)."""
    out = np.zeros((len(d.grid.network.branch_ids), d.horizon.n_years))
    for br, add in model_state(m).branch_added.items():
        cum = np.cumsum([_value(m.up_branch[br, t]) for t in range(d.horizon.n_years)])
        out[br] = add * cum
    return out


def _slack_values(
    m: pyo.ConcreteModel, slack: pyo.Var | None, keys_br: np.ndarray, t: int, h: str, n: int
) -> np.ndarray:
    """Per branch (``n`` of them), the elastic slack's value at (``t``, ``h``) for the
    branches ``keys_br`` [MW]; zeros in the strict model."""
    extra = np.zeros(n)
    if not model_state(m).elastic or slack is None:
        return extra
    for br in keys_br:
        if (br, t, h) in slack:
            extra[br] = _value(slack[br, t, h])
    return extra


def _violations(
    m: pyo.ConcreteModel,
    d: ModelData,
    flows: dict[tuple[int, str], np.ndarray],
    added: np.ndarray,
    near: float | None = None,
) -> list[tuple[int, int, str]]:
    """Base-case limits a solution violates and the model does not have yet (PTDF form).

    ``near`` [fraction]: also the limits of the violated branches in every (period,
    snapshot) where they are loaded to at least this share of their rating (the same
    bottleneck binds again in other years and snapshots; adding them at once saves rounds).
    """
    rating = d.grid.network.rating_mw
    ms = model_state(m)
    over_slack = ms.overload
    limited = np.flatnonzero(np.isfinite(rating))
    found: list[tuple[int, int, str]] = []
    for (t, h), f in flows.items():
        lim = (rating + added[:, t]) * (1 + TOL_REL) + TOL_ABS_MW
        lim = lim + _slack_values(m, over_slack, limited, t, h, len(f))
        bad = np.flatnonzero(np.abs(f) > lim)
        found.extend((int(br), t, h) for br in bad if (int(br), t, h) not in ms.monitored)
    if near is None or not found:
        return found
    brs = np.array(sorted({br for br, _, _ in found}), dtype=np.int64)
    more = set(found)
    for (t, h), f in flows.items():
        loaded = np.abs(f[brs]) >= near * (rating[brs] + added[brs, t])
        more.update((int(br), t, h) for br in brs[loaded] if (int(br), t, h) not in ms.monitored)
    return sorted(more, key=lambda x: (x[1], str(x[2]), x[0]))


def _n1_violations(
    m: pyo.ConcreteModel, d: ModelData, flows: dict[tuple[int, str], np.ndarray], added: np.ndarray
) -> list[tuple[int, int, int, str]]:
    """(monitored branch, outage, period, snapshot) post-contingency limits violated."""
    ms = model_state(m)
    ks = checked_outages(d, flows, ms.n1_outages_seen)
    ms.n1_checked = len(ks)
    if not len(ks):
        return []
    n1 = d.grid.n1
    assert n1 is not None  # (checked_outages: the N-1 family is built only with settings)
    lodf = ms.n1_lodf
    em = d.grid.rating_emergency_mw
    limited = np.flatnonzero(np.isfinite(em))
    slack = ms.n1_over
    found: list[tuple[int, int, int, str]] = []
    for (t, h), f in flows.items():
        if not n1.checks(t, h):
            continue
        post = post_outage_flows(f, lodf, ks)  # (n_branch, len(ks)); tripped: 0
        lim = (em + added[:, t]) * (1 + TOL_REL) + TOL_ABS_MW
        lim = lim + _slack_values(m, slack, limited, t, h, len(f))
        excess = np.abs(post) - lim[:, None]
        for br in np.flatnonzero((excess > 0).any(axis=1)):
            order = np.argsort(-excess[br])[:N1_PER_ROUND]
            for j in order:
                if excess[br, j] > 0 and (int(br), int(ks[j]), t, h) not in ms.n1_monitored:
                    found.append((int(br), int(ks[j]), t, h))
    return found


def _constant(lhs: object, rhs: object) -> bool:
    """Whether a limit ``|lhs| <= rhs`` involves no variable (no decision can change it)."""
    from pyomo.core.expr.numvalue import is_potentially_variable

    return not (is_potentially_variable(lhs) or is_potentially_variable(rhs))


def _no_decision_fixes(
    m: pyo.ConcreteModel,
    d: ModelData,
    br: int,
    t: int,
    h: str,
    flow: object,
    rhs: object,
    outage: int | None = None,
) -> None:
    """Record a violated limit no decision can change: the model is infeasible as it is.

    (A branch whose flow does not depend on any generator or campus, e.g. one feeding a
    load-only part of the network, carrying more than its rating.) Pyomo rejects such a
    constraint ("trivial Boolean"), so it is not added; :func:`solve_lazy` reports the
    model infeasible and the elastic re-solve names the branch.
    """
    what = f"branch {d.grid.network.branch_ids[br]}"
    if outage is not None:
        what += f" after the outage of branch {d.grid.network.branch_ids[outage]}"
    model_state(m).lazy_impossible.append(
        f"{what}, year {d.horizon.years[t]}, snapshot {h}: {abs(pyo.value(flow)):,.1f} MW whatever "
        f"the plan does, above its {pyo.value(rhs):,.1f} MW"
    )


def _add_limits(m: pyo.ConcreteModel, d: ModelData, triples: list[tuple[int, int, str]]) -> None:
    """Add ``|flow| <= rating (+ upgrade) (+ slack)`` for each (branch, period, snapshot).

    Each row is declared in Pyomo (``m.lazy_limits``, so the model is whole: written LP
    files, other solvers) and registered as a :class:`siting.model.rows.FlatRow`, which the
    HiGHS path hands over as column positions and coefficients in one ``addRows`` instead
    of Pyomo walking each row's terms (tens of thousands per row on a national grid).
    """
    from siting.model.grid import added_rating, ptdf_flow_parts
    from siting.model.rows import DeferredLinearExpression, FlatRow, register_flat_row

    rating = d.grid.network.rating_mw
    ms = model_state(m)
    over = ms.overload
    added = []
    for br, t, h in triples:
        const, key, pos, coefs = ptdf_flow_parts(m, br, t, h)
        pool = ms.flat_pools[key]
        f = DeferredLinearExpression.of(const, coefs, pool[pos])  # (terms made when read)
        slack = over[br, t, h] if (ms.elastic and over is not None) else 0.0
        rhs = float(rating[br]) + added_rating(m, br, t) + slack
        if _constant(f, rhs):
            _no_decision_fixes(m, d, br, t, h, f, rhs)
            continue
        # rhs's variable terms (upgrade in service, elastic slack) move to the left
        extra_vars, extra_coefs = [], []
        add = ms.branch_added.get(br)
        if add is not None:
            extra_vars += [m.up_branch[br, u] for u in range(t + 1)]
            extra_coefs += [-float(add)] * (t + 1)
        if not isinstance(slack, float):
            extra_vars.append(slack)
            extra_coefs.append(-1.0)
        for sign in (1.0, -1.0):
            con = m.lazy_limits.add(f <= rhs if sign > 0 else -f <= rhs)
            added.append(con)
            ms.limit_key[con] = (br, t, h)
            register_flat_row(
                m,
                con,
                FlatRow(
                    pool=key,
                    pos=pos,
                    coefs=sign * coefs,
                    extra_vars=extra_vars,
                    extra_coefs=extra_coefs,
                    lb=-np.inf,
                    ub=float(rating[br]) - sign * const,
                ),
            )
        ms.monitored.add((br, t, h))
    told.rows_added(m, added)


def _add_n1(m: pyo.ConcreteModel, d: ModelData, quads: list[tuple[int, int, int, str]]) -> None:
    """Add ``|f_l + LODF[l,k] f_k| <= emergency (+ upgrade) (+ slack)`` for each (monitored
    branch l, outage k, period, snapshot)."""
    from siting.model.grid import added_rating, post_outage_flow_expr

    em = d.grid.rating_emergency_mw
    ms = model_state(m)
    lodf = ms.n1_lodf
    slack = ms.n1_over
    for br, k, t, h in quads:
        post = post_outage_flow_expr(m, br, k, float(lodf[br, k]), t, h)
        s = slack[br, t, h] if (ms.elastic and slack is not None) else 0.0
        rhs = float(em[br]) + added_rating(m, br, t) + s
        if _constant(post, rhs):
            _no_decision_fixes(m, d, br, t, h, post, rhs, outage=k)
            continue
        told.rows_added(m, [m.n1_limits.add(post <= rhs), m.n1_limits.add(-post <= rhs)])
        ms.n1_monitored.add((br, k, t, h))


def needs_lazy(m: pyo.ConcreteModel, d: ModelData) -> bool:
    """Whether the model has lazily added limits (PTDF line limits or N-1)."""
    return d.grid.enabled and (
        m.component("lazy_limits") is not None or m.component("n1_limits") is not None
    )


def _round(
    m: pyo.ConcreteModel,
    d: ModelData,
    info: LazyInfo,
    row_nonzeros: float | None = None,
    near: float | None = None,
) -> bool:
    """Find and add violated limits; True when some were added.

    ``row_nonzeros``: add no line limit once their rows would hold more nonzeros than this
    (PTDF rows over every dispatch and campus variable; ``info.limits_skipped`` counts
    what was left out). ``near``: see :func:`_violations`.
    """
    flows = solution_flows(m, d)
    added = added_rating_values(m, d)
    n_new = 0
    if m.component("lazy_limits") is not None and d.grid.line_limits:
        viol = _violations(m, d, flows, added, near)
        mp = injection_maps(m)
        per_row = len(mp["gens"]) + len(mp["caps"]) + len(mp["relief"])
        if row_nonzeros is not None and (info.limits_added + len(viol)) * 2 * per_row > (
            row_nonzeros
        ):
            info.limits_skipped = len(viol)
            viol = []
        _add_limits(m, d, viol)
        info.limits_added += len(viol)
        n_new += len(viol)
    if m.component("n1_limits") is not None:
        quads = _n1_violations(m, d, flows, added)
        _add_n1(m, d, quads)
        info.n1_added += len(quads)
        info.n1_outages_checked = max(info.n1_outages_checked, model_state(m).n1_checked)
        n_new += len(quads)
    return n_new > 0


def _impossible(
    m: pyo.ConcreteModel, r: SolveResult, solver_s: float, info: LazyInfo, t0: float
) -> tuple[SolveResult, LazyInfo]:
    """The result of a model a limit makes infeasible whatever the decisions."""
    import dataclasses

    lines = model_state(m).lazy_impossible
    out = dataclasses.replace(
        r,
        status="infeasible",
        termination="a line limit no decision can meet",
        objective=None,
        bound=None,
        gap=None,
        time_s=solver_s,
        notes=[*r.notes, *(f"infeasible: {x}" for x in lines[:10])],
    )
    info.time_s = time.perf_counter() - t0
    return out, info


def _out_of_time(
    r: SolveResult, bound: float, solver_s: float, info: LazyInfo, t0: float, phase: str
) -> tuple[SolveResult, LazyInfo]:
    """The result when the run's deadline passed while the last round's solution still
    broke limits: no plan (one that breaks a limit is none), with the best bound proved."""
    import dataclasses

    n = info.limits_added + info.n1_added
    out = dataclasses.replace(
        r,
        status="no_solution",
        termination="maxTimeLimit",
        objective=None,
        bound=bound if math.isfinite(bound) else None,
        gap=None,
        time_s=solver_s,
        notes=[
            *r.notes,
            f"the time limit came after {info.lp_rounds} LP and {info.mip_rounds} MIP "
            f"round(s) of the lazy limits ({n} added); the last {phase} round's solution "
            "still broke some of them, so no plan met every limit",
        ],
    )
    info.time_s = time.perf_counter() - t0
    return out, info


def _relax(m: pyo.ConcreteModel) -> list:
    """Make every integer variable continuous within its bounds; return how to undo it
    (and tell the HiGHS adapter, :mod:`siting.solve.told`). Whether a domain is integer is
    asked once per domain object (a few serve every variable)."""
    saved = []
    integral: dict[int, bool] = {}  # id(domain) -> integer?
    reals = pyo.Reals
    for v in m.component_data_objects(pyo.Var):
        dom = v._domain
        isint = integral.get(id(dom))
        if isint is None:
            isint = integral[id(dom)] = bool(v.is_integer())
        if isint and not v._fixed:
            lb, ub = v.lb, v.ub
            saved.append((v, dom, lb, ub))
            # the domain slot set directly: what Pyomo's domain setter stores for a set is
            # the set itself (its initializer, run per variable, was a third of the time)
            v._domain = reals
            v.setlb(lb)
            v.setub(ub)
    told.variables_changed(m, [v for v, *_ in saved])
    return saved


def _restore(saved: list) -> None:
    """Undo :func:`_relax` (``saved``: its list; the HiGHS adapter is told)."""
    for v, dom, lb, ub in saved:
        v._domain = dom  # (the domain object it had, as :func:`_relax` found it)
        v.setlb(lb)
        v.setub(ub)
    if saved:
        told.variables_changed(saved[0][0].model(), [v for v, *_ in saved])


def solve_lazy(
    m: pyo.ConcreteModel,
    d: ModelData,
    solve_fn: Callable[[pyo.ConcreteModel], SolveResult],
    *,
    lp_first: bool = True,
    max_rounds: int = 100,
    warm_start: bool = True,
    row_nonzeros: float | None = None,
    clock: Clock | None = None,
    near: float | None = None,
) -> tuple[SolveResult, LazyInfo]:
    """Solve a PTDF-form model, adding violated line limits until none is violated.

    Parameters
    ----------
    m, d
        The model (built with ``d.grid.formulation == "ptdf"``) and its data.
    solve_fn
        ``solve_fn(m) -> SolveResult`` (time limit, gap, threads bound in).
    lp_first
        Find limits on the LP relaxation before the MIP rounds.
    max_rounds
        Most rounds per phase.
    warm_start
        Offer each MIP round the integer decisions of the round before as a MIP start
        (:func:`siting.solve.highs.set_mip_start`).
    row_nonzeros
        Stop adding line limits once their rows would hold more nonzeros than this (the
        result is then a relaxation: some limits may be violated); None: no budget.
    clock
        The run's clock (:class:`siting.core.clock.Clock`): every round shares its deadline
        (``solve_fn`` hands each solve the time left) and no round starts after it. When
        the deadline comes before a plan meets every limit, the result has no plan
        (``no_solution``, ``maxTimeLimit``) and the best bound the rounds proved: a plan
        that breaks a limit is no plan. The rounds are named on the clock (progress).
    near
        With a violated branch, also add its limits where it is loaded to this share of
        its rating [fraction] (:func:`_violations`); None: only the violated ones.

    Returns
    -------
    (SolveResult, LazyInfo)
        The last solve's result (with its time being the sum over rounds) and the loop's
        figures.
    """
    info = LazyInfo()
    t0 = time.perf_counter()
    if not needs_lazy(m, d):
        r = solve_fn(m)
        info.time_s = time.perf_counter() - t0
        return r, info
    obj = next(m.component_data_objects(pyo.Objective, active=True), None)
    sign = -1.0 if obj is not None and obj.sense == pyo.maximize else 1.0
    st = _Loop(solve_fn, max_rounds, warm_start, row_nonzeros, clock, near, sign, info, t0)
    if lp_first and _has_integers(m):  # (an LP has no relaxation to find limits on first)
        _lp_rounds(m, d, st)
        if st.early is not None:
            return st.early
    phase = "MIP" if _has_integers(m) else "LP"  # (a relaxed model's rounds are LP rounds)
    r = _rounds(m, d, st, phase)
    if st.early is not None:
        return st.early
    return _loop_answer(m, d, r, st, phase)


@dataclass
class _Loop:
    """The settings of :func:`solve_lazy` (see there) and what its rounds carry.

    Attributes
    ----------
    sign
        -1 when the objective is maximised, else 1.
    info
        The loop's figures.
    t0
        ``time.perf_counter()`` at the loop's start [s].
    solver_s
        Solver time over the rounds [s].
    best_bound
        The best lower bound any round proved, in the minimising direction (``sign *
        bound``; each round's model is a relaxation of the model with every limit, so each
        bound holds for it) [objective units, USD].
    settled
        Whether a round's solution met every limit (or the solver gave none).
    early
        The loop's answer when it stopped early (a limit no decision meets, the deadline).
    """

    solve_fn: Callable[[pyo.ConcreteModel], SolveResult]
    max_rounds: int
    warm_start: bool
    row_nonzeros: float | None
    clock: Clock | None
    near: float | None
    sign: float
    info: LazyInfo
    t0: float
    solver_s: float = 0.0
    best_bound: float = -math.inf
    settled: bool = False
    early: tuple[SolveResult, LazyInfo] | None = None

    def say(self, name: str) -> None:
        """Name the round on the clock (progress)."""
        if self.clock is not None:
            self.clock.at_round(name)


def _stopped_early(
    m: pyo.ConcreteModel, r: SolveResult, st: _Loop, phase: str
) -> tuple[SolveResult, LazyInfo] | None:
    """The loop's answer when, after a round that added limits, one of them no decision
    can meet or the deadline has passed; else None."""
    if model_state(m).lazy_impossible:
        return _impossible(m, r, st.solver_s, st.info, st.t0)
    if st.clock is not None and st.clock.expired():
        return _out_of_time(r, st.sign * st.best_bound, st.solver_s, st.info, st.t0, phase)
    return None


def _lp_rounds(m: pyo.ConcreteModel, d: ModelData, st: _Loop) -> None:
    """The rounds on the LP relaxation of ``m`` (its integers made continuous meanwhile),
    until no limit is added or the solver gives no solution (``st.early``: an early stop)."""
    saved = _relax(m)
    try:
        for k in range(st.max_rounds):
            st.say(f"LP round {k + 1}")
            r = st.solve_fn(m)
            st.solver_s += r.time_s
            st.info.lp_rounds += 1
            if not r.has_solution:
                st.info.lp_failed = f"{r.status} ({r.termination})"
                break
            if r.status == "optimal" and r.objective is not None:
                st.best_bound = max(st.best_bound, st.sign * r.objective)
            if not _round(m, d, st.info, st.row_nonzeros, st.near):
                break
            st.early = _stopped_early(m, r, st, "LP")
            if st.early is not None:
                break
    finally:
        _restore(saved)


def _rounds(m: pyo.ConcreteModel, d: ModelData, st: _Loop, phase: str) -> SolveResult:
    """The rounds on ``m`` itself (``phase``: ``MIP``, or ``LP`` for a model without free
    integers), each offered the last round's integer decisions as a MIP start; returns the
    last round's result (``st.early``: an early stop)."""
    r = None
    for k in range(st.max_rounds):
        st.say(f"{phase} round {k + 1}")
        r = st.solve_fn(m)
        st.solver_s += r.time_s
        st.info.mip_rounds += 1
        if r.mip_start == "accepted":
            st.info.mip_starts_accepted += 1
        if r.bound is not None:
            st.best_bound = max(st.best_bound, st.sign * r.bound)
        if phase == "LP" and r.status == "optimal" and r.objective is not None:
            st.best_bound = max(st.best_bound, st.sign * r.objective)  # (a relaxation's optimum)
        if not r.has_solution:
            st.settled = True
            break
        start = _integer_values(m) if st.warm_start else []
        if not _round(m, d, st.info, st.row_nonzeros, st.near):
            st.settled = True
            break
        st.early = _stopped_early(m, r, st, phase)
        if st.early is not None:
            break
        if start:
            # the siting decisions of this round, offered to the next: HiGHS re-solves the
            # dispatch with the new limits; where that is feasible it starts from a plan
            set_mip_start(m, start)
            st.info.mip_starts += 1
    assert r is not None
    return r


def _loop_answer(
    m: pyo.ConcreteModel, d: ModelData, r: SolveResult, st: _Loop, phase: str
) -> tuple[SolveResult, LazyInfo]:
    """The last round's result ``r`` as the loop's (its time the sum over the rounds; no
    plan when the rounds ran out before the limits settled), and the figures."""
    info = st.info
    r.time_s = st.solver_s
    if not st.settled:
        # out of rounds, and the last solution broke limits the model had not held yet: a
        # plan that breaks a limit is no plan (its bound still holds: fewer rows)
        r = replace(
            r,
            status="no_solution",
            termination="maxRounds",
            objective=None,
            gap=None,
            notes=[
                *r.notes,
                f"the lazy loop stopped after {st.max_rounds} {phase} rounds with line limits "
                "still violated by its last solution",
            ],
        )
    if not r.has_solution and r.termination == "maxTimeLimit" and math.isfinite(st.best_bound):
        r.bound = st.sign * st.best_bound  # (the best of the rounds', this one's included)
    ids = d.grid.network.branch_ids
    info.monitored = sorted(
        (str(ids[br]), d.horizon.years[t], h) for br, t, h in model_state(m).monitored
    )
    info.n1_monitored = sorted(
        (str(ids[br]), str(ids[k]), d.horizon.years[t], h)
        for br, k, t, h in model_state(m).n1_monitored
    )
    info.time_s = time.perf_counter() - st.t0
    return r, info
