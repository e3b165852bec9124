"""``report.html``: a written plan folder in words, tables and plots, readable offline.

:func:`render_report` reads a plan folder (``manifest.json``, ``schedule.csv``,
``flows.csv``, ``upgrades.csv``, ``contingencies.csv`` when present, and the ``sites``,
``water_links`` and, when present, ``zones`` layers of ``plan.gpkg``) and writes one
self-contained HTML page beside them: inline CSS, plots as inline SVG drawn here by hand
(no scripts, fonts, images or links to anything outside the page), so it opens offline
and can be mailed as one file.

The plots are hand-built SVG rather than matplotlib: five simple chart kinds (stacked bars,
horizontal bars with negatives or a reference line) need no plotting library, the page
stays small (tens of kB), the output is deterministic (no embedded glyph paths or random
IDs), and every label from the input data goes through one escaper,
:func:`siting.render.html.esc`.

Sections: summary in plain words with the key figures, national target against what is
built per year, IT MW by year (stacked by growth zone, or by site without a ``zones``
layer), sites, growth zones, cost breakdown (present value), water by source, grid
(peak branch loadings, upgrades, N-1), on-site generation, flexible connections, compute
(with a ``compute`` section: accelerators, generations and their refresh, compute and
tokens per MWh, national and per site and year), cooling performance (PUE and WUE by site),
verification, assumptions (the scenario as run), provenance (inputs with their SHA-256,
versions, solver, gap, timings) and a short glossary. A plan without a modelled grid or
without water gets a sentence saying so instead of the plot.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from siting.core.cells import as_float
from siting.core.errors import Problem, SitingError
from siting.core.files import path_problem
from siting.core.io import write_text_atomic
from siting.core.plan_files import (
    plan_layer_names,
    raise_plan_problems,
    read_manifest,
    read_plan_layer,
    read_plan_table,
)
from siting.model.objective import (
    DELAY_PARTS,
    EARN_PARTS,
    SPEND_PARTS,
    WEIGHT_PARTS,
    cost_split,
)
from siting.render.html import (
    LocalCurrency,
    esc,
    fmt_mw,
    fmt_num,
    fmt_usd,
    growth_zone_label,
    is_number,
    local_currency_of,
    nice_ticks,
    showing_currency,
    svg,
    svg_legend,
    svg_text,
    tick_label,
)

#: Colours of the plot series (Okabe-Ito, then Tableau; colour-blind friendly first).
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#8C564B",
    "#7F7F7F",
    "#17BECF",
)
#: Colour of the series that gathers the smallest ones.
OTHER_COLOUR = "#BBBBBB"
#: Most series a stacked plot draws before gathering the rest as "other".
MAX_SERIES = 9
#: Branches shown in the peak-loading plot.
TOP_BRANCHES = 15

#: Cost parts in words (see :mod:`siting.model.objective`).
COST_LABELS = {
    "capex": "Campus capital (IT, land, connection)",
    "cooling_capex": "Cooling equipment",
    "site_fixed": "Site opening and tie lines",
    "zone_bonus": "Designated-zone bonus (policy weight, not money)",
    "pipelines": "Water pipelines",
    "water": "Water bought",
    "grid_upgrades": "Grid upgrades",
    "energy": "Energy the campuses add to the grid's cost",
    "demand": "Serving demand regions",
    "heat": "Waste heat sold (credit)",
    "export": "Capacity sold to the export market (credit)",
    "delay": "Cost of delay (soft targets: compute not delivered, not money paid)",
    "curtailment": "Curtailed compute and flexible MW held",
}


# --------------------------------------------------------------------------- SVG plots

#: A white halo behind text drawn over bars or lines.
_HALO = 'stroke="#fff" stroke-width="3" paint-order="stroke"'


def _gather(series: list[tuple[str, list[float]]]) -> list[tuple[str, list[float], str]]:
    """Biggest :data:`MAX_SERIES` series by total, the rest summed as "other", with colours."""
    order = sorted(series, key=lambda s: -sum(s[1]))
    keep = order[:MAX_SERIES] if len(order) > MAX_SERIES + 1 else order
    rest = order[len(keep) :]
    out = [(lab, vals, PALETTE[i % len(PALETTE)]) for i, (lab, vals) in enumerate(keep)]
    if rest:
        tot = [sum(v) for v in zip(*(r[1] for r in rest), strict=True)]
        out.append((f"{len(rest)} others", tot, OTHER_COLOUR))
    return out


def svg_stacked_bars(
    name: str,
    title: str,
    categories: Sequence[Any],
    series: list[tuple[str, list[float]]],
    unit: str,
    *,
    target: Sequence[float | None] | None = None,
    target_label: str = "target",
) -> str:
    """Vertical bars per category, stacked by series, with an optional target per bar."""
    gathered = _gather(series)
    left, right, top, bottom = 78.0, 250.0, 16.0, 44.0
    pw, ph = max(60.0 * len(categories), 360.0), 260.0
    w, h = left + pw + right, top + ph + bottom
    totals = [sum(s[1][i] for s in gathered) for i in range(len(categories))]
    hi = max([*totals, *[t for t in (target or []) if t is not None], 1e-9])
    ticks = nice_ticks(0.0, hi)
    ymax = ticks[-1]

    def y(v: float) -> float:
        return top + ph - ph * v / ymax

    body = []
    for t in ticks:
        body.append(
            f'<line x1="{left:.1f}" x2="{left + pw:.1f}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
            'stroke="#ddd"/>'
        )
        body.append(svg_text(left - 6, y(t) + 4, tick_label(t), "end"))
    body.append(
        svg_text(16, top + ph / 2, unit, "middle", f'transform="rotate(-90 16 {top + ph / 2:.1f})"')
    )
    band = pw / max(len(categories), 1)
    bw = band * 0.6
    for i, cat in enumerate(categories):
        x = left + band * i + (band - bw) / 2
        base = 0.0
        for label, vals, colour in gathered:
            v = vals[i]
            if v <= 0:
                continue
            body.append(
                f'<rect x="{x:.1f}" y="{y(base + v):.1f}" width="{bw:.1f}" '
                f'height="{y(base) - y(base + v):.1f}" fill="{colour}"><title>'
                f"{esc(label)}, {esc(cat)}: {esc(fmt_num(v))} {esc(unit)}</title></rect>"
            )
            base += v
        body.append(svg_text(x + bw / 2, top + ph + 18, str(cat), "middle"))
        if totals[i] > 0:
            body.append(svg_text(x + bw / 2, y(totals[i]) - 4, fmt_num(totals[i]), "middle", _HALO))
        mark = None if target is None else target[i]
        if mark is not None:
            ty = y(float(mark))
            body.append(
                f'<line x1="{x - 6:.1f}" x2="{x + bw + 6:.1f}" y1="{ty:.1f}" y2="{ty:.1f}" '
                f'stroke="#000" stroke-width="2" stroke-dasharray="5 3"><title>{esc(target_label)}'
                f", {esc(cat)}: {esc(fmt_num(mark))} {esc(unit)}</title></line>"
            )
    body.append(
        f'<line x1="{left:.1f}" x2="{left + pw:.1f}" y1="{y(0):.1f}" y2="{y(0):.1f}" '
        'stroke="#333"/>'
    )
    items = [(lab, col) for lab, _, col in gathered]
    body += svg_legend(left + pw + 20, top + 10, items)
    if target is not None:
        ly = top + 10 + 18 * len(items)
        body.append(
            f'<line x1="{left + pw + 18:.1f}" x2="{left + pw + 32:.1f}" y1="{ly - 4:.1f}" '
            f'y2="{ly - 4:.1f}" stroke="#000" stroke-width="2" stroke-dasharray="5 3"/>'
        )
        body.append(svg_text(left + pw + 38, ly, target_label))
    return svg(name, title, w, h, body)


def _hbar_panel(
    y0: float,
    labels: Sequence[str],
    values: Sequence[float],
    unit: str,
    *,
    colours: Sequence[str] | None = None,
    value_labels: Sequence[str] | None = None,
    markers: Sequence[float | None] | None = None,
    marker_label: str = "",
    ref: float | None = None,
    ref_label: str = "",
    x_min: float | None = None,
    heading: str = "",
    tips: Sequence[str] | None = None,
) -> tuple[list[str], float]:
    """Horizontal bars (negatives to the left of zero); returns (elements, height)."""
    left, pw, row = 300.0, 400.0, 22.0
    top = y0 + (24.0 if heading else 8.0)
    vals = [float(v) for v in values]
    extra = [m for m in (markers or []) if m is not None]
    lo = min([0.0, *vals, *extra]) if x_min is None else x_min
    hi = max([0.0, *vals, *extra, *([ref] if ref is not None else [])])
    ticks = nice_ticks(lo, hi if hi > lo else lo + 1.0)
    a, b = ticks[0], ticks[-1]
    zero = 0.0 if x_min is None else x_min

    def x(v: float) -> float:
        return left + pw * (v - a) / (b - a)

    ph = row * len(vals)
    body = []
    if heading:
        body.append(svg_text(left, y0 + 14, heading, "start", 'font-weight="bold"'))
    for t in ticks:
        body.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top:.1f}" y2="{top + ph:.1f}" '
            'stroke="#e4e4e4"/>'
        )
        body.append(svg_text(x(t), top + ph + 16, tick_label(t), "middle"))
    body.append(svg_text(left + pw / 2, top + ph + 34, unit, "middle"))
    for i, (lab, v) in enumerate(zip(labels, vals, strict=True)):
        yy = top + row * i
        c = colours[i] if colours else (PALETTE[0] if v >= 0 else PALETTE[5])
        x1, x2 = sorted((x(zero), x(v)))
        tip = tips[i] if tips else f"{lab}: {fmt_num(v, 2)} {unit}"
        body.append(
            f'<rect x="{x1:.1f}" y="{yy + 4:.1f}" width="{max(x2 - x1, 0.5):.1f}" height="14" '
            f'fill="{c}"><title>{esc(tip)}</title></rect>'
        )
        body.append(svg_text(left - 8, yy + 15, lab, "end", n=42))
        vl = value_labels[i] if value_labels else fmt_num(v, 2)
        # right of the bar; a negative bar's label right of the zero line
        body.append(svg_text(x2 + 4, yy + 15, vl, "start", f'fill="#333" {_HALO}'))
        mark = None if markers is None else markers[i]
        if mark is not None:
            mx = x(float(mark))
            body.append(
                f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{yy + 1:.1f}" y2="{yy + 21:.1f}" '
                f'stroke="#000" stroke-width="2"><title>{esc(marker_label)}: '
                f"{esc(fmt_num(mark, 2))}</title></line>"
            )
    body.append(
        f'<line x1="{x(zero):.1f}" x2="{x(zero):.1f}" y1="{top:.1f}" y2="{top + ph:.1f}" '
        'stroke="#333"/>'
    )
    if ref is not None:
        body.append(
            f'<line x1="{x(ref):.1f}" x2="{x(ref):.1f}" y1="{top - 6:.1f}" y2="{top + ph:.1f}" '
            'stroke="#C00" stroke-width="2" stroke-dasharray="6 3"/>'
        )
        body.append(svg_text(x(ref), top - 8, ref_label, "middle", 'fill="#C00"'))
    return body, (top - y0) + ph + 44


def svg_hbars(
    name: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    unit: str,
    **kw: Any,
) -> str:
    """One panel of horizontal bars as an SVG (see :func:`_hbar_panel`)."""
    body, h = _hbar_panel(12.0 if kw.get("ref") is not None else 0.0, labels, values, unit, **kw)
    return svg(name, title, 880, h + 14, body)


# --------------------------------------------------------------------------- reading


def _read_csv(path: Path, problems: list[Problem], required: Sequence[str] = ()) -> pd.DataFrame:
    """A table of the plan, checked (:func:`siting.core.plan_files.read_plan_table`); an empty
    frame when the file is absent (older plans) or wrong (the problem is recorded)."""
    if path_problem(path) == "file not found":
        return pd.DataFrame()
    df = read_plan_table(path, problems, required=required, empty_text_as_na=True)
    return pd.DataFrame() if df is None else df


def _read_layer(gpkg: Path, layer: str, layers: set[str]) -> pd.DataFrame | None:
    if layer not in layers:
        return None
    df = read_plan_layer(gpkg, layer, read_geometry=False)
    return pd.DataFrame(df)


def _as_int(v: object) -> int:
    """A whole number read from a plan's table (an int, float, text or numpy number)."""
    if not isinstance(v, (int, float, str, np.integer, np.floating)):
        raise SitingError(f"expected a whole number in the plan's table, got {v!r}")
    return int(v)


def _ok(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v.strip().lower() == "true") or v == 1


class _PlanFolder:
    """What the report needs from a plan folder."""

    def __init__(self, d: Path):
        self.dir = d
        mpath = d / "manifest.json"
        if path_problem(mpath) == "file not found":
            raise FileNotFoundError(f"{d}: no manifest.json (not a plan folder)")
        problems: list[Problem] = []
        self.manifest: dict[str, Any] = read_manifest(mpath, problems) or {}
        self.schedule = _read_csv(d / "schedule.csv", problems, ("site_id", "year", "it_mw"))
        self.flows = _read_csv(d / "flows.csv", problems, ("branch_id", "year", "flow_mw"))
        self.upgrades = _read_csv(d / "upgrades.csv", problems, ("asset", "asset_id", "year"))
        self.contingencies = _read_csv(d / "contingencies.csv", problems)
        self.onsite = _read_csv(
            d / "onsite.csv", problems, ("site_id", "option", "year", "capacity_mw")
        )
        self.relief = _read_csv(d / "draw_relief.csv", problems)
        self.curtailment = _read_csv(d / "curtailment.csv", problems)
        self.compute = _read_csv(d / "compute.csv", problems)
        raise_plan_problems(problems)
        self.sc: dict[str, Any] = self.manifest.get("scenario_as_run") or {}
        gpkg = d / "plan.gpkg"
        layers: set[str] = set()
        if path_problem(gpkg) != "file not found":
            layers = set(plan_layer_names(gpkg))
        self.sites = _read_layer(gpkg, "sites", layers)
        self.water_links = _read_layer(gpkg, "water_links", layers)
        self.zones = _read_layer(gpkg, "zones", layers)
        for df, cols in (
            (self.sites, ("site_id", "bus_id", "name", "zone_id")),
            (self.water_links, ("site_id", "source_id")),
            (self.zones, ("zone_id",)),
        ):
            if df is not None:
                for c in cols:
                    if c in df:
                        df[c] = df[c].map(lambda v: "" if v is None or v != v else str(v))
        years = self.sc.get("years") or (
            sorted(int(y) for y in self.schedule["year"].unique()) if len(self.schedule) else []
        )
        self.years: list[int] = [int(y) for y in years]

    # figures -------------------------------------------------------------------------

    def it_mw_by_year(self) -> dict[int, float]:
        """National IT MW in service per year, from schedule.csv [MW]."""
        out = {y: 0.0 for y in self.years}
        if len(self.schedule):
            for y, v in self.schedule.groupby("year")["it_mw"].sum().items():
                out[_as_int(y)] = float(v)
        return out

    def targets(self) -> dict[int, float]:
        t = (self.sc.get("targets") or {}).get("it_mw_by_year") or {}
        return {int(k): float(v) for k, v in t.items() if v is not None}

    def total_cost_usd(self) -> float:
        if is_number(self.manifest.get("total_cost_usd")):
            return float(self.manifest["total_cost_usd"])
        return float(sum((self.manifest.get("costs_usd") or {}).values()))

    def grid_modelled(self) -> bool:
        return bool(self.manifest.get("grid_enabled", len(self.flows) > 0)) and len(self.flows) > 0

    def site_table(self) -> pd.DataFrame:
        """One row per chosen site (from the sites layer, completed by the schedule)."""
        sc = self.schedule
        if self.sites is not None and len(self.sites):
            s = self.sites.copy()
        elif len(sc):
            s = pd.DataFrame({"site_id": sorted(sc["site_id"].unique())})
        else:
            return pd.DataFrame()
        if len(sc):
            g = sc.sort_values("year").groupby("site_id")
            last_year = max(self.years) if self.years else sc["year"].max()
            fill = {
                "first_year": sc[sc["it_mw"] > 0].groupby("site_id")["year"].min(),
                "it_mw_final": sc[sc["year"] == last_year].groupby("site_id")["it_mw"].sum(),
                "cooling": g["cooling"].last(),
                "bus_id": g["bus_id"].last(),
                "water_m3_per_day_final": sc[sc["year"] == last_year]
                .groupby("site_id")["water_m3_per_day"]
                .sum(),
            }
            for col, ser in fill.items():
                got = s["site_id"].map(ser)
                s[col] = s[col].where(s[col].notna(), got) if col in s else got
        s = s.sort_values(
            ["first_year", "it_mw_final", "site_id"], ascending=[True, False, True]
        ).reset_index(drop=True)
        return s


# --------------------------------------------------------------------------- HTML pieces


def _table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    num: Iterable[int] = (),
    cls: str = "",
    raw: Iterable[int] = (),
) -> str:
    """An HTML table; every cell escaped unless its column is in ``raw`` (built here)."""
    num = set(num)
    raw = set(raw)
    h = "".join(f"<th{' class=n' if i in num else ''}>{esc(c)}</th>" for i, c in enumerate(headers))
    body = []
    for r in rows:
        cells = []
        for i, v in enumerate(r):
            content = str(v) if i in raw else esc(v)
            cells.append(f"<td{' class=n' if i in num else ''}>{content}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    c = f' class="{cls}"' if cls else ""
    return (
        f'<div class="tw"><table{c}><thead><tr>{h}</tr></thead><tbody>'
        + "".join(body)
        + "</tbody></table></div>"
    )


def _fig(value: float, text: str, key: str) -> str:
    """A figure of the summary, with its exact value for machines."""
    return (
        f'<span class="fig" data-figure="{esc(key)}" data-value="{esc(repr(value))}">'
        f"{esc(text)}</span>"
    )


def _list_words(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _pct(v: Any, digits: int = 1) -> str:
    return "–" if not is_number(v) else f"{100 * float(v):.{digits}f} %"


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;
color:#1d1d1d;background:#fff;line-height:1.45}
main{max-width:1120px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:1.7em;margin:.4em 0 .1em}h2{margin-top:1.8em;border-bottom:2px solid #0072B2;
padding-bottom:.15em}h3{margin-top:1.2em}
.sub{color:#555;margin:0 0 1em}
nav{background:#f3f6f9;padding:8px 12px;border-radius:6px;font-size:.95em}
nav a{margin-right:12px;color:#0b5394;text-decoration:none}
.lead{font-size:1.08em;background:#f7faf7;border-left:4px solid #009E73;padding:10px 14px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:14px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:150px}
.card b{display:block;font-size:1.35em}.card span{color:#555;font-size:.9em}
.tw{overflow-x:auto}table{border-collapse:collapse;margin:8px 0 4px;font-size:.92em}
th,td{border-bottom:1px solid #e2e2e2;padding:4px 9px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:nth-child(even){background:#fafafa}
.ok{color:#0a7a3a;font-weight:bold}.bad{color:#b00020;font-weight:bold}
.note{color:#555;font-size:.92em}svg.plot{max-width:100%;height:auto;display:block;
margin:10px 0}code{background:#f3f3f3;padding:0 3px;border-radius:3px}
details{margin:6px 0}summary{cursor:pointer;color:#0b5394}
@media print{nav{display:none}h2{break-after:avoid}svg.plot,table{break-inside:avoid}}
"""


# --------------------------------------------------------------------------- sections


def _summary(p: _PlanFolder, sites: pd.DataFrame) -> str:
    """The summary section: the plan in plain words, one sentence per topic, and its key
    figures as cards."""
    m = p.manifest
    years = p.years
    by_year = p.it_mw_by_year()
    targets = p.targets()
    last = years[-1] if years else None
    final = by_year.get(last, 0.0) if last is not None else 0.0
    n_sites = len(sites)
    total = p.total_cost_usd()
    out = [
        _summary_capacity(years, by_year, last, final, n_sites),
        _summary_target(years, by_year, targets, last),
        _summary_cost(p, total),
    ]
    if _summary_delay(p):
        out.append(_summary_delay(p))
    if _summary_compute(p):
        out.append(_summary_compute(p))
    if n_sites and "cooling" in sites:
        out.append(_summary_cooling(sites))
    out.append(_summary_water(p, last))
    out.append(_summary_grid(p))
    checks = m.get("verification") or []
    n_ok = sum(_ok(c.get("ok")) for c in checks)
    out.append(_summary_solver(m, n_ok, len(checks)))
    card_html = _summary_cards(p, final, n_sites, total, last, n_ok, len(checks))
    return (
        '<section id="summary"><h2>Summary</h2><p class="lead">'
        + " ".join(out)
        + f'</p><div class="cards">{card_html}</div></section>'
    )


def _summary_capacity(
    years: list[int], by_year: dict[int, float], last: int | None, final: float, n_sites: int
) -> str:
    """What the plan builds: IT capacity by the last year [MW] at how many sites, and from
    which first year (``by_year``: IT MW in service per year)."""
    built_years = [y for y in years if by_year.get(y, 0.0) > 0]
    s1 = (
        f"The plan builds {_fig(final, fmt_mw(final), 'it_mw_final')} of AI-campus IT capacity "
        f"at {_fig(n_sites, fmt_num(n_sites), 'sites')} site{'s' if n_sites != 1 else ''}"
        f" by {esc(last)}"
    )
    if built_years:
        y0 = built_years[0]
        s1 += f", starting with {esc(fmt_mw(by_year[y0]))} in {esc(y0)}"
    s1 += "."
    return s1


def _summary_target(
    years: list[int], by_year: dict[int, float], targets: dict[int, float], last: int | None
) -> str:
    """Whether the plan meets the national target [MW] in every year (or which it misses)."""
    if targets:
        short = [y for y in years if by_year.get(y, 0.0) + 1e-6 < targets.get(y, 0.0)]
        if short:
            return (
                "It falls short of the national target in "
                + esc(_list_words([str(y) for y in short]))
                + "."
            )
        top = max(targets.values())
        tl = top if last is None else targets.get(last, top)
        return f"That meets the national target in every year ({esc(fmt_mw(tl))} by {esc(last)})."
    return "No national target was set."


def _summary_cost(p: _PlanFolder, total: float) -> str:
    """The money in plain words: what the plan spends, what it earns selling waste heat, and
    the net present cost ``total`` [USD] after the policy weights (the designated-zone bonus,
    which the objective counts but nobody pays), with the currency year and discount rate.
    The named parts sum to ``total`` (:func:`siting.model.objective.cost_split`)."""
    years = p.years
    costs = {k: float(v) for k, v in (p.manifest.get("costs_usd") or {}).items() if is_number(v)}
    split = cost_split(costs)
    spent = split["spent_usd"] + split["other_usd"]  # a part not named yet counts as spend
    earned, weight = split["earned_usd"], split["policy_weight_usd"]
    cst = p.sc.get("costs") or {}
    dr = cst.get("discount_rate")
    extra = []
    if cst.get("currency_year"):
        extra.append(f"in USD of {esc(cst['currency_year'])}")
    if is_number(dr) and years:
        extra.append(f"discounted at {esc(fmt_num(100 * float(dr), 1))} % a year to {years[0]}")
    when = " (" + ", ".join(extra) + ")" if extra else ""
    delay = split["delay_usd"]
    late = (
        f", counting {_fig(delay, fmt_usd(delay), 'delay_usd')} of delay (compute not delivered "
        "by the soft targets, not money paid)"
        if abs(delay) >= 0.5
        else ""
    )
    if abs(earned) < 0.5 and abs(weight) < 0.5:
        s = f"Its net present cost is {_fig(total, fmt_usd(total), 'total_cost_usd')}{when}"
        if is_number(costs.get("capex")):
            s += f"; campus capital is {esc(fmt_usd(costs['capex']))} of it"
        return s + late + "."
    s = f"It spends {_fig(spent, fmt_usd(spent), 'spent_usd')} in present value{when}"
    if is_number(costs.get("capex")):
        s += f", {esc(fmt_usd(costs['capex']))} of it on campus capital"
    if abs(earned) >= 0.5:
        s += f", and earns {_fig(-earned, fmt_usd(-earned), 'heat_earned_usd')} selling waste heat"
    s += f"; its net present cost is {_fig(total, fmt_usd(total), 'total_cost_usd')}"
    if abs(weight) >= 0.5:
        s += (
            f" after a {_fig(weight, fmt_usd(weight), 'policy_weight_usd')} designated-zone bonus "
            "(a policy weight, not money)"
        )
    return s + late + "."


def _summary_delay(p: _PlanFolder) -> str:
    """Soft targets and late power in words (the manifest's ``delay``,
    :func:`siting.results.settings.delay_summary`): the MW short each year and what the
    delay cost, and the sites whose first year of power is late and why; "" when neither."""
    delay = p.manifest.get("delay") or {}
    out = []
    short = [r for r in delay.get("years") or [] if float(r.get("short_mw") or 0.0) > 1e-6]
    if delay.get("soft") and short:
        each = [
            f"{fmt_mw(float(r['short_mw']))} in {r['year']} ({fmt_usd(float(r['cost_usd']))})"
            for r in short
        ]
        out.append(
            "The targets are soft at "
            f"{esc(fmt_usd(float(delay.get('usd_per_mw_year') or 0.0)))} per MW-year short: the "
            f"plan falls short by {esc(_list_words(each))}, a cost of delay of "
            f"{esc(fmt_usd(float(delay.get('cost_usd') or 0.0)))} in present value."
        )
    elif delay.get("soft"):
        out.append("The targets are soft, and the plan meets them in every year.")
    late = delay.get("late_sites") or []
    if late:
        each = [
            f"{r['site_id']} from {r['power_year']} ({r['power_why'] or 'lead time'})"
            for r in late[:5]
        ]
        more = f" and {len(late) - 5} more" if len(late) > 5 else ""
        out.append(f"Firm power comes late at {esc(_list_words(each))}{esc(more)}.")
    return " ".join(out)


def _summary_cooling(sites: pd.DataFrame) -> str:
    """The cooling mix (sites and final IT MW per technology) and the range of annual PUE."""
    mix = (
        sites.assign(
            mw=pd.to_numeric(sites.get("it_mw_final", pd.Series(dtype=float)), errors="coerce")
        )
        .groupby("cooling")
        .agg(n=("site_id", "size"), mw=("mw", "sum"))
        .sort_values("mw", ascending=False)
    )
    parts = [
        f"{esc(k or 'unknown')} cooling at {int(r.n)} site{'s' if r.n != 1 else ''} "
        f"({esc(fmt_mw(r.mw))})"
        for k, r in mix.iterrows()
    ]
    s = "The campuses use " + _list_words(parts)
    pue = pd.to_numeric(sites.get("pue_annual", pd.Series(dtype=float)), errors="coerce")
    pue = pue.dropna()
    if len(pue):
        s += (
            f"; their annual PUE is {esc(fmt_num(pue.min(), 2))}"
            + (f" to {esc(fmt_num(pue.max(), 2))}" if pue.max() - pue.min() > 0.005 else "")
            + " (facility power per unit of IT power)"
        )
    return s + "."


def _summary_water(p: _PlanFolder, last: int | None) -> str:
    """The water the campuses draw in the ``last`` year [m3/day] and from how many sources
    (or why none)."""
    wl = p.water_links
    water_on = bool((p.sc.get("water") or {}).get("enabled", True))
    if wl is not None and len(wl) and last is not None:
        wl_last = wl[wl["year"] == last]
        w = float(wl_last["m3_per_day"].sum())
        ns = wl_last["source_id"].nunique()
        return (
            f"They draw {_fig(w, fmt_num(w) + ' m3/day', 'water_m3_per_day_final')} of water in "
            f"{esc(last)} from {ns} source{'s' if ns != 1 else ''} by pipeline."
        )
    if not water_on:
        return "Water was not modelled (so only dry cooling needs no water)."
    return "The plan draws no water (its campuses are dry-cooled or have no source)."


def _summary_grid(p: _PlanFolder) -> str:
    """The grid: upgrades (count, kinds, undiscounted cost [USD]), the most loaded line [%]
    and N-1; or the flat energy price [USD/MWh] without a modelled grid."""
    years = p.years
    cst = p.sc.get("costs") or {}
    ups = p.upgrades
    if p.grid_modelled():
        n = len(ups)
        s = f"The grid needs {_fig(n, fmt_num(n), 'upgrades')} upgrade{'s' if n != 1 else ''}"
        if n:
            kinds = ups["asset"].value_counts()
            words = [
                f"{int(c)} {'line' if k == 'branch' else esc(k)}{'s' if c != 1 else ''}"
                for k, c in kinds.items()
            ]
            cost = float(pd.to_numeric(ups["cost_usd"], errors="coerce").sum())
            s += f" ({_list_words(words)}; {esc(fmt_usd(cost))} before discounting)"
        s += "."
        worst = _worst_branches(p.flows, 1)
        if len(worst):
            r = worst.iloc[0]
            s += (
                f" The most loaded line reaches {esc(fmt_num(r['metric'], 0))} % of its rating "
                f"(branch {esc(r['branch_id'])} in {esc(int(r['year']))})."
            )
        n1 = (p.sc.get("grid") or {}).get("n_minus_1") or {}
        if n1.get("enabled"):
            s += (
                " It stays within emergency ratings after the loss of any single checked line "
                f"(N-1) from {esc(n1.get('from_year') or years[0])}."
            )
        return s
    ep = cst.get("energy_usd_per_mwh")
    return (
        "The transmission grid was not modelled in this plan; campus energy is priced at "
        + (f"{esc(fmt_num(ep, 2))} USD/MWh" if is_number(ep) else "a flat price")
        + "."
    )


def _summary_solver(m: dict[str, Any], n_ok: int, n_checks: int) -> str:
    """The solver's status and gap, why a feasible plan is not proven optimal, and how many
    of the ``n_checks`` checks passed (``n_ok``)."""
    gap = m.get("gap")
    s = f"The solver's status is <b>{esc(m.get('status', 'unknown'))}</b>"
    if is_number(gap):
        s += f", within {esc(_pct(gap, 2))} of the best possible plan"
    if m.get("status") == "feasible":  # stopped by a limit before proving it
        limit = (m.get("solver") or {}).get("time_limit_s")
        s += "; the plan is <b>not proven optimal</b>: the solver stopped at " + (
            f"its time limit ({esc(f'{float(limit):g}')} s)"
            if m.get("termination") == "maxTimeLimit" and is_number(limit)
            else f"a limit ({esc(m.get('termination', 'unknown'))})"
        )
        s += " before it could prove that no cheaper plan exists"
    s += (
        f"; {_fig(n_ok, str(n_ok), 'checks_passed')} of {n_checks} checks recomputed from the "
        "plan's own tables passed."
    )
    return s


def _summary_cards(
    p: _PlanFolder,
    final: float,
    n_sites: int,
    total: float,
    last: int | None,
    n_ok: int,
    n_checks: int,
) -> str:
    """The key figures as cards: IT capacity [MW], sites, net present cost [USD], grid
    upgrades, water in the last year [m3/day] and checks passed."""
    wl = p.water_links
    cards = [
        (fmt_mw(final), f"IT capacity by {last}"),
        (fmt_num(n_sites), "campus sites"),
        (fmt_usd(total), "net present cost"),
    ]
    if p.grid_modelled():
        cards.append((fmt_num(len(p.upgrades)), "grid upgrades"))
    if wl is not None and len(wl) and last is not None:
        cards.append(
            (fmt_num(wl[wl["year"] == last]["m3_per_day"].sum()) + " m3/day", f"water in {last}")
        )
    cards.append((f"{n_ok} / {n_checks}", "checks passed"))
    return "".join(f"<div class=card><b>{esc(a)}</b><span>{esc(b)}</span></div>" for a, b in cards)


def _by_year(p: _PlanFolder, sites: pd.DataFrame) -> str:
    years = p.years
    by_year = p.it_mw_by_year()
    targets = p.targets()
    sc = p.schedule
    new: pd.Series = (  # new IT [MW] by year
        sc.groupby("year")["new_it_mw"].sum()
        if len(sc) and "new_it_mw" in sc
        else pd.Series(dtype=float)
    )
    n_open: pd.Series = (  # sites in service by year
        sc[sc["it_mw"] > 0].groupby("year")["site_id"].nunique()
        if len(sc)
        else pd.Series(dtype=int)
    )
    rows = []
    for y in years:
        t = targets.get(y)
        b = by_year.get(y, 0.0)
        rows.append(
            [
                y,
                fmt_num(t) if t is not None else "–",
                f'<span data-year="{esc(y)}" data-value="{esc(repr(b))}">{esc(fmt_num(b))}</span>',
                fmt_num(new.get(y, 0.0)),
                fmt_num(b - t) if t is not None else "–",
                int(n_open.get(y, 0)),
            ]
        )
    table = _table(
        [
            "year",
            "national target [MW]",
            "built, in service [MW]",
            "new that year [MW]",
            "above target [MW]",
            "sites open",
        ],
        rows,
        num=range(1, 6),
        raw=(2,),
    )

    # the stacked plot: by growth zone when the plan has them, else by site
    series: list[tuple[str, list[float]]] = []
    how = "site"
    z = p.zones
    if z is not None and len(z) and all(f"it_mw_{y}" in z for y in years):
        how = "growth zone"
        for rd in z.to_dict("records"):
            label = f"{growth_zone_label(rd.get('zone_id', ''))} {rd.get('name', '') or ''}".strip()
            vals = [float(rd[f"it_mw_{y}"]) if is_number(rd[f"it_mw_{y}"]) else 0.0 for y in years]
            series.append((label, vals))
    elif len(sc):
        names = dict(zip(sites.get("site_id", []), sites.get("name", []), strict=False))
        piv = sc.pivot_table(index="site_id", columns="year", values="it_mw", aggfunc="sum")
        piv = piv.reindex(columns=years).fillna(0.0)
        for sid, row in piv.iterrows():
            nm = names.get(sid) or ""
            series.append((f"{sid} {nm}".strip(), [float(v) for v in row]))
    plot = ""
    if series:
        plot = svg_stacked_bars(
            "it_mw_by_year",
            f"IT capacity in service by year and {how} [MW]",
            years,
            series,
            "IT capacity in service [MW]",
            target=[targets.get(y) for y in years] if targets else None,
            target_label="national target",
        )
    return (
        '<section id="by-year"><h2>Capacity by year</h2>'
        "<p>IT capacity is the computing load of the campuses, in megawatts (MW); the power "
        "they draw from the grid is larger by the PUE (see Cooling). The national target is "
        "the IT capacity the country wants in service each year.</p>"
        + table
        + f"<h3>IT capacity in service by year and {how} [MW]</h3>"
        + (plot or "<p class=note>No capacity is built.</p>")
        + (
            "<p class=note>Dashed black marks: the national target of each year. Hover a bar "
            "for its figure.</p>"
            if plot and targets
            else ""
        )
        + "</section>"
    )


def _sites(p: _PlanFolder, s: pd.DataFrame) -> str:
    if not len(s):
        return '<section id="sites"><h2>Sites</h2><p>The plan builds no site.</p></section>'
    rows = []
    for _, r in s.iterrows():
        rows.append(
            [
                _site_anchor(r.get("site_id", "")),
                r.get("name", "") or "",
                fmt_num(r.get("first_year")).replace(",", ""),
                power_cell_text(r),
                fmt_num(r.get("it_mw_final")),
                r.get("cooling", "") or "",
                fmt_num(r.get("pue_annual"), 3),
                fmt_num(r.get("pue_peak"), 3),
                fmt_num(r.get("wue_annual_l_per_kwh"), 2),
                r.get("bus_id", "") or "",
                fmt_num(r.get("water_m3_per_day_final")),
                fmt_num(r.get("peak_draw_mw_final")),
                r.get("zone_id", "") or "",
                r.get("region_id", "") or "",
            ]
        )
    table = _table(
        [
            "site",
            "name",
            "first year",
            "first year of power (why)",
            "IT [MW] final",
            "cooling",
            "PUE annual",
            "PUE peak",
            "WUE [L/kWh]",
            "grid bus",
            "water [m3/day] final",
            "peak draw [MW] final",
            "policy zone (scenario)",
            "region",
        ],
        rows,
        num=(2, 4, 6, 7, 8, 10, 11),
        raw=(0,),
    )
    last = p.years[-1] if p.years else ""
    return (
        '<section id="sites"><h2>Sites</h2>'
        f"<p>Every campus the plan builds, in the order they open. \u201cFinal\u201d means in "
        f"{esc(last)}, the last planning year. Peak draw is the power the campus takes from the "
        "grid on the hottest hour (IT MW x peak PUE). The first year of power is the first "
        "year the site may draw firm power, and what sets it: its bus's queue for a firm "
        "connection, a substation upgrade it needs, or the campus's construction (blank: "
        "from the first planning year). A site's ID opens it on the map "
        "(index.html).</p>" + table + "</section>"
    )


def power_cell_text(row: Any) -> str:
    """A site's first year of power and why (``power_year``, ``power_why`` of the sites
    layer), as the report's table and the map's popup say it; "" when unknown."""
    y = row.get("power_year")
    if not is_number(y):
        return ""
    why = str(row.get("power_why") or "")
    return f"{int(float(y))}" + (f" ({why})" if why and why != "nan" else "")


def _site_anchor(site_id: Any) -> str:
    """A site's ID as the anchor ``site-<id>`` the map's popup links to, and a link back to
    the site on the map (``index.html#site-<id>``), escaped here."""
    from urllib.parse import quote

    sid = "" if site_id is None else str(site_id)
    frag = quote(f"site-{sid}", safe="")
    return (
        f'<a id="site-{esc(sid)}" href="index.html#{esc(frag)}" '
        f'title="show on the map">{esc(sid)}</a>'
    )


#: Kept, unchosen candidates the "Why these sites" section lists (the cheapest by unit cost).
WHY_NOT_ROWS = 8


def _why(p: _PlanFolder, s: pd.DataFrame) -> str:
    """ "Why these sites": each chosen site's decisive figures, the closest losers and the
    screening rules, with the method and its limits (the manifest's ``why_here``)."""
    why = p.manifest.get("why_here")
    if not isinstance(why, dict) or not len(s):
        return ""
    by_site = why.get("sites") or {}
    rows = []
    for _, r in s.iterrows():
        sid = str(r.get("site_id", ""))
        text = r.get("why_here") if isinstance(r.get("why_here"), str) else ""
        text = text or str((by_site.get(sid) or {}).get("why_here", ""))
        rows.append([sid, r.get("name", "") or "", text.removeprefix(f"{sid}: ")])
    body = _table(["site", "name", "why here: the figures that decided it"], rows)
    gpkg = p.dir / "plan.gpkg"
    cand = None
    if path_problem(gpkg) != "file not found":
        cand = _read_layer(gpkg, "candidates", set(plan_layer_names(gpkg)))
    if cand is not None and {"status", "why_not"} <= set(cand.columns):
        lost = cand[cand["status"] == "not_chosen"]
        if "unit_cost_usd_per_mw" in lost:
            lost = lost.sort_values("unit_cost_usd_per_mw", kind="stable")
        if len(lost):
            body += (
                f"<h3>The closest candidates not chosen</h3><p>{fmt_num(len(lost))} candidates "
                f"passed screening but were not chosen; the {min(len(lost), WHY_NOT_ROWS)} "
                "cheapest by unit cost, and why each lost:</p>"
                + _table(
                    ["candidate", "why not"],
                    [
                        [str(r.get("site_id", "")), str(r.get("why_not", ""))]
                        for _, r in lost.head(WHY_NOT_ROWS).iterrows()
                    ],
                )
            )
        out = cand[cand["status"] == "screened_out"]
        if len(out) and "screened_out" in out:
            first = out.groupby("screened_out", sort=False).first()
            n = out.groupby("screened_out", sort=False).size()
            body += (
                "<h3>Candidates screened out</h3><p>Each rule, how many candidates it "
                "removed and one of them as an example (every candidate's reason is in the "
                "map's popup and the candidates layer's <code>why_not</code>):</p>"
                + _table(
                    ["rule", "removed", "example"],
                    [[str(k), fmt_num(n[k]), str(first.at[k, "why_not"])] for k in n.index],
                    num=(1,),
                )
            )
    limits = why.get("limits") or []
    price = why.get("energy_usd_per_mwh")
    price_txt = (
        f" The energy price the unit costs use is {fmt_num(price, 1)} USD/MWh."
        if is_number(price)
        else ""
    )
    resolved = why.get("method_used") == "re-solve"
    lead = (
        "what the plan would cost without it (the plan solved again with the site forbidden), "
        if resolved
        else "how much cheaper (or dearer) it is per MW than the next-best site for the same MW, "
    )
    note = str(why.get("resolve_note") or "")
    return (
        '<section id="why"><h2>Why these sites</h2>'
        "<p>For each chosen site, the few figures that set it apart from the other "
        f"candidates: {lead}and the figures that differ most from the candidates' median "
        "in its favour.</p>"
        + body
        + (_why_resolved(by_site) if resolved else "")
        + f"<h3>Method</h3><p>{esc(str(why.get('method', '')))}{esc(price_txt)}"
        + (f" Re-solves: {esc(note)}." if note else "")
        + "</p>"
        + "<h3>Limits</h3><ul>"
        + "".join(f"<li>{esc(str(x))}</li>" for x in limits)
        + "</ul></section>"
    )


def _why_resolved(by_site: dict[str, Any]) -> str:
    """The table of the re-solves without each chosen site (the manifest's ``why_here``
    ``sites.<id>.resolve``): cost without it, the gaps' worth, who takes its MW."""
    rows = []
    for sid, got in by_site.items():
        r = (got or {}).get("resolve") if isinstance(got, dict) else None
        if not isinstance(r, dict):
            continue
        diff, worth = r.get("cost_without_usd"), r.get("gap_worth_usd")
        if r.get("status") == "infeasible":
            verdict = "no plan without it"
        elif not is_number(diff):
            verdict = f"no figure (re-solve: {r.get('status', '')})"
        else:
            verdict = "clear" if r.get("clear") else "within the gaps"
        rows.append(
            [
                str(sid),
                fmt_num(r.get("it_mw_final")),
                fmt_num(float(diff) / 1e6, 2) if is_number(diff) else "–",
                fmt_num(float(worth) / 1e6, 2) if is_number(worth) else "–",
                verdict,
                str(r.get("taken_by") or ""),
                fmt_num(r.get("time_s"), 1),
            ]
        )
    if not rows:
        return ""
    return (
        "<h3>Without each site</h3><p>The plan solved again with each chosen site forbidden "
        "(<code>why_here.csv</code>): what it would cost more (a negative figure: less), "
        "the two solves' gaps' worth (a difference within it is no clear advantage), and "
        "the sites that take its MW.</p>"
        + _table(
            [
                "site",
                "IT MW",
                "cost without it [M USD]",
                "gaps' worth [M USD]",
                "verdict",
                "its MW taken by",
                "re-solve [s]",
            ],
            rows,
            num=(1, 2, 3, 6),
        )
    )


def _zones(p: _PlanFolder) -> str:
    z = p.zones
    if z is None:
        return ""
    if not len(z):
        return (
            '<section id="zones"><h2>Growth zones</h2><p>The plan has no growth zone.</p></section>'
        )
    years = [y for y in p.years if f"it_mw_{y}" in z]
    rows = []
    for _, r in z.iterrows():
        rows.append(
            [
                growth_zone_label(r.get("zone_id", "")),
                r.get("name", "") or "",
                r.get("site_ids", "") or "",
                *[fmt_num(r.get(f"it_mw_{y}")) for y in years],
                fmt_num(r.get("it_mw_final")),
                fmt_num(r.get("first_year")).replace(",", ""),
                r.get("cooling_mix", "") or "",
                r.get("water_sources", "") or "",
                fmt_num(r.get("water_m3_per_day_final")),
                r.get("bus_ids", "") or "",
                r.get("upgrades", "") or "",
                fmt_usd(r.get("capex_usd")),
            ]
        )
    k = len(years)
    table = _table(
        [
            "growth zone",
            "name",
            "sites",
            *[f"IT {y} [MW]" for y in years],
            "IT final [MW]",
            "first year",
            "cooling mix",
            "water sources",
            "water final [m3/day]",
            "grid buses",
            "grid upgrades",
            "capital cost",
        ],
        rows,
        num=[*range(3, 3 + k + 2), 3 + k + 4, 3 + k + 7],
    )
    return (
        '<section id="zones"><h2>Growth zones</h2>'
        "<p>Growth zones (GZ01, GZ02 ..., as in <code>zones.geojson</code>) "
        "group the chosen sites that share land, a grid connection or a water source; they "
        "are the plan's, unlike the policy zones of the scenario's zones layer shown in the "
        "Sites table. Capital cost is undiscounted (campus capital, site opening, tie lines and "
        "pipelines).</p>" + table + "</section>"
    )


def _costs(p: _PlanFolder) -> str:
    """The cost section: the parts [M USD, present value] grouped as money spent, money
    earned (waste heat) and policy weights (the designated-zone bonus), with their subtotals and
    the net present cost, and the heat the plan sells (or why none)."""
    costs = p.manifest.get("costs_usd") or {}
    total = p.total_cost_usd()
    nums = {k: float(v) for k, v in costs.items() if is_number(v)}
    split = cost_split(nums)

    def row(k: str, v: Any) -> list[str]:
        return [
            esc(COST_LABELS.get(k, k)),
            esc(k),
            esc(fmt_num(float(v) / 1e6, 1) if is_number(v) else "–"),
        ]

    def sub(label: str, v: float) -> list[str]:
        return [f"<b>{esc(label)}</b>", "", f"<b>{esc(fmt_num(v / 1e6, 1))}</b>"]

    named = set(SPEND_PARTS) | set(EARN_PARTS) | set(WEIGHT_PARTS) | set(DELAY_PARTS)
    rows = [row(k, costs[k]) for k in SPEND_PARTS if k in costs]
    rows += [row(k, v) for k, v in costs.items() if k not in named]
    rows.append(sub("Spent", split["spent_usd"] + split["other_usd"]))
    rows += [row(k, costs[k]) for k in EARN_PARTS if k in costs]
    rows += [row(k, costs[k]) for k in WEIGHT_PARTS if k in costs]
    rows += [row(k, costs[k]) for k in DELAY_PARTS if k in costs]
    rows.append(sub("Net present cost", total))
    table = _table(["cost part", "key", "present value [M USD]"], rows, num=(2,), raw=(0, 1, 2))
    nz = [(k, float(v)) for k, v in costs.items() if is_number(v) and abs(float(v)) >= 0.5]
    plot = ""
    if nz:
        plot = svg_hbars(
            "costs",
            "Cost breakdown, present value [bn USD]",
            [COST_LABELS.get(k, k) for k, _ in nz],
            [v / 1e9 for _, v in nz],
            "present value [bn USD]",
            value_labels=[fmt_usd(v) for _, v in nz],
        )
    cst = p.sc.get("costs") or {}
    return (
        '<section id="costs"><h2>Cost</h2>'
        "<p>Every cost is a present value: each year's spending discounted to the first "
        f"planning year at {esc(_pct(cst.get('discount_rate')))} a year, in USD of "
        f"{esc(cst.get('currency_year', '–'))}. The plan spends "
        f"{esc(fmt_usd(split['spent_usd'] + split['other_usd']))} (campus capital, cooling, "
        "site opening and tie lines, pipelines, water, grid upgrades, energy, serving demand)"
        + (
            f" and earns {esc(fmt_usd(-split['earned_usd']))} selling waste heat"
            if abs(split["earned_usd"]) >= 0.5
            else ""
        )
        + ". The designated-zone bonus (policy.zones, prefer mode) is a policy weight: the plan "
        "counts it to prefer building in designated zones, but nobody pays it"
        + (
            f" ({esc(fmt_usd(split['policy_weight_usd']))} here)"
            if abs(split["policy_weight_usd"]) >= 0.5
            else ""
        )
        + f". Net present cost: {esc(fmt_usd(total))}. Credits and weights are negative (in "
        "orange).</p>"
        + (plot or "<p class=note>No cost part is different from zero.</p>")
        + table
        + _heat(p)
        + "</section>"
    )


def _heat(p: _PlanFolder) -> str:
    """Waste heat sold per site: MW heat, MWh and USD a year (undiscounted) by year, and
    the present value [USD]; or why the plan sells none (the manifest's ``heat``)."""
    h = p.manifest.get("heat")
    if not h:
        return ""
    if not isinstance(h, dict) or not isinstance(h.get("sites", []), list):
        return (
            "<h3>Waste heat sold</h3><p class=bad>manifest.json: field <code>heat</code> is "
            "not an object with a list of <code>sites</code>; the heat sold is not shown.</p>"
        )
    out = "<h3>Waste heat sold</h3>"
    sites = h.get("sites") or []
    if not sites:
        return (
            out
            + "<p>The plan sells no waste heat: "
            + esc(h.get("why_none") or "no reason recorded")
            + ".</p>"
        )
    rows = []
    for e in sites:
        for y in sorted(e.get("mwh_by_year") or {}, key=int):
            rows.append(
                [
                    e.get("site_id", ""),
                    e.get("cooling", ""),
                    ", ".join(map(str, e.get("sinks") or [])),
                    y,
                    fmt_num((e.get("heat_mw_by_year") or {}).get(y), 1),
                    fmt_num(e["mwh_by_year"][y]),
                    fmt_usd((e.get("usd_by_year") or {}).get(y)),
                ]
            )
    table = _table(
        [
            "site",
            "cooling",
            "heat sinks",
            "year",
            "heat [MW, average]",
            "heat sold [MWh a year]",
            "paid [USD a year]",
        ],
        rows,
        num=(4, 5, 6),
    )
    return (
        out + "<p>Cooling that recovers heat at a useful temperature sells it to heat sinks within "
        "reach (share of IT heat recovered: "
        + esc(", ".join(f"{k} {float(v):g}" for k, v in (h.get("recovery_share") or {}).items()))
        + f"). Present value of all heat sold: {esc(fmt_usd(h.get('value_usd')))}.</p>"
        + table
    )


def onsite_words(ons: pd.DataFrame, sched: pd.DataFrame, relief: pd.DataFrame) -> dict[str, str]:
    """The trade-off of each site's on-site generation in words {site_id: sentence}, from
    the plan's ``onsite.csv``, ``schedule.csv`` and ``draw_relief.csv`` (last year)."""
    out: dict[str, str] = {}
    if not len(ons):
        return out
    last = int(ons["year"].max())
    for s, g in ons[ons["year"] == last].groupby("site_id"):
        parts = [
            f"{fmt_num(as_float(r.capacity_mw), 0)} MW {str(r.technology).replace('_', ' ')}"
            for r in g.itertuples(index=False)
        ]
        row = sched[(sched["site_id"].astype(str) == str(s)) & (sched["year"] == last)]
        peak = float(row["peak_draw_mw"].sum()) if len(row) else 0.0
        most = 0.0
        if len(relief):
            rel = relief[(relief["site_id"].astype(str) == str(s)) & (relief["year"] == last)]
            if len(rel):
                most = float(rel.groupby("snapshot")["relief_mw"].sum().max())
        text = f"{_list_words(parts)} on site in {last}"
        if bool(g["islanded"].map(_ok).any()):
            text += (
                f": the campus runs islanded, supplying its {fmt_num(peak, 0)} MW peak draw "
                "itself, with no grid connection to pay for or wait for"
            )
        elif most > 0:
            text += (
                f": it takes up to {fmt_num(most, 0)} MW off the campus's draw from the grid "
                f"({fmt_num(peak, 0)} MW at peak), MW its bus and lines need not carry"
            )
        out[str(s)] = text
    return out


def _onsite(p: _PlanFolder) -> str:
    """On-site generation and storage built per site (``onsite.csv``), with its cost,
    output and emissions, and the trade-off in words; empty without it."""
    ons = p.onsite
    if not len(ons):
        return ""
    rows = []
    for (s, o), g in ons.sort_values("year").groupby(["site_id", "option"], sort=True):
        last = g.iloc[-1]
        first = g[g["capacity_mw"] > 0]["year"].min()
        rows.append(
            [
                s,
                o,
                str(last["technology"]).replace("_", " "),
                first,
                fmt_num(float(last["capacity_mw"]), 0),
                fmt_num(float(last["mwh_per_year"]), 0),
                fmt_num(float(last["co2_t_per_year"]), 0),
                fmt_usd(float(g["cost_usd"].sum())),
                "yes" if _ok(last["islanded"]) else "no",
            ]
        )
    table = _table(
        [
            "site",
            "option",
            "technology",
            "first year",
            "MW (last year)",
            "output [MWh a year]",
            "CO2 [t a year]",
            "cost [USD, present value]",
            "islanded",
        ],
        rows,
        num=(4, 5, 6, 7),
    )
    words = onsite_words(ons, p.schedule, p.relief)
    total = float(ons["cost_usd"].sum())
    text = (
        "<p>Campuses may build generation and storage behind the meter: its output lowers "
        "their draw from the grid, so a campus can grow where its bus or lines are full, "
        "or run islanded where the grid cannot host it at all, at the price of the plant "
        f"(here {esc(fmt_usd(total))} in present value: annualised capital, fixed and "
        "variable costs) and of its emissions and water. Storage discharges in stressed "
        "snapshots and charges in others (one cycle a day at most).</p><ul>"
        + "".join(f"<li>Site {esc(s)}: {esc(w)}.</li>" for s, w in words.items())
        + "</ul>"
    )
    return '<section id="onsite"><h2>On-site generation</h2>' + text + table + "</section>"


def _flexibility(p: _PlanFolder) -> str:
    """Firm and flexible IT MW per site and year and the curtailment they take
    (``schedule.csv``'s ``firm_it_mw, flexible_it_mw``, ``curtailment.csv``: MW, stress
    hours, MWh, USD a year), with the trade-off in words; "" when flexibility is off."""
    f = p.sc.get("flexibility") or {}
    if not f.get("enabled"):
        return ""
    sc, cu = p.schedule, p.curtailment
    head = '<section id="flexibility"><h2>Flexible connections</h2>'
    words = (
        "<p>Each campus may connect part of its IT MW <b>flexible</b>: the grid may curtail "
        f"it in its stressed snapshots, by at most {_pct(f.get('depth', 0.3))} of the "
        "flexible draw at once and "
        f"{_pct(f.get('budget_share', 0.005), 2)} of its yearly energy, at "
        f"{esc(fmt_usd(f.get('curtail_usd_per_mwh')))} per MWh of compute lost. The "
        "<b>firm</b> MW are never curtailed. A flexible MW is worth taking where the grid "
        "binds: it lets a cheap or early site take load its lines or substation could not "
        "host firm, for the cost of the compute lost in a few hours a year, instead of a "
        "dearer or later site, or a grid upgrade. Snapshots are representative, not "
        "chronological: a curtailment counts the stress hours of its snapshot; the longest "
        "single event is not modelled.</p>"
    )
    if "flexible_it_mw" not in sc.columns or not (sc["flexible_it_mw"].astype(float) > 1e-6).any():
        return (
            head + words + "<p>The plan connects every MW firm: curtailment pays nowhere "
            "(the grid does not bind where it would, or the compute lost costs more than the "
            "alternatives).</p></section>"
        )
    flex = sc[sc["flexible_it_mw"].astype(float) > 1e-6]
    cu_key = {}
    if len(cu):
        g = cu.groupby(["site_id", "year"])
        cu_key = {
            (str(k[0]), _as_int(k[1])): (
                float(v["curtailed_mw"].to_numpy(dtype=float).max()),
                float(v["hours"].to_numpy(dtype=float).sum()),
                float(v["curtailed_mwh"].to_numpy(dtype=float).sum()),
                float(v["cost_usd"].to_numpy(dtype=float).sum()),
            )
            for k, v in g
        }
    rows = []
    for r in flex.itertuples(index=False):
        c = cu_key.get((str(r.site_id), _as_int(r.year)), (0.0, 0.0, 0.0, 0.0))
        rows.append(
            [
                r.site_id,
                _as_int(r.year),
                fmt_num(as_float(r.it_mw)),
                fmt_num(as_float(r.firm_it_mw), 1),
                fmt_num(as_float(r.flexible_it_mw), 1),
                fmt_num(c[0], 1),
                fmt_num(c[1], 1),
                fmt_num(c[2]),
                fmt_usd(c[3]),
            ]
        )
    total = sum(v[3] for v in cu_key.values())
    return (
        head
        + words
        + f"<p>{len(set(flex['site_id']))} site(s) connect flexible; the curtailment costs "
        f"{esc(fmt_usd(total))} over the planning years (not discounted).</p>"
        + _table(
            [
                "site",
                "year",
                "IT [MW]",
                "firm IT [MW]",
                "flexible IT [MW]",
                "curtailed at most [MW]",
                "curtailed [h a year]",
                "curtailed [MWh a year]",
                "compute lost [USD a year]",
            ],
            rows,
            num=(2, 3, 4, 5, 6, 7, 8),
        )
        + "</section>"
    )


def _gen_counts(counts: dict[str, float]) -> str:
    """``"B200 8,718 + GB300 20,000"`` [accelerators]; "–" when none."""
    return " + ".join(f"{g} {fmt_num(n)}" for g, n in counts.items()) or "–"


def _summary_compute(p: _PlanFolder) -> str:
    """The accelerators in service in the last year in words (the manifest's ``compute``,
    :func:`siting.results.compute_out.compute_summary`): by generation, compute units and
    tokens per MWh; "" without a compute section."""
    rows = (p.manifest.get("compute") or {}).get("years") or []
    if not rows:
        return ""
    r = rows[-1]
    acc = r.get("accelerators") or {}
    if not acc:
        return f"No accelerators are in service in {esc(r.get('year'))}."
    tok = r.get("tokens_per_mwh")
    n = float(r.get("accelerators_total") or 0.0)
    return (
        f"In {esc(r.get('year'))} it runs {_fig(n, fmt_num(n), 'accelerators_final')}"
        f" accelerators ({esc(_gen_counts(acc))}), "
        f"{esc(fmt_num(r.get('compute_units')))} compute units (H100 = 1) in "
        f"{esc(fmt_mw(r.get('it_used_mw')))} of IT"
        + (
            f", at {esc(fmt_num(float(tok) / 1e6))} million tokens per MWh"
            if is_number(tok)
            else ""
        )
        + "."
    )


#: The compute section's words on its units and the tokens conversion.
COMPUTE_WORDS = (
    "<p>Each campus's <b>shell</b> (land, building, grid connection, cooling plant) lasts "
    "decades; its IT is installed in <b>generations</b> of accelerators and retired at the "
    "end of each one's service life, so the IT MW in use in one shell rise as denser "
    "generations arrive, within its envelope (the IT MW it is built and connected for). "
    "<b>Compute</b> is counted in compute units (an H100 = 1, by dense FP8 throughput); "
    "compute delivered is compute units x 8,760 h x the average utilisation, in compute "
    "unit-hours a year. Energy is the facility's (IT in use x utilisation x annual PUE x "
    "8,760 h): the envelope's unused MW run nothing.</p>"
)
#: The tokens-per-MWh footnote.
TOKENS_NOTE = (
    "<p class=note>Tokens per MWh: tokens a year (accelerators x the generation table's "
    "tokens per second x 3,600 s x 8,760 h x utilisation) over the facility MWh of the IT in "
    "use; the utilisation cancels, so it is the hardware's figure while it runs. Tokens per "
    "second per accelerator are MLPerf Inference Llama 2 70B offline results (vendor "
    "submissions and claims; the table's source column names each), a benchmark for one "
    "model at high batch: real services run below it, and other models differ.</p>"
)


def _compute(p: _PlanFolder) -> str:
    """Compute (issue 22): national totals per year (the manifest's ``compute``) and, per
    site and year, the generations running (a refresh shown as a change), accelerators,
    IT in use against the shell's envelope, compute, energy per compute, tokens per MWh,
    hardware installed and retired (``schedule.csv``'s compute columns, ``compute.csv``);
    "" without a compute section."""
    summary = p.manifest.get("compute") or {}
    sc = p.schedule
    if not summary and "accelerators" not in sc.columns:
        return ""
    head = '<section id="compute"><h2>Compute</h2>' + COMPUTE_WORDS
    national = _compute_national(summary.get("years") or [])
    sites = _compute_sites(p)
    return head + national + sites + TOKENS_NOTE + "</section>"


def _compute_national(years: list[dict[str, Any]]) -> str:
    """National totals per year, with the year's targets in IT MW, accelerators and
    compute, so a target in any one unit reads in all three."""
    if not years:
        return ""
    sold = any(r.get("export_accelerators") for r in years)
    rows = []
    for r in years:
        targets = [
            fmt_num(r["target_it_mw"]) + " MW" if is_number(r.get("target_it_mw")) else "",
            _gen_counts(r.get("target_accelerators") or {}) if r.get("target_accelerators") else "",
            fmt_num(r["target_compute_units"]) + " units"
            if is_number(r.get("target_compute_units"))
            else "",
        ]
        tok = r.get("tokens_per_mwh")
        rows.append(
            [
                _as_int(r.get("year")),
                fmt_num(r.get("it_mw")),
                fmt_num(r.get("it_used_mw"), 1),
                _gen_counts(r.get("accelerators") or {}),
                fmt_num(r.get("compute_units")),
                fmt_num(float(r.get("compute_unit_h") or 0.0) / 1e6, 1),
                fmt_num(float(tok) / 1e6) if is_number(tok) else "–",
                "; ".join(t for t in targets if t) or "–",
            ]
        )
        if sold:
            rows[-1].append(
                _gen_counts(r.get("export_accelerators") or {})
                + (
                    f" ({fmt_num(r.get('export_compute_units'))} units, "
                    f"{fmt_num(r.get('export_it_mw'), 1)} MW)"
                    if r.get("export_accelerators")
                    else ""
                )
            )
    head = [
        "year",
        "IT envelope [MW]",
        "IT in use [MW]",
        "accelerators in service",
        "compute [units, H100 = 1]",
        "compute delivered [M unit-h a year]",
        "tokens per MWh [millions]",
        "targets",
    ]
    if sold:
        head.append("of which exported (in service here, compute sold abroad, not toward targets)")
    return "<h3>National, by year</h3>" + _table(head, rows, num=(1, 2, 4, 5, 6))


def _refresh_words(before: set[str], now: set[str], first: bool, renewed: bool) -> str:
    """A site-year's change of generations: ``"first fit-out"``, ``"refresh: + NEW, - OLD"``,
    ``"renewed"`` (the same generations, cohorts retired and replaced: ``renewed``),
    ``"all retired"`` or ""."""
    if first:
        return "first fit-out"
    added, gone = sorted(now - before), sorted(before - now)
    if gone and not now:
        return "all retired (" + ", ".join(f"- {g}" for g in gone) + ")"
    if added or gone:
        return "refresh: " + ", ".join([f"+ {g}" for g in added] + [f"- {g}" for g in gone])
    return "renewed" if renewed and now else ""


def _compute_sites(p: _PlanFolder) -> str:
    """Per site and year: generations (a refresh as a change), accelerators by generation,
    new and retired, IT in use within the envelope, compute, energy per compute, tokens per
    MWh, hardware installed [USD, not discounted]."""
    sc = p.schedule
    if not len(sc) or "accelerators" not in sc.columns:
        return "<p>No site runs accelerators.</p>"
    cp = p.compute
    by_gen: dict[tuple[str, int], dict[str, float]] = {}
    if len(cp):
        for r in cp.itertuples(index=False):
            if as_float(r.accelerators_live) > 0.5:
                key = (str(r.site_id), _as_int(r.year))
                by_gen.setdefault(key, {})[str(r.generation)] = as_float(r.accelerators_live)
    rows = []
    for sid, grp in sc.sort_values(["site_id", "year"]).groupby("site_id", sort=True):
        before: set[str] = set()
        started = False
        for r in grp.itertuples(index=False):
            gens = str(r.generations) if isinstance(r.generations, str) else ""
            now = {g for g in gens.split("+") if g}
            renewed = min(as_float(r.accelerators_new), as_float(r.accelerators_retired)) > 0.5
            change = _refresh_words(before, now, not started and bool(now), renewed)
            started = started or bool(now)
            before = now
            acc = by_gen.get((str(sid), _as_int(r.year)))
            rows.append(
                [
                    esc(sid),
                    _as_int(r.year),
                    esc(gens or "–"),
                    esc(change),
                    esc(_gen_counts(acc) if acc else fmt_num(r.accelerators)),
                    fmt_num(r.accelerators_new),
                    fmt_num(r.accelerators_retired),
                    fmt_num(r.it_mw),
                    fmt_num(r.it_used_mw, 1),
                    fmt_num(r.compute_units),
                    fmt_num(r.kwh_per_compute_unit_h, 3),
                    fmt_num(as_float(r.tokens_per_mwh) / 1e6)
                    if is_number(r.tokens_per_mwh)
                    else "–",
                    fmt_usd(r.hardware_capex_usd),
                ]
            )
    return "<h3>By site and year</h3>" + _table(
        [
            "site",
            "year",
            "generations running",
            "change",
            "accelerators in service",
            "installed",
            "retired",
            "IT envelope [MW]",
            "IT in use [MW]",
            "compute [units]",
            "facility kWh per unit-h",
            "tokens per MWh [millions]",
            "hardware installed",
        ],
        rows,
        num=range(5, 13),
        raw=range(0, 5),
    )


def _water(p: _PlanFolder) -> str:
    wl = p.water_links
    head = '<section id="water"><h2>Water</h2>'
    water_on = bool((p.sc.get("water") or {}).get("enabled", True))
    if wl is None or not len(wl):
        why = (
            "Water was not modelled in this plan."
            if not water_on
            else "The plan draws no water: its campuses use dry cooling or have no source."
        )
        return head + f"<p>{why}</p></section>"
    years = p.years
    piv = wl.pivot_table(index="source_id", columns="year", values="m3_per_day", aggfunc="sum")
    piv = piv.reindex(columns=years).fillna(0.0)
    series = [(str(sid), [float(v) for v in row]) for sid, row in piv.iterrows()]
    plot = svg_stacked_bars(
        "water_by_source",
        "Water drawn by source and year [m3/day]",
        years,
        series,
        "water drawn [m3/day]",
    )
    last = years[-1]
    links = wl[wl["year"] == last].sort_values("m3_per_day", ascending=False)
    rows = [
        [r.source_id, r.site_id, fmt_num(r.m3_per_day), fmt_num(r.distance_km, 1)]
        for r in links.itertuples(index=False)
    ]
    table = _table(
        ["water source", "site", f"water in {last} [m3/day]", "pipeline [km]"], rows, num=(2, 3)
    )
    pot = (p.sc.get("water") or {}).get("potable_cap_m3_per_day")
    cap = (p.sc.get("water") or {}).get("cap_m3_per_day")
    return (
        head
        + "<p>Each campus's evaporative or liquid cooling needs water: 24 h x utilisation x IT "
        "MW x WUE, in cubic metres a day (m3/day), piped from sources within reach."
        + (f" Potable water is capped at {esc(fmt_num(pot))} m3/day." if is_number(pot) else "")
        + (
            f" All campus water together, from every source, is capped at {esc(fmt_num(cap))} "
            "m3/day in every year."
            if is_number(cap)
            else ""
        )
        + "</p><h3>Water drawn by source and year [m3/day]</h3>"
        + plot
        + f"<h3>Pipelines in {esc(last)}</h3>"
        + table
        + "</section>"
    )


def _worst_branches(flows: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` branches loaded most in any year and snapshot, one row each (``metric`` [%],
    ``worst_snapshot``), from a ``flows.csv`` with a row per snapshot, or an older one with
    the peak's rows and the worst snapshot's loading (``max_loading_pct``)."""
    if not len(flows):
        return pd.DataFrame()
    f = flows.copy()
    metric = f["loading_pct"]
    if "max_loading_pct" in f and f["max_loading_pct"].notna().any():
        metric = f["max_loading_pct"].fillna(f["loading_pct"])
    f["metric"] = pd.to_numeric(metric, errors="coerce").fillna(0.0)
    snap = f["max_loading_snapshot"] if "max_loading_snapshot" in f else f.get("snapshot")
    f["worst_snapshot"] = snap if snap is not None else ""
    idx = f.groupby("branch_id")["metric"].idxmax()
    return f.loc[idx].sort_values(["metric", "branch_id"], ascending=[False, True]).head(n)


def _grid(p: _PlanFolder) -> str:
    """The grid section: the most loaded branches, the upgrades and N-1 security (or a
    sentence with the flat energy price when the grid was not modelled)."""
    head = '<section id="grid"><h2>Grid</h2>'
    g = p.sc.get("grid") or {}
    if not p.grid_modelled():
        ep = (p.sc.get("costs") or {}).get("energy_usd_per_mwh")
        return (
            head + "<p>The transmission grid was not modelled in this plan (no grid layer, or "
            "<code>grid: {enabled: false}</code>): there are no line loadings or upgrades, and "
            "campus energy is priced at "
            + (f"{esc(fmt_num(ep, 2))} USD/MWh" if is_number(ep) else "a flat price")
            + ".</p></section>"
        )
    plot, n_shown = _branch_loading_plot(p)
    parts = [
        head,
        "<p>Each line's loading is its DC power flow as a share of its thermal rating in that "
        "year (upgrades in service included), at the worst of the modelled snapshots. The "
        "dashed red line is the rating: 100 %.</p>",
        f"<h3>Most loaded branches (top {n_shown}) [% of rating]</h3>",
        plot,
    ]
    parts.append("<h3>Grid upgrades</h3>")
    parts.append(_grid_upgrades(p.upgrades))
    n1 = g.get("n_minus_1") or {}
    if n1.get("enabled"):
        parts.append(_grid_n_minus_1(p, n1))
    parts.append("</section>")
    return "".join(parts)


def _branch_loading_plot(p: _PlanFolder) -> tuple[str, int]:
    """The :data:`TOP_BRANCHES` most loaded branches as bars [% of thermal rating] (red
    above 100 %, upgraded ones marked), and how many are drawn ("" and 0 without flows)."""
    top = _worst_branches(p.flows, TOP_BRANCHES)
    upgraded = set()
    if len(p.upgrades):
        upgraded = set(p.upgrades[p.upgrades["asset"] == "branch"]["asset_id"].astype(str))
    labels, vals, tips, vlabels, colours = [], [], [], [], []
    for _, r in top.iterrows():
        bid = str(r["branch_id"])
        lab = f"branch {bid}"
        if "from_bus" in r and "to_bus" in r:
            lab += f" ({r['from_bus']}–{r['to_bus']})"
        if bid in upgraded:
            lab += " upgraded"
        labels.append(lab)
        v = float(r["metric"])
        vals.append(v)
        snap = r["worst_snapshot"]
        snap = snap if isinstance(snap, str) and snap else "peak"
        vlabels.append(f"{fmt_num(v)} % ({int(r['year'])}, {snap})")
        tips.append(
            f"{lab}: {fmt_num(v, 1)} % of {fmt_num(r.get('rating_mw'))} MW in {int(r['year'])} "
            f"({snap})"
        )
        colours.append(PALETTE[5] if v > 100.0 + 1e-6 else PALETTE[0])
    plot = ""
    if labels:
        plot = svg_hbars(
            "branch_loading",
            f"Peak branch loadings, top {len(labels)} [% of rating]",
            labels,
            vals,
            "highest loading over the years and snapshots [% of thermal rating]",
            value_labels=vlabels,
            tips=tips,
            colours=colours,
            ref=100.0,
            ref_label="100 % (rating)",
        )
    return plot, len(labels)


def _grid_upgrades(ups: pd.DataFrame) -> str:
    """The grid upgrades the plan buys (``upgrades.csv``: added MW, cost [USD, not
    discounted], lead time [years]) as a table, or a sentence saying there is none."""
    if len(ups):
        rows = [
            [
                "line" if r.asset == "branch" else r.asset,
                r.asset_id,
                _as_int(r.year),
                fmt_num(r.added_mw),
                fmt_usd(r.cost_usd),
                fmt_num(r.lead_time_years, 1),
            ]
            for r in ups.itertuples(index=False)
        ]
        return (
            "<p>What the plan buys to carry the campuses: extra rating on lines "
            "(reconductoring) and extra substation headroom, each in service from its year "
            "(costs not discounted here).</p>"
            + _table(
                [
                    "asset",
                    "ID",
                    "in service from",
                    "added [MW]",
                    "cost",
                    "lead time [years]",
                ],
                rows,
                num=(2, 3, 4, 5),
            )
        )
    return "<p>The plan needs no grid upgrade.</p>"


def _grid_n_minus_1(p: _PlanFolder, n1: dict[str, Any]) -> str:
    """N-1 security as the scenario set it (``n1``: ``grid.n_minus_1``) and the ten tightest
    post-outage cases of ``contingencies.csv`` (flows [MW], loading [% of emergency rating])."""
    out = (
        "<h3>N-1 security</h3><p>From "
        f"{esc(n1.get('from_year') or p.years[0])}, after the outage of any one checked "
        f"line (outages: {esc(n1.get('outages', 'all'))}; snapshots: "
        f"{esc(n1.get('snapshots', 'peak'))}), every line stays within its emergency "
        "rating.</p>"
    )
    c = p.contingencies
    if len(c):
        c = c.sort_values("loading_pct", ascending=False).head(10)
        rows = [
            [
                r.branch_id,
                r.outage_id,
                _as_int(r.year),
                r.snapshot,
                fmt_num(r.post_flow_mw),
                fmt_num(r.rating_emergency_mw),
                fmt_num(r.loading_pct, 1),
            ]
            for r in c.itertuples(index=False)
        ]
        out += "<p>The ten tightest cases:</p>" + _table(
            [
                "branch",
                "after outage of",
                "year",
                "snapshot",
                "flow after [MW]",
                "emergency rating [MW]",
                "loading [%]",
            ],
            rows,
            num=(2, 4, 5, 6),
        )
    return out


def _cooling(s: pd.DataFrame) -> str:
    head = '<section id="cooling"><h2>Cooling: PUE and WUE by site</h2>'
    if not len(s) or "pue_annual" not in s:
        return head + "<p>No site, so no cooling figures.</p></section>"
    labels = [f"{r.get('site_id', '')} {r.get('name', '') or ''}".strip() for _, r in s.iterrows()]
    pue = pd.to_numeric(s["pue_annual"], errors="coerce").fillna(1.0).tolist()
    peak = (
        pd.to_numeric(s["pue_peak"], errors="coerce").tolist()
        if "pue_peak" in s
        else [None] * len(s)
    )
    peak = [None if not is_number(v) else float(v) for v in peak]
    wue = (
        pd.to_numeric(s["wue_annual_l_per_kwh"], errors="coerce").fillna(0.0).tolist()
        if "wue_annual_l_per_kwh" in s
        else [0.0] * len(s)
    )
    cool = [str(r.get("cooling", "") or "") for _, r in s.iterrows()]
    kinds = sorted(set(cool))
    col = {k: PALETTE[(i + 2) % len(PALETTE)] for i, k in enumerate(kinds)}
    colours = [col[c] for c in cool]
    b1, h1 = _hbar_panel(
        0.0,
        labels,
        pue,
        "PUE [facility power / IT power]",
        colours=colours,
        value_labels=[f"{fmt_num(v, 3)} ({c})" for v, c in zip(pue, cool, strict=True)],
        markers=peak,
        marker_label="peak PUE",
        x_min=1.0,
        heading="Annual PUE (bars) and peak-hour PUE (black ticks)",
    )
    b2, h2 = _hbar_panel(
        h1 + 6,
        labels,
        wue,
        "WUE [litres of water per kWh of IT energy]",
        colours=colours,
        value_labels=[fmt_num(v, 2) for v in wue],
        heading="Annual WUE",
    )
    plot = svg("pue_wue", "PUE and WUE by site", 880, h1 + h2 + 16, b1 + b2)
    legend = ", ".join(
        f'<span style="color:{col[k]}">\u25a0</span> {esc(k or "unknown")}' for k in kinds
    )
    return (
        head + "<p>PUE (power usage effectiveness) is the campus's total power over its IT power: "
        "1.0 would mean no cooling or losses. WUE (water usage effectiveness) is the water "
        "its cooling evaporates per kWh of IT energy. Both follow the local climate and the "
        f"chosen cooling technology. Colours: {legend}.</p>" + plot + "</section>"
    )


def _amount(v: Any, unit: str) -> str:
    """A setting's amount in its unit (USD as M/bn USD)."""
    if not is_number(v):
        return "–"
    return fmt_usd(v) if unit == "USD" else f"{fmt_num(v)} {unit}"


def _setting_cells(line: dict[str, Any], checks: dict[str, bool]) -> list[str]:
    """The cells of one setting line (escaped HTML): setting, key, year, required,
    achieved, met, binding, shadow price, check."""
    unit = str(line.get("unit", ""))
    sense = "≥" if line.get("sense") == ">=" else "≤"
    req = f"{sense} {_amount(line.get('required'), unit)}"
    got = _amount(line.get("achieved"), unit)
    if is_number(line.get("required_share")):
        req += f" ({_pct(line['required_share'])} of the national IT MW)"
        got += f" ({_pct(line.get('achieved_share'))})"
    if is_number(line.get("short")) and is_number(line.get("cost_usd")):  # a soft target
        got += (
            f"; short {_amount(line['short'], unit)}, cost of delay "
            f"{fmt_usd(float(line['cost_usd']))}"
        )
    met = (
        '<span class="ok">met</span>'
        if _ok(line.get("met"))
        else '<span class="bad">not met</span>'
    )
    price = line.get("shadow_price")
    price_txt = (
        f"{fmt_num(price, 2)} {line.get('shadow_unit', '')}".strip()
        if is_number(price)
        else "– (see below)"
    )
    name = str(line.get("check") or "")
    if not name:
        chk = "– (nothing required)"
    elif name in checks:
        chk = ("passed: " if checks[name] else "FAILED: ") + name
    else:
        chk = "not recorded: " + name
    year = line.get("year")
    return [
        esc(line.get("setting", "")),
        f"<code>{esc(line.get('key', ''))}</code>",
        esc("horizon" if year is None else year),
        esc(req),
        esc(got),
        met,
        esc("yes" if _ok(line.get("binding")) else "no"),
        esc(price_txt),
        esc(chk),
    ]


def _settings(p: _PlanFolder) -> str:
    """Every policy, cap and target the scenario sets: required, achieved, met, binding,
    shadow price and the verification check that recomputes it (the manifest's
    ``settings``, :func:`siting.results.settings.settings_lines`)."""
    lines = p.manifest.get("settings")
    if lines is None:
        return ""
    head = '<section id="settings"><h2>Settings and how the plan meets them</h2>'
    if not isinstance(lines, list) or not all(isinstance(x, dict) for x in lines):
        return (
            head + "<p class=bad>manifest.json: field <code>settings</code> is not a list of "
            "setting lines (objects); the settings are not shown.</p></section>"
        )
    if not lines:
        return head + "<p>The scenario sets no target, share or cap.</p></section>"
    checks = {
        str(c.get("check", "")): _ok(c.get("ok")) for c in p.manifest.get("verification") or []
    }
    rows = [_setting_cells(line, checks) for line in lines]
    n_bind = sum(_ok(line.get("binding")) for line in lines)
    n_met = sum(_ok(line.get("met")) for line in lines)
    notes = sorted({str(line.get("shadow_note") or "") for line in lines} - {""})
    table = _table(
        [
            "setting",
            "scenario key",
            "year",
            "required",
            "achieved",
            "met",
            "binding",
            "shadow price",
            "verification check",
        ],
        rows,
        num=(3, 4),
        raw=tuple(range(9)),
    )
    return (
        head + f"<p>{n_met} of {len(lines)} requirements are met; {n_bind} bind (the plan sits at "
        "the limit, so a tighter setting would change or cost it). Achieved values are "
        "recomputed from the plan's tables (<code>schedule.csv</code>, the water links, "
        "<code>upgrades.csv</code>, the CO2 metric), as the verification does.</p>"
        + table
        + "<p class=note>Shadow price: what tightening a setting by one unit (one more MW "
        "required, one m3/day or t CO2 less allowed) would add to the net present cost, in "
        "present value, from an LP with the plan's integer decisions (sites, modules, cooling, "
        "pipelines, upgrades) fixed: a local, marginal figure, as a larger change may reopen "
        "those decisions. Only the settings that continuous decisions meet have one (the "
        "potable cap: water routing; the CO2 cap: dispatch; demand regions: assignment)."
        + "".join(f" {esc(n[:1].upper() + n[1:])}." for n in notes if n.startswith("no shadow"))
        + "</p></section>"
    )


def _verification(p: _PlanFolder) -> str:
    checks = p.manifest.get("verification") or []
    bad = [c for c in checks if not _ok(c.get("ok"))]
    head = '<section id="verification"><h2>Verification</h2>'
    if not checks:
        return head + "<p>The manifest records no verification.</p></section>"
    s = (
        f'<p><span class="{"bad" if bad else "ok"}">{len(checks) - len(bad)} of {len(checks)} '
        "checks passed.</span> After solving, every rule the plan must keep is recomputed from "
        "its own tables and the inputs alone, never from the optimisation model: whole modules, "
        "phasing, sizes, one cooling per site, targets, water balances, and with a grid the DC "
        "flows from the nodal injections against the ratings.</p>"
    )
    rows = [
        [
            esc(c.get("check", "")),
            '<span class="ok">passed</span>'
            if _ok(c.get("ok"))
            else '<span class="bad">failed</span>',
            esc(_check_found(c)),
        ]
        for c in checks
    ]
    table = _table(["check", "result", "what was required and found"], rows, raw=(0, 1, 2))
    if bad:
        return head + s + table + "</section>"
    return (
        head
        + s
        + f"<details><summary>All {len(checks)} checks</summary>{table}</details></section>"
    )


def _check_found(c: dict[str, Any]) -> str:
    """A verification check's finding in words: the manifest's ``said`` (what was required
    and what the plan achieved); for a manifest without it, the excess over the rule with
    its meaning ("within the rule" when it held, else "over the rule by 3.2 MW")."""
    said = str(c.get("said") or "")
    worst = c.get("worst")
    over = max(float(worst), 0.0) if is_number(worst) else 0.0
    unit = str(c.get("unit", ""))
    if not _ok(c.get("ok")):
        miss = f"over the rule by {fmt_num(over, 3)} {unit}".strip()
        return f"{said}; {miss}" if said else miss
    return said or "within the rule everywhere"


def _kv(pairs: Sequence[tuple[str, Any]]) -> str:
    return _table(["setting", "value"], [(k, v) for k, v in pairs])


def _assumptions(p: _PlanFolder) -> str:
    """The assumptions section: the scenario as run (settings and their values), its
    description, the candidates and the screening, and the notes of the run."""
    sc = p.sc
    cst = sc.get("costs") or {}
    g = sc.get("grid") or {}
    pol = sc.get("policy") or {}
    pairs = _general_settings(p)
    if p.grid_modelled():
        pairs += _grid_settings(p, g)
    else:
        pairs.append(("energy price [USD/MWh]", fmt_num(cst.get("energy_usd_per_mwh"), 2)))
    pairs += _policy_settings(pol)
    desc = sc.get("description") or ""
    notes = p.manifest.get("notes") or []
    cands = p.manifest.get("candidates") or {}
    out = ['<section id="assumptions"><h2>What was assumed</h2>']
    if desc:
        out.append(f"<p>{esc(desc.strip())}</p>")
    out.append(_kv(pairs))
    if cands:
        out += _screening(cands)
    if notes:
        out.append(
            "<details><summary>Notes of the run</summary><ul>"
            + "".join(f"<li>{esc(n)}</li>" for n in notes)
            + "</ul></details>"
        )
    out.append("</section>")
    return "".join(out)


def _general_settings(p: _PlanFolder) -> list[tuple[str, Any]]:
    """(setting, value) of the scenario as run: years, targets [MW], objective, costs
    [USD, USD/MW, USD/km], campus sizes [MW], cooling, water [m3/day], whether a grid."""
    sc = p.sc
    camp = sc.get("campus") or {}
    cst = sc.get("costs") or {}
    w = sc.get("water") or {}
    obj = sc.get("objective") or {}
    targets = p.targets()
    return [
        ("planning years", ", ".join(str(y) for y in p.years)),
        (
            "national IT targets [MW]",
            "; ".join(f"{y}: {fmt_num(v)}" for y, v in sorted(targets.items())) or "none",
        ),
        (
            "objective",
            "least net present cost"
            if obj.get("sense", "min_cost") == "min_cost"
            else f"most capacity within a budget of {fmt_usd(obj.get('budget_usd'))}",
        ),
        ("discount rate [per year]", _pct(cst.get("discount_rate"))),
        ("currency year", cst.get("currency_year", "–")),
        ("campus capital [USD/MW of IT]", fmt_num(cst.get("capex_usd_per_mw"))),
        ("site opening cost [USD per site]", fmt_num(cst.get("site_fixed_cost_usd"))),
        ("grid connection [USD/MW]", fmt_num(cst.get("interconnection_usd_per_mw"))),
        ("tie line [USD/km]", fmt_num(cst.get("interconnection_usd_per_km"))),
        ("water pipeline [USD/km]", fmt_num(cst.get("pipeline_usd_per_km"))),
        ("campus module [MW]", fmt_num(camp.get("module_mw"))),
        (
            "campus size [MW]",
            f"{fmt_num(camp.get('min_campus_mw'))} to {fmt_num(camp.get('max_campus_mw'))}",
        ),
        ("most new IT per site and year [MW]", fmt_num(camp.get("max_build_mw_per_year"))),
        ("cooling technologies allowed", ", ".join(map(str, camp.get("cooling") or [])) or "–"),
        ("water modelled", "yes" if w.get("enabled", True) else "no"),
        ("campus water cap, all sources [m3/day]", fmt_num(w.get("cap_m3_per_day"))),
        ("potable water cap [m3/day]", fmt_num(w.get("potable_cap_m3_per_day"))),
        ("grid modelled", "yes" if p.grid_modelled() else "no"),
    ]


def _grid_settings(p: _PlanFolder, g: dict[str, Any]) -> list[tuple[str, Any]]:
    """(setting, value) of a modelled grid (``g``: ``grid`` of the scenario as run):
    snapshots (load factor, hours a year), utilisation, formulation, limits, upgrades, N-1,
    derated branches and branches out of service."""
    snaps = g.get("snapshots") or []
    pairs: list[tuple[str, Any]] = [
        (
            "snapshots (load factor, hours a year)",
            "; ".join(
                f"{s.get('name')}{' (peak)' if s.get('peak') else ''}: "
                f"{fmt_num(s.get('load_factor'), 2)}, {fmt_num(s.get('hours'))} h"
                for s in snaps
            )
            or "–",
        ),
        ("campus utilisation", fmt_num(g.get("campus_utilisation"), 2)),
        ("power-flow formulation", g.get("formulation", "–")),
        ("line limits", "yes" if g.get("line_limits", True) else "no"),
        ("grid upgrades allowed", "yes" if g.get("upgrades", True) else "no"),
        (
            "grid upgrade budget [USD, present value]",
            fmt_usd(g["upgrade_budget_usd"]) if is_number(g.get("upgrade_budget_usd")) else "none",
        ),
    ]
    n1 = g.get("n_minus_1") or {}
    pairs.append(
        (
            "N-1 security",
            (
                f"yes, from {n1.get('from_year') or p.years[0]}; outages: "
                f"{n1.get('outages', 'all')}; snapshots: {n1.get('snapshots', 'peak')}"
            )
            if n1.get("enabled")
            else "no",
        )
    )
    if g.get("derate"):
        pairs.append(
            (
                "derated branches (factor)",
                "; ".join(f"{k}: {v}" for k, v in g["derate"].items()),
            )
        )
    if g.get("outages"):
        pairs.append(("branches out of service", ", ".join(map(str, g["outages"]))))
    return pairs


def _policy_settings(pol: dict[str, Any]) -> list[tuple[str, Any]]:
    """(setting, value) of the policy (``pol``: ``policy`` of the scenario as run): zones
    (bonus [USD/MW] or minimum share [fraction]), region shares, the public-interest share
    [fraction] and who is eligible, demand regions and the campus CO2 cap [t CO2]."""
    pairs: list[tuple[str, Any]] = []
    zones = pol.get("zones") or {}
    if zones:
        pairs.append(
            (
                "policy zones",
                f"{zones.get('mode', '–')}; bonus {fmt_num(zones.get('bonus_usd_per_mw'))} USD/MW"
                if zones.get("mode") == "prefer"
                else f"{zones.get('mode', '–')}; min share {fmt_num(zones.get('min_share'), 2)}",
            )
        )
    if pol.get("region_shares"):
        pairs.append(
            (
                "region shares",
                "; ".join(f"{k}: {json.dumps(v)}" for k, v in pol["region_shares"].items()),
            )
        )
    pi = pol.get("public_interest") or {}
    if pi:
        who = []
        if pi.get("in_zone"):
            who.append("in a designated zone")
        if pi.get("regions"):
            who.append("in region " + ", ".join(map(str, pi["regions"])))
        if is_number(pi.get("max_bus_distance_km")):
            who.append(f"within {fmt_num(pi['max_bus_distance_km'], 1)} km of its bus")
        if is_number(pi.get("max_wue_l_per_kwh")):
            who.append(f"cooling with WUE at most {fmt_num(pi['max_wue_l_per_kwh'], 2)} L/kWh")
        pairs.append(
            (
                "public-interest reserved share",
                f"{_pct(pi.get('share'))} of national IT MW; eligible sites: "
                + (_list_words(who) if who else "all"),
            )
        )
    dem = pol.get("demand") or {}
    if dem:
        pairs.append(
            (
                "demand regions served",
                f"within {fmt_num(dem.get('max_latency_ms'), 1)} ms round trip",
            )
        )
    if is_number(pol.get("co2_cap_t")):
        pairs.append(("campus CO2 cap [t CO2 over the horizon]", fmt_num(pol["co2_cap_t"])))
    return pairs


def _screening(cands: dict[str, Any]) -> list[str]:
    """How many candidate locations were made and kept, and what each screening rule
    removed (``cands``: the manifest's ``candidates``)."""
    out = [
        f"<p>The plan chose among {esc(fmt_num(cands.get('made')))} candidate locations; "
        f"{esc(fmt_num(cands.get('kept')))} passed the screening.</p>"
    ]
    rules = [r for r in cands.get("screening") or [] if r.get("removed")]
    if rules:
        out.append(
            _table(
                ["screening rule", "candidates removed"],
                [(r.get("rule"), fmt_num(r.get("removed"))) for r in rules],
                num=(1,),
            )
        )
    return out


def _provenance(p: _PlanFolder) -> str:
    m = p.manifest
    inputs = m.get("inputs") or []
    rows = [
        (
            i.get("role", ""),
            Path(str(i.get("path", ""))).name,
            str(i.get("sha256", ""))[:12],
            fmt_num((i.get("size_bytes") or 0) / 1024, 1),
        )
        for i in inputs
    ]
    sol = m.get("solver") or {}
    size = m.get("model_size") or {}
    pairs = [
        ("scenario", m.get("scenario", "")),
        ("written (UTC)", m.get("created_utc", "")),
        ("scenario digest (SHA-256, first 12)", str(m.get("scenario_digest_sha256", ""))[:12]),
        ("solver", f"{sol.get('solver', '–')} {sol.get('version', '')}".strip()),
        (
            "solver settings",
            f"time limit {fmt_num(sol.get('time_limit_s'))} s, MIP gap "
            f"{_pct(sol.get('mip_gap'), 2)}, {fmt_num(sol.get('threads'))} threads",
        ),
        ("status", f"{m.get('status', '–')} ({m.get('termination', '–')})"),
        ("objective [USD]", fmt_num(m.get("objective_usd"))),
        ("best bound [USD]", fmt_num(m.get("best_bound_usd"))),
        ("gap", _pct(m.get("gap"), 3)),
        (
            "model size",
            f"{fmt_num(size.get('rows'))} rows, {fmt_num(size.get('columns'))} columns, "
            f"{fmt_num(size.get('integers'))} integer",
        ),
    ]
    tim = m.get("timings") or {}
    vers = m.get("versions") or {}
    return (
        '<section id="provenance"><h2>Provenance</h2>'
        "<p>The inputs this plan was made from, each with the start of its SHA-256 "
        "fingerprint (the full one is in <code>manifest.json</code>): a file with the same "
        "fingerprint is byte for byte the same file.</p>"
        + _table(["role", "file", "SHA-256 (first 12)", "size [KiB]"], rows, num=(3,))
        + _kv(pairs)
        + "<h3>Timings [s]</h3>"
        + _table(
            ["stage", "time [s]"],
            [(k.removesuffix("_s"), fmt_num(v, 2)) for k, v in tim.items()],
            num=(1,),
        )
        + "<h3>Versions</h3>"
        + _table(["package", "version"], list(vers.items()))
        + "</section>"
    )


GLOSSARY = (
    ("IT capacity [MW]", "the computing load of a campus (servers), in megawatts."),
    ("PUE", "power usage effectiveness: total facility power / IT power (1.0 is ideal)."),
    ("WUE [L/kWh]", "water usage effectiveness: litres of water per kWh of IT energy."),
    ("m3/day", "cubic metres of water a day (1 m3 = 1,000 litres)."),
    (
        "net present cost",
        "all costs over the plan, each year's discounted to the first year, less credits.",
    ),
    ("loading [%]", "a line's power flow as a share of its thermal rating."),
    ("N-1", "the grid stays within limits after the loss of any one (checked) line."),
    ("bn / M USD", "billion (10^9) / million (10^6) US dollars."),
)


# --------------------------------------------------------------------------- the page


def build_html(plan_dir: Path) -> str:
    """The report of a plan folder as one HTML string (see the module docstring)."""
    p = _PlanFolder(Path(plan_dir))
    cur = local_currency_of(p.sc)
    with showing_currency(cur):
        return _page(p, cur)


def _page(p: _PlanFolder, cur: LocalCurrency | None) -> str:
    """The report's HTML (costs shown in ``cur`` too when set, see :func:`build_html`)."""
    sites = p.site_table()
    m = p.manifest
    title = m.get("title") or p.sc.get("title") or m.get("scenario") or "Siting plan"
    sections = [
        ("summary", "Summary", _summary(p, sites)),
        ("by-year", "Capacity by year", _by_year(p, sites)),
        ("sites", "Sites", _sites(p, sites)),
        ("why", "Why these sites", _why(p, sites)),
        ("zones", "Growth zones", _zones(p)),
        ("costs", "Cost", _costs(p)),
        ("water", "Water", _water(p)),
        ("grid", "Grid", _grid(p)),
        ("onsite", "On-site generation", _onsite(p)),
        ("flexibility", "Flexible connections", _flexibility(p)),
        ("compute", "Compute", _compute(p)),
        ("cooling", "Cooling", _cooling(sites)),
        ("settings", "Settings met", _settings(p)),
        ("verification", "Verification", _verification(p)),
        ("assumptions", "Assumptions", _assumptions(p)),
        ("provenance", "Provenance", _provenance(p)),
    ]
    nav = "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t, body in sections if body)
    gloss = (
        '<section id="glossary"><h2>Words and units</h2><dl>'
        + "".join(f"<dt><b>{esc(k)}</b></dt><dd>{esc(v)}</dd>" for k, v in GLOSSARY)
        + "</dl></section>"
    )
    years = p.years
    span = f"{years[0]}–{years[-1]}" if years else ""
    sub = (
        f"Siting plan <b>{esc(m.get('scenario', ''))}</b>"
        + (f", planning years {esc(span)}" if span else "")
        + f". Written {esc(m.get('created_utc', ''))} UTC by siting "
        + esc((m.get("versions") or {}).get("siting", ""))
        + ". This page is self-contained: it reads nothing from the network."
        + (f" {esc(cur.note())}" if cur is not None else "")
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} — plan report</title><style>{CSS}</style></head><body><main>"
        f"<h1>{esc(title)}</h1><p class=sub>{sub}</p><nav>{nav}"
        '<a href="#glossary">Words and units</a></nav>'
        + "".join(body for _, _, body in sections)
        + gloss
        + "</main></body></html>\n"
    )


def render_report(plan_dir: Path, out: Path | None = None) -> Path:
    """Write ``report.html`` for a plan folder, atomically (temp file, then rename).

    Parameters
    ----------
    plan_dir
        A plan folder as :meth:`siting.results.plan.Plan.write` writes it.
    out
        Where to write (default ``plan_dir / "report.html"``).

    Returns
    -------
    pathlib.Path
        The report's path.
    """
    plan_dir = Path(plan_dir)
    out = Path(out) if out is not None else plan_dir / "report.html"
    page = build_html(plan_dir)
    return write_text_atomic(out, page)
