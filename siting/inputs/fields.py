"""The one table of layer fields: names, types, units, defaults, meaning.

Read by the vector reader (validation and type coercion), by ``siting fields``
(documentation) and by docs/reference.md's layer tables, so the three never drift apart
(the idea is PyPSA's ``component_attrs/*.csv``).

A field marked ``per_year`` may also come as one column per calendar year,
``<name>_<YYYY>`` (``load_mw_2030``); a year without its own column takes the
latest earlier year's column, or the plain ``<name>`` column.

:data:`TABLES` are the CSV tables a scenario attaches to a grid (``layers.grid.<name>``:
upgrade options, substations, emergency ratings, load growth;
:mod:`siting.inputs.grids.attachments`). Their fields are the grid layers' own where they
mean the same (``upgrade_added_mw`` ...), so a MATPOWER or pandapower grid gets them as
a GeoPackage grid carries them; :func:`siting.inputs.vector.read_table` checks them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

Kind = Literal["id", "ref", "float", "int", "str", "bool"]

#: Largest magnitude any number in a layer may have, whatever its unit. Nothing real comes
#: near it (1e15 USD, MW, km or m3/day); beyond it a value is a unit or typing slip, and
#: HiGHS would take it as infinite (>= 1e20) or refuse the coefficient.
MAX_ABS_VALUE = 1e15


@dataclass(frozen=True)
class Field:
    """One column of a layer.

    Parameters
    ----------
    name
        Column name; the unit is in the name (``_mw``, ``_km``, ``_m3_per_day``).
    kind
        ``id`` (unique string key), ``ref`` (string key of another layer), ``float``,
        ``int``, ``str`` or ``bool``.
    unit
        The unit in words, for documentation (``MW``, ``per unit on base_mva``).
    description
        What the field means.
    required
        Whether the column must be present.
    default
        Value used when an optional column is absent (``None``: left empty/NaN).
    min, max
        Inclusive bounds for numbers, when there are bounds.
    min_exclusive
        If true, ``min`` is a strict bound (``> min``).
    nullable
        Whether an empty cell is allowed in a present column (numbers: NaN).
    per_year
        Whether ``<name>_<YYYY>`` columns may give the value by calendar year.
    choices
        The allowed values of a string field, if limited.
    """

    name: str
    kind: Kind
    unit: str
    description: str
    required: bool = False
    default: Any = None
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    nullable: bool = False
    per_year: bool = False
    choices: tuple[str, ...] | None = None

    def expected(self) -> str:
        """Words for what a valid value looks like (used in error messages)."""
        kind = {
            "id": "a non-empty ID",
            "ref": "an ID",
            "float": "a finite number",
            "int": "a whole number",
            "str": "text",
            "bool": "true/false (1/0)",
        }[self.kind]
        if self.min is not None and self.max is not None:
            kind += f" in [{self.min:g}, {self.max:g}]"
        elif self.min is not None:
            kind += f" {'>' if self.min_exclusive else '>='} {self.min:g}"
        elif self.max is not None:
            kind += f" <= {self.max:g}"
        if self.choices:
            kind = "one of " + ", ".join(repr(c) for c in self.choices)
        if self.unit:
            kind += f" [{self.unit}]"
        return kind


@dataclass(frozen=True)
class LayerSpec:
    """What one kind of layer holds.

    Parameters
    ----------
    name
        The layer kind (``buses``); also the default GeoPackage layer name.
    geometry
        Allowed geometry types (``Point``, ``LineString``, ``Polygon`` ...). Multi-part
        types of those are allowed too.
    geometry_required
        Whether every row needs a geometry (``False``: may be a plain table).
    id_field
        The field holding the unique ID, if any.
    fields
        The columns.
    description
        What the layer is, for documentation.
    """

    name: str
    geometry: tuple[str, ...]
    geometry_required: bool
    id_field: str | None
    fields: tuple[Field, ...]
    description: str

    def field(self, name: str) -> Field:
        """The field called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


BUSES = LayerSpec(
    name="buses",
    geometry=("Point",),
    geometry_required=True,
    id_field="bus_id",
    description="Substations / buses of the transmission grid.",
    fields=(
        Field(
            "bus_id", "id", "", "Unique bus ID (text; MATPOWER bus number as text).", required=True
        ),
        Field("name", "str", "", "Substation name.", default=""),
        Field(
            "voltage_kv",
            "float",
            "kV",
            "Nominal voltage.",
            required=True,
            min=0,
            min_exclusive=True,
        ),
        Field(
            "load_mw",
            "float",
            "MW",
            "Base (non-campus) active load at peak.",
            default=0.0,
            min=0,
            per_year=True,
        ),
        Field(
            "shunt_mw",
            "float",
            "MW",
            "Shunt conductance demand at V = 1 pu (MATPOWER Gs); counts as load in DC flow.",
            default=0.0,
        ),
        Field(
            "bus_type",
            "int",
            "",
            "MATPOWER bus type: 1 PQ, 2 PV, 3 reference (slack), 4 isolated.",
            default=1,
            choices=None,
            min=1,
            max=4,
        ),
        Field("area", "str", "", "Area or zone name of the bus (used for reporting).", default=""),
        Field(
            "substation_headroom_mw",
            "float",
            "MW",
            "Extra load the substation can take before a transformer upgrade; empty = no limit.",
            nullable=True,
            min=0,
        ),
        Field(
            "substation_upgrade_added_mw",
            "float",
            "MW",
            "Headroom added by the substation (transformer) upgrade option, if any.",
            nullable=True,
            min=0,
        ),
        Field(
            "substation_upgrade_cost_usd",
            "float",
            "USD",
            "Cost of the substation upgrade option.",
            nullable=True,
            min=0,
        ),
        Field(
            "substation_upgrade_lead_time_years",
            "float",
            "years",
            "Years from decision to service of the substation upgrade.",
            nullable=True,
            min=0,
        ),
        Field(
            "firm_connect_year",
            "int",
            "calendar year",
            "First year new load can connect firm at the bus (its queue and studies); empty "
            "= `grid.lead_time_years_by_kv`, or no wait.",
            nullable=True,
            min=1900,
            max=2200,
        ),
    ),
)

BRANCHES = LayerSpec(
    name="branches",
    geometry=("LineString",),
    geometry_required=False,
    id_field="branch_id",
    description="Lines and transformers. Without a geometry, a straight line between the two "
    "buses is drawn.",
    fields=(
        Field(
            "branch_id",
            "id",
            "",
            "Unique branch ID (MATPOWER: 1-based row number as text).",
            required=True,
        ),
        Field("from_bus", "ref", "", "bus_id of the from end.", required=True),
        Field("to_bus", "ref", "", "bus_id of the to end.", required=True),
        Field(
            "x_pu",
            "float",
            "per unit on base_mva",
            "Series reactance; must not be 0 (DC flow).",
            required=True,
        ),
        Field("r_pu", "float", "per unit on base_mva", "Series resistance.", default=0.0, min=0),
        Field(
            "b_pu", "float", "per unit on base_mva", "Total line charging susceptance.", default=0.0
        ),
        Field(
            "rating_mw",
            "float",
            "MW",
            "Long-term (normal) thermal rating; MATPOWER rateA (0 there = unlimited).",
            required=True,
            min=0,
            min_exclusive=True,
        ),
        Field(
            "rating_emergency_mw",
            "float",
            "MW",
            "Short-term emergency rating used after a contingency (MATPOWER rateC); "
            "empty = rating_mw.",
            nullable=True,
            min=0,
            min_exclusive=True,
        ),
        Field(
            "tap_ratio",
            "float",
            "",
            "Off-nominal transformer turns ratio (MATPOWER TAP, 0 there = 1); 1 for lines.",
            default=1.0,
            min=0,
            min_exclusive=True,
        ),
        Field(
            "shift_deg", "float", "degrees", "Phase-shift angle.", default=0.0, min=-360, max=360
        ),
        Field(
            "in_service",
            "bool",
            "",
            "Whether the branch is in service (MATPOWER BR_STATUS).",
            default=True,
        ),
        Field(
            "length_km",
            "float",
            "km",
            "Route length; empty = computed from the geometry.",
            nullable=True,
            min=0,
        ),
        Field(
            "voltage_kv",
            "float",
            "kV",
            "Voltage class; empty = from_bus voltage.",
            nullable=True,
            min=0,
            min_exclusive=True,
        ),
        Field(
            "upgrade_added_mw",
            "float",
            "MW",
            "Rating added by the reconductoring option, if any.",
            nullable=True,
            min=0,
        ),
        Field(
            "upgrade_cost_usd", "float", "USD", "Cost of the upgrade option.", nullable=True, min=0
        ),
        Field(
            "upgrade_lead_time_years",
            "float",
            "years",
            "Years from decision to service of the upgrade.",
            nullable=True,
            min=0,
        ),
    ),
)

GENERATORS = LayerSpec(
    name="generators",
    geometry=("Point",),
    geometry_required=False,
    id_field="gen_id",
    description="Generating units, attached to a bus. A plain table (no geometry) is fine.",
    fields=(
        Field(
            "gen_id",
            "id",
            "",
            "Unique generator ID (MATPOWER: 1-based row number as text).",
            required=True,
        ),
        Field("bus_id", "ref", "", "bus_id the unit injects at.", required=True),
        Field("p_max_mw", "float", "MW", "Maximum active output.", required=True, min=0),
        Field("p_min_mw", "float", "MW", "Minimum active output when on.", default=0.0),
        Field(
            "marginal_cost_usd_per_mwh", "float", "USD/MWh", "Linear energy cost.", required=True
        ),
        Field("co2_t_per_mwh", "float", "t CO2/MWh", "Emission intensity.", default=0.0, min=0),
        Field(
            "fuel",
            "str",
            "",
            "Fuel or technology (wind, solar, gas_cc, coal, nuclear ...).",
            default="",
        ),
        Field(
            "in_service",
            "bool",
            "",
            "Whether the unit is in service (MATPOWER GEN_STATUS).",
            default=True,
        ),
    ),
)

WATER_SOURCES = LayerSpec(
    name="water_sources",
    geometry=("Point",),
    geometry_required=True,
    id_field="source_id",
    description="Water a campus can draw on: reclaimed-water plants, potable supply, desalination.",
    fields=(
        Field("source_id", "id", "", "Unique source ID.", required=True),
        Field("name", "str", "", "Plant or supply name.", default=""),
        Field(
            "kind",
            "str",
            "",
            "Type of water.",
            required=True,
            choices=("reclaimed", "potable", "desalination", "groundwater", "surface"),
        ),
        Field(
            "capacity_m3_per_day",
            "float",
            "m3/day",
            "Water available to campuses.",
            required=True,
            min=0,
            per_year=True,
        ),
        Field(
            "cost_usd_per_m3",
            "float",
            "USD/m3",
            "Delivered price at the plant fence.",
            required=True,
            min=0,
        ),
        Field(
            "max_pipeline_km",
            "float",
            "km",
            "Longest pipeline the source can serve.",
            required=True,
            min=0,
        ),
        Field(
            "pipeline_cost_usd_per_km",
            "float",
            "USD/km",
            "Pipeline cost; empty = the scenario's default.",
            nullable=True,
            min=0,
        ),
    ),
)

EXCLUSIONS = LayerSpec(
    name="exclusions",
    geometry=("Polygon",),
    geometry_required=True,
    id_field="exclusion_id",
    description="Land no campus may use (protected, flood, urban core, open water ...).",
    fields=(
        Field("exclusion_id", "id", "", "Unique ID.", required=True),
        Field(
            "kind",
            "str",
            "",
            "Why the land is excluded.",
            required=True,
            choices=("protected", "flood", "urban", "water", "military", "other"),
        ),
        Field("name", "str", "", "Name of the area.", default=""),
    ),
)

ZONES = LayerSpec(
    name="zones",
    geometry=("Polygon",),
    geometry_required=True,
    id_field="zone_id",
    description="Policy polygons: growth zones the state designates or prefers.",
    fields=(
        Field("zone_id", "id", "", "Unique ID.", required=True),
        Field("name", "str", "", "Zone name.", default=""),
        Field(
            "kind",
            "str",
            "",
            "designated (may be required) or preferred (a bonus).",
            default="designated",
            choices=("designated", "preferred"),
        ),
    ),
)

REGIONS = LayerSpec(
    name="regions",
    geometry=("Polygon",),
    geometry_required=True,
    id_field="region_id",
    description="Administrative or planning regions, for min/max share policies and reporting.",
    fields=(
        Field("region_id", "id", "", "Unique ID.", required=True),
        Field("name", "str", "", "Region name.", default=""),
    ),
)

BOUNDARY = LayerSpec(
    name="boundary",
    geometry=("Polygon",),
    geometry_required=True,
    id_field=None,
    description="The study area's outline (drawn on maps; candidates lie inside it).",
    fields=(Field("name", "str", "", "Name of the study area.", default=""),),
)

PLACES = LayerSpec(
    name="places",
    geometry=("Point",),
    geometry_required=True,
    id_field="place_id",
    description="Towns and cities, for naming growth zones and for maps.",
    fields=(
        Field("place_id", "id", "", "Unique ID.", required=True),
        Field("name", "str", "", "Place name.", required=True),
        Field("population", "int", "people", "Population.", default=0, min=0),
    ),
)

SITES = LayerSpec(
    name="sites",
    geometry=("Point", "Polygon"),
    geometry_required=True,
    id_field="site_id",
    description="Candidate sites a planner brings (points or parcels). Without this layer, "
    "candidates are cells generated over the allowed land.",
    fields=(
        Field("site_id", "id", "", "Unique site ID.", required=True),
        Field("name", "str", "", "Site name.", default=""),
        Field(
            "fixed_cost_usd",
            "float",
            "USD",
            "One-off cost of opening this site; empty = the scenario's site_fixed_cost_usd.",
            nullable=True,
            min=0,
        ),
        Field(
            "max_it_mw",
            "float",
            "MW",
            "Largest campus this site holds [MW IT]; empty = from its area, capped by "
            "campus.max_campus_mw.",
            nullable=True,
            min=0,
        ),
        Field(
            "land_cost_usd_per_ha",
            "float",
            "USD/ha",
            "Land price; empty = sampled from the land-cost raster.",
            nullable=True,
            min=0,
        ),
        Field(
            "area_ha",
            "float",
            "ha",
            "Usable area; empty = the polygon's area (points: enough for max_campus_mw).",
            nullable=True,
            min=0,
        ),
        Field(
            "security_tier",
            "int",
            "",
            "Security tier the site meets (0 = none; higher is stricter), for compute pacts "
            "whose licensed accelerators go only to sites of at least their tier; empty = 0.",
            nullable=True,
            min=0,
        ),
    ),
)

DEMAND_REGIONS = LayerSpec(
    name="demand_regions",
    geometry=("Point", "Polygon"),
    geometry_required=True,
    id_field="region_id",
    description="Where inference demand comes from (cities, states): MW of campus capacity "
    "that must be served from campuses within the latency limit.",
    fields=(
        Field("region_id", "id", "", "Unique demand-region ID.", required=True),
        Field("name", "str", "", "Name.", default=""),
        Field(
            "demand_mw",
            "float",
            "MW",
            "Inference capacity to serve [MW IT].",
            required=True,
            min=0,
            per_year=True,
        ),
    ),
)

HEAT_SINKS = LayerSpec(
    name="heat_sinks",
    geometry=("Point", "Polygon"),
    geometry_required=True,
    id_field="sink_id",
    description="Heat demand a campus's waste heat can be sold to (district heating, "
    "greenhouses, industry).",
    fields=(
        Field("sink_id", "id", "", "Unique heat-sink ID.", required=True),
        Field("name", "str", "", "Name.", default=""),
        Field(
            "demand_mw",
            "float",
            "MW heat",
            "Average heat the sink takes [MW thermal].",
            required=True,
            min=0,
        ),
        Field(
            "price_usd_per_mwh",
            "float",
            "USD/MWh heat",
            "What the sink pays for delivered heat.",
            required=True,
            min=0,
        ),
        Field("max_km", "float", "km", "Longest heat pipe to the sink.", default=10.0, min=0),
    ),
)


def _as(spec: LayerSpec, name: str, **changes: Any) -> Field:
    """Field ``name`` of ``spec`` with ``changes`` (an attachment table reuses the grid's
    own fields, so the two never differ in unit or meaning)."""
    return replace(spec.field(name), **changes)


def _csv_table(**spec: Any) -> LayerSpec:
    """The spec of a CSV table attached to a grid (no geometry)."""
    return LayerSpec(geometry=(), geometry_required=False, **spec)


#: A planning or data year in a table [calendar year].
_YEAR = Field(
    "year", "int", "calendar year", "The year the row holds.", required=True, min=1900, max=2200
)

BRANCH_UPGRADES = _csv_table(
    name="branch_upgrades",
    id_field="branch_id",
    description="CSV attached to a grid (`layers.grid.branch_upgrades`): one upgrade option "
    "(reconductoring) per branch, the same fields a grid GeoPackage's branches carry. It "
    "replaces the grid's own option for the branches it names; a branch without a rating "
    "(MATPOWER RATE_A 0) has nothing to upgrade.",
    fields=(
        _as(
            BRANCHES,
            "branch_id",
            kind="ref",
            description="The branch (MATPOWER: 1-based row "
            "of mpc.branch; pandapower: `line:3`, `trafo:0` ...).",
        ),
        _as(BRANCHES, "upgrade_added_mw", required=True, nullable=False),
        _as(BRANCHES, "upgrade_cost_usd", required=True, nullable=False),
        _as(BRANCHES, "upgrade_lead_time_years", default=0.0, nullable=False),
    ),
)

SUBSTATIONS = _csv_table(
    name="substations",
    id_field="bus_id",
    description="CSV attached to a grid (`layers.grid.substations`): substation headroom and "
    "its upgrade option per bus, the same fields a grid GeoPackage's buses carry; it replaces "
    "the grid's own for the buses it names. An upgrade option adds to the headroom, so it "
    "needs `substation_headroom_mw`; the three upgrade fields come together or not at all.",
    fields=(
        _as(
            BUSES,
            "bus_id",
            kind="ref",
            description="The bus (MATPOWER bus number; pandapower bus index).",
        ),
        _as(BUSES, "substation_headroom_mw"),
        _as(BUSES, "substation_upgrade_added_mw"),
        _as(BUSES, "substation_upgrade_cost_usd"),
        _as(BUSES, "substation_upgrade_lead_time_years"),
    ),
)

CONNECTIONS = _csv_table(
    name="connections",
    id_field="bus_id",
    description="CSV attached to a grid (`layers.grid.connections`): the first year new load "
    "can connect firm at each bus it names (energization lead time); it replaces the buses' "
    "own `firm_connect_year`.",
    fields=(
        _as(SUBSTATIONS, "bus_id"),
        _as(BUSES, "firm_connect_year", required=True, nullable=False),
    ),
)

EMERGENCY_RATINGS = _csv_table(
    name="emergency_ratings",
    id_field="branch_id",
    description="CSV attached to a grid (`layers.grid.emergency_ratings`): the short-term "
    "rating N-1 security and `siting grid check` hold each branch to after an outage; it "
    "replaces the grid's own (MATPOWER RATE_C) for the branches it names.",
    fields=(
        _as(BRANCH_UPGRADES, "branch_id"),
        _as(BRANCHES, "rating_emergency_mw", required=True, nullable=False),
    ),
)

LOAD_GROWTH = _csv_table(
    name="load_growth",
    id_field=None,
    description="CSV attached to a grid (`layers.grid.load_growth`): the base (non-campus) "
    "load by year, one row per bus or area and year. Give `bus_id` or `area`, and `load_mw` "
    "or `growth_factor` (areas take `growth_factor` only). A factor multiplies the grid's own "
    "`load_mw` (MATPOWER PD), not the year before. A bus or area keeps its value until its "
    "next row; before its first row, and where no row names it, it keeps the grid's load.",
    fields=(
        _as(SUBSTATIONS, "bus_id", required=False),
        Field(
            "area",
            "ref",
            "",
            "An area of the grid (MATPOWER BUS_AREA; pandapower zone): every bus in it.",
        ),
        _YEAR,
        _as(BUSES, "load_mw", default=None, per_year=False),
        Field(
            "growth_factor",
            "float",
            "x the grid's load",
            "Load as a multiple of the grid's own load_mw (1.05 = 5 % more; 105 % is 1.05).",
            min=0,
            max=100,
        ),
    ),
)

#: CSV tables attached to a grid (keys of ``layers.grid`` of the same name), by name.
TABLES: dict[str, LayerSpec] = {
    s.name: s for s in (BRANCH_UPGRADES, SUBSTATIONS, CONNECTIONS, EMERGENCY_RATINGS, LOAD_GROWTH)
}

LAYERS: dict[str, LayerSpec] = {
    s.name: s
    for s in (
        BUSES,
        BRANCHES,
        GENERATORS,
        WATER_SOURCES,
        EXCLUSIONS,
        ZONES,
        REGIONS,
        BOUNDARY,
        PLACES,
        SITES,
        DEMAND_REGIONS,
        HEAT_SINKS,
    )
}


def markdown_table(spec: LayerSpec) -> str:
    """A Markdown table of a layer's fields (for docs/reference.md and ``siting fields``)."""
    if spec.geometry:
        geom = "/".join(spec.geometry) + ("" if spec.geometry_required else " (optional)")
    else:
        geom = "CSV table"
    lines = [
        f"**{spec.name}** ({geom}): {spec.description}",
        "",
        "| field | type | unit | required | default | meaning |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for f in spec.fields:
        default = "" if f.default is None or f.required else repr(f.default)
        typ = f.kind + (" (per year)" if f.per_year else "")
        if f.choices:
            typ += ": " + ", ".join(f.choices)
        req = "yes" if f.required else ""
        lines.append(f"| `{f.name}` | {typ} | {f.unit} | {req} | {default} | {f.description} |")
    return "\n".join(lines)


def markdown_all() -> str:
    """Markdown tables of every layer kind, then of every table attached to a grid."""
    return "\n\n".join(markdown_table(s) for s in (*LAYERS.values(), *TABLES.values()))
