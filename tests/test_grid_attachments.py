"""Tables attached to a MATPOWER grid: upgrade options, emergency ratings, load growth.

The cases are tiny MATPOWER files written here, with every optimum worked out by hand
(``tests/test_sites_mode.py`` and ``tests/test_flows_snapshots.py`` use them too).
The region is the 60 km x 20 km strip of ``tests/test_plan.py`` (UTM 14N): buses 1, 2 and
3 in a row at x = 5, 30 and 55 km (y = 10 km); bus 1 has the one generator (2,000 MW at
20 USD/MWh). Two candidate sites stand exactly on buses, so no tie line is needed:

- S1 on bus 1 (the generator's bus: its draw crosses no line), opening cost 300 M USD;
- S3 on bus 3, opening cost the scenario default, 25 M USD.

The target is 100 MW of IT in 2030 (modules of 50 MW, campuses of 100 to 500 MW), and
there are no climate rasters, so both sites have the same (reference) PUE: everything but
the opening cost and the grid is the same for S1 and S3. A 100 MW campus draws more than
100 MW at its peak PUE (> 1).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml
from shapely.geometry import Point, box
from typer.testing import CliRunner

import siting
from siting.cli import app
from siting.config.scenario import load_scenario
from siting.grid_ops.check import check_plan
from siting.grid_ops.dispatch import dc_opf
from siting.inputs import load_layers

runner = CliRunner()
CRS = "EPSG:32614"
KM = 1000.0
X0, Y0 = 500 * KM, 3500 * KM
BUS_KM = {"1": (5.0, 10.0), "2": (30.0, 10.0), "3": (55.0, 10.0)}
PGLIB = Path(__file__).resolve().parents[2] / "shared" / "data" / "pglib"


def at(x_km: float, y_km: float) -> Point:
    return Point(X0 + x_km * KM, Y0 + y_km * KM)


def write_case(
    d: Path,
    *,
    branches: list[tuple[int, int, float, float]],
    loads_mw: tuple[float, float, float] = (0.0, 0.0, 0.0),
    areas: tuple[int, int, int] = (1, 1, 2),
) -> Path:
    """A 3-bus MATPOWER case: ``branches`` rows (from, to, RATE_A, RATE_C) with x = 0.01 pu;
    bus 3 in area ``areas[2]``."""
    bus = "\n".join(
        f" {i + 1} {3 if i == 0 else 1} {loads_mw[i]:g} 0 0 0 {areas[i]} 1 0 345 1 1.1 0.9;"
        for i in range(3)
    )
    br = "\n".join(
        f" {f} {t} 0 0.01 0 {a:g} {a:g} {c:g} 0 0 1 -360 360;" for f, t, a, c in branches
    )
    path = d / "case3.m"
    path.write_text(
        "function mpc = case3\nmpc.version = '2';\nmpc.baseMVA = 100;\n"
        f"mpc.bus = [\n{bus}\n];\n"
        "mpc.gen = [\n 1 0 0 0 0 1 100 1 2000 0;\n];\n"
        f"mpc.branch = [\n{br}\n];\n"
        "mpc.gencost = [\n 2 0 0 2 20 0;\n];\n"
    )
    pd.DataFrame(
        {
            "bus_id": list(BUS_KM),
            "x": [X0 + x * KM for x, _ in BUS_KM.values()],
            "y": [Y0 + y * KM for _, y in BUS_KM.values()],
        }
    ).to_csv(d / "coords.csv", index=False)
    return path


RADIAL = [(1, 2, 1000.0, 0.0), (2, 3, 60.0, 0.0)]  # branch 2 (bus 2-3) rated 60 MW
TRIANGLE = [(1, 2, 1000.0, 0.0), (2, 3, 1000.0, 0.0), (1, 3, 1000.0, 0.0)]  # RATE_C 0: none


def write_region(
    d: Path,
    *,
    branches=RADIAL,
    loads_mw=(0.0, 0.0, 0.0),
    attach: dict | None = None,
    sites: dict | None = None,
    site_ids=("S1", "S3"),
    fixed_costs_usd=(300e6, None),
    **top,
) -> Path:
    """The strip, the case, the sites layer and the scenario; ``attach`` adds keys to
    ``layers.grid``, ``sites`` to ``layers.sites``, ``top`` to the scenario's sections
    (merged one level deep)."""
    d.mkdir(parents=True, exist_ok=True)
    write_case(d, branches=branches, loads_mw=loads_mw)
    gpkg = d / "region.gpkg"
    gpd.GeoDataFrame(
        {"name": ["strip"]}, geometry=[box(X0, Y0, X0 + 60 * KM, Y0 + 20 * KM)], crs=CRS
    ).to_file(gpkg, layer="boundary")
    gpd.GeoDataFrame(
        {"site_id": list(site_ids), "fixed_cost_usd": list(fixed_costs_usd)},
        geometry=[at(*BUS_KM["1"]), at(*BUS_KM["3"])],
        crs=CRS,
    ).to_file(gpkg, layer="sites")
    scenario = {
        "name": "attached",
        "crs": CRS,
        "years": [2030],
        "layers": {
            "grid": {
                "path": "case3.m",
                "bus_coordinates": {"path": "coords.csv", "crs": CRS},
                **(attach or {}),
            },
            "boundary": {"path": "region.gpkg", "layer": "boundary"},
            "sites": {"path": "region.gpkg", "layer": "sites", **(sites or {})},
        },
        "campus": {"module_mw": 50, "min_campus_mw": 100, "max_campus_mw": 500},
        "targets": {"it_mw_by_year": {2030: 100}},
        "grid": {
            "snapshots": [
                {"name": "peak", "load_factor": 1.0, "hours": 0, "peak": True},
                {"name": "year", "load_factor": 1.0, "hours": 8760},
            ]
        },
        "water": {"enabled": False},
        "solver": {"time_limit_s": 60, "mip_gap": 0.0},
    }
    for k, v in top.items():
        scenario[k] = {**scenario.get(k, {}), **v} if isinstance(v, dict) else v
    path = d / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return path


def csv(path: Path, text: str) -> dict[str, str]:
    path.write_text(text)
    return {"path": path.name}


def opened(p) -> list[str]:
    return sorted(p.sites.index.astype(str))


# --------------------------------------------------------------------------- upgrades


@pytest.mark.parametrize(
    "cost_usd, opens, bought", [(1e6, ["S3"], True), (400e6, ["S1"], False), (None, ["S1"], False)]
)
def test_an_attached_branch_upgrade_is_bought_when_cheaper_than_the_other_site(
    tmp_path, cost_usd, opens, bought
):
    """Branch 2 (bus 2-3) is rated 60 MW, so S3 (> 100 MW at its peak) can open only with
    the attached upgrade (+500 MW, lead time 0). S3 and S1 differ only in their opening cost
    and that upgrade, all paid in 2030: S3 costs 25 M + U, S1 300 M. U = 1 M: S3 and the
    upgrade (26 M < 300 M); U = 400 M: S1 (300 M < 425 M); no attachment (the MATPOWER
    case has no place for an option): S1. The cheap plan saves 300 M - 26 M = 274 M."""
    grid = {}
    if cost_usd is not None:
        grid["branch_upgrades"] = csv(
            tmp_path / "upgrades.csv",
            "branch_id,upgrade_added_mw,upgrade_cost_usd,upgrade_lead_time_years\n"
            f"2,500,{cost_usd:g},0\n",
        )
    path = write_region(tmp_path, attach=grid)
    p = siting.plan(path, out=tmp_path / "out")
    assert all(c.ok for c in p.checks)
    assert opened(p) == opens
    ups = pd.read_csv(tmp_path / "out" / "upgrades.csv", dtype={"asset_id": str})
    if bought:
        assert ups[["asset", "asset_id", "year", "added_mw", "cost_usd"]].values.tolist() == [
            ["branch", "2", 2030, 500.0, 1e6]
        ]
        flows = pd.read_csv(tmp_path / "out" / "flows.csv", dtype={"branch_id": str})
        assert (flows.loc[flows["branch_id"] == "2", "rating_mw"] == 560.0).all()
        # the saving over the plan without the option, from the module's arithmetic
        other = siting.plan(write_region(tmp_path / "none"), write=False)
        assert other.total_cost_usd - p.total_cost_usd == pytest.approx(274e6, rel=1e-9)
        # the attached table is an input of the plan: hashed, and watched by grid check
        man = json.loads((tmp_path / "out" / "manifest.json").read_text())
        role = {i["role"]: i for i in man["inputs"]}["grid.branch_upgrades"]
        assert role["path"] == str((tmp_path / "upgrades.csv").resolve())
        assert len(role["sha256"]) == 64
        assert check_plan(tmp_path / "out").ok
        (tmp_path / "upgrades.csv").write_text(
            "branch_id,upgrade_added_mw,upgrade_cost_usd\n2,500,2e6\n"
        )
        r = check_plan(tmp_path / "out")
        assert any("upgrades.csv changed since the plan was made" in n for n in r.notes)
    else:
        assert ups.empty


def test_an_attached_substation_upgrade_raises_the_headroom_it_needs(tmp_path):
    """No line limit binds (branch 2 rated 1,000 MW), but bus 3's substation takes only
    50 MW: S3 opens with the attached substation upgrade (+500 MW, 1 M USD: 26 M < 300 M),
    exactly as with the branch upgrade above."""
    grid = {
        "substations": csv(
            tmp_path / "substations.csv",
            "bus_id,substation_headroom_mw,substation_upgrade_added_mw,"
            "substation_upgrade_cost_usd,substation_upgrade_lead_time_years\n"
            "3,50,500,1e6,0\n",
        )
    }
    path = write_region(tmp_path, branches=[(1, 2, 1000.0, 0.0), (2, 3, 1000.0, 0.0)], attach=grid)
    p = siting.plan(path, write=False)
    assert opened(p) == ["S3"]
    assert p.upgrades[["asset", "asset_id", "added_mw"]].values.tolist() == [
        ["substation", "3", 500.0]
    ]
    # without the upgrade option, the 50 MW headroom keeps S3 shut
    (tmp_path / "substations.csv").write_text("bus_id,substation_headroom_mw\n3,50\n")
    assert opened(siting.plan(path, write=False)) == ["S1"]


# --------------------------------------------------------------------------- emergency ratings


def test_attached_emergency_ratings_bind_n1_in_the_plan_and_in_grid_check(tmp_path):
    """The triangle 1-2 (branch 1), 2-3 (branch 2), 1-3 (branch 3), equal reactances, RATE_C
    0 (no emergency limit). S3's draw D at bus 3 flows 2/3 on branch 3 and 1/3 on 1 and 2;
    after the outage of branch 3 all of D crosses branch 2. With N-1 and no emergency
    rating S3 opens (25 M < 300 M); with branch 2's emergency rating attached at 60 MW < D,
    S3 breaks N-1 and S1 opens. ``siting grid check`` of the S3 plan against the attached
    rating names branch 2 after the outage of branch 3, limit 60 MW."""
    n1 = {"grid": {"n_minus_1": {"enabled": True}}}
    free = write_region(tmp_path / "free", branches=TRIANGLE, **n1)
    p = siting.plan(free, out=tmp_path / "free" / "out")
    assert opened(p) == ["S3"]
    draw = float(p.schedule["peak_draw_mw"].iloc[0])
    assert draw > 100.0

    grid = {"emergency_ratings": csv(tmp_path / "em.csv", "branch_id,rating_emergency_mw\n2,60\n")}
    held = write_region(tmp_path, branches=TRIANGLE, attach=grid, **n1)
    assert opened(siting.plan(held, write=False)) == ["S1"]

    r = check_plan(tmp_path / "free" / "out", scenario=held)
    v = r.violations[r.violations["kind"] == "n1_overload"]
    assert set(zip(v["id"], v["outage_id"], strict=True)) == {("2", "3")}
    assert v["limit_mw"].tolist() == [60.0]
    assert v["value_mw"].abs().iloc[0] == pytest.approx(draw, rel=1e-5)
    # against the plan's own grid (no emergency rating) there is nothing to report
    assert check_plan(tmp_path / "free" / "out").ok


# --------------------------------------------------------------------------- load growth


LOADS = (0.0, 40.0, 20.0)  # buses 2 and 3 (bus 3 in area 2); 60 MW in all


@pytest.mark.parametrize(
    "grid, by_year",
    [
        # one factor per year on every bus: 2031 = 60 x 1.5; 2030 before the first factor
        ({"load_growth_per_year": {2031: 1.5}}, {2030: 60.0, 2031: 90.0, 2032: 90.0}),
        ({"load_growth_per_year": {2030: 1.1, 2032: 2.0}}, {2030: 66.0, 2031: 66.0, 2032: 120.0}),
        # bus 3 at 35 MW from 2031: 40 + 35
        ("bus_id,year,load_mw\n3,2031,35\n", {2030: 60.0, 2031: 75.0, 2032: 75.0}),
        # bus 2 twice its load in 2030, half in 2032 (of its own 40 MW, not of the year before)
        (
            "bus_id,year,growth_factor\n2,2030,2\n2,2032,0.5\n",
            {2030: 100.0, 2031: 100.0, 2032: 40.0},
        ),
        # area 2 (bus 3) three times its load from 2031: 40 + 60
        ("area,year,growth_factor\n2,2031,3\n", {2030: 60.0, 2031: 100.0, 2032: 100.0}),
    ],
)
def test_load_growth_sets_the_base_load_the_dispatch_serves(tmp_path, grid, by_year):
    """The baseline dispatch (no campuses) serves the grown load: the one generator's
    output equals the load worked out by hand in each case."""
    if isinstance(grid, str):
        grid = {"load_growth": csv(tmp_path / "growth.csv", grid)}
    path = write_region(tmp_path, loads_mw=LOADS, attach=grid, years=[2030, 2031, 2032])
    layers = load_layers(load_scenario(path))
    for year, load in by_year.items():
        res = dc_opf(layers, year=year)
        assert res.load_mw == pytest.approx(load, abs=1e-9), year
        assert res.dispatch["p_mw"].sum() == pytest.approx(load, abs=1e-6), year
    # the same through the command line
    proc = subprocess.run(
        [sys.executable, "-m", "siting", "grid", "dispatch", str(path), "--year", "2031", "--json"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["load_mw"] == pytest.approx(by_year[2031])
    # and `siting validate` says what was attached and what the load becomes
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output
    assert "layers.grid.load_growth" in res.output
    assert "2031: " + f"{by_year[2031]:,.0f}" in res.output


@pytest.mark.skipif(not PGLIB.is_dir(), reason="pglib cases not found at ../shared/data/pglib")
def test_load_growth_on_pglib_case14_scales_the_load_by_the_factor(tmp_path):
    """pglib case14 (every bus in area 1; 259 MW of load): ``area 1 x 1.2`` in 2031 makes
    the dispatched load 1.2 x the case's, and 2030 (no row) keeps the case's."""
    case = PGLIB / "pglib_opf_case14_ieee.m"
    csv(tmp_path / "growth.csv", "area,year,growth_factor\n1,2031,1.2\n")
    sc = {
        "name": "case14",
        "years": [2030, 2031],
        "layers": {"grid": {"path": str(case), "load_growth": {"path": "growth.csv"}}},
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(sc))
    layers = load_layers(load_scenario(tmp_path / "s.yaml"))
    base = float(layers.grid.buses["load_mw"].sum())
    assert base == pytest.approx(259.0)
    shunt = float(layers.grid.buses["shunt_mw"].sum())
    assert dc_opf(layers, year=2030).load_mw == pytest.approx(base + shunt)
    assert dc_opf(layers, year=2031).load_mw == pytest.approx(1.2 * base + shunt)


# --------------------------------------------------------------------------- bad tables


def _validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "siting", "validate", str(path)], capture_output=True, text=True
    )


@pytest.mark.parametrize(
    "key, text, expected",
    [
        (
            "branch_upgrades",
            "branch_id,upgrade_added_mw,upgrade_cost_usd\n9,500,1e6\n",
            "row 1 (id '9'), field 'branch_id': refers to branch '9', which does not exist",
        ),
        (
            "branch_upgrades",
            "branch_id,upgrade_added_mw,upgrade_cost_usd\n2,500,1e6\n2,100,1e6\n",
            "field 'branch_id': duplicate IDs: '2' is on rows [1, 2]",
        ),
        (
            "branch_upgrades",
            "branch_id,upgrade_added_mw,upgrade_cost_usd\n2,-5,1e6\n",
            "row 1 (id '2'), field 'upgrade_added_mw': out of range; expected a finite number "
            ">= 0 [MW], got -5.0",
        ),
        (
            "branch_upgrades",
            "branch_id,upgrade_added_mw,upgrade_cost_usd\n2,500,\n",
            "row 1 (id '2'), field 'upgrade_cost_usd': empty or NaN; expected a finite number",
        ),
        (
            "branch_upgrades",
            "branch_id,upgrade_added_mw\n2,500\n",
            "field 'upgrade_cost_usd': required column is missing",
        ),
        (
            "emergency_ratings",
            "branch_id,rating_emergency_mw\n1,NaN\n",
            "row 1 (id '1'), field 'rating_emergency_mw': not a number",
        ),
        (
            "emergency_ratings",
            "branch_id,rating_emergency_mw\n1,0\n",
            "row 1 (id '1'), field 'rating_emergency_mw': out of range; expected a finite "
            "number > 0 [MW]",
        ),
        (
            "substations",
            "bus_id,substation_headroom_mw,substation_upgrade_added_mw\n3,50,100\n",
            "row 1 (id '3'), field 'substation_upgrade_added_mw': an upgrade option needs all of",
        ),
        (
            "substations",
            "bus_id,substation_upgrade_added_mw,substation_upgrade_cost_usd,"
            "substation_upgrade_lead_time_years\n3,100,1e6,0\n",
            "row 1 (id '3'), field 'substation_headroom_mw': an upgrade option adds to the "
            "substation's headroom",
        ),
        (
            "load_growth",
            "bus_id,year,load_mw\n7,2031,5\n",
            "row 1 (id '7'), field 'bus_id': refers to bus '7', which does not exist",
        ),
        (
            "load_growth",
            "bus_id,year,load_mw\n3,2031,-4\n",
            "row 1, field 'load_mw': out of range; expected a finite number >= 0 [MW]",
        ),
        (
            "load_growth",
            "bus_id,year,load_mw\n3,2031,4\n3,2031,5\n",
            "row 2 (id '3'), field 'year': bus_id '3' in 2031 is given again",
        ),
        (
            "load_growth",
            "area,year,growth_factor\n9,2031,1.1\n",
            "row 1 (id '9'), field 'area': area '9' has no bus; expected one of the grid's "
            "areas (1, 2)",
        ),
        (
            "load_growth",
            "area,year,load_mw\n2,2031,50\n",
            "field 'load_mw': an area's load is given as growth_factor",
        ),
        (
            "load_growth",
            "bus_id,area,year,growth_factor\n3,2,2031,1.1\n",
            "field 'bus_id': expected one column naming what grows: bus_id or area (not both)",
        ),
        (
            "load_growth",
            "bus_id,year,growth_factor\n3,2031.5,1.1\n",
            "row 1, field 'year': not a whole number",
        ),
    ],
)
def test_a_bad_attached_table_is_named_and_exits_1(tmp_path, key, text, expected):
    path = write_region(tmp_path, attach={key: csv(tmp_path / f"{key}.csv", text)})
    proc = _validate(path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    want = f"{tmp_path / f'{key}.csv'}, layer 'layers.grid.{key}', {expected}"
    assert want in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_attachments_missing_or_special_files_and_both_growths_are_named(tmp_path):
    path = write_region(tmp_path, attach={"emergency_ratings": {"path": "nope.csv"}})
    proc = _validate(path)
    assert proc.returncode == 1
    assert (
        f"{tmp_path / 'nope.csv'}, layer 'layers.grid.emergency_ratings', field 'path': file "
        "not found" in proc.stderr
    )
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    path = write_region(tmp_path, attach={"branch_upgrades": {"path": "fifo.csv"}})
    proc = _validate(path)  # refused unread: a FIFO would block the run
    assert proc.returncode == 1 and "named pipe (FIFO)" in proc.stderr, proc.stderr
    assert "layers.grid.branch_upgrades.path" in proc.stderr
    growth = {"load_growth": csv(tmp_path / "g.csv", "bus_id,year,load_mw\n3,2031,1\n")}
    path = write_region(tmp_path, attach={**growth, "load_growth_per_year": {2031: 1.1}})
    proc = _validate(path)
    assert proc.returncode == 1
    assert "layers.grid" in proc.stderr and "not both" in proc.stderr, proc.stderr


def test_validate_lists_the_attachments_and_hashes_them(tmp_path):
    grid = {
        "branch_upgrades": csv(
            tmp_path / "up.csv", "branch_id,upgrade_added_mw,upgrade_cost_usd\n2,500,1e6\n"
        ),
        "emergency_ratings": csv(tmp_path / "em.csv", "branch_id,rating_emergency_mw\n1,1200\n"),
        "load_growth_per_year": {2030: 1.5},
    }
    path = write_region(tmp_path, loads_mw=LOADS, attach=grid)
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())  # (long paths may wrap in the table)
    assert "upgrade options 1 branches, 0 substations" in out
    assert "layers.grid.branch_upgrades 1 row from" in out
    assert "layers.grid.emergency_ratings 1 row from" in out
    assert "layers.grid.load_growth_per_year x 1.5 in 2030" in out
    assert "by year 2030: 90" in out  # 60 MW x 1.5
    res = runner.invoke(app, ["validate", str(path), "--json"])
    s = json.loads(res.stdout)
    roles = {i["role"]: i for i in s["inputs"]}
    assert {"grid.branch_upgrades", "grid.emergency_ratings"} <= set(roles)
    assert all(len(roles[r]["sha256"]) == 64 for r in roles)
    attached = s["grid"]["attachments"]
    assert attached["layers.grid.branch_upgrades"] == {
        "path": str((tmp_path / "up.csv").resolve()),
        "rows": 1,
        "options": 1,
    }
    assert attached["layers.grid.emergency_ratings"]["rows"] == 1
    assert attached["layers.grid.load_growth_per_year"] == {"factors": {"2030": 1.5}}
    layers = load_layers(load_scenario(path))
    br = layers.grid.branches
    assert br.at["1", "rating_emergency_mw"] == 1200.0
    assert np.isinf(br.at["2", "rating_emergency_mw"])  # RATE_C 0: unlimited, as read
    assert br.loc["2", ["upgrade_added_mw", "upgrade_cost_usd"]].tolist() == [500.0, 1e6]
    assert br.at["2", "upgrade_lead_time_years"] == 0.0  # the table's default


def test_siting_fields_documents_the_attached_tables():
    res = runner.invoke(app, ["fields", "load_growth"])
    assert res.exit_code == 0, res.output
    assert "**load_growth** (CSV table)" in res.output
    assert "| `growth_factor` | float | x the grid's load |" in res.output
    res = runner.invoke(app, ["fields", "branch_upgrades"])
    assert "| `upgrade_added_mw` | float | MW | yes |" in res.output


def test_load_growth_per_year_is_a_mapping_by_year_of_bounded_factors(tmp_path):
    """``load_growth_per_year`` is keyed by year like every such mapping (two spellings of
    one year refused), its factors are within [0, 100] and its years calendar years."""
    from siting.core.errors import ScenarioError

    path = write_region(tmp_path)
    base = path.read_text()
    for growth, said in (
        ("{2031: 1.1, '2031': 1.2}", "2031 as 2031 and '2031'"),
        ("{2031: -0.5}", "greater than or equal to 0"),
        ("{2031: 105}", "less than or equal to 100"),
        ("{1066: 1.1}", "not calendar years between 1900 and 2200"),
    ):
        path.write_text(
            base.replace(
                "    path: case3.m\n", f"    path: case3.m\n    load_growth_per_year: {growth}\n"
            )
        )
        with pytest.raises(ScenarioError) as e:
            load_scenario(path)
        assert "layers.grid" in str(e.value) and said in str(e.value), str(e.value)


def test_tables_attach_to_a_grid_geopackage_too(tmp_path):
    """The tiny GeoPackage grid of tests/test_plan.py: an attached option replaces the
    branch's own (a note says so); load growth on buses that already give their load by
    year (``load_mw_2031``) is refused, naming the grid and the key."""
    from test_plan import write_region as write_gpkg_region

    path = write_gpkg_region(tmp_path)
    gpkg = tmp_path / "tiny.gpkg"
    br = gpd.read_file(gpkg, layer="branches")
    br["upgrade_added_mw"] = [np.nan, 100.0]
    br["upgrade_cost_usd"] = [np.nan, 5e6]
    br.to_file(gpkg, layer="branches", driver="GPKG")
    sc = yaml.safe_load(path.read_text())
    sc["layers"]["grid"]["branch_upgrades"] = csv(
        tmp_path / "up.csv", "branch_id,upgrade_added_mw,upgrade_cost_usd\nb,500,1e6\n"
    )
    path.write_text(yaml.safe_dump(sc))
    layers = load_layers(load_scenario(path))
    assert layers.grid.branches.loc["b", ["upgrade_added_mw", "upgrade_cost_usd"]].tolist() == [
        500.0,
        1e6,
    ]
    assert any(
        "replaced the grid's own values for 1 of the 1 branches it names" in n for n in layers.notes
    )

    bus = gpd.read_file(gpkg, layer="buses")
    bus["load_mw_2031"] = [0.0, 10.0, 0.0]
    bus.to_file(gpkg, layer="buses", driver="GPKG")
    sc["layers"]["grid"]["load_growth_per_year"] = {2031: 1.2}
    path.write_text(yaml.safe_dump(sc))
    proc = _validate(path)
    assert proc.returncode == 1
    assert (
        f"{tmp_path / 'tiny.gpkg'}, layer 'layers.grid.load_growth_per_year': the grid's buses "
        "already give their load by year (load_mw_2031)" in proc.stderr
    ), proc.stderr


def test_tables_attach_to_a_pandapower_network_by_its_ids(tmp_path):
    """pandapower's case9 (loads of 90, 100 and 125 MW at buses 4, 6 and 8; lines named
    ``line:<index>``): an emergency rating keyed ``line:3``, an upgrade option on ``line:0``
    and bus 4's load at 120 MW in 2031 land on those elements; the dispatch serves
    315 - 90 + 120 = 345 MW in 2031."""
    pp = pytest.importorskip("pandapower")
    pn = pytest.importorskip("pandapower.networks")
    net = pn.case9()
    pp.to_json(net, str(tmp_path / "case9.json"))
    loads = net.load.groupby("bus")["p_mw"].sum()
    assert loads.to_dict() == {4: 90.0, 6: 100.0, 8: 125.0}
    sc = {
        "name": "pp",
        "years": [2030, 2031],
        "layers": {
            "grid": {
                "path": "case9.json",
                "emergency_ratings": csv(
                    tmp_path / "em.csv", "branch_id,rating_emergency_mw\nline:3,77\n"
                ),
                "branch_upgrades": csv(
                    tmp_path / "up.csv",
                    "branch_id,upgrade_added_mw,upgrade_cost_usd\nline:0,50,1e6\n",
                ),
                "load_growth": csv(tmp_path / "g.csv", "bus_id,year,load_mw\n4,2031,120\n"),
            }
        },
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(sc))
    layers = load_layers(load_scenario(tmp_path / "s.yaml"))
    br = layers.grid.branches
    assert br.at["line:3", "rating_emergency_mw"] == 77.0
    assert br.at["line:0", "upgrade_added_mw"] == 50.0
    assert br["upgrade_added_mw"].notna().sum() == 1
    assert dc_opf(layers, year=2030).load_mw == pytest.approx(315.0)
    assert dc_opf(layers, year=2031).load_mw == pytest.approx(345.0)
    # a MATPOWER-style ID is not a pandapower branch: named with the IDs it expected
    (tmp_path / "em.csv").write_text("branch_id,rating_emergency_mw\n3,77\n")
    proc = _validate(tmp_path / "s.yaml")
    assert proc.returncode == 1
    assert "row 1 (id '3'), field 'branch_id': refers to branch '3', which does not exist" in (
        proc.stderr
    )
