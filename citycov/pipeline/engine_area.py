"""The engine's area: which sectors are modelled, their ground heights, and the grid the engine
runs on (the analysis grid, padded by whole cells when a modelled site lies beyond it).

A sector on the analysis grid is always modelled.  One outside it is modelled when its reach
(:func:`citycov.engine.cellular.sector_reach_m`) is at least its distance to the study area
(the districts and ``[radio].study_margin_m``; the whole grid when no margin is set): it
radiates into the districts' edges.  The others are dropped and counted ("beyond reach").
Ground heights come from the DEM file itself (:mod:`citycov.io.dem_points`), so they do not
depend on the grid.  The engine grid shares the analysis grid's lattice, so the results are
cut back to the analysis grid by an integer offset (:func:`citycov.engine.cellular.crop_result`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine

from citycov.config import RadioConfig
from citycov.engine.cellular import sector_reach_m
from citycov.errors import CitycovWarning
from citycov.grid import GridSpec
from citycov.io import Districts
from citycov.io.dem_points import require_ground
from citycov.io.mosaic import RasterSource

PAD_CELLS = 2
"""Cells of terrain kept beyond the farthest modelled site (the rays start between cell centres)."""


@dataclass(frozen=True)
class EngineArea:
    """The modelled sectors and the grid the engine runs on."""

    grid: GridSpec
    """The engine grid: the analysis grid, or a padded grid on the same lattice."""
    offset: tuple[int, int]
    """(row, col) of the analysis grid's first cell in :attr:`grid`."""
    shape: tuple[int, int]
    """The analysis grid's shape."""
    sectors: gpd.GeoDataFrame
    """The modelled sectors (rows of the input table, in its order, index reset)."""
    ground_m: np.ndarray
    """float64: ground height under each modelled sector, from the DEM file."""
    beyond_reach: int
    """Sectors outside the analysis grid farther from the study area than their reach (dropped)."""
    outside_grid: int
    """Modelled sectors outside the analysis grid."""

    @property
    def padded(self) -> bool:
        return self.grid.shape != self.shape

    def pad(self, values: np.ndarray | None, fill: float | bool | int) -> np.ndarray | None:
        """``values`` (on the analysis grid) on the engine grid, ``fill`` in the pad."""
        if values is None or not self.padded:
            return values
        out = np.full(self.grid.shape, fill, dtype=values.dtype)
        r0, c0 = self.offset
        out[r0:r0 + self.shape[0], c0:c0 + self.shape[1]] = values
        return out

    def crop(self, values: np.ndarray) -> np.ndarray:
        """The analysis-grid window of ``values`` (engine grid in its last two axes)."""
        r0, c0 = self.offset
        return values[..., r0:r0 + self.shape[0], c0:c0 + self.shape[1]]

    def notes(self) -> list[str]:
        """What the selection did, for the report (nothing when every sector is on the grid)."""
        if not (self.outside_grid or self.beyond_reach):
            return []
        text = f"sites: {len(self.sectors):,} sectors modelled"
        if self.outside_grid:
            text += (f", {self.outside_grid:,} of them outside the analysis grid but within reach of the study area "
                     f"(the engine ran on {self.grid.shape[0]} x {self.grid.shape[1]} cells around them)")
        if self.beyond_reach:
            text += f"; {self.beyond_reach:,} sectors beyond reach of the study area not modelled"
        return [text]


def engine_area(sectors: gpd.GeoDataFrame, districts: Districts, grid: GridSpec, radio: RadioConfig, *,
                dem_path: RasterSource, margin_m: float | None) -> EngineArea:
    """The modelled sectors of ``sectors`` (in ``grid.crs``), their ground heights from the DEM
    at ``dem_path`` and the engine grid: ``grid`` when every modelled site lies between its cell
    centres, else ``grid`` grown by whole cells to :data:`PAD_CELLS` cells beyond the farthest.

    Raises
    ------
    RasterError
        When the DEM has no data under a modelled sector (naming them, the DEM's bounds and the
        bounds the sectors need).
    """
    x = sectors.geometry.x.to_numpy()
    y = sectors.geometry.y.to_numpy()
    row, col = grid.rowcol(x, y)
    on_grid = grid.contains(row, col)
    keep = on_grid.copy()
    if (~on_grid).any():
        out = np.flatnonzero(~on_grid)
        reach = sector_reach_m(sectors.iloc[out], radio)
        keep[out] = study_distance_m(districts, grid, x[out], y[out], margin_m) <= reach
    beyond = int((~keep).sum())
    if beyond:
        ids = sectors["sector_id"].to_numpy()[~keep]
        warnings.warn(f"{beyond} sectors outside the analysis grid are beyond reach of the study area and were not "
                      f"modelled (first: {[str(i) for i in ids[:5]]})", CitycovWarning, stacklevel=2)
    table = sectors.loc[keep].reset_index(drop=True)
    xk, yk = x[keep], y[keep]
    ground = require_ground(dem_path, xk, yk, crs=grid.crs, ids=table["sector_id"].to_numpy())
    engine, offset = padded_grid(grid, xk, yk, pad_cells=PAD_CELLS)
    return EngineArea(grid=engine, offset=offset, shape=grid.shape, sectors=table, ground_m=ground,
                      beyond_reach=beyond, outside_grid=int((keep & ~on_grid).sum()))


def study_distance_m(districts: Districts, grid: GridSpec, x: np.ndarray, y: np.ndarray,
                     margin_m: float | None) -> np.ndarray:
    """Distance (m) from points to the cells the engine evaluates: the districts grown by
    ``margin_m`` (``None``: the whole analysis grid)."""
    points = shapely.points(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    if margin_m is None:
        return shapely.distance(shapely.box(*grid.bounds), points)
    area = districts.frame.union_all()
    shapely.prepare(area)
    return np.maximum(shapely.distance(area, points) - max(margin_m, 0.0), 0.0)


def padded_grid(grid: GridSpec, x: np.ndarray, y: np.ndarray, *, pad_cells: int) -> tuple[GridSpec, tuple[int, int]]:
    """``grid`` itself and offset (0, 0) when every point (x, y) lies between its first and last
    cell centres; else the grid on the same lattice that holds ``grid`` and every point with
    ``pad_cells`` cells beyond it, and the (row, col) of ``grid``'s first cell in it."""
    rows, cols = grid.shape
    row_f, col_f = grid.fractional_rowcol(x, y)
    if not len(row_f) or (row_f.min() >= 0 and col_f.min() >= 0 and row_f.max() <= rows - 1
                          and col_f.max() <= cols - 1):
        return grid, (0, 0)
    top = max(0, int(math.ceil(-row_f.min())) + pad_cells)
    left = max(0, int(math.ceil(-col_f.min())) + pad_cells)
    bottom = max(0, int(math.ceil(row_f.max() - (rows - 1))) + pad_cells)
    right = max(0, int(math.ceil(col_f.max() - (cols - 1))) + pad_cells)
    t, cell = grid.transform, grid.cell_m
    padded = GridSpec(crs=grid.crs, transform=Affine(cell, 0.0, t.c - left * cell, 0.0, -cell, t.f + top * cell),
                      shape=(rows + top + bottom, cols + left + right))
    return padded, (top, left)
