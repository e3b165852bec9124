"""The command line: exit codes, one clear message, traceback only with --debug, --json."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siting.cli import app

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_validate_valid_region_exits_0_with_summary(region):
    path = region.write()
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output
    for needle in ("EPSG:32614", "450.0 MW", "250.0 MW", "20,000 m3/day", "excluded land", "valid"):
        assert needle in res.output


def test_validate_json(region):
    path = region.write()
    res = runner.invoke(app, ["validate", str(path), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["grid"]["buses"] == 4 and data["scenario"]["name"] == "tiny"
    assert all(len(f["sha256"]) == 64 for f in data["inputs"])


def test_validate_invalid_exits_1_with_report_and_no_traceback(region):
    region.branches.loc[0, "to_bus"] = "NOWHERE"
    path = region.write()
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 1
    assert "layer 'branches', row 1 (id 'L1'), field 'to_bus'" in res.output
    assert "Traceback" not in res.output


def test_debug_shows_the_traceback(region):
    region.branches.loc[0, "to_bus"] = "NOWHERE"
    path = region.write()
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "siting", "validate", str(path), "--debug"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert "field 'to_bus'" in proc.stderr


def test_unknown_suffix_is_a_clear_error(tmp_path):
    p = tmp_path / "grid.xlsx"
    p.write_text("x")
    res = runner.invoke(app, ["validate", str(p)])
    assert res.exit_code == 1
    assert "don't know how to read a '.xlsx' file" in res.output


def test_missing_scenario_file(tmp_path):
    res = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert res.exit_code == 1
    assert f"{tmp_path / 'nope.yaml'}: file not found" in res.output


def test_console_script_and_module_agree():
    # `siting` (console script) and `python -m siting` are the same program
    mod = subprocess.run(
        [sys.executable, "-m", "siting", "--version"], capture_output=True, text=True, check=True
    )
    assert re.fullmatch(r"siting \S+\n", mod.stdout)
    exe = Path(sys.executable).with_name("siting")
    if exe.exists():
        scr = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
        assert scr.stdout == mod.stdout


def test_fields_command_prints_units():
    res = runner.invoke(app, ["fields", "water_sources"])
    assert res.exit_code == 0
    assert "| `capacity_m3_per_day` | float (per year) | m3/day |" in res.output
    res = runner.invoke(app, ["fields", "pipes"])
    assert res.exit_code == 2 and "no layer kind 'pipes'" in res.output


def test_readme_test_command_is_what_ci_runs():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    m = re.search(r"<!-- test-command -->\s*```(?:sh|bash)?\n(.+?)\n```", readme, re.S)
    assert m, "README must mark its test command with <!-- test-command -->"
    assert m.group(1).strip() in ci


@pytest.mark.parametrize(
    "name", ["demo.yaml", "demo_water_scarce.yaml", "demo_n1.yaml", "demo_flex.yaml"]
)
def test_demo_scenarios_validate(name):
    if not (REPO / "data" / "demo" / "demo.gpkg").exists():
        pytest.fail("data/demo/demo.gpkg is missing: run scripts/make_demo_region.py")
    res = runner.invoke(app, ["validate", str(REPO / "models" / name), "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["crs"] == "EPSG:3083"
    assert s["grid"]["buses"] >= 50
    assert s["water"]["reclaimed_m3_per_day"] > 0
    assert 0 < s["land"]["excluded_share"] < 0.5
    assert len(s["rasters"]) == 6


def test_validate_pglib_case(pglib_dir):
    res = runner.invoke(app, ["validate", str(pglib_dir / "pglib_opf_case118_ieee.m"), "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    # pglib_opf_case118_ieee.m: 118 buses, 186 branches, 54 generators (counted in the file)
    assert (s["grid"]["buses"], s["grid"]["branches"], s["grid"]["generators"]) == (118, 186, 54)
    assert s["crs"] is None and s["grid"]["format"] == "matpower"
