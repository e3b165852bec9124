"""``flows.csv`` holds every snapshot: one row per branch, year and snapshot.

``siting grid check`` recomputes each snapshot's flows from the plan's tables and compares
them with the written ones; a plan folder written before (the peak's rows only, no
``snapshot`` column) is still checked (at the peak) and mapped. The case is the radial
3-bus case of ``tests/test_grid_attachments.py`` with base load at buses 2 and 3.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from test_grid_attachments import LOADS, write_region
from typer.testing import CliRunner

import siting
from siting.cli import app
from siting.core.errors import InputError
from siting.grid_ops.check import check_plan

runner = CliRunner()


SNAPSHOTS = [
    {"name": "peak", "load_factor": 1.0, "hours": 0, "peak": True},
    {"name": "high", "load_factor": 0.8, "hours": 4380},
    {"name": "low", "load_factor": 0.5, "hours": 4380},
]


@pytest.fixture(scope="module")
def snap_plan(tmp_path_factory):
    """S3 behind the radial line (rated 1,000 MW), with base load at buses 2 and 3 growing
    1.5x in 2031, three snapshots and two years: flows differ in every snapshot."""
    d = tmp_path_factory.mktemp("snaps")
    path = write_region(
        d,
        branches=[(1, 2, 1000.0, 0.0), (2, 3, 1000.0, 0.0)],
        loads_mw=LOADS,
        attach={"load_growth_per_year": {2031: 1.5}},
        years=[2030, 2031],
        targets={"it_mw_by_year": {2030: 100, 2031: 150}},
        grid={"snapshots": SNAPSHOTS},
    )
    out = d / "out"
    return siting.plan(path, out=out), out


def test_flows_csv_has_every_branch_year_and_snapshot_and_grid_check_recomputes_each(snap_plan):
    p, out = snap_plan
    flows = pd.read_csv(out / "flows.csv", dtype={"branch_id": str})
    assert len(flows) == 2 * 2 * 3  # branches x years x snapshots
    assert not flows.duplicated(["branch_id", "year", "snapshot"]).any()
    assert sorted(set(flows["snapshot"])) == ["high", "low", "peak"]
    # the snapshots differ (load factors 1, 0.8, 0.5 and typical vs peak campus draw)
    b2 = flows[(flows["branch_id"] == "2") & (flows["year"] == 2031)].set_index("snapshot")
    assert b2.at["peak", "flow_mw"] > b2.at["high", "flow_mw"] > b2.at["low", "flow_mw"] > 30.0
    # branch 2 carries bus 3's load and S3's draw: 20 MW x 1.5 x load factor + the draw
    sched = p.schedule.set_index("year")
    for h, lf in (("peak", 1.0), ("high", 0.8), ("low", 0.5)):
        draw = sched.at[2031, "peak_draw_mw" if h == "peak" else "typical_draw_mw"]
        assert b2.at[h, "flow_mw"] == pytest.approx(30.0 * lf + draw, rel=1e-5)
    r = check_plan(out)
    assert r.ok and r.compared_snapshots == ["peak", "high", "low"]
    merged = flows.merge(r.flows, on=["branch_id", "year", "snapshot"], suffixes=("", "_check"))
    assert len(merged) == len(flows)
    assert merged["flow_mw_check"].to_numpy() == pytest.approx(
        merged["flow_mw"].to_numpy(), rel=1e-5, abs=1e-6
    )
    assert r.flows["plan_flow_mw"].notna().all()
    res = runner.invoke(app, ["grid", "check", str(out)])
    assert res.exit_code == 0, res.output
    assert "flows recomputed at peak, high, low vs the plan's flows.csv" in res.output


def test_grid_check_finds_an_edited_non_peak_row(snap_plan, tmp_path):
    _, out = snap_plan
    d = tmp_path / "edited"
    shutil.copytree(out, d)
    flows = pd.read_csv(d / "flows.csv", dtype=str, keep_default_na=False)
    row = flows.index[(flows["branch_id"] == "2") & (flows["snapshot"] == "low")][0]
    flows.loc[row, "flow_mw"] = str(float(flows.loc[row, "flow_mw"]) + 5.0)
    flows.to_csv(d / "flows.csv", index=False)
    r = check_plan(d)
    said = [n for n in r.notes if "differ from the plan's flows.csv" in n]
    assert said and "largest 5.000 MW on branch '2'" in said[0] and "at 'low'" in said[0]
    # a missing non-peak row is named with its snapshot
    flows.drop(index=row).to_csv(d / "flows.csv", index=False)
    with pytest.raises(InputError, match="no row for branch '2' in 20.., snapshot 'low'"):
        check_plan(d)


def test_a_plan_folder_with_peak_rows_only_is_still_checked_and_mapped(snap_plan, tmp_path):
    """flows.csv as siting wrote it before it held every snapshot: the peak's rows, no
    snapshot column, the worst snapshot's loading in max_loading_pct/max_loading_snapshot.
    ``siting grid check`` compares the peak only and says so; ``siting map`` draws it."""
    _, out = snap_plan
    d = tmp_path / "old"
    shutil.copytree(out, d)
    flows = pd.read_csv(d / "flows.csv", dtype={"branch_id": str})
    worst = flows.loc[flows.groupby(["branch_id", "year"])["loading_pct"].idxmax()]
    old = flows[flows["snapshot"] == "peak"].drop(columns="snapshot")
    old = old.merge(
        worst[["branch_id", "year", "loading_pct", "snapshot"]].rename(
            columns={"loading_pct": "max_loading_pct", "snapshot": "max_loading_snapshot"}
        ),
        on=["branch_id", "year"],
    )
    old.to_csv(d / "flows.csv", index=False)
    r = check_plan(d)
    assert r.ok and r.compared_snapshots == ["peak"]
    assert any("has no snapshot column" in n for n in r.notes)
    peak = r.flows[r.flows["snapshot"] == "peak"]
    assert peak["plan_flow_mw"].notna().all()
    assert r.flows.loc[r.flows["snapshot"] != "peak", "plan_flow_mw"].isna().all()
    res = runner.invoke(app, ["map", str(d), "--out", str(d / "m.html"), "--no-tiles"])
    assert res.exit_code == 0, res.output
    assert "branch 2" in (d / "report.html").read_text(encoding="utf-8")
