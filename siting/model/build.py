"""The siting MILP, family by family: this file is the table of contents.

Each family is a module with its sets, variables, constraints and math in its docstring:

1. :mod:`~siting.model.sites` open sites, cooling choice, integer modules, sizes, phasing
   (one integer column where the data leave no choice: one period, one technology);
   then :mod:`~siting.model.compute` accelerators of each generation in each shell, their
   refresh and rack positions, targets in accelerators or compute (only with a compute
   section);
2. :mod:`~siting.model.power` facility draw = IT MW x PUE (peak for limits, annual for energy);
3. :mod:`~siting.model.onsite` on-site generation and storage, islanded campuses (relief
   of the draw from the grid);
4. :mod:`~siting.model.flex` firm and flexible MW, curtailment of the flexible MW (relief of
   the draw, within a depth and a yearly budget; off by default); then
   :mod:`~siting.model.pacts` compute pacts (chip supply caps, security tiers, energy
   contracts, public-interest shares; only with pacts: a new-build PPA relieves the draw,
   so before the grid); then time to power
   (:func:`~siting.model.power.add_power_years`: nothing from the grid before a site's
   connection, only flexible MW before its firm connection);
5. :mod:`~siting.model.grid` DC power flow per period and snapshot, thermal limits, headroom;
6. :mod:`~siting.model.water` water need x WUE met from sources in reach, shared capacities;
7. :mod:`~siting.model.policy` targets, shares, zones, demand (a capacitated facility
   location with per-pair linking rows), public interest, heat;
8. :mod:`~siting.model.metrics` water, CO2 and upgrade spend, and the caps on them;
9. :mod:`~siting.model.objective` net present cost (or capacity under a budget).

A family whose layer or section is absent adds nothing (no grid: no network constraints).
With ``elastic=True`` every requirement and limit gets a penalised slack
(:mod:`~siting.model.elastic`), to explain an infeasible scenario.
"""

from __future__ import annotations

from collections.abc import Callable

import pyomo.environ as pyo

from siting.model import elastic as _elastic
from siting.model.compute import add_compute
from siting.model.data import ModelData
from siting.model.flex import add_flex
from siting.model.grid import add_grid
from siting.model.metrics import add_metric_expressions, add_metrics
from siting.model.objective import add_objective, build_cost_sums
from siting.model.onsite import add_onsite
from siting.model.pacts import add_pacts
from siting.model.policy import add_policy
from siting.model.power import add_power, add_power_years
from siting.model.sites import add_sites
from siting.model.water import add_water


def build_model(
    d: ModelData,
    *,
    elastic: bool = False,
    baseline_usd: float | Callable[[], float] = 0.0,
    baseline_co2_t: float | Callable[[], float] = 0.0,
    meanwhile: Callable[[pyo.ConcreteModel], None] | None = None,
) -> pyo.ConcreteModel:
    """Build the siting MILP from :class:`ModelData`.

    Parameters
    ----------
    d
        The model's inputs.
    elastic
        Add penalised slack to every requirement and limit.
    baseline_usd
        Present value of the grid's dispatch cost without campuses [USD], subtracted so the
        energy part counts only what campuses add; or a function that returns it, called
        once every family and the metric expressions are built, before ``co2_t`` and the
        objective (a grid baseline still being solved beside this build,
        :class:`siting.pipeline.GridBaseline`, is waited for only then).
    baseline_co2_t
        The grid's emissions over the planning horizon without campuses [t CO2], subtracted
        so the ``co2_t`` metric counts only what campuses add; or a function that returns
        it (as ``baseline_usd``).
    meanwhile
        Called with the model once every family and the metric expressions are built
        (:func:`siting.model.metrics.add_metric_expressions`), before ``co2_t``, the caps
        and the objective, and before the baseline is read (the pipeline hands the model to
        HiGHS there, while the grid baseline is still being solved).

    Returns
    -------
    pyomo.environ.ConcreteModel
    """
    m = pyo.ConcreteModel(name="siting")
    _elastic.enable(m, elastic)
    add_sites(m, d)
    add_compute(m, d)
    add_power(m, d)
    add_onsite(m, d)
    add_flex(m, d)
    add_pacts(m, d)
    add_power_years(m, d)
    add_grid(m, d)
    add_water(m, d)
    add_policy(m, d)
    add_metric_expressions(m, d)  # (no rows, and no baseline: built before the wait)
    if meanwhile is not None:
        meanwhile(m)
    sums = build_cost_sums(m, d)  # (no component, and no baseline: built before the wait)
    usd = baseline_usd() if callable(baseline_usd) else baseline_usd
    co2_t = baseline_co2_t() if callable(baseline_co2_t) else baseline_co2_t
    add_metrics(m, d, co2_t)
    add_objective(m, d, usd, sums)
    return m
