"""The in-memory transmission grid every reader produces.

Whatever the source (GeoPackage/GeoJSON layers, a MATPOWER case, a pandapower
network), the readers hand back one :class:`Grid`: three tables with the columns
of :mod:`siting.inputs.fields` (units in the names), IDs as strings, and the
generators' cost curves kept exactly (MATPOWER gencost models 1 and 2).

Conventions (MATPOWER's, kept exactly):

- ``x_pu``, ``r_pu``, ``b_pu`` are per unit on ``base_mva``;
- ``tap_ratio`` is 1 where MATPOWER writes 0; ``shift_deg`` in degrees;
- ``rating_mw`` is ``inf`` where MATPOWER writes rateA = 0 (unlimited);
- out-of-service branches and generators are kept, flagged ``in_service = False``
  (network code drops them; maps may still draw them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS


@dataclass(frozen=True)
class CostCurve:
    """A generator's cost as a function of its output.

    Parameters
    ----------
    model
        ``"pwl"`` (MATPOWER gencost model 1) or ``"polynomial"`` (model 2).
    points
        For ``pwl``: array of shape (n, 2), rows ``(p_mw, cost_usd_per_h)``, p ascending.
    coefficients
        For ``polynomial``: ``c_n ... c_1, c_0`` (highest order first), cost in USD/h
        with output in MW, as MATPOWER stores them.
    startup_usd, shutdown_usd
        Start-up and shut-down costs [USD].
    """

    model: Literal["pwl", "polynomial"]
    points: np.ndarray | None = None
    coefficients: tuple[float, ...] | None = None
    startup_usd: float = 0.0
    shutdown_usd: float = 0.0

    def cost_usd_per_h(self, p_mw: np.ndarray | float) -> np.ndarray:
        """Cost at output ``p_mw`` [MW] in USD/h (pwl: linear interpolation, extrapolated)."""
        p = np.asarray(p_mw, dtype=float)
        if self.model == "polynomial":
            assert self.coefficients is not None
            return np.polyval(np.asarray(self.coefficients, dtype=float), p)
        assert self.points is not None
        x, y = self.points[:, 0], self.points[:, 1]
        if len(x) == 1:
            return np.full_like(p, y[0])
        # linear extrapolation beyond the ends, as MATPOWER's CCV formulation implies
        slope_lo = (y[1] - y[0]) / (x[1] - x[0])
        slope_hi = (y[-1] - y[-2]) / (x[-1] - x[-2])
        out = np.interp(p, x, y)
        out = np.where(p < x[0], y[0] + slope_lo * (p - x[0]), out)
        return np.where(p > x[-1], y[-1] + slope_hi * (p - x[-1]), out)

    @staticmethod
    def linear(marginal_cost_usd_per_mwh: float) -> CostCurve:
        """A linear cost, ``marginal_cost_usd_per_mwh * p_mw`` [USD/h]."""
        return CostCurve("polynomial", coefficients=(float(marginal_cost_usd_per_mwh), 0.0))


@dataclass
class Grid:
    """A transmission grid.

    Attributes
    ----------
    buses
        Index ``bus_id`` (str). Columns: ``name, voltage_kv, load_mw, shunt_mw, bus_type,
        area, substation_headroom_mw`` (see :data:`siting.inputs.fields.BUSES`), plus any
        ``load_mw_<YYYY>`` columns, and ``geometry`` (points; empty when the source has no
        coordinates).
    branches
        Index ``branch_id`` (str). Columns of :data:`siting.inputs.fields.BRANCHES` and
        ``geometry`` (lines; empty when no coordinates).
    generators
        Index ``gen_id`` (str). Columns of :data:`siting.inputs.fields.GENERATORS`;
        ``marginal_cost_usd_per_mwh`` is NaN when the curve is not linear.
    costs
        ``gen_id`` -> :class:`CostCurve`.
    base_mva
        System base for per-unit values [MVA].
    source
        Where it was read from (path), and ``source_format`` how.
    attachments
        What the scenario's tables attached to the grid
        (:mod:`siting.inputs.grids.attachments`): ``layers.grid`` key -> ``path``, ``rows``
        and what they changed.
    """

    buses: gpd.GeoDataFrame
    branches: gpd.GeoDataFrame
    generators: pd.DataFrame
    costs: dict[str, CostCurve] = field(default_factory=dict)
    base_mva: float = 100.0
    source: str = ""
    source_format: str = ""
    attachments: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def has_coordinates(self) -> bool:
        """Whether the buses have point geometries (and so can be mapped)."""
        geom = self.buses.geometry
        return len(geom) > 0 and bool((~(geom.isna() | geom.is_empty)).all())

    @property
    def crs(self) -> CRS | None:
        """The CRS of the bus geometries (``None`` without coordinates)."""
        return self.buses.crs

    def load_mw(self, years: list[int] | None = None) -> pd.DataFrame:
        """Base load per bus and year [MW], from ``load_mw`` and ``load_mw_<YYYY>`` columns.

        A year without its own column takes the latest earlier year's column, or
        ``load_mw``. Without ``years``, one column ``"base"``.
        """
        from siting.inputs.vector import per_year_table

        if not years:
            return self.buses[["load_mw"]].rename(columns={"load_mw": "base"})
        return per_year_table(self.buses, "load_mw", years)

    def total_generation_mw(self) -> float:
        """Sum of ``p_max_mw`` of in-service generators [MW]."""
        g = self.generators
        return float(g.loc[g["in_service"].astype(bool), "p_max_mw"].sum())

    def total_load_mw(self) -> float:
        """Sum of base ``load_mw`` plus ``shunt_mw`` over buses [MW]."""
        return float(self.buses["load_mw"].sum() + self.buses["shunt_mw"].sum())
