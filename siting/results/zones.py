"""Growth zones: the chosen sites grouped where they share land, grid and water.

:func:`growth_zones` groups a plan's chosen sites by single linkage: two sites are in one
zone when they are within ``distance_km`` of each other, or connect to the same bus, or
draw on the same water source; and so on transitively (the connected components of that
graph; :func:`scipy.sparse.csgraph.connected_components`, distance pairs from a
:class:`scipy.spatial.cKDTree`, never an all-pairs loop).

Each zone is drawn as one (multi)polygon: a disc around every site (radius: the larger of
``corridor_buffer_km`` and the radius of a circle of the site's ``area_ha``), the
corridors from each site to its bus and to the water sources it draws on, and the links
between sites joined by distance (the minimum spanning tree of those pairs), each corridor
``corridor_buffer_km`` wide on either side; unioned, then smoothed by a closing (buffered
out by ``corridor_buffer_km``, then in by the same) and made valid. A zone whose sites
are joined only through a bus without coordinates can come out as a MultiPolygon.

This is a pure function of the plan's tables (no model, no solver): it is used by
:func:`siting.results.plan.extract` and can be run again on a written plan.

The zones here are *output* growth zones (``zone_id`` ``GZ01``, ``GZ02`` ...); they are not
the designated zones of the input ``zones`` layer, whose ID a site carries in its own
``zone_id`` column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.spatial import cKDTree

from siting.core.cells import as_float, as_int

#: Places farther than this from every site of a zone do not name it [km].
PLACE_NAME_KM = 50.0

#: Text columns of the zones layer (besides the per-year MW columns).
TEXT_COLUMNS = (
    "zone_id",
    "name",
    "site_ids",
    "cooling_mix",
    "water_sources",
    "bus_ids",
    "upgrades",
)


def zone_columns(years: Sequence[int]) -> list[str]:
    """The columns of the zones layer, in order, for the planning ``years`` (no geometry).

    Parameters
    ----------
    years
        Planning years (calendar years).

    Returns
    -------
    list of str
        ``zone_id, name, n_sites, site_ids, it_mw_<year>..., it_mw_final, first_year,
        cooling_mix, water_sources, water_m3_per_day_final, bus_ids, upgrades,
        upgrades_cost_usd, capex_usd``.
    """
    return [
        "zone_id",
        "name",
        "n_sites",
        "site_ids",
        *[f"it_mw_{int(y)}" for y in years],
        "it_mw_final",
        "first_year",
        "cooling_mix",
        "water_sources",
        "water_m3_per_day_final",
        "bus_ids",
        "upgrades",
        "upgrades_cost_usd",
        "capex_usd",
    ]


def empty_zones(years: Sequence[int], crs: CRS | str | int | None) -> gpd.GeoDataFrame:
    """A zones layer with no rows but every column (typed), in ``crs``.

    Parameters
    ----------
    years
        Planning years (for the ``it_mw_<year>`` columns).
    crs
        The plan's CRS (a pyproj CRS, or what ``pyproj.CRS.from_user_input`` reads).

    Returns
    -------
    geopandas.GeoDataFrame
    """
    data: dict[str, pd.Series] = {}
    for c in zone_columns(years):
        if c in TEXT_COLUMNS:
            dtype: Any = object
        elif c in ("n_sites", "first_year"):
            dtype = "int64"
        else:
            dtype = "float64"
        data[c] = pd.Series([], dtype=dtype)
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def growth_zones(
    sites: gpd.GeoDataFrame,
    schedule: pd.DataFrame,
    water_links: pd.DataFrame | None,
    buses: gpd.GeoDataFrame | None,
    upgrades: pd.DataFrame | None,
    *,
    distance_km: float,
    corridor_buffer_km: float,
    places: gpd.GeoDataFrame | None = None,
    crs: CRS | str | int,
    years: Sequence[int] | None = None,
    branches: pd.DataFrame | None = None,
    capex_usd_per_mw: float | Mapping[str, float] = 0.0,
    place_name_km: float = PLACE_NAME_KM,
) -> gpd.GeoDataFrame:
    """Group the chosen sites into growth zones (see the module docstring).

    Parameters
    ----------
    sites
        Chosen sites, index ``site_id``, in ``crs``. Location: columns ``x, y`` when
        present, else the geometry's representative point. Optional columns: ``bus_id``
        ("" = no bus), ``area_ha`` (site land [ha], widens the site's disc),
        ``fixed_cost_usd`` (one-off opening cost [USD]), ``tie_line_usd`` (the line to the
        bus [USD]).
    schedule
        ``site_id, year, it_mw, cooling, water_m3_per_day`` (:attr:`siting.results.plan.Plan.
        schedule`) [MW IT, m3/day].
    water_links
        ``site_id, source_id, year, m3_per_day`` and pipeline geometries (lines from the
        site to the source) in ``crs``; rows with no flow are ignored. An optional
        ``pipeline_usd`` column [USD] is counted once per (site, source) in ``capex_usd``.
        ``None`` or empty: no water.
    buses
        Grid buses, index ``bus_id`` (points in ``crs``), for the corridors to them;
        ``None`` when the grid has no coordinates (no bus corridors are drawn; sharing a
        bus still joins sites).
    upgrades
        Grid upgrades taken (``upgrades.csv``: ``asset, asset_id, year, added_mw,
        cost_usd``); ``None`` or empty: none.
    distance_km
        Sites this close (or closer) join one zone [km], > 0.
    corridor_buffer_km
        Half-width of the corridors and smallest site radius; also the smoothing distance
        [km], > 0.
    places
        Towns and cities (points in ``crs``, column ``name``; optional ``population``);
        names zones.
    crs
        The plan's (projected) CRS, a pyproj CRS or what ``pyproj.CRS.from_user_input`` reads
        (``"EPSG:3857"``); every input geometry is in it.
    years
        Planning years for the ``it_mw_<year>`` columns; default: the schedule's years.
    branches
        ``branch_id, from_bus, to_bus`` (index or column ``branch_id``), to tell which
        branch upgrades touch a zone's buses; without it branch upgrades are attributed to
        no zone.
    capex_usd_per_mw
        Build cost per MW of final IT capacity [USD/MW]: one number, or per site_id
        (e.g. campus capex + land + connection per MW + the site's cooling capex).
    place_name_km
        A place names a zone only within this distance of one of its sites [km].

    Returns
    -------
    geopandas.GeoDataFrame
        One row per zone, in ``crs``, columns :func:`zone_columns` and ``geometry``:

        - ``zone_id``: ``GZ01``, ``GZ02`` ... ordered by ``it_mw_final`` descending, then by
          the zone's smallest site_id;
        - ``name``: the place nearest to any of the zone's sites, when within
          ``place_name_km`` (ties: the larger population, then the name); the name is kept
          verbatim (no escaping). When two zones would take the same name the later ones
          get `` (2)``, `` (3)`` ... Without a place in reach: ``Zone <n> (near bus <b>)``
          with ``<b>`` the bus of the zone's largest site (``Zone <n>`` with no bus);
        - ``n_sites``, ``site_ids`` (sorted, joined by ``", "``);
        - ``it_mw_<year>`` IT capacity in service each planning year, ``it_mw_final`` in
          the last [MW IT];
        - ``first_year``: first year with IT capacity in service;
        - ``cooling_mix``: final MW per cooling technology, largest first, e.g.
          ``"evaporative 1,200 MW; air 300 MW"``;
        - ``water_sources`` (source IDs drawn on in any year, joined by ``", "``),
          ``water_m3_per_day_final`` (the zone's water in the last year [m3/day]);
        - ``bus_ids``: the buses its sites connect to (joined by ``", "``);
        - ``upgrades``: the upgrades taken on a branch touching a zone bus or at a zone
          bus's substation, ``"<asset> <asset_id> +<added_mw> MW (<year>)"`` joined by
          ``"; "``; ``upgrades_cost_usd`` their cost [USD, not discounted]. One branch
          upgrade can serve two zones and is then listed (and costed) in both;
        - ``capex_usd``: undiscounted build cost of the zone [USD] = sum over its sites of
          ``it_mw_final x capex_usd_per_mw[site] + fixed_cost_usd + tie_line_usd``, plus
          ``pipeline_usd`` of each (site, source) pipeline it uses; upgrades are not in it
          (see ``upgrades_cost_usd``), nor energy, water or any running cost.
    """
    if distance_km <= 0 or corridor_buffer_km <= 0:
        raise ValueError(
            f"distance_km ({distance_km:g}) and corridor_buffer_km ({corridor_buffer_km:g}) "
            "must be > 0"
        )
    sched = schedule if schedule is not None else pd.DataFrame()
    if years is None:
        years = sorted(int(y) for y in sched["year"].unique()) if len(sched) else []
    years = [int(y) for y in years]
    ids = [str(s) for s in sites.index]
    if not ids:
        return empty_zones(years, crs)
    if not years:
        raise ValueError("growth_zones needs the planning years (no schedule rows given)")

    unit_m = _unit_m(crs)
    km = 1000.0 / unit_m  # CRS units per km
    w = corridor_buffer_km * km
    g = _site_graph(sites, ids, water_links, distance_km * km)
    fig = _site_figures(sites, sched, g, years, capex_usd_per_mw, w, unit_m)
    upg = _upgrades_at_buses(upgrades, branches)
    bus_pt = _bus_points(buses)
    labels = range(int(g.label.max()) + 1)
    rows = [_zone_row(np.flatnonzero(g.label == z), g, fig, years, upg, bus_pt, w) for z in labels]
    return _zones_layer(rows, g.xy, places, place_name_km * km, years, crs)


# --------------------------------------------------------------------------- steps


def _unit_m(crs: CRS | str | int) -> float:
    """The CRS's unit [m] (its first axis's; 1 when it has no axis information)."""
    crs_obj = CRS.from_user_input(crs)
    return float(crs_obj.axis_info[0].unit_conversion_factor) if crs_obj.axis_info else 1.0


@dataclass
class _SiteGraph:
    """The chosen sites and what joins them into zones.

    Attributes
    ----------
    ids
        site_ids as text, in the sites' order; ``pos`` maps each to its position.
    xy
        Site locations (n, 2) [CRS units].
    bus_of
        Each site's bus ("" = none).
    links
        Water link rows with flow (:func:`_used_links`).
    pairs
        Site position pairs within ``distance_km`` (k, 2).
    label
        Each site's zone (connected component) number.
    """

    ids: list[str]
    pos: dict[str, int]
    xy: np.ndarray
    bus_of: np.ndarray
    links: pd.DataFrame
    pairs: np.ndarray
    label: np.ndarray


def _site_graph(
    sites: gpd.GeoDataFrame, ids: list[str], water_links: pd.DataFrame | None, reach: float
) -> _SiteGraph:
    """Join sites within ``reach`` [CRS units] of each other, on one bus or drawing on one
    water source; the zones are the connected components."""
    n = len(ids)
    pos = {s: i for i, s in enumerate(ids)}
    xy = _site_xy(sites)
    pairs = cKDTree(xy).query_pairs(r=reach, output_type="ndarray")
    bus_of = (
        sites["bus_id"].fillna("").astype(str).to_numpy()
        if "bus_id" in sites
        else np.full(n, "", dtype=object)
    )
    links = _used_links(water_links, pos)
    edges = [pairs.reshape(-1, 2)]
    edges.append(_chain(np.arange(n), bus_of))
    if len(links):
        edges.append(
            _chain(links["site_id"].map(pos).to_numpy(), links["source_id"].astype(str).to_numpy())
        )
    e = np.concatenate(edges).astype(int) if edges else np.zeros((0, 2), int)
    graph = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    return _SiteGraph(ids, pos, xy, bus_of, links, pairs, label)


@dataclass
class _SiteFigures:
    """Per site (index site_id): IT per year ``mw`` and in the last year ``mw_final`` [MW],
    ``water_final`` [m3/day], ``cooling``, ``first`` year with IT, ``site_capex`` and
    ``pipe_usd`` [USD], and the disc ``radius`` drawn around it [CRS units]."""

    mw: pd.DataFrame
    mw_final: pd.Series
    water_final: pd.Series
    cooling: pd.Series
    first: pd.Series
    site_capex: pd.Series
    pipe_usd: pd.Series
    radius: np.ndarray


def _site_figures(
    sites: gpd.GeoDataFrame,
    sched: pd.DataFrame,
    g: _SiteGraph,
    years: list[int],
    capex_usd_per_mw: float | Mapping[str, float],
    buffer: float,
    unit_m: float,
) -> _SiteFigures:
    """Each site's figures from the schedule (see :class:`_SiteFigures`); ``buffer`` is the
    smallest disc radius [CRS units], ``unit_m`` the CRS unit [m]."""
    ids = g.ids
    sched = sched[sched["site_id"].astype(str).isin(g.pos)].copy()
    sched["site_id"] = sched["site_id"].astype(str)
    sched["year"] = sched["year"].astype(int)
    mw = (
        sched.pivot_table(index="site_id", columns="year", values="it_mw", aggfunc="sum")
        .reindex(index=ids, columns=years)
        .fillna(0.0)
    )
    mw_final = mw[years[-1]]
    last = sched[sched["year"] == years[-1]]
    water_final = last.groupby("site_id")["water_m3_per_day"].sum().reindex(ids).fillna(0.0)
    cooling = sched.sort_values("year").groupby("site_id")["cooling"].last().reindex(ids).fillna("")
    built = sched[sched["it_mw"] > 0]
    first = built.groupby("site_id")["year"].min().reindex(ids)
    site_capex, pipe_usd = _site_capex(sites, ids, mw_final, capex_usd_per_mw, g.links)
    radius = np.full(len(ids), buffer)
    if "area_ha" in sites:
        area_m2 = pd.to_numeric(sites["area_ha"], errors="coerce").to_numpy(float) * 1e4
        r_area = np.sqrt(np.where(np.isfinite(area_m2), area_m2, 0.0) / np.pi) / unit_m
        radius = np.maximum(radius, r_area)
    return _SiteFigures(mw, mw_final, water_final, cooling, first, site_capex, pipe_usd, radius)


def _site_capex(
    sites: gpd.GeoDataFrame,
    ids: list[str],
    mw_final: pd.Series,
    capex_usd_per_mw: float | Mapping[str, float],
    links: pd.DataFrame,
) -> tuple[pd.Series, pd.Series]:
    """Each site's build cost, final MW x per MW + opening cost + tie line, and the cost of
    the pipelines it uses, once per (site, source) [USD]."""
    per_mw = (
        pd.Series(capex_usd_per_mw, dtype=float).reindex(ids).fillna(0.0)
        if isinstance(capex_usd_per_mw, Mapping)
        else pd.Series(float(capex_usd_per_mw), index=ids)
    )
    one_off = _col(sites, "fixed_cost_usd", ids) + _col(sites, "tie_line_usd", ids)
    site_capex = mw_final * per_mw + one_off
    pipe_usd = pd.Series(0.0, index=ids)
    if len(links) and "pipeline_usd" in links:
        once = links.drop_duplicates(["site_id", "source_id"])
        pipe_usd = once.groupby("site_id")["pipeline_usd"].sum().reindex(ids).fillna(0.0)
    return site_capex, pipe_usd


def _zone_row(
    members: np.ndarray,
    g: _SiteGraph,
    fig: _SiteFigures,
    years: list[int],
    upg: pd.DataFrame,
    bus_pt: Mapping[str, tuple[float, float]],
    w: float,
) -> dict[str, Any]:
    """One zone's row of the layer (``zone_id`` and ``name`` aside), from its ``members``
    (site positions); ``_big_bus`` and ``_members`` are for naming it. ``w``: the corridor
    half-width [CRS units]."""
    zid = sorted(g.ids[i] for i in members)
    zbuses = sorted({g.bus_of[i] for i in members} - {""}, key=_natural)
    links = g.links
    zl = links[links["site_id"].isin(zid)] if len(links) else links
    zsources = sorted(set(zl["source_id"].astype(str)), key=_natural) if len(zl) else []
    zup = upg[upg["_buses"].map(lambda b, zb=set(zbuses): bool(b & zb))] if len(upg) else upg
    row: dict[str, Any] = {
        "site_ids": ", ".join(zid),
        "n_sites": len(zid),
    }
    for y in years:
        row[f"it_mw_{y}"] = float(fig.mw.loc[zid, y].sum())
    row["it_mw_final"] = float(fig.mw_final.loc[zid].sum())
    fy = fig.first.loc[zid].dropna()
    row["first_year"] = int(fy.min()) if len(fy) else int(years[-1])
    row["cooling_mix"] = _cooling_mix(fig, zid)
    row["water_sources"] = ", ".join(zsources)
    row["water_m3_per_day_final"] = float(fig.water_final.loc[zid].sum())
    row["bus_ids"] = ", ".join(zbuses)
    row["upgrades"] = "; ".join(
        f"{r.asset} {r.asset_id} +{_fmt_mw(as_float(r.added_mw))} MW ({as_int(r.year)})"
        for r in zup.itertuples(index=False)
    )
    row["upgrades_cost_usd"] = float(zup["cost_usd"].astype(float).sum()) if len(zup) else 0.0
    row["capex_usd"] = float(fig.site_capex.loc[zid].sum() + fig.pipe_usd.loc[zid].sum())
    big = min(zid, key=lambda s: (-as_float(fig.mw_final.at[s]), s))
    row["_big_bus"] = g.bus_of[g.pos[big]]
    row["_members"] = members
    row["geometry"] = _zone_shape(members, g.xy, fig.radius, g.pairs, g.bus_of, bus_pt, zl, w)
    return row


def _cooling_mix(fig: _SiteFigures, zid: list[str]) -> str:
    """Final MW per cooling technology of the sites ``zid``, largest first
    (``"evaporative 1,200 MW; air 300 MW"``)."""
    mix = (
        pd.Series(fig.mw_final.loc[zid].to_numpy(), index=fig.cooling.loc[zid].to_numpy())
        .groupby(level=0)
        .sum()
    )
    mix = mix[(mix > 0) & (mix.index != "")]
    largest_first = sorted(mix.items(), key=lambda kv: (-kv[1], kv[0]))
    return "; ".join(f"{k} {_fmt_mw(v)} MW" for k, v in largest_first)


def _zones_layer(
    rows: list[dict[str, Any]],
    xy: np.ndarray,
    places: gpd.GeoDataFrame | None,
    reach: float,
    years: list[int],
    crs: CRS | str | int,
) -> gpd.GeoDataFrame:
    """The zones layer: rows ordered by final MW (then smallest site_id), numbered and
    named (places within ``reach`` [CRS units]), columns :func:`zone_columns`."""
    rows.sort(key=lambda r: (-r["it_mw_final"], r["site_ids"].split(", ")[0]))
    names = _names(rows, xy, places, reach)
    for k, r in enumerate(rows, start=1):
        r["zone_id"] = f"GZ{k:02d}"
        r["name"] = names[k - 1]
        del r["_big_bus"], r["_members"]
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)
    return out[[*zone_columns(years), "geometry"]]


# --------------------------------------------------------------------------- helpers


def _site_xy(sites: gpd.GeoDataFrame) -> np.ndarray:
    """Site locations (n, 2) in CRS units: ``x, y`` columns, else representative points."""
    if "x" in sites and "y" in sites:
        xy = sites[["x", "y"]].to_numpy(dtype=float)
        if np.isfinite(xy).all():
            return xy
    pts = shapely.point_on_surface(sites.geometry.to_numpy())
    return np.column_stack([shapely.get_x(pts), shapely.get_y(pts)])


def _chain(members: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Edges joining, in a chain, the members that share a non-empty ``key`` (k-1 each)."""
    if not len(members):
        return np.zeros((0, 2), int)
    df = pd.DataFrame({"m": np.asarray(members, int), "k": np.asarray(key, dtype=object)})
    df = df[df["k"].astype(str) != ""].sort_values(["k", "m"], kind="stable")
    same = df["k"].to_numpy()[1:] == df["k"].to_numpy()[:-1]
    m = df["m"].to_numpy()
    return np.column_stack([m[:-1][same], m[1:][same]]) if len(m) > 1 else np.zeros((0, 2), int)


def _used_links(water_links: pd.DataFrame | None, pos: Mapping[str, int]) -> pd.DataFrame:
    """Water link rows with flow, of the given sites (site_id, source_id as text)."""
    if water_links is None or not len(water_links):
        return pd.DataFrame(columns=["site_id", "source_id", "m3_per_day", "geometry"])
    wl = water_links.copy()
    wl["site_id"] = wl["site_id"].astype(str)
    wl["source_id"] = wl["source_id"].astype(str)
    if "m3_per_day" in wl:
        wl = wl[wl["m3_per_day"].astype(float) > 0]
    return wl[wl["site_id"].isin(list(pos))].reset_index(drop=True)


def _col(df: pd.DataFrame, name: str, ids: list[str]) -> pd.Series:
    if name not in df:
        return pd.Series(0.0, index=ids)
    s = pd.to_numeric(df[name], errors="coerce").astype(float)
    s.index = [str(i) for i in df.index]
    return s.reindex(ids).fillna(0.0)


def _upgrades_at_buses(upgrades: pd.DataFrame | None, branches: pd.DataFrame | None):
    """Upgrades with ``_buses``: the set of buses each touches (substation: its bus)."""
    cols = ["asset", "asset_id", "year", "added_mw", "cost_usd", "_buses"]
    if upgrades is None or not len(upgrades):
        return pd.DataFrame(columns=cols)
    ends: dict[str, set[str]] = {}
    if branches is not None and len(branches):
        br = branches.reset_index() if "branch_id" not in branches else branches
        for b, f, t in zip(br["branch_id"], br["from_bus"], br["to_bus"], strict=True):
            ends[str(b)] = {str(f), str(t)}
    up = upgrades.copy()
    up["asset_id"] = up["asset_id"].astype(str)
    up["_buses"] = pd.Series(
        [
            {a} if kind == "substation" else ends.get(a, set())
            for kind, a in zip(up["asset"].astype(str), up["asset_id"], strict=True)
        ],
        index=up.index,
        dtype=object,
    )
    return up.sort_values(["year", "asset", "asset_id"], kind="stable")[cols]


def _bus_points(buses: gpd.GeoDataFrame | None) -> dict[str, tuple[float, float]]:
    if buses is None or not len(buses):
        return {}
    g = buses.geometry
    ok = ~(g.isna() | g.is_empty)
    pts = g[ok].to_numpy()
    return {
        str(b): (float(x), float(y))
        for b, x, y in zip(g[ok].index, shapely.get_x(pts), shapely.get_y(pts), strict=True)
    }


def _zone_shape(
    members: np.ndarray,
    xy: np.ndarray,
    radius: np.ndarray,
    pairs: np.ndarray,
    bus_of: np.ndarray,
    bus_pt: Mapping[str, tuple[float, float]],
    links: pd.DataFrame,
    w: float,
):
    """The zone's polygon: site discs, corridors to buses and water, distance links."""
    parts = [shapely.buffer(shapely.points(xy[members]), radius[members])]
    lines = []
    for i in members:
        b = bus_of[i]
        if b and b in bus_pt:
            lines.append(shapely.LineString([tuple(xy[i]), bus_pt[b]]))
    if len(links) and "geometry" in links:
        g = links.drop_duplicates(["site_id", "source_id"])["geometry"]
        lines.extend(x for x in g if x is not None and not x.is_empty)
    # the links between sites joined by distance: their minimum spanning tree
    zp = (
        pairs[np.isin(pairs[:, 0], members) & np.isin(pairs[:, 1], members)]
        if len(pairs)
        else pairs
    )
    if len(zp):
        local = {int(g): k for k, g in enumerate(members)}
        a = np.array([local[int(i)] for i in zp[:, 0]])
        b = np.array([local[int(i)] for i in zp[:, 1]])
        dist = np.hypot(*(xy[zp[:, 0]] - xy[zp[:, 1]]).T) + 1e-9
        mst = minimum_spanning_tree(coo_matrix((dist, (a, b)), shape=(len(members),) * 2)).tocoo()
        for i, j in zip(mst.row, mst.col, strict=True):
            lines.append(shapely.LineString([tuple(xy[members[i]]), tuple(xy[members[j]])]))
    if lines:
        parts.append(shapely.buffer(np.asarray(lines, dtype=object), w))
    shape = shapely.union_all(np.concatenate(parts))
    shape = shape.buffer(w).buffer(-w)
    if not shape.is_valid:
        shape = shapely.make_valid(shape)
    if shape.geom_type == "GeometryCollection":
        polys = [g for g in shape.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
        shape = shapely.union_all(polys)
    return shape


def _names(
    rows: list[dict], xy: np.ndarray, places: gpd.GeoDataFrame | None, reach: float
) -> list[str]:
    """Zone names (see :func:`growth_zones`), in the rows' order."""
    near: list[str | None] = [None] * len(rows)
    if places is not None and len(places) and "name" in places:
        g = places.geometry
        ok = (~(g.isna() | g.is_empty)).to_numpy()
        pl = places[ok]
        if len(pl):
            pts = shapely.point_on_surface(pl.geometry.to_numpy())
            pxy = np.column_stack([shapely.get_x(pts), shapely.get_y(pts)])
            pname = pl["name"].fillna("").astype(str).to_numpy()
            pop = (
                pd.to_numeric(pl["population"], errors="coerce").fillna(0).to_numpy(float)
                if "population" in pl
                else np.zeros(len(pl))
            )
            tree = cKDTree(pxy)
            for k, r in enumerate(rows):
                m = r["_members"]
                cand = tree.query_ball_point(xy[m], r=reach)
                best = None
                for i_site, js in zip(m, cand, strict=True):
                    for j in js:
                        dd = float(np.hypot(*(pxy[j] - xy[i_site])))
                        key = (dd, -pop[j], pname[j])
                        if pname[j] and (best is None or key < best):
                            best = key
                if best is not None:
                    near[k] = best[2]
    out = []
    seen: dict[str, int] = {}
    for k, r in enumerate(rows, start=1):
        nm = near[k - 1]
        if nm is None:
            b = r["_big_bus"]
            out.append(f"Zone {k} (near bus {b})" if b else f"Zone {k}")
            continue
        seen[nm] = seen.get(nm, 0) + 1
        out.append(nm if seen[nm] == 1 else f"{nm} ({seen[nm]})")
    return out


def _fmt_mw(v: float) -> str:
    """``1,200`` for whole MW, ``12.5`` otherwise."""
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-6 else f"{v:,.1f}"


def _natural(s: str) -> tuple:
    """Sort key: numbers by value (bus 2 before bus 10), then text."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", s) if p)
