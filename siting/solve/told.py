"""Telling the HiGHS adapter what changed in a model between two of its solves.

Siting solves one Pyomo model many times: the lazy loop adds line-limit rows, the LP
rounds make the integers continuous and back, the repair pins decisions by their bounds,
the rounding adds and deletes a margin row. Before each re-solve Pyomo's persistent
interface finds what changed by scanning every row and variable of the model (50 ms a
solve on national-TX, 41,800 rows and 29,000 columns, with nothing changed). Siting knows
what it changed, and says so here; the adapter (:mod:`siting.solve.highs`) then hands only
those changes to HiGHS, through Pyomo's own ``add_constraints``, ``remove_constraints``,
``update_variables`` and ``set_objective`` (so Pyomo's books stay right for whatever still
goes through Pyomo), and skips the scan.

What the told path covers, with ``A`` the rows the model holds active, ``B`` the rows
HiGHS holds (Pyomo's books) and ``V`` the variables HiGHS holds:

- rows added (:func:`rows_added`): ``B <- B + (told and active)``;
- rows deactivated or deleted (:func:`rows_removed`): ``B <- B - (told and not in A)``;
- variables whose bounds or domain changed (:func:`variables_changed`): their columns'
  bounds ``l_j, u_j`` and integrality set anew; a variable fixed, unfixed or fixed at
  another value is a constant ``x_j = v`` of the rows it is in (Pyomo folds it in), so
  those rows are handed over again, as Pyomo's update does;
- the objective replaced (:func:`objective_changed`).

A change it does not cover (a model with mutable parameters, ``pyo.Param(mutable=True)``)
or one a caller declares as such (:func:`rescan`) makes the next update Pyomo's own full
scan, as before. A row's expression replaced in place is not looked for (Pyomo's check of
it is off in the adapter: siting never does it).

**Untold changes are caught.** Before each told update the adapter checks the model
against what HiGHS holds (:class:`Guard`, about 8 ms on national-TX): every variable of
``V`` still has the bounds, domain and fixed state (and, fixed, the value) HiGHS was
given, unless it was told; afterwards every active row is in ``B`` and ``|A| = |B|``; the
active objective is the one HiGHS holds. A mismatch is a change nobody told: with
:data:`STRICT` (the tests set it) it raises :class:`UntoldChangeError` naming it,
otherwise Pyomo's full scan puts HiGHS right and a ``RuntimeWarning`` says so. With
:data:`STRICT` every told update is also checked against Pyomo's own scan, run after it:
the scan must find nothing left to add, remove or update.
"""

from __future__ import annotations

import operator
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import pyomo.environ as pyo

from siting.core.errors import SitingError
from siting.model.state import model_state

#: Raise :class:`UntoldChangeError` on a change nobody told, and check each told update
#: against Pyomo's full scan (tests; environment ``SITING_TOLD_STRICT=1``).
STRICT = os.environ.get("SITING_TOLD_STRICT", "") not in ("", "0")
#: Whether the adapter uses told changes at all (False: Pyomo's scan before every
#: re-solve, as before; for measurements and comparisons).
ENABLED = True

#: What HiGHS was given of a variable (Pyomo 6.10 ``VarData`` slots): its bounds (numbers
#: or expressions, compared by value), fixed flag and domain.
_SLOTS = tuple(operator.attrgetter(a) for a in ("_lb", "_ub", "_fixed", "_domain"))
_ACTIVE = operator.attrgetter("_active")
#: The place of ``_domain`` in :data:`_SLOTS`. Domains are compared by identity: Pyomo's
#: domains are shared objects (``Binary``, ``Reals``, ...), and comparing two different
#: ones (``Set.__eq__``) took 0.33 s of national-M's re-solves after integers were
#: relaxed. A domain replaced by an equal object counts as changed (a told change, or
#: Pyomo's scan when untold: never a change missed).
_DOMAIN = 3


class UntoldChangeError(SitingError):
    """A model was changed between two solves without telling the HiGHS adapter."""


@dataclass
class Changes:
    """What changed in a model since its last solve, as told (see the module docstring).

    Attributes
    ----------
    rows_added, rows_removed
        Constraints added; deactivated or deleted (Pyomo ``ConstraintData``).
    variables
        Variables whose bounds or domain changed {id: ``VarData``}.
    objective
        Whether the active objective was replaced.
    rescan
        Why the next update must be Pyomo's full scan ("" when it need not).
    """

    rows_added: list = field(default_factory=list)
    rows_removed: list = field(default_factory=list)
    variables: dict = field(default_factory=dict)
    objective: bool = False
    rescan: str = ""


def _changes(m: pyo.ConcreteModel) -> Changes | None:
    """The change log of ``m``'s HiGHS adapter (None: no adapter, nothing to tell)."""
    opt = model_state(m).highs_solver
    return None if opt is None else opt.told


def rows_added(m: pyo.ConcreteModel, cons: Any) -> None:
    """Tell ``m``'s HiGHS adapter that the constraints ``cons`` were added."""
    ch = _changes(m)
    if ch is not None:
        ch.rows_added.extend(cons)


def rows_removed(m: pyo.ConcreteModel, cons: Any) -> None:
    """Tell ``m``'s HiGHS adapter that the constraints ``cons`` were deactivated or
    deleted (tell before or after; a row active again by the next solve stays)."""
    ch = _changes(m)
    if ch is not None:
        ch.rows_removed.extend(cons)


def variables_changed(m: pyo.ConcreteModel, variables: Any) -> None:
    """Tell ``m``'s HiGHS adapter that the bounds, domains or fixed states (and fixed
    values) of ``variables`` changed."""
    ch = _changes(m)
    if ch is not None:
        ch.variables.update((id(v), v) for v in variables)


def objective_changed(m: pyo.ConcreteModel) -> None:
    """Tell ``m``'s HiGHS adapter that its active objective was replaced."""
    ch = _changes(m)
    if ch is not None:
        ch.objective = True


def rescan(m: pyo.ConcreteModel, why: str) -> None:
    """Tell ``m``'s HiGHS adapter that the model changed in a way only Pyomo's full scan
    finds (``why``: what, for the record): the next update is that scan."""
    ch = _changes(m)
    if ch is not None and not ch.rescan:
        ch.rescan = why


def set_bounds(m: pyo.ConcreteModel, bounds: Any) -> None:
    """Set ``(variable, lb, ub)`` bounds of variables of ``m`` and tell its adapter."""
    changed = []
    for v, lb, ub in bounds:
        v.setlb(lb)
        v.setub(ub)
        changed.append(v)
    variables_changed(m, changed)


def _in_model(con: Any) -> bool:
    """Whether the constraint ``con`` is active in its model (its family active and not
    deleted; the blocks above are not looked at: siting adds rows to the model itself)."""
    comp = con.parent_component()
    return bool(con._active and comp is not None and comp._active) and (
        comp.parent_block() is not None
    )


class Guard:
    """What HiGHS was given, to find a change nobody told (see the module docstring).

    Each attribute is held as a list of its own (floats, None, booleans and the domain
    objects: nothing the garbage collector tracks, so taking them does not set off a
    collection of the whole model, as 29,000 tuples did: 150 ms on national-TX).

    Attributes
    ----------
    variables
        The variables HiGHS holds (Pyomo's books, in their order).
    held
        Their ``_lb``, ``_ub``, ``_fixed`` and ``_domain`` when HiGHS was last given them
        (one list per attribute, in :data:`_SLOTS` order).
    fixed
        (variable, value) of those fixed then (a fixed value is a constant of the rows).
    version
        The adapter's count of changes to its variables when this was taken.
    """

    def __init__(self, opt: Any) -> None:
        self.variables = [t[0] for t in opt._vars.values()]
        self.held = self.take()
        fixed = self.held[2]
        self.fixed = [(v, v._value) for v, f in zip(self.variables, fixed, strict=True) if f]
        self.version = opt.vars_version

    def take(self) -> list[list]:
        """The attributes of :attr:`variables` now, one list per attribute."""
        return [list(map(get, self.variables)) for get in _SLOTS]

    def changed_variables(self) -> tuple[list, list[list]]:
        """(variables whose attributes changed since, their attributes now)."""
        now = self.take()
        out: dict[int, Any] = {}
        for slot, (new, old) in enumerate(zip(now, self.held, strict=True)):
            if slot == _DOMAIN:  # another domain object is a change (see _DOMAIN)
                if any(map(operator.is_not, new, old)):  # (the lists are equally long)
                    out.update(
                        (id(v), v)
                        for v, a, b in zip(self.variables, new, old, strict=True)
                        if a is not b
                    )
            elif new != old:
                out.update(
                    (id(v), v)
                    for v, a, b in zip(self.variables, new, old, strict=True)
                    if a is not b and a != b
                )
        out.update((id(v), v) for v, x in self.fixed if v._value != x)
        return list(out.values()), now


def active_rows_held(opt: Any) -> str:
    """Empty when the rows HiGHS holds are the model's active rows, else which are not."""
    held = opt._pyomo_con_to_solver_con_map
    n = 0
    for con in opt._model.component_objects(pyo.Constraint, active=True, descend_into=True):
        if con.is_reference():
            continue
        act = list(filter(_ACTIVE, con._data.values()))
        n += len(act)
        if not all(map(held.__contains__, act)):
            missing = [c.name for c in act if c not in held]
            return f"active rows HiGHS does not hold: {', '.join(missing[:5])}"
    if n != len(held):
        return f"HiGHS holds {len(held)} rows, the model has {n} active"
    return ""


def _names(vs: list) -> str:
    return ", ".join(v.name for v in vs[:5]) + (f" and {len(vs) - 5} more" if len(vs) > 5 else "")


def update(opt: Any, timer: Any, full: Any) -> None:
    """The adapter's update before a re-solve (``opt``: a persistent HiGHS interface of
    :mod:`siting.solve.highs`; ``full(timer)``: Pyomo's own update, the full scan).

    Applies the changes told since the last solve (``opt.told``), checked by the
    :class:`Guard`; falls back to ``full`` where the told path does not reach.

    Raises
    ------
    UntoldChangeError
        With :data:`STRICT`, when the model changed without being told.
    """
    told, opt.told = opt.told, Changes()
    guard = opt.guard
    why = told.rescan or _not_covered(opt)
    if not why and (guard is None or guard.version != opt.vars_version):
        why = "the variables HiGHS holds changed outside an update"
    if not why:
        done, problem = _apply(opt, told, guard)
        if problem:
            if STRICT:
                raise UntoldChangeError(
                    f"the model changed without telling the HiGHS adapter: {problem}"
                )
            warnings.warn(
                f"siting: the model changed without telling the HiGHS adapter ({problem}); "
                "Pyomo's full scan put HiGHS right",
                RuntimeWarning,
                stacklevel=3,
            )
        if done and not problem:
            if STRICT:
                _check_with_pyomo(opt, full, timer)
            return
    full(timer)
    opt.guard = Guard(opt)


def _not_covered(opt: Any) -> str:
    """Why the told path cannot serve ``opt``'s model ("" when it can)."""
    if not ENABLED:
        return "told changes switched off"
    if opt._params:
        return "mutable parameters"
    return ""


def _apply(opt: Any, told: Changes, guard: Guard) -> tuple[bool, str]:
    """Hand the told changes to HiGHS (``guard``: what it was given before them).

    Returns
    -------
    (done, problem)
        Whether they were handed over (False: nothing was, Pyomo's scan is needed); and
        the change nobody told ("" when none).
    """
    from pyomo.contrib.solver.common.util import get_objective

    changed, now = guard.changed_variables()
    untold = [v for v in changed if id(v) not in told.variables]
    if untold:
        return False, f"variables {_names(untold)} (bounds, domain or fixed state)"
    books = opt._vars
    upd = [v for k, v in told.variables.items() if k in books]
    # fixed, unfixed or fixed at another value: a fixed variable is a constant of the
    # rows it is in, which are handed over again (as Pyomo's update does)
    refix = [
        v for v in upd if books[id(v)][3] != v._fixed or (v._fixed and books[id(v)][5] != v._value)
    ]
    if refix and not opt._treat_fixed_vars_as_params:
        return False, ""  # (Pyomo's other way with fixed variables: its scan)
    obj = get_objective(opt._model)
    if not told.objective and (
        obj is not opt._objective
        or (
            obj is not None
            and (obj.expr is not opt._objective_expr or obj.sense != opt._objective_sense)
        )
    ):
        return False, "the objective"
    held_rows = opt._pyomo_con_to_solver_con_map
    gone = [c for c in dict.fromkeys(told.rows_removed) if c in held_rows and not _in_model(c)]
    if gone:
        opt.remove_constraints(gone)
    if opt._mutable_helpers or opt._mutable_bounds:
        # row bounds with a fixed variable's value in them, variable bounds given as
        # expressions: their values again, as Pyomo's update does (there are no
        # parameters: those are Pyomo's scan's)
        opt.update_parameters()
    new = [c for c in dict.fromkeys(told.rows_added) if c not in held_rows and _in_model(c)]
    if new:
        opt.add_constraints(_in_model_order(opt._model, new))
    if upd:
        opt.update_variables(upd)
    if refix:
        _refix(opt, refix, books)
    if told.objective or (refix and opt._objective is not None and _in_objective(opt, refix)):
        opt.set_objective(obj)
    problem = active_rows_held(opt)
    if not problem:
        if guard.version == opt.vars_version:  # (the same variables: the list holds)
            guard.held = now
        else:
            opt.guard = Guard(opt)
    return True, problem


def _refix(opt: Any, refix: list, books: dict) -> None:
    """Hand over again the rows the variables ``refix`` (fixed, unfixed, or fixed at
    another value) are in, as Pyomo's update does: removed and added back, in the order
    of Pyomo's books (the variables', then each one's rows)."""
    order = {vid: i for i, vid in enumerate(books)}
    redo: dict = {}
    for v in sorted(refix, key=lambda v: order[id(v)]):
        redo.update(dict.fromkeys(opt._referenced_variables[id(v)][0]))
    rows = list(redo)
    if rows:
        opt.remove_constraints(rows)
        opt.add_constraints(rows)


def _in_objective(opt: Any, variables: list) -> bool:
    """Whether one of ``variables`` is in the objective HiGHS holds."""
    return any(opt._referenced_variables[id(v)][2] is not None for v in variables)


def _in_model_order(m: pyo.ConcreteModel, cons: list) -> list:
    """``cons`` in the order Pyomo's scan meets them (the families in the model's order,
    each family's rows in its own): HiGHS numbers the rows, and the columns they bring,
    as it would through the scan."""
    fams: dict[int, Any] = {}
    for c in cons:
        fams.setdefault(id(c.parent_component()), c.parent_component())
    pos: dict[int, int] = {}
    if len(fams) > 1:
        for i, comp in enumerate(
            m.component_objects(pyo.Constraint, active=True, descend_into=True)
        ):
            pos[id(comp)] = i
    order: dict[int, int] = {}
    for comp in fams.values():
        order.update((id(c), i) for i, c in enumerate(comp.values()))
    return sorted(cons, key=lambda c: (pos.get(id(c.parent_component()), 0), order[id(c)]))


class _Found:
    """What Pyomo's scan would still change after a told update (strict mode)."""

    def __init__(self) -> None:
        self.what: list[str] = []

    def watch(self, name: str, real: Any) -> Any:
        def call(items: Any, *a: Any, **k: Any) -> Any:
            if name == "set_objective" or items:
                label = name if name == "set_objective" else f"{name} {_labels(items)}"
                self.what.append(label)
            return real(items, *a, **k)

        return call


def _labels(items: Any) -> str:
    return ", ".join(getattr(x, "name", str(x)) for x in list(items)[:5])


def _check_with_pyomo(opt: Any, full: Any, timer: Any) -> None:
    """Strict mode: run Pyomo's own scan after the told update; it must find nothing."""
    found = _Found()
    names = (
        "add_constraints",
        "remove_constraints",
        "add_variables",
        "remove_variables",
        "update_variables",
        "set_objective",
    )
    for name in names:
        setattr(opt, name, found.watch(name, getattr(opt, name)))
    try:
        full(timer)
    finally:
        for name in names:
            opt.__dict__.pop(name, None)
    if found.what:
        raise UntoldChangeError(
            "the model changed without telling the HiGHS adapter: Pyomo's scan after the "
            "told update found " + "; ".join(found.what)
        )
    opt.guard = Guard(opt)
