"""Population and households on the grid, and exact sums per district.

Zonal rules (``ZONAL_RULES``), named in every report:

``fraction`` (default)
    each cell counts in a district by the fraction of its area inside the district polygon
    (exactextract's coverage fractions), so every person is counted exactly once and a
    half-covered cell counts half;
``centroid``
    a cell counts wholly in the district containing its centre;
``all_touched``
    a cell counts wholly in every district it touches (what some tools do; boundary cells
    are counted twice, so district totals exceed the city).

All rules reduce to a sparse weight list (cell, district, weight); every zonal sum is one
``np.bincount`` over it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyproj
from exactextract import exact_extract
from exactextract.raster import NumPyRasterSource
from rasterio.features import rasterize

from citycov.accounting._zonal_kernels import weighted_sums, weighted_sums_masked
from citycov.errors import ScenarioError
from citycov.grid import GridSpec
from citycov.io.boundaries import Districts
from citycov.io.raster import RasterLayer

ZONAL_RULES = {
    "fraction": "fractional overlap (each cell weighted by the share of its area inside the district, "
                "exactextract coverage fractions)",
    "centroid": "cell centre (each cell counted wholly in the district containing its centre)",
    "all_touched": "all touched (each cell counted wholly in every district it touches; boundary cells "
                   "count in two districts)",
}


@dataclass(frozen=True)
class ZonalWeights:
    """Sparse cell-to-district weights on a grid: ``cell`` (flat row-major index),
    ``district`` (0-based row of the districts table) and ``weight`` (0-1], all 1-D."""

    rule: str
    cell: np.ndarray
    district: np.ndarray
    weight: np.ndarray
    n_districts: int
    shape: tuple[int, int]

    def sums(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Weighted sums of ``values`` (grid shape) per district, optionally only where ``mask``."""
        if values.shape != self.shape:
            raise ValueError(f"values have shape {values.shape}, the grid is {self.shape}")
        flat = np.ascontiguousarray(values).reshape(-1)
        if mask is None:
            return weighted_sums(self.cell, self.district, self.weight, flat, self.n_districts)
        if mask.shape != self.shape:
            raise ValueError(f"mask has shape {mask.shape}, the grid is {self.shape}")
        m = np.ascontiguousarray(mask, dtype=np.bool_).reshape(-1)
        return weighted_sums_masked(self.cell, self.district, self.weight, flat, m, self.n_districts)

    def area_km2(self, cell_area_km2: float, mask: np.ndarray | None = None) -> np.ndarray:
        """Area per district (km²), optionally only of the cells where ``mask``."""
        ones = np.ones(self.shape, dtype=np.float32)
        return self.sums(ones, mask) * cell_area_km2

    def in_district(self) -> np.ndarray:
        """Bool grid: cells with any weight in any district."""
        out = np.zeros(self.shape[0] * self.shape[1], dtype=bool)
        out[self.cell] = True
        return out.reshape(self.shape)


def zonal_weights(districts: Districts, grid: GridSpec, rule: str = "fraction") -> ZonalWeights:
    """Build the weights of ``rule`` for ``districts`` (in ``grid.crs``) on ``grid``."""
    if rule not in ZONAL_RULES:
        raise ScenarioError(f"unknown zonal rule {rule!r}; expected one of {sorted(ZONAL_RULES)}")
    n = len(districts)
    rows, cols = grid.shape
    if rule == "centroid":
        index = district_index(districts, grid).ravel()
        cell = np.flatnonzero(index >= 0)
        return ZonalWeights(rule, cell, index[cell].astype(np.int64), np.ones(cell.size), n, grid.shape)
    if rule == "all_touched":
        cells, dists = [], []
        for i, geom in enumerate(districts.frame.geometry):
            burned = rasterize([(geom, 1)], out_shape=grid.shape, transform=grid.transform, fill=0,
                               dtype="uint8", all_touched=True)
            c = np.flatnonzero(burned.ravel())
            cells.append(c)
            dists.append(np.full(c.size, i, dtype=np.int64))
        cell = np.concatenate(cells)
        return ZonalWeights(rule, cell, np.concatenate(dists), np.ones(cell.size), n, grid.shape)
    minx, miny, maxx, maxy = grid.bounds
    source = NumPyRasterSource(np.zeros((rows, cols), dtype=np.float32), minx, miny, maxx, maxy,
                               srs_wkt=grid.crs.to_wkt())
    frame = districts.frame[["geometry"]].reset_index(drop=True)
    table = exact_extract(source, frame, ["cell_id", "coverage"], output="pandas")
    cells = [np.asarray(c, dtype=np.int64) for c in table["cell_id"]]
    cover = [np.asarray(w, dtype=np.float64) for w in table["coverage"]]
    dist = np.concatenate([np.full(c.size, i, dtype=np.int64) for i, c in enumerate(cells)])
    cell = np.concatenate(cells)
    weight = np.concatenate(cover)
    keep = weight > 0
    return ZonalWeights(rule, cell[keep], dist[keep], weight[keep], n, grid.shape)


def exactextract_sums(values: np.ndarray, districts: Districts, grid: GridSpec) -> np.ndarray:
    """Independent check: exactextract's own ``sum`` of ``values`` per district."""
    minx, miny, maxx, maxy = grid.bounds
    source = NumPyRasterSource(values.astype(np.float64), minx, miny, maxx, maxy, srs_wkt=grid.crs.to_wkt())
    table = exact_extract(source, districts.frame[["geometry"]].reset_index(drop=True), ["sum"], output="pandas")
    return table["sum"].to_numpy(dtype=np.float64)


def zonal_crosscheck(weights: ZonalWeights, values: np.ndarray, districts: Districts, grid: GridSpec) -> float:
    """Largest relative difference between the zonal sums of ``weights`` and exactextract's own
    ``sum`` of ``values`` per district (:func:`exactextract_sums`)."""
    check = exactextract_sums(values, districts, grid)
    return float(np.max(np.abs(weights.sums(values) - check) / np.maximum(np.abs(check), 1e-9)))


def source_district_totals(layer: RasterLayer, districts: Districts) -> np.ndarray:
    """Residents of the source raster of ``layer`` inside each district (fractional overlap in
    the source CRS, exactextract ``sum``), float64; all NaN for a rotated source raster."""
    t = layer.source_transform
    rows, cols = layer.source_counts.shape
    if t.b != 0 or t.d != 0:
        return np.full(len(districts), np.nan)
    xs = (t.c, t.c + cols * t.a)
    ys = (t.f, t.f + rows * t.e)
    src_crs = pyproj.CRS(layer.source_crs)
    source = NumPyRasterSource(layer.source_counts.astype(np.float64), min(xs), min(ys), max(xs), max(ys),
                               srs_wkt=src_crs.to_wkt())
    if t.e > 0:  # south-up rasters: flip to the north-up layout exactextract expects
        source = NumPyRasterSource(layer.source_counts[::-1].astype(np.float64), min(xs), min(ys), max(xs),
                                   max(ys), srs_wkt=src_crs.to_wkt())
    frame = districts.frame[["geometry"]].to_crs(src_crs).reset_index(drop=True)
    table = exact_extract(source, frame, ["sum"], output="pandas")
    return table["sum"].to_numpy(dtype=np.float64)


def census_factor(census: np.ndarray, grid_population: np.ndarray) -> np.ndarray:
    """Per district: census figure / residents on the grid (``grid_population``, the zonal sums).

    Raises
    ------
    ScenarioError
        A district has no residents on the grid.
    """
    factor = census / np.where(grid_population > 0, grid_population, np.nan)
    if not np.isfinite(factor).all():
        raise ScenarioError("census rescaling: some districts have no population on the grid")
    return factor


def district_index(districts: Districts, grid: GridSpec) -> np.ndarray:
    """int32 raster of the grid shape: the 0-based district row per cell (cell-centre rule), −1 outside."""
    shapes = ((geom, i) for i, geom in enumerate(districts.frame.geometry))
    return rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=-1, dtype="int32",
                     all_touched=False)


def households(population: np.ndarray, persons_per_household: float | np.ndarray,
               index: np.ndarray | None = None) -> np.ndarray:
    """Households per cell = residents / persons per household.

    ``persons_per_household`` is one number, or one per district (then ``index``, the
    cell-centre district raster, says which applies; cells outside every district use the
    mean of the districts).
    """
    pph = np.asarray(persons_per_household, dtype=np.float64)
    if pph.ndim == 0:
        return population.astype(np.float64) / float(pph)
    if index is None:
        raise ValueError("per-district persons_per_household needs the district index raster")
    per_cell = np.where(index >= 0, pph[np.clip(index, 0, None)], pph.mean())
    return population.astype(np.float64) / per_cell
