"""``siting pareto SCENARIO --between cost,water``: a trade-off front on the Dask engine."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from siting.cli.common import (
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
    from siting.studies.pareto import Front


def pareto_command(
    scenario: Annotated[Path, typer.Argument(help="The scenario YAML file.")],
    between: Annotated[
        str,
        typer.Option(
            "--between",
            help="cost,water (campus water in its largest year, m3/day), cost,co2 (CO2 the "
            "campuses add over the horizon, t) or cost,grid_upgrades (upgrade spend, USD).",
        ),
    ] = "cost,water",
    points: Annotated[
        int,
        typer.Option(
            "--points", min=2, max=100, help="Points on the front, the least-cost plan included."
        ),
    ] = 6,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", help="The front's folder (default maps/<scenario>-pareto-<metric>/)."
        ),
    ] = None,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = 2,
    threads: Annotated[int, typer.Option("--threads", min=1, help="Solver threads per point.")] = 1,
    tiles: TilesOpt = True,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Trace least cost against water, CO2 or grid upgrades (epsilon-constraint front).

    Each point is a plan (a report and a map); the front is written as front.csv,
    front.svg and front.html. A rerun skips the points already finished.
    """
    from siting.studies.pareto import pareto, parse_between

    def run() -> Front:
        metric = parse_between(between)

        def say(line: str) -> None:
            if not as_json:
                err.print(escape(line))

        return pareto(
            scenario,
            metric,
            points=points,
            out=out_dir,
            scheduler=scheduler,
            workers=workers,
            threads=threads,
            progress=say,
            tiles=tiles,
        )

    front = guard(debug, run, INTERRUPTED_KEPT, hard_stop=False)  # (Dask shuts down in order)
    if as_json:
        sys.stdout.write(json.dumps(front.as_dict(), indent=2, default=str) + "\n")
        return
    from siting.core.cells import as_float
    from siting.core.errors import is_missing
    from siting.studies.pareto import AXIS, METRIC_WORDS, in_running_text, table_number

    label, unit, scale = AXIS[front.metric]
    words, per = METRIC_WORDS[front.metric]
    t = Table(title=f"least cost against {in_running_text(label)}")
    heads = ("point", f"cap [{unit}]", f"{words} [{unit}]", "cost [M USD]", f"marginal [{per}]")
    for c in (*heads, "status"):
        t.add_column(escape(c), justify="left" if c == "status" else "right")
    for r in front.table.itertuples(index=False):
        val = getattr(r, front.metric)
        t.add_row(
            str(r.point),
            "none" if is_missing(r.cap) else table_number(as_float(r.cap) / scale),
            "" if is_missing(val) else table_number(as_float(val) / scale),
            "" if is_missing(r.total_cost_usd) else f"{as_float(r.total_cost_usd) / 1e6:,.1f}",
            ""
            if is_missing(r.marginal_usd_per_unit)
            else table_number(as_float(r.marginal_usd_per_unit)),
            escape(str(r.status)) + (" (dominated)" if r.dominated else ""),
        )
    out.print(t)
    for n in front.notes:
        out.print(escape(f"note: {n}"))
    out.print(f"front: {escape(str(front.out / 'front.html'))}")
