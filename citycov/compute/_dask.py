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
    """In a worker as it starts: make Numba read ``NUMBA_NUM_THREADS`` again, then ``warm()``.

    The Nanny sets the worker's environment only after the new process has imported its modules;
    when those imported Numba (the ``citycov`` script does: it is the spawned process's main
    module), Numba's configuration still holds the default thread count until it reads its
    environment again, which must happen before its threads start."""
    if numba_threads is not None:
        os.environ["NUMBA_NUM_THREADS"] = str(numba_threads)
        from numba.core import config

        config.reload_config()
    if warm is not None:
        warm()


def worker_threads() -> tuple[int, int, str]:
    """On a worker: (Numba's thread count, the cores this process may use, the host's name)."""
    import numba

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return int(numba.config.NUMBA_NUM_THREADS), cores, socket.gethostname()
