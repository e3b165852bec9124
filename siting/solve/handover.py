"""Handing a whole Pyomo model to HiGHS in one ``addVars`` and one ``addRows``.

Pyomo's persistent HiGHS interface (``pyomo.contrib.solver``) adds a model constraint by
constraint: for each it walks the expression twice (once for its variables and named
expressions, once for its coefficients) and adds the variables it has not seen yet with
an ``addVars`` call of their own (measured on national-TX, 41,755 rows, 28,970 columns,
151,650 nonzeros: 1.54 s, median of 3). :func:`add_block_fast` walks each expression once
with Pyomo's own linear writer's visitor (:class:`pyomo.repn.linear.LinearRepnVisitor`, the
one behind ``LinearStandardFormCompiler``), hands the columns and rows over in two calls,
and fills the interface's books as its ``add_constraints`` would (0.68 s on the same
model), so that everything after it (new rows, fixed or relaxed variables, deactivated
constraints, the solution) goes through Pyomo's interface unchanged.

HiGHS receives the same model: the columns in the order in which the constraints first
name them (then the objective's), the rows in the model's order, the same coefficients
and bounds. A model this path does not cover exactly is left to Pyomo's own
``add_block`` (:func:`add_block_fast` returns False, having changed nothing): one with a
fixed variable, a mutable parameter, an SOS constraint, or a nonlinear or
variable-bounded row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numvalue import native_types


def _named_expressions(block: Any) -> dict[int, Any]:
    """{id: named expression} of every ``Expression`` in ``block``."""
    out: dict[int, Any] = {}
    for comp in block.component_objects(pyo.Expression, descend_into=True):
        for e in comp.values():
            out[id(e)] = e
    return out


def _covered(block: Any) -> bool:
    """Whether ``block`` has nothing :func:`add_block_fast` leaves to Pyomo (a fixed
    variable, a mutable parameter, an SOS constraint)."""
    for comp in block.component_objects(pyo.Param, descend_into=True):
        if comp.mutable:
            return False
    if next(block.component_data_objects(pyo.SOSConstraint, active=True), None) is not None:
        return False
    return not any(v.fixed for v in block.component_data_objects(pyo.Var, descend_into=True))


def add_block_fast(opt: Any, block: Any) -> bool:
    """Add ``block`` (the whole model, in ``set_instance``) to the persistent HiGHS
    interface ``opt`` in one ``addVars`` and one ``addRows``; False (nothing changed) when
    the block has something only Pyomo's ``add_block`` handles (see the module docstring).

    Parameters
    ----------
    opt
        A ``pyomo.contrib.solver.solvers.highs.Highs`` (Pyomo 6.10) inside its
        ``set_instance``: books reset, ``_solver_model`` a fresh ``highspy.Highs``.
    block
        The model.

    Returns
    -------
    bool
        Whether the model was added.
    """
    if not _covered(block):
        return False
    from pyomo.common.gc_manager import PauseGC

    with PauseGC():  # (the walk makes and drops many small objects, as Pyomo's writers)
        return _add_block(opt, block)


def _add_block(opt: Any, block: Any) -> bool:
    """:func:`add_block_fast` once its model is known to be covered."""
    from pyomo.contrib.solver.common.util import get_objective
    from pyomo.repn.linear import LinearRepnVisitor

    named = _named_expressions(block)
    visitor = LinearRepnVisitor({})
    # every variable a row names, in the order the walk meets them, those with a zero
    # coefficient too (Pyomo's books and column order count them; the repn drops them)
    seen: dict[int, Any] = {}
    record = visitor.record_monomial

    def record_seen(vis: Any, result: Any, coef: Any, var: Any) -> None:
        seen[id(var)] = var
        record(vis, result, coef, var)

    visitor.record_monomial = record_seen
    cons = list(block.component_data_objects(pyo.Constraint, descend_into=True, active=True))
    col: dict[int, int] = {}  # id(var) -> column, in order of first appearance
    order: list[Any] = []
    lbs = np.empty(len(cons))
    ubs = np.empty(len(cons))
    starts = np.empty(len(cons), dtype=np.int32)
    idx: list[int] = []
    val: list[float] = []
    books = []
    for i, con in enumerate(cons):
        visitor.subexpression_cache = {}  # per row: its named expressions, for the books
        seen.clear()
        lower, body, upper = con.to_bounded_expression()
        if lower.__class__ not in native_types or upper.__class__ not in native_types:
            return False  # a bound with parameters or variables: Pyomo's own walk
        repn = visitor.walk_expression(body)
        if repn.nonlinear is not None or repn.constant.__class__ not in native_types:
            return False
        starts[i] = len(idx)
        for vid, v in seen.items():
            if vid not in col:
                col[vid] = len(order)
                order.append(v)
        variables = list(seen.values())
        lin = repn.linear  # {id(var): coefficient}, nonzero ones, in the walk's order
        idx.extend([col[vid] for vid in lin])
        val.extend(lin.values())
        const = repn.constant
        lbs[i] = -np.inf if lower is None else lower - const
        ubs[i] = np.inf if upper is None else upper - const
        exprs = [(named[k], named[k].expr) for k in visitor.subexpression_cache if k in named]
        books.append((con, exprs, variables))
    # the interface's books, as its add_constraints keeps them
    opt.add_variables(order)  # (its _add_variables: one addVars, bounds and integrality)
    first = len(opt._pyomo_con_to_solver_con_map)
    for i, (con, exprs, variables) in enumerate(books):
        opt._active_constraints[con] = con.expr
        opt._named_expressions[con] = exprs
        opt._vars_referenced_by_con[con] = variables
        for v in variables:
            opt._referenced_variables[id(v)][0][con] = None
        opt._pyomo_con_to_solver_con_map[con] = first + i
        opt._solver_con_to_pyomo_con_map[first + i] = con
    opt._sol = None
    if cons:
        opt._solver_model.addRows(
            len(cons),
            lbs,
            ubs,
            len(idx),
            starts,
            np.asarray(idx, dtype=np.int32),
            np.asarray(val, dtype=float),
        )
    obj = get_objective(block)
    if obj is not None:
        opt.set_objective(obj)
    return True
