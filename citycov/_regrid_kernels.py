"""Numba kernels of :mod:`citycov.regrid`: plain array functions, no objects.

Coordinates are *grid units*: ``u`` = (x − x0) / cell, ``v`` = (y1 − y) / cell, so grid cell
(row, col) is the unit square [col, col + 1] × [row, row + 1].  A source cell is a polygon of
``4·n`` vertices (its four edges, each densified to ``n`` segments) read from two lattices of
transformed points of a block of source rows:

* ``hu, hv`` (rows + 1, n·cols + 1): the horizontal edges (row lines), ``n`` points per cell;
* ``vu, vv`` (n·rows + 1, cols + 1): the vertical edges (column lines).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _polygon(hu, hv, vu, vv, r, c, n, px, py):
    """Vertices of source cell (block row ``r``, column ``c``) into ``px, py`` (4·n, in order)."""
    k = 0
    for t in range(n):  # top edge, left to right
        px[k] = hu[r, c * n + t]
        py[k] = hv[r, c * n + t]
        k += 1
    for t in range(n):  # right edge, top to bottom
        px[k] = vu[r * n + t, c + 1]
        py[k] = vv[r * n + t, c + 1]
        k += 1
    for t in range(n):  # bottom edge, right to left
        px[k] = hu[r + 1, (c + 1) * n - t]
        py[k] = hv[r + 1, (c + 1) * n - t]
        k += 1
    for t in range(n):  # left edge, bottom to top
        px[k] = vu[(r + 1) * n - t, c]
        py[k] = vv[(r + 1) * n - t, c]
        k += 1
    return k


@njit(cache=True, nogil=True)
def _area(px, py, m):
    """Unsigned shoelace area of the polygon ``px[:m], py[:m]``."""
    s = 0.0
    for i in range(m):
        j = i + 1 if i + 1 < m else 0
        s += px[i] * py[j] - px[j] * py[i]
    return abs(0.5 * s)


@njit(cache=True, nogil=True)
def _clip(px, py, m, axis, bound, keep_above, qx, qy):
    """Sutherland–Hodgman: the part of polygon ``px, py`` (``m`` vertices) with coordinate
    ``axis`` (0: u, 1: v) ≥ ``bound`` (``keep_above``) or ≤ ``bound``, into ``qx, qy``."""
    out = 0
    if m == 0:
        return 0
    for i in range(m):
        j = i + 1 if i + 1 < m else 0
        a = px[i] if axis == 0 else py[i]
        b = px[j] if axis == 0 else py[j]
        ina = a >= bound if keep_above else a <= bound
        inb = b >= bound if keep_above else b <= bound
        if ina:
            qx[out] = px[i]
            qy[out] = py[i]
            out += 1
        if ina != inb:
            t = (bound - a) / (b - a)
            qx[out] = px[i] + t * (px[j] - px[i])
            qy[out] = py[i] + t * (py[j] - py[i])
            out += 1
    return out


@njit(cache=True, nogil=True)
def _pieces(px, py, m, grid_rows, grid_cols, cells, fracs, sx, sy, tx, ty, wx, wy):
    """Split polygon ``px, py`` over the grid cells: writes the flat cell index and the share of
    the polygon's area in it to ``cells, fracs`` (grown by the caller when too small; −1 when
    they are) and returns the number of pieces.  Area off the grid is in no piece."""
    umin = px[0]
    umax = px[0]
    vmin = py[0]
    vmax = py[0]
    for i in range(1, m):
        umin = min(umin, px[i])
        umax = max(umax, px[i])
        vmin = min(vmin, py[i])
        vmax = max(vmax, py[i])
    c0 = int(np.floor(umin))
    c1 = int(np.floor(umax))
    r0 = int(np.floor(vmin))
    r1 = int(np.floor(vmax))
    if c0 == c1 and r0 == r1:  # wholly inside one cell
        if 0 <= r0 < grid_rows and 0 <= c0 < grid_cols:
            cells[0] = r0 * grid_cols + c0
            fracs[0] = 1.0
            return 1
        return 0
    total = _area(px, py, m)
    if total <= 0.0:
        return 0
    k = 0
    for col in range(max(c0, 0), min(c1, grid_cols - 1) + 1):
        ms = _clip(px, py, m, 0, float(col), True, sx, sy)
        ms = _clip(sx, sy, ms, 0, float(col + 1), False, tx, ty)
        if ms < 3:
            continue
        svmin = ty[0]
        svmax = ty[0]
        for i in range(1, ms):
            svmin = min(svmin, ty[i])
            svmax = max(svmax, ty[i])
        for row in range(max(int(np.floor(svmin)), 0), min(int(np.floor(svmax)), grid_rows - 1) + 1):
            mr = _clip(tx, ty, ms, 1, float(row), True, sx, sy)
            mr = _clip(sx, sy, mr, 1, float(row + 1), False, wx, wy)
            if mr < 3:
                continue
            a = _area(wx, wy, mr)
            if a <= 0.0:
                continue
            if k >= cells.size:
                return -1
            cells[k] = row * grid_cols + col
            fracs[k] = a / total
            k += 1
    return k


@njit(cache=True, nogil=True)
def _scratch(n, size):
    m = 8 * n + 16  # clipping adds at most one vertex per crossing edge
    return (np.empty(m), np.empty(m), np.empty(m), np.empty(m), np.empty(m), np.empty(m), np.empty(m),
            np.empty(m), np.empty(size, dtype=np.int64), np.empty(size))


@njit(cache=True, nogil=True)
def spread_block(hu, hv, vu, vv, n, values, grid_rows, grid_cols, out):
    """Add every cell of ``values`` (a block of source rows) to ``out`` (flat grid), split by
    the area of its overlap with each grid cell.  Returns the count that fell off the grid."""
    px, py, sx, sy, tx, ty, wx, wy, cells, fracs = _scratch(n, 64)
    outside = 0.0
    rows, cols = values.shape
    for r in range(rows):
        for c in range(cols):
            v = values[r, c]
            if v == 0.0:
                continue
            m = _polygon(hu, hv, vu, vv, r, c, n, px, py)
            k = _pieces(px, py, m, grid_rows, grid_cols, cells, fracs, sx, sy, tx, ty, wx, wy)
            while k < 0:
                cells = np.empty(cells.size * 4, dtype=np.int64)
                fracs = np.empty(cells.size)
                k = _pieces(px, py, m, grid_rows, grid_cols, cells, fracs, sx, sy, tx, ty, wx, wy)
            kept = 0.0
            for i in range(k):
                out[cells[i]] += v * fracs[i]
                kept += fracs[i]
            outside += v * max(0.0, 1.0 - kept)
    return outside


@njit(cache=True, nogil=True)
def _find(keys, key):
    """Index of ``key`` in sorted ``keys``, −1 when absent."""
    i = np.searchsorted(keys, key)
    if i < keys.size and keys[i] == key:
        return i
    return -1


@njit(cache=True, nogil=True)
def pieces_block(hu, hv, vu, vv, n, values, codes, first_row, src_cols, grid_rows, grid_cols, n_districts,
                 state, bkey, piece, stray):
    """District pieces of a block of source rows on the grid.

    ``codes`` (block shape): the district (0..) wholly containing a source cell, −1 for none,
    −2 for a cell cut by a district boundary.  ``state`` (flat grid, int32): the district
    wholly containing a grid cell, −1 for none, −2 for a boundary cell (shared, or partly
    outside every district); ``bkey`` (sorted): cell·n_districts + district of each zonal weight
    of a boundary cell.  A wholly-contained source cell adds value × share to ``piece``
    (aligned with ``bkey``) in boundary grid cells (interior grid cells hold their whole
    population already), or to ``stray[district]`` where the grid cell has no weight of that
    district.  Cut cells are returned as a piece list (flat source index, grid cell, share)
    for :func:`split_cut_cells`."""
    px, py, sx, sy, tx, ty, wx, wy, cells, fracs = _scratch(n, 64)
    rows, cols = values.shape
    cap = 1024
    cut_src = np.empty(cap, dtype=np.int64)
    cut_cell = np.empty(cap, dtype=np.int64)
    cut_frac = np.empty(cap)
    nc = 0
    for r in range(rows):
        for c in range(cols):
            v = values[r, c]
            code = codes[r, c]
            if v == 0.0 or code == -1:
                continue
            m = _polygon(hu, hv, vu, vv, r, c, n, px, py)
            k = _pieces(px, py, m, grid_rows, grid_cols, cells, fracs, sx, sy, tx, ty, wx, wy)
            while k < 0:
                cells = np.empty(cells.size * 4, dtype=np.int64)
                fracs = np.empty(cells.size)
                k = _pieces(px, py, m, grid_rows, grid_cols, cells, fracs, sx, sy, tx, ty, wx, wy)
            if code >= 0:
                for i in range(k):
                    g = state[cells[i]]
                    if g == code:
                        continue
                    j = _find(bkey, cells[i] * n_districts + code) if g == -2 else -1
                    if j < 0:
                        stray[code] += v * fracs[i]
                    else:
                        piece[j] += v * fracs[i]
                continue
            if nc + k > cap:
                cap = 2 * (nc + k)
                cut_src = _grow_i(cut_src, cap)
                cut_cell = _grow_i(cut_cell, cap)
                cut_frac = _grow_f(cut_frac, cap)
            for i in range(k):
                cut_src[nc] = (first_row + r) * src_cols + c
                cut_cell[nc] = cells[i]
                cut_frac[nc] = fracs[i]
                nc += 1
    return cut_src[:nc].copy(), cut_cell[:nc].copy(), cut_frac[:nc].copy()


@njit(cache=True, nogil=True)
def _grow_i(a, cap):
    b = np.empty(cap, dtype=np.int64)
    b[:a.size] = a
    return b


@njit(cache=True, nogil=True)
def _grow_f(a, cap):
    b = np.empty(cap)
    b[:a.size] = a
    return b


@njit(cache=True, nogil=True)
def _weight(state, bkey, bweight, n_districts, cell, d):
    """Zonal (area) weight of grid ``cell`` in district ``d``; the index in ``bkey`` or −1."""
    g = state[cell]
    if g == d:
        return 1.0, -1
    if g != -2:
        return 0.0, -1
    j = _find(bkey, cell * n_districts + d)
    return (bweight[j], j) if j >= 0 else (0.0, -1)


@njit(cache=True, nogil=True)
def _weight_sum(state, bcell, bsum, cell):
    """Sum of the zonal weights of grid ``cell`` over every district."""
    g = state[cell]
    if g >= 0:
        return 1.0
    if g == -1:
        return 0.0
    q = _find(bcell, cell)
    return bsum[q] if q >= 0 else 0.0


@njit(cache=True, nogil=True)
def split_cut_cells(p_src, p_cell, p_frac, c_src, c_dist, c_cov, values, n_districts, state, bkey, bweight,
                    bcell, bsum, piece, stray, max_iter, tol):
    """Split each source cell cut by a district boundary over (grid cell, district) pieces.

    Per cut cell: its grid pieces ``p_*`` (sorted by source index ``p_src``: grid cell, area
    share f) and its districts ``c_*`` (sorted by ``c_src``: district, coverage fraction in the
    source CRS).  The table (grid piece × district, plus "outside every district") must have
    row sums value·f (the area-exact grid move) and column sums value·coverage (the exact
    district share).  It is seeded with f × the grid cell's area weight in the district
    (f × its area outside every district for the last column) and fitted to both margins by
    iterative proportional fitting, ending on the columns, so each district receives exactly
    its share.  A district column with no seed is spread over the pieces by f; a piece row with
    no seed by the district shares.  ``state``, ``bkey`` as in :func:`pieces_block`, with the
    boundary weights ``bweight`` (aligned with ``bkey``) and, per boundary cell ``bcell``
    (sorted), the sum of its weights ``bsum``.  Entries in boundary grid cells are added to
    ``piece`` (aligned with ``bkey``); an entry with no zonal weight of its district goes to
    ``stray``.
    Returns the largest remaining row mismatch relative to the cell's value."""
    worst = 0.0
    i = 0
    j = 0
    np_ = p_src.size
    nc_ = c_src.size
    seed = np.zeros((64, 16))
    while i < np_:
        s = p_src[i]
        i1 = i
        while i1 < np_ and p_src[i1] == s:
            i1 += 1
        while j < nc_ and c_src[j] < s:
            j += 1
        j1 = j
        while j1 < nc_ and c_src[j1] == s:
            j1 += 1
        nr = i1 - i
        nd = j1 - j
        v = values[s]
        if nr > seed.shape[0] or nd + 1 > seed.shape[1]:
            seed = np.zeros((max(nr, seed.shape[0]), max(nd + 1, seed.shape[1])))
        row_m = np.empty(nr)
        col_m = np.empty(nd + 1)
        cov_sum = 0.0
        for k in range(nd):
            col_m[k] = v * c_cov[j + k]
            cov_sum += c_cov[j + k]
        f_sum = 0.0
        for r in range(nr):
            row_m[r] = v * p_frac[i + r]
            f_sum += p_frac[i + r]
        col_m[nd] = v * max(0.0, f_sum - cov_sum)
        for r in range(nr):
            cell = p_cell[i + r]
            f = p_frac[i + r]
            for k in range(nd):
                seed[r, k] = f * _weight(state, bkey, bweight, n_districts, cell, c_dist[j + k])[0]
            seed[r, nd] = f * max(0.0, 1.0 - _weight_sum(state, bcell, bsum, cell))
        for k in range(nd + 1):
            colsum = 0.0
            for r in range(nr):
                colsum += seed[r, k]
            if colsum <= 0.0 and col_m[k] > 0.0:
                for r in range(nr):
                    seed[r, k] = p_frac[i + r]
        for r in range(nr):
            rowsum = 0.0
            for k in range(nd + 1):
                rowsum += seed[r, k]
            if rowsum <= 0.0 and row_m[r] > 0.0:
                for k in range(nd + 1):
                    seed[r, k] = col_m[k]
        err = 0.0
        for _ in range(max_iter):
            for r in range(nr):
                rowsum = 0.0
                for k in range(nd + 1):
                    rowsum += seed[r, k]
                if rowsum > 0.0:
                    for k in range(nd + 1):
                        seed[r, k] *= row_m[r] / rowsum
            for k in range(nd + 1):
                colsum = 0.0
                for r in range(nr):
                    colsum += seed[r, k]
                if colsum > 0.0:
                    for r in range(nr):
                        seed[r, k] *= col_m[k] / colsum
            err = 0.0
            for r in range(nr):
                rowsum = 0.0
                for k in range(nd + 1):
                    rowsum += seed[r, k]
                err = max(err, abs(rowsum - row_m[r]))
            if err <= tol * v:
                break
        if v > 0.0:
            worst = max(worst, err / v)
        for r in range(nr):
            cell = p_cell[i + r]
            for k in range(nd):
                d = c_dist[j + k]
                g = state[cell]
                if g == d:
                    continue  # an interior grid cell holds its whole population already
                w = _weight(state, bkey, bweight, n_districts, cell, d)[1]
                if w < 0:
                    stray[d] += seed[r, k]
                else:
                    piece[w] += seed[r, k]
        for r in range(nr):
            for k in range(nd + 1):
                seed[r, k] = 0.0
        i = i1
    return worst
