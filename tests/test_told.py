"""Telling the HiGHS adapter what changed (siting.solve.told).

The reference for the told path is Pyomo's own update (its scan of every row and
variable): on the same model, after the same changes, HiGHS must hold the same LP, array
for array, and Pyomo's books must be the same. A change nobody told must be caught: in
strict mode (the tests' default, tests/conftest.py) it raises, otherwise Pyomo's scan puts
HiGHS right and a warning says so. The solution read back in bulk must equal Pyomo's own
load.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.contrib.solver.common.persistent import PersistentSolverUtils
from pyomo.contrib.solver.solvers.highs import Highs

from siting.model import build_model
from siting.model.state import model_state
from siting.pipeline import prepare
from siting.solve import lazy, told
from siting.solve.highs import _highs_with_start, _load_vars, solve

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # benchmarks/ is not an installed package

from test_handover import books_of, lp_of  # noqa: E402  (the LP and books as arrays)
from test_kernel import N_SITES  # noqa: E402  (the S instance of the kernel tests)

from benchmarks.instances import write_size  # noqa: E402


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """pandapower's case118 with 30 candidate sites, PTDF form (benchmarks' S size)."""
    folder = tmp_path_factory.mktemp("told")
    sc = write_size(folder, "S", formulation="ptdf", n_sites=N_SITES, mip_gap=0.0)
    return prepare(sc)


def _adapter(m: pyo.ConcreteModel):
    """A persistent HiGHS adapter holding ``m`` (as ``solve`` keeps it)."""
    opt = _highs_with_start(Highs)()
    opt.set_instance(m)
    model_state(m).highs_solver = opt
    return opt


class _Scans:
    """Records which adapters ran Pyomo's full update (its scan of the model)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.by: list = []
        real = PersistentSolverUtils.update

        def counted(opt, timer=None):
            self.by.append(opt)
            return real(opt, timer)

        monkeypatch.setattr(PersistentSolverUtils, "update", counted)


def _update(opt, *, told_path: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapter's update by the told path alone (no strict check after it) or by
    Pyomo's scan."""
    with monkeypatch.context() as mp:
        mp.setattr(told, "ENABLED", told_path)
        mp.setattr(told, "STRICT", False)
        opt.update()


def _same(a, b) -> None:
    """The two adapters hold the same LP (array for array) and the same books."""
    la, lb = lp_of(a), lp_of(b)
    for key in la:
        assert np.array_equal(la[key], lb[key]), key
    assert books_of(a) == books_of(b)


def test_the_told_path_gives_highs_the_same_lp_as_pyomos_update(prepared, monkeypatch):
    """Two copies of one model, each change made to both: one adapter told, the other
    left to Pyomo's scan. After each step the LPs are equal array for array (columns,
    rows, bounds, coefficients, integrality, costs), and the told adapter never scanned
    (but for the fixed variable at the end, which is Pyomo's to hand over).

    The counts checked on the way, from the changes themselves: a lazy limit is two rows
    (``f <= rating`` and ``-f <= rating``), so 6 limits add 12 rows; the rounding's margin
    is one row and one column per period (5 periods); the pins set both bounds of a column
    to the pinned value (1 for ``open``); the doubled objective doubles every cost.
    """
    d = prepared.data
    ma, mb = (build_model(d, baseline_usd=prepared.baseline_usd) for _ in range(2))
    a, b = _adapter(ma), _adapter(mb)
    _same(a, b)
    scans = _Scans(monkeypatch)
    ints0 = int(lp_of(a)["integrality"].sum())
    assert ints0 > 0  # (open, opens, tech, build, upgrades)

    def both(change) -> None:
        change(ma)
        change(mb)
        _update(a, told_path=True, monkeypatch=monkeypatch)
        _update(b, told_path=False, monkeypatch=monkeypatch)
        _same(a, b)

    # the LP rounds: every integer continuous
    saved = {}
    both(lambda m: saved.__setitem__(id(m), lazy._relax(m)))
    assert lp_of(a)["integrality"].sum() == 0
    # lazy limits on six (branch, period, snapshot): three branches in two cases
    rating = d.grid.network.rating_mw
    limited = [int(br) for br in np.flatnonzero(np.isfinite(rating))[:3]]
    snaps = list(d.horizon.snapshots.index)
    triples = [(br, 0, snaps[0]) for br in limited] + [(br, 1, snaps[-1]) for br in limited]
    rows0 = a._solver_model.getNumRow()
    both(lambda m: lazy._add_limits(m, d, triples))
    assert a._solver_model.getNumRow() == rows0 + 12
    # the repair's pins: two sites open, by their bounds
    sites = list(d.campus.sites)[:2]
    both(lambda m: told.set_bounds(m, [(m.open[s], 1.0, 1.0) for s in sites]))
    cols = [a._pyomo_var_to_solver_var_map[id(ma.open[s])] for s in sites]
    assert np.all(lp_of(a)["col_lower"][cols] == 1.0) and np.all(lp_of(a)["col_upper"][cols] == 1.0)
    # the rounding's margin: a row and a pinned column per period, then deleted
    n_t, n_c = d.horizon.n_years, a._solver_model.getNumCol()

    def margin(m) -> None:
        m._round_extra = pyo.Var(m.T, bounds=(10.0, 10.0))
        m._round_margin = pyo.Constraint(
            m.T, rule=lambda mm, t: mm.total_cap[t] >= 100.0 + mm._round_extra[t]
        )
        told.rows_added(m, m._round_margin.values())

    both(margin)
    assert a._solver_model.getNumRow() == rows0 + 12 + n_t
    assert a._solver_model.getNumCol() == n_c + n_t
    both(lambda m: told.set_bounds(m, [(m._round_extra[t], 20.0, 20.0) for t in m.T]))

    def unmargin(m) -> None:
        told.rows_removed(m, m._round_margin.values())
        m.del_component("_round_margin")
        m.del_component("_round_extra")

    both(unmargin)
    assert a._solver_model.getNumRow() == rows0 + 12 and a._solver_model.getNumCol() == n_c

    # the approximation makes a branch exact: two of its rows deactivated
    def exact(m) -> None:
        first_two = list(m.lazy_limits.values())[:2]
        for c in first_two:
            c.deactivate()
        told.rows_removed(m, first_two)

    both(exact)
    assert a._solver_model.getNumRow() == rows0 + 10

    # a feasibility cut in the campus capacities, then the integers back
    def cut(m) -> None:
        m.feasibility_cuts = pyo.ConstraintList()
        told.rows_added(m, [m.feasibility_cuts.add(sum(m.capk.values()) <= 5000.0)])

    both(cut)
    both(lambda m: lazy._restore(saved[id(m)]))
    assert lp_of(a)["integrality"].sum() == ints0
    cost = lp_of(a)["cost"]

    # another objective: the same expression doubled
    def double(m) -> None:
        m.obj.deactivate()
        m.obj2 = pyo.Objective(expr=2.0 * m.obj.expr, sense=pyo.minimize)
        told.objective_changed(m)

    both(double)
    assert np.allclose(lp_of(a)["cost"], 2.0 * cost, rtol=1e-12, atol=0.0)
    # ten steps: Pyomo scanned b ten times, and a never
    assert len(scans.by) == 10 and all(o is b for o in scans.by)


def test_a_fixed_variable_told_gives_the_same_lp_without_a_scan(prepared, monkeypatch):
    """Fixing a variable makes it a constant of its rows (Pyomo folds the value in), so
    they are handed over again: told, the adapter does what Pyomo's update does, and the
    LPs are equal array for array after fixing a site open, fixing it closed instead, and
    unfixing it; the told adapter never scans. By hand: fixed at 1, the site's ``open``
    column is pinned at 1 (both bounds); unfixed, it is binary again, bounds 0 and 1."""
    d = prepared.data
    ma, mb = (build_model(d, baseline_usd=prepared.baseline_usd) for _ in range(2))
    a, b = _adapter(ma), _adapter(mb)
    scans = _Scans(monkeypatch)
    s = next(iter(d.campus.sites))
    for step in (lambda v: v.fix(1.0), lambda v: v.fix(0.0), lambda v: v.unfix()):
        for m in (ma, mb):
            step(m.open[s])
            told.variables_changed(m, [m.open[s]])
        _update(a, told_path=True, monkeypatch=monkeypatch)
        _update(b, told_path=False, monkeypatch=monkeypatch)
        _same(a, b)
    assert len(scans.by) == 3 and all(o is b for o in scans.by)

    def held() -> tuple:  # (the column moves: its rows were handed over again)
        j = a._pyomo_var_to_solver_var_map[id(ma.open[s])]
        lp = lp_of(a)
        return lp["col_lower"][j], lp["col_upper"][j], lp["integrality"][j]

    assert held() == (0.0, 1.0, 1)
    ma.open[s].fix(1.0)
    told.variables_changed(ma, [ma.open[s]])
    _update(a, told_path=True, monkeypatch=monkeypatch)
    assert held()[:2] == (1.0, 1.0)


def _tiny() -> pyo.ConcreteModel:
    """min x + 2 y  s.t.  x + y >= 3,  0 <= x <= 10,  0 <= y <= 10.

    By hand: x is the cheaper, so x = 3, y = 0, objective 3. With ``x >= 5`` (an untold
    change below): x = 5, y = 0, objective 5 (the row holds: 5 >= 3). With the row
    ``y >= 1`` added: x = 3 - 1 = 2, y = 1, objective 2 + 2 = 4. Without the row ``x + y >=
    3`` (deactivated): x = y = 0, objective 0.
    """
    m = pyo.ConcreteModel(name="siting")
    m.x = pyo.Var(bounds=(0, 10))
    m.y = pyo.Var(bounds=(0, 10))
    m.need = pyo.Constraint(expr=m.x + m.y >= 3)
    m.obj = pyo.Objective(expr=m.x + 2 * m.y)
    return m


def _untold_changes():
    """(what to do to the tiny model untold, the objective it then has by hand, a word
    the error names)."""

    def more_rows(m):
        m.extra = pyo.Constraint(expr=m.y >= 1)

    return [
        (lambda m: m.x.setlb(5), 5.0, "x"),
        (more_rows, 4.0, "extra"),
        (lambda m: m.need.deactivate(), 0.0, "rows"),
    ]


@pytest.mark.parametrize("change,objective,named", _untold_changes())
def test_an_untold_change_raises_in_strict_mode(change, objective, named):
    m = _tiny()
    assert solve(m).objective == pytest.approx(3.0)
    change(m)
    with pytest.raises(told.UntoldChangeError, match=named):
        solve(m)


@pytest.mark.parametrize("change,objective,named", _untold_changes())
def test_an_untold_change_is_put_right_by_pyomos_scan_otherwise(
    change, objective, named, monkeypatch
):
    """Not strict (a user's run): a warning, and the re-solve answers the changed model
    (a stale HiGHS would answer 3 again)."""
    monkeypatch.setattr(told, "STRICT", False)
    m = _tiny()
    assert solve(m).objective == pytest.approx(3.0)
    change(m)
    with pytest.warns(RuntimeWarning, match="without telling"):
        r = solve(m)
    assert r.objective == pytest.approx(objective)
    # told the same change, the next solve needs no scan and warns of nothing
    m.y.setub(9)
    told.variables_changed(m, [m.y])
    assert solve(m).objective == pytest.approx(objective)


def test_the_told_changes_of_the_tiny_model_solve_to_the_hand_figures():
    """The same three changes, told: the answers by hand (see :func:`_tiny`)."""
    m = _tiny()
    assert solve(m).objective == pytest.approx(3.0)
    told.set_bounds(m, [(m.x, 5, 10)])
    assert solve(m).objective == pytest.approx(5.0)
    told.set_bounds(m, [(m.x, 0, 10)])
    m.extra = pyo.Constraint(expr=m.y >= 1)
    told.rows_added(m, [m.extra])
    r = solve(m)
    assert r.objective == pytest.approx(4.0) and m.x.value == pytest.approx(2.0)
    m.need.deactivate()
    told.rows_removed(m, [m.need])
    assert solve(m).objective == pytest.approx(2.0)  # y >= 1 alone: x = 0, y = 1
    assert model_state(m).highs_solver._solver_model.getNumRow() == 1


def test_a_solution_read_in_bulk_is_pyomos_own_load(prepared):
    """The bulk load (one column array at cached columns) gives every variable the value
    and the fresh stale flag that Pyomo's own ``_load_vars`` gives it."""
    d = prepared.data
    m = build_model(d, baseline_usd=prepared.baseline_usd)
    saved = lazy._relax(m)
    r = solve(m, time_limit_s=120, mip_gap=0.0)
    lazy._restore(saved)
    assert r.status == "optimal"
    opt = model_state(m).highs_solver
    variables = [v for v in m.component_data_objects(pyo.Var) if id(v) in opt._vars]
    bulk = [(v.value, v.stale) for v in variables]
    for v in variables:
        v.set_value(None)
    Highs._load_vars(opt)  # Pyomo's own
    assert [(v.value, v.stale) for v in variables] == bulk
    assert all(not stale for _x, stale in bulk)
    # columns added (a row with a column of its own, pinned at 7 by its bounds): the next
    # load reads the new column too, at its place
    m.extra = pyo.Var(bounds=(7.0, 7.0))
    m.extra_row = pyo.Constraint(expr=m.extra + m.cap[next(iter(m.S)), 0] >= 0)
    told.rows_added(m, [m.extra_row])
    before = opt.load_list
    assert solve(m, time_limit_s=120, mip_gap=0.01).has_solution
    assert opt.load_list is not before and m.extra.value == 7.0
    again = [(v.value, v.stale) for v in [*variables, m.extra]]
    for v in [*variables, m.extra]:
        v.set_value(None)
    Highs._load_vars(opt)
    assert [(v.value, v.stale) for v in [*variables, m.extra]] == again
    _load_vars(opt)
    assert [(v.value, v.stale) for v in [*variables, m.extra]] == again
