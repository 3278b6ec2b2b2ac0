"""Reference kernels the tests assert against, kept out of the package (the engine never calls them).

* :func:`horizon_fan` and :func:`site_coverage`: the first engine (one knife edge at each radial's
  running horizon, one site at a time), the hand cases of ``test_engine_radio.py``;
* :func:`hata_best_server` (a log10 table, fast-math) and :func:`hata_best_server_log10`
  (``math.log10`` per cell): the best-server combine of a Hata-class model without terrain;
* :func:`ray_wedge` and :func:`ray_fan`: :func:`citycov.engine._terrain_kernels.ray_wedge_into`
  into fresh arrays; :func:`diffraction_grid`: fast mode's diffraction loss of every cell of one fan.

``benchmarks/bench_engine.py`` and ``benchmarks/bench_terrain.py`` time some of them too, importing
this module from the repository root.  Geometry is in grid units as in
:mod:`citycov.engine._radio_kernels`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from citycov.engine._radio_kernels import MIN_DIST_KM, MODEL_TR38901, bilinear, model_loss_db
from citycov.engine._terrain_kernels import edges_loss_db, ray_wedge_into, receiver_edges, receiver_samples
from citycov.engine.antenna import sector_gain_db
from citycov.propagation.diffraction import knife_edge_db
from citycov.propagation.free_space import SPEED_OF_LIGHT_M_S


@njit(cache=True, parallel=True)
def horizon_fan(dem_m, row0, col0, z_tx_m, cell_m, n_rays, n_steps, earth_radius_m):
    """Running terrain horizon along ``n_rays`` radials from (row0, col0).

    Samples are at 1-cell steps.  For ray ``r`` and step ``k`` (1-based), returns the largest
    elevation slope (m/m, earth curvature folded in as −s²/2kR) of samples 1..k seen from the
    antenna at absolute height ``z_tx_m``, and the distance (m) of that horizon point.
    Azimuth of ray r is 2πr/n_rays clockwise from grid north.
    """
    slope = np.full((n_rays, n_steps + 1), -np.inf)
    dist = np.zeros((n_rays, n_steps + 1))
    for r in prange(n_rays):
        theta = 2.0 * math.pi * r / n_rays
        drow = -math.cos(theta)
        dcol = math.sin(theta)
        best = -np.inf
        best_d = 0.0
        for k in range(1, n_steps + 1):
            z = bilinear(dem_m, row0 + k * drow, col0 + k * dcol)
            s = k * cell_m
            if not math.isnan(z):
                e = (z - s * s / (2.0 * earth_radius_m) - z_tx_m) / s
                if e > best:
                    best = e
                    best_d = s
            slope[r, k] = best
            dist[r, k] = best_d
    return slope, dist


@njit(cache=True, parallel=True)
def site_coverage(dem_m, env, row0, col0, z_ground_tx, z_tx_m, cell_m, h_rx_m, earth_radius_m, slope, dist,
                  s_model, s_freq_mhz, s_height_m, s_ref_eirp_dbm, s_azimuth_deg, s_omni, s_tilt_deg,
                  s_hbw_deg, s_vbw_deg, s_reach_m, s_tech, s_index, front_to_back_db,
                  vertical_sidelobe_db, floor_dbm, best_dbm, best_idx, s_bit, s_threshold_dbm, cover_bits):
    """Update best-server level and index with the sectors of one site (same mast, same height).

    Terrain loss is the knife-edge loss J(ν) of the horizon point minus the J(ν) that the
    same geometry gives over smooth earth (never negative), so flat terrain adds nothing to
    the empirical model, which already includes average ground (the delta idea of P.1812's
    delta-Bullington).  ``z_ground_tx`` is the ground height under the mast.
    ``slope``/``dist`` come from :func:`horizon_fan`; ``s_reach_m`` is (n_sectors, 4): the
    reach of each sector in each environment class.  The terrain loss is a single
    knife edge at the horizon point of the receiver's radial (P.526 eq. 31), added to the
    empirical median loss; cells beyond a sector's reach are never touched.
    ``best_dbm`` (n_tech, rows, cols, float32, NaN = nothing ≥ floor) and ``best_idx``
    (int32, −1) are updated in place, and so is ``cover_bits`` (uint64 grid): bit
    ``s_bit[j]`` is set where sector j's level reaches ``s_threshold_dbm[j]`` (one bit per
    operator × technology, so coverage by network needs no second pass).
    """
    nrows, ncols = dem_m.shape
    n_rays = slope.shape[0]
    n_steps = slope.shape[1] - 1
    # Hata-family loss is A(env) + B·log10(d_km): evaluate A at 1 km once per sector, so the
    # per-cell work is one log10 shared by all sectors of the site.
    n_sec = s_model.size
    hata_a = np.zeros((n_sec, 4))
    hata_b = np.zeros(n_sec)
    root_wavelength = np.zeros(n_sec)
    for j in range(n_sec):
        root_wavelength[j] = math.sqrt(SPEED_OF_LIGHT_M_S / (s_freq_mhz[j] * 1e6))
        if s_model[j] != MODEL_TR38901:
            hata_b[j] = 44.9 - 6.55 * math.log10(s_height_m[j])
            for e in range(4):
                hata_a[j, e] = model_loss_db(s_model[j], s_freq_mhz[j], s_height_m[j], h_rx_m, 1.0, e)
    reach_max_m = 0.0
    reach_env_m = np.zeros(s_reach_m.shape[1])
    for j in range(s_reach_m.shape[0]):
        for e in range(s_reach_m.shape[1]):
            reach_max_m = max(reach_max_m, s_reach_m[j, e])
            reach_env_m[e] = max(reach_env_m[e], s_reach_m[j, e])
    reach_cells = reach_max_m / cell_m
    r_lo = max(0, int(math.floor(row0 - reach_cells)))
    r_hi = min(nrows - 1, int(math.ceil(row0 + reach_cells)))
    c_lo = max(0, int(math.floor(col0 - reach_cells)))
    c_hi = min(ncols - 1, int(math.ceil(col0 + reach_cells)))
    for row in prange(r_lo, r_hi + 1):
        for col in range(c_lo, c_hi + 1):
            dr = row - row0
            dc = col - col0
            d_cells = math.sqrt(dr * dr + dc * dc)
            if d_cells > reach_cells:
                continue
            z_ground = dem_m[row, col]
            if math.isnan(z_ground):
                continue
            env_c = env[row, col]
            if d_cells * cell_m > reach_env_m[env_c]:
                continue  # no sector of this site reaches a cell of this class this far
            d_m = max(d_cells * cell_m, MIN_DIST_KM * 1000.0)
            z_rx = z_ground + h_rx_m
            # terrain: horizon point of this radial before the receiver, and the same
            # geometry over smooth earth (antenna heights above local ground), which the
            # empirical model already accounts for
            geom = -np.inf
            geom_smooth = -np.inf
            k_h = int(d_cells - 0.5)
            if k_h >= 1:
                theta = math.atan2(dc, -dr)
                if theta < 0.0:
                    theta += 2.0 * math.pi
                ray = int(theta / (2.0 * math.pi) * n_rays + 0.5) % n_rays
                k_h = min(k_h, n_steps)
                d_h = dist[ray, k_h]
                if d_h > 0.0 and d_h < d_m:
                    s_rx = (z_rx - d_m * d_m / (2.0 * earth_radius_m) - z_tx_m) / d_m
                    h = d_h * (slope[ray, k_h] - s_rx)
                    geom = h * math.sqrt(2.0 * d_m / (d_h * (d_m - d_h)))
                h_tx_ground = z_tx_m - z_ground_tx
                d_hs = min(k_h * cell_m, math.sqrt(2.0 * earth_radius_m * max(h_tx_ground, 0.0)))
                d_hs = max(d_hs, cell_m)
                if d_hs < d_m:
                    s_h0 = (-d_hs * d_hs / (2.0 * earth_radius_m) - h_tx_ground) / d_hs
                    s_rx0 = (h_rx_m - d_m * d_m / (2.0 * earth_radius_m) - h_tx_ground) / d_m
                    h0 = d_hs * (s_h0 - s_rx0)
                    geom_smooth = h0 * math.sqrt(2.0 * d_m / (d_hs * (d_m - d_hs)))
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
                if geom > -np.inf:
                    excess = knife_edge_db(geom / root_wavelength[j])
                    if geom_smooth > -np.inf:
                        excess -= knife_edge_db(geom_smooth / root_wavelength[j])
                    loss += max(excess, 0.0)
                gain = sector_gain_db(az - s_azimuth_deg[j], elev, s_tilt_deg[j], s_hbw_deg[j], s_vbw_deg[j],
                                      s_omni[j], front_to_back_db, vertical_sidelobe_db)
                level = s_ref_eirp_dbm[j] + gain - loss
                if level >= s_threshold_dbm[j]:
                    cover_bits[row, col] |= np.uint64(1) << np.uint64(s_bit[j])
                t = s_tech[j]
                if level >= floor_dbm:
                    cur = best_dbm[t, row, col]
                    if math.isnan(cur) or level > cur:
                        best_dbm[t, row, col] = level
                        best_idx[t, row, col] = s_index[j]


@njit(cache=True)
def log_distance_table(max_d2, cell_m):
    """log10(d_km) for every integer squared distance 0..max_d2 (in cells²) of a cell centre
    from a site on a cell centre, d clamped at ``MIN_DIST_KM``: the per-cell log10 of a
    Hata-class model becomes one table lookup."""
    out = np.empty(max_d2 + 1)
    for d2 in range(max_d2 + 1):
        out[d2] = math.log10(max(math.sqrt(d2) * cell_m / 1000.0, MIN_DIST_KM))
    return out


@njit(cache=True)
def log_offset_table(r_max, cell_m):
    """float32 (r_max + 1, 2·r_max + 1): log10(d_km) of the cell ``dr`` rows and ``j − r_max``
    columns from a site on a cell centre (row |dr| of the table), d clamped at ``MIN_DIST_KM``
    (the values of :func:`log_distance_table`, laid out by offset so that a row of cells reads
    one contiguous run of a table row)."""
    out = np.empty((r_max + 1, 2 * r_max + 1), dtype=np.float32)
    for i in range(r_max + 1):
        for j in range(2 * r_max + 1):
            dc = j - r_max
            out[i, j] = math.log10(max(math.sqrt(i * i + dc * dc) * cell_m / 1000.0, MIN_DIST_KM))
    return out


@njit(cache=True, parallel=True, fastmath={"contract", "arcp", "reassoc", "nsz"})
def hata_best_server(site_row, site_col, eirp_dbm, a_db, b_db, reach_cells, cell_m, best_dbm, best_idx):
    """Best server of Hata-class sectors (loss = A + B·log10(d_km)) without terrain, sites on cell
    centres (int ``site_row``/``site_col``).  Each site touches only the cells within its
    ``reach_cells``.  log10 comes from :func:`log_offset_table`: the cells of one site on one row
    read one contiguous run of the table row |dr|, and the loop runs over slices indexed from 0,
    so that it vectorises (no gather, and no negative-index wraparound, which kept the former
    kernel :func:`hata_best_server_gather`, a lookup of ``table[dr² + dc²]`` per cell, scalar);
    the update is branch-free.  Fast-math contraction and reassociation only (no NaN/inf
    assumptions: −inf marks an empty cell); levels may differ from the unfused arithmetic by an
    ulp of float32.  ``best_dbm`` (float32, −inf = none) and ``best_idx`` (int32) are updated in
    place; ties keep the earlier site."""
    nrows, ncols = best_dbm.shape
    n = site_row.size
    r_max = 0
    for s in range(n):
        r_max = max(r_max, int(reach_cells[s]))
    table = log_offset_table(r_max, cell_m)
    for row in prange(nrows):
        brow = best_dbm[row]
        irow = best_idx[row]
        for s in range(n):
            dr = row - site_row[s]
            r = int(reach_cells[s])
            if dr > r or dr < -r:
                continue
            w = int(math.sqrt(r * r - dr * dr))
            sc = site_col[s]
            c_lo = max(0, sc - w)
            m = min(ncols - 1, sc + w) - c_lo + 1
            if m <= 0:
                continue
            e = np.float32(eirp_dbm[s] - a_db[s])
            b = np.float32(b_db[s])
            j0 = c_lo - sc + r_max
            t_seg = table[abs(dr), j0:j0 + m]
            b_seg = brow[c_lo:c_lo + m]
            i_seg = irow[c_lo:c_lo + m]
            si = np.int32(s)
            for k in range(m):
                level = e - b * t_seg[k]
                cur = b_seg[k]
                better = level > cur
                b_seg[k] = level if better else cur
                i_seg[k] = si if better else i_seg[k]


@njit(cache=True, parallel=True, fastmath={"contract", "arcp", "reassoc", "nsz"})
def hata_best_server_gather(site_row, site_col, eirp_dbm, a_db, b_db, reach_cells, cell_m, best_dbm, best_idx):
    """The former :func:`hata_best_server`: one table of log10 by squared distance, so each cell
    gathers ``table[dr² + dc²]`` (kept as the benchmark's side-by-side reference).

    Best server of Hata-class sectors (loss = A + B·log10(d_km)) without terrain, sites on cell
    centres (int ``site_row``/``site_col``).  Each site touches only the cells within its
    ``reach_cells``; log10 comes from :func:`log_distance_table` (float32, like the output),
    and the update is branch-free so that the column loop vectorises.  Fast-math contraction and
    reassociation only (no NaN/inf assumptions: −inf marks an empty cell); levels may differ from
    the unfused arithmetic by an ulp of float32.  ``best_dbm`` (float32,
    −inf = none) and ``best_idx`` (int32) are updated in place; ties keep the earlier site."""
    nrows, ncols = best_dbm.shape
    n = site_row.size
    r_max = 0
    for s in range(n):
        r_max = max(r_max, int(reach_cells[s]))
    table = log_distance_table(r_max * r_max + 1, cell_m).astype(np.float32)
    for row in prange(nrows):
        brow = best_dbm[row]
        irow = best_idx[row]
        for s in range(n):
            dr = row - site_row[s]
            r = int(reach_cells[s])
            if dr > r or dr < -r:
                continue
            w = int(math.sqrt(r * r - dr * dr))
            sc = site_col[s]
            c_lo = max(0, sc - w)
            c_hi = min(ncols - 1, sc + w)
            e = np.float32(eirp_dbm[s] - a_db[s])
            b = np.float32(b_db[s])
            dr2 = dr * dr
            si = np.int32(s)
            for col in range(c_lo, c_hi + 1):
                dc = col - sc
                level = e - b * table[dr2 + dc * dc]
                cur = brow[col]
                better = level > cur
                brow[col] = level if better else cur
                irow[col] = si if better else irow[col]


@njit(cache=True, parallel=True)
def hata_best_server_log10(site_row, site_col, eirp_dbm, a_db, b_db, reach_cells, cell_m, best_dbm, best_idx):
    """As :func:`hata_best_server` with ``math.log10`` per cell (the reference it is measured against)."""
    nrows, ncols = best_dbm.shape
    n = site_row.size
    for row in prange(nrows):
        for s in range(n):
            dr = row - site_row[s]
            r = int(reach_cells[s])
            if dr > r or dr < -r:
                continue
            w = int(math.sqrt(r * r - dr * dr))
            c_lo = max(0, site_col[s] - w)
            c_hi = min(ncols - 1, site_col[s] + w)
            e = eirp_dbm[s] - a_db[s]
            b = b_db[s]
            for col in range(c_lo, c_hi + 1):
                dc = col - site_col[s]
                d_km = max(math.sqrt(dr * dr + dc * dc) * cell_m / 1000.0, MIN_DIST_KM)
                level = e - b * math.log10(d_km)
                if level > best_dbm[row, col]:
                    best_dbm[row, col] = level
                    best_idx[row, col] = s


@njit(cache=True)
def ray_wedge(dem_m, row0, col0, z_tx_m, cell_m, n_rays, ray_lo, n_wedge, n_steps, earth_radius_m,
              turn_tol_m_per_m):
    """:func:`ray_wedge_into` into fresh arrays, returned as ``zr, prev, top, hz``."""
    zr = np.empty((n_steps + 1, n_wedge))
    prev = np.empty((n_steps + 1, n_wedge), dtype=np.int32)
    top = np.empty((n_steps + 1, n_wedge), dtype=np.int32)
    hz = np.empty((n_steps + 1, n_wedge), dtype=np.int32)
    ray_wedge_into(dem_m, row0, col0, z_tx_m, cell_m, n_rays, ray_lo, earth_radius_m, turn_tol_m_per_m, zr, prev,
                   top, hz)
    return zr, prev, top, hz


@njit(cache=True)
def ray_fan(dem_m, row0, col0, z_tx_m, cell_m, n_rays, n_steps, earth_radius_m, turn_tol_m_per_m):
    """Effective heights and persistent hulls of ``n_rays`` radials of ``n_steps`` samples.

    Returns ``zr`` (n_steps + 1, n_rays) float64 (row 0: the antenna at ``z_tx_m``; NaN: no
    data), and int32 ``prev``, ``top``, ``hz`` of the same shape (see
    :func:`citycov.engine._terrain_kernels.build_ray`; ``turn_tol_m_per_m`` is its tolerance as a
    slope, 0 for the exact hull).
    """
    return ray_wedge(dem_m, row0, col0, z_tx_m, cell_m, n_rays, 0, n_rays, n_steps, earth_radius_m,
                     turn_tol_m_per_m)


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
    n_rays = zr.shape[1]
    n_steps = zr.shape[0] - 1
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
            g_p, g_t, g_r = receiver_edges(zr, prev, top, hz, ray, kmax, d_m / cell_m,
                                           dem_m[row, col] + h_rx_m - d_m * d_m * drop, cell_m, method)
            out[row, col] = edges_loss_db(g_p, g_t, g_r, inv_root_wavelength)
