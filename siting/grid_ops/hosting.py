"""Hosting capacity: the largest new load each bus can take alone, under N-0 and N-1.

A new load of ``P`` MW at bus ``b`` is served from the slack of ``b``'s island (its
reference bus, or generators sharing it in proportion to weights: see
:func:`siting.network.slack_weights`). It changes the from -> to flow of branch ``l``
by ``s_lb P`` with ``s_lb = -PTDF[l, b]`` (:func:`siting.network.ptdf`: a load is a
negative injection). From the flows ``f`` of an operating point, branch ``l`` with
rating ``R_l`` allows

.. math::

    P \\le \\frac{U_l - f_l}{s_{lb}} \\;\\text{ if } s_{lb} > 0, \\qquad
    P \\le \\frac{f_l - L_l}{-s_{lb}} \\;\\text{ if } s_{lb} < 0, \\qquad
    U_l = \\max(R_l, f_l),\\; L_l = -\\max(R_l, -f_l),

and the N-0 hosting capacity is the smallest of these over the branches (``inf`` when
no limited branch feels the load, e.g. at the single slack bus itself). ``U`` and ``L``
are the rating, except on a branch already over its rating at the operating point: there
the present flow is the bound, so a load that would load it further gets 0 MW (and the
flag ``overloaded``), while a load that relieves it is not stopped by it.

N-1 (``n_1=True``): after the outage of branch ``k`` (the injections unchanged) the
flows and sensitivities are, with :func:`siting.network.lodf`,

.. math::

    f^{(k)}_l = f_l + \\mathrm{LODF}_{lk} f_k, \\qquad
    s^{(k)}_{lb} = -(\\mathrm{PTDF}_{lb} + \\mathrm{LODF}_{lk}\\, \\mathrm{PTDF}_{kb}),

and each monitored branch ``l != k`` must stay within its emergency rating
(``rating_emergency_mw``, else ``rating_mw``), by the same rule. The N-1 hosting
capacity is the smallest of the N-0 limit and every post-outage limit, so it is never
above the N-0 one. Outages that split an island (radial branches: no LODF) are skipped
and listed (``skipped_outages``).

Everything is vectorised with numpy: N-0 over a (branch x bus) array, N-1 over
(outage x branch x bus) blocks of outages sized to about :data:`BLOCK_ENTRIES` numbers.
Given a ``dask.distributed`` client (``client=``; ``siting grid hosting --workers``), runs of
whole blocks go to its workers as tasks and their parts are merged in outage order: the
answer is the serial one, bit for bit, ties included (:func:`_n1_combine`).
The operating point's flows come from the caller (:func:`base_flows`); :func:`grid_hosting`
does the whole job for a grid (dispatch, flows, ratings) and is what ``siting grid
hosting`` runs.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from siting.core.errors import InputError, ProblemReport
from siting.inputs.grids.grid import Grid
from siting.network import (
    DCNetwork,
    SlackSpec,
    dc_flow,
    dc_network,
    injections_from_grid,
    lodf,
    ptdf,
    slack_weights,
)

if TYPE_CHECKING:
    from dask.distributed import Client

    from siting.inputs import Layers

__all__ = [
    "BLOCK_ENTRIES",
    "DispatchMode",
    "HostingResult",
    "base_flows",
    "case_dispatch",
    "flexible_hosting_mw",
    "grid_hosting",
    "hosting_capacity",
    "proportional_dispatch",
    "snapshot_hosting",
]

#: A flow change below this per MW of new load [MW/MW] does not limit a bus (numerical
#: noise of PTDF/LODF products is ~1e-14).
SENS_TOL = 1e-9

#: A flow more than this beyond its rating [MW] counts as an overload.
FLOW_TOL_MW = 1e-6

#: A hosting capacity below this counts as 0 MW in the notes on zero buses (rounding of the
#: flows leaves a branch at its rating with a few 1e-14 MW) [MW].
ZERO_MW = 1e-6

#: About this many numbers per (outage x branch x bus) block of the N-1 computation
#: (each block needs a few arrays of this size: 8 MB each at 1e6).
BLOCK_ENTRIES = 1_000_000

#: Default N-1 tasks per Dask worker (a few, so a slow worker does not hold the rest up).
CHUNKS_PER_WORKER = 4

#: Seconds to wait for a first worker on a Dask cluster that has none.
WAIT_WORKERS_S = 20.0

DispatchMode = Literal["auto", "case", "proportional", "opf"]


@dataclass
class HostingResult:
    """Hosting capacity per bus.

    Attributes
    ----------
    table
        One row per bus, in the grid's order: ``bus_id``, ``hosting_mw`` (N-0 [MW];
        ``inf`` when no limited branch feels the load), ``limiting_branch`` (``None``
        when ``inf``), ``overloaded`` (True when the bus gets 0 MW because its load
        would load further a branch already over its rating); with N-1 also
        ``hosting_n1_mw`` [MW], ``limiting_branch_n1``, ``limiting_outage`` (the
        branch whose outage binds; ``None`` when the N-0 limit binds) and
        ``overloaded_n1`` (as ``overloaded``, for the binding constraint of N-1);
        ``why`` (and with N-1 ``why_n1``): in words, what limits the bus: the branch (after
        which outage), its flow at the operating point and its rating [MW], the headroom
        left [MW] and the flow a load there adds to it [MW per MW]; a bus at 0 MW says
        whether the branch is already above its rating or at it.
    n_1
        Whether N-1 was computed.
    skipped_outages
        In-service branches whose outage splits an island (no LODF), not studied.
    overloaded_branches
        Branches above their rating at the operating point: ``branch_id, flow_mw,
        rating_mw``.
    n1_violations
        Number of (outage, branch) pairs above the emergency rating at the operating
        point (0 without N-1).
    n1_outages
        Outages studied (0 without N-1).
    n1_tasks
        Tasks the N-1 outages ran as (1 in this process; 0 without N-1 or outage).
    n1_workers
        Dask workers the N-1 tasks ran on (0: in this process).
    slack
        How the new load is served (text).
    dispatch
        How the operating point was set (text).
    notes
        What was decided on the way.
    timings
        Seconds per stage.
    """

    table: pd.DataFrame
    n_1: bool
    skipped_outages: list[str] = field(default_factory=list)
    overloaded_branches: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["branch_id", "flow_mw", "rating_mw"])
    )
    n1_violations: int = 0
    n1_outages: int = 0
    n1_tasks: int = 0
    n1_workers: int = 0
    slack: str = "reference bus of each island"
    dispatch: str = ""
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def weakest(self, n: int = 10) -> pd.DataFrame:
        """The ``n`` buses with the smallest hosting capacity (N-1, then N-0, when computed)."""
        cols = ["hosting_n1_mw", "hosting_mw"] if self.n_1 else ["hosting_mw"]
        return self.table.sort_values(cols, kind="stable").head(n)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping; ``inf`` and NaN become ``None``."""

        def clean(v: Any) -> Any:
            if isinstance(v, bool | np.bool_):
                return bool(v)
            if isinstance(v, float | np.floating):
                return float(v) if math.isfinite(v) else None
            if isinstance(v, np.integer):
                return int(v)
            return v

        def rows(df: pd.DataFrame) -> list[dict[str, Any]]:
            return [{str(k): clean(v) for k, v in r.items()} for r in df.to_dict(orient="records")]

        return {
            "buses": rows(self.table),
            "n_1": self.n_1,
            "skipped_outages": list(self.skipped_outages),
            "overloaded_branches": rows(self.overloaded_branches),
            "n1_violations": int(self.n1_violations),
            "n1_outages": int(self.n1_outages),
            "n1_tasks": int(self.n1_tasks),
            "n1_workers": int(self.n1_workers),
            "slack": self.slack,
            "dispatch": self.dispatch,
            "notes": list(self.notes),
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
        }


# --- limits ---------------------------------------------------------------------------


def _limits(sens: np.ndarray, flow: np.ndarray, rating: np.ndarray) -> np.ndarray:
    """Largest load [MW] each (branch, bus) allows: see the module docstring.

    ``sens`` (..., m, n) flow change per MW of load [MW/MW]; ``flow`` and ``rating``
    broadcast against ``sens[..., :1]`` [MW]. ``inf`` where ``|sens| <= SENS_TOL``.
    """
    up = np.maximum(rating, flow) - flow  # >= 0: room towards +
    down = flow + np.maximum(rating, -flow)  # >= 0: room towards -
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            sens > SENS_TOL,
            up / sens,
            np.where(sens < -SENS_TOL, down / -sens, np.inf),
        )


def _over(flow: np.ndarray, rating: np.ndarray, sens_sign: np.ndarray) -> np.ndarray:
    """Whether ``flow`` is beyond its rating in the direction ``sens_sign`` pushes."""
    return np.where(sens_sign > 0, flow > rating + FLOW_TOL_MW, -flow > rating + FLOW_TOL_MW)


#: One N-1 partial result: per bus the smallest limit [MW], the position of its branch
#: and of its outage (-1: none below ``inf``), and the (outage, branch) pairs above
#: their emergency rating at the operating point.
N1Part = tuple[np.ndarray, np.ndarray, np.ndarray, int]


def _n1_kernel(
    H: np.ndarray,
    L: np.ndarray,
    f: np.ndarray,
    E: np.ndarray,
    outages: np.ndarray,
    block: int,
) -> N1Part:
    """The N-1 limits of a run of outages, in blocks of ``block`` outages.

    The one N-1 computation, run whole by the serial path and per chunk on a Dask
    worker by :func:`_n1_on_dask`.

    Parameters
    ----------
    H
        PTDF (m, n) [MW/MW].
    L
        LODF (m, m) [MW/MW]; the studied outages' columns have no NaN.
    f
        Flow per branch at the operating point (m,) [MW].
    E
        Emergency rating per branch (m,) [MW].
    outages
        Positions of the outages to study, in order.
    block
        Outages per vectorised (outage x branch x bus) block.

    Returns
    -------
    N1Part
        ``(best, best_l, best_k, n_viol)``: per bus the smallest post-outage limit [MW]
        (``inf`` when none), the position of the limiting branch and of the outage (-1
        where ``best`` is ``inf``); the first minimum in (outage, branch) order is kept.
        ``n_viol``: (outage, branch) pairs above the emergency rating.
    """
    m, n = H.shape
    bus = np.arange(n)
    best = np.full(n, np.inf)
    best_l = np.zeros(n, dtype=np.int64)
    best_k = np.full(n, -1, dtype=np.int64)
    n_viol = 0
    for start in range(0, len(outages), block):
        K = outages[start : start + block]
        c = len(K)
        Lk = L[:, K].T  # (c, m): LODF[l, k]
        fk = f[None, :] + Lk * f[K][:, None]  # (c, m) post-outage flows
        fk[np.arange(c), K] = 0.0
        n_viol += int((np.abs(fk) > E[None, :] + FLOW_TOL_MW).sum())
        Sk = -(H[None, :, :] + Lk[:, :, None] * H[K, :][:, None, :])  # (c, m, n)
        Sk[np.arange(c), K, :] = 0.0  # the tripped branch carries nothing
        limk = _limits(Sk, fk[:, :, None], E[None, :, None]).reshape(c * m, n)
        idx = np.argmin(limk, axis=0)
        val = limk[idx, bus]
        better = val < best  # strict: the first minimum in outage order stays
        best = np.where(better, val, best)
        best_l = np.where(better, idx % m, best_l)
        best_k = np.where(better, K[idx // m], best_k)
    return best, best_l, best_k, n_viol


def _n1_combine(
    host0: np.ndarray, l0: np.ndarray, parts: Sequence[N1Part]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The N-1 answer from the N-0 one and the parts of consecutive runs of outages.

    Taken in order, a part replaces the running answer only where strictly smaller, so
    the first minimum in outage order wins (N-0 before any outage), exactly as one pass
    over every outage would.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray, int)
        Hosting capacity per bus [MW], limiting branch position, outage position (-1:
        the N-0 limit binds), and the (outage, branch) pairs above the emergency rating.
    """
    best = host0.copy()
    best_l = l0.copy()
    best_k = np.full(len(host0), -1, dtype=np.int64)
    n_viol = 0
    for val, lpos, kpos, nv in parts:
        better = val < best
        best = np.where(better, val, best)
        best_l = np.where(better, lpos, best_l)
        best_k = np.where(better, kpos, best_k)
        n_viol += nv
    return best, best_l, best_k, n_viol


def _n1_on_dask(
    client: Client,
    H: np.ndarray,
    L: np.ndarray,
    f: np.ndarray,
    E: np.ndarray,
    study: np.ndarray,
    block: int,
    chunks_per_worker: int,
) -> tuple[list[N1Part], int]:
    """:func:`_n1_kernel` over chunks of ``study`` as tasks on a Dask client.

    ``H``, ``L``, ``f`` and ``E`` are scattered to every worker once; each task takes
    whole blocks of consecutive outages (the same blocks as the serial pass), about
    ``chunks_per_worker`` tasks per worker.

    Returns
    -------
    (list[N1Part], int)
        The parts in outage order (for :func:`_n1_combine`) and the number of workers.

    Raises
    ------
    siting.core.errors.InputError
        When the cluster has no worker within :data:`WAIT_WORKERS_S`.
    """
    n_workers = len(client.scheduler_info().get("workers", {}))
    if n_workers == 0:
        try:
            client.wait_for_workers(1, timeout=WAIT_WORKERS_S)
        except TimeoutError:
            sched = client.scheduler  # (None only for a client never connected)
            address = sched.address if sched is not None else "(not connected)"
            raise InputError(
                f"the Dask scheduler at {address} has no worker (waited "
                f"{WAIT_WORKERS_S:g} s): start one with 'dask worker ADDRESS --nthreads 1'"
            ) from None
        n_workers = len(client.scheduler_info().get("workers", {}))
    if not len(study):
        return [], n_workers
    n_blocks = -(-len(study) // block)
    n_chunks = min(n_blocks, max(1, chunks_per_worker * n_workers))
    per = -(-n_blocks // n_chunks) * block  # whole blocks per chunk
    chunks = [study[i : i + per] for i in range(0, len(study), per)]
    return _scatter_map(client, _n1_kernel, [H, L, f, E], chunks, block), n_workers


def _scatter_map(
    client: Client, fn: Callable[..., Any], shared: list[Any], chunks: list[Any], *args: Any
) -> list[Any]:
    """``[fn(*shared, chunk, *args) for chunk in chunks]`` as tasks on a Dask client.

    ``shared`` is scattered to every worker once (``broadcast``; not hashed, so no two
    calls share it); the results come back in the order of ``chunks``; the tasks and the
    shared data are released afterwards, also on error.
    """
    refs = client.scatter(shared, broadcast=True, hash=False)
    futures = [client.submit(fn, *refs, chunk, *args, pure=False) for chunk in chunks]
    try:
        return list(client.gather(futures))
    finally:
        client.cancel([*futures, *refs])


def hosting_capacity(
    net: DCNetwork,
    base_flow_mw: np.ndarray,
    *,
    slack: SlackSpec = None,
    n_1: bool = False,
    rating_emergency_mw: np.ndarray | None = None,
    outages: Sequence[str] | None = None,
    ptdf_matrix: np.ndarray | None = None,
    lodf_matrix: np.ndarray | None = None,
    client: Client | None = None,
    chunks_per_worker: int = CHUNKS_PER_WORKER,
) -> HostingResult:
    """Largest new load per bus [MW] under N-0 and optionally N-1 (module docstring).

    Parameters
    ----------
    net
        From :func:`siting.network.dc_network`; its ``rating_mw`` are the normal ratings.
    base_flow_mw
        Flow per in-service branch at the operating point [MW], e.g. from
        :func:`base_flows`.
    slack
        Who serves the new load: ``None`` (each island's reference bus), a bus ID, a
        list of bus IDs, or a dict bus ID -> weight (see
        :func:`siting.network.slack_weights`). Must be the slack ``ptdf_matrix`` was
        computed for, if given.
    n_1
        Also every single branch outage, within emergency ratings.
    rating_emergency_mw
        Emergency rating per in-service branch [MW] (default: ``net.rating_mw``).
    outages
        Branch IDs whose outage to study (default: every in-service branch).
    ptdf_matrix, lodf_matrix
        Precomputed :func:`~siting.network.ptdf` (for ``slack``) and
        :func:`~siting.network.lodf`.
    client
        A ``dask.distributed.Client`` (e.g. from :func:`siting.core.engine.dask_client`): the
        N-1 outages run as tasks on its workers, the PTDF, LODF, flows and ratings
        scattered to each once; the answer is identical to the serial one (same blocks,
        same tie-breaking). Default: in this process.
    chunks_per_worker
        With ``client``: about this many tasks per worker.

    Returns
    -------
    HostingResult
        Without ``dispatch``/``notes`` about the operating point (see
        :func:`grid_hosting`).
    """
    t0 = time.perf_counter()
    f = _checked_flows(net, base_flow_mw)
    R = np.asarray(net.rating_mw, dtype=float)
    H = _checked_ptdf(net, slack, ptdf_matrix)
    timings = {"ptdf_s": time.perf_counter() - t0}
    table, overloaded, host0, l0, over0 = _n0_hosting(net, f, R, H)
    timings["n0_s"] = time.perf_counter() - t0 - timings["ptdf_s"]
    result = HostingResult(table=table, n_1=n_1, overloaded_branches=overloaded)
    if not n_1:
        result.timings = timings
        return result

    # --- N-1 ---------------------------------------------------------------------------
    t1 = time.perf_counter()
    E, L, study, skipped = _n1_inputs(net, R, H, rating_emergency_mw, lodf_matrix, outages)
    timings["lodf_s"] = time.perf_counter() - t1

    m, n = net.n_branch, net.n_bus
    block = max(1, BLOCK_ENTRIES // max(1, m * n))
    if client is None:
        parts = [_n1_kernel(H, L, f, E, study, block)]
        tasks, n_workers = (1 if len(study) else 0), 0
    else:
        parts, n_workers = _n1_on_dask(client, H, L, f, E, study, block, chunks_per_worker)
        tasks = len(parts)
    best, best_l, best_k, n_viol = _n1_combine(host0, l0, parts)
    _n1_columns(table, net, f, E, H, L, over0, best, best_l, best_k)
    timings["n1_s"] = time.perf_counter() - t1 - timings["lodf_s"]
    result.skipped_outages = [str(b) for b in np.asarray(net.branch_ids, dtype=object)[skipped]]
    result.n1_violations = n_viol
    result.n1_outages = len(study)
    result.n1_tasks = tasks
    result.n1_workers = n_workers
    result.timings = timings
    return result


def _checked_flows(net: DCNetwork, base_flow_mw: np.ndarray) -> np.ndarray:
    """``base_flow_mw`` as floats [MW]; an :class:`InputError` unless one finite flow per
    in-service branch."""
    m = net.n_branch
    f = np.asarray(base_flow_mw, dtype=float)
    if f.shape != (m,) or not np.isfinite(f).all():
        raise InputError(
            f"base_flow_mw must be {m} finite flows, one per in-service branch; got shape "
            f"{f.shape}",
            what="operating point",
        )
    return f


def _checked_ptdf(net: DCNetwork, slack: SlackSpec, ptdf_matrix: np.ndarray | None) -> np.ndarray:
    """The PTDF for ``slack`` (m, n) [MW/MW]: ``ptdf_matrix`` when given (its shape
    checked), else computed."""
    m, n = net.n_branch, net.n_bus
    H = ptdf(net, slack) if ptdf_matrix is None else np.asarray(ptdf_matrix, dtype=float)
    if H.shape != (m, n):
        raise InputError(f"ptdf_matrix has shape {H.shape}, expected ({m}, {n})")
    return H


def _n0_hosting(
    net: DCNetwork, f: np.ndarray, R: np.ndarray, H: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """The N-0 hosting capacity of every bus (module docstring).

    Parameters
    ----------
    net
        The DC network.
    f
        Flow per in-service branch at the operating point (m,) [MW].
    R
        Rating per in-service branch (m,) [MW].
    H
        PTDF (m, n) [MW/MW].

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame, numpy.ndarray, numpy.ndarray, numpy.ndarray)
        :attr:`HostingResult.table` (N-0 columns), :attr:`HostingResult.overloaded_branches`,
        and per bus the N-0 limit [MW], the position of its limiting branch and whether it
        is 0 MW because of a branch already overloaded.
    """
    m, n = net.n_branch, net.n_bus
    bus = np.arange(n)
    branch_ids = np.asarray(net.branch_ids, dtype=object)
    S = -H  # flow change per MW of new load
    lim = _limits(S, f[:, None], R[:, None])
    l0 = np.argmin(lim, axis=0) if m else np.zeros(n, dtype=np.int64)
    host0 = lim[l0, bus] if m else np.full(n, np.inf)
    finite0 = np.isfinite(host0)
    over0 = finite0 & (host0 == 0) & _over(f[l0], R[l0], S[l0, bus]) if m else np.zeros(n, bool)
    table = pd.DataFrame(
        {
            "bus_id": np.asarray(net.bus_ids, dtype=object),
            "hosting_mw": host0,
            "limiting_branch": np.where(finite0, branch_ids[l0] if m else None, None),
            "overloaded": over0,
        }
    )
    if m:
        table["why"] = _reasons(
            host0, branch_ids[l0], None, f[l0], R[l0], S[l0, bus], over0, emergency=False
        )
    else:
        table["why"] = _reasons(host0, host0, None, host0, host0, host0, over0, emergency=False)
    above = np.abs(f) > R + FLOW_TOL_MW
    overloaded = pd.DataFrame(
        {"branch_id": branch_ids[above], "flow_mw": f[above], "rating_mw": R[above]}
    )
    return table, overloaded, host0, l0, over0


def _n1_inputs(
    net: DCNetwork,
    R: np.ndarray,
    H: np.ndarray,
    rating_emergency_mw: np.ndarray | None,
    lodf_matrix: np.ndarray | None,
    outages: Sequence[str] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The emergency ratings, the LODF and the outages to study.

    Parameters
    ----------
    net
        The DC network.
    R
        Rating per in-service branch (m,) [MW] (the emergency ratings by default).
    H
        PTDF (m, n) [MW/MW].
    rating_emergency_mw, lodf_matrix, outages
        As :func:`hosting_capacity`'s.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray, numpy.ndarray)
        Emergency rating per branch (m,) [MW], LODF (m, m) [MW/MW], positions of the
        outages to study and of those skipped (radial: no LODF).

    Raises
    ------
    siting.core.errors.InputError
        Emergency ratings or an LODF of the wrong shape, NaN ratings, or an outage that is
        not an in-service branch.
    """
    m = net.n_branch
    E = R if rating_emergency_mw is None else np.asarray(rating_emergency_mw, dtype=float)
    if E.shape != (m,) or np.isnan(E).any():
        raise InputError(
            f"rating_emergency_mw must be {m} ratings (inf = unlimited), one per in-service "
            "branch, none NaN",
            what="operating point",
        )
    L = lodf(net, H) if lodf_matrix is None else np.asarray(lodf_matrix, dtype=float)
    if L.shape != (m, m):
        raise InputError(f"lodf_matrix has shape {L.shape}, expected ({m}, {m})")
    radial = np.isnan(L).all(axis=0) if m else np.zeros(0, bool)
    if outages is None:
        study = np.arange(m)
    else:
        study = net.branch_ids.get_indexer(pd.Index([str(o) for o in outages]))
        if (study < 0).any():
            unknown = [o for o, i in zip(outages, study, strict=True) if i < 0]
            raise InputError(
                f"outage(s) not among the in-service branches: {', '.join(map(str, unknown[:5]))}"
            )
    skipped = study[radial[study]]
    study = study[~radial[study]]
    return E, L, study, skipped


def _n1_columns(
    table: pd.DataFrame,
    net: DCNetwork,
    f: np.ndarray,
    E: np.ndarray,
    H: np.ndarray,
    L: np.ndarray,
    over0: np.ndarray,
    best: np.ndarray,
    best_l: np.ndarray,
    best_k: np.ndarray,
) -> None:
    """Add the N-1 columns to the hosting table (in place).

    Parameters
    ----------
    table
        :attr:`HostingResult.table` with its N-0 columns.
    net
        The DC network.
    f
        Flow per in-service branch at the operating point (m,) [MW].
    E
        Emergency rating per branch (m,) [MW].
    H, L
        PTDF (m, n) and LODF (m, m) [MW/MW].
    over0
        Per bus: the N-0 limit is 0 MW because of an overloaded branch.
    best, best_l, best_k
        Per bus: the N-1 hosting capacity [MW], the position of its limiting branch and of
        its outage (-1: the N-0 limit binds), from :func:`_n1_combine`.
    """
    m = net.n_branch
    branch_ids = np.asarray(net.branch_ids, dtype=object)
    finite1 = np.isfinite(best)
    by_outage = best_k >= 0
    over1 = over0.copy()
    j = np.flatnonzero(by_outage & (best == 0))
    if len(j):
        lj, kj = best_l[j], best_k[j]
        fpost = f[lj] + L[lj, kj] * f[kj]
        sens = -(H[lj, j] + L[lj, kj] * H[kj, j])
        over1[j] = _over(fpost, E[lj], sens)
    no_id = np.full(len(best), None, dtype=object)  # None per bus (no limiting branch)
    table["hosting_n1_mw"] = best
    table["limiting_branch_n1"] = np.where(finite1, branch_ids[best_l] if m else no_id, no_id)
    table["limiting_outage"] = np.where(
        by_outage, branch_ids[np.maximum(best_k, 0)] if m else no_id, no_id
    )
    table["overloaded_n1"] = over1 & finite1
    # the binding constraint of each bus: after the outage best_k, or N-0 (best_k = -1)
    n = len(best)
    bus = np.arange(n)
    why = table["why"].to_numpy(dtype=object).copy()
    why[finite1 & ~by_outage] = [f"{w} (N-0 binds)" for w in why[finite1 & ~by_outage]]
    j = np.flatnonzero(by_outage & finite1)
    if len(j):
        lj, kj = best_l[j], best_k[j]
        fpost = f[lj] + L[lj, kj] * f[kj]
        sens = -(H[lj, bus[j]] + L[lj, kj] * H[kj, bus[j]])
        why[j] = _reasons(
            best[j], branch_ids[lj], branch_ids[kj], fpost, E[lj], sens, over1[j], emergency=True
        )
    table["why_n1"] = why


def _reasons(
    limit_mw: np.ndarray,
    branch: np.ndarray,
    outage: np.ndarray | None,
    flow_mw: np.ndarray,
    rating_mw: np.ndarray,
    sens: np.ndarray,
    over: np.ndarray,
    *,
    emergency: bool,
) -> np.ndarray:
    """Why each bus gets its hosting capacity, in words (the ``why`` / ``why_n1`` column).

    Parameters
    ----------
    limit_mw
        Hosting capacity per bus [MW] (``inf``: no rated branch feels a load there).
    branch, outage
        The limiting branch per bus, and the outage after which it limits (None: N-0).
    flow_mw
        The limiting branch's flow at the operating point (after the outage) [MW].
    rating_mw
        Its rating (emergency rating after an outage) [MW].
    sens
        The flow a load at the bus adds to it [MW per MW of load].
    over
        The bus gets 0 MW because the branch is already beyond its rating.
    emergency
        The rating is the emergency rating.

    Returns
    -------
    numpy.ndarray
        One sentence per bus (object array).
    """
    rating_word = "emergency rating" if emergency else "rating"
    out = np.empty(len(limit_mw), dtype=object)
    for i, p in enumerate(limit_mw):
        if not math.isfinite(p):
            out[i] = "unlimited: no rated branch's flow changes with a load here"
            continue
        where = f"after the outage of branch {outage[i]}, " if outage is not None else ""
        f_abs, r, s = abs(float(flow_mw[i])), float(rating_mw[i]), abs(float(sens[i]))
        adds = f"a load here adds {s:.3f} MW to its flow per MW"
        if over[i]:
            state = (
                f"branch {branch[i]} already carries {f_abs:,.1f} MW, {f_abs - r:,.3g} MW above "
                f"its {rating_word} {r:,.1f} MW, at the operating point"
            )
        elif p * s < FLOW_TOL_MW * 1e3:
            state = (
                f"branch {branch[i]} is at its {rating_word} ({r:,.1f} MW) at the operating point"
            )
        else:
            state = (
                f"branch {branch[i]} has {p * s:,.1f} MW of headroom (flow {f_abs:,.1f} of "
                f"{r:,.1f} MW)"
            )
        text = f"{where}{state}; {adds}"
        out[i] = text
    return out


def zero_bus_notes(result: HostingResult, dispatch: str = "") -> list[str]:
    """Notes on the buses that get 0 MW: what limits them, grouped, and how to re-dispatch.

    Parameters
    ----------
    result
        The hosting result (its table with the ``why`` columns).
    dispatch
        The ``--dispatch`` mode used (``auto``, ``case``, ``proportional``, ``opf``).

    Returns
    -------
    list[str]
        Empty when no bus gets 0 MW.
    """
    t = result.table
    col, branch_col = (
        ("hosting_n1_mw", "limiting_branch_n1")
        if result.n_1
        else (
            "hosting_mw",
            "limiting_branch",
        )
    )
    zero = t[t[col] < ZERO_MW]
    if not len(zero):
        return []
    what = "N-1" if result.n_1 else "N-0"
    outage = zero["limiting_outage"] if result.n_1 else pd.Series(None, index=zero.index)
    over = zero["overloaded_n1"] if result.n_1 else zero["overloaded"]
    groups = Counter(
        (str(br), "" if k is None else str(k), bool(o))
        for br, k, o in zip(zero[branch_col], outage, over, strict=True)
    ).most_common()
    parts = []
    for (branch, out, is_over), cnt in groups[:5]:
        after = f" after the outage of {out}" if out else ""
        state = "already above its rating" if is_over else "at its rating"
        parts.append(f"{cnt} by branch {branch}{after} ({state} at the operating point)")
    more = f"; {len(groups) - 5} more branch/outage pair(s)" if len(groups) > 5 else ""
    notes = [
        f"{len(zero)} bus(es) get 0 MW ({what}) because a branch a load there would load "
        f"further is already at or above its rating: {'; '.join(parts)}{more} (the why column "
        "says it per bus)"
    ]
    if dispatch != "opf":
        notes.append(
            "re-dispatch: --dispatch opf sets the generators by a DC OPF within the normal "
            "ratings before measuring, which may clear these limits"
        )
    elif result.n_1:
        notes.append(
            "--dispatch opf re-dispatches within the normal ratings (N-0) only; the (outage, "
            "branch) pairs it leaves above their emergency rating are what limit these buses "
            "(no mode re-dispatches for N-1 security)"
        )
    return notes


# --- operating point ------------------------------------------------------------------


def _in_service_gens(grid: Grid) -> pd.DataFrame:
    """The grid's generators in service (all of them without an ``in_service`` column)."""
    g = grid.generators
    if "in_service" not in g.columns:
        return g
    return g[g["in_service"].fillna(True).astype(bool)]


def case_dispatch(grid: Grid) -> pd.Series | None:
    """The dispatch written in a MATPOWER case file (``PG``) per in-service generator [MW].

    ``None`` when the grid was not read from a MATPOWER ``.m`` file (``grid.source``)
    or its generator rows do not match the file's.
    """
    from siting.inputs.grids.matpower import parse_matpower

    if grid.source_format != "matpower" or not grid.source:
        return None
    path = Path(grid.source)
    if not path.is_file():
        return None
    report = ProblemReport()
    case = parse_matpower(path, report)
    report.raise_if_any(what="grid case")
    if case is None or case.gen.shape[0] != len(grid.generators):
        return None
    pg = pd.Series(case.gen[:, 1].astype(float), index=grid.generators.index.astype(str))
    return pg.loc[_in_service_gens(grid).index.astype(str)]


def proportional_dispatch(grid: Grid, net: DCNetwork) -> tuple[pd.Series, list[str]]:
    """Each island's load shared by its in-service generators in proportion to ``p_max_mw``.

    ``p_g = p_max_g * D_I / C_I`` with ``D_I`` the island's load plus shunt demand and
    ``C_I`` its in-service capacity [MW]. An island whose load exceeds its capacity runs
    its generators above ``p_max`` (said in the notes); an island with load and no
    generation gets none (its reference bus balances it, see :func:`base_flows`).

    Returns
    -------
    (pandas.Series, list[str])
        Output per in-service generator by ``gen_id`` [MW], and notes.
    """
    notes: list[str] = []
    gens = _in_service_gens(grid)
    pos = net.bus_ids.get_indexer(pd.Index(gens["bus_id"].astype(str)))
    if (pos < 0).any():
        raise InputError("a generator's bus is not a bus of the grid", what="grid")
    p_max = pd.to_numeric(gens["p_max_mw"], errors="coerce").fillna(0.0).to_numpy()
    demand = -injections_from_grid(grid, net)  # load + shunt per bus
    d_isl = np.bincount(net.island, weights=demand, minlength=net.n_islands)
    c_isl = np.bincount(net.island[pos], weights=p_max, minlength=net.n_islands)
    isl = net.island[pos]
    share = np.where(c_isl[isl] > 0, d_isl[isl] / np.where(c_isl[isl] > 0, c_isl[isl], 1), 0)
    for i in np.flatnonzero((d_isl > c_isl) & (c_isl > 0)):
        notes.append(
            f"island {i}: load {d_isl[i]:,.1f} MW exceeds its in-service capacity "
            f"{c_isl[i]:,.1f} MW; generators run at {d_isl[i] / c_isl[i]:.0%} of p_max"
        )
    for i in np.flatnonzero((d_isl > 0) & (c_isl <= 0)):
        notes.append(
            f"island {i}: {d_isl[i]:,.1f} MW of load and no in-service generation; its "
            f"reference bus '{net.bus_ids[net.ref_idx[i]]}' balances it"
        )
    return pd.Series(p_max * share, index=gens.index.astype(str)), notes


def base_flows(
    grid: Grid,
    net: DCNetwork,
    gen_mw: pd.Series | None,
    slack: SlackSpec = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Branch flows of an operating point [MW], each island balanced by the slack.

    Injections are ``gen_mw`` minus load minus shunt (:func:`siting.network.
    injections_from_grid`); whatever an island's injections leave unbalanced (a case
    file's ``PG`` rarely balance the load exactly) is taken by the slack, shared by its
    weights (:func:`siting.network.slack_weights`; with the reference bus this is
    MATPOWER's and pandapower's DC power flow).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Flow per in-service branch [MW] and the slack's pick-up per island [MW]
        (positive: the slack generates more).
    """
    p = injections_from_grid(grid, net, gen_mw=gen_mw)
    w = slack_weights(net, slack)
    total = np.bincount(net.island, weights=p, minlength=net.n_islands)
    p_bal = p - w * total[net.island]
    return dc_flow(net, p_bal).flow_mw, -total


def flexible_hosting_mw(
    firm_mw: np.ndarray, stress_hours: np.ndarray, budget_hours: float, depth: float = 1.0
) -> np.ndarray:
    """Flexible hosting capacity per bus [MW]: the largest new load that fits if it is
    curtailed in snapshots of at most ``budget_hours`` stress hours a year.

    A load of ``P`` MW at a bus whose N-0 hosting capacity in snapshot h is ``F_h`` must be
    curtailed by ``P - F_h`` in every snapshot where ``F_h < P``. It fits when those
    snapshots' stress hours sum to at most ``budget_hours`` and each curtailment is at most
    ``depth * P`` (``P <= F_h / (1 - depth)``). With the snapshots sorted by ``F``
    ascending and ``K`` the most of them whose hours fit the budget, the answer is
    ``min(F_(K+1), F_(1) / (1 - depth))`` (``F_(1)``, the firm capacity, when ``K = 0``;
    no ``F_(K+1)`` bound when every snapshot fits).

    Parameters
    ----------
    firm_mw
        N-0 hosting capacity per snapshot and bus, shape (n_snapshots, n_buses) [MW].
    stress_hours
        Hours per year each snapshot stands for when curtailing, shape (n_snapshots,) [h].
    budget_hours
        Most curtailed hours per year [h].
    depth
        Most of the load that may be curtailed at once [fraction]; 1 = all of it.

    Returns
    -------
    numpy.ndarray
        Shape (n_buses,) [MW]; never below the firm capacity ``min_h F_h``.
    """
    f = np.asarray(firm_mw, dtype=float)
    w = np.asarray(stress_hours, dtype=float)
    order = np.argsort(f, axis=0, kind="stable")
    fs = np.take_along_axis(f, order, axis=0)
    cum = np.cumsum(w[order], axis=0)
    k = (cum <= budget_hours + 1e-9).sum(axis=0)  # snapshots curtailed (the weakest first)
    n = f.shape[0]
    nxt = np.where(k < n, fs[np.minimum(k, n - 1), np.arange(f.shape[1])], np.inf)
    deep = fs[0] / (1.0 - depth) if depth < 1.0 else np.full(f.shape[1], np.inf)
    return np.where(k > 0, np.minimum(nxt, np.maximum(deep, fs[0])), fs[0])


def snapshot_hosting(
    grid: Grid,
    snapshots: Sequence[tuple[str, float, float]],
    *,
    budget_hours: float,
    depth: float = 1.0,
    slack: str = "reference",
) -> pd.DataFrame:
    """Firm and flexible N-0 hosting capacity per bus over the year's snapshots [MW].

    Each snapshot ``(name, load_factor, stress_hours)`` is an operating point with the
    grid's ``load_mw`` x ``load_factor`` (shunts unscaled) served by
    :func:`proportional_dispatch`; its N-0 hosting capacity is :func:`hosting_capacity`'s.
    The firm capacity is the smallest over the snapshots; the flexible one is
    :func:`flexible_hosting_mw` with the snapshots' stress hours.

    Returns
    -------
    pandas.DataFrame
        ``bus_id``, ``hosting_<snapshot>_mw`` per snapshot, ``hosting_firm_mw`` and
        ``hosting_flexible_mw`` [MW], in the grid's bus order.
    """
    net = dc_network(grid)
    spec, _ = _slack_spec(grid, net, slack)
    cols: dict[str, np.ndarray] = {}
    for name, lf, _h in snapshots:
        buses = grid.buses.copy()
        buses["load_mw"] = pd.to_numeric(buses["load_mw"], errors="coerce") * float(lf)
        g = dataclasses.replace(grid, buses=buses)
        gen_mw, _ = proportional_dispatch(g, net)
        flow, _ = base_flows(g, net, gen_mw, spec)
        cols[f"hosting_{name}_mw"] = (
            hosting_capacity(net, flow, slack=spec).table["hosting_mw"].to_numpy(dtype=float)
        )
    firm = np.vstack(list(cols.values()))
    out = pd.DataFrame({"bus_id": list(net.bus_ids), **cols})
    out["hosting_firm_mw"] = firm.min(axis=0)
    out["hosting_flexible_mw"] = flexible_hosting_mw(
        firm, np.array([h for *_, h in snapshots], dtype=float), budget_hours, depth
    )
    return out


def _emergency_ratings(grid: Grid, net: DCNetwork) -> np.ndarray:
    """``rating_emergency_mw`` per in-service branch, ``rating_mw`` where missing [MW]."""
    br = grid.branches
    if "rating_emergency_mw" not in br.columns:
        return net.rating_mw.copy()
    e = pd.to_numeric(br["rating_emergency_mw"], errors="coerce")
    e.index = br.index.astype(str)
    e = e.reindex(net.branch_ids).to_numpy(dtype=float)
    return np.where(np.isnan(e), net.rating_mw, e)


def _slack_spec(grid: Grid, net: DCNetwork, slack: str) -> tuple[SlackSpec, str]:
    """The CLI's ``--slack``: ``reference``, ``distributed`` or a bus ID."""
    if slack == "reference":
        return None, "reference bus of each island"
    if slack == "distributed":
        gens = _in_service_gens(grid)
        p_max = pd.to_numeric(gens["p_max_mw"], errors="coerce").fillna(0.0)
        w = p_max.groupby(gens["bus_id"].astype(str)).sum()
        w = w[w > 0]
        return {str(k): float(v) for k, v in w.items()}, (
            f"in-service generators in proportion to p_max ({len(w)} buses)"
        )
    if slack not in set(net.bus_ids):
        raise InputError(
            f"--slack '{slack}': expected 'reference', 'distributed' or a bus ID of the grid"
        )
    return slack, f"bus '{slack}' (other islands: their reference bus)"


@contextmanager
def _engine_client(scheduler: str | None, workers: int | None) -> Iterator[Client]:
    """:func:`siting.core.engine.dask_client`, with a malformed address an :class:`InputError`."""
    from siting.core.engine import dask_client

    with ExitStack() as stack:
        try:
            client = stack.enter_context(dask_client(scheduler, 2 if workers is None else workers))
        except ValueError as e:  # no port, an unknown scheme ... in the address
            raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None
        yield client


def grid_hosting(
    layers_or_grid: Layers | Grid,
    *,
    n_1: bool = False,
    slack: str = "reference",
    dispatch: DispatchMode = "auto",
    client: Client | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
) -> HostingResult:
    """Hosting capacity of every bus of a grid (what ``siting grid hosting`` runs).

    Parameters
    ----------
    layers_or_grid
        :class:`siting.inputs.Layers` (its ``grid``) or a :class:`Grid`.
    n_1
        Also under every single branch outage (emergency ratings).
    slack
        ``"reference"`` (each island's reference bus), ``"distributed"`` (in-service
        generators in proportion to ``p_max_mw``) or a bus ID.
    dispatch
        The operating point: ``"case"`` the ``PG`` of a MATPOWER case file;
        ``"proportional"`` :func:`proportional_dispatch`; ``"opf"`` the DC OPF of
        :func:`siting.grid_ops.dispatch.dc_opf`; ``"auto"`` (default) ``case`` for a MATPOWER
        file, else ``proportional``. In every case the slack balances what is left.
    client
        A ``dask.distributed.Client`` to run the N-1 outages on (see
        :func:`hosting_capacity`).
    workers, scheduler
        Without ``client``, when either is given: run the N-1 outages on Dask through
        :func:`siting.core.engine.dask_client`, on the scheduler at ``scheduler``
        (``tcp://host:8786``; then ``workers`` is ignored) or else a local cluster of
        ``workers`` single-thread processes (default 2), closed afterwards. Only with
        ``n_1``.

    Returns
    -------
    HostingResult

    Raises
    ------
    siting.core.errors.InputError
        On bad input, and when the scheduler cannot be reached or has no worker.
    """
    t0 = time.perf_counter()
    grid = getattr(layers_or_grid, "grid", layers_or_grid)
    if not isinstance(grid, Grid):
        raise InputError("no grid layer: hosting capacity needs a grid", what="inputs")
    net = dc_network(grid)
    notes = list(net.notes)
    spec, slack_text = _slack_spec(grid, net, slack)

    gen_mw, mode_text = _operating_point(layers_or_grid, grid, net, dispatch, notes)
    t_disp = time.perf_counter() - t0

    flow, pick_up = base_flows(grid, net, gen_mw, spec)
    for i in np.flatnonzero(np.abs(pick_up) > 1e-6):
        notes.append(
            f"island {i}: the slack ({slack_text}) takes {pick_up[i]:+,.1f} MW to balance "
            "the operating point"
        )
    with ExitStack() as stack:
        if n_1 and client is None and (workers is not None or scheduler is not None):
            client = stack.enter_context(_engine_client(scheduler, workers))
        result = hosting_capacity(
            net,
            flow,
            slack=spec,
            n_1=n_1,
            rating_emergency_mw=_emergency_ratings(grid, net) if n_1 else None,
            client=client if n_1 else None,
        )
    result.slack = slack_text
    result.dispatch = mode_text
    notes += _result_notes(result) + zero_bus_notes(result, dispatch)
    result.notes = notes + result.notes
    result.timings = {"dispatch_s": t_disp, **result.timings, "total_s": time.perf_counter() - t0}
    return result


def _operating_point(
    layers_or_grid: Layers | Grid,
    grid: Grid,
    net: DCNetwork,
    dispatch: DispatchMode,
    notes: list[str],
) -> tuple[pd.Series | None, str]:
    """The generators' output at the operating point, per ``dispatch`` mode (see
    :func:`grid_hosting`).

    Parameters
    ----------
    layers_or_grid
        As :func:`grid_hosting`'s (passed on to the DC OPF).
    grid, net
        The grid and its DC network.
    dispatch
        ``"auto"``, ``"case"``, ``"proportional"`` or ``"opf"``.
    notes
        Gets the notes of the proportional dispatch.

    Returns
    -------
    (pandas.Series, str)
        Output per in-service generator by ``gen_id`` [MW], and how it was set (text).

    Raises
    ------
    siting.core.errors.InputError
        An unknown mode, or ``case`` for a grid not read from a MATPOWER file.
    """
    if dispatch not in ("auto", "case", "proportional", "opf"):
        raise InputError(f"--dispatch '{dispatch}': expected auto, case, proportional or opf")
    gen_mw: pd.Series | None = None
    mode_text = "case file PG"
    if dispatch in ("auto", "case"):
        gen_mw = case_dispatch(grid)
        if gen_mw is None and dispatch == "case":
            raise InputError(
                "--dispatch case needs a MATPOWER case file (its PG column); this grid was "
                f"read from {grid.source_format or 'layers'}: use proportional or opf",
            )
    if dispatch == "opf":
        from siting.grid_ops.dispatch import dc_opf

        res = dc_opf(layers_or_grid)
        d = res.dispatch[res.dispatch["in_service"].astype(bool)]
        gen_mw = pd.Series(d["p_mw"].to_numpy(dtype=float), index=d["gen_id"].astype(str))
        mode_text = f"DC OPF ({res.objective_usd_per_h:,.2f} USD/h)"
    elif dispatch == "proportional" or gen_mw is None:
        gen_mw, more = proportional_dispatch(grid, net)
        notes += more
        mode_text = "in-service generators in proportion to p_max, meeting each island's load"
    return gen_mw, mode_text


def _result_notes(result: HostingResult) -> list[str]:
    """Notes on the hosting result: branches overloaded at the operating point, outages
    skipped, the Dask tasks, and N-1 pairs above their emergency rating."""
    notes: list[str] = []
    if len(result.overloaded_branches):
        ob = result.overloaded_branches
        notes.append(
            f"{len(ob)} branch(es) above their rating at the operating point (a new load "
            "that would load them further gets 0 MW): "
            + ", ".join(f"'{b}'" for b in ob["branch_id"].head(5))
            + (f" and {len(ob) - 5} more" if len(ob) > 5 else "")
        )
    if result.skipped_outages:
        notes.append(
            f"{len(result.skipped_outages)} outage(s) split the network and were skipped "
            "(radial branches)"
        )
    if result.n1_workers:
        notes.append(
            f"N-1: {result.n1_outages:,} outage(s) ran as {result.n1_tasks} Dask task(s) on "
            f"{result.n1_workers} worker(s)"
        )
    if result.n1_violations:
        notes.append(
            f"{result.n1_violations} (outage, branch) pair(s) above the emergency rating at "
            "the operating point"
        )
    return notes
