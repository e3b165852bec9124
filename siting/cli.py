"""The ``siting`` command line.

Short, clear errors by default; the traceback only with ``--debug`` (after
Calliope's CLI). Exit codes: 0 success, 1 invalid input (the report says what
and where), 2 usage error, 3 an internal error (a bug: please report it),
130 interrupted.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from siting import __version__
from siting.errors import InputError, SitingError

app = typer.Typer(
    name="siting",
    help="Plan where and when to build AI campuses, from grid, water, cooling and land layers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# not a terminal (pipes, CI logs): 100 columns rather than rich's 80, so tables stay whole
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 100)
err = Console(stderr=True, highlight=False, soft_wrap=True)

T = TypeVar("T")

DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable result on stdout.")]

SCENARIO_SUFFIXES = {".yaml", ".yml"}
CASE_SUFFIXES = {".m", ".json", ".gpkg", ".geojson"}

EXIT_INVALID = 1
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130


def _guard(debug: bool, fn: Callable[[], T]) -> T:
    """Run ``fn``; turn known errors into a clear message and an exit code."""
    try:
        return fn()
    except InputError as e:
        if debug:
            traceback.print_exc()
        err.print(escape(str(e)), markup=True)
        raise typer.Exit(EXIT_INVALID) from None
    except SitingError as e:
        if debug:
            traceback.print_exc()
        err.print(f"error: {escape(str(e))}")
        raise typer.Exit(EXIT_INVALID) from None
    except KeyboardInterrupt:
        err.print("interrupted; nothing was written")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as e:  # a bug: say so plainly
        if debug:
            traceback.print_exc()
        else:
            err.print(
                f"internal error: {type(e).__name__}: {escape(str(e))}\n"
                "This is a bug in siting; run again with --debug for the traceback and report it."
            )
        raise typer.Exit(EXIT_INTERNAL) from None


def _version_callback(value: bool) -> None:
    if value:
        out.print(f"siting {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Plan where and when to build AI campuses."""


@app.command()
def validate(
    path: Annotated[
        Path, typer.Argument(help="A scenario (.yaml) or a grid case (.m, .json, .gpkg).")
    ],
    bus_coordinates: Annotated[
        Path | None,
        typer.Option(help="For a bare MATPOWER case: CSV of bus coordinates (bus_id, lon, lat)."),
    ] = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Load and check every input; print a summary (exit 0) or every problem (exit 1)."""

    def run() -> dict[str, Any]:
        from siting.layers import load_grid_case, load_layers
        from siting.scenario import load_scenario
        from siting.summary import summarise

        suffix = path.suffix.lower()
        if suffix in SCENARIO_SUFFIXES:
            scenario = load_scenario(path)
            return summarise(load_layers(scenario), scenario)
        if suffix in CASE_SUFFIXES:
            return summarise(load_grid_case(path, bus_coordinates))
        raise InputError(
            f"{path}: don't know how to read a '{suffix or '(no suffix)'}' file; expected a "
            "scenario (.yaml, .yml) or a grid case (.m MATPOWER, .json pandapower, .gpkg layers)"
        )

    summary = _guard(debug, run)
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, default=str) + "\n")
    else:
        _print_summary(summary)


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Write the JSON Schema of scenario files (for editors)."""

    def run() -> None:
        from siting.io import write_text_atomic
        from siting.scenario import json_schema

        text = json.dumps(json_schema(), indent=2) + "\n"
        if output is None:
            sys.stdout.write(text)
        else:
            write_text_atomic(output, text)
            err.print(f"wrote {output}")

    _guard(debug, run)


@app.command()
def fields(
    layer: Annotated[
        str | None, typer.Argument(help="One layer kind (buses, branches ...).")
    ] = None,
) -> None:
    """Print the fields each layer kind holds, with types and units (Markdown)."""
    from siting.layers.fields import LAYERS, markdown_all, markdown_table

    if layer is None:
        sys.stdout.write(markdown_all() + "\n")
        return
    if layer not in LAYERS:
        err.print(f"no layer kind '{escape(layer)}'; expected one of: {', '.join(LAYERS)}")
        raise typer.Exit(2)
    sys.stdout.write(markdown_table(LAYERS[layer]) + "\n")


def _print_summary(s: dict[str, Any]) -> None:
    sc = s.get("scenario")
    if sc:
        out.print(f"[bold]{escape(sc['name'])}[/bold]  {escape(sc.get('title') or '')}")
        out.print(f"  scenario: {escape(str(sc['file']))}")
        out.print(f"  years: {', '.join(str(y) for y in sc['years'])}")
    out.print(
        f"  CRS: {escape(s['crs'])}" if s["crs"] else "  CRS: none (the case has no coordinates)"
    )
    ext = s.get("extent")
    if ext:
        w, so, e, n = ext["bounds_lonlat"]
        out.print(
            f"  extent: {ext['width_km']:,} km x {ext['height_km']:,} km, "
            f"{ext['area_km2']:,} km2 (lon {w:.2f} to {e:.2f}, lat {so:.2f} to {n:.2f})"
        )
    g = s["grid"]
    t = Table(title="grid", show_header=False, box=None, padding=(0, 2))
    t.add_row("source", escape(f"{g['source']} ({g['format']})"))
    t.add_row(
        "buses",
        f"{g['buses']:,}"
        + (
            "  (" + ", ".join(f"{n} at {k} kV" for k, n in g["buses_by_voltage_kv"].items()) + ")"
            if g["buses_by_voltage_kv"]
            else ""
        ),
    )
    t.add_row(
        "branches",
        f"{g['branches']:,} ({g['branches_in_service']:,} in service)"
        + (f", {g['branch_length_km']:,} km" if g.get("branch_length_km") else ""),
    )
    t.add_row("generators", f"{g['generators']:,} ({g['generators_in_service']:,} in service)")
    t.add_row("generation", f"{g['generation_mw']:,} MW")
    if "generation_mw_by_fuel" in g:
        t.add_row(
            "  by fuel",
            ", ".join(f"{escape(k)} {v:,.0f}" for k, v in g["generation_mw_by_fuel"].items()),
        )
    t.add_row("load", f"{g['load_mw']:,} MW (base year, with shunts)")
    if "load_mw_by_year" in g:
        t.add_row("  by year", ", ".join(f"{y}: {v:,.0f}" for y, v in g["load_mw_by_year"].items()))
    t.add_row("reference bus", ", ".join(g["reference_buses"]) or "(none)")
    out.print(t)
    if "water" in s:
        wt = s["water"]
        t = Table(title="water", show_header=False, box=None, padding=(0, 2))
        t.add_row(
            "sources", ", ".join(f"{n} {escape(k)}" for k, n in wt["sources_by_kind"].items())
        )
        t.add_row(
            "capacity",
            ", ".join(
                f"{escape(k)} {v:,.0f} m3/day" for k, v in wt["capacity_m3_per_day_by_kind"].items()
            ),
        )
        t.add_row("reclaimed", f"{wt['reclaimed_m3_per_day']:,.0f} m3/day")
        out.print(t)
    if "land" in s:
        ld = s["land"]
        t = Table(title="land", show_header=False, box=None, padding=(0, 2))
        if "exclusions" in ld:
            t.add_row(
                "exclusions",
                f"{ld['exclusions']} polygon{'s' if ld['exclusions'] != 1 else ''} ("
                + ", ".join(f"{n} {escape(k)}" for k, n in ld["exclusions_by_kind"].items())
                + ")",
            )
        if "excluded_share" in ld:
            line = f"{ld['excluded_share']:.1%} of the region"
            parts = [f"polygons {ld['excluded_share_polygons']:.1%}"]
            if "excluded_share_classes" in ld:
                parts.append(
                    f"land classes {ld['exclude_classes']} {ld['excluded_share_classes']:.1%}"
                )
            t.add_row("excluded land", line + " (" + ", ".join(parts) + ")")
        for k in ("zones", "regions", "places"):
            if k in ld:
                t.add_row(k, str(ld[k]))
        out.print(t)
    if s["rasters"]:
        t = Table(title="rasters", box=None, padding=(0, 2))
        for col in ("layer", "size", "CRS", "valid", "min", "mean", "max"):
            t.add_column(col, no_wrap=True)
        for r in s["rasters"]:
            t.add_row(
                escape(r["name"]),
                f"{r['size_px'][0]}x{r['size_px'][1]}",
                escape(r["crs"]),
                f"{r['valid_share']:.0%}",
                _num(r["min"]),
                _num(r["mean"]),
                _num(r["max"]),
            )
        out.print(t)
    for note in s["notes"]:
        out.print(f"  note: {escape(note)}")
    n = len(s["inputs"])
    out.print(f"  {n} input file{'s' if n != 1 else ''} hashed (SHA-256); --json lists them")
    out.print("[green]valid[/green]")


def _num(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def main() -> None:
    """Entry point of the ``siting`` console script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
