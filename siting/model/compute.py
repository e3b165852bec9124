"""Compute: accelerators of each generation in each campus's shell, their refresh, rack
positions on the site's floor, and targets in accelerators or compute (issue 22).

The shell (land, building, grid connection, cooling plant; :mod:`siting.model.sites`'s
``cap[s,t]``, the IT envelope [MW IT]) lasts decades; its IT fit-out is installed in
generations and retired at the end of its service life, so the IT MW used in one shell rise
as denser generations arrive, within the envelope. Nothing is added when
``d.compute`` is ``None``.

Sets: ``AG`` accelerator generations (the table's rows, :mod:`siting.model.generations`;
``G`` is the grid's generators); ``SGT`` the
(site, generation, period) triples with ``year_t >= first_year_g`` where the site's cooling
may host the generation (a ``needs_liquid`` generation only where the site may choose
``liquid``).

Variables (accelerators in thousands, for scaling):

- ``acc_new[s,g,t] >= 0`` [1,000 accelerators installed in period t];
- ``acc_live[s,g,t] >= 0`` [1,000 accelerators in service in period t];
- ``racks_new[s,t] >= 0`` [rack positions built in period t].

Rows:

- cohorts (``acc_alive``): ``acc_live[s,g,t] = sum_{c <= t, year_t - year_c < L_g}
  acc_new[s,g,c]``: a cohort serves ``L_g`` years (``service_life_years``) and retires at
  their end; with ``compute.early_retirement`` the row is ``<=`` (a cohort may leave
  sooner, to free rack positions or the envelope; it is paid for its whole life, so it
  saves nothing) with no return from retirement (``acc_keep``): ``acc_live[s,g,t] <=
  acc_live[s,g,t-1] + acc_new[s,g,t]``;
- the envelope: ``it_used_mw[s,t] = sum_g kw_g * acc_live[s,g,t]`` [MW IT] (``kw_g``:
  ``kw_per_accelerator``; 1,000 accelerators x kW = MW), within ``cap[s,t]`` through the
  idle envelope (:func:`add_idle`): ``idle_mw[s,k,t] >= 0`` [MW IT], the MW of technology
  k's envelope no accelerator uses, with ``idle_mw[s,k,t] <= capk[s,k,t]`` (``idle_le_cap``;
  implied at a site with one technology, so no row there) and ``sum_k idle_mw[s,k,t] =
  cap[s,t] - it_used_mw[s,t]`` (``idle_envelope``, every (s, t): a shell without
  accelerators is all idle); liquid-only generations (``it_liquid``): ``sum_{g liquid} kw_g
  * acc_live[s,g,t] <= capk[s,"liquid",t] - idle_mw[s,"liquid",t]``. The MW in use on
  technology k are ``capk[s,k,t] - idle_mw[s,k,t]`` (:func:`siting.model.power.it_on`):
  the draws, energy, water need, heat and flexible MW read them, so idle MW draw nothing,
  while the shell's costs (building, cooling plant, connection) stay on the envelope;
- the floor: ``racks[s,t] = sum_{u <= t} racks_new[s,u]``, ``sum_g 1000 * acc_live[s,g,t] /
  n_g <= racks[s,t]`` (``racks_hold``; ``n_g``: ``accelerators_per_rack``) and
  ``racks[s,T-1] <= max_racks[s] * open[s]`` (``racks_land``; positions are never
  removed, so the last period bounds them all). The land limits rack positions, not MW:
  :func:`siting.model.data.compute_inputs` lifts ``max_it_mw`` to the envelope the floor
  can reach with the densest generation, so a floor built for generation A's racks holds
  generation B's denser racks after a refresh and the IT MW rise with no new land;
- targets: ``sum_s acc_live[s,g,t] - export_acc[g,t] + short >= N_{g,t} / 1000``
  (``acc_target``) and ``sum_s compute_units[s,t] - sum_g 1000 * cu_g * export_acc[g,t] +
  short >= U_t`` (``compute_target``), with ``compute_units[s,t] = sum_g 1000 * cu_g *
  acc_live[s,g,t]`` [compute units, H100 = 1]; ``short`` is the elastic slack and, with
  ``targets.shortfall_usd_per_mw_year`` (``p``) set, a priced shortfall: ``acc_short[g,t]``
  [1,000 accelerators, ``<= N_{g,t} / 1000``] and ``compute_short[t]`` [compute units,
  ``<= U_t``];
- the year's shortfall priced once (:func:`siting.model.policy.add_shortfall`): its MW
  equivalents ``compute_short_mw["accelerators",t] = sum_g kw_g * acc_short[g,t]`` and
  ``compute_short_mw["compute",t] = mw_per_unit * compute_short[t]`` [MW IT], with
  ``mw_per_unit = min_g(kw_g / cu_g) / 1000`` (the MW the missing compute would take on
  the most efficient generation), join the MW target's ``short_mw[t]`` in ``z[t] >=
  short_mw[t]``, ``z[t] >= compute_short_mw[k,t]``, priced ``op_weight[t] * p * z[t]`` (the
  ``delay`` part): one MW short of the MW target and of the compute target is one MW short,
  not two. The accelerator targets of different generations in one year are different asks
  (different hardware), so their MW short add up within ``compute_short_mw["accelerators",
  t]``, and that sum is one of the candidates for the year's largest;
- export (with ``policy.export``): the market buys installed accelerators beyond the
  targets, not envelope MW: ``export_acc[g,t] >= 0`` [1,000 accelerators] for the
  (generation, period) pairs some site may host, ``export_acc[g,t] <= sum_s
  acc_live[s,g,t]`` (``export_within_fleet``), taken out of the accelerator and compute
  targets above, and ``export_mw[t] = export_acc_mw[t] = sum_g kw_g * export_acc[g,t]``
  [MW IT] (``export_of_accelerators``, :func:`siting.model.policy.add_export`), so the MW
  target row ``sum_s cap[s,t] - export_mw[t] >= target_t`` holds too. Without the compute
  family the market buys envelope MW above the MW target (``policy.py``).

Cost part ``compute`` (``compute_cost_npv``) [USD, present value], with ``d = 1/(1+r)``:

- hardware: a cohort installed in period c pays, per accelerator, ``(capex_g + disposal *
  d^L_g)`` (its disposal at the end of its life, discounted to the installation) as an
  annuity over its life paid at the start of each year, ``A = (capex_g + disposal * d^L_g)
  * (1 - d) / (1 - d^L_g)`` (``/ L_g`` at ``r = 0``), for the ``n_c = min(L_g, end -
  year_c)`` years it stands for up to the horizon's end (``end``: the last year plus
  ``costs.final_period_years``): ``capex_df[c] * A * (1 - d^n_c) / (1 - d)``, that is
  ``capex_df[c] * (capex_g + disposal * d^L_g) * (1 - d^n_c) / (1 - d^L_g)`` (``n_c / L_g``
  at ``r = 0``). A cohort whose life ends within the horizon pays all of it; one that
  outlives it pays for the years inside only (no horizon-end bias). Early retirement does
  not lower it: the payments are for the cohort;
- building: ``sum_{s,t} capex_df[t] * building_usd_per_rack * racks_new[s,t]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyomo.environ as pyo

from siting.core.errors import SitingError
from siting.model import elastic
from siting.model.generations import load_generations
from siting.model.state import model_state

if TYPE_CHECKING:
    from siting.model.data import ComputeData, ModelData

__all__ = ["add_compute", "add_idle", "cohort_cost_factor", "load_generations", "sgt_triples"]


def sgt_triples(d: ModelData, techs_of: dict[str, list[str]]) -> list[tuple[str, str, int]]:
    """The (site, generation, period) triples of the compute family (see the module
    docstring): the generation is available by the period's year and the site's cooling
    may host it."""
    c = _data(d)
    years = d.horizon.years
    out = []
    for s in d.campus.sites:
        for g, row in c.generations.iterrows():
            if bool(row["needs_liquid"]) and "liquid" not in techs_of[s]:
                continue
            out += [(s, str(g), t) for t, y in enumerate(years) if y >= int(row["first_year"])]
    return out


def cohort_cost_factor(rate: float, life_years: float, years_in_horizon: float) -> float:
    """Share of a cohort's annuitised cost paid inside the horizon: ``(1 - d^n) / (1 -
    d^L)`` with ``d = 1/(1+rate)``, ``n = min(L, years_in_horizon)`` (``n / L`` at rate 0)
    [fraction of the cohort's present cost at installation]."""
    n = max(0.0, min(life_years, years_in_horizon))
    if rate == 0:
        return n / life_years
    d = 1.0 / (1.0 + rate)
    return float((1.0 - d**n) / (1.0 - d**life_years))


def _data(d: ModelData) -> ComputeData:
    if d.compute is None:
        raise SitingError("the compute family needs the model data's compute part")
    return d.compute


def add_compute(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Add the compute family to ``m`` (see the module docstring); nothing without
    ``d.compute``."""
    if d.compute is None:
        return
    c = d.compute
    gen = c.generations
    years = d.horizon.years
    techs_of = model_state(m).techs_of
    life = gen["service_life_years"].astype(float).to_dict()
    kw = gen["kw_per_accelerator"].astype(float).to_dict()
    per_rack = gen["accelerators_per_rack"].astype(float).to_dict()
    liquid = {str(g) for g in gen.index[gen["needs_liquid"].to_numpy(dtype=bool)]}
    sgt = sgt_triples(d, techs_of)
    m.AG = pyo.Set(initialize=[str(g) for g in gen.index], ordered=True)
    m.SGT = pyo.Set(dimen=3, initialize=sgt, ordered=True)
    m.acc_new = pyo.Var(m.SGT, domain=pyo.NonNegativeReals)
    m.acc_live = pyo.Var(m.SGT, domain=pyo.NonNegativeReals)
    m.racks_new = pyo.Var(m.S, m.T, domain=pyo.NonNegativeReals)
    have = set(sgt)
    gens_at: dict[tuple[str, int], list[str]] = {}
    for s, g, t in sgt:
        gens_at.setdefault((s, t), []).append(g)

    def alive(m: pyo.ConcreteModel, s: str, g: str, t: int) -> Any:
        cohorts = [
            m.acc_new[s, g, u]
            for u in range(t + 1)
            if (s, g, u) in have and years[t] - years[u] < life[g]
        ]
        if not c.early_retirement:  # every cohort serves its whole life
            return m.acc_live[s, g, t] == pyo.quicksum(cohorts)
        return m.acc_live[s, g, t] <= pyo.quicksum(cohorts)

    m.acc_alive = pyo.Constraint(m.SGT, rule=alive)
    m.acc_keep = pyo.Constraint(
        [(s, g, t) for s, g, t in sgt if (s, g, t - 1) in have and c.early_retirement],
        rule=lambda m, s, g, t: m.acc_live[s, g, t] <= m.acc_live[s, g, t - 1] + m.acc_new[s, g, t],
    )
    m.it_used_mw = pyo.Expression(
        m.S,
        m.T,
        rule=lambda m, s, t: pyo.quicksum(
            kw[g] * m.acc_live[s, g, t] for g in gens_at.get((s, t), [])
        ),
    )
    add_idle(m, d)
    wet = [(s, t) for (s, t), gs in gens_at.items() if any(g in liquid for g in gs)]
    m.it_liquid = pyo.Constraint(
        wet,
        rule=lambda m, s, t: (
            pyo.quicksum(kw[g] * m.acc_live[s, g, t] for g in gens_at[s, t] if g in liquid)
            <= m.capk[s, "liquid", t] - m.idle_mw[s, "liquid", t]
        ),
    )
    m.racks = pyo.Expression(
        m.S, m.T, rule=lambda m, s, t: pyo.quicksum(m.racks_new[s, u] for u in range(t + 1))
    )
    m.racks_hold = pyo.Constraint(
        list(gens_at),
        rule=lambda m, s, t: (
            pyo.quicksum(1000.0 / per_rack[g] * m.acc_live[s, g, t] for g in gens_at[s, t])
            <= m.racks[s, t]
        ),
    )
    last = d.horizon.n_years - 1
    m.racks_land = pyo.Constraint(
        m.S, rule=lambda m, s: m.racks[s, last] <= float(c.max_racks[s]) * m.open[s]
    )
    cu = gen["compute_per_accelerator"].astype(float).to_dict()
    m.compute_units = pyo.Expression(
        m.S,
        m.T,
        rule=lambda m, s, t: pyo.quicksum(
            1000.0 * cu[g] * m.acc_live[s, g, t] for g in gens_at.get((s, t), [])
        ),
    )
    _add_targets(m, d, sgt)
    _add_cost(m, d, sgt)


def add_idle(m: pyo.ConcreteModel, d: ModelData) -> None:
    """The idle envelope (see the module docstring): ``idle_mw[s,k,t]`` [MW IT] on
    ``m.SKT``, ``idle_le_cap`` and ``idle_envelope``; needs ``m.it_used_mw``. Built before
    :mod:`siting.model.power`, which then draws on ``capk - idle_mw``."""
    max_it = d.campus.site["max_it_mw"].astype(float).to_dict()
    techs_of = model_state(m).techs_of
    m.idle_mw = pyo.Var(
        m.SKT, domain=pyo.NonNegativeReals, bounds=lambda _m, s, k, t: (0.0, max_it[s])
    )
    # at a site with one technology, idle_envelope gives idle_mw = cap - it_used_mw <= cap =
    # capk: no row needed
    m.idle_le_cap = pyo.Constraint(
        [(s, k, t) for s, k, t in m.SKT if len(techs_of[s]) > 1],
        rule=lambda m, s, k, t: m.idle_mw[s, k, t] <= m.capk[s, k, t],
    )
    m.idle_envelope = pyo.Constraint(
        m.S,
        m.T,
        rule=lambda m, s, t: (
            pyo.quicksum(m.idle_mw[s, k, t] for k in techs_of[s])
            == m.cap[s, t] - m.it_used_mw[s, t]
        ),
    )


def _add_targets(m: pyo.ConcreteModel, d: ModelData, sgt: list[tuple[str, str, int]]) -> None:
    """Targets in accelerators and in compute, net of the accelerators exported, with the
    elastic slack and, with ``targets.shortfall_usd_per_mw_year``, a shortfall in MW
    equivalents for :func:`siting.model.policy.add_shortfall` to price (see the module
    docstring)."""
    c = _data(d)
    years = d.horizon.years
    gen = c.generations
    cu = gen["compute_per_accelerator"].astype(float).to_dict()
    sites_of: dict[tuple[str, int], list[str]] = {}
    for s, g, t in sgt:
        sites_of.setdefault((g, t), []).append(s)
    acc_keys = [k for k, n in c.accelerator_targets.items() if n > 0]
    unit_keys = [t for t in range(d.horizon.n_years) if float(c.compute_targets[t]) > 0]
    strict = not model_state(m).elastic
    first = gen["first_year"].astype(int).to_dict()
    wet = gen["needs_liquid"].astype(bool).to_dict()
    for g, t in acc_keys:
        if strict and not sites_of.get((g, t)):
            raise SitingError(
                f"targets.accelerators_by_year.{years[t]} asks for {g} accelerators, but no "
                f"site can host {g} in {years[t]} (first year {first[g]}"
                f"{', needs liquid cooling' if wet[g] else ''}); "
                "expected a year and a generation some site can host"
            )
    sold = _add_export(m, d, sites_of)
    acc_slack = elastic.slack(
        m, "accelerator_short_k", acc_keys, "1,000 accelerators", "accelerator target not met"
    )
    unit_slack = elastic.slack(
        m, "compute_short_units", unit_keys, "compute units", "compute target not met", 1e-3
    )
    soft = d.policy.shortfall_usd_per_mw_year is not None
    if soft:
        _add_short(m, d, acc_keys, unit_keys)
    acc_soft = m.acc_short if soft else dict.fromkeys(acc_keys, 0.0)
    unit_soft = m.compute_short if soft else dict.fromkeys(unit_keys, 0.0)
    m.acc_target = pyo.Constraint(
        acc_keys,
        rule=lambda m, g, t: (
            pyo.quicksum(m.acc_live[s, g, t] for s in sites_of.get((g, t), []))
            - sold.get((g, t), 0.0)
            + acc_slack[g, t]
            + acc_soft[g, t]
            >= c.accelerator_targets[g, t] / 1000.0
        ),
    )
    m.compute_target = pyo.Constraint(
        unit_keys,
        rule=lambda m, t: (
            pyo.quicksum(m.compute_units[s, t] for s in m.S)
            - pyo.quicksum(1000.0 * cu[g] * v for (g, u), v in sold.items() if u == t)
            + unit_slack[t]
            + unit_soft[t]
            >= float(c.compute_targets[t])
        ),
    )


def _add_export(
    m: pyo.ConcreteModel, d: ModelData, sites_of: dict[tuple[str, int], list[str]]
) -> dict[tuple[str, int], Any]:
    """With ``policy.export``, the accelerators sold to the export market (see the module
    docstring): ``export_acc[g,t]`` [1,000 accelerators] within the fleet in service
    (``export_within_fleet``) and their IT MW ``export_acc_mw[t]`` [MW IT], which
    :func:`siting.model.policy.add_export` equates with ``export_mw[t]``.

    Returns
    -------
    dict
        (generation, period) -> the accelerators exported, to take out of the targets
        (empty without the market).
    """
    if d.policy.export_usd_per_mw_year is None:
        return {}
    kw = _data(d).generations["kw_per_accelerator"].astype(float).to_dict()
    keys = sorted(sites_of, key=lambda k: (k[1], list(kw).index(k[0])))
    m.export_acc = pyo.Var(keys, domain=pyo.NonNegativeReals)
    m.export_within_fleet = pyo.Constraint(
        keys,
        rule=lambda m, g, t: (
            m.export_acc[g, t] <= pyo.quicksum(m.acc_live[s, g, t] for s in sites_of[g, t])
        ),
    )
    m.export_acc_mw = pyo.Expression(
        m.T,
        rule=lambda m, t: pyo.quicksum(kw[g] * m.export_acc[g, u] for g, u in keys if u == t),
    )
    return {k: m.export_acc[k] for k in keys}


def _add_short(
    m: pyo.ConcreteModel, d: ModelData, acc_keys: list[tuple[str, int]], unit_keys: list[int]
) -> None:
    """Soft targets: ``acc_short[g,t]`` [1,000 accelerators] and ``compute_short[t]``
    [compute units], and their MW equivalents ``compute_short_mw[k,t]`` [MW IT] (``k``
    ``"accelerators"``: ``sum_g kw_g * acc_short[g,t]``; ``"compute"``: ``mw_per_unit *
    compute_short[t]``), priced once per year with the MW target's shortfall by
    :func:`siting.model.policy.add_shortfall` (see the module docstring)."""
    c = _data(d)
    gen = c.generations
    kw = gen["kw_per_accelerator"].astype(float).to_dict()
    cu = gen["compute_per_accelerator"].astype(float).to_dict()
    m.acc_short = pyo.Var(
        acc_keys,
        domain=pyo.NonNegativeReals,
        bounds=lambda _m, g, t: (0.0, c.accelerator_targets[g, t] / 1000.0),
    )
    m.compute_short = pyo.Var(
        unit_keys,
        domain=pyo.NonNegativeReals,
        bounds=lambda _m, t: (0.0, float(c.compute_targets[t])),
    )
    mw_per_unit = min(kw[g] / cu[g] for g in gen.index) / 1000.0
    short_gens: dict[int, list[str]] = {}
    for g, t in acc_keys:
        short_gens.setdefault(t, []).append(g)
    keys = [("accelerators", t) for t in sorted(short_gens)] + [("compute", t) for t in unit_keys]

    def mw(m: pyo.ConcreteModel, k: str, t: int) -> Any:
        if k == "compute":
            return mw_per_unit * m.compute_short[t]
        return pyo.quicksum(kw[g] * m.acc_short[g, t] for g in short_gens[t])

    m.compute_short_mw = pyo.Expression(keys, rule=mw)


def _add_cost(m: pyo.ConcreteModel, d: ModelData, sgt: list[tuple[str, str, int]]) -> None:
    """The ``compute`` cost part ``compute_cost_npv`` [USD] (see the module docstring)."""
    c = _data(d)
    gen = c.generations
    years = np.asarray(d.horizon.years, dtype=float)
    end = float(years[-1] + d.horizon.period_years[-1])
    df = [float(v) for v in d.horizon.capex_df]
    r = c.discount_rate
    disc = 1.0 / (1.0 + r)
    per_k: dict[tuple[str, int], float] = {}
    for g, row in gen.iterrows():
        life = float(row["service_life_years"])
        each = float(row["capex_usd_per_accelerator"]) + c.disposal_usd_per_accelerator * disc**life
        for t in range(len(years)):
            per_k[str(g), t] = 1000.0 * each * df[t] * cohort_cost_factor(r, life, end - years[t])
    m.compute_cost_npv = pyo.Expression(
        expr=pyo.quicksum(per_k[g, t] * m.acc_new[s, g, t] for s, g, t in sgt)
        + pyo.quicksum(
            df[t] * c.building_usd_per_rack * m.racks_new[s, t] for s in m.S for t in m.T
        )
    )
