"""The analysis grid: a projected CRS, an affine transform and a shape.

``row, col`` index arrays; ``x, y`` are CRS coordinates (metres).  Convert only through
:meth:`GridSpec.rowcol` and :meth:`GridSpec.xy`, named as rasterio names them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyproj
from affine import Affine

from citycov.errors import GridError

MAX_CELLS = 200_000_000
"""Refuse grids larger than this (a 2-core, 24 GiB machine holds a few float32 layers of it)."""


@dataclass(frozen=True)
class GridSpec:
    """A north-up raster grid: ``crs`` (projected, metres), ``transform`` and ``shape`` (rows, cols)."""

    crs: pyproj.CRS
    transform: Affine
    shape: tuple[int, int]

    @classmethod
    def from_bounds(
        cls, bounds: tuple[float, float, float, float], *, cell_m: float, crs: pyproj.CRS
    ) -> GridSpec:
        """Grid covering ``bounds`` (minx, miny, maxx, maxy), edges snapped outward to ``cell_m``.

        Snapping to multiples of the cell size makes grids built from the same CRS and
        resolution line up cell for cell, whatever the exact bounds.
        """
        if not (cell_m > 0 and math.isfinite(cell_m)):
            raise GridError(f"cell size must be a positive number of metres, got {cell_m!r}")
        minx, miny, maxx, maxy = bounds
        if not all(math.isfinite(v) for v in bounds) or maxx <= minx or maxy <= miny:
            raise GridError(f"invalid grid bounds {bounds!r}: need finite minx < maxx and miny < maxy")
        x0 = math.floor(minx / cell_m) * cell_m
        y1 = math.ceil(maxy / cell_m) * cell_m
        cols = int(math.ceil((maxx - x0) / cell_m))
        rows = int(math.ceil((y1 - miny) / cell_m))
        if rows * cols > MAX_CELLS:
            raise GridError(
                f"grid of {rows} x {cols} cells at {cell_m} m exceeds {MAX_CELLS:,} cells; "
                "use a coarser resolution or a smaller study area"
            )
        return cls(crs=crs, transform=Affine(cell_m, 0.0, x0, 0.0, -cell_m, y1), shape=(rows, cols))

    @property
    def cell_m(self) -> float:
        """Cell size in metres (square cells)."""
        return float(self.transform.a)

    @property
    def cell_area_km2(self) -> float:
        return self.cell_m * self.cell_m / 1e6

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        rows, cols = self.shape
        x0, y1 = self.transform.c, self.transform.f
        return (x0, y1 - rows * self.cell_m, x0 + cols * self.cell_m, y1)

    def cell_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """1-D arrays of centre x (per column) and centre y (per row), float64 metres."""
        rows, cols = self.shape
        xs = self.transform.c + (np.arange(cols) + 0.5) * self.cell_m
        ys = self.transform.f - (np.arange(rows) + 0.5) * self.cell_m
        return xs, ys

    def rowcol(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Integer (row, col) of the cells containing points (x, y); may fall outside the grid."""
        col = np.floor((np.asarray(x, dtype=np.float64) - self.transform.c) / self.cell_m)
        row = np.floor((self.transform.f - np.asarray(y, dtype=np.float64)) / self.cell_m)
        return row.astype(np.int64), col.astype(np.int64)

    def fractional_rowcol(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Continuous (row, col) where cell centres are at integer values (for kernels)."""
        col = (np.asarray(x, dtype=np.float64) - self.transform.c) / self.cell_m - 0.5
        row = (self.transform.f - np.asarray(y, dtype=np.float64)) / self.cell_m - 0.5
        return row, col

    def xy(self, row: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Centre coordinates of cells (row, col)."""
        x = self.transform.c + (np.asarray(col, dtype=np.float64) + 0.5) * self.cell_m
        y = self.transform.f - (np.asarray(row, dtype=np.float64) + 0.5) * self.cell_m
        return x, y

    def contains(self, row: np.ndarray, col: np.ndarray) -> np.ndarray:
        rows, cols = self.shape
        return (row >= 0) & (row < rows) & (col >= 0) & (col < cols)

    def same_as(self, other: GridSpec) -> bool:
        """True when both grids have the same CRS, shape and transform (to 1 mm)."""
        return (
            self.shape == other.shape
            and self.crs == other.crs
            and all(abs(a - b) < 1e-3 for a, b in zip(self.transform, other.transform, strict=True))
        )

    def profile(self, *, dtype: str, nodata: float | int | None, count: int = 1) -> dict:
        """A rasterio write profile for this grid (tiled, DEFLATE-compressed GeoTIFF)."""
        rows, cols = self.shape
        prof = {
            "driver": "GTiff",
            "height": rows,
            "width": cols,
            "count": count,
            "dtype": dtype,
            "crs": self.crs,
            "transform": self.transform,
            "compress": "deflate",
            "tiled": True,
            "blockxsize": 256,
            "blockysize": 256,
        }
        if nodata is not None:
            prof["nodata"] = nodata
        return prof
