"""``siting grid hosting``: the largest new load each bus can take alone (see siting.cli.grid).

The command takes a scenario (its grid layer, base load ``load_mw``) or a bare grid case
(MATPOWER ``.m``, pandapower ``.json``, grid GeoPackage), runs
:func:`siting.grid_ops.hosting.grid_hosting` (N-0, and N-1 with ``--n-1``), and writes

- a CSV, one row per bus (``--out``, default ``hosting.csv`` in the current folder):
  ``bus_id, hosting_mw, limiting_branch, overloaded, why`` and with ``--n-1``
  ``hosting_n1_mw, limiting_branch_n1, limiting_outage, overloaded_n1, why_n1``
  (``inf`` = no limited branch feels a load there, e.g. the slack bus itself; ``why`` says
  in words what limits the bus: the branch, after which outage, its flow and rating at the
  operating point, the headroom and the MW per MW a load there adds to it);
- when the buses have coordinates, the same table as points in a GeoPackage beside it
  (same name, ``.gpkg``, layer ``hosting``; infinite capacities are empty there).

Both are written atomically. It prints the 10 weakest buses, or with ``--json``
``{"buses": [...], "n_1": bool, "skipped_outages": [...], ...}`` on stdout
(:meth:`siting.grid_ops.hosting.HostingResult.as_dict` plus the files written; ``inf`` is
``null``). When buses get 0 MW, a note groups them by the branch (and outage) that stops them
and says whether it is already above its rating or at it, and offers the re-dispatch:
``--dispatch opf`` sets the generators by a DC OPF within the normal ratings before
measuring (no mode re-dispatches for N-1 security; the note says so when ``opf`` leaves
zeros under N-1).

``--derate BRANCH=FACTOR`` and ``--outage BRANCH`` (repeatable) study the grid with branches
derated or out, as ``siting grid stress`` means them, on a scenario (merged into its
``grid.derate`` / ``grid.outages``) or a bare case (:func:`siting.grid_ops.edits.edit_grid`).

With ``--n-1 --workers N`` or ``--scheduler ADDRESS`` the outages run as tasks on Dask
(:func:`siting.core.engine.dask_client`; same answer); the output says how many tasks ran on
how many workers (``n1_tasks``, ``n1_workers`` in the JSON).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from siting.cli.common import DebugOpt, JsonOpt, err, guard, out
from siting.cli.grid_stress import DerateOpt, OutageOpt
from siting.core.errors import InputError

if TYPE_CHECKING:
    from siting.config.scenario import Scenario
    from siting.grid_ops.hosting import DispatchMode, HostingResult
    from siting.inputs.grids.grid import Grid

#: Layer name in the GeoPackage.
GPKG_LAYER = "hosting"


def hosting(
    path: Annotated[
        Path,
        typer.Argument(
            metavar="SCENARIO_OR_CASE",
            help="A scenario (.yaml) or a grid case (.m MATPOWER, .json pandapower, .gpkg).",
        ),
    ],
    n_1: Annotated[
        bool,
        typer.Option(
            "--n-1",
            help="Also after every single branch outage, within emergency ratings "
            "(outages that split the network are skipped and listed).",
        ),
    ] = False,
    out_csv: Annotated[
        Path,
        typer.Option(
            "--out",
            help="CSV to write; a GeoPackage of points goes beside it when buses have coordinates.",
        ),
    ] = Path("hosting.csv"),
    slack: Annotated[
        str,
        typer.Option(
            "--slack",
            help="Who serves the new load: 'reference' (each island's reference bus), "
            "'distributed' (in-service generators in proportion to p_max) or a bus ID.",
        ),
    ] = "reference",
    dispatch: Annotated[
        str,
        typer.Option(
            "--dispatch",
            help="Operating point: 'auto' (a MATPOWER file's PG, else proportional), "
            "'case', 'proportional' (to p_max, meeting the load) or 'opf' (DC OPF: "
            "re-dispatches the generators within the normal ratings).",
        ),
    ] = "auto",
    bus_coordinates: Annotated[
        Path | None,
        typer.Option(help="For a bare MATPOWER case: CSV of bus coordinates (bus_id, lon, lat)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="With --n-1: run the outages as tasks on a local Dask cluster of this many "
            "single-thread worker processes.",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="With --n-1: run the outages as tasks on the Dask scheduler at this address "
            "(tcp://host:8786; --workers is then ignored).",
        ),
    ] = None,
    flex_hours: Annotated[
        float | None,
        typer.Option(
            "--flex-hours",
            min=0,
            help="Also firm and flexible N-0 hosting over the snapshots (the scenario's, or "
            "the defaults for a bare case): firm = the smallest over them; flexible = the "
            "MW that fit if curtailed in snapshots of at most this many stress hours a year.",
        ),
    ] = None,
    flex_depth: Annotated[
        float,
        typer.Option(
            "--flex-depth",
            min=0,
            max=1,
            help="With --flex-hours: most of the load curtailed at once (1 = all of it).",
        ),
    ] = 1.0,
    derate: DerateOpt = None,
    outage: OutageOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Hosting capacity: the largest new load (MW) each bus can take alone, N-0 and N-1.

    ``--derate BRANCH=FACTOR`` / ``--outage BRANCH`` study the grid with branches derated or
    out (a scenario or a bare case), as ``siting grid stress`` means them.
    """
    from siting.cli.grid_stress import parse_derates, parse_outages

    derates, outages = parse_derates(derate), parse_outages(outage)

    def run() -> tuple[HostingResult, Path | None]:
        return _run_hosting(
            path,
            n_1=n_1,
            out_csv=out_csv,
            slack=slack,
            dispatch=dispatch,
            bus_coordinates=bus_coordinates,
            workers=workers,
            scheduler=scheduler,
            derates=derates,
            outages=outages,
            flex=(flex_hours, flex_depth) if flex_hours is not None else None,
        )

    # on a Dask cluster the interrupt alone unwinds the run, so its workers shut down in order
    on_dask = n_1 and (workers is not None or scheduler is not None)
    result, gpkg = guard(debug, run, hard_stop=not on_dask)
    if as_json:
        data = result.as_dict()
        data["csv"] = str(out_csv)
        data["gpkg"] = str(gpkg) if gpkg is not None else None
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        _print_hosting(result, path, out_csv, gpkg)


def _run_hosting(
    path: Path,
    *,
    n_1: bool,
    out_csv: Path,
    slack: str,
    dispatch: str,
    bus_coordinates: Path | None,
    workers: int | None,
    scheduler: str | None,
    derates: dict[str, float] | None = None,
    outages: list[str] | None = None,
    flex: tuple[float, float] | None = None,
) -> tuple[HostingResult, Path | None]:
    """Read the grid, run :func:`siting.grid_ops.hosting.grid_hosting` and write the files.

    Parameters
    ----------
    path
        The scenario or grid case.
    n_1, out_csv, slack, dispatch, bus_coordinates, workers, scheduler
        The command's options.
    derates, outages
        ``--derate`` (factor per branch ID [-]) and ``--outage`` (branch IDs).
    flex
        ``(--flex-hours [h], --flex-depth [fraction])``: add the firm and flexible columns
        of :func:`siting.grid_ops.hosting.snapshot_hosting` (None: not asked).

    Returns
    -------
    (HostingResult, pathlib.Path | None)
        The result and the GeoPackage written (None when the buses have no coordinates).

    Raises
    ------
    siting.core.errors.InputError
        ``--workers`` or ``--scheduler`` without ``--n-1``, a file that is neither a scenario
        nor a grid case, a scenario without a grid, an output over an input, and what the
        hosting capacity raises.
    """
    from siting.core.io import check_output_file
    from siting.grid_ops.hosting import grid_hosting

    if (workers is not None or scheduler is not None) and not n_1:
        raise InputError("--workers and --scheduler run the N-1 outages on Dask: add --n-1")
    from siting.cli.grid_stress import read_edited

    layers, _sc, edit_notes = read_edited(path, bus_coordinates, derates or {}, outages or [])
    read = [f.path for f in layers.inputs]
    for dest in (out_csv, out_csv.with_suffix(".gpkg")):  # before the work, not over inputs
        check_output_file(dest, inputs=read)
    result = grid_hosting(
        layers,
        n_1=n_1,
        slack=slack,
        dispatch=_dispatch_mode(dispatch),
        workers=workers,
        scheduler=scheduler,
    )
    result.notes = edit_notes + result.notes
    assert layers.grid is not None  # grid_hosting has raised otherwise
    if flex is not None:
        _add_flexible(result, layers.grid, _sc, slack, *flex)
    gpkg = _write(result, layers.grid, out_csv)
    return result, gpkg


def _add_flexible(
    result: HostingResult,
    grid: Grid,
    scenario: Scenario | None,
    slack: str,
    budget_hours: float,
    depth: float,
) -> None:
    """Merge the firm and flexible hosting columns into ``result.table`` and say how they
    were computed in its notes (the snapshots of ``scenario``, a
    :class:`siting.config.scenario.Scenario`, or the defaults when it is None)."""
    from siting.config.scenario import Flexibility, GridSettings
    from siting.grid_ops.hosting import snapshot_hosting

    snaps = scenario.grid.snapshots if scenario is not None else GridSettings().snapshots
    peak_h = (scenario.flexibility if scenario is not None else Flexibility()).peak_stress_hours
    spec = [
        (
            s.name,
            s.load_factor,
            s.stress_hours
            if s.stress_hours is not None
            else (s.hours if s.hours > 0 or not s.peak else peak_h),
        )
        for s in snaps
    ]
    t = snapshot_hosting(grid, spec, budget_hours=budget_hours, depth=depth, slack=slack)
    result.table = result.table.merge(t, on="bus_id", how="left")
    said = ", ".join(f"{n} (load x {lf:g}, {h:g} h)" for n, lf, h in spec)
    result.notes.append(
        f"firm and flexible hosting (N-0, proportional dispatch per snapshot) over {said}; "
        f"flexible: curtailed in at most {budget_hours:g} h a year, by at most "
        f"{depth:.0%} of the load"
    )


def _dispatch_mode(dispatch: str) -> DispatchMode:
    """``--dispatch`` as one of :data:`siting.grid_ops.hosting.DispatchMode`.

    Raises
    ------
    siting.core.errors.InputError
        Another value.
    """
    from typing import get_args

    from siting.grid_ops.hosting import DispatchMode

    for mode in get_args(DispatchMode):
        if dispatch == mode:
            return mode
    raise InputError(f"--dispatch '{dispatch}': expected auto, case, proportional or opf")


def _write(result: HostingResult, grid: Grid, csv: Path) -> Path | None:
    """The CSV, and the GeoPackage beside it when the buses have coordinates (atomic)."""
    import tempfile

    import geopandas as gpd

    from siting.core.io import write_bytes_atomic, write_text_atomic

    table = result.table
    write_text_atomic(csv, table.to_csv(index=False, float_format="%.6f"))
    if not grid.has_coordinates:
        return None
    geom = grid.buses.geometry.copy()
    geom.index = geom.index.astype(str)
    gdf = gpd.GeoDataFrame(
        table.replace([math.inf, -math.inf], float("nan")),
        geometry=geom.reindex(table["bus_id"]).to_numpy(),
        crs=grid.crs,
    )
    for c in ("limiting_branch", "limiting_branch_n1", "limiting_outage"):
        if c in gdf.columns:
            gdf[c] = gdf[c].map(lambda v: "" if v is None else str(v))
    dest = csv.with_suffix(".gpkg")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_gpkg = Path(tmp) / dest.name
        gdf.to_file(tmp_gpkg, layer=GPKG_LAYER, driver="GPKG", engine="pyogrio")
        write_bytes_atomic(dest, tmp_gpkg.read_bytes())
    return dest


def _mw(v: float) -> str:
    return "unlimited" if not math.isfinite(v) else f"{v:,.1f}"


def _print_hosting(r: HostingResult, path: Path, csv: Path, gpkg: Path | None) -> None:
    """Headline, the 10 weakest buses, notes and the files written."""
    t = r.table
    col = "hosting_n1_mw" if r.n_1 else "hosting_mw"
    finite = t[col][t[col].map(math.isfinite)]
    out.print(
        f"[bold]{escape(path.name)}[/bold]: hosting capacity of {len(t):,} buses, "
        f"{'N-1' if r.n_1 else 'N-0'}; new load served by the {escape(r.slack)}; "
        f"operating point: {escape(r.dispatch)}"
    )
    if len(finite):
        out.print(
            f"  median {finite.median():,.1f} MW, smallest {finite.min():,.1f} MW; "
            f"{int((t[col] == 0).sum())} bus(es) at 0 MW, "
            f"{int((~t[col].map(math.isfinite)).sum())} unlimited"
        )
    tab = Table(title="the 10 weakest buses", show_edge=False)
    tab.add_column("bus")
    tab.add_column("N-0 MW", justify="right")
    tab.add_column("limiting branch")
    if r.n_1:
        tab.add_column("N-1 MW", justify="right")
        tab.add_column("limiting branch")
        tab.add_column("after outage of")
    for _, row in r.weakest(10).iterrows():
        cells = [
            escape(str(row["bus_id"])),
            _mw(row["hosting_mw"]) + (" (overload)" if row["overloaded"] else ""),
            escape(str(row["limiting_branch"] or "")),
        ]
        if r.n_1:
            cells += [
                _mw(row["hosting_n1_mw"]) + (" (overload)" if row["overloaded_n1"] else ""),
                escape(str(row["limiting_branch_n1"] or "")),
                escape(str(row["limiting_outage"] or "(none: N-0 binds)")),
            ]
        tab.add_row(*cells)
    out.print(tab)
    for note in r.notes:
        out.print(f"  note: {escape(note)}")
    secs = r.timings.get("total_s", 0.0)
    err.print(f"  wrote {escape(str(csv))}" + (f" and {escape(str(gpkg))}" if gpkg else ""))
    err.print(f"  ({secs:.2f} s)")
