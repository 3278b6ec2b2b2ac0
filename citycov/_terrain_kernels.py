"""Numba kernels of the terrain-aware engine: ray fans with an incremental obstacle set,
multi-edge diffraction per cell from it, and the point-to-point (ITM) per-cell loop.

Geometry is in grid units as in :mod:`citycov._radio_kernels`: ``row, col`` continuous
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

from citycov._linkbudget_kernels import accumulate_level
from citycov._radio_kernels import MIN_DIST_KM, MODEL_TR38901, bilinear, model_loss_db
from citycov.antenna import sector_gain_db
from citycov.propagation._itm_kernels import DELTA_H_MAX_SAMPLES, itm_p2p_full
from citycov.propagation.diffraction import knife_edge_db
from citycov.propagation.free_space import SPEED_OF_LIGHT_M_S

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


@njit(cache=True, parallel=True)
def ray_wedge_into(dem_m, row0, col0, z_tx_m, cell_m, n_rays, ray_lo, earth_radius_m, turn_tol_m_per_m, zr, prev,
                   top, hz):
    """Effective heights and persistent hulls of rays ``ray_lo .. ray_lo + n_wedge − 1`` (mod
    ``n_rays``) of a fan of ``n_rays`` radials, written into ``zr`` (n_wedge, n_steps + 1) and
    the int32 ``prev``, ``top``, ``hz`` of the same shape: the part of a fan that one tile of
    the grid needs.  Row ``w`` is ray ``(ray_lo + w) % n_rays`` of the fan; a ray's samples do
    not depend on the other rays, so a wedge equals those rows of the whole fan
    (:func:`ray_fan`), and a shorter ``n_steps`` equals their first columns.  The engine
    passes reshaped slices of one workspace, so that no tile pays for fresh pages."""
    n_wedge = zr.shape[0]
    n_steps = zr.shape[1] - 1
    drop = 1.0 / (2.0 * earth_radius_m)
    for w in prange(n_wedge):
        drow, dcol = ray_direction((ray_lo + w) % n_rays, n_rays)
        zr[w, 0] = z_tx_m
        for k in range(1, n_steps + 1):
            s = k * cell_m
            zr[w, k] = bilinear(dem_m, row0 + k * drow, col0 + k * dcol) - s * s * drop
        build_ray(zr[w], prev[w], top[w], hz[w], turn_tol_m_per_m * cell_m)


@njit(cache=True)
def ray_wedge(dem_m, row0, col0, z_tx_m, cell_m, n_rays, ray_lo, n_wedge, n_steps, earth_radius_m,
              turn_tol_m_per_m):
    """:func:`ray_wedge_into` into fresh arrays, returned as ``zr, prev, top, hz``."""
    zr = np.empty((n_wedge, n_steps + 1))
    prev = np.empty((n_wedge, n_steps + 1), dtype=np.int32)
    top = np.empty((n_wedge, n_steps + 1), dtype=np.int32)
    hz = np.empty((n_wedge, n_steps + 1), dtype=np.int32)
    ray_wedge_into(dem_m, row0, col0, z_tx_m, cell_m, n_rays, ray_lo, earth_radius_m, turn_tol_m_per_m, zr, prev,
                   top, hz)
    return zr, prev, top, hz


@njit(cache=True)
def ray_fan(dem_m, row0, col0, z_tx_m, cell_m, n_rays, n_steps, earth_radius_m, turn_tol_m_per_m):
    """Effective heights and persistent hulls of ``n_rays`` radials of ``n_steps`` samples.

    Returns ``zr`` (n_rays, n_steps + 1) float64 (index 0: the antenna at ``z_tx_m``; NaN: no
    data), and int32 ``prev``, ``top``, ``hz`` of the same shape (see :func:`build_ray`;
    ``turn_tol_m_per_m`` is its tolerance as a slope, 0 for the exact hull).
    """
    return ray_wedge(dem_m, row0, col0, z_tx_m, cell_m, n_rays, 0, n_rays, n_steps, earth_radius_m,
                     turn_tol_m_per_m)


@njit(cache=True, nogil=True)
def receiver_edges(zr, prev, top, hz, kmax, d_cells, z_rx_eff, cell_m, method):
    """Diffraction geometry of a receiver at ``d_cells`` on a ray whose samples 1..``kmax`` lie
    before it; ``z_rx_eff`` is its effective height (ground + antenna − d²/2kR).

    Returns three values g with ν = g/√λ (λ in metres): Deygout's principal edge and the
    edges on its transmitter and receiver sides; Bullington's equivalent edge (others −inf);
    the knife edge at the running horizon (others −inf).  All −inf on a clear path (the hull
    of the samples stays below the direct ray), which has no diffraction loss.
    """
    ninf = -np.inf
    if kmax < 1:
        return ninf, ninf, ninf
    z_tx = zr[0]
    d_m = d_cells * cell_m
    if method == DIFF_KNIFE_EDGE:
        h_i = hz[kmax]
        if h_i < 1:
            return ninf, ninf, ninf
        d_h = h_i * cell_m
        s_h = (zr[h_i] - z_tx) / d_h
        s_rx = (z_rx_eff - z_tx) / d_m
        h = d_h * (s_h - s_rx)
        return h * math.sqrt(2.0 * d_m / (d_h * (d_m - d_h))), ninf, ninf
    # tangent from the receiver to the hull of samples 0..kmax
    t = top[kmax]
    while t != 0:
        a = prev[t]
        if (zr[t] - zr[a]) * (d_cells - a) <= (z_rx_eff - zr[a]) * (t - a):
            t = a
        else:
            break
    if t == 0:
        return ninf, ninf, ninf
    if method == DIFF_BULLINGTON:
        h_i = hz[kmax]  # the hull's first vertex: steepest ray from the transmitter
        x_t = h_i * cell_m
        x_r = t * cell_m
        s_tim = (zr[h_i] - z_tx) / x_t
        s_rim = (zr[t] - z_rx_eff) / (d_m - x_r)
        d_b = (z_rx_eff - z_tx + s_rim * d_m) / (s_tim + s_rim)
        h_b = z_tx + s_tim * d_b - (z_tx * (d_m - d_b) + z_rx_eff * d_b) / d_m
        return h_b * math.sqrt(2.0 * d_m / (d_b * (d_m - d_b))), ninf, ninf
    # Deygout, walking the chain (receiver side first; ties go to the vertex nearer the
    # transmitter, as in the library's forward scan)
    g_p, ip = _chain_max_g(zr, prev, t, 0, 0.0, z_tx, d_m, z_rx_eff, cell_m)
    x_p = ip * cell_m
    g_t, _ = _chain_max_g(zr, prev, prev[ip], 0, 0.0, z_tx, x_p, zr[ip], cell_m)
    g_r, _ = _chain_max_g(zr, prev, t, ip, x_p, zr[ip], d_m, z_rx_eff, cell_m)
    return g_p, g_t, g_r


@njit(cache=True, nogil=True)
def _chain_max_g(zr, prev, start, stop, x_a, z_a, x_b, z_b, cell_m):
    """Largest g = h·√(2(d1+d2)/(d1·d2)) of the chain vertices start, prev[start], … (before
    ``stop``) over the line from (x_a, z_a) to (x_b, z_b); (−inf, −1) when there is none."""
    best = -np.inf
    best_v = -1
    span = x_b - x_a
    v = start
    while v != stop and v > 0:
        d1 = v * cell_m - x_a
        d2 = x_b - v * cell_m
        h = zr[v] - (z_a + (z_b - z_a) * d1 / span)
        g = h * math.sqrt(2.0 * span / (d1 * d2))
        if g >= best:
            best = g
            best_v = v
        v = prev[v]
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
    adds only the terrain loss in excess of it (the delta of P.1812's delta-Bullington)."""
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
    return zr, prev, top, hz


@njit(cache=True)
def smooth_earth_loss_db(zs, prev_s, top_s, hz_s, h_rx_m, cell_m, earth_radius_m, method, inv_root_wavelength):
    """Smooth-earth diffraction loss (dB) at each integer distance 0..n_steps cells (one row per
    wavelength) on the ray of :func:`smooth_ray`.  The engine interpolates it linearly in
    distance for Deygout and Bullington (it is 0 throughout the smooth-earth line of sight,
    and their per-cell chains beyond it are long); the knife edge evaluates it per cell."""
    n_steps = zs.size - 1
    drop = 1.0 / (2.0 * earth_radius_m)
    out = np.zeros((inv_root_wavelength.size, n_steps + 1))
    for m in range(1, n_steps + 1):
        s = m * cell_m
        g_p, g_t, g_r = receiver_edges(zs, prev_s, top_s, hz_s, receiver_samples(float(m)), float(m),
                                       h_rx_m - s * s * drop, cell_m, method)
        for j in range(inv_root_wavelength.size):
            out[j, m] = edges_loss_db(g_p, g_t, g_r, inv_root_wavelength[j])
    return out


@njit(cache=True, nogil=True)
def nearest_ray(dr, dc, n_rays):
    """Index of the ray nearest to the direction (dr, dc) (grid rows down, columns right)."""
    theta = math.atan2(dc, -dr)
    if theta < 0.0:
        theta += 2.0 * math.pi
    return int(theta / (2.0 * math.pi) * n_rays + 0.5) % n_rays


@njit(cache=True, parallel=True)
def diffraction_grid(dem_m, row0, col0, cell_m, h_rx_m, earth_radius_m, method, zr, prev, top, hz,
                     reach_cells, inv_root_wavelength, out):
    """Terrain diffraction loss (dB, no delta) of every cell within ``reach_cells`` of the
    antenna, from the fan of :func:`ray_fan` (fast mode's obstacle sets); ``out`` (rows, cols)
    is filled in place there, left as it is elsewhere."""
    nrows, ncols = dem_m.shape
    n_rays = zr.shape[0]
    n_steps = zr.shape[1] - 1
    drop = 1.0 / (2.0 * earth_radius_m)
    r_lo = max(0, int(math.floor(row0 - reach_cells)))
    r_hi = min(nrows - 1, int(math.ceil(row0 + reach_cells)))
    c_lo = max(0, int(math.floor(col0 - reach_cells)))
    c_hi = min(ncols - 1, int(math.ceil(col0 + reach_cells)))
    for row in prange(r_lo, r_hi + 1):
        for col in range(c_lo, c_hi + 1):
            dr = row - row0
            dc = col - col0
            d_cells = math.sqrt(dr * dr + dc * dc)
            if d_cells > reach_cells or math.isnan(dem_m[row, col]):
                continue
            d_m = max(d_cells * cell_m, MIN_DIST_KM * 1000.0)
            ray = nearest_ray(dr, dc, n_rays)
            kmax = min(receiver_samples(d_cells), n_steps)
            g_p, g_t, g_r = receiver_edges(zr[ray], prev[ray], top[ray], hz[ray], kmax, d_m / cell_m,
                                           dem_m[row, col] + h_rx_m - d_m * d_m * drop, cell_m, method)
            out[row, col] = edges_loss_db(g_p, g_t, g_r, inv_root_wavelength)


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


# ----------------------------------------------------------------------------- site kernels


@njit(cache=True, nogil=True)
def store_level(level, j, row, col, s_tech, s_index, s_bit, s_threshold_dbm, floor_dbm, best_dbm, best_idx,
                cover_bits, car_top, car_idx, car_sum):
    """Record sector j's level at one cell: network cover bit, best server of its technology,
    and the best-server/interference state of its carrier (see :mod:`citycov._linkbudget_kernels`)."""
    if level >= s_threshold_dbm[j]:
        cover_bits[row, col] |= np.uint64(1) << np.uint64(s_bit[j])
    if level < floor_dbm:
        return
    t = s_tech[j]
    cur = best_dbm[t, row, col]
    if math.isnan(cur) or level > cur:
        best_dbm[t, row, col] = level
        best_idx[t, row, col] = s_index[j]
    accumulate_level(car_top, car_idx, car_sum, row, col, level, s_index[j])


@njit(cache=True, parallel=True)
def site_levels(dem_m, env, row0, col0, z_tx_m, cell_m, h_rx_m, earth_radius_m, method, zr, prev, top, hz,
                zs, prev_s, top_s, hz_s, smooth_db, s_model, s_freq_mhz, s_height_m, s_ref_eirp_dbm, s_azimuth_deg,
                s_omni, s_tilt_deg,
                s_hbw_deg, s_vbw_deg, s_reach_m, s_tech, s_index, front_to_back_db, vertical_sidelobe_db,
                floor_dbm, best_dbm, best_idx, s_bit, s_threshold_dbm, cover_bits, car_top, car_idx, car_sum):
    """Fast terrain mode for the sectors of one site (one mast height): empirical median loss
    + terrain diffraction in excess of smooth earth, 3GPP pattern; state updated in place.

    Per cell: the nearest ray of the fan (:func:`ray_fan`), the receiver joined to that ray's
    obstacle set (:func:`receiver_edges`, computed once per cell for all sectors), loss
    J-sums per wavelength, minus the same method's loss over smooth earth for the same
    receiver distance, floored at 0: per cell on the ray ``zs, prev_s, top_s, hz_s`` of
    :func:`smooth_ray` for the knife edge, else from ``smooth_db`` (n_sectors, n_steps + 1,
    :func:`smooth_earth_loss_db`) interpolated in distance.
    ``s_reach_m`` (n_sectors, 4): reach per environment class; cells beyond are not touched.
    """
    nrows, ncols = dem_m.shape
    n_rays = zr.shape[0]
    n_steps = zr.shape[1] - 1
    n_sec = s_model.size
    drop = 1.0 / (2.0 * earth_radius_m)
    hata_a = np.zeros((n_sec, 4))
    hata_b = np.zeros(n_sec)
    inv_root_wavelength = np.zeros(n_sec)
    for j in range(n_sec):
        inv_root_wavelength[j] = 1.0 / math.sqrt(SPEED_OF_LIGHT_M_S / (s_freq_mhz[j] * 1e6))
        if s_model[j] != MODEL_TR38901:
            hata_b[j] = 44.9 - 6.55 * math.log10(s_height_m[j])
            for e in range(4):
                hata_a[j, e] = model_loss_db(s_model[j], s_freq_mhz[j], s_height_m[j], h_rx_m, 1.0, e)
    reach_env_m = np.zeros(4)
    for j in range(n_sec):
        for e in range(4):
            reach_env_m[e] = max(reach_env_m[e], s_reach_m[j, e])
    reach_cells = reach_env_m.max() / cell_m
    r_lo = max(0, int(math.floor(row0 - reach_cells)))
    r_hi = min(nrows - 1, int(math.ceil(row0 + reach_cells)))
    c_lo = max(0, int(math.floor(col0 - reach_cells)))
    c_hi = min(ncols - 1, int(math.ceil(col0 + reach_cells)))
    for row in prange(r_lo, r_hi + 1):
        dr = row - row0
        # columns of this row inside the reach circle
        half = reach_cells * reach_cells - dr * dr
        if half < 0.0:
            continue
        half = math.sqrt(half)
        ca = max(c_lo, int(math.ceil(col0 - half)))
        cb = min(c_hi, int(math.floor(col0 + half)))
        for col in range(ca, cb + 1):
            z_ground = dem_m[row, col]
            if math.isnan(z_ground):
                continue
            dc = col - col0
            d_cells = math.sqrt(dr * dr + dc * dc)
            env_c = env[row, col]
            if d_cells * cell_m > reach_env_m[env_c]:
                continue
            d_m = max(d_cells * cell_m, MIN_DIST_KM * 1000.0)
            dd = d_m / cell_m
            z_rx = z_ground + h_rx_m
            ray = nearest_ray(dr, dc, n_rays)
            kmax = min(receiver_samples(d_cells), n_steps)
            g_p, g_t, g_r = receiver_edges(zr[ray], prev[ray], top[ray], hz[ray], kmax, dd,
                                           z_rx - d_m * d_m * drop, cell_m, method)
            s_p = -np.inf
            s_t = -np.inf
            s_r = -np.inf
            m0 = min(int(dd), n_steps)
            m1 = min(m0 + 1, n_steps)
            w = min(dd - m0, 1.0)
            if g_p > -np.inf and method == DIFF_KNIFE_EDGE:
                s_p, s_t, s_r = receiver_edges(zs, prev_s, top_s, hz_s, kmax, dd, h_rx_m - d_m * d_m * drop,
                                               cell_m, method)
            az = math.degrees(math.atan2(dc, -dr))
            elev = math.degrees(math.atan2(z_tx_m - z_rx, d_m))
            log_d_km = math.log10(d_m / 1000.0)
            for j in range(n_sec):
                if d_m > s_reach_m[j, env_c]:
                    continue
                if s_model[j] == MODEL_TR38901:
                    loss = model_loss_db(s_model[j], s_freq_mhz[j], s_height_m[j], h_rx_m, d_m / 1000.0, env_c)
                else:
                    loss = hata_a[j, env_c] + hata_b[j] * log_d_km
                if g_p > -np.inf:
                    excess = edges_loss_db(g_p, g_t, g_r, inv_root_wavelength[j])
                    if method == DIFF_KNIFE_EDGE:
                        excess -= edges_loss_db(s_p, s_t, s_r, inv_root_wavelength[j])
                    else:
                        excess -= smooth_db[j, m0] * (1.0 - w) + smooth_db[j, m1] * w
                    loss += max(excess, 0.0)
                gain = sector_gain_db(az - s_azimuth_deg[j], elev, s_tilt_deg[j], s_hbw_deg[j], s_vbw_deg[j],
                                      s_omni[j], front_to_back_db, vertical_sidelobe_db)
                store_level(s_ref_eirp_dbm[j] + gain - loss, j, row, col, s_tech, s_index, s_bit,
                            s_threshold_dbm, floor_dbm, best_dbm, best_idx, cover_bits, car_top, car_idx, car_sum)


@njit(cache=True, parallel=True)
def site_levels_itm(dem_m, row0, col0, z_ground_tx, cell_m, h_rx_m, climate, n0, pol, epsilon, sigma, mdvar,
                    time, location, situation, s_freq_mhz, s_height_m, s_ref_eirp_dbm, s_azimuth_deg, s_omni,
                    s_tilt_deg, s_hbw_deg, s_vbw_deg, s_reach_m, s_tech, s_index, front_to_back_db,
                    vertical_sidelobe_db, floor_dbm, best_dbm, best_idx, s_bit, s_threshold_dbm, cover_bits,
                    car_top, car_idx, car_sum, loss_out):
    """Exact mode: ITM point-to-point on each cell's own profile (:func:`line_profile`) for the
    sectors of one site; state updated in place.  ``s_reach_m`` (n_sectors,).  Where ITM
    refuses a path (NaN) the cell is left unserved by these sectors.  ``loss_out`` (rows,
    cols) receives the basic loss of the last sector evaluated at each cell (NaN stays NaN
    where none), for validation."""
    nrows, ncols = dem_m.shape
    n_sec = s_freq_mhz.size
    reach_m = 0.0
    for j in range(n_sec):
        reach_m = max(reach_m, s_reach_m[j])
    reach_cells = reach_m / cell_m
    n_max = int(math.ceil(reach_cells)) + 4
    r_lo = max(0, int(math.floor(row0 - reach_cells)))
    r_hi = min(nrows - 1, int(math.ceil(row0 + reach_cells)))
    c_lo = max(0, int(math.floor(col0 - reach_cells)))
    c_hi = min(ncols - 1, int(math.ceil(col0 + reach_cells)))
    for row in prange(r_lo, r_hi + 1):
        pfl = np.empty(n_max + 3)
        buf = np.empty(DELTA_H_MAX_SAMPLES)
        for col in range(c_lo, c_hi + 1):
            dr = row - row0
            dc = col - col0
            d_cells = math.sqrt(dr * dr + dc * dc)
            if d_cells > reach_cells:
                continue
            z_ground = dem_m[row, col]
            if math.isnan(z_ground):
                continue
            d_m = max(d_cells * cell_m, MIN_DIST_KM * 1000.0)
            if d_cells * cell_m < d_m:  # the mast's own cell: a short path straight out
                n = line_profile(dem_m, row0, col0, row0, col0 + d_m / cell_m, d_m, pfl)
            else:
                n = line_profile(dem_m, row0, col0, float(row), float(col), d_m, pfl)
            bad = False
            for i in range(n + 1):
                if math.isnan(pfl[2 + i]):
                    bad = True
                    break
            if bad:
                continue
            z_rx = z_ground + h_rx_m
            az = math.degrees(math.atan2(dc, -dr))
            last_f = -1.0
            last_h = -1.0
            loss = np.nan
            for j in range(n_sec):
                if d_m > s_reach_m[j]:
                    continue
                if s_freq_mhz[j] != last_f or s_height_m[j] != last_h:
                    loss = itm_p2p_full(pfl[:n + 3], s_height_m[j], h_rx_m, climate, n0, s_freq_mhz[j], pol,
                                        epsilon, sigma, mdvar, time, location, situation, buf)[0]
                    last_f = s_freq_mhz[j]
                    last_h = s_height_m[j]
                    loss_out[row, col] = loss
                if math.isnan(loss):
                    continue
                elev = math.degrees(math.atan2(z_ground_tx + s_height_m[j] - z_rx, d_m))
                gain = sector_gain_db(az - s_azimuth_deg[j], elev, s_tilt_deg[j], s_hbw_deg[j], s_vbw_deg[j],
                                      s_omni[j], front_to_back_db, vertical_sidelobe_db)
                store_level(s_ref_eirp_dbm[j] + gain - loss, j, row, col, s_tech, s_index, s_bit,
                            s_threshold_dbm, floor_dbm, best_dbm, best_idx, cover_bits, car_top, car_idx, car_sum)
