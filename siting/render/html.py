"""The one HTML/SVG toolkit of the pages siting writes: the escaper, number formats, SVG
primitives and the helpers of the Leaflet map pages.

Every string from the input data reaches a page through :func:`esc` (text and quoted
attributes alike): ``None`` and a float NaN are blank, characters XML 1.0 forbids are
replaced by U+FFFD (a standalone SVG holding one would not open), and ``&``, ``<``, ``>``,
``"`` and ``'`` become character references (:func:`html.escape` with ``quote=True``). The
data a map page embeds as JSON (:func:`js_json`) has ``<``, ``>``, ``&``, U+2028 and
U+2029 written as ``\\u`` escapes, so no data can close the ``<script>`` element it lives in.

Used by :mod:`siting.render.maps` (the plan's map), :mod:`siting.render.report` (the plan in
words) and the studies' pages (:mod:`siting.studies.robustness`,
:mod:`siting.studies.pareto`).
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, SupportsFloat, SupportsIndex, TypeGuard

import numpy as np

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry.base import BaseGeometry

#: Decimals of the coordinates written to a map page (6: about 0.1 m).
COORD_DECIMALS = 6

#: Characters XML 1.0 does not allow at all (not even as references): a standalone SVG
#: holding one does not open. Replaced by U+FFFD.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def esc(v: Any) -> str:
    """HTML- and XML-safe text of any value (for text and quoted attributes alike).

    Parameters
    ----------
    v
        Any value; ``None`` and a float NaN give the empty string, anything else its
        ``str()``.

    Returns
    -------
    str
        The text with the characters XML forbids replaced by U+FFFD, then ``&``, ``<``,
        ``>``, ``"`` and ``'`` as character references.
    """
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return html.escape(_NOT_XML.sub("\ufffd", str(v)), quote=True)


# --------------------------------------------------------------------------- number formats


def growth_zone_label(zone_id: Any) -> str:
    """A growth zone's ID as people read it: ``GZ02`` as written, and ``Z02`` (a plan
    folder written before growth zones were named ``GZ..``) shown as ``GZ02``.

    Growth zones (the plan's groups of chosen sites, ``zones.geojson``, ``zone_id`` ``GZ01``
    ...) and policy zones (the scenario's ``zones`` layer, IDs of the user's choosing such as
    ``Z2``) would otherwise look alike side by side. "" for an empty ID.
    """
    z = (
        ""
        if zone_id is None or (isinstance(zone_id, float) and math.isnan(zone_id))
        else str(zone_id)
    )
    if not z or z.startswith("GZ"):
        return z
    return "G" + z if z.startswith("Z") else "GZ " + z


def policy_zone_label(zone_id: Any) -> str:
    """A policy zone's ID as people read it: ``Z2`` -> ``policy zone Z2`` ("" when none)."""
    z = (
        ""
        if zone_id is None or (isinstance(zone_id, float) and math.isnan(zone_id))
        else str(zone_id)
    )
    return f"policy zone {z}" if z else ""


def is_number(v: Any) -> TypeGuard[str | SupportsFloat | SupportsIndex]:
    """Whether ``v`` is a finite number (or text of one): one ``float(v)`` takes."""
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def fmt_num(v: Any, digits: int = 0) -> str:
    """``1,234`` / ``1,234.5``; an empty value as an en dash."""
    if not is_number(v):
        return "–"
    x = float(v)
    if abs(x) < 0.5 * 10.0**-digits:
        x = 0.0
    return f"{x:,.{digits}f}"


def fmt_mw(v: Any) -> str:
    """MW with thousands separators (whole MW; one decimal below 10)."""
    return fmt_num(v, 1 if is_number(v) and 0 < abs(float(v)) < 10 else 0) + " MW"


@dataclass(frozen=True)
class LocalCurrency:
    """A currency shown beside US dollars on the pages (the model stays in USD).

    Attributes
    ----------
    code
        ISO 4217 code, e.g. ``GBP``.
    per_usd
        Units of the currency per US dollar [code/USD].
    as_of, source
        When the rate holds and where it is from (for the pages' notes).
    """

    code: str
    per_usd: float
    as_of: str = ""
    source: str = ""

    def note(self) -> str:
        """``Costs are in US dollars; GBP beside them at 0.79 GBP per USD (2025-06, ...)``."""
        when = ", ".join(x for x in (self.as_of, self.source) if x)
        return (
            f"Costs are in US dollars; {self.code} beside them at "
            f"{fmt_num(self.per_usd, 4).rstrip('0').rstrip('.')} {self.code} per USD"
            + (f" ({when})" if when else "")
            + "."
        )


_LOCAL_CURRENCY: ContextVar[LocalCurrency | None] = ContextVar("local_currency", default=None)


def local_currency_of(scenario: Mapping[str, Any] | None) -> LocalCurrency | None:
    """The ``report.currency`` of a scenario as run (a manifest's ``scenario_as_run``), or
    None when it sets none or the entry is unusable."""
    cur = ((scenario or {}).get("report") or {}).get("currency") or {}
    code, rate = cur.get("code"), cur.get("per_usd")
    if not isinstance(code, str) or not is_number(rate) or float(rate) <= 0:
        return None
    return LocalCurrency(
        code, float(rate), str(cur.get("as_of") or ""), str(cur.get("source") or "")
    )


@contextmanager
def showing_currency(cur: LocalCurrency | None) -> Iterator[None]:
    """Within the block :func:`fmt_usd` adds ``cur`` beside each amount (None: USD only)."""
    token = _LOCAL_CURRENCY.set(cur)
    try:
        yield
    finally:
        _LOCAL_CURRENCY.reset(token)


def _fmt_money(x: float, code: str) -> str:
    if abs(x) >= 1e9:
        return f"{x / 1e9:,.2f} bn {code}"
    if abs(x) >= 1e6:
        return f"{x / 1e6:,.1f} M {code}"
    return f"{fmt_num(x)} {code}"


def fmt_usd(v: Any) -> str:
    """``31.11 bn USD``, ``99.4 M USD``, ``12,000 USD``; inside :func:`showing_currency`
    with a local currency also its amount: ``31.11 bn USD (24.58 bn GBP)``."""
    if not is_number(v):
        return "–"
    x = float(v)
    text = _fmt_money(x, "USD")
    cur = _LOCAL_CURRENCY.get()
    if cur is not None:
        text += f" ({_fmt_money(x * cur.per_usd, cur.code)})"
    return text


# --------------------------------------------------------------------------- SVG


def tick_label(v: float) -> str:
    """An axis tick's label: thousands separators, at most 3 decimals, no ``-0``."""
    s = f"{v:,.3f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (about ``n`` steps of 1, 2, 2.5 or 5 x 10^k)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        hi = lo + 1.0
    span = hi - lo
    mag = 10.0 ** math.floor(math.log10(span / n))
    step = mag
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        step = m * mag
        if span / step <= n:
            break
    start = math.floor(lo / step + 1e-9) * step
    end = math.ceil(hi / step - 1e-9) * step
    k = int(round((end - start) / step))
    return [start + i * step for i in range(k + 1)]


_FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"'


def svg(name: str, title: str, w: float, h: float, body: Iterable[str]) -> str:
    """An SVG document of ``body``'s elements.

    Parameters
    ----------
    name
        The plot's name (its ``data-plot`` attribute; escaped).
    title
        Its title (escaped).
    w, h
        Width and height [px].
    body
        The elements, already escaped.
    """
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" data-plot="{esc(name)}" '
        f'viewBox="0 0 {w:.0f} {h:.0f}" width="{w:.0f}" height="{h:.0f}" role="img" '
        f'{_FONT} font-size="12"><title>{esc(title)}</title>' + "".join(body) + "</svg>"
    )


def shorten(s: Any, n: int) -> str:
    """``s`` as text cut to ``n`` characters (the last an ellipsis when cut; None: empty)."""
    s = "" if s is None else str(s)
    return s if len(s) <= n else s[: n - 1] + "…"


def svg_text(
    x: float, y: float, s: str, anchor: str = "start", extra: str = "", n: int = 200
) -> str:
    """An SVG text at (``x``, ``y``) [px] (escaped; cut to ``n`` characters).

    ``extra`` holds further attributes, written as they are.
    """
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {extra}>{esc(shorten(s, n))}</text>'
    )


def svg_legend(x: float, y: float, items: Sequence[tuple[str, str]]) -> list[str]:
    """A legend of (label, colour) items, a square and a label each, one every 18 px down
    from (``x``, ``y``) [px]."""
    out = []
    for i, (label, colour) in enumerate(items):
        yy = y + i * 18
        out.append(f'<rect x="{x:.1f}" y="{yy - 10:.1f}" width="12" height="12" fill="{colour}"/>')
        out.append(svg_text(x + 18, yy, label, n=30))
    return out


# --------------------------------------------------------------------------- map pages


def popup_figure(v: Any, fmt: Callable[[float], str]) -> str:
    """A popup figure: text as it is (escaped), NaN as ``n/a``, a number by ``fmt``."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return esc(v)
    return "n/a" if math.isnan(f) else fmt(f)


def popup_number(v: Any, digits: int = 0, unit: str = "") -> str:
    """A popup number with ``digits`` decimals and its ``unit`` (see :func:`popup_figure`)."""
    return popup_figure(v, lambda f: fmt_num(f, digits) + (f" {unit}" if unit else ""))


def popup_usd(v: Any) -> str:
    """A popup amount of money [USD] (:func:`fmt_usd`; see :func:`popup_figure`)."""
    return popup_figure(v, fmt_usd)


def popup_rows(pairs: list[tuple[str, str]]) -> str:
    """A popup table; keys are ours, values already escaped (empty ones left out)."""
    return (
        "<table class='sp'>"
        + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in pairs if v not in ("", None))
        + "</table>"
    )


def clean_json_value(v: Any) -> Any:
    """A value for a page's JSON: numbers as floats rounded to 3 decimals, NaN/inf as null,
    anything not a number as it is."""
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    if not math.isfinite(f):
        return None
    return round(f, 3)


def _json_default(o: Any) -> Any:
    """JSON of what :mod:`json` cannot write: numpy numbers as numbers, the rest as text."""
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return clean_json_value(float(o))
    return str(o)


def js_json(obj: Any) -> str:
    """JSON safe inside a ``<script>`` element (``<``, ``>``, ``&``, U+2028, U+2029 as
    ``\\u`` escapes; NaN refused)."""
    s = json.dumps(obj, separators=(",", ":"), allow_nan=False, default=_json_default)
    return (
        s.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def geom_json(geom: BaseGeometry | None) -> dict | None:
    """A GeoJSON geometry with :data:`COORD_DECIMALS` decimals [degrees]; None when empty."""
    if geom is None or geom.is_empty:
        return None
    import shapely

    g = shapely.set_precision(geom, 10.0**-COORD_DECIMALS) if geom.geom_type != "Point" else geom
    d = shapely.geometry.mapping(g)

    def rnd(c: Any) -> list:
        if isinstance(c, (list, tuple)) and c and isinstance(c[0], (int, float)):
            return [round(float(x), COORD_DECIMALS) for x in c[:2]]
        return [rnd(x) for x in c]

    return {"type": d["type"], "coordinates": rnd(d["coordinates"])}


def feature_collection(
    gdf: gpd.GeoDataFrame | None, props: Callable[[pd.Series], dict[str, Any]]
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection with ``props(row)`` as properties (rows without geometry
    are left out)."""
    feats = []
    if gdf is not None:
        for _, row in gdf.iterrows():
            g = geom_json(row.geometry)
            if g is None:
                continue
            feats.append({"type": "Feature", "geometry": g, "properties": props(row)})
    return {"type": "FeatureCollection", "features": feats}


def inline_leaflet(page: str) -> str:
    """Replace the Leaflet links by the vendored files, inline (no request at all).

    Raises
    ------
    RuntimeError
        When the page has not exactly one of each link (folium changed its template).
    """
    import base64

    static = resources.files("siting.render") / "static" / "leaflet"
    js = (static / "leaflet.min.js").read_text(encoding="utf-8")
    css = (static / "leaflet.css").read_text(encoding="utf-8")
    png = base64.b64encode((static / "layers.png").read_bytes()).decode()
    css = re.sub(r"url\(images/layers(-2x)?\.png\)", f"url(data:image/png;base64,{png})", css)
    css = re.sub(r"url\(images/marker-icon\.png\)", "none", css)
    page, n_js = re.subn(
        r'<script src="siting-inline:leaflet\.js"></script>',
        lambda _: "<script>" + js.replace("</script", "<\\/script") + "</script>",
        page,
    )
    page, n_css = re.subn(
        r'<link rel="stylesheet" href="siting-inline:leaflet\.css"\s*/?>',
        lambda _: "<style>" + css + "</style>",
        page,
    )
    if n_js != 1 or n_css != 1:  # folium changed its template: fail loudly, not silently online
        raise RuntimeError(
            "could not inline Leaflet into the map page (folium's template changed?)"
        )
    return page


#: The map pages' own styles (boxes, legend, year control, minimap, popup tables, place
#: labels; below 600 px wide, a phone layout: one legend column, a narrower year control).
MAP_CSS = """
<style>
.siting-box{background:rgba(255,255,255,.92);padding:6px 9px;border-radius:5px;
  box-shadow:0 1px 5px rgba(0,0,0,.4);font:12px/1.4 sans-serif;max-width:260px}
div.siting-legend{max-height:45vh;overflow:auto}
details.siting-legend{max-width:none}
details.siting-legend summary{cursor:pointer;font-weight:bold}
.siting-legend-body{column-gap:14px;overflow:auto}
.siting-legend-body .lg{break-inside:avoid;page-break-inside:avoid}
.siting-legend-body .lg h4{margin-top:4px}
div.leaflet-container{background:#e9eef1}
.leaflet-tooltip.siting-place-label{background:none;border:none;box-shadow:none;padding:0 2px;color:#222;
  font:600 10px/1.2 sans-serif;text-shadow:0 0 2px #fff,0 0 2px #fff,0 0 3px #fff}
.leaflet-tooltip.siting-place-label:before{display:none}
.siting-pl0,.leaflet-tooltip.siting-pl0{font-size:10px}
.siting-pl1,.leaflet-tooltip.siting-pl1{font-size:12px}
.siting-pl2,.leaflet-tooltip.siting-pl2{font-size:14px}
.siting-pl3,.leaflet-tooltip.siting-pl3{font-size:16px}
.siting-report-link{display:block;margin-top:4px}
@media (max-width:600px){
  details.siting-legend{max-width:calc(100vw - 30px)}
  .siting-yearbox input{width:120px}
  .siting-box{font-size:11px;padding:4px 7px}
  .leaflet-control-layers-expanded{max-width:calc(100vw - 70px)}
}
.siting-legend i{display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:middle}
.siting-legend i.dot{border-radius:50%}.siting-legend h4{margin:6px 0 2px;font-size:12px}
.siting-yearbox input{width:180px}.siting-ticks{color:#555}
.siting-minimap{width:150px;height:150px;border:2px solid rgba(0,0,0,.3);border-radius:4px;background:#fff}
.siting-fullscreen{font-size:18px}
table.sp{border-collapse:collapse;margin-top:4px}table.sp th{text-align:left;padding:1px 8px 1px 0;
  font-weight:normal;color:#555;vertical-align:top}table.sp td{padding:1px 0}
.siting-notes{font-size:11px;color:#555}
</style>
"""  # noqa: E501  (CSS lines as they are)
