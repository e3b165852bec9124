"""The model's inputs as plain numbers: everything the MILP needs, nothing geometric.

:func:`model_data` turns a scenario, its layers, the screened candidates, the
cooling table and the DC network into one :class:`ModelData`: index lists,
numpy arrays and small tables keyed by string IDs. The Pyomo families in
``siting.model`` read only this, so they can be tested on hand-made data and
never touch a GeoDataFrame (docs/design.md: the model never touches geometry).

Money is in constant USD, discounted to the first planning year:

- ``capex_df[t]`` = (1 + r) ** -(year_t - year_0) for one-off costs paid in year t;
- ``op_weight[t]`` = sum over the years period t stands for of (1 + r) ** -(y - year_0):
  period t stands for the years up to the next planning year, the last for
  ``costs.final_period_years`` years (a fractional count uses the annuity formula).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from siting.core.errors import InputError, Problem, SitingError
from siting.inputs.grids.grid import CostCurve, Grid
from siting.model.generations import load_generations
from siting.model.pactdata import PactData, pact_inputs, site_tiers
from siting.network import require_network

if TYPE_CHECKING:
    from siting.candidates.generate import Candidates
    from siting.config.scenario import Contingencies, Scenario, Targets
    from siting.inputs import Layers
    from siting.network import DCNetwork

#: Segments of the secant approximation of a polynomial (quadratic) generator cost.
POLY_SEGMENTS = 4

#: Hours in a (non-leap) year [h].
HOURS_PER_YEAR = 8760.0


@dataclass
class GenCost:
    """A generator's cost as lines ``cost >= intercept + slope * p`` (convex) [USD/h, USD/MWh].

    A linear cost has one line with intercept 0 and is used directly as ``slope * p``.
    """

    slopes_usd_per_mwh: np.ndarray
    intercepts_usd_per_h: np.ndarray

    @property
    def linear(self) -> bool:
        """Whether the cost is ``slope * p`` (one line through the origin)."""
        return len(self.slopes_usd_per_mwh) == 1 and self.intercepts_usd_per_h[0] == 0.0


#: Columns of an upgrade options table (after the ID column).
UPGRADE_COLUMNS = ("added_mw", "cost_usd", "lead_time_years", "first_period")


def _no_upgrades(id_col: str) -> pd.DataFrame:
    """An empty upgrade options table (:func:`upgrade_options`'s columns)."""
    return pd.DataFrame(
        {id_col: pd.Series(dtype=object), **{c: pd.Series(dtype=float) for c in UPGRADE_COLUMNS}}
    )


@dataclass(frozen=True)
class N1:
    """N-1 security settings as the model reads them.

    Attributes
    ----------
    outages
        ``"all"``, an int k (the k most loaded branches in each round's solution), or a
        list of branch positions (in ``net.branch_ids``).
    snapshots
        Names of the snapshots checked.
    radial
        Positions of the branches whose outage splits the network (never checked).
    periods
        Periods (positions in ``years``) N-1 is required in; ``None`` = all.
    """

    outages: str | int | list[int]
    snapshots: list[str]
    radial: list[int]
    periods: list[int] | None = None

    def checks(self, t: int, h: str) -> bool:
        """Whether N-1 is required in period ``t`` and snapshot ``h``."""
        return h in self.snapshots and (self.periods is None or t in self.periods)


def upgrade_options(
    table: pd.DataFrame,
    ids: pd.Index,
    prefix: str,
    years: list[int],
    id_col: str,
    usable: np.ndarray | None = None,
) -> pd.DataFrame:
    """The upgrade options of a grid table, as the model reads them.

    An option exists where ``<prefix>added_mw`` is > 0 and ``<prefix>cost_usd`` is given
    (a missing lead time is 0 years). It can be in service from the first planning year
    ``y`` with ``y >= years[0] + lead_time_years`` (the decision is taken at the start of
    the plan); an option whose lead time ends after the last planning year is dropped.

    Parameters
    ----------
    table
        Branches or buses (index: their IDs).
    ids
        The IDs in model order (``net.branch_ids`` or ``net.bus_ids``); the result's index
        is the position in it.
    prefix
        ``"upgrade_"`` (branches) or ``"substation_upgrade_"`` (buses).
    years
        Planning years.
    id_col
        Name of the ID column of the result.
    usable
        Bool per position: where an option may be used at all (a finite rating or
        headroom to add to).

    Returns
    -------
    pandas.DataFrame
        Index: position; columns ``id_col, added_mw, cost_usd, lead_time_years,
        first_period``.
    """

    def col(name: str) -> np.ndarray:
        c = f"{prefix}{name}"
        if c not in table:
            return np.full(len(ids), np.nan)
        return pd.to_numeric(table[c], errors="coerce").reindex(ids).astype(float).to_numpy()

    added, cost, lead = col("added_mw"), col("cost_usd"), col("lead_time_years")
    lead = np.where(np.isfinite(lead), lead, 0.0)
    ok = np.isfinite(added) & (added > 0) & np.isfinite(cost)
    if usable is not None:
        ok &= usable
    y = np.asarray(years, dtype=float)
    first = np.searchsorted(y, y[0] + lead - 1e-9)
    ok &= first < len(years)
    pos = np.flatnonzero(ok)
    if not len(pos):
        return _no_upgrades(id_col)
    return pd.DataFrame(
        {
            id_col: [str(ids[int(i)]) for i in pos],
            "added_mw": added[pos],
            "cost_usd": cost[pos],
            "lead_time_years": lead[pos],
            "first_period": first[pos].astype(int),
        },
        index=pd.Index(pos, name="position"),
    )


@dataclass
class Horizon:
    """The planning periods and the money's time value (family: every family).

    Attributes
    ----------
    years
        Planning years (periods).
    capex_df
        Discount factor of one-off costs per period (see module docstring).
    op_weight
        Discounted years of operation per period (see module docstring).
    period_years
        Years each period stands for (gap to the next planning year; last:
        ``costs.final_period_years``) [years].
    snapshots
        Table indexed by name: ``load_factor, hours, peak``.
    utilisation
        Average IT load over IT capacity in typical snapshots [fraction].
    """

    years: list[int]
    capex_df: np.ndarray
    op_weight: np.ndarray
    period_years: np.ndarray
    snapshots: pd.DataFrame
    utilisation: float

    @property
    def n_years(self) -> int:
        """Number of planning periods."""
        return len(self.years)


@dataclass
class CampusData:
    """The candidate sites and the campus rules (family :mod:`siting.model.sites`).

    Attributes
    ----------
    sites
        Candidate site IDs (the model's S).
    site
        Per-site table indexed by site_id: ``max_it_mw, fixed_cost_usd, land_usd_per_mw,
        interconnect_usd`` (tie line), ``bus_id``, ``bus_distance_km``, ``zone_id,
        zone_kind, region_id``, ``earliest_period`` (index into ``years``: the first
        period the site may have MW, :func:`first_power`), and from :func:`power_years`
        ``firm_connect_year``, ``flex_connect_year``, ``build_year`` [calendar year] and
        ``power_why`` (``queue``, ``upgrade``, ``build`` or "": what sets the firm year),
        ``firm_period`` and ``flex_period`` (the firm and flexible connections' periods,
        indexes into ``years``; ``flex_period`` is ``firm_period`` without flexible MW) and
        ``power_via`` (``firm``, ``flexible``, ``on-site``: what powers the first period).
        Between ``earliest_period`` and ``flex_period`` a campus draws nothing from the
        grid (on-site supply), between ``flex_period`` and ``firm_period`` all its MW are
        flexible (:func:`siting.model.power.add_power_years`). With a compute section,
        ``land_it_mw`` is the land's IT MW and ``max_it_mw`` the envelope its floor can
        reach with the densest generation (:func:`compute_inputs`).
    module_mw, min_campus_mw
        Module size and smallest campus [MW IT].
    max_modules_per_period
        Modules per period = floor(max_build_mw_per_year * period gap / module_mw).
    capex_usd_per_mw, interconnection_usd_per_mw, zone_bonus_usd_per_mw
        Costs per MW IT [USD/MW] (the zone bonus is subtracted in growth zones).
    dominance_cuts
        ``(B, A)`` site pairs with the cut ``open[B] <= open[A]``
        (:func:`siting.model.dominance.screen`; empty when not screened).
    """

    sites: list[str]
    site: pd.DataFrame
    module_mw: float
    min_campus_mw: float
    max_modules_per_period: np.ndarray
    capex_usd_per_mw: float
    interconnection_usd_per_mw: float
    zone_bonus_usd_per_mw: float
    dominance_cuts: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class CoolingData:
    """The cooling technologies each site may choose (families :mod:`~siting.model.sites`,
    :mod:`~siting.model.power`, :mod:`~siting.model.water`).

    Attributes
    ----------
    techs
        Cooling technologies offered (scenario order).
    allowed
        (site_id, cooling) pairs a site may choose (a wet technology needs water in reach).
    perf
        Indexed by (site_id, cooling): ``pue_annual, pue_peak, wue_annual_l_per_kwh,
        wue_peak_l_per_kwh``.
    capex_usd_per_mw
        Cooling capital cost by technology [USD/MW IT].
    heat_recovery_share
        Share of the IT heat a technology can export, by technology [fraction].
    """

    techs: list[str]
    allowed: list[tuple[str, str]]
    perf: pd.DataFrame
    capex_usd_per_mw: dict[str, float]
    heat_recovery_share: dict[str, float]


@dataclass
class GridData:
    """The network, its generators and loads, limits and upgrades (family
    :mod:`siting.model.grid`).

    Attributes
    ----------
    enabled
        Whether the network family is built: ``grid.enabled`` and a grid layer exists
        (without one, campus energy is priced at ``energy_usd_per_mwh``).
    line_limits
        Whether branch ratings are enforced.
    formulation
        ``angle`` (voltage angles, every limit) or ``ptdf`` (PTDF, lazily added limits).
    energy_usd_per_mwh
        Energy price when the grid is not modelled [USD/MWh].
    voll_usd_per_mwh
        Value of lost load [USD/MWh].
    net
        The DC network (``siting.network.DCNetwork``) when the grid is enabled.
    gens
        In-service generators: index gen_id; ``bus_pos, p_min_mw, p_max_mw``.
    gen_costs
        gen_id -> :class:`GenCost`.
    base_load_mw
        Base load per bus (rows, ``net.bus_ids`` order) and year (columns) at peak, plus
        shunt demand [MW].
    shunt_mw
        Shunt demand per bus [MW] (not scaled by snapshot load factors).
    headroom_mw
        Substation headroom per bus (NaN = no limit) [MW].
    branch_upgrades
        Branch upgrade options the model may take, indexed by branch position in
        ``net.branch_ids``: ``branch_id, added_mw, cost_usd, lead_time_years,
        first_period`` (the first period it can be in service).
    bus_upgrades
        Substation upgrade options, indexed by bus position in ``net.bus_ids``: ``bus_id,
        added_mw, cost_usd, lead_time_years, first_period`` (only buses with a headroom).
    rating_emergency_mw
        Emergency rating per in-service branch (``net.branch_ids`` order) [MW]; ``inf`` =
        unlimited.
    n1
        N-1 security settings (``None``: off).
    """

    enabled: bool
    line_limits: bool
    energy_usd_per_mwh: float
    voll_usd_per_mwh: float
    net: DCNetwork | None
    gens: pd.DataFrame
    gen_costs: dict[str, GenCost]
    base_load_mw: pd.DataFrame
    shunt_mw: np.ndarray
    headroom_mw: np.ndarray
    formulation: str = "angle"
    branch_upgrades: pd.DataFrame = field(default_factory=lambda: _no_upgrades("branch_id"))
    bus_upgrades: pd.DataFrame = field(default_factory=lambda: _no_upgrades("bus_id"))
    rating_emergency_mw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n1: N1 | None = None

    @property
    def network(self) -> DCNetwork:
        """:attr:`net`, for the code that runs only where the grid is modelled.

        Raises
        ------
        siting.core.errors.SitingError
            When there is no network (``grid.enabled`` off, or no grid layer).
        """
        return require_network(self.net, "the network family of the model")


@dataclass
class WaterData:
    """Water sources and the pipes to them (family :mod:`siting.model.water`).

    Attributes
    ----------
    enabled
        Whether water is modelled (else every technology is allowed and water is free).
    sources
        Water sources: index source_id; ``kind, cost_usd_per_m3`` and ``cap_<year>`` columns
        [m3/day].
    links
        site_id, source_id, distance_km, pipeline_usd.
    potable_cap_m3_per_day
        Policy cap on potable use (None = none) [m3/day].
    """

    enabled: bool
    sources: pd.DataFrame
    links: pd.DataFrame
    potable_cap_m3_per_day: float | None


@dataclass
class PolicyData:
    """Targets, shares, zones, demand, public interest and heat (family
    :mod:`siting.model.policy`).

    Attributes
    ----------
    targets_mw
        National IT target per year [MW] (0 where none).
    region_shares
        region_id -> (min, max) share of the national capacity [fraction].
    zone_mode, zone_min_share
        How growth zones count (``ignore``, ``prefer``, ``require``) and the share of
        capacity they must hold [fraction].
    demand_links, demand_mw
        (region_id, site_id, cost_usd_per_mw_year) and demand per region and year [MW].
    public_share, public_sites, public_techs
        Share of capacity reserved for public use [fraction], the sites that may hold it and
        their technologies.
    heat_links, sinks
        (sink_id, site_id) pairs and sinks (``demand_mw, price_usd_per_mwh``).
    shortfall_usd_per_mw_year
        Cost of delay per MW IT short of a year's target for one year [USD/(MW year)]
        (``targets.shortfall_usd_per_mw_year``): set, the targets are soft; None: hard.
    export_usd_per_mw_year
        Price of IT capacity above a year's target sold to an export market
        [USD/(MW year)] (``policy.export``); None: no export market.
    export_max_mw
        Most MW IT exported per year [MW] (``inf`` where no cap), aligned with the years.
    """

    targets_mw: np.ndarray
    region_shares: dict[str, tuple[float, float]]
    zone_mode: str
    zone_min_share: float
    demand_links: pd.DataFrame
    demand_mw: pd.DataFrame
    public_share: float
    public_sites: list[str]
    public_techs: dict[str, list[str]]
    heat_links: pd.DataFrame
    sinks: pd.DataFrame
    shortfall_usd_per_mw_year: float | None = None
    export_usd_per_mw_year: float | None = None
    export_max_mw: np.ndarray | None = None


@dataclass
class Caps:
    """Caps on what the campuses add (family :mod:`siting.model.metrics`; None = none).

    Attributes
    ----------
    water_cap_m3_per_day
        Cap on all campus water use in each year [m3/day].
    co2_cap_t
        Cap on the CO2 campuses add over the planning horizon [t CO2].
    upgrade_budget_usd
        Cap on the present value of grid upgrades [USD].
    """

    water_cap_m3_per_day: float | None = None
    co2_cap_t: float | None = None
    upgrade_budget_usd: float | None = None


@dataclass
class Goal:
    """What the model optimises (family :mod:`siting.model.objective`).

    Attributes
    ----------
    sense
        ``min_cost`` (net present cost) or ``max_capacity`` (under ``budget_usd``).
    budget_usd
        Budget of ``max_capacity`` [USD] (None = none).
    """

    sense: str
    budget_usd: float | None


@dataclass
class OnsiteData:
    """On-site generation and storage options (family :mod:`siting.model.onsite`; no
    options: the family adds nothing).

    Attributes
    ----------
    options
        Table indexed by option name: ``technology``, ``capex_usd_per_mw``,
        ``fixed_usd_per_mw_year``, ``annual_usd_per_mw`` (capex x the capital recovery
        factor over ``lifetime_years`` at the discount rate, plus the fixed cost)
        [USD/MW-year], ``variable_usd_per_mwh``, ``lifetime_years``, ``co2_t_per_mwh``,
        ``water_m3_per_mwh``, ``storage_mwh_per_mw`` (0: a generator),
        ``round_trip_efficiency``, ``max_mw_per_site``.
    availability
        Output available per MW built, indexed (site_id, option) over the pairs that may be
        built, one column per snapshot name [fraction].
    islanding
        Campuses may run islanded (no grid connection).
    peak_event_hours
        How long the stress of a 0-hour snapshot lasts, for storage energy [h].
    """

    options: pd.DataFrame = field(default_factory=pd.DataFrame)
    availability: pd.DataFrame = field(default_factory=pd.DataFrame)
    islanding: bool = False
    peak_event_hours: float = 4.0

    @property
    def enabled(self) -> bool:
        """Whether any site may build any option."""
        return len(self.availability) > 0


@dataclass
class FlexData:
    """Flexible (curtailable) connection of campuses (family :mod:`siting.model.flex`).

    Attributes
    ----------
    enabled
        Whether the family is built (needs the grid model).
    max_share
        Most of a site's IT MW that may be flexible [fraction].
    depth
        Share of the flexible MW's draw that may be curtailed at once [fraction].
    budget_share
        Curtailed energy per site and year at most this share of the flexible MW's peak
        draw x 8,760 h [fraction].
    curtail_usd_per_mwh
        Cost of curtailed compute [USD/MWh of facility draw].
    flexible_usd_per_mw_year
        Cost of holding one IT MW flexible for a year [USD/MW-year].
    stress_hours
        Hours per year curtailment in each snapshot counts for, by snapshot name [h]
        (:func:`stress_hours_of` fills in the snapshots not named).
    peak_stress_hours
        Stress hours of a peak snapshot with 0 ``hours`` and none of its own [h].
    """

    enabled: bool = False
    max_share: float = 1.0
    depth: float = 0.30
    budget_share: float = 0.005
    curtail_usd_per_mwh: float = 6_350.0
    flexible_usd_per_mw_year: float = 1_000.0
    stress_hours: dict[str, float] = field(default_factory=dict)
    peak_stress_hours: float = 87.6


@dataclass
class ComputeData:
    """Accelerators, their generations and the shell's floor (family
    :mod:`siting.model.compute`; ``None`` on :class:`ModelData`: the family adds nothing).

    Attributes
    ----------
    generations
        The generations the plan may install (:func:`siting.model.generations.load_generations`
        rows): indexed by generation; ``first_year, kw_per_accelerator,
        accelerators_per_rack, rack_kw, needs_liquid, compute_per_accelerator,
        service_life_years, capex_usd_per_accelerator, tokens_per_s_per_accelerator,
        source``.
    max_racks
        Rack positions each site's land holds, by site_id [racks]:
        ``land_it_mw x 1000 / land_rack_kw``.
    land_rack_kw
        Rack density at which the land's IT MW was counted [kW/rack].
    building_usd_per_rack
        Building floor per rack position, paid when built [USD/rack].
    disposal_usd_per_accelerator
        Disposal at the end of an accelerator's service life [USD/accelerator].
    discount_rate
        Real discount rate [fraction per year] (the hardware's annuity).
    accelerator_targets
        National accelerators of a generation to have in service, by (generation, period)
        [accelerators].
    compute_targets
        National compute to have in service per period (0 where none) [compute units].
    early_retirement
        Whether a cohort may leave service before the end of its life (False: it serves
        its whole life).
    """

    generations: pd.DataFrame
    max_racks: dict[str, float]
    land_rack_kw: float = 40.0
    building_usd_per_rack: float = 0.0
    disposal_usd_per_accelerator: float = 0.0
    discount_rate: float = 0.0
    accelerator_targets: dict[tuple[str, int], float] = field(default_factory=dict)
    compute_targets: np.ndarray = field(default_factory=lambda: np.zeros(0))
    early_retirement: bool = False


def stress_hours_of(d: ModelData) -> dict[str, float]:
    """Hours per year curtailment in each snapshot counts for [h]: the snapshot's own
    ``stress_hours`` (:attr:`FlexData.stress_hours`), else its ``hours``, else (a peak
    snapshot of 0 hours) :attr:`FlexData.peak_stress_hours`."""
    out = {}
    for h, row in d.horizon.snapshots.iterrows():
        own = d.flex.stress_hours.get(str(h))
        if own is not None:
            out[str(h)] = float(own)
        elif float(row["hours"]) > 0 or not bool(row["peak"]):
            out[str(h)] = float(row["hours"])
        else:
            out[str(h)] = float(d.flex.peak_stress_hours)
    return out


@dataclass
class ModelData:
    """Everything the MILP reads, in one typed part per model family. Units in the names;
    arrays are aligned with their ID lists.

    Attributes
    ----------
    horizon
        :class:`Horizon`: periods, discounting, snapshots.
    campus
        :class:`CampusData`: the sites and the campus rules.
    cooling
        :class:`CoolingData`: technologies, their performance per site.
    grid
        :class:`GridData`: network, generators, loads, limits, upgrades, N-1.
    water
        :class:`WaterData`: sources and links.
    policy
        :class:`PolicyData`: targets, shares, zones, demand, public interest, heat.
    caps
        :class:`Caps`: caps on water, CO2 and upgrade spend.
    goal
        :class:`Goal`: the objective's sense and budget.
    onsite
        :class:`OnsiteData`: on-site generation and storage options (none by default).
    flex
        :class:`FlexData`: flexible connection and curtailment (off by default).
    compute
        :class:`ComputeData`: accelerator generations and the shell's floor (``None``, the
        default: the model plans IT MW only).
    pacts
        :class:`siting.model.pactdata.PactData`: compute pacts (none by default).
    notes
        What assembling the data decided on the user's behalf (said in the report).
    """

    horizon: Horizon
    campus: CampusData
    cooling: CoolingData
    grid: GridData
    water: WaterData
    policy: PolicyData
    caps: Caps
    goal: Goal
    onsite: OnsiteData = field(default_factory=OnsiteData)
    flex: FlexData = field(default_factory=FlexData)
    compute: ComputeData | None = None
    pacts: list[PactData] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def replaced(d: ModelData, **parts: Any) -> ModelData:
    """``d`` with some fields of its parts replaced (the rest shared, as
    :func:`dataclasses.replace` does).

    Parameters
    ----------
    d
        The model's inputs.
    **parts
        Part name (``horizon``, ``campus``, ``cooling``, ``grid``, ``water``, ``policy``,
        ``caps``, ``goal``, ``onsite``, ``flex``, ``compute``, ``pacts``) -> {field: new
        value}, e.g.
        ``replaced(d, grid={"n1": None})``; or a whole part (or ``None`` for an optional
        part), e.g. ``replaced(d, compute=ComputeData(...))``.

    Returns
    -------
    ModelData

    Raises
    ------
    siting.core.errors.SitingError
        Fields given for an optional part that ``d`` does not have.
    """
    out = {}
    for name, kw in parts.items():
        if not isinstance(kw, dict):
            out[name] = kw
            continue
        part = getattr(d, name)
        if part is None:
            raise SitingError(
                f"replaced: the model data has no {name} part to change fields of "
                f"({', '.join(kw)}); expected a whole part, e.g. {name}=ComputeData(...)"
            )
        out[name] = dataclasses.replace(part, **kw)
    return dataclasses.replace(d, **out)


def checked_outages(
    d: ModelData, flows: dict[tuple[int, str], np.ndarray], seen: set[int] | None = None
) -> np.ndarray:
    """Positions of the outages N-1 checks for these flows (radial ones never).

    ``flows``: {(period, snapshot): branch flows [MW]}. With ``outages: k`` they are the k
    most loaded branches (peak loading over the checked periods and snapshots), added to
    ``seen`` (the lazy loop's growing set) when given, and the whole set is returned.
    """
    assert d.grid.n1 is not None
    nl = len(d.grid.network.branch_ids)
    ok = np.ones(nl, dtype=bool)
    ok[d.grid.n1.radial] = False
    out = d.grid.n1.outages
    if out == "all":
        return np.flatnonzero(ok)
    if not isinstance(out, int):
        return np.array([k for k in out if ok[k]], dtype=int)
    rating = d.grid.network.rating_mw
    safe = np.where(np.isfinite(rating) & (rating > 0), rating, np.inf)
    load = np.zeros(nl)
    for (t, h), f in flows.items():
        if d.grid.n1.checks(t, h):
            load = np.maximum(load, np.abs(f) / safe)
    load[~ok] = -1.0
    top = {int(k) for k in np.argsort(-load, kind="stable")[:out] if ok[k]}
    if seen is not None:
        seen.update(top)
        top = seen
    return np.array(sorted(top), dtype=int)


def partners(
    pairs: list[tuple[str, str]], firsts: list[str], seconds: list[str]
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Each first element's partners and each second element's partners, in the pairs'
    order, in one pass over ``pairs`` (first, second): the index lists of the sums over
    sparse pairs (never a scan of every pair per element)."""
    of_first: dict[str, list[str]] = {a: [] for a in firsts}
    of_second: dict[str, list[str]] = {b: [] for b in seconds}
    for a, b in pairs:
        of_first[a].append(b)
        of_second[b].append(a)
    return of_first, of_second


#: ``grid.formulation: auto`` takes the PTDF form with lazy limits from this many buses on.
AUTO_PTDF_MIN_BUSES = 100


def resolve_formulation(formulation: str, n_buses: int) -> str:
    """``angle`` or ``ptdf`` for a scenario's ``grid.formulation`` on ``n_buses`` buses.

    ``auto`` is ``ptdf`` from :data:`AUTO_PTDF_MIN_BUSES` buses on: there, few of the many
    line limits bind and adding them lazily halves the solve (measured on the 141-bus demo
    and a 300-bus pglib case); on a handful of buses the angle form is as fast and simpler.
    """
    if formulation == "auto":
        return "ptdf" if n_buses >= AUTO_PTDF_MIN_BUSES else "angle"
    return formulation


def discounting(
    years: list[int], rate: float, final_period_years: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Discount factors of one-off costs, and discounted operating years, per period.

    Parameters
    ----------
    years
        Planning years, increasing.
    rate
        Real discount rate [fraction per year].
    final_period_years
        Years the last planning year stands for [years].

    Returns
    -------
    capex_df, op_weight, period_years
        ``capex_df[t] = d**(y_t - y_0)`` with ``d = 1/(1+rate)``; ``op_weight[t] =
        d**(y_t - y_0) * (1 - d**n_t) / (1 - d)`` (``n_t`` years; ``n_t`` when rate = 0);
        ``period_years[t] = n_t``.
    """
    y = np.asarray(years, dtype=float)
    n = np.append(np.diff(y), final_period_years)
    d = 1.0 / (1.0 + rate)
    capex_df = d ** (y - y[0])
    annuity = n if rate == 0 else (1.0 - d**n) / (1.0 - d)
    return capex_df, capex_df * annuity, n


def gen_cost_lines(
    curve: CostCurve | None,
    marginal: float,
    p_min: float,
    p_max: float,
    segments: int = POLY_SEGMENTS,
) -> GenCost:
    """Cost lines of one generator for the model's epigraph [USD/h].

    The model takes a generator's cost as ``cost >= a_i + b_i * p`` for every line ``i``
    (an epigraph: at the optimum the cost is the largest of the lines at ``p``).

    - A linear curve (or a finite ``marginal`` with no curve) is one line ``c1 * p + c0``.
    - A MATPOWER piecewise-linear curve (gencost model 1, points ``(p_k, C_k)``) gives one
      line per segment, exactly: ``b_k = (C_{k+1} - C_k) / (p_{k+1} - p_k)`` [USD/MWh],
      ``a_k = C_k - b_k p_k`` [USD/h] (MATPOWER's own constrained cost variable form).
    - A polynomial of degree 2 or more (gencost model 2) is approximated by ``segments``
      secants over the equally spaced breakpoints ``x_j = p_min + j h``, ``j = 0 .. n``,
      ``h = (p_max - p_min) / n``; exact at the breakpoints.

    Error of the secants (see :func:`secant_error_bound_usd_per_h`): on a convex curve the
    largest secant at ``p`` in ``[p_min, p_max]`` is the piecewise-linear interpolant,
    which lies above the curve by at most ``h^2 / 8 * max C''``. For a quadratic
    ``C(p) = c2 p^2 + c1 p + c0`` (``C'' = 2 c2``):

    .. math::

        0 \\le \\hat C(p) - C(p) \\le \\frac{c_2}{4}
        \\left(\\frac{p_{max} - p_{min}}{n}\\right)^2 \\quad [\\text{USD/h}],

    with equality at the middle of each segment. A dispatch priced by secants therefore
    costs at least the exact optimum and at most the exact optimum plus the sum of the
    generators' bounds. Below ``p_min`` and above ``p_max`` (outside a peak dispatch's
    range) the extended end secants lie below a convex curve.

    Parameters
    ----------
    curve
        The generator's cost curve, or ``None`` (then ``marginal`` is used).
    marginal
        Linear cost when there is no curve [USD/MWh].
    p_min, p_max
        Output range the secants span [MW] (``p_max <= p_min``: one MW above ``p_min``).
    segments
        Number of secants ``n`` for a polynomial of degree 2 or more (>= 1; the
        scenario's ``grid.cost_segments``).

    Returns
    -------
    GenCost
        Slopes [USD/MWh] and intercepts [USD/h] of the lines.
    """
    if segments < 1:
        raise ValueError(f"segments must be >= 1, got {segments}")
    if curve is None:
        return GenCost(np.array([float(marginal)]), np.array([0.0]))
    if curve.model == "polynomial":
        c = np.trim_zeros(np.asarray(curve.coefficients, dtype=float), "f")
        if len(c) <= 2:  # c1 * p + c0
            c1 = c[0] if len(c) == 2 else 0.0
            c0 = c[-1] if len(c) else 0.0
            return GenCost(np.array([c1]), np.array([c0]))
        hi = p_max if p_max > p_min else p_min + 1.0
        x = np.linspace(p_min, hi, int(segments) + 1)
        pts = np.column_stack([x, np.polyval(c, x)])
    else:
        assert curve.points is not None
        pts = np.asarray(curve.points, dtype=float)
    if len(pts) == 1:
        return GenCost(np.array([0.0]), np.array([pts[0, 1]]))
    slope = np.diff(pts[:, 1]) / np.diff(pts[:, 0])
    intercept = pts[:-1, 1] - slope * pts[:-1, 0]
    return GenCost(slope, intercept)


def secant_error_bound_usd_per_h(
    curve: CostCurve | None, p_min: float, p_max: float, segments: int = POLY_SEGMENTS
) -> float:
    """Largest overestimate of a generator's cost by the secants of :func:`gen_cost_lines`.

    With ``n = segments`` equal secants of width ``h = (p_max - p_min) / n`` on a curve
    ``C`` convex on ``[p_min, p_max]``, the model's cost ``hat C`` (the largest secant at
    ``p``) is the linear interpolant of ``C``, and the interpolation error is at most
    ``h^2 / 8 * max C''`` on the range. For a quadratic ``c2 p^2 + c1 p + c0`` the error
    on segment ``[x_j, x_j + h]`` is ``c2 (p - x_j)(x_j + h - p)``, whose maximum is

    .. math::

        \\max_{p \\in [p_{min}, p_{max}]} \\hat C(p) - C(p)
        = \\frac{c_2}{4} \\left(\\frac{p_{max} - p_{min}}{n}\\right)^2 \\quad [\\text{USD/h}]

    at each segment's middle (the bound is tight). For degree 3 and more the bound is
    ``h^2 / 8 * max C''`` with ``C''`` maximised exactly (at the ends or where
    ``C''' = 0``).

    Parameters
    ----------
    curve
        The cost curve (``None``, piecewise-linear, or a polynomial of degree <= 1: the
        model is exact and the bound is 0).
    p_min, p_max
        Output range [MW] (``p_max <= p_min``: the output is fixed at a breakpoint, 0).
    segments
        Number of secants (>= 1).

    Returns
    -------
    float
        The bound [USD/h]; ``inf`` when the polynomial is not convex on the range (the
        largest secant is then not the interpolant and no bound is stated).
    """
    if segments < 1:
        raise ValueError(f"segments must be >= 1, got {segments}")
    if curve is None or curve.model != "polynomial" or p_max <= p_min:
        return 0.0
    c = np.trim_zeros(np.asarray(curve.coefficients, dtype=float), "f")
    if len(c) <= 2:
        return 0.0
    h = (p_max - p_min) / segments
    if len(c) == 3:
        return float(c[0] * h * h / 4.0) if c[0] >= 0 else math.inf
    # C'' is a polynomial: its extremes on the range are at the ends or where C''' = 0
    d2 = np.polyder(c, 2)
    d3 = np.polyder(c, 3)
    xs = [float(p_min), float(p_max)]
    if len(d3) > 1:
        xs += [
            float(r.real) for r in np.roots(d3) if abs(r.imag) < 1e-12 and p_min < r.real < p_max
        ]
    vals = np.polyval(d2, np.asarray(xs))
    if vals.min() < 0:
        return math.inf
    return float(h * h / 8.0 * vals.max())


def generator_inputs(
    grid: Grid, net: DCNetwork, segments: int = POLY_SEGMENTS
) -> tuple[pd.DataFrame, dict[str, GenCost]]:
    """The in-service generators and their cost lines, as the model reads them.

    Parameters
    ----------
    grid
        The grid.
    net
        Its :class:`siting.network.DCNetwork` (for the bus positions).
    segments
        Secants per polynomial cost (:func:`gen_cost_lines`).

    Returns
    -------
    gens, gen_costs
        ``gens`` indexed by gen_id with ``bus_id, bus_pos, p_min_mw, p_max_mw`` [MW] and
        ``co2_t_per_mwh`` [t CO2/MWh];
        ``gen_costs``: gen_id -> :class:`GenCost`.
    """
    g = grid.generators[grid.generators["in_service"].astype(bool)]
    bus_pos = pd.Series(np.arange(len(net.bus_ids)), index=net.bus_ids)
    gens = pd.DataFrame(
        {
            "bus_id": g["bus_id"].astype(str).to_numpy(),
            "bus_pos": bus_pos.loc[g["bus_id"].astype(str)].to_numpy(),
            "p_min_mw": g["p_min_mw"].astype(float).to_numpy(),
            "p_max_mw": g["p_max_mw"].astype(float).to_numpy(),
            "co2_t_per_mwh": (
                g["co2_t_per_mwh"].astype(float).to_numpy()
                if "co2_t_per_mwh" in g
                else np.zeros(len(g))
            ),
        },
        index=pd.Index([str(i) for i in g.index], name="gen_id"),
    )
    gen_costs: dict[str, GenCost] = {}
    for gid, row in g.iterrows():
        gen_costs[str(gid)] = gen_cost_lines(
            grid.costs.get(str(gid)),
            float(row["marginal_cost_usd_per_mwh"]),
            float(row["p_min_mw"]),
            float(row["p_max_mw"]),
            segments,
        )
    return gens, gen_costs


def model_data(
    scenario: Scenario,
    layers: Layers,
    candidates: Candidates,
    cooling: pd.DataFrame,
    net: DCNetwork | None = None,
) -> ModelData:
    """Assemble the model's inputs.

    Parameters
    ----------
    scenario
        The validated :class:`siting.config.scenario.Scenario`.
    layers
        Its :class:`siting.inputs.Layers` (``layers.grid`` ``None``: the grid is not
        modelled, whatever ``grid.enabled`` says).
    candidates
        :class:`siting.candidates.generate.Candidates` (screened).
    cooling
        :func:`siting.candidates.cooling.cooling_table` of the candidates, indexed
        (site_id, cooling).
    net
        :class:`siting.network.DCNetwork` of ``layers.grid`` (built here when None and the
        grid is enabled).

    Returns
    -------
    ModelData
    """
    horizon = _horizon(scenario)
    years, snaps = horizon.years, horizon.snapshots
    campus = _campus(scenario, candidates, horizon)
    sites, site = campus.sites, campus.site
    compute = compute_inputs(scenario, site, list(years))  # before max_it_mw is read
    notes: list[str] = []
    cool = _cooling_choice(scenario, candidates, cooling, sites, notes)
    grid = _grid_inputs(scenario, layers.grid, net, years, snaps, site, notes)
    net = grid.net
    power_years(scenario, layers.grid, grid, site, notes)
    sources = _water_sources(scenario, layers, years, cool.water_on)
    water_links = _water_links(cool.links, sources, sites)
    region_shares = _region_shares(scenario, layers, site)
    demand_links, demand_mw = _demand_inputs(scenario, layers, candidates, sites, years)
    public_share, public_sites, public_techs = _public_interest(
        scenario, site, sites, cool.allowed, cool.wue
    )
    heat_links, sinks = _heat_inputs(layers, candidates, sites)
    pacts = _pacts(scenario, layers, site, list(years), compute, grid, public_sites)
    form = _formulation(scenario, grid.on, net, notes)
    pol = scenario.policy
    onsite = onsite_inputs(
        scenario, sites, list(snaps.index), resource=candidates.resource, notes=notes
    )
    flex = _flex(scenario, grid.on)
    on_sites = sorted({str(x) for x in onsite.availability.index.get_level_values(0)})
    first_power(site, list(years), flex.enabled, on_sites if len(onsite.availability) else [])
    return ModelData(
        horizon=horizon,
        campus=campus,
        cooling=CoolingData(
            techs=cool.techs,
            allowed=cool.allowed,
            perf=cool.perf,
            capex_usd_per_mw={k: float(v) for k, v in scenario.cooling.capex_usd_per_mw.items()},
            heat_recovery_share={
                k: float(v) for k, v in scenario.cooling.heat_recovery_share.items()
            },
        ),
        grid=GridData(
            enabled=grid.on,
            line_limits=scenario.grid.line_limits,
            formulation=form,
            energy_usd_per_mwh=scenario.costs.energy_usd_per_mwh,
            voll_usd_per_mwh=scenario.grid.voll_usd_per_mwh,
            net=net if grid.on else None,
            gens=grid.gens,
            gen_costs=grid.gen_costs,
            base_load_mw=grid.base_load,
            shunt_mw=grid.shunt,
            headroom_mw=grid.headroom,
            branch_upgrades=grid.branch_up,
            bus_upgrades=grid.bus_up,
            rating_emergency_mw=grid.emergency,
            n1=grid.n1,
        ),
        water=WaterData(
            enabled=cool.water_on,
            sources=sources,
            links=water_links,
            potable_cap_m3_per_day=scenario.water.potable_cap_m3_per_day,
        ),
        policy=PolicyData(
            region_shares=region_shares,
            zone_mode=pol.zones.mode,
            zone_min_share=pol.zones.min_share,
            demand_links=demand_links,
            demand_mw=demand_mw,
            public_share=public_share,
            public_sites=public_sites,
            public_techs=public_techs,
            heat_links=heat_links,
            sinks=sinks,
            **target_inputs(scenario.targets, years),
            **export_inputs(scenario, years),
        ),
        caps=Caps(
            water_cap_m3_per_day=scenario.water.cap_m3_per_day,
            co2_cap_t=pol.co2_cap_t,
            upgrade_budget_usd=scenario.grid.upgrade_budget_usd,
        ),
        goal=Goal(sense=scenario.objective.sense, budget_usd=scenario.objective.budget_usd),
        onsite=onsite,
        flex=flex,
        compute=compute,
        pacts=pacts,
        notes=notes,
    )


def target_inputs(targets: Targets, years: list[int]) -> dict[str, Any]:
    """The :class:`PolicyData` fields that come from a scenario's ``targets`` section.

    The one place targets enter the model's data, so a demand scenario
    (:mod:`siting.studies.twostage`) that replaces some target fields gets every field
    derived from them recomputed here.

    Parameters
    ----------
    targets
        The scenario's :class:`siting.config.scenario.Targets`.
    years
        Planning years.

    Returns
    -------
    dict
        ``targets_mw`` (IT MW per year, 0 where none) [MW] and
        ``shortfall_usd_per_mw_year`` [USD/(MW year)] (None: hard targets).
    """
    return {
        "targets_mw": np.array([targets.it_mw_by_year.get(y, 0.0) for y in years], dtype=float),
        "shortfall_usd_per_mw_year": targets.shortfall_usd_per_mw_year,
    }


def export_inputs(scenario: Scenario, years: list[int]) -> dict[str, Any]:
    """The export market's :class:`PolicyData` fields (``policy.export``): its price
    [USD/(MW year)] and the most MW IT exported per year [MW] (``inf`` where the scenario
    sets no cap); ``None`` for both without the market."""
    ex = scenario.policy.export
    if ex is None:
        return {"export_usd_per_mw_year": None, "export_max_mw": None}
    most = np.array([ex.max_mw_by_year.get(y, np.inf) for y in years], dtype=float)
    return {"export_usd_per_mw_year": float(ex.usd_per_mw_year), "export_max_mw": most}


def first_power(site: pd.DataFrame, years: list[int], flex_on: bool, onsite: list[str]) -> None:
    """Each site's first period with any MW, by the power it can have then (in place).

    A site may have MW from the earliest of: its firm connection (``firm_connect_year``),
    its flexible connection (``flex_connect_year``) when the model has flexible MW
    (``flex_on``), and, at a site with on-site generation options (``onsite``), the end of
    its construction (``build_year``): before its grid connection such a campus runs on its
    own supply (:func:`siting.model.power.add_power_years`). Sets ``earliest_period`` (that
    first period, an index into ``years``), keeps ``firm_period`` (the firm connection's) and
    sets ``flex_period`` to ``firm_period`` when the model has no flexible MW, and
    ``power_via`` (``firm``, ``flexible`` or ``on-site``: what powers its first year).
    """
    if not len(site):
        site["power_via"] = pd.Series(dtype=str)
        return
    yrs = np.asarray(years)
    first, grid, firm = power_year_bounds(site, flex_on, onsite)
    site["flex_period"] = np.searchsorted(yrs, grid).astype(int)
    site["earliest_period"] = np.searchsorted(yrs, first).astype(int)
    site["power_via"] = np.where(
        first >= firm, "firm", np.where(first >= grid, "flexible", "on-site")
    )


def power_year_bounds(
    site: pd.DataFrame, flex_on: bool, onsite: Collection[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``site``: the first year it may have MW, its grid connection's year (the
    flexible one when ``flex_on`` and earlier) and its firm connection's year [calendar year],
    from ``firm_connect_year``, ``flex_connect_year`` and ``build_year`` (a site in
    ``onsite``, with on-site options, may run from its ``build_year``); read by
    :func:`first_power` and the verification."""
    firm = site["firm_connect_year"].to_numpy(dtype=float)
    flex = site["flex_connect_year"].to_numpy(dtype=float) if flex_on else firm
    grid = np.minimum(flex, firm)
    build = site["build_year"].to_numpy(dtype=float) if "build_year" in site else firm
    own = np.where(np.isin(np.asarray(site.index, dtype=str), list(onsite)), build, firm)
    return np.minimum(grid, own), grid, firm


def capital_recovery_factor(rate: float, lifetime_years: float) -> float:
    """Annual payment per unit of capex over ``lifetime_years`` at ``rate`` [1/year]:
    ``r / (1 - (1 + r) ** -L)``, ``1 / L`` at rate 0."""
    if rate == 0:
        return 1.0 / lifetime_years
    return rate / (1.0 - (1.0 + rate) ** -lifetime_years)


def onsite_inputs(
    scenario: Scenario,
    sites: list[str],
    snapshots: list[str],
    resource: pd.DataFrame | None = None,
    notes: list[str] | None = None,
) -> OnsiteData:
    """:class:`OnsiteData` of ``scenario.onsite`` for the candidate ``sites``.

    Parameters
    ----------
    scenario
        The validated scenario.
    sites
        The candidate site IDs.
    snapshots
        The snapshot names, in order.
    resource
        Annual capacity factor [fraction] by site (index) and option (column) of the
        options with an ``availability_raster``
        (:attr:`siting.candidates.generate.Candidates.resource`); see
        :func:`raster_availability` for how it combines with the snapshot profile.
    notes
        Sites left without an option because its raster has no value there are noted here.

    Raises
    ------
    InputError
        An option's ``sites`` names an ID that is not a candidate site, or one where its
        resource raster has no value; an option with a raster has no sampled values.
    """
    cfg = scenario.onsite
    if not cfg.options:
        return OnsiteData()
    rate = scenario.costs.discount_rate
    rows, avail = {}, {}
    known = set(sites)
    hours = _snapshot_hours(scenario, snapshots)
    for i, o in enumerate(cfg.options):
        crf = capital_recovery_factor(rate, o.lifetime_years)
        rows[o.name] = {
            "technology": o.technology,
            "capex_usd_per_mw": o.capex_usd_per_mw,
            "fixed_usd_per_mw_year": o.fixed_usd_per_mw_year,
            "annual_usd_per_mw": o.capex_usd_per_mw * crf + o.fixed_usd_per_mw_year,
            "variable_usd_per_mwh": o.variable_usd_per_mwh,
            "lifetime_years": o.lifetime_years,
            "co2_t_per_mwh": o.co2_t_per_mwh,
            "water_m3_per_mwh": o.water_m3_per_mwh,
            "storage_mwh_per_mw": o.storage_mwh_per_mw,
            "round_trip_efficiency": o.round_trip_efficiency,
            "max_mw_per_site": o.max_mw_per_site,
        }
        unknown = sorted(set(o.sites or []) - known)
        if unknown:
            raise _scenario_error(
                scenario,
                f"onsite.options[{i}].sites",
                f"option {o.name!r} names sites {unknown[:5]} that are not candidate sites; "
                "expected site IDs of layers.sites that passed screening",
            )
        a = [o.availability_by_snapshot.get(h, o.availability) for h in snapshots]
        at = list(o.sites if o.sites is not None else sites)
        if o.availability_raster is None:
            avail.update({(s, o.name): a for s in at})
            continue
        cf = _sampled_cf(scenario, i, at, resource, notes)
        try:
            shaped = raster_availability(cf.to_numpy(), a, hours)
        except ValueError as e:
            raise _scenario_error(
                scenario,
                f"onsite.options[{i}].availability_by_snapshot",
                f"option {o.name!r}: {e} (weighted by the snapshots' hours), so it cannot "
                "shape the raster's annual capacity factor; expected a positive availability "
                "in some snapshot with hours",
            ) from None
        for s, row in zip(cf.index, shaped, strict=True):
            avail[s, o.name] = list(row)
    if not avail:
        return OnsiteData()
    table = pd.DataFrame.from_dict(avail, orient="index", columns=snapshots)
    table.index = pd.MultiIndex.from_tuples(list(avail), names=["site_id", "option"])
    return OnsiteData(
        options=pd.DataFrame.from_dict(rows, orient="index").rename_axis("option"),
        availability=table.astype(float),
        islanding=cfg.islanding,
        peak_event_hours=cfg.peak_event_hours,
    )


def _snapshot_hours(scenario: Scenario, snapshots: list[str]) -> np.ndarray:
    """Hours per year of each named snapshot [h] (``grid.snapshots``; 1 each for a name the
    scenario does not list, e.g. a test's own snapshots)."""
    by_name = {sn.name: float(sn.hours) for sn in scenario.grid.snapshots}
    return np.array([by_name.get(h, 1.0) for h in snapshots], dtype=float)


def raster_availability(
    cf_annual: np.ndarray, profile: list[float], hours_h: np.ndarray
) -> np.ndarray:
    """Availability per site and snapshot [fraction] from annual capacity factors and a
    snapshot profile.

    ``a[s, h] = clip(cf_annual[s] * profile[h] / mean, 0, 1)`` with ``mean = sum_h hours_h
    * profile[h] / sum_h hours_h`` the profile's mean over the year's hours (the plain mean
    when every snapshot has 0 hours). The profile only shapes the year: unclipped, a site's
    output over the year is ``cf_annual[s] x 8,760 h`` per MW, the raster's. A flat profile
    gives ``cf_annual`` in every snapshot.

    Parameters
    ----------
    cf_annual
        Annual capacity factor per site [fraction].
    profile
        The option's availability per snapshot (``availability_by_snapshot``, else
        ``availability``) [fraction].
    hours_h
        Hours per year of each snapshot [h].

    Returns
    -------
    numpy.ndarray
        (sites, snapshots) availability [fraction].

    Raises
    ------
    ValueError
        The profile's mean is 0 (it cannot be scaled to a capacity factor).
    """
    p = np.asarray(profile, dtype=float)
    w = np.asarray(hours_h, dtype=float)
    mean = float((w * p).sum() / w.sum()) if w.sum() > 0 else float(p.mean())
    if mean <= 0:
        raise ValueError("the snapshot profile averages 0 over the year")
    return np.clip(np.outer(np.asarray(cf_annual, dtype=float), p / mean), 0.0, 1.0)


def _sampled_cf(
    scenario: Scenario,
    i: int,
    at: list[str],
    resource: pd.DataFrame | None,
    notes: list[str] | None,
) -> pd.Series:
    """Annual capacity factor [fraction] of option ``i`` at the sites ``at`` where its
    raster has a value; a site its ``sites`` names without one is an error, other such
    sites are left out (noted)."""
    o = scenario.onsite.options[i]
    ref = o.availability_raster
    assert ref is not None
    key = f"onsite.options[{i}].availability_raster"
    if resource is None or o.name not in resource.columns:
        raise _scenario_error(
            scenario,
            key,
            f"option {o.name!r} takes its availability from {ref.path}, but no value was "
            "sampled at the candidate sites; expected the raster read with the layers",
        )
    cf = resource[o.name].reindex([str(s) for s in at])
    missing = cf.index[cf.isna()].tolist()
    if missing and o.sites is not None:
        raise _scenario_error(
            scenario,
            key,
            f"option {o.name!r}: {ref.path} (band {ref.band}) has no value at sites "
            f"{missing[:5]} (outside the raster or nodata); expected a value at every site "
            f"onsite.options[{i}].sites names",
        )
    if missing and notes is not None:
        notes.append(
            f"on-site option {o.name}: {len(missing)} candidate sites lie where "
            f"{ref.path.name} has no value (e.g. {', '.join(missing[:3])}); the option is "
            "not offered there"
        )
    return cf.dropna()


def _flex(scenario: Scenario, grid_on: bool) -> FlexData:
    """The scenario's ``flexibility`` section and snapshot stress hours (the family is
    built only with the grid model)."""
    f = scenario.flexibility
    return FlexData(
        enabled=f.enabled and grid_on,
        max_share=f.max_share,
        depth=f.depth,
        budget_share=f.budget_share,
        curtail_usd_per_mwh=f.curtail_usd_per_mwh,
        flexible_usd_per_mw_year=f.flexible_usd_per_mw_year,
        stress_hours={
            s.name: float(s.stress_hours)
            for s in scenario.grid.snapshots
            if s.stress_hours is not None
        },
        peak_stress_hours=f.peak_stress_hours,
    )


def compute_inputs(scenario: Scenario, site: pd.DataFrame, years: list[int]) -> ComputeData | None:
    """The scenario's ``compute`` section as :class:`ComputeData` (``None`` without one).

    With the section, a site's ``max_it_mw`` becomes the IT envelope its shell may reach
    when its floor holds the densest generation allowed (in place): the land's IT MW
    (``land_it_mw``, kept in ``site``) counted at ``land_rack_kw`` give ``max_racks =
    land_it_mw x 1000 / land_rack_kw`` rack positions, and the envelope is ``min(
    campus.max_campus_mw, land_it_mw x densest / land_rack_kw)``, at least ``land_it_mw``,
    with ``densest = max_g kw_per_accelerator x accelerators_per_rack`` [kW per rack
    position]. The floor then limits the racks (:mod:`siting.model.compute`), the grid and
    the cooling plant the MW.

    Raises
    ------
    siting.core.errors.InputError
        A generation the table lacks (named by ``compute.generations`` or a target).
    """
    cfg = scenario.compute
    if cfg is None:
        return None
    path = cfg.generations_csv
    table = load_generations(path)
    where = str(path) if path is not None else "the shipped table"
    if cfg.generations is not None:
        _known_generations(cfg.generations, table, where, "compute.generations")
        table = table.loc[list(dict.fromkeys(cfg.generations))]
    for y, by_gen in scenario.targets.accelerators_by_year.items():
        _known_generations(list(by_gen), table, where, f"targets.accelerators_by_year.{y}")
    per_rack = table["kw_per_accelerator"] * table["accelerators_per_rack"]
    land = site["max_it_mw"].astype(float)
    site["land_it_mw"] = land
    dense = (land * float(per_rack.max()) / cfg.land_rack_kw).clip(
        upper=scenario.campus.max_campus_mw
    )
    site["max_it_mw"] = np.maximum(land.to_numpy(), dense.to_numpy())
    return ComputeData(
        generations=table,
        max_racks={str(k): float(v) * 1000.0 / cfg.land_rack_kw for k, v in land.items()},
        land_rack_kw=cfg.land_rack_kw,
        building_usd_per_rack=cfg.building_usd_per_rack,
        disposal_usd_per_accelerator=cfg.disposal_usd_per_accelerator,
        discount_rate=scenario.costs.discount_rate,
        early_retirement=cfg.early_retirement,
        **compute_target_inputs(scenario.targets, years),
    )


def compute_target_inputs(targets: Targets, years: list[int]) -> dict[str, Any]:
    """The :class:`ComputeData` fields that come from a scenario's ``targets`` section (the
    compute counterpart of :func:`target_inputs`, so a demand scenario that replaces
    accelerator or compute targets gets them recomputed).

    Returns
    -------
    dict
        ``accelerator_targets`` ({(generation, period): count} [accelerators]) and
        ``compute_targets`` (per period [compute units], 0 where none).
    """
    acc: dict[tuple[str, int], float] = {}
    for y, by_gen in targets.accelerators_by_year.items():
        for g, n in by_gen.items():
            acc[str(g), years.index(y)] = float(n)
    return {
        "accelerator_targets": acc,
        "compute_targets": np.array(
            [targets.compute_by_year.get(y, 0.0) for y in years], dtype=float
        ),
    }


def _pacts(
    scenario: Scenario,
    layers: Layers,
    site: pd.DataFrame,
    years: list[int],
    compute: ComputeData | None,
    grid: _GridInputs,
    public_sites: list[str],
) -> list[PactData]:
    """The scenario's compute pacts (:func:`siting.model.pactdata.pact_inputs`); sets each
    site's ``security_tier`` in ``site`` (in place; 0 where the sites layer gives none)."""
    tiers = site_tiers(layers.sites, list(site.index))
    site["security_tier"] = tiers.to_numpy()
    if not scenario.pacts:
        return []
    given = (
        layers.sites is not None
        and "security_tier" in layers.sites
        and bool(pd.to_numeric(layers.sites["security_tier"], errors="coerce").notna().any())
    )
    regions = (
        {str(r) for r in layers.regions.index}
        if layers.regions is not None
        else set(site["region_id"])
    )
    zones = {str(z) for z in layers.zones.index} if layers.zones is not None else set()
    return pact_inputs(
        scenario,
        site,
        years,
        generations=list(compute.generations.index) if compute is not None else [],
        known={
            "sites": set(site.index),
            "zones": zones,
            "regions": regions,
            "generators": {str(g) for g in grid.gens.index},
        },
        tiers_given=given,
        public_sites=public_sites if scenario.policy.public_interest is not None else None,
    )


def _known_generations(names: list[str], table: pd.DataFrame, where: str, fld: str) -> None:
    """Refuse generation ``names`` that ``table`` (read from ``where``) lacks, naming ``fld``."""
    unknown = [g for g in names if g not in table.index]
    if unknown:
        raise InputError(
            Problem(
                f"unknown generation(s) {', '.join(map(repr, unknown))}; expected names in "
                f"{where} ({', '.join(map(str, table.index))})",
                field=fld,
            )
        )


def _horizon(scenario: Scenario) -> Horizon:
    """The planning periods, their discounting and the snapshots of ``scenario``."""
    years = list(scenario.years)
    capex_df, op_weight, period_years = discounting(
        years, scenario.costs.discount_rate, scenario.costs.final_period_years
    )
    return Horizon(
        years=years,
        capex_df=capex_df,
        op_weight=op_weight,
        period_years=period_years,
        snapshots=_snapshot_table(scenario),
        utilisation=scenario.grid.campus_utilisation,
    )


def _campus(scenario: Scenario, candidates: Candidates, horizon: Horizon) -> CampusData:
    """The screened candidates as the sites family reads them, with the campus rules [MW]
    and costs [USD/MW]."""
    camp, costs, zones = scenario.campus, scenario.costs, scenario.policy.zones
    sites = [str(s) for s in candidates.sites.index]
    max_modules = np.floor(
        camp.max_build_mw_per_year * horizon.period_years / camp.module_mw + 1e-9
    )
    return CampusData(
        sites=sites,
        site=_site_table(scenario, candidates.sites, sites, horizon.years),
        module_mw=camp.module_mw,
        min_campus_mw=camp.min_campus_mw,
        max_modules_per_period=max_modules,
        capex_usd_per_mw=costs.capex_usd_per_mw,
        interconnection_usd_per_mw=costs.interconnection_usd_per_mw,
        zone_bonus_usd_per_mw=zones.bonus_usd_per_mw if zones.mode == "prefer" else 0.0,
    )


def _site_table(
    scenario: Scenario, sites_df: pd.DataFrame, sites: list[str], years: list[int]
) -> pd.DataFrame:
    """The per-site table of :attr:`CampusData.site` (costs [USD, USD/MW], distances [km]).

    Parameters
    ----------
    scenario
        The scenario (campus rules, candidate rules, costs).
    sites_df
        The screened candidates (``Candidates.sites``).
    sites
        Their IDs as strings, in that order.
    years
        Planning years.

    Returns
    -------
    pandas.DataFrame
        Indexed by site_id (see :class:`CampusData`).
    """
    camp = scenario.campus
    earliest = camp.earliest_year if camp.earliest_year is not None else years[0]
    earliest_period = int(np.searchsorted(np.asarray(years), earliest))
    site = pd.DataFrame(index=pd.Index(sites, name="site_id"))
    site["max_it_mw"] = sites_df["max_it_mw"].astype(float).to_numpy()
    site["fixed_cost_usd"] = sites_df["fixed_cost_usd"].astype(float).to_numpy()
    site["land_usd_per_mw"] = (
        sites_df["land_cost_usd_per_ha"].astype(float).fillna(0.0).to_numpy()
        * scenario.candidates.land_ha_per_mw
    )
    site["bus_distance_km"] = sites_df["bus_distance_km"].astype(float).to_numpy()
    site["interconnect_usd"] = site["bus_distance_km"] * scenario.costs.interconnection_usd_per_km
    for col in ("bus_id", "zone_id", "zone_kind", "region_id"):
        site[col] = sites_df[col].fillna("").astype(str).to_numpy()
    site["earliest_period"] = earliest_period
    site["firm_period"] = earliest_period
    site["flex_period"] = earliest_period
    site["firm_connect_year"] = max(int(earliest), int(years[0]))
    site["flex_connect_year"] = site["firm_connect_year"]
    site["build_year"] = site["firm_connect_year"]
    site["power_why"] = "build" if earliest > years[0] else ""
    return site


#: What sets a site's first year of firm power (``power_why``), in the order a tie is named.
POWER_WHY = ("queue", "upgrade", "build")


def bus_connect_years(scenario: Scenario, grid: Grid | None) -> pd.DataFrame:
    """The first year new load can connect at each bus, firm and flexible.

    Firm: the bus's ``firm_connect_year`` (its own field or ``layers.grid.connections``);
    else ``years[0] + grid.lead_time_years_by_kv[c]`` for the highest class ``c`` [kV] at or
    below its ``voltage_kv``; else ``years[0]`` (no wait). Flexible: the earlier of the firm
    year and ``years[0] + grid.flexible_lead_time_years`` (the firm year when that is unset).
    Fractional lead times round up to whole years.

    Parameters
    ----------
    scenario
        The scenario (planning years, lead-time settings).
    grid
        The grid layer (``None``: an empty table).

    Returns
    -------
    pandas.DataFrame
        Indexed by bus_id (str): ``firm_connect_year, flex_connect_year`` [calendar year] and
        ``queued`` (whether a wait was set for the bus).
    """
    y0 = int(scenario.years[0])
    if grid is None:
        return pd.DataFrame(columns=["firm_connect_year", "flex_connect_year", "queued"])
    buses = grid.buses
    ids = pd.Index([str(b) for b in buses.index], name="bus_id")
    own = (
        pd.to_numeric(buses["firm_connect_year"], errors="coerce").to_numpy(dtype=float)
        if "firm_connect_year" in buses
        else np.full(len(buses), np.nan)
    )
    by_kv = sorted(scenario.grid.lead_time_years_by_kv.items())
    kv = pd.to_numeric(buses.get("voltage_kv"), errors="coerce")
    kv_arr = np.asarray(kv, dtype=float) if kv is not None else np.full(len(buses), np.nan)
    by_class = np.full(len(buses), np.nan)
    for c, lead in by_kv:  # ascending: the highest class at or below the voltage wins
        by_class = np.where(kv_arr >= c, y0 + math.ceil(lead - 1e-9), by_class)
    firm = np.where(np.isfinite(own), own, by_class)
    queued = np.isfinite(firm)
    firm = np.maximum(np.where(queued, firm, y0), y0)
    flex_lead = scenario.grid.flexible_lead_time_years
    flex = firm if flex_lead is None else np.minimum(firm, y0 + math.ceil(flex_lead - 1e-9))
    return pd.DataFrame(
        {
            "firm_connect_year": firm.astype(int),
            "flex_connect_year": flex.astype(int),
            "queued": queued,
        },
        index=ids,
    )


def power_years(
    scenario: Scenario,
    grid: Grid | None,
    grid_in: _GridInputs,
    site: pd.DataFrame,
    notes: list[str],
) -> None:
    """Each site's first year of power and why, written into the site table (in place).

    The firm year is the latest of: the build (``campus.earliest_year`` and ``years[0] +
    campus.construction_years``, rounded up to a whole year), the bus's firm connection
    (:func:`bus_connect_years`: the queue) and, when lead-time rules are set, a substation
    upgrade the site cannot do without (bus headroom below one module, whose draw is at
    least ``module_mw`` at a PUE >= 1; the upgrade's first year in service). The flexible
    year is the latest of the build and the bus's flexible connection (a flexible load is
    curtailed where the substation binds, so it waits for no upgrade).

    Sets ``firm_connect_year, flex_connect_year`` [calendar year], ``power_why`` (the part
    that sets the firm year: ``queue``, ``upgrade``, ``build``; "" when it is the first
    planning year), ``earliest_period`` and ``flex_period`` (their positions in ``years``);
    notes how many sites wait for what. Without lead-time rules (no ``construction_years``,
    no ``lead_time_years_by_kv``, no bus ``firm_connect_year``) the table is left as
    :func:`_site_table` made it.
    """
    camp, years = scenario.campus, list(scenario.years)
    y0 = int(years[0])
    conn = bus_connect_years(scenario, grid)
    rules = camp.construction_years > 0 or bool(len(conn) and conn["queued"].any())
    if not rules or not len(site):
        return
    build = max(
        camp.earliest_year if camp.earliest_year is not None else y0,
        y0 + math.ceil(camp.construction_years - 1e-9),
    )
    bus = site["bus_id"].astype(str)
    queue = bus.map(conn["firm_connect_year"]).fillna(y0).astype(int).to_numpy()
    flex_bus = bus.map(conn["flex_connect_year"]).fillna(y0).astype(int).to_numpy()
    upgrade = bus.map(_upgrade_years(grid_in, camp.module_mw, years)).fillna(y0)
    parts = np.column_stack([queue, upgrade.astype(int).to_numpy(), np.full(len(site), build)])
    firm = parts.max(axis=1)
    why = np.array(POWER_WHY)[np.argmax(parts == firm[:, None], axis=1)]
    site["firm_connect_year"] = firm
    site["flex_connect_year"] = np.maximum(flex_bus, build)
    site["build_year"] = build
    site["power_why"] = np.where(firm > y0, why, "")
    yrs = np.asarray(years)
    site["earliest_period"] = np.searchsorted(yrs, firm).astype(int)
    site["firm_period"] = site["earliest_period"]
    site["flex_period"] = np.searchsorted(yrs, site["flex_connect_year"].to_numpy()).astype(int)
    counts = {w: int((site["power_why"] == w).sum()) for w in POWER_WHY}
    notes.append(
        "time to power: first firm year from "
        f"{int(firm.min())} to {int(firm.max())}; "
        + ", ".join(f"{n} sites wait for {w}" for w, n in counts.items() if n)
        + (
            f"; {int((site['flex_connect_year'] < firm).sum())} could connect earlier flexible"
            if scenario.grid.flexible_lead_time_years is not None
            else ""
        )
    )


def _upgrade_years(grid_in: _GridInputs, module_mw: float, years: list[int]) -> pd.Series:
    """First year in service of the substation upgrade of each bus whose headroom is below
    one module [MW] (no campus fits there without it), by bus_id; other buses absent."""
    if not grid_in.on or grid_in.net is None or not len(grid_in.bus_up):
        return pd.Series(dtype=float)
    head = grid_in.headroom
    up = grid_in.bus_up
    short = [i for i in up.index if np.isfinite(head[int(i)]) and head[int(i)] < module_mw]
    return pd.Series(
        {
            str(b): float(years[int(f)])
            for b, f in up.loc[short, ["bus_id", "first_period"]].to_numpy()
        },
        dtype=float,
    )


@dataclass
class _Cooling:
    """The cooling choices of the sites (a step of :func:`model_data`).

    Attributes
    ----------
    techs
        Technologies offered (scenario order).
    perf
        The cooling table's rows of those technologies.
    water_on
        Whether water is modelled.
    links
        The candidates' water links (none when water is not modelled).
    wue
        Annual water use per (site_id, cooling) [L/kWh].
    allowed
        (site_id, cooling) pairs a site may choose.
    """

    techs: list[str]
    perf: pd.DataFrame
    water_on: bool
    links: pd.DataFrame
    wue: dict
    allowed: list[tuple[str, str]]


def _cooling_choice(
    scenario: Scenario,
    candidates: Candidates,
    cooling: pd.DataFrame,
    sites: list[str],
    notes: list[str],
) -> _Cooling:
    """The technologies each site may choose (a wet one needs water in reach); notes the
    sites left with none."""
    techs: list[str] = list(scenario.campus.cooling)
    perf = cooling.loc[cooling.index.get_level_values(1).isin(techs)]
    wl = candidates.water_links
    water_on = scenario.water.enabled
    if not water_on:
        wl = wl.iloc[:0]
    has_water = set(wl["site_id"].astype(str)) if len(wl) else set()
    wue = perf["wue_annual_l_per_kwh"].to_dict()
    allowed = [
        (s, k) for s in sites for k in techs if not water_on or s in has_water or wue[s, k] <= 0.0
    ]
    no_choice = sorted(set(sites) - {s for s, _ in allowed})
    if no_choice:
        notes.append(
            f"{len(no_choice)} sites have no water in reach and no dry cooling offered; they "
            "cannot be chosen"
        )
    return _Cooling(techs, perf, water_on, wl, wue, allowed)


def _snapshot_table(scenario: Scenario) -> pd.DataFrame:
    """The scenario's snapshots indexed by name: ``load_factor, hours, peak``."""
    return pd.DataFrame(
        [(s.name, s.load_factor, s.hours, s.peak) for s in scenario.grid.snapshots],
        columns=["name", "load_factor", "hours", "peak"],
    ).set_index("name")


@dataclass
class _GridInputs:
    """The network's part of :class:`ModelData` (empty when the grid is not modelled).

    Attributes
    ----------
    on
        Whether the network family is built.
    net
        The DC network (built when needed), or the one given.
    gens, gen_costs, base_load, shunt, headroom, emergency, branch_up, bus_up, n1
        :class:`ModelData`'s ``gens, gen_costs, base_load_mw, shunt_mw [MW], headroom_mw
        [MW], rating_emergency_mw [MW], branch_upgrades, bus_upgrades, n1``.
    """

    on: bool
    net: DCNetwork | None
    gens: pd.DataFrame = field(default_factory=pd.DataFrame)
    gen_costs: dict[str, GenCost] = field(default_factory=dict)
    base_load: pd.DataFrame = field(default_factory=pd.DataFrame)
    shunt: np.ndarray = field(default_factory=lambda: np.zeros(0))
    headroom: np.ndarray = field(default_factory=lambda: np.zeros(0))
    emergency: np.ndarray = field(default_factory=lambda: np.zeros(0))
    branch_up: pd.DataFrame = field(default_factory=lambda: _no_upgrades("branch_id"))
    bus_up: pd.DataFrame = field(default_factory=lambda: _no_upgrades("bus_id"))
    n1: N1 | None = None


def _grid_inputs(
    scenario: Scenario,
    grid: Grid | None,
    net: DCNetwork | None,
    years: list[int],
    snaps: pd.DataFrame,
    site: pd.DataFrame,
    notes: list[str],
) -> _GridInputs:
    """Generators, loads, headroom, emergency ratings, upgrade options and N-1 settings of
    the grid (when ``grid.enabled`` and a grid layer exists); notes what was offered.

    Raises
    ------
    siting.core.errors.InputError
        Listed N-1 outages that are not in-service branches; candidates attached to buses
        not in the grid.
    """
    from siting.network import dc_network

    grid_on = scenario.grid.enabled and grid is not None
    if not grid_on:
        return _GridInputs(on=False, net=net)
    assert grid is not None
    if net is None:
        net = dc_network(grid)
    out = _GridInputs(on=True, net=net)
    out.gens, out.gen_costs = generator_inputs(grid, net, scenario.grid.cost_segments)
    out.base_load = grid.load_mw(years).reindex(net.bus_ids)
    out.shunt = grid.buses["shunt_mw"].reindex(net.bus_ids).astype(float).to_numpy()
    out.headroom = (
        grid.buses["substation_headroom_mw"].reindex(net.bus_ids).astype(float).to_numpy()
    )
    br_tab = grid.branches
    br_tab = br_tab.set_axis(br_tab.index.astype(str))
    emergency = (
        pd.to_numeric(br_tab["rating_emergency_mw"], errors="coerce")
        .reindex(net.branch_ids)
        .astype(float)
        .to_numpy()
    )
    out.emergency = np.where(np.isnan(emergency), net.rating_mw, emergency)
    if scenario.grid.upgrades:
        out.branch_up, out.bus_up = _grid_upgrades(grid, br_tab, net, years, out.headroom, notes)
    out.n1 = _n1_inputs(scenario, net, snaps, notes)
    unknown_bus = sorted(set(site["bus_id"]) - set(net.bus_ids))
    if unknown_bus:
        raise InputError(Problem(f"candidates attach to buses not in the grid: {unknown_bus[:5]}"))
    return out


def _grid_upgrades(
    grid: Grid,
    br_tab: pd.DataFrame,
    net: DCNetwork,
    years: list[int],
    headroom: np.ndarray,
    notes: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The branch and substation upgrade options (:func:`upgrade_options`); notes how many.

    Parameters
    ----------
    grid
        The grid.
    br_tab
        Its branches, indexed by branch ID as a string.
    net
        Its DC network.
    years
        Planning years.
    headroom
        Substation headroom per bus [MW] (NaN: no limit, no upgrade).
    notes
        Appended to.
    """
    branch_up = upgrade_options(
        br_tab,
        net.branch_ids,
        "upgrade_",
        years,
        "branch_id",
        usable=np.isfinite(net.rating_mw),
    )
    bus_tab = grid.buses.set_axis(grid.buses.index.astype(str))
    bus_up = upgrade_options(
        bus_tab,
        net.bus_ids,
        "substation_upgrade_",
        years,
        "bus_id",
        usable=np.isfinite(headroom),
    )
    if len(branch_up) or len(bus_up):
        notes.append(
            f"grid upgrade options offered: {len(branch_up)} branches, "
            f"{len(bus_up)} substations (in service no earlier than the first planning "
            "year plus their lead time)"
        )
    return branch_up, bus_up


def _n1_inputs(
    scenario: Scenario, net: DCNetwork, snaps: pd.DataFrame, notes: list[str]
) -> N1 | None:
    """The N-1 settings when ``grid.n_minus_1`` is on with line limits (else None); notes
    them, or that they are ignored without line limits."""
    n1_cfg = scenario.grid.n_minus_1
    if n1_cfg.enabled and scenario.grid.line_limits:
        n1 = _n1_settings(n1_cfg, net, snaps, scenario)
        notes.append(
            f"N-1 security on {_n1_words(n1.outages)} outages at "
            f"{'/'.join(n1.snapshots)} snapshots"
            + (f" from {n1_cfg.from_year}" if n1_cfg.from_year is not None else "")
            + ", within emergency ratings; "
            f"{len(n1.radial)} radial branches (their outage splits the network) not checked"
        )
        return n1
    if n1_cfg.enabled:
        notes.append("grid.n_minus_1 is ignored: grid.line_limits is off")
    return None


def _water_sources(
    scenario: Scenario, layers: Layers, years: list[int], water_on: bool
) -> pd.DataFrame:
    """The water sources as the model reads them: index source_id; ``kind,
    cost_usd_per_m3`` [USD/m3], ``pipeline_cost_usd_per_km`` [USD/km] and ``cap_<year>``
    [m3/day] (empty when water is off or there are none)."""
    src = layers.water_sources
    sources = pd.DataFrame()
    if water_on and src is not None and len(src):
        from siting.inputs.vector import per_year_table

        cap = per_year_table(src, "capacity_m3_per_day", years)
        sources = pd.DataFrame(
            {
                "kind": src["kind"].astype(str).to_numpy(),
                "cost_usd_per_m3": (
                    np.full(len(src), scenario.costs.water_usd_per_m3)
                    if scenario.costs.water_usd_per_m3 is not None
                    else src["cost_usd_per_m3"].astype(float).to_numpy()
                ),
                "pipeline_cost_usd_per_km": src["pipeline_cost_usd_per_km"]
                .astype(float)
                .fillna(scenario.costs.pipeline_usd_per_km)
                .to_numpy(),
            },
            index=pd.Index([str(i) for i in src.index], name="source_id"),
        )
        for y in years:
            sources[f"cap_{y}"] = cap[y].to_numpy()
    return sources


def _water_links(wl: pd.DataFrame, sources: pd.DataFrame, sites: list[str]) -> pd.DataFrame:
    """``site_id, source_id, distance_km, pipeline_usd`` [km, USD] of the kept sites' water
    links (``wl``: the candidates' links, empty when water is off)."""
    water_links = wl[["site_id", "source_id", "distance_km"]].copy() if len(wl) else wl
    if len(water_links):
        water_links["site_id"] = water_links["site_id"].astype(str)
        water_links["source_id"] = water_links["source_id"].astype(str)
        water_links["pipeline_usd"] = (
            water_links["distance_km"].to_numpy()
            * sources.loc[water_links["source_id"], "pipeline_cost_usd_per_km"].to_numpy()
        )
        water_links = water_links[water_links["site_id"].isin(sites)].reset_index(drop=True)
    return water_links


def _region_shares(
    scenario: Scenario, layers: Layers, site: pd.DataFrame
) -> dict[str, tuple[float, float]]:
    """``policy.region_shares`` as region -> (min, max) share [fraction].

    Raises
    ------
    siting.core.errors.InputError
        A region that is neither a site's nor in the regions layer.
    """
    pol = scenario.policy
    region_shares = {r: (b.min_share, b.max_share) for r, b in pol.region_shares.items()}
    known_regions = set(site["region_id"]) - {""}
    if layers.regions is not None:
        known_regions |= {str(i) for i in layers.regions.index}
    bad = sorted(set(region_shares) - known_regions)
    if bad:
        raise _scenario_error(
            scenario,
            "policy.region_shares",
            f"policy.region_shares names regions {bad} that are not in the regions layer; "
            f"expected some of {sorted(known_regions)[:10]}",
        )
    return region_shares


def _demand_inputs(
    scenario: Scenario,
    layers: Layers,
    candidates: Candidates,
    sites: list[str],
    years: list[int],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The demand links ``region_id, site_id, cost_usd_per_mw_year`` [USD/(MW year)] of the
    kept sites and the demand per region and year [MW] (empty without ``policy.demand``
    and a demand regions layer)."""
    demand_links = pd.DataFrame(columns=["region_id", "site_id", "cost_usd_per_mw_year"])
    demand_mw = pd.DataFrame()
    if scenario.policy.demand is not None and layers.demand_regions is not None:
        from siting.inputs.vector import per_year_table

        dl = candidates.demand_links
        demand_links = dl[dl["site_id"].astype(str).isin(sites)][
            ["region_id", "site_id", "cost_usd_per_mw_year"]
        ].astype({"region_id": str, "site_id": str})
        demand_mw = per_year_table(layers.demand_regions, "demand_mw", years)
        demand_mw.index = [str(i) for i in demand_mw.index]
    return demand_links, demand_mw


def _public_interest(
    scenario: Scenario,
    site: pd.DataFrame,
    sites: list[str],
    allowed: list[tuple[str, str]],
    wue: dict,
) -> tuple[float, list[str], dict[str, list[str]]]:
    """``policy.public_interest``: its share [fraction], the eligible sites, and each one's
    eligible technologies (``wue``: annual water use per (site, cooling) [L/kWh]); 0 and
    empty without the policy."""
    public_share = 0.0
    public_sites: list[str] = []
    public_techs: dict[str, list[str]] = {}
    if scenario.policy.public_interest is not None:
        pi = scenario.policy.public_interest
        public_share = pi.share
        ok = pd.Series(True, index=site.index)
        if pi.in_zone:
            ok &= site["zone_id"] != ""
        if pi.regions:
            ok &= site["region_id"].isin(pi.regions)
        if pi.max_bus_distance_km is not None:
            ok &= site["bus_distance_km"] <= pi.max_bus_distance_km
        public_sites = [s for s, keep in zip(sites, ok.to_numpy(), strict=True) if keep]
        public_techs = {s: [] for s in public_sites}
        for s, k in allowed:  # one pass over the pairs
            if s in public_techs and (
                pi.max_wue_l_per_kwh is None or wue[s, k] <= pi.max_wue_l_per_kwh
            ):
                public_techs[s].append(k)
    return public_share, public_sites, public_techs


def _heat_inputs(
    layers: Layers, candidates: Candidates, sites: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The (sink_id, site_id) heat links of the kept sites and the sinks (``demand_mw``
    [MW], ``price_usd_per_mwh`` [USD/MWh]); empty without a heat sinks layer."""
    heat_links = pd.DataFrame(columns=["sink_id", "site_id"])
    sinks = pd.DataFrame()
    if layers.heat_sinks is not None and len(candidates.heat_links):
        hl = candidates.heat_links
        heat_links = hl[hl["site_id"].astype(str).isin(sites)][["sink_id", "site_id"]].astype(str)
        hs = layers.heat_sinks
        sinks = pd.DataFrame(
            {
                "demand_mw": hs["demand_mw"].astype(float).to_numpy(),
                "price_usd_per_mwh": hs["price_usd_per_mwh"].astype(float).to_numpy(),
            },
            index=pd.Index([str(i) for i in hs.index], name="sink_id"),
        )
    return heat_links, sinks


def _formulation(scenario: Scenario, grid_on: bool, net: DCNetwork | None, notes: list[str]) -> str:
    """The grid formulation (:func:`resolve_formulation`); notes what ``auto`` chose."""
    n_buses = len(net.bus_ids) if grid_on and net is not None else 0
    form = resolve_formulation(scenario.grid.formulation, n_buses)
    if grid_on and scenario.grid.formulation == "auto":
        notes.append(
            f"grid.formulation auto: {form} ({n_buses} buses; the PTDF form with lazy line "
            f"limits from {AUTO_PTDF_MIN_BUSES} buses on)"
        )
    return form


def _scenario_error(scenario: Scenario, field: str, message: str) -> InputError:
    """An input error about scenario key ``field`` (names the scenario file when known)."""
    file = str(scenario.source_file) if scenario.source_file else None
    return InputError(Problem(message, file=file, field=field))


def _n1_words(outages: str | int | list[int]) -> str:
    """The outages N-1 checks, in words for the note."""
    if outages == "all":
        return "all branch"
    if isinstance(outages, int):
        return f"the {outages} most loaded branches'"
    return f"{len(outages)} listed branch"


def _n1_settings(cfg: Contingencies, net: DCNetwork, snaps: pd.DataFrame, scenario: Scenario) -> N1:
    """:class:`N1` from the scenario's ``grid.n_minus_1`` (branch IDs checked)."""
    from siting.network import radial_branches

    radial = np.flatnonzero(radial_branches(net)).tolist()
    outages: str | int | list[int]
    if isinstance(cfg.outages, list):
        pos = pd.Series(np.arange(len(net.branch_ids)), index=net.branch_ids.astype(str))
        bad = [b for b in cfg.outages if str(b) not in pos.index]
        if bad:
            raise _scenario_error(
                scenario,
                "grid.n_minus_1.outages",
                f"branch IDs {bad[:5]} are not in-service branches of the grid; expected "
                f"IDs such as {list(pos.index[:5])}",
            )
        outages = [int(pos[str(b)]) for b in cfg.outages]
    else:
        outages = cfg.outages
    if cfg.snapshots == "peak":
        names = [str(h) for h in snaps.index[snaps["peak"].to_numpy(dtype=bool)]]
        names = names or [str(snaps.index[0])]
    else:
        names = [str(h) for h in snaps.index]
    periods = None
    if cfg.from_year is not None:
        periods = [t for t, y in enumerate(scenario.years) if y >= cfg.from_year]
    return N1(outages=outages, snapshots=names, radial=radial, periods=periods)
