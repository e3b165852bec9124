"""Power: what each campus draws from the grid.

- Peak draw (network limits, design hot hour): ``draw_peak[s,t] = sum_k PUE_peak[s,k] *
  capk[s,k,t]`` [MW], all IT capacity running at its peak PUE;
- typical draw (energy): ``draw_typ[s,t] = u * sum_k PUE_annual[s,k] * capk[s,k,t]`` [MW],
  with ``u`` the average IT utilisation (``grid.campus_utilisation``);
- ``draw[s,t,h]`` is ``draw_peak`` in peak snapshots and ``draw_typ`` in the others; the
  draw attaches to the site's bus.
- Campus energy per year ``energy[s,t] = 8760 h * draw_typ[s,t]`` [MWh/year].
"""

from __future__ import annotations

import pyomo.environ as pyo

from siting.model.data import HOURS_PER_YEAR, ModelData
from siting.model.state import model_state


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
        rule=lambda m, s, t: sum(pue_peak[s, k] * m.capk[s, k, t] for k in techs_of[s]),
    )
    m.draw_typ = pyo.Expression(
        m.S,
        m.T,
        rule=lambda m, s, t: u * sum(pue_ann[s, k] * m.capk[s, k, t] for k in techs_of[s]),
    )
    m.draw = pyo.Expression(
        m.S,
        m.T,
        m.H,
        rule=lambda m, s, t, h: m.draw_peak[s, t] if peak[h] else m.draw_typ[s, t],
    )
    m.energy_mwh = pyo.Expression(m.S, m.T, rule=lambda m, s, t: HOURS_PER_YEAR * m.draw_typ[s, t])
