"""What runs on the Dask workers: the plugin that sets each worker up as it starts, and the
probe of its thread counts.  Imported only when a cluster is used (this module imports Dask)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
from collections.abc import Callable

from distributed.diagnostics.plugin import WorkerPlugin


class WorkerSetup(WorkerPlugin):
    """Runs :func:`setup_worker` once in each worker as it starts (restarted workers included),
    in a thread, so that a long ``warm`` does not block the worker's event loop (its heartbeats).

    With ``ignore_sigint`` (the workers of a LocalCluster, which share the terminal's process
    group with the main process), the worker ignores Ctrl-C: the main process alone handles it,
    cancels the tasks and closes the cluster, instead of every worker dying with a traceback."""

    def __init__(self, warm: Callable[[], None] | None, numba_threads: int | None, *,
                 ignore_sigint: bool = False) -> None:
        self.warm = warm
        self.numba_threads = numba_threads
        self.ignore_sigint = ignore_sigint

    async def setup(self, worker) -> None:
        if self.ignore_sigint and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        await asyncio.get_running_loop().run_in_executor(None, setup_worker, self.warm, self.numba_threads)


def setup_worker(warm: Callable[[], None] | None, numba_threads: int | None) -> None:
    """In a worker as it starts: Numba's thread count ``numba_threads`` (:func:`set_numba_threads`),
    then ``warm()``."""
    if numba_threads is not None:
        set_numba_threads(numba_threads)
    if warm is not None:
        warm()


def set_numba_threads(n: int) -> None:
    """Make ``n`` Numba's thread count in this process (``NUMBA_NUM_THREADS``), before its
    threads start.

    The Nanny sets a worker's environment only after the new process has imported its modules;
    when those imported Numba (the ``citycov`` script does: it is the spawned process's main
    module), Numba has already read the default thread count (the machine's cores) into its
    configuration and into the size of its thread pool (``numba.np.ufunc.parallel.NUM_THREADS``,
    read at import).  Both are read again here; once the pool has started (a parallel kernel ran)
    its size cannot change, and only the thread count per call is lowered
    (:func:`numba.set_num_threads`, which holds for the calling thread only)."""
    os.environ["NUMBA_NUM_THREADS"] = str(n)
    from numba.core import config
    from numba.np.ufunc import parallel

    config.reload_config()
    if not getattr(parallel, "_is_initialized", True):
        parallel.NUM_THREADS = parallel.get_thread_count()
    else:  # pragma: no cover - a worker runs this before any kernel
        import numba

        numba.set_num_threads(min(n, numba.get_num_threads()))


def worker_threads() -> tuple[int, int, str]:
    """On a worker: (Numba's thread count, the cores this process may use, the host's name)."""
    import numba

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return int(numba.config.NUMBA_NUM_THREADS), cores, socket.gethostname()
