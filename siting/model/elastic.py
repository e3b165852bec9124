"""Elastic form: penalised slack on every requirement and limit, to explain infeasibility.

When a scenario has no feasible plan, :func:`siting.solve.highs.solve_plan` builds the model
again with ``elastic=True``: each requirement (targets, shares, demand) and each limit
(line ratings, substation headroom, water capacity and caps, budget) gets a non-negative
slack variable with a large penalty in the objective. The solution then says which
requirements cannot be met, where, and by how much (the slacks that are not zero).

A slack is created by :func:`slack`, which returns 0 in the normal (strict) model, so the
families read the same either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyomo.environ as pyo

from siting.model.state import model_state

if TYPE_CHECKING:
    from pyomo.core.expr.numeric_expr import NumericValue

#: Penalty per unit of slack in the elastic objective [USD per MW, per m3/day, per USD].
PENALTY = 1e9


@dataclass(frozen=True)
class SlackInfo:
    """What one slack family relaxes: its component name, unit and meaning."""

    name: str
    unit: str
    meaning: str
    weight: float = 1.0


def enable(m: pyo.ConcreteModel, elastic: bool) -> None:
    """Mark ``m`` as elastic (or strict) and start its list of slack families."""
    model_state(m).elastic = elastic
    model_state(m).slacks = []


def slack(
    m: pyo.ConcreteModel,
    name: str,
    index: pyo.Set | Sequence[Any],
    unit: str,
    meaning: str,
    weight: float = 1.0,
) -> pyo.Var | _Zero:
    """A non-negative slack variable family ``slack_<name>`` (elastic) or a zero mapping.

    Parameters
    ----------
    index
        A Pyomo set (or list of keys) the slack is indexed by.
    unit, meaning
        For the explanation (``"MW"``, ``"national target not met"``).
    weight
        Multiplies :data:`PENALTY` (to put units on a comparable footing).

    Returns
    -------
    pyomo.environ.Var or _Zero
        The slack family [``unit``], or, in the strict model, a mapping whose every entry
        is 0.
    """
    if not model_state(m).elastic:
        return _Zero()
    var = pyo.Var(index, domain=pyo.NonNegativeReals)
    m.add_component(f"slack_{name}", var)
    model_state(m).slacks.append(SlackInfo(name, unit, meaning, weight))
    return var


class _Zero:
    """Stands in for a slack in the strict model: every entry is 0."""

    def __getitem__(self, key: object) -> float:
        return 0.0


def penalty(m: pyo.ConcreteModel) -> NumericValue | float:
    """The penalty term of the elastic objective [USD] (0 for the strict model)."""
    terms = []
    for info in model_state(m).slacks:
        var = m.find_component(f"slack_{info.name}")
        terms.append(PENALTY * info.weight * pyo.quicksum(var.values()))
    return pyo.quicksum(terms) if terms else 0.0


def violations(m: pyo.ConcreteModel, tol: float = 1e-6) -> list[dict]:
    """The slacks that are not zero after an elastic solve: one row per entry.

    Returns
    -------
    list of dict
        ``requirement, index, amount, unit``, largest first within each family.
    """
    rows = []
    for info in model_state(m).slacks:
        var = m.find_component(f"slack_{info.name}")
        for key, v in var.items():
            val = v.value or 0.0
            if val > tol:
                rows.append(
                    {
                        "requirement": info.meaning,
                        "slack": info.name,
                        "index": key,
                        "amount": float(val),
                        "unit": info.unit,
                    }
                )
    rows.sort(key=lambda r: (r["slack"], -r["amount"]))
    return rows
