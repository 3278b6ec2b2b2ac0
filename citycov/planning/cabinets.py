"""Fibre cabinets for the plan: where they may go, which households each would pass, what each costs.

A candidate cabinet is an access node of ``config.ports`` ports.  Under the drop-distance rule
(:func:`citycov.accounting.fibre.passed_cells`) it passes every cell whose centre lies within
``drop_distance_m`` of it, so its contribution is the cells with households not yet passed in
that disc (:func:`cabinet_cover`).  Its cost is a fixed part plus a feeder to the nearest
existing fibre node or route (:func:`feeder_m`, :func:`cabinet_costs`).  The chosen cabinets
go back to the full pipeline as node-table rows (:func:`cabinet_nodes`).

Candidates come from a lattice over the households not yet passed (:func:`lattice_cabinets`)
or from a file (:func:`read_cabinet_candidates`); both give the columns of
:data:`CANDIDATE_COLUMNS` and a point geometry in the grid's CRS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from scipy import sparse

from citycov.accounting.fibre import cells_within_reach
from citycov.config.plan import CabinetCandidates
from citycov.crs import GCJ02, WGS84, gcj02_to_wgs84, parse_crs, wgs84_to_gcj02
from citycov.errors import CRSError, RasterError, SiteTableError, raise_problems
from citycov.grid import GridSpec
from citycov.io._validate import CSV_SUFFIXES, TableChecker, read_csv_table
from citycov.io.vector import read_vector
from citycov.planning.problem import CellCover

CANDIDATE_COLUMNS = ("candidate_id", "district_id", "ports", "cost", "source")
"""Columns of a cabinet candidate table (plus ``geometry``, a point in the grid CRS): ``ports``
(households one cabinet can serve) and ``cost`` (the fixed part, in ``[plan].cost_unit``, without
the feeder) are ``config.ports``/``config.cost`` unless a candidate file gives its own;
``source`` is ``lattice`` or the candidate file's name."""
LATTICES = ("hexagonal", "square")
"""Lattice shapes of :func:`lattice_cabinets`: hexagonal (every point ``spacing_m`` from its six
neighbours) or square."""
MAX_LATTICE_POINTS = 20_000_000
"""Refuse lattices with more points than this over the grid (a spacing far below the cell size)."""
COORDINATE_PAIRS = (("lon", "lat"), ("x", "y"))
"""Coordinate columns of a candidate CSV, in the order they are looked for."""
MAX_PORTS = 100_000
"""Largest ``ports`` of a candidate (as the node table allows)."""
_ID_DIGITS = 6


def lattice_cabinets(*, grid: GridSpec, households: np.ndarray, passed: np.ndarray, district_index: np.ndarray,
                     district_ids: Sequence[Any], config: CabinetCandidates, drop_distance_m: float,
                     lattice: str = "hexagonal") -> gpd.GeoDataFrame:
    """Candidate cabinets on a lattice, kept where they would pass households not yet passed.

    The lattice is anchored at the CRS origin, so the same grid and spacing give the same points
    whatever the households: hexagonal rows ``spacing_m·√3/2`` apart at ``y = j·spacing_m·√3/2``,
    points ``x = (i + (j mod 2)/2)·spacing_m``; square ``(i·spacing_m, j·spacing_m)``.  Points are
    numbered over the whole grid (rows north to south, then west to east), so ``candidate_id``
    (``C000123``) names the same position in every call on the same grid.  A point is kept when
    its own cell is in a district and at least one cell with households (> 0) not ``passed`` has
    its centre within ``drop_distance_m`` of it (the test of :func:`cabinet_cover`).

    Parameters
    ----------
    grid
        The analysis grid (projected CRS, metres).
    households
        float (rows, cols) households per cell; finite and ≥ 0.
    passed
        bool (rows, cols): cells already passed by fibre (the base run's ``passed_cells``).
    district_index
        int (rows, cols) district row per cell, −1 outside every district.
    district_ids
        The id of each district row (``Districts.ids``).
    config
        ``[plan.cabinets]``: ``spacing_m``, ``ports``, ``cost``.
    drop_distance_m
        ``[fibre].drop_distance_m``, metres.
    lattice
        One of :data:`LATTICES`.

    Returns
    -------
    gpd.GeoDataFrame
        :data:`CANDIDATE_COLUMNS` with ``source`` = ``"lattice"``, points in ``grid.crs``, in
        ``candidate_id`` order.

    Examples
    --------
    >>> ctx = base.context  # doctest: +SKIP
    >>> cands = lattice_cabinets(grid=base.grid, households=ctx.layers.households,  # doctest: +SKIP
    ...                          passed=ctx.fibre.passed_cells, district_index=ctx.layers.index,
    ...                          district_ids=base.districts.ids, config=CabinetCandidates(),
    ...                          drop_distance_m=300.0)
    """
    if lattice not in LATTICES:
        raise ValueError(f"lattice must be one of {list(LATTICES)}, got {lattice!r}")
    spacing_m = float(config.spacing_m)
    if not (math.isfinite(spacing_m) and spacing_m > 0):
        raise ValueError(f"[plan.cabinets].spacing_m must be a finite number > 0 m, got {config.spacing_m!r}")
    x_m, y_m = _lattice_points(grid, spacing_m, lattice)
    demand = _demand(grid, households, passed)
    index = _district_index(grid, district_index, district_ids)
    row, col = grid.rowcol(x_m, y_m)
    inside = grid.contains(row, col)
    in_district = np.zeros(len(x_m), dtype=bool)
    in_district[inside] = index[row[inside], col[inside]] >= 0
    point = np.flatnonzero(in_district)
    cell, k, _ = cells_within_reach(grid, x_m[point], y_m[point], reach_m=_reach(drop_distance_m))
    useful = np.zeros(len(point), dtype=bool)
    useful[k[demand.ravel()[cell]]] = True
    point = point[useful]
    district = index[row[point], col[point]]
    ids = np.asarray(list(district_ids), dtype=object)
    digits = max(_ID_DIGITS, len(str(max(len(x_m) - 1, 0))))
    return _candidate_frame(
        candidate_id=[f"C{p:0{digits}d}" for p in point],
        district_id=[str(v) for v in ids[district]],
        ports=np.full(len(point), float(config.ports)),
        cost=np.full(len(point), float(config.cost)),
        source="lattice", x_m=x_m[point], y_m=y_m[point], crs=grid.crs,
    )


def _lattice_points(grid: GridSpec, spacing_m: float, lattice: str) -> tuple[np.ndarray, np.ndarray]:
    """x, y (float64) of the lattice points inside ``grid``, rows north to south, then west to east."""
    minx, miny, maxx, maxy = grid.bounds
    row_m = spacing_m * math.sqrt(3.0) / 2.0 if lattice == "hexagonal" else spacing_m
    j = np.arange(math.ceil(maxy / row_m), math.floor(miny / row_m) - 1, -1, dtype=np.int64)
    i = np.arange(math.floor(minx / spacing_m) - 1, math.ceil(maxx / spacing_m) + 1, dtype=np.int64)
    if len(i) * len(j) > MAX_LATTICE_POINTS:
        raise ValueError(f"[plan.cabinets].spacing_m = {spacing_m:g} m gives about {len(i) * len(j):,} lattice "
                         f"points over the {grid.shape[0]} x {grid.shape[1]} grid, more than "
                         f"{MAX_LATTICE_POINTS:,}; use a larger spacing")
    jj, ii = np.meshgrid(j, i, indexing="ij")
    shift = (jj % 2) * 0.5 if lattice == "hexagonal" else np.zeros(jj.shape)
    x_m = ((ii + shift) * spacing_m).ravel()
    y_m = (jj * row_m).astype(np.float64).ravel()
    row, col = grid.rowcol(x_m, y_m)
    keep = grid.contains(row, col)
    return x_m[keep], y_m[keep]


def read_cabinet_candidates(path: str | Path, *, crs: Any, grid: GridSpec, config: CabinetCandidates,
                            district_index: np.ndarray, district_ids: Sequence[Any]) -> gpd.GeoDataFrame:
    """Read and validate a file of candidate cabinet positions.

    A CSV has ``candidate_id`` and coordinate columns ``lon``/``lat`` (or, when those are
    absent, ``x``/``y``) in ``crs``; any OGR point file (GeoJSON, GeoPackage) has
    ``candidate_id`` and point geometries.  Optional columns: ``ports`` (whole number,
    1..100000) and ``cost`` (> 0, the fixed part in ``[plan].cost_unit``); a blank value or a
    missing column means ``config.ports``/``config.cost``.  Every problem (missing columns,
    empty or duplicate ids, coordinates that are not numbers or off the Earth, bad ports or
    cost, a point outside the analysis grid or in a cell outside every district) is listed
    in one :class:`SiteTableError` with the CSV line (or feature number), the column, the value
    found and what was expected.

    Parameters
    ----------
    path
        The CSV or vector file.
    crs
        The file's CRS (usually ``config.crs``): anything pyproj reads, or ``"gcj02"`` for
        lon/lat in GCJ-02.  A vector file that states another CRS is refused (CRSError).
    grid
        The analysis grid; the candidates are returned in its CRS.
    config
        ``[plan.cabinets]``: the default ``ports`` and ``cost``.
    district_index
        int (rows, cols) district row per cell of ``grid``, −1 outside every district.
    district_ids
        The id of each district row.

    Returns
    -------
    gpd.GeoDataFrame
        :data:`CANDIDATE_COLUMNS` (``source`` = the file's name), points in ``grid.crs``, in
        file order.

    Examples
    --------
    >>> cands = read_cabinet_candidates("cabinets.csv", crs="EPSG:4326", grid=grid,  # doctest: +SKIP
    ...                                 config=CabinetCandidates(), district_index=index,
    ...                                 district_ids=districts.ids)
    """
    path = Path(path)
    index = _district_index(grid, district_index, district_ids)
    declared = parse_crs(crs, where=str(path)) if not isinstance(crs, pyproj.CRS) else crs
    if path.suffix.lower() in CSV_SUFFIXES:
        frame, check = _read_candidate_csv(path, declared)
    else:
        frame = read_vector(path, crs=declared, error_cls=SiteTableError, what="cabinet candidate")
        check = TableChecker(frame, path)
        check.geometry_types({"Point"})
    check.require(["candidate_id"])
    ids = check.text("candidate_id")
    check.unique("candidate_id")
    ports = check.numeric("ports", 1.0, float(MAX_PORTS), allow_missing=True)
    fractional = np.flatnonzero(np.isfinite(ports) & (ports != np.round(ports)))
    if len(fractional):
        check.problems.append(f"ports: expected a whole number of ports at {check.rows(fractional)} "
                              f"(found {ports[fractional[:3]].tolist()})")
    cost = check.numeric("cost", 0.0, math.inf, allow_missing=True)
    zero = np.flatnonzero(cost == 0.0)
    if len(zero):
        check.problems.append(f"cost: expected a number > 0 at {check.rows(zero)} (found 0.0)")
    frame = frame.to_crs(grid.crs)
    x_m, y_m, located = _point_xy(frame)
    row = np.full(len(frame), -1, dtype=np.int64)
    col = np.full(len(frame), -1, dtype=np.int64)
    row[located], col[located] = grid.rowcol(x_m[located], y_m[located])
    inside = grid.contains(row, col)
    district = np.full(len(frame), -1, dtype=np.int64)
    district[inside] = index[row[inside], col[inside]]
    off_grid = np.flatnonzero(located & ~inside)
    if len(off_grid):
        check.problems.append(f"geometry: candidates {_shown_ids(ids, off_grid)} at {check.rows(off_grid)} lie "
                              f"outside the analysis grid {tuple(round(b) for b in grid.bounds)}; expected "
                              "points in the study area (is the CRS right?)")
    no_district = np.flatnonzero(inside & (district < 0))
    if len(no_district):
        check.problems.append(f"geometry: candidates {_shown_ids(ids, no_district)} at {check.rows(no_district)} "
                              "lie in cells outside every district; expected points in a district")
    raise_problems(SiteTableError, str(path), check.problems)
    district_names = np.asarray(list(district_ids), dtype=object)
    return _candidate_frame(
        candidate_id=[str(v) for v in ids],
        district_id=[str(v) for v in district_names[district]],
        ports=np.where(np.isfinite(ports), ports, float(config.ports)),
        cost=np.where(np.isfinite(cost), cost, float(config.cost)),
        source=path.name, x_m=x_m, y_m=y_m, crs=grid.crs,
    )


def _read_candidate_csv(path: Path, declared: pyproj.CRS | str) -> tuple[gpd.GeoDataFrame, TableChecker]:
    """The CSV's rows as points in ``declared`` (WGS84 for GCJ-02; rows without valid
    coordinates get no geometry) and a checker holding the coordinate problems."""
    table = read_csv_table(path, error_cls=SiteTableError, what="cabinet candidate")
    check = TableChecker(table, path)
    pair = next((p for p in COORDINATE_PAIRS if all(c in table.columns for c in p)), None)
    if "geometry" in table.columns:
        check.problems.append("a CSV column may not be named 'geometry' (the points are built from the coordinate "
                              "columns); rename it")
    x = y = np.full(len(table), np.nan)
    if pair is None:
        check.problems.append(f"missing coordinate columns: expected lon/lat (or x/y) in "
                              f"{_crs_text(declared)} (found {[str(c) for c in table.columns][:30]})")
    else:
        geographic = _is_gcj02(declared) or (isinstance(declared, pyproj.CRS) and declared.is_geographic)
        x_lim, y_lim = (180.0, 90.0) if geographic else (1e8, 1e8)
        x = check.numeric(pair[0], -x_lim, x_lim)
        y = check.numeric(pair[1], -y_lim, y_lim)
        x[np.abs(x) > x_lim] = np.nan  # off the Earth: reported above, no point
        y[np.abs(y) > y_lim] = np.nan
    ok = np.isfinite(x) & np.isfinite(y)
    if _is_gcj02(declared) and ok.any():
        x, y = x.copy(), y.copy()
        x[ok], y[ok] = gcj02_to_wgs84(x[ok], y[ok])
    geometry = np.full(len(table), None, dtype=object)
    geometry[ok] = shapely.points(x[ok], y[ok])
    frame = gpd.GeoDataFrame(table.drop(columns=["geometry"], errors="ignore"), geometry=list(geometry),
                             crs=WGS84 if _is_gcj02(declared) else declared)
    frame.attrs.update(table.attrs)  # the file line of each row, for the messages
    out = TableChecker(frame, path)
    out.problems = check.problems
    return frame, out


def _is_gcj02(crs: pyproj.CRS | str) -> bool:
    return isinstance(crs, str) and crs == GCJ02


def _crs_text(declared: pyproj.CRS | str) -> str:
    return declared if isinstance(declared, str) else declared.to_string()


def _point_xy(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y (float64, NaN where there is no usable point) and whether each row has one."""
    geoms = frame.geometry.to_numpy()
    located = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms) & (shapely.get_type_id(geoms) == 0)
    x_m = np.full(len(frame), np.nan)
    y_m = np.full(len(frame), np.nan)
    x_m[located] = shapely.get_x(geoms[located])
    y_m[located] = shapely.get_y(geoms[located])
    located &= np.isfinite(x_m) & np.isfinite(y_m)
    return x_m, y_m, located


def _shown_ids(ids: np.ndarray, positions: np.ndarray, limit: int = 10) -> list[str]:
    return [str(v) for v in ids[positions[:limit]]]


def _candidate_frame(*, candidate_id: list[str], district_id: list[str], ports: np.ndarray, cost: np.ndarray,
                     source: str, x_m: np.ndarray, y_m: np.ndarray, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"candidate_id": candidate_id, "district_id": district_id, "ports": np.asarray(ports, dtype=np.float64),
         "cost": np.asarray(cost, dtype=np.float64), "source": [source] * len(candidate_id)},
        geometry=gpd.points_from_xy(x_m, y_m), crs=crs,
    )


def cabinet_cover(cabinets: gpd.GeoDataFrame, *, grid: GridSpec, passed: np.ndarray, households: np.ndarray,
                  drop_distance_m: float) -> CellCover:
    """The cells with households not yet passed that each cabinet would pass (drop-distance rule).

    Column ``j`` holds exactly the cells that
    ``passed_cells(grid, drop_distance_m=drop_distance_m, nodes=<cabinet j>)`` marks and that
    have households (> 0) and are not ``passed``: the same distance test
    (:func:`citycov.accounting.fibre.cells_within_reach`), searched only in each cabinet's
    window.  ``pairs_evaluated`` counts the (cabinet, cell) pairs within the drop distance.

    Parameters
    ----------
    cabinets
        Candidate cabinets (points in ``grid.crs``), e.g. from :func:`lattice_cabinets`.
    grid
        The analysis grid.
    passed
        bool (rows, cols): cells already passed by fibre.
    households
        float (rows, cols) households per cell; finite and ≥ 0.
    drop_distance_m
        ``[fibre].drop_distance_m``, metres.

    Returns
    -------
    CellCover
        ``cells`` (flat row-major indices, sorted) and ``cover`` (len(cells), len(cabinets)).

    Examples
    --------
    >>> cover = cabinet_cover(cands, grid=grid, passed=fibre.passed_cells,  # doctest: +SKIP
    ...                       households=layers.households, drop_distance_m=300.0)
    >>> new_households = layers.households.ravel()[cover.cells] @ cover.cover  # doctest: +SKIP
    """
    demand = _demand(grid, households, passed)
    x_m, y_m = _checked_xy(cabinets, grid.crs, "cabinets")
    cell, cabinet, _ = cells_within_reach(grid, x_m, y_m, reach_m=_reach(drop_distance_m))
    keep = demand.ravel()[cell]
    cells = np.unique(cell[keep])
    rows = np.searchsorted(cells, cell[keep])
    cover = sparse.csc_array((np.ones(len(rows), dtype=bool), (rows, cabinet[keep])),
                             shape=(len(cells), len(x_m)))
    cover.sort_indices()
    return CellCover(cells=cells.astype(np.int64), cover=cover, pairs_evaluated=len(cell))


def feeder_m(cabinets: gpd.GeoDataFrame, *, nodes: gpd.GeoDataFrame | None, routes: gpd.GeoDataFrame | None,
             route_factor: float) -> np.ndarray:
    """Feeder length of each cabinet: the straight-line distance to the nearest existing fibre
    node or cable route × ``route_factor``.

    The distance to a route is to its nearest point (anywhere along a segment, not only at a
    vertex), computed by shapely (GEOS) through an STRtree over every node and route.

    Parameters
    ----------
    cabinets
        Points (candidate cabinets) in a projected CRS (metres).
    nodes, routes
        Existing access nodes (points) and cable routes ((multi)line strings) in the same CRS;
        either may be None, not both.  Missing and empty geometries are skipped.
    route_factor
        Feeder length / straight-line distance (``[plan.cabinets].route_factor``), ≥ 1.

    Returns
    -------
    np.ndarray
        float64 (len(cabinets),) feeder length, metres.

    Examples
    --------
    >>> length_m = feeder_m(cands, nodes=inputs.nodes, routes=inputs.routes, route_factor=1.4)  # doctest: +SKIP
    """
    if not (math.isfinite(route_factor) and route_factor >= 1.0):
        raise ValueError(f"route_factor must be a finite number ≥ 1, got {route_factor!r}")
    if nodes is None and routes is None:
        raise ValueError("feeder_m needs the existing fibre: nodes, routes or both (both are None)")
    if cabinets.crs is None or not pyproj.CRS(cabinets.crs).is_projected:
        found = cabinets.crs.to_string() if cabinets.crs is not None else "no CRS"
        raise CRSError(f"cabinets: expected a projected CRS (metres), got {found}")
    x_m, y_m = _checked_xy(cabinets, cabinets.crs, "cabinets")
    existing = []
    for name, frame in (("nodes", nodes), ("routes", routes)):
        if frame is None:
            continue
        if frame.crs is None or not pyproj.CRS(frame.crs).equals(cabinets.crs):
            found = frame.crs.to_string() if frame.crs is not None else "no CRS"
            raise CRSError(f"{name}: CRS {found} differs from the cabinets' {cabinets.crs.to_string()}")
        geoms = frame.geometry.to_numpy()
        existing.append(geoms[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)])
    targets = np.concatenate(existing)
    if len(targets) == 0:
        raise ValueError("feeder_m: the existing nodes and routes hold no geometry to connect a cabinet to")
    if len(x_m) == 0:
        return np.zeros(0, dtype=np.float64)
    tree = shapely.STRtree(targets)
    (which, _), dist_m = tree.query_nearest(shapely.points(x_m, y_m), return_distance=True, all_matches=False)
    out = np.full(len(x_m), np.nan)
    out[which] = dist_m
    return out * float(route_factor)


def cabinet_costs(feeder_m: np.ndarray, *, config: CabinetCandidates, cost: np.ndarray | None = None) -> np.ndarray:
    """Cost of each cabinet: its fixed cost + feeder km × ``config.feeder_cost_per_km``.

    Parameters
    ----------
    feeder_m
        float (n,) feeder length per cabinet, metres (:func:`feeder_m`), finite and ≥ 0.
    config
        ``[plan.cabinets]``: ``cost`` and ``feeder_cost_per_km``.
    cost
        float (n,) fixed cost per cabinet (a candidate table's ``cost`` column, which holds a
        candidate file's own costs); None: ``config.cost`` for every cabinet.

    Returns
    -------
    np.ndarray
        float64 (n,), in ``[plan].cost_unit``.

    Examples
    --------
    >>> cabinet_costs(np.array([0.0, 2500.0]), config=CabinetCandidates(cost=0.15, feeder_cost_per_km=0.08))
    array([0.15, 0.35])
    """
    length_m = np.asarray(feeder_m, dtype=np.float64)
    if length_m.ndim != 1 or not (np.isfinite(length_m).all() and (length_m >= 0).all()):
        raise ValueError("feeder_m must be a 1-D array of finite lengths ≥ 0 m")
    fixed = np.full(len(length_m), float(config.cost)) if cost is None else np.asarray(cost, dtype=np.float64)
    if fixed.shape != length_m.shape:
        raise ValueError(f"cost has shape {fixed.shape}, feeder_m {length_m.shape}")
    if not (np.isfinite(fixed).all() and (fixed > 0).all()):
        raise ValueError("cost must hold finite numbers > 0")
    return fixed + length_m / 1000.0 * float(config.feeder_cost_per_km)


def cabinet_nodes(cabinets: gpd.GeoDataFrame, *, crs: pyproj.CRS, lon_column: str = "lon", lat_column: str = "lat",
                  column_crs: Any = WGS84) -> gpd.GeoDataFrame:
    """The chosen cabinets as rows of the validated node table, for
    ``citycov.pipeline.inputs.Additions(nodes=...)``.

    Columns ``node_id`` (= ``candidate_id``), ``kind`` = ``"cabinet"``, the coordinate columns
    (``lon``/``lat`` in WGS84 by default), ``ports`` (float64) and the point geometry in
    ``crs``.  The planned rows join the scenario's node table, which keeps its file's
    coordinate columns: pass ``[inputs.fibre_nodes]``'s ``lon_column``, ``lat_column`` and
    ``crs`` when its CSV names or projects them otherwise (``column_crs`` may be ``"gcj02"``).

    Examples
    --------
    >>> spec = scenario.inputs["fibre_nodes"]  # doctest: +SKIP
    >>> nodes = cabinet_nodes(chosen, crs=grid.crs, lon_column=spec.options.get("lon_column", "lon"),  # doctest: +SKIP
    ...                       lat_column=spec.options.get("lat_column", "lat"), column_crs=spec.crs or WGS84)
    >>> citycov.run(scenario, additions=Additions(nodes=nodes))  # doctest: +SKIP
    """
    missing = [c for c in ("candidate_id", "ports") if c not in cabinets.columns]
    if missing:
        raise SiteTableError(f"cabinets: missing columns {missing} (found {list(cabinets.columns)})")
    if lon_column == lat_column or "geometry" in (lon_column, lat_column):
        raise ValueError(f"lon_column and lat_column must be two names other than 'geometry', "
                         f"got {lon_column!r} and {lat_column!r}")
    if cabinets.crs is None:
        raise CRSError("cabinets: no CRS")
    _checked_xy(cabinets, cabinets.crs, "cabinets")
    target = parse_crs(column_crs, where="column_crs") if not isinstance(column_crs, pyproj.CRS) else column_crs
    points = cabinets.geometry.to_crs(WGS84 if _is_gcj02(target) else target)
    lon, lat = points.x.to_numpy(dtype=np.float64), points.y.to_numpy(dtype=np.float64)
    if _is_gcj02(target):
        lon, lat = wgs84_to_gcj02(lon, lat)
    return gpd.GeoDataFrame(
        {"node_id": cabinets["candidate_id"].astype(str).to_numpy(dtype=object), "kind": "cabinet",
         lon_column: lon, lat_column: lat, "ports": cabinets["ports"].to_numpy(dtype=np.float64)},
        geometry=cabinets.geometry.to_crs(crs).to_numpy(), crs=crs,
    ).reset_index(drop=True)


def village_units(villages: gpd.GeoDataFrame, *, grid: GridSpec, district_index: np.ndarray, wireless: np.ndarray,
                  passed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The village points not yet covered, as demand units of the village-broadband target.

    Counted exactly as :func:`citycov.accounting.districts.village_counts` counts them: a point
    belongs to the district of the grid cell holding it (cell-centre rule); points off the grid
    or in a cell outside every district are not counted; a point is covered when its cell has
    wireless broadband or is passed by fibre.

    Parameters
    ----------
    villages
        Village and town points in ``grid.crs`` (:func:`citycov.io.villages.read_villages`).
    grid
        The analysis grid.
    district_index
        int (rows, cols) district row per cell, −1 outside every district.
    wireless, passed
        bool (rows, cols): the base run's wireless mask and fibre-passed cells.

    Returns
    -------
    (cell, district)
        int64 (n,) flat row-major cell index and int64 (n,) district row of each village not
        yet covered, in the villages' order.

    Examples
    --------
    >>> cell, district = village_units(inputs.villages, grid=grid, district_index=layers.index,  # doctest: +SKIP
    ...                                wireless=masks["wireless"], passed=fibre.passed_cells)
    """
    for name, mask in (("wireless", wireless), ("passed", passed)):
        if np.shape(mask) != grid.shape or np.asarray(mask).dtype != bool:
            raise ValueError(f"{name} must be a bool array of the grid's shape {grid.shape}, "
                             f"got {np.asarray(mask).dtype} {np.shape(mask)}")
    index = np.asarray(district_index)
    if index.shape != grid.shape:
        raise ValueError(f"district_index has shape {index.shape}, the grid is {grid.shape}")
    x_m, y_m = _checked_xy(villages, grid.crs, "villages")
    row, col = grid.rowcol(x_m, y_m)
    ok = grid.contains(row, col)
    row, col = row[ok], col[ok]
    district = index[row, col].astype(np.int64)
    covered = np.asarray(wireless)[row, col] | np.asarray(passed)[row, col]
    unit = (district >= 0) & ~covered
    return (row[unit] * grid.shape[1] + col[unit]).astype(np.int64), district[unit]


def _reach(drop_distance_m: float) -> float:
    if not (math.isfinite(drop_distance_m) and drop_distance_m >= 0):
        raise ValueError(f"drop_distance_m must be a finite number ≥ 0 m, got {drop_distance_m!r}")
    return float(drop_distance_m)


def _demand(grid: GridSpec, households: np.ndarray, passed: np.ndarray) -> np.ndarray:
    """bool grid: cells with households (> 0) not yet passed; the inputs are checked, not changed."""
    values = np.asarray(households)
    if values.shape != grid.shape:
        raise ValueError(f"households have shape {values.shape}, the grid is {grid.shape}")
    if not np.issubdtype(values.dtype, np.number):
        raise RasterError(f"households: expected numbers, got dtype {values.dtype}")
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        rows, cols = np.nonzero(bad)
        raise RasterError(f"households: {int(bad.sum())} cells are NaN, infinite or negative, e.g. (row, col) "
                          f"{list(zip(rows[:5].tolist(), cols[:5].tolist(), strict=True))}")
    done = np.asarray(passed)
    if done.shape != grid.shape or done.dtype != bool:
        raise ValueError(f"passed must be a bool array of the grid's shape {grid.shape}, got {done.dtype} {done.shape}")
    return (values > 0) & ~done


def _district_index(grid: GridSpec, district_index: np.ndarray, district_ids: Sequence[Any]) -> np.ndarray:
    index = np.asarray(district_index)
    if index.shape != grid.shape:
        raise ValueError(f"district_index has shape {index.shape}, the grid is {grid.shape}")
    if index.size and index.max() >= len(district_ids):
        raise ValueError(f"district_index holds district {int(index.max())} but there are {len(district_ids)} "
                         "district ids")
    return index


def _checked_xy(frame: gpd.GeoDataFrame, crs: pyproj.CRS, name: str) -> tuple[np.ndarray, np.ndarray]:
    """float64 x, y of ``frame``'s points, which must be non-empty points in ``crs``."""
    if frame.crs is None or not pyproj.CRS(frame.crs).equals(crs):
        found = frame.crs.to_string() if frame.crs is not None else "no CRS"
        raise CRSError(f"{name}: CRS {found} differs from {pyproj.CRS(crs).to_string()}")
    x_m, y_m, located = _point_xy(frame)
    if not located.all():
        bad = np.flatnonzero(~located)
        raise ValueError(f"{name}: expected non-empty points with finite coordinates, not at rows {bad[:10].tolist()}")
    return np.ascontiguousarray(x_m), np.ascontiguousarray(y_m)
