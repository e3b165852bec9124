"""Rows handed to HiGHS flat: a row's column positions and coefficients, registered on the
model beside the ordinary Pyomo constraint of the same meaning (see :class:`FlatRow`).

The model's families declare them (:mod:`siting.model.grid`), the lazy loop adds more
(:mod:`siting.solve.lazy`), and the HiGHS adapter (:mod:`siting.solve.highs`) hands them
over in one ``addRows``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import (
    LinearExpression,
    MonomialTermExpression,
    NumericExpression,
)

from siting.model.state import model_state

#: The storage of an expression's children (Pyomo 6.10: the ``_args_`` slot of
#: ``NumericExpression``), which :class:`DeferredLinearExpression` fills on first use.
_ARGS_SLOT = NumericExpression.__dict__["_args_"]


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


class DeferredLinearExpression(LinearExpression):
    """A Pyomo ``LinearExpression`` ``constant + coefs @ variables`` whose terms are made
    on first use.

    A flat row (:class:`FlatRow`) reaches HiGHS without Pyomo reading its terms, yet its
    Pyomo constraint used to make one ``MonomialTermExpression`` per term up front: on
    national-TX (ACTIVSg2000, 600 sites) 2.7 s of a 28 s run for the lazy loop's 971 PTDF
    limits. This expression keeps the numpy arrays and makes the terms the first time
    anything reads its children (an LP file, another solver, Pyomo's own hand-over,
    ``pyo.value``), so the constraint means the same and reads the same; it is a
    ``LinearExpression`` to every Pyomo walker. Make one with :meth:`of`.
    """

    __slots__ = ("_deferred",)
    _deferred: tuple[float, np.ndarray, Any] | None

    def __init__(
        self,
        args: Any = None,
        constant: Any = None,
        linear_coefs: Any = None,
        linear_vars: Any = None,
    ) -> None:
        self._deferred = None
        super().__init__(args, constant, linear_coefs, linear_vars)

    @classmethod
    def of(
        cls, constant: float, coefs: np.ndarray, variables: np.ndarray
    ) -> DeferredLinearExpression:
        """``constant + coefs @ variables`` (``coefs``: floats; ``variables``: a numpy
        object array of Pyomo variables, as long as ``coefs``; a zero constant is left
        out, as ``LinearExpression`` does)."""
        e = cls.__new__(cls)
        e._deferred = (float(constant), np.asarray(coefs, dtype=float), variables)
        e._nargs = len(coefs) + (1 if constant else 0)
        return e

    @property
    def _args_(self) -> list:
        d = self._deferred
        if d is not None:
            self._deferred = None
            const, coefs, variables = d
            args: list = [const] if const else []
            terms = zip(coefs.tolist(), list(variables), strict=True)
            args.extend(map(MonomialTermExpression, terms))
            _ARGS_SLOT.__set__(self, args)
        return _ARGS_SLOT.__get__(self)

    @_args_.setter
    def _args_(self, value: list) -> None:
        self._deferred = None
        _ARGS_SLOT.__set__(self, value)

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        # Pyomo's walkers and writers dispatch on ``node.__class__`` and know
        # LinearExpression; its handlers read the children, which makes them
        return LinearExpression

    def __reduce_ex__(self, protocol: Any) -> tuple:
        # a pickle holds a plain LinearExpression, its terms made
        return LinearExpression, (self.args,)

    def __deepcopy__(self, memo: dict) -> LinearExpression:
        # a copy (``m.clone()``) is a plain LinearExpression, its terms made
        import copy

        out = memo.get(id(self))
        if out is None:
            out = memo[id(self)] = copy.deepcopy(LinearExpression(self.args), memo)
        return out
