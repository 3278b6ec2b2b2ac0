"""Sectors for the kernels: the sector table turned into arrays once, grouped into named structs.

The tile kernels (:mod:`citycov.engine._tile_kernels`) take a handful of named groups instead
of dozens of positional arrays, as pycraf's ``PathProp`` carries a path.
"""

from __future__ import annotations

import warnings

import numpy as np

from citycov.errors import CitycovWarning
from citycov.grid import GridSpec


def inside_grid(grid: GridSpec, x: np.ndarray, y: np.ndarray, what: str, ids: np.ndarray) -> np.ndarray:
    """Bool per point: inside ``grid``; warns (:class:`CitycovWarning`) with the ids of the others."""
    row, col = grid.rowcol(x, y)
    inside = grid.contains(row, col)
    if (~inside).any():
        warnings.warn(f"{(~inside).sum()} {what} outside the analysis grid were dropped "
                      f"(first: {[str(i) for i in ids[~inside][:5]]})", CitycovWarning, stacklevel=3)
    return inside
