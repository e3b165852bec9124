"""A first plan by rounding an LP with headroom: whole modules that the exact network hosts.

The approximate MILP rounds of :mod:`siting.solve.approx` find plans that the exact network
rejects until their lazy limits have settled: on ACTIVSg2000 (2,000 buses, 600 sites, 6 GW)
seven rounds and about four minutes before the first plan that met every limit. This gets a
plan from a few more LPs on the exact network instead:

1. The exact LP relaxation (already solved, with its lazy limits) is solved again with every
   year's target raised by :data:`MARGIN`: the LP fills the network to its limits, so the
   campuses of the plain relaxation cannot take their fractional modules rounded (tried: a
   MILP over the modules of the sites it uses was infeasible; over those sites with the
   modules free, HiGHS found no plan in 60 s). With headroom, rounding down leaves room.
2. Each site's cumulative capacity is rounded down to whole modules (never up: a module
   more than the LP's is load the network may not carry); a site below the minimum campus is
   dropped. A year still short of its target is raised again by its shortfall and a module,
   and the LP solved again, at most :data:`MAX_LPS` times.
3. What the headroom left above the targets is trimmed: from the last year back, a module
   is delayed a year (in the last year: dropped) where the plain relaxation wanted it
   least, while every year stays at its target.
4. The integers follow: a site opens the first year it has a module, keeps the technology
   the LP gave most capacity, builds the differences; an upgrade or pipeline the LP starts
   is built in the first year it does.

The caller verifies the plan on the exact network (its dispatch re-solved with every
violated limit, :func:`siting.solve.kernel._repair`), as every plan of the method is: a
rounding that the network cannot host is no plan, and the method goes on without it.
Written by hand: HiGHS's own heuristics see neither the lazy limits nor the headroom.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import pyomo.environ as pyo

from siting.core.clock import Clock
from siting.model.data import ModelData
from siting.model.evaluate import value_required
from siting.model.state import model_state
from siting.solve import told
from siting.solve.highs import SolveResult, retry_cold

#: Each year's target is raised by this share for the LP the plan is rounded from [fraction].
MARGIN = 0.1
#: Most LPs (each raises the years still short by their shortfall and a module).
MAX_LPS = 4
#: Longest LP [s] (the method goes on without a rounded plan).
LP_CAP_S = 30.0
#: LP values at most this count as zero.
TOL = 1e-6


@dataclass
class RoundingInfo:
    """What the rounding did (for the plan's notes and the benchmarks)."""

    margin: float = 0.0
    lps: int = 0
    #: modules delayed a year or dropped where the headroom left more than the targets
    trimmed: int = 0
    lp_usd: float | None = None
    sites: int = 0
    found: bool = False
    time_s: float = 0.0
    stopped: str = ""


def _trim(n: dict, targets: list, mod: float, ub: dict, min_mod: int, wanted: dict, T: int) -> int:
    """Delay or drop modules of ``n`` (cumulative modules per site and period) above the
    targets [MW]; return how many were moved."""
    moved = 0
    last = T - 1
    for t in range(last, -1, -1):
        while mod * sum(x[t] for x in n.values()) - targets[t] >= mod - 1e-6:
            best = None
            for s, x in n.items():
                prev = x[t - 1] if t > 0 else 0
                if x[t] <= prev:
                    continue  # no module built at t to delay
                if t == last:
                    if x[t] - 1 < min_mod and x[t] - 1 > 0:
                        continue
                elif x[t + 1] - (x[t] - 1) > ub[s, t + 1]:
                    continue  # the next year's build limit
                key = x[t] - wanted[s][t]
                if best is None or key > best[0]:
                    best = (key, s)
            if best is None:
                break
            n[best[1]][t] -= 1
            moved += 1
    return moved


def round_with_headroom(
    m: pyo.ConcreteModel,
    d: ModelData,
    solve_fn: Callable[..., SolveResult],
    *,
    clock: Clock | None = None,
    margin: float = MARGIN,
    lazy: bool = True,
) -> RoundingInfo:
    """Set integral values on the integers of the relaxed model ``m`` (see the module
    docstring).

    Parameters
    ----------
    m
        The relaxed model (integers continuous), holding the exact LP relaxation's solution
        and its lazy limits.
    d
        Its data.
    solve_fn
        ``solve_fn(m, highs_options=...) -> SolveResult``: one LP solve (the run's clock
        bound in).
    clock
        The run's clock.
    margin
        Share the targets are first raised by [fraction].
    lazy
        Add the line limits each LP violates (:func:`siting.solve.lazy.solve_lazy`); False:
        each LP is solved once with the rows ``m`` has (the quick plan of
        :mod:`siting.solve.approx`, rounded from the LP without line limits).

    Returns
    -------
    RoundingInfo
        ``found``: ``m``'s integer variables hold the rounded plan (to be verified).
    """
    from siting.model.sites import build_bounds, modules_held

    t0 = time.perf_counter()
    info = RoundingInfo()

    def finish(stopped: str) -> RoundingInfo:
        info.stopped = stopped
        info.time_s = time.perf_counter() - t0
        return info

    if getattr(m, "target", None) is None or not len(d.policy.targets_mw):
        return finish("no targets to round to")
    mod = float(d.campus.module_mw)
    whole = _Whole(
        targets=[float(x) for x in d.policy.targets_mw],
        mod=mod,
        T=d.horizon.n_years,
        holds=modules_held(d),
        min_mod=math.ceil(d.campus.min_campus_mw / mod - 1e-9) if d.campus.min_campus_mw > 0 else 0,
    )
    # the plain relaxation's capacities: which modules it wanted least [modules]
    wanted = {s: [max(0.0, value_required(m.cap[s, t])) / mod for t in range(whole.T)] for s in m.S}
    ub = build_bounds(d)

    # 1. the LP with headroom, raised until its capacities rounded down meet every target
    n, stopped = _headroom_lps(m, d, solve_fn, whole, info, clock=clock, margin=margin, lazy=lazy)
    if n is None:
        return finish(stopped)

    # 3. what the headroom left above the targets, trimmed: from the last year back, a
    # module is delayed a year (the last year: dropped) where the plain relaxation wanted
    # it least, while the year stays at its target (less load at a bus, never more)
    info.trimmed = _trim(n, whole.targets, mod, ub, whole.min_mod, wanted, whole.T)

    # 4. the integers
    info.sites = _set_integers(m, d, n)
    info.found = True
    return finish(f"{info.sites} sites in whole modules")


@dataclass
class _Whole:
    """What whole modules mean for a rounding.

    Attributes
    ----------
    targets
        National IT target per period [MW].
    mod
        Module size [MW].
    T
        Number of periods.
    holds
        Most modules each site holds.
    min_mod
        Fewest modules of an open campus (0: no minimum).
    """

    targets: list[float]
    mod: float
    T: int
    holds: dict[str, int]
    min_mod: int


def _headroom_lps(
    m: pyo.ConcreteModel,
    d: ModelData,
    solve_fn: Callable[..., SolveResult],
    whole: _Whole,
    info: RoundingInfo,
    *,
    clock: Clock | None,
    margin: float,
    lazy: bool,
) -> tuple[dict | None, str]:
    """Step 1-2: the LP with targets raised (first by ``margin`` [fraction]), again until
    its capacities rounded down to whole modules meet every target.

    Returns
    -------
    (n, stopped)
        Cumulative whole modules per site and period, and ""; or None and why not.
    """
    from siting.solve.lazy import solve_lazy

    targets, mod, T = whole.targets, whole.mod, whole.T
    extra = [margin * x for x in targets]  # [MW]
    n: dict = {}
    # the raised targets as rows over a column pinned by its bounds: raising them again is
    # a change of bounds, which HiGHS re-solves from its basis (deleting and adding rows
    # instead, its warm-started simplex once ran over a minute on ACTIVSg2000)
    m._round_extra = pyo.Var(m.T, bounds=lambda _m, t: (extra[t], extra[t]))
    m._round_margin = pyo.Constraint(
        m.T, rule=lambda mm, t: mm.total_cap[t] >= targets[t] + mm._round_extra[t]
    )
    told.rows_added(m, m._round_margin.values())  # (its column comes with its rows)

    def lp(mm: pyo.ConcreteModel) -> SolveResult:
        # warm-started after a bound change, HiGHS once ended in error here
        return retry_cold(mm, lambda: solve_fn(mm, highs_options={"time_limit": LP_CAP_S}))

    try:
        for attempt in range(MAX_LPS):
            told.set_bounds(m, [(m._round_extra[t], extra[t], extra[t]) for t in m.T])

            r = solve_lazy(m, d, lp, lp_first=False, clock=clock)[0] if lazy else lp(m)
            ok = r.has_solution and r.status == "optimal"
            ok = ok and not model_state(m).take_lazy_impossible()
            info.lps = attempt + 1
            if not ok:
                return None, (
                    "out of time"
                    if clock is not None and clock.expired()
                    else f"the LP with headroom ended {r.status}"
                )
            info.lp_usd = r.objective
            info.margin = max(
                (e / x for e, x in zip(extra, targets, strict=True) if x > 0), default=0.0
            )
            n = _rounded_down(m, whole)
            short = [targets[t] - mod * sum(n[s][t] for s in m.S) for t in range(T)]
            if all(x <= 1e-6 for x in short):
                break
            extra = [e + (x + mod if x > 1e-6 else 0.0) for e, x in zip(extra, short, strict=True)]
        else:
            return None, f"whole modules fell short of the targets after {MAX_LPS} LPs"
    finally:
        # (the column goes with its rows: Pyomo drops a column no row or objective names)
        told.rows_removed(m, m._round_margin.values())
        m.del_component("_round_margin")
        m.del_component("_round_extra")
    return n, ""


def _rounded_down(m: pyo.ConcreteModel, whole: _Whole) -> dict[str, list[int]]:
    """Step 2: every site's cumulative capacity rounded down to whole modules; a site below
    the minimum campus dropped (never raised: a module more than the LP's is load the
    network may not carry)."""
    mod, T = whole.mod, whole.T
    n = {
        s: [
            min(math.floor(max(0.0, value_required(m.cap[s, t])) / mod + TOL), whole.holds[s])
            for t in range(T)
        ]
        for s in m.S
    }
    for s in m.S:
        if 0 < n[s][T - 1] < whole.min_mod:
            n[s] = [0] * T
    return n


def _put(v: pyo.Var, x: float) -> None:
    """Give ``v`` the value ``x`` (no bound check)."""
    v.set_value(float(x), skip_validation=True)


def _set_integers(m: pyo.ConcreteModel, d: ModelData, n: dict[str, list[int]]) -> int:
    """Step 4: the integers of ``m`` from the modules ``n``: a site opens the first year it
    has a module, keeps the technology the LP gave most capacity, builds the differences;
    upgrades and pipelines follow. Returns the number of sites opened."""
    from siting.model.sites import techs_by_site

    techs_of = techs_by_site(d)
    T = d.horizon.n_years
    last = T - 1
    opened = [s for s in m.S if n[s][last] > 0]
    for s in m.S:
        o = n[s][last] > 0
        first = next((t for t in range(T) if n[s][t] > 0), None)
        _put(m.open[s], 1.0 if o else 0.0)
        for t in range(T):
            _put(m.opens[s, t], 1.0 if o and t == first else 0.0)
            _put(m.build[s, t], float(n[s][t] - (n[s][t - 1] if t > 0 else 0)))
        best = max(techs_of[s], key=lambda k: pyo.value(m.tech[s, k]) or 0.0)
        for k in techs_of[s]:
            _put(m.tech[s, k], 1.0 if o and k == best else 0.0)
    _set_upgrades(m)
    if getattr(m, "pipe", None) is not None:
        for (s, _w), v in m.pipe.items():
            _put(v, 1.0 if (v.value or 0.0) > TOL and n[s][last] > 0 else 0.0)
    return len(opened)


def _set_upgrades(m: pyo.ConcreteModel) -> None:
    """Each branch and substation upgrade built in the first period the LP starts it
    (its cumulative value above :data:`TOL`), else not at all."""
    for name in ("up_branch", "up_bus"):
        comp = getattr(m, name, None)
        if comp is None:
            continue
        by: dict = {}
        for (b, t), v in comp.items():
            by.setdefault(b, []).append((t, v))
        for items in by.values():
            items.sort(key=lambda tv: tv[0])
            acc, first = 0.0, None
            for t, v in items:
                acc += v.value or 0.0
                if first is None and acc > TOL:
                    first = t
            for t, v in items:
                _put(v, 1.0 if t == first else 0.0)
