"""Solve a Pyomo model with HiGHS (default) or any MIP solver Pyomo knows by name.

HiGHS goes through Pyomo's ``contrib.solver`` interface to ``highspy`` (in process, no
files). Another solver name goes through ``pyomo.environ.SolverFactory``; its time
limit and gap are passed under the option names that solver understands when we know
them (``cbc``, ``glpk``, ``gurobi``, ``cplex``, ``scip``), and said so otherwise.

The result says plainly what happened: ``optimal`` (within the MIP gap), ``feasible``
(a plan, not proven within the gap: time limit), ``infeasible``, ``no_solution`` (time
ran out before any plan) or ``error`` (the solver stopped for another reason: numerical
trouble, an unbounded model, a model it rejected; never read as a plan, even when the
solver offers one).

Ctrl-C (and SIGTERM, which the command line turns into the same interrupt) during a
HiGHS solve asks HiGHS to stop at its next check (it runs in a helper thread while the
main thread waits, so the signal is seen at once) and raises ``KeyboardInterrupt`` within
:data:`INTERRUPT_GRACE_S`: a solve cut short by the user is not a plan. Some phases of
HiGHS (presolve, a long root LP inside the MIP) check rarely; the main thread does not
wait for them, and :func:`highs_still_running` tells the command line that a HiGHS thread
is still winding down, so it ends the process at once instead of waiting for it.

Given a :class:`siting.core.clock.Clock`, a solve gets the time left before the run's deadline
(checked again just before HiGHS starts, after the model was handed over), does not start
when none is left, and reports its incumbent and bound to the clock as HiGHS finds them
(HiGHS's MIP callback), for the progress lines.
"""

from __future__ import annotations

import itertools
import math
import operator
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyomo.environ as pyo

from siting.core.clock import Clock
from siting.core.errors import SitingError
from siting.core.io import OutputFile, atomic_file
from siting.model.state import model_state
from siting.solve import handover
from siting.solve import told as _told


class SolverError(SitingError):
    """The solver is missing or failed."""


#: The Pyomo releases this adapter is tested with, as (major, minor): it subclasses Pyomo's
#: persistent HiGHS interface and reads its internals (``_solver_model``,
#: ``_pyomo_var_to_solver_var_map``, and the books :mod:`siting.solve.handover` fills), which
#: Pyomo may change in any release. pyproject.toml allows the same range.
PYOMO_TESTED = ((6, 10),)


def check_pyomo(version: tuple[int, ...] | None = None) -> None:
    """Refuse a Pyomo this adapter was not tested with, naming both versions.

    Parameters
    ----------
    version
        Pyomo's ``version_info`` (the installed one when None).

    Raises
    ------
    SolverError
        The installed Pyomo's major.minor is not in :data:`PYOMO_TESTED`.
    """
    if version is None:
        from pyomo.version import version_info

        version = tuple(version_info[:3])
    if tuple(version[:2]) in PYOMO_TESTED:
        return
    found = ".".join(str(v) for v in version[:3])
    tested = ", ".join(f"{a}.{b}.x" for a, b in PYOMO_TESTED)
    raise SolverError(
        f"siting's HiGHS adapter is tested with Pyomo {tested}, but Pyomo {found} is "
        f"installed; install a tested one (pip install 'pyomo>={PYOMO_TESTED[0][0]}."
        f"{PYOMO_TESTED[0][1]},<{PYOMO_TESTED[-1][0]}.{PYOMO_TESTED[-1][1] + 1}')"
    )


class NoPlanInTimeError(SitingError):
    """The solver reached its time limit before finding any plan."""


class SolverTroubleError(SolverError):
    """The solver stopped without a usable plan for another reason than infeasibility or
    the time limit (numerical trouble, an unbounded or rejected model, an unknown status)."""


#: How long an interrupted solve waits for HiGHS to stop before it raises anyway [s].
INTERRUPT_GRACE_S = 1.0

#: Terminations after which a solution the solver holds is a plan (a limit stopped it).
PLAN_TERMINATIONS = ("maxTimeLimit", "iterationLimit", "objectiveLimit")


def stopped_by(termination: str) -> str:
    """A solver termination in words (``maxTimeLimit`` -> ``its time limit``)."""
    return {
        "maxTimeLimit": "its time limit",
        "iterationLimit": "an iteration or node limit",
        "objectiveLimit": "an objective limit",
        "convergenceCriteriaSatisfied": "proving the plan optimal",
        "unbounded": "finding the model unbounded",
        "infeasibleOrUnbounded": "finding the model infeasible or unbounded",
        "provenInfeasible": "proving the model infeasible",
        "interrupted": "an interruption",
        "error": "an error (numerical trouble)",
        "unknown": "an unknown status",
        "kernelBound": "the candidate kernel's last round (sites it left out could still "
        "improve the plan, by at most the gap)",
        "maxRounds": "its most rounds of lazy line limits (the last plan still broke a "
        "limit, so it is no plan)",
        "approximationLimit": "the optimum of its approximate network rows (the plan is "
        "verified on the exact network; its gap is to the exact LP relaxation's bound)",
    }.get(termination, f"'{termination}'")


@dataclass
class SolveResult:
    """What the solver reported.

    Attributes
    ----------
    status
        ``optimal``, ``feasible``, ``infeasible``, ``no_solution`` or ``error``.
    termination
        The solver's own termination condition, as text.
    objective, bound
        Objective of the plan found and the best proven bound [objective units, USD].
    gap
        Relative gap ``|objective - bound| / max(|objective|, 1)`` [fraction].
    time_s
        Wall-clock time of the solve [s].
    solver, solver_version
        Which solver ran.
    rows, columns, integers
        Size of the model handed over.
    mip_start
        ``accepted`` / ``rejected`` when a MIP start was offered (:func:`set_mip_start`;
        HiGHS only), else ``""``.
    """

    status: str
    termination: str
    objective: float | None
    bound: float | None
    gap: float | None
    time_s: float
    solver: str
    solver_version: str
    rows: int = 0
    columns: int = 0
    integers: int = 0
    notes: list[str] = field(default_factory=list)
    mip_start: str = ""

    @property
    def has_solution(self) -> bool:
        """Whether a plan was found (optimal or feasible)."""
        return self.status in ("optimal", "feasible")

    def as_dict(self) -> dict:
        """As a JSON-ready mapping."""
        return asdict(self)


_OPTION_NAMES = {
    "cbc": {"time": "seconds", "gap": "ratioGap", "threads": "threads"},
    "glpk": {"time": "tmlim", "gap": "mipgap"},
    "gurobi": {"time": "TimeLimit", "gap": "MIPGap", "threads": "Threads"},
    "cplex": {"time": "timelimit", "gap": "mip_tolerances_mipgap", "threads": "threads"},
    "scip": {"time": "limits/time", "gap": "limits/gap"},
}


_ACTIVE = operator.attrgetter("_active")
_FIXED = operator.attrgetter("_fixed")
_DOMAIN = operator.attrgetter("_domain")


def model_size(m: pyo.ConcreteModel) -> tuple[int, int, int]:
    """(rows, columns, integer columns) of the active model.

    Counted over each family's members directly, their flags read in bulk (Pyomo's
    ``component_data_objects`` walks a family in the order of its index set, which costs
    more than the count; the count is taken before every solve: 4 ms on national-TX's
    42,000 rows and 29,000 columns). A reference family (:func:`pyomo.environ.Reference`)
    is skipped: its members are other families'.
    """
    rows = 0
    for con in m.component_objects(pyo.Constraint, active=True, descend_into=True):
        if not con.is_reference():
            rows += sum(map(_ACTIVE, con._data.values()))
    cols = 0
    ints = 0
    integral: dict[int, bool] = {}  # id(domain) -> integer? (a few domains serve all)
    for var in m.component_objects(pyo.Var, active=True, descend_into=True):
        free, free_ints = _free_columns(var, integral)
        cols += free
        ints += free_ints
    return rows, cols, ints


def has_free_integers(m: pyo.ConcreteModel) -> bool:
    """Whether ``m`` has an integer variable that is not fixed (a MIP); counted as
    :func:`model_size` counts (22 ms to 2 ms on national-TX's relaxed model)."""
    integral: dict[int, bool] = {}
    for var in m.component_objects(pyo.Var, active=True, descend_into=True):
        if _free_columns(var, integral)[1]:
            return True
    return False


def _free_columns(var: Any, integral: dict[int, bool]) -> tuple[int, int]:
    """(members not fixed, of them integer) of the variable family ``var`` (0, 0 for a
    reference). Whether a domain is integer is asked once per domain object (``integral``:
    the answers so far, by ``id``), and once per family when its members share one."""
    if var.is_reference() or not var._data:
        return 0, 0
    members = list(var._data.values())
    free = len(members) - sum(map(_FIXED, members))
    if not free:
        return 0, 0

    def isint(v: Any) -> bool:
        dom = v._domain
        out = integral.get(id(dom))
        if out is None:
            out = integral[id(dom)] = bool(v.is_integer() or v.is_binary())
        return out

    doms = list(map(_DOMAIN, members))
    if all(map(operator.is_, doms, itertools.repeat(doms[0]))):  # (one domain)
        return free, free if isint(members[0]) else 0
    return free, sum(1 for v in members if not v._fixed and isint(v))


#: The first line of an LP file siting writes: Pyomo's header, with the name that
#: :func:`siting.model.build_model` gives every model.
LP_SIGNATURE = b"\\* Source Pyomo model name=siting *\\"


def write_lp_file(m: pyo.ConcreteModel, target: str | Path | OutputFile) -> Path:
    """Write ``m`` as an LP file, atomically (temporary file, fsync, rename).

    Parameters
    ----------
    m
        The model.
    target
        The file, or an :class:`siting.core.io.OutputFile` with the run's rules (its inputs,
        ``--force``). A plain path may replace only an LP file siting wrote
        (:data:`LP_SIGNATURE`), and never a folder, a FIFO or a device.

    Returns
    -------
    pathlib.Path
        The file written (a symlink resolved).

    Raises
    ------
    siting.core.io.OutputRefusedError
        ``target`` is not siting's to write (nothing is touched).
    siting.core.io.OutputWriteError
        The write failed; a previous file there is kept as it was.
    """
    if not isinstance(target, OutputFile):
        target = OutputFile(Path(target), signature=LP_SIGNATURE)
    path = target.check()
    with atomic_file(path) as tmp:
        m.write(str(tmp), format="lp", io_options={"symbolic_solver_labels": True})
    return path


def solve(
    m: pyo.ConcreteModel,
    *,
    solver: str = "highs",
    time_limit_s: float = 600.0,
    mip_gap: float = 0.005,
    threads: int = 2,
    write_lp: str | Path | OutputFile | None = None,
    tee: bool = False,
    highs_options: dict[str, Any] | None = None,
    clock: Clock | None = None,
) -> SolveResult:
    """Solve ``m`` and load its solution when there is one.

    Parameters
    ----------
    m
        The model (one active objective).
    solver
        ``highs`` or a Pyomo solver name.
    time_limit_s
        Wall-clock limit [s].
    mip_gap
        Relative MIP gap [fraction].
    threads
        Solver threads.
    write_lp
        Also write the model as an LP file here (for inspection in another solver;
        :func:`write_lp_file`).
    tee
        Print the solver log.
    highs_options
        More HiGHS options for this solve (``{"solver": "ipm"}``: interior point for an
        LP); other solvers ignore them.
    clock
        The run's clock: the solve gets at most the time left before its deadline
        (``time_limit_s`` caps it further) and is not started when none is left (the
        result is then ``no_solution`` with termination ``maxTimeLimit``); HiGHS reports
        its incumbent and bound to it.

    Returns
    -------
    SolveResult

    Raises
    ------
    SolverError
        When the named solver is not available.
    """
    if write_lp is not None:
        write_lp_file(m, write_lp)
    rows, cols, ints = model_size(m)
    unit = model_state(m).objective_unit  # the objective's unit [USD] (scaling)
    unit = 1.0 if unit is None else float(unit)
    if clock is not None:
        time_limit_s = clock.solver_time_s(time_limit_s)
        if time_limit_s <= 0.0:
            return out_of_time(solver, rows, cols, ints)
        clock.unit_usd = unit
        clock.incumbent_usd = clock.bound_usd = None
    if solver.lower() == "highs":
        res = _solve_highs(
            m, time_limit_s, mip_gap, threads, tee, highs_options, clock, mip=ints > 0
        )
    else:
        res = _solve_other(m, solver, time_limit_s, mip_gap, threads, tee)
    res.rows, res.columns, res.integers = rows, cols, ints
    if unit != 1.0:
        res.objective = res.objective * unit if res.objective is not None else None
        res.bound = res.bound * unit if res.bound is not None else None
        res.gap = _gap(res.objective, res.bound)
    return res


def retry_cold(m: pyo.ConcreteModel, run: Callable[[], SolveResult]) -> SolveResult:
    """``run()`` (a HiGHS solve of ``m``), once more from a cold start when it ended neither
    optimal, infeasible nor at its time limit: HiGHS's simplex, warm-started after rows were
    added or bounds changed, can lose its footing and end "unknown" or in error (seen on
    case9241pegase). The model is kept; only HiGHS's solver state is cleared. The result's
    time is both runs'."""
    r = run()
    if r.status in ("optimal", "infeasible") or r.termination == "maxTimeLimit":
        return r
    opt = model_state(m).highs_solver
    if opt is None:
        return r
    opt._solver_model.clearSolver()
    r2 = run()
    r2.time_s += r.time_s
    return r2


def out_of_time(
    solver: str = "highs", rows: int = 0, cols: int = 0, ints: int = 0, bound: float | None = None
) -> SolveResult:
    """The result of a solve that did not start because the run's deadline had passed."""
    return SolveResult(
        status="no_solution",
        termination="maxTimeLimit",
        objective=None,
        bound=bound,
        gap=None,
        time_s=0.0,
        solver=solver,
        solver_version="",
        rows=rows,
        columns=cols,
        integers=ints,
        notes=["not started: the run's time limit had passed"],
    )


def _gap(obj: float | None, bound: float | None) -> float | None:
    if obj is None or bound is None or not (math.isfinite(obj) and math.isfinite(bound)):
        return None
    return abs(obj - bound) / max(abs(obj), 1.0)


def set_mip_start(m: pyo.ConcreteModel, values: list[tuple[Any, float]]) -> None:
    """Offer HiGHS a (partial) MIP start for the next solve of ``m``.

    ``values``: (Pyomo variable, value) pairs, typically the integer variables of the
    previous round's solution. HiGHS completes a partial start by solving the LP with those
    values fixed; when that is feasible it becomes the first incumbent (the log says "MIP
    start solution is feasible"), else it is dropped. Only the HiGHS path uses it.
    """
    model_state(m).mip_start = list(values)


def _highs_with_start(base: type) -> type:
    """Pyomo's HiGHS interface, handing a pending MIP start to HiGHS just before it runs.

    The start must be set after the model's changes (the lazy loop's new rows) reach HiGHS,
    or HiGHS discards it, and Pyomo's interface has no such hook: this subclass sets it at
    the top of ``_solve`` (Pyomo 6.10's persistent HiGHS: its variable-to-column map
    ``_pyomo_var_to_solver_var_map`` and ``_solver_model``). A whole model and flat rows go
    over in one ``addRows`` (:mod:`siting.solve.handover`, :mod:`siting.model.rows`).
    """

    class HighsWithStart(base):
        _pending_start: list[tuple[Any, float]] | None = None
        #: the run's clock for this solve (deadline, progress), set by _solve_highs
        _clock: Clock | None = None
        #: whether this solve is a MIP (free integer columns), when the caller counted
        _mip: bool | None = None

        def __init__(self, **kwds: Any) -> None:
            # (also Pyomo's _reinit at set_instance: a new model starts with empty books)
            super().__init__(**kwds)
            #: the changes told since the last solve (siting.solve.told)
            self.told = _told.Changes()
            #: what HiGHS was given, to catch a change nobody told (siting.solve.told)
            self.guard: _told.Guard | None = None
            #: counts changes to the variables HiGHS holds (added, removed)
            self.vars_version = 0
            #: the variables a solution is loaded into, and their columns (_load_vars)
            self.load_list: tuple | None = None

        def set_instance(self, model):
            super().set_instance(model)
            self.guard = _told.Guard(self)

        def update(self, timer=None):
            # the changes siting told, else Pyomo's scan of every row and variable
            _told.update(self, timer, super().update)

        def add_variables(self, variables):
            if variables:
                self.vars_version += 1
            super().add_variables(variables)

        def remove_variables(self, variables):
            if variables:
                self.vars_version += 1
            super().remove_variables(variables)

        def _solve(self):
            h = self._solver_model
            clock = self._clock
            watch = _watch(h, clock) if clock is not None else None
            mip = self._mip if self._mip is not None else has_free_integers(self._model)
            if threading.current_thread() is threading.main_thread():
                # Pyomo calls run(), which holds the main thread in C++ until HiGHS ends, so
                # Ctrl-C would wait for the time limit: run HiGHS beside it instead
                h.run = lambda: _run_interruptible(h, clock, mip)
            else:
                h.run = lambda: _run_with_clock(h, clock, mip)
            try:
                return self._solve_with_start()
            finally:
                h.__dict__.pop("run", None)
                if watch is not None:
                    h.cbMipInterrupt -= watch

        def add_block(self, block):  # (set_instance: the model)
            if block is not self._model or not handover.add_block_fast(self, block):
                super().add_block(block)

        def add_constraints(self, cons):
            self._loads_changed()
            flat = model_state(self._model).flat_rows if self._model is not None else None
            if flat and cons:
                direct = [c for c in cons if c in flat]
                if direct:
                    taken = self._add_flat_rows(direct, flat)
                    cons = [c for c in cons if c not in taken]
            if cons and not handover.add_constraints_fast(self, cons):
                super().add_constraints(cons)  # (rows the direct read does not take)

        def remove_constraints(self, cons):
            self._loads_changed()
            super().remove_constraints(cons)

        def set_objective(self, obj):
            self._loads_changed()
            super().set_objective(obj)

        def _loads_changed(self) -> None:
            # which variables a solution is loaded into may change (their references);
            # a list of every variable HiGHS holds changes only with them (vars_version)
            if self.load_list is not None and not self.load_list[3]:
                self.load_list = None

        def _remove_constraints(self, cons):
            # Pyomo renumbers every row of its books even when there is none to remove,
            # and its update asks up to three times a solve (0.03 s a time on national-TX)
            if cons:
                super()._remove_constraints(cons)

        def _add_flat_rows(self, direct, flat) -> set:
            return _add_flat_rows(self, direct, flat)

        def _solve_with_start(self):
            start, self._pending_start = self._pending_start, None
            if start:
                cols = getattr(self, "_pyomo_var_to_solver_var_map", {})
                pairs = [(cols[id(v)], float(x)) for v, x in start if id(v) in cols]
                if pairs:
                    import numpy as np

                    idx = np.array([j for j, _ in pairs], dtype=np.int32)
                    val = np.array([x for _, x in pairs], dtype=float)
                    self._solver_model.setSolution(len(pairs), idx, val)
            return super()._solve()

    return HighsWithStart


def _add_flat_rows(opt: Any, direct: list, flat: dict) -> set:
    """Add the registered rows ``direct`` (their :class:`siting.model.rows.FlatRow` in
    ``flat``) to the interface ``opt`` (:func:`_highs_with_start`) through highspy's
    ``addRows``, keeping Pyomo's books (the constraint is known, with no variable
    references to track: its variables are all in other rows). Returns the constraints
    added."""
    import numpy as np

    from siting.solve.handover import _book_and_add_rows

    vmap = opt._pyomo_var_to_solver_var_map
    cols = opt.__dict__.setdefault("_flat_cols", {})
    pools = model_state(opt._model).flat_pools
    starts, idx, val, lbs, ubs, done = [], [], [], [], [], []
    n = 0
    for con in direct:
        row = flat[con]
        pc = cols.get(row.pool)
        if pc is None:
            try:
                pc = np.array([vmap[id(v)] for v in pools[row.pool]], dtype=np.int32)
            except KeyError:  # a variable HiGHS does not have: Pyomo's own path
                continue
            cols[row.pool] = pc
        try:
            extra = [vmap[id(v)] for v in row.extra_vars]
        except KeyError:
            continue
        starts.append(n)
        idx.append(pc[row.pos])
        val.append(np.asarray(row.coefs, dtype=float))
        if extra:
            idx.append(np.asarray(extra, dtype=np.int32))
            val.append(np.asarray(row.extra_coefs, dtype=float))
        n += len(row.pos) + len(extra)
        lbs.append(row.lb)
        ubs.append(row.ub)
        done.append(con)
    if not done:
        return set()
    opt._sol = None
    if opt._last_results_object is not None:
        opt._last_results_object.solution_loader.invalidate()
    # booked as Pyomo's add_constraints books them (no named expressions, and no variable
    # references to track: the row's variables are all in other rows), in one addRows
    _book_and_add_rows(
        opt,
        [(con, [], []) for con in done],
        np.array(lbs, dtype=float),  # +-inf: HiGHS's own infinity
        np.array(ubs, dtype=float),
        np.array(starts, dtype=np.int32),
        np.concatenate(idx).astype(np.int32),
        np.concatenate(val),
    )
    return set(done)


def _watch(h: Any, clock: Clock) -> Any:
    """Report HiGHS's incumbent and bound to ``clock`` from its MIP callback; returns the
    handler (to unsubscribe). Runs in HiGHS's thread: two attribute stores, no lock."""

    def on_mip(e: Any) -> None:
        out = e.data_out
        clock.solver_update(out.mip_primal_bound, out.mip_dual_bound)

    h.cbMipInterrupt += on_mip
    return on_mip


def _clock_limit(h: Any, clock: Clock | None, mip: bool) -> None:
    """Set HiGHS's time limit for the run about to start: the solve's own limit, capped by
    what is left of the run's deadline now (handing a large model over takes time of its
    own, after the limit was first computed).

    HiGHS measures an LP's time limit against its run clock, which adds up over every run
    of the same instance (``getRunTime``; measured with highspy 1.16: a persistent LP that
    once ran 3 s stops at once, ``kTimeLimit``, on every later run with a 3 s limit), while
    a MIP's limit counts from the start of its run. So an LP's limit is set past the time
    already on that clock: each round of the lazy loop gets the time it is given, not what
    earlier rounds left of it.
    """
    cap = h.getOptionValue("time_limit")
    limit = float(cap[-1] if isinstance(cap, tuple) else cap)  # (highspy: (status, value))
    if clock is not None:
        limit = max(clock.solver_time_s(limit), 0.01)
    if not mip and math.isfinite(limit):
        limit += float(h.getRunTime())
    h.setOptionValue("time_limit", limit)


def _run_with_clock(h: Any, clock: Clock | None, mip: bool) -> Any:
    """``h.run()`` with its time limit set by :func:`_clock_limit` (outside the main thread,
    where no signal arrives)."""
    _clock_limit(h, clock, mip)
    return type(h).run(h)


#: HiGHS solver threads this process stopped waiting for (interrupted, still winding down).
_ABANDONED: list[threading.Thread] = []


#: HiGHS solves this process interrupted (their threads, stopped or not).
_INTERRUPTED: list[threading.Thread] = []


def highs_still_running() -> bool:
    """Whether an interrupted HiGHS solve is still winding down in its thread, or any HiGHS
    solve of this process was interrupted.

    The command line then ends the process at once (``os._exit``) after its message,
    rather than letting the interpreter shut down around a C++ solver that was cut short:
    seen once, under load, as "terminate called without an active exception" and exit -6
    after a SIGTERM during the why-here re-solves, the plan folder already safe.
    """
    return bool(_INTERRUPTED) or any(t.is_alive() for t in _ABANDONED)


def _run_interruptible(h: Any, clock: Clock | None = None, mip: bool = True) -> Any:
    """``h.run()`` in highspy's solver thread; on Ctrl-C, stop HiGHS and raise.

    The main thread waits in short slices, so a SIGINT (or the SIGTERM the command line
    turns into one) reaches Python at once; HiGHS is then asked to stop (``cancelSolve``:
    it checks at its next simplex, IPM or MIP interrupt point), waited for at most
    :data:`INTERRUPT_GRACE_S`, and ``KeyboardInterrupt`` raised: a cut-short solve is not
    a plan. (highspy's own ``solve()`` swallows the interrupt and returns.) A HiGHS that
    has not stopped by then (a phase without interrupt points) is left to finish in its
    daemon thread (:func:`highs_still_running`).
    """
    _clock_limit(h, clock, mip)
    h.HandleKeyboardInterrupt = True  # HiGHS polls for cancelSolve at its interrupt points
    thread = h.startSolve()
    try:
        while True:
            done, status = h.wait(0.1)
            if done:
                return status
    except KeyboardInterrupt:
        _INTERRUPTED.append(thread)
        h.cancelSolve()
        until = time.monotonic() + INTERRUPT_GRACE_S
        while thread.is_alive() and time.monotonic() < until:
            try:
                thread.join(0.05)
            except KeyboardInterrupt:  # a second Ctrl-C: HiGHS is already stopping
                h.cancelSolve()
        if thread.is_alive():
            _ABANDONED.append(thread)
        raise


#: Thread count of this process's last HiGHS solve (see :func:`use_threads`).
_LAST_THREADS: int | None = None


def use_threads(threads: int) -> None:
    """Size HiGHS's task scheduler for a solve with ``threads`` threads, before it starts.

    HiGHS keeps one task scheduler per process, sized by the first solve's thread count:
    a later solve asking for another count fails (seen: "no solution" on a feasible LP).
    Resetting the scheduler when the count changes lets one process use several. Call it
    when no HiGHS solve of the process is running (the grid baseline's worker thread,
    :class:`siting.pipeline.GridBaseline`, is started after it).
    """
    global _LAST_THREADS
    if _LAST_THREADS is not None and threads != _LAST_THREADS:
        import highspy

        highspy.Highs.resetGlobalScheduler(True)
    _LAST_THREADS = threads


def left_running(thread: threading.Thread) -> None:
    """Count ``thread``, a HiGHS solve this process stopped waiting for (the grid baseline's
    worker after an interrupt), in :func:`highs_still_running`."""
    _ABANDONED.append(thread)


def _persistent(m: pyo.ConcreteModel) -> Any:
    """The persistent HiGHS interface of ``m`` (:func:`_highs_with_start`), made on first
    use. One solver per model: a model solved again (the lazy loop's rounds) is handed
    over incrementally (new rows, changed bounds), not translated from scratch."""
    from pyomo.contrib.solver.solvers.highs import Highs

    opt = model_state(m).highs_solver
    if opt is None:
        check_pyomo()  # once per model: the adapter below reads Pyomo internals
        opt = _highs_with_start(Highs)()
        # siting changes a model between solves only by adding, deactivating or deleting
        # rows and by changing variables (bounds, fixing, domains), never a row's or a
        # named expression's expression in place: Pyomo's check of every row and named
        # expression before each solve (0.1 s a solve on national-TX) finds nothing
        opt.config.auto_updates.update_constraints = False
        opt.config.auto_updates.update_named_expressions = False
        model_state(m).highs_solver = opt
    return opt


def hand_over(m: pyo.ConcreteModel) -> None:
    """Hand ``m`` to HiGHS now, ahead of its first solve (which then only updates it).

    For a model whose objective comes later: :func:`siting.pipeline.GridBaseline` hands
    the campus model over while the grid baseline, whose constant the objective needs,
    is still being solved; :func:`objective_added` then sets the objective.
    """
    opt = _persistent(m)
    if not opt.available():
        raise SolverError("HiGHS (highspy) is not available; install the package 'highspy'")
    opt.set_instance(m)


def objective_added(m: pyo.ConcreteModel) -> None:
    """Set the objective of a model handed over before it had one (:func:`hand_over`), as
    the hand-over would have set it (no-op for a model not handed over)."""
    from pyomo.contrib.solver.common.util import get_objective

    opt = model_state(m).highs_solver
    if opt is not None and opt._model is m:
        opt.set_objective(get_objective(m))


def _solve_highs(
    m: pyo.ConcreteModel,
    time_limit_s: float,
    mip_gap: float,
    threads: int,
    tee: bool,
    highs_options: dict[str, Any] | None = None,
    clock: Clock | None = None,
    mip: bool | None = None,
) -> SolveResult:
    from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition

    use_threads(threads)
    opt = _persistent(m)
    start = model_state(m).take_mip_start()
    if start:
        opt._pending_start = start
    opt._clock = clock
    opt._mip = mip  # (None: counted again before HiGHS runs)
    if not opt.available():
        raise SolverError("HiGHS (highspy) is not available; install the package 'highspy'")
    version = ".".join(str(v) for v in opt.version())
    t0 = time.perf_counter()
    try:
        r = opt.solve(
            m,
            time_limit=time_limit_s,
            rel_gap=mip_gap,
            # an absolute gap for objectives near 0 (a Pareto anchor), in objective units
            abs_gap=model_state(m).mip_abs_gap,
            threads=threads,
            tee=tee,
            load_solutions=False,
            raise_exception_on_nonoptimal_result=False,
            solver_options={"random_seed": 0, **(highs_options or {})},
        )
    except KeyboardInterrupt:
        model_state(m).highs_solver = None  # HiGHS keeps the interrupt: start afresh
        raise
    elapsed = time.perf_counter() - t0
    tc = r.termination_condition
    notes = []
    # Pyomo's interface ignores HiGHS refusing rows or columns it is handed (a coefficient
    # of 1e15 or more, say): HiGHS then solves what it kept and calls that optimal.
    hm = opt._solver_model
    want_rows = len(getattr(opt, "_pyomo_con_to_solver_con_map", {}))
    want_cols = len(getattr(opt, "_pyomo_var_to_solver_var_map", {}))
    rejected = hm.getNumRow() != want_rows or hm.getNumCol() != want_cols
    if rejected:
        notes.append(
            f"numerical trouble: HiGHS rejected part of the model ({hm.getNumRow()} of "
            f"{want_rows} rows and {hm.getNumCol()} of {want_cols} columns reached it; "
            "HiGHS refuses coefficients and bounds of 1e15 or more in size), so its answer "
            "is not a plan"
        )
    has = r.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
    optimal = tc == TerminationCondition.convergenceCriteriaSatisfied
    if has and not rejected and (optimal or tc.name in PLAN_TERMINATIONS):
        status = "optimal" if optimal else "feasible"
    elif rejected:
        status = "error"
    elif tc in (TerminationCondition.provenInfeasible, TerminationCondition.infeasibleOrUnbounded):
        status = "infeasible"
    elif tc.name in PLAN_TERMINATIONS:
        status = "no_solution"
    else:  # unbounded, error, unknown: numerical or modelling trouble, never a plan
        status = "error"
        if has:
            notes.append(
                f"the solver stopped at {stopped_by(tc.name)} holding a solution; it is not "
                "used as a plan"
            )
    has = status in ("optimal", "feasible")
    if has:
        _load_vars(opt)
    obj = r.incumbent_objective if has else None
    bound = r.objective_bound if not rejected else None
    bound = float(bound) if bound is not None and math.isfinite(bound) else None
    res = SolveResult(
        status=status,
        termination=tc.name,
        objective=float(obj) if obj is not None else None,
        bound=bound,
        gap=_gap(obj, bound),
        time_s=elapsed,
        solver="highs",
        solver_version=version,
        notes=notes,
    )
    if start:
        log = getattr(r, "solver_log", "") or ""
        res.mip_start = "accepted" if "MIP start solution is feasible" in log else "rejected"
    return res


def _load_vars(opt: Any) -> None:
    """Load HiGHS's solution into the model's variables, as Pyomo's ``load_vars`` does
    (every variable a row, an SOS set or the objective names; their stale flags), in bulk:
    HiGHS's column values as one array, taken at the variables' columns (kept between
    solves while the variables HiGHS holds stay the same) and stored in each variable's
    value as ``VarData.set_value(x, skip_validation=True)`` stores a float (1.5 ms instead
    of 11 ms a solve on national-TX, 29,000 variables).

    Parameters
    ----------
    opt
        The persistent HiGHS interface (:func:`_highs_with_start`) after a solve with a
        solution (Pyomo 6.10: its ``_sol``, ``_vars``, ``_referenced_variables`` and
        variable-to-column map).
    """
    import numpy as np
    from pyomo.contrib.solver.common.util import NoSolutionError
    from pyomo.core.staleflag import StaleFlagManager

    sol = opt._sol
    if sol is None or not sol.value_valid:
        raise NoSolutionError()
    cached = opt.load_list
    if cached is None or cached[0] != opt.vars_version:
        col = opt._pyomo_var_to_solver_var_map
        variables = opt._vars
        refs = opt._referenced_variables
        vs = [
            variables[vid][0]
            for vid, (cons, sos, obj) in refs.items()
            if cons or sos or obj is not None
        ]
        idx = np.fromiter((col[id(v)] for v in vs), dtype=np.int64, count=len(vs))
        # complete: every variable HiGHS holds, which only a change of them alters
        cached = opt.load_list = (opt.vars_version, vs, idx, len(vs) == len(variables))
    _v, vs, idx, _complete = cached
    values = np.asarray(sol.col_value, dtype=float)[idx].tolist()
    StaleFlagManager.mark_all_as_stale()  # (as the solve did before HiGHS ran)
    flag = StaleFlagManager.get_flag(0)
    for v, x in zip(vs, values, strict=True):
        v._value = x
        v._stale = flag
    StaleFlagManager.mark_all_as_stale(delayed=True)


def _solve_other(
    m: pyo.ConcreteModel, name: str, time_limit_s: float, mip_gap: float, threads: int, tee: bool
) -> SolveResult:
    from pyomo.opt import SolverStatus, TerminationCondition

    opt = pyo.SolverFactory(name)
    try:
        ok = opt is not None and opt.available(exception_flag=False)
    except Exception:
        ok = False
    if not ok:
        raise SolverError(
            f"solver '{name}' is not available here; install it or use --solver highs "
            "(the default, installed with siting)"
        )
    notes = []
    names = _OPTION_NAMES.get(name.lower())
    if names:
        opt.options[names["time"]] = time_limit_s
        opt.options[names["gap"]] = mip_gap
        if "threads" in names:
            opt.options[names["threads"]] = threads
    else:
        notes.append(
            f"solver '{name}': time limit and MIP gap not passed (their option names are not "
            "known to siting); the solver's defaults apply"
        )
    t0 = time.perf_counter()
    r = opt.solve(m, tee=tee, load_solutions=False)
    elapsed = time.perf_counter() - t0
    tc = r.solver.termination_condition
    has = len(r.solution) > 0 and tc not in (
        TerminationCondition.infeasible,
        TerminationCondition.infeasibleOrUnbounded,
    )
    if has:
        m.solutions.load_from(r)
    obj = (
        float(pyo.value(next(m.component_data_objects(pyo.Objective, active=True))))
        if has
        else None
    )
    bound = None
    try:
        lb, ub = r.problem.lower_bound, r.problem.upper_bound
        sense = next(m.component_data_objects(pyo.Objective, active=True)).sense
        b = lb if sense == pyo.minimize else ub
        bound = float(b) if b is not None and math.isfinite(float(b)) else None
    except Exception:
        bound = None
    if tc == TerminationCondition.optimal and r.solver.status == SolverStatus.ok:
        status = "optimal"
    elif has:
        status = "feasible"
    elif tc in (TerminationCondition.infeasible, TerminationCondition.infeasibleOrUnbounded):
        status = "infeasible"
    elif tc == TerminationCondition.maxTimeLimit:
        status = "no_solution"
    else:
        status = "error"
    return SolveResult(
        status=status,
        termination=str(tc),
        objective=obj,
        bound=bound,
        gap=_gap(obj, bound),
        time_s=elapsed,
        solver=name,
        solver_version=str(opt.version() if hasattr(opt, "version") else ""),
        notes=notes,
    )
