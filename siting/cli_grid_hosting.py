"""``siting grid hosting`` (see siting.cli_grid)."""

from __future__ import annotations

from siting.cli_grid import grid_app  # noqa: F401
