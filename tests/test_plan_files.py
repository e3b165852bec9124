"""A plan folder read back by the commands that take one (issue 17, "Nothing lost, ever").

Finding 3: ``siting map PLAN_DIR`` gave an internal error (exit 3) when the plan's
``schedule.csv`` held text in a number column, or its ``manifest.json`` was broken JSON
or not a JSON object; so did ``siting grid stress --base``. Every command reads a plan
folder through :mod:`siting.core.plan_files`, whose problems name the file, the row and the
column: exit 1. Finding 5b: ``siting grid check`` said nothing when the plan's
``flows.csv`` lacked a branch/year row the grid has.

The plan is test_plan's tiny region (buses 1-2-3 on a strip, branches a and b, 2030 and
2031), planned once by HiGHS; each test breaks a copy of it and runs the real command in
a subprocess.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_plan import write_region

import siting


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    """(plan folder, scenario) of test_plan's tiny region."""
    d = tmp_path_factory.mktemp("tiny")
    scenario = write_region(d)
    out = d / "out"
    siting.plan(scenario, out=out)
    return out, scenario


def _copy(tiny, tmp_path: Path, name: str) -> Path:
    d = tmp_path / name
    shutil.copytree(tiny[0], d)
    return d


def _siting(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "siting", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _text_in_it_mw(d: Path) -> None:
    """Row 1 of schedule.csv: its it_mw (third column) becomes the text 'lots'."""
    lines = (d / "schedule.csv").read_text().splitlines()
    cells = lines[1].split(",")
    assert lines[0].split(",")[2] == "it_mw"
    cells[2] = "lots"
    lines[1] = ",".join(cells)
    (d / "schedule.csv").write_text("\n".join(lines) + "\n")


def _fails(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    for n in needles:
        assert n in proc.stderr, (n, proc.stderr)
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr


def test_map_schedule_with_text_in_a_number_column(tiny, tmp_path):
    """Finding 3: dda1b6a exited 3 ("could not convert string to float: 'lots'")."""
    d = _copy(tiny, tmp_path, "text")
    _text_in_it_mw(d)
    _fails(
        _siting("map", d),
        f"{d / 'schedule.csv'}, row 1, field 'it_mw': expected a finite number, got 'lots'",
    )


def test_map_broken_manifest(tiny, tmp_path):
    """Finding 3: broken JSON (dda1b6a: exit 3, JSONDecodeError)."""
    d = _copy(tiny, tmp_path, "broken")
    (d / "manifest.json").write_text("{broken")
    _fails(_siting("map", d), f"{d / 'manifest.json'}: not valid JSON")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[1, 2]", "expected a JSON object (siting plan's manifest), got a JSON list"),
        ('{"scenario_as_run": [1]}', "field 'scenario_as_run': expected an object"),
        ('{"scenario_as_run": {"years": ["x"]}}', "field 'scenario_as_run.years'"),
    ],
)
def test_map_manifest_not_an_object(tiny, tmp_path, text, words):
    """Finding 3: a manifest that is a JSON list (dda1b6a: exit 3, AttributeError), or
    whose scenario is not an object or whose years are not years."""
    d = _copy(tiny, tmp_path, "list")
    (d / "manifest.json").write_text(text)
    _fails(_siting("map", d), str(d / "manifest.json"), words)


def test_grid_stress_base_with_text_in_a_number_column(tiny, tmp_path):
    """Finding 3 in another command: ``siting grid stress --base`` (dda1b6a: exit 3,
    "could not convert string to float")."""
    d = _copy(tiny, tmp_path, "base")
    _text_in_it_mw(d)
    proc = _siting("grid", "stress", tiny[1], "--base", d, "--outage", "a", "--out", tmp_path / "s")
    _fails(proc, f"{d / 'schedule.csv'}, row 1, field 'it_mw': expected a finite number")


def test_grid_stress_base_manifest_a_list(tiny, tmp_path):
    """Finding 3: ``--base`` whose manifest is a JSON list (dda1b6a: named the schedule's
    columns instead of the manifest)."""
    d = _copy(tiny, tmp_path, "base_list")
    (d / "manifest.json").write_text("[]")
    proc = _siting("grid", "stress", tiny[1], "--base", d, "--outage", "a", "--out", tmp_path / "s")
    _fails(proc, f"{d / 'manifest.json'}: expected a JSON object")


def test_grid_check_flows_without_a_branch_row(tiny, tmp_path):
    """Finding 5b: the plan's flows.csv lost branch b's 2030 row (the second data row:
    siting plan writes branches a, b for 2030, then 2031). The check recomputes flows and
    compares them with the plan's; dda1b6a compared what was there and said "ok"."""
    d = _copy(tiny, tmp_path, "cut")
    lines = (d / "flows.csv").read_text().splitlines()
    assert lines[2].startswith("b,") and ",2030," in lines[2]
    (d / "flows.csv").write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    _fails(
        _siting("grid", "check", d),
        f"{d / 'flows.csv'}, id 'b', field 'branch_id': no row for branch 'b' in 2030",
    )


def test_every_table_a_plan_writes_has_its_columns_typed(tmp_path):
    """Each column of the tables ``siting plan`` writes is a text or a number column of
    PLAN_COLUMNS, so a reader never takes a number as text (a curtailment's hours summed as
    strings, "87.6" + "2190", in a popup)."""
    from siting.core.plan_files import PLAN_COLUMNS, read_plan_table
    from siting.results import plan as P
    from siting.results.compute_out import SCHEDULE_COMPUTE_COLUMNS

    tables = {
        "schedule.csv": P.SCHEDULE_COLUMNS + SCHEDULE_COMPUTE_COLUMNS,
        "draw_relief.csv": P.RELIEF_COLUMNS,
        "onsite.csv": P.ONSITE_COLUMNS,
        "curtailment.csv": P.CURTAILMENT_COLUMNS,
        "compute.csv": P.COMPUTE_COLUMNS,
        "upgrades.csv": P.UPGRADE_COLUMNS,
        "contingencies.csv": P.CONTINGENCY_COLUMNS,
    }
    for name, cols in tables.items():
        texts, numbers = PLAN_COLUMNS[name]
        assert set(cols) <= set(texts) | set(numbers), (name, set(cols) - set(texts) - set(numbers))
    # two snapshots of one site and year: the hours read as numbers, summed as numbers
    path = tmp_path / "curtailment.csv"
    path.write_text(
        "site_id,bus_id,year,snapshot,curtailed_mw,hours,curtailed_mwh,cost_usd\n"
        "S1,2,2031,peak,33.4,87.6,2925.84,2925840\n"
        "S1,2,2031,high,9.5,2190,20805,20805000\n"
    )
    problems: list = []
    df = read_plan_table(path, problems, required=("site_id", "year", "curtailed_mw", "hours"))
    assert problems == [] and df is not None
    assert df["hours"].sum() == pytest.approx(2277.6)
    assert df["curtailed_mw"].max() == pytest.approx(33.4)
