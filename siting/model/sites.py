"""Sites: which sites open, which cooling each uses, how many modules in which year.

Index sets (sparse: only pairs screening kept):

- ``S`` sites, ``T`` periods (positions into ``data.years``), ``K`` technologies,
  ``SK`` the (site, technology) pairs a site may choose.

Variables:

- ``open[s]`` binary; ``opens[s,t]`` binary, the period the site opens in:
  ``sum_t opens[s,t] = open[s]`` and ``build[s,t] <= ub[s,t] * sum_{t' <= t} opens[s,t']``
  (so fixed costs are discounted from the year they are paid);
- ``tech[s,k]`` binary, one per open site: ``sum_k tech[s,k] = open[s]``;
- ``build[s,t]`` integer modules of ``module_mw`` added in period t,
  ``0 <= build[s,t] <= floor(max_build_mw_per_year * years_t / module_mw)``, and 0 before the
  site's earliest period;
- ``capk[s,k,t]`` IT MW in service on technology k (continuous), with
  ``capk[s,k,t] <= max_it_mw[s] * tech[s,k]`` and ``sum_k capk[s,k,t] = cap[s,t]``.

Expressions: ``cap[s,t] = module_mw * sum_{t' <= t} build[s,t']`` [MW IT] and
``new[s,t] = module_mw * build[s,t]``.

Constraints: ``cap[s,t] <= max_it_mw[s] * open[s]``; ``cap[s,T-1] >= min_campus_mw * open[s]``
(the campus reaches its minimum size by the last year); ``open[B] <= open[A]`` for the
dominance cuts of :mod:`siting.model.dominance`.
"""

from __future__ import annotations

import math

import pyomo.environ as pyo

from siting.model.data import ModelData


def add_sites(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Add the site family to ``m`` (see the module docstring for the math)."""
    m.S = pyo.Set(initialize=d.sites, ordered=True)
    m.T = pyo.Set(initialize=range(d.n_years), ordered=True)
    m.K = pyo.Set(initialize=d.techs, ordered=True)
    m.SK = pyo.Set(within=m.S * m.K, initialize=d.allowed, ordered=True)
    m.SKT = pyo.Set(
        within=m.S * m.K * m.T,
        initialize=[(s, k, t) for (s, k) in d.allowed for t in range(d.n_years)],
        ordered=True,
    )
    max_it = d.site["max_it_mw"].to_dict()
    earliest = d.site["earliest_period"].to_dict()
    max_mod_site = {s: math.floor(max_it[s] / d.module_mw + 1e-9) for s in d.sites}

    m.open = pyo.Var(m.S, domain=pyo.Binary)
    m.opens = pyo.Var(
        m.S,
        m.T,
        domain=pyo.Binary,
        bounds=lambda _m, s, t: (0, 0) if t < earliest[s] else (0, 1),
    )
    m.tech = pyo.Var(m.SK, domain=pyo.Binary)

    def build_bounds(_m, s, t):
        if t < earliest[s]:
            return (0, 0)
        return (0, int(min(d.max_modules_per_period[t], max_mod_site[s])))

    m.build = pyo.Var(m.S, m.T, domain=pyo.NonNegativeIntegers, bounds=build_bounds)
    m.capk = pyo.Var(m.SKT, domain=pyo.NonNegativeReals, bounds=lambda _m, s, k, t: (0, max_it[s]))

    m.new = pyo.Expression(m.S, m.T, rule=lambda m, s, t: d.module_mw * m.build[s, t])
    m.cap = pyo.Expression(
        m.S, m.T, rule=lambda m, s, t: d.module_mw * sum(m.build[s, u] for u in range(t + 1))
    )
    techs_of: dict[str, list[str]] = {s: [] for s in d.sites}
    for s, k in d.allowed:
        techs_of[s].append(k)
    m._techs_of = techs_of  # plain dict: the technologies each site may choose

    m.open_once = pyo.Constraint(
        m.S, rule=lambda m, s: sum(m.opens[s, t] for t in m.T) == m.open[s]
    )
    m.build_after_open = pyo.Constraint(
        m.S,
        m.T,
        rule=lambda m, s, t: (
            m.build[s, t] <= m.build[s, t].ub * sum(m.opens[s, u] for u in range(t + 1))
        ),
    )
    m.one_tech = pyo.Constraint(
        m.S, rule=lambda m, s: sum(m.tech[s, k] for k in techs_of[s]) == m.open[s]
    )
    m.split = pyo.Constraint(
        m.S, m.T, rule=lambda m, s, t: sum(m.capk[s, k, t] for k in techs_of[s]) == m.cap[s, t]
    )
    m.tech_cap = pyo.Constraint(
        m.SKT, rule=lambda m, s, k, t: m.capk[s, k, t] <= max_it[s] * m.tech[s, k]
    )
    m.max_size = pyo.Constraint(m.S, m.T, rule=lambda m, s, t: m.cap[s, t] <= max_it[s] * m.open[s])
    last = d.n_years - 1
    m.min_size = pyo.Constraint(
        m.S, rule=lambda m, s: m.cap[s, last] >= d.min_campus_mw * m.open[s]
    )
    cuts = d.dominance_cuts
    if cuts:
        # valid by an exchange argument (siting.model.dominance): B open only if A is
        m.dominance = pyo.Constraint(
            range(len(cuts)), rule=lambda m, i: m.open[cuts[i][0]] <= m.open[cuts[i][1]]
        )
    m.total_cap = pyo.Expression(m.T, rule=lambda m, t: sum(m.cap[s, t] for s in m.S))
