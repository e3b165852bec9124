"""Candidate kernel: solve the MILP on the sites its LP relaxation wants, with a proven bound.

On a national instance (10,000 candidate sites) the MILP has hundreds of thousands of
columns, and each lazy PTDF line limit a term for every campus on the network. A plan
opens a few dozen sites. The kernel method (Angelelli, Mansini and Speranza's *kernel
search*, with a reduced-cost bound for what it leaves out) solves:

1. the LP relaxation of the whole model (HiGHS's interior point method, then crossover
   for a basis), with lazy line limits while their rows stay small
   (:data:`LP_ROW_NONZEROS`). Its objective ``z`` is a lower bound on every plan.
2. the MILP restricted to the *kernel*: every site the LP uses (any ``open``,
   ``capk`` above :data:`ACTIVE`), their dominators (:mod:`siting.model.dominance`), and
   the sites whose *exclusion bound* is within the MIP gap of ``z``, at most
   :data:`KERNEL_EXTRA` x the active count of them. It is solved by
   :func:`relax_and_repair` (without its lazy limits first, then the dispatch repaired,
   with Benders feasibility cuts from each failed repair; else the ordinary lazy loop,
   :func:`siting.solve.lazy.solve_lazy`) and gives a plan,
   objective ``U``, and a bound ``b_K`` on every plan that only uses kernel sites. On a
   grid where approximate network rows apply (:func:`siting.solve.approx.wanted`), the
   kernel MILP is solved by :func:`siting.solve.approx.solve_approximate` instead: on
   case9241pegase relax-and-repair's rounds never settled (46 rounds, 16 minutes, every plan
   still broke a limit), the approximate rows' rounded plan came 440 s after the start.

**The bound on the whole model.** With ``r`` the LP's reduced costs (all nonnegative for
columns at their lower bound 0, the case of every column of a site the LP does not use),
LP duality gives, for every point ``x`` of the relaxation's feasible set,
``c x >= z + sum_j r_j (x_j - x*_j)`` with every term of the sum nonnegative. A plan that
opens a site ``s`` the LP left closed has ``open_s = 1``, one ``opens_s,t = 1``, one
``tech_s,k = 1``, ``sum_t build_s,t >= min_campus / module`` and ``sum_k capk_s,k,T >=
min_campus`` (the site reaches its minimum size by the last year), all on distinct
columns (a member the data pin to ``open_s``, :func:`siting.model.sites.pinned_to_open`,
is that column and its term is dropped), so its cost is at least ``z + p_s`` with the
site's *exclusion bound*

``p_s = r(open_s) + min_t r(opens_s,t) + min_k r(tech_s,k) + n_min min_t r(build_s,t) +
min_campus_mw min_k r(capk_s,k,T)`` (``t`` over the periods the site may build in).

Every plan either uses kernel sites only (cost ``>= b_K``) or opens a site left out
(cost ``>= z + min p_s``), so ``min(b_K, z + min_{s not in kernel} p_s)`` bounds the
whole model, and the plan's gap is measured against it. When that gap is above the MIP
gap, the sites that could still improve the plan (``z + p_s < U``) join the kernel and
the MILP is solved again (at most :data:`MAX_ROUNDS` times; the most promising first, at
most doubling the kernel), else the plan is kept and reported with the gap it has, never
called optimal.

Only ``min_cost`` plans use the kernel (a budget-bound capacity maximum has no such cost
argument), and only above :data:`AUTO_MIN_SITES` candidates unless asked
(``solver.candidate_kernel``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyomo.environ as pyo

from siting.core.clock import Clock
from siting.model.data import ModelData, replaced
from siting.model.state import model_state
from siting.solve import told
from siting.solve.highs import SolveResult, retry_cold

if TYPE_CHECKING:
    import scipy.sparse as sp
    from pyomo.contrib.solver.solvers.highs import Highs

    from siting.solve.lazy import LazyInfo

#: ``solver.candidate_kernel: auto`` uses the kernel from this many candidate sites on.
AUTO_MIN_SITES = 5000
#: A site counts as used by the LP when one of its columns is above this.
ACTIVE = 1e-6
#: Sites added to the kernel by exclusion bound, at most this many per site the LP uses.
KERNEL_EXTRA = 3
#: ... and at least this many (small instances).
KERNEL_EXTRA_MIN = 200
#: Kernel MILPs solved at most.
MAX_ROUNDS = 2
#: LP rounds of the lazy loop stop adding line limits once the limits' rows would hold
#: more nonzeros than this (dense PTDF rows on a 10,000-bus grid; the bound stays valid,
#: only weaker).
LP_ROW_NONZEROS = 20_000_000
#: The MILP without lazy limits is solved to this share of the MIP gap, leaving the rest
#: for what the limits add (:func:`relax_and_repair`).
RELAXED_GAP_SHARE = 0.5
#: Rounds of relax-and-repair (:func:`relax_and_repair`) before the ordinary lazy loop.
REPAIR_ROUNDS = 25
#: Infeasibility proofs gathered per repair round (:func:`_farkas_proofs`).
CONFLICTS = 12
#: Limits that join the MILP per repair round, at most (largest ray multiplier first).
REPAIR_LIMITS = 300
#: HiGHS options of the LP relaxation: interior point (4x faster than dual simplex on a
#: 10,000-site relaxation), then crossover to a basis (exact reduced costs).
LP_OPTIONS = {"solver": "ipm", "run_crossover": "on"}


@dataclass
class KernelInfo:
    """What the kernel method did (for the manifest's notes and the benchmarks)."""

    candidates: int = 0
    lp_bound_usd: float | None = None
    lp_time_s: float = 0.0
    lp_rounds: int = 0
    lp_limits: int = 0
    lp_limits_skipped: int = 0
    lp_used_sites: int = 0
    kernel_sites: list[int] = field(default_factory=list)
    kernel_bound_usd: float | None = None
    excluded_bound_usd: float | None = None
    bound_usd: float | None = None
    gap: float | None = None
    rounds: int = 0
    #: Benders feasibility cuts the repair rounds put into the kernel MILPs
    feasibility_cuts: int = 0
    mip_time_s: float = 0.0
    time_s: float = 0.0

    def note(self) -> str:
        """One line for the plan's notes."""
        ks = ", ".join(f"{k:,}" for k in self.kernel_sites) or "none"
        bits = [
            f"candidate kernel: the LP relaxation (bound {_usd(self.lp_bound_usd)}, "
            f"{self.lp_rounds} round(s), {self.lp_limits} line limits"
            + (
                f", {self.lp_limits_skipped} more violated but left to the MILP"
                if self.lp_limits_skipped
                else ""
            )
            + f") used {self.lp_used_sites:,} of {self.candidates:,} sites;",
            f"the MILP ran on kernels of {ks} sites"
            + (
                f" ({self.feasibility_cuts:,} feasibility cuts from the network);"
                if self.feasibility_cuts
                else ";"
            ),
            (
                "no bound on the sites left out was computed (no kernel plan),"
                if self.excluded_bound_usd is None
                else (
                    "a plan opening any site left out costs at least "
                    f"{_usd(self.excluded_bound_usd)},"
                    if math.isfinite(self.excluded_bound_usd)
                    else "no site was left out of the kernel,"
                )
            ),
            f"so the whole model's bound is {_usd(self.bound_usd)}"
            + (f" (gap {self.gap:.3%})" if self.gap is not None else ""),
        ]
        return " ".join(bits)


def _usd(v: float | None) -> str:
    """``v`` [USD] in billions for the note (``n/a`` when None or not finite)."""
    if v is None or not math.isfinite(v):
        return "n/a"
    return f"{v / 1e9:,.3f} bn USD"


def wanted(d: ModelData, setting: str, *, elastic: bool = False) -> bool:
    """Whether to solve ``d`` with the kernel method (``setting``: ``auto``, ``on``, ``off``)."""
    if setting == "off" or elastic or d.goal.sense != "min_cost" or len(d.campus.sites) < 2:
        return False
    return setting == "on" or len(d.campus.sites) >= AUTO_MIN_SITES


def restrict(d: ModelData, keep: set[str]) -> ModelData:
    """``d`` with only the sites in ``keep`` (dominance cuts between kept sites only)."""
    from siting.model.dominance import without_sites

    gone = {s for s in d.campus.sites if s not in keep}
    out = without_sites(d, gone) if gone else d
    cuts = [(b, a) for b, a in d.campus.dominance_cuts if b in keep and a in keep]
    return replaced(out, campus={"dominance_cuts": cuts})


def _columns(opt: Highs, variables: list) -> np.ndarray:
    """The HiGHS column of each variable (``opt``: the persistent solver)."""
    cmap = opt._pyomo_var_to_solver_var_map
    return np.array([cmap[id(v)] for v in variables], dtype=np.int64)


def exclusion_bounds(m: pyo.ConcreteModel, d: ModelData) -> tuple[np.ndarray, np.ndarray]:
    """Per site: its exclusion bound ``p_s`` [objective units] and whether the LP uses it.

    Reads the last LP solve's reduced costs and values from HiGHS (see the module
    docstring for the bound). Reduced costs below 0 (rounding, at a lower bound) count as 0.
    """
    opt = model_state(m).highs_solver
    sol = opt._sol
    rc = np.maximum(np.asarray(sol.col_dual, dtype=float), 0.0) if sol.dual_valid else None
    val = np.asarray(sol.col_value, dtype=float)
    n = len(d.campus.sites)
    nt = d.horizon.n_years
    earliest = d.campus.site["earliest_period"].to_numpy().astype(int)
    n_min = math.ceil(d.campus.min_campus_mw / d.campus.module_mw - 1e-9)
    open_c = _columns(opt, [m.open[s] for s in d.campus.sites])
    opens_c = _columns(opt, [m.opens[s, t] for s in d.campus.sites for t in range(nt)]).reshape(
        n, nt
    )
    build_c = _columns(opt, [m.build[s, t] for s in d.campus.sites for t in range(nt)]).reshape(
        n, nt
    )
    later = np.arange(nt)[None, :] >= earliest[:, None]  # periods a site may open and build in
    pos = {s: i for i, s in enumerate(d.campus.sites)}
    idx = np.array([pos[s] for s, _ in d.cooling.allowed], dtype=np.int64)  # site of each pair
    tech_c = _columns(opt, [m.tech[s, k] for s, k in d.cooling.allowed])
    capk_c = _columns(opt, [m.capk[s, k, t] for s, k in d.cooling.allowed for t in range(nt)])
    capk_c = capk_c.reshape(len(d.cooling.allowed), nt)
    used = val[open_c] > ACTIVE
    np.logical_or.at(used, idx, (val[capk_c] > ACTIVE).any(axis=1) | (val[tech_c] > ACTIVE))
    if rc is None:
        return np.zeros(n), used
    # a member pinned to open[s] (siting.model.sites.pinned_to_open) is open's own column:
    # its reduced cost is in r(open) already and counts once
    tech_min = np.full(n, np.inf)
    np.minimum.at(tech_min, idx, np.where(tech_c == open_c[idx], 0.0, rc[tech_c]))
    capk_min = np.full(n, np.inf)
    np.minimum.at(capk_min, idx, rc[capk_c[:, -1]])
    own = open_c[:, None]
    big = np.where(later, np.where(opens_c == own, 0.0, rc[opens_c]), np.inf).min(axis=1)
    bmin = np.where(later, np.where(build_c == own, 0.0, rc[build_c]), np.inf).min(axis=1)
    pen = rc[open_c] + _finite(big) + _finite(tech_min) + n_min * _finite(bmin)
    pen = pen + d.campus.min_campus_mw * _finite(capk_min)
    return pen, used


def _finite(a: np.ndarray) -> np.ndarray:
    """``a`` with 0 where it is not finite."""
    return np.where(np.isfinite(a), a, 0.0)


def _lp_stage(
    m: pyo.ConcreteModel,
    d: ModelData,
    lp_fn: Callable[[pyo.ConcreteModel], SolveResult],
    info: KernelInfo,
    clock: Clock | None,
) -> SolveResult:
    """The LP relaxation with lazy limits while they are small (its last round's result)."""
    from siting.solve import lazy

    saved = lazy._relax(m)
    try:  # relaxed, the lazy loop's rounds are LP rounds
        r, li = lazy.solve_lazy(m, d, lp_fn, row_nonzeros=LP_ROW_NONZEROS, clock=clock)
    finally:
        lazy._restore(saved)
    info.lp_rounds, info.lp_time_s = li.mip_rounds, r.time_s
    info.lp_limits, info.lp_limits_skipped = li.limits_added, li.limits_skipped
    return r


def _carry(values: list, m2: pyo.ConcreteModel) -> list:
    """(variable, value) pairs of one model as the same variables of ``m2`` (same data)."""
    return [(getattr(m2, v.parent_component().local_name)[v.index()], x) for v, x in values]


@dataclass
class FeasibilityCut:
    """``sum_j coef_j x_j <= rhs`` in the pinned decisions of a repair model (a Benders
    feasibility cut, :func:`_farkas_proofs`); ``columns`` index the repair model's HiGHS
    columns."""

    columns: np.ndarray
    coefs: np.ndarray
    rhs: float


#: Feasibility cuts are tightened by this share of their scale (the largest of 1, the sum
#: of their coefficients' magnitudes and their right-hand side), HiGHS's feasibility
#: tolerance: 0.001 MW on a cut over 1,000 MW of campuses.
CUT_MARGIN = 1e-6
#: Ray entries, and column sums of the ray, at or below this share of the ray's largest
#: entry count as 0 (HiGHS's dual feasibility tolerance is 1e-7).
RAY_TOL = 1e-9


def _ray_support(y: np.ndarray) -> np.ndarray:
    """The rows a ray ``y`` keeps in :func:`_cut_from_ray` (above :data:`RAY_TOL` of its
    largest entry), ascending."""
    ymax = float(np.abs(y).max()) if y.size else 0.0
    if ymax <= 0.0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.abs(y) > RAY_TOL * ymax)


def _transposed_rows(h: Any, rows: np.ndarray, n_col: int, n_row: int) -> sp.csc_matrix:
    """``A'`` of HiGHS's LP ``h`` with only ``rows`` (ascending) filled in, shape
    ``(n_col, n_row)``: what ``A' y`` needs of ``A`` for a ``y`` that is 0 elsewhere.

    Read with ``getRowsEntries`` (numpy arrays) instead of the whole matrix. ``A' y`` sums
    each column's terms row by row in ascending order, as the whole matrix's product does
    (HiGHS keeps each column's rows in the order they were added), and the rows left out add
    only zeros: the same figures.
    """
    import scipy.sparse as sp

    rows = np.asarray(rows, dtype=np.int32)
    counts = np.zeros(n_row, dtype=np.int64)
    if len(rows):
        _st, start, index, value = h.getRowsEntries(len(rows), rows)
        start = np.asarray(start, dtype=np.int64)
        counts[rows] = np.diff(np.append(start, len(index)))
    else:
        index, value = np.zeros(0, dtype=np.int32), np.zeros(0)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return sp.csc_matrix(
        (np.asarray(value, dtype=float), np.asarray(index, dtype=np.int32), indptr),
        shape=(n_col, n_row),
    )


def _cut_from_ray(
    a_t: sp.spmatrix,
    y: np.ndarray,
    rows: tuple[np.ndarray, np.ndarray],
    cols: tuple[np.ndarray, np.ndarray],
    pinned: np.ndarray,
) -> FeasibilityCut | None:
    """The feasibility cut of one Farkas ray ``y`` of ``L <= A z <= U, l <= z <= u``.

    For every ``z`` the LP allows, ``y A z = d z`` with ``d = A' y``; the rows bound it from
    above by ``S(y) = sum_i max(y_i L_i, y_i U_i)`` and the columns from below by
    ``I(d) = sum_j min(d_j l_j, d_j u_j)``, so ``I(d) <= S(y)`` whenever the LP is feasible.
    Splitting ``I`` into the pinned columns (``l_j = u_j = x_j``, the decisions) and the
    rest, ``sum_pinned d_j x_j <= S(y) - I_rest(d)`` holds for every ``x`` whose LP is
    feasible: the cut. It cuts off the pinned point when ``y`` proves that point infeasible.
    HiGHS's sign convention for rays is not relied on: both signs are tried.
    Returns None when neither sign gives a finite certificate that cuts the point off.
    """
    lo_r, up_r = rows
    lo_c, up_c = cols
    ymax = float(np.abs(y).max()) if y.size else 0.0
    if ymax <= 0.0:
        return None
    y = np.where(np.abs(y) > RAY_TOL * ymax, y, 0.0) / ymax
    d = a_t @ y
    d = np.where(np.abs(d) > RAY_TOL, d, 0.0)
    rest = ~pinned
    for sign in (1.0, -1.0):
        ys, ds = sign * y, sign * d
        with np.errstate(invalid="ignore"):
            s_row = np.where(ys > 0, ys * up_r, np.where(ys < 0, ys * lo_r, 0.0)).sum()
            i_rest = np.where(ds > 0, ds * lo_c, np.where(ds < 0, ds * up_c, 0.0))[rest].sum()
        if not (np.isfinite(s_row) and np.isfinite(i_rest)):
            continue
        cols_p = np.flatnonzero(pinned & (ds != 0.0))
        coefs = ds[cols_p]
        rhs = float(s_row - i_rest)
        at = float(coefs @ lo_c[cols_p])
        scale = max(1.0, float(np.abs(coefs).sum()), abs(rhs))
        if at - rhs <= 1e-9 * scale:
            continue  # no proof at this point with this sign
        # tightened by the solvers' own tolerance: a plan at the cut's very edge (where the
        # MILP's row tolerance may leave it a hair outside) has a dispatch the LP accepts
        return FeasibilityCut(cols_p, coefs, rhs - CUT_MARGIN * scale)
    return None


def _same(a: FeasibilityCut, b: FeasibilityCut) -> bool:
    """Whether two cuts are one (the same columns, coefficients and right-hand side)."""
    return (
        np.array_equal(a.columns, b.columns)
        and np.allclose(a.coefs, b.coefs, rtol=1e-9, atol=0.0)
        and math.isclose(a.rhs, b.rhs, rel_tol=1e-9, abs_tol=1e-12)
    )


def _farkas_proofs(
    m: pyo.ConcreteModel, pinned_vars: list, conflicts: int = 1
) -> tuple[list, list[FeasibilityCut]]:
    """HiGHS's proofs that the last LP of ``m`` is infeasible (dual rays): the lazy line
    limits (branch, period, snapshot) each uses (largest multiplier first), and the
    feasibility cut each gives in ``pinned_vars`` (:func:`_cut_from_ray`).

    With ``conflicts > 1``, the limits of each proof are lifted in HiGHS (row bounds to
    infinity) and the LP run again for the next proof, up to ``conflicts`` proofs or until
    the LP is feasible; the bounds are then put back as they were (Pyomo's books are not
    touched). One MILP round then learns several independent bottlenecks. Every cut is
    computed with the rows' original bounds, so it holds for the model as it is.
    """
    import highspy

    opt = model_state(m).highs_solver
    if opt is None:
        return [], []
    h = opt._solver_model
    rows = opt._pyomo_con_to_solver_con_map
    where: dict = {}
    for con, key in model_state(m).limit_key.items():
        row = rows.get(con)
        if row is not None:
            where.setdefault(key, []).append(row)
    row_key = {row: key for key, rs in where.items() for row in rs}
    n_row, n_col = int(h.getNumRow()), int(h.getNumCol())
    # the bounds as numpy arrays straight from HiGHS (getLp() copies the whole LP, and its
    # fields come to Python as lists: on L, 2 s a proof, 20 s a run)
    _st, _n, lower, upper, _nz = h.getRows(n_row, np.arange(n_row, dtype=np.int32))
    _st, _n, _cost, col_lo, col_up, _nz = h.getCols(n_col, np.arange(n_col, dtype=np.int32))
    lower, upper = np.array(lower, dtype=float), np.array(upper, dtype=float)
    col_bounds = (np.asarray(col_lo, dtype=float), np.asarray(col_up, dtype=float))
    lifted: list[tuple[int, float, float]] = []
    pinned = np.zeros(n_col, dtype=bool)
    pinned[_columns(opt, pinned_vars)] = True
    out: dict = {}
    cuts: list[FeasibilityCut] = []
    _st, quiet = h.getOptionValue("output_flag")
    h.setOptionValue("output_flag", False)
    try:
        for i in range(conflicts):
            if i > 0:
                h.run()
                if h.getModelStatus() != highspy.HighsModelStatus.kInfeasible:
                    break
            _status, has, ray = h.getDualRay()
            if not has:
                break
            ray = np.asarray(ray, dtype=float)
            a_t = _transposed_rows(h, _ray_support(ray), n_col, n_row)
            cut = _cut_from_ray(a_t, ray, (lower, upper), col_bounds, pinned)
            if cut is not None and not any(_same(cut, c) for c in cuts):
                cuts.append(cut)
            found = [r for r in np.flatnonzero(np.abs(ray) > 1e-9) if r in row_key]
            if not found:
                break
            for r in found:
                key = row_key[r]
                out[key] = max(out.get(key, 0.0), abs(ray[r]) * (conflicts - i))
                for rr in where[key]:
                    lifted.append((rr, lower[rr], upper[rr]))
                    h.changeRowBounds(int(rr), -highspy.kHighsInf, highspy.kHighsInf)
    finally:
        for rr, lo, up in reversed(lifted):
            h.changeRowBounds(int(rr), float(lo), float(up))
        # a ray leaves HiGHS's solver state such that the next run ended "unknown": start
        # that one afresh (the model itself is kept)
        h.clearSolver()
        h.setOptionValue("output_flag", quiet)
    return sorted(out, key=lambda k: -out[k]), cuts


def _decisions(m: pyo.ConcreteModel, module_mw: float, integers: list | None = None) -> list:
    """(variable, value) of the master's decisions the repair model pins: every integer
    (rounded), and the IT capacity per cooling technology ``capk``, through which alone the
    siting reaches the grid's rows. Pinning ``capk`` too makes each feasibility cut a cut
    on the campuses' capacities (``sum a_s capk_s <= r``: what a stretch of network can
    host) rather than on the big-M rows that tie ``capk`` to ``tech``. ``capk`` is pinned
    at what the rounded integers make it (``tech[s,k] x module_mw x sum_{u<=t}
    build[s,u]``, one technology per open site), not at HiGHS's value: off by its
    tolerance, that would break the rows tying it to the integers. ``integers``: the
    variables to take as the integers (of a relaxed model: its own are continuous)."""
    from siting.solve.lazy import _integer_values

    if integers is None:
        ints = _integer_values(m)
    else:  # the integers of a relaxed model (lazy._relax's list)
        ints = [(v, float(round(v.value))) for v in integers if v.value is not None]
    value = {id(v): x for v, x in ints}
    caps = []
    for (s, k, t), v in m.capk.items():
        tech = value.get(id(m.tech[s, k]), 0.0)
        built = sum(value.get(id(m.build[s, u]), 0.0) for u in range(t + 1))
        caps.append((v, min(max(tech * module_mw * built, v.lb), v.ub)))
    return ints + caps


def _repair_lp(mr: pyo.ConcreteModel, solve_fn: Callable[..., SolveResult]) -> SolveResult:
    """One LP of the repair model, without presolve (so that an infeasible one comes with
    a dual ray). HiGHS's dual simplex, warm-started from the basis of the round before
    (other decisions pinned, rows added), can lose its footing and end "unknown": such a
    run is repeated once from a cold start (:func:`siting.solve.highs.retry_cold`)."""
    return retry_cold(mr, lambda: solve_fn(mr, opts={"presolve": "off"}))


def _repair(
    mr: pyo.ConcreteModel,
    m: pyo.ConcreteModel,
    d: ModelData,
    fixed: list,
    solve_fn: Callable[..., SolveResult],
    clock: Clock | None = None,
    conflicts: int = CONFLICTS,
) -> tuple:
    """The dispatch of the repair model ``mr`` with the master's decisions ``fixed``.

    An LP: the integers made continuous, every decision pinned by its bounds (``Var.fix``
    would fold them into the constants of rows handed over while fixed, which went stale
    when the next round pinned other values), the lazy loop adding violated limits, without
    presolve, so that an infeasible dispatch comes with HiGHS's dual rays. Every bound is
    put back afterwards.

    ``conflicts``: infeasibility proofs gathered when it is infeasible (0: none).

    Returns
    -------
    (SolveResult, LazyInfo, limits, cuts)
        The last LP's result, the lazy loop's figures, and when it is infeasible the limits
        in HiGHS's proofs and their feasibility cuts as inequalities in ``m``.
    """
    from siting.solve.lazy import _relax, _restore, solve_lazy

    relaxed = _relax(mr)
    bounds = [(v, v.lb, v.ub) for v, _ in fixed]
    told.set_bounds(mr, [(v, x, x) for v, x in fixed])
    try:
        r1, info = solve_lazy(
            mr, d, lambda mm: _repair_lp(mm, solve_fn), lp_first=False, clock=clock
        )
        blocking, cuts = (
            _farkas_proofs(mr, [v for v, _ in fixed], conflicts)
            if r1.status == "infeasible" and conflicts > 0
            else ([], [])
        )
        cuts = _in_master(mr, m, fixed, cuts)
    finally:
        told.set_bounds(mr, bounds)
        _restore(relaxed)
    return r1, info, blocking, cuts


def _in_master(mr: pyo.ConcreteModel, m: pyo.ConcreteModel, fixed: list, cuts: list) -> list:
    """The feasibility cuts of the repair model ``mr`` as inequalities in ``m``'s variables
    (``fixed``: the pinned (variable of ``mr``, value) pairs)."""
    from pyomo.core.expr.numeric_expr import LinearExpression

    if not cuts:
        return []
    cols = _columns(model_state(mr).highs_solver, [v for v, _ in fixed])
    of_col = dict(zip(cols.tolist(), (v for v, _ in _carry(fixed, m)), strict=True))
    return [
        LinearExpression(
            constant=0.0,
            linear_coefs=c.coefs.tolist(),
            linear_vars=[of_col[j] for j in c.columns.tolist()],
        )
        <= c.rhs
        for c in cuts
    ]


def relax_and_repair(
    m: pyo.ConcreteModel,
    d: ModelData,
    solve_fn: Callable[..., SolveResult],
    mip_gap: float,
    build: Callable[[ModelData], pyo.ConcreteModel],
    clock: Clock | None = None,
) -> tuple[pyo.ConcreteModel, SolveResult, LazyInfo]:
    """Solve a kernel MILP: first without most of its lazy limits, then repair the dispatch.

    1. The MILP without lazily added limits (PTDF line limits, N-1): a relaxation of the
       MILP with all of them, so its bound ``b`` bounds that MILP too.
    2. Its decisions (every integer, and the capacities ``capk``, :func:`_decisions`)
       pinned in a second copy of the model (the *repair* model), the dispatch LP with the
       lazy loop adding every violated limit (:func:`siting.solve.lazy.solve_lazy`): a plan
       that meets every limit, at objective ``U``. Kept, with bound ``b`` (the best over
       the rounds), when ``U`` is within ``mip_gap`` of ``b``.
    3. When no dispatch meets the limits with those decisions, each of HiGHS's proofs of
       that (dual rays, :func:`_farkas_proofs`) gives a *feasibility cut* (Benders): a
       sparse inequality in the campuses' capacities that every plan with a feasible
       dispatch meets and this one breaks. The cuts join the MILP and 1-2 run again, at
       most :data:`REPAIR_ROUNDS` times or until the run's deadline (``clock``; ``solve_fn``
       hands each solve the time left, and no round starts after the deadline).
       Where no cut could be drawn from a proof, the limits it uses join the MILP instead.
    4. Else the ordinary lazy loop on the MILP (from the repaired plan as a MIP start, when
       there is one).

    Line limits are dense rows on a national grid (a term for every generator and campus
    the branch's PTDF row reaches). Most of those that bind do so in the dispatch, which
    the repair LP handles; the MILP sees the network only through the cuts, in the
    campuses' capacities alone (a few hundred terms at most, none for a generator). On the
    national benchmark all limits together moved the LP relaxation by 0.02 %.

    Returns
    -------
    (model, SolveResult, LazyInfo)
        The model holding the plan (the repair model, or ``m``), its result, the figures.
    """
    from siting.solve.lazy import LazyInfo, needs_lazy, solve_lazy

    if not needs_lazy(m, d):
        r, info = solve_lazy(m, d, solve_fn, clock=clock)
        return m, r, info
    st = _Repairs(total=LazyInfo())
    for k in range(REPAIR_ROUNDS):
        if clock is not None:
            if clock.expired():
                break
            clock.at_round(f"repair round {k + 1}")
        # part of the gap: room for what the limits add to the cost (the plan's gap is to b)
        r0 = st.r0 = solve_fn(m, opts={"mip_rel_gap": mip_gap * RELAXED_GAP_SHARE})
        st.spent += r0.time_s
        st.total.mip_rounds += 1
        if not r0.has_solution:
            r0.time_s = st.spent
            return m, r0, st.total
        if r0.bound is not None and r0.bound > st.bound:
            st.bound, st.bound_status, st.bound_termination = r0.bound, r0.status, r0.termination
        fixed, r1, info, blocking, cuts = _repair_round(m, d, build, solve_fn, clock, st)
        ok = r1.has_solution and not model_state(st.mr).take_lazy_impossible()
        if ok and math.isfinite(st.bound) and r1.objective is not None:
            st.start = _carry(fixed, m)
            u = float(r1.objective)
            if (u - st.bound) / max(abs(u), 1.0) <= mip_gap + 1e-12:
                return st.mr, _repaired(r1, r0, info, st), st.total
            break  # a plan, but not within the gap of b: the lazy loop closes it
        if m.component("lazy_limits") is None:
            break
        if not _learn(m, d, blocking, cuts, st.total):
            break
    if not st.start and clock is not None and clock.expired():
        # out of time, and no plan met every limit: the lazy loop would only run MILPs of a
        # second each (and a plan that breaks a limit is no plan)
        return m, _no_repaired_plan(st), st.total
    return _lazy_after_repairs(m, d, solve_fn, clock, st)


@dataclass
class _Repairs:
    """What the rounds of :func:`relax_and_repair` carry from one to the next.

    Attributes
    ----------
    total
        The figures so far.
    spent
        Solver time so far [s].
    mr
        The repair model (built in the first round).
    start
        The decisions of a plan that met every limit (a MIP start), or None.
    r0
        The last MILP's result.
    bound, bound_status, bound_termination
        The best bound over the rounds [objective units] (each holds for the MILP with
        every limit: a round's MILP has fewer rows, and its cuts are valid), and the
        status and termination of the round that proved it.
    """

    total: LazyInfo
    spent: float = 0.0
    mr: pyo.ConcreteModel | None = None
    start: list | None = None
    r0: SolveResult | None = None
    bound: float = -math.inf
    bound_status: str = "feasible"
    bound_termination: str = ""


def _repair_round(
    m: pyo.ConcreteModel,
    d: ModelData,
    build: Callable[[ModelData], pyo.ConcreteModel],
    solve_fn: Callable[..., SolveResult],
    clock: Clock | None,
    st: _Repairs,
) -> tuple[list, SolveResult, LazyInfo, list, list]:
    """Step 2 of :func:`relax_and_repair`: the MILP's decisions pinned in the repair model
    and its dispatch solved (:func:`_repair`; on a fresh copy when HiGHS fails on it).

    Returns
    -------
    (fixed, r1, info, blocking, cuts)
        The pinned decisions, the repair's result and figures, and (when infeasible) the
        limits in HiGHS's proofs and their feasibility cuts in ``m``.
    """
    for fresh in (st.mr is None, True):
        if fresh:  # first round, or HiGHS lost its footing on this copy twice
            st.mr = build(d)
        fixed = _carry(_decisions(m, d.campus.module_mw), st.mr)
        r1, info, blocking, cuts = _repair(st.mr, m, d, fixed, solve_fn, clock)
        st.spent += r1.time_s
        if r1.status != "error":
            break
    st.total.mip_rounds += info.mip_rounds
    st.total.limits_added += info.limits_added
    st.total.n1_added += info.n1_added
    return fixed, r1, info, blocking, cuts


def _repaired(r1: SolveResult, r0: SolveResult, info: LazyInfo, st: _Repairs) -> SolveResult:
    """The result of a repaired plan within the MIP gap of the rounds' bound (``r0``: the
    last MILP's result, ``st.r0``)."""
    total = st.total
    status = "optimal" if st.bound_status == "optimal" else "feasible"
    total.monitored = info.monitored
    total.n1_monitored = info.n1_monitored
    return dataclasses.replace(
        r1,
        status=status,
        termination=r1.termination if status == "optimal" else st.bound_termination,
        bound=st.bound,
        time_s=st.spent,
        rows=r0.rows,
        columns=r0.columns,
        integers=r0.integers,
        notes=[
            f"the MILP with {total.limits_in_milp} of the lazy limits "
            f"and {total.cuts_in_milp} feasibility cuts, then "
            "the dispatch with its decisions fixed, met every limit "
            f"({total.limits_added + total.n1_added} added to the dispatch)"
        ],
    )


def _learn(m: pyo.ConcreteModel, d: ModelData, blocking: list, cuts: list, total: LazyInfo) -> bool:
    """Step 3 of :func:`relax_and_repair`: what a failed repair teaches the MILP ``m``: its
    feasibility cuts, else the limits its proofs use. False when there is neither."""
    from siting.solve.lazy import _add_limits

    if cuts:
        # HiGHS's infeasibility proofs as cuts in the decisions alone (sparse rows)
        if m.component("feasibility_cuts") is None:
            m.feasibility_cuts = pyo.ConstraintList()
        told.rows_added(m, [m.feasibility_cuts.add(expr) for expr in cuts])
        total.cuts_in_milp += len(cuts)
        return True
    # no cut from the proofs: the limits they use join the MILP
    chosen = [tr for tr in blocking if tr not in model_state(m).monitored][:REPAIR_LIMITS]
    if not chosen:
        return False
    _add_limits(m, d, chosen)
    total.limits_in_milp += len(chosen)
    return True


def _no_repaired_plan(st: _Repairs) -> SolveResult:
    """The result when the time limit came before any repaired plan met every limit."""
    return SolveResult(
        status="no_solution",
        termination="maxTimeLimit",
        objective=None,
        bound=st.bound if math.isfinite(st.bound) else None,
        gap=None,
        time_s=st.spent,
        solver="highs",
        solver_version=st.r0.solver_version if st.r0 is not None else "",
        notes=[
            f"{st.total.mip_rounds} MILP round(s) without the lazy limits, and no plan "
            "among them had a dispatch within every limit by the time limit"
        ],
    )


def _lazy_after_repairs(
    m: pyo.ConcreteModel,
    d: ModelData,
    solve_fn: Callable[..., SolveResult],
    clock: Clock | None,
    st: _Repairs,
) -> tuple[pyo.ConcreteModel, SolveResult, LazyInfo]:
    """Step 4 of :func:`relax_and_repair`: the ordinary lazy loop on the MILP, from the
    repaired plan as a MIP start when there is one; the rounds' figures added in."""
    from siting.solve.highs import set_mip_start
    from siting.solve.lazy import solve_lazy

    total = st.total
    if st.start:
        set_mip_start(m, st.start)  # a plan that meets every limit: HiGHS starts from it
    r2, info2 = solve_lazy(m, d, solve_fn, clock=clock)
    info2.mip_rounds += total.mip_rounds
    info2.limits_added += total.limits_added
    info2.n1_added += total.n1_added
    info2.limits_in_milp += total.limits_in_milp
    info2.cuts_in_milp += total.cuts_in_milp
    r2.time_s += st.spent
    return m, r2, info2


def _no_plan_in_time(r: SolveResult, info: KernelInfo) -> SolveResult | None:
    """``r`` (no plan) as the kernel's answer when the time limit stopped it: no plan, the
    kernel's figures in its notes (not the whole model solved all over again); None for
    infeasibility or the solver's trouble, which the whole model then says."""
    if r.termination != "maxTimeLimit":
        return None
    return dataclasses.replace(
        r,
        status="no_solution",
        time_s=info.lp_time_s + info.mip_time_s,
        notes=[*r.notes, info.note()],
    )


def solve_kernel(
    d: ModelData,
    build: Callable[[ModelData], pyo.ConcreteModel],
    solve_fn: Callable[..., SolveResult],
    *,
    mip_gap: float,
    clock: Clock | None = None,
    progress: Callable[[str], None] | None = None,
    inner: Callable | None = None,
) -> tuple[pyo.ConcreteModel, ModelData, SolveResult, KernelInfo] | None:
    """Solve ``d`` by the kernel method (see the module docstring).

    Parameters
    ----------
    d
        The model's data (all candidates, screened).
    build
        ``build(data) -> model`` (the baseline constants bound in).
    solve_fn
        ``solve_fn(m, highs_options=...) -> SolveResult`` (gap, threads and the run's clock
        bound in: each solve gets the time left before the deadline); the kernel MILPs go
        through :func:`relax_and_repair`.
    mip_gap
        The plan's relative gap target [fraction].
    clock
        The run's clock (:class:`siting.core.clock.Clock`): its deadline holds for the whole
        method (no round starts after it).
    progress
        Called with each stage's name.
    inner
        The method that solves each kernel MILP, called as ``inner(data, build, solve_fn,
        mip_gap=..., clock=..., progress=..., started=...) -> (model, data, result, info) |
        None`` with a bound on plans of the kernel's sites in its result; default
        :func:`relax_and_repair`. On a large grid it is
        :func:`siting.solve.approx.solve_approximate`: the dense line limits of a
        10,000-bus grid left relax-and-repair with no plan in ten minutes. When it returns
        None, :func:`relax_and_repair` solves that kernel (and says why it has no plan).

    Returns
    -------
    (model, data, result, info) or None
        The last kernel MILP (its model and restricted data), its result with the whole
        model's bound and gap, and what was done; a result without a plan (status
        ``no_solution``, termination ``maxTimeLimit``) when the time limit came first; None
        when the LP relaxation or every kernel MILP was infeasible or the solver failed (the
        caller then solves the whole model and reports what it finds).
    """
    say = progress or (lambda _s: None)
    t0 = time.perf_counter()
    info = KernelInfo(candidates=len(d.campus.sites))

    def expired() -> bool:
        return clock is not None and clock.expired()

    say("kernel: LP relaxation")
    full = build(d)

    def lp_fn(m: pyo.ConcreteModel) -> SolveResult:
        return solve_fn(m, highs_options=LP_OPTIONS)

    lp = _lp_stage(full, d, lp_fn, info, clock)
    if not lp.has_solution or lp.objective is None:
        info.time_s = time.perf_counter() - t0
        late = _no_plan_in_time(lp, info)
        return None if late is None else (full, d, late, info)
    k = _kernel_of(full, d, float(lp.objective), info, mip_gap)
    del full
    for _ in range(MAX_ROUNDS):
        info.rounds += 1
        info.kernel_sites.append(len(k.keep))
        say(f"kernel: MILP on {len(k.keep):,} of {len(d.campus.sites):,} sites")
        dk = restrict(d, k.keep)
        mk, r = _kernel_milp(
            dk, build, solve_fn, info, mip_gap=mip_gap, clock=clock, say=say, t0=t0, inner=inner
        )
        info.mip_time_s += r.time_s
        if not r.has_solution:
            if k.best is None and r.status == "infeasible" and not expired():
                # integrality closed the kernel (a zone or share the LP met fractionally):
                # every site may join
                k.keep = set(k.sites.tolist())
                continue
            break
        if _take(k, mk, dk, r, mip_gap) or expired():
            break
        if not _grow(k):
            break
    info.time_s = time.perf_counter() - t0
    if k.best is None:
        late = _no_plan_in_time(r, info)
        return None if late is None else (mk, dk, late, info)
    return _kernel_answer(k, k.best, info, mip_gap)


@dataclass
class _Kernel:
    """The kernel method's state across its MILP rounds.

    Attributes
    ----------
    d
        The whole model's data.
    sites
        Its site IDs (an object array, for fancy indexing).
    pen
        Each site's exclusion bound [USD].
    z
        The LP relaxation's bound [USD].
    keep
        The kernel: the sites of the next MILP.
    best
        (model, data, result) of the cheapest plan so far.
    bound, parts
        The best bound on the whole model over the rounds [USD], and its two parts (the
        kernel MILP's bound, the sites left out's).
    out
        Per site: whether the last round left it out.
    u
        The cheapest plan's objective [USD].
    """

    d: ModelData
    sites: np.ndarray
    pen: np.ndarray
    z: float
    keep: set = field(default_factory=set)
    best: tuple[pyo.ConcreteModel, ModelData, SolveResult] | None = None
    bound: float = -math.inf
    parts: tuple[float | None, float | None] = (None, None)
    out: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    u: float = math.inf


def _kernel_of(
    full: pyo.ConcreteModel, d: ModelData, z: float, info: KernelInfo, mip_gap: float
) -> _Kernel:
    """The method's state after the LP relaxation of the whole model ``full`` (holding its
    solution, objective ``z`` [USD]): the sites' exclusion bounds and the first kernel."""
    unit = model_state(full).objective_unit
    unit = 1.0 if unit is None else float(unit)
    info.lp_bound_usd = z
    pen, used = exclusion_bounds(full, d)
    pen = pen * unit
    info.lp_used_sites = int(used.sum())
    k = _Kernel(d=d, sites=np.array(d.campus.sites, dtype=object), pen=pen, z=z)
    k.keep = _first_kernel(k, used, mip_gap)
    return k


def _first_kernel(k: _Kernel, used: np.ndarray, mip_gap: float) -> set:
    """The first kernel: the sites the LP uses, their dominators, and the sites whose
    exclusion bound is within the MIP gap of the LP's (at most :data:`KERNEL_EXTRA` x as
    many, at least :data:`KERNEL_EXTRA_MIN`)."""
    sites, pen = k.sites, k.pen
    keep = set(sites[used].tolist())
    doms: dict[str, set[str]] = {}
    for b, a in k.d.campus.dominance_cuts:
        doms.setdefault(b, set()).add(a)
    keep |= {a for s in list(keep) for a in doms.get(s, ())}
    room = max(KERNEL_EXTRA * len(keep), KERNEL_EXTRA_MIN)
    order = [i for i in np.argsort(pen, kind="stable") if sites[i] not in keep]
    near = [i for i in order if pen[i] <= mip_gap * abs(k.z)][:room]
    keep |= set(sites[near].tolist())
    return keep


def _kernel_milp(
    dk: ModelData,
    build: Callable[[ModelData], pyo.ConcreteModel],
    solve_fn: Callable[..., SolveResult],
    info: KernelInfo,
    *,
    mip_gap: float,
    clock: Clock | None,
    say: Callable[[str], None],
    t0: float,
    inner: Callable | None,
) -> tuple[pyo.ConcreteModel, SolveResult]:
    """One kernel MILP (data ``dk``) by ``inner``, or by :func:`relax_and_repair` when
    there is none or it returns None; the method's figures kept on the model."""

    def run(m: pyo.ConcreteModel, opts: dict | None = None) -> SolveResult:
        return solve_fn(m, highs_options=opts)

    got = None
    if inner is not None:
        got = inner(dk, build, solve_fn, mip_gap=mip_gap, clock=clock, progress=say, started=t0)
    if got is not None:
        mk, _dk, r, inner_info = got
        model_state(mk).approx_info = inner_info
    else:
        mk = build(dk)
        mk, r, lazy_info = relax_and_repair(mk, dk, run, mip_gap, build, clock)
        model_state(mk).lazy_info = lazy_info
        info.feasibility_cuts += lazy_info.cuts_in_milp
    return mk, r


def _take(k: _Kernel, mk: pyo.ConcreteModel, dk: ModelData, r: SolveResult, mip_gap: float) -> bool:
    """Count a kernel MILP's plan ``r``: the whole model's bound (the better of the rounds'),
    the cheapest plan; whether it is within the MIP gap of that bound."""
    k.out = np.array([s not in k.keep for s in k.d.campus.sites])
    excl = float(k.z + k.pen[k.out].min()) if k.out.any() else math.inf
    # every plan costs at least z, so z bounds the kernel's plans too (a method's own
    # bound may be weaker: the approximate rows' quick plan reports an LP without limits)
    kb = max(r.bound, k.z) if r.bound is not None else k.z
    if min(kb, excl) > k.bound:  # every round's bound holds for the whole model
        k.bound, k.parts = min(kb, excl), (kb, excl)
    obj = r.objective
    assert obj is not None, "a kernel MILP's plan without an objective value"
    if k.best is None or obj < k.u:  # (k.u: the best plan's objective)
        k.best = (mk, dk, r)
        k.u = float(obj)
    gap = max(0.0, k.u - k.bound) / max(abs(k.u), 1.0)
    return gap <= mip_gap + 1e-12


def _grow(k: _Kernel) -> bool:
    """Add to the kernel the sites left out that could still improve the plan (``z + p_s <
    U``), the most promising first (smallest bound), at most doubling it; False when none."""
    could = np.flatnonzero(k.out & (k.z + k.pen < k.u))
    if not len(could):
        return False
    # the most promising first (smallest bound), at most doubling the kernel
    could = could[np.argsort(k.pen[could], kind="stable")][: max(len(k.keep), KERNEL_EXTRA_MIN)]
    k.keep |= set(k.sites[could].tolist())
    return True


def _kernel_answer(
    k: _Kernel,
    best: tuple[pyo.ConcreteModel, ModelData, SolveResult],
    info: KernelInfo,
    mip_gap: float,
) -> tuple[pyo.ConcreteModel, ModelData, SolveResult, KernelInfo]:
    """The cheapest plan ``best`` (``k.best``: model, data, result) with the whole model's
    bound and gap, and the method's note."""
    mk, dk, r = best
    u = k.u  # r's objective
    gap = max(0.0, u - k.bound) / max(abs(u), 1.0)
    info.kernel_bound_usd, info.excluded_bound_usd = k.parts
    info.bound_usd, info.gap = k.bound, gap
    r = dataclasses.replace(
        r,
        bound=k.bound,
        gap=gap,
        time_s=info.lp_time_s + info.mip_time_s,
        notes=[*r.notes, info.note()],
    )
    if r.status == "optimal" and gap > mip_gap + 1e-12:
        r = dataclasses.replace(r, status="feasible", termination="kernelBound")
    return mk, dk, r, info
