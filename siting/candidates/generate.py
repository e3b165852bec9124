"""Candidate sites: made from the layers, described, screened, and linked.

:func:`build_candidates` turns a scenario and its :class:`~siting.inputs.Layers` into
:class:`Candidates`, the table the model chooses from (DESIGN.md, "the pipeline").

Making candidates
    With a ``sites`` layer, its points and polygons are the candidates (``site_id`` as
    given). Without one, a square grid of ``candidates.cell_km`` cells covers the region.
    With ``layers.sites.mode: add``, both: the sites and the cells, the sites' polygons cut
    out of the cells (as exclusions are), so that announced campuses are weighed against
    open land; a site_id that is also a cell's ID is an error.
    The grid is anchored at multiples of the cell size in the layers' CRS, so a cell's ID
    ``c_<row>_<col>`` (``row = floor(northing / cell)``, ``col = floor(easting / cell)``,
    zero-padded to at least three digits, ``m`` for a negative index) is the same in every
    run of the same scenario. A cell is clipped to the region and the exclusion polygons
    are cut out of it (vectorised shapely 2 overlays; each cell's exclusions are unioned
    row-wise, never in a Python loop over cells x polygons).

Allowed area
    The excluded land classes of the land-class raster are counted on the raster: one
    windowed read covers every candidate, the candidate polygons are burnt into that
    window as labels (``rasterio.features.rasterize``), and ``np.bincount`` over the labels
    gives each candidate's excluded-class share of its (already cut) polygon. The raster is
    read at a finer grid (nearest neighbour) when a candidate would hold fewer than about
    :data:`PIXELS_PER_SIDE` pixels across, and coarser when the window holds more than
    :data:`~siting.inputs.raster.STATS_MAX_PIXELS` pixels. ``area_ha`` = polygon area x
    (1 - excluded-class share); ``allowed_share`` = ``area_ha`` over the whole cell (a
    region-edge sliver has a small share). The polygon geometry itself is not cut by the
    raster classes.

Attributes
    Climate and land cost are zonal means over the same labels (pixels weighted by
    cos(latitude) on a geographic raster), or point samples for points and for polygons
    too small to hold a pixel centre. Without climate rasters the reference climate of
    :mod:`siting.candidates.cooling` is used. The nearest eligible bus (``voltage_kv >=
    candidates.min_bus_voltage_kv``, not an isolated MATPOWER type-4 bus), zones, regions
    and links are found with k-d trees and STR trees; every distance is a straight line in
    the layers' projected CRS [km], from the candidate's representative point (a point on
    its surface).

    Without a grid layer there is no bus: ``bus_id`` is "" and ``bus_distance_km`` 0 (no
    tie line, so no tie line cost), and every rule on the distance to a bus
    (``candidates.max_bus_distance_km``, ``policy.public_interest.max_bus_distance_km``)
    holds trivially.

Screening
    Rules in the order of :data:`RULES`; each candidate is charged to the first rule that
    removes it (``Candidates.all["screened_out"]``), and every rule reports its count,
    including 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.windows
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.enums import Resampling
from rasterio.warp import transform_bounds
from scipy.spatial import cKDTree

from siting.core.errors import (
    MAX_ROWS_NAMED,
    InputError,
    Problem,
    ProblemReport,
    SitingError,
)
from siting.core.files import read_text_csv
from siting.inputs.raster import STATS_MAX_PIXELS, RasterLayer

if TYPE_CHECKING:
    from siting.config.scenario import ClimateLayers, DemandPolicy, Scenario
    from siting.inputs import Layers
    from siting.inputs.grids.grid import Grid

#: Screening rules in the order they are applied.
RULES: tuple[str, ...] = (
    "outside_region",
    "excluded_land",
    "min_allowed_share",
    "min_area_ha",
    "no_climate_data",
    "max_bus_distance_km",
    "max_land_cost_usd_per_ha",
    "too_small_for_min_campus",
    "outside_designated_zones",
)

#: The scenario key a user would change to loosen each rule.
RULE_KEYS: dict[str, str] = {
    "outside_region": "layers.sites",
    "excluded_land": "layers.sites",
    "min_allowed_share": "candidates.min_allowed_share",
    "min_area_ha": "candidates.min_area_ha",
    "no_climate_data": "layers.climate",
    "max_bus_distance_km": "candidates.max_bus_distance_km",
    "max_land_cost_usd_per_ha": "candidates.max_land_cost_usd_per_ha",
    "too_small_for_min_campus": "campus.min_campus_mw",
    "outside_designated_zones": "policy.zones",
}

#: Climate fields every candidate carries [C].
CLIMATE_FIELDS: tuple[str, ...] = (
    "dry_bulb_mean_c",
    "dry_bulb_p99_c",
    "wet_bulb_mean_c",
    "wet_bulb_p99_c",
)

#: Columns of :attr:`Candidates.sites` (``all`` adds ``screened_out``), geometry aside.
COLUMNS: tuple[str, ...] = (
    "name",
    "kind",
    "x",
    "y",
    "lon",
    "lat",
    "area_ha",
    "allowed_share",
    "max_it_mw",
    "land_cost_usd_per_ha",
    "fixed_cost_usd",
    "zone_id",
    "zone_kind",
    "region_id",
    "bus_id",
    "bus_distance_km",
    *CLIMATE_FIELDS,
)

#: A zonal read aims for at least this many pixels across a typical candidate.
PIXELS_PER_SIDE = 4

#: Most grid cells laid over the region's bounding box before the cell size is called too small.
MAX_GRID_CELLS = 2_000_000

#: A generated cell takes the name of the nearest place within this distance [km].
PLACE_NAME_KM = 50.0

#: Tolerance of distance and size comparisons [km, ha, MW].
_EPS = 1e-9


@dataclass
class Candidates:
    """The candidate sites and their links, ready for the model.

    Attributes
    ----------
    sites
        The candidates that passed screening. Index ``site_id`` (str). Geometry: the
        allowed polygon (cells: the cell clipped to the region, exclusion polygons cut
        out) or the user's point. Columns (units in the names): ``name``, ``kind``
        (``cell``/``point``/``polygon``), ``x, y`` (representative point in the layers'
        CRS [m]), ``lon, lat`` [degrees], ``area_ha`` (allowed area), ``allowed_share``
        (allowed area over the candidate's whole area [fraction]), ``max_it_mw`` [MW IT],
        ``land_cost_usd_per_ha``, ``fixed_cost_usd``, ``zone_id, zone_kind`` ("" when in
        no zone), ``region_id`` ("" when in none), ``bus_id, bus_distance_km`` (nearest
        eligible bus [km]; "" and 0 without a grid layer), ``dry_bulb_mean_c,
        dry_bulb_p99_c, wet_bulb_mean_c, wet_bulb_p99_c`` [C].
    all
        Every candidate made, the same columns plus ``screened_out``: "" when kept, else
        the first rule (of :data:`RULES`) that removed it, and ``screen_reason``: that
        rule in words with its figures (:func:`screen_reasons`).
    water_links
        ``site_id, source_id, distance_km``: for kept sites, the sources whose
        ``max_pipeline_km`` reaches the site, at most ``candidates.max_water_links``
        nearest per site; sorted by site_id, then distance.
    demand_links
        ``region_id, site_id, distance_km, cost_usd_per_mw_year``: kept sites within
        latency reach of each demand region [USD/(MW year)]; empty without
        ``policy.demand``.
    heat_links
        ``sink_id, site_id, distance_km``: kept sites within each heat sink's
        ``max_km``; empty without a ``heat_sinks`` layer.
    rules
        ``(rule, candidates it removed)`` in the order applied, zeros included.
    notes
        What was decided (cell size, counts, fallbacks, time taken).
    resource
        Annual capacity factor [fraction] of each on-site option with an
        ``availability_raster``, indexed by the kept sites' ``site_id``, one column per
        option name (NaN where the raster has no value); empty without such options.
    """

    sites: gpd.GeoDataFrame
    all: gpd.GeoDataFrame
    water_links: pd.DataFrame
    demand_links: pd.DataFrame
    heat_links: pd.DataFrame
    rules: list[tuple[str, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    resource: pd.DataFrame = field(default_factory=pd.DataFrame)


# --------------------------------------------------------------------------- entry point


def build_candidates(scenario: Scenario, layers: Layers) -> Candidates:
    """Make, describe, screen and link the candidate sites of a scenario.

    Parameters
    ----------
    scenario
        A validated :class:`siting.config.scenario.Scenario` (``candidates``, ``campus``,
        ``costs``, ``policy`` are read).
    layers
        Its :class:`siting.inputs.Layers` (one projected CRS).

    Returns
    -------
    Candidates

    Raises
    ------
    siting.core.errors.InputError
        When candidates cannot be made (no projected CRS, no region, no bus coordinates,
        no eligible bus, a cell size too small), when no candidate survives screening
        (naming the rule that removed the last ones, with every rule's count), or when
        ``policy.demand.costs_csv`` is wrong (file, row and field named).
    """
    t0 = perf_counter()
    crs, unit_m = _check_crs(layers)
    notes: list[str] = []
    c = _make_candidates(scenario, layers, unit_m, notes)
    w = _work(c, scenario.candidates.cell_km, crs, unit_m, notes)
    _land_area(w, scenario, _class_share(w, layers))
    _land_cost(w, scenario, layers)
    _climate(w, scenario, layers)
    _bus_zone_region_name(w, scenario, layers)
    out = _screen_and_link(w, scenario, layers, t0)
    out.resource = onsite_resource(w, scenario, layers).loc[out.sites.index]
    return out


def onsite_resource(w: _Work, scenario: Scenario, layers: Layers) -> pd.DataFrame:
    """Annual capacity factor [fraction] of each on-site option with a resource raster
    (``layers.onsite``) at every candidate, sampled as the climate is
    (:func:`_zonal_or_sample`: the mean over a polygon, else the cell at the point), times
    the raster's ``scale``, and a yield [kWh/kW/year] divided by
    :data:`~siting.config.scenario.YIELD_HOURS_PER_YEAR`; NaN where the raster has no value.
    """
    from siting.config.scenario import YIELD_HOURS_PER_YEAR

    cols = {}
    for o in scenario.onsite.options:
        ref, layer = o.availability_raster, layers.onsite.get(o.name)
        if ref is None or layer is None:
            continue
        raw = _zonal_or_sample(w.zonal, layer, w.xy, w.crs) * ref.scale
        cols[o.name] = raw / YIELD_HOURS_PER_YEAR if ref.unit == "kwh_per_kw_year" else raw
    return pd.DataFrame(cols, index=w.c.index, dtype=float).rename_axis("site_id")


@dataclass
class _Work:
    """The working table of :func:`build_candidates` and what its steps share.

    Attributes
    ----------
    c
        One row per candidate made; the steps add the :data:`COLUMNS` to it.
    crs, unit_m
        The layers' projected CRS and its metres per unit.
    rep, xy
        Representative points (shapely) and their coordinates (n, 2) [CRS units].
    is_cell, is_point, has_area
        Which candidates are grid cells, points, and polygons with area.
    zonal
        Zonal statistics over the candidate polygons.
    notes
        What was decided (:attr:`Candidates.notes`).
    """

    c: pd.DataFrame
    crs: CRS
    unit_m: float
    rep: np.ndarray
    xy: np.ndarray
    is_cell: np.ndarray
    is_point: np.ndarray
    has_area: np.ndarray
    zonal: _Zonal
    notes: list[str]


def _make_candidates(
    scenario: Scenario, layers: Layers, unit_m: float, notes: list[str]
) -> pd.DataFrame:
    """The candidates made: the sites layer's, the grid cells, or both
    (:func:`sites_mode`), as one working table; notes how many of each."""
    rules = scenario.candidates
    sites = layers.sites
    mode = sites_mode(scenario, layers)  # None exactly when there is no sites layer
    parts = []
    if sites is not None:
        user = _user_sites(scenario, layers, sites, unit_m)
        n_pts = int((user.kind == "point").sum())
        parts.append(user)
        notes.append(
            f"candidates: {len(user)} sites from the sites layer ({n_pts} points, "
            f"{len(user) - n_pts} polygons)"
        )
    if mode != "replace":
        cut = None if sites is None else _polygons(sites.geometry.to_numpy())
        cells = _grid_cells(scenario, layers, unit_m, cut=cut)
        if mode == "add":
            _no_shared_ids(parts[0].index, cells.index, scenario)
        parts.append(cells)
        notes.append(
            f"candidates: {len(cells)} cells of {rules.cell_km:g} km x {rules.cell_km:g} km "
            "over the region"
            + (" (layers.sites.mode: add; the sites' polygons cut out of them)" if mode else "")
        )
    return parts[0] if len(parts) == 1 else pd.concat(parts)


def _work(c: pd.DataFrame, cell_km: float, crs: CRS, unit_m: float, notes: list[str]) -> _Work:
    """Locate the candidates (``x, y`` [CRS units], ``lon, lat`` [degrees] of a point on the
    surface of what is allowed, else of the outline) and set up their zonal statistics
    (``cell_km``: the grid's cell side [km])."""
    is_cell = (c["kind"] == "cell").to_numpy()
    rep = shapely.point_on_surface(c["geometry"].to_numpy())
    empty = shapely.is_empty(rep)
    if empty.any():
        rep[empty] = shapely.point_on_surface(c["outline"].to_numpy()[empty])
    c["x"] = shapely.get_x(rep)
    c["y"] = shapely.get_y(rep)
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(
        c["x"].to_numpy(), c["y"].to_numpy()
    )
    c["lon"] = lon
    c["lat"] = lat

    is_point = (c["kind"] == "point").to_numpy()
    polys = c["geometry"].to_numpy()
    has_area = ~is_point & (c["poly_area_m2"].to_numpy() > 0)
    cells = None
    if is_cell.any():
        size = cell_km * 1000.0 / unit_m
        cells = (c["row"].to_numpy(dtype=float), c["col"].to_numpy(dtype=float), size)
    zonal = _Zonal(polys, has_area, crs, unit_m, cells)
    xy = c[["x", "y"]].to_numpy()
    return _Work(c, crs, unit_m, rep, xy, is_cell, is_point, has_area, zonal, notes)


def _class_share(w: _Work, layers: Layers) -> np.ndarray:
    """Each candidate's share of excluded land classes [fraction] (0 for points, and where
    the raster has no data); a point on an excluded class is marked ``excluded``."""
    c = w.c
    class_share = np.zeros(len(c))
    if layers.land_class is not None and layers.exclude_classes:
        share = w.zonal.share(layers.land_class, layers.exclude_classes)
        at_point = layers.land_class.sample(w.xy[:, 0], w.xy[:, 1], w.crs)
        point_excl = np.where(np.isnan(at_point), np.nan, np.isin(at_point, layers.exclude_classes))
        share = np.where(np.isnan(share), point_excl, share)
        unknown = w.has_area & np.isnan(share)
        if unknown.any():
            w.notes.append(
                f"{int(unknown.sum())} candidates have no land-class data; counted as allowed"
            )
        class_share = np.where(w.has_area, np.nan_to_num(share, nan=0.0), 0.0)
        # a point on an excluded class is excluded land
        c.loc[w.is_point & (point_excl == 1), "excluded"] = True
    return class_share


def _land_area(w: _Work, scenario: Scenario, class_share: np.ndarray) -> None:
    """``allowed_share`` [fraction], ``area_ha`` [ha] and ``max_it_mw`` [MW IT] of each
    candidate, from its polygon less the ``class_share`` of excluded classes [fraction]
    (user values first); a user polygon with no allowed land left is marked ``excluded``."""
    c = w.c
    is_point = w.is_point
    unit_m = w.unit_m
    ha_per_mw = scenario.candidates.land_ha_per_mw
    poly_ha = c["poly_area_m2"].to_numpy() * unit_m**2 / 1e4 * (1.0 - class_share)
    poly_ha = np.maximum(poly_ha, 0.0)
    full_ha = c["full_area_m2"].to_numpy() * unit_m**2 / 1e4
    with np.errstate(invalid="ignore", divide="ignore"):
        c["allowed_share"] = np.where(
            is_point, np.where(c["excluded"], 0.0, 1.0), np.where(full_ha > 0, poly_ha / full_ha, 0)
        )
    default_ha = np.where(is_point, scenario.campus.max_campus_mw * ha_per_mw, poly_ha)
    user_ha = c["user_area_ha"].to_numpy(dtype=float)
    # a user polygon with no allowed land left is excluded land (cells: min_allowed_share)
    c.loc[(c["kind"] == "polygon").to_numpy() & (poly_ha <= 0), "excluded"] = True
    c["area_ha"] = np.where(np.isnan(user_ha), default_ha, user_ha)
    user_mw = c["user_max_it_mw"].to_numpy(dtype=float)
    c["max_it_mw"] = np.fmin(
        np.minimum(scenario.campus.max_campus_mw, c["area_ha"].to_numpy() / ha_per_mw), user_mw
    )


def _land_cost(w: _Work, scenario: Scenario, layers: Layers) -> None:
    """``land_cost_usd_per_ha`` [USD/ha] (user value, else the raster's, else its mean) and
    ``fixed_cost_usd`` [USD] (user value, else ``costs.site_fixed_cost_usd``)."""
    c = w.c
    user_cost = c["user_land_cost"].to_numpy(dtype=float)
    cost = np.zeros(len(c))
    if layers.land_cost is not None:
        cost = _zonal_or_sample(w.zonal, layers.land_cost, w.xy, w.crs)
        missing = np.isnan(cost) & np.isnan(user_cost)
        if missing.any():
            w.notes.append(
                f"{int(missing.sum())} candidates lie where the land-cost raster has no data; "
                f"they take its mean, {layers.land_cost.mean:,.0f} USD/ha"
            )
        cost = np.where(np.isnan(cost), layers.land_cost.mean, cost)
    c["land_cost_usd_per_ha"] = np.where(np.isnan(user_cost), cost, user_cost)
    user_fixed = c["user_fixed_cost"].to_numpy(dtype=float)
    c["fixed_cost_usd"] = np.where(
        np.isnan(user_fixed), scenario.costs.site_fixed_cost_usd, user_fixed
    )


def _climate(w: _Work, scenario: Scenario, layers: Layers) -> None:
    """The :data:`CLIMATE_FIELDS` [C] of each candidate: from the climate rasters, else the
    reference climate; then the scenario's uniform warming (:func:`_warm`)."""
    c = w.c
    reference = None
    for name in CLIMATE_FIELDS:
        layer = layers.climate.get(name)
        if layer is not None:
            c[name] = _zonal_or_sample(w.zonal, layer, w.xy, w.crs)
        else:
            if reference is None:
                from siting.candidates.cooling import (
                    REFERENCE_CLIMATE_C,  # lazy: cooling imports little
                )

                reference = REFERENCE_CLIMATE_C
                w.notes.append(
                    "no climate rasters: every candidate takes the reference climate of "
                    "siting.candidates.cooling ("
                    + ", ".join(f"{k} {v:g}" for k, v in reference.items())
                    + ")"
                )
            c[name] = float(reference[name])
    clim = scenario.layers.climate
    if clim is not None and (clim.warming_c or clim.wet_bulb_warming_c):
        _warm(c, clim, w.notes)


def _warm(c: pd.DataFrame, clim: ClimateLayers, notes: list[str]) -> None:
    """Warm the climate uniformly by ``layers.climate.warming_c`` (dry-bulb) and
    ``wet_bulb_warming_c`` (wet-bulb; default: the same) [C]; the wet-bulb never exceeds
    the dry-bulb."""
    wet = clim.warming_c if clim.wet_bulb_warming_c is None else clim.wet_bulb_warming_c
    for name in CLIMATE_FIELDS:
        c[name] = c[name] + (wet if name.startswith("wet_bulb") else clim.warming_c)
    notes.append(
        f"climate warmed uniformly: dry-bulb {clim.warming_c:+g} C, wet-bulb {wet:+g} C "
        "(layers.climate.warming_c / wet_bulb_warming_c)"
    )
    for wb, db in (
        ("wet_bulb_mean_c", "dry_bulb_mean_c"),
        ("wet_bulb_p99_c", "dry_bulb_p99_c"),
    ):
        c[wb] = np.minimum(c[wb], c[db])  # the wet-bulb never exceeds the dry-bulb


def _bus_zone_region_name(w: _Work, scenario: Scenario, layers: Layers) -> None:
    """``bus_id, bus_distance_km`` (nearest eligible bus [km]; "" and 0 without a grid),
    ``zone_id, zone_kind``, ``region_id``, and for cells the ``name`` of a place nearby."""
    c = w.c
    if layers.grid is not None:
        bus_ids, bus_km = _nearest_bus(scenario, layers.grid, w.xy, w.unit_m)
    else:
        bus_ids, bus_km = np.full(len(c), "", dtype=object), np.zeros(len(c))
        if scenario.candidates.max_bus_distance_km is not None:
            w.notes.append(
                "no grid layer: candidates connect to no bus (bus_id '', bus_distance_km 0, no "
                "tie line cost), so candidates.max_bus_distance_km removes none"
            )
    c["bus_id"] = bus_ids
    c["bus_distance_km"] = bus_km
    c["zone_id"], c["zone_kind"] = _zones(layers.zones, w.rep)
    c["region_id"] = _containing(layers.regions, w.rep)
    no_region = (c["region_id"] == "").sum() if layers.regions is not None else 0
    if no_region:
        w.notes.append(f"{int(no_region)} candidates lie in no region of the regions layer")
    is_cell = w.is_cell
    if is_cell.any():
        names = c["name"].to_numpy(dtype=object)
        names[is_cell] = _place_names(layers.places, w.xy[is_cell], c.index[is_cell], w.unit_m)
        c["name"] = names


def _screen_and_link(w: _Work, scenario: Scenario, layers: Layers, t0: float) -> Candidates:
    """Screen the candidates (:func:`_screen`), link the kept ones to water sources, demand
    regions and heat sinks, and note the counts and the time since ``t0`` [s]."""
    c = w.c
    c["screened_out"] = ""
    counts = _screen(scenario, layers, c)
    kept_mask = (c["screened_out"] == "").to_numpy()
    if not kept_mask.any():
        _raise_none_left(counts, len(c))

    all_gdf = gpd.GeoDataFrame(
        c[[*COLUMNS, "screened_out", "screen_reason"]],
        geometry=c["geometry"].to_numpy(),
        crs=w.crs,
    )
    all_gdf.index.name = "site_id"
    sites = all_gdf.loc[kept_mask].drop(columns=["screened_out", "screen_reason"])
    kxy = w.xy[kept_mask]
    kids = sites.index.to_numpy().astype(str)
    unit_m, notes = w.unit_m, w.notes
    water = _water_links(
        layers.water_sources, kids, kxy, scenario.candidates.max_water_links, unit_m
    )
    demand = _demand_links(scenario, layers, kids, kxy, set(c.index.astype(str)), unit_m, notes)
    heat = _heat_links(layers.heat_sinks, kids, shapely.points(kxy), unit_m)

    removed = ", ".join(f"{r} {n}" for r, n in counts)
    notes.append(
        f"screening kept {len(sites)} of {len(c)} candidates (removed: {removed}); "
        f"{len(water)} water links, {len(demand)} demand links, {len(heat)} heat links "
        f"({perf_counter() - t0:.2f} s)"
    )
    return Candidates(
        sites=sites,
        all=all_gdf,
        water_links=water,
        demand_links=demand,
        heat_links=heat,
        rules=counts,
        notes=notes,
    )


# --------------------------------------------------------------------------- checks


def _check_crs(layers: Layers) -> tuple[CRS, float]:
    """The layers' projected CRS and its metres per unit."""
    crs = layers.crs
    if crs is None or not CRS.from_user_input(crs).is_projected:
        raise InputError(
            Problem(
                "candidates need the layers in a projected CRS (metres); set `crs` in the "
                "scenario or give layers with coordinates",
                field="crs",
            )
        )
    crs = CRS.from_user_input(crs)
    unit_m = float(crs.axis_info[0].unit_conversion_factor) if crs.axis_info else 1.0
    if layers.grid is not None and not layers.grid.has_coordinates:
        raise InputError(
            Problem(
                "the grid's buses have no coordinates, so no candidate can be tied to a bus; "
                "give `layers.grid.bus_coordinates`",
                field="layers.grid",
            )
        )
    return crs, unit_m


def _raise_none_left(counts: list[tuple[str, int]], n_made: int) -> None:
    last = [r for r, n in counts if n > 0][-1]
    table = ", ".join(f"{r} {n}" for r, n in counts)
    raise InputError(
        Problem(
            f"no candidate site survives screening: rule '{last}' removed the last of the "
            f"{n_made} candidates made (removed per rule: {table}); loosen `{RULE_KEYS[last]}`",
            field=RULE_KEYS[last],
        )
    )


# --------------------------------------------------------------------------- making candidates


def _empty_frame(n: int, index: pd.Index) -> pd.DataFrame:
    """The working table with the user-value columns empty."""
    c = pd.DataFrame(index=index)
    for col in ("user_area_ha", "user_max_it_mw", "user_land_cost", "user_fixed_cost"):
        c[col] = np.full(n, np.nan)
    c["outside"] = False
    c["excluded"] = False
    return c


def _cell_ids(rows: np.ndarray, cols: np.ndarray, width: int) -> np.ndarray:
    def fmt(v: np.ndarray) -> np.ndarray:
        a = np.char.zfill(np.abs(v).astype(str), width)
        return np.where(v < 0, np.char.add("m", a), a)

    return np.char.add(np.char.add(np.char.add("c_", fmt(rows)), "_"), fmt(cols)).astype(object)


def sites_mode(scenario: Scenario, layers: Layers) -> str | None:
    """How the ``sites`` layer makes candidates: ``None`` (no sites layer: cells only),
    ``"replace"`` (its sites only) or ``"add"`` (its sites and the cells;
    ``layers.sites.mode``)."""
    if layers.sites is None:
        return None
    return getattr(scenario.layers.sites, "mode", "replace")


def _no_shared_ids(sites: pd.Index, cells: pd.Index, scenario: Scenario) -> None:
    """With ``layers.sites.mode: add``, refuse a site_id that is also a generated cell's."""
    shared = sites.intersection(cells)
    if not len(shared):
        return
    ref = scenario.layers.sites
    if ref is None:  # mode "add" is read from this reference
        raise SitingError("layers.sites.mode is add, but the scenario names no sites layer")
    problems = [
        Problem(
            f"site_id '{i}' is also the ID of a generated candidate cell (cells are named "
            "c_<row>_<col>), and layers.sites.mode is add; expected site IDs that no cell "
            "has: rename the site",
            file=str(ref.path),
            layer=ref.layer or "sites",
            row=_position(sites, i) + 1,
            id=i,
            field="site_id",
        )
        for i in shared[:MAX_ROWS_NAMED]
    ]
    raise InputError(problems)


def _position(index: pd.Index, label: object) -> int:
    """The 0-based position of ``label`` in ``index``, whose labels are unique."""
    loc = index.get_loc(label)
    if not isinstance(loc, (int, np.integer)):
        raise SitingError(f"the ID '{label}' is not unique; expected unique site IDs")
    return int(loc)


def _grid_cells(
    scenario: Scenario, layers: Layers, unit_m: float, *, cut: np.ndarray | None = None
) -> pd.DataFrame:
    """Square cells over the region, clipped to it, exclusion polygons (and ``cut``: the
    sites layer's polygons, with ``layers.sites.mode: add``) cut out."""
    region = layers.region
    if region is None or region.is_empty or region.area <= 0:
        raise InputError(
            Problem(
                "candidate cells need a study region: give `layers.boundary` (or a `sites` layer)",
                field="layers.boundary",
            )
        )
    size = scenario.candidates.cell_km * 1000.0 / unit_m
    xmin, ymin, xmax, ymax = region.bounds
    c0, c1 = math.floor(xmin / size), math.ceil(xmax / size)
    r0, r1 = math.floor(ymin / size), math.ceil(ymax / size)
    n_grid = (c1 - c0) * (r1 - r0)
    if n_grid > MAX_GRID_CELLS:
        raise InputError(
            Problem(
                f"cell_km {scenario.candidates.cell_km:g} lays {n_grid:,} cells over the "
                f"region's bounding box; at most {MAX_GRID_CELLS:,} are made; use larger cells",
                field="candidates.cell_km",
            )
        )
    rr_2d, cc_2d = np.meshgrid(np.arange(r0, r1), np.arange(c0, c1), indexing="ij")
    rr, cc = rr_2d.ravel(), cc_2d.ravel()
    boxes = shapely.box(cc * size, rr * size, (cc + 1) * size, (rr + 1) * size)
    shapely.prepare(region)
    touches = shapely.intersects(region, boxes)
    inside = shapely.contains_properly(region, boxes)
    clipped = boxes.copy()
    edge = touches & ~inside
    clipped[edge] = shapely.intersection(boxes[edge], region)
    keep = touches & (shapely.area(clipped) > 0)
    rr, cc, boxes, clipped = rr[keep], cc[keep], boxes[keep], clipped[keep]
    width = max(3, len(str(max(abs(r0), abs(r1), abs(c0), abs(c1)))))
    ids = _cell_ids(rr, cc, width)

    allowed = _cut_exclusions(clipped, layers.exclusions, extra=cut)
    c = _empty_frame(len(ids), pd.Index(ids, name="site_id"))
    c["kind"] = "cell"
    c["name"] = ids
    c["row"] = rr
    c["col"] = cc
    c["outline"] = clipped
    c["geometry"] = allowed
    c["poly_area_m2"] = shapely.area(allowed)
    c["full_area_m2"] = size * size
    return c


def _user_sites(
    scenario: Scenario, layers: Layers, s: gpd.GeoDataFrame, unit_m: float
) -> pd.DataFrame:
    """The sites layer's points and polygons (``s``: ``layers.sites``), clipped to the
    region, exclusions cut out."""
    geom = s.geometry.to_numpy()
    ids = pd.Index([str(i) for i in s.index], name="site_id")
    c = _empty_frame(len(s), ids)
    gtype = shapely.get_type_id(geom)
    is_point = np.isin(gtype, (0, 4))  # Point, MultiPoint
    c["kind"] = np.where(is_point, "point", "polygon")
    names = s["name"].fillna("").astype(str).to_numpy() if "name" in s else np.full(len(s), "")
    c["name"] = np.where(names == "", ids.to_numpy(), names)
    for col, src in (
        ("user_area_ha", "area_ha"),
        ("user_max_it_mw", "max_it_mw"),
        ("user_land_cost", "land_cost_usd_per_ha"),
        ("user_fixed_cost", "fixed_cost_usd"),
    ):
        if src in s:
            c[col] = pd.to_numeric(s[src], errors="coerce").to_numpy(dtype=float)

    region = layers.region
    clipped = geom.copy()
    if region is not None and not region.is_empty:
        shapely.prepare(region)
        outside = np.where(
            is_point,
            ~shapely.intersects(region, geom),
            ~shapely.intersects(region, geom)
            | (shapely.area(shapely.intersection(geom, region)) <= 0),
        )
        inside = shapely.contains_properly(region, geom)
        part = ~is_point & ~outside & ~inside
        clipped[part] = shapely.intersection(geom[part], region)
        c["outside"] = outside
    allowed = clipped.copy()
    allowed[~is_point] = _cut_exclusions(clipped[~is_point], layers.exclusions)
    excl_parts = _exclusion_parts(layers.exclusions)
    if len(excl_parts) and is_point.any():
        tree = shapely.STRtree(excl_parts)
        hit, _ = tree.query(geom[is_point], predicate="intersects")
        pts = np.flatnonzero(is_point)
        c.loc[ids[pts[np.unique(hit)]], "excluded"] = True
    c["outline"] = clipped
    c["geometry"] = allowed
    c["poly_area_m2"] = np.where(is_point, 0.0, shapely.area(allowed))
    c["full_area_m2"] = np.where(is_point, 0.0, shapely.area(geom))
    return c


def _exclusion_parts(exclusions: gpd.GeoDataFrame | None) -> np.ndarray:
    """The exclusion layers' polygons as single, valid polygons."""
    if exclusions is None or not len(exclusions):
        return np.empty(0, dtype=object)
    return _polygons(exclusions.geometry.to_numpy())


def _polygons(g: np.ndarray) -> np.ndarray:
    """The polygons among geometries, as single, valid polygons (points are dropped)."""
    g = g[~(shapely.is_missing(g) | shapely.is_empty(g))]
    parts = shapely.get_parts(shapely.make_valid(g))
    # make_valid may yield collections; keep the polygons
    parts = shapely.get_parts(parts)
    return parts[shapely.get_type_id(parts) == 3]


def _cut_exclusions(
    geoms: np.ndarray, exclusions: gpd.GeoDataFrame | None, extra: np.ndarray | None = None
) -> np.ndarray:
    """``geoms`` minus every exclusion polygon (and the polygons ``extra``), vectorised.

    The (geometry, exclusion) pairs that intersect come from one STR-tree query; the
    pieces are intersected pairwise, unioned per geometry along the rows of a padded
    2-D array (``shapely.union_all(..., axis=1)``), and cut out with one
    ``shapely.difference``.
    """
    parts = _exclusion_parts(exclusions)
    if extra is not None and len(extra):
        parts = np.concatenate([parts, extra])
    out = geoms.copy()
    if not len(parts) or not len(geoms):
        return out
    tree = shapely.STRtree(parts)
    gi, pj = tree.query(geoms, predicate="intersects")
    if not len(gi):
        return out
    order = np.lexsort((pj, gi))
    gi, pj = gi[order], pj[order]
    pieces = shapely.intersection(geoms[gi], parts[pj])
    hit, start, n = np.unique(gi, return_index=True, return_counts=True)
    rank = np.arange(len(gi)) - np.repeat(start, n)
    table = np.full((len(hit), int(n.max())), None, dtype=object)
    table[np.repeat(np.arange(len(hit)), n), rank] = pieces
    cut = shapely.union_all(table, axis=1)
    out[hit] = shapely.difference(geoms[hit], cut)
    return out


# --------------------------------------------------------------------------- rasters


class _Zonal:
    """Zonal statistics of rasters over the candidate polygons, by pixel centre.

    One windowed read per raster covers every measured polygon. The window's pixel
    centres are transformed into the layers' CRS and matched to the polygons holding
    them: for grid cells by ``floor(coordinate / cell)`` (a point-in-polygon test only
    for cells that were clipped or cut), for other polygons by one STR-tree query. The
    (pixel, polygon) pairs are cached per raster grid, so rasters on one grid are matched
    once; sums per polygon come from ``np.bincount``.

    Parameters
    ----------
    polys
        Candidate polygons in the layers' CRS.
    use
        Which of them to measure (the rest get NaN).
    crs, unit_m
        The layers' CRS and its metres per unit.
    cells
        ``(rows, cols, size)`` when some candidates are grid cells: each polygon's grid row
        and column (NaN for a candidate that is not a cell) and the cell side [CRS units].
    """

    def __init__(
        self,
        polys: np.ndarray,
        use: np.ndarray,
        crs: CRS,
        unit_m: float,
        cells: tuple[np.ndarray, np.ndarray, float] | None = None,
    ):
        self.polys = polys
        self.use = np.asarray(use, dtype=bool)
        self.crs = crs
        self.unit_m = unit_m
        self.cells = cells
        self._pairs: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        areas = shapely.area(polys[self.use]) if self.use.any() else np.zeros(0)
        # a typical candidate's side [CRS units]
        if cells is not None:
            self.side = cells[2]
        else:
            self.side = float(np.sqrt(np.median(areas))) if len(areas) else 0.0

    def _read(self, layer: RasterLayer):
        """(values, valid, weights, (pixel, polygon) pairs) of the window over the polygons."""
        idx = np.flatnonzero(self.use)
        if not len(idx):
            return None
        b = shapely.total_bounds(self.polys[idx])
        rcrs = layer.crs
        same = rcrs.equals(self.crs)
        rb = b if same else transform_bounds(self.crs, rcrs, *b, densify_pts=21)
        with rasterio.open(layer.path) as ds:
            full = rasterio.windows.Window(0, 0, ds.width, ds.height)
            win = _covering_window(rasterio.windows.from_bounds(*rb, transform=ds.transform))
            try:
                win = win.intersection(full)
            except rasterio.errors.WindowError:
                return None
            w, h = int(win.width), int(win.height)
            if w <= 0 or h <= 0:
                return None
            # a native pixel's width in layer units, and how many span a typical candidate
            px = abs(ds.transform.a) * max(b[2] - b[0], 1e-12) / max(rb[2] - rb[0], 1e-12)
            across = self.side / px if px > 0 else float(PIXELS_PER_SIDE)
            up = max(1, math.ceil(PIXELS_PER_SIDE / across)) if across > 0 else 1
            while up > 1 and w * h * up * up > STATS_MAX_PIXELS:
                up -= 1
            if w * h > STATS_MAX_PIXELS:  # too many pixels: decimate
                down = math.ceil(math.sqrt(w * h / STATS_MAX_PIXELS))
                shape = (max(1, math.ceil(h / down)), max(1, math.ceil(w / down)))
            else:
                shape = (h * up, w * up)
            data = ds.read(
                layer.band,
                window=win,
                out_shape=shape,
                masked=True,
                resampling=Resampling.nearest,
            )
            transform = ds.window_transform(win) @ Affine.scale(w / shape[1], h / shape[0])
        arr = np.asarray(data.data, dtype="float64").ravel()
        valid = ~np.ma.getmaskarray(data).ravel() & np.isfinite(arr)
        if rcrs.is_geographic:  # a pixel's area shrinks with cos(latitude)
            lat = transform.f + (np.arange(shape[0]) + 0.5) * transform.e
            weights = np.repeat(np.cos(np.radians(lat)), shape[1])
        else:
            weights = np.ones(arr.size)
        key = (rcrs.to_wkt(), tuple(transform), shape)
        if key not in self._pairs:
            self._pairs[key] = self._match(rcrs, same, transform, shape, idx)
        return arr, valid, weights, self._pairs[key]

    def _match(self, rcrs, same: bool, transform, shape, idx) -> tuple[np.ndarray, np.ndarray]:
        """(pixel, polygon) positions where the pixel's centre lies in a measured polygon."""
        cols = np.arange(shape[1]) + 0.5
        rows = np.arange(shape[0]) + 0.5
        x = np.tile(transform.c + cols * transform.a, shape[0])
        y = np.repeat(transform.f + rows * transform.e, shape[1])
        if not same:
            x, y = Transformer.from_crs(rcrs, self.crs, always_xy=True).transform(x, y)
            x, y = np.asarray(x), np.asarray(y)
        pairs = []
        if self.cells is not None:
            is_cell = np.isfinite(self.cells[0][idx])
            pairs.append(self._match_cells(x, y, idx[is_cell]))
            idx = idx[~is_cell]
        if len(idx):
            tree = shapely.STRtree(self.polys[idx])
            b = shapely.total_bounds(self.polys[idx])
            near = np.flatnonzero((x >= b[0]) & (x <= b[2]) & (y >= b[1]) & (y <= b[3]))
            pi, pj = tree.query(shapely.points(x[near], y[near]), predicate="within")
            pairs.append((near[pi], idx[pj]))
        return np.concatenate([p for p, _ in pairs]), np.concatenate([c for _, c in pairs])

    def _match_cells(
        self, x: np.ndarray, y: np.ndarray, idx: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_match` for grid cells, by ``floor(coordinate / cell)``."""
        assert self.cells is not None
        crow, ccol, size = self.cells
        if not len(idx):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        row, col = crow[idx].astype(np.int64), ccol[idx].astype(np.int64)
        r0, c0 = int(row.min()), int(col.min())
        lookup = np.full((int(row.max()) - r0 + 1, int(col.max()) - c0 + 1), -1, np.int64)
        lookup[row - r0, col - c0] = idx
        with np.errstate(invalid="ignore"):
            pr = np.floor(y / size) - r0
            pc = np.floor(x / size) - c0
        inside = (
            np.isfinite(pr)
            & np.isfinite(pc)
            & (pr >= 0)
            & (pr < lookup.shape[0])
            & (pc >= 0)
            & (pc < lookup.shape[1])
        )
        pix = np.flatnonzero(inside)
        cand = lookup[pr[pix].astype(np.int64), pc[pix].astype(np.int64)]
        pix, cand = pix[cand >= 0], cand[cand >= 0]
        # whole cells hold every centre in them; clipped or cut ones are tested
        whole = shapely.area(self.polys[cand]) >= size * size * (1 - 1e-12)
        test = ~whole
        if test.any():
            g = self.polys[cand[test]]
            shapely.prepare(g)
            ok = shapely.contains_xy(g, x[pix[test]], y[pix[test]])
            keep = whole.copy()
            keep[np.flatnonzero(test)[ok]] = True
            pix, cand = pix[keep], cand[keep]
        return pix, cand

    def _sums(self, layer: RasterLayer, values) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.polys)
        got = self._read(layer)
        if got is None:
            return np.zeros(n), np.zeros(n)
        arr, valid, weights, (pix, cand) = got
        ok = valid[pix]
        pix, cand = pix[ok], cand[ok]
        w = weights[pix]
        num = np.bincount(cand, weights=w * values(arr[pix]), minlength=n)
        den = np.bincount(cand, weights=w, minlength=n)
        return num, den

    def mean(self, layer: RasterLayer) -> np.ndarray:
        """Area-weighted mean of the raster over each polygon (NaN: no pixel centre inside)."""
        num, den = self._sums(layer, lambda v: v)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / den, np.nan)

    def share(self, layer: RasterLayer, classes: list[int]) -> np.ndarray:
        """Share of each polygon's pixels in ``classes`` [fraction] (NaN: no pixel inside)."""
        num, den = self._sums(layer, lambda v: np.isin(v, classes).astype(float))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / den, np.nan)


def _covering_window(win: rasterio.windows.Window, tol: float = 1e-6) -> rasterio.windows.Window:
    """The whole-pixel window holding every pixel ``win`` touches.

    The start is rounded down and the *end* (offset + length) up. Rounding the offset down
    and the length up separately (``round_offsets("floor").round_lengths("ceil")``) loses
    the last row or column whenever the offset has a fraction, and with it the pixels of
    the southern- and easternmost candidates.

    Parameters
    ----------
    win
        A fractional window [pixels].
    tol
        Fractions within this of a whole pixel count as whole [pixels] (rounding noise of
        bounds that lie on pixel edges).

    Returns
    -------
    rasterio.windows.Window
    """
    c0 = math.floor(win.col_off + tol)
    r0 = math.floor(win.row_off + tol)
    c1 = math.ceil(win.col_off + win.width - tol)
    r1 = math.ceil(win.row_off + win.height - tol)
    return rasterio.windows.Window(c0, r0, max(c1 - c0, 0), max(r1 - r0, 0))


def _zonal_or_sample(zonal: _Zonal, layer: RasterLayer, xy: np.ndarray, crs: CRS) -> np.ndarray:
    """Zonal mean where a polygon holds pixels, else the value at the representative point."""
    v = zonal.mean(layer)
    need = np.isnan(v)
    if need.any():
        v[need] = layer.sample(xy[need, 0], xy[need, 1], crs)
    return v


# --------------------------------------------------------------------------- attributes


def _nearest_bus(
    scenario: Scenario, grid: Grid, xy: np.ndarray, unit_m: float
) -> tuple[np.ndarray, np.ndarray]:
    buses = grid.buses
    kv = buses["voltage_kv"].astype(float).to_numpy()
    isolated = (
        buses["bus_type"].to_numpy() == 4 if "bus_type" in buses else np.zeros(len(buses), bool)
    )
    min_kv = scenario.candidates.min_bus_voltage_kv
    ok = (kv >= min_kv) & ~isolated
    if not ok.any():
        top = np.nanmax(kv[~isolated]) if (~isolated).any() else float("nan")
        raise InputError(
            Problem(
                f"no bus can take a campus: candidates.min_bus_voltage_kv is {min_kv:g} kV and "
                f"the highest voltage among the {int((~isolated).sum())} connected buses is "
                f"{top:g} kV; lower min_bus_voltage_kv",
                field="candidates.min_bus_voltage_kv",
            )
        )
    g = buses.geometry.to_numpy()[ok]
    tree = cKDTree(np.column_stack([shapely.get_x(g), shapely.get_y(g)]))
    d, i = tree.query(xy)
    ids = np.asarray([str(b) for b in buses.index[ok]], dtype=object)
    return ids[i], d * unit_m / 1000.0


def _zones(zones: gpd.GeoDataFrame | None, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zone holding each point: designated before preferred, then the layer's order."""
    n = len(points)
    zid = np.full(n, "", dtype=object)
    zkind = np.full(n, "", dtype=object)
    if zones is None or not len(zones):
        return zid, zkind
    g = zones.geometry.to_numpy()
    kinds = zones["kind"].astype(str).to_numpy() if "kind" in zones else np.full(len(g), "")
    pi, zj = shapely.STRtree(g).query(points, predicate="within")
    if not len(pi):
        return zid, zkind
    rank = np.where(kinds[zj] == "designated", 0, 1)
    order = np.lexsort((zj, rank, pi))
    pi, zj = pi[order], zj[order]
    first = np.unique(pi, return_index=True)[1]
    ids = np.asarray([str(z) for z in zones.index], dtype=object)
    zid[pi[first]] = ids[zj[first]]
    zkind[pi[first]] = kinds[zj[first]]
    return zid, zkind


def _containing(layer: gpd.GeoDataFrame | None, points: np.ndarray) -> np.ndarray:
    """ID of the first polygon of ``layer`` holding each point ("" when none)."""
    out = np.full(len(points), "", dtype=object)
    if layer is None or not len(layer):
        return out
    pi, rj = shapely.STRtree(layer.geometry.to_numpy()).query(points, predicate="within")
    order = np.lexsort((rj, pi))
    pi, rj = pi[order], rj[order]
    first = np.unique(pi, return_index=True)[1]
    ids = np.asarray([str(r) for r in layer.index], dtype=object)
    out[pi[first]] = ids[rj[first]]
    return out


def _place_names(
    places: gpd.GeoDataFrame | None, xy: np.ndarray, ids: pd.Index, unit_m: float
) -> np.ndarray:
    """``near <place>`` for cells within :data:`PLACE_NAME_KM` of a place, else the cell ID."""
    names = np.asarray(ids, dtype=object).copy()
    if places is None or not len(places) or "name" not in places:
        return names
    g = places.geometry.to_numpy()
    d, i = cKDTree(np.column_stack([shapely.get_x(g), shapely.get_y(g)])).query(xy)
    near = d * unit_m / 1000.0 <= PLACE_NAME_KM
    pn = places["name"].astype(str).to_numpy()
    names[near] = np.char.add("near ", pn[i[near]].astype(str)).astype(object)
    return names


# --------------------------------------------------------------------------- screening


def _screen(scenario: Scenario, layers: Layers, c: pd.DataFrame) -> list[tuple[str, int]]:
    """Apply :data:`RULES` in order; set ``screened_out``; return each rule's count."""
    r = scenario.candidates
    camp = scenario.campus
    is_cell = (c["kind"] == "cell").to_numpy()
    area = c["area_ha"].to_numpy()
    masks: dict[str, np.ndarray] = {
        "outside_region": c["outside"].to_numpy(dtype=bool),
        "excluded_land": c["excluded"].to_numpy(dtype=bool),
        "min_allowed_share": is_cell
        & ((c["allowed_share"].to_numpy() < r.min_allowed_share - _EPS) | (area <= 0)),
        "min_area_ha": area < r.min_area_ha - _EPS,
        "no_climate_data": (
            c[list(CLIMATE_FIELDS)].isna().any(axis=1).to_numpy()
            if layers.climate
            else np.zeros(len(c), bool)
        ),
        "max_bus_distance_km": (
            c["bus_distance_km"].to_numpy() > r.max_bus_distance_km + _EPS
            if r.max_bus_distance_km is not None
            else np.zeros(len(c), bool)
        ),
        "max_land_cost_usd_per_ha": (
            c["land_cost_usd_per_ha"].to_numpy() > r.max_land_cost_usd_per_ha
            if r.max_land_cost_usd_per_ha is not None
            else np.zeros(len(c), bool)
        ),
        "too_small_for_min_campus": (
            (c["max_it_mw"].to_numpy() < camp.min_campus_mw - _EPS)
            | (c["max_it_mw"].to_numpy() < camp.module_mw - _EPS)
        ),
        "outside_designated_zones": (
            (c["zone_kind"] != "designated").to_numpy()
            if scenario.policy.zones.mode == "require" and scenario.policy.zones.min_share >= 1
            else np.zeros(len(c), bool)
        ),
    }
    out = c["screened_out"].to_numpy(dtype=object)
    counts = []
    for rule in RULES:
        hit = masks[rule] & (out == "")
        out[hit] = rule
        counts.append((rule, int(hit.sum())))
    c["screened_out"] = out
    c["screen_reason"] = screen_reasons(scenario, c)
    return counts


def _fmt(v: float) -> str:
    """A figure for people: thousands separated, at most one decimal (``58``, ``12.5``)."""
    return f"{v:,.0f}" if abs(v - round(v)) < 0.05 or abs(v) >= 100 else f"{v:,.1f}"


def screen_reasons(scenario: Scenario, c: pd.DataFrame) -> np.ndarray:
    """Each candidate's screening rule said in words with its figures ("" when kept).

    Parameters
    ----------
    scenario
        The scenario whose ``candidates`` and ``campus`` limits were applied.
    c
        Candidates with ``screened_out`` (a rule of :data:`RULES` or "") and the figures
        the rules read: ``bus_distance_km`` [km], ``bus_id``, ``allowed_share``
        [fraction], ``area_ha`` [ha], ``land_cost_usd_per_ha`` [USD/ha], ``max_it_mw``
        [MW IT].

    Returns
    -------
    numpy.ndarray
        Object array of str, e.g. "58 km from the nearest substation (bus 12), more than
        the 50 km allowed (candidates.max_bus_distance_km)".
    """
    r, camp = scenario.candidates, scenario.campus
    out = np.full(len(c), "", dtype=object)
    rules = c["screened_out"].to_numpy(dtype=object)
    for i in np.flatnonzero(rules != ""):
        rule = str(rules[i])
        row = c.iloc[i]
        key = RULE_KEYS.get(rule, rule)
        if rule == "outside_region":
            text = "outside the region's boundary (layers.region)"
        elif rule == "excluded_land":
            text = (
                "on excluded land (a polygon of layers.exclusions or a class of "
                "layers.land_class.exclude_classes)"
            )
        elif rule == "min_allowed_share":
            text = (
                f"only {_fmt(100 * float(row['allowed_share']))}% of the cell is allowed land, "
                f"less than the {_fmt(100 * r.min_allowed_share)}% required ({key})"
            )
        elif rule == "min_area_ha":
            text = (
                f"{_fmt(float(row['area_ha']))} ha of allowed land, less than the "
                f"{_fmt(r.min_area_ha)} ha required ({key})"
            )
        elif rule == "no_climate_data":
            text = "no climate data at this place (layers.climate has no value here)"
        elif rule == "max_bus_distance_km":
            bus = f" (bus {row['bus_id']})" if str(row["bus_id"]) else ""
            text = (
                f"{_fmt(float(row['bus_distance_km']))} km from the nearest substation{bus}, "
                f"more than the {_fmt(float(r.max_bus_distance_km or 0))} km allowed ({key})"
            )
        elif rule == "max_land_cost_usd_per_ha":
            text = (
                f"land at {_fmt(float(row['land_cost_usd_per_ha']))} USD/ha, more than the "
                f"{_fmt(float(r.max_land_cost_usd_per_ha or 0))} USD/ha allowed ({key})"
            )
        elif rule == "too_small_for_min_campus":
            mw = float(row["max_it_mw"])
            if mw < camp.min_campus_mw - _EPS:
                text = (
                    f"room for {_fmt(mw)} MW IT, less than the smallest campus of "
                    f"{_fmt(camp.min_campus_mw)} MW ({key})"
                )
            else:
                text = (
                    f"room for {_fmt(mw)} MW IT, less than one {_fmt(camp.module_mw)} MW "
                    "module (campus.module_mw)"
                )
        elif rule == "outside_designated_zones":
            text = (
                "outside every designated policy zone, and policy.zones requires all "
                "campus MW inside them (mode require, min_share 1)"
            )
        else:  # pragma: no cover - every rule of RULES is said above
            text = rule
        out[i] = text
    return out


# --------------------------------------------------------------------------- links


def _water_links(
    sources: gpd.GeoDataFrame | None,
    site_ids: np.ndarray,
    xy: np.ndarray,
    max_links: int,
    unit_m: float,
) -> pd.DataFrame:
    """Sources within their ``max_pipeline_km`` of each site, the nearest ``max_links`` kept."""
    cols = ["site_id", "source_id", "distance_km"]
    if sources is None or not len(sources) or max_links <= 0 or not len(xy):
        return _frame(cols)
    g = sources.geometry.to_numpy()
    sxy = np.column_stack([shapely.get_x(g), shapely.get_y(g)])
    reach = sources["max_pipeline_km"].astype(float).to_numpy()
    dm = cKDTree(xy).sparse_distance_matrix(
        cKDTree(sxy), float(reach.max()) * 1000.0 / unit_m + 1e-6, output_type="ndarray"
    )
    i, j, d = dm["i"], dm["j"], dm["v"] * unit_m / 1000.0
    ok = d <= reach[j] + _EPS
    i, j, d = i[ok], j[ok], d[ok]
    src_ids = np.asarray([str(s) for s in sources.index], dtype=object)
    df = pd.DataFrame({"site_id": site_ids[i], "source_id": src_ids[j], "distance_km": d})
    df = df.sort_values(["site_id", "distance_km", "source_id"], kind="mergesort")
    df = df[df.groupby("site_id", sort=False).cumcount() < max_links]
    return df.reset_index(drop=True)


def _frame(cols: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype=float if c.endswith(("_km", "_year")) else object) for c in cols}
    )


def reach_km(demand: DemandPolicy) -> float:
    """Straight-line reach of a latency limit [km].

    Parameters
    ----------
    demand
        :class:`siting.config.scenario.DemandPolicy`.

    Returns
    -------
    float
        ``max_latency_ms * fibre_km_per_ms / 2 / route_factor``: the round trip halved, the
        fibre route longer than the straight line by ``route_factor``.
    """
    return demand.max_latency_ms * demand.fibre_km_per_ms / 2.0 / demand.route_factor


def _demand_links(
    scenario: Scenario,
    layers: Layers,
    site_ids: np.ndarray,
    xy: np.ndarray,
    all_ids: set[str],
    unit_m: float,
    notes: list[str],
) -> pd.DataFrame:
    """Kept sites within latency reach of each demand region's representative point."""
    cols = ["region_id", "site_id", "distance_km", "cost_usd_per_mw_year"]
    pol = scenario.policy.demand
    regions = layers.demand_regions
    if pol is None or regions is None or not len(regions) or not len(xy):
        return _frame(cols)
    reach = reach_km(pol)
    rp = shapely.point_on_surface(regions.geometry.to_numpy())
    rxy = np.column_stack([shapely.get_x(rp), shapely.get_y(rp)])
    dm = cKDTree(rxy).sparse_distance_matrix(
        cKDTree(xy), reach * 1000.0 / unit_m + 1e-6, output_type="ndarray"
    )
    i, j, d = dm["i"], dm["j"], dm["v"] * unit_m / 1000.0
    ok = d <= reach + _EPS
    i, j, d = i[ok], j[ok], d[ok]
    region_ids = np.asarray([str(r) for r in regions.index], dtype=object)
    df = pd.DataFrame(
        {
            "region_id": region_ids[i],
            "site_id": site_ids[j],
            "distance_km": d,
            "cost_usd_per_mw_year": pol.cost_usd_per_mw_km * d,
        }
    )
    notes.append(
        f"demand reach {reach:g} km = {pol.max_latency_ms:g} ms x {pol.fibre_km_per_ms:g} km/ms "
        f"/ 2 / {pol.route_factor:g}"
    )
    if pol.costs_csv is not None:
        table = read_demand_costs(Path(pol.costs_csv), set(region_ids), all_ids)
        key = df["region_id"] + "\x00" + df["site_id"]
        given = pd.Series(
            table["cost_usd_per_mw"].to_numpy(),
            index=table["region_id"] + "\x00" + table["site_id"],
        )
        hit = key.isin(given.index).to_numpy()
        df.loc[hit, "cost_usd_per_mw_year"] = given.loc[key[hit]].to_numpy()
        unused = len(table) - int(hit.sum())
        notes.append(
            f"demand costs: {int(hit.sum())} pairs from {pol.costs_csv}"
            + (f"; {unused} listed pairs are out of reach or screened out" if unused else "")
        )
    df = df.sort_values(["region_id", "distance_km", "site_id"], kind="mergesort")
    return df.reset_index(drop=True)


def read_demand_costs(path: Path, region_ids: set[str], site_ids: set[str]) -> pd.DataFrame:
    """Read and validate ``policy.demand.costs_csv``.

    Parameters
    ----------
    path
        CSV with columns ``region_id, site_id, cost_usd_per_mw`` [USD/(MW year)].
    region_ids
        Known demand-region IDs.
    site_ids
        Every candidate's ID (screened out or not).

    Returns
    -------
    pandas.DataFrame
        ``region_id, site_id`` (str) and ``cost_usd_per_mw`` (float).

    Raises
    ------
    siting.core.errors.InputError
        Naming the file, the row (1-based data row; the header is line 1) and the field of
        every unknown ID, missing, non-numeric, negative or infinite cost and repeated pair.
    """
    report = ProblemReport()
    layer = "policy.demand.costs_csv"
    need = ["region_id", "site_id", "cost_usd_per_mw"]
    raw = read_text_csv(path, layer, need)
    reg = raw["region_id"].str.strip()
    site = raw["site_id"].str.strip()
    text = raw["cost_usd_per_mw"].str.strip()
    cost = pd.to_numeric(text, errors="coerce")
    ids = (reg + "/" + site).tolist()

    def add(mask, fld: str, message) -> None:
        report.add_rows(
            np.flatnonzero(np.asarray(mask, dtype=bool)),
            lambda i: f"(line {i + 2}) " + message(i),
            file=path,
            layer=layer,
            field=fld,
            ids=ids,
        )

    known_r = sorted(region_ids)
    add(
        ~reg.isin(region_ids),
        "region_id",
        lambda i: (
            f"unknown demand region {reg.iloc[i]!r}; expected one of the demand_regions "
            f"layer's IDs ({', '.join(known_r[:5])}{' ...' if len(known_r) > 5 else ''})"
        ),
    )
    add(
        ~site.isin(site_ids),
        "site_id",
        lambda i: f"unknown site {site.iloc[i]!r}; expected a candidate site_id",
    )
    add(
        cost.isna() | ~np.isfinite(cost.fillna(0.0)),
        "cost_usd_per_mw",
        lambda i: f"expected a finite number >= 0 [USD/(MW year)], got {text.iloc[i]!r}",
    )
    add(
        cost < 0,
        "cost_usd_per_mw",
        lambda i: f"expected a cost >= 0 [USD/(MW year)], got {text.iloc[i]}",
    )
    dup = pd.Series(ids).duplicated(keep="first")
    add(dup, "site_id", lambda i: f"pair {ids[i]} is listed twice; expected each pair once")
    report.raise_if_any(what="demand costs")
    return pd.DataFrame({"region_id": reg, "site_id": site, "cost_usd_per_mw": cost.astype(float)})


def _heat_links(
    sinks: gpd.GeoDataFrame | None, site_ids: np.ndarray, points: np.ndarray, unit_m: float
) -> pd.DataFrame:
    """Kept sites within each heat sink's ``max_km`` (distance to the sink's geometry)."""
    cols = ["sink_id", "site_id", "distance_km"]
    if sinks is None or not len(sinks) or not len(points):
        return _frame(cols)
    g = sinks.geometry.to_numpy()
    max_km = sinks["max_km"].astype(float).to_numpy()
    tree = shapely.STRtree(g)
    pi, sj = tree.query(points, predicate="dwithin", distance=float(max_km.max()) * 1000.0 / unit_m)
    d = shapely.distance(g[sj], points[pi]) * unit_m / 1000.0
    ok = d <= max_km[sj] + _EPS
    sink_ids = np.asarray([str(s) for s in sinks.index], dtype=object)
    df = pd.DataFrame(
        {"sink_id": sink_ids[sj[ok]], "site_id": site_ids[pi[ok]], "distance_km": d[ok]}
    )
    df = df.sort_values(["sink_id", "distance_km", "site_id"], kind="mergesort")
    return df.reset_index(drop=True)
