"""Line of sight and viewsheds over a DEM: which cells an observer sees, for one observer or many.

Definition (the *exact per-cell line of sight* every answer here is held to).  The observer
stands on a cell centre, its eye ``observer_height_m`` above the DEM there; a cell's target point
is ``target_height_m`` above the DEM at its centre.  Both are joined by a straight segment in
*effective* heights z − s²/(2·k·R) (s the distance from the observer, R = 6371 km, k the
effective earth radius factor; none for a flat earth), which is the straight line of sight over
a curved earth with refraction.  The terrain is read at every point where the segment crosses a
grid line (an integer row or column: a line through cell centres) strictly between the two
cells, linear between the two nearest cell centres on that line (the bilinear surface there).
The target is *visible* when no such crossing lies above the segment (grazing counts as
visible); a crossing without terrain (NaN) leaves it unknown unless another crossing blocks it.

Method.  A fan of rays from the observer (one per cell of the perimeter of the reach, one sample
per cell, as the engine's fans: :func:`citycov.engine.tiles.fan_size`) carries running horizons;
each cell is set against the two rays that bracket its azimuth.  Cells clearly above both rays'
horizons are visible, cells clearly below both are hidden; the rest (near a visibility edge,
where the rays disagree, or where a ray met no-data terrain) are re-decided on their own path by
the exact definition, read from the first distance at which the rays' bounds stop clearing it.
"Clearly" allows, at each ray sample, for the terrain a path passing near it may cross instead:
``EDGE_SPREAD`` times the spread of the four cell centres around the sample plus
``EDGE_FLOOR_M``, anywhere within half a cell of the sample's distance.  That allowance is a
measured margin, not a proof (a crest narrower than a cell between two rays could exceed it):
on the shared benchmark tile (``benchmarks/bench_viewshed.py``) it refines 15 % of the cells
within 20 km (6 % within 40 km) and agrees with the exact definition on every one of the
1.44 M cells within 20 km, as it does on the random terrains of the tests.  ``refine="all"``
decides every cell exactly (O(d) per cell); ``refine="none"`` is the sweep alone (the nearest
ray, as the engine's terrain pass), 98.9 % in agreement there.

Results are uint8 codes: :data:`VISIBLE`, :data:`HIDDEN`, :data:`NO_DATA` (no-data terrain at the
cell or on its path, only with ``nodata="unknown"``) and :data:`BEYOND` (farther than
``max_distance_m`` from the observer).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from citycov.engine import _visibility_kernels as _k
from citycov.engine.tiles import fan_size
from citycov.errors import GridError, ModelError, RasterError, raise_problems
from citycov.grid import GridSpec

EARTH_RADIUS_M = 6_371_000.0
VISIBLE = _k.VISIBLE
HIDDEN = _k.HIDDEN
NO_DATA = _k.NO_DATA
BEYOND = _k.BEYOND
REFINE_MODES = ("edges", "none", "all")
"""``edges``: sweep, then cells near a visibility edge exactly; ``none``: the sweep alone (nearest
ray); ``all``: every cell exactly."""
NODATA_MODES = ("error", "unknown")
"""``error``: no-data terrain within reach raises :class:`~citycov.errors.RasterError`;
``unknown``: the cells it leaves undecided get :data:`NO_DATA`."""
EDGE_SPREAD = 1.0
"""Share of the spread of the four cell centres around a ray sample allowed as the terrain a
nearby path may see beyond the sample (``refine="edges"``)."""
EDGE_FLOOR_M = 0.25
"""Height (m) allowed beyond it at every sample."""
SKIP_CLEAR = True
"""Refined cells read their path from where the rays' bounds stop clearing it (measured 2.4-3.8x
faster than the whole path, with the same answers on the benchmark tile)."""


def viewshed(dem_m: np.ndarray, cell: float | GridSpec, *, row: int | None = None, col: int | None = None,
             x: float | None = None, y: float | None = None, observer_height_m: float, target_height_m: float = 0.0,
             max_distance_m: float, k_factor: float = 4.0 / 3.0, curvature: bool = True, refine: str = "edges",
             nodata: str = "error") -> np.ndarray:
    """Visibility of every cell of ``dem_m`` from one observer, as uint8 codes.

    Parameters
    ----------
    dem_m
        Terrain heights (m), 2-D, rows down (north up), NaN for no data; not modified.
    cell
        The cell size in metres (square cells), or the :class:`~citycov.grid.GridSpec` of ``dem_m``
        (then the observer may be given by ``x, y`` in its CRS).
    row, col
        The observer's cell; or ``x, y``: a point, placed at the centre of the cell holding it.
    observer_height_m, target_height_m
        Eye height above the terrain at the observer, and target height above each cell (m, ≥ 0).
    max_distance_m
        Cells whose centres lie farther from the observer's are :data:`BEYOND`.
    k_factor, curvature
        Effective earth radius factor (default 4/3; ``math.inf`` or ``curvature=False``: flat earth).
    refine, nodata
        One of :data:`REFINE_MODES` and of :data:`NODATA_MODES`.

    Returns
    -------
    numpy.ndarray
        uint8, the DEM's shape: :data:`VISIBLE` (1), :data:`HIDDEN` (0), :data:`NO_DATA` (254),
        :data:`BEYOND` (255), by the exact per-cell line of sight of the module docstring.

    Examples
    --------
    >>> dem = np.zeros((101, 101))
    >>> seen = viewshed(dem, 100.0, row=50, col=50, observer_height_m=30.0, max_distance_m=5000.0)
    >>> int((seen == VISIBLE).sum())
    7845
    """
    dem, cell_m, drop, (r0, c0), _ = _checked(dem_m, cell, row, col, x, y, observer_height_m, target_height_m,
                                              max_distance_m, k_factor, curvature, refine, nodata, "viewshed")
    out = np.full(dem.shape, BEYOND, dtype=np.uint8)
    _one(dem, int(r0[0]), int(c0[0]), float(observer_height_m), float(target_height_m), cell_m, drop,
         float(max_distance_m), refine, out, _Workspace())
    return out


def viewshed_count(dem_m: np.ndarray, cell: float | GridSpec, *, rows: Sequence[int] | None = None,
                   cols: Sequence[int] | None = None, xs: Sequence[float] | None = None,
                   ys: Sequence[float] | None = None, observer_height_m: float | Sequence[float],
                   target_height_m: float = 0.0, max_distance_m: float | Sequence[float], k_factor: float = 4.0 / 3.0,
                   curvature: bool = True, refine: str = "edges", nodata: str = "error",
                   per_observer: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Number of observers that see each cell (and, with ``per_observer``, each one's codes).

    The observers are the cells ``rows, cols`` (or the points ``xs, ys`` with a GridSpec), each with
    its own ``observer_height_m`` and ``max_distance_m`` (scalars apply to all); the other
    arguments are those of :func:`viewshed`, which each observer's result equals.

    Returns
    -------
    numpy.ndarray or tuple
        int32 counts of :data:`VISIBLE` per cell, the DEM's shape; with ``per_observer``, also
        the uint8 codes per observer, shape (n_observers, rows, cols).

    Examples
    --------
    >>> dem = np.zeros((101, 101))
    >>> n = viewshed_count(dem, 100.0, rows=[10, 90], cols=[50, 50], observer_height_m=30.0, max_distance_m=5000.0)
    >>> int(n.max()), int(n[50, 50])
    (2, 2)
    """
    dem, cell_m, drop, (r0, c0), (h_obs, reach) = _checked(
        dem_m, cell, rows, cols, xs, ys, observer_height_m, target_height_m, max_distance_m, k_factor, curvature,
        refine, nodata, "viewshed_count")
    count = np.zeros(dem.shape, dtype=np.int32)
    stack = np.empty((r0.size, *dem.shape), dtype=np.uint8) if per_observer else None
    codes = np.empty(dem.shape, dtype=np.uint8)
    work = _Workspace()
    for i in range(r0.size):
        out = stack[i] if stack is not None else codes
        out.fill(BEYOND)
        _one(dem, int(r0[i]), int(c0[i]), float(h_obs[i]), float(target_height_m), cell_m, drop, float(reach[i]),
             refine, out, work)
        _k.add_visible(out, count)
    return (count, stack) if stack is not None else count


def line_of_sight(dem_m: np.ndarray, cell: float | GridSpec, observer: tuple[int, int], target: tuple[int, int], *,
                  observer_height_m: float, target_height_m: float = 0.0, k_factor: float = 4.0 / 3.0,
                  curvature: bool = True) -> bool:
    """Whether the cell ``target`` (row, col) sees the cell ``observer`` (row, col): the exact
    per-cell line of sight of the module docstring, with the same heights and curvature as
    :func:`viewshed`.  Raises :class:`~citycov.errors.RasterError` when no-data terrain on the
    path leaves it undecided.

    Examples
    --------
    >>> dem = np.zeros((3, 11)); dem[1, 5] = 20.0
    >>> line_of_sight(dem, 30.0, (1, 0), (1, 10), observer_height_m=10.0, target_height_m=10.0)
    False
    """
    dem, cell_m, drop, (r0, c0), _ = _checked(dem_m, cell, [observer[0]], [observer[1]], None, None,
                                              observer_height_m, target_height_m, 1.0, k_factor, curvature, "all",
                                              "unknown", "line_of_sight")
    (r1,), (c1,) = _observer_cells(dem.shape, None, [target[0]], [target[1]], None, None, "line_of_sight", "target")
    z_tgt = dem[r1, c1]
    if math.isnan(z_tgt):
        raise RasterError(f"line_of_sight: no terrain (NaN) at the target, row {r1}, col {c1}")
    if (r1, c1) == (r0[0], c0[0]):
        return True
    code = _k.cell_line_of_sight(dem, int(r0[0]), int(c0[0]), dem[r0[0], c0[0]] + observer_height_m, int(r1),
                                 int(c1), z_tgt + target_height_m, cell_m, drop, 0.0)
    if code == NO_DATA:
        raise RasterError(f"line_of_sight: no-data terrain (NaN) on the path from row {r0[0]}, col {c0[0]} to row "
                          f"{r1}, col {c1}, and no known terrain blocks it")
    return bool(code == VISIBLE)


class _Workspace:
    """Float32 buffers of the fan's bounds, grown to the largest fan and reused across observers."""

    def __init__(self) -> None:
        self.size = 0

    def views(self, n: int, m: int, plain: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if n * m > self.size:
            self.size = n * m
            self.buf = np.empty((3, self.size), dtype=np.float32)
        upper, lower, flat = (self.buf[i, :n * m].reshape(n, m) for i in range(3))
        return upper, lower, flat if plain else np.empty((0, 0), dtype=np.float32)


def _one(dem: np.ndarray, r0: int, c0: int, h_obs_m: float, h_tgt_m: float, cell_m: float, drop: float,
         max_distance_m: float, refine: str, out: np.ndarray, work: _Workspace) -> int:
    """Codes of one observer into ``out`` (already :data:`BEYOND`); returns the cells refined."""
    z_obs = float(dem[r0, c0]) + h_obs_m
    rows, cols = dem.shape
    farthest = math.hypot(max(r0, rows - 1 - r0), max(c0, cols - 1 - c0))  # no fan beyond the DEM's corners
    reach_cells = min(max_distance_m / cell_m, farthest + 1.0)
    if refine == "all":
        _k.exact_cells(dem, r0, c0, z_obs, h_tgt_m, cell_m, drop, reach_cells, out)
        return -1
    n_rays, n_steps = fan_size(reach_cells)
    upper, lower, plain = work.views(n_steps + 1, n_rays, refine == "none")
    _k.ray_horizon_bounds(dem, float(r0), float(c0), z_obs, cell_m, drop, n_rays, EDGE_SPREAD, EDGE_FLOOR_M, upper,
                          lower, plain)
    return int(_k.viewshed_cells(dem, r0, c0, z_obs, h_tgt_m, cell_m, drop, reach_cells, upper, lower, plain,
                                 refine != "none", SKIP_CLEAR, out))


def _observer_cells(shape: tuple[int, int], grid: GridSpec | None, rows, cols, xs, ys, what: str,
                    label: str = "observer") -> tuple[np.ndarray, np.ndarray]:
    """Integer cells of the observers given as cells or as points; raises GridError for any outside."""
    by_cell = rows is not None or cols is not None
    by_point = xs is not None or ys is not None
    if by_cell == by_point:
        raise ModelError(f"{what}: give the observer either as a cell (row, col) or as a point (x, y), not "
                         f"{'both' if by_cell else 'neither'}")
    nrows, ncols = shape
    if by_point:
        if grid is None:
            raise ModelError(f"{what}: a point (x, y) needs the DEM's GridSpec as ``cell``, got a cell size")
        px = np.atleast_1d(np.asarray(xs, dtype=np.float64))
        py = np.atleast_1d(np.asarray(ys, dtype=np.float64))
        if px.shape != py.shape or px.ndim != 1:
            raise ModelError(f"{what}: x and y must have the same length, got {px.size} and {py.size}")
        r, c = grid.rowcol(px, py)
        out = ~grid.contains(r, c) | ~np.isfinite(px) | ~np.isfinite(py)
        if out.any():
            i = int(np.flatnonzero(out)[0])
            raise GridError(f"{what}: {int(out.sum())} {label}(s) outside the DEM, first x={float(px[i])!r}, "
                            f"y={float(py[i])!r}; the DEM covers (minx, miny, maxx, maxy) = "
                            f"{tuple(round(b, 3) for b in grid.bounds)}")
        return r, c
    if rows is None or cols is None:
        raise ModelError(f"{what}: give both row and col")
    rr = np.atleast_1d(np.asarray(rows))
    cc = np.atleast_1d(np.asarray(cols))
    if rr.shape != cc.shape or rr.ndim != 1:
        raise ModelError(f"{what}: rows and cols must have the same length, got {rr.size} and {cc.size}")
    if not (np.issubdtype(rr.dtype, np.integer) and np.issubdtype(cc.dtype, np.integer)):
        whole = np.isfinite(rr.astype(float)) & np.isfinite(cc.astype(float))
        if not whole.all() or (rr != np.round(rr)).any() or (cc != np.round(cc)).any():
            raise ModelError(f"{what}: row and col must be whole cell indices, got {rr.tolist()[:5]}, "
                             f"{cc.tolist()[:5]}")
    rr = rr.astype(np.int64)
    cc = cc.astype(np.int64)
    out = (rr < 0) | (rr >= nrows) | (cc < 0) | (cc >= ncols)
    if out.any():
        i = int(np.flatnonzero(out)[0])
        raise GridError(f"{what}: {int(out.sum())} {label}(s) outside the DEM, first at row {rr[i]}, col {cc[i]}; "
                        f"the DEM has rows 0..{nrows - 1} and cols 0..{ncols - 1}")
    return rr, cc


def _checked(dem_m, cell, rows, cols, xs, ys, observer_height_m, target_height_m, max_distance_m, k_factor,
             curvature, refine, nodata, what):
    """Validate every argument at once; returns (dem, cell_m, drop per m², (rows, cols),
    (observer heights, max distances) per observer)."""
    problems: list[str] = []
    if refine not in REFINE_MODES:
        problems.append(f"refine must be one of {list(REFINE_MODES)}, got {refine!r}")
    if nodata not in NODATA_MODES:
        problems.append(f"nodata must be one of {list(NODATA_MODES)}, got {nodata!r}")
    if not (k_factor > 0):
        problems.append(f"k_factor must be > 0 (math.inf for a flat earth), got {k_factor!r}")
    if not (math.isfinite(target_height_m) and target_height_m >= 0):
        problems.append(f"target_height_m must be a finite height >= 0, got {target_height_m!r}")
    h_obs = np.atleast_1d(np.asarray(observer_height_m, dtype=np.float64))
    reach = np.atleast_1d(np.asarray(max_distance_m, dtype=np.float64))
    if not (np.isfinite(h_obs).all() and (h_obs >= 0).all()):
        problems.append(f"observer_height_m must be finite heights >= 0, got {h_obs.tolist()[:5]}")
    if not (np.isfinite(reach).all() and (reach > 0).all()):
        problems.append(f"max_distance_m must be finite distances > 0, got {reach.tolist()[:5]}")
    grid = cell if isinstance(cell, GridSpec) else None
    cell_m = grid.cell_m if grid is not None else cell
    if not (isinstance(cell_m, int | float | np.floating | np.integer) and math.isfinite(cell_m) and cell_m > 0):
        problems.append(f"cell must be a cell size in metres > 0 or a GridSpec, got {cell!r}")
    dem = np.asarray(dem_m)
    if dem.ndim != 2 or dem.shape[0] < 2 or dem.shape[1] < 2 or not np.issubdtype(dem.dtype, np.number):
        problems.append(f"dem_m must be a 2-D numeric array of at least 2 x 2 cells, got shape {dem.shape} of "
                        f"{dem.dtype}")
    elif grid is not None and tuple(grid.shape) != dem.shape:
        problems.append(f"the GridSpec's shape {tuple(grid.shape)} differs from dem_m's {dem.shape}")
    raise_problems(ModelError, what, problems)
    if dem.dtype not in (np.float32, np.float64):
        dem = dem.astype(np.float64)
    r0, c0 = _observer_cells(dem.shape, grid, rows, cols, xs, ys, what)
    n = r0.size
    for name, v in (("observer_height_m", h_obs), ("max_distance_m", reach)):
        if v.size not in (1, n):
            raise ModelError(f"{what}: {name} has {v.size} values for {n} observers")
    h_obs = np.broadcast_to(h_obs, (n,))
    reach = np.broadcast_to(reach, (n,))
    z_obs = dem[r0, c0]
    if np.isnan(z_obs).any():
        i = int(np.flatnonzero(np.isnan(z_obs))[0])
        raise RasterError(f"{what}: no terrain (NaN) under the observer at row {r0[i]}, col {c0[i]}")
    if nodata == "error":
        for i in range(n):
            _no_nodata_within(dem, int(r0[i]), int(c0[i]), reach[i] / float(cell_m) + 1.5, what)
    flat = not curvature or math.isinf(k_factor)
    drop = 0.0 if flat else 1.0 / (2.0 * k_factor * EARTH_RADIUS_M)
    return dem, float(cell_m), drop, (r0, c0), (h_obs, reach)


def _no_nodata_within(dem: np.ndarray, r0: int, c0: int, radius_cells: float, what: str) -> None:
    """Raise RasterError when a no-data cell lies within ``radius_cells`` of (r0, c0): every path
    the viewshed reads stays within it (the cells beside a path's crossings included)."""
    lo_r, hi_r = max(0, int(r0 - radius_cells)), min(dem.shape[0], int(r0 + radius_cells) + 1)
    lo_c, hi_c = max(0, int(c0 - radius_cells)), min(dem.shape[1], int(c0 + radius_cells) + 1)
    window = dem[lo_r:hi_r, lo_c:hi_c]
    bad = np.isnan(window)
    if not bad.any():
        return
    rr, cc = np.nonzero(bad)
    near = np.hypot(rr + lo_r - r0, cc + lo_c - c0) <= radius_cells
    if near.any():
        i = int(np.flatnonzero(near)[0])
        raise RasterError(f"{what}: {int(near.sum())} no-data (NaN) DEM cells within reach of the observer at row "
                          f"{r0}, col {c0}, first at row {rr[i] + lo_r}, col {cc[i] + lo_c}; fill them, or pass "
                          f"nodata='unknown' to mark the cells they leave undecided")
