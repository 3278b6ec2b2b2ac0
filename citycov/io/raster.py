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
    source_counts: np.ndarray | None = None
    source_transform: object = None
    source_crs: object = None


def open_raster(path: str | Path) -> rasterio.DatasetReader:
    """Open a raster file for reading; InputFileError when it is missing or not a raster."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: file not found")
    try:
        return rasterio.open(path)
    except RasterioIOError as exc:
        raise InputFileError(f"{path}: cannot read as a raster: {exc}") from exc


def tagged_synthetic(tags: dict) -> bool:
    """Whether a raster's tags mark it synthetic (``SYNTHETIC=yes``, ``true`` or ``1``)."""
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
    with open_raster(path) as src:
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
    synthetic = declared_synthetic or tagged_synthetic(tags)
    rec = record_for("terrain", path, crs=str(src.crs), synthetic=synthetic)
    return RasterLayer(values=values, record=rec, synthetic=synthetic)


POPULATION_UNITS = ("count", "per_km2")


def _cell_area_km2(src) -> np.ndarray:
    """Area of each source cell in km², per row (geodesic for geographic CRSs)."""
    if src.crs.is_geographic:
        import pyproj

        geod = pyproj.Geod(ellps="WGS84")
        t = src.transform
        rows = np.arange(src.height)
        lat_top = t.f + rows * t.e
        lat_bot = lat_top + t.e
        lon0, lon1 = t.c, t.c + t.a
        areas = np.array([abs(geod.polygon_area_perimeter([lon0, lon1, lon1, lon0], [a, a, b, b])[0])
                          for a, b in zip(lat_top, lat_bot, strict=True)])
        return (areas / 1e6)[:, None]
    return np.full((src.height, 1), abs(src.transform.a * src.transform.e) / 1e6)


def resample_counts(counts: np.ndarray, src_transform, src_crs, grid: GridSpec, *,
                    oversample: int | None = None) -> tuple[np.ndarray, float]:
    """Move counts onto ``grid`` exactly: every source cell is split into k×k equal parts whose
    centres are transformed to the grid CRS and binned (people are moved, never interpolated).

    Returns the grid counts (float64) and the count that fell outside the grid.
    """
    import pyproj

    if oversample is None:
        src_m = abs(src_transform.a) * (111_000.0 if pyproj.CRS(src_crs).is_geographic else 1.0)
        oversample = int(min(16, max(2, np.ceil(4.0 * src_m / grid.cell_m))))
    k = oversample
    frac = (np.arange(k) + 0.5) / k
    to_grid = pyproj.Transformer.from_crs(src_crs, grid.crs, always_xy=True)
    out = np.zeros(grid.shape[0] * grid.shape[1], dtype=np.float64)
    outside = 0.0
    nz_rows = np.flatnonzero(counts.any(axis=1))
    for start in range(0, nz_rows.size, 64):
        block = nz_rows[start:start + 64]
        r_idx, c_idx = np.nonzero(counts[block] > 0)
        r_idx = block[r_idx]
        vals = counts[r_idx, c_idx] / (k * k)
        sub_c = (c_idx[:, None, None] + frac[None, None, :]) * np.ones((1, k, 1))
        sub_r = (r_idx[:, None, None] + frac[None, :, None]) * np.ones((1, 1, k))
        xs = src_transform.c + sub_c * src_transform.a + sub_r * src_transform.b
        ys = src_transform.f + sub_c * src_transform.d + sub_r * src_transform.e
        gx, gy = to_grid.transform(xs.ravel(), ys.ravel())
        gr, gc = grid.rowcol(np.asarray(gx), np.asarray(gy))
        w = np.repeat(vals, k * k)
        inside = grid.contains(gr, gc)
        outside += float(w[~inside].sum())
        np.add.at(out, gr[inside] * grid.shape[1] + gc[inside], w[inside])
    return out.reshape(grid.shape), outside


def read_population(path: str | Path, grid: GridSpec, *, declared_synthetic: bool = False,
                    units: str = "count") -> RasterLayer:
    """Read a population raster (any CRS) onto ``grid``, preserving the number of people.

    Parameters
    ----------
    units
        ``"count"`` (persons per cell, e.g. WorldPop counts, GHS-POP) or ``"per_km2"``
        (density; converted to counts with each source cell's geodesic area).

    A raster already on the analysis grid is read as is; any other is moved with
    :func:`resample_counts` (exact: the total is conserved, apart from people outside the
    grid, which are reported).  Nodata cells hold no people; their number is reported.
    Negative values are an error.
    """
    if units not in POPULATION_UNITS:
        raise RasterError(f"{path}: population units must be one of {list(POPULATION_UNITS)}, got {units!r}")
    notes: list[str] = []
    with open_raster(path) as src:
        if src.crs is None:
            raise CRSError(f"{path}: population raster has no CRS")
        tags = src.tags()
        data = src.read(1, masked=True).astype(np.float64)
        src_grid = _source_grid(src)
        raw = data.filled(np.nan)
        valid = ~np.ma.getmaskarray(data) & np.isfinite(raw)
        negative = valid & (raw < 0)
        if negative.any():
            r, c = np.argwhere(negative)[0]
            raise RasterError(f"{path}: {negative.sum():,} cells have negative population "
                              f"(first at row {r}, col {c}: {raw[r, c]}); expected persons per cell >= 0")
        values = np.where(valid, raw, 0.0)
        if units == "per_km2":
            values = values * _cell_area_km2(src)
            notes.append("densities (per km²) converted to counts with each cell's geodesic area")
        n_nodata = int((~valid).sum())
        if n_nodata:
            notes.append(f"{n_nodata:,} nodata cells read as unpopulated")
        input_total = float(values.sum())
        if src_grid is not None and src_grid.same_as(grid):
            out = values.astype(np.float32)
            notes.append("raster already on the analysis grid: read without resampling")
        else:
            moved, outside = resample_counts(values, src.transform, src.crs, grid)
            out = moved.astype(np.float32)
            notes.append(f"moved to the analysis grid by exact k×k binning: input total {input_total:,.0f}, "
                         f"grid total {moved.sum():,.0f}, outside the grid {outside:,.0f}")
        src_crs, src_transform = src.crs, src.transform
    synthetic = declared_synthetic or tagged_synthetic(tags)
    rec = record_for("population", path, crs=str(src_crs), synthetic=synthetic, notes=tuple(notes))
    return RasterLayer(values=out, record=rec, synthetic=synthetic, input_total=input_total,
                       notes=tuple(notes), source_counts=values, source_transform=src_transform,
                       source_crs=src_crs)
