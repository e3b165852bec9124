"""Planner metrics beside cost, and the caps a scenario (or a Pareto front) puts on them.

Metrics (Expressions on the model; reported in every plan's manifest as ``metrics``):

- ``water_use_m3_per_day[t] = sum_s need[s,t]``: all campus water, every source [m3/day]
  (``need`` from :mod:`~siting.model.water`: 24 h x utilisation x IT MW x WUE);
  the front's water axis is its largest value over the years (the last year, as capacity
  only grows);
- with the grid modelled, ``co2_system_t[t] = sum_h hours_h sum_g co2_g p[g,t,h]``: the
  grid's emissions in one year of period t [t CO2/year] (the 0-hour peak snapshot weighs
  nothing), and ``co2_t = sum_t period_years[t] * co2_system_t[t] - baseline_co2_t``: what
  the campuses add over the planning horizon [t CO2] (``baseline_co2_t`` is the same sum in
  the grid's own dispatch without campuses, from the baseline LP; undiscounted);
- ``upgrade_cost_npv`` (:mod:`~siting.model.grid`): grid upgrades, present value [USD];
- with on-site options (:mod:`~siting.model.onsite`), the campus water use adds the on-site
  plant's ``onsite_water_m3_per_day[t]`` and, with the grid modelled, ``co2_t`` adds the
  on-site emissions ``onsite_co2_t`` (without a grid they are reported alone).

Caps (each with elastic slack, so an impossible cap is explained):
``water_use_m3_per_day[t] <= water.cap_m3_per_day`` every year;
``co2_t <= policy.co2_cap_t``; ``upgrade_cost_npv <= grid.upgrade_budget_usd``.
"""

from __future__ import annotations

import pyomo.environ as pyo
from pyomo.core.expr.numvalue import is_potentially_variable

from siting.model import elastic
from siting.model.data import ModelData
from siting.model.evaluate import value_required

#: The metrics a Pareto front can trade against cost, with their unit.
METRICS = {
    "water": "m3/day",
    "co2": "t CO2",
    "grid_upgrades": "USD",
}


def add_metric_expressions(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Add the metric expressions that need no grid baseline: ``water_use_m3_per_day`` and,
    with the grid modelled, ``co2_system_t`` (see the module docstring). No rows, so
    :func:`siting.model.build_model` adds them before it waits for the baseline."""
    onsite_water = m.component("onsite_water_m3_per_day")
    m.water_use_m3_per_day = pyo.Expression(
        m.T,
        rule=lambda m, t: (
            pyo.quicksum(m.need[s, t] for s in m.S)
            + (onsite_water[t] if onsite_water is not None else 0.0)
        ),
    )
    if m.component("p") is not None:
        co2 = (
            d.grid.gens["co2_t_per_mwh"].astype(float).to_dict()
            if "co2_t_per_mwh" in d.grid.gens
            else {}
        )
        emitting = [g for g, v in co2.items() if v > 0]
        hours = d.horizon.snapshots["hours"].astype(float).to_dict()
        m.co2_system_t = pyo.Expression(
            m.T,
            rule=lambda m, t: pyo.quicksum(
                hours[h] * co2[g] * m.p[g, t, h] for h in m.H if hours[h] > 0 for g in emitting
            ),
        )


def add_metrics(m: pyo.ConcreteModel, d: ModelData, baseline_co2_t: float = 0.0) -> None:
    """Add the metric expressions (:func:`add_metric_expressions`, when not yet added) and
    ``co2_t`` (which subtracts ``baseline_co2_t`` [t CO2]), and the caps (see the module
    docstring)."""
    if m.component("water_use_m3_per_day") is None:
        add_metric_expressions(m, d)
    if d.caps.water_cap_m3_per_day is not None:
        over = elastic.slack(
            m, "water_cap_over_m3_per_day", m.T, "m3/day", "campus water cap exceeded"
        )
        cap = float(d.caps.water_cap_m3_per_day)
        m.water_cap = pyo.Constraint(
            m.T,
            rule=lambda m, t: (
                m.water_use_m3_per_day[t] <= cap + over[t]
                if _variable(m.water_use_m3_per_day[t])
                else pyo.Constraint.Skip
            ),
        )
    if m.component("co2_system_t") is not None:
        years = [float(v) for v in d.horizon.period_years]
        onsite_co2 = m.component("onsite_co2_t")
        m.co2_t = pyo.Expression(
            expr=pyo.quicksum(years[t] * m.co2_system_t[t] for t in m.T)
            - baseline_co2_t
            + (onsite_co2 if onsite_co2 is not None else 0.0)
        )
    if d.caps.co2_cap_t is not None and m.component("co2_t") is not None and not _variable(m.co2_t):
        if pyo.value(m.co2_t) > float(d.caps.co2_cap_t) + 1e-6:
            from siting.core.errors import InputError

            raise InputError(
                f"policy.co2_cap_t is {d.caps.co2_cap_t:g} t, below the "
                f"{pyo.value(m.co2_t):g} t no plan can change (no generator emits); "
                "expected a cap of at least that"
            )
    if d.caps.co2_cap_t is not None and _variable(getattr(m, "co2_t", None)):
        over = elastic.slack(m, "co2_over_t", [0], "t CO2", "campus CO2 cap exceeded")
        m.co2_cap = pyo.Constraint(expr=m.co2_t <= float(d.caps.co2_cap_t) + over[0])
    if d.caps.upgrade_budget_usd is not None and _variable(m.upgrade_cost_npv):
        over = elastic.slack(m, "upgrade_over_usd", [0], "USD", "grid upgrade budget exceeded")
        m.upgrade_budget = pyo.Constraint(
            expr=m.upgrade_cost_npv / 1e6 <= (float(d.caps.upgrade_budget_usd) + over[0]) / 1e6
        )


def _variable(e: object) -> bool:
    """Whether an expression (or a named Expression) depends on a variable."""
    if e is None:
        return False
    inner = e.expr if hasattr(e, "expr") else e
    return bool(is_potentially_variable(inner))


def metric_expression(m: pyo.ConcreteModel, metric: str) -> pyo.Expression:
    """The scalar a Pareto front trades against cost, for one of :data:`METRICS`.

    ``water``: needs an auxiliary variable for the largest yearly use (added here, with one
    ``>=`` row per year); ``co2``: ``co2_t``; ``grid_upgrades``: ``upgrade_cost_npv``.
    """
    if metric == "water":
        if m.component("water_peak_m3_per_day") is None:
            m.water_peak_m3_per_day = pyo.Var(domain=pyo.NonNegativeReals)
            m.water_peak_def = pyo.Constraint(
                m.T, rule=lambda m, t: m.water_peak_m3_per_day >= m.water_use_m3_per_day[t]
            )
        return m.water_peak_m3_per_day
    if metric == "co2":
        if m.component("co2_t") is None:
            raise ValueError("the CO2 metric needs the grid model")
        return m.co2_t
    if metric == "grid_upgrades":
        return m.upgrade_cost_npv
    raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")


def metric_values(m: pyo.ConcreteModel, d: ModelData) -> dict[str, object]:
    """The metrics of a solved model (for the manifest)."""
    by_year = {
        str(y): value_required(m.water_use_m3_per_day[t]) for t, y in enumerate(d.horizon.years)
    }
    out: dict[str, object] = {
        "water_m3_per_day_by_year": by_year,
        "water_m3_per_day_peak": max(by_year.values(), default=0.0),
        "grid_upgrades_usd": value_required(m.upgrade_cost_npv),
    }
    if m.component("co2_t") is not None:
        out["co2_t"] = value_required(m.co2_t)
        out["co2_system_t_per_year_by_year"] = {
            str(y): value_required(m.co2_system_t[t]) for t, y in enumerate(d.horizon.years)
        }
    else:
        out["co2_t"] = None
    if m.component("onsite_co2_t") is not None:
        out["onsite_co2_t"] = value_required(m.onsite_co2_t)
    return out


#: Key in :func:`metric_values` of each front metric.
METRIC_KEYS = {
    "water": "water_m3_per_day_peak",
    "co2": "co2_t",
    "grid_upgrades": "grid_upgrades_usd",
}
