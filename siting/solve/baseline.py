"""The grid's own dispatch without campuses (the grid baseline), straight as a HiGHS model.

Every plan is costed against the grid's own dispatch: ``baseline_usd`` (the objective's
constant, :mod:`siting.model.objective`) and ``baseline_co2_t`` (:mod:`siting.model.metrics`)
come from the model of :mod:`siting.model.grid` with no campus in it. That model is the
grid family alone, so it is built here with numpy and handed to highspy in one ``addVars``
and one ``addRows``, without Pyomo (on national-TX the Pyomo model of it took 0.5 s to
build and 0.4 s to hand over and check, beside 2.1 s of HiGHS). It needs no Pyomo and
little Python, so :class:`siting.pipeline.GridBaseline` can solve it in a worker thread
while the campus model is built (Pyomo's HiGHS interface redirects the process's output
while it solves, which rules it out beside other work).

HiGHS gets the model the Pyomo one hands it (:mod:`siting.solve.handover`), array for
array: the columns in the order in which the Pyomo model's rows first name them, the
rows in the model's order, the same coefficients, bounds and products (in Pyomo's order
of evaluation), then the same lazy rows in the same rounds; so it finds the same
dispatch, and the figures, summed in Pyomo's order, are the same to the last bit
(tested on the demo, case300 and ACTIVSg2000, with and without N-1). (Soft targets and an
export market put their columns, all 0 without campuses, in the Pyomo model's target rows;
with them the figures came out equal too, on ``models/demo_flex.yaml``,
``demo_onsite.yaml`` and ``saudi_compute.yaml``.) The model (PTDF form;
sets as in :mod:`siting.model.grid`: generators ``G``, periods ``T``, snapshots ``H``,
islands ``I``, branch and substation upgrade options ``BU``, ``SU``), in million USD:

``min  sum_{t,h} ow_t w_h (sum_{g linear} c_g p[g,t,h] + sum_{g curved} gcost[g,t,h]) / 1e6
+ sum_{o in BU, SU; t} df_t cost_o up[o,t] / 1e6``

- ``p_lo[g,h] <= p[g,t,h] <= p_max[g]`` (``p_lo = p_min`` in a peak snapshot, else
  ``min(0, p_min)``); ``up[o,t]`` binary, 0 before the option's first period;
- island balance: ``sum_{g in i} p[g,t,h] = sum_{b in i} (lf_h load[b,t] + shunt_b)``
  for each island with a generator;
- upgrades at most once: ``sum_t up[o,t] <= 1``;
- cost lines: ``s_{g,j} p[g,t,h] - gcost[g,t,h] <= -a_{g,j}`` (``gcost >= a + s p``) for
  each line ``j`` of a curved cost;
- the policy family's national targets, with no column here: ``0 <= 0 <= inf``;
- line limits, added lazily for the (branch, period, snapshot) a solution violates
  (as :mod:`siting.solve.lazy`): ``+-(sum_g PTDF[l, bus_g] p[g,t,h] + k_{l,t,h})
  - added_l sum_{u <= t} up[l,u] <= rating_l`` with ``k`` the flow of the fixed injections
  (``PTDF[l] (-(lf_h load[:,t] + shunt) - Pbusinj) + Pfinj_l``) and PTDF entries at or
  below :data:`siting.model.grid.PTDF_DROP` left out;
- N-1 (``grid.n_minus_1``), lazily too: ``+-(f_l + LODF[l,k] f_k) - added_l sum_{u <= t}
  up[l,u] <= emergency_l`` for the outages :func:`siting.model.data.checked_outages`
  names, at most :data:`siting.solve.lazy.N1_PER_ROUND` per (l, t, h) a round.

Rounds as :func:`siting.solve.lazy.solve_lazy`'s: on the LP relaxation (``up`` continuous)
until no limit is violated, then on the MIP (from a cleared solver, each later round
offered the last one's upgrade decisions); gap 0. ``ow_t`` is the period's discounted
years of operation, ``w_h`` the snapshot's hours (a 0-hour peak snapshot weighs 1 h),
``df_t`` the capital discount factor. The answer:

- ``usd = sum_{t,h} ow_t w_h (sum_{g linear} c_g p + sum_{g curved} gcost)`` [USD];
- ``co2_t = sum_t period_years_t sum_{h: hours_h > 0} hours_h sum_g co2_g p[g,t,h]``
  [t CO2].

The angle form (small grids) and a grid with load in an island without a generator are
not built here (:func:`covered`): the caller uses the Pyomo model, whose elastic form
also explains a grid that cannot serve its own load, here as there (any answer here
without an optimal dispatch).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from siting.core.clock import Clock

if TYPE_CHECKING:
    from siting.model.data import ModelData

#: The time limit of each HiGHS run of the baseline, before the run's deadline caps it
#: (the Pyomo baseline's) [s].
TIME_LIMIT_S = 600.0

#: Most rounds per phase (LP relaxation, MIP), as :func:`siting.solve.lazy.solve_lazy`.
MAX_ROUNDS = 100


@dataclass
class BaselineAnswer:
    """What :func:`solve_baseline` found.

    Attributes
    ----------
    status
        ``optimal``; ``infeasible`` (HiGHS, or a violated limit no dispatch can change);
        ``no_solution`` (the time limit, ``termination`` ``maxTimeLimit``); ``stopped``
        (:func:`solve_baseline`'s ``stop`` was set); ``error`` (anything else).
    usd
        Present value of the dispatch cost [USD] (``optimal`` only).
    co2_t
        Emissions over the planning horizon [t CO2] (``optimal`` only).
    termination
        HiGHS's model status of the last run, or why the rounds stopped.
    lp_rounds, mip_rounds
        HiGHS runs on the LP relaxation and on the MIP.
    limits_added, n1_added
        Line limits and N-1 limits added (each two rows).
    highs_s
        Time in HiGHS's ``run`` [s].
    """

    status: str
    usd: float | None = None
    co2_t: float | None = None
    termination: str = ""
    lp_rounds: int = 0
    mip_rounds: int = 0
    limits_added: int = 0
    n1_added: int = 0
    highs_s: float = 0.0
    notes: list[str] = field(default_factory=list)


def covered(d: ModelData) -> str:
    """Why :func:`solve_baseline` does not build the grid baseline of ``d`` ("" when it
    does): it builds the PTDF form of an enabled grid whose every island with load has a
    generator."""
    if not d.grid.enabled or d.grid.net is None:
        return "no grid modelled"
    if d.grid.formulation != "ptdf":
        return f"the {d.grid.formulation} form"
    net = d.grid.net
    gen_bus = d.grid.gens["bus_pos"].to_numpy(dtype=np.int64)
    island = np.asarray(net.island)
    fed = set(island[gen_bus].tolist())
    load = d.grid.base_load_mw.to_numpy(dtype=float)
    lf = d.horizon.snapshots["load_factor"].to_numpy(dtype=float)
    shunt = np.asarray(d.grid.shunt_mw, dtype=float)
    for i in sorted(set(island.tolist()) - fed):
        members = island == i
        for t in range(d.horizon.n_years):
            for f in lf:
                if abs(float(np.sum(f * load[members, t] + shunt[members]))) > 1e-9:
                    return f"island {i} has load and no generator"
    return ""


class _Lp:
    """The baseline's columns, rows and lazy books (see the module docstring)."""

    def __init__(self, d: ModelData):
        from siting.model.grid import PTDF_DROP, ptdf_of

        g = d.grid
        net = g.network
        self.d = d
        self.drop = PTDF_DROP
        self.gens = list(g.gens.index)
        self.ng = len(self.gens)
        self.gen_bus = g.gens["bus_pos"].to_numpy(dtype=np.int64)
        self.nb = len(net.bus_ids)
        snaps = d.horizon.snapshots
        self.snaps = [str(h) for h in snaps.index]
        self.nt, self.nh = d.horizon.n_years, len(self.snaps)
        self.peak = snaps["peak"].to_numpy(dtype=bool)
        self.lf = snaps["load_factor"].to_numpy(dtype=float)
        hours = snaps["hours"].to_numpy(dtype=float)
        self.hours = hours
        self.w = np.where(hours > 0, hours, 1.0)  # (a 0-hour peak snapshot weighs 1 h)
        self.ow = np.asarray(d.horizon.op_weight, dtype=float)
        self.load = g.base_load_mw.to_numpy(dtype=float)
        self.shunt = np.asarray(g.shunt_mw, dtype=float)
        self.ptdf = ptdf_of(net)
        self.pfinj = np.asarray(net.p_shift_branch_mw, dtype=float)
        self.pbus = np.asarray(net.p_shift_bus_mw, dtype=float)
        self.rating = np.asarray(net.rating_mw, dtype=float)
        # the columns in the order in which the Pyomo model's rows first name them (so that
        # HiGHS gets the same model: :func:`siting.solve.handover.add_block_fast`): the
        # island balances (p by island, period, snapshot, then bus), the upgrades' "at most
        # once" rows (branch, then substation options, by period), the cost lines (gcost
        # by generator, period, snapshot)
        island = np.asarray(net.island)
        self.island = island
        self.islands = sorted(set(island.tolist()))
        by_bus = np.argsort(self.gen_bus, kind="stable")  # gens_at: by bus, in table order
        self.pool = by_bus  # (a line limit's columns: the PTDF form's pool order)
        self.p_index = np.zeros((self.nt, self.nh, self.ng), dtype=np.int64)
        col = 0
        g_island = island[self.gen_bus]
        for i in self.islands:
            gi = by_bus[g_island[by_bus] == i]
            for t in range(self.nt):
                for j in range(self.nh):
                    self.p_index[t, j, gi] = np.arange(col, col + len(gi))
                    col += len(gi)
        bu, su = g.branch_upgrades, g.bus_upgrades
        self.bu_branch = np.array([int(i) for i in bu.index], dtype=np.int64)
        self.bu_added = bu["added_mw"].to_numpy(dtype=float)
        self.bu_cost = bu["cost_usd"].to_numpy(dtype=float)
        self.bu_first = bu["first_period"].to_numpy(dtype=np.int64)
        self.option_of = {int(b): j for j, b in enumerate(self.bu_branch)}
        self.up_index = col + np.arange(len(bu) * self.nt, dtype=np.int64).reshape(len(bu), self.nt)
        col += len(bu) * self.nt
        self.su_cost = su["cost_usd"].to_numpy(dtype=float)
        self.su_first = su["first_period"].to_numpy(dtype=np.int64)
        self.upbus_index = col + np.arange(len(su) * self.nt, dtype=np.int64).reshape(
            len(su), self.nt
        )
        col += len(su) * self.nt
        curved = [k for k, gid in enumerate(self.gens) if not g.gen_costs[gid].linear]
        self.curved = np.array(curved, dtype=np.int64)
        self.nc = len(curved)
        self.gc_index = col + np.arange(self.nc * self.nt * self.nh, dtype=np.int64).reshape(
            self.nc, self.nt, self.nh
        )
        col += self.nc * self.nt * self.nh
        self.ncol = col
        # the flows of the fixed injections, per (t, h): (n_branch,)
        self.const_inj = {
            (t, j): -(self.lf[j] * self.load[:, t] + self.shunt) - self.pbus
            for t in range(self.nt)
            for j in range(self.nh)
        }
        self.monitored: set[tuple[int, int, int]] = set()
        self.n1_monitored: set[tuple[int, int, int, int]] = set()
        self.n1_seen: set[int] = set()
        self.lodf: np.ndarray | None = None
        self.impossible: list[str] = []

    # -- columns ---------------------------------------------------------------------------

    def int_cols(self) -> np.ndarray:
        """Every upgrade column (branch, then substation options)."""
        return np.concatenate([self.up_index.ravel(), self.upbus_index.ravel()]).astype(np.int32)

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cost [million USD per unit], lower, upper) of every column."""
        g = self.d.grid
        pmin = g.gens["p_min_mw"].to_numpy(dtype=float)
        pmax = g.gens["p_max_mw"].to_numpy(dtype=float)
        slope = self.slopes()
        cost = np.zeros(self.ncol)
        lo = np.zeros(self.ncol)
        hi = np.zeros(self.ncol)
        for t in range(self.nt):
            for j in range(self.nh):
                cols = self.p_index[t, j]
                # (the products in Pyomo's order, so that HiGHS gets the same numbers)
                unit = (self.ow[t] * self.w[j]) * 1e-6
                cost[cols] = slope * unit
                lo[cols] = pmin if self.peak[j] else np.minimum(0.0, pmin)
                hi[cols] = pmax
                gc = self.gc_index[:, t, j]
                cost[gc] = unit
                lo[gc] = -np.inf
                hi[gc] = np.inf
        df = np.asarray(self.d.horizon.capex_df, dtype=float)
        for index, price, first in (
            (self.up_index, self.bu_cost, self.bu_first),
            (self.upbus_index, self.su_cost, self.su_first),
        ):
            for o in range(len(index)):
                for t in range(self.nt):
                    cost[index[o, t]] = (df[t] * price[o]) * 1e-6
                    hi[index[o, t]] = 0.0 if t < first[o] else 1.0
        return cost, lo, hi

    def slopes(self) -> np.ndarray:
        """Each generator's cost slope when its cost is linear, else 0 [USD/MWh]."""
        g = self.d.grid
        return np.array(
            [
                float(g.gen_costs[gid].slopes_usd_per_mwh[0]) if g.gen_costs[gid].linear else 0.0
                for gid in self.gens
            ]
        )

    # -- rows ------------------------------------------------------------------------------

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The model's rows before any line limit, in the Pyomo model's order: (lower,
        upper, starts, columns, coefficients), row-wise."""
        lo: list[float] = []
        hi: list[float] = []
        starts: list[int] = []
        idx: list[np.ndarray] = []
        val: list[np.ndarray] = []
        n = 0

        def row(cols: np.ndarray, coefs: np.ndarray, lb: float, ub: float) -> None:
            nonlocal n
            starts.append(n)
            idx.append(cols.astype(np.int32))
            val.append(coefs.astype(float))
            lo.append(lb)
            hi.append(ub)
            n += len(cols)

        g_island = self.island[self.gen_bus]
        for i in self.islands:
            gi = self.pool[g_island[self.pool] == i]
            if not len(gi):
                continue  # (no load either: covered() checked)
            members = self.island == i
            for t in range(self.nt):
                for j in range(self.nh):
                    demand = float(
                        sum(
                            self.lf[j] * self.load[b, t] + self.shunt[b]
                            for b in np.flatnonzero(members)
                        )
                    )
                    row(self.p_index[t, j, gi], np.ones(len(gi)), demand, demand)
        for index in (self.up_index, self.upbus_index):
            for o in range(len(index)):
                row(index[o], np.ones(self.nt), -np.inf, 1.0)
        costs = self.d.grid.gen_costs
        # gcost >= a + s p, as Pyomo hands it over: s p - gcost <= -a
        for ci, k in enumerate(self.curved):
            gc = costs[self.gens[k]]
            for s, a in zip(gc.slopes_usd_per_mwh, gc.intercepts_usd_per_h, strict=True):
                for t in range(self.nt):
                    for j in range(self.nh):
                        row(
                            np.array([self.p_index[t, j, k], self.gc_index[ci, t, j]]),
                            np.array([float(s), -1.0]),
                            -np.inf,
                            -float(a),
                        )
        # the policy family's national targets, 0 and without a column here
        for _t in range(self.nt):
            row(np.zeros(0, dtype=np.int64), np.zeros(0), 0.0, np.inf)
        return (
            np.array(lo),
            np.array(hi),
            np.array(starts, dtype=np.int32),
            np.concatenate(idx) if idx else np.zeros(0, dtype=np.int32),
            np.concatenate(val) if val else np.zeros(0),
        )

    def flow_parts(self, br: int, t: int, j: int) -> tuple[float, np.ndarray]:
        """The flow of branch ``br`` in (t, h_j) as ``const + coefs @ p[:, t, h_j]`` [MW]
        (coefs by generator; entries at or below the drop threshold zeroed)."""
        row = self.ptdf[br]
        const = float(row @ self.const_inj[t, j]) + float(self.pfinj[br])
        g = row[self.gen_bus].copy()
        g[np.abs(g) <= self.drop] = 0.0
        return const, g

    def flows(self, x: np.ndarray) -> np.ndarray:
        """Branch flows [MW] of the solution ``x``, shape (n_branch, T, H)."""
        inj = np.empty((self.nb, self.nt * self.nh))
        for t in range(self.nt):
            for j in range(self.nh):
                inj[:, t * self.nh + j] = self.const_inj[t, j] + np.bincount(
                    self.gen_bus, x[self.p_index[t, j]], minlength=self.nb
                )
        f = self.ptdf @ inj + self.pfinj[:, None]
        return f.reshape(len(self.pfinj), self.nt, self.nh)

    def added(self, x: np.ndarray) -> np.ndarray:
        """Rating added by the upgrades in service, per branch and period [MW]."""
        out = np.zeros((len(self.rating), self.nt))
        for o, br in enumerate(self.bu_branch):
            out[br] = self.bu_added[o] * np.cumsum(x[self.up_index[o]])
        return out

    def limit_rows(
        self, br: int, t: int, j: int, const: float, coefs: np.ndarray, rhs: float, what: str
    ) -> list[tuple[np.ndarray, np.ndarray, float]] | None:
        """The two rows ``+-(coefs @ p + const) - added sum up <= rhs``; None (and the limit
        recorded as impossible) when no column is in them and the flow breaks ``rhs``."""
        keep = self.pool[np.abs(coefs[self.pool]) > self.drop]  # (in the pool's order)
        cols = self.p_index[t, j, keep]
        o = self.option_of.get(br)
        if not len(keep) and o is None:
            self.impossible.append(
                f"{what}: {abs(const):,.1f} MW whatever the dispatch, above its {rhs:,.1f} MW"
            )
            return None
        ucols = self.up_index[o, : t + 1] if o is not None else np.zeros(0, dtype=np.int64)
        uval = np.full(len(ucols), -float(self.bu_added[o]) if o is not None else 0.0)
        out = []
        for sign in (1.0, -1.0):
            out.append(
                (
                    np.concatenate([cols, ucols]).astype(np.int32),
                    np.concatenate([sign * coefs[keep], uval]),
                    rhs - sign * const,
                )
            )
        return out

    def violated(self, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """The rows of the limits ``x`` violates that the model does not hold yet (line
        limits, then N-1), as :mod:`siting.solve.lazy` finds them."""
        from siting.solve.lazy import N1_PER_ROUND, TOL_ABS_MW, TOL_REL

        d = self.d
        if not d.grid.line_limits:
            return []
        f = self.flows(x)
        added = self.added(x)
        rows: list[tuple[np.ndarray, np.ndarray, float]] = []
        ids = d.grid.network.branch_ids
        for t in range(self.nt):
            lim = (self.rating + added[:, t]) * (1 + TOL_REL) + TOL_ABS_MW
            for j in range(self.nh):
                for b in np.flatnonzero(np.abs(f[:, t, j]) > lim):
                    br = int(b)
                    if (br, t, j) in self.monitored:
                        continue
                    const, coefs = self.flow_parts(br, t, j)
                    what = f"branch {ids[br]}, year {d.horizon.years[t]}, snapshot {self.snaps[j]}"
                    got = self.limit_rows(br, t, j, const, coefs, float(self.rating[br]), what)
                    if got is not None:
                        rows.extend(got)
                        self.monitored.add((br, t, j))
        if d.grid.n1 is not None:
            rows.extend(self._n1_rows(f, added, N1_PER_ROUND, TOL_REL, TOL_ABS_MW))
        return rows

    def _n1_rows(
        self, f: np.ndarray, added: np.ndarray, per_round: int, rel: float, abs_mw: float
    ) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """The rows of the post-contingency limits the flows ``f`` violate."""
        from siting.model.data import checked_outages
        from siting.model.grid import lodf_of
        from siting.network import post_outage_flows

        d = self.d
        n1 = d.grid.n1
        assert n1 is not None
        by_key = {(t, self.snaps[j]): f[:, t, j] for t in range(self.nt) for j in range(self.nh)}
        ks = checked_outages(d, by_key, self.n1_seen)
        if not len(ks):
            return []
        if self.lodf is None:
            self.lodf = lodf_of(d.grid.network)
        lodf = self.lodf
        em = np.asarray(d.grid.rating_emergency_mw, dtype=float)
        ids = d.grid.network.branch_ids
        rows: list[tuple[np.ndarray, np.ndarray, float]] = []
        for t in range(self.nt):
            for j in range(self.nh):
                if not n1.checks(t, self.snaps[j]):
                    continue
                post = post_outage_flows(f[:, t, j], lodf, ks)
                lim = (em + added[:, t]) * (1 + rel) + abs_mw
                excess = np.abs(post) - lim[:, None]
                for br in np.flatnonzero((excess > 0).any(axis=1)):
                    for jj in np.argsort(-excess[br])[:per_round]:
                        k = int(ks[jj])
                        key = (int(br), k, t, j)
                        if not excess[br, jj] > 0 or key in self.n1_monitored:
                            continue
                        c1, v1 = self.flow_parts(int(br), t, j)
                        c2, v2 = self.flow_parts(k, t, j)
                        lk = float(lodf[br, k])
                        what = (
                            f"branch {ids[int(br)]} after an outage of branch {ids[k]}, year "
                            f"{d.horizon.years[t]}, snapshot {self.snaps[j]}"
                        )
                        got = self.limit_rows(
                            int(br), t, j, c1 + lk * c2, v1 + lk * v2, float(em[br]), what
                        )
                        if got is not None:
                            rows.extend(got)
                            self.n1_monitored.add(key)
        return rows

    def answer(self, x: np.ndarray) -> tuple[float, float]:
        """(usd, co2_t) of the solution ``x`` (see the module docstring), summed term by
        term in the order in which Pyomo evaluates ``energy_cost_npv`` and ``co2_t`` on the
        Pyomo model (:mod:`siting.model.grid`, :mod:`siting.model.metrics`), so that the
        same solution gives the same figures to the last bit."""
        g = self.d.grid
        pos = {gid: k for k, gid in enumerate(self.gens)}
        linear = [
            (pos[gid], float(c.slopes_usd_per_mwh[0])) for gid, c in g.gen_costs.items() if c.linear
        ]
        co2 = g.gens["co2_t_per_mwh"].astype(float).to_dict() if "co2_t_per_mwh" in g.gens else {}
        emitting = [(pos[gid], float(v)) for gid, v in co2.items() if v > 0]
        years = [float(v) for v in self.d.horizon.period_years]
        energy: list[float] = []
        co2_by_t: list[float] = []
        for t in range(self.nt):
            co2_terms: list[float] = []
            for j in range(self.nh):
                p = x[self.p_index[t, j]].tolist()
                lin = [c * p[k] for k, c in linear]
                cur = x[self.gc_index[:, t, j]].tolist()
                per_h = _sum(lin + cur)
                energy.append(float(self.ow[t]) * float(self.w[j]) * per_h)
                if self.hours[j] > 0:
                    hrs = float(self.hours[j])
                    co2_terms.extend((hrs * c) * p[k] for k, c in emitting)
            co2_by_t.append(_sum(co2_terms))
        return _sum(energy), _sum([years[t] * co2_by_t[t] for t in range(self.nt)])


def _sum(values: list[float]) -> float:
    """Left to right, as Pyomo sums an expression's terms (0.0 for none)."""
    if not values:
        return 0.0
    return float(sum(values[1:], start=values[0]))


def _passed(h: Any, lp: _Lp) -> None:
    """Hand the baseline's columns and first rows to the HiGHS instance ``h``."""
    cost, lo, hi = lp.columns()
    rlo, rhi, starts, idx, val = lp.rows()
    h.addVars(lp.ncol, lo, hi)
    h.changeColsCost(lp.ncol, np.arange(lp.ncol, dtype=np.int32), cost)
    if len(rlo):
        h.addRows(len(rlo), rlo, rhi, len(idx), starts, idx, val)


def _add(h: Any, rows: list[tuple[np.ndarray, np.ndarray, float]]) -> None:
    """Add ``rows`` (columns, coefficients, upper bound; no lower bound) to ``h``."""
    starts = np.cumsum([0] + [len(c) for c, _, _ in rows[:-1]]).astype(np.int32)
    idx = np.concatenate([c for c, _, _ in rows]).astype(np.int32)
    val = np.concatenate([v for _, v, _ in rows]).astype(float)
    ub = np.array([u for _, _, u in rows])
    h.addRows(len(rows), np.full(len(rows), -np.inf), ub, len(idx), starts, idx, val)


def _integrality(h: Any, lp: _Lp, integer: bool) -> None:
    """Make the ``up`` columns integer (the MIP) or continuous (its LP relaxation)."""
    import highspy

    cols = lp.int_cols()
    if len(cols):
        kind = highspy.HighsVarType.kInteger if integer else highspy.HighsVarType.kContinuous
        h.changeColsIntegrality(len(cols), cols, np.array([kind] * len(cols)))


def new_highs() -> Any:
    """A silent HiGHS instance. HiGHS prints its banner on the first instance a process
    makes, whatever its options: the first is made with Pyomo's capture of the process's
    output, so that the banner goes nowhere (as Pyomo's own instances hide it). Call it
    from the main thread (the capture redirects the process's standard streams)."""
    import highspy
    from pyomo.common.tee import capture_output

    with capture_output(capture_fd=True):
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


def solve_baseline(
    d: ModelData,
    threads: int,
    clock: Clock | None = None,
    *,
    highs: Any = None,
    stop: threading.Event | None = None,
    solving: threading.Event | None = None,
) -> BaselineAnswer:
    """Solve the grid baseline of ``d`` (the module docstring's model; ``d`` holds no
    campus, as :func:`siting.pipeline.grid_baseline` makes it) with HiGHS.

    Parameters
    ----------
    d
        The model data without campuses; :func:`covered` must accept it.
    threads
        HiGHS's threads (the process's scheduler must be sized for them:
        :func:`siting.solve.highs.use_threads`).
    clock
        The run's clock: each run gets the time left before its deadline (at most
        :data:`TIME_LIMIT_S`), and no round starts after it. Only read here (this may run
        in a worker thread).
    highs
        The HiGHS instance to use (:func:`new_highs`; made here when None).
    stop
        Set by another thread to end the rounds (checked before each HiGHS run; a run
        under way is not cut short).
    solving
        Set here as each HiGHS run starts (another thread may wait for the first:
        :meth:`siting.pipeline.GridBaseline.head_start`).

    Returns
    -------
    BaselineAnswer
    """
    import highspy

    lp = _Lp(d)
    h = highs if highs is not None else new_highs()
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("mip_rel_gap", 0.0)
    _passed(h, lp)
    ans = BaselineAnswer(status="error")
    has_int = bool(len(lp.int_cols()))
    phases = ["LP", "MIP"] if has_int else ["LP"]
    status = highspy.HighsModelStatus
    for phase in phases:
        mip = phase == "MIP"
        if has_int:
            _integrality(h, lp, mip)
        if mip:
            # HiGHS would take the LP's solution for a MIP start and spend a sub-MIP on
            # completing it (3 s on national-TX); Pyomo's path changes the columns' bounds
            # back, which drops that solution, as this does
            h.clearSolver()
        for _ in range(MAX_ROUNDS):
            if stop is not None and stop.is_set():
                ans.status, ans.termination = "stopped", "stopped"
                return ans
            limit = TIME_LIMIT_S if clock is None else clock.solver_time_s(TIME_LIMIT_S)
            if limit <= 0.0:
                ans.status, ans.termination = "no_solution", "maxTimeLimit"
                return ans
            if not mip:  # HiGHS counts an LP's time limit against its run clock (highs.py)
                limit += float(h.getRunTime())
            h.setOptionValue("time_limit", limit)
            t0 = time.perf_counter()
            if solving is not None:
                solving.set()
            run = h.run()
            ans.highs_s += time.perf_counter() - t0
            if mip:
                ans.mip_rounds += 1
            else:
                ans.lp_rounds += 1
            ms = h.getModelStatus()
            ans.termination = h.modelStatusToString(ms)
            solved = ms == status.kOptimal or (
                ms == status.kTimeLimit and h.getInfo().primal_solution_status == 2
            )
            if not solved:
                if ms == status.kTimeLimit:
                    ans.status, ans.termination = "no_solution", "maxTimeLimit"
                elif ms == status.kInfeasible:
                    ans.status = "infeasible"
                elif run == highspy.HighsStatus.kError:
                    ans.termination = f"HiGHS refused to run ({ans.termination})"
                return ans
            x = np.asarray(h.getSolution().col_value, dtype=float)
            n_lim, n_n1 = len(lp.monitored), len(lp.n1_monitored)
            rows = lp.violated(x)
            if lp.impossible:
                ans.status, ans.termination = "infeasible", "a line limit no dispatch can meet"
                ans.notes = lp.impossible[:10]
                return ans
            ans.limits_added += len(lp.monitored) - n_lim
            ans.n1_added += len(lp.n1_monitored) - n_n1
            if not rows:
                if ms == status.kTimeLimit:  # (a plan, not proven optimal: as Pyomo's path)
                    ans.termination = "maxTimeLimit"
                if mip or not has_int:
                    ans.status = "optimal"
                    ans.usd, ans.co2_t = lp.answer(x)
                    return ans
                break  # the LP relaxation holds every limit: on to the MIP
            if clock is not None and clock.expired():
                ans.status, ans.termination = "no_solution", "maxTimeLimit"
                return ans
            _add(h, rows)
            if mip:  # the round's upgrade decisions offered to the next, as the lazy loop does
                cols = lp.int_cols()
                h.setSolution(len(cols), cols, np.round(x[cols]))
        else:
            ans.termination = "maxRounds"
            return ans
    return ans
