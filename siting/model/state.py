"""What siting keeps beside a Pyomo model: one typed :class:`ModelState` per model.

The model's families (:mod:`siting.model`) leave lookup tables for the solve stages
(technologies per site, the PTDF, the buses that inject), the lazy loop keeps its books
(limits monitored, rows handed to HiGHS flat), and the HiGHS adapter keeps its persistent
solver. None of it is a Pyomo component (Pyomo would take a variable family held here for
a second component of the block, or walk it): it is all on one :class:`ModelState`,
reached through :func:`model_state`. A field not set is ``None`` (or an empty container, where
absent and empty read alike), so "not set" is an ``is None`` test.

Where the state is kept: in the model's ``__dict__`` under the one key :data:`KEY`
(``"siting_state"``), as a plain attribute (not a component). So it lives and dies with the
model, and a ``m.clone()`` (Pyomo deep-copies a block's plain attributes) carries a copy of
it, as it carried the attributes this object replaces; a ``weakref.WeakKeyDictionary``
would leave a clone without state and keep a module-level registry. siting does not clone
models today. ``m.__dict__.get`` is used rather than ``getattr``: it is one dictionary
look-up on the hot paths (each line-limit row) and never reaches Pyomo's ``__getattr__``.

The model's own components stay on the model (variables, constraints, sets, expressions,
also those with a leading underscore such as the rounding step's ``_round_extra`` and
``_round_margin``); test for one with ``m.component(name) is not None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo

from siting.core.errors import SitingError

#: The key of the model's ``__dict__`` that holds its :class:`ModelState`.
KEY = "siting_state"


@dataclass
class PtdfTables:
    """The PTDF form's lookup tables, written together by ``grid._add_ptdf_network`` and read
    by the PTDF rows (``grid.ptdf_flow_parts``, ``grid.injection_maps``), the lazy loop's
    flows and the approximation tests.

    Attributes
    ----------
    ptdf
        PTDF (n_branch x n_bus, read-only, shared by models on one network) [MW/MW]; also
        the N-1 family's LODF is computed from it.
    pfinj
        Phase-shift offset of each branch's flow [MW].
    gens_at
        Generators at each bus {bus position: [gen_id]}.
    sites_at
        Candidate sites at each bus {bus position: [site_id]}.
    active_buses
        Bus positions with a generator or a candidate site, ascending.
    draw_coefs
        A campus's draw as coefficients on its cooling capacities {site_id: [(tech,
        PUE_peak, utilisation x PUE_annual)]} [MW/MW IT].
    peak_h
        Whether each snapshot is a peak one {snapshot: bool}.
    const_inj
        Constant part of each bus's injection per (period, snapshot) {(t, h): array} [MW]
        (load, shunts, phase shifts).
    """

    ptdf: np.ndarray
    pfinj: np.ndarray
    gens_at: dict[int, list[str]]
    sites_at: dict[int, list[str]]
    active_buses: list[int]
    draw_coefs: dict[str, list[tuple[str, float, float]]]
    peak_h: dict[str, bool]
    const_inj: dict[tuple[int, str], np.ndarray]


@dataclass(frozen=True)
class Relief:
    """A variable family that lowers campus draws from the grid [MW].

    A campus's draw from the grid at (t, h) is ``draw[s,t,h] - sum_r coef_r *
    var_r[s,t,h]`` over the registered families (:func:`siting.model.power.grid_draw`).

    Attributes
    ----------
    name
        The Pyomo ``Var`` component's name, indexed by (site, period, snapshot).
    coef
        Its sign: +1 where the variable lowers the draw (curtailment, on-site output,
        storage discharge), -1 where it raises it (storage charging) [MW/MW].
    sites
        The sites it covers (the variable has every (s, t, h) of these, and no other).
    source
        What it is, for the plan's tables (e.g. ``curtailment``, ``onsite_solar``).
    """

    name: str
    coef: float
    sites: tuple[str, ...]
    source: str


@dataclass
class ModelState:
    """Everything siting keeps on one Pyomo model beside its components.

    Each field says what it holds, its unit, who writes it and who reads it.
    """

    # --- the model's build (siting.model) --------------------------------------------
    #: Elastic model (penalised slack on every requirement and limit); written by
    #: ``elastic.enable`` (build), read by ``elastic.slack``, the grid balances, the lazy loop.
    elastic: bool = False
    #: The slack families of an elastic model (``elastic.SlackInfo``), in creation order;
    #: appended by ``elastic.slack``, read by ``elastic.penalty`` and ``elastic.violations``.
    slacks: list = field(default_factory=list)
    #: What lowers a campus's draw from the grid (curtailment, on-site output, storage):
    #: one :class:`Relief` per registered variable family; appended by
    #: ``power.register_relief`` (families built between power and grid), read by the grid
    #: family (balances, headroom, PTDF pools), the lazy loop's flows and the plan's tables.
    relief: list[Relief] = field(default_factory=list)
    #: Cooling technologies each site may choose {site_id: [tech]}; written by
    #: ``sites.add_sites``, read by the power, water, policy and grid families, the plan's
    #: tables (``results.plan``) and ``pipeline.fix_decisions``.
    techs_of: dict[str, list[str]] = field(default_factory=dict)
    #: The objective's unit [USD per objective unit] (min_cost: the objective is scaled by
    #: it); written by ``objective.add_objective`` and ``studies.pareto`` (anchors), read by
    #: ``solve.highs.solve`` and ``solve.kernel`` (None: unscaled, 1.0).
    objective_unit: float | None = None
    #: The line-overload slack family (Pyomo Var, or elastic's zero mapping in the strict
    #: model) of the PTDF form's lazy limits [MW]; written by ``grid._add_line_limits``,
    #: read by the lazy loop (None: no lazy line limits).
    overload: Any = None
    #: The post-contingency overload slack family [MW], as :attr:`overload`; written by
    #: ``grid._add_n1_family``, read by the lazy loop's N-1 limits.
    n1_over: Any = None
    #: Line outage distribution factors (n_branch x n_branch) [MW/MW]; written by
    #: ``grid._add_n1_family``, read by the lazy loop's N-1 limits (through :attr:`n1_lodf`)
    #: and ``results.plan``.
    lodf: np.ndarray | None = None
    #: Rating added by each branch upgrade option {option index: MW} [MW]; written by
    #: ``grid._add_upgrades``, read by ``grid.added_rating`` and the lazy loop.
    branch_added: dict[int, float] = field(default_factory=dict)
    #: Headroom added by each substation upgrade option {option index: MW} [MW]; written
    #: by ``grid._add_upgrades``, read by ``grid.added_headroom``.
    bus_added: dict[int, float] = field(default_factory=dict)
    #: The PTDF form's tables (:class:`PtdfTables`); written by ``grid._add_ptdf_network``,
    #: read through :attr:`ptdf_form` (None: the model is in the angle form, or has no grid).
    ptdf_tables: PtdfTables | None = None
    #: Where each dispatch, draw (cooling capacity, idle envelope) and relief variable
    #: injects (``gens, gen_bus, caps, cap_bus, coef_peak, coef_typ, relief, relief_bus,
    #: relief_coef``); written once by ``grid.injection_maps`` (its cache).
    inj_maps: dict[str, Any] | None = None
    #: What the lazy loop's flows keep per model (``solve.lazy._flow_tables``): the flows of
    #: the constant injections per (period, snapshot), and the PTDF's columns at the
    #: generators' buses; written and read by ``solve.lazy``.
    flow_tables: dict[str, Any] | None = None
    #: Variable lists whose values are read in bulk {key: list of Pyomo variables}: the
    #: dispatch, cooling capacities and relief per (period, snapshot) of the lazy loop's
    #: flows and the approximation's anchor; written and read by ``solve.lazy``.
    bulk_vars: dict = field(default_factory=dict)
    #: Variable pools of flat rows {key: object array of Pyomo variables}; written by
    #: ``rows.register_pool``, read by the PTDF rows, the lazy loop and the HiGHS adapter.
    flat_pools: dict = field(default_factory=dict)
    #: Rows handed to HiGHS flat {constraint: ``rows.FlatRow``}; written by
    #: ``rows.register_flat_row``, read by the HiGHS adapter's ``add_constraints``.
    flat_rows: dict = field(default_factory=dict)

    # --- the lazy loop (siting.solve.lazy) ----------------------------------------------
    #: Base-case limits in the model {(branch position, period, snapshot)}; emptied by
    #: ``grid._add_ptdf_network``, added to by the lazy loop, read by the loop, the kernel
    #: and the approximation (which takes back the limits it makes exact).
    monitored: set = field(default_factory=set)
    #: N-1 limits in the model {(branch, outage, period, snapshot)} (positions); emptied by
    #: ``grid._add_n1_family``, added to and read by the lazy loop.
    n1_monitored: set = field(default_factory=set)
    #: Outages N-1 has checked so far (branch positions; the loop's growing set with
    #: ``outages: k``); emptied by ``grid._add_n1_family``, grown by the lazy loop.
    n1_outages_seen: set = field(default_factory=set)
    #: Outages checked in the last N-1 round (count); written and read by the lazy loop.
    n1_checked: int = 0
    #: The (branch position, period, snapshot) of each lazy line-limit row {constraint:
    #: triple}; written by the lazy loop, read by the kernel and the approximation.
    limit_key: dict = field(default_factory=dict)
    #: Violated limits no decision can change (one line each), since last taken; appended
    #: by the lazy loop, read (and reset) by the loop, the rounding step, the kernel and
    #: the approximation.
    lazy_impossible: list = field(default_factory=list)
    #: How the lazy loop went (``solve.lazy.LazyInfo``); written by
    #: ``pipeline.solve_model`` and the kernel, read by the pipeline's notes and tests.
    lazy_info: Any = None

    # --- the solve methods (siting.solve) -----------------------------------------------
    #: How line limits are approximated (``solve.approx.RowApprox``; None: exact rows);
    #: written by the approximation, read by ``grid.ptdf_flow_parts``.
    row_approx: Any = None
    #: The approximation's figures (``solve.approx.ApproxInfo``) of a kernel's inner
    #: model; written by the kernel, read by the pipeline's manifest.
    approx_info: Any = None
    #: The kernel's figures (``solve.kernel.KernelInfo``); read by the pipeline's manifest
    #: (None: no kernel).
    kernel_info: Any = None

    # --- the HiGHS adapter (siting.solve.highs) -----------------------------------------
    #: The persistent HiGHS interface of this model (re-solves are incremental); written
    #: by ``highs._solve_highs`` (reset on Ctrl-C), read by it, ``highs.retry_cold`` and
    #: the kernel.
    highs_solver: Any = None
    #: A (partial) MIP start for the next solve [(Pyomo variable, value)]; written by
    #: ``highs.set_mip_start``, taken (and reset) by ``highs._solve_highs``.
    mip_start: list | None = None
    #: Absolute MIP gap [objective units] (a Pareto anchor, near 0); written by
    #: ``studies.pareto``, read by ``highs._solve_highs`` (None: HiGHS's default).
    mip_abs_gap: float | None = None

    @property
    def ptdf_form(self) -> PtdfTables:
        """:attr:`ptdf_tables`, for the code that runs only on a PTDF-form model.

        Raises
        ------
        siting.core.errors.SitingError
            When the model was not built in the PTDF form.
        """
        if self.ptdf_tables is None:
            raise SitingError(
                "the model has no PTDF tables (it was built in the angle form or without a "
                "grid); expected a model built with grid.formulation ptdf"
            )
        return self.ptdf_tables

    @property
    def n1_lodf(self) -> np.ndarray:
        """:attr:`lodf`, for the code that runs only on a model with the N-1 family.

        Raises
        ------
        siting.core.errors.SitingError
            When the model has no N-1 family (no LODF).
        """
        if self.lodf is None:
            raise SitingError(
                "the model has no LODF (it was built without grid.n_minus_1 or without line "
                "limits); expected a model with the N-1 family"
            )
        return self.lodf

    def take_lazy_impossible(self) -> list:
        """:attr:`lazy_impossible`, emptied (the lines are reported once)."""
        out, self.lazy_impossible = self.lazy_impossible, []
        return out

    def take_mip_start(self) -> list | None:
        """:attr:`mip_start`, cleared (a start is offered to one solve)."""
        out, self.mip_start = self.mip_start, None
        return out


def model_state(m: pyo.ConcreteModel) -> ModelState:
    """The :class:`ModelState` of ``m``, created (empty) on first use."""
    st = m.__dict__.get(KEY)
    if st is None:
        st = ModelState()
        m.__dict__[KEY] = st
    return st
