"""Capacitated facility-location instances, written as siting scenarios (issue 18).

:func:`cfl_instance` draws an instance the way Cornuéjols, Sridharan and Thizy (1991) did
for their capacitated plant-location study ("A comparison of heuristics and relaxations
for the capacitated plant location problem", European Journal of Operational Research 50,
280-297), the generator behind most later CFL test sets:

- customers and sites uniform in the unit square;
- demand ``d_i`` uniform on [5, 35] (whole numbers here) [MW];
- capacity ``s_j`` uniform on [10, 160], then scaled so that ``sum s / sum d`` is the
  instance's ``ratio`` (3, 5, 10 in the paper), rounded to whole MW here [MW];
- fixed cost ``f_j = U[0, 90] + U[100, 110] * sqrt(s_j)`` [cost units];
- serving the whole of customer ``i`` from site ``j`` costs ``10 * dist_ij * d_i``
  [cost units], so one MW costs ``10 * dist_ij``; assignments are fractional.

One cost unit is :data:`USD_PER_UNIT` (1 M USD), the unit siting hands its objective to
HiGHS in (:data:`siting.model.objective.OBJECTIVE_UNIT_USD`), so siting's MILP and the
direct one of :mod:`benchmarks.location_highspy` carry the same numbers.

:func:`write_scenario` writes the instance as a siting scenario: a ``sites`` layer (points
with ``fixed_cost_usd`` and ``max_it_mw`` = the capacity), a ``demand_regions`` layer
(points with ``demand_mw``), a ``policy.demand.costs_csv`` with every pair's cost
[USD/(MW year)], one planning year, one cooling technology (air), no grid, no water, and
every other cost 0 (capex, land, energy, cooling), with 1 MW modules and no minimum
campus size: the plan's cost is then exactly the CFL objective (fixed costs of the open
sites plus assignment costs). The unit square is laid out as 1,000 km x 1,000 km (UTM 14N)
and the latency limit reaches across it, so every customer may be served from every site.

Command line (writes the scenario and prints its path)::

    python -m benchmarks.location OUT_DIR [--sites 50] [--customers 50] [--ratio 3] [--seed 1]
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import yaml
from shapely.geometry import Point, box

#: One cost unit of the generator [USD].
USD_PER_UNIT = 1e6


@dataclass(frozen=True)
class Size:
    """One size of ``python -m benchmarks --only location``.

    Attributes
    ----------
    n_sites, n_customers
        Sizes (50 x 50 is OR-Library's cap41-cap74 size; 100 x 1,000 its capa-capc size).
    ratios
        Capacity / demand ratios, one instance each (seed 1).
    mip_gap
        Relative MIP gap of both solves [fraction]: 0.01 % on 50 x 50 (near the proven
        optimum, as OR-Library's published optima), siting's default 0.5 % on 100 x 1,000
        (at 0.01 % the direct MILP alone runs past 10 minutes there).
    """

    n_sites: int
    n_customers: int
    ratios: tuple[float, ...]
    mip_gap: float


#: The sizes of the location benchmark, by name.
SIZES: dict[str, Size] = {
    "50x50": Size(50, 50, (3.0, 5.0, 10.0), 1e-4),
    "100x1000": Size(100, 1000, (3.0, 10.0), 5e-3),
}

#: Side of the unit square on the ground [km], and its corner in :data:`CRS` [m].
SIDE_KM = 1000.0
CRS = "EPSG:32614"
X0_M, Y0_M = 0.0, 3_000_000.0


@dataclass(frozen=True)
class CflInstance:
    """A capacitated facility-location instance (sites ``j``, customers ``i``).

    Attributes
    ----------
    site_xy, customer_xy
        Positions in the unit square (n x 2).
    demand_mw
        Demand per customer [MW].
    capacity_mw
        Capacity per site [MW].
    fixed_cost_usd
        Cost of opening each site [USD].
    cost_usd_per_mw
        Cost of serving one MW of customer ``i`` from site ``j`` (customers x sites)
        [USD/(MW year)] (the plan is one year).
    name
        ``cfl-<sites>x<customers>-r<ratio>-s<seed>``.
    """

    site_xy: np.ndarray
    customer_xy: np.ndarray
    demand_mw: np.ndarray
    capacity_mw: np.ndarray
    fixed_cost_usd: np.ndarray
    cost_usd_per_mw: np.ndarray
    name: str

    @property
    def n_sites(self) -> int:
        """Number of candidate sites."""
        return len(self.capacity_mw)

    @property
    def n_customers(self) -> int:
        """Number of customers (demand regions)."""
        return len(self.demand_mw)

    @property
    def link_mw(self) -> np.ndarray:
        """``min(d_i, s_j)`` per pair: the most customer ``i`` can take from site ``j`` [MW]."""
        return np.minimum(self.demand_mw[:, None], self.capacity_mw[None, :])


def cfl_instance(n_sites: int, n_customers: int, ratio: float, seed: int = 1) -> CflInstance:
    """Draw a Cornuéjols-style instance (see the module docstring).

    Parameters
    ----------
    n_sites, n_customers
        Sizes.
    ratio
        Total capacity over total demand (after scaling; rounding moves it slightly).
    seed
        Seed of numpy's default generator: the same arguments give the same instance.
    """
    rng = np.random.default_rng(seed)
    customer_xy = rng.uniform(0.0, 1.0, (n_customers, 2))
    site_xy = rng.uniform(0.0, 1.0, (n_sites, 2))
    demand = rng.integers(5, 36, n_customers).astype(float)
    cap = rng.uniform(10.0, 160.0, n_sites)
    cap = np.maximum(np.round(cap * ratio * demand.sum() / cap.sum()), 1.0)
    fixed = rng.uniform(0.0, 90.0, n_sites) + rng.uniform(100.0, 110.0, n_sites) * np.sqrt(cap)
    dist = np.hypot(*(customer_xy[:, None, :] - site_xy[None, :, :]).transpose(2, 0, 1))
    return CflInstance(
        site_xy=site_xy,
        customer_xy=customer_xy,
        demand_mw=demand,
        capacity_mw=cap,
        fixed_cost_usd=fixed * USD_PER_UNIT,
        cost_usd_per_mw=10.0 * dist * USD_PER_UNIT,
        name=f"cfl-{n_sites}x{n_customers}-r{ratio:g}-s{seed}",
    )


def _points(xy: np.ndarray) -> list[Point]:
    m = xy * SIDE_KM * 1000.0
    return [Point(X0_M + x, Y0_M + y) for x, y in m]


def write_scenario(
    inst: CflInstance,
    folder: str | Path,
    *,
    mip_gap: float = 1e-4,
    time_limit_s: float = 600.0,
    threads: int = 2,
) -> Path:
    """Write ``inst`` as a siting scenario into ``folder``; return the scenario's path.

    Files: ``cfl.gpkg`` (layers ``sites``, ``demand_regions``, ``boundary``),
    ``costs.csv`` (``region_id, site_id, cost_usd_per_mw`` for every pair) and
    ``scenario.yaml``. See the module docstring for what the scenario holds.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    gpkg = folder / "cfl.gpkg"
    sw, cw = max(3, len(str(inst.n_sites))), max(4, len(str(inst.n_customers)))
    site_ids = [f"F{j + 1:0{sw}d}" for j in range(inst.n_sites)]
    region_ids = [f"C{i + 1:0{cw}d}" for i in range(inst.n_customers)]
    side_m = SIDE_KM * 1000.0
    gpd.GeoDataFrame(
        {"name": ["unit square"]},
        geometry=[
            box(X0_M - 1000.0, Y0_M - 1000.0, X0_M + side_m + 1000.0, Y0_M + side_m + 1000.0)
        ],
        crs=CRS,
    ).to_file(gpkg, layer="boundary", engine="pyogrio")
    gpd.GeoDataFrame(
        {
            "site_id": site_ids,
            "fixed_cost_usd": inst.fixed_cost_usd,
            "max_it_mw": inst.capacity_mw,
            "land_cost_usd_per_ha": np.zeros(inst.n_sites),
        },
        geometry=_points(inst.site_xy),
        crs=CRS,
    ).to_file(gpkg, layer="sites", engine="pyogrio")
    gpd.GeoDataFrame(
        {"region_id": region_ids, "demand_mw": inst.demand_mw},
        geometry=_points(inst.customer_xy),
        crs=CRS,
    ).to_file(gpkg, layer="demand_regions", engine="pyogrio")
    pd.DataFrame(
        {
            "region_id": np.repeat(region_ids, inst.n_sites),
            "site_id": np.tile(site_ids, inst.n_customers),
            "cost_usd_per_mw": inst.cost_usd_per_mw.ravel(),
        }
    ).to_csv(folder / "costs.csv", index=False, float_format="%.17g")
    reach_km = 1.01 * math.sqrt(2.0) * SIDE_KM  # the square's diagonal, and a margin
    # reach = latency x 200 km/ms / 2 / 1.5 (siting.candidates.generate.reach_km)
    latency_ms = math.ceil(reach_km * 2.0 * 1.5 / 200.0)
    top_mw = float(inst.capacity_mw.max())
    scenario = {
        "name": inst.name,
        "title": f"Capacitated facility location {inst.name} (Cornuéjols-style)",
        "crs": CRS,
        "years": [2030],
        "layers": {
            "boundary": {"path": "cfl.gpkg"},
            "sites": {"path": "cfl.gpkg"},
            "demand_regions": {"path": "cfl.gpkg"},
        },
        "campus": {
            "module_mw": 1.0,
            "min_campus_mw": 0.0,
            "max_campus_mw": top_mw,
            "max_build_mw_per_year": top_mw,
            "cooling": ["air"],
        },
        "costs": {
            "capex_usd_per_mw": 0.0,
            "interconnection_usd_per_km": 0.0,
            "interconnection_usd_per_mw": 0.0,
            "energy_usd_per_mwh": 0.0,
        },
        "cooling": {"capex_usd_per_mw": {"air": 0.0}},
        "water": {"enabled": False},
        "candidates": {"max_bus_distance_km": None},
        "policy": {
            "demand": {
                "max_latency_ms": float(latency_ms),
                "cost_usd_per_mw_km": 0.0,
                "costs_csv": "costs.csv",
            }
        },
        "solver": {"time_limit_s": time_limit_s, "mip_gap": mip_gap, "threads": threads},
    }
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False, allow_unicode=True))
    return path


def main() -> None:
    """Write one instance and print its scenario's path."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--sites", type=int, default=50)
    ap.add_argument("--customers", type=int, default=50)
    ap.add_argument("--ratio", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mip-gap", type=float, default=1e-4)
    args = ap.parse_args()
    inst = cfl_instance(args.sites, args.customers, args.ratio, args.seed)
    print(write_scenario(inst, args.out, mip_gap=args.mip_gap))


if __name__ == "__main__":
    main()
