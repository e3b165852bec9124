"""The value of a linear Pyomo expression at the variables' current values, read directly.

``pyo.value`` walks an expression with Pyomo's generic evaluation visitor (a dispatch and a
result list per node): on national-M the plan's cost parts, the metrics and the rounding's
capacities (about 45,000 evaluations of sums over named expressions) took 0.6 s of the
Python around HiGHS. :func:`value_of` reads the node types siting's expressions are made
of (sums, linear expressions, monomials, products, negations, named expressions, variables
and numbers) with a plain recursion, and does each node's arithmetic exactly as that node's
``_apply_operation`` does in Pyomo 6.10, in the same order (``sum`` of the arguments' values
left to right, ``a * b``, ``-a``), so the result is the same float, bit for bit
(``tests/test_evaluate.py`` compares them on every expression and objective of the demo's
model). Any other node is left to ``pyo.value``.
"""

from __future__ import annotations

from typing import Any

import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import (
    LinearExpression,
    MonomialTermExpression,
    NegationExpression,
    ProductExpression,
    SumExpression,
)
from pyomo.core.expr.numvalue import native_numeric_types


class _NoValue(Exception):
    """A variable without a value (``pyo.value(..., exception=False)`` gives None)."""


def _node(node: Any) -> Any:
    cls = node.__class__
    if cls in native_numeric_types:
        return node
    if cls is MonomialTermExpression or cls is ProductExpression:
        a, b = node._args_
        return _node(a) * _node(b)
    if cls is SumExpression or cls is LinearExpression:
        return sum(map(_node, node.args))
    if cls is NegationExpression:
        return -_node(node._args_[0])
    if node.is_variable_type():
        v = node.value
        if v is None:
            raise _NoValue
        return v
    if node.is_named_expression_type():
        e = node.expr
        if e is None:
            raise _NoValue
        return _node(e)
    v = pyo.value(node, exception=False)  # anything else: Pyomo's own evaluation
    if v is None:
        raise _NoValue
    return v


def value_of(expr: Any, default: float | None = None) -> Any:
    """The value of ``expr`` (a Pyomo expression, named expression, variable or number) at
    the variables' current values, as ``pyo.value(expr, exception=False)`` gives it;
    ``default`` when a variable in it has no value.

    Parameters
    ----------
    expr
        The expression [its own unit].
    default
        What a variable without a value makes of the whole.

    Returns
    -------
    float or None
        The value [the expression's unit], or ``default``.
    """
    try:
        return _node(expr)
    except _NoValue:
        return default
    except (RecursionError, AttributeError):  # a very deep tree, or a leaf of another kind
        v = pyo.value(expr, exception=False)  # (not siting's): Pyomo's own walk
        return default if v is None else v


def value_required(expr: Any) -> float:
    """:func:`value_of` ``expr`` as a float, and Pyomo's own error (``pyo.value``) when a
    variable in it has no value [the expression's unit]."""
    v = value_of(expr)
    return float(pyo.value(expr) if v is None else v)
