"""siting.model.evaluate.value_of gives what ``pyo.value(e, exception=False)`` gives, the
same float bit for bit (the reference is Pyomo's own evaluation), on every named expression,
objective and constraint body of the demo's solved model, and on the shapes it reads or
leaves to Pyomo."""

from __future__ import annotations

import math
from pathlib import Path

import pyomo.environ as pyo
import pytest

from siting.model.evaluate import value_of

REPO = Path(__file__).resolve().parents[1]


def _same(a: float | None, b: float | None) -> bool:
    """Equal as floats bit for bit (NaN equal to NaN), or both None."""
    if a is None or b is None:
        return a is None and b is None
    return float(a) == float(b) or (math.isnan(a) and math.isnan(b))


@pytest.fixture(scope="module")
def solved_demo():
    from siting.model import build_model
    from siting.pipeline import prepare
    from siting.solve.highs import solve

    pr = prepare(REPO / "models" / "demo.yaml")
    m = build_model(pr.data, baseline_usd=pr.baseline_usd)
    res = solve(m, time_limit_s=120, mip_gap=0.01)
    assert res.status in ("optimal", "feasible"), res.status
    return m


def test_every_expression_objective_and_row_of_the_demo_evaluates_as_pyomo(solved_demo):
    m = solved_demo
    checked = 0
    for kind in (pyo.Expression, pyo.Objective):
        for e in m.component_data_objects(kind, descend_into=True):
            want = pyo.value(e, exception=False)
            assert _same(value_of(e), want), (e.name, value_of(e), want)
            checked += 1
    for c in m.component_data_objects(pyo.Constraint, descend_into=True, active=True):
        want = pyo.value(c.body, exception=False)
        assert _same(value_of(c.body), want), (c.name, value_of(c.body), want)
        checked += 1
    assert checked > 1000  # (the demo model: thousands of rows and named expressions)


def test_shapes_read_and_left_to_pyomo():
    m = pyo.ConcreteModel()
    m.x = pyo.Var([0, 1, 2], initialize={0: 0.1, 1: 0.2, 2: 0.3})
    m.p = pyo.Param(mutable=True, initialize=1.7)
    m.e = pyo.Expression(expr=3.1 * m.x[0] - (m.x[1] + 0.7) * 2.3)
    m.unset = pyo.Expression()
    m.y = pyo.Var()  # no value
    cases = [
        m.e,
        m.e + 0.1 * m.e - m.x[2],
        -(m.x[0] + m.x[1] + m.x[2]),
        sum(m.x[i] * (i + 0.3) for i in range(3)) + 1e-17,
        m.x[0] / 3.0 + m.p * m.x[1],  # a division and a mutable parameter: Pyomo's walk
        m.x[0] ** 2 + pyo.exp(m.x[1]),
        m.x[2],
        2.5,
    ]
    for e in cases:
        assert _same(value_of(e), pyo.value(e, exception=False)), str(e)
    assert value_of(m.x[0] + m.y) is None and pyo.value(m.x[0] + m.y, exception=False) is None
    assert value_of(m.x[0] + m.y, default=0.0) == 0.0
    assert value_of(m.unset) is None and value_of(m.unset + m.x[0], default=-1.0) == -1.0


def test_value_required_raises_as_pyomo_where_a_variable_has_no_value():
    from siting.model.evaluate import value_required

    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=1.25)
    m.y = pyo.Var()
    assert value_required(3 * m.x + 1) == 4.75
    with pytest.raises(ValueError, match="No value for uninitialized"):
        value_required(m.x + m.y)
