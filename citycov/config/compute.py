"""``[compute]``: where the engine's tile tasks run: in this process, on a local Dask cluster, or
on an existing Dask scheduler.

Example (the keys and their defaults)::

    [compute]
    workers = 0                # 0: in this process, no Dask; N > 0: a LocalCluster of N worker processes
    scheduler = "tcp://10.0.0.5:8786"   # instead of workers: an existing Dask scheduler (default: none)
    threads_per_worker = 1     # tasks run at once per LocalCluster worker
    numba_threads = 1          # NUMBA_NUM_THREADS per LocalCluster worker (default: see below)
    memory_limit = "2GB"       # per LocalCluster worker, Dask's syntax ("2GB", "500MiB", "auto")
    dashboard = true           # start the Dask dashboard and log its link (needs bokeh)
    max_in_flight = 10         # tasks submitted ahead of their results (default: 2 x threads + 2)

One level of parallelism only: single-threaded workers each run Numba's ``parallel=True``
kernels on ``cpu_count // workers`` threads, or multi-threaded workers run the kernels on one
Numba thread each.  Both at once oversubscribes the cores, so ``numba_threads`` defaults to
``max(1, cpu_count // workers)`` when ``threads_per_worker`` is 1, else to 1
(:meth:`ComputeConfig.worker_numba_threads`).  With ``scheduler``, the workers were started
elsewhere: ``threads_per_worker``, ``numba_threads`` and ``memory_limit`` are theirs (``dask
worker --nthreads``, ``NUMBA_NUM_THREADS``, ``--memory-limit``) and these keys are not used.

The command line overrides the section (``citycov run --workers N`` / ``--scheduler ADDRESS``,
or the ``DASK_SCHEDULER_ADDRESS`` environment variable when neither is given).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from citycov.presets.files import KeyReader

COMPUTE_KEYS = {"workers", "scheduler", "threads_per_worker", "numba_threads", "memory_limit", "dashboard",
                "max_in_flight", "scratch_dir"}


@dataclass(frozen=True)
class ComputeConfig:
    """``[compute]``: in-process (``workers == 0`` and no ``scheduler``), a LocalCluster of
    ``workers`` processes, or the existing scheduler at ``scheduler``."""

    workers: int = 0
    scheduler: str | None = None
    threads_per_worker: int = 1
    numba_threads: int | None = None
    memory_limit: str | None = "2GB"
    dashboard: bool = True
    max_in_flight: int | None = None
    scratch_dir: str | None = None
    """Folder (the same path on every worker) where a cluster run writes the engine's scene
    (terrain on the grid, environment classes, evaluated cells, receiver loss) as tiled GeoTIFFs
    for the tasks' window reads; None: the system's temporary folder (a local cluster)."""

    @property
    def in_process(self) -> bool:
        """True when the tasks run in this process, without Dask."""
        return self.workers == 0 and self.scheduler is None

    def worker_numba_threads(self, cpu_count: int | None = None) -> int:
        """``NUMBA_NUM_THREADS`` of each LocalCluster worker: ``numba_threads`` when given, else
        ``max(1, cpu_count // workers)`` for single-threaded workers and 1 for multi-threaded
        ones (one level of parallelism).  ``cpu_count`` defaults to :func:`os.cpu_count`."""
        if self.numba_threads is not None:
            return self.numba_threads
        if self.threads_per_worker > 1:
            return 1
        cpus = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
        return max(1, cpus // max(1, self.workers))

    def in_flight(self, total_threads: int) -> int:
        """Tasks submitted ahead of their results: ``max_in_flight``, else ``2 * total_threads + 2``."""
        return self.max_in_flight if self.max_in_flight is not None else 2 * max(1, total_threads) + 2


def parse_compute(r: KeyReader, t: dict[str, Any]) -> ComputeConfig:
    """``[compute]`` (every key has a default); problems go to ``r`` with their key path."""
    where = "[compute]"
    d = ComputeConfig()
    r.unknown(t, COMPUTE_KEYS, where)
    workers = r.number(t, "workers", where, d.workers, lo=0, hi=10_000, integer=True)
    scheduler = r.string(t, "scheduler", where, None, required="scheduler" in t)
    if scheduler is not None:
        scheduler = scheduler.strip()
    threads = r.number(t, "threads_per_worker", where, d.threads_per_worker, lo=1, hi=1024, integer=True)
    numba_threads = r.number(t, "numba_threads", where, None, lo=1, hi=1024, integer=True)
    memory_limit = d.memory_limit
    if "memory_limit" in t:
        raw = t["memory_limit"]
        memory_limit = _memory_limit(raw)
        if memory_limit is None and not (isinstance(raw, str) and raw.strip().lower() == "none"):
            r.problems.append(f"{where}.memory_limit must be a size such as \"2GB\" or \"500MiB\", \"auto\" or "
                              f"\"none\" (no limit), got {raw!r}")
            memory_limit = d.memory_limit
    dashboard = r.flag(t, "dashboard", where, d.dashboard)
    max_in_flight = r.number(t, "max_in_flight", where, None, lo=1, hi=1_000_000, integer=True)
    scratch_dir = r.string(t, "scratch_dir", where, None, required="scratch_dir" in t)
    if scheduler and "workers" in t and workers:
        r.problems.append(f"{where}: scheduler = {scheduler!r} and workers = {workers} are both set; drop workers "
                          "to use the existing scheduler's workers, or drop scheduler to start a local cluster "
                          f"of {workers} workers")
    return ComputeConfig(workers=workers, scheduler=scheduler or None, threads_per_worker=threads,
                         numba_threads=numba_threads, memory_limit=memory_limit, dashboard=dashboard,
                         max_in_flight=max_in_flight, scratch_dir=scratch_dir.strip() if scratch_dir else None)


def _memory_limit(raw: Any) -> str | None:
    """A Dask memory size (``"2GB"``, ``"500 MiB"``, ``"auto"``) as given, or None for ``"none"``
    and for anything invalid.  Parsed with Dask's own parser when Dask is installed, so that what passes here
    is what the LocalCluster accepts."""
    if not isinstance(raw, str) or not raw.strip() or raw.strip().lower() == "none":
        return None
    text = raw.strip()
    if text == "auto":
        return text
    try:
        from dask.utils import parse_bytes
    except ImportError:  # pragma: no cover - dask is a dependency
        return text
    try:
        size = parse_bytes(text)
    except (ValueError, TypeError):
        return None
    return text if size > 0 else None
