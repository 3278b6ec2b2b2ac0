"""Tasks in process and on Dask clusters (LocalCluster, processes=True): the same results as a
whole-array oracle whichever path runs them, each result handed over once, the shared object
sent once, a worker killed mid-task, a failing task, Ctrl-C, Numba's thread count per worker.

The toy tasks (tests/compute_tasks.py) compute (sum, sum of squares, count) of one slice of a
shared array of whole numbers: every sum is exact in float64, so the tiles' pieces must add up
to the whole array's statistics exactly, computed here with Python integers.  Synchronisation
is by explicit Dask events, never sleeps.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import numba
import numpy as np
import pytest

from citycov.compute import open_runner
from citycov.config.compute import ComputeConfig
from citycov.errors import ComputeError
from tests.compute_tasks import (
    RecordWarm,
    Shared,
    TilePlan,
    fail_on_three,
    killable,
    numba_config_threads,
    numba_threads_in_task,
    tile_stats,
    wait_for_go,
)

distributed = pytest.importorskip("distributed")

N_TILES, SIZE = 12, 50
VALUES = np.arange(N_TILES * SIZE, dtype=np.float64) % 97 - 40.0  # whole numbers: exact sums
PLANS = [TilePlan(i, SIZE) for i in range(N_TILES)]
LOCAL2 = ComputeConfig(workers=2, threads_per_worker=1, numba_threads=1, dashboard=False, memory_limit=None)
LOCAL1 = ComputeConfig(workers=1, threads_per_worker=1, numba_threads=1, dashboard=False, memory_limit=None)


def _oracle(plan: TilePlan) -> tuple[float, float, int]:
    part = [int(v) for v in VALUES[plan.index * SIZE:(plan.index + 1) * SIZE]]
    return float(sum(part)), float(sum(v * v for v in part)), len(part)


def _collect(runner, fn=tile_stats, shared=None, plans=PLANS) -> tuple[dict[int, tuple], Counter]:
    """Results by tile index, and how often on_result saw each tile."""
    results: dict[int, tuple] = {}
    calls: Counter = Counter()

    def on_result(plan, result):
        calls[plan.index] += 1
        results[plan.index] = result

    runner.map(fn, plans, shared=Shared(VALUES) if shared is None else shared, on_result=on_result)
    return results, calls


@pytest.fixture(scope="module")
def warm_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("warm") / "pids.txt"


@pytest.fixture(scope="module")
def local2(warm_file):
    """One LocalCluster of 2 single-threaded worker processes for the module."""
    with open_runner(LOCAL2, warm=RecordWarm(str(warm_file))) as runner:
        yield runner


def test_in_process_results_are_the_oracles() -> None:
    with open_runner(ComputeConfig()) as runner:
        results, calls = _collect(runner)
    assert results == {p.index: _oracle(p) for p in PLANS}
    assert calls == Counter(range(N_TILES))
    total = [sum(r[k] for r in results.values()) for k in range(3)]
    assert total == [float(sum(int(v) for v in VALUES)), float(sum(int(v) ** 2 for v in VALUES)), VALUES.size]


def test_in_process_failure_names_the_tile() -> None:
    with open_runner(ComputeConfig()) as runner, pytest.raises(ComputeError) as err:
        _collect(runner, fn=fail_on_three)
    assert str(err.value) == "tile 3 (values 150..199): ValueError: DEM window out of bounds"
    assert isinstance(err.value.__cause__, ValueError)


def test_two_workers_give_the_in_process_results_once_each(local2) -> None:
    results, calls = _collect(local2)
    assert results == {p.index: _oracle(p) for p in PLANS}
    assert calls == Counter(range(N_TILES))  # on_result once per plan


def test_shared_is_serialised_once_per_map_not_per_task(local2, tmp_path) -> None:
    counter = tmp_path / "pickled.txt"
    counter.touch()
    results, _ = _collect(local2, shared=Shared(VALUES, counter=str(counter)))
    assert results == {p.index: _oracle(p) for p in PLANS}
    pickled = counter.read_text().split()
    assert 1 <= len(pickled) <= 1 + 2, pickled  # once here (plus at most once per worker), not once per task
    assert pickled[0] == str(os.getpid())


def test_numba_num_threads_in_each_worker(local2) -> None:
    main_threads = numba.config.NUMBA_NUM_THREADS
    in_workers = local2.client.run(numba_config_threads)
    assert sorted(in_workers.values()) == [1, 1]
    results, _ = _collect(local2, fn=numba_threads_in_task)
    assert set(results.values()) == {(1, 1)}  # config and the task thread's count
    assert main_threads == numba.config.NUMBA_NUM_THREADS  # this process keeps its own


def test_numba_threads_are_set_after_numba_was_imported() -> None:
    """A worker spawned by the ``citycov`` script imports Numba (its main module does) before the
    Nanny sets NUMBA_NUM_THREADS: set_numba_threads must still size Numba's pool."""
    code = ("import numba, os\n"
            "default = numba.config.NUMBA_NUM_THREADS\n"
            "from citycov.compute._dask import set_numba_threads\n"
            "set_numba_threads(1)\n"
            "print(default, numba.config.NUMBA_DEFAULT_NUM_THREADS, numba.config.NUMBA_NUM_THREADS,"
            " numba.get_num_threads())\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    default, cores, configured, in_use = (int(v) for v in out.split())
    assert default == cores  # what the worker would have used
    assert (configured, in_use) == (1, 1)


def test_warm_runs_here_first_then_once_per_worker(local2, warm_file) -> None:
    pids = warm_file.read_text().split()
    workers = sorted(str(p) for p in local2.client.run(os.getpid).values())
    assert pids[0] == str(os.getpid()) and pids.count(str(os.getpid())) == 1
    assert sorted(pids[1:]) == workers


def test_killed_worker_reschedules_and_results_are_unchanged(local2) -> None:
    client = local2.client
    killed: list[int] = []
    problems: list[str] = []

    def kill_the_worker_of_tile_0() -> None:
        try:
            if not distributed.Event("started", client=client).wait(timeout=600):  # a guard, not a timing
                problems.append("tile 0 never started")
                return
            victim = distributed.Variable("victim", client=client).get()
            pid = client.run(os.getpid, workers=[victim])[victim]
            assert pid != os.getpid()
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        finally:
            distributed.Event("killed", client=client).set()

    killer = threading.Thread(target=kill_the_worker_of_tile_0)
    killer.start()
    try:
        results, calls = _collect(local2, fn=killable)
    finally:
        killer.join()
    assert not problems and len(killed) == 1
    assert results == {p.index: _oracle(p) for p in PLANS}
    assert calls == Counter(range(N_TILES))  # exactly once per plan, tile 0 included (it ran twice)


def _one_worker_then_failing(opened: list) -> None:
    with open_runner(LOCAL1) as runner:
        opened += [runner.cluster, runner.client]
        results, calls = _collect(runner)
        assert results == {p.index: _oracle(p) for p in PLANS} and calls == Counter(range(N_TILES))
        _collect(runner, fn=fail_on_three)


def test_one_worker_then_a_failing_task_closes_the_cluster() -> None:
    opened: list = []
    with pytest.raises(ComputeError) as err:
        _one_worker_then_failing(opened)
    assert "tile 3 (values 150..199): ValueError: DEM window out of bounds" in str(err.value)
    assert isinstance(err.value.__cause__, ValueError)
    cluster, client = opened
    assert client.status == "closed"
    assert cluster.status.name == "closed"


async def _tile_states_once_cancelled(dask_scheduler) -> dict[str, str]:
    """The scheduler's tile tasks once none is left, or after 60 s (a guard, not a timing):
    the client sends its cancellation asynchronously, so the scheduler may not have received
    it when this call arrives."""
    for _ in range(6000):
        left = {str(k): ts.state for k, ts in dask_scheduler.tasks.items() if str(k).startswith("tiles-")}
        if not left:
            break
        await asyncio.sleep(0.01)  # yields the scheduler's event loop to the cancellation
    return left


def test_ctrl_c_cancels_the_tasks(local2) -> None:
    """KeyboardInterrupt while waiting (raised here by on_result, in the waiting thread) cancels
    every submitted task and propagates; the runner's exit then closes the cluster like any
    other exception (test_one_worker_then_a_failing_task_closes_the_cluster).  Tiles other than
    0 wait for Event "go", so they are running or queued when the interrupt comes."""
    seen: list[int] = []

    def interrupt(plan, result):
        seen.append(plan.index)
        raise KeyboardInterrupt

    go = distributed.Event("go", client=local2.client)
    try:
        with pytest.raises(KeyboardInterrupt):
            local2.map(wait_for_go, PLANS, shared=Shared(VALUES), on_result=interrupt)
        left = local2.client.run_on_scheduler(_tile_states_once_cancelled)
    finally:
        go.set()  # lets the cancelled tasks' threads return
    assert seen == [0]
    assert left == {}, left  # no tile task left running, queued or holding a result


def test_existing_scheduler_is_used_and_left_running(caplog) -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                  env={"NUMBA_NUM_THREADS": str(cores + 1)}) as remote:
        with caplog.at_level(logging.INFO, logger="citycov"), \
                open_runner(ComputeConfig(scheduler=remote.scheduler_address)) as runner:
            assert runner.cluster is None
            results, calls = _collect(runner)
        assert results == {p.index: _oracle(p) for p in PLANS} and calls == Counter(range(N_TILES))
        # more Numba threads than cores on this host: a warning naming the remedy
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(f"run up to {cores + 1} Numba threads" in w and f"on {cores} cores" in w for w in warnings)
        assert runner.client.status == "closed"
        with distributed.Client(remote) as client:  # the cluster and its worker are still there
            assert sum(client.nthreads().values()) == 1


def test_unreachable_scheduler_is_a_compute_error() -> None:
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}), \
            pytest.raises(ComputeError, match=r"cannot connect to the Dask scheduler at 'tcp://127.0.0.1:9'"):
        _ = open_runner(ComputeConfig(scheduler="tcp://127.0.0.1:9")).__enter__()
