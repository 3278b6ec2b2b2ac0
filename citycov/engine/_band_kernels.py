"""Numba kernel of the uncertainty band's model variant fused into the fast mode's cell pass.

:func:`tile_site_levels_band` is :func:`citycov.engine._tile_kernels.tile_site_levels` (same
arguments, same arithmetic, so the same levels into ``tile``) that also writes, into the
levels-only ``alt_tile``, the levels of the same sectors under an alternative empirical model
(``alt_sectors``: the same sectors with the alternative's ``model`` and ``reach_m``, slots −1).
Per cell the geometry, the receiver's obstacle edges on the ray, the terrain excess per
frequency and each sector's antenna attenuation are computed once and serve both models; only
the median loss differs.  The fan must suit both (the engine calls it when both models need the
same fan, :class:`citycov.engine.cellular._FastMode`), so the alternative's levels equal those of
a run with the alternative model.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from citycov.engine._radio_kernels import MIN_DIST_KM, MODEL_TR38901, model_loss_db
from citycov.engine._terrain_kernels import DIFF_KNIFE_EDGE, edges_loss_db, receiver_edges, receiver_samples
from citycov.engine._tile_kernels import (
    TWO_PI,
    _row_span,
    attenuation_db,
    elevation_deg,
    grid_windows,
    pattern_coefficients,
    site_constants,
    store_slot,
)


@njit(cache=True, parallel=True)
def tile_site_levels_band(scene, row0, col0, z_tx_m, method, fan, smooth, sectors, alt_sectors, patterns, tile,
                          alt_tile):
    """:func:`citycov.engine._tile_kernels.tile_site_levels` into ``tile``, and the same sectors
    under the alternative model (``alt_sectors``) into ``alt_tile`` (levels only), in one pass."""
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
    a_model, a_reach_m = alt_sectors.model, alt_sectors.reach_m
    a_hata_a, a_hata_b, _inv, a_reach_env_m = site_constants(alt_sectors, h_rx_m)
    a_best_dbm, a_best_idx, a_cover_bits = grid_windows(alt_tile, th, tw)
    a_car_top, a_car_idx, a_car_sum = alt_tile.car_top, alt_tile.car_idx, alt_tile.car_sum
    either_env_m = np.maximum(reach_env_m, a_reach_env_m)
    # the principal edge's g below which ν = g/√λ ≤ −0.78 at every frequency: the terrain
    # adds nothing there, so neither the smooth-earth reference nor J(ν) is needed
    g_clear = -np.inf
    if n_sec > 0:
        g_clear = -0.78 / inv_root_wavelength.min()
    reach_cells = either_env_m.max() / cell_m
    r_lo = max(t_row0, int(math.floor(row0 - reach_cells)))
    r_hi = min(t_row0 + th - 1, int(math.ceil(row0 + reach_cells)))
    for row in prange(r_lo, r_hi + 1):
        i = row - t_row0
        att_c = np.empty(n_sec)  # per cell: each sector's attenuation and terrain excess, for the alternative
        ex_c = np.empty(n_sec)
        seen = np.zeros(n_sec, dtype=np.bool_)
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
            if d_cells * cell_m > either_env_m[env_c]:
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
            g_p, g_t, g_r = receiver_edges(zr, prev, top, hz, ray, kmax, dd,
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
                s_p, s_t, s_r = receiver_edges(zs, prev_s, top_s, hz_s, 0, min(kmax, n_smooth), dd,
                                               h_rx_m - d_m * d_m * drop, cell_m, method)
            az = math.degrees(theta)
            elev = elevation_deg(z_tx_m - z_rx, d_m)
            log_d_km = math.log10(d_m / 1000.0)
            extra = rx_loss_db[row, col] if has_rx_loss else 0.0
            last_freq = -1.0
            base = 0.0
            ex_run = 0.0
            for j in range(n_sec):
                seen[j] = False
                if d_m > s_reach_m[j, env_c]:
                    continue
                if s_freq_mhz[j] != last_freq or s_model[j] != s_model[j - 1]:
                    # median loss + terrain excess: once per run of sectors on one frequency
                    if s_model[j] == MODEL_TR38901:
                        base = model_loss_db(s_model[j], s_freq_mhz[j], s_height_m[j], h_rx_m, d_m / 1000.0, env_c)
                    else:
                        base = hata_a[j, env_c] + hata_b[j] * log_d_km
                    ex_run = 0.0
                    if g_p > -np.inf:
                        excess = edges_loss_db(g_p, g_t, g_r, inv_root_wavelength[j])
                        if method == DIFF_KNIFE_EDGE:
                            excess -= edges_loss_db(s_p, s_t, s_r, inv_root_wavelength[j])
                        else:
                            excess -= smooth_db[j, m0] * (1.0 - w) + smooth_db[j, m1] * w
                        ex_run = max(excess, 0.0)
                        base += ex_run
                    base += extra
                    last_freq = s_freq_mhz[j]
                att = attenuation_db(j, az, elev, s_azimuth_deg, s_omni, s_tilt_deg, k_h, k_v, s_pattern, h_loss,
                                     v_loss, pattern_max_loss_db, front_to_back_db, vertical_sidelobe_db)
                att_c[j] = att
                ex_c[j] = ex_run
                seen[j] = True
                store_slot(s_ref_eirp_dbm[j] - att - base, i, c, s_tech[j], s_index[j], s_bit[j], s_slot[j],
                           s_threshold_dbm[j], floor_dbm, best_dbm, best_idx, cover_bits, car_top, car_idx, car_sum)
            # the alternative model: the same terrain excess (it depends on the frequency only) and gains
            last_freq = -1.0
            base = 0.0
            for j in range(n_sec):
                if d_m > a_reach_m[j, env_c]:
                    continue
                if s_freq_mhz[j] != last_freq or a_model[j] != a_model[j - 1]:
                    if a_model[j] == MODEL_TR38901:
                        base = model_loss_db(a_model[j], s_freq_mhz[j], s_height_m[j], h_rx_m, d_m / 1000.0, env_c)
                    else:
                        base = a_hata_a[j, env_c] + a_hata_b[j] * log_d_km
                    if g_p > -np.inf:
                        if seen[j]:
                            ex_run = ex_c[j]
                        else:
                            excess = edges_loss_db(g_p, g_t, g_r, inv_root_wavelength[j])
                            if method == DIFF_KNIFE_EDGE:
                                excess -= edges_loss_db(s_p, s_t, s_r, inv_root_wavelength[j])
                            else:
                                excess -= smooth_db[j, m0] * (1.0 - w) + smooth_db[j, m1] * w
                            ex_run = max(excess, 0.0)
                        base += ex_run
                    base += extra
                    last_freq = s_freq_mhz[j]
                if seen[j]:
                    att = att_c[j]
                else:
                    att = attenuation_db(j, az, elev, s_azimuth_deg, s_omni, s_tilt_deg, k_h, k_v, s_pattern, h_loss,
                                         v_loss, pattern_max_loss_db, front_to_back_db, vertical_sidelobe_db)
                store_slot(s_ref_eirp_dbm[j] - att - base, i, c, s_tech[j], s_index[j], s_bit[j], -1,
                           s_threshold_dbm[j], floor_dbm, a_best_dbm, a_best_idx, a_cover_bits, a_car_top, a_car_idx,
                           a_car_sum)


