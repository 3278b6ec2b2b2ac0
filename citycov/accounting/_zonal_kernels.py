"""Numba kernels of the zonal accounting: plain loops over the sparse (cell, district, weight) list."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def weighted_sums(cell, district, weight, values, n_districts):
    """Σ weight·values[cell] per district, in one pass (``values`` flat, any numeric dtype)."""
    out = np.zeros(n_districts)
    for i in range(cell.size):
        out[district[i]] += weight[i] * values[cell[i]]
    return out


@njit(cache=True, nogil=True)
def weighted_sums_masked(cell, district, weight, values, mask, n_districts):
    """Σ weight·values[cell] per district over the cells where ``mask`` (flat bool) is true."""
    out = np.zeros(n_districts)
    for i in range(cell.size):
        c = cell[i]
        if mask[c]:
            out[district[i]] += weight[i] * values[c]
    return out


@njit(cache=True, nogil=True)
def cell_states(cell, district, weight, n_cells):
    """int32 per grid cell (flat): the district of a cell wholly inside one (its only entry, of
    weight >= 1), -2 for a cell with any other entry (cut by a boundary, or listed twice), -1
    for a cell with none.  One pass over the entries, no per-cell count array."""
    state = np.full(n_cells, -1, dtype=np.int32)
    for i in range(cell.size):
        c = cell[i]
        if state[c] == -1 and weight[i] >= 1.0:
            state[c] = district[i]
        else:
            state[c] = -2
    return state
