"""Vector input: any OGR format or a CSV of lon/lat points, with the CRS made explicit.

GCJ-02 inputs (``crs = "gcj02"``) are converted to WGS84 here, on read, so no later step
ever sees GCJ-02 coordinates.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from citycov.crs import GCJ02, WGS84, gcj02_frame_to_wgs84, parse_crs
from citycov.errors import CitycovWarning, CRSError, SiteTableError
from citycov.io._validate import (  # noqa: F401  (row_label, rows_text and CSV_SUFFIXES are imported from here)
    CSV_SUFFIXES,
    TableChecker,
    read_csv_table,
    read_ogr,
    row_label,
    rows_text,
)


def read_vector(
    path: str | Path,
    *,
    crs: Any = None,
    lon_column: str = "lon",
    lat_column: str = "lat",
    error_cls: type = SiteTableError,
    what: str = "record",
) -> gpd.GeoDataFrame:
    """Read a vector file (GeoJSON, GPKG, Shapefile, ...) or a lon/lat CSV.

    Parameters
    ----------
    path
        The file.  CSV files need ``lon_column`` / ``lat_column`` and a declared ``crs``.
    crs
        Declared CRS: a pyproj-readable value or ``"gcj02"``.  It is required for CSV and
        for files without a CRS.  It may override a GeoJSON's implicit WGS84 (GeoJSON cannot
        say "GCJ-02"), but it may not contradict a file that states another CRS.

    Returns
    -------
    GeoDataFrame in the file's CRS, or in WGS84 (EPSG:4326) when the input was GCJ-02.
    The index is the 0-based row/feature number of the file; a CSV's ``attrs["lines"]`` holds
    the file line of each row (:func:`citycov.io._validate.frame_lines`).

    Every file goes through the front door of :mod:`citycov.io._validate`: a missing, empty,
    header-only or featureless file, bytes that are not UTF-8, rows with the wrong number of
    fields and geometries that cannot be built are answered by one line naming the file and the
    line or feature (``error_cls``; InputFileError for a file that cannot be read at all).
    """
    path = Path(path)
    declared = parse_crs(crs, where=str(path)) if crs is not None and not isinstance(crs, pyproj.CRS) else crs
    if path.suffix.lower() in CSV_SUFFIXES:
        frame = _read_point_csv(path, lon_column, lat_column, declared, error_cls, what)
    else:
        frame = read_ogr(path, error_cls=error_cls, what=what)
        frame = _apply_declared_crs(frame, declared, path)
    if frame.crs is None:
        raise CRSError(f"{path}: no CRS; declare crs = \"EPSG:4326\" (or \"gcj02\") in the scenario")
    return frame


def _apply_declared_crs(frame: gpd.GeoDataFrame, declared: Any, path: Path) -> gpd.GeoDataFrame:
    if declared is None:
        return frame
    file_crs = frame.crs
    implicit_wgs84 = file_crs is None or file_crs == WGS84 or file_crs.equals(pyproj.CRS.from_epsg(4326))
    if isinstance(declared, str) and declared == GCJ02:
        if not implicit_wgs84:
            raise CRSError(f"{path}: declared gcj02 but the file states {file_crs.to_string()}; "
                           "GCJ-02 applies only to lon/lat data")
        return gcj02_frame_to_wgs84(frame.set_crs(None, allow_override=True))
    if file_crs is None or (implicit_wgs84 and declared.equals(WGS84)):
        return frame.set_crs(declared, allow_override=True)
    if not declared.equals(file_crs):
        raise CRSError(f"{path}: declared CRS {declared.to_string()} contradicts the file's "
                       f"{file_crs.to_string()}; remove crs from the scenario or fix the file")
    return frame


def _read_point_csv(path: Path, lon_column: str, lat_column: str, declared: Any,
                    error_cls: type, what: str) -> gpd.GeoDataFrame:
    table = read_csv_table(path, error_cls=error_cls, what=what)
    check = TableChecker(table, path)
    problems = []
    missing = [c for c in (lon_column, lat_column) if c not in table.columns]
    if missing:
        check.require([lon_column, lat_column])
        problems.append(check.problems[-1].replace("missing columns", "missing coordinate columns", 1)
                        + coordinate_hint(table.columns, what))
    if declared is None:
        problems.append("a CSV has no CRS: declare crs = \"EPSG:4326\" or \"gcj02\" in the scenario")
    if "geometry" in table.columns:
        problems.append("a CSV column may not be named 'geometry' (the points are built from "
                        f"{lon_column}/{lat_column}); rename it")
    if problems:
        raise error_cls(f"{path}: " + "; ".join(problems))
    lon = pd.to_numeric(table[lon_column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    lat = pd.to_numeric(table[lat_column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(lon) | ~np.isfinite(lat))
    if len(bad):
        problems.append(f"{lon_column}/{lat_column} missing or not numbers at {check.rows(bad)}")
    is_gcj = isinstance(declared, str) and declared == GCJ02
    geographic = is_gcj or (isinstance(declared, pyproj.CRS) and declared.is_geographic)
    if geographic:
        out = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat) & ((np.abs(lon) > 180) | (np.abs(lat) > 90)))
        if len(out):
            problems.append(f"{lon_column}/{lat_column} outside -180..180 / -90..90 at {check.rows(out)}")
    if problems:
        raise error_cls(f"{path}: " + "; ".join(problems))
    frame = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(lon, lat), crs=None)
    frame = gcj02_frame_to_wgs84(frame) if is_gcj else frame.set_crs(declared)
    if check.lines is not None:
        frame.attrs["lines"] = tuple(int(v) for v in check.lines)
    return frame


COORDINATE_INPUTS = {"sector": "sectors", "access point": "wlan", "access node": "fibre_nodes",
                     "premises": "premises", "village": "villages", "transmitter": "broadcast"}
"""The scenario input whose ``lon_column``/``lat_column`` options name a reader's coordinate columns."""
_LON_NAMES = ("longitude", "long", "lng", "lon", "x", "lon_wgs84", "longitude_wgs84", "经度")
_LAT_NAMES = ("latitude", "lat", "y", "lat_wgs84", "latitude_wgs84", "纬度")


def coordinate_hint(columns: Any, what: str) -> str:
    """``; set lon_column/lat_column in [inputs.sectors] to name yours (e.g. lon_column = "longitude",
    lat_column = "latitude")``: how to name a CSV's coordinate columns, with the likely pair among
    ``columns`` when there is one.

    Examples
    --------
    >>> coordinate_hint(["site_id", "Longitude", "Latitude"], "sector")
    '; set lon_column/lat_column in [inputs.sectors] to name yours: lon_column = "Longitude", lat_column = "Latitude"'
    """
    where = COORDINATE_INPUTS.get(what)
    target = f"in [inputs.{where}]" if where else "in the scenario's [inputs] table of this file"
    names = [str(c) for c in columns]

    def guess(candidates: tuple[str, ...]) -> str | None:
        by_lower = {n.strip().lower(): n for n in names}
        return next((by_lower[c] for c in candidates if c in by_lower), None)

    lon, lat = guess(_LON_NAMES), guess(_LAT_NAMES)
    if lon and lat:
        return f'; set lon_column/lat_column {target} to name yours: lon_column = "{lon}", lat_column = "{lat}"'
    return f"; set lon_column/lat_column {target} to name yours"


def shown_crs(path: str | Path, declared: Any) -> tuple[pyproj.CRS | None, str]:
    """The CRS in which to show a layer's coordinates in messages, and its label: the declared
    CRS, WGS84 for a declared ``gcj02`` (converted on read), else the file's own CRS (None when
    it cannot be read)."""
    if isinstance(declared, str) and declared == GCJ02:
        return WGS84, "EPSG:4326 (declared gcj02, converted to WGS84 on read)"
    if declared is not None:
        crs = declared if isinstance(declared, pyproj.CRS) else pyproj.CRS.from_user_input(declared)
        return crs, crs.to_string()
    try:
        info = pyogrio.read_info(path)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError):
        return None, ""  # unreadable by OGR: the caller shows the analysis CRS
    if not info.get("crs"):
        return None, ""
    crs = pyproj.CRS.from_user_input(info["crs"])
    return crs, crs.to_string()


def _bounds_text(bounds: Any, crs: pyproj.CRS) -> str:
    """``x minx..maxx, y miny..maxy``: degrees to 4 decimals, metres (or feet) to the unit, or to
    2 decimals when every value is below 1000 (degrees read as metres show as such)."""
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    digits = 4 if crs.is_geographic else (2 if max(abs(minx), abs(miny), abs(maxx), abs(maxy)) < 1000 else 0)
    return f"x {minx:.{digits}f}..{maxx:.{digits}f}, y {miny:.{digits}f}..{maxy:.{digits}f}"


def check_extent(frame: gpd.GeoDataFrame, study_bounds: tuple[float, float, float, float], *,
                 source: str | Path, declared: Any = None, what: str = "features") -> int:
    """Count the features of ``frame`` outside the study area, and refuse or warn.

    Parameters
    ----------
    frame
        The layer as read, in the analysis CRS (the CRS of ``study_bounds``).
    study_bounds
        (minx, miny, maxx, maxy) of the study area in the analysis CRS: the analysis grid,
        i.e. the districts' extent snapped outward to the cell size (the extent the sectors
        are checked against, :func:`citycov.engine.sectors.inside_grid`).
    source
        The file, named in the messages.
    declared
        The scenario's declared CRS of the file (``None``: the file's own), used to show
        the bounds in the error in the coordinates the user wrote.

    Returns
    -------
    The number of features outside (a feature is outside when it does not touch the study area).

    Raises
    ------
    CRSError
        When every feature is outside: the classic symptom of a wrong CRS declaration (lon/lat
        degrees declared as EPSG:3857 land near (0, 0)).  The layer's bounds and the study
        area's are shown, both in the layer's declared CRS.

    More than half outside is a :class:`CitycovWarning` (the pipeline logs it and the report
    repeats it).
    """
    n = len(frame)
    if n == 0:
        return 0
    inside = frame.geometry.intersects(shapely.box(*study_bounds)).to_numpy(dtype=bool)
    outside = int((~inside).sum())
    if outside == n:
        analysis = pyproj.CRS(frame.crs)
        crs, label = shown_crs(source, declared)
        layer_b, study_b = np.asarray(frame.total_bounds, dtype=np.float64), np.asarray(study_bounds, dtype=np.float64)
        if crs is not None and not crs.equals(analysis):
            back = pyproj.Transformer.from_crs(analysis, crs, always_xy=True)
            try:
                with np.errstate(all="ignore"):
                    shown_layer = np.asarray(back.transform_bounds(*layer_b), dtype=np.float64)
                    shown_study = np.asarray(back.transform_bounds(*study_b), dtype=np.float64)
            except pyproj.exceptions.ProjError:
                shown_layer = shown_study = np.full(4, np.nan)
            if np.isfinite(shown_layer).all() and np.isfinite(shown_study).all():
                layer_b, study_b, analysis = shown_layer, shown_study, crs
            else:
                label = ""
        label = label or analysis.to_string()
        raise CRSError(f"{source}: all {n:,} {what} lie outside the study area; layer bounds "
                       f"{_bounds_text(layer_b, analysis)}, study area {_bounds_text(study_b, analysis)} "
                       f"(both in {label}); is the declared CRS right? (lon/lat degrees declared as a projected "
                       "CRS such as EPSG:3857 land near (0, 0))")
    if 2 * outside > n:
        warnings.warn(f"{source}: {outside:,} of {n:,} {what} ({outside / n:.0%}) lie outside the study area "
                      "(the analysis grid around the districts); check the file's extent and declared CRS",
                      CitycovWarning, stacklevel=2)
    return outside
