"""Numba kernels of the engine's exact mode: point-to-point basic transmission loss per cell.

Every cell of a rectangular window of the analysis grid that lies within reach of the
transmitter gets the basic transmission loss L_b (dB) of its own terrain profile, drawn
straight from the transmitter to the cell centre:

* :func:`itm_loss_grid`: Longley-Rice ITM v1.4 point to point
  (:func:`citycov.propagation.itm.itm_p2p_full`, the kernel behind
  :func:`citycov.propagation.itm.itm_p2p`);
* :func:`p1812_loss_grid`: ITU-R P.1812-6
  (:func:`citycov.propagation.p1812.p1812_lb_db`, the kernel behind
  :func:`citycov.propagation.p1812.p1812`).

Geometry is in grid units as in :mod:`citycov.engine._radio_kernels`: ``row, col`` continuous cell
coordinates, cell centres at integers, rows increasing downwards; ``cell_m`` converts to metres.
The profile is the one of :func:`citycov.engine._terrain_kernels.site_levels_itm`: n = ceil(d / cell)
equal intervals (at least 2), bilinear elevations (NaN next to no data); a path shorter than
:data:`citycov.engine._radio_kernels.MIN_DIST_KM` (the mast's own cell) is lengthened to that
distance and drawn straight along the grid's columns from the mast.  A profile that touches no
data gives NaN.

The output window ``out_loss_db`` is a 2-D float64 array whose element ``[i, j]`` is grid cell
``(win_row0 + i, win_col0 + j)``; elements whose cell centre is farther than ``reach_cells``
(grid units) from the transmitter are left untouched, so a caller can tile the reach disc with
windows or pre-fill a sentinel.  Window rows run in parallel (``prange``); each row allocates
its own profile scratch.

P.1812 argument conventions (those of :func:`citycov.propagation.p1812.p1812`): ``pol`` 1
horizontal, 2 vertical (ITM's are 0 and 1); ``zone`` 1 sea, 3 coastal land, 4 inland, the same
code on every profile point; ``clutter_height_m`` the representative clutter height R on every
point (the model adds it at the intermediate points only, §3.2; 0 for open ground); coast
distances 500 km as in the wrapper's defaults (the kernel sets them to 0 for a terminal at
sea).  ``lat_deg`` stands for the path-centre latitude of every path (eq. 4): use the
transmitter's latitude, an approximation good for paths up to about 100 km, where the centre
is within 0.45° of it and β0 (eq. 5) changes by a few per cent.  The location-variability standard
deviation is P.1812-6's σ_L = (0.024 f + 0.52) · w_a^0.28 · u(h) (:func:`p1812_sigma_l_db`) for a
square receiver area of one cell (w_a = ``cell_m``); it matters only away from
``location_percent`` = 50 and is not applied to a receiver at sea.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from citycov.engine._radio_kernels import MIN_DIST_KM
from citycov.engine._terrain_kernels import line_profile
from citycov.propagation.itm import DELTA_H_MAX_SAMPLES, itm_p2p_full
from citycov.propagation.p1812 import p1812_lb_db

P1812_COAST_DISTANCE_KM = 500.0
"""Tx/Rx distance to the coast passed to P.1812 (the wrapper's default; only ducting over sea uses it)."""


@njit(cache=True, nogil=True)
def profile_capacity(reach_cells, cell_m):
    """Number of PFL slots (n + 3) that holds the profile of any cell within ``reach_cells``."""
    longest = max(reach_cells, MIN_DIST_KM * 1000.0 / cell_m)
    return max(2, int(math.ceil(longest))) + 4


@njit(cache=True, nogil=True)
def cell_profile(dem_m, row0, col0, row, col, cell_m, pfl):
    """Fill ``pfl`` with the NTIA PFL profile ``[n, spacing_m, z_0, ..., z_n]`` of the path from
    (row0, col0) to the centre of cell (row, col), as the exact mode draws it; returns n, or −1
    when an elevation is NaN (no data on or next to the path, or the path leaves the grid)."""
    dr = row - row0
    dc = col - col0
    d_cells = math.sqrt(dr * dr + dc * dc)
    d_m = max(d_cells * cell_m, MIN_DIST_KM * 1000.0)
    if d_cells * cell_m < d_m:  # the mast's own cell: a short path straight out
        n = line_profile(dem_m, row0, col0, row0, col0 + d_m / cell_m, d_m, pfl)
    else:
        n = line_profile(dem_m, row0, col0, float(row), float(col), d_m, pfl)
    for i in range(n + 1):
        if math.isnan(pfl[2 + i]):
            return -1
    return n


@njit(cache=True, nogil=True)
def window_row_span(i, row0, col0, reach_cells, win_row0, win_col0, n_win_cols):
    """First and last window column (j_lo, j_hi) that may hold a cell of window row ``i`` within
    reach (j_lo > j_hi when none); the caller still tests each cell's distance."""
    dr = win_row0 + i - row0
    half2 = reach_cells * reach_cells - dr * dr
    if half2 < 0.0:
        return 0, -1
    half = math.sqrt(half2)
    j_lo = max(0, int(math.floor(col0 - half)) - win_col0)
    j_hi = min(n_win_cols - 1, int(math.ceil(col0 + half)) - win_col0)
    return j_lo, j_hi


@njit(cache=True, nogil=True)
def p1812_sigma_l_db(freq_ghz, h_rx_m, clutter_height_m, area_width_m):
    """P.1812-6 standard deviation of location variability σ_L (dB) for a square receiver area
    ``area_width_m`` wide: (0.024 f + 0.52) · w_a^0.28, times the height factor u(h) = 1 below the
    clutter R, falling linearly to 0 at R + 10 m (as the ITU-R SG3 reference code's stdDev)."""
    sigma = (0.024 * freq_ghz + 0.52) * area_width_m ** 0.28
    if h_rx_m < clutter_height_m:
        u = 1.0
    elif h_rx_m >= clutter_height_m + 10.0:
        u = 0.0
    else:
        u = 1.0 - (h_rx_m - clutter_height_m) / 10.0
    return sigma * u


@njit(cache=True, nogil=True)
def itm_cell_db(dem_m, tx, itm, row, col, pfl, buf):
    """ITM basic transmission loss (dB) of grid cell (row, col) on its own profile (NaN: no data
    on it, or ITM refuses the path); ``pfl`` holds :func:`profile_capacity` floats, ``buf``
    :data:`citycov.propagation.itm.DELTA_H_MAX_SAMPLES`."""
    n = cell_profile(dem_m, tx.row0, tx.col0, row, col, tx.cell_m, pfl)
    if n < 0:
        return np.nan
    return itm_p2p_full(pfl[:n + 3], tx.h_tx_m, tx.h_rx_m, itm.climate, itm.n0, tx.freq_mhz, itm.pol, itm.epsilon,
                        itm.sigma, itm.mdvar, itm.time, itm.location, itm.situation, buf)[0]


@njit(cache=True, nogil=True)
def p1812_cell_db(dem_m, tx, p1812, lat_deg, sigma_l_db, row, col, pfl, d_km, r_m, zones):
    """P.1812 basic transmission loss (dB) of grid cell (row, col) on its own profile (NaN: no
    data on it); ``pfl`` holds :func:`profile_capacity` floats, ``d_km``, ``r_m`` (the clutter
    height) and ``zones`` (the zone) as many points."""
    n = cell_profile(dem_m, tx.row0, tx.col0, row, col, tx.cell_m, pfl)
    if n < 0:
        return np.nan
    spacing_km = pfl[1] / 1000.0
    for k in range(n + 1):
        d_km[k] = k * spacing_km
    return p1812_lb_db(d_km[:n + 1], pfl[2:n + 3], r_m[:n + 1], zones[:n + 1], tx.freq_mhz / 1000.0,
                       p1812.time_percent, p1812.location_percent, tx.h_tx_m, tx.h_rx_m, p1812.pol, p1812.delta_n,
                       p1812.n0, lat_deg, sigma_l_db, P1812_COAST_DISTANCE_KM, P1812_COAST_DISTANCE_KM)


@njit(cache=True, parallel=True)
def itm_loss_grid(dem_m, tx, itm, reach_cells, win_row0, win_col0, out_loss_db):
    """ITM point-to-point basic transmission loss (dB) of every window cell within reach.

    ``dem_m`` (rows, cols) terrain heights, m (NaN no data); ``tx`` the transmitter
    (:class:`citycov.engine.exact.Transmitter`: grid position ``row0, col0``, ``cell_m``,
    antenna heights above ground ``h_tx_m``, ``h_rx_m``, ``freq_mhz``).  ``itm``
    (:class:`citycov.engine.exact.ItmKernelParams`): ITM arguments as for
    :func:`citycov.propagation.itm.itm_p2p` (NTIA codes: ``climate`` 1-7, ``pol`` 0 horizontal /
    1 vertical, ``mdvar`` 0-3 + 10/20, ``epsilon``, ``sigma`` S/m, TLS percentages), assumed
    valid.  ``out_loss_db[i, j]`` (cell ``(win_row0 + i, win_col0 + j)``) receives L_b, NaN where
    the profile touches no data or ITM refuses the path; cells beyond ``reach_cells`` are not
    touched.
    """
    row0, col0, cell_m = tx.row0, tx.col0, tx.cell_m
    n_win_rows, n_win_cols = out_loss_db.shape
    cap = profile_capacity(reach_cells, cell_m)
    for i in prange(n_win_rows):
        j_lo, j_hi = window_row_span(i, row0, col0, reach_cells, win_row0, win_col0, n_win_cols)
        if j_lo > j_hi:
            continue
        pfl = np.empty(cap)
        buf = np.empty(DELTA_H_MAX_SAMPLES)
        row = win_row0 + i
        dr = row - row0
        for j in range(j_lo, j_hi + 1):
            col = win_col0 + j
            dc = col - col0
            if math.sqrt(dr * dr + dc * dc) > reach_cells:
                continue
            out_loss_db[i, j] = itm_cell_db(dem_m, tx, itm, row, col, pfl, buf)


@njit(cache=True, parallel=True)
def p1812_loss_grid(dem_m, tx, p1812, lat_deg, reach_cells, win_row0, win_col0, out_loss_db):
    """ITU-R P.1812-6 basic transmission loss (dB) of every window cell within reach.

    ``dem_m``, ``tx``, the window and ``reach_cells`` as for :func:`itm_loss_grid`; ``tx.freq_mhz``
    30-6000.  ``p1812`` (:class:`citycov.engine.exact.P1812KernelParams`): ``time_percent`` p 1-50 and
    ``location_percent`` pL 1-99 (percentages for which L_b is not exceeded); ``delta_n`` ΔN
    (N-units/km) and ``n0`` N0 (N-units) at the path centre; ``lat_deg`` the latitude used as
    every path's centre latitude; ``pol`` 1 horizontal, 2 vertical; ``zone`` the radio-climatic
    zone of every profile point (1 sea, 3 coastal land, 4 inland); ``clutter_height_m`` the
    representative clutter height R of every point (see the module docstring).  Inputs are
    assumed valid (see :func:`citycov.propagation.p1812.p1812` for the domain).  NaN where the
    profile touches no data.
    """
    row0, col0, cell_m = tx.row0, tx.col0, tx.cell_m
    zone, clutter_height_m = p1812.zone, p1812.clutter_height_m
    n_win_rows, n_win_cols = out_loss_db.shape
    cap = profile_capacity(reach_cells, cell_m)
    sigma_l_db = p1812_sigma_l_db(tx.freq_mhz / 1000.0, tx.h_rx_m, clutter_height_m, cell_m)
    for i in prange(n_win_rows):
        j_lo, j_hi = window_row_span(i, row0, col0, reach_cells, win_row0, win_col0, n_win_cols)
        if j_lo > j_hi:
            continue
        pfl = np.empty(cap)
        d_km = np.empty(cap)
        r_m = np.empty(cap)
        zones = np.empty(cap, dtype=np.int64)
        for k in range(cap):
            r_m[k] = clutter_height_m
            zones[k] = zone
        row = win_row0 + i
        dr = row - row0
        for j in range(j_lo, j_hi + 1):
            col = win_col0 + j
            dc = col - col0
            if math.sqrt(dr * dr + dc * dc) > reach_cells:
                continue
            out_loss_db[i, j] = p1812_cell_db(dem_m, tx, p1812, lat_deg, sigma_l_db, row, col, pfl, d_km, r_m, zones)
