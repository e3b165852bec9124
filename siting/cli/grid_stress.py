"""``siting grid stress``: what a derated or lost branch changes (see siting.cli.grid).

``siting grid stress SCENARIO --derate BRANCH=FACTOR --outage BRANCH [--check]`` merges the
derates (factor > 0 on the normal and emergency ratings; multiplied with any the scenario
already has) and outages into the scenario's ``grid.derate`` / ``grid.outages`` and runs
:func:`siting.grid_ops.stress.stress`:

- re-plan (default): first re-checks the base plan under the stress (as ``--check``: does
  it still run, at what added cost), then plans the stressed scenario; when the base plan
  still runs and the re-plan beats it by no more than the MIP gap's worth of objective
  (``max(objective - bound, mip_gap x |objective|)`` of the re-plan), the base plan's
  decisions are kept and said so (``decision.verdict`` ``keep_unchanged``; the re-plan's
  site changes only in ``replan_within_gap``), else the re-plan is compared with the base
  plan (the
  scenario as it is: ``--base PLAN_DIR``, a folder written by ``siting plan``, or else planned
  here): sites added and dropped, IT MW per site and year, first years, cooling, IT MW per
  year against the targets, cost parts (present value, USD), the branches whose peak loading
  changed most, grid upgrades added or dropped; or, when the stressed scenario has no plan,
  what cannot be met;
- ``--check``: keeps the base plan's sites, MW per year and cooling, re-solves only the
  operation under the stressed grid (:func:`siting.pipeline.replay`) and says whether the
  plan still works, or which limits it breaks and by how much.

It prints rich tables, or with ``--json`` :meth:`siting.grid_ops.stress.StressResult.as_dict` on
stdout (``mode, edits, feasible, explanation, violations, overloads, site_changes,
moved_sites, it_mw_by_year {base, stressed, target}, cost_usd {base, stressed, delta,
parts}, branches, upgrades, decision {verdict, text, unchanged {feasible, objective_usd,
delta_usd, explanation}, replan {objective_usd, bound_usd, gap_usd,
beats_unchanged_by_usd}}, replan_within_gap, replan_not_adopted, notes``). ``--out DIR``
writes, as one folder swapped in whole: the stressed plan (re-plan mode, when there is one
and it is adopted; as ``siting plan`` writes it), the base plan in ``DIR/base/`` when it was
planned here, and ``stress.json`` (the JSON above). A re-plan not adopted (the base plan's
decisions kept) leaves no plan folder: its figures are in ``replan_not_adopted``.

Exit codes (as ``siting plan``, see siting.cli): **0 when the report is produced, whatever it
finds**: a stressed scenario without a plan, or a base plan that breaks limits under the
stress, is the answer to the question (``feasible: false``), not a failure of the command;
1 bad input (an unknown branch ID, named under ``grid.derate`` / ``grid.outages``; a bad
scenario; a ``--base`` folder that is not a plan) or no answer within the time limit;
2 a usage error (``--derate`` not ``BRANCH=FACTOR`` with a number > 0, no edit given) or a
base scenario that itself has no plan (nothing to stress); 3 internal error; 130 interrupted.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
    TilesOpt,
    err,
    guard,
    out,
)
from siting.core.cells import as_float, as_int
from siting.core.errors import InputError

if TYPE_CHECKING:
    from siting.config.scenario import Scenario
    from siting.grid_ops.stress import Mode, StressResult
    from siting.inputs import Layers

#: Branches printed (largest change in peak loading first).
BRANCHES_SHOWN = 10


def parse_derates(values: list[str] | None) -> dict[str, float]:
    """``["L1=0.8", ...]`` -> ``{"L1": 0.8}``.

    Raises
    ------
    typer.BadParameter
        Naming ``--derate``: not ``BRANCH=FACTOR``, a factor that is not a number > 0 (at most
        10, the scenario schema's bound), or a branch given twice.
    """
    from siting.grid_ops.stress import MAX_FACTOR

    derates: dict[str, float] = {}
    for raw in values or []:
        bid, sep, text = raw.rpartition("=")
        bid, text = bid.strip(), text.strip()
        if not sep or not bid or not text:
            raise typer.BadParameter(
                f"'{raw}': expected BRANCH=FACTOR, e.g. --derate L1=0.8 (80 % of L1's ratings)",
                param_hint="'--derate'",
            )
        try:
            factor = float(text)
        except ValueError:
            factor = math.nan
        if not math.isfinite(factor) or not 0 < factor <= MAX_FACTOR:
            raise typer.BadParameter(
                f"'{raw}': the factor must be a number > 0 and <= {MAX_FACTOR:g} "
                f"(0.8 = 80 % of the ratings), got '{text}'",
                param_hint="'--derate'",
            )
        if bid in derates:
            raise typer.BadParameter(
                f"branch '{bid}' is given twice; give one factor per branch",
                param_hint="'--derate'",
            )
        derates[bid] = factor
    return derates


def parse_outages(values: list[str] | None) -> list[str]:
    """``["L1", " L2", "L1"]`` -> ``["L1", "L2"]`` (stripped, each once).

    Raises
    ------
    typer.BadParameter
        Naming ``--outage``: an empty branch ID.
    """
    outages = list(dict.fromkeys(o.strip() for o in values or []))
    if any(not o for o in outages):
        raise typer.BadParameter("expected a branch ID, got ''", param_hint="'--outage'")
    return outages


#: ``--derate`` of ``siting grid dispatch`` and ``siting grid hosting``.
DerateOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--derate",
        metavar="BRANCH=FACTOR",
        help="Multiply the branch's normal and emergency ratings by FACTOR (> 0; 0.8 = 80 %), "
        "as in `siting grid stress`; repeatable. On a scenario it multiplies grid.derate; on "
        "a bare case, the case's ratings.",
    ),
]
#: ``--outage`` of ``siting grid dispatch`` and ``siting grid hosting``.
OutageOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--outage",
        metavar="BRANCH",
        help="Take the branch out of service, as in `siting grid stress`; repeatable.",
    ),
]


def read_edited(
    path: Path,
    bus_coordinates: Path | None,
    derates: dict[str, float],
    outages: list[str],
) -> tuple[Layers, Scenario | None, list[str]]:
    """The layers of a scenario or a bare grid case, with ``--derate`` / ``--outage`` applied.

    On a scenario the edits are merged into ``grid.derate`` / ``grid.outages``
    (:func:`siting.grid_ops.stress.stressed_scenario`: factors multiply) before the layers
    load; on a bare case :func:`siting.grid_ops.edits.edit_grid` applies them to its grid.

    Parameters
    ----------
    path
        A scenario (.yaml, .yml) or a grid case (.m, .json, .gpkg).
    bus_coordinates
        For a bare MATPOWER case: CSV of bus coordinates.
    derates, outages
        Factor per branch ID [-] and branch IDs out of service.

    Returns
    -------
    (Layers, Scenario | None, list[str])
        The layers, the (edited) scenario (None for a bare case) and one note per edit.

    Raises
    ------
    siting.core.errors.InputError
        A file of another kind, a scenario without a grid layer, an unknown branch ID.
    """
    from siting.config.scenario import load_scenario
    from siting.grid_ops.edits import edit_grid
    from siting.grid_ops.stress import stressed_scenario
    from siting.inputs import load_grid_case, load_layers

    suffix = path.suffix.lower()
    if suffix in SCENARIO_SUFFIXES:
        sc = load_scenario(path)
        if derates or outages:
            sc = stressed_scenario(sc, derates, outages)
        layers = load_layers(sc)
        if layers.grid is None:
            raise InputError(f"{path}: the scenario has no grid layer")
        notes = [
            f"branch {b} derated by {f:g} (--derate, times grid.derate)" for b, f in derates.items()
        ]
        notes += [f"branch {b} out of service (--outage)" for b in outages]
        return layers, sc, notes
    if suffix in CASE_SUFFIXES:
        layers = load_grid_case(path, bus_coordinates)
        notes = []
        if layers.grid is not None and (derates or outages):
            notes = edit_grid(layers.grid, derates, outages, source=str(path))
        return layers, None, notes
    raise InputError(
        f"{path}: don't know how to read a '{suffix or '(no suffix)'}' file; expected a "
        "scenario (.yaml, .yml) or a grid case (.m MATPOWER, .json pandapower, .gpkg layers)"
    )


def stress_command(
    scenario: Annotated[Path, typer.Argument(help="The scenario file (.yaml).")],
    derate: Annotated[
        list[str] | None,
        typer.Option(
            "--derate",
            metavar="BRANCH=FACTOR",
            help="Multiply the branch's normal and emergency ratings by FACTOR (> 0; 0.8 = "
            "80 %); repeatable. Multiplies any derate the scenario already has.",
        ),
    ] = None,
    outage: Annotated[
        list[str] | None,
        typer.Option(
            "--outage",
            metavar="BRANCH",
            help="Take the branch out of service for the whole plan; repeatable.",
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Keep the base plan's sites, MW and cooling; only re-dispatch under the "
            "stressed grid and say which limits it breaks (default: re-plan).",
        ),
    ] = False,
    base: Annotated[
        Path | None,
        typer.Option(
            "--base",
            metavar="PLAN_DIR",
            help="The base plan: a folder written by `siting plan` (default: plan the "
            "scenario as it is, here).",
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the stressed plan, the base plan (in base/, when planned here) and "
            "stress.json into this folder (default: write nothing).",
        ),
    ] = None,
    time_limit: Annotated[
        float | None,
        typer.Option(
            "--time-limit",
            help="Wall-clock limit of each plan it makes (the base and the stressed one, or "
            "the replay with --check), in seconds: each plan's whole run up to the plan "
            "(default: the scenario's solver.time_limit_s).",
            min=0.001,
        ),
    ] = None,
    mip_gap: MipGapOpt = None,
    force: ForceOpt = False,
    tiles: TilesOpt = True,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """What if branches are derated or out: re-plan (or --check the plan) and show what moves.

    Exit 0 when the report is produced, also when the stressed scenario has no plan or the
    base plan breaks limits (the report says so: "feasible": false); 1 bad input (an
    unknown branch ID, a bad scenario or --base folder) or no answer in time; 2 a usage
    error (bad --derate) or a base scenario with no plan; 3 internal error.
    """
    derates, outages = _edits_from_options(derate, outage)
    mode: Mode = "check" if check else "replan"
    progress = _Progress()
    result = guard(
        debug,
        lambda: _run_stress(
            scenario,
            base=base,
            out_dir=out_dir,
            force=force,
            derates=derates,
            outages=outages,
            mode=mode,
            time_limit=time_limit,
            mip_gap=mip_gap,
            progress=progress,
            tiles=tiles,
        ),
    )
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict(), indent=2) + "\n")
    else:
        _print_stress(result)
    if result.output_dir is not None:
        err.print(f"  wrote {escape(str(result.output_dir))}")


def _edits_from_options(
    derate: list[str] | None, outage: list[str] | None
) -> tuple[dict[str, float], list[str]]:
    """``--derate`` and ``--outage`` as the branch edits: factors by branch, outages once.

    Raises
    ------
    typer.BadParameter
        A bad ``--derate`` (see :func:`parse_derates`), an empty ``--outage``, or no edit.
    """
    derates = parse_derates(derate)
    outages = parse_outages(outage)
    if not derates and not outages:
        raise typer.BadParameter(
            "nothing to stress: give at least one --derate BRANCH=FACTOR or --outage BRANCH",
            param_hint="'--derate' / '--outage'",
        )
    return derates, outages


class _Progress:
    """Says on stderr, as each stage of the stress ends, how long it took [s]."""

    def __init__(self) -> None:
        self.name: str | None = None
        self.t = time.perf_counter()

    def __call__(self, stage: str | None) -> None:
        """The stage ``stage`` starts (None: the last one ended)."""
        now = time.perf_counter()
        if self.name is not None:
            err.print(f"  [green]done[/green] {self.name} ({now - self.t:.1f} s)")
        self.name, self.t = stage, now


def _run_stress(
    scenario: Path,
    *,
    base: Path | None,
    out_dir: Path | None,
    force: bool,
    derates: dict[str, float],
    outages: list[str],
    mode: Mode,
    time_limit: float | None,
    mip_gap: float | None,
    progress: _Progress,
    tiles: bool = True,
) -> StressResult:
    """Check the paths, run :func:`siting.grid_ops.stress.stress` and write ``--out``.

    Parameters
    ----------
    scenario
        The scenario file.
    base, out_dir, force
        ``--base``, ``--out`` and ``--force``.
    derates, outages
        The branch edits (factors [-], branch IDs).
    mode
        ``replan`` or ``check``.
    time_limit, mip_gap
        ``--time-limit`` [s] and ``--mip-gap`` [fraction].
    progress
        Told each stage as it starts.
    tiles
        ``--tiles/--no-tiles``: offer web tiles on the written plans' maps.

    Raises
    ------
    siting.core.errors.InputError
        A path that cannot be reached, a file that is not a scenario, an output folder that
        is not this command's to replace, and what the stress raises.
    """
    from siting.config.scenario import load_scenario
    from siting.core.files import require_reachable
    from siting.core.io import OutputOwner, check_output_folder
    from siting.grid_ops.stress import stress
    from siting.inputs import input_files

    require_reachable(scenario, base)
    if scenario.suffix.lower() not in SCENARIO_SUFFIXES:
        raise InputError(
            f"{scenario}: expected a scenario file (.yaml, .yml), got "
            f"'{scenario.suffix or '(no suffix)'}'"
        )
    sc = load_scenario(scenario)
    if out_dir is not None:  # before the long solves, and again when writing
        inputs = input_files(sc) + ([base] if base is not None else [])
        owner = OutputOwner("stress", sc.name)
        check_output_folder(out_dir, owner, inputs=inputs, force=force)
    result = stress(
        sc,
        derate=derates,
        outages=outages,
        mode=mode,
        base=base,
        time_limit_s=time_limit,
        mip_gap=mip_gap,
        progress=progress,
    )
    progress(None)
    if out_dir is not None:
        result.write(out_dir, force=force, tiles=tiles)
    return result


# --------------------------------------------------------------------------- printing


# The printers below take a figure or a table cell (any value: pandas types a cell so); a
# cell of a number column holds a number, None or NaN.


def _blank(v: object) -> bool:
    """None, NaN or pandas' NA: printed as ``-`` (or "not built" for a site's side)."""
    if v is None or type(v).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(v, float) and math.isnan(v)


#: A site's side of a change where that plan does not build it.
NOT_BUILT = "not built"


def _taken_year(v: object) -> str:
    """An upgrade's year on one side of a change; "not taken" where that plan has none."""
    return "not taken" if _blank(v) else _year(v)


def _site_year(v: object) -> str:
    """A site's first year on one side of a change; "not built" where that plan has none."""
    return NOT_BUILT if _blank(v) else _year(v)


def _site_text(v: object) -> str:
    """A site's figure or text on one side of a change; "not built" where that plan has
    none (a blank cell, never "nan")."""
    return NOT_BUILT if _blank(v) else escape(str(v))


def _mw(v: object) -> str:
    """MW, whole."""
    return "-" if _blank(v) else f"{as_float(v):,.0f}"


def _pct(v: object) -> str:
    """A percentage, one decimal."""
    return "-" if _blank(v) else f"{as_float(v):,.1f}"


def _bn(v: object) -> str:
    """USD in bn USD."""
    return "-" if _blank(v) else f"{as_float(v) / 1e9:,.3f}"


def _signed_m(v: object) -> str:
    """A change in USD, in M USD, signed; below 0.05 M USD it is 0."""
    if _blank(v):
        return "-"
    usd = as_float(v)
    return "0.0" if abs(usd) < 0.05e6 else f"{usd / 1e6:+,.1f}"


def _year(v: object) -> str:
    """A year (a whole number)."""
    return "-" if _blank(v) else str(as_int(v))


def _print_stress(r: StressResult) -> None:
    """Headline, edits, verdict, then what moved (re-plan) or what breaks (check)."""
    how = "re-planned" if r.mode == "replan" else "the base plan re-checked (--check)"
    out.print(
        f"[bold]{escape(r.scenario)}[/bold]: grid stress, {how}; base: {escape(r.base.source)}"
    )
    t = Table(title="edits", show_edge=False)
    for c in ("branch", "from", "to", "edit", "factor", "rating MW", "emergency MW"):
        t.add_column(c, justify="right" if c in ("factor", "rating MW", "emergency MW") else "left")
    for e in r.edits.itertuples(index=False):
        if e.edit == "outage":
            factor, rating, emerg = "-", f"{_mw(e.rating_mw_base)} -> out", "-"
        else:
            f, f_total = as_float(e.factor), as_float(e.factor_total)
            factor = f"{f:g}" + (f" (x{f_total:g} in all)" if abs(f_total - f) > 1e-12 else "")
            rating = f"{_mw(e.rating_mw_base)} -> {_mw(e.rating_mw_stressed)}"
            emerg = f"{_mw(e.rating_emergency_mw_base)} -> {_mw(e.rating_emergency_mw_stressed)}"
        t.add_row(
            escape(str(e.branch_id)),
            escape(str(e.from_bus)),
            escape(str(e.to_bus)),
            str(e.edit),
            factor,
            rating,
            emerg,
        )
    out.print(t)

    if r.mode == "replan":
        _print_replan(r)
    else:
        _print_check(r)
    for note in r.notes:
        out.print(f"  note: {escape(note)}")


def _print_verdict_costs(r: StressResult) -> None:
    """The net present cost when feasible: base and stressed [bn USD], the change [M USD]."""
    if r.feasible:
        out.print(
            f"  net present cost: base {_bn(r.base_cost_usd)} bn USD, stressed "
            f"{_bn(r.stressed_cost_usd)} bn USD (change {_signed_m(r.delta_cost_usd)} M USD)"
        )


def _print_replan(r: StressResult) -> None:
    """Re-plan mode: the verdict, then what moves (sites, IT MW, costs, branches, upgrades)."""
    verdict = r.decision.get("verdict")
    if r.decision:
        colour = {"keep_unchanged": "green", "replan": "yellow"}.get(str(verdict), "red")
        out.print(f"[{colour}]{escape(str(verdict))}[/{colour}]: {escape(r.decision['text'])}")
    if verdict == "keep_unchanged":
        _print_verdict_costs(r)
        _print_by_year(r)
        return
    if not r.feasible:
        out.print(
            "[bold red]infeasible under the stress[/bold red]: the stressed scenario has no plan "
            "that meets every requirement."
        )
        out.print(escape(r.explanation))
        return
    moved = len(r.moved_sites)
    out.print(
        "[green]feasible[/green]: the stressed scenario has a plan; "
        + (
            f"{r.moved_sites['site_id'].nunique()} site(s) change MW in {moved} site-year(s)"
            if moved
            else "no site changes its MW"
        )
    )
    _print_verdict_costs(r)
    if len(r.site_changes):
        out.print(_site_table(r))
    if moved:
        out.print(_moved_table(r))
    _print_by_year(r)
    out.print(_cost_table(r))
    branches = _branch_table(r)
    if branches is not None:
        out.print(branches)
    if len(r.upgrades):
        out.print(_upgrade_table(r))


def _site_table(r: StressResult) -> Table:
    """The sites whose plan changes: first year, cooling, IT MW in the last year [MW]."""
    t = Table(title="sites that change", show_edge=False)
    for c in ("site", "change", "what", "first year", "cooling", "IT MW (last year)"):
        t.add_column(c, justify="right" if "MW" in c or "year" in c else "left")
    for s in r.site_changes.itertuples(index=False):
        t.add_row(
            escape(str(s.site_id)),
            str(s.change),
            str(s.what).replace(",", ", "),
            f"{_site_year(s.base_first_year)} -> {_site_year(s.stressed_first_year)}",
            f"{_site_text(s.base_cooling)} -> {_site_text(s.stressed_cooling)}",
            f"{_mw(s.base_it_mw_final)} -> {_mw(s.stressed_it_mw_final)}",
        )
    return t


def _moved_table(r: StressResult) -> Table:
    """The IT MW that moves, per site and year [MW]."""
    t = Table(title="IT MW that moves", show_edge=False)
    for c in ("site", "change", "year", "base MW", "stressed MW", "delta MW"):
        t.add_column(c, justify="right" if "MW" in c or c == "year" else "left")
    for m in r.moved_sites.itertuples(index=False):
        t.add_row(
            escape(str(m.site_id)),
            str(m.change),
            str(m.year),
            _mw(m.base_it_mw),
            _mw(m.stressed_it_mw),
            f"{m.delta_it_mw:+,.0f}",
        )
    return t


def _cost_table(r: StressResult) -> Table:
    """The cost parts of 0.5 M USD or more and the total, base and stressed (present
    value) [bn USD; change in M USD]."""
    t = Table(title="cost parts (present value)", show_edge=False)
    for c in ("part", "base bn USD", "stressed bn USD", "change M USD"):
        t.add_column(c, justify="left" if c == "part" else "right")
    for p in r.costs_usd.itertuples(index=False):
        part = str(p.part)
        if (
            part != "total"
            and max(abs(as_float(p.base_usd)), abs(as_float(p.stressed_usd))) < 0.5e6
        ):
            continue
        t.add_row(
            f"[bold]{part}[/bold]" if part == "total" else escape(part),
            _bn(p.base_usd),
            _bn(p.stressed_usd),
            _signed_m(p.delta_usd),
        )
    return t


def _branch_table(r: StressResult) -> Table | None:
    """The branches whose peak loading changed most [MW, %] (None when none changed)."""
    b = r.branches
    changed = b[(b["delta_loading_pct"].abs() > 0.05) | ~b["stressed_in_service"].astype(bool)]
    if not len(changed):
        return None
    t = Table(title=f"branches whose peak loading changed most (of {len(b):,})", show_edge=False)
    for c in ("branch", "from", "to", "rating MW", "base %", "stressed %", "delta pp"):
        t.add_column(c, justify="left" if c in ("branch", "from", "to") else "right")
    for x in changed.head(BRANCHES_SHOWN).itertuples(index=False):
        out_of_service = not bool(x.stressed_in_service)
        t.add_row(
            escape(str(x.branch_id)),
            escape(str(x.from_bus)),
            escape(str(x.to_bus)),
            f"{_mw(x.base_rating_mw)} -> "
            + ("out" if out_of_service else _mw(x.stressed_rating_mw)),
            _pct(x.base_peak_loading_pct),
            "out" if out_of_service else _pct(x.stressed_peak_loading_pct),
            "-" if out_of_service else f"{x.delta_loading_pct:+,.1f}",
        )
    return t


def _upgrade_table(r: StressResult) -> Table:
    """The grid upgrades added, dropped or moved [MW, M USD]."""
    t = Table(title="grid upgrades that change", show_edge=False)
    for c in ("asset", "id", "change", "year", "added MW", "cost M USD"):
        t.add_column(c, justify="right" if c in ("year", "added MW", "cost M USD") else "left")
    for u in r.upgrades.itertuples(index=False):
        t.add_row(
            escape(str(u.asset)),
            escape(str(u.asset_id)),
            str(u.change),
            f"{_taken_year(u.base_year)} -> {_taken_year(u.stressed_year)}",
            _mw(u.added_mw),
            f"{as_float(u.cost_usd) / 1e6:,.1f}",
        )
    return t


def _print_by_year(r: StressResult) -> None:
    """IT MW in service per year, base -> stressed, and the target [MW IT]."""
    parts = []
    for y in r.it_mw_by_year.itertuples(index=False):
        target_mw = as_float(y.target_it_mw)
        target = f", target {target_mw:,.0f}" if not math.isnan(target_mw) else ""
        parts.append(f"{y.year}: {_mw(y.base_it_mw)} -> {_mw(y.stressed_it_mw)}{target}")
    out.print("  IT MW by year (base -> stressed): " + "; ".join(parts))


def _print_check(r: StressResult) -> None:
    """Check mode: the verdict, then the branch overloads and every limit the plan breaks."""
    if r.feasible:
        out.print(
            "[green]the base plan still works under the stress[/green]: its sites, MW and "
            "cooling can be operated within every limit"
        )
        _print_verdict_costs(r)
        return
    out.print(
        "[bold red]the base plan breaks limits under the stress[/bold red] "
        f"({len(r.violations)} violation(s))"
    )
    if len(r.overloads):
        t = Table(title="branch overloads", show_edge=False)
        for c in ("branch", "year", "snapshot", "limit", "rating MW", "flow MW", "over MW", "%"):
            t.add_column(c, justify="left" if c in ("branch", "snapshot", "limit") else "right")
        for o in r.overloads.itertuples(index=False):
            t.add_row(
                escape(str(o.branch_id)),
                str(o.year),
                escape(str(o.snapshot)),
                str(o.limit),
                _mw(o.rating_mw),
                f"{o.flow_mw:,.1f}",
                f"{o.overload_mw:,.1f}",
                _pct(o.loading_pct),
            )
        out.print(t)
    t = Table(title="what the base plan breaks", show_edge=False)
    for c in ("requirement or limit", "where", "by", "unit"):
        t.add_column(c, justify="right" if c == "by" else "left")
    for v in r.violations:
        t.add_row(
            escape(str(v["requirement"])),
            escape(str(v.get("where", v.get("index")))),
            f"{v['amount']:,.1f}",
            escape(str(v["unit"])),
        )
    out.print(t)
