"""Where new cellular sites may go: a hexagonal lattice over the coverage gaps, or a file.

Both readers return one row per candidate site (:data:`CANDIDATE_COLUMNS`, points in the
analysis CRS): its id, the district of its cell, where it came from, its cost and the sectors
it would carry (the ``[plan.sites.template]`` columns, per candidate in a file).
:func:`candidate_sectors` turns candidates into rows of the validated sector table, which the
engine (:mod:`citycov.planning.site_matrix`) and a full run (``Additions(sectors=...)``) take.

The lattice (:func:`lattice_sites`) is anchored at the CRS origin: node ``(i, j)`` lies at
``x = (i + (j mod 2) / 2) · s``, ``y = j · s·√3/2`` (``s`` = ``spacing_m``), so every node has six
neighbours at distance ``s``, and the same CRS and spacing give the same nodes whatever the gaps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from citycov.carriers import NR_DEFAULT_SCS_KHZ, TABLE_TECHNOLOGIES, table_bandwidths_mhz, table_resource_blocks
from citycov.choices import TECHNOLOGIES
from citycov.config.plan import SiteCandidates, SiteTemplate
from citycov.crs import GCJ02, WGS84, gcj02_frame_to_wgs84, parse_crs
from citycov.errors import GridError, SiteTableError, raise_problems
from citycov.grid import GridSpec
from citycov.io._validate import CSV_SUFFIXES, TableChecker, blank_cells, numbers, read_csv_table, text_values
from citycov.io.vector import read_vector

TEMPLATE_COLUMNS = ("technology", "operator", "band", "freq_mhz", "bandwidth_mhz", "height_m", "eirp_dbm",
                    "azimuth_deg", "downtilt_deg", "h_beamwidth_deg", "v_beamwidth_deg")
"""The sector columns of a candidate (:class:`citycov.config.plan.SiteTemplate`); ``azimuth_deg``
holds a tuple of bearings, one sector each."""
CANDIDATE_COLUMNS = ("candidate_id", "district_id", "source", "cost", *TEMPLATE_COLUMNS)
"""Attribute columns of a candidate frame, in order (the geometry column follows)."""
LATTICE_SOURCE = "lattice"
MAX_LATTICE_NODES = 5_000_000
"""Lattice nodes over the bounding box of the gaps beyond which the spacing is refused as too fine."""
MAX_SECTORS_PER_SITE = 12

CANDIDATE_RANGES = {
    "freq_mhz": (150.0, 6000.0, "MHz"),
    "bandwidth_mhz": (0.2, 400.0, "MHz"),
    "height_m": (1.0, 300.0, "m"),
    "eirp_dbm": (0.0, 90.0, "dBm"),
    "downtilt_deg": (-20.0, 45.0, "degrees"),
    "h_beamwidth_deg": (1.0, 360.0, "degrees"),
    "v_beamwidth_deg": (1.0, 90.0, "degrees"),
}
"""Allowed range (and unit) of each numeric override column of a candidate file: those of the
sector table (:data:`citycov.io.sites.SECTOR_COLUMNS`)."""
COORDINATE_PAIRS = (("lon", "lat"), ("x", "y"))
"""Coordinate columns of a candidate CSV, read in ``[plan.sites].crs``: one pair, not both."""

SECTOR_TABLE_COLUMNS = ("site_id", "sector_id", "operator", "technology", "band", "freq_mhz", "bandwidth_mhz",
                        "lon", "lat", "height_m", "eirp_dbm", "azimuth_deg", "downtilt_deg", "h_beamwidth_deg",
                        "v_beamwidth_deg")
"""Attribute columns of :func:`candidate_sectors` before ``geometry`` and ``omni`` (the order of
:func:`citycov.io.read_sectors` on a sector CSV with a ``band`` column)."""


def _empty(crs: pyproj.CRS) -> gpd.GeoDataFrame:
    """A candidate frame with no row, with the column types of one that has rows."""
    one = _frame(["-"], ["-"], "-", np.ones(1), _template_values(SiteTemplate(), 1), np.zeros(1), np.zeros(1), crs)
    return one.iloc[:0].copy()


def _frame(ids: Sequence[str], district: Sequence[str], source: str, cost: np.ndarray,
           sectors: dict[str, Sequence[Any]], x: np.ndarray, y: np.ndarray, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    """A candidate frame with :data:`CANDIDATE_COLUMNS` from per-candidate values."""
    if not len(ids):
        return _empty(crs)
    data: dict[str, Any] = {"candidate_id": list(ids), "district_id": list(district), "source": source,
                            "cost": np.asarray(cost, dtype=np.float64)}
    for col in TEMPLATE_COLUMNS:
        values = sectors[col]
        if col == "azimuth_deg":
            column = np.empty(len(ids), dtype=object)
            column[:] = [tuple(float(a) for a in v) for v in values]
            data[col] = column
        elif col in ("technology", "operator", "band"):
            data[col] = [str(v) for v in values]
        else:
            data[col] = np.asarray(values, dtype=np.float64)
    return gpd.GeoDataFrame(data, geometry=gpd.points_from_xy(x, y), crs=crs)


def _template_values(template: SiteTemplate, n: int) -> dict[str, list[Any]]:
    return {col: [getattr(template, col)] * n for col in TEMPLATE_COLUMNS}


def slope_deg(dem_m: np.ndarray, *, cell_m: float) -> np.ndarray:
    """Terrain slope (degrees) per cell of a DEM on a grid of ``cell_m``.

    Each gradient component is the central difference of the two neighbours along that axis,
    the one-sided difference where only one neighbour has data, and NaN where neither has; the
    slope is ``atan(hypot(dz/dx, dz/dy))``, NaN where the cell or a component has no data.

    Examples
    --------
    >>> ramp = np.array([[0.0, 10.0, 20.0]] * 3)
    >>> float(slope_deg(ramp, cell_m=10.0)[1, 1])
    45.0
    """
    z = np.asarray(dem_m, dtype=np.float64)
    gx = _axis_difference(z, axis=1)
    gy = _axis_difference(z, axis=0)
    with np.errstate(invalid="ignore"):
        return np.degrees(np.arctan(np.hypot(gx, gy) / cell_m))


def _axis_difference(z: np.ndarray, *, axis: int) -> np.ndarray:
    """dz per cell along ``axis`` (see :func:`slope_deg`)."""
    pad = [(0, 0), (0, 0)]
    pad[axis] = (1, 1)
    zp = np.pad(z, pad, constant_values=np.nan)
    n = z.shape[axis]
    before = np.take(zp, np.arange(0, n), axis=axis)
    after = np.take(zp, np.arange(2, n + 2), axis=axis)
    has_b, has_a = np.isfinite(before), np.isfinite(after)
    out = np.full(z.shape, np.nan)
    both = has_b & has_a
    out[both] = (after[both] - before[both]) / 2.0
    only_a = has_a & ~has_b
    out[only_a] = after[only_a] - z[only_a]
    only_b = has_b & ~has_a
    out[only_b] = z[only_b] - before[only_b]
    return out


def hex_lattice(bounds: tuple[float, float, float, float], *, spacing_m: float) -> tuple[np.ndarray, np.ndarray]:
    """x, y (float64) of the hexagonal lattice nodes (see the module docstring) inside ``bounds``
    (minx, miny, maxx, maxy, edges included), ordered north to south, then west to east."""
    if not (spacing_m > 0.0 and math.isfinite(spacing_m)):
        raise GridError(f"lattice spacing_m must be a positive number of metres, got {spacing_m!r}")
    minx, miny, maxx, maxy = bounds
    dy = spacing_m * math.sqrt(3.0) / 2.0
    j = np.arange(math.ceil(miny / dy), math.floor(maxy / dy) + 1, dtype=np.int64)[::-1]
    i = np.arange(math.floor(minx / spacing_m) - 1, math.ceil(maxx / spacing_m) + 1, dtype=np.int64)
    if i.size * j.size > MAX_LATTICE_NODES:
        raise GridError(f"a lattice of spacing {spacing_m:g} m over {maxx - minx:.0f} x {maxy - miny:.0f} m has "
                        f"{i.size * j.size:,} nodes, more than {MAX_LATTICE_NODES:,}; raise [plan.sites].spacing_m")
    jj, ii = np.meshgrid(j, i, indexing="ij")
    x = (ii + 0.5 * (jj % 2)) * spacing_m
    y = jj * dy
    keep = (x >= minx) & (x <= maxx)
    return x[keep].astype(np.float64), y[keep].astype(np.float64)


def lattice_sites(*, grid: GridSpec, gaps: gpd.GeoDataFrame, district_index: np.ndarray, dem_m: np.ndarray,
                  district_ids: Sequence[str], config: SiteCandidates,
                  water: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """Candidate sites on a hexagonal lattice over the coverage gaps.

    The lattice (spacing ``config.spacing_m``, anchored at the CRS origin: see the module
    docstring) is kept over the gap polygons holding at least ``config.min_gap_persons``
    residents, each grown by ``config.margin_m`` (nodes on an edge count as inside).  A node is
    then dropped when its cell is off the grid or outside every district (``district_index <
    0``), on water (``water``), on terrain with no data (``dem_m`` NaN, or a slope that cannot
    be computed), or on a slope steeper than ``config.max_slope_deg`` (:func:`slope_deg`).

    Parameters
    ----------
    grid
        The analysis grid (projected CRS, metres).
    gaps
        Gap polygons in ``grid.crs`` with a ``population`` column (``Results.gaps``,
        :func:`citycov.accounting.gaps.find_gaps`).
    district_index
        int (rows, cols): district row of each cell, −1 outside every district.
    dem_m
        float (rows, cols): terrain on the grid, m, NaN = no data.
    district_ids
        Id of each district, indexed by ``district_index``.
    config
        ``[plan.sites]``: spacing, margin, slope limit, minimum residents, cost and the template.
    water
        Optional bool (rows, cols): cells on water.  A run's layers name no water class (the
        clutter input maps class codes to losses only), so the caller passes it.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`CANDIDATE_COLUMNS` and point geometry in ``grid.crs``, one row per node kept,
        north to south then west to east; ``candidate_id`` is ``L`` and the node's 0-based
        position in that order (``L000000``, ``L000001``, ...), so the same inputs give the
        same ids; ``source`` is ``"lattice"``, ``cost`` ``config.cost`` and the template columns
        those of ``config.template``.  ``attrs["dropped"]``: nodes dropped per reason.

    Examples
    --------
    >>> sites = lattice_sites(grid=res.grid, gaps=res.gaps, district_index=res.rasters["district_index"],
    ...                       dem_m=res.context.layers.dem, district_ids=res.districts.ids,
    ...                       config=SiteCandidates())  # doctest: +SKIP
    """
    problems = []
    for name, array in (("district_index", district_index), ("dem_m", dem_m), ("water", water)):
        if array is not None and np.shape(array) != grid.shape:
            problems.append(f"{name} has shape {np.shape(array)}, expected the grid's {grid.shape}")
    missing = [c for c in ("population",) if c not in gaps.columns]
    if missing:
        problems.append(f"gaps lack the columns {missing} (expected the output of find_gaps)")
    elif len(gaps) and (gaps.crs is None or not pyproj.CRS(gaps.crs).equals(grid.crs)):
        problems.append(f"gaps are in {gaps.crs}, expected the grid's CRS {grid.crs.to_string()}")
    raise_problems(GridError, "lattice_sites", problems)
    empty = _empty(grid.crs)
    empty.attrs["dropped"] = {}
    chosen = gaps.loc[gaps["population"].to_numpy(dtype=np.float64) >= config.min_gap_persons]
    if not len(chosen):
        return empty
    geoms = chosen.geometry.to_numpy()
    area = shapely.union_all(shapely.buffer(geoms, config.margin_m) if config.margin_m > 0 else geoms)
    x, y = hex_lattice(shapely.bounds(area), spacing_m=config.spacing_m)
    shapely.prepare(area)
    inside = shapely.intersects_xy(area, x, y)
    x, y = x[inside], y[inside]
    row, col = grid.rowcol(x, y)
    on_grid = grid.contains(row, col)
    r, c = np.where(on_grid, row, 0), np.where(on_grid, col, 0)
    district = np.where(on_grid, np.asarray(district_index)[r, c], -1)
    in_district = on_grid & (district >= 0)
    on_water = in_district & (np.asarray(water, dtype=bool)[r, c] if water is not None else False)
    dem = np.asarray(dem_m)
    slope = slope_deg(dem, cell_m=grid.cell_m)
    no_terrain = in_district & ~on_water & ~(np.isfinite(dem[r, c]) & np.isfinite(slope[r, c]))
    steep = in_district & ~on_water & ~no_terrain & (slope[r, c] > config.max_slope_deg)
    keep = in_district & ~on_water & ~no_terrain & ~steep
    dropped = {"outside the grid": int((~on_grid).sum()), "outside every district": int((on_grid & ~in_district).sum()),
               "on water": int(on_water.sum()), "no terrain data": int(no_terrain.sum()),
               "steeper than max_slope_deg": int(steep.sum())}
    n = int(keep.sum())
    if not n:
        empty.attrs["dropped"] = dropped
        return empty
    ids_of = np.asarray([str(d) for d in district_ids], dtype=object)
    out = _frame([f"L{k:06d}" for k in range(n)], ids_of[district[keep]], LATTICE_SOURCE,
                 np.full(n, config.cost), _template_values(config.template, n), x[keep], y[keep], grid.crs)
    out.attrs["dropped"] = dropped
    return out


# -- candidate files ------------------------------------------------------------------------------

def read_site_candidates(path: str | Path, *, crs: pyproj.CRS, grid: GridSpec, config: SiteCandidates,
                         district_index: np.ndarray, district_ids: Sequence[str]) -> gpd.GeoDataFrame:
    """Read and validate a file of candidate site positions.

    A CSV gives ``lon``/``lat`` or ``x``/``y`` columns (one pair) in ``config.crs``
    (``[plan.sites].crs``, ``"gcj02"`` allowed); any other vector file (GeoJSON, GPKG) gives
    points in its own CRS (``config.crs`` may declare a GeoJSON's GCJ-02, as for the sector
    table).  ``candidate_id`` (text, unique) is required.  Every column of
    :data:`TEMPLATE_COLUMNS` and ``cost`` may be given per candidate; a blank cell or a missing
    column takes ``config.template`` (``config.cost``).  ``azimuth_deg`` is a list of 1 to 12
    bearings in [0, 360) separated by ``;`` (``0;120;240``).

    Parameters
    ----------
    crs
        The analysis CRS of the result (``grid.crs``).
    grid, district_index, district_ids
        The analysis grid, the district row of each of its cells (−1: none) and the district
        ids: a candidate must lie on the grid, in a cell of a district.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`CANDIDATE_COLUMNS` and point geometry in ``crs``, in file order; ``source`` is
        the file name.

    Raises
    ------
    SiteTableError
        Listing every problem at once, each with its lines (CSV) or features and the expected
        values: missing or duplicate ids, coordinates missing or not numbers, values out of
        range, a technology not in :data:`citycov.choices.TECHNOLOGIES`, a bandwidth that is
        not a carrier of its technology, bearings that cannot be read, a cost not above 0, and
        the ids of the candidates outside the grid or outside every district.

    Examples
    --------
    >>> read_site_candidates("candidates.csv", crs=res.grid.crs, grid=res.grid, config=SiteCandidates(),
    ...                      district_index=res.rasters["district_index"],
    ...                      district_ids=res.districts.ids)  # doctest: +SKIP
    """
    path = Path(path)
    if not pyproj.CRS(crs).equals(grid.crs):
        raise GridError(f"read_site_candidates: crs {pyproj.CRS(crs).to_string()} is not the grid's "
                        f"{grid.crs.to_string()}")
    if path.suffix.lower() in CSV_SUFFIXES:
        frame, check = _read_candidate_csv(path, config.crs)
    else:
        frame = read_vector(path, crs=config.crs, error_cls=SiteTableError, what="candidate")
        check = TableChecker(frame, path)
        check.geometry_types({"Point"})
    check.require(["candidate_id"])
    ids = check.text("candidate_id")
    check.unique("candidate_id")
    values = _overrides(check, config)
    geom = frame.geometry
    located = ~(geom.isna() | geom.is_empty).to_numpy()
    points = frame.to_crs(crs).geometry if frame.crs is not None else geom
    x = np.full(len(frame), np.nan)
    y = np.full(len(frame), np.nan)
    pts = points.to_numpy()
    good = located & (shapely.get_type_id(pts) == 0)
    if good.any():
        x[good], y[good] = shapely.get_x(pts[good]), shapely.get_y(pts[good])
    finite = np.isfinite(x) & np.isfinite(y)
    row, col = grid.rowcol(np.where(finite, x, 0.0), np.where(finite, y, 0.0))
    on_grid = finite & grid.contains(row, col)
    r, c = np.where(on_grid, row, 0), np.where(on_grid, col, 0)
    district = np.where(on_grid, np.asarray(district_index)[r, c], -1)
    off = np.flatnonzero(finite & ~on_grid)
    if off.size:
        check.problems.append(f"candidates outside the analysis grid {_bounds_text(grid)}: ids "
                              f"{[str(ids[i]) for i in off[:10]]} at {check.rows(off)}")
    nowhere = np.flatnonzero(on_grid & (district < 0))
    if nowhere.size:
        check.problems.append(f"candidates outside every district: ids {[str(ids[i]) for i in nowhere[:10]]} "
                              f"at {check.rows(nowhere)}")
    raise_problems(SiteTableError, str(path), check.problems)
    ids_of = np.asarray([str(d) for d in district_ids], dtype=object)
    cost = values.pop("cost")
    return _frame([str(i) for i in ids], ids_of[district], path.name, cost, values, x, y, pyproj.CRS(crs))


def _bounds_text(grid: GridSpec) -> str:
    b = grid.bounds
    return f"(x {b[0]:.0f}..{b[2]:.0f}, y {b[1]:.0f}..{b[3]:.0f} in {grid.crs.to_string()})"


def _read_candidate_csv(path: Path, crs_value: str) -> tuple[gpd.GeoDataFrame, TableChecker]:
    """The rows of a candidate CSV as points in the declared CRS (no geometry where the
    coordinates are missing or not numbers) and a checker holding the coordinate problems."""
    table = read_csv_table(path, error_cls=SiteTableError, what="candidate")
    check = TableChecker(table, path)
    declared = parse_crs(crs_value, where=f"{path}: [plan.sites].crs")
    pairs = [p for p in COORDINATE_PAIRS if p[0] in table.columns and p[1] in table.columns]
    n = len(table)
    lon = lat = np.full(n, np.nan)
    if len(pairs) != 1:
        found = [str(c) for c in table.columns]
        what = "both" if pairs else "neither of"
        check.problems.append(f"coordinates: {what} the column pairs {[list(p) for p in COORDINATE_PAIRS]} "
                              f"(found {found[:30]}); expected one pair, in {crs_value}")
    else:
        (xc, yc), = pairs
        lon, lat = numbers(table[xc]), numbers(table[yc])
        bad = np.flatnonzero(~np.isfinite(lon) | ~np.isfinite(lat))
        if bad.size:
            check.problems.append(f"{xc}/{yc}: missing or not numbers at {check.rows(bad)}")
        geographic = declared == GCJ02 or (isinstance(declared, pyproj.CRS) and declared.is_geographic)
        if geographic:
            with np.errstate(invalid="ignore"):
                out = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat) & ((np.abs(lon) > 180) | (np.abs(lat) > 90)))
            if out.size:
                check.problems.append(f"{xc}/{yc}: outside -180..180 / -90..90 degrees at {check.rows(out)}")
                lon, lat = lon.copy(), lat.copy()
                lon[out] = np.nan
    ok = np.isfinite(lon) & np.isfinite(lat)
    geoms = np.full(n, None, dtype=object)
    geoms[ok] = shapely.points(lon[ok], lat[ok])
    frame = gpd.GeoDataFrame(table.drop(columns=[c for c in ("geometry",) if c in table.columns]),
                             geometry=gpd.GeoSeries(geoms), crs=None)
    frame = gcj02_frame_to_wgs84(frame.set_crs(WGS84)) if declared == GCJ02 else frame.set_crs(declared)
    frame.attrs = dict(table.attrs)
    return frame, check


def _overrides(check: TableChecker, config: SiteCandidates) -> dict[str, list[Any]]:
    """Per candidate: every template column and ``cost``, from the file where given, else from
    ``config``; problems go to ``check``."""
    frame = check.frame
    n = len(frame)
    template = config.template
    out: dict[str, list[Any]] = _template_values(template, n)
    for col in ("operator", "band"):
        if col in frame.columns:
            given = text_values(frame[col])
            out[col] = [v if v != "" else getattr(template, col) for v in given]
    if "technology" in frame.columns:
        given = text_values(frame["technology"])
        bad = np.flatnonzero((given != "") & ~np.isin(given, list(TECHNOLOGIES)))
        if bad.size:
            check.problems.append(f"technology: expected one of {list(TECHNOLOGIES)} (or blank) at "
                                  f"{check.rows(bad)} (found {sorted({str(given[i]) for i in bad})[:5]})")
        out["technology"] = [v if v != "" else template.technology for v in given]
    for col, (lo, hi, unit) in CANDIDATE_RANGES.items():
        if col in frame.columns:
            given = check.numeric(col, lo, hi, unit=unit, allow_missing=True)
            out[col] = [float(v) if np.isfinite(v) else getattr(template, col) for v in given]
    if "azimuth_deg" in frame.columns:
        out["azimuth_deg"] = _azimuths(check, frame["azimuth_deg"], template.azimuth_deg)
    cost = np.full(n, config.cost)
    if "cost" in frame.columns:
        given = check.numeric("cost", -np.inf, np.inf, allow_missing=True)
        bad = np.flatnonzero(np.isfinite(given) & (given <= 0.0))
        if bad.size:
            check.problems.append(f"cost: expected > 0 at {check.rows(bad)} "
                                  f"(found {[float(given[i]) for i in bad[:3]]})")
        cost = np.where(np.isfinite(given), given, config.cost)
    out["cost"] = cost
    _check_carriers(check, out, given_bw="bandwidth_mhz" in frame.columns, given_tech="technology" in frame.columns)
    return out


def _azimuths(check: TableChecker, raw: pd.Series, default: tuple[float, ...]) -> list[tuple[float, ...]]:
    """Bearings per row from ``0;120;240`` text (or a number, or a list in a GeoJSON); blank: ``default``."""
    text = raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype)
    blank = blank_cells(raw) if text else raw.isna().to_numpy()
    out: list[tuple[float, ...]] = []
    bad: list[int] = []
    for i, value in enumerate(raw.tolist()):
        if isinstance(value, list | tuple | np.ndarray):
            parts: list[Any] = list(value)
        elif blank[i]:
            out.append(tuple(default))
            continue
        else:
            parts = str(value).split(";")
        try:
            bearings = tuple(float(str(p).strip()) for p in parts)
        except ValueError:
            bearings = ()
        if not 1 <= len(bearings) <= MAX_SECTORS_PER_SITE or not all(0.0 <= b < 360.0 for b in bearings):
            bad.append(i)
            out.append(tuple(default))
        else:
            out.append(bearings)
    if bad:
        shown = [str(raw.iloc[i])[:40] for i in bad[:3]]
        check.problems.append(f"azimuth_deg: expected 1 to {MAX_SECTORS_PER_SITE} bearings in [0, 360) degrees "
                              f"separated by ';' (e.g. 0;120;240) or blank at {check.rows(bad)} (found {shown})")
    return out


def _check_carriers(check: TableChecker, values: dict[str, list[Any]], *, given_bw: bool, given_tech: bool) -> None:
    """4G/5G candidates whose file sets the bandwidth or technology must name a carrier of the
    resource-block tables (:mod:`citycov.carriers`; 5G at the default subcarrier spacing)."""
    if not (given_bw or given_tech):
        return
    tech = np.asarray(values["technology"], dtype=object)
    bw = np.asarray(values["bandwidth_mhz"], dtype=np.float64)
    known = np.isin(tech, list(TABLE_TECHNOLOGIES)) & np.isfinite(bw)
    if not known.any():
        return
    rb = np.zeros(len(tech), dtype=np.int64)
    rb[known] = table_resource_blocks(tech[known].astype(str), bw[known], np.full(int(known.sum()), np.nan))
    for t in TABLE_TECHNOLOGIES:
        rows = np.flatnonzero(known & (tech == t) & (rb == 0))
        if rows.size:
            allowed = list(table_bandwidths_mhz(t, NR_DEFAULT_SCS_KHZ if t == "5G" else None))
            check.problems.append(f"bandwidth_mhz: not a {t} channel bandwidth at {check.rows(rows)} "
                                  f"(found {sorted(set(bw[rows].tolist()))[:5]}; allowed {allowed})")


# -- sector rows ----------------------------------------------------------------------------------

def candidate_sectors(candidates: gpd.GeoDataFrame, *, crs: pyproj.CRS,
                      like: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """The sector rows of candidate sites: one per bearing of ``azimuth_deg``.

    Parameters
    ----------
    candidates
        A frame of :func:`lattice_sites` or :func:`read_site_candidates` (or a subset).
    crs
        The analysis CRS of the sector geometry.
    like
        Optional sector table of the scenario (``read_inputs(...).sectors``): its columns that
        the candidates do not set are added blank (NaN in numeric columns, False in boolean
        ones, "" elsewhere) and the columns put in its order, so that ``Additions`` accepts the
        rows whatever optional columns the scenario's sector file has.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`SECTOR_TABLE_COLUMNS`, ``geometry`` (points in ``crs``) and ``omni`` (False), the
        columns of the validated sector table: ``site_id`` is the candidate id, ``sector_id``
        ``f"{candidate_id}-{k}"`` with ``k`` = 1, 2, ... in the order of the bearings, ``lon``
        and ``lat`` in WGS84.

    Examples
    --------
    >>> rows = candidate_sectors(sites, crs=res.grid.crs)  # doctest: +SKIP
    >>> res2 = run(scenario, additions=Additions(sectors=rows))  # doctest: +SKIP
    """
    missing = [c for c in ("candidate_id", *TEMPLATE_COLUMNS) if c not in candidates.columns]
    if missing:
        raise SiteTableError(f"candidate_sectors: candidates lack the columns {missing}")
    crs = pyproj.CRS(crs)
    frame = candidates.to_crs(crs) if candidates.crs is not None else candidates
    counts = np.array([len(a) for a in frame["azimuth_deg"]], dtype=np.int64)
    rows = np.repeat(np.arange(len(frame)), counts)
    k = np.concatenate([np.arange(1, n + 1) for n in counts]) if len(rows) else np.zeros(0, dtype=np.int64)
    ids = frame["candidate_id"].astype(str).to_numpy()
    x = frame.geometry.x.to_numpy()[rows]
    y = frame.geometry.y.to_numpy()[rows]
    lon, lat = pyproj.Transformer.from_crs(crs, WGS84, always_xy=True).transform(x, y)
    data: dict[str, Any] = {
        "site_id": ids[rows].astype(str) if len(rows) else np.zeros(0, dtype=str),
        "sector_id": [f"{ids[r]}-{kk}" for r, kk in zip(rows, k, strict=True)],
    }
    for col in ("operator", "technology", "band"):
        data[col] = frame[col].astype(str).to_numpy()[rows]
    for col in ("freq_mhz", "bandwidth_mhz"):
        data[col] = frame[col].to_numpy(dtype=np.float64)[rows]
    data["lon"], data["lat"] = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    for col in ("height_m", "eirp_dbm"):
        data[col] = frame[col].to_numpy(dtype=np.float64)[rows]
    data["azimuth_deg"] = (np.concatenate([np.asarray(a, dtype=np.float64) for a in frame["azimuth_deg"]])
                           if len(rows) else np.zeros(0))
    for col in ("downtilt_deg", "h_beamwidth_deg", "v_beamwidth_deg"):
        data[col] = frame[col].to_numpy(dtype=np.float64)[rows]
    out = gpd.GeoDataFrame(pd.DataFrame(data, columns=list(SECTOR_TABLE_COLUMNS)),
                           geometry=gpd.points_from_xy(x, y), crs=crs)
    for col in ("site_id", "sector_id", "operator", "technology", "band"):
        out[col] = out[col].astype(str)
    out["omni"] = np.zeros(len(out), dtype=bool)
    if like is None:
        return out
    for col in like.columns:
        if col in out.columns:
            continue
        dtype = like[col].dtype
        if pd.api.types.is_bool_dtype(dtype):
            out[col] = np.zeros(len(out), dtype=bool)
        elif pd.api.types.is_numeric_dtype(dtype):
            out[col] = np.full(len(out), np.nan)
        else:
            out[col] = ""
    order = [c for c in like.columns if c in out.columns] + [c for c in out.columns if c not in like.columns]
    return out[order]
