"""The installed siting's version (``0.0.0+unknown`` in a source tree that was never
installed)."""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("siting")
except metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"
