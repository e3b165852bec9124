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
    # summary.csv is rewritten as each scenario finishes: a user watching it sees them
    while time.monotonic() < deadline and len(_finished_rows(out)) < 2:
        time.sleep(0.05)
    assert len(list(out.glob("*/done.json"))) >= 2, "no scenario finished in time"
    assert len(_finished_rows(out)) >= 2
    proc.send_signal(signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "every scenario finished so far is kept" in stderr
    # issue 20: no shutdown noise of dask.distributed on the console (a worker busy when
    # the cluster closes: "Worker process still alive ... killing", "Async instruction ...
    # ended with CancelledError"); such warnings go to <out>/dask.log
    assert "distributed" not in stderr and "still alive" not in stderr, stderr
    kept = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/done.json")}
    assert 2 <= len(kept) < 8
    # summary.csv was written when the run started: it names every scenario of the sweep;
    # the run stopped halfway left the rows of the scenarios it saw finish
    assert len(pd.read_csv(out / "summary.csv")) == 8
    assert 2 <= len(_finished_rows(out)) and set(_finished_rows(out)) <= set(kept)
    for key in kept:  # a finished scenario is whole: its result and its plan
        assert (out / key / "result.json").is_file()
        assert (out / key / "plan" / "manifest.json").is_file()
    res = run_sweep(f, workers=1)
    assert len(res.rows) == 8 and res.failed == []
    assert set(res.skipped) == {r["name"] for r in res.rows if r["key"] in kept}
    assert len(res.submitted) == 8 - len(kept)
    # the scenarios finished before the interruption were not solved again
    assert {k: (out / k / "done.json").stat().st_mtime_ns for k in kept} == kept


def _finished_rows(out: Path) -> list[str]:
    """Keys of the rows of ``<out>/summary.csv`` with an outcome (not "not run")."""
    try:
        summary = pd.read_csv(out / "summary.csv")
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return []
    return list(summary.loc[summary["status"] != "not run", "key"])


def test_summary_csv_is_current_as_each_scenario_finishes(tmp_path):
    """Issue 20: after each scenario finishes, summary.csv already holds its row (read from
    the progress callback, called right after). One worker: scenarios finish one at a time,
    about a second apart, so each completion is written before the next."""
    f = write_sweep(tmp_path, "live", [{"product": {"grid.derate.b": [1.0, 2.0, 3.0]}}])
    out = tmp_path / "out-live"
    seen: list[tuple[int, str | None, dict[str, str]]] = []

    def progress(p):
        if p.last is None:  # the call at the start, before the first summary
            return
        rows = pd.read_csv(out / "summary.csv", dtype=str, keep_default_na=False)
        seen.append((p.finished, p.last, dict(zip(rows["name"], rows["status"], strict=True))))

    res = run_sweep(f, workers=1, progress=progress, robustness=False)
    assert res.failed == [] and len(seen) == 3
    for finished, last, status in seen:
        assert status[last] == "optimal"  # the scenario just finished has its row
        # and exactly the scenarios finished so far (the others still "not run")
        assert sum(v == "optimal" for v in status.values()) == finished
        assert sum(v == "not run" for v in status.values()) == 3 - finished
    assert res.summary_csv.read_text() == (out / "summary.csv").read_text()


def test_the_live_summary_waits_when_writing_it_would_cost_more_than_5_percent(tmp_path):
    """A write that took 1 s is not repeated within 20 s (1 / 0.05) of its end: the row is
    kept and written at the next completion after that, or by flush() (the end of a run,
    or Ctrl-C)."""
    from siting.studies import sweep as sw

    f = write_sweep(tmp_path, "slow", [{"product": {"grid.derate.b": [1.0, 2.0]}}])
    spec = load_sweep(f)
    path = tmp_path / "summary.csv"
    live = sw._LiveSummary(path, spec, sw._summary_rows(spec))
    live.finished({"name": "slow-001"}, {"status": "optimal", "objective_usd": 1.0})
    assert pd.read_csv(path)["status"].tolist() == ["optimal", "not run"]  # written at once
    live.last_took_s = 1.0  # as if that write had taken 1 s
    live.finished({"name": "slow-002"}, {"status": "infeasible", "error": "no\nplan"})
    assert pd.read_csv(path)["status"].tolist() == ["optimal", "not run"]  # not yet
    live.flush()
    rows = pd.read_csv(path)
    assert rows["status"].tolist() == ["optimal", "infeasible"]
    assert rows["error"].tolist()[1] == "no plan"  # on one line
    live.last_end_s -= 21.0  # 21 s after a 1 s write: due again
    live.finished({"name": "slow-001"}, {"status": "feasible"})
    assert pd.read_csv(path)["status"].tolist() == ["feasible", "infeasible"]


def test_a_busy_worker_killed_at_shutdown_logs_to_the_file_not_the_console(tmp_path):
    """Issue 20: a local cluster closed while its worker is busy (a solve that cannot stop,
    here a regular expression that backtracks for minutes holding the GIL, as a HiGHS solve
    of the demo does) makes distributed's nanny kill it with "Worker process still alive
    after 4.0 seconds, killing". That warning goes to the log file, not to stderr."""
    import subprocess
    import sys

    log = tmp_path / "dask.log"
    started = tmp_path / "started"
    script = f"""
import pathlib, re, time
from siting.core.engine import dask_client

def busy():
    pathlib.Path({str(started)!r}).write_text("x")
    return re.match(r"(a+)+$", "a" * 34 + "b")  # 2**34 steps, the GIL held throughout

with dask_client(workers=1, log_file={str(log)!r}) as c:
    fut = c.submit(busy, pure=False)
    t0 = time.monotonic()
    while not pathlib.Path({str(started)!r}).exists() and time.monotonic() - t0 < 60:
        time.sleep(0.05)
print("closed")
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert started.exists() and proc.stdout.strip() == "closed"
    assert "still alive" not in proc.stderr and "distributed" not in proc.stderr, proc.stderr
    assert "Worker process still alive" in log.read_text()


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
