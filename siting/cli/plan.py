"""``siting validate``, ``schema``, ``fields``, ``plan`` and ``candidates``: the planner's
commands, and how a plan is printed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from siting.cli.common import (
    CASE_SUFFIXES,
    SCENARIO_SUFFIXES,
    DebugOpt,
    ForceOpt,
    JsonOpt,
    MipGapOpt,
    QuietOpt,
    TilesOpt,
    TimeLimitOpt,
    err,
    guard,
    out,
)
from siting.core.errors import InputError

if TYPE_CHECKING:
    from siting.candidates.generate import Candidates
    from siting.config.scenario import Scenario
    from siting.results.plan import Plan


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
        from siting.config.scenario import load_scenario
        from siting.inputs import load_grid_case, load_layers
        from siting.inputs.summary import summarise

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

    summary = guard(debug, run)
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, default=str) + "\n")
    else:
        _print_summary(summary)


def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Write the JSON Schema of scenario files (for editors)."""

    def run() -> None:
        from siting.config.scenario import json_schema
        from siting.core.io import write_text_atomic

        text = json.dumps(json_schema(), indent=2) + "\n"
        if output is None:
            sys.stdout.write(text)
        else:
            write_text_atomic(output, text)
            err.print(f"wrote {output}")

    guard(debug, run)


def fields(
    layer: Annotated[
        str | None,
        typer.Argument(help="One layer kind (buses, branches ...) or attached table."),
    ] = None,
) -> None:
    """Print the fields each layer kind (and each table attached to a grid: branch_upgrades,
    substations, emergency_ratings, load_growth) holds, with types and units (Markdown)."""
    from siting.inputs.fields import LAYERS, TABLES, markdown_all, markdown_table

    if layer is None:
        sys.stdout.write(markdown_all() + "\n")
        return
    kinds = {**LAYERS, **TABLES}
    if layer not in kinds:
        err.print(f"no layer kind '{escape(layer)}'; expected one of: {', '.join(kinds)}")
        raise typer.Exit(2)
    sys.stdout.write(markdown_table(kinds[layer]) + "\n")


def plan(
    scenario: Annotated[Path, typer.Argument(help="The scenario file (.yaml).")],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default: maps/<scenario name>/)."),
    ] = None,
    time_limit: TimeLimitOpt = None,
    mip_gap: MipGapOpt = None,
    solver: Annotated[
        str | None, typer.Option("--solver", help="MIP solver: highs (default) or a Pyomo name.")
    ] = None,
    write_lp: Annotated[
        Path | None,
        typer.Option(
            "--write-lp",
            help="Also write the MILP as an LP file (not over a file siting did not write, "
            "unless --force; never over an input).",
        ),
    ] = None,
    force: ForceOpt = False,
    tiles: TilesOpt = True,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Plan the scenario: sites, MW per year, cooling, water, buses, cost; verified and written.

    While it runs, stderr names each stage as it ends and, at least every 10 s, what the
    solve is doing: the round, the best plan so far, the bound, the gap, the time spent and
    the time left (on a terminal, one live line; in a log, a line every 10 s).
    """
    from siting.cli.progress import StagePrinter, progress_console, ticker
    from siting.core.clock import Clock

    clock = Clock()
    with progress_console(err) as pc:
        show = StagePrinter(pc, quiet)

        def run() -> Plan:
            from siting.pipeline import plan as run_plan

            with show, ticker(clock, show, quiet):
                p = run_plan(
                    scenario,
                    out=out_dir,
                    time_limit_s=time_limit,
                    mip_gap=mip_gap,
                    solver=solver,
                    write_lp=write_lp,
                    progress=show.stage,
                    clock=clock,
                    force=force,
                    tiles=tiles,
                )
                show.stage("finished")
            return p

        p = guard(debug, run)
    if as_json:
        sys.stdout.write(json.dumps(_plan_json(p), indent=2, default=str) + "\n")
    else:
        _print_plan(p)
    if p.solve.status != "optimal":  # on stderr, so that --json stays machine-readable
        err.print(
            f"[bold yellow]warning[/bold yellow]: the plan is "
            f"{escape(p.manifest.get('optimality', 'not proven optimal'))}"
        )


def candidates(
    scenario: Annotated[Path, typer.Argument(help="The scenario file (.yaml).")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="GeoPackage to write (default: maps/<name>/candidates.gpkg)."
        ),
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Make and screen the candidate sites alone; write them (with why each was screened out)."""

    def run() -> tuple[Scenario, Candidates, Path]:
        import tempfile

        from siting.candidates.generate import build_candidates
        from siting.config.scenario import load_scenario
        from siting.core.io import check_output_file, write_bytes_atomic
        from siting.inputs import load_layers
        from siting.results.plan import gpkg_ready

        sc = load_scenario(scenario)
        layers = load_layers(sc)
        dest = output or Path("maps") / sc.name / "candidates.gpkg"
        check_output_file(dest, inputs=[f.path for f in layers.inputs])
        cands = build_candidates(sc, layers)
        with tempfile.TemporaryDirectory() as tmp:
            tmp_gpkg = Path(tmp) / "candidates.gpkg"
            gpkg_ready(cands.all).to_file(tmp_gpkg, layer="candidates", driver="GPKG")
            write_bytes_atomic(dest, tmp_gpkg.read_bytes())
        return sc, cands, dest

    sc, cands, dest = guard(debug, run)
    t = Table(title=f"candidates of {escape(sc.name)}", show_edge=False)
    t.add_column("screening rule")
    t.add_column("removed", justify="right")
    for rule, n in cands.rules:
        t.add_row(escape(rule), f"{n:,}")
    out.print(t)
    out.print(f"  made {len(cands.all):,}, kept {len(cands.sites):,}")
    out.print(f"  wrote {escape(str(dest))}")


def _plan_json(p: Plan) -> dict[str, Any]:
    """The machine-readable result of ``siting plan --json``."""
    m = dict(p.manifest)
    m.pop("scenario_as_run", None)
    m["sites"] = (
        p.sites.drop(columns=p.sites.geometry.name).reset_index().to_dict(orient="records")
        if len(p.sites)
        else []
    )
    return m


def _print_plan(p) -> None:
    m = p.manifest
    r = p.solve
    gap = f"{r.gap:.3%}" if r.gap is not None else "n/a"
    out.print(
        f"[bold]{escape(p.name)}[/bold]: {r.status} plan, net present cost "
        f"{p.total_cost_usd / 1e9:,.3f} bn USD (gap {gap}, {r.time_s:.1f} s in {r.solver})"
    )
    t = Table(title="sites", show_edge=False)
    for c in ("site", "first year", "IT MW (last year)", "cooling", "bus", "water m3/day"):
        t.add_column(c, justify="right" if "MW" in c or "water" in c or "year" in c else "left")
    for sid, row in p.sites.sort_values("first_year").iterrows():
        t.add_row(
            escape(str(sid)),
            str(int(row["first_year"])),
            f"{row['it_mw_final']:,.0f}",
            escape(str(row["cooling"])),
            escape(str(row["bus_id"])),
            f"{row['water_m3_per_day_final']:,.0f}",
        )
    out.print(t)
    by_year = p.it_mw_by_year()
    targets = m["scenario_as_run"]["targets"]["it_mw_by_year"]
    out.print(
        "  IT MW by year: "
        + ", ".join(
            f"{y}: {v:,.0f}"
            + (f" (target {float(targets[str(y)]):,.0f})" if str(y) in targets else "")
            for y, v in by_year.items()
        )
    )
    for r in (m.get("compute") or {}).get("years") or []:
        gens = " + ".join(f"{g} {n:,.0f}" for g, n in r["accelerators"].items()) or "none"
        out.print(
            f"  {r['year']}: {r['it_used_mw']:,.0f} of {r['it_mw']:,.0f} MW IT in use, "
            f"accelerators {escape(gens)}, {r['compute_units']:,.0f} compute units (H100 = 1)"
        )
    costs = ", ".join(f"{k} {v / 1e9:,.2f}" for k, v in p.costs_usd.items() if abs(v) > 0.5e6)
    out.print(f"  cost parts (bn USD, present value): {costs}")
    ok = sum(c.ok for c in p.checks)
    out.print(f"  verification: {ok} of {len(p.checks)} checks hold")
    if "output_dir" in m:
        out.print(f"  wrote {escape(m['output_dir'])}")


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
    if g is None:
        out.print("  grid: none (no network constraints)")
    else:
        _print_grid(g)
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


def _print_grid(g: dict[str, Any]) -> None:
    """The grid table of ``siting validate`` (``g``: the summary's ``grid``)."""
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
    if "upgrade_options" in g:
        u = g["upgrade_options"]
        t.add_row(
            "upgrade options", f"{u['branches']:,} branches, {u['substations']:,} substations"
        )
    for key, a in (g.get("attachments") or {}).items():
        t.add_row(escape(key), escape(_attachment_words(a)))
    out.print(t)


def _attachment_words(a: dict[str, Any]) -> str:
    """One line on a table attached to the grid (``siting validate``)."""
    if "factors" in a:
        return "x " + ", ".join(f"{f:g} in {y}" for y, f in a["factors"].items())
    words = f"{a['rows']:,} row{'s' if a['rows'] != 1 else ''} from {a['path']}"
    if "options" in a:
        words += f" ({a['options']:,} upgrade option{'s' if a['options'] != 1 else ''})"
    if "years" in a:
        loads = a["load_mw_by_year"]
        words += f" (by {a['by']}; " + ", ".join(f"{y}: {v:,.0f} MW" for y, v in loads.items())
        words += ")"
    return words


def _num(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"
