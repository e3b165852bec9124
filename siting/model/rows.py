"""Rows handed to HiGHS flat: a row's column positions and coefficients, registered on the
model beside the ordinary Pyomo constraint of the same meaning (see :class:`FlatRow`).

The model's families declare them (:mod:`siting.model.grid`), the lazy loop adds more
(:mod:`siting.solve.lazy`), and the HiGHS adapter (:mod:`siting.solve.highs`) hands them
over in one ``addRows``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyomo.environ as pyo

from siting.model.state import model_state


@dataclass
class FlatRow:
    """A linear row ``lb <= coefs @ pool[pos] + extra_coefs @ extra_vars <= ub``.

    The lazy loop's PTDF limits carry tens of thousands of terms each on a national grid;
    Pyomo's persistent interface walks every term of every new row (most of the Python
    time on a 9,241-bus case). A row registered with :func:`register_flat_row` is handed to
    HiGHS as column positions and coefficients in one ``addRows`` instead, its columns
    looked up once per variable pool. The row stays declared in the Pyomo model (an
    ordinary constraint with the same meaning: LP files and other solvers see it).

    Attributes
    ----------
    pool
        Key of a variable pool (:func:`register_pool`).
    pos, coefs
        Positions into the pool and their coefficients.
    extra_vars, extra_coefs
        A few more terms (Pyomo variables and coefficients).
    lb, ub
        Bounds of the row (``-inf``/``inf`` for none).
    """

    pool: Any
    pos: Any
    coefs: Any
    extra_vars: list
    extra_coefs: list
    lb: float
    ub: float


def register_pool(m: pyo.ConcreteModel, key: Any, variables: Any) -> None:
    """Register a pool of Pyomo variables (a numpy object array) under ``key``."""
    model_state(m).flat_pools[key] = variables


def register_flat_row(m: pyo.ConcreteModel, con: Any, row: FlatRow) -> None:
    """Hand constraint ``con`` (already in ``m``, same meaning) to HiGHS as ``row``."""
    model_state(m).flat_rows[con] = row
