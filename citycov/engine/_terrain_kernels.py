"""Numba kernels of the terrain-aware engine: ray fans with an incremental obstacle set,
multi-edge diffraction per cell from it, and the point-to-point (ITM) per-cell loop.

Geometry is in grid units as in :mod:`citycov.engine._radio_kernels`: ``row, col`` continuous
cell coordinates, cell centres at integers, ray samples one cell apart.  Heights along a
ray are *effective*: z − s²/(2·k·R), the terrain dropped by the earth's curvature as seen
from the transmitter.  The curved-earth profile of any receiver at distance d differs from
these by the linear term s·d/(2·k·R) only, and a linear term changes neither the upper
convex hull of the profile nor the height of a point over a chord, so one effective ray
serves every receiver along it (Deygout and Bullington see the same edges and heights as
on the curved profile of :func:`citycov.propagation.diffraction.multi_knife_edge_loss_curved_db`).

The obstacle set of a ray is the upper convex hull of the antenna and the ray's samples,
kept *persistently*: sample k stores ``prev[k]``, the hull vertex before it when it was
pushed (Andrew's monotone chain), so the hull of samples 0..k is the chain
k → prev[k] → … → 0 (``top[k]`` is the chain's head when sample k is no data).  Building
a ray is amortised O(1) per sample; a receiver at distance d joins the hull of the samples
before it by walking the chain back to its tangent vertex.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from citycov.engine._radio_kernels import bilinear
from citycov.propagation.diffraction import knife_edge_db

DIFF_KNIFE_EDGE = 0
"""One knife edge at the receiver radial's running horizon (the first engine)."""
DIFF_DEYGOUT = 1
"""Deygout on the hull vertices: principal edge plus one each side (P.526 §4.5.1 without correction)."""
DIFF_BULLINGTON = 2
"""Bullington equivalent edge (P.526 §4.5.2 / P.1812 §4.3.1)."""


@njit(cache=True, nogil=True)
def ray_direction(r, n_rays):
    """(drow, dcol) of ray ``r`` of ``n_rays``: azimuth 2πr/n clockwise from grid north."""
    theta = 2.0 * math.pi * r / n_rays
    return -math.cos(theta), math.sin(theta)


@njit(cache=True, nogil=True)
def build_ray(zr, prev, top, hz, turn_tol):
    """Fill the persistent hull arrays of one ray from its effective heights ``zr`` (index 0 =
    the antenna, NaN = no data, skipped).  ``hz[k]`` is the running horizon: the sample of
    largest elevation angle among 1..k (0 while there is none).

    ``turn_tol`` (m of height per sample of distance, ≥ 0) also drops hull vertices where the
    chain turns by less than that slope difference: 0 keeps the exact upper hull; a small
    value keeps smooth stretches (earth curvature over flat land, where every sample is a
    vertex) from making long chains, moving the chain below a dropped vertex by a few cm."""
    n = zr.size
    t = 0
    h = 0
    best = -np.inf
    prev[0] = -1
    top[0] = 0
    hz[0] = 0
    for k in range(1, n):
        ze = zr[k]
        if not math.isnan(ze):
            while t != 0:
                a = prev[t]
                # pop t when it lies on or below the segment a-k, or when the slopes a-t and
                # t-k differ by less than turn_tol (both tests multiplied out)
                rise_at = (zr[t] - zr[a]) * (k - t)
                rise_tk = (ze - zr[t]) * (t - a)
                if rise_at - rise_tk <= turn_tol * (t - a) * (k - t):
                    t = a
                else:
                    break
            prev[k] = t
            t = k
            e = (ze - zr[0]) / k
            if e > best:
                best = e
                h = k
        else:
            prev[k] = -1
        top[k] = t
        hz[k] = h


RAY_BLOCK = 8
"""Rays built together: one cache line of float64 heights per sample across the block."""


@njit(cache=True, parallel=True)
def ray_wedge_into(dem_m, row0, col0, z_tx_m, cell_m, n_rays, ray_lo, earth_radius_m, turn_tol_m_per_m, zr, prev,
                   top, hz):
    """Effective heights and persistent hulls of rays ``ray_lo .. ray_lo + n_wedge − 1`` (mod
    ``n_rays``) of a fan of ``n_rays`` radials, written into ``zr`` (n_steps + 1, n_wedge) and
    the int32 ``prev``, ``top``, ``hz`` of the same shape (sample-major: column ``w`` is ray
    ``(ray_lo + w) % n_rays``, so neighbouring cells, which use neighbouring rays at about the
    same distance, read neighbouring memory).  A ray's samples do not depend on the other
    rays, so a wedge equals those columns of the whole fan (``ray_lo = 0``, ``n_wedge =
    n_rays``), and a shorter ``n_steps`` equals its first rows.  The engine passes reshaped slices of one workspace.

    Rays are built :data:`RAY_BLOCK` at a time, sample by sample across the block, with the
    monotone-chain state of each ray (see :func:`build_ray`, which this equals ray by ray)."""
    n_wedge = zr.shape[1]
    n_steps = zr.shape[0] - 1
    drop = 1.0 / (2.0 * earth_radius_m)
    n_blocks = (n_wedge + RAY_BLOCK - 1) // RAY_BLOCK
    for blk in prange(n_blocks):
        w0 = blk * RAY_BLOCK
        w1 = min(w0 + RAY_BLOCK, n_wedge)
        nb = w1 - w0
        drow = np.empty(RAY_BLOCK)
        dcol = np.empty(RAY_BLOCK)
        tt = np.zeros(RAY_BLOCK, dtype=np.int64)
        hh = np.zeros(RAY_BLOCK, dtype=np.int64)
        best = np.full(RAY_BLOCK, -np.inf)
        for b in range(nb):
            drow[b], dcol[b] = ray_direction((ray_lo + w0 + b) % n_rays, n_rays)
            zr[0, w0 + b] = z_tx_m
            prev[0, w0 + b] = -1
            top[0, w0 + b] = 0
            hz[0, w0 + b] = 0
        tol = turn_tol_m_per_m * cell_m
        for k in range(1, n_steps + 1):
            s2 = (k * cell_m) ** 2 * drop
            for b in range(nb):
                w = w0 + b
                ze = bilinear(dem_m, row0 + k * drow[b], col0 + k * dcol[b]) - s2
                zr[k, w] = ze
                t = tt[b]
                if not math.isnan(ze):
                    while t != 0:
                        a = prev[t, w]
                        if (zr[t, w] - zr[a, w]) * (k - t) - (ze - zr[t, w]) * (t - a) <= tol * (t - a) * (k - t):
                            t = a
                        else:
                            break
                    prev[k, w] = t
                    t = k
                    e = (ze - z_tx_m) / k
                    if e > best[b]:
                        best[b] = e
                        hh[b] = k
                else:
                    prev[k, w] = -1
                tt[b] = t
                top[k, w] = t
                hz[k, w] = hh[b]


@njit(cache=True, parallel=True)
def horizon_wedge_into(dem_m, row0, col0, z_tx_m, cell_m, n_rays, ray_lo, earth_radius_m, hs):
    """The running horizon alone of rays ``ray_lo .. ray_lo + n_wedge − 1`` (mod ``n_rays``): all
    the single knife edge (:data:`DIFF_KNIFE_EDGE`) reads of a ray, into ``hs`` (float32, (n_steps +
    1, n_wedge, 2), sample-major as in :func:`ray_wedge_into`): ``hs[k, w, 1]`` is the ``hz`` of
    :func:`ray_wedge_into` (the sample of largest elevation angle among 1..k, 0 while there is none;
    whole numbers, exact in float32) and ``hs[k, w, 0]`` that sample's elevation slope
    (z_eff − z_tx)/distance in m/m (−inf while there is none).  The pair sits in 8 bytes, so a
    cell reads the two rays either side of it from one cache line.

    Without the obstacle set's hull (heights and chain links of every sample, 20 bytes a
    sample) the sweep does one comparison per sample; a sample of equal slope does not replace
    the earlier one, as in :func:`ray_wedge_into`."""
    n_wedge = hs.shape[1]
    n_steps = hs.shape[0] - 1
    drop = 1.0 / (2.0 * earth_radius_m)
    n_blocks = (n_wedge + RAY_BLOCK - 1) // RAY_BLOCK
    inv_cell = 1.0 / cell_m
    for blk in prange(n_blocks):
        w0 = blk * RAY_BLOCK
        w1 = min(w0 + RAY_BLOCK, n_wedge)
        nb = w1 - w0
        drow = np.empty(RAY_BLOCK)
        dcol = np.empty(RAY_BLOCK)
        hh = np.zeros(RAY_BLOCK)
        best = np.full(RAY_BLOCK, -np.inf)  # slope per sample (m per cell) of the horizon
        for b in range(nb):
            drow[b], dcol[b] = ray_direction((ray_lo + w0 + b) % n_rays, n_rays)
            hs[0, w0 + b, 0] = -np.inf
            hs[0, w0 + b, 1] = 0.0
        for k in range(1, n_steps + 1):
            s2 = (k * cell_m) ** 2 * drop
            for b in range(nb):
                w = w0 + b
                rise = bilinear(dem_m, row0 + k * drow[b], col0 + k * dcol[b]) - s2 - z_tx_m
                if rise > best[b] * k:  # False for NaN: no data is no horizon
                    best[b] = rise / k
                    hh[b] = k
                hs[k, w, 0] = best[b] * inv_cell
                hs[k, w, 1] = hh[b]


@njit(cache=True, nogil=True, inline="always")
def horizon_g(hs, r, kmax, d_m, s_rx, cell_m):
    """The knife edge's g (ν = g/√λ) at the running horizon of ray (column) ``r`` of a horizon
    fan (:func:`horizon_wedge_into`) for a receiver at ``d_m`` whose direct ray from the antenna
    has slope ``s_rx`` (m/m, effective heights) and which has samples 1..``kmax`` before it;
    −inf when there is no horizon sample.  Equals the knife edge of :func:`receiver_edges`."""
    h_i = hs[kmax, r, 1]
    if h_i < 1.0:
        return -np.inf
    d_h = h_i * cell_m
    h = d_h * (hs[kmax, r, 0] - s_rx)
    return h * math.sqrt(2.0 * d_m / (d_h * (d_m - d_h)))


@njit(cache=True, nogil=True)
def profile_horizon_g(dem_m, row0, col0, dr, dc, d_cells, kmax, z_tx_m, z_rx_eff, cell_m, earth_radius_m):
    """The knife edge's g at the running horizon of the cell's own straight profile: samples
    k = 1..``kmax`` at k cells along the line from the antenna (row0, col0) towards the cell at
    (row0 + dr, col0 + dc), ``d_cells`` away (bilinear heights, earth curvature folded in as on a
    ray).  The same quantity as :func:`horizon_g` without the ray fan's angular sampling: the
    engine calls it for the cells near the line-of-sight edge (see
    :func:`citycov.engine._tile_kernels.tile_site_levels`)."""
    if kmax < 1:
        return -np.inf
    drop = 1.0 / (2.0 * earth_radius_m)
    ur = dr / d_cells
    uc = dc / d_cells
    best = -np.inf
    h_i = 0
    for k in range(1, kmax + 1):
        rise = bilinear(dem_m, row0 + k * ur, col0 + k * uc) - (k * cell_m) ** 2 * drop - z_tx_m
        if rise > best * k:
            best = rise / k
            h_i = k
    if h_i < 1:
        return -np.inf
    d_m = d_cells * cell_m
    d_h = h_i * cell_m
    h = d_h * (best / cell_m - (z_rx_eff - z_tx_m) / d_m)
    return h * math.sqrt(2.0 * d_m / (d_h * (d_m - d_h)))


@njit(cache=True, nogil=True, inline="always")
def receiver_edges(zr, prev, top, hz, r, kmax, d_cells, z_rx_eff, cell_m, method):
    """Diffraction geometry of a receiver at ``d_cells`` on ray (column) ``r`` of a fan whose
    samples 1..``kmax`` lie before it; ``z_rx_eff`` is its effective height (ground + antenna
    − d²/2kR).  Fan arrays are sample-major (n_steps + 1, n_rays), see :func:`ray_wedge_into`.

    Returns three values g with ν = g/√λ (λ in metres): Deygout's principal edge and the
    edges on its transmitter and receiver sides; Bullington's equivalent edge (others −inf);
    the knife edge at the running horizon (others −inf).  All −inf on a clear path (the hull
    of the samples stays below the direct ray), which has no diffraction loss.
    """
    ninf = -np.inf
    if kmax < 1:
        return ninf, ninf, ninf
    z_tx = zr[0, r]
    d_m = d_cells * cell_m
    if method == DIFF_KNIFE_EDGE:
        h_i = hz[kmax, r]
        if h_i < 1:
            return ninf, ninf, ninf
        d_h = h_i * cell_m
        s_h = (zr[h_i, r] - z_tx) / d_h
        s_rx = (z_rx_eff - z_tx) / d_m
        h = d_h * (s_h - s_rx)
        return h * math.sqrt(2.0 * d_m / (d_h * (d_m - d_h))), ninf, ninf
    # tangent from the receiver to the hull of samples 0..kmax
    t = top[kmax, r]
    while t != 0:
        a = prev[t, r]
        if (zr[t, r] - zr[a, r]) * (d_cells - a) <= (z_rx_eff - zr[a, r]) * (t - a):
            t = a
        else:
            break
    if t == 0:
        return ninf, ninf, ninf
    if method == DIFF_BULLINGTON:
        h_i = hz[kmax, r]  # the hull's first vertex: steepest ray from the transmitter
        x_t = h_i * cell_m
        x_r = t * cell_m
        s_tim = (zr[h_i, r] - z_tx) / x_t
        s_rim = (zr[t, r] - z_rx_eff) / (d_m - x_r)
        d_b = (z_rx_eff - z_tx + s_rim * d_m) / (s_tim + s_rim)
        h_b = z_tx + s_tim * d_b - (z_tx * (d_m - d_b) + z_rx_eff * d_b) / d_m
        return h_b * math.sqrt(2.0 * d_m / (d_b * (d_m - d_b))), ninf, ninf
    # Deygout, walking the chain (receiver side first; ties go to the vertex nearer the
    # transmitter, as in the library's forward scan)
    g_p, ip = _chain_max_g(zr, prev, r, t, 0, 0.0, z_tx, d_m, z_rx_eff, cell_m)
    x_p = ip * cell_m
    g_t, _ = _chain_max_g(zr, prev, r, prev[ip, r], 0, 0.0, z_tx, x_p, zr[ip, r], cell_m)
    g_r, _ = _chain_max_g(zr, prev, r, t, ip, x_p, zr[ip, r], d_m, z_rx_eff, cell_m)
    return g_p, g_t, g_r


@njit(cache=True, nogil=True, inline="always")
def _chain_max_g(zr, prev, r, start, stop, x_a, z_a, x_b, z_b, cell_m):
    """Largest g = h·√(2(d1+d2)/(d1·d2)) of the chain vertices start, prev[start], … (before
    ``stop``) over the line from (x_a, z_a) to (x_b, z_b); (−inf, −1) when there is none."""
    best = -np.inf
    best_v = -1
    span = x_b - x_a
    v = start
    while v != stop and v > 0:
        d1 = v * cell_m - x_a
        d2 = x_b - v * cell_m
        h = zr[v, r] - (z_a + (z_b - z_a) * d1 / span)
        g = h * math.sqrt(2.0 * span / (d1 * d2))
        if g >= best:
            best = g
            best_v = v
        v = prev[v, r]
    return best, best_v


@njit(cache=True, nogil=True)
def edges_loss_db(g_p, g_t, g_r, inv_root_wavelength):
    """Diffraction loss (dB) of the geometry from :func:`receiver_edges` at one wavelength."""
    if g_p == -np.inf:
        return 0.0
    nu = g_p * inv_root_wavelength
    if nu <= -0.78:
        return 0.0
    loss = knife_edge_db(nu)
    if g_t > -np.inf:
        loss += knife_edge_db(g_t * inv_root_wavelength)
    if g_r > -np.inf:
        loss += knife_edge_db(g_r * inv_root_wavelength)
    return loss


@njit(cache=True, nogil=True)
def receiver_samples(d_cells):
    """Ray samples that count as terrain before a receiver at ``d_cells``: those at least half
    a cell before it (the receiver's own cell is its ground, not an obstacle)."""
    return int(d_cells - 0.5)


@njit(cache=True)
def smooth_ray(h_tx_m, cell_m, n_steps, earth_radius_m, turn_tol_m_per_m):
    """Effective heights and hull arrays of a ray over smooth earth (ground at 0, the antenna
    ``h_tx_m`` above it): the reference the empirical models already contain, so the engine
    adds only the terrain loss in excess of it (the delta of P.1812's delta-Bullington).
    Returned as a one-ray fan: arrays (n_steps + 1, 1)."""
    zr = np.empty(n_steps + 1)
    zr[0] = h_tx_m
    drop = 1.0 / (2.0 * earth_radius_m)
    for k in range(1, n_steps + 1):
        s = k * cell_m
        zr[k] = -s * s * drop
    prev = np.empty(n_steps + 1, dtype=np.int32)
    top = np.empty(n_steps + 1, dtype=np.int32)
    hz = np.empty(n_steps + 1, dtype=np.int32)
    build_ray(zr, prev, top, hz, turn_tol_m_per_m * cell_m)
    return zr.reshape((n_steps + 1, 1)), prev.reshape((n_steps + 1, 1)), top.reshape((n_steps + 1, 1)), \
        hz.reshape((n_steps + 1, 1))


@njit(cache=True)
def smooth_earth_loss_db(zs, prev_s, top_s, hz_s, h_rx_m, cell_m, earth_radius_m, method, inv_root_wavelength):
    """Smooth-earth diffraction loss (dB) at each integer distance 0..n_steps cells (one row per
    wavelength) on the ray of :func:`smooth_ray`.  The engine interpolates it linearly in
    distance for Deygout and Bullington (it is 0 throughout the smooth-earth line of sight,
    and their per-cell chains beyond it are long); the knife edge evaluates it per cell."""
    n_steps = zs.shape[0] - 1
    drop = 1.0 / (2.0 * earth_radius_m)
    out = np.zeros((inv_root_wavelength.size, n_steps + 1))
    for m in range(1, n_steps + 1):
        s = m * cell_m
        g_p, g_t, g_r = receiver_edges(zs, prev_s, top_s, hz_s, 0, receiver_samples(float(m)), float(m),
                                       h_rx_m - s * s * drop, cell_m, method)
        for j in range(inv_root_wavelength.size):
            out[j, m] = edges_loss_db(g_p, g_t, g_r, inv_root_wavelength[j])
    return out


@njit(cache=True, nogil=True)
def line_profile(dem_m, row0, col0, row, col, d_m, pfl):
    """Fill ``pfl`` with the NTIA PFL profile from (row0, col0) to (row, col): n = ceil(d/cell)
    intervals (at least 2) of equal length, bilinear elevations.  Returns n; NaN elevations
    are left in (the caller skips such cells)."""
    d_cells = math.sqrt((row - row0) ** 2 + (col - col0) ** 2)
    n = max(2, int(math.ceil(d_cells - 1e-9)))
    pfl[0] = n
    pfl[1] = d_m / n
    for i in range(n + 1):
        t = i / n
        pfl[2 + i] = bilinear(dem_m, row0 + t * (row - row0), col0 + t * (col - col0))
    return n
