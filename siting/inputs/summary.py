"""The summary ``siting validate`` prints: counts, CRS, extent, MW, m3/day, excluded land."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pyproj import Transformer

from siting.inputs import Grid, Layers
from siting.inputs.land import excluded_share

if TYPE_CHECKING:
    from siting.config.scenario import Scenario


def summarise(layers: Layers, scenario: Scenario | None = None) -> dict[str, Any]:
    """A JSON-ready summary of validated layers.

    Parameters
    ----------
    layers
        What :func:`siting.inputs.load_layers` returned.
    scenario
        The scenario, when there is one (``None`` for a bare grid case).

    Returns
    -------
    dict
        Keys: ``scenario``, ``crs``, ``extent``, ``grid`` (``None`` without a grid layer: no
        network constraints; its ``upgrade_options`` counts branches and substations with an
        upgrade option, its ``attachments`` the tables attached under ``layers.grid``),
        ``water``, ``land``, ``rasters``, ``inputs``, ``notes``. Units
        are in the key names.
    """
    out: dict[str, Any] = {}
    if scenario is not None:
        out["scenario"] = {
            "name": scenario.name,
            "title": scenario.title,
            "file": str(scenario.source_file) if scenario.source_file else None,
            "years": scenario.years,
            "digest_sha256": scenario.digest(),
        }
    out["crs"] = layers.crs.to_string() if layers.crs is not None else None
    if layers.region is not None and layers.crs is not None:
        b = layers.region.bounds
        t = Transformer.from_crs(layers.crs, "EPSG:4326", always_xy=True)
        ll = t.transform_bounds(b[0], b[1], b[2], b[3], densify_pts=21)
        out["extent"] = {
            "bounds": [round(v, 1) for v in b],
            "bounds_lonlat": [round(v, 4) for v in ll],
            "width_km": round((b[2] - b[0]) / 1000.0, 1),
            "height_km": round((b[3] - b[1]) / 1000.0, 1),
            "area_km2": round(layers.region.area / 1e6, 1),
        }
    else:
        out["extent"] = None
    out["grid"] = _grid_summary(layers.grid, scenario) if layers.grid is not None else None

    w = layers.water_sources
    if w is not None:
        if scenario is not None:
            from siting.inputs.vector import per_year_table

            cap = per_year_table(w, "capacity_m3_per_day", scenario.years)
            first = cap[scenario.years[0]]
        else:
            first = w["capacity_m3_per_day"]
        by_kind = first.groupby(w["kind"]).sum()
        out["water"] = {
            "sources": int(len(w)),
            "sources_by_kind": {str(k): int(v) for k, v in w["kind"].value_counts().items()},
            "capacity_m3_per_day_by_kind": {str(k): _round(v) for k, v in by_kind.items()},
            "reclaimed_m3_per_day": _round(by_kind.get("reclaimed", 0.0)),
        }
    land: dict[str, Any] = {}
    if layers.exclusions is not None:
        land["exclusions"] = int(len(layers.exclusions))
        land["exclusions_by_kind"] = {
            str(k): int(v) for k, v in layers.exclusions["kind"].value_counts().items()
        }
    share = excluded_share(layers)
    if share is not None:
        land["excluded_share"] = round(share.total, 4)
        land["excluded_share_polygons"] = round(share.polygons, 4)
        if share.classes is not None:
            land["excluded_share_classes"] = round(share.classes, 4)
            land["exclude_classes"] = layers.exclude_classes
    for name in ("zones", "regions", "places"):
        gdf = getattr(layers, name)
        if gdf is not None:
            land[name] = int(len(gdf))
    if land:
        out["land"] = land
    rasters = [
        r for r in (layers.land_class, layers.land_cost, *layers.climate.values()) if r is not None
    ]
    out["rasters"] = [
        {
            "name": r.name,
            "path": str(r.path),
            "crs": r.crs.to_string(),
            "size_px": [r.width, r.height],
            "res": [r.res[0], r.res[1]],
            "nodata": r.nodata,
            "valid_share": round(r.valid_fraction, 4),
            "min": _round(r.min, 3),
            "mean": _round(r.mean, 3),
            "max": _round(r.max, 3),
        }
        for r in rasters
    ]
    out["inputs"] = [f.as_dict() for f in layers.inputs]
    out["notes"] = list(layers.notes)
    return out


def _grid_summary(g: Grid, scenario=None) -> dict[str, Any]:
    """Counts, voltages, generation [MW] and load [MW] of a grid."""
    br = g.branches
    gen = g.generators
    in_br = br["in_service"].astype(bool)
    in_gen = gen["in_service"].astype(bool)
    kv = g.buses["voltage_kv"]
    grid: dict[str, Any] = {
        "source": g.source,
        "format": g.source_format,
        "base_mva": g.base_mva,
        "buses": int(len(g.buses)),
        "buses_by_voltage_kv": {
            f"{k:g}": int(v) for k, v in kv.dropna().value_counts().sort_index().items()
        },
        "reference_buses": [str(i) for i in g.buses.index[g.buses["bus_type"] == 3]],
        "branches": int(len(br)),
        "branches_in_service": int(in_br.sum()),
        "branch_length_km": _round(br["length_km"].sum())
        if br["length_km"].notna().any()
        else None,
        "generators": int(len(gen)),
        "generators_in_service": int(in_gen.sum()),
        "generation_mw": _round(g.total_generation_mw()),
        "load_mw": _round(g.total_load_mw()),
        "has_coordinates": g.has_coordinates,
    }
    fuels = gen.loc[in_gen].groupby(gen["fuel"].replace("", "unspecified"))["p_max_mw"].sum()
    if len(fuels) > 1 or (len(fuels) == 1 and fuels.index[0] != "unspecified"):
        grid["generation_mw_by_fuel"] = {
            str(k): _round(v) for k, v in fuels.sort_values(ascending=False).items()
        }
    if scenario is not None:
        loads = g.load_mw(scenario.years).sum() + g.buses["shunt_mw"].sum()
        grid["load_mw_by_year"] = {int(y): _round(v) for y, v in loads.items()}
    options = {
        "branches": _n_options(br, "upgrade_", br["rating_mw"]),
        "substations": _n_options(
            g.buses, "substation_upgrade_", g.buses["substation_headroom_mw"]
        ),
    }
    if any(options.values()):
        grid["upgrade_options"] = options
    grid["attachments"] = {f"layers.grid.{k}": v for k, v in g.attachments.items()}
    return grid


def _n_options(table, prefix: str, limit) -> int:
    """Upgrade options of a grid table: an added MW > 0 and a cost, on a finite limit."""
    added = table[f"{prefix}added_mw"].astype(float)
    cost = table[f"{prefix}cost_usd"].astype(float)
    return int(((added > 0) & cost.notna() & np.isfinite(limit.astype(float))).sum())


def _round(v: float, nd: int = 1) -> float:
    v = float(v)
    return v if not np.isfinite(v) else round(v, nd)
