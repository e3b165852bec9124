"""N-1 hosting capacity on a real ``dask.distributed`` LocalCluster (2 worker processes).

The outages run as tasks (:func:`siting.grid_ops.hosting.hosting_capacity` with ``client``;
``siting grid hosting --n-1 --workers N``); the answer must be identical to the serial
one, to the last bit, limiting branch and outage included:

- pglib case118 and case300 (skipped without ``../shared/data/pglib``), also with every
  outage its own task;
- the triangle of test_hosting with line a doubled (a, a2: same buses, reactance and
  ratings), where the outage of a and that of a2 give bus 2 exactly the same limit: the
  first in outage order must win, also when the two run in different tasks;
- the command with ``--workers 2`` writes the same table as without, and an unreachable
  or malformed scheduler address is a clear error with exit code 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_hosting import triangle
from typer.testing import CliRunner

import siting.grid_ops.hosting as hosting
from siting.cli import app
from siting.grid_ops.hosting import (
    HostingResult,
    _emergency_ratings,
    base_flows,
    grid_hosting,
    hosting_capacity,
)
from siting.inputs import load_grid_case
from siting.inputs.grids.grid import Grid
from siting.network import dc_network

distributed = pytest.importorskip("distributed")
runner = CliRunner()

N1_COLUMNS = ["hosting_n1_mw", "limiting_branch_n1", "limiting_outage", "overloaded_n1"]


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as c,
    ):
        c.wait_for_workers(2, timeout=60)
        yield c


def assert_same(serial: HostingResult, parallel: HostingResult) -> None:
    """Every column (floats bit for bit), the skipped outages and the violation count."""
    pd.testing.assert_frame_equal(serial.table, parallel.table, check_exact=True)
    for col in N1_COLUMNS:
        assert col in parallel.table.columns
    assert parallel.skipped_outages == serial.skipped_outages
    assert parallel.n1_violations == serial.n1_violations
    assert parallel.n1_outages == serial.n1_outages


def doubled_triangle() -> Grid:
    """The triangle with line a (1-2) as two identical lines a and a2 (x 0.2, 60 MW)."""
    g = triangle()
    br = g.branches
    br = pd.concat([br, br.loc[["a"]].rename(index={"a": "a2"})])
    br.loc[["a", "a2"], "x_pu"] = 0.2
    br.loc[["a", "a2"], ["rating_mw", "rating_emergency_mw"]] = 60.0
    g.branches = br
    return g


@pytest.mark.parametrize("case", ["pglib_opf_case118_ieee", "pglib_opf_case300_ieee"])
def test_pglib_parallel_equals_serial(client, pglib_dir: Path, case: str) -> None:
    """``grid_hosting(n_1=True)`` on the cluster equals the serial run; a few tasks per
    worker, both workers used."""
    layers = load_grid_case(pglib_dir / f"{case}.m")
    serial = grid_hosting(layers, n_1=True)
    parallel = grid_hosting(layers, n_1=True, client=client)
    assert_same(serial, parallel)
    assert serial.n1_workers == 0 and serial.n1_tasks == 1
    assert parallel.n1_workers == 2 and 2 <= parallel.n1_tasks <= 2 * hosting.CHUNKS_PER_WORKER
    assert parallel.n1_outages > 100 and len(parallel.skipped_outages) > 0
    assert any("Dask task(s) on 2 worker(s)" in n for n in parallel.notes)


def test_case118_one_task_per_outage(client, pglib_dir: Path, monkeypatch) -> None:
    """Blocks of one outage, one task each (about 170 tasks), a distributed slack: still
    identical, so the combination of parts in order is the serial pass."""
    grid = load_grid_case(pglib_dir / "pglib_opf_case118_ieee.m").grid
    net = dc_network(grid)
    spec, _ = hosting._slack_spec(grid, net, "distributed")
    f, _ = base_flows(grid, net, hosting.proportional_dispatch(grid, net)[0], spec)
    f = f * 1.6  # a stressed operating point: some overloads and N-1 violations
    kw = dict(slack=spec, n_1=True, rating_emergency_mw=_emergency_ratings(grid, net))
    monkeypatch.setattr(hosting, "BLOCK_ENTRIES", 1)
    serial = hosting_capacity(net, f, **kw)
    parallel = hosting_capacity(net, f, client=client, chunks_per_worker=1000, **kw)
    assert_same(serial, parallel)
    assert parallel.n1_tasks == parallel.n1_outages > 150
    assert serial.n1_violations > 0


@pytest.mark.parametrize("block_entries", [1, hosting.BLOCK_ENTRIES])
def test_ties_first_outage_in_order_wins(client, monkeypatch, block_entries: int) -> None:
    """Outages a and a2 give bus 2 the same N-1 limit, bit for bit (30 MW, on the other
    line); the first studied wins, in the serial pass and on the cluster, with the two in
    one task or in two."""
    g = doubled_triangle()
    net = dc_network(g)
    f, _ = base_flows(g, net, None)
    E = _emergency_ratings(g, net)
    monkeypatch.setattr(hosting, "BLOCK_ENTRIES", block_entries)

    def run(outages: list[str] | None, c: Any = None) -> pd.Series:
        r = hosting_capacity(
            net,
            f,
            n_1=True,
            rating_emergency_mw=E,
            outages=outages,
            client=c,
            chunks_per_worker=1000,
        )
        if c is not None:
            assert r.n1_tasks == (len(outages or net.branch_ids) if block_entries == 1 else 1)
        return r.table.set_index("bus_id").loc["2"]

    alone_a, alone_a2 = run(["a"]), run(["a2"])
    assert alone_a["hosting_n1_mw"] == alone_a2["hosting_n1_mw"] == pytest.approx(30.0)
    assert alone_a["hosting_n1_mw"] < alone_a["hosting_mw"]  # N-1 binds, not N-0
    assert (alone_a["limiting_outage"], alone_a["limiting_branch_n1"]) == ("a", "a2")
    assert (alone_a2["limiting_outage"], alone_a2["limiting_branch_n1"]) == ("a2", "a")
    for order, first, other in ((None, "a", "a2"), (["a2", "a", "b", "c"], "a2", "a")):
        for c in (None, client):
            row = run(order, c)
            assert row["hosting_n1_mw"] == alone_a["hosting_n1_mw"]
            assert (row["limiting_outage"], row["limiting_branch_n1"]) == (first, other), (
                order,
                c,
            )


def test_cli_workers_same_table(tmp_path: Path, pglib_dir: Path) -> None:
    """``siting grid hosting case118.m --n-1 --workers 2``: the same CSV and JSON buses as
    without, and the tasks and workers said in the JSON and the text output."""
    case = str(pglib_dir / "pglib_opf_case118_ieee.m")
    outs = {}
    for name, extra in (("serial", []), ("dask", ["--workers", "2"])):
        csv = tmp_path / f"{name}.csv"
        res = runner.invoke(
            app, ["grid", "hosting", case, "--n-1", "--json", "--out", str(csv), *extra]
        )
        assert res.exit_code == 0, res.output
        outs[name] = (json.loads(res.stdout), csv.read_text())
    (js, cs), (jd, cd) = outs["serial"], outs["dask"]
    assert cs == cd
    assert js["buses"] == jd["buses"] and js["skipped_outages"] == jd["skipped_outages"]
    assert js["n1_violations"] == jd["n1_violations"]
    assert (js["n1_tasks"], js["n1_workers"]) == (1, 0)
    assert jd["n1_workers"] == 2 and jd["n1_tasks"] >= 2
    assert jd["n1_outages"] == js["n1_outages"] > 100

    res = runner.invoke(
        app, ["grid", "hosting", case, "--n-1", "--out", str(tmp_path / "t.csv"), "--workers", "2"]
    )
    assert res.exit_code == 0, res.output
    assert "Dask task(s) on 2 worker(s)" in res.stdout
    assert (tmp_path / "t.csv").read_text() == cs


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("tcp://127.0.0.1:1", "Timed out"),  # nothing listens there: 20 s to give up
        ("127.0.0.1", "missing port"),
    ],
)
def test_cli_bad_scheduler(tmp_path: Path, address: str, message: str) -> None:
    """An unreachable or malformed scheduler address: exit 1, the address in the message."""
    case = str(Path(__file__).resolve().parents[1] / "models" / "demo.yaml")
    res = runner.invoke(
        app,
        ["grid", "hosting", case, "--n-1", "--out", str(tmp_path / "h.csv")]
        + ["--scheduler", address],
    )
    assert res.exit_code == 1, res.output
    assert f"cannot reach the Dask scheduler at {address}" in res.output
    assert message in res.output
    assert not (tmp_path / "h.csv").exists()


def test_cli_workers_needs_n1(tmp_path: Path) -> None:
    """``--workers`` without ``--n-1``: exit 1, saying to add --n-1 (no cluster started)."""
    case = str(Path(__file__).resolve().parents[1] / "models" / "demo.yaml")
    res = runner.invoke(
        app, ["grid", "hosting", case, "--out", str(tmp_path / "h.csv"), "--workers", "2"]
    )
    assert res.exit_code == 1 and "add --n-1" in res.output, res.output


def test_tie_check_is_exact() -> None:
    """The doubled lines' flows and LODF columns are bit for bit the same (what makes the
    tie of test_ties_first_outage_in_order_wins exact, not within rounding)."""
    g = doubled_triangle()
    net = dc_network(g)
    f, _ = base_flows(g, net, None)
    ia, ia2 = net.branch_ids.get_indexer(["a", "a2"])
    assert f[ia] == f[ia2]
    L = hosting.lodf(net, hosting.ptdf(net, None))
    others = [i for i in range(net.n_branch) if i not in (ia, ia2)]
    np.testing.assert_array_equal(L[others, ia], L[others, ia2])
    assert L[ia2, ia] == L[ia, ia2]


def test_scheduler_without_workers(monkeypatch, pglib_dir: Path) -> None:
    """A scheduler with no worker: an InputError naming its address (after
    ``WAIT_WORKERS_S``, shortened here), not a hang."""
    from dask.distributed import LocalCluster

    from siting.core.errors import InputError

    monkeypatch.setattr(hosting, "WAIT_WORKERS_S", 0.5)
    layers = load_grid_case(pglib_dir / "pglib_opf_case118_ieee.m")
    with LocalCluster(n_workers=0, dashboard_address=":0") as cluster:
        address = cluster.scheduler_address
        with pytest.raises(InputError, match="has no worker") as e:
            grid_hosting(layers, n_1=True, scheduler=address)
    assert address in str(e.value)
