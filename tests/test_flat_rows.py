"""Lazy PTDF limits handed to HiGHS as flat rows (siting.model.rows.FlatRow) mean what Pyomo
declares: each row HiGHS holds is compared, coefficient by coefficient, with Pyomo's own
reading of the declared constraint (``generate_standard_repn``), and the plan with the
flat hand-over equals the plan Pyomo's own hand-over gives.

The instances are test_model's: the radial 3-bus grid where line a binds at 120 MW, its
meshed variant (loop flows over a 60 MW line c), and the same with a line upgrade on
offer (its added rating is a variable term of the limit).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyomo.repn import generate_standard_repn
from test_model import HOURS, _line_case

from siting.model import build_model
from siting.model.data import replaced
from siting.model.state import model_state
from siting.pipeline import solve_model

BASE = 50 * HOURS * 10 * (1 + 1 / 1.1)


def _with_upgrade(d):
    # line a (branch 0) may be reconductored: +200 MW for 5 M USD, in service at once
    up = pd.DataFrame(
        {
            "branch_id": ["a"],
            "added_mw": [200.0],
            "cost_usd": [5e6],
            "lead_time_years": [0],
            "first_period": [0],
        },
        index=pd.Index([0]),
    )
    return replaced(d, grid={"branch_upgrades": up})


def _cases():
    for mesh in (False, True):
        yield f"mesh={mesh}", replaced(_line_case(120.0, mesh), grid={"formulation": "ptdf"})
    d = replaced(_line_case(120.0, False), grid={"formulation": "ptdf"})
    yield "upgrade", _with_upgrade(d)


@pytest.mark.parametrize(("name", "d"), list(_cases()), ids=[n for n, _ in _cases()])
def test_highs_holds_exactly_the_declared_rows(name, d):
    m = build_model(d, baseline_usd=BASE)
    r = solve_model(m, d, mip_gap=0.0, time_limit_s=60)
    assert r.status == "optimal"
    assert len(m.lazy_limits) >= 2, "no lazy limit was added: the test checks nothing"
    opt = model_state(m).highs_solver
    h = opt._solver_model
    vmap = opt._pyomo_var_to_solver_var_map
    flat = model_state(m).flat_rows
    for con in m.lazy_limits.values():
        assert con in flat  # handed over flat, not by Pyomo's walk
        row = opt._pyomo_con_to_solver_con_map[con]
        _, _, lo, hi, _ = h.getRows(1, np.array([row], dtype=np.int32))
        _, index, value = h.getRowEntries(row)
        got = dict(zip(index.tolist(), value.tolist(), strict=True))
        repn = generate_standard_repn(con.body, quadratic=False)
        want: dict[int, float] = {}
        for v, c in zip(repn.linear_vars, repn.linear_coefs, strict=True):
            j = vmap[id(v)]
            want[j] = want.get(j, 0.0) + float(c)
        want = {j: c for j, c in want.items() if c != 0.0}
        assert got.keys() == want.keys()
        for j in want:
            assert got[j] == pytest.approx(want[j], rel=1e-12, abs=1e-12)
        ub = float(con.upper) - float(repn.constant)
        assert hi[0] == pytest.approx(ub, rel=1e-12, abs=1e-9)
        assert lo[0] == -np.inf and not con.has_lb()


@pytest.mark.parametrize(("name", "d"), list(_cases()), ids=[n for n, _ in _cases()])
def test_the_flat_hand_over_gives_the_plan_pyomo_s_own_gives(name, d, monkeypatch):
    m = build_model(d, baseline_usd=BASE)
    r = solve_model(m, d, mip_gap=0.0, time_limit_s=60)
    # Pyomo's own path: the rows are registered nowhere, so Pyomo walks them
    import siting.model.rows as rows_mod

    monkeypatch.setattr(rows_mod, "register_flat_row", lambda *a, **k: None)
    m2 = build_model(d, baseline_usd=BASE)
    r2 = solve_model(m2, d, mip_gap=0.0, time_limit_s=60)
    assert not model_state(m2).flat_rows
    assert r.objective == pytest.approx(r2.objective, rel=1e-9)
    assert len(m.lazy_limits) == len(m2.lazy_limits)
    for s in ("A", "B"):
        for t in (0, 1):
            assert m.cap[s, t]() == pytest.approx(m2.cap[s, t]())


def _deferred_pair(deferred: bool):
    """A model with ``|3 + x0 - 2 x1 + 0.5 x2| <= 7`` as two rows, the flow deferred or not."""
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    from siting.model.rows import DeferredLinearExpression

    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(3), bounds=(0, 10))
    m.c = pyo.ConstraintList()
    xs = np.empty(3, dtype=object)
    xs[:] = [m.x[i] for i in range(3)]
    coefs = np.array([1.0, -2.0, 0.5])
    if deferred:
        f = DeferredLinearExpression.of(3.0, coefs, xs)
    else:
        f = LinearExpression(constant=3.0, linear_coefs=coefs.tolist(), linear_vars=xs.tolist())
    m.c.add(f <= 7.0)
    m.c.add(-f <= 7.0)
    m.o = pyo.Objective(expr=m.x[0] - m.x[1] + m.x[2], sense=pyo.maximize)
    return m, f


def test_a_deferred_flow_reads_as_the_eager_one(tmp_path):
    import pickle

    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    m, f = _deferred_pair(True)
    assert f._deferred is not None, "declaring the two rows made the terms"
    assert f.nargs() == 4  # the constant and three terms
    e, _ = _deferred_pair(False)
    for fmt in ("lp", "nl"):  # Pyomo's writers see the same rows
        m.write(str(tmp_path / f"d.{fmt}"), format=fmt)
        e.write(str(tmp_path / f"e.{fmt}"), format=fmt)
        assert (tmp_path / f"d.{fmt}").read_text() == (tmp_path / f"e.{fmt}").read_text()
    assert f._deferred is None  # read, so made
    assert str(m.c[2].expr) == "- (3.0 + x[0] - 2.0*x[1] + 0.5*x[2])  <=  7.0"
    # a clone and a pickle hold a plain LinearExpression over their own variables
    for m2 in (
        _deferred_pair(True)[0].clone(),
        pickle.loads(pickle.dumps(_deferred_pair(True)[0])),
    ):
        body = m2.c[1].body
        assert type(body) is LinearExpression
        assert str(m2.c[1].expr) == "3.0 + x[0] - 2.0*x[1] + 0.5*x[2]  <=  7.0"
        assert body.args[1].args[1] is m2.x[0]
    # the same optimum through Pyomo's own walk (x0 = x2 = 10, x1 = 5.5: 3 + 10 - 11 + 5 = 7)
    m, _ = _deferred_pair(True)
    from pyomo.contrib.solver.solvers.highs import Highs

    Highs().solve(m)
    assert pyo.value(m.o) == pytest.approx(14.5, abs=1e-9)


def test_lazy_limits_reach_highs_without_making_their_terms():
    # the rows go over flat: Pyomo never needed their terms (the saving on national grids)
    from pyomo.core.expr.numeric_expr import NegationExpression

    d = replaced(_line_case(120.0, True), grid={"formulation": "ptdf"})
    m = build_model(d, baseline_usd=BASE)
    assert solve_model(m, d, mip_gap=0.0, time_limit_s=60).status == "optimal"
    assert len(m.lazy_limits) >= 2
    for con in m.lazy_limits.values():
        f = con.body
        f = f.args[0] if type(f) is NegationExpression else f
        assert f._deferred is not None
