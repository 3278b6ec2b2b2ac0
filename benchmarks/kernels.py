"""Kernels only the benchmarks use (the package never calls them)."""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True)
def hata_best_server_count(site_row, site_col, reach_cells, nrows, ncols):
    """Site-pixel pairs :func:`tests.oracles_engine.hata_best_server` evaluates."""
    total = 0
    for s in range(site_row.size):
        r = int(reach_cells[s])
        for row in range(max(0, site_row[s] - r), min(nrows - 1, site_row[s] + r) + 1):
            dr = row - site_row[s]
            w = int(math.sqrt(r * r - dr * dr))
            total += min(ncols - 1, site_col[s] + w) - max(0, site_col[s] - w) + 1
    return total
