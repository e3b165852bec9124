"""siting: plan where and when a country builds its AI campuses.

A mixed-integer program (Pyomo, solved by HiGHS) chooses campus sites and phased
megawatt builds from grid, water-reuse, cooling and land-use layers; the results
are written as tables, GeoPackages and interactive maps.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from siting.config.scenario import Scenario
    from siting.results.plan import Plan

from siting.core.version import __version__

__all__ = ["__version__", "plan"]


def plan(scenario: str | Path | Scenario, **kwargs: Any) -> Plan:
    """Plan a scenario (a YAML path or a Scenario); see :func:`siting.pipeline.plan`.

    Returns a verified :class:`siting.results.plan.Plan` (tables, geometries, solver figures)
    and, unless ``write=False``, writes its outputs to ``maps/<name>/`` or ``out``.
    """
    from siting.pipeline import plan as _plan

    return _plan(scenario, **kwargs)
