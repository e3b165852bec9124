"""A plan's grid handed to other tools: PyPSA, pandapower and MATPOWER networks.

:func:`export_case` reads a plan folder (as ``siting grid check`` does: the plan's tables and
the grid of its scenario, with ``grid.derate`` and ``grid.outages``) and builds one planning
year's network as an :class:`ExportCase`:

- the grid's buses, branches and generators, with the plan's **upgrades** in service that
  year added to the branch ratings (``upgrades.csv``);
- the grid's own demand as one load per bus, named by the ``bus_id``: base load of the year
  times each snapshot's load factor, plus the shunt demand [MW];
- each **campus** as loads at its bus, named by its ``site_id``: the firm part (``site_id``)
  and, where the plan connects MW flexible, the flexible part (``<site_id>:flexible``) less
  what the plan curtails; its draw split between them in proportion to ``firm_it_mw`` and
  ``flexible_it_mw``; **on-site supply** as generators ``<site_id>:<source>`` (the plan's
  ``draw_relief.csv``);
- the plan's **dispatch** of every generator per snapshot (``p_set``), and the plan's
  snapshots under their names.

The net injection at every bus and snapshot is therefore exactly the one ``siting grid
check`` computes from the plan's tables, and a DC power flow of the export gives the plan's
flows (to the rounding of the tables, 6 significant digits).

Writers: :func:`to_pypsa` (a ``pypsa.Network``, every snapshot; written as netCDF),
:func:`to_pandapower` (a ``pandapowerNet`` of one snapshot, built by pandapower's own
``from_ppc`` from the MATPOWER case, elements named by siting's IDs; JSON) and
:func:`to_matpower` (a MATPOWER version-2 case of one snapshot; ``.m`` text, campus loads in
``PD``). :func:`write_export` writes the file atomically.

Per-unit conventions: PyPSA lines take ``x = x_pu / base_mva * v_nom**2`` [Ohm] (``v_nom`` of
``bus0``) and transformers ``x = x_pu / base_mva * s_nom`` [per unit of ``s_nom``], so PyPSA's
``x_pu_eff`` is siting's ``x_pu * tap_ratio / base_mva`` exactly. A branch is a transformer
when its tap ratio is not 1, it has a phase shift, or its ends differ in voltage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from siting.core.cells import as_float
from siting.core.errors import InputError, MissingDependencyError, Problem
from siting.core.io import atomic_file, check_output_file
from siting.grid_ops.check import (
    RELIEF_FILE,
    UPGRADES_FILE,
    _grid_load,
    _grid_scenario,
    _layout,
    _load_grid,
    _plan_scenario,
    _ratings,
    _require_grid,
    _snapshot_table,
    read_plan,
)
from siting.inputs.grids.grid import Grid
from siting.network import dc_network

__all__ = [
    "EXPORT_FORMATS",
    "ExportCase",
    "export_case",
    "to_matpower",
    "to_pandapower",
    "to_pypsa",
    "write_export",
]

ExportFormat = Literal["pypsa", "pandapower", "matpower"]

#: The formats ``siting export --to`` writes, and their file suffixes.
EXPORT_FORMATS: dict[str, str] = {"pypsa": ".nc", "pandapower": ".json", "matpower": ".m"}


@dataclass
class ExportCase:
    """One planning year of a plan, as a network with loads and generation per snapshot.

    Attributes
    ----------
    name, year
        The scenario's name and the planning year [calendar year].
    snapshots
        The plan's snapshots, in order; ``peak`` the first flagged peak (else the first).
    base_mva
        System base of the per-unit values [MVA].
    buses
        Index ``bus_id``: ``voltage_kv, x, y, bus_type`` (x, y NaN without coordinates).
    crs
        CRS of x, y (text): ``EPSG:4326`` (longitude, latitude), "" without coordinates.
    branches
        Index ``branch_id``: ``from_bus, to_bus, x_pu, r_pu, b_pu, tap_ratio, shift_deg,
        rating_mw`` (that year's, upgrades included; ``inf`` unlimited), ``in_service``,
        ``length_km``, ``kind`` (``line``/``transformer``).
    generators
        Index ``gen_id`` (the grid's, then on-site ``<site_id>:<source>``): ``bus_id,
        p_max_mw, p_min_mw, marginal_cost_usd_per_mwh, fuel, co2_t_per_mwh, in_service``.
    gen_p_mw
        Output per snapshot (rows) and generator (columns) [MW].
    loads
        Index load name (``bus_id`` for the grid's demand, ``site_id`` and
        ``<site_id>:flexible`` for campuses): ``bus_id, kind`` (``grid``, ``campus_firm``,
        ``campus_flexible``), ``site_id``.
    load_p_mw
        Demand per snapshot (rows) and load (columns) [MW].
    plan_flows
        The plan's ``flows.csv`` flows that year: snapshots (rows) by branch (columns) [MW].
    notes
        What the export did that a user should know.
    reference_buses
        The reference bus of each island of the DC network (:func:`siting.network.dc_network`):
        where what the rounding of the plan's tables leaves unbalanced goes, as in ``siting
        grid check``; the PyPSA and pandapower slack is put there.
    """

    name: str
    year: int
    snapshots: list[str]
    peak: str
    base_mva: float
    buses: pd.DataFrame
    crs: str
    branches: pd.DataFrame
    generators: pd.DataFrame
    gen_p_mw: pd.DataFrame
    loads: pd.DataFrame
    load_p_mw: pd.DataFrame
    plan_flows: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    reference_buses: list[str] = field(default_factory=list)


def _bad(message: str, file: Path | str | None = None, field: str | None = None) -> InputError:
    return InputError(Problem(message, file=file, field=field), what="export")


def _pick_year(years: list[int], year: int | None, manifest_path: Path) -> int:
    """``year``, or the last planning year; an error naming the years when it is not one."""
    if year is None:
        return years[-1]
    if year not in years:
        raise _bad(
            f"year {year} is not a planning year of this plan; expected one of "
            f"{', '.join(map(str, years))}",
            manifest_path,
            "year",
        )
    return year


def _branches(grid: Grid, rating_mw: pd.Series) -> pd.DataFrame:
    """The export's branch table (see :attr:`ExportCase.branches`)."""
    br = grid.branches
    kv = grid.buses["voltage_kv"].astype(float)
    kv_f = br["from_bus"].astype(str).map(kv).to_numpy(dtype=float)
    kv_t = br["to_bus"].astype(str).map(kv).to_numpy(dtype=float)
    tap = br["tap_ratio"].astype(float).fillna(1.0).to_numpy()
    shift = br["shift_deg"].astype(float).fillna(0.0).to_numpy()
    is_tr = (tap != 1.0) | (shift != 0.0) | ~np.isclose(kv_f, kv_t, rtol=1e-9, equal_nan=True)
    out = pd.DataFrame(
        {
            "from_bus": br["from_bus"].astype(str),
            "to_bus": br["to_bus"].astype(str),
            "x_pu": br["x_pu"].astype(float),
            "r_pu": br["r_pu"].astype(float).fillna(0.0),
            "b_pu": br["b_pu"].astype(float).fillna(0.0),
            "tap_ratio": tap,
            "shift_deg": shift,
            "rating_mw": rating_mw.reindex(br.index.astype(str))
            .fillna(br["rating_mw"].astype(float))
            .to_numpy(),
            "in_service": br["in_service"].fillna(True).astype(bool),
            "length_km": br["length_km"].astype(float),
            "kind": np.where(is_tr, "transformer", "line"),
        },
        index=pd.Index(br.index.astype(str), name="branch_id"),
    )
    return out


def _per_snapshot(rows: pd.DataFrame, snaps: list[str]) -> np.ndarray:
    """``relief_mw`` of ``rows`` summed per snapshot, in ``snaps`` order [MW]."""
    return (
        rows.groupby(rows["snapshot"].astype(str))["relief_mw"]
        .sum()
        .reindex(snaps, fill_value=0.0)
        .to_numpy(dtype=float)
    )


def _campus_loads(
    schedule: pd.DataFrame, relief: pd.DataFrame, year: int, lay: Any, file: Path
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Campus loads (firm, flexible) and on-site generators of ``year`` and their MW per
    snapshot: ``(loads, load_p_mw, onsite, onsite_p_mw)``."""
    snaps = lay.snap_names
    sched = schedule[schedule["year"].astype(int) == year].reset_index(drop=True)
    rel = relief[relief["year"].astype(int) == year] if len(relief) else relief
    load_rows, load_cols, gen_rows, gen_cols = [], {}, [], {}
    for _, r in sched.iterrows():
        sid, bus = str(r["site_id"]), str(r["bus_id"])
        draw = np.where(lay.is_peak, float(r["peak_draw_mw"]), float(r["typical_draw_mw"]))
        firm = float(r.get("firm_it_mw", np.nan))
        flex = float(r.get("flexible_it_mw", 0.0)) if "flexible_it_mw" in r else 0.0
        total = firm + flex if np.isfinite(firm) else np.nan
        share = flex / total if np.isfinite(total) and total > 0 else 0.0
        mine = rel[rel["site_id"].astype(str) == sid] if len(rel) else rel
        src = mine["source"].astype(str) if len(mine) and "source" in mine else pd.Series(dtype=str)

        def by_snap(rows: pd.DataFrame) -> np.ndarray:
            return _per_snapshot(rows, snaps)

        curtailed = by_snap(mine[src == "curtailment"]) if len(mine) else np.zeros(len(snaps))
        load_rows.append((sid, bus, "campus_firm", sid))
        load_cols[sid] = draw * (1.0 - share)
        if share > 0 or curtailed.any():
            name = f"{sid}:flexible"
            load_rows.append((name, bus, "campus_flexible", sid))
            load_cols[name] = draw * share - curtailed
        for source in sorted(set(src) - {"curtailment"}):
            name = f"{sid}:{source}"
            gen_rows.append((name, bus, source))
            gen_cols[name] = by_snap(mine[src == source])
    loads = pd.DataFrame(load_rows, columns=["name", "bus_id", "kind", "site_id"]).set_index("name")
    onsite = pd.DataFrame(gen_rows, columns=["name", "bus_id", "fuel"]).set_index("name")
    idx = pd.Index(snaps, name="snapshot")
    return (
        loads,
        pd.DataFrame(load_cols, index=idx, columns=loads.index),
        onsite,
        pd.DataFrame(gen_cols, index=idx, columns=onsite.index),
    )


def _generators(
    grid: Grid,
    dispatch: pd.DataFrame,
    year: int,
    snaps: list[str],
    onsite: pd.DataFrame,
    onsite_p: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The grid's generators and the on-site ones, and their output per snapshot [MW]."""
    g = grid.generators
    gens = pd.DataFrame(
        {
            "bus_id": g["bus_id"].astype(str),
            "p_max_mw": g["p_max_mw"].astype(float),
            "p_min_mw": g["p_min_mw"].astype(float),
            "marginal_cost_usd_per_mwh": g["marginal_cost_usd_per_mwh"].astype(float),
            "fuel": g["fuel"].fillna("").astype(str) if "fuel" in g else "",
            "co2_t_per_mwh": g["co2_t_per_mwh"].astype(float) if "co2_t_per_mwh" in g else 0.0,
            "in_service": g["in_service"].fillna(True).astype(bool),
        },
        index=pd.Index(g.index.astype(str), name="gen_id"),
    )
    d = dispatch[dispatch["year"].astype(int) == year]
    p = (
        d.assign(gen_id=d["gen_id"].astype(str), snapshot=d["snapshot"].astype(str))
        .pivot_table(index="snapshot", columns="gen_id", values="p_mw", aggfunc="sum")
        .reindex(index=snaps, columns=gens.index)
        .fillna(0.0)
    )
    if len(onsite):
        clash = sorted(set(onsite.index) & set(gens.index))
        if clash:
            raise _bad(
                f"the on-site generator name '{clash[0]}' is also a generator of the grid; "
                "expected distinct IDs"
            )
        extra = pd.DataFrame(
            {
                "bus_id": onsite["bus_id"],
                "p_max_mw": onsite_p.max(axis=0).clip(lower=0.0),
                "p_min_mw": 0.0,
                "marginal_cost_usd_per_mwh": 0.0,
                "fuel": onsite["fuel"],
                "co2_t_per_mwh": 0.0,
                "in_service": True,
            },
            index=onsite.index,
        )
        gens = pd.concat([gens, extra])
        p = pd.concat([p, onsite_p], axis=1)
    p.index.name = "snapshot"
    return gens, p


def export_case(
    plan_dir: str | Path, *, year: int | None = None, scenario: str | Path | None = None
) -> ExportCase:
    """One planning year of a plan folder as a network (see the module docstring).

    Parameters
    ----------
    plan_dir
        A folder written by ``siting plan``.
    year
        The planning year [calendar year]; ``None``: the last.
    scenario
        Another scenario whose grid to use (as ``siting grid check --scenario``).

    Returns
    -------
    ExportCase

    Raises
    ------
    siting.grid_ops.check.NothingToCheck
        The plan has no modelled grid.
    siting.core.errors.InputError
        A missing or unreadable plan file, a year that is not a planning year, IDs that
        are not in the grid.
    """
    tables = read_plan(plan_dir)
    plan_sc = _plan_scenario(tables)
    man = tables.plan_dir / "manifest.json"
    _require_grid(plan_sc, tables.manifest, man)
    notes: list[str] = []
    grid_sc, origin = _grid_scenario(scenario, plan_sc, notes)
    grid, more = _load_grid(grid_sc, origin=origin, manifest=tables.manifest)
    notes += more
    years = [int(y) for y in plan_sc.years]
    y = _pick_year(years, year, man)
    lay = _layout(years, _snapshot_table(plan_sc))
    net = dc_network(grid)
    R, _, _ = _ratings(
        grid, net, tables.upgrades, years, str(tables.plan_dir / UPGRADES_FILE), notes
    )
    yi = years.index(y)
    rating = pd.Series(R[:, yi], index=net.branch_ids)
    snaps = lay.snap_names
    idx = pd.Index(snaps, name="snapshot")
    base = _grid_load(grid, net.bus_ids, lay)[:, yi * lay.ns : (yi + 1) * lay.ns]
    grid_loads = pd.DataFrame(
        {"bus_id": net.bus_ids, "kind": "grid", "site_id": ""},
        index=pd.Index(net.bus_ids, name="name"),
    )
    c_loads, c_p, onsite, onsite_p = _campus_loads(
        tables.schedule, tables.relief, y, lay, tables.plan_dir / RELIEF_FILE
    )
    clash = sorted(set(c_loads.index) & set(grid_loads.index))
    if clash:
        raise _bad(
            f"campus '{clash[0]}' has the ID of a bus, whose demand is the load of that name; "
            "expected site IDs that are not bus IDs"
        )
    loads = pd.concat([grid_loads, c_loads])
    load_p = pd.concat([pd.DataFrame(base.T, index=idx, columns=net.bus_ids), c_p], axis=1)
    gens, gen_p = _generators(grid, tables.dispatch, y, snaps, onsite, onsite_p)
    has_xy = grid.has_coordinates
    # longitude/latitude: what PyPSA-Eur uses, and the only CRS PyPSA 1.2 reads back from
    # a netCDF file (its import fails on another)
    geom = (
        grid.buses.geometry.to_crs(4326) if has_xy and grid.crs is not None else grid.buses.geometry
    )
    buses = pd.DataFrame(
        {
            "voltage_kv": grid.buses["voltage_kv"].astype(float),
            "x": geom.x.to_numpy() if has_xy else np.nan,
            "y": geom.y.to_numpy() if has_xy else np.nan,
            "bus_type": grid.buses["bus_type"].astype(int) if "bus_type" in grid.buses else 1,
        },
        index=pd.Index(grid.buses.index.astype(str), name="bus_id"),
    )
    pf = tables.flows
    pf = pf[pf["year"].astype(int) == y]
    plan_flows = (
        pf.assign(snapshot=pf["snapshot"].astype(str), branch_id=pf["branch_id"].astype(str))
        .pivot_table(index="snapshot", columns="branch_id", values="flow_mw", aggfunc="first")
        .reindex(index=snaps)
        if "snapshot" in pf.columns
        else pd.DataFrame(index=idx)
    )
    return ExportCase(
        name=plan_sc.name,
        year=y,
        snapshots=snaps,
        peak=lay.peak_name,
        base_mva=float(grid.base_mva),
        buses=buses,
        crs="EPSG:4326" if has_xy and grid.crs is not None else "",
        branches=_branches(grid, rating),
        generators=gens,
        gen_p_mw=gen_p,
        loads=loads,
        load_p_mw=load_p,
        plan_flows=plan_flows,
        notes=notes,
        reference_buses=[str(net.bus_ids[int(i)]) for i in np.atleast_1d(net.ref_idx)],
    )


# --- PyPSA -----------------------------------------------------------------------------


def to_pypsa(case: ExportCase) -> Any:
    """The case as a ``pypsa.Network`` with every snapshot (``p_set`` of loads and
    generators per snapshot; ``s_nom`` the year's rating, ``inf`` where unlimited).

    Raises
    ------
    MissingDependencyError
        If pypsa is not installed.
    """
    from siting.inputs.grids.pypsa_io import import_pypsa, set_network_crs

    pypsa = import_pypsa()
    n = pypsa.Network(name=f"{case.name} {case.year}")
    n.set_snapshots(pd.Index(case.snapshots, name="snapshot"))
    if case.crs:
        set_network_crs(n, case.crs)
    b = case.buses
    n.add(
        "Bus",
        b.index,
        v_nom=b["voltage_kv"].fillna(1.0),
        x=b["x"].fillna(0.0),
        y=b["y"].fillna(0.0),
    )
    br = case.branches
    v0 = br["from_bus"].map(b["voltage_kv"].fillna(1.0)).astype(float)
    s_nom = br["rating_mw"].where(np.isfinite(br["rating_mw"]), np.inf)
    ln = br[br["kind"] == "line"]
    if len(ln):
        z = v0[ln.index] ** 2 / case.base_mva  # Ohm per unit on base_mva
        n.add(
            "Line", ln.index, bus0=ln["from_bus"], bus1=ln["to_bus"], x=ln["x_pu"] * z,
            r=ln["r_pu"] * z, b=ln["b_pu"] / z, s_nom=s_nom[ln.index],
            length=ln["length_km"].fillna(0.0), active=ln["in_service"],
        )  # fmt: skip
    tr = br[br["kind"] == "transformer"]
    if len(tr):
        # x per unit of s_nom: an unlimited transformer gets s_nom = base_mva for its impedance
        s_tr = s_nom[tr.index].where(np.isfinite(s_nom[tr.index]), case.base_mva)
        n.add(
            "Transformer", tr.index, bus0=tr["from_bus"], bus1=tr["to_bus"],
            x=tr["x_pu"] * s_tr / case.base_mva, r=tr["r_pu"] * s_tr / case.base_mva,
            b=tr["b_pu"] * case.base_mva / s_tr, s_nom=s_tr, tap_ratio=tr["tap_ratio"],
            phase_shift=tr["shift_deg"], active=tr["in_service"],
        )  # fmt: skip
        if not np.isfinite(s_nom[tr.index]).all():
            case.notes.append(
                "transformers without a rating are written with s_nom = base_mva (their "
                "reactance is per unit of s_nom)"
            )
    g = case.generators
    fuels = sorted({f for f in g["fuel"] if f})
    if fuels:
        co2 = g[g["fuel"] != ""].groupby("fuel")["co2_t_per_mwh"].max()
        n.add("Carrier", fuels, co2_emissions=co2.reindex(fuels).fillna(0.0))
    p_nom = g["p_max_mw"].where(g["p_max_mw"] > 0, 0.0)
    # PyPSA's slack: a generator at each island's reference bus, as siting's check has it
    control = pd.Series("PQ", index=g.index)
    on = g[g["in_service"]]
    for bus in case.reference_buses:
        at_ref = on.index[on["bus_id"] == bus]
        if len(at_ref):
            control[at_ref[0]] = "Slack"
    n.add(
        "Generator", g.index, bus=g["bus_id"], p_nom=p_nom, carrier=g["fuel"], control=control,
        marginal_cost=g["marginal_cost_usd_per_mwh"].fillna(0.0),
        p_min_pu=(g["p_min_mw"] / p_nom.where(p_nom > 0, 1.0)).clip(upper=1.0),
        p_set=case.gen_p_mw, active=g["in_service"],
    )  # fmt: skip
    ld = case.loads
    n.add("Load", ld.index, bus=ld["bus_id"], carrier="", p_set=case.load_p_mw)
    return n


# --- MATPOWER and pandapower (one snapshot) ------------------------------------------------


def matpower_arrays(case: ExportCase, snapshot: str) -> dict[str, Any]:
    """The case at ``snapshot`` as MATPOWER arrays (``bus``, ``gen``, ``branch``, ``gencost``,
    ``baseMVA``) with ``bus_name``, ``gen_name``, ``branch_name`` (siting's IDs). Bus numbers
    are 1..nb in the case's order; ``PD`` is every load at the bus (grid and campuses) [MW];
    ``RATE_A`` the year's rating (0 where unlimited)."""
    b, br, g = case.buses, case.branches, case.generators
    nb = len(b)
    num = pd.Series(np.arange(1, nb + 1, dtype=float), index=b.index)
    pd_mw = case.load_p_mw.loc[snapshot].groupby(case.loads["bus_id"]).sum()
    bus = np.zeros((nb, 13))
    bus[:, 0] = num.to_numpy()
    bus[:, 1] = b["bus_type"].to_numpy(dtype=float)
    bus[:, 2] = pd_mw.reindex(b.index, fill_value=0.0).to_numpy()
    bus[:, 6], bus[:, 7], bus[:, 10] = 1.0, 1.0, 1.0
    bus[:, 9] = b["voltage_kv"].fillna(0.0).to_numpy()
    bus[:, 11], bus[:, 12] = 1.1, 0.9
    gen = np.zeros((len(g), 21))
    gen[:, 0] = g["bus_id"].map(num).to_numpy(dtype=float)
    gen[:, 1] = case.gen_p_mw.loc[snapshot].reindex(g.index).to_numpy(dtype=float)
    gen[:, 3], gen[:, 4] = 9999.0, -9999.0
    gen[:, 5], gen[:, 6] = 1.0, case.base_mva
    gen[:, 7] = g["in_service"].to_numpy(dtype=float)
    gen[:, 8] = g["p_max_mw"].to_numpy(dtype=float)
    gen[:, 9] = g["p_min_mw"].to_numpy(dtype=float)
    gencost = np.zeros((len(g), 6))
    gencost[:, 0], gencost[:, 3] = 2.0, 2.0
    gencost[:, 4] = g["marginal_cost_usd_per_mwh"].fillna(0.0).to_numpy()
    branch = np.zeros((len(br), 13))
    branch[:, 0] = br["from_bus"].map(num).to_numpy(dtype=float)
    branch[:, 1] = br["to_bus"].map(num).to_numpy(dtype=float)
    branch[:, 2] = br["r_pu"].to_numpy()
    branch[:, 3] = br["x_pu"].to_numpy()
    branch[:, 4] = br["b_pu"].to_numpy()
    rate = br["rating_mw"].to_numpy(dtype=float)
    branch[:, 5] = np.where(np.isfinite(rate), rate, 0.0)
    branch[:, 6] = branch[:, 5]
    branch[:, 7] = branch[:, 5]
    tap = br["tap_ratio"].to_numpy(dtype=float)
    branch[:, 8] = np.where(tap == 1.0, 0.0, tap)
    branch[:, 9] = br["shift_deg"].to_numpy()
    branch[:, 10] = br["in_service"].to_numpy(dtype=float)
    branch[:, 11], branch[:, 12] = -360.0, 360.0
    return {
        "version": "2",
        "baseMVA": case.base_mva,
        "bus": bus,
        "gen": gen,
        "branch": branch,
        "gencost": gencost,
        "bus_name": np.asarray(b.index, dtype=object),
        "gen_name": np.asarray(g.index, dtype=object),
        "branch_name": np.asarray(br.index, dtype=object),
    }


def _m_matrix(name: str, a: np.ndarray) -> str:
    rows = "\n".join("\t" + "\t".join(repr(float(v)) for v in row) + ";" for row in a)
    return f"mpc.{name} = [\n{rows}\n];\n"


def _m_cell(name: str, values: Any) -> str:
    rows = "\n".join("\t'" + str(v).replace("'", "''") + "';" for v in values)
    return f"mpc.{name} = {{\n{rows}\n}};\n"


def to_matpower(case: ExportCase, snapshot: str | None = None) -> str:
    """The case at ``snapshot`` (default: the peak) as MATPOWER version-2 case text.

    Bus names, generator names (``mpc.gen_name``) and branch names (``mpc.branch_name``) are
    siting's IDs; the campus loads are in ``PD`` with the grid's own demand, the on-site
    generators are rows of ``mpc.gen``; ``PG`` is the plan's dispatch. Numbers are written
    with 17 significant digits (exact doubles).
    """
    snap = snapshot or case.peak
    mpc = matpower_arrays(case, snap)
    head = (
        f"function mpc = siting_export\n"
        f"%% {case.name}: the plan's grid in {case.year}, snapshot '{snap}' (siting export)\n"
        "mpc.version = '2';\n"
        f"mpc.baseMVA = {case.base_mva!r};\n"
    )
    return (
        head
        + _m_matrix("bus", mpc["bus"])
        + _m_matrix("gen", mpc["gen"])
        + _m_matrix("branch", mpc["branch"])
        + _m_matrix("gencost", mpc["gencost"])
        + _m_cell("bus_name", mpc["bus_name"])
        + _m_cell("gen_name", mpc["gen_name"])
        + _m_cell("branch_name", mpc["branch_name"])
    )


def to_pandapower(case: ExportCase, snapshot: str | None = None) -> Any:
    """The case at ``snapshot`` (default: the peak) as a ``pandapowerNet``.

    Made by pandapower's own ``from_ppc`` from :func:`matpower_arrays` with the loads taken
    out of ``PD``, then each load (grid and campus) added as a named ``load``; buses, lines,
    transformers and generators carry siting's IDs as ``name``; the plan's dispatch is each
    generator's ``p_mw`` (the first generator at the reference bus becomes pandapower's
    ``ext_grid`` and balances the network).

    Raises
    ------
    MissingDependencyError
        If pandapower is not installed.
    """
    try:
        import pandapower as pp
        from pandapower.converter.pypower import from_ppc
    except ImportError as e:
        raise MissingDependencyError(
            "writing a pandapower network needs the pandapower package, which is not "
            "installed; install it with \"pip install 'siting[pandapower]'\""
        ) from e
    snap = snapshot or case.peak
    ppc = matpower_arrays(case, snap)
    ppc["bus"][:, 2] = 0.0
    bus = ppc["bus"]
    bus[bus[:, 9] <= 0, 9] = 1.0  # pandapower divides by the voltage: 1 kV where unknown
    # pandapower's slack (ext_grid) at each island's reference bus, as siting's check has it
    ref = case.buses.index.isin(case.reference_buses)
    bus[(bus[:, 1] == 3) & ~ref, 1] = 2.0
    bus[ref, 1] = 3.0
    on_gen = ppc["gen"][:, 7] > 0
    at_gen = np.unique(ppc["gen"][on_gen, 0].astype(int) - 1)
    bus[at_gen[bus[at_gen, 1] == 1], 1] = 2.0
    import logging

    logging.getLogger("pandapower").setLevel(logging.ERROR)
    net = from_ppc(ppc, f_hz=50, validate_conversion=False)
    net.bus["name"] = list(case.buses.index)
    p = case.load_p_mw.loc[snap]
    bus_pos = pd.Series(net.bus.index, index=case.buses.index)
    for name, bus_id in zip(case.loads.index, case.loads["bus_id"], strict=True):
        pp.create_load(
            net, bus=int(bus_pos.loc[str(bus_id)]), p_mw=as_float(p.loc[str(name)]), name=str(name)
        )
    return net


# --- writing -------------------------------------------------------------------------------


def write_export(
    case: ExportCase,
    fmt: ExportFormat,
    out: str | Path,
    *,
    snapshot: str | None = None,
    inputs: tuple[Path, ...] = (),
) -> Path:
    """Write ``case`` as ``fmt`` to ``out``, atomically (a file written beside it, renamed
    onto it when whole). ``snapshot`` (pandapower and MATPOWER: one snapshot) defaults to the
    peak. Returns the file written.

    Raises
    ------
    siting.core.io.OutputRefusedError
        ``out`` is a folder or one of ``inputs``.
    siting.core.errors.InputError
        ``snapshot`` is not one of the plan's.
    """
    if snapshot is not None and snapshot not in case.snapshots:
        raise _bad(
            f"snapshot '{snapshot}' is not one of the plan's ({', '.join(case.snapshots)})",
            field="snapshot",
        )
    path = check_output_file(out, inputs=inputs)
    with atomic_file(path) as tmp:
        if fmt == "pypsa":
            to_pypsa(case).export_to_netcdf(str(tmp))
        elif fmt == "pandapower":
            import pandapower as pp

            pp.to_json(to_pandapower(case, snapshot), str(tmp))
        elif fmt == "matpower":
            tmp.write_text(to_matpower(case, snapshot), encoding="utf-8")
        else:  # pragma: no cover - the CLI only offers the three
            raise ValueError(f"unknown export format {fmt!r}")
    return path


def default_out(plan_dir: str | Path, fmt: ExportFormat, year: int) -> Path:
    """``<plan folder>_<year><suffix>`` beside the plan folder (never inside it)."""
    d = Path(plan_dir).resolve()
    return d.parent / f"{d.name}_{year}{EXPORT_FORMATS[fmt]}"


def finite_or_none(v: float) -> float | None:
    """``v``, or ``None`` when not finite (JSON)."""
    return v if math.isfinite(v) else None


# --- AC screening ---------------------------------------------------------------------------

#: Voltage band of the AC screening [per unit]: ANSI C84.1 range A at the service
#: entrance (+/- 5 %), the common planning band for transmission buses.
AC_VM_MIN_PU, AC_VM_MAX_PU = 0.95, 1.05


@dataclass
class ACScreening:
    """pandapower's AC power flow of a plan's export: a screening, not part of the DC plan.

    Attributes
    ----------
    year, snapshot
        What was run.
    converged
        Whether the Newton-Raphson power flow converged (no results otherwise).
    voltages
        ``bus_id, vm_pu`` of buses outside [:data:`AC_VM_MIN_PU`, :data:`AC_VM_MAX_PU`].
    loadings
        ``branch_id, loading_pct`` of lines and transformers above 100 % of the year's
        rating (pandapower's loading: current for lines, apparent power for transformers).
    losses_mw
        Active losses of the AC flow [MW] (the DC plan has none).
    notes
        What to keep in mind (reactive data the grid did not have ...).
    """

    year: int
    snapshot: str
    converged: bool
    voltages: pd.DataFrame
    loadings: pd.DataFrame
    losses_mw: float = math.nan
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``label``, ``year``, ``snapshot``, ``converged``, ``losses_mw``,
        ``voltage_violations``, ``loading_violations``, ``notes``."""
        return {
            "label": "AC screening (pandapower runpp), not part of the DC plan",
            "year": self.year,
            "snapshot": self.snapshot,
            "converged": self.converged,
            "losses_mw": finite_or_none(self.losses_mw),
            "voltage_violations": self.voltages.to_dict("records"),
            "loading_violations": self.loadings.to_dict("records"),
            "notes": list(self.notes),
        }


def ac_screening(case: ExportCase, snapshot: str | None = None) -> ACScreening:
    """Run pandapower's AC power flow (``runpp``) on :func:`to_pandapower` of ``case`` and
    list the voltages outside [0.95, 1.05] pu and the branches above 100 % loading.

    The grid's reactive data are what its source gave (a grid of GeoPackage layers has
    none: loads at unity power factor, generators holding 1.0 pu); a failure to converge is
    reported, not raised. This is a screening for the user's own AC study, not a check of
    the DC plan.
    """
    import pandapower as pp

    snap = snapshot or case.peak
    net = to_pandapower(case, snap)
    notes = [
        "AC screening of the DC plan's dispatch: pandapower's Newton-Raphson power flow with "
        "the grid's own reactive data; the DC plan does not model voltages or losses"
    ]
    empty_v = pd.DataFrame(columns=["bus_id", "vm_pu"])
    empty_l = pd.DataFrame(columns=["branch_id", "loading_pct"])
    try:
        pp.runpp(net, max_iteration=30)
    except Exception as e:  # noqa: BLE001 - pandapower raises its own on non-convergence
        notes.append(f"the AC power flow did not converge ({type(e).__name__})")
        return ACScreening(case.year, snap, False, empty_v, empty_l, notes=notes)
    vm = net.res_bus["vm_pu"]
    bad_v = (vm < AC_VM_MIN_PU - 1e-9) | (vm > AC_VM_MAX_PU + 1e-9)
    voltages = pd.DataFrame(
        {"bus_id": net.bus.loc[bad_v[bad_v].index, "name"].astype(str), "vm_pu": vm[bad_v]}
    ).reset_index(drop=True)
    parts = []
    for table, res in (("line", "res_line"), ("trafo", "res_trafo")):
        if len(net[table]):
            lp = net[res]["loading_percent"]
            over = lp > 100.0 + 1e-9
            parts.append(
                pd.DataFrame(
                    {
                        "branch_id": net[table].loc[over[over].index, "name"].astype(str),
                        "loading_pct": lp[over],
                    }
                )
            )
    loadings = pd.concat(parts, ignore_index=True) if parts else empty_l
    losses = float(
        net.res_line["pl_mw"].sum() + (net.res_trafo["pl_mw"].sum() if len(net.trafo) else 0.0)
    )
    return ACScreening(
        case.year,
        snap,
        True,
        voltages.sort_values("vm_pu").reset_index(drop=True),
        loadings.sort_values("loading_pct", ascending=False).reset_index(drop=True),
        losses_mw=losses,
        notes=notes,
    )
