"""Flexibility: firm and flexible MW per site and year, and curtailment of the flexible MW.

Built only when :attr:`siting.model.data.FlexData.enabled` (the scenario's
``flexibility``), after :mod:`~siting.model.power` and before :mod:`~siting.model.grid`.

Variables and expressions:

- ``flexk[s,k,t]`` flexible IT MW of site s on cooling technology k in period t [MW IT],
  ``0 <= flexk[s,k,t] <= on[s,k,t]`` (so a site's flexible MW share its technology's PUE),
  with ``on[s,k,t]`` the IT MW that draw power (:func:`siting.model.power.it_on`:
  ``capk[s,k,t]``; with the compute family ``capk[s,k,t] - idle_mw[s,k,t]``, so ``flexk +
  idle_mw <= capk``: an idle MW draws nothing and is not also flexible, nor curtailed);
- ``flex_it_mw[s,t] = sum_k flexk[s,k,t] <= max_share * on[s,t]`` and the firm IT MW
  ``firm_it_mw[s,t] = on[s,t] - flex_it_mw[s,t]`` [MW IT], with ``on[s,t] = sum_k
  on[s,k,t]`` (:func:`siting.model.power.it_on_site`: ``cap[s,t]``, or ``it_used_mw[s,t]``
  with the compute family);
- the flexible MW's draw ``flex_draw[s,t,h]``: ``sum_k PUE_peak[s,k] * flexk[s,k,t]`` in
  peak snapshots, ``u * sum_k PUE_annual[s,k] * flexk[s,k,t]`` in the others [MW], as
  :mod:`~siting.model.power` draws;
- ``curtail_mw[s,t,h] >= 0`` curtailed facility draw [MW], a relief family with coefficient
  +1 (:func:`siting.model.power.register_relief`): the grid sees ``draw - curtail_mw``.

Constraints:

- depth: ``curtail_mw[s,t,h] <= depth * flex_draw[s,t,h]``;
- budget: ``sum_h stress_h * curtail_mw[s,t,h] <= budget_share * 8760 h *
  flex_draw_peak[s,t]`` [MWh/year], the curtailed energy at most ``budget_share`` of what
  the flexible MW draws at full power over a year (the measure of Norris et al., Duke 2025).

Cost part ``curtailment`` [USD, present value]: ``sum_t op_weight_t * (curtail_usd_per_mwh *
sum_{s,h} stress_h * curtail_mw[s,t,h] + flexible_usd_per_mw_year * sum_s flex_it_mw[s,t])``.

Snapshots are representative, not chronological: curtailment in snapshot h is taken to last
its ``stress_h`` hours per year (:func:`siting.model.data.stress_hours_of`: the snapshot's
``stress_hours``, else its ``hours``, else, for a peak snapshot of 0 hours, the scenario's
``flexibility.peak_stress_hours``). The longest single event cannot be expressed without a
chronology; it is outside the model (the depth is the one the field trials held for 3 to 10
hours).

Firm MW are never curtailed: ``curtail_mw <= depth * flex_draw <= flex_draw``, so the draw
from the grid never falls below the firm MW's draw. With N-1 on, the post-outage flows use
the same draw from the grid as the base case (preventive: the curtailment of a snapshot holds
in every outage of it), which is conservative: a corrective curtailment per outage would
allow more.

A site's firm and flexible first years (energization lead times) are not this family's:
they bound ``firm_it_mw`` and ``flex_it_mw`` where they are known.
"""

from __future__ import annotations

import pyomo.environ as pyo

from siting.model.data import HOURS_PER_YEAR, ModelData, stress_hours_of
from siting.model.power import it_on, it_on_site, register_relief
from siting.model.state import model_state


def add_flex(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Add the flexibility family when enabled (see the module docstring); nothing when
    not."""
    if not d.flex.enabled:
        return
    f = d.flex
    techs_of = model_state(m).techs_of
    pue_peak = d.cooling.perf["pue_peak"].to_dict()
    pue_ann = d.cooling.perf["pue_annual"].to_dict()
    u = d.horizon.utilisation
    peak = {str(h): bool(v) for h, v in d.horizon.snapshots["peak"].items()}
    stress = stress_hours_of(d)

    m.flexk = pyo.Var(m.SKT, domain=pyo.NonNegativeReals)
    m.flex_le_cap = pyo.Constraint(
        m.SKT, rule=lambda m, s, k, t: m.flexk[s, k, t] <= it_on(m, s, k, t)
    )
    m.flex_it_mw = pyo.Expression(
        m.S, m.T, rule=lambda m, s, t: pyo.quicksum(m.flexk[s, k, t] for k in techs_of[s])
    )
    m.firm_it_mw = pyo.Expression(
        m.S, m.T, rule=lambda m, s, t: it_on_site(m, s, t) - m.flex_it_mw[s, t]
    )
    if f.max_share < 1.0:
        m.flex_share = pyo.Constraint(
            m.S, m.T, rule=lambda m, s, t: m.flex_it_mw[s, t] <= f.max_share * it_on_site(m, s, t)
        )
    m.flex_draw_peak = pyo.Expression(
        m.S,
        m.T,
        rule=lambda m, s, t: pyo.quicksum(pue_peak[s, k] * m.flexk[s, k, t] for k in techs_of[s]),
    )
    m.flex_draw_typ = pyo.Expression(
        m.S,
        m.T,
        rule=lambda m, s, t: (
            u * pyo.quicksum(pue_ann[s, k] * m.flexk[s, k, t] for k in techs_of[s])
        ),
    )
    m.curtail_mw = pyo.Var(m.S, m.T, m.H, domain=pyo.NonNegativeReals)
    m.curtail_depth = pyo.Constraint(
        m.S,
        m.T,
        m.H,
        rule=lambda m, s, t, h: (
            m.curtail_mw[s, t, h]
            <= f.depth * (m.flex_draw_peak[s, t] if peak[h] else m.flex_draw_typ[s, t])
        ),
    )
    m.curtail_budget = pyo.Constraint(
        m.S,
        m.T,
        rule=lambda m, s, t: (
            pyo.quicksum(stress[h] * m.curtail_mw[s, t, h] for h in m.H)
            <= f.budget_share * HOURS_PER_YEAR * m.flex_draw_peak[s, t]
        ),
    )
    register_relief(m, m.curtail_mw, 1.0, list(m.S), "curtailment")
    w = [float(v) for v in d.horizon.op_weight]
    m.curtail_cost_npv = pyo.Expression(
        expr=pyo.quicksum(
            w[t]
            * (
                f.curtail_usd_per_mwh
                * pyo.quicksum(stress[h] * m.curtail_mw[s, t, h] for s in m.S for h in m.H)
                + f.flexible_usd_per_mw_year * pyo.quicksum(m.flex_it_mw[s, t] for s in m.S)
            )
            for t in m.T
        )
    )
