#!/usr/bin/env python3
"""Terrain-aware engine on the shared benchmark tile, side by side with the peer figures.

P1  one site, fast terrain mode (empirical + Deygout/Bullington/knife edge along radials), 1", R = 40 km,
    timed interleaved with the kernels as they were before issue 15 (wall and CPU seconds); the
    deviation of each method from the cell's own profile (10 km) and the knife edge's agreement on
    line of sight with the own profile (20 km)
P2  one site, exact mode, ITM point to point: the radial geometry (prefix profiles of the fan's
    rays, the default) on the full 40 km job; the per-cell geometry (each cell's own profile)
    at small radii, scaled by R^3; and the deviation between the two
P4  best-server combine of a Hata-class model without terrain: site-pixel evaluations/s
P5  Numba compile time (cold cache) and warm-start overhead (cache=True), in fresh processes

The tile comes from ``../shared/bench/make_dem.py`` (the ``shared`` folder beside the repository, or
beside the folder of its worktrees; deterministic, seed 2300113), generated into a temporary folder
at run time and never committed.
The 1" grid is treated as square cells of sqrt(30.87 m x 28.36 m) = 29.6 m (the mean cell area at
23.5 N), so the R = 40 km circle holds the peers' 5.75 M pixels.  Timings: median of ``--repeat``
runs after a warm-up; the peer figures are whole-process medians on a 2-core machine of this kind
(``../shared/bench/README.md``).
Writes ``benchmarks/results/engine_terrain.json``.

usage: python benchmarks/bench_terrain.py [--only P1,P2,P4,P5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# beside the repository, or beside the folder of its worktrees
MAKE_DEM_PLACES = tuple(base / "shared" / "bench" / "make_dem.py" for base in (ROOT.parent, ROOT.parent.parent))
MAKE_DEM = next((p for p in MAKE_DEM_PLACES if p.exists()), MAKE_DEM_PLACES[0])
sys.path.insert(0, str(ROOT))  # tests.oracles, benchmarks.kernels: kernels timed here that the package never calls
RESULTS = ROOT / "benchmarks" / "results" / "engine_terrain.json"
CELL_M = math.sqrt(30.87 * 28.36)
K_RE = 4.0 / 3.0 * 6_371_000.0
PEERS = {
    "signal_server_itm_s": {5: 2.05, 10: 2.57, 20: 5.12, 40: 18.1},
    "signal_server_hata_40km_s": 2.72,
    "splat_itm_40km_s": 31.6,
    "gdal_viewshed_40km_s": 0.11,
    "radial_sweep_limit_s": (0.018, 0.026),
    "hata_evals_per_s_vectorised": 9e9,
    "hata_evals_per_s_math_log10": 0.44e9,
}
TARGETS = {"P1_s": 0.18, "P2_s": 1.8, "P4_evals_per_s": 2e9, "P5_cold_s": 30.0, "P5_warm_s": 2.0}


def load_tile(folder: Path) -> np.ndarray:
    hgt = folder / "srtm1" / "N23E113.hgt"
    if not hgt.exists():
        subprocess.run([sys.executable, str(MAKE_DEM), str(folder)], check=True, capture_output=True)
    return np.fromfile(hgt, dtype=">i2").reshape(3601, 3601).astype(np.float64)


def median_time(fn, repeat: int) -> tuple[float, list[float]]:
    fn()  # warm-up (compilation, page faults)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


class P1:
    """Benchmark P1's job, set up once: one omni COST-231 sector at the tile centre (30 m, 2100 MHz,
    ERP 200 W) over the R = 40 km circle, the engine's tile state over that circle as one tile (k = 2
    strongest levels, one carrier), and the engine's sweep and cell pass (``new``) beside the kernels
    as they were before issue 15 (``v0``, :mod:`benchmarks.kernels`)."""

    def __init__(self, dem: np.ndarray, radius_km: float = 40.0) -> None:
        from citycov.engine import _radio_kernels
        from citycov.engine.sectors import PatternTables, Scene, SectorArrays, TileState
        from citycov.engine.tiles import fan_size

        self.row0 = self.col0 = 1800.0
        self.h_tx, self.h_rx, self.f = 30.0, 1.5, 2100.0
        self.radius_km = radius_km
        self.z_tx = dem[1800, 1800] + self.h_tx
        reach_cells = radius_km * 1000.0 / CELL_M
        self.n_rays, self.n_steps = fan_size(reach_cells)
        n = self.n_steps
        self.pixels = int((np.hypot(*np.mgrid[-n:n + 1, -n:n + 1]) <= reach_cells).sum())
        rows, cols = dem.shape
        eirp = 10 * math.log10(200e3) + 2.15  # ERP 200 W -> EIRP dBm
        best = np.full((3, rows, cols), np.nan, dtype=np.float32)
        idx = np.full((3, rows, cols), -1, dtype=np.int16)
        cover = np.zeros((rows, cols), dtype=np.uint8)
        r_lo, r_hi = int(self.row0 - reach_cells) - 1, int(self.row0 + reach_cells) + 2
        c_lo, c_hi = int(self.col0 - reach_cells) - 1, int(self.col0 + reach_cells) + 2
        th, tw = r_hi - r_lo, c_hi - c_lo
        car_top = np.full((1, 2, th, tw), -np.inf, dtype=np.float32)
        car_idx = np.full((1, th, tw), -1, dtype=np.int32)
        car_sum = np.zeros((1, th, tw), dtype=np.float32)
        self.dem32 = dem.astype(np.float32)  # the engine's terrain dtype
        env8 = np.full(dem.shape, 3, dtype=np.int8)
        self.scene = Scene(self.dem32, env8, np.ones(dem.shape, dtype=np.uint8), np.zeros((0, 0), np.float32), CELL_M,
                           self.h_rx, K_RE, -1e9)
        self.sectors = SectorArrays(
            index=np.array([0]), model=np.array([_radio_kernels.MODEL_COST231]), freq_mhz=np.array([self.f]),
            height_m=np.array([self.h_tx]), ref_eirp_dbm=np.array([eirp]), azimuth_deg=np.zeros(1),
            omni=np.array([True]), tilt_deg=np.zeros(1), hbw_deg=np.array([360.0]), vbw_deg=np.array([10.0]),
            pattern=np.full(1, -1), reach_m=np.full((1, 4), radius_km * 1000.0), tech=np.array([1]),
            slot=np.zeros(1, dtype=np.int64), bit=np.zeros(1, dtype=np.int64), threshold_dbm=np.full(1, -1e9))
        self.patterns = PatternTables(np.zeros((1, 360)), np.zeros((1, 360)), np.zeros(1), 30.0, 30.0)
        self.tile = TileState(r_lo, c_lo, best, idx, cover, car_top, car_idx, car_sum)
        self.inv_root = np.array([1.0 / math.sqrt(299_792_458.0 / (self.f * 1e6))])
        # fan buffers written in place by every sweep, as the engine's FanWorkspace: a sweep into fresh
        # arrays would time the page faults of 230 MB too
        shape = (self.n_steps + 1, self.n_rays)
        self.buf_v0 = (np.empty(shape), *(np.empty(shape, np.int32) for _ in range(3)))
        self.buf_new = (np.empty(shape), *(np.empty(shape, np.int32) for _ in range(3)))
        for buf in (self.buf_v0, self.buf_new):
            for a in buf:
                a.fill(0)

    def fan_v0(self):
        """The old sweep (every method: heights and persistent hulls of the whole fan)."""
        from benchmarks.kernels import ray_wedge_into_v0
        from citycov.engine.cellular import HULL_TOLERANCE
        from citycov.engine.sectors import Fan

        zr, prev, top, hz = self.buf_v0
        ray_wedge_into_v0(self.dem32, self.row0, self.col0, self.z_tx, CELL_M, self.n_rays, 0, K_RE, HULL_TOLERANCE,
                          zr, prev, top, hz)
        return Fan(zr, prev, top, hz, 0, self.n_rays)

    def smooth(self, code: int):
        """The smooth-earth ray and loss table of the method ``code``."""
        from citycov.engine import _terrain_kernels
        from citycov.engine.cellular import HULL_TOLERANCE
        from citycov.engine.sectors import SmoothRay

        zs_prev_top_hz = _terrain_kernels.smooth_ray(self.h_tx, CELL_M, self.n_steps, K_RE, HULL_TOLERANCE)
        return SmoothRay(*zs_prev_top_hz, _terrain_kernels.smooth_earth_loss_db(
            *zs_prev_top_hz, self.h_rx, CELL_M, K_RE, code, self.inv_root))

    def cells_v0(self, code: int, fan, smooth) -> None:
        from benchmarks.kernels import tile_site_levels_v0

        tile_site_levels_v0(self.scene, self.row0, self.col0, self.z_tx, code, fan, smooth, self.sectors,
                            self.patterns, self.tile)

    def site_v0(self, code: int) -> None:
        """The whole site the old way: sweep, smooth-earth reference, cell pass."""
        self.cells_v0(code, self.fan_v0(), self.smooth(code))

    def fan_new(self, code: int):
        """The engine's sweep for the method ``code`` (as :class:`citycov.engine.cellular._FastMode` runs
        it): the running horizon alone for the knife edge, heights and hulls for the others."""
        from citycov.engine import _terrain_kernels
        from citycov.engine.cellular import HULL_TOLERANCE
        from citycov.engine.sectors import Fan

        zr, prev, top, hz = self.buf_new
        if code == _terrain_kernels.DIFF_KNIFE_EDGE:
            hs = zr.view(np.float32).reshape(*zr.shape, 2)
            _terrain_kernels.horizon_wedge_into(self.dem32, self.row0, self.col0, self.z_tx, CELL_M, self.n_rays, 0,
                                                K_RE, hs)
            return Fan(zr[:0], prev[:0], top[:0], hz[:0], 0, self.n_rays, hs)
        _terrain_kernels.ray_wedge_into(self.dem32, self.row0, self.col0, self.z_tx, CELL_M, self.n_rays, 0, K_RE,
                                        HULL_TOLERANCE, zr, prev, top, hz)
        return Fan(zr, prev, top, hz, 0, self.n_rays)

    def cells_new(self, code: int, fan, smooth) -> None:
        from citycov.engine import _tile_kernels

        _tile_kernels.tile_site_levels(self.scene, self.row0, self.col0, self.z_tx, code, fan, smooth, self.sectors,
                                       self.patterns, self.tile)

    def site_new(self, code: int) -> None:
        """The whole site as the engine runs it now."""
        self.cells_new(code, self.fan_new(code), self.smooth(code))

    def side_by_side(self, repeat: int, codes=None) -> dict:
        """Old and new sweep, cell pass and whole site per method, interleaved in one process:
        median seconds and the ratio old / new."""
        from citycov.engine.cellular import DIFFRACTION_CODES

        out = {}
        for name, code in sorted(DIFFRACTION_CODES.items()):
            if codes is not None and name not in codes:
                continue
            fan0, fan1, smooth = self.fan_v0(), self.fan_new(code), self.smooth(code)
            cpu: dict = {}
            t = interleaved({"sweep_v0": self.fan_v0, "sweep_new": lambda code=code: self.fan_new(code),
                             "cells_v0": lambda code=code, f=fan0, sm=smooth: self.cells_v0(code, f, sm),
                             "cells_new": lambda code=code, f=fan1, sm=smooth: self.cells_new(code, f, sm),
                             "site_v0": lambda code=code: self.site_v0(code),
                             "site_new": lambda code=code: self.site_new(code)}, repeat, cpu)
            out[name] = {k: round(v, 4) for k, v in t.items()}
            out[name]["cpu_s"] = {k: round(v, 4) for k, v in cpu.items()}
            for part in ("sweep", "cells", "site"):
                out[name][f"{part}_ratio"] = round(t[f"{part}_v0"] / t[f"{part}_new"], 2)
                out[name][f"{part}_cpu_ratio"] = round(cpu[f"{part}_v0"] / cpu[f"{part}_new"], 2)
        return out


def interleaved(fns: dict, repeat: int, cpu: dict | None = None) -> dict:
    """Median wall seconds per named function, called in turn ``repeat`` times after a warm-up each;
    ``cpu``: filled with the median process CPU seconds (all threads), which other jobs on a shared
    machine disturb much less than the wall time."""
    for fn in fns.values():
        fn()
    times: dict = {k: [] for k in fns}
    cpu_times: dict = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            times[k].append(time.perf_counter() - t0)
            cpu_times[k].append(time.process_time() - c0)
    if cpu is not None:
        cpu.update({k: statistics.median(v) for k, v in cpu_times.items()})
    return {k: statistics.median(v) for k, v in times.items()}


def p1_fast(dem: np.ndarray, repeat: int, radius_km: float = 40.0) -> dict:
    p1 = P1(dem, radius_km)
    out: dict = {"radius_km": radius_km, "cell_m": round(CELL_M, 3), "n_rays": p1.n_rays, "n_steps": p1.n_steps,
                 "pixels": p1.pixels,
                 "model": "COST-231 Hata (open) + terrain diffraction delta vs smooth earth, omni", "methods": {},
                 "note": "old = the kernels before issue 15 (benchmarks/kernels.py), timed interleaved with the "
                         "engine's in the same process; site = sweep + smooth-earth reference + cell pass"}
    sbs = p1.side_by_side(repeat)
    for name, t in sbs.items():
        out["methods"][name] = {
            "site_s": t["site_new"], "per_cell_pass_s": t["cells_new"], "radial_sweep_s": t["sweep_new"],
            "radial_sweep_samples_per_s": round(p1.n_rays * p1.n_steps / t["sweep_new"]),
            "old": {"site_s": t["site_v0"], "per_cell_pass_s": t["cells_v0"], "radial_sweep_s": t["sweep_v0"]},
            "ratio_old_over_new": {"site": t["site_ratio"], "cell_pass": t["cells_ratio"], "sweep": t["sweep_ratio"]},
            "cpu_s": t["cpu_s"],
            "cpu_ratio_old_over_new": {"site": t["site_cpu_ratio"], "cell_pass": t["cells_cpu_ratio"],
                                       "sweep": t["sweep_cpu_ratio"]},
            "ratio_vs_signal_server_itm_18_1s": round(PEERS["signal_server_itm_s"][40] / t["site_new"], 1),
            "ratio_vs_signal_server_hata_2_72s": round(PEERS["signal_server_hata_40km_s"] / t["site_new"], 1),
            "target_s": TARGETS["P1_s"], "meets_target": t["site_new"] <= TARGETS["P1_s"]}
    return out


def _stats(err) -> dict:
    e = np.abs(np.asarray(err))
    return {"cells": int(e.size), "max_db": round(float(e.max()), 2), "mean_db": round(float(e.mean()), 3),
            "median_db": round(float(np.median(e)), 3), "p95_db": round(float(np.percentile(e, 95)), 2),
            "share_within_1db": round(float(np.mean(e <= 1.0)), 3)}


def _knife_edge_fan(dem: np.ndarray, h_tx: float, reach_cells: float):
    """Horizon fan of the whole circle at the benchmark site, and its ray count."""
    from citycov.engine import _terrain_kernels
    from citycov.engine.tiles import fan_size

    n_rays, n_steps = fan_size(reach_cells)
    hs = np.empty((n_steps + 1, n_rays, 2), np.float32)
    _terrain_kernels.horizon_wedge_into(dem, 1800.0, 1800.0, dem[1800, 1800] + h_tx, CELL_M, n_rays, 0, K_RE, hs)
    return hs, n_rays


def deviation_vs_full_profile(dem: np.ndarray, tol: float, radius_km: float = 10.0, n_cells: int = 3000) -> dict:
    """Fast-mode diffraction loss (not the delta) minus the same method on each cell's own
    straight profile sampled every cell, for random cells within ``radius_km`` of the benchmark
    site; 1800 MHz, 30 m / 1.5 m.  Deygout and Bullington: nearest ray, incremental obstacle set,
    against the library's method (``edges="hull"``); the knife edge (the default): the running
    horizon, against P.526 eq. 31 at the own profile's running horizon worked here with the
    library's ``fresnel_nu`` and ``knife_edge_db``.  ``old`` is the nearest ray (the engine before
    issue 15), ``new`` the engine now (Deygout and Bullington unchanged: ``new`` = ``old``)."""
    from scipy.ndimage import map_coordinates

    from benchmarks.kernels import knife_edge_g_grid
    from citycov.engine.cellular import DIFFRACTION_CODES
    from citycov.engine.tiles import fan_size
    from citycov.propagation.diffraction import fresnel_nu, knife_edge_db, multi_knife_edge_loss_curved_db
    from tests import oracles_engine

    row0 = col0 = 1800
    h_tx, h_rx, f = 30.0, 1.5, 1800.0
    lam = 299_792_458.0 / (f * 1e6)
    reach = radius_km * 1000.0 / CELL_M
    n_rays, n_steps = fan_size(reach)
    zr, prev, top, hz = oracles_engine.ray_fan(dem, float(row0), float(col0), dem[row0, col0] + h_tx, CELL_M, n_rays,
                                               n_steps, K_RE, tol)
    rng = np.random.default_rng(0)
    rr = rng.uniform(-reach, reach, 3 * n_cells).round().astype(int)
    cc = rng.uniform(-reach, reach, 3 * n_cells).round().astype(int)
    keep = (np.hypot(rr, cc) <= reach) & (np.hypot(rr, cc) >= 2)
    rr, cc = rr[keep][:n_cells] + row0, cc[keep][:n_cells] + col0
    out: dict = {"radius_km": radius_km, "freq_mhz": f, "hull_tolerance": tol}

    def own_profile(row, col):
        d = math.hypot(row - row0, col - col0)
        k = np.arange(int(d - 0.5) + 1)
        t = np.append(k / d, 1.0)
        z = map_coordinates(dem, [row0 + t * (row - row0), col0 + t * (col - col0)], order=1)
        z[0] += h_tx
        z[-1] += h_rx
        return t * d * CELL_M, z

    for method in ("deygout", "bullington"):
        grid = np.full(dem.shape, np.nan)
        oracles_engine.diffraction_grid(dem, float(row0), float(col0), CELL_M, h_rx, K_RE, DIFFRACTION_CODES[method],
                                        zr, prev, top, hz, reach, 1.0 / math.sqrt(lam), grid)
        err = []
        for row, col in zip(rr, cc, strict=True):
            x, z = own_profile(row, col)
            ref = multi_knife_edge_loss_curved_db(x, z, f, method=method, k_factor=4 / 3, edges="hull")
            err.append(grid[row, col] - ref)
        out[method] = {"old": _stats(err), "new": _stats(err)}
    # the knife edge: the engine's g four ways (benchmarks.kernels.knife_edge_g_grid), J(ν) against the own profile
    hs, n_rays = _knife_edge_fan(dem, h_tx, reach)
    g = np.full((5, *dem.shape), np.nan)
    knife_edge_g_grid(dem, float(row0), float(col0), dem[row0, col0] + h_tx, CELL_M, h_rx, K_RE, hs, n_rays, reach, g)
    j_of = np.vectorize(lambda gv: knife_edge_db(gv / math.sqrt(lam)) if gv > -np.inf else 0.0)
    ref, own_g_diff = [], []
    for row, col in zip(rr, cc, strict=True):
        x, z = own_profile(row, col)
        d_m = x[-1]
        xs, zs = x[1:-1], z[1:-1]
        i = int(np.argmax((zs - xs**2 / (2 * K_RE) - z[0]) / xs))  # the running horizon, earth curvature
        h = zs[i] + xs[i] * (d_m - xs[i]) / (2 * K_RE) - (z[0] + (z[-1] - z[0]) * xs[i] / d_m)
        nu = fresnel_nu(h, xs[i], d_m - xs[i], lam)
        ref.append(knife_edge_db(nu))
        own_g_diff.append(abs(nu * math.sqrt(lam) - g[3, row, col]))
    ref = np.array(ref)
    out["knife_edge"] = {"old": _stats(j_of(g[0, rr, cc]) - ref), "new": _stats(j_of(g[2, rr, cc]) - ref),
                         "interpolation_only": _stats(j_of(g[1, rr, cc]) - ref),
                         "refined_share": round(float(np.nanmean(g[4, rr, cc])), 4),
                         "kernel_own_profile_vs_numpy_max_g": float(max(own_g_diff))}
    out["note"] = ("on-axis radials match the library to 1e-9 dB (tests); the nearest ray's deviation concentrates at "
                   "the line-of-sight boundary, where hull Deygout jumps from 0 to J(0) = 6 dB; the knife edge now "
                   "interpolates between the two rays either side and takes the own profile where they disagree on "
                   "line of sight")
    return out


def los_agreement(dem: np.ndarray, radius_km: float = 20.0, freq_mhz: float = 2100.0) -> dict:
    """Share of the cells within ``radius_km`` of the benchmark site (P1's antennas) where the fast
    mode's knife edge agrees with the cell's own straight profile on line of sight (the running
    horizon below the direct ray: g ≤ 0; the same for every method, it is geometric) and on a zero
    diffraction loss (ν ≤ −0.78 at ``freq_mhz``): the nearest ray (old) and the engine now (new)."""
    from benchmarks.kernels import knife_edge_g_grid

    h_tx, h_rx = 30.0, 1.5
    reach = radius_km * 1000.0 / CELL_M
    hs, n_rays = _knife_edge_fan(dem, h_tx, reach)
    g = np.full((5, *dem.shape), np.nan)
    knife_edge_g_grid(dem, 1800.0, 1800.0, dem[1800, 1800] + h_tx, CELL_M, h_rx, K_RE, hs, n_rays, reach, g)
    cells = ~np.isnan(g[3])
    old, interp, new, own = g[0][cells], g[1][cells], g[2][cells], g[3][cells]
    g_zero = -0.78 * math.sqrt(299_792_458.0 / (freq_mhz * 1e6))
    out = {"radius_km": radius_km, "freq_mhz": freq_mhz, "cells": int(cells.sum()),
           "own_profile_los_share": round(float(np.mean(own <= 0.0)), 4),
           "refined_share": round(float(g[4][cells].mean()), 4)}
    for name, v in (("old", old), ("interpolation_only", interp), ("new", new)):
        out[name] = {"los_agreement": round(float(np.mean((v <= 0.0) == (own <= 0.0))), 5),
                     "zero_loss_agreement": round(float(np.mean((v <= g_zero) == (own <= g_zero))), 5)}
    return out


def p2_exact(dem: np.ndarray, repeat: int, cell_radii_km=(2.5, 5.0, 10.0), radial_radii_km=(10.0, 20.0, 40.0),
             compare_km: float = 10.0, sample_cells_40km: int = 20_000) -> dict:
    """The engine's exact mode, ITM, on the benchmark site: the radial geometry (the default:
    ITM on the prefix profiles of the fan's rays, :func:`citycov.engine.exact.exact_loss_window`)
    over the whole 40 km job, and the per-cell geometry (each cell's own profile) at small radii
    with its ~R^3 scaling; both in one process.  Also the radial minus per-cell deviation over
    every cell within ``compare_km`` and at ``sample_cells_40km`` random cells within 40 km, and
    the radial job cut into the engine's 512-cell tiles (each tile computes its own wedge)."""
    from citycov.engine import _radial_exact_kernels
    from citycov.engine.exact import ItmParams, Transmitter, exact_loss_window
    from citycov.engine.tiles import TILE_CELLS, fan_size, tile_windows

    row0 = col0 = 1800.0
    h_tx, h_rx, f = 30.0, 1.5, 2100.0
    tx = Transmitter(row0, col0, CELL_M, h_tx, h_rx, f)
    params = ItmParams().kernel_params()
    out: dict = {"itm": "climate 5, Ns 301, eps 15, sigma 0.005, vertical, mdvar 12, 50/50/50",
                 "site": "row 1800, col 1800, 30 m / 1.5 m, 2100 MHz", "cell": {}, "radial": {}}

    def window(r_km):
        reach = r_km * 1000.0 / CELL_M
        lo = int(row0 - reach) - 1
        size = int(2 * reach) + 4
        return reach, lo, size

    def job(geometry, r_km):
        reach, lo, size = window(r_km)
        loss = np.full((size, size), np.nan)
        exact_loss_window(dem, tx, params, model="itm", geometry=geometry, reach_cells=reach, win_row0=lo,
                          win_col0=lo, out_loss_db=loss)
        return loss

    def cpu_s(fn):
        """CPU seconds (all threads) of one more run: on a shared machine, the wall time of an idle
        one times the threads it would use."""
        c0 = time.process_time()
        fn()
        return round(time.process_time() - c0, 3)

    results = {}
    for r_km in cell_radii_km:
        def fn(r_km=r_km):
            return job("cell", r_km)

        t, _ = median_time(fn, repeat if r_km <= 5 else 1)
        out["cell"][str(r_km)] = {"s": round(t, 3), "cpu_s": cpu_s(fn)}
    for r_km in radial_radii_km:
        def fn(r_km=r_km):
            results[r_km] = job("radial", r_km)

        t, runs = median_time(fn, repeat if r_km <= 10 else 1)
        n_rays, n_steps = fan_size(r_km * 1000.0 / CELL_M)
        out["radial"][str(r_km)] = {"s": round(t, 3), "runs_s": [round(v, 3) for v in runs], "cpu_s": cpu_s(fn),
                                    "cells": int(np.isfinite(results[r_km]).sum()), "fan": [n_rays, n_steps]}
    for r in (5, 10, 20, 40):
        for geometry in ("cell", "radial"):
            if str(float(r)) in out[geometry] and r in PEERS["signal_server_itm_s"]:
                out[geometry][str(float(r))]["ratio_vs_signal_server"] = round(
                    PEERS["signal_server_itm_s"][r] / out[geometry][str(float(r))]["s"], 2)
    r_max = max(cell_radii_km)
    est = out["cell"][str(r_max)]["s"] * (40.0 / r_max) ** 3  # cells x mean profile length ~ R^3
    out["cell"]["estimated_40km_s"] = round(est, 1)
    out["cell"]["estimated_40km_cpu_s"] = round(out["cell"][str(r_max)]["cpu_s"] * (40.0 / r_max) ** 3, 1)
    t40 = out["radial"]["40.0"]["s"]
    out["radial_40km_s"] = t40
    out["radial_speedup_vs_cell_estimated_40km"] = round(est / t40, 1)
    out["radial_40km_cpu_s"] = out["radial"]["40.0"]["cpu_s"]
    out["radial_speedup_vs_cell_estimated_40km_cpu"] = round(out["cell"]["estimated_40km_cpu_s"]
                                                             / out["radial_40km_cpu_s"], 1)
    out["ratio_vs_signal_server_itm_18_1s"] = round(PEERS["signal_server_itm_s"][40] / t40, 2)
    out["ratio_vs_signal_server_itm_remeasured_22_8s"] = round(22.8 / t40, 2)
    out["target_s"] = TARGETS["P2_s"]
    out["meets_target"] = t40 <= TARGETS["P2_s"]

    def deviation(delta):
        e = np.abs(delta[np.isfinite(delta)])
        return {"cells": int(e.size), "median_db": round(float(np.median(e)), 3),
                "p95_db": round(float(np.percentile(e, 95)), 2), "max_db": round(float(e.max()), 2),
                "share_within_1db": round(float(np.mean(e <= 1.0)), 4)}

    ref = job("cell", compare_km)
    reach, lo, size = window(compare_km)
    out["deviation_radial_vs_cell"] = {f"all_cells_within_{compare_km:g}km": deviation(
        results.get(compare_km, job("radial", compare_km)) - ref)}
    reach, lo, size = window(40.0)
    rng = np.random.default_rng(0)
    rr = rng.integers(0, size, 4 * sample_cells_40km)
    cc = rng.integers(0, size, 4 * sample_cells_40km)
    keep = np.hypot(rr + lo - row0, cc + lo - col0) <= reach
    flagged = np.zeros((size, size), dtype=np.uint8)
    flagged[rr[keep][:sample_cells_40km], cc[keep][:sample_cells_40km]] = 1
    own = np.full((size, size), np.nan)
    _radial_exact_kernels.itm_cells_loss(dem, tx, params, flagged, lo, lo, own)
    out["deviation_radial_vs_cell"]["random_cells_within_40km"] = deviation((results[40.0] - own)[flagged == 1])
    # the engine's tiles: each 512-cell tile computes the wedge of the fan it needs
    loss = np.full((size, size), np.nan)
    t0 = time.perf_counter()
    for r0, r1, c0, c1 in tile_windows(size, size, TILE_CELLS):
        exact_loss_window(dem, tx, params, model="itm", geometry="radial", reach_cells=reach, win_row0=lo + r0,
                          win_col0=lo + c0, out_loss_db=loss[r0:r1, c0:c1])
    t_tiles = time.perf_counter() - t0
    same = bool(np.array_equal(np.isnan(loss), np.isnan(results[40.0])) and
                np.nanmax(np.abs(loss - results[40.0])) == 0.0)
    out["radial_40km_in_512_cell_tiles_s"] = round(t_tiles, 3)
    out["radial_40km_tiles_equal_one_window"] = same
    return out


def p4_best_server(repeat: int, n_sites: int = 3000, shape=(2900, 2900), reach_m: float = 5000.0,
                   cell_m: float = 30.0) -> dict:
    from benchmarks.kernels import hata_best_server_count
    from citycov.engine import _radio_kernels
    from tests import oracles_engine

    rng = np.random.default_rng(1)
    rows, cols = shape
    r0 = rng.integers(0, rows, n_sites).astype(np.int64)
    c0 = rng.integers(0, cols, n_sites).astype(np.int64)
    hb = rng.uniform(25, 45, n_sites)
    a_db = np.array([_radio_kernels.model_loss_db(_radio_kernels.MODEL_COST231, 1840.0, h, 1.5, 1.0, 1) for h in hb])
    b_db = 44.9 - 6.55 * np.log10(hb)
    eirp = np.full(n_sites, 30.0)
    reach = np.full(n_sites, reach_m / cell_m)
    best = np.full(shape, -np.inf, dtype=np.float32)
    idx = np.full(shape, -1, dtype=np.int32)

    def job():
        best.fill(-np.inf)
        oracles_engine.hata_best_server(r0, c0, eirp, a_db, b_db, reach, cell_m, best, idx)

    def gather_job():
        best.fill(-np.inf)
        oracles_engine.hata_best_server_gather(r0, c0, eirp, a_db, b_db, reach, cell_m, best, idx)

    gather_job()  # compile / load both before timing
    job()
    # interleaved, so that both see the same load of the shared machine
    times = {"new": [], "gather": []}
    for _ in range(max(1, repeat)):
        for name, fn in (("new", job), ("gather", gather_job)):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    t = float(np.median(times["new"]))
    t_gather = float(np.median(times["gather"]))
    evals = int(hata_best_server_count(r0, c0, reach, rows, cols))
    # reference: the plain math.log10 per pixel, same loop
    t_ref, _ = median_time(lambda: oracles_engine.hata_best_server_log10(r0, c0, eirp, a_db, b_db, reach, cell_m, best,
                                                                         idx),
                           max(1, repeat // 2))
    best_ref = best.copy()
    job()
    agree = float(np.nanmax(np.abs(np.where(np.isfinite(best), best - best_ref, 0.0))))
    return {"sites": n_sites, "grid": list(shape), "cell_m": cell_m, "reach_m": reach_m, "site_pixel_evals": evals,
            "s": round(t, 4), "evals_per_s": round(evals / t),
            "kernel": "log10 by (|dr|, |dc|) offset, contiguous slices (vectorised)",
            "gather_kernel_s": round(t_gather, 4), "gather_kernel_evals_per_s": round(evals / t_gather),
            "speedup_vs_gather_kernel": round(t_gather / t, 2), "log10_kernel_s": round(t_ref, 4),
            "log10_kernel_evals_per_s": round(evals / t_ref), "max_abs_diff_db_vs_log10_kernel": agree,
            "ratio_vs_peer_math_log10_0_44e9": round(evals / t / PEERS["hata_evals_per_s_math_log10"], 2),
            "ratio_vs_peer_vectorised_9e9": round(evals / t / PEERS["hata_evals_per_s_vectorised"], 3),
            "target_evals_per_s": TARGETS["P4_evals_per_s"], "meets_target": evals / t >= TARGETS["P4_evals_per_s"]}


P5_JOB = r"""
import time, sys
t0 = time.perf_counter()
import numpy as np, pyproj, geopandas as gpd
from affine import Affine
from citycov.config import RadioConfig
from citycov.grid import GridSpec
from citycov.engine.cellular import cellular_coverage
t1 = time.perf_counter()
n = 41
grid = GridSpec(crs=pyproj.CRS("EPSG:32649"), transform=Affine(100.0, 0, 500000.0, 0, -100.0, 2554100.0), shape=(n, n))
dem = (np.arange(n * n, dtype=np.float32).reshape(n, n) % 7) * 10
x, y = grid.xy(np.array([20]), np.array([20]))
sec = gpd.GeoDataFrame({"site_id": ["S"] * 2, "sector_id": ["a", "b"], "operator": ["O"] * 2,
    "technology": ["4G", "3G"], "freq_mhz": [1800.0, 2100.0], "bandwidth_mhz": [20.0, 5.0], "height_m": [30.0] * 2,
    "eirp_dbm": [60.0] * 2, "azimuth_deg": [90.0, np.nan], "downtilt_deg": [2.0] * 2, "h_beamwidth_deg": [65.0] * 2,
    "v_beamwidth_deg": [10.0] * 2, "omni": [False, True]}, geometry=gpd.points_from_xy([x[0]] * 2, [y[0]] * 2),
    crs="EPSG:32649")
env = np.full((n, n), 2, dtype=np.int64)
for d in ("deygout", "bullington", "knife_edge"):
    cellular_coverage(sec, dem, env, grid, RadioConfig(max_range_km=1.5, diffraction=d), exact_sectors=["b"])
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f}")
"""


def p5_compile() -> dict:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            res = subprocess.run([sys.executable, "-c", P5_JOB], env=env, capture_output=True, text=True, check=True)
            wall = time.perf_counter() - t0
            imp, job = (float(v) for v in res.stdout.split())
            runs.append({"process_s": round(wall, 2), "import_s": round(imp, 2), "first_jobs_s": round(job, 2)})
    cold, warm = runs[0], runs[1:]
    return {"cold": cold, "warm": warm,
            "cold_compile_s": cold["first_jobs_s"], "warm_start_overhead_s": min(w["first_jobs_s"] for w in warm),
            "note": "first_jobs_s: three tiny cellular_coverage calls (Deygout, Bullington, knife edge; one sector "
                    "fast, one exact ITM, SINR on) in a fresh process; cold = empty NUMBA_CACHE_DIR",
            "targets_s": {"cold": TARGETS["P5_cold_s"], "warm": TARGETS["P5_warm_s"]}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="P1,P2,P4,P5")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    which = set(args.only.split(","))
    result: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "numba_threads": int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)),
                                "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
                                "note": "shared machine: other jobs ran alongside; compare ratios, not absolutes"},
                    "peers": {k: (v if not isinstance(v, dict) else {str(a): b for a, b in v.items()})
                              for k, v in PEERS.items()}}
    if RESULTS.exists():
        old = json.loads(RESULTS.read_text())
        result.update({k: v for k, v in old.items() if k.startswith("P")})
    if which & {"P1", "P2"}:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            dem = load_tile(Path(tmp))
            print(f"tile generated and read in {time.perf_counter() - t0:.1f} s")
        if "P1" in which:
            result["P1"] = p1_fast(dem, args.repeat)
            p1 = result["P1"]
            print(f"P1 fast mode, R = 40 km, {p1['pixels']:,} pixels, {p1['n_rays']} rays x {p1['n_steps']} steps "
                  f"(old = before issue 15, same process)")
            for name, m in p1["methods"].items():
                o, r = m["old"], m["ratio_old_over_new"]
                print(f"   {name:11s}: site {m['site_s']:.3f} s (old {o['site_s']:.3f} s, x{r['site']}); "
                      f"sweep {m['radial_sweep_s']:.3f} s (old {o['radial_sweep_s']:.3f}, x{r['sweep']}), "
                      f"cells {m['per_cell_pass_s']:.3f} s (old {o['per_cell_pass_s']:.3f}, x{r['cell_pass']}); "
                      f"CPU s site {m['cpu_s']['site_new']:.3f} (old {m['cpu_s']['site_v0']:.3f}, "
                      f"x{m['cpu_ratio_old_over_new']['site']}); target 0.18 s")
        if "P1" in which:
            from citycov.engine.cellular import HULL_TOLERANCE

            result["P1"]["deviation_vs_full_profile"] = devs = [deviation_vs_full_profile(dem, tol)
                                                                for tol in (0.0, HULL_TOLERANCE)]
            for dev, m in ((d, m) for d in devs for m in ("knife_edge", "deygout", "bullington")):
                for age in ("old", "new"):
                    s = dev[m][age]
                    print(f"   fast-mode {m:10s} {age} (hull tolerance {dev['hull_tolerance']:g}) vs each cell's own "
                          f"profile ({s['cells']} cells within 10 km): median {s['median_db']} dB, "
                          f"p95 {s['p95_db']} dB, max {s['max_db']} dB, within 1 dB {s['share_within_1db']:.1%}")
            result["P1"]["los_agreement"] = los = los_agreement(dem)
            print(f"   line of sight within 20 km, fast mode vs own profile ({los['cells']:,} cells): "
                  f"old {los['old']['los_agreement']:.2%}, new {los['new']['los_agreement']:.2%} "
                  f"(own profile refined for {los['refined_share']:.2%} of the cells)")
        if "P2" in which:
            result["P2"] = p2 = p2_exact(dem, args.repeat)
            for g in ("cell", "radial"):
                for r, v in p2[g].items():
                    if isinstance(v, dict):
                        print(f"P2 exact ITM, {g} geometry, R = {r} km: {v['s']:.2f} s")
            print(f"   radial 40 km: {p2['radial_40km_s']} s (per-cell ~{p2['cell']['estimated_40km_s']} s by R^3, "
                  f"{p2['radial_speedup_vs_cell_estimated_40km']}x); Signal-Server 18.1 s -> "
                  f"{p2['ratio_vs_signal_server_itm_18_1s']}x, re-measured 22.8 s -> "
                  f"{p2['ratio_vs_signal_server_itm_remeasured_22_8s']}x; target 1.8 s")
            print(f"   CPU seconds (all threads): radial 40 km {p2['radial_40km_cpu_s']} s, per-cell "
                  f"~{p2['cell']['estimated_40km_cpu_s']} s by R^3")
            print(f"   in 512-cell tiles: {p2['radial_40km_in_512_cell_tiles_s']} s "
                  f"(equal to one window: {p2['radial_40km_tiles_equal_one_window']})")
            for k, v in p2["deviation_radial_vs_cell"].items():
                print(f"   radial - per-cell, {k}: median {v['median_db']} dB, p95 {v['p95_db']} dB, "
                      f"max {v['max_db']} dB, within 1 dB {v['share_within_1db']:.1%}")
    if "P4" in which:
        result["P4"] = p4 = p4_best_server(args.repeat)
        print(f"P4 best-server Hata, {p4['sites']} sites, {p4['site_pixel_evals']:,} site-pixels: "
              f"{p4['evals_per_s'] / 1e9:.2f}e9 evals/s "
              f"(math.log10 kernel {p4['log10_kernel_evals_per_s'] / 1e9:.2f}e9; "
              f"peer log10 0.44e9, vectorised 9e9; target 2e9)")
    if "P5" in which:
        result["P5"] = p5 = p5_compile()
        print(f"P5 compile cold {p5['cold_compile_s']:.1f} s (target 30 s), "
              f"warm start {p5['warm_start_overhead_s']:.2f} s "
              f"(target 2 s); import {p5['cold']['import_s']:.1f} s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    RESULTS.write_text(text + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
