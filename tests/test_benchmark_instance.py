"""The benchmark instance on pglib's case300 (benchmarks/instances.py), small.

- the instance is deterministic (same seed, same files) and its sites layer has only
  fields of the SITES spec;
- planned in the angle form and in the PTDF form with lazy limits, the two objectives
  agree within the MIP gap: each run's [best bound, objective] holds the optimum, so the
  two intervals must overlap (this holds even if a time limit stops a run early).

Timings live in ``python -m benchmarks --only case300``, not here. Skipped without
../shared/data/pglib (the pglib cases are not in the repository).
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

import siting
from siting.inputs.fields import SITES

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # benchmarks/ is not an installed package

from benchmarks.instances import write_instance  # noqa: E402

CASE = "pglib_opf_case300_ieee.m"
SMALL = {"n_sites": 24, "seed": 7, "mip_gap": 0.001, "time_limit_s": 30.0}


@pytest.fixture(scope="module")
def case300(pglib_dir: Path) -> Path:
    path = pglib_dir / CASE
    if not path.is_file():
        pytest.skip(f"{path} not found (the pglib cases beside the checkout lack case300)")
    return path


def test_instance_is_deterministic_and_uses_spec_fields(case300, tmp_path):
    a = write_instance(tmp_path / "a", case=case300, **SMALL)
    b = write_instance(tmp_path / "b", case=case300, **SMALL)
    ca = pd.read_csv(a.parent / "bus_coordinates.csv", dtype={"bus_id": str})
    cb = pd.read_csv(b.parent / "bus_coordinates.csv", dtype={"bus_id": str})
    pd.testing.assert_frame_equal(ca, cb)
    assert len(ca) == 300 and ca["bus_id"].is_unique
    sa = gpd.read_file(a.parent / "sites.gpkg", layer="sites")
    sb = gpd.read_file(b.parent / "sites.gpkg", layer="sites")
    pd.testing.assert_frame_equal(pd.DataFrame(sa), pd.DataFrame(sb))
    assert len(sa) == SMALL["n_sites"]
    known = {f.name for f in SITES.fields} | {"bus_near", "geometry"}
    assert set(sa.columns) <= known
    other = write_instance(tmp_path / "c", case=case300, **{**SMALL, "seed": 8})
    cc = pd.read_csv(other.parent / "bus_coordinates.csv", dtype={"bus_id": str})
    assert not ca.equals(cc)


def test_angle_and_lazy_ptdf_agree_within_the_gap(case300, tmp_path):
    plans = {}
    for form in ("angle", "ptdf"):
        sc = write_instance(tmp_path / form, case=case300, formulation=form, **SMALL)
        plans[form] = siting.plan(sc, write=False)
    a, p = plans["angle"].solve, plans["ptdf"].solve
    for r in (a, p):
        assert r.has_solution, r.status
        assert r.bound is not None and r.objective is not None
    tol = 1e-9 * max(abs(a.objective), abs(p.objective))
    assert max(a.bound, p.bound) <= min(a.objective, p.objective) + tol, (
        f"angle [{a.bound:,.0f}, {a.objective:,.0f}] and ptdf [{p.bound:,.0f}, "
        f"{p.objective:,.0f}] do not overlap"
    )
    assert abs(a.objective - p.objective) <= SMALL["mip_gap"] * abs(a.objective)
    notes = plans["ptdf"].manifest["notes"]
    assert any("PTDF form with lazy line limits" in n for n in notes)
    for plan in plans.values():
        assert all(c.ok for c in plan.checks), [c for c in plan.checks if not c.ok]
        assert plan.it_mw_by_year()[2032] >= 1800.0 - 1e-6
