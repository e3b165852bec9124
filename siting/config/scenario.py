"""Scenario files: the YAML a planner writes, validated by a pydantic schema.

A scenario names its region's layers, the planning years, the campus rules,
national targets, costs and solver settings. Every field has a documented unit
(also in its name). Unknown keys are rejected with their full dotted path
(``costs.capex_usd_per_mw``) and the nearest valid key.

Composition (after Calliope's scenarios-as-overrides): a scenario may say
``extends: base.yaml``; the base is loaded first (recursively), then the
scenario's mappings are merged over it key by key (lists and scalars replace).
Every ``path:`` value is resolved against the directory of the file it was
written in, before merging, so a base scenario's paths keep pointing where it
meant.

Reading is defensive (scenario files may come from anyone): YAML goes through a safe
loader only (no Python objects; duplicate keys refused), and a file is refused with a
message naming it and the dotted key when it is not a regular file, larger than
:data:`MAX_SCENARIO_BYTES`, nested deeper than :data:`MAX_SCENARIO_DEPTH`, expands to more
than :data:`MAX_SCENARIO_VALUES` values through aliases (an alias bomb), refers to itself,
or holds a number that is not finite or above :data:`MAX_SCENARIO_NUMBER`, a NUL character
or a lone surrogate.

``siting schema`` writes :func:`json_schema` for editors.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import re
import reprlib
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from siting.core.errors import Problem, ScenarioError
from siting.core.files import open_regular, path_problem

#: Largest scenario file read [bytes]; a scenario is a page of YAML, not data.
MAX_SCENARIO_BYTES = 1_000_000
#: Most ``extends:`` links followed in one chain (a file extending a file ... 16 times).
MAX_EXTENDS_DEPTH = 16
#: Most values (mappings, lists and scalars, with YAML aliases expanded) in one scenario
#: file; a realistic scenario holds a few hundred. Refuses alias bombs ("billion laughs").
MAX_SCENARIO_VALUES = 100_000
#: Deepest nesting of mappings and lists in a scenario file (a real scenario needs 5).
MAX_SCENARIO_DEPTH = 32
#: Largest magnitude of a number in a scenario file; anything larger is a unit mistake
#: (and would overflow the model's cost coefficients).
MAX_SCENARIO_NUMBER = 1e15
#: Most problems named one by one in a scenario error before "... and N more".
MAX_SCENARIO_PROBLEMS = 50
#: Most characters of any text value in a scenario (a WKT CRS is a few thousand).
MAX_TEXT_CHARS = 20_000
#: Most planning years.
MAX_YEARS = 100


def year_of(key: Any) -> int | None:
    """The year a mapping key means, as the schema reads a year key (``2031``, ``'2031'``,
    ``' 2031 '``, ``2031.0`` all mean 2031); ``None`` when it is no whole number."""
    if isinstance(key, bool):  # True would read as 1
        return None
    try:
        return _YEAR_KEY.validate_python(key)
    except ValidationError:
        return None


def _one_key_each(value: Any, what: str) -> Any:
    """Refuse a mapping whose keys name one integer twice (``2031`` and ``'2031'``).

    YAML reads ``2031:`` as a number and ``'2031':`` as text; the schema turns both into
    2031 (:func:`year_of`), and the last would silently win. ``what`` names the keys in
    the message (``year``, ``class code``). Anything else passes on to the mapping's own
    validation.
    """
    if not isinstance(value, dict):
        return value
    seen: dict[int, list[Any]] = {}
    for k in value:
        n = year_of(k)
        if n is not None:
            seen.setdefault(n, []).append(k)
    twice = {n: ks for n, ks in seen.items() if len(ks) > 1}
    if twice:
        said = "; ".join(
            f"{n} as {' and '.join(_short(k) for k in ks)}" for n, ks in sorted(twice.items())
        )
        raise ValueError(
            f"a {what} is given more than once, in different spellings ({said}); give each "
            f"{what} once"
        )
    return value


#: The validator that marks a mapping keyed by year (see :data:`ByYear`).
ONE_KEY_PER_YEAR = BeforeValidator(lambda v: _one_key_each(v, "year"))
#: The validator of a mapping keyed by integer codes that are not years (land classes).
ONE_KEY_PER_CODE = BeforeValidator(lambda v: _one_key_each(v, "class code"))
_YEAR_KEY: TypeAdapter[int] = TypeAdapter(int)
_V = TypeVar("_V")
#: A mapping keyed by calendar year whose keys must name distinct years; every such field
#: of the schema uses it, and :func:`matching_key` uses its mark to merge overrides.
ByYear = Annotated[dict[int, _V], ONE_KEY_PER_YEAR]


class _Strict(BaseModel):
    """Base of every scenario section: unknown keys are errors."""

    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        allow_inf_nan=False,
        str_max_length=MAX_TEXT_CHARS,
    )

    @field_validator("*", mode="after")
    @classmethod
    def _not_huge(cls, v: Any) -> Any:
        """Refuse numbers over :data:`MAX_SCENARIO_NUMBER` in size (``1e308`` as text too)."""
        values = v.values() if isinstance(v, dict) else v if isinstance(v, list) else (v,)
        for x in values:
            if isinstance(x, (int, float)) and not isinstance(x, bool):
                if abs(x) > MAX_SCENARIO_NUMBER:
                    raise ValueError(
                        f"expected a number of at most {MAX_SCENARIO_NUMBER:g} in size, got "
                        f"{_short(x)} (check the unit)"
                    )
        return v


class VectorRef(_Strict):
    """A vector layer on disk: a file and, for multi-layer files, a layer name."""

    path: Path = Field(
        description="GeoPackage, GeoJSON or other OGR file; relative to the scenario file."
    )
    layer: str | None = Field(
        default=None,
        description="Layer inside the file; default: the layer named like the layer kind "
        "(`buses`, `water_sources` ...), or the file's only layer.",
    )


class RasterRef(_Strict):
    """A single-band raster on disk (GeoTIFF)."""

    path: Path = Field(description="GeoTIFF file; relative to the scenario file.")
    band: int = Field(default=1, ge=1, description="Band number (1-based).")


class ClassRasterRef(RasterRef):
    """A raster of land classes, some of which exclude campuses."""

    exclude_classes: list[int] = Field(
        default_factory=list, description="Class codes where no campus may be built."
    )
    class_names: Annotated[dict[int, str], ONE_KEY_PER_CODE] = Field(
        default_factory=dict,
        description="Names of the class codes, for the map's legend (e.g. `{4: urban}`); a "
        "code without a name is shown as `class <code>`.",
    )

    @field_validator("class_names", mode="after")
    @classmethod
    def _names_not_blank(cls, v: dict[int, str]) -> dict[int, str]:
        blank = [k for k, name in v.items() if not str(name).strip()]
        if blank:
            raise ValueError(f"class {blank[0]} has an empty name; give it one or leave it out")
        return {k: str(name).strip() for k, name in v.items()}


class CoordinatesRef(_Strict):
    """A CSV of bus coordinates for a MATPOWER case: ``bus_id`` and ``x,y`` or ``lon,lat``."""

    path: Path = Field(description="CSV file; relative to the scenario file.")
    crs: str = Field(default="EPSG:4326", description="CRS of the coordinates (EPSG code or WKT).")


class TableRef(_Strict):
    """A CSV table on disk (a header row, then one row per record)."""

    path: Path = Field(description="CSV file; relative to the scenario file.")


class SitesRef(VectorRef):
    """The sites layer, and whether its sites replace the generated cells or join them."""

    mode: Literal["replace", "add"] = Field(
        default="replace",
        description="`replace`: the layer's sites are the only candidates; `add`: they join "
        "the cells generated over the allowed land (`candidates.cell_km`), so announced "
        "campuses are weighed against open land. With `add`, a site's polygon is cut out of "
        "the cells (its land is not counted twice), and a site_id that is also a generated "
        "cell's ID (`c_<row>_<col>`) is an error.",
    )


class GridLayers(_Strict):
    """Where the transmission grid comes from, and what is attached to it.

    The attached tables (``siting fields branch_upgrades`` ... list their columns) name the
    grid's own IDs: for a MATPOWER case the bus number and the 1-based row of ``mpc.branch``;
    for a pandapower network the bus index and ``line:<index>``, ``trafo:<index>`` ...; for a
    grid GeoPackage its ``bus_id`` and ``branch_id``. They replace what the grid itself says
    for the rows they name, before ``grid.derate`` and ``grid.outages`` apply.
    """

    format: Literal["auto", "layers", "matpower", "pandapower", "pypsa"] = Field(
        default="auto",
        description="`layers` (GeoPackage/GeoJSON buses, branches, generators), `matpower` "
        "(.m case file), `pandapower` (JSON from pandapower.to_json), `pypsa` (a PyPSA "
        "network: .nc from export_to_netcdf, or a CSV folder from export_to_csv_folder; "
        "needs the `pypsa` extra); `auto` by file suffix (.nc or a folder with buses.csv: "
        "pypsa).",
    )
    path: Path = Field(
        description="The grid file: a GeoPackage holding the three layers, a MATPOWER .m file, "
        "a pandapower .json, or a PyPSA .nc file or CSV folder (e.g. PyPSA-Eur's "
        "`resources/networks/base.nc`); relative to the scenario file."
    )
    crs: str | None = Field(
        default=None,
        description="CRS of a PyPSA network's bus x/y (EPSG code or WKT); empty = the "
        "network's own (`n.crs`, PyPSA's default EPSG:4326). Only for `pypsa`.",
    )
    links: Literal["refuse", "fixed"] = Field(
        default="refuse",
        description="PyPSA links (HVDC and other controllable branches): siting's DC model has "
        "no controllable flows, so `refuse` makes an active link an error; `fixed` takes each "
        "as a fixed transfer at its `p_set` at the network's peak snapshot [MW] (what PyPSA's "
        "`lpf()` does with links), netted into its two buses' base load. Only for `pypsa`.",
    )
    annuity_factor: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Capital recovery factor [1/year] that turns the yearly `capital_cost` "
        "[currency/MVA/year] of a PyPSA line with `s_nom_extendable` into the cost of its "
        "upgrade option: cost = capital_cost x (s_nom_max - s_nom) / factor [USD] (e.g. "
        "0.0583 for 5 % over 40 years: r / (1 - (1 + r)^-n)); a line's own `overnight_cost` "
        "is used as it is. Needed only when such lines have no overnight_cost. Only for "
        "`pypsa`.",
    )
    buses: VectorRef | None = Field(default=None, description="Override for the buses layer.")
    branches: VectorRef | None = Field(default=None, description="Override for the branches layer.")
    generators: VectorRef | None = Field(
        default=None, description="Override for the generators layer."
    )
    bus_coordinates: CoordinatesRef | None = Field(
        default=None,
        description="Bus coordinates for a MATPOWER, pandapower or PyPSA network (for PyPSA: "
        "instead of the buses' own x/y).",
    )
    base_mva: float = Field(
        default=100.0,
        gt=0,
        description="System base for per-unit reactances of `layers` grids [MVA].",
    )
    branch_upgrades: TableRef | None = Field(
        default=None,
        description="CSV of branch upgrade options (reconductoring): `branch_id, "
        "upgrade_added_mw, upgrade_cost_usd, upgrade_lead_time_years` [MW, USD, years]; "
        "offered to the plan when `grid.upgrades` is on.",
    )
    substations: TableRef | None = Field(
        default=None,
        description="CSV of substation headroom and upgrade options per bus: `bus_id, "
        "substation_headroom_mw, substation_upgrade_added_mw, substation_upgrade_cost_usd, "
        "substation_upgrade_lead_time_years` [MW, MW, USD, years].",
    )
    emergency_ratings: TableRef | None = Field(
        default=None,
        description="CSV of short-term emergency ratings: `branch_id, rating_emergency_mw` "
        "[MW], the limit after an outage (N-1 security, `siting grid check`).",
    )
    load_growth: TableRef | None = Field(
        default=None,
        description="CSV of base load by year: `bus_id` or `area`, `year`, and `load_mw` [MW] "
        "or `growth_factor` [x the grid's load]; see `siting fields load_growth`.",
    )
    connections: TableRef | None = Field(
        default=None,
        description="CSV of the first year new load can connect firm at each bus: `bus_id, "
        "firm_connect_year` [calendar year] (the queue and its studies, as the operator "
        "reports them); it replaces the buses' own `firm_connect_year` for the buses it "
        "names. Buses it does not name take `grid.lead_time_years_by_kv`, or no wait.",
    )
    load_growth_per_year: ByYear[Annotated[float, Field(ge=0, le=100)]] = Field(
        default_factory=dict,
        description="One factor per calendar year on every bus's base load [x the grid's own "
        "load_mw] (`{2030: 1.05, 2035: 1.2}`); a planning year without a factor takes the "
        "latest earlier year's, or 1 before the first. Not with `load_growth`.",
    )

    @model_validator(mode="after")
    def _one_load_growth(self) -> GridLayers:
        if self.load_growth is not None and self.load_growth_per_year:
            raise ValueError(
                "give load_growth (a CSV by bus or area) or load_growth_per_year (one factor "
                "per year for every bus), not both"
            )
        bad = sorted(y for y in self.load_growth_per_year if not 1900 <= y <= 2200)
        if bad:
            raise ValueError(
                f"load_growth_per_year has years {bad} that are not calendar years between "
                "1900 and 2200"
            )
        return self


class ClimateLayers(_Strict):
    """Climate rasters (GeoTIFF) that cooling performance is computed from. Units: degrees C."""

    dry_bulb_mean_c: RasterRef = Field(description="Annual mean dry-bulb temperature [C].")
    dry_bulb_p99_c: RasterRef = Field(
        description="Design (0.4 % / 99.6th percentile hottest hours) dry-bulb temperature [C]."
    )
    wet_bulb_mean_c: RasterRef = Field(description="Annual mean wet-bulb temperature [C].")
    wet_bulb_p99_c: RasterRef = Field(description="Design (0.4 %) wet-bulb temperature [C].")
    warming_c: float = Field(
        default=0.0,
        ge=-10,
        le=10,
        description="Uniform warming added to the dry-bulb temperatures read from the rasters "
        "(mean and design) [C], for climate 'what if' studies; 0 = the rasters as they are.",
    )
    wet_bulb_warming_c: float | None = Field(
        default=None,
        ge=-10,
        le=10,
        description="Warming added to the wet-bulb temperatures [C]; empty = the same as "
        "`warming_c` (a simplification: at constant relative humidity the wet-bulb warms "
        "somewhat less than the dry-bulb, e.g. about 1.7 C for 2 C near 30 C and 40 %).",
    )


class LayersSection(_Strict):
    """Every input layer of the region."""

    grid: GridLayers | None = Field(
        default=None,
        description="The transmission grid; empty = no grid: campuses have no network "
        "constraints, connect to no bus (no tie line cost) and their energy is priced at "
        "`costs.energy_usd_per_mwh` (`grid.enabled` is then ignored).",
    )
    water_sources: VectorRef | None = Field(default=None, description="Water sources (points).")
    exclusions: list[VectorRef] = Field(
        default_factory=list, description="Exclusion polygons (protected, flood, urban, water ...)."
    )
    land_class: ClassRasterRef | None = Field(
        default=None, description="Land-class raster and the classes it excludes."
    )
    land_cost: RasterRef | None = Field(default=None, description="Land price raster [USD/ha].")
    zones: VectorRef | None = Field(
        default=None, description="Designated or preferred growth zones."
    )
    regions: VectorRef | None = Field(default=None, description="Planning regions (polygons).")
    boundary: VectorRef | None = Field(
        default=None,
        description="The study area's outline; default: the extent of the grid's buses, or, "
        "without a grid, of the `sites` layer with the water sources, demand regions and heat "
        "sinks.",
    )
    places: VectorRef | None = Field(default=None, description="Towns and cities (points).")
    climate: ClimateLayers | None = Field(default=None, description="Climate rasters.")
    sites: SitesRef | None = Field(
        default=None,
        description="Candidate sites (points or polygons): the only candidates, or, with "
        "`mode: add`, beside the generated cells; empty = cells generated over the allowed "
        "land (see `candidates`).",
    )
    demand_regions: VectorRef | None = Field(
        default=None, description="Inference demand regions (see `policy.demand`)."
    )
    heat_sinks: VectorRef | None = Field(
        default=None, description="Heat demand that waste heat can be sold to."
    )


Cooling = Literal["air", "evaporative", "liquid"]
#: Every cooling technology, in the order plans and tables list them.
COOLING_TECHS: tuple[Cooling, ...] = ("air", "evaporative", "liquid")


class CampusRules(_Strict):
    """Rules of a campus build."""

    module_mw: float = Field(
        default=50.0,
        gt=0,
        description="IT capacity of one build module [MW IT]; builds come in whole modules. "
        "Default: a 50 MW UK-style campus phase (UK campuses of 50 to 90 MW: press reports and "
        "the UK government's AI Growth Zone criteria).",
    )
    min_campus_mw: float = Field(
        default=100.0, ge=0, description="Smallest campus worth opening [MW IT] at the last year."
    )
    max_campus_mw: float = Field(
        default=1000.0, gt=0, description="Largest campus on one site [MW IT]."
    )
    max_build_mw_per_year: float = Field(
        default=300.0, gt=0, description="Most IT capacity one site may add in one year [MW IT]."
    )
    earliest_year: int | None = Field(
        default=None,
        description="First year a new site may energise (lead time); "
        "default: the first planning year.",
    )
    construction_years: float = Field(
        default=0.0,
        ge=0,
        le=30,
        description="Years to build a campus, counted from the first planning year: no site "
        "has MW before `years[0] + construction_years` [years]. Typical build 18 to 24 months "
        "(Cushman & Wakefield Data Center Cost Guide 2025); default 0 (off).",
    )
    cooling: list[Cooling] = Field(
        default_factory=lambda: list(COOLING_TECHS),
        min_length=1,
        description="Cooling technologies a site may choose from.",
    )

    @field_validator("cooling")
    @classmethod
    def _cooling_once(cls, v: list[str]) -> list[str]:
        twice = sorted({c for c in v if v.count(c) > 1})
        if twice:
            raise ValueError(f"cooling lists {', '.join(twice)} more than once")
        return v

    @model_validator(mode="after")
    def _sizes(self) -> CampusRules:
        if self.min_campus_mw > self.max_campus_mw:
            raise ValueError(
                f"min_campus_mw ({self.min_campus_mw:g}) is larger than max_campus_mw "
                f"({self.max_campus_mw:g})"
            )
        return self


class CandidateRules(_Strict):
    """How candidate sites are made and screened."""

    cell_km: float = Field(
        default=20.0,
        gt=0,
        description="Side of the square cells generated over allowed land when no `sites` "
        "layer is given [km].",
    )
    min_allowed_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="A generated cell is kept when at least this share of it is allowed land "
        "(not excluded by polygons or land classes) [fraction].",
    )
    land_ha_per_mw: float = Field(
        default=0.45,
        gt=0,
        description="Land a campus needs per MW of IT [ha/MW]. Default: 1.1 acre/MW, "
        "single-storey hyperscale (press figures: about 1.1 acre/MW single-storey down to "
        "0.07 acre/MW multi-storey urban; the ratio is inferred from them).",
    )
    min_area_ha: float = Field(
        default=0.0, ge=0, description="Screening: drop candidates with less allowed area [ha]."
    )
    max_bus_distance_km: float | None = Field(
        default=40.0,
        gt=0,
        description="Screening: drop candidates farther than this from the nearest eligible "
        "bus [km]; empty = no limit.",
    )
    min_bus_voltage_kv: float = Field(
        default=0.0,
        ge=0,
        description="Campuses connect only to buses at or above this voltage [kV].",
    )
    max_land_cost_usd_per_ha: float | None = Field(
        default=None,
        gt=0,
        description="Screening: drop candidates whose land costs more [USD/ha]; empty = no limit.",
    )
    max_water_links: int = Field(
        default=3,
        ge=0,
        description="Each site may draw on at most its this-many nearest water sources in reach.",
    )


class Snapshot(_Strict):
    """One operating condition of the grid within a year."""

    name: str = Field(description="Name (`peak`, `typical` ...).")
    load_factor: float = Field(
        gt=0, le=2, description="Base load as a share of the peak base load [fraction]."
    )
    hours: float = Field(
        ge=0,
        le=8784,
        description="Hours per year this snapshot stands for [h]; the peak snapshot has 0 "
        "(limits only), the others sum to the year.",
    )
    peak: bool = Field(
        default=False,
        description="Campuses draw at their peak PUE (design hot day); else at annual PUE.",
    )
    stress_hours: float | None = Field(
        default=None,
        ge=0,
        le=8784,
        description="Hours per year a flexible campus curtailed in this snapshot is taken to "
        "be curtailed, for its curtailment budget and cost (`flexibility`) [h]; empty = "
        "`hours`, or for a peak snapshot with 0 hours `flexibility.peak_stress_hours`. "
        "Snapshots are representative, not chronological: curtailment in a snapshot counts "
        "its stress hours in full.",
    )


def _default_snapshots() -> list[Snapshot]:
    return [
        Snapshot(name="peak", load_factor=1.0, hours=0.0, peak=True),
        Snapshot(name="high", load_factor=0.85, hours=2190.0),
        Snapshot(name="mid", load_factor=0.70, hours=4380.0),
        Snapshot(name="low", load_factor=0.55, hours=2190.0),
    ]


class Contingencies(_Strict):
    """N-1 security: after any one monitored branch outage, flows within emergency ratings."""

    enabled: bool = Field(
        default=False,
        description="Require N-1 security: the post-contingency flow of every branch (by line "
        "outage distribution factors) within its emergency rating `rating_emergency_mw` (plus any "
        "upgrade) after the outage of any one branch in `outages`. Added lazily: only the "
        "(branch, outage, year, snapshot) limits a solution violates enter the model.",
    )
    outages: Literal["all"] | Annotated[int, Field(ge=1)] | list[str] = Field(
        default="all",
        description="Which outages: `all` in-service branches; an integer k = the k most loaded "
        "branches (peak loading in each round's solution); or a list of branch IDs. Outages that "
        "split the network (radial branches) are skipped and counted in a note.",
    )
    snapshots: Literal["peak", "all"] = Field(
        default="peak",
        description="Snapshots checked: `peak` (the design case) or `all`.",
    )
    from_year: int | None = Field(
        default=None,
        description="First planning year N-1 is required in (empty = every year); e.g. the "
        "year the upgrades a grid needs to be N-1 secure for its own load can be in service.",
    )

    @model_validator(mode="after")
    def _enabled_said(self) -> Contingencies:
        # `n_minus_1: {outages: 20}` reads as "N-1 on the 20 most loaded branches", but
        # left N-1 off (enabled defaults to false): the plan was silently not N-1 secure
        given = sorted(self.model_fields_set - {"enabled"})
        if given and "enabled" not in self.model_fields_set:
            raise ValueError(
                f"sets {', '.join(given)} but not enabled: N-1 security is required only "
                "with `enabled: true` (write `enabled: false` to keep the settings and leave "
                "it off)"
            )
        return self


class Flexibility(_Strict):
    """Flexible (non-firm) connection of campuses: MW the grid may curtail in stressed
    snapshots, within a budget, at a cost (off by default)."""

    enabled: bool = Field(
        default=False,
        description="Let each campus connect part of its MW flexible: the model chooses firm "
        "and flexible IT MW per site and year; flexible MW may be curtailed in the snapshots "
        "(and, preventively, the outages) where grid limits bind; firm MW never. Needs the "
        "grid model (`layers.grid`, `grid.enabled`).",
    )
    max_share: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Most of a site's IT MW that may connect flexible, each year [fraction].",
    )
    depth: float = Field(
        default=0.30,
        ge=0,
        le=1,
        description="Share of the flexible MW's draw that may be curtailed at once [fraction]. "
        "Default 0.30: AI campuses have held 25 % (Phoenix field trial, 256 GPUs, 3 h; "
        "arXiv 2507.00909) to over 30 % (London trial, up to 10 h) power reductions.",
    )
    budget_share: float = Field(
        default=0.005,
        ge=0,
        le=1,
        description="Curtailment budget per site and year: curtailed energy at most this share "
        "of the flexible MW's draw over a whole year (peak draw x 8,760 h) [fraction]; 0.005 "
        "= 43.8 h of the whole flexible draw, or 146 h at a 30 % depth. Default 0.5 %, the "
        "middle of the range of Norris et al. (Duke University, 'Rethinking Load Growth', "
        "2025): 0.25 % / 0.5 % / 1 % curtailment let about 76 / 98 / 126 GW of new US load "
        "fit existing headroom.",
    )
    peak_stress_hours: float = Field(
        default=87.6,
        ge=0,
        le=8784,
        description="Hours per year a peak snapshot with 0 `hours` stands for in the budget "
        "and cost of curtailment [h]. Default 87.6 h (1 % of the year): an assumption, not a "
        "published figure: the hours the grid is near its design peak, about the hours per "
        "year Duke's 1 % case curtails. A snapshot's own `stress_hours` overrides it.",
    )
    curtail_usd_per_mwh: float = Field(
        default=6_350.0,
        ge=0,
        description="Cost of curtailed compute per MWh of facility draw curtailed [USD/MWh], "
        "discounted like energy. Default 6,350 USD/MWh: the blended value of AI compute per "
        "MWh of electricity (the 'compute heat rate' of H. Royal, 2025, via RTO Insider; "
        "frontier inference about 50,000, mid-tier about 8,000; weak: trade press).",
    )
    flexible_usd_per_mw_year: float = Field(
        default=1_000.0,
        ge=0,
        description="Cost of holding one IT MW flexible for a year (controls, workload "
        "orchestration) [USD/MW-year], discounted like energy. Default 1,000: a small "
        "assumption, not a published figure, so that a plan connects flexible only the MW "
        "whose curtailment it uses.",
    )


class GridSettings(_Strict):
    """How the grid enters the model."""

    enabled: bool = Field(
        default=True,
        description="Model the network (DC power flow, line limits); false = campuses only "
        "need generation to exist and energy is priced at `costs.energy_usd_per_mwh`. Without "
        "a `layers.grid` the network is never modelled (a note says so).",
    )
    snapshots: list[Snapshot] = Field(
        default_factory=_default_snapshots,
        min_length=1,
        description="Snapshots per year: one peak for limits, weighted typical ones for energy.",
    )
    campus_utilisation: float = Field(
        default=0.85,
        gt=0,
        le=1,
        description="Average IT load as a share of IT capacity in typical snapshots [fraction] "
        "(AI training and inference campuses run near flat).",
    )
    formulation: Literal["auto", "angle", "ptdf"] = Field(
        default="auto",
        description="`angle`: DC power flow with voltage angles and every line limit in the "
        "model; `ptdf`: flows from power transfer distribution factors, with line limits added "
        "lazily (only those a solution violates; LP relaxation first, then the MIP); `auto` "
        "(default): `ptdf` for networks of 100 buses or more, else `angle`. Both give "
        "the same optimum within the MIP gap; `ptdf` is faster on large networks where few "
        "limits bind (the demo: 0.48x the time; a 300-bus case: 0.41x).",
    )
    cost_segments: int = Field(
        default=4,
        ge=1,
        le=100,
        description="Secants approximating each polynomial (MATPOWER gencost model 2) generator "
        "cost between its p_min and p_max; piecewise-linear costs (model 1) are taken exactly. "
        "A quadratic c2 p^2 + c1 p + c0 is overestimated by at most "
        "c2 * ((p_max - p_min) / cost_segments)^2 / 4 [USD/h] per generator.",
    )
    line_limits: bool = Field(
        default=True, description="Enforce branch thermal ratings (rating_mw)."
    )
    upgrades: bool = Field(
        default=True,
        description="Offer the grid layer's upgrade options to the model: branch reconductoring "
        "(`upgrade_added_mw`, `upgrade_cost_usd`, `upgrade_lead_time_years` on branches, or "
        "`layers.grid.branch_upgrades`) and substation upgrades (`substation_upgrade_*` on "
        "buses, or `layers.grid.substations`). Each is a yes/no decision, in "
        "service from the year chosen (no earlier than the first planning year plus its lead "
        "time), paid in that year.",
    )
    n_minus_1: Contingencies = Field(
        default_factory=Contingencies, description="N-1 security (off by default)."
    )
    derate: dict[str, Annotated[float, Field(gt=0, le=10)]] = Field(
        default_factory=dict,
        description="Branch ID -> factor on its normal and emergency ratings (0.8 = 80 %), for "
        "'what if' studies (`siting grid stress --derate`).",
    )
    outages: list[str] = Field(
        default_factory=list,
        description="Branch IDs taken out of service for the whole plan (`siting grid stress "
        "--outage`).",
    )
    upgrade_budget_usd: float | None = Field(
        default=None,
        ge=0,
        description="Most the plan may spend on grid upgrades, present value [USD]; empty = no "
        "limit. `siting pareto --between cost,grid_upgrades` sets it point by point.",
    )
    lead_time_years_by_kv: dict[
        Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0, le=50)]
    ] = Field(
        default_factory=dict,
        description="Wait for a firm connection of new load by voltage class, counted from the "
        "first planning year [kV -> years]: a bus takes the entry of the highest class at or "
        "below its `voltage_kv` (`{0: 4, 345: 7}`: 4 years below 345 kV, 7 from it); a bus's "
        "own `firm_connect_year` (or `layers.grid.connections`) wins. Large-load connections "
        "wait about 4 to 7 years at Dominion and over 8 in PJM; generation waits about 5 "
        "years (median, LBNL 'Queued Up'). Default empty: no wait.",
    )
    flexible_lead_time_years: float | None = Field(
        default=None,
        ge=0,
        le=50,
        description="Wait for a flexible (curtailable) connection, counted from the first "
        "planning year [years]; a site's flexible year is the earlier of it and its bus's firm "
        "year (then construction and `campus.earliest_year`). Flexible connections energise "
        "in 12 to 18 months instead of 5 to 8 years (arXiv 2605.14714, ACTIVSg2000 Texas). "
        "Default empty: flexible connects when firm does.",
    )
    voll_usd_per_mwh: float = Field(
        default=10_000.0,
        gt=0,
        description="Penalty on unserved energy in the elastic re-solve that explains an "
        "infeasible scenario [USD/MWh].",
    )

    @model_validator(mode="after")
    def _one_peak(self) -> GridSettings:
        names = [s.name for s in self.snapshots]
        if len(set(names)) != len(names):
            raise ValueError(f"snapshot names repeat: {names}")
        hours = sum(s.hours for s in self.snapshots)
        if hours and not 8700 <= hours <= 8784:
            raise ValueError(
                f"snapshot hours sum to {hours:g}; expected a year (8,760 h; 8,784 in a leap "
                "year) or 0"
            )
        return self


class RegionShare(_Strict):
    """Bounds on one region's share of national IT capacity, every year."""

    min_share: float = Field(default=0.0, ge=0, le=1, description="Smallest share [fraction].")
    max_share: float = Field(default=1.0, ge=0, le=1, description="Largest share [fraction].")


class ZonePolicy(_Strict):
    """Designated growth zones (the `zones` layer)."""

    mode: Literal["ignore", "prefer", "require"] = Field(
        default="prefer",
        description="`prefer`: capacity in a zone earns `bonus_usd_per_mw`; `require`: at least "
        "`min_share` of capacity must sit in zones; `ignore`: zones are drawn only.",
    )
    bonus_usd_per_mw: float = Field(
        default=0.5e6,
        ge=0,
        description="Cost credit per MW of IT built inside a zone (prefer mode) [USD/MW].",
    )
    min_share: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Share of national IT capacity that must sit in zones (require mode) "
        "[fraction].",
    )


class DemandPolicy(_Strict):
    """Inference demand served from campuses within a latency limit (`demand_regions` layer)."""

    max_latency_ms: float = Field(
        default=10.0,
        gt=0,
        description="Round-trip network latency limit [ms]; reach = latency x "
        "`fibre_km_per_ms` / 2 / `route_factor`.",
    )
    fibre_km_per_ms: float = Field(
        default=200.0, gt=0, description="Signal speed in fibre [km/ms] (about 2/3 of c)."
    )
    route_factor: float = Field(
        default=1.5, ge=1, description="Fibre route length over straight-line distance."
    )
    cost_usd_per_mw_km: float = Field(
        default=200.0,
        ge=0,
        description="Yearly cost of serving one MW of demand over one km [USD/(MW km year)].",
    )
    costs_csv: Path | None = Field(
        default=None,
        description="CSV `region_id, site_id, cost_usd_per_mw` of yearly assignment costs "
        "[USD/(MW year)], replacing the distance cost for the pairs it lists.",
    )


class PublicInterest(_Strict):
    """Capacity reserved for public-interest use (universities, public agencies)."""

    share: float = Field(
        ge=0, le=1, description="Share of national IT capacity reserved, every year [fraction]."
    )
    in_zone: bool = Field(default=False, description="Eligible sites lie in a designated zone.")
    regions: list[str] = Field(
        default_factory=list, description="Eligible sites lie in one of these regions (IDs)."
    )
    max_bus_distance_km: float | None = Field(
        default=None, gt=0, description="Eligible sites lie this close to their bus [km]."
    )
    max_wue_l_per_kwh: float | None = Field(
        default=None,
        ge=0,
        description="Eligible sites' chosen cooling uses at most this much water [L/kWh].",
    )


class ExportMarket(_Strict):
    """An export market for IT capacity above a year's target (usable with or without
    demand scenarios)."""

    usd_per_mw_year: float = Field(
        ge=0,
        description="Price earned per MW IT above the year's target sold for one year "
        "[USD/(MW year)], discounted like the other costs (the cost part `export`, an "
        "earning). An assumption of the scenario: no published default (a colocation "
        "wholesale rate per MW-year is one reference point, docs/planners-guide.md).",
    )
    max_mw_by_year: ByYear[Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict,
        description="Most MW IT the market takes in each year [MW IT]; a year not named: no "
        "cap beyond the capacity above the target.",
    )


class Policy(_Strict):
    """Policies beyond the national targets."""

    region_shares: dict[str, RegionShare] = Field(
        default_factory=dict, description="Min/max share of national capacity per region ID."
    )
    zones: ZonePolicy = Field(default_factory=ZonePolicy, description="Growth-zone policy.")
    demand: DemandPolicy | None = Field(
        default=None, description="Serve inference demand regions (needs `demand_regions`)."
    )
    public_interest: PublicInterest | None = Field(
        default=None, description="Reserved public-interest capacity."
    )
    co2_cap_t: float | None = Field(
        default=None,
        description="Most CO2 the campuses may add to the grid's emissions over the planning "
        "horizon [t CO2]: the generators' `co2_t_per_mwh` times their dispatch (snapshot hours "
        "x the years each planning year stands for), with the campuses minus without them; "
        "needs the grid model. Empty = no cap. `siting pareto --between cost,co2` sets it point "
        "by point. (Negative values are allowed: campuses with heat recovery or flexible load "
        "could in principle lower emissions, though this model's campuses only add load.)",
    )
    export: ExportMarket | None = Field(
        default=None,
        description="Export market: capacity above each year's target may be sold at a price "
        "per MW-year (off when empty).",
    )


#: Defaults of :class:`CoolingSettings` (assumptions; see its fields' descriptions).
_EXTRA_CAPEX_USD_PER_MW: dict[Cooling, float] = {"air": 0.4e6, "evaporative": 0.0, "liquid": 0.8e6}
_HEAT_RECOVERY_SHARE: dict[Cooling, float] = {"air": 0.0, "evaporative": 0.0, "liquid": 0.6}


class CoolingSettings(_Strict):
    """Cooling technology costs (performance comes from `siting.candidates.cooling` and the
    climate)."""

    capex_usd_per_mw: dict[Cooling, float] = Field(
        default_factory=lambda: dict(_EXTRA_CAPEX_USD_PER_MW),
        description="Extra build cost per MW of IT over the base capex, by technology [USD/MW]. "
        "Defaults are assumptions, not published figures: dry coolers and chillers cost more "
        "than towers, and direct liquid cooling adds manifolds and CDUs.",
    )
    heat_recovery_share: dict[Cooling, float] = Field(
        default_factory=lambda: dict(_HEAT_RECOVERY_SHARE),
        description="Share of IT heat recoverable at useful temperature, by technology "
        "[fraction] (warm-water liquid cooling returns 45 C and above).",
    )


#: Hours per year that turn an annual yield into a capacity factor [h]: CF = yield
#: [kWh/kW/year] / 8,760 h (a 365-day year).
YIELD_HOURS_PER_YEAR = 8760.0


class ResourceRasterRef(RasterRef):
    """A resource raster giving an on-site option's annual capacity factor at each site."""

    unit: Literal["fraction", "kwh_per_kw_year"] = Field(
        default="fraction",
        description="What the cells hold (after `scale`): `fraction`, an annual capacity "
        "factor [fraction] (e.g. a wind capacity-factor map such as the Global Wind Atlas's "
        "IEC class maps); `kwh_per_kw_year`, an annual specific yield [kWh/kWp/year] (e.g. "
        "the Global Solar Atlas's PVOUT), turned into a capacity factor as yield / 8,760 h.",
    )
    scale: float = Field(
        default=1.0,
        gt=0,
        description="Factor applied to every cell before `unit` is read [dimensionless] "
        "(e.g. 0.01 for a capacity factor stored as integer percent); default 1.",
    )


OnsiteTechnology = Literal[
    "solar_pv", "wind", "battery", "gas_turbine", "gas_engine", "fuel_cell", "other"
]


class OnsiteOption(_Strict):
    """One on-site ("behind-the-meter") generation or storage technology a campus may build.

    Costs and performance have no default where they depend on the technology (give them
    from a source such as NREL's Annual Technology Baseline or EIA's capital cost
    assumptions; docs/planners-guide.md lists the figures the demo uses and where from).
    """

    name: str = Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$",
        description="Option ID (letters, digits, `_`): names it in `onsite.csv` and the "
        "relief table (`onsite_<name>`).",
    )
    technology: OnsiteTechnology = Field(description="What it is (for the pages).")
    capex_usd_per_mw: float = Field(
        ge=0,
        description="Build cost per MW of output (storage: per MW of power, its energy "
        "included) [USD/MW]; annualised over `lifetime_years` at `costs.discount_rate` and "
        "paid every year the MW is in service (replaced at the end of its life).",
    )
    fixed_usd_per_mw_year: float = Field(
        default=0.0, ge=0, description="Fixed operation and maintenance [USD/MW-year]."
    )
    variable_usd_per_mwh: float = Field(
        default=0.0,
        ge=0,
        description="Variable cost of output, fuel included (storage: per MWh discharged; "
        "the charging energy is paid at the grid's price) [USD/MWh].",
    )
    lifetime_years: float = Field(
        gt=0, le=100, description="Economic life that annualises the capex [years]."
    )
    co2_t_per_mwh: float = Field(
        default=0.0,
        ge=0,
        description="Direct emissions per MWh of output [t CO2/MWh] (natural gas: 0.0531 t "
        "per MMBtu (EIA carbon dioxide emissions coefficients) x the heat rate; 0 for solar, "
        "wind, storage).",
    )
    water_m3_per_mwh: float = Field(
        default=0.0,
        ge=0,
        description="Water consumed per MWh of output [m3/MWh]; counted in the campus water "
        "metric and cap, not drawn from the modelled water sources.",
    )
    availability: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Output available per MW built in snapshots `availability_by_snapshot` "
        "does not name [fraction] (a capacity factor; 1 for dispatchable plant).",
    )
    availability_by_snapshot: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict,
        description="Output available per MW built in each named snapshot (`grid.snapshots` "
        "names) [fraction]: the mean capacity factor over the hours the snapshot stands for "
        "(e.g. solar about 0.6 on the design hot afternoon, 0.25 over a typical year).",
    )
    availability_raster: ResourceRasterRef | None = Field(
        default=None,
        description="Resource raster (GeoTIFF) giving the option's annual capacity factor "
        "at each candidate site [fraction, or kWh/kWp/year with `unit`], sampled like the "
        "climate rasters (mean over a site's polygon, else the cell at its point). The "
        "snapshot profile (`availability_by_snapshot`, `availability`) then only shapes the "
        "year: availability in snapshot h = clip(CF_site x a_h / mean_a, 0, 1), mean_a the "
        "profile's mean over the snapshots' `hours`. A site where the raster has no value "
        "does not get the option (a note; an error when `sites` names it). Generators only.",
    )
    storage_mwh_per_mw: float = Field(
        default=0.0,
        ge=0,
        le=1000,
        description="Energy per MW of power [MWh/MW = h]; above 0 the option is storage: its "
        "output is discharge paid for by charging (see docs/planners-guide.md for the energy "
        "balance over representative snapshots).",
    )
    round_trip_efficiency: float = Field(
        default=0.85,
        gt=0,
        le=1,
        description="Storage energy out per energy in [fraction]. Default 0.85: NREL Annual "
        "Technology Baseline 2024, utility-scale lithium-ion batteries.",
    )
    max_mw_per_site: float = Field(
        gt=0, description="Most MW of this option at one site [MW] (land, permits, fuel)."
    )
    sites: list[str] | None = Field(
        default=None,
        description="Candidate site IDs that may build it (a `layers.sites` site_id); empty "
        "= every candidate site.",
    )


class OnsiteSettings(_Strict):
    """On-site generation and storage at the campuses (off without options)."""

    options: list[OnsiteOption] = Field(
        default_factory=list,
        description="The technologies a campus may build on site; none = no on-site "
        "generation (the default).",
    )
    islanding: bool = Field(
        default=False,
        description="A campus whose on-site options cover its draw in every snapshot may "
        "run islanded: no grid connection, no interconnection cost "
        "(`costs.interconnection_usd_per_mw`, the tie line), nothing drawn from the grid.",
    )
    peak_event_hours: float = Field(
        default=4.0,
        gt=0,
        le=24,
        description="How long the stress of a 0-hour (peak) snapshot lasts [h]: storage "
        "discharging there holds that output this long from its energy. Default 4 h, the "
        "duration of the capacity products batteries sell in ERCOT and CAISO (a modelling "
        "choice, not a measured figure).",
    )

    @model_validator(mode="after")
    def _options_once(self) -> OnsiteSettings:
        names = [o.name for o in self.options]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"onsite.options names {twice} more than once; give each a name")
        stores = [o.name for o in self.options if o.availability_raster and o.storage_mwh_per_mw]
        if stores:
            raise ValueError(
                f"onsite.options {stores}: availability_raster gives a generator's annual "
                "capacity factor; a storage option (storage_mwh_per_mw > 0) cannot take one"
            )
        if self.islanding and not self.options:
            raise ValueError("onsite.islanding needs onsite.options to supply the campus")
        return self


class Objective(_Strict):
    """What the model optimises."""

    sense: Literal["min_cost", "max_capacity"] = Field(
        default="min_cost",
        description="`min_cost`: net present cost meeting the targets; `max_capacity`: most IT "
        "MW in the last year within `budget_usd`.",
    )
    budget_usd: float | None = Field(
        default=None, gt=0, description="Net present budget for `max_capacity` [USD]."
    )

    @model_validator(mode="after")
    def _budget(self) -> Objective:
        if self.sense == "max_capacity" and self.budget_usd is None:
            raise ValueError("objective.sense max_capacity needs objective.budget_usd")
        return self


class ComputeSettings(_Strict):
    """Accelerators and their generations: the IT fit-out of each campus's shell (issue 22).

    Present, the model plans accelerators of each generation per site and year (installed,
    in service, retired at the end of their service life), their rack positions on the
    site's floor, and the IT MW they use within the shell's envelope; absent, the model is
    today's (IT MW only).
    """

    generations_csv: Path | None = Field(
        default=None,
        description="Generation table (CSV, the columns of the shipped "
        "`siting/data/accelerators.csv`: generation, first_year, kw_per_accelerator, "
        "accelerators_per_rack, rack_kw, needs_liquid, compute_per_accelerator, "
        "service_life_years, capex_usd_per_accelerator, tokens_per_s_per_accelerator, source); "
        "relative to the scenario file. Empty: the shipped table (docs/planners-guide.md "
        "gives its sources).",
    )
    generations: list[str] | None = Field(
        default=None,
        min_length=1,
        description="The generations the plan may install (names in the table); empty: all.",
    )
    building_usd_per_rack: float = Field(
        default=25_000.0,
        ge=0,
        description="Building floor (white space, its share of the hall and support space) per "
        "rack position [USD/rack], paid when the position is built: about 8 m2 gross per rack "
        "at about 3,000 USD/m2 of shell [inferred]. It comes on top of "
        "`costs.capex_usd_per_mw`, which pays the power and cooling plant per MW IT (the "
        "envelope) and excludes IT equipment.",
    )
    land_rack_kw: float = Field(
        default=40.0,
        gt=0,
        description="Rack density at which a site's land-derived `max_it_mw` was counted "
        "[kW/rack]: the site holds at most `max_it_mw x 1000 / land_rack_kw` rack positions. "
        "Denser racks put more IT MW on the same land. Default: a mixed air-cooled hall "
        "[inferred].",
    )
    disposal_usd_per_accelerator: float = Field(
        default=500.0,
        ge=0,
        description="Decommissioning, data sanitisation and recycling per accelerator at the "
        "end of its service life [USD/accelerator] [inferred; IT asset disposition quotes "
        "run tens to hundreds of USD per server].",
    )
    early_retirement: bool = Field(
        default=False,
        description="Allow accelerators to be retired before the end of their service life "
        "(to free rack positions or the envelope for a denser generation sooner). Early "
        "retirement saves nothing: the cohort's hardware is paid for its whole life. Off "
        "(default): each cohort serves its whole `service_life_years` (within the horizon), "
        "the usual refresh cycle, and the plan never shows hardware idle for no reason.",
    )


class PactEnergy(_Strict):
    """A compute pact's energy contract: a volume per year at a fixed price."""

    usd_per_mwh: float = Field(
        ge=0,
        description="Contract price [USD/MWh] of the contracted energy the pact's campuses use.",
    )
    mwh_per_year: float = Field(
        gt=0,
        description="Contracted volume [MWh/year]: the most energy per planning year the pact's "
        "campuses (its sites that meet its security tier) may take at the contract price; a "
        "cap, not take-or-pay.",
    )
    source: Literal["generators", "region", "ppa"] = Field(
        default="ppa",
        description="Where the energy comes from: `generators` (named existing generators, "
        "`generators`), `region` (a region's supply, `region`), or `ppa` (a new-build plant "
        "contracted for the pact). Without the grid model every source replaces the flat "
        "`costs.energy_usd_per_mwh` by the contract price for the volume used. With the grid "
        "model, a `ppa` delivers a flat block at the pact's campuses (it lowers their draw "
        "from the grid in every snapshot, priced at the contract price), while a contract "
        "with existing `generators` or a `region` moves money between campus and seller and "
        "leaves the system's dispatch cost, and so the plan, unchanged: it is reported only "
        "(docs/planners-guide.md, compute pacts).",
    )
    generators: list[str] = Field(
        default_factory=list,
        description="Generator IDs of the grid layer the energy comes from (source `generators`).",
    )
    region: str | None = Field(
        default=None, description="Region ID the energy comes from (source `region`)."
    )

    @model_validator(mode="after")
    def _source_named(self) -> PactEnergy:
        if self.source == "generators" and not self.generators:
            raise ValueError("source generators needs `generators` (generator IDs)")
        if self.source == "region" and not self.region:
            raise ValueError("source region needs `region` (a region ID)")
        return self


class Pact(_Strict):
    """A compute pact (issue 22): chip supply under a licence, the sites it applies to and
    the security tier they must meet, an energy contract and a public-interest share."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$",
        description="Short name of the pact (letters, digits, `_.-`), unique among pacts.",
    )
    sites: list[str] = Field(
        default_factory=list, description="Candidate site IDs the pact applies to."
    )
    zones: list[str] = Field(
        default_factory=list,
        description="Zone IDs (`layers.zones`) whose sites the pact applies to.",
    )
    regions: list[str] = Field(
        default_factory=list,
        description="Region IDs (`layers.regions`) whose sites the pact applies to. With no "
        "`sites`, `zones` or `regions`, the pact applies to every candidate site.",
    )
    supply_by_year: ByYear[dict[str, Annotated[float, Field(ge=0)]]] = Field(
        default_factory=dict,
        description="Accelerator supply schedule, e.g. an export licence ({year: {generation: "
        "count}}) [accelerators installed in that planning period, per period, not "
        "cumulative]: the pact's sites may install at most this many of the generation in "
        "that period, and none in a period not listed. A generation a pact lists is "
        "licensed: it may be installed only under a pact, at that pact's sites of at least "
        "its security tier. Needs the `compute` section.",
    )
    security_tier: int = Field(
        default=0,
        ge=0,
        description="Security tier the pact's sites must meet (the sites layer's "
        "`security_tier`, empty = 0): its licensed accelerators go only to sites of at "
        "least this tier. 0: any site.",
    )
    energy: PactEnergy | None = Field(
        default=None, description="Energy contract of the pact (empty: none)."
    )
    public_interest_share: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Share of the pact's compute reserved for public-interest use, every year "
        "[fraction]: held at the pact's sites eligible under `policy.public_interest` (all "
        "its sites without that policy). The pact's compute: the compute units of its "
        "licensed generations in service at its sites (all generations when it licenses "
        "none).",
    )


class Targets(_Strict):
    """National targets."""

    it_mw_by_year: ByYear[Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict,
        description="Cumulative national IT capacity to have in service by each year [MW IT].",
    )
    shortfall_usd_per_mw_year: float | None = Field(
        default=None,
        ge=0,
        description="Cost of delay: the value of compute not delivered, per MW IT short of a "
        "year's target for one year [USD/(MW year)], discounted like the other costs. Set, "
        "the targets are soft: the plan may fall short and pays this per MW-year; empty "
        "(default): the targets are hard. A floor: a campus built but unpowered still "
        "carries its capital, 11.7 M USD/MW (Cushman & Wakefield 2025) at 7 % over a 25-year "
        "shell life, about 1.0 M USD per MW-year [inferred]; idle accelerators and lost "
        "compute revenue come on top (docs/planners-guide.md).",
    )
    accelerators_by_year: ByYear[dict[str, Annotated[float, Field(ge=0)]]] = Field(
        default_factory=dict,
        description="Accelerators of each generation to have in service by each year, "
        "nationally ({year: {generation: count}}) [accelerators]; needs the `compute` section "
        "(generation names from its table).",
    )
    compute_by_year: ByYear[Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict,
        description="Compute to have in service by each year, nationally [compute units: "
        "H100-equivalents, the table's `compute_per_accelerator`]; needs the `compute` section.",
    )


#: What a two-stage plan may decide before the demand is known (:class:`DemandScenarios`).
FirstStage = Literal["sites", "cooling", "shells"]


def _first_stage_default() -> list[FirstStage]:
    """Sites and their cooling are decided now (the default first stage)."""
    return ["sites", "cooling"]


class DemandScenario(_Strict):
    """One demand scenario of a two-stage plan: targets that may come, with a probability."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$",
        description="Short name (letters, digits, `_.-`); names its plan folder.",
    )
    probability: float = Field(
        ge=0, le=1, description="Probability of this demand [fraction]; all sum to 1."
    )
    targets: dict[str, Any] = Field(
        default_factory=dict,
        description="Fields of the scenario's `targets` section this demand replaces (e.g. "
        "`it_mw_by_year` [MW IT]), merged onto the base targets year by year like `extends`; "
        "fields not named keep the base's values.",
    )

    @field_validator("targets")
    @classmethod
    def _known_targets(cls, v: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(str(k) for k in v if str(k) not in Targets.model_fields)
        if unknown:
            raise ValueError(
                f"unknown target field(s) {unknown}; expected fields of `targets`: "
                f"{sorted(Targets.model_fields)}"
            )
        return v


class DemandScenarios(_Strict):
    """Demand that may not come: a two-stage plan over demand scenarios (`siting twostage`)."""

    scenarios: list[DemandScenario] = Field(
        min_length=1,
        max_length=100,
        description="The demand scenarios, each with its probability [fraction] and targets.",
    )
    first_stage: list[FirstStage] = Field(
        default_factory=_first_stage_default,
        min_length=1,
        description="What is decided now, the same in every scenario: `sites` (which sites "
        "open), `cooling` (each open site's cooling technology) and, with the compute "
        "section, `shells` (each site's floor: the rack positions built in each year "
        "[rack positions]). Everything else (opening year, modules per year, fit-out, "
        "export, dispatch, water) is decided per scenario.",
    )
    hedging_rounds: int = Field(
        default=3,
        ge=0,
        le=50,
        description="Rounds of progressive hedging on the binary first stage, each giving "
        "one more candidate first stage (0: none) [rounds].",
    )
    hedging_rho_usd: float | None = Field(
        default=None,
        gt=0,
        description="Progressive hedging's penalty per first-stage decision away from the "
        "probability-weighted mean [USD]; empty: 10 % of the mean site fixed cost plus the "
        "cost of its smallest campus.",
    )

    @model_validator(mode="after")
    def _probabilities(self) -> DemandScenarios:
        names = [s.name for s in self.scenarios]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"demand scenario names must be unique; repeated: {dup}")
        total = math.fsum(s.probability for s in self.scenarios)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"demand scenario probabilities sum to {total:g}, expected 1 ("
                + ", ".join(f"{s.name}: {s.probability:g}" for s in self.scenarios)
                + ")"
            )
        if len(set(self.first_stage)) != len(self.first_stage):
            raise ValueError(f"first_stage repeats a decision: {self.first_stage}")
        for extra in ("cooling", "shells"):
            if extra in self.first_stage and "sites" not in self.first_stage:
                raise ValueError(
                    f"first_stage `{extra}` needs `sites` ({extra} of the sites opened now)"
                )
        return self


def demand_targets(base: Targets, over: dict[str, Any]) -> Targets:
    """``base`` with the target fields ``over`` names merged on (year by year, like
    ``extends``), validated.

    Raises
    ------
    ValueError
        When the merged targets are not valid (the message says which field).
    """
    merged = _merge(base.model_dump(), over, ("targets",))
    return Targets.model_validate(merged)


def demand_scenario(sc: Scenario, name: str) -> Scenario:
    """The scenario ``sc`` under its demand scenario ``name``: its targets replaced by the
    demand's (:func:`demand_targets`), without the ``demand_scenarios`` section.

    Raises
    ------
    KeyError
        When ``sc`` has no demand scenario ``name``.
    """
    if sc.demand_scenarios is None:
        raise KeyError(name)
    by_name = {d.name: d for d in sc.demand_scenarios.scenarios}
    ds = by_name[name]
    return sc.model_copy(
        update={"targets": demand_targets(sc.targets, ds.targets), "demand_scenarios": None}
    )


class DisplayCurrency(_Strict):
    """A local currency shown beside US dollars on the report and the map (display only:
    the model and every output file stay in USD)."""

    code: str = Field(
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code of the currency, e.g. `GBP`, `SAR`, `EUR`.",
    )
    per_usd: float = Field(
        gt=0,
        description="Units of the currency per US dollar [code/USD], e.g. 0.79 GBP per USD "
        "(Bank of England spot rate, mid-2025) or 3.75 SAR per USD (the riyal's peg, Saudi "
        "Central Bank, since 1986).",
    )
    as_of: str = Field(
        default="",
        max_length=40,
        description="When the rate holds, e.g. `2025-06` (for the notes).",
    )
    source: str = Field(
        default="", max_length=200, description="Where the rate is from (for the notes)."
    )


class ReportSettings(_Strict):
    """How the report and the map present the plan (presentation only: the plan is the same)."""

    currency: DisplayCurrency | None = Field(
        default=None,
        description="A local currency to show beside US dollars where the report and the map "
        "show costs (display only; the model stays in USD); empty = USD only.",
    )


class Costs(_Strict):
    """Costs in constant US dollars of ``currency_year``."""

    currency_year: int = Field(default=2025, description="Year of the constant dollars.")
    capex_usd_per_mw: float = Field(
        default=11.7e6,
        ge=0,
        description="Campus build cost per MW of IT (critical) capacity, excluding land and IT "
        "equipment [USD/MW]. Default: US average 11.7 M (Cushman & Wakefield Data Center Cost "
        "Guide 2025; range 9.3 to 15.0 M).",
    )
    site_fixed_cost_usd: float = Field(
        default=25e6, ge=0, description="One-off cost of opening a site (access, permits) [USD]."
    )
    interconnection_usd_per_km: float = Field(
        default=1.7e6,
        ge=0,
        description="Cost of a campus tie line to its bus per route km [USD/km] "
        "(345 kV lines about 2.6-2.8 M USD per mile with substations, MISO filings).",
    )
    pipeline_usd_per_km: float = Field(
        default=1.0e6, ge=0, description="Cost of a water pipeline per km [USD/km]."
    )
    interconnection_usd_per_mw: float = Field(
        default=0.1e6,
        ge=0,
        description="Substation and connection cost per MW of campus draw capacity [USD/MW] "
        "(about 0.3 M/MW in one PG&E case for a full new substation: PG&E and VEA unit cost "
        "guides).",
    )
    water_usd_per_m3: float | None = Field(
        default=None,
        ge=0,
        description="Override of every source's cost_usd_per_m3 [USD/m3]; empty = per source.",
    )
    energy_usd_per_mwh: float = Field(
        default=45.0,
        ge=0,
        description="Price of campus energy when `grid.enabled` is false or there is no "
        "`layers.grid` [USD/MWh] (with a grid, energy is priced by the generators' dispatch "
        "costs).",
    )
    discount_rate: float = Field(
        default=0.07, ge=0, lt=1, description="Real discount rate per year [fraction]."
    )
    final_period_years: float = Field(
        default=1.0,
        gt=0,
        description="Years of operation the last planning year stands for (earlier years stand "
        "for the years until the next planning year) [years].",
    )


class WaterPolicy(_Strict):
    """Water policy."""

    enabled: bool = Field(
        default=True,
        description="Model campus water (need, sources in reach, capacities, costs); false = "
        "water is ignored and every cooling technology is allowed everywhere (for comparisons).",
    )
    potable_cap_m3_per_day: float | None = Field(
        default=None,
        ge=0,
        description="Most potable water all campuses together may use [m3/day]; empty = no cap.",
    )
    cap_m3_per_day: float | None = Field(
        default=None,
        ge=0,
        description="Most water all campuses together may use, from every source, in each "
        "planning year [m3/day]; empty = no cap. `siting pareto --between cost,water` sets it "
        "point by point.",
    )


class SolverSettings(_Strict):
    """MIP solver settings."""

    name: str = Field(
        default="highs",
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="`highs` (default, through highspy), or any MIP solver Pyomo knows by name "
        "(`cbc`, `glpk`, `gurobi` ...).",
    )
    time_limit_s: float = Field(
        default=600.0,
        gt=0,
        description="Wall-clock limit of the whole run up to the plan [s]: loading the layers, "
        "the grid baseline, building the model and every solve round (lazy limits, kernel, "
        "the explanation of an infeasible scenario) share one deadline; verifying and "
        "writing the plan come after it. At the deadline the best plan that meets every "
        "requirement is kept (marked not proven optimal, with its gap), or the run stops "
        "with the best bound (exit 4).",
    )
    mip_gap: float = Field(default=0.005, ge=0, lt=1, description="Relative MIP gap [fraction].")
    threads: int = Field(default=2, ge=1, le=1024, description="Solver threads.")
    approximate_network: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Large grids: a first plan rounded from the exact LP relaxation with the "
        "targets raised until whole modules meet them (siting.solve.rounding), then, while "
        "it is not within the gap, the MILP with approximate line-limit rows (PTDF entries "
        "up to 0.01 held at the exact LP relaxation's dispatch: rows ten times sparser); "
        "every plan verified and its dispatch re-solved on the exact network, the gap "
        "measured to the exact LP relaxation's bound (siting.solve.approx): `auto` from "
        "1,000 buses on (min_cost plans, PTDF form, HiGHS; with the candidate kernel, its "
        "MILPs use them), "
        "`on` always, `off` never.",
    )
    candidate_kernel: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Solve the MILP on the candidate sites its LP relaxation wants (the "
        "kernel), with a bound on the whole model from the LP's reduced costs "
        "(siting.solve.kernel): `auto` from 5,000 candidate sites on (min_cost plans, "
        "HiGHS), `on` always, `off` never.",
    )
    why_resolve: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Why here by re-solve (siting.results.counterfactual): after the plan, "
        "solve it again once per chosen site with that site forbidden (warm-started, each "
        "re-solve limited to 2 x the plan's solve time, between 10 and 120 s, at the plan's "
        "achieved gap, at least 0.01 %), to report what the plan would cost without it "
        "[USD] and which sites take its MW (`why_here.csv`, the report, the map's popups). "
        "`auto` when the plan has at most 12 chosen sites, its model at most 2,000 integer "
        "columns (a count, not a time, so a plan's report is the same on any machine), "
        "neither the candidate kernel nor approximate network rows solved it and it is not "
        "a study's run (sweep, grid stress); `on` always (min_cost plans); `off` never. "
        "Without it, each site is compared by unit cost with the next-best site.",
    )


class GrowthZones(_Strict):
    """How the plan's chosen sites are grouped into growth zones (`zones` output layer)."""

    distance_km: float = Field(
        default=30.0,
        gt=0,
        description="Chosen sites this close to each other (or closer) join one growth zone, "
        "as do sites that connect to the same bus or draw on the same water source "
        "(single linkage) [km].",
    )
    corridor_buffer_km: float = Field(
        default=2.0,
        gt=0,
        description="Half-width of the corridors drawn from a zone's sites to its buses and "
        "water sources, smallest radius drawn around a site, and the smoothing distance of "
        "the zone's outline [km].",
    )


class Scenario(_Strict):
    """A siting scenario: one region, one set of years, targets and policies."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$",
        description="Short name (letters, digits, `_.-`); names the output folder `maps/<name>/`.",
    )
    title: str = Field(default="", max_length=1000, description="Human title for maps and reports.")
    description: str = Field(default="", description="What this scenario asks.")
    extends: Path | None = Field(
        default=None, description="A base scenario this one overrides; relative to this file."
    )
    crs: str | None = Field(
        default=None,
        description="Projected CRS all layers are brought into (EPSG code or WKT); empty = the UTM "
        "zone of the region's centre, chosen automatically (and said so).",
    )
    years: list[int] = Field(
        min_length=1,
        max_length=MAX_YEARS,
        description="Planning years (calendar years, strictly increasing).",
    )
    layers: LayersSection = Field(description="Input layers.")
    campus: CampusRules = Field(default_factory=CampusRules, description="Campus build rules.")
    targets: Targets = Field(default_factory=Targets, description="National targets.")
    costs: Costs = Field(default_factory=Costs, description="Costs.")
    water: WaterPolicy = Field(default_factory=WaterPolicy, description="Water policy.")
    solver: SolverSettings = Field(default_factory=SolverSettings, description="Solver settings.")
    candidates: CandidateRules = Field(
        default_factory=CandidateRules, description="Candidate generation and screening."
    )
    grid: GridSettings = Field(default_factory=GridSettings, description="Grid modelling.")
    cooling: CoolingSettings = Field(
        default_factory=CoolingSettings, description="Cooling technology costs."
    )
    policy: Policy = Field(default_factory=Policy, description="Policies.")
    onsite: OnsiteSettings = Field(
        default_factory=OnsiteSettings,
        description="On-site generation and storage at the campuses (off by default).",
    )
    compute: ComputeSettings | None = Field(
        default=None,
        description="Accelerators, their generations and refresh in each campus's shell "
        "(empty: the model plans IT MW only).",
    )
    pacts: list[Pact] = Field(
        default_factory=list,
        description="Compute pacts: chip supply under a licence, security tiers, energy "
        "contracts and public-interest shares (needs the `compute` section).",
    )
    objective: Objective = Field(default_factory=Objective, description="Objective.")
    flexibility: Flexibility = Field(
        default_factory=Flexibility,
        description="Flexible (curtailable) connection of campuses (off by default).",
    )
    growth_zones: GrowthZones = Field(
        default_factory=GrowthZones,
        description="Grouping of the chosen sites into growth zones (outputs `zones`).",
    )
    demand_scenarios: DemandScenarios | None = Field(
        default=None,
        description="Demand that may not come: scenarios of targets with probabilities, for "
        "a two-stage plan (`siting twostage`; `siting plan` plans the base targets).",
    )
    report: ReportSettings = Field(
        default_factory=ReportSettings,
        description="Presentation of the report and the map (a local currency beside USD).",
    )

    # where it came from (not part of the file)
    source_file: Path | None = Field(default=None, exclude=True, description="(set by the loader)")

    @field_validator("years")
    @classmethod
    def _years_increasing(cls, v: list[int]) -> list[int]:
        for a, b in zip(v, v[1:], strict=False):
            if b <= a:
                raise ValueError(f"years must be strictly increasing; {b} follows {a}")
        for y in v:
            if not 1900 <= y <= 2200:
                raise ValueError(f"year {y} is not a calendar year between 1900 and 2200")
        return v

    @model_validator(mode="after")
    def _targets_in_years(self) -> Scenario:
        if self.policy.demand is not None and self.layers.demand_regions is None:
            raise ValueError("policy.demand needs a layers.demand_regions layer")
        bad = sorted(set(self.targets.it_mw_by_year) - set(self.years))
        if bad:
            raise ValueError(
                f"targets.it_mw_by_year has years {bad} that are not planning years {self.years}"
            )
        n1_from = self.grid.n_minus_1.from_year
        if n1_from is not None and n1_from > self.years[-1]:
            raise ValueError(
                f"grid.n_minus_1.from_year {n1_from} is after the last planning year "
                f"{self.years[-1]}"
            )
        if self.water.cap_m3_per_day is not None and not self.water.enabled:
            raise ValueError(
                "water.cap_m3_per_day caps campus water, but water.enabled is false (water "
                "ignored); enable water or drop the cap"
            )
        if self.policy.co2_cap_t is not None and (
            self.layers.grid is None or not self.grid.enabled
        ):
            raise ValueError(
                "policy.co2_cap_t needs the grid model (layers.grid and grid.enabled): campus "
                "emissions are the generators' co2_t_per_mwh times the dispatch they add"
            )
        self._compute_targets()
        tg = self.targets
        if tg.shortfall_usd_per_mw_year is not None and not (
            tg.it_mw_by_year or tg.accelerators_by_year or tg.compute_by_year
        ):
            raise ValueError(
                "targets.shortfall_usd_per_mw_year prices the MW short of the targets, but "
                "targets.it_mw_by_year, accelerators_by_year and compute_by_year set none; "
                "set targets or drop the penalty"
            )
        snap_names = {sn.name for sn in self.grid.snapshots}
        for i, o in enumerate(self.onsite.options):
            unknown = sorted(set(o.availability_by_snapshot) - snap_names)
            if unknown:
                raise ValueError(
                    f"onsite.options[{i}] ({o.name}).availability_by_snapshot names snapshots "
                    f"{unknown} that are not in grid.snapshots {sorted(snap_names)}"
                )
        if self.flexibility.enabled and (self.layers.grid is None or not self.grid.enabled):
            raise ValueError(
                "flexibility.enabled needs the grid model (layers.grid and grid.enabled): "
                "curtailment relieves grid limits, and without a grid there are none"
            )
        self._check_demand_scenarios()
        if self.campus.earliest_year is not None and self.campus.earliest_year > self.years[-1]:
            raise ValueError(
                f"campus.earliest_year {self.campus.earliest_year} is after the last planning "
                f"year {self.years[-1]}"
            )
        return self

    def _check_demand_scenarios(self) -> None:
        """Each demand scenario's merged targets are valid and name only planning years."""
        if self.demand_scenarios is None:
            return
        if self.objective.sense != "min_cost":
            raise ValueError(
                "demand_scenarios compare plans by expected net present cost: they need "
                f"objective.sense min_cost, not {self.objective.sense}"
            )
        for ds in self.demand_scenarios.scenarios:
            try:
                t = demand_targets(self.targets, ds.targets)
            except ValidationError as e:
                why = "; ".join(
                    f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()
                )
                raise ValueError(f"demand scenario '{ds.name}': targets {why}") from None
            for fld in ("it_mw_by_year", "accelerators_by_year", "compute_by_year"):
                bad = sorted(set(getattr(t, fld)) - set(self.years))
                if bad:
                    raise ValueError(
                        f"demand scenario '{ds.name}': targets.{fld} has years {bad} that "
                        f"are not planning years {self.years}"
                    )
            if "shells" in self.demand_scenarios.first_stage and self.compute is None:
                raise ValueError(
                    "demand_scenarios.first_stage `shells` (each site's floor of rack "
                    "positions, decided now) needs the compute section; add `compute: {}`"
                )
            if (t.accelerators_by_year or t.compute_by_year) and self.compute is None:
                raise ValueError(
                    f"demand scenario '{ds.name}': targets in accelerators or compute need "
                    "the compute section (accelerator generations); add `compute: {}`"
                )

    def _compute_targets(self) -> None:
        """Refuse targets in accelerators or compute without the ``compute`` section, in
        years that are not planning years, or naming generations the section excludes."""
        t = self.targets
        for name, by_year in (
            ("accelerators_by_year", t.accelerators_by_year),
            ("compute_by_year", t.compute_by_year),
        ):
            if by_year and self.compute is None:
                raise ValueError(
                    f"targets.{name} needs the compute section (accelerator generations); "
                    "add `compute: {}` for the shipped table"
                )
            bad = sorted(set(by_year) - set(self.years))
            if bad:
                raise ValueError(
                    f"targets.{name} has years {bad} that are not planning years {self.years}"
                )
        self._pacts_checked()
        allowed = self.compute.generations if self.compute is not None else None
        if allowed is not None:
            for y, by_gen in t.accelerators_by_year.items():
                unknown = sorted(set(by_gen) - set(allowed))
                if unknown:
                    raise ValueError(
                        f"targets.accelerators_by_year.{y} names generations {unknown} that "
                        f"compute.generations does not allow ({allowed})"
                    )

    def _pacts_checked(self) -> None:
        """Refuse pacts without the ``compute`` section, twice the same name, supply in
        years that are not planning years, or naming generations the section excludes."""
        if not self.pacts:
            return
        if self.compute is None:
            raise ValueError(
                "pacts need the compute section (accelerator generations); add `compute: {}` "
                "for the shipped table"
            )
        names = [p.name for p in self.pacts]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"pacts: names {twice} are used more than once; expected each once")
        allowed = self.compute.generations
        for i, p in enumerate(self.pacts):
            bad = sorted(set(p.supply_by_year) - set(self.years))
            if bad:
                raise ValueError(
                    f"pacts[{i}] ({p.name}).supply_by_year has years {bad} that are not "
                    f"planning years {self.years}"
                )
            for y, by_gen in p.supply_by_year.items():
                unknown = sorted(set(by_gen) - set(allowed)) if allowed is not None else []
                if unknown:
                    raise ValueError(
                        f"pacts[{i}] ({p.name}).supply_by_year.{y} names generations "
                        f"{unknown} that compute.generations does not allow ({allowed})"
                    )

    def canonical_json(self) -> str:
        """The scenario as run, as canonical JSON (sorted keys; absolute paths)."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def digest(self) -> str:
        """SHA-256 of :meth:`canonical_json` (identifies the resolved scenario)."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files (for editors; ``siting schema``)."""
    schema = Scenario.model_json_schema()
    schema["properties"].pop("source_file", None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "siting scenario"
    return schema


# --------------------------------------------------------------------------- loading

#: Keys whose string values are file paths, resolved against the file they are written in.
_PATH_KEYS = ("path", "extends", "costs_csv", "generations_csv")


class _SafeScenarioLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` (plain data only: no Python objects, no code) that also refuses
    duplicate keys and deep nesting, and says where a tagged value cannot be read.

    PyYAML keeps the last of two equal keys silently, so a second ``costs:`` block would
    drop the first without a word; here it is an error naming both lines. Merge keys
    (``<<: *base``) still override as YAML means them. Every failure is a
    ``yaml.YAMLError`` with a line and column.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        # PyYAML composes recursively: refuse deep nesting before Python's stack runs out
        self._depth += 1
        try:
            if self._depth > MAX_SCENARIO_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"mappings and lists nested more than {MAX_SCENARIO_DEPTH} levels deep; a "
                    "scenario needs a handful",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # a value tagged as what it is not (``!!bool maybe``, ``!!timestamp x``,
        # ``!!float ''``, a 5,000-digit integer) makes PyYAML's safe constructors raise
        # KeyError, AttributeError, IndexError or ValueError: say which value, and where
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError, KeyError, IndexError, AttributeError, TypeError) as e:
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            value = (
                _short(node.value)
                if isinstance(node, yaml.ScalarNode)
                else f"this {getattr(node, 'id', 'node')}"
            )
            why = f" ({e})" if isinstance(e, (ValueError, OverflowError)) else ""
            raise yaml.constructor.ConstructorError(
                None, None, f"{value} cannot be read as {tag}{why}", node.start_mark
            ) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):  # the base class says what it found
            return super().construct_mapping(node, deep=deep)
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if (
                not isinstance(key_node, yaml.ScalarNode)
                or key_node.tag == "tag:yaml.org,2002:merge"
            ):
                continue
            key = self.construct_object(key_node)
            try:
                first = seen.get(key)
            except TypeError:  # unhashable: the base class says so
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found key {_short(key)} twice (first at line {first.line + 1}); a key "
                    "may appear once in a mapping",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _short(value: Any) -> str:
    """A short ``repr`` of an input value: long text, big or recursive containers are cut."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
        return f"an integer of about {int(value.bit_length() * 0.30103):,} digits"
    r = reprlib.Repr()
    r.maxstring = r.maxother = r.maxlong = 60
    r.maxlist = r.maxtuple = r.maxset = r.maxdict = 5
    r.maxlevel = 3
    try:
        text = r.repr(value)
    except (ValueError, RecursionError):  # an integer too long to print
        text = f"a {type(value).__name__}"
    return text if len(text) <= 80 else text[:77] + "..."


def _text_problem(text: str) -> str | None:
    """What is wrong with a text value or key as text, if anything."""
    if "\x00" in text:
        return f"contains a NUL character (got {_short(text)})"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return f"is not valid Unicode text (a lone surrogate at character {e.start + 1})"
    return None


def _value_problem(value: Any) -> str | None:
    """What is wrong with one scalar read from YAML, whatever key it is under, if anything."""
    if isinstance(value, str):
        return _text_problem(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"expected a finite number, got {value}"
    if isinstance(value, (int, float)) and abs(value) > MAX_SCENARIO_NUMBER:
        return (
            f"expected a number of at most {MAX_SCENARIO_NUMBER:g} in size, got "
            f"{_short(value)} (check the unit)"
        )
    return None


#: What YAML (safe loader) builds that holds other values: mappings, sequences, ``!!pairs``
#: and ``!!omap`` (tuples), ``!!set``.
_CONTAINERS = (dict, list, tuple, set, frozenset)


def _children(node: Any) -> list[tuple[Any, Any]]:
    """(key or index, value) pairs of a mapping or sequence; none for a scalar."""
    if isinstance(node, dict):
        return list(node.items())
    if isinstance(node, (list, tuple)):
        return list(enumerate(node))
    if isinstance(node, (set, frozenset)):
        return [(i, v) for i, v in enumerate(sorted(node, key=repr))]
    return []


def _check_tree(data: Any, file: str) -> None:
    """Refuse YAML no scenario can be, before anything walks it recursively.

    Refused: more than :data:`MAX_SCENARIO_VALUES` values once aliases are expanded (an
    alias bomb), a mapping or list that contains itself (a recursive alias), nesting deeper
    than :data:`MAX_SCENARIO_DEPTH`, numbers that are not finite or larger than
    :data:`MAX_SCENARIO_NUMBER`, and text (values or keys) with NUL characters or lone
    surrogates. Each mapping or list is visited once however often aliases repeat it, so
    the check is linear in the file.

    Raises
    ------
    ScenarioError
        Naming the file and the dotted key.
    """
    problems: list[Problem] = []
    done: dict[int, tuple[int, int]] = {}  # id(container) -> (values under it, depth)
    active: set[int] = set()
    # frames: [container, loc, children, next child, values so far, depth below]
    frames: list[list[Any]] = []

    def too_deep(loc: tuple[Any, ...]) -> None:
        raise ScenarioError(
            Problem(
                f"mappings and lists nested more than {MAX_SCENARIO_DEPTH} levels deep; a "
                "scenario needs a handful",
                file=file,
                field=_loc(loc) or None,
            )
        )

    def push(node: Any, loc: tuple[Any, ...]) -> None:
        if len(frames) >= MAX_SCENARIO_DEPTH:
            too_deep(loc)
        active.add(id(node))
        frames.append([node, loc, _children(node), 0, 1, 1])

    def too_many() -> None:
        raise ScenarioError(
            Problem(
                f"expands to more than {MAX_SCENARIO_VALUES:,} values once its YAML aliases are "
                "expanded (an alias bomb?); a scenario holds a few hundred",
                file=file,
            )
        )

    push(data, ())
    while frames:
        frame = frames[-1]
        node, loc, kids, i = frame[0], frame[1], frame[2], frame[3]
        if i == len(kids):
            frames.pop()
            active.discard(id(node))
            done[id(node)] = (frame[4], frame[5])
            if frames:
                frames[-1][4] += frame[4]
                frames[-1][5] = max(frames[-1][5], frame[5] + 1)
                if frames[-1][4] > MAX_SCENARIO_VALUES:
                    too_many()
            continue
        frame[3] = i + 1
        key, child = kids[i]
        here = (*loc, key)
        if (
            isinstance(node, dict)
            and isinstance(key, str)
            and len(problems) < MAX_SCENARIO_PROBLEMS
        ):
            bad = _text_problem(key)
            if bad:
                problems.append(Problem(f"key {bad}", file=file, field=_loc(here)))
        if not isinstance(child, _CONTAINERS):
            frame[4] += 1
            bad = _value_problem(child)
            if bad and len(problems) < MAX_SCENARIO_PROBLEMS:
                problems.append(Problem(bad, file=file, field=_loc(here)))
            continue
        if id(child) in active:
            raise ScenarioError(
                Problem(
                    "contains itself through a YAML alias (a recursive structure); expected "
                    "plain mappings, lists and values",
                    file=file,
                    field=_loc(here),
                )
            )
        if id(child) in done:  # an alias of a mapping or list already checked
            n, depth = done[id(child)]
            if len(frames) + depth > MAX_SCENARIO_DEPTH:
                too_deep(here)
            frame[4] += n
            frame[5] = max(frame[5], depth + 1)
            if frame[4] > MAX_SCENARIO_VALUES:
                too_many()
            continue
        push(child, here)
    if problems:
        raise ScenarioError(problems)


def read_yaml(path: Path) -> dict[str, Any]:
    """Read one YAML mapping safely, with errors that name the file.

    Only a regular file is read (not a directory, device or pipe), and at most
    :data:`MAX_SCENARIO_BYTES` of it; YAML goes through a safe loader (no Python objects,
    duplicate keys refused), then :func:`_check_tree`.
    """
    file = str(path)
    why = path_problem(path, expected="a YAML scenario file")
    if why is not None:
        raise ScenarioError(Problem(why, file=file))
    try:
        with open_regular(path) as f:  # refuses a FIFO swapped in since, without blocking
            size = os.fstat(f.fileno()).st_size
            blob = f.read(MAX_SCENARIO_BYTES + 1)
    except OSError as e:
        raise ScenarioError(Problem(f"cannot be read: {e.strerror or e}", file=file)) from None
    if size > MAX_SCENARIO_BYTES or len(blob) > MAX_SCENARIO_BYTES:
        got = f"{size:,} bytes" if size > MAX_SCENARIO_BYTES else "longer than that"
        raise ScenarioError(
            Problem(
                f"file is {got}; a scenario file may be at most {MAX_SCENARIO_BYTES:,} bytes",
                file=file,
            )
        )
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ScenarioError(
            Problem(f"not UTF-8 text ({e.reason} at byte {e.start})", file=file)
        ) from None
    try:
        # a SafeLoader: plain data only, never Python objects from the input
        data = yaml.load(text, Loader=_SafeScenarioLoader)  # noqa: S506
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ScenarioError(Problem(f"not valid YAML{where}: {problem}", file=file)) from None
    except RecursionError:
        raise ScenarioError(
            Problem(
                f"not valid YAML: nested too deeply to read (a scenario needs a handful of "
                f"levels; at most {MAX_SCENARIO_DEPTH})",
                file=file,
            )
        ) from None
    except (ValueError, OverflowError, KeyError, IndexError, AttributeError, TypeError) as e:
        # a safety net: _SafeScenarioLoader.construct_object turns these into YAML errors
        # with a line number (PyYAML's constructors raise them for a value tagged as what it
        # is not: 2027-13-45 as a date, an integer of 5,000 digits)
        raise ScenarioError(
            Problem(f"not valid YAML: a value cannot be read ({e})", file=file)
        ) from None
    if data is None:
        raise ScenarioError(Problem("file is empty; expected a YAML mapping", file=file))
    if not isinstance(data, dict):
        raise ScenarioError(
            Problem(f"expected a YAML mapping at the top, got {type(data).__name__}", file=file)
        )
    _check_tree(data, file)
    return data


def _resolve_paths(
    node: Any,
    base_dir: Path,
    *,
    file: str | None = None,
    problems: list[Problem] | None = None,
    loc: tuple[Any, ...] = (),
) -> Any:
    """Make every ``path:`` (and ``extends:``, ``costs_csv:``, ``generations_csv:``) string
    absolute against ``base_dir``.

    Paths are normalised (``..`` and symbolic links resolved) and ``~`` expanded, so the
    scenario as run names every file absolutely. An empty path, or one that cannot be
    resolved (``~nobody/x``), is a problem: added to ``problems``, or raised at once as a
    :class:`~siting.core.errors.ScenarioError` when ``problems`` is None.
    """
    own = problems is None
    found: list[Problem] = [] if problems is None else problems
    out = _resolve(node, base_dir, file, found, loc)
    if own and found:
        raise ScenarioError(found)
    return out


def _resolve(
    node: Any, base_dir: Path, file: str | None, problems: list[Problem], loc: tuple[Any, ...]
) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            here = (*loc, k)
            if k in _PATH_KEYS and isinstance(v, str):
                if not v.strip():
                    problems.append(
                        Problem("empty path; expected a file path", file=file, field=_loc(here))
                    )
                    out[k] = v
                    continue
                try:
                    out[k] = str((base_dir / Path(v).expanduser()).resolve())
                except (OSError, RuntimeError, ValueError) as e:
                    problems.append(
                        Problem(
                            f"cannot resolve the path {_short(v)}: {e}", file=file, field=_loc(here)
                        )
                    )
                    out[k] = v
                    continue
                try:  # a missing file is the layer reader's to report; a path no file
                    os.stat(out[k])  # can have (name too long, no permission) is ours
                except (FileNotFoundError, NotADirectoryError):
                    pass
                except OSError as e:
                    problems.append(
                        Problem(
                            f"the path {_short(out[k])} cannot be used: {e.strerror}",
                            file=file,
                            field=_loc(here),
                        )
                    )
            else:
                out[k] = _resolve(v, base_dir, file, problems, here)
        return out
    if isinstance(node, list):
        return [_resolve(v, base_dir, file, problems, (*loc, i)) for i, v in enumerate(node)]
    return node


def _year_keyed(loc: tuple[Any, ...]) -> bool:
    """Whether the mapping at dotted ``loc`` is keyed by year (a :data:`ByYear` field)."""
    if not loc:
        return False
    model = _model_at(loc)
    fld = model.model_fields.get(str(loc[-1])) if model is not None else None
    return fld is not None and any(m is ONE_KEY_PER_YEAR for m in fld.metadata)


def matching_key(node: dict[Any, Any], key: Any, loc: tuple[Any, ...]) -> Any:
    """The key of ``node`` (the mapping at dotted ``loc``) that ``key`` overrides, or ``key``.

    A key matches itself or its text (a dotted sweep key ``targets.it_mw_by_year.2031``
    names the YAML key ``2031``); in a mapping keyed by year (:data:`ByYear`), any
    spelling of the same year (``2031``, ``'2031'``, ``2031.0``).
    """
    if key in node:
        return key
    text = str(key)
    for k in node:
        if str(k) == text:
            return k
    if _year_keyed(loc):
        y = year_of(key)
        for k in node:
            if y is not None and year_of(k) == y:
                return k
    return key


def _merge(base: Any, over: Any, loc: tuple[Any, ...] = ()) -> Any:
    """Deep-merge ``over`` onto ``base``: mappings merge key by key, anything else replaces.

    A key of ``over`` replaces the key of ``base`` it means (:func:`matching_key`: the
    year 2031 written ``'2031'`` over a base's ``2031``), in ``over``'s spelling; two keys
    of ``over`` meaning one year are both kept, for the schema to refuse.
    """
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        taken: set[Any] = set()
        for k, v in over.items():
            b = matching_key(base, k, loc)
            if b in base and b not in taken:
                taken.add(b)
                merged = _merge(base[b], v, (*loc, k))
                if type(b) is type(k) and b == k:
                    out[k] = merged
                else:  # the base's spelling gives way to the override's, in its place
                    out = {(k if x is b else x): (merged if x is b else y) for x, y in out.items()}
            else:
                out[k] = v
        return out
    return over


def load_raw(
    path: Path,
    chain: tuple[Path, ...] = (),
    sources: list[tuple[Path, dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Load one scenario file and its ``extends`` chain into one merged mapping.

    Parameters
    ----------
    path
        The scenario file.
    chain
        The files that extend this one (to find cycles).
    sources
        If given, each file of the chain and its own mapping are appended, the file that
        extends first (to name the file a bad key was written in: :func:`_origin`).
    """
    try:
        path = path.resolve()
    except (OSError, RuntimeError, ValueError) as e:
        field = "extends" if chain else None
        raise ScenarioError(
            Problem(f"cannot resolve the path: {e}", file=str(path), field=field)
        ) from None
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise ScenarioError(
            Problem(f"'extends' goes round in a circle: {cycle}", file=str(path), field="extends")
        )
    if len(chain) > MAX_EXTENDS_DEPTH:  # chain: the files that extend this one
        raise ScenarioError(
            Problem(
                f"'extends' chain deeper than {MAX_EXTENDS_DEPTH}", file=str(path), field="extends"
            )
        )
    try:
        data = read_yaml(path)
    except ScenarioError as e:
        if not chain:
            raise
        named = f" (the base scenario named by 'extends' in {chain[-1]})"
        raise ScenarioError(
            [Problem(p.message + named, p.file, p.layer, p.row, p.id, p.field) for p in e.problems]
        ) from None
    raw = _resolve_paths(data, path.parent, file=str(path))
    if sources is not None:
        sources.append((path, raw))
    base_ref = raw.get("extends")
    if base_ref is None:
        return raw
    if not isinstance(base_ref, str):
        raise ScenarioError(
            Problem(
                f"expected a file path, got {type(base_ref).__name__}",
                file=str(path),
                field="extends",
            )
        )
    base = load_raw(Path(base_ref), (*chain, path), sources)
    merged = _merge(base, raw)
    merged["extends"] = base_ref
    return merged


def _loc(loc: tuple[Any, ...]) -> str:
    """A dotted key path (``layers.exclusions.0.path``); an empty key shows as ``''``."""
    return ".".join("''" if p == "" else str(p) for p in loc)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class that holds the key at ``loc`` (for suggestions)."""
    model: Any = Scenario
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        fld = model.model_fields.get(str(part))
        if fld is None:
            return None
        model = _inner_model(fld.annotation)
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel class inside an annotation such as ``list[X] | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        m = _inner_model(arg)
        if m is not None:
            return m
    return None


#: A dotted scenario key at the start of a cross-field message (``policy.co2_cap_t needs``).
_LEADING_KEY = re.compile(r"^([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)\b")


def _origin(field: str | None, sources: list[tuple[Path, dict[str, Any]]], file: Path) -> str:
    """The file of an ``extends`` chain that wrote the key ``field`` (dotted).

    The file holding the longest part of the key wins; between equals, the one that
    extends (mappings merge key by key, so its value is the one validated). ``file`` when
    no file holds any of it (a required key missing).
    """
    parts = field.split(".") if field else []
    best, depth = str(file), 0
    for src, raw in sources:
        node: Any = raw
        n = 0
        for part in parts:
            if isinstance(node, dict):
                key = next((k for k in node if str(k) == part), _MISSING)
                if key is _MISSING:
                    break
                node = node[key]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                break
            n += 1
        if n > depth:
            best, depth = str(src), n
    return best


_MISSING = object()


def problems_from_validation(
    err: ValidationError,
    file: Path,
    sources: list[tuple[Path, dict[str, Any]]] | None = None,
) -> list[Problem]:
    """One problem per validation error, naming the file and the full dotted key.

    With ``sources`` (the files of an ``extends`` chain, :func:`load_raw`), each problem
    names the file its key was written in.
    """
    problems = []
    errors = err.errors(include_url=False)
    for e in errors[:MAX_SCENARIO_PROBLEMS]:
        loc = tuple(e.get("loc", ()))
        field = _loc(loc) or None
        typ = e.get("type", "")
        if typ == "extra_forbidden":
            model = _model_at(loc)
            valid = sorted(k for k in (model.model_fields if model else {}) if k != "source_file")
            close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            msg = f"unknown key{hint} Valid keys here: {', '.join(valid)}"
        elif typ == "missing":
            msg = "required key is missing"
        else:
            msg = f"{e.get('msg', 'invalid value')} (got {_short(e.get('input'))})"
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, ") :]
            m = _LEADING_KEY.match(msg)
            if field is None and m:  # a rule across sections names its key first
                field = m.group(1)
        where = _origin(field, sources, file) if sources and len(sources) > 1 else str(file)
        problems.append(Problem(msg, file=where, field=field))
    if len(errors) > MAX_SCENARIO_PROBLEMS:
        problems.append(
            Problem(
                f"... and {len(errors) - MAX_SCENARIO_PROBLEMS:,} more problems", file=str(file)
            )
        )
    return problems


def _refuse_loader_keys(raw: dict[str, Any], file: str) -> None:
    """``source_file`` is set by the loader; a file may not claim another origin."""
    if "source_file" in raw:
        raise ScenarioError(
            Problem(
                "unknown key: source_file is set by the loader to the file read",
                file=file,
                field="source_file",
            )
        )


def load_scenario(path: str | Path) -> Scenario:
    """Read, merge (``extends``) and validate a scenario file.

    Parameters
    ----------
    path
        The scenario YAML file.

    Returns
    -------
    Scenario
        Validated, with every ``path`` absolute.

    Raises
    ------
    ScenarioError
        Listing every problem, each with the file and the full dotted key.
    """
    path = Path(path)
    sources: list[tuple[Path, dict[str, Any]]] = []
    raw = load_raw(path, sources=sources)
    _refuse_loader_keys(raw, str(path))
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as err:
        raise ScenarioError(problems_from_validation(err, path, sources)) from None
    scenario.source_file = path.resolve()
    return scenario


def scenario_from_dict(data: dict[str, Any], base_dir: str | Path = ".") -> Scenario:
    """Validate a scenario given as a mapping (paths resolved against ``base_dir``)."""
    if not isinstance(data, dict):
        raise ScenarioError(
            Problem(f"expected a mapping, got {type(data).__name__}", file="<dict>")
        )
    raw = _resolve_paths(data, Path(base_dir).resolve(), file="<dict>")
    _refuse_loader_keys(raw, "<dict>")
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        raise ScenarioError(problems_from_validation(err, Path("<dict>"))) from None
