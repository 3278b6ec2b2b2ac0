"""Population and households on the grid, and exact sums per district.

Zonal rules (``ZONAL_RULES``), named in every report:

``fraction`` (default)
    each cell counts in a district by the fraction of its area inside the district polygon
    (exactextract's coverage fractions), so every person is counted exactly once and a
    half-covered cell counts half; residents (households, covered residents) count by the
    share of the cell's residents that came from inside the district
    (:func:`person_weights`: exact to the population raster, in its own CRS);
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

import geopandas as gpd
import numpy as np
import pyproj
from exactextract import exact_extract
from exactextract.feature import FeatureSource
from exactextract.raster import NumPyRasterSource
from rasterio.features import rasterize

from citycov import regrid
from citycov._regrid_kernels import split_cut_cells
from citycov.accounting._zonal_kernels import cell_states, weighted_sums, weighted_sums_masked
from citycov.errors import ScenarioError
from citycov.grid import GridSpec
from citycov.io.boundaries import Districts
from citycov.io.raster import RasterLayer

EMPTY_PERSONS = 1e-6
"""Residents (or households) below which an area counts as empty, persons.  Zonal sums carry
float noise: a district touching a populated cell along a shared edge can receive ~1e-11
persons, and 1e-11 / 1e-11 would read as 100 %.  A millionth of a person is far below any real
population and far above that noise; below it every share is undefined (NaN), no target
passes and no census factor is formed."""

ZONAL_RULES = {
    "fraction": "fractional overlap (each cell weighted by the share of its area inside the district, "
                "exactextract coverage fractions; residents by the share of the cell's residents from inside "
                "the district, exact to the population raster in its own CRS)",
    "centroid": "cell centre (each cell counted wholly in the district containing its centre)",
    "all_touched": "all touched (each cell counted wholly in every district it touches; boundary cells "
                   "count in two districts)",
}


def cell_dtype(shape: tuple[int, int]) -> np.dtype:
    """The dtype of flat cell indices on a grid of ``shape``: int32, int64 past 2³¹ − 1 cells."""
    return np.dtype(np.int32 if shape[0] * shape[1] <= np.iinfo(np.int32).max else np.int64)


def district_dtype(n_districts: int) -> np.dtype:
    """The smallest signed integer dtype that numbers ``n_districts`` districts (int8, int16, int32)."""
    for dtype in (np.int8, np.int16, np.int32):
        if n_districts <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


@dataclass(frozen=True)
class ZonalWeights:
    """Sparse cell-to-district weights on a grid: ``cell`` (flat row-major index),
    ``district`` (0-based row of the districts table) and ``weight`` (0-1], all 1-D.

    The indices are stored compactly (a 30 m city grid holds ~10 M entries): ``cell`` as
    :func:`cell_dtype` (int32), ``district`` as :func:`district_dtype` (int8 for up to 127
    districts); arrays of other integer dtypes are converted on construction.  ``weight``
    stays float64, so every sum is the same to the bit.  Cast ``cell`` to int64 before
    arithmetic that can exceed 2³¹ (``cell * n_districts``)."""

    rule: str
    cell: np.ndarray
    district: np.ndarray
    weight: np.ndarray
    n_districts: int
    shape: tuple[int, int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "cell", np.asarray(self.cell, dtype=cell_dtype(self.shape)))
        object.__setattr__(self, "district", np.asarray(self.district, dtype=district_dtype(self.n_districts)))

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
    cdt, ddt = cell_dtype(grid.shape), district_dtype(n)
    if rule == "centroid":
        index = district_index(districts, grid).ravel()
        cell = np.flatnonzero(index >= 0).astype(cdt)
        return ZonalWeights(rule, cell, index[cell].astype(ddt), np.ones(cell.size), n, grid.shape)
    if rule == "all_touched":
        cells, dists = [], []
        for i, geom in enumerate(districts.frame.geometry):
            burned = rasterize([(geom, 1)], out_shape=grid.shape, transform=grid.transform, fill=0,
                               dtype="uint8", all_touched=True)
            c = np.flatnonzero(burned.ravel()).astype(cdt)
            del burned
            cells.append(c)
            dists.append(np.full(c.size, i, dtype=ddt))
        cell = np.concatenate(cells)
        return ZonalWeights(rule, cell, np.concatenate(dists), np.ones(cell.size), n, grid.shape)
    minx, miny, maxx, maxy = grid.bounds
    # exactextract reads the raster only for its cell grid: a zero-stride view of one zero
    zeros = np.broadcast_to(np.float32(0.0), (rows, cols))
    source = NumPyRasterSource(zeros, minx, miny, maxx, maxy, srs_wkt=grid.crs.to_wkt())
    frame = districts.frame[["geometry"]].reset_index(drop=True)
    table = exact_extract(source, frame, ["cell_id", "coverage"], output="pandas")
    ids, cover = list(table["cell_id"]), list(table["coverage"])
    del table
    # one district at a time into the final arrays, each table entry freed once copied
    keeps = [np.asarray(w) > 0 for w in cover]
    total = sum(int(k.sum()) for k in keeps)
    cell, dist, weight = np.empty(total, dtype=cdt), np.empty(total, dtype=ddt), np.empty(total)
    at = 0
    for i in range(len(ids)):
        keep = keeps[i]
        m = int(keep.sum())
        cell[at:at + m] = np.asarray(ids[i], dtype=np.int64)[keep]
        weight[at:at + m] = np.asarray(cover[i], dtype=np.float64)[keep]
        dist[at:at + m] = i
        ids[i] = cover[i] = keeps[i] = None
        at += m
    return ZonalWeights(rule, cell, dist, weight, n, grid.shape)


def exactextract_sums(values: np.ndarray, districts: Districts, grid: GridSpec) -> np.ndarray:
    """Independent check: exactextract's own ``sum`` of ``values`` per district."""
    minx, miny, maxx, maxy = grid.bounds
    source = _Float64Windows(values, minx, miny, maxx, maxy, srs_wkt=grid.crs.to_wkt())
    table = exact_extract(source, districts.frame[["geometry"]].reset_index(drop=True), ["sum"], output="pandas")
    return table["sum"].to_numpy(dtype=np.float64)


class _Float64Windows(NumPyRasterSource):
    """A NumPy raster source that hands exactextract each window it reads as float64: the values
    of a float64 copy of the whole raster, without the copy."""

    def read_window(self, x0, y0, nx, ny):
        return np.asarray(super().read_window(x0, y0, nx, ny), dtype=np.float64)


def zonal_crosscheck(weights: ZonalWeights, values: np.ndarray, districts: Districts, grid: GridSpec) -> float:
    """Largest relative difference between the zonal sums of ``weights`` and exactextract's own
    ``sum`` of ``values`` per district (:func:`exactextract_sums`)."""
    check = exactextract_sums(values, districts, grid)
    return float(np.max(np.abs(weights.sums(values) - check) / np.maximum(np.abs(check), 1e-9)))


DISTRICT_SEGMENT_M = 50.0
"""Longest district edge, metres, before the polygons are reprojected into a population
raster's own CRS: a straight 50 m edge of the analysis CRS bends by well under 0.1 mm in
another CRS at city scale, so the overlap is exact to far better than 1e-6 of a district."""


def _source_coverage(layer: RasterLayer, districts: Districts) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Per district: (flat source cell index, fraction of the cell's area inside the district),
    computed by exactextract in the source raster's own CRS with the district edges densified
    to :data:`DISTRICT_SEGMENT_M`; None for a rotated source raster."""
    return source_coverage(layer.source_counts, layer.source_transform, layer.source_crs,
                           districts.frame.geometry)


def source_coverage(counts: np.ndarray, transform, crs, geometries: gpd.GeoSeries | FeatureSource,
                    ) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Per polygon of ``geometries`` (analysis CRS, none empty): (flat index into ``counts``,
    fraction of the source cell's area inside the polygon), computed by exactextract in the
    source raster's own CRS (``crs``, north-up ``transform`` or south-up) with the edges
    densified to :data:`DISTRICT_SEGMENT_M`; None for a rotated raster.  ``geometries`` may
    also be an exactextract feature source already densified and in the raster's CRS
    (:func:`densified_in`), to prepare the polygons once for many windows."""
    t = transform
    rows, cols = counts.shape
    if t.b != 0 or t.d != 0:
        return None
    xs = (t.c, t.c + cols * t.a)
    ys = (t.f, t.f + rows * t.e)
    src_crs = pyproj.CRS(crs)
    south_up = t.e > 0  # exactextract expects north-up: flip, then map the cell numbers back
    values = counts[::-1] if south_up else counts
    source = NumPyRasterSource(np.ascontiguousarray(values, dtype=np.float64), min(xs), min(ys), max(xs), max(ys),
                               srs_wkt=src_crs.to_wkt())
    vec = geometries if isinstance(geometries, FeatureSource) else densified_in(geometries, src_crs)
    table = exact_extract(source, vec, ["cell_id", "coverage"], output="pandas")
    out = []
    for ids, cov in zip(table["cell_id"], table["coverage"], strict=True):
        ids = np.asarray(ids, dtype=np.int64)
        if south_up:
            ids = (rows - 1 - ids // cols) * cols + ids % cols
        out.append((ids, np.asarray(cov, dtype=np.float64)))
    return out


def densified_in(geometries: gpd.GeoSeries, crs) -> gpd.GeoDataFrame:
    """``geometries`` (analysis CRS) with every edge densified to :data:`DISTRICT_SEGMENT_M`,
    reprojected to ``crs``: the polygons exactextract meets in a source raster's CRS."""
    frame = gpd.GeoDataFrame(geometry=gpd.GeoSeries(geometries).reset_index(drop=True))
    return frame.set_geometry(frame.geometry.segmentize(DISTRICT_SEGMENT_M)).to_crs(pyproj.CRS(crs))


def source_district_totals(layer: RasterLayer, districts: Districts) -> np.ndarray:
    """Residents of the source raster of ``layer`` inside each district: Σ value × the fraction
    of the cell's area inside the district, in the source CRS (:func:`_source_coverage`),
    float64; all NaN for a rotated source raster."""
    coverage = _source_coverage(layer, districts)
    if coverage is None:
        return np.full(len(districts), np.nan)
    flat = layer.source_counts.reshape(-1)
    return np.array([float(np.dot(flat[ids], cov)) for ids, cov in coverage])


IPF_MAX_ITER = 200
IPF_TOL = 1e-12
"""Iterative proportional fitting of a cut source cell (:func:`person_weights`): at most 200
rounds, until every grid piece's row is within 1e-12 of the cell's value."""


@dataclass(frozen=True)
class PersonWeights:
    """Zonal weights of person counts and the district totals they reproduce."""

    weights: ZonalWeights
    totals: np.ndarray
    """Residents per district: Σ value × area fraction in the source CRS (float64)."""
    notes: tuple[str, ...]


def split_person_weights(counts: np.ndarray, transform, crs, coverage: list[tuple[np.ndarray, np.ndarray]],
                         grid: GridSpec, area_weights: ZonalWeights, values: np.ndarray,
                         ) -> tuple[np.ndarray, tuple[int, float, float]]:
    """The person weights of :func:`person_weights` before the final per-district rescale.

    ``counts`` (float64) is the source raster (``transform``, ``crs``), ``coverage`` its
    cells' coverage by each district (:func:`source_coverage`), ``area_weights`` the fraction
    rule's weights on ``grid`` and ``values`` the residents on ``grid`` (float32 or float64,
    grid shape; the caller's layer values).  Returns the weight of each entry of
    ``area_weights`` (aligned with its ``cell``) and (cut source cell × district pieces,
    unplaced residents, largest fit residual).  Every weight depends only on the source cells
    that overlap its grid cell and the area weights of the grid cells they overlap, so a grid
    that is a window of a larger one, with a margin of one source cell, gives the larger
    grid's weights inside the window, to float rounding (:mod:`citycov.accounting.tiled`).
    """
    n = area_weights.n_districts
    flat = counts.reshape(-1)
    # source cells: wholly inside one district (its number), outside all (-1) or cut (-2)
    all_ids = np.concatenate([ids for ids, _ in coverage])
    all_cov = np.concatenate([cov for _, cov in coverage])
    all_d = np.concatenate([np.full(ids.size, i, dtype=np.int64) for i, (ids, _) in enumerate(coverage)])
    keep = all_cov > 0
    all_ids, all_cov, all_d = all_ids[keep], all_cov[keep], all_d[keep]
    listed = np.bincount(all_ids, minlength=flat.size)
    whole = (listed[all_ids] == 1) & (all_cov >= 1.0)
    codes = np.full(flat.size, -1, dtype=np.int32)
    codes[all_ids[whole]] = all_d[whole]
    codes[all_ids[~whole]] = -2
    cut = codes[all_ids] == -2
    order = np.lexsort((all_d[cut], all_ids[cut]))
    c_src, c_dist, c_cov = all_ids[cut][order], all_d[cut][order], all_cov[cut][order]
    # grid cells wholly inside one district (its number), in none (-1) or on a boundary (-2);
    # the weights of the boundary cells keyed by cell·n + district, sorted
    # (the whole-grid arrays here are the int32 state and the entry list's own arrays: the
    # boundary entries, a small share, are the only ones copied)
    wcell, wdist, wweight = area_weights.cell, area_weights.district, area_weights.weight
    n_cells = grid.shape[0] * grid.shape[1]
    state = cell_states(wcell, wdist, wweight, n_cells)
    bidx = np.flatnonzero(state[wcell] < 0)
    bcell_all = wcell[bidx].astype(np.int64)
    bkey = bcell_all * n + wdist[bidx].astype(np.int64)
    order = np.argsort(bkey, kind="stable")
    bidx, bkey, bcell_all = bidx[order], bkey[order], bcell_all[order]
    bweight = np.asarray(wweight[bidx], dtype=np.float64)
    bcell, inverse = np.unique(bcell_all, return_inverse=True)
    bsum = np.bincount(inverse, weights=bweight, minlength=bcell.size)
    piece, stray, (p_src, p_cell, p_frac) = regrid.district_pieces(
        counts, codes.reshape(counts.shape), transform, crs, grid, n_districts=n,
        state=state, bkey=bkey)
    worst = split_cut_cells(p_src, p_cell, p_frac, c_src, c_dist, c_cov, flat, n, state, bkey, bweight,
                            bcell, bsum, piece, stray, IPF_MAX_ITER, IPF_TOL)
    del state
    weight = np.ones(wcell.size)
    bpop = np.asarray(values).reshape(-1)[bcell_all].astype(np.float64)
    weight[bidx] = np.where(bpop > 0, piece / np.where(bpop > 0, bpop, 1.0), bweight)
    return weight, (int(c_src.size), float(stray.sum()), float(worst))


PERSON_STRIP_ENTRIES = 1 << 20
"""Entries per strip of the final rescale of :func:`person_weights` (bounds its temporary)."""


def person_weights(layer: RasterLayer, districts: Districts, grid: GridSpec,
                   area_weights: ZonalWeights) -> PersonWeights:
    """Weights of residents (and households, covered residents, ...) on ``grid`` under the
    ``fraction`` rule, exact to the source raster of ``layer``.

    Area weights (``area_weights``, the fraction rule) spread a grid cell's residents over its
    districts by area, as if they were uniform inside the cell; they are not when the cell was
    filled from source cells of another size or CRS.  Here a cell's weight in a district is
    the share of its residents that came from inside the district instead:

    * the residents of each district are Σ value × area(source cell ∩ district) / area(source
      cell), computed in the source raster's own CRS (exactextract, district edges densified to
      :data:`DISTRICT_SEGMENT_M`): :attr:`PersonWeights.totals`;
    * a source cell wholly inside a district follows its area shares onto the grid
      (:func:`citycov.regrid.district_pieces`); a cell cut by a district boundary is split
      over (grid cell, district) pieces whose sums match both its area shares on the grid and
      its coverage by each district (``split_cut_cells``, iterative proportional fitting);
    * a grid cell wholly inside one district keeps weight 1;
    * finally each district's weights are rescaled by totals / Σ weight × grid population, so
      the person sums reproduce the totals to float precision.  The factor differs from 1 only
      by the difference between source-CRS and grid-CRS areas and float32 rounding of the grid
      (about 1e-7); its largest departure is in the notes.

    A raster already on the grid, or a rotated source raster (no exactextract in its CRS), keeps
    the area weights.
    """
    if area_weights.rule != "fraction":
        raise ValueError(f"person weights refine the fraction rule's area weights, got rule {area_weights.rule!r}")
    n = len(districts)
    src_grid = GridSpec(crs=pyproj.CRS(layer.source_crs), transform=layer.source_transform,
                        shape=layer.source_counts.shape)
    coverage = _source_coverage(layer, districts)
    if coverage is None:
        return PersonWeights(area_weights, np.full(n, np.nan), ("rotated population raster: area weights",))
    counts = np.ascontiguousarray(layer.source_counts, dtype=np.float64)
    flat = counts.reshape(-1)
    totals = np.array([float(np.dot(flat[ids], cov)) for ids, cov in coverage])
    if src_grid.same_as(grid):
        return PersonWeights(area_weights, totals, ())
    weight, (n_cut, unplaced, worst) = split_person_weights(
        counts, layer.source_transform, layer.source_crs, coverage, grid, area_weights, layer.values)
    wcell, wdist = area_weights.cell, area_weights.district
    # Σ weight × grid residents per district, entry by entry in order (np.bincount's sum)
    summed = weighted_sums(wcell, wdist, weight, np.ascontiguousarray(layer.values).reshape(-1), n)
    factor = np.where(summed > 0, totals / np.where(summed > 0, summed, 1.0), 1.0)
    for s in range(0, weight.size, PERSON_STRIP_ENTRIES):
        weight[s:s + PERSON_STRIP_ENTRIES] *= factor[wdist[s:s + PERSON_STRIP_ENTRIES]]
    keep = weight > 0
    if keep.all():  # the area weights' index arrays, shared
        out = ZonalWeights("fraction", wcell, wdist, weight, n, grid.shape)
    else:
        out = ZonalWeights("fraction", wcell[keep], wdist[keep], weight[keep], n, grid.shape)
    del weight, keep
    departure = float(np.max(np.abs(factor - 1.0))) if n else 0.0
    notes = (f"residents per district exact in the population raster's CRS ({layer.source_crs}); grid cells split "
             f"by their residents' origin: {n_cut:,} source cell × district pieces cut by a boundary, "
             f"final per-district rescale within {departure:.1e}, unplaced {unplaced:.3g} residents, "
             f"fit residual {worst:.1e}",)
    return PersonWeights(out, totals, notes)


def census_factor(census: np.ndarray, grid_population: np.ndarray) -> np.ndarray:
    """Per district: census figure / residents on the grid (``grid_population``, the zonal sums).

    Raises
    ------
    ScenarioError
        A district has no residents on the grid (fewer than :data:`EMPTY_PERSONS`).
    """
    factor = census / np.where(grid_population >= EMPTY_PERSONS, grid_population, np.nan)
    if not np.isfinite(factor).all():
        raise ScenarioError("census rescaling: some districts have no population on the grid")
    return factor


def district_index(districts: Districts, grid: GridSpec) -> np.ndarray:
    """int32 raster of the grid shape: the 0-based district row per cell (cell-centre rule), −1 outside."""
    shapes = ((geom, i) for i, geom in enumerate(districts.frame.geometry))
    return rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=-1, dtype="int32",
                     all_touched=False)


HOUSEHOLD_STRIP_CELLS = 1 << 20
"""Cells per strip of :func:`households` with persons per household by district (bounds its
temporaries to a few MB)."""


def households(population: np.ndarray, persons_per_household: float | np.ndarray,
               index: np.ndarray | None = None) -> np.ndarray:
    """Households per cell = residents / persons per household.

    ``persons_per_household`` is one number, or one per district (then ``index``, the
    cell-centre district raster, says which applies; cells outside every district use the
    mean of the districts).
    """
    pph = np.asarray(persons_per_household, dtype=np.float64)
    out = population.astype(np.float64)  # divided in place: one grid of float64, no temporary
    if pph.ndim == 0:
        out /= float(pph)
        return out
    if index is None:
        raise ValueError("per-district persons_per_household needs the district index raster")
    # the persons per household of each cell, in row strips (the cell's district's, the mean outside)
    mean = pph.mean()
    rows = max(1, HOUSEHOLD_STRIP_CELLS // max(int(np.prod(out.shape[1:])), 1))
    for r0 in range(0, out.shape[0], rows):
        idx = index[r0:r0 + rows]
        out[r0:r0 + rows] /= np.where(idx >= 0, pph[np.clip(idx, 0, None)], mean)
    return out
