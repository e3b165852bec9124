"""Read a pandapower network into a :class:`~siting.inputs.grids.grid.Grid`.

The network goes through pandapower's own conversion to its internal MATPOWER-style
case (``pandapower.converter.pypower.to_ppc``, which is what ``to_mpc`` and every
pandapower power flow use), and the result through
:func:`siting.inputs.grids.matpower.case_to_grid`, so the per-unit values are exactly those
pandapower computes. What that conversion does, so that nothing is a surprise:

- **lines** become per-unit branches on the network's ``sn_mva``:
  ``x_pu = x_ohm_per_km * length_km / parallel / (vn_kv**2 / sn_mva)`` (``vn_kv`` of the
  from bus), with the line's capacitance as ``b_pu``;
- **transformers** become branches with the impedance from ``vk_percent`` /
  ``vkr_percent`` referred to the network's base, an off-nominal ``tap_ratio`` from the
  rated voltages and tap position, and ``shift_deg``. With ``trafo_model="t"``
  (pandapower's default) the T equivalent is turned into a pi one, which changes the
  series reactance slightly when a transformer has magnetising current;
  ``trafo_model="pi"`` reproduces a MATPOWER case exactly;
- **three-winding transformers** become three branches to an auxiliary star-point
  bus (ID ``trafo3w:<index>:star``); **xwards** add an auxiliary bus and branch;
  a **line with an open switch** at one end is kept, ending at an auxiliary bus
  (ID ``line:<index>:from`` or ``:to``). Auxiliary buses take the coordinates of the
  bus they stand in for;
- buses joined by **closed bus-bus switches** are merged into one bus, whose ID is the
  smallest pandapower index among them;
- **ratings**: ``RATE_A`` is ``max_i_ka * df * parallel * vn_kv * sqrt(3)`` for lines
  and ``sn_mva * df * parallel`` for transformers, times ``max_loading_percent / 100``.
  pandapower writes a placeholder (100 MVA, or 0) when that column is missing, so this
  reader fills it with 100 % first (on a copy); an ``impedance``'s rating is its
  ``sn_mva``;
- **generators**: external grids, generators and, when the network has the limits
  pandapower's OPF needs (``max_p_mw``/``min_p_mw``), controllable static
  generators, loads and storage (as negative generators). Their costs come from
  ``poly_cost``/``pwl_cost`` as pandapower's OPF sees them (a unit without a cost row
  costs 0; cost units are taken as USD). Static generators that are not
  controllable (or all of them, when the OPF limits are missing) are netted into the
  bus load, as pandapower's power flow does, so ``load_mw`` may be negative; a unit
  without a limit gets pandapower's default of 1e9 MW;
- **out of service**: buses and branches are kept (``bus_type`` 4 /
  ``in_service = False``); generators that are out of service are dropped by
  pandapower's conversion (a note counts them).

IDs: ``bus_id`` is the pandapower bus index as text; ``branch_id`` is
``<element>:<index>`` (``line:3``, ``trafo:0``, ``trafo3w:1:hv``, ``impedance:2``);
``gen_id`` likewise (``ext_grid:0``, ``gen:2``, ``sgen:5``). ``length_km`` of lines is
pandapower's ``length_km`` (networks converted from MATPOWER by pandapower carry a
placeholder of 1 km).

pandapower is imported only when a network is read: it is an optional dependency.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import logging
import math
import numbers
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from siting.core.errors import MissingDependencyError, ProblemReport
from siting.core.files import path_problem, read_text_regular
from siting.inputs.grids.grid import Grid
from siting.inputs.grids.matpower import (
    BUS_I,
    F_BUS,
    GEN_BUS,
    PMAX,
    PMIN,
    T_BUS,
    MatpowerCase,
    _size_ok,
    case_to_grid,
    read_bus_coordinates,
)

__all__ = ["read_pandapower"]

_BRANCH_ENDS = {
    "line": ("from_bus", "to_bus"),
    "trafo": ("hv_bus", "lv_bus"),
    "impedance": ("from_bus", "to_bus"),
    "xward": ("bus", "bus"),
    "tcsc": ("from_bus", "to_bus"),
}
_NOT_GENERATION = {"xward"}  # ppc "generators" that only hold a voltage
# the bus columns of the element tables (checked before pandapower's conversion reads them)
_BUS_REFS = {
    **{et: ends for et, ends in _BRANCH_ENDS.items() if et != "xward"},
    "trafo3w": ("hv_bus", "mv_bus", "lv_bus"),
    "dcline": ("from_bus", "to_bus"),
    "switch": ("bus",),
    **{
        et: ("bus",)
        for et in ("load", "sgen", "gen", "ext_grid", "storage", "shunt", "ward", "xward", "motor")
    },
}


def _import_pandapower() -> Any:
    try:
        import pandapower
        from pandapower.converter.pypower import to_ppc  # noqa: F401
    except ImportError as e:
        raise MissingDependencyError(
            "reading a pandapower network needs the pandapower package, which is not "
            "installed; install it with \"pip install 'siting[pandapower]'\""
        ) from e
    return pandapower


@contextlib.contextmanager
def _quiet(name: str = "pandapower") -> Iterator[None]:
    """Silence pandapower's logging (it logs errors for things we handle)."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


@functools.cache
def _table_names(pp: Any) -> tuple[str, ...]:
    """The element tables (DataFrames) of an empty pandapower network."""
    empty = pp.create_empty_network()
    return tuple(k for k, v in empty.items() if isinstance(v, pd.DataFrame))


def _whole(v: object) -> bool:
    """Whether ``v`` is an integer (or a float holding one), not a bool."""
    if isinstance(v, bool):
        return False
    return isinstance(v, numbers.Integral) or (isinstance(v, float) and v.is_integer())


def _check_tables(net: Any, pp: Any, report: ProblemReport, file: str) -> bool:
    """Whether every element table is a table, ``sn_mva`` a number > 0, ``vn_kv`` > 0 kV.

    pandapower's conversion otherwise fails deep inside (a table that is ``null`` in
    the file) or divides by 0 (a bus at 0 kV gives an infinite per-unit reactance).
    """
    n_before = len(report)
    for name in _table_names(pp):
        value = net.get(name)
        if not isinstance(value, pd.DataFrame):
            report.add(
                f"is {'missing' if value is None else f'a {type(value).__name__}'}; expected "
                "a table, as pandapower.to_json writes it",
                file=file,
                layer=name,
            )
    sn = net.get("sn_mva")
    real = (int, float, np.integer, np.floating)  # the real numbers a JSON file can give
    if isinstance(sn, bool) or not isinstance(sn, real) or not (0 < sn < math.inf):
        report.add(f"expected a finite number > 0 [MVA], got {sn!r}", file=file, layer="sn_mva")
    if len(report) > n_before:
        return False
    for name in _table_names(pp):
        index = net[name].index
        odd = [i for i in index if not _whole(i)]
        if odd:
            report.add(
                f"index {', '.join(repr(i) for i in odd[:5])} is not a whole number; expected "
                "pandapower's integer element indices",
                file=file,
                layer=name,
                field="index",
            )
            continue
        dup = index[index.duplicated()].unique()
        if len(dup):
            report.add(
                f"index {', '.join(repr(i) for i in dup[:5])} is used more than once; expected "
                "unique element indices",
                file=file,
                layer=name,
                field="index",
            )
    bus = net["bus"]
    for name, columns in _BUS_REFS.items():
        table = net[name]
        for col in columns:
            if len(table) == 0 or col not in table.columns:
                continue
            v = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=float)
            bad = ~(np.isfinite(v) & (v == np.round(v))) | ~table[col].isin(bus.index).to_numpy()

            def not_a_bus(i: int, t: pd.DataFrame = table, c: str = col) -> str:
                return f"bus '{t[c].iloc[i]}' is not in the bus table; expected the index of a bus"

            report.add_rows(
                np.flatnonzero(bad),
                not_a_bus,
                file=file,
                layer=name,
                field=col,
                ids=[str(i) for i in table.index],
            )
    if len(report) > n_before:
        return False
    if "vn_kv" not in bus.columns:
        report.add(
            "no vn_kv column; expected each bus's nominal voltage [kV]",
            file=file,
            layer="bus",
            field="vn_kv",
        )
        return False
    kv = pd.to_numeric(bus["vn_kv"], errors="coerce").to_numpy(dtype=float)
    report.add_rows(
        np.flatnonzero(~(np.isfinite(kv) & (kv > 0))),
        lambda i: f"expected a nominal voltage > 0 [kV], got {bus['vn_kv'].iloc[i]!r}",
        file=file,
        layer="bus",
        field="vn_kv",
        ids=[str(i) for i in bus.index],
    )
    return len(report) == n_before


def _fill_loading_limits(net: Any) -> None:
    """``max_loading_percent = 100`` where missing, so ratings are the thermal ones."""
    for table in ("line", "trafo", "trafo3w"):
        df = net[table]
        if len(df) == 0:
            continue
        if "max_loading_percent" not in df.columns:
            df["max_loading_percent"] = 100.0
        else:
            df["max_loading_percent"] = df["max_loading_percent"].astype(float).fillna(100.0)


def _convert(net: Any, mode: str, trafo_model: str) -> tuple[dict, dict]:
    """pandapower's internal case of ``net``: the full one (``ppc``) and ``ppci``.

    ``to_ppc`` (public) checks the network, sets the conversion options and returns
    ``ppci``, which holds only what is in service; ``_pd2ppc`` then gives the full
    ``ppc`` with the same options (out-of-service branches flagged, buses renumbered as
    in ``ppci``, lookups from pandapower indices to its rows).
    """
    from pandapower.converter.pypower import to_ppc

    # pandapower divides by a 0 kV, 0 MVA or 0 parallel systems in a bad network: the
    # inf/NaN it hands on is reported by case_to_grid, without numpy's warnings
    with _quiet(), np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ppci = to_ppc(net, init="flat", mode=mode, trafo_model=trafo_model)
        try:
            from pandapower.pd2ppc import _pd2ppc
        except ImportError:  # a pandapower that moved it: in-service case only
            return ppci, ppci
        ppc, ppci = _pd2ppc(net)
    return ppc, ppci


def _bus_geodata(net: Any) -> pd.DataFrame:
    """x, y of pandapower buses (index: bus index), from ``bus.geo`` or ``bus_geodata``."""
    xy = pd.DataFrame({"x": np.nan, "y": np.nan}, index=net.bus.index, dtype=float)
    if "geo" in net.bus.columns:
        for idx, g in net.bus["geo"].items():
            if g is None or (isinstance(g, float) and np.isnan(g)):
                continue
            try:
                obj = json.loads(g) if isinstance(g, str) else dict(g)
                if obj.get("type") == "Point":
                    x, y = obj["coordinates"][:2]
                    xy.loc[idx] = (float(x), float(y))
            except (ValueError, TypeError, KeyError):
                continue
    elif "bus_geodata" in net and len(net["bus_geodata"]):  # pandapower < 3
        gd = net["bus_geodata"]
        common = gd.index.intersection(xy.index)
        xy.loc[common, ["x", "y"]] = gd.loc[common, ["x", "y"]].to_numpy(dtype=float)
    return xy


#: Modules a pandapower JSON file may name in its ``_module`` entries (what
#: ``pandapower.to_json`` writes: pandapower's net and pandas/numpy/geopandas/shapely data).
SAFE_JSON_MODULES = ("pandapower", "pandas", "numpy", "geopandas", "shapely")


def _foreign_objects(path: Path) -> list[str]:
    """The ``module.class`` of every object in a pandapower JSON file that pandapower would
    import from outside :data:`SAFE_JSON_MODULES` (or deserialise as a function or method).

    pandapower's reader imports whatever module an object names (``importlib.import_module``)
    before its own checks, so a file could run any installed module's import-time code. The
    file (its nested JSON strings too) is scanned first; unreadable JSON is left for
    pandapower to report.
    """
    found: list[str] = []

    def hook(d: dict) -> dict:
        mod, cls = d.get("_module"), d.get("_class")
        if mod is not None or cls is not None:
            mod_s, cls_s = str(mod), str(cls)
            root = mod_s.split(".", 1)[0]
            if root not in SAFE_JSON_MODULES or cls_s in ("function", "method", "exec"):
                found.append(f"{mod_s}.{cls_s}"[:120])
        for v in d.values():
            if isinstance(v, str) and v[:1] in "{[" and '"_module"' in v:
                with contextlib.suppress(ValueError, RecursionError):
                    json.loads(v, object_hook=hook)
        return d

    try:
        json.loads(read_text_regular(path, errors="replace"), object_hook=hook)
    except (ValueError, RecursionError):
        pass
    return found


def _open_network(
    pp: Any, path_or_net: str | os.PathLike[str] | Any, report: ProblemReport
) -> tuple[Any, str] | None:
    """The pandapower network to read and its source (the file, or a label for a net object).

    A path is checked (no pickles, a regular file of bounded size, no foreign objects) and
    read with ``pandapower.from_json``; ``None`` when it cannot be read (the report says
    why). A net object is taken as it is.

    Raises
    ------
    TypeError
        If ``path_or_net`` is neither a path nor a pandapower network.
    """
    if isinstance(path_or_net, (str, os.PathLike)):
        file = str(path_or_net)
        p = Path(path_or_net)
        if p.suffix.lower() in (".p", ".pkl", ".pickle"):
            report.add(
                "pickled networks are not read, since unpickling runs code from the file; "
                "expected a JSON file written by pandapower.to_json",
                file=file,
            )
            return None
        why = path_problem(p, expected="a pandapower network (JSON)")
        if why is not None:
            report.add(
                f"{why}; expected a pandapower network saved with pandapower.to_json"
                if why == "file not found"
                else why,
                file=file,
            )
            return None
        if not _size_ok(p, report):
            return None
        refused = _foreign_objects(p)
        if refused:
            report.add(
                "asks to load Python objects that are not pandapower's own data "
                f"({', '.join(refused[:5])}); pandapower would import their modules, which "
                "runs code, so the file is not read; expected a network saved with "
                "pandapower.to_json",
                file=file,
            )
            return None
        try:
            with _quiet():
                net = pp.from_json(file)
        except Exception as e:  # pandapower raises many kinds on a bad file
            report.add(
                f"could not be read as a pandapower network ({type(e).__name__}: {e}); "
                "expected a file written by pandapower.to_json",
                file=file,
            )
            return None
        source = file
    else:
        net = path_or_net
        source = f"<pandapower network {getattr(net, 'name', '') or ''}>".replace(" >", ">")
        file = source
    if not isinstance(net, pp.pandapowerNet):
        if isinstance(path_or_net, (str, os.PathLike)):
            report.add(
                f"holds a {type(net).__name__}, not a pandapower network; expected a file "
                "written by pandapower.to_json",
                file=file,
            )
            return None
        raise TypeError(
            f"expected a path or a pandapower network, got {type(path_or_net).__name__}"
        )
    return net, source


def _convert_or_fall_back(
    net: Any, trafo_model: str, has_costs: bool, report: ProblemReport, file: str
) -> tuple[dict, dict, str] | None:
    """pandapower's case of ``net`` (``ppc``, ``ppci``) and the mode that gave it.

    The OPF conversion first (it makes controllable units generators and reads costs);
    when pandapower refuses it (limits missing), the power-flow one, with a note.
    ``None`` when neither converts the network.
    """
    mode = "opf"
    try:
        ppc, ppci = _convert(net, "opf", trafo_model)
    except Exception as e:  # pandapower's OPF check raises when limits are missing
        opf_error = f"{type(e).__name__}: {e}"
        mode = "pf"
        try:
            ppc, ppci = _convert(net, "pf", trafo_model)
        except Exception as e2:
            report.add(
                f"pandapower could not convert the network to its internal case "
                f"({type(e2).__name__}: {e2})",
                file=file,
            )
            return None
        report.note(
            f"{file}: pandapower's OPF conversion failed ({opf_error}); using its power-flow "
            "conversion: only ext_grid and gen are generators, static generators are "
            "netted into the bus load" + (", and costs are not read" if has_costs else "")
        )
    if ppc is ppci:
        report.note(
            f"{file}: this pandapower version gives only its in-service case; out-of-service "
            "branches and buses are left out"
        )
    return ppc, ppci, mode


def _case_arrays(ppc: dict, net: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bus, branch and gen matrices of ``ppc`` (real, MATPOWER's standard columns).

    pandapower widens every given active-power limit by ``delta`` (1e-10 MW) for its
    solvers; that is taken back (its default limit, 1e9 MW, is not widened).
    """
    bus = np.real(np.asarray(ppc["bus"])[:, :13]).astype(float)
    branch = np.real(np.asarray(ppc["branch"])[:, :13]).astype(float)
    gen = np.real(np.asarray(ppc["gen"])[:, :21]).astype(float)
    delta = float(net._options.get("delta", 0.0))
    for col, sign in ((PMAX, 1.0), (PMIN, -1.0)):
        given = np.abs(gen[:, col]) < 1e9
        gen[given, col] -= sign * delta
    return bus, branch, gen


@dataclass
class _RowIds:
    """What each row of pandapower's case stands for.

    Attributes
    ----------
    rep
        Per bus row, the pandapower bus index (the smallest one where buses were merged);
        -1 for an auxiliary bus.
    bus_ids
        Per bus row, its ID (an auxiliary bus's from the branch that uses it).
    home
        Per bus row, the pandapower bus it stands for (an auxiliary bus: the one it
        replaces), for positions and zones.
    branch_ids, gen_ids
        Per branch and gen row, its ID (``line:3``, ``ext_grid:0`` ...).
    keep
        Per gen row, whether it is a generator (not an xward's voltage source).
    gen_kind
        Per gen row, its pandapower element table (``sgen`` ...).
    """

    rep: np.ndarray
    bus_ids: list[str]
    home: np.ndarray
    branch_ids: list[str]
    gen_ids: list[str]
    keep: np.ndarray
    gen_kind: np.ndarray


def _bus_representatives(
    net: Any, lookups: dict, nb: int, report: ProblemReport, file: str
) -> np.ndarray:
    """Per bus row, the pandapower bus index (smallest where buses were merged), else -1."""
    pp_index = net.bus.index.to_numpy(dtype=np.int64)
    row_of = np.asarray(lookups["bus"])[pp_index]
    valid = (row_of >= 0) & (row_of < nb)
    rep = np.full(nb, -1, dtype=np.int64)
    order = np.argsort(pp_index[valid])[::-1]  # largest first, so the smallest is written last
    rep[row_of[valid][order]] = pp_index[valid][order]
    n_merged = int(valid.sum()) - int((rep >= 0).sum())
    if n_merged:
        report.note(
            f"{file}: pandapower merged {n_merged} buses joined by closed bus-bus switches "
            "into the bus with the smallest index"
        )
    return rep


def _branch_rows(
    net: Any, lookups: dict, nl: int
) -> tuple[list[str], np.ndarray, dict[tuple[int, int], str]]:
    """Branch IDs, the pandapower buses each end stands for, and three-winding star points.

    Returns
    -------
    branch_ids
        Per branch row, ``<element>:<index>`` (``trafo3w:<index>:<side>``).
    declared
        Shape (nl, 2): the pandapower bus of each end as the element table gives it (-1
        where unknown).
    star_of
        (branch row, end) -> the ID of the star-point bus at that end.
    """
    branch_ids = [f"branch#{k}" for k in range(nl)]
    declared = np.full((nl, 2), -1, dtype=np.int64)
    star_of: dict[tuple[int, int], str] = {}  # (branch row, end) -> star-point bus ID
    for et, (a, b) in lookups.get("branch", {}).items():
        n = b - a
        table = net[et] if et in net and isinstance(net[et], pd.DataFrame) else None
        if et == "trafo3w" and table is not None and n == 3 * len(table):
            m = len(table)
            hv = table["hv_bus"].to_numpy(dtype=np.int64)
            for k, side in enumerate(("hv", "mv", "lv")):
                lo = a + k * m
                for j, idx in enumerate(table.index):
                    branch_ids[lo + j] = f"trafo3w:{idx}:{side}"
                    # pandapower: hv branch hv_bus -> star; mv, lv branches star -> mv/lv_bus
                    star_of[(lo + j, T_BUS if side == "hv" else F_BUS)] = f"trafo3w:{idx}:star"
                declared[lo : lo + m, 0] = hv
                declared[lo : lo + m, 1] = table[f"{side}_bus"].to_numpy(dtype=np.int64)
        elif table is not None and n == len(table):
            for j, idx in enumerate(table.index):
                branch_ids[a + j] = f"{et}:{idx}"
            if et in _BRANCH_ENDS:
                f_col, t_col = _BRANCH_ENDS[et]
                declared[a:b, 0] = table[f_col].to_numpy(dtype=np.int64)
                declared[a:b, 1] = table[t_col].to_numpy(dtype=np.int64)
        else:
            for j in range(n):
                branch_ids[a + j] = f"{et}#{j}"
    return branch_ids, declared, star_of


def _auxiliary_buses(
    rep: np.ndarray,
    branch: np.ndarray,
    branch_ids: list[str],
    declared: np.ndarray,
    star_of: dict[tuple[int, int], str],
) -> tuple[list[str], np.ndarray]:
    """Bus IDs (auxiliary buses named after a branch using them) and the bus each stands for."""
    nb, nl = len(rep), len(branch)
    bus_ids = [str(r) if r >= 0 else "" for r in rep]
    home = rep.copy()
    for k in range(nl - 1, -1, -1):  # backwards: the first branch touching a bus wins
        for end, side in ((F_BUS, "from"), (T_BUS, "to")):
            row = int(branch[k, end])
            if 0 <= row < nb and rep[row] < 0:
                bus_ids[row] = star_of.get((k, end), f"{branch_ids[k]}:{side}")
                home[row] = declared[k, end]
    for row in map(int, np.flatnonzero(rep < 0)):
        if not bus_ids[row]:
            bus_ids[row] = f"aux#{row}"
    return bus_ids, home


def _gen_rows(net: Any, ng: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Per gen row: its ID, whether it is a generator, and its pandapower element table."""
    gen_ids = [f"gen#{k}" for k in range(ng)]
    keep = np.ones(ng, dtype=bool)
    gen_kind = np.full(ng, "", dtype=object)
    for element, (f, t) in getattr(net, "_gen_order", {}).items():
        base = element.removesuffix("_controllable")
        gen_kind[f:t] = base
        if base in _NOT_GENERATION:
            keep[f:t] = False
        mask = np.asarray(net._is_elements.get(element, []), dtype=bool)
        idx = net[base].index.to_numpy()
        if len(mask) == len(idx) and int(mask.sum()) == t - f:
            for j, i in enumerate(idx[mask]):
                gen_ids[f + j] = f"{base}:{i}"
    return gen_ids, keep, gen_kind


def _row_ids(
    net: Any,
    bus: np.ndarray,
    branch: np.ndarray,
    gen: np.ndarray,
    report: ProblemReport,
    file: str,
) -> _RowIds:
    """What each bus, branch and gen row of pandapower's case stands for."""
    lookups = net._pd2ppc_lookups
    rep = _bus_representatives(net, lookups, len(bus), report, file)
    branch_ids, declared, star_of = _branch_rows(net, lookups, len(branch))
    bus_ids, home = _auxiliary_buses(rep, branch, branch_ids, declared, star_of)
    gen_ids, keep, gen_kind = _gen_rows(net, len(gen))
    return _RowIds(rep, bus_ids, home, branch_ids, gen_ids, keep, gen_kind)


def _note_generators(
    net: Any, gen: np.ndarray, ids: _RowIds, report: ProblemReport, file: str
) -> None:
    """Notes on generators: dropped out of service, sgen netted into load, no MW limit."""
    gen_ids, keep, gen_kind = ids.gen_ids, ids.keep, ids.gen_kind
    n_off = {
        t: int((~net[t]["in_service"].astype(bool)).sum())
        for t in ("ext_grid", "gen", "sgen", "storage")
        if len(net[t])
    }
    dropped = {t: n for t, n in n_off.items() if n}
    if dropped:
        report.note(
            f"{file}: pandapower's conversion leaves out generators that are out of service ("
            + ", ".join(f"{n} {t}" for t, n in dropped.items())
            + ")"
        )
    if len(net.sgen):
        netted = int(net.sgen["in_service"].astype(bool).sum()) - int((gen_kind == "sgen").sum())
        if netted > 0:
            report.note(
                f"{file}: {netted} static generators (sgen) are not dispatchable here and are "
                "netted into their bus's load_mw, as pandapower's conversion does"
            )
    unlimited = np.flatnonzero(keep & (gen[:, PMAX] >= 1e9))
    if len(unlimited):
        report.note(
            f"{file}: {len(unlimited)} generators have no active-power limit in pandapower "
            f"({', '.join(gen_ids[i] for i in unlimited[:5])}); p_max_mw is its default, 1e9 MW"
        )


def _gencost(
    ppci: dict, mode: str, has_costs: bool, keep: np.ndarray, report: ProblemReport, file: str
) -> np.ndarray | None:
    """The kept generators' cost rows, as pandapower's OPF builds them (rows follow ppci's
    generators); ``None`` without costs, or when ppci has left generators out."""
    ng = len(keep)
    gencost = None
    if mode == "opf" and has_costs and "gencost" in ppci:
        gc = np.real(np.asarray(ppci["gencost"], dtype=float))
        if len(ppci["gen"]) == ng and len(gc) in (ng, 2 * ng):
            gencost = gc[:ng][keep]
            if len(gc) == 2 * ng:
                gencost = np.vstack([gencost, gc[ng:][keep]])
        else:
            report.note(
                f"{file}: some generators are at buses pandapower finds unsupplied; costs "
                "are not read"
            )
    return gencost


def _kept_case(
    net: Any,
    ppc: dict,
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
    ids: _RowIds,
    gencost: np.ndarray | None,
    source: str,
    report: ProblemReport,
    file: str,
) -> tuple[MatpowerCase, list[str], np.ndarray]:
    """The case of the bus rows that stand for a bus or that a branch or generator uses.

    pandapower keeps buses it merged away as unused out-of-service rows; they are left out.

    Returns
    -------
    MatpowerCase, bus IDs, home
        The case (1-based bus numbers, the kept generators), and per kept bus its ID and
        the pandapower bus it stands for.
    """
    bus, branch, gen = rows
    rep, keep = ids.rep, ids.keep
    nb = len(bus)
    used = np.zeros(nb, dtype=bool)
    used[branch[:, [F_BUS, T_BUS]].astype(np.int64).ravel()] = True
    used[gen[keep, GEN_BUS].astype(np.int64)] = True
    keep_bus = (rep >= 0) | used
    aux = np.flatnonzero(keep_bus & (rep < 0))
    if len(aux):
        report.note(
            f"{file}: pandapower's conversion added {len(aux)} auxiliary buses (three-winding "
            "transformer star points, xward buses, open line switches); kept with IDs "
            f"such as '{ids.bus_ids[aux[0]]}'"
        )
    names = net.bus["name"] if "name" in net.bus.columns else pd.Series(dtype=object)
    bus_names = []
    for row in np.flatnonzero(keep_bus):
        nm = names.get(rep[row]) if rep[row] >= 0 else None
        bus_names.append("" if nm is None or (isinstance(nm, float) and np.isnan(nm)) else str(nm))
    bus_ids = [b for b, k in zip(ids.bus_ids, keep_bus, strict=True) if k]
    home = ids.home[keep_bus]
    bus_arr = bus[keep_bus].copy()
    bus_arr[:, BUS_I] = np.flatnonzero(keep_bus) + 1
    branch_arr = branch.copy()
    branch_arr[:, [F_BUS, T_BUS]] += 1
    gen_arr = gen[keep].copy()
    gen_arr[:, GEN_BUS] += 1
    kept_gen_ids = [g for g, k in zip(ids.gen_ids, keep, strict=True) if k]
    case = MatpowerCase(
        base_mva=float(ppc["baseMVA"]),
        bus=bus_arr,
        gen=gen_arr,
        branch=branch_arr,
        gencost=gencost,
        bus_names=tuple(bus_names),
        name=str(getattr(net, "name", "") or ""),
        path=source,
        bus_ids=tuple(bus_ids),
        branch_ids=tuple(ids.branch_ids),
        gen_ids=tuple(kept_gen_ids),
    )
    return case, bus_ids, home


def _bus_positions(
    net: Any,
    bus_ids: list[str],
    home: np.ndarray,
    bus_coordinates: str | os.PathLike[str] | pd.DataFrame | None,
    coordinates_crs: object,
    use_geodata: bool,
    report: ProblemReport,
    file: str,
) -> tuple[bool, pd.DataFrame | None]:
    """Positions of the kept buses, from ``bus_coordinates`` or pandapower's geodata.

    Returns
    -------
    ok, coords
        ``ok`` False when there is a problem (the report says which); ``coords`` a table
        of ``bus_id, x, y`` [in ``coordinates_crs``], or ``None`` when no bus has a position.
    """
    coords = None
    xy = None
    if bus_coordinates is not None:
        pp_ids = [str(i) for i in net.bus.index]
        got = read_bus_coordinates(bus_coordinates, pp_ids, coordinates_crs, report)
        if got is None:
            return False, None
        xy = pd.DataFrame({"x": got[0], "y": got[1]}, index=net.bus.index)
    elif use_geodata:
        xy = _bus_geodata(net)
    if xy is not None:
        has = xy.notna().all(axis=1)
        if has.any():
            hx = xy.reindex(home)
            ok = hx.notna().all(axis=1).to_numpy()
            if not ok.all():
                missing = [bus_ids[i] for i in np.flatnonzero(~ok)]
                report.add(
                    f"{len(missing)} of {len(bus_ids)} buses have no geodata ("
                    + ", ".join(f"'{m}'" for m in missing[:5])
                    + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                    + "); expected a position for every bus, or read with use_geodata=False",
                    file=file,
                    layer="bus",
                    field="geo",
                )
                return False, None
            coords = pd.DataFrame(
                {"bus_id": bus_ids, "x": hx["x"].to_numpy(), "y": hx["y"].to_numpy()}
            )
    return True, coords


def _pandapower_columns(grid: Grid, net: Any, home: np.ndarray) -> None:
    """pandapower's own bus zones (as ``area``) and line lengths [km] onto ``grid``, in place."""
    if "zone" in net.bus.columns:
        zone = net.bus["zone"].reindex(home)
        has_zone = zone.notna().to_numpy()
        area = grid.buses["area"].to_numpy(dtype=object)
        area[has_zone] = zone[has_zone].astype(str).to_numpy()
        grid.buses["area"] = area
    if len(net.line):
        is_line = grid.branches.index.str.startswith("line:")
        line_idx = grid.branches.index[is_line].str.slice(5).astype(np.int64)
        grid.branches.loc[is_line, "length_km"] = net.line["length_km"].reindex(line_idx).to_numpy()


def read_pandapower(
    path_or_net: str | os.PathLike[str] | Any,
    report: ProblemReport,
    *,
    use_geodata: bool = True,
    bus_coordinates: str | os.PathLike[str] | pd.DataFrame | None = None,
    coordinates_crs: object = "EPSG:4326",
    trafo_model: str = "t",
) -> Grid | None:
    """Read a pandapower network (a ``pandapower.to_json`` file, or a net object).

    Parameters
    ----------
    path_or_net
        A JSON file written by ``pandapower.to_json``, or a ``pandapowerNet``. The net is
        copied, not changed. Pickles (``.p``) are refused: unpickling runs code from the file.
    report
        Problems and notes are added here.
    use_geodata
        Whether to take bus positions from pandapower's geodata (``bus.geo`` GeoJSON
        points in pandapower 3, ``bus_geodata`` before). Either every bus has a
        position or none may.
    bus_coordinates
        Optional CSV (or table) with ``bus_id`` (the pandapower bus index) and ``x,y``
        or ``lon,lat``, used instead of the geodata; it must give every bus.
    coordinates_crs
        CRS of the geodata or CSV (pandapower stores none) [default EPSG:4326, lon/lat].
    trafo_model
        pandapower's transformer model, ``"t"`` (its default) or ``"pi"``.

    Returns
    -------
    Grid or None
        ``source_format = "pandapower"``; ``None`` when the network could not be read
        or converted, or has a problem (the report says which).

    Raises
    ------
    ImportError
        If pandapower is not installed.
    TypeError
        If ``path_or_net`` is neither a path nor a pandapower network.
    """
    pp = _import_pandapower()
    opened = _open_network(pp, path_or_net, report)
    if opened is None:
        return None
    net, source = opened
    file = source
    if not _check_tables(net, pp, report, file):
        return None
    net = copy.deepcopy(net)
    _fill_loading_limits(net)

    has_costs = len(net.poly_cost) > 0 or len(net.pwl_cost) > 0
    converted = _convert_or_fall_back(net, trafo_model, has_costs, report, file)
    if converted is None:
        return None
    ppc, ppci, mode = converted
    bus, branch, gen = _case_arrays(ppc, net)
    ids = _row_ids(net, bus, branch, gen, report, file)
    _note_generators(net, gen, ids, report, file)
    gencost = _gencost(ppci, mode, has_costs, ids.keep, report, file)
    case, bus_ids, home = _kept_case(
        net, ppc, (bus, branch, gen), ids, gencost, source, report, file
    )
    ok, coords = _bus_positions(
        net, bus_ids, home, bus_coordinates, coordinates_crs, use_geodata, report, file
    )
    if not ok:
        return None
    grid = case_to_grid(
        case, report, source=source, bus_coordinates=coords, coordinates_crs=coordinates_crs
    )
    if grid is None:
        return None
    grid.source_format = "pandapower"
    _pandapower_columns(grid, net, home)
    return grid
