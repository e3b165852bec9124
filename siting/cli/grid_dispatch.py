"""``siting grid dispatch``: the DC economic dispatch of a grid as it is (see siting.cli.grid).

The command takes a scenario (its grid layer, its ``grid.cost_segments`` and
``grid.line_limits``, the load of its first planning year unless ``--year``) or a bare
grid case (MATPOWER ``.m``, pandapower ``.json``, grid GeoPackage; its base load), solves
:func:`siting.grid_ops.dispatch.dc_opf`, and prints a summary, or with ``--json`` the whole result
(:meth:`siting.grid_ops.dispatch.DispatchResult.as_dict`) on stdout:

- ``objective_usd_per_h``: the generators' cost at the dispatch [USD/h];
- ``dispatch``: ``{gen_id, bus_id, p_mw, p_min_mw, p_max_mw, cost_usd_per_h, in_service}``
  per generator row of the case;
- ``flows``: ``{branch_id, from_bus, to_bus, flow_mw, rating_mw, loading_pct,
  in_service}`` per branch row (``rating_mw`` null = unlimited).

``--derate BRANCH=FACTOR`` and ``--outage BRANCH`` (repeatable) dispatch the grid with
branches derated or out, as ``siting grid stress`` means them: on a scenario merged into its
``grid.derate`` / ``grid.outages`` (factors multiply), on a bare case applied to the case's
ratings (:func:`siting.grid_ops.edits.edit_grid`); each edit is a note.

IDs are text: for a MATPOWER case the bus numbers and the 1-based rows of ``mpc.gen``
and ``mpc.branch``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from siting.cli.common import DebugOpt, JsonOpt, guard, out
from siting.cli.grid_stress import DerateOpt, OutageOpt

if TYPE_CHECKING:
    from siting.grid_ops.dispatch import DispatchResult


def dispatch(
    path: Annotated[
        Path,
        typer.Argument(
            metavar="SCENARIO_OR_CASE",
            help="A scenario (.yaml) or a grid case (.m MATPOWER, .json pandapower, .gpkg).",
        ),
    ],
    segments: Annotated[
        int | None,
        typer.Option(
            "--segments",
            min=1,
            help="Secants per polynomial generator cost (default: the scenario's "
            "grid.cost_segments, or 4).",
        ),
    ] = None,
    bus_coordinates: Annotated[
        Path | None,
        typer.Option(help="For a bare MATPOWER case: CSV of bus coordinates (bus_id, lon, lat)."),
    ] = None,
    load_scale: Annotated[
        float, typer.Option("--load-scale", min=0.0, help="Factor on every bus load.")
    ] = 1.0,
    year: Annotated[
        int | None,
        typer.Option(
            "--year", help="Dispatch this year's load (default: a scenario's first year)."
        ),
    ] = None,
    derate: DerateOpt = None,
    outage: OutageOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """DC economic dispatch (DC OPF) of the grid as it is: cost in USD/h, output, flows.

    ``--derate BRANCH=FACTOR`` / ``--outage BRANCH`` dispatch the grid with branches derated
    or out (a scenario or a bare case), as ``siting grid stress`` means them.
    """

    from siting.cli.grid_stress import parse_derates, parse_outages

    derates, outages = parse_derates(derate), parse_outages(outage)  # usage errors: exit 2

    def run() -> DispatchResult:
        from siting.cli.grid_stress import read_edited
        from siting.grid_ops.dispatch import dc_opf
        from siting.model.data import POLY_SEGMENTS

        layers, sc, notes = read_edited(path, bus_coordinates, derates, outages)
        if sc is not None:
            result = dc_opf(
                layers,
                load_scale=load_scale,
                segments=segments if segments is not None else sc.grid.cost_segments,
                year=year if year is not None else sc.years[0],
                line_limits=sc.grid.line_limits,
                solver=sc.solver.name,
                time_limit_s=sc.solver.time_limit_s,
                threads=sc.solver.threads,
            )
        else:
            result = dc_opf(
                layers,
                load_scale=load_scale,
                segments=segments if segments is not None else POLY_SEGMENTS,
                year=year,
            )
        result.notes = notes + list(result.notes)
        return result

    result = guard(debug, run)
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict(), indent=2) + "\n")
    else:
        _print_dispatch(result)


def _print_dispatch(r) -> None:
    """The human summary: objective, generation and load, the 10 most loaded branches."""
    src = Path(r.source).name if r.source else "grid"
    out.print(
        f"[bold]{escape(src)}[/bold]: {r.status} DC dispatch, "
        f"[bold]{r.objective_usd_per_h:,.2f} USD/h[/bold] "
        f"({r.solve.time_s:.2f} s in {r.solve.solver})"
    )
    if r.approximation_bound_usd_per_h > 0:
        out.print(
            f"  polynomial costs by {r.cost_segments} secants: model optimum "
            f"{r.model_objective_usd_per_h:,.2f} USD/h, at most "
            f"{r.approximation_bound_usd_per_h:,.2f} USD/h above the exact optimum"
        )
    on = r.dispatch[r.dispatch["in_service"]]
    at_max = int((on["p_mw"] >= on["p_max_mw"] - 1e-6).sum())
    at_min = int(((on["p_mw"] <= on["p_min_mw"] + 1e-6) & (on["p_max_mw"] > on["p_min_mw"])).sum())
    when = f"year {r.year}" if r.year is not None else "base load"
    scale = f", load x {r.load_scale:g}" if r.load_scale != 1.0 else ""
    out.print(
        f"  generation {r.generation_mw:,.1f} MW from {len(on)} generators ({at_max} at "
        f"maximum, {at_min} at minimum); load {r.load_mw:,.1f} MW with shunts ({when}{scale})"
    )
    f_on = r.flows[r.flows["in_service"]]
    limited = f_on[f_on["loading_pct"].notna()]
    binding = int((limited["loading_pct"] >= 100.0 - 1e-6).sum())
    out.print(f"  branches: {len(f_on)} in service, {len(limited)} with a rating, {binding} at it")
    t = Table(title="most loaded branches", show_edge=False)
    for c in ("branch", "from", "to", "flow MW", "rating MW", "loading"):
        t.add_column(c, justify="right" if c in ("flow MW", "rating MW", "loading") else "left")
    for row in r.most_loaded(10).itertuples(index=False):
        t.add_row(
            escape(row.branch_id),
            escape(row.from_bus),
            escape(row.to_bus),
            f"{row.flow_mw:,.1f}",
            f"{row.rating_mw:,.1f}" if row.rating_mw < float("inf") else "unlimited",
            f"{row.loading_pct:.1f} %" if row.loading_pct == row.loading_pct else "-",
        )
    out.print(t)
    for note in r.notes:
        out.print(f"  note: {escape(note)}")
