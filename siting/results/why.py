"""Why here: the few facts that decided each chosen site, and why each other candidate lost.

:func:`explain` compares every kept candidate on figures computed from the model's data
and the plan's tables, with no solver (so it adds no MILP or LP solve, on any model size):

- **unit cost** [USD/MW IT, present value] of a campus of ``M`` MW at the site with its
  cheapest allowed cooling: ``a + b / M``, with ``a`` = capex + interconnection + land per
  MW + cooling capex per MW - the zone bonus (a policy weight, as the objective counts it)
  + energy over the horizon (``sum_t op_weight_t * 8760 h * utilisation * PUE_annual *
  price``) + water over the horizon (``sum_t op_weight_t * 365 * 24 h * utilisation *
  WUE_annual * cost_usd_per_m3`` of its cheapest linked source), and ``b`` = the site's
  fixed cost + tie line + pipeline to that source [USD]. The energy price is the plan's own
  average: the energy cost part over the campuses' discounted MWh (with the grid
  modelled: what the campuses add to the system's dispatch cost per MWh they take), or
  ``costs.energy_usd_per_mwh`` without the grid. "Cheaper than the next-best site for the
  same MW" compares the chosen site's unit cost at its final MW with the cheapest kept,
  unchosen candidate that can hold that many MW.
- **grid headroom** [MW] at the site's bus under N-0: the extra load the bus can take in
  the last planning year's peak snapshot before a branch exceeds its rating (with the
  plan's upgrades) or the substation its headroom, from the plan's flows with the campus
  draw at that bus taken out, by PTDF (the extra load served from the island's reference
  bus: no redispatch).
- **water**: the nearest linked source, its kind and distance [km];
- **climate**: the annual PUE of the site's (cheapest, or chosen) cooling;
- **land** [USD/MW], **tie line** [km to the bus], **zone**.

The figures that differ most from the kept candidates' median in the site's favour (in
units of the candidates' spread) are the decisive ones: the sentence names the unit-cost
difference and two or three of them. Limits (stated in the report): the unit cost prices
each site alone, at the plan's average energy price; it leaves out what the MILP also
weighs (congestion and losses beyond the average price, shared water capacity, phasing
and build limits, shares and caps), so a chosen site can be dearer by unit cost than an
unchosen one; the headroom is a linear N-0 figure without redispatch or N-1.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from siting.core.cells import as_float, as_int
from siting.model.data import HOURS_PER_YEAR, ModelData

if TYPE_CHECKING:
    from siting.results.plan import Plan

#: The method, in words, for the report and the manifest.
METHOD = (
    "Each kept candidate is costed alone (unit cost in USD per MW IT, present value): "
    "capex, land, interconnection, its cheapest cooling's capex, energy at the plan's "
    "average price per MWh times its annual PUE, water at its cheapest linked source "
    "times its annual WUE, less any zone bonus, plus its fixed cost, tie line and pipeline "
    "spread over the MW compared. A chosen site is compared with the cheapest unchosen "
    "candidate that can hold the same MW. Grid headroom is the extra load its bus takes "
    "in the last year's peak before a branch or the substation reaches its rating, from "
    "the plan's flows by PTDF (campus draw at that bus taken out, the load served by the "
    "generators' spare capacity). The figures that "
    "differ most from the candidates' median in the site's favour are named."
)
#: With the re-solves (:data:`siting.results.counterfactual.METHOD`), the rest of each
#: sentence.
METHOD_WITH_RESOLVE = (
    "Beside that figure, each sentence names the site's figures that differ most from the "
    "kept candidates' median in its favour: grid headroom at its bus in the last year's "
    "peak (by PTDF from the plan's flows), water source and distance, the annual PUE of its "
    "cooling, land price, distance to its bus. Where a re-solve gave no figure the sentence "
    "compares unit costs instead: " + METHOD
)
#: The limits of :data:`METHOD`.
LIMITS = (
    "The unit cost leaves out what the optimisation also weighs: congestion and losses "
    "beyond the plan's average energy price, shared water capacity, phasing and build "
    "limits, regional shares and caps; a chosen site can therefore be dearer by unit cost "
    "than an unchosen one (the sentence then says so).",
    "It is not a re-solve: no site was forbidden and the plan re-optimised, so the "
    "difference is not what the plan would cost without the site.",
    "The headroom is linear (DC), N-0, at one snapshot, with the extra load served by "
    "the generators' spare capacity in proportion to it (no other redispatch, no N-1): "
    "a bus behind a line the plan loads to its rating shows 0 MW.",
)

#: A chosen site's sentence names at most this many figures beside its unit cost.
MAX_FACTS = 3


@dataclass
class _Features:
    """The compared figures of every kept candidate (index: site_id)."""

    table: pd.DataFrame  # the compared figures, per site (see :func:`_features`)
    a_usd_per_mw: dict[str, float]  # per-MW part of the unit cost [USD/MW]
    b_usd: dict[str, float]  # one-off part, spread over the MW compared [USD]

    def unit_usd_per_mw(self, mw: float, sites: Iterable[str] | None = None) -> dict[str, float]:
        """Each site's unit cost for a campus of ``mw`` MW [USD/MW IT]: ``a + b / mw``; only
        for ``sites`` when given (a sentence per kept site compares it with the chosen ones:
        all sites each time made the notes quadratic, 6 s on 2,000 sites)."""
        keys = self.a_usd_per_mw if sites is None else sites
        return {s: self.a_usd_per_mw[s] + self.b_usd[s] / mw for s in keys}

    @functools.cached_property
    def max_it_mw(self) -> dict[str, float]:
        """Most IT MW each site holds [MW] (read from the table once)."""
        return {str(s): as_float(v) for s, v in self.table["max_it_mw"].items()}


def _energy_price_usd_per_mwh(p: Plan, d: ModelData) -> float:
    """The plan's average energy price for campuses [USD/MWh]: the energy cost part over
    the campuses' discounted MWh (``costs.energy_usd_per_mwh`` without the grid or draw)."""
    if not d.grid.enabled or p.schedule.empty:
        return float(d.grid.energy_usd_per_mwh)
    w = dict(zip(d.horizon.years, np.asarray(d.horizon.op_weight, dtype=float), strict=True))
    draw = p.schedule.groupby("year")["typical_draw_mw"].sum()
    mwh = float(sum(w.get(as_int(y), 0.0) * HOURS_PER_YEAR * as_float(v) for y, v in draw.items()))
    cost = float(p.costs_usd.get("energy", 0.0))
    return cost / mwh if mwh > 0 else float(d.grid.energy_usd_per_mwh)


def _nearest_water(d: ModelData) -> pd.DataFrame:
    """Per site: the nearest linked source (``water_source, water_kind, water_km``) and the
    cheapest link's ``water_usd_per_m3, pipeline_usd``."""
    sites = pd.Index(d.campus.sites, name="site_id")
    out = pd.DataFrame(
        {
            "water_source": "",
            "water_kind": "",
            "water_km": np.nan,
            "water_usd_per_m3": 0.0,
            "pipeline_usd": 0.0,
        },
        index=sites,
    )
    lk = d.water.links
    if not d.water.enabled or lk is None or not len(lk):
        return out
    lk = lk.astype({"site_id": str, "source_id": str}).copy()
    src = d.water.sources
    lk["kind"] = src["kind"].reindex(lk["source_id"]).fillna("").astype(str).to_numpy()
    price = src["cost_usd_per_m3"] if "cost_usd_per_m3" in src else pd.Series(0.0, index=src.index)
    lk["usd_per_m3"] = price.reindex(lk["source_id"]).fillna(0.0).astype(float).to_numpy()
    if "pipeline_usd" not in lk:
        lk["pipeline_usd"] = 0.0
    near = lk.sort_values(["site_id", "distance_km"]).groupby("site_id").first()
    cheap = lk.sort_values(["site_id", "usd_per_m3", "pipeline_usd"]).groupby("site_id").first()
    out["water_source"] = near["source_id"].reindex(sites).fillna("")
    out["water_kind"] = near["kind"].reindex(sites).fillna("")
    out["water_km"] = near["distance_km"].reindex(sites).astype(float)
    out["water_usd_per_m3"] = cheap["usd_per_m3"].reindex(sites).fillna(0.0).astype(float)
    out["pipeline_usd"] = cheap["pipeline_usd"].reindex(sites).fillna(0.0).astype(float)
    return out


def _features(p: Plan, d: ModelData) -> _Features:
    """:class:`_Features` of every site of ``d`` (see the module docstring)."""
    site = d.campus.site
    sites = pd.Index(d.campus.sites, name="site_id")
    w_sum = float(np.sum(d.horizon.op_weight))
    u = float(d.horizon.utilisation)
    price = _energy_price_usd_per_mwh(p, d)
    water = _nearest_water(d)
    perf = d.cooling.perf.copy()
    allowed = pd.MultiIndex.from_tuples(d.cooling.allowed) if d.cooling.allowed else None
    chosen_k = p.sites["cooling"].astype(str).to_dict() if "cooling" in p.sites else {}
    best_k: dict[str, str] = {}
    cool_per_mw: dict[str, float] = {}
    pue: dict[str, float] = {}
    if allowed is not None and len(perf):
        pf = perf.reindex(allowed)
        s_ids = pf.index.get_level_values(0).astype(str)
        k_ids = pf.index.get_level_values(1).astype(str)
        cc = np.array([d.cooling.capex_usd_per_mw.get(k, 0.0) for k in k_ids])
        energy = w_sum * HOURS_PER_YEAR * u * pf["pue_annual"].to_numpy(float) * price
        wprice = water["water_usd_per_m3"].reindex(s_ids).fillna(0.0).to_numpy(float)
        wcost = w_sum * 365.0 * 24.0 * u * pf["wue_annual_l_per_kwh"].to_numpy(float) * wprice
        tot = pd.DataFrame(
            {
                "site": s_ids,
                "k": k_ids,
                "per_mw": cc + energy + wcost,
                "pue": pf["pue_annual"].to_numpy(float),
            }
        )
        # the chosen cooling of a chosen site, else the cheapest allowed
        tot["rank"] = [0 if chosen_k.get(s) == k else 1 for s, k in zip(s_ids, k_ids, strict=True)]
        tot["is_chosen_site"] = tot["site"].isin(list(chosen_k))
        tot = tot[~tot["is_chosen_site"] | (tot["rank"] == 0)]
        first = tot.sort_values(["site", "per_mw"]).groupby("site").first()
        best_k = {str(i): str(v) for i, v in first["k"].items()}
        cool_per_mw = {str(i): as_float(v) for i, v in first["per_mw"].items()}
        pue = {str(i): as_float(v) for i, v in first["pue"].items()}
    zoned = site["zone_id"].astype(str) != ""
    a = (
        d.campus.capex_usd_per_mw
        + d.campus.interconnection_usd_per_mw
        + site["land_usd_per_mw"].astype(float)
        - np.where(zoned, d.campus.zone_bonus_usd_per_mw, 0.0)
        + pd.Series(cool_per_mw, dtype=float).reindex(sites).fillna(0.0)
    )
    b = (
        site["fixed_cost_usd"].astype(float)
        + site["interconnect_usd"].astype(float)
        + water["pipeline_usd"].reindex(sites).fillna(0.0)
    )
    table = pd.DataFrame(
        {
            "max_it_mw": site["max_it_mw"].astype(float),
            "bus_id": site["bus_id"].astype(str),
            "bus_km": site["bus_distance_km"].astype(float),
            "land_usd_per_mw": site["land_usd_per_mw"].astype(float),
            "zone_id": site["zone_id"].astype(str),
            "zone_kind": site["zone_kind"].astype(str),
            "cooling": pd.Series(best_k, dtype=object).reindex(sites).fillna(""),
            "pue_annual": pd.Series(pue, dtype=float).reindex(sites),
            "headroom_mw": pd.Series(grid_headroom_mw(p, d), dtype=float)
            .reindex(site["bus_id"].astype(str))
            .to_numpy(),
        },
        index=sites,
    )
    table = table.join(water[["water_source", "water_kind", "water_km"]])
    table["energy_usd_per_mwh"] = price
    return _Features(
        table=table,
        a_usd_per_mw={str(k): as_float(v) for k, v in a.items()},
        b_usd={str(k): as_float(v) for k, v in b.items()},
    )


def grid_headroom_mw(p: Plan, d: ModelData, block: int = 256) -> dict[str, float]:
    """N-0 headroom at each candidate bus [MW] (see the module docstring).

    Returns
    -------
    dict
        bus_id -> extra load the bus takes in the last planning year's peak snapshot before
        a branch reaches its rating or the substation its headroom [MW] (``inf`` when
        nothing limits it); empty without the grid or flows.
    """
    if not d.grid.enabled or d.grid.net is None or p.flows is None or p.flows.empty:
        return {}
    from siting.model.grid import ptdf_if_computed
    from siting.network import ptdf

    net = d.grid.net
    ref = ptdf_if_computed(net)  # the model's PTDF: its columns, not solved for again
    last = d.horizon.years[-1]
    fl = p.flows[p.flows["year"] == last].set_index("branch_id")
    ids = pd.Index(net.branch_ids)
    f = fl["flow_mw"].reindex(ids).fillna(0.0).to_numpy(float)
    rating = fl["rating_mw"].reindex(ids).astype(float).to_numpy()
    if not d.grid.line_limits:
        rating = np.full(len(ids), np.inf)
    sub = pd.Series(np.asarray(d.grid.headroom_mw, dtype=float), index=net.bus_ids.astype(str))
    sched = p.schedule[p.schedule["year"] == last]
    draw = sched.groupby(sched["bus_id"].astype(str))["peak_draw_mw"].sum()
    buses = sorted(set(d.campus.site["bus_id"].astype(str)) - {""})
    buses = [b for b in buses if b in sub.index]
    out: dict[str, float] = {}
    lim = np.isfinite(rating)
    slack = _spare_capacity(p, d, last)
    for start in range(0, len(buses), block):
        chunk = buses[start : start + block]
        cols = ptdf(net, slack or None, buses=chunk, ref_ptdf=ref)  # branch x bus
        own = draw.reindex(chunk, fill_value=0.0).to_numpy(float)
        # each bus's column at once (a loop per bus took 0.17 s of national-M's 1,000
        # buses): the flows without the campus draw at the bus, and per branch the extra
        # load that brings it to its rating, where the bus moves its flow
        fx = f[:, None] + cols * own[None, :]
        pos = cols > 0
        room = np.where(
            pos,
            (fx + rating[:, None]) / np.where(pos, cols, 1.0),
            (rating[:, None] - fx) / np.where(cols < 0, -cols, 1.0),
        )
        room[~(lim[:, None] & (np.abs(cols) > 1e-6))] = np.inf
        line_room = room.min(axis=0, initial=np.inf)
        sub_b = sub.reindex(chunk).to_numpy(float)
        sub_room = np.where(np.isfinite(sub_b), sub_b, np.inf)
        for b, room_mw in zip(chunk, np.minimum(line_room, sub_room).tolist(), strict=True):
            out[b] = room_mw if room_mw > 1e-6 else 0.0  # (round-off of a loaded line)
    return out


def _spare_capacity(p: Plan, d: ModelData, year: int) -> dict[str, float]:
    """Spare generating capacity per bus in ``year``'s peak snapshot [MW]: ``p_max_mw``
    less the plan's dispatch (the slack weights that serve an extra load)."""
    disp = p.dispatch
    gens = d.grid.gens
    if disp is None or disp.empty or "p_max_mw" not in gens:
        return {}
    snaps = d.horizon.snapshots
    peak = snaps.index[snaps["peak"].to_numpy(dtype=bool)]
    h = peak[0] if len(peak) else snaps.index[0]
    at = disp[(disp["year"] == year) & (disp["snapshot"].astype(str) == str(h))]
    p_mw = at.set_index("gen_id")["p_mw"].reindex(gens.index).fillna(0.0)
    spare = (gens["p_max_mw"].astype(float) - p_mw).clip(lower=0.0)
    bus = gens["bus_id"].astype(str) if "bus_id" in gens else None
    if bus is None:
        return {}
    by_bus = spare.groupby(bus.to_numpy()).sum()
    return {str(b): float(v) for b, v in by_bus.items() if v > 1e-6}


# ----------------------------------------------------------------------------- words


def _m(usd: float) -> str:
    """Money in million USD (2 decimals), or thousand USD below 0.1 M USD."""
    if abs(usd) < 1e5:
        return f"{usd / 1e3:,.1f} k USD"
    return f"{usd / 1e6:,.2f} M USD"


def _n(v: float, digits: int = 0) -> str:
    return f"{v:,.{digits}f}"


def _spread(v: pd.Series) -> float:
    """The candidates' spread of a figure: its interquartile range, else |median|, else 1."""
    x = v.dropna().astype(float)
    x = x[np.isfinite(x)]
    if not len(x):
        return 1.0
    iqr = float(x.quantile(0.75) - x.quantile(0.25))
    med = abs(float(x.median()))
    return iqr if iqr > 0 else (med if med > 0 else 1.0)


#: The compared figures: column, whether more is better.
_FIGURES = (
    ("headroom_mw", True),
    ("water_km", False),
    ("pue_annual", False),
    ("land_usd_per_mw", False),
    ("bus_km", False),
)


def _fact(col: str, r: pd.Series, med: float) -> str:
    """One figure of site row ``r`` against the median ``med``, in words."""
    if col == "headroom_mw":
        return (
            f"{_n(r[col])} MW of grid headroom at bus {r['bus_id']} against a median of {_n(med)}"
        )
    if col == "water_km":
        kind = f"{r['water_kind']} water" if r["water_kind"] else "water"
        return (
            f"{kind} ({r['water_source']}) {_n(r[col], 1)} km away against a median of {_n(med, 1)}"
        )
    if col == "pue_annual":
        return f"annual PUE {r[col]:.3f} with {r['cooling']} cooling against a median of {med:.3f}"
    if col == "land_usd_per_mw":
        return f"land {_m(r[col])}/MW against a median of {_m(med)}/MW"
    return f"{_n(r[col], 1)} km to bus {r['bus_id']} against a median of {_n(med, 1)}"


def _scores(tab: pd.DataFrame, ref: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, float]]:
    """Each figure's advantage over the median of ``ref`` in spreads (positive: better),
    and those medians."""
    med: dict[str, float] = {}
    sc = pd.DataFrame(index=tab.index)
    for c, more in _FIGURES:
        ref_c = ref[c].astype(float).replace([np.inf, -np.inf], np.nan)
        med[c] = float(ref_c.median())
        v = tab[c].astype(float).replace([np.inf, -np.inf], np.nan)
        z = (v - med[c]) / _spread(ref_c)
        sc[c] = z if more else -z
    return sc, med


def _site_row(tab: pd.DataFrame, sid: str) -> pd.Series:
    """The row of site ``sid`` (the first, should the ID repeat)."""
    row = tab.loc[sid]
    return row.iloc[0] if isinstance(row, pd.DataFrame) else row


def _row(sc: pd.DataFrame, sid: str, *, descending: bool) -> dict[str, float]:
    """Site ``sid``'s scores, best first (``descending``) or worst first; NaN left out."""
    got = {str(c): as_float(v) for c, v in sc.loc[sid].items()}
    kept = {c: v for c, v in got.items() if np.isfinite(v)}
    return dict(sorted(kept.items(), key=lambda cv: -cv[1] if descending else cv[1]))


def resolve_phrase(row: dict[str, Any] | pd.Series, mw: float) -> str | None:
    """What the plan would cost without a chosen site of ``mw`` MW, in words, from its
    re-solve ``row`` (:func:`siting.results.counterfactual.without_each`); None when the
    re-solve gave no figure (no plan in its time, solver trouble)."""
    status = str(row["status"])
    if status == "infeasible":
        return "without it no plan meets every requirement (the re-solve proved it infeasible)"
    diff, worth = as_float(row["cost_without_usd"]), as_float(row["gap_worth_usd"])
    if status not in ("optimal", "feasible") or not np.isfinite(diff):
        return None
    taken = str(row.get("taken_by") or "")
    took = f"{taken} take its {_n(mw)} MW" if taken else f"its {_n(mw)} MW move elsewhere"
    shrunk = str(row.get("also_shrunk") or "")
    took += f", while {shrunk}" if shrunk else ""
    more = "more" if diff >= 0 else "less"
    if bool(row["clear"]):
        return (
            f"without it the plan costs {_m(abs(diff))} {more} (re-solved: {took}; the two "
            f"solves' gaps are worth {_m(worth)})"
        )
    gaps = _m(worth) if np.isfinite(worth) else "an unknown amount"
    return (
        f"no clear cost advantage within the solver's gap: without it the plan costs "
        f"{_m(abs(diff))} {more}, inside the two solves' gaps' worth of {gaps} "
        f"(re-solved: {took})"
    )


def _why_here(
    sid: str,
    mw: float,
    f: _Features,
    chosen: set[str],
    sc: pd.DataFrame,
    med: dict[str, float],
    resolved: str | None = None,
) -> tuple[str, float | None]:
    """The sentence of chosen site ``sid`` at ``mw`` MW; and its unit-cost advantage over the
    next-best site [USD/MW] (None when no unchosen candidate holds ``mw``). ``resolved``:
    the re-solve's phrase (:func:`resolve_phrase`), said instead of the unit-cost
    comparison."""
    r = _site_row(f.table, sid)
    unit = f.unit_usd_per_mw(mw)
    max_it = f.max_it_mw
    alt = [s for s in unit if s not in chosen and max_it[s] >= mw - 1e-6]
    parts = []
    gain: float | None = None
    if resolved:
        parts.append(resolved)
        if alt:
            gain = unit[min(alt, key=lambda s: unit[s])] - unit[sid]
    elif alt:
        best = min(alt, key=lambda s: unit[s])
        gain = unit[best] - unit[sid]
        word = "cheaper" if gain >= 0 else "dearer"
        parts.append(
            f"{_m(abs(gain))}/MW {word} than the next-best site {best} for the same "
            f"{_n(mw)} MW ({_m(abs(gain) * mw)} in all; unit cost {_m(unit[sid])}/MW)"
        )
    else:
        parts.append(f"unit cost {_m(unit[sid])}/MW; no unchosen candidate holds {_n(mw)} MW")
    row = _row(sc, sid, descending=True)
    good = [c for c, v in row.items() if v > 0][:MAX_FACTS]
    if len(good) < 1:  # always a second figure: the least unfavourable
        good = list(row)[:1]
    for c in good:
        parts.append(_fact(c, r, med[c]))
    if r["zone_id"] and (f.table["zone_id"] == "").mean() > 0.5:
        parts.append(f"in {r['zone_kind'] or 'policy'} zone {r['zone_id']}")
    return f"{sid}: " + "; ".join(parts), gain


def _why_not_kept(
    sid: str,
    f: _Features,
    chosen_mw: dict[str, float],
    sc: pd.DataFrame,
    med: dict[str, float],
    median_mw: float,
) -> str:
    """Why kept, unchosen candidate ``sid`` lost: its unit cost against the dearest chosen
    site's at the same MW, or else its worst figure against the chosen sites' median.
    ``median_mw`` is the chosen sites' median size [MW] (read when some site is chosen)."""
    ref_mw = min(f.max_it_mw[sid], median_mw) if chosen_mw else 0.0
    if ref_mw <= 0:
        return "kept, but the plan builds no site"
    unit = f.unit_usd_per_mw(ref_mw, [sid, *chosen_mw])
    dearest = max(chosen_mw, key=lambda s: unit[s])
    own, top = unit[sid], unit[dearest]
    if own > top:
        return (
            f"unit cost {_m(own)}/MW at {_n(ref_mw)} MW, {_m(own - top)}/MW "
            f"above the dearest chosen site {dearest} ({_m(top)}/MW)"
        )
    row = _row(sc, sid, descending=False)
    head = (
        f"unit cost {_m(own)}/MW at {_n(ref_mw)} MW is within the chosen sites' "
        f"(up to {_m(top)}/MW at {dearest})"
    )
    first = next(iter(row.items()), None)
    if first is not None and first[1] < 0:
        c = first[0]
        fact = _fact(c, _site_row(f.table, sid), med[c]).replace(
            "a median of", "the chosen sites' median of"
        )
        return f"{head}, but {fact}"
    return head + "; it lost on what unit costs leave out (grid flows, phasing, shares)"


def explain(
    p: Plan, d: ModelData, resolve: pd.DataFrame | None = None, resolve_note: str = ""
) -> dict[str, Any]:
    """Fill ``why_here`` (and ``unit_cost_usd_per_mw``, ``grid_headroom_mw``) on the plan's
    sites and ``why_not`` on its candidates, and ``p.why`` (``why_here.csv``); return the
    method and figures for the manifest.

    Parameters
    ----------
    p
        The extracted plan (its sites, candidates, schedule, flows and costs are read; its
        ``sites`` and ``candidates`` get the new columns).
    d
        The model data with every kept candidate (the whole run's, not a kernel's subset).
    resolve
        The plan re-solved without each chosen site
        (:func:`siting.results.counterfactual.without_each`), or None: each site's sentence
        then leads with what the plan would cost without it, where its re-solve gave a
        figure, instead of the unit-cost comparison.
    resolve_note
        Why the re-solves ran or not (for the manifest and the report).

    Returns
    -------
    dict
        ``method``, ``limits``, ``method_used`` (``re-solve`` or ``unit cost``),
        ``resolve_note``, ``energy_usd_per_mwh`` (the average price the unit costs use
        [USD/MWh]), and per chosen site ``sites``: ``{site_id: {"why_here": str,
        "unit_cost_usd_per_mw": float, "advantage_usd_per_mw": float | None}}`` (with the
        re-solve's figures, ``resolve``, where it ran).
    """
    from siting.results import counterfactual as cf

    by_site = (
        {str(r["site_id"]): {str(k): v for k, v in r.items()} for r in resolve.to_dict("records")}
        if resolve is not None and len(resolve)
        else {}
    )
    sites = p.sites
    cand = p.candidates
    f = _features(p, d)
    chosen_mw: dict[str, float] = {}
    if "it_mw_final" in sites and len(sites):
        chosen_mw = {
            str(k): as_float(v)
            for k, v in sites["it_mw_final"].items()
            if str(k) in f.a_usd_per_mw and as_float(v) > 0
        }
    chosen = set(chosen_mw)
    sc, med = _scores(f.table, f.table)
    out_sites: dict[str, Any] = {}
    why_here: list[str] = []
    unit_at: list[float] = []
    for k in sites.index:
        sid = str(k)
        if sid not in chosen_mw:
            why_here.append("")
            unit_at.append(float("nan"))
            continue
        mw = chosen_mw[sid]
        row = by_site.get(sid)
        phrase = resolve_phrase(row, mw) if row is not None else None
        text, gain = _why_here(sid, mw, f, chosen, sc, med, phrase)
        u = f.unit_usd_per_mw(mw, [sid])[sid]
        why_here.append(text)
        unit_at.append(u)
        out_sites[sid] = {"why_here": text, "unit_cost_usd_per_mw": u, "advantage_usd_per_mw": gain}
        if row is not None:
            out_sites[sid]["resolve"] = {
                k: (None if isinstance(row[k], float) and not np.isfinite(row[k]) else row[k])
                for k in cf.COLUMNS
                if k in row
            }
            out_sites[sid]["resolve"]["method"] = "re-solve" if phrase else "unit cost"
    sites["why_here"] = why_here
    sites["unit_cost_usd_per_mw"] = unit_at
    head = f.table["headroom_mw"]
    sites["grid_headroom_mw"] = [
        as_float(head[str(k)]) if str(k) in head.index else np.nan for k in sites.index
    ]

    sc_c, med_c = _scores(f.table, f.table.loc[sorted(chosen)] if chosen else f.table)
    ref = float(np.median(list(chosen_mw.values()))) if chosen_mw else float("nan")
    max_it = f.max_it_mw
    why_not: list[str] = []
    unit_c: list[float] = []
    for k, r in cand.iterrows():
        s = str(k)
        status = str(r.get("status", ""))
        if status == "chosen":
            why_not.append("")
        elif status == "screened_out":  # the screening rule in words (candidates.generate)
            why_not.append(str(r.get("reason", "screened out")))
        elif s in f.a_usd_per_mw and chosen:
            why_not.append(_why_not_kept(s, f, chosen_mw, sc_c, med_c, ref))
        else:
            why_not.append(str(r.get("reason", "not economic in this plan")))
        unit_c.append(
            f.a_usd_per_mw[s] + f.b_usd[s] / min(ref, max_it[s])
            if s in f.a_usd_per_mw and np.isfinite(ref) and ref > 0
            else float("nan")
        )
    cand["why_not"] = why_not
    cand["unit_cost_usd_per_mw"] = unit_c
    cand["grid_headroom_mw"] = [
        as_float(head[str(k)]) if str(k) in head.index else np.nan for k in cand.index
    ]
    used = "re-solve" if by_site else "unit cost"
    p.why = _why_table(p, by_site, out_sites)
    return {
        "method": f"{cf.METHOD} {METHOD_WITH_RESOLVE}" if by_site else METHOD,
        "limits": [*cf.LIMITS, *LIMITS[2:]] if by_site else list(LIMITS),
        "method_used": used,
        "resolve_note": resolve_note,
        "energy_usd_per_mwh": as_float(f.table["energy_usd_per_mwh"].iloc[0])
        if len(f.table)
        else None,
        "sites": out_sites,
    }


def _why_table(
    p: Plan, by_site: dict[str, dict[str, Any]], out_sites: dict[str, Any]
) -> pd.DataFrame:
    """``why_here.csv``: one row per chosen site, :data:`siting.results.counterfactual.
    COLUMNS` (the re-solve's figures empty where none ran)."""
    from siting.results import counterfactual as cf

    rows = []
    for sid, got in out_sites.items():
        row = dict(by_site.get(sid, {}))
        res = got.get("resolve") or {}
        row.update(
            site_id=sid,
            method=res.get("method", "unit cost"),
            unit_cost_usd_per_mw=got["unit_cost_usd_per_mw"],
            why_here=got["why_here"],
        )
        if "it_mw_final" not in row and "it_mw_final" in p.sites:
            row["it_mw_final"] = as_float(p.sites.at[sid, "it_mw_final"])
        rows.append(row)
    return pd.DataFrame(rows, columns=cf.COLUMNS)
