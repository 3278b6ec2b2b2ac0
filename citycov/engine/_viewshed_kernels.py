"""Numba kernels of the viewshed (:mod:`citycov.engine.viewshed`): a radial sweep of running
horizons, a per-cell pass that decides each cell from its two bracketing rays, and the exact
per-cell line of sight that re-decides the cells near a visibility edge.

Geometry is in grid units as in :mod:`citycov.engine._terrain_kernels`: ``row, col`` cell
coordinates with cell centres at integers, rows down, columns right, ray ``r`` of ``n_rays`` at
azimuth 2πr/n clockwise from grid north, one sample per cell along it.  The observer stands on a
cell centre.  Heights are *effective*: z − drop·s², s the distance (m) from the observer and
``drop_per_m2`` = 1/(2·k·R) (0 for a flat earth), so a straight line in effective heights is the
line of sight over the curved earth.  Slopes are metres of effective height per cell of distance.

Visibility codes (uint8): :data:`HIDDEN`, :data:`VISIBLE`, :data:`NO_DATA` (no-data terrain at the
cell or on its path, and nothing known blocks it), :data:`BEYOND` (beyond the maximum distance).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from citycov.engine._radio_kernels import bilinear

HIDDEN = 0
VISIBLE = 1
NO_DATA = 254
BEYOND = 255


@njit(cache=True, nogil=True)
def _on_row(dem_m, row, col):
    """Terrain on the integer row ``row`` at continuous column ``col`` (linear between the two
    nearest cell centres of that row: the bilinear surface on a grid line)."""
    ncols = dem_m.shape[1]
    if ncols == 1:
        return dem_m[row, 0] * 1.0
    c0 = min(int(col), ncols - 2)
    f = col - c0
    return dem_m[row, c0] * (1.0 - f) + dem_m[row, c0 + 1] * f


@njit(cache=True, nogil=True)
def _on_col(dem_m, row, col):
    """Terrain on the integer column ``col`` at continuous row ``row`` (as :func:`_on_row`)."""
    nrows = dem_m.shape[0]
    if nrows == 1:
        return dem_m[0, col] * 1.0
    r0 = min(int(row), nrows - 2)
    f = row - r0
    return dem_m[r0, col] * (1.0 - f) + dem_m[r0 + 1, col] * f


@njit(cache=True, nogil=True)
def cell_line_of_sight(dem_m, row0, col0, z_obs_m, row, col, z_tgt_m, cell_m, drop_per_m2):
    """Exact line of sight from the observer's eye (cell ``row0, col0``, absolute height
    ``z_obs_m``) to the target point (cell ``row, col``, absolute height ``z_tgt_m``): the straight
    segment in effective heights against the terrain at *every crossing of a grid line* (an
    integer row or column, i.e. a line through cell centres) strictly between the two cells,
    the terrain there being linear between the two nearest cell centres on that line.

    Blocked by a crossing at fraction t of the way whose effective height exceeds the segment's:
    z(t) − drop·(t·L)² > z_obs + t·(z_tgt − drop·L² − z_obs), L the distance in metres (grazing
    is visible).  Returns :data:`HIDDEN` when a crossing with terrain blocks it, else
    :data:`NO_DATA` when a crossing has no terrain (NaN), else :data:`VISIBLE`."""
    dr = row - row0
    dc = col - col0
    l2 = (dr * dr + dc * dc) * cell_m * cell_m
    z_end = z_tgt_m - drop_per_m2 * l2 - z_obs_m
    a = drop_per_m2 * l2
    unknown = False
    n = abs(dr)
    sr = 1 if dr > 0 else -1
    for i in range(1, n):
        t = i / n
        z = _on_row(dem_m, row0 + sr * i, col0 + t * dc)
        if math.isnan(z):
            unknown = True
        elif z - a * t * t - z_obs_m > t * z_end:
            return HIDDEN
    n = abs(dc)
    sc = 1 if dc > 0 else -1
    for j in range(1, n):
        t = j / n
        z = _on_col(dem_m, row0 + t * dr, col0 + sc * j)
        if math.isnan(z):
            unknown = True
        elif z - a * t * t - z_obs_m > t * z_end:
            return HIDDEN
    return NO_DATA if unknown else VISIBLE


@njit(cache=True, parallel=True)
def ray_horizon_bounds(dem_m, row0, col0, z_obs_m, cell_m, drop_per_m2, n_rays, spread, floor_m, upper, lower,
                       plain):
    """Running horizons of each ray of a fan of ``n_rays`` from the observer (cell ``row0, col0``,
    eye at ``z_obs_m``), one bilinear sample per cell, as bounds for the cells near the ray.

    A sample j at bilinear height z, with the four cell centres around it spanning [lo, hi], has
    slope e = (z − drop·s² − z_obs)/j; the cells whose paths pass near it are taken to see there
    a slope within e − (``spread``·(z − lo) + ``floor_m``)/j .. e + (``spread``·(hi − z) +
    ``floor_m``)/j.  ``upper[k, r]`` and ``lower[k, r]`` are the running maxima of those bounds
    over samples 1..k of ray r (−inf before any); ``upper`` becomes +inf from the first sample
    without terrain on.  ``plain`` (same shape, or (0, 0) for none) receives the running maximum of
    e itself, the one-ray horizon of the engine.  Arrays are (n_steps + 1, n_rays), sample-major
    (neighbouring cells read neighbouring rays at about the same distance), float32."""
    n_steps = upper.shape[0] - 1
    nrows, ncols = dem_m.shape
    with_plain = plain.shape[0] > 0
    for r in prange(n_rays):
        theta = 2.0 * math.pi * r / n_rays
        drow = -math.cos(theta)
        dcol = math.sin(theta)
        bu = -np.inf
        bl = -np.inf
        bp = -np.inf
        upper[0, r] = bu
        lower[0, r] = bl
        if with_plain:
            plain[0, r] = bp
        for k in range(1, n_steps + 1):
            row = row0 + k * drow
            col = col0 + k * dcol
            z = bilinear(dem_m, row, col)
            if math.isnan(z):
                bu = np.inf
            else:
                ri = min(int(row), nrows - 2) if nrows > 1 else 0
                ci = min(int(col), ncols - 2) if ncols > 1 else 0
                hi = max(max(dem_m[ri, ci], dem_m[ri, ci + 1]), max(dem_m[ri + 1, ci], dem_m[ri + 1, ci + 1]))
                lo = min(min(dem_m[ri, ci], dem_m[ri, ci + 1]), min(dem_m[ri + 1, ci], dem_m[ri + 1, ci + 1]))
                s = k * cell_m
                e = (z - drop_per_m2 * s * s - z_obs_m) / k
                eu = e + (spread * (hi - z) + floor_m) / k
                el = e - (spread * (z - lo) + floor_m) / k
                if eu > bu:
                    bu = eu
                if el > bl:
                    bl = el
                if e > bp:
                    bp = e
            upper[k, r] = bu
            lower[k, r] = bl
            if with_plain:
                plain[k, r] = bp


@njit(cache=True, parallel=True)
def viewshed_cells(dem_m, row0, col0, z_obs_m, h_tgt_m, cell_m, drop_per_m2, reach_cells, upper, lower, plain,
                   refine, out):
    """Visibility code of every cell within ``reach_cells`` of the observer, written into ``out``
    (uint8, the DEM's shape; cells beyond are left as they are).  Returns the number of cells
    decided by :func:`cell_line_of_sight`.

    The cell's target slope σ = (z + ``h_tgt_m`` − drop·s² − z_obs)/d is set against the bounds of
    :func:`ray_horizon_bounds` of the two rays bracketing its azimuth, before the cell (samples
    j ≤ d − ½).  With ``refine``: σ ≥ both upper bounds is :data:`VISIBLE`, σ < both lower bounds
    :data:`HIDDEN`, and every other cell (near a visibility edge, or whose rays met no-data
    terrain) is decided exactly on its own path.  Without ``refine`` (the sweep alone): the
    nearest ray's ``plain`` horizon decides, as the engine's cell pass does (σ ≥ it is visible;
    :data:`NO_DATA` when that ray met no-data terrain and its known samples do not hide the cell)."""
    nrows, ncols = dem_m.shape
    n_steps = upper.shape[0] - 1
    n_rays = upper.shape[1]
    r_lo = max(0, int(math.floor(row0 - reach_cells)))
    r_hi = min(nrows - 1, int(math.ceil(row0 + reach_cells)))
    counts = np.zeros(r_hi - r_lo + 1, dtype=np.int64)
    two_pi = 2.0 * math.pi
    for row in prange(r_lo, r_hi + 1):
        dr = row - row0
        half2 = reach_cells * reach_cells - dr * dr
        if half2 < 0.0:
            continue
        half = math.sqrt(half2)
        c_lo = max(0, int(math.ceil(col0 - half)))
        c_hi = min(ncols - 1, int(math.floor(col0 + half)))
        n_ref = 0
        for col in range(c_lo, c_hi + 1):
            dc = col - col0
            if dr == 0 and dc == 0:
                out[row, col] = VISIBLE
                continue
            z = dem_m[row, col]
            if math.isnan(z):
                out[row, col] = NO_DATA
                continue
            d = math.sqrt(dr * dr + dc * dc)
            s = d * cell_m
            slope = (z + h_tgt_m - drop_per_m2 * s * s - z_obs_m) / d
            k = min(int(d - 0.5), n_steps)
            theta = math.atan2(dc, -dr)
            if theta < 0.0:
                theta += two_pi
            u = theta / two_pi * n_rays
            ra = int(u) % n_rays
            rb = (ra + 1) % n_rays
            if not refine:
                r = rb if u - int(u) >= 0.5 else ra
                if slope < plain[k, r]:
                    out[row, col] = HIDDEN
                elif upper[k, r] == np.inf:
                    out[row, col] = NO_DATA
                else:
                    out[row, col] = VISIBLE
            elif slope >= upper[k, ra] and slope >= upper[k, rb]:
                out[row, col] = VISIBLE
            elif slope < lower[k, ra] and slope < lower[k, rb]:
                out[row, col] = HIDDEN
            else:
                out[row, col] = cell_line_of_sight(dem_m, row0, col0, z_obs_m, row, col, z + h_tgt_m, cell_m,
                                                   drop_per_m2)
                n_ref += 1
        counts[row - r_lo] = n_ref
    return counts.sum()


@njit(cache=True, parallel=True)
def exact_cells(dem_m, row0, col0, z_obs_m, h_tgt_m, cell_m, drop_per_m2, reach_cells, out):
    """Visibility code of every cell within ``reach_cells``, each by :func:`cell_line_of_sight`
    on its own path (O(d) per cell: the reference the sweep is measured against)."""
    nrows, ncols = dem_m.shape
    r_lo = max(0, int(math.floor(row0 - reach_cells)))
    r_hi = min(nrows - 1, int(math.ceil(row0 + reach_cells)))
    for row in prange(r_lo, r_hi + 1):
        dr = row - row0
        half2 = reach_cells * reach_cells - dr * dr
        if half2 < 0.0:
            continue
        half = math.sqrt(half2)
        c_lo = max(0, int(math.ceil(col0 - half)))
        c_hi = min(ncols - 1, int(math.floor(col0 + half)))
        for col in range(c_lo, c_hi + 1):
            if row == row0 and col == col0:
                out[row, col] = VISIBLE
                continue
            z = dem_m[row, col]
            if math.isnan(z):
                out[row, col] = NO_DATA
                continue
            out[row, col] = cell_line_of_sight(dem_m, row0, col0, z_obs_m, row, col, z + h_tgt_m, cell_m,
                                               drop_per_m2)


@njit(cache=True, parallel=True)
def add_visible(codes, count):
    """``count += (codes == VISIBLE)`` in place, in parallel over rows."""
    for row in prange(codes.shape[0]):
        for col in range(codes.shape[1]):
            if codes[row, col] == VISIBLE:
                count[row, col] += 1
