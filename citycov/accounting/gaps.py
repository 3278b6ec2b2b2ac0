"""Coverage gaps: uncovered, populated cells dissolved into ranked polygons.

A *gap cell* is a grid cell that is uncovered, holds people (population > 0) and lies in a
district (district index >= 0, the cell-centre rule of :mod:`citycov.accounting.population`).  Gap cells
that touch (4- or 8-connectivity) *and* belong to the same district are dissolved into one
gap, so a gap always belongs to exactly one district: a connected patch that straddles a
district border becomes one gap per district.

Each gap polygon is exactly the union of its cells (edges on the grid lines, in the grid
CRS).  Gaps are ranked by the people they hold; ties go to the larger gap, then to the
district order, then to the row-major position of the gap's first cell, so ranks are
reproducible.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from rasterio.features import rasterize, shapes

from citycov.crs import WGS84
from citycov.errors import CRSError, GridError, RasterError
from citycov.grid import GridSpec

GAP_COLUMNS = ("gap_id", "rank", "district_id", "district_name", "population", "cells", "area_km2",
               "nearest_site_m", "centroid_lon", "centroid_lat")
"""Attribute columns of :func:`find_gaps` output, in order (the geometry column follows)."""

CONNECTIVITIES = (4, 8)
"""Accepted neighbourhoods: 4 (edges only) or 8 (edges and corners)."""

GAPS_GEOJSON = "gaps.geojson"
GAPS_GPKG = "gaps.gpkg"
GPKG_LAYER = "gaps"

_DTYPES = {"gap_id": "str", "rank": "int64", "district_id": "str", "district_name": "str",
           "population": "float64", "cells": "int64", "area_km2": "float64", "nearest_site_m": "float64",
           "centroid_lon": "float64", "centroid_lat": "float64"}


def find_gaps(
    uncovered: np.ndarray,
    population: np.ndarray,
    district_index: np.ndarray,
    grid: GridSpec,
    *,
    district_ids: Sequence[str],
    district_names: Sequence[str],
    site_x: np.ndarray,
    site_y: np.ndarray,
    min_population: float = 1.0,
    connectivity: int = 8,
) -> gpd.GeoDataFrame:
    """Dissolve uncovered, populated cells into gap polygons ranked by people affected.

    Parameters
    ----------
    uncovered
        bool array of ``grid.shape``: True where a cell has no coverage.
    population
        Floating array of ``grid.shape``: persons per cell (>= 0, finite inside districts).
    district_index
        Integer array (int32) of ``grid.shape``: 0-based district row per cell, -1 outside
        every district (cell-centre rule, as :func:`citycov.accounting.population.district_index`).
    grid
        The analysis grid (projected CRS, metres).
    district_ids, district_names
        Identifier and name of each district, indexed by ``district_index``.
    site_x, site_y
        1-D coordinates (metres, ``grid.crs``) of the serving sites; may be empty.
    min_population
        Gaps holding fewer persons than this are dropped.
    connectivity
        4 (cells sharing an edge) or 8 (edge or corner) for dissolving cells into a gap.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per gap in ``grid.crs``, ordered by ``rank`` (1 = most people), with columns
        ``gap_id`` ("G0001" for rank 1), ``rank``, ``district_id``, ``district_name``,
        ``population`` (persons, float), ``cells``, ``area_km2``, ``nearest_site_m`` (metres
        from the polygon to the nearest site, 0 when a site lies inside, NaN when there are
        no sites), ``centroid_lon``, ``centroid_lat`` (WGS84 degrees) and ``geometry``
        (Polygon, or MultiPolygon when 8-connected cells meet only at a corner).  Empty, with
        the same columns, when there is no gap.  The inputs are not modified.

    Raises
    ------
    GridError
        If an array has the wrong shape or dtype, an argument is out of range, or district
        indices exceed ``district_ids``.
    RasterError
        If a cell inside a district has negative or non-finite population.

    Examples
    --------
    >>> import numpy as np, pyproj
    >>> from citycov.grid import GridSpec
    >>> grid = GridSpec.from_bounds((500000, 2550000, 500300, 2550300), cell_m=100.0,
    ...                             crs=pyproj.CRS("EPSG:32649"))
    >>> uncovered = np.zeros(grid.shape, dtype=bool)
    >>> uncovered[0, :2] = True
    >>> gaps = find_gaps(uncovered, np.full(grid.shape, 10.0), np.zeros(grid.shape, dtype=np.int32), grid,
    ...                  district_ids=["1"], district_names=["Centre"],
    ...                  site_x=np.array([500250.0]), site_y=np.array([2550250.0]))
    >>> gaps[["gap_id", "population", "cells", "area_km2", "nearest_site_m"]].to_dict("records")
    [{'gap_id': 'G0001', 'population': 20.0, 'cells': 2, 'area_km2': 0.02, 'nearest_site_m': 50.0}]
    """
    site_x, site_y = _validate(uncovered, population, district_index, grid, district_ids=district_ids,
                               district_names=district_names, site_x=site_x, site_y=site_y,
                               min_population=min_population, connectivity=connectivity)
    gap = uncovered & (district_index >= 0) & (population > 0)
    if not gap.any():
        return _empty_gaps(grid.crs)
    geoms, cells, people, first_flat, district = _dissolve(gap, population, district_index, grid,
                                                           connectivity=connectivity)
    keep = (cells > 0) & (people >= min_population)
    geoms, cells, people, first_flat, district = (a[keep] for a in (geoms, cells, people, first_flat, district))
    if not geoms.size:
        return _empty_gaps(grid.crs)
    order = np.lexsort((first_flat, district, -cells, -people))
    geoms, cells, people, district = (a[order] for a in (geoms, cells, people, district))
    return _gap_frame(_made_valid(geoms), cells, people, district, grid, district_ids=district_ids,
                      district_names=district_names, site_x=site_x, site_y=site_y)


def _dissolve(gap: np.ndarray, population: np.ndarray, district_index: np.ndarray, grid: GridSpec, *,
              connectivity: int) -> tuple[np.ndarray, ...]:
    """One polygon per connected run of ``gap`` cells of one district (one per (component,
    district) pair), unranked: ``geoms, cells, people, first_flat, district`` per polygon, where
    ``first_flat`` is the row-major index of its first cell and ``district`` its district row."""
    district_plus1 = np.where(gap, district_index, -1).astype(np.int32) + 1
    features = [f for f, _ in shapes(district_plus1, mask=gap, connectivity=connectivity, transform=grid.transform)]
    n = len(features)
    labels = rasterize(zip(features, range(1, n + 1), strict=True), out_shape=grid.shape, transform=grid.transform,
                       fill=0, dtype="int32", all_touched=False)
    geoms = _polygons(features)

    flat = np.flatnonzero(gap)
    cell_label = labels.ravel()[flat]
    if (cell_label == 0).any():
        raise RuntimeError(f"find_gaps: {int((cell_label == 0).sum())} gap cells were not labelled (a bug)")
    cells = np.bincount(cell_label, minlength=n + 1)[1:]
    people = np.bincount(cell_label, weights=population.ravel()[flat].astype(np.float64), minlength=n + 1)[1:]
    present, first = np.unique(cell_label, return_index=True)  # ``flat`` is row-major, so ``first`` is too
    first_flat = np.zeros(n, dtype=np.int64)
    first_flat[present - 1] = flat[first]
    district = district_index.ravel()[first_flat].astype(np.int64)
    return geoms, cells, people, first_flat, district


def _gap_frame(geoms: np.ndarray, cells: np.ndarray, people: np.ndarray, district: np.ndarray, grid: GridSpec, *,
               district_ids: Sequence[str], district_names: Sequence[str], site_x: np.ndarray,
               site_y: np.ndarray) -> gpd.GeoDataFrame:
    """The :func:`find_gaps` frame of ranked gaps (rank 1 first) in ``grid.crs``."""
    centroids = shapely.centroid(geoms)
    to_wgs84 = pyproj.Transformer.from_crs(grid.crs, WGS84, always_xy=True)
    lon, lat = to_wgs84.transform(shapely.get_x(centroids), shapely.get_y(centroids))
    rank = np.arange(1, geoms.size + 1, dtype=np.int64)
    ids = np.asarray(district_ids, dtype=object)
    names = np.asarray(district_names, dtype=object)
    table = pd.DataFrame({
        "gap_id": [f"G{r:04d}" for r in rank],
        "rank": rank,
        "district_id": [str(v) for v in ids[district]],
        "district_name": [str(v) for v in names[district]],
        "population": people,
        "cells": cells.astype(np.int64),
        "area_km2": cells * grid.cell_area_km2,
        "nearest_site_m": _nearest_distance_m(geoms, site_x, site_y),
        "centroid_lon": np.asarray(lon, dtype=np.float64),
        "centroid_lat": np.asarray(lat, dtype=np.float64),
    }).astype(_DTYPES)
    return gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(geoms, crs=grid.crs), crs=grid.crs)


def top_gaps_per_district(gaps: gpd.GeoDataFrame, n: int = 3) -> pd.DataFrame:
    """The ``n`` most populous gaps of each district, as a plain table.

    Parameters
    ----------
    gaps
        Output of :func:`find_gaps`.
    n
        Gaps kept per district (>= 1).

    Returns
    -------
    pandas.DataFrame
        The attribute columns of ``gaps`` (no geometry) plus ``district_rank`` (1 = the
        district's most populous gap, placed after ``rank``), ordered by ``district_id``
        (as text), then ``rank``; index 0..len-1.

    Raises
    ------
    GridError
        If ``n`` is not a positive integer or ``gaps`` lacks a column of :func:`find_gaps`.
    """
    problems: list[str] = []
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        problems.append(f"n must be a positive integer, got {n!r}")
    missing = [c for c in GAP_COLUMNS if c not in gaps.columns]
    if missing:
        problems.append(f"missing columns {missing}; expected the output of find_gaps")
    if problems:
        raise GridError("top_gaps_per_district: " + "; ".join(problems))
    table = pd.DataFrame(gaps[list(GAP_COLUMNS)]).astype(_DTYPES)
    table = table.sort_values(["district_id", "rank"], kind="stable")
    table.insert(2, "district_rank", table.groupby("district_id", sort=False).cumcount().astype(np.int64) + 1)
    return table[table["district_rank"] <= n].reset_index(drop=True)


def write_gaps(gaps: gpd.GeoDataFrame, folder: Path) -> dict[str, Path]:
    """Write ``gaps`` to ``folder/gaps.geojson`` (WGS84) and ``folder/gaps.gpkg`` (its own CRS).

    The GeoJSON is reprojected to WGS84 (EPSG:4326), as RFC 7946 requires; the GeoPackage
    keeps the grid CRS in layer ``"gaps"`` with MultiPolygon geometries.  Each file is written
    beside its destination and moved into place, replacing any earlier file.  An empty frame
    gives valid, empty files.

    Parameters
    ----------
    gaps
        Output of :func:`find_gaps` (or any GeoDataFrame with a CRS).
    folder
        Destination folder; created when missing.

    Returns
    -------
    dict of str to pathlib.Path
        ``{"geojson": ..., "gpkg": ...}``.

    Raises
    ------
    CRSError
        If ``gaps`` has no CRS.
    """
    if gaps.crs is None:
        raise CRSError("write_gaps: gaps has no CRS; expected the grid CRS set by find_gaps")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"geojson": folder / GAPS_GEOJSON, "gpkg": folder / GAPS_GPKG}
    _write_replacing(gaps.to_crs(WGS84), paths["geojson"], driver="GeoJSON", layer=Path(GAPS_GEOJSON).stem)
    _write_replacing(gaps, paths["gpkg"], driver="GPKG", layer=GPKG_LAYER, geometry_type="MultiPolygon",
                     promote_to_multi=True)
    return paths


def _write_replacing(frame: gpd.GeoDataFrame, path: Path, **options) -> None:
    """Write ``frame`` to a staging name beside ``path``, then atomically replace ``path``."""
    staging = path.with_name(f".{path.stem}.staging{path.suffix}")
    staging.unlink(missing_ok=True)
    try:
        frame.to_file(staging, engine="pyogrio", **options)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def _polygons(features: list[dict]) -> np.ndarray:
    """Shapely polygons from GeoJSON-like polygon dicts (vectorised), as GDAL outlined them."""
    rings = [np.asarray(ring, dtype=np.float64) for f in features for ring in f["coordinates"]]
    ring_owner = np.repeat(np.arange(len(features)), [len(f["coordinates"]) for f in features])
    ring_sizes = [len(r) for r in rings]
    linearrings = shapely.linearrings(np.concatenate(rings), indices=np.repeat(np.arange(len(rings)), ring_sizes))
    return shapely.polygons(linearrings, indices=ring_owner)


def _made_valid(geoms: np.ndarray) -> np.ndarray:
    """``geoms`` with GDAL's self-touching 8-connected outlines split into valid MultiPolygons.

    OGC calls a ring that touches itself at a cell corner invalid; ``make_valid`` keeps the
    same cells and area.
    """
    geoms = geoms.copy()
    invalid = ~shapely.is_valid(geoms)
    geoms[invalid] = shapely.make_valid(geoms[invalid], method="structure")
    return geoms


def _empty_gaps(crs: pyproj.CRS) -> gpd.GeoDataFrame:
    table = pd.DataFrame({c: pd.Series([], dtype=_DTYPES[c]) for c in GAP_COLUMNS})
    return gpd.GeoDataFrame(table, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _nearest_distance_m(geoms: np.ndarray, site_x: np.ndarray, site_y: np.ndarray) -> np.ndarray:
    """Distance (CRS units, metres) from each geometry to the nearest site point; NaN with no sites."""
    out = np.full(geoms.size, np.nan)
    if site_x.size == 0:
        return out
    tree = shapely.STRtree(shapely.points(site_x, site_y))
    (geom_idx, _), dist = tree.query_nearest(geoms, return_distance=True, all_matches=False)
    out[geom_idx] = dist
    return out


def _validate(
    uncovered: np.ndarray,
    population: np.ndarray,
    district_index: np.ndarray,
    grid: GridSpec,
    *,
    district_ids: Sequence[str],
    district_names: Sequence[str],
    site_x: np.ndarray,
    site_y: np.ndarray,
    min_population: float,
    connectivity: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Check every input of :func:`find_gaps`; raise once listing all problems; return float64 sites."""
    problems: list[str] = []
    layers_ok = True
    for name, array, kind, expected in (("uncovered", uncovered, "b", "bool"),
                                        ("population", population, "f", "a float dtype"),
                                        ("district_index", district_index, "iu", "an integer dtype (int32)")):
        if not isinstance(array, np.ndarray):
            problems.append(f"{name} must be a numpy array, got {type(array).__name__}")
            layers_ok = False
            continue
        if array.shape != grid.shape:
            problems.append(f"{name} has shape {array.shape}, expected the grid shape {grid.shape}")
            layers_ok = False
        if array.dtype.kind not in kind:
            problems.append(f"{name} has dtype {array.dtype}, expected {expected}")
            layers_ok = False
    if isinstance(connectivity, bool) or not isinstance(connectivity, int | np.integer) or (
            connectivity not in CONNECTIVITIES):
        problems.append(f"connectivity must be one of {list(CONNECTIVITIES)}, got {connectivity!r}")
    if not (isinstance(min_population, int | float | np.number) and np.isfinite(min_population)
            and min_population >= 0):
        problems.append(f"min_population must be a finite number >= 0 persons, got {min_population!r}")
    if len(district_ids) != len(district_names):
        problems.append(f"district_ids has {len(district_ids)} entries but district_names has "
                        f"{len(district_names)}; expected one of each per district")
    if layers_ok and district_index.size:
        low, high = int(district_index.min()), int(district_index.max())
        if low < -1:
            problems.append(f"district_index has values down to {low}; expected -1 (outside) or a district row")
        if high >= len(district_ids):
            problems.append(f"district_index refers to district row {high} but only {len(district_ids)} "
                            "district_ids were given")
    sx = np.asarray(site_x, dtype=np.float64)
    sy = np.asarray(site_y, dtype=np.float64)
    if sx.ndim != 1 or sx.shape != sy.shape:
        problems.append(f"site_x and site_y must be 1-D arrays of equal length, got shapes {sx.shape} and {sy.shape}")
    else:
        bad = np.flatnonzero(~(np.isfinite(sx) & np.isfinite(sy)))
        if bad.size:
            problems.append(f"{bad.size} sites have non-finite coordinates (first at index {bad[0]})")
    if problems:
        raise GridError("find_gaps: " + "; ".join(problems))

    inside = district_index >= 0
    bad_pop = inside & ~(np.isfinite(population) & (population >= 0))
    if bad_pop.any():
        row, col = np.argwhere(bad_pop)[0]
        raise RasterError(f"find_gaps: population has {int(bad_pop.sum()):,} cells inside districts that are "
                          f"negative or not finite (first at row {row}, col {col}: {population[row, col]}); "
                          "expected persons per cell >= 0")
    return sx, sy
