"""``siting export PLAN_DIR --to pypsa|pandapower|matpower``: a plan's grid for other tools.

Writes one planning year of a plan (:func:`siting.grid_ops.export.export_case`: the grid
with the plan's upgrades, the campuses as loads and on-site generators, the plan's dispatch,
every component named by siting's IDs) as a PyPSA netCDF network with every snapshot, or a
pandapower JSON network or MATPOWER case of one snapshot (default: the peak). The file is
written atomically; by default beside the plan folder as ``<folder>_<year>.nc`` (``.json``,
``.m``); an existing file is replaced only with ``--force``, an input never. Exit codes: 0
written, 1 invalid input (a plan file missing, a year or snapshot the plan does not have, an
output refused), 3 internal error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape

from siting.cli.common import DebugOpt, err, guard


def export_command(
    plan_dir: Annotated[
        Path,
        typer.Argument(metavar="PLAN_DIR", help="A plan folder written by siting plan."),
    ],
    to: Annotated[
        Literal["pypsa", "pandapower", "matpower"],
        typer.Option(
            "--to", help="pypsa (.nc, every snapshot), pandapower (.json) or matpower (.m)."
        ),
    ],
    year: Annotated[
        int | None,
        typer.Option("--year", help="The planning year to export (default: the last)."),
    ] = None,
    snapshot: Annotated[
        str | None,
        typer.Option(
            "--snapshot",
            help="pandapower and MATPOWER: the snapshot to export (default: the peak).",
        ),
    ] = None,
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out", help="The file to write (default: <PLAN_DIR>_<year>.<suffix> beside it)."
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace an existing file (never an input of the plan)."),
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """Write a plan's grid in a year as a PyPSA, pandapower or MATPOWER network.

    The campuses are loads at their buses (``site_id`` firm, ``<site_id>:flexible``),
    on-site supply generators (``<site_id>:<source>``), the grid's demand one load per bus
    (named by its ``bus_id``), upgrades in the ratings, the plan's dispatch as set points:
    a DC power flow of the file gives the plan's flows. Next steps are the user's: an AC
    power flow, a security-constrained dispatch, a unit commitment.
    """

    def run() -> tuple[Path, list[str]]:
        from siting.core.files import require_reachable
        from siting.grid_ops.export import default_out, export_case, write_export

        require_reachable(plan_dir)
        case = export_case(plan_dir, year=year)
        target = out_path if out_path is not None else default_out(plan_dir, to, case.year)
        from siting.core.io import OutputRefusedError, check_output_file

        target = check_output_file(target)  # a name too long, a folder, a FIFO: refused by name
        if target.resolve().parent == Path(plan_dir).resolve():
            raise OutputRefusedError(
                f"{target} is inside the plan folder, which siting plan writes and replaces "
                "whole; choose a file outside it",
                target,
            )
        if target.exists() and not force and not target.is_dir():
            raise OutputRefusedError(
                f"{target} exists; pass --force to replace it, or choose another file", target
            )
        from siting.cli.grid_check import _inputs

        inputs = tuple(_inputs(plan_dir, None))  # the plan's files and the inputs it names
        written = write_export(case, to, target, snapshot=snapshot, inputs=inputs)
        return written, case.notes

    written, notes = guard(debug, run)
    for note in notes:
        err.print(f"  [dim]{escape(note)}[/dim]")
    err.print(f"wrote {escape(str(written))}")
