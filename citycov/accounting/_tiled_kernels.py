"""Numba kernel of the tiled accounting: compensated weighted sums of several layers at once."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def compensated_sums(cell, district, weight, values, n_districts):
    """Σ weight·values[k, cell] per district and layer ``k`` (``values`` float64, (layers, cells)),
    summed with Neumaier's compensation: the result is within a few ulp of the exact sum,
    whatever the number of cells.  Returns float64 (n_districts, layers)."""
    n_layers = values.shape[0]
    total = np.zeros((n_districts, n_layers))
    carry = np.zeros((n_districts, n_layers))
    for i in range(cell.size):
        d = district[i]
        w = weight[i]
        c = cell[i]
        for k in range(n_layers):
            x = w * values[k, c]
            s = total[d, k]
            t = s + x
            if abs(s) >= abs(x):
                carry[d, k] += (s - t) + x
            else:
                carry[d, k] += (x - t) + s
            total[d, k] = t
    return total + carry
