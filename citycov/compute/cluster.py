"""Run independent tasks ``fn(plan, shared) -> result`` in this process, on a local Dask cluster
or on an existing Dask scheduler, with one code path for the caller.

:func:`open_runner` turns a :class:`~citycov.config.compute.ComputeConfig` into a
:class:`TaskRunner`; :meth:`TaskRunner.map` runs ``fn`` once per plan and hands each result to
``on_result`` in the calling process as it arrives.  The engine's tiles are such tasks: a plan is
small (a tile's bounds, the ids of the sites that reach it, its DEM window) and ``shared`` is
large and the same for every task (the sector table).

- **In process** (``workers == 0``, no scheduler): a plain loop; Dask is not imported.
- **LocalCluster** (``workers > 0``): ``workers`` processes with ``threads_per_worker`` threads
  each, ``NUMBA_NUM_THREADS`` set per worker (one level of parallelism, see
  :mod:`citycov.config.compute`), BLAS/OpenMP pools at one thread.
- **Existing scheduler** (``scheduler``): its workers as they were started; the client is
  closed at the end, the cluster is not.  A warning is logged when a host's workers would run
  more Numba threads than it has cores.

``shared`` is scattered once per :meth:`~TaskRunner.map` call, to every worker
(``broadcast=True``), never embedded in the tasks: each task carries only its plan and a
reference.  Broadcasting also keeps a copy of ``shared`` on every worker, so a worker that dies
does not take the only copy with it.  At most ``max_in_flight`` tasks are submitted ahead of
their results and each result is released once ``on_result`` has returned, so the calling
process holds a bounded number of results whatever the number of tiles.

Faults: a task that raises stops the map: the other tasks are cancelled and
:class:`~citycov.errors.ComputeError` names the plan (``plan.describe()``) and the original
exception (kept as ``__cause__``).  A worker that dies mid-task (killed, out of memory) is
Dask's business: the scheduler reschedules its tasks on the other workers (up to
``distributed.scheduler.allowed-failures`` times, then the task fails with ``KilledWorker``),
and ``on_result`` is still called exactly once per plan, since the caller sees one future per
plan whichever worker finished it.  Ctrl-C while waiting cancels every submitted task, closes
the client (and the LocalCluster) and re-raises :class:`KeyboardInterrupt`.

Numba's cache.  ``warm`` (a picklable zero-argument callable, typically one that calls each
kernel once on tiny arrays) runs once in this process *before* the LocalCluster starts, then once
in every worker as it starts (a worker plugin, so a worker restarted after a crash warms too).
The workers use the same Numba cache folder as this process (``NUMBA_CACHE_DIR`` when set, else
the ``__pycache__`` folders beside the installed sources): warmed first here, the cache holds
every kernel when the workers load it, so N workers read the compiled kernels instead of N
compilations of the same kernels competing for the cores at start.  Numba writes its cache files
whole (to a temporary name, then renamed), so workers reading the same folder at once is safe; a
folder per worker would only multiply the compilations.  On an existing scheduler each machine's
workers warm their own machine's cache at start.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any, Protocol

from tqdm import tqdm

from citycov.config.compute import ComputeConfig
from citycov.errors import CitycovError, ComputeError

if TYPE_CHECKING:
    import distributed

log = logging.getLogger("citycov")

WORKER_ENV_SINGLE_THREADED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""Environment of every LocalCluster worker besides ``NUMBA_NUM_THREADS``: BLAS and OpenMP pools
at one thread (the parallelism is the workers' and Numba's)."""
PLUGIN_NAME = "citycov-worker-setup"
"""The name of the worker plugin that sets up each worker (:class:`citycov.compute._dask.WorkerSetup`)."""


class TaskPlan(Protocol):
    """What a task's plan provides: a small picklable object."""

    index: int

    def describe(self) -> str:
        """The tile and the inputs it reads, for error messages."""
        ...


class TaskRunner:
    """Runs tasks in this process (this class) or on a Dask cluster (:class:`DaskRunner`).

    Made by :func:`open_runner`; the caller only uses :meth:`map`."""

    def __init__(self, compute: ComputeConfig, *, progress: bool = False) -> None:
        self.compute = compute
        self.progress = progress

    @property
    def total_threads(self) -> int:
        """Tasks that can run at once (1 in process)."""
        return 1

    def map(self, fn: Callable[[Any, Any], Any], plans: Iterable[TaskPlan], *, shared: Any,
            on_result: Callable[[Any, Any], None], desc: str = "tiles") -> None:
        """Run ``fn(plan, shared)`` for every plan and call ``on_result(plan, result)`` in this
        process as each result arrives, in any order (the caller must not depend on it).

        ``fn`` must be a picklable (module-level) function and must not modify ``shared``: on a
        cluster, the tasks of one worker share one copy of it.

        Raises
        ------
        ComputeError
            A task raised: names ``plan.describe()`` and the original exception (``__cause__``);
            the tasks not yet finished are cancelled and their results never reach ``on_result``.
        """
        plans = list(plans)
        with _progress_bar(len(plans), desc, self.progress) as bar:
            for plan in plans:
                try:
                    result = fn(plan, shared)
                except Exception as exc:
                    raise _task_error(plan, exc) from exc
                on_result(plan, result)
                del result
                bar.update(1)


class DaskRunner(TaskRunner):
    """Runs tasks on the Dask cluster of ``client`` (``cluster``: the LocalCluster this runner
    started, None on an existing scheduler)."""

    def __init__(self, compute: ComputeConfig, client: distributed.Client, *,
                 cluster: distributed.LocalCluster | None = None, progress: bool = False) -> None:
        super().__init__(compute, progress=progress)
        self.client = client
        self.cluster = cluster

    @property
    def total_threads(self) -> int:
        """Threads of the cluster's workers now (at least 1)."""
        return max(1, sum(self.client.nthreads().values()))

    def map(self, fn: Callable[[Any, Any], Any], plans: Iterable[TaskPlan], *, shared: Any,
            on_result: Callable[[Any, Any], None], desc: str = "tiles") -> None:
        from distributed import as_completed

        plans = list(plans)
        client = self.client
        limit = self.compute.in_flight(self.total_threads)
        token = uuid.uuid4().hex[:8]  # keys unique per map call: an equal key would reuse an old future
        shared_future = client.scatter(shared, broadcast=True, hash=False)
        pending: dict[str, tuple[Any, Any]] = {}  # key -> (plan, future), submitted and not yet handed over
        queue = iter(plans)
        done = as_completed(with_results=False)

        def submit_next() -> None:
            plan = next(queue, None)
            if plan is None:
                return
            key = f"{desc}-{plan.index}-{token}"
            future = client.submit(fn, plan, shared_future, key=key, pure=False)
            pending[key] = (plan, future)
            done.add(future)

        try:
            for _ in range(min(limit, len(plans))):
                submit_next()
            with _progress_bar(len(plans), desc, self.progress) as bar:
                for future in done:
                    plan, _ = pending.pop(future.key, (None, None))
                    if plan is None:  # already handed over (a future is yielded once; kept for safety)
                        continue
                    if future.status in ("error", "cancelled"):
                        raise _future_error(plan, future)
                    try:  # waits when the result was lost with its worker since and is being recomputed
                        result = future.result()
                    except Exception as exc:
                        raise _task_error(plan, exc) from exc
                    future.release()
                    del future
                    on_result(plan, result)
                    del result
                    bar.update(1)
                    submit_next()
        except BaseException:  # a failed task, on_result raising, Ctrl-C: stop the other tasks
            futures = [f for _, f in pending.values()]
            pending.clear()
            if futures:
                client.cancel(futures, force=True)
                for future in futures:  # a traceback that keeps this frame must not keep the results
                    future.release()
            raise
        finally:
            shared_future.release()


@contextmanager
def open_runner(compute: ComputeConfig, *, warm: Callable[[], None] | None = None,
                progress: bool = False) -> Iterator[TaskRunner]:
    """A :class:`TaskRunner` for ``compute``: in this process, a LocalCluster started here and
    closed on exit, or a client of ``compute.scheduler`` (closed on exit; the cluster is not).

    ``warm`` (picklable, no arguments) runs once in this process before a LocalCluster starts
    and once in each worker as it starts (see the module docstring); in process it is not
    called (the kernels compile on first use anyway).  With a cluster, the Dask dashboard's link
    is logged once (``logging.getLogger("citycov")``, level INFO).

    Raises
    ------
    ComputeError
        The scheduler cannot be reached, or ``warm`` failed on a worker.

    Examples
    --------
    >>> from citycov.config.compute import ComputeConfig
    >>> got = []
    >>> with open_runner(ComputeConfig()) as runner:        # in process: plans need no index here
    ...     runner.map(pow, [1, 2, 3], shared=2, on_result=lambda plan, result: got.append((plan, result)))
    >>> sorted(got)
    [(1, 1), (2, 4), (3, 9)]
    """
    if compute.in_process:
        yield TaskRunner(compute, progress=progress)
        return
    import distributed

    with ExitStack() as stack:
        quiet = logging.getLogger("distributed")  # its lines would drown citycov's (all kept with -vv)
        if not log.isEnabledFor(logging.DEBUG) and quiet.getEffectiveLevel() < logging.ERROR:
            stack.callback(quiet.setLevel, quiet.level)
            quiet.setLevel(logging.ERROR)
        cluster = None
        if compute.scheduler is None:
            if warm is not None:
                warm()  # fills Numba's cache before the workers load it
            cluster, dashboard = _local_cluster(compute)
            stack.enter_context(cluster)
            client = distributed.Client(cluster)
        else:
            client = _connect(compute.scheduler)
            dashboard = compute.dashboard
        stack.callback(client.close)
        numba_threads = compute.worker_numba_threads() if cluster is not None else None
        if warm is not None or cluster is not None:
            from citycov.compute._dask import WorkerSetup

            plugin = WorkerSetup(warm, numba_threads, ignore_sigint=cluster is not None)
            try:
                client.register_plugin(plugin, name=PLUGIN_NAME)
            except Exception as exc:
                raise ComputeError(f"setting up the Dask workers failed ({type(exc).__name__}: {exc})") from exc
            if cluster is None:  # leave an existing cluster as it was
                stack.callback(_unregister, client)
        _log_cluster(client, compute, numba_threads, dashboard=dashboard)
        if cluster is None and not compute.scratch_dir:
            log.warning("[compute].scratch_dir is not set: the workers of %s read the engine's scene from, and "
                        "write their tiles' rasters to, this machine's temporary folder (%s); on other machines set "
                        "scratch_dir to a folder they share",
                        compute.scheduler, tempfile.gettempdir())
        yield DaskRunner(compute, client, cluster=cluster, progress=progress)


def _local_cluster(compute: ComputeConfig) -> tuple[distributed.LocalCluster, bool]:
    """A LocalCluster of ``compute.workers`` processes (a context manager: closed on exit), and
    whether it has a dashboard (its scheduler lists a dashboard service even when it has none)."""
    import distributed

    env = {"NUMBA_NUM_THREADS": str(compute.worker_numba_threads()), **WORKER_ENV_SINGLE_THREADED}
    cache_dir = os.environ.get("NUMBA_CACHE_DIR") or _numba_cache_dir()
    if cache_dir:
        env["NUMBA_CACHE_DIR"] = cache_dir
    dashboard = compute.dashboard and find_spec("bokeh") is not None
    if compute.dashboard and not dashboard:
        log.info("no Dask dashboard: it needs the bokeh package (pip install 'bokeh>=3.1')")
    cluster = distributed.LocalCluster(
        n_workers=compute.workers, threads_per_worker=compute.threads_per_worker, processes=True,
        memory_limit=compute.memory_limit, env=env,
        silence_logs=logging.INFO if log.isEnabledFor(logging.DEBUG) else logging.ERROR,  # the workers' logs
        # a free port: without an address the scheduler's web server (health, metrics) takes 8787
        dashboard_address=":0", scheduler_kwargs={"dashboard": dashboard})
    return cluster, dashboard


def _numba_cache_dir() -> str:
    """Numba's cache folder of this process when one is configured (else ``""``: the
    ``__pycache__`` folders beside the sources, the same for the workers of this machine)."""
    numba = sys.modules.get("numba")
    return str(getattr(numba.config, "CACHE_DIR", "") or "") if numba is not None else ""


def _connect(address: str) -> distributed.Client:
    import distributed

    try:
        return distributed.Client(address)
    except (OSError, TimeoutError) as exc:
        raise ComputeError(f"cannot connect to the Dask scheduler at {address!r} ({type(exc).__name__}: {exc}); "
                           "is `dask scheduler` running there and reachable?") from exc


def _unregister(client: distributed.Client) -> None:
    try:
        client.unregister_worker_plugin(PLUGIN_NAME)
    except Exception as exc:  # best effort: the client is closing anyway
        log.debug("could not remove the worker plugin %s: %s", PLUGIN_NAME, exc)


def _log_cluster(client: distributed.Client, compute: ComputeConfig, numba_threads: int | None, *,
                 dashboard: bool) -> None:
    """Log the cluster's size and dashboard once; warn when a host runs more Numba threads than
    it has cores."""
    nthreads = client.nthreads()
    kind = "a LocalCluster" if compute.scheduler is None else f"the scheduler at {compute.scheduler}"
    log.info("Dask: %s, %d worker(s), %d thread(s) in all%s", kind, len(nthreads), sum(nthreads.values()),
             f", NUMBA_NUM_THREADS={numba_threads} each" if numba_threads is not None else "")
    link = _dashboard_link(client) if dashboard else None
    if link:
        log.info("Dask dashboard: %s", link)
    from citycov.compute._dask import worker_threads

    try:
        info = client.run(worker_threads)
    except Exception as exc:
        log.debug("could not read the workers' thread counts: %s", exc)
        return
    hosts: dict[str, list[int]] = {}
    for address, (numba_n, cores, host) in info.items():
        used = hosts.setdefault(host, [0, cores, 0])
        used[0] += numba_n * nthreads.get(address, 1)
        used[2] += 1
    for host, (used, cores, n_workers) in sorted(hosts.items()):
        if used > cores:
            log.warning("Dask workers on %s: %d worker(s) run up to %d Numba threads (NUMBA_NUM_THREADS x threads "
                        "per worker) on %d cores; start them with NUMBA_NUM_THREADS=%d for single-threaded "
                        "workers (--nthreads 1), or NUMBA_NUM_THREADS=1 for multi-threaded ones", host, n_workers,
                        used, cores, max(1, cores // n_workers))


def _dashboard_link(client: distributed.Client) -> str | None:
    try:
        info = client.scheduler_info(n_workers=0)
        if "dashboard" not in info.get("services", {}):
            return None
        return client.dashboard_link
    except Exception:  # no dashboard service
        return None


def _progress_bar(total: int, desc: str, progress: bool) -> tqdm:
    return tqdm(total=total, desc=desc, unit="tile", disable=not progress, mininterval=1.0)


def _task_error(plan: Any, exc: BaseException) -> ComputeError:
    """ComputeError naming the plan and ``exc``; a bug (not a CitycovError) also logs its traceback,
    which the CLI's one-line message would hide."""
    if not isinstance(exc, CitycovError):
        log.error("task %s failed:\n%s", _describe(plan), "".join(traceback.format_exception(exc)).rstrip())
    return ComputeError(f"{_describe(plan)}: {type(exc).__name__}: {exc}")


def _future_error(plan: Any, future: Any) -> ComputeError:
    if future.status == "error":
        exc = future.exception()
        tb = future.traceback()
        if tb is not None:
            exc = exc.with_traceback(tb)
        error = _task_error(plan, exc)
        error.__cause__ = exc
        return error
    return ComputeError(f"{_describe(plan)}: the task was {future.status} on the Dask cluster "
                        "(its scheduler or workers stopped?)")


def _describe(plan: Any) -> str:
    try:
        return str(plan.describe())
    except Exception:
        return f"task {getattr(plan, 'index', '?')}"

