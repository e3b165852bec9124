"""Approximate network rows: a plan on a large grid, verified and repaired on the exact one.

On a grid of thousands of buses each line limit of the PTDF form is a dense row: a term
for every generator the branch's PTDF row reaches (on ACTIVSg2000, 85 % of its 544
generators for a typical branch). With a thousand such rows the MILP's node LPs take
seconds and HiGHS finds no plan in ten minutes. Most of those terms are tiny: only 9.5 %
of the generator entries are above 0.01 in size. The method:

0. **A quick plan** on grids of :data:`QUICK_MIN_BUSES` buses and more (:func:`_quick`): the
   LP without line limits, rounded with headroom (:mod:`siting.solve.rounding`) and verified
   as in 3; each refusal's infeasibility proofs join the LP as feasibility cuts in the
   campus capacities, and it is rounded again. Within the MIP gap of that LP's bound, the
   method stops there; else its cuts stay (they make the exact relaxation below cheaper: on
   case9241pegase's kernel 36 s instead of 86 s).
1. **The exact LP relaxation** of the whole model with its lazy line limits
   (:func:`siting.solve.lazy.solve_lazy` on the relaxed model): its objective ``z`` is a
   lower bound on every plan (it is the bound the plan's gap is measured against), and its
   dispatch ``p*`` the *anchor*.
1b. **A rounded plan** (:mod:`siting.solve.rounding`): the same LP with every target raised
   until its capacities rounded down to whole modules meet the targets, the surplus
   trimmed, verified on the exact network as in 3. On ACTIVSg2000 it is the first verified
   plan, 0.35 % above the bound, 28 s after the start (the MILP rounds alone took about four
   minutes to their first); when it is within the MIP gap of the bound, the method stops
   there.
2. **The approximate model**: the same MILP, but each line limit keeps only the generators
   with ``|PTDF[l, g]| >`` :data:`THRESHOLD`; the others are held at their anchor dispatch,
   their part of the flow a constant: ``f_l ~ sum_{|PTDF|>eps} PTDF[l,g] p_g + sum_{small}
   PTDF[l,g] p*_g + (campus and load terms, exact)``. Rows are about ten times sparser.
   Its lazy loop adds the limits its own solutions violate, with the violated branches'
   other near-binding periods and snapshots (:data:`NEAR`) at once. The first rounds are
   solved to :data:`ROUND_GAP`, later ones to the plan's MIP gap.
3. **Verification and repair on the exact network** after every round: the round's
   decisions (every integer and the campus capacities) pinned in a model with exact rows
   and the dispatch LP solved with every violated exact limit
   (:func:`siting.solve.kernel._repair`). When it is feasible, that is a plan meeting every
   limit: kept when it is the cheapest so far, and offered to the next round as its MIP
   start. When the approximate loop has converged but its plan has no exact dispatch, the
   branches in HiGHS's infeasibility proof get exact rows and the loop goes on.

It stops when the best plan is within the MIP gap of ``z`` (proven: ``z`` is a valid
bound), when the approximate model's own optimum is reached (the plan is kept, not called
optimal, its gap to ``z`` reported), or at the run's deadline (the best plan so far, or no
plan). An approximate row is not a relaxation, so no bound of the approximate MILP is ever
reported: the gap is always to the exact LP relaxation's bound.

Measured on ACTIVSg2000 (2,000 buses, 600 sites, 6 GW over 5 years, 2 cores): the exact
lazy loop found no plan meeting every limit within 30 minutes; the MILP rounds alone a
verified plan 0.44 % above the LP bound after 7 rounds (231 s); with the rounded plan first,
a plan 0.35 % above the bound in about 30 s, no MILP round needed.

Only ``min_cost`` plans on PTDF-form grids solved by HiGHS use it, from
:data:`AUTO_MIN_BUSES` buses unless asked (``solver.approximate_network``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeAlias

import pyomo.environ as pyo

from siting.core.clock import Clock
from siting.model.data import ModelData
from siting.model.state import model_state
from siting.solve import rounding as _rounding
from siting.solve import told
from siting.solve.highs import SolveResult, set_mip_start

#: ``solver.approximate_network: auto`` uses the method from this many buses on.
AUTO_MIN_BUSES = 1000
#: Generators whose PTDF entry is at most this in size are held at the anchor dispatch in
#: an approximate row [MW per MW].
THRESHOLD = 0.01
#: The relative MIP gap of the rounds before the first verified plan [fraction].
ROUND_GAP = 0.05
#: With a violated branch, also its limits where it is loaded to this share [fraction].
NEAR = 0.8
#: Most rounds of the approximate MILP.
MAX_ROUNDS = 40
#: Most roundings of the LP without line limits (each with the feasibility cuts of the
#: plans before it, :func:`_quick`).
QUICK_ROUNDS = 10
#: ``quick=None`` tries the quick plan from this many buses on. On case9241pegase the exact
#: relaxation of a 217-site kernel took 86 s, its rounding found no plan, and the cuts the
#: quick rounds gathered brought both within the limit (a plan after 450 s); on ACTIVSg2000
#: (2,000 buses) the exact relaxation takes seconds and the quick rounds, refused, cost 30 s.
QUICK_MIN_BUSES = 5000


@dataclass
class RowApprox:
    """How a model's line limits are approximated (held as ``model_state(m).row_approx``).

    Attributes
    ----------
    threshold
        PTDF entries at most this in size are dropped [MW per MW].
    anchor
        The anchor dispatch per (period, snapshot): generator outputs in the order of the
        model's injection maps (``injection_maps(m)["gens"]``) [MW].
    exact
        Branch positions whose rows are exact.
    """

    threshold: float
    anchor: dict
    exact: set = field(default_factory=set)


@dataclass
class ApproxInfo:
    """What the method did (for the plan's notes and the benchmarks)."""

    lp_bound_usd: float | None = None
    lp_time_s: float = 0.0
    rounds: int = 0
    repairs_feasible: int = 0
    exact_branches: int = 0
    limits: int = 0
    first_plan_s: float | None = None
    #: (seconds since the method started, objective [USD]) of each better verified plan
    plans: list = field(default_factory=list)
    best_usd: float | None = None
    gap: float | None = None
    stopped: str = ""
    time_s: float = 0.0
    #: the rounding's figures; None when no rounding was tried
    rounding: _rounding.RoundingInfo | None = None
    #: whether the rounded plan passed the exact network's check
    rounded_ok: bool = False
    #: the quick rounding (of the LP without line limits); None when not tried
    quick: _rounding.RoundingInfo | None = None
    #: whether the quick rounded plan passed the exact network's check
    quick_ok: bool = False
    #: LPs of the quick rounding, and the feasibility cuts they gained from the network
    quick_rounds: int = 0
    quick_cuts: int = 0
    #: seconds the quick plan's rounds took (LPs, roundings and repairs)
    quick_time_s: float = 0.0

    def note(self) -> str:
        """One line for the plan's notes."""
        first = (
            f"the first verified plan after {self.first_plan_s:,.1f} s"
            if self.first_plan_s is not None
            else "no verified plan"
        )
        gap = f" (gap {self.gap:.3%} to the LP bound)" if self.gap is not None else ""
        rounded = _rounding_note(
            self.quick,
            f"without line limits ({self.quick_rounds} round(s), {self.quick_cuts} feasibility "
            "cuts)",
            self.quick_ok,
            self.quick_time_s,
        ) + _rounding_note(
            self.rounding,
            "with its line limits",
            self.rounded_ok,
            self.rounding.time_s if self.rounding else 0.0,
        )
        return (
            f"approximate network rows (PTDF entries up to {THRESHOLD:g} held at the LP "
            f"relaxation's dispatch; bound {_usd(self.lp_bound_usd)}): {self.rounds} MILP "
            f"round(s), {self.limits:,} approximate limits, {self.exact_branches} branch(es) "
            f"made exact; every plan verified and its dispatch re-solved on the exact "
            f"network ({self.repairs_feasible} feasible); {first}; best {_usd(self.best_usd)}"
            f"{gap}{rounded}; {self.stopped}"
        )


def _rounding_note(rd: _rounding.RoundingInfo | None, what: str, ok: bool, secs: float) -> str:
    """The note's part on one rounding (``rd``: its figures, None when not tried)."""
    if rd is None:
        return ""
    out = f"; rounding an LP {what} with targets {rd.margin:.0%} higher ({secs:,.1f} s): "
    if not rd.found:
        return out + f"no plan, {rd.stopped}"
    return out + f"{rd.sites} sites, verified {'and kept' if ok else 'and refused'}"


def _usd(v: float | None) -> str:
    """``v`` [USD] in billions for the note (``n/a`` when None or not finite)."""
    if v is None or not math.isfinite(v):
        return "n/a"
    return f"{v / 1e9:,.3f} bn USD"


def wanted(d: ModelData, setting: str) -> bool:
    """Whether ``d`` is solved by this method (``setting``: ``auto``, ``on`` or ``off``)."""
    if setting == "off" or d.goal.sense != "min_cost" or not d.grid.enabled:
        return False
    if d.grid.formulation != "ptdf" or not d.grid.line_limits:
        return False
    return setting == "on" or len(d.grid.network.bus_ids) >= AUTO_MIN_BUSES


def anchor_of(m: pyo.ConcreteModel, d: ModelData) -> dict:
    """The dispatch of ``m``'s loaded solution per (period, snapshot), in the order of its
    injection maps [MW]."""
    from siting.model.grid import injection_maps
    from siting.solve.lazy import bulk_values, flow_variables

    snaps = list(d.horizon.snapshots.index)
    n_g = len(injection_maps(m)["gens"])
    p = bulk_values(flow_variables(m, d)["p"]).reshape(d.horizon.n_years, len(snaps), n_g)
    return {(t, h): p[t, i].copy() for t in range(d.horizon.n_years) for i, h in enumerate(snaps)}


def _snapshot(m: pyo.ConcreteModel) -> list:
    """(variable, value) of every variable of ``m``: a plan to put back later."""
    return [(v, v.value) for v in m.component_data_objects(pyo.Var)]


def _exactify(mh: pyo.ConcreteModel, d: ModelData, branches: set[int]) -> int:
    """Give ``branches`` exact rows in the approximate model ``mh``: their approximate
    limits are dropped and the same (period, snapshot) limits added exactly. Returns how
    many branches were new."""
    from siting.solve.lazy import _add_limits

    approx: RowApprox = model_state(mh).row_approx
    new = set(branches) - approx.exact
    if not new:
        return 0
    approx.exact |= new
    keys = model_state(mh).limit_key
    redo = set()
    gone = []
    for con, (br, t, h) in list(keys.items()):
        if br in new and con.active:
            con.deactivate()
            gone.append(con)
            redo.add((br, t, h))
    told.rows_removed(mh, gone)
    model_state(mh).monitored -= redo
    _add_limits(mh, d, sorted(redo, key=lambda x: (x[1], str(x[2]), x[0])))
    return len(new)


def solve_approximate(
    d: ModelData,
    build: Callable[[ModelData], pyo.ConcreteModel],
    solve_fn: Callable[..., SolveResult],
    *,
    mip_gap: float,
    clock: Clock | None = None,
    progress: Callable[[str], None] | None = None,
    round_first: bool = True,
    started: float | None = None,
    quick: bool | None = None,
) -> tuple[pyo.ConcreteModel, ModelData, SolveResult, ApproxInfo] | None:
    """Solve ``d`` with approximate network rows (see the module docstring).

    Parameters
    ----------
    d
        The model's data.
    build
        ``build(data) -> model`` (the baseline constants bound in).
    solve_fn
        ``solve_fn(m, highs_options=...) -> SolveResult`` (gap, threads and the run's clock
        bound in).
    mip_gap
        The plan's relative gap target [fraction].
    clock
        The run's clock: its deadline holds for the whole method.
    progress
        Called with each stage's name.
    round_first
        Look for a first plan rounded from an LP with headroom
        (:mod:`siting.solve.rounding`) before the MILP rounds.
    quick
        Try the quick plan first (:func:`_quick`: rounded from the LP without line limits);
        None: on grids of :data:`QUICK_MIN_BUSES` buses and more (where the exact
        relaxation's dense rows take minutes).
    started
        ``time.perf_counter()`` at the start of the caller's method: the plans' times
        (``first_plan_s``, ``plans``) count from it (default: this call's start). The
        candidate kernel passes its own start, so that its LP relaxation counts too.

    Returns
    -------
    (model, data, result, info) or None
        The model holding the best verified plan (exact rows), ``d``, its result (bound and
        gap: the exact LP relaxation's), and what was done; a result without a plan
        (``no_solution``, ``maxTimeLimit``) when the deadline came first; None when the LP
        relaxation or the approximate MILP had no solution for another reason (the caller
        then solves the exact model, which says why).
    """
    from siting.solve import kernel, lazy

    say = progress or (lambda _s: None)
    t_lp = time.perf_counter()
    run = _Run(d, build, solve_fn, mip_gap, clock, t_lp, t_lp if started is None else started)
    info = run.info

    # 1. the exact LP relaxation: the bound, and the anchor dispatch
    say("approximate network: exact LP relaxation")
    m = build(d)
    saved = lazy._relax(m)
    try:
        if quick is None:
            quick = len(d.grid.network.bus_ids) >= QUICK_MIN_BUSES
        if round_first and quick:
            # 0. a quick plan from the LP without line limits (see _quick)
            within = _quick_plan(run, m, saved, say)
            if within is not None:
                return _answer(d, *within, mip_gap, info, t_lp)
            say("approximate network: exact LP relaxation")
        lp, _li = lazy.solve_lazy(m, d, run.lp_fn, clock=clock)
        info.lp_time_s = time.perf_counter() - t_lp
        z_lp = lp.objective if lp.has_solution else None
        solved = z_lp is not None
        if z_lp is not None:
            z = float(z_lp)
            info.lp_bound_usd = z
            anchor = anchor_of(m, d)
            # 1b. a first plan rounded from an LP with headroom (siting.solve.rounding)
            rd = _rounded(run, m, z, say) if round_first else None
    finally:
        lazy._restore(saved)
    if not solved:
        return _unsolved(run, m, lp)

    if rd is not None and rd.found:
        # verified in the same model: it holds the exact limits found so far and HiGHS's
        # basis, and no repair model is built for a plan that is within the gap
        run.best, info.rounded_ok, _b, _c = run.check(
            m, m, kernel._decisions(m, d.campus.module_mw), run.best
        )
    del m, saved  # (kept alive by best when it holds a rounded plan)
    if run.best is not None and _gap(run.best[0], z) <= mip_gap + 1e-12:
        info.stopped = "stopped within the MIP gap of the bound (the rounded plan)"
        return _answer(d, run.best, z, mip_gap, info, t_lp)
    if run.mr is None:
        run.mr = build(d)  # the repair model: exact rows
    return _milp_rounds(run, anchor, z, lp, say)


#: A verified plan as the method holds it (:func:`_keep`): (objective [USD], its variables'
#: values [(variable, value)], its result, the model holding it).
_Plan: TypeAlias = tuple[float, list, SolveResult, pyo.ConcreteModel]
#: The method's answer: (model, data, result, figures).
_Answer: TypeAlias = tuple[pyo.ConcreteModel, ModelData, SolveResult, ApproxInfo]


@dataclass
class _Run:
    """What the steps of :func:`solve_approximate` share.

    Attributes
    ----------
    d, build, solve_fn, mip_gap, clock
        :func:`solve_approximate`'s arguments.
    t_lp
        ``time.perf_counter()`` at the call's start [s].
    t0
        ... at the start the plans' times count from [s].
    info
        What the method did.
    best
        The best verified plan: (objective [USD], its values, its result, its model).
    mr
        The repair model (exact rows), built when first needed.
    z0
        The bound of the LP without line limits (a relaxation of the exact one) [USD].
    first_lp
        Whether the next LP of :meth:`lp_fn` is the first.
    """

    d: ModelData
    build: Callable[[ModelData], pyo.ConcreteModel]
    solve_fn: Callable[..., SolveResult]
    mip_gap: float
    clock: Clock | None
    t_lp: float
    t0: float
    info: ApproxInfo = field(default_factory=ApproxInfo)
    best: _Plan | None = None
    mr: pyo.ConcreteModel | None = None
    z0: float | None = None
    first_lp: bool = True

    def expired(self) -> bool:
        """Whether the run's deadline has passed."""
        return self.clock is not None and self.clock.expired()

    def lp_fn(self, mm: pyo.ConcreteModel) -> SolveResult:
        """One LP of the relaxation."""
        from siting.solve import kernel

        # the first LP from scratch by interior point and crossover (kernel.LP_OPTIONS: 4x
        # faster than dual simplex on a 10,000-site relaxation); the rounds after it, rows
        # added, by HiGHS's choice: the simplex from the last basis
        opts = kernel.LP_OPTIONS if self.first_lp else {"solver": "choose"}
        self.first_lp = False
        return self.solve_fn(mm, highs_options=opts)

    def repair_fn(self, mm: pyo.ConcreteModel, opts: dict | None = None) -> SolveResult:
        """One LP of a repair model (``opts``: HiGHS options)."""
        return self.solve_fn(mm, highs_options=opts)

    def check(
        self,
        mr: pyo.ConcreteModel,
        src: pyo.ConcreteModel,
        fixed: list,
        best: _Plan | None,
        conflicts: int = 0,
    ) -> tuple[_Plan | None, bool, list, list]:
        """Verify a plan as every plan of the method is: its decisions ``fixed`` (variables
        of ``mr``) pinned in ``mr`` and the dispatch re-solved with every violated exact
        limit (:func:`siting.solve.kernel._repair`; ``src``: the model the decisions came
        from, for the feasibility cuts). Returns (the best plan so far, whether this one
        passed, the limits and the feasibility cuts of HiGHS's proofs when it did not)."""
        from siting.solve import kernel

        r1, _i, blocking, cuts = kernel._repair(
            mr, src, self.d, fixed, self.repair_fn, self.clock, conflicts=conflicts
        )
        ok = _verified(r1, mr)
        return (_keep(best, r1, mr, self.info, self.t0) if ok else best), ok, blocking, cuts


def _quick_plan(
    run: _Run, m: pyo.ConcreteModel, saved: list, say: Callable[[str], None]
) -> tuple[_Plan, float] | None:
    """Step 0: the quick plan (:func:`_quick`) into ``run``; the plan and its bound [USD]
    when it is within the MIP gap of that bound (then the method stops there), else None."""
    say("approximate network: rounding without line limits")
    t_q = time.perf_counter()
    run.best, run.z0, run.mr = _quick(
        m, saved, run.d, run.build, run.lp_fn, run.solve_fn, run.check, run.clock, run.info
    )
    run.info.quick_time_s = time.perf_counter() - t_q
    best, z0 = run.best, run.z0  # (_quick: a plan only after an LP, so with its bound)
    if best is not None and z0 is not None and _gap(best[0], z0) <= run.mip_gap + 1e-12:
        run.info.stopped = (
            "stopped within the MIP gap of the bound (the plan rounded without "
            "line limits; bound: the LP relaxation without them, with the cuts)"
        )
        run.info.lp_bound_usd = z0
        return best, z0
    return None


def _rounded(
    run: _Run, m: pyo.ConcreteModel, z: float, say: Callable[[str], None]
) -> _rounding.RoundingInfo | None:
    """Step 1b: round the relaxed ``m`` (holding the exact LP relaxation, bound ``z``
    [USD]) with headroom, unless the best plan is within the MIP gap already."""
    if run.best is None or _gap(run.best[0], z) > run.mip_gap + 1e-12:
        say("approximate network: rounding")
        rd = _rounding.round_with_headroom(m, run.d, run.solve_fn, clock=run.clock)
        run.info.rounding = rd
        return rd
    return None


def _unsolved(run: _Run, m: pyo.ConcreteModel, lp: SolveResult) -> _Answer | None:
    """The method's answer when the exact LP relaxation ``lp`` has no solution."""
    if run.best is not None and run.z0 is not None:
        # out of time (or trouble) in the exact relaxation, with a verified plan: the
        # bound is the LP's without line limits
        run.info.stopped = "stopped by the time limit in the exact LP relaxation"
        run.info.lp_bound_usd = run.z0
        return _answer(run.d, run.best, run.z0, run.mip_gap, run.info, run.t_lp)
    if lp.termination != "maxTimeLimit":
        return None
    return _no_plan(m, run.d, lp, run.info, run.t_lp, bound=lp.bound)


def _approximate_model(run: _Run, anchor: dict) -> pyo.ConcreteModel:
    """Step 2: the approximate model (rows held at the ``anchor`` dispatch [MW]), seeded
    with the limits of its own LP rounds."""
    from siting.solve import lazy

    mh = run.build(run.d)
    model_state(mh).row_approx = RowApprox(THRESHOLD, anchor)
    saved = lazy._relax(mh)
    try:
        lazy.solve_lazy(mh, run.d, run.solve_fn, clock=run.clock, near=NEAR)
    finally:
        lazy._restore(saved)
    return mh


def _milp_rounds(
    run: _Run, anchor: dict, z: float, lp: SolveResult, say: Callable[[str], None]
) -> _Answer | None:
    """Steps 2-3: rounds of the approximate MILP, each plan verified on the exact network
    (``z``: the exact LP relaxation's bound [USD]; ``lp``: its result)."""
    from siting.solve import kernel, lazy

    d, info, mip_gap, mr = run.d, run.info, run.mip_gap, run.mr
    # 2. the approximate model, seeded by its own LP rounds; 3. rounds, each verified
    say("approximate network: MILP rounds")
    mh = _approximate_model(run, anchor)
    # (the rounded plan is not offered to the rounds as a start: HiGHS would stop on it at
    # the rounds' loose gap, and those rounds are there to find the limits that bind)
    round_gap = max(mip_gap, ROUND_GAP)
    found = lazy.LazyInfo()
    last = lp
    while info.rounds < MAX_ROUNDS and not run.expired():
        info.rounds += 1
        if run.clock is not None:
            run.clock.at_round(f"approximate round {info.rounds}")
        r = run.solve_fn(mh, highs_options={"mip_rel_gap": round_gap})
        last = r
        if not r.has_solution:
            break
        fixed = kernel._carry(kernel._decisions(mh, d.campus.module_mw), mr)
        converged = not _would_add(mh, d)
        kept, ok, blocking, _cuts = run.check(
            mr, mh, fixed, run.best, conflicts=kernel.CONFLICTS if converged else 0
        )
        if ok:
            assert kept is not None  # (check: a plan that passed is kept)
            if kept is not run.best:
                set_mip_start(mh, lazy._integer_values(mh))
            run.best = kept
            if _gap(kept[0], z) <= mip_gap + 1e-12:
                info.stopped = "stopped within the MIP gap of the bound"
                break
        if converged:
            if not ok:
                if not _exactify(mh, d, {br for br, _t, _h in blocking}):
                    info.stopped = "stopped: the exact network's proof named no new branch"
                    break
                info.exact_branches = len(model_state(mh).row_approx.exact)
                continue
            if round_gap > mip_gap:
                round_gap = mip_gap
                continue
            info.stopped = "stopped at the approximate model's optimum"
            break
        lazy._round(mh, d, found, near=NEAR)
        info.limits = found.limits_added
        if ok and round_gap > mip_gap:
            round_gap = mip_gap  # a verified plan: close the gap from here
    return _after_rounds(run, last, z)


def _after_rounds(run: _Run, last: SolveResult, z: float) -> _Answer | None:
    """The method's answer after the MILP rounds (``last``: the last solve's result; ``z``:
    the bound [USD])."""
    info = run.info
    if not info.stopped:
        info.stopped = (
            "stopped by the time limit"
            if run.expired()
            else (
                f"stopped after {MAX_ROUNDS} rounds"
                if info.rounds >= MAX_ROUNDS
                else f"stopped: the approximate MILP ended {last.status} ({last.termination})"
            )
        )
    info.time_s = time.perf_counter() - run.t_lp
    if run.best is None:
        if run.expired() or last.termination == "maxTimeLimit":
            return _no_plan(run.mr, run.d, last, info, run.t_lp, bound=z)
        return None
    return _answer(run.d, run.best, z, run.mip_gap, info, run.t_lp)


def _quick(
    m: pyo.ConcreteModel,
    saved: list,
    d: ModelData,
    build: Callable[[ModelData], pyo.ConcreteModel],
    lp_fn: Callable[[pyo.ConcreteModel], SolveResult],
    solve_fn: Callable[..., SolveResult],
    check: Callable[..., tuple[_Plan | None, bool, list, list]],
    clock: Clock | None,
    info: ApproxInfo,
) -> tuple[_Plan | None, float | None, pyo.ConcreteModel | None]:
    """A quick plan: the LP relaxation without line limits (their dense rows made the exact
    relaxation take minutes on a 10,000-bus grid), rounded with headroom
    (:func:`siting.solve.rounding.round_with_headroom`) and verified on the exact network
    in a repair model (``check``, :func:`siting.solve.kernel._repair`). When the network
    cannot host the plan, HiGHS's proofs of that become feasibility cuts in the campuses'
    capacities (sparse rows, :func:`siting.solve.kernel._farkas_proofs`), which join the LP,
    and it is rounded again: at most :data:`QUICK_ROUNDS` times.

    ``m`` is relaxed (integers continuous; ``saved``: :func:`siting.solve.lazy._relax`'s
    list of them) and holds no line limit yet. The cuts stay in it: every plan meets them,
    so the LP with them is still a relaxation of the whole model.

    Returns
    -------
    (best, z0, mr)
        The verified plan (as :func:`_keep` holds it) or None; the best bound of those LPs
        [USD] or None; the repair model (None when none was built).
    """
    from siting.solve import kernel

    best, z0, mr = None, None, None
    ints = [v for v, *_ in saved]  # (m is relaxed: these are its integers)
    for k in range(QUICK_ROUNDS):
        if clock is not None:
            if clock.expired():
                break
            clock.at_round(f"rounding without line limits {k + 1}")
        lp0 = lp_fn(m)
        if not (lp0.has_solution and lp0.objective is not None and lp0.status == "optimal"):
            break
        z0 = float(lp0.objective) if z0 is None else max(z0, float(lp0.objective))
        rq = _rounding.round_with_headroom(m, d, solve_fn, clock=clock, lazy=False)
        info.quick, info.quick_rounds = rq, k + 1
        if not rq.found:
            break
        if mr is None:
            mr = build(d)
        fixed = kernel._carry(kernel._decisions(m, d.campus.module_mw, ints), mr)
        best, info.quick_ok, _blocking, cuts = check(mr, m, fixed, best, kernel.CONFLICTS)
        if info.quick_ok or not cuts:
            break
        if m.component("feasibility_cuts") is None:
            m.feasibility_cuts = pyo.ConstraintList()
        told.rows_added(m, [m.feasibility_cuts.add(expr) for expr in cuts])
        info.quick_cuts += len(cuts)
    return best, z0, mr


def _answer(
    d: ModelData, best: _Plan, z: float, mip_gap: float, info: ApproxInfo, t0: float
) -> _Answer:
    """The model holding the best verified plan, and its result (gap to the bound ``z``)."""
    u, values, r1, mr = best
    info.time_s = time.perf_counter() - t0
    for v, x in values:
        v.set_value(x, skip_validation=True)
    gap = _gap(u, z)
    info.best_usd, info.gap = u, gap
    proven = gap <= mip_gap + 1e-12
    result = dataclasses.replace(
        r1,
        status="optimal" if proven else "feasible",
        termination=(
            "convergenceCriteriaSatisfied"
            if proven
            else ("maxTimeLimit" if "time limit" in info.stopped else "approximationLimit")
        ),
        objective=u,
        bound=z,
        gap=gap,
        time_s=info.time_s,
        notes=[info.note()],
    )
    return mr, d, result, info


def _verified(r1: SolveResult, mr: pyo.ConcreteModel) -> bool:
    """Whether the repair LP ``r1`` of ``mr`` found a dispatch meeting every exact limit
    (clears ``mr``'s mark of a limit no decision could meet)."""
    impossible = model_state(mr).take_lazy_impossible()
    return r1.has_solution and r1.objective is not None and not impossible


def _keep(
    best: _Plan | None, r1: SolveResult, mr: pyo.ConcreteModel, info: ApproxInfo, t0: float
) -> _Plan:
    """Count the verified plan ``r1`` held by ``mr``; return it when it is cheaper than
    ``best`` (objective [USD], values, result, model), else ``best``."""
    info.repairs_feasible += 1
    assert r1.objective is not None  # (_verified: a plan with an objective value)
    u = float(r1.objective)
    if best is not None and u >= best[0]:
        return best
    now = time.perf_counter() - t0
    info.plans.append((now, u))
    if info.first_plan_s is None:
        info.first_plan_s = now
    return (u, _snapshot(mr), r1, mr)


def _gap(u: float, z: float) -> float:
    """The relative gap of objective ``u`` to bound ``z`` [fraction] (0 below it)."""
    return max(0.0, u - z) / max(abs(u), 1.0)


def _would_add(m: pyo.ConcreteModel, d: ModelData) -> bool:
    """Whether the loaded solution of ``m`` violates a limit ``m`` does not have yet."""
    from siting.solve.lazy import _violations, added_rating_values, solution_flows

    return bool(_violations(m, d, solution_flows(m, d), added_rating_values(m, d)))


def _no_plan(
    m: pyo.ConcreteModel,
    d: ModelData,
    r: SolveResult,
    info: ApproxInfo,
    t0: float,
    bound: float | None = None,
) -> tuple[pyo.ConcreteModel, ModelData, SolveResult, ApproxInfo]:
    """The method's answer when the deadline came before any verified plan."""
    info.time_s = time.perf_counter() - t0
    if not info.stopped:
        info.stopped = "stopped by the time limit"
    out = dataclasses.replace(
        r,
        status="no_solution",
        termination="maxTimeLimit",
        objective=None,
        bound=bound,
        gap=None,
        time_s=info.time_s,
        notes=[*r.notes, info.note()],
    )
    return m, d, out, info
