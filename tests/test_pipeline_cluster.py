"""The whole pipeline with its engine tiles on Dask (issue 14): the same tables, byte for byte, and
the same rasters, cell for cell, in process, on 1 worker and on 2 workers, and when a worker is
killed while tiles are running (Dask reruns its tasks).  Synchronisation is by explicit events
(the first tile result reaching the main process), never sleeps."""

from __future__ import annotations

import dataclasses
import gc
import os
import signal

import numpy as np
import pytest

import citycov
from citycov.config.compute import ComputeConfig
from citycov.engine import tile_tasks
from tests.conftest import X0, Y0, make_tiny, sector_row
from tests.test_engine_cellular import rough_dem

distributed = pytest.importorskip("distributed")

TABLES = ("districts.csv", "targets.csv", "networks.csv", "uncertainty.csv")


def _cluster(workers: int) -> ComputeConfig:
    return ComputeConfig(workers=workers, threads_per_worker=1, numba_threads=1, dashboard=False, memory_limit=None)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """10 km x 10 km on rough terrain, 5 sites on 2 carriers, 16-cell tiles (49 tasks), the band on."""
    folder = tmp_path_factory.mktemp("cluster")
    m = 140  # 14 km of terrain at 100 m: the district and 2 km around it
    dem = rough_dem(m, seed=9, relief_m=160.0)
    rows = []
    for k, (dx, dy) in enumerate([(5000, 5000), (1500, 2000), (8200, 1800), (2500, 8300), (8000, 8000)]):
        for j, az in enumerate((0.0, 120.0, 240.0)):
            rows.append(sector_row(site_id=f"S{k}", sector_id=f"S{k}-{j}", x=X0 + dx, y=Y0 + dy, azimuth_deg=az,
                                   h_beamwidth_deg=65.0, v_beamwidth_deg=10.0, downtilt_deg=2.0,
                                   freq_mhz=1800.0 if j else 900.0, eirp_dbm=58.0))
    tiny = make_tiny(folder / "t", dem_m=dem, sectors=rows, radio="tile_cells = 16\nmax_range_km = 8.0")
    return citycov.load_scenario(tiny.scenario)


def _tables(results, folder):
    citycov.write_outputs(results, folder, reproducible=True)
    return {name: (folder / name).read_bytes() for name in TABLES if (folder / name).exists()}


def _same_rasters(a, b):
    assert set(a.rasters) == set(b.rasters)
    for name in a.rasters:
        x, y = np.asarray(a.rasters[name]), np.asarray(b.rasters[name])
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name


@pytest.fixture(scope="module")
def in_process(scenario, tmp_path_factory):
    res = citycov.run(scenario)
    return res, _tables(res, tmp_path_factory.mktemp("inproc") / "out")


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_tables_and_rasters_equal_the_in_process_run(scenario, in_process, workers, tmp_path):
    base, base_tables = in_process
    assert set(base_tables) >= {"districts.csv", "targets.csv", "networks.csv", "uncertainty.csv"}
    res = citycov.run(dataclasses.replace(scenario, compute=_cluster(workers)))
    assert _tables(res, tmp_path / "out") == base_tables
    _same_rasters(res, base)


@pytest.mark.slow
def test_a_worker_killed_mid_run_changes_nothing(scenario, in_process, tmp_path, monkeypatch):
    """When the first tile result reaches the main process, the other tiles are queued or running
    on both workers; one worker with tasks is killed (SIGKILL).  Dask reruns its tasks on the
    other (and on the worker its nanny restarts); the outputs equal the undisturbed run's."""
    base, base_tables = in_process
    killed = []
    clients = []
    real_put = tile_tasks.VrtSink.put  # the pipeline's tasks write their own tiles; the main process records them
    real_run_tiles = tile_tasks.run_tiles

    def run_tiles(plans, shared, sink, *, runner=None, progress=False):
        if runner is not None:  # (the kernels warming up in this process run without one)
            clients.append(runner.client)
        real_run_tiles(plans, shared, sink, runner=runner, progress=progress)

    def put(self, out):
        if clients and not killed:
            client = clients[0]
            busy = [addr for addr, keys in client.processing().items() if keys]
            assert busy, "no worker had a task when the first result arrived"
            pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            killed.append(busy[0])
        real_put(self, out)

    monkeypatch.setattr(tile_tasks.VrtSink, "put", put)
    monkeypatch.setattr(tile_tasks, "run_tiles", run_tiles)
    res = citycov.run(dataclasses.replace(scenario, compute=_cluster(2)))
    assert killed
    assert _tables(res, tmp_path / "out") == base_tables
    _same_rasters(res, base)


@pytest.mark.slow
def test_a_separately_started_cluster_gives_the_same_tables(scenario, in_process, tmp_path):
    """``[compute].scheduler``: a cluster started beforehand (its own scheduler and 2 worker
    processes) is used and left running; the tables and rasters equal the in-process run's."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  env={"NUMBA_NUM_THREADS": "1"}) as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(2)
        compute = ComputeConfig(scheduler=cluster.scheduler_address, dashboard=False,
                                scratch_dir=str(tmp_path / "scratch"))
        res = citycov.run(dataclasses.replace(scenario, compute=compute))
        assert len(client.scheduler_info()["workers"]) == 2  # still running
    base, base_tables = in_process
    assert _tables(res, tmp_path / "out") == base_tables
    _same_rasters(res, base)
    # the scene files are removed at the end of each engine call; the run's own scratch folder (its
    # stored rasters) when its results are no longer used
    assert [p.name for p in (tmp_path / "scratch").iterdir()] == [res.rasters["best_dbm"].keep.path.name]
    del res
    gc.collect()
    assert list((tmp_path / "scratch").iterdir()) == []
