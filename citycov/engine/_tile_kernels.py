"""Numba kernels of the tiled engine: the levels of one site's sectors over one tile.

The grid is processed tile by tile (:mod:`citycov.engine.cellular`).  Per tile, every site whose
reach touches it contributes through :func:`tile_site_levels` (fast mode, on the wedge of
the site's ray fan that covers the tile, :func:`citycov.engine._terrain_kernels.ray_wedge_into`) or
:func:`tile_levels_from_loss` (exact mode, on a window of basic losses computed point to
point, :mod:`citycov.engine._exact_kernels`).  Both record, per cell:

* the network cover bit of each sector at or above its threshold (``tile.cover_bits``, whole grid);
* the best server per technology (``tile.best_dbm``, ``tile.best_idx``, whole grid);
* per carrier *slot* of the tile, the k strongest levels, the serving sector and the
  summed power (``tile.car_top`` (slots, k, th, tw), ``car_idx`` / ``car_sum`` (slots, th, tw)),
  from which the tile's SINR, margin and overlap are finished once every site is in.

The arguments are the named structs of :mod:`citycov.engine.sectors` (NamedTuples of arrays
and numbers): ``scene`` (the whole grid and the receiver's constants), ``sectors`` (one site's
sectors), ``patterns`` (antenna cuts and caps), ``tile`` (the state above), ``fan`` and
``smooth`` (the site's rays).  Geometry and conventions are those of
:mod:`citycov.engine._terrain_kernels` (grid units, cell centres at integers, azimuth clockwise
from grid north, effective heights).  A tile is the global rows ``tile.row0 .. tile.row0 + th − 1``
and columns ``tile.col0 .. tile.col0 + tw − 1``.  ``scene.rx_loss_db`` is an optional per-cell
loss at the receiver (clutter class loss), added to every sector; a (0, 0) array means none.
Antenna patterns: sector ``j`` uses the 3GPP model when ``sectors.pattern[j] < 0``, else the MSI
cuts ``patterns.h_loss_db[p]``, ``v_loss_db[p]`` (360 values, dB below the peak) combined as in
:func:`citycov.engine.antenna.pattern_gain_db`, relative to the peak (the EIRP already holds the
peak gain).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from citycov.engine._radio_kernels import MIN_DIST_KM, MODEL_TR38901, model_loss_db
from citycov.engine._terrain_kernels import (
    DIFF_KNIFE_EDGE,
    edges_loss_db,
    horizon_g,
    profile_horizon_g,
    receiver_edges,
    receiver_samples,
)
from citycov.engine.antenna import wrap_deg
from citycov.io.msi import cut_loss_db
from citycov.propagation.diffraction import knife_edge_db
from citycov.propagation.free_space import SPEED_OF_LIGHT_M_S
from citycov.propagation.p2108 import terrestrial_clutter_db

TWO_PI = 2.0 * math.pi
LN10_OVER_10 = math.log(10.0) / 10.0


@njit(cache=True, nogil=True)
def elevation_deg(dz_m, d_m):
    """atan(dz/d) in degrees; odd series to x⁹ for |x| ≤ 0.25 (error < 3e-8 rad), else atan."""
    x = dz_m / d_m
    if abs(x) > 0.25:
        return math.degrees(math.atan(x))
    x2 = x * x
    return math.degrees(x * (1.0 - x2 * (1.0 / 3.0 - x2 * (0.2 - x2 * (1.0 / 7.0 - x2 / 9.0)))))


INV_LN10 = 1.0 / math.log(10.0)


@njit(cache=True, nogil=True, inline="always")
def knife_edge_excess_db(nu, nu_smooth):
    """J(ν) − J(ν_smooth) of P.526 eq. 31 (:func:`citycov.propagation.diffraction.knife_edge_db`)
    with one logarithm: 20·log10 of the ratio of the two arguments when both edges diffract."""
    if nu <= -0.78:
        return -knife_edge_db(nu_smooth)
    t = nu - 0.1
    a = math.sqrt(t * t + 1.0) + t
    if nu_smooth <= -0.78:
        return 6.9 + 20.0 * INV_LN10 * math.log(a)
    t0 = nu_smooth - 0.1
    return 20.0 * INV_LN10 * math.log(a / (math.sqrt(t0 * t0 + 1.0) + t0))


@njit(cache=True, nogil=True)
def pattern_coefficients(s_hbw_deg, s_vbw_deg):
    """12 / beamwidth² per sector (horizontal, vertical): the 3GPP attenuation 12·(angle / beamwidth)²
    of :func:`citycov.engine.antenna.sector_gain_db` as a product, without a division per cell."""
    return 12.0 / (s_hbw_deg * s_hbw_deg), 12.0 / (s_vbw_deg * s_vbw_deg)


@njit(cache=True, nogil=True, inline="always")  # a call here costs 40 % of the sector loop
def attenuation_db(j, az_deg, elev_deg, s_azimuth_deg, s_omni, s_tilt_deg, k_h, k_v, s_pattern, h_loss, v_loss,
                   pattern_max_loss_db, front_to_back_db, vertical_sidelobe_db):
    """Attenuation (dB ≥ 0) of sector ``j`` towards (azimuth, elevation below the horizon)
    relative to its peak: its MSI cuts, or the 3GPP sector model with the coefficients of
    :func:`pattern_coefficients`.  The arguments are fields of the structs
    :class:`citycov.engine.sectors.SectorArrays` and :class:`~citycov.engine.sectors.PatternTables`,
    unpacked by the caller outside its parallel loop (fields read from a struct inside it measured
    slower)."""
    p = s_pattern[j]
    if p >= 0:
        return min(cut_loss_db(h_loss[p], az_deg - s_azimuth_deg[j]) + cut_loss_db(v_loss[p], elev_deg - s_tilt_deg[j]),
                   pattern_max_loss_db[p])
    y = elev_deg - s_tilt_deg[j]
    att = min(y * y * k_v[j], vertical_sidelobe_db)
    if not s_omni[j]:
        x = wrap_deg(az_deg - s_azimuth_deg[j])
        att += min(x * x * k_h[j], front_to_back_db)
    return min(att, front_to_back_db)


@njit(cache=True, nogil=True, inline="always")  # a call costs the NRT reference counts of its 6 arrays: 2.5x the store
def store_slot(level, i, c, tech, index, bit, slot, threshold_dbm, floor_dbm, best_dbm, best_idx, cover_bits, car_top,
               car_idx, car_sum):
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
def grid_windows(tile, th, tw):
    """The tile's windows (views) of the output rasters of ``tile``: best level, best sector, cover
    bits.  The rasters are either the whole grid's (the tile is their rows ``row0 .. row0 + th − 1``)
    or the tile's own, of shape (th, tw) in their last two axes (the tile tasks of
    :mod:`citycov.engine.tile_tasks`, whose scene is a terrain window: ``row0``, ``col0`` then place
    the tile in that window, not in the outputs)."""
    if tile.cover_bits.shape[0] == th and tile.cover_bits.shape[1] == tw:
        return tile.best_dbm[:, 0:th, 0:tw], tile.best_idx[:, 0:th, 0:tw], tile.cover_bits[0:th, 0:tw]
    r0, r1, c0, c1 = tile.row0, tile.row0 + th, tile.col0, tile.col0 + tw
    return tile.best_dbm[:, r0:r1, c0:c1], tile.best_idx[:, r0:r1, c0:c1], tile.cover_bits[r0:r1, c0:c1]


@njit(cache=True, nogil=True)
def _row_span(row, row0, col0, reach_cells, t_col0, tw):
    """First and last tile column (local) of ``row`` inside the reach circle; (0, −1) for none."""
    dr = row - row0
    half = reach_cells * reach_cells - dr * dr
    if half < 0.0:
        return 0, -1
    half = math.sqrt(half)
    ca = max(t_col0, int(math.ceil(col0 - half)))
    cb = min(t_col0 + tw - 1, int(math.floor(col0 + half)))
    return ca - t_col0, cb - t_col0


@njit(cache=True, nogil=True)
def site_constants(sectors, h_rx_m):
    """Per sector of one site: the Hata terms A (per environment class, the loss at 1 km) and B
    (dB/decade), 1/√λ; and the site's reach per environment class (m, the sectors' maximum)."""
    s_model, s_freq_mhz, s_height_m, s_reach_m = sectors.model, sectors.freq_mhz, sectors.height_m, sectors.reach_m
    n_sec = s_model.size
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
    return hata_a, hata_b, inv_root_wavelength, reach_env_m


ATAN_POLY = (0.9999999973285274, -0.3333330535980089, 0.19999183184530903, -0.14274853203128296, 0.11030534828242992,
             -0.08719032676824391, 0.06550411132904925, -0.042188772720639776, 0.02053715738540888,
             -0.006421636817879318, 0.0009420392990639982)
"""atan(t) ≈ t·P(t²) on [0, 1], P of degree 10: a least-squares fit on Chebyshev nodes, absolute
error below 1.6e-10 rad (exact at t = 0)."""


@njit(cache=True, nogil=True, inline="always")
def azimuth_rad(dr, dc):
    """atan2(dc, −dr) in [0, 2π): the azimuth (clockwise from grid north) of a cell (dr, dc) rows
    and columns from the site, as ``math.atan2`` gives it to 1.6e-10 rad, in a third of its time:
    one division and the polynomial :data:`ATAN_POLY` on the octant.  Exact on the axes (0, π/2,
    π, 3π/2); the site's own cell (0, 0) takes ``math.atan2``'s value."""
    x = -dr
    ax = abs(x)
    ay = abs(dc)
    if ax >= ay:
        if ax == 0.0:
            a = math.atan2(dc, x)
            return a + TWO_PI if a < 0.0 else a
        t = ay / ax
    else:
        t = ax / ay
    t2 = t * t
    p = ATAN_POLY[10]
    p = p * t2 + ATAN_POLY[9]
    p = p * t2 + ATAN_POLY[8]
    p = p * t2 + ATAN_POLY[7]
    p = p * t2 + ATAN_POLY[6]
    p = p * t2 + ATAN_POLY[5]
    p = p * t2 + ATAN_POLY[4]
    p = p * t2 + ATAN_POLY[3]
    p = p * t2 + ATAN_POLY[2]
    p = p * t2 + ATAN_POLY[1]
    p = p * t2 + ATAN_POLY[0]
    a = t * p
    if ax < ay:
        a = 0.5 * math.pi - a
    if x < 0.0:
        a = math.pi - a
    if dc < 0.0:
        a = TWO_PI - a
    return a


@njit(cache=True, nogil=True, inline="always")
def wedge_column(ray, ray_lo, n_rays, n_wedge):
    """Column of ray ``ray`` (0 ≤ ray ≤ ``n_rays``; ``n_rays`` is ray 0) in a wedge of ``n_wedge`` rays
    from ``ray_lo``; a ray outside the wedge (rounding at its edge) takes the nearer edge column.
    Compares instead of integer remainders: two of those per ray cost as much as the ray's read."""
    col = ray - ray_lo
    if col < 0:
        col += n_rays
    if col >= n_rays:
        col -= n_rays
    if col >= n_wedge:
        col = n_wedge - 1 if col - n_wedge < n_rays - col else 0
    return col


REFINE_MAX_SAMPLES = 512
"""Longest own profile (samples, i.e. cells from the site) that the knife edge reads at the
line-of-sight edge (:func:`knife_edge_cell_g`); farther cells keep the interpolation between
their two rays.  A refined cell costs its distance in samples and the edge cells of a ring grow
with its radius, so refining every edge cell of P1's 40 km circle cost 28 % of its cell pass;
up to 512 samples (15 km at 1", 46 km at 3") it costs about 3 %."""


@njit(cache=True, nogil=True, inline="always")
def knife_edge_cell_g(dem_m, row0, col0, z_tx_m, hs, ray_lo, n_rays, u, dr, dc, d_cells, kmax, d_m, z_rx_eff, cell_m,
                      earth_radius_m, refine):
    """The knife edge's g (ν = g/√λ) of a cell in the fast mode, and whether it came from the
    cell's own profile.  ``u`` is the cell's azimuth in ray units (``n_rays``·θ/2π): the cell
    interpolates g linearly in angle between the two rays either side (on a ray, its own).
    With ``refine``, a cell whose two rays disagree on whether it sees the antenna (one g below
    0, the other above: the line-of-sight edge, where the rays' angular sampling decides)
    takes the g of its own profile instead (:func:`citycov.engine._terrain_kernels.profile_horizon_g`,
    O(distance)) when that profile has at most :data:`REFINE_MAX_SAMPLES` samples; on the
    benchmark tile 2.2 % of the cells within 20 km are such edge cells."""
    n_wedge = hs.shape[1]
    s_rx = (z_rx_eff - z_tx_m) / d_m
    ra = int(u)
    w = u - ra
    g_a = horizon_g(hs, wedge_column(ra, ray_lo, n_rays, n_wedge), kmax, d_m, s_rx, cell_m)
    if w == 0.0:
        return g_a, False
    g_b = horizon_g(hs, wedge_column(ra + 1, ray_lo, n_rays, n_wedge), kmax, d_m, s_rx, cell_m)
    if refine and kmax <= REFINE_MAX_SAMPLES and min(g_a, g_b) < 0.0 < max(g_a, g_b):
        return profile_horizon_g(dem_m, row0, col0, dr, dc, d_cells, kmax, z_tx_m, z_rx_eff, cell_m,
                                 earth_radius_m), True
    if g_a == -np.inf or g_b == -np.inf:
        return max(g_a, g_b), False
    return g_a + w * (g_b - g_a), False


@njit(cache=True, parallel=True)
def _site_levels(scene, row0, col0, z_tx_m, method, fan, smooth, sectors, patterns, tile, alt_model, alt_best_dbm,
                 refine):
    """:func:`tile_site_levels` with the alternative model of :func:`tile_site_levels_alt` (an
    empty ``alt_model``: none); ``refine``: the knife edge's own-profile refinement at the
    line-of-sight edge (False only to measure what it costs and brings)."""
    dem_m, env, active, rx_loss_db = scene.dem_m, scene.env, scene.active, scene.rx_loss_db
    cell_m, h_rx_m, earth_radius_m, floor_dbm = scene.cell_m, scene.h_rx_m, scene.earth_radius_m, scene.floor_dbm
    zr, prev, top, hz, hs, ray_lo, n_rays = fan.zr, fan.prev, fan.top, fan.hz, fan.hs, fan.ray_lo, fan.n_rays
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
    horizon = method == DIFF_KNIFE_EDGE and hs.shape[0] > 0  # knife edge on a horizon fan
    n_wedge = hs.shape[1] if horizon else hz.shape[1]
    n_steps = hs.shape[0] - 1 if horizon else hz.shape[0] - 1
    n_smooth = zs.shape[0] - 1
    n_sec = s_model.size
    with_alt = alt_model.size > 0
    drop = 1.0 / (2.0 * earth_radius_m)
    has_rx_loss = rx_loss_db.shape[0] > 0
    k_h, k_v = pattern_coefficients(sectors.hbw_deg, sectors.vbw_deg)
    hata_a, hata_b, inv_root_wavelength, reach_env_m = site_constants(sectors, h_rx_m)
    # the principal edge's g below which ν = g/√λ ≤ −0.78 at every frequency: the terrain
    # adds nothing there, so neither the smooth-earth reference nor J(ν) is needed
    g_clear = -np.inf
    if n_sec > 0:
        g_clear = -0.78 / inv_root_wavelength.min()
    to_rays = n_rays / TWO_PI
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
            z_rx_eff = z_rx - d_m * d_m * drop
            theta = azimuth_rad(dr, dc)
            u = theta * to_rays
            kmax = min(receiver_samples(d_cells), n_steps)
            if horizon:
                g_p, _ = knife_edge_cell_g(dem_m, row0, col0, z_tx_m, hs, ray_lo, n_rays, u, dr, dc, d_cells, kmax,
                                           d_m, z_rx_eff, cell_m, earth_radius_m, refine)
                g_t = -np.inf
                g_r = -np.inf
            else:
                ray = wedge_column(int(u + 0.5), ray_lo, n_rays, n_wedge)
                g_p, g_t, g_r = receiver_edges(zr, prev, top, hz, ray, kmax, dd, z_rx_eff, cell_m, method)
            if g_p <= g_clear:  # ν ≤ −0.78 at every frequency of the site: no terrain loss, no excess
                g_p = -np.inf
            s_p = -np.inf
            m0 = min(int(dd), n_smooth)
            m1 = min(m0 + 1, n_smooth)
            w = min(dd - m0, 1.0)
            if g_p > -np.inf and method == DIFF_KNIFE_EDGE:
                s_p = receiver_edges(zs, prev_s, top_s, hz_s, 0, min(kmax, n_smooth), dd, h_rx_m - d_m * d_m * drop,
                                     cell_m, method)[0]
            az = math.degrees(theta)
            elev = elevation_deg(z_tx_m - z_rx, d_m)
            log_d_km = math.log(d_m) * INV_LN10 - 3.0  # log10(d_km) without log10's wrapper
            extra = rx_loss_db[row, col] if has_rx_loss else 0.0
            last_freq = -1.0
            base = 0.0
            terrain = 0.0
            for j in range(n_sec):
                if d_m > s_reach_m[j, env_c]:
                    continue
                if s_freq_mhz[j] != last_freq or s_model[j] != s_model[j - 1]:
                    # median loss + terrain excess: once per run of sectors on one frequency
                    if s_model[j] == MODEL_TR38901:
                        base = model_loss_db(s_model[j], s_freq_mhz[j], s_height_m[j], h_rx_m, d_m / 1000.0, env_c)
                    else:
                        base = hata_a[j, env_c] + hata_b[j] * log_d_km
                    terrain = extra
                    if g_p > -np.inf:
                        if method == DIFF_KNIFE_EDGE:
                            excess = knife_edge_excess_db(g_p * inv_root_wavelength[j], s_p * inv_root_wavelength[j])
                        else:
                            excess = edges_loss_db(g_p, g_t, g_r, inv_root_wavelength[j])
                            excess -= smooth_db[j, m0] * (1.0 - w) + smooth_db[j, m1] * w
                        terrain += max(excess, 0.0)
                    base += terrain
                    last_freq = s_freq_mhz[j]
                att = attenuation_db(j, az, elev, s_azimuth_deg, s_omni, s_tilt_deg, k_h, k_v, s_pattern, h_loss,
                                     v_loss, pattern_max_loss_db, front_to_back_db, vertical_sidelobe_db)
                store_slot(s_ref_eirp_dbm[j] - att - base, i, c, s_tech[j], s_index[j], s_bit[j], s_slot[j],
                           s_threshold_dbm[j], floor_dbm, best_dbm, best_idx, cover_bits, car_top, car_idx, car_sum)
                if with_alt and alt_model[j] >= 0:
                    level = s_ref_eirp_dbm[j] - att - terrain - model_loss_db(
                        alt_model[j], s_freq_mhz[j], s_height_m[j], h_rx_m, d_m / 1000.0, env_c)
                    if level >= floor_dbm:
                        cur = alt_best_dbm[s_tech[j], i, c]
                        if math.isnan(cur) or level > cur:
                            alt_best_dbm[s_tech[j], i, c] = level


@njit(cache=True)
def tile_site_levels(scene, row0, col0, z_tx_m, method, fan, smooth, sectors, patterns, tile):
    """Fast terrain mode for the sectors of one site (one mast height) over one tile.

    ``scene``, ``sectors``, ``patterns``, ``tile``, ``fan`` and ``smooth`` are the structs of
    :mod:`citycov.engine.sectors`; ``(row0, col0)`` the site, ``z_tx_m`` its antenna's absolute
    height, ``method`` the diffraction code.  Per cell: its azimuth (:func:`azimuth_rad`), the
    terrain geometry from the fan (the wedge holds rays ``fan.ray_lo ..`` of ``fan.n_rays``), the
    diffraction loss per wavelength (once per run of sectors with the same frequency; sort them by
    frequency) minus the same method's loss over smooth earth, floored at 0, added to the empirical
    median loss.

    Terrain geometry, once per cell for all sectors: Deygout and Bullington join the receiver to
    the obstacle set of the nearest ray (``fan.zr, prev, top, hz``,
    :func:`citycov.engine._terrain_kernels.receiver_edges`).  The knife edge reads the running
    horizon (``fan.hs``, :func:`citycov.engine._terrain_kernels.horizon_wedge_into`)
    of the two rays either side, interpolates its g between
    them in angle, and takes the cell's own profile where the two disagree on whether the cell
    sees the antenna, up to :data:`REFINE_MAX_SAMPLES` cells from the site (:func:`knife_edge_cell_g`); on a
    hull fan (``fan.hs`` empty) it takes the nearest ray's running horizon as Deygout does.

    ``smooth.loss_db`` (n_sectors, n_steps + 1) is the smooth-earth loss of Deygout / Bullington at
    integer distances (interpolated); the knife edge is evaluated per cell on the smooth ray
    ``smooth.zs, prev, top, hz``.  ``sectors.reach_m`` (n_sectors, 4) is the reach per environment
    class; ``scene.active`` marks the cells to evaluate.
    """
    _site_levels(scene, row0, col0, z_tx_m, method, fan, smooth, sectors, patterns, tile,
                 np.zeros(0, dtype=np.int64), np.zeros((0, 0, 0), dtype=np.float32), True)


@njit(cache=True)
def tile_site_levels_alt(scene, row0, col0, z_tx_m, method, fan, smooth, sectors, patterns, tile, alt_model,
                         alt_best_dbm):
    """:func:`tile_site_levels`, and in the same pass the level of each sector under an
    alternative empirical model: ``alt_model`` (int64 per sector of ``sectors``, a code of
    :mod:`citycov.engine._radio_kernels`, e.g. ``MODEL_TR38901``; −1: none for that sector) replaces
    the sector's median loss; terrain excess, receiver loss, antenna pattern, reach and EIRP stay the
    sector's.  Per technology the best such level is kept in ``alt_best_dbm`` (float32 (n_tech, th,
    tw), the tile's window, NaN = none), by the rule of ``tile.best_dbm``: levels below
    ``scene.floor_dbm`` are not kept, a higher level replaces a lower one.  Nothing else of the
    alternative is recorded (no cover bits, servers or carrier state)."""
    _site_levels(scene, row0, col0, z_tx_m, method, fan, smooth, sectors, patterns, tile, alt_model, alt_best_dbm, True)


@njit(cache=True, parallel=True)
def add_clutter_p2108(loss_db, env, row0, col0, t_row0, t_col0, cell_m, freq_ghz, location_percent, env_in_clutter):
    """Add ITU-R P.2108 §3.2 terrestrial clutter loss (receiver end, not exceeded for
    ``location_percent`` % of locations) to the tile window ``loss_db`` of an exact-mode site,
    at the cells whose environment class ``e`` has ``env_in_clutter[e]``.  Paths shorter than
    the model's 0.25 km minimum take the 0.25 km value; the loss is capped at its 2 km value
    (eq. 6).  NaN losses stay NaN."""
    th, tw = loss_db.shape
    cap = terrestrial_clutter_db(freq_ghz, 2.0, location_percent)
    for i in prange(th):
        row = t_row0 + i
        for c in range(tw):
            if math.isnan(loss_db[i, c]) or not env_in_clutter[env[row, t_col0 + c]]:
                continue
            d_km = max(math.sqrt((row - row0) ** 2 + (t_col0 + c - col0) ** 2) * cell_m / 1000.0, 0.25)
            loss_db[i, c] += min(terrestrial_clutter_db(freq_ghz, d_km, location_percent), cap)


@njit(cache=True, parallel=True)
def tile_levels_from_loss(loss_db, scene, row0, col0, z_tx_m, sectors, patterns, tile):
    """Exact mode: levels of the sectors of one site that share a frequency and mast height,
    from the tile window ``loss_db`` (th, tw) of basic transmission losses (NaN: no path).
    The structs are those of :func:`tile_site_levels`; the reach is ``sectors.reach_m[:, 0]``.
    ``z_tx_m`` is the antenna's absolute height."""
    dem_m, active, rx_loss_db = scene.dem_m, scene.active, scene.rx_loss_db
    cell_m, h_rx_m, floor_dbm = scene.cell_m, scene.h_rx_m, scene.floor_dbm
    s_ref_eirp_dbm, s_reach_m = sectors.ref_eirp_dbm, sectors.reach_m
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
    n_sec = s_ref_eirp_dbm.size
    has_rx_loss = rx_loss_db.shape[0] > 0
    k_h, k_v = pattern_coefficients(sectors.hbw_deg, sectors.vbw_deg)
    reach_m = 0.0
    for j in range(n_sec):
        reach_m = max(reach_m, s_reach_m[j, 0])
    reach_cells = reach_m / cell_m
    r_lo = max(t_row0, int(math.floor(row0 - reach_cells)))
    r_hi = min(t_row0 + th - 1, int(math.ceil(row0 + reach_cells)))
    for row in prange(r_lo, r_hi + 1):
        i = row - t_row0
        dr = row - row0
        c_first, c_last = _row_span(row, row0, col0, reach_cells, t_col0, tw)
        for c in range(c_first, c_last + 1):
            col = t_col0 + c
            loss = loss_db[i, c]
            if active[row, col] == 0 or math.isnan(loss):
                continue
            dc = col - col0
            d_m = max(math.sqrt(dr * dr + dc * dc) * cell_m, MIN_DIST_KM * 1000.0)
            theta = math.atan2(dc, -dr)
            if theta < 0.0:
                theta += TWO_PI
            az = math.degrees(theta)
            elev = elevation_deg(z_tx_m - dem_m[row, col] - h_rx_m, d_m)
            extra = rx_loss_db[row, col] if has_rx_loss else 0.0
            for j in range(n_sec):
                if d_m > s_reach_m[j, 0]:
                    continue
                att = attenuation_db(j, az, elev, s_azimuth_deg, s_omni, s_tilt_deg, k_h, k_v, s_pattern, h_loss,
                                     v_loss, pattern_max_loss_db, front_to_back_db, vertical_sidelobe_db)
                store_slot(s_ref_eirp_dbm[j] - att - loss - extra, i, c, s_tech[j], s_index[j], s_bit[j], s_slot[j],
                           s_threshold_dbm[j], floor_dbm, best_dbm, best_idx, cover_bits, car_top, car_idx, car_sum)
