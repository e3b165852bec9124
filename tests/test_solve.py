"""The solver wrapper: statuses, other solvers by name, LP export."""

from __future__ import annotations

import pyomo.environ as pyo
import pytest

from siting.solve import SolverError, model_size, solve


def knapsack() -> pyo.ConcreteModel:
    # max 5a + 4b + 3c s.t. 2a + 3b + c <= 5, binaries. By hand: a+b weighs 5, worth 9;
    # a+c weighs 3, worth 8; b+c weighs 4, worth 7; a+b+c weighs 6 > 5. Optimum a, b: 9.
    m = pyo.ConcreteModel()
    m.x = pyo.Var(["a", "b", "c"], domain=pyo.Binary)
    w = {"a": 2, "b": 3, "c": 1}
    v = {"a": 5, "b": 4, "c": 3}
    m.cap = pyo.Constraint(expr=sum(w[i] * m.x[i] for i in m.x) <= 5)
    m.obj = pyo.Objective(expr=sum(v[i] * m.x[i] for i in m.x), sense=pyo.maximize)
    return m


def test_highs_solves_to_the_hand_optimum_and_reports_size():
    m = knapsack()
    r = solve(m, mip_gap=0.0)
    assert r.status == "optimal" and r.objective == pytest.approx(9.0)
    assert r.bound == pytest.approx(9.0) and r.gap == pytest.approx(0.0)
    assert (r.rows, r.columns, r.integers) == (1, 3, 3) == model_size(m)
    assert r.solver == "highs" and r.solver_version.count(".") == 2
    assert [m.x[i].value for i in "abc"] == pytest.approx([1, 1, 0])


def test_an_infeasible_model_is_reported_as_such():
    m = knapsack()
    m.need = pyo.Constraint(expr=sum(m.x[i] for i in m.x) >= 3)  # all three weigh 6 > 5
    r = solve(m)
    assert r.status == "infeasible" and not r.has_solution and r.objective is None


def test_an_unknown_solver_is_named_in_a_clear_error():
    with pytest.raises(SolverError) as e:
        solve(knapsack(), solver="no_such_solver")
    assert "no_such_solver" in str(e.value) and "--solver highs" in str(e.value)


def test_the_model_can_be_written_as_an_lp_file(tmp_path):
    lp = tmp_path / "model.lp"
    solve(knapsack(), write_lp=lp)
    text = lp.read_text()
    assert text.splitlines()[2].strip() == "max" and "x(a)" in text and "binary" in text


def test_solves_with_different_thread_counts_in_one_process():
    # HiGHS sizes one scheduler per process at its first solve; a solve with another thread
    # count then found "no solution" on this feasible model until siting reset it.
    from test_model import HOURS, _line_case

    from siting.model import build_model
    from siting.solve import solve

    d = _line_case(rating_12_mw=120.0)
    objectives = []
    for threads in (2, 1, 2, 1):
        m = build_model(d, baseline_usd=50 * HOURS * 10 * (1 + 1 / 1.1))
        r = solve(m, mip_gap=0.0, time_limit_s=60, threads=threads)
        assert r.status == "optimal", (threads, r)
        objectives.append(r.objective)
    assert max(objectives) - min(objectives) <= 1e-9 * abs(objectives[0])
