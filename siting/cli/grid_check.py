"""``siting grid check PLAN_DIR``: a plan's grid recomputed from its tables (see siting.cli.grid).

Runs :func:`siting.grid_ops.check.check_plan` on a folder written by ``siting plan``: the
flows and loadings per branch, year and snapshot recomputed from ``dispatch.csv`` and
``schedule.csv`` on the plan's grid (or the grid of ``--scenario``), compared with the
plan's ``flows.csv``; the effective ratings with ``upgrades.csv``; N-1 by LODF against
emergency ratings; substation headroom, island balance and generator limits.

It prints, per year, the largest loading, the overloaded branches, the worst N-1 pair
and the violations, then the worst N-1 pairs and every violation (the first
:data:`SHOWN_VIOLATIONS`); with ``--json`` :meth:`siting.grid_ops.check.GridCheck.as_dict`
on stdout (``ok``, ``years``, ``flows``, ``n_1``, ``skipped_outages``, ``violations``
...; ``inf`` and NaN are ``null``). ``--out CSV_DIR`` also writes ``check_flows.csv``
(every branch, year and snapshot), ``check_n1.csv`` (the worst pairs per year) and
``check_violations.csv`` (every violation), as one folder swapped in whole
(:func:`siting.core.io.staged_folder`): a new or empty folder, or an earlier check of the same
plan's scenario (``--force``: another siting folder); never the plan's own folder or one
holding another input.

Each violation says where it comes from (``origin``): ``caused`` by the plan, ``worsened``
by it (the campus-free baseline has it, smaller) or ``baseline`` (the grid already had it
without any campus, at least as large); the baseline is the grid re-dispatched without any
campus (a DC OPF of each year's and snapshot's load within the normal ratings, as
``grid hosting --dispatch opf``; where infeasible, the plan's dispatch with the generators
giving up the campus draw in proportion to their output, with a note), without the plan's
upgrades (:func:`siting.grid_ops.check.baseline_dispatch`). The JSON adds ``plan_ok``,
``origin_counts`` and ``baseline`` (``method``, its ``violations``, and those
``resolved_by_plan``); ``ok`` stays "no violation at all".

Exit codes: 0 no violation the plan causes or worsens (the grid's own violations, already
in the baseline, are listed but do not fail the check); 2 the plan causes or worsens a
violation (it breaks a grid limit; the same code as an infeasible ``siting plan``, and like
it the output says where, when and by how much); 1 invalid input (a plan file missing or
unreadable, input files moved away, a plan without a modelled grid: nothing to check);
3 internal error; 130 interrupted.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.markup import escape
from rich.table import Table

from siting.cli.common import EXIT_INFEASIBLE, DebugOpt, ForceOpt, JsonOpt, err, guard, out
from siting.core.cells import as_float

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import JustifyMethod

    from siting.grid_ops.check import GridCheck
    from siting.grid_ops.export import ACScreening

#: Exit code when the check finds violations (as an infeasible ``siting plan``).
EXIT_VIOLATIONS = EXIT_INFEASIBLE

#: Violations listed one by one on the terminal (``--json`` and ``--out`` give all).
SHOWN_VIOLATIONS = 20

#: Files ``--out`` writes.
OUT_FILES = ("check_flows.csv", "check_n1.csv", "check_violations.csv")

#: How each origin of a violation is printed.
_ORIGIN_TEXT = {
    "caused": "caused by the plan",
    "worsened": "worsened by the plan",
    "baseline": "the grid's own (no campus)",
}

_KIND_TEXT = {
    "n0_overload": "N-0 overload",
    "n1_overload": "N-1 overload",
    "substation_headroom": "substation headroom",
    "island_imbalance": "island imbalance",
    "generator_limit": "generator limit",
}


def check(
    plan_dir: Annotated[
        Path,
        typer.Argument(
            metavar="PLAN_DIR",
            help="A plan folder written by siting plan (manifest.json, schedule.csv, "
            "dispatch.csv, flows.csv; upgrades.csv when the plan builds upgrades).",
        ),
    ],
    scenario: Annotated[
        Path | None,
        typer.Option(
            "--scenario",
            help="Check against this scenario's grid (layers.grid, grid.derate, grid.outages) "
            "instead of the plan's own; years, snapshots and campuses stay the plan's.",
        ),
    ] = None,
    snapshots: Annotated[
        str,
        typer.Option(
            "--snapshots",
            help="N-1 at the 'peak' snapshot (default) or at 'all' snapshots.",
        ),
    ] = "peak",
    top: Annotated[
        int,
        typer.Option("--top", min=0, help="Worst N-1 pairs (branch, outage) listed per year."),
    ] = 10,
    as_planned: Annotated[
        bool,
        typer.Option(
            "--as-planned",
            help="Count as violations only the N-1 cases the plan required (grid.n_minus_1: "
            "off, from_year, listed outages, snapshots); by default every year and outage counts.",
        ),
    ] = False,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Also write check_flows.csv, check_n1.csv and check_violations.csv here.",
        ),
    ] = None,
    ac: Annotated[
        bool,
        typer.Option(
            "--ac",
            help="Also run pandapower's AC power flow on the plan's grid (last year, peak "
            "snapshot) and list voltages outside 0.95-1.05 pu and branches above 100 % "
            "loading: a screening, not part of the DC plan (it never changes the exit code).",
        ),
    ] = False,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Check a plan's grid from its own tables: flows, N-1, ratings, headroom, balance.

    Recomputes the DC flows of every year and snapshot from the plan's dispatch and
    campus draws (never from the model), with upgrades in service, N-1 by line outage
    distribution factors (radial outages skipped and listed), and lists every violation
    with its branch or bus, year, snapshot, outage, MW and limit, and whether the plan
    caused it, worsened it, or the grid already had it without any campus. Exit codes: 0 no
    violation the plan causes or worsens, 2 the plan causes or worsens one, 1 invalid input
    (missing plan files, moved inputs, a plan without a grid: nothing to check), 3
    internal error.
    """

    def run() -> tuple[GridCheck, list[Path], ACScreening | None]:
        from siting.core.errors import InputError
        from siting.core.files import require_reachable
        from siting.grid_ops.check import check_plan

        require_reachable(plan_dir, scenario)
        n1_snapshots: Literal["peak", "all"]
        if snapshots == "peak":
            n1_snapshots = "peak"
        elif snapshots == "all":
            n1_snapshots = "all"
        else:
            raise InputError(f"--snapshots '{snapshots}': expected 'peak' or 'all'")
        result = check_plan(
            plan_dir,
            scenario,
            n1_snapshots=n1_snapshots,
            top=top,
            as_planned=as_planned,
        )
        written = []
        if out_dir is not None:
            written = _write(result, out_dir, _inputs(plan_dir, scenario), force)
        screening = None
        if ac:
            from siting.grid_ops.export import ac_screening, export_case

            screening = ac_screening(export_case(plan_dir, scenario=scenario))
        return result, written, screening

    result, written, screening = guard(debug, run)
    if as_json:
        data = result.as_dict()
        data["written"] = [str(p) for p in written]
        if screening is not None:
            data["ac_screening"] = screening.as_dict()
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        _print_check(result, top)
        if screening is not None:
            _print_ac(screening)
    for p in written:
        err.print(f"  wrote {escape(str(p))}")
    if not result.plan_ok:
        raise typer.Exit(EXIT_VIOLATIONS)


def _inputs(plan_dir: Path, scenario: Path | None) -> list[Path]:
    """What the check read: the plan folder's files, the inputs its manifest names, and
    ``--scenario``."""
    files = [p for p in plan_dir.iterdir() if p.is_file()] + ([scenario] if scenario else [])
    try:
        manifest = json.loads((plan_dir / "manifest.json").read_text(encoding="utf-8"))
        files += [Path(f["path"]) for f in manifest.get("inputs", [])]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # check_plan has read it: what it could not read, it did not use
    return files


def _write(result: GridCheck, out_dir: Path, inputs: list[Path], force: bool) -> list[Path]:
    """The three CSV tables, written as one folder (staged, then swapped in whole)."""
    from siting.core.io import OutputOwner, staged_folder

    tables = (result.flows, result.n_1, result.violations)
    owner = OutputOwner("grid-check", result.scenario_name)
    with staged_folder(out_dir, owner, inputs=inputs, force=force) as stage:
        for name, df in zip(OUT_FILES, tables, strict=True):
            df.to_csv(stage / name, index=False, float_format="%.6f")
    out = out_dir.resolve()
    return [out / name for name in OUT_FILES]


def _named(v: object) -> bool:
    """A table cell that names something: not None, NaN, pandas' NA or ""."""
    if v is None or type(v).__name__ in ("NAType", "NaTType"):
        return False
    return not (isinstance(v, float) and math.isnan(v)) and str(v) != ""


def _pct(v: object) -> str:
    """A percentage (a figure or a table cell), one decimal; "" when None or not finite."""
    if v is None:
        return ""
    pct = as_float(v)
    return f"{pct:,.1f}" if math.isfinite(pct) else ""


def _mw(v: object) -> str:
    """MW (a figure or a table cell), two decimals; "unlimited" when not finite."""
    mw = as_float(v)
    return f"{mw:,.2f}" if math.isfinite(mw) else "unlimited"


def _print_check(r: GridCheck, top: int) -> None:
    """Headline, the per-year table, the worst N-1 pairs, the violations, notes, verdict."""
    _print_headline(r)
    out.print(_years_table(r))
    if len(r.n_1) and top:
        out.print(_n1_table(r, top))
    v = r.violations
    if len(v):
        out.print(_violations_table(v))
        if len(v) > SHOWN_VIOLATIONS:
            out.print(
                f"  ... and {len(v) - SHOWN_VIOLATIONS:,} more (--json lists them all; --out "
                "writes check_violations.csv)"
            )
    for note in r.notes:
        out.print(f"  note: {escape(note)}")
    if r.ok:
        out.print("[green]ok[/green]: no violation")
    else:
        counts = ", ".join(f"{n} {_KIND_TEXT[k]}" for k, n in r.violation_counts().items())
        origins = r.origin_counts()
        if origins:
            counts += "; " + ", ".join(f"{n} {_ORIGIN_TEXT[k]}" for k, n in origins.items())
        colour = "bold red" if not r.plan_ok else "yellow"
        out.print(f"[{colour}]{len(v):,} violation(s)[/{colour}]: {counts}")
        if r.plan_ok:
            out.print(
                "[green]ok for the plan[/green]: it causes and worsens none; the grid had "
                "them without any campus"
            )
    err.print(f"  ({r.timings.get('total_s', 0.0):.2f} s)")


def _print_headline(r: GridCheck) -> None:
    """The plan, grid, branches and years checked; the N-1 outages studied and skipped; the
    largest difference from the plan's flows [MW]."""
    n_branches = r.flows["branch_id"].nunique()
    years = [int(y) for y in r.years["year"]]
    out.print(
        f"[bold]{escape(r.scenario_name)}[/bold]: grid check of {escape(r.plan_dir)}\n"
        f"  grid {escape(r.grid_source)}; {n_branches:,} branches in service; years "
        f"{', '.join(map(str, years))}"
    )
    n_skip = len(r.skipped_outages)
    out.print(
        f"  N-1 at {escape(', '.join(r.n1_snapshots))}: {r.outages_studied:,} outage(s) "
        f"studied, {n_skip:,} radial skipped"
        + (
            " (" + escape(", ".join(r.skipped_outages[:10])) + (" ..." if n_skip > 10 else "") + ")"
            if n_skip
            else ""
        )
    )
    diffs = r.years["plan_flow_max_diff_mw"]
    if diffs.notna().any():
        out.print(
            f"  flows recomputed at {escape(', '.join(r.compared_snapshots))} vs the plan's "
            "flows.csv: "
            f"largest difference {float(diffs.max()):,.4f} MW"
        )


def _years_table(r: GridCheck) -> Table:
    """Per year: the largest N-0 loading [%], overloaded branches, the worst N-1 pair [%],
    N-1 and substation violations, the largest island imbalance [MW]."""
    t = Table(title="per year (N-0: every snapshot; N-1: worst pair)", show_edge=False)
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("year", "right"),
        ("max load %", "right"),
        ("branch @ snapshot", "left"),
        ("over", "right"),
        ("N-1 max %", "right"),
        ("branch | outage @ snapshot", "left"),
        ("N-1 viol.", "right"),
        ("subst.", "right"),
        ("imbal. MW", "right"),
    )
    for col, just in columns:
        t.add_column(col, justify=just)
    for row in r.years.itertuples(index=False):
        t.add_row(
            str(row.year),
            _pct(row.max_loading_pct),
            escape(f"{str(row.max_loading_branch)} @ {str(row.max_loading_snapshot)}")
            if _named(row.max_loading_branch)
            else "",
            str(row.overloaded_branches),
            _pct(row.n1_max_loading_pct),
            escape(
                f"{str(row.n1_worst_branch)} | {str(row.n1_worst_outage)} "
                f"@ {str(row.n1_worst_snapshot)}"
            )
            if _named(row.n1_worst_branch)
            else "",
            str(row.n1_violations),
            str(row.substation_violations),
            f"{row.max_imbalance_mw:,.3f}",
        )
    return t


def _n1_table(r: GridCheck, top: int) -> Table:
    """The worst N-1 pairs (up to ``top`` per year): flows before and after [MW], the
    emergency rating [MW] and the loading [%]."""
    t = Table(title=f"worst N-1 pairs (up to {top} per year)", show_edge=False)
    for col in (
        "year",
        "snapshot",
        "branch",
        "outage of",
        "flow before MW",
        "flow after MW",
        "emergency MW",
        "loading %",
    ):
        t.add_column(col, justify="right" if ("MW" in col or "%" in col) else "left")
    for row in r.n_1.itertuples(index=False):
        t.add_row(
            str(row.year),
            escape(str(row.snapshot)),
            escape(str(row.branch_id)),
            escape(str(row.outage_id)),
            f"{row.pre_flow_mw:,.2f}",
            f"{row.post_flow_mw:,.2f}",
            _mw(row.rating_emergency_mw),
            _pct(row.loading_pct),
        )
    return t


def _violations_table(v: pd.DataFrame) -> Table:
    """The first :data:`SHOWN_VIOLATIONS` violations: kind, where, when, the value, the
    limit and the excess [MW]."""
    t = Table(title=f"violations ({len(v):,})", show_edge=False)
    for col in (
        "kind",
        "where",
        "year",
        "snapshot",
        "outage of",
        "MW",
        "limit MW",
        "excess MW",
    ):
        t.add_column(col, justify="right" if "MW" in col else "left")
    has_origin = "origin" in v.columns
    if has_origin:
        t.add_column("origin (baseline excess MW)")
    # the plan's own first: caused, worsened, then the grid's own
    if has_origin:
        rank = {k: i for i, k in enumerate(("caused", "worsened", "baseline"))}
        v = v.assign(_o=v["origin"].map(rank)).sort_values("_o", kind="stable")
    for row in v.head(SHOWN_VIOLATIONS).itertuples(index=False):
        extra = []
        if has_origin:
            be = as_float(row.baseline_excess_mw)
            extra = [
                str(row.origin) + (f" ({be:,.2f})" if math.isfinite(be) else ""),
            ]
        t.add_row(
            _KIND_TEXT.get(str(row.kind), str(row.kind)),
            escape(f"{row.asset} {row.id}"),
            str(row.year),
            escape(str(row.snapshot)),
            escape(str(row.outage_id)),
            f"{row.value_mw:,.2f}",
            _mw(row.limit_mw),
            f"{row.excess_mw:,.2f}",
            *extra,
        )
    return t


def _print_ac(s: ACScreening) -> None:
    """The AC screening, labelled as not part of the DC plan."""
    out.print(
        f"\n[bold]AC screening[/bold] (pandapower runpp, {s.year}, snapshot "
        f"'{escape(s.snapshot)}'): [italic]not part of the DC plan[/italic]"
    )
    if not s.converged:
        out.print("  the AC power flow did not converge: no voltages or loadings to report")
    else:
        out.print(
            f"  {len(s.voltages)} bus voltage(s) outside 0.95-1.05 pu, {len(s.loadings)} "
            f"branch(es) above 100 % loading; losses {s.losses_mw:,.1f} MW"
        )
        for r in s.voltages.head(SHOWN_VIOLATIONS).itertuples():
            out.print(f"  bus {escape(str(r.bus_id))}: {as_float(r.vm_pu):.3f} pu")
        for r in s.loadings.head(SHOWN_VIOLATIONS).itertuples():
            out.print(f"  branch {escape(str(r.branch_id))}: {as_float(r.loading_pct):.1f} %")
    for note in s.notes:
        out.print(f"  [dim]{escape(note)}[/dim]")
