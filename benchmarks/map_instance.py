"""A synthetic plan folder for the map benchmark: 20,000 candidates over a 600 km square.

Seeded, so every run draws the same map: 40 chosen sites over three years, 20,000 other
candidates (a third screened out, the rest not economic), 60 buses, 100 branches, pipelines.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString, Point

CRS = "EPSG:32614"
YEARS = [2030, 2032, 2035]


def write_map_plan(d: str | Path, n_candidates: int = 20_000, seed: int = 1) -> Path:
    """Write the plan folder into ``d`` and return it."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x0, y0, size = 300_000.0, 3_300_000.0, 600_000.0
    gpkg = d / "plan.gpkg"
    bx, by = x0 + rng.random(60) * size, y0 + rng.random(60) * size
    buses = gpd.GeoDataFrame(
        {"bus_id": [f"B{i}" for i in range(60)], "voltage_kv": 345.0},
        geometry=[Point(x, y) for x, y in zip(bx, by, strict=True)],
        crs=CRS,
    )
    for k, y in enumerate(YEARS):
        buses[f"campus_peak_mw_{y}"] = rng.random(60) * 100 * (k + 1)
    buses.to_file(gpkg, layer="buses")
    f, t = rng.integers(0, 60, 100), rng.integers(0, 60, 100)
    branches = gpd.GeoDataFrame(
        {
            "branch_id": [f"L{i}" for i in range(100)],
            "from_bus": f,
            "to_bus": t,
            "rating_mw": 500.0,
        },
        geometry=[LineString([(bx[a], by[a]), (bx[b], by[b])]) for a, b in zip(f, t, strict=True)],
        crs=CRS,
    )
    for y in YEARS:
        branches[f"loading_pct_{y}"] = rng.random(100) * 120
    branches.to_file(gpkg, layer="branches")
    cx, cy = x0 + rng.random(n_candidates) * size, y0 + rng.random(n_candidates) * size
    status = np.where(rng.random(n_candidates) < 0.33, "screened_out", "not_chosen")
    status[:40] = "chosen"
    rules = np.array(["slope", "exclusions", "water reach", "bus distance"])
    reason = np.where(
        status == "screened_out",
        "screened out by " + rules[rng.integers(0, 4, n_candidates)],
        np.where(status == "chosen", "chosen", "not economic in this plan"),
    )
    cand = gpd.GeoDataFrame(
        {"site_id": [f"C{i:05d}" for i in range(n_candidates)], "status": status, "reason": reason},
        geometry=gpd.points_from_xy(cx, cy),
        crs=CRS,
    )
    cand.to_file(gpkg, layer="candidates")
    chosen = cand.iloc[:40].copy()
    chosen["name"] = [f"Site {i}" for i in range(40)]
    chosen["first_year"] = [YEARS[i % 3] for i in range(40)]
    chosen["cooling"] = "liquid"
    chosen["pue_annual"], chosen["pue_peak"], chosen["wue_annual_l_per_kwh"] = 1.1, 1.2, 0.2
    chosen["bus_id"] = [f"B{i % 60}" for i in range(40)]
    chosen["it_mw_final"] = 200.0
    chosen.drop(columns=["status", "reason"]).to_file(gpkg, layer="sites")
    rows = [
        {"site_id": s, "year": y, "it_mw": 100.0 * (1 + YEARS.index(y) - YEARS.index(fy))}
        for s, fy in zip(chosen["site_id"], chosen["first_year"], strict=True)
        for y in YEARS
        if y >= fy
    ]
    pd.DataFrame(rows).to_csv(d / "schedule.csv", index=False)
    links = gpd.GeoDataFrame(
        {
            "site_id": chosen["site_id"],
            "source_id": "W1",
            "year": 2035,
            "m3_per_day": 1000.0,
            "distance_km": 5.0,
        },
        geometry=[LineString([(p.x, p.y), (p.x + 5000, p.y)]) for p in chosen.geometry],
        crs=CRS,
    )
    links.to_file(gpkg, layer="water_links")
    man = {
        "title": "map benchmark",
        "scenario_as_run": {"name": "bench", "crs": CRS, "years": YEARS, "layers": {}},
    }
    (d / "manifest.json").write_text(json.dumps(man))
    return d
