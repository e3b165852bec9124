"""``siting robustness SWEEP``: how often each site is chosen across a sweep's plans."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from siting.cli.common import DebugOpt, JsonOpt, TilesOpt, guard, out
from siting.core.errors import InputError

if TYPE_CHECKING:
    from rich.console import JustifyMethod

    from siting.studies.robustness import Robustness


def sweep_out_of(target: Path) -> Path:
    """The sweep output folder of a sweep file, or ``target`` itself if it is a folder.

    Raises
    ------
    siting.core.errors.InputError
        When ``target`` does not exist (a bad sweep file raises
        :class:`siting.core.errors.ScenarioError`, an ``InputError`` too).
    """
    from siting.core.files import require_reachable

    require_reachable(target)
    if target.is_dir():
        return target
    if target.is_file():
        from siting.studies.sweep import load_sweep

        return load_sweep(target).out
    raise InputError(
        f"{target}: no such file or folder; expected a sweep file or a sweep output folder"
    )


def robustness_command(
    target: Annotated[
        Path, typer.Argument(help="A sweep file, or a sweep's output folder (its `out`).")
    ],
    top: Annotated[int, typer.Option("--top", min=1, help="Sites to print.")] = 15,
    tiles: TilesOpt = True,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Count how often each site is chosen across a sweep's plans, and in which year.

    Writes <out>/robustness/ (robustness.csv, .geojson, .svg, .html, scenarios.csv,
    robustness.json). Failed and unfinished scenarios are left out and counted.
    """
    from siting.studies.robustness import robustness, write_robustness

    def run() -> tuple[Robustness, Path]:
        folder = sweep_out_of(target)
        rob = robustness(folder)
        return rob, write_robustness(folder, tiles=tiles, result=rob)

    rob, written = guard(debug, run)
    if as_json:
        doc = rob.as_dict(top=top)
        doc["folder"] = str(written)
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    t = Table(title=f"sites chosen most often in {escape(rob.sweep_out.name)}", show_edge=False)
    many = rob.candidate_sets > 1
    if many:
        t.add_column("set")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("site", "left"),
        ("chosen", "right"),
        ("share", "right"),
        ("first year (plans)", "left"),
        ("IT MW final (median)", "right"),
        ("cooling", "left"),
        ("bus", "left"),
    )
    for c, j in columns:
        t.add_column(c, justify=j)
    for _, r in rob.table().head(top).iterrows():
        first = ", ".join(
            f"{y}: {int(r[f'first_year_{y}'])}" for y in rob.years if r[f"first_year_{y}"] > 0
        )
        cells = [
            escape(str(r["site_id"])),
            f"{int(r['times_chosen'])}/{int(r['scenarios_with_plan'])}",
            f"{100 * r['selection_frequency']:.0f} %",
            first,
            f"{r['it_mw_final_median']:,.0f}",
            escape(str(r["cooling_mix"])),
            escape(str(r["bus_id"])),
        ]
        t.add_row(*([escape(str(r["candidate_set"]))] if many else []), *cells)
    if len(rob.sites):
        out.print(t)
    out.print(
        f"{rob.scenarios_total} scenarios: {rob.scenarios_with_plan} with a plan, "
        f"{rob.failed} failed, {rob.skipped} skipped; {len(rob.sites)} sites ever chosen"
    )
    for n in rob.notes:
        out.print(f"  note: {escape(n)}")
    out.print(f"  wrote {escape(str(written))}")
