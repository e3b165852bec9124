"""Solver trouble, each through a real ``siting plan`` process with real HiGHS.

The "hard" instance: 120 user sites on a strip, no grid, six years of rising targets in
10 MW modules with a 30 MW minimum campus and site opening costs of 20 to 300 M USD: a
fixed-charge covering MILP. HiGHS has a plan within a fraction of a second and is still
closing the gap after 20 s (measured on two cores), so a 3 s limit stops it with a plan
not proven optimal, and a 1 ms limit stops it before any plan.
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyomo.environ as pyo
import pytest
import yaml
from shapely.geometry import Point, box
from test_kill import Run, hashes, leftovers

from siting.solve.highs import solve

CRS = "EPSG:32614"
KM = 1000.0
X0, Y0 = 500 * KM, 3500 * KM


def write_hard(d: Path, n: int = 120, years: int = 6, seed: int = 0) -> Path:
    """The hard instance (see the module docstring); returns its scenario file."""
    rng = np.random.default_rng(seed)
    module = 10.0
    gpkg = d / "hard.gpkg"
    gpd.GeoDataFrame(
        {"name": ["strip"]}, geometry=[box(X0, Y0, X0 + 60 * KM, Y0 + 20 * KM)], crs=CRS
    ).to_file(gpkg, layer="boundary")
    xs, ys = rng.uniform(1, 59, n), rng.uniform(1, 19, n)
    gpd.GeoDataFrame(
        {
            "site_id": [f"S{i:03d}" for i in range(n)],
            "area_ha": [500.0] * n,
            "fixed_cost_usd": rng.integers(20, 300, n).astype(float) * 1e6,
            "max_it_mw": (rng.integers(3, 15, n) * module).astype(float),
        },
        geometry=[Point(X0 + x * KM, Y0 + y * KM) for x, y in zip(xs, ys, strict=True)],
        crs=CRS,
    ).to_file(gpkg, layer="sites")
    yrs = list(range(2030, 2030 + years))
    scenario = {
        "name": "hard",
        "crs": CRS,
        "years": yrs,
        "layers": {"boundary": {"path": "hard.gpkg"}, "sites": {"path": "hard.gpkg"}},
        "grid": {"enabled": False},
        "campus": {"module_mw": module, "min_campus_mw": 3 * module, "max_campus_mw": 500},
        "targets": {
            "it_mw_by_year": {
                y: float(round((i + 1) * 100 / years) * 7 + 3) for i, y in enumerate(yrs)
            }
        },
        "solver": {"time_limit_s": 60, "mip_gap": 0.0},
    }
    path = d / "hard.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def stopped_at_the_limit(tmp_path_factory):
    """The hard instance planned with a 3 s limit (a real process), and its output."""
    d = tmp_path_factory.mktemp("hard")
    scenario = write_hard(d)
    out = d / "maps" / "hard"
    run = Run(["plan", str(scenario), "--out", str(out), "--time-limit", "3"], d)
    rc = run.finish()
    return d, scenario, out, run, rc


def test_a_time_limit_with_a_plan_writes_it_marked_not_proven_optimal(stopped_at_the_limit):
    """Exit 0 (a verified plan is written), and the manifest (so ``--json`` too, which
    prints it), the report and the CLI say it is not proven optimal, with the gap."""
    d, _, out, run, rc = stopped_at_the_limit
    assert rc == 0, run.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert m["status"] == "feasible" and m["termination"] == "maxTimeLimit"
    assert m["proven_optimal"] is False
    assert 0 < m["gap"] < 1
    assert m["optimality"].startswith("not proven optimal: the solver stopped at its time")
    assert "limit of 3 s" in m["optimality"] and f"{m['gap']:.3%}" in m["optimality"]
    assert all(c["ok"] for c in m["verification"])
    assert "hard: feasible plan, net present cost" in run.stdout
    assert f"gap {m['gap']:.3%}" in run.stdout
    err = " ".join(run.stderr.split())  # on stderr, so that --json stays machine-readable
    assert "warning: the plan is not proven optimal" in err and "time limit of 3 s" in err
    report = (out / "report.html").read_text()
    assert "not proven optimal" in report and "time limit (3 s)" in report


def test_a_time_limit_without_a_plan_exits_4_and_writes_nothing(stopped_at_the_limit, tmp_path):
    _, scenario, done, _, _ = stopped_at_the_limit
    out = tmp_path / "maps" / "hard"
    shutil.copytree(done, out)
    prev = hashes(out)
    before = {p.name for p in out.parent.iterdir()}
    run = Run(["plan", str(scenario), "--out", str(out), "--time-limit", "0.001"], tmp_path)
    rc = run.finish()
    assert rc == 4, (rc, run.stderr)
    err = " ".join(run.stderr.split())
    assert "no plan in time" in err and "within the time limit" in err
    assert "Nothing was written" in err and f"previous plan in {out} is kept as it was" in err
    assert "Traceback" not in err
    assert hashes(out) == prev
    assert {p.name for p in out.parent.iterdir()} == before  # no staging folder, no lock


def test_ctrl_c_during_the_solve_stops_at_once(stopped_at_the_limit, tmp_path):
    """HiGHS ran in the main thread's C++ call: Ctrl-C waited for the time limit. Now it
    stops the solve within a second or so, and the run says it stopped and what it kept."""
    _, scenario, done, _, _ = stopped_at_the_limit
    out = tmp_path / "maps" / "hard"
    shutil.copytree(done, out)
    prev = hashes(out)
    run = Run(["plan", str(scenario), "--out", str(out), "--time-limit", "120"], tmp_path)
    assert run.wait_for_stage("solve"), run.stderr
    time.sleep(1.5)  # well into HiGHS's branch and bound
    assert run.proc.poll() is None
    t = time.monotonic()
    run.proc.send_signal(signal.SIGINT)
    rc = run.finish(timeout=60)
    stopped_s = time.monotonic() - t
    assert rc == 130, (rc, run.stderr)
    assert stopped_s < 20, stopped_s  # not the 120 s limit
    err = " ".join(run.stderr.split())
    assert "interrupted during 'solve': the run stopped; nothing was written" in err, err
    assert f"the previous plan in {out} is kept as it was" in err
    assert "Traceback" not in err
    assert hashes(out) == prev
    assert leftovers(out.parent, out) == []


# --- numerical trouble -------------------------------------------------------------------


def test_rows_highs_rejects_are_reported_not_solved_around():
    """A coefficient of 1e20: HiGHS refuses the rows (Pyomo does not check), solves the
    rest and calls it optimal with every row broken. siting reports an error instead."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(3), bounds=(0, 10))
    m.big = pyo.Constraint(expr=1e20 * m.x[0] >= 1)
    m.cover = pyo.Constraint(expr=m.x[1] + m.x[2] >= 1)
    m.obj = pyo.Objective(expr=m.x[0] + m.x[1])
    r = solve(m)
    assert r.status == "error" and not r.has_solution and r.objective is None
    assert any("numerical trouble" in n and "rejected" in n for n in r.notes), r.notes
    assert m.x[1].value is None  # no solution loaded


def test_an_unbounded_model_is_an_error_not_a_feasible_plan():
    """HiGHS stops an unbounded LP holding a feasible point: that is no plan."""
    m = pyo.ConcreteModel()
    m.y = pyo.Var(domain=pyo.NonNegativeReals)
    m.obj = pyo.Objective(expr=-m.y)
    r = solve(m)
    assert r.status == "error" and r.termination == "unbounded" and not r.has_solution
    assert any("not used as a plan" in n for n in r.notes)


def test_huge_but_accepted_coefficient_ranges_still_solve_exactly():
    """Coefficients from 1e-6 to 1e12 in one model: HiGHS accepts them and the answer is
    the hand one (x1 = 1, x2 = 7), so nothing is flagged."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var([1, 2], domain=pyo.NonNegativeIntegers, bounds=(0, 100))
    m.c1 = pyo.Constraint(expr=1e-6 * m.x[1] + 1e6 * m.x[1] >= 1e6)
    m.c2 = pyo.Constraint(expr=1e12 * m.x[2] >= 7e12)
    m.obj = pyo.Objective(expr=m.x[1] + m.x[2])
    r = solve(m, mip_gap=0.0)
    assert r.status == "optimal" and r.notes == []
    assert (m.x[1].value, m.x[2].value) == pytest.approx((1, 7))


BAD_ROW = """
import sys
import pyomo.environ as pyo
import siting.pipeline as P

build = P.build_model

def with_a_bad_row(d, **kw):  # the campus model gets one row HiGHS refuses (1e20)
    m = build(d, **kw)
    if len(d.campus.sites):
        v = m.open[d.campus.sites[0]]
        m.bad_row = pyo.Constraint(expr=1e20 * v >= 1)
    return m

P.build_model = with_a_bad_row
from siting.cli import main
sys.argv = ["siting", *sys.argv[1:]]
main()
"""


def test_numerical_trouble_in_a_real_plan_exits_5_and_writes_nothing(
    stopped_at_the_limit, tmp_path
):
    """A real ``siting plan`` whose model holds a row HiGHS refuses: exit 5, a message that
    says solver trouble and why, nothing written, the previous plan kept."""
    _, scenario, done, _, _ = stopped_at_the_limit
    out = tmp_path / "maps" / "hard"
    shutil.copytree(done, out)
    prev = hashes(out)
    run = Run(
        ["plan", str(scenario), "--out", str(out)], tmp_path, prefix=[sys.executable, "-c", BAD_ROW]
    )
    rc = run.finish()
    assert rc == 5, (rc, run.stderr)
    err = " ".join(run.stderr.split())
    assert "solver trouble" in err and "rejected part of the model" in err, err
    assert "neither infeasibility nor the time limit" in err
    assert f"previous plan in {out} is kept as it was" in err
    assert "Traceback" not in err
    assert hashes(out) == prev
    assert leftovers(out.parent, out) == []
