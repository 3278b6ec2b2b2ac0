"""FTTH coverage: which cells (and so which households) are passed by fibre.

Three rules:

(a) ``drop_distance`` (:func:`passed_cells`): a cell is passed when its centre lies within
    ``drop_distance_m`` of a fibre route or an access node (the length of a typical drop cable);
    the distance is exact (Euclidean, to the nearest point of a route or a node).
(b) premises (:func:`premises_passed`): an operator's premises table says, per building or
    address, how many households it holds and whether it is FTTH-ready; both are summed per
    district (cell-centre rule of the cell holding each premises point).
(c) capacity (:func:`capacity_passed`): as (a) for access nodes, but a node passes no more
    households than it has ports; households go to the nearest node with free ports.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from citycov.accounting._fibre_kernels import cell_node_pairs, cells_near_segments, greedy_capacity
from citycov.errors import CitycovWarning, CRSError, RasterError, SiteTableError, raise_problems
from citycov.grid import GridSpec
from citycov.io.fibre import NODE_COLUMNS, NODE_KINDS, PREMISES_COLUMNS

ACCESS_KINDS = ("cabinet", "splitter")
"""Node kinds whose ports pass households by default (OLT ports feed splitters upstream)."""


def passed_cells(grid: GridSpec, *, drop_distance_m: float, nodes: gpd.GeoDataFrame | None = None,
                 routes: gpd.GeoDataFrame | None = None) -> np.ndarray:
    """Bool raster: cell centre within ``drop_distance_m`` of any node or route (rule a).

    The distance is exact: Euclidean, in the grid's projected CRS, from the cell centre to
    the nearest point of any route segment (ends and bends included) or node, and a centre
    at exactly ``drop_distance_m`` is passed.  Each segment and node searches only the cells
    its reach can touch (:func:`citycov.accounting._fibre_kernels.cells_near_segments`).

    Parameters
    ----------
    grid
        The analysis grid (projected CRS, metres).
    drop_distance_m
        Largest cell-centre distance, metres (inclusive), finite and ≥ 0.
    nodes, routes
        Access nodes (points) and cable routes ((multi)line strings) in ``grid.crs``; either
        may be None or empty.  Missing and empty geometries pass nothing.

    Returns
    -------
    np.ndarray
        bool (rows, cols) on ``grid``.

    Examples
    --------
    >>> mask = passed_cells(grid, drop_distance_m=300.0, nodes=nodes, routes=routes)  # doctest: +SKIP
    """
    if not (math.isfinite(drop_distance_m) and drop_distance_m >= 0):
        raise ValueError(f"drop_distance_m must be a finite number ≥ 0 m, got {drop_distance_m!r}")
    pieces = [_segments(frame, name) for name, frame in (("nodes", nodes), ("routes", routes))
              if frame is not None and len(frame)]
    out = np.zeros(grid.shape, dtype=bool)
    if pieces:
        start_x, start_y, end_x, end_y = (np.concatenate(arrays) for arrays in zip(*pieces, strict=True))
        centre_x_m, centre_y_m = grid.cell_centres()
        cells_near_segments(start_x, start_y, end_x, end_y, centre_x_m, centre_y_m, float(drop_distance_m), out)
    return out


def _segments(frame: gpd.GeoDataFrame, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(start x, start y, end x, end y) in metres of every straight segment of ``frame``'s
    geometries; a point is a segment of length 0."""
    parts = shapely.get_parts(frame.geometry.to_numpy())
    parts = parts[~shapely.is_empty(parts)]
    kind = shapely.get_type_id(parts)
    point, line = kind == 0, (kind == 1) | (kind == 2)
    other = np.flatnonzero(~(point | line))
    if len(other):
        raise ValueError(f"{name}: expected points or line strings, found {len(other)} other geometries, "
                         f"e.g. a {parts[other[0]].geom_type}")
    xy_point = shapely.get_coordinates(parts[point])
    xy_line, part = shapely.get_coordinates(parts[line], return_index=True)
    same = part[1:] == part[:-1]  # consecutive vertices of one line string
    start = np.concatenate([xy_point, xy_line[:-1][same]])
    end = np.concatenate([xy_point, xy_line[1:][same]])
    if not (np.isfinite(start).all() and np.isfinite(end).all()):
        raise ValueError(f"{name}: coordinates must be finite numbers (found NaN or infinite)")
    return start[:, 0].copy(), start[:, 1].copy(), end[:, 0].copy(), end[:, 1].copy()


@dataclass(frozen=True)
class CapacityResult:
    """Outcome of the capacity rule (c); plain data.

    Attributes
    ----------
    passed
        float64 (rows, cols): households passed per cell (≤ the cell's households).
    ports_used
        float64 (n_nodes,): ports used per counted node (≤ its ports), aligned with ``node_ids``.
    node_ids
        object (n_nodes,): ``node_id`` of the counted nodes (kind in ``kinds``), in input order.
    ports_total
        Installed ports of the counted nodes.
    households_in_range
        Households of cells whose centre is within the drop distance of any counted node.
    """

    passed: np.ndarray
    ports_used: np.ndarray
    node_ids: np.ndarray
    ports_total: float
    households_in_range: float

    @property
    def households_passed(self) -> float:
        """Total households passed (equals the total ports used)."""
        return float(self.passed.sum())

    def summary(self) -> str:
        """One line, e.g. ``"4,512,000 of 4,980,000 ports used; 5.1 M households in range"``."""
        return (f"{self.ports_used.sum():,.0f} of {self.ports_total:,.0f} ports used; "
                f"{_count_text(self.households_in_range)} households in range")


def _count_text(value: float) -> str:
    return f"{value / 1e6:.1f} M" if value >= 1e6 else f"{value:,.0f}"


def capacity_passed(households: np.ndarray, grid: GridSpec, nodes: gpd.GeoDataFrame, *, drop_distance_m: float,
                    kinds: Sequence[str] = ACCESS_KINDS) -> CapacityResult:
    """Households passed by fibre when every access node serves at most its port count (rule c).

    Only nodes whose ``kind`` is in ``kinds`` pass households.  Every (cell, node) pair with the
    cell centre within ``drop_distance_m`` of the node is served in increasing distance order
    (ties: node order, then row-major cell order); each pair assigns min(households left in the
    cell, ports left at the node).  So households go to the nearest node with free ports and
    overflow to farther ones; households are continuous (fractions allowed).  Work grows with
    the nodes and the cells within their reach, never with the whole grid per node.

    Parameters
    ----------
    households
        float (rows, cols) households per cell on ``grid``; finite and ≥ 0.  Not modified.
    grid
        The analysis grid (projected CRS, metres).
    nodes
        Validated access nodes (see :func:`citycov.io.fibre.read_fibre_nodes`): columns
        ``node_id``, ``kind``, ``ports`` and point geometry in ``grid.crs``.
    drop_distance_m
        Largest cell-centre to node distance, metres (inclusive), ≥ 0.
    kinds
        Node kinds whose ports count, a subset of ``NODE_KINDS``.

    Returns
    -------
    CapacityResult
        ``passed`` (float64, grid shape), ``ports_used`` per counted node, their ``node_ids``,
        ``ports_total`` and ``households_in_range``.

    Examples
    --------
    >>> result = capacity_passed(households, grid, nodes, drop_distance_m=300.0)  # doctest: +SKIP
    >>> result.summary()  # doctest: +SKIP
    '20 of 20 ports used; 30 households in range'
    """
    values = _checked_households(households, grid)
    counted = _checked_nodes(nodes, grid, drop_distance_m, kinds)
    ports = counted["ports"].to_numpy(dtype=np.float64)
    x_m = counted.geometry.x.to_numpy(dtype=np.float64)
    y_m = counted.geometry.y.to_numpy(dtype=np.float64)
    cell, node, dist_m = cells_within_reach(grid, x_m, y_m, reach_m=float(drop_distance_m))
    order = np.argsort(dist_m, kind="stable")  # pairs come in node, then row-major cell order
    flat = values.ravel()
    passed, used = greedy_capacity(cell[order], node[order], flat, ports)
    in_range = np.unique(cell)
    return CapacityResult(
        passed=passed.reshape(grid.shape),
        ports_used=used,
        node_ids=counted["node_id"].astype(str).to_numpy(dtype=object),
        ports_total=float(ports.sum()),
        households_in_range=float(flat[in_range].sum()),
    )


def _checked_households(households: np.ndarray, grid: GridSpec) -> np.ndarray:
    values = np.asarray(households)
    if values.shape != grid.shape:
        raise ValueError(f"households have shape {values.shape}, the grid is {grid.shape}")
    if not np.issubdtype(values.dtype, np.number):
        raise RasterError(f"households: expected numbers, got dtype {values.dtype}")
    values = values.astype(np.float64)  # a copy: the caller's array is never touched
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        rows, cols = np.nonzero(bad)
        raise RasterError(f"households: {int(bad.sum())} cells are NaN, infinite or negative, e.g. "
                          f"(row, col) {list(zip(rows[:5].tolist(), cols[:5].tolist(), strict=True))}")
    return values


def _checked_nodes(nodes: gpd.GeoDataFrame, grid: GridSpec, drop_distance_m: float,
                   kinds: Sequence[str]) -> gpd.GeoDataFrame:
    """The nodes of ``kinds``, after checking what the capacity rule relies on."""
    if not (math.isfinite(drop_distance_m) and drop_distance_m >= 0):
        raise ValueError(f"drop_distance_m must be a finite number ≥ 0 m, got {drop_distance_m!r}")
    if isinstance(kinds, str):
        raise ValueError(f"kinds must be a sequence of node kinds, e.g. ({kinds!r},), not the string {kinds!r}")
    unknown = sorted(set(kinds) - set(NODE_KINDS))
    if unknown:
        raise ValueError(f"kinds: unknown node kinds {unknown}; expected a subset of {list(NODE_KINDS)}")
    problems: list[str] = []
    missing = [c for c in NODE_COLUMNS if c not in nodes.columns]
    if missing:
        problems.append(f"missing columns {missing} (found {list(nodes.columns)}); read them with read_fibre_nodes")
        raise_problems(SiteTableError, "nodes", problems)
    if nodes.crs is None or not grid.crs.equals(nodes.crs):
        found = nodes.crs.to_string() if nodes.crs is not None else "no CRS"
        raise CRSError(f"nodes: CRS {found} differs from the grid's {grid.crs.to_string()}; "
                       "read them with read_fibre_nodes(..., to_crs=grid.crs)")
    counted = nodes.loc[nodes["kind"].astype(str).str.strip().isin(list(kinds)).to_numpy()]
    geom = counted.geometry
    not_point = np.flatnonzero((geom.isna() | geom.is_empty | (geom.geom_type != "Point")).to_numpy())
    if len(not_point):
        problems.append(f"geometry: expected non-empty points, not at nodes {_ids(counted, not_point)}")
    ports = np.asarray(counted["ports"], dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(ports) | (ports < 0))
    if len(bad):
        problems.append(f"ports: expected a finite number ≥ 0 at nodes {_ids(counted, bad)} "
                        f"(found {ports[bad[:5]].tolist()})")
    raise_problems(SiteTableError, "nodes", problems)
    return counted


def _ids(frame: gpd.GeoDataFrame, positions: np.ndarray, limit: int = 10) -> list[str]:
    return [str(v) for v in frame["node_id"].to_numpy()[positions[:limit]]]


def cells_within_reach(grid: GridSpec, x_m: np.ndarray, y_m: np.ndarray, *,
                       reach_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flat cell, node, distance m) for cell centres within ``reach_m`` (inclusive) of each
    point (``x_m``, ``y_m``, float64 in ``grid.crs``), in point order, then row-major cell order.

    The distance test is the one of :func:`passed_cells` for a node, so a point passes exactly
    these cells under rule (a).  Each point searches only the window of cells its reach can
    touch, clipped to the grid (the planner's fibre cabinets use it too).
    """
    n_rows, n_cols = grid.shape
    row_lo, col_lo = grid.rowcol(x_m - reach_m, y_m + reach_m)
    row_hi, col_hi = grid.rowcol(x_m + reach_m, y_m - reach_m)
    centre_x_m, centre_y_m = grid.cell_centres()
    return cell_node_pairs(
        x_m, y_m,
        np.clip(row_lo, 0, n_rows), np.clip(row_hi, -1, n_rows - 1),
        np.clip(col_lo, 0, n_cols), np.clip(col_hi, -1, n_cols - 1),
        centre_x_m, centre_y_m, reach_m,
    )


def premises_passed(premises: gpd.GeoDataFrame, district_index: np.ndarray, grid: GridSpec,
                    n_districts: int) -> tuple[np.ndarray, np.ndarray]:
    """Households and FTTH-ready households per district, from a premises table (rule b).

    Each premises point counts in the district of the grid cell that contains it (the
    cell-centre zonal rule of :mod:`citycov.accounting.population`).  Premises outside the grid or in a
    cell outside every district are dropped, with a :class:`CitycovWarning` saying how many.

    Parameters
    ----------
    premises
        Validated premises (see :func:`citycov.io.fibre.read_premises`): ``households``,
        ``ftth_ready`` and point geometry in ``grid.crs``.
    district_index
        int (rows, cols) district row per cell of ``grid``, −1 outside every district
        (:func:`citycov.accounting.population.district_index`).
    grid
        The analysis grid.
    n_districts
        Number of districts (length of the outputs).

    Returns
    -------
    (households, ftth_ready)
        float64 (n_districts,) households per district, and households in FTTH-ready premises.

    Examples
    --------
    >>> total, ready = premises_passed(premises, index, grid, len(districts))  # doctest: +SKIP
    >>> 100 * ready / total  # FTTH-ready share per district, %  # doctest: +SKIP
    """
    index = np.asarray(district_index)
    if index.shape != grid.shape:
        raise ValueError(f"district_index has shape {index.shape}, the grid is {grid.shape}")
    missing = [c for c in PREMISES_COLUMNS if c not in premises.columns and c != "premises_id"]
    if missing:
        raise SiteTableError(f"premises: missing columns {missing} (found {list(premises.columns)}); "
                             "read them with read_premises")
    if premises.crs is None or not grid.crs.equals(premises.crs):
        found = premises.crs.to_string() if premises.crs is not None else "no CRS"
        raise CRSError(f"premises: CRS {found} differs from the grid's {grid.crs.to_string()}; "
                       "read them with read_premises(..., to_crs=grid.crs)")
    households = np.asarray(premises["households"], dtype=np.float64)
    ready = np.asarray(premises["ftth_ready"])
    if ready.dtype != bool:
        raise SiteTableError(f"premises: ftth_ready must be bool, got dtype {ready.dtype}; read it with read_premises")
    if len(households) and not (np.isfinite(households).all() and (households >= 0).all()):
        raise SiteTableError("premises: households must be finite numbers ≥ 0; read them with read_premises")
    geom = premises.geometry
    not_point = np.flatnonzero((geom.isna() | geom.is_empty | (geom.geom_type != "Point")).to_numpy())
    if len(not_point):
        raise SiteTableError(f"premises: expected non-empty points, not at rows {not_point[:10].tolist()}")
    if index.size and index.max() >= n_districts:
        raise ValueError(f"district_index holds district {int(index.max())} but n_districts is {n_districts}")
    row, col = grid.rowcol(geom.x.to_numpy(), geom.y.to_numpy())
    inside = grid.contains(row, col)
    district = np.full(len(premises), -1, dtype=np.int64)
    district[inside] = index[row[inside], col[inside]]
    kept = district >= 0
    dropped = int((~kept).sum())
    if dropped:
        outside = int((~inside).sum())
        warnings.warn(f"{dropped} of {len(premises)} premises were dropped: {outside} outside the analysis grid, "
                      f"{dropped - outside} in cells outside every district", CitycovWarning, stacklevel=2)
    total = np.bincount(district[kept], weights=households[kept], minlength=n_districts)
    ftth = np.bincount(district[kept], weights=np.where(ready[kept], households[kept], 0.0), minlength=n_districts)
    return total.astype(np.float64), ftth.astype(np.float64)


def ready_cells(premises: gpd.GeoDataFrame, grid: GridSpec) -> np.ndarray:
    """bool grid: cells holding at least one FTTH-ready premises point (``ftth_ready``, point
    geometry in ``grid.crs``); points off the grid are ignored."""
    cells = np.zeros(grid.shape, dtype=bool)
    xs, ys = premises.geometry.x.to_numpy(), premises.geometry.y.to_numpy()
    ready_flag = premises["ftth_ready"].to_numpy(dtype=bool)
    r, c = grid.rowcol(xs[ready_flag], ys[ready_flag])
    ok = grid.contains(r, c)
    cells[r[ok], c[ok]] = True
    return cells
