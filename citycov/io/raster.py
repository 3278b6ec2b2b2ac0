"""Raster inputs (DEM, population), reprojected once onto the analysis grid.

* The DEM is resampled bilinearly.  Cells of the study area that the DEM does not cover,
  or covers only with nodata, are an error: missing terrain is never taken as sea level.
* Population counts are never resampled by nearest or bilinear (that loses or invents
  people).  A raster already on the analysis grid is read as is; any other is moved by the
  area of each source cell's overlap with each grid cell (:mod:`citycov.regrid`), and the
  totals before and after are reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError
from rasterio.warp import Resampling, reproject

from citycov.errors import CRSError, RasterError, raise_problems
from citycov.grid import GridSpec
from citycov.io._validate import one_line
from citycov.io.mosaic import describe_source, open_source
from citycov.provenance import InputRecord, record_for
from citycov.regrid import move_counts
from citycov.tilepaths import RasterSource

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


@contextmanager
def open_raster(path: RasterSource, *, require_data: bool = True) -> Iterator[rasterio.DatasetReader]:
    """Open a raster for reading, as a context manager (the front door of every raster).

    ``path`` is one file, one GDAL virtual path (``/vsizip/…``) or a sequence of tiles, opened
    as one mosaic (:mod:`citycov.io.mosaic`).

    Raises
    ------
    InputFileError
        The file (or a tile) is missing, or GDAL cannot open it as a raster.
    RasterError
        The file is empty (0 bytes); tiles differ in CRS, cell size, data type, band count or
        nodata; band 1 has no valid cell (every cell nodata or NaN, with ``require_data``); or
        the cells cannot be read (a truncated or corrupt file), also while the caller reads it.
    """
    name = describe_source(path)
    with open_source(path) as src:
        try:
            if require_data:
                _require_valid_cell(src, name)
            yield src
        except (RasterioError, CPLE_BaseError, MemoryError) as exc:
            raise RasterError(f"{name}: cannot read the raster's cells ({one_line(exc)}); expected a complete, "
                              "readable GeoTIFF (a truncated or corrupt file?)") from None


def _require_valid_cell(src: rasterio.DatasetReader, path: str) -> None:
    """RasterError unless band 1 has a cell that is neither nodata nor NaN/inf (read block by
    block, stopping at the first block with one)."""
    if src.count < 1:
        raise RasterError(f"{path}: has no band; expected a single-band raster")
    if not np.issubdtype(np.dtype(src.dtypes[0]), np.number) or np.issubdtype(np.dtype(src.dtypes[0]),
                                                                                 np.complexfloating):
        raise RasterError(f"{path}: band 1 holds {src.dtypes[0]} values; expected real numbers")
    for _, window in src.block_windows(1):
        block = src.read(1, window=window, masked=True)
        if (~np.ma.getmaskarray(block) & np.isfinite(block.filled(0))).any():
            return
    raise RasterError(f"{path}: has no valid cell: all {src.width * src.height:,} cells of band 1 are nodata "
                      f"(nodata = {src.nodata!r}) or NaN; expected values over the study area")


def tagged_synthetic(tags: dict) -> bool:
    """Whether a raster's tags mark it synthetic (``SYNTHETIC=yes``, ``true`` or ``1``)."""
    return str(tags.get("SYNTHETIC", "")).strip().lower() in {"yes", "true", "1"}


def _source_grid(src) -> GridSpec | None:
    if src.crs is None or abs(abs(src.transform.a) - abs(src.transform.e)) > 1e-9 or src.transform.b or src.transform.d:
        return None
    return GridSpec(crs=src.crs, transform=src.transform, shape=(src.height, src.width))


def read_dem(path: RasterSource, grid: GridSpec, *, study_mask: np.ndarray | None = None,
             declared_synthetic: bool = False) -> RasterLayer:
    """Read a DEM (metres above sea level, any CRS) onto ``grid`` with bilinear resampling.

    Parameters
    ----------
    path
        One file (GeoTIFF, VRT, SRTM ``.hgt``, ...), one ``/vsizip/`` path, or a sequence of
        tiles read as one mosaic (:mod:`citycov.io.mosaic`).
    study_mask
        Bool array of the grid shape: the cells that must have terrain (the districts).
        ``None`` means every cell.

    Raises
    ------
    RasterError
        When any study cell lacks terrain, or elevations are outside -450..8900 m.
    """
    name = describe_source(path)
    with open_raster(path) as src:
        if src.crs is None:
            raise CRSError(f"{name}: DEM has no CRS; expected a georeferenced GeoTIFF (e.g. EPSG:4326 SRTM)")
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
        raise RasterError(f"{name}: " + "; ".join(problems))
    synthetic = declared_synthetic or tagged_synthetic(tags)
    rec = record_for("terrain", path, crs=str(src.crs), synthetic=synthetic)
    return RasterLayer(values=values, record=rec, synthetic=synthetic)


POPULATION_UNITS = ("count", "per_km2")
MAX_POPULATION_DENSITY_PER_KM2 = 1e6
"""Highest density a population cell may have, persons/km².  The densest city blocks on Earth
(parts of Dhaka, Mumbai's Dharavi, Hong Kong's Mong Kok, old Kowloon Walled City at its peak)
hold about 1e5 persons/km²; ten times that can only be wrong units (densities read as counts of
a larger cell), an undeclared nodata value (1e12, 3.4e38) or a corrupted cell."""


def _cell_area_km2(src) -> np.ndarray:
    """Area of each source cell in km², per row (float64, shape (height, 1)).

    Geographic CRSs: the geodesic area of each row's cell on the CRS's own ellipsoid.
    Projected CRSs: from the transform, in the CRS's linear unit (metres, feet, ...).
    """
    import pyproj

    crs = pyproj.CRS(src.crs)
    t = src.transform
    if crs.is_geographic:
        geod = crs.get_geod() or pyproj.Geod(ellps="WGS84")
        rows = np.arange(src.height)
        lat_top = t.f + rows * t.e
        lat_bot = lat_top + t.e
        lon0, lon1 = t.c, t.c + t.a
        areas = np.array([abs(geod.polygon_area_perimeter([lon0, lon1, lon1, lon0], [a, a, b, b])[0])
                          for a, b in zip(lat_top, lat_bot, strict=True)])
        return (areas / 1e6)[:, None]
    unit_m = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return np.full((src.height, 1), abs(t.a * t.e - t.b * t.d) * unit_m ** 2 / 1e6)


def resample_counts(counts: np.ndarray, src_transform, src_crs, grid: GridSpec) -> tuple[np.ndarray, float]:
    """Move counts onto ``grid`` exactly by area: every source cell, its edges densified and
    transformed to the grid CRS, is split over the grid cells in proportion to the area of its
    overlap with each (:func:`citycov.regrid.move_counts`; people are moved, never interpolated).

    Returns the grid counts (float64) and the count that fell outside the grid.
    """
    moved, outside, _ = move_counts(counts, src_transform, src_crs, grid)
    return moved, outside


def check_population_values(path: str | Path, raw: np.ndarray, data_cells: np.ndarray, area_km2: np.ndarray, *,
                            units: str = "count") -> None:
    """Refuse a population raster whose cells cannot be people, in its own CRS.

    Parameters
    ----------
    raw
        float64 cell values of the raster (rows, cols).
    data_cells
        bool, same shape: the cells that are not nodata.
    area_km2
        Area of each cell, km² (broadcast against ``raw``, e.g. one value per row).
    units
        ``"count"`` (persons per cell) or ``"per_km2"`` (persons per km²).

    Raises
    ------
    RasterError
        Listing, with the count of cells and the first one (row, col, value): non-finite values
        (NaN, ±inf) in data cells, negative values, and densities above
        :data:`MAX_POPULATION_DENSITY_PER_KM2`.
    """
    problems = []
    per = "per km²" if units == "per_km2" else "per cell"
    finite = np.isfinite(raw)
    non_finite = data_cells & ~finite
    if non_finite.any():
        r, c = np.argwhere(non_finite)[0]
        problems.append(f"{non_finite.sum():,} cells have non-finite population (NaN or ±inf) and are not nodata "
                        f"(first at row {r}, col {c}: {raw[r, c]}); expected finite persons {per}, "
                        "or declare the raster's nodata value")
    valid = data_cells & finite
    negative = valid & (raw < 0)
    if negative.any():
        r, c = np.argwhere(negative)[0]
        problems.append(f"{negative.sum():,} cells have negative population "
                        f"(first at row {r}, col {c}: {raw[r, c]}); expected persons {per} >= 0")
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(valid, raw if units == "per_km2" else raw / area_km2, 0.0)
    dense = valid & (density > MAX_POPULATION_DENSITY_PER_KM2)
    if dense.any():
        r, c = np.argwhere(dense)[0]
        problems.append(f"{dense.sum():,} cells exceed {MAX_POPULATION_DENSITY_PER_KM2:,.0f} persons/km² "
                        f"(first at row {r}, col {c}: value {raw[r, c]:g}, density {density[r, c]:.3g} "
                        f"persons/km²); wrong units ([inputs.population].units = \"{units}\") or nodata not declared?")
    raise_problems(RasterError, str(path), problems)


def read_population(path: RasterSource, grid: GridSpec, *, declared_synthetic: bool = False,
                    units: str = "count") -> RasterLayer:
    """Read a population raster (any CRS) onto ``grid``, preserving the number of people.

    Parameters
    ----------
    path
        One file, one ``/vsizip/`` path, or a sequence of tiles read as one mosaic
        (:mod:`citycov.io.mosaic`), e.g. WorldPop country tiles.
    units
        ``"count"`` (persons per cell, e.g. WorldPop counts, GHS-POP) or ``"per_km2"``
        (density; converted to counts with each source cell's geodesic area).

    A raster already on the analysis grid is read as is; any other is moved with
    :func:`resample_counts` (exact: the total is conserved, apart from people outside the
    grid, which are reported).  Nodata cells hold no people; their number is reported.
    Negative or non-finite values (NaN, ±inf in cells that are not nodata) and densities above
    :data:`MAX_POPULATION_DENSITY_PER_KM2` are an error (:func:`check_population_values`),
    checked in the raster's own CRS before it is moved.
    """
    name = describe_source(path)
    if units not in POPULATION_UNITS:
        raise RasterError(f"{name}: population units must be one of {list(POPULATION_UNITS)}, got {units!r}")
    notes: list[str] = []
    with open_raster(path) as src:
        if src.crs is None:
            raise CRSError(f"{name}: population raster has no CRS")
        tags = src.tags()
        data = src.read(1, masked=True).astype(np.float64)
        src_grid = _source_grid(src)
        raw = data.filled(np.nan)
        valid = ~np.ma.getmaskarray(data) & np.isfinite(raw)
        area_km2 = _cell_area_km2(src)
        check_population_values(name, raw, ~np.ma.getmaskarray(data), area_km2, units=units)
        values = np.where(valid, raw, 0.0)
        if not (values > 0).any():
            raise RasterError(f"{name}: holds no people: every one of its {int(valid.sum()):,} valid cells is 0; "
                              "expected persons per cell (or per km²) over the study area")
        if units == "per_km2":
            values = values * area_km2
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
            notes.append(f"moved to the analysis grid by exact area overlap: input total {input_total:,.0f}, "
                         f"grid total {moved.sum():,.0f}, outside the grid {outside:,.0f}")
        src_crs, src_transform = src.crs, src.transform
    synthetic = declared_synthetic or tagged_synthetic(tags)
    rec = record_for("population", path, crs=str(src_crs), synthetic=synthetic, notes=tuple(notes))
    return RasterLayer(values=out, record=rec, synthetic=synthetic, input_total=input_total,
                       notes=tuple(notes), source_counts=values, source_transform=src_transform,
                       source_crs=src_crs)
