"""Compute pacts (issue 22): chip supply under a licence, the security tier of the sites
that receive it, an energy contract, and a public-interest share of the pact's compute.
Nothing is added without pacts (``d.pacts`` empty) or without the compute family.

Built after :mod:`siting.model.compute` and the relief families (on-site, flexibility),
before time to power and the grid: a new-build PPA lowers the campuses' draw from the grid
(:func:`siting.model.power.register_relief`).

Sets: ``PK`` the pacts (by name); ``E_p`` pact p's sites (in its scope and of at least its
security tier); ``G_p`` the generations it licenses (its supply schedule); ``L = U_p G_p``.

Supply (accelerators in thousands, as in the compute family):

- ``pact_acc[p,s,g,t] >= 0`` for ``s in E_p``, ``g in G_p``, ``(s,g,t) in SGT``: the
  accelerators of generation g pact p supplies to site s in period t;
- licence (``pact_licence``): for ``g in L``, ``acc_new[s,g,t] = sum_{p: s in E_p, g in
  G_p} pact_acc[p,s,g,t]``: a licensed generation is installed only under a pact, at a
  pact's site of its tier (``acc_new = 0`` elsewhere);
- cap (``pact_supply``): ``sum_s pact_acc[p,s,g,t] <= N_{p,g,t} / 1000`` with ``N`` the
  schedule's accelerators for the period (0 in a period it does not list): a cap per
  planning period on the accelerators installed, not cumulative (an export licence grants
  a number of exports in a year).

Energy contract (``mwh_per_year = V_p`` at ``c_p`` USD/MWh): ``pact_mwh[p,s,t] >= 0``
[MWh/year] for ``s in E_p``, ``sum_s pact_mwh[p,s,t] <= V_p`` and, per site, ``sum_p
pact_mwh[p,s,t] <= energy_mwh[s,t]`` (the campus's energy, ``8,760 h x draw_typ``).

- without the grid model, campus energy is priced at the flat ``energy_usd_per_mwh`` (``e``);
  the contract replaces that price for the volume used: ``pact_energy_npv = sum op_weight[t]
  * (c_p - e) * pact_mwh[p,s,t]`` (taken only where it is cheaper);
- with the grid model, a ``ppa`` contract (new build) is a flat block at the campus:
  ``pact_ppa_mw[s,t,h] = sum_{p ppa} pact_mwh[p,s,t] / 8,760`` lowers its draw from the
  grid in every snapshot (relief source ``pact_ppa``), paid ``op_weight[t] * c_p *
  pact_mwh[p,s,t]``; a contract with existing generators or a region moves money between
  campus and seller and not the system's dispatch cost (the objective), so it adds nothing
  to the model and the plan reports it (the volume used: the smaller of the contract and
  the pact campuses' energy).

Public interest (``public_interest_share = a_p``, the public-interest family's pattern),
attributed per site and generation so that each unit of compute counts toward at most one
pact's share (two pacts covering the same site and generations would otherwise both count
the same compute): ``pact_public[p,s,g,t] >= 0`` [compute units] for ``s`` among the pact's
public-eligible sites and ``g in G_p``,

- ``pact_public_at``: ``sum_{p} pact_public[p,s,g,t] <= 1000 * cu_g * acc_live[s,g,t]``
  (the compute of generation g at s, shared among the pacts that may claim it);
- ``pact_public_share``: ``sum_{s,g} pact_public[p,s,g,t] >= a_p * sum_{s in E_p}
  U_p[s,t]``, with ``U_p[s,t] = sum_{g in G_p} 1000 * cu_g * acc_live[s,g,t]`` the pact's
  compute at s [compute units] (all generations when ``G_p`` is empty).

Two pacts on the same sites and generations asking 50 % each thus hold all of that compute
public; asking more than 100 % between them, the plan keeps its compute off their sites,
or there is no plan (the elastic model names ``pact public-interest share not met``).

The cost ``pact_energy_npv`` [USD] joins the ``energy`` cost part.
"""

from __future__ import annotations

from typing import Any

import pyomo.environ as pyo

from siting.model import elastic
from siting.model.data import HOURS_PER_YEAR, ModelData
from siting.model.pactdata import licensed
from siting.model.power import register_relief


def add_pacts(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Add the pact family to ``m`` (see the module docstring); nothing without pacts or
    without the compute family."""
    if not d.pacts or m.component("acc_new") is None:
        return
    m.PK = pyo.Set(initialize=[p.name for p in d.pacts], ordered=True)
    _add_supply(m, d)
    _add_energy(m, d)
    _add_public(m, d)


def _add_supply(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Licence and supply caps (see the module docstring)."""
    have = set(m.SGT)
    keys = [
        (p.name, s, g, t)
        for p in d.pacts
        for s in p.sites
        for g in p.generations
        for t in range(d.horizon.n_years)
        if (s, g, t) in have
    ]
    m.PSGT = pyo.Set(dimen=4, initialize=keys, ordered=True)
    m.pact_acc = pyo.Var(m.PSGT, domain=pyo.NonNegativeReals)
    under: dict[tuple[str, str, int], list[str]] = {}
    by_cap: dict[tuple[str, str, int], list[str]] = {}
    for p, s, g, t in keys:
        under.setdefault((s, g, t), []).append(p)
        by_cap.setdefault((p, g, t), []).append(s)
    lic = licensed(d.pacts)
    m.pact_licence = pyo.Constraint(
        [k for k in m.SGT if k[1] in lic],
        rule=lambda m, s, g, t: (
            m.acc_new[s, g, t]
            == pyo.quicksum(m.pact_acc[p, s, g, t] for p in under.get((s, g, t), []))
        ),
    )
    caps = [(p.name, g, t) for p in d.pacts for g in p.generations for t in m.T]
    cap_of = {
        (p.name, g, t): p.supply.get((g, t), 0.0) / 1000.0
        for p in d.pacts
        for g, t in ((g, t) for g in p.generations for t in range(d.horizon.n_years))
    }
    over = elastic.slack(m, "pact_supply_k", caps, "1,000 accelerators", "pact supply cap exceeded")
    m.pact_supply = pyo.Constraint(
        [k for k in caps if by_cap.get(k)],
        rule=lambda m, p, g, t: (
            pyo.quicksum(m.pact_acc[p, s, g, t] for s in by_cap[p, g, t])
            <= cap_of[p, g, t] + over[p, g, t]
        ),
    )


def _add_energy(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Energy contracts (see the module docstring): ``pact_energy_npv`` [USD]."""
    grid = d.grid.enabled
    modelled = [
        p for p in d.pacts if p.energy_source and (not grid or p.energy_source == "ppa") and p.sites
    ]
    if not modelled:
        m.pact_energy_npv = pyo.Expression(expr=0.0)
        return
    keys = [(p.name, s, t) for p in modelled for s in p.sites for t in range(d.horizon.n_years)]
    m.PST = pyo.Set(dimen=3, initialize=keys, ordered=True)
    m.pact_mwh = pyo.Var(m.PST, domain=pyo.NonNegativeReals)
    m.pact_volume = pyo.Constraint(
        [(p.name, t) for p in modelled for t in m.T],
        rule=lambda m, p, t: (
            pyo.quicksum(m.pact_mwh[p, s, t] for s in _pact(d, p).sites)
            <= _pact(d, p).energy_mwh_per_year
        ),
    )
    of_site: dict[tuple[str, int], list[str]] = {}
    for p, s, t in keys:
        of_site.setdefault((s, t), []).append(p)
    m.pact_within_use = pyo.Constraint(
        list(of_site),
        rule=lambda m, s, t: (
            pyo.quicksum(m.pact_mwh[p, s, t] for p in of_site[s, t]) <= m.energy_mwh[s, t]
        ),
    )
    op = [float(w) for w in d.horizon.op_weight]
    flat = 0.0 if grid else d.grid.energy_usd_per_mwh
    price = {p.name: p.energy_usd_per_mwh - flat for p in modelled}
    m.pact_energy_npv = pyo.Expression(
        expr=pyo.quicksum(op[t] * price[p] * m.pact_mwh[p, s, t] for p, s, t in keys)
    )
    if grid:
        ppa_sites = sorted({s for _, s, _ in keys}, key=list(d.campus.sites).index)
        m.pact_ppa_mw = pyo.Var(ppa_sites, m.T, m.H, domain=pyo.NonNegativeReals)
        m.pact_ppa_block = pyo.Constraint(
            ppa_sites,
            m.T,
            m.H,
            rule=lambda m, s, t, h: (
                HOURS_PER_YEAR * m.pact_ppa_mw[s, t, h]
                == pyo.quicksum(m.pact_mwh[p, s, t] for p in of_site[s, t])
            ),
        )
        register_relief(m, m.pact_ppa_mw, 1.0, ppa_sites, "pact_ppa")


def _pact(d: ModelData, name: str) -> Any:
    """The pact called ``name``."""
    return next(p for p in d.pacts if p.name == name)


def _add_public(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Public-interest shares of the pacts' compute, each unit of compute counted toward at
    most one pact's share (see the module docstring)."""
    gen = d.compute.generations if d.compute is not None else None
    if gen is None:
        return
    cu = gen["compute_per_accelerator"].astype(float).to_dict()
    have = set(m.SGT)
    shared = [p for p in d.pacts if p.public_share > 0 and p.sites]
    if not shared:
        return
    every = [str(g) for g in gen.index]

    def units(p: Any, s: str, t: int) -> Any:
        return pyo.quicksum(
            1000.0 * cu[g] * m.acc_live[s, g, t]
            for g in p.generations or every
            if (s, g, t) in have
        )

    keys = [
        (p.name, s, g, t)
        for p in shared
        for s in p.public_sites
        for g in p.generations or every
        for t in range(d.horizon.n_years)
        if (s, g, t) in have
    ]
    m.PPSGT = pyo.Set(dimen=4, initialize=keys, ordered=True)
    m.pact_public = pyo.Var(m.PPSGT, domain=pyo.NonNegativeReals)
    claims: dict[tuple[str, str, int], list[str]] = {}
    held: dict[tuple[str, int], list[tuple[str, str]]] = {}
    for p, s, g, t in keys:
        claims.setdefault((s, g, t), []).append(p)
        held.setdefault((p, t), []).append((s, g))
    m.pact_public_at = pyo.Constraint(
        list(claims),
        rule=lambda m, s, g, t: (
            pyo.quicksum(m.pact_public[p, s, g, t] for p in claims[s, g, t])
            <= 1000.0 * cu[g] * m.acc_live[s, g, t]
        ),
    )
    rows = [(p.name, t) for p in shared for t in m.T]
    short = elastic.slack(
        m, "pact_public_units", rows, "compute units", "pact public-interest share not met", 1e-3
    )
    m.pact_public_share = pyo.Constraint(
        rows,
        rule=lambda m, p, t: (
            pyo.quicksum(m.pact_public[p, s, g, t] for s, g in held.get((p, t), [])) + short[p, t]
            >= _pact(d, p).public_share
            * pyo.quicksum(units(_pact(d, p), s, t) for s in _pact(d, p).sites)
        ),
    )
