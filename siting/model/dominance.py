"""Candidate dominance screening: cuts and removals that cannot change the optimum.

Site ``A`` *dominates* site ``B`` when ``A`` can take over any schedule of ``B`` (opening
period, cooling, modules per period, water source, demand served, heat sold) with the same
physical effect and no higher cost:

- the same bus, zone, zone kind, region, public-interest standing (and public cooling
  choices), the same on-site generation options with the same availability
  (:mod:`siting.model.onsite`), and the same cooling performance (PUE and WUE of every
  technology, so the same draw on the grid and the same water for the same MW);
- every other per-site field of :class:`~siting.model.data.ModelData` ``site`` equal,
  except: ``fixed_cost_usd``, ``land_usd_per_mw``, ``interconnect_usd``,
  ``bus_distance_km`` and ``earliest_period`` no higher, ``max_it_mw`` no lower;
- every cooling technology ``B`` may use allowed at ``A``; every water source in ``B``'s
  reach in ``A``'s, with a pipeline no longer and no dearer; every demand region ``B`` may
  serve served by ``A`` at no higher cost; every heat sink ``B`` may sell to open to ``A``;
- ties (equal in everything) are broken by position: the earlier site dominates.

This is a strict partial order. Exchange argument: in any feasible plan where ``B`` is open
and a dominator ``A`` is not, giving ``B``'s schedule to ``A`` and closing ``B`` keeps the
plan feasible and costs no more; repeating this (it ends: the open set climbs the order)
gives an equally good plan in which every open site's dominators are all open. Hence:

1. **cuts** ``open[B] <= open[A]`` are valid (some optimal plan meets them all); they are
   added to the model (:func:`siting.model.sites.add_sites`), at most
   :data:`MAX_CUTS_PER_SITE` per dominated site;
2. **removal**: if ``B`` has ``k`` dominators and ``k + 1`` open campuses at its bus
   (each at least ``min_campus_mw`` of IT by the last period, drawing at least ``f`` MW
   per MW of IT in a snapshot, ``f`` the least PUE there, times the utilisation off-peak)
   could not be served there, ``B`` is closed in that optimal plan and is left out. What a
   bus can serve, when line limits are on: the ratings of all its branches (plus the
   largest upgrade each offers) plus its generators' ``p_max_mw`` plus any negative base
   load; with a substation headroom, also that headroom (plus its upgrade) at peak PUE.
   Buses with an unrated branch have no such bound, and a site with on-site options is
   never removed this way (its output, or islanding, serves it without the bus).

Removed sites are not in the model's data (their count is in the plan's notes); the
candidates layer and maps still show them. Replays of a given plan (``siting grid check
--as-planned``, ``siting grid stress --check``) use the unscreened data: the cuts could
forbid the plan being replayed.
"""

from __future__ import annotations

import dataclasses
import time
from typing import cast

import numpy as np
import pandas as pd

from siting.model.data import ModelData, replaced

#: Most ``open[B] <= open[A]`` cuts per dominated site (its nearest dominators first).
MAX_CUTS_PER_SITE = 4
#: Largest group (sites sharing everything that must be equal) compared pairwise at once.
_CHUNK = 256

#: Per-site fields where lower is better, and where higher is better.
_LOWER = ("fixed_cost_usd", "land_usd_per_mw", "interconnect_usd", "bus_distance_km")
_HIGHER = ("max_it_mw",)


@dataclasses.dataclass
class Screening:
    """What dominance screening did.

    Attributes
    ----------
    sites_in, removed
        Candidate sites before screening, and the IDs left out.
    dominated
        Sites with at least one dominator.
    cuts
        ``(B, A)`` pairs: ``open[B] <= open[A]``.
    time_s
        Wall time [s].
    """

    sites_in: int
    removed: list[str]
    dominated: int
    cuts: list[tuple[str, str]]
    time_s: float

    def note(self) -> str:
        """One line for the plan's notes."""
        return (
            f"dominance screening: {self.dominated} of {self.sites_in} candidate sites are "
            "dominated (another site, at the same bus and with the same climate, zone and "
            f"region, can take any schedule of theirs for no more); {len(self.removed)} left "
            f"out (their bus cannot serve them and all their dominators); {len(self.cuts)} "
            f"cuts open[B] <= open[A] added ({self.time_s:.2f} s)"
        )


def _wide(
    links: pd.DataFrame | None, key: str, value: str, sites: pd.Index, fill: float
) -> pd.DataFrame:
    """``links`` (site_id, key, value) as a site x key table, ``fill`` where absent."""
    if links is None or not len(links) or key not in links:
        return pd.DataFrame(index=sites)
    w = links.pivot_table(index="site_id", columns=key, values=value, aggfunc="min")
    w.columns = [f"{value}@{c}" for c in w.columns]
    return w.reindex(sites).fillna(fill)


def _features(d: ModelData) -> tuple[pd.DataFrame, list[str], np.ndarray]:
    """(table of equal-key columns, their names, lower-is-better matrix), site order."""
    idx = pd.Index(d.campus.sites, name="site_id")
    site = d.campus.site.reindex(idx)
    varying = set(_LOWER) | set(_HIGHER) | {"earliest_period"}
    key = site[[c for c in site.columns if c not in varying]].copy()
    key = key.astype(str)
    perf = d.cooling.perf.copy()
    if len(perf):
        # (site_id, cooling) rows: a site x (column, cooling) table
        p = cast(pd.DataFrame, perf.unstack(level=1))
        p.columns = [f"perf:{a}@{b}" for a, b in cast(pd.MultiIndex, p.columns)]
        key = key.join(p.reindex(idx).round(12).astype(str))
    public = set(d.policy.public_sites)
    key["public"] = [
        ",".join(sorted(d.policy.public_techs.get(s, []))) if s in public else "-"
        for s in d.campus.sites
    ]
    key["onsite"] = _onsite_keys(d)
    flags = np.zeros((len(idx), len(d.cooling.techs)))
    if d.cooling.allowed:
        tech_pos = {k: j for j, k in enumerate(d.cooling.techs)}
        rows = idx.get_indexer(pd.Index([s for s, _ in d.cooling.allowed]))
        flags[rows, [tech_pos[k] for _, k in d.cooling.allowed]] = 1.0
    allowed = pd.DataFrame(flags, index=idx, columns=[f"tech@{k}" for k in d.cooling.techs])
    heat = d.policy.heat_links.assign(one=1.0) if len(d.policy.heat_links) else None
    lower = pd.concat(
        [
            site[list(_LOWER)].astype(float),
            site[["earliest_period"]].astype(float),
            -site[list(_HIGHER)].astype(float),
            -allowed,
            _wide(d.water.links, "source_id", "pipeline_usd", idx, np.inf),
            _wide(d.water.links, "source_id", "distance_km", idx, np.inf),
            _wide(d.policy.demand_links, "region_id", "cost_usd_per_mw_year", idx, np.inf),
            -_wide(heat, "sink_id", "one", idx, 0.0),
        ],
        axis=1,
    )
    return key, list(key.columns), lower.to_numpy(dtype=float)


def _onsite_keys(d: ModelData) -> list[str]:
    """Each site's on-site options and their availability per snapshot, as one string
    ("-" without options): sites that differ there are not compared."""
    tab = d.onsite.availability
    if not len(tab):
        return ["-"] * len(d.campus.sites)
    by_site: dict[str, list[str]] = {}
    tab = tab.sort_index()
    values = tab.to_numpy(dtype=float)
    for (s, o), row in zip(tab.index.tolist(), values, strict=True):
        vals = ",".join(f"{v:.12g}" for v in row)
        by_site.setdefault(str(s), []).append(f"{o}:{vals}")
    return [";".join(by_site.get(s, ["-"])) for s in d.campus.sites]


def bus_capacity_mw(d: ModelData) -> tuple[np.ndarray, np.ndarray]:
    """Upper bounds on the campus draw each bus can take in any feasible plan [MW].

    Returns
    -------
    (branches, headroom)
        Per bus (``net.bus_ids`` order): the sum of its branches' ratings (plus each one's
        upgrade) plus its generators' ``p_max_mw`` plus any negative base load (``inf``
        with an unrated branch, or without line limits); and its substation headroom plus
        upgrade (``inf`` where none), which bounds the peak draw.
    """
    net = d.grid.net
    nb = len(net.bus_ids) if net is not None else 0
    cap = np.full(nb, np.inf)
    head = np.full(nb, np.inf)
    if not d.grid.enabled or net is None:
        return cap, head
    if d.grid.line_limits:
        rating = np.asarray(net.rating_mw, dtype=float).copy()
        bu = d.grid.branch_upgrades
        if len(bu):
            rating[bu.index.to_numpy(dtype=int)] += bu["added_mw"].to_numpy(dtype=float)
        cap = np.zeros(nb)
        np.add.at(cap, net.from_idx, rating)
        np.add.at(cap, net.to_idx, rating)
        if len(d.grid.gens):
            np.add.at(
                cap, d.grid.gens["bus_pos"].to_numpy(dtype=int), d.grid.gens["p_max_mw"].to_numpy()
            )
        if len(d.grid.base_load_mw):
            # a negative base load (an injection) lets the bus take more
            lf = d.horizon.snapshots["load_factor"].to_numpy(dtype=float)
            load = d.grid.base_load_mw.to_numpy(dtype=float)
            least = (load[:, :, None] * lf[None, None, :]).min(axis=(1, 2))
            cap -= np.minimum(np.nan_to_num(least), 0.0)
        if len(d.grid.shunt_mw):
            cap -= np.minimum(np.asarray(d.grid.shunt_mw, dtype=float), 0.0)
    if len(d.grid.headroom_mw):
        head = np.asarray(d.grid.headroom_mw, dtype=float).copy()
        head = np.where(np.isnan(head), np.inf, head)
        up = d.grid.bus_upgrades
        if len(up):
            head[up.index.to_numpy(dtype=int)] += up["added_mw"].to_numpy(dtype=float)
    return cap, head


def _draw_per_it(d: ModelData, sites: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Least draw per MW of IT [MW/MW]: in the snapshot that bounds it most, and at peak."""
    if not len(d.cooling.perf):
        one = np.ones(len(sites))
        return one, one
    pue_peak = (
        d.cooling.perf["pue_peak"].groupby(level=0).min().reindex(sites).to_numpy(dtype=float)
    )
    pue_ann = (
        d.cooling.perf["pue_annual"].groupby(level=0).min().reindex(sites).to_numpy(dtype=float)
    )
    peak = d.horizon.snapshots["peak"].astype(bool).to_numpy()
    per_snap = []
    if peak.any():
        per_snap.append(pue_peak)
    if (~peak).any():
        per_snap.append(d.horizon.utilisation * pue_ann)
    f = np.max(per_snap, axis=0) if per_snap else np.ones(len(sites))
    return np.nan_to_num(f, nan=1.0), np.nan_to_num(pue_peak if peak.any() else f, nan=1.0)


def _onsite_sites(d: ModelData) -> list[str]:
    """The sites with any on-site option."""
    tab = d.onsite.availability
    if not len(tab):
        return []
    return sorted({str(s) for s in tab.index.get_level_values("site_id")})


def screen(d: ModelData) -> tuple[ModelData, Screening]:
    """Dominance screening of ``d``'s candidate sites (see the module docstring).

    Parameters
    ----------
    d
        The model's data, unscreened.

    Returns
    -------
    (ModelData, Screening)
        The data without the removed sites and with ``dominance_cuts`` set, and what was
        done.
    """
    t0 = time.perf_counter()
    n = len(d.campus.sites)
    if n < 2:
        return d, Screening(n, [], 0, [], time.perf_counter() - t0)
    key, cols, lower = _features(d)
    codes = key.groupby(cols, sort=False, dropna=False).ngroup().to_numpy()
    n_dom = np.zeros(n, dtype=int)
    dominators: dict[int, list[int]] = {}
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    for members in np.split(order, bounds):
        if len(members) < 2:
            continue
        members = np.sort(members)
        v = lower[members]
        for start in range(0, len(members), _CHUNK):
            b_rows = slice(start, start + _CHUNK)
            vb = v[b_rows]
            le = (v[:, None, :] <= vb[None, :, :]).all(axis=2)  # a x b
            lt = (v[:, None, :] < vb[None, :, :]).any(axis=2)
            eq = le & ~lt
            pos_a = np.arange(len(members))[:, None]
            pos_b = np.arange(start, start + vb.shape[0])[None, :]
            dom = le & (lt | (eq & (pos_a < pos_b)))
            for j in range(vb.shape[0]):
                a = members[np.flatnonzero(dom[:, j])]
                if len(a):
                    b = int(members[start + j])
                    n_dom[b] = len(a)
                    dominators[b] = [int(x) for x in a]

    removed: list[int] = []
    if dominators and d.campus.min_campus_mw > 0 and d.grid.net is not None:
        cap, head = bus_capacity_mw(d)
        bus_pos = {b: i for i, b in enumerate(d.grid.net.bus_ids)}
        onsite = set(_onsite_sites(d))
        cand = np.array(
            [b for b in sorted(dominators) if d.campus.sites[b] not in onsite], dtype=np.int64
        )
        if len(cand):
            f_any, f_peak = _draw_per_it(d, [d.campus.sites[i] for i in cand])
            pos = np.array([bus_pos[d.campus.site["bus_id"].iat[i]] for i in cand])
            need = (n_dom[cand] + 1) * d.campus.min_campus_mw
            tol = 1e-6 * np.maximum(1.0, need)
            gone = (need * f_any > cap[pos] + tol) | (need * f_peak > head[pos] + tol)
            removed = [int(i) for i in cand[gone]]
    gone_set = set(removed)
    cuts: list[tuple[str, str]] = []
    for b, doms in dominators.items():
        if b in gone_set:
            continue
        kept = [a for a in doms if a not in gone_set]
        # nearest dominators first: those with the most dominators of their own
        kept.sort(key=lambda a: (-n_dom[a], a))
        cuts += [(d.campus.sites[b], d.campus.sites[a]) for a in kept[:MAX_CUTS_PER_SITE]]
    out = without_sites(d, {d.campus.sites[i] for i in removed}) if removed else d
    out = replaced(out, campus={"dominance_cuts": cuts})
    info = Screening(n, [d.campus.sites[i] for i in removed], len(dominators), cuts, 0.0)
    info.time_s = time.perf_counter() - t0
    out.notes = [*out.notes, info.note()]
    return out, info


def without_sites(d: ModelData, gone: set[str]) -> ModelData:
    """``d`` without the sites in ``gone``."""

    def keep_rows(df: pd.DataFrame) -> pd.DataFrame:
        if df is None or not len(df) or "site_id" not in df:
            return df
        return df[~df["site_id"].astype(str).isin(gone)].reset_index(drop=True)

    sites = [s for s in d.campus.sites if s not in gone]
    perf = d.cooling.perf
    if len(perf):
        perf = perf[~perf.index.get_level_values(0).isin(gone)]
    pol = d.policy
    out = replaced(
        d,
        campus={"sites": sites, "site": d.campus.site.loc[sites]},
        cooling={"allowed": [(s, k) for s, k in d.cooling.allowed if s not in gone], "perf": perf},
        water={"links": keep_rows(d.water.links)},
        policy={
            "demand_links": keep_rows(pol.demand_links),
            "heat_links": keep_rows(pol.heat_links),
            "public_sites": [s for s in pol.public_sites if s not in gone],
            "public_techs": {s: v for s, v in pol.public_techs.items() if s not in gone},
        },
    )
    out.notes = list(d.notes)
    return out
