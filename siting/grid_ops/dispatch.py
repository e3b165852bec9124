"""DC economic dispatch (DC OPF) of a grid as it is, with no campuses.

:func:`dc_opf` answers a grid operator's first question, "what does my grid cost to run
and how does power flow?", with the planning model itself: a
:class:`~siting.model.data.ModelData` with no candidate sites, one year and one snapshot
(load factor 1, ``peak`` so generator minimums apply, weighted 1 h) goes through
:func:`~siting.model.build.build_model` and :func:`~siting.solve.highs.solve`. With no sites
the MILP has no integer variable left: it is the linear program

.. math::

    \\min_{p, \\theta, c} \\sum_g c_g \\quad [\\text{USD/h}]

    \\text{s.t.}\\quad c_g \\ge a_{gi} + b_{gi} p_g \\;\\; \\forall i, \\qquad
    p^{min}_g \\le p_g \\le p^{max}_g,

    \\sum_{g \\in G_n} p_g - s \\cdot d_n - G^{sh}_n
    = \\sum_{l: f(l) = n} F_l - \\sum_{l: t(l) = n} F_l, \\qquad
    F_l = b_l (\\theta_{f(l)} - \\theta_{t(l)} - \\phi_l), \\qquad |F_l| \\le R_l,

with ``b_l = base_mva / (x_l tau_l)`` [MW/rad] (MATPOWER's ``makeBdc``), ``d_n`` the
bus load and ``G^sh_n`` the shunt demand [MW], ``s`` the load scale, ``R_l`` the branch
rating (``RATE_A``; ``inf`` where MATPOWER writes 0, so no limit) and ``theta = 0`` at
each island's reference bus. That is MATPOWER's DC OPF (``rundcopf``) term for term:
piecewise-linear costs (gencost model 1) enter exactly as the same epigraph MATPOWER
builds; a polynomial of degree 2 or more is replaced by ``segments`` secants (the one
approximation, bounded by :func:`siting.model.data.secant_error_bound_usd_per_h`).

Results
-------
``objective_usd_per_h`` is the generators' cost at the dispatch found, evaluated on the
case's own cost curves (exact polynomials, pwl interpolation) [USD/h], constants
(``c0``) of in-service generators included as MATPOWER does. ``model_objective_usd_per_h``
is the LP's optimum (secant-priced). For costs that are linear or piecewise linear the
two are equal and are the DC OPF optimum. For quadratic costs, with ``C*`` the exact
optimum and ``B`` the summed secant bound (``approximation_bound_usd_per_h``),
``C* <= objective_usd_per_h <= model_objective_usd_per_h <= C* + B``.

IDs are the grid's: for a MATPOWER case the bus number (``BUS_I``) as ``bus_id`` and
the 1-based row of ``mpc.gen`` / ``mpc.branch`` as ``gen_id`` / ``branch_id``, as text.
Every row of the case is listed: out-of-service generators with ``p_mw = 0`` and
out-of-service branches with ``flow_mw = 0``, each with ``in_service = False`` (as
MATPOWER's results keep every row).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from siting.core.errors import InputError, Problem, SitingError
from siting.inputs.grids.grid import Grid
from siting.model.data import (
    POLY_SEGMENTS,
    CampusData,
    Caps,
    CoolingData,
    GenCost,
    Goal,
    GridData,
    Horizon,
    ModelData,
    PolicyData,
    WaterData,
    generator_inputs,
    secant_error_bound_usd_per_h,
)
from siting.network import require_network
from siting.pipeline import InfeasibleError
from siting.solve.highs import SolveResult, solve

if TYPE_CHECKING:
    from siting.inputs import Layers
    from siting.network import DCNetwork

__all__ = ["DispatchInfeasibleError", "DispatchResult", "dc_opf", "grid_only_data"]

#: Name of the one snapshot of the dispatch.
SNAPSHOT = "peak"


class DispatchInfeasibleError(InfeasibleError):
    """The grid cannot serve its load within its limits; the message says where."""


@dataclass
class DispatchResult:
    """A DC economic dispatch (see the module docstring).

    Attributes
    ----------
    status
        ``optimal`` (the solver's status; anything else raises).
    objective_usd_per_h
        Generators' cost at the dispatch, on the exact cost curves [USD/h].
    model_objective_usd_per_h
        The LP's optimum, with polynomial costs priced by secants [USD/h].
    approximation_bound_usd_per_h
        Sum over generators of the secant error bound [USD/h]; 0 when every cost is
        linear or piecewise linear (``inf`` if a polynomial is not convex).
    cost_segments
        Secants per polynomial cost.
    load_scale
        Factor applied to every bus load (not to shunts).
    year
        The year whose load was dispatched (``None``: the base ``load_mw``).
    load_mw, generation_mw
        Total demand (scaled load plus shunt demand) and total generation [MW]; equal
        (the DC model is lossless).
    dispatch
        One row per generator of the grid, in its order: ``gen_id, bus_id, p_mw,
        p_min_mw, p_max_mw, cost_usd_per_h`` (exact curve), ``in_service``.
    flows
        One row per branch of the grid, in its order: ``branch_id, from_bus, to_bus,
        flow_mw`` (positive from ``from_bus`` to ``to_bus``), ``rating_mw`` (``inf`` =
        unlimited), ``loading_pct`` (``|flow| / rating * 100``; NaN when unlimited),
        ``in_service``.
    solve
        What the solver reported.
    timings
        Seconds per stage (``network_s, build_s, solve_s, total_s``).
    notes
        What was decided on the way (network islands, dropped branches, cost notes).
    source
        Where the grid was read from.
    """

    status: str
    objective_usd_per_h: float
    model_objective_usd_per_h: float
    approximation_bound_usd_per_h: float
    cost_segments: int
    load_scale: float
    year: int | None
    load_mw: float
    generation_mw: float
    dispatch: pd.DataFrame
    flows: pd.DataFrame
    solve: SolveResult
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    source: str = ""

    def most_loaded(self, n: int = 10) -> pd.DataFrame:
        """The ``n`` in-service branches with the highest loading (limited ones first)."""
        f = self.flows[self.flows["in_service"]]
        key = f["loading_pct"].fillna(-1.0)
        return (
            f.assign(_k=key)
            .sort_values("_k", ascending=False, kind="stable")
            .head(n)[list(self.flows.columns)]
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (``inf`` and NaN become ``None``)."""

        def num(v: float | np.floating) -> float | None:
            v = float(v)
            return v if math.isfinite(v) else None

        def rows(df: pd.DataFrame) -> list[dict[str, Any]]:
            out = []
            for rec in df.to_dict(orient="records"):
                out.append(
                    {
                        str(k): (
                            num(v)
                            if isinstance(v, float | np.floating)
                            else bool(v)
                            if isinstance(v, bool | np.bool_)
                            else v
                        )
                        for k, v in rec.items()
                    }
                )
            return out

        return {
            "source": self.source,
            "status": self.status,
            "objective_usd_per_h": num(self.objective_usd_per_h),
            "model_objective_usd_per_h": num(self.model_objective_usd_per_h),
            "approximation_bound_usd_per_h": num(self.approximation_bound_usd_per_h),
            "cost_segments": self.cost_segments,
            "load_scale": self.load_scale,
            "year": self.year,
            "load_mw": num(self.load_mw),
            "generation_mw": num(self.generation_mw),
            "dispatch": rows(self.dispatch),
            "flows": rows(self.flows),
            "solver": {
                "name": self.solve.solver,
                "version": self.solve.solver_version,
                "termination": self.solve.termination,
                "rows": self.solve.rows,
                "columns": self.solve.columns,
            },
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "notes": list(self.notes),
        }


def grid_only_data(
    grid: Grid,
    net: DCNetwork,
    *,
    load_scale: float = 1.0,
    segments: int = POLY_SEGMENTS,
    year: int | None = None,
    line_limits: bool = True,
) -> ModelData:
    """:class:`ModelData` of the grid alone: no sites, one year, one 1-hour peak snapshot.

    With ``op_weight = [1]`` and the snapshot weighing 1 h, the model's objective is the
    dispatch cost in USD/h.

    Parameters
    ----------
    grid
        The grid.
    net
        Its :class:`siting.network.DCNetwork`.
    load_scale
        Factor on every bus's ``load_mw`` (shunt demand is not scaled) [-].
    segments
        Secants per polynomial cost.
    year
        Take the load of this year (``load_mw_<YYYY>`` columns); ``None``: ``load_mw``.
    line_limits
        Enforce branch ratings.
    """
    gens, gen_costs = generator_inputs(grid, net, segments)
    load = grid.load_mw([year]) if year is not None else grid.load_mw()
    load = load.reindex(net.bus_ids).astype(float) * float(load_scale)
    load.columns = [0]
    nb = len(net.bus_ids)
    return ModelData(
        horizon=Horizon(
            years=[year if year is not None else 0],
            capex_df=np.ones(1),
            op_weight=np.ones(1),
            period_years=np.ones(1),
            snapshots=pd.DataFrame(
                {"load_factor": [1.0], "hours": [1.0], "peak": [True]},
                index=pd.Index([SNAPSHOT], name="name"),
            ),
            utilisation=1.0,
        ),
        campus=CampusData(
            sites=[],
            site=_no_sites(),
            module_mw=1.0,
            min_campus_mw=0.0,
            max_modules_per_period=np.zeros(1),
            capex_usd_per_mw=0.0,
            interconnection_usd_per_mw=0.0,
            zone_bonus_usd_per_mw=0.0,
        ),
        cooling=CoolingData(
            techs=[],
            allowed=[],
            perf=_no_performance(),
            capex_usd_per_mw={},
            heat_recovery_share={},
        ),
        grid=GridData(
            enabled=True,
            line_limits=line_limits,
            energy_usd_per_mwh=0.0,
            voll_usd_per_mwh=10_000.0,
            net=net,
            gens=gens,
            gen_costs=gen_costs,
            base_load_mw=load,
            shunt_mw=grid.buses["shunt_mw"].reindex(net.bus_ids).astype(float).to_numpy(),
            headroom_mw=np.full(nb, np.nan),
        ),
        water=WaterData(
            enabled=False,
            sources=pd.DataFrame(),
            links=pd.DataFrame(columns=["site_id", "source_id", "distance_km", "pipeline_usd"]),
            potable_cap_m3_per_day=None,
        ),
        policy=PolicyData(
            targets_mw=np.zeros(1),
            region_shares={},
            zone_mode="ignore",
            zone_min_share=0.0,
            demand_links=pd.DataFrame(columns=["region_id", "site_id", "cost_usd_per_mw_year"]),
            demand_mw=pd.DataFrame(),
            public_share=0.0,
            public_sites=[],
            public_techs={},
            heat_links=pd.DataFrame(columns=["sink_id", "site_id"]),
            sinks=pd.DataFrame(),
        ),
        caps=Caps(),
        goal=Goal(sense="min_cost", budget_usd=None),
    )


def _no_sites() -> pd.DataFrame:
    """:attr:`ModelData.site` with no candidate site (its columns, no row)."""
    return pd.DataFrame(
        columns=[
            "max_it_mw",
            "fixed_cost_usd",
            "land_usd_per_mw",
            "bus_distance_km",
            "interconnect_usd",
            "bus_id",
            "zone_id",
            "zone_kind",
            "region_id",
            "earliest_period",
            "firm_period",
            "flex_period",
        ],
        index=pd.Index([], name="site_id", dtype=object),
    )


def _no_performance() -> pd.DataFrame:
    """:attr:`ModelData.perf` with no (site, cooling) row (PUE [-], WUE [L/kWh] columns)."""
    return pd.DataFrame(
        columns=["pue_annual", "pue_peak", "wue_annual_l_per_kwh", "wue_peak_l_per_kwh"],
        index=pd.MultiIndex.from_tuples([], names=["site_id", "cooling"]),
    )


def dc_opf(
    layers_or_grid: Layers | Grid,
    *,
    load_scale: float = 1.0,
    segments: int = POLY_SEGMENTS,
    year: int | None = None,
    line_limits: bool = True,
    solver: str = "highs",
    time_limit_s: float = 600.0,
    threads: int = 2,
) -> DispatchResult:
    """Solve the DC economic dispatch of a grid with no campuses (see the module docstring).

    Parameters
    ----------
    layers_or_grid
        :class:`siting.inputs.Layers` (its ``grid`` is used) or a
        :class:`~siting.inputs.grids.grid.Grid`.
    load_scale
        Factor on every bus load (shunts are not scaled) [-], >= 0.
    segments
        Secants per polynomial (degree >= 2) generator cost (>= 1).
    year
        Dispatch this year's load (``load_mw_<YYYY>`` columns of the grid); ``None``:
        the base ``load_mw``.
    line_limits
        Enforce branch ratings (``rating_mw``).
    solver, time_limit_s, threads
        Passed to :func:`siting.solve.highs.solve` [name, s, count].

    Returns
    -------
    DispatchResult

    Raises
    ------
    siting.core.errors.InputError
        No grid, a generator without any cost, a bad ``load_scale`` or ``segments``.
    DispatchInfeasibleError
        The grid cannot serve its load within its limits; the message names the buses
        with unserved load and the overloaded branches of the least-violating dispatch
        (or the island whose generators' minimum output exceeds its load).
    siting.core.errors.SitingError
        The solver stopped without a dispatch (time limit, error).
    """
    from siting.model import build_model
    from siting.network import dc_network

    t_all = time.perf_counter()
    grid, segments = _check_arguments(layers_or_grid, load_scale, segments)
    _check_costs(grid)
    timings: dict[str, float] = {}

    t = time.perf_counter()
    net = dc_network(grid)
    d = grid_only_data(
        grid, net, load_scale=load_scale, segments=segments, year=year, line_limits=line_limits
    )
    timings["network_s"] = time.perf_counter() - t
    _check_minimums(d)

    t = time.perf_counter()
    m = build_model(d)
    timings["build_s"] = time.perf_counter() - t
    t = time.perf_counter()

    def run(mm: pyo.ConcreteModel) -> SolveResult:
        return solve(mm, solver=solver, time_limit_s=time_limit_s, mip_gap=0.0, threads=threads)

    r = run(m)
    timings["solve_s"] = time.perf_counter() - t
    if not r.has_solution:
        if r.status == "infeasible":
            _explain_infeasible(d, r, run, load_scale)
        raise SitingError(
            f"the solver found no dispatch ({r.status}: {r.termination}) within {time_limit_s:g} s"
        )

    dispatch, cost, bound = _dispatch_table(grid, d, m, segments)
    flows = _flow_table(grid, net, m)
    p = dispatch["p_mw"].to_numpy()
    load_mw = float(d.grid.base_load_mw.to_numpy().sum() + d.grid.shunt_mw.sum())
    notes = list(net.notes) + _cost_notes(d.grid.gen_costs)
    timings["total_s"] = time.perf_counter() - t_all
    return DispatchResult(
        status=r.status,
        objective_usd_per_h=float(cost.sum()),
        model_objective_usd_per_h=float(r.objective if r.objective is not None else np.nan),
        approximation_bound_usd_per_h=float(bound),
        cost_segments=segments,
        load_scale=float(load_scale),
        year=year,
        load_mw=load_mw,
        generation_mw=float(p.sum()),
        dispatch=dispatch,
        flows=flows,
        solve=r,
        timings=timings,
        notes=notes,
        source=grid.source,
    )


def _check_arguments(
    layers_or_grid: Layers | Grid, load_scale: float, segments: int
) -> tuple[Grid, int]:
    """Check :func:`dc_opf`'s arguments: the grid (of the layers), ``load_scale`` [-] and
    ``segments``.

    Returns
    -------
    (Grid, int)
        The grid, and the segments as an int.

    Raises
    ------
    siting.core.errors.InputError
        No grid, a load scale that is not a finite number >= 0, or segments that are not a
        whole number >= 1.
    """
    grid = getattr(layers_or_grid, "grid", layers_or_grid)
    if not isinstance(grid, Grid):
        raise InputError("there is no grid to dispatch (the scenario has no grid layer)")
    if not (math.isfinite(load_scale) and load_scale >= 0):
        raise InputError(f"load_scale must be a finite number >= 0, got {load_scale}")
    if int(segments) != segments or segments < 1:
        raise InputError(f"cost segments must be a whole number >= 1, got {segments}")
    return grid, int(segments)


def _dispatch_table(
    grid: Grid, d: ModelData, m: pyo.ConcreteModel, segments: int
) -> tuple[pd.DataFrame, np.ndarray, float]:
    """The solved dispatch, one row per generator of the grid (see
    :attr:`DispatchResult.dispatch`), priced on the exact cost curves.

    Parameters
    ----------
    grid
        The grid.
    d
        The model's data.
    m
        The solved model.
    segments
        Secants per polynomial cost.

    Returns
    -------
    (pandas.DataFrame, numpy.ndarray, float)
        The table, the cost per generator [USD/h] (0 when out of service) and the summed
        secant error bound [USD/h].
    """
    gens = grid.generators
    on_g = gens["in_service"].astype(bool).to_numpy()
    p = np.zeros(len(gens))
    pos = {gid: i for i, gid in enumerate(gens.index.astype(str))}
    for g in d.grid.gens.index:
        p[pos[g]] = float(pyo.value(m.p[g, 0, SNAPSHOT]))
    cost = np.zeros(len(gens))
    bound = 0.0
    for i, (gid, row) in enumerate(gens.iterrows()):
        if not on_g[i]:
            continue
        curve = grid.costs.get(str(gid))
        if curve is None:
            cost[i] = float(row["marginal_cost_usd_per_mwh"]) * p[i]
        else:
            cost[i] = float(curve.cost_usd_per_h(p[i]))
        bound += secant_error_bound_usd_per_h(
            curve, float(row["p_min_mw"]), float(row["p_max_mw"]), segments
        )
    dispatch = pd.DataFrame(
        {
            "gen_id": gens.index.astype(str),
            "bus_id": gens["bus_id"].astype(str).to_numpy(),
            "p_mw": p,
            "p_min_mw": gens["p_min_mw"].astype(float).to_numpy(),
            "p_max_mw": gens["p_max_mw"].astype(float).to_numpy(),
            "cost_usd_per_h": cost,
            "in_service": on_g,
        }
    )
    return dispatch, cost, bound


def _flow_table(grid: Grid, net: DCNetwork, m: pyo.ConcreteModel) -> pd.DataFrame:
    """The solved flows, one row per branch of the grid (see :attr:`DispatchResult.flows`;
    0 MW on a branch out of service) [MW, %]."""
    br = grid.branches
    on_b = br["in_service"].astype(bool).to_numpy()
    flow = np.zeros(len(br))
    bpos = {bid: i for i, bid in enumerate(br.index.astype(str))}
    for k, bid in enumerate(net.branch_ids):
        flow[bpos[str(bid)]] = float(pyo.value(m.flow[k, 0, SNAPSHOT]))
    rating = br["rating_mw"].astype(float).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        loading = np.where(np.isfinite(rating), np.abs(flow) / rating * 100.0, np.nan)
    return pd.DataFrame(
        {
            "branch_id": br.index.astype(str),
            "from_bus": br["from_bus"].astype(str).to_numpy(),
            "to_bus": br["to_bus"].astype(str).to_numpy(),
            "flow_mw": flow,
            "rating_mw": rating,
            "loading_pct": loading,
            "in_service": on_b,
        }
    )


def _check_costs(grid: Grid) -> None:
    """Every in-service generator needs a cost curve or a finite marginal cost."""
    g = grid.generators[grid.generators["in_service"].astype(bool)]
    missing = [
        str(gid)
        for gid, mc in g["marginal_cost_usd_per_mwh"].items()
        if str(gid) not in grid.costs and not math.isfinite(float(mc))
    ]
    if missing:
        head = ", ".join(f"'{x}'" for x in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise InputError(
            Problem(
                f"{len(missing)} in-service generators have no cost ({head}{more}); a dispatch "
                "needs a gencost row (MATPOWER) or marginal_cost_usd_per_mwh per generator",
                file=grid.source or None,
                layer="generators",
                field="marginal_cost_usd_per_mwh",
            )
        )


def _island_demand(d: ModelData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per island: demand, sum of p_min and sum of p_max of its generators [MW]."""
    net = require_network(d.grid.net, "the dispatch's islands")
    isl = np.asarray(net.island)
    k = int(isl.max()) + 1 if len(isl) else 0
    demand = np.bincount(
        isl, weights=d.grid.base_load_mw.to_numpy()[:, 0] + np.asarray(d.grid.shunt_mw), minlength=k
    )
    gb = (
        isl[d.grid.gens["bus_pos"].to_numpy(dtype=int)]
        if len(d.grid.gens)
        else np.zeros(0, dtype=int)
    )
    pmin = np.bincount(gb, weights=d.grid.gens["p_min_mw"].to_numpy(dtype=float), minlength=k)
    pmax = np.bincount(gb, weights=d.grid.gens["p_max_mw"].to_numpy(dtype=float), minlength=k)
    return demand, pmin, pmax


def _check_minimums(d: ModelData) -> None:
    """Raise when an island's generator minimums exceed its demand (no slack can fix it)."""
    demand, pmin, _ = _island_demand(d)
    bad = np.flatnonzero(pmin > demand + 1e-6)
    if len(bad):
        net = require_network(d.grid.net, "the dispatch's islands")
        parts = []
        for i in bad[:5]:
            ref = net.bus_ids[net.ref_idx[i]]
            parts.append(
                f"island of bus {ref}: generators' minimum output {pmin[i]:,.1f} MW exceeds "
                f"its demand {demand[i]:,.1f} MW"
            )
        raise DispatchInfeasibleError(
            "the grid cannot serve its load within its limits: " + "; ".join(parts),
            [],
            SolveResult("infeasible", "not solved", None, None, None, 0.0, "", ""),
        )


def _explain_infeasible(
    d: ModelData,
    r: SolveResult,
    run: Callable[[pyo.ConcreteModel], SolveResult],
    load_scale: float,
) -> None:
    """Re-solve with slack on load and limits (``run``: the dispatch's solve); raise with
    what the grid cannot do."""
    from siting.model import build_model
    from siting.model import elastic as _elastic

    me = build_model(d, elastic=True)
    re = run(me)
    viol = _elastic.violations(me) if re.has_solution else []
    net = require_network(d.grid.net, "explaining the dispatch's infeasibility")
    lines = []
    unserved = [v for v in viol if v["slack"] == "unserved_mw"]
    over = [v for v in viol if v["slack"] == "overload_mw"]
    if unserved:
        unserved.sort(key=lambda v: -v["amount"])
        total = sum(v["amount"] for v in unserved)
        lines.append(
            f"  - load not served: {total:,.1f} MW at {len(unserved)} bus(es): "
            + ", ".join(
                f"bus {net.bus_ids[v['index'][0]]} {v['amount']:,.1f} MW" for v in unserved[:10]
            )
            + (" ..." if len(unserved) > 10 else "")
        )
    if over:
        over.sort(key=lambda v: -v["amount"])
        lines.append(f"  - branch flows above their rating on {len(over)} branch(es):")
        for v in over[:10]:
            k = v["index"][0]
            lines.append(
                f"      branch {net.branch_ids[k]} (bus {net.bus_ids[net.from_idx[k]]} -> bus "
                f"{net.bus_ids[net.to_idx[k]]}, rating {net.rating_mw[k]:,.1f} MW): "
                f"{v['amount']:,.1f} MW over"
            )
    if not lines:
        demand, _, pmax = _island_demand(d)
        short = np.flatnonzero(pmax < demand - 1e-6)
        lines = [
            f"  - island of bus {net.bus_ids[net.ref_idx[i]]}: generation capacity "
            f"{pmax[i]:,.1f} MW is below its demand {demand[i]:,.1f} MW"
            for i in short[:10]
        ] or ["  (the solver found no dispatch and no explanation; check the inputs)"]
    scale = f" (load scaled by {load_scale:g})" if load_scale != 1.0 else ""
    raise DispatchInfeasibleError(
        f"the grid cannot serve its load within its limits{scale}. Relaxing them, the "
        "least-violating dispatch needs:\n" + "\n".join(lines),
        viol,
        r,
    )


def _cost_notes(gen_costs: dict[str, GenCost]) -> list[str]:
    """Notes on cost curves the epigraph does not take as drawn (non-convex pwl)."""
    bad = [
        g
        for g, c in gen_costs.items()
        if len(c.slopes_usd_per_mwh) > 1 and np.any(np.diff(c.slopes_usd_per_mwh) < -1e-9)
    ]
    if not bad:
        return []
    return [
        f"{len(bad)} generators have non-convex costs (slopes that fall; "
        f"{', '.join(bad[:5])}): priced, as MATPOWER does, by the largest of their segment "
        "lines, which lies above the curve where it bends down"
    ]
