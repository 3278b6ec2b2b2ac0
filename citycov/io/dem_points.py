"""Ground heights at points, read from the DEM file itself (not from a grid resampled from it).

A site's ground height then depends only on the DEM and the site, never on the analysis
grid's cell size or extent: a mast in the outer half cell of the grid, or outside it, gets the
same height as anywhere else the DEM covers.
"""

from __future__ import annotations

import math

import numpy as np
import pyproj
import rasterio
from rasterio.windows import Window

from citycov.errors import CRSError, RasterError
from citycov.io.mosaic import RasterSource, open_source
from citycov.io.raster import open_raster

DEM_RANGE_M = (-450.0, 8900.0)
"""Plausible elevations (m): the Dead Sea shore to above Everest (as :mod:`citycov.io.raster`)."""
ONE_READ_MAX_PIXELS = 4_000_000
"""Points whose bounding window holds at most this many pixels are sampled from one read."""


def sample_dem(path: RasterSource, x: np.ndarray, y: np.ndarray, *, crs: pyproj.CRS | str) -> np.ndarray:
    """Bilinear ground height (m) at points, from the DEM's own pixels.

    Parameters
    ----------
    path
        A raster source (:func:`citycov.io.mosaic.open_source`: a file, VRT, ``/vsizip/...`` path
        or tiles); band 1 is the elevation in metres, its nodata value and NaN are no data.
    x, y
        float64 point coordinates in ``crs`` (reprojected to the DEM's CRS here).

    Returns
    -------
    numpy.ndarray
        float64, one height per point, NaN where the DEM has no data at the point: outside its
        footprint, or in a pixel that is nodata.  Elsewhere the bilinear interpolation of the
        four pixel centres around the point, with the weights renormalised over those that have
        data; in the DEM's outer half pixel the position is clamped to the last pixel centres, so
        every point inside the footprint over a pixel with data has a height.

    Raises
    ------
    RasterError
        When a height is outside -450..8900 m (wrong units or an undeclared nodata value).

    Examples
    --------
    >>> sample_dem("dem.tif", np.array([500_000.0]), np.array([2_550_000.0]), crs="EPSG:32649")  # doctest: +SKIP
    array([12.5])
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    out = np.full(x.size, np.nan)
    if not x.size:
        return out
    with open_source(path) as src:
        if src.crs is None:
            raise CRSError(f"{path}: DEM has no CRS; expected a georeferenced raster (e.g. EPSG:4326 SRTM)")
        xd, yd = pyproj.Transformer.from_crs(pyproj.CRS(crs), src.crs, always_xy=True).transform(x, y)
        xd, yd = np.asarray(xd, dtype=np.float64), np.asarray(yd, dtype=np.float64)
        inv = ~src.transform
        col_px = inv.a * xd + inv.b * yd + inv.c
        row_px = inv.d * xd + inv.e * yd + inv.f
        h, w = src.height, src.width
        covered = (col_px >= 0) & (col_px < w) & (row_px >= 0) & (row_px < h) & np.isfinite(col_px)
        if not covered.any():
            return out
        # pixel-centre coordinates, clamped to the last centres (the outer half pixel)
        col_f = np.clip(col_px[covered] - 0.5, 0.0, w - 1.0)
        row_f = np.clip(row_px[covered] - 0.5, 0.0, h - 1.0)
        c0 = np.minimum(np.floor(col_f).astype(np.int64), max(w - 2, 0))
        r0 = np.minimum(np.floor(row_f).astype(np.int64), max(h - 2, 0))
        corners = _corner_values(src, r0, c0)
    fr, fc = row_f - r0, col_f - c0
    weights = np.stack([(1 - fr) * (1 - fc), (1 - fr) * fc, fr * (1 - fc), fr * fc], axis=1)
    # the pixel that contains the point must have data; the others only lend their weight
    own = (np.rint(row_f) - r0).astype(np.int64) * 2 + (np.rint(col_f) - c0).astype(np.int64)
    own = np.clip(own, 0, 3)
    own_valid = np.isfinite(corners[np.arange(len(own)), own])
    valid = np.isfinite(corners)
    wsum = np.where(valid, weights, 0.0).sum(axis=1)
    value = np.where(valid, weights * np.nan_to_num(corners), 0.0).sum(axis=1)
    heights = np.where(own_valid & (wsum > 0), value / np.where(wsum > 0, wsum, 1.0), np.nan)
    bad = np.isfinite(heights) & ((heights < DEM_RANGE_M[0]) | (heights > DEM_RANGE_M[1]))
    if bad.any():
        raise RasterError(f"{path}: elevations {heights[bad].min():.0f}..{heights[bad].max():.0f} m under "
                          f"{int(bad.sum())} points outside the plausible {DEM_RANGE_M[0]:.0f}..{DEM_RANGE_M[1]:.0f} m "
                          "(wrong units or nodata not declared?)")
    out[covered] = heights
    return out


def _corner_values(src: rasterio.DatasetReader, r0: np.ndarray, c0: np.ndarray) -> np.ndarray:
    """float64 (n, 4): band 1 at (r0, c0), (r0, c0+1), (r0+1, c0), (r0+1, c0+1), NaN for no data
    (a 1-pixel-wide or -high DEM repeats its only row or column)."""
    h, w = src.height, src.width
    r1 = np.minimum(r0 + 1, h - 1)
    c1 = np.minimum(c0 + 1, w - 1)
    lo_r, hi_r, lo_c, hi_c = int(r0.min()), int(r1.max()), int(c0.min()), int(c1.max())
    if (hi_r - lo_r + 1) * (hi_c - lo_c + 1) <= ONE_READ_MAX_PIXELS:
        block = _read(src, lo_r, lo_c, hi_r - lo_r + 1, hi_c - lo_c + 1)
        return np.stack([block[r0 - lo_r, c0 - lo_c], block[r0 - lo_r, c1 - lo_c],
                         block[r1 - lo_r, c0 - lo_c], block[r1 - lo_r, c1 - lo_c]], axis=1)
    out = np.empty((r0.size, 4))
    for i in range(r0.size):  # points spread over a huge DEM: one 2 x 2 window each
        block = _read(src, int(r0[i]), int(c0[i]), int(r1[i] - r0[i]) + 1, int(c1[i] - c0[i]) + 1)
        out[i] = block[0, 0], block[0, -1], block[-1, 0], block[-1, -1]
    return out


def _read(src: rasterio.DatasetReader, row0: int, col0: int, rows: int, cols: int) -> np.ndarray:
    """float64 window of band 1, nodata and non-finite values as NaN."""
    values = src.read(1, window=Window(col0, row0, cols, rows), masked=True)
    data = np.asarray(values.astype(np.float64).filled(np.nan), dtype=np.float64)
    data[~np.isfinite(data)] = np.nan
    return data


def dem_extent(path: RasterSource) -> tuple[tuple[float, float, float, float], pyproj.CRS]:
    """The DEM's bounds (left, bottom, right, top) in its own CRS, and that CRS."""
    with open_source(path) as src:
        return tuple(src.bounds), pyproj.CRS(src.crs)


def require_ground(path: RasterSource, x: np.ndarray, y: np.ndarray, *, crs: pyproj.CRS | str, ids: np.ndarray,
                   what: str = "sectors") -> np.ndarray:
    """:func:`sample_dem`, raising a :class:`RasterError` naming the points (``ids``) that have no
    height, the DEM's bounds and the bounds the points need, both in the DEM's CRS."""
    ground = sample_dem(path, x, y, crs=crs)
    missing = np.isnan(ground)
    if missing.any():
        with open_raster(path):  # a DEM with no valid cell at all says so first
            pass
        bounds, dem_crs = dem_extent(path)
        xd, yd = pyproj.Transformer.from_crs(pyproj.CRS(crs), dem_crs, always_xy=True).transform(
            np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        need = (float(np.min(xd)), float(np.min(yd)), float(np.max(xd)), float(np.max(yd)))
        raise RasterError(
            f"{path}: terrain: no elevation under {int(missing.sum())} {what} "
            f"{[str(i) for i in np.asarray(ids)[missing][:10]]} (outside the DEM or over nodata); the DEM covers "
            f"{_fmt_bounds(bounds)}, the {what} lie in {_fmt_bounds(need)} ({dem_crs.to_string()}); the DEM must "
            f"have data under every modelled {what[:-1] if what.endswith('s') else what}")
    return ground


def _fmt_bounds(b: tuple[float, float, float, float]) -> str:
    """(left, bottom, right, top) with a precision that suits degrees or metres."""
    digits = 4 if max(abs(v) for v in b) <= 360.0 else 0
    return "(" + ", ".join(f"{v:.{digits}f}" if math.isfinite(v) else str(v) for v in b) + ")"
