"""Numba kernels of the link budget: best server / SINR, field strength, spectral efficiency, speed tiers.

Plain functions over arrays and numbers (math, numpy and numba only); validation, units and
shapes are the business of :mod:`citycov.engine.linkbudget`.  NaN (and −inf dBm) means "no signal".

Best-server state (filled by the engine's tile kernels, read by :func:`finish_sinr`)
----------------------------------------------------------------------------------
``top_dbm`` (k, rows, cols) float64 holds, per pixel, the k strongest levels seen so far in
descending order (−inf for empty slots); ``best_idx`` (rows, cols) int32 the sector index of
``top_dbm[0]`` (−1 for none); ``sum_mw`` (rows, cols) float64 the linear sum of every level
seen (mW), which is what the interference needs.  Ties keep the sector seen first, as
``numpy.argmax`` does.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, vectorize

FIELD_STRENGTH_OFFSET_DB = 77.2193
"""E (dBµV/m) − P_iso (dBm) − 20·log10(f/MHz): field strength from the power an isotropic
antenna receives, E = P_iso + 20·log10(f_MHz) + 77.2193, from S = E²/(120π) and
A_e = λ²/(4π).  With Lb the basic transmission loss and 1 kW e.r.p. (62.15 dBm e.i.r.p.)
this is ITU-R P.1812's E = 199.36 + 20·log10(f_GHz) − Lb (and P.1546's 139.3 + 20·log10(f_MHz) − Lb)."""


@njit(cache=True, nogil=True)
def field_strength_dbuv_m(rx_iso_dbm, freq_mhz):
    """Field strength (dBµV/m) that delivers ``rx_iso_dbm`` to an isotropic (0 dBi) antenna."""
    return rx_iso_dbm + 20.0 * math.log10(freq_mhz) + FIELD_STRENGTH_OFFSET_DB


@vectorize(["float64(float64, float64)"], cache=True)
def field_strength_ufunc(rx_iso_dbm, freq_mhz):
    return field_strength_dbuv_m(rx_iso_dbm, freq_mhz)


@njit(cache=True, nogil=True)
def spectral_efficiency(sinr_db, alpha, sinr_min_db, max_se):
    """Attenuated, truncated Shannon bound (3GPP TR 36.942 Annex A.2), bit/s/Hz.

    0 below ``sinr_min_db``; α·log2(1 + SINR) above it, capped at ``max_se``.  NaN stays NaN.
    """
    if math.isnan(sinr_db):
        return np.nan
    if sinr_db < sinr_min_db:
        return 0.0
    return min(alpha * math.log2(1.0 + 10.0 ** (sinr_db / 10.0)), max_se)


@vectorize(["float64(float64, float64, float64, float64)"], cache=True)
def spectral_efficiency_ufunc(sinr_db, alpha, sinr_min_db, max_se):
    return spectral_efficiency(sinr_db, alpha, sinr_min_db, max_se)


@njit(cache=True)
def speed_tier_grid(down_mbps, up_mbps, tier_down_mbps, tier_up_mbps, out):
    """Fill ``out`` (int8, same 1-D length as the speeds) with the tier class of each pixel.

    Class t + 1 for the highest tier t whose download and upload minima are both met, 0 for
    none, −1 where either speed is NaN.  Tiers are expected in ascending order.
    """
    for p in range(down_mbps.size):
        d = down_mbps[p]
        u = up_mbps[p]
        if math.isnan(d) or math.isnan(u):
            out[p] = -1
            continue
        cls = 0
        for t in range(tier_down_mbps.size):
            if d >= tier_down_mbps[t] and u >= tier_up_mbps[t]:
                cls = t + 1
        out[p] = cls
    return out


@njit(cache=True, nogil=True)
def accumulate_level(top_dbm, best_idx, sum_mw, row, col, level_dbm, sector_idx):
    """Add one sector's level at one pixel to the best-server state (see the module docstring).

    For use inside an engine kernel that computes levels cell by cell; NaN and −inf are ignored.
    """
    if math.isnan(level_dbm) or level_dbm == -np.inf:
        return
    sum_mw[row, col] += 10.0 ** (level_dbm / 10.0)
    if level_dbm > top_dbm[0, row, col]:
        best_idx[row, col] = sector_idx
    k = top_dbm.shape[0]
    if level_dbm > top_dbm[k - 1, row, col]:
        j = k - 1
        while j > 0 and top_dbm[j - 1, row, col] < level_dbm:
            top_dbm[j, row, col] = top_dbm[j - 1, row, col]
            j -= 1
        top_dbm[j, row, col] = level_dbm


@njit(cache=True, nogil=True)
def _sinr_db(best_dbm, sum_mw, loading, noise_mw):
    s_mw = 10.0 ** (best_dbm / 10.0)
    i_mw = loading * max(sum_mw - s_mw, 0.0)
    return 10.0 * math.log10(s_mw / (i_mw + noise_mw))


@njit(cache=True)
def finish_sinr(top_dbm, best_idx, sum_mw, loading, noise_dbm, overlap_db, out_best_dbm, out_margin_db,
                out_n_within, out_sinr_db):
    """Turn the best-server state into rasters (all (rows, cols)).

    ``out_best_dbm``: serving level, NaN where nothing was seen.  ``out_margin_db``: serving
    minus second-best level, +inf where only one sector was seen.  ``out_n_within``: sectors
    (serving included) within ``overlap_db`` of the serving level, at most k (k means "k or
    more").  ``out_sinr_db``: S / (loading·(Σ − S) + N), NaN where nothing was seen.
    """
    k = top_dbm.shape[0]
    nrows, ncols = best_idx.shape
    noise_mw = 10.0 ** (noise_dbm / 10.0)
    for r in range(nrows):
        for c in range(ncols):
            if best_idx[r, c] < 0:
                out_best_dbm[r, c] = np.nan
                out_margin_db[r, c] = np.nan
                out_n_within[r, c] = 0
                out_sinr_db[r, c] = np.nan
                continue
            best = top_dbm[0, r, c]
            out_best_dbm[r, c] = best
            out_margin_db[r, c] = best - top_dbm[1, r, c]
            n = 0
            for j in range(k):
                if top_dbm[j, r, c] > -np.inf and top_dbm[j, r, c] >= best - overlap_db:
                    n += 1
            out_n_within[r, c] = n
            out_sinr_db[r, c] = _sinr_db(best, sum_mw[r, c], loading, noise_mw)
