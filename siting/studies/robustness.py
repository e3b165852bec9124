"""Robustness over a sweep: how often each candidate site is chosen, and in which year.

:func:`robustness` reads a sweep's output folder (as :func:`siting.studies.sweep.run_sweep` writes
it, finished or not) and counts, for every site that at least one plan chose, in how many
of the scenarios with a plan it is chosen, its first year of service in each, the share
of plans with it in service by each planning year, and its final IT MW, cooling and bus.
:func:`write_robustness` writes the result, atomically as one folder, to
``<out>/robustness/``:

``robustness.csv``
    One row per site chosen by at least one plan (candidates never chosen are left out
    of the table; the map shows them as faint dots). Columns:

    - ``candidate_set``: the set of candidates the counts are taken over (``A``, ``B``
      ...; one set unless the sweep varies the candidates, see below);
    - ``site_id``, ``name``;
    - ``scenarios_with_plan`` [count]: plans over this site's candidate set;
    - ``times_chosen`` [count]: plans that build the site (IT MW > 0 in some year);
    - ``selection_frequency`` [fraction 0..1]: ``times_chosen / scenarios_with_plan``;
    - ``first_year_<YYYY>`` [count]: plans whose first year of the site is YYYY;
    - ``built_by_<YYYY>`` [fraction 0..1]: share of the plans with the site in service
      in or before YYYY;
    - ``it_mw_final_min`` / ``_median`` / ``_max`` [MW]: the site's IT MW in the plan's
      last year, over the plans that choose it;
    - ``cooling_most_common``, ``cooling_mix`` (``"air 3, evaporative 1"``), ``bus_id``
      (most common);
    - ``lon_deg``, ``lat_deg`` [degrees, EPSG:4326]: a point inside the site.

    Rows are sorted by selection frequency (highest first), then times chosen, then ID.
``robustness.geojson``
    The same rows with the site's geometry from the plans' ``candidates`` layer (a cell's
    polygon, a parcel or a point), in EPSG:4326.
``robustness.svg``
    The sites chosen most often (:data:`TOP_SITES`): one bar per site, its length the
    selection frequency, split by the first year.
``robustness.html``
    An offline map (Leaflet inlined, as :mod:`siting.render.maps`): the sites coloured and sized
    by selection frequency (legend with the scale), popups with their figures, the
    candidates never chosen, and the region outline, substations and branches of one plan.
``scenarios.csv``
    Every scenario: name, key, status, whether it counts (``outcome``: ``plan``,
    ``failed`` or ``skipped``), why not, and its candidate set.
``robustness.json``
    The counts, the planning years and the notes (also what ``siting robustness --json``
    prints).

Scenarios without a plan (``failed.json``: infeasible, bad input ...) are left out and
counted as failed; scenarios not run yet (or whose plan folder is gone) are left out and
counted as skipped. With no plan at all the csv holds only its header and the notes say
why.

**Candidate sets.** A site ID means the same place only among plans with the same
candidates. Plans are grouped by their candidates (IDs and coordinates, from each plan's
``candidates`` layer); when a sweep varies the candidates (``candidates.cell_km`` ...)
there is more than one set, a note says so, and each set is counted on its own (its rows
carry the set's letter and its own ``scenarios_with_plan``), never mixed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from siting.core.cells import as_float
from siting.core.errors import InputError, Problem
from siting.core.files import path_problem
from siting.core.io import OutputOwner, read_owner, staged_folder
from siting.core.plan_files import (
    plan_layer_names,
    raise_plan_problems,
    read_manifest,
    read_plan_layer,
    read_plan_table,
)
from siting.render.html import (
    clean_json_value,
    esc,
    feature_collection,
    fmt_num,
    popup_number,
    popup_rows,
    svg_legend,
    svg_text,
)
from siting.render.html import svg as svg_doc
from siting.render.report import PALETTE

if TYPE_CHECKING:
    import geopandas as gpd

#: Sites drawn in ``robustness.svg`` and printed by ``siting robustness``.
TOP_SITES = 20
#: Name of the output folder inside the sweep's output folder.
FOLDER = "robustness"
#: Selection frequency bins [fraction, upper bound inclusive], colours and labels of the map
#: (a sequential yellow-to-red ramp, light = rarely chosen).
FREQ_BINS = (
    (0.2, "#fed976", "up to 20 %"),
    (0.4, "#feb24c", "20 to 40 %"),
    (0.6, "#fd8d3c", "40 to 60 %"),
    (0.8, "#f03b20", "60 to 80 %"),
    (1.0, "#bd0026", "80 to 100 %"),
)
#: Colour of the candidates never chosen on the map.
NEVER_COLOUR = "#888888"

_SUMMARY = "summary.csv"
_SCENARIO, _RESULT, _DONE, _FAILED = "scenario.yaml", "result.json", "done.json", "failed.json"
_SCHEDULE_COLS = ("site_id", "year", "it_mw")
_SET_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass
class Robustness:
    """How often each site is chosen across the scenarios of a sweep.

    Attributes
    ----------
    sweep_out
        The sweep's output folder.
    sites
        The rows of ``robustness.csv`` (see the module docstring for the columns and
        units) with a ``geometry`` column (the site's candidate geometry, EPSG:4326).
    years
        Planning years over all plans (the ``first_year_*`` / ``built_by_*`` columns).
    scenarios
        One row per scenario: ``name, key, status, outcome, reason, candidate_set,
        plan_dir`` (``outcome``: ``plan``, ``failed`` or ``skipped``).
    scenarios_total, scenarios_with_plan, failed, skipped
        Counts of scenarios [count].
    candidate_sets
        Number of distinct candidate sets among the plans (1 unless the sweep varies the
        candidates).
    notes
        What the reader should know (exclusions, candidate sets, missing layers).
    """

    sweep_out: Path
    sites: pd.DataFrame
    years: list[int]
    scenarios: pd.DataFrame
    scenarios_total: int
    scenarios_with_plan: int
    failed: int
    skipped: int
    candidate_sets: int
    notes: list[str] = field(default_factory=list)
    never_chosen: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    context_plan: Path | None = None

    def table(self) -> pd.DataFrame:
        """The rows of ``robustness.csv`` (no geometry)."""
        return self.sites.drop(columns=["geometry"], errors="ignore")

    def as_dict(self, top: int | None = TOP_SITES) -> dict[str, Any]:
        """Counts, years, notes and the ``top`` rows (all with ``None``), JSON-ready."""
        rows = self.table() if top is None else self.table().head(top)
        return {
            "sweep_out": str(self.sweep_out),
            "scenarios_total": self.scenarios_total,
            "scenarios_with_plan": self.scenarios_with_plan,
            "failed": self.failed,
            "skipped": self.skipped,
            "candidate_sets": self.candidate_sets,
            "years": self.years,
            "sites_ever_chosen": int(len(self.sites)),
            "notes": self.notes,
            "sites": [{k: _plain(v) for k, v in r.items()} for r in rows.to_dict(orient="records")],
        }


def _plain(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(float(v)) else float(v)
    if v is pd.NA or v is None:
        return None
    return v


# --------------------------------------------------------------------------- reading


@dataclass
class _Scenario:
    name: str
    key: str
    status: str
    outcome: str  # plan | failed | skipped
    reason: str = ""
    plan_dir: Path | None = None
    candidate_set: str = ""


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read it as JSON ({e})", what="sweep output") from None
    if not isinstance(doc, dict):
        raise InputError(f"{path}: expected a JSON object", what="sweep output")
    return doc


def _summary_rows(out: Path) -> list[tuple[str, str, str]]:
    """(name, key, status) of each row of ``summary.csv``; [] without the file."""
    path = out / _SUMMARY
    if not path.is_file():
        return []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            cols = reader.fieldnames or []
            missing = [c for c in ("name", "key", "status") if c not in cols]
            if missing:
                raise InputError(
                    f"{path}: not a sweep summary (no column {', '.join(missing)}; "
                    f"got {', '.join(cols) or 'no header'})",
                    what="sweep output",
                )
            rows = [(r["name"] or "", r["key"] or "", r["status"] or "") for r in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"{path}: cannot read it ({e})", what="sweep output") from None
    for i, (_, key, _) in enumerate(rows, start=2):
        if not key or "/" in key or key.startswith("."):
            raise InputError(
                f"{path}: line {i}: '{key}' is not a scenario key", what="sweep output"
            )
    return rows


def _is_scenario_dir(d: Path) -> bool:
    return d.is_dir() and any((d / n).is_file() for n in (_SCENARIO, _DONE, _FAILED, _RESULT))


def _scenario_name(d: Path) -> str:
    for n in (_RESULT, _FAILED):
        if (d / n).is_file():
            try:
                name = json.loads((d / n).read_text(encoding="utf-8")).get("name")
            except (OSError, ValueError, AttributeError):
                name = None
            if name:
                return str(name)
    if (d / _SCENARIO).is_file():
        m = re.search(r"^name:\s*['\"]?([^'\"\n]+)", (d / _SCENARIO).read_text("utf-8"), re.M)
        if m:
            return m.group(1).strip()
    return d.name[:12]


def _scenarios(out: Path) -> tuple[list[_Scenario], int]:
    """The sweep's scenarios, and how many other scenario folders were left out.

    With ``summary.csv`` (rewritten by every run of the sweep), its rows are the sweep: a
    folder it does not list is from an earlier version of the sweep file and is left out.
    Without it (a first run stopped before its end), every scenario folder counts.
    """
    rows = _summary_rows(out)
    seen = {k for _, k, _ in rows}
    extra = sorted(
        d.name
        for d in out.iterdir()
        if not d.name.startswith(".") and d.name != FOLDER and d.name not in seen
        if _is_scenario_dir(d)
    )
    if not rows and not extra:
        raise InputError(
            f"{out}: not a sweep output folder (no {_SUMMARY} and no scenario folders with "
            f"{_SCENARIO}, {_DONE} or {_FAILED}); pass the `out` folder of a sweep "
            "(`siting sweep`) or the sweep file",
            what="sweep output",
        )
    ignored = len(extra) if rows else 0
    if not rows:
        rows = [(_scenario_name(out / k), k, "") for k in extra]
    found = []
    for name, key, status in rows:
        d = out / key
        if (d / _DONE).is_file() and (d / _RESULT).is_file():
            doc = _read_json(d / _RESULT)
            status = str(doc.get("status") or status or "done")
            cand = [Path(doc["plan_dir"])] if doc.get("plan_dir") else []
            cand.append(d / "plan")  # the sweep folder may have moved since
            plan = next((p for p in cand if (p / "schedule.csv").is_file()), None)
            if plan is None:
                found.append(
                    _Scenario(name, key, status, "skipped", f"plan folder missing ({cand[0]})")
                )
            else:
                found.append(_Scenario(name, key, status, "plan", plan_dir=plan))
        elif (d / _FAILED).is_file():
            doc = _read_json(d / _FAILED)
            status = str(doc.get("status") or "failed")
            err = " ".join(str(doc.get("error") or "").split())
            found.append(_Scenario(name, key, status, "failed", err[:200]))
        else:
            why = "not run yet" if not d.is_dir() else "not finished (no done.json/failed.json)"
            found.append(_Scenario(name, key, status or "not run", "skipped", why))
    return found, ignored


def _years(sc: _Scenario, sched: pd.DataFrame) -> list[int]:
    assert sc.plan_dir is not None
    problems: list[Problem] = []
    manifest = read_manifest(sc.plan_dir / "manifest.json", problems, required=False)
    raise_plan_problems(problems)
    ys = ((manifest or {}).get("scenario_as_run") or {}).get("years")
    if ys:
        return sorted(int(y) for y in ys)
    return sorted(int(y) for y in sched["year"].unique())


def _read_schedule(path: Path) -> pd.DataFrame:
    """A plan's ``schedule.csv``, checked (:func:`siting.core.plan_files.read_plan_table`)."""
    problems: list[Problem] = []
    s = read_plan_table(path, problems, required=_SCHEDULE_COLS)
    raise_plan_problems(problems)
    assert s is not None
    for c in ("cooling", "bus_id"):
        if c not in s.columns:
            s[c] = ""
    return s


def _signature(plan_dir: Path) -> tuple[str, int] | None:
    """A digest of the plan's candidates (IDs and coordinates) and their number; None
    without a ``candidates`` layer."""
    import pyogrio

    gpkg = plan_dir / "plan.gpkg"
    if not gpkg.is_file():
        return None
    try:
        layers = {str(n) for n, _ in pyogrio.list_layers(gpkg)}
        if "candidates" not in layers:
            return None
        info = pyogrio.read_info(gpkg, layer="candidates")
        fields = set(info["fields"])
        if {"x", "y"} <= fields:
            df = pyogrio.read_dataframe(
                gpkg, layer="candidates", columns=["site_id", "x", "y"], read_geometry=False
            )
            xs, ys = df["x"].to_numpy(float), df["y"].to_numpy(float)
        else:
            df = pyogrio.read_dataframe(gpkg, layer="candidates", columns=["site_id"])
            pts = df.geometry.representative_point()
            xs, ys = pts.x.to_numpy(), pts.y.to_numpy()
        crs = str(info.get("crs") or "")
    except Exception as e:  # noqa: BLE001  (a broken layer is reported, not a crash)
        raise InputError(
            f"{gpkg}: cannot read layer 'candidates' ({type(e).__name__}: {e})",
            what="sweep output",
        ) from None
    ids = df["site_id"].astype(str).to_numpy()
    order = np.argsort(ids, kind="stable")
    h = hashlib.sha256(crs.encode())
    for i in order:
        h.update(f"{ids[i]}|{xs[i]:.3f}|{ys[i]:.3f}\n".encode())
    return h.hexdigest(), len(ids)


def _geometries(plan_dir: Path, wanted: set[str]) -> tuple[Any, Any, list[str]]:
    """(chosen sites, candidates never chosen) of one plan in EPSG:4326, with notes.

    Chosen: every ID in ``wanted`` (from ``candidates``, else ``sites``); geometry as in
    the plan. Never chosen: the other candidates as points.
    """
    import geopandas as gpd

    notes: list[str] = []
    gpkg = plan_dir / "plan.gpkg"
    empty = gpd.GeoDataFrame({"site_id": [], "name": []}, geometry=[], crs="EPSG:4326")
    if path_problem(gpkg) == "file not found":
        return empty, empty, [f"{plan_dir}: no plan.gpkg; sites have no geometry"]
    layers = set(plan_layer_names(gpkg))
    frames = []
    for layer in ("candidates", "sites"):
        if layer in layers:
            g = read_plan_layer(gpkg, layer)
            if g.crs is not None and len(g):
                g = g.to_crs("EPSG:4326")
            g["site_id"] = g["site_id"].astype(str)
            if "name" not in g.columns:
                g["name"] = ""
            frames.append(g[["site_id", "name", "geometry"]])
    if not frames:
        return empty, empty, [f"{gpkg}: no candidates or sites layer; sites have no geometry"]
    if "candidates" not in layers:
        notes.append(f"{gpkg}: no candidates layer; the candidates never chosen are not drawn")
    allg = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
    allg = allg.drop_duplicates("site_id", keep="first")
    chosen = allg[allg["site_id"].isin(wanted)]
    never = allg[~allg["site_id"].isin(wanted)] if "candidates" in layers else empty
    if len(never):
        never = never.set_geometry(never.geometry.representative_point())
    return chosen, never, notes


def _mode(values: list[str]) -> str:
    vals = [v for v in values if v and v != "nan"]
    if not vals:
        return ""
    c = Counter(vals)
    return sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


def _mix(values: list[str]) -> str:
    c = Counter(v for v in values if v and v != "nan")
    return ", ".join(f"{k} {n}" for k, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def robustness(sweep_out: Path) -> Robustness:
    """Count how often each candidate site is chosen across a sweep's plans.

    Parameters
    ----------
    sweep_out
        A sweep's output folder (``<out>`` of the sweep file: ``summary.csv`` and one
        folder per scenario key). A sweep still running, or stopped, is fine: scenarios
        without ``done.json`` are counted as skipped.

    Returns
    -------
    Robustness
        The per-site table (fractions in 0..1, IT MW in MW, coordinates in degrees), the
        planning years, the per-scenario outcomes and the counts.

    Raises
    ------
    siting.core.errors.InputError
        Naming the folder or file when ``sweep_out`` is not a sweep output folder or one
        of its files cannot be read.
    """
    out = Path(sweep_out)
    if not out.exists():
        raise InputError(f"{out}: no such folder; expected a sweep output folder")
    if not out.is_dir():
        raise InputError(
            f"{out}: not a folder; expected a sweep output folder (the sweep file's `out`)"
        )
    scen, ignored = _scenarios(out)
    notes: list[str] = []
    if ignored:
        notes.append(
            f"{ignored} scenario folder(s) in {out} are not in its {_SUMMARY} (from an earlier "
            "version of the sweep file) and are left out"
        )
    with_plan = [s for s in scen if s.outcome == "plan"]
    sets, letters = _candidate_sets(with_plan, notes)
    long_rows, yrs = _chosen_rows(with_plan)
    n_by_set = {letters[d]: len(ss) for d, ss in sets.items()}
    table, cols = _site_rows(long_rows, yrs, n_by_set)
    sites, never_all = _with_geometry(table, cols, sets, letters, notes)
    failed = [s for s in scen if s.outcome == "failed"]
    skipped = [s for s in scen if s.outcome == "skipped"]
    _outcome_notes(scen, with_plan, failed, skipped, len(sites), notes)
    context = None
    if sets:
        biggest = max(sets.values(), key=len)
        context = biggest[0].plan_dir
    return Robustness(
        sweep_out=out,
        sites=sites,
        years=yrs,
        scenarios=_scenario_table(scen),
        scenarios_total=len(scen),
        scenarios_with_plan=len(with_plan),
        failed=len(failed),
        skipped=len(skipped),
        candidate_sets=len(sets),
        notes=notes,
        never_chosen=never_all,
        context_plan=context,
    )


def _candidate_sets(
    with_plan: list[_Scenario], notes: list[str]
) -> tuple[dict[str, list[_Scenario]], dict[str, str]]:
    """Group the plans by their candidates (IDs and coordinates, :func:`_signature`).

    Sets each plan's ``candidate_set`` letter, and appends a note to ``notes`` when there is
    more than one set.

    Returns
    -------
    tuple
        The plans by candidate digest (in the order first seen) and each digest's letter
        (``A``, ``B`` ...; ``S27`` ... past ``Z``).
    """
    sets: dict[str, list[_Scenario]] = {}
    sizes: dict[str, int] = {}
    for s in with_plan:
        assert s.plan_dir is not None
        sig = _signature(s.plan_dir)
        if sig is None:
            digest, n = "no candidates layer", 0
        else:
            digest, n = sig
        sets.setdefault(digest, []).append(s)
        sizes[digest] = n
    letters: dict[str, str] = {}
    for i, digest in enumerate(sets):
        letters[digest] = _SET_LETTERS[i] if i < len(_SET_LETTERS) else f"S{i + 1}"
        for s in sets[digest]:
            s.candidate_set = letters[digest]
    if len(sets) > 1:
        parts = [
            f"{letters[d]}: {len(ss)} plan{'s' if len(ss) != 1 else ''}, "
            + (f"{sizes[d]} candidates" if sizes[d] else "no candidates layer")
            for d, ss in sets.items()
        ]
        notes.append(
            f"the candidates differ between scenarios ({len(sets)} candidate sets: "
            + "; ".join(parts)
            + "); a site ID means the same place only within one set, so each set is "
            "counted on its own (column candidate_set), never mixed"
        )
    return sets, letters


def _chosen_rows(with_plan: list[_Scenario]) -> tuple[list[dict[str, Any]], list[int]]:
    """One row per (plan, site chosen): its first year, IT MW in its last year [MW],
    cooling and bus; and the planning years over all plans, sorted."""
    years: set[int] = set()
    long_rows = []
    for s in with_plan:
        assert s.plan_dir is not None
        sched = _read_schedule(s.plan_dir / "schedule.csv")
        years.update(_years(s, sched))
        built = sched[sched["it_mw"] > 0]
        if not len(built):
            continue
        built = built.sort_values(["site_id", "year"])
        first = built.groupby("site_id", sort=False)["year"].min()
        last = built.groupby("site_id", sort=False).tail(1).set_index("site_id")
        for sid, fy in first.items():
            r = last.loc[str(sid)]  # (site IDs are text)
            long_rows.append(
                {
                    "candidate_set": s.candidate_set,
                    "scenario": s.key,
                    "site_id": str(sid),
                    "first_year": int(fy),
                    "it_mw_final": as_float(r["it_mw"]),
                    "cooling": "" if pd.isna(r["cooling"]) else str(r["cooling"]),
                    "bus_id": "" if pd.isna(r["bus_id"]) else str(r["bus_id"]),
                }
            )
    return long_rows, sorted(years)


def _site_rows(
    long_rows: list[dict[str, Any]], yrs: list[int], n_by_set: dict[str, int]
) -> tuple[pd.DataFrame, list[str]]:
    """The counts per (candidate set, site) from :func:`_chosen_rows`' rows.

    Parameters
    ----------
    long_rows
        One row per (plan, site chosen).
    yrs
        The planning years.
    n_by_set
        Plans per candidate set [count].

    Returns
    -------
    tuple
        The table (every column of ``robustness.csv`` but ``lon_deg``, ``lat_deg``;
        fractions in 0..1, IT MW in MW) and the csv's columns in order.
    """
    rows = []
    if long_rows:
        long = pd.DataFrame(long_rows)
        for (cs, sid), g in long.groupby(["candidate_set", "site_id"], sort=False):
            n = n_by_set[str(cs)]  # (candidate sets are text)
            fy = g["first_year"].to_numpy()
            mw = g["it_mw_final"].to_numpy(float)
            row: dict[str, Any] = {
                "candidate_set": cs,
                "site_id": sid,
                "name": "",
                "scenarios_with_plan": n,
                "times_chosen": int(len(g)),
                "selection_frequency": len(g) / n,
            }
            for y in yrs:
                row[f"first_year_{y}"] = int((fy == y).sum())
            for y in yrs:
                row[f"built_by_{y}"] = float((fy <= y).sum()) / n
            row.update(
                it_mw_final_min=float(mw.min()),
                it_mw_final_median=float(np.median(mw)),
                it_mw_final_max=float(mw.max()),
                cooling_most_common=_mode(list(g["cooling"])),
                cooling_mix=_mix(list(g["cooling"])),
                bus_id=_mode(list(g["bus_id"])),
            )
            rows.append(row)
    cols = (
        ["candidate_set", "site_id", "name", "scenarios_with_plan", "times_chosen"]
        + ["selection_frequency"]
        + [f"first_year_{y}" for y in yrs]
        + [f"built_by_{y}" for y in yrs]
        + ["it_mw_final_min", "it_mw_final_median", "it_mw_final_max"]
        + ["cooling_most_common", "cooling_mix", "bus_id", "lon_deg", "lat_deg"]
    )
    table = pd.DataFrame(rows, columns=[c for c in cols if c not in ("lon_deg", "lat_deg")])
    return table, cols


def _with_geometry(
    table: pd.DataFrame,
    cols: list[str],
    sets: dict[str, list[_Scenario]],
    letters: dict[str, str],
    notes: list[str],
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The sites with their names and geometry from the first plan of each candidate set,
    a point inside each [degrees, EPSG:4326], sorted by selection frequency (highest
    first), then times chosen, set and ID; and the candidates never chosen.

    Appends to ``notes`` what the plans' layers lack.
    """
    import geopandas as gpd

    geoms, nevers = [], []
    for d, ss in sets.items():
        cs = letters[d]
        wanted = set(table.loc[table["candidate_set"] == cs, "site_id"])
        assert ss[0].plan_dir is not None
        chosen, never, more = _geometries(ss[0].plan_dir, wanted)
        notes.extend(more)
        chosen = chosen.assign(candidate_set=cs)
        never = never.assign(candidate_set=cs)
        geoms.append(chosen)
        nevers.append(never)
        gone = wanted - set(chosen["site_id"])
        if gone:
            notes.append(
                f"set {cs}: {len(gone)} chosen site(s) not in the plan's layers "
                f"({', '.join(sorted(gone)[:5])}); drawn without geometry"
            )
    if geoms:
        g = pd.concat(geoms, ignore_index=True)
        table = table.drop(columns=["name"]).merge(
            g[["candidate_set", "site_id", "name", "geometry"]],
            on=["candidate_set", "site_id"],
            how="left",
        )
        table["name"] = table["name"].fillna("").astype(str)
    else:
        table["geometry"] = None
    sites = gpd.GeoDataFrame(table, geometry="geometry", crs="EPSG:4326")
    pts = sites.geometry.representative_point() if len(sites) else sites.geometry
    sites["lon_deg"] = [round(p.x, 6) if p is not None and not p.is_empty else np.nan for p in pts]
    sites["lat_deg"] = [round(p.y, 6) if p is not None and not p.is_empty else np.nan for p in pts]
    sites = sites[[*cols, "geometry"]]
    if len(sites):
        sites = sites.sort_values(
            ["selection_frequency", "times_chosen", "candidate_set", "site_id"],
            ascending=[False, False, True, True],
            kind="stable",
        ).reset_index(drop=True)
    never_all = (
        pd.concat(nevers, ignore_index=True)
        if nevers
        else gpd.GeoDataFrame({"site_id": [], "name": []}, geometry=[], crs="EPSG:4326")
    )
    return sites, never_all


def _outcome_notes(
    scen: list[_Scenario],
    with_plan: list[_Scenario],
    failed: list[_Scenario],
    skipped: list[_Scenario],
    n_sites: int,
    notes: list[str],
) -> None:
    """Add to ``notes`` the scenarios left out (failed, skipped), the plans not proven
    optimal, and first, when so, that there was no plan or no site (``n_sites`` [count])."""
    if failed:
        st = Counter(s.status for s in failed)
        notes.append(
            f"{len(failed)} scenario(s) without a plan left out ("
            + ", ".join(f"{k} {v}" for k, v in sorted(st.items()))
            + ")"
        )
    if skipped:
        notes.append(
            f"{len(skipped)} scenario(s) not run, not finished or with their plan folder "
            "missing left out"
        )
    not_opt = [s for s in with_plan if s.status not in ("optimal",)]
    if not_opt:
        notes.append(
            f"{len(not_opt)} plan(s) not proven optimal (status "
            + ", ".join(sorted({s.status for s in not_opt}))
            + ") counted as they are"
        )
    if not with_plan:
        notes.insert(
            0,
            f"no scenario of this sweep has a plan ({len(scen)} scenario(s): {len(failed)} "
            f"failed, {len(skipped)} skipped); nothing to count",
        )
    elif not n_sites:
        notes.insert(0, "no plan chose any site")


def _scenario_table(scen: list[_Scenario]) -> pd.DataFrame:
    """The rows of ``scenarios.csv``: one per scenario, with its outcome and candidate set."""
    return pd.DataFrame(
        [
            {
                "name": s.name,
                "key": s.key,
                "status": s.status,
                "outcome": s.outcome,
                "reason": s.reason,
                "candidate_set": s.candidate_set,
                "plan_dir": "" if s.plan_dir is None else str(s.plan_dir),
            }
            for s in scen
        ],
        columns=["name", "key", "status", "outcome", "reason", "candidate_set", "plan_dir"],
    )


# --------------------------------------------------------------------------- the plot


def _year_colour(years: list[int], y: int) -> str:
    return PALETTE[years.index(y) % len(PALETTE)] if y in years else "#555555"


def _label(rob: Robustness, row: Any) -> str:
    """A site as people read it: its name (the nearest place) with its ID, e.g.
    "Abilene (c0412)"; the ID alone without a name; the candidate set first when there
    are several."""
    sid = str(row["site_id"])
    name = str(row.get("name") or "")
    lab = f"{name} ({sid})" if name and name != sid else sid
    if rob.candidate_sets > 1:
        lab = f"{row['candidate_set']}: {lab}"
    return lab


def svg_robustness(rob: Robustness, top: int = TOP_SITES) -> str:
    """The ``top`` sites by selection frequency as horizontal bars split by first year.

    Parameters
    ----------
    rob
        The result of :func:`robustness`.
    top
        Most sites drawn [count].

    Returns
    -------
    str
        An SVG document (hand-built, the style of :mod:`siting.render.report`); the x axis is
        the share of plans [%] that choose the site.
    """
    name, title = "robustness", "Sites chosen most often across the sweep, by first year"
    left, pw, row, y0 = 300.0, 400.0, 22.0, 30.0
    rows = rob.table().head(top)
    if not len(rows):
        msg = rob.notes[0] if rob.notes else "no site chosen"
        body = [svg_text(10, 24, title, extra='font-weight="bold"'), svg_text(10, 48, msg, n=140)]
        return svg_doc(name, title, 880, 70, body)
    years = rob.years
    ticks = [0, 20, 40, 60, 80, 100]

    def x(pct: float) -> float:
        return left + pw * pct / 100.0

    ph = row * len(rows)
    body = [
        svg_text(
            left,
            18,
            f"Share of the {rob.scenarios_with_plan} plan(s) that choose the site "
            f"(top {len(rows)} of {len(rob.sites)} sites ever chosen)",
            extra='font-weight="bold"',
            n=120,
        )
    ]
    for t in ticks:
        body.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{y0:.1f}" y2="{y0 + ph:.1f}" '
            'stroke="#e4e4e4"/>'
        )
        body.append(svg_text(x(t), y0 + ph + 16, str(t), "middle"))
    body.append(
        svg_text(left + pw / 2, y0 + ph + 34, "share of plans [%], split by first year", "middle")
    )
    for i, (_, r) in enumerate(rows.iterrows()):
        yy = y0 + row * i
        n = int(r["scenarios_with_plan"])
        acc = 0.0
        for y in years:
            k = int(r[f"first_year_{y}"])
            if k <= 0:
                continue
            pct = 100.0 * k / n
            tip = f"{_label(rob, r)}: first built in {y} in {k} of {n} plans ({fmt_num(pct)} %)"
            body.append(
                f'<rect class="seg" data-year="{y}" x="{x(acc):.1f}" y="{yy + 4:.1f}" '
                f'width="{max(x(acc + pct) - x(acc), 0.5):.1f}" height="14" '
                f'fill="{_year_colour(years, y)}"><title>{esc(tip)}</title></rect>'
            )
            acc += pct
        body.append(svg_text(left - 8, yy + 15, _label(rob, r), "end", n=42))
        body.append(
            svg_text(
                x(acc) + 4,
                yy + 15,
                f"{fmt_num(100 * r['selection_frequency'])} % ({int(r['times_chosen'])}/{n})",
                extra='fill="#333"',
            )
        )
    body.append(
        f'<line x1="{left:.1f}" x2="{left:.1f}" y1="{y0:.1f}" y2="{y0 + ph:.1f}" stroke="#333"/>'
    )
    used = [y for y in years if rows[f"first_year_{y}"].sum() > 0]
    # the legend right of the longest label ("100 % (24/24)" is about 95 px)
    body.append(svg_text(left + pw + 110, y0 + 2, "first year", extra='font-weight="bold"'))
    body += svg_legend(left + pw + 110, y0 + 22, [(str(y), _year_colour(years, y)) for y in used])
    h = max(y0 + ph + 48, y0 + 40 + 18 * len(used))
    return svg_doc(name, title, 900, h, body)


# --------------------------------------------------------------------------- the map


def freq_colour(f: float) -> str:
    """Colour of a selection frequency [fraction 0..1] (:data:`FREQ_BINS`)."""
    for hi, col, _ in FREQ_BINS:
        if f <= hi + 1e-9:
            return col
    return FREQ_BINS[-1][1]


_JS = r"""
(function () {
  var map = {{ this._parent.get_name() }};
  var D = {{ this.data }};
  var svg = L.svg(), canvas = L.canvas({padding: 0.3});
  var overlays = {}, base = {};
  function pop(layer, f) {
    if (f.properties.p) layer.bindPopup(f.properties.p, {maxWidth: 420});
    if (f.properties.t) layer.bindTooltip(f.properties.t, {sticky: true});
  }
  function add(name, layer, on) { overlays[name] = layer; if (on) layer.addTo(map); return layer; }
  // the map is drawn from its own data (offline, the default); the web tiles are a base
  // the reader can switch on: a tile layer makes no request until it is on the map
  base["Drawn from the layers (offline)"] = L.layerGroup().addTo(map);
  if (D.tiles) {
    base["OpenStreetMap tiles (online)"] = L.tileLayer(D.tiles.url,
      {attribution: D.tiles.attribution, maxZoom: 19, className: "siting-tiles"});
  }
  add("Region outline", L.geoJSON(D.outline, {renderer: svg, interactive: false,
    style: {color: "#333", weight: 2, fill: true, fillColor: "#f4f1ea", fillOpacity: 0.35,
            className: "siting-outline"}}), true);
  if (D.branches.features.length) {
    add("Branches", L.geoJSON(D.branches, {renderer: svg,
      style: {color: "#777", weight: 2, className: "siting-branch"},
      onEachFeature: function (f, l) { pop(l, f); }}), true);
  }
  if (D.buses.features.length) {
    add("Substations", L.geoJSON(D.buses, {
      pointToLayer: function (f, ll) {
        return L.circleMarker(ll, {renderer: svg, radius: 3, color: "#000", weight: 1,
          fillColor: "#fff", fillOpacity: 0.9, className: "siting-bus"}); },
      onEachFeature: function (f, l) { pop(l, f); }}), true);
  }
  if (D.never.features.length) {
    add("Candidates never chosen", L.geoJSON(D.never, {
      pointToLayer: function (f, ll) { return L.circleMarker(ll, {renderer: canvas, radius: 2.5,
        stroke: false, fillColor: D.never_colour, fillOpacity: 0.35}); },
      onEachFeature: function (f, l) {
        l.bindPopup(function () {
          return "<b>Candidate " + f.properties.i + "</b>" +
            (f.properties.n ? " &ndash; " + f.properties.n : "") + "<br>" + D.never_text;
        }); }}), true);
  }
  var sites = add("Sites by selection frequency", L.featureGroup(), true);
  D.sites.features.forEach(function (f) {
    var c = f.geometry.coordinates;
    var m = L.circleMarker([c[1], c[0]], {renderer: svg,
      radius: 4 + 10 * Math.sqrt(f.properties.f), color: "#222", weight: 1.2,
      fillColor: f.properties.c, fillOpacity: 0.9, className: "siting-robust"});
    pop(m, f); m.addTo(sites);
  });
  L.control.layers(base, overlays, {collapsed: false, position: "topright"}).addTo(map);
  var lg = L.control({position: "bottomright"});
  lg.onAdd = function () {
    var div = L.DomUtil.create("div", "siting-box siting-legend"); div.innerHTML = D.legend;
    L.DomEvent.disableScrollPropagation(div); return div;
  };
  lg.addTo(map);
  if (D.bounds) map.fitBounds(D.bounds, {padding: [20, 20]});
  window.sitingMap = map; window.sitingReady = true;
})();
"""


def _page_data(rob: Robustness, tiles: bool) -> dict[str, Any]:
    """The data of the robustness map page (GeoJSON layers in EPSG:4326, the legend's HTML,
    the bounds [degrees]), every string from the inputs escaped."""
    from siting.render.maps import OSM_ATTRIBUTION, OSM_URL

    notes = list(rob.notes)
    outline, branches, buses = _context_layers(rob, notes)
    feats = _site_features(rob)
    never = _never_features(rob)
    return {
        "tiles": {"url": OSM_URL, "attribution": OSM_ATTRIBUTION} if tiles else None,
        "outline": outline,
        "branches": branches,
        "buses": buses,
        "sites": {"type": "FeatureCollection", "features": feats},
        "never": {"type": "FeatureCollection", "features": never},
        "never_colour": NEVER_COLOUR,
        "never_text": f"chosen in none of the {rob.scenarios_with_plan} plans",
        "legend": _map_legend(rob, len(never), notes),
        "bounds": _bounds(outline, feats + never),
    }


def _context_layers(
    rob: Robustness, notes: list[str]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The region outline, branches and substations of the context plan, as GeoJSON
    FeatureCollections (empty without one).

    Appends to ``notes`` the plan's own notes and whose plan it is, or why no context is
    drawn (a failure keeps the layers made before it: the context is optional).
    """
    from siting.render.maps import MapInputs, outline_layer

    outline: dict[str, Any] = {"type": "FeatureCollection", "features": []}
    branches, buses = dict(outline), dict(outline)
    if rob.context_plan is not None:
        try:
            inp = MapInputs(rob.context_plan)
            lay = inp.run.get("layers") or {}
            outline = outline_layer(inp, inp.scenario_vector("boundary", lay.get("boundary")))
            branches = feature_collection(
                inp.layer("branches"),
                lambda r: {
                    "p": f"<b>Branch {esc(r.get('branch_id'))}</b>"
                    + popup_rows(
                        [
                            (
                                "from / to bus",
                                f"{esc(r.get('from_bus'))} &ndash; {esc(r.get('to_bus'))}",
                            ),
                            ("rating", popup_number(r.get("rating_mw"), 0, "MW")),
                        ]
                    ),
                    "t": f"branch {esc(r.get('branch_id'))}",
                },
            )
            buses = feature_collection(
                inp.layer("buses"),
                lambda r: {
                    "p": f"<b>Substation {esc(r.get('bus_id'))}</b> {esc(r.get('name'))}",
                    "t": f"bus {esc(r.get('bus_id'))}",
                },
            )
            notes.extend(inp.notes)
            name = rob.scenarios.loc[
                rob.scenarios["plan_dir"] == str(rob.context_plan), "name"
            ].tolist()
            notes.append(
                f"outline, substations and branches from the plan of {name[0] if name else ''}"
            )
        except Exception as e:  # noqa: BLE001  (context is optional; the counts are not)
            notes.append(f"no region context drawn ({type(e).__name__}: {e})")
    return outline, branches, buses


def _site_features(rob: Robustness) -> list[dict[str, Any]]:
    """One point feature per site with a geometry (least chosen first, so the most chosen
    are drawn on top): its selection frequency [fraction 0..1], colour, popup and tooltip."""
    feats = []
    for _, r in rob.sites.iloc[::-1].iterrows():  # most chosen drawn last (on top)
        if r.geometry is None or r.geometry.is_empty or not math.isfinite(r["lon_deg"]):
            continue
        f = float(r["selection_frequency"])
        feats.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r["lon_deg"], r["lat_deg"]]},
                "properties": {
                    "i": esc(r["site_id"]),
                    "f": clean_json_value(f),
                    "c": freq_colour(f),
                    "p": _site_popup(rob, r, f),
                    "t": f"{esc(_label(rob, r))}: {popup_number(100 * f, 0, '%')} of plans",
                },
            }
        )
    return feats


def _site_popup(rob: Robustness, r: pd.Series, f: float) -> str:
    """A site's popup: how often chosen (``f``: selection frequency [fraction 0..1]), first
    years, share in service by year [%], final IT MW [MW], cooling, bus and set."""
    years = rob.years
    n = int(r["scenarios_with_plan"])
    first = ", ".join(
        f"{y}: {int(r[f'first_year_{y}'])}" for y in years if r[f"first_year_{y}"] > 0
    )
    built = ", ".join(f"{y}: {popup_number(100 * r[f'built_by_{y}'], 0, '%')}" for y in years)
    head = f"<b>Site {esc(r['site_id'])}</b>" + (f" &ndash; {esc(r['name'])}" if r["name"] else "")
    return head + popup_rows(
        [
            (
                "chosen",
                f"in {int(r['times_chosen'])} of {n} plans ({popup_number(100 * f, 0, '%')})",
            ),
            ("first year (plans)", esc(first)),
            ("in service by", esc(built)),
            (
                "IT MW final min / median / max",
                f"{popup_number(r['it_mw_final_min'], 0)} / "
                f"{popup_number(r['it_mw_final_median'], 0)} / "
                f"{popup_number(r['it_mw_final_max'], 0)} MW",
            ),
            ("cooling", esc(r["cooling_mix"])),
            ("bus", esc(r["bus_id"])),
            ("candidate set", esc(r["candidate_set"]) if rob.candidate_sets > 1 else ""),
        ]
    )


def _never_features(rob: Robustness) -> list[dict[str, Any]]:
    """One point feature [degrees, 6 decimals] per candidate never chosen, with its ID
    (``i``) and name (``n``, the nearest place; "" when none)."""
    never = []
    nc = rob.never_chosen
    if len(nc):
        xs = np.round(nc.geometry.x.to_numpy(), 6)
        ys = np.round(nc.geometry.y.to_numpy(), 6)
        names = nc["name"].fillna("").astype(str) if "name" in nc else pd.Series("", index=nc.index)
        for x, y, i, nm in zip(xs, ys, nc["site_id"].astype(str), names, strict=True):
            if math.isfinite(x) and math.isfinite(y):
                props = {"i": esc(i), "n": esc(nm)} if nm and nm != i else {"i": esc(i)}
                never.append(
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
                        "properties": props,
                    }
                )
    return never


def _map_legend(rob: Robustness, n_never: int, notes: list[str]) -> str:
    """The map's legend (HTML): the frequency bins, the candidates never chosen
    (``n_never`` [count]), the scenarios' counts and the ``notes`` (escaped)."""
    legend = [
        f"<h4>Selection frequency [% of {rob.scenarios_with_plan} plans]</h4>",
        *[f"<i class='dot' style='background:{c}'></i>{lab}<br>" for _, c, lab in FREQ_BINS],
        "<span>circle size: selection frequency</span>",
    ]
    if n_never:
        legend.append(
            f"<h4>Candidates never chosen ({n_never:,})</h4>"
            f"<i class='dot' style='background:{NEVER_COLOUR}'></i>in none of the plans<br>"
        )
    legend.append(
        f"<h4>Scenarios</h4>{rob.scenarios_total} in all: {rob.scenarios_with_plan} with a "
        f"plan, {rob.failed} failed, {rob.skipped} skipped<br>"
    )
    if notes:
        legend.append(
            "<div class='siting-notes'><h4>Notes</h4>"
            + "<br>".join(esc(n) for n in notes)
            + "</div>"
        )
    return "".join(legend)


def _bounds(outline: dict[str, Any], points: list[dict[str, Any]]) -> list[list[float]] | None:
    """[[south, west], [north, east]] [degrees] of the outline's features and the
    ``points``; None without any (or when not finite)."""
    import shapely

    geoms = [shapely.geometry.shape(f["geometry"]) for f in outline["features"]]
    geoms += [shapely.geometry.shape(f["geometry"]) for f in points]
    bounds = None
    if geoms:
        b = shapely.union_all(geoms).bounds
        if all(math.isfinite(v) for v in b):
            bounds = [[b[1], b[0]], [b[3], b[2]]]
    return bounds


def build_map_html(rob: Robustness, *, tiles: bool = True) -> str:
    """The robustness map page (self-contained; Leaflet inlined as in :mod:`siting.render.maps`).

    Parameters
    ----------
    rob
        The result of :func:`robustness`.
    tiles
        Offer OpenStreetMap background tiles as a base the reader can switch on (no request
        until then); the default base is drawn from the page's own data, offline.

    Returns
    -------
    str
        The HTML page.
    """
    import folium
    from branca.element import MacroElement
    from jinja2 import Template

    from siting.render.html import MAP_CSS, inline_leaflet, js_json

    class _Layers(MacroElement):
        _template = Template("{% macro script(this, kwargs) %}" + _JS + "{% endmacro %}")

        def __init__(self, data: str):
            super().__init__()
            self._name = "SitingRobustness"
            self.data = data

    data = _page_data(rob, tiles)
    b = data["bounds"]
    centre = [0.0, 0.0] if b is None else [(b[0][0] + b[1][0]) / 2, (b[0][1] + b[1][1]) / 2]
    m = folium.Map(
        location=centre, zoom_start=8, tiles=None, control_scale=True, prefer_canvas=False
    )
    m.default_js = [("leaflet", "siting-inline:leaflet.js")]
    m.default_css = [("leaflet_css", "siting-inline:leaflet.css")]
    title = esc(f"{rob.sweep_out.name}: robustness over the sweep")
    root = cast(folium.Figure, m.get_root())  # a map's root is its page (a Figure)
    root.header.add_child(folium.Element(f"<title>{title}</title>" + MAP_CSS))
    _Layers(js_json(data)).add_to(m)
    return inline_leaflet(m.get_root().render())


# --------------------------------------------------------------------------- writing


def _geojson(rob: Robustness) -> str:
    from siting.render.html import geom_json

    feats = []
    for rec, geom in zip(rob.table().to_dict(orient="records"), rob.sites.geometry, strict=True):
        feats.append(
            {
                "type": "Feature",
                "geometry": None if geom is None else geom_json(geom),
                "properties": {k: _plain(v) for k, v in rec.items()},
            }
        )
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
        "features": feats,
    }
    return json.dumps(doc, separators=(",", ":"), allow_nan=False) + "\n"


def _csv(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n", float_format="%.10g")
    return buf.getvalue()


def _sweep_name(sweep_out: Path) -> str | None:
    """The name of the sweep written to ``sweep_out`` (its marker's); None when unknown
    (a sweep folder from before the marker)."""
    found = read_owner(sweep_out)
    return found.owner.scenario if found is not None and found.owner.kind == "sweep" else None


def write_robustness(
    sweep_out: Path, *, tiles: bool = True, result: Robustness | None = None
) -> Path:
    """Write ``<sweep_out>/robustness/`` (csv, GeoJSON, SVG plot, HTML map, json).

    The folder is written whole or not at all (:func:`siting.core.io.staged_folder`): a failure
    leaves the previous folder, if any, as it was. It replaces only an earlier robustness
    folder of the same sweep (:func:`siting.core.io.check_output_folder`).

    Parameters
    ----------
    sweep_out
        A sweep's output folder.
    tiles
        Offer OpenStreetMap background tiles on the map as a base the reader can switch on
        (no request until then; the default base is offline).
    result
        :func:`robustness` of ``sweep_out`` if already computed.

    Returns
    -------
    pathlib.Path
        The folder ``<sweep_out>/robustness``.
    """
    rob = result if result is not None else robustness(Path(sweep_out))
    dest = Path(sweep_out) / FOLDER
    svg = svg_robustness(rob)
    page = build_map_html(rob, tiles=tiles)
    with staged_folder(dest, OutputOwner("robustness", _sweep_name(Path(sweep_out)))) as stage:
        (stage / "robustness.csv").write_text(_csv(rob.table()), encoding="utf-8")
        (stage / "robustness.geojson").write_text(_geojson(rob), encoding="utf-8")
        (stage / "robustness.svg").write_text(svg + "\n", encoding="utf-8")
        (stage / "robustness.html").write_text(page, encoding="utf-8")
        (stage / "scenarios.csv").write_text(_csv(rob.scenarios), encoding="utf-8")
        doc = rob.as_dict(top=None)
        doc["files"] = sorted(p.name for p in stage.iterdir()) + ["robustness.json"]
        (stage / "robustness.json").write_text(
            json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )
    return dest.resolve()
