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
from pyomo.core.expr.numeric_expr import (
    DivisionExpression,
    LinearExpression,
    MonomialTermExpression,
    NegationExpression,
    ProductExpression,
    SumExpression,
)
from pyomo.core.expr.numvalue import NumericConstant, native_numeric_types, native_types


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


class _Bail(Exception):
    """A node :func:`_flat_linear` leaves to the visitor."""


#: A node's result as the visitor makes it: a number (a constant result), or
#: ``(multiplier, {id(var): coefficient}, constant)``.
_Result = Any


class _Reader:
    """Reads a row body as Pyomo's ``LinearRepnVisitor`` (Pyomo 6.10) walks it, for the
    node types siting's rows are made of (see :func:`_flat_linear`)."""

    __slots__ = ("cache", "seen")

    def __init__(self, seen: dict[int, Any]) -> None:
        self.seen = seen
        #: the named expressions met, by id, in the order the visitor caches them, with
        #: their results: id -> (named expression, result)
        self.cache: dict[int, tuple[Any, _Result]] = {}

    def node(self, node: Any) -> _Result:
        cls = node.__class__
        if cls in native_numeric_types:
            return node
        if cls is MonomialTermExpression:  # the visitor's _before_monomial
            coef, var = node._args_
            if coef.__class__ not in native_types or var.fixed:
                raise _Bail
            self.seen[id(var)] = var
            return (1, {id(var): coef}, 0) if coef else 0
        if cls is LinearExpression:
            return self._linear(node)
        if cls is SumExpression:
            return self._sum(node)
        if cls is NegationExpression:  # _handle_negation_ANY / _constant
            r = self.node(node.args[0])
            if r.__class__ is not tuple:
                return -1 * r
            return (r[0] * -1, r[1], r[2])
        if cls is NumericConstant:  # _before_param: its value
            v = node.value
            if v.__class__ not in native_numeric_types:
                raise _Bail
            return v
        if cls is DivisionExpression:  # _handle_division_ANY_constant / _constant_constant
            a, b = node.args
            if b.__class__ not in native_numeric_types or not b:
                raise _Bail
            r = self.node(a)
            if r.__class__ is not tuple:
                return r / b
            return (r[0] / b, r[1], r[2])
        if cls is ProductExpression:  # _handle_product_constant_ANY / _ANY_constant
            a, b = node.args
            if a.__class__ in native_numeric_types:
                num, other = a, b
            elif b.__class__ in native_numeric_types:
                num, other = b, a
            else:
                raise _Bail
            r = self.node(other)
            if r.__class__ is not tuple:
                return num * r  # (a product of two floats is the same either way round)
            return (r[0] * num, r[1], r[2])
        if node.is_named_expression_type():  # _before_named_expression, _handle_named_*
            key = id(node)
            if key in self.cache:
                return self.cache[key][1]
            r = self.node(node.expr)
            self.cache[key] = (node, r)
            return r
        if node.is_variable_type():  # _before_var
            if node.fixed:
                raise _Bail
            self.seen[id(node)] = node
            return (1, {id(node): 1}, 0)
        raise _Bail

    def _linear(self, node: Any) -> _Result:
        """The visitor's _before_linear."""
        linear: dict[int, Any] = {}
        const: Any = 0
        seen = self.seen
        for arg in node.args:
            acls = arg.__class__
            if acls is MonomialTermExpression:
                coef, var = arg._args_
                if coef.__class__ not in native_types or var.fixed:
                    raise _Bail
            elif acls in native_numeric_types:
                const += arg
                continue
            elif arg.is_variable_type() and not arg.fixed:
                coef, var = 1, arg
            else:
                raise _Bail
            vid = id(var)
            seen[vid] = var
            if vid in linear:
                linear[vid] += coef
            elif coef:
                linear[vid] = coef
        return (1, linear, const) if linear else const

    def _sum(self, node: Any) -> _Result:
        """A new result with each child appended (LinearRepn.append)."""
        linear: dict[int, Any] = {}
        const: Any = 0
        for arg in node.args:
            r = self.node(arg)
            if r.__class__ is not tuple:
                const += r
                continue
            mult, lin, c = r
            if not mult:  # 0 * child: the visitor adds nothing (its variables are seen)
                continue
            if mult == 1:
                const += c
            else:  # the visitor scales the child as it appends it (a constant only if nonzero)
                if c:
                    const += mult * c
                lin = {vid: mult * coef for vid, coef in lin.items()}
            for vid, coef in lin.items():
                if vid in linear:
                    linear[vid] += coef
                else:
                    linear[vid] = coef
        return (1, linear, const) if linear else 1 * const


def _flat_linear(
    body: Any,
    seen: dict[int, Any],
    named: list[int] | None = None,
    named_objects: list[Any] | None = None,
) -> tuple[dict[int, Any], Any] | None:
    """The row body ``body`` as ``({id(var): coefficient}, constant)`` when it is made of
    sums, negations, products of a number and an expression, named expressions,
    monomials with number coefficients, variables and numbers (siting's rows); ``None`` for
    anything else, which Pyomo's visitor walks.

    It is what the visitor (``pyomo.repn.linear.LinearRepnVisitor``, Pyomo 6.10) makes of
    such a body, step for step: each node's result as its handlers make it (a monomial with
    a zero coefficient is a constant; a linear expression's repeated variables summed; a
    negation or a product by a number scales a multiplier that the enclosing sum applies
    as it appends; a named expression read once per row), then ``finalizeResult`` (zeros
    dropped; a multiplier factored in). Every variable a row names, zero or not, goes to
    ``seen``, and the ids of the named expressions it met to ``named``, in the visitor's
    order (the books; the expressions themselves to ``named_objects``).
    ``tests/test_handover.py`` compares it with the visitor row by row
    and the LP arrays HiGHS gets both ways on whole models. Reading the terms directly
    saves the visitor's dispatch on every row (national-M: 56,000 rows).
    """
    reader = _Reader(seen)
    try:
        r = reader.node(body)
    except _Bail:
        return None
    if named is not None:
        named.extend(reader.cache)
    if named_objects is not None:
        named_objects.extend(e for e, _ in reader.cache.values())
    if r.__class__ is not tuple:
        return {}, r
    mult, lin, const = r
    if mult == 1:
        return {k: c for k, c in lin.items() if c}, const
    if not mult:
        return None
    out = {}
    for k, c in lin.items():
        prod = mult * c
        if prod:
            out[k] = prod
    return out, mult * const if const else const


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
        lower, body, upper = con.to_bounded_expression()
        if lower.__class__ not in native_types or upper.__class__ not in native_types:
            return False  # a bound with parameters or variables: Pyomo's own walk
        seen.clear()
        met: list[int] = []
        flat = _flat_linear(body, seen, met)
        if flat is not None:
            lin, const = flat
            exprs = [(named[k], named[k].expr) for k in met if k in named]
        else:  # the visitor's walk (named expressions, nested sums, products, ...)
            seen.clear()
            visitor.subexpression_cache = {}  # per row: its named expressions, for the books
            repn = visitor.walk_expression(body)
            if repn.nonlinear is not None or repn.constant.__class__ not in native_types:
                return False
            lin, const = repn.linear, repn.constant  # nonzero ones, in the walk's order
            exprs = [(named[k], named[k].expr) for k in visitor.subexpression_cache if k in named]
        starts[i] = len(idx)
        for vid, v in seen.items():
            if vid not in col:
                col[vid] = len(order)
                order.append(v)
        variables = list(seen.values())
        idx.extend([col[vid] for vid in lin])
        val.extend(lin.values())
        lbs[i] = -np.inf if lower is None else lower - const
        ubs[i] = np.inf if upper is None else upper - const
        books.append((con, exprs, variables))
    opt.add_variables(order)  # (its _add_variables: one addVars, bounds and integrality)
    opt._sol = None
    _book_and_add_rows(opt, books, lbs, ubs, starts, idx, val)
    obj = get_objective(block)
    if obj is not None:
        opt.set_objective(obj)
    return True


def add_constraints_fast(opt: Any, cons: list[Any]) -> bool:
    """Add the rows ``cons`` to the persistent HiGHS interface ``opt`` in one ``addVars`` (the
    variables it does not hold yet) and one ``addRows``, reading each row directly
    (:func:`_flat_linear`) and filling the interface's books as its ``add_constraints``
    would; False (nothing changed) when a row is not one :func:`_flat_linear` reads (a
    fixed variable, a parameter, a nonlinear term, a bound that is not a number) or is
    already held, which Pyomo's own ``add_constraints`` then adds (or refuses).

    The rows siting adds between solves (rounding's headroom rows, the repair's pins,
    feasibility cuts) took 0.2 s of national-M's re-solves through Pyomo's two walks per
    row. HiGHS gets the coefficients the whole-model hand-over would give the same rows
    (:func:`add_block_fast`).

    Parameters
    ----------
    opt
        A ``pyomo.contrib.solver.solvers.highs.Highs`` (Pyomo 6.10) holding a model.
    cons
        Constraint data objects of that model, active.

    Returns
    -------
    bool
        Whether the rows were added.
    """
    held = opt._named_expressions
    refs = opt._referenced_variables
    new: dict[int, Any] = {}
    rows = []
    for con in cons:
        if con in held:
            return False  # (Pyomo's add_constraints says so)
        lower, body, upper = con.to_bounded_expression()
        if lower.__class__ not in native_types or upper.__class__ not in native_types:
            return False
        seen: dict[int, Any] = {}
        objs: list[Any] = []
        flat = _flat_linear(body, seen, None, objs)
        if flat is None:
            return False
        for vid, v in seen.items():
            if vid not in refs and vid not in new:
                new[vid] = v
        rows.append((con, flat, list(seen.values()), objs, lower, upper))
    if not rows:
        return True
    opt.add_variables(list(new.values()))  # (its books and one addVars)
    opt._sol = None
    if opt._last_results_object is not None:
        opt._last_results_object.solution_loader.invalidate()
    col = opt._pyomo_var_to_solver_var_map
    lbs = np.empty(len(rows))
    ubs = np.empty(len(rows))
    starts = np.empty(len(rows), dtype=np.int32)
    idx: list[int] = []
    val: list[float] = []
    books = []
    for i, (con, (lin, const), variables, objs, lower, upper) in enumerate(rows):
        starts[i] = len(idx)
        idx.extend([col[vid] for vid in lin])
        val.extend(lin.values())
        lbs[i] = -np.inf if lower is None else lower - const
        ubs[i] = np.inf if upper is None else upper - const
        books.append((con, [(e, e.expr) for e in objs], variables))
    _book_and_add_rows(opt, books, lbs, ubs, starts, idx, val)
    return True


def _book_and_add_rows(
    opt: Any,
    books: list[tuple[Any, list, list]],
    lbs: np.ndarray,
    ubs: np.ndarray,
    starts: np.ndarray,
    idx: list[int] | np.ndarray,
    val: list[float] | np.ndarray,
) -> None:
    """Enter the rows ``books`` ((constraint, its named expressions as ``(e, e.expr)``, its
    variables), in order) in the interface's books as its ``add_constraints`` keeps them,
    numbered after the rows it holds, and hand them to HiGHS in one ``addRows`` (row bounds
    ``lbs``, ``ubs``; CSR ``starts``, column ``idx``, coefficient ``val``)."""
    first = len(opt._pyomo_con_to_solver_con_map)
    refs = opt._referenced_variables
    for i, (con, exprs, variables) in enumerate(books):
        opt._active_constraints[con] = con.expr
        opt._named_expressions[con] = exprs
        opt._vars_referenced_by_con[con] = variables
        for v in variables:
            refs[id(v)][0][con] = None
        opt._pyomo_con_to_solver_con_map[con] = first + i
        opt._solver_con_to_pyomo_con_map[first + i] = con
    if books:
        opt._solver_model.addRows(
            len(books),
            lbs,
            ubs,
            len(idx),
            starts,
            np.asarray(idx, dtype=np.int32),
            np.asarray(val, dtype=float),
        )
