"""Numba kernels of the FTTH drop-distance and capacity rules: plain functions over arrays and numbers.

Cells are addressed by their row-major (flat) index ``row * n_cols + col``; nodes by their
position in the wrapper's filtered node table.  Distances are in metres.  Nothing here knows
about CRSs, GeoDataFrames or node kinds (that is ``fibre.py``).  The loops are plain, so
every kernel also runs unchanged as Python under ``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def cell_node_pairs(node_x_m, node_y_m, row_lo, row_hi, col_lo, col_hi, centre_x_m, centre_y_m, reach_m):
    """Every (cell, node) pair whose cell centre lies within ``reach_m`` of the node.

    Parameters
    ----------
    node_x_m, node_y_m
        float64 (n_nodes,) node coordinates, metres.
    row_lo, row_hi, col_lo, col_hi
        int64 (n_nodes,) inclusive window of grid rows and columns searched for each node,
        already clipped to the grid (a node with ``row_lo > row_hi`` or ``col_lo > col_hi`` is
        skipped).  The window must hold every cell whose centre may be within reach.
    centre_x_m, centre_y_m
        float64 cell-centre x per column (n_cols,) and y per row (n_rows,), metres.
    reach_m
        Largest centre-to-node distance, metres (inclusive).

    Returns
    -------
    (cell, node, dist_m)
        int64 flat cell index, int64 node index and float64 distance in metres, in node
        order and, within a node, in row-major cell order.
    """
    n_nodes = node_x_m.size
    n_cols = centre_x_m.size
    counts = np.zeros(n_nodes, dtype=np.int64)
    for k in range(n_nodes):
        for row in range(row_lo[k], row_hi[k] + 1):
            dy = centre_y_m[row] - node_y_m[k]
            for col in range(col_lo[k], col_hi[k] + 1):
                if math.hypot(centre_x_m[col] - node_x_m[k], dy) <= reach_m:
                    counts[k] += 1
    total = 0
    for k in range(n_nodes):
        total += counts[k]
    cell = np.empty(total, dtype=np.int64)
    node = np.empty(total, dtype=np.int64)
    dist_m = np.empty(total, dtype=np.float64)
    i = 0
    for k in range(n_nodes):
        for row in range(row_lo[k], row_hi[k] + 1):
            dy = centre_y_m[row] - node_y_m[k]
            for col in range(col_lo[k], col_hi[k] + 1):
                d = math.hypot(centre_x_m[col] - node_x_m[k], dy)
                if d <= reach_m:
                    cell[i] = row * n_cols + col
                    node[i] = k
                    dist_m[i] = d
                    i += 1
    return cell, node, dist_m


@njit(cache=True)
def greedy_capacity(cell, node, households, ports):
    """Greedy nearest-first assignment of households to free ports.

    Parameters
    ----------
    cell, node
        int64 (n_pairs,) flat cell index and node index of each candidate pair, already
        sorted in the order pairs are served (increasing distance, then node, then cell).
    households
        float64 (n_cells,) households per cell, finite and ≥ 0 (flat, row-major).
    ports
        float64 (n_nodes,) installed ports per node, finite and ≥ 0.

    Returns
    -------
    (passed, used)
        float64 (n_cells,) households passed per cell and float64 (n_nodes,) ports used per
        node.  Each pair takes min(households left in its cell, ports left at its node), so
        ``passed <= households`` and ``used <= ports`` hold exactly (each is computed as the
        start value minus a non-negative remainder).
    """
    left_h = households.copy()
    left_p = ports.copy()
    for i in range(cell.size):
        c = cell[i]
        k = node[i]
        take = min(left_h[c], left_p[k])
        if take > 0.0:
            left_h[c] -= take
            left_p[k] -= take
    passed = households - left_h
    used = ports - left_p
    return passed, used


@njit(cache=True)
def cells_near_segments(start_x_m, start_y_m, end_x_m, end_y_m, centre_x_m, centre_y_m, reach_m, out):
    """Mark every cell whose centre lies within ``reach_m`` of any segment (exact Euclidean distance).

    A segment is the straight piece from (start_x_m, start_y_m) to (end_x_m, end_y_m); a point
    (an access node) is a segment whose two ends coincide.  The distance from a cell centre to a
    segment is to its nearest point, an end included, so a polyline's ends, bends and middles
    all reach exactly ``reach_m``.  Each segment visits only its prefilter window: the rows whose
    centre is within ``reach_m`` of its y-range and, in each row, the columns within ``reach_m``
    of the part of the segment inside that row's band ``|y - centre_y| <= reach_m``.

    Parameters
    ----------
    start_x_m, start_y_m, end_x_m, end_y_m
        float64 (n_segments,) segment ends, metres, in the grid's CRS.
    centre_x_m, centre_y_m
        float64 cell-centre x per column (n_cols,), increasing evenly, and y per row
        (n_rows,), decreasing evenly (a north-up grid), metres.
    reach_m
        Largest centre-to-segment distance, metres (inclusive), ≥ 0.
    out
        bool (n_rows, n_cols), set True (never False) where a centre is within reach.
    """
    n_rows = centre_y_m.size
    n_cols = centre_x_m.size
    if n_rows == 0 or n_cols == 0:
        return
    step_x = centre_x_m[1] - centre_x_m[0] if n_cols > 1 else 1.0
    step_y = centre_y_m[0] - centre_y_m[1] if n_rows > 1 else 1.0
    for k in range(start_x_m.size):
        ax = start_x_m[k]
        ay = start_y_m[k]
        dx = end_x_m[k] - ax
        dy = end_y_m[k] - ay
        length2 = dx * dx + dy * dy
        y_lo = min(ay, ay + dy) - reach_m
        y_hi = max(ay, ay + dy) + reach_m
        # rows are a prefilter only: one row of slack each side, the distance test decides
        row_lo = max(int(math.floor((centre_y_m[0] - y_hi) / step_y)) - 1, 0)
        row_hi = min(int(math.ceil((centre_y_m[0] - y_lo) / step_y)) + 1, n_rows - 1)
        for row in range(row_lo, row_hi + 1):
            py = centre_y_m[row]
            if dy == 0.0:
                if abs(py - ay) > reach_m:
                    continue
                x_lo = min(ax, ax + dx)
                x_hi = max(ax, ax + dx)
            else:
                t1 = (py - reach_m - ay) / dy
                t2 = (py + reach_m - ay) / dy
                t_lo = max(min(t1, t2), 0.0)
                t_hi = min(max(t1, t2), 1.0)
                if t_lo > t_hi:
                    continue
                x_lo = min(ax + t_lo * dx, ax + t_hi * dx)
                x_hi = max(ax + t_lo * dx, ax + t_hi * dx)
            col_lo = max(int(math.floor((x_lo - reach_m - centre_x_m[0]) / step_x)) - 1, 0)
            col_hi = min(int(math.ceil((x_hi + reach_m - centre_x_m[0]) / step_x)) + 1, n_cols - 1)
            for col in range(col_lo, col_hi + 1):
                if out[row, col]:
                    continue
                ex = centre_x_m[col] - ax
                ey = py - ay
                if length2 > 0.0:
                    t = (ex * dx + ey * dy) / length2
                    if t > 0.0:
                        if t >= 1.0:
                            ex = centre_x_m[col] - end_x_m[k]
                            ey = py - end_y_m[k]
                        else:
                            ex = centre_x_m[col] - (ax + t * dx)
                            ey = py - (ay + t * dy)
                if math.hypot(ex, ey) <= reach_m:
                    out[row, col] = True
