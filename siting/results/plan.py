"""Plan results: the solution as tables and geometries, re-verified from the tables alone.

:func:`extract` reads a solved model into a :class:`Plan`: which sites, how many MW in
which year, which cooling, which water, which buses, flows and dispatch, and what it
costs. :func:`verify` then recomputes, from those tables and the inputs only (never the
model), every rule the plan must keep: phasing and sizes, targets, one cooling per
site, water balances and capacities, policy shares, and the DC flows from the nodal
injections (numpy, :mod:`siting.network`) against the ratings. Any violation beyond a
small tolerance raises :class:`VerificationError`.

:meth:`Plan.write` writes the outputs of a run into a folder atomically: everything is
written into a staging folder beside it, which then replaces the old folder in one
rename, so a failed or interrupted run never leaves a half-written plan that looks whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyomo.environ as pyo
import shapely

from siting.core.cells import as_float, as_int
from siting.core.errors import SitingError
from siting.core.io import OutputOwner, disk_trouble, staged_folder
from siting.model.data import ModelData, partners, stress_hours_of
from siting.model.evaluate import value_of
from siting.model.state import model_state
from siting.network import require_network
from siting.results.compute_out import schedule_with_compute
from siting.results.counterfactual import COLUMNS as COUNTERFACTUAL_COLUMNS
from siting.results.verify import CONTINGENCY_COLUMNS, Check, added_by_year, worst_contingencies
from siting.solve.highs import SolveResult

if TYPE_CHECKING:
    from siting.candidates.generate import Candidates
    from siting.config.scenario import GrowthZones
    from siting.inputs import Grid, Layers

#: Columns of ``flows.csv``: one row per branch, year and snapshot (``Plan.flows_all``).
FLOW_COLUMNS = [
    "branch_id",
    "from_bus",
    "to_bus",
    "year",
    "snapshot",
    "flow_mw",
    "rating_mw",
    "loading_pct",
    "rating_emergency_mw",
]
#: Columns of ``upgrades.csv``.
UPGRADE_COLUMNS = ["asset", "asset_id", "year", "added_mw", "cost_usd", "lead_time_years"]
#: Columns of :attr:`Plan.heat`.
HEAT_COLUMNS = ["sink_id", "site_id", "year", "heat_mw", "price_usd_per_mwh"]
#: Columns of :attr:`Plan.why` (``why_here.csv``).
WHY_COLUMNS = COUNTERFACTUAL_COLUMNS
#: Columns of :attr:`Plan.demand_served`.
DEMAND_SERVED_COLUMNS = ["region_id", "site_id", "year", "served_mw"]
#: Columns of :attr:`Plan.relief`.
RELIEF_COLUMNS = ["site_id", "bus_id", "year", "snapshot", "source", "relief_mw"]
#: Columns of :attr:`Plan.onsite`.
ONSITE_COLUMNS = [
    "site_id",
    "option",
    "technology",
    "year",
    "built_mw",
    "capacity_mw",
    "mwh_per_year",
    "co2_t_per_year",
    "water_m3_per_day",
    "cost_usd",
    "islanded",
]
#: Columns of :attr:`Plan.curtailment`.
CURTAILMENT_COLUMNS = [
    "site_id",
    "bus_id",
    "year",
    "snapshot",
    "curtailed_mw",
    "hours",
    "curtailed_mwh",
    "cost_usd",
]

#: Columns of :attr:`Plan.compute`.
COMPUTE_COLUMNS = [
    "site_id",
    "year",
    "generation",
    "accelerators_live",
    "accelerators_new",
    "accelerators_retired",
    "it_used_mw",
    "racks",
    "compute_units",
    "rack_positions",
]

#: Columns of :attr:`Plan.export`.
EXPORT_COLUMNS = [
    "year",
    "generation",
    "accelerators_exported",
    "it_mw_exported",
    "compute_units_exported",
]

#: Columns of :attr:`Plan.pacts`.
PACT_COLUMNS = [
    "pact",
    "year",
    "generation",
    "accelerators_supplied",
    "accelerators_cap",
    "sites_used",
    "energy_source",
    "energy_contracted_mwh",
    "energy_used_mwh",
    "energy_usd_per_mwh",
    "pact_compute_units",
    "public_share",
    "public_compute_units",
]


@dataclass
class Plan:
    """A siting plan.

    Attributes
    ----------
    name
        The scenario's name.
    sites
        Chosen sites (GeoDataFrame, index site_id): ``first_year, it_mw_final, cooling,
        bus_id, pue_annual, pue_peak, wue_annual_l_per_kwh``, ..., ``power_year`` and
        ``power_why`` (first year of firm power and why, :func:`power_words`), ``why_here`` (the
        figures that decided the site, in one sentence), ``unit_cost_usd_per_mw`` [USD/MW
        IT, present value] and ``grid_headroom_mw`` [MW] (:func:`siting.results.why.explain`;
        "" and absent before it runs).
    candidates
        Every candidate with ``status`` (``chosen``, ``screened_out``, ``not_chosen``),
        ``reason`` and ``why_not`` (why it was not chosen, in words with a figure: the
        screening rule with its value and limit, or the cheapest reason it lost; "" when
        chosen), and, once explained, ``unit_cost_usd_per_mw`` [USD/MW IT, present value]
        and ``grid_headroom_mw`` [MW] (:func:`siting.results.why.explain`).
    schedule
        One row per chosen site and year: ``site_id, year, it_mw, new_it_mw, peak_draw_mw,
        typical_draw_mw, cooling, bus_id, water_m3_per_day, public_it_mw`` (IT MW reserved
        for public-interest use, 0 without the policy), ``firm_it_mw, flexible_it_mw`` and,
        with a ``compute`` section, :data:`SCHEDULE_COMPUTE_COLUMNS` (generations running,
        accelerators, compute delivered, energy per compute, tokens per MWh:
        :mod:`siting.results.compute_out`).
    flows
        One row per branch and year at the peak snapshot: ``branch_id, from_bus, to_bus,
        year, flow_mw, rating_mw, loading_pct, rating_emergency_mw`` (ratings of that year,
        upgrades included), plus the worst snapshot's loading ``max_loading_pct,
        max_loading_snapshot`` (no rows when the grid is not modelled). In memory only (the
        branches layer's ``loading_pct_<YYYY>`` come from it).
    flows_all
        One row per branch, year and snapshot, :data:`FLOW_COLUMNS` (``flow_mw`` from
        ``from_bus`` to ``to_bus``, ratings of that year with upgrades, ``loading_pct`` =
        100 |flow| / rating, 0 when unlimited): what ``flows.csv`` holds, so that each
        snapshot can be recomputed from the plan's tables (``siting grid check``).
    dispatch
        ``gen_id, bus_id, year, snapshot, p_mw`` (no rows when the grid is not modelled).
    water_links
        ``site_id, source_id, year, m3_per_day, distance_km`` (GeoDataFrame of pipelines).
    buses, branches
        The grid's layers with campus load and peak loading per year (``None`` when the grid
        is not modelled or its buses have no coordinates).
    upgrades
        Grid upgrades taken: ``asset`` (``branch`` or ``substation``), ``asset_id``, ``year``
        (first year in service), ``added_mw``, ``cost_usd`` (not discounted),
        ``lead_time_years``.
    contingencies
        With N-1 security: per monitored branch and year, the worst checked outage
        (``branch_id, year, snapshot, outage_id, post_flow_mw, rating_emergency_mw,
        loading_pct``); else empty.
    zones
        Growth zones (:func:`siting.results.zones.growth_zones`): the chosen sites grouped where
        they are close or share a bus or water source, with polygons (``None`` when not
        computed).
    costs_usd
        Present value of each cost part [USD].
    solve
        The solver's report.
    checks
        The verification.
    manifest
        Provenance and figures (written as manifest.json).
    metrics
        Planner metrics beside cost (:func:`siting.model.metrics.metric_values`): campus
        water per year and at its peak [m3/day], CO2 the campuses add [t CO2], grid
        upgrade spend [USD, present value].
    heat
        Waste heat sold: ``sink_id, site_id, year, heat_mw`` [MW heat, average] and the
        sink's ``price_usd_per_mwh`` [USD/MWh heat] (no rows without heat sinks).
    demand_served
        Demand regions served: ``region_id, site_id, year, served_mw`` [MW] (no rows
        without demand regions).
    settings
        One line per policy, cap and target the scenario sets: required, achieved,
        binding, shadow price (:func:`siting.results.settings.settings_lines`; written
        into the manifest as ``settings``).
    relief
        What lowers each campus's draw from the grid, per site, year and snapshot:
        :data:`RELIEF_COLUMNS`, ``relief_mw`` [MW] signed so that the draw from the grid is
        the facility draw (``peak_draw_mw`` in peak snapshots, ``typical_draw_mw`` in the
        others) less the sum of ``relief_mw`` (curtailment, on-site output, storage
        discharge less charging; :func:`siting.model.power.register_relief`). Written as
        ``draw_relief.csv`` when it has rows; no rows in a model without relief.
    why
        Why here, one row per chosen site (:data:`WHY_COLUMNS`, ``why_here.csv``): the
        method used (``re-solve`` or ``unit cost``), what the plan would cost without the
        site [USD, present value] and the gaps' worth [USD], the sites that take its MW,
        both solves' objectives [USD] and gaps [fraction], the re-solve's time [s], the
        unit cost [USD/MW] and the sentence (:func:`siting.results.why.explain`,
        :mod:`siting.results.counterfactual`).
    onsite
        On-site generation and storage at the chosen sites, per site, option and year:
        :data:`ONSITE_COLUMNS`: ``built_mw`` added that year and ``capacity_mw`` in service
        [MW], ``mwh_per_year`` output (storage: discharge) [MWh/year], ``co2_t_per_year``
        [t CO2/year], ``water_m3_per_day`` [m3/day], ``cost_usd`` the year's period cost
        (annualised capex, fixed and variable costs over the years it stands for) [USD,
        present value], ``islanded`` (the campus has no grid connection). Written as
        ``onsite.csv`` when it has rows (:mod:`siting.model.onsite`).
    curtailment
        Curtailed flexible draw per site, year and snapshot (:mod:`siting.model.flex`):
        :data:`CURTAILMENT_COLUMNS`, ``curtailed_mw`` [MW of facility draw], ``hours`` the
        snapshot's stress hours per year [h], ``curtailed_mwh`` their product [MWh/year],
        ``cost_usd`` at the scenario's ``curtail_usd_per_mwh`` [USD/year, not discounted].
        Written as ``curtailment.csv`` when it has rows.
    compute
        Accelerators per chosen site, year and generation (:mod:`siting.model.compute`):
        :data:`COMPUTE_COLUMNS`, ``accelerators_live`` in service, ``accelerators_new``
        installed that year and ``accelerators_retired`` taken out that year (end of life
        or early) [accelerators], ``it_used_mw`` the IT MW they use [MW IT], ``racks`` the
        rack positions they fill [racks], ``compute_units`` their compute [H100 = 1], and
        ``rack_positions`` the site's floor built by that year [racks]. Written as
        ``compute.csv`` when it has rows (a scenario with a ``compute`` section).
    pacts
        Each compute pact's use per year and licensed generation (:mod:`siting.model.pacts`):
        :data:`PACT_COLUMNS`, ``accelerators_supplied`` installed under the pact that year
        against ``accelerators_cap`` its supply schedule allows [accelerators],
        ``sites_used`` the sites they went to (``;``-separated), ``energy_source``,
        ``energy_contracted_mwh`` and ``energy_used_mwh`` [MWh/year] at
        ``energy_usd_per_mwh``, ``pact_compute_units`` the pact's compute in service
        [compute units], ``public_share`` [fraction] and ``public_compute_units`` reserved
        for public-interest use. The energy and compute columns are per pact and year
        (repeated on each generation's row; ``generation`` "" for a pact licensing none).
        Written as ``pacts.csv`` when it has rows.
    export
        What the export market (``policy.export``) bought per year: :data:`EXPORT_COLUMNS`.
        With a ``compute`` section, one row per year and generation exported:
        ``accelerators_exported`` [accelerators] (installed and in service at the plan's
        sites, counted in ``compute.csv``, their compute sold abroad and not counted toward
        the targets), their IT MW ``it_mw_exported`` [MW IT] and ``compute_units_exported``
        [H100 = 1]; without it, one row per year with ``generation`` "" and the envelope MW
        sold, ``it_mw_exported`` [MW IT] (the other two NaN). Rows below 1e-6 MW left out;
        in the manifest's ``export`` (not a file of its own).
    """

    name: str
    sites: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    schedule: pd.DataFrame
    flows: pd.DataFrame
    flows_all: pd.DataFrame
    dispatch: pd.DataFrame
    water_links: gpd.GeoDataFrame
    buses: gpd.GeoDataFrame | None
    branches: gpd.GeoDataFrame | None
    costs_usd: dict[str, float]
    solve: SolveResult
    checks: list[Check] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    violations: list[dict] = field(default_factory=list)
    upgrades: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=UPGRADE_COLUMNS))
    contingencies: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=CONTINGENCY_COLUMNS)
    )
    zones: gpd.GeoDataFrame | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    heat: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=HEAT_COLUMNS))
    demand_served: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=DEMAND_SERVED_COLUMNS)
    )
    settings: list[dict[str, Any]] = field(default_factory=list)
    relief: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RELIEF_COLUMNS))
    why: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=WHY_COLUMNS))
    onsite: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ONSITE_COLUMNS))
    curtailment: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=CURTAILMENT_COLUMNS)
    )
    compute: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=COMPUTE_COLUMNS))
    pacts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PACT_COLUMNS))
    export: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=EXPORT_COLUMNS))

    @property
    def total_cost_usd(self) -> float:
        """Net present cost of the plan [USD] (sum of the cost parts)."""
        return float(sum(self.costs_usd.values()))

    def it_mw_by_year(self) -> pd.Series:
        """National IT capacity in service per year [MW]."""
        if self.schedule.empty:
            return pd.Series(dtype=float)
        return self.schedule.groupby("year")["it_mw"].sum()

    def write(
        self,
        out_dir: str | Path,
        *,
        force: bool = False,
        inputs: list[str | Path] | None = None,
        tiles: bool = True,
    ) -> Path:
        """Write every output into ``out_dir`` atomically (see the module docstring).

        Files: ``plan.gpkg`` (layers ``sites``, ``candidates``, ``buses``, ``branches``,
        ``water_links``, ``zones``; ``buses`` and ``branches`` only when the grid is
        modelled, ``zones`` when computed), ``zones.geojson`` (the zones in EPSG:4326, when
        computed), ``schedule.csv``, ``flows.csv``, ``dispatch.csv`` (headers only without
        a modelled grid), ``upgrades.csv`` (headers only when none), ``why_here.csv`` (why
        each chosen site, :attr:`why`), ``contingencies.csv`` (with N-1), ``draw_relief.csv``
        (when campuses have relief), ``onsite.csv`` (when campuses build on-site
        generation), ``curtailment.csv`` (when flexible MW are curtailed), ``compute.csv`` (with
        a compute section), ``manifest.json``,
        ``report.html``, ``index.html`` and the marker :data:`siting.core.io.MARKER`.

        Parameters
        ----------
        out_dir
            The plan folder: new, empty, or this scenario's earlier plan folder
            (:func:`siting.core.io.check_output_folder`).
        force
            Also replace a siting folder of another scenario or kind.
        inputs
            The run's input files, never to be deleted (default: the manifest's).
        tiles
            Offer OpenStreetMap tiles on the map as a base the reader can switch on
            (:func:`siting.render.maps.render_map`).

        Returns
        -------
        pathlib.Path
            The output folder.

        Raises
        ------
        siting.core.io.OutputLockedError
            Another run is writing ``out_dir`` (:func:`siting.core.io.output_lock`).
        siting.core.io.OutputRefusedError
            ``out_dir`` is not this plan's to replace; nothing is touched.
        siting.core.io.OutputWriteError
            The write failed (no space left, read-only ...); the previous folder is kept.
        """
        if inputs is None:
            inputs = [f["path"] for f in self.manifest.get("inputs", []) if "path" in f]
        owner = OutputOwner("plan", self.name)
        with staged_folder(out_dir, owner, inputs=inputs, force=force) as stage:
            self._write_files(stage, tiles=tiles)
        return Path(out_dir).resolve()

    def _write_files(self, d: Path, *, tiles: bool = True) -> None:
        gpkg = d / "plan.gpkg"
        layers = [
            ("sites", self.sites),
            ("candidates", self.candidates),
            ("buses", self.buses),
            ("branches", self.branches),
            ("water_links", self.water_links),
            ("zones", self.zones),
        ]
        for name, gdf in layers:
            if gdf is None:
                continue
            g = gpkg_ready(gdf)
            g.to_file(gpkg, layer=name, driver="GPKG", engine="pyogrio")
        if self.zones is not None:
            _write_geojson(self.zones, d / "zones.geojson")
        self.schedule.to_csv(d / "schedule.csv", index=False, float_format="%.6g")
        self.flows_all.to_csv(d / "flows.csv", index=False, float_format="%.10g")
        self.dispatch.to_csv(d / "dispatch.csv", index=False, float_format="%.10g")
        self.upgrades.to_csv(d / "upgrades.csv", index=False, float_format="%.10g")
        self.why.to_csv(d / "why_here.csv", index=False, float_format="%.10g")
        if len(self.contingencies):
            self.contingencies.to_csv(d / "contingencies.csv", index=False, float_format="%.6g")
        if len(self.relief):
            self.relief.to_csv(d / "draw_relief.csv", index=False, float_format="%.9g")
        if len(self.onsite):
            self.onsite.to_csv(d / "onsite.csv", index=False, float_format="%.9g")
        if len(self.curtailment):
            self.curtailment.to_csv(d / "curtailment.csv", index=False, float_format="%.9g")
        if len(self.compute):
            self.compute.to_csv(d / "compute.csv", index=False, float_format="%.9g")
        if len(self.pacts):
            self.pacts.to_csv(d / "pacts.csv", index=False, float_format="%.9g")
        (d / "manifest.json").write_text(
            json.dumps(self.manifest, indent=2, default=_json_default) + "\n", encoding="utf-8"
        )
        failed = render_pages(d, tiles=tiles)
        if failed:  # the tables stand; the manifest says which page is missing and why
            self.manifest.setdefault("notes", []).extend(failed)
            (d / "manifest.json").write_text(
                json.dumps(self.manifest, indent=2, default=_json_default) + "\n",
                encoding="utf-8",
            )


def render_pages(plan_dir: Path, *, tiles: bool = True) -> list[str]:
    """Render the stakeholder pages of a plan folder: ``report.html`` and ``index.html``.

    A page that fails to render does not cost the plan: the failure is warned about and
    returned (as a note for the manifest), and the tables are written all the same. A
    failure to write (an ``OSError``, or any error while the folder's disk refuses writes:
    no space left, read-only) is not a rendering bug: it propagates.

    Parameters
    ----------
    plan_dir
        The plan folder.
    tiles
        Offer OpenStreetMap tiles on the map as a base the reader can switch on (no
        request until then; :func:`siting.render.maps.render_map`).

    Returns
    -------
    list of str
        One line per page that could not be rendered.

    Raises
    ------
    OSError
        The page could not be written (:func:`siting.core.io.write_failure`).
    """
    import warnings

    from siting.render.maps import render_map
    from siting.render.report import render_report

    failed = []
    pages: tuple[tuple[Callable[[Path], Path], str], ...] = (
        (render_report, "report.html"),
        (lambda d: render_map(d, tiles=tiles), "index.html"),
    )
    for render, page in pages:
        try:
            render(plan_dir)
        except Exception as exc:  # noqa: BLE001  (a page must not cost the plan)
            if isinstance(exc, OSError) or disk_trouble(plan_dir) is not None:
                raise
            msg = f"{page} was not written: {type(exc).__name__}: {exc} (please report it)"
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
            failed.append(msg)
    return failed


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, tuple):
        return list(o)
    return str(o)


def _write_geojson(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """Write a layer as RFC 7946 GeoJSON (EPSG:4326, longitude first)."""
    g = gpkg_ready(gdf)
    if g.crs is not None:
        g = g.to_crs("EPSG:4326")
    g.to_file(path, driver="GeoJSON", engine="pyogrio", layer_options={"RFC7946": "YES"})


def gpkg_ready(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Index as a column; object columns as text (GeoPackage has no mixed types)."""
    g = gdf.reset_index() if gdf.index.name else gdf.reset_index(drop=True)
    for c in g.columns:
        if c != g.geometry.name and g[c].dtype == object:
            g[c] = g[c].map(lambda v: "" if v is None else str(v))
    return g


# --------------------------------------------------------------------------- extraction


def _val(x: Any) -> float:
    """The value of ``x`` at the solution (0 when it has none; read directly:
    :func:`siting.model.evaluate.value_of`)."""
    v = value_of(x)
    return 0.0 if v is None else float(v)


def _techs_of(m: pyo.ConcreteModel) -> dict[str, list[str]]:
    """The cooling technologies each site of ``m`` may choose {site_id: [cooling]}."""
    techs = model_state(m).techs_of
    if techs is None:
        raise SitingError(
            "the model has no cooling technologies per site: it was not built by "
            "siting.model.build_model"
        )
    return techs


#: Columns of :attr:`Plan.schedule`.
SCHEDULE_COLUMNS = [
    "site_id",
    "year",
    "it_mw",
    "new_it_mw",
    "peak_draw_mw",
    "typical_draw_mw",
    "cooling",
    "bus_id",
    "water_m3_per_day",
    "public_it_mw",
    "firm_it_mw",
    "flexible_it_mw",
]


@dataclass
class _GridTables:
    """The grid's part of a :class:`Plan` (empty tables when the grid is not modelled)."""

    flows: pd.DataFrame
    flows_all: pd.DataFrame
    dispatch: pd.DataFrame
    buses: gpd.GeoDataFrame | None = None
    branches: gpd.GeoDataFrame | None = None
    upgrades: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=UPGRADE_COLUMNS))
    contingencies: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=CONTINGENCY_COLUMNS)
    )


def extract(
    m: pyo.ConcreteModel,
    d: ModelData,
    layers: Layers,
    candidates: Candidates,
    result: SolveResult,
    *,
    name: str,
    zone_settings: GrowthZones | None = None,
) -> Plan:
    """Read the solved model into a :class:`Plan` (tables and geometries).

    ``zone_settings`` (the scenario's :class:`siting.config.scenario.GrowthZones`; ``None``: its
    defaults) sets how :attr:`Plan.zones` groups the chosen sites.
    """
    schedule = _schedule(m, d)
    compute = _compute(m, d, set(schedule["site_id"]))
    schedule = schedule_with_compute(schedule, compute, d)
    cand = _candidate_status(candidates.all, set(schedule["site_id"]))
    sites = _chosen_sites(candidates.sites, schedule, d)
    water_links = _water_links(m, d, layers, candidates.sites)
    grid = _grid_tables(m, d, layers, schedule) if d.grid.enabled else _empty_grid_tables()
    costs = {p: _val(m.cost_part[p]) for p in m.P}
    zones = _zones(
        d, layers, sites, schedule, water_links, grid.upgrades, zone_settings, candidates.sites
    )
    return Plan(
        name=name,
        sites=sites,
        candidates=cand,
        schedule=schedule,
        flows=grid.flows,
        flows_all=grid.flows_all,
        dispatch=grid.dispatch,
        water_links=water_links,
        buses=grid.buses,
        branches=grid.branches,
        costs_usd=costs,
        solve=result,
        upgrades=grid.upgrades,
        contingencies=grid.contingencies,
        zones=zones,
        heat=_heat_sold(m, d),
        demand_served=_demand_served(m, d),
        relief=_relief(m, d, set(schedule["site_id"])),
        onsite=_onsite(m, d, set(schedule["site_id"])),
        curtailment=_curtailment(m, d, set(schedule["site_id"])),
        compute=compute,
        pacts=_pacts(m, d),
        export=_export(m, d),
    )


def _relief(m: pyo.ConcreteModel, d: ModelData, chosen: set) -> pd.DataFrame:
    """:attr:`Plan.relief` of the chosen sites, from the registered relief families (rows
    of less than 1e-6 MW left out)."""
    rows = [
        (s, d.campus.site.at[s, "bus_id"], y, str(h), r.source, r.coef * v)
        for r in model_state(m).relief
        for s in r.sites
        if s in chosen
        for t, y in enumerate(d.horizon.years)
        for h in d.horizon.snapshots.index
        if abs(v := _val(m.component(r.name)[s, t, h])) > 1e-6
    ]
    return pd.DataFrame(rows, columns=RELIEF_COLUMNS)


def _onsite(m: pyo.ConcreteModel, d: ModelData, chosen: set) -> pd.DataFrame:
    """:attr:`Plan.onsite` of the chosen sites (options with less than 1e-6 MW in service
    left out)."""
    if m.component("os_cap") is None:
        return pd.DataFrame(columns=ONSITE_COLUMNS)
    opts = d.onsite.options
    island = m.component("island")
    rows = []
    for s, o in m.OS:
        if s not in chosen:
            continue
        isl = island is not None and _val(island[s]) > 0.5
        for t, y in enumerate(d.horizon.years):
            cap = _val(m.os_cap[s, o, t])
            if cap <= 1e-6:
                continue
            mwh = _val(m.os_out_mwh[s, o, t])
            cost = float(d.horizon.op_weight[t]) * (
                as_float(opts.at[o, "annual_usd_per_mw"]) * cap
                + as_float(opts.at[o, "variable_usd_per_mwh"]) * mwh
            )
            rows.append(
                (
                    s,
                    o,
                    str(opts.at[o, "technology"]),
                    y,
                    _val(m.os_new[s, o, t]),
                    cap,
                    mwh,
                    as_float(opts.at[o, "co2_t_per_mwh"]) * mwh,
                    as_float(opts.at[o, "water_m3_per_mwh"]) * mwh / 365.0,
                    cost,
                    isl,
                )
            )
    return pd.DataFrame(rows, columns=ONSITE_COLUMNS)


def _curtailment(m: pyo.ConcreteModel, d: ModelData, chosen: set) -> pd.DataFrame:
    """:attr:`Plan.curtailment` of the chosen sites (rows of less than 1e-6 MW left out)."""
    if m.component("curtail_mw") is None:
        return pd.DataFrame(columns=CURTAILMENT_COLUMNS)
    stress = stress_hours_of(d)
    price = d.flex.curtail_usd_per_mwh
    rows = [
        (s, d.campus.site.at[s, "bus_id"], y, str(h), v, stress[str(h)])
        for s in d.campus.sites
        if s in chosen
        for t, y in enumerate(d.horizon.years)
        for h in d.horizon.snapshots.index
        if (v := _val(m.curtail_mw[s, t, h])) > 1e-6
    ]
    out = pd.DataFrame(rows, columns=CURTAILMENT_COLUMNS[:6])
    out["curtailed_mwh"] = out["curtailed_mw"] * out["hours"]
    out["cost_usd"] = out["curtailed_mwh"] * price
    return out[CURTAILMENT_COLUMNS]


def _compute(m: pyo.ConcreteModel, d: ModelData, chosen: set) -> pd.DataFrame:
    """:attr:`Plan.compute` of the chosen sites (rows with fewer than 1e-3 accelerators
    live, new and retired left out); the model counts accelerators in thousands."""
    if d.compute is None or m.component("acc_live") is None:
        return pd.DataFrame(columns=COMPUTE_COLUMNS)
    gen = d.compute.generations
    kw = gen["kw_per_accelerator"].astype(float).to_dict()
    per_rack = gen["accelerators_per_rack"].astype(float).to_dict()
    cu = gen["compute_per_accelerator"].astype(float).to_dict()
    years = d.horizon.years
    rows = []
    for s, g, t in m.SGT:
        if s not in chosen:
            continue
        live = 1000.0 * _val(m.acc_live[s, g, t])
        new = 1000.0 * _val(m.acc_new[s, g, t])
        before = 1000.0 * _val(m.acc_live[s, g, t - 1]) if (s, g, t - 1) in m.SGT else 0.0
        retired = max(before + new - live, 0.0)
        if max(live, new, retired) < 1e-3:
            continue
        rows.append(
            (
                s,
                years[t],
                g,
                live,
                new,
                retired,
                kw[g] * live / 1000.0,
                live / per_rack[g],
                cu[g] * live,
                _val(m.racks[s, t]),
            )
        )
    return pd.DataFrame(rows, columns=COMPUTE_COLUMNS)


def _export(m: pyo.ConcreteModel, d: ModelData) -> pd.DataFrame:
    """:attr:`Plan.export`: the accelerators (with the compute family) or envelope MW sold
    to the export market per year; the model counts accelerators in thousands."""
    ex = m.component("export_mw")
    if ex is None:
        return pd.DataFrame(columns=EXPORT_COLUMNS)
    years = d.horizon.years
    acc = m.component("export_acc")
    if acc is None or d.compute is None:
        rows = [
            (years[t], "", np.nan, v, np.nan)
            for t in range(d.horizon.n_years)
            if (v := _val(ex[t])) > 1e-6
        ]
        return pd.DataFrame(rows, columns=EXPORT_COLUMNS)
    gen = d.compute.generations
    kw = gen["kw_per_accelerator"].astype(float).to_dict()
    cu = gen["compute_per_accelerator"].astype(float).to_dict()
    rows = [
        (years[t], g, 1000.0 * v, kw[g] * v, 1000.0 * cu[g] * v)
        for (g, t), var in acc.items()
        if kw[g] * (v := _val(var)) > 1e-6
    ]
    return pd.DataFrame(rows, columns=EXPORT_COLUMNS)


def _pacts(m: pyo.ConcreteModel, d: ModelData) -> pd.DataFrame:
    """:attr:`Plan.pacts`: each pact's use per year and licensed generation. A contract the
    model does not price (existing generators or a region, with the grid model) is used up
    to the pact campuses' energy."""
    if not d.pacts or m.component("acc_new") is None or d.compute is None:
        return pd.DataFrame(columns=PACT_COLUMNS)
    cu = d.compute.generations["compute_per_accelerator"].astype(float).to_dict()
    have = set(m.SGT)
    acc = m.component("pact_acc")
    mwh = m.component("pact_mwh")
    pub = m.component("pact_public")
    rows = []
    for p in d.pacts:
        gens = p.generations or [str(g) for g in d.compute.generations.index]
        for t, y in enumerate(d.horizon.years):
            units = sum(
                1000.0 * cu[g] * _val(m.acc_live[s, g, t])
                for s in p.sites
                for g in gens
                if (s, g, t) in have
            )
            energy = sum(_val(m.energy_mwh[s, t]) for s in p.sites)
            if mwh is not None and (p.name, p.sites[0] if p.sites else "", t) in mwh:
                used = sum(_val(mwh[p.name, s, t]) for s in p.sites)
            else:
                used = min(p.energy_mwh_per_year, energy) if p.energy_source else 0.0
            public = sum(
                _val(pub[p.name, s, g, t])
                for s in p.public_sites
                for g in gens
                if pub is not None and (p.name, s, g, t) in pub
            )
            for g in p.generations or [""]:
                got = {
                    s: 1000.0 * _val(acc[p.name, s, g, t])
                    for s in p.sites
                    if acc is not None and (p.name, s, g, t) in acc
                }
                rows.append(
                    (
                        p.name,
                        y,
                        g,
                        sum(got.values()),
                        p.supply.get((g, t), 0.0) if g else 0.0,
                        ";".join(s for s, n in got.items() if n > 1e-3),
                        p.energy_source,
                        p.energy_mwh_per_year,
                        used,
                        p.energy_usd_per_mwh,
                        units,
                        p.public_share,
                        public,
                    )
                )
    return pd.DataFrame(rows, columns=PACT_COLUMNS)


def _heat_sold(m: pyo.ConcreteModel, d: ModelData) -> pd.DataFrame:
    """:attr:`Plan.heat`: the heat each site sells each sink per year [MW heat]."""
    if m.component("heat") is None:
        return pd.DataFrame(columns=HEAT_COLUMNS)
    price = d.policy.sinks["price_usd_per_mwh"].astype(float).to_dict()
    rows = [
        (j, s, y, _val(m.heat[j, s, t]), price[j])
        for (j, s) in m.JS
        for t, y in enumerate(d.horizon.years)
    ]
    return pd.DataFrame(rows, columns=HEAT_COLUMNS)


def _demand_served(m: pyo.ConcreteModel, d: ModelData) -> pd.DataFrame:
    """:attr:`Plan.demand_served`: the MW each site serves each demand region per year."""
    if m.component("assign") is None:
        return pd.DataFrame(columns=DEMAND_SERVED_COLUMNS)
    rows = [
        (r, s, y, v)
        for (r, s) in m.DRS
        for t, y in enumerate(d.horizon.years)
        if (v := _val(m.assign[r, s, t])) > 1e-9
    ]
    return pd.DataFrame(rows, columns=DEMAND_SERVED_COLUMNS)


def _public_mw(m: pyo.ConcreteModel, d: ModelData, rows: list[dict[str, Any]]) -> None:
    """Fill ``public_it_mw`` of the schedule ``rows`` [MW]: the model's public-interest
    reservation, each year scaled down to the share required when the model reserved more
    (the reservation has no cost, so any amount between the share and the eligible MW is
    as good; the plan reserves what the policy asks), and never above the row's IT MW."""
    for r in rows:
        r["public_it_mw"] = 0.0
    if m.component("public") is None:
        return
    ps = set(m.PS)
    t_of = {y: t for t, y in enumerate(d.horizon.years)}
    for y in d.horizon.years:
        in_y = [r for r in rows if r["year"] == y]
        got = {
            id(r): min(_val(m.public[r["site_id"], t_of[y]]), r["it_mw"])
            for r in in_y
            if r["site_id"] in ps
        }
        need = d.policy.public_share * sum(r["it_mw"] for r in in_y)
        have = sum(got.values())
        scale = need / have if have > need > 0 else (0.0 if need <= 0 else 1.0)
        for r in in_y:
            r["public_it_mw"] = max(got.get(id(r), 0.0) * scale, 0.0)


def _schedule(m: pyo.ConcreteModel, d: ModelData) -> pd.DataFrame:
    """:attr:`Plan.schedule` from the solution: one row per chosen site and year in service.

    IT capacity is rounded to whole modules [MW]; draws [MW] are the IT that draws power x
    PUE (typical: x the utilisation too): the IT capacity, or with the compute family the
    IT its accelerators use (``it_used_mw``; the idle envelope draws nothing,
    :mod:`siting.model.power`); water is what the site draws from all its sources [m3/day];
    ``public_it_mw`` is the IT MW reserved for public-interest use (:func:`_public_mw`);
    ``flexible_it_mw`` the IT MW connected flexible (:mod:`siting.model.flex`; 0 without
    flexibility) and ``firm_it_mw`` the rest of the IT that draws power. A site with less
    than half a module in every year is not chosen.
    """
    rows = []
    techs_of = _techs_of(m)
    sw = list(m.SW) if m.component("SW") is not None else []
    sources_of = partners(sw, d.campus.sites, list(d.water.sources.index) if sw else [])[0]
    flex = m.component("flex_it_mw")
    used = m.component("it_used_mw") if m.component("idle_mw") is not None else None
    for s in d.campus.sites:
        caps = [_val(m.cap[s, t]) for t in range(d.horizon.n_years)]
        if max(caps) < 0.5 * d.campus.module_mw:
            continue
        chosen = [k for k in techs_of[s] if _val(m.tech[s, k]) > 0.5]
        k = chosen[0] if chosen else ""
        pue_peak = as_float(d.cooling.perf.at[(s, k), "pue_peak"]) if k else None
        pue_annual = as_float(d.cooling.perf.at[(s, k), "pue_annual"]) if k else None
        for t, y in enumerate(d.horizon.years):
            it = round(caps[t] / d.campus.module_mw) * d.campus.module_mw
            if it <= 0 and (t == 0 or caps[t - 1] <= 0):
                continue
            water = sum(_val(m.x[s, w, t]) for w in sources_of[s])
            # the IT that draws power: all of it, or the accelerators' (compute family)
            on = it if used is None else min(max(_val(used[s, t]), 0.0), it) + 0.0  # no -0.0
            flex_mw = min(max(_val(flex[s, t]), 0.0), on) if flex is not None else 0.0
            rows.append(
                {
                    "site_id": s,
                    "year": y,
                    "it_mw": it,
                    "new_it_mw": round(_val(m.new[s, t]) / d.campus.module_mw) * d.campus.module_mw,
                    "peak_draw_mw": on * pue_peak if pue_peak is not None else 0.0,
                    "typical_draw_mw": on * d.horizon.utilisation * pue_annual
                    if pue_annual is not None
                    else 0.0,
                    "cooling": k,
                    "bus_id": d.campus.site.at[s, "bus_id"],
                    "water_m3_per_day": water,
                    "firm_it_mw": on - flex_mw,
                    "flexible_it_mw": flex_mw,
                }
            )
    _public_mw(m, d, rows)
    return pd.DataFrame(rows, columns=SCHEDULE_COLUMNS)


def _candidate_status(all_candidates: gpd.GeoDataFrame, chosen_ids: set) -> gpd.GeoDataFrame:
    """Every candidate with :attr:`Plan.candidates`' ``status`` and ``reason``."""
    cand = all_candidates.copy()
    cand["status"] = np.where(
        cand["screened_out"].astype(str) != "",
        "screened_out",
        np.where(cand.index.isin(list(chosen_ids)), "chosen", "not_chosen"),
    )
    said = (
        cand.pop("screen_reason").astype(str)
        if "screen_reason" in cand
        else "by " + cand["screened_out"].astype(str)
    )
    cand["reason"] = np.where(
        cand["status"] == "screened_out",
        "screened out: " + said,
        np.where(cand["status"] == "chosen", "chosen", "not economic in this plan"),
    )
    # why it lost, in words with a figure (:func:`siting.results.why.explain` fills it)
    cand["why_not"] = np.where(cand["status"] == "chosen", "", cand["reason"])
    return cand


def power_words(
    d: ModelData, site_ids: list[str], first_years: dict[str, int] | None = None
) -> tuple[list[int], list[str]]:
    """Each site's first year of (firm) power and why, in words, for the pages.

    From :attr:`siting.model.data.CampusData.site` (``firm_connect_year``, ``power_why``,
    ``flex_connect_year``; the first planning year and "" when the table has none): the
    bus's queue, a substation upgrade it needs, or the campus's construction; "" when
    power is there from the first planning year. With ``first_years`` (each site's first
    year with MW in the plan [calendar year]), a site that runs before its firm connection
    says on what: a flexible connection (all its MW flexible until then), or on-site supply
    until its grid connection.

    Returns
    -------
    years, words
        First year of firm power per site [calendar year] and why.
    """
    tab = d.campus.site
    y0 = int(d.horizon.years[0])

    def col(name: str) -> dict[str, Any]:
        return {str(k): v for k, v in tab[name].items()} if name in tab else {}

    firm, flex = col("firm_connect_year"), col("flex_connect_year")
    code, bus = col("power_why"), col("bus_id")
    years: list[int] = []
    words: list[str] = []
    for sid in site_ids:
        y = as_int(firm.get(sid, y0))
        b = str(bus.get(sid, ""))
        text = {
            "queue": f"queue for a firm connection at bus {b}",
            "upgrade": f"substation upgrade at bus {b} (headroom below one module)",
            "build": "campus construction lead time",
        }.get(str(code.get(sid, "")), "")
        f = as_int(flex.get(sid, y))
        grid_y = min(f, y) if d.flex.enabled else y
        first = (first_years or {}).get(sid)
        if text and first is not None and first < y:
            if first >= grid_y:
                text += f"; it runs from {first} on a flexible connection, all its MW flexible"
            else:
                text += f"; it runs from {first} on on-site supply until its grid connection in "
                text += f"{grid_y}"
                if grid_y < y:
                    text += " (flexible until its firm connection)"
        elif text and f < y:
            text += f"; a flexible connection could draw from {f}" + (
                "" if d.flex.enabled else " (flexibility is off in this scenario)"
            )
        years.append(y)
        words.append(text)
    return years, words


def _chosen_sites(kept: gpd.GeoDataFrame, schedule: pd.DataFrame, d: ModelData) -> gpd.GeoDataFrame:
    """:attr:`Plan.sites`: the kept candidates in the schedule, with their final figures.

    Adds ``first_year``, ``it_mw_final`` [MW], ``cooling``, its PUE and WUE [L/kWh],
    ``peak_draw_mw_final`` [MW], ``water_m3_per_day_final`` [m3/day], and ``power_year``
    [calendar year] and ``power_why`` (words) from :func:`power_words`.
    """
    chosen_ids = set(schedule["site_id"])
    sites = kept.loc[[s for s in kept.index if s in chosen_ids]].copy()
    if len(schedule):
        g = schedule.groupby("site_id")
        sites["first_year"] = g["year"].min().reindex(sites.index)
        sites["it_mw_final"] = g["it_mw"].last().reindex(sites.index)
        sites["cooling"] = g["cooling"].first().reindex(sites.index)
        for col in ("pue_annual", "pue_peak", "wue_annual_l_per_kwh", "wue_peak_l_per_kwh"):
            sites[col] = [
                as_float(d.cooling.perf.at[(s, sites.at[s, "cooling"]), col]) for s in sites.index
            ]
        sites["peak_draw_mw_final"] = g["peak_draw_mw"].last().reindex(sites.index)
        sites["water_m3_per_day_final"] = g["water_m3_per_day"].last().reindex(sites.index)
    firsts = (
        {str(k): as_int(v) for k, v in schedule.groupby("site_id")["year"].min().items()}
        if len(schedule)
        else {}
    )
    year, why = power_words(d, list(sites.index), firsts)
    sites["power_year"] = year
    sites["power_why"] = why
    sites["why_here"] = ""  # the decisive figures (:func:`siting.results.why.explain`)
    sites.index.name = "site_id"
    return sites


def _water_links(
    m: pyo.ConcreteModel, d: ModelData, layers: Layers, kept: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """:attr:`Plan.water_links`: the pipelines with flow [m3/day], as site-to-source lines."""
    wrows = []
    if m.component("SW") is not None:
        dist = {
            (r.site_id, r.source_id): r.distance_km for r in d.water.links.itertuples(index=False)
        }
        for s, w in m.SW:
            for t, y in enumerate(d.horizon.years):
                v = _val(m.x[s, w, t])
                if v > 1e-6:
                    wrows.append((s, w, y, v, dist[(s, w)]))
    wl = pd.DataFrame(wrows, columns=["site_id", "source_id", "year", "m3_per_day", "distance_km"])
    geoms = []
    if len(wl) and layers.water_sources is not None:
        src_pt = layers.water_sources.geometry
        site_pt = kept[["x", "y"]]
        for r in wl.itertuples(index=False):
            p = src_pt.loc[r.source_id]
            geoms.append(
                shapely.LineString(
                    [(site_pt.at[r.site_id, "x"], site_pt.at[r.site_id, "y"]), (p.x, p.y)]
                )
            )
    return gpd.GeoDataFrame(wl, geometry=gpd.GeoSeries(geoms, crs=layers.crs))


def _empty_grid_tables() -> _GridTables:
    """The grid tables of a plan without a modelled grid: headers only, no layers."""
    return _GridTables(
        flows=pd.DataFrame(
            columns=[
                "branch_id",
                "from_bus",
                "to_bus",
                "year",
                "flow_mw",
                "rating_mw",
                "loading_pct",
                "max_loading_pct",
                "max_loading_snapshot",
            ]
        ),
        flows_all=pd.DataFrame(columns=FLOW_COLUMNS),
        dispatch=pd.DataFrame(columns=["gen_id", "bus_id", "year", "snapshot", "p_mw"]),
    )


def _grid_tables(
    m: pyo.ConcreteModel, d: ModelData, layers: Layers, schedule: pd.DataFrame
) -> _GridTables:
    """Upgrades, flows, dispatch, N-1 contingencies and the grid layers of the solution."""
    upgrades = _upgrades_taken(m, d)
    added = added_by_year(upgrades, d)
    flows_all = _flows_all(m, d, added)
    flows = _peak_flows(flows_all, d)
    dispatch = _dispatch(m, d)
    contingencies = pd.DataFrame(columns=CONTINGENCY_COLUMNS)
    if d.grid.n1 is not None and d.grid.line_limits:
        contingencies = worst_contingencies(flows_all, d, added, model_state(m).lodf)
    buses = branches = None
    grid = layers.grid
    if grid is None:
        raise SitingError(
            "the plan's grid tables need the grid layer, and the layers have none (the "
            "scenario's grid section names no grid file)"
        )
    if grid.has_coordinates:
        buses, branches = _grid_layers(grid, schedule, flows, d.horizon.years)
    return _GridTables(
        flows=flows,
        flows_all=flows_all,
        dispatch=dispatch,
        buses=buses,
        branches=branches,
        upgrades=upgrades,
        contingencies=contingencies,
    )


def _flows_all(m: pyo.ConcreteModel, d: ModelData, added: np.ndarray) -> pd.DataFrame:
    """:attr:`Plan.flows_all`: every branch's flow per year and snapshot [MW], ratings of
    that year with ``added`` upgrades [MW], and loading [%] (0 when unlimited)."""
    from siting.solve.lazy import solution_flows

    net = require_network(d.grid.net, "the plan's flows")
    frows = []
    all_flows = solution_flows(m, d)  # either formulation
    for t, y in enumerate(d.horizon.years):
        for h in list(d.horizon.snapshots.index):
            f = all_flows[t, h]
            frows.append(
                pd.DataFrame(
                    {
                        "branch_id": net.branch_ids,
                        "from_bus": net.bus_ids[net.from_idx],
                        "to_bus": net.bus_ids[net.to_idx],
                        "year": y,
                        "snapshot": h,
                        "flow_mw": f,
                        "rating_mw": net.rating_mw + added[:, t],
                        "rating_emergency_mw": d.grid.rating_emergency_mw + added[:, t],
                    }
                )
            )
    flows_all = pd.concat(frows, ignore_index=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        flows_all["loading_pct"] = np.where(
            np.isfinite(flows_all["rating_mw"]),
            100.0 * flows_all["flow_mw"].abs() / flows_all["rating_mw"],
            0.0,
        )
    return flows_all[FLOW_COLUMNS]


def _peak_flows(flows_all: pd.DataFrame, d: ModelData) -> pd.DataFrame:
    """:attr:`Plan.flows`: the peak snapshot's rows, with each branch and year's worst
    loading [%] and the snapshot it occurs in."""
    snaps = list(d.horizon.snapshots.index)
    peak_name = (
        d.horizon.snapshots.index[d.horizon.snapshots["peak"].to_numpy()][0]
        if d.horizon.snapshots["peak"].any()
        else snaps[0]
    )
    pk = flows_all[flows_all["snapshot"] == peak_name].drop(columns="snapshot")
    idx = flows_all.groupby(["branch_id", "year"], sort=False)["loading_pct"].idxmax()
    worst = flows_all.loc[idx, ["branch_id", "year", "loading_pct", "snapshot"]].rename(
        columns={"loading_pct": "max_loading_pct", "snapshot": "max_loading_snapshot"}
    )
    return pk.merge(worst, on=["branch_id", "year"], how="left")


def _dispatch(m: pyo.ConcreteModel, d: ModelData) -> pd.DataFrame:
    """:attr:`Plan.dispatch`: each generator's output per year and snapshot [MW]."""
    drows = []
    for t, y in enumerate(d.horizon.years):
        for h in list(d.horizon.snapshots.index):
            drows.append(
                pd.DataFrame(
                    {
                        "gen_id": d.grid.gens.index,
                        "bus_id": d.grid.gens["bus_id"].to_numpy(),
                        "year": y,
                        "snapshot": h,
                        "p_mw": [_val(m.p[g, t, h]) for g in d.grid.gens.index],
                    }
                )
            )
    return pd.concat(drows, ignore_index=True)


def _grid_layers(
    grid: Grid, schedule: pd.DataFrame, flows: pd.DataFrame, years: list[int]
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """:attr:`Plan.buses` with the campus peak draw per year [MW] and :attr:`Plan.branches`
    with the worst loading per year [%]."""
    buses = grid.buses.copy()
    camp = (
        schedule.pivot_table(index="bus_id", columns="year", values="peak_draw_mw", aggfunc="sum")
        if len(schedule)
        else pd.DataFrame()
    )
    for y in years:
        buses[f"campus_peak_mw_{y}"] = (
            camp[y].reindex(buses.index).fillna(0.0).to_numpy() if y in camp else 0.0
        )
    branches = grid.branches.copy()
    for y in years:
        ld = flows[flows["year"] == y].set_index("branch_id")["max_loading_pct"]
        branches[f"loading_pct_{y}"] = ld.reindex(branches.index).to_numpy()
    return buses, branches


def _zones(
    d: ModelData,
    layers: Layers,
    sites: gpd.GeoDataFrame,
    schedule: pd.DataFrame,
    water_links: gpd.GeoDataFrame,
    upgrades: pd.DataFrame,
    settings: GrowthZones | None,
    all_sites: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    """The plan's growth zones (:func:`siting.results.zones.growth_zones`) with the model's costs.

    ``capex_usd`` sums, undiscounted, what the objective's ``capex``, ``cooling_capex``,
    ``site_fixed`` and ``pipelines`` parts charge the zone's sites: final IT MW x
    (``capex_usd_per_mw`` + the site's land per MW + ``interconnection_usd_per_mw`` + its
    cooling's capex per MW), plus its opening cost and tie line, plus its pipelines.
    """
    from siting.config.scenario import GrowthZones
    from siting.results.zones import growth_zones

    s = settings if settings is not None else GrowthZones()
    z_sites = sites.copy()
    if len(z_sites):
        z_sites["tie_line_usd"] = (
            d.campus.site["interconnect_usd"].reindex(z_sites.index).to_numpy()
        )
        cool = z_sites["cooling"] if "cooling" in z_sites else pd.Series("", index=z_sites.index)
        per_mw = {
            str(site): d.campus.capex_usd_per_mw
            + d.campus.interconnection_usd_per_mw
            + as_float(d.campus.site.at[site, "land_usd_per_mw"])
            + float(d.cooling.capex_usd_per_mw.get(str(cool.at[site]), 0.0))
            for site in z_sites.index
        }
    else:
        per_mw = {}
    wl = water_links
    if len(wl) and len(d.water.links) and "pipeline_usd" in d.water.links:
        pipe = d.water.links.set_index(["site_id", "source_id"])["pipeline_usd"]
        wl = wl.copy()
        wl["pipeline_usd"] = pipe.reindex(
            list(zip(wl["site_id"].astype(str), wl["source_id"].astype(str), strict=True))
        ).to_numpy()
    grid = layers.grid
    buses = grid.buses if grid is not None and grid.has_coordinates else None
    branches = None
    if d.grid.enabled:
        net = require_network(d.grid.net, "the growth zones' corridors")
        branches = pd.DataFrame(
            {
                "branch_id": net.branch_ids,
                "from_bus": net.bus_ids[net.from_idx],
                "to_bus": net.bus_ids[net.to_idx],
            }
        )
    return growth_zones(
        z_sites,
        schedule,
        wl,
        buses,
        upgrades,
        distance_km=s.distance_km,
        corridor_buffer_km=s.corridor_buffer_km,
        places=layers.places,
        crs=layers.crs if layers.crs is not None else all_sites.crs,
        years=list(d.horizon.years),
        branches=branches,
        capex_usd_per_mw=per_mw,
    )


def _upgrades_taken(m: pyo.ConcreteModel, d: ModelData) -> pd.DataFrame:
    """The upgrades the solution takes (see :attr:`Plan.upgrades`)."""
    rows = []
    for asset, var, table, id_col in (
        ("branch", getattr(m, "up_branch", None), d.grid.branch_upgrades, "branch_id"),
        ("substation", getattr(m, "up_bus", None), d.grid.bus_upgrades, "bus_id"),
    ):
        if var is None:
            continue
        for pos, opt in table.iterrows():
            for t, y in enumerate(d.horizon.years):
                if _val(var[as_int(pos), t]) > 0.5:
                    rows.append(
                        (
                            asset,
                            str(opt[id_col]),
                            y,
                            float(opt["added_mw"]),
                            float(opt["cost_usd"]),
                            float(opt["lead_time_years"]),
                        )
                    )
    return pd.DataFrame(rows, columns=UPGRADE_COLUMNS)
