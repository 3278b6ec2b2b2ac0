"""Numba kernel of the study-area margin: the cells within a squared distance of a set of cells."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def reach_cells(d2_max):
    """The largest whole number of cells r with r² <= ``d2_max``."""
    reach = int(np.sqrt(d2_max))
    while reach * reach > d2_max:
        reach -= 1
    while (reach + 1) * (reach + 1) <= d2_max:
        reach += 1
    return reach


@njit(cache=True, nogil=True)
def within_squared_distance(inside, d2_max, below):
    """Bool grid: the cells whose squared distance (in cells², centre to centre) to the nearest
    cell where ``inside`` (2-D bool) is at most ``d2_max`` (int >= 0); all false when no cell is
    inside.  ``below`` is scratch of the grid's shape, of an integer dtype that holds
    ``isqrt(d2_max) + 1`` (:func:`reach_cells`).

    Exact integer arithmetic, in two passes: the vertical distance of each cell to the nearest
    inside cell of its column (capped just past the reach), then, row by row, the union of the
    column intervals each cell reaches (half-width ``w`` with ``w² + g² <= d2_max`` at vertical
    distance ``g``), as a difference array."""
    rows, cols = inside.shape
    cap = reach_cells(d2_max) + 1
    reach = cap - 1
    half = np.empty(cap, dtype=np.int64)
    w = reach
    for g in range(cap):
        while w * w + g * g > d2_max:
            w -= 1
        half[g] = w
    run = np.full(cols, cap, dtype=np.int64)
    for r in range(rows - 1, -1, -1):
        for c in range(cols):
            if inside[r, c]:
                run[c] = 0
            elif run[c] < cap:
                run[c] += 1
            below[r, c] = run[c]
    out = np.zeros((rows, cols), dtype=np.bool_)
    above = np.full(cols, cap, dtype=np.int64)
    diff = np.zeros(cols + 1, dtype=np.int32)
    for r in range(rows):
        diff[:] = 0
        for c in range(cols):
            if inside[r, c]:
                above[c] = 0
            elif above[c] < cap:
                above[c] += 1
            g = min(above[c], np.int64(below[r, c]))
            if g < cap:
                h = half[g]
                diff[max(c - h, 0)] += 1
                diff[min(c + h + 1, cols)] -= 1
        count = 0
        for c in range(cols):
            count += diff[c]
            out[r, c] = count > 0
    return out

