"""The whole run, stage by stage: scenario -> layers -> candidates -> model -> solve -> plan.

:func:`plan` is the Python API (``siting.plan(scenario)``) and the CLI's ``siting plan``
is a thin layer over it, so a notebook and the command line give the same plan.

Stages (each timed, and named to the ``progress`` callback): load the scenario, read and
validate the layers, make and screen candidates, cooling performance, DC network, the
grid's own dispatch cost without campuses (a first LP, so the objective counts only what
campuses add), build the MILP, solve, and, if no plan exists, an elastic re-solve that
says which requirements cannot be met; then read the plan out, verify it independently,
and write it (atomically) with its manifest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import pandas as pd

from siting.core.cells import as_float, as_int
from siting.core.clock import Clock, usd
from siting.core.errors import SitingError
from siting.core.gcpause import full_collections_paused
from siting.core.io import OutputFile, OutputOwner, check_output_folder, output_lock
from siting.core.provenance import run_record
from siting.model import build_model, model_data
from siting.model import dominance as _dominance
from siting.model import elastic as _elastic
from siting.model.data import Caps, Goal, ModelData, replaced
from siting.model.metrics import metric_values
from siting.model.objective import cost_split
from siting.model.state import model_state
from siting.network import require_network
from siting.results.compute_out import compute_summary
from siting.results.plan import Plan, extract
from siting.results.settings import delay_summary, heat_summary, settings_lines, shadow_prices
from siting.results.verify import verify
from siting.results.why import explain
from siting.solve import approx as _approx
from siting.solve import baseline as _baseline
from siting.solve import kernel as _kernel
from siting.solve.highs import (
    LP_SIGNATURE,
    NoPlanInTimeError,
    SolveResult,
    SolverTroubleError,
    hand_over,
    left_running,
    objective_added,
    solve,
    stopped_by,
    use_threads,
    write_lp_file,
)

if TYPE_CHECKING:
    import pyomo.environ as pyo
    from pyomo.core.base.var import VarData

    from siting.candidates.generate import Candidates
    from siting.config.scenario import Scenario
    from siting.inputs import Layers

#: The climate statistics every candidate carries [C].
CLIMATE_COLUMNS = ("dry_bulb_mean_c", "dry_bulb_p99_c", "wet_bulb_mean_c", "wet_bulb_p99_c")

#: Default root of run outputs (``maps/<scenario name>/``), relative to the working folder.
DEFAULT_OUT_ROOT = Path("maps")


class InfeasibleError(SitingError):
    """No plan meets every requirement; ``violations`` says which, where and by how much."""

    def __init__(self, message: str, violations: list[dict], result: SolveResult):
        super().__init__(message)
        self.violations = violations
        self.result = result


class GridBaseError(SitingError):
    """The grid cannot serve its own base load (before any campus)."""


class PlanInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM: ``terminated``) stopped :func:`plan`; the message says at which
    stage and what was kept."""

    def __init__(self, message: str, terminated: bool = False):
        super().__init__(message)
        self.terminated = terminated


#: The state of the :func:`plan` calls running in this process (stage, output folder,
#: plan), for :func:`interrupted_message`.
_RUNNING: list[dict[str, Any]] = []


def interrupted_message(signal_name: str = "SIGINT") -> str:
    """What a signal now would leave: the stage of the running plan and its output folder
    (for :mod:`siting.core.interrupt`'s watchdog); a plain line when no plan is running."""
    how = "terminated (SIGTERM)" if signal_name == "SIGTERM" else "interrupted"
    if not _RUNNING:
        return f"{how}; nothing was written"
    return _interrupted(_RUNNING[-1], how)


def solve_model(
    m: pyo.ConcreteModel,
    d: ModelData,
    *,
    write_lp: str | Path | OutputFile | None = None,
    clock: Clock | None = None,
    **settings: Any,
) -> SolveResult:
    """Solve ``m``, adding lazy limits (PTDF line limits, N-1) until none is violated.

    ``settings`` are :func:`siting.solve.highs.solve`'s (solver, time_limit_s, mip_gap, threads);
    ``clock``: the run's clock, whose deadline every round shares (:mod:`siting.core.clock`).
    The lazy loop's figures go to ``result.notes`` and ``model_state(m).lazy_info``.
    """
    from siting.solve.lazy import needs_lazy, solve_lazy

    if not needs_lazy(m, d):
        return solve(m, write_lp=write_lp, clock=clock, **settings)
    r, info = solve_lazy(m, d, lambda mm: solve(mm, clock=clock, **settings), clock=clock)
    model_state(m).lazy_info = info
    _lazy_notes(m, d, r)
    if write_lp is not None:
        write_lp_file(m, write_lp)
    return r


def _lazy_notes(m: pyo.ConcreteModel, d: ModelData, r: SolveResult) -> None:
    """The lazy loop's figures (``model_state(m).lazy_info``) as notes on ``r``."""
    info = model_state(m).lazy_info
    if info is None:
        return
    if m.component("lazy_limits") is not None:
        net = require_network(d.grid.net, "the lazy line limits' note")
        n_snaps = len(d.horizon.snapshots)
        r.notes.append(
            f"PTDF form with lazy line limits: {info.lp_rounds} LP and {info.mip_rounds} MIP "
            f"rounds, {info.limits_added} limits added of "
            f"{int(np.isfinite(net.rating_mw).sum()) * d.horizon.n_years * n_snaps}"
        )
    if m.component("n1_limits") is not None:
        r.notes.append(
            f"N-1: {info.n1_outages_checked} outages checked, {info.n1_added} post-contingency "
            f"limits added lazily ({info.lp_rounds} LP and {info.mip_rounds} MIP rounds)"
        )
    if info.mip_starts:
        r.notes.append(
            f"{info.mip_starts} MIP round(s) offered the round before's siting decisions as a "
            f"start; HiGHS completed {info.mip_starts_accepted} into a feasible plan"
        )
    if info.lp_failed:
        r.notes.append(
            f"an LP round of the lazy loop ended without a solution ({info.lp_failed}); the "
            "MIP rounds found the remaining limits"
        )


def solve_by_kernel(
    d: ModelData,
    baseline_usd: float | Callable[[], float],
    baseline_co2_t: float | Callable[[], float],
    settings: dict[str, Any],
    *,
    write_lp: str | Path | OutputFile | None = None,
    progress: Callable[[str], None] | None = None,
    clock: Clock | None = None,
    approximate: bool = False,
    meanwhile: Callable[[pyo.ConcreteModel], None] | None = None,
    timings: dict[str, float] | None = None,
) -> tuple[pyo.ConcreteModel, ModelData, SolveResult] | None:
    """Solve by the candidate kernel (:mod:`siting.solve.kernel`).

    ``baseline_usd``, ``baseline_co2_t``: the grid baseline's constants [USD, t CO2], or
    functions that return them when a model is built (:func:`siting.model.build_model`;
    ``meanwhile``: its hook before they are read).
    ``approximate``: each kernel MILP is solved with approximate network rows
    (:mod:`siting.solve.approx`) rather than by relax-and-repair. ``timings``: the time its
    model builds take is added to its ``build_s`` [s].

    Returns
    -------
    (model, data, result) or None
        The kernel MILP's model and data (the sites it kept), and its result with the whole
        model's bound and gap (without a plan when the time limit came first); None when
        the LP relaxation or every kernel MILP was infeasible or the solver failed (solve the
        whole model instead: it reports infeasibility or the solver's trouble).
    """
    method = (
        functools.partial(_kernel.solve_kernel, inner=_approx.solve_approximate)
        if approximate
        else _kernel.solve_kernel
    )
    return _by_method(
        method, "kernel_info", d, baseline_usd, baseline_co2_t, settings,
        write_lp=write_lp, progress=progress, clock=clock, lazy_notes=True, meanwhile=meanwhile,
        timings=timings,
    )  # fmt: skip


def solve_by_approximation(
    d: ModelData,
    baseline_usd: float | Callable[[], float],
    baseline_co2_t: float | Callable[[], float],
    settings: dict[str, Any],
    *,
    write_lp: str | Path | OutputFile | None = None,
    progress: Callable[[str], None] | None = None,
    clock: Clock | None = None,
    meanwhile: Callable[[pyo.ConcreteModel], None] | None = None,
    timings: dict[str, float] | None = None,
) -> tuple[pyo.ConcreteModel, ModelData, SolveResult] | None:
    """Solve with approximate network rows, every plan verified on the exact network
    (:mod:`siting.solve.approx`); ``baseline_usd``, ``baseline_co2_t``, ``meanwhile`` and
    ``timings`` as :func:`solve_by_kernel`'s.

    Returns
    -------
    (model, data, result) or None
        The model holding the best verified plan (exact rows), the data, and the result
        with the exact LP relaxation's bound and gap (without a plan when the time limit
        came first); None when the method found no plan for another reason (solve the exact
        model instead: it reports infeasibility or the solver's trouble).
    """
    return _by_method(
        _approx.solve_approximate, "approx_info", d, baseline_usd, baseline_co2_t, settings,
        write_lp=write_lp, progress=progress, clock=clock, lazy_notes=False, meanwhile=meanwhile,
        timings=timings,
    )  # fmt: skip


def _by_method(
    method: Callable[..., tuple[pyo.ConcreteModel, ModelData, SolveResult, Any] | None],
    info_attr: str,
    d: ModelData,
    baseline_usd: float | Callable[[], float],
    baseline_co2_t: float | Callable[[], float],
    settings: dict[str, Any],
    *,
    write_lp: str | Path | OutputFile | None,
    progress: Callable[[str], None] | None,
    clock: Clock | None,
    lazy_notes: bool,
    meanwhile: Callable[[pyo.ConcreteModel], None] | None = None,
    timings: dict[str, float] | None = None,
) -> tuple[pyo.ConcreteModel, ModelData, SolveResult] | None:
    """Run a method that builds its own models (``method(d, build, run, mip_gap=...,
    clock=..., progress=...) -> (model, data, result, info) | None``); its figures are kept
    in the model's state as the field ``info_attr`` (:class:`siting.model.state.ModelState`;
    the manifest reads them)."""
    build, run, clock = _highs_method(
        baseline_usd, baseline_co2_t, settings, clock, meanwhile=meanwhile, timings=timings
    )
    out = method(d, build, run, mip_gap=settings["mip_gap"], clock=clock, progress=progress)
    if out is None:
        return None
    m, dm, r, info = out
    setattr(model_state(m), info_attr, info)
    if lazy_notes:
        _lazy_notes(m, dm, r)
    if write_lp is not None:
        write_lp_file(m, write_lp)
    return m, dm, r


def _highs_method(
    baseline_usd: float | Callable[[], float],
    baseline_co2_t: float | Callable[[], float],
    settings: dict[str, Any],
    clock: Clock | None,
    *,
    meanwhile: Callable[[pyo.ConcreteModel], None] | None = None,
    timings: dict[str, float] | None = None,
) -> tuple[Callable[[ModelData], pyo.ConcreteModel], Callable[..., SolveResult], Clock]:
    """The model builder and the HiGHS solve of a method that builds its own models (the
    kernel, approximate rows), and the run's clock (a new one from the settings' time
    limit when none is given). ``meanwhile``: :func:`siting.model.build_model`'s hook (a
    model it handed over early gets its objective once built). ``timings``: each build's
    time is added to its ``build_s`` [s]."""

    def build(dd: ModelData) -> pyo.ConcreteModel:
        t = time.perf_counter()
        m = build_model(
            dd, baseline_usd=baseline_usd, baseline_co2_t=baseline_co2_t, meanwhile=meanwhile
        )
        objective_added(m)
        if timings is not None:
            timings["build_s"] = timings.get("build_s", 0.0) + time.perf_counter() - t
        return m

    if clock is None:
        clock = Clock(limit_s=settings["time_limit_s"])

    def run(m: pyo.ConcreteModel, *, highs_options: dict[str, Any] | None = None) -> SolveResult:
        return solve(
            m,
            solver="highs",
            time_limit_s=settings["time_limit_s"],
            mip_gap=settings["mip_gap"],
            threads=settings["threads"],
            highs_options=highs_options,
            clock=clock,
        )

    return build, run, clock


def _no_sites(d: ModelData) -> ModelData:
    """The same inputs with no candidate sites and no campus requirements (the grid alone)."""
    pol = d.policy
    out = replaced(
        d,
        campus={"sites": [], "site": d.campus.site.iloc[:0], "dominance_cuts": []},
        cooling={"allowed": [], "perf": d.cooling.perf.iloc[:0]},
        water={"links": d.water.links.iloc[:0] if len(d.water.links) else d.water.links},
        policy={
            "targets_mw": pol.targets_mw * 0.0,
            "region_shares": {},
            "zone_mode": "ignore",
            "demand_links": pol.demand_links.iloc[:0],
            "demand_mw": pd.DataFrame(),
            "public_share": 0.0,
            "public_sites": [],
            "public_techs": {},
            "heat_links": pol.heat_links.iloc[:0],
        },
    )
    return dataclasses.replace(
        out, caps=Caps(), goal=Goal(sense="min_cost", budget_usd=None), compute=None
    )


def grid_baseline(
    d: ModelData, threads: int = 2, clock: Clock | None = None
) -> tuple[float, float]:
    """The grid's own dispatch with no campuses (an LP): its cost and its emissions.

    The PTDF form is solved as a HiGHS model built with numpy
    (:mod:`siting.solve.baseline`: the same model HiGHS gets from the Pyomo one, the same
    answer); the angle form through the Pyomo model (:func:`pyomo_grid_baseline`), which
    also explains a grid that cannot serve its own load in either form.

    ``clock``: the run's clock; the LP gets the time left before its deadline (at most
    600 s without one).

    Returns
    -------
    usd, co2_t
        Present value of the dispatch cost [USD], and the emissions over the planning
        horizon (``co2_t`` of :mod:`siting.model.metrics` with no baseline) [t CO2];
        ``(0, 0)`` without the grid model.

    Raises
    ------
    GridBaseError
        When the grid cannot serve its base load within its limits; the message names the
        years, snapshots and buses with unserved load and the overloaded branches.
    siting.solve.highs.NoPlanInTimeError
        When the run's deadline passes before the LP is solved.
    """
    if not d.grid.enabled:
        return 0.0, 0.0
    base = _no_sites(d)
    if _baseline.covered(base):  # (a reason it is not: the Pyomo model)
        return pyomo_grid_baseline(d, threads, clock)
    use_threads(threads)
    ans = _baseline.solve_baseline(base, threads, clock, highs=_baseline.new_highs())
    return _baseline_values(ans, d, threads, clock)


def _baseline_values(
    ans: _baseline.BaselineAnswer, d: ModelData, threads: int, clock: Clock | None
) -> tuple[float, float]:
    """(usd, co2_t) of :func:`siting.solve.baseline.solve_baseline`'s answer, or its failure
    raised as :func:`pyomo_grid_baseline` raises it: the time limit, or the grid unable to
    serve its own load (the Pyomo model's elastic form says where)."""
    if ans.status == "optimal" and ans.usd is not None and ans.co2_t is not None:
        return ans.usd, ans.co2_t
    if clock is not None and ans.termination == "maxTimeLimit":
        raise NoPlanInTimeError(_baseline_out_of_time(clock))
    _explain_grid_base(_no_sites(d), d, threads, clock)


def pyomo_grid_baseline(
    d: ModelData, threads: int = 2, clock: Clock | None = None
) -> tuple[float, float]:
    """:func:`grid_baseline` through the Pyomo model of the grid without campuses
    (:func:`siting.model.build_model` on :func:`_no_sites`), in either form."""
    if not d.grid.enabled:
        return 0.0, 0.0
    base = _no_sites(d)
    m = build_model(base)
    r = _baseline_lp(m, base, threads, clock)
    if r.has_solution and r.objective is not None:
        co2 = float(m.co2_t()) if m.component("co2_t") is not None else 0.0
        return float(m.energy_cost_npv()), co2
    if clock is not None and r.termination == "maxTimeLimit":
        raise NoPlanInTimeError(_baseline_out_of_time(clock))
    _explain_grid_base(base, d, threads, clock)


def _baseline_lp(
    m: pyo.ConcreteModel, base: ModelData, threads: int, clock: Clock | None
) -> SolveResult:
    """Solve a model of the grid without campuses (``base``) to a zero gap."""
    return solve_model(m, base, time_limit_s=600, mip_gap=0.0, threads=threads, clock=clock)


def _baseline_out_of_time(clock: Clock) -> str:
    """The message of a run whose deadline came while the grid baseline was solved."""
    return (
        f"no plan within the time limit ({clock.limit_s:g} s): it ran out while solving "
        "the grid's own dispatch without campuses (the baseline every plan is costed "
        f"against), {clock.elapsed_s():,.1f} s into the run; raise --time-limit. "
        "Nothing was written."
    )


def _explain_grid_base(
    base: ModelData, d: ModelData, threads: int, clock: Clock | None
) -> NoReturn:
    """Raise :class:`GridBaseError` with what the grid without campuses (``base``) cannot
    serve, from the elastic form of its Pyomo model."""
    me = build_model(base, elastic=True)
    re = _baseline_lp(me, base, threads, clock)
    viol = _elastic.violations(me) if re.has_solution else []
    raise GridBaseError(
        "the grid cannot serve its own base load within its limits, before any campus:\n"
        + _describe(viol, d)
    )


#: How long the model build waits, at most, for the grid baseline's worker to start its
#: first HiGHS run [s] (:meth:`GridBaseline.head_start`).
BASELINE_HEAD_START_S = 1.0


class GridBaseline:
    """The grid baseline of a run (:func:`grid_baseline`), started by :func:`prepare` and
    read when first needed (:meth:`values`; :meth:`usd` and :meth:`co2_t` for
    :func:`siting.model.build_model`).

    With ``background``, a grid baseline built with numpy (:mod:`siting.solve.baseline`:
    the PTDF form) is solved in a worker thread while the caller goes on: the campus
    model is built meanwhile, in Python, while HiGHS solves the baseline, which releases
    Python's lock (and the model is built with numpy, so the worker holds it for little
    else); the build waits for the baseline only before the objective
    (:func:`siting.model.build_model`), and a model built before the baseline is known is
    handed to HiGHS while it waits (:func:`_early_hand_over`). Its errors are raised in
    the thread that reads the values, as :func:`grid_baseline` raises them; an error of
    the build waits for the baseline and gives way to the baseline's own
    (:func:`_baseline_first`). Otherwise (or in the angle form, which goes through Pyomo:
    Pyomo's HiGHS interface redirects the process's output while it solves, so it must
    not run beside other work) it is solved at once, in the calling thread, and its
    errors raised from here.

    Attributes
    ----------
    own_s
        The baseline's own time, start to answer [s].
    wait_s
        The time the caller waited for it after starting it [s].
    background
        Whether it runs (or ran) in a worker thread.
    head_start_s
        The time the caller waited for the worker to start its first HiGHS run before
        building the model (:meth:`head_start`) [s].
    """

    def __init__(
        self,
        d: ModelData,
        threads: int = 2,
        clock: Clock | None = None,
        *,
        background: bool = False,
    ):
        self._d, self._threads, self._clock = d, threads, clock
        self._values: tuple[float, float] | None = None
        self._error: Exception | None = None
        self._answer: _baseline.BaselineAnswer | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        #: set by the worker as it starts a HiGHS run, and when it ends
        self._solving = threading.Event()
        self.own_s = 0.0
        self.wait_s = 0.0
        self.head_start_s = 0.0
        self.background = False
        t0 = time.perf_counter()
        if background and d.grid.enabled and not _baseline.covered(base := _no_sites(d)):
            use_threads(threads)  # (no HiGHS runs in this process until the worker is done)
            highs = _baseline.new_highs()  # (here: it hides HiGHS's banner)
            self.background = True
            self._thread = threading.Thread(
                target=self._work, args=(base, highs, t0), name="siting-grid-baseline",
                daemon=True,
            )  # fmt: skip
            self._thread.start()
            return
        try:
            self._values = grid_baseline(d, threads, clock)
        finally:
            self.own_s = time.perf_counter() - t0

    def _work(self, base: ModelData, highs: Any, t0: float) -> None:
        """The worker thread: solve, keep the answer or the error."""
        try:
            self._answer = _baseline.solve_baseline(
                base, self._threads, self._clock, highs=highs, stop=self._stop,
                solving=self._solving,
            )  # fmt: skip
        except Exception as e:  # noqa: BLE001  (raised again in the thread that reads it)
            self._error = e
        finally:
            self.own_s = time.perf_counter() - t0
            self._solving.set()

    def head_start(self, max_wait_s: float | None = None) -> None:
        """Wait, at most ``max_wait_s`` [s] (:data:`BASELINE_HEAD_START_S` when None), until
        the worker has started its first HiGHS run (or ended); the time waited goes to
        :attr:`head_start_s`.

        Until then the worker is in Python (the PTDF, its rows), and a model build beside it
        shares Python's lock with it, which puts off the baseline's LP: on national-TX the
        baseline is what the plan waits for (its LP is seconds), and letting it start first
        took 0.5 s off the wall not in HiGHS (median of 3, paired runs). The wait is
        short (0.6 s there, 0.2 s on national-M) and bounded, so a worker whose setup is
        long (a large grid's PTDF, which the build needs too) costs at most that.
        """
        if not self.running():
            return
        t = time.perf_counter()
        until = t + (BASELINE_HEAD_START_S if max_wait_s is None else max_wait_s)
        while not self._solving.is_set() and time.perf_counter() < until:
            self._solving.wait(min(0.05, max(until - time.perf_counter(), 0.0)))
        self.head_start_s += time.perf_counter() - t

    def values(self) -> tuple[float, float]:
        """(usd, co2_t) [USD, t CO2], waiting for the worker when it still runs (in short
        slices, so that Ctrl-C stops the wait at once).

        Raises
        ------
        GridBaseError, siting.solve.highs.NoPlanInTimeError
            As :func:`grid_baseline` (every call after the first raises the same error).
        """
        if self._values is not None:
            return self._values
        if self._error is not None:
            raise self._error
        thread = self._thread
        if thread is not None:
            t = time.perf_counter()
            while thread.is_alive():
                thread.join(0.1)
            self.wait_s += time.perf_counter() - t
            self._thread = None
        try:
            if self._error is not None:
                raise self._error
            ans = self._answer
            if ans is None or ans.status == "stopped":  # (stopped, then asked after all)
                self._values = grid_baseline(self._d, self._threads, self._clock)
            else:
                self._values = _baseline_values(ans, self._d, self._threads, self._clock)
        except Exception as e:
            self._error = e
            raise
        return self._values

    def running(self) -> bool:
        """Whether the worker is still solving."""
        return self._thread is not None and self._thread.is_alive()

    def usd(self) -> float:
        """The dispatch cost without campuses [USD] (:meth:`values`)."""
        return self.values()[0]

    def co2_t(self) -> float:
        """The emissions without campuses [t CO2] (:meth:`values`)."""
        return self.values()[1]

    def abandon(self) -> None:
        """The run stops (an interrupt): the worker starts no further HiGHS run, and one
        still under way counts in :func:`siting.solve.highs.highs_still_running` (the
        command line then ends the process at once rather than waiting for it)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            left_running(thread)


def _describe(viol: list[dict], d: ModelData, limit: int = 12) -> str:
    """Violations in words: what, where, by how much."""
    if not viol:
        return "  (the solver found no plan and no explanation; check the inputs)"
    lines = []
    by_req: dict[str, list[dict]] = {}
    for v in viol:
        by_req.setdefault(v["requirement"], []).append(v)
    for req, vs in by_req.items():
        vs = sorted(vs, key=lambda v: -v["amount"])
        total = sum(v["amount"] for v in vs)
        lines.append(
            f"  - {req}: {len(vs)} case(s), largest {vs[0]['amount']:,.1f} {vs[0]['unit']}"
        )
        for v in vs[: max(1, limit // max(1, len(by_req)))]:
            lines.append(f"      {_where(v, d)}: {v['amount']:,.1f} {v['unit']}")
        if len(vs) > 1:
            lines.append(f"      (sum {total:,.1f} {vs[0]['unit']})")
    return "\n".join(lines)


def _where(v: dict, d: ModelData) -> str:
    """Name the place and time of one slack entry in the user's IDs and years."""
    key = v["index"]
    key = key if isinstance(key, tuple) else (key,)
    name = v["slack"]
    years = d.horizon.years
    net = d.grid.net  # the grid's slacks (below) exist only when the grid is modelled
    try:
        if name == "target_short_mw":
            return f"year {years[key[0]]}"
        if net is not None and name == "unserved_mw":
            return f"bus {net.bus_ids[key[0]]}, year {years[key[1]]}, snapshot {key[2]}"
        if net is not None and name == "overload_mw":
            return f"branch {net.branch_ids[key[0]]}, year {years[key[1]]}, snapshot {key[2]}"
        if net is not None and name == "n1_overload_mw":
            return (
                f"branch {net.branch_ids[key[0]]} after an outage, year {years[key[1]]}, "
                f"snapshot {key[2]}"
            )
        if net is not None and name == "headroom_mw":
            return f"substation at bus {net.bus_ids[key[0]]}, year {years[key[1]]}"
        if name in ("water_short_m3_per_day",):
            return f"site {key[0]}, year {years[key[1]]}"
        if name in ("source_over_m3_per_day",):
            return f"water source {key[0]}, year {years[key[1]]}"
        if name in ("region_min_mw", "region_max_mw", "demand_short_mw"):
            return f"region {key[0]}, year {years[key[1]]}"
        if name in ("potable_over_m3_per_day", "zone_share_mw", "public_short_mw"):
            return f"year {years[key[0]]}"
    except (IndexError, KeyError, TypeError):
        pass
    return str(key)


@dataclasses.dataclass
class Prepared:
    """Everything a solve needs, before the MILP is built (see :func:`prepare`).

    ``baseline``: the grid baseline (perhaps still being solved in the background);
    :attr:`baseline_usd` and :attr:`baseline_co2_t` wait for it.
    """

    scenario: Scenario
    layers: Layers
    candidates: Candidates
    data: ModelData
    baseline: GridBaseline
    timings: dict[str, float]

    @property
    def baseline_usd(self) -> float:
        """The grid's dispatch cost without campuses [USD] (:meth:`GridBaseline.values`)."""
        return self.baseline.usd()

    @property
    def baseline_co2_t(self) -> float:
        """The grid's emissions without campuses [t CO2] (:meth:`GridBaseline.values`)."""
        return self.baseline.co2_t()


def prepare(
    scenario: str | Path | Scenario,
    *,
    progress: Callable[[str], None] | None = None,
    on_scenario: Callable[[Scenario], None] | None = None,
    screen: bool = True,
    clock: Clock | None = None,
    background_baseline: bool = False,
) -> Prepared:
    """Scenario, layers, candidates, cooling, network, model data and the grid baseline.

    Parameters
    ----------
    scenario
        A scenario file path, or a :class:`siting.config.scenario.Scenario`.
    progress
        Called with each stage's name as it starts.
    on_scenario
        Called with the scenario once it is loaded, before the layers are read.
    screen
        Dominance screening of the candidates (:func:`siting.model.dominance.screen`):
        leave out sites that cannot be in some optimal plan, add ``open[B] <= open[A]``
        cuts. Off for replays of a given plan (a cut could forbid it).
    clock
        The run's clock: the grid baseline's LP gets the time left before its deadline.
    background_baseline
        Solve the grid baseline in a worker thread where it can (:class:`GridBaseline`):
        it is then still running when this returns, and its errors come when its values
        are first read. Off: solved here, its errors raised from here.
    """
    from siting.candidates.cooling import cooling_table
    from siting.candidates.generate import build_candidates
    from siting.config.scenario import Scenario, load_scenario
    from siting.inputs import load_layers
    from siting.network import dc_network

    say = progress or (lambda _s: None)
    timings: dict[str, float] = {}

    def stage(name: str) -> float:
        say(name)
        return time.perf_counter()

    t = stage("scenario")
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    timings["scenario_s"] = time.perf_counter() - t
    if on_scenario is not None:
        on_scenario(sc)

    t = stage("layers")
    layers = load_layers(sc)
    timings["layers_s"] = time.perf_counter() - t

    t = stage("candidates")
    cands = build_candidates(sc, layers)
    timings["candidates_s"] = time.perf_counter() - t

    t = stage("cooling")
    cool = cooling_table(cands.sites[list(CLIMATE_COLUMNS)], list(sc.campus.cooling))
    timings["cooling_s"] = time.perf_counter() - t

    t = stage("network")
    net = dc_network(layers.grid) if sc.grid.enabled and layers.grid is not None else None
    d = model_data(sc, layers, cands, cool, net)
    timings["network_s"] = time.perf_counter() - t
    if screen:
        t = stage("screening")
        d = _dominance.screen(d)[0]
        timings["screening_s"] = time.perf_counter() - t

    t = stage("grid baseline")
    baseline = GridBaseline(d, sc.solver.threads, clock, background=background_baseline)
    timings["baseline_s"] = time.perf_counter() - t
    return Prepared(sc, layers, cands, d, baseline, timings)


@dataclasses.dataclass
class Replay:
    """A given plan's decisions re-solved under another scenario (see :func:`replay`).

    Attributes
    ----------
    status
        ``optimal`` (the decisions can be operated: dispatch, water), ``infeasible``, ...
    objective_usd, bound_usd
        Net present cost with those decisions, and the solver's proven lower bound on it
        [USD] (None when infeasible).
    violations
        When infeasible: what the decisions break, from the elastic re-solve (requirement,
        index in the user's IDs and years, amount, unit).
    missing_sites
        Sites of the plan that are not candidates of this scenario (they are left out).
    """

    status: str
    objective_usd: float | None
    bound_usd: float | None
    violations: list[dict]
    missing_sites: list[str]


def fix_decisions(m: pyo.ConcreteModel, d: ModelData, schedule: pd.DataFrame) -> list[str]:
    """Fix the siting decisions of ``m`` (open, opening year, cooling, modules) to a schedule.

    Returns the schedule's sites that ``m`` does not know, and its decisions that ``m``
    cannot take (left out): a cooling the site does not allow, or modules a site whose
    build the data pin to its opening (:func:`siting.model.sites.pinned_to_open`) cannot
    hold. Decisions are fixed in the order open, opening period, modules, cooling; a
    member pinned to ``open[s]`` keeps the value fixed first.
    """
    known = set(d.campus.sites)
    missing = sorted(set(schedule["site_id"]) - known)
    sched = schedule[schedule["site_id"].isin(known)]
    year_pos = {y: t for t, y in enumerate(d.horizon.years)}
    new = {
        (r.site_id, year_pos[as_int(r.year)]): as_float(r.new_it_mw)
        for r in sched.itertuples(index=False)
    }
    cool = sched.groupby("site_id")["cooling"].first().to_dict()
    first = sched[sched["it_mw"] > 0].groupby("site_id")["year"].min().to_dict()
    fixed: dict[int, int] = {}  # id(variable) -> the value this call fixed it at
    techs_of = model_state(m).techs_of
    if techs_of is None:
        raise SitingError(
            "the model has no cooling technologies per site: it was not built by "
            "siting.model.build_model"
        )

    def fix(v: VarData, x: int) -> bool:
        if fixed.setdefault(id(v), x) != x:
            return False  # the same column as a decision fixed before, at another value
        v.fix(x)
        return True

    for s in d.campus.sites:
        is_open = s in first
        fix(m.open[s], 1 if is_open else 0)
        for t, y in enumerate(d.horizon.years):
            fix(m.opens[s, t], 1 if is_open and first[s] == y else 0)
            n = round(new.get((s, t), 0.0) / d.campus.module_mw)
            if not fix(m.build[s, t], n):
                missing.append(f"{s} ({n} modules in {y}; the site holds one)")
        for k in techs_of[s]:
            fix(m.tech[s, k], 1 if cool.get(s) == k else 0)
        if is_open and cool.get(s) not in techs_of[s]:
            missing.append(f"{s} (cooling '{cool.get(s)}' not allowed there)")
    return missing


def fix_upgrades(m: pyo.ConcreteModel, d: ModelData, upgrades: pd.DataFrame) -> list[str]:
    """Fix the grid upgrade decisions of ``m`` to a plan's ``upgrades`` (all others: none).

    Returns the upgrades the model does not offer (``branch 7``), which are left out.
    """
    missing = []
    taken: dict[tuple[str, str], int] = {
        (str(r.asset), str(r.asset_id)): as_int(r.year) for r in upgrades.itertuples(index=False)
    }
    for asset, var, table, id_col in (
        ("branch", getattr(m, "up_branch", None), d.grid.branch_upgrades, "branch_id"),
        ("substation", getattr(m, "up_bus", None), d.grid.bus_upgrades, "bus_id"),
    ):
        offered = {str(i): as_int(pos) for pos, i in table[id_col].items()}
        for (a, i), _y in taken.items():
            if a == asset and i not in offered:
                missing.append(f"{asset} {i}")
        if var is None:
            continue
        for i, pos in offered.items():
            year = taken.get((asset, i))
            for t, y in enumerate(d.horizon.years):
                v = var[pos, t]
                want = 1 if year == y else 0
                if want and v.ub == 0:
                    missing.append(f"{asset} {i} in {y} (before its lead time ends)")
                    want = 0
                v.fix(want)
    return missing


def replay(
    scenario: str | Path | Scenario,
    schedule: pd.DataFrame,
    *,
    upgrades: pd.DataFrame | None = None,
    time_limit_s: float = 600.0,
) -> Replay:
    """Re-solve a plan's siting decisions under a (possibly different) scenario.

    The decisions (which sites open, in which year, with which cooling, how many modules
    per year) are fixed; dispatch, water and the rest are optimised again. It answers
    "what would this plan cost here?" and "can it be operated here at all?", and shows
    what a layer changes: a plan made while ignoring it, replayed with it.

    Parameters
    ----------
    scenario
        A scenario file path, or a :class:`siting.config.scenario.Scenario`.
    schedule
        A plan's schedule (``site_id, year, it_mw, new_it_mw, cooling``).
    upgrades
        A plan's grid upgrades (``asset, asset_id, year``): fixed too, every other upgrade
        not taken; ``None`` leaves the upgrades free. Upgrades the scenario does not offer
        are listed in ``missing_sites``.
    time_limit_s
        Wall-clock limit of the whole replay [s]: loading, the grid baseline and every
        solve round share one deadline (:mod:`siting.core.clock`).
    """
    clock = Clock(limit_s=time_limit_s)
    prep = prepare(scenario, screen=False, clock=clock)
    d = prep.data
    m = build_model(d, baseline_usd=prep.baseline_usd, baseline_co2_t=prep.baseline_co2_t)
    missing = fix_decisions(m, d, schedule)
    if upgrades is not None:
        missing += fix_upgrades(m, d, upgrades)
    solver = prep.scenario.solver

    def run(mm: pyo.ConcreteModel) -> SolveResult:
        return solve_model(
            mm,
            d,
            time_limit_s=time_limit_s,
            mip_gap=solver.mip_gap,
            threads=solver.threads,
            clock=clock,
        )

    r = run(m)
    if r.has_solution:
        return Replay(r.status, r.objective, r.bound, [], missing)
    viol: list[dict] = []
    if r.status == "infeasible":
        me = build_model(
            d, elastic=True, baseline_usd=prep.baseline_usd, baseline_co2_t=prep.baseline_co2_t
        )
        fix_decisions(me, d, schedule)
        if upgrades is not None:
            fix_upgrades(me, d, upgrades)
        re = run(me)
        if re.has_solution:
            viol = [{**v, "where": _where(v, d)} for v in _elastic.violations(me)]
    return Replay(r.status, None, None, viol, missing)


def plan(
    scenario: str | Path | Scenario,
    *,
    out: str | Path | None = None,
    write: bool = True,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
    solver: str | None = None,
    write_lp: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    clock: Clock | None = None,
    force: bool = False,
    tiles: bool = True,
    study_run: bool = False,
) -> Plan:
    """Plan a scenario: the whole pipeline.

    Parameters
    ----------
    scenario
        A scenario file path, or a :class:`siting.config.scenario.Scenario`.
    out
        Output folder (default ``maps/<scenario name>/``).
    write
        Write the outputs (``plan.gpkg``, ``schedule.csv``, ``flows.csv``, ``dispatch.csv``,
        ``manifest.json``).
    time_limit_s, mip_gap, solver
        Override the scenario's solver settings [s, fraction, name]. The time limit is
        wall-clock for the whole run up to the plan (loading, the grid baseline, building
        and every solve round share one deadline, :mod:`siting.core.clock`); verifying and
        writing the plan come after it.
    write_lp
        Also write the MILP as an LP file (over an existing file only when siting wrote it
        or with ``force``; never over an input).
    progress
        Called with each stage's name as it starts.
    clock
        The run's clock (started by the caller, e.g. to print progress from it); its
        ``limit_s`` is set here from ``time_limit_s`` or the scenario. Default: a new one.
    force
        Let ``out`` replace a siting folder of another scenario or kind, and ``write_lp``
        a file siting did not write (:func:`siting.core.io.check_output_folder`).
    tiles
        Offer OpenStreetMap tiles on the map (``index.html``) as a base the reader can
        switch on (no request until then; the default base is drawn offline from the layers).
    study_run
        One run of a study (a sweep's scenario, ``grid stress``'s plans): the scenario's
        ``solver.why_resolve: auto`` then does not re-solve without each chosen site
        (:mod:`siting.results.counterfactual`; ``on`` still does).

    Returns
    -------
    Plan
        Verified (:func:`siting.results.verify.verify`).

    Raises
    ------
    siting.core.errors.InputError
        Bad input.
    InfeasibleError
        No plan meets every requirement (the message says which cannot be met).
    siting.solve.highs.NoPlanInTimeError
        The time limit came before any plan meeting every requirement was found (nothing
        written; the message gives the best bound proved).
    siting.solve.highs.SolverTroubleError
        The solver stopped without a usable plan for another reason: numerical trouble, an
        unbounded or rejected model (nothing written).
    siting.core.io.OutputLockedError
        Another run is writing the same output folder (``write=True``; checked as soon as
        the scenario is loaded, and held to the end).
    siting.core.io.OutputRefusedError
        ``out`` or ``write_lp`` is not this run's to write (checked as soon as the scenario
        is loaded, before the layers are read, and again when writing).
    siting.core.io.OutputWriteError
        Writing failed (no space left, read-only, busy, no permission); the previous plan
        is kept as it was.
    PlanInterrupted
        Ctrl-C (a ``KeyboardInterrupt``); the message says what was kept.
    """
    state: dict[str, Any] = {
        "stage": "start",
        "dest": None,
        "plan": None,
        "force": force,
        "tiles": tiles,
        "study_run": study_run,
    }
    clock = clock if clock is not None else Clock()
    if time_limit_s is not None:
        clock.limit_s = float(time_limit_s)
    _RUNNING.append(state)
    with ExitStack() as locks, full_collections_paused():
        try:
            return _plan(
                scenario,
                locks,
                state,
                out,
                write,
                time_limit_s,
                mip_gap,
                solver,
                write_lp,
                progress,
                clock,
            )
        except KeyboardInterrupt as e:
            raise _plan_interrupted(state, e) or e from None
        except Exception as e:  # a library's own error as an interrupt unwound it
            stop = _plan_interrupted(state, e)
            if stop is None:
                raise
            raise stop from e
        finally:
            _RUNNING.remove(state)


def _plan_interrupted(state: dict[str, Any], e: BaseException) -> PlanInterrupted | None:
    """The :class:`PlanInterrupted` for ``e``, an interrupt or an error raised as one unwound
    (:func:`siting.core.interrupt.interrupt_behind`); ``None`` when no interrupt is behind it."""
    from siting.core.interrupt import interrupt_behind

    got = interrupt_behind(e)
    if got is None:
        return None
    term = got == signal.SIGTERM
    how = "terminated (SIGTERM)" if term else "interrupted"
    return PlanInterrupted(_interrupted(state, how), terminated=term)


def _interrupted(state: dict[str, Any], how: str = "interrupted") -> str:
    """What Ctrl-C during :func:`plan` left: the stage it stopped and the output folder."""
    head = f"{how} during '{state['stage']}': the run stopped"
    dest, p = state["dest"], state["plan"]
    if dest is None:
        return f"{head}; nothing was written"
    man = dest / "manifest.json"
    if p is not None and man.is_file():
        import json

        try:
            written = json.loads(man.read_text())
        except (OSError, ValueError):
            written = {}
        mine = ("created_utc", "scenario_digest_sha256")
        if all(written.get(k) == p.manifest.get(k) for k in mine):
            return f"{head} after the new plan was written whole to {dest}"
    if man.is_file():
        return f"{head}; nothing was written: the previous plan in {dest} is kept as it was"
    return f"{head}; nothing was written to {dest}"


def _plan(
    scenario: str | Path | Scenario,
    locks: ExitStack,
    state: dict[str, Any],
    out: str | Path | None,
    write: bool,
    time_limit_s: float | None,
    mip_gap: float | None,
    solver: str | None,
    write_lp: str | Path | None,
    progress: Callable[[str], None] | None,
    clock: Clock,
) -> Plan:
    """The body of :func:`plan` (``locks``: where the output lock is held; ``state``: the
    stage and output folder, for the message when interrupted; ``clock``: the run's)."""
    said = progress or (lambda _s: None)

    def say(name: str) -> None:
        state["stage"] = name
        clock.at(name)
        said(name)

    t_all = time.perf_counter()
    lp_target: OutputFile | None = None  # the checked ``write_lp`` once the scenario is loaded

    def lock(sc: Scenario) -> None:
        nonlocal lp_target
        if time_limit_s is None:
            clock.limit_s = float(sc.solver.time_limit_s)
        if write:
            dest = Path(out if out is not None else DEFAULT_OUT_ROOT / sc.name)
            state["dest"] = _check_outputs(sc, dest, state["force"])
            locks.enter_context(output_lock(state["dest"]))
        if write_lp is not None:
            lp_target = _lp_target(sc, write_lp, state["force"], state["dest"])

    prep = prepare(scenario, progress=say, on_scenario=lock, clock=clock, background_baseline=True)
    sc = prep.scenario
    timings = dict(prep.timings)
    settings = _solver_settings(sc, solver, time_limit_s, mip_gap)
    kept = _kept(state["dest"])
    with _baseline_first(prep.baseline):
        _check_time_left(sc, clock, kept)
        m, d, result, by_method = _solve(prep, settings, lp_target, say, clock, timings)
    if prep.baseline.background:  # (baseline_s: starting it; it ran beside the build)
        timings["baseline_own_s"] = prep.baseline.own_s
        timings["baseline_wait_s"] = prep.baseline.wait_s
        timings["baseline_head_start_s"] = prep.baseline.head_start_s
    if not result.has_solution:
        _raise_no_plan(prep, d, result, settings, say, clock, kept)
    p = _verified_plan(prep, m, d, result, say, timings)
    t_why = time.perf_counter()
    resolve, resolve_note = _why_resolve(
        prep, m, d, p, result, settings, by_method, timings, say, state["study_run"]
    )
    timings["why_resolve_s"] = time.perf_counter() - t_why
    t_why = _stage(say, "why here")  # every kept candidate compared (prep.data: all)
    why = explain(p, prep.data, resolve=resolve, resolve_note=resolve_note)
    timings["why_s"] = time.perf_counter() - t_why
    timings["total_s"] = time.perf_counter() - t_all

    p.manifest = _manifest(
        sc, prep.layers, prep.candidates, d, p, result, settings, prep.baseline_usd, timings
    )
    p.manifest["why_here"] = why
    _export_summary(p, m, d)
    if by_method and model_state(m).kernel_info is not None:
        p.manifest["kernel"] = dataclasses.asdict(model_state(m).kernel_info)
    if by_method and model_state(m).approx_info is not None:
        p.manifest["approximate_network"] = dataclasses.asdict(model_state(m).approx_info)
    if write:
        _write_plan(p, state, say)
    return p


def _early_hand_over(
    baseline: GridBaseline, d: ModelData
) -> Callable[[pyo.ConcreteModel], None] | None:
    """:func:`siting.model.build_model`'s ``meanwhile`` for a run whose grid baseline is
    solved in the background: a model whose families are built while the baseline is
    still being solved is handed to HiGHS then (:func:`siting.solve.highs.hand_over`),
    its objective set once the baseline is known. Only where the metrics and the
    objective add no row (no cap, least cost), so that HiGHS gets the rows in the order
    of a hand-over after the build (None otherwise)."""
    caps = d.caps
    rows_after = (
        caps.water_cap_m3_per_day is not None
        or caps.co2_cap_t is not None
        or caps.upgrade_budget_usd is not None
        or d.goal.sense != "min_cost"
    )
    if not baseline.background or rows_after:
        return None

    def meanwhile(m: pyo.ConcreteModel) -> None:
        if baseline.running():
            hand_over(m)

    return meanwhile


@contextlib.contextmanager
def _baseline_first(baseline: GridBaseline) -> Iterator[None]:
    """The block that runs beside a grid baseline still being solved (:class:`GridBaseline`)
    and needs its values: the values are read (waited for) when the block ends. An error
    in the block waits for the baseline and raises the baseline's error when it has one,
    as when the baseline was solved before the block began; an interrupt stops the
    baseline's worker instead (:meth:`GridBaseline.abandon`)."""
    try:
        yield
    except KeyboardInterrupt:
        baseline.abandon()
        raise
    except Exception:
        try:
            baseline.values()
        except Exception as first:
            raise first from None
        raise
    baseline.values()


def _why_resolve(
    prep: Prepared,
    m: pyo.ConcreteModel,
    d: ModelData,
    p: Plan,
    result: SolveResult,
    settings: dict[str, Any],
    by_method: bool,
    timings: dict[str, float],
    say: Callable[[str], None],
    study_run: bool,
) -> tuple[pd.DataFrame | None, str]:
    """The plan re-solved without each chosen site (:mod:`siting.results.counterfactual`)
    when ``solver.why_resolve`` wants it, by the plan's own solve path (the lazy loop where
    the model needs it; its LP rounds skipped: the model holds the plan's limits), each
    re-solve with its own deadline; and why it ran or not, in words.

    Returns
    -------
    (DataFrame or None, str)
        :func:`siting.results.counterfactual.without_each`'s table (None when not run), and
        the reason.
    """
    from siting.results import counterfactual as cf
    from siting.solve.lazy import needs_lazy, solve_lazy

    setting = prep.scenario.solver.why_resolve
    if setting == "auto" and study_run:
        return None, "solver.why_resolve auto: not in a study's runs (sweep, grid stress)"
    base_s = float(timings.get("solve_s", 0.0))
    n_int = int(result.integers or 0)
    go, why = cf.wanted(setting, len(p.sites), n_int, by_method=by_method, sense=d.goal.sense)
    if not go:
        return None, why
    limit_s = cf.resolve_limit_s(base_s)
    gap = settings["mip_gap"]
    if result.gap is not None:  # the plan's achieved gap, when tighter (0.01 % at least)
        gap = min(gap, max(float(result.gap), cf.MIN_GAP))
    each = {**settings, "time_limit_s": limit_s, "mip_gap": gap}

    def run(mm: pyo.ConcreteModel) -> SolveResult:
        clock = Clock(limit_s=limit_s)
        if needs_lazy(mm, d):
            r, _ = solve_lazy(
                mm, d, lambda x: solve(x, clock=clock, **each), lp_first=False, clock=clock
            )
            return r
        return solve(mm, clock=clock, **each)

    table = cf.without_each(m, d, p, result, run, progress=say)
    return table, f"{why}; each re-solve limited to {limit_s:.0f} s, at a gap of {gap:.3%}"


def _stage(say: Callable[[str], None], name: str) -> float:
    """Name the stage that starts (``say``); its start time [s, ``time.perf_counter``]."""
    say(name)
    return time.perf_counter()


def _solver_settings(
    sc: Scenario, solver: str | None, time_limit_s: float | None, mip_gap: float | None
) -> dict[str, Any]:
    """The solve's settings: the scenario's ``solver`` section with the run's overrides
    (``time_limit_s`` [s], ``mip_gap`` [fraction])."""
    return dict(
        solver=solver or sc.solver.name,
        time_limit_s=time_limit_s if time_limit_s is not None else sc.solver.time_limit_s,
        mip_gap=mip_gap if mip_gap is not None else sc.solver.mip_gap,
        threads=sc.solver.threads,
    )


def _kept(dest: Path | None) -> str:
    """The end of a message that nothing was written: the previous plan in ``dest`` is kept
    ("" when there is none)."""
    return (
        f" The previous plan in {dest} is kept as it was."
        if dest is not None and (dest / "manifest.json").is_file()
        else ""
    )


def _check_time_left(sc: Scenario, clock: Clock, kept: str) -> None:
    """Raise :class:`NoPlanInTimeError` when loading and preparing used up the time limit."""
    if clock.expired():
        raise NoPlanInTimeError(
            f"no plan for '{sc.name}' within the time limit ({clock.limit_s:g} s): it ran "
            f"out before the solve started (loading and preparing took "
            f"{clock.elapsed_s():,.1f} s); raise --time-limit. Nothing was written." + kept
        )


def _solve(
    prep: Prepared,
    settings: dict[str, Any],
    write_lp: OutputFile | None,
    say: Callable[[str], None],
    clock: Clock,
    timings: dict[str, float],
) -> tuple[pyo.ConcreteModel, ModelData, SolveResult, bool]:
    """Build and solve the MILP: by the candidate kernel or the approximate network when
    they are wanted (HiGHS), else whole; adds ``build_s`` (a method's builds, made within
    its solve stage, too) and ``solve_s`` (the rest) to ``timings`` [s]. ``write_lp``: the
    checked LP file to write (:func:`_lp_target`), or None.

    Returns
    -------
    tuple
        The solved model, its data (the kernel's may be narrower), the solve's result, and
        whether a method (kernel, approximation) solved it.
    """
    sc, d = prep.scenario, prep.data
    # the grid baseline's constants, read when a model is built (it may still be solved)
    usd, co2_t = prep.baseline.usd, prep.baseline.co2_t
    highs = settings["solver"].lower() == "highs"
    meanwhile = _early_hand_over(prep.baseline, d) if highs else None
    prep.baseline.head_start()
    kern = None
    method: Callable[..., tuple[pyo.ConcreteModel, ModelData, SolveResult] | None] | None = None
    if highs:
        approximate = _approx.wanted(d, sc.solver.approximate_network)
        if _kernel.wanted(d, sc.solver.candidate_kernel):
            # on a large grid too, each kernel MILP with approximate rows
            method = functools.partial(solve_by_kernel, approximate=approximate)
        elif approximate:
            method = solve_by_approximation
    if method is not None:
        t = time.perf_counter()  # (the method names its own stages)
        timings["build_s"] = 0.0  # (its builds, within its solve stage)
        kern = method(
            d,
            usd,
            co2_t,
            settings,
            write_lp=write_lp,
            progress=say,
            clock=clock,
            meanwhile=meanwhile,
            timings=timings,
        )
        timings["solve_s"] = time.perf_counter() - t - timings["build_s"]
    if kern is not None:
        m, d, result = kern
    else:
        t = _stage(say, "build model")
        m = build_model(d, baseline_usd=usd, baseline_co2_t=co2_t, meanwhile=meanwhile)
        objective_added(m)
        timings["build_s"] = time.perf_counter() - t

        t = _stage(say, "solve")
        result = solve_model(m, d, write_lp=write_lp, clock=clock, **settings)
        timings["solve_s"] = time.perf_counter() - t
    return m, d, result, kern is not None


def _raise_no_plan(
    prep: Prepared,
    d: ModelData,
    result: SolveResult,
    settings: dict[str, Any],
    say: Callable[[str], None],
    clock: Clock,
    kept: str,
) -> NoReturn:
    """Raise why the solve gave no plan: :class:`InfeasibleError`, :class:`NoPlanInTimeError`
    or :class:`SolverTroubleError` (``kept``: what became of the previous plan)."""
    sc = prep.scenario
    if result.status == "infeasible":
        _raise_infeasible(prep, d, result, settings, say, clock)
    if result.status == "no_solution":
        _raise_no_plan_in_time(sc, d, result, clock, kept)
    why = [n for n in result.notes if n.startswith("numerical trouble")] or [
        f"{result.solver} stopped at {stopped_by(result.termination)} (termination "
        f"'{result.termination}')",
        *result.notes,
    ]
    raise SolverTroubleError(
        f"no usable plan for '{sc.name}': {'; '.join(why)}. This is neither "
        "infeasibility nor the time limit; check the scenario's figures for extreme "
        "values, or try another --solver. Nothing was written." + kept
    )


def _raise_infeasible(
    prep: Prepared,
    d: ModelData,
    result: SolveResult,
    settings: dict[str, Any],
    say: Callable[[str], None],
    clock: Clock,
) -> NoReturn:
    """Raise :class:`InfeasibleError` with what the least-violating plan misses (the elastic
    re-solve, when the time limit leaves time for it)."""
    _stage(say, "explain infeasibility")
    me = build_model(
        d, elastic=True, baseline_usd=prep.baseline_usd, baseline_co2_t=prep.baseline_co2_t
    )
    re = solve_model(me, d, clock=clock, **settings)
    viol = (
        [{**v, "where": _where(v, d)} for v in _elastic.violations(me)] if re.has_solution else []
    )
    why = (
        _describe(viol, d)
        if viol or not clock.expired()
        else (
            f"  (the time limit, {clock.limit_s:g} s, left no time to find which "
            "requirements cannot be met; raise --time-limit to see them)"
        )
    )
    raise InfeasibleError(
        f"scenario '{prep.scenario.name}' has no plan that meets every requirement. Relaxing "
        "them, the least-violating plan misses:\n" + why,
        viol,
        result,
    )


def _raise_no_plan_in_time(
    sc: Scenario, d: ModelData, result: SolveResult, clock: Clock, kept: str
) -> NoReturn:
    """Raise :class:`NoPlanInTimeError`: the solver stopped (time limit or its own limits)
    before any plan, with the best bound proved [USD] when it is a cost."""
    timed_out = result.termination == "maxTimeLimit"
    bound = (
        f" The best bound proved: no plan costs less than {usd(result.bound)}."
        if timed_out and result.bound is not None and d.goal.sense == "min_cost"
        else ""
    )
    raise NoPlanInTimeError(
        f"no plan found for '{sc.name}' within the "
        + ("time limit" if timed_out else "solver's limits")
        + f": the solver stopped at {stopped_by(result.termination)}"
        + (
            f" ({clock.limit_s:g} s for the whole run, {clock.elapsed_s():,.1f} s spent)"
            if timed_out
            else ""
        )
        + " before finding any plan that meets every requirement; raise "
        "--time-limit or simplify the scenario."
        + bound
        + " Nothing was written."
        + kept
        + "".join(
            f" ({n})"
            for n in result.notes
            if n.startswith(
                (
                    "candidate kernel",
                    "the time limit came",
                    "approximate network",
                    "the lazy loop stopped",
                )
            )
        )
    )


def _verified_plan(
    prep: Prepared,
    m: pyo.ConcreteModel,
    d: ModelData,
    result: SolveResult,
    say: Callable[[str], None],
    timings: dict[str, float],
) -> Plan:
    """The solved model read out (:func:`siting.results.plan.extract`) with its metrics, and
    verified (:func:`siting.results.verify.verify`); adds ``verify_s`` to ``timings``."""
    sc = prep.scenario
    t = _stage(say, "verify")
    p = extract(
        m, d, prep.layers, prep.candidates, result, name=sc.name, zone_settings=sc.growth_zones
    )
    p.metrics = metric_values(m, d)
    p.metrics["baseline_co2_t"] = prep.baseline_co2_t if d.grid.enabled else None
    p.checks = verify(p, d, prep.layers)
    p.settings = settings_lines(p, d, shadow_prices(m, d))
    timings["verify_s"] = time.perf_counter() - t
    return p


def verified_plan(
    prep: Prepared,
    m: pyo.ConcreteModel,
    d: ModelData,
    result: SolveResult,
    settings: dict[str, Any],
    *,
    scenario: Scenario | None = None,
    notes: list[str] | None = None,
) -> Plan:
    """A solved model as :func:`plan` makes it: read out, verified, explained (without the
    re-solves without each site) and with its manifest, ready to write.

    Parameters
    ----------
    prep
        The prepared run (layers, candidates, baseline).
    m, d, result
        The solved model, its data and the solve's result.
    settings
        The solve's settings (for the manifest).
    scenario
        The scenario to record as run (default ``prep.scenario``; e.g. one demand scenario
        of a two-stage study).
    notes
        More notes for the manifest (said in the report).
    """
    timings: dict[str, float] = {}
    p = _verified_plan(prep, m, d, result, lambda _s: None, timings)
    why = explain(p, prep.data, resolve_note="not run: a plan of a two-stage study")
    sc = scenario if scenario is not None else prep.scenario
    p.manifest = _manifest(
        sc, prep.layers, prep.candidates, d, p, result, settings, prep.baseline_usd, timings
    )
    p.manifest["why_here"] = why
    p.manifest["notes"] += list(notes or [])
    _export_summary(p, m, d)
    return p


def _export_summary(p: Plan, m: pyo.ConcreteModel, d: ModelData) -> None:
    """With an export market (``policy.export``), the MW IT sold per year [MW] and the price
    [USD/(MW year)] into the manifest's ``export``; with a compute section also what those
    MW are: the accelerators sold per year and generation [accelerators] and their compute
    [compute units, H100 = 1] (:attr:`siting.results.plan.Plan.export`), installed at the
    plan's sites and not counted toward the targets."""
    ex = m.component("export_mw")
    if ex is None:
        return
    p.manifest["export"] = {
        "usd_per_mw_year": d.policy.export_usd_per_mw_year,
        "export_mw_by_year": {
            str(y): float(ex[t].value or 0.0) for t, y in enumerate(d.horizon.years)
        },
    }
    if d.compute is None:
        return
    sold = p.export
    p.manifest["export"]["what"] = (
        "accelerators installed and in service at the plan's sites (in compute.csv), their "
        "compute sold abroad and not counted toward the targets"
    )
    by_year: dict[str, dict[str, float]] = {str(y): {} for y in d.horizon.years}
    for y, g, n in zip(
        sold["year"], sold["generation"], sold["accelerators_exported"], strict=True
    ):
        by_year[str(int(y))][str(g)] = float(n)
    p.manifest["export"]["accelerators_by_year"] = by_year
    p.manifest["export"]["compute_units_by_year"] = {
        str(y): float(sold.loc[sold["year"].astype(int) == y, "compute_units_exported"].sum())
        for y in d.horizon.years
    }


def _write_plan(p: Plan, state: dict[str, Any], say: Callable[[str], None]) -> None:
    """Write the plan into the run's output folder (``state["dest"]``); the time it took
    goes into the manifest's timings [s]."""
    t = _stage(say, "write")
    dest = state["dest"]
    p.manifest["output_dir"] = str(dest)
    state["plan"] = p
    p.write(dest, force=state["force"], tiles=state.get("tiles", True))
    p.manifest["timings"]["write_s"] = time.perf_counter() - t


def _check_outputs(sc: Scenario, dest: Path, force: bool) -> Path:
    """:func:`siting.core.io.check_output_folder` of a plan folder, as soon as the scenario is
    loaded; the folder, resolved."""
    from siting.inputs import input_files

    owner = OutputOwner("plan", sc.name)
    return check_output_folder(dest, owner, inputs=input_files(sc), force=force)


def _lp_target(sc: Scenario, write_lp: str | Path, force: bool, dest: Path | None) -> OutputFile:
    """The checked ``--write-lp`` file: never an input, nor inside the plan folder (which the
    plan replaces), nor a file siting did not write unless ``force``."""
    from siting.core.io import OutputRefusedError
    from siting.inputs import input_files

    target = OutputFile(Path(write_lp), tuple(input_files(sc)), force, LP_SIGNATURE)
    path = target.check()
    if dest is not None and dest in path.parents:
        raise OutputRefusedError(
            f"--write-lp {path} is inside the output folder {dest}, which the plan replaces "
            "whole; write the LP file beside it",
            path,
        )
    return target


def optimality(result: SolveResult, time_limit_s: float | None = None) -> str:
    """Whether the plan is proven optimal, in words (for the manifest, the CLI, the report)."""
    gap = f"{result.gap:.3%}" if result.gap is not None else "unknown"
    if result.status == "optimal":
        return f"proven optimal within the MIP gap (gap {gap})"
    limit = (
        f" of {time_limit_s:g} s"
        if result.termination == "maxTimeLimit" and time_limit_s is not None
        else ""
    )
    return (
        f"not proven optimal: the solver stopped at {stopped_by(result.termination)}{limit} "
        f"with a gap of {gap} to the best bound"
    )


def _manifest(
    sc: Scenario,
    layers: Layers,
    cands: Candidates,
    d: ModelData,
    p: Plan,
    result: SolveResult,
    settings: dict[str, Any],
    baseline: float,
    timings: dict[str, float],
) -> dict[str, Any]:
    """Provenance and figures of a run (manifest.json)."""
    by_year = p.it_mw_by_year()
    compute = compute_summary(p, d)  # (only with a compute section: other manifests as before)
    return {
        "siting_manifest": 1,
        **run_record(sc, layers.inputs),
        "solver": {**settings, "version": result.solver_version},
        "status": result.status,
        "termination": result.termination,
        "proven_optimal": result.status == "optimal",
        "optimality": optimality(result, settings.get("time_limit_s")),
        "objective_usd": result.objective,
        "best_bound_usd": result.bound,
        "gap": result.gap,
        "model_size": {"rows": result.rows, "columns": result.columns, "integers": result.integers},
        "grid_enabled": bool(d.grid.enabled),
        "grid_baseline_dispatch_usd": baseline,
        "costs_usd": p.costs_usd,
        "grid_upgrades": p.upgrades.to_dict(orient="records"),
        "total_cost_usd": p.total_cost_usd,
        "metrics": p.metrics,
        "it_mw_by_year": {str(k): float(v) for k, v in by_year.items()},
        "sites_chosen": int(len(p.sites)),
        "candidates": {
            "made": int(len(cands.all)),
            "kept": int(len(cands.sites)),
            "screening": [{"rule": r, "removed": int(n)} for r, n in cands.rules],
        },
        "verification": [
            {"check": c.name, "ok": c.ok, "worst": c.worst, "unit": c.unit, "said": c.said}
            for c in p.checks
        ],
        "settings": p.settings,
        "heat": heat_summary(p, d),
        "delay": delay_summary(p, d),
        **({"compute": compute} if compute is not None else {}),
        "cost_split_usd": cost_split(p.costs_usd),
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "notes": list(layers.notes) + list(cands.notes) + list(d.notes) + list(result.notes),
    }
