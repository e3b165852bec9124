"""Input files: which may be opened, which files a dataset is made of, and their hashes.

Every reader of an input asks :func:`path_problem` (or :func:`dataset_problem` for what
GDAL opens) before it reads anything, so that one rule holds for every path a run reads:
only regular files are opened (and folders, where a format is a folder), never a named
pipe (FIFO), a device or a socket. Opening a FIFO blocks until another process writes
to it, so a FIFO as a layer path would hang a run forever; ``/dev/zero`` never ends.

GDAL opens more than the file it is given: a GeoTIFF's ``.aux.xml`` (which may set
another nodata value), ``.ovr``, ``.msk`` and world file; a shapefile's ``.shx``,
``.dbf``, ``.prj`` and ``.cpg``; a GeoPackage's ``-wal`` journal. :func:`dataset_problem`
refuses a FIFO, device or socket among the files beside a dataset that GDAL may probe,
and :func:`dataset_files` lists the files that make up a dataset (for rasters, GDAL's
own list), so that the manifest records the SHA-256 of each: two runs whose sidecars
differ read different data, and have different input hashes.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

from siting.core.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

#: The GDAL driver raster layers are opened with (GeoTIFF, cloud-optimised ones included).
RASTER_DRIVER = "GTiff"

#: What a scenario path holds, for :func:`dataset_files`: a GDAL raster, an OGR vector
#: dataset (a file or a folder), or a plain file read by siting itself (CSV, MATPOWER,
#: pandapower JSON, YAML).
DatasetKind = Literal["raster", "vector", "file"]

#: File name endings (lower case) of the parts of a vector dataset that OGR reads with its
#: main file: shapefile parts (after GDAL's ``OGRShapeLayer::AddToFileList``), MapInfo
#: parts, and SQLite's write-ahead log and rollback journal (a GeoPackage's ``-wal``
#: holds committed rows not yet copied into the file: SQLite reads them).
VECTOR_PARTS: dict[str, tuple[str, ...]] = {
    ".shp": (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx"),
    ".dbf": (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx"),
    ".tab": (".tab", ".dat", ".map", ".id", ".ind"),
    ".mif": (".mif", ".mid"),
    ".gpkg": ("-wal", "-journal"),
    ".sqlite": ("-wal", "-journal"),
    ".db": ("-wal", "-journal"),
}
#: Files beside a dataset that are never part of what it holds: SQLite's shared-memory
#: index (rewritten by every reader) and GDAL's lock files.
NOT_DATA_SUFFIXES = ("-shm", ".lock")


def _kind_of(mode: int) -> str | None:
    """What a non-regular, non-folder file is, in words (``None`` for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def path_problem(
    path: str | Path, *, folder_ok: bool = False, expected: str = "a file"
) -> str | None:
    """Why an input path cannot be opened, before anything tries to read it; ``None`` if it can.

    Looks only (``stat``), never opens. ``"file not found"`` when nothing is there;
    ``"cannot be read: <reason>"`` when the system refuses even to look (a name too long,
    no permission to a folder on the way ...); ``"is a named pipe (FIFO); ..."`` (or a
    device, a socket) for anything but a regular file, which would block or never end
    when read; ``"is a folder; ..."`` for a folder unless ``folder_ok`` (formats that are
    folders: a shapefile folder, a FileGDB).

    Parameters
    ----------
    path
        The path, as the scenario or command line gave it (symbolic links are followed).
    folder_ok
        A folder is a valid dataset here.
    expected
        What should be there, for the message about a folder (``"a YAML scenario file"``).
    """
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "file not found"
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the name
        return f"cannot be read: {getattr(e, 'strerror', None) or e}"
    if stat.S_ISREG(mode) or (folder_ok and stat.S_ISDIR(mode)):
        return None
    if stat.S_ISDIR(mode):
        return f"is a folder; expected {expected}"
    return f"is {_kind_of(mode)}, not a regular file; only regular files are read"


def _siblings(path: Path) -> list[Path]:
    """The entries beside ``path`` that GDAL may open with it (see :func:`dataset_problem`)."""
    if path.is_dir():
        try:
            return sorted(path.iterdir())
        except OSError:
            return []
    stem = path.name.split(".", 1)[0].casefold()
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return []
    out = []
    for e in entries:
        name = e.name.casefold()
        if name.startswith(stem) and (len(name) == len(stem) or name[len(stem)] in ".-_"):
            out.append(path.parent / e.name)
    return sorted(out)


def dataset_problem(path: str | Path, *, folder_ok: bool = False) -> str | None:
    """Like :func:`path_problem`, for a dataset GDAL opens: the files it may probe too.

    GDAL looks for sidecar files named after the dataset (``x.tif.aux.xml``, ``x.tfw``,
    ``x.cpg``, ``x.gpkg-wal`` ...) and opens each it finds, so a named pipe among them
    hangs the open as surely as one at ``path``. Every entry beside ``path`` whose name is
    ``path``'s base name followed by ``.``, ``-`` or ``_`` (every entry inside, for a
    folder dataset) must be a regular file or a folder.
    """
    path = Path(path)
    why = path_problem(path, folder_ok=folder_ok)
    if why is not None:
        return why
    for p in _siblings(path):
        if p == path:
            continue
        try:
            mode = os.stat(p).st_mode
        except OSError:
            continue  # a dangling link or an entry gone since: GDAL cannot open it either
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            return (
                f"{p.name} beside it is {_kind_of(mode)}; GDAL opens the files named after a "
                "dataset with it and would block on it; only regular files are read"
            )
    return None


def require_reachable(*paths: str | Path | None) -> None:
    """Raise :class:`~siting.core.errors.InputError` naming a path the system refuses to look up.

    For commands given a folder or file on the command line, before ``is_dir`` and friends
    (which raise :class:`OSError` on a name too long instead of answering). A path that does
    not exist passes: the command says best what it expected there.
    """
    for p in paths:
        if p is None:
            continue
        why = path_problem(p, folder_ok=True)
        if why is not None and why != "file not found":
            raise InputError(f"{p}: {why}")


class NotRegularFileError(OSError):
    """:func:`open_regular` was given something other than a regular file."""


@contextmanager
def open_regular(path: str | Path) -> Iterator[BinaryIO]:
    """Open a regular file for reading in binary; refuse anything else without blocking.

    The file is opened with ``O_NONBLOCK`` (so a FIFO's open returns at once instead of
    waiting for a writer), checked with ``fstat`` on the open descriptor (so a file
    swapped for a FIFO after a check is caught too), and only then read, blocking as usual.

    Raises
    ------
    NotRegularFileError
        For a FIFO, device, socket or folder (its message says which).
    OSError
        When the file cannot be opened.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        kind = _kind_of(os.fstat(fd).st_mode)
        if kind is not None:
            raise NotRegularFileError(
                f"{path} is {kind}, not a regular file; only regular files are read"
            )
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f


def read_text_regular(path: str | Path, encoding: str = "utf-8", errors: str = "strict") -> str:
    """The text of a regular file (:func:`open_regular`; raises as it does)."""
    with open_regular(path) as f:
        return f.read().decode(encoding, errors)


def file_sha256(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 of a regular file, read in chunks of ``chunk_bytes`` [bytes].

    Raises
    ------
    NotRegularFileError
        For a FIFO, device, socket or folder (hashing one would block or never end).
    """
    h = hashlib.sha256()
    with open_regular(path) as f:
        while chunk := f.read(chunk_bytes):
            h.update(chunk)
    return h.hexdigest()


def _raster_files(path: Path) -> list[Path]:
    """GDAL's own list of the files of a GeoTIFF (``.aux.xml``, ``.ovr``, ``.msk``, world
    file ... when present and used); just ``path`` when it does not open."""
    import rasterio

    try:
        with rasterio.open(path, driver=RASTER_DRIVER) as ds:
            return [Path(f) for f in ds.files]
    except Exception:  # not a GeoTIFF: its reader says so; the file itself is still recorded
        return [path]


def _vector_files(path: Path) -> list[Path]:
    """The files of an OGR dataset: its main file and the parts of :data:`VECTOR_PARTS`;
    every regular file directly inside a folder dataset (but :data:`NOT_DATA_SUFFIXES`)."""
    if path.is_dir():
        inside = [
            p
            for p in _siblings(path)
            if p.is_file() and not p.name.casefold().endswith(NOT_DATA_SUFFIXES)
        ]
        return inside
    parts = VECTOR_PARTS.get(path.suffix.casefold(), ())
    out = [path]
    if parts and parts[0].startswith("-"):  # SQLite journals: the file name plus a suffix
        out += [path.with_name(path.name + s) for s in parts]
    else:
        stem = path.name[: -len(path.suffix)].casefold() if path.suffix else path.name
        out += [
            p
            for p in _siblings(path)
            if p != path
            and p.name.casefold() in {stem + s for s in parts}
            and p.suffix.casefold() != path.suffix.casefold()
        ]
    return [p for p in out if p == path or p.is_file()]


def dataset_files(path: str | Path, kind: DatasetKind) -> list[Path]:
    """Every file that makes up the dataset at ``path``: ``path`` first, then its parts.

    Parameters
    ----------
    path
        The dataset as the scenario names it.
    kind
        ``raster`` (GDAL's file list of the GeoTIFF), ``vector`` (:data:`VECTOR_PARTS`, or
        the files of a folder dataset) or ``file`` (just the file).

    Raises
    ------
    siting.core.errors.InputError
        When ``path`` or a file GDAL would open with it is a FIFO, device or socket
        (:func:`dataset_problem`); nothing is opened then.
    """
    path = Path(path)
    folder_ok = kind == "vector"
    why = dataset_problem(path, folder_ok=folder_ok) if kind != "file" else path_problem(path)
    if why is not None and why != "file not found":
        raise InputError(f"{path}: {why}")
    if why is not None or kind == "file":
        return [path]
    found = _raster_files(path) if kind == "raster" else _vector_files(path)
    resolved = list(dict.fromkeys(p.resolve() for p in found))
    main = path.resolve()
    if main not in resolved:  # a folder dataset: the files inside it
        return sorted(resolved)
    return [main] + sorted(p for p in resolved if p != main)


def read_text_csv(
    path: str | Path, layer: str, columns: list[str] | tuple[str, ...]
) -> pd.DataFrame:
    """A small CSV input read as text cells (``pandas.DataFrame`` of ``str``, headers
    stripped), checked to hold ``columns``.

    Parameters
    ----------
    path
        The CSV file.
    layer
        What it is, for the error (a scenario field such as ``compute.generations_csv``).
    columns
        The columns it must have.

    Raises
    ------
    siting.core.errors.InputError
        Naming the file and ``layer``: not a regular readable file, not a CSV, or a column
        missing (with the header expected and the one found).
    """
    import pandas as pd  # at run time (the module imports it only for type hints)

    from siting.core.errors import Problem

    why = path_problem(Path(path), expected="a CSV file")
    if why is not None:  # a FIFO would block the read
        raise InputError(Problem(why, file=str(path), layer=layer))
    try:
        with open_regular(path) as f:
            raw = pd.read_csv(f, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as e:
        msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise InputError(
            Problem(f"not a readable CSV ({msg})", file=str(path), layer=layer)
        ) from None
    raw.columns = [str(col).strip() for col in raw.columns]
    missing = [col for col in columns if col not in raw.columns]
    if missing:
        raise InputError(
            Problem(
                f"missing column(s) {', '.join(missing)}; expected a header "
                f"{', '.join(columns)} (found: {', '.join(raw.columns) or 'none'})",
                file=str(path),
                layer=layer,
            )
        )
    return raw
