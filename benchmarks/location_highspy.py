"""The capacitated facility-location problem written directly in highspy (the baseline).

The same problem siting plans from :func:`benchmarks.location.write_scenario`'s files, as
one MILP handed to HiGHS in a few array calls (no modelling layer):

- columns: ``open_j`` binary, ``x_ij`` in ``[0, min(d_i, s_j)]`` [MW] (fractional
  assignment);
- objective: ``sum_j f_j open_j + sum_ij c_ij x_ij`` in cost units (1 M USD, as siting's);
- rows: ``sum_j x_ij >= d_i`` (every customer served), ``sum_i x_ij <= s_j open_j``
  (capacity) and the per-pair linking rows ``x_ij <= min(d_i, s_j) open_j``.

Solved with siting's HiGHS options (``mip_rel_gap``, ``threads``, ``time_limit``,
``random_seed`` 0). Command line (prints one JSON line)::

    python -m benchmarks.location_highspy [--sites 50] [--customers 50] [--ratio 3]
        [--seed 1] [--mip-gap 1e-4] [--time-limit 600]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass

import highspy
import numpy as np

from benchmarks.location import USD_PER_UNIT, CflInstance, cfl_instance


@dataclass
class DirectResult:
    """What the direct solve gave; money in USD, times in seconds."""

    build_s: float
    solve_s: float
    status: str
    objective_usd: float | None
    bound_usd: float | None
    gap: float | None
    open_sites: int
    integers: int
    rows: int
    columns: int
    nonzeros: int


def build_direct(inst: CflInstance):
    """A ``highspy.Highs`` holding the MILP (see the module docstring), not yet solved."""
    n, m = inst.n_sites, inst.n_customers
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    inf = highspy.kHighsInf
    link = inst.link_mw  # m x n
    cost = np.concatenate([inst.fixed_cost_usd, inst.cost_usd_per_mw.ravel()]) / USD_PER_UNIT
    lower = np.zeros(n + m * n)
    upper = np.concatenate([np.ones(n), link.ravel()])
    h.addVars(n + m * n, lower, upper)
    h.changeColsCost(n + m * n, np.arange(n + m * n, dtype=np.int32), cost)
    h.changeColsIntegrality(
        n, np.arange(n, dtype=np.int32), np.full(n, highspy.HighsVarType.kInteger)
    )
    xcol = (n + np.arange(m * n, dtype=np.int32)).reshape(m, n)  # column of x_ij
    # demand rows: sum_j x_ij >= d_i
    starts = [np.arange(m, dtype=np.int32) * n]
    idx = [xcol.ravel()]
    val = [np.ones(m * n)]
    lo = [inst.demand_mw]
    up = [np.full(m, inf)]
    # capacity rows: sum_i x_ij - s_j open_j <= 0
    cap_idx = np.concatenate([xcol.T, np.arange(n, dtype=np.int32)[:, None]], axis=1)
    cap_val = np.concatenate([np.ones((n, m)), -inst.capacity_mw[:, None]], axis=1)
    starts.append(m * n + np.arange(n, dtype=np.int32) * (m + 1))
    idx.append(cap_idx.ravel())
    val.append(cap_val.ravel())
    lo.append(np.full(n, -inf))
    up.append(np.zeros(n))
    # linking rows: x_ij - min(d_i, s_j) open_j <= 0
    base = m * n + n * (m + 1)
    starts.append(base + 2 * np.arange(m * n, dtype=np.int32))
    pair_idx = np.stack([xcol.ravel(), np.tile(np.arange(n, dtype=np.int32), m)], axis=1)
    idx.append(pair_idx.ravel())
    val.append(np.stack([np.ones(m * n), -link.ravel()], axis=1).ravel())
    lo.append(np.full(m * n, -inf))
    up.append(np.zeros(m * n))
    n_rows = m + n + m * n
    all_idx = np.concatenate(idx).astype(np.int32)
    h.addRows(
        n_rows,
        np.concatenate(lo),
        np.concatenate(up),
        len(all_idx),
        np.concatenate(starts).astype(np.int32),
        all_idx,
        np.concatenate(val),
    )
    return h


def solve_direct(
    inst: CflInstance, *, mip_gap: float = 1e-4, time_limit_s: float = 600.0, threads: int = 2
) -> DirectResult:
    """Build and solve the direct MILP; times of each part [s]."""
    t0 = time.perf_counter()
    h = build_direct(inst)
    t1 = time.perf_counter()
    for k, v in {
        "mip_rel_gap": mip_gap,
        "time_limit": time_limit_s,
        "threads": threads,
        "random_seed": 0,
    }.items():
        h.setOptionValue(k, v)
    h.run()
    t2 = time.perf_counter()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    has = info.primal_solution_status == 2  # kSolutionStatusFeasible
    obj = info.objective_function_value * USD_PER_UNIT if has else None
    bound = info.mip_dual_bound * USD_PER_UNIT if np.isfinite(info.mip_dual_bound) else None
    n = inst.n_sites
    opened = int((np.asarray(h.getSolution().col_value[:n]) > 0.5).sum()) if has else 0
    return DirectResult(
        build_s=t1 - t0,
        solve_s=t2 - t1,
        status=status,
        objective_usd=obj,
        bound_usd=bound,
        gap=info.mip_gap if has else None,
        open_sites=opened,
        integers=n,
        rows=h.getNumRow(),
        columns=h.getNumCol(),
        nonzeros=h.getNumNz(),
    )


def main() -> None:
    """Solve one instance directly and print the result as JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=50)
    ap.add_argument("--customers", type=int, default=50)
    ap.add_argument("--ratio", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mip-gap", type=float, default=1e-4)
    ap.add_argument("--time-limit", type=float, default=600.0)
    args = ap.parse_args()
    inst = cfl_instance(args.sites, args.customers, args.ratio, args.seed)
    r = solve_direct(inst, mip_gap=args.mip_gap, time_limit_s=args.time_limit)
    print(json.dumps(asdict(r)))


if __name__ == "__main__":
    main()
