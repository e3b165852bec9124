"""Layers: every input of a region, read, validated and brought into one projected CRS.

:func:`load_layers` is the only entry point the rest of the pipeline needs. It
reads what the scenario names, collects every problem into one report, picks
the common CRS (the scenario's, or a UTM zone chosen automatically and said
so), reprojects the vector layers, validates the rasters against the region,
and records each input file's hash for provenance. It raises one
:class:`~siting.core.errors.InputError` listing every problem, or returns
:class:`Layers`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from siting.core.errors import ProblemReport, SitingError
from siting.core.files import DatasetKind, dataset_problem, path_problem
from siting.core.provenance import InputFile, hash_inputs
from siting.inputs.crs import choose_crs
from siting.inputs.fields import (
    BOUNDARY,
    DEMAND_REGIONS,
    EXCLUSIONS,
    HEAT_SINKS,
    PLACES,
    REGIONS,
    SITES,
    WATER_SOURCES,
    ZONES,
    LayerSpec,
)
from siting.inputs.grids.attachments import ATTACHMENTS
from siting.inputs.grids.grid import CostCurve, Grid
from siting.inputs.grids.layer import read_grid
from siting.inputs.raster import RasterLayer, read_raster
from siting.inputs.vector import _Ctx, read_vector, to_crs

if TYPE_CHECKING:
    from siting.config.scenario import GridSettings, LayersSection, RasterRef, Scenario, VectorRef

__all__ = [
    "CostCurve",
    "Grid",
    "Layers",
    "RasterLayer",
    "load_layers",
    "load_grid_case",
]

#: One input a scenario reads: (role, path, kind), ``kind`` saying how the dataset is read
#: (:func:`input_paths`; a :data:`siting.core.provenance.InputRef` with its kind).
InputPath = tuple[str, Path, DatasetKind]

#: Plausible range of temperatures in climate rasters [C].
CLIMATE_RANGE_C = (-70.0, 60.0)
#: The climate rasters a scenario names (``layers.climate``), one statistic each.
CLIMATE_RASTERS = ("dry_bulb_mean_c", "dry_bulb_p99_c", "wet_bulb_mean_c", "wet_bulb_p99_c")

#: The layers of a grid a scenario may take from other files (``layers.grid.buses`` ...).
GRID_PARTS: tuple[str, ...] = ("buses", "branches", "generators")

#: Layers whose joint extent is the study region when there is neither a boundary nor a grid
#: (only with a ``sites`` layer).
EXTENT_LAYERS: tuple[str, ...] = ("sites", "water_sources", "demand_regions", "heat_sinks")


@dataclass
class Layers:
    """Every layer of a region, validated, in one CRS.

    Attributes
    ----------
    crs
        The common projected CRS (``None`` only for a bare grid case without coordinates).
    region
        The study region's outline, in ``crs``: the boundary layer's union; else the
        bounding box of the grid's buses; else, with a ``sites`` layer, the bounding box of
        the :data:`EXTENT_LAYERS` together.
    grid
        The transmission grid (``None`` when the scenario has none: no network
        constraints).
    water_sources, exclusions, zones, regions, places, boundary, sites, demand_regions, heat_sinks
        Vector layers in ``crs`` (``None`` when the scenario has none).
    land_class, land_cost
        Land rasters (``None`` when absent); ``exclude_classes`` the excluded class codes.
    climate
        Climate rasters by field name (``dry_bulb_mean_c`` ...).
    onsite
        Resource rasters of on-site options (``onsite.options[i].availability_raster``) by
        option name.
    inputs
        Every file read, with its SHA-256 (provenance).
    notes
        What was decided on the way (CRS chosen, defaults applied).
    """

    crs: CRS | None
    region: shapely.Geometry | None
    grid: Grid | None
    water_sources: gpd.GeoDataFrame | None = None
    exclusions: gpd.GeoDataFrame | None = None
    zones: gpd.GeoDataFrame | None = None
    regions: gpd.GeoDataFrame | None = None
    places: gpd.GeoDataFrame | None = None
    boundary: gpd.GeoDataFrame | None = None
    sites: gpd.GeoDataFrame | None = None
    demand_regions: gpd.GeoDataFrame | None = None
    heat_sinks: gpd.GeoDataFrame | None = None
    land_class: RasterLayer | None = None
    exclude_classes: list[int] = field(default_factory=list)
    land_cost: RasterLayer | None = None
    climate: dict[str, RasterLayer] = field(default_factory=dict)
    onsite: dict[str, RasterLayer] = field(default_factory=dict)
    inputs: list[InputFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _bounds_lonlat(gdf: gpd.GeoDataFrame) -> tuple[float, float, float, float] | None:
    """Lon/lat bounds of a layer's finite geometries (``None``: none, or not transformable)."""
    geom = gdf.geometry
    ok = ~(geom.isna() | geom.is_empty) & np.isfinite(geom.bounds.to_numpy()).all(axis=1)
    if gdf.crs is None or not ok.any():
        return None
    xmin, ymin, xmax, ymax = geom[ok].total_bounds
    try:
        t = Transformer.from_crs(gdf.crs, "EPSG:4326", always_xy=True)
        west, south, east, north = t.transform_bounds(xmin, ymin, xmax, ymax, densify_pts=21)
    except Exception:
        return None
    out = (float(west), float(south), float(east), float(north))
    return out if np.isfinite(out).all() else None


def _union_bounds(
    bounds: list[tuple[float, float, float, float] | None],
) -> tuple[float, float, float, float] | None:
    """The (xmin, ymin, xmax, ymax) holding every given box (``None`` when none is given)."""
    b = [v for v in bounds if v is not None]
    if not b:
        return None
    return (
        min(v[0] for v in b),
        min(v[1] for v in b),
        max(v[2] for v in b),
        max(v[3] for v in b),
    )


def _total_bounds(gdf: gpd.GeoDataFrame | None) -> tuple[float, float, float, float] | None:
    """Bounds of a layer's non-empty geometries in its own CRS (``None`` when there are none)."""
    if gdf is None or gdf.crs is None:
        return None
    geom = gdf.geometry
    ok = ~(geom.isna() | geom.is_empty) & np.isfinite(geom.bounds.to_numpy()).all(axis=1)
    if not ok.any():
        return None
    x0, y0, x1, y1 = (float(v) for v in geom[ok].total_bounds)
    return x0, y0, x1, y1


def _overlap_check(
    gdf: gpd.GeoDataFrame | None,
    region_bounds: tuple[float, float, float, float] | None,
    crs: CRS,
    report: ProblemReport,
    file: str | Path,
    layer: str,
) -> None:
    """A problem when ``gdf`` lies wholly outside ``region_bounds`` (both in ``crs``), or none of
    its coordinates could be transformed into ``crs``."""
    if gdf is None or region_bounds is None or gdf.crs is None:
        return
    geom = gdf.geometry
    present = ~(geom.isna() | geom.is_empty)
    ok = present & np.isfinite(geom.bounds.to_numpy()).all(axis=1)
    r = region_bounds
    if present.any() and not ok.any():
        report.add(
            f"layer lies wholly outside the study region: none of its coordinates can be "
            f"transformed into {crs.to_string()}; is the layer's CRS right?",
            file=file,
            layer=layer,
            field="geometry",
        )
        return
    if not ok.any():
        return
    b = geom[ok].total_bounds
    if not (b[0] <= r[2] and r[0] <= b[2] and b[1] <= r[3] and r[1] <= b[3]):
        report.add(
            f"layer lies wholly outside the study region: its extent "
            f"({b[0]:,.0f}, {b[1]:,.0f}, {b[2]:,.0f}, {b[3]:,.0f}) vs the region "
            f"({r[0]:,.0f}, {r[1]:,.0f}, {r[2]:,.0f}, {r[3]:,.0f}) in {crs.to_string()}; "
            "is the layer's CRS right?",
            file=file,
            layer=layer,
            field="geometry",
        )


def apply_grid_edits(
    grid: Grid, settings: GridSettings, report: ProblemReport, file: str | None
) -> None:
    """Apply a scenario's ``grid.derate`` and ``grid.outages`` to ``grid`` (in place).

    A derate multiplies the branch's ``rating_mw`` and ``rating_emergency_mw``; an outage
    sets ``in_service`` to False. Branch IDs that are not in the grid are problems naming the
    scenario key; each edit is noted (so the manifest records it).

    Parameters
    ----------
    grid
        The grid as read.
    settings
        The scenario's :class:`siting.config.scenario.GridSettings`.
    report
        Problems and notes go here.
    file
        The scenario file (for the problems).
    """
    br = grid.branches
    known = set(br.index.astype(str))
    for key, ids in (("grid.derate", list(settings.derate)), ("grid.outages", settings.outages)):
        bad = [i for i in ids if str(i) not in known]
        if bad:
            report.add(
                f"branch IDs {bad[:5]} are not in the grid's branches; expected IDs such as "
                f"{sorted(known)[:5]}",
                file=file,
                layer="scenario",
                field=key,
            )
    if report.problems:
        return
    for bid, factor in settings.derate.items():
        for col in ("rating_mw", "rating_emergency_mw"):
            br.loc[bid, col] = float(br.at[bid, col]) * float(factor)
        report.note(f"branch {bid} derated to {factor:g} x its ratings (grid.derate)")
    for bid in settings.outages:
        br.loc[bid, "in_service"] = False
        report.note(f"branch {bid} out of service for the whole plan (grid.outages)")


@dataclass
class _ReadLayers:
    """The layers as read, then brought into the common CRS in place (between
    :func:`load_layers`' steps).

    Attributes
    ----------
    grid
        The grid (``None`` without one, or when it could not be read).
    boundary, water, zones, regions, places, sites, demand_regions, heat_sinks
        Vector layers (``None`` when the scenario has none, or one could not be read).
    excl_parts
        Each exclusion layer read, with its scenario reference.
    """

    grid: Grid | None
    boundary: gpd.GeoDataFrame | None
    water: gpd.GeoDataFrame | None
    zones: gpd.GeoDataFrame | None
    regions: gpd.GeoDataFrame | None
    places: gpd.GeoDataFrame | None
    sites: gpd.GeoDataFrame | None
    demand_regions: gpd.GeoDataFrame | None
    heat_sinks: gpd.GeoDataFrame | None
    excl_parts: list[tuple[VectorRef, gpd.GeoDataFrame]]

    def extent_layers(self) -> dict[str, gpd.GeoDataFrame]:
        """The non-empty :data:`EXTENT_LAYERS`, by name (as they are at the time of the call)."""
        layers = (self.sites, self.water, self.demand_regions, self.heat_sinks)
        named = dict(zip(EXTENT_LAYERS, layers, strict=True))
        return {n: g for n, g in named.items() if g is not None and len(g)}


def _read_scenario_grid(
    scenario: Scenario, refused: set[Path], report: ProblemReport, file: str | None
) -> Grid | None:
    """The scenario's grid with its edits applied (``None`` when one of its files was refused
    or it could not be read); without a grid, a note on what that means."""
    spec = scenario.layers
    grid_refs = [] if spec.grid is None else [spec.grid.path, spec.grid.bus_coordinates]
    grid_refs += [getattr(spec.grid, n, None) for n in (*GRID_PARTS, *ATTACHMENTS)]
    grid_ok = not any(_is_refused(r, refused) for r in grid_refs)
    grid = read_grid(spec.grid, report) if spec.grid is not None and grid_ok else None
    if grid is not None:
        apply_grid_edits(grid, scenario.grid, report, file)
    if spec.grid is None:
        report.note(
            "no grid layer: campuses have no network constraints, connect to no bus and their "
            f"energy is priced at costs.energy_usd_per_mwh "
            f"({scenario.costs.energy_usd_per_mwh:g} USD/MWh)"
            + (" (grid.enabled is ignored)" if scenario.grid.enabled else "")
        )
    return grid


def _read_vector_layers(
    spec: LayersSection, grid: Grid | None, refused: set[Path], report: ProblemReport
) -> _ReadLayers:
    """Every vector layer the scenario names, each in its own CRS (a refused one is skipped)."""

    def vec(ref: VectorRef | None, layer_spec: LayerSpec) -> gpd.GeoDataFrame | None:
        """The layer ``ref`` names, checked against ``layer_spec`` (``None``: none, or refused)."""
        if ref is None or _is_refused(ref, refused):
            return None
        return read_vector(ref.path, layer_spec, report, layer=ref.layer)

    boundary = vec(spec.boundary, BOUNDARY)
    water = vec(spec.water_sources, WATER_SOURCES)
    zones = vec(spec.zones, ZONES)
    regions = vec(spec.regions, REGIONS)
    places = vec(spec.places, PLACES)
    sites = vec(spec.sites, SITES)
    demand_regions = vec(spec.demand_regions, DEMAND_REGIONS)
    heat_sinks = vec(spec.heat_sinks, HEAT_SINKS)
    excl_parts = []
    for ref in spec.exclusions:
        if _is_refused(ref, refused):
            continue
        part = read_vector(ref.path, EXCLUSIONS, report, layer=ref.layer)
        if part is not None:
            excl_parts.append((ref, part))
    return _ReadLayers(
        grid, boundary, water, zones, regions, places, sites, demand_regions, heat_sinks, excl_parts
    )


def _common_crs(
    scenario: Scenario,
    read: _ReadLayers,
    from_layers: bool,
    report: ProblemReport,
    file: str | None,
) -> CRS | None:
    """The layers' common CRS: the scenario's, or one chosen from the region's extent in
    lon/lat (a problem when there is none to choose from)."""
    boundary, grid, sites = read.boundary, read.grid, read.sites
    # the region's extent in lon/lat decides an automatic CRS
    extent = None
    if boundary is not None:
        extent = _bounds_lonlat(boundary)
    elif grid is not None and grid.has_coordinates:
        extent = _bounds_lonlat(grid.buses)
    elif from_layers:
        extent = _union_bounds([_bounds_lonlat(g) for g in read.extent_layers().values()])
    crs = choose_crs(scenario.crs, extent, report, file=file)
    if crs is None and not report.problems and (grid is None or grid.has_coordinates):
        if boundary is None and grid is None and sites is None:
            why = (
                "there is no layer to take the region's extent from (no `layers.boundary`, "
                "`layers.grid` or `layers.sites`); set `crs` or give a boundary"
            )
        else:
            why = (
                "none of the boundary, the grid's buses and the sites has geometries with a "
                "CRS to take the region's extent from"
            )
        report.add(
            f"no CRS could be chosen: the scenario sets no `crs` and {why}", file=file, field="crs"
        )
    return crs


def _reproject_layers(
    read: _ReadLayers, spec: LayersSection, crs: CRS, report: ProblemReport
) -> gpd.GeoDataFrame | None:
    """Bring the grid and the vector layers into ``crs`` (in ``read``; a layer without a CRS
    is dropped); the exclusion layers joined into one (IDs repeated across them: a problem)."""
    grid = read.grid

    def reproject(g: gpd.GeoDataFrame, path: str | Path, layer: str) -> gpd.GeoDataFrame:
        """``g`` in ``crs``; a transformation that fails is a problem naming the layer."""
        ids = None if g.index.name is None else pd.Series(g.index.astype(str))
        return to_crs(g, crs, _Ctx(report, Path(path), layer, ids))

    def moved(
        g: gpd.GeoDataFrame | None, ref: VectorRef | None, name: str
    ) -> gpd.GeoDataFrame | None:
        """``g`` (read from ``ref``) in ``crs``; ``None`` without it or without its CRS."""
        if g is None or g.crs is None:
            return None
        if ref is None:  # a layer is read only from the reference naming it
            raise SitingError(f"the {name} layer was read, but no `layers.{name}` names it")
        return reproject(g, ref.path, ref.layer or name)

    if grid is not None and grid.has_coordinates and grid.crs is not None:
        assert spec.grid is not None
        grid.buses = reproject(grid.buses, spec.grid.path, "buses")
        if grid.branches.crs is not None:
            grid.branches = reproject(grid.branches, spec.grid.path, "branches")
    (
        read.boundary,
        read.water,
        read.zones,
        read.regions,
        read.places,
        read.sites,
        read.demand_regions,
        read.heat_sinks,
    ) = (
        moved(g, ref, name)
        for g, ref, name in (
            (read.boundary, spec.boundary, "boundary"),
            (read.water, spec.water_sources, "water_sources"),
            (read.zones, spec.zones, "zones"),
            (read.regions, spec.regions, "regions"),
            (read.places, spec.places, "places"),
            (read.sites, spec.sites, "sites"),
            (read.demand_regions, spec.demand_regions, "demand_regions"),
            (read.heat_sinks, spec.heat_sinks, "heat_sinks"),
        )
    )
    read.excl_parts = [
        (r, reproject(p, r.path, r.layer or "exclusions"))
        for r, p in read.excl_parts
        if p.crs is not None
    ]
    exclusions = None
    if read.excl_parts:
        exclusions = gpd.GeoDataFrame(
            pd.concat([p.assign(source=str(r.path)) for r, p in read.excl_parts]), crs=crs
        )
        dup = exclusions.index.duplicated(keep=False)
        if dup.any():
            report.add(
                f"exclusion IDs repeat across the exclusion layers: "
                f"{sorted(set(exclusions.index[dup]))[:5]}; expected each once",
                layer="exclusions",
                field="exclusion_id",
            )
    return exclusions


def _study_region(
    read: _ReadLayers, from_layers: bool, crs: CRS | None, report: ProblemReport
) -> shapely.Geometry | None:
    """The study region in ``crs``: the boundary's union, else the grid buses' bounding box,
    else (noted) the bounding box of the :data:`EXTENT_LAYERS`."""
    boundary, grid = read.boundary, read.grid
    region = None
    if boundary is not None and crs is not None:
        geoms = boundary.geometry[~(boundary.geometry.isna() | boundary.geometry.is_empty)]
        if len(geoms) and shapely.is_valid(geoms.values).all():
            region = shapely.union_all(geoms.values)
    elif grid is not None and grid.has_coordinates and crs is not None:
        region = shapely.box(*grid.buses.total_bounds)
    elif from_layers and crs is not None:
        named = read.extent_layers()
        joint = _union_bounds([_total_bounds(g) for g in named.values()])
        if joint is not None:
            region = shapely.box(*joint)
            names = list(named)
            listed = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
            report.note(
                "no boundary and no grid: the study region is the bounding box of the "
                f"{listed} layer{'s' if len(names) > 1 else ''}"
            )
    return region


def _check_overlaps(
    read: _ReadLayers,
    spec: LayersSection,
    crs: CRS,
    region_bounds: tuple[float, float, float, float],
    report: ProblemReport,
) -> None:
    """A layer lying wholly outside the study region is a problem (its CRS is likely wrong)."""
    grid = read.grid
    if grid is not None and grid.has_coordinates:
        assert spec.grid is not None
        _overlap_check(grid.buses, region_bounds, crs, report, spec.grid.path, "buses")
    for ref, g, name in (
        (spec.water_sources, read.water, "water_sources"),
        (spec.zones, read.zones, "zones"),
        (spec.regions, read.regions, "regions"),
        (spec.places, read.places, "places"),
        (spec.sites, read.sites, "sites"),
        (spec.demand_regions, read.demand_regions, "demand_regions"),
        (spec.heat_sinks, read.heat_sinks, "heat_sinks"),
    ):
        if ref is not None:
            _overlap_check(g, region_bounds, crs, report, ref.path, ref.layer or name)
    for ref, part in read.excl_parts:
        _overlap_check(part, region_bounds, crs, report, ref.path, ref.layer or "exclusions")


def _read_rasters(
    spec: LayersSection,
    refused: set[Path],
    crs: CRS | None,
    region_bounds: tuple[float, float, float, float] | None,
    report: ProblemReport,
) -> tuple[RasterLayer | None, RasterLayer | None, dict[str, RasterLayer]]:
    """The land-class, land-cost and climate rasters (climate by field name), checked against
    the study region; a mean wet bulb above the mean dry bulb is a problem."""

    def ras(
        ref: RasterRef | None,
        name: str,
        value_range: tuple[float, float] | None = None,
        integer: bool = False,
    ) -> RasterLayer | None:
        """The raster ``ref`` names, checked (``None``: none, or refused)."""
        if ref is None or _is_refused(ref, refused):
            return None
        return read_raster(
            ref.path,
            name,
            report,
            band=ref.band,
            target_crs=crs,
            region_bounds=region_bounds,
            value_range=value_range,
            integer_classes=integer,
        )

    land_class = ras(spec.land_class, "land_class", integer=True)
    land_cost = ras(spec.land_cost, "land_cost", value_range=(0.0, 1e12))
    climate: dict[str, RasterLayer] = {}
    if spec.climate is not None:
        for name in CLIMATE_RASTERS:
            r = ras(getattr(spec.climate, name), f"climate.{name}", value_range=CLIMATE_RANGE_C)
            if r is not None:
                climate[name] = r
        if {"dry_bulb_mean_c", "wet_bulb_mean_c"} <= climate.keys():
            if climate["wet_bulb_mean_c"].mean > climate["dry_bulb_mean_c"].mean + 0.5:
                report.add(
                    "mean wet-bulb temperature is above the mean dry-bulb temperature; expected "
                    "wet-bulb <= dry-bulb (are the two files swapped?)",
                    file=spec.climate.wet_bulb_mean_c.path,
                    layer="climate.wet_bulb_mean_c",
                )
    return land_class, land_cost, climate


def resource_range(unit: str, scale: float) -> tuple[float, float]:
    """Inclusive range of a resource raster's raw cells [raster units]: a capacity factor
    in [0, 1], or a yield in [0, 8,760] kWh/kW/year, before the factor ``scale``."""
    from siting.config.scenario import YIELD_HOURS_PER_YEAR

    top = 1.0 if unit == "fraction" else YIELD_HOURS_PER_YEAR
    return 0.0, top / scale


def _read_resource_rasters(
    scenario: Scenario,
    refused: set[Path],
    crs: CRS | None,
    region_bounds: tuple[float, float, float, float] | None,
    report: ProblemReport,
) -> dict[str, RasterLayer]:
    """The on-site options' resource rasters by option name (named
    ``onsite.options[i].availability_raster`` in problems), checked like the climate
    rasters, with cells in :func:`resource_range`."""
    out: dict[str, RasterLayer] = {}
    for i, o in enumerate(scenario.onsite.options):
        ref = o.availability_raster
        if ref is None or _is_refused(ref, refused):
            continue
        r = read_raster(
            ref.path,
            f"onsite.options[{i}].availability_raster ({o.name})",
            report,
            band=ref.band,
            target_crs=crs,
            region_bounds=region_bounds,
            value_range=resource_range(ref.unit, ref.scale),
        )
        if r is not None:
            out[o.name] = r
    return out


def load_layers(scenario: Scenario) -> Layers:
    """Read and validate every layer a scenario names.

    Parameters
    ----------
    scenario
        A validated :class:`siting.config.scenario.Scenario`.

    Returns
    -------
    Layers

    Raises
    ------
    siting.core.errors.InputError
        Listing every problem found in every layer.
    """
    report = ProblemReport()
    spec = scenario.layers
    file = str(scenario.source_file) if scenario.source_file else None

    # a FIFO, device or socket at any path (or beside a dataset) is refused before any read
    refused = refuse_special_files(input_paths(scenario), report)
    grid = _read_scenario_grid(scenario, refused, report, file)
    read = _read_vector_layers(spec, grid, refused, report)
    # without a boundary or a grid, the sites and what they link to give the region
    from_layers = read.boundary is None and grid is None and read.sites is not None
    crs = _common_crs(scenario, read, from_layers, report, file)
    exclusions = None
    if crs is not None:
        exclusions = _reproject_layers(read, spec, crs, report)
    region = _study_region(read, from_layers, crs, report)
    region_bounds = region.bounds if region is not None and not region.is_empty else None
    if crs is not None and region_bounds is not None:
        _check_overlaps(read, spec, crs, region_bounds, report)
    land_class, land_cost, climate = _read_rasters(spec, refused, crs, region_bounds, report)
    onsite = _read_resource_rasters(scenario, refused, crs, region_bounds, report)

    report.raise_if_any()
    assert grid is not None or spec.grid is None
    return Layers(
        crs=crs,
        region=region,
        grid=grid,
        water_sources=read.water,
        exclusions=exclusions,
        zones=read.zones,
        regions=read.regions,
        places=read.places,
        boundary=read.boundary,
        sites=read.sites,
        demand_regions=read.demand_regions,
        heat_sinks=read.heat_sinks,
        land_class=land_class,
        exclude_classes=list(spec.land_class.exclude_classes) if spec.land_class else [],
        land_cost=land_cost,
        climate=climate,
        onsite=onsite,
        inputs=hash_inputs(input_paths(scenario)),
        notes=list(report.notes),
    )


def input_key(role: str) -> str:
    """The dotted scenario key of an input's path, from its role in :func:`input_paths`
    (``exclusions[2]`` -> ``layers.exclusions.2.path``)."""
    if role.startswith("scenario"):
        return "extends" if role == "scenario.extends" else "(the scenario file)"
    if role.startswith("policy."):
        return role
    if role.startswith("onsite."):
        return re.sub(r"\[(\d+)\]", r".\1", role) + ".path"
    return "layers." + re.sub(r"\[(\d+)\]", r".\1", role) + ".path"


def refuse_special_files(inputs: list[InputPath], report: ProblemReport) -> set[Path]:
    """Report every input that is, or has beside it, a FIFO, device or socket; their paths.

    Runs before any reader opens anything (:func:`siting.core.files.dataset_problem`; an
    absent file is left to its reader, which says what was expected). Each problem names
    the path and the scenario key (:func:`input_key`).

    Parameters
    ----------
    inputs
        :func:`input_paths` of the scenario.
    report
        Problems go here.

    Returns
    -------
    set of pathlib.Path
        The refused paths, as resolved, for the readers to skip.
    """
    refused: set[Path] = set()
    for role, path, kind in inputs:
        if role.startswith("scenario"):  # read already, by siting.config.scenario's own check
            continue
        why = (
            dataset_problem(path, folder_ok=kind == "vector")
            if kind != "file"
            else path_problem(path)
        )
        if why is not None and why != "file not found":
            report.add(why, file=path, field=input_key(role))
            refused.add(Path(path).resolve())
    return refused


def _is_refused(ref, refused: set[Path]) -> bool:
    """Whether a scenario reference (``VectorRef``, ``RasterRef``, a path) was refused."""
    if ref is None or not refused:
        return False
    path = getattr(ref, "path", ref)
    return Path(path).resolve() in refused


def grid_input_paths(scenario: Scenario) -> list[InputPath]:
    """(role, path, kind) of every file a scenario's grid is read from: the grid, the layers
    taken from other files, the bus coordinates and the attached tables (roles ``grid``,
    ``grid.<key>``; :func:`input_key` gives the scenario key). None without a grid."""
    from siting.inputs.grids.layer import grid_format, is_dataset

    g = scenario.layers.grid
    if g is None:
        return []
    path = Path(g.path)
    kind: DatasetKind = "vector" if is_dataset(path, grid_format(path, g.format)) else "file"
    out: list[InputPath] = [("grid", path, kind)]
    for name in (*GRID_PARTS, "bus_coordinates", *ATTACHMENTS):
        ref = getattr(g, name)
        if ref is not None:
            part_kind: DatasetKind = "vector" if name in GRID_PARTS else "file"
            out.append((f"grid.{name}", Path(ref.path), part_kind))
    return out


def input_paths(scenario: Scenario) -> list[InputPath]:
    """(role, path, kind) of every input a scenario reads (see :func:`hash_inputs`)."""
    spec = scenario.layers
    out: list[InputPath] = []
    if scenario.source_file:
        out.append(("scenario", Path(scenario.source_file), "file"))
    if scenario.extends:
        out.append(("scenario.extends", Path(scenario.extends), "file"))
    out += grid_input_paths(scenario)
    for name in (
        "water_sources",
        "zones",
        "regions",
        "boundary",
        "places",
        "sites",
        "demand_regions",
        "heat_sinks",
    ):
        ref = getattr(spec, name)
        if ref is not None:
            out.append((name, Path(ref.path), "vector"))
    for name in ("land_class", "land_cost"):
        ref = getattr(spec, name)
        if ref is not None:
            out.append((name, Path(ref.path), "raster"))
    if scenario.policy.demand is not None and scenario.policy.demand.costs_csv is not None:
        out.append(("policy.demand.costs_csv", Path(scenario.policy.demand.costs_csv), "file"))
    for i, ref in enumerate(spec.exclusions):
        out.append((f"exclusions[{i}]", Path(ref.path), "vector"))
    if spec.climate is not None:
        for name in CLIMATE_RASTERS:
            out.append((f"climate.{name}", Path(getattr(spec.climate, name).path), "raster"))
    for i, o in enumerate(scenario.onsite.options):
        if o.availability_raster is not None:
            role = f"onsite.options[{i}].availability_raster"
            out.append((role, Path(o.availability_raster.path), "raster"))
    return out


def input_files(scenario: Scenario) -> list[Path]:
    """Every file a scenario reads (the scenario files too), absolute, without reading them.

    What an output must never overwrite or delete (:func:`siting.core.io.check_output_folder`).
    """
    return [Path(path).absolute() for _role, path, _kind in input_paths(scenario)]


def load_grid_case(path: str | Path, bus_coordinates: str | Path | None = None) -> Layers:
    """Read a bare grid case (MATPOWER ``.m``, pandapower ``.json`` or grid GeoPackage).

    Parameters
    ----------
    path
        The case file.
    bus_coordinates
        Optional CSV of bus coordinates (``bus_id`` and ``lon,lat``, EPSG:4326).

    Returns
    -------
    Layers
        With only ``grid`` set (and ``crs`` chosen automatically when the buses have
        coordinates).
    """
    from siting.config.scenario import CoordinatesRef, GridLayers

    report = ProblemReport()
    path = Path(path)
    spec = GridLayers(
        path=path,
        bus_coordinates=CoordinatesRef(path=Path(bus_coordinates)) if bus_coordinates else None,
    )
    grid = read_grid(spec, report)
    crs = None
    region = None
    if grid is not None and grid.has_coordinates and grid.crs is not None:
        crs = choose_crs(None, _bounds_lonlat(grid.buses), report)
        if crs is not None:
            grid.buses = to_crs(grid.buses, crs, _Ctx(report, path, "buses", None))
            if grid.branches.crs is not None:
                grid.branches = to_crs(grid.branches, crs, _Ctx(report, path, "branches", None))
            region = shapely.box(*grid.buses.total_bounds)
    report.raise_if_any(what="grid case")
    assert grid is not None
    from siting.inputs.grids.layer import grid_format, is_dataset

    kind: DatasetKind = "vector" if is_dataset(path, grid_format(path)) else "file"
    files: list[InputPath] = [("grid", path, kind)]
    if bus_coordinates:
        files.append(("grid.bus_coordinates", Path(bus_coordinates), "file"))
    return Layers(
        crs=crs, region=region, grid=grid, inputs=hash_inputs(files), notes=list(report.notes)
    )
