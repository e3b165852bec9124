"""siting: plan where and when a country builds its AI campuses.

A mixed-integer program (Pyomo, solved by HiGHS) chooses campus sites and phased
megawatt builds from grid, water-reuse, cooling and land-use layers; the results
are written as tables, GeoPackages and interactive maps.
"""

from importlib import metadata

try:
    __version__ = metadata.version("siting")
except metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
