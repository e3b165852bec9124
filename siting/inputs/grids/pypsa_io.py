"""Read a PyPSA network into a :class:`~siting.inputs.grids.grid.Grid`.

A network saved by ``pypsa.Network.export_to_netcdf`` (``.nc``) or
``export_to_csv_folder`` (a folder of CSV files), such as the ``base.nc`` or
``base_s_<clusters>.nc`` networks of a PyPSA-Eur run, goes through PyPSA's own
``calculate_dependent_values`` (line and transformer types, the transformer T model,
per-unit values on 1 MVA) and then through
:func:`siting.inputs.grids.matpower.case_to_grid` with MATPOWER's conventions on a
:data:`BASE_MVA` base, so every check of the MATPOWER reader applies too. What is read:

- **buses**: ``v_nom`` [kV] as ``voltage_kv``, ``x``/``y`` as the position (in the network's
  CRS, ``n.crs``, or ``layers.grid.crs``); a bus without coordinates (NaN, or PyPSA's
  default ``0, 0``) is an error unless ``layers.grid.bus_coordinates`` gives them;
- **lines**: ``x_pu = x / v_nom**2 * BASE_MVA`` (``v_nom`` of ``bus0``, as PyPSA), ``r_pu``
  likewise, ``b_pu = b * v_nom**2 / BASE_MVA``; ``rating_mw = s_nom * s_max_pu``;
  ``length_km`` is ``length`` where > 0;
- **transformers**: ``x_pu = x / s_nom * BASE_MVA`` (PyPSA's ``x`` is per unit of
  ``s_nom``), ``tap_ratio``, ``shift_deg = phase_shift``; the DC susceptance is
  ``1 / (x_pu * tap_ratio)``, PyPSA's ``x_pu_eff``. The tap side matters only in AC;
- **generators** and **storage units** (as generators, discharge only): ``p_max_mw =
  p_nom * p_max_pu``, ``p_min_mw = p_nom * p_min_pu`` (storage: 0), a linear cost of
  ``marginal_cost`` (currency taken as USD), ``fuel = carrier`` and ``co2_t_per_mwh =
  co2_emissions / efficiency`` of the carrier (PyPSA's emissions are per MWh of fuel);
- **loads**: ``load_mw`` per bus is the sum of ``p_set`` at the network's **peak
  snapshot**, the snapshot with the largest total load (its time series where given, else
  the static value). Time-varying ``p_max_pu``, ``p_min_pu`` and ``marginal_cost`` are also
  taken at that snapshot;
- **line expansion options** (``s_nom_extendable`` with a finite ``s_nom_max`` above
  ``s_nom``): ``upgrade_added_mw = (s_nom_max - s_nom) * s_max_pu`` and
  ``upgrade_cost_usd = overnight_cost * (s_nom_max - s_nom)`` when the line gives
  ``overnight_cost``, else ``capital_cost * (s_nom_max - s_nom) / annuity_factor`` (PyPSA's
  ``capital_cost`` is a yearly cost per MVA);
- **links** (HVDC and other controllable branches): siting's DC model has no controllable
  flows, so an active link is refused with a named error, unless ``links="fixed"``: each link
  is then a fixed transfer at its ``p_set`` at the peak snapshot (``p_set`` leaves ``bus0``,
  ``p_set * efficiency`` arrives at ``bus1``), exactly what PyPSA's ``lpf()`` does with
  links, netted into the two buses' ``load_mw`` (so scaled by the snapshots' load factors
  like all base load);
- inactive components (``active = False``) are kept out of service (branches) or left out
  (generators, loads, links); stores and shunt impedances are left out (PyPSA's ``lpf`` has
  no shunts either), with a note.

IDs are PyPSA's own names: ``bus_id`` the bus name, ``branch_id`` the line or transformer
name, ``gen_id`` the generator or storage unit name (a name used by two of them is an
error). Bad inputs get a named error: a line without ``x`` (0 or NaN, PyPSA's default), a
branch with ``s_nom`` 0, a carrier that is not in ``n.carriers``, a bus without coordinates,
a component at an unknown bus.

pypsa is imported only when a network is read: it is an optional dependency
(``pip install 'siting[pypsa]'``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from siting.core.errors import MissingDependencyError, ProblemReport
from siting.core.files import path_problem
from siting.inputs.grids.grid import Grid
from siting.inputs.grids.matpower import BUS_COLUMNS, MatpowerCase, case_to_grid

__all__ = ["BASE_MVA", "import_pypsa", "read_pypsa", "set_network_crs"]

BASE_MVA = 100.0
"""System base of the per-unit values of a grid read from PyPSA [MVA] (PyPSA's own is 1)."""

PYPSA_SUFFIXES = {".nc"}
"""File suffixes read as a PyPSA netCDF network (a folder is read as a CSV folder)."""


def import_pypsa() -> Any:
    """The pypsa module, or a :class:`MissingDependencyError` naming the extra."""
    try:
        import pypsa
    except ImportError as e:
        raise MissingDependencyError(
            "reading or writing a PyPSA network needs the pypsa package, which is not "
            "installed; install it with \"pip install 'siting[pypsa]'\""
        ) from e
    return pypsa


def set_network_crs(n: Any, crs: object) -> None:
    """Set a PyPSA network's CRS (of its bus x/y and shapes) without moving anything.

    PyPSA 1.2's ``n.crs = ...`` refuses to change the CRS of its (even empty) shapes table,
    so the shapes are relabelled with ``allow_override`` and the CRS stored as PyPSA's own
    netCDF import does.
    """
    from pyproj import CRS

    new = CRS.from_user_input(crs)
    try:
        n.crs = new
    except ValueError:
        n.c.shapes.static.set_crs(new, allow_override=True, inplace=True)
        n._crs = new


def _open_network(pypsa: Any, source: Any, report: ProblemReport) -> tuple[Any, str] | None:
    """The network to read (a copy) and its label; ``None`` when it cannot be read."""
    if not isinstance(source, (str, os.PathLike)):
        if not isinstance(source, pypsa.Network):
            raise TypeError(f"expected a path or a pypsa.Network, got {type(source).__name__}")
        return source.copy(), "PyPSA network"
    p = Path(source)
    file = str(p)
    if p.is_dir():
        if not (p / "buses.csv").is_file():
            report.add(
                "is a folder without buses.csv; expected a PyPSA network exported with "
                "export_to_csv_folder (or a .nc file)",
                file=file,
            )
            return None
    else:
        why = path_problem(p, expected="a PyPSA network (.nc)")
        if why is not None:
            report.add(
                f"{why}; expected a PyPSA network saved with export_to_netcdf (.nc) or a CSV folder"
                if why == "file not found"
                else why,
                file=file,
            )
            return None
    try:
        return pypsa.Network(file), file
    except Exception as e:  # noqa: BLE001 - PyPSA/xarray raise anything on a bad file
        hint = (
            "; PyPSA 1.2 reads back only networks in EPSG:4326: convert it with "
            "n.to_crs(4326) before saving"
            if "already has a CRS" in str(e)
            else ""
        )
        report.add(f"PyPSA could not read it ({type(e).__name__}: {e}){hint}", file=file)
        return None


def _active(df: pd.DataFrame) -> np.ndarray:
    """``active`` of a component table (PyPSA 1.x), all True without the column."""
    if "active" not in df.columns:
        return np.ones(len(df), dtype=bool)
    return df["active"].fillna(True).astype(bool).to_numpy()


def _at(n: Any, component: str, attr: str, snapshot: Any, index: pd.Index) -> np.ndarray:
    """``attr`` of ``component`` at ``snapshot`` (its time series where given, else static)."""
    if not len(index):
        return np.zeros(0)
    dense = n.get_switchable_as_dense(component, attr, [snapshot], index)
    return dense.iloc[0].reindex(index).to_numpy(dtype=float)


def _peak_snapshot(n: Any, loads: pd.DataFrame, report: ProblemReport, file: str) -> Any:
    """The snapshot with the largest total active load [MW] (the first one without loads)."""
    snaps = n.snapshots
    on = loads.index[_active(loads)]
    if len(snaps) <= 1 or not len(on):
        return snaps[0]
    total = n.get_switchable_as_dense("Load", "p_set", snaps, on).sum(axis=1).to_numpy()
    k = int(np.argmax(total))
    report.note(
        f"{file}: loads, generator limits, costs and link transfers are taken at the "
        f"network's peak snapshot '{snaps[k]}' ({total[k]:,.1f} MW of load, of "
        f"{len(snaps)} snapshots)"
    )
    return snaps[k]


def _check_refs(
    table: pd.DataFrame,
    cols: tuple[str, ...],
    buses: pd.Index,
    layer: str,
    report: ProblemReport,
    file: str,
) -> None:
    """Every ``cols`` value of ``table`` is a bus name."""
    for col in cols:
        bad = np.flatnonzero(~table[col].astype(str).isin(buses).to_numpy())

        def not_a_bus(i: int, t: pd.DataFrame = table, c: str = col) -> str:
            return f"bus '{t[c].iloc[i]}' is not in the network's buses; expected a bus name"

        report.add_rows(
            bad,
            not_a_bus,
            file=file,
            layer=layer,
            field=col,
            ids=[str(i) for i in table.index],
        )


def _check_buses(n: Any, report: ProblemReport, file: str, need_xy: bool) -> None:
    """``v_nom > 0`` [kV]; coordinates (not NaN, not PyPSA's default 0, 0) when needed."""
    b = n.c.buses.static
    ids = [str(i) for i in b.index]
    v = pd.to_numeric(b["v_nom"], errors="coerce").to_numpy(dtype=float)
    report.add_rows(
        np.flatnonzero(~(np.isfinite(v) & (v > 0))),
        lambda i: f"expected a nominal voltage > 0 [kV], got {b['v_nom'].iloc[i]!r}",
        file=file,
        layer="buses",
        field="v_nom",
        ids=ids,
    )
    if need_xy:
        x = pd.to_numeric(b["x"], errors="coerce").to_numpy(dtype=float)
        y = pd.to_numeric(b["y"], errors="coerce").to_numpy(dtype=float)
        missing = ~(np.isfinite(x) & np.isfinite(y)) | ((x == 0) & (y == 0))
        report.add_rows(
            np.flatnonzero(missing),
            "bus has no coordinates (x, y empty or PyPSA's default 0, 0); expected its "
            "position, or give every bus's in layers.grid.bus_coordinates",
            file=file,
            layer="buses",
            field="x",
            ids=ids,
        )


def _typed(n: Any, comp: pd.DataFrame, layer: str, report: ProblemReport, file: str) -> np.ndarray:
    """Per branch: whether it names a standard ``type`` (which gives its impedance); a type
    that is not one of the network's line or transformer types is reported."""
    if "type" not in comp.columns:
        return np.zeros(len(comp), dtype=bool)
    kind = comp["type"].fillna("").astype(str)
    types = n.c.line_types.static if layer == "lines" else n.c.transformer_types.static
    unknown = ((kind != "") & ~kind.isin(types.index.astype(str))).to_numpy()

    def not_a_type(i: int, k: pd.Series = kind) -> str:
        return f"type '{k.iloc[i]}' is not one of PyPSA's standard {layer[:-1]} types"

    report.add_rows(
        np.flatnonzero(unknown),
        not_a_type,
        file=file,
        layer=layer,
        field="type",
        ids=[str(i) for i in comp.index],
    )
    return (kind != "").to_numpy()


def _check_branches(n: Any, report: ProblemReport, file: str) -> None:
    """Known buses, a reactance (``x``, or a ``type``), ``s_nom > 0`` [MVA], no DC lines."""
    buses = n.c.buses.static
    names = pd.Index(buses.index.astype(str))
    dc = set(buses.index[buses["carrier"].astype(str).str.upper() == "DC"].astype(str))
    for layer, comp in (("lines", n.c.lines.static), ("transformers", n.c.transformers.static)):
        if not len(comp):
            continue
        ids = [str(i) for i in comp.index]
        _check_refs(comp, ("bus0", "bus1"), names, layer, report, file)
        on = _active(comp)
        x = pd.to_numeric(comp["x"], errors="coerce").to_numpy(dtype=float)
        typed = _typed(n, comp, layer, report, file)  # a standard type gives x
        report.add_rows(
            np.flatnonzero(on & ~typed & ~(np.isfinite(x) & (x != 0))),
            f"has no reactance (x is {'empty or 0' if layer == 'lines' else '0'}, PyPSA's "
            "default); expected the series reactance "
            + ("[Ohm] or a line type" if layer == "lines" else "[per unit of s_nom]"),
            file=file,
            layer=layer,
            field="x",
            ids=ids,
        )
        s = pd.to_numeric(comp["s_nom"], errors="coerce").to_numpy(dtype=float)

        def no_rating(i: int, s: np.ndarray = s) -> str:
            return (
                f"s_nom is {float(s[i]):g}; expected the rating > 0 [MVA] (siting plans on "
                "existing branches: a branch to be built from nothing is not an upgrade option)"
            )

        report.add_rows(
            np.flatnonzero(on & ~(s > 0)),
            no_rating,
            file=file,
            layer=layer,
            field="s_nom",
            ids=ids,
        )
        if layer == "lines" and dc:
            at_dc = comp["bus0"].astype(str).isin(dc) | comp["bus1"].astype(str).isin(dc)
            report.add_rows(
                np.flatnonzero(on & at_dc.to_numpy()),
                "is a DC line (a bus with carrier DC); expected AC lines: siting's DC power "
                "flow is the AC grid's linear approximation",
                file=file,
                layer=layer,
                field="bus0",
                ids=ids,
            )


def _check_carriers(n: Any, report: ProblemReport, file: str) -> None:
    """Every generator's and storage unit's carrier is in ``n.carriers`` (or empty)."""
    known = set(n.c.carriers.static.index.astype(str))
    for layer, comp in (
        ("generators", n.c.generators.static),
        ("storage_units", n.c.storage_units.static),
    ):
        if not len(comp):
            continue
        car = comp["carrier"].fillna("").astype(str)
        bad = np.flatnonzero(((car != "") & ~car.isin(known)).to_numpy())

        def unknown(i: int, c: pd.Series = car) -> str:
            return (
                f"carrier '{c.iloc[i]}' is not in the network's carriers; expected "
                "one of n.carriers (its co2_emissions give the generator's CO2)"
            )

        report.add_rows(
            bad,
            unknown,
            file=file,
            layer=layer,
            field="carrier",
            ids=[str(i) for i in comp.index],
        )


def _check_links(n: Any, links: str, report: ProblemReport, file: str) -> None:
    """Active links are refused unless ``links == "fixed"``; their buses must exist."""
    lk = n.c.links.static
    if not len(lk):
        return
    on = _active(lk)
    if links == "refuse":
        report.add_rows(
            np.flatnonzero(on),
            "is a link (an HVDC or other controllable branch): siting's DC model has no "
            "controllable flows, so links are not read; expected no active links, or set "
            "layers.grid.links: fixed to take each as a fixed transfer at its p_set (as "
            "PyPSA's lpf does)",
            file=file,
            layer="links",
            field="p_nom",
            ids=[str(i) for i in lk.index],
        )
        return
    _check_refs(
        lk[on],
        ("bus0", "bus1"),
        pd.Index(n.c.buses.static.index.astype(str)),
        "links",
        report,
        file,
    )


def _check_network(n: Any, links: str, need_xy: bool, report: ProblemReport, file: str) -> bool:
    """Every check before the conversion; whether none failed."""
    before = len(report)
    names = pd.Index(n.c.buses.static.index.astype(str))
    _check_buses(n, report, file, need_xy)
    _check_branches(n, report, file)
    for layer, comp in (
        ("generators", n.c.generators.static),
        ("storage_units", n.c.storage_units.static),
        ("loads", n.c.loads.static),
    ):
        if len(comp):
            _check_refs(comp, ("bus",), names, layer, report, file)
    _check_carriers(n, report, file)
    _check_links(n, links, report, file)
    branch_names = list(n.c.lines.static.index.astype(str)) + list(
        n.c.transformers.static.index.astype(str)
    )
    gen_names = list(n.c.generators.static.index.astype(str)) + list(
        n.c.storage_units.static.index.astype(str)
    )
    for layer, all_names in (("transformers", branch_names), ("storage_units", gen_names)):
        dup = sorted(set(pd.Index(all_names)[pd.Index(all_names).duplicated()]))
        for name in dup[:5]:
            report.add(
                f"name '{name}' is used by two components; siting names branches (lines and "
                "transformers) and generators (generators and storage units) by their PyPSA "
                "names, so expected unique names",
                file=file,
                layer=layer,
                id=name,
            )
    return len(report) == before


def _branch_rows(n: Any, bus_row: pd.Series) -> tuple[np.ndarray, list[str]]:
    """MATPOWER branch rows of the lines and transformers (1-based bus numbers) and IDs."""
    rows, ids = [], []
    for kind, comp in (("line", n.c.lines.static), ("transformer", n.c.transformers.static)):
        if not len(comp):
            continue
        nl = len(comp)
        br = np.zeros((nl, 13))
        br[:, 0] = bus_row.reindex(comp["bus0"].astype(str)).to_numpy() + 1
        br[:, 1] = bus_row.reindex(comp["bus1"].astype(str)).to_numpy() + 1
        br[:, 2] = comp["r_pu"].to_numpy(dtype=float) * BASE_MVA
        br[:, 3] = comp["x_pu"].to_numpy(dtype=float) * BASE_MVA
        br[:, 4] = comp["b_pu"].to_numpy(dtype=float) / BASE_MVA
        rate = comp["s_nom"].to_numpy(dtype=float) * comp["s_max_pu"].to_numpy(dtype=float)
        br[:, 5] = rate
        br[:, 7] = rate
        if kind == "transformer":
            br[:, 8] = comp["tap_ratio"].to_numpy(dtype=float)
            br[:, 9] = comp["phase_shift"].to_numpy(dtype=float)
        br[:, 10] = _active(comp).astype(float)
        br[:, 11], br[:, 12] = -360.0, 360.0
        rows.append(br)
        ids += [str(i) for i in comp.index]
    return (np.vstack(rows) if rows else np.zeros((0, 13))), ids


def _gen_rows(
    n: Any, snapshot: Any, bus_row: pd.Series
) -> tuple[np.ndarray, np.ndarray, list[str], list[str], np.ndarray]:
    """MATPOWER gen and gencost rows of the active generators and storage units; their IDs,
    carriers and CO2 [t/MWh of electricity]."""
    co2_of = pd.to_numeric(n.c.carriers.static.get("co2_emissions"), errors="coerce")
    gens, costs, ids, fuels, co2 = [], [], [], [], []
    for comp_name, comp in (
        ("Generator", n.c.generators.static),
        ("StorageUnit", n.c.storage_units.static),
    ):
        comp = comp[_active(comp)]
        if not len(comp):
            continue
        idx = comp.index
        p_nom = comp["p_nom"].to_numpy(dtype=float)
        g = np.zeros((len(comp), 21))
        g[:, 0] = bus_row.reindex(comp["bus"].astype(str)).to_numpy() + 1
        g[:, 7] = 1.0
        g[:, 8] = p_nom * _at(n, comp_name, "p_max_pu", snapshot, idx)
        if comp_name == "Generator":
            g[:, 9] = p_nom * _at(n, comp_name, "p_min_pu", snapshot, idx)
            eff = comp["efficiency"].to_numpy(dtype=float)
        else:
            eff = comp["efficiency_dispatch"].to_numpy(dtype=float)
        mc = np.nan_to_num(_at(n, comp_name, "marginal_cost", snapshot, idx))
        c = np.zeros((len(comp), 6))
        c[:, 0], c[:, 3], c[:, 4] = 2.0, 2.0, mc
        car = comp["carrier"].fillna("").astype(str)
        per_fuel = (
            np.nan_to_num(car.map(co2_of).to_numpy(dtype=float)) if co2_of is not None else 0.0
        )
        gens.append(g)
        costs.append(c)
        ids += [str(i) for i in idx]
        fuels += list(car)
        co2.append(np.where(eff > 0, per_fuel / np.where(eff > 0, eff, 1.0), 0.0))
    if not gens:
        return np.zeros((0, 21)), np.zeros((0, 6)), [], [], np.zeros(0)
    return np.vstack(gens), np.vstack(costs), ids, fuels, np.concatenate(co2)


def _bus_load_mw(n: Any, snapshot: Any, links: str, report: ProblemReport, file: str) -> pd.Series:
    """Load per bus at ``snapshot`` [MW], with fixed link transfers netted in."""
    names = n.c.buses.static.index.astype(str)
    load = pd.Series(0.0, index=names)
    ld = n.c.loads.static
    ld = ld[_active(ld)]
    if len(ld):
        p = _at(n, "Load", "p_set", snapshot, ld.index)
        load = load.add(
            pd.Series(p, index=ld["bus"].astype(str)).groupby(level=0).sum(), fill_value=0.0
        )
    lk = n.c.links.static
    lk = lk[_active(lk)] if len(lk) else lk
    if links == "fixed" and len(lk):
        p0 = _at(n, "Link", "p_set", snapshot, lk.index)
        eff = _at(n, "Link", "efficiency", snapshot, lk.index)
        load = load.add(
            pd.Series(p0, index=lk["bus0"].astype(str)).groupby(level=0).sum(), fill_value=0.0
        )
        load = load.sub(
            pd.Series(p0 * eff, index=lk["bus1"].astype(str)).groupby(level=0).sum(), fill_value=0.0
        )
        report.note(
            f"{file}: {len(lk)} links taken as fixed transfers at their p_set "
            f"({float(np.abs(p0).sum()):,.1f} MW in all), netted into their buses' load_mw"
        )
    return load.reindex(names)


def _upgrade_options(
    n: Any, grid: Grid, annuity_factor: float | None, report: ProblemReport, file: str
) -> None:
    """Line expansion options as ``upgrade_*`` columns of ``grid.branches`` (in place)."""
    ln = n.c.lines.static
    if not len(ln) or "s_nom_extendable" not in ln.columns:
        return
    ext = ln["s_nom_extendable"].fillna(False).astype(bool).to_numpy() & _active(ln)
    if not ext.any():
        return
    s_nom = ln["s_nom"].to_numpy(dtype=float)
    s_max = pd.to_numeric(ln["s_nom_max"], errors="coerce").to_numpy(dtype=float)
    added = s_max - s_nom
    unbounded = ext & ~(np.isfinite(added) & (added > 0))
    if unbounded.any():
        report.note(
            f"{file}: {int(unbounded.sum())} extendable lines have no finite s_nom_max above "
            "s_nom and are not offered as upgrades"
        )
    ok = ext & ~unbounded
    overnight = (
        pd.to_numeric(ln["overnight_cost"], errors="coerce").to_numpy(dtype=float)
        if "overnight_cost" in ln.columns
        else np.full(len(ln), np.nan)
    )
    capital = pd.to_numeric(ln["capital_cost"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    need_factor = ok & ~np.isfinite(overnight)
    if need_factor.any() and annuity_factor is None:
        report.add_rows(
            np.flatnonzero(need_factor),
            "is extendable with a yearly capital_cost and no overnight_cost; expected "
            "layers.grid.annuity_factor [1/year] to turn capital_cost into the upgrade's cost "
            "(or an overnight_cost on the line)",
            file=file,
            layer="lines",
            field="capital_cost",
            ids=[str(i) for i in ln.index],
        )
        return
    factor = annuity_factor if annuity_factor is not None else 1.0
    per_mva = np.where(np.isfinite(overnight[ok]), overnight[ok], capital[ok] / factor)
    ids = [str(i) for i in ln.index[ok]]
    br = grid.branches
    br.loc[ids, "upgrade_added_mw"] = added[ok] * ln["s_max_pu"].to_numpy(dtype=float)[ok]
    br.loc[ids, "upgrade_cost_usd"] = per_mva * added[ok]
    br.loc[ids, "upgrade_lead_time_years"] = 0.0
    report.note(
        f"{file}: {len(ids)} extendable lines offered as upgrade options (s_nom_max - s_nom; "
        "cost in the network's currency, taken as USD)"
    )


def _notes(n: Any, report: ProblemReport, file: str) -> None:
    """What is left out: stores, shunt impedances, inactive generators and loads."""
    for name, comp in (
        ("stores", n.c.stores.static),
        ("shunt impedances", n.c.shunt_impedances.static),
    ):
        if len(comp):
            report.note(f"{file}: {len(comp)} {name} are left out (not part of the DC flow)")
    if len(n.c.storage_units.static):
        report.note(
            f"{file}: {len(n.c.storage_units.static)} storage units read as generators "
            "(discharge up to p_nom * p_max_pu; no charging, no energy limit)"
        )
    tr = n.c.transformers.static
    if len(tr) and ((tr["tap_side"] == 1) & (tr["tap_ratio"] != 1)).any():
        report.note(
            f"{file}: transformers with their tap at bus1 (tap_side 1) are read with the tap "
            "at bus0, as MATPOWER has it (the same DC flow; an AC flow differs)"
        )


def _coordinates(
    n: Any, crs: object | None, bus_coordinates: Any
) -> tuple[pd.DataFrame | Any, object]:
    """The bus positions to hand to :func:`case_to_grid` and their CRS."""
    if bus_coordinates is not None:
        return bus_coordinates, crs if crs is not None else "EPSG:4326"
    b = n.c.buses.static
    net_crs = getattr(n, "crs", None)
    use = crs if crs is not None else (net_crs if net_crs is not None else "EPSG:4326")
    coords = pd.DataFrame(
        {
            "bus_id": b.index.astype(str),
            "x": b["x"].to_numpy(dtype=float),
            "y": b["y"].to_numpy(dtype=float),
        }
    )
    return coords, use


def read_pypsa(
    path_or_net: str | os.PathLike[str] | Any,
    report: ProblemReport,
    *,
    crs: object | None = None,
    bus_coordinates: str | os.PathLike[str] | pd.DataFrame | None = None,
    links: Literal["refuse", "fixed"] = "refuse",
    annuity_factor: float | None = None,
) -> Grid | None:
    """Read a PyPSA network (a ``.nc`` file, a CSV folder, or a ``pypsa.Network``).

    Parameters
    ----------
    path_or_net
        The network; a net object is copied, not changed.
    report
        Problems and notes are added here.
    crs
        CRS of the buses' x/y (or of ``bus_coordinates``); ``None``: the network's own
        (``n.crs``, EPSG:4326 unless set).
    bus_coordinates
        Optional CSV (or table) of ``bus_id, x, y`` (or ``lon, lat``) used instead of the
        buses' x/y; it must give every bus.
    links
        ``"refuse"`` (active links are an error) or ``"fixed"`` (fixed transfers at their
        ``p_set``, see the module docstring).
    annuity_factor
        Capital recovery factor [1/year] that turns a line's yearly ``capital_cost`` into
        the cost of its expansion option; needed only for extendable lines without an
        ``overnight_cost``.

    Returns
    -------
    Grid or None
        ``source_format = "pypsa"``, per-unit values on :data:`BASE_MVA`; ``None`` when the
        network has a problem (the report names each).

    Raises
    ------
    MissingDependencyError
        If pypsa is not installed.
    """
    pypsa = import_pypsa()
    opened = _open_network(pypsa, path_or_net, report)
    if opened is None:
        return None
    n, file = opened
    if not _check_network(n, links, bus_coordinates is None, report, file):
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        n.calculate_dependent_values()
    snapshot = _peak_snapshot(n, n.c.loads.static, report, file)
    buses = n.c.buses.static
    names = pd.Index(buses.index.astype(str))
    bus_row = pd.Series(np.arange(len(names)), index=names)
    bus = np.zeros((len(names), len(BUS_COLUMNS)))
    bus[:, 0] = np.arange(1, len(names) + 1)
    bus[:, 1] = 1.0
    bus[:, 2] = _bus_load_mw(n, snapshot, links, report, file).to_numpy(dtype=float)
    bus[:, 6] = 1.0
    bus[:, 7] = 1.0
    bus[:, 9] = buses["v_nom"].to_numpy(dtype=float)
    bus[:, 11], bus[:, 12] = 1.1, 0.9
    branch, branch_ids = _branch_rows(n, bus_row)
    gen, gencost, gen_ids, fuels, co2 = _gen_rows(n, snapshot, bus_row)
    bus[np.unique(gen[:, 0].astype(np.int64) - 1), 1] = 2.0
    case = MatpowerCase(
        base_mva=BASE_MVA,
        bus=bus,
        gen=gen,
        branch=branch,
        gencost=gencost if len(gen) else None,
        bus_names=tuple(names),
        gen_fuels=tuple(fuels),
        name=str(getattr(n, "name", "") or ""),
        path=file,
        bus_ids=tuple(names),
        branch_ids=tuple(branch_ids),
        gen_ids=tuple(gen_ids),
    )
    coords, coords_crs = _coordinates(n, crs, bus_coordinates)
    grid = case_to_grid(
        case, report, source=file, bus_coordinates=coords, coordinates_crs=coords_crs
    )
    if grid is None:
        return None
    grid.source_format = "pypsa"
    grid.generators["co2_t_per_mwh"] = co2
    ln = n.c.lines.static
    if len(ln):
        length = ln["length"].to_numpy(dtype=float)
        has = np.isfinite(length) & (length > 0)
        grid.branches.loc[[str(i) for i in ln.index[has]], "length_km"] = length[has]
    before = len(report)
    _upgrade_options(n, grid, annuity_factor, report, file)
    if len(report) > before:
        return None
    _notes(n, report, file)
    return grid
