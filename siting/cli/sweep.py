"""``siting sweep SWEEP.yaml``: run a base scenario's variations as tasks on Dask."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from siting.cli.common import (
    EXIT_INTERNAL,
    INTERRUPTED_KEPT,
    DebugOpt,
    JsonOpt,
    SchedulerOpt,
    TilesOpt,
    WorkersOpt,
    err,
    guard,
    out,
)

if TYPE_CHECKING:
    from siting.studies.sweep import SweepResult


def sweep_command(
    sweep_file: Annotated[Path, typer.Argument(help="A sweep file (base scenario + vary:).")],
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = 2,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Run again the scenarios that failed before.")
    ] = False,
    tiles: TilesOpt = True,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Plan every variation of a base scenario on Dask; a rerun skips what is finished.

    Exit 0 when every scenario is finished (infeasible ones are results too, in
    failed.json), 1 on a bad sweep file, 3 when a scenario hit an internal error.
    """
    from siting.studies.sweep import SweepProgress, run_sweep

    def run() -> SweepResult:
        with Progress(
            TextColumn("sweep"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=err,
            transient=False,
            disable=as_json,
        ) as bar:
            task = bar.add_task("sweep", total=None, info="")

            def show(p: SweepProgress) -> None:
                info = f"{p.failed} failed" + (f", {p.skipped} already done" if p.skipped else "")
                if p.last:
                    info += f"; last: {p.last} {p.last_status}"
                bar.update(task, total=p.total, completed=p.finished, info=escape(info))

            return run_sweep(
                sweep_file,
                scheduler=scheduler,
                workers=workers,
                retry_failed=retry_failed,
                progress=show,
                tiles=tiles,
            )

    res = guard(debug, run, INTERRUPTED_KEPT, hard_stop=False)  # (Dask shuts down in order)
    if as_json:
        sys.stdout.write(json.dumps(res.as_dict(), indent=2, default=str) + "\n")
    else:
        for r in res.rows:
            obj = r.get("objective_usd")
            figs = f"{obj:,.0f} USD, {r.get('it_mw_final') or 0:,.0f} MW" if obj is not None else ""
            line = f"  {r['name']}  {r['status']}  {figs}"
            if r.get("error"):
                line += f"  ({r['error']})"
            out.print(escape(line))
        out.print(
            f"{len(res.rows)} scenarios: {len(res.submitted)} run now, {len(res.skipped)} "
            f"finished before, {len(res.failed)} without a plan; summary: "
            f"{escape(str(res.summary_csv))}"
        )
    if res.internal_errors:
        err.print(
            "internal error in "
            + ", ".join(res.internal_errors)
            + " (see failed.json); this is a bug in siting, please report it"
        )
        raise typer.Exit(EXIT_INTERNAL)
