"""Provenance: what a run used, so a plan can be audited and reproduced."""

from __future__ import annotations

import hashlib
import platform
import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

#: Packages whose versions every manifest records.
TRACKED_PACKAGES = (
    "siting",
    "numpy",
    "pandas",
    "scipy",
    "geopandas",
    "shapely",
    "pyogrio",
    "pyproj",
    "rasterio",
    "pyomo",
    "highspy",
    "folium",
    "pydantic",
)


@dataclass(frozen=True)
class InputFile:
    """One input file and its fingerprint.

    Attributes
    ----------
    role
        What the scenario uses it for (``grid``, ``climate.dry_bulb_mean_c``).
    path
        Absolute path.
    sha256
        Hex SHA-256 of the file's bytes.
    size_bytes
        File size [bytes].
    """

    role: str
    path: str
    sha256: str
    size_bytes: int

    def as_dict(self) -> dict[str, object]:
        """As a JSON-ready mapping."""
        return asdict(self)


def file_sha256(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks of ``chunk_bytes`` [bytes]."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            h.update(chunk)
    return h.hexdigest()


def hash_inputs(files: list[tuple[str, Path]]) -> list[InputFile]:
    """Hash each (role, path); a file used in several roles is hashed once."""
    cache: dict[Path, tuple[str, int]] = {}
    out = []
    for role, path in files:
        p = Path(path).resolve()
        if not p.is_file():
            continue
        if p not in cache:
            cache[p] = (file_sha256(p), p.stat().st_size)
        digest, size = cache[p]
        out.append(InputFile(role=role, path=str(p), sha256=digest, size_bytes=size))
    return out


def versions() -> dict[str, str]:
    """Versions of Python, the platform and the tracked packages."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
