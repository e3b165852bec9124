"""Read the transmission grid from layers, a MATPOWER case, a pandapower or a PyPSA network.

:func:`read_grid` picks the reader by the scenario's ``format`` (or the file
suffix) and returns a :class:`~siting.inputs.grids.grid.Grid`. The layers reader
here reads ``buses``, ``branches`` and ``generators`` from a GeoPackage (or one
GeoJSON per layer), checks them against :mod:`siting.inputs.fields`, and checks
the references between them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod

from siting.core.errors import ProblemReport
from siting.core.files import dataset_problem, path_problem
from siting.inputs.fields import BRANCHES, BUSES, GENERATORS, LayerSpec
from siting.inputs.grids.attachments import attach_tables
from siting.inputs.grids.grid import CostCurve, Grid
from siting.inputs.vector import check_refs, read_vector

if TYPE_CHECKING:
    from siting.config.scenario import GridLayers, VectorRef

_GEOD = Geod(ellps="WGS84")

MATPOWER_SUFFIXES = {".m"}
PANDAPOWER_SUFFIXES = {".json"}
PYPSA_SUFFIXES = {".nc"}


def grid_format(path: Path, declared: str = "auto") -> str:
    """The grid reader to use for ``path``: ``layers``, ``matpower``, ``pandapower`` or
    ``pypsa`` (a ``.nc`` file, or a folder holding ``buses.csv``)."""
    if declared != "auto":
        return declared
    suffix = path.suffix.lower()
    if suffix in MATPOWER_SUFFIXES:
        return "matpower"
    if suffix in PANDAPOWER_SUFFIXES:
        return "pandapower"
    if suffix in PYPSA_SUFFIXES or (_is_dir(path) and _is_file(path / "buses.csv")):
        return "pypsa"
    return "layers"


def _is_dir(path: Path) -> bool:
    """``path.is_dir()``, False where the system refuses even to look (a name too long: the
    reader then names the problem)."""
    try:
        return path.is_dir()
    except OSError:
        return False


def _is_file(path: Path) -> bool:
    """``path.is_file()``, False where the system refuses to look."""
    try:
        return path.is_file()
    except OSError:
        return False


def is_dataset(path: Path, fmt: str) -> bool:
    """Whether the grid at ``path`` read as ``fmt`` is a dataset of several files (a layers
    GeoPackage or folder, a PyPSA CSV folder), hashed and checked file by file."""
    return fmt == "layers" or (fmt == "pypsa" and _is_dir(path))


def _layers_problem(path: Path) -> str | None:
    """:func:`siting.core.files.dataset_problem` of a grid dataset (a file, or a folder of
    layers)."""
    return dataset_problem(path, folder_ok=True)


def read_grid(spec: GridLayers, report: ProblemReport) -> Grid | None:
    """Read the grid a scenario names.

    Parameters
    ----------
    spec
        A :class:`siting.config.scenario.GridLayers`.
    report
        Problems are added here.

    Returns
    -------
    Grid or None
        ``None`` when the grid could not be read at all. The tables the scenario attaches
        (``branch_upgrades``, ``substations``, ``emergency_ratings``, ``load_growth``,
        ``load_growth_per_year``) are written into it
        (:func:`siting.inputs.grids.attachments.attach_tables`).
    """
    grid = _read_network(spec, report)
    if grid is not None:
        attach_tables(grid, spec, report)
    return grid


def _read_network(spec: GridLayers, report: ProblemReport) -> Grid | None:
    """The grid file itself, by its reader (see :func:`read_grid`)."""
    path = Path(spec.path)
    fmt = grid_format(path, spec.format)
    # a name the operating system will not even look up (too long, no permission on the
    # way), or a FIFO, device or socket (which would block the read), is the user's
    # problem, named here, not an OSError or a hang deep in a reader
    coords_ref = getattr(spec, "bus_coordinates", None)
    unreachable = False
    for file, field, check in (
        (path, "path", _layers_problem if fmt in ("layers", "pypsa") else path_problem),
        (coords_ref.path if coords_ref else None, "bus_coordinates", path_problem),
    ):
        why = check(file) if file is not None else None
        if why is not None and why != "file not found":  # the readers say "not found" best
            report.add(why, file=file, field=field)
            unreachable = True
    if unreachable:
        return None
    if fmt == "matpower":
        from siting.inputs.grids.matpower import read_matpower

        coords = spec.bus_coordinates
        return read_matpower(
            path,
            report,
            bus_coordinates=coords.path if coords else None,
            coordinates_crs=coords.crs if coords else "EPSG:4326",
        )
    if fmt == "pandapower":
        from siting.inputs.grids.pandapower_io import read_pandapower

        coords = spec.bus_coordinates
        return read_pandapower(
            path,
            report,
            bus_coordinates=coords.path if coords else None,
            coordinates_crs=coords.crs if coords else "EPSG:4326",
        )
    if fmt == "pypsa":
        from siting.inputs.grids.pypsa_io import read_pypsa

        coords = spec.bus_coordinates
        return read_pypsa(
            path,
            report,
            crs=spec.crs if spec.crs is not None else (coords.crs if coords else None),
            bus_coordinates=coords.path if coords else None,
            links=spec.links,
            annuity_factor=spec.annuity_factor,
        )
    return read_grid_layers(
        path,
        report,
        buses=spec.buses,
        branches=spec.branches,
        generators=spec.generators,
        base_mva=spec.base_mva,
    )


def _to_bus_crs(
    bus: gpd.GeoDataFrame,
    br: gpd.GeoDataFrame,
    br_file: Path,
    gen: gpd.GeoDataFrame,
    gen_file: Path,
    report: ProblemReport,
) -> None:
    """Reproject the branches and generators (in place) into the buses' CRS, noted."""
    crs = bus.crs
    if crs is not None:
        for other, file, name in ((br, br_file, "branches"), (gen, gen_file, "generators")):
            has_geom = other.geometry.notna().any() and not other.geometry.is_empty.all()
            if has_geom and other.crs is not None and not other.crs.equals(crs):
                other.to_crs(crs, inplace=True)
                report.note(
                    f"{file} layer '{name}': reprojected from {other.crs} to the buses' CRS"
                )


def _check_grid_layers(
    bus: gpd.GeoDataFrame,
    br: gpd.GeoDataFrame,
    gen: gpd.GeoDataFrame,
    br_file: Path,
    gen_file: Path,
    report: ProblemReport,
) -> None:
    """Branch ends and generators at known buses, branch reactances and ends, and
    ``p_min_mw <= p_max_mw`` [MW]; each problem goes to ``report``."""
    # references
    check_refs(
        br["from_bus"],
        bus.index,
        report,
        file=br_file,
        layer="branches",
        field="from_bus",
        target="bus",
    )
    check_refs(
        br["to_bus"],
        bus.index,
        report,
        file=br_file,
        layer="branches",
        field="to_bus",
        target="bus",
    )
    check_refs(
        gen["bus_id"],
        bus.index,
        report,
        file=gen_file,
        layer="generators",
        field="bus_id",
        target="bus",
    )
    _check_branch_values(br, report, br_file)
    report.add_rows(
        np.flatnonzero((gen["p_min_mw"] > gen["p_max_mw"]).to_numpy()),
        lambda i: (
            f"p_min_mw {gen['p_min_mw'].iloc[i]:g} is above p_max_mw "
            f"{gen['p_max_mw'].iloc[i]:g}; expected p_min_mw <= p_max_mw"
        ),
        file=gen_file,
        layer="generators",
        field="p_min_mw",
        ids=list(gen.index),
    )


def _grid_of_layers(
    path: Path,
    bus: gpd.GeoDataFrame,
    br: gpd.GeoDataFrame,
    gen: gpd.GeoDataFrame,
    base_mva: float,
) -> Grid:
    """The grid of checked layers: emergency ratings and voltages filled from the ratings and
    the from-buses, straight-line geometry where a branch has none, linear costs."""
    br = br.copy()
    br["rating_emergency_mw"] = br["rating_emergency_mw"].fillna(br["rating_mw"])
    br["voltage_kv"] = br["voltage_kv"].fillna(br["from_bus"].map(bus["voltage_kv"]))
    br = _branch_geometry(br, bus)
    costs = {
        str(g): CostCurve.linear(c)
        for g, c in gen["marginal_cost_usd_per_mwh"].items()
        if np.isfinite(c)
    }
    return Grid(
        buses=bus,
        branches=br,
        generators=pd.DataFrame(gen.drop(columns="geometry")) if "geometry" in gen else gen,
        costs=costs,
        base_mva=float(base_mva),
        source=str(path),
        source_format="layers",
    )


def read_grid_layers(
    path: str | Path,
    report: ProblemReport,
    *,
    buses: VectorRef | None = None,
    branches: VectorRef | None = None,
    generators: VectorRef | None = None,
    base_mva: float = 100.0,
) -> Grid | None:
    """Read a grid from vector layers (GeoPackage with ``buses``, ``branches``, ``generators``).

    Parameters
    ----------
    path
        The default file holding the three layers.
    report
        Problems are added here.
    buses, branches, generators
        Optional :class:`siting.config.scenario.VectorRef` overrides (another file or layer name).
    base_mva
        System base of the per-unit reactances [MVA].

    Returns
    -------
    Grid or None
        In the buses' CRS; ``None`` when a layer could not be read.
    """
    path = Path(path)
    n_before = len(report)

    def ref(override: VectorRef | None, spec: LayerSpec) -> tuple[Path, gpd.GeoDataFrame | None]:
        """The file a layer is read from (the override's, else ``path``), and the layer."""
        p = Path(override.path) if override is not None else path
        layer = override.layer if override is not None else None
        return p, read_vector(p, spec, report, layer=layer)

    bus_file, bus = ref(buses, BUSES)
    br_file, br = ref(branches, BRANCHES)
    gen_file, gen = ref(generators, GENERATORS)
    if bus is None or br is None or gen is None:
        return None
    _to_bus_crs(bus, br, br_file, gen, gen_file, report)
    _check_grid_layers(bus, br, gen, br_file, gen_file, report)
    if len(report) > n_before:
        return None  # the layers are wrong; don't build on them (the report says why)
    return _grid_of_layers(path, bus, br, gen, base_mva)


def _check_branch_values(br: gpd.GeoDataFrame, report: ProblemReport, file: Path) -> None:
    """Zero reactance and self-loops, which DC flow cannot take."""
    zero_x = (br["x_pu"] == 0).to_numpy() & br["in_service"].to_numpy(dtype=bool)
    loop = (br["from_bus"] == br["to_bus"]).fillna(False).to_numpy()
    for mask, field, msg in (
        (
            zero_x,
            "x_pu",
            "reactance is 0 on an in-service branch; expected a non-zero per-unit "
            "reactance (DC power flow divides by it)",
        ),
        (loop, "to_bus", "branch starts and ends at the same bus; expected two different buses"),
    ):
        report.add_rows(
            np.flatnonzero(mask), msg, file=file, layer="branches", field=field, ids=list(br.index)
        )


def _branch_geometry(br: gpd.GeoDataFrame, bus: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Straight lines between the buses where a branch has no geometry; length_km where empty."""
    geom = br.geometry.copy()
    missing = (geom.isna() | geom.is_empty).to_numpy()
    ok = (
        missing
        & br["from_bus"].isin(bus.index).to_numpy()
        & br["to_bus"].isin(bus.index).to_numpy()
    )
    if ok.any():
        a = bus.geometry.reindex(br.loc[ok, "from_bus"]).values
        b = bus.geometry.reindex(br.loc[ok, "to_bus"]).values
        xa, ya = shapely.get_x(a), shapely.get_y(a)
        xb, yb = shapely.get_x(b), shapely.get_y(b)
        coords = np.stack([np.stack([xa, ya], 1), np.stack([xb, yb], 1)], axis=1)
        lines = shapely.linestrings(coords)
        geom = geom.copy()
        geom.loc[ok] = lines
        br = br.set_geometry(gpd.GeoSeries(geom.values, index=br.index, crs=bus.crs))
    need_len = (
        br["length_km"].isna().to_numpy() & ~(br.geometry.isna() | br.geometry.is_empty).to_numpy()
    )
    if need_len.any() and br.crs is not None:
        br = br.copy()
        br.loc[need_len, "length_km"] = geodesic_length_km(br.geometry[need_len])
    return br


def geodesic_length_km(geoms: gpd.GeoSeries) -> np.ndarray:
    """Geodesic length of lines on the WGS84 ellipsoid [km]."""
    ll = geoms.to_crs(4326)
    return np.array([_GEOD.geometry_length(g) / 1000.0 for g in ll.values])
