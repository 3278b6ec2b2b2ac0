"""Clutter (land-cover) rasters: integer class codes turned into a receiver-end loss on the grid.

A clutter raster (e.g. ESA WorldCover, a national land-cover map, an operator's clutter
layer) holds one integer class per cell.  The scenario gives a loss in dB per class code
(``[inputs.clutter].loss_db``); the engine adds that loss to every sector's path to a cell
(:func:`citycov.engine.cellular.cellular_coverage`, ``rx_loss_db``).

* Classes are moved to the analysis grid by nearest neighbour (codes are never averaged).
* A study-area cell without a class (nodata, or outside the raster) is an error naming how
  many and where: missing clutter is never taken as 0 dB.
* Every class found on the grid must have a loss: the codes without one are listed, with
  their cell counts, in one error.
* Grid cells outside the study area without a class are returned as invalid; the pipeline
  leaves them out of the engine's evaluation (they are never counted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyproj
import rasterio
from rasterio.warp import Resampling, reproject

from citycov.errors import CRSError, RasterError, raise_problems
from citycov.grid import GridSpec
from citycov.io.mosaic import describe_source
from citycov.io.raster import open_raster, tagged_synthetic
from citycov.provenance import InputRecord, record_for
from citycov.tilepaths import RasterSource

MAX_CLASS_CODE = 2**31 - 1
"""Largest class code (int32): larger values are nodata not declared or a float raster."""


@dataclass(frozen=True)
class ClutterLayer:
    """Clutter on the analysis grid.

    loss_db
        float32 (rows, cols): the class loss (dB) of each cell, NaN where the raster has no class.
    valid
        bool (rows, cols): the cell has a class (always true inside the study area).
    class_cells
        Class code -> number of grid cells of that class.
    """

    loss_db: np.ndarray
    valid: np.ndarray
    class_cells: dict[int, int]
    record: InputRecord
    synthetic: bool
    notes: tuple[str, ...] = field(default_factory=tuple)


def _bbox_text(mask: np.ndarray, grid: GridSpec) -> str:
    rows, cols = np.nonzero(mask)
    xs, ys = grid.xy(rows, cols)
    return (f"x {xs.min():.0f}..{xs.max():.0f}, y {ys.min():.0f}..{ys.max():.0f} ({grid.crs.to_string()}; "
            f"rows {rows.min()}..{rows.max()}, cols {cols.min()}..{cols.max()} of the grid)")


def _source_crs(src, path: str, declared: Any) -> Any:
    """The raster's CRS, or the declared one when the file has none; a contradiction is an error."""
    if src.crs is None:
        if declared is None:
            raise CRSError(f"{path}: clutter raster has no CRS; set one in the file or declare "
                           "[inputs.clutter].crs")
        return pyproj.CRS(declared)
    if declared is not None and not pyproj.CRS(src.crs.to_wkt()).equals(pyproj.CRS(declared),
                                                                          ignore_axis_order=True):
        raise CRSError(f"{path}: [inputs.clutter].crs {pyproj.CRS(declared).to_string()} contradicts the "
                       f"raster's own CRS {src.crs.to_string()}")
    return src.crs


def read_clutter(path: RasterSource, grid: GridSpec, *, loss_db: Mapping[int, float],
                 study_mask: np.ndarray | None = None, crs: Any = None,
                 declared_synthetic: bool = False) -> ClutterLayer:
    """Read a clutter-class raster (any CRS) onto ``grid`` by nearest neighbour and map each
    class to its loss.

    Parameters
    ----------
    loss_db
        Class code -> loss at the receiver (dB), e.g. ``{10: 12.0, 50: 18.0}``.
    study_mask
        Bool array of the grid shape: the cells that must have a class (the districts).
        ``None`` means every cell.
    crs
        CRS of a raster that carries none (a contradiction with the file's own is an error).

    Returns
    -------
    ClutterLayer
        ``loss_db`` float32 of the grid shape (NaN where no class), ``valid``, class counts.

    Raises
    ------
    RasterError
        Listing every problem at once: study-area cells without a class (count and bounding
        box), values that are not whole class codes, classes without a ``loss_db`` entry
        (with their cell counts).
    CRSError
        The raster has no CRS and none is declared, or the declared one contradicts it.

    Examples
    --------
    >>> layer = read_clutter("clutter.tif", grid, loss_db={10: 12.0, 80: 0.0})  # doctest: +SKIP
    >>> layer.loss_db.dtype                                                        # doctest: +SKIP
    dtype('float32')
    """
    name = describe_source(path)
    if study_mask is not None and study_mask.shape != grid.shape:
        raise RasterError(f"{name}: study_mask has shape {study_mask.shape}, expected the grid's {grid.shape}")
    with open_raster(path) as src:
        src_crs = _source_crs(src, name, crs)
        tags = src.tags()
        bands = src.count
        codes = np.full(grid.shape, np.nan, dtype=np.float64)
        reproject(source=rasterio.band(src, 1), destination=codes, src_transform=src.transform, src_crs=src_crs,
                  src_nodata=src.nodata, dst_transform=grid.transform, dst_crs=grid.crs, dst_nodata=np.nan,
                  resampling=Resampling.nearest)
        src_nodata = src.nodata
    valid = np.isfinite(codes)
    study = np.ones(grid.shape, dtype=bool) if study_mask is None else study_mask.astype(bool)
    problems: list[str] = []
    missing = study & ~valid
    if missing.any():
        problems.append(
            f"no clutter class for {missing.sum():,} of {study.sum():,} study-area cells "
            f"({missing.sum() / max(study.sum(), 1):.1%}) in {_bbox_text(missing, grid)}; the clutter raster must "
            f"cover the whole study area with classes (nodata = {src_nodata!r}; missing clutter is not taken "
            "as 0 dB)")
    with np.errstate(invalid="ignore"):
        fractional = valid & ((codes != np.round(codes)) | (np.abs(codes) > MAX_CLASS_CODE))
    if fractional.any():
        shown = np.unique(codes[fractional])[:5].tolist()
        problems.append(f"{fractional.sum():,} cells hold values that are not whole class codes (e.g. {shown}); "
                        f"a clutter raster holds integer classes (-{MAX_CLASS_CODE}..{MAX_CLASS_CODE})")
    found, counts = np.unique(codes[valid & ~fractional].astype(np.int64), return_counts=True)
    class_cells = {int(c): int(n) for c, n in zip(found, counts, strict=True)}
    unknown = {c: n for c, n in class_cells.items() if c not in loss_db}
    if unknown:
        listed = ", ".join(f"{c} ({n:,} cells)" for c, n in unknown.items())
        problems.append(f"{len(unknown)} clutter classes on the grid have no [inputs.clutter].loss_db entry: "
                        f"{listed}; known classes: {sorted(loss_db)}")
    raise_problems(RasterError, name, problems)

    table = np.array(sorted(loss_db), dtype=np.int64)
    values = np.array([loss_db[int(c)] for c in table], dtype=np.float32)
    loss = np.full(grid.shape, np.nan, dtype=np.float32)
    cell_codes = codes[valid].astype(np.int64)
    loss[valid] = values[np.searchsorted(table, cell_codes)]

    notes = ["class losses on the grid (nearest-neighbour resampling): "
             + ", ".join(f"class {c}: {loss_db[c]:g} dB over {n:,} cells" for c, n in class_cells.items())]
    unused = sorted(set(loss_db) - set(class_cells))
    if unused:
        notes.append(f"loss_db classes not present on the grid: {unused}")
    outside = ~study & ~valid
    if outside.any():
        notes.append(f"{outside.sum():,} grid cells outside the study area have no clutter class and are not "
                     "evaluated")
    if bands > 1:
        notes.append(f"band 1 of {bands} read")
    synthetic = declared_synthetic or tagged_synthetic(tags)
    rec = record_for("clutter", path, crs=str(src_crs), synthetic=synthetic, notes=tuple(notes))
    return ClutterLayer(loss_db=loss, valid=valid, class_cells=class_cells, record=rec, synthetic=synthetic,
                        notes=tuple(notes))
