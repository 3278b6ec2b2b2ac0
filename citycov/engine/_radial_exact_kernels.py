"""Numba kernels of the engine's radial exact mode: ITM or P.1812 along the rays of a fan.

The per-cell exact mode (:mod:`citycov.engine._exact_kernels`) draws a new profile from the
transmitter to every cell.  The radial mode draws the rays of the fast mode's fan instead
(:func:`citycov.engine.tiles.fan_size`: one sample per cell along each ray, one ray per cell
of the perimeter; ray ``r`` of ``n_rays`` at azimuth 2πr/n clockwise from grid north, as
:func:`citycov.engine._terrain_kernels.ray_direction`), evaluates the model at a ray sample on
the *prefix* of the ray's profile that ends there, ``[k, cell_m, z_0, ..., z_k]`` (bilinear
elevations, z_0 under the mast), and paints each cell from its nearest ray sample, as
Signal-Server and SPLAT! do.  Only the samples that are the nearest sample of some cell are
evaluated (:func:`mark_needed`); the cells nearest to the mast's own sample, or to a sample
nearer than :data:`citycov.engine._radio_kernels.MIN_DIST_KM`, are left to the per-cell mode
(``own_radius_cells``, see :func:`citycov.engine.exact.own_profile_radius_cells`), and so are
the cells whose nearest sample has no data on its prefix (next to the grid's edge or a hole)
while their own profile may have.

ITM's per-path terms grow along a ray, and :func:`itm_fan_loss` keeps them incrementally so
that a sample costs O(log n) plus ITM's fixed part, not O(n):

* the mean path height h_sys, the least-squares fits of the effective heights and their
  index bounds come from prefix sums of the elevations (the same fits as
  :func:`citycov.propagation._itm_kernels.profile_geometry`, in O(1));
* the transmitter's horizon is a running maximum of the elevation angle, and the receiver's
  horizon is the tangent from the receiver to the upper convex hull of the samples before it
  (the antenna included), found by bisection on the monotone-chain stack.  Both are exact for
  one effective earth curvature γ_e, but ITM takes γ_e from each path's own h_sys; so the
  running maximum and the hull are kept for the smallest and the largest γ_e of the ray's
  evaluated paths.  Each horizon candidate is a line in γ_e, and the maximum of lines moves
  monotonically with γ_e: when both bounds pick the same sample it is the horizon for every γ_e
  between them, otherwise the samples between the two picks are scanned with the path's own γ_e
  (usually a handful).  The values are then those of NTIA's scan;
* the terrain irregularity Δh is recomputed per path (its window moves with each receiver):
  the same at most 245 resampled, detrended points
  (:func:`citycov.propagation._itm_kernels.detrended_resample`), whose interdecile range is
  selected among the few values beyond the previous path's deciles
  (:func:`citycov.propagation._itm_kernels.interdecile_hinted`, exact whatever the hint);
  the reference attenuation and variability are the library's own functions.

So each sample equals :func:`citycov.propagation.itm.itm_p2p` on its prefix profile (to
rounding).  P.1812 has no such terms to reuse (its diffraction re-scans the whole path), so
:func:`p1812_fan_loss` calls the library kernel on each prefix; it still saves the per-cell mode's
profile extraction.

Geometry is in grid units as in :mod:`citycov.engine._radio_kernels` (cell centres at integers,
rows down).  Fan arrays are ray-major: ``(n_wedge, n_steps + 1)``, row ``w`` is ray
``(ray_lo + w) % n_rays`` and column ``k`` its sample at k cells from the transmitter.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from citycov.engine._exact_kernels import (
    P1812_COAST_DISTANCE_KM,
    itm_cell_db,
    p1812_cell_db,
    p1812_sigma_l_db,
    profile_capacity,
)
from citycov.engine._radio_kernels import bilinear
from citycov.engine._terrain_kernels import ray_direction
from citycov.propagation.itm import (
    DELTA_H_MAX_SAMPLES,
    ITM_SUCCESS,
    asymptotic_delta_h_m,
    detrended_resample,
    free_space_db,
    ground_and_atmosphere,
    interdecile_hinted,
    line_fit_indices,
    reference_attenuation,
    system_height_indices,
    terminal_geometry,
    terrain_window_m,
    variability_db,
)
from citycov.propagation.p1812 import p1812_lb_db

TWO_PI = 2.0 * math.pi
HINT_MARGIN = 0.1
"""Δh's order statistics are looked for beyond the previous path's, moved inwards by this share
of its interdecile range (consecutive paths of a ray share most of their terrain)."""


@njit(cache=True, nogil=True)
def nearest_sample(dr, dc, n_rays, ray_lo, n_wedge, n_steps):
    """(wedge row, sample) of the ray sample nearest to the cell at (dr, dc) cells from the
    transmitter: the nearest ray (as the fast mode picks it; a ray just outside the wedge by
    rounding gives the nearest edge ray) and the sample at the rounded distance."""
    theta = math.atan2(dc, -dr)
    if theta < 0.0:
        theta += TWO_PI
    w = (int(theta / TWO_PI * n_rays + 0.5) % n_rays - ray_lo) % n_rays
    if w >= n_wedge:
        w = n_wedge - 1 if w - n_wedge < n_rays - w else 0
    k = min(int(math.sqrt(dr * dr + dc * dc) + 0.5), n_steps)
    return w, k


@njit(cache=True, nogil=True)
def _row_span(i, row0, col0, reach_cells, win_row0, win_col0, n_cols):
    """First and last window column of window row ``i`` that may lie within reach."""
    dr = win_row0 + i - row0
    half2 = reach_cells * reach_cells - dr * dr
    if half2 < 0.0:
        return 0, -1
    half = math.sqrt(half2)
    return max(0, int(math.floor(col0 - half)) - win_col0), min(n_cols - 1, int(math.ceil(col0 + half)) - win_col0)


@njit(cache=True, nogil=True, inline="always")
def _painted_sample(i, j, row0, col0, reach_cells, own_radius_cells, n_rays, ray_lo, win_row0, win_col0, active,
                    has_active, n_wedge, n_steps):
    """(wedge row, sample) that paints window cell (i, j), or (-1, -1) where the cell is not
    painted (beyond reach, nearer than ``own_radius_cells``, or not ``active``): the one rule of
    :func:`mark_needed` and :func:`paint_loss`, so the samples evaluated are the samples painted."""
    dr = win_row0 + i - row0
    dc = win_col0 + j - col0
    d = math.sqrt(dr * dr + dc * dc)
    if d > reach_cells or d < own_radius_cells:
        return -1, -1
    if has_active and active[win_row0 + i, win_col0 + j] == 0:
        return -1, -1
    return nearest_sample(dr, dc, n_rays, ray_lo, n_wedge, n_steps)


@njit(cache=True, parallel=True)
def mark_needed(row0, col0, reach_cells, own_radius_cells, n_rays, ray_lo, win_row0, win_col0, n_win_rows, n_win_cols,
                active, need):
    """Set ``need[w, k] = 1`` for the ray sample nearest to each cell of the window (``n_win_rows``
    x ``n_win_cols`` cells from grid cell (win_row0, win_col0)) that lies within ``reach_cells``
    of the transmitter (row0, col0), not nearer than ``own_radius_cells`` (nearer cells keep
    their own profile) and is ``active`` (uint8 grid; a (0, 0) array: every cell)."""
    n_wedge, n_samples = need.shape
    has_active = active.shape[0] > 0
    for i in prange(n_win_rows):
        j_lo, j_hi = _row_span(i, row0, col0, reach_cells, win_row0, win_col0, n_win_cols)
        for j in range(j_lo, j_hi + 1):
            w, k = _painted_sample(i, j, row0, col0, reach_cells, own_radius_cells, n_rays, ray_lo, win_row0,
                                   win_col0, active, has_active, n_wedge, n_samples - 1)
            if w >= 0:
                need[w, k] = 1


@njit(cache=True, nogil=True)
def ray_elevations(dem_m, row0, col0, ray, n_rays, k_last, z):
    """Bilinear elevations ``z[0..k_last]`` of ray ``ray`` of ``n_rays`` (z[0] under the mast);
    returns the number of samples before the first NaN (the prefixes that have data)."""
    drow, dcol = ray_direction(ray, n_rays)
    for k in range(k_last + 1):
        z[k] = bilinear(dem_m, row0 + k * drow, col0 + k * dcol)
        if math.isnan(z[k]):
            return k
    return k_last + 1


@njit(cache=True, nogil=True)
def _hull_push(w, st, m, k):
    """Push sample ``k`` (height ``w[k]``, abscissa k) onto the upper convex hull stack
    ``st[:m]`` (monotone chain; vertices on a chord are dropped); returns the new size."""
    while m >= 2:
        a = st[m - 2]
        t = st[m - 1]
        if (w[t] - w[a]) * (k - t) - (w[k] - w[t]) * (t - a) <= 0.0:
            m -= 1
        else:
            break
    st[m] = k
    return m + 1


@njit(cache=True, nogil=True)
def _hull_tangent(w, st, m, k, w_rx):
    """Hull vertex of ``st[:m]`` (all before k) of largest elevation angle seen from the point
    (k, w_rx): the last vertex v_j whose edge from v_(j−1) passes strictly above that point (the
    edges' lines at k fall monotonically along an upper hull, so the test bisects); ties go to
    the vertex nearer the transmitter."""
    lo = 0
    hi = m - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        a = st[mid - 1]
        v = st[mid]
        if (w_rx - w[a]) * (v - a) < (w[v] - w[a]) * (k - a):
            lo = mid
        else:
            hi = mid - 1
    return st[lo]


@njit(cache=True, nogil=True)
def _fit_ends(z, p0, p1, n, xi, d_start_m, d_end_m):
    """:func:`citycov.propagation._itm_kernels._line_fit_ends` on the prefix ``z[:n + 1]`` from the
    prefix sums ``p0[j] = Σ_{i<j} (z_i − z_0)`` and ``p1[j] = Σ_{i<j} i·(z_i − z_0)``: the same
    trapezoid-weighted least-squares line in O(1); its heights at the start and end."""
    i0, i1 = line_fit_indices(n, xi, d_start_m, d_end_m)
    span = float(i1 - i0)
    centre = 0.5 * (i0 + i1)
    a0 = z[i0] - z[0]
    a1 = z[i1] - z[0]
    s0 = p0[i1] - p0[i0 + 1]
    s1 = p1[i1] - p1[i0 + 1]
    mean = (0.5 * (a0 + a1) + s0) / span
    moment = 0.5 * (a0 * (i0 - centre) + a1 * (i1 - centre)) + s1 - centre * s0
    slope = moment * 12.0 / ((span * span + 2.0) * span)
    return z[0] + mean - slope * centre, z[0] + mean + slope * (n - centre)


@njit(cache=True, nogil=True)
def _system_height_m(z, p0, n):
    """ITM's mean path height h_sys of the prefix ``z[:n + 1]`` from the prefix sums."""
    lo, hi = system_height_indices(n)
    return z[0] + (p0[hi + 1] - p0[lo]) / (hi - lo + 1)


@njit(cache=True, nogil=True)
def _itm_ray(z, n_valid, need_row, xi, h_tx_m, h_rx_m, freq_mhz, itm, p0, p1, dist_m, w_lo, w_hi, st_lo, st_hi,
             buf, out_row):
    """ITM on the prefixes of one ray that ``need_row`` marks; see :func:`itm_fan_loss`."""
    hints = np.full(2, np.nan)
    hints_lo = np.empty(DELTA_H_MAX_SAMPLES)
    hints_hi = np.empty(DELTA_H_MAX_SAMPLES)
    n_samples = need_row.size
    k_last = 0
    for k in range(n_samples - 1, 0, -1):
        if need_row[k]:
            k_last = k
            break
    if k_last < 1:
        return
    for k in range(n_valid, k_last + 1):  # prefixes that touch no data
        if need_row[k]:
            out_row[k] = np.nan
    k_last = min(k_last, n_valid - 1)
    if k_last < 1:
        return
    n0, pol, epsilon, sigma = itm.n0, itm.pol, itm.epsilon, itm.sigma
    z0 = z[0]
    p0[0] = 0.0
    p1[0] = 0.0
    for k in range(k_last + 1):
        p0[k + 1] = p0[k] + (z[k] - z0)
        p1[k + 1] = p1[k] + k * (z[k] - z0)
    # the range of γ_e over the paths evaluated (γ_e grows with h_sys)
    h_min = np.inf
    h_max = -np.inf
    for k in range(1, k_last + 1):
        if need_row[k]:
            h = _system_height_m(z, p0, k)
            h_min = min(h_min, h)
            h_max = max(h_max, h)
    g_a = ground_and_atmosphere(freq_mhz, h_min, n0, pol, epsilon, sigma)[1]
    g_b = ground_and_atmosphere(freq_mhz, h_max, n0, pol, epsilon, sigma)[1]
    g_lo = min(g_a, g_b)
    g_hi = max(g_a, g_b)
    za = z0 + h_tx_m
    w_lo[0] = za
    w_hi[0] = za
    st_lo[0] = 0
    st_hi[0] = 0
    m_lo = 1
    m_hi = 1
    best_lo = -np.inf
    best_hi = -np.inf
    hz_lo = 0
    hz_hi = 0
    for k in range(1, k_last + 1):
        s = dist_m[k]
        w_lo[k] = z[k] - 0.5 * g_lo * s * s
        w_hi[k] = z[k] - 0.5 * g_hi * s * s
        if need_row[k]:
            out_row[k] = _itm_prefix_db(z, k, xi, h_tx_m, h_rx_m, freq_mhz, itm, p0, p1, dist_m, g_lo, g_hi, w_lo,
                                        w_hi, st_lo, m_lo, st_hi, m_hi, hz_lo, hz_hi, buf, hints, hints_lo, hints_hi)
        e = (w_lo[k] - za) / k
        if e > best_lo:
            best_lo = e
            hz_lo = k
        e = (w_hi[k] - za) / k
        if e > best_hi:
            best_hi = e
            hz_hi = k
        m_lo = _hull_push(w_lo, st_lo, m_lo, k)
        m_hi = _hull_push(w_hi, st_hi, m_hi, k)


@njit(cache=True, nogil=True)
def _itm_prefix_db(z, n, xi, h0, h1, freq_mhz, itm, p0, p1, dist_m, g_lo, g_hi, w_lo, w_hi, st_lo, m_lo, st_hi, m_hi,
                   hz_lo, hz_hi, buf, hints, hints_lo, hints_hi):
    """ITM point to point on the prefix ``[n, xi, z_0, ..., z_n]`` from the ray state of samples
    0..n−1 (prefix sums, hulls and running horizons for γ_e = g_lo and g_hi): the steps of
    :func:`citycov.propagation._itm_kernels.itm_p2p_full` with the profile scans replaced."""
    d = n * xi
    n_s, gamma_e, z_g = ground_and_atmosphere(freq_mhz, _system_height_m(z, p0, n), itm.n0, itm.pol, itm.epsilon,
                                              itm.sigma)
    a_e = 1.0 / gamma_e
    half_ge = 0.5 * gamma_e
    za = z[0] + h0
    zb = z[n] + h1
    th0 = (zb - za) / d - d / (2.0 * a_e)
    th1 = -(zb - za) / d - d / (2.0 * a_e)
    dhzn0 = d
    dhzn1 = d
    # transmitter horizon: between the running maxima of the two curvature bounds
    i_a = max(min(hz_lo, hz_hi), 1)
    i_b = max(hz_lo, hz_hi)
    best = -np.inf
    best_i = 0
    for i in range(i_a, i_b + 1):
        s0 = dist_m[i]
        t0 = (z[i] - za) / s0 - half_ge * s0
        if t0 > best:
            best = t0
            best_i = i
    if best > th0:
        th0 = best
        dhzn0 = dist_m[best_i]
    # receiver horizon: between the hull tangents of the two curvature bounds
    t_lo = _hull_tangent(w_lo, st_lo, m_lo, n, zb - 0.5 * g_lo * d * d)
    t_hi = _hull_tangent(w_hi, st_hi, m_hi, n, zb - 0.5 * g_hi * d * d)
    for i in range(max(min(t_lo, t_hi), 1), max(t_lo, t_hi) + 1):
        s1 = d - dist_m[i]
        t1 = (z[i] - zb) / s1 - half_ge * s1
        if t1 > th1:
            th1 = t1
            dhzn1 = s1
    x_start, x_end = terrain_window_m(d, h0, h1, dhzn0, dhzn1)
    n_dh, p10 = detrended_resample(z[:n + 1], xi, x_start, x_end, buf)
    if n_dh == 0:
        dh = 0.0
    else:  # the previous path's interdecile values, widened, as hints: exact whatever they are
        upper, lower = interdecile_hinted(buf, n_dh, p10, hints[0], hints[1], hints_lo, hints_hi)
        margin = HINT_MARGIN * (upper - lower)
        hints[0] = lower + margin
        hints[1] = upper - margin
        dh = asymptotic_delta_h_m(upper - lower, x_start, x_end)
    los = dhzn0 + dhzn1 > 1.5 * d
    if los:
        fa, fb = _fit_ends(z, p0, p1, n, xi, x_start, x_end)
    else:
        fa = _fit_ends(z, p0, p1, n, xi, x_start, 0.9 * dhzn0)[0]
        fb = _fit_ends(z, p0, p1, n, xi, d - 0.9 * dhzn1, x_end)[1]
    th0, th1, dhzn0, dhzn1, he0, he1 = terminal_geometry(z[0], z[n], d, h0, h1, a_e, dh, th0, th1, dhzn0, dhzn1,
                                                         fa, fb, los)
    a_ref, _mode, _warn, err = reference_attenuation(th0, th1, freq_mhz, z_g, dhzn0, dhzn1, he0, he1, gamma_e, n_s,
                                                     dh, h0, h1, d, 1)
    if err != ITM_SUCCESS:
        return np.nan
    v, _warn = variability_db(itm.time, itm.location, itm.situation, he0, he1, dh, freq_mhz, d, a_ref, itm.climate,
                              itm.mdvar)
    return free_space_db(d, freq_mhz) + v


@njit(cache=True, parallel=True)
def itm_fan_loss(dem_m, tx, itm, n_rays, ray_lo, need, out_loss_db):
    """ITM basic transmission loss (dB) at the marked samples of a wedge of a ray fan.

    ``dem_m`` (rows, cols) terrain heights, m (NaN no data); ``tx`` and ``itm`` as for
    :func:`citycov.engine._exact_kernels.itm_loss_grid`.  ``need`` (n_wedge, n_steps + 1) uint8
    marks the samples to evaluate (:func:`mark_needed`); ``out_loss_db`` of the same shape
    receives, at each of them, L_b on the prefix profile ``[k, cell_m, z_0, ..., z_k]`` of its
    ray, NaN where the prefix touches no data or ITM refuses the path; other samples are not
    touched.  Rays run in parallel."""
    n_wedge, n_samples = need.shape
    xi = tx.cell_m
    dist_m = np.empty(n_samples)
    s = 0.0
    dist_m[0] = 0.0
    for k in range(1, n_samples):  # accumulated as NTIA's scan does
        s += xi
        dist_m[k] = s
    for w in prange(n_wedge):
        k_last = 0
        for k in range(n_samples - 1, 0, -1):
            if need[w, k]:
                k_last = k
                break
        if k_last < 1:
            continue
        z = np.empty(k_last + 1)
        n_valid = ray_elevations(dem_m, tx.row0, tx.col0, (ray_lo + w) % n_rays, n_rays, k_last, z)
        p0 = np.empty(k_last + 2)
        p1 = np.empty(k_last + 2)
        w_lo = np.empty(k_last + 1)
        w_hi = np.empty(k_last + 1)
        st_lo = np.empty(k_last + 1, dtype=np.int64)
        st_hi = np.empty(k_last + 1, dtype=np.int64)
        buf = np.empty(DELTA_H_MAX_SAMPLES)
        _itm_ray(z, n_valid, need[w, :k_last + 1], xi, tx.h_tx_m, tx.h_rx_m, tx.freq_mhz, itm, p0, p1, dist_m,
                 w_lo, w_hi, st_lo, st_hi, buf, out_loss_db[w, :k_last + 1])


@njit(cache=True, parallel=True)
def p1812_fan_loss(dem_m, tx, p1812, lat_deg, n_rays, ray_lo, need, out_loss_db):
    """ITU-R P.1812-6 basic transmission loss (dB) at the marked samples of a wedge of a ray fan,
    on each sample's prefix profile; arguments as for :func:`itm_fan_loss` and
    :func:`citycov.engine._exact_kernels.p1812_loss_grid` (the same conventions for the clutter,
    zone, latitude and σ_L)."""
    n_wedge, n_samples = need.shape
    freq_ghz = tx.freq_mhz / 1000.0
    sigma_l_db = p1812_sigma_l_db(freq_ghz, tx.h_rx_m, p1812.clutter_height_m, tx.cell_m)
    spacing_km = tx.cell_m / 1000.0
    for w in prange(n_wedge):
        k_last = 0
        for k in range(n_samples - 1, 0, -1):
            if need[w, k]:
                k_last = k
                break
        if k_last < 1:
            continue
        z = np.empty(k_last + 1)
        n_valid = ray_elevations(dem_m, tx.row0, tx.col0, (ray_lo + w) % n_rays, n_rays, k_last, z)
        d_km = np.empty(k_last + 1)
        r_m = np.full(k_last + 1, p1812.clutter_height_m)
        zones = np.full(k_last + 1, p1812.zone, dtype=np.int64)
        for k in range(k_last + 1):
            d_km[k] = k * spacing_km
        for k in range(1, k_last + 1):
            if not need[w, k]:
                continue
            if k >= n_valid:
                out_loss_db[w, k] = np.nan
                continue
            out_loss_db[w, k] = p1812_lb_db(d_km[:k + 1], z[:k + 1], r_m[:k + 1], zones[:k + 1], freq_ghz,
                                            p1812.time_percent, p1812.location_percent, tx.h_tx_m, tx.h_rx_m,
                                            p1812.pol, p1812.delta_n, p1812.n0, lat_deg, sigma_l_db,
                                            P1812_COAST_DISTANCE_KM, P1812_COAST_DISTANCE_KM)


@njit(cache=True, parallel=True)
def paint_loss(samples_db, row0, col0, reach_cells, own_radius_cells, n_rays, ray_lo, win_row0, win_col0, active,
               out_loss_db, own):
    """Fill the window ``out_loss_db`` (cell ``(win_row0 + i, win_col0 + j)`` at ``[i, j]``) from
    the nearest samples of the wedge ``samples_db`` (:func:`itm_fan_loss` or
    :func:`p1812_fan_loss`), at the cells :func:`mark_needed` marked for with the same arguments;
    the others are not touched.  Where that sample is NaN (its prefix touches no data: the grid's
    edge, a hole) the cell is flagged in ``own`` (uint8, the window's shape) for its own profile
    (:func:`itm_cells_loss`, :func:`p1812_cells_loss`)."""
    n_win_rows, n_win_cols = out_loss_db.shape
    n_wedge, n_samples = samples_db.shape
    has_active = active.shape[0] > 0
    for i in prange(n_win_rows):
        j_lo, j_hi = _row_span(i, row0, col0, reach_cells, win_row0, win_col0, n_win_cols)
        for j in range(j_lo, j_hi + 1):
            w, k = _painted_sample(i, j, row0, col0, reach_cells, own_radius_cells, n_rays, ray_lo, win_row0,
                                   win_col0, active, has_active, n_wedge, n_samples - 1)
            if w < 0:
                continue
            v = samples_db[w, k]
            if math.isnan(v):
                own[i, j] = 1
            else:
                out_loss_db[i, j] = v


@njit(cache=True, parallel=True)
def itm_cells_loss(dem_m, tx, itm, own, win_row0, win_col0, out_loss_db):
    """ITM on their own profiles (:func:`citycov.engine._exact_kernels.itm_cell_db`) at the window
    cells flagged in ``own``."""
    n_win_rows, n_win_cols = own.shape
    for i in prange(n_win_rows):
        pfl = np.empty(0)
        buf = np.empty(DELTA_H_MAX_SAMPLES)
        for j in range(n_win_cols):
            if own[i, j]:
                row, col = win_row0 + i, win_col0 + j
                cap = profile_capacity(math.hypot(row - tx.row0, col - tx.col0), tx.cell_m)
                if pfl.size < cap:
                    pfl = np.empty(cap)
                out_loss_db[i, j] = itm_cell_db(dem_m, tx, itm, row, col, pfl, buf)


@njit(cache=True, parallel=True)
def p1812_cells_loss(dem_m, tx, p1812, lat_deg, own, win_row0, win_col0, out_loss_db):
    """P.1812 on their own profiles (:func:`citycov.engine._exact_kernels.p1812_cell_db`) at the
    window cells flagged in ``own``."""
    n_win_rows, n_win_cols = own.shape
    sigma_l_db = p1812_sigma_l_db(tx.freq_mhz / 1000.0, tx.h_rx_m, p1812.clutter_height_m, tx.cell_m)
    for i in prange(n_win_rows):
        for j in range(n_win_cols):
            if own[i, j]:
                row, col = win_row0 + i, win_col0 + j
                cap = profile_capacity(math.hypot(row - tx.row0, col - tx.col0), tx.cell_m)
                out_loss_db[i, j] = p1812_cell_db(dem_m, tx, p1812, lat_deg, sigma_l_db, row, col, np.empty(cap),
                                                  np.empty(cap), np.full(cap, p1812.clutter_height_m),
                                                  np.full(cap, p1812.zone, dtype=np.int64))
