"""Power: what each campus draws from the grid.

The IT MW that draw power on technology k (:func:`it_on`) are ``on[s,k,t] = capk[s,k,t]``,
the IT capacity; with the compute family (:mod:`siting.model.compute`, built before this
one) ``on[s,k,t] = capk[s,k,t] - idle_mw[s,k,t]``, the MW its accelerators use (the idle
envelope draws nothing), so ``sum_k on[s,k,t] = it_used_mw[s,t]``.

- Peak draw (network limits, design hot hour): ``draw_peak[s,t] = sum_k PUE_peak[s,k] *
  on[s,k,t]`` [MW], all IT in service running at its peak PUE;
- typical draw (energy): ``draw_typ[s,t] = u * sum_k PUE_annual[s,k] * on[s,k,t]`` [MW],
  with ``u`` the average IT utilisation (``grid.campus_utilisation``);
- ``draw[s,t,h]`` is ``draw_peak`` in peak snapshots and ``draw_typ`` in the others; the
  draw attaches to the site's bus.
- Campus energy per year ``energy[s,t] = 8760 h * draw_typ[s,t]`` [MWh/year].
- The draw *from the grid* (:func:`grid_draw`) is ``draw[s,t,h]`` less what the families
  registered with :func:`register_relief` take off it (curtailed flexible MW, on-site
  output, storage discharge less charging): ``grid_draw[s,t,h] = draw[s,t,h] - sum_r coef_r
  * relief_r[s,t,h]``. Those families are built after this one and before the grid, which
  reads each site's draw through :func:`grid_draw` (balances, headroom) and, in the PTDF
  form, puts the relief variables in its rows' variable pools.
- Time to power (:func:`add_power_years`, built after the relief families): a campus that
  may have MW before its grid connection (on-site options: ``earliest_period <
  flex_period``) draws nothing from the grid until then, ``grid_draw[s,t,h] <= 0`` (it is
  at least 0: on-site supply is never exported); between its flexible and its firm
  connection (``flex_period <= t < firm_period``) all its MW are flexible,
  ``firm_it_mw[s,t] <= 0`` (:mod:`siting.model.flex`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pyomo.environ as pyo

from siting.model.data import HOURS_PER_YEAR, ModelData
from siting.model.state import Relief, model_state

if TYPE_CHECKING:
    from pyomo.core.expr.numeric_expr import NumericValue


def add_power(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Add the draw expressions (see the module docstring)."""
    pue_peak = d.cooling.perf["pue_peak"].to_dict()
    pue_ann = d.cooling.perf["pue_annual"].to_dict()
    u = d.horizon.utilisation
    techs_of = model_state(m).techs_of  # the technologies each site may choose
    m.H = pyo.Set(initialize=list(d.horizon.snapshots.index), ordered=True)
    peak = d.horizon.snapshots["peak"].to_dict()

    m.draw_peak = pyo.Expression(
        m.S,
        m.T,
        rule=lambda m, s, t: sum(pue_peak[s, k] * it_on(m, s, k, t) for k in techs_of[s]),
    )
    m.draw_typ = pyo.Expression(
        m.S,
        m.T,
        rule=lambda m, s, t: u * sum(pue_ann[s, k] * it_on(m, s, k, t) for k in techs_of[s]),
    )
    m.draw = pyo.Expression(
        m.S,
        m.T,
        m.H,
        rule=lambda m, s, t, h: m.draw_peak[s, t] if peak[h] else m.draw_typ[s, t],
    )
    m.energy_mwh = pyo.Expression(m.S, m.T, rule=lambda m, s, t: HOURS_PER_YEAR * m.draw_typ[s, t])


def it_on(m: pyo.ConcreteModel, s: str, k: str, t: int) -> NumericValue:
    """The IT MW of site ``s`` on technology ``k`` in period ``t`` that draw power [MW IT]:
    ``capk[s,k,t]``, less ``idle_mw[s,k,t]`` with the compute family (see the module
    docstring)."""
    idle = m.component("idle_mw")
    if idle is None:
        return m.capk[s, k, t]
    return m.capk[s, k, t] - idle[s, k, t]


def it_on_site(m: pyo.ConcreteModel, s: str, t: int) -> NumericValue:
    """The IT MW of site ``s`` in period ``t`` that draw power [MW IT]: ``cap[s,t]``, or
    ``it_used_mw[s,t]`` with the compute family (``= sum_k it_on(m, s, k, t)``)."""
    if m.component("idle_mw") is None:
        return m.cap[s, t]
    return m.it_used_mw[s, t]


def register_relief(
    m: pyo.ConcreteModel, var: pyo.Var, coef: float, sites: Iterable[str], source: str
) -> None:
    """Register a variable family that lowers campus draws from the grid [MW].

    Parameters
    ----------
    m
        The model, with its power family built and its grid family not yet.
    var
        A Pyomo ``Var`` on ``m`` indexed by (site, period, snapshot), with every (s, t, h)
        of ``sites``.
    coef
        +1 where the variable lowers the draw, -1 where it raises it [MW/MW].
    sites
        The sites ``var`` covers.
    source
        What it is, in the plan's tables (``curtailment``, ``onsite_solar``, ...).

    Raises
    ------
    ValueError
        When the grid family is already built (it would not see the relief), or ``var`` is
        not a component of ``m``.
    """
    if m.component("balance") is not None or m.component("island_balance") is not None:
        raise ValueError(f"relief {var.local_name!r} registered after the grid family was built")
    if m.component(var.local_name) is not var:
        raise ValueError(f"relief {var.local_name!r} is not a component of the model")
    model_state(m).relief.append(
        Relief(name=var.local_name, coef=float(coef), sites=tuple(sites), source=source)
    )


def relief_at(m: pyo.ConcreteModel) -> dict[str, list[tuple[pyo.Var, float]]]:
    """The relief families of each site {site_id: [(var, coef)]} (sites without any absent)."""
    out: dict[str, list[tuple[pyo.Var, float]]] = {}
    for r in model_state(m).relief:
        var = m.component(r.name)
        for s in r.sites:
            out.setdefault(s, []).append((var, r.coef))
    return out


def grid_draw(m: pyo.ConcreteModel, s: str, t: int, h: str, at: dict | None = None) -> NumericValue:
    """Site ``s``'s draw from the grid in period ``t``, snapshot ``h`` [MW]: its facility
    draw less its registered relief (see the module docstring). ``at``: :func:`relief_at`
    (computed when not given)."""
    at = relief_at(m) if at is None else at
    parts = at.get(s)
    if not parts:
        return m.draw[s, t, h]
    return m.draw[s, t, h] - pyo.quicksum(c * v[s, t, h] for v, c in parts)


def add_power_years(m: pyo.ConcreteModel, d: ModelData) -> None:
    """Time to power (see the module docstring): the rows ``no_grid_yet[s,t,h]`` and
    ``flexible_only[s,t]``, where a site's periods call for them; nothing otherwise."""
    site = d.campus.site
    if not len(site):
        return
    n = d.horizon.n_years
    early = site["earliest_period"].to_dict()
    flex_p = site["flex_period"].to_dict() if "flex_period" in site else early
    firm_p = site["firm_period"].to_dict() if "firm_period" in site else early
    relief = relief_at(m)
    pre = [(s, t) for s in d.campus.sites for t in range(int(early[s]), min(int(flex_p[s]), n))]
    if pre:
        bad = sorted({s for s, _ in pre if s not in relief})
        if bad:
            raise ValueError(
                f"sites {bad[:5]} may have MW before their grid connection but nothing "
                "lowers their draw from the grid (no on-site option)"
            )
        m.PRE = pyo.Set(initialize=pre, ordered=True, dimen=2)
        m.no_grid_yet = pyo.Constraint(
            m.PRE, m.H, rule=lambda m, s, t, h: grid_draw(m, s, t, h, relief) <= 0.0
        )
    if m.component("firm_it_mw") is None:
        return
    flex_only = [
        (s, t)
        for s in d.campus.sites
        for t in range(max(int(early[s]), int(flex_p[s])), min(int(firm_p[s]), n))
    ]
    if flex_only:
        m.FLEXONLY = pyo.Set(initialize=flex_only, ordered=True, dimen=2)
        m.flexible_only = pyo.Constraint(m.FLEXONLY, rule=lambda m, s, t: m.firm_it_mw[s, t] <= 0.0)
