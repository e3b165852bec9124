"""A side-by-side baseline of siting's MILP, built with linopy and solved with HiGHS.

The same formulation as :mod:`siting.model` (the families of ``build.py``) for the
national-scale benchmark instances (:func:`benchmarks.instances.write_size`), which have no
water, no policy sections, no grid upgrades and no N-1, built from siting's own inputs
(:class:`siting.model.data.ModelData`, from :func:`siting.pipeline.prepare`) with linopy's
array API (xarray; no Python loop over site x period x branch). What differs is only the
network's form: every line limit is in the model from the start, as one full PTDF block,
instead of siting's lazily added limits.

Sets: sites ``s``, technologies ``k`` (the allowed (s, k) pairs as a mask), periods ``t``,
snapshots ``h``, in-service generators ``g``, buses with a generator or a site ("active"
buses) ``b``, islands ``i``, branches with a finite rating ``l``.

Variables (as :mod:`siting.model.sites`): ``open[s]`` binary; ``opens[s,t]`` in {0, 1}
(0 before the site's earliest period); ``tech[s,k]`` binary; ``build[s,t]`` integer modules,
``0 <= build <= min(max_modules_per_period[t], floor(max_it[s] / module))``;
``capk[s,k,t]`` in ``[0, max_it[s]]`` [MW IT]. Grid: ``p[g,t,h]`` [MW] within
``[p_min, p_max]`` at the peak and ``[min(0, p_min), p_max]`` otherwise; ``inj[b,t,h]`` the
net injection of an active bus [MW]; ``flow[l,t,h]`` in ``[-rating_l, rating_l]`` [MW];
``gcost[g,t,h]`` [USD/h] for generators with a curved cost.

Constraints: ``sum_t opens = open``; ``build[s,t] <= ub[s,t] * sum_{u<=t} opens[s,u]``;
``sum_k tech = open``; ``sum_k capk[s,k,t] = cap[s,t] = module * sum_{u<=t} build[s,u]``;
``capk <= max_it * tech``; ``cap <= max_it * open``; ``cap[s,T-1] >= min_campus * open``;
``sum_s cap[s,t] >= target_t``. Power: ``draw[s,t,h] = sum_k PUE_h[s,k] capk[s,k,t]`` with
the peak PUE in peak snapshots and ``u * PUE_annual`` otherwise. Network:
``inj[b,t,h] = sum_{g at b} p - sum_{s at b} draw`` (the constant load is kept out of
``inj``); per island ``sum_{b in i} inj[b,t,h] = sum_{b in i} (lf_h load[b,t] + shunt_b)``;
``flow[l,t,h] = sum_b PTDF[l,b] inj[b,t,h] + c[l,t,h]`` with
``c = PTDF (-(lf_h load[:,t] + shunt) - Pbusinj) + Pfinj`` (MATPOWER's phase-shift
convention, as siting's PTDF form); substation headroom where finite. Cost lines:
``gcost[g,t,h] >= a_gi + b_gi p[g,t,h]``.

Objective (as :mod:`siting.model.objective`, handed to HiGHS in million USD with the
constant as HiGHS's objective offset, so the relative MIP gap means the same on both
sides): capex ``sum df_t (capex_per_mw + interconnection_per_mw + land[s]) module
build[s,t]``; cooling capex ``sum df_t cc_k (capk[s,k,t] - capk[s,k,t-1])``; site fixed
``sum df_t (fixed[s] + tie line[s]) opens[s,t]``; zone bonus; energy ``sum_{t,h}
op_weight_t hours_h dispatch_cost[t,h] - baseline_usd`` (0-hour snapshots weigh 1 h).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from siting.model.data import ModelData
from siting.model.objective import OBJECTIVE_UNIT_USD

#: Largest PTDF block (nonzeros) :func:`build_baseline` builds: about 16 bytes a term in
#: linopy plus HiGHS's copy; 3e8 is about 10 GB at the peak of the build.
MAX_PTDF_NONZEROS = 300_000_000

#: PTDF entries smaller than this are left out (as siting's PTDF flow expressions do).
PTDF_TOL = 1e-12


class TooLargeError(MemoryError):
    """The full PTDF block would not fit (see :data:`MAX_PTDF_NONZEROS`)."""


@dataclass
class Baseline:
    """A built linopy model with what is needed to read its solution back.

    Attributes
    ----------
    model
        The ``linopy.Model``.
    offset_musd
        The objective's constant (minus the grid baseline) [million USD].
    build_s
        Time to build the model [s].
    ptdf_nonzeros
        Terms of the PTDF block (after dropping zeros) [count].
    d
        The model's inputs.
    ptdf
        PTDF rows of the limited branches over the active buses.
    const_flow
        ``c[l,t,h]`` of the flow definition [MW].
    limited
        Positions of the limited branches in ``net.branch_ids``.
    """

    model: Any
    offset_musd: float
    build_s: float
    ptdf_nonzeros: int
    d: ModelData
    ptdf: np.ndarray
    const_flow: np.ndarray
    limited: np.ndarray
    notes: list[str] = field(default_factory=list)


@dataclass
class BaselineResult:
    """A baseline solve.

    Attributes
    ----------
    status
        HiGHS's model status, as text (``Optimal`` ...).
    objective_usd, bound_usd
        Objective of the solution and HiGHS's best bound [USD] (with the constant).
    gap
        ``|objective - bound| / max(|objective|, 1)`` [fraction].
    rows, columns, nonzeros, integers
        The model HiGHS received [count].
    timings
        ``handover_s`` (linopy's matrices and highspy model), ``highs_s`` (``Highs.run``),
        ``readback_s`` (solution to arrays), ``verify_s`` [s].
    cap_mw
        IT MW in service per site (rows, chosen sites only) and planning year (columns).
    checks
        Verification figures: ``target_short_mw`` (largest shortfall), ``overload_mw``
        (largest flow above a rating, recomputed with numpy from the dispatch), ``balance_mw``
        (largest island imbalance) [MW].
    """

    status: str
    objective_usd: float | None
    bound_usd: float | None
    gap: float | None
    rows: int
    columns: int
    nonzeros: int
    integers: int
    timings: dict[str, float]
    cap_mw: pd.DataFrame
    checks: dict[str, float]

    @property
    def ok(self) -> bool:
        """Whether the solution verifies (1e-4 MW tolerance, 1e-6 relative on flows)."""
        return all(v <= 1e-3 for v in self.checks.values())


def _unsupported(d: ModelData) -> list[str]:
    """The parts of ``d`` the baseline does not model (it must be empty)."""
    out = []
    if d.water.enabled and len(d.water.links):
        out.append("water links")
    if d.policy.region_shares:
        out.append("policy.region_shares")
    if d.policy.zone_mode == "require" and d.policy.zone_min_share > 0:
        out.append("policy.zones (require)")
    if len(d.policy.demand_mw):
        out.append("policy.demand")
    if d.policy.public_share > 0:
        out.append("policy.public_interest")
    if len(d.policy.heat_links) and len(d.policy.sinks):
        out.append("heat sinks")
    if len(d.grid.branch_upgrades) or len(d.grid.bus_upgrades):
        out.append("grid upgrades")
    if d.grid.n1 is not None:
        out.append("N-1")
    if d.caps.water_cap_m3_per_day is not None or d.caps.co2_cap_t is not None:
        out.append("water or CO2 caps")
    if d.goal.sense != "min_cost":
        out.append(f"objective {d.goal.sense}")
    if not d.grid.enabled:
        out.append("no grid")
    return out


def ptdf_nonzeros_estimate(d: ModelData) -> int:
    """Upper bound of the PTDF block's terms: limited branches x (active buses + 1) x
    periods x snapshots [count]."""
    net = d.grid.net
    active = set(d.grid.gens["bus_pos"].astype(int)) | set(
        net.bus_ids.get_indexer(d.campus.site["bus_id"].astype(str))
    )
    n_lim = int(np.isfinite(net.rating_mw).sum()) if d.grid.line_limits else 0
    return n_lim * (len(active) + 1) * d.horizon.n_years * len(d.horizon.snapshots)


def build_baseline(
    d: ModelData, baseline_usd: float, *, max_ptdf_nonzeros: int = MAX_PTDF_NONZEROS
) -> Baseline:
    """Build the baseline model (see the module docstring).

    Parameters
    ----------
    d
        siting's model inputs (``prepare(scenario).data``).
    baseline_usd
        The grid's own dispatch cost without campuses [USD, present value]
        (``prepare(scenario).baseline_usd``).
    max_ptdf_nonzeros
        Refuse to build a larger PTDF block.

    Raises
    ------
    NotImplementedError
        When ``d`` has a part the baseline does not model (water, policy, upgrades, N-1).
    TooLargeError
        When the PTDF block would exceed ``max_ptdf_nonzeros``.
    """
    bad = _unsupported(d)
    if bad:
        raise NotImplementedError(f"the linopy baseline does not model: {', '.join(bad)}")
    est = ptdf_nonzeros_estimate(d)
    if est > max_ptdf_nonzeros:
        raise TooLargeError(
            f"the full PTDF block would have up to {est:,} nonzeros (limit "
            f"{max_ptdf_nonzeros:,}): about {est * 16 / 1e9:,.0f} GB in linopy alone"
        )
    t_start = time.perf_counter()
    with warnings.catch_warnings():
        # masked slots (tech, capk) count as 0 in sums: linopy's legacy semantics, wanted here
        warnings.simplefilter("ignore", FutureWarning)
        m, n_terms, ptdf_act, const_flow, limited = _build(d)
    return Baseline(
        model=m,
        offset_musd=-float(baseline_usd) / OBJECTIVE_UNIT_USD,
        build_s=time.perf_counter() - t_start,
        ptdf_nonzeros=n_terms,
        d=d,
        ptdf=ptdf_act,
        const_flow=const_flow,
        limited=limited,
    )


def _build(d: ModelData) -> tuple[Any, int, np.ndarray, np.ndarray, np.ndarray]:
    """The linopy model; also the PTDF block's terms, its rows over the active buses, the
    constant part of the flows and the limited branches' positions."""
    import linopy

    m = linopy.Model()
    net = d.grid.net
    unit = OBJECTIVE_UNIT_USD

    # ------------------------------------------------------------------ sites
    sites = pd.Index(d.campus.sites, name="site")
    techs = pd.Index(d.cooling.techs, name="tech")
    periods = pd.RangeIndex(d.horizon.n_years, name="period")
    snaps = pd.Index([str(h) for h in d.horizon.snapshots.index], name="snap")
    ns, nk, nt = len(sites), len(techs), len(periods)
    pairs = pd.MultiIndex.from_tuples(d.cooling.allowed) if d.cooling.allowed else None
    allowed = np.zeros((ns, nk), dtype=bool)
    if pairs is not None:
        allowed[
            sites.get_indexer(pairs.get_level_values(0)),
            techs.get_indexer(pairs.get_level_values(1)),
        ] = True
    allowed_da = xr.DataArray(allowed, coords=[sites, techs])
    max_it = d.campus.site["max_it_mw"].to_numpy(dtype=float)
    max_it_da = xr.DataArray(max_it, coords=[sites])
    earliest = d.campus.site["earliest_period"].to_numpy(dtype=int)
    after = np.arange(nt)[None, :] >= earliest[:, None]
    max_mod_site = np.floor(max_it / d.campus.module_mw + 1e-9)
    ub_build = np.where(
        after,
        np.minimum(np.asarray(d.campus.max_modules_per_period)[None, :], max_mod_site[:, None]),
        0,
    )
    ub_build_da = xr.DataArray(ub_build, coords=[sites, periods])

    open_ = m.add_variables(binary=True, coords=[sites], name="open")
    opens = m.add_variables(
        lower=0,
        upper=xr.DataArray(after.astype(float), coords=[sites, periods]),
        integer=True,
        name="opens",
    )
    tech = m.add_variables(binary=True, coords=[sites, techs], name="tech", mask=allowed_da)
    build = m.add_variables(lower=0, upper=ub_build_da, integer=True, name="build")
    capk_ub = xr.DataArray(
        np.broadcast_to(max_it[:, None, None], (ns, nk, nt)).copy(),
        coords=[sites, techs, periods],
    )
    capk = m.add_variables(
        lower=0, upper=capk_ub, name="capk", mask=allowed_da.broadcast_like(capk_ub)
    )
    cap = d.campus.module_mw * build.cumsum("period")

    m.add_constraints(opens.sum("period") - open_ == 0, name="open_once")
    m.add_constraints(build - ub_build_da * opens.cumsum("period") <= 0, name="build_after_open")
    m.add_constraints(tech.sum("tech") - open_ == 0, name="one_tech")
    m.add_constraints(capk.sum("tech") - cap == 0, name="split")
    m.add_constraints(capk - max_it_da * tech <= 0, name="tech_cap")
    m.add_constraints(cap - max_it_da * open_ <= 0, name="max_size")
    m.add_constraints(
        cap.isel(period=nt - 1) - d.campus.min_campus_mw * open_ >= 0, name="min_size"
    )
    targets = xr.DataArray(np.asarray(d.policy.targets_mw, dtype=float), coords=[periods])
    m.add_constraints(cap.sum("site") >= targets, name="target")

    # ------------------------------------------------------------------ power
    perf = d.cooling.perf.reindex(pd.MultiIndex.from_product([sites, techs])).fillna(0.0)
    pue_peak = perf["pue_peak"].to_numpy(dtype=float).reshape(ns, nk)
    pue_ann = perf["pue_annual"].to_numpy(dtype=float).reshape(ns, nk)
    peak = d.horizon.snapshots["peak"].to_numpy(dtype=bool)
    pue_h = np.where(
        peak[None, None, :], pue_peak[:, :, None], d.horizon.utilisation * pue_ann[:, :, None]
    )
    pue_h_da = xr.DataArray(pue_h, coords=[sites, techs, snaps])
    draw = (capk * pue_h_da).sum("tech")  # [site, period, snap] MW

    # ------------------------------------------------------------------ grid
    gens = pd.Index([str(g) for g in d.grid.gens.index], name="gen")
    gen_bus = d.grid.gens["bus_pos"].to_numpy(dtype=int)
    pmin = d.grid.gens["p_min_mw"].to_numpy(dtype=float)
    pmax = d.grid.gens["p_max_mw"].to_numpy(dtype=float)
    lo = np.where(peak[None, :], pmin[:, None], np.minimum(0.0, pmin)[:, None])
    p = m.add_variables(
        lower=xr.DataArray(lo, coords=[gens, snaps]).broadcast_like(
            xr.DataArray(np.zeros((len(gens), nt, len(snaps))), coords=[gens, periods, snaps])
        ),
        upper=xr.DataArray(pmax, coords=[gens]),
        coords=[gens, periods, snaps],
        name="p",
    )
    site_bus = net.bus_ids.get_indexer(d.campus.site["bus_id"].astype(str))
    active = np.union1d(gen_bus, site_bus).astype(int)
    buses = pd.Index(active, name="bus")
    inj = m.add_variables(coords=[buses, periods, snaps], name="inj")
    gen_inj = p.groupby(xr.DataArray(gen_bus, coords=[gens], name="bus")).sum()
    site_draw = draw.groupby(xr.DataArray(site_bus, coords=[sites], name="bus")).sum()
    gen_inj = gen_inj.reindex(bus=active)
    site_draw = site_draw.reindex(bus=active)
    m.add_constraints(inj - gen_inj + site_draw == 0, name="injection")

    island = np.asarray(net.island, dtype=int)
    lf = d.horizon.snapshots["load_factor"].to_numpy(dtype=float)
    load = d.grid.base_load_mw.to_numpy(dtype=float)  # [bus, period]
    shunt = np.asarray(d.grid.shunt_mw, dtype=float)
    demand_bus = lf[None, None, :] * load[:, :, None] + shunt[:, None, None]  # [bus, t, h]
    islands = np.unique(island)
    served = np.isin(islands, island[active])
    for i in islands[~served]:
        if abs(float(demand_bus[island == i].sum())) > 1e-9:
            raise ValueError(f"island {i} carries load but has no generator and no campus")
    isl = pd.Index(islands[served], name="island")
    demand_isl = np.stack([demand_bus[island == i].sum(axis=0) for i in isl])
    m.add_constraints(
        inj.groupby(xr.DataArray(island[active], coords=[buses], name="island")).sum()
        == xr.DataArray(demand_isl, coords=[isl, periods, snaps]),
        name="island_balance",
    )

    headroom = np.asarray(d.grid.headroom_mw, dtype=float)
    capped = np.unique(site_bus[np.isfinite(headroom[site_bus])])
    if len(capped):
        draw_peak = (capk * xr.DataArray(pue_peak, coords=[sites, techs])).sum("tech")
        at = xr.DataArray(site_bus, coords=[sites], name="hbus")
        hb = draw_peak.groupby(at).sum().reindex(hbus=capped)
        m.add_constraints(
            hb <= xr.DataArray(headroom[capped], coords=[pd.Index(capped, name="hbus")]),
            name="headroom",
        )

    limited = np.flatnonzero(np.isfinite(net.rating_mw)) if d.grid.line_limits else np.zeros(0, int)
    n_terms = 0
    ptdf_act = np.zeros((0, len(active)))
    const_flow = np.zeros((0, nt, len(snaps)))
    if len(limited):
        from siting.network import ptdf as ptdf_matrix

        full = ptdf_matrix(net)  # [branch, bus], each island's reference bus as slack
        ptdf_lim = full[limited]
        const_inj = -demand_bus - np.asarray(net.p_shift_bus_mw, dtype=float)[:, None, None]
        const_flow = (
            np.tensordot(ptdf_lim, const_inj, axes=(1, 0))
            + np.asarray(net.p_shift_branch_mw, dtype=float)[limited, None, None]
        )
        ptdf_act = ptdf_lim[:, active]
        ptdf_act = np.where(np.abs(ptdf_act) < PTDF_TOL, 0.0, ptdf_act)
        n_terms = int(np.count_nonzero(ptdf_act)) * nt * len(snaps)
        branches = pd.Index(limited, name="branch")
        rating = net.rating_mw[limited]
        flow = m.add_variables(
            lower=xr.DataArray(-rating, coords=[branches]),
            upper=xr.DataArray(rating, coords=[branches]),
            coords=[branches, periods, snaps],
            name="flow",
        )
        ptdf_da = xr.DataArray(ptdf_act, coords=[branches, buses])
        m.add_constraints(
            flow - (inj * ptdf_da).sum("bus")
            == xr.DataArray(const_flow, coords=[branches, periods, snaps]),
            name="ptdf_flow",
        )

    # cost lines of curved generators
    linear = np.array([d.grid.gen_costs[g].linear for g in gens])
    slope_lin = np.array(
        [
            float(d.grid.gen_costs[g].slopes_usd_per_mwh[0]) if d.grid.gen_costs[g].linear else 0.0
            for g in gens
        ]
    )
    hours = d.horizon.snapshots["hours"].to_numpy(dtype=float)
    hours = np.where(hours > 0, hours, 1.0)
    op_weight = np.asarray(d.horizon.op_weight, dtype=float)
    w_th = xr.DataArray(op_weight[:, None] * hours[None, :], coords=[periods, snaps])
    energy = (p * (xr.DataArray(slope_lin, coords=[gens]) * w_th / unit)).sum()
    curved = gens[~linear]
    if len(curved):
        n_lines = max(len(d.grid.gen_costs[g].slopes_usd_per_mwh) for g in curved)
        gc = pd.Index(curved, name="gen")
        lines = pd.RangeIndex(n_lines, name="line")
        slopes = np.zeros((len(gc), n_lines))
        icpt = np.zeros((len(gc), n_lines))
        has = np.zeros((len(gc), n_lines), dtype=bool)
        for j, g in enumerate(curved):
            c = d.grid.gen_costs[g]
            n = len(c.slopes_usd_per_mwh)
            slopes[j, :n] = c.slopes_usd_per_mwh
            icpt[j, :n] = c.intercepts_usd_per_h
            has[j, :n] = True
        gcost = m.add_variables(coords=[gc, periods, snaps], name="gcost")
        has_da = xr.DataArray(has, coords=[gc, lines])
        m.add_constraints(
            gcost - xr.DataArray(slopes, coords=[gc, lines]) * p.sel(gen=curved)
            >= xr.DataArray(icpt, coords=[gc, lines]),
            name="gcost_line",
            mask=has_da.broadcast_like(
                xr.DataArray(
                    np.zeros((len(gc), n_lines, nt, len(snaps))), coords=[gc, lines, periods, snaps]
                )
            ),
        )
        energy = energy + (gcost * (w_th / unit)).sum()

    # ------------------------------------------------------------------ objective
    df = xr.DataArray(np.asarray(d.horizon.capex_df, dtype=float), coords=[periods])
    land = xr.DataArray(d.campus.site["land_usd_per_mw"].to_numpy(dtype=float), coords=[sites])
    per_mw = d.campus.capex_usd_per_mw + d.campus.interconnection_usd_per_mw
    zoned = xr.DataArray((d.campus.site["zone_id"] != "").to_numpy(), coords=[sites])
    capex = (
        build
        * (
            df
            * d.campus.module_mw
            * (per_mw + land - d.campus.zone_bonus_usd_per_mw * zoned)
            / unit
        )
    ).sum()
    cc = xr.DataArray(
        np.array([float(d.cooling.capex_usd_per_mw.get(k, 0.0)) for k in techs]), coords=[techs]
    )
    df_np = np.asarray(d.horizon.capex_df, dtype=float)
    df_step = xr.DataArray(df_np - np.append(df_np[1:], 0.0), coords=[periods])
    cooling = (capk * (cc * df_step / unit)).sum()
    fixed = xr.DataArray(
        (d.campus.site["fixed_cost_usd"] + d.campus.site["interconnect_usd"]).to_numpy(dtype=float),
        coords=[sites],
    )
    site_fixed = (opens * (fixed * df / unit)).sum()
    m.add_objective(capex + cooling + site_fixed + energy)
    return m, n_terms, ptdf_act, const_flow, limited


def _labels(var) -> np.ndarray:
    return np.asarray(var.labels.values)


def solve_baseline(
    b: Baseline, *, mip_gap: float = 0.005, threads: int = 2, time_limit_s: float = 600.0
) -> BaselineResult:
    """Hand the model to HiGHS (``linopy.io.to_highspy``), solve, read back, verify.

    Parameters
    ----------
    b
        The built model.
    mip_gap
        Relative MIP gap [fraction].
    threads
        HiGHS threads.
    time_limit_s
        Wall-clock limit [s].
    """
    import highspy
    from linopy.io import to_highspy

    m, d = b.model, b.d
    t0 = time.perf_counter()
    h = to_highspy(m)
    h.changeObjectiveOffset(b.offset_musd)
    for k, v in {
        "mip_rel_gap": float(mip_gap),
        "threads": int(threads),
        "time_limit": float(time_limit_s),
        "random_seed": 0,
        "output_flag": False,
    }.items():
        h.setOptionValue(k, v)
    vlabels = np.asarray(m.matrices.vlabels)
    # HiGHS sizes one task scheduler per process at its first solve; another thread count
    # later fails ("Not Set"). Reset it around this solve (siting.solve.highs does the same).
    highspy.Highs.resetGlobalScheduler(True)
    t1 = time.perf_counter()
    h.run()
    t2 = time.perf_counter()
    highspy.Highs.resetGlobalScheduler(True)
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    has = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.full(int(vlabels.max()) + 1 if len(vlabels) else 0, np.nan)
    if has:
        x[vlabels] = np.asarray(h.getSolution().col_value)

    def val(name: str) -> np.ndarray:
        lab = _labels(m.variables[name])
        out = np.where(lab >= 0, x[np.maximum(lab, 0)], 0.0)
        return np.nan_to_num(out)

    obj = float(info.objective_function_value) * OBJECTIVE_UNIT_USD if has else None
    bound = float(info.mip_dual_bound) if m.integers or m.binaries else None
    bound = bound * OBJECTIVE_UNIT_USD if bound is not None and math.isfinite(bound) else None
    if bound is None and has and not (m.integers or m.binaries):
        bound = obj
    build = val("build")
    cap = d.campus.module_mw * np.cumsum(build, axis=1)
    cap_df = pd.DataFrame(
        cap, index=pd.Index(d.campus.sites, name="site_id"), columns=d.horizon.years
    )
    cap_df = cap_df[cap_df.iloc[:, -1] > 1e-6].round(6)
    t3 = time.perf_counter()
    checks = _verify(b, val) if has else {}
    t4 = time.perf_counter()
    lp = h.getLp()
    integers = int(sum(1 for v in lp.integrality_ if v != highspy.HighsVarType.kContinuous))
    gap = abs(obj - bound) / max(abs(obj), 1.0) if obj is not None and bound is not None else None
    return BaselineResult(
        status=status,
        objective_usd=obj,
        bound_usd=bound,
        gap=gap,
        rows=int(h.getNumRow()),
        columns=int(h.getNumCol()),
        nonzeros=int(h.getNumNz()),
        integers=integers,
        timings={
            "handover_s": t1 - t0,
            "highs_s": t2 - t1,
            "readback_s": t3 - t2,
            "verify_s": t4 - t3,
        },
        cap_mw=cap_df,
        checks=checks,
    )


def _verify(b: Baseline, val) -> dict[str, float]:
    """Independent checks of a solution with numpy (see :class:`BaselineResult`)."""
    d = b.d
    cap = d.campus.module_mw * np.cumsum(val("build"), axis=1)
    short = float(
        np.max(np.asarray(d.policy.targets_mw, dtype=float) - cap.sum(axis=0), initial=0.0)
    )
    p = val("p")  # [gen, t, h]
    capk = val("capk")  # [site, k, t]
    sites = pd.Index(d.campus.sites)
    techs = pd.Index(d.cooling.techs)
    perf = d.cooling.perf.reindex(pd.MultiIndex.from_product([sites, techs])).fillna(0.0)
    ns, nk = len(sites), len(techs)
    peak = d.horizon.snapshots["peak"].to_numpy(dtype=bool)
    pue_h = np.where(
        peak[None, None, :],
        perf["pue_peak"].to_numpy(dtype=float).reshape(ns, nk)[:, :, None],
        d.horizon.utilisation
        * perf["pue_annual"].to_numpy(dtype=float).reshape(ns, nk)[:, :, None],
    )
    draw = np.einsum("skt,skh->sth", capk, pue_h)
    net = d.grid.net
    nb = len(net.bus_ids)
    inj = np.zeros((nb,) + draw.shape[1:])
    np.add.at(inj, d.grid.gens["bus_pos"].to_numpy(dtype=int), p)
    np.add.at(inj, net.bus_ids.get_indexer(d.campus.site["bus_id"].astype(str)), -draw)
    lf = d.horizon.snapshots["load_factor"].to_numpy(dtype=float)
    demand = (
        lf[None, None, :] * d.grid.base_load_mw.to_numpy(dtype=float)[:, :, None]
        + np.asarray(d.grid.shunt_mw, dtype=float)[:, None, None]
    )
    island = np.asarray(net.island, dtype=int)
    bal = max(
        (float(np.abs((inj - demand)[island == i].sum(axis=0)).max()) for i in np.unique(island)),
        default=0.0,
    )
    over = 0.0
    if len(b.limited):
        from siting.network import ptdf as ptdf_matrix

        full = ptdf_matrix(net)[b.limited]
        shift = np.asarray(net.p_shift_bus_mw, dtype=float)[:, None, None]
        f = (
            np.tensordot(full, inj - demand - shift, axes=(1, 0))
            + np.asarray(net.p_shift_branch_mw, dtype=float)[b.limited, None, None]
        )
        rating = net.rating_mw[b.limited][:, None, None]
        over = float(np.max(np.abs(f) - rating * (1 + 1e-6), initial=0.0))
    return {"target_short_mw": short, "overload_mw": over, "balance_mw": bal}


def run(
    scenario: Any,
    *,
    mip_gap: float | None = None,
    threads: int | None = None,
    time_limit_s: float | None = None,
) -> tuple[Baseline, BaselineResult, dict[str, float]]:
    """Prepare ``scenario`` with siting, build the baseline, solve it.

    Returns the model, the result and the preparation's timings [s] (siting's
    ``prepare``: layers, candidates, network, grid baseline LP).
    """
    from siting.pipeline import prepare

    prep = prepare(scenario, screen=False)  # the baseline sees every candidate
    sc = prep.scenario
    b = build_baseline(prep.data, prep.baseline_usd)
    r = solve_baseline(
        b,
        mip_gap=sc.solver.mip_gap if mip_gap is None else mip_gap,
        threads=sc.solver.threads if threads is None else threads,
        time_limit_s=sc.solver.time_limit_s if time_limit_s is None else time_limit_s,
    )
    return b, r, dict(prep.timings)
