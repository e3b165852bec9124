"""Demand that may not come: a two-stage plan over demand scenarios.

The first stage (``demand_scenarios.first_stage``: which sites open, ``open[s]``, their
cooling, ``tech[s,k]``, and with the compute section their shells, the rack positions built
``racks_new[s,t]``) is decided now, the same in every demand scenario; everything else (the
opening year, modules per year, the fit-out of accelerators, export, dispatch, water) is the
second stage, decided per scenario once its demand is known. With probabilities ``p_i`` the
two-stage problem is

    min_x  sum_i p_i * min_y cost_i(x, y)

over first stages ``x``. It is not solved as one extensive form (one copy of the whole
model per scenario); instead every piece is one ordinary siting MILP, a task on the Dask
engine (:func:`siting.core.engine.dask_client`):

1. **wait-and-see**: each scenario's own best plan, cost ``z_i``; ``WS = sum_i p_i z_i`` is a
   valid lower bound on the two-stage optimum (each scenario may only do better alone);
2. **deterministic** (expected value): one plan for the probability-weighted mean targets;
3. **candidate first stages**: the deterministic plan's, each scenario's own, the union of
   the sites they open (the hedge), and the consensus of each round of progressive hedging
   (Rockafellar and Wets 1991) on the binary first stage (the shells of a hedging candidate
   or of the union: the largest floor any of its plans builds at each of its sites, so the
   floor serves each of them): scenario ``i`` minimises
   ``cost_i + w_i x + rho/2 (x - xbar)^2``, which for a binary ``x`` (``x^2 = x``) is the
   linear term ``(w_i + rho/2 - rho xbar) x``; ``xbar = sum_i p_i x_i`` and ``w_i += rho
   (x_i - xbar)``; the candidate is ``xbar`` rounded (``>= 0.5``);
4. **exact evaluation**: each candidate's first stage fixed, each scenario solved, expected
   cost ``sum_i p_i cost_i(x)`` (a scenario it cannot serve, with hard targets: infinite);
5. the **chosen** first stage is the candidate of least expected cost, so it is never worse
   than the deterministic plan's first stage on the scenarios (``EEV``); the report gives
   ``VSS = EEV - chosen``, the gap to ``WS`` (how far from the two-stage optimum the chosen
   plan can at most be) and each scenario's regret ``cost_i(chosen) - z_i``.

What is exact: every cost reported is a solved MILP at the scenario's MIP gap; the bound
``WS`` is valid. What is not: the chosen first stage is the best of the candidates
evaluated, not proven the two-stage optimum (the gap to ``WS`` bounds how far it can be).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from siting.core.errors import InputError, SitingError
from siting.core.io import check_output_folder
from siting.model import build_model
from siting.model.data import ModelData, compute_target_inputs, replaced, target_inputs
from siting.model.objective import OBJECTIVE_UNIT_USD

if TYPE_CHECKING:
    from dask.distributed import Client

    from siting.config.scenario import Scenario, Targets
    from siting.pipeline import Prepared
    from siting.results.plan import Plan

#: First-stage decisions (``demand_scenarios.first_stage``) and the variable each fixes.
FIRST_STAGE_VARS = {"sites": "open", "cooling": "tech", "shells": "racks_new"}


@dataclasses.dataclass(frozen=True)
class FirstStage:
    """A first stage: the sites open now and (when decided now) their cooling and shells.

    Attributes
    ----------
    sites
        Site IDs opened now (sorted).
    cooling
        ``(site_id, cooling)`` of each opened site (empty when cooling is second stage).
    racks
        ``(site_id, period, rack positions built)`` of each opened site's floor, where
        positions are built (empty when shells are second stage) [rack positions].
    """

    sites: tuple[str, ...]
    cooling: tuple[tuple[str, str], ...] = ()
    racks: tuple[tuple[str, int, float], ...] = ()

    def key(self) -> str:
        """A stable text key (to tell candidates apart)."""
        cool = dict(self.cooling)
        key = ",".join(f"{s}:{cool[s]}" if s in cool else s for s in self.sites)
        if self.racks:
            key += "|" + ",".join(f"{s}@{t}={v:.6g}" for s, t, v in self.racks)
        return key

    def racks_by_site(self) -> dict[str, float]:
        """Each site's floor by the last period (the sum of :attr:`racks`) [rack positions]."""
        out: dict[str, float] = {}
        for s, _, v in self.racks:
            out[s] = out.get(s, 0.0) + v
        return out


@dataclasses.dataclass
class StageTask:
    """One MILP of the two-stage study (a task on the engine).

    Attributes
    ----------
    label
        What it is (``own:<scenario>``, ``mean``, ``ph<k>:<scenario>``,
        ``eval:<candidate>:<scenario>``).
    policy
        The :class:`~siting.model.data.PolicyData` fields that replace the base data's (the
        scenario's targets).
    decide
        The first-stage decisions (``sites``, ``cooling``).
    fixed
        The first stage to fix (None: free).
    linear_usd
        Progressive hedging's linear objective terms [USD per unit of the variable]:
        ``{("open", s): c, ("tech", s, k): c}`` (empty: none).
    settings
        :func:`siting.pipeline.solve_model`'s settings (time_limit_s, mip_gap, threads).
    baseline_usd, baseline_co2_t
        The grid baseline (see :func:`siting.model.build_model`) [USD, t CO2].
    """

    label: str
    policy: dict[str, Any]
    decide: tuple[str, ...]
    fixed: FirstStage | None = None
    linear_usd: dict[tuple[str, ...], float] = dataclasses.field(default_factory=dict)
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    baseline_usd: float = 0.0
    baseline_co2_t: float = 0.0


#: The target fields a demand scenario carries that live in the model data's compute part
#: (:func:`siting.model.data.compute_target_inputs`), not its policy part.
COMPUTE_TARGET_FIELDS = ("accelerator_targets", "compute_targets")


def demand_inputs(targets: Targets, years: list[int]) -> dict[str, Any]:
    """The model-data fields a demand scenario's targets set: the policy part's
    (:func:`siting.model.data.target_inputs`) and the compute part's
    (:func:`siting.model.data.compute_target_inputs`, :data:`COMPUTE_TARGET_FIELDS`)."""
    return {**target_inputs(targets, years), **compute_target_inputs(targets, years)}


def scenario_data(base: ModelData, policy: dict[str, Any]) -> ModelData:
    """``base`` with a demand scenario's target fields replaced (its policy part's and,
    with a compute part, its accelerator and compute targets; the scenario file's check
    refuses those targets without a compute section)."""
    comp = {k: policy[k] for k in COMPUTE_TARGET_FIELDS if k in policy}
    pol = {k: v for k, v in policy.items() if k not in COMPUTE_TARGET_FIELDS}
    d = replaced(base, policy=pol)
    if base.compute is not None and comp:
        d = replaced(d, compute=dataclasses.replace(base.compute, **comp))
    return d


def mean_policy(policies: list[dict[str, Any]], probabilities: list[float]) -> dict[str, Any]:
    """The probability-weighted mean of the scenarios' target fields (the expected-value
    problem's targets): arrays and numbers averaged, ``None`` kept when all are None.

    Raises
    ------
    SitingError
        When a field is None in some scenarios and a number in others.
    """
    out: dict[str, Any] = {}
    for key in policies[0]:
        vals = [p[key] for p in policies]
        if all(isinstance(v, dict) for v in vals):  # accelerator targets {(g, t): count}
            keys = sorted({k for v in vals for k in v})
            out[key] = {
                k: float(sum(pr * v.get(k, 0.0) for pr, v in zip(probabilities, vals, strict=True)))
                for k in keys
            }
        elif all(v is None for v in vals):
            out[key] = None
        elif any(v is None for v in vals):
            raise SitingError(
                f"demand scenarios: target field {key} is set in some scenarios and empty in "
                "others; set it in all or none"
            )
        else:
            arr = sum(
                pr * np.asarray(v, dtype=float) for pr, v in zip(probabilities, vals, strict=True)
            )
            out[key] = arr if np.ndim(arr) else float(arr)
    return out


def _fix(m: pyo.ConcreteModel, fs: FirstStage, decide: tuple[str, ...]) -> None:
    """Fix ``m``'s first-stage variables to ``fs``."""
    opened = set(fs.sites)
    for s in m.S:
        m.open[s].fix(1 if s in opened else 0)
    if "cooling" in decide:
        cool = dict(fs.cooling)
        for s, k in m.SK:
            m.tech[s, k].fix(1 if cool.get(s) == k else 0)
    if "shells" in decide and m.component("racks_new") is not None:
        built = {(s, t): v for s, t, v in fs.racks}
        for s in m.S:
            for t in m.T:
                m.racks_new[s, t].fix(built.get((s, t), 0.0))


def first_stage_of(m: pyo.ConcreteModel, decide: tuple[str, ...]) -> FirstStage:
    """The first stage of a solved model."""
    sites = tuple(sorted(str(s) for s in m.S if (m.open[s].value or 0.0) > 0.5))
    cooling: tuple[tuple[str, str], ...] = ()
    if "cooling" in decide:
        cooling = tuple(
            sorted((str(s), str(k)) for s, k in m.SK if (m.tech[s, k].value or 0.0) > 0.5)
        )
    racks: tuple[tuple[str, int, float], ...] = ()
    if "shells" in decide and m.component("racks_new") is not None:
        racks = tuple(
            (str(s), int(t), round(float(m.racks_new[s, t].value or 0.0), 6))
            for s in m.S
            for t in m.T
            if (m.racks_new[s, t].value or 0.0) > 1e-6
        )
    return FirstStage(sites, cooling, racks)


def _hedged_objective(m: pyo.ConcreteModel, linear_usd: dict[tuple[str, ...], float]) -> None:
    """Replace ``m``'s objective by itself plus progressive hedging's linear terms."""
    terms = []
    for key, c in linear_usd.items():
        var = m.open[key[1]] if key[0] == "open" else m.tech[key[1], key[2]]
        terms.append(c * var)
    m.obj.deactivate()
    m.obj_hedged = pyo.Objective(
        expr=m.obj.expr + pyo.quicksum(terms) / OBJECTIVE_UNIT_USD, sense=pyo.minimize
    )


def solve_task(base: ModelData, task: StageTask) -> dict[str, Any]:
    """Solve one MILP of the study (runs on a Dask worker, or in this process).

    Returns
    -------
    dict
        ``label``, ``status``, ``cost_usd`` (the plan's net present cost without any hedging
        term, None without a plan) [USD], ``bound_usd``, ``gap``, ``first_stage``
        (:class:`FirstStage` or None), ``it_mw_by_year`` and ``export_mw_by_year`` [MW],
        ``export_compute_units_by_year`` (with the compute section, the compute of the
        accelerators sold abroad [compute units]; 0 without it), ``solve_s`` [s].
    """
    from siting.pipeline import solve_model

    d = scenario_data(base, task.policy)
    m = build_model(d, baseline_usd=task.baseline_usd, baseline_co2_t=task.baseline_co2_t)
    if task.fixed is not None:
        _fix(m, task.fixed, task.decide)
    if task.linear_usd:
        _hedged_objective(m, task.linear_usd)
    r = solve_model(m, d, **task.settings)
    out: dict[str, Any] = {
        "label": task.label,
        "status": r.status,
        "cost_usd": None,
        "bound_usd": r.bound if not task.linear_usd else None,
        "gap": r.gap,
        "first_stage": None,
        "it_mw_by_year": {},
        "export_mw_by_year": {},
        "export_compute_units_by_year": {},
        "solve_s": r.time_s,
    }
    if not r.has_solution:
        return out
    years = d.horizon.years
    ex = m.component("export_mw")
    out.update(
        cost_usd=float(pyo.value(m.total_cost)),
        first_stage=first_stage_of(m, task.decide),
        it_mw_by_year={y: float(pyo.value(m.total_cap[t])) for t, y in enumerate(years)},
        export_mw_by_year={
            y: float(ex[t].value or 0.0) if ex is not None else 0.0 for t, y in enumerate(years)
        },
        export_compute_units_by_year=_export_units(m, d),
    )
    return out


def _export_units(m: pyo.ConcreteModel, d: ModelData) -> dict[int, float]:
    """The compute units of the accelerators sold abroad per year [compute units] (0
    without the compute section or the export market)."""
    acc = m.component("export_acc")
    years = d.horizon.years
    if acc is None or d.compute is None:
        return dict.fromkeys(years, 0.0)
    cu = d.compute.generations["compute_per_accelerator"].astype(float).to_dict()
    out = dict.fromkeys(years, 0.0)
    for (g, t), v in acc.items():
        out[years[t]] += 1000.0 * cu[g] * float(v.value or 0.0)
    return out


def run_tasks(
    base: ModelData, tasks: list[StageTask], client: Client | None = None
) -> list[dict[str, Any]]:
    """Solve ``tasks`` on the Dask ``client`` (the base data scattered once), or one after
    another in this process when ``client`` is None; results in the tasks' order."""
    if client is None:
        return [solve_task(base, t) for t in tasks]
    [fut_base] = client.scatter([base], broadcast=True, hash=False)
    futs = [client.submit(solve_task, fut_base, t, pure=False) for t in tasks]
    return list(client.gather(futs))


@dataclasses.dataclass
class TwoStage:
    """The two-stage study's figures (see the module docstring) [USD, present value].

    Attributes
    ----------
    names, probabilities
        The demand scenarios and their probabilities [fraction].
    own
        Each scenario's own best plan (wait-and-see): :func:`solve_task`'s result.
    mean
        The deterministic (expected-value) plan's result.
    candidates
        Each candidate first stage: ``label``, ``first_stage``, ``sources`` (where it came
        from), ``results`` (one per scenario, in order) and ``expected_usd`` (``inf`` when a
        scenario has no plan under it).
    chosen
        Index into ``candidates`` of the least expected cost.
    ws_usd, eev_usd, expected_usd
        Wait-and-see value (each scenario's own plan, weighted), the deterministic first
        stage's expected cost (EEV), the chosen one's.
    ws_bound_usd
        The solver's proven bounds of the scenarios' own plans, weighted: a valid lower bound
        on the two-stage optimum (``ws_usd`` at a MIP gap of 0).
    """

    names: list[str]
    probabilities: list[float]
    own: list[dict[str, Any]]
    mean: dict[str, Any]
    candidates: list[dict[str, Any]]
    chosen: int
    ws_usd: float
    eev_usd: float
    expected_usd: float
    ws_bound_usd: float = -math.inf

    @property
    def vss_usd(self) -> float:
        """Value of the stochastic solution: EEV minus the chosen plan's expected cost [USD]."""
        return self.eev_usd - self.expected_usd

    @property
    def gap_to_ws(self) -> float:
        """How far above the wait-and-see bound the chosen plan is at most [fraction of the
        bound]."""
        return (self.expected_usd - self.ws_bound_usd) / max(abs(self.ws_bound_usd), 1.0)

    def regret_usd(self) -> list[float]:
        """Each scenario's regret: its cost under the chosen first stage minus its own best
        plan's [USD]."""
        res = self.candidates[self.chosen]["results"]
        return [
            float(r["cost_usd"]) - float(o["cost_usd"]) for r, o in zip(res, self.own, strict=True)
        ]


def _expected(results: list[dict[str, Any]], probabilities: list[float]) -> float:
    """``sum_i p_i cost_i`` [USD]; ``inf`` when a scenario with ``p_i > 0`` has no plan."""
    total = 0.0
    for r, p in zip(results, probabilities, strict=True):
        if r["cost_usd"] is None:
            if p > 0:
                return math.inf
            continue
        total += p * float(r["cost_usd"])
    return total


def _vector(fs: FirstStage, decide: tuple[str, ...]) -> dict[tuple[str, ...], float]:
    """A first stage as a 0/1 vector over its decisions (only the ones set)."""
    x: dict[tuple[str, ...], float] = {("open", s): 1.0 for s in fs.sites}
    if "cooling" in decide:
        x.update({("tech", s, k): 1.0 for s, k in fs.cooling})
    return x


def default_rho_usd(d: ModelData) -> float:
    """Progressive hedging's default penalty [USD]: 10 % of the mean site fixed cost plus
    the capex of the smallest campus (at least one module)."""
    site = d.campus.site
    fixed = float((site["fixed_cost_usd"] + site["interconnect_usd"]).mean()) if len(site) else 0.0
    campus_mw = max(d.campus.min_campus_mw, d.campus.module_mw)
    per_mw = d.campus.capex_usd_per_mw + d.campus.interconnection_usd_per_mw
    return max(0.1 * (fixed + campus_mw * per_mw), 1.0)


def _hedging(
    base: ModelData,
    make: Callable[..., StageTask],
    own: list[dict[str, Any]],
    probabilities: list[float],
    decide: tuple[str, ...],
    rounds: int,
    rho_usd: float,
    client: Client | None,
) -> list[FirstStage]:
    """Rounds of progressive hedging from the wait-and-see solutions; the consensus first
    stage (``xbar`` rounded) of each round."""
    xs = [_vector(o["first_stage"], decide) for o in own]
    keys = sorted({k for x in xs for k in x})
    w = [{k: 0.0 for k in keys} for _ in xs]
    out: list[FirstStage] = []
    for k in range(rounds):
        xbar = {
            key: sum(p * x.get(key, 0.0) for p, x in zip(probabilities, xs, strict=True))
            for key in keys
        }
        for i, x in enumerate(xs):
            for key in keys:
                w[i][key] += rho_usd * (x.get(key, 0.0) - xbar[key])
        tasks = [
            make(
                f"ph{k + 1}:{i}",
                i,
                linear_usd={
                    key: w[i][key] + rho_usd / 2.0 - rho_usd * xbar[key]
                    for key in keys
                    if abs(w[i][key] + rho_usd / 2.0 - rho_usd * xbar[key]) > 1e-9
                },
            )
            for i in range(len(xs))
        ]
        res = run_tasks(base, tasks, client)
        if any(r["first_stage"] is None for r in res):
            break
        xs = [_vector(r["first_stage"], decide) for r in res]
        keys = sorted({key for x in xs for key in x} | set(keys))
        for wi in w:
            for key in keys:
                wi.setdefault(key, 0.0)
        xbar = {
            key: sum(p * x.get(key, 0.0) for p, x in zip(probabilities, xs, strict=True))
            for key in keys
        }
        fs = _rounded(xbar, decide)
        if "shells" in decide:  # the round's largest floor at the consensus sites
            fs = dataclasses.replace(
                fs, racks=_most_racks([r["first_stage"] for r in res], set(fs.sites))
            )
        out.append(fs)
        if all(x == xs[0] for x in xs):  # consensus: every scenario agrees
            break
    return out


def _rounded(xbar: dict[tuple[str, ...], float], decide: tuple[str, ...]) -> FirstStage:
    """The first stage nearest the mean ``xbar``: sites with ``xbar >= 0.5``, each with the
    cooling of the largest mean."""
    sites = tuple(sorted(k[1] for k, v in xbar.items() if k[0] == "open" and v >= 0.5))
    if "cooling" not in decide:
        return FirstStage(sites)
    best: dict[str, tuple[float, str]] = {}
    for k, v in sorted(xbar.items()):
        if k[0] == "tech" and k[1] in sites and v > best.get(k[1], (-1.0, ""))[0]:
            best[k[1]] = (v, k[2])
    return FirstStage(sites, tuple(sorted((s, k) for s, (_, k) in best.items())))


def _union(stages: list[FirstStage]) -> FirstStage:
    """Every site any of ``stages`` opens, each with the cooling of the first that opens it
    and the largest floor any builds there."""
    cool: dict[str, str] = {}
    for fs in stages:
        for s, k in fs.cooling:
            cool.setdefault(s, k)
    sites = tuple(sorted({s for fs in stages for s in fs.sites}))
    return FirstStage(sites, tuple(sorted(cool.items())), _most_racks(stages, set(sites)))


def _most_racks(stages: list[FirstStage], sites: set[str]) -> tuple[tuple[str, int, float], ...]:
    """The most rack positions any of ``stages`` builds at each of ``sites`` in each period
    (a floor that serves every one of them) [rack positions]."""
    most: dict[tuple[str, int], float] = {}
    for fs in stages:
        for s, t, v in fs.racks:
            if s in sites:
                most[s, t] = max(most.get((s, t), 0.0), v)
    return tuple((s, t, v) for (s, t), v in sorted(most.items()))


def _check_own(names: list[str], res: list[dict[str, Any]]) -> None:
    """Raise when a scenario's own plan or the deterministic plan is missing."""
    missing = [
        f"{n}: {r['status']}"
        for n, r in zip([*names, "mean targets"], res, strict=True)
        if r["first_stage"] is None
    ]
    if missing:
        raise SitingError(
            "two-stage plan: no plan ("
            + ", ".join(missing)
            + ") even with every site free; each demand scenario must have a plan of its own"
        )


def two_stage(
    base: ModelData,
    names: list[str],
    policies: list[dict[str, Any]],
    probabilities: list[float],
    *,
    decide: tuple[str, ...] = ("sites", "cooling"),
    settings: dict[str, Any] | None = None,
    baseline_usd: float = 0.0,
    baseline_co2_t: float = 0.0,
    hedging_rounds: int = 3,
    rho_usd: float | None = None,
    client: Client | None = None,
    progress: Callable[[str], None] | None = None,
) -> TwoStage:
    """The two-stage study (see the module docstring).

    Parameters
    ----------
    base
        The model's inputs (screened once: dominance holds in every scenario).
    names, policies, probabilities
        Each demand scenario's name, policy fields (:func:`siting.model.data.target_inputs`
        of its targets) and probability [fraction].
    decide
        The first-stage decisions (``sites``, ``cooling``).
    settings
        Each solve's :func:`siting.pipeline.solve_model` settings (``time_limit_s`` [s],
        ``mip_gap`` [fraction], ``threads``).
    baseline_usd, baseline_co2_t
        The grid baseline [USD, t CO2] (:func:`siting.pipeline.grid_baseline`).
    hedging_rounds, rho_usd
        Rounds of progressive hedging and its penalty [USD] (None: :func:`default_rho_usd`).
    client
        A Dask client to run the solves on (None: one after another in this process).
    progress
        Called with each step's name.

    Raises
    ------
    SitingError
        When a scenario has no plan of its own, or no candidate first stage serves every
        scenario.
    """
    say = progress or (lambda _s: None)
    sets = dict(settings or {})

    def make(label: str, i: int | None, **kw: Any) -> StageTask:
        pol = mean_pol if i is None else policies[i]
        lab = label if i is None else f"{label.split(':')[0]}:{names[i]}"
        return StageTask(
            lab,
            pol,
            decide,
            settings=sets,
            baseline_usd=baseline_usd,
            baseline_co2_t=baseline_co2_t,
            **kw,
        )

    mean_pol = mean_policy(policies, probabilities)
    say("own plans and the deterministic plan")
    res = run_tasks(
        base, [make("own", i) for i in range(len(names))] + [make("mean", None)], client
    )
    own, mean = res[:-1], res[-1]
    _check_own(names, res)
    found: dict[str, dict[str, Any]] = {}

    def offer(fs: FirstStage, source: str) -> None:
        found.setdefault(fs.key(), {"first_stage": fs, "sources": []})["sources"].append(source)

    offer(mean["first_stage"], "deterministic")
    for n, o in zip(names, own, strict=True):
        offer(o["first_stage"], f"own:{n}")
    offer(_union([o["first_stage"] for o in own] + [mean["first_stage"]]), "union")
    if hedging_rounds > 0 and len(names) > 1:
        say("progressive hedging")
        rho = rho_usd if rho_usd is not None else default_rho_usd(base)
        for k, fs in enumerate(
            _hedging(base, make, own, probabilities, decide, hedging_rounds, rho, client)
        ):
            offer(fs, f"hedging round {k + 1}")
    cands = list(found.values())
    say(f"evaluating {len(cands)} candidate first stages")
    tasks = [
        make(f"eval{c}:{i}", i, fixed=cd["first_stage"])
        for c, cd in enumerate(cands)
        for i in range(len(names))
    ]
    res = run_tasks(base, tasks, client)
    n_sc = len(names)
    for c, cd in enumerate(cands):
        cd["label"] = f"c{c + 1}"
        cd["results"] = res[c * n_sc : (c + 1) * n_sc]
        cd["expected_usd"] = _expected(cd["results"], probabilities)
    chosen = min(range(len(cands)), key=lambda c: (cands[c]["expected_usd"], c))
    if not math.isfinite(cands[chosen]["expected_usd"]):
        raise SitingError(
            "two-stage plan: no candidate first stage serves every demand scenario (with hard "
            "targets a scenario the sites opened now cannot meet has no plan); set "
            "targets.shortfall_usd_per_mw_year to price the shortfall instead"
        )
    return TwoStage(
        names=list(names),
        probabilities=[float(p) for p in probabilities],
        own=own,
        mean=mean,
        candidates=cands,
        chosen=chosen,
        ws_usd=_expected(own, probabilities),
        ws_bound_usd=math.fsum(
            p * float(o["bound_usd"] if o["bound_usd"] is not None else o["cost_usd"])
            for p, o in zip(probabilities, own, strict=True)
        ),
        eev_usd=cands[0]["expected_usd"],
        expected_usd=cands[chosen]["expected_usd"],
    )


# --------------------------------------------------------------------------- the run

#: The kind of output folder a two-stage study writes (:class:`siting.core.io.OutputOwner`).
KIND = "twostage"


def run_twostage(
    scenario: str | Path | Scenario,
    *,
    out: str | Path | None = None,
    scheduler: str | None = None,
    workers: int = 2,
    client: Client | None = None,
    serial: bool = False,
    force: bool = False,
    tiles: bool = True,
    progress: Callable[[str], None] | None = None,
) -> tuple[TwoStage, Path]:
    """Plan a scenario's demand scenarios in two stages and write the study.

    Parameters
    ----------
    scenario
        A scenario (file) with a ``demand_scenarios`` section.
    out
        Output folder (default ``maps/<scenario name>-twostage/``).
    scheduler, workers, client
        The Dask engine (:func:`siting.core.engine.dask_client`): an existing scheduler's
        address, or a local cluster of ``workers`` processes, or a client already held.
    serial
        Solve one after another in this process (no cluster).
    force, tiles
        As :func:`siting.pipeline.plan`'s.
    progress
        Called with each step's name.

    Returns
    -------
    (TwoStage, pathlib.Path)
        The study's figures and the folder written: ``twostage.json``, ``scenarios.csv``,
        ``candidates.csv``, ``index.html`` and ``plans/<demand scenario>/`` (each scenario's
        plan under the chosen first stage, the usual plan files).

    Raises
    ------
    siting.core.errors.InputError
        The scenario has no ``demand_scenarios`` section, or another input problem.
    SitingError
        No plan (see :func:`two_stage`).
    """
    from siting.config.scenario import Scenario as _Scenario
    from siting.config.scenario import demand_scenario, load_scenario
    from siting.core.engine import dask_client
    from siting.core.io import OutputOwner, staged_folder
    from siting.inputs import input_files
    from siting.pipeline import DEFAULT_OUT_ROOT, prepare

    say = progress or (lambda _s: None)
    sc = scenario if isinstance(scenario, _Scenario) else load_scenario(scenario)
    if sc.demand_scenarios is None:
        raise InputError(
            f"scenario '{sc.name}' has no demand_scenarios section: a two-stage plan needs "
            "demand scenarios (name, probability, targets); `siting plan` plans one demand"
        )
    dest = Path(out) if out is not None else DEFAULT_OUT_ROOT / f"{sc.name}-twostage"
    owner = OutputOwner(KIND, sc.name)
    check_output_folder(dest, owner, inputs=input_files(sc), force=force)
    prep = prepare(sc, progress=say)
    spec = sc.demand_scenarios
    names = [ds.name for ds in spec.scenarios]
    scenarios = {n: demand_scenario(sc, n) for n in names}
    years = list(prep.data.horizon.years)
    policies = [demand_inputs(scenarios[n].targets, years) for n in names]
    settings = {
        "time_limit_s": sc.solver.time_limit_s,
        "mip_gap": sc.solver.mip_gap,
        "threads": sc.solver.threads,
    }
    kw: dict[str, Any] = dict(
        decide=tuple(spec.first_stage),
        settings=settings,
        baseline_usd=prep.baseline_usd,
        baseline_co2_t=prep.baseline_co2_t,
        hedging_rounds=spec.hedging_rounds,
        rho_usd=spec.hedging_rho_usd,
        progress=say,
    )
    probs = [ds.probability for ds in spec.scenarios]
    t0 = time.perf_counter()
    if serial:
        ts = two_stage(prep.data, names, policies, probs, **kw)
    else:
        with dask_client(scheduler, workers, client=client) as c:
            ts = two_stage(prep.data, names, policies, probs, client=c, **kw)
    study_s = time.perf_counter() - t0
    say("plans under the chosen first stage")
    plans = [
        _scenario_plan(prep, scenarios[n], policies[i], ts, settings) for i, n in enumerate(names)
    ]
    say("write")
    with staged_folder(dest, owner, inputs=input_files(sc), force=force) as stage:
        for n, p in zip(names, plans, strict=True):
            p.write(stage / "plans" / n, inputs=list(input_files(sc)), tiles=tiles)
        _write_study(stage, sc, prep, ts, study_s)
    return ts, dest.resolve()


def _scenario_plan(
    prep: Prepared,
    sc: Scenario,
    policy: dict[str, Any],
    ts: TwoStage,
    settings: dict[str, Any],
) -> Plan:
    """One demand scenario's plan under the chosen first stage, verified (re-solved here,
    in this process, to read it out with the layers)."""
    from siting.pipeline import solve_model, verified_plan

    d = scenario_data(prep.data, policy)
    chosen = ts.candidates[ts.chosen]
    m = build_model(d, baseline_usd=prep.baseline_usd, baseline_co2_t=prep.baseline_co2_t)
    spec = prep.scenario.demand_scenarios
    decide = tuple(spec.first_stage) if spec is not None else ("sites", "cooling")
    _fix(m, chosen["first_stage"], decide)
    r = solve_model(m, d, **settings)
    if not r.has_solution:
        raise SitingError(
            f"two-stage plan: demand scenario under the chosen first stage {chosen['label']} "
            f"gave no plan on its re-solve ({r.status}); raise solver.time_limit_s"
        )
    note = (
        f"two-stage plan: the first stage ({', '.join(decide)}) is fixed to candidate "
        f"{chosen['label']} ({', '.join(chosen['sources'])}), chosen for the least expected "
        "cost over the demand scenarios; this plan is its second stage for this demand"
    )
    return verified_plan(prep, m, d, r, settings, scenario=sc, notes=[note])


def study_dict(ts: TwoStage) -> dict[str, Any]:
    """The study's figures as JSON-ready data (``twostage.json``'s ``figures``) [USD]."""

    def res(r: dict[str, Any]) -> dict[str, Any]:
        fs = r.get("first_stage")
        return {
            **{k: v for k, v in r.items() if k not in ("first_stage",)},
            "first_stage": dataclasses.asdict(fs) if fs is not None else None,
            "it_mw_by_year": {str(k): v for k, v in r["it_mw_by_year"].items()},
            "export_mw_by_year": {str(k): v for k, v in r["export_mw_by_year"].items()},
            "export_compute_units_by_year": {
                str(k): v for k, v in r.get("export_compute_units_by_year", {}).items()
            },
        }

    def inf_none(v: float) -> float | None:
        return v if math.isfinite(v) else None

    return {
        "scenarios": [
            {"name": n, "probability": p} for n, p in zip(ts.names, ts.probabilities, strict=True)
        ],
        "expected_cost_usd": ts.expected_usd,
        "eev_usd": ts.eev_usd,
        "ws_usd": ts.ws_usd,
        "ws_bound_usd": ts.ws_bound_usd,
        "vss_usd": ts.vss_usd,
        "gap_to_ws": ts.gap_to_ws,
        "gap_to_ws_usd": ts.expected_usd - ts.ws_bound_usd,
        "regret_usd": dict(zip(ts.names, ts.regret_usd(), strict=True)),
        "chosen": ts.candidates[ts.chosen]["label"],
        "own_plans": [res(o) for o in ts.own],
        "deterministic_plan": res(ts.mean),
        "candidates": [
            {
                "label": c["label"],
                "sources": c["sources"],
                "first_stage": dataclasses.asdict(c["first_stage"]),
                "expected_cost_usd": inf_none(c["expected_usd"]),
                "results": [res(r) for r in c["results"]],
            }
            for c in ts.candidates
        ],
    }


def scenario_rows(ts: TwoStage) -> pd.DataFrame:
    """``scenarios.csv``: per demand scenario its probability [fraction], own best cost,
    cost under the chosen first stage and regret [USD], MW exported in the last year and
    the most in a year [MW] and, the compute of the accelerators exported in the last year
    [compute units] (0 without the compute section; those MW are then envelope MW)."""
    chosen = ts.candidates[ts.chosen]["results"]
    rows = []
    for n, p, o, r, reg in zip(
        ts.names, ts.probabilities, ts.own, chosen, ts.regret_usd(), strict=True
    ):
        ex = list(r["export_mw_by_year"].values())
        rows.append(
            {
                "scenario": n,
                "probability": p,
                "own_best_cost_usd": o["cost_usd"],
                "cost_under_chosen_usd": r["cost_usd"],
                "regret_usd": reg,
                "it_mw_last_year": list(r["it_mw_by_year"].values())[-1],
                "export_mw_last_year": ex[-1] if ex else 0.0,
                "export_mw_max": max(ex) if ex else 0.0,
                "export_compute_units_last_year": (
                    list(units.values())[-1]
                    if (units := r.get("export_compute_units_by_year"))
                    else 0.0
                ),
            }
        )
    return pd.DataFrame(rows)


def _write_study(stage: Path, sc: Scenario, prep: Prepared, ts: TwoStage, study_s: float) -> None:
    """Write ``twostage.json`` (with provenance), ``scenarios.csv``, ``candidates.csv`` and
    ``index.html`` into the staging folder."""
    from siting.core.io import write_text_atomic
    from siting.core.provenance import run_record

    doc = {
        "siting_twostage": 1,
        **run_record(sc, prep.layers.inputs),
        "first_stage": list(sc.demand_scenarios.first_stage) if sc.demand_scenarios else [],
        "figures": study_dict(ts),
        "timings": {**{k: round(v, 3) for k, v in prep.timings.items()}, "study_s": study_s},
        "method": (
            "each demand scenario's own plan (wait-and-see), the deterministic plan (mean "
            "targets), candidate first stages (the deterministic, each scenario's, their union, "
            "progressive hedging's rounds) each evaluated exactly on every scenario; chosen: "
            "the least expected cost. WS is a lower bound on the two-stage optimum; the chosen "
            "plan is the best candidate evaluated, within gap_to_ws_usd of the optimum at most."
        ),
    }
    write_text_atomic(stage / "twostage.json", json.dumps(doc, indent=2, default=str) + "\n")
    write_text_atomic(
        stage / "scenarios.csv", scenario_rows(ts).to_csv(index=False, float_format="%.10g")
    )
    cand = pd.DataFrame(
        [
            {
                "candidate": c["label"],
                "sources": "; ".join(c["sources"]),
                "sites": " ".join(c["first_stage"].sites),
                "cooling": " ".join(f"{s}:{k}" for s, k in c["first_stage"].cooling),
                "rack_positions": " ".join(
                    f"{s}:{v:.6g}" for s, v in c["first_stage"].racks_by_site().items()
                ),
                "expected_cost_usd": c["expected_usd"] if math.isfinite(c["expected_usd"]) else "",
                "chosen": i == ts.chosen,
            }
            for i, c in enumerate(ts.candidates)
        ]
    )
    write_text_atomic(stage / "candidates.csv", cand.to_csv(index=False, float_format="%.10g"))
    write_text_atomic(stage / "index.html", study_html(sc, ts))


def study_html(sc: Scenario, ts: TwoStage) -> str:
    """The study's summary page (plain; every text escaped)."""
    from siting.render.html import esc, fmt_usd
    from siting.render.report import CSS

    def musd(v: float | None) -> str:
        return "no plan" if v is None or not math.isfinite(v) else f"{v / 1e6:,.1f}"

    chosen = ts.candidates[ts.chosen]
    rows = "".join(
        f'<tr><td>{esc(n)}</td><td class="n">{p:.3g}</td>'
        f'<td class="n">{musd(o["cost_usd"])}</td><td class="n">{musd(r["cost_usd"])}</td>'
        f'<td class="n">{musd(reg)}</td>'
        f'<td><a href="plans/{esc(quote(n, safe=""))}/report.html">report</a> · '
        f'<a href="plans/{esc(quote(n, safe=""))}/index.html">map</a></td></tr>'
        for n, p, o, r, reg in zip(
            ts.names, ts.probabilities, ts.own, chosen["results"], ts.regret_usd(), strict=True
        )
    )
    cands = "".join(
        f"<tr><td>{esc(c['label'])}{' (chosen)' if i == ts.chosen else ''}</td>"
        f"<td>{esc('; '.join(c['sources']))}</td>"
        f"<td>{esc(' '.join(c['first_stage'].sites))}</td>"
        f'<td class="n">{musd(c["expected_usd"])}</td></tr>'
        for i, c in enumerate(ts.candidates)
    )
    figures = (
        f"<li>Expected net present cost of the chosen plan: {esc(fmt_usd(ts.expected_usd))}</li>"
        f"<li>The deterministic plan (mean targets) on the scenarios, EEV: "
        f"{esc(fmt_usd(ts.eev_usd))}; value of the stochastic solution, VSS = EEV - chosen: "
        f"{esc(fmt_usd(ts.vss_usd))}</li>"
        f"<li>Wait-and-see bound WS (each scenario's own best plan, weighted): "
        f"{esc(fmt_usd(ts.ws_usd))}, proven bound {esc(fmt_usd(ts.ws_bound_usd))}; no first "
        "stage can do better. The chosen plan is at most "
        f"{esc(fmt_usd(ts.expected_usd - ts.ws_bound_usd))} ({ts.gap_to_ws:.2%}) above the "
        "two-stage optimum.</li>"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Two-stage plan: {esc(sc.name)}</title><style>{CSS}</style></head><body><main>"
        f"<h1>Two-stage plan: {esc(sc.title or sc.name)}</h1>"
        "<p>Sites (and their cooling) are decided now, the same whatever demand comes; "
        "the build-out, fit-out and export are decided per demand scenario. The chosen "
        f"first stage opens {esc(', '.join(chosen['first_stage'].sites) or 'no site')}: the "
        "least expected cost among the candidates evaluated, not proven optimal (the bound "
        f"says how far it can be).</p><ul>{figures}</ul>"
        "<h2>Demand scenarios</h2><table><thead><tr><th>scenario</th>"
        '<th class="n">probability</th><th class="n">own best plan [M USD]</th>'
        '<th class="n">under the chosen plan [M USD]</th><th class="n">regret [M USD]</th>'
        f"<th>plan</th></tr></thead><tbody>{rows}</tbody></table>"
        "<h2>Candidate first stages</h2><table><thead><tr><th>candidate</th><th>from</th>"
        '<th>sites opened now</th><th class="n">expected cost [M USD]</th></tr></thead>'
        f"<tbody>{cands}</tbody></table></main></body></html>\n"
    )
