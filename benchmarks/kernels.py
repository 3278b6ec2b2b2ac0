"""Kernels only the benchmarks use (the package never calls them)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from citycov.engine._radio_kernels import MIN_DIST_KM, MODEL_TR38901, bilinear, model_loss_db
from citycov.engine._terrain_kernels import (
    DIFF_BULLINGTON,
    DIFF_KNIFE_EDGE,
    RAY_BLOCK,
    edges_loss_db,
    horizon_g,
    profile_horizon_g,
    ray_direction,
    receiver_samples,
)
from citycov.engine._tile_kernels import (
    LN10_OVER_10,
    TWO_PI,
    _row_span,
    attenuation_db,
    azimuth_rad,
    elevation_deg,
    grid_windows,
    knife_edge_cell_g,
    pattern_coefficients,
    site_constants,
)


@njit(cache=True)
def hata_best_server_count(site_row, site_col, reach_cells, nrows, ncols):
    """Site-pixel pairs :func:`tests.oracles_engine.hata_best_server` evaluates."""
    total = 0
    for s in range(site_row.size):
        r = int(reach_cells[s])
        for row in range(max(0, site_row[s] - r), min(nrows - 1, site_row[s] + r) + 1):
            dr = row - site_row[s]
            w = int(math.sqrt(r * r - dr * dr))
            total += min(ncols - 1, site_col[s] + w) - max(0, site_col[s] - w) + 1
    return total


# ----------------------------------------------------------------------------- the fast mode before issue 15
# Verbatim copies of the kernels as they were before the horizon-only sweep and the cell pass of
# issue 15, with the helpers they called as plain calls (the engine now inlines them), so that
# bench_terrain.py and profile_cell_pass.py measure old and new side by side in one process.


@njit(cache=True, nogil=True)
def store_slot_v0(level, i, c, tech, index, bit, slot, threshold_dbm, floor_dbm, best_dbm, best_idx, cover_bits,
                  car_top, car_idx, car_sum):
    """Record the level of one sector (its ``tech``, ``index``, ``bit``, ``slot`` and
    ``threshold_dbm`` from :class:`citycov.engine.sectors.SectorArrays`) at tile cell (i, c): cover
    bit, best server of its technology, and the carrier slot's k strongest / serving / summed power
    (slot −1: none kept).  ``best_dbm``, ``best_idx`` and ``cover_bits`` are the tile's windows of
    the whole-grid rasters (plain arrays, not the struct: a struct passed through this call measured
    3 % slower).  The slot update is :func:`citycov.engine._linkbudget_kernels.accumulate_level`
    written out for the 4-D tile state: calling it on ``car_top[s]`` views measured 12 % slower
    over a 7-sector site."""
    if level >= threshold_dbm:
        cover_bits[i, c] = cover_bits[i, c] | (np.uint64(1) << np.uint64(bit))
    if level < floor_dbm:
        return
    cur = best_dbm[tech, i, c]
    if math.isnan(cur) or level > cur:
        best_dbm[tech, i, c] = level
        best_idx[tech, i, c] = index
    s = slot
    if s < 0:  # no carrier state kept (levels only, e.g. the uncertainty variants)
        return
    car_sum[s, i, c] += math.exp(level * LN10_OVER_10)
    if level > car_top[s, 0, i, c]:
        car_idx[s, i, c] = index
    k = car_top.shape[1]
    if level > car_top[s, k - 1, i, c]:
        m = k - 1
        while m > 0 and car_top[s, m - 1, i, c] < level:
            car_top[s, m, i, c] = car_top[s, m - 1, i, c]
            m -= 1
        car_top[s, m, i, c] = level


@njit(cache=True, nogil=True)
def receiver_edges_v0(zr, prev, top, hz, r, kmax, d_cells, z_rx_eff, cell_m, method):
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
    g_p, ip = _chain_max_g_v0(zr, prev, r, t, 0, 0.0, z_tx, d_m, z_rx_eff, cell_m)
    x_p = ip * cell_m
    g_t, _ = _chain_max_g_v0(zr, prev, r, prev[ip, r], 0, 0.0, z_tx, x_p, zr[ip, r], cell_m)
    g_r, _ = _chain_max_g_v0(zr, prev, r, t, ip, x_p, zr[ip, r], d_m, z_rx_eff, cell_m)
    return g_p, g_t, g_r


@njit(cache=True, nogil=True)
def _chain_max_g_v0(zr, prev, r, start, stop, x_a, z_a, x_b, z_b, cell_m):
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


@njit(cache=True, parallel=True)
def ray_wedge_into_v0(dem_m, row0, col0, z_tx_m, cell_m, n_rays, ray_lo, earth_radius_m, turn_tol_m_per_m, zr, prev,
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
def tile_site_levels_v0(scene, row0, col0, z_tx_m, method, fan, smooth, sectors, patterns, tile):
    """Fast terrain mode for the sectors of one site (one mast height) over one tile.

    ``scene``, ``sectors``, ``patterns``, ``tile``, ``fan`` and ``smooth`` are the structs of
    :mod:`citycov.engine.sectors`; ``(row0, col0)`` the site, ``z_tx_m`` its antenna's absolute
    height, ``method`` the diffraction code.  Per cell: the nearest ray of the fan (the wedge
    ``fan.zr, prev, top, hz`` holds rays ``fan.ray_lo ..`` of ``fan.n_rays``), the receiver joined
    to that ray's obstacle set (:func:`citycov.engine._terrain_kernels.receiver_edges`, once per
    cell for all sectors), the diffraction loss per wavelength (once per run of sectors with the
    same frequency; sort them by frequency) minus the same method's loss over smooth earth, floored at 0, added to the
    empirical median loss.  ``smooth.loss_db`` (n_sectors, n_steps + 1) is the smooth-earth loss
    of Deygout / Bullington at integer distances (interpolated); the knife edge is evaluated per
    cell on the smooth ray ``smooth.zs, prev, top, hz``.  ``sectors.reach_m`` (n_sectors, 4) is
    the reach per environment class; ``scene.active`` marks the cells to evaluate.
    """
    dem_m, env, active, rx_loss_db = scene.dem_m, scene.env, scene.active, scene.rx_loss_db
    cell_m, h_rx_m, earth_radius_m, floor_dbm = scene.cell_m, scene.h_rx_m, scene.earth_radius_m, scene.floor_dbm
    zr, prev, top, hz, ray_lo, n_rays = fan.zr, fan.prev, fan.top, fan.hz, fan.ray_lo, fan.n_rays
    zs, prev_s, top_s, hz_s, smooth_db = smooth.zs, smooth.prev, smooth.top, smooth.hz, smooth.loss_db
    s_model, s_freq_mhz, s_height_m, s_reach_m = sectors.model, sectors.freq_mhz, sectors.height_m, sectors.reach_m
    s_ref_eirp_dbm = sectors.ref_eirp_dbm
    s_tech, s_index, s_bit, s_slot, s_threshold_dbm = (sectors.tech, sectors.index, sectors.bit, sectors.slot,
                                                       sectors.threshold_dbm)
    s_azimuth_deg, s_omni, s_tilt_deg, s_pattern = sectors.azimuth_deg, sectors.omni, sectors.tilt_deg, sectors.pattern
    h_loss, v_loss, pattern_max_loss_db = patterns.h_loss_db, patterns.v_loss_db, patterns.max_loss_db
    front_to_back_db, vertical_sidelobe_db = patterns.front_to_back_db, patterns.vertical_sidelobe_db
    t_row0, t_col0 = tile.row0, tile.col0
    th = tile.car_idx.shape[1]
    tw = tile.car_idx.shape[2]
    best_dbm, best_idx, cover_bits = grid_windows(tile, th, tw)
    car_top, car_idx, car_sum = tile.car_top, tile.car_idx, tile.car_sum
    n_wedge = zr.shape[1]
    n_steps = zr.shape[0] - 1
    n_smooth = zs.shape[0] - 1
    n_sec = s_model.size
    drop = 1.0 / (2.0 * earth_radius_m)
    has_rx_loss = rx_loss_db.shape[0] > 0
    k_h, k_v = pattern_coefficients(sectors.hbw_deg, sectors.vbw_deg)
    hata_a, hata_b, inv_root_wavelength, reach_env_m = site_constants(sectors, h_rx_m)
    # the principal edge's g below which ν = g/√λ ≤ −0.78 at every frequency: the terrain
    # adds nothing there, so neither the smooth-earth reference nor J(ν) is needed
    g_clear = -np.inf
    if n_sec > 0:
        g_clear = -0.78 / inv_root_wavelength.min()
    reach_cells = reach_env_m.max() / cell_m
    r_lo = max(t_row0, int(math.floor(row0 - reach_cells)))
    r_hi = min(t_row0 + th - 1, int(math.ceil(row0 + reach_cells)))
    for row in prange(r_lo, r_hi + 1):
        i = row - t_row0
        dr = row - row0
        c_first, c_last = _row_span(row, row0, col0, reach_cells, t_col0, tw)
        for c in range(c_first, c_last + 1):
            col = t_col0 + c
            if active[row, col] == 0:
                continue
            z_ground = dem_m[row, col]
            if math.isnan(z_ground):
                continue
            env_c = env[row, col]
            dc = col - col0
            d_cells = math.sqrt(dr * dr + dc * dc)
            if d_cells * cell_m > reach_env_m[env_c]:
                continue
            d_m = max(d_cells * cell_m, MIN_DIST_KM * 1000.0)
            dd = d_m / cell_m
            z_rx = z_ground + h_rx_m
            theta = math.atan2(dc, -dr)
            if theta < 0.0:
                theta += TWO_PI
            ray = (int(theta / TWO_PI * n_rays + 0.5) % n_rays - ray_lo) % n_rays
            if ray >= n_wedge:  # outside the wedge by rounding: the nearest edge ray
                ray = n_wedge - 1 if ray - n_wedge < n_rays - ray else 0
            kmax = min(receiver_samples(d_cells), n_steps)
            g_p, g_t, g_r = receiver_edges_v0(zr, prev, top, hz, ray, kmax, dd,
                                           z_rx - d_m * d_m * drop, cell_m, method)
            if g_p <= g_clear:  # ν ≤ −0.78 at every frequency of the site: no terrain loss, no excess
                g_p = -np.inf
            s_p = -np.inf
            s_t = -np.inf
            s_r = -np.inf
            m0 = min(int(dd), n_smooth)
            m1 = min(m0 + 1, n_smooth)
            w = min(dd - m0, 1.0)
            if g_p > -np.inf and method == DIFF_KNIFE_EDGE:
                s_p, s_t, s_r = receiver_edges_v0(zs, prev_s, top_s, hz_s, 0, min(kmax, n_smooth), dd,
                                               h_rx_m - d_m * d_m * drop, cell_m, method)
            az = math.degrees(theta)
            elev = elevation_deg(z_tx_m - z_rx, d_m)
            log_d_km = math.log10(d_m / 1000.0)
            extra = rx_loss_db[row, col] if has_rx_loss else 0.0
            last_freq = -1.0
            base = 0.0
            for j in range(n_sec):
                if d_m > s_reach_m[j, env_c]:
                    continue
                if s_freq_mhz[j] != last_freq or s_model[j] != s_model[j - 1]:
                    # median loss + terrain excess: once per run of sectors on one frequency
                    if s_model[j] == MODEL_TR38901:
                        base = model_loss_db(s_model[j], s_freq_mhz[j], s_height_m[j], h_rx_m, d_m / 1000.0, env_c)
                    else:
                        base = hata_a[j, env_c] + hata_b[j] * log_d_km
                    if g_p > -np.inf:
                        excess = edges_loss_db(g_p, g_t, g_r, inv_root_wavelength[j])
                        if method == DIFF_KNIFE_EDGE:
                            excess -= edges_loss_db(s_p, s_t, s_r, inv_root_wavelength[j])
                        else:
                            excess -= smooth_db[j, m0] * (1.0 - w) + smooth_db[j, m1] * w
                        base += max(excess, 0.0)
                    base += extra
                    last_freq = s_freq_mhz[j]
                att = attenuation_db(j, az, elev, s_azimuth_deg, s_omni, s_tilt_deg, k_h, k_v, s_pattern, h_loss,
                                     v_loss, pattern_max_loss_db, front_to_back_db, vertical_sidelobe_db)
                store_slot_v0(s_ref_eirp_dbm[j] - att - base, i, c, s_tech[j], s_index[j], s_bit[j], s_slot[j],
                           s_threshold_dbm[j], floor_dbm, best_dbm, best_idx, cover_bits, car_top, car_idx, car_sum)


# ----------------------------------------------------------------------------- knife edge at the line-of-sight edge


@njit(cache=True, parallel=True)
def knife_edge_g_grid(dem_m, row0, col0, z_tx_m, cell_m, h_rx_m, earth_radius_m, hs, n_rays, reach_cells, out):
    """Per cell within ``reach_cells`` of the site (at least 2 cells), the knife edge's g (ν = g/√λ)
    of the fast mode four ways, and a flag, into ``out`` (5, rows, cols), NaN elsewhere: 0 the
    nearest ray (the engine before issue 15), 1 interpolated in angle between the two rays either
    side, 2 the engine's (1, or the cell's own profile where the two rays disagree on line of
    sight), 3 the cell's own profile, 4 1.0 where 2 took the own profile.  ``hs``: a horizon fan
    of the whole circle (:func:`horizon_wedge_into`)."""
    nrows, ncols = dem_m.shape
    n_steps = hs.shape[0] - 1
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
            if d_cells > reach_cells or math.isnan(dem_m[row, col]) or d_cells < 2.0:
                continue
            d_m = d_cells * cell_m
            z_rx_eff = dem_m[row, col] + h_rx_m - d_m * d_m * drop
            s_rx = (z_rx_eff - z_tx_m) / d_m
            u = azimuth_rad(dr, dc) * n_rays / (2.0 * math.pi)
            kmax = min(receiver_samples(d_cells), n_steps)
            out[0, row, col] = horizon_g(hs, int(u + 0.5) % n_rays, kmax, d_m, s_rx, cell_m)
            out[1, row, col] = knife_edge_cell_g(dem_m, row0, col0, z_tx_m, hs, 0, n_rays, u, dr, dc, d_cells, kmax,
                                                 d_m, z_rx_eff, cell_m, earth_radius_m, False)[0]
            g, refined = knife_edge_cell_g(dem_m, row0, col0, z_tx_m, hs, 0, n_rays, u, dr, dc, d_cells, kmax, d_m,
                                           z_rx_eff, cell_m, earth_radius_m, True)
            out[2, row, col] = g
            out[3, row, col] = profile_horizon_g(dem_m, row0, col0, dr, dc, d_cells, kmax, z_tx_m, z_rx_eff, cell_m,
                                                 earth_radius_m)
            out[4, row, col] = 1.0 if refined else 0.0
