"""Compute pacts as the model reads them (no Pyomo here, so the plan's verification may read
them too): :class:`PactData` and :func:`pact_inputs`, which checks each pact's sites,
zones, regions, generations, generators and security tier against the inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from siting.core.errors import InputError, Problem

if TYPE_CHECKING:
    from siting.config.scenario import Pact, Scenario


@dataclass
class PactData:
    """One compute pact (family :mod:`siting.model.pacts`).

    Attributes
    ----------
    name
        The pact's name.
    scope
        Candidate sites the pact applies to (its ``sites``, ``zones`` and ``regions``).
    sites
        Those of ``scope`` that meet ``security_tier``: where its licensed accelerators and
        its energy go.
    security_tier
        Tier the sites must meet (0: any).
    supply
        Cap on the accelerators installed in a planning period at the pact's sites, by
        (generation, period) [accelerators]; a licensed generation's periods not listed
        are 0.
    generations
        The generations the pact licenses (those of its supply schedule).
    energy_source
        ``generators``, ``region``, ``ppa``, or "" (no energy contract).
    energy_usd_per_mwh
        Contract price [USD/MWh] (0 without a contract).
    energy_mwh_per_year
        Contracted volume per planning year [MWh/year] (0 without a contract).
    energy_from
        The generator IDs or the region ID the energy comes from.
    public_share
        Share of the pact's compute reserved for public-interest use [fraction].
    public_sites
        The pact's sites that may hold the public share.
    """

    name: str
    scope: list[str]
    sites: list[str]
    security_tier: int = 0
    supply: dict[tuple[str, int], float] = field(default_factory=dict)
    generations: list[str] = field(default_factory=list)
    energy_source: str = ""
    energy_usd_per_mwh: float = 0.0
    energy_mwh_per_year: float = 0.0
    energy_from: list[str] = field(default_factory=list)
    public_share: float = 0.0
    public_sites: list[str] = field(default_factory=list)


def licensed(pacts: list[PactData]) -> set[str]:
    """The generations some pact licenses: installed only under a pact."""
    return {g for p in pacts for g in p.generations}


def site_tiers(sites_layer: pd.DataFrame | None, sites: list[str]) -> pd.Series:
    """Each candidate site's security tier (the sites layer's ``security_tier``; empty cells
    and generated cells 0), indexed by site_id."""
    tier = pd.Series(0, index=pd.Index(sites, name="site_id"), dtype=int)
    if sites_layer is not None and "security_tier" in sites_layer:
        col = pd.to_numeric(sites_layer["security_tier"], errors="coerce")
        col.index = [str(i) for i in col.index]
        tier = col.reindex(tier.index).fillna(0).astype(int)
    return tier


def _error(i: int, p: Pact, fld: str, message: str, file: str | None) -> InputError:
    return InputError(Problem(message, file=file, field=f"pacts[{i}] ({p.name}).{fld}"))


def _scope(
    i: int,
    p: Pact,
    site: pd.DataFrame,
    known: dict[str, set[str]],
    file: str | None,
) -> list[str]:
    """The candidate sites pact ``p`` applies to; unknown sites, zones or regions refused."""
    sites = list(site.index)
    for fld, ids in (("sites", p.sites), ("zones", p.zones), ("regions", p.regions)):
        unknown = [x for x in ids if x not in known[fld]]
        if unknown:
            where = {
                "sites": "the candidate sites (the sites layer's site_id, kept by screening)",
                "zones": "the zones layer's zone_id",
                "regions": "the regions layer's region_id",
            }[fld]
            raise _error(
                i,
                p,
                fld,
                f"unknown {fld[:-1]} ID(s) {', '.join(map(repr, unknown))}; expected IDs of "
                f"{where}",
                file,
            )
    if not (p.sites or p.zones or p.regions):
        return sites
    ok = (
        site.index.isin(p.sites)
        | site["zone_id"].isin(p.zones).to_numpy()
        | site["region_id"].isin(p.regions).to_numpy()
    )
    return [s for s, keep in zip(sites, ok, strict=True) if keep]


def pact_inputs(
    scenario: Scenario,
    site: pd.DataFrame,
    years: list[int],
    *,
    generations: list[str],
    known: dict[str, set[str]],
    tiers_given: bool,
    public_sites: list[str] | None,
) -> list[PactData]:
    """The scenario's ``pacts`` as :class:`PactData`, checked against the inputs.

    Parameters
    ----------
    scenario
        The scenario.
    site
        :attr:`siting.model.data.CampusData.site`, with its ``security_tier`` column.
    years
        Planning years.
    generations
        The generations the compute section allows.
    known
        IDs a pact may name: ``sites`` (candidate sites), ``zones``, ``regions``,
        ``generators`` (the grid's, empty without a grid layer).
    tiers_given
        Whether the sites layer gives any ``security_tier``.
    public_sites
        Sites eligible under ``policy.public_interest`` (``None``: no such policy).

    Raises
    ------
    siting.core.errors.InputError
        Naming the pact and its field: an unknown site, zone, region, generation or
        generator, or a security tier when the sites layer gives none.
    """
    file = str(scenario.source_file) if scenario.source_file else None
    out = []
    for i, p in enumerate(scenario.pacts):
        scope = _scope(i, p, site, known, file)
        if p.security_tier > 0 and not tiers_given:
            raise _error(
                i,
                p,
                "security_tier",
                f"the pact requires security tier {p.security_tier}, but no site has a "
                "security_tier (the sites layer lacks the column or leaves it empty; "
                "generated cells have none); expected a sites layer with `security_tier`",
                file,
            )
        supply: dict[tuple[str, int], float] = {}
        gens: list[str] = []
        for y, by_gen in sorted(p.supply_by_year.items()):
            unknown = [g for g in by_gen if g not in generations]
            if unknown:
                raise _error(
                    i,
                    p,
                    f"supply_by_year.{y}",
                    f"unknown generation(s) {', '.join(map(repr, unknown))}; expected "
                    f"generations of the compute section ({', '.join(generations)})",
                    file,
                )
            for g, n in by_gen.items():
                supply[g, years.index(y)] = float(n)
                gens += [g] if g not in gens else []
        tier = site.loc[scope, "security_tier"].to_numpy() if scope else np.zeros(0)
        sites = [s for s, k in zip(scope, tier, strict=True) if int(k) >= p.security_tier]
        e = p.energy
        if e is not None and e.source == "generators":
            unknown = [g for g in e.generators if g not in known["generators"]]
            if unknown:
                raise _error(
                    i,
                    p,
                    "energy.generators",
                    f"unknown generator ID(s) {', '.join(map(repr, unknown))}; expected gen_id "
                    "values of the grid layer's generators",
                    file,
                )
        if e is not None and e.source == "region" and e.region not in known["regions"]:
            raise _error(
                i,
                p,
                "energy.region",
                f"unknown region ID {e.region!r}; expected a region_id of the regions layer",
                file,
            )
        pub = sites if public_sites is None else [s for s in sites if s in set(public_sites)]
        out.append(
            PactData(
                name=p.name,
                scope=scope,
                sites=sites,
                security_tier=p.security_tier,
                supply=supply,
                generations=gens,
                energy_source=e.source if e is not None else "",
                energy_usd_per_mwh=e.usd_per_mwh if e is not None else 0.0,
                energy_mwh_per_year=e.mwh_per_year if e is not None else 0.0,
                energy_from=(e.generators if e.source == "generators" else [str(e.region)])
                if e is not None and e.source != "ppa"
                else [],
                public_share=p.public_interest_share,
                public_sites=pub,
            )
        )
    return out
