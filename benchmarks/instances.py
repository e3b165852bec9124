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
  :data:`siting.layers.fields.SITES`: ``site_id`` (required), ``name``, ``fixed_cost_usd``,
  ``max_it_mw``, ``land_cost_usd_per_ha``, ``area_ha``, all seeded, so no land-cost
  raster is needed); layer ``boundary``, the buses' extent plus a margin.
- ``scenario.yaml``: the grid (the case, referenced by its absolute path: the pglib files
  are never copied), the coordinates, the sites and the boundary; years, national IT
  targets, module sizes and ``grid.formulation``.

Nothing else is required: no climate rasters (every site takes siting.cooling's reference
climate), no water sources (wet cooling is then not offered; dry and liquid are), no
land-class or land-cost raster (the sites carry their land price).

The default instance (:data:`CASE300`, 120 sites, seed 7, years 2028/2030/2032, targets
400/1,000/1,800 MW, 100 MW modules) is the plan benchmark's (``python -m benchmarks --only
case300``). Why these figures: see :data:`DEFAULTS`.

Command line (writes the instance and prints the scenario's path)::

    python -m benchmarks.instances OUT_DIR [--sites N] [--seed S] [--formulation ptdf]
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


def bus_layout(grid, seed: int, *, iterations: int = 200) -> np.ndarray:
    """Planar positions of the buses (n x 2, arbitrary units, about 1 per line); see
    :func:`_layout`."""
    with _one_blas_thread():
        return _layout(grid, seed, iterations)


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
    grid, seed: int, *, span_km: float, centre_lonlat: tuple[float, float]
) -> pd.DataFrame:
    """``bus_id, lon, lat`` of every bus: :func:`bus_layout` scaled to ``span_km`` across."""
    xy = bus_layout(grid, seed)
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
    grid, coords: pd.DataFrame, n_sites: int, seed: int, *, min_bus_voltage_kv: float
) -> gpd.GeoDataFrame:
    """``n_sites`` seeded candidate points, each 1 to 8 km from a bus of enough voltage.

    Distinct buses while there are enough of them. Fields: ``site_id, name, bus_near,
    fixed_cost_usd`` (15 to 60 M USD), ``max_it_mw`` (300, 500, 800 or 1,000 MW),
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
    max_it = rng.choice([300.0, 500.0, 800.0, 1000.0], size=n_sites)
    ids = [f"S{i + 1:03d}" for i in range(n_sites)]
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


def write_instance(
    folder: str | Path,
    *,
    case: str | Path = CASE300,
    formulation: str = "angle",
    name: str | None = None,
    **overrides: Any,
) -> Path:
    """Write a siting instance on a MATPOWER case into ``folder``; return the scenario path.

    Parameters
    ----------
    folder
        Where to write (created if needed).
    case
        The MATPOWER ``.m`` file (referenced by its absolute path, not copied).
    formulation
        ``grid.formulation``: ``angle`` or ``ptdf``.
    name
        Scenario name (default ``<case stem>-<n_sites>-<formulation>``, shortened).
    overrides
        Any key of :data:`DEFAULTS` (``n_sites``, ``seed``, ``years``, ``targets_mw``,
        ``module_mw``, ``snapshots`` (a list of siting snapshot mappings) ...).

    Raises
    ------
    FileNotFoundError
        When the case file is absent.
    """
    from siting.errors import ProblemReport
    from siting.layers.matpower import read_matpower

    bad = sorted(set(overrides) - set(DEFAULTS))
    if bad:
        raise TypeError(f"unknown settings {bad}; expected some of {sorted(DEFAULTS)}")
    cfg = {**DEFAULTS, **overrides}
    case = Path(case).resolve()
    if not case.is_file():
        raise FileNotFoundError(f"{case}: MATPOWER case not found")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    report = ProblemReport()
    grid = read_matpower(case, report)
    if grid is None:
        raise ValueError(f"{case}: not a valid MATPOWER case:\n{report}")

    coords = bus_lonlat(
        grid, cfg["seed"], span_km=cfg["span_km"], centre_lonlat=tuple(cfg["centre_lonlat"])
    )
    coords.to_csv(folder / "bus_coordinates.csv", index=False)

    sites = candidate_sites(
        grid, coords, cfg["n_sites"], cfg["seed"], min_bus_voltage_kv=cfg["min_bus_voltage_kv"]
    )
    gpkg = folder / "sites.gpkg"
    gpkg.unlink(missing_ok=True)
    sites.to_file(gpkg, layer="sites", driver="GPKG", engine="pyogrio")
    margin = 0.5  # degrees (about 50 km) around every bus and site
    lon = np.r_[coords["lon"].to_numpy(), sites.geometry.x.to_numpy()]
    lat = np.r_[coords["lat"].to_numpy(), sites.geometry.y.to_numpy()]
    gpd.GeoDataFrame(
        {"name": [f"{case.stem} (synthetic layout, seed {cfg['seed']})"]},
        geometry=[
            box(lon.min() - margin, lat.min() - margin, lon.max() + margin, lat.max() + margin)
        ],
        crs="EPSG:4326",
    ).to_file(gpkg, layer="boundary", driver="GPKG", engine="pyogrio")

    years = [int(y) for y in cfg["years"]]
    grid_cfg: dict[str, Any] = {"formulation": formulation}
    if cfg["snapshots"] is not None:
        grid_cfg["snapshots"] = [dict(s) for s in cfg["snapshots"]]
    stem = case.stem.replace("pglib_opf_", "")
    scenario = {
        "name": name or f"{stem}-{cfg['n_sites']}-{formulation}"[:80],
        "title": f"{case.stem}: {cfg['n_sites']} candidate sites (benchmark instance)",
        "description": "Synthetic bus positions and sites (benchmarks/instances.py); the grid "
        "is the MATPOWER case as published.",
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


def main() -> None:
    """Write an instance and print its scenario path."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--case", type=Path, default=CASE300)
    ap.add_argument("--sites", type=int, default=DEFAULTS["n_sites"])
    ap.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    ap.add_argument("--formulation", choices=("angle", "ptdf"), default="angle")
    args = ap.parse_args()
    print(
        write_instance(
            args.out,
            case=args.case,
            formulation=args.formulation,
            n_sites=args.sites,
            seed=args.seed,
        )
    )


if __name__ == "__main__":
    main()
