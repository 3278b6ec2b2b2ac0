"""Numba kernels of the coverage engine: plain functions over arrays and numbers.

Geometry is in grid units: ``row, col`` are continuous cell coordinates with cell centres
at integers; distances are converted to metres with ``cell_m``.  NaN means no data.
Nothing here knows about CRSs, files or GeoDataFrames (that is :mod:`citycov.engine.cellular`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from citycov.propagation.free_space import fspl_db
from citycov.propagation.hata import cost231_hata_db, okumura_hata_db
from citycov.propagation.tr38901 import tr38901_db

MODEL_OKUMURA_HATA = 1
MODEL_COST231 = 2
MODEL_TR38901 = 3
MIN_DIST_KM = 0.02
"""Distances below 20 m are clamped (the cell holding the mast)."""


@njit(cache=True, nogil=True)
def model_loss_db(model, freq_mhz, h_base_m, h_mobile_m, dist_km, env):
    """Median loss of the empirical model ``model`` in environment class ``env`` (0 dense urban,
    1 urban, 2 suburban, 3 open)."""
    d = max(dist_km, MIN_DIST_KM)
    if model == MODEL_OKUMURA_HATA:
        return okumura_hata_db(freq_mhz, h_base_m, h_mobile_m, d, env)
    if model == MODEL_COST231:
        return cost231_hata_db(freq_mhz, h_base_m, h_mobile_m, d, env)
    scenario = 1 if env <= 1 else 0  # UMa in (dense) urban areas, RMa elsewhere
    return tr38901_db(scenario, freq_mhz / 1000.0, h_base_m, max(h_mobile_m, 1.0), d * 1000.0, 0, 5.0, 20.0)


@njit(cache=True)
def reach_km(model, freq_mhz, h_base_m, h_mobile_m, max_loss_db, max_range_km, env):
    """Largest distance (km, ≤ ``max_range_km``) at which the model loss in environment
    class ``env`` is still ≤ ``max_loss_db``.  Beyond it no cell of that class can reach the
    floor, because terrain and the antenna pattern only add loss.  Bisection on the
    monotonic model."""
    lo = MIN_DIST_KM
    hi = max_range_km
    if model_loss_db(model, freq_mhz, h_base_m, h_mobile_m, hi, env) <= max_loss_db:
        return hi
    if model_loss_db(model, freq_mhz, h_base_m, h_mobile_m, lo, env) > max_loss_db:
        return 0.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if model_loss_db(model, freq_mhz, h_base_m, h_mobile_m, mid, env) <= max_loss_db:
            lo = mid
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True)
def bilinear(grid, row, col):
    """Bilinear sample of ``grid`` at continuous (row, col); NaN outside or next to NaN."""
    nrows, ncols = grid.shape
    if row < 0.0 or col < 0.0 or row > nrows - 1 or col > ncols - 1:
        return np.nan
    r0 = min(int(row), nrows - 2) if nrows > 1 else 0
    c0 = min(int(col), ncols - 2) if ncols > 1 else 0
    fr = row - r0
    fc = col - c0
    r1 = min(r0 + 1, nrows - 1)
    c1 = min(c0 + 1, ncols - 1)
    return ((grid[r0, c0] * (1 - fc) + grid[r0, c1] * fc) * (1 - fr)
            + (grid[r1, c0] * (1 - fc) + grid[r1, c1] * fc) * fr)


@njit(cache=True, parallel=True)
def wlan_coverage(row0, col0, height_m, eirp_dbm, freq_mhz, reach_m, cell_m, h_rx_m, exponent, valid,
                  best_dbm):
    """Best WLAN level (dBm) per cell: log-distance loss FSPL(1 m) + 10·n·log10(d/1 m).

    Each access point touches only the cells within ``reach_m``; ``valid`` (bool grid)
    marks cells with terrain; ``best_dbm`` (float32, NaN = none) is updated in place.
    """
    nrows, ncols = best_dbm.shape
    for i in range(row0.size):
        reach_cells = reach_m[i] / cell_m
        r_lo = max(0, int(math.floor(row0[i] - reach_cells)))
        r_hi = min(nrows - 1, int(math.ceil(row0[i] + reach_cells)))
        c_lo = max(0, int(math.floor(col0[i] - reach_cells)))
        c_hi = min(ncols - 1, int(math.ceil(col0[i] + reach_cells)))
        l1m = fspl_db(freq_mhz[i], 0.001)
        for row in prange(r_lo, r_hi + 1):
            for col in range(c_lo, c_hi + 1):
                if not valid[row, col]:
                    continue
                dr = (row - row0[i]) * cell_m
                dc = (col - col0[i]) * cell_m
                d2 = dr * dr + dc * dc
                if d2 > reach_m[i] * reach_m[i]:
                    continue
                dh = height_m[i] - h_rx_m
                d = max(math.sqrt(d2 + dh * dh), 1.0)
                level = eirp_dbm[i] - (l1m + 10.0 * exponent * math.log10(d))
                cur = best_dbm[row, col]
                if math.isnan(cur) or level > cur:
                    best_dbm[row, col] = level
