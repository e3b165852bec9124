"""The distributed engine: one way to get a ``dask.distributed`` client for any fan-out.

Sweeps, Pareto fronts and the N-1 screening all run their independent pieces as tasks on
``dask.distributed``: a local cluster of single-threaded worker processes by default, or an
existing cluster when given its scheduler's address (``tcp://host:8786``; start one with
``dask scheduler`` and ``dask worker tcp://host:8786 --nthreads 1`` on each machine, each
with this package and the input files at the same paths).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from siting.core.errors import InputError, MissingDependencyError


@contextmanager
def dask_client(
    scheduler: str | None = None, workers: int = 2, *, client: Any = None
) -> Iterator[Any]:
    """A ``dask.distributed.Client``, closed (with its local cluster) on exit.

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
    cluster = None
    if scheduler is None:
        if workers < 1:
            raise InputError(f"workers must be at least 1, got {workers}")
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: never clash with another cluster
        )
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as e:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
