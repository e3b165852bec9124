"""``siting sweep`` on a real ``dask.distributed`` LocalCluster (2 worker processes).

The tiny region of ``test_plan`` (plans in about 2 s) is varied in its 2031 target and the
rating of line b (``grid.derate.b``).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_plan import write_region
from typer.testing import CliRunner

import siting
from siting.cli import app
from siting.config.scenario import scenario_from_dict
from siting.core.errors import ScenarioError
from siting.studies.sweep import load_sweep, run_sweep

distributed = pytest.importorskip("distributed")


def write_sweep(d: Path, name: str, vary: list[dict], **extra) -> Path:
    base = d / "tiny.yaml"
    if not base.exists():
        write_region(d)
    path = d / f"{name}.yaml"
    doc = {"name": name, "base": "tiny.yaml", "out": f"out-{name}", "vary": vary, **extra}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


FOUR = [{"product": {"targets.it_mw_by_year.2031": [150, 200], "grid.derate.b": [1.0, 2.0]}}]


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as c:
        yield c


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep")
    f = write_sweep(d, "four", FOUR)
    return f, run_sweep(f, workers=2)  # the default: a LocalCluster of its own


def _reference(d: Path, target_2031: float, derate_b: float) -> dict:
    raw = yaml.safe_load((d / "tiny.yaml").read_text())
    raw["targets"]["it_mw_by_year"][2031] = target_2031
    raw["grid"]["derate"] = {"b": derate_b}
    raw["solver"]["threads"] = 1
    p = siting.plan(scenario_from_dict(raw, d), write=False)
    return {
        "objective": p.solve.objective,
        "by_year": {str(k): float(v) for k, v in p.it_mw_by_year().items()},
        "schedule": p.schedule[["site_id", "year", "it_mw", "cooling"]].copy(),
    }


def _references(d: Path, cases: list[tuple[float, float]]) -> list[dict]:
    """The same scenarios planned one by one, in one fresh process.

    Not in pytest's own process: HiGHS keeps one thread pool per process, and a solve with
    1 thread after solves with 2 (earlier tests) fails there (a HiGHS limitation).
    """
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as ex:
        return [ex.submit(_reference, d, t, b).result() for t, b in cases]


def test_every_scenario_finishes_and_equals_a_plan_run_alone(finished_sweep):
    f, res = finished_sweep
    assert len(res.rows) == 4 and res.failed == [] and len(res.submitted) == 4
    summary = pd.read_csv(res.summary_csv)
    assert list(summary["name"]) == [f"four-{i:03d}" for i in range(1, 5)]
    assert {"targets.it_mw_by_year.2031", "grid.derate.b", "status", "objective_usd"} <= set(
        summary.columns
    )
    assert set(summary["status"]) == {"optimal"}
    digests = {s.key: s.scenario.digest() for s in load_sweep(f).scenarios}
    cases = [(r["targets.it_mw_by_year.2031"], r["grid.derate.b"]) for r in res.rows]
    for row, ref in zip(res.rows, _references(f.parent, cases), strict=True):
        man = json.loads((res.out / row["key"] / "plan" / "manifest.json").read_text())
        assert man["scenario_digest_sha256"] == digests[row["key"]]  # the scenario as keyed
        d = res.out / row["key"]
        doc = json.loads((d / "result.json").read_text())
        assert (d / "done.json").is_file()
        assert doc["objective_usd"] == pytest.approx(ref["objective"], rel=1e-9)
        assert doc["it_mw_by_year"] == ref["by_year"]
        sched = pd.read_csv(d / "plan" / "schedule.csv")
        cols = ["site_id", "year", "it_mw", "cooling"]
        got = sched[cols].sort_values(["site_id", "year"]).reset_index(drop=True)
        want = ref["schedule"][cols].sort_values(["site_id", "year"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
    # the line limit binds only at rating 1.0 with 200 MW in 2031 (S2 must open)
    objs = {(r["targets.it_mw_by_year.2031"], r["grid.derate.b"]): r for r in res.rows}
    assert objs[(200, 1.0)]["objective_usd"] > objs[(200, 2.0)]["objective_usd"]


def test_a_rerun_solves_nothing(finished_sweep):
    f, res = finished_sweep
    marks = {r["key"]: (res.out / r["key"] / "done.json").stat().st_mtime_ns for r in res.rows}
    before = res.summary_csv.read_text()
    again = run_sweep(f, workers=2)
    assert again.submitted == [] and len(again.skipped) == 4
    assert {
        r["key"]: (res.out / r["key"] / "done.json").stat().st_mtime_ns for r in again.rows
    } == marks
    assert again.summary_csv.read_text() == before


def test_an_infeasible_scenario_is_recorded_and_the_others_go_on(tmp_path, cluster):
    f = write_sweep(tmp_path, "mixed", [{"zip": {"targets.it_mw_by_year.2031": [200, 2000]}}])
    res = run_sweep(f, scheduler=cluster.scheduler_address)
    ok, bad = res.rows
    assert ok["status"] == "optimal" and bad["status"] == "infeasible"
    failed = json.loads((res.out / bad["key"] / "failed.json").read_text())
    assert "no plan that meets every requirement" in failed["error"]
    assert "target" in failed["error"]
    assert not (res.out / bad["key"] / "done.json").exists()
    # a failed scenario is finished: a rerun leaves it, --retry-failed runs it again
    assert run_sweep(f, scheduler=cluster.scheduler_address).submitted == []
    r = CliRunner().invoke(
        app, ["sweep", str(f), "--scheduler", cluster.scheduler_address, "--retry-failed", "--json"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["submitted"] == ["mixed-002"]


def test_a_worker_killed_mid_sweep_and_every_scenario_still_finishes(tmp_path, cluster):
    f = write_sweep(tmp_path, "kill", FOUR)
    out = tmp_path / "out-kill"
    box: dict = {}
    th = threading.Thread(
        target=lambda: box.setdefault("res", run_sweep(f, scheduler=cluster.scheduler_address))
    )
    th.start()
    killed = None
    deadline = time.monotonic() + 60
    while killed is None and time.monotonic() < deadline:
        for run in out.glob("*/running.json"):
            if (run.parent / "done.json").exists():
                continue
            pid = json.loads(run.read_text())["pid"]
            os.kill(pid, signal.SIGKILL)
            killed = (run.parent.name, pid)
            break
        time.sleep(0.02)
    assert killed is not None, "no task started"
    th.join(timeout=120)
    assert not th.is_alive()
    res = box["res"]
    assert res.failed == [] and len(res.rows) == 4
    assert all((out / r["key"] / "done.json").is_file() for r in res.rows)
    redone = json.loads((out / killed[0] / "result.json").read_text())
    assert redone["attempt"]["pid"] != killed[1]  # finished by another worker process


def test_an_interrupted_sweep_keeps_what_finished_and_a_rerun_finishes_the_rest(tmp_path):
    """A real `siting sweep` process, Ctrl-C (SIGINT) once some scenarios are done."""
    import subprocess
    import sys

    eight = [{"product": {"grid.derate.b": [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5]}}]
    f = write_sweep(tmp_path, "intr", eight)
    out = tmp_path / "out-intr"
    proc = subprocess.Popen(
        [sys.executable, "-m", "siting", "sweep", str(f), "--workers", "1"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("*/done.json"))) < 2:
        time.sleep(0.05)
    assert len(list(out.glob("*/done.json"))) >= 2, "no scenario finished in time"
    proc.send_signal(signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "every scenario finished so far is kept" in stderr
    kept = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/done.json")}
    assert 2 <= len(kept) < 8
    # summary.csv was written when the run started: it names every scenario of the sweep
    assert len(pd.read_csv(out / "summary.csv")) == 8
    for key in kept:  # a finished scenario is whole: its result and its plan
        assert (out / key / "result.json").is_file()
        assert (out / key / "plan" / "manifest.json").is_file()
    res = run_sweep(f, workers=1)
    assert len(res.rows) == 8 and res.failed == []
    assert set(res.skipped) == {r["name"] for r in res.rows if r["key"] in kept}
    assert len(res.submitted) == 8 - len(kept)
    # the scenarios finished before the interruption were not solved again
    assert {k: (out / k / "done.json").stat().st_mtime_ns for k in kept} == kept


@pytest.mark.parametrize(
    ("vary", "field", "words"),
    [
        ([{"product": {"costs.capex_usd_per_mww": [1.0]}}], "costs.capex_usd_per_mww", "unknown"),
        ([{"product": {"grid.derate.b": [1.0, -1.0]}}], "grid.derate.b", "variation 2"),
        ([{"zip": {"grid.derate.b": [1.0], "years": [[2030], [2031]]}}], "vary.0", "equal"),
        ([{"product": {"targets.it_mw_by_year.2040": [5]}}], None, "2040"),
    ],
)
def test_bad_sweep_files_name_the_key(tmp_path, vary, field, words):
    f = write_sweep(tmp_path, "bad", vary)
    with pytest.raises(ScenarioError) as e:
        load_sweep(f)
    msg = str(e.value)
    assert str(f) in msg and words in msg
    if field:
        assert field in msg
    r = CliRunner().invoke(app, ["sweep", str(f)])
    assert r.exit_code == 1


def test_range_and_blocks_concatenate(tmp_path):
    f = write_sweep(
        tmp_path,
        "ranges",
        [
            {"product": {"grid.derate.b": {"range": [1.0, 2.0, 0.5]}}},
            {"zip": {"costs.capex_usd_per_mw": [1e7, 2e7], "grid.derate.b": [1.5, 1.5]}},
        ],
    )
    sw = load_sweep(f)
    assert [s.name for s in sw.scenarios] == [f"ranges-{i:03d}" for i in range(1, 5)]
    assert [s.scenario.grid.derate["b"] for s in sw.scenarios] == [1.0, 1.5, 1.5, 1.5]
    assert sw.scenarios[3].scenario.costs.capex_usd_per_mw == 2e7
    assert all(s.scenario.solver.threads == 1 for s in sw.scenarios)
    assert len({s.key for s in sw.scenarios}) == 4


def test_a_variation_replaces_the_base_year_whatever_its_spelling(tmp_path):
    """Issue 17, finding 2: ``targets.it_mw_by_year.2031`` in ``vary`` overrides the base's
    year 2031 (test_plan's tiny base: 2030: 100, 2031: 200), whether the base wrote it as
    a number or as text: an override, not a year given twice."""
    f = write_sweep(tmp_path, "years", [{"product": {"targets.it_mw_by_year.2031": [150]}}])
    assert load_sweep(f).scenarios[0].scenario.targets.it_mw_by_year == {2030: 100, 2031: 150}
    base = tmp_path / "tiny.yaml"
    doc = yaml.safe_load(base.read_text())
    doc["targets"]["it_mw_by_year"] = {2030: 100, "2031": 200}
    base.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert load_sweep(f).scenarios[0].scenario.targets.it_mw_by_year == {2030: 100, 2031: 150}
