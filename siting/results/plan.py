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
from siting.model.data import ModelData, partners
from siting.model.objective import COST_PARTS
from siting.model.state import model_state
from siting.network import require_network
from siting.solve.highs import SolveResult

if TYPE_CHECKING:
    from siting.candidates.generate import Candidates
    from siting.config.scenario import GrowthZones
    from siting.inputs import Grid, Layers

#: Absolute tolerance of the verification [MW, m3/day].
TOL_ABS = 1e-3
#: Relative tolerance of the verification [fraction].
TOL_REL = 1e-6

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
#: Columns of ``contingencies.csv``.
CONTINGENCY_COLUMNS = [
    "branch_id",
    "year",
    "snapshot",
    "outage_id",
    "post_flow_mw",
    "rating_emergency_mw",
    "loading_pct",
]


class VerificationError(SitingError):
    """The plan breaks a rule it must keep (a bug in the model, or solver trouble)."""


@dataclass
class Check:
    """One verification: its name, whether it held, the worst excess, and details."""

    name: str
    ok: bool
    worst: float = 0.0
    unit: str = ""
    detail: str = ""


@dataclass
class Plan:
    """A siting plan.

    Attributes
    ----------
    name
        The scenario's name.
    sites
        Chosen sites (GeoDataFrame, index site_id): ``first_year, it_mw_final, cooling,
        bus_id, pue_annual, pue_peak, wue_annual_l_per_kwh``, ...
    candidates
        Every candidate with ``status`` (``chosen``, ``screened_out``, ``not_chosen``)
        and ``reason``.
    schedule
        One row per chosen site and year: ``site_id, year, it_mw, new_it_mw, peak_draw_mw,
        typical_draw_mw, cooling, bus_id, water_m3_per_day``.
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
        a modelled grid), ``upgrades.csv`` (headers only when none), ``contingencies.csv``
        (with N-1), ``manifest.json``, ``report.html``, ``index.html`` and the marker
        :data:`siting.core.io.MARKER`.

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
        self.flows_all.to_csv(d / "flows.csv", index=False, float_format="%.6g")
        self.dispatch.to_csv(d / "dispatch.csv", index=False, float_format="%.6g")
        self.upgrades.to_csv(d / "upgrades.csv", index=False, float_format="%.10g")
        if len(self.contingencies):
            self.contingencies.to_csv(d / "contingencies.csv", index=False, float_format="%.6g")
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
    v = pyo.value(x, exception=False)
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
    cand = _candidate_status(candidates.all, set(schedule["site_id"]))
    sites = _chosen_sites(candidates.sites, schedule, d)
    water_links = _water_links(m, d, layers, candidates.sites)
    grid = _grid_tables(m, d, layers, schedule) if d.grid.enabled else _empty_grid_tables()
    costs = {p: _val(m.cost_part[p]) for p in COST_PARTS}
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
    )


def _schedule(m: pyo.ConcreteModel, d: ModelData) -> pd.DataFrame:
    """:attr:`Plan.schedule` from the solution: one row per chosen site and year in service.

    IT capacity is rounded to whole modules [MW]; draws [MW] are IT x PUE (typical: x the
    utilisation too); water is what the site draws from all its sources [m3/day]. A site
    with less than half a module in every year is not chosen.
    """
    rows = []
    techs_of = _techs_of(m)
    sw = list(m.SW) if m.component("SW") is not None else []
    sources_of = partners(sw, d.campus.sites, list(d.water.sources.index) if sw else [])[0]
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
            rows.append(
                {
                    "site_id": s,
                    "year": y,
                    "it_mw": it,
                    "new_it_mw": round(_val(m.new[s, t]) / d.campus.module_mw) * d.campus.module_mw,
                    "peak_draw_mw": it * pue_peak if pue_peak is not None else 0.0,
                    "typical_draw_mw": it * d.horizon.utilisation * pue_annual
                    if pue_annual is not None
                    else 0.0,
                    "cooling": k,
                    "bus_id": d.campus.site.at[s, "bus_id"],
                    "water_m3_per_day": water,
                }
            )
    return pd.DataFrame(rows, columns=SCHEDULE_COLUMNS)


def _candidate_status(all_candidates: gpd.GeoDataFrame, chosen_ids: set) -> gpd.GeoDataFrame:
    """Every candidate with :attr:`Plan.candidates`' ``status`` and ``reason``."""
    cand = all_candidates.copy()
    cand["status"] = np.where(
        cand["screened_out"].astype(str) != "",
        "screened_out",
        np.where(cand.index.isin(list(chosen_ids)), "chosen", "not_chosen"),
    )
    cand["reason"] = np.where(
        cand["status"] == "screened_out",
        "screened out by " + cand["screened_out"].astype(str),
        np.where(cand["status"] == "chosen", "chosen", "not economic in this plan"),
    )
    return cand


def _chosen_sites(kept: gpd.GeoDataFrame, schedule: pd.DataFrame, d: ModelData) -> gpd.GeoDataFrame:
    """:attr:`Plan.sites`: the kept candidates in the schedule, with their final figures.

    Adds ``first_year``, ``it_mw_final`` [MW], ``cooling``, its PUE and WUE [L/kWh],
    ``peak_draw_mw_final`` [MW] and ``water_m3_per_day_final`` [m3/day].
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
        contingencies = worst_contingencies(flows_all, d, added, m)
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


def added_by_year(upgrades: pd.DataFrame, d: ModelData, asset: str = "branch") -> np.ndarray:
    """Rating (``branch``) or headroom (``substation``) added per position and period [MW].

    Parameters
    ----------
    upgrades
        :attr:`Plan.upgrades` (or ``upgrades.csv``).
    d
        The model's data (for the network's order and the years).
    asset
        ``branch`` (rows: ``net.branch_ids``) or ``substation`` (rows: ``net.bus_ids``).

    Returns
    -------
    numpy.ndarray
        Shape (n, n_years) [MW].
    """
    net = require_network(d.grid.net, "the upgrades' added ratings")
    ids = net.branch_ids if asset == "branch" else net.bus_ids
    out = np.zeros((len(ids), d.horizon.n_years))
    pos = pd.Series(np.arange(len(ids)), index=ids.astype(str))
    years = np.asarray(d.horizon.years)
    for r in upgrades[upgrades["asset"] == asset].itertuples(index=False):
        i = pos.get(str(r.asset_id))
        if i is None:
            raise VerificationError(f"upgrades name {asset} {r.asset_id}, which is not in the grid")
        out[i, years >= as_int(r.year)] += as_float(r.added_mw)
    return out


def worst_contingencies(
    flows_all: pd.DataFrame, d: ModelData, added: np.ndarray, m: pyo.ConcreteModel | None = None
) -> pd.DataFrame:
    """Per monitored branch and year, the worst checked outage (N-1) [MW, %].

    Post-contingency flows are ``f + LODF[:, k] f[k]`` (:func:`siting.network.lodf`) for
    the outages :func:`siting.solve.lazy.checked_outages` selects, at the N-1 snapshots; the
    limit is the emergency rating plus upgrades in service.
    """
    from siting.network import lodf, post_outage_flows

    n1 = d.grid.n1
    if n1 is None:
        raise SitingError("the worst N-1 contingencies need the N-1 settings, and N-1 is off")
    net = require_network(d.grid.net, "the worst N-1 contingencies")
    nl = len(net.branch_ids)
    L = model_state(m).lodf if m is not None else None
    if L is None:
        L = lodf(net)
    from siting.solve.lazy import checked_outages

    by_period = {
        (d.horizon.years.index(as_int(y)), str(h)): g["flow_mw"].to_numpy()
        for (y, h), g in flows_all.groupby(["year", "snapshot"], sort=False)
    }
    ks = checked_outages(d, by_period)
    if not len(ks):
        return pd.DataFrame(columns=CONTINGENCY_COLUMNS)
    rows = []
    em = d.grid.rating_emergency_mw
    for (y, h), grp in flows_all.groupby(["year", "snapshot"], sort=False):
        t = d.horizon.years.index(as_int(y))
        if not n1.checks(t, str(h)):
            continue
        f = grp["flow_mw"].to_numpy()
        post = post_outage_flows(f, L, ks)  # the tripped branch carries 0
        lim = em + added[:, t]
        with np.errstate(divide="ignore", invalid="ignore"):
            load = np.where(np.isfinite(lim)[:, None], 100.0 * np.abs(post) / lim[:, None], 0.0)
        j = np.argmax(load, axis=1)
        br = np.arange(nl)
        rows.append(
            pd.DataFrame(
                {
                    "branch_id": net.branch_ids,
                    "year": as_int(y),
                    "snapshot": h,
                    "outage_id": net.branch_ids[ks[j]],
                    "post_flow_mw": post[br, j],
                    "rating_emergency_mw": lim,
                    "loading_pct": load[br, j],
                }
            )
        )
    out = pd.concat(rows, ignore_index=True)
    idx = out.groupby(["branch_id", "year"], sort=False)["loading_pct"].idxmax()
    return out.loc[idx].reset_index(drop=True)


# --------------------------------------------------------------------------- verification


def _excess(value: np.ndarray | float, limit: np.ndarray | float) -> np.ndarray:
    """How far ``value`` exceeds ``limit`` beyond the tolerance (0 where it holds); a
    number stands for the same value everywhere."""
    tol = TOL_ABS + TOL_REL * np.abs(limit)
    return np.maximum(np.asarray(value) - np.asarray(limit) - tol, 0.0)


def verify(
    plan: Plan, d: ModelData, layers: Layers, *, raise_on_failure: bool = True
) -> list[Check]:
    """Re-check the plan from its tables and the inputs alone (never the model).

    Checks: whole modules, phasing (new MW per period within the limit, none before the
    earliest year, cumulative), campus sizes, one cooling per site, national targets,
    facility draw = IT x PUE, water need = 24 h x u x IT x WUE met by the links, source
    capacities, the potable cap, region and zone shares, and, per year and snapshot, the
    DC flows recomputed from the nodal injections (dispatch - load - campus draw) with
    :func:`siting.network.dc_flow`: balanced islands, flows equal to the plan's, within
    ratings; substation headroom.

    Returns
    -------
    list of Check

    Raises
    ------
    VerificationError
        When a check fails and ``raise_on_failure``.
    """
    checks: list[Check] = []
    sc = plan.schedule

    def add(name: str, excess: np.ndarray | float, unit: str, detail: str = "") -> None:
        w = float(np.max(excess)) if np.size(excess) else 0.0
        checks.append(Check(name, w <= 0.0, w, unit, detail if w > 0 else ""))

    total = np.zeros(len(d.horizon.years))
    if len(sc):
        cap, perf = _verify_schedule(sc, d, add)
        if d.water.enabled:
            _verify_water_need(plan, perf, d, add)
        total = cap.sum(axis=0)
    add("national IT targets met", _excess(d.policy.targets_mw, total), "MW")
    _verify_sources(plan, d, add)
    _verify_caps(plan, d, add)
    if len(sc):
        _verify_shares(sc, d, total, add)
    if d.grid.enabled:
        checks.extend(_verify_grid(plan, d))
    if raise_on_failure:
        _raise_failed(checks)
    return checks


def _verify_schedule(
    sc: pd.DataFrame, d: ModelData, add: Callable[..., None]
) -> tuple[np.ndarray, pd.DataFrame]:
    """Modules, phasing, sizes, cooling and peak draw of a non-empty schedule.

    Returns
    -------
    cap : numpy.ndarray
        IT capacity per site (rows, the schedule's sites) and year [MW].
    perf : pandas.DataFrame
        The cooling performance of each schedule row (PUE, WUE [L/kWh]).
    """
    mod = d.campus.module_mw
    frac = np.abs(sc["it_mw"] / mod - np.round(sc["it_mw"] / mod))
    add("whole modules", frac * mod - TOL_ABS, "MW")
    piv = sc.pivot_table(index="site_id", columns="year", values="it_mw", aggfunc="sum")
    piv = piv.reindex(columns=d.horizon.years).fillna(0.0)
    cap = piv.to_numpy()
    new = np.diff(np.concatenate([np.zeros((len(cap), 1)), cap], axis=1), axis=1)
    add("capacity never shrinks", -new.min(initial=0.0) - TOL_ABS, "MW")
    lim = d.campus.max_modules_per_period * mod
    add("build per period within the limit", _excess(new, lim[None, :]), "MW")
    add(
        "site size within its maximum",
        _excess(cap.max(axis=1), d.campus.site["max_it_mw"].reindex(piv.index).to_numpy()),
        "MW",
    )
    add("campus reaches its minimum size", _excess(d.campus.min_campus_mw, cap[:, -1]), "MW")
    ep = d.campus.site["earliest_period"].reindex(piv.index).to_numpy()
    before = np.array([cap[i, : ep[i]].sum() for i in range(len(cap))])
    add("nothing before the earliest year", before - TOL_ABS, "MW")
    n_cool = sc.groupby("site_id")["cooling"].nunique()
    add("one cooling technology per site", n_cool.to_numpy() - 1.0, "technologies")
    perf = d.cooling.perf.loc[list(zip(sc["site_id"], sc["cooling"], strict=True))]
    add(
        "peak draw = IT x peak PUE",
        np.abs(sc["peak_draw_mw"].to_numpy() - sc["it_mw"].to_numpy() * perf["pue_peak"].to_numpy())
        - TOL_ABS,
        "MW",
    )
    return cap, perf


def _verify_water_need(
    plan: Plan, perf: pd.DataFrame, d: ModelData, add: Callable[..., None]
) -> None:
    """Each schedule row's water need, 24 h x u x IT x WUE [m3/day], met by its pipelines."""
    sc = plan.schedule
    need = (
        24.0
        * d.horizon.utilisation
        * sc["it_mw"].to_numpy()
        * perf["wue_annual_l_per_kwh"].to_numpy()
    )
    supplied = np.zeros(len(sc))
    if len(plan.water_links):
        got = plan.water_links.groupby(["site_id", "year"])["m3_per_day"].sum()
        supplied = (
            got.reindex(list(zip(sc["site_id"], sc["year"], strict=True))).fillna(0.0).to_numpy()
        )
    add(
        "water need met by pipelines",
        np.abs(supplied - need) - (TOL_ABS + 1e-6 * need),
        "m3/day",
    )


def _verify_sources(plan: Plan, d: ModelData, add: Callable[..., None]) -> None:
    """Water sources within their capacity of each year, and the potable cap [m3/day]."""
    if not (len(plan.water_links) and len(d.water.sources)):
        return
    use = plan.water_links.groupby(["source_id", "year"])["m3_per_day"].sum()
    caps = np.array([d.water.sources.at[w, f"cap_{y}"] for (w, y) in use.index], dtype=float)
    add("water sources within capacity", _excess(use.to_numpy(), caps), "m3/day")
    if d.water.potable_cap_m3_per_day is not None:
        kinds = d.water.sources["kind"]
        pot = plan.water_links[plan.water_links["source_id"].map(kinds) == "potable"]
        by_year = pot.groupby("year")["m3_per_day"].sum().reindex(d.horizon.years).fillna(0.0)
        add(
            "potable water cap",
            _excess(by_year.to_numpy(), d.water.potable_cap_m3_per_day),
            "m3/day",
        )


def _verify_shares(
    sc: pd.DataFrame, d: ModelData, total: np.ndarray, add: Callable[..., None]
) -> None:
    """Region shares and the designated zones' share of the national ``total`` [MW]."""
    years = d.horizon.years
    if d.policy.region_shares:
        reg = sc["site_id"].map(d.campus.site["region_id"])
        for r, (lo, hi) in d.policy.region_shares.items():
            in_r = sc[reg == r].groupby("year")["it_mw"].sum().reindex(years).fillna(0.0).to_numpy()
            add(f"region {r} share >= {lo:g}", _excess(lo * total, in_r), "MW")
            add(f"region {r} share <= {hi:g}", _excess(in_r, hi * total), "MW")
    if d.policy.zone_mode == "require" and d.policy.zone_min_share > 0:
        zk = sc["site_id"].map(d.campus.site["zone_kind"])
        inz = sc[zk == "designated"].groupby("year")["it_mw"].sum().reindex(years).fillna(0.0)
        add(
            "share in designated zones",
            _excess(d.policy.zone_min_share * total, inz.to_numpy()),
            "MW",
        )


def _raise_failed(checks: list[Check]) -> None:
    """Raise :class:`VerificationError` listing the failed checks, if any."""
    bad = [c for c in checks if not c.ok]
    if bad:
        lines = "\n".join(f"  - {c.name}: off by {c.worst:.6g} {c.unit} {c.detail}" for c in bad)
        raise VerificationError(
            f"the plan fails {len(bad)} of {len(checks)} checks recomputed from its own "
            f"tables (a bug in the model or solver trouble; please report it):\n{lines}"
        )


def _verify_caps(plan: Plan, d: ModelData, add: Callable[..., None]) -> None:
    """The scenario's caps on campus water, campus CO2 and upgrade spend, from the tables."""
    sc = plan.schedule
    if d.caps.water_cap_m3_per_day is not None:
        use = (
            sc.groupby("year")["water_m3_per_day"]
            .sum()
            .reindex(d.horizon.years)
            .fillna(0.0)
            .to_numpy()
            if len(sc)
            else np.zeros(d.horizon.n_years)
        )
        add(
            "campus water cap",
            _excess(
                use, d.caps.water_cap_m3_per_day + TOL_ABS + 1e-6 * d.caps.water_cap_m3_per_day
            ),
            "m3/day",
        )
    if d.caps.upgrade_budget_usd is not None:
        ups = plan.upgrades
        year_df = dict(zip(d.horizon.years, d.horizon.capex_df, strict=True))
        spent = float(
            sum(as_float(r.cost_usd) * year_df[as_int(r.year)] for r in ups.itertuples(index=False))
        )
        add(
            "grid upgrade budget",
            spent - d.caps.upgrade_budget_usd - 1.0 - 1e-6 * d.caps.upgrade_budget_usd,
            "USD",
        )
    if d.caps.co2_cap_t is not None and d.grid.enabled and plan.metrics.get("co2_t") is not None:
        disp = plan.dispatch
        intensity = d.grid.gens.get("co2_t_per_mwh", pd.Series(0.0, index=d.grid.gens.index))
        co2 = disp["gen_id"].astype(str).map(intensity).fillna(0.0).to_numpy()
        hours = disp["snapshot"].map(d.horizon.snapshots["hours"]).astype(float).to_numpy()
        years = (
            disp["year"]
            .map(dict(zip(d.horizon.years, d.horizon.period_years, strict=True)))
            .to_numpy()
        )
        system = float(np.sum(disp["p_mw"].to_numpy() * co2 * hours * years))
        added = system - float(plan.metrics.get("baseline_co2_t") or 0.0)
        add("campus CO2 cap", added - d.caps.co2_cap_t - 1e-6 * max(1.0, abs(system)), "t CO2")


def _verify_upgrades(ups: pd.DataFrame, d: ModelData) -> list[Check]:
    """Each upgrade is an offered option, taken once, in service after its lead time."""
    if not len(ups):
        return []
    bad_once = int(ups.duplicated(["asset", "asset_id"]).sum())
    early = 0.0
    unknown = 0
    for asset, table, id_col in (
        ("branch", d.grid.branch_upgrades, "branch_id"),
        ("substation", d.grid.bus_upgrades, "bus_id"),
    ):
        opts = table.set_index(id_col)
        for r in ups[ups["asset"] == asset].itertuples(index=False):
            if str(r.asset_id) not in opts.index:
                unknown += 1
                continue
            ready = d.horizon.years[0] + as_float(opts.at[str(r.asset_id), "lead_time_years"])
            early = max(early, ready - as_float(r.year) - 1e-9)
    return [
        Check("upgrades are offered options", unknown == 0, float(unknown), "upgrades"),
        Check("each upgrade taken at most once", bad_once == 0, float(bad_once), "upgrades"),
        Check("upgrades in service after their lead time", early <= 0, max(early, 0.0), "years"),
    ]


@dataclass
class _FlowRecheck:
    """The worst excesses found recomputing the DC flows, year by year and snapshot by
    snapshot [MW], where the worst overload is, and the recomputed flows."""

    over: float = 0.0
    mis: float = 0.0
    bal: float = 0.0
    head: float = 0.0
    where: str = ""
    recomputed: list[pd.DataFrame] = field(default_factory=list)


def _verify_grid(plan: Plan, d: ModelData) -> list[Check]:
    """DC flows recomputed from nodal injections, per year and snapshot."""
    ups = plan.upgrades
    added = added_by_year(ups, d, "branch")
    added_head = added_by_year(ups, d, "substation")
    n1_on = d.grid.n1 is not None and d.grid.line_limits
    w = _recheck_flows(plan, d, added, added_head)
    checks = _verify_upgrades(ups, d)
    if n1_on and w.recomputed:
        checks.append(_verify_n1(pd.concat(w.recomputed, ignore_index=True), d, added))
    gen_out = _generator_excess(plan, d)
    return checks + [
        Check(
            "generators within their limits",
            gen_out.max(initial=0.0) <= 0,
            float(gen_out.max(initial=0.0)),
            "MW",
        ),
        Check("power balanced in every island", w.bal <= 0, max(w.bal, 0.0), "MW"),
        Check("flows recomputed from injections equal the plan's", w.mis <= 0, w.mis, "MW"),
        Check("branch flows within ratings", w.over <= 0, w.over, "MW", w.where),
        Check("substation headroom", w.head <= 0, w.head, "MW"),
    ]


def _recheck_flows(
    plan: Plan, d: ModelData, added: np.ndarray, added_head: np.ndarray
) -> _FlowRecheck:
    """Recompute the DC flows of every year and snapshot from the plan's injections and
    compare them with the plan's flows, the ratings and the substation headroom.

    ``added`` and ``added_head``: rating and headroom added by upgrades per branch (bus) and
    period [MW] (:func:`added_by_year`).
    """
    from siting.network import dc_flow

    net = require_network(d.grid.net, "the plan's flow check")
    bus_pos = pd.Series(np.arange(len(net.bus_ids)), index=net.bus_ids)
    sc = plan.schedule
    w = _FlowRecheck()
    for t, y in enumerate(d.horizon.years):
        for h, row in d.horizon.snapshots.iterrows():
            inj = _injections(plan, d, bus_pos, y, str(h), row)
            camp = sc[sc["year"] == y]
            if len(camp) and row["peak"]:
                at_bus = np.bincount(
                    bus_pos.loc[camp["bus_id"].astype(str)].to_numpy(),
                    weights=camp["peak_draw_mw"].to_numpy(),
                    minlength=len(net.bus_ids),
                )
                head = np.where(
                    np.isfinite(d.grid.headroom_mw), d.grid.headroom_mw + added_head[:, t], np.inf
                )
                w.head = max(w.head, float(_excess(at_bus, head).max()))
            res = dc_flow(net, inj, balance=False)
            w.recomputed.append(pd.DataFrame({"year": y, "snapshot": h, "flow_mw": res.flow_mw}))
            bal = float(np.abs(res.slack_mw).max(initial=0.0))
            w.bal = max(w.bal, bal - (TOL_ABS + TOL_REL * float(np.abs(inj).sum())))
            f = res.flow_mw
            model_f = plan.flows_all[
                (plan.flows_all["year"] == y) & (plan.flows_all["snapshot"] == h)
            ]["flow_mw"].to_numpy()
            mis = float(np.max(np.abs(f - model_f) - (TOL_ABS + 1e-6 * np.abs(f)), initial=0.0))
            if mis > w.mis:
                w.mis = mis
            if d.grid.line_limits:
                over = _excess(np.abs(f), net.rating_mw + added[:, t])
                if over.max(initial=0.0) > w.over:
                    w.over = float(over.max())
                    w.where = f"branch {net.branch_ids[int(np.argmax(over))]} in {y} ({h})"
    return w


def _injections(
    plan: Plan, d: ModelData, bus_pos: pd.Series, y: int, h: str, row: pd.Series
) -> np.ndarray:
    """Net injection per bus in year ``y``, snapshot ``h`` [MW]: the plan's dispatch, less
    the base load (x the snapshot's ``row["load_factor"]``), the shunts and the campus draw
    (peak or typical)."""
    nb = len(bus_pos)
    disp = plan.dispatch[(plan.dispatch["year"] == y) & (plan.dispatch["snapshot"] == h)]
    inj = np.bincount(
        bus_pos.loc[disp["bus_id"].astype(str)].to_numpy(),
        weights=disp["p_mw"].to_numpy(),
        minlength=nb,
    )
    inj -= row["load_factor"] * d.grid.base_load_mw[y].to_numpy() + d.grid.shunt_mw
    camp = plan.schedule[plan.schedule["year"] == y]
    draw_col = "peak_draw_mw" if row["peak"] else "typical_draw_mw"
    if len(camp):
        inj -= np.bincount(
            bus_pos.loc[camp["bus_id"].astype(str)].to_numpy(),
            weights=camp[draw_col].to_numpy(),
            minlength=nb,
        )
    return inj


def _verify_n1(recomputed: pd.DataFrame, d: ModelData, added: np.ndarray) -> Check:
    """Post-contingency flows of the recomputed flows within emergency ratings [MW]
    (:func:`worst_contingencies`)."""
    worst_n1 = 0.0
    where_n1 = ""
    n1 = worst_contingencies(recomputed, d, added)
    if len(n1):
        exc = _excess(
            np.abs(n1["post_flow_mw"].to_numpy(dtype=float)),
            n1["rating_emergency_mw"].to_numpy(dtype=float),
        )
        worst_n1 = float(exc.max(initial=0.0))
        if worst_n1 > 0:
            r = n1.iloc[int(np.argmax(exc))]
            where_n1 = (
                f"branch {r['branch_id']} after the outage of {r['outage_id']} in "
                f"{r['year']} ({r['snapshot']})"
            )
    return Check(
        "N-1: post-contingency flows within emergency ratings",
        worst_n1 <= 0,
        worst_n1,
        "MW",
        where_n1,
    )


def _generator_excess(plan: Plan, d: ModelData) -> np.ndarray:
    """How far each dispatch row is outside its generator's limits [MW] (0 where within;
    below ``p_min_mw`` counts at the peak snapshots only)."""
    disp = plan.dispatch.merge(
        d.grid.gens[["p_min_mw", "p_max_mw"]], left_on="gen_id", right_index=True, how="left"
    )
    is_peak = disp["snapshot"].map(d.horizon.snapshots["peak"]).astype(bool).to_numpy()
    lo = np.where(is_peak, disp["p_min_mw"], np.minimum(disp["p_min_mw"], 0.0))
    return np.maximum(
        _excess(disp["p_mw"].to_numpy(), disp["p_max_mw"].to_numpy()),
        _excess(lo, disp["p_mw"].to_numpy()),
    )
