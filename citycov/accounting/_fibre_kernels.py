"""Numba kernels of the FTTH capacity rule: plain functions over arrays and numbers.

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
