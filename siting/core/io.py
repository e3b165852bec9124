"""Safe output: atomic files, whole folders swapped in, and only where siting may write.

A reader never sees a half-written file under the final name, and a run that
fails or is killed leaves the previous file whole.

A whole folder (a plan) is written into a hidden staging folder beside it
(``.<name>.stage-XXXXXXXX.tmp``), every file flushed to disk (fsync), and swapped in at
the end: on Linux with one atomic ``renameat2(RENAME_EXCHANGE)``, elsewhere with two
renames (the old folder set aside as ``.<name>.old-<pid>`` and put back by the next run if
a kill falls between them). One run at a time writes a folder: :func:`output_lock` takes an
exclusive ``flock`` on ``.<name>.lock`` beside it, which the kernel releases when the
process ends, killed or not; the next run that takes the lock removes what a killed run
left behind.

A folder is siting's only when siting made it: its marker file :data:`MARKER`
(``siting-output.json``) names the kind of output, the scenario and the run, and lists
the files siting wrote there (:func:`check_output_folder` says what may be replaced; a plan
folder written before the marker existed is known by its ``manifest.json``). A write that
fails (no space left, a read-only file system, a busy mount point, no permission) raises
:class:`OutputWriteError`, which names the folder and the cause and keeps the previous
folder as it was.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import stat
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from siting.core.errors import SitingError
from siting.core.interrupt import on_hard_stop, signals_held

#: The marker file of a folder siting made (see :func:`check_output_folder`).
MARKER = "siting-output.json"

#: The files a plan folder holds: what it held before the marker existed (:func:`read_owner`
#: knows such folders by their ``manifest.json``), and the tables added since (a folder
#: without its marker may come from a later siting, its marker lost).
PLAN_FILES = frozenset(
    {
        "plan.gpkg",
        "zones.geojson",
        "schedule.csv",
        "flows.csv",
        "dispatch.csv",
        "upgrades.csv",
        "contingencies.csv",
        "why_here.csv",
        "draw_relief.csv",
        "onsite.csv",
        "curtailment.csv",
        "compute.csv",
        "pacts.csv",
        "manifest.json",
        "report.html",
        "index.html",
    }
)
#: What another command writes into a siting folder by default: ``siting candidates``, into
#: the plan folder ``maps/<name>/`` (siting's own, so a rerun may replace it).
COMPANION_FILES = frozenset({"candidates.gpkg"})

#: The cause of a failed write in words, by errno.
_CAUSES = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EBUSY: "busy mount point or file in use (it cannot be renamed or replaced)",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied (operation not permitted)",
    errno.EIO: "input/output error (the disk or the network file system failed)",
}

#: How GDAL and SQLite say it (their errors carry no errno), by errno.
_GDAL_CAUSES = {
    errno.ENOSPC: ("disk is full", "no space left"),
    errno.EROFS: ("read-only file system", "readonly database"),
    errno.EACCES: ("permission denied",),
}


class OutputLockedError(SitingError):
    """Another run is writing the same output folder."""

    def __init__(self, message: str, out: Path, pid: int | None):
        super().__init__(message)
        self.out = out
        self.pid = pid


class OutputRefusedError(SitingError):
    """siting will not write there: the path is not its own output, or it holds an input.

    Nothing was touched; the message names the path, why, and what to do instead.
    """

    def __init__(self, message: str, path: Path):
        super().__init__(message)
        self.path = path


class OutputWriteError(SitingError, OSError):
    """Writing an output failed (disk full, read-only, busy, no permission); the previous
    output is kept as it was. Also an ``OSError``; ``errno`` is the cause's, if known."""

    def __init__(self, message: str, path: Path, cause_errno: int | None = None):
        super().__init__(message)
        self.path = path
        self.errno = cause_errno

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class OutputOwner:
    """What writes (or wrote) an output folder: the kind of output and its scenario.

    Attributes
    ----------
    kind
        ``plan``, ``stress``, ``grid-check``, ``pareto-<metric>``, ``sweep`` or
        ``robustness``.
    scenario
        The scenario's name (a sweep's name for ``sweep`` and ``robustness``); ``None``
        when read from a folder written before the marker that does not say it.
    """

    kind: str
    scenario: str | None

    def __str__(self) -> str:
        of = f" of '{self.scenario}'" if self.scenario is not None else ""
        return f"a siting {self.kind} folder{of}"


@dataclass(frozen=True)
class FolderRecord:
    """What :func:`read_owner` found in a folder siting made.

    Attributes
    ----------
    owner
        Its kind and scenario.
    files
        The files siting wrote there (paths relative to the folder, ``/``-separated); None
        for a folder that runs add to (a sweep) rather than replace.
    """

    owner: OutputOwner
    files: frozenset[str] | None


def cause_in_words(e: BaseException) -> str:
    """The cause of a failed write in words (``no space left on device`` ...)."""
    code = getattr(e, "errno", None)
    if code in _CAUSES:
        return _CAUSES[code]
    if code:
        return os.strerror(code).lower()
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e) if isinstance(e, OSError) else f"{type(e).__name__}: {e}"


def disk_trouble(folder: Path, probe_bytes: int = 65536) -> OSError | None:
    """Whether the file system of ``folder`` refuses writes now (full, read-only ...).

    A library that writes through its own I/O (GDAL, SQLite) reports a full disk in its
    own words ("Failed to commit transaction"); this probe finds the cause: it writes
    and flushes ``probe_bytes`` [bytes] in ``folder`` and removes them.

    Returns
    -------
    OSError or None
        The error the probe met, or None when the file system takes writes.
    """
    try:
        fd, tmp = tempfile.mkstemp(prefix=".probe-", suffix=".tmp", dir=folder)
    except OSError as e:
        return e
    try:
        os.write(fd, b"\0" * probe_bytes)
        os.fsync(fd)
    except OSError as e:
        return e
    finally:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
    return None


def _is_gdal_error(e: BaseException) -> bool:
    """An error of GDAL's readers and writers (pyogrio, rasterio)."""
    return type(e).__module__.split(".")[0] in ("pyogrio", "rasterio", "fiona")


def write_failure(e: BaseException, folder: Path) -> OSError | None:
    """The disk error behind ``e`` raised while writing in ``folder``, or None (a bug).

    An ``OSError`` is one; an error of GDAL (which does not say "no space") is one when a
    probe of the folder's file system fails (:func:`disk_trouble`), or in any case, as a
    write error of GDAL's own.
    """
    if isinstance(e, OSError):
        return e
    if not isinstance(e, Exception):
        return None
    probe = disk_trouble(folder) if folder.is_dir() else None
    if probe is not None:
        return probe
    if _is_gdal_error(e):
        text = str(e).lower()
        for code, words in _GDAL_CAUSES.items():
            if any(w in text for w in words):
                return OSError(code, _CAUSES[code])
        return OSError(None, f"GDAL could not write: {e}")
    return None


def _resolved(paths: Iterable[str | Path]) -> list[Path]:
    out = []
    for p in paths:
        try:
            out.append(Path(p).resolve())
        except (OSError, RuntimeError):  # a symlink loop: compare as given
            out.append(Path(os.path.abspath(p)))
    return out


def _names(entries: Iterable[str], limit: int = 8) -> str:
    entries = sorted(entries)
    shown = ", ".join(entries[:limit])
    return shown + (f" and {len(entries) - limit} more" if len(entries) > limit else "")


def read_owner(folder: str | Path) -> FolderRecord | None:
    """Who made ``folder``: its marker (:data:`MARKER`), or, for a folder written before
    the marker existed, the files siting writes there (a plan's ``manifest.json`` with
    ``siting_manifest``; a stress result's ``stress.json`` beside it; a sweep's
    ``summary.csv``; a trade-off front's ``points.yaml``; ``robustness.json``); None when
    siting did not make it."""
    folder = Path(folder)
    marker = folder / MARKER
    if marker.is_file():
        try:
            doc = json.loads(marker.read_text(encoding="utf-8"))
            scenario = None if doc["scenario"] is None else str(doc["scenario"])
            owner = OutputOwner(str(doc["kind"]), scenario)
            files = doc.get("files")
            return FolderRecord(owner, None if files is None else frozenset(map(str, files)))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # not a marker siting wrote
    return _legacy_owner(folder)


def _first_line(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readline(400)
    except OSError:
        return ""


def _legacy_owner(folder: Path) -> FolderRecord | None:
    """A siting folder from before the marker, known by the files siting wrote there."""
    man = folder / "manifest.json"
    if man.is_file():
        try:
            doc = json.loads(man.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            doc = None
        if isinstance(doc, dict) and "siting_manifest" in doc:
            scenario = str(doc.get("scenario")) if doc.get("scenario") is not None else None
            if (folder / "stress.json").is_file():
                base = {f"base/{n}" for n in PLAN_FILES}
                return FolderRecord(
                    OutputOwner("stress", scenario), PLAN_FILES | base | {"stress.json"}
                )
            return FolderRecord(OutputOwner("plan", scenario), PLAN_FILES)
    if _first_line(folder / "summary.csv").startswith("name,key"):
        return FolderRecord(OutputOwner("sweep", None), None)
    head = _first_line(folder / "points.yaml")
    m = re.match(r"# Points of the cost/(\w+) front of ", head)
    if m:
        return FolderRecord(OutputOwner(f"pareto-{m.group(1)}", None), None)
    if (folder / "robustness.json").is_file() and (folder / "robustness.csv").is_file():
        names = {"csv", "geojson", "svg", "html", "json"}
        files = {f"robustness.{n}" for n in names} | {"scenarios.csv"}
        return FolderRecord(OutputOwner("robustness", None), frozenset(files))
    return None


def _foreign_entries(folder: Path, files: frozenset[str]) -> list[str]:
    """Entries under ``folder`` that are not among ``files`` (nor folders holding them),
    :data:`MARKER` or :data:`COMPANION_FILES`."""
    keep = set(files) | {MARKER} | COMPANION_FILES
    dirs = {p.as_posix() for f in keep for p in Path(f).parents}
    foreign = []
    for root, subdirs, names in os.walk(folder):
        rel = Path(root).relative_to(folder)
        for d in list(subdirs):
            r = (rel / d).as_posix()
            if r not in dirs:
                foreign.append(r + "/")
                subdirs.remove(d)
        foreign += [(rel / n).as_posix() for n in names if (rel / n).as_posix() not in keep]
    return foreign


def check_output_folder(
    out: str | Path,
    owner: OutputOwner,
    *,
    inputs: Iterable[str | Path] = (),
    force: bool = False,
    replace: bool = True,
) -> Path:
    """Refuse, before anything is touched, an output folder that is not ``owner``'s to write.

    A symlink is resolved and the rules apply to its target. Refused, with or without
    ``force``: a path that is not a folder (a regular file, a device); a folder that is,
    or holds, one of ``inputs`` (writing it would delete them); a non-empty folder siting
    did not make (no :data:`MARKER`, nor a plan's ``manifest.json`` from before it); with
    ``replace``, a mount point (it cannot be renamed, so not replaced in one step) and a
    siting folder holding files siting did not write there. Refused without ``force``: a
    siting folder of another kind or another scenario. A new or empty folder, and
    ``owner``'s own earlier folder, are accepted.

    Parameters
    ----------
    out
        The output folder.
    owner
        What is about to write it.
    inputs
        The run's input files (and folders).
    force
        Allow replacing a siting folder of another kind or scenario (``--force``).
    replace
        The folder will be replaced whole (staged); False for one that runs add to
        (a sweep, a trade-off front), where ``force`` does not apply.

    Returns
    -------
    pathlib.Path
        ``out`` resolved.

    Raises
    ------
    OutputRefusedError
        With the reason and what to do instead.
    """
    given = Path(out)
    out = _resolved([given])[0]
    via = f" (the target of {given})" if given.is_symlink() else ""
    name = f"{out}{via}"
    pick = "choose a new folder (--out)"
    if out.exists() and not out.is_dir():
        raise OutputRefusedError(
            f"{name} is a file, not a folder: siting writes a folder there and never "
            f"replaces a file; {pick}",
            out,
        )
    for p in _resolved(inputs):
        if p == out or out in p.parents:
            what = "is" if p == out else "holds"
            raise OutputRefusedError(
                f"{name} {what} an input of this run ({p}): writing the output there would "
                f"delete it; {pick} outside the inputs' folders, e.g. maps/<name>/",
                out,
            )
    if not out.exists():
        return out
    if replace and os.path.ismount(out):
        raise OutputRefusedError(
            f"{name} is a mount point: siting replaces an output folder in one rename, "
            f"which a mount point does not allow; write to a folder inside it, e.g. "
            f"{out / 'plan'}",
            out,
        )
    try:
        entries = sorted(e.name for e in out.iterdir())
    except OSError as e:
        raise OutputRefusedError(f"{name} cannot be read ({cause_in_words(e)}); {pick}", out) from e
    if not entries:
        return out
    found = read_owner(out)
    if found is None:
        raise OutputRefusedError(
            f"{name} holds files siting did not write ({_names(entries)}): siting writes "
            f"only into a new or empty folder or one it made (it holds {MARKER}), and "
            f"--force does not change that; {pick}",
            out,
        )
    if replace and found.files is not None:
        foreign = _foreign_entries(out, found.files)
        if foreign:
            raise OutputRefusedError(
                f"{name} is {found.owner} but also holds files siting did not write there "
                f"({_names(foreign)}); replacing the folder would delete them: move them "
                f"out, or {pick}",
                out,
            )
    scenarios = (found.owner.scenario, owner.scenario)
    mine = found.owner.kind == owner.kind and (None in scenarios or len(set(scenarios)) == 1)
    if not mine and not (force and replace):
        hint = "pass --force to replace it, or " if replace else ""
        raise OutputRefusedError(
            f"{name} is {found.owner}, not {owner}; {hint}{pick}",
            out,
        )
    return out


def claim_folder(out: str | Path, owner: OutputOwner, *, inputs: Iterable[str | Path] = ()) -> Path:
    """Check a folder that runs add to (a sweep, a front) and mark it ``owner``'s.

    :func:`check_output_folder` with ``replace=False``; then, if the folder has no marker,
    it is made and marked (with no file list: its runs add files rather than replace them).

    Returns
    -------
    pathlib.Path
        ``out`` resolved.
    """
    out = check_output_folder(out, owner, inputs=inputs, replace=False)
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not (out / MARKER).is_file():
            write_marker(out, owner, files=None)
    except OSError as e:
        raise _write_error(out, e, f"its marker {MARKER} cannot be written") from e
    return out


def write_marker(folder: Path, owner: OutputOwner, files: list[str] | None) -> Path:
    """Write ``folder``'s :data:`MARKER`: the kind, the scenario, the run and ``files``."""
    from siting.core.version import __version__

    doc = {
        "siting_output": 1,
        "kind": owner.kind,
        "scenario": owner.scenario,
        "run": {
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "siting_version": __version__,
            "pid": os.getpid(),
            "host": socket.gethostname(),
        },
        "files": files,
    }
    return write_text_atomic(folder / MARKER, json.dumps(doc, indent=2) + "\n")


@dataclass(frozen=True)
class OutputFile:
    """A single output file and the rules it is written under (:func:`check_output_file`).

    Attributes
    ----------
    path
        Where to write.
    inputs
        The run's input files (never written over).
    force
        Replace an existing file that does not start with ``signature``.
    signature
        The first bytes of a file siting wrote there (None: any regular file may be
        replaced).
    """

    path: Path
    inputs: tuple[Path, ...] = ()
    force: bool = False
    signature: bytes | None = None

    def check(self) -> Path:
        """:func:`check_output_file` with these rules; the path to write (resolved)."""
        return check_output_file(
            self.path, inputs=self.inputs, force=self.force, signature=self.signature
        )


def check_output_file(
    path: str | Path,
    *,
    inputs: Iterable[str | Path] = (),
    force: bool = False,
    signature: bytes | None = None,
) -> Path:
    """Refuse a single output file siting must not write (before anything is touched).

    A symlink is resolved and the rules apply to its target. Refused always: a path that
    exists and is not a regular file (a folder, a FIFO, a device), and one of ``inputs``.
    With ``signature``: an existing file that does not start with it (one siting did not
    write), unless ``force``.

    Returns
    -------
    pathlib.Path
        ``path`` resolved: write there.

    Raises
    ------
    OutputRefusedError
    """
    given = Path(path)
    p = _writable_target(given)
    via = f" (the target of {given})" if given.is_symlink() else ""
    if any(p == i for i in _resolved(inputs)):
        raise OutputRefusedError(
            f"{p}{via} is an input of this run: siting never writes over an input; choose "
            "another file",
            p,
        )
    if signature is not None and p.exists() and not force:
        with open(p, "rb") as f:
            head = f.read(len(signature))
        if head != signature:
            raise OutputRefusedError(
                f"{p}{via} exists and siting did not write it; pass --force to replace it, "
                "or choose another file",
                p,
            )
    return p


def _writable_target(path: Path) -> Path:
    """``path`` resolved; :class:`OutputRefusedError` when it exists and is not a regular
    file (replacing a folder, a FIFO or a device, even by a rename, is never wanted)."""
    p = _resolved([path])[0]
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        return p
    except OSError as e:
        raise OutputRefusedError(f"{p} cannot be checked: {cause_in_words(e)}", p) from e
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, a device)"
        raise OutputRefusedError(
            f"{p} is {kind}: siting writes output files only as regular files; choose a file name",
            p,
        )
    return p


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Write one file atomically: yield a temporary path beside ``path`` to write; on
    success it is flushed (fsync) and renamed onto ``path``, on failure removed.

    ``path`` is resolved (a symlink's target is replaced) and must not be a folder, a FIFO
    or a device. Its folder is created if missing.

    Raises
    ------
    OutputRefusedError
        ``path`` is not a regular file.
    OutputWriteError
        The write failed (no space left, read-only, no permission ...); the previous file,
        if any, is kept as it was.
    """
    p = _writable_target(Path(path))
    tmp: Path | None = None
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        with signals_held():  # made and recorded, or neither
            fd, name = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
            os.close(fd)
            tmp = Path(name)
        yield tmp
        _fsync_file(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are for others to read too
        os.replace(tmp, p)
        _fsync_dir(p.parent)
    except BaseException as e:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        cause = write_failure(e, p.parent) if not isinstance(e, OutputWriteError) else None
        if cause is None:
            raise
        kept = " The previous file is kept as it was." if p.is_file() else ""
        raise OutputWriteError(
            f"could not write {p}: {cause_in_words(cause)}.{kept}", p, cause.errno
        ) from e


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_file`: temporary file, fsync,
    rename).

    Parameters
    ----------
    path
        Destination; its folder is created if missing.
    data
        The bytes to write.

    Returns
    -------
    pathlib.Path
        The destination.
    """
    with atomic_file(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`write_bytes_atomic`)."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def _lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


#: Staging folders this process is writing (removed by :func:`abandon_stages` when a
#: signal's watchdog ends the process), and the guard that keeps a swap and that removal
#: apart: a swap under way finishes first, and none starts after an abandon.
_STAGES: set[Path] = set()
_SWAP_GUARD = threading.Lock()
_ABANDONED = threading.Event()


def abandon_stages() -> list[Path]:
    """Remove every staging folder this process is writing, and let no swap start after.

    Called by :mod:`siting.core.interrupt`'s watchdog (another thread) just before it ends the
    process: a swap already under way finishes first (it holds the guard), so an output
    folder is always the old plan or the new one, whole. Returns the folders removed.
    """
    with _SWAP_GUARD:
        _ABANDONED.set()
        stages = sorted(_STAGES)
        for stage in stages:
            shutil.rmtree(stage, ignore_errors=True)
        return stages


on_hard_stop(abandon_stages)


#: Output locks this process holds: resolved folder -> [fd, depth, owning thread].
_HELD: dict[Path, list] = {}
_HELD_GUARD = threading.Lock()


@contextmanager
def output_lock(out: str | Path) -> Iterator[Path]:
    """Hold the write lock of output folder ``out`` (fail fast when another run has it).

    The lock is an exclusive ``flock`` on ``.<name>.lock`` beside ``out`` (the file holds
    the owner's PID and start time; it is removed when the lock is given back, and left by
    a killed run). The kernel releases the lock when the process ends, however it ends, so
    a killed run never blocks the next one. Re-entrant in
    the thread that holds it (``siting plan`` holds it from the start of the run and its
    :func:`staged_folder` takes it again).

    Raises
    ------
    OutputLockedError
        When another process (or another thread) holds it; the message names the folder
        and the other run's PID.
    """
    out = Path(out).resolve()
    me = threading.get_ident()
    with _HELD_GUARD:
        held = _HELD.get(out)
        if held is not None and held[2] == me:
            held[1] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield out
        finally:
            with _HELD_GUARD:
                _HELD[out][1] -= 1
        return
    path = _lock_path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd = _acquire(path, out)
    except OSError as e:
        raise _write_error(out, e, f"its lock file {path} cannot be made") from e
    try:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {stamp}\n".encode(), 0)
        except OSError as e:
            path.unlink(missing_ok=True)  # still locked: no other run holds this file
            raise _write_error(out, e, f"its lock file {path} cannot be written") from e
        with _HELD_GUARD:
            _HELD[out] = [fd, 1, me]
        try:
            yield out
        finally:
            with _HELD_GUARD:
                del _HELD[out]
            # removed while still locked, so no other run can hold a lock on this file
            path.unlink(missing_ok=True)
    finally:
        os.close(fd)  # closing the only descriptor releases the flock


def _acquire(path: Path, out: Path) -> int:
    """Open and ``flock`` the lock file; the descriptor, or :class:`OutputLockedError`."""
    for _ in range(100):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            owner = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            pid = int(owner[0]) if owner and owner[0].isdigit() else None
            who = f"PID {pid}" if pid is not None else "PID unknown"
            since = f", started {owner[1]}" if len(owner) > 1 else ""
            raise OutputLockedError(
                f"{out} is being written by another siting run ({who}{since}); wait for it "
                f"to finish or write elsewhere (--out). The lock is {path}; it is released "
                "when that run ends, even if it is killed.",
                out,
                pid,
            ) from None
        # the file may have been removed by the run that held it, between our open and our
        # flock: then our lock is on a file nobody else sees; open it again
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
    raise OSError(f"could not take the lock {path}")


def _stage_re(out: Path) -> re.Pattern[str]:
    return re.compile(rf"^\.{re.escape(out.name)}\.stage-[a-z0-9_]{{8}}\.tmp$")


def _old_re(out: Path) -> re.Pattern[str]:
    return re.compile(rf"^\.{re.escape(out.name)}\.old-\d+$")


def clean_leftovers(out: str | Path) -> list[Path]:
    """Remove what killed runs left beside folder ``out``; call with its lock held.

    A staging folder (``.<name>.stage-XXXXXXXX.tmp``) is removed; a set-aside old folder
    (``.<name>.old-<pid>``, only from the two-rename swap) is put back when ``out`` is
    missing (a kill between the two renames), else removed. Returns what was removed.
    """
    out = Path(out).resolve()
    if not out.parent.is_dir():
        return []
    stage_re, old_re = _stage_re(out), _old_re(out)
    olds = sorted(
        (p for p in out.parent.iterdir() if old_re.match(p.name)),
        key=lambda p: p.stat().st_mtime_ns,
    )
    if olds and not out.exists():
        os.replace(olds.pop(), out)
    removed = []
    for p in out.parent.iterdir():
        if (stage_re.match(p.name) or p in olds) and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    e = ctypes.get_errno()
    if e in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # the kernel or the file system cannot: fall back to two renames
    raise OSError(e, os.strerror(e), str(a), None, str(b))


def _fsync_file(path: Path) -> None:
    """Flush a written file to disk (errors propagate: a disk that fails here failed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> list[str]:
    """Flush every file under ``folder``, then its folders; the files, relative and sorted."""
    files = []
    for root, dirs, names in os.walk(folder):
        for n in names:
            _fsync_file(Path(root) / n)
            files.append((Path(root) / n).relative_to(folder).as_posix())
        for d in dirs:
            _fsync_dir(Path(root) / d)
    _fsync_dir(folder)
    return sorted(files)


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def swap_in_folder(stage: str | Path, out: str | Path) -> None:
    """Replace folder ``out`` by the finished folder ``stage`` with renames only.

    On Linux the two are exchanged in one atomic step, so ``out`` always names a whole
    folder, the old one or the new one. Elsewhere the old folder is renamed aside first and
    removed only once ``stage`` is in place; a failure between the two renames puts it
    back, and a kill there leaves it set aside for :func:`clean_leftovers` to put back.
    """
    stage, out = Path(stage), Path(out)
    if out.is_dir() and not out.is_symlink() and _exchange(stage, out):
        _fsync_dir(out.parent)
        shutil.rmtree(stage, ignore_errors=True)  # now the old folder
        return
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(out, old)
    try:
        os.replace(stage, out)
    except BaseException:
        if old is not None:
            os.replace(old, out)
        raise
    _fsync_dir(out.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _previous(out: Path) -> str:
    """What a failed write leaves in ``out``, in words (for :class:`OutputWriteError`)."""
    try:
        held = out.is_dir() and any(out.iterdir())
    except OSError:
        held = True
    if not held:
        return f"Nothing was written to {out}."
    found = read_owner(out)
    what = f"previous {found.owner.kind}" if found is not None else "folder's previous contents"
    return f"The {what} in {out} is kept as it was."


def _write_error(out: Path, e: OSError, doing: str = "") -> OutputWriteError:
    """The :class:`OutputWriteError` of folder ``out``: the cause in words, what is kept."""
    where = f" ({doing})" if doing else ""
    return OutputWriteError(
        f"could not write {out}: {cause_in_words(e)}{where}. {_previous(out)}", out, e.errno
    )


@contextmanager
def staged_folder(
    out: str | Path,
    owner: OutputOwner,
    *,
    inputs: Iterable[str | Path] = (),
    force: bool = False,
) -> Iterator[Path]:
    """Write a whole folder atomically: yield a staging folder beside ``out``; on success
    it replaces ``out`` (:func:`swap_in_folder`), on any failure it is removed and ``out``
    stays as it was.

    The folder's :func:`output_lock` is held throughout (a second writer fails at once with
    :class:`OutputLockedError`), ``out`` is checked (:func:`check_output_folder`, with
    ``owner``, ``inputs`` and ``force``) and what killed runs left beside it is cleaned
    first. When the body is done, the marker (:data:`MARKER`, listing every file) is
    written, every file and folder flushed to disk (fsync), and only then is the folder
    swapped in.

    Raises
    ------
    OutputRefusedError
        ``out`` is not ``owner``'s to replace (nothing is touched).
    OutputWriteError
        Writing or swapping failed (no space left, read-only, busy, no permission, or GDAL
        could not write): the message names the folder and the cause; the staging folder
        is removed and ``out`` is kept as it was.
    """
    out = check_output_folder(out, owner, inputs=inputs, force=force)
    with output_lock(out):
        check_output_folder(out, owner, inputs=inputs, force=force)  # again, under the lock
        stage: Path | None = None
        try:
            clean_leftovers(out)
            with signals_held():  # made and recorded, or neither
                stage = Path(
                    tempfile.mkdtemp(prefix=f".{out.name}.stage-", suffix=".tmp", dir=out.parent)
                )
                _STAGES.add(stage)
        except OSError as e:
            raise _write_error(out, e, "its staging folder cannot be made") from e
        except BaseException:
            if stage is not None:  # an interrupt held back until the block ended
                shutil.rmtree(stage, ignore_errors=True)
                _STAGES.discard(stage)
            raise
        try:
            os.chmod(stage, 0o755)  # mkdtemp makes 0700; outputs are for others to read too
            yield stage
            files = [f for f in _fsync_tree(stage) if f != MARKER]
            write_marker(stage, owner, files)
            _fsync_dir(stage)
            with _SWAP_GUARD:
                if _ABANDONED.is_set():  # the process is ending on a signal
                    raise KeyboardInterrupt
                swap_in_folder(stage, out)
        except BaseException as e:
            shutil.rmtree(stage, ignore_errors=True)
            cause = write_failure(e, out.parent)
            if cause is None:
                raise
            raise _write_error(out, cause, "the staging folder was removed") from e
        finally:
            _STAGES.discard(stage)
