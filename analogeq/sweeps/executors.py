"""Where sweep points run: in this process, in a local process pool, or on a Dask cluster.

Every executor has one method, ``map_unordered(fn, items)``, which calls the module-level
function ``fn`` on every item and yields the results as they finish (in any order), and is a
context manager that releases its workers on exit. The sweep driver stores each result as it
arrives, so whatever finished before a crash is kept.

* :class:`InProcessExecutor` (``"inprocess"``, the default): one point after another, here.
* :class:`ProcessPoolExecutor` (``"processes"``): ``concurrent.futures`` with the ``spawn``
  start method (safe with torch, Numba and threads; ``fn`` and the items must be picklable and
  ``fn`` importable).
* :class:`DaskExecutor` (``"dask"``): Dask distributed. With ``scheduler="tcp://host:8786"`` it
  connects to a running cluster; without, it starts a ``LocalCluster`` of ``workers`` processes
  (one thread each) and closes it afterwards.

Dask on SLURM / PBS (dask-jobqueue)
-----------------------------------
Install the optional extra ``pip install 'analogeq[cluster]'`` (it pulls ``dask-jobqueue``),
start a scheduler with its workers as batch jobs, and point the sweep at its address::

    # start_cluster.py -- run on the login node and keep it running
    from dask_jobqueue import SLURMCluster        # or PBSCluster, SGECluster, LSFCluster
    cluster = SLURMCluster(cores=1, processes=1, memory="4GB", walltime="02:00:00",
                           job_extra_directives=["--cpus-per-task=1"])
    cluster.scale(jobs=32)                        # 32 single-core workers
    print(cluster.scheduler_address)              # e.g. tcp://10.1.2.3:8786
    input("press Enter to stop the cluster")

    analogeq sweep run spec.toml --db sweep.db --executor dask --scheduler tcp://10.1.2.3:8786

The database stays with the driver (the ``analogeq sweep run`` process; keep it on a local
disk, SQLite's WAL journal does not work over NFS); workers only compute and return results.
Workers must be able to import ``analogeq`` (same environment) and read the network cache
directory beside the database (a shared filesystem), since trained networks are loaded from
there rather than retrained.
"""

from __future__ import annotations

import abc
import concurrent.futures
import logging
import multiprocessing
import os
from typing import Any, Callable, Iterator, Sequence

from hardware_models.params import check_int, check_one_of

logger = logging.getLogger(__name__)

EXECUTOR_KINDS = ("inprocess", "processes", "dask")


#: seconds to connect to an existing Dask scheduler before giving up with one line
SCHEDULER_CONNECT_S = 5.0

class Executor(abc.ABC):
    """Runs ``fn(item)`` for every item and yields the results as they finish."""

    #: the executor kind, one of :data:`EXECUTOR_KINDS`
    kind: str
    #: how many points may run at the same time
    workers: int

    @abc.abstractmethod
    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Any]:
        """Yield ``fn(item)`` for every item, in completion order."""

    def close(self) -> None:
        """Release the workers (idempotent)."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def describe(self) -> str:
        return f"{self.kind}({self.workers})"


class InProcessExecutor(Executor):
    """Runs every point here, one after another."""

    kind = "inprocess"
    workers = 1

    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Any]:
        for item in items:
            yield fn(item)


def _check_workers(workers: int | None) -> int:
    if workers is None:
        return max(1, os.cpu_count() or 1)
    return check_int("workers", workers, minimum=1)


class ProcessPoolExecutor(Executor):
    """A local pool of ``workers`` processes started with ``spawn``."""

    kind = "processes"

    def __init__(self, workers: int | None = None):
        self.workers = _check_workers(workers)
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Any]:
        if not items:
            return
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=min(self.workers, len(items)), mp_context=multiprocessing.get_context("spawn")
            )
        futures = [self._pool.submit(fn, item) for item in items]
        try:
            for fut in concurrent.futures.as_completed(futures):
                yield fut.result()
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor(Executor):
    """Dask distributed: an existing cluster at ``scheduler`` or a LocalCluster of ``workers``.

    With a LocalCluster each worker is a process with one thread (EBM settling and Numba
    kernels are CPU-bound, and one thread per worker keeps results independent of thread
    scheduling). The dashboard is off.
    """

    kind = "dask"

    def __init__(self, workers: int | None = None, scheduler: str | None = None):
        if scheduler is not None and (not isinstance(scheduler, str) or "://" not in scheduler):
            raise ValueError(f"scheduler must be an address like 'tcp://host:8786', got {scheduler!r}")
        if scheduler is not None and workers is not None:
            raise ValueError("workers is only for a LocalCluster; with scheduler=... the cluster decides its workers")
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - dask[distributed] is a dependency
            raise ImportError("the dask executor needs dask[distributed] (pip install 'dask[distributed]')") from exc
        self.scheduler = scheduler
        self._cluster = None
        if scheduler is None:
            n = _check_workers(workers)
            self._cluster = LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self._client = Client(self._cluster)
        else:
            try:  # a wrong address fails within SCHEDULER_CONNECT_S, not distributed's 30 s default
                self._client = Client(scheduler, timeout=SCHEDULER_CONNECT_S)
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                raise ValueError(f"scheduler {scheduler!r}: cannot connect within {SCHEDULER_CONNECT_S:g} s "
                                 f"({type(exc).__name__}: {exc})") from None
        self.workers = max(1, len(self._client.scheduler_info(n_workers=-1).get("workers", {})) or (workers or 1))

    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Any]:
        from distributed import as_completed

        if not items:
            return
        futures = self._client.map(fn, list(items), pure=False)
        try:
            for fut in as_completed(futures):
                result = fut.result()
                fut.release()
                yield result
        finally:
            self._client.cancel(futures)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def describe(self) -> str:
        where = self.scheduler or "LocalCluster"
        return f"dask({where}, {self.workers} workers)"


def make_executor(kind: str = "inprocess", *, workers: int | None = None, scheduler: str | None = None) -> Executor:
    """Build an executor by name: ``"inprocess"``, ``"processes"`` or ``"dask"``.

    ``workers`` is the pool size (processes, Dask LocalCluster; default: the CPU count);
    ``scheduler`` an existing Dask scheduler's address (only with ``kind="dask"``).
    """
    check_one_of("executor", kind, EXECUTOR_KINDS)
    if scheduler is not None and kind != "dask":
        raise ValueError(f"scheduler={scheduler!r} needs executor='dask', got executor={kind!r}")
    if kind == "inprocess":
        if workers not in (None, 1):
            raise ValueError(f"the inprocess executor runs one point at a time; workers must be 1 or unset, got {workers!r}")
        return InProcessExecutor()
    if kind == "processes":
        return ProcessPoolExecutor(workers)
    return DaskExecutor(workers, scheduler)
