"""Population and households on the grid, and sums per district.

Zonal rule: **cell centre**.  Each cell belongs to the district containing its centre
(rasterio's default rasterisation), so every person on the grid is counted exactly once.
Fractional-overlap accounting belongs to the coverage-accounting work.
"""

from __future__ import annotations

import numpy as np
from rasterio.features import rasterize

from citycov.grid import GridSpec
from citycov.io.boundaries import Districts

ZONAL_RULE = "cell centre (each cell counted in the district containing its centre)"


def district_index(districts: Districts, grid: GridSpec) -> np.ndarray:
    """int32 raster of the grid shape: the 0-based district row per cell, −1 outside every district."""
    shapes = ((geom, i) for i, geom in enumerate(districts.frame.geometry))
    return rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=-1, dtype="int32",
                     all_touched=False)


def district_sums(values: np.ndarray, index: np.ndarray, n_districts: int) -> np.ndarray:
    """float64 sums of ``values`` per district (length ``n_districts``); cells with index −1 are ignored."""
    inside = index >= 0
    return np.bincount(index[inside], weights=values[inside].astype(np.float64), minlength=n_districts)


def households(population: np.ndarray, persons_per_household: float) -> np.ndarray:
    """Households per cell = residents / persons per household (float64)."""
    return population.astype(np.float64) / persons_per_household
