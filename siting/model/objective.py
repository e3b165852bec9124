"""Objective: net present cost (or capacity under a budget), discounted to the first year.

Cost parts (each an Expression on the model, reported in the plan) [USD, present value]:

- ``capex``: ``sum_{s,t} df_t * new[s,t] * (capex_usd_per_mw + land_usd_per_mw[s] +
  interconnection_usd_per_mw)``;
- ``cooling_capex``: ``sum_{s,k,t} df_t * cc_k * (capk[s,k,t] - capk[s,k,t-1])``;
- ``site_fixed``: ``sum_{s,t} df_t * (fixed_cost_usd[s] + interconnect_usd[s]) * opens[s,t]``
  (the tie line: ``interconnection_usd_per_km * bus_distance_km``);
- ``zone_bonus``: ``- sum_{s in a zone, t} df_t * bonus * new[s,t]`` (prefer mode);
- ``pipelines``, ``water`` (see ``water.py``);
- ``grid_upgrades``: branch and substation upgrades taken (see ``grid.py``);
- ``energy``: with a grid, the system's dispatch cost with campuses minus the same without
  them (``baseline_usd``, a constant from a first LP), so the objective counts only what
  the campuses add; without a grid, ``energy_usd_per_mwh * energy``; with compute pacts,
  plus their energy contracts (``pact_energy_npv``, :mod:`~siting.model.pacts`);
- ``demand``: assignment costs; ``heat``: minus the value of waste heat sold;
- ``delay``: the cost of delay of soft targets, ``sum_t op_weight[t] *
  shortfall_usd_per_mw_year * short[t]`` (see ``policy.py``; 0 with hard targets).
- ``onsite`` (only with on-site options, :mod:`~siting.model.onsite`): on-site generation
  and storage (annualised capex, fixed and variable costs) less the interconnection an
  islanded campus saves; without a grid the ``energy`` part is then priced net of the
  on-site supply ``onsite_mwh``.
- ``curtailment``: curtailed compute and flexible MW held (see ``flex.py``; 0 without
  flexibility).
- ``export`` (only with ``policy.export``): minus the value of IT capacity above the
  targets sold to the export market, ``- sum_t op_weight[t] * price * export_mw[t]``
  (see ``policy.py``).
- ``compute`` (only with a compute section, :mod:`~siting.model.compute`): accelerators'
  hardware and disposal as annuities for the years inside the horizon, and the building
  floor per rack position; with soft targets, the ``delay`` part also prices accelerator
  and compute targets not met, a year's shortfall once, as the largest of its MW
  equivalents (``policy.py``'s ``shortfall_once``).

``min_cost`` minimises their sum; ``max_capacity`` maximises IT MW in the last year
subject to the sum being within ``budget_usd``.

The solver sees the ``min_cost`` objective in million USD (:data:`OBJECTIVE_UNIT_USD`):
objective coefficients of a national plan reach 1e9 USD per unit, which made HiGHS's dual
simplex fail ("excessive dual values") on LP rounds of the lazy loop; in million USD they
are about 1e3. :func:`siting.solve.highs.solve` reports the objective and bound in USD again
(``model_state(m).objective_unit``).
"""

from __future__ import annotations

from typing import Any

import pyomo.environ as pyo

from siting.core.errors import SitingError
from siting.model import elastic
from siting.model.data import ModelData
from siting.model.state import model_state

#: What one unit of the ``min_cost`` objective the solver sees is worth [USD].
OBJECTIVE_UNIT_USD = 1e6

COST_PARTS = (
    "capex",
    "cooling_capex",
    "site_fixed",
    "zone_bonus",
    "pipelines",
    "water",
    "grid_upgrades",
    "energy",
    "demand",
    "heat",
    "delay",
    "curtailment",
)

#: Cost parts only a model with their family has (after :data:`COST_PARTS`, in this order).
OPTIONAL_PARTS = ("onsite", "compute", "export")

#: Cost parts that are money the plan spends [USD] (see :mod:`siting.model.objective`).
SPEND_PARTS = (
    "capex",
    "cooling_capex",
    "site_fixed",
    "pipelines",
    "water",
    "grid_upgrades",
    "energy",
    "demand",
    "onsite",
    "compute",
)
#: Cost parts that are money the plan earns (negative) [USD].
EARN_PARTS = ("heat", "export")
#: Cost parts that are policy weights, not money [USD].
WEIGHT_PARTS = ("zone_bonus",)
#: Cost parts that value compute not delivered (soft targets' cost of delay, compute lost
#: to curtailment with the small cost of holding MW flexible) [USD]: a cost to the plan's
#: owner, mostly paid to nobody.
DELAY_PARTS = ("delay", "curtailment")


def cost_split(costs_usd: dict[str, float]) -> dict[str, float]:
    """Net present cost in real spend, earnings and policy weights [USD, present value].

    Parameters
    ----------
    costs_usd
        The plan's cost parts (:attr:`siting.results.plan.Plan.costs_usd`) [USD].

    Returns
    -------
    dict
        ``spent_usd`` (sum of :data:`SPEND_PARTS`), ``earned_usd`` (sum of
        :data:`EARN_PARTS`, <= 0: a credit), ``policy_weight_usd`` (sum of
        :data:`WEIGHT_PARTS`, <= 0), ``delay_usd`` (sum of :data:`DELAY_PARTS`, >= 0: the
        cost of delay of soft targets and of curtailed compute), ``other_usd`` (any part not
        named here) and ``net_present_cost_usd`` (their sum, the objective's cost).
    """
    spent = float(sum(float(costs_usd.get(k, 0.0)) for k in SPEND_PARTS))
    earned = float(sum(float(costs_usd.get(k, 0.0)) for k in EARN_PARTS))
    weight = float(sum(float(costs_usd.get(k, 0.0)) for k in WEIGHT_PARTS))
    delay = float(sum(float(costs_usd.get(k, 0.0)) for k in DELAY_PARTS))
    named = set(SPEND_PARTS) | set(EARN_PARTS) | set(WEIGHT_PARTS) | set(DELAY_PARTS)
    other = float(sum(float(v) for k, v in costs_usd.items() if k not in named))
    return {
        "spent_usd": spent,
        "earned_usd": earned,
        "policy_weight_usd": weight,
        "delay_usd": delay,
        "other_usd": other,
        "net_present_cost_usd": spent + earned + weight + delay + other,
    }


def build_cost_sums(m: pyo.ConcreteModel, d: ModelData) -> dict[str, Any]:
    """The campus cost parts that are long sums over sites and years (``capex``,
    ``cooling_capex``, ``site_fixed``, ``zone_bonus``) as Pyomo expressions [USD, present
    value], for :func:`add_objective`. They add no component to the model, and need no
    grid baseline, so :func:`siting.model.build_model` builds them before it waits for
    one."""
    df = [float(v) for v in d.horizon.capex_df]
    land = d.campus.site["land_usd_per_mw"].to_dict()
    fixed = (d.campus.site["fixed_cost_usd"] + d.campus.site["interconnect_usd"]).to_dict()
    per_mw = d.campus.capex_usd_per_mw + d.campus.interconnection_usd_per_mw
    cc = d.cooling.capex_usd_per_mw
    zoned = [s for s in d.campus.sites if d.campus.site.at[s, "zone_id"] != ""]

    parts = {}
    parts["capex"] = pyo.quicksum(
        df[t] * (per_mw + land[s]) * m.new[s, t] for s in m.S for t in m.T
    )
    parts["cooling_capex"] = pyo.quicksum(
        df[t] * cc.get(k, 0.0) * (m.capk[s, k, t] - (m.capk[s, k, t - 1] if t > 0 else 0.0))
        for (s, k) in m.SK
        for t in m.T
    )
    parts["site_fixed"] = pyo.quicksum(df[t] * fixed[s] * m.opens[s, t] for s in m.S for t in m.T)
    parts["zone_bonus"] = -pyo.quicksum(
        df[t] * d.campus.zone_bonus_usd_per_mw * m.new[s, t] for s in zoned for t in m.T
    )
    return parts


def add_objective(
    m: pyo.ConcreteModel,
    d: ModelData,
    baseline_usd: float = 0.0,
    cost_sums: dict[str, Any] | None = None,
) -> None:
    """Add the cost parts and the objective (see the module docstring); ``cost_sums`` is
    :func:`build_cost_sums`'s (built here when None); ``baseline_usd`` [USD] as
    :func:`siting.model.build_model`'s."""
    parts = dict(build_cost_sums(m, d) if cost_sums is None else cost_sums)
    parts["pipelines"] = m.pipeline_cost_npv
    parts["water"] = m.water_cost_npv
    parts["grid_upgrades"] = m.upgrade_cost_npv
    if d.grid.enabled:
        parts["energy"] = m.energy_cost_npv - baseline_usd
    else:
        onsite = m.component("onsite_mwh")
        parts["energy"] = pyo.quicksum(
            float(d.horizon.op_weight[t])
            * d.grid.energy_usd_per_mwh
            * (m.energy_mwh[s, t] - (onsite[s, t] if onsite is not None and s in m.OSS else 0.0))
            for s in m.S
            for t in m.T
        )
    pact_energy = m.component("pact_energy_npv")  # the pact family's contracts, when built
    if pact_energy is not None:
        parts["energy"] = parts["energy"] + pact_energy
    parts["demand"] = m.demand_cost_npv
    parts["heat"] = -m.heat_value_npv
    parts["delay"] = m.delay_cost_npv  # with the compute family's shortfalls, priced once
    curtail = m.component("curtail_cost_npv")  # the flexibility family's, when built
    parts["curtailment"] = curtail if curtail is not None else 0.0
    if m.component("onsite_cost_npv") is not None:
        parts["onsite"] = m.onsite_cost_npv
    if m.component("export_value_npv") is not None:
        parts["export"] = -m.export_value_npv
    if m.component("compute_cost_npv") is not None:
        parts["compute"] = m.compute_cost_npv
    m.P = pyo.Set(
        initialize=[p for p in (*COST_PARTS, *OPTIONAL_PARTS) if p in parts], ordered=True
    )
    m.cost_part = pyo.Expression(m.P, rule=lambda m, p: parts[p])
    m.total_cost = pyo.Expression(expr=pyo.quicksum(m.cost_part[p] for p in m.P))
    pen = elastic.penalty(m)
    if d.goal.sense == "max_capacity":
        budget = d.goal.budget_usd
        if budget is None:
            raise SitingError(
                "objective.sense max_capacity needs a budget (the model data's goal.budget_usd "
                "is None); expected a budget in USD"
            )
        over = elastic.slack(m, "budget_over_usd", [0], "USD", "budget exceeded", weight=1e-6)
        m.budget = pyo.Constraint(expr=m.total_cost <= float(budget) + over[0])
        pen = elastic.penalty(m)
        m.obj = pyo.Objective(expr=m.total_cap[d.horizon.n_years - 1] - pen, sense=pyo.maximize)
    else:
        model_state(m).objective_unit = OBJECTIVE_UNIT_USD
        m.obj = pyo.Objective(expr=(m.total_cost + pen) / OBJECTIVE_UNIT_USD, sense=pyo.minimize)
