"""Provenance: what a run used, so a plan can be audited and reproduced."""

from __future__ import annotations

import platform
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from siting.core.errors import InputError, Problem
from siting.core.files import DatasetKind, dataset_files, file_sha256, path_problem

__all__ = ["InputFile", "InputRef", "file_sha256", "hash_inputs", "run_record", "versions"]

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
    part_of
        For a file GDAL reads with a dataset (a GeoTIFF's ``.aux.xml``, a shapefile's
        ``.dbf``, a GeoPackage's ``-wal``): the dataset's absolute path; ``None`` for the
        dataset itself.
    """

    role: str
    path: str
    sha256: str
    size_bytes: int
    part_of: str | None = None

    def as_dict(self) -> dict[str, object]:
        """As a JSON-ready mapping."""
        return asdict(self)


#: One input to hash: (role, path) of a plain file, or (role, path, kind) where ``kind``
#: says how the dataset is read (:data:`siting.core.files.DatasetKind`).
InputRef = tuple[str, Path] | tuple[str, Path, DatasetKind]


def hash_inputs(
    files: Sequence[InputRef], cache: dict[Path, tuple[str, int]] | None = None
) -> list[InputFile]:
    """Hash every file of each input; a file used in several roles is hashed once.

    Each input's files are :func:`siting.core.files.dataset_files`: a raster's sidecars GDAL
    reads (``.aux.xml``, ``.ovr``, ``.msk``, world file) and a vector dataset's parts are
    recorded with ``part_of`` naming the dataset. A path where nothing is (an optional
    input whose reader reported it) is left out.

    Parameters
    ----------
    files
        (role, path) or (role, path, kind) of each input.
    cache
        Hashes already computed, by resolved path: (SHA-256, size [bytes]); filled in.

    Raises
    ------
    siting.core.errors.InputError
        When an input, or a file GDAL would open with it, is a FIFO, device or socket
        (named with its role): hashing it would block.
    """
    cache = {} if cache is None else cache
    out = []
    for ref in files:
        role, path = ref[0], Path(ref[1])
        kind: DatasetKind = ref[2] if len(ref) > 2 else "file"
        try:
            main = path.resolve()
            for p in dataset_files(path, kind):
                p = p.resolve()
                if path_problem(p) == "file not found":
                    continue
                if p not in cache:
                    cache[p] = (file_sha256(p), p.stat().st_size)
                digest, size = cache[p]
                part_of = None if p == main else str(main)
                out.append(InputFile(role, str(p), digest, size, part_of))
        except (InputError, OSError) as e:
            why = e.problems[0].message if isinstance(e, InputError) else str(e)
            raise InputError(
                Problem(f"cannot be hashed for the manifest: {why}", file=str(path), field=role)
            ) from None
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


def run_record(scenario: Any, inputs: Sequence[InputFile]) -> dict[str, Any]:
    """The provenance every run's record opens with: the scenario's name and title, when
    (UTC), the scenario's digest and the scenario as run, every input file hashed, and the
    versions (:func:`versions`).

    Parameters
    ----------
    scenario
        The :class:`siting.config.scenario.Scenario` run (``name``, ``title``, ``digest()``,
        ``model_dump()``).
    inputs
        Its input files, hashed (:func:`hash_inputs`).
    """
    return {
        "scenario": scenario.name,
        "title": scenario.title,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "scenario_digest_sha256": scenario.digest(),
        "scenario_as_run": scenario.model_dump(mode="json"),
        "inputs": [f.as_dict() for f in inputs],
        "versions": versions(),
    }
