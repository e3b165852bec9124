"""Sites: which sites open, which cooling each uses, how many modules in which year.

Index sets (sparse: only pairs screening kept):

- ``S`` sites, ``T`` periods (positions into ``data.horizon.years``), ``K`` technologies,
  ``SK`` the (site, technology) pairs a site may choose.

Variables:

- ``open[s]`` binary; ``opens[s,t]`` binary, the period the site opens in:
  ``sum_t opens[s,t] = open[s]`` and ``build[s,t] <= ub[s,t] * opened[s,t]`` with
  ``opened[s,t] = sum_{t' <= t} opens[s,t']`` (so fixed costs are discounted from the year
  they are paid);
- ``tech[s,k]`` binary, one per open site: ``sum_k tech[s,k] = open[s]``;
- ``build[s,t]`` integer modules of ``module_mw`` added in period t,
  ``0 <= build[s,t] <= ub[s,t] = floor(max_build_mw_per_year * years_t / module_mw)``
  (and at most what the site holds), and 0 before the site's earliest period;
- ``capk[s,k,t]`` IT MW in service on technology k (continuous), with
  ``capk[s,k,t] <= max_it_mw[s] * tech[s,k]`` and ``sum_k capk[s,k,t] = cap[s,t]``.

One column where the data leave no choice (:func:`pinned_to_open`): the integer families
above are Pyomo ``Reference`` components whose members are either their own variable
(``opens_own``, ``tech_own``, ``build_own``) or the column ``open[s]`` itself, so every
reader (plan extraction, the kernel, fixing a schedule) sees ``opens``, ``tech`` and
``build`` as before, while HiGHS gets one integer where one suffices:

- with one planning period, ``opens[s,0] = open[s]`` (``open_once`` is then an identity,
  not a row; ``open[s] = 0`` when the site's earliest period is after it);
- at a site with one allowed technology ``k``, ``tech[s,k] = open[s]`` (``one_tech`` is an
  identity, and ``tech_cap`` follows from ``split`` and ``max_size``: neither is a row);
- with one period, a site whose build bound ``ub[s,0]`` is one module and a positive
  ``min_campus_mw`` has ``build[s,0] = open[s]``: ``build <= opened = open`` and ``module *
  build >= min_campus * open > 0`` give ``build >= open``.

Where no pinning applies the family is a plain variable, as it always was.

Expressions: ``cap[s,t] = module_mw * sum_{t' <= t} build[s,t']`` [MW IT] and
``new[s,t] = module_mw * build[s,t]``.

Constraints: ``cap[s,t] <= max_it_mw[s] * open[s]``; ``cap[s,T-1] >= min_campus_mw * open[s]``
(the campus reaches its minimum size by the last year; no row when the minimum is 0);
``open[B] <= open[A]`` for the dominance cuts of :mod:`siting.model.dominance`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyomo.environ as pyo

from siting.model.data import ModelData, partners
from siting.model.state import model_state

if TYPE_CHECKING:
    from pyomo.core.expr.numeric_expr import NumericValue


def techs_by_site(d: ModelData) -> dict[str, list[str]]:
    """The technologies each site may choose, in one pass over ``d.cooling.allowed``."""
    return partners(d.cooling.allowed, d.campus.sites, d.cooling.techs)[0]


def modules_held(d: ModelData) -> dict[str, int]:
    """Most modules each site holds: ``floor(max_it_mw / module_mw)``."""
    max_it = d.campus.site["max_it_mw"].to_dict()
    return {s: math.floor(max_it[s] / d.campus.module_mw + 1e-9) for s in d.campus.sites}


def build_bounds(d: ModelData) -> dict[tuple[str, int], int]:
    """Upper bound of ``build[s,t]`` [modules]: 0 before the site's earliest period, else
    the smaller of the period's build limit and what the site holds."""
    earliest = d.campus.site["earliest_period"].to_dict()
    holds = modules_held(d)
    out = {}
    for s in d.campus.sites:
        for t in range(d.horizon.n_years):
            ub = 0 if t < earliest[s] else int(min(d.campus.max_modules_per_period[t], holds[s]))
            out[s, t] = ub
    return out


def pinned_to_open(d: ModelData) -> dict[str, set]:
    """Which members of ``opens``, ``tech`` and ``build`` are the column ``open[s]``.

    Returns
    -------
    dict
        ``{"opens": {(s, 0)}, "tech": {(s, k)}, "build": {(s, 0)}}`` (see the module
        docstring for why each is exact).
    """
    one_year = d.horizon.n_years == 1
    techs_of = techs_by_site(d)
    ub = build_bounds(d)
    return {
        "opens": {(s, 0) for s in d.campus.sites} if one_year else set(),
        "tech": {(s, k) for s, k in d.cooling.allowed if len(techs_of[s]) == 1},
        "build": (
            {(s, 0) for s in d.campus.sites if ub[s, 0] == 1}
            if one_year and d.campus.min_campus_mw > 0
            else set()
        ),
    }


def _family(m: pyo.ConcreteModel, name: str, index: Sequence, pinned: set, **var_args) -> None:
    """Declare the variable family ``name`` over ``index`` (keys starting with the site): a
    plain ``Var``, or, when some members are ``pinned``, a ``Reference`` whose pinned
    members are the column ``open[s]`` and whose others are members of ``<name>_own``."""
    if not pinned:
        m.add_component(name, pyo.Var(index, **var_args))
        return
    own = pyo.Var([k for k in index if k not in pinned], **var_args)
    m.add_component(f"{name}_own", own)
    members = {k: (m.open[k[0]] if k in pinned else own[k]) for k in index}
    m.add_component(name, pyo.Reference(members, ctype=pyo.Var))


def opened(m: pyo.ConcreteModel, s: str, t: int) -> NumericValue:
    """``sum_{t' <= t} opens[s,t']``: whether site ``s`` is open by period ``t`` (a single
    column at ``t = 0``, the column ``open[s]`` with one planning period)."""
    if t == 0:
        return m.opens[s, 0]
    return pyo.quicksum(m.opens[s, u] for u in range(t + 1))


def add_sites(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Add the site family to ``m`` (see the module docstring for the math)."""
    m.S = pyo.Set(initialize=d.campus.sites, ordered=True)
    m.T = pyo.Set(initialize=range(d.horizon.n_years), ordered=True)
    m.K = pyo.Set(initialize=d.cooling.techs, ordered=True)
    m.SK = pyo.Set(within=m.S * m.K, initialize=d.cooling.allowed, ordered=True)
    m.SKT = pyo.Set(
        within=m.S * m.K * m.T,
        initialize=[(s, k, t) for (s, k) in d.cooling.allowed for t in range(d.horizon.n_years)],
        ordered=True,
    )
    max_it = d.campus.site["max_it_mw"].to_dict()
    earliest = d.campus.site["earliest_period"].to_dict()
    ub = build_bounds(d)
    pin = pinned_to_open(d)
    st = [(s, t) for s in d.campus.sites for t in range(d.horizon.n_years)]

    never = {
        s for s in d.campus.sites if earliest[s] >= d.horizon.n_years
    }  # no period left to open in
    m.open = pyo.Var(m.S, domain=pyo.Binary, bounds=lambda _m, s: (0, 0) if s in never else (0, 1))
    _family(
        m,
        "opens",
        st,
        pin["opens"],
        domain=pyo.Binary,
        bounds=lambda _m, s, t: (0, 0) if t < earliest[s] else (0, 1),
    )
    _family(m, "tech", d.cooling.allowed, pin["tech"], domain=pyo.Binary)
    _family(
        m,
        "build",
        st,
        pin["build"],
        domain=pyo.NonNegativeIntegers,
        bounds=lambda _m, s, t: (0, ub[s, t]),
    )
    m.capk = pyo.Var(m.SKT, domain=pyo.NonNegativeReals, bounds=lambda _m, s, k, t: (0, max_it[s]))

    m.new = pyo.Expression(m.S, m.T, rule=lambda m, s, t: d.campus.module_mw * m.build[s, t])
    m.cap = pyo.Expression(
        m.S, m.T, rule=lambda m, s, t: d.campus.module_mw * sum(m.build[s, u] for u in range(t + 1))
    )
    techs_of = techs_by_site(d)
    model_state(m).techs_of = techs_of  # plain dict: the technologies each site may choose

    if not pin["opens"]:
        m.open_once = pyo.Constraint(
            m.S, rule=lambda m, s: sum(m.opens[s, t] for t in m.T) == m.open[s]
        )
    m.build_after_open = pyo.Constraint(
        m.S,
        m.T,
        rule=lambda m, s, t: (
            pyo.Constraint.Skip
            if (s, t) in pin["build"] or ub[s, t] == 0  # an identity, or the bound says it
            else m.build[s, t] <= ub[s, t] * opened(m, s, t)
        ),
    )
    one_tech = {s for s, _ in pin["tech"]}  # tech[s,k] is open[s]: identities, no rows
    m.one_tech = pyo.Constraint(
        [s for s in d.campus.sites if s not in one_tech],
        rule=lambda m, s: sum(m.tech[s, k] for k in techs_of[s]) == m.open[s],
    )
    m.split = pyo.Constraint(
        m.S, m.T, rule=lambda m, s, t: sum(m.capk[s, k, t] for k in techs_of[s]) == m.cap[s, t]
    )
    m.tech_cap = pyo.Constraint(
        [(s, k, t) for (s, k, t) in m.SKT if s not in one_tech],
        rule=lambda m, s, k, t: m.capk[s, k, t] <= max_it[s] * m.tech[s, k],
    )
    m.max_size = pyo.Constraint(m.S, m.T, rule=lambda m, s, t: m.cap[s, t] <= max_it[s] * m.open[s])
    last = d.horizon.n_years - 1
    m.min_size = pyo.Constraint(
        m.S if d.campus.min_campus_mw > 0 else [],
        rule=lambda m, s: m.cap[s, last] >= d.campus.min_campus_mw * m.open[s],
    )
    cuts = d.campus.dominance_cuts
    if cuts:
        # valid by an exchange argument (siting.model.dominance): B open only if A is
        m.dominance = pyo.Constraint(
            range(len(cuts)), rule=lambda m, i: m.open[cuts[i][0]] <= m.open[cuts[i][1]]
        )
    m.total_cap = pyo.Expression(m.T, rule=lambda m, t: sum(m.cap[s, t] for s in m.S))
