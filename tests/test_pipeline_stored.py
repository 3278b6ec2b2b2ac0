"""The engine's rasters in files (:mod:`citycov.stored`): every step after the engine reads them
strip by strip, and every figure equals the one computed from the same rasters held in memory.

The in-memory run (``store=None``, the engine's :class:`~citycov.engine.tile_tasks.GridSink`) is
the reference here: the stored run must give the same rasters bit for bit, the same masks, the
same district, network and service tables and the same point samples."""

from __future__ import annotations

import gc
import itertools
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import citycov
from citycov.pipeline.coverage import coverage_masks, fibre_coverage, link_rasters, radio_coverage
from citycov.pipeline.inputs import read_inputs
from citycov.pipeline.layers import build_layers
from citycov.pipeline.services import service_coverage
from citycov.pipeline.tables import account, networks
from citycov.pipeline.uncertainty import alternative_model
from citycov.stored import Scratch, StoredRaster, row_strips
from citycov.verification.calibration import sample_model
from tests.conftest import X0, Y0, make_tiny, sector_row

CX, CY = X0 + 5000.0, Y0 + 5000.0
RASTERS = ("best_dbm", "best_sector", "cover_bits", "sinr_db", "margin_db", "overlap", "throughput_mbps",
           "speed_tier", "serving_dbm", "serving_sector", "alt_best_dbm")


def _sectors(outside: bool) -> list[dict]:
    rows = [
        sector_row(sector_id="A1", freq_mhz=900.0, x=CX, y=CY),
        sector_row(sector_id="A2", freq_mhz=1800.0, x=CX, y=CY, azimuth_deg=90.0, h_beamwidth_deg=65.0),
        sector_row(sector_id="A3", freq_mhz=2600.0, x=CX, y=CY, azimuth_deg=200.0, h_beamwidth_deg=65.0,
                   technology="5G", downtilt_deg=4.0),
        sector_row(site_id="S2", sector_id="B1", freq_mhz=900.0, x=X0 + 9500.0, y=Y0 + 500.0, height_m=30.0,
                   operator="Other"),
        sector_row(site_id="S2", sector_id="B2", freq_mhz=2100.0, x=X0 + 9500.0, y=Y0 + 500.0, height_m=25.0,
                   technology="3G", azimuth_deg=300.0, h_beamwidth_deg=65.0),
    ]
    if outside:  # beyond the analysis grid: the engine runs on a padded grid, the result is cut back
        rows.append(sector_row(site_id="OUT", sector_id="O1", x=X0 - 1500.0, y=CY, freq_mhz=1800.0))
    return rows


def _dem() -> np.ndarray:
    dem = np.full((140, 140), 10.0, dtype=np.float32)
    dem[:, 70:73] = 120.0
    yy, xx = np.mgrid[0:140, 0:140]
    return dem + (80.0 * np.exp(-((yy - 40) ** 2 + (xx - 100) ** 2) / 60.0)).astype(np.float32)


def _setup(tmp_path, outside: bool):
    extra = ('[services]\npresets = ["fcc-bdc-4g-5-1", "ofcom-4g-outdoor"]\nindoor_probability = 0.5\n'
             '[accounting]\nuncertainty_resolution = []\nalternative_model = "tr38901"\n')
    radio = "floor_dbm = -125\ntile_cells = 24" + ("\nstudy_margin_m = 500" if outside else "")
    tiny = make_tiny(tmp_path / "t", sectors=_sectors(outside), dem_m=_dem(), extra=extra, radio=radio)
    scenario = citycov.load_scenario(tiny.scenario)
    inputs = read_inputs(scenario)
    layers = build_layers(scenario, inputs, cell_m=scenario.grid.cell_m, rule=scenario.accounting.zonal_rule)
    return scenario, inputs, layers


@pytest.mark.parametrize("outside", [False, True], ids=["on_grid", "padded"])
def test_stored_run_gives_the_in_memory_figures(tmp_path, outside):
    scenario, inputs, layers = _setup(tmp_path, outside)
    alt = alternative_model(scenario)
    memory = radio_coverage(scenario, inputs, layers, scenario.radio, alt_model=alt)
    scratch = Scratch(tmp_path / "scratch")
    stored = radio_coverage(scenario, inputs, layers, scenario.radio, alt_model=alt, store=scratch)
    assert stored.cell.stored and not memory.cell.stored
    assert (layers.area.padded) == outside
    for name in RASTERS:
        want, got = getattr(memory.cell, name), getattr(stored.cell, name)
        assert isinstance(got, StoredRaster), name
        assert got.shape == want.shape and got.dtype == want.dtype, name
        np.testing.assert_array_equal(np.asarray(got), want, err_msg=name)
    assert np.isfinite(memory.cell.best_dbm).sum() > 5000  # the scene covers something
    np.testing.assert_array_equal(stored.cell.uplink_mbps, memory.cell.uplink_mbps)
    for op in (None, "Test", "Other"):
        for tech in ("3G", "4G", "5G"):
            np.testing.assert_array_equal(stored.cell.network_mask(op, tech), memory.cell.network_mask(op, tech))

    cfg = scenario.accounting
    fibre = fibre_coverage(scenario, inputs, layers)
    for p in (0.5, 0.75, 0.9):
        m_mem = coverage_masks(scenario, layers, memory, cell_edge_probability=p)
        m_sto = coverage_masks(scenario, layers, stored, cell_edge_probability=p)
        for key in m_mem:
            np.testing.assert_array_equal(m_sto[key], m_mem[key], err_msg=f"{key} at {p}")
    masks = coverage_masks(scenario, layers, stored, cell_edge_probability=cfg.cell_edge_probability)
    pd.testing.assert_frame_equal(account(scenario, inputs, layers, masks, fibre),
                                  account(scenario, inputs, layers, coverage_masks(
                                      scenario, layers, memory, cell_edge_probability=cfg.cell_edge_probability),
                                      fibre), check_exact=True)
    pd.testing.assert_frame_equal(networks(inputs, layers, stored, masks), networks(inputs, layers, memory, masks),
                                  check_exact=True)
    s_mem = service_coverage(scenario, inputs, layers, memory)
    s_sto = service_coverage(scenario, inputs, layers, stored)
    assert s_mem.table is not None and (s_mem.table["population_covered"] > 0).any()
    pd.testing.assert_frame_equal(s_sto.table, s_mem.table, check_exact=True)
    assert s_sto.records == s_mem.records
    for name in link_rasters(memory.cell):
        np.testing.assert_array_equal(np.asarray(link_rasters(stored.cell)[name]), link_rasters(memory.cell)[name])

    # point samples (claims): only the strips holding a point are read
    rng = np.random.default_rng(5)
    pts = inputs.sectors.iloc[:0].copy()
    xs = rng.uniform(X0, X0 + 10_000.0, 200)
    ys = rng.uniform(Y0, Y0 + 10_000.0, 200)
    import geopandas as gpd
    import shapely

    pts = gpd.GeoDataFrame({"k": np.arange(200)}, geometry=shapely.points(xs, ys), crs=layers.grid.crs)
    for tech in ("4G", "5G"):
        pd.testing.assert_frame_equal(sample_model(stored.cell, inputs.sectors, layers.grid, pts, technology=tech),
                                      sample_model(memory.cell, inputs.sectors, layers.grid, pts, technology=tech))


def test_strips_cover_the_grid_once_in_block_multiples():
    for shape in [(1, 1), (7, 3), (5261, 3727), (3, 1 << 21), (4096, 256)]:
        strips = row_strips(shape)
        assert strips[0][0] == 0 and strips[-1][1] == shape[0]
        assert all(a[1] == b[0] for a, b in itertools.pairwise(strips))
        assert all(r1 > r0 for r0, r1 in strips)
        if shape[0] * shape[1] > (1 << 20) and (1 << 20) // shape[1] >= 256:
            assert all((r1 - r0) % 256 == 0 for r0, r1 in strips[:-1])
    # a strip small enough to bound memory: about 1 M cells
    assert max(r1 - r0 for r0, r1 in row_strips((5261, 3727))) * 3727 <= (1 << 20)


def test_scratch_is_removed_when_the_last_raster_goes(tmp_path):
    scratch = Scratch(tmp_path / "s")
    folder = scratch.folder("engine")
    import rasterio

    with rasterio.open(folder / "a.tif", "w", driver="GTiff", width=4, height=3, count=2, dtype="float32") as dst:
        dst.write(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    raster = StoredRaster.open(folder / "a.tif", dtype=np.float16, keep=scratch)
    assert raster.shape == (2, 3, 4) and raster.dtype == np.float16
    np.testing.assert_array_equal(raster[1], np.arange(12, 24, dtype=np.float16).reshape(3, 4))
    np.testing.assert_array_equal(raster.cropped((1, 2), (2, 2)).read(),
                                  np.arange(24, dtype=np.float16).reshape(2, 3, 4)[:, 1:3, 2:4])
    np.testing.assert_array_equal(raster[0, np.array([2, 0]), np.array([3, 1])], np.array([11, 1], dtype=np.float16))
    path = scratch.path
    del scratch
    gc.collect()
    assert path.is_dir()  # the raster keeps its folder
    del raster
    gc.collect()
    assert not path.exists()


def _dead_pid() -> int:
    """The id of a process that has exited (and been waited for)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.skipif(os.name != "posix", reason="process ids are judged on POSIX only")
def test_remove_stale_scratch_removes_only_the_folders_of_killed_runs_of_this_machine(tmp_path):
    from citycov.stored import _machine_key, remove_stale_scratch, scratch_prefix

    key, dead = _machine_key(), _dead_pid()
    names = {
        f"citycov-run-{key}-{dead}-ab_c1": True,       # a killed run's rasters
        f"citycov-scene-{key}-{dead}-x9": True,        # a killed run's cluster scene
        f"citycov-run-{key}-{os.getpid()}-live1": False,  # this live process
        f"citycov-run-otherhost_0123abcd-{dead}-r1": False,  # another machine's (a shared scratch_dir)
        "citycov-run-k2j3h4": False,                    # an older name without a process id
        "unrelated": False,
    }
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.tif").write_bytes(b"x")
    (tmp_path / f"citycov-run-{key}-{dead}-file").write_bytes(b"not a folder")
    assert scratch_prefix("run").startswith(f"citycov-run-{key}-{os.getpid()}-")
    removed = remove_stale_scratch(tmp_path)
    assert sorted(p.name for p in removed) == sorted(n for n, stale in names.items() if stale)
    for name, stale in names.items():
        assert (tmp_path / name).exists() != stale, name
    assert (tmp_path / f"citycov-run-{key}-{dead}-file").is_file()
    with pytest.raises(ValueError, match="scratch kind"):
        scratch_prefix("tiles")


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_a_killed_runs_scratch_goes_with_the_next_run(tmp_path):
    """A process killed with SIGKILL cannot remove its scratch folder; the next run's
    :class:`Scratch` in the same parent does (a ``[compute].scratch_dir``)."""
    code = ("import os, signal, sys; from citycov.stored import Scratch; s = Scratch(sys.argv[1]); "
            "(s.folder('engine') / 'a.tif').write_bytes(b'x'); print(s.path, flush=True); "
            "os.kill(os.getpid(), signal.SIGKILL)")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    left = Path(proc.stdout.strip())
    assert left.parent == tmp_path and (left / "01-engine" / "a.tif").is_file()
    scratch = Scratch(tmp_path)
    assert not left.exists()
    assert [p.name for p in tmp_path.iterdir()] == [scratch.path.name]


def test_services_in_chunks_equal_one_call(tmp_path, monkeypatch):
    """The presets are evaluated ``CHUNK_CELLS`` cells at a time: masks, table and provenance
    (its min/max summaries combined over the chunks) equal a single call on every cell."""
    from citycov.pipeline import services as services_mod

    scenario, inputs, layers = _setup(tmp_path, False)
    cov = radio_coverage(scenario, inputs, layers, scenario.radio)
    monkeypatch.setattr(services_mod, "CHUNK_CELLS", 1 << 30)
    whole = service_coverage(scenario, inputs, layers, cov)
    monkeypatch.setattr(services_mod, "CHUNK_CELLS", 997)
    chunked = service_coverage(scenario, inputs, layers, cov)
    assert whole.records[0]["evaluated"]["cells_evaluated"] > 3 * 997  # several chunks
    pd.testing.assert_frame_equal(chunked.table, whole.table, check_exact=True)
    assert chunked.records == whole.records
    summaries = [r["service"]["sigma_db"] for r in whole.records]
    assert all(isinstance(s, dict) and s["min"] <= s["max"] for s in summaries)
