"""``siting twostage SCENARIO.yaml``: a two-stage plan over the scenario's demand scenarios."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from siting.cli.common import (
    INTERRUPTED_KEPT,
    DebugOpt,
    ForceOpt,
    JsonOpt,
    QuietOpt,
    SchedulerOpt,
    TilesOpt,
    WorkersOpt,
    err,
    guard,
    out,
)


def twostage_command(
    scenario: Annotated[
        Path, typer.Argument(help="A scenario file with a demand_scenarios section.")
    ],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default: maps/<scenario name>-twostage/)."),
    ] = None,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = 2,
    force: ForceOpt = False,
    tiles: TilesOpt = True,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Decide sites (and cooling) now, the build-out per demand scenario: the expected cost,
    the deterministic plan on the scenarios (EEV), the wait-and-see bound and each
    scenario's regret; each scenario's plan under the chosen first stage.

    Exit 0 with the study written; 1 on bad input, or when a demand scenario has no plan
    (the message says which).
    """
    from siting.studies.twostage import run_twostage, study_dict

    def say(stage: str) -> None:
        if not quiet and not as_json:
            err.print(escape(f"  {stage}"))

    ts, dest = guard(
        debug,
        lambda: run_twostage(
            scenario,
            out=out_dir,
            scheduler=scheduler,
            workers=workers,
            force=force,
            tiles=tiles,
            progress=say,
        ),
        INTERRUPTED_KEPT,
        hard_stop=False,
    )
    if as_json:
        doc = {"output_dir": str(dest), **study_dict(ts)}
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
        return
    chosen = ts.candidates[ts.chosen]
    out.print(escape(f"sites opened now: {', '.join(chosen['first_stage'].sites) or 'none'}"))
    for n, p, reg in zip(ts.names, ts.probabilities, ts.regret_usd(), strict=True):
        out.print(escape(f"  {n} (p {p:g}): regret {reg / 1e6:,.1f} M USD"))
    out.print(
        escape(
            f"expected cost {ts.expected_usd / 1e6:,.1f} M USD; EEV {ts.eev_usd / 1e6:,.1f}; "
            f"VSS {ts.vss_usd / 1e6:,.1f}; wait-and-see bound {ts.ws_bound_usd / 1e6:,.1f} "
            f"(gap {ts.gap_to_ws:.2%}); written to {dest}"
        )
    )
