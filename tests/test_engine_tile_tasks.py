"""The engine's tile tasks (issue 14): each tile reads only its terrain window, the window holds
every ray sample the tile needs, the out-of-core path equals the in-memory one, and a run at a size
whose whole-grid rasters would not fit a memory limit finishes under that limit."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from citycov.config import RadioConfig
from citycov.engine import cellular, tile_tasks
from citycov.engine.linkbudget import LinkParams
from citycov.engine.tiles import fan_size, fan_wedge
from citycov.errors import ModelError
from citycov.grid import GridSpec
from tests.test_engine_cellular import grid_of, rough_dem, sectors_at

ROOT = Path(__file__).resolve().parent.parent
N = 150
CELL = 30.0


@pytest.fixture(scope="module")
def scene():
    """Rough terrain with a ridge, four sites (one in a corner, so far tiles need long rays)."""
    dem = rough_dem(N, seed=5, relief_m=120.0)
    dem[:, 70:73] += 180.0  # a ridge across the grid: terrain that a missing window would lose
    grid = grid_of(N, CELL)
    rows = []
    for k, (dr, dc) in enumerate([(0, 0), (-2000, -2000), (1800, 1500), (-1500, 1900)]):
        for az in (0.0, 120.0, 240.0):
            rows.append({"site_id": f"S{k}", "azimuth_deg": az, "dx": dc, "dy": dr, "freq_mhz": 1800.0,
                         "h_beamwidth_deg": 65.0, "v_beamwidth_deg": 10.0, "downtilt_deg": 3.0})
        rows.append({"site_id": f"S{k}", "freq_mhz": 900.0, "dx": dc, "dy": dr, "technology": "3G"})
    sectors = sectors_at(grid, (N // 2, N // 2), rows)
    sectors["sector_id"] = [f"x{i}" for i in range(len(sectors))]
    return dem, grid, sectors


def _radio(**kw) -> RadioConfig:
    return RadioConfig(max_range_km=1.8, tile_cells=32, **kw)


def _run(scene, monkeypatch=None, whole=False, **kw):
    dem, grid, sectors = scene
    if whole:  # every tile reads the whole grid: no shift, as the engine ran before the tile tasks
        monkeypatch.setattr(tile_tasks, "terrain_window", lambda site_rc, window, shape, pad=0: (0, shape[0], 0,
                                                                                               shape[1]))
    return cellular.cellular_coverage(sectors, dem, np.full(dem.shape, 2), grid, _radio(**kw), link=LinkParams())


# ----------------------------------------------------------------- the terrain window
@pytest.mark.parametrize("seed", range(4))
def test_terrain_window_holds_every_ray_sample_of_the_wedge(seed):
    """Brute force: every sample k = 1..steps of every ray of the wedge a tile needs (ray r at
    azimuth 2πr/n clockwise from north, sample k at k cells along it: the fan's definition) and
    its bilinear neighbours lie inside the window."""
    rng = np.random.default_rng(seed)
    shape = (400, 400)
    for _ in range(30):
        row0, col0 = rng.uniform(0, 399, 2)
        r0, c0 = (int(v) for v in rng.integers(0, 360, 2))
        size = int(rng.integers(16, 40))
        window = (r0, min(r0 + size, 400), c0, min(c0 + size, 400))
        reach = float(rng.uniform(20, 300))
        t0, t1, u0, u1 = tile_tasks.terrain_window([(row0, col0, reach)], window, shape)
        n_rays, n_steps = fan_size(reach)
        lo, n_wedge, steps = fan_wedge(row0, col0, *window, n_rays, n_steps)
        rays = (lo + np.arange(n_wedge)) % n_rays
        theta = 2 * math.pi * rays / n_rays
        k = np.arange(0, steps + 1)[:, None]
        rr = row0 - k * np.cos(theta)[None, :]
        cc = col0 + k * np.sin(theta)[None, :]
        inside_grid = (rr >= 0) & (rr <= 399) & (cc >= 0) & (cc <= 399)
        rr, cc = rr[inside_grid], cc[inside_grid]
        assert (np.floor(rr) >= t0).all() and (np.floor(rr) + 1 < t1 + (t1 == 400)).all()
        assert (np.floor(cc) >= u0).all() and (np.floor(cc) + 1 < u1 + (u1 == 400)).all()
        assert t0 <= window[0] and t1 >= window[1] and u0 <= window[2] and u1 >= window[3]


def test_a_far_tile_reads_a_window_not_the_grid(scene):
    from citycov.engine.sectors import site_groups

    dem, grid, sectors = scene
    source = tile_tasks.scene_source(dem, np.full(dem.shape, 2), grid, active=None, rx_loss_db=None,
                                     constants=cellular._scene_constants(grid, _radio()))
    run = cellular._prepare(sectors, source, grid, _radio(), patterns=None, exact_sectors=None)
    groups = site_groups(run.table, run.height, run.freq)
    plans = tile_tasks.tile_plans(run, groups, source, 32)
    areas = [(p.terrain[1] - p.terrain[0]) * (p.terrain[3] - p.terrain[2]) for p in plans]
    assert min(areas) < 0.5 * N * N  # some tile needs far less than the grid
    for p in plans:
        t0, t1, u0, u1 = p.terrain
        r0, r1, c0, c1 = p.window
        assert t0 <= r0 and r1 <= t1 and u0 <= c0 and c1 <= u1
        assert "engine tile" in p.describe() and "terrain window" in p.describe()


@pytest.mark.parametrize("diffraction", ["knife_edge", "deygout"])
def test_windowed_tasks_equal_tasks_on_the_whole_grid(scene, monkeypatch, diffraction):
    """A tile on its terrain window gives the levels of the same tile on the whole grid: the window
    loses no terrain (a lost ridge would change levels by dB); what remains is the rounding of the
    shifted ray positions."""
    windowed = _run(scene, diffraction=diffraction)
    whole = _run(scene, monkeypatch, whole=True, diffraction=diffraction)
    np.testing.assert_array_equal(np.isnan(windowed.best_dbm), np.isnan(whole.best_dbm))
    both = np.isfinite(whole.best_dbm)
    assert np.abs(windowed.best_dbm[both] - whole.best_dbm[both]).max() <= 1e-3
    assert (windowed.best_sector != whole.best_sector).mean() < 1e-3
    np.testing.assert_array_equal(windowed.speed_tier >= 0, whole.speed_tier >= 0)


def test_exact_mode_tasks_equal_tasks_on_the_whole_grid(scene, monkeypatch):
    windowed = _run(scene, mode={"3G": "exact"})
    whole = _run(scene, monkeypatch, whole=True, mode={"3G": "exact"})
    both = np.isfinite(whole.best_dbm)
    np.testing.assert_array_equal(np.isnan(windowed.best_dbm), np.isnan(whole.best_dbm))
    assert np.abs(windowed.best_dbm[both] - whole.best_dbm[both]).max() <= 1e-3


# ----------------------------------------------------------------- out of core
def test_files_in_files_out_equals_the_in_memory_run_and_reads_only_windows(scene, tmp_path, monkeypatch):
    dem, grid, sectors = scene
    radio = _radio()
    env = np.full(dem.shape, 2)
    memory = cellular.cellular_coverage(sectors, dem, env, grid, radio, link=LinkParams())
    constants = cellular._scene_constants(grid, radio)
    arrays = tile_tasks.scene_source(dem, env, grid, active=None, rx_loss_db=None, constants=constants)
    source = arrays.to_files(tmp_path / "scene", grid)
    reads = []
    real = tile_tasks.RasterScene._read

    def spy(self, name, win):
        reads.append((name, win))
        return real(self, name, win)

    monkeypatch.setattr(tile_tasks.RasterScene, "_read", spy)
    ground = np.array([cellular._radio_kernels.bilinear(arrays.scene.dem_m, r, c)
                       for r, c in zip(*grid.fractional_rowcol(sectors.geometry.x.to_numpy(),
                                                               sectors.geometry.y.to_numpy()), strict=True)])
    table, paths = cellular.engine_to_files(sectors, source, grid, radio, tmp_path / "out", z_ground_m=ground,
                                            link=LinkParams())
    with rasterio.open(paths["best_dbm"]) as src:
        np.testing.assert_array_equal(src.read(), memory.best_dbm)
    with rasterio.open(paths["best_sector"]) as src:
        np.testing.assert_array_equal(src.read(), memory.best_sector)
    with rasterio.open(paths["sinr_db"]) as src:
        np.testing.assert_array_equal(src.read(), memory.sinr_db)
    with rasterio.open(paths["cover_bits"]) as src:
        np.testing.assert_array_equal(src.read(1), memory.cover_bits)
    assert list(table["sector_id"]) == list(memory.sectors["sector_id"])
    # the tasks read their terrain windows (dem, env, active, per plan), nothing more
    terrain_reads = [w for name, w in reads if name == "dem_m"]
    from citycov.engine.sectors import site_groups

    run = cellular._prepare(sectors, source, grid, radio, patterns=None, exact_sectors=None, z_ground_m=ground)
    plans = tile_tasks.tile_plans(run, site_groups(run.table, run.height, run.freq), source, radio.tile_cells)
    assert sorted(terrain_reads) == sorted(p.terrain for p in plans)
    assert all((w[1] - w[0]) * (w[3] - w[2]) <= N * N for w in terrain_reads)
    assert any((w[1] - w[0]) * (w[3] - w[2]) < N * N for w in terrain_reads)


def test_files_without_ground_heights_are_refused(scene, tmp_path):
    dem, grid, sectors = scene
    radio = _radio()
    arrays = tile_tasks.scene_source(dem, np.full(dem.shape, 2), grid, active=None, rx_loss_db=None,
                                     constants=cellular._scene_constants(grid, radio))
    source = arrays.to_files(tmp_path / "scene", grid)
    with pytest.raises(ModelError, match="z_ground_m"):
        cellular._prepare(sectors, source, grid, radio, patterns=None, exact_sectors=None)


BOUNDED = textwrap.dedent("""
    import json, resource, sys
    from pathlib import Path
    import numpy as np
    limit = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import geopandas as gpd, pyproj, shapely
    from affine import Affine
    from citycov.config import RadioConfig
    from citycov.engine import cellular, tile_tasks
    from citycov.grid import GridSpec
    args = json.loads(Path(sys.argv[1]).read_text())
    grid = GridSpec(crs=pyproj.CRS.from_epsg(32650), transform=Affine(*args["transform"]), shape=tuple(args["shape"]))
    source = tile_tasks.RasterScene(paths=args["paths"], shape=tuple(args["shape"]),
                                    constants=tile_tasks.SceneConstants(*args["constants"]))
    sectors = gpd.read_file(args["sectors"])
    if args.get("whole"):
        np.zeros((3, *grid.shape), dtype=np.float32)[:] = 1.0  # what a whole-grid level raster would take
    table, paths = cellular.engine_to_files(sectors, source, grid, RadioConfig(max_range_km=3.0), Path(args["out"]),
                                            z_ground_m=np.full(len(sectors), 10.0))
    print(json.dumps({"peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}))
""")


@pytest.mark.slow
def test_a_grid_too_large_for_memory_runs_out_of_core(tmp_path):
    """12,000 x 12,000 cells (144 M): one whole-grid level raster (3 technologies, float32) is
    1.7 GB, over the 1.5 GB address-space limit of the process; the out-of-core run reads
    windows, writes tiles and finishes within it (and the whole-grid allocation, as a check
    that the limit bites, fails)."""
    import geopandas as gpd
    import pyproj
    import shapely

    rows = cols = 12_000
    cell = 100.0
    grid = GridSpec(crs=pyproj.CRS.from_epsg(32650), transform=Affine(cell, 0, 500_000.0, 0, -cell, 3_000_000.0),
                    shape=(rows, cols))
    scene_dir = tmp_path / "scene"
    scene_dir.mkdir()
    paths = {}
    for name, dtype, value in (("dem_m", "float32", 10.0), ("env", "int8", 2), ("active", "uint8", 1)):
        path = scene_dir / f"scene_{name}.tif"
        with tile_tasks.open_tiled(path, grid, np.dtype(dtype)) as dst:
            block = np.full((2000, cols), value, dtype=dtype)
            for r0 in range(0, rows, 2000):
                dst.write(block, 1, window=rasterio.windows.Window(0, r0, cols, 2000))
        paths[name] = str(path)
    xs = 500_000.0 + np.array([1_000.5, 600_000.5, 1_100_000.5])
    ys = 3_000_000.0 - np.array([1_000.5, 600_000.5, 1_100_000.5])
    sectors = gpd.GeoDataFrame({
        "sector_id": ["a", "b", "c"], "site_id": ["a", "b", "c"], "operator": ["op"] * 3, "technology": ["4G"] * 3,
        "freq_mhz": [1800.0] * 3, "bandwidth_mhz": [20.0] * 3, "eirp_dbm": [58.0] * 3, "height_m": [30.0] * 3,
        "azimuth_deg": [np.nan] * 3, "omni": [True] * 3, "downtilt_deg": [0.0] * 3, "h_beamwidth_deg": [360.0] * 3,
        "v_beamwidth_deg": [10.0] * 3},
        geometry=shapely.points(xs, ys), crs=grid.crs)
    sectors.to_file(tmp_path / "sectors.gpkg")
    spec = {"transform": list(grid.transform)[:6], "shape": [rows, cols], "paths": paths,
            "constants": [cell, 1.5, 4 / 3 * cellular.EARTH_RADIUS_M, -125.0],
            "sectors": str(tmp_path / "sectors.gpkg"), "out": str(tmp_path / "out")}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    (tmp_path / "bounded.py").write_text(BOUNDED)
    limit = int(1.5 * 2 ** 30)
    env = {**os.environ, "GDAL_CACHEMAX": "64", "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT)}
    ok = subprocess.run([sys.executable, str(tmp_path / "bounded.py"), str(tmp_path / "spec.json"), str(limit)],
                        capture_output=True, text=True, env=env, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr[-3000:]
    with rasterio.open(tmp_path / "out" / "best_dbm.tif") as src:
        assert src.shape == (rows, cols)
        near = src.read(2, window=rasterio.windows.Window(5, 5, 10, 10))  # 4G band around site a (cell 10, 10)
        far = src.read(2, window=rasterio.windows.Window(3000, 3000, 40, 40))
    assert np.isfinite(near).all() and np.isnan(far).all()
    (tmp_path / "spec.json").write_text(json.dumps({**spec, "whole": True, "out": str(tmp_path / "out2")}))
    whole = subprocess.run([sys.executable, str(tmp_path / "bounded.py"), str(tmp_path / "spec.json"), str(limit)],
                           capture_output=True, text=True, env=env, cwd=ROOT)
    assert whole.returncode != 0 and "MemoryError" in whole.stderr, whole.stderr[-2000:]

