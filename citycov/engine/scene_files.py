"""The engine's scene built out of core: terrain, environment classes and evaluated cells written
window by window into the tiled GeoTIFFs that :class:`citycov.engine.tile_tasks.RasterScene` reads.

The in-memory pipeline (:func:`citycov.pipeline.layers.build_layers`) reads each input onto the
whole grid and then derives the engine's layers; at a province's size at 30 m (Guangdong: 19,631 x
26,230 cells, 515 M) no process can hold those grids.  :func:`write_scene_files` computes the same
three layers one window of the engine grid at a time (``block`` x ``block`` cells), so that its
memory is bounded by the window and not by the grid:

``dem_m``
    The terrain file resampled bilinearly onto the window (the same GDAL warp as
    :func:`citycov.io.read_dem`, with the window's own transform; NaN where the DEM has no data).
``env``
    Environment classes (:func:`citycov.engine.cellular.environment_classes`) of the residents per
    cell: the population raster read on the window when it lies on the grid's lattice, else moved
    onto it by exact area overlap from the source window that reaches it
    (:func:`citycov.regrid.move_counts`, as :func:`citycov.io.read_population` does for the whole
    grid).  Class 3 (open) in the engine grid's pad around the analysis grid.
``active``
    The study area: cells whose centre lies in a district, grown by ``margin_m``
    (:func:`citycov.pipeline.layers.study_area`'s distance rule), computed on the window padded by
    the margin, so that it is exact at the window's edges.  False in the pad.

Each cell depends only on the inputs near it, so the files equal the whole-grid layers cell for
cell (``tests/test_engine_scene_files.py``), but for the terrain between CRSs, which GDAL's warp gives
to a few centimetres of the whole grid's (:func:`_terrain`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj
import rasterio
import shapely
from affine import Affine
from rasterio.features import rasterize
from rasterio.warp import Resampling, reproject
from rasterio.windows import Window

from citycov.engine.cellular import environment_classes
from citycov.engine.tile_tasks import RasterScene, SceneConstants, open_tiled
from citycov.engine.tiles import tile_windows
from citycov.errors import RasterError
from citycov.grid import GridSpec
from citycov.io import Districts
from citycov.io.mosaic import describe_source
from citycov.io.raster import DEM_RANGE_M, open_raster
from citycov.regrid import move_counts, source_window
from citycov.tilepaths import RasterSource

BLOCK_CELLS = 2048
"""Largest side of the square windows the scene is built in, cells: 4 M cells, some 100-200 MB of
work arrays (the whole 515 M-cell Guangdong scene at 30 m peaked at 1.06 GB in a process that
also held the 183,618-sector table; ``benchmarks/bench_province.py``)."""
BLOCK_M = 61_440.0
"""Largest side of a window on the ground, m (2048 cells of 30 m): bounds the windows of the
terrain and population rasters read for it, whatever the cell size (at 500 m a window of 2048
cells would read a province's population raster whole)."""


@dataclass(frozen=True)
class SceneFiles:
    """The scene written by :func:`write_scene_files` and what it holds."""

    scene: RasterScene
    active_cells: int
    """Cells to evaluate (the study area)."""
    district_cells: int
    """Cells whose centre lies in a district."""
    windows: int


def window_grid(grid: GridSpec, window: tuple[int, int, int, int]) -> GridSpec:
    """The grid of the cells ``window`` = (row0, row1, col0, col1) of ``grid`` (same lattice)."""
    r0, r1, c0, c1 = window
    t = grid.transform
    return GridSpec(crs=grid.crs, transform=Affine(t.a, t.b, t.c + c0 * t.a, t.d, t.e, t.f + r0 * t.e),
                    shape=(r1 - r0, c1 - c0))


def write_scene_files(folder: Path, grid: GridSpec, *, districts: Districts, terrain: RasterSource,
                      population: RasterSource, thresholds: Mapping[str, float], margin_m: float | None,
                      constants: SceneConstants, offset: tuple[int, int] = (0, 0),
                      shape: tuple[int, int] | None = None, population_units: str = "count",
                      block: int | None = None) -> SceneFiles:
    """Write the engine's scene on ``grid`` into ``folder`` window by window (see the module).

    Parameters
    ----------
    grid
        The engine grid (projected CRS, metres): the analysis grid, or a grid on its lattice padded
        around it (:class:`citycov.pipeline.engine_area.EngineArea`).
    districts
        The district polygons in ``grid.crs``.
    terrain, population
        The scenario's terrain (any CRS) and population raster (persons per cell, any CRS).
    thresholds
        Residents per km² of the environment classes (``[radio].env_density_per_km2``).
    margin_m
        Cells evaluated beyond the districts (``[radio].study_margin_m``); ``None``: every cell of
        the analysis grid.
    offset, shape
        (row, col) of the analysis grid's first cell in ``grid`` and its shape (default: ``grid``).
    block
        Side of the windows, cells (at least 16); default :data:`BLOCK_CELLS`, at most
        :data:`BLOCK_M` on the ground.

    Raises
    ------
    RasterError
        When cells of a district have no terrain, elevations are implausible (as
        :func:`citycov.io.read_dem`), or the population is not in persons per cell.
    """
    if population_units != "count":
        raise RasterError(f"{describe_source(population)}: the out-of-core scene reads population counts per cell; "
                          f"units = {population_units!r} is read only by the in-memory pipeline")
    if block is None:
        block = max(256, min(BLOCK_CELLS, int(BLOCK_M // grid.cell_m)))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows, cols = grid.shape
    shape = tuple(shape or grid.shape)
    area = (offset[0], offset[0] + shape[0], offset[1], offset[1] + shape[1])
    pad = 0 if margin_m is None or margin_m <= 0 else int(math.ceil(margin_m / grid.cell_m)) + 1
    shapes = _Districts(districts, grid)
    paths = {name: folder / f"scene_{name}.tif" for name in ("dem_m", "env", "active")}
    missing = district_cells = active_cells = windows = 0
    lo, hi = math.inf, -math.inf
    with open_raster(terrain) as dem_src, open_raster(population) as pop_src, \
            open_tiled(paths["dem_m"], grid, np.float32) as dem_dst, \
            open_tiled(paths["env"], grid, np.int8) as env_dst, \
            open_tiled(paths["active"], grid, np.uint8) as active_dst:
        people = _Population(pop_src, grid)
        for win in tile_windows(rows, cols, block):
            r0, r1, c0, c1 = win
            where = Window(c0, r0, c1 - c0, r1 - r0)
            dem = _terrain(dem_src, window_grid(grid, win))
            env = np.full((r1 - r0, c1 - c0), 3, dtype=np.int8)
            active = np.zeros((r1 - r0, c1 - c0), dtype=np.uint8)
            inner = _intersect(win, area)
            if inner is not None:
                a0, a1, b0, b1 = inner
                cut = (slice(a0 - r0, a1 - r0), slice(b0 - c0, b1 - c0))
                counts = people.window(window_grid(grid, inner), inner)
                env[cut] = environment_classes(counts, window_grid(grid, inner), dict(thresholds))
                inside, study = shapes.study(inner, area, pad, margin_m)
                active[cut] = study
                district_cells += int(inside.sum())
                missing += int((inside & ~np.isfinite(dem[cut])).sum())
            finite = dem[np.isfinite(dem)]
            if finite.size:
                lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
            dem_dst.write(dem, 1, window=where)
            env_dst.write(env, 1, window=where)
            active_dst.write(active, 1, window=where)
            active_cells += int(active.sum())
            windows += 1
    problems = []
    if missing:
        problems.append(f"no terrain for {missing:,} of {district_cells:,} district cells; the DEM must cover the "
                        "whole study area (missing terrain is not taken as sea level)")
    if lo < DEM_RANGE_M[0] or hi > DEM_RANGE_M[1]:
        problems.append(f"elevations {lo:.0f}..{hi:.0f} m outside the plausible {DEM_RANGE_M[0]:.0f}.."
                        f"{DEM_RANGE_M[1]:.0f} m (wrong units or nodata not declared?)")
    if problems:
        raise RasterError(f"{describe_source(terrain)}: " + "; ".join(problems))
    scene = RasterScene(paths={k: str(v) for k, v in paths.items()}, shape=(rows, cols), constants=constants)
    return SceneFiles(scene=scene, active_cells=active_cells, district_cells=district_cells, windows=windows)


def _intersect(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int] | None:
    r0, r1 = max(a[0], b[0]), min(a[1], b[1])
    c0, c1 = max(a[2], b[2]), min(a[3], b[3])
    return (r0, r1, c0, c1) if r0 < r1 and c0 < c1 else None


def _terrain(src: rasterio.DatasetReader, grid: GridSpec) -> np.ndarray:
    """float32 terrain on ``grid`` (NaN: none), bilinear, as :func:`citycov.io.read_dem` warps it.

    Between CRSs GDAL's warp of a window is not bit for bit its part of the whole grid's warp: the
    source pixel positions depend a little on where the output chunk starts in x (measured: up to
    0.02-0.04 m on a synthetic DEM with 5 m of pixel-to-pixel noise, 0 in the same CRS, 0 for
    full-width row windows; neither the exact transformer, ``XSCALE``/``YSCALE`` nor
    ``SRC_COORD_PRECISION`` removed it).  GDAL splits the whole grid into chunks too."""
    values = np.full(grid.shape, np.nan, dtype=np.float32)
    reproject(source=rasterio.band(src, 1), destination=values, src_transform=src.transform, src_crs=src.crs,
              src_nodata=src.nodata, dst_transform=grid.transform, dst_crs=grid.crs, dst_nodata=np.nan,
              resampling=Resampling.bilinear)
    return values


class _Population:
    """Residents per cell of windows of the grid, from a population raster of counts."""

    def __init__(self, src: rasterio.DatasetReader, grid: GridSpec) -> None:
        self.src = src
        self.offset = _lattice_offset(src, grid)

    def window(self, grid: GridSpec, win: tuple[int, int, int, int]) -> np.ndarray:
        """float32 residents per cell of ``grid`` (the cells ``win`` of the engine grid)."""
        src = self.src
        if self.offset is not None:  # the raster's cells are the grid's: read, no resampling
            dr, dc = self.offset
            r0, r1, c0, c1 = win
            data = src.read(1, window=Window(c0 + dc, r0 + dr, c1 - c0, r1 - r0), boundless=True, masked=True)
            return _counts(data).astype(np.float32)
        s0, s1, t0, t1 = source_window(src.transform, src.crs, (src.height, src.width), grid)
        if s0 >= s1 or t0 >= t1:
            return np.zeros(grid.shape, dtype=np.float32)
        data = src.read(1, window=Window(t0, s0, t1 - t0, s1 - s0), masked=True)
        moved, _, _ = move_counts(_counts(data), src.window_transform(Window(t0, s0, t1 - t0, s1 - s0)), src.crs,
                                  grid)
        return moved.astype(np.float32)


def _counts(data: np.ma.MaskedArray) -> np.ndarray:
    """float64 counts: nodata and non-finite cells hold no people (as :func:`citycov.io.read_population`)."""
    raw = data.astype(np.float64).filled(np.nan)
    return np.where(np.isfinite(raw), raw, 0.0)


def _lattice_offset(src: rasterio.DatasetReader, grid: GridSpec) -> tuple[int, int] | None:
    """(row, col) of the grid's first cell in the raster when the raster's cells are the grid's
    (same CRS, cell size and lattice, to 1 mm); else None."""
    t, g = src.transform, grid.transform
    if src.crs is None or not pyproj.CRS(src.crs).equals(grid.crs, ignore_axis_order=True):
        return None
    if abs(t.a - g.a) > 1e-3 or abs(t.e - g.e) > 1e-3 or t.b or t.d:
        return None
    dc, dr = (g.c - t.c) / g.a, (g.f - t.f) / g.e
    if abs(dc - round(dc)) * g.a > 1e-3 or abs(dr - round(dr)) * g.a > 1e-3:
        return None
    return int(round(dr)), int(round(dc))


class _Districts:
    """The districts rasterized by cell centre on windows, and the study area grown around them."""

    def __init__(self, districts: Districts, grid: GridSpec) -> None:
        self.geoms = np.asarray(districts.frame.geometry.array)
        self.tree = shapely.STRtree(self.geoms)
        self.grid = grid

    def inside(self, win: tuple[int, int, int, int]) -> np.ndarray:
        """bool: cells of ``win`` whose centre lies in a district (the cell-centre rule of
        :func:`citycov.accounting.population.district_index`)."""
        sub = window_grid(self.grid, win)
        near = self.tree.query(shapely.box(*sub.bounds))
        if not near.size:
            return np.zeros(sub.shape, dtype=bool)
        index = rasterize(((self.geoms[i], 1) for i in sorted(near)), out_shape=sub.shape, transform=sub.transform,
                          fill=0, dtype="uint8", all_touched=False)
        return index.astype(bool)

    def study(self, win: tuple[int, int, int, int], area: tuple[int, int, int, int], pad: int,
              margin_m: float | None) -> tuple[np.ndarray, np.ndarray]:
        """District cells of ``win`` and the study area there: cells within ``margin_m`` of a
        district cell (centre to centre, as :func:`citycov.pipeline.layers.study_area`), computed
        on ``win`` grown by ``pad`` cells within the analysis grid ``area``."""
        r0, r1, c0, c1 = win
        big = (max(area[0], r0 - pad), min(area[1], r1 + pad), max(area[2], c0 - pad), min(area[3], c1 + pad))
        inside_big = self.inside(big)
        cut = (slice(r0 - big[0], r1 - big[0]), slice(c0 - big[2], c1 - big[2]))
        inside = inside_big[cut]
        if margin_m is None:
            return inside, np.ones(inside.shape, dtype=bool)
        if margin_m <= 0 or not inside_big.any():
            return inside, inside.copy()
        from scipy.ndimage import distance_transform_edt

        dist = distance_transform_edt(~inside_big)
        return inside, dist[cut] * self.grid.cell_m <= margin_m
