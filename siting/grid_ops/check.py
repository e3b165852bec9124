"""A plan's grid checked from its own tables: flows, N-1, ratings, headroom, balance.

:func:`check_plan` reads a plan folder written by ``siting plan`` (``manifest.json``,
``schedule.csv``, ``dispatch.csv``, ``flows.csv``, and ``upgrades.csv`` when present)
and the grid it was made on, and recomputes everything a grid operator asks about,
independently of the model (it never touches Pyomo or the solver):

1. **Flows.** Per year ``y`` and snapshot ``h`` (load factor ``lf_h``), the net
   injection at bus ``b`` is

   .. math::

       P_{b,y,h} = \\sum_{g \\text{ at } b} p_{g,y,h} - lf_h\\, D_{b,y} - G_b
                   - \\sum_{s \\text{ at } b} d_{s,y,h}

   with ``p`` the dispatch (``dispatch.csv``, by its ``bus_id``), ``D`` the grid's base
   load of that year (``load_mw``, ``load_mw_<YYYY>``), ``G`` the shunt demand
   (``shunt_mw``) and ``d`` the campus draw (``schedule.csv``: ``peak_draw_mw`` in
   snapshots flagged ``peak``, ``typical_draw_mw`` in the others). The DC flows are
   :func:`siting.network.dc_flow` ``(net, P, balance=False)``, all years and snapshots
   at once; what an island's injections leave unbalanced lands on its reference bus and
   is reported. Every snapshot's flows are compared with the plan's ``flows.csv`` (one row
   per branch, year and snapshot); a plan written before ``flows.csv`` held every snapshot
   (no ``snapshot`` column: peak rows only) is compared at the peak snapshot alone.
2. **Ratings per year.** ``rating_mw`` (N-0) and ``rating_emergency_mw`` (N-1; empty =
   ``rating_mw``), after the scenario's ``grid.derate`` and ``grid.outages``, plus every
   upgrade in service: a row of ``upgrades.csv`` (``asset, asset_id, year, added_mw,
   cost_usd, lead_time_years``) adds ``added_mw`` from ``year`` on, to both ratings of a
   ``branch``, or to the ``substation_headroom_mw`` of a ``substation`` (a bus). A plan
   without ``upgrades.csv`` (older plans) has no upgrades.
3. **N-1.** After the outage of in-service branch ``k``, the flows are
   ``f + LODF[:, k] f_k`` (:func:`siting.network.lodf`,
   :func:`siting.network.post_outage_flows`), for every outage that does not split the
   network (radial outages have no LODF: they are skipped and listed), at the peak
   snapshot(s) (or every snapshot), against the emergency ratings. Vectorised over
   (monitored branch x outage) per year and snapshot, in blocks of outages. The worst
   pairs per year (highest post-contingency loading) are kept.
4. **Violations.** N-0 flows above the rating, N-1 post-outage flows above the emergency
   rating, campus peak draw at a bus above its substation headroom (plus upgrades), an
   island whose injections do not balance, a generator outside ``[p_min_mw, p_max_mw]``
   (in non-peak snapshots a unit may be off, so the lower bound is ``min(0, p_min_mw)``,
   the model's rule; an out-of-service unit must give 0). Each names the branch, bus,
   island or generator, the year, the snapshot (and the outage), the value, the limit
   and the excess in MW.

Tolerances
----------
A value counts as a violation when it exceeds its limit by more than
``TOL_ABS_MW + TOL_REL * |limit|`` (:data:`TOL_ABS_MW` 1e-3 MW, :data:`TOL_REL` 1e-6,
the plan verification's) **plus** the most the rounding of the plan's tables can move
it: ``siting plan`` writes its CSV tables with 6 significant digits, so each dispatch
and draw value read back is within :data:`CSV_REL_PRECISION` (5e-6) of its own size.
A rounding error ``e_b`` at bus ``b`` moves a flow by ``PTDF[l, b] e_b``, so a flow's
allowance is ``|PTDF| @ e`` (and ``+ |LODF[l, k]| (|PTDF| @ e)_k`` after an outage).
Binding limits of an optimal plan therefore do not show up as violations of a few
thousandths of a MW.

5. **The grid's own violations.** :func:`check_plan` also checks the campus-free
   baseline (:func:`baseline_dispatch`: the grid re-dispatched without any campus, a DC OPF
   of each year's and snapshot's load within the normal ratings; where that is infeasible,
   the plan's dispatch with the generators giving up the campus draw in proportion to their
   output, with a note; none of the plan's upgrades)
   and marks each N-0 and N-1 overload ``baseline`` (the grid already had it, at least as
   large), ``worsened`` (it had it, smaller) or ``caused`` (it had none): see
   :func:`split_by_baseline`. The other kinds are the plan's (``caused``).

Exit codes of ``siting grid check`` (:mod:`siting.cli.grid_check`): 0 no violation the
plan causes or worsens (the grid's own, already in the baseline, are listed and counted
but do not fail the check); 2 the plan causes or worsens a violation (it breaks a grid
limit; like an infeasible ``siting plan``, it says where, when and by how much); 1 invalid
input (a missing or unreadable plan file, input files moved away, a plan without a
modelled grid: nothing to check); 3 internal error; 130 interrupted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from siting.core.cells import as_float
from siting.core.errors import MAX_ROWS_NAMED, InputError, Problem, ScenarioError
from siting.core.files import path_problem
from siting.core.plan_files import read_manifest, read_plan_table
from siting.inputs.grids.grid import Grid
from siting.network import DCNetwork, dc_flow, dc_network, lodf, post_outage_flows, ptdf

if TYPE_CHECKING:
    from siting.config.scenario import Contingencies, Scenario

__all__ = [
    "BASELINE_FALLBACK",
    "BASELINE_METHOD",
    "CSV_REL_PRECISION",
    "GridCheck",
    "NothingToCheck",
    "PlanTables",
    "TOL_ABS_MW",
    "TOL_REL",
    "ORIGINS",
    "VIOLATION_KINDS",
    "baseline_dispatch",
    "check_grid",
    "check_plan",
    "read_plan",
    "split_by_baseline",
]

#: Absolute tolerance of every MW comparison [MW] (as the plan verification's).
TOL_ABS_MW = 1e-3
#: Relative tolerance on the limit [fraction] (as the plan verification's).
TOL_REL = 1e-6
#: Relative precision of a value read back from a plan's CSV tables, written with 6
#: significant digits (``%.6g``: within half a unit of the 6th digit) [fraction].
CSV_REL_PRECISION = 5e-6
#: About this many numbers per (monitored branch x outage) block of the N-1 computation.
N1_BLOCK_ENTRIES = 2_000_000
#: N-1 pairs loaded below this are not listed among the worst (a branch the outage
#: leaves with no flow, or an unlimited one) [%].
LOADING_FLOOR_PCT = 1e-6
#: Worst N-1 pairs kept per year by default.
DEFAULT_TOP = 10

#: Files every plan folder must hold for the check (``plan.gpkg`` is not read).
REQUIRED_FILES = ("manifest.json", "schedule.csv", "dispatch.csv", "flows.csv")
#: Optional: the grid upgrades the plan builds (absent in older plans: no upgrades).
UPGRADES_FILE = "upgrades.csv"

#: Kinds of violation, in the order they are listed.
VIOLATION_KINDS = (
    "n0_overload",
    "n1_overload",
    "substation_headroom",
    "island_imbalance",
    "generator_limit",
)

#: Where a violation comes from (``GridCheck.violations["origin"]``): ``caused`` the
#: campus-free baseline does not have it; ``worsened`` it has it, with a smaller excess;
#: ``baseline`` it has it with the same excess or more (the grid's own).
ORIGINS = ("caused", "worsened", "baseline")
#: Violations compared with the baseline; the others are the plan's (``caused``).
BASELINE_KINDS = ("n0_overload", "n1_overload")
#: How the campus-free baseline is made.
BASELINE_METHOD = (
    "the grid without any campus, re-dispatched: a DC OPF of each year's and snapshot's "
    "load without the campuses (least generating cost within the normal ratings, the OPF "
    "of `siting grid hosting --dispatch opf`), on the grid without the plan's upgrades"
)
#: The baseline of a (year, snapshot) whose OPF is infeasible (or fails).
BASELINE_FALLBACK = (
    "the plan's dispatch with each island's generators reduced in proportion to their "
    "output by the campuses' draw there"
)

#: The plan's draw relief (curtailed flexible MW, on-site output ...; optional): what lowers
#: each campus's draw from the grid per site, year and snapshot.
RELIEF_FILE = "draw_relief.csv"

_COLUMNS = {
    # file: (ID/text columns, numeric columns); all required
    "schedule.csv": (("site_id", "bus_id"), ("year", "peak_draw_mw", "typical_draw_mw")),
    "dispatch.csv": (("gen_id", "bus_id", "snapshot"), ("year", "p_mw")),
    "flows.csv": (("branch_id",), ("year", "flow_mw")),
    UPGRADES_FILE: (("asset", "asset_id"), ("year", "added_mw")),
    RELIEF_FILE: (("site_id", "bus_id", "snapshot"), ("year", "relief_mw")),
}

_VIOLATION_COLUMNS = [
    "kind",
    "asset",
    "id",
    "year",
    "snapshot",
    "outage_id",
    "value_mw",
    "limit_mw",
    "excess_mw",
]

N1Snapshots = Literal["peak", "all"]


class NothingToCheck(InputError):
    """The plan has no modelled grid (``grid.enabled`` false or no grid layer)."""


@dataclass
class PlanTables:
    """The tables of a plan folder, as read (IDs as text, numbers as float, years as int).

    Attributes
    ----------
    plan_dir
        The folder.
    manifest
        ``manifest.json``.
    schedule
        ``site_id, year, bus_id, peak_draw_mw, typical_draw_mw`` [MW] (and the rest).
    dispatch
        ``gen_id, bus_id, year, snapshot, p_mw`` [MW].
    flows
        The plan's own flows: ``branch_id, year, snapshot, flow_mw`` [MW] (and the rest);
        no ``snapshot`` column in a plan written before ``flows.csv`` held every snapshot
        (its rows are the peak snapshot's).
    upgrades
        ``asset, asset_id, year, added_mw`` [MW] (``cost_usd``, ``lead_time_years``
        when given); no rows when the plan has no ``upgrades.csv``.
    has_upgrades_file
        Whether ``upgrades.csv`` was there.
    relief
        ``draw_relief.csv``: ``site_id, bus_id, year, snapshot, relief_mw`` [MW] (``source``
        when given), what lowers each campus's draw from the grid; no rows when the plan
        has none.
    """

    plan_dir: Path
    manifest: dict[str, Any]
    schedule: pd.DataFrame
    dispatch: pd.DataFrame
    flows: pd.DataFrame
    upgrades: pd.DataFrame
    has_upgrades_file: bool
    relief: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            columns=["site_id", "bus_id", "year", "snapshot", "relief_mw"]
        )
    )


@dataclass
class GridCheck:
    """What ``siting grid check`` found.

    Attributes
    ----------
    flows
        One row per in-service branch, year and snapshot: ``branch_id, from_bus, to_bus,
        year, snapshot, flow_mw`` (from -> to positive), ``rating_mw`` and
        ``rating_emergency_mw`` (effective that year, with upgrades; ``inf`` =
        unlimited), ``loading_pct`` (``100 |flow| / rating``; 0 when unlimited), and at
        the snapshots compared with the plan's ``flows.csv`` (``compared_snapshots``)
        ``plan_flow_mw`` (the plan's) and ``plan_diff_mw`` (recomputed minus the plan's);
        NaN elsewhere.
    n_1
        The worst (monitored branch, outage) pairs per year, at most ``top`` per year,
        highest loading first: ``year, snapshot, branch_id, outage_id, pre_flow_mw``
        (the monitored branch before the outage), ``outage_flow_mw`` (the tripped branch
        before it tripped), ``lodf`` [MW/MW], ``post_flow_mw``, ``rating_emergency_mw``,
        ``loading_pct``. A pair appears once per year, at its worst snapshot.
    violations
        ``kind`` (see :data:`VIOLATION_KINDS`), ``asset`` (``branch``, ``bus``,
        ``island``, ``generator``), ``id`` (branch, bus, the island's reference bus, or
        generator ID), ``year``, ``snapshot``, ``outage_id`` (N-1 only, else ``""``),
        ``value_mw`` (the flow, the campus peak draw at the bus, the island's net
        injection or the generator's output), ``limit_mw`` (the rating, emergency
        rating, headroom, 0, or the violated bound), ``excess_mw`` (how far beyond); from
        :func:`check_plan` also ``origin`` (:data:`ORIGINS`: ``baseline`` the grid had it
        without any campus and the plan does not make it worse, ``worsened``, ``caused``)
        and ``baseline_excess_mw`` (the excess in the baseline; NaN when it had none).
    years
        Per year: ``year, max_loading_pct, max_loading_branch, max_loading_snapshot,
        overloaded_branches`` (N-0, distinct branches), ``n1_max_loading_pct,
        n1_worst_branch, n1_worst_outage, n1_worst_snapshot, n1_violations`` (pairs),
        ``substation_violations, max_imbalance_mw, plan_flow_max_diff_mw,
        violations``.
    islands
        ``year, snapshot, island, reference_bus, imbalance_mw`` (sum of the island's
        injections: what its reference bus had to make up, with the opposite sign),
        ``tolerance_mw``.
    substations
        Buses with campuses: ``bus_id, year, campus_peak_mw, headroom_mw`` (with
        upgrades; ``inf`` = no limit).
    upgrades
        The upgrades applied (``upgrades.csv``).
    skipped_outages
        In-service branches whose outage splits the network (no LODF): not studied.
    outages_studied
        Number of branch outages studied per year and snapshot.
    n1_snapshots
        The snapshots the N-1 check covered.
    peak_snapshot
        The first snapshot flagged ``peak`` (else the first).
    compared_snapshots
        The snapshots whose flows were compared with the plan's ``flows.csv``: every one, or
        only the peak for a ``flows.csv`` without a ``snapshot`` column (older plans); none
        without one.
    notes
        What was decided or noticed on the way.
    timings
        Seconds per stage.
    plan_dir, grid_source, scenario_name
        Where the plan and the grid came from.
    baseline
        The campus-free baseline's N-0 and N-1 overloads (violation columns; None when not
        computed: :func:`check_grid` alone).
    baseline_method
        How the baseline was made (:data:`BASELINE_METHOD`).
    """

    flows: pd.DataFrame
    n_1: pd.DataFrame
    violations: pd.DataFrame
    years: pd.DataFrame
    islands: pd.DataFrame
    substations: pd.DataFrame
    upgrades: pd.DataFrame
    skipped_outages: list[str]
    outages_studied: int
    n1_snapshots: list[str]
    peak_snapshot: str
    compared_snapshots: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    plan_dir: str = ""
    grid_source: str = ""
    scenario_name: str = ""
    baseline: pd.DataFrame | None = None
    baseline_method: str = ""

    @property
    def ok(self) -> bool:
        """True when there is no violation (the grid's own included)."""
        return len(self.violations) == 0

    @property
    def plan_ok(self) -> bool:
        """True when the plan causes or worsens no violation (:data:`ORIGINS`): every
        violation, if any, was already in the campus-free baseline. Without a baseline
        (``check_grid`` alone) the same as :attr:`ok`."""
        if "origin" not in self.violations.columns:
            return self.ok
        return not self.violations["origin"].isin(["caused", "worsened"]).any()

    def origin_counts(self) -> dict[str, int]:
        """Number of violations per origin (``caused``, ``worsened``, ``baseline``; those
        without any left out; empty without a baseline)."""
        if "origin" not in self.violations.columns or self.violations.empty:
            return {}
        counts = self.violations["origin"].value_counts()
        return {k: int(counts[k]) for k in ORIGINS if k in counts}

    @property
    def resolved(self) -> pd.DataFrame:
        """The baseline's overloads the plan does not have (its upgrades or dispatch relieve
        them); empty without a baseline."""
        if self.baseline is None or self.baseline.empty:
            return pd.DataFrame(columns=_VIOLATION_COLUMNS)
        mine = set(_violation_keys(self.violations))
        keep = [k not in mine for k in _violation_keys(self.baseline)]
        return self.baseline[keep].reset_index(drop=True)

    def violation_counts(self) -> dict[str, int]:
        """Number of violations of each kind (kinds without any left out)."""
        if self.violations.empty:
            return {}
        counts = self.violations["kind"].value_counts()
        return {k: int(counts[k]) for k in VIOLATION_KINDS if k in counts}

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping; ``inf`` and NaN become ``None``."""
        return {
            "ok": self.ok,
            "plan": self.plan_dir,
            "scenario": self.scenario_name,
            "grid": self.grid_source,
            "peak_snapshot": self.peak_snapshot,
            "compared_snapshots": list(self.compared_snapshots),
            "n1_snapshots": list(self.n1_snapshots),
            "outages_studied": int(self.outages_studied),
            "skipped_outages": list(self.skipped_outages),
            "violation_counts": self.violation_counts(),
            "plan_ok": self.plan_ok,
            "origin_counts": self.origin_counts(),
            "baseline": None
            if self.baseline is None
            else {
                "method": self.baseline_method,
                "violations": _records(self.baseline),
                "resolved_by_plan": _records(self.resolved),
            },
            "years": _records(self.years),
            "flows": _records(self.flows),
            "n_1": _records(self.n_1),
            "violations": _records(self.violations),
            "islands": _records(self.islands),
            "substations": _records(self.substations),
            "upgrades": _records(self.upgrades),
            "notes": list(self.notes),
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
        }


def _clean(v: Any) -> Any:
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        return float(v) if math.isfinite(v) else None
    return v


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _clean(v) for k, v in r.items()} for r in df.to_dict(orient="records")]


# --------------------------------------------------------------------------- reading


def _read_table(path: Path, problems: list[Problem]) -> pd.DataFrame | None:
    """One CSV of a plan with the columns the check needs (:data:`_COLUMNS`), checked by
    :func:`siting.core.plan_files.read_plan_table`."""
    ids, nums = _COLUMNS[path.name]
    return read_plan_table(path, problems, required=(*ids, *nums))


def read_plan(plan_dir: str | Path) -> PlanTables:
    """Read the tables of a plan folder written by ``siting plan``.

    Parameters
    ----------
    plan_dir
        The folder (``maps/<name>/`` or ``siting plan --out``).

    Returns
    -------
    PlanTables

    Raises
    ------
    siting.core.errors.InputError
        The folder or a required file (:data:`REQUIRED_FILES`) is missing, a file cannot
        be read, a column is missing or a value is not a number; every problem names the
        file (and row and column) and says what was expected.
    """
    d = Path(plan_dir)
    _require_plan_files(d)
    problems: list[Problem] = []
    manifest_path = d / "manifest.json"
    manifest = read_manifest(manifest_path, problems) or {}
    if not problems and not isinstance(manifest.get("scenario_as_run"), dict):
        problems.append(
            Problem(
                "has no 'scenario_as_run' mapping; expected the manifest siting plan writes "
                "(the scenario as run names the grid)",
                manifest_path,
            )
        )
    schedule, dispatch, flows = (
        _read_table(d / name, problems) for name in ("schedule.csv", "dispatch.csv", "flows.csv")
    )
    up_path = d / UPGRADES_FILE
    has_up = up_path.is_file()
    upgrades = _read_upgrades(up_path, problems) if has_up else None
    relief = _read_table(d / RELIEF_FILE, problems) if (d / RELIEF_FILE).is_file() else None
    if problems:
        raise InputError(problems, what="plan")
    # (a table not read added a problem, raised just above)
    assert schedule is not None and dispatch is not None and flows is not None
    if upgrades is None:
        upgrades = pd.DataFrame(
            {
                "asset": pd.Series(dtype=object),
                "asset_id": pd.Series(dtype=object),
                "year": pd.Series(dtype=np.int64),
                "added_mw": pd.Series(dtype=float),
            }
        )
    return PlanTables(
        plan_dir=d,
        manifest=manifest,
        schedule=schedule,
        dispatch=dispatch,
        flows=flows,
        upgrades=upgrades,
        has_upgrades_file=has_up,
        **({"relief": relief} if relief is not None else {}),
    )


def _require_plan_files(d: Path) -> None:
    """Raise an :class:`InputError` unless ``d`` is a folder holding every file of
    :data:`REQUIRED_FILES` (each missing one named)."""
    if not d.exists():
        raise InputError(
            Problem(
                "no such folder; expected a plan folder written by siting plan (manifest.json, "
                "schedule.csv, dispatch.csv, flows.csv ...)",
                file=d,
            ),
            what="plan",
        )
    if not d.is_dir():
        raise InputError(
            Problem("is a file; expected a plan folder written by siting plan", file=d),
            what="plan",
        )
    problems: list[Problem] = []
    for name in REQUIRED_FILES:
        why = path_problem(d / name)
        if why is not None:
            problems.append(
                Problem(
                    f"{why}; a plan folder written by siting plan holds {name} "
                    f"({', '.join(REQUIRED_FILES)} are needed for the check)",
                    file=d / name,
                )
            )
    if problems:
        raise InputError(problems, what="plan")


def _read_upgrades(path: Path, problems: list[Problem]) -> pd.DataFrame | None:
    """``upgrades.csv`` (``asset`` lower-cased), checked: ``asset`` is ``branch`` or
    ``substation`` and ``added_mw`` [MW] >= 0 (the first 5 rows of each kind of problem
    go to ``problems``)."""
    upgrades = _read_table(path, problems)
    if upgrades is not None:
        kinds = upgrades["asset"].str.lower()
        bad = np.flatnonzero(~kinds.isin(["branch", "substation"]).to_numpy())
        for i in bad[:5]:
            problems.append(
                Problem(
                    f"expected 'branch' or 'substation', got {upgrades['asset'].iloc[i]!r}",
                    file=path,
                    row=i + 1,
                    field="asset",
                )
            )
        neg = np.flatnonzero((upgrades["added_mw"] < 0).to_numpy())
        for i in neg[:5]:
            problems.append(
                Problem(
                    f"expected MW added >= 0, got {upgrades['added_mw'].iloc[i]:g}",
                    file=path,
                    row=i + 1,
                    field="added_mw",
                )
            )
        upgrades["asset"] = kinds
    return upgrades


def _missing_plan_flows(
    flows: pd.DataFrame, compared: list[str], plan_flows: pd.DataFrame, path: Path, *, own: bool
) -> list[str]:
    """Check that the plan's ``flows.csv`` has a row for each branch, year and snapshot
    compared.

    ``siting plan`` writes a row for every branch of its grid, planning year and snapshot,
    so a missing row (on the plan's own grid, or of a branch ``flows.csv`` holds
    elsewhere) means the table was cut or edited and the plan's flows cannot be compared:
    an :class:`~siting.core.errors.InputError` naming each missing branch, year and snapshot
    (the first :data:`~siting.core.errors.MAX_ROWS_NAMED`, then a count). On another grid
    (``--scenario``), branches ``flows.csv`` never names are ones the plan's grid did not
    have: a note says how many were not compared.

    Parameters
    ----------
    flows
        The check's flows (``plan_flow_mw`` NaN where the plan has no row).
    compared
        The snapshots compared (:attr:`GridCheck.compared_snapshots`).
    plan_flows
        The plan's ``flows.csv``.
    path
        Its path, for the messages.
    own
        The grid is the plan's own.
    """
    if "plan_flow_mw" not in flows.columns or not len(flows) or not compared:
        return []
    gone = flows[flows["snapshot"].isin(compared) & flows["plan_flow_mw"].isna()]
    triples = sorted(
        {
            (str(b), int(y), str(h))
            for b, y, h in zip(gone["branch_id"], gone["year"], gone["snapshot"], strict=True)
        }
    )
    named = set(plan_flows["branch_id"].astype(str)) if len(plan_flows) else set()
    bad = [(b, y, h) for b, y, h in triples if own or b in named]
    if not bad:
        return (
            [
                f"{len(triples)} branch/year/snapshot rows of this grid have no row in the "
                f"plan's {path.name} (branches the plan's grid did not have); their flows were "
                "not compared with the plan's"
            ]
            if triples
            else []
        )
    many = len(compared) > 1
    problems = [
        Problem(
            f"no row for branch '{b}' in {y}"
            + (f", snapshot '{h}'" if many else "")
            + "; siting plan writes one row per branch of the grid, planning year"
            + (" and snapshot" if many else "")
            + " (was the table cut or edited?)",
            file=path,
            id=b,
            field="branch_id",
        )
        for b, y, h in bad[:MAX_ROWS_NAMED]
    ]
    if len(bad) > MAX_ROWS_NAMED:
        problems.append(Problem(f"... and {len(bad) - MAX_ROWS_NAMED} more rows", file=path))
    raise InputError(problems, what="plan")


def _plan_scenario(tables: PlanTables) -> Scenario:
    """The plan's scenario, from ``manifest.json``'s ``scenario_as_run``."""
    from siting.config.scenario import scenario_from_dict

    path = tables.plan_dir / "manifest.json"
    try:
        return scenario_from_dict(tables.manifest["scenario_as_run"], base_dir=tables.plan_dir)
    except ScenarioError as e:
        raise InputError(
            [
                Problem(
                    f"{p.message} (the manifest's scenario no longer validates; pass "
                    "--scenario with the scenario to check against)",
                    file=path,
                    field=f"scenario_as_run.{p.field}" if p.field else "scenario_as_run",
                )
                for p in e.problems
            ],
            what="plan",
        ) from None


def _grid_files(sc: Scenario) -> list[tuple[str, Path]]:
    """(scenario key, path) of every file the scenario's grid is read from (the attached
    tables too)."""
    from siting.inputs import grid_input_paths, input_key

    return [(input_key(ref[0]), ref[1]) for ref in grid_input_paths(sc)]


def _load_grid(sc: Scenario, *, origin: str, manifest: dict[str, Any]) -> tuple[Grid, list[str]]:
    """Read only the scenario's grid (with ``grid.derate``, ``grid.outages``); notes.

    ``origin`` says where the scenario came from, for the messages.
    """
    from siting.config.scenario import LayersSection
    from siting.core.files import file_sha256, path_problem
    from siting.inputs import load_layers

    files = _grid_files(sc)
    missing = [
        Problem(
            "file not found; expected the grid file the plan was checked against "
            f"({origin}); if it moved, put it back or pass --scenario naming its new place"
            if why == "file not found"
            else why,
            file=p,
            field=key,
        )
        for key, p in files
        if (why := path_problem(p)) is not None
    ]
    if missing:
        raise InputError(missing, what="grid of the plan")
    notes: list[str] = []
    inputs = manifest.get("inputs", [])
    recorded = {
        str(Path(i["path"])): i.get("sha256")
        for i in (inputs if isinstance(inputs, list) else [])
        if isinstance(i, dict) and str(i.get("role", "")).startswith("grid") and "path" in i
    }
    for _key, p in files:
        want = recorded.get(str(p.resolve()))
        if want and file_sha256(p) != want:
            notes.append(
                f"{p} changed since the plan was made (its SHA-256 differs from manifest.json's)"
            )
    only_grid = sc.model_copy(update={"layers": LayersSection(grid=sc.layers.grid)})
    layers = load_layers(only_grid)
    assert layers.grid is not None
    # the notes of grid.derate and grid.outages (not the CRS chosen for the map layers)
    return layers.grid, notes + [n for n in layers.notes if "grid." in n]


def check_plan(
    plan_dir: str | Path,
    scenario: str | Path | None = None,
    *,
    n1_snapshots: N1Snapshots = "peak",
    top: int = DEFAULT_TOP,
    as_planned: bool = False,
) -> GridCheck:
    """Check a plan folder's grid from its own tables (what ``siting grid check`` runs).

    Parameters
    ----------
    plan_dir
        A folder written by ``siting plan``.
    scenario
        A scenario file whose grid (``layers.grid``, ``grid.derate``, ``grid.outages``)
        to check the plan against instead of the plan's own (``manifest.json``'s
        ``scenario_as_run``), e.g. a derated grid. The years, snapshots (load factors)
        and campus schedule stay the plan's.
    n1_snapshots
        ``"peak"`` (the snapshots flagged ``peak``; the first snapshot when none is) or
        ``"all"``.
    top
        Worst N-1 pairs kept per year.
    as_planned
        Count as violations only the N-1 cases the plan's scenario required
        (``grid.n_minus_1``: none when off; from ``from_year``; its listed outages; its
        snapshots); the others stay in the N-1 table and a note counts them. By default every
        year, outage and checked snapshot counts (the grid operator's view).

    Returns
    -------
    GridCheck

    Raises
    ------
    NothingToCheck
        The plan was made without a modelled grid.
    siting.core.errors.InputError
        A missing or unreadable plan file; a grid file that no longer exists; IDs in the
        tables that are not in the grid.
    """
    t0 = time.perf_counter()
    tables = read_plan(plan_dir)
    plan_sc = _plan_scenario(tables)
    _require_grid(plan_sc, tables.manifest, tables.plan_dir / "manifest.json")
    notes: list[str] = []
    grid_sc, origin = _grid_scenario(scenario, plan_sc, notes)
    grid, more = _load_grid(grid_sc, origin=origin, manifest=tables.manifest)
    notes += more
    t_read = time.perf_counter() - t0

    result = check_grid(
        grid,
        tables.schedule,
        tables.dispatch,
        years=list(plan_sc.years),
        snapshots=_snapshot_table(plan_sc),
        plan_flows=tables.flows,
        upgrades=tables.upgrades,
        relief=tables.relief,
        n1_snapshots=n1_snapshots,
        top=top,
        plan_dir=tables.plan_dir,
    )
    notes += _missing_plan_flows(
        result.flows,
        result.compared_snapshots,
        tables.flows,
        tables.plan_dir / "flows.csv",
        own=scenario is None,
    )
    notes += _plan_notes(result, tables, grid_sc, plan_sc, n1_snapshots)
    if as_planned:
        notes += _keep_required_n1(result, plan_sc.grid.n_minus_1, plan_sc)
    if len(tables.relief):
        notes.append(
            f"campus draws less their relief ({RELIEF_FILE}: {len(tables.relief)} rows, "
            f"{float(tables.relief['relief_mw'].astype(float).abs().max()):,.1f} MW at most; "
            "curtailed flexible MW and on-site supply)"
        )
    t_base = time.perf_counter()
    base_disp, base_notes = baseline_dispatch(
        grid, tables.schedule, tables.dispatch, _snapshot_table(plan_sc), tables.relief
    )
    base = check_grid(
        grid,
        tables.schedule.iloc[0:0],
        base_disp,
        years=list(plan_sc.years),
        snapshots=_snapshot_table(plan_sc),
        n1_snapshots=n1_snapshots,
        top=top,
        plan_dir=tables.plan_dir,
    )
    if as_planned:
        _keep_required_n1(base, plan_sc.grid.n_minus_1, plan_sc)
    notes += split_by_baseline(result, base) + base_notes
    result.timings["baseline_s"] = time.perf_counter() - t_base
    result.notes = notes + result.notes
    result.plan_dir = str(tables.plan_dir.resolve())
    result.grid_source = grid.source
    result.scenario_name = plan_sc.name
    result.timings = {"read_s": t_read, **result.timings, "total_s": time.perf_counter() - t0}
    return result


def baseline_dispatch(
    grid: Grid,
    schedule: pd.DataFrame,
    dispatch: pd.DataFrame,
    snapshots: pd.DataFrame,
    relief: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """The campus-free baseline's dispatch (:data:`BASELINE_METHOD`): for each year and
    snapshot of the plan's ``dispatch``, the DC OPF of the grid's load of that year times the
    snapshot's ``load_factor`` (:func:`siting.grid_ops.dispatch.dc_opf`, line limits on);
    where that OPF is infeasible or fails, the plan's dispatch scaled down in proportion
    (:func:`proportional_baseline`, :data:`BASELINE_FALLBACK`), with a note.

    Parameters
    ----------
    grid
        The grid (its derates and outages applied; without the plan's upgrades).
    schedule
        ``bus_id, year, peak_draw_mw, typical_draw_mw`` [MW] (for the fallback).
    dispatch
        The plan's ``gen_id, bus_id, year, snapshot, p_mw`` [MW].
    snapshots
        Indexed by snapshot name: ``load_factor`` [fraction], ``peak`` (bool).
    relief
        ``draw_relief.csv`` [MW] (for the fallback: the campuses' draw from the grid is
        their draw less it; None: no relief).

    Returns
    -------
    (pandas.DataFrame, list of str)
        ``dispatch``'s rows with the baseline's ``p_mw`` [MW] (generators the OPF does not
        dispatch: 0), and the notes on the (year, snapshot) pairs that fell back.
    """
    from siting.core.errors import SitingError
    from siting.grid_ops.dispatch import dc_opf

    scaled = proportional_baseline(grid, schedule, dispatch, snapshots, relief)
    out = dispatch.copy()
    p_mw = out["p_mw"].astype(float).to_numpy(copy=True)
    keys = list(zip(out["year"].astype(int), out["snapshot"].astype(str), strict=True))
    fell_back: list[str] = []
    for y, h in sorted(set(keys)):
        rows = np.array([k == (y, h) for k in keys], dtype=bool)
        lf = as_float(snapshots.at[h, "load_factor"]) if h in snapshots.index else 1.0
        try:
            res = dc_opf(grid, load_scale=lf, year=y, line_limits=True)
        except SitingError as exc:  # (DispatchInfeasibleError is one)
            p_mw[rows] = scaled.loc[rows, "p_mw"].astype(float).to_numpy()
            fell_back.append(f"{y} {h} ({str(exc).splitlines()[0][:160]})")
            continue
        opf = res.dispatch.set_index(res.dispatch["gen_id"].astype(str))["p_mw"].astype(float)
        gen = out.loc[rows, "gen_id"].astype(str)
        p_mw[rows] = gen.map(opf).fillna(0.0).to_numpy(dtype=float)
    out["p_mw"] = p_mw
    notes = []
    if fell_back:
        notes.append(
            f"campus-free baseline: the DC OPF without the campuses is infeasible or failed "
            f"in {len(fell_back)} (year, snapshot) pair(s), where the baseline is "
            f"{BASELINE_FALLBACK} instead: " + "; ".join(fell_back[:5])
        )
    return out, notes


def proportional_baseline(
    grid: Grid,
    schedule: pd.DataFrame,
    dispatch: pd.DataFrame,
    snapshots: pd.DataFrame,
    relief: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The plan's dispatch without the campuses, scaled down (the fallback of
    :func:`baseline_dispatch`: :data:`BASELINE_FALLBACK`).

    In each year, snapshot and island, every generator's output is multiplied by
    ``(G - C) / G`` (at least 0), with ``G`` the island's generation in the plan and ``C``
    the campuses' draw there (``peak_draw_mw`` in snapshots flagged ``peak``,
    ``typical_draw_mw`` in the others): the generators give up the campus draw in proportion
    to their output, so an island the plan balanced stays balanced.

    Parameters
    ----------
    grid
        The grid.
    schedule
        ``bus_id, year, peak_draw_mw, typical_draw_mw`` [MW].
    dispatch
        ``gen_id, bus_id, year, snapshot, p_mw`` [MW].
    snapshots
        Indexed by snapshot name: ``peak`` (bool).
    relief
        ``draw_relief.csv`` (``bus_id, year, snapshot, relief_mw`` [MW]): the campuses' draw
        from the grid is their draw less it (None: no relief).

    Returns
    -------
    pandas.DataFrame
        ``dispatch`` with ``p_mw`` reduced [MW].
    """
    net = dc_network(grid)
    island_of = dict(zip(net.bus_ids.astype(str), net.island, strict=True))
    peak = {str(k): bool(v) for k, v in snapshots["peak"].items()}
    out = dispatch.copy()
    isl = out["bus_id"].astype(str).map(island_of)
    snap = out["snapshot"].astype(str)
    year = out["year"].astype(int)
    gen = out.assign(_i=isl, _y=year, _s=snap).groupby(["_i", "_y", "_s"])["p_mw"].sum()
    draw: dict[tuple[int, int, str], float] = {}
    if len(schedule):
        sc_isl = schedule["bus_id"].astype(str).map(island_of)
        sc_year = schedule["year"].astype(int)
        for s_name, is_peak in peak.items():
            col = "peak_draw_mw" if is_peak else "typical_draw_mw"
            for i, y, c in zip(sc_isl, sc_year, schedule[col].astype(float), strict=True):
                if not pd.isna(i):
                    key = (int(i), int(y), s_name)
                    draw[key] = draw.get(key, 0.0) + float(c)
    if relief is not None and len(relief):
        r_isl = relief["bus_id"].astype(str).map(island_of)
        for i, y, s_name, r in zip(
            r_isl,
            relief["year"].astype(int),
            relief["snapshot"].astype(str),
            relief["relief_mw"].astype(float),
            strict=True,
        ):
            if not pd.isna(i):
                key = (int(i), int(y), s_name)
                draw[key] = draw.get(key, 0.0) - float(r)
    factor = []
    for i, y, s_name in zip(isl, year, snap, strict=True):
        if pd.isna(i):
            factor.append(1.0)
            continue
        g = float(gen.get((i, y, s_name), 0.0))
        c = draw.get((int(i), int(y), s_name), 0.0)
        factor.append(max(0.0, (g - c) / g) if g > 0 else 1.0)
    out["p_mw"] = out["p_mw"].astype(float) * np.asarray(factor, dtype=float)
    return out


def _violation_keys(v: pd.DataFrame) -> list[tuple[str, str, int, str, str]]:
    """``(kind, id, year, snapshot, outage_id)`` of each violation (IDs as text)."""
    return [
        (str(k), str(i), int(y), str(s), "" if pd.isna(o) else str(o))
        for k, i, y, s, o in zip(
            v["kind"], v["id"], v["year"], v["snapshot"], v["outage_id"], strict=True
        )
    ]


def split_by_baseline(result: GridCheck, base: GridCheck) -> list[str]:
    """Mark each violation of ``result`` with its origin against the campus-free baseline.

    N-0 and N-1 overloads (:data:`BASELINE_KINDS`) are looked up in ``base`` by kind,
    branch, year, snapshot and outage: ``baseline`` when the baseline has the same one with
    an excess at least as large (within the check's tolerance, :data:`TOL_ABS_MW` +
    :data:`TOL_REL` of the limit), ``worsened`` when its excess is smaller, ``caused`` when
    it has none. Every other kind (substation headroom, island imbalance, generator limits)
    is the plan's: ``caused``. Sets ``result.violations["origin"]`` and
    ``["baseline_excess_mw"]``, ``result.baseline`` (the baseline's overloads) and
    ``result.baseline_method``.

    Parameters
    ----------
    result
        The plan's check.
    base
        The check of the campus-free baseline (:func:`baseline_dispatch`, no campus, no
        upgrades).

    Returns
    -------
    list[str]
        A note on the split, and one on the baseline's overloads the plan relieves.
    """
    bv = base.violations[base.violations["kind"].isin(BASELINE_KINDS)].reset_index(drop=True)
    b_excess = dict(zip(_violation_keys(bv), bv["excess_mw"].astype(float), strict=True))
    v = result.violations.copy()
    origin, excess = [], []
    for key, x, lim in zip(
        _violation_keys(v), v["excess_mw"].astype(float), v["limit_mw"].astype(float), strict=True
    ):
        be = b_excess.get(key) if key[0] in BASELINE_KINDS else None
        excess.append(math.nan if be is None else be)
        tol = TOL_ABS_MW + TOL_REL * (abs(lim) if math.isfinite(lim) else 0.0)
        if be is None:
            origin.append("caused")
        elif x > be + tol:
            origin.append("worsened")
        else:
            origin.append("baseline")
    v["origin"] = pd.Series(origin, index=v.index, dtype=object)
    v["baseline_excess_mw"] = pd.Series(excess, index=v.index, dtype=float)
    result.violations = v
    result.baseline = bv
    result.baseline_method = BASELINE_METHOD
    notes = []
    counts = result.origin_counts()
    if counts:
        notes.append(
            f"of {len(v):,} violation(s): {counts.get('caused', 0):,} caused by the plan, "
            f"{counts.get('worsened', 0):,} worsened by it, {counts.get('baseline', 0):,} "
            f"the grid already had without any campus (baseline: {BASELINE_METHOD})"
        )
    resolved = len(result.resolved)
    if resolved:
        notes.append(
            f"{resolved:,} overload(s) of the campus-free baseline are not in the plan (its "
            "upgrades or its dispatch relieve them)"
        )
    return notes


def _require_grid(plan_sc: Scenario, manifest: dict[str, Any], man_path: Path) -> None:
    """Raise :class:`NothingToCheck` when the plan was made without a modelled grid.

    Parameters
    ----------
    plan_sc
        The plan's scenario.
    manifest
        The plan's ``manifest.json`` (its ``grid_enabled``, when recorded, decides).
    man_path
        Its path, for the message.
    """
    grid_on = manifest.get("grid_enabled")
    if grid_on is None:
        grid_on = plan_sc.grid.enabled and plan_sc.layers.grid is not None
    if not grid_on or plan_sc.layers.grid is None:
        why = (
            "its scenario has no layers.grid"
            if plan_sc.layers.grid is None
            else "its scenario says grid.enabled: false"
        )
        raise NothingToCheck(
            Problem(
                f"the plan was made without a modelled grid ({why}): there are no flows or "
                "dispatch to check, so there is nothing to check",
                file=man_path,
            ),
            what="plan",
        )


def _grid_scenario(
    scenario: str | Path | None, plan_sc: Scenario, notes: list[str]
) -> tuple[Scenario, str]:
    """The scenario whose grid to check against, and where it came from (for messages).

    Parameters
    ----------
    scenario
        ``--scenario``'s file, or None for the plan's own.
    plan_sc
        The plan's scenario.
    notes
        Gets notes on another scenario's grid (and snapshots).

    Raises
    ------
    siting.core.errors.InputError
        ``scenario`` has no ``layers.grid``.
    """
    if scenario is None:
        return plan_sc, "recorded in manifest.json's scenario_as_run"
    from siting.config.scenario import load_scenario

    grid_sc = load_scenario(scenario)
    if grid_sc.layers.grid is None:
        raise InputError(
            Problem(
                "the scenario has no layers.grid; expected the grid to check against",
                file=scenario,
                field="layers.grid",
            ),
            what="scenario",
        )
    ours = [(s.name, s.load_factor, s.peak) for s in plan_sc.grid.snapshots]
    theirs = [(s.name, s.load_factor, s.peak) for s in grid_sc.grid.snapshots]
    if ours != theirs:
        notes.append(
            f"{scenario} has other snapshots than the plan; the plan's are used (its "
            "dispatch was made for them)"
        )
    notes.append(f"grid from {scenario} (not the plan's own scenario)")
    return grid_sc, f"named by {scenario}"


def _snapshot_table(plan_sc: Scenario) -> pd.DataFrame:
    """The plan scenario's snapshots: ``load_factor`` [fraction], ``peak``, by name."""
    return pd.DataFrame(
        [(s.name, s.load_factor, s.peak) for s in plan_sc.grid.snapshots],
        columns=["name", "load_factor", "peak"],
    ).set_index("name")


def _plan_notes(
    result: GridCheck,
    tables: PlanTables,
    grid_sc: Scenario,
    plan_sc: Scenario,
    n1_snapshots: N1Snapshots,
) -> list[str]:
    """Notes on what the plan did not ask for and the check does all the same: no
    ``upgrades.csv``, ratings not enforced, N-1 off or only in part.

    Parameters
    ----------
    result
        The check.
    tables
        The plan's tables.
    grid_sc
        The scenario whose grid was checked.
    plan_sc
        The plan's scenario.
    n1_snapshots
        The snapshots the N-1 check covered (``"peak"`` or ``"all"``).
    """
    notes: list[str] = []
    if not tables.has_upgrades_file:
        notes.append(f"no {UPGRADES_FILE} in the plan: no upgrades (an older plan, or none built)")
    if not grid_sc.grid.line_limits:
        notes.append(
            "the scenario sets grid.line_limits: false (ratings were not enforced by the plan); "
            "they are checked here all the same"
        )
    n1 = plan_sc.grid.n_minus_1
    if (result.violations["kind"] == "n1_overload").any() and not n1.enabled:
        notes.append(
            "the plan was made without N-1 security (grid.n_minus_1.enabled: false); the N-1 "
            "violations show what N-1 security would need"
        )
    if n1.enabled:
        from_year = getattr(n1, "from_year", None)
        if from_year is not None and from_year > plan_sc.years[0]:
            notes.append(
                f"the plan requires N-1 only from {from_year} (grid.n_minus_1.from_year); the "
                "years before are checked all the same"
            )
        if n1.outages != "all":
            notes.append(
                f"the plan secured only some outages (grid.n_minus_1.outages: {n1.outages!r}); "
                "every outage is checked here"
            )
        if n1.snapshots == "all" and n1_snapshots == "peak":
            notes.append(
                "the plan secured N-1 at every snapshot (grid.n_minus_1.snapshots: all); "
                "--snapshots all checks them all"
            )
    return notes


def _keep_required_n1(result: GridCheck, n1: Contingencies, plan_sc: Scenario) -> list[str]:
    """Drop the N-1 violations the plan's scenario did not require; say how many."""
    v = result.violations
    is_n1 = (v["kind"] == "n1_overload").to_numpy()
    if not is_n1.any():
        return []
    required = np.zeros(len(v), dtype=bool)
    if n1.enabled:
        required = is_n1.copy()
        if n1.from_year is not None:
            required &= v["year"].astype(int).to_numpy() >= int(n1.from_year)
        if isinstance(n1.outages, list):
            required &= v["outage_id"].astype(str).isin([str(o) for o in n1.outages]).to_numpy()
        if n1.snapshots == "peak":
            peaks = [s.name for s in plan_sc.grid.snapshots if s.peak] or [
                plan_sc.grid.snapshots[0].name
            ]
            required &= v["snapshot"].astype(str).isin(peaks).to_numpy()
    dropped = int((is_n1 & ~required).sum())
    result.violations = v[~is_n1 | required].reset_index(drop=True)
    if not dropped:
        return []
    return [
        f"--as-planned: {dropped} N-1 overload(s) the plan did not require (grid.n_minus_1) "
        "are not counted as violations; they stay in the N-1 table"
    ]


# --------------------------------------------------------------------------- computing


def _positions(
    index: pd.Index,
    ids: pd.Series,
    what: str,
    file: str,
    fld: str,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Positions of ``ids`` in ``index``; an :class:`InputError` naming unknown IDs.

    ``rows``: the 0-based data row of each ID in its file (default: its position).
    """
    pos = index.get_indexer(pd.Index(ids.astype(str)))
    bad = np.flatnonzero(pos < 0)
    rows = np.arange(len(ids)) if rows is None else np.asarray(rows)
    if len(bad):
        unknown = sorted(set(ids.iloc[bad].astype(str)))
        raise InputError(
            [
                Problem(
                    f"{len(bad)} row(s) name {what} not in the grid: "
                    + ", ".join(f"'{u}'" for u in unknown[:5])
                    + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
                    + f"; expected {what} IDs such as "
                    + ", ".join(f"'{i}'" for i in list(index[:5])),
                    file=file,
                    row=int(rows[bad[0]]) + 1,
                    field=fld,
                )
            ],
            what="plan",
        )
    return pos


def _year_positions(years: list[int], values: pd.Series, file: str) -> np.ndarray:
    """Positions of ``values`` in the planning years (see :func:`_scenario_positions`)."""
    return _scenario_positions(years, values.astype(np.int64), file, "year", "planning years")


def _snapshot_positions(snap_names: list[str], values: pd.Series, file: str) -> np.ndarray:
    """Positions of ``values`` in the plan's snapshots (see :func:`_scenario_positions`)."""
    return _scenario_positions(snap_names, values.astype(str), file, "snapshot", "snapshots")


def _scenario_positions(
    known: list, values: pd.Series, file: str, field: str, what: str
) -> np.ndarray:
    """Positions of ``values`` in ``known`` (the plan scenario's years or snapshots); an
    :class:`InputError` naming the first row whose value the scenario does not have."""
    pos = pd.Index(known).get_indexer(values)
    bad = np.flatnonzero(pos < 0)
    if len(bad):
        raise InputError(
            Problem(
                f"{field}(s) {sorted(set(values.iloc[bad].tolist()))[:5]} are not {what} of "
                f"the plan's scenario {known}",
                file=file,
                row=int(bad[0]) + 1,
                field=field,
            ),
            what="plan",
        )
    return pos


def _no_repeats(df: pd.DataFrame, key: list[str], file: str) -> None:
    """An :class:`InputError` when two rows share ``key`` (they would count twice)."""
    dup = np.flatnonzero(df.duplicated(key).to_numpy())
    if len(dup):
        first = df.iloc[dup[0]]
        raise InputError(
            Problem(
                f"{len(dup)} row(s) repeat a ({', '.join(key)}) of an earlier row, first "
                f"({', '.join(str(first[k]) for k in key)}); expected one row each",
                file=file,
                row=int(dup[0]) + 1,
            ),
            what="plan",
        )


def _emergency(grid: Grid, branch_ids: pd.Index, normal: np.ndarray) -> np.ndarray:
    """``rating_emergency_mw`` per in-service branch, ``rating_mw`` where missing [MW]."""
    br = grid.branches
    if "rating_emergency_mw" not in br.columns:
        return normal.copy()
    e = pd.to_numeric(br["rating_emergency_mw"], errors="coerce")
    e.index = br.index.astype(str)
    e = e.reindex(branch_ids).to_numpy(dtype=float)
    return np.where(np.isnan(e), normal, e)


def _upgrade_additions(
    upgrades: pd.DataFrame,
    asset: str,
    index: pd.Index,
    known: pd.Index,
    years: list[int],
    file: str,
    notes: list[str],
) -> np.ndarray:
    """MW added to each ``index`` element per year by the upgrades of one asset kind."""
    out = np.zeros((len(index), len(years)))
    up = upgrades[upgrades["asset"] == asset]
    if up.empty:
        return out
    what = "branch" if asset == "branch" else "bus (substation)"
    _positions(
        known,
        up["asset_id"],
        what,
        file,
        "asset_id",
        rows=np.flatnonzero(upgrades["asset"] == asset),
    )
    pos = index.get_indexer(pd.Index(up["asset_id"].astype(str)))
    off = up["asset_id"][pos < 0]
    if len(off):
        notes.append(
            f"{len(off)} upgrade(s) of branches out of service ignored: "
            + ", ".join(f"'{b}'" for b in off.head(5))
        )
    on = pos >= 0
    in_service = np.asarray(years)[None, :] >= up["year"].to_numpy()[on][:, None]
    np.add.at(out, pos[on], in_service * up["added_mw"].to_numpy()[on][:, None])
    return out


def _top_pairs(load_pct: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the ``n`` largest entries of a 2-D array (any order)."""
    flat = load_pct.ravel()
    n = min(n, flat.size)
    if n <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    idx = np.argpartition(-flat, n - 1)[:n]
    rows, cols = np.unravel_index(idx, load_pct.shape)
    return rows, cols


@dataclass
class _Layout:
    """The columns of the check's (bus or branch, column) arrays: one per year and snapshot.

    Column ``c`` is year position ``col_year[c]`` and snapshot position ``col_snap[c]``
    (``c = year position * ns + snapshot position``).

    Attributes
    ----------
    years
        The planning years.
    snap_names
        The snapshots, in the scenario's order.
    col_year, col_snap
        Year and snapshot position of each column.
    load_factor
        Per snapshot [fraction of the peak base load].
    is_peak
        Per snapshot: flagged ``peak``.
    peak_name
        The first snapshot flagged ``peak`` (else the first).
    """

    years: list[int]
    snap_names: list[str]
    col_year: np.ndarray
    col_snap: np.ndarray
    load_factor: np.ndarray
    is_peak: np.ndarray
    peak_name: str

    @property
    def ny(self) -> int:
        """Number of years."""
        return len(self.years)

    @property
    def ns(self) -> int:
        """Number of snapshots."""
        return len(self.snap_names)

    @property
    def n_col(self) -> int:
        """Number of columns (years x snapshots)."""
        return self.ny * self.ns


def _layout(years: list[int], snapshots: pd.DataFrame) -> _Layout:
    """The columns of the check for ``years`` and ``snapshots`` (``load_factor``, ``peak``).

    Parameters
    ----------
    years
        The planning years.
    snapshots
        Indexed by snapshot name: ``load_factor`` [fraction], ``peak`` (bool).
    """
    snap_names = [str(s) for s in snapshots.index]
    ny, ns = len(years), len(snap_names)
    lf = snapshots["load_factor"].to_numpy(dtype=float)
    is_peak = snapshots["peak"].to_numpy(dtype=bool)
    peak_pos = int(np.flatnonzero(is_peak)[0]) if is_peak.any() else 0
    return _Layout(
        years=years,
        snap_names=snap_names,
        col_year=np.repeat(np.arange(ny), ns),
        col_snap=np.tile(np.arange(ns), ny),
        load_factor=lf,
        is_peak=is_peak,
        peak_name=snap_names[peak_pos],
    )


@dataclass
class _Dispatch:
    """``dispatch.csv`` placed on the grid and on the check's columns.

    Attributes
    ----------
    rows
        The table (0-based index).
    gen
        Position of each row's generator among the grid's generators.
    snap
        Snapshot position of each row.
    p_mw
        Output of each row [MW].
    on
        Per generator of the grid: in service.
    injection_mw
        Generation per bus and column (nb, n_col) [MW].
    abs_mw
        Sum of ``|p|`` per bus and column (nb, n_col) [MW] (for the rounding allowance).
    """

    rows: pd.DataFrame
    gen: np.ndarray
    snap: np.ndarray
    p_mw: np.ndarray
    on: np.ndarray
    injection_mw: np.ndarray
    abs_mw: np.ndarray


def _read_dispatch(
    dispatch: pd.DataFrame,
    grid: Grid,
    bus_ids: pd.Index,
    lay: _Layout,
    file: str,
    notes: list[str],
) -> _Dispatch:
    """Place the dispatch rows on the grid's buses and generators and on the columns.

    Parameters
    ----------
    dispatch
        ``gen_id, bus_id, year, snapshot, p_mw`` [MW].
    grid
        The grid checked.
    bus_ids
        The DC network's buses, in its order.
    lay
        The check's columns.
    file
        ``dispatch.csv``'s path, for the messages.
    notes
        Gets a note when rows put a generator at another bus than the grid does.

    Raises
    ------
    siting.core.errors.InputError
        A row names a year, snapshot, bus or generator the plan or grid does not have, two
        rows repeat a generator, year and snapshot, or a year and snapshot has no rows.
    """
    nb, ns, n_col = len(bus_ids), lay.ns, lay.n_col
    disp = dispatch.reset_index(drop=True)
    d_year = _year_positions(lay.years, disp["year"], file)
    d_snap = _snapshot_positions(lay.snap_names, disp["snapshot"], file)
    _no_repeats(disp, ["gen_id", "year", "snapshot"], file)
    d_bus = _positions(bus_ids, disp["bus_id"], "bus", file, "bus_id")
    d_col = d_year * ns + d_snap
    gens = grid.generators
    gen_ids = pd.Index(gens.index.astype(str))
    d_gen = _positions(gen_ids, disp["gen_id"], "generator", file, "gen_id")
    on = (
        gens["in_service"].fillna(True).astype(bool).to_numpy()
        if "in_service" in gens.columns
        else np.ones(len(gens), bool)
    )
    _dispatch_covers(d_col, len(disp), on, lay, file)
    p = disp["p_mw"].to_numpy(dtype=float)
    gen_inj = np.zeros((nb, n_col))
    gen_abs = np.zeros((nb, n_col))
    np.add.at(gen_inj, (d_bus, d_col), p)
    np.add.at(gen_abs, (d_bus, d_col), np.abs(p))
    grid_bus = gens["bus_id"].astype(str).to_numpy()[d_gen]
    moved = np.flatnonzero(grid_bus != disp["bus_id"].astype(str).to_numpy())
    if len(moved):
        notes.append(
            f"{len(moved)} dispatch row(s) put a generator at another bus than the grid does "
            f"(first: '{disp['gen_id'].iloc[moved[0]]}' at '{disp['bus_id'].iloc[moved[0]]}', "
            f"grid: '{grid_bus[moved[0]]}'); dispatch.csv's bus_id is used"
        )
    return _Dispatch(
        rows=disp, gen=d_gen, snap=d_snap, p_mw=p, on=on, injection_mw=gen_inj, abs_mw=gen_abs
    )


def _dispatch_covers(
    d_col: np.ndarray, n_rows: int, on: np.ndarray, lay: _Layout, file: str
) -> None:
    """Check that the dispatch has rows for every year and snapshot.

    Parameters
    ----------
    d_col
        Column of each dispatch row.
    n_rows
        Number of dispatch rows.
    on
        Per generator of the grid: in service.
    lay
        The check's columns.
    file
        ``dispatch.csv``'s path, for the messages.

    Raises
    ------
    siting.core.errors.InputError
        A year and snapshot without rows, or no rows while the grid has generators in
        service.
    """
    if n_rows:
        seen = np.zeros(lay.n_col, bool)
        seen[d_col] = True
        if not seen.all():
            c = int(np.flatnonzero(~seen)[0])
            raise InputError(
                Problem(
                    f"no rows for year {lay.years[lay.col_year[c]]}, snapshot "
                    f"'{lay.snap_names[lay.col_snap[c]]}'"
                    f" ({int((~seen).sum())} year-snapshot pair(s) missing); expected one row "
                    "per generator, year and snapshot, as siting plan writes",
                    file=file,
                ),
                what="plan",
            )
    elif on.any():
        raise InputError(
            Problem(
                f"no rows, but the grid has {int(on.sum())} in-service generator(s); expected "
                "one row per generator, year and snapshot, as siting plan writes",
                file=file,
            ),
            what="plan",
        )


@dataclass
class _Campus:
    """``schedule.csv`` placed on the grid's buses and on the check's columns.

    Attributes
    ----------
    bus
        Bus position of each row.
    year
        Year position of each row.
    peak_draw_mw
        Peak draw of each row [MW].
    abs_mw
        Sum of ``|draw|`` per bus and column (nb, n_col) [MW] (for the rounding allowance).
    draw_mw
        Campus draw per bus and column (nb, n_col) [MW]: the peak draw in snapshots flagged
        ``peak``, the typical draw in the others, less the plan's draw relief.
    peak_relief_mw
        Relief of the campuses' peak draw per bus and year (nb, ny) [MW] (None: none).
    """

    bus: np.ndarray
    year: np.ndarray
    peak_draw_mw: np.ndarray
    abs_mw: np.ndarray
    draw_mw: np.ndarray
    peak_relief_mw: np.ndarray | None = None


def _read_campuses(schedule: pd.DataFrame, bus_ids: pd.Index, lay: _Layout, file: str) -> _Campus:
    """Place the campus schedule on the grid's buses and on the columns.

    Parameters
    ----------
    schedule
        ``site_id, year, bus_id, peak_draw_mw, typical_draw_mw`` [MW].
    bus_ids
        The DC network's buses, in its order.
    lay
        The check's columns.
    file
        ``schedule.csv``'s path, for the messages.

    Raises
    ------
    siting.core.errors.InputError
        Two rows repeat a site and year, or a row names a year or bus the plan or grid does
        not have.
    """
    nb, ns, n_col = len(bus_ids), lay.ns, lay.n_col
    sched = schedule.reset_index(drop=True)
    _no_repeats(sched, ["site_id", "year"], file)
    s_year = _year_positions(lay.years, sched["year"], file)
    s_bus = _positions(bus_ids, sched["bus_id"], "bus", file, "bus_id")
    peak_draw = sched["peak_draw_mw"].to_numpy(dtype=float)
    typ_draw = sched["typical_draw_mw"].to_numpy(dtype=float)
    draw = np.where(lay.is_peak[None, :], peak_draw[:, None], typ_draw[:, None])  # (rows, ns)
    camp = np.zeros((nb, n_col))
    np.add.at(
        camp,
        (np.repeat(s_bus, ns), (s_year[:, None] * ns + np.arange(ns)[None, :]).ravel()),
        np.abs(draw).ravel(),
    )
    camp_signed = np.zeros((nb, n_col))
    np.add.at(
        camp_signed,
        (np.repeat(s_bus, ns), (s_year[:, None] * ns + np.arange(ns)[None, :]).ravel()),
        draw.ravel(),
    )
    return _Campus(bus=s_bus, year=s_year, peak_draw_mw=peak_draw, abs_mw=camp, draw_mw=camp_signed)


def _subtract_relief(
    campus: _Campus, relief: pd.DataFrame, bus_ids: pd.Index, lay: _Layout, file: str
) -> None:
    """Take the plan's draw relief (``draw_relief.csv``) off the campus draws per bus and
    column, and off the peak draws the substation headroom is checked against (the least
    relief of the year's peak snapshots) [MW].

    Raises
    ------
    siting.core.errors.InputError
        A row names a year, bus or snapshot the plan or grid does not have.
    """
    r_year = _year_positions(lay.years, relief["year"], file)
    r_bus = _positions(bus_ids, relief["bus_id"], "bus", file, "bus_id")
    r_snap = _positions(
        pd.Index(lay.snap_names), relief["snapshot"].astype(str), "snapshot", file, "snapshot"
    )
    mw = relief["relief_mw"].to_numpy(dtype=float)
    col = r_year * lay.ns + r_snap
    np.subtract.at(campus.draw_mw, (r_bus, col), mw)
    np.add.at(campus.abs_mw, (r_bus, col), np.abs(mw))
    per_col = np.zeros_like(campus.draw_mw)
    np.add.at(per_col, (r_bus, col), mw)
    peaks = np.flatnonzero(lay.is_peak)
    if len(peaks):
        by_year = per_col.reshape(len(bus_ids), lay.ny, lay.ns)[:, :, peaks]
        campus.peak_relief_mw = by_year.min(axis=2)


def _grid_load(grid: Grid, bus_ids: pd.Index, lay: _Layout) -> np.ndarray:
    """The grid's own demand per bus and column [MW]: base load of the year times the
    snapshot's load factor, plus the shunt demand.

    Raises
    ------
    siting.core.errors.InputError
        A bus without a base load in a planning year.
    """
    nb = len(bus_ids)
    base_load = grid.load_mw(lay.years).reindex(bus_ids).to_numpy(dtype=float)  # (nb, ny)
    bad_load = np.flatnonzero(~np.isfinite(base_load).all(axis=1))
    if len(bad_load):
        raise InputError(
            f"the grid's load_mw is missing at bus(es) {list(bus_ids[bad_load][:5])}",
            what="grid",
        )
    shunt = grid.buses["shunt_mw"] if "shunt_mw" in grid.buses.columns else None
    shunt_mw = (
        np.zeros(nb)
        if shunt is None
        else np.nan_to_num(pd.to_numeric(shunt, errors="coerce").reindex(bus_ids).to_numpy())
    )
    lf = lay.load_factor
    return (base_load[:, :, None] * lf[None, None, :]).reshape(nb, lay.n_col) + shunt_mw[:, None]


def _ratings(
    grid: Grid,
    net: DCNetwork,
    upgrades: pd.DataFrame,
    years: list[int],
    file: str,
    notes: list[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ratings per in-service branch and year with the upgrades in service [MW].

    Parameters
    ----------
    grid, net
        The grid and its DC network.
    upgrades
        ``asset, asset_id, year, added_mw`` [MW].
    years
        The planning years.
    file
        ``upgrades.csv``'s path, for the messages.
    notes
        Gets a note on upgrades of branches out of service.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        Normal and emergency rating per branch and year (m, ny) (``inf`` = unlimited) and
        the headroom added per bus and year (nb, ny) [MW].

    Raises
    ------
    siting.core.errors.InputError
        An upgrade of a branch or bus the grid does not have.
    """
    bus_ids, branch_ids = net.bus_ids, net.branch_ids
    all_branches = pd.Index(grid.branches.index.astype(str))
    add_br = _upgrade_additions(upgrades, "branch", branch_ids, all_branches, years, file, notes)
    add_bus = _upgrade_additions(upgrades, "substation", bus_ids, bus_ids, years, file, notes)
    R = net.rating_mw[:, None] + add_br  # (m, ny); inf stays inf
    E = _emergency(grid, branch_ids, net.rating_mw)[:, None] + add_br
    return R, E, add_bus


def _n0(
    net: DCNetwork,
    lay: _Layout,
    flow: np.ndarray,
    R: np.ndarray,
    E: np.ndarray,
    flow_rnd: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The flows table and the N-0 overloads.

    Parameters
    ----------
    net
        The DC network.
    lay
        The check's columns.
    flow
        Flow per branch and column (m, n_col) [MW].
    R, E
        Normal and emergency rating per branch and year (m, ny) [MW].
    flow_rnd
        Rounding allowance of each flow (m, n_col) [MW].

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame, numpy.ndarray)
        :attr:`GridCheck.flows` (no plan flows yet), the ``n0_overload`` violations, and
        the emergency rating per branch and column (m, n_col) [MW].
    """
    bus_ids, branch_ids, m = net.bus_ids, net.branch_ids, net.n_branch
    years, snap_names, col_year, col_snap = lay.years, lay.snap_names, lay.col_year, lay.col_snap
    n_col = lay.n_col
    Rc = R[:, col_year]
    lim_c = np.isfinite(Rc) & (Rc > 0)
    safe = np.where(lim_c, Rc, 1.0)
    loading = np.where(lim_c, 100.0 * np.abs(flow) / safe, 0.0)
    tol0 = TOL_ABS_MW + TOL_REL * np.where(lim_c, Rc, 0.0) + flow_rnd
    over0 = lim_c & (np.abs(flow) > Rc + tol0)
    Ec = E[:, col_year]
    flows_df = pd.DataFrame(
        {
            "branch_id": np.tile(np.asarray(branch_ids, dtype=object), n_col),
            "from_bus": np.tile(np.asarray(bus_ids[net.from_idx], dtype=object), n_col),
            "to_bus": np.tile(np.asarray(bus_ids[net.to_idx], dtype=object), n_col),
            "year": np.repeat(np.asarray(years, dtype=np.int64)[col_year], m),
            "snapshot": np.repeat(np.asarray(snap_names, dtype=object)[col_snap], m),
            "flow_mw": flow.T.ravel(),
            "rating_mw": Rc.T.ravel(),
            "rating_emergency_mw": Ec.T.ravel(),
            "loading_pct": loading.T.ravel(),
            "plan_flow_mw": np.nan,
            "plan_diff_mw": np.nan,
        }
    )
    l_idx, c_idx = np.nonzero(over0)
    v_n0 = pd.DataFrame(
        {
            "kind": "n0_overload",
            "asset": "branch",
            "id": np.asarray(branch_ids, dtype=object)[l_idx],
            "year": np.asarray(years, dtype=np.int64)[col_year[c_idx]],
            "snapshot": np.asarray(snap_names, dtype=object)[col_snap[c_idx]],
            "outage_id": "",
            "value_mw": flow[l_idx, c_idx],
            "limit_mw": Rc[l_idx, c_idx],
            "excess_mw": np.abs(flow[l_idx, c_idx]) - Rc[l_idx, c_idx],
        }
    )
    return flows_df, v_n0, Ec


def _compare_plan_flows(
    flows_df: pd.DataFrame,
    plan_flows: pd.DataFrame | None,
    lay: _Layout,
    path: Path,
    flow_rnd: np.ndarray,
    branch_ids: pd.Index,
    notes: list[str],
) -> tuple[np.ndarray, list[str]]:
    """Compare the recomputed flows with the plan's ``flows.csv`` (every snapshot; the peak
    only in older plans).

    Fills ``plan_flow_mw`` and ``plan_diff_mw`` of ``flows_df`` at the snapshots compared
    and notes flows that differ by more than the rounding of the plan's tables, rows
    missing from ``flows.csv`` and branches of it not in service.

    Parameters
    ----------
    flows_df
        :attr:`GridCheck.flows`, changed in place.
    plan_flows
        The plan's ``flows.csv`` (None or empty: nothing compared).
    lay
        The check's columns.
    path
        ``flows.csv``'s path, for the messages.
    flow_rnd
        Rounding allowance of each flow (m, n_col) [MW].
    branch_ids
        The in-service branches.
    notes
        Gets the notes.

    Returns
    -------
    (numpy.ndarray, list[str])
        The largest ``|difference|`` per year [MW] (NaN where nothing was compared) and the
        snapshots compared.
    """
    years = lay.years
    diff_by_year = np.full(lay.ny, np.nan)
    compared: list[str] = []
    if plan_flows is None or not len(plan_flows):
        return diff_by_year, compared
    pf, compared = _plan_flows(plan_flows, lay.snap_names, lay.peak_name, path, notes)
    sel = flows_df["snapshot"].isin(compared).to_numpy()
    keys = pd.MultiIndex.from_arrays(
        [flows_df["branch_id"][sel], flows_df["year"][sel], flows_df["snapshot"][sel]]
    )
    theirs = pf.reindex(keys).to_numpy(dtype=float)
    flows_df.loc[sel, "plan_flow_mw"] = theirs
    diff = flows_df.loc[sel, "flow_mw"].to_numpy() - theirs
    flows_df.loc[sel, "plan_diff_mw"] = diff
    allow = (
        TOL_ABS_MW
        + CSV_REL_PRECISION * np.abs(np.nan_to_num(theirs))
        + flow_rnd.T.ravel()[sel]  # flows_df's rows run branch-fastest, like flow.T
    )
    absdiff = np.abs(diff)
    yr = flows_df.loc[sel, "year"].to_numpy()
    for t, y in enumerate(years):
        within = (yr == y) & np.isfinite(absdiff)
        if within.any():
            diff_by_year[t] = float(absdiff[within].max())
    off = np.isfinite(absdiff) & (absdiff > allow)
    if off.any():
        j = int(np.argmax(np.where(np.isfinite(absdiff), absdiff, -1.0)))
        notes.append(
            f"{int(off.sum())} recomputed flow(s) differ from the plan's flows.csv by "
            f"more than the rounding of its tables; largest {absdiff[j]:,.3f} MW on branch "
            f"'{flows_df.loc[sel, 'branch_id'].iloc[j]}' in {yr[j]} at "
            f"'{flows_df.loc[sel, 'snapshot'].iloc[j]}'"
        )
    missing = int(np.isnan(theirs).sum())
    if missing:
        notes.append(
            f"{missing} branch-year-snapshot(s) compared have no row in the plan's "
            "flows.csv (another grid than the plan's?)"
        )
    extra = sorted(set(pf.index.get_level_values(0)) - set(branch_ids))
    if extra:
        notes.append(
            f"{len(extra)} branch(es) of the plan's flows.csv are not in service in the "
            "grid checked: " + ", ".join(f"'{b}'" for b in extra[:5])
        )
    return diff_by_year, compared


def _islands(
    net: DCNetwork,
    lay: _Layout,
    inj: np.ndarray,
    rnd: np.ndarray,
    imbalance: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each island's imbalance per column, and the ``island_imbalance`` violations.

    Parameters
    ----------
    net
        The DC network.
    lay
        The check's columns.
    inj
        Net injection per bus and column (nb, n_col) [MW].
    rnd
        Rounding allowance of each bus's injection (nb, n_col) [MW].
    imbalance
        Sum of each island's injections per column (n_islands, n_col) [MW].

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        :attr:`GridCheck.islands` and the violations.
    """
    years, snap_names, col_year, col_snap = lay.years, lay.snap_names, lay.col_year, lay.col_snap
    n_col = lay.n_col
    isl_abs = np.zeros((net.n_islands, n_col))
    np.add.at(isl_abs, net.island, np.abs(inj))
    isl_rnd = np.zeros((net.n_islands, n_col))
    np.add.at(isl_rnd, net.island, rnd)
    tol_isl = TOL_ABS_MW + TOL_REL * isl_abs + isl_rnd
    n_isl = net.n_islands
    ref_ids = np.asarray(net.bus_ids[net.ref_idx], dtype=object)
    islands = pd.DataFrame(
        {
            "year": np.repeat(np.asarray(years, dtype=np.int64)[col_year], n_isl),
            "snapshot": np.repeat(np.asarray(snap_names, dtype=object)[col_snap], n_isl),
            "island": np.tile(np.arange(n_isl), n_col),
            "reference_bus": np.tile(ref_ids, n_col),
            "imbalance_mw": imbalance.T.ravel(),
            "tolerance_mw": tol_isl.T.ravel(),
        }
    )
    i_idx, c_idx = np.nonzero(np.abs(imbalance) > tol_isl)
    v_isl = pd.DataFrame(
        {
            "kind": "island_imbalance",
            "asset": "island",
            "id": ref_ids[i_idx],
            "year": np.asarray(years, dtype=np.int64)[col_year[c_idx]],
            "snapshot": np.asarray(snap_names, dtype=object)[col_snap[c_idx]],
            "outage_id": "",
            "value_mw": imbalance[i_idx, c_idx],
            "limit_mw": 0.0,
            "excess_mw": np.abs(imbalance[i_idx, c_idx]),
        }
    )
    return islands, v_isl


def _substations(
    grid: Grid,
    bus_ids: pd.Index,
    lay: _Layout,
    campus: _Campus,
    add_bus: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Campus peak draw per bus and year against the substation headroom.

    Parameters
    ----------
    grid
        The grid (``substation_headroom_mw`` of its buses; none = no limit).
    bus_ids
        The DC network's buses, in its order.
    lay
        The check's columns.
    campus
        The campus schedule.
    add_bus
        Headroom added by upgrades per bus and year (nb, ny) [MW].

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        :attr:`GridCheck.substations` and the ``substation_headroom`` violations.
    """
    nb, ny, years = len(bus_ids), lay.ny, lay.years
    s_bus, s_year = campus.bus, campus.year
    at_bus = np.zeros((nb, ny))
    np.add.at(at_bus, (s_bus, s_year), campus.peak_draw_mw)
    if campus.peak_relief_mw is not None:
        at_bus -= campus.peak_relief_mw
    head = (
        pd.to_numeric(grid.buses["substation_headroom_mw"], errors="coerce")
        .reindex(bus_ids)
        .to_numpy(dtype=float)
        if "substation_headroom_mw" in grid.buses.columns
        else np.full(nb, np.nan)
    )
    head = np.where(np.isnan(head), np.inf, head)[:, None] + add_bus  # (nb, ny)
    has_camp = np.zeros((nb, ny), bool)
    has_camp[s_bus, s_year] = True
    b_idx, t_idx = np.nonzero(has_camp)
    substations = pd.DataFrame(
        {
            "bus_id": np.asarray(bus_ids, dtype=object)[b_idx],
            "year": np.asarray(years, dtype=np.int64)[t_idx],
            "campus_peak_mw": at_bus[b_idx, t_idx],
            "headroom_mw": head[b_idx, t_idx],
        }
    )
    fin = np.isfinite(head)
    tol_h = TOL_ABS_MW + TOL_REL * np.where(fin, head, 0.0) + CSV_REL_PRECISION * at_bus
    b_idx, t_idx = np.nonzero(fin & (at_bus > head + tol_h))
    v_sub = pd.DataFrame(
        {
            "kind": "substation_headroom",
            "asset": "bus",
            "id": np.asarray(bus_ids, dtype=object)[b_idx],
            "year": np.asarray(years, dtype=np.int64)[t_idx],
            "snapshot": lay.peak_name,
            "outage_id": "",
            "value_mw": at_bus[b_idx, t_idx],
            "limit_mw": head[b_idx, t_idx],
            "excess_mw": at_bus[b_idx, t_idx] - head[b_idx, t_idx],
        }
    )
    return substations, v_sub


def _generator_limits(gens: pd.DataFrame, disp: _Dispatch, lay: _Layout) -> pd.DataFrame:
    """The ``generator_limit`` violations: outputs outside ``[p_min_mw, p_max_mw]``.

    In non-peak snapshots the lower bound is ``min(0, p_min_mw)`` (a unit may be off); an
    out-of-service unit must give 0 MW.

    Parameters
    ----------
    gens
        The grid's generators.
    disp
        The dispatch.
    lay
        The check's columns.
    """
    d_gen, p = disp.gen, disp.p_mw
    p_max = pd.to_numeric(gens["p_max_mw"], errors="coerce").to_numpy(dtype=float)[d_gen]
    p_min = (
        pd.to_numeric(gens["p_min_mw"], errors="coerce").fillna(0.0).to_numpy(dtype=float)[d_gen]
        if "p_min_mw" in gens.columns
        else np.zeros(len(disp.rows))
    )
    g_on = disp.on[d_gen]
    hi = np.where(g_on, np.where(np.isnan(p_max), np.inf, p_max), 0.0)
    lo = np.where(g_on, np.where(lay.is_peak[disp.snap], p_min, np.minimum(p_min, 0.0)), 0.0)
    g_tol = TOL_ABS_MW + CSV_REL_PRECISION * np.abs(p)
    above = p > hi + g_tol + TOL_REL * np.where(np.isfinite(hi), np.abs(hi), 0.0)
    below = p < lo - g_tol - TOL_REL * np.abs(lo)
    g_bad = np.flatnonzero(above | below)
    g_lim = np.where(above, hi, lo)[g_bad]
    return pd.DataFrame(
        {
            "kind": "generator_limit",
            "asset": "generator",
            "id": disp.rows["gen_id"].astype(str).to_numpy()[g_bad],
            "year": disp.rows["year"].to_numpy(dtype=np.int64)[g_bad],
            "snapshot": disp.rows["snapshot"].astype(str).to_numpy()[g_bad],
            "outage_id": "",
            "value_mw": p[g_bad],
            "limit_mw": g_lim,
            "excess_mw": np.abs(p[g_bad] - g_lim),
        }
    )


@dataclass
class _N1Scan:
    """What the N-1 scan found, before it is tabled.

    Attributes
    ----------
    L
        LODF (m, m) [MW/MW] (NaN columns: radial outages).
    studied
        Positions of the outages studied (not radial).
    skipped
        IDs of the radial outages, not studied.
    snapshots
        Names of the snapshots studied.
    candidates
        Per block: ``(l, k, c, post_mw, loading_pct)`` of its highest-loaded pairs.
    violations
        Per block: ``(l, k, c, post_mw)`` of its pairs above the emergency rating.
    """

    L: np.ndarray
    studied: np.ndarray
    skipped: list[str]
    snapshots: list[str]
    candidates: list[tuple[np.ndarray, ...]]
    violations: list[tuple[np.ndarray, ...]]


def _n1_scan(
    net: DCNetwork,
    H: np.ndarray,
    lay: _Layout,
    flow: np.ndarray,
    Ec: np.ndarray,
    flow_rnd: np.ndarray,
    n1_snapshots: N1Snapshots,
    top: int,
) -> _N1Scan:
    """Post-outage flows of every non-radial outage at the N-1 snapshots, in blocks of
    outages: the violations, and the ``top`` highest loadings of each block.

    Parameters
    ----------
    net
        The DC network.
    H
        PTDF (m, nb) [MW/MW].
    lay
        The check's columns.
    flow
        Flow per branch and column (m, n_col) [MW].
    Ec
        Emergency rating per branch and column (m, n_col) [MW].
    flow_rnd
        Rounding allowance of each flow (m, n_col) [MW].
    n1_snapshots
        ``"peak"`` or ``"all"``.
    top
        Pairs kept per block.
    """
    m, branch_ids, col_snap, is_peak = net.n_branch, net.branch_ids, lay.col_snap, lay.is_peak
    L = lodf(net, H) if m else np.zeros((0, 0))
    radial = np.isnan(L).all(axis=0) if m else np.zeros(0, bool)
    K_all = np.flatnonzero(~radial)
    skipped = [str(b) for b in np.asarray(branch_ids, dtype=object)[radial]]
    n1_cols = (
        np.arange(lay.n_col)
        if n1_snapshots == "all"
        else np.flatnonzero(is_peak[col_snap] if is_peak.any() else col_snap == 0)
    )
    n1_names = [lay.snap_names[i] for i in sorted(set(col_snap[n1_cols].tolist()))]
    block = max(1, N1_BLOCK_ENTRIES // max(1, m))
    cand: list[tuple[np.ndarray, ...]] = []  # (l, k, c, post, loading) of the top pairs
    viol: list[tuple[np.ndarray, ...]] = []  # (l, k, c, post)
    absL = np.abs(L)
    for c in n1_cols:
        e_c = Ec[:, c]
        lim = np.isfinite(e_c) & (e_c > 0)
        safe_e = np.where(lim, e_c, 1.0)
        for start in range(0, len(K_all), block):
            K = K_all[start : start + block]
            nk = len(K)
            post = post_outage_flows(flow[:, c], L, K)  # (m, nk)
            post[K, np.arange(nk)] = 0.0  # the tripped branch carries nothing
            a = np.abs(post)
            pct = np.where(lim[:, None], 100.0 * a / safe_e[:, None], 0.0)
            pct[K, np.arange(nk)] = 0.0
            tol = (
                TOL_ABS_MW
                + TOL_REL * np.where(lim, e_c, 0.0)[:, None]
                + flow_rnd[:, c][:, None]
                + absL[:, K] * flow_rnd[K, c][None, :]
            )
            bad = lim[:, None] & (a > e_c[:, None] + tol)
            bad[K, np.arange(nk)] = False
            lv, kv = np.nonzero(bad)
            if len(lv):
                viol.append((lv, K[kv], np.full(len(lv), c), post[lv, kv]))
            if top:
                lt, kt = _top_pairs(pct, top)
                keep = pct[lt, kt] > LOADING_FLOOR_PCT
                lt, kt = lt[keep], kt[keep]
                cand.append((lt, K[kt], np.full(len(lt), c), post[lt, kt], pct[lt, kt]))
    return _N1Scan(
        L=L, studied=K_all, skipped=skipped, snapshots=n1_names, candidates=cand, violations=viol
    )


def _concat_parts(parts: list[tuple[np.ndarray, ...]], i: int, dtype: Any) -> np.ndarray:
    """Element ``i`` of every part, concatenated (an empty array of ``dtype`` if none)."""
    return np.concatenate([p[i] for p in parts]) if parts else np.zeros(0, dtype)


def _n1_tables(
    scan: _N1Scan,
    net: DCNetwork,
    lay: _Layout,
    flow: np.ndarray,
    Ec: np.ndarray,
    top: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``n1_overload`` violations and :attr:`GridCheck.n_1` (the ``top`` worst pairs
    per year, each pair at its worst snapshot).

    Parameters
    ----------
    scan
        What the N-1 scan found.
    net
        The DC network.
    lay
        The check's columns.
    flow
        Flow per branch and column (m, n_col) [MW].
    Ec
        Emergency rating per branch and column (m, n_col) [MW].
    top
        Pairs kept per year.
    """
    L, m, col_year, col_snap = scan.L, net.n_branch, lay.col_year, lay.col_snap
    bid = np.asarray(net.branch_ids, dtype=object)
    yrs = np.asarray(lay.years, dtype=np.int64)
    sn = np.asarray(lay.snap_names, dtype=object)
    viol, cand = scan.violations, scan.candidates
    vl, vk, vc, vp = (
        _concat_parts(viol, i, t) for i, t in enumerate((np.int64, np.int64, np.int64, float))
    )
    v_n1 = pd.DataFrame(
        {
            "kind": "n1_overload",
            "asset": "branch",
            "id": bid[vl],
            "year": yrs[col_year[vc]],
            "snapshot": sn[col_snap[vc]],
            "outage_id": bid[vk],
            "value_mw": vp,
            "limit_mw": Ec[vl, vc],
            "excess_mw": np.abs(vp) - Ec[vl, vc],
        }
    )
    cl, ck, cc, cp, cpct = (
        _concat_parts(cand, i, t)
        for i, t in enumerate((np.int64, np.int64, np.int64, float, float))
    )
    n_1 = pd.DataFrame(
        {
            "year": yrs[col_year[cc]],
            "snapshot": sn[col_snap[cc]],
            "branch_id": bid[cl],
            "outage_id": bid[ck],
            "pre_flow_mw": flow[cl, cc],
            "outage_flow_mw": flow[ck, cc],
            "lodf": L[cl, ck] if m else np.zeros(0),
            "post_flow_mw": cp,
            "rating_emergency_mw": Ec[cl, cc],
            "loading_pct": cpct,
        }
    )
    n_1 = (
        n_1.sort_values(
            ["year", "loading_pct", "branch_id", "outage_id"],
            ascending=[True, False, True, True],
            kind="stable",
        )
        .drop_duplicates(["year", "branch_id", "outage_id"])
        .groupby("year", sort=True)
        .head(top)
        .reset_index(drop=True)
    )
    return v_n1, n_1


def _all_violations(parts: list[pd.DataFrame], snap_names: list[str]) -> pd.DataFrame:
    """The violations of every kind, by kind (:data:`VIOLATION_KINDS`), year, snapshot and
    largest excess first."""
    parts = [v for v in parts if len(v)]
    violations = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame({c: pd.Series(dtype=object) for c in _VIOLATION_COLUMNS})
    )
    violations = violations[_VIOLATION_COLUMNS]
    if len(violations):
        order = {k: i for i, k in enumerate(VIOLATION_KINDS)}
        snap_order = {s: i for i, s in enumerate(snap_names)}
        violations = (
            violations.assign(
                _k=violations["kind"].map(order),
                _s=violations["snapshot"].map(snap_order),
            )
            .sort_values(["_k", "year", "_s", "excess_mw"], ascending=[True, True, True, False])
            .drop(columns=["_k", "_s"])
            .reset_index(drop=True)
        )
    return violations


def _skipped_note(skipped: list[str], m: int) -> str:
    """The note naming the radial outages skipped (the first 10)."""
    return (
        f"{len(skipped)} of {m} branch outage(s) split the network (radial) and were "
        "skipped: "
        + ", ".join(f"'{b}'" for b in skipped[:10])
        + (f" and {len(skipped) - 10} more" if len(skipped) > 10 else "")
    )


def _check_arguments(n1_snapshots: str, top: int) -> None:
    """Raise an :class:`InputError` on an unknown ``n1_snapshots`` or a negative ``top``."""
    if n1_snapshots not in ("peak", "all"):
        raise InputError(f"n1_snapshots must be 'peak' or 'all', got {n1_snapshots!r}")
    if top < 0:
        raise InputError(f"top must be >= 0, got {top}")


def _injections(
    grid: Grid,
    net: DCNetwork,
    schedule: pd.DataFrame,
    dispatch: pd.DataFrame,
    lay: _Layout,
    base: Path,
    notes: list[str],
    relief: pd.DataFrame | None = None,
) -> tuple[_Dispatch, _Campus, np.ndarray]:
    """The plan's dispatch and campuses on the grid, and the net injections they make.

    Parameters
    ----------
    grid, net
        The grid and its DC network.
    schedule, dispatch
        The plan's ``schedule.csv`` and ``dispatch.csv``.
    lay
        The check's columns.
    base
        The plan folder, for the messages.
    notes
        Gets the notes on the way.
    relief
        The plan's ``draw_relief.csv`` (None: none), subtracted from the campus draws.

    Returns
    -------
    (_Dispatch, _Campus, numpy.ndarray)
        The dispatch, the campuses, and the net injection per bus and column, dispatch minus
        load minus shunt demand minus campus draw (nb, n_col) [MW].
    """
    f_sched, f_disp = (str(base / n) for n in ("schedule.csv", "dispatch.csv"))
    disp = _read_dispatch(dispatch, grid, net.bus_ids, lay, f_disp, notes)
    campus = _read_campuses(schedule, net.bus_ids, lay, f_sched)
    if relief is not None and len(relief):
        _subtract_relief(campus, relief, net.bus_ids, lay, str(base / RELIEF_FILE))
    load = _grid_load(grid, net.bus_ids, lay)
    return disp, campus, disp.injection_mw - load - campus.draw_mw


def _dc_flows(net: DCNetwork, inj: np.ndarray, n_col: int) -> tuple[np.ndarray, np.ndarray]:
    """DC flows of every column, the islands left unbalanced (:func:`siting.network.dc_flow`
    with ``balance=False``).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Flow per branch and column (m, n_col) and each island's imbalance, the sum of its
        injections (n_islands, n_col) [MW].
    """
    res = dc_flow(net, inj, balance=False)
    flow = np.asarray(res.flow_mw).reshape(net.n_branch, n_col)
    imbalance = -np.asarray(res.slack_mw).reshape(net.n_islands, n_col)
    return flow, imbalance


def _rounding(
    net: DCNetwork, disp: _Dispatch, campus: _Campus, n_col: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rounding allowance of the CSV tables.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        The allowance of each bus's injection (nb, n_col) [MW], the PTDF (m, nb) [MW/MW]
        (reference-bus slack: where ``balance=False`` puts an island's imbalance), and the
        allowance of each flow, ``|PTDF| @ rnd`` (m, n_col) [MW].
    """
    rnd = CSV_REL_PRECISION * (disp.abs_mw + campus.abs_mw)  # (nb, n_col) [MW]
    H = ptdf(net)  # reference-bus slack: where balance=False puts an island's imbalance
    flow_rnd = np.abs(H) @ rnd if net.n_branch else np.zeros((0, n_col))  # (m, n_col)
    return rnd, H, flow_rnd


def check_grid(
    grid: Grid,
    schedule: pd.DataFrame,
    dispatch: pd.DataFrame,
    *,
    years: Sequence[int],
    snapshots: pd.DataFrame,
    plan_flows: pd.DataFrame | None = None,
    upgrades: pd.DataFrame | None = None,
    n1_snapshots: N1Snapshots = "peak",
    top: int = DEFAULT_TOP,
    plan_dir: str | Path = "",
    relief: pd.DataFrame | None = None,
) -> GridCheck:
    """Recompute a plan's flows, N-1 and limits from its tables (see the module docstring).

    Parameters
    ----------
    grid
        The grid (with any derates and outages applied).
    schedule
        ``site_id, year, bus_id, peak_draw_mw, typical_draw_mw`` [MW].
    dispatch
        ``gen_id, bus_id, year, snapshot, p_mw`` [MW], one row per in-service generator,
        year and snapshot.
    years
        The planning years.
    snapshots
        Indexed by snapshot name: ``load_factor`` [fraction of the peak base load],
        ``peak`` (bool).
    plan_flows
        The plan's ``flows.csv`` to compare with, if any: ``branch_id, year, snapshot,
        flow_mw`` (every snapshot), or without ``snapshot`` (an older plan: the peak
        snapshot's rows, compared with the peak alone).
    upgrades
        ``asset`` (``branch``/``substation``), ``asset_id``, ``year`` (first year in
        service), ``added_mw`` [MW]; ``None`` = no upgrades.
    n1_snapshots
        ``"peak"`` (snapshots flagged ``peak``, else the first) or ``"all"``.
    top
        Worst (branch, outage) pairs kept per year (>= 0).
    plan_dir
        For the messages: the folder the tables came from.

    Returns
    -------
    GridCheck

    Raises
    ------
    siting.core.errors.InputError
        A table names a bus, generator, branch, year or snapshot the grid or the scenario
        does not have, or the dispatch misses a year and snapshot.
    """
    t0 = time.perf_counter()
    _check_arguments(n1_snapshots, top)
    base = Path(plan_dir)
    years = [int(y) for y in years]
    net = dc_network(grid)
    notes = list(net.notes)
    m = net.n_branch
    lay = _layout(years, snapshots)

    # --- injections: dispatch - load - shunt - campus draw, (bus, column); DC flows -------
    disp, campus, inj = _injections(grid, net, schedule, dispatch, lay, base, notes, relief)
    flow, imbalance = _dc_flows(net, inj, lay.n_col)
    t_flow = time.perf_counter() - t0
    rnd, H, flow_rnd = _rounding(net, disp, campus, lay.n_col)

    # --- ratings with upgrades, N-0, the plan's own flows, islands, substations, units ----
    up = upgrades if upgrades is not None else pd.DataFrame(columns=["asset", "asset_id"])
    R, E, add_bus = _ratings(grid, net, up, years, str(base / UPGRADES_FILE), notes)
    flows_df, v_n0, Ec = _n0(net, lay, flow, R, E, flow_rnd)
    diff_by_year, compared = _compare_plan_flows(
        flows_df, plan_flows, lay, base / "flows.csv", flow_rnd, net.branch_ids, notes
    )
    islands, v_isl = _islands(net, lay, inj, rnd, imbalance)
    substations, v_sub = _substations(grid, net.bus_ids, lay, campus, add_bus)
    v_gen = _generator_limits(grid.generators, disp, lay)
    t_n0 = time.perf_counter() - t0 - t_flow

    # --- N-1 ------------------------------------------------------------------------------
    scan = _n1_scan(net, H, lay, flow, Ec, flow_rnd, n1_snapshots, top)
    t_n1 = time.perf_counter() - t0 - t_flow - t_n0
    v_n1, n_1 = _n1_tables(scan, net, lay, flow, Ec, top)

    # --- violations, per-year summary --------------------------------------------------------
    violations = _all_violations([v_n0, v_n1, v_sub, v_isl, v_gen], lay.snap_names)
    years_df = _summary(years, flows_df, n_1, violations, islands, diff_by_year, n1_violations=v_n1)
    if scan.skipped:
        notes.append(_skipped_note(scan.skipped, m))
    return GridCheck(
        flows=flows_df,
        n_1=n_1,
        violations=violations,
        years=years_df,
        islands=islands,
        substations=substations,
        upgrades=up.reset_index(drop=True),
        skipped_outages=scan.skipped,
        outages_studied=int(len(scan.studied)),
        n1_snapshots=scan.snapshots,
        peak_snapshot=lay.peak_name,
        compared_snapshots=compared,
        notes=notes,
        timings={"flows_s": t_flow, "n0_s": t_n0, "n1_s": t_n1},
        plan_dir=str(plan_dir),
        grid_source=grid.source,
    )


def _plan_flows(
    plan_flows: pd.DataFrame, snap_names: list[str], peak: str, path: Path, notes: list[str]
) -> tuple[pd.Series, list[str]]:
    """The plan's flows by (branch, year, snapshot) [MW], and the snapshots they cover.

    A ``flows.csv`` without a ``snapshot`` column (written before it held every snapshot)
    holds the peak snapshot's flows: they are taken as ``peak``'s, and a note says only the
    peak was compared.

    Raises
    ------
    siting.core.errors.InputError
        A row names a snapshot the plan's scenario does not have.
    """
    pf = plan_flows.assign(branch_id=plan_flows["branch_id"].astype(str))
    if "snapshot" not in pf.columns:
        notes.append(
            "the plan's flows.csv has no snapshot column (written before it held every "
            f"snapshot): its rows are the peak snapshot's, so only '{peak}' was compared"
        )
        pf["snapshot"] = peak
        compared = [peak]
    else:
        pf["snapshot"] = pf["snapshot"].astype(str)
        _snapshot_positions(snap_names, pf["snapshot"], str(path))
        compared = list(snap_names)
    key = ["branch_id", "year", "snapshot"]
    return pf.drop_duplicates(key).set_index(key)["flow_mw"], compared


def _summary(
    years: list[int],
    flows: pd.DataFrame,
    n_1: pd.DataFrame,
    violations: pd.DataFrame,
    islands: pd.DataFrame,
    diff_by_year: np.ndarray,
    n1_violations: pd.DataFrame,
) -> pd.DataFrame:
    """One row per year (see :attr:`GridCheck.years`)."""
    rows = []
    for t, y in enumerate(years):
        fy = flows[flows["year"] == y]
        row: dict[str, Any] = {"year": y}
        if len(fy):
            j = fy["loading_pct"].idxmax()
            row |= {
                "max_loading_pct": as_float(fy.at[j, "loading_pct"]),
                "max_loading_branch": str(fy.at[j, "branch_id"]),
                "max_loading_snapshot": str(fy.at[j, "snapshot"]),
            }
        else:
            row |= {"max_loading_pct": 0.0, "max_loading_branch": "", "max_loading_snapshot": ""}
        vy = violations[violations["year"] == y]
        row["overloaded_branches"] = int(vy.loc[vy["kind"] == "n0_overload", "id"].nunique())
        ny1 = n_1[n_1["year"] == y]
        if len(ny1):
            w = ny1.iloc[0]
            row |= {
                "n1_max_loading_pct": float(w["loading_pct"]),
                "n1_worst_branch": str(w["branch_id"]),
                "n1_worst_outage": str(w["outage_id"]),
                "n1_worst_snapshot": str(w["snapshot"]),
            }
        else:
            row |= {
                "n1_max_loading_pct": float("nan"),
                "n1_worst_branch": "",
                "n1_worst_outage": "",
                "n1_worst_snapshot": "",
            }
        row["n1_violations"] = int((n1_violations["year"] == y).sum()) if len(n1_violations) else 0
        row["substation_violations"] = int((vy["kind"] == "substation_headroom").sum())
        iy = islands.loc[islands["year"] == y, "imbalance_mw"]
        row["max_imbalance_mw"] = float(iy.abs().max()) if len(iy) else 0.0
        row["plan_flow_max_diff_mw"] = float(diff_by_year[t])
        row["violations"] = int(len(vy))
        rows.append(row)
    return pd.DataFrame(rows)
