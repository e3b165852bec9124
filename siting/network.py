"""DC network model of a :class:`~siting.layers.grid_model.Grid`: matrices and power flow.

:func:`dc_network` builds the sparse DC ("B-theta") model of the in-service grid,
exactly as MATPOWER's ``makeBdc`` does; :func:`dc_flow` solves it for one or many
injection vectors at once; :func:`injections_from_grid` and :func:`loading_pct`
are the small helpers around it.

Conventions (MATPOWER's, kept exactly)
--------------------------------------
Branch ``l`` from bus ``f`` to bus ``t`` with series reactance ``x`` [pu on
``base_mva``], off-nominal tap ratio ``tau`` (at the from end; 1 for lines) and
phase shift ``phi`` [rad] has the DC susceptance and flow

.. math::

    b_l = \\frac{1}{x_l \\tau_l}, \\qquad
    P_{ft} = b_l (\\theta_f - \\theta_t - \\phi_l) \\quad [\\text{pu}]

With the branch-bus incidence matrix ``Cft`` (``+1`` at the from bus, ``-1`` at the
to bus of each branch)::

    Bf      = diag(b) Cft                 (n_branch x n_bus)
    Bbus    = Cft' Bf                     (n_bus x n_bus)
    Pfinj   = b * (-phi)                  (n_branch)
    Pbusinj = Cft' Pfinj                  (n_bus)

and the DC power flow is ``Bbus theta = P - Pbusinj``, ``Pf = Bf theta + Pfinj``,
with ``P`` the net injection (generation minus load) per bus. Everything here is
multiplied by ``base_mva``: the matrices are in MW/rad, injections and flows in MW,
angles in radians. Flows are positive from the branch's ``from_bus`` to its
``to_bus``; the network is lossless, so the flow leaving the to end is minus that.

Islands and references
----------------------
Out-of-service branches are dropped (and said so in ``notes``); the buses are all
kept, in the grid's order. The in-service branches split the buses into islands
(:func:`scipy.sparse.csgraph.connected_components`; a bus without in-service
branches is an island of its own). Each island gets one reference bus whose angle
is 0: its ``bus_type`` 3 bus if it has one, else its bus with the largest
in-service generation capacity (``p_max_mw``), else its first bus.

A DC flow needs each island's injections to sum to zero. :func:`dc_flow` raises
when they do not, naming the island; with ``balance=False`` it puts each island's
imbalance on its reference bus instead and reports it (``slack_mw``).

Shunt conductance (MATPOWER ``Gs``, the grid's ``shunt_mw``) draws ``Gs`` MW at
1 pu voltage, so in a DC model it is a load (:func:`injections_from_grid`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import splu

from siting.errors import MAX_ROWS_NAMED, InputError, ProblemReport, SitingError
from siting.layers.grid_model import Grid

__all__ = [
    "DCFlowError",
    "DCFlowResult",
    "DCNetwork",
    "dc_flow",
    "dc_network",
    "injections_from_grid",
    "loading_pct",
]


class DCFlowError(SitingError, ValueError):
    """A DC power flow cannot be solved as asked (unbalanced island, singular matrix, bad shape)."""


def _few(ids: Sequence[object], n: int = 5) -> str:
    """``'a', 'b', 'c' and 4 more`` for error messages and notes."""
    ids = list(ids)
    head = ", ".join(f"'{i}'" for i in ids[:n])
    return head + (f" and {len(ids) - n} more" if len(ids) > n else "")


@dataclass(frozen=True, eq=False)
class DCNetwork:
    """The DC model of a grid's in-service network (MATPOWER ``makeBdc``, in MW).

    Attributes
    ----------
    bus_ids
        All buses, in the grid's order (strings). Positions into this index are the
        bus numbering of every array and matrix.
    branch_ids
        The in-service branches, in the grid's order.
    from_idx, to_idx
        Position in ``bus_ids`` of each in-service branch's from and to bus.
    b_mw_per_rad
        ``base_mva / (x_pu * tap_ratio)`` per in-service branch [MW/rad].
    shift_rad
        Phase shift per in-service branch [rad] (``shift_deg`` in radians).
    rating_mw
        Thermal rating per in-service branch [MW]; ``inf`` = unlimited.
    Bbus
        ``Cft' diag(b) Cft``, n_bus x n_bus [MW/rad].
    Bf
        ``diag(b) Cft``, n_branch x n_bus [MW/rad]; ``Bf @ theta + p_shift_branch_mw``
        is the from -> to flow [MW].
    p_shift_bus_mw
        MATPOWER's ``Pbusinj * base_mva`` = ``Cft' p_shift_branch_mw`` [MW], n_bus.
    p_shift_branch_mw
        MATPOWER's ``Pfinj * base_mva`` = ``-b * shift`` [MW], n_branch.
    ref_idx
        The reference bus position of each island (``ref_idx[i]`` for island ``i``).
    island
        Island number (0 .. n_islands - 1) of each bus; islands are numbered in the
        order of their first bus.
    notes
        What was decided on the way (branches dropped, islands, references chosen).
    """

    bus_ids: pd.Index
    branch_ids: pd.Index
    from_idx: np.ndarray
    to_idx: np.ndarray
    b_mw_per_rad: np.ndarray
    shift_rad: np.ndarray
    rating_mw: np.ndarray
    Bbus: sp.csr_matrix
    Bf: sp.csr_matrix
    p_shift_bus_mw: np.ndarray
    p_shift_branch_mw: np.ndarray
    ref_idx: np.ndarray
    island: np.ndarray
    notes: list[str]
    #: the LU factorisation of Bbus without the reference rows/columns (built on first use)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_bus(self) -> int:
        """Number of buses."""
        return len(self.bus_ids)

    @property
    def n_branch(self) -> int:
        """Number of in-service branches."""
        return len(self.branch_ids)

    @property
    def n_islands(self) -> int:
        """Number of islands."""
        return len(self.ref_idx)

    def _non_ref(self) -> np.ndarray:
        """Positions of the buses that are not a reference (in bus order)."""
        if "non_ref" not in self._cache:
            keep = np.ones(self.n_bus, dtype=bool)
            keep[self.ref_idx] = False
            self._cache["non_ref"] = np.flatnonzero(keep)
        return self._cache["non_ref"]

    def _lu(self):
        """Sparse LU of ``Bbus`` without the reference rows and columns (cached)."""
        if "lu" not in self._cache:
            keep = self._non_ref()
            reduced = self.Bbus[keep][:, keep].tocsc()
            try:
                self._cache["lu"] = splu(reduced)
            except RuntimeError as exc:  # "Factor is exactly singular"
                raise DCFlowError(
                    "the DC susceptance matrix Bbus (without the reference buses) is singular "
                    f"({exc}); branch reactances that cancel out (negative x_pu) can do this"
                ) from exc
        return self._cache["lu"]


@dataclass(frozen=True, eq=False)
class DCFlowResult:
    """A DC power flow's solution.

    Attributes
    ----------
    theta_rad
        Bus voltage angles [rad], 0 at each island's reference bus; shape (n_bus,) or
        (n_bus, k).
    flow_mw
        Flow on each in-service branch [MW], positive from ``from_bus`` to ``to_bus``;
        shape (n_branch,) or (n_branch, k).
    slack_mw
        Per island, the injection the reference bus added to balance it [MW]
        (positive: the reference generated more / took less; ``-`` the island's
        injection sum). Zeros when the flow was solved with ``balance=True``. Shape
        (n_islands,) or (n_islands, k).
    """

    theta_rad: np.ndarray
    flow_mw: np.ndarray
    slack_mw: np.ndarray


def _column(df: pd.DataFrame, name: str, default: float) -> np.ndarray:
    """A numeric column as float, or ``default`` everywhere when the column is absent."""
    if name not in df.columns:
        return np.full(len(df), default, dtype=float)
    return pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float)


def _in_service(df: pd.DataFrame) -> np.ndarray:
    """The ``in_service`` column as bool (all True when absent)."""
    if "in_service" not in df.columns:
        return np.ones(len(df), dtype=bool)
    return df["in_service"].fillna(True).astype(bool).to_numpy()


def _gen_capacity_per_bus(grid: Grid, bus_ids: pd.Index) -> np.ndarray:
    """Sum of ``p_max_mw`` of in-service generators at each bus [MW] (0 at buses without)."""
    gen = grid.generators
    cap = np.zeros(len(bus_ids))
    if len(gen) == 0:
        return cap
    on = _in_service(gen)
    pos = bus_ids.get_indexer(gen["bus_id"].astype(str))
    bad = on & (pos < 0)
    if bad.any():
        report = ProblemReport()
        report.add_rows(
            np.flatnonzero(bad),
            lambda i: f"bus '{gen['bus_id'].iloc[i]}' is not a bus of the grid",
            layer="generators",
            field="bus_id",
            ids=list(gen.index.astype(str)),
        )
        report.raise_if_any(what="grid")
    p_max = np.nan_to_num(_column(gen, "p_max_mw", 0.0), nan=0.0)
    np.add.at(cap, pos[on], p_max[on])
    return cap


def dc_network(grid: Grid) -> DCNetwork:
    """Build the DC network model (MATPOWER ``makeBdc``, in MW) of ``grid``.

    Parameters
    ----------
    grid
        The grid. Used: ``buses`` (index, ``bus_type``), ``branches`` (``from_bus``,
        ``to_bus``, ``x_pu``, ``tap_ratio``, ``shift_deg``, ``rating_mw``,
        ``in_service``), ``generators`` (``bus_id``, ``p_max_mw``, ``in_service``, to
        choose references of islands without a ``bus_type`` 3 bus) and ``base_mva``.

    Returns
    -------
    DCNetwork
        Matrices in MW/rad: ``b = base_mva / (x_pu * tap_ratio)``,
        ``Bf = diag(b) Cft``, ``Bbus = Cft' Bf``; phase-shift injections
        ``p_shift_branch_mw = -b * shift_rad`` and ``p_shift_bus_mw = Cft'
        p_shift_branch_mw`` (MATPOWER's ``Pfinj``, ``Pbusinj`` times ``base_mva``).

    Raises
    ------
    siting.errors.InputError
        (a ``ValueError``) naming each bad row by ``branch_id``/``bus_id`` and field:
        duplicate bus IDs, an in-service branch whose end is not a bus or that
        connects a bus to itself, ``x_pu * tap_ratio`` zero or not finite, a
        non-finite phase shift or a missing rating, a bad ``base_mva``.
    """
    report = ProblemReport()
    base_mva = float(grid.base_mva)
    if not (np.isfinite(base_mva) and base_mva > 0):
        report.add(f"base_mva must be a finite number > 0 [MVA], got {grid.base_mva!r}")

    bus_ids = pd.Index(grid.buses.index.astype(str), name="bus_id")
    if bus_ids.has_duplicates:
        dup = bus_ids[bus_ids.duplicated()].unique()
        report.add(f"bus IDs must be unique; repeated: {_few(dup)}", layer="buses", field="bus_id")
        report.raise_if_any(what="grid")
    n = len(bus_ids)

    # checked on the whole table (so rows are the grid's rows), only where in service
    br = grid.branches
    all_ids = br.index.astype(str)
    row_ids = list(all_ids)
    on = _in_service(br)
    dropped = all_ids[~on]
    if all_ids.has_duplicates:
        dup = all_ids[all_ids.duplicated()].unique()
        report.add(
            f"branch IDs must be unique; repeated: {_few(dup)}", layer="branches", field="branch_id"
        )

    f_all = bus_ids.get_indexer(br["from_bus"].astype(str))
    t_all = bus_ids.get_indexer(br["to_bus"].astype(str))
    for end, pos in (("from_bus", f_all), ("to_bus", t_all)):
        report.add_rows(
            np.flatnonzero(on & (pos < 0)),
            lambda i, end=end: f"bus '{br[end].iloc[i]}' is not a bus of the grid",
            layer="branches",
            field=end,
            ids=row_ids,
        )
    report.add_rows(
        np.flatnonzero(on & (f_all == t_all) & (f_all >= 0)),
        lambda i: f"the branch connects bus '{br['from_bus'].iloc[i]}' to itself",
        layer="branches",
        field="to_bus",
        ids=row_ids,
    )

    x_all = _column(br, "x_pu", np.nan)
    tap_all = _column(br, "tap_ratio", 1.0)
    shift_all = _column(br, "shift_deg", 0.0)
    rating_all = _column(br, "rating_mw", np.inf)
    bad_x = on & (~np.isfinite(x_all) | (x_all == 0))
    report.add_rows(
        np.flatnonzero(bad_x),
        lambda i: (
            "expected a finite, non-zero reactance [pu] (DC flow divides by "
            f"x_pu * tap_ratio), got {float(x_all[i]):g}"
        ),
        layer="branches",
        field="x_pu",
        ids=row_ids,
    )
    bad_tap = on & (~np.isfinite(tap_all) | (tap_all == 0))
    report.add_rows(
        np.flatnonzero(bad_tap & ~bad_x),
        lambda i: (
            "expected a finite, non-zero tap ratio (DC flow divides by "
            f"x_pu * tap_ratio), got {float(tap_all[i]):g}"
        ),
        layer="branches",
        field="tap_ratio",
        ids=row_ids,
    )
    report.add_rows(
        np.flatnonzero(on & ~np.isfinite(shift_all)),
        lambda i: f"expected a finite phase shift [degrees], got {float(shift_all[i]):g}",
        layer="branches",
        field="shift_deg",
        ids=row_ids,
    )
    report.add_rows(
        np.flatnonzero(on & np.isnan(rating_all)),
        lambda i: "expected a rating [MW] (inf = unlimited), got NaN",
        layer="branches",
        field="rating_mw",
        ids=row_ids,
    )
    report.raise_if_any(what="grid")

    ids = [row_ids[i] for i in np.flatnonzero(on)]
    m = len(ids)
    f, t = f_all[on], t_all[on]
    x, tap, shift_deg, rating = x_all[on], tap_all[on], shift_all[on], rating_all[on]

    # --- matrices (MATPOWER makeBdc, times base_mva) ---------------------------------
    b = base_mva / (x * tap)  # [MW/rad]
    shift_rad = np.deg2rad(shift_deg)
    rows = np.concatenate([np.arange(m), np.arange(m)])
    cols = np.concatenate([f, t])
    Bf = sp.csr_matrix((np.concatenate([b, -b]), (rows, cols)), shape=(m, n))
    Cft = sp.csr_matrix((np.concatenate([np.ones(m), -np.ones(m)]), (rows, cols)), shape=(m, n))
    Bbus = sp.csr_matrix(Cft.T @ Bf)
    p_shift_branch = -b * shift_rad  # MATPOWER Pfinj * baseMVA [MW]
    p_shift_bus = Cft.T @ p_shift_branch  # MATPOWER Pbusinj * baseMVA [MW]

    # --- islands and their references ------------------------------------------------
    adjacency = sp.csr_matrix((np.ones(m), (f, t)), shape=(n, n))
    n_islands, island = connected_components(adjacency, directed=False)
    island = island.astype(np.int64)
    is_ref_type = _column(grid.buses, "bus_type", 1.0) == 3
    cap = _gen_capacity_per_bus(grid, bus_ids)
    position = np.arange(n)
    # per island: a type-3 bus first, then the largest capacity, then the first bus
    order = np.lexsort((position, -cap, ~is_ref_type, island))
    first = np.ones(n, dtype=bool)
    first[1:] = island[order][1:] != island[order][:-1]
    ref_idx = order[first]  # island[order][first] is 0, 1, 2 ... in order

    # --- notes -----------------------------------------------------------------------
    notes: list[str] = []
    if len(dropped):
        notes.append(
            f"{len(dropped)} of {len(all_ids)} branches out of service, left out of the "
            f"DC network: {_few(dropped)}"
        )
    if n_islands > 1:
        sizes = np.bincount(island, minlength=n_islands)
        shown = [
            f"island {i}: {sizes[i]} bus{'es' if sizes[i] != 1 else ''}, "
            f"reference '{bus_ids[ref_idx[i]]}'"
            for i in range(min(n_islands, MAX_ROWS_NAMED))
        ]
        more = f"; and {n_islands - MAX_ROWS_NAMED} more" if n_islands > MAX_ROWS_NAMED else ""
        notes.append(f"{n_islands} islands: " + "; ".join(shown) + more)
    n_ref_type = np.bincount(island[is_ref_type], minlength=n_islands)
    no_ref = np.flatnonzero(n_ref_type == 0)
    if len(no_ref):
        chosen = [
            f"'{bus_ids[ref_idx[i]]}' for island {i} "
            + (
                f"(largest generation capacity, {cap[ref_idx[i]]:g} MW)"
                if cap[ref_idx[i]] > 0
                else "(no generation; its first bus)"
            )
            for i in no_ref[:MAX_ROWS_NAMED]
        ]
        more = f"; and {len(no_ref) - MAX_ROWS_NAMED} more" if len(no_ref) > MAX_ROWS_NAMED else ""
        notes.append(
            f"{len(no_ref)} island{'s' if len(no_ref) != 1 else ''} without a reference bus "
            f"(bus_type 3); reference chosen: " + "; ".join(chosen) + more
        )
    for i in np.flatnonzero(n_ref_type > 1):
        refs = bus_ids[(island == i) & is_ref_type]
        notes.append(
            f"island {i} has {len(refs)} reference buses (bus_type 3): {_few(refs)}; "
            f"'{bus_ids[ref_idx[i]]}' is its angle reference, the others are not held at 0"
        )

    return DCNetwork(
        bus_ids=bus_ids,
        branch_ids=pd.Index(ids, name="branch_id", dtype=object),
        from_idx=f.astype(np.int64),
        to_idx=t.astype(np.int64),
        b_mw_per_rad=b,
        shift_rad=shift_rad,
        rating_mw=rating,
        Bbus=Bbus,
        Bf=Bf,
        p_shift_bus_mw=np.asarray(p_shift_bus, dtype=float),
        p_shift_branch_mw=p_shift_branch,
        ref_idx=ref_idx.astype(np.int64),
        island=island,
        notes=notes,
    )


def dc_flow(net: DCNetwork, injection_mw: np.ndarray, balance: bool = True) -> DCFlowResult:
    """Solve the DC power flow for one or many injection vectors.

    Solves ``Bbus theta = P - p_shift_bus_mw`` with ``theta = 0`` at each island's
    reference bus (one sparse LU of ``Bbus`` without the reference rows and columns,
    cached on ``net`` and reused for every column and call), then
    ``flow = Bf theta + p_shift_branch_mw``.

    Parameters
    ----------
    net
        From :func:`dc_network`.
    injection_mw
        Net injection per bus, generation minus load [MW], in ``net.bus_ids`` order;
        shape (n_bus,) or (n_bus, k) for k cases at once.
    balance
        If true (default), each island's injections must sum to zero within
        ``1e-6 * sum(|P|) + 1e-6`` MW (sum over the island's buses), else
        :class:`DCFlowError`. If false, each island's imbalance is put on its
        reference bus and returned as ``slack_mw``.

    Returns
    -------
    DCFlowResult
        Angles [rad], branch flows [MW, from -> to positive] and per-island slack [MW].

    Raises
    ------
    DCFlowError
        (a ``ValueError``) on a wrong shape, a non-finite injection, an unbalanced
        island (naming its first buses and the imbalance in MW), or a singular matrix.
    """
    p = np.asarray(injection_mw, dtype=float)
    n = net.n_bus
    if p.ndim not in (1, 2) or p.shape[0] != n:
        raise DCFlowError(
            f"injection_mw has shape {p.shape}; expected ({n},) or ({n}, k): one row per bus "
            "of the network, in net.bus_ids order"
        )
    one = p.ndim == 1
    P = p[:, None] if one else p
    bad = ~np.isfinite(P)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise DCFlowError(
            f"injection_mw is not finite at {len(rows)} bus(es): {_few(net.bus_ids[rows])}"
        )
    k = P.shape[1]
    n_isl = net.n_islands

    # per-island sums of P and |P|, all columns at once
    member = sp.csr_matrix((np.ones(n), (net.island, np.arange(n))), shape=(n_isl, n))
    total = np.asarray(member @ P)  # (n_isl, k)
    scale = np.asarray(member @ np.abs(P))
    tol = 1e-6 * scale + 1e-6
    if balance:
        off = np.argwhere(np.abs(total) > tol)  # (island, column) pairs
        if len(off):
            lines = []
            for i, c in off[:MAX_ROWS_NAMED]:
                buses = net.bus_ids[net.island == i]
                col = "" if one else f", column {c}"
                lines.append(
                    f"island {i} ({len(buses)} bus{'es' if len(buses) != 1 else ''}: "
                    f"{_few(buses)}{col}): injections sum to {total[i, c]:+.6g} MW, not 0 "
                    f"(tolerance {tol[i, c]:.3g} MW)"
                )
            if len(off) > MAX_ROWS_NAMED:
                lines.append(f"... and {len(off) - MAX_ROWS_NAMED} more")
            raise DCFlowError(
                "unbalanced injections (generation minus load must sum to 0 in each island; "
                "or call dc_flow(..., balance=False) to put the imbalance on each island's "
                "reference bus):\n  " + "\n  ".join(lines)
            )
        slack = np.zeros((n_isl, k))
    else:
        slack = -total

    theta = np.zeros((n, k))
    keep = net._non_ref()
    if len(keep):
        rhs = (P - net.p_shift_bus_mw[:, None])[keep]
        theta[keep] = net._lu().solve(np.ascontiguousarray(rhs))
    flow = net.Bf @ theta + net.p_shift_branch_mw[:, None]
    if one:
        return DCFlowResult(theta[:, 0], np.asarray(flow)[:, 0], slack[:, 0])
    return DCFlowResult(theta, np.asarray(flow), slack)


def loading_pct(net: DCNetwork, flow_mw: np.ndarray) -> np.ndarray:
    """Branch loading ``100 * |flow| / rating`` [%]; 0 where the rating is ``inf``.

    Parameters
    ----------
    net
        From :func:`dc_network`.
    flow_mw
        Flow per in-service branch [MW], shape (n_branch,) or (n_branch, k).
    """
    flow = np.asarray(flow_mw, dtype=float)
    if flow.ndim not in (1, 2) or flow.shape[0] != net.n_branch:
        raise DCFlowError(
            f"flow_mw has shape {flow.shape}; expected ({net.n_branch},) or "
            f"({net.n_branch}, k): one row per in-service branch"
        )
    rating = net.rating_mw if flow.ndim == 1 else net.rating_mw[:, None]
    limited = np.isfinite(rating) & (rating > 0)
    safe = np.where(limited, rating, 1.0)
    return np.where(limited, 100.0 * np.abs(flow) / safe, 0.0)


def injections_from_grid(
    grid: Grid,
    net: DCNetwork,
    load_scale: float = 1.0,
    gen_mw: pd.Series | None = None,
) -> np.ndarray:
    """Net injection per bus [MW]: dispatch minus load minus shunt, in ``net.bus_ids`` order.

    ``P_i = sum(gen_mw at bus i) - load_scale * load_mw_i - shunt_mw_i``. The shunt
    (MATPOWER ``Gs``) is the MW a shunt conductance draws at 1 pu voltage, a load in
    the DC model; it is not scaled by ``load_scale``.

    Parameters
    ----------
    grid
        The grid ``net`` was built from (same buses, same order).
    net
        From :func:`dc_network`.
    load_scale
        Factor on ``load_mw``.
    gen_mw
        Output per generator [MW], indexed by ``gen_id``. Generators not in it produce
        0; ``None`` means no generation at all (injections are then minus the load).
        Out-of-service generators must not be given a non-zero output.

    Returns
    -------
    numpy.ndarray
        Shape (n_bus,) [MW].

    Raises
    ------
    siting.errors.InputError
        Buses differing from ``net``'s, a missing load, a generator ID that is not in
        the grid, output given to an out-of-service generator, or a non-finite output.
    """
    report = ProblemReport()
    bus_ids = pd.Index(grid.buses.index.astype(str))
    if not bus_ids.equals(net.bus_ids):
        raise InputError(
            "the grid's buses are not those of the DC network (build the network with "
            "dc_network(grid) from this grid)",
            what="grid",
        )
    load = _column(grid.buses, "load_mw", 0.0)
    shunt = np.nan_to_num(_column(grid.buses, "shunt_mw", 0.0), nan=0.0)
    report.add_rows(
        np.flatnonzero(~np.isfinite(load)),
        lambda i: f"expected a finite load [MW], got {load[i]!r}",
        layer="buses",
        field="load_mw",
        ids=list(bus_ids),
    )
    report.raise_if_any(what="grid")
    p = -float(load_scale) * load - shunt

    if gen_mw is not None:
        gen = grid.generators
        gen_ids = pd.Index(gen.index.astype(str))
        out = pd.Series(gen_mw, dtype=float)
        out.index = out.index.astype(str)
        unknown = out.index[~out.index.isin(gen_ids)]
        if len(unknown):
            report.add(
                f"{len(unknown)} generator ID(s) of gen_mw not in the grid: {_few(unknown)}",
                layer="generators",
                field="gen_id",
            )
        if out.index.has_duplicates:
            report.add(
                f"gen_mw names a generator twice: {_few(out.index[out.index.duplicated()])}",
                layer="generators",
                field="gen_id",
            )
        report.raise_if_any(what="dispatch")
        mw = out.reindex(gen_ids).fillna(0.0).to_numpy()
        given = out.reindex(gen_ids).notna().to_numpy()
        on = _in_service(gen)
        report.add_rows(
            np.flatnonzero(~np.isfinite(mw)),
            lambda i: f"expected a finite output [MW], got {mw[i]!r}",
            layer="generators",
            field="gen_mw",
            ids=list(gen_ids),
        )
        report.add_rows(
            np.flatnonzero(~on & given & (mw != 0)),
            lambda i: f"the generator is out of service but is given {mw[i]:g} MW",
            layer="generators",
            field="in_service",
            ids=list(gen_ids),
        )
        pos = bus_ids.get_indexer(gen["bus_id"].astype(str))
        report.add_rows(
            np.flatnonzero(on & (pos < 0)),
            lambda i: f"bus '{gen['bus_id'].iloc[i]}' is not a bus of the grid",
            layer="generators",
            field="bus_id",
            ids=list(gen_ids),
        )
        report.raise_if_any(what="dispatch")
        use = on & (mw != 0)
        p = p + np.bincount(pos[use], weights=mw[use], minlength=len(bus_ids))
    return p
