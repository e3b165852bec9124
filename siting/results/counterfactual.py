"""Why here, by re-solve: what the plan would cost without each chosen site.

For each chosen site ``s`` the solved model is solved again with ``open[s]`` fixed to 0
(every dominance cut ``open[B] <= open[s]`` set aside meanwhile: with ``s`` forbidden, a
site it dominates is a fair alternative), warm-started with the plan's other siting
decisions (``open`` and ``tech`` of every other site, a partial MIP start HiGHS completes:
:func:`siting.solve.highs.set_mip_start`), under its own time limit and the base run's
gap. The solve path is the plan's own (the caller's ``run``: the lazy loop where the model
needs it). Afterwards the model is left as it was: ``open[s]`` freed, the cuts active
again, every variable's value restored.

Per chosen site: ``cost_without_usd`` = the re-solve's objective less the plan's [USD,
present value], the sites that took its MW (``taken_by``: last year's IT MW above the
plan's) and the other sites the re-solve shrank (``also_shrunk``: a re-solve may move more
than the one site's MW), and the gaps of both solves. The gaps' worth ``gap_worth_usd`` =
``gap_base * |objective_base| + gap_without * |objective_without|`` [USD]: each solve's
objective may lie that far above its optimum, so a difference within it is "no clear cost
advantage within the solver's gap" (``clear`` False), not a figure.

:func:`wanted` decides when it runs (``solver.why_resolve``); :func:`siting.results.why.
explain` puts the result into each chosen site's sentence.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from siting.core.cells import as_float

if TYPE_CHECKING:
    import pyomo.environ as pyo

    from siting.model.data import ModelData
    from siting.results.plan import Plan
    from siting.solve.highs import SolveResult

#: ``auto`` re-solves a plan with at most this many chosen sites: one re-solve each, so
#: the added time grows with the count (12 x the per-re-solve limit at worst).
AUTO_MAX_SITES = 12
#: ... and whose model has at most this many integer columns. A count, not the base
#: solve's time: the same inputs give the same report on any machine. Models of this size
#: solve in seconds; the demo (about 11,400 integer columns, a solve of about 20 s) would
#: add about 80 s, four times its solve, so it is left to ``on``.
AUTO_MAX_INTEGERS = 2_000
#: Each re-solve's time limit: this multiple of the base solve's time [s] ...
LIMIT_FACTOR = 2.0
#: ... and at least / at most this long [s].
LIMIT_MIN_S = 10.0
LIMIT_MAX_S = 120.0
#: The re-solves' relative gap is the plan's achieved gap (when tighter than the
#: scenario's), but at least this [fraction]: a gap of 0 would chase proofs, not plans.
MIN_GAP = 1e-4

#: Columns of ``why_here.csv`` (:func:`table`).
COLUMNS = [
    "site_id",
    "it_mw_final",
    "method",
    "status",
    "cost_without_usd",
    "gap_worth_usd",
    "clear",
    "taken_by",
    "also_shrunk",
    "objective_usd",
    "objective_without_usd",
    "gap",
    "gap_without",
    "time_s",
    "mip_start",
    "unit_cost_usd_per_mw",
    "why_here",
]

#: The method, in words, for the report and the manifest.
METHOD = (
    "Each chosen site was forbidden in turn and the plan solved again (the same model and "
    "solver path, warm-started with the plan's other siting decisions, under its own time "
    "limit and the base run's gap): the difference of the two objectives is what the plan "
    "would cost without the site, and the sites whose IT MW grew took its place. A "
    "difference within the two solves' gaps' worth (each gap times its objective) is "
    "reported as no clear cost advantage."
)
#: The limits of :data:`METHOD`.
LIMITS = (
    "Each re-solve is a MILP within a gap: its objective may lie above its optimum by "
    "up to its gap's worth, as may the plan's; differences smaller than the two together "
    "are not told apart.",
    "A re-solve that ran out of time without a plan, or found none, gives no figure; the "
    "sentence then falls back to the unit-cost comparison.",
    "Candidates removed before the solve (dominated at the same bus, or outside a "
    "candidate kernel) are not offered as alternatives.",
)


def resolve_limit_s(base_solve_s: float) -> float:
    """Each re-solve's time limit [s]: :data:`LIMIT_FACTOR` x the base solve's time
    ``base_solve_s`` [s], within [:data:`LIMIT_MIN_S`, :data:`LIMIT_MAX_S`]."""
    return min(max(LIMIT_FACTOR * base_solve_s, LIMIT_MIN_S), LIMIT_MAX_S)


def wanted(
    setting: str, n_sites: int, n_integers: int, *, by_method: bool, sense: str
) -> tuple[bool, str]:
    """Whether to re-solve without each chosen site, and why (or why not), in words.

    Parameters
    ----------
    setting
        ``solver.why_resolve``: ``auto``, ``on`` or ``off``.
    n_sites
        Chosen sites.
    n_integers
        Integer columns of the plan's model.
    by_method
        Whether the candidate kernel or approximate network rows solved the plan (``auto``
        then keeps the unit-cost comparison: the model is large).
    sense
        ``min_cost`` or ``max_capacity`` (no cost to compare: never).
    """
    if sense != "min_cost":
        return False, "the objective is IT capacity, not cost: no cost to compare"
    if n_sites == 0:
        return False, "the plan builds no site"
    if setting == "off":
        return False, "solver.why_resolve is off"
    if setting == "on":
        return True, "solver.why_resolve is on"
    if by_method:
        return False, (
            "solver.why_resolve auto: the plan was solved by the candidate kernel or "
            "approximate network rows (a large model), so no re-solve"
        )
    if n_sites > AUTO_MAX_SITES:
        return False, (
            f"solver.why_resolve auto: {n_sites} chosen sites, more than {AUTO_MAX_SITES} re-solves"
        )
    if n_integers > AUTO_MAX_INTEGERS:
        return False, (
            f"solver.why_resolve auto: the model has {n_integers:,} integer columns, more "
            f"than {AUTO_MAX_INTEGERS:,} (one re-solve per chosen site would take minutes; "
            "set solver.why_resolve: on to run them)"
        )
    return True, (
        f"solver.why_resolve auto: {n_sites} chosen sites (at most {AUTO_MAX_SITES}) and "
        f"{n_integers:,} integer columns (at most {AUTO_MAX_INTEGERS:,})"
    )


def _final_it_mw(m: pyo.ConcreteModel, d: ModelData) -> dict[str, float]:
    """Each site's IT MW in the last period of the model's current solution [MW]."""
    import pyomo.environ as pyo

    last = d.horizon.n_years - 1
    return {str(s): float(pyo.value(m.cap[s, last], exception=False) or 0.0) for s in m.S}


def _start(m: pyo.ConcreteModel, site: str) -> list[tuple[Any, float]]:
    """The partial MIP start without ``site``: ``open`` and ``tech`` of every other site at
    the plan's values, ``site``'s at 0 (one value per column: pinned members share one)."""
    seen: dict[int, tuple[Any, float]] = {}
    for (s, _k), v in m.tech.items():
        x = 0.0 if s == site else round(float(v.value or 0.0))
        seen.setdefault(id(v), (v, x))
    for s, v in m.open.items():
        x = 0.0 if s == site else round(float(v.value or 0.0))
        seen.setdefault(id(v), (v, x))
    return list(seen.values())


def _moves(
    before: dict[str, float], after: dict[str, float], site: str, *, grew: bool
) -> dict[str, float]:
    """The other sites whose last-year IT MW grew (``grew``) or shrank without ``site`` ->
    the change [MW], largest first."""
    step = {s: after.get(s, 0.0) - before.get(s, 0.0) for s in after if s != site}
    kept = [(s, v) for s, v in step.items() if (v > 1e-6 if grew else v < -1e-6)]
    return dict(sorted(kept, key=lambda sv: -abs(sv[1])))


def without_each(
    m: pyo.ConcreteModel,
    d: ModelData,
    p: Plan,
    base: SolveResult,
    run: Callable[[pyo.ConcreteModel], SolveResult],
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Re-solve ``m`` without each chosen site of ``p`` (see the module docstring).

    Parameters
    ----------
    m, d
        The solved model and its data (the plan's solution loaded).
    p
        The plan (its ``sites``: ``it_mw_final``).
    base
        The plan's solve result (objective and gap [USD, fraction]).
    run
        Solves a model the plan's way (time limit and gap bound in).
    progress
        Called with each re-solve's name as it starts.

    Returns
    -------
    pandas.DataFrame
        One row per chosen site the model knows, :data:`COLUMNS` but ``method``,
        ``unit_cost_usd_per_mw`` and ``why_here`` (:func:`table` adds them).
    """
    import pyomo.environ as pyo

    saved = [(v, v.value) for v in m.component_data_objects(pyo.Var, descend_into=True)]
    before = _final_it_mw(m, d)
    cuts = list(d.campus.dominance_cuts)
    dom = m.component("dominance")
    obj0 = float(base.objective) if base.objective is not None else float("nan")
    gap0 = float(base.gap) if base.gap is not None else float("nan")
    rows: list[dict[str, Any]] = []
    chosen = [str(s) for s in p.sites.index if str(s) in before]
    try:
        for sid in chosen:
            if progress is not None:
                progress(f"why here: re-solve without {sid}")
            off = [i for i, (_b, a) in enumerate(cuts) if a == sid and dom is not None]
            for i in off:
                dom[i].deactivate()
            from siting.solve import told
            from siting.solve.highs import set_mip_start

            set_mip_start(m, _start(m, sid))
            m.open[sid].fix(0)
            told.rows_removed(m, [dom[i] for i in off])
            told.variables_changed(m, [m.open[sid]])
            t = time.perf_counter()
            try:
                r = run(m)
            finally:
                m.open[sid].unfix()
                for i in off:
                    dom[i].activate()
                told.rows_added(m, [dom[i] for i in off])
                told.variables_changed(m, [m.open[sid]])
            rows.append(_row(sid, p, r, obj0, gap0, before, _final_it_mw(m, d), t))
            for v, x in saved:  # the plan's values again, for the next start
                v.set_value(x, skip_validation=True)
    finally:
        for v, x in saved:
            v.set_value(x, skip_validation=True)
    return pd.DataFrame(rows)


def _row(
    sid: str,
    p: Plan,
    r: SolveResult,
    obj0: float,
    gap0: float,
    before: dict[str, float],
    after: dict[str, float],
    t0: float,
) -> dict[str, Any]:
    """One site's figures (see :func:`without_each`)."""
    has = r.has_solution and r.objective is not None
    obj1 = float(r.objective) if has and r.objective is not None else float("nan")
    gap1 = float(r.gap) if has and r.gap is not None else float("nan")
    worth = gap0 * abs(obj0) + gap1 * abs(obj1) if has else float("nan")
    diff = obj1 - obj0 if has else float("nan")
    taken = _moves(before, after, sid, grew=True) if has else {}
    shrunk = _moves(before, after, sid, grew=False) if has else {}
    mw = as_float(p.sites.at[sid, "it_mw_final"]) if "it_mw_final" in p.sites else before[sid]
    return {
        "site_id": sid,
        "it_mw_final": mw,
        "status": r.status,
        "cost_without_usd": diff,
        "gap_worth_usd": worth,
        "clear": bool(has and diff > worth),
        "taken_by": "; ".join(f"{s} +{v:,.0f} MW" for s, v in taken.items()),
        "also_shrunk": "; ".join(f"{s} {v:,.0f} MW" for s, v in shrunk.items()),
        "objective_usd": obj0,
        "objective_without_usd": obj1,
        "gap": gap0,
        "gap_without": gap1,
        "time_s": time.perf_counter() - t0,
        "mip_start": r.mip_start,
    }
