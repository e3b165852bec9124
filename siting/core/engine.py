"""The distributed engine: one way to get a ``dask.distributed`` client for any fan-out.

Sweeps, Pareto fronts and the N-1 screening all run their independent pieces as tasks on
``dask.distributed``: a local cluster of single-threaded worker processes by default, or an
existing cluster when given its scheduler's address (``tcp://host:8786``; start one with
``dask scheduler`` and ``dask worker tcp://host:8786 --nthreads 1`` on each machine, each
with this package and the input files at the same paths).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from siting.core.errors import InputError, MissingDependencyError

#: The loggers ``dask.distributed`` gives a console handler of their own (they do not
#: propagate): its ``initialize_logging`` defaults.
DASK_LOGGERS = (
    "distributed",
    "distributed.client",
    "distributed.gc",
    "bokeh",
    "tornado",
    "tornado.application",
)
#: Records of those loggers below this level never reach the console while siting's
#: local cluster runs (they go to the log file instead).
CONSOLE_LEVEL = logging.ERROR
#: Format of the lines in the log file.
LOG_FORMAT = "%(asctime)s %(processName)s[%(process)d] %(name)s %(levelname)s: %(message)s"


def default_log_file() -> Path:
    """Where :func:`dask_client` writes Dask's warnings when not told: ``siting-dask-<pid>.log``
    in the system's temporary folder (made only when something is logged)."""
    return Path(tempfile.gettempdir()) / f"siting-dask-{os.getpid()}.log"


class _AppendHandler(logging.Handler):
    """Appends each record at WARNING or above to a file, opened for that record only.

    Not a ``logging.StreamHandler`` (as ``logging.FileHandler`` is): ``distributed`` sets
    the level of every StreamHandler of its loggers while a cluster runs
    (``silence_logs``), which would silence the file too.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(level=logging.WARNING)
        self.path = path
        self.setFormatter(logging.Formatter(LOG_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001  (logging never breaks the run)
            self.handleError(record)


def route_dask_logs(log_file: str | Path) -> Callable[[], None]:
    """Keep ``dask.distributed``'s warnings off the console in this process.

    Its console handlers on :data:`DASK_LOGGERS` pass only records at
    :data:`CONSOLE_LEVEL` (ERROR) or above; every record at WARNING or above is appended to
    ``log_file`` (made when the first one comes; each record appended on its own, so the
    processes of one cluster can share it). Warnings such as the nanny's "Worker
    process still alive after 4.0 seconds, killing" (a worker busy in a solve when the
    cluster closes, e.g. after Ctrl-C) or a worker's "Async instruction ... ended with
    CancelledError" are how ``distributed`` shuts a busy worker down, not faults of a run.

    Parameters
    ----------
    log_file
        The file the records go to (appended; shared by the processes of one cluster).

    Returns
    -------
    Callable[[], None]
        Undoes the routing (console handlers at their old levels, the file handler removed).
    """
    file_handler = _AppendHandler(Path(log_file))
    levels: list[tuple[logging.Handler, int]] = []  # console handlers, old levels
    routed: list[logging.Logger] = []  # the loggers given the file handler
    for name in DASK_LOGGERS:
        logger = logging.getLogger(name)
        for h in logger.handlers:
            if type(h) is logging.StreamHandler and h.level < CONSOLE_LEVEL:
                levels.append((h, h.level))
                h.setLevel(CONSOLE_LEVEL)
        if (logger.handlers and not logger.propagate) or name == "distributed":
            logger.addHandler(file_handler)
            routed.append(logger)

    def restore() -> None:
        for logger in routed:
            logger.removeHandler(file_handler)
        for h, old in levels:
            h.setLevel(old)

    return restore


def _route_logs_plugin(log_file: str) -> Any:
    """A ``distributed`` worker plugin: :func:`route_dask_logs` in each worker process of
    siting's local cluster (workers started again after a kill included). Made here, not at
    import, as ``distributed`` is imported only when a cluster is wanted."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class RouteLogs(WorkerPlugin):
        name = "siting-route-logs"

        def __init__(self) -> None:
            self._restore: Callable[[], None] | None = None

        def setup(self, worker: Any) -> None:
            self._restore = route_dask_logs(log_file)

        def teardown(self, worker: Any) -> None:
            if self._restore is not None:
                self._restore()
                self._restore = None

    return RouteLogs()


@contextmanager
def dask_client(
    scheduler: str | None = None,
    workers: int = 2,
    *,
    client: Any = None,
    log_file: str | Path | None = None,
) -> Iterator[Any]:
    """A ``dask.distributed.Client``, closed (with its local cluster) on exit.

    The client is closed first, then the local cluster. While a local cluster runs (and
    while it shuts down), ``distributed``'s warnings go to ``log_file``, not the console
    (:func:`route_dask_logs`, in this process and in each worker); its errors still show.

    Parameters
    ----------
    scheduler
        Address of an existing Dask scheduler; default: start a local cluster.
    workers
        Worker processes of the local cluster (one thread each, so one solve or one block
        of work per process).
    client
        A client the caller already holds: yielded as it is and left open (``scheduler``
        and ``workers`` are then ignored).
    log_file
        Where a local cluster's warnings go; default :func:`default_log_file`. A cluster
        at ``scheduler`` is left as it is (its own logging).

    Raises
    ------
    siting.core.errors.InputError
        When the scheduler cannot be reached (the message names the address).
    siting.core.errors.MissingDependencyError
        When ``dask.distributed`` is not installed.
    """
    if client is not None:
        yield client
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as e:  # pragma: no cover  (a dependency of the package)
        raise MissingDependencyError(
            f"the distributed engine needs dask.distributed ({e}); pip install 'dask[distributed]'"
        ) from None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as e:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None
        try:
            yield client
        finally:
            client.close()
        return
    if workers < 1:
        raise InputError(f"workers must be at least 1, got {workers}")
    log = str(Path(log_file if log_file is not None else default_log_file()).resolve())
    restore = route_dask_logs(log)
    try:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: never clash with another cluster
            silence_logs=CONSOLE_LEVEL,  # its nannies' and workers' console handlers too
        )
        try:
            client = Client(cluster)
            try:
                client.register_plugin(_route_logs_plugin(log))
                yield client
            finally:
                client.close()
        finally:
            cluster.close()
    finally:
        restore()
