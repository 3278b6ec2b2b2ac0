"""Raster inputs (DEM, population), reprojected once onto the analysis grid.

* The DEM is resampled bilinearly.  Cells of the study area that the DEM does not cover,
  or covers only with nodata, are an error: missing terrain is never taken as sea level.
* Population counts are never resampled by nearest or bilinear (that loses or invents
  people).  A raster already on the analysis grid is read as is; any other goes through
  GDAL's area-weighted ``sum`` resampling, and the totals before and after are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import RasterioIOError
from rasterio.warp import Resampling, reproject

from citycov.errors import CRSError, InputFileError, RasterError
from citycov.grid import GridSpec
from citycov.provenance import InputRecord, record_for

DEM_RANGE_M = (-450.0, 8900.0)


@dataclass(frozen=True)
class RasterLayer:
    """A raster on the analysis grid: ``values`` (float32, grid shape) and where it came from."""

    values: np.ndarray
    record: InputRecord
    synthetic: bool
    input_total: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def _open(path: str | Path):
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: file not found")
    try:
        return rasterio.open(path)
    except RasterioIOError as exc:
        raise InputFileError(f"{path}: cannot read as a raster: {exc}") from exc


def _synthetic_tag(tags: dict) -> bool:
    return str(tags.get("SYNTHETIC", "")).strip().lower() in {"yes", "true", "1"}


def _source_grid(src) -> GridSpec | None:
    if src.crs is None or abs(abs(src.transform.a) - abs(src.transform.e)) > 1e-9 or src.transform.b or src.transform.d:
        return None
    return GridSpec(crs=src.crs, transform=src.transform, shape=(src.height, src.width))


def read_dem(path: str | Path, grid: GridSpec, *, study_mask: np.ndarray | None = None,
             declared_synthetic: bool = False) -> RasterLayer:
    """Read a DEM (metres above sea level, any CRS) onto ``grid`` with bilinear resampling.

    Parameters
    ----------
    study_mask
        Bool array of the grid shape: the cells that must have terrain (the districts).
        ``None`` means every cell.

    Raises
    ------
    RasterError
        When any study cell lacks terrain, or elevations are outside -450..8900 m.
    """
    with _open(path) as src:
        if src.crs is None:
            raise CRSError(f"{path}: DEM has no CRS; expected a georeferenced GeoTIFF (e.g. EPSG:4326 SRTM)")
        tags = src.tags()
        values = np.full(grid.shape, np.nan, dtype=np.float32)
        reproject(
            source=rasterio.band(src, 1), destination=values, src_transform=src.transform,
            src_crs=src.crs, src_nodata=src.nodata, dst_transform=grid.transform, dst_crs=grid.crs,
            dst_nodata=np.nan, resampling=Resampling.bilinear,
        )
    mask = np.ones(grid.shape, dtype=bool) if study_mask is None else study_mask
    problems = []
    missing = mask & ~np.isfinite(values)
    if missing.any():
        rows, cols = np.nonzero(missing)
        xs, ys = grid.xy(rows, cols)
        problems.append(
            f"no terrain for {missing.sum():,} of {mask.sum():,} study-area cells "
            f"({missing.sum() / max(mask.sum(), 1):.1%}) in x {xs.min():.0f}..{xs.max():.0f}, "
            f"y {ys.min():.0f}..{ys.max():.0f} ({grid.crs.to_string()}); the DEM must cover the whole "
            "study area (missing terrain is not taken as sea level)"
        )
    finite = values[np.isfinite(values)]
    if finite.size and (finite.min() < DEM_RANGE_M[0] or finite.max() > DEM_RANGE_M[1]):
        problems.append(f"elevations {finite.min():.0f}..{finite.max():.0f} m outside the plausible "
                        f"{DEM_RANGE_M[0]:.0f}..{DEM_RANGE_M[1]:.0f} m (wrong units or nodata not declared?)")
    if problems:
        raise RasterError(f"{path}: " + "; ".join(problems))
    synthetic = declared_synthetic or _synthetic_tag(tags)
    rec = record_for("terrain", path, crs=str(src.crs), synthetic=synthetic)
    return RasterLayer(values=values, record=rec, synthetic=synthetic)


def read_population(path: str | Path, grid: GridSpec, *, declared_synthetic: bool = False) -> RasterLayer:
    """Read a population-count raster (persons per cell, any CRS) onto ``grid``, preserving sums.

    Nodata cells hold no people; their number is reported in ``notes``.  Negative counts
    are an error.
    """
    notes: list[str] = []
    with _open(path) as src:
        if src.crs is None:
            raise CRSError(f"{path}: population raster has no CRS")
        tags = src.tags()
        data = src.read(1, masked=True).astype(np.float64)
        src_grid = _source_grid(src)
        valid = ~np.ma.getmaskarray(data) & np.isfinite(data.filled(np.nan))
        raw = data.filled(np.nan)
        negative = valid & (raw < 0)
        if negative.any():
            r, c = np.argwhere(negative)[0]
            raise RasterError(f"{path}: {negative.sum():,} cells have negative population "
                              f"(first at row {r}, col {c}: {raw[r, c]}); expected persons per cell >= 0")
        counts = np.where(valid, raw, 0.0)
        n_nodata = int((~valid).sum())
        if n_nodata:
            notes.append(f"{n_nodata:,} nodata cells read as unpopulated")
        input_total = float(counts.sum())
        if src_grid is not None and src_grid.same_as(grid):
            values = counts.astype(np.float32)
            notes.append("raster already on the analysis grid: read without resampling")
        else:
            values = np.zeros(grid.shape, dtype=np.float32)
            reproject(
                source=counts.astype(np.float32), destination=values, src_transform=src.transform,
                src_crs=src.crs, dst_transform=grid.transform, dst_crs=grid.crs,
                src_nodata=None, dst_nodata=None, resampling=Resampling.sum,
            )
            notes.append(f"resampled to the analysis grid with area-weighted sum: input total "
                         f"{input_total:,.0f}, grid total {float(values.sum(dtype=np.float64)):,.0f}")
    synthetic = declared_synthetic or _synthetic_tag(tags)
    rec = record_for("population", path, crs=str(src.crs), synthetic=synthetic, notes=tuple(notes))
    return RasterLayer(values=values, record=rec, synthetic=synthetic, input_total=input_total,
                       notes=tuple(notes))
