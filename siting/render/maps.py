"""``index.html``: the interactive map of a written plan folder (folium / Leaflet).

:func:`render_map` reads a plan folder alone (``plan.gpkg`` layers ``sites``, ``candidates``,
``buses``, ``branches``, ``water_links`` and, when present, ``zones``; ``schedule.csv``;
``manifest.json``) plus, when the manifest's ``scenario_as_run`` names them and the files
still exist, the scenario's boundary, water sources, policy zones, exclusions, places and
the climate, land-class and land-cost rasters (a missing one is skipped with a note on the
map, never an error). It writes one HTML page, atomically (a temporary file beside it, then
one rename).

What the map shows (each an overlay in the layer control, top right): the region outline
(the boundary layer, else the hull of the plan's own features), open water (the exclusions
of kind ``water``), growth zones, chosen sites (circle area by IT MW in the year shown,
colour by first year), candidates not chosen (faint dots on one canvas layer, so tens of
thousands stay fast: grey screened out, blue not economic), branches coloured by peak
loading in the year shown, substations (buses; colour by voltage, :data:`KV_CLASSES`; size
by campus peak draw; a thick black ring where campuses connect), water sources and
pipelines, policy zones, exclusions, places (a dot and a permanent label, both sized by
population, :func:`place_size`), and the rasters as image overlays (off by default). Popups
explain a site (IT MW by year, cooling, PUE, WUE, water source, bus, costs, and a link to
its row of ``report.html``, :func:`report_href`) and, for a candidate not chosen, the
reason. ``index.html#site-<id>`` (the report's link back) opens on that site's popup.

**Detail by zoom**: a grid of more than :data:`BUS_DETAIL_0` buses opens with only its
highest-voltage buses drawn and shows the rest one and two zoom levels in
(:func:`bus_detail_levels`); places likewise, the most populous labelled first
(:func:`place_detail_levels`).

**Any screen**: the layer control (top right) and the legend (bottom right, a ``<details>``
the reader folds) never overlap: the legend's body gets the height left below the layer
control, in as many 200 px columns as its sections need there (as far as the width beside
the year control allows; scrolling only beyond that), and a section explaining an overlay
is shown only while that overlay is on. Below 600 px wide (a phone) both start folded, only one of them
is open at a time, an open legend sits above the year control, and there is no minimap.

**Year control**: a slider (bottom left) over the plan's years; moving it redraws the sites
(only those in service, sized by that year's MW), the pipelines in use, the substations'
campus draw and the branch loadings of that year. It starts on the last year.

**Offline by default**: the page is self-contained. Leaflet's JavaScript and CSS
(BSD-2-Clause, from ``siting/render/static/leaflet``) are inlined, and every data layer, the
outline, the legends, the scale bar, the full-screen button and the minimap are drawn from
the page's own data with no request to anything. The base the page opens on is drawn from
the layers ("Drawn from the layers (offline)": outline, open water, labelled places).
OpenStreetMap tiles (``tiles=True``, the default) are a second base the reader can switch on
in the layer control; no tile is requested before that. ``tiles=False`` leaves them out.

Every string from the input data goes through :func:`siting.render.html.esc` in Python
before it reaches the page (popups, tooltips, legends); the embedded JSON
(:func:`siting.render.html.js_json`) has ``<``, ``>`` and ``&`` written as ``\\u003c`` ...
so no data can close the ``<script>`` element it lives in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import Figure, MacroElement
from jinja2 import Template

from siting.core.errors import InputError, Problem
from siting.core.files import dataset_problem, path_problem
from siting.core.io import write_text_atomic
from siting.core.plan_files import (
    plan_layer_names,
    raise_plan_problems,
    read_manifest,
    read_plan_layer,
    read_plan_table,
)
from siting.render.html import (
    COORD_DECIMALS,
    MAP_CSS,
    clean_json_value,
    esc,
    feature_collection,
    geom_json,
    growth_zone_label,
    inline_leaflet,
    js_json,
    local_currency_of,
    popup_number,
    popup_rows,
    popup_usd,
    showing_currency,
)
from siting.render.report import PALETTE, onsite_words, power_cell_text

#: Largest side of a raster drawn as an image overlay [pixels].
RASTER_MAX_PX = 400
#: Colours of the first years: the report's series colours (colour-blind friendly first).
YEAR_PALETTE = PALETTE
#: Peak loading bins [%] and their colours (last: no reading).
LOADING_BINS = (
    (50.0, "#1a9850", "below 50 %"),
    (80.0, "#fee08b", "50 to 80 %"),
    (100.0, "#fc8d59", "80 to 100 %"),
    (math.inf, "#d73027", "above 100 %"),
)
NO_LOADING_COLOUR = "#999999"
#: Candidate colours: screened out, not economic.
CAND_COLOURS = {"screened_out": "#888888", "not_chosen": "#4a7fb5"}

#: Substation colours by voltage: (lowest kV of the class, colour, legend label), highest
#: class first; a bus without a voltage is drawn in :data:`NO_KV_COLOUR`.
KV_CLASSES = (
    (300.0, "#54278f", "300 kV and above"),
    (200.0, "#3182bd", "200 to 300 kV"),
    (100.0, "#31a354", "100 to 200 kV"),
    (0.0, "#bdbdbd", "below 100 kV"),
)
NO_KV_COLOUR = "#ffffff"
#: Thinning of large grids: at the zoom the map opens on, the highest-voltage buses up to
#: this many are drawn (the whole highest class at least) ...
BUS_DETAIL_0 = 300
#: ... one zoom level in, the classes up to this many buses; two levels in, every bus.
BUS_DETAIL_1 = 1000
#: Places: labels of the most populous places drawn at the opening zoom; one level in, up
#: to :data:`PLACE_DETAIL_1`; two levels in, every place.
PLACE_DETAIL_0 = 40
PLACE_DETAIL_1 = 150

OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>'


# --------------------------------------------------------------------------- reading


class MapInputs:
    """Everything the map reads from a plan folder, in EPSG:4326; ``notes`` says what was
    skipped (also read by :mod:`siting.studies.robustness` for its map's context)."""

    def __init__(self, plan_dir: Path):
        self.dir = plan_dir
        self.notes: list[str] = []
        self.water_sources: gpd.GeoDataFrame | None = None
        problems: list[Problem] = []
        # None only with a problem, raised below
        self.manifest: dict[str, Any] = (
            read_manifest(plan_dir / "manifest.json", problems, required=False) or {}
        )
        gpkg = plan_dir / "plan.gpkg"
        if path_problem(gpkg) == "file not found":
            raise InputError(f"{plan_dir}: no plan.gpkg; is this a plan folder?")
        sched = plan_dir / "schedule.csv"
        schedule = pd.DataFrame(columns=["site_id", "year", "it_mw"])  # none in the folder
        if path_problem(sched) != "file not found":
            table = read_plan_table(
                sched, problems, required=("site_id", "year", "it_mw"), empty_text_as_na=True
            )
            schedule = schedule if table is None else table  # None only with a problem
        self.onsite = self._optional_table(plan_dir / "onsite.csv", problems)
        self.relief = self._optional_table(plan_dir / "draw_relief.csv", problems)
        curt = plan_dir / "curtailment.csv"
        self.curtailment: pd.DataFrame | None = None  # none: no flexible MW curtailed
        if path_problem(curt) != "file not found":
            self.curtailment = read_plan_table(
                curt, problems, required=("site_id", "year", "curtailed_mw", "hours")
            )
        raise_plan_problems(problems)
        self.run: dict = self.manifest.get("scenario_as_run") or {}
        self.schedule: pd.DataFrame = schedule
        names = set(plan_layer_names(gpkg))
        self.layers = {n: self._to4326(read_plan_layer(gpkg, n)) for n in sorted(names)}
        self.years = self._years()

    @staticmethod
    def _optional_table(path: Path, problems: list[Problem]) -> pd.DataFrame:
        """A plan table that only some plans have (empty when absent or wrong)."""
        if path_problem(path) == "file not found":
            return pd.DataFrame()
        table = read_plan_table(path, problems, empty_text_as_na=True)
        return pd.DataFrame() if table is None else table

    @staticmethod
    def _to4326(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        if g.crs is not None and len(g):
            return g.to_crs("EPSG:4326")
        return g

    def _years(self) -> list[int]:
        ys = self.run.get("years")
        if ys:
            return [int(y) for y in ys]
        if len(self.schedule):
            return sorted(int(y) for y in self.schedule["year"].unique())
        for name in ("buses", "branches", "zones"):
            g = self.layers.get(name)
            if g is not None:
                ys = [int(c.rsplit("_", 1)[1]) for c in g.columns if re.search(r"_\d{4}$", c)]
                if ys:
                    return sorted(set(ys))
        return []

    def layer(self, name: str) -> gpd.GeoDataFrame | None:
        g = self.layers.get(name)
        return g if g is not None and len(g) else None

    def scenario_vector(self, kind: str, ref: Any) -> gpd.GeoDataFrame | None:
        """A vector layer the scenario named, if its file still exists."""
        if not ref:
            return None
        path = Path(ref.get("path", ""))
        why = dataset_problem(path, folder_ok=True)
        if why is not None:
            gone = why == "file not found"
            self.notes.append(f"{kind}: {path} {'is no longer there' if gone else why}; not drawn")
            return None
        layer = ref.get("layer")
        try:
            if layer is None and path.suffix.lower() == ".gpkg":
                names = list(gpd.list_layers(path)["name"])
                layer = kind if kind in names else (names[0] if len(names) == 1 else None)
                if layer is None:
                    self.notes.append(f"{kind}: no layer '{kind}' in {path}; not drawn")
                    return None
            g = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
        except Exception as e:  # noqa: BLE001  (a missing extra layer must not cost the map)
            self.notes.append(f"{kind}: could not read {path} ({type(e).__name__}); not drawn")
            return None
        if g.crs is None and self.run.get("crs"):
            g = g.set_crs(self.run["crs"])
        return self._to4326(g)

    def rasters(self) -> list[tuple[str, str, Path, int]]:
        """(key, title with unit, path, band) of the rasters the scenario named."""
        lay = self.run.get("layers") or {}
        out = []
        titles = {
            "dry_bulb_mean_c": "Climate: mean dry-bulb temperature [C]",
            "dry_bulb_p99_c": "Climate: design dry-bulb temperature [C]",
            "wet_bulb_mean_c": "Climate: mean wet-bulb temperature [C]",
            "wet_bulb_p99_c": "Climate: design wet-bulb temperature [C]",
        }
        for k, title in titles.items():
            ref = (lay.get("climate") or {}).get(k)
            if ref:
                out.append((k, title, Path(ref["path"]), int(ref.get("band", 1))))
        if lay.get("land_class"):
            r = lay["land_class"]
            out.append(("land_class", "Suitability: land class", Path(r["path"]), r.get("band", 1)))
        if lay.get("land_cost"):
            r = lay["land_cost"]
            out.append(("land_cost", "Suitability: land price [USD/ha]", Path(r["path"]), 1))
        return out


# --------------------------------------------------------------------------- layers


def _colour_of_year(years: list[int], y: Any) -> str:
    try:
        i = years.index(int(y))
    except (ValueError, TypeError):
        return "#555555"
    return YEAR_PALETTE[i % len(YEAR_PALETTE)]


def _flex_rows(
    s: pd.DataFrame, curtailment: pd.DataFrame | None, years: list[int]
) -> list[tuple[str, str]]:
    """A site's popup rows on flexible connection: firm / flexible IT MW by year and the
    hours a year it is curtailed (none when all its MW are firm). ``s``: its schedule rows."""
    if "flexible_it_mw" not in s.columns or not (s["flexible_it_mw"].astype(float) > 1e-6).any():
        return []
    by_year = ", ".join(
        f"{y}: {popup_number(r['firm_it_mw'], 0)} / {popup_number(r['flexible_it_mw'], 0)}"
        for y in years
        for _, r in s[s["year"] == y].iterrows()
    )
    rows = [("IT MW firm / flexible", by_year)]
    if curtailment is not None and len(curtailment):
        c = curtailment[curtailment["site_id"].astype(str).isin(s["site_id"].astype(str))]
        if len(c):
            per = c.groupby("year").agg(mw=("curtailed_mw", "max"), h=("hours", "sum"))
            rows.append(
                (
                    "curtailed (grid stress)",
                    ", ".join(
                        f"{y}: up to {popup_number(r['mw'], 0, 'MW')} for "
                        f"{popup_number(r['h'], 0, 'h')}"
                        for y, r in per.iterrows()
                    ),
                )
            )
    return rows


def _compute_rows(s: pd.DataFrame, years: list[int]) -> list[tuple[str, str]]:
    """A site's popup rows on compute (issue 22): the generations running, accelerators in
    service, IT MW in use / envelope and tokens per MWh [millions], by year (none without
    accelerators). ``s``: its schedule rows (with a compute section, their compute columns,
    :mod:`siting.results.compute_out`)."""
    if "accelerators" not in s.columns or not (s["accelerators"].astype(float) > 0.5).any():
        return []
    run = [
        r for y in years for _, r in s[s["year"] == y].iterrows() if float(r["accelerators"]) > 0.5
    ]

    def by_year(cell: Callable[[pd.Series], str]) -> str:
        return ", ".join(f"{int(r['year'])}: {cell(r)}" for r in run)

    def gens(r: pd.Series) -> str:
        g = r.get("generations")
        return esc(g) if isinstance(g, str) and g else "&ndash;"

    return [
        ("generations running", by_year(gens)),
        ("accelerators in service", by_year(lambda r: popup_number(r["accelerators"], 0))),
        (
            "IT MW in use / envelope",
            by_year(
                lambda r: f"{popup_number(r['it_used_mw'], 0)} / {popup_number(r['it_mw'], 0)}"
            ),
        ),
        (
            "tokens per MWh (millions)",
            by_year(lambda r: popup_number(float(r["tokens_per_mwh"]) / 1e6, 0)),
        ),
    ]


def _sites(inp: MapInputs) -> dict:
    sites = inp.layer("sites")
    years = inp.years
    sched = inp.schedule
    links = inp.layer("water_links")
    src_names: dict[str, str] = {}
    ws = inp.water_sources
    if ws is not None and "source_id" in ws.columns:
        src_names = {str(r["source_id"]): str(r.get("name") or "") for _, r in ws.iterrows()}

    onsite = onsite_words(inp.onsite, sched, inp.relief) if len(inp.onsite) else {}

    def props(row) -> dict:
        sid = str(row["site_id"])
        s = sched[sched["site_id"].astype(str) == sid]
        mw = [float(s.loc[s["year"] == y, "it_mw"].sum()) for y in years]
        name = row.get("name") or ""
        srcs = []
        if links is not None:
            lk = links[links["site_id"].astype(str) == sid]
            for src, grp in lk.groupby("source_id"):
                label = esc(src) + (
                    f" ({esc(src_names[str(src)])})" if src_names.get(str(src)) else ""
                )
                last = grp.sort_values("year").iloc[-1]
                srcs.append(
                    f"{label}: {popup_number(last['m3_per_day'], 0, 'm3/day')} in {int(last['year'])}"
                )
        costs = []
        for c in ("fixed_cost_usd", "land_cost_usd_per_ha"):
            if c in row and pd.notna(row[c]):
                costs.append(
                    ("opening cost", popup_usd(row[c]))
                    if c == "fixed_cost_usd"
                    else ("land price", popup_number(row[c], 0, "USD/ha"))
                )
        by_year = ", ".join(f"{y}: {popup_number(v, 0)}" for y, v in zip(years, mw, strict=True))
        title = f"<b>Site {esc(sid)}</b>" + (f" &ndash; {esc(name)}" if name else "")
        why = str(row.get("why_here") or "")
        why = why.split(": ", 1)[1] if why.startswith(f"{sid}: ") else why
        popup = title + popup_rows(
            [
                *([("why here", esc(why))] if why else []),
                ("IT MW by year", by_year),
                ("first year", esc(row.get("first_year"))),
                *(
                    [("first year of power", esc(power_cell_text(row)))]
                    if power_cell_text(row)
                    else []
                ),
                ("cooling", esc(row.get("cooling"))),
                (
                    "PUE annual / peak",
                    f"{popup_number(row.get('pue_annual'), 3)} / {popup_number(row.get('pue_peak'), 3)}",
                ),
                ("WUE annual", popup_number(row.get("wue_annual_l_per_kwh"), 2, "L/kWh")),
                ("water", "<br>".join(srcs) if srcs else "none (dry cooling or no source)"),
                ("bus", esc(row.get("bus_id"))),
                ("peak draw (final)", popup_number(row.get("peak_draw_mw_final"), 0, "MW")),
                *([("on-site generation", esc(onsite[sid]))] if sid in onsite else []),
                *_flex_rows(s, inp.curtailment, years),
                *_compute_rows(s, years),
                *costs,
            ]
        )
        popup += (
            f"<a class='siting-report-link' href='{esc(report_href(sid))}'>"
            "this site in the report &rarr;</a>"
        )
        return {
            "id": sid,  # (a key in the page's script, never written into the page as HTML)
            "mw": [clean_json_value(v) for v in mw],
            "c": _colour_of_year(years, row.get("first_year")),
            "p": popup,
            "t": f"{esc(sid)} {esc(name)}".strip(),
        }

    if sites is not None and len(sites):
        # a site is drawn as a circle at a point: grid cells and parcels are polygons
        sites = sites.set_geometry(sites.geometry.representative_point())
    return feature_collection(sites, props)


def report_href(site_id: Any) -> str:
    """The link from a site's popup to its section of ``report.html`` (not yet escaped).

    The anchor is ``site-<site_id>`` (the report's ``id``), percent-encoded as a URL
    fragment."""
    from urllib.parse import quote

    return "report.html#" + quote(f"site-{site_id}", safe="")


def _candidates(inp: MapInputs) -> dict:
    cand = inp.layer("candidates")
    reasons: list[str] = []
    index: dict[str, int] = {}
    feats = []
    if cand is not None:
        c = cand[cand["status"].astype(str) != "chosen"] if "status" in cand.columns else cand
        if len(c):
            pts = c.geometry.representative_point()
            xs = np.round(pts.x.to_numpy(), COORD_DECIMALS)
            ys = np.round(pts.y.to_numpy(), COORD_DECIMALS)
            ids = c["site_id"].astype(str).to_numpy() if "site_id" in c else c.index.astype(str)
            st = c["status"].astype(str).to_numpy() if "status" in c else ["not_chosen"] * len(c)
            # why it was not chosen: the sentence with its figures (siting.results.why), else
            # the screening reason alone (a plan written before that column)
            why = c["why_not"].fillna("").astype(str) if "why_not" in c else None
            reason = c["reason"].astype(str) if "reason" in c else None
            if why is not None and reason is not None:
                rs = np.where(why.to_numpy() != "", why.to_numpy(), reason.to_numpy())
            elif why is not None:
                rs = why.to_numpy()
            else:
                rs = reason.to_numpy() if reason is not None else np.full(len(c), "not chosen")
            for x, y, i, s, r in zip(xs, ys, ids, st, rs, strict=True):
                if not (math.isfinite(x) and math.isfinite(y)):
                    continue
                if r not in index:
                    index[r] = len(reasons)
                    reasons.append(esc(r))
                feats.append(
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
                        "properties": {
                            "i": esc(i),
                            "r": index[r],
                            "s": 1 if s == "screened_out" else 0,
                        },
                    }
                )
    return {"fc": {"type": "FeatureCollection", "features": feats}, "reasons": reasons}


def _branches(inp: MapInputs) -> dict:
    years = inp.years

    def props(row) -> dict:
        ld = [clean_json_value(row.get(f"loading_pct_{y}")) for y in years]
        popup = f"<b>Branch {esc(row.get('branch_id'))}</b>" + popup_rows(
            [
                ("from / to bus", f"{esc(row.get('from_bus'))} &ndash; {esc(row.get('to_bus'))}"),
                ("rating", popup_number(row.get("rating_mw"), 0, "MW")),
                (
                    "voltage",
                    popup_number(row.get("voltage_kv"), 0, "kV")
                    if pd.notna(row.get("voltage_kv"))
                    else "",
                ),
                (
                    "peak loading by year",
                    ", ".join(
                        f"{y}: {'n/a' if v is None else popup_number(v, 1, '%')}"
                        for y, v in zip(years, ld, strict=True)
                    ),
                ),
            ]
        )
        return {"l": ld, "p": popup, "t": f"branch {esc(row.get('branch_id'))}"}

    return feature_collection(inp.layer("branches"), props)


def _buses(inp: MapInputs) -> dict:
    years = inp.years

    def props(row) -> dict:
        mw = [clean_json_value(row.get(f"campus_peak_mw_{y}")) or 0.0 for y in years]
        name = row.get("name") or ""
        popup = (
            f"<b>Substation {esc(row.get('bus_id'))}</b>"
            + (f" {esc(name)}" if name else "")
            + popup_rows(
                [
                    (
                        "voltage",
                        popup_number(row.get("voltage_kv"), 0, "kV")
                        if pd.notna(row.get("voltage_kv"))
                        else "",
                    ),
                    (
                        "campus peak draw by year",
                        ", ".join(
                            f"{y}: {popup_number(v, 0, 'MW')}"
                            for y, v in zip(years, mw, strict=True)
                        ),
                    ),
                    (
                        "substation headroom",
                        popup_number(row.get("substation_headroom_mw"), 0, "MW")
                        if pd.notna(row.get("substation_headroom_mw"))
                        else "",
                    ),
                ]
            )
        )
        return {
            "mw": mw,
            "p": popup,
            "t": f"bus {esc(row.get('bus_id'))} {esc(name)}".strip(),
            "k": kv_colour(row.get("voltage_kv")),
            "dz": levels.get(str(row.get("bus_id")), 0),
        }

    buses = inp.layer("buses")
    levels: dict[str, int] = {}
    if buses is not None:
        kv = buses["voltage_kv"] if "voltage_kv" in buses else pd.Series(np.nan, buses.index)
        draw = [c for c in buses.columns if c.startswith("campus_peak_mw_")]
        campus = buses[draw].fillna(0.0).gt(0.0).any(axis=1) if draw else kv.isna() & False
        dz = bus_detail_levels(pd.to_numeric(kv, errors="coerce").to_numpy(), campus.to_numpy())
        levels = dict(zip(buses["bus_id"].astype(str), dz, strict=True))
    return feature_collection(buses, props)


def kv_colour(kv: Any) -> str:
    """The colour of a substation of ``kv`` [kV] (:data:`KV_CLASSES`; none: white)."""
    try:
        v = float(kv)
    except (TypeError, ValueError):
        return NO_KV_COLOUR
    if not math.isfinite(v):
        return NO_KV_COLOUR
    for lo, colour, _ in KV_CLASSES:
        if v >= lo:
            return colour
    return KV_CLASSES[-1][1]


def bus_detail_levels(voltage_kv: np.ndarray, campus: np.ndarray) -> list[int]:
    """How many zoom levels in from the opening view each bus is drawn (0, 1 or 2).

    A grid of at most :data:`BUS_DETAIL_0` buses is drawn whole (all 0). A larger one is
    thinned by voltage: whole voltage levels, highest first, get 0 while the buses drawn
    stay within :data:`BUS_DETAIL_0` (the highest level always), 1 within
    :data:`BUS_DETAIL_1`, the rest 2; a bus without a voltage gets 2. A bus a campus
    connects to (``campus``) always gets 0.

    Parameters
    ----------
    voltage_kv
        Each bus's voltage [kV] (NaN: unknown).
    campus
        Whether a campus draws power at the bus in some year.

    Returns
    -------
    list of int
        One level per bus, in the order given.
    """
    kv = np.asarray(voltage_kv, dtype=float)
    n = len(kv)
    if n <= BUS_DETAIL_0:
        return [0] * n
    out = np.full(n, 2, dtype=int)
    known = np.isfinite(kv)
    seen = 0
    for i, level in enumerate(sorted(set(kv[known].tolist()), reverse=True)):
        at = known & (kv == level)
        seen += int(at.sum())
        out[at] = 0 if (seen <= BUS_DETAIL_0 or i == 0) else (1 if seen <= BUS_DETAIL_1 else 2)
    out[np.asarray(campus, dtype=bool)] = 0
    return [int(x) for x in out]


def place_detail_levels(population: np.ndarray) -> list[int]:
    """How many zoom levels in from the opening view each place's label is drawn: the
    :data:`PLACE_DETAIL_0` most populous at 0, the next up to :data:`PLACE_DETAIL_1` at 1,
    the rest at 2 (ties in the order given; an unknown population counts as 0 people).

    Parameters
    ----------
    population
        Each place's population [people].

    Returns
    -------
    list of int
        One level per place, in the order given.
    """
    pop = np.nan_to_num(np.asarray(population, dtype=float), nan=0.0)
    rank = np.empty(len(pop), dtype=int)
    rank[np.argsort(-pop, kind="stable")] = np.arange(len(pop))
    return [0 if r < PLACE_DETAIL_0 else (1 if r < PLACE_DETAIL_1 else 2) for r in rank]


def place_size(population: Any) -> int:
    """A place's size class 0 to 3 (label 10, 12, 14, 16 px): 0 below 10,000 people (or
    unknown), 1 from 10,000, 2 from 100,000, 3 from 1,000,000 [people]."""
    try:
        v = float(population)
    except (TypeError, ValueError):
        return 0
    if not math.isfinite(v) or v < 1e4:
        return 0
    return min(3, int(math.log10(v)) - 3)


def _places(places: gpd.GeoDataFrame | None) -> dict:
    """The places as labelled points: name, size class by population, detail level."""
    if places is None or not len(places):
        return feature_collection(None, lambda r: {})
    pop_col = places["population"] if "population" in places else pd.Series(np.nan, places.index)
    pop = pd.to_numeric(pop_col, errors="coerce")
    order = np.argsort(-np.nan_to_num(pop.to_numpy(), nan=0.0), kind="stable")
    places = places.assign(_dz=place_detail_levels(pop.to_numpy()), _pop=pop).iloc[order]
    generic = _generic_props("Place")

    def props(row) -> dict:
        name = row.get("name")
        name = name if isinstance(name, str) and name else row.get("place_id")
        out = generic(row.drop(labels=["_dz", "_pop"]))
        out.update({"n": esc(name), "s": place_size(row["_pop"]), "dz": int(row["_dz"])})
        return out

    return feature_collection(places, props)


def _links(inp: MapInputs) -> dict:
    def props(row) -> dict:
        popup = (
            f"<b>Pipeline {esc(row.get('source_id'))} &rarr; {esc(row.get('site_id'))}</b>"
            + popup_rows(
                [
                    ("year", esc(row.get("year"))),
                    ("water", popup_number(row.get("m3_per_day"), 0, "m3/day")),
                    ("length", popup_number(row.get("distance_km"), 1, "km")),
                ]
            )
        )
        return {"y": int(row.get("year")), "p": popup}

    return feature_collection(inp.layer("water_links"), props)


def _generic(gdf: gpd.GeoDataFrame | None, kind: str, id_col: str | None = None) -> dict:
    """Any other layer: popup with its non-geometry columns (escaped)."""
    return feature_collection(gdf, _generic_props(kind, id_col))


def _generic_props(kind: str, id_col: str | None = None) -> Any:
    """The properties of a feature of any other layer: its popup and tooltip."""

    def props(row) -> dict:
        pairs = [
            (esc(c), esc(row[c]) if not isinstance(row[c], float) else popup_number(row[c], 2))
            for c in row.index
            if c != "geometry" and not (isinstance(row[c], float) and math.isnan(row[c]))
        ][:14]
        head = esc(row.get(id_col)) if id_col and id_col in row else esc(row.get("name"))
        return {"p": f"<b>{esc(kind)} {head}</b>" + popup_rows(pairs), "t": f"{esc(kind)} {head}"}

    return props


def _zones(inp: MapInputs) -> dict:
    years = inp.years

    def props(row) -> dict:
        by_year = ", ".join(
            f"{y}: {popup_number(row.get(f'it_mw_{y}'), 0)}" for y in years if f"it_mw_{y}" in row
        )
        gz = esc(growth_zone_label(row.get("zone_id")))
        popup = f"<b>Growth zone {gz}</b> {esc(row.get('name'))}" + popup_rows(
            [
                ("sites", esc(row.get("site_ids"))),
                ("IT MW by year", by_year),
                ("IT MW final", popup_number(row.get("it_mw_final"), 0, "MW")),
                ("first year", esc(row.get("first_year"))),
                ("cooling", esc(row.get("cooling_mix"))),
                ("water sources", esc(row.get("water_sources"))),
                ("water (final)", popup_number(row.get("water_m3_per_day_final"), 0, "m3/day")),
                ("buses", esc(row.get("bus_ids"))),
                ("grid upgrades", esc(row.get("upgrades"))),
                (
                    "upgrades cost",
                    popup_usd(row.get("upgrades_cost_usd")) if "upgrades_cost_usd" in row else "",
                ),
                ("capex (undiscounted)", popup_usd(row.get("capex_usd"))),
            ]
        )
        return {"p": popup, "t": f"growth zone {gz} {esc(row.get('name'))}"}

    return feature_collection(inp.layer("zones"), props)


def outline_layer(inp: MapInputs, boundary: gpd.GeoDataFrame | None) -> dict[str, Any]:
    """The region outline as a FeatureCollection: the ``boundary`` layer's shapes, else the
    convex hull of the plan's own layers grown by 0.05 [degrees] (empty without any)."""
    if boundary is not None and len(boundary):
        return feature_collection(boundary[["geometry"]], lambda r: {})
    import shapely

    geoms = [g.geometry for g in inp.layers.values() if len(g) and g.crs is not None]
    if not geoms:
        return {"type": "FeatureCollection", "features": []}
    hull = shapely.union_all(
        [shapely.convex_hull(shapely.union_all(gs.to_numpy())) for gs in geoms]
    )
    hull = shapely.convex_hull(hull).buffer(0.05)
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": geom_json(hull), "properties": {}}],
    }


def _raster_overlays(inp: MapInputs) -> list[dict]:
    out = []
    lc = (inp.run.get("layers") or {}).get("land_class") or {}
    for key, title, path, band in inp.rasters():
        why = dataset_problem(path)  # a FIFO (or one beside it) would hang GDAL's open
        if why is not None:
            gone = why == "file not found"
            inp.notes.append(f"{title}: {path} {'is no longer there' if gone else why}; not drawn")
            continue
        try:
            if key == "land_class":
                out.append(
                    _class_raster_png(
                        key,
                        title,
                        path,
                        int(band),
                        class_names(lc.get("class_names")),
                        {int(c) for c in lc.get("exclude_classes") or []},
                    )
                )
            else:
                out.append(_raster_png(key, title, path, int(band)))
        except Exception as e:  # noqa: BLE001
            inp.notes.append(f"{title}: could not draw {path} ({type(e).__name__}); skipped")
    return out


#: Colours of the class codes of a categorical raster, in the order of the codes present
#: (Okabe-Ito, then Tableau; colour-blind friendly first).
CLASS_COLOURS = (
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#999999",
    "#8c564b",
    "#17becf",
    "#bcbd22",
    "#1f77b4",
)

#: Most class codes a categorical raster lists in the legend one by one.
MAX_CLASSES_LISTED = 24


def class_names(raw: Any) -> dict[int, str]:
    """The scenario's ``land_class.class_names`` as ``{code: name}`` (JSON keys are text);
    {} when absent or unreadable."""
    out: dict[int, str] = {}
    if isinstance(raw, dict):
        for k, v in raw.items():
            try:
                out[int(k)] = str(v)
            except (TypeError, ValueError):
                continue
    return out


def class_label(code: int, names: dict[int, str]) -> str:
    """A class code as people read it: ``4 urban`` with a name, else ``class 4``."""
    return f"{code} {names[code]}" if code in names else f"class {code}"


def _class_raster_png(
    key: str, title: str, path: Path, band: int, names: dict[int, str], excluded: set[int]
) -> dict:
    """A categorical (integer class code) raster as an image overlay: one colour per code
    present (nearest-neighbour reading, no ramp), and ``classes``: ``[code, label, colour,
    excluded]`` for the legend (``label``: :func:`class_label`)."""
    import rasterio
    from folium.utilities import image_to_url
    from rasterio.enums import Resampling
    from rasterio.warp import transform_bounds

    with rasterio.open(path) as src:
        scale = max(src.width, src.height) / RASTER_MAX_PX
        h = max(1, int(round(src.height / max(scale, 1.0))))
        w = max(1, int(round(src.width / max(scale, 1.0))))
        a = src.read(band, out_shape=(h, w), masked=True, resampling=Resampling.nearest)
        w_, s_, e_, n_ = (
            transform_bounds(src.crs, "EPSG:4326", *src.bounds) if src.crs else src.bounds
        )
    data = a.filled(0).astype(np.int64)
    valid = ~np.ma.getmaskarray(a)
    codes = [int(c) for c in np.unique(data[valid])]
    rgba = np.zeros((*data.shape, 4), dtype=np.uint8)
    classes = []
    for i, code in enumerate(codes):
        colour = CLASS_COLOURS[i % len(CLASS_COLOURS)]
        rgb = [int(colour[j : j + 2], 16) for j in (1, 3, 5)]
        rgba[valid & (data == code)] = [*rgb, 200]
        classes.append([code, esc(class_label(code, names)), colour, code in excluded])
    return {
        "key": key,
        "name": esc(title),
        "url": image_to_url(rgba, origin="upper"),
        "bounds": [[round(s_, 6), round(w_, 6)], [round(n_, 6), round(e_, 6)]],
        "lo": clean_json_value(float(min(codes)) if codes else 0.0),
        "hi": clean_json_value(float(max(codes)) if codes else 0.0),
        "classes": classes,
    }


def _raster_png(key: str, title: str, path: Path, band: int) -> dict:
    import rasterio
    from folium.utilities import image_to_url
    from rasterio.warp import transform_bounds

    with rasterio.open(path) as src:
        scale = max(src.width, src.height) / RASTER_MAX_PX
        h = max(1, int(round(src.height / max(scale, 1.0))))
        w = max(1, int(round(src.width / max(scale, 1.0))))
        a = src.read(band, out_shape=(h, w), masked=True).astype(float)
        w_, s_, e_, n_ = (
            transform_bounds(src.crs, "EPSG:4326", *src.bounds) if src.crs else src.bounds
        )
    data = a.filled(np.nan)
    valid = np.isfinite(data)
    lo, hi = (float(np.nanmin(data)), float(np.nanmax(data))) if valid.any() else (0.0, 1.0)
    span = hi - lo if hi > lo else 1.0
    t = np.where(valid, (data - lo) / span, 0.0)
    # viridis-like ramp: dark blue -> teal -> yellow
    stops = np.array(
        [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], float
    )
    pos = t * (len(stops) - 1)
    i0 = np.clip(np.floor(pos).astype(int), 0, len(stops) - 2)
    f = (pos - i0)[..., None]
    rgb = stops[i0] * (1 - f) + stops[i0 + 1] * f
    rgba = np.dstack([rgb, np.where(valid, 200.0, 0.0)]).astype(np.uint8)
    url = image_to_url(rgba, origin="upper")
    return {
        "key": key,
        "name": esc(title),
        "url": url,
        "bounds": [[round(s_, 6), round(w_, 6)], [round(n_, 6), round(e_, 6)]],
        "lo": clean_json_value(lo),
        "hi": clean_json_value(hi),
    }


# --------------------------------------------------------------------------- the page


_JS = r"""
(function () {
  var map = {{ this._parent.get_name() }};
  var D = {{ this.data }};
  var years = D.years, yi = years.length - 1;
  var svg = L.svg(), canvas = L.canvas({padding: 0.3});
  var overlays = {}, base = {};
  // a phone or a narrow window: controls folded, no minimap (see MAP_CSS's media query)
  var narrow = window.matchMedia("(max-width: 600px)").matches;
  function pop(layer, f) {
    // a tall popup scrolls inside itself (at most 60 % of the map's height)
    if (f.properties.p) layer.bindPopup(f.properties.p, {maxWidth: narrow ? 280 : 420,
      maxHeight: Math.max(160, Math.round(0.6 * map.getSize().y))});
    if (f.properties.t) layer.bindTooltip(f.properties.t, {sticky: true});
  }
  function add(name, layer, on) { overlays[name] = layer; if (on) layer.addTo(map); return layer; }

  // base layers: the map drawn from the layers (offline, the default); web tiles only as a
  // base the reader can switch on: a tile layer makes no request until it is on the map
  var drawn = L.layerGroup().addTo(map);
  base["Drawn from the layers (offline)"] = drawn;
  if (D.tiles) {
    base["OpenStreetMap tiles (online)"] = L.tileLayer(D.tiles.url,
      {attribution: D.tiles.attribution, maxZoom: 19, className: "siting-tiles"});
  }

  var outline = add("Region outline", L.geoJSON(D.outline, {renderer: svg, interactive: false,
    style: {color: "#333", weight: 2, fill: true, fillColor: "#f4f1ea", fillOpacity: 0.35,
            className: "siting-outline"}}), true);

  D.rasters.forEach(function (r) {
    add(r.name, L.imageOverlay(r.url, r.bounds, {opacity: 0.6, className: "siting-raster"}), false);
  });
  function poly(name, fc, style, on, cls) {
    if (!fc.features.length) return;
    style.className = cls;
    add(name, L.geoJSON(fc, {renderer: svg, style: style, onEachFeature: function (f, l) { pop(l, f); },
      pointToLayer: function (f, ll) { return L.circleMarker(ll, {radius: 3, renderer: svg, className: cls}); }}), on);
  }
  poly("Open water", D.water, {color: "#4a90c2", weight: 1, fillColor: "#a6cee3", fillOpacity: 0.8}, true, "siting-water");
  poly("Exclusions", D.exclusions, {color: "#b2182b", weight: 1, fillOpacity: 0.15}, false, "siting-exclusion");
  poly("Policy zones", D.policy_zones, {color: "#7b3294", weight: 1, dashArray: "4 3", fillOpacity: 0.1}, false, "siting-policy");
  poly("Growth zones", D.zones, {color: "#e66101", weight: 2, fillOpacity: 0.15}, true, "siting-zone");

  // candidates not chosen: one canvas layer (fast for tens of thousands)
  if (D.candidates.fc.features.length) {
    var reasons = D.candidates.reasons;
    add("Candidates not chosen", L.geoJSON(D.candidates.fc, {
      pointToLayer: function (f, ll) {
        var s = f.properties.s;
        return L.circleMarker(ll, {renderer: canvas, radius: 2.5, stroke: false,
          fillColor: s ? D.cand_colours.screened_out : D.cand_colours.not_chosen, fillOpacity: 0.35});
      },
      onEachFeature: function (f, l) {
        l.bindPopup(function () { return "<b>Candidate " + f.properties.i + "</b><br>" + reasons[f.properties.r]; });
      }}), true);
  }

  // branches coloured by peak loading of the year shown
  function loadColour(v) {
    if (v === null || v === undefined) return D.no_loading;
    for (var i = 0; i < D.loading_bins.length; i++) if (v < D.loading_bins[i][0]) return D.loading_bins[i][1];
    return D.loading_bins[D.loading_bins.length - 1][1];
  }
  var branches = null;
  if (D.branches.features.length) {
    branches = add("Branches (peak loading)", L.geoJSON(D.branches, {renderer: svg,
      style: function (f) { return {color: loadColour(f.properties.l[yi]), weight: 3, className: "siting-branch"}; },
      onEachFeature: function (f, l) { pop(l, f); }}), true);
  }
  var buses = D.buses.features.length ? add("Substations", L.featureGroup(), true) : null;
  var sources = null;
  if (D.sources.features.length) {
    sources = add("Water sources", L.geoJSON(D.sources, {
      pointToLayer: function (f, ll) { return L.circleMarker(ll, {renderer: svg, radius: 5, color: "#08519c",
        fillColor: "#6baed6", fillOpacity: 0.9, weight: 1, className: "siting-source"}); },
      onEachFeature: function (f, l) { pop(l, f); }}), true);
  }
  var links = D.links.features.length ? add("Water pipelines", L.featureGroup(), true) : null;
  // places: a dot sized by population and a permanent label (10 to 16 px), the most
  // populous first; thinned by zoom like the substations
  var places = D.places.features.length ? add("Places", L.featureGroup(), true) : null;
  var placeMarkers = D.places.features.map(function (f) {
    var s = f.properties.s;
    var m = L.circleMarker(ll(f), {renderer: svg, radius: 2 + 1.2 * s, color: "#333", weight: 1,
      fillColor: "#fff", fillOpacity: 1, className: "siting-place"});
    if (f.properties.p) m.bindPopup(f.properties.p, {maxWidth: 420});
    m.bindTooltip(f.properties.n, {permanent: true, direction: "right", offset: [4, 0],
      className: "siting-place-label siting-pl" + s, interactive: false});
    return m;
  });
  var sites = add("Chosen sites", L.featureGroup(), true);

  var maxMw = 1;
  D.sites.features.forEach(function (f) { f.properties.mw.forEach(function (v) { if (v > maxMw) maxMw = v; }); });
  var maxBus = 1;
  D.buses.features.forEach(function (f) { f.properties.mw.forEach(function (v) { if (v > maxBus) maxBus = v; }); });
  function ll(f) { var c = f.geometry.coordinates; return [c[1], c[0]]; }

  // detail by zoom: a feature with properties.dz = k is drawn from k levels in from the
  // opening view (z0); large grids show their highest-voltage buses first
  var z0 = null;
  function detail() { return z0 === null ? 0 : map.getZoom() - z0; }
  var siteMarkers = {};
  function drawBuses() {
    if (!buses) return;
    buses.clearLayers();
    var dz = detail();
    D.buses.features.forEach(function (f) {
      if ((f.properties.dz || 0) > dz) return;
      var mw = f.properties.mw[yi] || 0;
      var m = L.circleMarker(ll(f), {renderer: svg, radius: 3 + 8 * Math.sqrt(mw / maxBus),
        color: mw > 0 ? "#000" : "#444", weight: mw > 0 ? 2.5 : 0.8, fillColor: f.properties.k,
        fillOpacity: 0.9, className: "siting-bus"});
      pop(m, f); m.addTo(buses);
    });
  }
  function drawPlaces() {
    if (!places) return;
    var dz = detail();
    placeMarkers.forEach(function (m, i) {
      var on = (D.places.features[i].properties.dz || 0) <= dz;
      if (on && !places.hasLayer(m)) m.addTo(places);
      if (!on && places.hasLayer(m)) places.removeLayer(m);
    });
  }

  function setYear(i) {
    yi = i;
    sites.clearLayers(); siteMarkers = {};
    D.sites.features.forEach(function (f) {
      var mw = f.properties.mw[i];
      if (!(mw > 0)) return;
      var m = L.circleMarker(ll(f), {renderer: svg, radius: 5 + 15 * Math.sqrt(mw / maxMw),
        color: "#222", weight: 1.5, fillColor: f.properties.c, fillOpacity: 0.85, className: "siting-site"});
      pop(m, f); m.addTo(sites); siteMarkers[f.properties.id] = m;
    });
    drawBuses();
    if (links) {
      links.clearLayers();
      D.links.features.forEach(function (f) {
        if (f.properties.y !== years[i]) return;
        var l = L.geoJSON(f, {renderer: svg, style: {color: "#2171b5", weight: 2, dashArray: "5 4", className: "siting-link"}});
        l.eachLayer(function (x) { pop(x, f); }); l.addTo(links);
      });
    }
    if (branches) branches.setStyle(function (f) { return {color: loadColour(f.properties.l[i])}; });
    var lab = document.getElementById("siting-year-label");
    if (lab) lab.textContent = years.length ? String(years[i]) : "";
    window.sitingYear = years[i];
  }

  // the layer control: open on a wide screen, folded to its button on a narrow one
  var layersCtl = L.control.layers(base, overlays, {collapsed: narrow, position: "topright"}).addTo(map);

  // year control
  if (years.length) {
    var yc = L.control({position: "bottomleft"});
    yc.onAdd = function () {
      var div = L.DomUtil.create("div", "siting-box siting-yearbox");
      div.innerHTML = "<b>Year</b> <span id='siting-year-label'></span><br>" +
        "<input type='range' id='siting-year' min='0' max='" + (years.length - 1) + "' step='1' value='" + yi + "'>" +
        "<div class='siting-ticks'>" + years[0] + " &ndash; " + years[years.length - 1] + "</div>";
      L.DomEvent.disableClickPropagation(div); L.DomEvent.disableScrollPropagation(div);
      div.querySelector("input").addEventListener("input", function (e) { setYear(parseInt(e.target.value, 10)); });
      return div;
    };
    yc.addTo(map);
  }
  setYear(yi);

  // legend (built in Python, escaped there): a <details> the reader folds; open on a wide
  // screen, folded on a narrow one; fitted below the layer control (fitControls)
  var lg = L.control({position: "bottomright"});
  var legend = null;
  lg.onAdd = function () {
    var div = L.DomUtil.create("div", "siting-legend-ctl");
    div.innerHTML = "<details class='siting-box siting-legend'" + (narrow ? "" : " open") +
      "><summary>Legend</summary><div class='siting-legend-body'>" + D.legend + "</div></details>";
    legend = div.querySelector("details");
    L.DomEvent.disableClickPropagation(div); L.DomEvent.disableScrollPropagation(div);
    return div;
  };
  lg.addTo(map);

  // legend and layer control never overlap: the legend's body gets the height between the
  // layer control's foot and the legend's own foot, and as many columns (200 px each) as
  // its sections need in that height, as far as the width left of it allows (beside the
  // year control); on a narrow screen, one column, only one of legend and layer control
  // open at a time, and an open legend sits above the year control
  var COL_PX = 200, GAP_PX = 14;
  function showSections() {
    if (!legend) return;
    legend.querySelectorAll(".lg").forEach(function (el) {
      var k = el.getAttribute("data-layer");
      el.style.display = (!k || !overlays[k] || map.hasLayer(overlays[k])) ? "" : "none";
    });
  }
  function fitControls() {
    if (!legend) return;
    var body = legend.querySelector(".siting-legend-body");
    var ctl = lg.getContainer(), yearbox = document.querySelector(".siting-yearbox");
    var mapR = map.getContainer().getBoundingClientRect();
    ctl.style.marginBottom = "";
    body.style.maxHeight = "none"; body.style.columnCount = "1";
    body.style.width = (narrow ? Math.min(300, mapR.width - 40) : COL_PX) + "px";
    var natural = body.scrollHeight;
    if (narrow && legend.open && yearbox) {
      var yb = yearbox.getBoundingClientRect(), lb = ctl.getBoundingClientRect();
      ctl.style.marginBottom = (lb.bottom - yb.top + 20) + "px";
    }
    var top = layersCtl.getContainer().getBoundingClientRect().bottom;
    var foot = ctl.getBoundingClientRect().bottom;
    var summary = legend.querySelector("summary").getBoundingClientRect().height;
    var room = foot - top - summary - 30;  // 30 px: the box's padding and a gap
    if (!narrow && room > 0) {
      var left = yearbox ? yearbox.getBoundingClientRect().right : mapR.left;
      var maxCols = Math.max(1, Math.floor((mapR.right - left - 40 + GAP_PX) / (COL_PX + GAP_PX)));
      var cols = Math.min(maxCols, Math.max(1, Math.ceil(natural / room)));
      body.style.maxHeight = room + "px";
      for (;;) {  // sections are kept whole: add a column while they spill sideways
        body.style.columnCount = String(cols);
        body.style.width = (cols * COL_PX + (cols - 1) * GAP_PX) + "px";
        if (cols >= maxCols || body.scrollWidth <= body.clientWidth + 1) break;
        cols += 1;
      }
    }
    body.style.maxHeight = Math.max(room, 0) + "px";
    if (room < 40 && legend.open) { legend.open = false; }
  }
  // a popup never hides under the legend or another control at the foot of the map: an
  // open legend it meets folds (the reader can open it again), and the map moves the
  // popup up clear of whatever bottom control it still meets
  function clash(a, b) {
    return a.right > b.left && a.left < b.right && a.bottom > b.top && a.top < b.bottom;
  }
  function clearOfControls(popup) {
    var el = popup.getElement();
    if (!el || !map.hasLayer(popup)) return;
    if (legend && legend.open && clash(el.getBoundingClientRect(), lg.getContainer().getBoundingClientRect())) {
      legend.open = false; fitControls();
    }
    var p = el.getBoundingClientRect(), dy = 0;
    document.querySelectorAll(".leaflet-bottom .leaflet-control").forEach(function (c) {
      var r = c.getBoundingClientRect();
      if (r.width && clash(p, r)) dy = Math.max(dy, p.bottom - r.top + 10);
    });
    if (dy > 0) map.panBy([0, dy], {animate: false});
  }
  map.on("popupopen", function (e) {
    clearOfControls(e.popup);  // and again where Leaflet's own pan to the popup ends
    map.once("moveend", function () { clearOfControls(e.popup); });
  });
  map.on("overlayadd overlayremove", function () { showSections(); fitControls(); });
  showSections();
  if (legend) {
    legend.addEventListener("toggle", function () {
      if (narrow && legend.open) layersCtl.collapse();
      fitControls();
    });
  }
  var expand = layersCtl.expand;
  layersCtl.expand = function () {
    if (narrow && legend && legend.open) { legend.open = false; }
    var r = expand.apply(this, arguments); fitControls(); return r;
  };
  var collapse = layersCtl.collapse;
  layersCtl.collapse = function () { var r = collapse.apply(this, arguments); fitControls(); return r; };
  map.on("resize baselayerchange", fitControls);

  // full screen (the Fullscreen API; no plugin needed)
  var fs = L.control({position: "topleft"});
  fs.onAdd = function () {
    var div = L.DomUtil.create("div", "leaflet-bar");
    var a = L.DomUtil.create("a", "siting-fullscreen", div);
    a.href = "#"; a.title = "Full screen"; a.setAttribute("role", "button"); a.innerHTML = "<svg width='14' height='14' viewBox='0 0 14 14' style='vertical-align:middle'>" +
      "<path d='M1 5V1h4M9 1h4v4M13 9v4H9M5 13H1V9' fill='none' stroke='#333' stroke-width='2'/></svg>";
    L.DomEvent.on(a, "click", function (e) {
      L.DomEvent.preventDefault(e);
      var el = map.getContainer();
      if (document.fullscreenElement) { document.exitFullscreen(); }
      else if (el.requestFullscreen) { el.requestFullscreen(); }
    });
    return div;
  };
  fs.addTo(map);
  document.addEventListener("fullscreenchange", function () { map.invalidateSize(); });

  // minimap (wide screens): the region outline and the current view, from the page's data
  var syncMini = function () {};
  if (!narrow) {
    var mm = L.control({position: "topleft"});
    mm.onAdd = function () {
      var div = L.DomUtil.create("div", "siting-minimap");
      L.DomEvent.disableClickPropagation(div);
      return div;
    };
    mm.addTo(map);
    var mini = L.map(mm.getContainer(), {attributionControl: false, zoomControl: false, dragging: false,
      scrollWheelZoom: false, doubleClickZoom: false, boxZoom: false, keyboard: false, touchZoom: false});
    mini.setView(map.getCenter(), Math.max(map.getZoom() - 4, 0), {animate: false});
    var miniOutline = L.geoJSON(D.outline, {style: {color: "#333", weight: 1, fillOpacity: 0.2}, interactive: false}).addTo(mini);
    var view = L.rectangle(map.getBounds(), {color: "#d73027", weight: 1, fillOpacity: 0.1, interactive: false}).addTo(mini);
    syncMini = function () {
      view.setBounds(map.getBounds());
      var b = miniOutline.getBounds();
      if (b.isValid()) mini.fitBounds(b.extend(map.getBounds()), {animate: false});
    };
  }
  map.on("moveend zoomend", function () { syncMini(); });

  if (D.bounds) map.fitBounds(D.bounds, {padding: [20, 20], animate: false});
  z0 = map.getZoom();
  map.on("zoomend", function () { drawBuses(); drawPlaces(); });
  drawBuses(); drawPlaces();
  syncMini();
  fitControls();

  // report.html links here as index.html#site-<id>: open that site's popup
  function showSite() {
    var h = decodeURIComponent((window.location.hash || "").replace(/^#/, ""));
    if (h.indexOf("site-") !== 0) return;
    var m = siteMarkers[h.slice(5)];
    if (!m) {  // not in service in the year shown: show the site's first year
      for (var j = 0; j < years.length && !m; j++) { setYear(j); m = siteMarkers[h.slice(5)]; }
      var sl = document.getElementById("siting-year"); if (sl) sl.value = String(yi);
    }
    if (m) { map.setView(m.getLatLng(), Math.max(map.getZoom(), z0 + 1)); m.openPopup(); }
  }
  window.addEventListener("hashchange", showSite);
  showSite();
  window.sitingMap = map; window.sitingSetYear = setYear; window.sitingLayers = layersCtl;
  window.sitingFitControls = fitControls; window.sitingReady = true;
})();
"""


class _Layers(MacroElement):
    _template = Template("{% macro script(this, kwargs) %}" + _JS + "{% endmacro %}")

    def __init__(self, data: str):
        super().__init__()
        self._name = "SitingLayers"
        self.data = data


def _raster_legend(r: dict) -> str:
    """A raster overlay's legend entry (escaped here): each class code with its name and
    colour for a categorical raster (``r["classes"]``), else the continuous ramp's range."""
    classes = r.get("classes")
    if classes is None:
        return (
            f"continuous colour ramp (dark blue to yellow), {popup_number(r['lo'], 1)} to "
            f"{popup_number(r['hi'], 1)}"
        )
    if not classes:
        return "no class codes in the raster's extent"
    items = [
        f"<i style='background:{c}'></i>{label}{' (excluded)' if ex else ''}<br>"
        for _, label, c, ex in classes[:MAX_CLASSES_LISTED]
    ]
    more = len(classes) - MAX_CLASSES_LISTED
    if more > 0:
        items.append(f"and {more} more class codes<br>")
    return "class codes:<br>" + "".join(items)


def _legend(inp: MapInputs, rasters: list[dict], n_cand: int, places: dict, water: dict) -> str:
    """The legend's sections, escaped here: each a ``<div class='lg'>`` kept whole in the
    legend's columns, its ``data-layer`` the overlay it explains (shown only while that
    overlay is on; empty: always shown)."""
    years = inp.years
    sections: list[tuple[str, str]] = []  # (the overlay it explains, or "": always, html)
    parts = ["<h4>Chosen sites: first year</h4>"]
    first = set()
    s = inp.layer("sites")
    if s is not None and "first_year" in s:
        first = {int(y) for y in s["first_year"].dropna()}
    for y in years:
        if not first or y in first:
            parts.append(
                f"<i class='dot' style='background:{_colour_of_year(years, y)}'></i>{y}<br>"
            )
    parts.append("<span>circle area: IT MW in the year shown; the popup links to the report</span>")
    sections.append(("Chosen sites", "".join(parts)))
    if inp.layer("branches") is not None:
        parts = ["<h4>Branch peak loading [% of rating]</h4>"]
        for _, col, label in LOADING_BINS:
            parts.append(f"<i style='background:{col}'></i>{label}<br>")
        parts.append(f"<i style='background:{NO_LOADING_COLOUR}'></i>no reading")
        sections.append(("Branches (peak loading)", "".join(parts)))
    buses = inp.layer("buses")
    if buses is not None:
        parts = ["<h4>Substations by voltage</h4>"]
        kv = pd.to_numeric(buses.get("voltage_kv", pd.Series(dtype=float)), errors="coerce")
        for lo, col, label in KV_CLASSES:
            hi = min((c for c, _, _ in KV_CLASSES if c > lo), default=math.inf)
            if ((kv >= lo) & (kv < hi)).any():
                parts.append(f"<i class='dot' style='background:{col}'></i>{label}<br>")
        if kv.isna().any():
            parts.append(
                f"<i class='dot' style='background:{NO_KV_COLOUR};border:1px solid #444'></i>"
                "voltage not given<br>"
            )
        parts.append("size: campus peak draw [MW]; thick black ring: campuses connected")
        if len(buses) > BUS_DETAIL_0:
            parts.append(
                f"<br>{len(buses):,} buses: the highest voltages at this zoom, all when zoomed in"
            )
        sections.append(("Substations", "".join(parts)))
    if n_cand:
        sections.append(
            (
                "Candidates not chosen",
                f"<h4>Candidates not chosen ({n_cand:,})</h4>"
                f"<i class='dot' style='background:{CAND_COLOURS['screened_out']}'></i>screened out<br>"
                f"<i class='dot' style='background:{CAND_COLOURS['not_chosen']}'></i>not economic",
            )
        )
    if inp.layer("water_links") is not None or inp.water_sources is not None or water["features"]:
        parts = ["<h4>Water</h4>"]
        if water["features"]:
            parts.append("<i style='background:#a6cee3'></i>open water<br>")
        parts.append(
            "<i class='dot' style='background:#6baed6'></i>source; "
            "dashed: pipeline in use [m3/day in popup]"
        )
        sections.append(("", "".join(parts)))
    if places["features"]:
        sections.append(
            (
                "Places",
                "<h4>Places</h4>label size by population: "
                "<span class='siting-pl3'>1 M+</span> <span class='siting-pl2'>100 k</span> "
                "<span class='siting-pl1'>10 k</span> <span class='siting-pl0'>smaller</span>"
                + (
                    "<br>the largest at this zoom, all when zoomed in"
                    if len(places["features"]) > PLACE_DETAIL_0
                    else ""
                ),
            )
        )
    if inp.layer("zones") is not None:
        sections.append(
            (
                "Growth zones",
                "<h4>Growth zones (GZ01 ...)</h4><i style='background:#e66101;opacity:.5'></i>"
                "the plan's growth zone (final build)",
            )
        )
    for r in rasters:
        sections.append((r["name"], f"<h4>{r['name']}</h4>" + _raster_legend(r)))
    if inp.notes:
        sections.append(
            (
                "",
                "<div class='siting-notes'><h4>Notes</h4>"
                + "<br>".join(esc(n) for n in inp.notes)
                + "</div>",
            )
        )
    # a section explaining one overlay is shown only while that overlay is on (the script)
    return "".join(f"<div class='lg' data-layer='{esc(k)}'>{x}</div>" for k, x in sections)


def build_html(plan_dir: Path, *, tiles: bool = True) -> str:
    """The map page of a plan folder, as text (see the module docstring); costs in the
    popups also in the scenario's ``report.currency`` when it sets one."""
    inp = MapInputs(Path(plan_dir))
    with showing_currency(local_currency_of(inp.run)):
        return _map_page(inp, plan_dir, tiles)


def _map_page(inp: MapInputs, plan_dir: Path, tiles: bool) -> str:
    """The map page's HTML (see :func:`build_html`)."""
    lay = inp.run.get("layers") or {}
    inp.water_sources = inp.scenario_vector("water_sources", lay.get("water_sources"))
    boundary = inp.scenario_vector("boundary", lay.get("boundary"))
    places = inp.scenario_vector("places", lay.get("places"))
    policy = inp.scenario_vector("zones", lay.get("zones"))
    excl = [inp.scenario_vector("exclusions", r) for r in (lay.get("exclusions") or [])]
    excl = [e for e in excl if e is not None and len(e)]
    water = None  # open water among the exclusions: drawn on the offline base
    wet = [
        e[e["kind"].astype(str) == "water"] for e in excl if e is not None and "kind" in e.columns
    ]
    wet = [w for w in wet if len(w)]
    if wet:
        water = gpd.GeoDataFrame(
            pd.concat(wet, ignore_index=True), geometry="geometry", crs="EPSG:4326"
        )
    exclusions = pd.concat(excl, ignore_index=True) if excl else None
    if exclusions is not None:
        exclusions = gpd.GeoDataFrame(exclusions, geometry="geometry", crs="EPSG:4326")
    rasters = _raster_overlays(inp)
    cands = _candidates(inp)
    outline = outline_layer(inp, boundary)
    place_fc = _places(places)
    water_fc = _generic(water, "Open water", "name")
    bounds = None
    if outline["features"]:
        import shapely

        b = shapely.geometry.shape(outline["features"][0]["geometry"]).bounds
        for f in outline["features"][1:]:
            bb = shapely.geometry.shape(f["geometry"]).bounds
            b = (min(b[0], bb[0]), min(b[1], bb[1]), max(b[2], bb[2]), max(b[3], bb[3]))
        bounds = [[b[1], b[0]], [b[3], b[2]]]
    data = {
        "years": inp.years,
        "tiles": {"url": OSM_URL, "attribution": OSM_ATTRIBUTION} if tiles else None,
        "outline": outline,
        "bounds": bounds,
        "sites": _sites(inp),
        "candidates": cands,
        "branches": _branches(inp),
        "buses": _buses(inp),
        "links": _links(inp),
        "sources": _generic(inp.water_sources, "Water source", "source_id"),
        "zones": _zones(inp),
        "policy_zones": _generic(policy, "Policy zone", "zone_id"),
        "exclusions": _generic(exclusions, "Exclusion", "kind"),
        "places": place_fc,
        "water": water_fc,
        "rasters": rasters,
        "loading_bins": [[b if math.isfinite(b) else 1e300, c] for b, c, _ in LOADING_BINS],
        "no_loading": NO_LOADING_COLOUR,
        "cand_colours": CAND_COLOURS,
        "legend": "",
    }
    data["legend"] = _legend(inp, rasters, len(cands["fc"]["features"]), place_fc, water_fc)
    centre = (
        [0.0, 0.0]
        if bounds is None
        else [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
    )
    m = folium.Map(
        location=centre, zoom_start=8, tiles=None, control_scale=True, prefer_canvas=False
    )
    # only Leaflet: folium's jQuery, Bootstrap and font icons are not used (and not offline)
    m.default_js = [("leaflet", "siting-inline:leaflet.js")]
    m.default_css = [("leaflet_css", "siting-inline:leaflet.css")]
    title = esc(
        inp.manifest.get("title") or inp.run.get("title") or inp.run.get("name") or plan_dir.name
    )
    root = cast(Figure, m.get_root())  # a folium Map's root is always a Figure
    root.header.add_child(folium.Element(f"<title>{title}: siting map</title>" + MAP_CSS))
    _Layers(js_json(data)).add_to(m)
    page = m.get_root().render()
    return inline_leaflet(page)


def render_map(plan_dir: Path, out: Path | None = None, *, tiles: bool = True) -> Path:
    """Write ``index.html`` for a plan folder, atomically (temp file, then rename).

    Parameters
    ----------
    plan_dir
        A plan folder as :meth:`siting.results.plan.Plan.write` writes it.
    out
        Where to write (default ``plan_dir / "index.html"``).
    tiles
        Offer OpenStreetMap tiles as a base the reader can switch on (no request until
        then; the page opens on a base drawn offline from the layers); False leaves them
        out.

    Returns
    -------
    pathlib.Path
        The page's path.
    """
    plan_dir = Path(plan_dir)
    if not plan_dir.is_dir():
        raise InputError(f"{plan_dir}: not a folder; expected a plan folder (siting plan --out)")
    out = Path(out) if out is not None else plan_dir / "index.html"
    page = build_html(plan_dir, tiles=tiles)
    return write_text_atomic(out, page)
