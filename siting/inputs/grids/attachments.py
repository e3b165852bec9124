"""Tables attached to a grid: upgrade options, substations, emergency ratings, load growth.

A MATPOWER case or a pandapower network has no place for what a plan needs beyond the
network itself: upgrade options, emergency ratings (MATPOWER's RATE_C is often 0) and how
the base load grows. The scenario attaches them as CSV tables under ``layers.grid``,
keyed by the grid's own IDs (:mod:`siting.inputs.fields`, ``TABLES``):

- ``branch_upgrades``: ``branch_id, upgrade_added_mw, upgrade_cost_usd,
  upgrade_lead_time_years`` [MW, USD, years];
- ``substations``: ``bus_id, substation_headroom_mw, substation_upgrade_added_mw,
  substation_upgrade_cost_usd, substation_upgrade_lead_time_years``;
- ``connections``: ``bus_id, firm_connect_year`` [calendar year];
- ``emergency_ratings``: ``branch_id, rating_emergency_mw`` [MW];
- ``load_growth``: ``bus_id`` or ``area``, ``year``, and ``load_mw`` [MW] or
  ``growth_factor`` [x the grid's ``load_mw``]; or ``load_growth_per_year``, one factor per
  year for every bus, in the scenario itself.

:func:`attach_tables` reads and checks each table (every problem named with the file, the
scenario key as ``layer``, the 1-based data row, the ID and the field), then writes its
values into the grid's own columns (the columns a grid GeoPackage carries), so that
everything downstream (the model, ``siting grid check``, dispatch, stress) reads them as
it reads a GeoPackage grid's. Load growth becomes ``load_mw_<YYYY>`` columns: a year
without its own column takes the latest earlier one, or ``load_mw``
(:func:`siting.inputs.vector.per_year_table`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from siting.core.errors import ProblemReport
from siting.inputs.fields import (
    BRANCH_UPGRADES,
    CONNECTIONS,
    EMERGENCY_RATINGS,
    LOAD_GROWTH,
    SUBSTATIONS,
    LayerSpec,
)
from siting.inputs.grids.grid import Grid
from siting.inputs.vector import check_refs, read_table

if TYPE_CHECKING:
    from siting.config.scenario import GridLayers

__all__ = ["ATTACHMENTS", "attach_tables"]

#: ``layers.grid`` key -> (table spec, the grid table it writes into: "branches"/"buses").
ATTACHMENTS: dict[str, tuple[LayerSpec, str]] = {
    "branch_upgrades": (BRANCH_UPGRADES, "branches"),
    "substations": (SUBSTATIONS, "buses"),
    "connections": (CONNECTIONS, "buses"),
    "emergency_ratings": (EMERGENCY_RATINGS, "branches"),
    "load_growth": (LOAD_GROWTH, "buses"),
}

_UPGRADE = (
    "substation_upgrade_added_mw",
    "substation_upgrade_cost_usd",
    "substation_upgrade_lead_time_years",
)


def attach_tables(grid: Grid, spec: GridLayers, report: ProblemReport) -> None:
    """Read the tables a scenario attaches to ``grid`` and write them into it (in place).

    Parameters
    ----------
    grid
        The grid as its reader returned it.
    spec
        The scenario's :class:`siting.config.scenario.GridLayers` (its ``branch_upgrades``,
        ``substations``, ``emergency_ratings``, ``load_growth`` and
        ``load_growth_per_year``).
    report
        Problems and notes go here; the grid is left as it was when a table has a
        problem. What each table changed is recorded in ``grid.attachments``.
    """
    for key, (table_spec, target) in ATTACHMENTS.items():
        ref = getattr(spec, key, None)
        if ref is None:
            continue
        layer = f"layers.grid.{key}"
        n_before = len(report)
        table = read_table(ref.path, table_spec, report, layer=layer)
        if table is None:
            continue
        known = getattr(grid, target).index.astype(str)
        if table_spec.id_field is not None:
            check_refs(
                pd.Series(table.index, index=table.index, dtype="string"),
                known,
                report,
                file=ref.path,
                layer=layer,
                field=table_spec.id_field,
                target="branch" if target == "branches" else "bus",
            )
        if key == "substations":
            _check_substations(table, report, ref.path, layer)
        growth = (
            _growth_rows(grid, table, report, ref.path, layer) if key == "load_growth" else None
        )
        if len(report) > n_before:
            continue
        if growth is not None:
            info = _apply_load_growth(grid, growth, report)
        else:
            info = _replace_values(grid, target, table, table_spec, key, report)
        if info is not None:
            grid.attachments[key] = {"path": str(ref.path), "rows": int(len(table)), **info}
    factors = getattr(spec, "load_growth_per_year", None) or {}
    if factors:
        per_year = _apply_factors_per_year(grid, dict(factors), report)
        if per_year is not None:
            grid.attachments["load_growth_per_year"] = per_year


def _replace_values(
    grid: Grid,
    target: str,
    table: pd.DataFrame,
    spec: LayerSpec,
    key: str,
    report: ProblemReport,
) -> dict[str, Any]:
    """Write a table keyed by branch or bus into the grid's columns of the same names."""
    frame = getattr(grid, target)
    cols = [f.name for f in spec.fields if f.name != spec.id_field]
    rows = table.index.astype(str)
    pos = frame.index.astype(str).get_indexer(rows)
    for c in cols:  # an optional column the grid's reader did not write (MATPOWER, pandapower)
        if c not in frame:
            frame[c] = np.nan
    had = frame[cols].iloc[pos].apply(pd.to_numeric, errors="coerce")
    replaced = int(had.notna().any(axis=1).sum()) if key != "emergency_ratings" else 0
    for c in cols:
        values = frame[c].to_numpy(dtype=float, copy=True)
        values[pos] = table[c].to_numpy(dtype=float)
        frame[c] = values
    info: dict[str, Any] = {}
    what = "branches" if target == "branches" else "buses"
    if key == "branch_upgrades":
        unlimited = ~np.isfinite(frame["rating_mw"].to_numpy(dtype=float)[pos])
        info["options"] = int((~unlimited).sum())
        if unlimited.any():
            report.note(
                f"layers.grid.{key}: {int(unlimited.sum())} branch(es) have no rating (unlimited, "
                "MATPOWER RATE_A 0), so their upgrade option adds nothing: "
                + ", ".join(f"'{b}'" for b in rows[unlimited][:5])
            )
    elif key == "connections":
        info["buses"] = int(len(rows))
    elif key == "substations":
        info["options"] = int(np.isfinite(table["substation_upgrade_added_mw"]).sum())
    else:
        normal = frame["rating_mw"].to_numpy(dtype=float)[pos]
        below = table["rating_emergency_mw"].to_numpy(dtype=float) < normal
        if below.any():
            report.note(
                f"layers.grid.{key}: {int(below.sum())} emergency rating(s) are below the "
                "branch's normal rating_mw (an emergency rating is usually higher): "
                + ", ".join(f"'{b}'" for b in rows[below][:5])
            )
    if replaced:
        report.note(
            f"layers.grid.{key}: replaced the grid's own values for {replaced} of the "
            f"{len(rows)} {what} it names ({', '.join(f.name for f in spec.fields[1:])})"
        )
    return info


def _check_substations(table: pd.DataFrame, report: ProblemReport, file, layer: str) -> None:
    """An upgrade option comes whole and adds to a finite headroom."""
    given = np.column_stack([np.isfinite(table[c].to_numpy(dtype=float)) for c in _UPGRADE])
    part = given.any(axis=1) & ~given.all(axis=1)
    ids = list(table.index.astype(str))
    report.add_rows(
        np.flatnonzero(part),
        lambda i: (
            "an upgrade option needs all of "
            + ", ".join(_UPGRADE)
            + "; "
            + ", ".join(c for c, g in zip(_UPGRADE, given[i], strict=True) if not g)
            + " is empty"
        ),
        file=file,
        layer=layer,
        field="substation_upgrade_added_mw",
        ids=ids,
    )
    no_head = given.all(axis=1) & ~np.isfinite(table["substation_headroom_mw"].to_numpy(float))
    report.add_rows(
        np.flatnonzero(no_head),
        "an upgrade option adds to the substation's headroom, but substation_headroom_mw is "
        "empty (no limit); expected the headroom [MW] the upgrade adds to",
        file=file,
        layer=layer,
        field="substation_headroom_mw",
        ids=ids,
    )


def _own_years_problem(grid: Grid, report: ProblemReport, key: str) -> bool:
    """Report a grid that gives its own load by year (``load_mw_<YYYY>`` columns)."""
    own = [c for c in grid.buses.columns if str(c).startswith("load_mw_")]
    if own:
        report.add(
            f"the grid's buses already give their load by year ({', '.join(own[:3])}); give "
            "load by year in one place",
            file=grid.source or None,
            layer=f"layers.grid.{key}",
        )
    return bool(own)


def _write_years(grid: Grid, by_year: dict[int, np.ndarray]) -> None:
    """``load_mw_<YYYY>`` columns from per-year loads [MW] (bus order of ``grid.buses``)."""
    for y in sorted(by_year):
        grid.buses[f"load_mw_{y}"] = by_year[y]


def _apply_factors_per_year(
    grid: Grid, factors: dict[int, float], report: ProblemReport
) -> dict[str, Any] | None:
    """``layers.grid.load_growth_per_year``: every bus's load times the year's factor."""
    if _own_years_problem(grid, report, "load_growth_per_year"):
        return None
    base = grid.buses["load_mw"].to_numpy(dtype=float)
    _write_years(grid, {int(y): base * float(f) for y, f in factors.items()})
    report.note(
        "load growth (layers.grid.load_growth_per_year): every bus's base load times "
        + ", ".join(f"{f:g} in {y}" for y, f in sorted(factors.items()))
    )
    return {"factors": {int(y): float(f) for y, f in sorted(factors.items())}}


@dataclass
class _Growth:
    """The rows of a ``load_growth`` table, checked."""

    key: str  # "bus_id" or "area"
    value: str  # "load_mw" or "growth_factor"
    names: pd.Series  # the bus or area of each row
    year: np.ndarray
    amount: np.ndarray  # MW, or x the grid's load


def _growth_rows(
    grid: Grid, table: pd.DataFrame, report: ProblemReport, file: Path, layer: str
) -> _Growth | None:
    """Check a ``load_growth`` table beyond its fields: which columns it uses, that every
    bus or area is the grid's, one row per bus or area and year (``None`` when the columns
    are wrong; the other problems go into ``report``)."""
    present = set(table.attrs.get("columns", []))
    keys = [c for c in ("bus_id", "area") if c in present]
    values = [c for c in ("load_mw", "growth_factor") if c in present]
    columns = f"; the columns are {', '.join(sorted(present))}"
    if len(keys) != 1:
        report.add(
            "expected one column naming what grows: bus_id or area"
            + (" (not both)" if keys else columns),
            field="bus_id",
            file=file,
            layer=layer,
        )
    if len(values) != 1:
        report.add(
            "expected one column giving the load: load_mw [MW] or growth_factor [x the grid's "
            "load]" + (" (not both)" if values else columns),
            field="load_mw",
            file=file,
            layer=layer,
        )
    if len(keys) != 1 or len(values) != 1:
        return None
    key, value = keys[0], values[0]
    if key == "area" and value == "load_mw":
        report.add(
            "an area's load is given as growth_factor (a multiple of its buses' own load); "
            "load_mw is for single buses (bus_id)",
            field="load_mw",
            file=file,
            layer=layer,
        )
        return None
    _own_years_problem(grid, report, "load_growth")
    buses = grid.buses
    names = table[key].astype("string")
    names.index = pd.Index(names.fillna(""), dtype=object)  # a row's ID in problems: its bus
    year = table["year"].to_numpy(dtype=float)
    amount = table[value].to_numpy(dtype=float)
    if key == "bus_id":
        check_refs(
            names,
            buses.index.astype(str),
            report,
            file=file,
            layer=layer,
            field="bus_id",
            target="bus",
        )
    else:
        areas = pd.Index(sorted(set(buses["area"].astype(str))))
        report.add_rows(
            np.flatnonzero((~names.isin(areas) & names.notna()).to_numpy()),
            lambda i: (
                f"area '{names.iloc[i]}' has no bus; expected one of the grid's areas "
                f"({', '.join(areas[:10])}{' ...' if len(areas) > 10 else ''})"
            ),
            field="area",
            ids=list(names.index),
            file=file,
            layer=layer,
        )
    dup = pd.DataFrame({"k": names.to_numpy(), "y": year}).duplicated(keep="first").to_numpy()
    report.add_rows(
        np.flatnonzero(dup & names.notna().to_numpy()),
        lambda i: (
            f"{key} '{names.iloc[i]}' in {year[i]:g} is given again; expected one row "
            f"per {key} and year"
        ),
        field="year",
        ids=list(names.index),
        file=file,
        layer=layer,
    )
    return _Growth(key, value, names, year, amount)


def _apply_load_growth(grid: Grid, g: _Growth, report: ProblemReport) -> dict[str, Any]:
    """``layers.grid.load_growth``: base load by bus or area and year (see the module)."""
    buses = grid.buses
    key, value, names, year, amount = g.key, g.value, g.names, g.year, g.amount
    base = buses["load_mw"].to_numpy(dtype=float)
    if key == "bus_id":
        at = buses.index.astype(str).get_indexer(names.astype(str))
        members = [np.array([b]) for b in at]
    else:
        area = buses["area"].astype(str).to_numpy()
        of_area = {a: np.flatnonzero(area == a) for a in set(names.astype(str))}
        members = [of_area[a] for a in names.astype(str)]
    by_year: dict[int, np.ndarray] = {}
    current = base.copy()
    for y in sorted({int(v) for v in year}):
        for r in np.flatnonzero(year == y):
            m = members[r]
            current[m] = amount[r] if value == "load_mw" else base[m] * amount[r]
        by_year[y] = current.copy()
    _write_years(grid, by_year)
    years = sorted(by_year)
    total = {y: float(v.sum()) for y, v in by_year.items()}
    report.note(
        f"load growth (layers.grid.load_growth): {len(names):,} "
        f"row{'s' if len(names) != 1 else ''} by {key} for "
        f"{years[0]}-{years[-1]}; base load {float(base.sum()):,.1f} MW -> "
        + ", ".join(f"{total[y]:,.1f} MW in {y}" for y in years)
        + " (a year without rows keeps the latest earlier year's load)"
    )
    return {"by": key, "years": years, "load_mw_by_year": total}
