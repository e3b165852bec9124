"""Atomic file output: write to a temporary name beside the target, then rename.

A reader never sees a half-written file under the final name, and a run that
fails or is killed leaves the previous file whole.

A whole folder (a plan) is written into a hidden staging folder beside it
(``.<name>.stage-XXXXXXXX.tmp``) and swapped in at the end: on Linux with one atomic
``renameat2(RENAME_EXCHANGE)``, elsewhere with two renames (the old folder set aside as
``.<name>.old-<pid>`` and put back by the next run if a kill falls between them). One run
at a time writes a folder: :func:`output_lock` takes an exclusive ``flock`` on
``.<name>.lock`` beside it, which the kernel releases when the process ends, killed or
not; the next run that takes the lock removes what a killed run left behind.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from siting.errors import SitingError


class OutputLockedError(SitingError):
    """Another run is writing the same output folder."""

    def __init__(self, message: str, out: Path, pid: int | None):
        super().__init__(message)
        self.out = out
        self.pid = pid


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename).

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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are for others to read too
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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

    Called by :mod:`siting.interrupt`'s watchdog (another thread) just before it ends the
    process: a swap already under way finishes first (it holds the guard), so an output
    folder is always the old plan or the new one, whole. Returns the folders removed.
    """
    with _SWAP_GUARD:
        _ABANDONED.set()
        stages = sorted(_STAGES)
        for stage in stages:
            shutil.rmtree(stage, ignore_errors=True)
        return stages


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
    out.parent.mkdir(parents=True, exist_ok=True)
    path = _lock_path(out)
    fd = _acquire(path, out)
    try:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {stamp}\n".encode(), 0)
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


@contextmanager
def staged_folder(out: str | Path) -> Iterator[Path]:
    """Write a whole folder atomically: yield a staging folder beside ``out``; on success
    it replaces ``out`` (:func:`swap_in_folder`), on any failure it is removed and ``out``
    stays as it was.

    The folder's :func:`output_lock` is held throughout (a second writer fails at once with
    :class:`OutputLockedError`), and what killed runs left beside ``out`` is cleaned first.
    """
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(out):
        clean_leftovers(out)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.stage-", suffix=".tmp", dir=out.parent))
        _STAGES.add(stage)
        try:
            os.chmod(stage, 0o755)  # mkdtemp makes 0700; outputs are for others to read too
            yield stage
            with _SWAP_GUARD:
                if _ABANDONED.is_set():  # the process is ending on a signal
                    raise KeyboardInterrupt
                swap_in_folder(stage, out)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        finally:
            _STAGES.discard(stage)
