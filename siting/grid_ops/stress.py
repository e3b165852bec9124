"""Grid stress tests: a scenario re-planned or re-checked with branches derated or out.

A grid operator asks "what if line L is derated to 80 %, or out of service?". :func:`stress`
answers by comparing two runs of one scenario:

- the **base**: the plan of the scenario as it is (its own ``grid.derate`` and
  ``grid.outages`` included); a plan folder already written by ``siting plan``
  (``schedule.csv``, ``manifest.json``, ``flows.csv`` and ``upgrades.csv`` when present),
  a :class:`~siting.results.plan.Plan` in memory, or else planned here;
- the **stressed** scenario: the same scenario with the requested derates and outages merged
  into ``grid.derate`` / ``grid.outages`` (:func:`stressed_scenario`). A derate multiplies
  the branch's normal and emergency ratings; on a branch the scenario already derates, the
  factors multiply (0.9 in the scenario and 0.8 asked give 0.72 of the layer's rating, i.e.
  0.8 of the base's rating). An outage takes the branch out of service for every year.

Two modes:

``replan`` (default)
    :func:`siting.pipeline.plan` on the stressed scenario, compared with the base: sites
    added and dropped, IT MW per site and year, first years, cooling, IT MW per year against
    the targets, each cost part and the total (present value, USD), the branches whose peak
    loading changed most, and grid upgrades added or dropped. When the stressed scenario has
    no plan, the result is *infeasible* and carries the explanation of what cannot be met
    (the :class:`~siting.pipeline.InfeasibleError`'s message and violations).
``check``
    The base plan's decisions (sites, MW per year, cooling) are kept and only the operation
    (dispatch, water) is re-solved under the stressed grid with
    :func:`siting.pipeline.replay`: the result says whether the base plan still works and,
    when not, which limits it breaks and by how much (replay's violations; branch overloads
    in MW and % of the stressed rating).

Either way :class:`StressResult` holds the comparison as DataFrames,
:meth:`StressResult.as_dict` a JSON-ready summary and :meth:`StressResult.write` the
folder ``siting grid stress --out`` writes. An infeasible stressed scenario, or a base plan
that breaks limits, is an *answer* (``feasible`` is False), not an error; only an
infeasible *base* scenario raises (there is nothing to compare with).
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from siting.core.cells import as_float, as_int
from siting.core.errors import InputError, Problem, ScenarioError, SitingError, is_missing
from siting.core.files import path_problem
from siting.core.io import OutputOwner, staged_folder
from siting.core.plan_files import raise_plan_problems, read_manifest, read_plan_table

if TYPE_CHECKING:
    from siting.config.scenario import Scenario
    from siting.inputs.grids.grid import Grid
    from siting.pipeline import InfeasibleError, Replay
    from siting.results.plan import Plan

#: The two modes of :func:`stress`.
MODES = ("replan", "check")
#: ``BasePlan.source`` of a base planned by :func:`stress` itself.
PLANNED_HERE = "planned in-process"
#: Name of the summary in an output folder.
SUMMARY_FILE = "stress.json"
#: Sub-folder of an output folder holding a base plan that was not on disk before.
BASE_SUBDIR = "base"
#: Branches listed in :meth:`StressResult.as_dict` (largest change in peak loading first).
TOP_BRANCHES = 20
#: Changes smaller than this are no change [MW].
TOL_MW = 1e-6
#: Largest derate factor a scenario accepts (``grid.derate``; siting.config.scenario).
MAX_FACTOR = 10.0

#: Columns of :attr:`StressResult.moved_sites`.
MOVED_COLUMNS = ["site_id", "change", "year", "base_it_mw", "stressed_it_mw", "delta_it_mw"]
#: Columns of :attr:`StressResult.site_changes`.
SITE_COLUMNS = [
    "site_id",
    "change",
    "what",
    "base_first_year",
    "stressed_first_year",
    "base_cooling",
    "stressed_cooling",
    "base_it_mw_final",
    "stressed_it_mw_final",
]
#: Columns of :attr:`StressResult.edits`.
EDIT_COLUMNS = [
    "branch_id",
    "from_bus",
    "to_bus",
    "edit",
    "factor",
    "factor_total",
    "rating_mw_base",
    "rating_mw_stressed",
    "rating_emergency_mw_base",
    "rating_emergency_mw_stressed",
    "in_service_stressed",
]
#: Columns of :attr:`StressResult.branches`.
BRANCH_COLUMNS = [
    "branch_id",
    "from_bus",
    "to_bus",
    "base_rating_mw",
    "stressed_rating_mw",
    "base_peak_loading_pct",
    "stressed_peak_loading_pct",
    "delta_loading_pct",
    "base_peak_year",
    "stressed_peak_year",
    "stressed_in_service",
]
#: Columns of :attr:`StressResult.upgrades`.
UPGRADE_CHANGE_COLUMNS = [
    "asset",
    "asset_id",
    "change",
    "base_year",
    "stressed_year",
    "added_mw",
    "cost_usd",
]
#: Columns of :attr:`StressResult.overloads`.
OVERLOAD_COLUMNS = [
    "branch_id",
    "year",
    "snapshot",
    "limit",
    "rating_mw",
    "flow_mw",
    "overload_mw",
    "loading_pct",
]

Mode = Literal["replan", "check"]

#: What re-plan mode decides (``StressResult.decision["verdict"]``): ``keep_unchanged`` the
#: base plan still runs under the stress and the re-plan beats it by no more than the MIP
#: gap's worth of objective, so its decisions are kept and no site change is reported;
#: ``replan`` the re-plan beats it by more; ``replan_needed`` the base plan does not run
#: under the stress; ``infeasible`` the stressed scenario has no plan.
VERDICTS = ("keep_unchanged", "replan", "replan_needed", "infeasible")


# --------------------------------------------------------------------------- the base plan


@dataclass
class BasePlan:
    """The plan a stress is compared with.

    Attributes
    ----------
    source
        :data:`PLANNED_HERE`, ``"given"`` (a Plan passed in) or the plan folder read.
    schedule
        ``site_id, year, it_mw, new_it_mw, cooling, bus_id ...`` (as ``schedule.csv``).
    flows
        Flows per branch, year and snapshot as ``flows.csv`` (older plans: the peak's,
        with the worst snapshot's ``max_loading_pct``; in memory: ``Plan.flows``); empty
        when unknown.
    costs_usd
        Present value of each cost part [USD].
    objective_usd
        The solver's objective of the base [USD for the cost objective].
    upgrades
        Grid upgrades taken (``asset, asset_id, year, added_mw, cost_usd,
        lead_time_years``; empty when none or unknown).
    plan
        The :class:`~siting.results.plan.Plan` when in memory (not when read from a folder).
    scenario_as_run
        The scenario the base was planned from (the manifest's ``scenario_as_run``).
    """

    source: str
    schedule: pd.DataFrame
    flows: pd.DataFrame
    costs_usd: dict[str, float]
    objective_usd: float | None
    upgrades: pd.DataFrame
    plan: Plan | None = None
    scenario_as_run: dict[str, Any] | None = None

    @property
    def total_cost_usd(self) -> float:
        """Net present cost of the base [USD] (sum of the cost parts)."""
        return float(sum(self.costs_usd.values()))

    @classmethod
    def from_plan(cls, p: Plan, source: str) -> BasePlan:
        """A base from a :class:`~siting.results.plan.Plan` in memory."""
        ups = getattr(p, "upgrades", None)
        return cls(
            source=source,
            schedule=p.schedule.copy(),
            flows=p.flows.copy(),
            costs_usd={k: float(v) for k, v in p.costs_usd.items()},
            objective_usd=p.solve.objective,
            upgrades=_upgrade_frame(ups),
            plan=p,
            scenario_as_run=(p.manifest or {}).get("scenario_as_run"),
        )

    @classmethod
    def read(cls, folder: str | Path) -> BasePlan:
        """A base from a plan folder written by ``siting plan`` (:meth:`Plan.write`).

        Raises
        ------
        siting.core.errors.InputError
            When the folder, ``schedule.csv`` or ``manifest.json`` is missing or unreadable.
        """
        d = Path(folder)
        if not d.is_dir():
            raise InputError(
                Problem(
                    "not a folder; expected a plan folder written by `siting plan` "
                    "(schedule.csv, manifest.json ...)",
                    file=str(d),
                    field="--base",
                )
            )
        problems = [
            Problem("missing; the base plan folder needs it", file=str(d / f), field="--base")
            for f in ("schedule.csv", "manifest.json")
            if path_problem(d / f) == "file not found"
        ]
        if problems:
            raise InputError(problems)
        need = ("site_id", "year", "it_mw", "new_it_mw", "cooling")
        manifest = read_manifest(d / "manifest.json", problems) or {}
        schedule = read_plan_table(d / "schedule.csv", problems, required=need)
        flows: pd.DataFrame | None = pd.DataFrame()
        if path_problem(d / "flows.csv") != "file not found":
            flows = read_plan_table(
                d / "flows.csv", problems, required=("branch_id", "year"), empty_text_as_na=True
            )
        ups = None
        if path_problem(d / "upgrades.csv") != "file not found":
            ups = read_plan_table(
                d / "upgrades.csv", problems, required=("asset", "asset_id"), empty_text_as_na=True
            )
        elif not isinstance(manifest.get("grid_upgrades") or [], list):
            problems.append(
                Problem(
                    "expected a list of upgrades",
                    file=str(d / "manifest.json"),
                    field="grid_upgrades",
                )
            )
        costs = manifest.get("costs_usd") or {}
        if not isinstance(costs, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in costs.values()
        ):
            problems.append(
                Problem(
                    "expected an object of costs in USD (numbers)",
                    file=str(d / "manifest.json"),
                    field="costs_usd",
                )
            )
        raise_plan_problems(problems)
        assert schedule is not None and flows is not None
        if ups is not None:
            upgrades = _upgrade_frame(ups)
        else:
            upgrades = _upgrade_frame(pd.DataFrame(manifest.get("grid_upgrades") or []))
        return cls(
            source=str(d),
            schedule=schedule,
            flows=flows,
            costs_usd={k: float(v) for k, v in costs.items()},
            objective_usd=manifest.get("objective_usd"),
            upgrades=upgrades,
            plan=None,
            scenario_as_run=manifest.get("scenario_as_run"),
        )


def _upgrade_frame(ups: object) -> pd.DataFrame:
    """Upgrades as a DataFrame with the columns of ``upgrades.csv`` (empty when None)."""
    cols = ["asset", "asset_id", "year", "added_mw", "cost_usd", "lead_time_years"]
    if ups is None or not isinstance(ups, pd.DataFrame) or ups.empty:
        return pd.DataFrame(columns=cols)
    out = ups.copy()
    for c in cols:
        if c not in out.columns:
            out[c] = np.nan
    out["asset_id"] = out["asset_id"].astype(str)
    return out[cols].reset_index(drop=True)


# --------------------------------------------------------------------------- the result


@dataclass
class StressResult:
    """What a stress changes (see the module docstring).

    Attributes
    ----------
    mode
        ``replan`` or ``check``.
    scenario
        The scenario's name.
    edits
        One row per requested edit: ``branch_id, from_bus, to_bus, edit`` (``derate`` or
        ``outage``), ``factor`` (asked), ``factor_total`` (on the layer's rating, after the
        scenario's own derate), ratings before and after [MW] and whether the branch stays in
        service.
    feasible
        Re-plan: the stressed scenario has a plan. Check: the base plan's decisions can still
        be operated within every limit.
    explanation
        When not feasible: what cannot be met, where and by how much (text).
    violations
        When not feasible: ``requirement, slack, index, amount, unit`` (and ``where`` in check
        mode) per violated requirement or limit.
    overloads
        Check mode: branch overloads of the base plan under the stress: ``branch_id, year,
        snapshot, limit`` (``normal`` or ``N-1``), ``rating_mw`` (the stressed rating, upgrades
        not counted), ``flow_mw``, ``overload_mw``, ``loading_pct``.
    site_changes
        Re-plan: one row per site whose plan changed: ``change`` (``added``, ``dropped``,
        ``changed``), ``what`` (``it_mw``, ``first_year``, ``cooling``), first years,
        cooling and IT MW in the last year, base and stressed.
    moved_sites
        Re-plan: one row per site and year whose IT MW changed: ``site_id, change``
        (``added``, ``dropped``: the site is only in one plan; ``grown``, ``shrunk``),
        ``year, base_it_mw, stressed_it_mw, delta_it_mw`` [MW IT].
    it_mw_by_year
        ``year, base_it_mw, stressed_it_mw, delta_it_mw, target_it_mw`` [MW IT].
    costs_usd
        ``part, base_usd, stressed_usd, delta_usd`` (present value, USD); the last row is
        ``total``. In check mode only ``total``: the objective with the base's decisions.
    branches
        Re-plan: per branch, the peak loading over years and snapshots, base and stressed
        [% of that year's rating], largest change first (out-of-service branches first).
    upgrades
        Re-plan: grid upgrades ``added``, ``dropped`` or ``moved`` (another year).
    base
        The base plan.
    stressed
        Re-plan: the stressed :class:`~siting.results.plan.Plan` (None when infeasible).
    replay
        Check: the :class:`~siting.pipeline.Replay`.
    stressed_scenario
        The scenario with the edits merged in.
    notes
        What the reader should know (a base made from another scenario ...).
    timings
        Seconds per stage.
    output_dir
        Where :meth:`write` wrote (None until then).
    decision
        Re-plan mode: what the check of the unchanged plan and the re-plan decided
        (:func:`_decide`): ``verdict`` (:data:`VERDICTS`), ``text`` (in words),
        ``unchanged`` (``feasible``, ``objective_usd``, ``delta_usd``: the base plan's
        decisions under the stress, and its change from the base's objective [USD]) and
        ``replan`` (``objective_usd``, ``bound_usd``, ``gap_usd``: the MIP gap's worth of
        objective, ``beats_unchanged_by_usd``). Empty in check mode.
    replan_within_gap
        Re-plan mode, verdict ``keep_unchanged``: the site changes of the re-plan that were
        not reported because they beat the unchanged plan by less than the gap (columns of
        :attr:`site_changes`); None otherwise.
    """

    mode: str
    scenario: str
    edits: pd.DataFrame
    feasible: bool
    explanation: str
    violations: list[dict]
    overloads: pd.DataFrame
    site_changes: pd.DataFrame
    moved_sites: pd.DataFrame
    it_mw_by_year: pd.DataFrame
    costs_usd: pd.DataFrame
    branches: pd.DataFrame
    upgrades: pd.DataFrame
    base: BasePlan
    stressed: Plan | None = None
    replay: Replay | None = None
    stressed_scenario: Scenario | None = None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    output_dir: Path | None = None
    decision: dict[str, Any] = field(default_factory=dict)
    replan_within_gap: pd.DataFrame | None = None

    @property
    def base_cost_usd(self) -> float | None:
        """The base's total [USD]."""
        return _opt(self.costs_usd.iloc[-1]["base_usd"]) if len(self.costs_usd) else None

    @property
    def stressed_cost_usd(self) -> float | None:
        """The stressed total [USD] (None when not feasible)."""
        return _opt(self.costs_usd.iloc[-1]["stressed_usd"]) if len(self.costs_usd) else None

    @property
    def delta_cost_usd(self) -> float | None:
        """Stressed minus base total [USD] (None when not feasible)."""
        return _opt(self.costs_usd.iloc[-1]["delta_usd"]) if len(self.costs_usd) else None

    @property
    def replan_kept_out(self) -> bool:
        """Whether the decision kept the base plan's decisions (verdict ``keep_unchanged``):
        the re-plan is then not adopted, and not written as a plan folder."""
        return self.decision.get("verdict") == "keep_unchanged"

    def _replan_figures(self) -> dict[str, Any] | None:
        """The re-plan the decision did not adopt, in figures (``stress.json``'s
        ``replan_not_adopted``): its cost parts and total [USD, present value], IT MW per
        year [MW], sites (first year, last year's IT MW, cooling) and upgrades; None when the
        re-plan was adopted or there is none."""
        sp = self.stressed
        if sp is None or not self.replan_kept_out:
            return None
        sched = sp.schedule
        sites = []
        if len(sched):
            last = sched[sched["year"] == sched["year"].max()].set_index("site_id")
            first = sched[sched["it_mw"] > 0].groupby("site_id")["year"].min()
            for sid, r in last.iterrows():
                sites.append(
                    {
                        "site_id": str(sid),
                        "first_year": _opt(first.get(sid)),
                        "it_mw_final": _opt(r["it_mw"]),
                        "cooling": str(r.get("cooling", "")),
                    }
                )
        return {
            "written": False,
            "why": "the base plan's decisions are kept (decision.verdict keep_unchanged): the "
            "re-plan is not written as a plan folder; these are its figures",
            "total_cost_usd": _opt(sp.total_cost_usd),
            "costs_usd": {str(k): _opt(v) for k, v in sp.costs_usd.items()},
            "it_mw_by_year": {str(as_int(y)): _opt(v) for y, v in sp.it_mw_by_year().items()},
            "sites": sites,
            "upgrades": _records(sp.upgrades),
            "status": sp.solve.status,
            "gap": _opt(sp.solve.gap),
        }

    def as_dict(self, top_branches: int = TOP_BRANCHES) -> dict[str, Any]:
        """The JSON-ready summary (``siting grid stress --json``, ``stress.json``).

        Parameters
        ----------
        top_branches
            Most branches listed (largest change in peak loading first).
        """
        by_year = self.it_mw_by_year.set_index("year") if len(self.it_mw_by_year) else None

        def year_map(col: str) -> dict[str, float | None]:
            if by_year is None:
                return {}
            return {str(as_int(y)): _opt(v) for y, v in by_year[col].items()}

        data = {
            "siting_stress": 1,
            "mode": self.mode,
            "scenario": self.scenario,
            "base": self.base.source,
            "edits": _records(self.edits),
            "feasible": bool(self.feasible),
            "explanation": self.explanation,
            "violations": [_plain(v) for v in self.violations],
            "overloads": _records(self.overloads),
            "site_changes": _records(self.site_changes),
            "moved_sites": _records(self.moved_sites),
            "it_mw_by_year": {
                "base": year_map("base_it_mw"),
                "stressed": year_map("stressed_it_mw"),
                "target": {k: v for k, v in year_map("target_it_mw").items() if v is not None},
            },
            "cost_usd": {
                "measure": "net present cost (sum of the cost parts)"
                if self.mode == "replan"
                else "objective with the base plan's decisions",
                "base": self.base_cost_usd,
                "stressed": self.stressed_cost_usd,
                "delta": self.delta_cost_usd,
                "parts": _records(self.costs_usd),
            },
            "branches": _records(self.branches.head(top_branches)),
            "branches_listed": int(min(top_branches, len(self.branches))),
            "branches_compared": int(len(self.branches)),
            "upgrades": _records(self.upgrades),
            "decision": _plain(self.decision),
            "replan_within_gap": None
            if self.replan_within_gap is None
            else _records(self.replan_within_gap),
            "replan_not_adopted": self._replan_figures(),
            "notes": list(self.notes),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }
        if self.output_dir is not None:
            data["output_dir"] = str(self.output_dir)
        return _plain(data)

    def inputs(self) -> list[Path]:
        """The files this result was made from: the stressed scenario's, the base folder."""
        from siting.inputs import input_files

        files = input_files(self.stressed_scenario) if self.stressed_scenario is not None else []
        if self.base.source not in (PLANNED_HERE, "given"):
            files.append(Path(self.base.source))
        return files

    def write(self, out_dir: str | Path, *, force: bool = False, tiles: bool = True) -> Path:
        """Write the result into ``out_dir`` as a whole (staged, then swapped in).

        Files: the stressed plan (re-plan mode, when feasible and adopted; :meth:`Plan.write`:
        ``plan.gpkg``, ``schedule.csv``, ``flows.csv``, ``manifest.json`` ...), the base plan
        in ``base/`` when it was not read from a folder, and ``stress.json``
        (:meth:`as_dict`), written last. The old folder is replaced only when all is written.
        A re-plan the decision did not adopt (verdict ``keep_unchanged``,
        :attr:`replan_kept_out`) is not written as a plan folder, which would look whole:
        its figures are in ``stress.json`` (``replan_not_adopted``).

        Parameters
        ----------
        out_dir
            New, empty, or this scenario's earlier stress folder
            (:func:`siting.core.io.check_output_folder`).
        force
            Also replace a siting folder of another scenario or kind.
        tiles
            Offer OpenStreetMap tiles on the plans' maps as a base the reader can switch on
            (no request until then; :func:`siting.render.maps.render_map`).

        Returns
        -------
        pathlib.Path
            The output folder.

        Raises
        ------
        siting.core.io.OutputRefusedError
            ``out_dir`` is not this result's to replace; nothing is touched.
        siting.core.io.OutputWriteError
            The write failed (no space left, read-only ...); the previous folder is kept.
        """
        from siting.core.io import write_text_atomic

        out = Path(out_dir).resolve()
        owner = OutputOwner("stress", self.scenario)
        try:
            with staged_folder(out, owner, inputs=self.inputs(), force=force) as stage:
                if self.stressed is not None and not self.replan_kept_out:
                    self.stressed.manifest["output_dir"] = str(out)
                    self.stressed.manifest["stress"] = {
                        "mode": self.mode,
                        "base": self.base.source,
                        "edits": _records(self.edits),
                        "summary": SUMMARY_FILE,
                    }
                    self.stressed.write(stage, tiles=tiles)  # replaces the (empty) staging folder
                if self.base.plan is not None:
                    self.base.plan.manifest["output_dir"] = str(out / BASE_SUBDIR)
                    self.base.plan.write(stage / BASE_SUBDIR, tiles=tiles)
                self.output_dir = out
                text = json.dumps(self.as_dict(), indent=2) + "\n"
                write_text_atomic(stage / SUMMARY_FILE, text)
        except BaseException:
            self.output_dir = None
            raise
        return out


# --------------------------------------------------------------------------- the scenario


def stressed_scenario(
    scenario: Scenario,
    derate: Mapping[str, float] | None = None,
    outages: Iterable[str] | None = None,
) -> Scenario:
    """A copy of ``scenario`` with the derates and outages merged into its ``grid`` section.

    Parameters
    ----------
    scenario
        A :class:`siting.config.scenario.Scenario` (not changed).
    derate
        Branch ID -> factor on its normal and emergency ratings (> 0; 0.8 = 80 %). On a
        branch the scenario already derates, the factors multiply.
    outages
        Branch IDs out of service for the whole plan (added to the scenario's).

    Returns
    -------
    siting.config.scenario.Scenario
        Validated (the merged factors must stay within the schema's bounds).

    Raises
    ------
    siting.core.errors.ScenarioError
        A factor that is not a number > 0, or a merged factor the schema refuses; the
        problem names ``grid.derate.<branch>``. (Unknown branch IDs are found when the layers
        load: :func:`siting.inputs.apply_grid_edits`.)
    """
    from pydantic import ValidationError

    file = str(scenario.source_file) if scenario.source_file else None
    sc = scenario.model_copy(deep=True)
    merged = dict(sc.grid.derate)
    problems = []
    for bid, factor in (derate or {}).items():
        key = str(bid)
        try:
            f = float(factor)
        except (TypeError, ValueError):
            f = math.nan
        if not math.isfinite(f) or f <= 0:
            problems.append(
                Problem(
                    f"expected a derate factor > 0 (0.8 = 80 % of the ratings), got {factor!r}",
                    file=file,
                    field=f"grid.derate.{key}",
                )
            )
            continue
        merged[key] = merged.get(key, 1.0) * f
    if problems:
        raise ScenarioError(problems)
    outs = list(dict.fromkeys([*sc.grid.outages, *(str(o) for o in outages or [])]))
    try:
        sc.grid.derate = merged
        sc.grid.outages = outs
    except ValidationError as e:
        raise ScenarioError(
            [
                Problem(
                    f"{err.get('msg', 'invalid value')} (got {err.get('input')!r}, the "
                    "scenario's factor times the one asked)",
                    file=file,
                    field="grid." + ".".join(str(p) for p in err.get("loc", ())),
                )
                for err in e.errors(include_url=False)
            ]
        ) from None
    return sc


def _with_solver(scenario: Scenario, time_limit_s: float | None, mip_gap: float | None) -> Scenario:
    """A copy of ``scenario`` with the solver settings overridden (when given)."""
    from pydantic import ValidationError

    sc = scenario.model_copy(deep=True)
    try:
        if time_limit_s is not None:
            sc.solver.time_limit_s = float(time_limit_s)
        if mip_gap is not None:
            sc.solver.mip_gap = float(mip_gap)
    except ValidationError as e:
        raise ScenarioError(
            [
                Problem(
                    f"{err.get('msg', 'invalid value')} (got {err.get('input')!r})",
                    field="solver." + ".".join(str(p) for p in err.get("loc", ())),
                )
                for err in e.errors(include_url=False)
            ]
        ) from None
    return sc


def _grids(base_sc: Scenario, stressed_sc: Scenario) -> tuple[Grid, Grid]:
    """The grid as the base and as the stressed scenario see it (edits applied).

    Raises
    ------
    siting.core.errors.InputError
        The grid cannot be read, or an edit names a branch that is not in it (the problem
        names ``grid.derate`` or ``grid.outages``).
    """
    from siting.core.errors import ProblemReport
    from siting.inputs import apply_grid_edits
    from siting.inputs.grids.layer import read_grid

    file = str(base_sc.source_file) if base_sc.source_file else None
    spec = base_sc.layers.grid
    if spec is None:
        raise InputError(
            Problem(
                "the scenario has no grid layer, so there is no grid to stress",
                file=file,
                field="layers.grid",
            )
        )
    report = ProblemReport()
    raw = read_grid(spec, report)
    report.raise_if_any()
    if raw is None:
        raise InputError(Problem("the grid could not be read", file=spec.path, field="layers.grid"))
    stressed = copy.deepcopy(raw)
    apply_grid_edits(stressed, stressed_sc.grid, report, file)
    report.raise_if_any("scenario")
    base = copy.deepcopy(raw)
    apply_grid_edits(base, base_sc.grid, report, file)
    report.raise_if_any("scenario")
    return base, stressed


def _edits_table(
    base_grid: Grid,
    stressed_grid: Grid,
    stressed_sc: Scenario,
    derate: Mapping[str, float],
    outages: list[str],
) -> pd.DataFrame:
    """One row per requested edit, with the ratings before and after [MW]."""
    bb, sb = base_grid.branches, stressed_grid.branches

    def col(df: pd.DataFrame, bid: str, name: str) -> float:
        if name not in df.columns:
            return math.nan
        v = df.at[bid, name]
        return math.nan if is_missing(v) else as_float(v)

    def in_service(bid: str) -> bool:
        if "in_service" not in sb.columns:
            return True
        v = sb.at[bid, "in_service"]
        return bool(True if pd.isna(v) else v)

    rows = []
    edits = [(b, "derate", f) for b, f in derate.items()] + [
        (b, "outage", math.nan) for b in outages
    ]
    for bid, kind, factor in edits:
        rows.append(
            {
                "branch_id": bid,
                "from_bus": str(sb.at[bid, "from_bus"]),
                "to_bus": str(sb.at[bid, "to_bus"]),
                "edit": kind,
                "factor": factor,
                "factor_total": float(stressed_sc.grid.derate.get(bid, 1.0))
                if kind == "derate"
                else math.nan,
                "rating_mw_base": col(bb, bid, "rating_mw"),
                "rating_mw_stressed": col(sb, bid, "rating_mw"),
                "rating_emergency_mw_base": col(bb, bid, "rating_emergency_mw"),
                "rating_emergency_mw_stressed": col(sb, bid, "rating_emergency_mw"),
                "in_service_stressed": in_service(bid),
            }
        )
    return pd.DataFrame(rows, columns=EDIT_COLUMNS)


def _scenario_differs(base_as_run: dict | None, sc: Scenario) -> list[str]:
    """Top-level scenario keys where a base plan folder's scenario differs (solver aside)."""
    if not base_as_run:
        return []
    now = sc.model_dump(mode="json")
    keys = sorted((set(now) | set(base_as_run)) - {"solver", "title", "description"})
    return [k for k in keys if now.get(k) != base_as_run.get(k)]


# --------------------------------------------------------------------------- the stress


def stress(
    scenario: str | Path | Scenario,
    *,
    derate: Mapping[str, float] | None = None,
    outages: Iterable[str] | None = None,
    mode: Mode = "replan",
    base: str | Path | Plan | None = None,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> StressResult:
    """Re-plan (or re-check) a scenario with branches derated or out, and compare.

    Parameters
    ----------
    scenario
        A scenario file path, or a :class:`siting.config.scenario.Scenario` (not changed).
    derate
        Branch ID -> factor on its normal and emergency ratings (> 0; 0.8 = 80 %), merged
        into ``grid.derate`` (factors multiply on a branch the scenario already derates).
    outages
        Branch IDs taken out of service for the whole plan, added to ``grid.outages``.
    mode
        ``replan``: plan the stressed scenario and compare with the base. ``check``: keep the
        base plan's decisions and re-solve only the operation (:func:`siting.pipeline.replay`).
    base
        The base plan: a plan folder written by ``siting plan``, a
        :class:`~siting.results.plan.Plan`, or None to plan the scenario as it is here.
    time_limit_s, mip_gap
        Override the scenario's solver settings for every solve [s, fraction].
    progress
        Called with each stage's name as it starts.

    Returns
    -------
    StressResult

    Raises
    ------
    siting.core.errors.InputError
        Bad input: no edit asked, a factor <= 0, an unknown branch ID (naming
        ``grid.derate`` / ``grid.outages``), a scenario without a modelled grid, a base
        folder that is not a plan.
    siting.pipeline.InfeasibleError
        The base scenario itself has no plan (nothing to compare with).
    siting.core.errors.SitingError
        The solver found no answer within the time limit.
    """
    from siting.pipeline import InfeasibleError
    from siting.pipeline import plan as run_plan

    say = progress or (lambda _s: None)
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    derate, outages = _check_request(mode, derate, outages)

    say("grid edits")
    t = time.perf_counter()
    base_sc = _base_scenario(scenario, time_limit_s, mip_gap)
    st_sc = stressed_scenario(base_sc, derate, outages)
    base_grid, st_grid = _grids(base_sc, st_sc)
    edits = _edits_table(base_grid, st_grid, st_sc, derate, outages)
    notes = _edit_notes(base_sc, derate, outages)
    timings["edits_s"] = time.perf_counter() - t

    # the base
    t = time.perf_counter()
    bp = _base_plan(base, base_sc, say, notes)
    timings["base_s"] = time.perf_counter() - t

    years = list(base_sc.years)
    targets = {int(k): float(v) for k, v in base_sc.targets.it_mw_by_year.items()}
    common = dict(
        mode=mode,
        scenario=base_sc.name,
        edits=edits,
        base=bp,
        stressed_scenario=st_sc,
        notes=notes,
        timings=timings,
    )
    if mode == "replan":
        # the unchanged plan under the stress first: does it still run, at what added cost
        unchanged = _check(bp, st_sc, st_grid, years, targets, say, {**common, "notes": []})
        result = _replan(bp, st_sc, years, targets, say, run_plan, InfeasibleError, common)
        _decide(result, unchanged, st_sc.solver.mip_gap)
    else:
        result = _check(bp, st_sc, st_grid, years, targets, say, common)
    timings["total_s"] = time.perf_counter() - t_all
    return result


def _check_request(
    mode: str, derate: Mapping[str, float] | None, outages: Iterable[str] | None
) -> tuple[dict[str, float], list[str]]:
    """The mode checked, and the edits asked with branch IDs as text (outages once each).

    Raises
    ------
    siting.core.errors.InputError
        An unknown mode, or no edit.
    """
    if mode not in MODES:
        raise InputError(Problem(f"expected one of {MODES}, got {mode!r}", field="mode"))
    derates = {str(k): v for k, v in (derate or {}).items()}
    outs = list(dict.fromkeys(str(o) for o in outages or []))
    if not derates and not outs:
        raise InputError(
            "nothing to stress: give at least one branch to derate or to take out of service"
        )
    return derates, outs


def _base_scenario(
    scenario: str | Path | Scenario, time_limit_s: float | None, mip_gap: float | None
) -> Scenario:
    """The scenario as it is (read when a path), with the solver settings asked.

    Parameters
    ----------
    scenario
        A scenario file path, or a scenario.
    time_limit_s, mip_gap
        Solver settings to override [s, fraction] (None: the scenario's).

    Raises
    ------
    siting.core.errors.InputError
        The scenario has no grid layer, or ``grid.enabled`` is false.
    """
    from siting.config.scenario import Scenario, load_scenario

    sc0 = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    base_sc = _with_solver(sc0, time_limit_s, mip_gap)
    file = str(base_sc.source_file) if base_sc.source_file else None
    if base_sc.layers.grid is None:
        raise InputError(
            Problem(
                "the scenario has no grid layer, so there is no branch to derate or take out",
                file=file,
                field="layers.grid",
            )
        )
    if not base_sc.grid.enabled:
        raise InputError(
            Problem(
                "grid.enabled is false: the plan ignores the network, so a derate or an outage "
                "changes nothing; enable the grid to stress it",
                file=file,
                field="grid.enabled",
            )
        )
    return base_sc


def _edit_notes(base_sc: Scenario, derate: dict[str, float], outages: list[str]) -> list[str]:
    """Notes on edits that overlap: a branch derated and out, or already out."""
    notes: list[str] = []
    for bid in derate:
        if bid in outages or bid in base_sc.grid.outages:
            notes.append(f"branch {bid} is both derated and out of service: the outage rules")
    for bid in outages:
        if bid in base_sc.grid.outages:
            notes.append(f"branch {bid} is already out of service in the scenario (grid.outages)")
    return notes


def _base_plan(
    base: str | Path | Plan | None,
    base_sc: Scenario,
    say: Callable[[str], None],
    notes: list[str],
) -> BasePlan:
    """The base plan: planned here (``base`` None), the Plan given, or read from a folder.

    Parameters
    ----------
    base
        As :func:`stress`'s.
    base_sc
        The scenario as it is.
    say
        Called with the stage's name.
    notes
        Gets a note when a base folder was made from another scenario.

    Raises
    ------
    siting.pipeline.InfeasibleError
        The scenario as it is has no plan.
    siting.core.errors.InputError
        A base folder that is not a plan.
    """
    from siting.pipeline import InfeasibleError
    from siting.pipeline import plan as run_plan
    from siting.results.plan import Plan

    if base is None:
        say("base plan")
        try:
            return BasePlan.from_plan(run_plan(base_sc, write=False, study_run=True), PLANNED_HERE)
        except InfeasibleError as e:
            raise InfeasibleError(
                "the scenario as it is (before the stress) has no plan, so there is nothing to "
                f"stress; fix the scenario first:\n{e}",
                e.violations,
                e.result,
            ) from None
    if isinstance(base, Plan):
        return BasePlan.from_plan(base, "given")
    say("base plan (read)")
    bp = BasePlan.read(base)
    differs = _scenario_differs(bp.scenario_as_run, base_sc)
    if differs:
        notes.append(
            f"the base plan {bp.source} was made from a scenario that differs from "
            f"'{base_sc.name}' in: {', '.join(differs)}; the comparison mixes both changes"
        )
    return bp


def _replan(
    bp: BasePlan,
    st_sc: Scenario,
    years: list[int],
    targets: dict[int, float],
    say: Callable[[str], None],
    run_plan: Callable[..., Plan],
    infeasible_error: type[InfeasibleError],
    common: dict[str, Any],
) -> StressResult:
    """Re-plan mode: plan the stressed scenario and compare it with the base.

    Parameters
    ----------
    bp
        The base plan.
    st_sc
        The stressed scenario.
    years
        The planning years.
    targets
        IT MW target per year [MW IT].
    say
        Called with the stage's name.
    run_plan
        :func:`siting.pipeline.plan`.
    infeasible_error
        :class:`siting.pipeline.InfeasibleError` (an infeasible stress is an answer).
    common
        The :class:`StressResult` fields both modes share (``timings`` gets ``stressed_s``).
    """
    t = time.perf_counter()
    say("stressed plan")
    sp = None
    explanation, violations = "", []
    try:
        sp = run_plan(st_sc, write=False, study_run=True)
    except infeasible_error as e:
        explanation, violations = str(e), list(e.violations)
    common["timings"]["stressed_s"] = time.perf_counter() - t

    say("compare")
    base_sched = bp.schedule
    if sp is not None:
        st_sched = sp.schedule
        moved, sites = (
            _moved_sites(base_sched, st_sched, years),
            _site_changes(base_sched, st_sched, years),
        )
        costs = _cost_table(bp.costs_usd, sp.costs_usd)
        branches = _branch_changes(bp.flows, sp.flows)
        ups = getattr(sp, "upgrades", None)
        upgrades = (
            _upgrade_changes(bp.upgrades, _upgrade_frame(ups))
            if ups is not None
            else pd.DataFrame(columns=UPGRADE_CHANGE_COLUMNS)
        )
    else:
        st_sched = None
        moved = pd.DataFrame(columns=MOVED_COLUMNS)
        sites = pd.DataFrame(columns=SITE_COLUMNS)
        costs = _cost_table(bp.costs_usd, None)
        branches = pd.DataFrame(columns=BRANCH_COLUMNS)
        upgrades = pd.DataFrame(columns=UPGRADE_CHANGE_COLUMNS)
    return StressResult(
        feasible=sp is not None,
        explanation=explanation,
        violations=violations,
        overloads=pd.DataFrame(columns=OVERLOAD_COLUMNS),
        site_changes=sites,
        moved_sites=moved,
        it_mw_by_year=_by_year(base_sched, st_sched, years, targets),
        costs_usd=costs,
        branches=branches,
        upgrades=upgrades,
        stressed=sp,
        **common,
    )


def _decide(result: StressResult, unchanged: StressResult, mip_gap: float) -> None:
    """Weigh the re-plan against the unchanged plan under the stress (in place).

    The gap's worth of objective is ``max(objective - bound, mip_gap |objective|)`` of the
    re-plan [USD]: what the solver was allowed to leave (or left) between the plan it found
    and the best possible. When the base plan still runs under the stress (``unchanged``
    feasible) and the re-plan's objective is not below its objective by more than that, the
    re-plan's moves are within the solver's tolerance: the base plan's decisions are kept
    (verdict ``keep_unchanged``), the site changes, moved MW, branches and upgrades of the
    re-plan are not reported (the site changes go to ``replan_within_gap``), and the cost
    is the unchanged plan's objective under the stress. Otherwise the re-plan stands.

    Parameters
    ----------
    result
        The re-plan's result; gets ``decision`` (and is trimmed when the base is kept).
    unchanged
        The check of the base plan under the stress (:func:`_check`).
    mip_gap
        The stressed scenario's relative MIP gap [fraction].
    """
    base_obj = _opt(unchanged.costs_usd.iloc[-1]["base_usd"])
    u_obj = unchanged.replay.objective_usd if unchanged.replay is not None else None
    u_delta = (u_obj - base_obj) if u_obj is not None and base_obj is not None else None
    u: dict[str, Any] = {
        "feasible": bool(unchanged.feasible),
        "objective_usd": u_obj,
        "delta_usd": u_delta,
        "explanation": unchanged.explanation,
    }
    sp = result.stressed
    solve = getattr(sp, "solve", None)
    r_obj = getattr(solve, "objective", None)
    r_bound = getattr(solve, "bound", None)
    gap_usd = None
    if r_obj is not None:
        achieved = abs(r_obj - r_bound) if r_bound is not None else 0.0
        gap_usd = max(achieved, float(mip_gap) * abs(r_obj))
    beats = (u_obj - r_obj) if u_obj is not None and r_obj is not None else None
    r: dict[str, Any] = {"objective_usd": r_obj, "bound_usd": r_bound, "gap_usd": gap_usd}
    r["beats_unchanged_by_usd"] = beats
    m = 1e-6
    if sp is None:
        verdict = "infeasible"
        text = "the stressed scenario has no plan" + (
            "; the unchanged plan does not run under the stress either"
            if not unchanged.feasible
            else "; the unchanged plan still runs under the stress (see decision.unchanged)"
        )
    elif not unchanged.feasible:
        verdict = "replan_needed"
        text = (
            "the unchanged plan breaks limits under the stress "
            f"({len(unchanged.violations)} violation(s)); the re-plan is needed"
        )
    elif beats is not None and gap_usd is not None and beats > gap_usd:
        verdict = "replan"
        text = (
            f"the unchanged plan still runs under the stress ({(u_delta or 0) * m:+,.1f} M USD); "
            f"the re-plan beats it by {beats * m:,.1f} M USD, more than the MIP gap's worth "
            f"({gap_usd * m:,.1f} M USD): its changes are reported"
        )
    else:
        verdict = "keep_unchanged"
        n = result.site_changes["site_id"].nunique() if len(result.site_changes) else 0
        text = (
            f"the unchanged plan still runs under the stress ({(u_delta or 0) * m:+,.1f} M "
            f"USD); the re-plan beats it by {(beats or 0) * m:,.1f} M USD, within the MIP "
            f"gap's worth ({(gap_usd or 0) * m:,.1f} M USD): the base plan's decisions are "
            f"kept (sites, MW, cooling), and the re-plan's {n} site change(s) are not reported"
        )
        result.replan_within_gap = result.site_changes.copy()
        result.site_changes = pd.DataFrame(columns=SITE_COLUMNS)
        result.moved_sites = pd.DataFrame(columns=MOVED_COLUMNS)
        result.branches = pd.DataFrame(columns=BRANCH_COLUMNS)
        result.upgrades = pd.DataFrame(columns=UPGRADE_CHANGE_COLUMNS)
        result.costs_usd = unchanged.costs_usd.copy()
        result.it_mw_by_year = unchanged.it_mw_by_year.copy()
        result.notes.extend(unchanged.notes)
    result.decision = {"verdict": verdict, "text": text, "unchanged": u, "replan": r}
    result.timings["replay_s"] = unchanged.timings.get("replay_s", 0.0)


def _check(
    bp: BasePlan,
    st_sc: Scenario,
    st_grid: Grid,
    years: list[int],
    targets: dict[int, float],
    say: Callable[[str], None],
    common: dict[str, Any],
) -> StressResult:
    """Check mode: replay the base plan's decisions under the stressed grid.

    Parameters
    ----------
    bp
        The base plan.
    st_sc, st_grid
        The stressed scenario and its grid.
    years
        The planning years.
    targets
        IT MW target per year [MW IT].
    say
        Called with the stage's name.
    common
        The :class:`StressResult` fields both modes share (``timings`` gets ``replay_s``).
    """
    from siting.pipeline import replay

    t = time.perf_counter()
    say("replay")
    # the base plan's upgrades are kept (and no other is taken): the plan as decided
    r = replay(st_sc, bp.schedule, upgrades=bp.upgrades, time_limit_s=st_sc.solver.time_limit_s)
    common["timings"]["replay_s"] = time.perf_counter() - t
    if r.objective_usd is None and r.status != "infeasible":
        raise SitingError(
            f"the replay of the base plan under the stress found no answer ({r.status}) within "
            f"{st_sc.solver.time_limit_s:g} s; raise --time-limit"
        )
    feasible = r.objective_usd is not None
    if r.missing_sites:
        common["notes"].append(
            "base plan decisions the scenario does not offer (left out of the replay): "
            + ", ".join(map(str, r.missing_sites))
        )
    base_obj = bp.objective_usd if bp.objective_usd is not None else bp.total_cost_usd
    stressed_obj = r.objective_usd
    costs = pd.DataFrame(
        [
            {
                "part": "total",
                "base_usd": float(base_obj),
                "stressed_usd": stressed_obj if stressed_obj is not None else math.nan,
                "delta_usd": (stressed_obj - base_obj) if stressed_obj is not None else math.nan,
            }
        ]
    )
    explanation = "" if feasible else _explain_replay(r.violations)
    return StressResult(
        feasible=feasible,
        explanation=explanation,
        violations=list(r.violations),
        overloads=_overloads(r.violations, st_grid, years),
        site_changes=pd.DataFrame(columns=SITE_COLUMNS),
        moved_sites=pd.DataFrame(columns=MOVED_COLUMNS),
        it_mw_by_year=_by_year(bp.schedule, bp.schedule, years, targets),
        costs_usd=costs,
        branches=pd.DataFrame(columns=BRANCH_COLUMNS),
        upgrades=pd.DataFrame(columns=UPGRADE_CHANGE_COLUMNS),
        replay=r,
        **common,
    )


# --------------------------------------------------------------------------- comparisons


def _it_pivot(schedule: pd.DataFrame | None, years: list[int]) -> pd.DataFrame:
    """IT MW per site (rows) and year (columns), 0 where the site has none."""
    if schedule is None or schedule.empty:
        return pd.DataFrame(columns=years, dtype=float)
    p = schedule.pivot_table(index="site_id", columns="year", values="it_mw", aggfunc="sum")
    return p.reindex(columns=years).fillna(0.0).astype(float)


def _moved_sites(base: pd.DataFrame, stressed: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """One row per site and year whose IT MW differs (see StressResult.moved_sites)."""
    b, s = _it_pivot(base, years), _it_pivot(stressed, years)
    ids = sorted(set(b.index) | set(s.index), key=str)
    b = b.reindex(index=ids).fillna(0.0)
    s = s.reindex(index=ids).fillna(0.0)
    rows = []
    for sid in ids:
        in_base = bool((b.loc[sid] > TOL_MW).any())
        in_st = bool((s.loc[sid] > TOL_MW).any())
        for y in years:
            bv, sv = as_float(b.at[sid, y]), as_float(s.at[sid, y])
            if abs(sv - bv) <= TOL_MW:
                continue
            if not in_base:
                change = "added"
            elif not in_st:
                change = "dropped"
            else:
                change = "grown" if sv > bv else "shrunk"
            rows.append(
                {
                    "site_id": sid,
                    "change": change,
                    "year": int(y),
                    "base_it_mw": bv,
                    "stressed_it_mw": sv,
                    "delta_it_mw": sv - bv,
                }
            )
    return pd.DataFrame(rows, columns=MOVED_COLUMNS)


def _site_summary(schedule: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """Per site: first year with IT MW, cooling, IT MW in the last planning year."""
    s = schedule[schedule["it_mw"] > TOL_MW]
    if s.empty:
        return pd.DataFrame(columns=["first_year", "cooling", "it_mw_final"])
    g = s.groupby("site_id")
    piv = _it_pivot(schedule, years)
    return pd.DataFrame(
        {
            "first_year": g["year"].min().astype(int),
            "cooling": g["cooling"].first().astype(str),
            "it_mw_final": piv[years[-1]].reindex(g["year"].min().index).fillna(0.0),
        }
    )


def _site_changes(base: pd.DataFrame, stressed: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """One row per site whose plan changed (see StressResult.site_changes)."""
    b, s = _site_summary(base, years), _site_summary(stressed, years)
    piv_b, piv_s = _it_pivot(base, years), _it_pivot(stressed, years)
    rows = []
    for sid in sorted(set(b.index) | set(s.index), key=str):
        inb, ins = sid in b.index, sid in s.index
        what = []
        if inb and ins:
            if as_int(b.at[sid, "first_year"]) != as_int(s.at[sid, "first_year"]):
                what.append("first_year")
            if str(b.at[sid, "cooling"]) != str(s.at[sid, "cooling"]):  # (text columns)
                what.append("cooling")
            mb = piv_b.loc[sid].to_numpy() if sid in piv_b.index else np.zeros(len(years))
            ms = piv_s.loc[sid].to_numpy() if sid in piv_s.index else np.zeros(len(years))
            if np.abs(mb - ms).max() > TOL_MW:
                what.append("it_mw")
            if not what:
                continue
            change = "changed"
        else:
            change = "added" if ins else "dropped"
            what = ["site"]
        rows.append(
            {
                "site_id": sid,
                "change": change,
                "what": ",".join(what),
                "base_first_year": as_int(b.at[sid, "first_year"]) if inb else None,
                "stressed_first_year": as_int(s.at[sid, "first_year"]) if ins else None,
                "base_cooling": b.at[sid, "cooling"] if inb else None,
                "stressed_cooling": s.at[sid, "cooling"] if ins else None,
                "base_it_mw_final": as_float(b.at[sid, "it_mw_final"]) if inb else 0.0,
                "stressed_it_mw_final": as_float(s.at[sid, "it_mw_final"]) if ins else 0.0,
            }
        )
    return pd.DataFrame(rows, columns=SITE_COLUMNS)


def _by_year(
    base: pd.DataFrame,
    stressed: pd.DataFrame | None,
    years: list[int],
    targets: dict[int, float],
) -> pd.DataFrame:
    """IT MW in service per year, base and stressed, and the target [MW IT]."""

    def total(s: pd.DataFrame | None) -> pd.Series:
        if s is None:
            return pd.Series(math.nan, index=years)
        if s.empty:
            return pd.Series(0.0, index=years)
        return s.groupby("year")["it_mw"].sum().reindex(years).fillna(0.0)

    b, s = total(base), total(stressed)
    return pd.DataFrame(
        {
            "year": years,
            "base_it_mw": b.to_numpy(dtype=float),
            "stressed_it_mw": s.to_numpy(dtype=float),
            "delta_it_mw": (s - b).to_numpy(dtype=float),
            "target_it_mw": [targets.get(int(y), math.nan) for y in years],
        }
    )


def _cost_table(base: dict[str, float], stressed: dict[str, float] | None) -> pd.DataFrame:
    """Cost parts and the total, base and stressed (present value, USD)."""
    parts = list(dict.fromkeys([*base, *(stressed or {})]))
    rows = []
    for p in parts:
        bv = float(base.get(p, 0.0))
        sv = float(stressed.get(p, 0.0)) if stressed is not None else math.nan
        rows.append({"part": p, "base_usd": bv, "stressed_usd": sv, "delta_usd": sv - bv})
    bt = float(sum(base.values()))
    st = float(sum(stressed.values())) if stressed is not None else math.nan
    rows.append({"part": "total", "base_usd": bt, "stressed_usd": st, "delta_usd": st - bt})
    return pd.DataFrame(rows, columns=["part", "base_usd", "stressed_usd", "delta_usd"])


def _peak_loading(flows: pd.DataFrame) -> pd.DataFrame:
    """Per branch: the largest loading over years (and snapshots when known) [%]."""
    cols = ["from_bus", "to_bus", "rating_mw", "peak_loading_pct", "peak_year"]
    if flows is None or flows.empty or "branch_id" not in flows.columns:
        return pd.DataFrame(columns=cols)
    col = "max_loading_pct" if "max_loading_pct" in flows.columns else "loading_pct"
    f = flows.assign(
        branch_id=flows["branch_id"].astype(str),
        peak_loading_pct=pd.to_numeric(flows[col], errors="coerce").fillna(0.0),
    )
    f = f.sort_values(["peak_loading_pct", "year"], ascending=[False, True])
    f = f.drop_duplicates("branch_id").set_index("branch_id")
    f["peak_year"] = f["year"].astype(int)
    f["from_bus"] = f["from_bus"].astype(str)
    f["to_bus"] = f["to_bus"].astype(str)
    return f[cols]


def _branch_changes(base: pd.DataFrame, stressed: pd.DataFrame) -> pd.DataFrame:
    """Peak loading per branch, base and stressed, largest change first."""
    b, s = _peak_loading(base), _peak_loading(stressed)
    if b.empty and s.empty:
        return pd.DataFrame(columns=BRANCH_COLUMNS)
    ids = list(dict.fromkeys([*b.index, *s.index]))
    b, s = b.reindex(ids), s.reindex(ids)
    out = pd.DataFrame(
        {
            "branch_id": ids,
            "from_bus": b["from_bus"].fillna(s["from_bus"]).to_numpy(),
            "to_bus": b["to_bus"].fillna(s["to_bus"]).to_numpy(),
            "base_rating_mw": b["rating_mw"].to_numpy(dtype=float),
            "stressed_rating_mw": s["rating_mw"].to_numpy(dtype=float),
            "base_peak_loading_pct": b["peak_loading_pct"].to_numpy(dtype=float),
            "stressed_peak_loading_pct": s["peak_loading_pct"].to_numpy(dtype=float),
            "base_peak_year": b["peak_year"].astype("Int64").array,
            "stressed_peak_year": s["peak_year"].astype("Int64").array,
            "stressed_in_service": s["peak_loading_pct"].notna().to_numpy(),
        }
    )
    out["delta_loading_pct"] = out["stressed_peak_loading_pct"] - out["base_peak_loading_pct"]
    # largest change first; a branch out of service (or new) counts as the largest
    key = out["delta_loading_pct"].abs().fillna(math.inf)
    out = out.assign(_k=key).sort_values("_k", ascending=False, kind="stable").drop(columns="_k")
    return out[BRANCH_COLUMNS].reset_index(drop=True)


def _upgrade_changes(base: pd.DataFrame, stressed: pd.DataFrame) -> pd.DataFrame:
    """Upgrades added, dropped or moved to another year."""
    key = ["asset", "asset_id"]
    b = base.drop_duplicates(key).set_index(key)
    s = stressed.drop_duplicates(key).set_index(key)
    rows = []
    for k in list(dict.fromkeys([*b.index, *s.index])):
        inb, ins = k in b.index, k in s.index
        by = as_float(b.at[k, "year"]) if inb else math.nan
        sy = as_float(s.at[k, "year"]) if ins else math.nan
        if inb and ins and by == sy:
            continue
        src = s if ins else b
        rows.append(
            {
                "asset": k[0],
                "asset_id": k[1],
                "change": "moved" if inb and ins else ("added" if ins else "dropped"),
                "base_year": by,
                "stressed_year": sy,
                "added_mw": as_float(src.at[k, "added_mw"]),
                "cost_usd": as_float(src.at[k, "cost_usd"]),
            }
        )
    return pd.DataFrame(rows, columns=UPGRADE_CHANGE_COLUMNS)


#: Slack families of branch limits, and which rating they bound.
_BRANCH_SLACKS = {"overload_mw": "normal", "n1_overload_mw": "N-1"}


def _overloads(violations: list[dict], grid: Grid, years: list[int]) -> pd.DataFrame:
    """Branch overloads among replay's violations, with the stressed ratings."""
    from siting.network import dc_network

    rows = []
    picked = [v for v in violations if v.get("slack") in _BRANCH_SLACKS]
    if not picked:
        return pd.DataFrame(columns=OVERLOAD_COLUMNS)
    # the model numbers branches as the DC network does: in-service branches in grid order
    branch_ids = list(dc_network(grid).branch_ids)
    br = grid.branches
    for v in picked:
        key = v["index"] if isinstance(v["index"], (tuple, list)) else (v["index"],)
        try:
            bid, year, snap = branch_ids[int(key[0])], years[int(key[1])], key[2]
        except (IndexError, TypeError, ValueError):
            continue
        limit = _BRANCH_SLACKS[v["slack"]]
        rating = float(br.at[bid, "rating_mw"])
        if limit == "N-1" and "rating_emergency_mw" in br.columns:
            em = br.at[bid, "rating_emergency_mw"]
            rating = rating if em is None or pd.isna(em) else float(em)
        flow = rating + float(v["amount"])
        rows.append(
            {
                "branch_id": bid,
                "year": int(year),
                "snapshot": str(snap),
                "limit": limit,
                "rating_mw": rating,
                "flow_mw": flow,
                "overload_mw": float(v["amount"]),
                "loading_pct": 100.0 * flow / rating if rating > 0 else math.inf,
            }
        )
    out = pd.DataFrame(rows, columns=OVERLOAD_COLUMNS)
    return out.sort_values(["overload_mw"], ascending=False, kind="stable").reset_index(drop=True)


def _explain_replay(violations: list[dict]) -> str:
    """Replay's violations in words (what, where, by how much), largest first."""
    if not violations:
        return (
            "the base plan cannot be operated under the stress, and the elastic re-solve gave "
            "no explanation"
        )
    lines = ["the base plan cannot be operated under the stress; it breaks:"]
    by_req: dict[str, list[dict]] = {}
    for v in violations:
        by_req.setdefault(v["requirement"], []).append(v)
    for req, vs in by_req.items():
        vs = sorted(vs, key=lambda v: -v["amount"])
        lines.append(
            f"  - {req}: {len(vs)} case(s), largest {vs[0]['amount']:,.1f} {vs[0]['unit']}"
        )
        for v in vs[:6]:
            lines.append(f"      {v.get('where', v['index'])}: {v['amount']:,.1f} {v['unit']}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- JSON helpers


def _opt(v: Any) -> float | None:
    """A float, or None for NaN / None."""
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _plain(o: Any) -> Any:
    """JSON-ready: numpy scalars as Python, NaN and inf as None, tuples as lists."""
    if isinstance(o, dict):
        return {str(k): _plain(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_plain(v) for v in o]
    if isinstance(o, (bool, np.bool_)):
        return bool(o)
    if isinstance(o, (int, np.integer)):
        return int(o)
    if isinstance(o, (float, np.floating)):
        f = float(o)
        return f if math.isfinite(f) else None
    if isinstance(o, Path):
        return str(o)
    if o is None or isinstance(o, str):
        return o
    try:
        if pd.isna(o):
            return None
    except (TypeError, ValueError):
        pass
    return str(o)


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame as JSON-ready records."""
    if df is None or df.empty:
        return []
    return [_plain(r) for r in df.to_dict(orient="records")]
