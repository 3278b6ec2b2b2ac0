"""District sums accounted tile by tile: zonal weights of one window of the analysis grid, the
partial sums of a tile and their combination.

The whole-grid accounting (:mod:`citycov.accounting.population`) reduces every zonal rule to a
sparse list (cell, district, weight) over the whole grid.  Each weight depends only on its own
cell, so the weights of the cells of a window can be computed from the window alone:

``fraction``
    exactextract's coverage fraction of the cell by the whole district polygon, on a raster
    of the window (only the districts whose bounding box meets it, :func:`_touching`);
``centroid``, ``all_touched``
    the same rasterisation on the window's transform;
residents under ``fraction`` (:func:`tile_person_weights`)
    the split of :func:`citycov.accounting.population.person_weights` on the window plus a
    margin of one source cell (what a cell's weight depends on), before the per-district
    rescale; the rescale (census totals in the source CRS / Σ weight × residents) is a
    per-district factor, so each tile returns its partials of both and the run applies it
    once after combining (:func:`person_sums`).

A tile returns float64 partial sums (districts × value layers, :func:`partial_sums`, summed
with compensation) and :func:`combine` adds the tiles' partials with :func:`math.fsum`:
correctly rounded, so the combined sums do not depend on the order the tiles finish in, and
differ from the exact sums by at most one rounding.

The city row under ``all_touched`` (the union, where a cell touching two districts counts
once) is one more district: pass the union of the polygons as a district of its own.  The
polygons are prepared once per run (:func:`prepare_districts`, sent to the workers once).

Accuracy: the area weights of a tile are the whole grid's bit for bit; the person weights
agree to ~3e-10 of a cell (the source window changes exactextract's float32 roundings of the
source cells' coverage, and the boundary split carries them), far inside the 1e-9 asked of the
district sums.  exactextract keeps coverage fractions in float32, so its own sums, and these,
are exact areas to about 1e-7 only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyproj
from affine import Affine
from exactextract import exact_extract
from exactextract.feature import FeatureSource, JSONFeature
from exactextract.raster import NumPyRasterSource
from rasterio.features import rasterize
from shapely.geometry import mapping

from citycov import regrid
from citycov.accounting import population as pop_mod
from citycov.accounting._tiled_kernels import compensated_sums
from citycov.errors import ScenarioError
from citycov.grid import GridSpec
from citycov.io.boundaries import Districts
from citycov.io.raster import RasterLayer

CLIP_MARGIN_CELLS = 2
"""A district takes part in a window's weights when its bounding box meets the window grown by
this many cells (a filter only: the polygons are used whole, :func:`_touching`)."""

EXTRA_COLUMNS = 2
"""Columns :func:`person_partial_sums` appends: the source residents owned by the tile and
Σ unscaled weight × grid residents, per district (the partials of the rescale)."""


class Window(NamedTuple):
    """Rows ``row0..row1`` and columns ``col0..col1`` (half-open) of the analysis grid."""

    row0: int
    row1: int
    col0: int
    col1: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.row1 - self.row0, self.col1 - self.col0

    def slices(self) -> tuple[slice, slice]:
        """Index of the window in a whole-grid array: ``array[window.slices()]``."""
        return slice(self.row0, self.row1), slice(self.col0, self.col1)


def windows(shape: tuple[int, int], tile: int | tuple[int, int]) -> list[Window]:
    """The tiles of a grid of ``shape``, ``tile`` cells (rows, cols) each, in row-major order
    (the tile index of :func:`combine` is the position in this list)."""
    th, tw = (tile, tile) if isinstance(tile, int) else tile
    if th < 1 or tw < 1:
        raise ValueError(f"tile size must be at least 1 cell, got {tile!r}")
    rows, cols = shape
    return [Window(r, min(r + th, rows), c, min(c + tw, cols)) for r in range(0, rows, th) for c in range(0, cols, tw)]


def window_grid(grid: GridSpec, window: Window) -> GridSpec:
    """The grid of the cells of ``window`` (same CRS and cell size, its own origin)."""
    rows, cols = grid.shape
    if not (0 <= window.row0 < window.row1 <= rows and 0 <= window.col0 < window.col1 <= cols):
        raise ValueError(f"window {tuple(window)} is not inside the grid of {rows} x {cols} cells")
    return GridSpec(crs=grid.crs, transform=grid.transform @ Affine.translation(window.col0, window.row0),
                    shape=window.shape)


@dataclass(frozen=True)
class TileWeights:
    """Sparse zonal weights of the cells of one window: ``cell`` (flat row-major index inside
    the window), ``district`` (0-based row of the districts table), ``weight``, all 1-D."""

    window: Window
    rule: str
    cell: np.ndarray
    district: np.ndarray
    weight: np.ndarray
    n_districts: int


class _Feature(JSONFeature):
    """An exactextract feature whose GeoJSON geometry was encoded once (:class:`PreparedDistricts`)."""

    def __init__(self, text: str):
        JSONFeature.__init__(self, {"type": "Feature", "properties": {}})
        self._text = text

    def geometry(self) -> str:
        return self._text


class _Features(FeatureSource):
    """exactextract features from GeoJSON geometries encoded once."""

    def __init__(self, texts: list[str], srs_wkt: str):
        super().__init__()
        self._texts = texts
        self._wkt = srs_wkt

    def count(self) -> int:
        return len(self._texts)

    def __iter__(self):
        for text in self._texts:
            yield _Feature(text)

    def srs_wkt(self) -> str:
        return self._wkt


@dataclass(frozen=True)
class PreparedDistricts:
    """The district polygons as every tile uses them, prepared once per run (and sent to the
    workers once): bounds, shapely geometries and GeoJSON text in the analysis CRS and, for
    the person weights, densified and in the population raster's CRS.  exactextract reads
    the same text it reads from a GeoDataFrame (``json.dumps`` of the geometry's mapping,
    exact to the bit), so the weights are the same, without encoding every polygon per tile."""

    bounds: np.ndarray
    """float64 (districts, 4): minx, miny, maxx, maxy in the analysis CRS (NaN when empty)."""
    geometries: tuple
    geojson: tuple[str, ...]
    crs_wkt: str
    source_crs_wkt: str | None = None
    source_geojson: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.geometries)


def _geojson(geoms) -> tuple[str, ...]:
    return tuple("" if g is None or g.is_empty else json.dumps(mapping(g)) for g in geoms)


def prepare_districts(districts: Districts, *, source_crs=None) -> PreparedDistricts:
    """The polygons of ``districts`` prepared for :func:`tile_weights` and, with ``source_crs``
    (the population raster's CRS), for :func:`tile_person_weights`."""
    geoms = districts.frame.geometry.reset_index(drop=True)
    bounds = np.array(geoms.bounds.to_numpy(), dtype=np.float64)
    empty = (geoms.is_empty | geoms.isna()).to_numpy()
    bounds[empty] = np.nan
    src_wkt = src_json = None
    if source_crs is not None:
        src_crs = pyproj.CRS(source_crs)
        src_wkt = src_crs.to_wkt()
        src_json = _geojson(pop_mod.densified_in(geoms, src_crs).geometry)
    return PreparedDistricts(bounds=bounds, geometries=tuple(geoms), geojson=_geojson(geoms),
                             crs_wkt=pyproj.CRS(districts.frame.crs).to_wkt(), source_crs_wkt=src_wkt,
                             source_geojson=src_json)


def _prepared(districts: Districts | PreparedDistricts, source_crs=None) -> PreparedDistricts:
    """``districts`` prepared (with ``source_crs`` when given); a prepared set is checked."""
    if not isinstance(districts, PreparedDistricts):
        return prepare_districts(districts, source_crs=source_crs)
    if source_crs is not None and (districts.source_geojson is None
                                   or not pyproj.CRS(districts.source_crs_wkt).equals(pyproj.CRS(source_crs))):
        raise ValueError("districts prepared without the population raster's CRS: "
                         "call prepare_districts(districts, source_crs=<the raster's CRS>)")
    return districts


def _touching(districts: PreparedDistricts, grid: GridSpec, window: Window, margin_cells: int) -> np.ndarray:
    """The districts whose bounding box meets ``window`` grown by ``margin_cells`` (their numbers).

    The polygons are not clipped to the window: exactextract stores coverage fractions in
    float32 and takes a hole's coverage from the ring's (1 − 0.6 in float32 is not 0.4), so a
    clipped polygon, whose holes may open into notches, would give other float32 roundings
    (up to 3e-8 of a cell) than the whole polygon.  Whole polygons give the whole grid's."""
    minx, miny, maxx, maxy = window_grid(grid, window).bounds
    pad = margin_cells * grid.cell_m
    b = districts.bounds
    with np.errstate(invalid="ignore"):
        meets = (b[:, 0] <= maxx + pad) & (b[:, 2] >= minx - pad) & (b[:, 1] <= maxy + pad) & (b[:, 3] >= miny - pad)
    return np.flatnonzero(meets)


def _coverage(districts: PreparedDistricts, keep: np.ndarray, wgrid: GridSpec) -> list[tuple[np.ndarray, np.ndarray]]:
    """exactextract's (flat cell index, coverage fraction) of each district of ``keep`` on ``wgrid``."""
    if len(keep) == 0:
        return []
    rows, cols = wgrid.shape
    minx, miny, maxx, maxy = wgrid.bounds
    source = NumPyRasterSource(np.zeros((rows, cols), dtype=np.float32), minx, miny, maxx, maxy,
                               srs_wkt=wgrid.crs.to_wkt())
    features = _Features([districts.geojson[i] for i in keep], districts.crs_wkt)
    table = exact_extract(source, features, ["cell_id", "coverage"], output="pandas")
    return [(np.asarray(c, dtype=np.int64), np.asarray(w, dtype=np.float64))
            for c, w in zip(table["cell_id"], table["coverage"], strict=True)]


def tile_weights(districts: Districts | PreparedDistricts, grid: GridSpec, window: Window, *,
                 rule: str = "fraction") -> TileWeights:
    """Zonal weights of ``rule`` of the cells of ``window`` of ``grid``, as
    :func:`citycov.accounting.population.zonal_weights` gives them on the whole grid.

    Examples
    --------
    >>> w = tile_weights(districts, grid, Window(0, 512, 0, 512))  # doctest: +SKIP
    >>> partial_sums(w, {"population": population[w.window.slices()]})  # doctest: +SKIP
    """
    if rule not in pop_mod.ZONAL_RULES:
        raise ScenarioError(f"unknown zonal rule {rule!r}; expected one of {sorted(pop_mod.ZONAL_RULES)}")
    districts = _prepared(districts)
    n = len(districts)
    wgrid = window_grid(grid, window)
    keep = _touching(districts, grid, window, CLIP_MARGIN_CELLS)
    geoms = [districts.geometries[i] for i in keep]
    if rule == "centroid":
        if len(keep):
            index = rasterize(((g, int(i)) for g, i in zip(geoms, keep, strict=True)), out_shape=wgrid.shape,
                              transform=wgrid.transform, fill=-1, dtype="int32", all_touched=False).ravel()
        else:
            index = np.full(wgrid.shape[0] * wgrid.shape[1], -1, dtype=np.int32)
        cell = np.flatnonzero(index >= 0)
        return TileWeights(window, rule, cell, index[cell].astype(np.int64), np.ones(cell.size), n)
    if rule == "all_touched":
        cells, dists = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        for g, i in zip(geoms, keep, strict=True):
            burned = rasterize([(g, 1)], out_shape=wgrid.shape, transform=wgrid.transform, fill=0, dtype="uint8",
                               all_touched=True)
            c = np.flatnonzero(burned.ravel())
            cells.append(c)
            dists.append(np.full(c.size, i, dtype=np.int64))
        cell = np.concatenate(cells)
        return TileWeights(window, rule, cell, np.concatenate(dists), np.ones(cell.size), n)
    pairs = _coverage(districts, keep, wgrid)
    cell = np.concatenate([np.zeros(0, dtype=np.int64), *(c for c, _ in pairs)])
    weight = np.concatenate([np.zeros(0), *(w for _, w in pairs)])
    dist = np.concatenate([np.zeros(0, dtype=np.int64),
                           *(np.full(c.size, i, dtype=np.int64) for (c, _), i in zip(pairs, keep, strict=True))])
    positive = weight > 0
    return TileWeights(window, rule, cell[positive], dist[positive], weight[positive], n)


@dataclass(frozen=True)
class TilePersons:
    """Weights of residents (households, covered residents) of the cells of one window, and the
    tile's partials of the per-district rescale (:func:`person_sums`)."""

    weights: TileWeights
    """Unscaled weights (under ``fraction`` with a source raster off the grid: before the rescale)."""
    totals: np.ndarray
    """float64 per district: residents of the source raster inside the district (value × coverage
    in the source CRS) of the source cells this tile owns (those whose centre falls in the window,
    clamped to the grid); NaN for a rotated source raster."""
    grid_sum: np.ndarray
    """float64 per district: Σ unscaled weight × grid residents over the window."""
    area: TileWeights
    """The zonal weights of the rule on the window (areas, as ``Layers.weights``): the same as
    :func:`tile_weights` gives, computed on the way."""


def _north_up(source: RasterLayer) -> bool:
    """Whether the source raster has no rotation (exactextract works in its CRS)."""
    t = source.source_transform
    return t.b == 0 and t.d == 0


def person_rescales(source: RasterLayer, grid: GridSpec, rule: str) -> bool:
    """Whether :func:`citycov.accounting.population.person_weights` rescales the weights of
    residents on ``grid`` per district (``fraction`` rule, a north-up source raster off the grid),
    so the combined sums need :func:`person_sums`."""
    if rule != "fraction" or not _north_up(source):
        return False
    t = source.source_transform
    src_grid = GridSpec(crs=pyproj.CRS(source.source_crs), transform=t, shape=source.source_counts.shape)
    return not src_grid.same_as(grid)


def _margin_cells(source: RasterLayer, grid: GridSpec) -> int:
    """Grid cells that a source cell can span: the window's margin for the person weights."""
    crs = pyproj.CRS(source.source_crs)
    t = source.source_transform
    side = math.hypot(t.a, t.d) + math.hypot(t.b, t.e)
    side_m = side * (111_320.0 if crs.is_geographic else (crs.axis_info[0].unit_conversion_factor
                                                           if crs.axis_info else 1.0))
    return int(math.ceil(side_m / grid.cell_m)) + 2


def tile_person_weights(source: RasterLayer, districts: Districts | PreparedDistricts, grid: GridSpec,
                        window: Window, *, values: np.ndarray, rule: str = "fraction") -> TilePersons:
    """Weights of residents of the cells of ``window``: what
    :func:`citycov.accounting.population.person_weights` gives them on the whole grid before its
    per-district rescale (under ``fraction``), the zonal weights of ``rule`` otherwise.

    ``source`` supplies the population raster as read (``source_counts``, ``source_transform``,
    ``source_crs``); ``values`` are the residents of the window's cells on the grid (the
    population layer's values, float32 or float64, window shape).  The split of a cell's
    residents depends only on the source cells overlapping it and the area weights of the grid
    cells those overlap, so it is computed on the window grown by :func:`_margin_cells` (clamped
    to the grid, as the whole grid is) and cut back to the window.
    """
    values = np.asarray(values)
    if values.shape != window.shape:
        raise ValueError(f"values have shape {values.shape}, the window is {window.shape}")
    rescale = person_rescales(source, grid, rule)
    fraction = rule == "fraction" and _north_up(source)
    districts = _prepared(districts, source.source_crs if fraction else None)
    n = len(districts)
    if not rescale:
        weights = tile_weights(districts, grid, window, rule=rule)
        grid_sum = _sums(weights, values[None].astype(np.float64))[:, 0]
        totals = _owned_totals(source, districts, grid, window) if fraction else np.full(n, np.nan)
        return TilePersons(weights, totals, grid_sum, weights)
    rows, cols = grid.shape
    m = _margin_cells(source, grid)
    halo = Window(max(window.row0 - m, 0), min(window.row1 + m, rows), max(window.col0 - m, 0),
                  min(window.col1 + m, cols))
    hgrid = window_grid(grid, halo)
    area = tile_weights(districts, grid, halo, rule="fraction")
    area_z = pop_mod.ZonalWeights("fraction", area.cell, area.district, area.weight, n, hgrid.shape)
    counts, transform, coverage = _source_part(source, districts, grid, halo, m)
    hvalues = np.zeros(hgrid.shape, dtype=np.float64)
    r, c = window.row0 - halo.row0, window.col0 - halo.col0
    hvalues[r:r + window.shape[0], c:c + window.shape[1]] = values
    weight, _ = pop_mod.split_person_weights(counts, transform, source.source_crs, coverage, hgrid, area_z, hvalues)
    hrow, hcol = np.divmod(area.cell, hgrid.shape[1])
    inside = (hrow >= r) & (hrow < r + window.shape[0]) & (hcol >= c) & (hcol < c + window.shape[1])
    cell = (hrow[inside] - r) * window.shape[1] + (hcol[inside] - c)
    weights = TileWeights(window, "fraction", cell, area.district[inside], weight[inside], n)
    area_w = TileWeights(window, "fraction", cell, area.district[inside], area.weight[inside], n)
    grid_sum = _sums(weights, values[None].astype(np.float64))[:, 0]
    totals = _owned_totals(source, districts, grid, window, part=(counts, transform, coverage))
    return TilePersons(weights, totals, grid_sum, area_w)


def _source_part(source: RasterLayer, districts: PreparedDistricts, grid: GridSpec, halo: Window, margin: int):
    """The source cells that can reach ``halo`` (float64 counts, their transform) and their
    coverage by each district that can reach them
    (:func:`citycov.accounting.population.source_coverage`, whole polygons)."""
    hgrid = window_grid(grid, halo)
    full = source.source_counts
    r0, r1, c0, c1 = regrid.source_window(source.source_transform, source.source_crs, full.shape, hgrid)
    counts = np.ascontiguousarray(full[r0:r1, c0:c1], dtype=np.float64)
    transform = source.source_transform @ Affine.translation(c0, r0)
    keep = _touching(districts, grid, halo, margin + CLIP_MARGIN_CELLS)
    coverage: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros(0, dtype=np.int64), np.zeros(0))] * len(districts)
    if counts.size and len(keep):
        features = _Features([districts.source_geojson[i] for i in keep], districts.source_crs_wkt)
        found = pop_mod.source_coverage(counts, transform, source.source_crs, features)
        if found is None:
            raise ValueError("rotated source raster: its residents keep the area weights")
        for i, pair in zip(keep, found, strict=True):
            coverage[int(i)] = pair
    return counts, transform, coverage


def _owned_totals(source: RasterLayer, districts: PreparedDistricts, grid: GridSpec, window: Window, *,
                  part=None) -> np.ndarray:
    """Residents of the source raster in each district (Σ value × coverage, source CRS) from the
    source cells this tile owns: those whose centre, in grid CRS and clamped to the grid, falls
    in ``window``.  Every source cell is owned by exactly one tile."""
    n = len(districts)
    if not _north_up(source):
        return np.full(n, np.nan)
    if part is None:
        m = _margin_cells(source, grid)
        rows, cols = grid.shape
        halo = Window(max(window.row0 - m, 0), min(window.row1 + m, rows), max(window.col0 - m, 0),
                      min(window.col1 + m, cols))
        part = _source_part(source, districts, grid, halo, m)
    counts, transform, coverage = part
    flat = counts.reshape(-1)
    to_grid = pyproj.Transformer.from_crs(source.source_crs, grid.crs, always_xy=True)
    totals = np.zeros(n)
    for i, (ids, cov) in enumerate(coverage):
        if ids.size == 0:
            continue
        srow, scol = np.divmod(ids, counts.shape[1])
        x = transform.c + (scol + 0.5) * transform.a + (srow + 0.5) * transform.b
        y = transform.f + (scol + 0.5) * transform.d + (srow + 0.5) * transform.e
        x, y = to_grid.transform(x, y)
        g = grid.transform
        col = np.clip(np.floor((np.asarray(x) - g.c) / g.a).astype(np.int64), 0, grid.shape[1] - 1)
        row = np.clip(np.floor((np.asarray(y) - g.f) / g.e).astype(np.int64), 0, grid.shape[0] - 1)
        own = (row >= window.row0) & (row < window.row1) & (col >= window.col0) & (col < window.col1)
        totals[i] = float(np.dot(flat[ids[own]], cov[own]))
    return totals


def _sums(weights: TileWeights, stacked: np.ndarray) -> np.ndarray:
    """Compensated Σ weight × layer per district (``stacked`` float64, (layers, rows, cols))."""
    flat = np.ascontiguousarray(stacked.reshape(stacked.shape[0], stacked.shape[1] * stacked.shape[2]))
    return compensated_sums(weights.cell, weights.district, weights.weight.astype(np.float64), flat,
                            weights.n_districts)


def partial_sums(weights: TileWeights, values: Mapping[str, np.ndarray]) -> np.ndarray:
    """float64 (districts, layers): Σ weight × value per district of each layer of ``values``
    (window shape, any numeric or bool dtype, in the mapping's order) over the tile's cells.

    The caller builds the layers: residents, households, residents × a covered mask per
    technology, target or variant, cell area × an urban mask, ...
    """
    shape = weights.window.shape
    stacked = np.empty((len(values), *shape))
    for k, (name, layer) in enumerate(values.items()):
        layer = np.asarray(layer)
        if layer.shape != shape:
            raise ValueError(f"value layer {name!r} has shape {layer.shape}, the window is {shape}")
        stacked[k] = layer
    return _sums(weights, stacked)


def person_partial_sums(persons: TilePersons, values: Mapping[str, np.ndarray]) -> np.ndarray:
    """:func:`partial_sums` of the person weights, with :data:`EXTRA_COLUMNS` appended (the
    tile's source residents and Σ weight × grid residents): combine, then :func:`person_sums`."""
    sums = partial_sums(persons.weights, values)
    return np.column_stack([sums, persons.totals, persons.grid_sum])


def person_sums(combined: np.ndarray, *, rescale: bool) -> tuple[np.ndarray, np.ndarray]:
    """The person sums of the whole grid from combined :func:`person_partial_sums`: each district's
    columns × (its source residents / Σ weight × grid residents) when ``rescale``
    (:func:`person_rescales`), as :func:`citycov.accounting.population.person_weights` scales its
    weights.  Returns (sums, districts × layers; source residents per district)."""
    sums, totals, grid_sum = combined[:, :-EXTRA_COLUMNS], combined[:, -2], combined[:, -1]
    if not rescale:
        return sums, totals
    factor = np.where(grid_sum > 0, totals / np.where(grid_sum > 0, grid_sum, 1.0), 1.0)
    return sums * factor[:, None], totals


def combine(partials: Iterable[tuple[int, np.ndarray]]) -> np.ndarray:
    """Sum the partial sums of the tiles, given as (tile index, array) in any order.

    The partials are sorted by tile index and each entry is summed with :func:`math.fsum`
    (correctly rounded), so the result is bitwise the same whatever order the tiles finished in.

    Raises
    ------
    ValueError
        No partials, a tile index given twice, or partials of different shapes.
    """
    items = sorted(partials, key=lambda item: item[0])
    if not items:
        raise ValueError("no partial sums to combine")
    indices = [i for i, _ in items]
    if len(set(indices)) != len(indices):
        raise ValueError("a tile index appears twice among the partial sums")
    shape = np.shape(items[0][1])
    if any(np.shape(p) != shape for _, p in items):
        raise ValueError(f"partial sums of different shapes; the first is {shape}")
    stack = np.stack([np.asarray(p, dtype=np.float64) for _, p in items]).reshape(len(items), -1)
    out = np.array([math.fsum(stack[:, k]) for k in range(stack.shape[1])])
    return out.reshape(shape)
