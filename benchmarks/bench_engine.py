#!/usr/bin/env python3
"""Coverage engine for one site: the Numba kernels against the same algorithm in plain NumPy.

Measured side by side in one process (these machines are shared and noisy): one 3-sector
1800 MHz site, COST-231 Hata + 3GPP pattern + horizon knife edge, on a seeded fractal DEM,
radius R at 100 m cells.  Reports the median of 5 runs of each and the ratio; checks that the
two agree to 1e-6 dB.

usage: python benchmarks/bench_engine.py [--radius-km 20] [--repeat 5]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from citycov.engine import _radio_kernels

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.oracles
CELL_M = 100.0
K_RE = 4.0 / 3.0 * 6_371_000.0


def make_dem(n: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ky = np.fft.fftfreq(n)[:, None]
    kx = np.fft.rfftfreq(n)[None, :]
    k = np.hypot(kx, ky)
    k[0, 0] = 1.0
    spec = k**-1.6 * (rng.standard_normal(k.shape) + 1j * rng.standard_normal(k.shape))
    spec[0, 0] = 0
    z = np.fft.irfft2(spec, s=(n, n))
    return 2.0 + 400.0 * (z - z.min()) / (z.max() - z.min())


def numpy_site(dem, env, row0, col0, z_ground, z_tx, n_rays, n_steps, sec):
    """The same algorithm as the kernels, vectorised with NumPy (bilinear, fan, lookup, sectors)."""
    nrows, ncols = dem.shape
    theta = 2 * np.pi * np.arange(n_rays) / n_rays
    k = np.arange(1, n_steps + 1)
    rr = row0 - np.cos(theta)[:, None] * k[None, :]
    cc = col0 + np.sin(theta)[:, None] * k[None, :]
    r0 = np.clip(np.floor(rr).astype(int), 0, nrows - 2)
    c0 = np.clip(np.floor(cc).astype(int), 0, ncols - 2)
    fr, fc = rr - r0, cc - c0
    z = ((dem[r0, c0] * (1 - fc) + dem[r0, c0 + 1] * fc) * (1 - fr)
         + (dem[r0 + 1, c0] * (1 - fc) + dem[r0 + 1, c0 + 1] * fc) * fr)
    s = k * CELL_M
    e = (z - s**2 / (2 * K_RE) - z_tx) / s
    slope = np.maximum.accumulate(e, axis=1)
    arg = np.maximum.accumulate(np.where(e >= slope, np.arange(n_steps)[None, :], 0), axis=1)
    dist = (arg + 1) * CELL_M
    reach = sec["reach_m"].max() / CELL_M
    rows = np.arange(max(0, math.floor(row0 - reach)), min(nrows - 1, math.ceil(row0 + reach)) + 1)
    cols = np.arange(max(0, math.floor(col0 - reach)), min(ncols - 1, math.ceil(col0 + reach)) + 1)
    dr = rows[:, None] - row0
    dc = cols[None, :] - col0
    d_cells = np.hypot(dr, dc)
    d_m = np.maximum(d_cells * CELL_M, 20.0)
    z_rx = dem[np.ix_(rows, cols)] + 1.5
    ang = np.arctan2(dc, -dr) % (2 * np.pi)
    ray = (ang / (2 * np.pi) * n_rays + 0.5).astype(int) % n_rays
    k_h = np.minimum(np.floor(d_cells - 0.5).astype(int), n_steps)
    ok = k_h >= 1
    kk = np.clip(k_h, 1, n_steps) - 1
    d_h = dist[ray, kk]
    s_rx = (z_rx - d_m**2 / (2 * K_RE) - z_tx) / d_m
    valid = ok & (d_h < d_m)
    with np.errstate(invalid="ignore", divide="ignore"):
        geom = np.where(valid, d_h * (slope[ray, kk] - s_rx) * np.sqrt(2 * d_m / (d_h * (d_m - d_h))), -np.inf)
        h_tx = z_tx - z_ground
        d_hs = np.maximum(np.minimum(k_h * CELL_M, np.sqrt(2 * K_RE * h_tx)), CELL_M)
        s_h0 = (-(d_hs**2) / (2 * K_RE) - h_tx) / d_hs
        s_rx0 = (1.5 - d_m**2 / (2 * K_RE) - h_tx) / d_m
        geom0 = np.where(ok & (d_hs < d_m), d_hs * (s_h0 - s_rx0) * np.sqrt(2 * d_m / (d_hs * (d_m - d_hs))), -np.inf)

    def j(nu):
        t = nu - 0.1
        with np.errstate(invalid="ignore"):
            return np.where(nu > -0.78, 6.9 + 20 * np.log10(np.sqrt(t * t + 1) + t), 0.0)

    az = np.degrees(np.arctan2(dc, -dr))
    elev = np.degrees(np.arctan2(z_tx - z_rx, d_m))
    best = np.full(d_m.shape, np.nan)
    for i in range(len(sec["freq"])):
        f, hb = sec["freq"][i], sec["height"][i]
        lhb = math.log10(hb)
        a_hm = (1.1 * math.log10(f) - 0.7) * 1.5 - (1.56 * math.log10(f) - 0.8)
        loss = 46.3 + 33.9 * math.log10(f) - 13.82 * lhb - a_hm + (44.9 - 6.55 * lhb) * np.log10(d_m / 1000.0)
        loss = loss + np.where(env == 0, 3.0, 0.0)
        lam = math.sqrt(299_792_458.0 / (f * 1e6))
        excess = np.where(geom > -np.inf, j(geom / lam) - np.where(geom0 > -np.inf, j(geom0 / lam), 0.0), 0.0)
        loss = loss + np.maximum(excess, 0.0)
        x = ((az - sec["az"][i] + 180) % 360 - 180) / sec["hbw"][i]
        a_h = -np.minimum(12 * x * x, 30.0)
        y = (elev - sec["tilt"][i]) / sec["vbw"][i]
        a_v = -np.minimum(12 * y * y, 30.0)
        level = sec["ref"][i] - np.minimum(-(a_h + a_v), 30.0) * 1.0 - loss
        level = np.where(d_m <= sec["reach_m"][i], level, np.nan)
        better = np.isnan(best) | (level > best)
        best = np.where(better & ~np.isnan(level), level, best)
    return rows, cols, best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--radius-km", type=float, default=20.0)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    from tests import oracles_engine  # the first engine's kernels, kept as test oracles

    reach_cells = args.radius_km * 1000 / CELL_M
    n = int(2 * reach_cells + 21)
    dem = make_dem(n)
    env = np.ones((n, n), dtype=np.int64)
    row0 = col0 = n / 2.0
    z_ground = _radio_kernels.bilinear(dem, row0, col0)
    z_tx = z_ground + 30.0
    sec = {"freq": np.full(3, 1840.0), "height": np.full(3, 30.0), "ref": np.full(3, 30.2),
           "az": np.array([0.0, 120.0, 240.0]), "tilt": np.full(3, 4.0), "hbw": np.full(3, 65.0),
           "vbw": np.full(3, 7.0), "reach_m": np.full(3, args.radius_km * 1000.0)}
    n_steps = int(math.ceil(reach_cells))
    n_rays = int(math.ceil(2 * math.pi * reach_cells))

    def run_numba():
        best = np.full((3, n, n), np.nan, dtype=np.float32)
        idx = np.full((3, n, n), -1, dtype=np.int32)
        slope, dist = oracles_engine.horizon_fan(dem, row0, col0, z_tx, CELL_M, n_rays, n_steps, K_RE)
        oracles_engine.site_coverage(dem, env, row0, col0, z_ground, z_tx, CELL_M, 1.5, K_RE, slope, dist,
                              np.full(3, _radio_kernels.MODEL_COST231), sec["freq"], sec["height"], sec["ref"],
                              sec["az"], np.zeros(3, dtype=np.bool_), sec["tilt"], sec["hbw"], sec["vbw"],
                              np.repeat(sec["reach_m"][:, None], 4, axis=1), np.ones(3, dtype=np.int64),
                              np.arange(3), 30.0, 30.0, -1e9, best, idx, np.zeros(3, dtype=np.int64),
                              np.full(3, -105.0), np.zeros((n, n), dtype=np.uint64))
        return best[1]

    def run_numpy():
        rows, cols, best = numpy_site(dem, 1, row0, col0, z_ground, z_tx, n_rays, n_steps, sec)
        return rows, cols, best

    numba_best = run_numba()  # compile and warm up
    rows, cols, np_best = run_numpy()
    sub = numba_best[np.ix_(rows, cols)].astype(np.float64)
    both = ~np.isnan(sub) & ~np.isnan(np_best)
    diff = np.abs(sub - np_best)[both]
    t_numba, t_numpy = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        run_numba()
        t_numba.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        run_numpy()
        t_numpy.append(time.perf_counter() - t0)
    cells = int((np.hypot(*np.mgrid[-n_steps:n_steps + 1, -n_steps:n_steps + 1]) <= reach_cells).sum())
    a, b = statistics.median(t_numba), statistics.median(t_numpy)
    print(f"site, 3 sectors, R = {args.radius_km:g} km at {CELL_M:g} m: {cells:,} cells, "
          f"{n_rays} rays x {n_steps} steps")
    print(f"numba kernels : {a * 1e3:8.1f} ms (median of {args.repeat})")
    print(f"plain numpy   : {b * 1e3:8.1f} ms")
    print(f"ratio numpy/numba: {b / a:.1f}x; max |difference| {diff.max():.2e} dB over {both.sum():,} cells "
          "(float32 output)")


if __name__ == "__main__":
    main()
