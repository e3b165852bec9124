"""DC network model of a :class:`~siting.inputs.grids.grid.Grid`: matrices and power flow.

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

Sensitivities
-------------
:func:`ptdf` (power transfer distribution factors: MW of branch flow per MW injected
at a bus and withdrawn at the slack), :func:`lodf` (line outage distribution
factors: MW of flow change on a branch per MW that flowed on a branch before it
tripped), :func:`radial_branches` (the branches whose outage splits an island, for
which an LODF does not exist) and :func:`post_outage_flows` are built on the same
cached LU as :func:`dc_flow`. Phase shifts are fixed injections: they move the base
flows but not the sensitivities.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import splu

from siting.core.errors import MAX_ROWS_NAMED, InputError, ProblemReport, SitingError
from siting.inputs.grids.grid import Grid

__all__ = [
    "DCFlowError",
    "DCFlowResult",
    "DCNetwork",
    "dc_flow",
    "dc_network",
    "injections_from_grid",
    "kept_columns",
    "loading_pct",
    "lodf",
    "post_outage_flows",
    "ptdf",
    "radial_branches",
    "require_network",
    "slack_weights",
]


class DCFlowError(SitingError, ValueError):
    """A DC power flow cannot be solved as asked (unbalanced island, singular matrix, bad shape)."""


def _few(ids: Iterable[object], n: int = 5) -> str:
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

    def __getstate__(self) -> dict[str, Any]:
        """The network without its cache, for pickling (a SuperLU factor cannot be pickled;
        it is rebuilt on first use): the model's data go to Dask workers so."""
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state

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


def require_network(net: DCNetwork | None, what: str) -> DCNetwork:
    """``net``, the DC network a grid step needs, or a :class:`SitingError` saying it is missing.

    A model's data hold a DC network exactly when the grid is modelled (``grid.enabled``
    and a grid layer); a step that reads flows, ratings or buses runs only then.

    Parameters
    ----------
    net
        The DC network, or None (the grid is not modelled).
    what
        The step that needs it, for the message (``"the plan's flows"``).
    """
    if net is None:
        raise SitingError(
            f"{what} needs the DC network, and there is none: the grid is not modelled "
            "(the scenario's grid.enabled is off, or it has no grid layer)"
        )
    return net


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
    pos = bus_ids.get_indexer(pd.Index(gen["bus_id"].astype(str)))
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
    siting.core.errors.InputError
        (a ``ValueError``) naming each bad row by ``branch_id``/``bus_id`` and field:
        duplicate bus IDs, an in-service branch whose end is not a bus or that
        connects a bus to itself, ``x_pu * tap_ratio`` zero or not finite, a
        non-finite phase shift or a missing rating, a bad ``base_mva``; a reactance so
        small (``1e-306`` pu) that ``b``, ``b * shift`` or a bus's sum overflows.
    """
    report = ProblemReport()
    base_mva = float(grid.base_mva)
    if not (np.isfinite(base_mva) and base_mva > 0):
        report.add(f"base_mva must be a finite number > 0 [MVA], got {grid.base_mva!r}")
    bus_ids = _bus_ids(grid, report)
    # checked on the whole table (so rows are the grid's rows), only where in service
    br = _branch_table(grid, bus_ids, report)
    _check_branch_values(br, base_mva, report)
    report.raise_if_any(what="grid")

    on = br.on
    ids = [br.row_ids[i] for i in np.flatnonzero(on)]
    f, t = br.f[on], br.t[on]
    b, shift_rad, Bf, Bbus, p_shift_branch, p_shift_bus = _bdc_matrices(
        base_mva, f, t, br.x[on], br.tap[on], br.shift_deg[on], bus_ids, report
    )
    n_islands, island, ref_idx, is_ref_type, cap = _islands(grid, bus_ids, f, t)
    notes = _dropped_notes(br) + _island_notes(bus_ids, n_islands, island, ref_idx)
    notes += _reference_notes(bus_ids, n_islands, island, ref_idx, is_ref_type, cap)
    return DCNetwork(
        bus_ids=bus_ids,
        branch_ids=pd.Index(ids, name="branch_id", dtype=object),
        from_idx=f.astype(np.int64),
        to_idx=t.astype(np.int64),
        b_mw_per_rad=b,
        shift_rad=shift_rad,
        rating_mw=br.rating[on],
        Bbus=Bbus,
        Bf=Bf,
        p_shift_bus_mw=np.asarray(p_shift_bus, dtype=float),
        p_shift_branch_mw=p_shift_branch,
        ref_idx=ref_idx.astype(np.int64),
        island=island,
        notes=notes,
    )


def _bus_ids(grid: Grid, report: ProblemReport) -> pd.Index:
    """The grid's bus IDs as strings (``bus_id``).

    Raises
    ------
    siting.core.errors.InputError
        Repeated bus IDs (with the problems ``report`` holds already).
    """
    bus_ids = pd.Index(grid.buses.index.astype(str), name="bus_id")
    if bus_ids.has_duplicates:
        dup = bus_ids[bus_ids.duplicated()].unique()
        report.add(f"bus IDs must be unique; repeated: {_few(dup)}", layer="buses", field="bus_id")
        report.raise_if_any(what="grid")
    return bus_ids


@dataclass(frozen=True, eq=False)
class _BranchTable:
    """The branches table as arrays, every row (in service or not), in the grid's order.

    Attributes
    ----------
    all_ids
        Branch IDs as strings.
    row_ids
        The same as a list (the rows problems name).
    on
        Whether each branch is in service.
    f, t
        Position in the bus IDs of the from and to bus (-1: not a bus).
    x, tap, shift_deg, rating
        ``x_pu`` [pu], ``tap_ratio``, ``shift_deg`` [degrees], ``rating_mw`` [MW] (defaults
        where a column is absent: NaN, 1, 0, inf).
    """

    all_ids: pd.Index
    row_ids: list[str]
    on: np.ndarray
    f: np.ndarray
    t: np.ndarray
    x: np.ndarray
    tap: np.ndarray
    shift_deg: np.ndarray
    rating: np.ndarray


def _branch_table(grid: Grid, bus_ids: pd.Index, report: ProblemReport) -> _BranchTable:
    """The branches as arrays; adds to ``report`` repeated branch IDs and, for in-service
    branches, ends that are not buses and branches from a bus to itself."""
    br = grid.branches
    all_ids = br.index.astype(str)
    row_ids = list(all_ids)
    on = _in_service(br)
    if all_ids.has_duplicates:
        dup = all_ids[all_ids.duplicated()].unique()
        report.add(
            f"branch IDs must be unique; repeated: {_few(dup)}", layer="branches", field="branch_id"
        )

    f_all = bus_ids.get_indexer(pd.Index(br["from_bus"].astype(str)))
    t_all = bus_ids.get_indexer(pd.Index(br["to_bus"].astype(str)))
    for end, pos in (("from_bus", f_all), ("to_bus", t_all)):

        def not_a_bus(i: int, end: str = end) -> str:
            return f"bus '{br[end].iloc[i]}' is not a bus of the grid"

        report.add_rows(
            np.flatnonzero(on & (pos < 0)),
            not_a_bus,
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
    return _BranchTable(
        all_ids=all_ids,
        row_ids=row_ids,
        on=on,
        f=f_all,
        t=t_all,
        x=_column(br, "x_pu", np.nan),
        tap=_column(br, "tap_ratio", 1.0),
        shift_deg=_column(br, "shift_deg", 0.0),
        rating=_column(br, "rating_mw", np.inf),
    )


def _check_branch_values(br: _BranchTable, base_mva: float, report: ProblemReport) -> None:
    """Add to ``report`` the in-service branches whose reactance [pu], tap ratio, phase
    shift [degrees] or rating [MW] the DC model cannot take (``base_mva`` [MVA])."""
    row_ids, on = br.row_ids, br.on
    x_all, tap_all, shift_all, rating_all = br.x, br.tap, br.shift_deg, br.rating
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
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        b_all = base_mva / (x_all * tap_all)
        shift_overflow = ~np.isfinite(b_all * np.deg2rad(shift_all))
    # reactances that are finite but absurdly small (1e-300 pu) overflow in the products
    report.add_rows(
        np.flatnonzero(on & ~bad_x & ~bad_tap & ~(np.isfinite(b_all) & (b_all != 0))),
        lambda i: (
            f"x_pu * tap_ratio = {float(x_all[i]):g} * {float(tap_all[i]):g} is out of range: "
            "base_mva / (x_pu * tap_ratio) is not a finite non-zero number; expected a per-unit "
            "reactance such as 0.01"
        ),
        layer="branches",
        field="x_pu",
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
        np.flatnonzero(
            on & np.isfinite(b_all) & (b_all != 0) & np.isfinite(shift_all) & shift_overflow
        ),
        lambda i: (
            f"phase shift {float(shift_all[i]):g} degrees times the susceptance "
            f"{float(b_all[i]):g} MW/rad is not a finite number; expected a per-unit "
            "reactance such as 0.01"
        ),
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


def _bdc_matrices(
    base_mva: float,
    f: np.ndarray,
    t: np.ndarray,
    x: np.ndarray,
    tap: np.ndarray,
    shift_deg: np.ndarray,
    bus_ids: pd.Index,
    report: ProblemReport,
) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix, sp.csr_matrix, np.ndarray, np.ndarray]:
    """MATPOWER ``makeBdc`` times ``base_mva`` for the in-service branches.

    Parameters
    ----------
    base_mva
        System base [MVA].
    f, t
        From and to bus positions of the in-service branches.
    x, tap, shift_deg
        Their reactance [pu], tap ratio and phase shift [degrees].
    bus_ids
        All buses (the matrices' columns).
    report
        Problems so far (none).

    Returns
    -------
    b, shift_rad, Bf, Bbus, p_shift_branch, p_shift_bus
        Susceptances [MW/rad], shifts [rad], ``Bf`` and ``Bbus`` [MW/rad], MATPOWER's
        ``Pfinj`` and ``Pbusinj`` times ``base_mva`` [MW].

    Raises
    ------
    siting.core.errors.InputError
        Buses whose susceptances sum to more than a float holds.
    """
    m, n = len(f), len(bus_ids)
    b = base_mva / (x * tap)  # [MW/rad]
    shift_rad = np.deg2rad(shift_deg)
    rows = np.concatenate([np.arange(m), np.arange(m)])
    cols = np.concatenate([f, t])
    Bf = sp.csr_matrix((np.concatenate([b, -b]), (rows, cols)), shape=(m, n))
    Cft = sp.csr_matrix((np.concatenate([np.ones(m), -np.ones(m)]), (rows, cols)), shape=(m, n))
    with np.errstate(over="ignore", invalid="ignore"):
        Bbus = sp.csr_matrix(Cft.T @ Bf)
        p_shift_branch = -b * shift_rad  # MATPOWER Pfinj * baseMVA [MW]
        p_shift_bus = Cft.T @ p_shift_branch  # MATPOWER Pbusinj * baseMVA [MW]
    report.add_rows(
        np.flatnonzero(~np.isfinite(Bbus.diagonal()) | ~np.isfinite(p_shift_bus)),
        "the susceptances of the branches at this bus sum to more than a float holds; "
        "expected per-unit reactances such as 0.01",
        layer="buses",
        field="bus_id",
        ids=list(bus_ids),
    )
    report.raise_if_any(what="grid")
    return b, shift_rad, Bf, Bbus, p_shift_branch, p_shift_bus


def _islands(
    grid: Grid, bus_ids: pd.Index, f: np.ndarray, t: np.ndarray
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The islands of the in-service branches (from and to bus positions ``f``, ``t``) and
    their reference buses: per island a ``bus_type`` 3 bus first, then the largest
    in-service generation capacity, then the first bus.

    Returns
    -------
    n_islands, island, ref_idx, is_ref_type, cap
        Number of islands, island of each bus, reference bus of each island, whether each
        bus is of ``bus_type`` 3, in-service generation capacity per bus [MW].
    """
    n = len(bus_ids)
    adjacency = sp.csr_matrix((np.ones(len(f)), (f, t)), shape=(n, n))
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
    return n_islands, island, ref_idx, is_ref_type, cap


def _dropped_notes(br: _BranchTable) -> list[str]:
    """The note on the branches out of service (none when all are in service)."""
    dropped = br.all_ids[~br.on]
    if not len(dropped):
        return []
    return [
        f"{len(dropped)} of {len(br.all_ids)} branches out of service, left out of the "
        f"DC network: {_few(dropped)}"
    ]


def _island_notes(
    bus_ids: pd.Index, n_islands: int, island: np.ndarray, ref_idx: np.ndarray
) -> list[str]:
    """The note on the islands and their references (none for one island)."""
    if n_islands <= 1:
        return []
    sizes = np.bincount(island, minlength=n_islands)
    shown = [
        f"island {i}: {sizes[i]} bus{'es' if sizes[i] != 1 else ''}, "
        f"reference '{bus_ids[ref_idx[i]]}'"
        for i in range(min(n_islands, MAX_ROWS_NAMED))
    ]
    more = f"; and {n_islands - MAX_ROWS_NAMED} more" if n_islands > MAX_ROWS_NAMED else ""
    return [f"{n_islands} islands: " + "; ".join(shown) + more]


def _reference_notes(
    bus_ids: pd.Index,
    n_islands: int,
    island: np.ndarray,
    ref_idx: np.ndarray,
    is_ref_type: np.ndarray,
    cap: np.ndarray,
) -> list[str]:
    """Notes on the islands without a ``bus_type`` 3 bus (the reference chosen, by
    generation capacity ``cap`` [MW]) and on those with more than one."""
    notes: list[str] = []
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
    return notes


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
    siting.core.errors.InputError
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
        p = p + _dispatch_per_bus(grid, bus_ids, gen_mw, report)
    return p


def _dispatch_per_bus(
    grid: Grid, bus_ids: pd.Index, gen_mw: pd.Series, report: ProblemReport
) -> np.ndarray:
    """The output of the generators per bus [MW] (``gen_mw`` per gen_id [MW]).

    Raises
    ------
    siting.core.errors.InputError
        A generator ID that is not in the grid or given twice; then a non-finite output,
        output given to an out-of-service generator, or its bus not in the grid.
    """
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
    pos = bus_ids.get_indexer(pd.Index(gen["bus_id"].astype(str)))
    report.add_rows(
        np.flatnonzero(on & (pos < 0)),
        lambda i: f"bus '{gen['bus_id'].iloc[i]}' is not a bus of the grid",
        layer="generators",
        field="bus_id",
        ids=list(gen_ids),
    )
    report.raise_if_any(what="dispatch")
    use = on & (mw != 0)
    return np.bincount(pos[use], weights=mw[use], minlength=len(bus_ids))


# --- sensitivities: PTDF, LODF ------------------------------------------------------

#: Columns of the reduced ``Bbus`` solved at once by :func:`ptdf` (bounds the temporary
#: ``n_bus x PTDF_BLOCK`` array of angles).
PTDF_BLOCK = 512

#: At most this many blocks of :func:`ptdf` are solved at once, each in its own thread
#: (SuperLU's solve and SciPy's sparse product release Python's lock); fewer when the
#: process may use fewer cores (:func:`_ptdf_workers`).
PTDF_MAX_WORKERS = 4

#: An outage whose ``1 - PTDF_k,from + PTDF_k,to`` is below this (in absolute value)
#: splits its island (:func:`radial_branches`).
RADIAL_TOL = 1e-8

SlackSpec = str | Sequence[str] | dict[str, float] | None


def slack_weights(net: DCNetwork, slack: SlackSpec = None) -> np.ndarray:
    """Share of each bus in taking up a change of injection in its island.

    Parameters
    ----------
    net
        From :func:`dc_network`.
    slack
        - ``None``: each island's reference bus (``net.ref_idx``) takes everything;
        - a bus ID (``str``): that bus is the slack of its island; every other island
          keeps its reference bus;
        - a sequence of bus IDs: those buses share equally (per island);
        - a ``dict`` bus ID -> weight (>= 0, any unit, e.g. MW of capacity): shares in
          proportion to the weights, normalised per island.

        An island without any named bus (or whose weights sum to 0) keeps its
        reference bus.

    Returns
    -------
    numpy.ndarray
        Shape (n_bus,), ``w >= 0``, summing to 1 over the buses of each island.

    Raises
    ------
    DCFlowError
        An unknown bus ID, a weight that is negative or not finite, a bus named twice.
    """
    n = net.n_bus
    w = np.zeros(n)
    if slack is None:
        w[net.ref_idx] = 1.0
        return w
    if isinstance(slack, str):
        ids, vals = [slack], np.ones(1)
    elif isinstance(slack, dict):
        ids = [str(k) for k in slack]
        vals = np.asarray([float(v) for v in slack.values()], dtype=float)
    else:
        ids = [str(k) for k in slack]
        vals = np.ones(len(ids))
    pos = net.bus_ids.get_indexer(pd.Index(ids))
    if (pos < 0).any():
        unknown = [i for i, p in zip(ids, pos, strict=True) if p < 0]
        raise DCFlowError(f"slack bus(es) not in the grid: {_few(unknown)}")
    if len(set(ids)) != len(ids):
        raise DCFlowError("a slack bus is named twice")
    bad = ~np.isfinite(vals) | (vals < 0)
    if bad.any():
        raise DCFlowError(
            f"slack weights must be finite and >= 0; got {vals[bad][0]!r} for bus "
            f"'{ids[int(np.flatnonzero(bad)[0])]}'"
        )
    w[pos] = vals
    total = np.bincount(net.island, weights=w, minlength=net.n_islands)
    empty = np.flatnonzero(total <= 0)
    w = np.where(total[net.island] > 0, w / np.where(total > 0, total, 1.0)[net.island], 0.0)
    w[net.ref_idx[empty]] = 1.0
    return w


def _ref_ptdf_columns(
    net: DCNetwork, rhs: np.ndarray, *, bf_kept: Any = None, limit_blas: bool = True
) -> np.ndarray:
    """``Bf theta`` for ``Bbus theta = rhs`` (theta 0 at the references), without shifts.

    ``rhs`` has shape (n_bus, k) [MW]; returns (n_branch, k) [MW]. Rows of ``rhs`` at
    reference buses are ignored (the reference takes them). ``bf_kept`` is
    ``net.Bf[:, net._non_ref()]`` when the caller has it; ``limit_blas=False`` when the
    caller already holds BLAS to one thread (:func:`_one_blas_thread`).
    """
    keep = net._non_ref()
    out = np.zeros((net.n_branch, rhs.shape[1]))
    if len(keep) and net.n_branch and rhs.shape[1]:
        lu = net._lu()
        with _one_blas_thread() if limit_blas else contextlib.nullcontext():
            theta = lu.solve(np.ascontiguousarray(rhs[keep]))
        out = np.asarray((net.Bf[:, keep] if bf_kept is None else bf_kept) @ theta)
    return out


def _ptdf_workers(n_blocks: int) -> int:
    """Threads for ``n_blocks`` blocks of :func:`ptdf`: at most :data:`PTDF_MAX_WORKERS`
    and the cores this process may run on."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(PTDF_MAX_WORKERS, cores, n_blocks))


def _one_blas_thread():
    """A context holding BLAS to one thread (when threadpoolctl is installed).

    SuperLU's solve with many right-hand sides makes many small BLAS calls; with a
    multi-threaded OpenBLAS on a busy machine each call waits for its threads, and
    case300's PTDF took 0.3 s instead of 3 ms (measured on 2 cores under load).
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - optional
        from contextlib import nullcontext

        return nullcontext()
    if not _BLAS:  # finding the loaded libraries takes ~8 ms: once per process
        _BLAS.append(ThreadpoolController())
    return _BLAS[0].limit(limits=1, user_api="blas")


#: The process's ``threadpoolctl.ThreadpoolController`` (:func:`_one_blas_thread`; made
#: on first use, when numpy's and SciPy's BLAS are loaded).
_BLAS: list[Any] = []


def ptdf(
    net: DCNetwork,
    slack: SlackSpec = None,
    *,
    buses: Sequence[str] | None = None,
    ref_ptdf: np.ndarray | None = None,
) -> np.ndarray:
    """Power transfer distribution factors [MW of flow per MW injected].

    ``PTDF[l, b]`` is the change of the from -> to flow on in-service branch ``l``
    when 1 MW is injected at bus ``b`` and withdrawn at the slack of ``b``'s island.
    For a single slack (each island's reference bus, ``slack=None``),

    .. math::

        \\mathrm{PTDF}_{:, \\bar r} = B_f[:, \\bar r]\\; B_{bus}[\\bar r, \\bar r]^{-1},
        \\qquad \\mathrm{PTDF}_{:, r} = 0,

    with ``r`` the reference buses and ``r-bar`` the others (MATPOWER ``makePTDF``,
    times nothing: flows and injections are both in MW). For a slack spread over the
    buses with weights ``w`` (:func:`slack_weights`, summing to 1 per island ``I``),

    .. math::

        \\mathrm{PTDF}^{w}_{:, b} = \\mathrm{PTDF}_{:, b} - \\sum_{j \\in I(b)} w_j\\,
        \\mathrm{PTDF}_{:, j}.

    A bus's column touches only the branches of its island. Phase shifts are fixed
    injections (``p_shift_*``) and do not enter: the flow for injections ``P`` is
    ``PTDF @ P`` plus the flow the shifts alone cause.

    Computed with the cached sparse LU of ``Bbus`` without the reference rows and
    columns (the one :func:`dc_flow` uses), solving for the requested bus columns in
    blocks of :data:`PTDF_BLOCK`. The result is dense: ``n_branch * n_columns * 8``
    bytes (a 3,000-bus, 4,000-branch grid: 96 MB); pass ``buses`` for a few columns
    of a large grid.

    Parameters
    ----------
    net
        From :func:`dc_network`.
    slack
        ``None`` (each island's reference bus), a bus ID, a list of bus IDs (equal
        shares) or a dict bus ID -> weight; see :func:`slack_weights`.
    buses
        Bus IDs whose columns to compute, in that order (default: all, in
        ``net.bus_ids`` order).
    ref_ptdf
        ``ptdf(net)`` (reference slack, every bus), when already computed (as
        :func:`siting.model.grid.ptdf_of` keeps it): the columns are taken from it
        instead of solved for, and a spread slack's withdrawal pattern is its columns
        weighted, shape (n_branch, n_bus) [MW/MW].

    Returns
    -------
    numpy.ndarray
        Shape (n_branch, n_bus), or (n_branch, len(buses)) [MW/MW].

    Raises
    ------
    DCFlowError
        An unknown bus or slack bus, a bad weight, a singular ``Bbus``.
    """
    n, m = net.n_bus, net.n_branch
    if buses is None:
        cols = np.arange(n)
    else:
        cols = net.bus_ids.get_indexer(pd.Index([str(b) for b in buses]))
        if (cols < 0).any():
            unknown = [b for b, c in zip(buses, cols, strict=True) if c < 0]
            raise DCFlowError(f"bus(es) not in the grid: {_few(unknown)}")
    w = slack_weights(net, slack)
    if ref_ptdf is not None and ref_ptdf.shape != (m, n):
        raise DCFlowError(f"ref_ptdf has shape {ref_ptdf.shape}; expected ({m}, {n})")
    if ref_ptdf is not None:
        # single-slack (reference) columns: a copy of them (a reference bus's is 0 in it, as
        # below), in one gather
        out = np.ascontiguousarray(ref_ptdf[:, cols], dtype=float)
    else:
        out = np.zeros((m, len(cols)))
        is_ref = np.zeros(n, dtype=bool)
        is_ref[net.ref_idx] = True
        # single-slack (reference) columns, block by block of unit injections
        need = np.flatnonzero(~is_ref[cols])
        blocks = [need[s : s + PTDF_BLOCK] for s in range(0, len(need), PTDF_BLOCK)]
        if blocks:
            _solve_ptdf_blocks(net, cols, blocks, out)
    # distributed (or moved) slack: minus the flow of the slack's own withdrawal pattern
    moved = np.flatnonzero(w[net.ref_idx] < 1.0)  # islands whose slack is not the reference
    if len(moved):
        v = _slack_pattern_flows(net, w, moved, ref_ptdf)
        col_island = net.island[cols]
        for j, i in enumerate(moved):
            hit = np.flatnonzero(col_island == i)
            if len(hit):
                out[:, hit] -= v[:, [j]]
    return out


def _slack_pattern_flows(
    net: DCNetwork, w: np.ndarray, moved: np.ndarray, ref_ptdf: np.ndarray | None
) -> np.ndarray:
    """The flows of each moved island's slack withdrawal pattern, ``PTDF_ref @ w_island``,
    shape (n_branch, len(moved)) [MW/MW] (:func:`ptdf`).

    With ``ref_ptdf`` the product is kept on ``net`` for that very matrix and weights: a
    caller that asks for a large grid's columns block by block (why-here's headroom on
    case9241pegase: 0.2 s a block, 1.8 s a plan) pays for it once.
    """
    rhs = np.zeros((net.n_bus, len(moved)))
    for j, i in enumerate(moved):
        members = net.island == i
        rhs[members, j] = w[members]
    if ref_ptdf is None:
        return _ref_ptdf_columns(net, rhs)
    return _kept(net, "slack_pattern_flows", ref_ptdf, w.tobytes(), lambda: ref_ptdf @ rhs)


def _kept(
    net: DCNetwork, name: str, ref_ptdf: np.ndarray, key: bytes, make: Callable[[], np.ndarray]
) -> np.ndarray:
    """``make()``, read-only, kept on ``net`` under ``name`` for the matrix ``ref_ptdf``
    (held weakly) and ``key``: the last one made is returned while both are the same."""
    kept = net._cache.get(name)
    if kept is not None and kept[0]() is ref_ptdf and kept[1] == key:
        return kept[2]
    out = make()
    out.setflags(write=False)
    net._cache[name] = (weakref.ref(ref_ptdf), key, out)
    return out


def kept_columns(net: DCNetwork, ref_ptdf: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``ref_ptdf[:, positions]`` (bus positions), contiguous and read-only, kept on ``net``
    for that matrix and those buses, so that the models built on one PTDF share it (the
    lazy loop's generator columns: 185 MB on case9241pegase, and a run builds several
    models) [MW/MW]."""
    positions = np.asarray(positions, dtype=np.int64)
    return _kept(
        net,
        "kept_columns",
        ref_ptdf,
        positions.tobytes(),
        lambda: np.ascontiguousarray(ref_ptdf[:, positions]),
    )


def _solve_ptdf_blocks(
    net: DCNetwork, cols: np.ndarray, blocks: list[np.ndarray], out: np.ndarray
) -> None:
    """Fill ``out[:, block]`` with the reference-slack PTDF columns ``cols[block]`` of each
    block (:func:`ptdf`), solving up to :func:`_ptdf_workers` blocks at once.

    Each block is the same solve whichever thread runs it, so the result is the same bit
    for bit as one block after another (a test checks this); a 2,000-bus grid's full PTDF
    took 0.25 s one block at a time and 0.14 s on 2 threads, ACTIVSg10k's 8.4 s and 4.1 s
    (2 cores). BLAS is held to one thread for the whole (its limit is the process's, so it
    is set once here, not per block by each thread).
    """
    n = net.n_bus
    keep = net._non_ref()
    net._lu()  # (factored once, here, before the threads share it)
    bf_kept = net.Bf[:, keep] if len(keep) else None

    def solve(block: np.ndarray) -> None:
        rhs = np.zeros((n, len(block)))
        rhs[cols[block], np.arange(len(block))] = 1.0
        out[:, block] = _ref_ptdf_columns(net, rhs, bf_kept=bf_kept, limit_blas=False)

    workers = _ptdf_workers(len(blocks))
    with _one_blas_thread():
        if workers == 1:
            for block in blocks:
                solve(block)
            return
        with ThreadPoolExecutor(workers, thread_name_prefix="siting-ptdf") as pool:
            for done in [pool.submit(solve, block) for block in blocks]:
                done.result()


def radial_branches(
    net: DCNetwork, ptdf_matrix: np.ndarray | None = None, tol: float = RADIAL_TOL
) -> np.ndarray:
    """Which in-service branches split their island when they trip (bool, n_branch).

    Branch ``k`` (from ``f`` to ``t``) is radial (a bridge of the network graph) when
    the transfer from ``f`` to ``t`` flows entirely over it:
    ``1 - (PTDF[k, f] - PTDF[k, t]) ~ 0`` (below ``tol`` in absolute value). Its
    outage has no LODF (:func:`lodf` gives a NaN column). Parallel circuits are not
    radial.

    Parameters
    ----------
    net
        From :func:`dc_network`.
    ptdf_matrix
        ``ptdf(net, ...)`` for all buses (any slack), if already computed.
    tol
        Tolerance on ``1 - PTDF_kk`` [MW/MW].
    """
    return np.abs(_outage_denominator(net, ptdf_matrix)) < tol


def _transfer_ptdf(net: DCNetwork, ptdf_matrix: np.ndarray | None) -> np.ndarray:
    """``PTDF[:, f_k] - PTDF[:, t_k]`` for every branch k: (n_branch, n_branch) [MW/MW]."""
    H = ptdf(net) if ptdf_matrix is None else np.asarray(ptdf_matrix, dtype=float)
    if H.shape != (net.n_branch, net.n_bus):
        raise DCFlowError(
            f"ptdf_matrix has shape {H.shape}; expected ({net.n_branch}, {net.n_bus}): "
            "ptdf(net) for all buses"
        )
    return H[:, net.from_idx] - H[:, net.to_idx]


def _outage_denominator(net: DCNetwork, ptdf_matrix: np.ndarray | None) -> np.ndarray:
    """``1 - (PTDF[k, f_k] - PTDF[k, t_k])`` per branch k."""
    H = ptdf(net) if ptdf_matrix is None else np.asarray(ptdf_matrix, dtype=float)
    if H.shape != (net.n_branch, net.n_bus):
        raise DCFlowError(
            f"ptdf_matrix has shape {H.shape}; expected ({net.n_branch}, {net.n_bus}): "
            "ptdf(net) for all buses"
        )
    k = np.arange(net.n_branch)
    return 1.0 - (H[k, net.from_idx] - H[k, net.to_idx])


def lodf(
    net: DCNetwork, ptdf_matrix: np.ndarray | None = None, tol: float = RADIAL_TOL
) -> np.ndarray:
    """Line outage distribution factors [MW/MW], (n_branch, n_branch).

    ``LODF[l, k]`` is the change of the from -> to flow on branch ``l`` per MW that
    flowed (from -> to) on branch ``k`` before ``k`` tripped, the injections
    unchanged:

    .. math::

        \\mathrm{LODF}_{l k} = \\frac{\\mathrm{PTDF}_{l, f_k} - \\mathrm{PTDF}_{l, t_k}}
        {1 - (\\mathrm{PTDF}_{k, f_k} - \\mathrm{PTDF}_{k, t_k})}, \\qquad
        \\mathrm{LODF}_{k k} = -1,

    so the flows after the outage of ``k`` are ``f + LODF[:, k] * f[k]``
    (:func:`post_outage_flows`; ``k`` itself then carries 0). The numerator is the
    flow on ``l`` of a 1 MW transfer from ``f_k`` to ``t_k``, the same for any slack
    (so any ``ptdf(net, slack)`` will do). Branches of other islands get 0.

    A branch whose outage splits its island (:func:`radial_branches`: the denominator
    is 0 within ``tol``) has no LODF: its whole column, diagonal included, is NaN. The
    radial branches are therefore ``np.isnan(L).all(axis=0)``, or
    :func:`radial_branches` directly.

    Parameters
    ----------
    net
        From :func:`dc_network`.
    ptdf_matrix
        ``ptdf(net, ...)`` for all buses, if already computed (else computed here).
    tol
        Tolerance of :func:`radial_branches`.

    Returns
    -------
    numpy.ndarray
        Shape (n_branch, n_branch); memory ``n_branch**2 * 8`` bytes.
    """
    H = ptdf(net) if ptdf_matrix is None else ptdf_matrix
    transfer = _transfer_ptdf(net, H)
    denom = _outage_denominator(net, H)
    radial = np.abs(denom) < tol
    out = transfer / np.where(radial, 1.0, denom)[None, :]
    k = np.arange(net.n_branch)
    out[k, k] = -1.0
    out[:, radial] = np.nan
    return out


def post_outage_flows(
    flow_mw: np.ndarray, lodf_matrix: np.ndarray, k: int | Sequence[int] | np.ndarray
) -> np.ndarray:
    """Flows after the outage of branch ``k`` (or of each of several, one at a time) [MW].

    .. math:: f^{(k)}_l = f_l + \\mathrm{LODF}_{l k}\\, f_k

    Parameters
    ----------
    flow_mw
        Pre-outage flow per in-service branch [MW], shape (n_branch,).
    lodf_matrix
        From :func:`lodf`.
    k
        Position (in ``net.branch_ids``) of the branch that trips, or an array of
        positions for that many single outages.

    Returns
    -------
    numpy.ndarray
        Shape (n_branch,) for one ``k``, (n_branch, len(k)) for several; the tripped
        branch carries 0; NaN everywhere for a radial branch (see :func:`lodf`).
    """
    f = np.asarray(flow_mw, dtype=float)
    if np.ndim(k) == 0:
        kk = int(np.asarray(k))
        return f + lodf_matrix[:, kk] * f[kk]
    ks = np.asarray(k, dtype=np.int64)
    return f[:, None] + lodf_matrix[:, ks] * f[ks][None, :]
